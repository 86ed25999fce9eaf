"""a restock's totals and where its stock is, for the delivery log's "why"; the shop's location names

Revision ID: 0014
Revises: 0013

The delivery log said "Restocked to 5 units: batch 1" without how many were waiting, how many
batches that makes, or where the stock is. A restock event now keeps the signups waiting when it
was decided, the batch size, and the locations holding the stock; `location` keeps each location's
name as the Admin API gives it with the stock.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("restock_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("waiting", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("batch_size", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("location_ids", sa.String(length=255), nullable=True))
    op.create_table(
        "location",
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shop.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("shop_id", "location_id"),
    )


def downgrade() -> None:
    op.drop_table("location")
    with op.batch_alter_table("restock_event", schema=None) as batch_op:
        batch_op.drop_column("location_ids")
        batch_op.drop_column("batch_size")
        batch_op.drop_column("waiting")
