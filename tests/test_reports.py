"""The supervisors' reports (bot/reports.py): periods, hand-counted figures from order events,
trend, ranking, overdue and difficult orders, the 4096-byte split, config and the CLI."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from bot import reports
from bot.cli import main
from bot.config import ConfigError, ReportWeights, settings_from_dict
from bot.runtime import Runtime
from handlers import lifecycle as lc
from storage import db
from storage import repositories as repo
from storage.models import Category, Department, WorkOrder

TZ = ZoneInfo("Asia/Shanghai")


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=TZ)


# ---------------------------------------------------------------- periods


@pytest.mark.parametrize(
    ("kind", "day", "first", "last", "label"),
    [
        ("day", date(2026, 11, 25), date(2026, 11, 25), date(2026, 11, 25), "2026-11-25"),
        (
            "week",
            date(2026, 11, 25),
            date(2026, 11, 23),
            date(2026, 11, 29),
            "2026-11-23至2026-11-29",
        ),
        ("week", date(2026, 11, 29), date(2026, 11, 23), date(2026, 11, 29), None),
        ("xun", date(2026, 11, 10), date(2026, 11, 1), date(2026, 11, 10), None),
        (
            "xun",
            date(2026, 11, 11),
            date(2026, 11, 11),
            date(2026, 11, 20),
            "2026年11月中旬（11-11至11-20）",
        ),
        ("xun", date(2028, 2, 29), date(2028, 2, 21), date(2028, 2, 29), None),
        ("xun", date(2026, 12, 31), date(2026, 12, 21), date(2026, 12, 31), None),
        ("month", date(2027, 2, 14), date(2027, 2, 1), date(2027, 2, 28), "2027年2月"),
    ],
    ids=["day", "week", "sunday", "xun-1", "xun-2", "xun-leap", "xun-31", "month"],
)
def test_period_arithmetic(
    kind: str, day: date, first: date, last: date, label: str | None
) -> None:
    p = reports.period_of(kind, day)
    assert (p.first, p.last) == (first, last)
    if label is not None:
        assert p.label == label
    assert p.previous().last == first - timedelta(days=1)


def test_previous_periods_and_their_first_days() -> None:
    assert reports.period_of("xun", date(2026, 12, 1)).previous().first == date(2026, 11, 21)
    assert reports.period_of("month", date(2026, 1, 5)).previous().first == date(2025, 12, 1)
    assert reports.last_complete("week", date(2026, 11, 30)).first == date(2026, 11, 23)
    assert reports.last_complete("week", date(2026, 12, 2)).first == date(2026, 11, 23)
    assert reports.last_complete("day", date(2026, 11, 30)).first == date(2026, 11, 29)
    assert [d for d in range(1, 31) if reports.starts_on("xun", date(2026, 11, d))] == [1, 11, 21]
    assert reports.starts_on("week", date(2026, 11, 30))
    assert not reports.starts_on("month", date(2026, 11, 30))
    with pytest.raises(ValueError, match="unknown report period"):
        reports.period_of("year", date(2026, 1, 1))


# ---------------------------------------------------------------- fixtures


def make(
    s: Session,
    number: str,
    dept: str | None,
    created: datetime,
    steps: list[tuple[str, datetime, str]],
    **fields: Any,
) -> WorkOrder:
    """An order with its events, built through the repositories; ``fields`` are its final
    stored fields (as the commands would have left them)."""
    category = {"gas": "gas", "transport": "road_traffic", None: None}[dept]
    o = repo.add_order(
        s,
        WorkOrder(
            number=number,
            status=lc.PENDING_DISPATCH,
            requester_userid="ent.a",
            text=f"诉求{number}：" + fields.pop("text", "路灯不亮"),
            category_code=category,
            department_code=dept,
            created_at=created,
            **fields,
        ),
    )
    state: str | None = None
    for action, when, note in [("intake", created, ""), *steps]:
        target = lc.PENDING_DISPATCH if action == "intake" else lc.ACTIONS[action].target or state
        repo.add_event(
            s, o, at=when, actor="t", action=action, from_status=state, to_status=target, note=note
        )
        state = target
    assert state is not None
    o.status = state
    return o


def scenario(rt: Runtime) -> None:
    """Hand-counted (gas: urgent, 签收 2 clock hours, 办结 24 hours; transport: road_traffic).

    G1 gas   11-23 09:00  签收 10:00 (due 11:00) 办结 15:00 (due 11-24 09:00) 满意 → 已评价
    G2 gas   11-24 09:00  签收 12:00 LATE (due 11:00), 办结 11-25 10:00 LATE (due 11-25 09:00),
                          不满意 11:00 and 重办 11:00 (new dues 13:00 / 11-26 11:00), 签收 12:00,
                          办结 11-26 09:00 on time, not rated → 已办结 (未评价)
    G3 gas   11-17 10:00  签收 11:00, 办结 18:00, 基本满意 11-18 09:00
    G4 gas   10-20 09:00  签收 10:00, 办结 20:00, 满意 10-21 09:00
    T1 trans 11-25 10:00  签收 11:00 (due 12:00), 退单 14:00, 转派 15:00 (签收 due 17:00): open
    T2 trans 11-20 09:00  签收 10:00, due 11-21 17:30: open, five working days overdue 11-27
    T3 trans 11-27 09:00  not signed (due 11:00), due 11-28 12:00, asks 3 days' extension: open
    P1 —     11-26 09:00  待派单, due 12-03
    """
    with db.transaction(rt.sessions) as s:
        make(
            s,
            "GD-G1",
            "gas",
            at(11, 23, 9),
            [
                ("dispatch", at(11, 23, 9), ""),
                ("accept", at(11, 23, 10), ""),
                ("resolve", at(11, 23, 15), "修好了"),
                ("rate", at(11, 23, 16), "满意"),
            ],
            dispatched_at=at(11, 23, 9),
            accept_deadline=at(11, 23, 11),
            deadline=at(11, 24, 9),
            accepted_at=at(11, 23, 10),
            resolved_at=at(11, 23, 15),
            rating="满意",
            rated_at=at(11, 23, 16),
        )
        make(
            s,
            "GD-G2",
            "gas",
            at(11, 24, 9),
            [
                ("dispatch", at(11, 24, 9), ""),
                ("accept", at(11, 24, 12), ""),
                ("resolve", at(11, 25, 10), ""),
                ("rate", at(11, 25, 11), "不满意：没修好"),
                ("reopen", at(11, 25, 11), "诉求人不满意：没修好"),
                ("accept", at(11, 25, 12), ""),
                ("resolve", at(11, 26, 9), ""),
            ],
            dispatched_at=at(11, 25, 11),
            accept_deadline=at(11, 25, 13),
            deadline=at(11, 26, 11),
            accepted_at=at(11, 25, 12),
            resolved_at=at(11, 26, 9),
            reopens=1,
        )
        make(
            s,
            "GD-G3",
            "gas",
            at(11, 17, 10),
            [
                ("dispatch", at(11, 17, 10), ""),
                ("accept", at(11, 17, 11), ""),
                ("resolve", at(11, 17, 18), ""),
                ("rate", at(11, 18, 9), "基本满意"),
            ],
            dispatched_at=at(11, 17, 10),
            accept_deadline=at(11, 17, 12),
            deadline=at(11, 18, 10),
            accepted_at=at(11, 17, 11),
            resolved_at=at(11, 17, 18),
            rating="基本满意",
            rated_at=at(11, 18, 9),
        )
        make(
            s,
            "GD-G4",
            "gas",
            at(10, 20, 9),
            [
                ("dispatch", at(10, 20, 9), ""),
                ("accept", at(10, 20, 10), ""),
                ("resolve", at(10, 20, 20), ""),
                ("rate", at(10, 21, 9), "满意"),
            ],
            dispatched_at=at(10, 20, 9),
            accept_deadline=at(10, 20, 11),
            deadline=at(10, 21, 9),
            accepted_at=at(10, 20, 10),
            resolved_at=at(10, 20, 20),
            rating="满意",
            rated_at=at(10, 21, 9),
        )
        make(
            s,
            "GD-T1",
            "transport",
            at(11, 25, 10),
            [
                ("dispatch", at(11, 25, 10), ""),
                ("accept", at(11, 25, 11), ""),
                ("return", at(11, 25, 14), "不归我们管"),
                ("redispatch", at(11, 25, 15), ""),
            ],
            dispatched_at=at(11, 25, 15),
            accept_deadline=at(11, 25, 17),
            deadline=at(12, 2, 17, 30),
            returns=1,
        )
        make(
            s,
            "GD-T2",
            "transport",
            at(11, 20, 9),
            [("dispatch", at(11, 20, 9), ""), ("accept", at(11, 20, 10), "")],
            dispatched_at=at(11, 20, 9),
            accept_deadline=at(11, 20, 11),
            deadline=at(11, 21, 17, 30),
            accepted_at=at(11, 20, 10),
            text="道路塌陷",
        )
        make(
            s,
            "GD-T3",
            "transport",
            at(11, 27, 9),
            [("dispatch", at(11, 27, 9), ""), ("extend", at(11, 27, 10), "申请延期 3 个工作日")],
            dispatched_at=at(11, 27, 9),
            accept_deadline=at(11, 27, 11),
            deadline=at(11, 28, 12),
            ext_days=3,
            ext_reason="需协调",
            ext_by="off.transport",
        )
        make(s, "GD-P1", None, at(11, 26, 9), [], deadline=at(12, 3, 17, 30))


def report(rt: Runtime, kind: str, day: date, now: datetime) -> str:
    with db.transaction(rt.sessions) as s:
        return reports.build_report(s, rt.settings, rt.calendar, kind, day, now, set())


# ---------------------------------------------------------------- the reports


def test_weekly_report_figures_trend_and_ranking(rt: Runtime) -> None:
    scenario(rt)
    text = report(rt, "week", date(2026, 11, 23), at(11, 30, 8, 30))
    assert text.startswith("## 企业诉求周报 2026-11-23至2026-11-29")
    overview = [
        "- 受理 5 件（上期 2，↑3）",
        "- 办结 2 件（上期 1，↑1）",
        "- 办结率 40.0%（上期 50.0%，↓10.0个百分点）",
        "- 及时签收率 75.0%（上期 100.0%，↓25.0个百分点）",
        "- 按期办结率 100.0%（上期 100.0%，持平）",
        "- 满意率 50.0%（上期 100.0%，↓50.0个百分点）（满意 1、基本满意 0、不满意 1，未评价 1）",
        "- 退单 1 次（上期 0），重办 1 次（上期 0）",
    ]
    for line in overview:
        assert line in text.splitlines()
    # gas: 签收 3 (one late), 办结 2 (G2's last closure on time), rated 2 (满意, 不满意)
    assert "| 区燃气公司 | 2 | 2 | 100.0% | 66.7% | 100.0% | 50.0% | 0 | 1 |" in text
    assert "| 区交通运输局 | 2 | 0 | 0.0% | 100.0% | — | — | 1 | 0 |" in text
    assert "| （未派单） | 1 | 0 | 0.0% | — | — | — | 0 | 0 |" in text
    # gas 30 × 2/3 + 35 × 1 + 35 × 1/2 = 72.5 (last week 100); transport (30 × 1 + 35 × 0) / 65
    ranking = text.split("**部门排名**")[1]
    assert "| 1 | 区燃气公司 | 66.7% | 100.0% | 50.0% | 72.5 | ↓27.5 |" in ranking
    assert "| 2 | 区交通运输局 | 100.0% | 0.0% | — | 46.2 | →0.0 |" in ranking
    assert "（未派单）" not in ranking


def test_weekly_report_lists_each_departments_open_difficulties(rt: Runtime) -> None:
    scenario(rt)
    text = report(rt, "week", date(2026, 11, 23), at(11, 30, 8, 30))
    part = text.split("**区交通运输局难点**（3 件未办结）")[1].split("\n\n")[0]
    lines = [line for line in part.splitlines() if line.startswith("- ")]
    assert lines == [
        "- GD-T2（超期 8天15小时）：诉求GD-T2：道路塌陷",
        "- GD-T3（超期 1天20小时、申请延期 3 个工作日）：诉求GD-T3：路灯不亮",
        "- GD-T1（退单 1 次）：诉求GD-T1：路灯不亮",
    ]
    assert "区燃气公司难点" not in text  # nothing open
    named = text.split("超期五个工作日以上 1 件")[1].split("\n\n")[0]
    assert "GD-T2 区交通运输局，时限 11-21 17:30" in named
    assert "GD-T3" not in named  # 11-28 + 5 working days is 12-04


def test_daily_report_for_a_day_with_a_late_closure_and_a_reopen(rt: Runtime) -> None:
    scenario(rt)
    text = report(rt, "day", date(2026, 11, 25), at(11, 30, 8, 30))
    assert text.startswith("## 企业诉求日报 2026-11-25")
    # G2's first closure was late against the deadline of its first dispatch (recomputed);
    # its 不满意 counts as rated, not satisfied; the reopen is 重办 of this day
    assert (
        "**当日**：受理 1 件，签收 2 件，办结 1 件；办结率 0.0%，及时签收率 100.0%，"
        "按期办结率 0.0%，满意率 0.0%（满意 0、基本满意 0、不满意 1，未评价 0）；"
        "退单 1 次，重办 1 次"
    ) in text
    assert (
        "**累计**：受理 8 件，办结 4 件，办结率 50.0%；及时签收率 100.0%，按期办结率 100.0%，"
        "满意率 100.0%（满意 2、基本满意 1、不满意 0，未评价 1）；退单 1 次，重办 1 次；"
        '在办 4 件，<font color="warning">超期 2 件</font>，超时未签收 2 件'
    ) in text
    assert (
        "| 区燃气公司 | 0 | 1 | 4 | 4 | 100.0% | 100.0% | 100.0% | 100.0% | 0 | 1 | 0 | 0 |" in text
    )
    assert "| 区交通运输局 | 1 | 0 | 3 | 0 | 0.0% | 100.0% | — | — | 1 | 0 | 3 | 2 |" in text
    assert "| （未派单） | 0 | 0 | 1 | 0 | 0.0% | — | — | — | 0 | 0 | 1 | 0 |" in text
    assert "| 1 | 区燃气公司 | 100.0% | 100.0% | 100.0% | 100.0 |" in text
    assert "| 2 | 区交通运输局 | 100.0% | 0.0% | — | 46.2 |" in text
    overdue = text.split("**超期工单 2 件**（超期最久在前）")[1].split("\n\n")[0].splitlines()
    assert overdue[1:] == [
        "- GD-T2 区交通运输局 已签收，超期 8天15小时（超期五个工作日）：诉求GD-T2：道路塌陷",
        "- GD-T3 区交通运输局 已派单，超期 1天20小时：诉求GD-T3：路灯不亮",
    ]
    assert "超期五个工作日以上 1 件" in text
    assert "满意率＝（满意＋基本满意）÷已评价，未评价不计入满意" in text


def test_the_day_of_the_second_closure(rt: Runtime) -> None:
    scenario(rt)
    text = report(rt, "day", date(2026, 11, 26), at(11, 30, 8, 30))
    # G2 closed again on time; now unrated: 未评价, never satisfied. P1 受理 (not dispatched).
    assert (
        "**当日**：受理 1 件，签收 0 件，办结 1 件；办结率 0.0%，及时签收率 —，"
        "按期办结率 100.0%，满意率 —（满意 0、基本满意 0、不满意 0，未评价 1）"
    ) in text


def test_xun_and_monthly_reports(rt: Runtime) -> None:
    scenario(rt)
    xun = report(rt, "xun", date(2026, 11, 21), at(12, 1, 8, 30))
    assert xun.startswith("## 企业诉求旬报 2026年11月下旬（11-21至11-30）")
    assert "- 受理 5 件（上期 2，↑3）" in xun  # 11-11..20: G3 and T2
    month = report(rt, "month", date(2026, 11, 1), at(12, 1, 8, 30))
    assert month.startswith("## 企业诉求月报 2026年11月")
    for line in [
        "- 受理 7 件（上期 1，↑6）",
        "- 办结 3 件（上期 1，↑2）",
        "- 办结率 42.9%（上期 100.0%，↓57.1个百分点）",
        "- 及时签收率 83.3%（上期 100.0%，↓16.7个百分点）",
        "- 按期办结率 100.0%（上期 100.0%，持平）",
        "- 满意率 66.7%（上期 100.0%，↓33.3个百分点）（满意 1、基本满意 1、不满意 1，未评价 1）",
    ]:
        assert line in month.splitlines()


def test_a_report_for_a_period_still_running_counts_until_now(rt: Runtime) -> None:
    scenario(rt)
    text = report(rt, "week", date(2026, 11, 25), at(11, 25, 12, 30))
    # by Wednesday 12:30: G1, G2, T1 受理; G1's closure and G2's first (late) one;
    # 签收 G1, G2 (late), G2 again after the reopen, T1
    assert "- 受理 3 件（上期 2，↑1）" in text
    assert "- 按期办结率 50.0%（上期 100.0%，↓50.0个百分点）" in text
    assert "- 及时签收率 75.0%（上期 100.0%，↓25.0个百分点）" in text


def test_orders_without_events_are_read_from_their_fields(rt: Runtime) -> None:
    with db.transaction(rt.sessions) as s:
        s.add(
            WorkOrder(
                number="GD-OLD",
                status=lc.RATED,
                requester_userid="ent.a",
                text="旧数据",
                category_code="gas",
                department_code="gas",
                created_at=at(11, 23, 9),
                accept_deadline=at(11, 23, 11),
                deadline=at(11, 23, 12),
                accepted_at=at(11, 23, 11, 30),
                resolved_at=at(11, 23, 11, 45),
                rating="基本满意",
                rated_at=at(11, 23, 14),
            )
        )
    text = report(rt, "day", date(2026, 11, 23), at(11, 24, 8, 30))
    assert (
        "**当日**：受理 1 件，签收 1 件，办结 1 件；办结率 100.0%，及时签收率 0.0%，"
        "按期办结率 100.0%，满意率 100.0%（满意 0、基本满意 1、不满意 0，未评价 0）"
    ) in text


def test_the_unknown_calendar_year_is_named(rt: Runtime) -> None:
    text = report(rt, "day", date(2026, 11, 23), at(11, 24, 8, 30))
    assert "节假日日历缺少 2027 年数据" in text  # within two months of 2027
    with db.transaction(rt.sessions) as s:
        early = reports.build_report(
            s, rt.settings, rt.calendar, "day", date(2026, 6, 1), at(6, 2, 8, 30), {2031}
        )
    assert "缺少 2031 年数据" in early
    assert "2027" not in early


def test_scores_with_custom_weights_and_missing_rates() -> None:
    f = reports.Figures(signed=4, signed_timed=4, signed_on_time=3, received=4, received_closed=2)
    assert f.score(ReportWeights()) == pytest.approx(100 * (0.3 * 0.75 + 0.35 * 0.5) / 0.65)
    f.ratings["基本满意"] = 1
    f.ratings["不满意"] = 1
    assert f.satisfaction_rate == 0.5
    assert f.score(ReportWeights(0.5, 0.5, 0.0)) == pytest.approx(62.5)
    assert reports.Figures().score(ReportWeights()) is None


# ---------------------------------------------------------------- 4096 bytes


def test_a_long_report_is_split_between_sections_and_rows(rt: Runtime) -> None:
    codes = [f"d{i:02d}" for i in range(60)]
    with db.transaction(rt.sessions) as s:
        for code in codes:
            s.add(Department(code=code, name=f"第{code}号很长名字的区直部门单位"))
        s.flush()
        for i in range(400):
            created = at(11, 23, 9) + timedelta(minutes=i)
            s.add(
                WorkOrder(
                    number=f"GD-20261123-{i:04d}",
                    status=lc.ACCEPTED if i % 3 else lc.RESOLVED,
                    requester_userid="ent.a",
                    text="企业门口道路破损严重影响货车通行请尽快修复" * 3,
                    department_code=codes[i % 60],
                    created_at=created,
                    accept_deadline=created + timedelta(hours=2),
                    deadline=created + timedelta(hours=20 + i % 7),
                    accepted_at=created + timedelta(hours=1),
                    resolved_at=None if i % 3 else created + timedelta(hours=5),
                )
            )
    now = at(11, 30, 8, 30)
    for kind in ("day", "week"):
        with db.transaction(rt.sessions) as s:
            parts = reports.report_messages(
                s, rt.settings, rt.calendar, kind, date(2026, 11, 23), now, set()
            )
        assert len(parts) > 3
        assert all(len(p.encode()) <= 4096 for p in parts)
        title = reports.period_of(kind, date(2026, 11, 23)).title
        assert parts[0].startswith(f"## {title}")
        assert parts[1].startswith(f"**{title}（续 2/{len(parts)}）**")
        whole = "\n".join(parts)
        for code in codes:  # every department row, whole, in some message
            assert f"| 第{code}号很长名字的区直部门单位 |" in whole
        for p in parts:  # a table never starts without its header
            lines = p.splitlines()
            for i, line in enumerate(lines):
                if line.startswith("| ") and (i == 0 or not lines[i - 1].startswith("|")):
                    assert line.startswith(("| 部门 |", "| 名次 |")), line
        assert "（续）\n| 部门 |" in whole or "（续）\n| 名次 |" in whole  # a table cut


def test_pack_keeps_sections_whole_when_it_can() -> None:
    a = reports.Section("**A**", ["a" * 30])
    b = reports.Section("**B**", ["b" * 30])
    assert reports.pack([a, b], limit=100) == ["**A**\n" + "a" * 30 + "\n\n**B**\n" + "b" * 30]
    assert reports.pack([a, b], limit=50) == ["**A**\n" + "a" * 30, "**B**\n" + "b" * 30]
    table = reports.Section("**T**", [f"| {i} |" for i in range(6)], head=["| h |", "|---|"])
    parts = reports.pack([table], limit=40)
    assert parts[0].startswith("**T**\n| h |\n|---|\n| 0 |")
    assert all(p.startswith("**T**（续）\n| h |\n|---|") for p in parts[1:])
    assert "".join(parts).count("| h |") == len(parts)
    assert all(len(p.encode()) <= 40 for p in parts)


# ---------------------------------------------------------------- config and CLI


def test_reports_config() -> None:
    s = settings_from_dict({})
    assert s.reports.weights == ReportWeights(0.30, 0.35, 0.35)
    assert (s.reports.weekly, s.reports.xun, s.reports.monthly) == (True, True, True)
    assert s.reports.time.hour == 8 and s.reports.time.minute == 30
    s = settings_from_dict(
        {"reports": {"weights": {"response": 1, "resolution": 0}, "xun": False, "time": "09:00"}}
    )
    assert s.reports.weights == ReportWeights(1.0, 0.0, 0.35)
    assert not s.reports.xun and s.reports.time.hour == 9


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"weights": {"response": -1}}, "reports.weights.response must not be negative"),
        (
            {"weights": {"response": 0, "resolution": 0, "satisfaction": 0}},
            "at least one weight must be positive",
        ),
        ({"weights": {"speed": 1}}, "reports.weights.speed"),
        ({"weekly": "yes"}, "reports.weekly must be true or false"),
        ({"time": "8.30"}, "reports.time"),
    ],
    ids=["negative", "all-zero", "unknown", "flag", "time"],
)
def test_bad_reports_config(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings_from_dict({"reports": raw})


def test_the_digest_command_prints_any_report(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    config = tmp_path / "gridbot.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{path}"\n\n'
        '[[departments]]\ncode = "gas"\nname = "区燃气公司"\n',
        encoding="utf-8",
    )
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    with db.transaction(db.make_sessionmaker(engine)) as s:
        s.add(Department(code="gas", name="区燃气公司"))
        s.flush()
        s.add(Category(code="gas", name="燃气", department_code="gas"))
        s.flush()
        for number, created in (("GD-A", at(11, 17, 9)), ("GD-B", at(11, 24, 9))):
            make(
                s,
                number,
                "gas",
                created,
                [("dispatch", created, ""), ("accept", created + timedelta(hours=1), "")],
                dispatched_at=created,
                accept_deadline=created + timedelta(hours=2),
                deadline=created + timedelta(hours=24),
                accepted_at=created + timedelta(hours=1),
            )
    engine.dispose()
    runner = CliRunner()
    week = runner.invoke(
        main, ["digest", "--period", "week", "--date", "2026-11-25", "--config", str(config)]
    )
    assert week.exit_code == 0, week.output
    assert "## 企业诉求周报 2026-11-23至2026-11-29" in week.output
    assert "- 受理 1 件（上期 1，持平）" in week.output
    assert "| 区燃气公司 | 1 | 0 | 0.0% | 100.0% | — | — | 0 | 0 |" in week.output
    day = runner.invoke(main, ["digest", "--date", "2026-11-24", "--config", str(config)])
    assert day.exit_code == 0, day.output
    assert "## 企业诉求日报 2026-11-24" in day.output
    assert "**当日**：受理 1 件，签收 1 件，办结 0 件" in day.output
    bad = runner.invoke(main, ["digest", "--period", "year", "--config", str(config)])
    assert bad.exit_code != 0
    assert "'year' is not one of" in bad.output


def test_a_return_counts_for_the_department_that_returned_it(rt: Runtime) -> None:
    with db.transaction(rt.sessions) as s:
        make(
            s,
            "GD-R1",
            "transport",
            at(11, 24, 9),
            [
                ("dispatch", at(11, 24, 9), "gas → gas；自动派单"),
                ("accept", at(11, 24, 9, 30), ""),
                ("return", at(11, 24, 10), "不属本单位职责"),
                ("redispatch", at(11, 24, 11), "road_traffic → transport；由区燃气公司转派"),
                ("accept", at(11, 24, 11, 30), ""),
            ],
            accept_deadline=at(11, 24, 13),
            deadline=at(12, 1, 17, 30),
            accepted_at=at(11, 24, 11, 30),
        )
    text = report(rt, "week", date(2026, 11, 23), at(11, 30, 8, 30))
    # gas: signed once (on time), returned once, received nothing; transport: the order
    assert "| 区燃气公司 | 0 | 0 | — | 100.0% | — | — | 1 | 0 |" in text
    assert "| 区交通运输局 | 1 | 0 | 0.0% | 100.0% | — | — | 0 | 0 |" in text


def test_withdrawn_merged_and_dismissed_orders_are_not_received(rt: Runtime) -> None:
    def dispatched(hour: int) -> tuple[str, datetime, str]:
        return ("dispatch", at(11, 24, hour), "road_traffic → transport；自动派单")

    orders: list[tuple[str, int, list[tuple[str, datetime, str]], dict[str, Any]]] = [
        (
            "GD-W0",
            9,
            [dispatched(9), ("accept", at(11, 24, 9, 30), ""), ("resolve", at(11, 24, 16), "")],
            {"accepted_at": at(11, 24, 9, 30), "resolved_at": at(11, 24, 16)},
        ),
        ("GD-W1", 10, [dispatched(10), ("withdraw", at(11, 24, 10, 30), "自己修好了")], {}),
        # merged the next day
        ("GD-W2", 11, [dispatched(11), ("merge", at(11, 25, 9), "并入 GD-W0")], {}),
        # chatter the classifier filed, cancelled by a dispatcher (/非诉求) that day
        ("GD-W3", 12, [dispatched(12), ("dismiss", at(11, 24, 12, 30), "不是诉求")], {}),
    ]
    with db.transaction(rt.sessions) as s:
        for number, hour, steps, fields in orders:
            make(
                s,
                number,
                "transport",
                at(11, 24, hour),
                steps,
                accept_deadline=at(11, 24, 13),
                deadline=at(12, 1, 17, 30),
                **fields,
            )
    day = report(rt, "day", date(2026, 11, 24), at(11, 25, 8, 30))
    # on the 24th GD-W2 was still open: received, not closed; GD-W1 was withdrawn and GD-W3
    # cancelled that day
    assert "**当日**：受理 2 件，签收 1 件，办结 1 件；办结率 50.0%" in day
    assert "不含至期末已撤回、已合并、已撤销的" in day
    week = report(rt, "week", date(2026, 11, 23), at(11, 30, 8, 30))
    # by the week's end both are void: one received, one closed
    assert "| 区交通运输局 | 1 | 1 | 100.0% |" in week
    later = report(rt, "day", date(2026, 11, 25), at(11, 26, 8, 30))
    assert "**累计**：受理 1 件，办结 1 件，办结率 100.0%" in later
