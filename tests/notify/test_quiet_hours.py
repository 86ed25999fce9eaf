"""SMS quiet hours (issue 18, item 7): an SMS alert due in the shopper's quiet hours (their time
zone from their phone number) waits for the end of them, without using an attempt; email and
push are sent at once. The clock is controlled through the data: quiet hours set around the
current time of a number's known zone."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from shopify_app.db import session_scope
from shopify_app.models import ChannelPace, Notification, SendAttempt
from shopify_app.notify.quiet_hours import QuietHours, quiet_until

from ..admin.tokens import bearer
from .helpers import drain, level_webhook, make_due, recording_channels, run, setup_shop, signup

NEW_YORK, LOS_ANGELES = "+12015550123", "+14155550123"  # America/New_York, America/Los_Angeles
NIGHT = QuietHours(time(21), time(9))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("phone", "quiet", "now", "until"),
    [
        # New York in December is UTC-5: 21:00-09:00 there is 02:00-14:00 UTC
        (NEW_YORK, NIGHT, "2026-12-03 01:59", None),
        (NEW_YORK, NIGHT, "2026-12-03 02:00", "2026-12-03 14:00"),
        (NEW_YORK, NIGHT, "2026-12-03 13:59", "2026-12-03 14:00"),
        (NEW_YORK, NIGHT, "2026-12-03 14:00", None),
        # in July (UTC-4) the same hours are an hour earlier in UTC
        (NEW_YORK, NIGHT, "2026-07-03 12:30", "2026-07-03 13:00"),
        # not spanning midnight: 13:00-14:00 local
        (NEW_YORK, QuietHours(time(13), time(14)), "2026-12-03 18:10", "2026-12-03 19:00"),
        (NEW_YORK, QuietHours(time(13), time(14)), "2026-12-03 19:00", None),
        # the same moment is quiet in New York but not yet in Los Angeles (18:30 there)
        (LOS_ANGELES, NIGHT, "2026-12-03 02:30", None),
        (LOS_ANGELES, NIGHT, "2026-12-03 05:00", "2026-12-03 17:00"),
        # +61 4: an Australian mobile, in every Australian zone (Cocos UTC+6:30 to Lord Howe
        # +11): held while it is quiet in any, so until 09:00 in the westernmost, Cocos
        ("+61412345678", NIGHT, "2026-12-03 12:00", "2026-12-04 02:30"),
        # 22:00 UTC: 09:00 in Sydney and Lord Howe, but 06:00 in Perth and 04:30 in Cocos
        ("+61412345678", NIGHT, "2026-12-03 22:00", "2026-12-04 02:30"),
        # a number with no known zone is not held
        ("+15555550123", NIGHT, "2026-12-03 05:00", None),
        (NEW_YORK, None, "2026-12-03 05:00", None),
    ],
)
def test_when_an_sms_may_be_sent(phone, quiet, now, until):
    assert quiet_until(phone, quiet, utc(now)) == (utc(until) if until else None)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("21:00", 'must be "HH:MM-HH:MM"'),
        ("21:00-9:00", "end must be a time of day like 21:00"),
        ("24:00-09:00", "start must be a time of day"),
        ("21:00-21:00", "start and end must differ"),
        ("21:00-", "needs both a start and an end"),
        ("21:00-09:00-10:00", 'must be "HH:MM-HH:MM"'),
        ({"start": "21:00", "end": "09:00"}, 'must be "HH:MM-HH:MM"'),
        (2100, 'must be "HH:MM-HH:MM"'),
    ],
)
def test_a_bad_setting_is_a_400_that_changes_nothing(client, shop, value, says):
    response = client.put("/app/api/settings", json={"sms_quiet_hours": value}, headers=bearer())
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error.startswith("sms_quiet_hours: ") and says in error
    assert client.get("/app/api/settings", headers=bearer()).json()["sms_quiet_hours"] is None


def _clock(moment: datetime) -> str:
    return moment.strftime("%H:%M")


def quiet_around_now_in_new_york() -> str:
    """Quiet hours from an hour ago to two hours from now, New York time: now is quiet there (and
    not in Los Angeles, three hours behind)."""
    local = datetime.now(ZoneInfo("America/New_York"))
    return f"{_clock(local - timedelta(hours=1))}-{_clock(local + timedelta(hours=2))}"


def restock_for_sms(client, engine, settings, fake_shopify, quiet, phones):
    """A shop with these quiet hours, SMS signups from `phones` (oldest first), a restock, and a
    worker's drain: the channels, with what they sent."""
    item = setup_shop(engine, settings, fake_shopify)
    client.put("/app/api/settings", json={"sms_quiet_hours": quiet}, headers=bearer())
    for phone in phones:
        signup(client, "sms", phone=phone)
    item.levels = {next(iter(item.levels)): 5}
    level_webhook(client, 5)
    channels = recording_channels()
    run(drain(settings, engine, channels))
    return channels


