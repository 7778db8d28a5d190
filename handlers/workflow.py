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


def enterprise_of(ctx: Context, msg: Incoming) -> int | None:
    """The requester's enterprise (roster), else the group's."""
    person = repo.person(ctx.session, msg.sender)
    if person is not None and person.enterprise_id:
        return person.enterprise_id
    grp = repo.group(ctx.session, msg.chatid) if msg.chatid else None
    return grp.enterprise_id if grp is not None else None


def create_order(
    ctx: Context,
    msg: Incoming,
    decision: Decision,
    text: str,
    *,
    source_message_id: int | None = None,
) -> WorkOrder:
    """受理: a new order, dispatched at once when the routing is confident enough, else left
    for a dispatcher (待派单) with the suggestion recorded. ``source_message_id`` is the stored
    message it comes from (default: the one being processed)."""
    assert decision.category is not None
    now = ctx.clock.now()
    confident = decision.confidence >= ctx.settings.classifier.min_confidence
    order = repo.add_order(
        ctx.session,
        WorkOrder(
            number=repo.next_order_number(ctx.session, now.strftime("%Y%m%d")),
            status=PENDING_DISPATCH,
            requester_userid=msg.sender,
            enterprise_id=enterprise_of(ctx, msg),
            group_chatid=msg.chatid,
            text=text,
            category_code=decision.category if confident else None,
            department_code=decision.department if confident else None,
            confidence=decision.confidence,
            source_message_id=source_message_id or ctx.message_id,
            created_at=now,
            deadline=deadline_for(ctx, decision.category, now),
        ),
    )
    suggestions = "；".join(f"{s.category}→{s.department} {s.score:.2f}" for s in decision.top3)
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
    if confident:
        assert decision.department is not None
        dispatch(
            ctx,
            order,
            decision.category,
            decision.department,
            "gridbot",
            note=f"自动派单（置信度 {decision.confidence:.2f}；建议 {suggestions}）",
        )
    else:
        repo.add_event(
            ctx.session,
            order,
            at=now,
            actor="gridbot",
            action="queue",
            from_status=PENDING_DISPATCH,
            to_status=PENDING_DISPATCH,
            note=f"置信度 {decision.confidence:.2f} 低于 "
            f"{ctx.settings.classifier.min_confidence:.2f}，待人工派单（建议 {suggestions}）",
        )
    return order


def dispatch(
    ctx: Context, order: WorkOrder, category: str, department: str, actor: str, note: str = ""
) -> None:
    """派单: 待派单 → 已派单 to ``department``; the deadline counts from now."""
    if order.status != PENDING_DISPATCH:
        raise UserError(f"工单 {order.number} 当前状态为「{label(order.status)}」，不能派单。")
    now = ctx.clock.now()
    order.category_code, order.department_code = category, department
    order.deadline = deadline_for(ctx, category, now)
    order.status = DISPATCHED
    repo.add_event(
        ctx.session,
        order,
        at=now,
        actor=actor,
        action="dispatch",
        from_status=PENDING_DISPATCH,
        to_status=DISPATCHED,
        note=f"{category} → {department}" + (f"；{note}" if note else ""),
    )


def merge_into(ctx: Context, order: WorkOrder, msg: Incoming, text: str, reason: str) -> None:
    """A repeat of an open order: recorded on it (痕迹), no second order."""
    repo.add_event(
        ctx.session,
        order,
        at=ctx.clock.now(),
        actor=msg.sender,
        action="merge",
        from_status=order.status,
        to_status=order.status,
        note=f"{text}（{reason}）",
    )


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
