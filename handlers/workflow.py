"""Work-order states and the changes this issue supports; every change writes an event."""

from __future__ import annotations

from datetime import datetime, timedelta

from handlers.context import Context, UserError
from handlers.incoming import Incoming
from nlp.decision import Decision
from storage import repositories as repo
from storage.models import Person, WorkOrder

PENDING_DISPATCH = "pending_dispatch"
DISPATCHED = "dispatched"
ACCEPTED = "accepted"
RESOLVED = "resolved"

LABELS = {
    PENDING_DISPATCH: "待派单",
    DISPATCHED: "已派单",
    ACCEPTED: "已签收",
    RESOLVED: "已办结",
}
OPEN_STATUSES = (PENDING_DISPATCH, DISPATCHED, ACCEPTED)

# action -> (allowed from-states, to-state)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "accept": ((DISPATCHED,), ACCEPTED),
    "resolve": ((DISPATCHED, ACCEPTED), RESOLVED),
}


def label(status: str) -> str:
    return LABELS.get(status, status)


def deadline_for(ctx: Context, category_code: str, start: datetime) -> datetime:
    cat = ctx.settings.category(category_code)
    if cat is not None and cat.limit_hours is not None:
        return start + timedelta(hours=cat.limit_hours)
    days = (
        cat.limit_days
        if cat is not None and cat.limit_days
        else (ctx.settings.intake.default_limit_days)
    )
    return ctx.calendar.add_working_days(start.astimezone(ctx.clock.tz), days)


def create_order(ctx: Context, msg: Incoming, decision: Decision, text: str) -> WorkOrder:
    assert decision.category is not None
    assert decision.department is not None
    now = ctx.clock.now()
    person = repo.person(ctx.session, msg.sender)
    grp = repo.group(ctx.session, msg.chatid) if msg.chatid else None
    enterprise_id = (
        person.enterprise_id
        if person is not None and person.enterprise_id
        else grp.enterprise_id
        if grp is not None
        else None
    )
    order = repo.add_order(
        ctx.session,
        WorkOrder(
            number=repo.next_order_number(ctx.session, now.strftime("%Y%m%d")),
            status=DISPATCHED,
            requester_userid=msg.sender,
            enterprise_id=enterprise_id,
            group_chatid=msg.chatid,
            text=text,
            category_code=decision.category,
            department_code=decision.department,
            confidence=decision.confidence,
            source_message_id=ctx.message_id,
            created_at=now,
            deadline=deadline_for(ctx, decision.category, now),
        ),
    )
    repo.add_event(
        ctx.session,
        order,
        at=now,
        actor=msg.sender,
        action="intake",
        from_status=None,
        to_status=PENDING_DISPATCH,
        note=text,
    )
    repo.add_event(
        ctx.session,
        order,
        at=now,
        actor="gridbot",
        action="dispatch",
        from_status=PENDING_DISPATCH,
        to_status=DISPATCHED,
        note=f"{decision.category} → {decision.department} (置信度 {decision.confidence:.2f})",
    )
    return order


def may_handle(person: Person | None, order: WorkOrder) -> bool:
    """签收/办结: an officer of the order's department, or a supervisor."""
    if person is None:
        return False
    roles = person.role_set
    return "supervisor" in roles or (
        "officer" in roles and person.department_code == order.department_code
    )


def may_view(person: Person | None, userid: str, order: WorkOrder) -> bool:
    if order.requester_userid == userid:
        return True
    if person is None:
        return False
    roles = person.role_set
    if roles & {"supervisor", "dispatcher"}:
        return True
    if "officer" in roles and person.department_code == order.department_code:
        return True
    return person.enterprise_id is not None and person.enterprise_id == order.enterprise_id


def transition(ctx: Context, order: WorkOrder, action: str, actor: str, note: str = "") -> str:
    allowed, to_status = TRANSITIONS[action]
    if order.status not in allowed:
        raise UserError(
            f"工单 {order.number} 当前状态为「{label(order.status)}」，"
            f"不能{ACTION_LABELS[action]}。"
        )
    from_status = order.status
    now = ctx.clock.now()
    order.status = to_status
    if action == "accept":
        order.accepted_at, order.accepted_by = now, actor
    elif action == "resolve":
        if order.accepted_at is None:  # 办结 implies 签收
            order.accepted_at, order.accepted_by = now, actor
        order.resolved_at, order.resolved_by, order.result = now, actor, note
    repo.add_event(
        ctx.session,
        order,
        at=now,
        actor=actor,
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=note,
    )
    return from_status


ACTION_LABELS = {"accept": "签收", "resolve": "办结"}
