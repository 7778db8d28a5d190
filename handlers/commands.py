"""Slash commands officers and enterprises type in chat (``/签收 GD-…``, ``/help``)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from handlers import lifecycle as lc
from handlers import workflow as wf
from handlers.context import Context, Reply, UserError
from handlers.dispatch import COMMAND_PREFIXES
from handlers.incoming import Incoming
from handlers.notify import how_to_rate, quote
from storage import repositories as repo
from storage.models import WorkOrder

CommandFn = Callable[[Incoming, Context, str], Reply | str | None]
ORDER_NUMBER = re.compile(r"GD-\d{8}-\d{4,}")


@dataclass(frozen=True)
class Command:
    names: tuple[str, ...]  # the Chinese name first, then aliases
    usage: str
    summary: str
    run: CommandFn


def parse(text: str) -> tuple[str, str]:
    """``"/办结 GD-… 已修通"`` → ``("办结", "GD-… 已修通")``; English names lower-cased."""
    body = text.lstrip()
    for p in COMMAND_PREFIXES:
        if body.startswith(p):
            body = body[len(p) :]
            break
    name, _, rest = body.strip().partition(" ")
    # "/签收GD-2026…" (no space) still works
    m = re.search(r"[Gg][Dd][-－—]", name)
    if m and m.start() > 0:
        name, rest = name[: m.start()], name[m.start() :] + (" " + rest if rest else "")
    return name.strip().lower(), rest.strip()


def normalize_number(raw: str) -> str | None:
    cand = raw.strip().upper().replace("－", "-").replace("—", "-")
    return cand if ORDER_NUMBER.fullmatch(cand) else None


def split_number(args: str, usage: str) -> tuple[str, str]:
    first, _, rest = args.partition(" ")
    number = normalize_number(first)
    if number is None:
        raise UserError(f"请提供正确的工单号（如 GD-20260301-0007）。用法：{usage}")
    return number, rest.strip()


def load_order(ctx: Context, number: str) -> WorkOrder:
    order = repo.order_by_number(ctx.session, number)
    if order is None:
        raise UserError(f"未找到工单 {number}，请核对单号。")
    return order


# ---------------------------------------------------------------- the commands


def status_cmd(msg: Incoming, ctx: Context, args: str) -> Reply:
    person = repo.person(ctx.session, msg.sender)
    if args:
        number = normalize_number(args.split()[0])
        if number is None:
            raise UserError(f"请提供正确的工单号。用法：{STATUS.usage}")
        order = load_order(ctx, number)
        if not wf.may_view(person, msg.sender, order):
            raise UserError(f"抱歉，您无权查看工单 {number}。")
        return Reply(describe(ctx, order))
    if person is not None and person.role_set & {"supervisor", "dispatcher"}:
        found = repo.orders(ctx.session, statuses=wf.OPEN_STATUSES)
        title = "全部在办工单"
    elif person is not None and "officer" in person.role_set:
        found = repo.orders(
            ctx.session, department_code=person.department_code, statuses=wf.OPEN_STATUSES
        )
        title = "本部门在办工单"
    elif person is not None and person.enterprise_id is not None:
        found = repo.orders(ctx.session, enterprise_id=person.enterprise_id)
        title = "本企业工单"
    else:
        found = [o for o in repo.orders(ctx.session) if o.requester_userid == msg.sender]
        title = "您提交的工单"
    if not found:
        return Reply(f"{title}：暂无。")
    shown = found[-10:]
    lines = [f"{title}（共 {len(found)} 件，显示最近 {len(shown)} 件）："]
    lines += [
        f"{o.number} {wf.label(o.status)} {dept_name(ctx, o)} 「{quote(o.text, 24)}」"
        for o in shown
    ]
    return Reply("\n".join(lines))


def load_checked(msg: Incoming, ctx: Context, number: str, action: str) -> WorkOrder:
    """The order, if the sender may do ``action`` to it now (:func:`handlers.lifecycle.check`)."""
    order = load_order(ctx, number)
    person = repo.person(ctx.session, msg.sender)
    lc.check(action, person, msg.sender, order, dept_name(ctx, order))
    return order


def _act(msg: Incoming, ctx: Context, number: str, action: str, note: str = "") -> WorkOrder:
    """签收/办结 by the sender, after the roster check; the change writes its event."""
    order = load_checked(msg, ctx, number, action)
    wf.transition(ctx, order, action, msg.sender, note=note)
    return order


def tell_requester(ctx: Context, order: WorkOrder, text: str, purpose: str) -> None:
    """Tell the requester (:meth:`handlers.notify.Notifier.to_requester`)."""
    ctx.notify.to_requester(order, text, purpose=purpose)


def accept_cmd(msg: Incoming, ctx: Context, args: str) -> Reply:
    number, _ = split_number(args, ACCEPT.usage)
    order = _act(msg, ctx, number, "accept")
    tell_requester(
        ctx,
        order,
        f"【签收】您反映的「{quote(order.text)}」（{order.number}）已由"
        f"{dept_name(ctx, order)}签收，正在办理，办结时限 {fmt(ctx, order.deadline)}。",
        "accepted",
    )
    return Reply(f"已签收 {order.number}，请于 {fmt(ctx, order.deadline)} 前办结。")


def resolve_cmd(msg: Incoming, ctx: Context, args: str) -> Reply:
    number, result = split_number(args, RESOLVE.usage)
    if not result:
        raise UserError(f"请写明办理结果。用法：{RESOLVE.usage}")
    order = _act(msg, ctx, number, "resolve", note=result)
    tell_requester(
        ctx,
        order,
        f"【办结回执】您反映的「{quote(order.text)}」（{order.number}）"
        f"已由{dept_name(ctx, order)}办结。\n办理结果：{result}\n"
        f"请评价：{how_to_rate(order)}。",
        "receipt",
    )
    where = "企业群" if order.group_chatid else "诉求人"
    return Reply(f"已办结 {order.number}，办结回执已发送给{where}。")


def find_department(ctx: Context, raw: str) -> str:
    """A department by code or by (part of) its name: 住建局, 区住建局, housing."""
    wanted = raw.strip().lower()
    departments = repo.departments(ctx.session)
    exact = [d for d in departments if wanted in (d.code.lower(), d.name.lower())]
    partial = [d for d in departments if wanted and wanted in d.name.lower()]
    found = exact or partial
    if len(found) != 1:
        names = "、".join(d.name for d in departments)
        raise UserError(f"未找到唯一匹配“{raw}”的部门。可选：{names}。用法：{DISPATCH.usage}")
    return found[0].code


def dispatch_cmd(msg: Incoming, ctx: Context, args: str) -> Reply:
    number, target = split_number(args, DISPATCH.usage)
    if not target:
        raise UserError(f"请写明承办部门。用法：{DISPATCH.usage}")
    order = load_checked(msg, ctx, number, "dispatch")
    department = find_department(ctx, target)
    route(msg, ctx, order, department, action="dispatch", note="人工派单", headline="受理")
    return Reply(
        f"已将 {order.number} 派给{dept_name(ctx, order)}，办结时限 {fmt(ctx, order.deadline)}。"
    )


def route(
    msg: Incoming,
    ctx: Context,
    order: WorkOrder,
    department: str,
    *,
    action: str,
    note: str,
    headline: str,
) -> None:
    """A dispatcher sends ``order`` to ``department`` (派单 / 转派): the order moves, the decision
    is kept as a routing example, the group and the department's officers are told."""
    category = category_for(ctx, order, department)
    suggested = order.category_code
    wf.dispatch(ctx, order, category, department, msg.sender, note, action=action)
    repo.add_routing_example(
        ctx.session,
        text=order.text,
        category=category,
        department=department,
        suggested=suggested,
        actor=msg.sender,
        order_id=order.id,
        at=ctx.clock.now(),
    )
    tell_requester(
        ctx,
        order,
        f"【{headline}】您反映的「{quote(order.text)}」（{order.number}）"
        f"已转{dept_name(ctx, order)}办理，办结时限 {fmt(ctx, order.deadline)}。",
        "dispatched",
    )
    notify_officers(ctx, order)


