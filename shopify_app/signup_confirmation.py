"""The double opt-in's ask: queueing the confirmation message of an email or SMS signup."""

from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, select

from .models import Intent, Notification, NotificationKind, NotificationStatus, utcnow
from .signup_rows import Executor

intents = Intent.__table__
notifications = Notification.__table__
CONFIRMATION_GAP = timedelta(hours=1)

# The latest confirmation to this address (in this shop): when it went, or goes, out (a sent
# one's next_attempt_at is when it was sent), and whether it still waits to be sent.
_LAST_CONFIRMATION = (
    select(notifications.c.status, notifications.c.next_attempt_at)
    .join(intents, intents.c.id == notifications.c.intent_id)
    .where(
        intents.c.shop_id == bindparam("shop_id"),
        intents.c.contact_key == bindparam("contact_key"),
        notifications.c.kind == NotificationKind.optin.value,
    )
    .order_by(notifications.c.next_attempt_at.desc())
    .limit(1)
)


def ask_to_confirm(session: Executor, intent: dict[str, Any], *, repeat: bool = False) -> None:
    """Queue a confirmation (double opt-in) through the outbox; an address gets at most one an hour.
    One still waiting to be sent covers this signup too (its link, made when it is sent, confirms
    every signup of the address waiting then: shopper_links.py). Otherwise a new signup gets its
    own, an hour after the last one went out if that was less than an hour ago; a repeat of a
    signup (whose link may have been lost) gets another only once the hour is up."""
    now = utcnow()
    last = session.execute(
        _LAST_CONFIRMATION, {"shop_id": intent["shop_id"], "contact_key": intent["contact_key"]}
    ).first()
    if last is not None and last.status == NotificationStatus.pending.value:
        return
    due = now if last is None else max(now, last.next_attempt_at + CONFIRMATION_GAP)
    if repeat and due > now:
        return
    session.execute(
        notifications.insert().values(
            shop_id=intent["shop_id"],
            intent_id=intent["id"],
            restock_event_id=None,
            kind=NotificationKind.optin.value,
            channel=intent["channel"],
            status=NotificationStatus.pending.value,
            attempts=0,
            next_attempt_at=due,
            created_at=now,
            updated_at=now,
        )
    )
