"""The real endpoints, with callbacks encrypted and signed by an independent peer (wx-crypt,
weworkapi): verification, intake, retries, refusals, and nothing lost or doubled."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bot.clock import FakeClock
from bot.fake_wecom import FakeWeCom
from bot.runtime import Runtime
from bot.scheduler import Jobs
from storage import db
from storage.models import InboundMessage, OrderEvent, OutboxMessage, WorkOrder
from tests.peer import AibotPeer, AppPeer, aibot_mixed, aibot_text, peer_sign

MENTION = "@企业服务助手\u2005"
ROAD = "我们新基地没有路给施工车辆进出，能否协调修一条临时道路？"


def ts(clock: FakeClock) -> int:
    return int(clock.now().timestamp())


def post_aibot(
    client: FlaskClient, peer: AibotPeer, clock: FakeClock, payload: Any, nonce: str = "n1"
) -> Any:
    query, body = peer.encrypt_callback(payload, ts(clock), nonce)
    return client.post(
        "/wecom/aibot", query_string=query, data=body, content_type="application/json"
    )


def post_app(
    client: FlaskClient, peer: AppPeer, clock: FakeClock, sender: str, text: str, msgid: int
) -> Any:
    xml = peer.text_message_xml(sender, text, msgid=msgid, create_time=ts(clock))
    query, body = peer.encrypt_callback(xml, ts(clock), "n2")
    return client.post("/wecom/app", query_string=query, data=body, content_type="text/xml")


def count(rt: Runtime, model: Any) -> int:
    with db.transaction(rt.sessions) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def the_orders(rt: Runtime) -> list[WorkOrder]:
    with db.transaction(rt.sessions) as s:
        return list(s.scalars(select(WorkOrder).order_by(WorkOrder.id)))


# ---------------------------------------------------------------- URL verification


def test_aibot_url_verification_echoes_the_plaintext(
    client: FlaskClient, aibot_peer: AibotPeer, clock: FakeClock
) -> None:
    r = client.get(
        "/wecom/aibot", query_string=aibot_peer.verify_query("8813492710", ts(clock), "abc")
    )
    assert r.status_code == 200
    assert r.data == b"8813492710"
    assert r.mimetype == "text/plain"


def test_app_url_verification_echoes_the_plaintext(
    client: FlaskClient, app_peer: AppPeer, clock: FakeClock
) -> None:
    r = client.get("/wecom/app", query_string=app_peer.verify_query("5927123", ts(clock), "x"))
    assert (r.status_code, r.data) == (200, b"5927123")


def test_verification_with_a_bad_signature_is_refused(
    client: FlaskClient, aibot_peer: AibotPeer, clock: FakeClock
) -> None:
    query = aibot_peer.verify_query("123", ts(clock), "abc")
    query["msg_signature"] = "0" * 40
    r = client.get("/wecom/aibot", query_string=query)
    assert r.status_code == 403
    assert b"123" not in r.data


def test_healthz(client: FlaskClient) -> None:
    assert client.get("/healthz").status_code == 200


# ---------------------------------------------------------------- intake


def test_a_request_becomes_an_order_and_the_group_gets_an_ack(
    client: FlaskClient,
    aibot_peer: AibotPeer,
    clock: FakeClock,
    rt: Runtime,
    jobs: Jobs,
    fake: FakeWeCom,
) -> None:
    r = post_aibot(client, aibot_peer, clock, aibot_text("m1", "ent.a", MENTION + ROAD, "chat_a"))
    assert (r.status_code, r.data) == (200, b"")
    [order] = the_orders(rt)
    assert order.number == "GD-20261123-0001"
    assert order.status == "dispatched"
    assert order.text == ROAD
    assert order.requester_userid == "ent.a"
    assert order.group_chatid == "chat_a"
    assert order.department_code == "transport"
    assert order.deadline > order.created_at
    with db.transaction(rt.sessions) as s:
        actions = list(
            s.scalars(
                select(OrderEvent.action)
                .where(OrderEvent.order_id == order.id)
                .order_by(OrderEvent.id)
            )
        )
    assert actions == ["intake", "dispatch"]

    jobs.run("outbox")
    [ack] = fake.sent_to_webhook("key-a")
    assert ack["msgtype"] == "text"
    assert ack["text"]["mentioned_list"] == ["ent.a"]
    content = ack["text"]["content"]
    assert "GD-20261123-0001" in content
    assert "区交通运输局" in content
    assert "没有路给施工车辆进出" in content  # quotes the request
    assert order.deadline.astimezone(clock.tz).strftime("%m月%d日") in content
    officer_notices = [m for m in fake.sent_messages() if m["touser"] == "off.transport"]
    assert len(officer_notices) == 1
    assert "/签收 GD-20261123-0001" in officer_notices[0]["text"]["content"]


def test_a_wecom_retry_changes_nothing(
    client: FlaskClient, aibot_peer: AibotPeer, clock: FakeClock, rt: Runtime
) -> None:
    payload = aibot_text("m-retry", "ent.a", MENTION + ROAD, "chat_a")
    assert post_aibot(client, aibot_peer, clock, payload, "n1").status_code == 200
    before = (
        count(rt, InboundMessage),
        count(rt, WorkOrder),
        count(rt, OutboxMessage),
        count(rt, OrderEvent),
    )
    clock.advance(seconds=5)
    for nonce in ("n1", "n2", "n3"):  # WeCom re-sends the same msgid (fresh envelopes)
        assert post_aibot(client, aibot_peer, clock, payload, nonce).status_code == 200
    after = (
        count(rt, InboundMessage),
        count(rt, WorkOrder),
        count(rt, OutboxMessage),
        count(rt, OrderEvent),
    )
    assert before == after == (1, 1, 2, 2)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(MENTION + "谢谢", id="thanks"),
        pytest.param(MENTION + "早上好！", id="greeting"),
        pytest.param(MENTION + "👍👍", id="emoji"),
        pytest.param(MENTION + "收到，辛苦了", id="ack"),
    ],
)
def test_chatter_gets_no_answer(
    client: FlaskClient, aibot_peer: AibotPeer, clock: FakeClock, rt: Runtime, text: str
) -> None:
    r = post_aibot(client, aibot_peer, clock, aibot_text("c1", "ent.a", text, "chat_a"))
    assert r.status_code == 200
    assert count(rt, WorkOrder) == 0
    assert count(rt, OutboxMessage) == 0
    assert count(rt, InboundMessage) == 1  # still stored


def test_a_bare_mention_gets_a_one_line_help(
    client: FlaskClient,
    aibot_peer: AibotPeer,
    clock: FakeClock,
    rt: Runtime,
    jobs: Jobs,
    fake: FakeWeCom,
) -> None:
    url = fake.new_response_url()
    post_aibot(
        client,
        aibot_peer,
        clock,
        aibot_text("b1", "ent.a", "@企业服务助手", "chat_a", response_url=url),
    )
    jobs.run("outbox")
    [reply] = fake.sent_responses()
    assert "描述" in reply["markdown"]["content"]
    assert "\n" not in reply["markdown"]["content"]
    assert count(rt, WorkOrder) == 0


def test_mixed_messages_use_their_text_parts(
    client: FlaskClient, aibot_peer: AibotPeer, clock: FakeClock, rt: Runtime
) -> None:
    payload = aibot_mixed(
        "mx1",
        "ent.b",
        [
            MENTION + "研发楼燃气管道还没接通，",
            {"msgtype": "image", "image": {"url": "http://x"}},
            "周五前必须通气，麻烦尽快协调",
        ],
        "chat_b",
    )
    assert post_aibot(client, aibot_peer, clock, payload).status_code == 200
    [order] = the_orders(rt)
    assert "燃气管道" in order.text
    assert "周五前必须通气" in order.text
    assert order.department_code == "gas"


def test_staff_messages_in_groups_are_never_filed(
    client: FlaskClient, aibot_peer: AibotPeer, clock: FakeClock, rt: Runtime
) -> None:
    post_aibot(
        client,
        aibot_peer,
        clock,
        aibot_text("s1", "off.transport", MENTION + "道路问题我们下午去现场看，需要协调", "chat_a"),
    )
    assert count(rt, WorkOrder) == 0


# ---------------------------------------------------------------- refusals (nothing stored)


def _valid(aibot_peer: AibotPeer, clock: FakeClock) -> tuple[dict[str, str], bytes]:
    return aibot_peer.encrypt_callback(
        aibot_text("r1", "ent.a", MENTION + ROAD, "chat_a"), ts(clock), "nn"
    )


def test_bad_signature_is_403(
    client: FlaskClient, aibot_peer: AibotPeer, clock: FakeClock, rt: Runtime
) -> None:
    query, body = _valid(aibot_peer, clock)
    query["msg_signature"] = query["msg_signature"][::-1]
    r = client.post("/wecom/aibot", query_string=query, data=body)
    assert r.status_code == 403
    assert count(rt, InboundMessage) == 0


@pytest.mark.parametrize("skew", [-301, 301], ids=["past", "future"])
def test_stale_timestamp_is_403(
    client: FlaskClient, aibot_peer: AibotPeer, clock: FakeClock, rt: Runtime, skew: int
) -> None:
    query, body = aibot_peer.encrypt_callback(
        aibot_text("r2", "ent.a", ROAD, "chat_a"), ts(clock) + skew, "nn"
    )
    r = client.post("/wecom/aibot", query_string=query, data=body)
    assert r.status_code == 403
    assert count(rt, InboundMessage) == 0


def test_wrong_receiveid_is_403(client: FlaskClient, clock: FakeClock, rt: Runtime) -> None:
    from tests.conftest import AIBOT_KEY, AIBOT_TOKEN

    # encrypted for a self-built app (receiveid = a CorpID), sent to the AI-bot endpoint
    peer = AppPeer(AIBOT_TOKEN, AIBOT_KEY, "wwsomeothercorp")
    plaintext = json.dumps(aibot_text("r3", "ent.a", ROAD, "chat_a")).encode()
    encrypt, signature = peer.encrypt_raw(plaintext, ts(clock), "nn")
    r = client.post(
        "/wecom/aibot",
        data=json.dumps({"encrypt": encrypt}),
        query_string={"msg_signature": signature, "timestamp": ts(clock), "nonce": "nn"},
    )
    assert r.status_code == 403
    assert count(rt, InboundMessage) == 0


def test_broken_base64_is_400(client: FlaskClient, clock: FakeClock, rt: Runtime) -> None:
    from tests.conftest import AIBOT_TOKEN

    encrypt = "this is not base64!!"
    signature = peer_sign(AIBOT_TOKEN, ts(clock), "nn", encrypt)
    r = client.post(
        "/wecom/aibot",
        data=json.dumps({"encrypt": encrypt}),
        query_string={"msg_signature": signature, "timestamp": ts(clock), "nonce": "nn"},
    )
    assert r.status_code == 400
    assert count(rt, InboundMessage) == 0


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"[1, 2]", id="not-object"),
        pytest.param(b'{"encrypt": ""}', id="empty-encrypt"),
        pytest.param(b'{"other": "x"}', id="no-encrypt"),
        pytest.param(b'{"encrypt": "\xff\xfe"}', id="non-utf8"),
    ],
)
def test_malformed_aibot_bodies_are_400(client: FlaskClient, clock: FakeClock, body: bytes) -> None:
    r = client.post(
        "/wecom/aibot",
        data=body,
        query_string={"msg_signature": "a" * 40, "timestamp": ts(clock), "nonce": "n"},
    )
    assert r.status_code == 400
    assert len(r.data) < 100
    assert b"Traceback" not in r.data


def test_missing_query_parameters_are_400(
    client: FlaskClient, aibot_peer: AibotPeer, clock: FakeClock
) -> None:
    _, body = _valid(aibot_peer, clock)
    assert client.post("/wecom/aibot", data=body).status_code == 400


XML_BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<xml><ToUserName>&lol3;</ToUserName><Encrypt>x</Encrypt></xml>"""


