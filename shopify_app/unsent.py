"""What "sent" and "unsent" mean for a signup, and deleting the unsent ones: the one rule behind the
admin's delete (`DELETE /app/api/intents/{id}`), the merchant API's `bulk_destroy` (STOQ: "only
unsent"), its `notified` filter and `transfer_signups` intent types, and notify-now's "already
notified".

A signup is sent once an alert was released for it (its status became notified: the alert may
still be on its way, or have failed) or one ever reached the shopper (`notified_at`,
`sent_notifications_count`). Every other signup is unsent: waiting (pending, or held for the
merchant), or unsubscribed or cancelled before any alert. A sent signup is never deleted: that would
erase the record of what was sent to whom and why."""

from sqlalchemy import ColumnElement, Connection, delete, or_, select

from . import stats_epoch
from .models import Intent, IntentStatus

intents = Intent.__table__


class SentIntents(Exception):
    """Some of the signups asked for were sent; nothing may be deleted."""

    def __init__(self, ids: list[int]) -> None:
        super().__init__(ids)
        self.ids = ids


def was_sent() -> ColumnElement[bool]:
    """The signup row's own columns only, so the condition can guard a write (see `delete_unsent`)."""
    return or_(
        intents.c.status == IntentStatus.notified.value,
        intents.c.notified_at.is_not(None),
        intents.c.sent_notifications_count > 0,
    )


def delete_unsent(connection: Connection, shop_id: int, ids: list[int]) -> list[int]:
    """Delete the shop's signups `ids`, all or nothing: the ids deleted (any other id is not this
    shop's), with their unsent messages and attempts (ON DELETE CASCADE). If any of them was sent,
    raises SentIntents naming those, and the caller's transaction must roll back (`engine.begin()`
    does when the error leaves it): nothing is deleted.

    The rule is in the DELETE's own WHERE: a signup notified by a request running at the same time
    is either notified first (and then not deleted: PostgreSQL re-checks a row it waited for, SQLite
    runs one writer at a time) or deleted first (and then the notify finds nothing)."""
    mine = (intents.c.shop_id == shop_id, intents.c.id.in_(ids))
    rows = connection.execute(
        delete(intents).where(*mine, ~was_sent()).returning(intents.c.id, intents.c.created_at)
    ).all()
    deleted = [row.id for row in rows]
    # A signup of a closed day leaves that day's kept dashboard figures to be counted again.
    stats_epoch.bump_if_closed(connection, shop_id, [row.created_at for row in rows])
    if len(deleted) < len(ids):
        sent = (
            connection.execute(select(intents.c.id).where(*mine).order_by(intents.c.id))
            .scalars()
            .all()
        )
        if sent:
            raise SentIntents(list(sent))
    return list(deleted)
