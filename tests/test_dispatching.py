"""Unsure routing goes to the dispatchers' queue; /派单 routes it and becomes a training example;
/诉求 always files; repeats join the open order; other enterprises' repeats are flagged."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.app import create_app
from bot.clock import FakeClock
from bot.fake_wecom import FakeWeCom
from bot.runtime import Runtime, build_runtime
from bot.scheduler import Jobs
from storage import db
from storage import repositories as repo
from storage.models import OrderEvent, WorkOrder
from tests.conftest import make_settings
from tests.peer import AibotPeer, aibot_text
from tests.test_commands import Officer, road_request_and_officer
from tests.test_webhook import MENTION, ROAD, post_aibot

NUMBER = "GD-20261123-0001"


@pytest.fixture
def unsure_rt(fake: FakeWeCom, clock: FakeClock, engine: Any, language: Any) -> Runtime:
    """A runtime that trusts no routing: every request waits for a dispatcher."""
    settings = make_settings(fake, classifier={"min_confidence": 1.0})
    return build_runtime(settings, clock=clock, engine=engine, language=language)


@pytest.fixture
def unsure(unsure_rt: Runtime) -> tuple[FlaskClient, Jobs]:
    return create_app(runtime=unsure_rt).test_client(), Jobs(unsure_rt, _sender(unsure_rt), "u")


def _sender(rt: Runtime) -> Any:
    from bot.outbox import make_sender

    return make_sender(rt)


def orders(rt: Runtime) -> list[WorkOrder]:
    with db.transaction(rt.sessions) as s:
        return list(s.scalars(select(WorkOrder).order_by(WorkOrder.id)))


def actions(rt: Runtime, number: str = NUMBER) -> list[str]:
    with db.transaction(rt.sessions) as s:
        order = repo.order_by_number(s, number)
        assert order is not None
        return [e.action for e in repo.events(s, order.id)]


def test_an_unsure_request_waits_for_a_dispatcher_who_is_told_the_top3(
    unsure: tuple[FlaskClient, Jobs],
    unsure_rt: Runtime,
    aibot_peer: AibotPeer,
    clock: FakeClock,
    fake: FakeWeCom,
) -> None:
    client, jobs = unsure
    post_aibot(client, aibot_peer, clock, aibot_text("q1", "ent.a", MENTION + ROAD, "chat_a"))
    [order] = orders(unsure_rt)
    assert (order.status, order.department_code, order.category_code) == (
        "pending_dispatch",
        None,
        None,
    )
    assert actions(unsure_rt) == ["intake", "queue"]
    jobs.run("outbox")
    [ack] = fake.sent_to_webhook("key-a")
    assert NUMBER in ack["text"]["content"] and "正在确定承办部门" in ack["text"]["content"]
    [queue] = [m for m in fake.sent_messages() if m["touser"] == "sup"]
    content = queue["text"]["content"]
    assert "【待派单】" in content and "1. 区交通运输局" in content
    assert f"/派单 {NUMBER}" in content
    assert not [m for m in fake.sent_messages() if m["touser"] == "off.transport"]


def test_a_dispatcher_routes_it_and_the_decision_becomes_a_training_example(
    unsure: tuple[FlaskClient, Jobs],
    unsure_rt: Runtime,
    aibot_peer: AibotPeer,
    app_peer: Any,
    clock: FakeClock,
    fake: FakeWeCom,
) -> None:
    client, jobs = unsure
    officer = road_request_and_officer(client, aibot_peer, app_peer, clock, jobs, fake, "q2")
    assert "抱歉" in officer.say("off.transport", f"/派单 {NUMBER} 交通运输局")
    clock.advance(hours=1)
    answer = officer.say("sup", f"/派单 {NUMBER} 交通运输局")
    assert "已将" in answer and "区交通运输局" in answer
    [order] = orders(unsure_rt)
    assert (order.status, order.department_code, order.category_code) == (
        "dispatched",
        "transport",
        "road_traffic",
    )
    assert order.deadline > clock.now()
    assert actions(unsure_rt) == ["intake", "queue", "dispatch"]
    with db.transaction(unsure_rt.sessions) as s:
        [example] = repo.routing_examples(s)
        assert (example.text, example.category_code, example.department_code, example.actor) == (
            ROAD,
            "road_traffic",
            "transport",
            "sup",
        )
    told = fake.sent_to_webhook("key-a")[-1]["text"]
    assert "已转区交通运输局办理" in told["content"] and told["mentioned_list"] == ["ent.a"]
    assert [m for m in fake.sent_messages() if m["touser"] == "off.transport"]
    assert "不能派单" in officer.say("sup", f"/派单 {NUMBER} 住建局")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        pytest.param("", "请写明承办部门", id="missing"),
        pytest.param("火星局", "未找到唯一匹配", id="unknown"),
        pytest.param("区", "未找到唯一匹配", id="ambiguous"),
    ],
)
def test_dispatch_needs_one_known_department(
    unsure: tuple[FlaskClient, Jobs],
    aibot_peer: AibotPeer,
    app_peer: Any,
    clock: FakeClock,
    fake: FakeWeCom,
    target: str,
    expected: str,
) -> None:
    client, jobs = unsure
    officer = road_request_and_officer(client, aibot_peer, app_peer, clock, jobs, fake, "q3")
    assert expected in officer.say("sup", f"/派单 {NUMBER} {target}".strip())


def test_request_command_always_files(
    client: FlaskClient,
    aibot_peer: AibotPeer,
    clock: FakeClock,
    rt: Runtime,
    jobs: Jobs,
    fake: FakeWeCom,
) -> None:
    post_aibot(
        client, aibot_peer, clock, aibot_text("r1", "ent.a", MENTION + "/诉求 谢谢", "chat_a")
    )  # chatter, on purpose
    [order] = orders(rt)
    assert order.text == "谢谢" and order.requester_userid == "ent.a"
    jobs.run("outbox")
    assert NUMBER in fake.sent_to_webhook("key-a")[0]["text"]["content"]


def test_request_command_needs_content(
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
        aibot_text("r2", "ent.a", MENTION + "/诉求", "chat_a", response_url=url),
    )
    jobs.run("outbox")
    assert "用法：/诉求 内容" in fake.sent_responses()[0]["markdown"]["content"]
    assert orders(rt) == []


def test_a_repeat_from_the_same_enterprise_joins_the_open_order(
    client: FlaskClient,
    aibot_peer: AibotPeer,
    clock: FakeClock,
    rt: Runtime,
    jobs: Jobs,
    fake: FakeWeCom,
) -> None:
    post_aibot(client, aibot_peer, clock, aibot_text("d1", "ent.a", MENTION + ROAD, "chat_a"))
    clock.advance(hours=24)  # the next morning, outside the quiet hours
    again = "上次说的新基地施工车辆没有路进出的问题还没解决，能不能尽快协调修临时道路"
    post_aibot(client, aibot_peer, clock, aibot_text("d2", "ent.a", MENTION + again, "chat_a"))
    assert len(orders(rt)) == 1
    assert actions(rt) == ["intake", "dispatch", "join"]
    jobs.run("outbox")
    merged = fake.sent_to_webhook("key-a")[-1]["text"]
    assert f"已并入 {NUMBER} 一并办理" in merged["content"]
    assert merged["mentioned_list"] == ["ent.a"]


def test_a_different_problem_of_the_same_enterprise_is_a_new_order(
    client: FlaskClient, aibot_peer: AibotPeer, clock: FakeClock, rt: Runtime
) -> None:
    post_aibot(client, aibot_peer, clock, aibot_text("n1", "ent.a", MENTION + ROAD, "chat_a"))
    other = "研发楼燃气管道还没接通，周五前必须通气，麻烦尽快协调"
    post_aibot(client, aibot_peer, clock, aibot_text("n2", "ent.a", MENTION + other, "chat_a"))
    assert len(orders(rt)) == 2


def test_the_same_problem_from_another_enterprise_is_flagged_as_a_cluster(
    client: FlaskClient,
    aibot_peer: AibotPeer,
    clock: FakeClock,
    rt: Runtime,
    jobs: Jobs,
    fake: FakeWeCom,
) -> None:
    outage = "园区二期A栋从早上八点开始停电，到现在还没来电，生产线全停了"
    post_aibot(client, aibot_peer, clock, aibot_text("c1", "ent.a", MENTION + outage, "chat_a"))
    clock.advance(minutes=30)
    same = "二期A栋停电了，我们这边也没电，生产停了，请供电公司尽快抢修"
    post_aibot(client, aibot_peer, clock, aibot_text("c2", "ent.b", MENTION + same, "chat_b"))
    first, second = orders(rt)
    assert first.enterprise_id != second.enterprise_id  # both kept: different enterprises
    assert "cluster" in actions(rt, second.number)
    jobs.run("outbox")
    flags = [m for m in fake.sent_messages() if "疑似同一问题" in m["text"]["content"]]
    assert len(flags) == 1 and first.number in flags[0]["text"]["content"]
    with db.transaction(rt.sessions) as s:
        clusters = s.scalars(select(OrderEvent).where(OrderEvent.action == "cluster"))
        notes = [e.note for e in clusters]
    assert notes and first.number in notes[0]


class Unsure:
    """A classifier that is never sure a text is a request (score 0.6, below its threshold)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def classify(self, text: str) -> Any:
        from dataclasses import replace

        return replace(
            self.inner.classify(text),
            is_request=False,
            request_score=0.6,
            category=None,
            department=None,
            confidence=0.0,
        )


