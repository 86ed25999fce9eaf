"""What the development storefront (routes/dev.py) shows and waits for: the demo shop's product
with the theme block, its stock, the latest signups, the alerts written to `outbox/`, and whether a
stock change has been applied and its alerts sent."""

import json
import re
import time
from collections.abc import Mapping
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup
from sqlalchemy import Engine, select
from sqlmodel import col

from . import devshop, devshop_liquid
from .coerce import shopify_id
from .config import Settings
from .db import session_scope
from .models import (
    JOB_UNFINISHED,
    NOTIFICATION_ON_ITS_WAY,
    Intent,
    InventoryLevel,
    Job,
    JobKind,
    Notification,
)
from .notify import channels as notify_channels

OUTBOX_NAME = re.compile(r"[A-Za-z0-9._-]+\.(?:eml|sms\.txt|push\.json)")
SUFFIXES = {".eml": "Email", ".sms.txt": "Text message", ".push.json": "Browser notification"}
RESTOCK_UNITS = 5


def _signups(engine) -> list[dict]:
    shop_id = devshop.shop_id(engine)
    with session_scope(engine) as session:
        rows = (
            session.execute(
                select(Intent)
                .where(col(Intent.shop_id) == shop_id)
                .order_by(col(Intent.id).desc())
                .limit(20)
            )
            .scalars()
            .all()
        )
    titles = {v.id: f"{p.title} – {v.title}" for p in devshop.PRODUCTS for v in p.variants}
    return [
        {
            "id": row.id,
            "channel": row.channel,
            "contact": row.email or row.phone or ("this browser" if row.channel == "push" else ""),
            "variant": titles.get(row.shopify_variant_id, str(row.shopify_variant_id)),
            "status": row.status if row.optin_confirmed else f"{row.status}, awaiting opt-in",
            "source": row.source,
            "created_at": row.created_at.strftime("%H:%M:%S"),
        }
        for row in rows
    ]


def _kind(name: str) -> str:
    return next(suffix for suffix in SUFFIXES if name.endswith(suffix))


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _read(path: Path) -> dict[str, Any]:
    """An outbox file as the storefront shows it: its channel, who it is for, a one-line summary,
    the header rows and the text; an email also keeps its parsed message."""
    kind = _kind(path.name)
    if kind == ".eml":
        message = message_from_bytes(path.read_bytes(), policy=default_policy)
        text = message.get_body(("plain",))
        return {
            "to": str(message.get("To", "")),
            "summary": str(message.get("Subject", "")),
            "headers": [
                (name, str(message.get(name)))
                for name in (
                    "From",
                    "To",
                    "Subject",
                    "Date",
                    "List-Unsubscribe",
                    "List-Unsubscribe-Post",
                )
                if message.get(name)
            ],
            "text": text.get_content() if text else "",
            "email": message,
        }
    raw = path.read_text(encoding="utf-8", errors="replace")
    if kind == ".sms.txt":
        head, _, body = raw.partition("\n\n")
        to = head.removeprefix("To: ").strip()
        return {
            "to": to,
            "summary": _short(" ".join(body.split())),
            "headers": [("To", to), ("Characters", str(len(body.rstrip("\n"))))],
            "text": body.rstrip("\n"),
        }
    try:
        document = json.loads(raw)
        endpoint, payload = str(document["endpoint"]), dict(document["payload"])
    except (ValueError, KeyError, TypeError):
        endpoint, payload = "", {}
    to = f"a browser via {urlsplit(endpoint).hostname or 'its push service'}"
    return {
        "to": to,
        "summary": _short(
            ": ".join(str(payload[key]) for key in ("title", "body") if payload.get(key))
        ),
        "headers": [("To", to), ("Endpoint", endpoint)]
        + [
            (label, str(payload[key]))
            for key, label in (("title", "Title"), ("url", "Link"), ("image", "Image"))
            if payload.get(key)
        ],
        "text": str(payload.get("body", "")),
        "payload": json.dumps(payload, indent=2, ensure_ascii=False),
    }


