"""Repositories: they take the caller's session and never commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from bot import config as cfg
from bot.workcal import Notice, NoticeDay
from storage import audit
from storage.models import (
    AuditHead,
    CalendarDay,
    Category,
    ChatGroup,
    Department,
    DetectionExample,
    Enterprise,
    InboundMessage,
    JobRun,
    OrderCounter,
    OrderEvent,
    OrderReminder,
    OutboxMessage,
    Person,
    RoutingExample,
    SchedulerLease,
    WorkOrder,
)


def _insert(session: Session, model: Any) -> Any:
    """The dialect's INSERT (SQLite or PostgreSQL), which has ON CONFLICT."""
    dialect = session.get_bind().dialect.name
    return (sqlite.insert if dialect == "sqlite" else postgresql.insert)(model)


# ---------------------------------------------------------------- roster


def sync_roster(session: Session, settings: cfg.Settings) -> None:
    """Make the roster tables match the config (departments, categories, people, groups)."""
    for d in settings.departments:
        session.merge(Department(code=d.code, name=d.name, leader=d.leader))
    session.flush()
    for c in settings.categories:
        session.merge(
            Category(
                code=c.code,
                name=c.name,
                department_code=c.department,
                keywords="\n".join(c.keywords),
                limit_hours=c.limit_hours,
                limit_days=c.limit_days,
                catch_all=c.catch_all,
            )
        )
    names = {p.enterprise for p in settings.people if p.enterprise}
    names |= {g.enterprise for g in settings.groups if g.enterprise}
    ent_ids = {name: enterprise_id(session, name) for name in sorted(names)}
    configured = {p.userid for p in settings.people}
    for p in settings.people:
        session.merge(
            Person(
                userid=p.userid,
                name=p.name,
                roles=",".join(sorted(p.roles)),
                department_code=p.department,
                enterprise_id=ent_ids.get(p.enterprise or ""),
                active=True,
            )
        )
    session.execute(update(Person).where(Person.userid.not_in(configured)).values(active=False))
    for g in settings.groups:
        session.merge(
            ChatGroup(
                chatid=g.chatid,
                name=g.name,
                enterprise_id=ent_ids.get(g.enterprise or ""),
                webhook_url=g.webhook_url,
                appchat_chatid=g.appchat_chatid,
            )
        )
    session.flush()


def enterprise_id(session: Session, name: str) -> int:
    found = session.scalar(select(Enterprise.id).where(Enterprise.name == name))
    if found is not None:
        return found
    ent = Enterprise(name=name)
    session.add(ent)
    session.flush()
    return ent.id


def person(session: Session, userid: str) -> Person | None:
    p = session.get(Person, userid)
    return p if p is not None and p.active else None


def group(session: Session, chatid: str) -> ChatGroup | None:
    return session.get(ChatGroup, chatid)


def department(session: Session, code: str) -> Department | None:
    return session.get(Department, code)


def departments(session: Session) -> Sequence[Department]:
    return session.scalars(select(Department).order_by(Department.code)).all()


def people_with_role(
    session: Session, role: str, department_code: str | None = None
) -> Sequence[Person]:
    stmt = select(Person).where(Person.active, Person.roles.contains(role))
    if department_code is not None:
        stmt = stmt.where(Person.department_code == department_code)
    return [p for p in session.scalars(stmt.order_by(Person.userid)) if role in p.role_set]


def userids_with_role(session: Session, role: str, department_code: str | None = None) -> list[str]:
    """The WeCom userids of :func:`people_with_role` (who to tell)."""
    return [p.userid for p in people_with_role(session, role, department_code)]


# ---------------------------------------------------------------- inbox


def store_inbound(
    session: Session,
    *,
    channel: str,
    msgid: str,
    sender: str,
    chatid: str | None,
    payload: dict[str, Any],
    now: datetime,
) -> int | None:
    """Insert a message; return its id, or None when (channel, msgid) is already stored."""
    values = dict(
        channel=channel,
        msgid=msgid,
        sender=sender,
        chatid=chatid,
        payload=payload,
        received_at=now,
        status="received",
        attempts=0,
    )
    stmt = (
        _insert(session, InboundMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["channel", "msgid"])
        .returning(InboundMessage.id)
    )
    return session.scalar(stmt)


def inbound(session: Session, message_id: int, *, lock: bool = False) -> InboundMessage | None:
    stmt = select(InboundMessage).where(InboundMessage.id == message_id)
    if lock:
        stmt = stmt.with_for_update(skip_locked=True)
    return session.scalar(stmt)


