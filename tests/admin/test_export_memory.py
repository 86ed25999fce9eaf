"""A large CSV export is streamed: rows are read a chunk at a time, so the memory it takes stays
at a chunk's worth however many rows there are. Prints rows/s and the Python heap's peak."""

import time
import tracemalloc
import uuid

import pytest
from sqlalchemy import insert, select

from shopify_app.admin import exports
from shopify_app.models import Customer, Intent, Shop, utcnow

from .tokens import SHOP

ROWS = 30_000


def fill(engine, shop_id: int, n: int) -> None:
    now = utcnow()
    customer = str(uuid.uuid4())
    with engine.begin() as connection:
        connection.execute(
            insert(Customer.__table__).values(
                id=customer, shop_id=shop_id, created_at=now, updated_at=now
            )
        )
        for start in range(0, n, 5000):
            connection.execute(
                insert(Intent.__table__),
                [
                    {
                        "shop_id": shop_id,
                        "customer_id": customer,
                        "channel": "email",
                        "email": f"shopper{i}@example.com",
                        "contact_key": f"k{i}",
                        "status": "notified",
                        "shopify_variant_id": 1000 + i % 50,
                        "shopify_product_id": 7,
                        "product_title": "Linen shirt with a reasonably long product title",
                        "variant_title": "Blue / M",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(start, min(start + 5000, n))
                ],
            )


@pytest.mark.slow
def test_a_large_export_holds_one_chunk_at_a_time(engine, shop, backend, monkeypatch):
    monkeypatch.setattr(exports, "CHUNK", 500)
    with engine.connect() as connection:
        shop_id = connection.execute(select(Shop.__table__.c.id)).scalar_one()
    fill(engine, shop_id, ROWS)
    tracemalloc.start()
    started = time.perf_counter()
    size = lines = 0
    for piece in exports.signups_csv(engine, shop_id, SHOP, {}):
        size += len(piece)
        lines += piece.count(b"\n")
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert lines == ROWS + 1
    print(
        f"\nexport [{backend}]: {ROWS} rows, {size / 1e6:.1f} MB of CSV in {elapsed:.2f}s under tracemalloc "
        f"({ROWS / elapsed:,.0f} rows/s), Python heap peak {peak / 1e6:.1f} MB"
    )
    # a chunk's worth (and the compiled statements for its joins), not the whole export
    assert peak < size / 2
