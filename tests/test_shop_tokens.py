"""Expiring offline access tokens (PLATFORM.md section 1), through the fake Shopify of 2027: tokens
live seconds, refresh tokens rotate on every use, the previous one stays valid only until the new
access token is used, and expired or non-expiring tokens are answered 401. Every token the app gets
is asked for with `expiring=1`, kept encrypted, renewed before it expires and on a 401, one renewal
at a time per shop across processes; a shop whose renewal Shopify refuses must reconnect, and its
Admin API work waits until it has."""

import asyncio
import logging
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select, update

from shopify_app import inventory_queries, shop_tokens, tasks, token_grants
from shopify_app.crypto import decrypt_token
from shopify_app.models import Job, Shop, utcnow
from shopify_app.notify.worker import Worker
from shopify_app.shop_tokens import TokenKind
from shopify_app.shopify_graphql import AdminApi, StoredTokens

from .admin.tokens import session_token
from .fakes.shopify import CatalogItem
from .notify.helpers import LOCATION, PRODUCT, level_webhook, recording_channels, run, signup
from .processes import app_env, stop_process, wait_for, worker_process
from .support import install_shop

SHOP = "demo-shop.myshopify.com"  # the shop notify.helpers signs up at and sends webhooks for
shops = Shop.__table__


def install_by_oauth(client, fake, shop: str = SHOP) -> None:
    """The merchant installs: the app's /auth, Shopify's consent, the callback with its code."""
    begin = client.get(f"/auth?shop={shop}", follow_redirects=False)
    authorize = httpx.get(begin.headers["location"], follow_redirects=False)
    callback = urlsplit(authorize.headers["location"])
    assert (
        client.get(f"{callback.path}?{callback.query}", follow_redirects=False).status_code == 302
    )


def stored(engine, settings, shop: str = SHOP) -> shop_tokens.StoredToken:
    with engine.connect() as connection:
        shop_id = connection.execute(select(shops.c.id).where(shops.c.domain == shop)).scalar_one()
        found = shop_tokens.read(connection, settings, shop_id)
    assert found is not None
    return found


def shop_id(engine, shop: str = SHOP) -> int:
    with engine.connect() as connection:
        return connection.execute(select(shops.c.id).where(shops.c.domain == shop)).scalar_one()


def query_stock(engine, settings, item_id: int) -> dict:
    async def go():
        async with httpx.AsyncClient() as http:
            api = AdminApi(http, settings, SHOP, StoredTokens(engine, settings, shop_id(engine)))
            return await api.query(
                inventory_queries.ITEM_QUERY,
                {"id": inventory_queries.gid("InventoryItem", item_id)},
            )

    return asyncio.run(go())


def worker(settings, engine, channels):
    async def go():
        async with httpx.AsyncClient() as http:
            w = Worker(settings, engine, http, channels)
            await w.drain(100)
            return w

    return run(go())


def test_install_asks_for_an_expiring_token_and_keeps_both_tokens_encrypted(
    client, engine, settings, fake_shopify
):
    install_by_oauth(client, fake_shopify)
    [request] = fake_shopify.token_requests
    assert request["expiring"] == "1" and "code" in request
    token = stored(engine, settings)
    assert token.kind == TokenKind.expiring
    assert token.access_token == fake_shopify.tokens[SHOP]
    assert token.refresh_token == fake_shopify.shop_tokens(SHOP).refresh
    assert timedelta(seconds=3590) < token.expires_at - utcnow() <= timedelta(seconds=3600)
    assert timedelta(days=89) < token.refresh_expires_at - utcnow() <= timedelta(days=90)
    with engine.connect() as connection:
        row = connection.execute(
            select(shops.c.access_token_encrypted, shops.c.refresh_token_encrypted)
        ).one()
    assert (
        token.access_token not in row.access_token_encrypted
        and token.refresh_token not in row.refresh_token_encrypted
    )
    assert decrypt_token(settings.SECRET_KEY, row.refresh_token_encrypted) == token.refresh_token


def test_the_admins_token_exchange_asks_for_an_expiring_token(
    client, engine, settings, fake_shopify
):
    page = client.get(
        f"/app?shop=managed-shop.myshopify.com&id_token={session_token('managed-shop.myshopify.com')}"
    )
    assert page.status_code == 200
    [request] = fake_shopify.token_requests
    assert (
        request["grant_type"] == token_grants.TOKEN_EXCHANGE
        and request["subject_token_type"] == token_grants.ID_TOKEN
    )
    assert request["expiring"] == "1"
    assert stored(engine, settings, "managed-shop.myshopify.com").kind == TokenKind.expiring