def test_xml_bomb_is_400(client: FlaskClient, clock: FakeClock) -> None:
    r = client.post(
        "/wecom/app",
        data=XML_BOMB,
        query_string={"msg_signature": "a" * 40, "timestamp": ts(clock), "nonce": "n"},
    )
    assert r.status_code == 400


def test_oversized_body_is_413(client: FlaskClient, clock: FakeClock, rt: Runtime) -> None:
    body = json.dumps({"encrypt": base64.b64encode(b"x" * 70_000).decode()})
    r = client.post(
        "/wecom/aibot",
        data=body,
        query_string={"msg_signature": "a" * 40, "timestamp": ts(clock), "nonce": "n"},
    )
    assert r.status_code == 413
    assert count(rt, InboundMessage) == 0


def test_non_utf8_plaintext_is_400(
    client: FlaskClient, aibot_peer: AibotPeer, clock: FakeClock, rt: Runtime
) -> None:
    query, body = aibot_peer.encrypt_callback(b'{"msgid": "\xff\xfe"}', ts(clock), "nn")
    r = client.post("/wecom/aibot", query_string=query, data=body)
    assert r.status_code == 400
    assert count(rt, InboundMessage) == 0


def test_unconfigured_channel_is_404(
    fake: FakeWeCom, clock: FakeClock, engine: Any, language: Any
) -> None:
    from bot.app import create_app
    from bot.runtime import build_runtime
    from tests.conftest import make_settings

    settings = make_settings(fake, wecom={"aibot": {}, "app": {}})
    client = create_app(
        runtime=build_runtime(settings, clock=clock, engine=engine, language=language)
    ).test_client()
    assert client.post("/wecom/aibot", data=b"{}").status_code == 404
    assert client.get("/wecom/app").status_code == 404


