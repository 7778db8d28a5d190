"""Tests for handlers.deadlines: 签收, first contact and 办结 per category, in working time.

Calendar facts (chinesecalendar 1.11 data, see tests/test_workcal.py): Spring Festival 2026 is
02-15..02-23 off with makeup working days Sat 02-14 and Sat 02-28; National Day 2026 is
10-01..10-07 off with makeup Sun 09-20 and Sat 10-10; 2027 is unknown to the package.
Office hours are the default 08:30-12:00 and 14:30-17:30.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config import ConfigError, Settings, settings_from_dict
from bot.workcal import WorkCalendar, parse_calendar_file
from handlers.deadlines import (
    accept_deadline,
    build_calendar,
    contact_deadline,
    extended_deadline,
    resolve_deadline,
)
from tests.conftest import taxonomy

TZ = ZoneInfo("Asia/Shanghai")


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


def end_of_day(y: int, m: int, d: int) -> datetime:
    return at(y, m, d, 17, 30)


def make(**sections: Any) -> Settings:
    raw = taxonomy()
    raw.update(sections)
    return settings_from_dict(raw)


def with_category(code: str, **keys: Any) -> Settings:
    """The default taxonomy with category ``code``'s keys replaced by ``keys``."""
    raw = taxonomy()
    for cat in raw["categories"]:
        if cat["code"] == code:
            for k in ("limit_days", "limit_hours", "contact_days", "contact_hours", "urgent"):
                cat.pop(k, None)
            cat.update(keys)
    return settings_from_dict(raw)


@pytest.fixture
def settings() -> Settings:
    return make()


@pytest.fixture
def cal(settings: Settings) -> WorkCalendar:
    return build_calendar(settings, TZ)


# ------------------------------------------------------------- the defaults


def test_default_taxonomy_limits_follow_practice(settings: Settings) -> None:
    """practice.md §3: urgent utilities 24 h; enquiry 2 working days; general 5; complex 15
    with one extension; 签收 within 2 working hours everywhere."""
    by_code = {c.code: c for c in settings.categories}
    for code in ("water", "power", "gas"):
        c = by_code[code]
        assert (c.urgent, c.limit_hours, c.accept_hours, c.contact_days) == (True, 24, 2, None)
    assert (by_code["policy"].limit_days, by_code["policy"].contact_days) == (2, None)
    for code in ("construction", "labour", "market", "other"):
        c = by_code[code]
        assert (c.limit_days, c.contact_days, c.extensions) == (5, 1, 0)
    for code in ("planning", "eco", "site"):
        c = by_code[code]
        assert (c.limit_days, c.contact_days, c.extensions) == (15, 1, 1)
    assert all(c.accept_hours == 2 and c.start_next_day for c in settings.categories)
    assert settings.calendar.office_hours.hours_per_day == pytest.approx(6.5)


# ------------------------------------------------------------------ 签收


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        pytest.param(at(2026, 3, 6, 17), at(2026, 3, 9, 10), id="friday-17h-to-monday-10h"),
        pytest.param(at(2026, 3, 6, 19), at(2026, 3, 9, 10, 30), id="friday-evening"),
        pytest.param(at(2026, 3, 7, 11), at(2026, 3, 9, 10, 30), id="saturday"),
        pytest.param(at(2026, 3, 2, 11), at(2026, 3, 2, 15, 30), id="across-lunch"),
        pytest.param(at(2026, 3, 2, 12, 15), at(2026, 3, 2, 16, 30), id="during-lunch"),
        pytest.param(at(2026, 3, 2, 6), at(2026, 3, 2, 10, 30), id="early-morning"),
        pytest.param(at(2026, 2, 13, 17), at(2026, 2, 14, 10), id="to-makeup-saturday"),
        pytest.param(at(2026, 2, 14, 17), at(2026, 2, 24, 10), id="across-spring-festival"),
        pytest.param(at(2026, 9, 30, 16), at(2026, 10, 8, 9), id="across-national-day"),
        pytest.param(at(2026, 10, 9, 17), at(2026, 10, 10, 10), id="to-makeup-saturday-10-10"),
    ],
)
def test_accept_within_two_working_hours(
    settings: Settings, cal: WorkCalendar, start: datetime, expected: datetime
) -> None:
    due = accept_deadline(settings, cal, "construction", start)
    assert due == expected
    assert due.tzinfo is TZ


