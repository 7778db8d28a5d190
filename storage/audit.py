"""The orders' trace (痕迹化): append-only, hash-chained order events, and their check.

Every change to an order is one row of ``order_events``. The events of one order are numbered
``seq`` = 1, 2, 3, … and chained: each row stores the hash of the event before it
(``prev_hash``) and its own hash (``hash``). ``audit_heads`` keeps, per order, the ``seq`` and
``hash`` of the newest event, so deleting the last events is noticed too.
``storage.repositories.add_event`` is the only writer; ``verify`` reports any event that was
edited, deleted or inserted behind gridbot's back.

How an event's hash is computed (enough to re-compute it without gridbot):

1. Take these nine fields of the event, under these JSON keys:

   ======================  ==============================================================
   key                     value
   ======================  ==============================================================
   ``"order"``             the order number (``work_orders.number``), e.g. ``"GD-20261123-0001"``
   ``"seq"``               the event's ``seq``, a JSON integer (1 for an order's first event)
   ``"at"``                the event time in UTC, as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``: always six
                           microsecond digits and a literal ``Z``, e.g.
                           ``"2026-11-23T01:00:00.000000Z"`` (``order_events.at`` is stored as
                           UTC on both databases; SQLite keeps it without a zone, PostgreSQL as
                           ``timestamptz``: read both as UTC)
   ``"actor"``             ``actor`` (a string)
   ``"action"``            ``action`` (a string)
   ``"from_status"``       ``from_status``: a string, or JSON ``null``
   ``"to_status"``         ``to_status``: a string, or JSON ``null``
   ``"note"``              ``note`` (a string, possibly empty)
   ``"prev_hash"``         the previous event's ``hash``; for ``seq`` 1, 64 ASCII zeros
   ======================  ==============================================================

2. Serialise the object as JSON with the keys sorted (by code point), no whitespace at all
   (separators ``,`` and ``:``), and non-ASCII characters written as themselves, not as
   ``\\uXXXX`` escapes. Strings escape ``"`` and ``\\`` with a backslash, the control
   characters U+0008, U+0009, U+000A, U+000C, U+000D as ``\\b \\t \\n \\f \\r`` and every
   other character below U+0020 as ``\\u00xx`` (lower-case hex). This is exactly Python's
   ``json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))``.
3. Encode that text as UTF-8 and hash the bytes with SHA-256. ``hash`` is the digest as 64
   lower-case hex digits.

The chain is intact when, for every order, the events' ``seq`` run 1…n without a gap, every
event's ``hash`` equals the re-computed hash, every ``prev_hash`` equals the ``hash`` of the event
before it, and the order's ``audit_heads`` row has ``seq`` = n and ``hash`` = the n-th event's hash.

What it does and does not prove: an UPDATE, DELETE or INSERT on ``order_events`` that does not
also re-compute the following hashes and the head is found. Someone with write access to the
database who knows this recipe can rewrite a whole chain consistently; to rule that out, keep
copies of the heads (``audit_heads``) outside the database and compare them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, Select, exists, null, select, union_all
from sqlalchemy.orm import Session

from storage.models import AuditHead, OrderEvent, WorkOrder

GENESIS = "0" * 64  # the prev_hash of an order's first event


def format_at(at: datetime) -> str:
    """``at`` as the hash sees it: UTC, six microsecond digits, ``Z``."""
    if at.tzinfo is None:
        raise ValueError("naive datetime in the audit chain; pass an aware datetime")
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def canonical(
    *,
    number: str,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    from_status: str | None,
    to_status: str | None,
    note: str,
    prev_hash: str,
) -> bytes:
    """The bytes an event's hash is taken of (see the module docstring)."""
    obj = {
        "order": number,
        "seq": seq,
        "at": format_at(at),
        "actor": actor,
        "action": action,
        "from_status": from_status,
        "to_status": to_status,
        "note": note,
        "prev_hash": prev_hash,
    }
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def event_hash(
    *,
    number: str,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    from_status: str | None,
    to_status: str | None,
    note: str,
    prev_hash: str,
) -> str:
    """SHA-256 of ``canonical(...)``, 64 lower-case hex digits."""
    data = canonical(
        number=number,
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=note,
        prev_hash=prev_hash,
    )
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Problem:
    """One break in an order's chain: ``seq`` is the event it is about (None: the whole order)."""

    number: str
    seq: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.number}: {self.message}"


@dataclass
class Verification:
    problems: list[Problem] = field(default_factory=list)
    orders: int = 0  # orders with a trace (events or a chain head)
    events: int = 0

    @property
    def intact(self) -> bool:
        return not self.problems


def verify(session: Session) -> list[Problem]:
    """Every break in every order's chain, in order number order (empty: all intact)."""
    return check(session).problems


