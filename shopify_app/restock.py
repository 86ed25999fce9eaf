"""Deciding who to alert when stock changes. Pure functions: no database, no clock, no I/O.

A restock is a transition of sellable stock from below the shop's minimum restock quantity to at
or above it. Who is chosen then depends on the shop's delivery policy (PLATFORM.md section 6):
everyone waiting (`all`), or batches of `available units x multiplier`, oldest signup first, with
an interval between batches while the variant stays in stock. `outbox.decide` applies these
numbers in one SQL statement, so a restock for 100,000 signups never loads them into memory.
With the shop's automatic sending off the same signups are chosen, batch by batch, but their
alerts are held for the merchant to send (`notify/manual.py`).
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from .models import DeliveryPolicy


@dataclass(frozen=True)
class Policy:
    min_restock_quantity: int = 1
    delivery: DeliveryPolicy = DeliveryPolicy.all
    batch_multiplier: float = 1.0
    batch_interval_seconds: int = 3600
    skip_over_quantity: bool = False
    automatic_sending: bool = True
    resend: bool = False  # alert again, once, those alerted before who did not buy
    sms_cap: int | None = None  # a restock's SMS past this many are held for the merchant

    @property
    def threshold(self) -> int:
        return max(1, self.min_restock_quantity)

    def describe(self) -> str:
        extras = (
            ("; skip over quantity" if self.skip_over_quantity else "")
            + ("" if self.automatic_sending else "; held for manual sending")
            + ("; alerting again who did not buy" if self.resend else "")
            + (f"; SMS cap {self.sms_cap}" if self.sms_cap is not None else "")
        )
        if self.delivery == DeliveryPolicy.all:
            return f"all; threshold {self.threshold}" + extras
        return (
            f"batches of units x {self.batch_multiplier:g} every {self.batch_interval_seconds}s; "
            f"threshold {self.threshold}" + extras
        )


def in_stock(sellable: int | None, policy: Policy) -> bool:
    return sellable is not None and sellable >= policy.threshold


def is_restock(before: int | None, after: int | None, policy: Policy) -> bool:
    """Stock crossed the threshold upwards. Unknown stock before counts as sold out: shoppers only
    sign up for variants that are sold out."""
    return in_stock(after, policy) and not in_stock(before, policy)


def batch_size(available: int, policy: Policy) -> int | None:
    """How many signups one batch may alert; None means no limit."""
    if policy.delivery == DeliveryPolicy.all:
        return None
    return max(1, math.floor(max(available, 0) * policy.batch_multiplier))


def max_quantity(available: int, policy: Policy) -> int | None:
    """The largest quantity a chosen signup may ask for; None means any."""
    return max(available, 0) if policy.skip_over_quantity else None


def next_batch_at(now: datetime, policy: Policy) -> datetime | None:
    """When the following batch is due, or None when a single pass serves everyone."""
    if policy.delivery == DeliveryPolicy.all:
        return None
    return now + timedelta(seconds=max(0, policy.batch_interval_seconds))
