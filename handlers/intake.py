"""Free text: a request becomes a work order (or joins the open one it repeats) and the group
gets an ack; chatter gets nothing."""

from __future__ import annotations

import logging
from datetime import timedelta

from handlers import workflow as wf
from handlers.commands import (
    Command,
    dept_name,
    fmt,
    load_checked,
    normalize_number,
    notify_officers,
    tell_requester,
)
from handlers.context import Context, Reply, UserError
from handlers.incoming import Incoming, from_payload
from handlers.notify import quote
from handlers.steps import rating_reply
from nlp.decision import Decision
from nlp.duplicates import Candidate
from nlp.trained import CHATTER as CHATTER_LABEL
from nlp.trained import REQUEST as REQUEST_LABEL
from storage import repositories as repo
from storage.models import WorkOrder

log = logging.getLogger(__name__)
STAFF_ROLES = frozenset({"officer", "dispatcher", "supervisor"})
BARE_MENTION_HELP = (
    "您好，我是企业服务助手。请 @我 并直接描述遇到的问题（如“项目工地缺少施工便道”），"
    "我会登记并转交责任部门；发送 /帮助 查看更多。"
)


def group_text(msg: Incoming, ctx: Context) -> Reply | None:
    text = msg.text.strip()
    if not text:
        return Reply(BARE_MENTION_HELP)
    rated = rating_reply(msg, ctx)
    if rated is not None:
        return rated
    person = repo.person(ctx.session, msg.sender)
    if person is not None and person.role_set & STAFF_ROLES:
        return None  # staff talking in a group is never filed as a request
    decision = ctx.classifier.classify(text)
    if decision.is_request:
        file_request(msg, ctx, text, decision)
    elif decision.request_score >= ctx.settings.classifier.review_score:
        ask_dispatchers(ctx, msg, text, decision)
    return None


def ask_dispatchers(ctx: Context, msg: Incoming, text: str, decision: Decision) -> None:
    """Not filed, but it may be a request: the dispatchers decide (/立案 消息编号)."""
    if ctx.message_id is None:
        return
    person = repo.person(ctx.session, msg.sender)
    grp = repo.group(ctx.session, msg.chatid) if msg.chatid else None
    where = grp.name if grp is not None else (msg.chatid or "私聊")
    who = person.name if person is not None else msg.sender
    names = {d.code: d.name for d in repo.departments(ctx.session)}
    hint = (
        f"，建议{names.get(decision.top3[0].department, decision.top3[0].department)}"
        if decision.top3
        else ""
    )
    ctx.notify.to_users(
        repo.userids_with_role(ctx.session, "dispatcher"),
        f"【待确认】{where} {who}：「{quote(text)}」\n"
        f"可能是诉求（把握 {decision.request_score:.0%}{hint}），未自动登记。"
        f"如需登记请发送 /立案 {ctx.message_id}；不是诉求可发送 /非诉求 {ctx.message_id}"
        f"（帮助改进识别，也可不处理）。",
        purpose="review",
    )


def file_cmd(msg: Incoming, ctx: Context, args: str) -> Reply:
    """/立案 消息编号: a dispatcher files a message the classifier left out."""
    person = repo.person(ctx.session, msg.sender)
    if person is None or "dispatcher" not in person.role_set:
        raise UserError("抱歉，只有调度员可以立案。")
    raw = args.strip()
    if not raw.isdigit():
        raise UserError(f"请写明消息编号（数字）。用法：{FILE.usage}")
    message_id = int(raw)
    row = repo.inbound_message(ctx.session, message_id)
    if row is None or row.chatid is None:
        raise UserError(f"未找到群消息 {message_id}，请核对编号。")
    existing = repo.order_from_message(ctx.session, message_id)
    if existing is not None:
        raise UserError(f"消息 {message_id} 已登记为工单 {existing.number}。")
    original = from_payload(row.payload)
    text = original.text.strip()
    decision = as_request(ctx, ctx.classifier.classify(text))
    order = file_request(original, ctx, text, decision, source_message_id=message_id)
    if order.source_message_id != message_id:
        return Reply(f"消息 {message_id} 与工单 {order.number} 是同一问题，已并入该工单。")
    repo.add_event(
        ctx.session,
        order,
        at=ctx.clock.now(),
        actor=msg.sender,
        action="confirm",
        from_status=order.status,
        to_status=order.status,
        note=f"调度员确认消息 {message_id} 为诉求",
    )
    repo.set_detection_example(
        ctx.session,
        text=text,
        label=REQUEST_LABEL,
        actor=msg.sender,
        message_id=message_id,
        order_id=order.id,
        at=ctx.clock.now(),
    )
    return Reply(f"已将消息 {message_id} 登记为工单 {order.number}（{wf.label(order.status)}）。")


