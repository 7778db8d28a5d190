"""Work-order states and the changes this issue supports; every change writes an event."""

from __future__ import annotations

from datetime import datetime

from handlers import lifecycle as lc
from handlers.context import Context, UserError
from handlers.deadlines import accept_deadline, contact_deadline, resolve_deadline
from handlers.incoming import Incoming
from handlers.lifecycle import (  # noqa: F401  (re-exported: the states live in lifecycle)
    ACCEPTED,
    DISPATCHED,
    LABELS,
    MERGED,
    OPEN_STATUSES,
    PENDING_DISPATCH,
    RATED,
    RESOLVED,
    RETURNED,
    WITHDRAWN,
    label,
)
from nlp.decision import Decision
from storage import repositories as repo
from storage.models import Person, WorkOrder


def deadline_for(ctx: Context, category_code: str, start: datetime) -> datetime:
    return resolve_deadline(ctx.settings, ctx.calendar, category_code, start)


def accept_deadline_for(ctx: Context, category_code: str, start: datetime) -> datetime:
    """签收 by: the category's working hours from ``start`` (handlers.deadlines)."""
    return accept_deadline(ctx.settings, ctx.calendar, category_code, start)


def contact_deadline_for(ctx: Context, order: WorkOrder) -> datetime | None:
    """First contact with the enterprise by (the category's contact limit), or None."""
    if order.dispatched_at is None or order.category_code is None:
        return None
    return contact_deadline(ctx.settings, ctx.calendar, order.category_code, order.dispatched_at)


def extensions_allowed(ctx: Context, order: WorkOrder) -> int:
    """How many extensions the order's category allows (``extensions`` in its config)."""
    cat = ctx.settings.category(order.category_code) if order.category_code else None
    return cat.extensions if cat is not None else 0


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
    ctx: Context,
    order: WorkOrder,
    category: str,
    department: str,
    actor: str,
    note: str = "",
    *,
    action: str = "dispatch",
) -> None:
    """派单 / 转派 / 重办: to ``department``; the 签收 and 办结 clocks start again from now."""
    if order.status not in lc.ACTIONS[action].sources:
        raise UserError(f"工单 {order.number} 当前状态为「{label(order.status)}」，不能派单。")
    now = ctx.clock.now()
    order.category_code, order.department_code = category, department
    order.dispatched_at = now
    order.deadline = deadline_for(ctx, category, now)
    order.accept_deadline = accept_deadline_for(ctx, category, now)
    order.accepted_at = order.accepted_by = None
    order.ext_days = order.ext_reason = order.ext_by = None
    apply(ctx, order, action, actor, f"{category} → {department}" + (f"；{note}" if note else ""))


def apply(ctx: Context, order: WorkOrder, action: str, actor: str, note: str = "") -> str:
    """Move ``order`` as :data:`handlers.lifecycle.ACTIONS` says and write the event; returns
    the state it left. The caller has checked permissions and sets the step's own fields."""
    step = lc.ACTIONS[action]
    from_status = order.status
    to_status = step.target or from_status
    order.status = to_status
    repo.add_event(
        ctx.session,
        order,
        at=ctx.clock.now(),
        actor=actor,
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=note,
    )
    return from_status


def merge_into(ctx: Context, order: WorkOrder, msg: Incoming, text: str, reason: str) -> None:
    """A repeat of an open order: recorded on it (痕迹), no second order."""
    repo.add_event(
        ctx.session,
        order,
        at=ctx.clock.now(),
        actor=msg.sender,
        action="join",
        from_status=order.status,
        to_status=order.status,
        note=f"{text}（{reason}）",
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
    """签收 / 办结 with their own fields (permissions and state already checked by
    :func:`handlers.lifecycle.check`)."""
    now = ctx.clock.now()
    if action == "accept":
        order.accepted_at, order.accepted_by = now, actor
    elif action == "resolve":
        if order.accepted_at is None:  # 办结 implies 签收
            order.accepted_at, order.accepted_by = now, actor
        order.resolved_at, order.resolved_by, order.result = now, actor, note
        order.ext_days = order.ext_reason = order.ext_by = None
    return apply(ctx, order, action, actor, note)
