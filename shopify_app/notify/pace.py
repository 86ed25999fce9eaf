"""Provider send rates, held across every worker process, in the database every worker shares.

A paced channel (EMAIL_SEND_RATE, SMS_SEND_RATE, PUSH_SEND_RATE: messages per second) is claimed at
most a second's worth at a time, and the claim reserves that many send slots in `channel_pace`
(GCRA's "theoretical arrival time": the next free slot moves on by 1/rate per message, never into
the past), in the claim's transaction, so two workers' slots never overlap. The sender waits for
each message's slot. The claim takes the channel's row first (`take_turn`), so slots are handed out
in claim order and the oldest-first order holds across workers.

A provider's "slow down" (HTTP 429 with Retry-After from Twilio or a push service, SMTP 421/451)
pauses the channel: the message goes back to the queue with its attempt not counted, the rest of
the batch on that channel is not tried, and no worker claims the channel until the pause ends."""

import math
from datetime import datetime, timedelta

from sqlalchemy import Connection, select, update
from sqlalchemy.orm import Session

from ..config import Settings
from ..db import insert_ignoring_conflicts
from ..models import ChannelPace

pace = ChannelPace.__table__
HORIZON_SECONDS = 1.0  # a paced channel is claimed this many seconds of sending at a time
DEFAULT_PAUSE_SECONDS = 5.0  # a "slow down" that says not for how long (SMTP never does)
MAX_PAUSE_SECONDS = 3600.0


def rate_of(settings: Settings, channel: str) -> float | None:
    rates = {
        "email": settings.EMAIL_SEND_RATE,
        "sms": settings.SMS_SEND_RATE,
        "push": settings.PUSH_SEND_RATE,
    }
    return rates.get(channel)


def claim_limit(rate: float, batch_size: int) -> int:
    return max(1, min(batch_size, math.floor(rate * HORIZON_SECONDS)))


def paused(session: Session | Connection, channels: list[str], now: datetime) -> set[str]:
    """The channels a provider asked us to pause, still paused at `now`."""
    return set(
        session.execute(
            select(pace.c.channel).where(pace.c.channel.in_(channels), pace.c.paused_until > now)
        ).scalars()
    )


def take_turn(session: Session, channel: str, now: datetime) -> datetime:
    """Lock the channel's row until the caller's transaction ends, and return its next free slot.
    Taken before claiming: two workers then claim and reserve one after the other, so the slots
    follow the claim order. Locked only at `reserve`, a worker that claimed the older messages
    could reserve after one that claimed the newer, and send them later."""
    session.execute(
        insert_ignoring_conflicts(session, pace, {"channel": channel, "next_slot_at": now})
    )
    return session.execute(
        select(pace.c.next_slot_at).where(pace.c.channel == channel).with_for_update()
    ).scalar_one()


def reserve(
    session: Session, channel: str, count: int, rate: float, now: datetime
) -> list[datetime]:
    """`count` consecutive send slots on the channel, the first one free from `now` (locks the
    channel's row until the caller's transaction ends, if `take_turn` has not)."""
    start = max(take_turn(session, channel, now), now)
    step = timedelta(seconds=1 / rate)
    session.execute(
        update(pace).where(pace.c.channel == channel).values(next_slot_at=start + step * count)
    )
    return [start + step * n for n in range(count)]


def pause_seconds(asked: float | None) -> float:
    return min(
        MAX_PAUSE_SECONDS, asked if asked is not None and asked > 0 else DEFAULT_PAUSE_SECONDS
    )


def pause(session: Session | Connection, channel: str, until: datetime) -> None:
    """Pause the channel for every worker until `until` (a longer pause already set stays)."""
    session.execute(
        insert_ignoring_conflicts(
            session, pace, {"channel": channel, "next_slot_at": until, "paused_until": until}
        )
    )
    session.execute(
        update(pace)
        .where(pace.c.channel == channel)
        .where((pace.c.paused_until.is_(None)) | (pace.c.paused_until < until))
        .values(paused_until=until)
    )
