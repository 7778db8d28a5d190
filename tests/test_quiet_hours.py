"""Quiet hours: group posts wait until morning, except for urgent orders."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient

from bot.clock import FakeClock
from bot.config import QuietHours
from bot.fake_wecom import FakeWeCom
from bot.scheduler import Jobs
from tests.peer import AibotPeer, aibot_text
from tests.test_webhook import MENTION, ROAD, post_aibot

TZ = ZoneInfo("Asia/Shanghai")
OUTAGE = "园区二期A栋从早上八点开始停电，到现在还没来电，生产线全停了，请供电公司尽快抢修"


@pytest.mark.parametrize(
    ("at", "start", "end", "release"),
    [
        pytest.param(time(21, 59), time(22), time(8), None, id="before"),
        pytest.param(time(22, 0), time(22), time(8), datetime(2026, 11, 24, 8), id="start"),
        pytest.param(time(23, 30), time(22), time(8), datetime(2026, 11, 24, 8), id="night"),
        pytest.param(time(7, 59), time(22), time(8), datetime(2026, 11, 23, 8), id="early"),
        pytest.param(time(8, 0), time(22), time(8), None, id="end"),
        pytest.param(time(13, 0), time(12), time(14), datetime(2026, 11, 23, 14), id="noon"),
        pytest.param(time(3, 0), time(8), time(8), None, id="off"),
    ],
)
def test_release_times(at: time, start: time, end: time, release: datetime | None) -> None:
    moment = datetime.combine(datetime(2026, 11, 23).date(), at, tzinfo=TZ)
    expected = release.replace(tzinfo=TZ) if release else None
    assert QuietHours(start, end).release(moment) == expected


def test_a_night_ack_waits_for_the_morning(
    client: FlaskClient, aibot_peer: AibotPeer, clock: FakeClock, jobs: Jobs, fake: FakeWeCom
) -> None:
    clock.set(datetime(2026, 11, 23, 23, 10))
    post_aibot(client, aibot_peer, clock, aibot_text("q1", "ent.a", MENTION + ROAD, "chat_a"))
    jobs.run("outbox")
    assert fake.sent_to_webhook("key-a") == []
    officers = [m for m in fake.sent_messages() if m["touser"] == "off.transport"]
    assert len(officers) == 1  # 1:1 messages to staff are not held
    clock.set(datetime(2026, 11, 24, 7, 59))
    jobs.run("outbox")
    assert fake.sent_to_webhook("key-a") == []
    clock.set(datetime(2026, 11, 24, 8, 0))
    jobs.run("outbox")
    [ack] = fake.sent_to_webhook("key-a")
    assert "【受理】" in ack["text"]["content"]


def test_an_urgent_order_is_acknowledged_at_night(
    client: FlaskClient, aibot_peer: AibotPeer, clock: FakeClock, jobs: Jobs, fake: FakeWeCom
) -> None:
    clock.set(datetime(2026, 11, 23, 23, 10))
    post_aibot(client, aibot_peer, clock, aibot_text("q2", "ent.a", MENTION + OUTAGE, "chat_a"))
    jobs.run("outbox")
    [ack] = fake.sent_to_webhook("key-a")
    assert "【受理】" in ack["text"]["content"] and "供电" in ack["text"]["content"]
