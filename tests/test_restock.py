import itertools
from datetime import UTC, datetime, timedelta

import pytest

from shopify_app.models import DeliveryPolicy
from shopify_app.restock import (
    Policy,
    batch_size,
    in_stock,
    is_restock,
    max_quantity,
    next_batch_at,
)

ALL = Policy()
BATCHES = Policy(delivery=DeliveryPolicy.batches, batch_multiplier=2.5, batch_interval_seconds=600)


@pytest.mark.parametrize(
    ("before", "after", "threshold", "expected"),
    [
        (0, 1, 1, True),
        (None, 3, 1, True),  # never seen: signups exist because it was sold out
        (-2, 1, 1, True),  # oversold counts as sold out
        (1, 5, 1, False),  # stayed in stock: no re-alert
        (5, 0, 1, False),  # sold out
        (0, 0, 1, False),
        (0, 2, 3, False),  # below the minimum restock quantity
        (2, 3, 3, True),  # reaching it is a restock
        (3, 10, 3, False),
        (0, None, 1, False),  # unknown stock never alerts
    ],
)
def test_is_restock(before, after, threshold, expected):
    assert is_restock(before, after, Policy(min_restock_quantity=threshold)) is expected


def test_sell_out_then_restock_alerts_again():
    history = [0, 3, 5, 0, 2]
    transitions = [is_restock(a, b, ALL) for a, b in itertools.pairwise(history)]
    assert transitions == [True, False, False, True]


def test_threshold_is_at_least_one():
    assert not in_stock(0, Policy(min_restock_quantity=0))
    assert in_stock(1, Policy(min_restock_quantity=0))


def test_batch_size():
    assert batch_size(100, ALL) is None
    assert batch_size(4, BATCHES) == 10
    assert batch_size(1, Policy(delivery=DeliveryPolicy.batches, batch_multiplier=0.5)) == 1
    assert batch_size(0, BATCHES) == 1


def test_max_quantity_only_when_skipping():
    assert max_quantity(3, ALL) is None
    assert max_quantity(3, Policy(skip_over_quantity=True)) == 3


def test_next_batch_time():
    now = datetime(2026, 11, 22, tzinfo=UTC)
    assert next_batch_at(now, ALL) is None
    assert next_batch_at(now, BATCHES) == now + timedelta(seconds=600)


def test_policy_is_described_for_the_log():
    assert "threshold 1" in ALL.describe() and "x 2.5 every 600s" in BATCHES.describe()
