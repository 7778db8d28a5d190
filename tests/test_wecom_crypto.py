"""bot.wecom.crypto against an independent implementation (tests/peer.py) and Tencent's vectors.

Every ciphertext fed to our code is made by the peer (wx-crypt / weworkapi) or crafted by hand
with the ``cryptography`` package, never by ``CallbackCrypto.encrypt``; what we encrypt is
checked by the peer's decryptor.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.wecom.crypto import (
    BadSignature,
    CallbackCrypto,
    CallbackRejected,
    MalformedPayload,
    StaleTimestamp,
    WrongReceiver,
)
from bot.wecom.parse import extract_aibot_encrypt, extract_app_encrypt, parse_app_message
from tests.peer import (
    TENCENT_AES_KEY,
    TENCENT_CORP_ID,
    TENCENT_DECRYPT_BODY,
    TENCENT_DECRYPT_PLAIN,
    TENCENT_DECRYPT_QUERY,
    TENCENT_DECRYPT_TIMESTAMP,
    TENCENT_TOKEN,
    TENCENT_VERIFY_PLAIN,
    TENCENT_VERIFY_QUERY,
    TENCENT_VERIFY_TIMESTAMP,
    AibotPeer,
    AppPeer,
    aibot_text,
    peer_sign,
)

TOKEN = "gridTok3nForTests"
KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
CORP = "wwcorpA000000001"
OTHER_CORP = "wwcorpB000000002"
NOW = 1_764_000_000
NONCE = "1597212914"
RAW_KEY = base64.b64decode(KEY + "=")


def crypto(receive_id: str = "", now: float = NOW, max_skew: int = 300) -> CallbackCrypto:
    return CallbackCrypto(TOKEN, KEY, receive_id, now=lambda: now, max_skew=max_skew)


@pytest.fixture
def aibot_peer() -> AibotPeer:
    return AibotPeer(TOKEN, KEY)


@pytest.fixture
def app_peer() -> AppPeer:
    return AppPeer(TOKEN, KEY, CORP)


def craft(plain_padded: bytes) -> str:
    """AES-256-CBC (IV = key[:16]) over already padded bytes, Base64: for broken plaintexts."""
    enc = Cipher(algorithms.AES(RAW_KEY), modes.CBC(RAW_KEY[:16])).encryptor()
    return base64.b64encode(enc.update(plain_padded) + enc.finalize()).decode()


def frame(msg: bytes, receive_id: bytes = b"") -> bytes:
    return b"R" * 16 + struct.pack(">I", len(msg)) + msg + receive_id


def pad32(data: bytes) -> bytes:
    n = 32 - len(data) % 32
    return data + bytes([n]) * n


def assert_clean(exc: CallbackRejected, *secret: str) -> None:
    """The exception says nothing but its generic reason: no key, token or message data."""
    text = f"{exc} {exc.reason} {exc.detail} {exc!r}"
    for item in (KEY, TOKEN, *secret):
        assert item not in text


# ---------------------------------------------------------------------------- known answers


def test_tencent_verify_url_vector() -> None:
    c = CallbackCrypto(
        TENCENT_TOKEN, TENCENT_AES_KEY, TENCENT_CORP_ID, now=lambda: TENCENT_VERIFY_TIMESTAMP
    )
    q = TENCENT_VERIFY_QUERY
    echo = c.verify_url(q["msg_signature"], q["timestamp"], q["nonce"], q["echostr"])
    assert echo == TENCENT_VERIFY_PLAIN


def test_tencent_decrypt_msg_vector() -> None:
    c = CallbackCrypto(
        TENCENT_TOKEN, TENCENT_AES_KEY, TENCENT_CORP_ID, now=lambda: TENCENT_DECRYPT_TIMESTAMP
    )
    q = TENCENT_DECRYPT_QUERY
    plain = c.decrypt(
        q["msg_signature"], q["timestamp"], q["nonce"], extract_app_encrypt(TENCENT_DECRYPT_BODY)
    )
    assert plain == TENCENT_DECRYPT_PLAIN
    msg = parse_app_message(plain, corp_id=TENCENT_CORP_ID)
    assert msg is not None
    assert (msg.channel, msg.sender, msg.text, msg.msgid) == (
        "app",
        "ChenJiaShun",
        "你好",
        "1456453720",
    )
    assert msg.created_at == datetime(2016, 10, 14, 5, 26, 19, tzinfo=UTC)
    assert msg.extra == {"agent_id": "1000002"}


def test_tencent_vector_is_stale_today() -> None:
    c = CallbackCrypto(
        TENCENT_TOKEN, TENCENT_AES_KEY, TENCENT_CORP_ID, now=lambda: TENCENT_VERIFY_TIMESTAMP + 301
    )
    q = TENCENT_VERIFY_QUERY
    with pytest.raises(StaleTimestamp):
        c.verify_url(q["msg_signature"], q["timestamp"], q["nonce"], q["echostr"])


def test_tencent_vector_refused_for_another_corp() -> None:
    c = CallbackCrypto(TENCENT_TOKEN, TENCENT_AES_KEY, OTHER_CORP, now=lambda: 1476416373)
    q = TENCENT_VERIFY_QUERY
    with pytest.raises(WrongReceiver):
        c.verify_url(q["msg_signature"], q["timestamp"], q["nonce"], q["echostr"])


# ---------------------------------------------------------------------------- round trips

ECHOES = [
    pytest.param("1288432023552776189", id="digits"),
    pytest.param("回调验证", id="chinese"),
    pytest.param("x" * 32, id="block-aligned"),
]


@pytest.mark.parametrize("echo", ECHOES)
def test_verify_url_aibot(aibot_peer: AibotPeer, echo: str) -> None:
    q = aibot_peer.verify_query(echo, NOW, NONCE)
    echoed = crypto("").verify_url(q["msg_signature"], q["timestamp"], q["nonce"], q["echostr"])
    assert echoed == echo


@pytest.mark.parametrize("echo", ECHOES)
def test_verify_url_app(app_peer: AppPeer, echo: str) -> None:
    q = app_peer.verify_query(echo, NOW, NONCE)
    assert crypto(CORP).verify_url(
        q["msg_signature"], q["timestamp"], q["nonce"], q["echostr"]
    ) == (echo)


def test_aibot_callback_peer_to_us(aibot_peer: AibotPeer) -> None:
    payload = aibot_text("msg-1", "wang.min", "@企业服务助手\u2005燃气泄漏", chatid="chat_a")
    query, body = aibot_peer.encrypt_callback(payload, NOW, NONCE)
    plain = crypto("").decrypt(
        query["msg_signature"], query["timestamp"], query["nonce"], extract_aibot_encrypt(body)
    )
    assert json.loads(plain) == payload


def test_app_callback_peer_to_us(app_peer: AppPeer) -> None:
    xml = app_peer.text_message_xml("off.gas", "/签收 GD-20261123-0001", 7_000_000_001)
    query, body = app_peer.encrypt_callback(xml, NOW, NONCE)
    plain = crypto(CORP).decrypt(
        query["msg_signature"], query["timestamp"], query["nonce"], extract_app_encrypt(body)
    )
    assert plain == xml.encode()


SIZES = [0, 1, 11, 12, 31, 32, 33, 100, 4096]


@pytest.mark.parametrize("size", SIZES, ids=[f"{n}B" for n in SIZES])
def test_padding_boundaries_peer_to_us(aibot_peer: AibotPeer, size: int) -> None:
    plaintext = ("汉" * (size // 3)).encode() + b"a" * (size % 3)
    encrypt, signature = aibot_peer.encrypt_raw(plaintext, NOW, NONCE)
    assert crypto("").decrypt(signature, str(NOW), NONCE, encrypt) == plaintext


@pytest.mark.parametrize("size", SIZES, ids=[f"{n}B" for n in SIZES])
def test_padding_boundaries_us_to_peer(aibot_peer: AibotPeer, size: int) -> None:
    plaintext = b"z" * size
    encrypt, signature = crypto("").encrypt(plaintext, NONCE, NOW)
    assert aibot_peer.decrypt(encrypt, signature, NOW, NONCE) == plaintext


def test_aibot_reply_us_to_peer(aibot_peer: AibotPeer) -> None:
    reply = json.dumps(
        {"msgtype": "stream", "stream": {"id": "s1", "finish": True, "content": "已受理"}},
        ensure_ascii=False,
    ).encode()
    encrypt, signature = crypto("").encrypt(reply, NONCE, NOW)
    envelope = {
        "encrypt": encrypt,
        "msgsignature": signature,
        "timestamp": str(NOW),
        "nonce": NONCE,
    }
    assert aibot_peer.decrypt_reply(json.dumps(envelope)) == reply


def test_app_reply_us_to_peer(app_peer: AppPeer) -> None:
    reply = (
        f"<xml><ToUserName><![CDATA[off.gas]]></ToUserName><FromUserName><![CDATA[{CORP}]]>"
        "</FromUserName><CreateTime>1764000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        "<Content><![CDATA[收到]]></Content></xml>"
    ).encode()
    encrypt, signature = crypto(CORP).encrypt(reply, NONCE, NOW)
    envelope = (
        f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt>"
        f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>"
        f"<TimeStamp>{NOW}</TimeStamp><Nonce><![CDATA[{NONCE}]]></Nonce></xml>"
    )
    assert app_peer.decrypt_reply(envelope) == reply


def test_encrypt_is_randomised_and_signed_like_peer() -> None:
    c = crypto("")
    first = c.encrypt(b"same", NONCE, NOW)
    second = c.encrypt(b"same", NONCE, NOW)
    assert first[0] != second[0]
    assert first[1] == peer_sign(TOKEN, NOW, NONCE, first[0])


# ---------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda s: s[:-1] + ("0" if s[-1] != "0" else "1"), id="tampered"),
        pytest.param(lambda s: "", id="empty"),
        pytest.param(lambda s: s.upper(), id="uppercase"),
        pytest.param(lambda s: s + "0", id="too-long"),
        pytest.param(lambda s: "签名" + s[2:], id="non-ascii"),
        pytest.param(lambda s: peer_sign("other-token", NOW, NONCE, "x"), id="other-token"),
    ],
)
def test_bad_signature(aibot_peer: AibotPeer, mangle: Callable[[str], str]) -> None:
    query, body = aibot_peer.encrypt_callback(aibot_text("m", "u", "hi"), NOW, NONCE)
    encrypt = extract_aibot_encrypt(body)
    with pytest.raises(BadSignature) as info:
        crypto("").decrypt(mangle(query["msg_signature"]), query["timestamp"], NONCE, encrypt)
    assert info.value.http_status == 403
    assert_clean(info.value, encrypt)


@pytest.mark.parametrize("field", ["timestamp", "nonce"])
def test_signature_covers_timestamp_and_nonce(aibot_peer: AibotPeer, field: str) -> None:
    query, body = aibot_peer.encrypt_callback(aibot_text("m", "u", "hi"), NOW, NONCE)
    query[field] = str(int(query[field]) + 1)
    with pytest.raises(BadSignature):
        crypto("").decrypt(
            query["msg_signature"], query["timestamp"], query["nonce"], extract_aibot_encrypt(body)
        )


def test_signature_covers_ciphertext(aibot_peer: AibotPeer) -> None:
    _, signature = aibot_peer.encrypt_raw(b"{}", NOW, NONCE)
    other, _ = aibot_peer.encrypt_raw(b"{}", NOW, NONCE)
    with pytest.raises(BadSignature):
        crypto("").decrypt(signature, str(NOW), NONCE, other)


@pytest.mark.parametrize(
    "skew",
    [pytest.param(301, id="301s-late"), pytest.param(-301, id="301s-early")],
)
def test_stale_timestamp(aibot_peer: AibotPeer, skew: int) -> None:
    query, body = aibot_peer.encrypt_callback(aibot_text("m", "u", "hi"), NOW, NONCE)
    with pytest.raises(StaleTimestamp) as info:
        crypto("", now=NOW + skew).decrypt(
            query["msg_signature"], query["timestamp"], NONCE, extract_aibot_encrypt(body)
        )
    assert info.value.http_status == 403


@pytest.mark.parametrize(
    "skew", [pytest.param(300, id="300s-late"), pytest.param(-300, id="300s-early")]
)
def test_timestamp_at_window_edge_accepted(aibot_peer: AibotPeer, skew: int) -> None:
    encrypt, signature = aibot_peer.encrypt_raw(b"ok", NOW, NONCE)
    assert crypto("", now=NOW + skew).decrypt(signature, str(NOW), NONCE, encrypt) == b"ok"


def test_max_skew_is_configurable(aibot_peer: AibotPeer) -> None:
    encrypt, signature = aibot_peer.encrypt_raw(b"ok", NOW, NONCE)
    with pytest.raises(StaleTimestamp):
        crypto("", now=NOW + 61, max_skew=60).decrypt(signature, str(NOW), NONCE, encrypt)


@pytest.mark.parametrize(
    "timestamp",
    [
        pytest.param("abc", id="letters"),
        pytest.param("", id="empty"),
        pytest.param("1764000000.5", id="fraction"),
        pytest.param("-1764000000", id="negative"),
        pytest.param(" 1764000000", id="space"),
        pytest.param("1.764e9", id="exponent"),
        pytest.param("١٧٦٤٠٠٠٠٠٠", id="arabic-indic-digits"),
        pytest.param("9" * 40, id="huge"),
    ],
)
def test_non_integer_timestamp(aibot_peer: AibotPeer, timestamp: str) -> None:
    encrypt, _ = aibot_peer.encrypt_raw(b"{}", NOW, NONCE)
    signature = peer_sign(TOKEN, timestamp, NONCE, encrypt)  # validly signed, bad value
    with pytest.raises(MalformedPayload) as info:
        crypto("").decrypt(signature, timestamp, NONCE, encrypt)
    assert info.value.http_status == 400


@pytest.mark.parametrize("missing", ["msg_signature", "timestamp", "nonce", "encrypt"])
def test_missing_parameter(aibot_peer: AibotPeer, missing: str) -> None:
    encrypt, signature = aibot_peer.encrypt_raw(b"{}", NOW, NONCE)
    args: dict[str, str | None] = {
        "msg_signature": signature,
        "timestamp": str(NOW),
        "nonce": NONCE,
        "encrypt": encrypt,
    }
    args[missing] = None
    with pytest.raises(MalformedPayload):
        crypto("").decrypt(args["msg_signature"], args["timestamp"], args["nonce"], args["encrypt"])


def test_wrong_corp(aibot_peer: AibotPeer) -> None:
    peer = AppPeer(TOKEN, KEY, CORP)
    xml = peer.text_message_xml("u", "hi", 1)
    query, body = peer.encrypt_callback(xml, NOW, NONCE)
    encrypt = extract_app_encrypt(body)
    with pytest.raises(WrongReceiver) as info:
        crypto(OTHER_CORP).decrypt(query["msg_signature"], query["timestamp"], NONCE, encrypt)
    assert info.value.http_status == 403
    assert_clean(info.value, encrypt, CORP, xml)


def test_app_message_fed_to_aibot_crypto(app_peer: AppPeer) -> None:
    query, body = app_peer.encrypt_callback(app_peer.text_message_xml("u", "hi", 1), NOW, NONCE)
    with pytest.raises(WrongReceiver):
        crypto("").decrypt(
            query["msg_signature"], query["timestamp"], NONCE, extract_app_encrypt(body)
        )


def test_aibot_message_fed_to_app_crypto(aibot_peer: AibotPeer) -> None:
    q = aibot_peer.verify_query("echo", NOW, NONCE)
    with pytest.raises(WrongReceiver):
        crypto(CORP).verify_url(q["msg_signature"], q["timestamp"], q["nonce"], q["echostr"])


def test_receiveid_prefix_is_not_enough() -> None:
    peer = AppPeer(TOKEN, KEY, CORP + "x")
    encrypt, signature = peer.encrypt_raw("<xml/>", NOW, NONCE)
    with pytest.raises(WrongReceiver):
        crypto(CORP).decrypt(signature, str(NOW), NONCE, encrypt)


def _signed(encrypt: str) -> tuple[str, str]:
    return peer_sign(TOKEN, NOW, NONCE, encrypt), encrypt


BROKEN = [
    pytest.param("@@not-base64@@", "bad base64", id="bad-alphabet"),
    pytest.param("QUJD", "bad ciphertext length", id="3-bytes"),
    pytest.param("QUJDRA", "bad base64", id="missing-padding"),
    pytest.param("QUJD RA==", "bad base64", id="embedded-space"),
    pytest.param("密文密文", "bad base64", id="non-ascii"),
    pytest.param(
        base64.b64encode(b"\x00" * 20).decode(),
        "bad ciphertext length",
        id="20-bytes-not-multiple-of-16",
    ),
    pytest.param(
        base64.b64encode(b"\x00" * 33).decode(),
        "bad ciphertext length",
        id="33-bytes-not-multiple-of-16",
    ),
    pytest.param(craft(pad32(b"R" * 16)), "too short", id="no-length-prefix"),
    pytest.param(
        craft(b"R" * 16 + b"\x00\x00\x00\x05ab" + b"\x0a" * 10),
        "bad length",
        id="length-beyond-end",
    ),
    pytest.param(craft(frame(b"{}") + b"\x00" * 10), "bad padding", id="pad-byte-zero"),
    pytest.param(craft(frame(b"{}")[:-1] + b"\x21" * 11), "bad padding", id="pad-byte-33"),
    pytest.param(
        craft(frame(b"{}") + b"\x01" * 9 + b"\x0a"), "bad padding", id="pad-bytes-unequal"
    ),
    pytest.param(
        craft(frame(b"{}") + b"\x0a" * 9 + b"\x09"), "bad padding", id="pad-shorter-than-claimed"
    ),
    pytest.param(craft(b"\x20" * 32), "too short", id="pad-swallows-header"),
    pytest.param(craft(pad32(frame(b"\xff\xfe{}"))), "not utf-8", id="non-utf8-message"),
    pytest.param(craft(pad32(frame("密".encode()[:2]))), "not utf-8", id="truncated-utf8"),
]


@pytest.mark.parametrize(("encrypt", "detail"), BROKEN)
def test_malformed_ciphertext(encrypt: str, detail: str) -> None:
    signature, encrypt = _signed(encrypt)
    with pytest.raises(MalformedPayload) as info:
        crypto("").decrypt(signature, str(NOW), NONCE, encrypt)
    assert info.value.http_status == 400
    assert info.value.detail == detail  # the intended check fired, not an earlier one
    assert_clean(info.value, encrypt)


def test_empty_ciphertext_is_malformed() -> None:
    signature, encrypt = _signed("")
    with pytest.raises(MalformedPayload):
        crypto("").decrypt(signature, str(NOW), NONCE, encrypt)


def test_crafted_control_decrypts() -> None:
    """The crafting helpers themselves produce valid messages when nothing is broken."""
    signature, encrypt = _signed(craft(pad32(frame(b'{"ok":1}'))))
    assert crypto("").decrypt(signature, str(NOW), NONCE, encrypt) == b'{"ok":1}'


def test_non_utf8_plaintext_from_peer(aibot_peer: AibotPeer) -> None:
    encrypt, signature = aibot_peer.encrypt_raw(b"\xff\xfe\x00garbage", NOW, NONCE)
    with pytest.raises(MalformedPayload):
        crypto("").decrypt(signature, str(NOW), NONCE, encrypt)


def test_non_utf8_plaintext_from_app_peer(app_peer: AppPeer) -> None:
    encrypt, signature = app_peer.encrypt_raw("<xml>é</xml>".encode("latin-1"), NOW, NONCE)
    with pytest.raises(MalformedPayload):
        crypto(CORP).decrypt(signature, str(NOW), NONCE, encrypt)


def test_non_utf8_echostr(aibot_peer: AibotPeer) -> None:
    echostr, signature = aibot_peer.encrypt_raw(b"\xc3\x28", NOW, NONCE)
    with pytest.raises(MalformedPayload):
        crypto("").verify_url(signature, str(NOW), NONCE, echostr)


# ---------------------------------------------------------------------------- construction


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(KEY[:-1], id="42-chars"),
        pytest.param(KEY + "A", id="44-chars"),
        pytest.param(KEY[:-1] + "!", id="bad-char"),
        pytest.param(KEY[:-1] + "=", id="padding-char"),
        pytest.param(KEY[:-1] + "密", id="non-ascii"),
        pytest.param("", id="empty"),
    ],
)
def test_invalid_key_rejected_without_echoing_it(key: str) -> None:
    with pytest.raises(ValueError, match="EncodingAESKey") as info:
        CallbackCrypto(TOKEN, key, "", now=lambda: NOW)
    if key:
        assert key not in str(info.value)
        assert key[:20] not in str(info.value)


def test_empty_token_rejected() -> None:
    with pytest.raises(ValueError, match="token"):
        CallbackCrypto("", KEY, "", now=lambda: NOW)


def test_repr_hides_secrets() -> None:
    text = repr(crypto(CORP))
    assert KEY not in text
    assert TOKEN not in text


@pytest.mark.parametrize(
    ("cls", "status"),
    [
        pytest.param(BadSignature, 403, id="signature"),
        pytest.param(StaleTimestamp, 403, id="stale"),
        pytest.param(MalformedPayload, 400, id="malformed"),
        pytest.param(WrongReceiver, 403, id="receiver"),
    ],
)
def test_exception_statuses(cls: type[CallbackRejected], status: int) -> None:
    exc = cls("internal label")
    assert isinstance(exc, CallbackRejected)
    assert exc.http_status == status
    assert str(exc) == exc.reason
    assert "internal label" not in exc.reason
