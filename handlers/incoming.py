"""The framework-neutral message that the web layer hands to the dispatcher."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Channel = Literal["aibot", "app"]
ChatType = Literal["group", "single"]


@dataclass(frozen=True)
class Incoming:
    """One decrypted, parsed inbound message.

    ``text`` is the plain text with the bot's @-mention removed (for ``mixed`` messages, the
    text parts joined by newlines). ``mentioned`` is true when the message @-mentioned the bot
    (always true for 智能机器人 group callbacks, false for 1:1 app messages).
    """

    channel: Channel
    msgid: str
    sender: str
    chat_type: ChatType
    text: str
    msgtype: str = "text"
    chatid: str | None = None
    response_url: str | None = None
    quote_text: str | None = None
    mentioned: bool = False
    created_at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)
