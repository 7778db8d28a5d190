"""Delivery of the stored outbox: rate limits, retries with backoff, and giving up."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol, cast

from bot.outbound.app_client import AppClient
from bot.outbound.transport import Delivery, Outcome, Transport
from bot.runtime import Runtime
from storage import db
from storage import repositories as repo
from storage.models import OutboxMessage

log = logging.getLogger(__name__)
CLAIM_FOR = timedelta(seconds=120)
RATE_WINDOW = timedelta(seconds=60)


class Sender(Protocol):
    """Anything that performs one delivery attempt (the WeCom transport, the console)."""

    def send(self, d: Delivery) -> Outcome: ...


class ConsoleSender:
    """For local runs without WeCom: the message goes to the log instead."""

    def send(self, d: Delivery) -> Outcome:
        mention = f" @{','.join(d.mentioned_list)}" if d.mentioned_list else ""
        log.info("[console %s %s]%s\n%s", d.kind, d.msgtype, mention, d.content)
        return Outcome("sent", "console")


def make_sender(rt: Runtime) -> Sender:
    """The console in ``console`` mode, else the WeCom transport (with the app client if set)."""
    s = rt.settings
    if s.outbound.mode == "console":
        return ConsoleSender()
    app = None
    if s.wecom.app.secret and s.wecom.corp_id:
        app = AppClient(
            s.wecom.corp_id,
            s.wecom.app.secret,
            s.wecom.app.agent_id,
            api_base_url=s.wecom.api_base_url,
            timeout=s.wecom.timeout_seconds,
        )
    return Transport(timeout=s.wecom.timeout_seconds, app=app)


@dataclass(frozen=True)
class Snapshot:
    id: int
    kind: str
    target: str
    msgtype: str
    content: str
    mentioned: tuple[str, ...]
    rate_key: str
    attempts: int


def deliver_due(rt: Runtime, sender: Sender, *, limit: int = 50) -> int:
    """Send what is due; returns how many were sent. Safe to call from several processes."""
    now = rt.clock.now()
    with db.transaction(rt.sessions) as session:
        claimed = [
            Snapshot(
                m.id,
                m.kind,
                m.target,
                m.msgtype,
                m.content,
                tuple(u for u in m.mentioned.split("|") if u),
                m.rate_key,
                m.attempts,
            )
            for m in repo.claim_due(session, now, claim_for=CLAIM_FOR, limit=limit)
        ]
    sent = 0
    held: dict[str, datetime] = {}  # targets deferred in this run keep their order
    for snap in claimed:
        if snap.rate_key in held:
            _defer(rt, snap.id, held[snap.rate_key], None)
            continue
        wait_until = _rate_limited_until(rt, snap, now)
        if wait_until is not None:
            held[snap.rate_key] = wait_until
            _defer(rt, snap.id, wait_until, None)
            continue
        delivery = _delivery(rt, snap)
        outcome = (
            Outcome("give_up", "no webhook_url for this group")
            if delivery is None
            else sender.send(delivery)
        )
        until = _record(rt, snap, outcome)
        if outcome.status == "sent":
            sent += 1
        elif until is not None and snap.rate_key:
            held[snap.rate_key] = until
    return sent


def _rate_limited_until(rt: Runtime, snap: Snapshot, now: datetime) -> datetime | None:
    if not snap.rate_key.startswith("webhook:"):
        return None
    cap = rt.settings.outbound.per_webhook_per_minute
    with db.transaction(rt.sessions) as session:
        if repo.sent_since(session, snap.rate_key, now - RATE_WINDOW) < cap:
            return None
    return now + timedelta(seconds=5)


def _delivery(rt: Runtime, snap: Snapshot) -> Delivery | None:
    target = snap.target
    if snap.kind == "webhook":
        with db.transaction(rt.sessions) as session:
            grp = repo.group(session, snap.target)
            if grp is None or not grp.webhook_url:
                return None
            target = grp.webhook_url
    kind = cast(Literal["webhook", "response_url", "appchat", "app_message"], snap.kind)
    msgtype = cast(Literal["text", "markdown"], snap.msgtype)
    return Delivery(
        kind=kind,
        target=target,
        msgtype=msgtype,
        content=snap.content,
        mentioned_list=snap.mentioned,
    )


def _defer(rt: Runtime, message_id: int, until: datetime, reason: str | None) -> None:
    with db.transaction(rt.sessions) as session:
        m = session.get(OutboxMessage, message_id)
        if m is not None and m.status == "sending":
            m.status, m.next_attempt_at, m.claimed_until = "pending", until, None
            if reason:
                m.last_error = reason


def _record(rt: Runtime, snap: Snapshot, outcome: Outcome) -> datetime | None:
    """Store the outcome; returns when a retried message is next due (else None)."""
    ob = rt.settings.outbound
    now = rt.clock.now()
    with db.transaction(rt.sessions) as session:
        m = session.get(OutboxMessage, snap.id)
        if m is None:
            return None
        m.attempts += 1
        m.claimed_until = None
        if outcome.status == "sent":
            m.status, m.sent_at, m.last_error = "sent", now, None
            return None
        m.last_error = outcome.reason
        if outcome.status == "give_up" or m.attempts >= ob.max_attempts:
            m.status = "failed"
            log.warning(
                "outbox %s gave up after %d attempt(s): %s", m.id, m.attempts, outcome.reason
            )
            return None
        delay = outcome.retry_after or min(
            ob.backoff_base_seconds * 2 ** (m.attempts - 1), ob.backoff_max_seconds
        )
        m.status, m.next_attempt_at = "pending", now + timedelta(seconds=delay)
        log.info("outbox %s will retry in %.0f s: %s", m.id, delay, outcome.reason)
        return m.next_attempt_at
