"""The scheduler: one lease holder runs jobs; the digest goes out once a day with right figures,
the weekly / 旬 / monthly reports once per period on their days."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.clock import FakeClock
from bot.digest import build_digest
from bot.fake_wecom import FakeWeCom
from bot.outbox import make_sender
from bot.runtime import Runtime
from bot.scheduler import Jobs, build_scheduler, digest_job, reports_job
from handlers import workflow as wf
from storage import db
from storage.models import WorkOrder

TZ = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=TZ)


def test_a_second_scheduler_stands_by_while_the_first_holds_the_lease(
    rt: Runtime, clock: FakeClock
) -> None:
    first, second = Jobs(rt, make_sender(rt), "first"), Jobs(rt, make_sender(rt), "second")
    assert first.run("sweep")
    assert not second.run("sweep")
    clock.advance(seconds=rt.settings.scheduler.lease_seconds - 1)
    assert first.run("sweep")  # renews
    assert not second.run("sweep")
    clock.advance(seconds=rt.settings.scheduler.lease_seconds + 1)  # first died
    assert second.run("sweep")
    assert not first.run("sweep")


def test_job_errors_reach_the_trampoline_not_the_scheduler(rt: Runtime) -> None:
    jobs = Jobs(rt, make_sender(rt), "x")

    def boom() -> None:
        raise RuntimeError("bug")

    jobs.table["sweep"] = boom
    assert jobs.run("sweep") is False  # logged, not raised


def test_the_apscheduler_jobs_all_point_at_the_trampoline(rt: Runtime) -> None:
    jobs = Jobs(rt, make_sender(rt), "x")
    sched = build_scheduler(jobs, blocking=False)
    got = {j.id: (j.func, j.args) for j in sched.get_jobs()}
    assert set(got) == {"outbox", "sweep", "reminders", "digest", "reports"}
    assert all(func == jobs.run and args == (name,) for name, (func, args) in got.items())


def _order(
    rt: Runtime,
    number: str,
    dept: str,
    created: datetime,
    *,
    status: str = wf.DISPATCHED,
    accepted: datetime | None = None,
    resolved: datetime | None = None,
    deadline_days: float = 5,
) -> None:
    with db.transaction(rt.sessions) as s:
        s.add(
            WorkOrder(
                number=number,
                status=status,
                requester_userid="ent.a",
                text="诉求" + number,
                category_code="other",
                department_code=dept,
                created_at=created,
                deadline=created + timedelta(days=deadline_days),
                accept_deadline=created + timedelta(hours=2),
                accepted_at=accepted,
                resolved_at=resolved,
            )
        )


def fixtures(rt: Runtime) -> None:
    """Hand-counted. On 2026-11-23: transport 受理 2 签收 1 办结 1, gas 受理 1.
    Cumulative at 11-24 09:00: transport 受理 4 签收 2 办结 1 (25.0%), 3 open, none overdue;
    gas 受理 2 签收 1 办结 1 (50.0%), 1 open and overdue (GD-20261123-0003, due 11-24 03:00).
    Every 签收 within its 2 hours; 23-0002 and 23-0003 are unsigned past them (超时未签收)."""
    _order(rt, "GD-20261120-0001", "transport", at(20, 10), status=wf.ACCEPTED, accepted=at(20, 11))
    _order(
        rt,
        "GD-20261123-0001",
        "transport",
        at(23, 9),
        status=wf.RESOLVED,
        accepted=at(23, 10),
        resolved=at(23, 16),
    )
    _order(rt, "GD-20261123-0002", "transport", at(23, 11))
    _order(
        rt,
        "GD-20261118-0001",
        "gas",
        at(18, 9),
        status=wf.RESOLVED,
        accepted=at(18, 10),
        resolved=at(19, 9),
    )
    _order(rt, "GD-20261123-0003", "gas", at(23, 15), deadline_days=0.5)  # due 23:00 → overdue
    _order(rt, "GD-20261124-0001", "transport", at(24, 8, 50))  # today: not in yesterday's row


def test_digest_figures(rt: Runtime) -> None:
    fixtures(rt)
    with db.transaction(rt.sessions) as s:
        text = build_digest(
            s, day=at(23, 0).date(), now=at(24, 9), settings=rt.settings, calendar=rt.calendar
        )
    assert "## 企业诉求日报 2026-11-23" in text
    assert (
        "**当日**：受理 3 件，签收 1 件，办结 1 件；办结率 33.3%，及时签收率 100.0%，"
        "按期办结率 100.0%，满意率 —（满意 0、基本满意 0、不满意 0，未评价 1）；"
        "退单 0 次，重办 0 次"
    ) in text
    assert (
        "**累计**：受理 6 件，办结 2 件，办结率 33.3%；及时签收率 100.0%，按期办结率 100.0%，"
        "满意率 —（满意 0、基本满意 0、不满意 0，未评价 2）；退单 0 次，重办 0 次；在办 4 件，"
        '<font color="warning">超期 1 件</font>，超时未签收 2 件'
    ) in text
    assert "| 区交通运输局 | 2 | 1 | 4 | 1 | 25.0% | 100.0% | 100.0% | — | 0 | 0 | 3 | 0 |" in text
    assert "| 区燃气公司 | 1 | 0 | 2 | 1 | 50.0% | 100.0% | 100.0% | — | 0 | 0 | 1 | 1 |" in text
    # ranked without 满意 (nobody rated): (30 × 100% + 35 × 50%) / 65 and (30 + 35 × 25%) / 65
    assert "| 1 | 区燃气公司 | 100.0% | 50.0% | — | 73.1 |" in text
    assert "| 2 | 区交通运输局 | 100.0% | 25.0% | — | 59.6 |" in text
    overdue = text.split("**超期工单 1 件**")[1]
    assert "GD-20261123-0003" in overdue
    assert "GD-20261123-0002" not in overdue


def test_build_digest_keeps_its_old_signature(rt: Runtime) -> None:
    """handlers/steps.py (/日报) and bot/demo.py call it without settings or calendar."""
    fixtures(rt)
    with db.transaction(rt.sessions) as s:
        text = build_digest(s, day=at(23, 0).date(), now=at(24, 9))
    assert "**当日**：受理 3 件，签收 1 件，办结 1 件" in text


def test_the_digest_goes_to_the_supervisors_once_a_day(
    rt: Runtime, clock: FakeClock, fake: FakeWeCom
) -> None:
    fixtures(rt)
    a, b = Jobs(rt, make_sender(rt), "a"), Jobs(rt, make_sender(rt), "b")
    clock.set(at(24, 8, 29))
    assert digest_job(rt) is False  # not yet time
    clock.set(at(24, 8, 30))
    a.run("digest")
    b.run("digest")  # standby: lease
    assert digest_job(rt) is False  # and even without the lease: the date is taken
    a.run("outbox")
    digests = [m for m in fake.sent_messages() if m.get("msgtype") == "markdown"]
    assert len(digests) == 1
    assert digests[0]["touser"] == "sup"
    assert "企业诉求日报 2026-11-23" in digests[0]["markdown"]["content"]
    clock.set(at(25, 8, 30))
    a.run("digest")
    a.run("outbox")
    assert len([m for m in fake.sent_messages() if m.get("msgtype") == "markdown"]) == 2


def test_the_weekly_xun_and_monthly_reports_go_out_once_on_their_days(
    rt: Runtime, clock: FakeClock, fake: FakeWeCom
) -> None:
    fixtures(rt)
    assert reports_job(rt, at(24, 8, 30)) == []  # a Tuesday, the 24th: none due
    assert reports_job(rt, datetime(2026, 11, 30, 8, 29, tzinfo=TZ)) == []  # not yet time
    monday = datetime(2026, 11, 30, 8, 30, tzinfo=TZ)
    assert reports_job(rt, monday) == ["week"]
    assert reports_job(rt, monday + timedelta(hours=1)) == []  # once per period
    assert reports_job(rt, datetime(2026, 12, 1, 8, 30, tzinfo=TZ)) == ["xun", "month"]
    assert reports_job(rt, datetime(2026, 12, 11, 9, 0, tzinfo=TZ)) == ["xun"]
    clock.set(datetime(2026, 12, 11, 10, 0, tzinfo=TZ))
    jobs = Jobs(rt, make_sender(rt), "a")
    jobs.run("outbox")
    contents = [
        m["markdown"]["content"] for m in fake.sent_messages() if m.get("msgtype") == "markdown"
    ]
    titles = [c.splitlines()[0] for c in contents if c.startswith("## ")]
    assert titles == [
        "## 企业诉求周报 2026-11-23至2026-11-29",
        "## 企业诉求旬报 2026年11月下旬（11-21至11-30）",
        "## 企业诉求月报 2026年11月",
        "## 企业诉求旬报 2026年12月上旬（12-01至12-10）",
    ]
    assert all(len(c.encode()) <= 4096 for c in contents)


def test_reports_can_be_switched_off(rt: Runtime) -> None:
    from dataclasses import replace

    rt.settings = replace(
        rt.settings, reports=replace(rt.settings.reports, weekly=False, monthly=False)
    )
    assert reports_job(rt, datetime(2026, 12, 1, 8, 30, tzinfo=TZ)) == ["xun"]
    assert reports_job(rt, datetime(2026, 11, 30, 8, 30, tzinfo=TZ)) == []


def test_the_digest_says_when_the_holiday_calendar_lacks_a_year(rt: Runtime) -> None:
    with db.transaction(rt.sessions) as s:
        text = build_digest(s, day=at(23, 0).date(), now=at(24, 9), unknown_years={2027})
    assert "2027" in text
    assert "放假安排" in text
