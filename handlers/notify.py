"""Everything gridbot says goes through here into the stored outbox (never sent inline)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.config import Settings
from bot.outbound.split import MARKDOWN_LIMIT, TEXT_LIMIT, split_utf8
from handlers.context import Reply
from handlers.incoming import Incoming
from storage import repositories as repo
from storage.models import OutboxMessage, WorkOrder

log = logging.getLogger(__name__)


def escape_markdown(text: str) -> str:
    """Neutralise user text quoted into markdown: no ``<@…>`` mentions, no ``<font>`` tags."""
    return text.replace("<", "＜").replace(">", "＞")


def quote(text: str, limit: int = 60) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def how_to_rate(order: WorkOrder, reply: str = "回复本消息") -> str:
    """How the requester rates a closed order: in a group, by ``reply`` (to the receipt) or
    with /评价; in a 1:1 chat (no quote there), with /评价."""
    if order.group_chatid:
        return f"{reply}「满意」「基本满意」或「不满意 原因」，或发送 /评价 {order.number} 满意"
    return f"发送 /评价 {order.number} 满意（或 基本满意、不满意 原因）"


class Notifier:
    """Session-bound: rows it adds commit (or roll back) with the caller's unit of work."""

    def __init__(self, session: Session, settings: Settings, now: datetime) -> None:
        self.session = session
        self.settings = settings
        self.now = now

    def _enqueue(
        self,
        *,
        kind: str,
        target: str,
        text: str,
        markdown: bool,
        mention: Sequence[str] = (),
        rate_key: str = "",
        purpose: str = "",
        order_id: int | None = None,
        not_before: datetime | None = None,
    ) -> list[OutboxMessage]:
        limit = MARKDOWN_LIMIT if markdown else TEXT_LIMIT
        rows = []
        for i, chunk in enumerate(split_utf8(text, limit)):
            rows.append(
                repo.enqueue(
                    self.session,
                    OutboxMessage(
                        kind=kind,
                        target=target,
                        msgtype="markdown" if markdown else "text",
                        content=chunk,
                        mentioned="|".join(mention) if i == 0 else "",
                        rate_key=rate_key,
                        status="pending",
                        attempts=0,
                        created_at=self.now,
                        next_attempt_at=not_before or self.now,
                        purpose=purpose,
                        order_id=order_id,
                    ),
                )
            )
        return rows

    def to_group(
        self,
        chatid: str,
        text: str,
        *,
        mention: Sequence[str] = (),
        markdown: bool = False,
        purpose: str = "",
        order_id: int | None = None,
        response_url: str | None = None,
    ) -> list[OutboxMessage]:
        """Post into a group: its 消息推送 webhook, else the app's group chat (appchat), else
        the AI bot's response_url when that is all there is."""
        grp = repo.group(self.session, chatid)
        held = self._quiet_until(order_id)
        if grp is not None and grp.webhook_url:
            return self._enqueue(
                kind="webhook",
                target=chatid,
                text=text,
                markdown=markdown,
                mention=mention,
                rate_key=f"webhook:{chatid}",
                purpose=purpose,
                order_id=order_id,
                not_before=held,
            )
        if grp is not None and grp.appchat_chatid:
            names = [p.name if (p := repo.person(self.session, u)) else u for u in mention]
            prefix = "".join(f"@{n} " for n in names)
            return self._enqueue(
                kind="appchat",
                target=grp.appchat_chatid,
                text=prefix + text,
                markdown=markdown,
                rate_key="app",
                purpose=purpose,
                order_id=order_id,
                not_before=held,
            )
        if response_url:
            return self._enqueue(
                kind="response_url",
                target=response_url,
                text=self._mentions(mention) + (text if markdown else escape_markdown(text)),
                markdown=True,
                purpose=purpose,
                order_id=order_id,
            )
        log.warning("group %s has no webhook_url or appchat_chatid; %s not sent", chatid, purpose)
        return []

    def _quiet_until(self, order_id: int | None) -> datetime | None:
        """End of the quiet hours if a group post made now must wait (never for urgent orders)."""
        local = self.now.astimezone(ZoneInfo(self.settings.timezone))
        release = self.settings.quiet_hours.release(local)
        if release is None or order_id is None:
            return release
        order = self.session.get(WorkOrder, order_id)
        cat = self.settings.category(order.category_code) if order and order.category_code else None
        return None if cat is not None and cat.urgent else release

    @staticmethod
    def _mentions(userids: Sequence[str]) -> str:
        return "".join(f"<@{u}> " for u in userids)

    def to_requester(self, order: WorkOrder, text: str, *, purpose: str) -> list[OutboxMessage]:
        """Tell the requester of ``order``: in the group the request came from, @-mentioning
        them; a request made in a 1:1 chat with the app (/诉求) is answered there."""
        if order.group_chatid:
            return self.to_group(
                order.group_chatid,
                text,
                mention=[order.requester_userid],
                purpose=purpose,
                order_id=order.id,
            )
        return self.to_users([order.requester_userid], text, purpose=purpose, order_id=order.id)

    def to_users(
        self,
        userids: Sequence[str],
        text: str,
        *,
        markdown: bool = False,
        purpose: str = "",
        order_id: int | None = None,
    ) -> list[OutboxMessage]:
        """A 1:1 app message (officers, dispatchers, supervisors)."""
        users = [u for u in dict.fromkeys(userids) if u]
        if not users:
            return []
        if not self.settings.wecom.app.secret and self.settings.outbound.mode != "console":
            log.warning(
                "no [wecom.app] secret configured; %s message to %d user(s) not sent",
                purpose,
                len(users),
            )
            return []
        return self._enqueue(
            kind="app_message",
            target="|".join(users),
            text=text,
            markdown=markdown,
            rate_key="app",
            purpose=purpose,
            order_id=order_id,
        )

    def reply(self, msg: Incoming, reply: Reply, *, purpose: str = "reply") -> list[OutboxMessage]:
        """Answer the sender of ``msg`` on the channel it came from."""
        if msg.chat_type == "single":
            return self.to_users([msg.sender], reply.text, markdown=reply.markdown, purpose=purpose)
        assert msg.chatid is not None
        if reply.direct and msg.response_url:
            body = self._mentions(reply.mention) + (
                reply.text if reply.markdown else escape_markdown(reply.text)
            )
            return self._enqueue(
                kind="response_url",
                target=msg.response_url,
                text=body,
                markdown=True,
                purpose=purpose,
            )
        return self.to_group(
            msg.chatid,
            reply.text,
            mention=reply.mention,
            markdown=reply.markdown,
            purpose=purpose,
            response_url=msg.response_url,
        )
