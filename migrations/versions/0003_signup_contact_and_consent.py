"""signups keyed by their own address; marketing consent recorded per signup

A pending signup is now unique per (shop, variant, market, channel, address) instead of per
customer: the alert goes to the address given in that signup, whoever's customer it is filed under.

Revision ID: 0003
Revises: 0002
"""

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")


def _key(channel: str, address: str) -> str:
    # the same as shopify_app.signup_contacts.contact_key, frozen here as this migration's own copy
    return hashlib.sha256(f"{channel}:{address}".encode()).hexdigest()


def _address(row) -> str | None:
    if row.channel == "email":
        return row.email
    if row.channel == "sms":
        return row.phone
    try:
        return json.loads(row.push_subscription or "null")["endpoint"]
    except (TypeError, ValueError, KeyError):
        return None


def upgrade() -> None:
    # first: SQLite's batch mode rebuilds the table and cannot carry an expression index over
    op.drop_index("uq_intent_pending", table_name="intent")
    with op.batch_alter_table("intent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_key", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("accepts_marketing", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True))

    intent = sa.table(
        "intent",
        sa.column("id"),
        sa.column("shop_id"),
        sa.column("shopify_variant_id"),
        sa.column("shopify_market_id"),
        sa.column("channel"),
        sa.column("status"),
        sa.column("email"),
        sa.column("phone"),
        sa.column("push_subscription"),
        sa.column("contact_key"),
    )
    bind = op.get_bind()
    seen: set[tuple] = set()
    rows = bind.execute(sa.select(intent).order_by(intent.c.id)).all()
    for row in rows:
        address = _address(row)
        key = _key(row.channel, address) if address else None
        values = {"contact_key": key}
        unique = (row.shop_id, row.shopify_variant_id, row.shopify_market_id or 0, row.channel, key)
        if row.status == "pending" and key is not None:
            if unique in seen:  # two customers waiting on one address: the older signup stays
                values["status"] = "cancelled"
            seen.add(unique)
        bind.execute(sa.update(intent).where(intent.c.id == row.id).values(**values))

    op.create_index(
        "uq_intent_pending_contact",
        "intent",
        [
            "shop_id",
            "shopify_variant_id",
            sa.text("coalesce(shopify_market_id, 0)"),
            "channel",
            "contact_key",
        ],
        unique=True,
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )
    # a push signup without a customer id finds its customer through its subscription's earlier signups
    op.create_index("ix_intent_contact", "intent", ["shop_id", "contact_key"])


def downgrade() -> None:
    op.drop_index("ix_intent_contact", table_name="intent")
    op.drop_index("uq_intent_pending_contact", table_name="intent")
    with op.batch_alter_table("intent", schema=None) as batch_op:
        batch_op.drop_column("consent_at")
        batch_op.drop_column("accepts_marketing")
        batch_op.drop_column("contact_key")
    op.create_index(
        "uq_intent_pending",
        "intent",
        ["customer_id", "shopify_variant_id", sa.text("coalesce(shopify_market_id, 0)"), "channel"],
        unique=True,
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )
