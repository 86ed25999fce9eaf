"""the dashboard's counts over a large shop: a narrow partial index of waiting signups, and alerts by status

Revision ID: 0010
Revises: 0009

"Waiting now" and the products in demand count a shop's pending signups (per variant, with their
quantities): ix_intent_pending_variant holds only those, in narrow columns (PostgreSQL
deduplicates it to a few MB for 820,000 signups), so both are index-only. `status` is one of its
columns although always 'pending': SQLite reads the table for a column the query names that the
index lacks, even one its WHERE fixes. The alerts per day need
`status = 'sent'`, which ix_notification_shop_kind_sent left to the table: its replacement holds it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_intent_pending_variant",
        "intent",
        ["shop_id", "status", "shopify_variant_id", "quantity"],
        unique=False,
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_index("ix_notification_shop_kind_sent", table_name="notification")
    op.create_index(
        "ix_notification_shop_kind_status_sent",
        "notification",
        ["shop_id", "kind", "status", "sent_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_notification_shop_kind_status_sent", table_name="notification")
    op.create_index(
        "ix_notification_shop_kind_sent",
        "notification",
        ["shop_id", "kind", "sent_at"],
        unique=False,
    )
    op.drop_index(
        "ix_intent_pending_variant",
        table_name="intent",
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )
