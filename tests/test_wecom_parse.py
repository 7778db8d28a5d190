"""bot.wecom.parse: envelopes (hostile input) and decrypted messages.

Messages travel the real path: the peer (tests/peer.py) encrypts them, our crypto decrypts them,
then they are parsed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.wecom.crypto import CallbackCrypto, MalformedPayload, WrongReceiver
from bot.wecom.parse import (
    extract_aibot_encrypt,
    extract_app_encrypt,
    parse_aibot_message,
    parse_app_message,
    strip_mentions,
)
from handlers.incoming import Incoming
from tests.peer import (
    TENCENT_DECRYPT_BODY,
    AibotPeer,
    AppPeer,
    Bare,
    aibot_event,
    aibot_file,
    aibot_image,
    aibot_mixed,
    aibot_stream,
    aibot_text,
    aibot_voice,
    image_item,
    response_url_for,
    text_item,
)

TOKEN = "parseTok3n"
KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
CORP = "wwparsecorp0001"
NOW = 1_764_000_000
NONCE = "4774468"
BOT = "企业服务助手"
SP = "\u2005"  # what WeCom puts after an @mention


@pytest.fixture
def deliver_aibot() -> Callable[[Mapping[str, Any] | bytes], bytes]:
    """Peer encrypts the payload, our crypto extracts and decrypts it: the plaintext bytes."""
    peer = AibotPeer(TOKEN, KEY)
    ours = CallbackCrypto(TOKEN, KEY, "", now=lambda: NOW)

    def deliver(payload: Mapping[str, Any] | bytes) -> bytes:
        query, body = peer.encrypt_callback(payload, NOW, NONCE)
        return ours.decrypt(
            query["msg_signature"], query["timestamp"], query["nonce"], extract_aibot_encrypt(body)
        )

    return deliver


@pytest.fixture
def app_peer() -> AppPeer:
    return AppPeer(TOKEN, KEY, CORP)


@pytest.fixture
def deliver_app(app_peer: AppPeer) -> Callable[[str], bytes]:
    ours = CallbackCrypto(TOKEN, KEY, CORP, now=lambda: NOW)

    def deliver(xml: str) -> bytes:
        query, body = app_peer.encrypt_callback(xml, NOW, NONCE)
        return ours.decrypt(
            query["msg_signature"], query["timestamp"], query["nonce"], extract_app_encrypt(body)
        )

    return deliver


# ---------------------------------------------------------------------------- envelopes


def test_extract_aibot_encrypt() -> None:
    query, body = AibotPeer(TOKEN, KEY).encrypt_callback({"msgtype": "text"}, NOW, NONCE)
    encrypt = extract_aibot_encrypt(body)
    assert encrypt == json.loads(body)["encrypt"]
    assert query["msg_signature"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"encrypt=abc", id="not-json"),
        pytest.param(b'{"encrypt": "abc"', id="truncated"),
        pytest.param(b'["abc"]', id="array"),
        pytest.param(b'"abc"', id="string"),
        pytest.param(b"null", id="null"),
        pytest.param(b"{}", id="missing-encrypt"),
        pytest.param(b'{"Encrypt": "abc"}', id="wrong-case"),
        pytest.param(b'{"encrypt": ""}', id="empty-encrypt"),
        pytest.param(b'{"encrypt": 12345}', id="number-encrypt"),
        pytest.param(b'{"encrypt": null}', id="null-encrypt"),
        pytest.param(b'{"encrypt": ["abc"]}', id="list-encrypt"),
        pytest.param(b'{"encrypt": "\xff\xfe"}', id="non-utf8"),
        pytest.param('{"encrypt": "abc"}'.encode("utf-16"), id="utf16"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="deeply-nested"),
        pytest.param(TENCENT_DECRYPT_BODY, id="xml-envelope"),
    ],
)
def test_extract_aibot_encrypt_refuses(body: bytes) -> None:
    with pytest.raises(MalformedPayload) as info:
        extract_aibot_encrypt(body)
    assert info.value.http_status == 400


def test_extract_app_encrypt(app_peer: AppPeer) -> None:
    encrypt, _ = app_peer.encrypt_raw("<xml/>", NOW, NONCE)
    assert extract_app_encrypt(app_peer.envelope(encrypt)) == encrypt
    assert extract_app_encrypt(TENCENT_DECRYPT_BODY).startswith("Kl7kjoSf6DMD")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<xml><ToUserName>x</ToUserName><Encrypt>&lol9;</Encrypt></xml>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><Encrypt>&xxe;</Encrypt></xml>"""

