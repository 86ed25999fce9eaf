"""The dashboard's kept days (admin/kept_days.py): through HTTP, the figures with closed days kept
in stats_day are the figures counted from every row (`stats.compute(..., keep=False)`, what the
dashboard did before), on data spanning more than the window and today; and stay so after an
order recorded for a closed day, a signup of a closed day deleted, a customer's redaction; the
shop's redaction takes its kept days with it."""

import json
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import func, select
from starlette.testclient import TestClient

from shopify_app.admin import stats
from shopify_app.app import create_app
from shopify_app.models import Shop, StatsDay, utcnow

from ..admin.data import add_intents
from ..admin.tokens import SHOP, bearer, session_token
from ..support import webhook_headers
from ..webhooks.orders import alerted, order
from ..webhooks.orders import deliver as deliver_order

stats_days = StatsDay.__table__


def deliver_topic(client, topic, payload, shop=SHOP, webhook_id="w1"):
    body = json.dumps(payload).encode()
    return client.post(
        f"/webhooks/{topic}",
        content=body,
        headers=webhook_headers(body, topic, shop, webhook_id=webhook_id),
    )


def shop_id(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(
            select(Shop.__table__.c.id).where(Shop.__table__.c.domain == SHOP)
        ).scalar_one()


def kept(engine, me: int) -> list[tuple]:
    with engine.connect() as connection:
        return connection.execute(
            select(stats_days.c.day, stats_days.c.epoch, stats_days.c.signups)
            .where(stats_days.c.shop_id == me)
            .order_by(stats_days.c.day)
        ).all()


def epoch_of(engine, me: int) -> int:
    with engine.connect() as connection:
        return connection.execute(
            select(Shop.__table__.c.stats_epoch).where(Shop.__table__.c.id == me)
        ).scalar_one()


def exact(engine, me: int, days: int, now: float | None = None) -> dict:
    return stats.compute(engine, me, days, now or time.time(), keep=False)[0]


def get(client, days: int) -> dict:
    response = client.get(f"/app/api/stats?days={days}", headers=bearer())
    assert response.status_code == 200, response.text
    return response.json()


def seed(client, engine, me: int, now: datetime) -> dict[str, int]:
    """120 days of signups (today's too), alerts and orders in two currencies; the ids the tests
    reach back to."""
    serial = 0
    for back in range(120):
        n = back % 3 + (2 if back == 0 else 0)
        add_intents(engine, me, n, created_at=now - timedelta(days=back, minutes=1), start=serial)
        serial += n
    for back in (0, 1, 2, 5, 12, 40, 89, 95, 110):
        alerted(engine, email=f"alerted{back}@example.com", sent_at=now - timedelta(days=back))
    for back, currency in ((2, "EUR"), (12, "USD"), (40, "USD"), (95, "EUR")):
        sent = now - timedelta(days=back)
        deliver_order(
            client,
            order(
                at=min(sent + timedelta(minutes=30), now),
                order_id=1000 + back,
                email=f"alerted{back}@example.com",
                currency=currency,
            ),
        )
    late = alerted(engine, email="late@example.com", sent_at=now - timedelta(days=9))
    old = add_intents(engine, me, 1, created_at=now - timedelta(days=20, hours=2), start=9000)[0]
    return {"late_notification": late, "old_signup": old}


def test_kept_days_give_the_exact_figures_and_stay_exact(client, engine, shop):
    me = shop_id(engine)
    now = utcnow().replace(microsecond=0)
    ids = seed(client, engine, me, now)
    assert kept(engine, me) == []
    epoch = epoch_of(engine, me)  # each order of a closed day added one

    first = get(client, 90)  # counts the closed days and keeps them
    assert first == exact(engine, me, 90)
    assert first["signups"] > 0 and first["conversions"] == 3 and first["per_day"][-1]["signups"]
    rows = kept(engine, me)
    closed = stats.kept_days.closed_days(stats.window_start(time.time(), 90), 90, time.time())
    assert len(rows) == closed >= 88 and {e for _, e, _ in rows} == {epoch}
    assert get(client, 90) == first  # now read from the kept rows
    assert get(client, 30) == exact(engine, me, 30)
    assert get(client, 366) == exact(engine, me, 366)  # the 276 older days counted and kept
    assert get(client, 1) == exact(engine, me, 1)
    page = client.get(
        "/app/dashboard?days=90&" + urlencode({"shop": SHOP, "id_token": session_token()})
    ).text
    assert f'<div class="value" data-metric="signups">{first["signups"]}</div>' in page
    assert f'<div class="value" data-metric="conversions">{first["conversions"]}</div>' in page

    # An order of five days ago, delivered late, attributed to an alert of nine days ago.
    five_days_ago = (now - timedelta(days=5)).date().isoformat()
    before = {d["date"]: d for d in first["per_day"]}[five_days_ago]["conversions"]
    deliver_order(
        client,
        order(at=now - timedelta(days=5), order_id=7777, email="late@example.com", currency="GBP"),
    )
    after_order = get(client, 90)
    assert after_order == exact(engine, me, 90)
    assert {d["date"]: d for d in after_order["per_day"]}[five_days_ago]["conversions"] == (
        before + 1
    )
    assert after_order["conversions"] == first["conversions"] + 1
    assert epoch_of(engine, me) == epoch + 1
    window = stats.window_start(time.time(), 90).date()
    # the window's days counted again and kept anew; older ones wait for a window that shows them
    assert {e for d, e, _ in kept(engine, me) if d >= window} == {epoch + 1}
    assert {e for d, e, _ in kept(engine, me) if d < window} == {epoch}
    assert ids["late_notification"]

    # A waiting signup of twenty days ago deleted by the merchant.
    twenty_days_ago = (now - timedelta(days=20, hours=2)).date().isoformat()
    was = {d["date"]: d for d in after_order["per_day"]}[twenty_days_ago]["signups"]
    response = client.delete(f"/app/api/intents/{ids['old_signup']}", headers=bearer())
    assert response.status_code == 204
    after_delete = get(client, 90)
    assert after_delete == exact(engine, me, 90)
    assert {d["date"]: d for d in after_delete["per_day"]}[twenty_days_ago]["signups"] == was - 1
    assert after_delete["signups"] == after_order["signups"] - 1

    # A customer's redaction: their signups stay as figures, the waiting ones are cancelled.
    payload = {
        "shop_id": 1,
        "shop_domain": SHOP,
        "customer": {"id": 5, "email": "shopper3@example.com", "phone": None},
        "orders_to_redact": [],
    }
    assert deliver_topic(client, "customers/redact", payload).status_code == 200
    after_redact = get(client, 90)
    assert after_redact == exact(engine, me, 90)
    assert after_redact["pending"] == after_delete["pending"] - 1
    assert after_redact["signups"] == after_delete["signups"]

    # The shop's redaction erases its kept days with it.
    redact = {"shop_id": 1, "shop_domain": SHOP}
    assert deliver_topic(client, "shop/redact", redact, webhook_id="w2").status_code == 200
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(stats_days)).scalar_one() == 0


