"""The shop's alert settings as the admin reads and writes them (`/app/api/settings`): a PUT takes
any subset, every value is checked before anything is written, and each change is recorded in
`settings_change` with the staff member who made it."""

import json
import math
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, insert, select, update

from .. import coerce, sms_countries, webhooks_out
from ..config import Settings
from ..contacts import ContactError, NotAscii, normalize_email
from ..crypto import Keys
from ..errors import ApiError
from ..models import SettingsChange, Shop, utcnow
from ..notify import quiet_hours, reminders
from ..notify.channels import CHANNELS, sendable_channels

shops = Shop.__table__
changes_table = SettingsChange.__table__

INT32 = 2_147_483_647
HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


class Invalid(ValueError):
    pass


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid("must be true or false")
    return value


def _int(low: int, high: int, *, nullable: bool = False) -> Callable[[Any], int | None]:
    def check(value: Any) -> int | None:
        if value is None and nullable:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid("must be a whole number" + (" or null" if nullable else ""))
        if not low <= value <= high:
            raise Invalid(f"must be from {low} to {high}")
        return value

    return check


def _multiplier(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Invalid("must be a number")
    if not 0 < value <= 1000:
        raise Invalid("must be greater than 0 and at most 1000")
    return float(value)


def _policy(value: Any) -> str:
    if value not in ("all", "batches"):
        raise Invalid('must be "all" or "batches"')
    return value


def _sender_name(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid("must be text or null")
    value = value.strip()
    if len(value) > 100:
        raise Invalid("must be at most 100 characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value) or any(c in value for c in '<>"'):
        raise Invalid("must not contain control characters, quotes or angle brackets")
    return value or None


def _reply_to(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value) > 320:
        raise Invalid("must be an email address or null")
    try:
        return normalize_email(value)
    except NotAscii:
        raise Invalid(
            "letters outside ASCII before the @ (like ü) cannot be used; the part after the @ may "
            "have them"
        ) from None
    except ContactError:
        raise Invalid("must be a valid email address") from None


def _logo_url(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise Invalid("must be a web address starting with https:// or null")
    value = value.strip()
    parts = urlsplit(value)
    if (
        len(value) > 2048
        or parts.scheme != "https"
        or not parts.hostname
        or any(c.isspace() or c in "<>\"'" or ord(c) < 32 for c in value)
    ):
        raise Invalid("must be a web address starting with https:// (at most 2048 characters)")
    return value


def _color(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or not HEX_COLOR.fullmatch(value.strip()):
        raise Invalid("must be a colour like #008060 (# and six hexadecimal digits)")
    return value.strip().lower()


MAX_LOCATIONS = 1000


def _locations(value: Any) -> str | None:
    """A list of location ids (numbers or gid://shopify/Location/… ids), kept as JSON; null: all."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise Invalid("must be a list of location ids, or null for every location")
    if not value:
        raise Invalid("must name at least one location (null: every location)")
    if len(value) > MAX_LOCATIONS:
        raise Invalid(f"must name at most {MAX_LOCATIONS} locations")
    ids = set()
    for item in value:
        if isinstance(item, str) and item.startswith("gid://shopify/Location/"):
            item = item.rsplit("/", 1)[1]
        found = coerce.shopify_id(item) if not isinstance(item, bool) else None
        if found is None:
            raise Invalid("must be location ids (whole numbers from 1 to 2^63-1)")
        ids.add(found)
    return json.dumps(sorted(ids))


def _webhook_url(local_hosts: frozenset[str]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        try:
            return webhooks_out.check_url(value, local_hosts)
        except webhooks_out.BadUrl as exc:
            raise Invalid(str(exc)) from None

    return check


def _checked(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A rule's own setting check (its ValueError in the merchant's words) as a field's."""

    def check(value: Any) -> Any:
        try:
            return parse(value)
        except ValueError as exc:
            raise Invalid(str(exc)) from None

    return check


# public name -> (column, check)
FIELDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "double_optin": ("double_optin", _bool),
    "min_restock_quantity": ("min_restock_quantity", _int(1, 1_000_000)),
    "delivery_policy": ("delivery_policy", _policy),
    "batch_multiplier": ("batch_multiplier", _multiplier),
    "batch_interval_seconds": ("batch_interval_seconds", _int(0, 30 * 86400)),
    "skip_over_quantity": ("skip_over_quantity", _bool),
    "automatic_sending": ("automatic_sending", _bool),
    "high_demand_threshold": ("high_demand_threshold", _int(1, 1_000_000, nullable=True)),
    "sender_name": ("sender_name", _sender_name),
    "reply_to": ("reply_to", _reply_to),
    "brand_logo_url": ("brand_logo_url", _logo_url),
    "brand_color": ("brand_color", _color),
    "published_only": ("published_only", _bool),
    "locations": ("alert_locations", _locations),
    "resend_on_restock": ("resend_on_restock", _bool),
    "sms_cap_per_restock": ("sms_cap_per_restock", _int(1, 1_000_000, nullable=True)),
    # https to a public host; the hosts WEBHOOK_LOCAL_HOSTS lists too (`parse` is given them)
    "webhook_url": ("webhook_url", _webhook_url(frozenset())),
    "sms_countries": ("sms_countries", _checked(sms_countries.parse_setting)),
    "sms_quiet_hours": ("sms_quiet_hours", _checked(quiet_hours.parse_setting)),
    "reminders": ("reminders", _checked(reminders.parse_setting)),
    "weekly_summary": ("weekly_summary", _bool),
}
# Settings kept in another form than they are shown: column value -> public value.
SHOWN_AS: dict[str, Callable[[Any], Any]] = {
    "locations": lambda kept: json.loads(kept) if kept else None,
    "reminders": lambda kept: json.loads(kept) if kept else [],
}
# Not settings but what a PUT may ask: a new webhook signing secret (shown once, in the answer).
ROTATE_SECRET = "rotate_webhook_secret"
READ_ONLY = {
    "can_send": "the channels this app can send (set up by whoever runs it), not a setting",
    "webhook_secret_set": "whether a webhook signing secret exists; rotate_webhook_secret makes one",
    "webhook_secret": "shown once, when it is made; rotate_webhook_secret makes a new one",
}
SECRET = shops.c.webhook_secret_encrypted
COLUMNS = [
    *(shops.c[column] for column, _ in FIELDS.values()),
    *(shops.c[f"channel_{c}"] for c in CHANNELS),
    SECRET,
]


def to_public(row: Any) -> dict[str, Any]:
    out = {
        name: SHOWN_AS.get(name, lambda kept: kept)(getattr(row, column))
        for name, (column, _) in FIELDS.items()
    }
    out["channels"] = {c: bool(getattr(row, f"channel_{c}")) for c in CHANNELS}
    out["webhook_secret_set"] = row.webhook_secret_encrypted is not None
    return out


def read(connection: Connection, shop_id: int) -> dict[str, Any]:
    return to_public(connection.execute(select(*COLUMNS).where(shops.c.id == shop_id)).one())


def with_can_send(values: dict[str, Any], app_settings: Settings) -> dict[str, Any]:
    """The shop's settings and, read-only, which channels this app can send at all (apart from the
    merchant's `channels`: a channel the app cannot send is not offered whatever the merchant chose)."""
    can = sendable_channels(app_settings)
    return {**values, "can_send": {c: c in can for c in CHANNELS}}


def parse(body: Any, webhook_local_hosts: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Column values from a PUT body; ApiError(400) listing every bad field (`field: message`).
    `rotate_webhook_secret: true` comes back as ROTATE_SECRET: True."""
    if not isinstance(body, dict):
        raise ApiError(400, "body: must be a JSON object of settings")
    values, problems = {}, []
    for name, value in body.items():
        if name == "channels":
            if not isinstance(value, dict):
                problems.append("channels: must be an object with email, sms and push")
                continue
            for channel, flag in value.items():
                if channel not in CHANNELS:
                    problems.append(
                        f"channels.{str(channel)[:40]}: unknown channel (email, sms or push)"
                    )
                elif not isinstance(flag, bool):
                    problems.append(f"channels.{channel}: must be true or false")
                else:
                    values[f"channel_{channel}"] = flag
        elif name in READ_ONLY:
            problems.append(f"{name}: read-only: {READ_ONLY[name]}")
        elif name == ROTATE_SECRET:
            if value is not True:
                problems.append(f"{ROTATE_SECRET}: must be true (or left out)")
            else:
                values[ROTATE_SECRET] = True
        elif name in FIELDS:
            column, check = FIELDS[name]
            if name == "webhook_url":
                check = _webhook_url(webhook_local_hosts)
            try:
                values[column] = check(value)
            except Invalid as exc:
                problems.append(f"{name}: {exc}")
        else:
            problems.append(f"{str(name)[:40]}: unknown setting")
    if problems:
        raise ApiError(400, *problems)
    return values


def write(
    connection: Connection,
    shop_id: int,
    values: dict[str, Any],
    user: str | None,
    keys: Keys = (),
) -> dict[str, Any]:
    """Apply parsed values in the caller's transaction; record what changed; the whole object
    after. A webhook URL set where there was none, or a rotate, makes a new signing secret
    (encrypted with `keys`), which this answer alone carries as `webhook_secret`; removing the
    URL removes the secret."""
    values = dict(values)
    rotate = values.pop(ROTATE_SECRET, False)
    before = (
        connection.execute(select(*COLUMNS).where(shops.c.id == shop_id).with_for_update())
        .one()
        ._mapping
    )
    changed = {
        column: [before[column], value]
        for column, value in values.items()
        if before[column] != value
    }
    url = values.get("webhook_url", before["webhook_url"])
    if rotate and url is None:
        raise ApiError(400, f"{ROTATE_SECRET}: set webhook_url first")
    secret = None
    updates = {c: v[1] for c, v in changed.items()}
    if url is None and before[SECRET.name] is not None:
        updates[SECRET.name] = None
        changed["webhook_secret"] = ["(secret)", None]
    elif url is not None and (rotate or before[SECRET.name] is None):
        secret = webhooks_out.new_secret()
        updates[SECRET.name] = webhooks_out.store_secret(keys, secret)
        changed["webhook_secret"] = [
            None if before[SECRET.name] is None else "(secret)",
            "(new secret)",
        ]
    if changed:
        now = utcnow()
        connection.execute(
            update(shops).where(shops.c.id == shop_id).values(**updates, updated_at=now)
        )
        connection.execute(
            insert(changes_table).values(
                shop_id=shop_id,
                changed_by=user,
                at=now,
                changes=json.dumps(changed, sort_keys=True),
            )
        )
    after = read(connection, shop_id)
    return {**after, "webhook_secret": secret} if secret is not None else after