BAD_APP_ENVELOPES = [
    pytest.param(BILLION_LAUGHS, id="billion-laughs"),
    pytest.param(EXTERNAL_ENTITY, id="external-entity"),
    pytest.param(b"<!DOCTYPE xml><xml><Encrypt>abc</Encrypt></xml>", id="doctype"),
    pytest.param(
        b'<!DOCTYPE xml [<!ENTITY e "abc">]><xml><Encrypt>&e;</Encrypt></xml>',
        id="internal-entity",
    ),
    pytest.param(b"", id="empty"),
    pytest.param(b'{"encrypt": "abc"}', id="json"),
    pytest.param(b"<xml><Encrypt>abc</Encrypt>", id="unclosed"),
    pytest.param(b"<root><Encrypt>abc</Encrypt></root>", id="wrong-root"),
    pytest.param(b"<xml><ToUserName>x</ToUserName></xml>", id="missing-encrypt"),
    pytest.param(b"<xml><Encrypt><![CDATA[]]></Encrypt></xml>", id="empty-encrypt"),
    pytest.param(b"<xml><Encrypt>  </Encrypt></xml>", id="blank-encrypt"),
    pytest.param(b"<xml><Encrypt>a</Encrypt><Encrypt>b</Encrypt></xml>", id="duplicate-encrypt"),
    pytest.param(b"<xml><Encrypt>\xff\xfe</Encrypt></xml>", id="non-utf8"),
    pytest.param(b"<xml><Inner><Encrypt>abc</Encrypt></Inner></xml>", id="nested-encrypt"),
]


@pytest.mark.parametrize("body", BAD_APP_ENVELOPES)
def test_extract_app_encrypt_refuses(body: bytes) -> None:
    with pytest.raises(MalformedPayload) as info:
        extract_app_encrypt(body)
    assert info.value.http_status == 400


# ---------------------------------------------------------------------------- AI bot messages


@pytest.mark.parametrize(
    ("content", "names", "expected"),
    [
        pytest.param(f"@{BOT}{SP}燃气报修", [BOT], "燃气报修", id="u2005-named"),
        pytest.param(f"@{BOT} 燃气报修", [BOT], "燃气报修", id="space-named"),
        pytest.param(f"@{BOT}{SP}燃气报修", [], "燃气报修", id="u2005-unnamed"),
        pytest.param(f"@{BOT} 燃气报修", [], "燃气报修", id="space-unnamed"),
        pytest.param(f"请 @{BOT}{SP}看一下", [BOT], "请 看一下", id="mid-text-named"),
        pytest.param(f"@{BOT}{SP}@张三{SP}帮忙", [BOT], f"@张三{SP}帮忙", id="keeps-other-mention"),
        pytest.param(f"@RobotA{SP}hello", ["RobotB", "RobotA"], "hello", id="second-name"),
        pytest.param(f"@{BOT}", [BOT], "", id="mention-only-named"),
        pytest.param(f"@{BOT}", [], "", id="mention-only-unnamed"),
        pytest.param(f"  @{BOT}{SP}  hi  ", [], "hi", id="surrounding-space"),
        pytest.param("没有提及", [BOT], "没有提及", id="no-mention"),
        pytest.param(f"@{BOT}{SP}a@{BOT}{SP}b", [BOT], "ab", id="twice"),
    ],
)
def test_group_text_strips_mention(
    deliver_aibot: Callable[[Mapping[str, Any]], bytes],
    content: str,
    names: list[str],
    expected: str,
) -> None:
    payload = aibot_text("msg-1", "wang.min", content, chatid="chat_a")
    msg = parse_aibot_message(deliver_aibot(payload), bot_names=names)
    assert msg is not None
    assert msg.text == expected