@pytest.fixture
def review(rt: Runtime) -> Runtime:
    from dataclasses import replace

    rt.language = replace(rt.language, classifier=Unsure(rt.language.classifier))
    return rt


def inbound_id(rt: Runtime, msgid: str) -> int:
    from storage.models import InboundMessage

    with db.transaction(rt.sessions) as s:
        row = s.scalar(select(InboundMessage).where(InboundMessage.msgid == msgid))
        assert row is not None
        return row.id


def test_a_likely_request_is_put_to_the_dispatchers_who_can_file_it(
    client: FlaskClient,
    review: Runtime,
    aibot_peer: AibotPeer,
    app_peer: Any,
    clock: FakeClock,
    jobs: Jobs,
    fake: FakeWeCom,
) -> None:
    post_aibot(client, aibot_peer, clock, aibot_text("v1", "ent.a", MENTION + ROAD, "chat_a"))
    assert orders(review) == []
    jobs.run("outbox")
    assert fake.sent_to_webhook("key-a") == []  # nothing said in the group
    message_id = inbound_id(review, "v1")
    [ask] = [m for m in fake.sent_messages() if "【待确认】" in m["text"]["content"]]
    assert ask["touser"] == "sup" and f"/立案 {message_id}" in ask["text"]["content"]
    assert "把握 60%" in ask["text"]["content"]

    officer = Officer(client, app_peer, clock, jobs, fake)
    assert "只有调度员" in officer.say("off.transport", f"/立案 {message_id}")
    answer = officer.say("sup", f"/立案 {message_id}")
    assert f"已将消息 {message_id} 登记为工单 {NUMBER}" in answer
    [order] = orders(review)
    assert (order.requester_userid, order.text, order.source_message_id) == (
        "ent.a",
        ROAD,
        message_id,
    )
    assert actions(review)[0] == "intake" and actions(review)[-1] == "confirm"
    ack = fake.sent_to_webhook("key-a")[-1]["text"]
    assert NUMBER in ack["content"] and ack["mentioned_list"] == ["ent.a"]
    assert f"已登记为工单 {NUMBER}" in officer.say("sup", f"/立案 {message_id}")
    assert len(orders(review)) == 1


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        pytest.param("", "请写明消息编号", id="missing"),
        pytest.param("abc", "请写明消息编号", id="not-a-number"),
        pytest.param("99999", "未找到群消息 99999", id="unknown"),
    ],
)
def test_file_needs_a_stored_group_message(
    client: FlaskClient,
    rt: Runtime,
    app_peer: Any,
    clock: FakeClock,
    jobs: Jobs,
    fake: FakeWeCom,
    arg: str,
    expected: str,
) -> None:
    officer = Officer(client, app_peer, clock, jobs, fake)
    assert expected in officer.say("sup", f"/立案 {arg}".strip())
    assert orders(rt) == []


def test_chatter_below_the_review_score_reaches_nobody(
    client: FlaskClient,
    rt: Runtime,
    aibot_peer: AibotPeer,
    clock: FakeClock,
    jobs: Jobs,
    fake: FakeWeCom,
) -> None:
    thanks = aibot_text("t1", "ent.a", MENTION + "谢谢领导！", "chat_a")
    post_aibot(client, aibot_peer, clock, thanks)
    jobs.run("outbox")
    assert orders(rt) == [] and fake.sent_messages() == [] and fake.sent_to_webhook("key-a") == []
