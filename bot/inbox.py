"""Stored inbound messages: accept (store + commit), process, and sweep what was missed."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.runtime import Runtime
from handlers.context import Reply, UserError
from handlers.incoming import Incoming, from_payload, to_payload
from storage import db
from storage import repositories as repo

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
SWEEP_GRACE = timedelta(seconds=10)
GENERIC_FAILURE = "抱歉，处理您的消息时出现问题，工作人员会尽快跟进。"


def accept(rt: Runtime, msg: Incoming) -> int | None:
    """Store ``msg`` and commit. Returns its id, or None for a retry of a stored msgid."""
    with db.transaction(rt.sessions) as session:
        return repo.store_inbound(
            session,
            channel=msg.channel,
            msgid=msg.msgid,
            sender=msg.sender,
            chatid=msg.chatid,
            payload=to_payload(msg),
            now=rt.clock.now(),
        )


def process(rt: Runtime, message_id: int) -> str:
    """Run one stored message through the dispatcher, exactly once.

    The handler's writes, its reply and the ``done`` mark commit together, so a crash at any
    point leaves the message ``received`` for the sweep and creates nothing twice.
    Returns the message's status afterwards.
    """
    user_error: UserError | None = None
    try:
        with db.transaction(rt.sessions) as session:
            row = repo.inbound(session, message_id, lock=True)
            if row is None or row.status != "received":
                return row.status if row is not None else "missing"
            msg = from_payload(row.payload)
            ctx = rt.context(session, message_id=row.id)
            reply = rt.dispatcher.dispatch(msg, ctx)
            if reply is not None:
                ctx.notify.reply(msg, reply)
            row.status, row.processed_at = "done", ctx.clock.now()
            row.attempts += 1
            return "done"
    except UserError as exc:  # expected refusal: the handler's writes are rolled back
        user_error = exc
    except Exception as exc:  # the one central error lane for handlers
        log.exception("processing inbound message %s failed", message_id)
        return _record_failure(rt, message_id, type(exc).__name__)
    return _finish_with_reply(rt, message_id, Reply(user_error.text), "done")


def _finish_with_reply(rt: Runtime, message_id: int, reply: Reply, status: str) -> str:
    with db.transaction(rt.sessions) as session:
        row = repo.inbound(session, message_id, lock=True)
        if row is None or row.status != "received":
            return row.status if row is not None else "missing"
        ctx = rt.context(session, message_id=row.id)
        ctx.notify.reply(from_payload(row.payload), reply, purpose="reply")
        row.status, row.processed_at = status, ctx.clock.now()
        row.attempts += 1
        return status


def _record_failure(rt: Runtime, message_id: int, error: str) -> str:
    with db.transaction(rt.sessions) as session:
        row = repo.inbound(session, message_id, lock=True)
        if row is None or row.status != "received":
            return row.status if row is not None else "missing"
        row.attempts += 1
        row.last_error = error
        if row.attempts < MAX_ATTEMPTS:
            return "received"  # the sweep tries again
    # gave up: say so once, and keep the message (status failed) for a person to look at
    with db.transaction(rt.sessions) as session:
        row = repo.inbound(session, message_id, lock=True)
        if row is None or row.status != "received":
            return row.status if row is not None else "missing"
        ctx = rt.context(session, message_id=row.id)
        ctx.notify.reply(from_payload(row.payload), Reply(GENERIC_FAILURE), purpose="failure")
        row.status = "failed"
        log.error("inbound message %s failed %d times; marked failed", message_id, row.attempts)
        return "failed"


def sweep(rt: Runtime) -> int:
    """Process messages that were stored but not processed (a crash, a failed attempt)."""
    cutoff = rt.clock.now() - SWEEP_GRACE
    with db.transaction(rt.sessions) as session:
        ids = repo.unprocessed_inbound(session, cutoff)
    for message_id in ids:
        process(rt, message_id)
    return len(ids)
