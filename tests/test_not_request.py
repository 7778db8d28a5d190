"""/非诉求: a dispatcher says a filed order, or a message the classifier was unsure of, is not a
request. The order is cancelled (已撤销) and the group and department told; /立案 and /非诉求
are stored as labelled detection examples, one per message, the latest decision winning."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from bot.clock import FakeClock
from bot.fake_wecom import FakeWeCom
from bot.runtime import Runtime
from bot.scheduler import Jobs
from storage import db
from storage import repositories as repo
from tests.peer import AibotPeer, aibot_text
from tests.test_commands import Officer, road_request_and_officer
from tests.test_dispatching import actions, inbound_id, orders, review  # noqa: F401 (fixture)
from tests.test_webhook import MENTION, ROAD, post_aibot

NUMBER = "GD-20261123-0001"


def examples(rt: Runtime) -> list[tuple[str, str, str, int | None, int | None]]:
    with db.transaction(rt.sessions) as s:
        return [
            (e.text, e.label, e.actor, e.message_id, e.order_id) for e in repo.detection_examples(s)
        ]


def test_a_dispatcher_cancels_a_filed_order_and_it_becomes_a_chatter_example(
    client: FlaskClient,
    rt: Runtime,
    aibot_peer: AibotPeer,
    app_peer: Any,
    clock: FakeClock,
    jobs: Jobs,
    fake: FakeWeCom,
) -> None:
    officer = road_request_and_officer(client, aibot_peer, app_peer, clock, jobs, fake, "n1")
    [order] = orders(rt)
    assert order.status == "dispatched"
    assert "只有调度员可以撤销" in officer.say("off.transport", f"/非诉求 {NUMBER}")
    assert "只有调度员可以撤销" in officer.say("ent.a", f"/非诉求 {NUMBER}")
    assert examples(rt) == []

    answer = officer.say("sup", f"/非诉求 {NUMBER}")
    assert f"已撤销 {NUMBER}" in answer
    [order] = orders(rt)
    assert order.status == "dismissed"
    assert actions(rt)[-1] == "dismiss"
    assert examples(rt) == [(ROAD, "chatter", "sup", order.source_message_id, order.id)]
    told = fake.sent_to_webhook("key-a")[-1]["text"]
    assert "【说明】" in told["content"] and f"工单 {NUMBER} 已撤销" in told["content"]
    assert told["mentioned_list"] == ["ent.a"]
    [cancelled] = [
        m
        for m in fake.sent_messages()
        if m["touser"] == "off.transport" and "【撤销】" in m["text"]["content"]
    ]
    assert NUMBER in cancelled["text"]["content"]
    # final: nothing more can happen to it
    assert "当前状态为「已撤销」" in officer.say("sup", f"/非诉求 {NUMBER}")
    assert "当前状态为「已撤销」" in officer.say("off.transport", f"/签收 {NUMBER}")


def test_the_queue_notice_offers_it(
    client: FlaskClient,
    rt: Runtime,
    aibot_peer: AibotPeer,
    app_peer: Any,
    clock: FakeClock,
    jobs: Jobs,
    fake: FakeWeCom,
) -> None:
    officer = road_request_and_officer(client, aibot_peer, app_peer, clock, jobs, fake, "n2")
    officer.say("off.transport", f"/签收 {NUMBER}")
    assert "不能撤销" in officer.say("sup", f"/非诉求 {NUMBER}")  # signed: the department has it
    officer.say("off.transport", f"/退单 {NUMBER} 这是企业之间的闲聊，不是诉求")
    assert f"已撤销 {NUMBER}" in officer.say("sup", f"/非诉求 {NUMBER}")
    assert [o.status for o in orders(rt)] == ["dismissed"]


def test_a_message_put_to_the_dispatchers_is_labelled_and_the_latest_decision_wins(
    client: FlaskClient,
    review: Runtime,  # noqa: F811 (fixture)
    aibot_peer: AibotPeer,
    app_peer: Any,
    clock: FakeClock,
    jobs: Jobs,
    fake: FakeWeCom,
) -> None:
    post_aibot(client, aibot_peer, clock, aibot_text("n3", "ent.a", MENTION + ROAD, "chat_a"))
    jobs.run("outbox")
    message_id = inbound_id(review, "n3")
    [ask] = [m for m in fake.sent_messages() if "【待确认】" in m["text"]["content"]]
    assert f"/非诉求 {message_id}" in ask["text"]["content"]

    officer = Officer(client, app_peer, clock, jobs, fake)
    assert "只有调度员" in officer.say("off.transport", f"/非诉求 {message_id}")
    answer = officer.say("sup", f"/非诉求 {message_id}")
    assert f"已将消息 {message_id} 记为“不是诉求”" in answer
    assert orders(review) == []
    assert examples(review) == [(ROAD, "chatter", "sup", message_id, None)]
    assert fake.sent_to_webhook("key-a") == []  # the group hears nothing of it

    # the dispatcher thinks again: /立案 files it, and the example becomes a request
    officer.say("sup", f"/立案 {message_id}")
    [order] = orders(review)
    assert examples(review) == [(ROAD, "request", "sup", message_id, order.id)]
    assert f"请发送 /非诉求 {NUMBER}" in officer.say("sup", f"/非诉求 {message_id}")
    officer.say("sup", f"/非诉求 {NUMBER}")
    assert examples(review) == [(ROAD, "chatter", "sup", message_id, order.id)]


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        pytest.param("", "请写明工单号或消息编号", id="missing"),
        pytest.param("abc", "请写明工单号或消息编号", id="neither"),
        pytest.param("99999", "未找到群消息 99999", id="unknown-message"),
        pytest.param("GD-20991231-0001", "未找到工单 GD-20991231-0001", id="unknown-order"),
    ],
)
def test_not_request_needs_an_order_or_a_stored_group_message(
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
    answer = officer.say("sup", f"/非诉求 {arg}".strip())
    assert expected in answer
    assert "/非诉求 单号|消息编号" in answer or "未找到" in answer
    assert examples(rt) == []
