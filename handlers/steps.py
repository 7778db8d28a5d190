"""The lifecycle commands beyond 签收/办结/派单: 进展, 退单, 转派, 延期 and its decision, 评价,
重办, 撤回, 合并, 督办, and the lists 待办, 统计, 日报.

Each command checks the sender against :data:`handlers.lifecycle.ACTIONS` first
(:func:`handlers.commands.load_checked`), then its arguments, then changes the order through
:func:`handlers.workflow.apply` (one event per step) and tells whoever must know.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from handlers import lifecycle as lc
from handlers import workflow as wf
from handlers.commands import (
    ORDER_NUMBER,
    Command,
    dept_name,
    find_department,
    fmt,
    load_checked,
    load_order,
    normalize_number,
    notify_officers,
    route,
    split_number,
    tell_requester,
)
from handlers.context import Context, Reply, UserError
from handlers.incoming import Incoming
from handlers.notify import quote
from storage import repositories as repo
from storage.models import WorkOrder

RATINGS = ("满意", "基本满意", "不满意")
MAX_EXTENSION_DAYS = 30
LIST_LIMIT = 20


def _need(value: str, what: str, usage: str) -> str:
    if not value.strip():
        raise UserError(f"请写明{what}。用法：{usage}")
    return value.strip()


def _tell_users(
    ctx: Context, userids: list[str], text: str, purpose: str, order: WorkOrder
) -> None:
    ctx.notify.to_users(sorted(set(userids)), text, purpose=purpose, order_id=order.id)


def _staff(ctx: Context, role: str) -> list[str]:
    return repo.userids_with_role(ctx.session, role)


def _officers(ctx: Context, order: WorkOrder) -> list[str]:
    if order.department_code is None:
        return []
    return repo.userids_with_role(ctx.session, "officer", order.department_code)


# ---------------------------------------------------------------- 进展


def progress_cmd(msg: Incoming, ctx: Context, args: str) -> Reply:
    number, text = split_number(args, PROGRESS.usage)
    order = load_checked(msg, ctx, number, "progress")
    text = _need(text, "进展内容", PROGRESS.usage)
    wf.apply(ctx, order, "progress", msg.sender, text)
    tell_requester(
        ctx,
        order,
        f"【进展】您反映的「{quote(order.text)}」（{order.number}）：{text}",
        "progress",
    )
    return Reply(f"已记录 {order.number} 的进展，并告知企业。")


PROGRESS = Command(("进展", "progress"), "/进展 单号 内容", "经办人报告办理进展", progress_cmd)


# ---------------------------------------------------------------- 退单 / 转派


def return_cmd(msg: Incoming, ctx: Context, args: str) -> Reply:
    number, reason = split_number(args, RETURN.usage)
    order = load_checked(msg, ctx, number, "return")
    reason = _need(reason, "退单理由", RETURN.usage)
    department = dept_name(ctx, order)
    order.returns += 1
    order.ext_days = order.ext_reason = order.ext_by = None
    wf.apply(ctx, order, "return", msg.sender, reason)
    _tell_users(
        ctx,
        _staff(ctx, "dispatcher"),
        f"【退单】{order.number} 被{department}退回：{reason}\n诉求：{order.text}\n"
        f"请审核后发送 /派单 {order.number} 部门 重新派单。",
        "returned",
        order,
    )
    return Reply(f"已退回 {order.number}，调度员将审核后重新派单。")


RETURN = Command(("退单", "return"), "/退单 单号 理由", "经办人退回不属于本部门的工单", return_cmd)


def redispatch_cmd(msg: Incoming, ctx: Context, args: str) -> Reply:
    number, target = split_number(args, REDISPATCH.usage)
    order = load_checked(msg, ctx, number, "redispatch")
    department = find_department(ctx, _need(target, "承办部门", REDISPATCH.usage))
    if department == order.department_code and order.status != lc.RETURNED:
        raise UserError(f"工单 {order.number} 已由该部门承办。")
    previous = dept_name(ctx, order)
    route(
        msg, ctx, order, department, action="redispatch", note=f"由{previous}转派", headline="转派"
    )
    return Reply(
        f"已将 {order.number} 转派{dept_name(ctx, order)}，办结时限 {fmt(ctx, order.deadline)}。"
    )


REDISPATCH = Command(
    ("转派", "redispatch"), "/转派 单号 部门", "调度员把工单改派其他部门", redispatch_cmd
)


# ---------------------------------------------------------------- 延期


def extend_cmd(msg: Incoming, ctx: Context, args: str) -> Reply:
    number, rest = split_number(args, EXTEND.usage)
    order = load_checked(msg, ctx, number, "extend")
    raw_days, _, reason = rest.partition(" ")
    if not raw_days.isdigit() or not 1 <= int(raw_days) <= MAX_EXTENSION_DAYS:
        raise UserError(f"请写明延期的工作日天数（1–{MAX_EXTENSION_DAYS}）。用法：{EXTEND.usage}")
    reason = _need(reason, "延期理由", EXTEND.usage)
    if ctx.clock.now() >= order.deadline:
        raise UserError(f"工单 {order.number} 已超过办结时限，不能再申请延期，请尽快办结。")
    if order.ext_days is not None:
        raise UserError(f"工单 {order.number} 已有一项延期申请待审批。")
    allowed = wf.extensions_allowed(ctx, order)
    if order.extensions >= allowed:
        raise UserError(f"工单 {order.number} 的类别最多可延期 {allowed} 次，已用完。")
    days = int(raw_days)
    order.ext_days, order.ext_reason, order.ext_by = days, reason, msg.sender
    wf.apply(ctx, order, "extend", msg.sender, f"申请延期 {days} 个工作日：{reason}")
    _tell_users(
        ctx,
        _staff(ctx, "dispatcher") + _staff(ctx, "supervisor"),
        f"【延期申请】{order.number}（{dept_name(ctx, order)}）申请延期 {days} 个工作日：{reason}\n"
        f"现办结时限 {fmt(ctx, order.deadline)}。请发送 /批准延期 {order.number} 或 "
        f"/驳回延期 {order.number} 理由。",
        "extension",
        order,
    )
    return Reply(f"已提交 {order.number} 的延期申请（{days} 个工作日），待审批。")


EXTEND = Command(("延期", "extend"), "/延期 单号 天数 理由", "经办人在时限前申请延期", extend_cmd)


def _pending_extension(order: WorkOrder) -> int:
    if order.ext_days is None:
        raise UserError(f"工单 {order.number} 没有待审批的延期申请。")
    return order.ext_days


def approve_cmd(msg: Incoming, ctx: Context, args: str) -> Reply:
    number, _ = split_number(args, APPROVE.usage)
    order = load_checked(msg, ctx, number, "approve_extension")
    days = _pending_extension(order)
    applicant = order.ext_by
    order.deadline = ctx.calendar.add_working_days(order.deadline.astimezone(ctx.clock.tz), days)
    order.extensions += 1
    order.ext_days = order.ext_reason = order.ext_by = None
    wf.apply(
        ctx,
        order,
        "approve_extension",
        msg.sender,
        f"延期 {days} 个工作日，新时限 {fmt(ctx, order.deadline)}",
    )
    tell_requester(
        ctx,
        order,
        f"【延期】您反映的「{quote(order.text)}」（{order.number}）经批准延期 {days} 个工作日，"
        f"新的办结时限为 {fmt(ctx, order.deadline)}。",
        "extended",
    )
    if applicant:
        _tell_users(
            ctx,
            [applicant],
            f"{order.number} 的延期申请已批准，新的办结时限 {fmt(ctx, order.deadline)}。",
            "extension",
            order,
        )
    return Reply(f"已批准 {order.number} 延期，新时限 {fmt(ctx, order.deadline)}，已告知企业。")


APPROVE = Command(
    ("批准延期", "approve"), "/批准延期 单号", "调度员或督办人员批准延期", approve_cmd
)


def reject_cmd(msg: Incoming, ctx: Context, args: str) -> Reply:
    number, reason = split_number(args, REJECT.usage)
    order = load_checked(msg, ctx, number, "reject_extension")
    reason = _need(reason, "驳回理由", REJECT.usage)
    days = _pending_extension(order)
    applicant = order.ext_by
    order.ext_days = order.ext_reason = order.ext_by = None
    wf.apply(ctx, order, "reject_extension", msg.sender, f"驳回延期 {days} 个工作日：{reason}")
    if applicant:
        _tell_users(
            ctx,
            [applicant],
            f"{order.number} 的延期申请被驳回：{reason}。请于 {fmt(ctx, order.deadline)} 前办结。",
            "extension",
            order,
        )
    return Reply(f"已驳回 {order.number} 的延期申请。")


REJECT = Command(
    ("驳回延期", "reject"), "/驳回延期 单号 理由", "调度员或督办人员驳回延期", reject_cmd
)


# ---------------------------------------------------------------- 评价 / 重办


def parse_rating(text: str) -> tuple[str, str] | None:
    """``"不满意 路还是坑"`` → ``("不满意", "路还是坑")``; None when it is no rating."""
    body = text.strip()
    for rating in sorted(RATINGS, key=len, reverse=True):
        if body.startswith(rating):
            return rating, body[len(rating) :].strip(" ，,。:：")
    return None


def rate(msg: Incoming, ctx: Context, order: WorkOrder, rating: str, comment: str) -> Reply:
    lc.check("rate", repo.person(ctx.session, msg.sender), msg.sender, order)
    now = ctx.clock.now()
    order.rating, order.rating_note, order.rated_at = rating, comment or None, now
    wf.apply(ctx, order, "rate", msg.sender, rating + (f"：{comment}" if comment else ""))
    if rating != "不满意":
        return Reply(f"感谢您对 {order.number} 的评价（{rating}）。")
    supervisors = _staff(ctx, "supervisor")
    if not comment:
        _tell_users(
            ctx,
            supervisors,
            f"【不满意】{order.number}（{dept_name(ctx, order)}）诉求人评价不满意，未说明原因。"
            f"如需重办请发送 /重办 {order.number} 理由。",
            "dissatisfied",
            order,
        )
        return Reply(
            f"已记录您对 {order.number} 的评价（不满意）。如需重办，请补充原因：/评价 "
            f"{order.number} 不满意 原因。"
        )
    reopen(ctx, order, "gridbot", f"诉求人不满意：{comment}")
    _tell_users(
        ctx,
        supervisors,
        f"【重办】{order.number}（{dept_name(ctx, order)}）诉求人不满意：{comment}。已自动重办。",
        "reopened",
        order,
    )
    return Reply(f"已记录您的意见，{order.number} 已重新交办{dept_name(ctx, order)}。")


def rate_cmd(msg: Incoming, ctx: Context, args: str) -> Reply:
    number, rest = split_number(args, RATE.usage)
    order = load_order(ctx, number)
    parsed = parse_rating(rest)
    if parsed is None:
        lc.check("rate", repo.person(ctx.session, msg.sender), msg.sender, order)
        raise UserError(f"请选择：满意、基本满意或不满意。用法：{RATE.usage}")
    return rate(msg, ctx, order, *parsed)


RATE = Command(
    ("评价", "rate"), "/评价 单号 满意|基本满意|不满意 [意见]", "诉求人评价办理结果", rate_cmd
)


def rating_reply(msg: Incoming, ctx: Context) -> Reply | None:
    """A reply to a 办结回执 that says 满意 / 基本满意 / 不满意 …: the requester's rating."""
    if not msg.quote_text or "办结回执" not in msg.quote_text:
        return None
    parsed = parse_rating(msg.text)
    found = ORDER_NUMBER.search(msg.quote_text)
    if parsed is None or found is None:
        return None
    order = load_order(ctx, found.group(0))
    return rate(msg, ctx, order, *parsed)


