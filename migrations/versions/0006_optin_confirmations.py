"""opt-in confirmations go through the outbox: a notification's kind, and no restock event for them

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=8), nullable=False, server_default="alert")
        )
        batch_op.alter_column("restock_event_id", existing_type=sa.BigInteger(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM notification WHERE restock_event_id IS NULL")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.alter_column("restock_event_id", existing_type=sa.BigInteger(), nullable=False)
        batch_op.drop_column("kind")