def _alerts() -> list[dict]:
    folder = Path(notify_channels.DEV_OUTBOX)
    files = (
        sorted(
            (p for p in folder.iterdir() if OUTBOX_NAME.fullmatch(p.name)),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )[:20]
        if folder.is_dir()
        else []
    )
    found = []
    for path in files:
        read = _read(path)
        found.append(
            {
                "name": path.name,
                "channel": SUFFIXES[_kind(path.name)],
                "to": read["to"],
                "summary": read["summary"],
                "at": time.strftime("%H:%M:%S", time.localtime(path.stat().st_mtime)),
            }
        )
    return found


def storefront_data(engine: Engine, settings: Settings, query: Mapping[str, str]) -> dict:
    """What the storefront page shows: the product with the block, its stock, the signups and the
    alerts written to outbox/."""
    asked = query.get("locale", "")
    locale = asked if asked in devshop.LOCALES else "en"
    product = devshop.product(query.get("product"))
    stock = devshop.stock(engine)
    product_data = devshop_liquid.liquid_product(product, stock, shopify_id(query.get("variant")))
    country = (query.get("country") or "").upper() or None
    # `?block=0`: the same page without the block and its assets (bench/lighthouse_block.py
    # measures what the block costs a product page).
    with_block = query.get("block") != "0"
    block = (
        devshop_liquid.render_block(
            product_data, locale=locale, country=country, settings=DEMO_BLOCK_SETTINGS
        )
        if with_block
        else ""
    )
    return {
        "shop_name": devshop.SHOP_NAME,
        "shop": devshop.SHOP,
        "locale": locale,
        "locales": devshop.LOCALES,
        "products": devshop.PRODUCTS,
        "product": product,
        "data": product_data,
        "selected": product_data["selected_or_first_available_variant"],
        "variants_json": Markup(
            devshop_liquid.to_json(
                [{"id": v["id"], "available": v["available"]} for v in product_data["variants"]]
            )
        ),
        "block": Markup(block),
        "head": Markup(devshop_liquid.head_tags() if with_block else ""),
        "stock_rows": [{"variant": v, "units": stock.get(v.id, 0)} for v in product.variants],
        "restock_units": RESTOCK_UNITS,
        "signups": _signups(engine),
        "alerts": _alerts(),
        "outbox": str(Path(notify_channels.DEV_OUTBOX).resolve()),
        "worker": settings.WORKER_IN_PROCESS,
        "notice": query.get("notice"),
    }


# The block as a merchant might set it up in the theme editor: every channel and the consent box.
DEMO_BLOCK_SETTINGS = {
    "offer_email": True,
    "offer_sms": True,
    "offer_push": True,
    "show_marketing_consent": True,
}


def levels(engine, item_id: int) -> dict[int, int]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(col(InventoryLevel.location_id), col(InventoryLevel.available)).where(
                col(InventoryLevel.shop_id) == devshop.shop_id(engine),
                col(InventoryLevel.inventory_item_id) == item_id,
            )
        )
        return {location: available or 0 for location, available in rows}


def settled(engine, variant_id: int, expected: int) -> bool:
    """The webhook's levels are applied, the worker has run the job and sent the alerts."""
    if devshop.stock(engine).get(variant_id) != expected:
        return False
    shop_id = devshop.shop_id(engine)
    busy_jobs = select(col(Job.id)).where(
        col(Job.shop_id) == shop_id,
        col(Job.kind) == JobKind.inventory.value,
        col(Job.status).in_(JOB_UNFINISHED),
    )
    busy_alerts = select(col(Notification.id)).where(
        col(Notification.shop_id) == shop_id,
        col(Notification.status).in_(NOTIFICATION_ON_ITS_WAY),
    )
    with session_scope(engine) as session:
        return all(
            session.execute(busy.limit(1)).first() is None for busy in (busy_jobs, busy_alerts)
        )


def outbox_file(name: str) -> dict[str, Any] | None:
    """The outbox file `name` as the storefront shows it (`_read`), or None."""
    path = Path(notify_channels.DEV_OUTBOX) / name
    if not OUTBOX_NAME.fullmatch(name) or not path.is_file():
        return None
    return {"name": name, "channel": SUFFIXES[_kind(name)], **_read(path)}