@pytest.mark.slow
def test_a_token_about_to_expire_is_refreshed_before_the_call_and_both_tokens_are_replaced(
    client, engine, settings, fake_shopify
):
    fake_shopify.access_ttl = 2  # the refresh margin is a quarter of that: half a second
    install_by_oauth(client, fake_shopify)
    fake_shopify.add_item(CatalogItem(11, 22, 33, levels={1: 4}))
    first = stored(engine, settings)
    assert query_stock(engine, settings, 11)["inventoryItem"]["legacyResourceId"] == "11"
    assert fake_shopify.refreshes == []  # still fresh: no refresh
    time.sleep(1.6)
    query_stock(engine, settings, 11)
    [refresh] = fake_shopify.refreshes
    assert refresh["refresh_token"] == first.refresh_token and not refresh["retry"]
    now = stored(engine, settings)
    assert now.access_token == fake_shopify.tokens[SHOP] != first.access_token
    assert now.refresh_token == fake_shopify.shop_tokens(SHOP).refresh != first.refresh_token
    assert fake_shopify.graphql_calls[-1]["token"] == now.access_token
    assert fake_shopify.unauthorized == [] and fake_shopify.refused_refreshes == []


def test_a_call_answered_401_is_renewed_once_and_tried_once_more(
    client, engine, settings, fake_shopify
):
    install_by_oauth(client, fake_shopify)
    fake_shopify.add_item(CatalogItem(11, 22, 33, levels={1: 4}))
    fake_shopify.expires[fake_shopify.tokens[SHOP]] = (
        0.0  # Shopify ended it early; the app thinks it has an hour
    )
    assert query_stock(engine, settings, 11)["inventoryItem"]["legacyResourceId"] == "11"
    assert len(fake_shopify.unauthorized) == 1 and len(fake_shopify.refreshes) == 1
    assert [c["token"] for c in fake_shopify.graphql_calls][-1] == stored(
        engine, settings
    ).access_token


@pytest.mark.slow
def test_a_lost_refresh_answer_is_asked_again_with_the_same_refresh_token(
    client, engine, settings, fake_shopify
):
    fake_shopify.access_ttl = 2
    install_by_oauth(client, fake_shopify)
    fake_shopify.add_item(CatalogItem(11, 22, 33, levels={1: 4}))
    first = stored(engine, settings)
    fake_shopify.lose_refresh_answers, fake_shopify.slow_seconds = (
        1,
        settings.SHOPIFY_HTTP_TIMEOUT + 1,
    )
    time.sleep(2.1)
    query_stock(engine, settings, 11)
    assert [(r["refresh_token"], r["retry"]) for r in fake_shopify.refreshes] == [
        (first.refresh_token, False),
        (first.refresh_token, True),
    ]
    assert fake_shopify.refused_refreshes == [] and fake_shopify.unauthorized == []
    assert stored(engine, settings).access_token == fake_shopify.tokens[SHOP]


@pytest.mark.slow
def test_restocks_of_items_never_seen_across_several_expiries_all_alert(
    client, engine, settings, fake_shopify
):
    fake_shopify.access_ttl = 2
    install_by_oauth(client, fake_shopify)
    channels = recording_channels()
    for n in range(3):
        item = fake_shopify.add_item(CatalogItem(9100 + n, 9200 + n, PRODUCT, levels={LOCATION: 0}))
        signup(client, variant=item.variant_id, email=f"shopper{n}@example.com")
        item.levels = {LOCATION: 2}
        level_webhook(client, 2, item=item.inventory_item_id)
        worker(settings, engine, channels)
        assert [m.to for m in channels["email"].sent][-1] == f"shopper{n}@example.com"
        time.sleep(2.1)  # past the token's end: the next restock needs a new one
    assert len(channels["email"].sent) == 3
    assert len(fake_shopify.refreshes) >= 2 and fake_shopify.refused_refreshes == []
    assert max(fake_shopify.refresh_uses.values()) == 1  # no refresh token was sent twice
    assert stored(engine, settings).access_token == fake_shopify.tokens[SHOP]