def check(session: Session) -> Verification:
    """``verify`` plus the number of orders and events checked.

    The events and the heads are read by one statement, so one snapshot: an event committed
    meanwhile by a concurrent ``add_event`` is not mistaken for a break (on PostgreSQL at READ
    COMMITTED; SQLite reads one snapshot per transaction anyway).
    """
    result = Verification()
    chain: _Chain | None = None
    for row in session.execute(_trace_rows()):
        if chain is None or chain.order_id != row.order_id:
            if chain is not None:
                result.problems += chain.finish()
            chain = _Chain(row.order_id, row.number, row.head_seq, row.head_hash)
            result.orders += 1
        if row.seq is not None:
            result.events += 1
            chain.add(row)
    if chain is not None:
        result.problems += chain.finish()
    result.problems.sort(key=lambda p: (p.number, p.seq or 0))
    return result


def trace(session: Session, number: str) -> list[OrderEvent]:
    """The events of order ``number`` in chain order (empty for an unknown number)."""
    stmt = (
        select(OrderEvent)
        .join(WorkOrder, WorkOrder.id == OrderEvent.order_id)
        .where(WorkOrder.number == number)
        .order_by(OrderEvent.seq, OrderEvent.id)
    )
    return list(session.scalars(stmt))


def _trace_rows() -> Select[Any]:
    """All events with their order's number and head, then heads that have no events left."""
    e, o, h = OrderEvent, WorkOrder, AuditHead
    with_events = (
        select(
            e.order_id.label("order_id"),
            o.number.label("number"),
            h.seq.label("head_seq"),
            h.hash.label("head_hash"),
            e.id.label("id"),
            e.seq.label("seq"),
            e.at.label("at"),
            e.actor.label("actor"),
            e.action.label("action"),
            e.from_status.label("from_status"),
            e.to_status.label("to_status"),
            e.note.label("note"),
            e.prev_hash.label("prev_hash"),
            e.hash.label("hash"),
        )
        .join(o, o.id == e.order_id)
        .outerjoin(h, h.order_id == e.order_id)
    )
    heads_only = (
        select(
            h.order_id,
            o.number,
            h.seq,
            h.hash,
            *(null() for _ in range(10)),
        )
        .join(o, o.id == h.order_id)
        .where(~exists().where(e.order_id == h.order_id))
    )
    rows = union_all(with_events, heads_only).subquery()
    # An order's rows come together, by seq: its events, or the one row of a head without any.
    return select(rows).order_by(rows.c.order_id, rows.c.seq, rows.c.id)


def _span(first: int, last: int, single: str) -> str:
    return f"event {first} {single}" if first == last else f"events {first}–{last} are missing"


class _Chain:
    """Walks one order's events in seq order and collects what does not fit."""

    def __init__(
        self, order_id: int, number: str, head_seq: int | None, head_hash: str | None
    ) -> None:
        self.order_id, self.number = order_id, number
        self.head_seq, self.head_hash = head_seq, head_hash
        self.problems: list[Problem] = []
        self.last_seq = 0
        self.last_hash = GENESIS

    def _report(self, seq: int | None, message: str) -> None:
        self.problems.append(Problem(self.number, seq, message))

    def add(self, row: Row[Any]) -> None:
        seq: int = row.seq
        expected = self.last_seq + 1
        if seq < expected:
            self._report(seq, f"event {seq} is out of sequence (inserted outside gridbot?)")
            return
        gap = seq > expected
        if gap:
            self._report(expected, _span(expected, seq - 1, "was deleted"))
        recomputed = event_hash(
            number=self.number,
            seq=seq,
            at=row.at,
            actor=row.actor,
            action=row.action,
            from_status=row.from_status,
            to_status=row.to_status,
            note=row.note,
            prev_hash=row.prev_hash,
        )
        stored: str = row.hash
        if recomputed != stored:
            self._report(seq, f"event {seq} was edited")
        elif not gap and row.prev_hash != self.last_hash:
            before = f"event {seq - 1}" if seq > 1 else "the start of the chain"
            self._report(
                seq, f"event {seq} does not follow {before} (forged, or {before} replaced)"
            )
        self.last_seq, self.last_hash = seq, stored

    def finish(self) -> list[Problem]:
        if self.head_seq is None:
            self._report(None, "chain head mismatch: the order has events but no chain head")
        elif self.head_seq > self.last_seq:
            first = self.last_seq + 1
            self._report(first, _span(first, self.head_seq, "was deleted"))
        elif self.head_seq < self.last_seq:
            self._report(
                self.last_seq,
                f"chain head mismatch: the head is event {self.head_seq}, "
                f"but there is an event {self.last_seq} (inserted outside gridbot?)",
            )
        elif self.head_hash != self.last_hash:
            self._report(
                self.last_seq,
                f"chain head mismatch: event {self.last_seq} is not the event the head recorded",
            )
        return self.problems