def request_cmd(msg: Incoming, ctx: Context, args: str) -> Reply | None:
    """/诉求 内容: always files, whatever the classifier thinks of the text."""
    text = args.strip()
    if not text:
        raise UserError(f"请写明诉求内容。用法：{REQUEST.usage}")
    file_request(msg, ctx, text, as_request(ctx, ctx.classifier.classify(text)))
    return None if msg.chat_type == "group" else Reply("已登记，受理回执已发送。")


def not_request_cmd(msg: Incoming, ctx: Context, args: str) -> Reply:
    """/非诉求 单号|消息编号: a dispatcher says a filed order, or a group message the classifier
    was unsure of, is not a request. An order is cancelled (已撤销, final; the group and the
    department are told); either way the text is kept as a labelled example for
    ``gridbot train --kind detector --from-db``."""
    raw = args.strip().split()[0] if args.strip() else ""
    if raw.isdigit():
        return _not_request_message(msg, ctx, int(raw))
    number = normalize_number(raw)
    if number is None:
        raise UserError(f"请写明工单号或消息编号。用法：{NOT_REQUEST.usage}")
    order = load_checked(msg, ctx, number, "dismiss")
    officers = (
        repo.userids_with_role(ctx.session, "officer", order.department_code)
        if order.status == wf.DISPATCHED and order.department_code is not None
        else []
    )
    wf.apply(ctx, order, "dismiss", msg.sender, "调度员确认不是诉求")
    repo.set_detection_example(
        ctx.session,
        text=order.text,
        label=CHATTER_LABEL,
        actor=msg.sender,
        message_id=order.source_message_id,
        order_id=order.id,
        at=ctx.clock.now(),
    )
    tell_requester(
        ctx,
        order,
        f"【说明】您的消息「{quote(order.text)}」经核实不是需要部门办理的诉求，"
        f"工单 {order.number} 已撤销，打扰了。如确有问题需要办理，请发送 /诉求 内容。",
        "dismissed",
    )
    if officers:
        ctx.notify.to_users(
            sorted(set(officers)),
            f"【撤销】{order.number} 经调度员核实不是诉求，已撤销，无需办理。",
            purpose="dismissed",
            order_id=order.id,
        )
    return Reply(f"已撤销 {order.number}，并记为“不是诉求”的样例。")


def _not_request_message(msg: Incoming, ctx: Context, message_id: int) -> Reply:
    person = repo.person(ctx.session, msg.sender)
    if person is None or "dispatcher" not in person.role_set:
        raise UserError("抱歉，只有调度员可以标记非诉求。")
    row = repo.inbound_message(ctx.session, message_id)
    if row is None or row.chatid is None:
        raise UserError(f"未找到群消息 {message_id}，请核对编号。")
    existing = repo.order_from_message(ctx.session, message_id)
    if existing is not None:
        raise UserError(
            f"消息 {message_id} 已登记为工单 {existing.number}，"
            f"请发送 /非诉求 {existing.number} 撤销该工单。"
        )
    text = from_payload(row.payload).text.strip()
    if not text:
        raise UserError(f"消息 {message_id} 没有文字内容。")
    repo.set_detection_example(
        ctx.session,
        text=text,
        label=CHATTER_LABEL,
        actor=msg.sender,
        message_id=message_id,
        order_id=None,
        at=ctx.clock.now(),
    )
    return Reply(f"已将消息 {message_id} 记为“不是诉求”的样例，用于改进识别。")


REQUEST = Command(("诉求", "request"), "/诉求 内容", "直接登记一项诉求", request_cmd)
FILE = Command(("立案", "file"), "/立案 消息编号", "调度员把未自动登记的群消息登记为诉求", file_cmd)
NOT_REQUEST = Command(
    ("非诉求", "notrequest"),
    "/非诉求 单号|消息编号",
    "调度员标记不是诉求：撤销误登记的工单，或记下待确认的消息",
    not_request_cmd,
)


def as_request(ctx: Context, decision: Decision) -> Decision:
    """The classifier's routing for a text someone filed on purpose (never 'not a request')."""
    if decision.is_request and decision.category is not None:
        return decision
    if decision.top3:
        best = decision.top3[0]
        return Decision(True, 1.0, best.category, best.department, best.score, decision.top3)
    fallback = ctx.settings.catch_all
    return Decision(True, 1.0, fallback.code, fallback.department, 0.0, ())