def test_an_sms_in_quiet_hours_waits_and_keeps_its_attempts(client, engine, settings, fake_shopify):
    item = setup_shop(engine, settings, fake_shopify)
    quiet = quiet_around_now_in_new_york()
    saved = client.put("/app/api/settings", json={"sms_quiet_hours": quiet}, headers=bearer())
    assert saved.status_code == 200 and saved.json()["sms_quiet_hours"] == quiet
    held = signup(client, "sms", phone=NEW_YORK)
    awake = signup(client, "sms", phone=LOS_ANGELES)
    mail = signup(client, "email", email="ny@example.com", phone=NEW_YORK)
    item.levels = {next(iter(item.levels)): 5}
    level_webhook(client, 5)
    channels = recording_channels()
    run(drain(settings, engine, channels))

    assert [m.to for m in channels["sms"].sent] == [LOS_ANGELES]
    assert [m.to for m in channels["email"].sent] == ["ny@example.com"]
    with session_scope(engine) as session:
        rows = {n.intent_id: n for n in session.execute(select(Notification)).scalars()}
        waiting = rows[held["id"]]
        tried = session.execute(select(SendAttempt.notification_id, SendAttempt.outcome)).all()
    assert rows[awake["id"]].status == "sent" and rows[mail["id"]].status == "sent"
    assert (waiting.status, waiting.attempts) == ("pending", 0)  # no attempt used
    assert waiting.id not in {t.notification_id for t in tried}  # and none written down
    # it waits for 'end' in New York
    end = datetime.now(ZoneInfo("America/New_York")) + timedelta(hours=2)
    expected = end.replace(second=0, microsecond=0).astimezone(UTC)
    assert abs(waiting.next_attempt_at.replace(tzinfo=UTC) - expected) < timedelta(seconds=90)
    assert waiting.last_error == f"quiet hours: waiting until {quiet[-5:]} in the shopper's time"

    log = client.get("/app/api/deliveries?channel=sms&status=pending", headers=bearer()).json()
    [shown] = log["deliveries"]
    assert shown["id"] == waiting.id
    assert shown["error_text"] == f"Waiting for quiet hours to end at {quiet[-5:]} shopper's time"

    # The quiet hours end (here: the merchant turns them off, and the time comes): it is sent, as
    # its first attempt.
    client.put("/app/api/settings", json={"sms_quiet_hours": None}, headers=bearer())
    make_due(engine)
    run(drain(settings, engine, channels))
    assert [m.to for m in channels["sms"].sent] == [LOS_ANGELES, NEW_YORK]
    with session_scope(engine) as session:
        sent = session.get(Notification, waiting.id)
        assert (sent.status, sent.attempts, sent.last_error) == ("sent", 1, None)
        [attempt] = session.execute(
            select(SendAttempt).where(SendAttempt.notification_id == waiting.id)
        ).scalars()
        assert (attempt.attempt, attempt.outcome) == (1, "sent")


def test_quiet_hours_elsewhere_hold_nothing(client, engine, settings, fake_shopify):
    """Quiet hours that are not now in the shopper's zone: sent at once."""
    local = datetime.now(ZoneInfo("America/New_York"))
    later = f"{_clock(local + timedelta(hours=3))}-{_clock(local + timedelta(hours=5))}"
    channels = restock_for_sms(client, engine, settings, fake_shopify, later, [NEW_YORK])
    assert [m.to for m in channels["sms"].sent] == [NEW_YORK]


def test_a_held_sms_takes_no_send_slot(client, engine, settings, fake_shopify):
    """On a paced SMS channel (SMS_SEND_RATE) a held message is put back before the send slots
    are taken: the next shopper's text is not delayed by it."""
    paced = settings.model_copy(update={"SMS_SEND_RATE": 0.5})  # one slot every 2 s
    # New York's, the older signup, is first in the queue, and held
    quiet = quiet_around_now_in_new_york()
    channels = restock_for_sms(client, engine, paced, fake_shopify, quiet, [NEW_YORK, LOS_ANGELES])
    assert [m.to for m in channels["sms"].sent] == [LOS_ANGELES]
    with session_scope(engine) as session:
        next_slot = session.execute(select(ChannelPace.next_slot_at)).scalar_one()
        # the held one was put back in the claim's own transaction: its time is the claim's
        claimed_at = session.execute(
            select(Notification.updated_at).where(Notification.status == "pending")
        ).scalar_one()
    # one slot taken (Los Angeles's, from the claim): the next is 2 s after it, not 4
    assert next_slot - claimed_at < timedelta(seconds=3)


def test_the_setting_is_saved_and_read_as_start_dash_end(client, shop):
    saved = client.put(
        "/app/api/settings", json={"sms_quiet_hours": " 21:30 - 08:00 "}, headers=bearer()
    )
    assert saved.status_code == 200 and saved.json()["sms_quiet_hours"] == "21:30-08:00"
    assert client.get("/app/api/settings", headers=bearer()).json()["sms_quiet_hours"] == (
        "21:30-08:00"
    )
    off = client.put("/app/api/settings", json={"sms_quiet_hours": None}, headers=bearer())
    assert off.json()["sms_quiet_hours"] is None
