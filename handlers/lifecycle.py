"""The work-order lifecycle as data: states, every allowed transition, and who may make it.

One table (:data:`ACTIONS`) says, for each action, the states it may start from, the state it
leads to (``None``: the state does not change) and the relations to the order that may do it.
The README's tables are made from it (:func:`states_markdown`, :func:`actions_markdown`) and a
test checks they are the same. Any other transition is refused with a message that names the
order's state (:func:`check`).

Relations of a person to an order:

``requester``
    the person who filed it;
``officer``
    an officer of the order's department;
``dispatcher`` / ``supervisor``
    anyone with that role in the roster.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.context import UserError
from storage.models import Person, WorkOrder

PENDING_DISPATCH = "pending_dispatch"
DISPATCHED = "dispatched"
ACCEPTED = "accepted"
RESOLVED = "resolved"
RATED = "rated"
RETURNED = "returned"
WITHDRAWN = "withdrawn"
MERGED = "merged"
DISMISSED = "dismissed"

LABELS = {
    PENDING_DISPATCH: "待派单",
    DISPATCHED: "已派单",
    ACCEPTED: "已签收",
    RESOLVED: "已办结",
    RATED: "已评价",
    RETURNED: "已退单",
    WITHDRAWN: "已撤回",
    MERGED: "已合并",
    DISMISSED: "已撤销",
}
STATE_MEANING = {
    PENDING_DISPATCH: "filed, waiting for a dispatcher to choose the department",
    DISPATCHED: "sent to a department, not yet signed for (签收 clock running)",
    ACCEPTED: "signed for by the department: being handled (办理中)",
    RESOLVED: "closed with a result; the requester may rate it",
    RATED: "rated by the requester (final unless a supervisor orders 重办)",
    RETURNED: "returned by the department with a reason; the dispatchers review it",
    WITHDRAWN: "withdrawn by the requester before 签收 (final)",
    MERGED: "joined to another order about the same problem (final)",
    DISMISSED: "not a request after all (chatter filed by the classifier); cancelled by a "
    "dispatcher (before 签收 or after a 退单) and kept as a labelled example (final)",
}
STATES = tuple(LABELS)
OPEN_STATUSES = (PENDING_DISPATCH, DISPATCHED, ACCEPTED, RETURNED)
HANDLING = (DISPATCHED, ACCEPTED)  # with a department that is working on it

REQUESTER = "requester"
OFFICER = "officer"
DISPATCHER = "dispatcher"
SUPERVISOR = "supervisor"
RELATIONS = (REQUESTER, OFFICER, DISPATCHER, SUPERVISOR)
RELATION_LABELS = {
    REQUESTER: "诉求人",
    OFFICER: "承办部门经办人",
    DISPATCHER: "调度员",
    SUPERVISOR: "督办人员",
}


@dataclass(frozen=True)
class Action:
    name: str  # the event's action
    label: str  # Chinese name of the step
    command: str | None  # the chat command that does it, None for automatic steps
    sources: tuple[str, ...]  # states it may start from
    target: str | None  # the state it leads to; None: unchanged
    who: tuple[str, ...]  # relations that may do it


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action(
            "dispatch", "派单", "/派单", (PENDING_DISPATCH, RETURNED), DISPATCHED, (DISPATCHER,)
        ),
        Action("accept", "签收", "/签收", (DISPATCHED,), ACCEPTED, (OFFICER, SUPERVISOR)),
        Action("progress", "进展", "/进展", (ACCEPTED,), None, (OFFICER, SUPERVISOR)),
        Action("return", "退单", "/退单", HANDLING, RETURNED, (OFFICER,)),
        Action("redispatch", "转派", "/转派", (*HANDLING, RETURNED), DISPATCHED, (DISPATCHER,)),
        Action("extend", "延期申请", "/延期", HANDLING, None, (OFFICER,)),
        Action(
            "approve_extension",
            "批准延期",
            "/批准延期",
            HANDLING,
            None,
            (DISPATCHER, SUPERVISOR),
        ),
        Action(
            "reject_extension",
            "驳回延期",
            "/驳回延期",
            HANDLING,
            None,
            (DISPATCHER, SUPERVISOR),
        ),
        Action("resolve", "办结", "/办结", HANDLING, RESOLVED, (OFFICER, SUPERVISOR)),
        Action("rate", "评价", "/评价", (RESOLVED,), RATED, (REQUESTER,)),
        Action("reopen", "重办", "/重办", (RESOLVED, RATED), DISPATCHED, (SUPERVISOR,)),
        Action(
            "withdraw", "撤回", "/撤回", (PENDING_DISPATCH, DISPATCHED), WITHDRAWN, (REQUESTER,)
        ),
        Action("merge", "合并", "/合并", OPEN_STATUSES, MERGED, (DISPATCHER,)),
        Action(
            "dismiss",
            "撤销",
            "/非诉求",
            (PENDING_DISPATCH, DISPATCHED, RETURNED),
            DISMISSED,
            (DISPATCHER,),
        ),
        Action("supervise", "督办", "/督办", OPEN_STATUSES, None, (SUPERVISOR,)),
    )
}


def label(status: str) -> str:
    return LABELS.get(status, status)


def relations(person: Person | None, userid: str, order: WorkOrder) -> set[str]:
    """How ``userid`` (``person`` in the roster, if any) stands to ``order``."""
    out = {REQUESTER} if order.requester_userid == userid else set()
    if person is not None:
        roles = person.role_set
        same = order.department_code is not None and person.department_code == order.department_code
        if "officer" in roles and same:
            out.add(OFFICER)
        out |= roles & {DISPATCHER, SUPERVISOR}
    return out


def allowed(action: str, rels: set[str], status: str) -> bool:
    a = ACTIONS[action]
    return bool(rels & set(a.who)) and status in a.sources


def check(
    action: str, person: Person | None, userid: str, order: WorkOrder, department: str = ""
) -> Action:
    """The action if ``userid`` may do it to ``order`` now, else a friendly :class:`UserError`
    (``department``: the name of the order's department, for that message).

    Permission is checked before the state, so nobody learns more than they may see.
    """
    a = ACTIONS[action]
    if not relations(person, userid, order) & set(a.who):
        names = dict(RELATION_LABELS)
        if department:
            names[OFFICER] = f"{department}的经办人"
        who = "或".join(names[r] for r in a.who)
        raise UserError(f"抱歉，只有{who}可以{a.label}工单 {order.number}。")
    if order.status not in a.sources:
        can = "、".join(label(s) for s in a.sources)
        raise UserError(
            f"工单 {order.number} 当前状态为「{label(order.status)}」，不能{a.label}"
            f"（{a.label}仅适用于：{can}）。"
        )
    return a


# ---------------------------------------------------------------- README tables


def states_markdown() -> str:
    rows = ["| State | 状态 | Meaning |", "|---|---|---|"]
    rows += [f"| `{s}` | {LABELS[s]} | {STATE_MEANING[s]} |" for s in STATES]
    return "\n".join(rows)


def actions_markdown() -> str:
    rows = ["| Step | Command | From | To | Who |", "|---|---|---|---|---|"]
    for a in ACTIONS.values():
        rows.append(
            f"| {a.label} (`{a.name}`) | `{a.command}` | "
            + "、".join(LABELS[s] for s in a.sources)
            + f" | {LABELS[a.target] if a.target else '(unchanged)'} | "
            + "、".join(RELATION_LABELS[r] for r in a.who)
            + " |"
        )
    return "\n".join(rows)
