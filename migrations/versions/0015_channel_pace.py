"""provider send rates across every worker: a channel's next send slot and its pause

Revision ID: 0015
Revises: 0014

EMAIL_SEND_RATE, SMS_SEND_RATE and PUSH_SEND_RATE hold across worker processes: each claim of a
paced channel reserves its send slots in `channel_pace`, and a provider's "slow down" (HTTP 429,
SMTP 421/451) pauses the channel there for every worker.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_pace",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("next_slot_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("channel"),
    )


def downgrade() -> None:
    op.drop_table("channel_pace")