def category_for(ctx: Context, order: WorkOrder, department: str) -> str:
    """The category a dispatcher's choice of department means for this order: the classifier's
    best suggestion within that department, else the department's first category."""
    decision = ctx.classifier.classify(order.text)
    for s in decision.top3:
        if s.department == department:
            return s.category
    owned = [c.code for c in ctx.settings.categories if c.department == department]
    return owned[0] if owned else ctx.settings.catch_all.code


def notify_officers(ctx: Context, order: WorkOrder) -> None:
    """The new order, 1:1 to the officers of its department."""
    officers = repo.userids_with_role(ctx.session, "officer", order.department_code)
    lines = [f"【新工单】{order.number}（{dept_name(ctx, order)}）", f"诉求：{order.text}"]
    if order.accept_deadline is not None:
        lines.append(f"签收时限：{fmt(ctx, order.accept_deadline)}")
    contact = wf.contact_deadline_for(ctx, order)
    if contact is not None:
        lines.append(f"首次联系企业时限：{fmt(ctx, contact)}（联系后请发送 /进展 报告）")
    lines += [f"办结时限：{fmt(ctx, order.deadline)}", f"请发送 /签收 {order.number} 签收。"]
    ctx.notify.to_users(officers, "\n".join(lines), purpose="dispatch", order_id=order.id)