def reopen(ctx: Context, order: WorkOrder, actor: str, reason: str) -> None:
    """重办: back to the same department, 签收 and 办结 clocks from now."""
    assert order.category_code is not None and order.department_code is not None
    order.reopens += 1
    order.resolved_at = order.resolved_by = order.result = None
    order.rating = order.rating_note = order.rated_at = None
    wf.dispatch(
        ctx, order, order.category_code, order.department_code, actor, reason, action="reopen"
    )
    tell_requester(
        ctx,
        order,
        f"【重办】您反映的「{quote(order.text)}」（{order.number}）已重新交办"
        f"{dept_name(ctx, order)}，办结时限 {fmt(ctx, order.deadline)}。",
        "reopened",
    )
    notify_officers(ctx, order)


def reopen_cmd(msg: Incoming, ctx: Context, args: str) -> Reply:
    number, reason = split_number(args, REOPEN.usage)
    order = load_checked(msg, ctx, number, "reopen")
    reopen(ctx, order, msg.sender, _need(reason, "重办理由", REOPEN.usage))
    return Reply(f"已重办 {order.number}，新的办结时限 {fmt(ctx, order.deadline)}。")


REOPEN = Command(("重办", "reopen"), "/重办 单号 理由", "督办人员要求重新办理", reopen_cmd)