def test_group_text_fields(deliver_aibot: Callable[[Mapping[str, Any]], bytes]) -> None:
    payload = aibot_text(
        "CAIQ16HMjQYY/NGagIOAgAMgq4KM0AI=", "wang.min", f"@{BOT}{SP}路灯不亮", chatid="chat_a"
    )
    msg = parse_aibot_message(deliver_aibot(payload), bot_names=[BOT])
    assert msg == Incoming(
        channel="aibot",
        msgid="CAIQ16HMjQYY/NGagIOAgAMgq4KM0AI=",
        sender="wang.min",
        chat_type="group",
        text="路灯不亮",
        msgtype="text",
        chatid="chat_a",
        response_url=response_url_for("CAIQ16HMjQYY/NGagIOAgAMgq4KM0AI="),
        quote_text=None,
        mentioned=True,
        created_at=None,
        extra={"aibotid": "AIBOTID"},
    )


def test_single_chat_text(deliver_aibot: Callable[[Mapping[str, Any]], bytes]) -> None:
    payload = aibot_text("m2", "li.qiang", f"@张三{SP}你好", response_url="https://x.invalid/r")
    msg = parse_aibot_message(deliver_aibot(payload), bot_names=[BOT])
    assert msg is not None
    assert (msg.chat_type, msg.chatid, msg.mentioned) == ("single", None, False)
    assert msg.text == f"@张三{SP}你好"  # only configured names are removed in single chats
    assert msg.response_url == "https://x.invalid/r"


def test_single_chat_named_mention_removed(
    deliver_aibot: Callable[[Mapping[str, Any]], bytes],
) -> None:
    msg = parse_aibot_message(deliver_aibot(aibot_text("m", "u", f"@{BOT} 查询")), bot_names=[BOT])
    assert msg is not None
    assert msg.text == "查询"


def test_mixed(deliver_aibot: Callable[[Mapping[str, Any]], bytes]) -> None:
    payload = aibot_mixed(
        "m3",
        "wang.min",
        [f"@{BOT}{SP}第一行", image_item("https://x.invalid/i.png"), "第二行"],
        chatid="chat_a",
    )
    msg = parse_aibot_message(deliver_aibot(payload), bot_names=[BOT])
    assert msg is not None
    assert (msg.msgtype, msg.text) == ("mixed", "第一行\n第二行")


def test_mixed_images_only(deliver_aibot: Callable[[Mapping[str, Any]], bytes]) -> None:
    payload = aibot_mixed("m", "u", [image_item("https://x.invalid/1")])
    msg = parse_aibot_message(deliver_aibot(payload))
    assert msg is not None
    assert msg.text == ""


@pytest.mark.parametrize(
    ("quote", "expected"),
    [
        pytest.param("原消息内容", "原消息内容", id="text"),
        pytest.param(
            {
                "msgtype": "mixed",
                "mixed": {"msg_item": [text_item("甲"), image_item("u"), text_item("乙")]},
            },
            "甲\n乙",
            id="mixed",
        ),
        pytest.param({"msgtype": "voice", "voice": {"content": "语音"}}, "语音", id="voice"),
        pytest.param({"msgtype": "image", "image": {"url": "u"}}, None, id="image"),
        pytest.param({"msgtype": "text"}, None, id="text-without-content"),
        pytest.param({"msgtype": "text", "text": {"content": 5}}, None, id="content-not-string"),
    ],
)
def test_quote(
    deliver_aibot: Callable[[Mapping[str, Any]], bytes],
    quote: str | dict[str, Any],
    expected: str | None,
) -> None:
    payload = aibot_text("m4", "u", f"@{BOT}{SP}这个怎么办", chatid="chat_a", quote=quote)
    msg = parse_aibot_message(deliver_aibot(payload), bot_names=[BOT])
    assert msg is not None
    assert msg.text == "这个怎么办"
    assert msg.quote_text == expected