def unprocessed_inbound(session: Session, older_than: datetime, limit: int = 100) -> list[int]:
    stmt = (
        select(InboundMessage.id)
        .where(InboundMessage.status == "received", InboundMessage.received_at <= older_than)
        .order_by(InboundMessage.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


# ---------------------------------------------------------------- orders


def next_order_number(session: Session, day: str) -> str:
    """``GD-YYYYMMDD-NNNN``: atomic per-day sequence (one upsert, safe across workers)."""
    ins = _insert(session, OrderCounter)
    stmt = (
        ins.values(day=day, last_seq=1)
        .on_conflict_do_update(index_elements=["day"], set_={"last_seq": OrderCounter.last_seq + 1})
        .returning(OrderCounter.last_seq)
    )
    seq = session.scalar(stmt)
    assert seq is not None
    return f"GD-{day}-{seq:04d}"


def add_order(session: Session, order: WorkOrder) -> WorkOrder:
    session.add(order)
    session.flush()
    return order


def reminder_candidates(
    session: Session, handling: Sequence[str], resolved_since: datetime, resolved: str
) -> Sequence[WorkOrder]:
    """Orders that can still have a reminder due: those being handled, and those closed
    since ``resolved_since`` and not rated."""
    stmt = select(WorkOrder).where(
        or_(
            WorkOrder.status.in_(handling),
            (WorkOrder.status == resolved)
            & (WorkOrder.resolved_at >= resolved_since)
            & WorkOrder.rating.is_(None),
        )
    )
    return session.scalars(stmt.order_by(WorkOrder.id)).all()


def sent_reminders(session: Session, order_ids: Sequence[int]) -> set[tuple[int, str, datetime]]:
    """(order id, kind, deadline) of every reminder already sent for these orders."""
    if not order_ids:
        return set()
    rows = session.execute(
        select(OrderReminder.order_id, OrderReminder.kind, OrderReminder.due).where(
            OrderReminder.order_id.in_(order_ids)
        )
    )
    return {(r.order_id, r.kind, r.due) for r in rows}


def last_event_times(
    session: Session, order_ids: Sequence[int], action: str
) -> dict[int, datetime]:
    """The time of the latest ``action`` event of each of these orders that has one."""
    if not order_ids:
        return {}
    rows = session.execute(
        select(OrderEvent.order_id, func.max(OrderEvent.at))
        .where(OrderEvent.order_id.in_(order_ids), OrderEvent.action == action)
        .group_by(OrderEvent.order_id)
    )
    return {order_id: at for order_id, at in rows}


def claim_reminder(
    session: Session, order_id: int, kind: str, due: datetime, now: datetime
) -> bool:
    """Claim the one reminder of ``kind`` for this order and deadline; False if already sent."""
    seen = session.scalar(
        select(OrderReminder.id).where(
            OrderReminder.order_id == order_id, OrderReminder.kind == kind, OrderReminder.due == due
        )
    )
    if seen is not None:
        return False
    session.add(OrderReminder(order_id=order_id, kind=kind, due=due, sent_at=now))
    session.flush()
    return True


def inbound_message(session: Session, message_id: int) -> InboundMessage | None:
    return session.get(InboundMessage, message_id)


def newest_inbound_id(session: Session) -> int | None:
    return session.scalar(select(func.max(InboundMessage.id)))


def order_from_message(session: Session, message_id: int) -> WorkOrder | None:
    """The order filed from inbound message ``message_id``, if any."""
    return session.scalar(select(WorkOrder).where(WorkOrder.source_message_id == message_id))


def order_by_number(
    session: Session, number: str, *, with_events: bool = False
) -> WorkOrder | None:
    stmt = select(WorkOrder).where(WorkOrder.number == number)
    if with_events:
        stmt = stmt.options(selectinload(WorkOrder.events))
    return session.scalar(stmt)


def order_for_message(session: Session, message_id: int) -> WorkOrder | None:
    return session.scalar(select(WorkOrder).where(WorkOrder.source_message_id == message_id))


def orders(
    session: Session,
    *,
    created_since: datetime | None = None,
    department_code: str | None = None,
    enterprise_id: int | None = None,
    statuses: Sequence[str] | None = None,
    limit: int | None = None,
) -> Sequence[WorkOrder]:
    stmt = select(WorkOrder)
    if created_since is not None:
        stmt = stmt.where(WorkOrder.created_at >= created_since)
    if department_code is not None:
        stmt = stmt.where(WorkOrder.department_code == department_code)
    if enterprise_id is not None:
        stmt = stmt.where(WorkOrder.enterprise_id == enterprise_id)
    if statuses is not None:
        stmt = stmt.where(WorkOrder.status.in_(statuses))
    stmt = stmt.order_by(WorkOrder.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return session.scalars(stmt).all()


def add_event(
    session: Session,
    order: WorkOrder,
    *,
    at: datetime,
    actor: str,
    action: str,
    from_status: str | None,
    to_status: str | None,
    note: str = "",
) -> OrderEvent:
    """Append an event to ``order``'s hash chain and move the chain head (``storage.audit``).

    Writers of one order queue on the order row's lock (PostgreSQL; SQLite's BEGIN IMMEDIATE
    serialises all writers already), so two events never get the same seq or prev_hash.
    """
    session.execute(
        select(WorkOrder.id).where(WorkOrder.id == order.id).with_for_update(key_share=True)
    )
    head = session.scalars(
        select(AuditHead)
        .where(AuditHead.order_id == order.id)
        .execution_options(populate_existing=True)
    ).first()
    if head is None:
        # The first event; or the head row is gone, which verify reports until this moment.
        last = session.execute(
            select(OrderEvent.seq, OrderEvent.hash)
            .where(OrderEvent.order_id == order.id)
            .order_by(OrderEvent.seq.desc())
            .limit(1)
        ).first()
        seq, prev_hash = (last.seq + 1, last.hash) if last is not None else (1, audit.GENESIS)
        head = AuditHead(order_id=order.id, seq=seq, hash="")
        session.add(head)
    else:
        seq, prev_hash = head.seq + 1, head.hash
    digest = audit.event_hash(
        number=order.number,
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=note,
        prev_hash=prev_hash,
    )
    ev = OrderEvent(
        order_id=order.id,
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=note,
        prev_hash=prev_hash,
        hash=digest,
    )
    head.seq, head.hash = seq, digest
    session.add(ev)
    session.flush()
    return ev


def events(session: Session, order_id: int) -> Sequence[OrderEvent]:
    return session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
    ).all()


def add_routing_example(
    session: Session,
    *,
    text: str,
    category: str,
    department: str,
    suggested: str | None,
    actor: str,
    order_id: int | None,
    at: datetime,
) -> RoutingExample:
    ex = RoutingExample(
        text=text,
        category_code=category,
        department_code=department,
        suggested_category=suggested,
        source="dispatcher",
        actor=actor,
        order_id=order_id,
        created_at=at,
    )
    session.add(ex)
    session.flush()
    return ex


def routing_examples(session: Session) -> Sequence[RoutingExample]:
    return session.scalars(select(RoutingExample).order_by(RoutingExample.id)).all()


def set_detection_example(
    session: Session,
    *,
    text: str,
    label: str,
    actor: str,
    message_id: int | None,
    order_id: int | None,
    at: datetime,
) -> DetectionExample:
    """Record a dispatcher's request/chatter decision; one per message, the latest wins."""
    ex = None
    if message_id is not None:
        ex = session.scalars(
            select(DetectionExample).where(DetectionExample.message_id == message_id)
        ).one_or_none()
    if ex is None:
        ex = DetectionExample(message_id=message_id, source="dispatcher")
        session.add(ex)
    ex.text, ex.label, ex.actor, ex.order_id, ex.created_at = text, label, actor, order_id, at
    session.flush()
    return ex


def detection_example(session: Session, message_id: int) -> DetectionExample | None:
    return session.scalars(
        select(DetectionExample).where(DetectionExample.message_id == message_id)
    ).one_or_none()


def detection_examples(session: Session) -> Sequence[DetectionExample]:
    return session.scalars(select(DetectionExample).order_by(DetectionExample.id)).all()


# ---------------------------------------------------------------- outbox


def enqueue(session: Session, msg: OutboxMessage) -> OutboxMessage:
    session.add(msg)
    session.flush()
    return msg


def claim_due(
    session: Session, now: datetime, *, claim_for: timedelta, limit: int = 50
) -> list[OutboxMessage]:
    """Claim due messages for delivery (pending, or a claim that expired: a sender died)."""
    due = or_(
        OutboxMessage.status == "pending",
        (OutboxMessage.status == "sending") & (OutboxMessage.claimed_until <= now),
    )
    stmt = (
        select(OutboxMessage)
        .where(due, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = list(session.scalars(stmt))
    for m in claimed:
        m.status = "sending"
        m.claimed_until = now + claim_for
    session.flush()
    return claimed


def sent_since(session: Session, rate_key: str, since: datetime) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.rate_key == rate_key,
                OutboxMessage.status == "sent",
                OutboxMessage.sent_at > since,
            )
        )
        or 0
    )


def outbox_messages(session: Session, *, status: str | None = None) -> Sequence[OutboxMessage]:
    stmt = select(OutboxMessage).order_by(OutboxMessage.id)
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    return session.scalars(stmt).all()


# ---------------------------------------------------------------- scheduler coordination


def take_lease(session: Session, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Take or renew the named lease; True when ``holder`` holds it afterwards."""
    ins = _insert(session, SchedulerLease)
    stmt = (
        ins.values(name=name, holder=holder, expires_at=now + ttl)
        .on_conflict_do_update(
            index_elements=["name"],
            set_={"holder": holder, "expires_at": now + ttl},
            where=(SchedulerLease.holder == holder) | (SchedulerLease.expires_at <= now),
        )
        .returning(SchedulerLease.holder)
    )
    return session.scalar(stmt) == holder


def release_lease(session: Session, name: str, holder: str) -> None:
    session.execute(
        delete(SchedulerLease).where(SchedulerLease.name == name, SchedulerLease.holder == holder)
    )


def claim_job_run(session: Session, job: str, period: str, now: datetime) -> bool:
    """Record that ``job`` ran for ``period``; False if it already had (run it once only)."""
    ins = _insert(session, JobRun)
    stmt = (
        ins.values(job=job, period=period, at=now)
        .on_conflict_do_nothing(index_elements=["job", "period"])
        .returning(JobRun.id)
    )
    return session.scalar(stmt) is not None


@dataclass(frozen=True)
class DepartmentCounts:
    code: str
    name: str
    accepted_today: int  # 受理 (created) today
    signed_today: int  # 签收 today
    resolved_today: int  # 办结 today
    accepted_total: int
    signed_total: int
    resolved_total: int
    open_now: int
    overdue_now: int

    @property
    def resolution_rate(self) -> float | None:
        return self.resolved_total / self.accepted_total if self.accepted_total else None


def department_counts(
    session: Session,
    *,
    day_start: datetime,
    day_end: datetime,
    now: datetime,
    open_statuses: Sequence[str],
) -> list[DepartmentCounts]:
    """Per-department figures for the digest (created/accepted/resolved in [day_start, day_end))."""

    def between(col: Any) -> Any:
        return func.sum(case(((col >= day_start) & (col < day_end), 1), else_=0))

    def count_if(cond: Any) -> Any:
        return func.sum(case((cond, 1), else_=0))

    is_open = WorkOrder.status.in_(open_statuses)
    stmt = select(
        WorkOrder.department_code,
        between(WorkOrder.created_at),
        between(WorkOrder.accepted_at),
        between(WorkOrder.resolved_at),
        func.count(WorkOrder.id),
        func.count(WorkOrder.accepted_at),
        func.count(WorkOrder.resolved_at),
        count_if(is_open),
        count_if(is_open & (WorkOrder.deadline < now)),
    ).group_by(WorkOrder.department_code)
    rows = {r[0]: r[1:] for r in session.execute(stmt)}
    out = []
    for d in departments(session):
        r = rows.get(d.code)
        vals = [int(v or 0) for v in r] if r else [0] * 8
        out.append(DepartmentCounts(d.code, d.name, *vals))
    return out


def overdue_orders(
    session: Session, now: datetime, open_statuses: Sequence[str]
) -> Sequence[WorkOrder]:
    return session.scalars(
        select(WorkOrder)
        .where(WorkOrder.status.in_(open_statuses), WorkOrder.deadline < now)
        .order_by(WorkOrder.deadline)
    ).all()


# -------------------------------------------------------------- calendar


def calendar_notice_days(session: Session) -> list[NoticeDay]:
    """Every imported holiday-notice day, as plain data for ``WorkCalendar(imported=...)``."""
    rows = session.scalars(select(CalendarDay).order_by(CalendarDay.day))
    return [
        NoticeDay(r.day, "workday" if r.kind == "workday" else "holiday", r.name, r.source)
        for r in rows
    ]


def calendar_days_of_year(session: Session, year: int) -> Sequence[CalendarDay]:
    return session.scalars(
        select(CalendarDay)
        .where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))
        .order_by(CalendarDay.day)
    ).all()


def replace_calendar_year(session: Session, notice: Notice, now: datetime) -> int:
    """Store ``notice`` as its year's imported days, replacing an earlier import of that year.

    Returns how many earlier rows of the year were replaced.
    """
    start, end = date(notice.year, 1, 1), date(notice.year, 12, 31)
    old = session.execute(
        delete(CalendarDay).where(CalendarDay.day >= start, CalendarDay.day <= end)
    )
    session.add_all(
        CalendarDay(day=d.day, kind=d.kind, name=d.name, source=d.source, imported_at=now)
        for d in notice.days
    )
    session.flush()
    return int(getattr(old, "rowcount", 0) or 0)
