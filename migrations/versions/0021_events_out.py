"""events out: the merchant's webhook URL and secret, Flow triggers in use, and event deliveries

Revision ID: 0021
Revises: 0020

Outbound webhooks (webhooks_out.py) sign each event with a per-shop secret kept encrypted;
`flow_trigger` holds which of the app's Flow triggers each shop's workflows use (Flow's
lifecycle callback); `event_delivery` is one row per event and target (webhook or Flow),
written with what it reports, and the merchant's delivery log (events_out.py).
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shop") as batch_op:
        batch_op.add_column(sa.Column("webhook_url", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("webhook_secret_encrypted", sa.Text(), nullable=True))
    op.create_table(
        "flow_trigger",
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("handle", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shop.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("shop_id", "handle"),
    )
    op.create_table(
        "event_delivery",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=8), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["shop_id"], ["shop.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "target", name="uq_event_delivery_target"),
    )
    op.create_index("ix_event_delivery_shop", "event_delivery", ["shop_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_event_delivery_shop", table_name="event_delivery")
    op.drop_table("event_delivery")
    op.drop_table("flow_trigger")
    with op.batch_alter_table("shop") as batch_op:
        batch_op.drop_column("webhook_secret_encrypted")
        batch_op.drop_column("webhook_url")