@pytest.mark.slow
def test_two_worker_processes_needing_the_shop_at_once_make_one_refresh(
    client, engine, settings, fake_shopify, tmp_path
):
    fake_shopify.access_ttl = 1
    install_by_oauth(client, fake_shopify)
    items = [
        fake_shopify.add_item(CatalogItem(7000 + n, 7100 + n, PRODUCT, levels={LOCATION: 3}))
        for n in range(40)
    ]
    for item in items:  # 40 items the app has never seen: 40 jobs needing the Admin API
        level_webhook(client, 3, item=item.inventory_item_id)
    time.sleep(1.2)  # the shop's token has expired
    fake_shopify.access_ttl = 3600  # the next one lasts: one refresh is all the work needs
    fake_shopify.refresh_delay = (
        0.6  # a refresh takes long enough for the other worker to need one too
    )
    config = settings.model_copy(update={"WORKER_POLL_INTERVAL": 0.05})
    with open(tmp_path / "workers.log", "w") as log:
        workers = [worker_process(config, log_to=log) for _ in range(2)]
        try:
            # 40 inventory jobs, and the install's read of the shop's name and currency
            done = wait_for(lambda: _jobs(engine) == {"done": 41}, 60)
        finally:
            for process in workers:
                stop_process(process)
    assert done, (_jobs(engine), (tmp_path / "workers.log").read_text()[-3000:])
    with engine.connect() as connection:
        by = connection.execute(
            select(func.count(func.distinct(Job.__table__.c.locked_by)))
        ).scalar_one()
    assert by == 2  # both workers took jobs that needed the shop
    assert len(fake_shopify.refreshes) == 1 and fake_shopify.refused_refreshes == []
    assert set(fake_shopify.refresh_uses.values()) == {1}
    assert len(fake_shopify.graphql_calls) >= 40


def _jobs(engine) -> dict[str, int]:
    jobs = Job.__table__
    with engine.connect() as connection:
        return dict(
            connection.execute(select(jobs.c.status, func.count()).group_by(jobs.c.status)).all()
        )


@pytest.mark.slow
def test_a_refused_refresh_means_reconnect_needed_and_admin_api_work_waits_until_the_merchant_reconnects(
    client, engine, settings, fake_shopify, caplog
):
    install_by_oauth(client, fake_shopify)
    known = fake_shopify.add_item(CatalogItem(8001, 8101, PRODUCT, levels={LOCATION: 0}))
    signup(client, variant=known.variant_id, email="known@example.com")
    level_webhook(client, 0, item=known.inventory_item_id)
    channels = recording_channels()
    worker(settings, engine, channels)  # the app has read the known item's stock once
    fake_shopify.revoke(SHOP)
    fake_shopify.expires[fake_shopify.tokens[SHOP]] = 0.0
    with engine.begin() as connection:  # and its token has reached its end
        connection.execute(
            update(shops).values(access_token_expires_at=utcnow() - timedelta(seconds=1))
        )

    unseen = [
        fake_shopify.add_item(CatalogItem(8002 + n, 8102 + n, PRODUCT, levels={LOCATION: 0}))
        for n in range(3)
    ]
    for item in unseen:
        signup(client, variant=item.variant_id, email=f"unseen{item.variant_id}@example.com")
        item.levels = {LOCATION: 5}
    caplog.set_level(logging.WARNING, logger="shopify_app.shop_tokens")
    for item in unseen:
        level_webhook(client, 5, item=item.inventory_item_id)
        worker(settings, engine, channels)
    level_webhook(
        client, 4, item=known.inventory_item_id
    )  # stock of an item it knows needs no Admin API
    worker(settings, engine, channels)

    assert stored(engine, settings).kind == TokenKind.reconnect_needed
    assert [m.to for m in channels["email"].sent] == [
        "known@example.com"
    ]  # alerts that need no Admin API still go
    assert _jobs(engine).get("waiting") == 6  # each unseen item's stock and its variant read
    waits = [r for r in caplog.records if r.getMessage().startswith("shop must reconnect before")]
    assert len(waits) == 1  # once an hour, not once per job
    assert len(fake_shopify.refused_refreshes) == 1  # and Shopify is not asked again and again

    fake_shopify.token_mode = "error"  # the admin's exchange fails too: the banner shows
    page = client.get(f"/app?shop={SHOP}&id_token={session_token(SHOP)}")
    assert (
        page.status_code == 200
        and 'id="reconnect"' in page.text
        and "Reconnect needed" in page.text
    )
    fake_shopify.token_mode = "ok"
    page = client.get(f"/app?shop={SHOP}&id_token={session_token(SHOP)}")
    assert page.status_code == 200 and 'id="reconnect"' not in page.text
    assert stored(engine, settings).kind == TokenKind.expiring
    worker(settings, engine, channels)  # the waiting jobs resume
    assert sorted(m.to for m in channels["email"].sent[1:]) == sorted(
        f"unseen{i.variant_id}@example.com" for i in unseen
    )
    assert _jobs(engine).get("waiting") is None


