"""order lines attributed to alerts, the merchant's high-demand emails, and the dashboard's indexes

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversion",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.BigInteger(), nullable=True),
        sa.Column("shopify_variant_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("line_item_id", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=4, asdecimal=False), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("ordered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["notification_id"], ["notification.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["shop_id"], ["shop.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("shop_id", "order_id", "line_item_id", name="uq_conversion_line"),
    )
    op.create_index(
        "ix_conversion_shop_ordered", "conversion", ["shop_id", "ordered_at"], unique=False
    )
    op.create_index(
        op.f("ix_conversion_notification_id"), "conversion", ["notification_id"], unique=False
    )
    op.create_table(
        "demand_alert",
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("shopify_variant_id", sa.BigInteger(), nullable=False),
        sa.Column("pending", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shop.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("shop_id", "shopify_variant_id"),
    )
    op.create_index("ix_intent_shop_created", "intent", ["shop_id", "created_at"], unique=False)
    op.create_index("ix_intent_shop_notified", "intent", ["shop_id", "notified_at"], unique=False)
    op.create_index(
        "ix_notification_shop_kind_sent",
        "notification",
        ["shop_id", "kind", "sent_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_notification_shop_kind_sent", table_name="notification")
    op.drop_index("ix_intent_shop_notified", table_name="intent")
    op.drop_index("ix_intent_shop_created", table_name="intent")
    op.drop_table("demand_alert")
    op.drop_index(op.f("ix_conversion_notification_id"), table_name="conversion")
    op.drop_index("ix_conversion_shop_ordered", table_name="conversion")
    op.drop_table("conversion")