def test_accept_urgent_counts_round_the_clock(settings: Settings, cal: WorkCalendar) -> None:
    assert accept_deadline(settings, cal, "gas", at(2026, 3, 6, 17)) == at(2026, 3, 6, 19)
    assert accept_deadline(settings, cal, "water", at(2026, 2, 16, 23)) == at(2026, 2, 17, 1)


def test_accept_is_capped_at_the_resolve_deadline(cal: WorkCalendar) -> None:
    s = with_category("telecom", limit_hours=1)  # not urgent, but only one clock hour to close
    start = at(2026, 3, 6, 17)
    assert resolve_deadline(s, cal, "telecom", start) == at(2026, 3, 6, 18)
    assert accept_deadline(s, cal, "telecom", start) == at(2026, 3, 6, 18)


def test_accept_hours_configurable(cal: WorkCalendar) -> None:
    s = with_category("construction", limit_days=5, accept_hours=0.5)
    assert accept_deadline(s, cal, "construction", at(2026, 3, 6, 17, 15)) == at(2026, 3, 9, 8, 45)


def test_accept_converts_other_timezones(settings: Settings, cal: WorkCalendar) -> None:
    from datetime import UTC

    start = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)  # 17:00 in Shanghai
    assert accept_deadline(settings, cal, "construction", start) == at(2026, 3, 9, 10)


