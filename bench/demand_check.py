"""The worker's high-demand check (`demand.raise_alerts`, every DEMAND_CHECK_INTERVAL_SECONDS) on
PostgreSQL: one shop with N signups (90% pending) over 2,000 variants and a threshold most of them
reach, and 10 other shops with 1,000 signups each. Prints the first round (every alert raised:
a demand_alert row and a job each) and the steady rounds after (nothing new: the cost the worker
pays every interval). Nothing of it touches the signup path.

    .venv/bin/python bench/demand_check.py [N]      # default 1,000,000

A database of its own (`bench_demand_<random>`, dropped after) on TEST_POSTGRES_URL's server.
"""

import os
import sys
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shopify_app import demand, migrate
from shopify_app.db import make_engine, session_scope

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
VARIANTS = 2000
SHOP = (
    "INSERT INTO shop (domain, access_token_encrypted, scopes, min_restock_quantity, delivery_policy,"
    " batch_multiplier, batch_interval_seconds, skip_over_quantity, double_optin, channel_email, channel_sms, channel_push,"
    " automatic_sending, high_demand_threshold, created_at, updated_at)"
    " SELECT 'shop' || g || '.myshopify.com', 'x', '', 1, 'all', 1, 3600, false, false, true, true, true, true,"
    " CASE WHEN g = 1 THEN 400 ELSE 50 END, now(), now() FROM generate_series(1, 11) g"
)
CUSTOMER = (
    "INSERT INTO customer (id, shop_id, accepts_marketing, created_at, updated_at)"
    " SELECT 'c' || g, g, false, now(), now() FROM generate_series(1, 11) g"
)
INTENTS = (
    "INSERT INTO intent (shop_id, customer_id, channel, email, contact_key, quantity, source, status,"
    " shopify_variant_id, shopify_product_id, optin_confirmed, sent_notifications_count, accepts_marketing,"
    " created_at, updated_at) SELECT {shop}, 'c' || ({shop}), 'email', 'x' || g || '@example.com', 'k' || g, 1,"
    " 'api', CASE WHEN g % 10 = 0 THEN 'notified' ELSE 'pending' END, g % {variants}, 1, true, 0, false, now(),"
    " now() FROM generate_series(1, {n}) g"
)


def main(n: int) -> None:
    name = f"bench_demand_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = (
        ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        + f"/{name}"
    )
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(text(SHOP))
            connection.execute(text(CUSTOMER))
            connection.execute(text(INTENTS.format(shop="1", variants=VARIANTS, n=n)))
            connection.execute(text(INTENTS.format(shop="2 + g % 10", variants=300, n=10_000)))
            connection.execute(text("ANALYZE"))
        for round_ in range(5):
            started = time.perf_counter()
            with session_scope(engine) as session:
                raised = demand.raise_alerts(session)
            print(
                f"round {round_}: {raised} alerts raised in {(time.perf_counter() - started) * 1000:.0f} ms"
            )
        engine.dispose()
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
