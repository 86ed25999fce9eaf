"""Fair sending across shops (issue 17, item 4): one shop's big restock queued first does not hold
back another shop's alerts, which go out in the next batch, each shop's oldest first."""

from sqlalchemy import select

from shopify_app.db import session_scope
from shopify_app.models import Shop

from ..admin.data import add_delivery, add_intents
from ..support import install_shop
from .helpers import drain, recording_channels, run

OTHER = "b-shop.myshopify.com"


def queue(engine, shop_id: int, n: int, start: int) -> None:
    for intent in add_intents(engine, shop_id, n, start=start):
        add_delivery(engine, shop_id, intent, status="pending")


def test_a_big_restock_queued_first_does_not_hold_back_another_shop(engine, settings, shop):
    big = shop_id(engine, shop)
    queue(engine, big, 400, start=0)  # shop A: 400 alerts, queued first
    small = install_shop(engine, settings, OTHER)
    queue(engine, small, 10, start=1000)  # then shop B's 10
    channels = recording_channels()
    run(drain(settings.model_copy(update={"WORKER_BATCH_SIZE": 50}), engine, channels))

    sent = [number(m.to) for m in channels["email"].sent]
    assert sorted(sent) == [*range(400), *range(1000, 1010)]  # everyone, once
    b_positions = [n for n, shopper in enumerate(sent) if shopper >= 1000]
    assert max(b_positions) < 50  # all of B's in the first batch, not after A's 400
    a_order = [shopper for shopper in sent if shopper < 1000]
    assert a_order == sorted(a_order)  # each shop's oldest first


def test_with_one_shop_waiting_a_batch_is_all_its_own(engine, settings, shop):
    queue(engine, shop_id(engine, shop), 120, start=0)
    channels = recording_channels()
    worker_settings = settings.model_copy(update={"WORKER_BATCH_SIZE": 50})
    run(drain(worker_settings, engine, channels, rounds=1))
    assert len(channels["email"].sent) == 50


def number(address: str) -> int:  # shopper17@example.com -> 17
    return int(address.removeprefix("shopper").split("@")[0])


def shop_id(engine, domain) -> int:
    with session_scope(engine) as session:
        return session.execute(select(Shop.id).where(Shop.domain == domain)).scalar_one()
