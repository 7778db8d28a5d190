"""The framework-neutral message that the web layer hands to the dispatcher."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

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


def to_payload(msg: Incoming) -> dict[str, Any]:
    """``msg`` as JSON-ready data (stored with the inbound message)."""
    data = asdict(msg)
    data["created_at"] = msg.created_at.isoformat() if msg.created_at else None
    return data


def from_payload(data: dict[str, Any]) -> Incoming:
    values = dict(data)
    if values.get("created_at"):
        values["created_at"] = datetime.fromisoformat(values["created_at"])
    return Incoming(**values)