# ---------------------------------------------------------------- 撤回 / 合并 / 督办


def withdraw_cmd(msg: Incoming, ctx: Context, args: str) -> Reply:
    number, reason = split_number(args, WITHDRAW.usage)
    order = load_checked(msg, ctx, number, "withdraw")
    officers = _officers(ctx, order) if order.status == lc.DISPATCHED else []
    wf.apply(ctx, order, "withdraw", msg.sender, reason)
    if officers:
        _tell_users(
            ctx, officers, f"【撤回】诉求人已撤回 {order.number}，无需办理。", "withdrawn", order
        )
    return Reply(f"已撤回 {order.number}。")


WITHDRAW = Command(("撤回", "withdraw"), "/撤回 单号", "诉求人在签收前撤回诉求", withdraw_cmd)


def merge_cmd(msg: Incoming, ctx: Context, args: str) -> Reply:
    number, rest = split_number(args, MERGE.usage)
    order = load_checked(msg, ctx, number, "merge")
    target_number = normalize_number(rest.split()[0]) if rest.split() else None
    if target_number is None:
        raise UserError(f"请写明要并入的目标单号。用法：{MERGE.usage}")
    if target_number == order.number:
        raise UserError("不能把工单并入它自己。")
    target = load_order(ctx, target_number)
    if target.status not in lc.OPEN_STATUSES:
        raise UserError(
            f"目标工单 {target.number} 为「{lc.label(target.status)}」，只能并入在办工单。"
        )
    order.merged_into = target.number
    wf.apply(ctx, order, "merge", msg.sender, f"并入 {target.number}")
    repo.add_event(
        ctx.session,
        target,
        at=ctx.clock.now(),
        actor=msg.sender,
        action="join",
        from_status=target.status,
        to_status=target.status,
        note=f"{order.number} 并入：{order.text}",
    )
    tell_requester(
        ctx,
        order,
        f"【合并】您反映的「{quote(order.text)}」（{order.number}）与工单 {target.number} "
        f"是同一问题，已并入 {target.number} 一并办理。",
        "merged",
    )
    return Reply(f"已将 {order.number} 并入 {target.number}。")


