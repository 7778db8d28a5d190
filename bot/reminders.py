"""Reminders and escalation, the scheduler's ``reminders`` job.

For every open order, as of ``now`` (kind: when → to whom):

- ``accept_warn``: 75 % of the 签收 allowance has passed, still 已派单 → the department's officers;
- ``accept_due``: the 签收 deadline has passed, still 已派单 → the officers and the leader;
- ``contact_due``: signed, the category's first-contact deadline (counted from the dispatch)
  has passed and the department has reported no 进展 since the dispatch → its officers;
- ``resolve_warn``: 75 % of the 办结 allowance has passed → the department's officers;
- ``resolve_due``: the 办结 deadline has passed (催办) → the officers and the leader;
- ``overdue_1``: one working day past the deadline (督办) → the supervisors;
- ``overdue_5``: five working days past the deadline → recorded; the reports name the order;
- ``rate_reminder``: closed three working days ago and not rated → the requester, in the group.

Allowances are measured in working time (office hours, holidays, 调休) except for urgent
categories and clock-hour limits, which run round the clock. Each reminder is sent once per order
and deadline: a row in ``order_reminders`` (unique on order, kind and deadline) claims it and an
order event records it, so running the job twice for the same moment sends nothing twice, and
an extension or a re-dispatch (a new deadline) starts the reminders again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.runtime import Runtime
from bot.workcal import WorkCalendar
from handlers import lifecycle as lc
from handlers.deadlines import contact_deadline
from handlers.notify import Notifier, how_to_rate, quote
from storage import db
from storage import repositories as repo
from storage.models import WorkOrder

log = logging.getLogger(__name__)
WARN_AT = 0.75
RATE_REMINDER_DAYS = 3
# closed orders older than this are past any rating reminder (3 working days + the longest
# Chinese holiday) and are not looked at again
RATE_REMINDER_WINDOW = timedelta(days=21)
ESCALATE_DAYS = 1
NAME_IN_REPORT_DAYS = 5

LABELS = {
    "accept_warn": "签收提醒",
    "accept_due": "签收催办",
    "contact_due": "首次联系提醒",
    "resolve_warn": "办结提醒",
    "resolve_due": "催办",
    "overdue_1": "督办",
    "overdue_5": "超期五个工作日",
    "rate_reminder": "评价提醒",
}


@dataclass(frozen=True)
class Due:
    kind: str
    due: datetime  # the deadline this reminder belongs to (part of its once-only key)
    at: datetime  # when it falls due


def warn_time(cal: WorkCalendar, start: datetime, due: datetime, *, clock_time: bool) -> datetime:
    """When ``WARN_AT`` of the allowance from ``start`` to ``due`` has passed."""
    if clock_time:
        return start + (due - start) * WARN_AT
    seconds = cal.working_seconds_between(start, due)
    if seconds <= 0:
        return start + (due - start) * WARN_AT
    return cal.add_working_hours(start, WARN_AT * seconds / 3600)


def reminders_for(
    rt: Runtime, order: WorkOrder, last_progress: datetime | None = None
) -> Iterator[Due]:
    """Every reminder ``order`` has in its present state, due or not yet. ``last_progress``:
    when its latest 进展 was reported, if ever (a 进展 since the dispatch is the first contact)."""
    cal = rt.calendar
    cat = rt.settings.category(order.category_code) if order.category_code else None
    urgent = cat is not None and cat.urgent
    clock_resolve = urgent or (cat is not None and cat.limit_hours is not None)
    start = order.dispatched_at or order.created_at
    if order.status == lc.DISPATCHED and order.accept_deadline is not None:
        due = order.accept_deadline
        yield Due("accept_warn", due, warn_time(cal, start, due, clock_time=urgent))
        yield Due("accept_due", due, due)
    contacted = last_progress is not None and last_progress >= start
    # after 签收 only: /进展 needs a signed order (before it, the 签收 reminders run)
    if order.status in lc.HANDLING and order.status != lc.DISPATCHED and not contacted:
        contact = contact_deadline(rt.settings, cal, order.category_code, start)
        if contact is not None:
            yield Due("contact_due", contact, contact)
    if order.status in lc.HANDLING:
        due = order.deadline
        yield Due("resolve_warn", due, warn_time(cal, start, due, clock_time=clock_resolve))
        yield Due("resolve_due", due, due)
        local = due.astimezone(cal.tz)
        yield Due("overdue_1", due, cal.add_working_days(local, ESCALATE_DAYS))
        yield Due("overdue_5", due, cal.add_working_days(local, NAME_IN_REPORT_DAYS))
    if order.status == lc.RESOLVED and order.resolved_at is not None and order.rating is None:
        local = order.resolved_at.astimezone(cal.tz)
        yield Due(
            "rate_reminder", order.resolved_at, cal.add_working_days(local, RATE_REMINDER_DAYS)
        )


def reminders_job(rt: Runtime, now: datetime | None = None) -> int:
    """Send every reminder that is due and not yet sent; returns how many were sent."""
    now = now or rt.clock.now()
    sent = 0
    with db.transaction(rt.sessions) as session:
        notify = Notifier(session, rt.settings, now)
        orders = repo.reminder_candidates(
            session, lc.HANDLING, now - RATE_REMINDER_WINDOW, lc.RESOLVED
        )
        ids = [o.id for o in orders]
        done = repo.sent_reminders(session, ids)
        progress = repo.last_event_times(session, ids, "progress")
        for order in orders:
            for item in reminders_for(rt, order, progress.get(order.id)):
                if item.at > now or (order.id, item.kind, item.due) in done:
                    continue
                if not repo.claim_reminder(session, order.id, item.kind, item.due, now):
                    continue
                _send(rt, notify, order, item)
                repo.add_event(
                    session,
                    order,
                    at=now,
                    actor="gridbot",
                    action="remind",
                    from_status=order.status,
                    to_status=order.status,
                    note=f"{LABELS[item.kind]}（{item.kind}）",
                )
                sent += 1
    if sent:
        log.info("%d reminders sent", sent)
    return sent


def _when(rt: Runtime, moment: datetime) -> str:
    return moment.astimezone(rt.clock.tz).strftime("%m月%d日 %H:%M")


def _send(rt: Runtime, notify: Notifier, order: WorkOrder, item: Due) -> None:
    session = notify.session
    dept = repo.department(session, order.department_code) if order.department_code else None
    dept_name = dept.name if dept is not None else "待派单"
    officers = repo.userids_with_role(session, "officer", order.department_code)
    leader = [dept.leader] if dept is not None and dept.leader else []
    head = f"{order.number}（{dept_name}）「{quote(order.text, 40)}」"
    kind = item.kind
    if kind == "accept_warn":
        to, text = (
            officers,
            f"【签收提醒】{head} 请于 {_when(rt, item.due)} 前签收：/签收 {order.number}",
        )
    elif kind == "accept_due":
        to = officers + leader
        text = f"【签收催办】{head} 已超过签收时限 {_when(rt, item.due)}，请立即签收。"
    elif kind == "contact_due":
        to = officers
        text = (
            f"【首次联系提醒】{head} 首次联系企业时限 {_when(rt, item.due)} 已到，尚无进展记录；"
            f"联系企业后请发送 /进展 {order.number} 联系情况。"
        )
    elif kind == "resolve_warn":
        to, text = officers, f"【办结提醒】{head} 办结时限 {_when(rt, item.due)}，请抓紧办理。"
    elif kind == "resolve_due":
        to = officers + leader
        text = f"【催办】{head} 已到办结时限 {_when(rt, item.due)}，请尽快办结或说明情况。"
    elif kind == "overdue_1":
        to = repo.userids_with_role(session, "supervisor")
        text = f"【督办】{head} 已超期一个工作日（时限 {_when(rt, item.due)}），请督办。"
    elif kind == "overdue_5":
        return  # recorded only: the supervisors' reports name it
    else:  # rate_reminder
        notify.to_requester(
            order,
            f"【评价提醒】您反映的「{quote(order.text)}」（{order.number}）已办结，"
            f"请{how_to_rate(order, reply='回复')}。",
            purpose="rate_reminder",
        )
        return
    if to:
        notify.to_users(sorted(set(to)), text, purpose=kind, order_id=order.id)
    else:
        log.warning("reminder %s for %s has nobody to go to", kind, order.number)