def test_naive_start_rejected(settings: Settings, cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        resolve_deadline(settings, cal, "gas", datetime(2026, 3, 6, 17))


# -------------------------------------------------------------- first contact


@pytest.mark.parametrize(
    ("code", "start", "expected"),
    [
        pytest.param("construction", at(2026, 3, 6, 16), end_of_day(2026, 3, 9), id="fri-to-mon"),
        pytest.param("planning", at(2026, 3, 2, 9), end_of_day(2026, 3, 3), id="next-day"),
        pytest.param("labour", at(2026, 2, 13, 10), end_of_day(2026, 2, 14), id="makeup-sat"),
        pytest.param("labour", at(2026, 2, 14, 10), end_of_day(2026, 2, 24), id="spring-fest"),
        pytest.param("market", at(2026, 9, 30, 10), end_of_day(2026, 10, 8), id="national-day"),
        pytest.param("policy", at(2026, 3, 2, 9), None, id="enquiry-none"),
        pytest.param("gas", at(2026, 3, 2, 9), None, id="urgent-none"),
        pytest.param("no-such-code", at(2026, 3, 2, 9), None, id="unknown-category"),
    ],
)
def test_contact_deadline(
    settings: Settings, cal: WorkCalendar, code: str, start: datetime, expected: datetime | None
) -> None:
    assert contact_deadline(settings, cal, code, start) == expected


def test_contact_hours_are_clock_hours(cal: WorkCalendar) -> None:
    s = with_category("construction", limit_days=5, contact_hours=24)
    assert contact_deadline(s, cal, "construction", at(2026, 3, 6, 16)) == at(2026, 3, 7, 16)


# ------------------------------------------------------------------- 办结


@pytest.mark.parametrize(
    ("code", "start", "expected"),
    [
        pytest.param("construction", at(2026, 2, 13, 10), end_of_day(2026, 2, 27), id="5d-sf"),
        pytest.param("construction", at(2026, 2, 27, 9), end_of_day(2026, 3, 5), id="5d-makeup"),
        pytest.param("policy", at(2026, 2, 13, 10), end_of_day(2026, 2, 24), id="2d-sf"),
        pytest.param("policy", at(2026, 9, 30, 10), end_of_day(2026, 10, 9), id="2d-nd"),
        pytest.param("policy", at(2026, 10, 9, 10), end_of_day(2026, 10, 12), id="2d-makeup-sat"),
        pytest.param("planning", at(2026, 9, 24, 15), end_of_day(2026, 10, 22), id="15d-both"),
        pytest.param("gas", at(2026, 2, 16, 10), at(2026, 2, 17, 10), id="24h-in-holiday"),
        pytest.param("power", at(2026, 3, 6, 18), at(2026, 3, 7, 18), id="24h-weekend"),
        pytest.param("no-such-code", at(2026, 3, 2, 9), end_of_day(2026, 3, 9), id="default-5d"),
    ],
)
def test_resolve_deadline(
    settings: Settings, cal: WorkCalendar, code: str, start: datetime, expected: datetime
) -> None:
    assert resolve_deadline(settings, cal, code, start) == expected


def test_resolve_start_same_day(cal: WorkCalendar) -> None:
    s = with_category("construction", limit_days=1, start_next_day=False)
    assert resolve_deadline(s, cal, "construction", at(2026, 3, 2, 9)) == end_of_day(2026, 3, 2)
    # a makeup Saturday is a working day: it counts as the first day
    assert resolve_deadline(s, cal, "construction", at(2026, 2, 14, 9)) == end_of_day(2026, 2, 14)
    # dispatched inside the holiday: the first working day afterwards
    assert resolve_deadline(s, cal, "construction", at(2026, 2, 16, 9)) == end_of_day(2026, 2, 24)


def test_urgent_category_without_limit_gets_24_hours(cal: WorkCalendar) -> None:
    s = with_category("fire", urgent=True)
    assert resolve_deadline(s, cal, "fire", at(2026, 3, 6, 18)) == at(2026, 3, 7, 18)
    assert accept_deadline(s, cal, "fire", at(2026, 3, 6, 18)) == at(2026, 3, 6, 20)


def test_default_limit_days_for_a_category_without_limit(cal: WorkCalendar) -> None:
    raw = taxonomy()
    for cat in raw["categories"]:
        if cat["code"] == "construction":
            del cat["limit_days"]
    raw["intake"] = {"default_limit_days": 3}
    s = settings_from_dict(raw)
    assert resolve_deadline(s, cal, "construction", at(2026, 3, 2, 9)) == end_of_day(2026, 3, 5)


# --------------------------------------------------------------- extensions


def test_one_extension_for_complex_orders(settings: Settings, cal: WorkCalendar) -> None:
    first = resolve_deadline(settings, cal, "planning", at(2026, 9, 24, 15))
    # Fri 09-25..10-07 off except Mon-Wed 09-28..30; Sat 10-10 is a makeup working day
    assert first == end_of_day(2026, 10, 22)
    # 15 more working days after Thu 10-22: 10-23 .. 11-12
    assert extended_deadline(settings, cal, "planning", first, used=0) == end_of_day(2026, 11, 12)
    with pytest.raises(ValueError, match="最多可延期 1 次"):
        extended_deadline(settings, cal, "planning", first, used=1)


def test_no_extension_for_general_orders(settings: Settings, cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="最多可延期 0 次"):
        extended_deadline(settings, cal, "construction", end_of_day(2026, 3, 9), used=0)


def test_extension_in_clock_hours(cal: WorkCalendar) -> None:
    s = with_category("gas", urgent=True, limit_hours=24, extensions=1)
    assert extended_deadline(s, cal, "gas", at(2026, 3, 7, 18), used=0) == at(2026, 3, 8, 18)


# ------------------------------------------------------- [calendar] config


def test_config_holiday_and_workday_overrides() -> None:
    s = make(calendar={"holidays": ["2026-03-09..2026-03-10"], "workdays": ["2026-03-07"]})
    assert s.calendar.holidays == (date(2026, 3, 9), date(2026, 3, 10))
    cal = build_calendar(s, TZ)
    # Friday 17:00: 0.5 h, then the extra working Saturday
    assert accept_deadline(s, cal, "construction", at(2026, 3, 6, 17)) == at(2026, 3, 7, 10)
    # Saturday 03-07 (working), Mon/Tue off: contact by Wednesday
    assert contact_deadline(s, cal, "construction", at(2026, 3, 7, 9)) == end_of_day(2026, 3, 11)


def test_config_overrides_win_over_imported_notice() -> None:
    s = make(calendar={"workdays": ["2027-02-08"]})
    notice = parse_calendar_file('year = 2027\nholidays = ["2027-02-06..2027-02-13"]')
    cal = build_calendar(s, TZ, imported=notice.days)
    assert cal.is_workday(date(2027, 2, 8)) is True
    assert cal.is_workday(date(2027, 2, 9)) is False


def test_config_office_hours() -> None:
    s = make(calendar={"office_hours": ["09:00-12:00", "13:00-17:00"]})
    cal = build_calendar(s, TZ)
    assert accept_deadline(s, cal, "construction", at(2026, 3, 6, 16)) == at(2026, 3, 9, 10)
    assert resolve_deadline(s, cal, "policy", at(2026, 3, 6, 16)) == at(2026, 3, 10, 17)


@pytest.mark.parametrize(
    ("calendar", "message"),
    [
        pytest.param({"office_hours": ["8:30"]}, "calendar.office_hours", id="bad-period"),
        pytest.param({"office_hours": ["14:00-17:00", "08:30-12:00"]}, "overlaps", id="order"),
        pytest.param({"holidays": ["2027/01/01"]}, "calendar.holidays: '2027/01/01'", id="fmt"),
        pytest.param({"holidays": ["2027-01-03..2027-01-01"]}, "ends before", id="reversed"),
        pytest.param({"workdays": "2027-01-02"}, "calendar.workdays must be a list", id="str"),
        pytest.param(
            {"holidays": ["2027-01-01..2027-01-03"], "workdays": ["2027-01-02"]},
            "both list 2027-01-02",
            id="both",
        ),
        pytest.param({"holiday": ["2027-01-01"]}, r"unknown key\(s\): calendar.holiday", id="typo"),
    ],
)
def test_bad_calendar_config(calendar: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make(calendar=calendar)


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        pytest.param({"limit_days": 5, "accept_hours": 0}, "accept_hours must be", id="accept-0"),
        pytest.param(
            {"limit_days": 5, "contact_hours": 24, "contact_days": 1},
            "set contact_hours or contact_days, not both",
            id="contact-both",
        ),
        pytest.param({"limit_days": 5, "contact_days": 0}, "contact_days must be", id="contact-0"),
        pytest.param({"limit_days": 5, "extensions": -1}, "extensions must not", id="ext-neg"),
        pytest.param({"urgent": True, "limit_days": 5}, "urgent category", id="urgent-days"),
        pytest.param({"limit_days": 5, "urgent": "yes"}, "urgent must be true", id="urgent-str"),
        pytest.param(
            {"limit_days": 5, "start_next_day": 1}, "start_next_day must be", id="next-day-int"
        ),
    ],
)
def test_bad_category_deadline_config(keys: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=rf"categories\[\d+\]\.?.*{message}"):
        with_category("construction", **keys)


