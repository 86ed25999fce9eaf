"""the dashboard's setup guide: when the theme block was first seen, when a test alert was sent

Revision ID: 0012
Revises: 0011

The guide's other steps are read from what is already stored (channels from the settings, the first
signup from the signups); these two are facts only the app sees happen.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shop", schema=None) as batch_op:
        batch_op.add_column(sa.Column("block_seen_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("test_alert_sent_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("shop", schema=None) as batch_op:
        batch_op.drop_column("test_alert_sent_at")
        batch_op.drop_column("block_seen_at")
