"""The signups the merchant API shows, notifies (notify/manual.py: which also releases an alert
held while automatic sending was off) and deletes; every query is scoped to the key's shop."""

from typing import Any

from sqlalchemy import Connection, Engine, Select, func, select

from .. import unsent
from ..contacts import shown_contact
from ..errors import ApiError
from ..models import Customer, Intent, Notification, NotificationKind
from ..notify import manual
from ..paging import Page
from ..schemas import IntentPublic

intents, customers, notifications = Intent.__table__, Customer.__table__, Notification.__table__
NOT_FOUND = manual.NOT_FOUND


def _intent_select() -> Select[Any]:
    alerts = (
        select(func.count())
        .select_from(notifications)
        .where(
            notifications.c.intent_id == intents.c.id,
            notifications.c.kind == NotificationKind.alert.value,
        )
        .scalar_subquery()
    )
    columns = [
        c for c in intents.c if c.name not in ("push_subscription", "contact_key", "consent_at")
    ]
    return select(
        *columns,
        customers.c.name.label("customer_name"),
        customers.c.unsubscribed_at.label("customer_unsubscribed_at"),
        alerts.label("notifications_count"),
    ).join(customers, customers.c.id == intents.c.customer_id)


def public(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    data["contact"] = shown_contact(data["channel"], data["email"], data["phone"])
    fields = {k: data[k] for k in IntentPublic.model_fields if k in data}
    return IntentPublic(**fields).model_dump(mode="json")


def list_intents(engine: Engine, where: list[Any], page: Page) -> dict[str, Any]:
    with engine.connect() as connection:
        total = connection.execute(
            select(func.count()).select_from(intents).where(*where)
        ).scalar_one()
        rows: list[Any] = []
        if page.offset < total:
            rows = list(
                connection.execute(
                    _intent_select()
                    .where(*where)
                    .order_by(intents.c.created_at.desc(), intents.c.id.desc())
                    .limit(page.per_page)
                    .offset(page.offset)
                ).all()
            )
    return {"intents": [public(r) for r in rows], "meta": page.meta(total)}


def _one(connection: Connection, shop_id: int, intent_id: int) -> Any:
    return connection.execute(
        _intent_select().where(intents.c.shop_id == shop_id, intents.c.id == intent_id)
    ).first()


def get_intent(engine: Engine, shop_id: int, intent_id: int) -> dict[str, Any]:
    with engine.connect() as connection:
        row = _one(connection, shop_id, intent_id)
    if row is None:
        raise ApiError.stoq(404, NOT_FOUND)
    return {"intent": public(row)}


def _notify(
    engine: Engine, shop_id: int, ids: list[int], allow_resend: bool, show: bool
) -> tuple[list[int], list[dict[str, Any]], Any]:
    with engine.begin() as connection:
        success, failed = manual.notify(
            connection, shop_id, ids, allow_resend=allow_resend, via="merchant API"
        )
        intent = _one(connection, shop_id, ids[0]) if show and success else None
    return success, failed, intent


def notify_one(engine: Engine, shop_id: int, intent_id: int, allow_resend: bool) -> dict[str, Any]:
    """Notify now: `{"intent": ...}` after, or 404 / 422 naming why not."""
    _success, failed, intent = _notify(engine, shop_id, [intent_id], allow_resend, True)
    if failed:
        error = failed[0]["error"]
        raise ApiError.stoq(404 if error == NOT_FOUND else 422, error)
    return {"intent": public(intent)}


def notify_many(
    engine: Engine, shop_id: int, ids: list[int], allow_resend: bool
) -> tuple[dict[str, Any], int]:
    """(`{"success": [...], "failed": [...]}`, its status: 200 all, 207 some, 422 none)."""
    success, failed, _ = _notify(engine, shop_id, ids, allow_resend, False)
    status = 200 if not failed else 207 if success else 422
    return {"success": success, "failed": failed}, status


def destroy(engine: Engine, shop_id: int, ids: list[int]) -> dict[str, list[int]]:
    """Delete unsent signups, all or nothing (422 naming the sent ones)."""
    try:
        with engine.begin() as connection:
            deleted = set(unsent.delete_unsent(connection, shop_id, ids))
    except unsent.SentIntents as exc:
        raise ApiError.stoq(
            422, "Only unsent intents can be deleted; nothing was deleted", sent_intent_ids=exc.ids
        ) from None
    return {
        "deleted": [i for i in ids if i in deleted],
        "not_found": [i for i in ids if i not in deleted],
    }