MERGE = Command(("合并", "merge"), "/合并 单号 目标单号", "调度员合并同一问题的工单", merge_cmd)


def supervise_cmd(msg: Incoming, ctx: Context, args: str) -> Reply:
    number, note = split_number(args, SUPERVISE.usage)
    order = load_checked(msg, ctx, number, "supervise")
    wf.apply(ctx, order, "supervise", msg.sender, note)
    recipients = _officers(ctx, order) or _staff(ctx, "dispatcher")
    _tell_users(
        ctx,
        recipients,
        f"【督办】{order.number}（{lc.label(order.status)}，办结时限 {fmt(ctx, order.deadline)}）\n"
        f"诉求：{order.text}" + (f"\n督办意见：{note}" if note else ""),
        "supervise",
        order,
    )
    return Reply(f"已督办 {order.number}。")


SUPERVISE = Command(("督办", "supervise"), "/督办 单号 [意见]", "督办人员督促办理", supervise_cmd)


# ---------------------------------------------------------------- lists


def _line(ctx: Context, o: WorkOrder, now: datetime) -> str:
    late = "（已超期）" if o.deadline < now and o.status in lc.OPEN_STATUSES else ""
    extra = f"（延期申请 {o.ext_days} 天待批）" if o.ext_days else ""
    return (
        f"{o.number} {lc.label(o.status)} {dept_name(ctx, o)} 时限 {fmt(ctx, o.deadline)}{late}"
        f"{extra} 「{quote(o.text, 20)}」"
    )


