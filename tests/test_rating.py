"""The satisfaction loop through the real webhook: a reply to the 办结回执 rates the order;
不满意 with a reason re-opens it (重办) and the group is told."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from bot.clock import FakeClock
from bot.fake_wecom import FakeWeCom
from bot.runtime import Runtime
from bot.scheduler import Jobs
from storage import db
from storage import repositories as repo
from tests.peer import AibotPeer, aibot_text
from tests.test_commands import road_request_and_officer
from tests.test_webhook import MENTION, post_aibot

NUMBER = "GD-20261123-0001"


def closed_order(
    client: FlaskClient,
    aibot_peer: AibotPeer,
    app_peer: Any,
    clock: FakeClock,
    jobs: Jobs,
    fake: FakeWeCom,
) -> str:
    officer = road_request_and_officer(client, aibot_peer, app_peer, clock, jobs, fake, "a1")
    clock.advance(hours=3)
    officer.say("off.transport", f"/办结 {NUMBER} 临时便道已修通")
    [receipt] = [m for m in fake.sent_to_webhook("key-a") if "【办结回执】" in m["text"]["content"]]
    return str(receipt["text"]["content"])


def status(rt: Runtime) -> tuple[str, str | None, int, list[str]]:
    with db.transaction(rt.sessions) as s:
        o = repo.order_by_number(s, NUMBER)
        assert o is not None
        return o.status, o.rating, o.reopens, [e.action for e in repo.events(s, o.id)]


def test_replying_satisfied_to_the_receipt_rates_the_order(
    client: FlaskClient,
    rt: Runtime,
    aibot_peer: AibotPeer,
    app_peer: Any,
    clock: FakeClock,
    jobs: Jobs,
    fake: FakeWeCom,
) -> None:
    receipt = closed_order(client, aibot_peer, app_peer, clock, jobs, fake)
    assert "请评价" in receipt
    reply = aibot_text("a2", "ent.a", MENTION + "基本满意", "chat_a", quote=receipt)
    post_aibot(client, aibot_peer, clock, reply)
    assert status(rt) == ("rated", "基本满意", 0, ["intake", "dispatch", "resolve", "rate"])


def test_dissatisfied_with_a_reason_reopens_and_tells_the_group(
    client: FlaskClient,
    rt: Runtime,
    aibot_peer: AibotPeer,
    app_peer: Any,
    clock: FakeClock,
    jobs: Jobs,
    fake: FakeWeCom,
) -> None:
    receipt = closed_order(client, aibot_peer, app_peer, clock, jobs, fake)
    text = MENTION + "不满意，便道一下雨就积水，车还是进不去"
    post_aibot(client, aibot_peer, clock, aibot_text("a3", "ent.a", text, "chat_a", quote=receipt))
    state, rating, reopens, actions = status(rt)
    assert (state, rating, reopens) == ("dispatched", None, 1)
    assert actions[-2:] == ["rate", "reopen"]
    jobs.run("outbox")
    told = fake.sent_to_webhook("key-a")[-1]["text"]
    assert "【重办】" in told["content"] and told["mentioned_list"] == ["ent.a"]
    sup = [m["text"]["content"] for m in fake.sent_messages() if m["touser"] == "sup"]
    assert any("已自动重办" in t for t in sup)


def test_only_the_requester_rates(
    client: FlaskClient,
    rt: Runtime,
    aibot_peer: AibotPeer,
    app_peer: Any,
    clock: FakeClock,
    jobs: Jobs,
    fake: FakeWeCom,
) -> None:
    receipt = closed_order(client, aibot_peer, app_peer, clock, jobs, fake)
    reply = aibot_text("a4", "ent.b", MENTION + "不满意 没修好", "chat_a", quote=receipt)
    post_aibot(client, aibot_peer, clock, reply)
    assert status(rt)[0] == "resolved"


def test_a_reply_to_something_else_is_not_a_rating(
    client: FlaskClient,
    rt: Runtime,
    aibot_peer: AibotPeer,
    app_peer: Any,
    clock: FakeClock,
    jobs: Jobs,
    fake: FakeWeCom,
) -> None:
    closed_order(client, aibot_peer, app_peer, clock, jobs, fake)
    reply = aibot_text("a5", "ent.a", MENTION + "满意", "chat_a", quote="明天开会")
    post_aibot(client, aibot_peer, clock, reply)
    assert status(rt)[0] == "resolved"
