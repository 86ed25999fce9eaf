"""SMS quiet hours (the shop's `sms_quiet_hours`, issue 18 item 7): an SMS alert that would reach
the shopper between `start` and `end` of their own local time waits until the quiet hours end;
email and push are never held.

The shopper's time zone comes from their phone number (phonenumbers' time zone data, by country
and, where it knows, area code). A number it places in several zones (a mobile number of a
country that spans zones, like +61 or +7) is held while it is quiet in ANY of them, so no
shopper of that number is woken: its sending window is what all its zones share. A number with
no known zone is not held.

The rule (`parse_setting`, `quiet_until`) is pure; `hold` applies it to SMS just claimed by the
sender: a held message goes back to pending with `next_attempt_at` at the end of the quiet hours
as a `deferred` outcome (attempts.record: no attempt is used, no attempt row is written, its id
keeps its place in the queue), with the reason in `last_error` for the delivery log."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_zones
from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from ..db import among
from ..models import Channel
from . import attempts

CLOCK = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
SHAPE = 'must be "HH:MM-HH:MM" (24-hour, like "21:00-09:00"), or null for none'
# the start of the reason stored in last_error; the delivery log reads the time after it
REASON = "quiet hours: waiting until"


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    def covers(self, moment: time) -> bool:
        """Whether a local time of day is quiet (start inclusive, end exclusive; may span midnight)."""
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


def _clock(value: str, name: str) -> str:
    if not CLOCK.fullmatch(value):
        raise ValueError(f"{name} must be a time of day like 21:00 (24-hour HH:MM)")
    return value


def parse_setting(value: Any) -> str | None:
    """The setting as stored, `"HH:MM-HH:MM"` (start-end, 24-hour, in the shopper's time; may
    span midnight), or None (off). ValueError, in the merchant's words, otherwise."""
    if value is None:
        return None
    if not isinstance(value, str) or value.count("-") != 1:
        raise ValueError(SHAPE)
    start, end = (part.strip() for part in value.split("-"))
    if not start or not end:
        raise ValueError("needs both a start and an end (or neither, for none)")
    start, end = _clock(start, "start"), _clock(end, "end")
    if start == end:
        raise ValueError("start and end must differ")
    return f"{start}-{end}"


def of_setting(value: str | None) -> QuietHours | None:
    if not value:
        return None
    start, end = value.split("-")
    return QuietHours(time.fromisoformat(start), time.fromisoformat(end))


@cache
def zones_of(phone: str) -> tuple[ZoneInfo, ...]:
    """The time zones phonenumbers places an E.164 number in (none when it does not know)."""
    try:
        names = phone_zones.time_zones_for_number(phonenumbers.parse(phone, None))
    except phonenumbers.NumberParseException:
        return ()
    found = []
    for name in names:
        try:
            found.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):  # "Etc/Unknown"
            continue
    return tuple(found)


def _end_after(moment: datetime, zone: ZoneInfo, end: time) -> datetime:
    """The first `end` o'clock in `zone` after `moment` (UTC)."""
    local = moment.astimezone(zone)
    ends = datetime.combine(local.date(), end, tzinfo=zone)
    if ends <= local:
        ends = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=zone)
    return ends.astimezone(UTC)


def quiet_until(phone: str, quiet: QuietHours | None, now: datetime) -> datetime | None:
    """When an SMS to `phone` may be sent if it is quiet there at `now` (UTC), else None. With
    several zones, the end of the quiet hours in one may fall inside them in another: the time
    moves on until no zone is quiet (a few steps at most; if the zones' quiet hours cover the whole
    day, the last step's time: the message is looked at again then)."""
    zones = zones_of(phone)
    if quiet is None or not zones:
        return None
    moment = now
    for _ in range(len(zones) + 1):
        ends = [
            _end_after(moment, z, quiet.end)
            for z in zones
            if quiet.covers(moment.astimezone(z).time())
        ]
        if not ends:
            break
        moment = max(ends)
    return moment if moment > now else None


def reason(quiet: QuietHours) -> str:
    return f"{REASON} {quiet.end.strftime('%H:%M')} in the shopper's time"


def hold(
    session: Session, worker: str, claimed: list[attempts.Claimed], now: datetime
) -> list[attempts.Claimed]:
    """Of notifications just claimed by `worker`, those to send now; SMS in their shopper's quiet
    hours go back to wait for the end of them (a `deferred` outcome)."""
    ids = [c.id for c in claimed if c.channel == Channel.sms.value]
    if not ids:  # email and push are never held: nothing to look up
        return claimed
    n, i, s = attempts.notifications, attempts.intents, attempts.shops
    rows = session.execute(
        select(n.c.id, n.c.intent_id, n.c.attempts, i.c.phone, s.c.sms_quiet_hours)
        .join(i, i.c.id == n.c.intent_id)
        .join(s, s.c.id == n.c.shop_id)
        .where(
            and_(
                among(session, n.c.id, ids),
                s.c.sms_quiet_hours.is_not(None),
                i.c.phone.is_not(None),
            )
        )
    ).all()
    held: list[attempts.Outcome] = []
    for r in rows:
        quiet = of_setting(r.sms_quiet_hours)
        until = quiet_until(r.phone, quiet, now)
        if quiet is None or until is None:
            continue
        held.append(
            attempts.Outcome(
                notification_id=r.id,
                intent_id=r.intent_id,
                attempt=r.attempts,
                outcome="deferred",
                error=reason(quiet),
                retry_after=(until - now).total_seconds(),
                channel=Channel.sms.value,
            )
        )
    if not held:
        return claimed
    attempts.record(session, worker, held)
    out = {o.notification_id for o in held}
    return [c for c in claimed if c.id not in out]
