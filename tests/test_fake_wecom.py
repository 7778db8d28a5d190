"""The fake WeCom server, over real HTTP on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from bot.fake_wecom import RESPONSE_CODE_INVALID, FakeWeCom

CORP = "wwtestfake"
SECRET = "s3cret-value-never-echoed-0123456789"


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server(clock: Clock) -> Iterator[FakeWeCom]:
    with FakeWeCom(corp_id=CORP, secret=SECRET, now=clock) as fake:
        yield fake


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def token(http: requests.Session, fake: FakeWeCom) -> str:
    res = http.get(
        fake.base_url + "gettoken", params={"corpid": CORP, "corpsecret": SECRET}, timeout=5
    )
    return str(res.json()["access_token"])


def post(http: requests.Session, url: str, body: Any, **kw: Any) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return http.post(url, data=data, timeout=kw.pop("timeout", 5), **kw)


def text(content: str, **extra: Any) -> dict[str, Any]:
    return {"msgtype": "text", "text": {"content": content}, **extra}


def markdown(content: str, **extra: Any) -> dict[str, Any]:
    return {"msgtype": "markdown", "markdown": {"content": content}, **extra}


# ---------------------------------------------------------------- lifecycle and addresses


def test_addresses() -> None:
    fake = FakeWeCom()
    with pytest.raises(RuntimeError, match="not started"):
        _ = fake.base_url
    with fake:
        assert fake.base_url == f"http://127.0.0.1:{fake.port}/cgi-bin/"
        assert fake.webhook_url("k1") == f"{fake.base_url}webhook/send?key=k1"
        url = fake.new_response_url()
        assert url.startswith(f"{fake.base_url}aibot/response?response_code=")
        assert url != fake.new_response_url()
    assert fake.corp_id == "wwfake"


def test_unknown_path_is_404_and_get_on_a_post_api_is_43002(
    server: FakeWeCom, http: requests.Session
) -> None:
    assert http.get(server.base_url + "nope", timeout=5).status_code == 404
    res = http.get(server.webhook_url("k"), timeout=5)
    assert res.json()["errcode"] == 43002


# ---------------------------------------------------------------- gettoken and tokens


def test_gettoken_right_secret(server: FakeWeCom, http: requests.Session) -> None:
    res = http.get(
        server.base_url + "gettoken", params={"corpid": CORP, "corpsecret": SECRET}, timeout=5
    ).json()
    assert res["errcode"] == 0
    assert res["expires_in"] == 7200
    assert res["access_token"]
    assert token(http, server) == res["access_token"]  # same token while it is valid


@pytest.mark.parametrize(
    ("corpid", "secret", "errcode"),
    [
        (CORP, "wrong-secret", 40001),
        ("wwother", SECRET, 40013),
        (CORP, "", 41004),
        ("", SECRET, 41002),
    ],
    ids=["wrong-secret", "wrong-corpid", "no-secret", "no-corpid"],
)
def test_gettoken_refused(
    server: FakeWeCom, http: requests.Session, corpid: str, secret: str, errcode: int
) -> None:
    res = http.get(
        server.base_url + "gettoken", params={"corpid": corpid, "corpsecret": secret}, timeout=5
    )
    assert res.json()["errcode"] == errcode
    assert "access_token" not in res.json()
    assert SECRET not in res.text


def test_secret_is_never_recorded(server: FakeWeCom, http: requests.Session) -> None:
    token(http, server)
    http.get(server.base_url + "gettoken", params={"corpid": CORP, "corpsecret": "bad"}, timeout=5)
    assert [r.query["corpsecret"] for r in server.calls("gettoken")] == ["***", "***"]
    dump = http.get(server.root_url + "/_fake/received", timeout=5).text
    assert SECRET not in dump
    assert SECRET not in repr(server.received)


@pytest.mark.parametrize(
    ("how", "errcode"),
    [
        ("revoked", 42001),
        ("aged", 42001),
        ("never-issued", 40014),
        ("missing", 41001),
    ],
    ids=["revoked-42001", "aged-42001", "never-issued-40014", "missing-41001"],
)
def test_token_checks(
    server: FakeWeCom, http: requests.Session, clock: Clock, how: str, errcode: int
) -> None:
    tok = token(http, server)
    url = server.base_url + "message/send"
    body = {"touser": "u1", "agentid": 1, **text("hi")}
    assert post(http, url, body, params={"access_token": tok}).json()["errcode"] == 0
    params = {"access_token": tok}
    if how == "revoked":
        server.expire_tokens()
    elif how == "aged":
        clock.t += 7200
    elif how == "never-issued":
        params = {"access_token": "forged"}
    else:
        params = {}
    assert post(http, url, body, params=params).json()["errcode"] == errcode
    if how in ("revoked", "aged"):
        fresh = token(http, server)
        assert fresh != tok
        assert post(http, url, body, params={"access_token": fresh}).json()["errcode"] == 0


# ---------------------------------------------------------------- sending


def test_message_send_answers_like_the_real_one(server: FakeWeCom, http: requests.Session) -> None:
    tok = token(http, server)
    res = post(
        http,
        server.base_url + "message/send",
        {"touser": "a|b", "agentid": 1000002, **text("你好")},
        params={"access_token": tok},
    ).json()
    assert res["errcode"] == 0
    assert res["invaliduser"] == ""
    assert {"invalidparty", "invalidtag", "msgid"} <= res.keys()
    assert server.sent_messages()[0]["touser"] == "a|b"


def test_message_send_invalid_users(clock: Clock, http: requests.Session) -> None:
    with FakeWeCom(corp_id=CORP, secret=SECRET, invalid_userids=["gone"]) as fake:
        tok = token(http, fake)
        url = fake.base_url + "message/send"
        res = post(
            http, url, {"touser": "a|gone", "agentid": 1, **text("x")}, params={"access_token": tok}
        ).json()
        assert (res["errcode"], res["invaliduser"]) == (0, "gone")
        res = post(
            http, url, {"touser": "gone", "agentid": 1, **text("x")}, params={"access_token": tok}
        ).json()
        assert res["errcode"] == 81013
        res = post(http, url, {"touser": "a", **text("x")}, params={"access_token": tok}).json()
        assert res["errcode"] == 41011


def test_appchat_send(http: requests.Session) -> None:
    with FakeWeCom(corp_id=CORP, secret=SECRET, appchat_ids=["grp1"]) as fake:
        tok = token(http, fake)
        url = fake.base_url + "appchat/send"
        q = {"access_token": tok}
        assert post(http, url, {"chatid": "grp1", **text("a")}, params=q).json()["errcode"] == 0
        assert post(http, url, {"chatid": "nope", **text("a")}, params=q).json()["errcode"] == 86003
        assert post(http, url, text("a"), params=q).json()["errcode"] == 40050
        assert fake.sent_appchat("grp1") == [{"chatid": "grp1", **text("a")}]


@pytest.mark.parametrize("endpoint", ["webhook", "appchat", "message"])
@pytest.mark.parametrize(
    ("body", "errcode"),
    [
        (text("中" * 682 + "ab"), 0),  # 2048 bytes
        (text("中" * 682 + "abc"), 45002),
        (markdown("中" * 1365 + "a"), 0),  # 4096 bytes
        (markdown("中" * 1365 + "ab"), 45002),
        (text(""), 44004),
        ({"msgtype": "text", "text": {}}, 44004),
        ({"msgtype": "image", "image": {"content": "x"}}, 40008),
        (b"{not json", 47001),
        (b"[1, 2]", 47001),
    ],
    ids=[
        "text-2048",
        "text-2049",
        "md-4096",
        "md-4097",
        "empty",
        "no-content",
        "bad-msgtype",
        "bad-json",
        "json-array",
    ],
)
def test_content_checks(
    server: FakeWeCom, http: requests.Session, endpoint: str, body: Any, errcode: int
) -> None:
    if endpoint == "webhook":
        url, params = server.webhook_url("k1"), {}
    else:
        url = server.base_url + ("appchat/send" if endpoint == "appchat" else "message/send")
        params = {"access_token": token(http, server)}
        if isinstance(body, dict):
            body = {**body, "chatid": "c1", "touser": "u1", "agentid": 1}
    assert post(http, url, body, params=params).json()["errcode"] == errcode


@pytest.mark.parametrize("key", ["unknown", "removed", ""], ids=["unknown", "removed", "empty"])
def test_webhook_bad_key_is_93000(http: requests.Session, key: str) -> None:
    with FakeWeCom(webhook_keys=["good", "removed"]) as fake:
        fake.remove_webhook_key("removed")
        assert post(http, fake.webhook_url("good"), text("x")).json()["errcode"] == 0
        assert post(http, fake.webhook_url(key), text("x")).json()["errcode"] == 93000
        assert fake.sent_to_webhook(key) == []


def test_any_key_is_valid_by_default(server: FakeWeCom, http: requests.Session) -> None:
    body = text("hello", mentioned_list=["u1"])
    body["text"]["mentioned_list"] = ["u1", "@all"]
    assert post(http, server.webhook_url("invented"), body).json()["errcode"] == 0
    assert server.sent_to_webhook("invented") == [body]
    assert server.sent_to_webhook("other") == []


def test_response_url_is_usable_once(server: FakeWeCom, http: requests.Session) -> None:
    url = server.new_response_url()
    assert post(http, url, markdown("**first**")).json()["errcode"] == 0
    second = post(http, url, markdown("second")).json()
    assert second["errcode"] == RESPONSE_CODE_INVALID == 40058
    assert server.sent_responses() == [markdown("**first**")]


def test_response_url_rejected_content_does_not_use_it_up(
    server: FakeWeCom, http: requests.Session
) -> None:
    url = server.new_response_url()
    assert post(http, url, text("plain text is not accepted")).json()["errcode"] == 40008
    assert post(http, url, markdown("")).json()["errcode"] == 44004
    assert post(http, url, markdown("ok")).json()["errcode"] == 0


def test_response_url_unknown_or_expired(
    server: FakeWeCom, http: requests.Session, clock: Clock
) -> None:
    forged = server.base_url + "aibot/response?response_code=forged"
    assert post(http, forged, markdown("x")).json()["errcode"] == 40058
    url = server.new_response_url()
    clock.t += 3601
    assert post(http, url, markdown("x")).json()["errcode"] == 40058


# ---------------------------------------------------------------- rate limit


def test_webhook_rate_limit_21st_message_in_a_minute(
    server: FakeWeCom, http: requests.Session, clock: Clock
) -> None:
    url = server.webhook_url("busy")
    for i in range(20):
        clock.t += 1
        assert post(http, url, text(f"m{i}")).json()["errcode"] == 0
    res = post(http, url, text("m20")).json()
    assert res["errcode"] == 45009
    assert "freq" in res["errmsg"]
    assert post(http, server.webhook_url("other-key"), text("x")).json()["errcode"] == 0
    clock.t += 41  # 60 s after the first message of the window: it drops out
    assert post(http, url, text("m21")).json()["errcode"] == 0
    assert post(http, url, text("m22")).json()["errcode"] == 45009  # the 2nd is 59 s old
    clock.t += 1
    assert post(http, url, text("m23")).json()["errcode"] == 0
    assert len(server.sent_to_webhook("busy")) == 22


def test_rate_limit_can_be_disabled(http: requests.Session) -> None:
    with FakeWeCom(rate_limit_per_minute=None) as fake:
        for _ in range(25):
            assert post(http, fake.webhook_url("k"), text("x")).json()["errcode"] == 0


# ---------------------------------------------------------------- injected failures


def test_fail_next_errcode_once_then_normal(server: FakeWeCom, http: requests.Session) -> None:
    server.fail_next("/cgi-bin/webhook/send", errcode=45033)
    assert post(http, server.webhook_url("k"), text("x")).json()["errcode"] == 45033
    assert post(http, server.webhook_url("k"), text("x")).json()["errcode"] == 0
    assert [r.errcode for r in server.calls("webhook/send")] == [45033, 0]


def test_fail_next_times_and_relative_prefix(server: FakeWeCom, http: requests.Session) -> None:
    server.fail_next("webhook/", errcode=-1, times=2)
    codes = [post(http, server.webhook_url("k"), text("x")).json()["errcode"] for _ in range(3)]
    assert codes == [-1, -1, 0]
    url = server.new_response_url()
    assert post(http, url, markdown("x")).json()["errcode"] == 0  # other paths unaffected


def test_fail_next_http_status(server: FakeWeCom, http: requests.Session) -> None:
    server.fail_next("/cgi-bin/webhook/send", http_status=502)
    res = post(http, server.webhook_url("k"), text("x"))
    assert res.status_code == 502
    assert len(res.content) < 100
    assert server.received[-1].status == 502
    assert server.received[-1].errcode is None
    assert not server.received[-1].ok


def test_fail_next_delay_provokes_a_timeout_but_is_delivered(
    server: FakeWeCom, http: requests.Session
) -> None:
    server.fail_next("/cgi-bin/webhook/send", delay=2.0)
    with pytest.raises(requests.Timeout):
        post(http, server.webhook_url("k"), text("late"), timeout=0.2)
    assert server.sent_to_webhook("k") == [text("late")]  # processed before the delay


def test_stop_does_not_wait_for_a_delayed_answer(http: requests.Session) -> None:
    fake = FakeWeCom().start()
    fake.fail_next("webhook/send", delay=30)
    with pytest.raises(requests.Timeout):
        post(http, fake.webhook_url("k"), text("x"), timeout=0.2)
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"errcode": 1, "http_status": 502},
        {"http_status": 42},
        {"delay": -1},
        {"errcode": 1, "times": 0},
    ],
    ids=["nothing", "both", "bad-status", "negative-delay", "zero-times"],
)
def test_fail_next_validation(server: FakeWeCom, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        server.fail_next("webhook/send", **kwargs)


# ---------------------------------------------------------------- records and control surface


def test_received_records(server: FakeWeCom, http: requests.Session, clock: Clock) -> None:
    post(http, server.webhook_url("k1"), text("x"))
    post(http, server.webhook_url("k1"), b"nope")
    first, second = server.received
    assert (first.path, first.query, first.body, first.at) == (
        "/cgi-bin/webhook/send",
        {"key": "k1"},
        text("x"),
        clock.t,
    )
    assert (first.status, first.errcode, first.ok) == (200, 0, True)
    assert (second.body, second.errcode) == (None, 47001)
    server.received.clear()  # a copy: the record is not changed
    assert len(server.received) == 2


def test_received_is_thread_safe(server: FakeWeCom) -> None:
    def worker(i: int) -> None:
        with requests.Session() as s:
            for j in range(5):
                post(s, server.webhook_url(f"k{i}"), text(f"{i}-{j}"))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(server.received) == 40
    assert all(len(server.sent_to_webhook(f"k{i}")) == 5 for i in range(8))


def test_control_surface(server: FakeWeCom, http: requests.Session) -> None:
    root = server.root_url + "/_fake/"
    assert (
        post(
            http, root + "fail", {"path_prefix": "/cgi-bin/webhook/send", "errcode": 93000}
        ).status_code
        == 200
    )
    assert post(http, server.webhook_url("k"), text("x")).json()["errcode"] == 93000
    listed = http.get(root + "received", timeout=5).json()["received"]
    assert [(r["path"], r["errcode"]) for r in listed] == [("/cgi-bin/webhook/send", 93000)]
    url = post(http, root + "response_url", {}).json()["response_url"]
    assert post(http, url, markdown("x")).json()["errcode"] == 0
    assert post(http, root + "fail", {"path_prefix": "x", "bogus": 1}).status_code == 400
    assert post(http, root + "fail", [1]).status_code == 400
    server.fail_next("webhook/send", errcode=-1)
    assert post(http, root + "reset", {}).status_code == 200
    assert server.received == []
    assert post(http, server.webhook_url("k"), text("x")).json()["errcode"] == 0  # no failure
    tok = token(http, server)
    assert post(http, root + "expire_tokens", {}).status_code == 200
    assert (
        post(
            http,
            server.base_url + "appchat/send",
            {"chatid": "c", **text("x")},
            params={"access_token": tok},
        ).json()["errcode"]
        == 42001
    )