# ---------------------------------------------------------------- nothing acknowledged is lost


class Flaky:
    """A classifier that fails the first ``n`` times (a bug, a dependency down)."""

    def __init__(self, inner: Any, n: int) -> None:
        self.inner, self.n = inner, n

    def classify(self, text: str) -> Any:
        if self.n > 0:
            self.n -= 1
            raise RuntimeError("classifier unavailable")
        return self.inner.classify(text)


def test_a_failed_message_is_acknowledged_kept_and_processed_by_the_sweep(
    client: FlaskClient, aibot_peer: AibotPeer, clock: FakeClock, rt: Runtime, jobs: Jobs
) -> None:
    rt.language = replace(rt.language, classifier=Flaky(rt.language.classifier, 1))
    r = post_aibot(client, aibot_peer, clock, aibot_text("f1", "ent.a", MENTION + ROAD, "chat_a"))
    assert (r.status_code, r.data) == (200, b"")  # acknowledged, not a 500
    assert count(rt, WorkOrder) == 0
    with db.transaction(rt.sessions) as s:
        row = s.scalar(select(InboundMessage))
        assert row is not None
        assert (row.status, row.attempts) == ("received", 1)
        assert row.last_error == "RuntimeError"

    jobs.run("sweep")  # too recent: the sweep leaves in-flight messages alone
    assert count(rt, WorkOrder) == 0
    clock.advance(seconds=30)
    jobs.run("sweep")
    assert count(rt, WorkOrder) == 1
    jobs.run("sweep")
    assert count(rt, WorkOrder) == 1  # exactly once


