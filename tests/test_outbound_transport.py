"""The outbound transport and the app client, over real HTTP against the fake WeCom."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest
from wechatpy.enterprise import WeChatClient
from wechatpy.session.memorystorage import MemoryStorage

from bot.fake_wecom import FakeWeCom
from bot.outbound.app_client import (
    AppAPIError,
    AppClient,
    AppConnectionError,
    AppTimeout,
)
from bot.outbound.transport import (
    Delivery,
    MsgType,
    Outcome,
    Transport,
    classify_errcode,
    redact_url,
)

CORP = "wwtransport"
SECRET = "app-s3cret-DO-NOT-LEAK-9876543210"
AGENT = 1000002
KEY = "webhook-key-DO-NOT-LEAK"


@pytest.fixture
def fake() -> Iterator[FakeWeCom]:
    with FakeWeCom(corp_id=CORP, secret=SECRET) as f:
        yield f


def make_app(fake: FakeWeCom, *, timeout: float = 2.0, secret: str = SECRET) -> AppClient:
    return AppClient(CORP, secret, AGENT, api_base_url=fake.base_url, timeout=timeout)


@pytest.fixture
def transport(fake: FakeWeCom) -> Iterator[Transport]:
    t = Transport(timeout=0.2, app=make_app(fake))
    yield t
    t.close()


def secrets_of(fake: FakeWeCom) -> list[str]:
    """Everything that must never show up in a reason or a log line."""
    found = [SECRET, KEY, "http://", "key=", "access_token="]
    found += [r.query["access_token"] for r in fake.received if "access_token" in r.query]
    found += [r.query["response_code"] for r in fake.received if "response_code" in r.query]
    return found


def clean(outcome: Outcome, fake: FakeWeCom) -> Outcome:
    for secret in secrets_of(fake):
        assert secret not in outcome.reason
    return outcome


def webhook(
    fake: FakeWeCom,
    content: str = "hi",
    *,
    msgtype: MsgType = "text",
    mentioned: tuple[str, ...] = (),
) -> Delivery:
    return Delivery("webhook", fake.webhook_url(KEY), msgtype, content, mentioned)


# ---------------------------------------------------------------- what arrives


def test_webhook_text_with_mentions_arrives_as_sent(fake: FakeWeCom, transport: Transport) -> None:
    d = webhook(fake, "请 @王敏 查收：工单已受理", mentioned=("ent.a", "@all"))
    outcome = transport.send(d)
    assert outcome == Outcome("sent", "ok")
    assert fake.sent_to_webhook(KEY) == [
        {
            "msgtype": "text",
            "text": {"content": "请 @王敏 查收：工单已受理", "mentioned_list": ["ent.a", "@all"]},
        }
    ]


def test_webhook_markdown_arrives_as_sent(fake: FakeWeCom, transport: Transport) -> None:
    content = '**工单** <font color="info">已办结</font>\n> 引用'
    assert (
        transport.send(webhook(fake, content, msgtype="markdown", mentioned=("x",))).status
        == "sent"
    )
    assert fake.sent_to_webhook(KEY) == [{"msgtype": "markdown", "markdown": {"content": content}}]
    assert fake.received[-1].body is not None


@pytest.mark.parametrize("msgtype", ["markdown", "text"])
def test_response_url_gets_plain_json_markdown(
    fake: FakeWeCom, transport: Transport, msgtype: MsgType
) -> None:
    d = Delivery("response_url", fake.new_response_url(), msgtype, "**收到**")
    assert transport.send(d).status == "sent"
    assert fake.sent_responses() == [{"msgtype": "markdown", "markdown": {"content": "**收到**"}}]
    again = clean(transport.send(d), fake)  # a response_url works once
    assert (again.status, again.reason) == ("give_up", "errcode 40058")


def test_app_message_and_appchat(fake: FakeWeCom, transport: Transport) -> None:
    assert (
        transport.send(Delivery("app_message", "off.a|off.b", "markdown", "**日报**")).status
        == "sent"
    )
    assert transport.send(Delivery("appchat", "grp1", "text", "通知")).status == "sent"
    assert fake.sent_messages() == [
        {
            "touser": "off.a|off.b",
            "msgtype": "markdown",
            "agentid": AGENT,
            "markdown": {"content": "**日报**"},
            "safe": 0,
        }
    ]
    assert fake.sent_appchat("grp1") == [
        {"chatid": "grp1", "msgtype": "text", "text": {"content": "通知"}, "safe": 0}
    ]


# ---------------------------------------------------------------- refused locally


@pytest.mark.parametrize(
    ("d", "reason"),
    [
        (Delivery("webhook", "x", "text", "中" * 683), "content too long (2049 > 2048 bytes)"),
        (Delivery("webhook", "x", "markdown", "a" * 4097), "content too long (4097 > 4096 bytes)"),
        (Delivery("appchat", "c", "text", "  \n"), "empty content"),
        (Delivery("appchat", "", "text", "x"), "no target"),
        (Delivery("app_message", "|", "text", "x"), "no recipients"),
        (
            Delivery("webhook", "ftp://h/webhook/send?key=K", "text", "x"),
            "target is not an http(s) URL",
        ),
    ],
    ids=["text-2049", "markdown-4097", "empty", "no-target", "no-recipients", "not-http"],
)
def test_refused_without_sending(
    fake: FakeWeCom, transport: Transport, d: Delivery, reason: str
) -> None:
    if d.target == "x":
        d = Delivery(d.kind, fake.webhook_url(KEY), d.msgtype, d.content)
    assert transport.send(d) == Outcome("give_up", reason)
    assert fake.received == []


def test_no_app_client(fake: FakeWeCom) -> None:
    t = Transport(timeout=1)
    assert t.send(Delivery("appchat", "c", "text", "x")) == Outcome(
        "give_up", "no app client configured"
    )
    t.close()


# ---------------------------------------------------------------- classification


@pytest.mark.parametrize(
    ("errcode", "status", "retry_after"),
    [
        (45009, "retry", 60.0),
        (45033, "retry", None),
        (-1, "retry", None),
        (93000, "give_up", None),
        (93004, "give_up", None),
        (93008, "give_up", None),
        (86003, "give_up", None),
        (44004, "give_up", None),
        (45002, "give_up", None),
        (40058, "give_up", None),
        (60020, "give_up", None),
    ],
    ids=lambda v: str(v),
)
def test_webhook_errcodes(
    fake: FakeWeCom, transport: Transport, errcode: int, status: str, retry_after: float | None
) -> None:
    fake.fail_next("webhook/send", errcode=errcode)
    outcome = clean(transport.send(webhook(fake)), fake)
    assert (outcome.status, outcome.retry_after) == (status, retry_after)
    assert outcome.reason.startswith(f"errcode {errcode}")


def test_unknown_errcode_gives_up_and_says_so() -> None:
    assert classify_errcode(77777) == Outcome("give_up", "errcode 77777 (unknown)")
    assert classify_errcode(0) == Outcome("sent", "ok")
    assert classify_errcode(86999).status == "give_up"


@pytest.mark.parametrize(
    ("http_status", "status"),
    [
        (502, "retry"),
        (503, "retry"),
        (500, "retry"),
        (429, "retry"),
        (404, "give_up"),
        (400, "give_up"),
        (403, "give_up"),
        (302, "give_up"),
    ],
    ids=lambda v: str(v),
)
def test_webhook_http_statuses(
    fake: FakeWeCom, transport: Transport, http_status: int, status: str
) -> None:
    fake.fail_next("webhook/send", http_status=http_status)
    outcome = clean(transport.send(webhook(fake)), fake)
    assert (outcome.status, outcome.reason) == (status, f"http {http_status}")


def test_webhook_timeout_is_retried(fake: FakeWeCom, transport: Transport) -> None:
    fake.fail_next("webhook/send", delay=1.0)
    assert clean(transport.send(webhook(fake)), fake) == Outcome("retry", "timeout")


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused_is_retried(closed_port: int) -> None:
    t = Transport(timeout=1)
    url = f"http://127.0.0.1:{closed_port}/cgi-bin/webhook/send?key={KEY}"
    outcome = t.send(Delivery("webhook", url, "text", "x"))
    t.close()
    assert outcome == Outcome("retry", "connection error")
    assert KEY not in outcome.reason


def test_non_json_answer_is_retried(fake: FakeWeCom, transport: Transport) -> None:
    fake.fail_next("webhook/send", http_status=200)  # 200 with a plain-text body
    assert transport.send(webhook(fake)) == Outcome("retry", "bad response")
    fake.fail_next("aibot/response", http_status=200)
    d = Delivery("response_url", fake.new_response_url(), "markdown", "x")
    assert transport.send(d) == Outcome("retry", "bad response")


# ---------------------------------------------------------------- the app client


def test_app_token_fetched_once_and_reused(fake: FakeWeCom, transport: Transport) -> None:
    for i in range(2):
        assert transport.send(Delivery("app_message", "u1", "text", f"m{i}")).status == "sent"
    assert transport.send(Delivery("appchat", "c1", "text", "m")).status == "sent"
    assert len(fake.calls("gettoken")) == 1
    tokens = {r.query["access_token"] for r in fake.received if "access_token" in r.query}
    assert len(tokens) == 1


def test_app_42001_refreshes_once_and_retries_once(fake: FakeWeCom, transport: Transport) -> None:
    assert transport.send(Delivery("app_message", "u1", "text", "before")).status == "sent"
    fake.expire_tokens()
    assert transport.send(Delivery("app_message", "u1", "text", "after")).status == "sent"
    assert len(fake.calls("gettoken")) == 2
    sends = fake.calls("message/send")
    assert [r.errcode for r in sends] == [0, 42001, 0]
    assert sends[1].query["access_token"] == sends[0].query["access_token"]
    assert sends[2].query["access_token"] != sends[1].query["access_token"]
    assert [m["text"]["content"] for m in fake.sent_messages()] == ["before", "after"]


@pytest.mark.parametrize("errcode", [40014, 42001, 40001])
def test_app_token_error_twice_is_an_error_not_a_loop(
    fake: FakeWeCom, transport: Transport, errcode: int
) -> None:
    fake.fail_next("appchat/send", errcode=errcode, times=5)
    outcome = clean(transport.send(Delivery("appchat", "c1", "text", "x")), fake)
    assert outcome == Outcome("retry", f"errcode {errcode}")
    assert len(fake.calls("gettoken")) == 2
    assert len(fake.calls("appchat/send")) == 2
    app = make_app(fake)
    with pytest.raises(AppAPIError) as info:
        app.send_appchat("c1", "text", "x")
    app.close()
    assert info.value.errcode == errcode
    assert len(fake.calls("appchat/send")) == 4


def test_app_wrong_secret_gives_up(fake: FakeWeCom) -> None:
    t = Transport(app=make_app(fake, secret="wrong-secret-value"))
    outcome = t.send(Delivery("app_message", "u1", "text", "x"))
    t.close()
    assert outcome == Outcome("give_up", "gettoken errcode 40001")
    assert fake.calls("message/send") == []


@pytest.mark.parametrize(
    ("errcode", "expected"),
    [
        (45009, Outcome("retry", "errcode 45009", 60.0)),
        (-1, Outcome("retry", "errcode -1")),
        (86003, Outcome("give_up", "errcode 86003")),
        (86008, Outcome("give_up", "errcode 86008")),
        (81013, Outcome("give_up", "errcode 81013")),
        (77777, Outcome("give_up", "errcode 77777 (unknown)")),
    ],
    ids=["45009", "-1", "86003", "86008", "81013", "unknown"],
)
def test_app_errcodes(
    fake: FakeWeCom, transport: Transport, errcode: int, expected: Outcome
) -> None:
    fake.fail_next("appchat/send", errcode=errcode)
    assert clean(transport.send(Delivery("appchat", "c1", "text", "x")), fake) == expected
    assert len(fake.calls("appchat/send")) == 1


@pytest.mark.parametrize("path", ["gettoken", "message/send"])
def test_app_timeouts_are_retried(fake: FakeWeCom, path: str) -> None:
    fake.fail_next(path, delay=1.0)
    app = make_app(fake, timeout=0.2)
    with pytest.raises(AppTimeout) as info:
        app.send_app_message(["u1"], "text", "x")
    assert SECRET not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
    outcome = Transport(app=app).send(Delivery("app_message", "u1", "text", "x"))
    app.close()
    assert outcome.status == "sent"  # the delay was used up
    fake.fail_next(path, http_status=503)
    t = Transport(app=make_app(fake))
    assert clean(t.send(Delivery("app_message", "u1", "text", "x")), fake) == Outcome(
        "retry", "http 503"
    )
    t.close()


def test_app_connection_refused(closed_port: int) -> None:
    app = AppClient(
        CORP, SECRET, AGENT, api_base_url=f"http://127.0.0.1:{closed_port}/cgi-bin", timeout=1
    )
    with pytest.raises(AppConnectionError):
        app.send_appchat("c", "text", "x")
    outcome = Transport(app=app).send(Delivery("appchat", "c", "text", "x"))
    app.close()
    assert outcome == Outcome("retry", "connection error (gettoken)")


def test_app_clients_have_their_own_base_url() -> None:
    with (
        FakeWeCom(corp_id=CORP, secret=SECRET) as one,
        FakeWeCom(corp_id=CORP, secret=SECRET) as two,
    ):
        a, b = make_app(one), make_app(two)
        a.send_appchat("c", "text", "to one")
        b.send_appchat("c", "text", "to two")
        a.close()
        b.close()
        assert [m["text"]["content"] for m in one.sent_appchat()] == ["to one"]
        assert [m["text"]["content"] for m in two.sent_appchat()] == ["to two"]
    assert WeChatClient.API_BASE_URL == "https://qyapi.weixin.qq.com/cgi-bin/"
    assert a._client.auto_retry is False


def test_token_cache_is_shared_storage_keyed_without_the_secret(fake: FakeWeCom) -> None:
    storage = MemoryStorage()
    first = AppClient(CORP, SECRET, AGENT, api_base_url=fake.base_url, session_storage=storage)
    first.send_appchat("c", "text", "x")
    (key,) = storage._data
    assert key.startswith(CORP)
    assert SECRET[:10] not in key
    other = AppClient(
        CORP, "another-secret", 7, api_base_url=fake.base_url, session_storage=storage
    )
    assert other._client.access_token_key != key
    second = AppClient(CORP, SECRET, AGENT, api_base_url=fake.base_url, session_storage=storage)
    second.send_appchat("c", "text", "y")
    assert len(fake.calls("gettoken")) == 1
    for client in (first, other, second):
        client.close()
    assert SECRET not in repr(first)


# ---------------------------------------------------------------- secrets stay out


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc-123",
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***",
        ),
        (
            "http://h/cgi-bin/message/send?access_token=TOK&debug=1",
            "http://h/cgi-bin/message/send?access_token=***&debug=1",
        ),
        (
            "http://h/cgi-bin/gettoken?corpid=ww1&corpsecret=S%2Fx",
            "http://h/cgi-bin/gettoken?corpid=ww1&corpsecret=***",
        ),
        (
            "http://h/cgi-bin/aibot/response?response_code=RC#frag",
            "http://h/cgi-bin/aibot/response?response_code=***#frag",
        ),
        ("http://h/x?KEY=a&monkey=b", "http://h/x?KEY=***&monkey=b"),
        ("http://user:pw@h/x?a=1", "http://user:***@h/x?a=1"),
        ("no url here", "no url here"),
    ],
    ids=[
        "key",
        "access_token",
        "corpsecret",
        "response_code",
        "case-and-suffix",
        "userinfo",
        "plain",
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_logs_carry_no_secrets(
    fake: FakeWeCom, transport: Transport, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    transport.send(webhook(fake))
    fake.fail_next("webhook/send", errcode=93000)
    transport.send(webhook(fake))
    transport.send(Delivery("response_url", fake.new_response_url(), "markdown", "x"))
    fake.fail_next("aibot/response", http_status=502)
    transport.send(Delivery("response_url", fake.new_response_url(), "markdown", "x"))
    transport.send(Delivery("app_message", "u1", "text", "x"))
    fake.expire_tokens()
    transport.send(Delivery("app_message", "u1", "text", "x"))
    ours = [r for r in caplog.records if r.name.startswith("bot.")]
    assert any("giving up" in r.getMessage() for r in ours)
    assert any("key=***" in r.getMessage() for r in ours)
    forbidden = [s for s in secrets_of(fake) if s not in ("http://", "key=", "access_token=")]
    for record in ours:
        for secret in forbidden:
            assert secret not in record.getMessage()