STATUS = Command(
    ("查询", "status"), "/查询 [单号]", "查看工单进度；不带单号列出相关工单", status_cmd
)
DISPATCH = Command(
    ("派单", "dispatch"), "/派单 单号 部门", "调度员把待派单工单派给承办部门", dispatch_cmd
)
ACCEPT = Command(("签收", "accept"), "/签收 单号", "经办部门签收工单", accept_cmd)
RESOLVE = Command(
    ("办结", "resolve"), "/办结 单号 办理结果", "办结工单并向企业群发送回执", resolve_cmd
)


# who sees a command in /帮助 besides the lifecycle steps (None: everyone)
EXTRA_AUDIENCE: dict[str, frozenset[str]] = {
    "待办": frozenset({"officer", "dispatcher", "supervisor"}),
    "立案": frozenset({"dispatcher"}),
    "统计": frozenset({"supervisor"}),
    "日报": frozenset({"supervisor"}),
}


def audience(cmd: Command) -> frozenset[str] | None:
    """The roster roles a command is for, from the lifecycle table (a step's requester is any
    enterprise member), else :data:`EXTRA_AUDIENCE`; None for everyone."""
    for step in lc.ACTIONS.values():
        if step.command == "/" + cmd.names[0]:
            return frozenset("enterprise" if r == lc.REQUESTER else r for r in step.who)
    return EXTRA_AUDIENCE.get(cmd.names[0])


def closest(name: str, names: Sequence[str]) -> str | None:
    """The known command name a mistyped one most likely meant (same first character wins a
    tie: "办节" → "办结"), or None when nothing is close."""
    scored = [
        (difflib.SequenceMatcher(None, name, n).ratio() + 0.1 * (n[:1] == name[:1]), n)
        for n in names
    ]
    best = max(scored, default=None)
    return best[1] if best is not None and best[0] >= 0.5 else None


class CommandTable:
    """The commands in the order ``/帮助`` lists them; ``/帮助`` itself is always first."""

    def __init__(self, commands: Sequence[Command]) -> None:
        self.commands = (Command(("帮助", "help"), "/帮助", "查看命令列表", self.help), *commands)
        self.by_name = {name: c for c in self.commands for name in c.names}

    def help(self, msg: Incoming, ctx: Context, args: str) -> Reply:
        """The commands the sender may use (enterprise staff see theirs, officers theirs…)."""
        person = repo.person(ctx.session, msg.sender)
        roles = (person.role_set if person is not None else set()) or {"enterprise"}
        shown = [c for c in self.commands if (who := audience(c)) is None or who & roles]
        lines = ["您可用的命令："]
        lines += [f"{c.usage}  {c.summary}" for c in shown]
        lines.append("在群里 @我 并直接描述问题，即可登记诉求。")
        return Reply("\n".join(lines))

    def __call__(self, msg: Incoming, ctx: Context) -> Reply | str | None:
        name, args = parse(msg.text)
        cmd = self.by_name.get(name)
        if cmd is None:
            close = closest(name, list(self.by_name))
            hint = f"您是不是要用 {self.by_name[close].usage}？" if close else ""
            raise UserError(f"未识别的命令“/{name}”。{hint}发送 /帮助 查看全部命令。")
        return cmd.run(msg, ctx, args)


# ---------------------------------------------------------------- formatting


def fmt(ctx: Context, when: datetime) -> str:
    return when.astimezone(ctx.clock.tz).strftime("%m月%d日 %H:%M")


def dept_name(ctx: Context, order: WorkOrder) -> str:
    if order.department_code is None:
        return "待派单"
    d = repo.department(ctx.session, order.department_code)
    return d.name if d is not None else order.department_code


def describe(ctx: Context, order: WorkOrder) -> str:
    lines = [
        f"工单 {order.number}：{wf.label(order.status)}",
        f"诉求：{quote(order.text, 80)}",
        f"承办部门：{dept_name(ctx, order)}",
        f"受理时间：{fmt(ctx, order.created_at)}；办结时限：{fmt(ctx, order.deadline)}",
    ]
    if order.accepted_at:
        lines.append(f"签收时间：{fmt(ctx, order.accepted_at)}")
    if order.resolved_at:
        lines.append(f"办结时间：{fmt(ctx, order.resolved_at)}；结果：{order.result}")
    return "\n".join(lines)
