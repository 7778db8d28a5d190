"""From HTTP body to ciphertext, and from decrypted plaintext to :class:`Incoming`.

Two inbound formats (wecom.md §7):

* 智能机器人 (AI bot) webhook: JSON envelope ``{"encrypt": "..."}``; the plaintext is the JSON of
  wecom.md §2.2. Group messages reach the bot only when it is @-mentioned.
* Self-built app callback: XML envelope (§1.6); the plaintext is the XML of §1.7 (1:1 only).

Envelopes are parsed *before* the signature is checked, so they are treated as hostile: XML goes
through ``defusedxml`` with DTDs forbidden, JSON must be an object. Every refusal is
:class:`~bot.wecom.crypto.MalformedPayload` (or :class:`~bot.wecom.crypto.WrongReceiver`).
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from bot.wecom.crypto import MalformedPayload, WrongReceiver
from handlers.incoming import ChatType, Incoming

__all__ = [
    "extract_aibot_encrypt",
    "extract_app_encrypt",
    "parse_aibot_message",
    "parse_app_message",
    "strip_mentions",
]

# Whitespace WeCom puts after an @mention: U+2005 FOUR-PER-EM SPACE (sometimes a plain space).
_MENTION_GAP = "[ \u2005]"
_LEADING_MENTION = re.compile(rf"^\s*@[^\s@]+(?:{_MENTION_GAP}+|$)")
_NOT_MESSAGES = frozenset({"event", "stream"})
_MAX_TIMESTAMP = 10**11  # year 5138: anything larger is not a Unix time in seconds


# ---------------------------------------------------------------------------- envelopes


def _load_json(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError, too deep
        raise MalformedPayload("bad json") from None


def _load_xml(data: bytes) -> Element:
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (SafeET.ParseError, DefusedXmlException, ValueError):
        raise MalformedPayload("bad xml") from None
    if root.tag != "xml":
        raise MalformedPayload("bad xml root")
    return root


def _xml_text(root: Element, tag: str) -> str | None:
    """Text of the single child ``tag`` (stripped), ``None`` if absent; duplicates refused."""
    found = root.findall(tag)
    if not found:
        return None
    if len(found) > 1:
        raise MalformedPayload("duplicate element")
    return (found[0].text or "").strip()


def extract_aibot_encrypt(body: bytes) -> str:
    """The ciphertext of an AI-bot callback body ``{"encrypt": "..."}``."""
    data = _load_json(body)
    if not isinstance(data, dict):
        raise MalformedPayload("envelope not an object")
    encrypt = data.get("encrypt")
    if not isinstance(encrypt, str) or not encrypt:
        raise MalformedPayload("no encrypt")
    return encrypt


def extract_app_encrypt(body: bytes) -> str:
    """The ciphertext of a self-built app callback body ``<xml>…<Encrypt>…</Encrypt>…</xml>``."""
    encrypt = _xml_text(_load_xml(body), "Encrypt")
    if not encrypt:
        raise MalformedPayload("no encrypt")
    return encrypt


# ---------------------------------------------------------------------------- AI bot


def strip_mentions(text: str, bot_names: Sequence[str] = (), *, group: bool = False) -> str:
    """Remove the bot's @-mention(s) from ``text`` and trim it.

    ``@<name>`` is removed wherever it appears, for every configured bot name (when followed by
    a non-word character or the end). In a group message where none of the configured names
    was found, one leading ``@<token>`` followed by a space (U+0020 or U+2005) or the end of the
    text is removed as well: WeCom delivers group messages only when the bot is @-mentioned,
    and puts that mention first.
    """
    found = False
    for name in sorted({n for n in bot_names if n}, key=len, reverse=True):
        pattern = re.compile(re.escape("@" + name) + rf"(?!\w){_MENTION_GAP}?")
        text, count = pattern.subn("", text)
        found = found or count > 0
    if group and not found:
        text = _LEADING_MENTION.sub("", text, count=1)
    return text.strip()


def _get(obj: Mapping[str, Any], *path: str) -> Any:
    """``obj[path[0]][path[1]]…`` or ``None`` when a step is missing or not an object."""
    cur: Any = obj
    for key in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(key)
    return cur


def _opt_str(obj: Mapping[str, Any], *path: str) -> str | None:
    value = _get(obj, *path)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedPayload("field has wrong type")
    return value


def _mixed_text(mixed: Any) -> str:
    """The text items of a ``mixed`` body joined by newlines (images are ignored)."""
    items = _get(mixed, "msg_item") if isinstance(mixed, Mapping) else None
    if items is None:
        return ""
    if not isinstance(items, list):
        raise MalformedPayload("mixed.msg_item not a list")
    parts = []
    for item in items:
        if isinstance(item, Mapping) and item.get("msgtype") == "text":
            content = _get(item, "text", "content")
            if isinstance(content, str):
                parts.append(content)
    return "\n".join(parts)


def _body_text(data: Mapping[str, Any], msgtype: str) -> str:
    if msgtype == "text":
        return _opt_str(data, "text", "content") or ""
    if msgtype == "voice":
        return _opt_str(data, "voice", "content") or ""
    if msgtype == "mixed":
        return _mixed_text(data.get("mixed"))
    return ""  # image, file, and anything new: no text


def _quote_text(quote: Any) -> str | None:
    """Best effort: the text of a quoted message, ``None`` when it has none."""
    if not isinstance(quote, Mapping):
        return None
    msgtype = quote.get("msgtype")
    text: Any = None
    if msgtype == "text":
        text = _get(quote, "text", "content")
    elif msgtype == "voice":
        text = _get(quote, "voice", "content")
    elif msgtype == "mixed":
        text = _mixed_text(quote.get("mixed"))
    return text if isinstance(text, str) and text else None


def _created_at(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        seconds = int(value)
    except ValueError:
        return None
    if not 0 < seconds < _MAX_TIMESTAMP:
        return None
    return datetime.fromtimestamp(seconds, UTC)


def parse_aibot_message(plain: bytes, *, bot_names: Sequence[str] = ()) -> Incoming | None:
    """The decrypted AI-bot JSON (wecom.md §2.2) as an :class:`Incoming`.

    Returns ``None`` for ``event`` and ``stream`` callbacks (not user messages). ``text`` has the
    bot's @-mention removed; ``mixed`` text items are joined with newlines; ``voice`` gives the
    ASR text; ``image``/``file`` (and unknown types) give ``""``.
    """
    data = _load_json(plain)
    if not isinstance(data, dict):
        raise MalformedPayload("message not an object")
    msgtype = data.get("msgtype")
    if not isinstance(msgtype, str) or not msgtype:
        raise MalformedPayload("no msgtype")
    if msgtype in _NOT_MESSAGES:
        return None

    msgid = data.get("msgid")
    if isinstance(msgid, int) and not isinstance(msgid, bool):
        msgid = str(msgid)
    if not isinstance(msgid, str) or not msgid:
        raise MalformedPayload("no msgid")
    sender = _opt_str(data, "from", "userid")
    if not sender:
        raise MalformedPayload("no sender")

    chatid = _opt_str(data, "chatid") or None
    chattype = data.get("chattype")
    chat_type: ChatType
    if chattype == "group" or (chattype is None and chatid):
        chat_type = "group"
    elif chattype == "single" or chattype is None:
        chat_type = "single"
    else:
        raise MalformedPayload("bad chattype")
    if chat_type == "group" and not chatid:
        raise MalformedPayload("group message without chatid")

    text = _body_text(data, msgtype)
    if msgtype in ("text", "mixed"):
        text = strip_mentions(text, bot_names, group=chat_type == "group")

    extra: dict[str, str] = {}
    aibotid = data.get("aibotid")
    if isinstance(aibotid, str) and aibotid:
        extra["aibotid"] = aibotid

    return Incoming(
        channel="aibot",
        msgid=msgid,
        sender=sender,
        chat_type=chat_type,
        text=text,
        msgtype=msgtype,
        chatid=chatid,
        response_url=_opt_str(data, "response_url") or None,
        quote_text=_quote_text(data.get("quote")),
        mentioned=chat_type == "group",
        created_at=_created_at(data.get("create_time")),
        extra=extra,
    )


# ---------------------------------------------------------------------------- self-built app


def parse_app_message(plain: bytes, *, corp_id: str) -> Incoming | None:
    """The decrypted app-callback XML (wecom.md §1.7) as an :class:`Incoming`.

    Text messages (and voice messages carrying ``Recognition`` text) become an ``Incoming``;
    events and other message types return ``None``. ``ToUserName`` must be ``corp_id``.
    """
    root = _load_xml(plain)
    to_user = _xml_text(root, "ToUserName")
    if not to_user:
        raise MalformedPayload("no ToUserName")
    if not hmac.compare_digest(to_user.encode("utf-8"), corp_id.encode("utf-8")):
        raise WrongReceiver("ToUserName mismatch")
    msgtype = (_xml_text(root, "MsgType") or "").lower()
    if not msgtype:
        raise MalformedPayload("no MsgType")

    if msgtype == "text":
        text = _xml_text(root, "Content") or ""
    elif msgtype == "voice":
        text = _xml_text(root, "Recognition") or ""
        if not text:
            return None
    else:  # events (no MsgId) and media/location/link messages: nothing to act on
        return None

    sender = _xml_text(root, "FromUserName")
    if not sender:
        raise MalformedPayload("no FromUserName")
    msgid = _xml_text(root, "MsgId")
    if not msgid or not msgid.isascii() or not msgid.isdigit():
        raise MalformedPayload("no MsgId")

    created_at = None
    create_time = _xml_text(root, "CreateTime")
    if create_time:
        if not create_time.isascii() or not create_time.isdigit():
            raise MalformedPayload("bad CreateTime")
        created_at = _created_at(int(create_time))

    extra: dict[str, str] = {}
    agent_id = _xml_text(root, "AgentID")
    if agent_id:
        extra["agent_id"] = agent_id

    return Incoming(
        channel="app",
        msgid=str(int(msgid)),
        sender=sender,
        chat_type="single",
        text=text,
        msgtype=msgtype,
        created_at=created_at,
        extra=extra,
    )
