"""WeCom's side of the callback protocol, played by an independent implementation.

Tests must never produce "real" callbacks with gridbot's own crypto, or a bug on both sides would
cancel out. This module drives two third-party, Tencent-derived implementations instead
(wecom.md §5):

* AI bot (JSON): ``wx_crypt.WXBizMsgCrypt(..., channel=WxChannel_WecomAiBot)`` (wx-crypt 0.0.3).
* Self-built app (XML): ``weworkapi.WXBizMsgCrypt3.WXBizMsgCrypt`` (weworkapi 0.1.7); raw
  (possibly non-UTF-8) plaintexts go through ``wx_crypt`` in its XML channel.

Main API::

    peer = AibotPeer(token, aes_key)
    query = peer.verify_query("echo", timestamp, nonce)            # GET params incl. echostr
    query, body = peer.encrypt_callback(aibot_text(...), timestamp, nonce)
    peer.decrypt_reply(reply_body)                                  # our passive reply -> bytes

    app = AppPeer(token, aes_key, corp_id)
    query, body = app.encrypt_callback(app.text_message_xml(...), timestamp, nonce)

plus payload factories (``aibot_text``, ``aibot_mixed``, …) and Tencent's known-answer vectors
(``TENCENT_*``, wecom.md §1.10).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape

from weworkapi.WXBizMsgCrypt3 import WXBizMsgCrypt as TencentXmlCrypt
from wx_crypt import WXBizMsgCrypt as WxCrypt
from wx_crypt import WxChannel_Wecom, WxChannel_WecomAiBot
from wx_crypt.WXBizMsgCrypt3 import SHA1

__all__ = [
    "DEFAULT_AGENT_ID",
    "TENCENT_AES_KEY",
    "TENCENT_CORP_ID",
    "TENCENT_DECRYPT_BODY",
    "TENCENT_DECRYPT_PLAIN",
    "TENCENT_DECRYPT_QUERY",
    "TENCENT_DECRYPT_TIMESTAMP",
    "TENCENT_TOKEN",
    "TENCENT_VERIFY_PLAIN",
    "TENCENT_VERIFY_QUERY",
    "TENCENT_VERIFY_TIMESTAMP",
    "AibotPeer",
    "AppPeer",
    "Bare",
    "PeerError",
    "aibot_event",
    "aibot_file",
    "aibot_image",
    "aibot_mixed",
    "aibot_stream",
    "aibot_text",
    "aibot_voice",
    "image_item",
    "peer_sign",
    "quote_text",
    "response_url_for",
    "text_item",
]

# ---------------------------------------------------------------------------- known answers
# Tencent's sample (sbzhu/weworkapi_python:callback/Sample.py; present at commits 16e0b05 and
# 27220fb, blanked later), see wecom.md §1.10. receiveid is the CorpID.

TENCENT_TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
TENCENT_AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
TENCENT_CORP_ID = "ww1436e0e65a779aee"

TENCENT_VERIFY_TIMESTAMP = 1476416373
TENCENT_VERIFY_QUERY: Mapping[str, str] = {
    "msg_signature": "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb",
    "timestamp": "1476416373",
    "nonce": "47744683",
    "echostr": (
        "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA=="
    ),
}
TENCENT_VERIFY_PLAIN = "1288432023552776189"

TENCENT_DECRYPT_TIMESTAMP = 1476422779
TENCENT_DECRYPT_QUERY: Mapping[str, str] = {
    "msg_signature": "0c3914025cb4b4d68103f6bfc8db550f79dcf48e",
    "timestamp": "1476422779",
    "nonce": "1597212914",
}
TENCENT_DECRYPT_BODY = (
    b"<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName>\n"
    b"<Encrypt><![CDATA["
    b"Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBh"
    b"zTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD"
    b"4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24"
    b"qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8j"
    b"mnKiypE+"
    b"]]></Encrypt>\n"
    b"<AgentID><![CDATA[1000002]]></AgentID>\n"
    b"</xml>"
)
TENCENT_DECRYPT_PLAIN = (
    "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName>"
    "<CreateTime>1476422779</CreateTime><MsgType>text</MsgType><Content>你好</Content>"
    "<MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>"
).encode()

DEFAULT_AGENT_ID = 1000002


class PeerError(AssertionError):
    """The peer implementation refused (``ret`` is Tencent's error code, e.g. -40001)."""

    def __init__(self, what: str, ret: int) -> None:
        super().__init__(f"peer {what} failed with {ret}")
        self.ret = ret


def peer_sign(token: str, timestamp: int | str, nonce: str, encrypt: str) -> str:
    """``msg_signature`` as computed by the peer (for hand-crafted ciphertexts)."""
    ret, signature = SHA1().getSHA1(token, str(timestamp), nonce, encrypt)
    if ret != 0:
        raise PeerError("sign", ret)
    return str(signature)


def _query(signature: str, timestamp: int | str, nonce: str) -> dict[str, str]:
    return {"msg_signature": signature, "timestamp": str(timestamp), "nonce": nonce}


class Bare(str):
    """A string :meth:`AppPeer.message_xml` writes as bare element text (escaped, no CDATA)."""


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


class AibotPeer:
    """WeCom's side of the 智能机器人 webhook (JSON, receiveid ``""``)."""

    def __init__(self, token: str, aes_key: str) -> None:
        self.token = token
        self.aes_key = aes_key
        self.crypt = WxCrypt(token, aes_key, "", channel=WxChannel_WecomAiBot)

    def encrypt_raw(self, plaintext: bytes, timestamp: int, nonce: str) -> tuple[str, str]:
        """Encrypt any bytes: returns ``(encrypt_b64, msg_signature)``."""
        ret, envelope = self.crypt.EncryptMsg(plaintext, nonce, str(timestamp))
        if ret != 0:
            raise PeerError("EncryptMsg", ret)
        data = json.loads(envelope)
        return str(data["encrypt"]), str(data["msgsignature"])

    def verify_query(self, echo_plain: str, timestamp: int, nonce: str) -> dict[str, str]:
        """Query parameters of the URL-verification GET, ``echostr`` included (not URL-encoded)."""
        echostr, signature = self.encrypt_raw(echo_plain.encode(), timestamp, nonce)
        return {**_query(signature, timestamp, nonce), "echostr": echostr}

    def encrypt_callback(
        self, payload: Mapping[str, Any] | bytes, timestamp: int, nonce: str
    ) -> tuple[dict[str, str], bytes]:
        """A message callback: ``(query, body)`` with body ``{"encrypt": "..."}``.

        ``payload`` is the §2.2 message (a dict, serialised as UTF-8 JSON) or raw plaintext bytes.
        """
        if isinstance(payload, bytes):
            plaintext = payload
        else:
            plaintext = json.dumps(payload, ensure_ascii=False).encode()
        encrypt, signature = self.encrypt_raw(plaintext, timestamp, nonce)
        return _query(signature, timestamp, nonce), json.dumps({"encrypt": encrypt}).encode()

    def decrypt(self, encrypt: str, msg_signature: str, timestamp: int | str, nonce: str) -> bytes:
        """Verify and decrypt a ciphertext the way WeCom would; raises :class:`PeerError`."""
        body = json.dumps({"encrypt": encrypt})
        ret, plain = self.crypt.DecryptMsg(body, msg_signature, str(timestamp), nonce)
        if ret != 0:
            raise PeerError("DecryptMsg", ret)
        return bytes(plain)

    def decrypt_reply(self, reply: bytes | str | Mapping[str, Any]) -> bytes:
        """Decrypt our encrypted passive JSON reply (``encrypt``, ``msgsignature``, ``timestamp``,
        ``nonce``), checking its signature like WeCom does."""
        data = reply if isinstance(reply, Mapping) else json.loads(reply)
        return self.decrypt(
            str(data["encrypt"]),
            str(data["msgsignature"]),
            str(data["timestamp"]),
            str(data["nonce"]),
        )


class AppPeer:
    """WeCom's side of a self-built app callback (XML, receiveid = CorpID)."""

    def __init__(self, token: str, aes_key: str, corp_id: str) -> None:
        self.token = token
        self.aes_key = aes_key
        self.corp_id = corp_id
        self.crypt = TencentXmlCrypt(token, aes_key, corp_id)
        self._raw = WxCrypt(token, aes_key, corp_id, channel=WxChannel_Wecom)

    def encrypt_raw(self, plaintext: bytes | str, timestamp: int, nonce: str) -> tuple[str, str]:
        """Encrypt: returns ``(encrypt_b64, msg_signature)``. ``str`` goes through Tencent's
        class; ``bytes`` (which may be invalid UTF-8) through wx_crypt's XML channel."""
        if isinstance(plaintext, str):
            ret, envelope = self.crypt.EncryptMsg(plaintext, nonce, str(timestamp))
        else:
            ret, envelope = self._raw.EncryptMsg(plaintext, nonce, str(timestamp))
        if ret != 0:
            raise PeerError("EncryptMsg", ret)
        root = ET.fromstring(envelope)
        return str(root.findtext("Encrypt")), str(root.findtext("MsgSignature"))

    def verify_query(self, echo_plain: str, timestamp: int, nonce: str) -> dict[str, str]:
        echostr, signature = self.encrypt_raw(echo_plain, timestamp, nonce)
        return {**_query(signature, timestamp, nonce), "echostr": echostr}

    def envelope(
        self, encrypt: str, agent_id: int | str = DEFAULT_AGENT_ID, to_user: str | None = None
    ) -> bytes:
        """The POST body WeCom sends around a ciphertext."""
        return (
            f"<xml><ToUserName>{_cdata(self.corp_id if to_user is None else to_user)}</ToUserName>"
            f"<Encrypt>{_cdata(encrypt)}</Encrypt>"
            f"<AgentID>{_cdata(str(agent_id))}</AgentID></xml>"
        ).encode()

    def encrypt_callback(
        self,
        plain_xml: str | bytes,
        timestamp: int,
        nonce: str,
        agent_id: int | str = DEFAULT_AGENT_ID,
    ) -> tuple[dict[str, str], bytes]:
        """A message/event callback: ``(query, body)`` with the XML envelope as body."""
        encrypt, signature = self.encrypt_raw(plain_xml, timestamp, nonce)
        return _query(signature, timestamp, nonce), self.envelope(encrypt, agent_id)

    def message_xml(self, fields: Mapping[str, str | int | None]) -> str:
        """A decrypted-message XML from ``fields`` in order (``int`` and :class:`Bare` values
        bare, other strings in CDATA, ``None`` left out). ``ToUserName`` defaults to the CorpID.
        """
        merged: dict[str, str | int | None] = {"ToUserName": self.corp_id, **fields}
        parts = []
        for tag, value in merged.items():
            if value is None:
                continue
            bare = isinstance(value, int | Bare)
            text = escape(str(value)) if bare else _cdata(str(value))
            parts.append(f"<{tag}>{text}</{tag}>")
        return "<xml>" + "".join(parts) + "</xml>"

    def text_message_xml(
        self,
        from_user: str,
        content: str,
        msgid: int | str,
        agent_id: int = DEFAULT_AGENT_ID,
        create_time: int = 1_700_000_000,
    ) -> str:
        return self.message_xml(
            {
                "FromUserName": from_user,
                "CreateTime": create_time,
                "MsgType": "text",
                "Content": content,
                "MsgId": msgid if isinstance(msgid, int) else Bare(msgid),
                "AgentID": agent_id,
            }
        )

    def voice_message_xml(
        self,
        from_user: str,
        msgid: int,
        recognition: str | None,
        agent_id: int = DEFAULT_AGENT_ID,
        create_time: int = 1_700_000_000,
    ) -> str:
        return self.message_xml(
            {
                "FromUserName": from_user,
                "CreateTime": create_time,
                "MsgType": "voice",
                "MediaId": "media-id",
                "Format": "amr",
                "Recognition": recognition,
                "MsgId": msgid,
                "AgentID": agent_id,
            }
        )

    def event_xml(
        self,
        from_user: str,
        event: str = "enter_agent",
        agent_id: int = DEFAULT_AGENT_ID,
        create_time: int = 1_700_000_000,
    ) -> str:
        return self.message_xml(
            {
                "FromUserName": from_user,
                "CreateTime": create_time,
                "MsgType": "event",
                "Event": event,
                "EventKey": "",
                "AgentID": agent_id,
            }
        )

    def decrypt(self, encrypt: str, msg_signature: str, timestamp: int | str, nonce: str) -> bytes:
        ret, plain = self.crypt.DecryptMsg(
            self.envelope(encrypt).decode(), msg_signature, str(timestamp), nonce
        )
        if ret != 0:
            raise PeerError("DecryptMsg", ret)
        return bytes(plain)

    def decrypt_reply(self, reply: bytes | str) -> bytes:
        """Decrypt our encrypted passive reply (``<Encrypt>``, ``<MsgSignature>``, ``<TimeStamp>``,
        ``<Nonce>``), checking its signature like WeCom does."""
        root = ET.fromstring(reply)
        return self.decrypt(
            str(root.findtext("Encrypt")),
            str(root.findtext("MsgSignature")),
            str(root.findtext("TimeStamp")),
            str(root.findtext("Nonce")),
        )


# ---------------------------------------------------------------------------- AI-bot payloads


def response_url_for(msgid: str) -> str:
    """A default ``response_url``: loopback port 9 (discard), so nothing can reach Tencent."""
    return f"http://127.0.0.1:9/cgi-bin/aibot/response?response_code=rc-{msgid}"


def text_item(content: str) -> dict[str, Any]:
    return {"msgtype": "text", "text": {"content": content}}


def image_item(url: str) -> dict[str, Any]:
    return {"msgtype": "image", "image": {"url": url}}


def quote_text(content: str) -> dict[str, Any]:
    """A ``quote`` of a text message."""
    return text_item(content)


def _base(
    msgid: str,
    userid: str,
    msgtype: str,
    chatid: str | None,
    response_url: str | None,
    aibotid: str,
    with_response_url: bool = True,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"msgid": msgid, "aibotid": aibotid}
    if chatid is not None:
        payload["chatid"] = chatid
    payload["chattype"] = "group" if chatid is not None else "single"
    payload["from"] = {"userid": userid}
    if with_response_url:
        payload["response_url"] = response_url or response_url_for(msgid)
    payload["msgtype"] = msgtype
    return payload


def _quote(quote: str | Mapping[str, Any] | None) -> dict[str, Any] | None:
    if quote is None:
        return None
    return quote_text(quote) if isinstance(quote, str) else dict(quote)


def aibot_text(
    msgid: str,
    userid: str,
    content: str,
    chatid: str | None = None,
    response_url: str | None = None,
    quote: str | Mapping[str, Any] | None = None,
    aibotid: str = "AIBOTID",
) -> dict[str, Any]:
    """A text message (§2.2). ``chatid`` makes it a group message; then ``content`` should
    start with the bot's mention as WeCom sends it, e.g. ``"@企业服务助手\\u2005hello"``.
    ``response_url=None`` gives :func:`response_url_for`; ``quote`` is a text or a quote dict."""
    payload = _base(msgid, userid, "text", chatid, response_url, aibotid)
    payload["text"] = {"content": content}
    if (q := _quote(quote)) is not None:
        payload["quote"] = q
    return payload


def aibot_mixed(
    msgid: str,
    userid: str,
    items: Sequence[str | Mapping[str, Any]],
    chatid: str | None = None,
    response_url: str | None = None,
    quote: str | Mapping[str, Any] | None = None,
    aibotid: str = "AIBOTID",
) -> dict[str, Any]:
    """A 图文混排 message; ``items`` are texts (``str``) or item dicts (:func:`image_item`)."""
    payload = _base(msgid, userid, "mixed", chatid, response_url, aibotid)
    payload["mixed"] = {
        "msg_item": [text_item(i) if isinstance(i, str) else dict(i) for i in items]
    }
    if (q := _quote(quote)) is not None:
        payload["quote"] = q
    return payload


def aibot_voice(
    msgid: str, userid: str, content: str, response_url: str | None = None, aibotid: str = "AIBOTID"
) -> dict[str, Any]:
    """A voice message (single chat only); ``content`` is WeCom's transcription."""
    payload = _base(msgid, userid, "voice", None, response_url, aibotid)
    payload["voice"] = {"content": content}
    return payload


def aibot_image(
    msgid: str,
    userid: str,
    url: str = "https://example.invalid/img",
    response_url: str | None = None,
    aibotid: str = "AIBOTID",
) -> dict[str, Any]:
    payload = _base(msgid, userid, "image", None, response_url, aibotid)
    payload["image"] = {"url": url}
    return payload


def aibot_file(
    msgid: str,
    userid: str,
    url: str = "https://example.invalid/file",
    response_url: str | None = None,
    aibotid: str = "AIBOTID",
) -> dict[str, Any]:
    payload = _base(msgid, userid, "file", None, response_url, aibotid)
    payload["file"] = {"url": url}
    return payload


def aibot_event(
    msgid: str,
    userid: str,
    eventtype: str = "enter_chat",
    chatid: str | None = None,
    aibotid: str = "AIBOTID",
) -> dict[str, Any]:
    """An event callback (§2.4), e.g. ``enter_chat``."""
    payload = _base(msgid, userid, "event", chatid, None, aibotid)
    payload["event"] = {"eventtype": eventtype}
    return payload


def aibot_stream(
    msgid: str, userid: str, stream_id: str, chatid: str | None = None, aibotid: str = "AIBOTID"
) -> dict[str, Any]:
    """A 流式消息刷新 callback (§2.3): no ``response_url``."""
    payload = _base(msgid, userid, "stream", chatid, None, aibotid, with_response_url=False)
    payload["stream"] = {"id": stream_id}
    return payload
