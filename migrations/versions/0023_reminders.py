"""reminders: up to two reminders after an alert, while in stock and not bought

Revision ID: 0023
Revises: 0022

`shop.reminders` is the setting (JSON: each stage's `after_days` and the merchant's texts per
language); a reminder is a notification of kind `reminder` with its `reminder_stage` (1 or 2) and
`follows_id`, the alert it follows (notify/reminders.py).
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shop") as batch:
        batch.add_column(sa.Column("reminders", sa.Text(), nullable=True))
    with op.batch_alter_table("notification") as batch:
        batch.add_column(sa.Column("reminder_stage", sa.SmallInteger(), nullable=True))
        batch.add_column(sa.Column("follows_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notification") as batch:
        batch.drop_column("follows_id")
        batch.drop_column("reminder_stage")
    with op.batch_alter_table("shop") as batch:
        batch.drop_column("reminders")
