"""A request filed in a 1:1 chat with the app (/诉求 内容) gets every step back in that chat:
the ack, 签收, the 办结回执 (rated with /评价, there is no quote in a 1:1 chat), the rating
reminder. Nothing goes to any group."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from bot.clock import FakeClock
from bot.fake_wecom import FakeWeCom
from bot.runtime import Runtime
from bot.scheduler import Jobs
from storage import db
from storage import repositories as repo
from tests.peer import AppPeer
from tests.test_commands import Officer
from tests.test_reminders import at, run_at
from tests.test_webhook import ROAD, post_app

NUMBER = "GD-20261123-0001"


class Requester:
    """ent.a, writing to the app 1:1; reads everything the app sends ent.a."""

    def __init__(
        self, client: FlaskClient, peer: AppPeer, clock: FakeClock, jobs: Jobs, fake: FakeWeCom
    ) -> None:
        self.client, self.peer, self.clock, self.jobs, self.fake = client, peer, clock, jobs, fake
        self.seen = 0
        self.msgid = 7000

    def say(self, text: str) -> None:
        self.msgid += 1
        r = post_app(self.client, self.peer, self.clock, "ent.a", text, self.msgid)
        assert (r.status_code, r.data) == (200, b"")

    def inbox(self) -> list[str]:
        """What ent.a received 1:1 since the last call."""
        self.jobs.run("outbox")
        mine = [m for m in self.fake.sent_messages() if m["touser"] == "ent.a"]
        new, self.seen = mine[self.seen :], len(mine)
        return [str(m["text"]["content"]) for m in new]


@pytest.fixture
def filed(
    client: FlaskClient, app_peer: AppPeer, clock: FakeClock, jobs: Jobs, fake: FakeWeCom
) -> tuple[Requester, Officer]:
    """The road request filed by ent.a with /诉求 in a 1:1 chat; ent.a has read the ack."""
    ent = Requester(client, app_peer, clock, jobs, fake)
    ent.say(f"/诉求 {ROAD}")
    got = ent.inbox()
    assert any("【受理】" in t and NUMBER in t and "区交通运输局" in t for t in got), got
    assert any("已登记" in t for t in got), got
    return ent, Officer(client, app_peer, clock, jobs, fake)


def test_every_step_comes_back_to_the_1to1_chat(
    filed: tuple[Requester, Officer], rt: Runtime, clock: FakeClock, fake: FakeWeCom
) -> None:
    ent, officer = filed
    assert "已签收" in officer.say("off.transport", f"/签收 {NUMBER}")
    [signed] = ent.inbox()
    assert signed.startswith("【签收】") and NUMBER in signed
    clock.advance(hours=3)
    assert "回执已发送给诉求人" in officer.say("off.transport", f"/办结 {NUMBER} 临时便道已修通")
    [receipt] = ent.inbox()
    assert receipt.startswith("【办结回执】") and "临时便道已修通" in receipt
    assert f"发送 /评价 {NUMBER} 满意" in receipt and "回复本消息" not in receipt
    ent.say(f"/评价 {NUMBER} 满意")
    assert any("感谢" in t for t in ent.inbox())
    with db.transaction(rt.sessions) as s:
        order = repo.order_by_number(s, NUMBER)
        assert order is not None and (order.status, order.rating) == ("rated", "满意")
        assert order.group_chatid is None
    assert not fake.sent_to_webhook("key-a") and not fake.sent_appchat()


def test_an_unrated_private_closure_is_reminded_privately(
    filed: tuple[Requester, Officer], rt: Runtime, clock: FakeClock, fake: FakeWeCom
) -> None:
    ent, officer = filed
    clock.set(at(27, 16))  # Friday
    assert "已办结" in officer.say("off.transport", f"/办结 {NUMBER} 已修通")
    assert any("【办结回执】" in t for t in ent.inbox())
    assert run_at(rt, clock, at(3 + 30, 16)) == 1  # three working days later
    [reminder] = ent.inbox()
    assert reminder.startswith("【评价提醒】") and f"/评价 {NUMBER} 满意" in reminder
    assert "回复「满意」" not in reminder  # nothing to reply to in a 1:1 chat
    assert not fake.sent_to_webhook("key-a")