def todo_cmd(msg: Incoming, ctx: Context, args: str) -> Reply:
    person = repo.person(ctx.session, msg.sender)
    roles = person.role_set if person is not None else set()
    if person is not None and "officer" in roles:
        found = repo.orders(
            ctx.session, department_code=person.department_code, statuses=lc.HANDLING
        )
        title = "本部门待办"
    elif roles & {"dispatcher", "supervisor"}:
        queue = repo.orders(ctx.session, statuses=(lc.PENDING_DISPATCH, lc.RETURNED))
        pending_ext = [o for o in repo.orders(ctx.session, statuses=lc.HANDLING) if o.ext_days]
        found = [*queue, *pending_ext]
        title = "待派单、退单和延期申请"
    else:
        raise UserError("/待办 供经办人、调度员和督办人员使用；查询自己的诉求请发送 /查询。")
    if not found:
        return Reply(f"{title}：暂无。")
    now = ctx.clock.now()
    found = sorted(found, key=lambda o: (o.deadline, o.number))
    lines = [f"{title}（共 {len(found)} 件，时限最早的在前）："]
    lines += [_line(ctx, o, now) for o in found[:LIST_LIMIT]]
    if len(found) > LIST_LIMIT:
        lines.append(f"……另有 {len(found) - LIST_LIMIT} 件")
    return Reply("\n".join(lines))


TODO = Command(("待办", "todo"), "/待办", "本部门在办工单，时限最早的在前", todo_cmd)


def _require_supervisor(msg: Incoming, ctx: Context, what: str) -> None:
    person = repo.person(ctx.session, msg.sender)
    if person is None or "supervisor" not in person.role_set:
        raise UserError(f"抱歉，只有督办人员可以查看{what}。")


def stats_cmd(msg: Incoming, ctx: Context, args: str) -> Reply:
    _require_supervisor(msg, ctx, "统计")
    departments = {d.code: d.name for d in repo.departments(ctx.session)}
    wanted = find_department(ctx, args) if args.strip() else None
    now = ctx.clock.now()
    rows = []
    for code, name in departments.items():
        if wanted is not None and code != wanted:
            continue
        orders = repo.orders(ctx.session, department_code=code)
        if not orders and wanted is None:
            continue
        open_ = [o for o in orders if o.status in lc.OPEN_STATUSES]
        closed = [o for o in orders if o.status in (lc.RESOLVED, lc.RATED)]
        rows.append(
            f"{name}：受理 {len(orders)}，办结 {len(closed)}，在办 {len(open_)}，"
            f"超期 {sum(o.deadline < now for o in open_)}，退单 {sum(o.returns for o in orders)}，"
            f"重办 {sum(o.reopens for o in orders)}"
        )
    queue = repo.orders(ctx.session, statuses=(lc.PENDING_DISPATCH, lc.RETURNED))
    head = f"工单统计（截至 {fmt(ctx, now)}）" + (
        f"；待派单/退单 {len(queue)} 件" if not wanted else ""
    )
    return Reply("\n".join([head, *(rows or ["暂无工单。"])]))


STATS = Command(("统计", "stats"), "/统计 [部门]", "督办人员查看各部门统计", stats_cmd)


DailyReport = Callable[[Context], str]
"""Today's 日报 as markdown, as of the context's clock (the app factory passes the scheduler's
digest, :func:`bot.digest.todays_digest`)."""


def daily_command(report: DailyReport) -> Command:
    """/日报: a supervisor gets ``report`` on demand."""

    def daily_cmd(msg: Incoming, ctx: Context, args: str) -> Reply:
        _require_supervisor(msg, ctx, "日报")
        return Reply(report(ctx), markdown=True)

    return Command(("日报", "daily"), "/日报", "督办人员查看今日日报", daily_cmd)