def file_request(
    msg: Incoming,
    ctx: Context,
    text: str,
    decision: Decision,
    *,
    source_message_id: int | None = None,
) -> WorkOrder:
    if msg.chatid and repo.group(ctx.session, msg.chatid) is None:
        log.warning(
            "group %s is not configured ([[groups]] chatid); its enterprise is unknown "
            "and replies go through the AI bot's response_url",
            msg.chatid,
        )
    enterprise_id = wf.enterprise_of(ctx, msg)
    candidates = open_candidates(ctx)
    now = ctx.clock.now()
    ent = str(enterprise_id) if enterprise_id is not None else None
    ours = [c for c in candidates if ent is not None and c.enterprise == ent]
    others = [c for c in candidates if ent is None or c.enterprise != ent]
    category = None if decision.category == ctx.settings.catch_all.code else decision.category
    match = ctx.duplicates.find(text, ent, category, now, ours)
    if match is not None:
        existing = repo.order_by_number(ctx.session, match.key)
        assert existing is not None
        wf.merge_into(ctx, existing, msg, text, "；".join(match.reasons))
        ack = (
            f"【已并入】您反映的「{quote(text)}」与工单 {existing.number}"
            f"（{wf.label(existing.status)}）是同一问题，已并入 {existing.number} 一并办理。"
            f"可发送 /查询 {existing.number} 查看进度。"
        )
        tell(ctx, msg, ack, "merged", existing)
        return existing

    order = wf.create_order(ctx, msg, decision, text, source_message_id=source_message_id)
    if order.status == wf.DISPATCHED:
        department = dept_name(ctx, order)
        ack = (
            f"【受理】您反映的「{quote(text)}」已登记，工单号 {order.number}，"
            f"已转{department}办理，办结时限 {fmt(ctx, order.deadline)}。"
            f"可发送 /查询 {order.number} 查看进度。"
        )
        notify_officers(ctx, order)
    else:
        ack = (
            f"【受理】您反映的「{quote(text)}」已登记，工单号 {order.number}，"
            f"正在确定承办部门，分派后会在群里告知。"
        )
        notify_dispatchers(ctx, order, decision)
    tell(ctx, msg, ack, "ack", order)
    cluster = ctx.duplicates.cluster(text, ent, category, now, others)
    if cluster:
        flag_cluster(ctx, order, [m.key for m in cluster])
    return order


def tell(ctx: Context, msg: Incoming, text: str, purpose: str, order: WorkOrder) -> None:
    if msg.chat_type == "group" and msg.chatid:
        ctx.notify.to_group(
            msg.chatid,
            text,
            mention=[msg.sender],
            purpose=purpose,
            order_id=order.id,
            response_url=msg.response_url,
        )
    else:
        ctx.notify.to_users([msg.sender], text, purpose=purpose, order_id=order.id)


def open_candidates(ctx: Context) -> list[Candidate]:
    since = ctx.clock.now() - timedelta(days=ctx.settings.duplicates.window_days)
    return [
        Candidate(
            key=o.number,
            text=o.text,
            enterprise=str(o.enterprise_id) if o.enterprise_id is not None else None,
            category=o.category_code,
            created_at=o.created_at,
        )
        for o in repo.orders(ctx.session, statuses=wf.OPEN_STATUSES, created_since=since)
    ]


def notify_dispatchers(ctx: Context, order: WorkOrder, decision: Decision) -> None:
    names = {d.code: d.name for d in repo.departments(ctx.session)}
    lines = [f"【待派单】{order.number}\n诉求：{order.text}", "建议承办部门："]
    lines += [
        f"{i}. {names.get(s.department, s.department)}（{s.category}，{s.score:.0%}）"
        for i, s in enumerate(decision.top3, 1)
    ]
    lines.append(f"请发送 /派单 {order.number} 部门 派单；不是诉求请发送 /非诉求 {order.number}。")
    ctx.notify.to_users(
        repo.userids_with_role(ctx.session, "dispatcher"),
        "\n".join(lines),
        purpose="queue",
        order_id=order.id,
    )


def flag_cluster(ctx: Context, order: WorkOrder, related: list[str]) -> None:
    """The same problem from other enterprises: tell the dispatchers, record it on the order."""
    numbers = "、".join(related)
    repo.add_event(
        ctx.session,
        order,
        at=ctx.clock.now(),
        actor="gridbot",
        action="cluster",
        from_status=order.status,
        to_status=order.status,
        note=f"疑似与 {numbers} 为同一问题",
    )
    ctx.notify.to_users(
        repo.userids_with_role(ctx.session, "dispatcher"),
        f"【疑似同一问题】{order.number}「{quote(order.text)}」与其他企业的 {numbers} "
        f"可能是同一问题，请统筹办理。",
        purpose="cluster",
        order_id=order.id,
    )


def private_text(msg: Incoming, ctx: Context) -> Reply:
    return Reply(
        "您好！请在企业群里 @我 描述问题以登记诉求，或发送 /诉求 内容；处理工单请使用命令，"
        "发送 /帮助 查看。"
    )
