"""webhook deliveries applied later: their state and raw payload, and the pending queue's index

`inventory_levels/update` is acknowledged once its delivery row (with the raw body) is committed;
the worker applies pending rows in batches.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

PENDING = sa.text("state = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("payload", sa.Text(), nullable=True))
    op.create_index(
        "ix_webhook_delivery_pending",
        "webhook_delivery",
        ["id"],
        unique=False,
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_delivery_pending", table_name="webhook_delivery")
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.drop_column("payload")
        batch_op.drop_column("state")
