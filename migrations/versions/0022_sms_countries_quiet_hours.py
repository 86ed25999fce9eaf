"""the shop's SMS countries and SMS quiet hours (issue 18, items 6 and 7)

Revision ID: 0022
Revises: 0021

`sms_countries`: the ISO 3166 alpha-2 codes whose phone numbers may sign up for SMS (JSON list;
NULL: every country). `sms_quiet_hours`: `"21:00-09:00"` (HH:MM-HH:MM) in the shopper's own
time, when SMS alerts wait (NULL: off).
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shop", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sms_countries", sa.JSON(none_as_null=True), nullable=True))
        batch_op.add_column(sa.Column("sms_quiet_hours", sa.String(length=11), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shop", schema=None) as batch_op:
        batch_op.drop_column("sms_quiet_hours")
        batch_op.drop_column("sms_countries")
