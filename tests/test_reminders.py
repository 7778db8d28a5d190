"""Reminders and escalation over a simulated fortnight: each exactly once, at its moment."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from bot.clock import FakeClock
from bot.fake_wecom import FakeWeCom
from bot.reminders import reminders_job
from bot.runtime import Runtime
from bot.scheduler import Jobs
from storage import db
from storage import repositories as repo
from storage.models import OrderEvent
from tests.peer import AibotPeer, aibot_text
from tests.test_commands import road_request_and_officer
from tests.test_webhook import MENTION, ROAD, post_aibot

NUMBER = "GD-20261123-0001"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """``day`` of November 2026, counting on into December (31 = December 1st)."""
    return datetime(2026, 11, 1, hour, minute) + timedelta(days=day - 1)


def reminders(rt: Runtime) -> list[str]:
    with db.transaction(rt.sessions) as s:
        rows = s.scalars(
            select(OrderEvent).where(OrderEvent.action == "remind").order_by(OrderEvent.id)
        )
        return [e.note.split("（")[1].rstrip("）") for e in rows]


def run_at(rt: Runtime, clock: FakeClock, when: datetime) -> int:
    clock.set(when)
    return reminders_job(rt)


def test_the_reminder_ladder_of_a_general_order(
    client: FlaskClient,
    rt: Runtime,
    aibot_peer: AibotPeer,
    clock: FakeClock,
    jobs: Jobs,
    fake: FakeWeCom,
) -> None:
    post_aibot(client, aibot_peer, clock, aibot_text("r1", "ent.a", MENTION + ROAD, "chat_a"))
    with db.transaction(rt.sessions) as s:
        order = repo.order_by_number(s, NUMBER)
        assert order is not None
        tz = clock.tz
        # dispatched Monday 09:00; 签收 within 2 working hours; 办结 in 5 working days from the
        # next day, at the end of the office day
        assert order.accept_deadline.astimezone(tz).replace(tzinfo=None) == at(23, 11)
        assert order.deadline.astimezone(tz).replace(tzinfo=None) == at(30, 17, 30)
    assert run_at(rt, clock, at(23, 10, 29)) == 0
    assert run_at(rt, clock, at(23, 10, 30)) == 1  # 75 % of two working hours
    assert run_at(rt, clock, at(23, 10, 30)) == 0  # the same moment again: nothing twice
    assert run_at(rt, clock, at(23, 11, 0)) == 1
    assert reminders(rt) == ["accept_warn", "accept_due"]
    jobs.run("outbox")
    texts = [m["text"]["content"] for m in fake.sent_messages() if m["touser"] == "off.transport"]
    assert any("【签收提醒】" in t for t in texts) and any("【签收催办】" in t for t in texts)

    with db.transaction(rt.sessions) as s:
        order = repo.order_by_number(s, NUMBER)
        assert order is not None
        order.status, order.accepted_at = "accepted", clock.now()
    # no 进展 by the first-contact deadline (one working day from the dispatch, start_next_day):
    # Tuesday 17:30
    assert run_at(rt, clock, at(24, 17, 29)) == 0
    assert run_at(rt, clock, at(24, 17, 30)) == 1
    assert reminders(rt)[-1] == "contact_due"
    jobs.run("outbox")
    texts = [m["text"]["content"] for m in fake.sent_messages() if m["touser"] == "off.transport"]
    assert any("【首次联系提醒】" in t and f"/进展 {NUMBER}" in t for t in texts)
    # 75 % of the 38.5 working hours from Monday 09:00 to the next Monday 17:30: Friday 11:52:30
    assert run_at(rt, clock, at(27, 11, 52)) == 0
    assert run_at(rt, clock, at(27, 11, 53)) == 1
    assert run_at(rt, clock, at(30, 17, 29)) == 0
    assert run_at(rt, clock, at(30, 17, 30)) == 1  # 催办
    assert reminders(rt)[-2:] == ["resolve_warn", "resolve_due"]
    assert run_at(rt, clock, at(31, 17, 29)) == 0
    assert run_at(rt, clock, at(31, 17, 30)) == 1  # one working day overdue: 督办
    jobs.run("outbox")
    sup = [m["text"]["content"] for m in fake.sent_messages() if m["touser"] == "sup"]
    assert any("【督办】" in t and NUMBER in t for t in sup)
    assert run_at(rt, clock, at(37, 17, 30)) == 1  # five working days overdue: recorded
    assert reminders(rt)[-2:] == ["overdue_1", "overdue_5"]
    assert run_at(rt, clock, at(40, 9)) == 0


def test_an_unrated_closure_gets_one_reminder_after_three_working_days(
    client: FlaskClient,
    rt: Runtime,
    aibot_peer: AibotPeer,
    app_peer: Any,
    clock: FakeClock,
    jobs: Jobs,
    fake: FakeWeCom,
) -> None:
    officer = road_request_and_officer(client, aibot_peer, app_peer, clock, jobs, fake, "r2")
    clock.set(at(27, 16))  # Friday
    assert "已办结" in officer.say("off.transport", f"/办结 {NUMBER} 已修通")
    assert run_at(rt, clock, at(2 + 30, 17)) == 0  # Wednesday: two working days
    assert run_at(rt, clock, at(3 + 30, 16)) == 1  # Thursday 16:00: three working days
    assert run_at(rt, clock, at(4 + 30, 16)) == 0
    jobs.run("outbox")
    group = [m["text"] for m in fake.sent_to_webhook("key-a")]
    [reminder] = [t for t in group if "【评价提醒】" in t["content"]]
    assert reminder["mentioned_list"] == ["ent.a"]


def test_an_extension_starts_the_reminders_again(
    client: FlaskClient, rt: Runtime, aibot_peer: AibotPeer, clock: FakeClock
) -> None:
    post_aibot(client, aibot_peer, clock, aibot_text("r3", "ent.a", MENTION + ROAD, "chat_a"))
    with db.transaction(rt.sessions) as s:
        order = repo.order_by_number(s, NUMBER)
        assert order is not None
        order.status = "accepted"
    run_at(rt, clock, at(30, 17, 30))
    assert reminders(rt).count("resolve_due") == 1
    with db.transaction(rt.sessions) as s:
        order = repo.order_by_number(s, NUMBER)
        assert order is not None
        order.deadline = order.deadline + timedelta(days=3)
    run_at(rt, clock, at(33, 17, 30))
    assert reminders(rt).count("resolve_due") == 2


def test_a_progress_report_since_the_dispatch_is_the_first_contact(
    client: FlaskClient,
    rt: Runtime,
    aibot_peer: AibotPeer,
    app_peer: Any,
    clock: FakeClock,
    jobs: Jobs,
    fake: FakeWeCom,
) -> None:
    officer = road_request_and_officer(client, aibot_peer, app_peer, clock, jobs, fake, "r4")
    assert "已签收" in officer.say("off.transport", f"/签收 {NUMBER}")
    clock.set(at(24, 10))
    assert "进展" in officer.say("off.transport", f"/进展 {NUMBER} 已电话联系企业，明天到现场")
    run_at(rt, clock, at(24, 18))
    assert "contact_due" not in reminders(rt)
    # a 进展 from before a 转派 does not count for the new department
    with db.transaction(rt.sessions) as s:
        order = repo.order_by_number(s, NUMBER)
        assert order is not None
        order.dispatched_at = at(25, 9).replace(tzinfo=clock.tz)
    run_at(rt, clock, at(26, 18))
    assert reminders(rt).count("contact_due") == 1