def test_yesterday_is_counted_from_the_rows_in_the_hour_after_midnight(engine, settings, shop):
    me = shop_id(engine)
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    at = (midnight + timedelta(minutes=30)).timestamp()
    add_intents(
        engine, me, 2, created_at=midnight - timedelta(minutes=1)
    )  # yesterday's last minute
    add_intents(engine, me, 3, created_at=midnight - timedelta(days=3), start=10)
    with TestClient(
        create_app(settings, clock=lambda: at), base_url="https://app.example.test"
    ) as early:
        body = early.get("/app/api/stats?days=7", headers=bearer(now=at, ttl=2 * 86400)).json()
        assert body == exact(engine, me, 7, at)
        assert (body["per_day"][-2]["signups"], body["per_day"][-4]["signups"]) == (2, 3)
        days = [day for day, _, _ in kept(engine, me)]
        assert len(days) == 5 and max(days) == (midnight - timedelta(days=2)).date()
        # A signup of yesterday's last minute, committed late: still counted (nothing kept).
        add_intents(engine, me, 1, created_at=midnight - timedelta(seconds=1), start=20)
        again = early.get("/app/api/stats?days=7", headers=bearer(now=at, ttl=2 * 86400)).json()
        assert again["per_day"][-2]["signups"] == 3 and again == exact(engine, me, 7, at)


def test_requests_racing_to_keep_the_same_days_keep_them_once(engine, settings, shop):
    """Two app processes' first dashboard loads at the same time: both count the closed days and
    save them; the second save meets the first's rows (ON CONFLICT) and changes nothing."""
    from concurrent.futures import ThreadPoolExecutor

    me = shop_id(engine)
    now = utcnow()
    for back in range(0, 100, 3):
        add_intents(engine, me, 2, created_at=now - timedelta(days=back, minutes=1), start=back * 2)
    apps = [create_app(settings) for _ in range(2)]
    with (
        TestClient(apps[0], base_url="https://app.example.test") as one,
        TestClient(apps[1], base_url="https://app.example.test") as two,
    ):
        for _ in range(3):
            with engine.begin() as connection:
                connection.execute(stats_days.delete())
            with ThreadPoolExecutor(2) as pool:
                answers = list(pool.map(lambda c: get(c, 90), [one, two]))
            assert answers[0] == answers[1] == exact(engine, me, 90)
            closed = stats.kept_days.closed_days(
                stats.window_start(time.time(), 90), 90, time.time()
            )
            assert len(kept(engine, me)) == closed
            assert get(one, 90) == answers[0]  # from the kept rows