def test_voice(deliver_aibot: Callable[[Mapping[str, Any]], bytes]) -> None:
    msg = parse_aibot_message(deliver_aibot(aibot_voice("m5", "u", "我要报修水管")))
    assert msg is not None
    assert (msg.msgtype, msg.text, msg.chat_type) == ("voice", "我要报修水管", "single")


@pytest.mark.parametrize(
    "factory",
    [pytest.param(aibot_image, id="image"), pytest.param(aibot_file, id="file")],
)
def test_media_has_no_text(
    deliver_aibot: Callable[[Mapping[str, Any]], bytes], factory: Callable[..., dict[str, Any]]
) -> None:
    payload = factory("m6", "u")
    msg = parse_aibot_message(deliver_aibot(payload))
    assert msg is not None
    assert (msg.msgtype, msg.text) == (payload["msgtype"], "")


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(aibot_event("m7", "u", "enter_chat"), id="enter-chat"),
        pytest.param(aibot_event("m8", "u", "template_card_event", chatid="c"), id="card-event"),
        pytest.param(aibot_stream("m9", "u", "stream-1", chatid="chat_a"), id="stream"),
        pytest.param({"msgtype": "event", "event": {"eventtype": "enter_chat"}}, id="bare-event"),
    ],
)
def test_not_messages(
    deliver_aibot: Callable[[Mapping[str, Any]], bytes], payload: dict[str, Any]
) -> None:
    assert parse_aibot_message(deliver_aibot(payload), bot_names=[BOT]) is None


def test_create_time_is_utc(deliver_aibot: Callable[[Mapping[str, Any]], bytes]) -> None:
    payload = {**aibot_text("m", "u", "hi"), "create_time": 1_700_000_000}
    msg = parse_aibot_message(deliver_aibot(payload))
    assert msg is not None
    assert msg.created_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def _without(payload: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k not in keys}


_GOOD = aibot_text("m10", "u", "hi", chatid="chat_a")

BAD_AIBOT = [
    pytest.param(_without(_GOOD, "msgid"), id="no-msgid"),
    pytest.param({**_GOOD, "msgid": ""}, id="empty-msgid"),
    pytest.param({**_GOOD, "msgid": None}, id="null-msgid"),
    pytest.param({**_GOOD, "msgid": ["x"]}, id="list-msgid"),
    pytest.param(_without(_GOOD, "from"), id="no-from"),
    pytest.param({**_GOOD, "from": {}}, id="no-userid"),
    pytest.param({**_GOOD, "from": {"userid": ""}}, id="empty-userid"),
    pytest.param({**_GOOD, "from": {"userid": 7}}, id="number-userid"),
    pytest.param({**_GOOD, "from": "u"}, id="from-not-object"),
    pytest.param(_without(_GOOD, "msgtype"), id="no-msgtype"),
    pytest.param({**_GOOD, "chattype": "channel"}, id="unknown-chattype"),
    pytest.param(_without(_GOOD, "chatid"), id="group-without-chatid"),
    pytest.param({**_GOOD, "text": {"content": 42}}, id="content-not-string"),
    pytest.param({**_GOOD, "response_url": 1}, id="response-url-not-string"),
    pytest.param({**_GOOD, "msgtype": "mixed", "mixed": {"msg_item": "x"}}, id="bad-mixed"),
]


@pytest.mark.parametrize("payload", BAD_AIBOT)
def test_aibot_missing_or_bad_fields(
    deliver_aibot: Callable[[Mapping[str, Any]], bytes], payload: dict[str, Any]
) -> None:
    with pytest.raises(MalformedPayload):
        parse_aibot_message(deliver_aibot(payload))