# ---------------------------------------------------------- into 2027


def test_turn_into_unknown_2027_then_import(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    log = logging.getLogger("test.calendar")
    seen: list[int] = []

    def on_unknown_year(year: int) -> None:
        seen.append(year)
        log.warning("holiday calendar does not know %d", year)

    cal = build_calendar(settings, TZ, on_unknown_year=on_unknown_year)
    start = at(2026, 12, 28, 10)  # Monday
    assert cal.missing_years(date(2026, 12, 28)) == [2027]
    with caplog.at_level(logging.WARNING, logger="test.calendar"):
        # Mon-Fri only: Fri 2027-01-01 counts as a working day
        assert resolve_deadline(settings, cal, "construction", start) == end_of_day(2027, 1, 4)
        assert accept_deadline(settings, cal, "construction", at(2026, 12, 31, 17)) == at(
            2027, 1, 1, 10
        )
    assert seen == [2027]
    assert "does not know 2027" in caplog.text

    notice = parse_calendar_file('year = 2027\nholidays = ["2027-01-01..2027-01-03"]')
    cal.replace_imported(notice.days)
    assert resolve_deadline(settings, cal, "construction", start) == end_of_day(2027, 1, 5)
    assert accept_deadline(settings, cal, "construction", at(2026, 12, 31, 17)) == at(
        2027, 1, 4, 10
    )
    assert cal.missing_years(date(2026, 12, 28)) == []


def test_config_overrides_apply_in_unknown_year() -> None:
    s = make(calendar={"holidays": ["2027-01-01"]})
    cal = build_calendar(s, TZ)
    assert resolve_deadline(s, cal, "construction", at(2026, 12, 28, 10)) == end_of_day(2027, 1, 5)