def test_a_message_that_keeps_failing_is_marked_failed_and_the_sender_told(
    client: FlaskClient,
    aibot_peer: AibotPeer,
    clock: FakeClock,
    rt: Runtime,
    jobs: Jobs,
    fake: FakeWeCom,
) -> None:
    rt.language = replace(rt.language, classifier=Flaky(rt.language.classifier, 100))
    url = fake.new_response_url()
    post_aibot(
        client,
        aibot_peer,
        clock,
        aibot_text("f2", "ent.a", MENTION + ROAD, "chat_a", response_url=url),
    )
    for _ in range(6):
        clock.advance(seconds=60)
        jobs.run("sweep")
    with db.transaction(rt.sessions) as s:
        row = s.scalar(select(InboundMessage))
        assert row is not None
        assert row.status == "failed"
    jobs.run("outbox")
    [reply] = fake.sent_responses()
    assert "抱歉" in reply["markdown"]["content"]
    assert "RuntimeError" not in reply["markdown"]["content"]


def test_a_database_outage_is_503_so_wecom_retries(
    settings: Any, clock: FakeClock, aibot_peer: AibotPeer, language: Any
) -> None:
    from bot.app import create_app
    from bot.runtime import build_runtime

    down = db.make_engine(
        "postgresql://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1}
    )
    rt = build_runtime(settings, clock=clock, engine=down, language=language, sync=False)
    client = create_app(runtime=rt).test_client()
    r = post_aibot(client, aibot_peer, clock, aibot_text("d1", "ent.a", MENTION + ROAD, "chat_a"))
    assert r.status_code == 503
    assert b"nobody" not in r.data and b"psycopg" not in r.data
    assert client.get("/healthz").status_code == 503
