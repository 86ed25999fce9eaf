"""signup rate-limit counters (when Redis is not configured)

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_counter",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index(
        op.f("ix_rate_limit_counter_expires_at"), "rate_limit_counter", ["expires_at"], unique=False
    )
    if op.get_bind().dialect.name == "postgresql":
        # Counters need no crash safety (a lost window only forgives a few signups): no WAL to write.
        op.execute("ALTER TABLE rate_limit_counter SET UNLOGGED")


def downgrade() -> None:
    op.drop_index(op.f("ix_rate_limit_counter_expires_at"), table_name="rate_limit_counter")
    op.drop_table("rate_limit_counter")
