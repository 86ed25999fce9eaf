"""the dashboard's figures kept per closed day: stats_day, and the shop's stats_epoch

Revision ID: 0017
Revises: 0016

Over 90 days the dashboard counted every signup of the window again on each request (1,000,000
index entries for a large shop, ~60 ms on PostgreSQL). A closed UTC day's signups, alerts,
conversions and revenue are now kept in `stats_day` once the day is settled, and only today (and
yesterday in the first hour after midnight) is counted live. A write that changes a kept day
(a signup deleted, an order recorded for a closed day) adds one to the shop's `stats_epoch`, and
rows of an older epoch are counted again (docs/decisions.md).
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shop", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("stats_epoch", sa.Integer(), server_default="0", nullable=False)
        )
    op.create_table(
        "stats_day",
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("signups", sa.Integer(), nullable=False),
        sa.Column("alerts", sa.Integer(), nullable=False),
        sa.Column("conversions", sa.Integer(), nullable=False),
        sa.Column("revenue_e4", sa.BigInteger(), nullable=False),
        sa.Column("currencies", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["shop.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("shop_id", "day"),
    )


def downgrade() -> None:
    op.drop_table("stats_day")
    with op.batch_alter_table("shop", schema=None) as batch_op:
        batch_op.drop_column("stats_epoch")