@pytest.mark.parametrize(
    "plain",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"[1, 2]", id="array"),
        pytest.param(b"<xml/>", id="xml"),
    ],
)
def test_aibot_plaintext_not_object(
    deliver_aibot: Callable[[Mapping[str, Any] | bytes], bytes], plain: bytes
) -> None:
    with pytest.raises(MalformedPayload):
        parse_aibot_message(deliver_aibot(plain))


def test_numeric_msgid_accepted(deliver_aibot: Callable[[Mapping[str, Any]], bytes]) -> None:
    msg = parse_aibot_message(deliver_aibot({**_GOOD, "msgid": 12345}))
    assert msg is not None
    assert msg.msgid == "12345"


def test_chattype_inferred_when_absent(
    deliver_aibot: Callable[[Mapping[str, Any]], bytes],
) -> None:
    group = parse_aibot_message(deliver_aibot(_without(_GOOD, "chattype")))
    single = parse_aibot_message(deliver_aibot(_without(_GOOD, "chattype", "chatid")))
    assert group is not None
    assert single is not None
    assert (group.chat_type, single.chat_type) == ("group", "single")


def test_unknown_msgtype_gives_empty_text(
    deliver_aibot: Callable[[Mapping[str, Any]], bytes],
) -> None:
    msg = parse_aibot_message(deliver_aibot({**_GOOD, "msgtype": "video", "video": {}}))
    assert msg is not None
    assert (msg.msgtype, msg.text) == ("video", "")


def test_strip_mentions_requires_word_boundary() -> None:
    assert strip_mentions(f"@{BOT}二号 你好", [BOT]) == f"@{BOT}二号 你好"
    assert strip_mentions(f"@{BOT}，你好", [BOT]) == "，你好"
    assert strip_mentions("@bot.name x", ["bot.name"]) == "x"
    assert strip_mentions("@botXname x", ["bot.name"]) == "@botXname x"  # names are literal


# ---------------------------------------------------------------------------- app messages


def test_app_text(app_peer: AppPeer, deliver_app: Callable[[str], bytes]) -> None:
    xml = app_peer.text_message_xml(
        "off.gas", " /签收 GD-20261123-0001 ", 7_000_000_001, create_time=1_700_000_000
    )
    msg = parse_app_message(deliver_app(xml), corp_id=CORP)
    assert msg == Incoming(
        channel="app",
        msgid="7000000001",
        sender="off.gas",
        chat_type="single",
        text="/签收 GD-20261123-0001",
        msgtype="text",
        mentioned=False,
        created_at=datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
        extra={"agent_id": "1000002"},
    )


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("a ]]> b", id="cdata-end"),
        pytest.param("<b>&amp;</b>", id="markup"),
        pytest.param("第一行\n第二行", id="multiline"),
        pytest.param("😀 emoji", id="emoji"),
    ],
)
def test_app_text_content_survives(
    app_peer: AppPeer, deliver_app: Callable[[str], bytes], content: str
) -> None:
    msg = parse_app_message(deliver_app(app_peer.text_message_xml("u", content, 1)), corp_id=CORP)
    assert msg is not None
    assert msg.text == content


def test_app_wrong_to_user(app_peer: AppPeer, deliver_app: Callable[[str], bytes]) -> None:
    xml = app_peer.message_xml(
        {
            "ToUserName": "wwsomeoneelse",
            "FromUserName": "u",
            "MsgType": "text",
            "Content": "hi",
            "MsgId": 1,
        }
    )
    with pytest.raises(WrongReceiver) as info:
        parse_app_message(deliver_app(xml), corp_id=CORP)
    assert info.value.http_status == 403


@pytest.mark.parametrize(
    "event", ["enter_agent", "subscribe", "click", "LOCATION", "change_external_chat"]
)
def test_app_event_is_none(
    app_peer: AppPeer, deliver_app: Callable[[str], bytes], event: str
) -> None:
    assert parse_app_message(deliver_app(app_peer.event_xml("u", event)), corp_id=CORP) is None


