"""Free text: a request becomes a work order and the group gets an ack; chatter gets nothing."""

from __future__ import annotations

import logging

from handlers import workflow as wf
from handlers.commands import dept_name, fmt
from handlers.context import Context, Reply
from handlers.incoming import Incoming
from handlers.notify import quote
from storage import repositories as repo

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
    person = repo.person(ctx.session, msg.sender)
    if person is not None and person.role_set & STAFF_ROLES:
        return None  # staff talking in a group is never filed as a request
    decision = ctx.classifier.classify(text)
    if not decision.is_request:
        return None
    if msg.chatid and repo.group(ctx.session, msg.chatid) is None:
        log.warning(
            "group %s is not configured ([[groups]] chatid); its enterprise is unknown "
            "and replies go through the AI bot's response_url",
            msg.chatid,
        )
    order = wf.create_order(ctx, msg, decision, text)
    department = dept_name(ctx, order)
    ack = (
        f"【受理】您反映的「{quote(text)}」已登记，工单号 {order.number}，"
        f"已转{department}办理，办结时限 {fmt(ctx, order.deadline)}。"
        f"可发送 /查询 {order.number} 查看进度。"
    )
    ctx.notify.to_group(
        msg.chatid or "",
        ack,
        mention=[msg.sender],
        purpose="ack",
        order_id=order.id,
        response_url=msg.response_url,
    )
    officers = [
        p.userid for p in repo.people_with_role(ctx.session, "officer", order.department_code)
    ]
    ctx.notify.to_users(
        officers,
        f"【新工单】{order.number}（{department}）\n诉求：{text}\n"
        f"办结时限：{fmt(ctx, order.deadline)}\n请发送 /签收 {order.number} 签收。",
        purpose="dispatch",
        order_id=order.id,
    )
    return None


def private_text(msg: Incoming, ctx: Context) -> Reply:
    return Reply("您好！请在企业群里 @我 描述问题以登记诉求；处理工单请使用命令，发送 /帮助 查看。")