def test_a_non_expiring_token_is_migrated_by_the_worker_without_the_merchant(
    engine, settings, fake_shopify
):
    old = fake_shopify.issue_non_expiring(SHOP)
    install_shop(engine, settings, SHOP, token=old, expiring=False)
    assert stored(engine, settings).kind == TokenKind.non_expiring

    async def upkeep():
        async with httpx.AsyncClient() as http:
            return await asyncio.to_thread(
                tasks.token_upkeep, Worker(settings, engine, http, {}).context
            )

    assert run(upkeep()) == 1
    [migration] = [r for r in fake_shopify.token_requests if r.get("subject_token") == old]
    assert (
        migration["subject_token_type"] == token_grants.OFFLINE_TOKEN
        and migration["expiring"] == "1"
    )
    now = stored(engine, settings)
    assert now.kind == TokenKind.expiring and now.access_token == fake_shopify.tokens[SHOP] != old
    assert fake_shopify.token_refusal(SHOP, old) is not None  # the old token no longer works
    assert run(upkeep()) == 0  # nothing left to migrate


def test_a_non_expiring_token_is_moved_to_an_expiring_one_on_the_next_admin_load(
    client, engine, settings, fake_shopify
):
    install_shop(
        engine, settings, SHOP, token=fake_shopify.issue_non_expiring(SHOP), expiring=False
    )
    page = client.get(f"/app?shop={SHOP}&id_token={session_token(SHOP)}")
    assert page.status_code == 200 and 'id="reconnect"' not in page.text
    [exchange] = fake_shopify.token_requests
    assert exchange["subject_token_type"] == token_grants.ID_TOKEN and exchange["expiring"] == "1"
    assert stored(engine, settings).kind == TokenKind.expiring


def test_a_non_expiring_token_shopify_refuses_is_migrated_before_the_call_is_tried_again(
    engine, settings, fake_shopify
):
    install_shop(
        engine, settings, SHOP, token=fake_shopify.issue_non_expiring(SHOP), expiring=False
    )
    fake_shopify.add_item(CatalogItem(11, 22, 33, levels={1: 4}))
    assert query_stock(engine, settings, 11)["inventoryItem"]["legacyResourceId"] == "11"
    assert (
        len(fake_shopify.migrations) == 1 and fake_shopify.unauthorized == []
    )  # migrated before the first call
    assert stored(engine, settings).kind == TokenKind.expiring


@pytest.mark.slow
def test_the_database_keeps_no_token_in_clear(
    client, engine, settings, fake_shopify, backend, database_url, tmp_path
):
    fake_shopify.access_ttl = 1
    install_by_oauth(client, fake_shopify)
    fake_shopify.add_item(CatalogItem(11, 22, 33, levels={1: 4}))
    for _ in range(2):
        time.sleep(1.1)
        query_stock(engine, settings, 11)
    assert len(fake_shopify.refreshes) == 2 and len(fake_shopify.issued) == 6
    if backend == "sqlite":
        engine.dispose()
        path = Path(database_url.removeprefix("sqlite:///"))
        dumped = b"".join(
            p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists()
        )
    else:
        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        dumped = subprocess.run(
            ["pg_dump", "--data-only", url], capture_output=True, check=True, timeout=60
        ).stdout
    assert b"shpat_" not in dumped and b"shprt_" not in dumped
    assert not [token for token in fake_shopify.issued if token.encode() in dumped]


@pytest.mark.slow
def test_the_shops_command_lists_each_shops_token_kind_and_expiry_without_secrets(
    engine, settings, fake_shopify, database_url
):
    install_shop(engine, settings, "expiring-shop.myshopify.com", token="shpat_expiring123")
    install_shop(
        engine, settings, "old-shop.myshopify.com", token="shpat_nonexpiring123", expiring=False
    )
    install_shop(engine, settings, "refused-shop.myshopify.com", token="shpat_refused123")
    install_shop(engine, settings, "gone-shop.myshopify.com", token="shpat_gone123")
    with engine.begin() as connection:
        connection.execute(
            update(shops)
            .where(shops.c.domain == "refused-shop.myshopify.com")
            .values(reconnect_needed_at=utcnow())
        )
        connection.execute(
            update(shops)
            .where(shops.c.domain == "gone-shop.myshopify.com")
            .values(uninstalled_at=utcnow(), access_token_encrypted=None)
        )
    env = app_env(settings, DATABASE_URL=database_url)
    result = subprocess.run(
        [sys.executable, "-m", "shopify_app", "shops"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert (
        "expiring" in lines["expiring-shop.myshopify.com"]
        and "UTC" in lines["expiring-shop.myshopify.com"]
    )
    assert "non-expiring" in lines["old-shop.myshopify.com"]
    assert "reconnect needed" in lines["refused-shop.myshopify.com"]
    assert "uninstalled" in lines["gone-shop.myshopify.com"]
    assert (
        "shpat_" not in result.stdout + result.stderr
        and "shprt_" not in result.stdout + result.stderr
    )
    as_json = subprocess.run(
        [sys.executable, "-m", "shopify_app", "shops", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert '"token": "non-expiring"' in as_json.stdout and "shpat_" not in as_json.stdout