def test_app_image_is_none(app_peer: AppPeer, deliver_app: Callable[[str], bytes]) -> None:
    xml = app_peer.message_xml(
        {
            "FromUserName": "u",
            "CreateTime": 1,
            "MsgType": "image",
            "PicUrl": "http://x.invalid",
            "MediaId": "m",
            "MsgId": 5,
            "AgentID": 1,
        }
    )
    assert parse_app_message(deliver_app(xml), corp_id=CORP) is None


def test_app_voice_with_recognition(app_peer: AppPeer, deliver_app: Callable[[str], bytes]) -> None:
    msg = parse_app_message(
        deliver_app(app_peer.voice_message_xml("u", 9, "查一下我的工单")), corp_id=CORP
    )
    assert msg is not None
    assert (msg.msgtype, msg.text, msg.msgid) == ("voice", "查一下我的工单", "9")


@pytest.mark.parametrize("recognition", [None, ""], ids=["absent", "empty"])
def test_app_voice_without_recognition(
    app_peer: AppPeer, deliver_app: Callable[[str], bytes], recognition: str | None
) -> None:
    xml = app_peer.voice_message_xml("u", 9, recognition)
    assert parse_app_message(deliver_app(xml), corp_id=CORP) is None


_APP_GOOD: dict[str, str | int | None] = {
    "FromUserName": "u",
    "CreateTime": 1_700_000_000,
    "MsgType": "text",
    "Content": "hi",
    "MsgId": 42,
    "AgentID": 1000002,
}

BAD_APP = [
    pytest.param({**_APP_GOOD, "MsgId": None}, id="no-msgid"),
    pytest.param({**_APP_GOOD, "MsgId": Bare("")}, id="empty-msgid"),
    pytest.param({**_APP_GOOD, "MsgId": Bare("abc")}, id="non-numeric-msgid"),
    pytest.param({**_APP_GOOD, "MsgId": Bare("-1")}, id="negative-msgid"),
    pytest.param({**_APP_GOOD, "FromUserName": None}, id="no-from"),
    pytest.param({**_APP_GOOD, "ToUserName": None}, id="no-to"),
    pytest.param({**_APP_GOOD, "MsgType": None}, id="no-msgtype"),
    pytest.param({**_APP_GOOD, "CreateTime": Bare("yesterday")}, id="bad-createtime"),
]


@pytest.mark.parametrize("fields", BAD_APP)
def test_app_missing_or_bad_fields(
    app_peer: AppPeer, deliver_app: Callable[[str], bytes], fields: dict[str, str | int | None]
) -> None:
    with pytest.raises(MalformedPayload):
        parse_app_message(deliver_app(app_peer.message_xml(fields)), corp_id=CORP)


def test_app_missing_createtime_is_tolerated(
    app_peer: AppPeer, deliver_app: Callable[[str], bytes]
) -> None:
    msg = parse_app_message(
        deliver_app(app_peer.message_xml({**_APP_GOOD, "CreateTime": None})), corp_id=CORP
    )
    assert msg is not None
    assert msg.created_at is None


@pytest.mark.parametrize(
    "xml",
    [
        pytest.param("not xml", id="not-xml"),
        pytest.param('{"msgtype": "text"}', id="json"),
        pytest.param(
            f'<!DOCTYPE xml [<!ENTITY e "x">]><xml><ToUserName>{CORP}</ToUserName>'
            "<MsgType>text</MsgType><Content>&e;</Content><MsgId>1</MsgId></xml>",
            id="entity",
        ),
        pytest.param(f"<msg><ToUserName>{CORP}</ToUserName></msg>", id="wrong-root"),
    ],
)
def test_app_plaintext_malformed(deliver_app: Callable[[str], bytes], xml: str) -> None:
    with pytest.raises(MalformedPayload):
        parse_app_message(deliver_app(xml), corp_id=CORP)
