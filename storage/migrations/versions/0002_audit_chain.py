"""hash-chained order events (痕迹化): order_events.seq/prev_hash/hash and audit_heads

Revision ID: 0002_audit_chain
Revises: 0001
Create Date: 2026-11-24

Events that exist already are chained here, per order in the order they were written (by id),
with the recipe of ``storage.audit``; each order with events gets its head.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

import storage.models
from storage.audit import GENESIS, event_hash

revision = "0002_audit_chain"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_heads",
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["work_orders.id"], name=op.f("fk_audit_heads_order_id_work_orders")
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_audit_heads")),
    )
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))

    _chain_existing_events(op.get_bind())

    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_order_events_order_id_seq"), ["order_id", "seq"]
        )


def _chain_existing_events(bind: sa.Connection) -> None:
    events = sa.table(
        "order_events",
        sa.column("id", sa.Integer()),
        sa.column("order_id", sa.Integer()),
        sa.column("at", storage.models.UTCDateTime()),
        sa.column("actor", sa.String()),
        sa.column("action", sa.String()),
        sa.column("from_status", sa.String()),
        sa.column("to_status", sa.String()),
        sa.column("note", sa.Text()),
        sa.column("seq", sa.Integer()),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )
    orders = sa.table(
        "work_orders", sa.column("id", sa.Integer()), sa.column("number", sa.String())
    )
    heads = sa.table(
        "audit_heads",
        sa.column("order_id", sa.Integer()),
        sa.column("seq", sa.Integer()),
        sa.column("hash", sa.String()),
    )
    rows = bind.execute(
        sa.select(events, orders.c.number)
        .join(orders, orders.c.id == events.c.order_id)
        .order_by(events.c.order_id, events.c.id)
    ).all()
    updates: list[dict[str, Any]] = []
    last: dict[int, tuple[int, str]] = {}  # order_id -> (seq, hash) of its newest event
    for r in rows:
        seq, prev_hash = last.get(r.order_id, (0, GENESIS))
        seq += 1
        digest = event_hash(
            number=r.number,
            seq=seq,
            at=r.at,
            actor=r.actor,
            action=r.action,
            from_status=r.from_status,
            to_status=r.to_status,
            note=r.note,
            prev_hash=prev_hash,
        )
        updates.append({"event_id": r.id, "seq": seq, "prev_hash": prev_hash, "hash": digest})
        last[r.order_id] = (seq, digest)
    if updates:
        bind.execute(
            events.update()
            .where(events.c.id == sa.bindparam("event_id"))
            .values(
                seq=sa.bindparam("seq"),
                prev_hash=sa.bindparam("prev_hash"),
                hash=sa.bindparam("hash"),
            ),
            updates,
        )
        bind.execute(
            heads.insert(),
            [{"order_id": k, "seq": s, "hash": h} for k, (s, h) in last.items()],
        )


def downgrade() -> None:
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_order_events_order_id_seq"), type_="unique")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
    op.drop_table("audit_heads")
