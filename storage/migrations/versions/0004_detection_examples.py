"""dispatchers' request/chatter decisions: detection_examples

Revision ID: 0004_detection_examples
Revises: 0003_calendar_days
Create Date: 2026-12-01

What a dispatcher said of a group message: ``/立案`` (a request) or ``/非诉求`` (not one);
``gridbot train --kind detector --from-db`` trains the request detector on them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0004_detection_examples"
down_revision = "0003_calendar_days"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "detection_examples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("label", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column(
            "message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["inbound_messages.id"],
            name=op.f("fk_detection_examples_message_id_inbound_messages"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["work_orders.id"],
            name=op.f("fk_detection_examples_order_id_work_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detection_examples")),
        sa.UniqueConstraint("message_id", name=op.f("uq_detection_examples_message_id")),
    )


def downgrade() -> None:
    op.drop_table("detection_examples")
