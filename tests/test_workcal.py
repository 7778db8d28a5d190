"""Tests for bot.workcal: Chinese working days, office hours, holiday notices.

The 2026 expectations below were read from the installed chinesecalendar 1.11 data
(chinese_calendar/constants.py), not from memory:

* Spring Festival: 2026-02-15 (Sun) .. 2026-02-23 (Mon) off; makeup working days
  Sat 2026-02-14 and Sat 2026-02-28.
* Mid-Autumn: 2026-09-25 (Fri) .. 2026-09-27 off. National Day: 2026-10-01 .. 2026-10-07 off
  (2026-10-08 is an ordinary Thursday working day); makeup working days Sun 2026-09-20 and
  Sat 2026-10-10.
* The package has no data for 2027 (it raises NotImplementedError).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from bot.workcal import (
    DEFAULT_OFFICE_HOURS,
    PACKAGE_YEARS,
    DayInfo,
    NoticeDay,
    OfficeHours,
    WorkCalendar,
    parse_calendar_file,
    parse_notice,
)

TZ = ZoneInfo("Asia/Shanghai")


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


def end_of_day(y: int, m: int, d: int) -> datetime:
    return at(y, m, d, 17, 30)


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar(tz=TZ)


class Recorder:
    def __init__(self) -> None:
        self.years: list[int] = []

    def __call__(self, year: int) -> None:
        self.years.append(year)


# ------------------------------------------------------------ package data


def test_package_years_are_read_from_its_data() -> None:
    years = sorted(PACKAGE_YEARS)
    assert years == list(range(years[0], years[-1] + 1)), "contiguous range of years"
    assert 2026 in PACKAGE_YEARS
    for year in years:
        chinese_calendar.is_workday(date(year, 6, 1))  # does not raise
    for year in (years[0] - 1, years[-1] + 1):
        with pytest.raises(NotImplementedError):
            chinese_calendar.is_workday(date(year, 6, 1))


def test_premise_package_does_not_know_2027() -> None:
    # The year-turn tests below rely on 2027 being unknown to the installed package.
    # If this fails, chinesecalendar was upgraded: move those tests to the next unknown year.
    assert 2027 not in PACKAGE_YEARS
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 1, 4))


def test_matches_package_for_every_day_of_2026(cal: WorkCalendar) -> None:
    d = date(2026, 1, 1)
    while d.year == 2026:
        assert cal.is_workday(d) == chinese_calendar.is_workday(d), d
        d += timedelta(days=1)


# ------------------------------------------------------- 2026 Spring Festival


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        pytest.param(date(2026, 2, 13), True, id="fri-02-13-before"),
        pytest.param(date(2026, 2, 14), True, id="sat-02-14-makeup"),
        pytest.param(date(2026, 2, 15), False, id="sun-02-15-first-day-off"),
        pytest.param(date(2026, 2, 17), False, id="tue-02-17-new-year"),
        pytest.param(date(2026, 2, 20), False, id="fri-02-20"),
        pytest.param(date(2026, 2, 23), False, id="mon-02-23-last-day-off"),
        pytest.param(date(2026, 2, 24), True, id="tue-02-24-back"),
        pytest.param(date(2026, 2, 28), True, id="sat-02-28-makeup"),
        pytest.param(date(2026, 3, 1), False, id="sun-03-01"),
    ],
)
def test_spring_festival_2026_days(cal: WorkCalendar, day: date, expected: bool) -> None:
    assert cal.is_workday(day) is expected


@pytest.mark.parametrize(
    ("start", "days", "next_day", "deadline"),
    [
        pytest.param(at(2026, 2, 13, 10), 5, True, end_of_day(2026, 2, 27), id="5d-from-fri-02-13"),
        pytest.param(at(2026, 2, 13, 10), 1, True, end_of_day(2026, 2, 14), id="1d-is-makeup-sat"),
        pytest.param(at(2026, 2, 13, 10), 2, True, end_of_day(2026, 2, 24), id="2d-skips-holiday"),
        pytest.param(at(2026, 2, 14, 9), 1, False, end_of_day(2026, 2, 14), id="same-day-makeup"),
        pytest.param(at(2026, 2, 16, 9), 1, False, end_of_day(2026, 2, 24), id="start-in-holiday"),
        pytest.param(at(2026, 2, 16, 9), 1, True, end_of_day(2026, 2, 24), id="next-day-holiday"),
        pytest.param(at(2026, 2, 27, 9), 1, True, end_of_day(2026, 2, 28), id="fri-to-makeup-sat"),
        pytest.param(at(2026, 2, 27, 9), 2, True, end_of_day(2026, 3, 2), id="past-makeup-sat"),
    ],
)
def test_spring_festival_2026_deadlines(
    cal: WorkCalendar, start: datetime, days: int, next_day: bool, deadline: datetime
) -> None:
    result = cal.add_working_days(start, days, start_next_day=next_day)
    assert result == deadline
    assert result.tzinfo is TZ


# ---------------------------------------------- 2026 Mid-Autumn / National Day


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        pytest.param(date(2026, 9, 19), False, id="sat-09-19"),
        pytest.param(date(2026, 9, 20), True, id="sun-09-20-makeup"),
        pytest.param(date(2026, 9, 25), False, id="fri-09-25-mid-autumn"),
        pytest.param(date(2026, 9, 27), False, id="sun-09-27-mid-autumn"),
        pytest.param(date(2026, 9, 28), True, id="mon-09-28"),
        pytest.param(date(2026, 9, 30), True, id="wed-09-30"),
        pytest.param(date(2026, 10, 1), False, id="thu-10-01"),
        pytest.param(date(2026, 10, 5), False, id="mon-10-05"),
        pytest.param(date(2026, 10, 7), False, id="wed-10-07-last-day-off"),
        pytest.param(date(2026, 10, 8), True, id="thu-10-08-back"),
        pytest.param(date(2026, 10, 10), True, id="sat-10-10-makeup"),
        pytest.param(date(2026, 10, 11), False, id="sun-10-11"),
    ],
)
def test_national_day_2026_days(cal: WorkCalendar, day: date, expected: bool) -> None:
    assert cal.is_workday(day) is expected


@pytest.mark.parametrize(
    ("start", "days", "deadline"),
    [
        pytest.param(at(2026, 9, 18, 15), 1, end_of_day(2026, 9, 20), id="fri-to-makeup-sun"),
        pytest.param(at(2026, 9, 24, 15), 1, end_of_day(2026, 9, 28), id="over-mid-autumn"),
        pytest.param(at(2026, 9, 30, 10), 1, end_of_day(2026, 10, 8), id="over-national-day"),
        pytest.param(at(2026, 9, 30, 10), 3, end_of_day(2026, 10, 10), id="3d-makeup-sat"),
        pytest.param(at(2026, 9, 30, 10), 4, end_of_day(2026, 10, 12), id="4d-next-mon"),
        pytest.param(at(2026, 9, 24, 15), 10, end_of_day(2026, 10, 15), id="10d-both-holidays"),
    ],
)
def test_national_day_2026_deadlines(
    cal: WorkCalendar, start: datetime, days: int, deadline: datetime
) -> None:
    assert cal.add_working_days(start, days) == deadline


# ------------------------------------------------------ into 2027 (unknown)


@pytest.mark.parametrize(
    ("days", "unknown", "loaded"),
    [
        pytest.param(1, end_of_day(2026, 12, 29), end_of_day(2026, 12, 29), id="1d"),
        pytest.param(3, end_of_day(2026, 12, 31), end_of_day(2026, 12, 31), id="3d"),
        pytest.param(4, end_of_day(2027, 1, 1), end_of_day(2027, 1, 4), id="4d-new-year"),
        pytest.param(5, end_of_day(2027, 1, 4), end_of_day(2027, 1, 5), id="5d"),
        pytest.param(6, end_of_day(2027, 1, 5), end_of_day(2027, 1, 6), id="6d"),
    ],
)
def test_deadline_into_unknown_2027(days: int, unknown: datetime, loaded: datetime) -> None:
    seen = Recorder()
    cal = WorkCalendar(tz=TZ, on_unknown_year=seen)
    start = at(2026, 12, 28, 10)  # a Monday

    assert cal.add_working_days(start, days) == unknown  # Mon-Fri fallback, no exception

    cal.load_year(2027, holidays=[date(2027, 1, 1)], workdays=[])
    assert cal.add_working_days(start, days) == loaded
    assert seen.years == ([2027] if unknown.year == 2027 else [])


def test_unknown_year_reported_exactly_once() -> None:
    seen = Recorder()
    cal = WorkCalendar(tz=TZ, on_unknown_year=seen)
    start = at(2026, 12, 28, 10)

    assert not cal.known_year(2027)
    assert cal.known_year(2026)
    assert cal.unknown_years_between(start.date(), date(2028, 3, 1)) == [2027, 2028]
    assert seen.years == [], "unknown_years_between is a pure query"

    assert cal.add_working_days(start, 5) == end_of_day(2027, 1, 4)
    assert cal.add_working_days(start, 5) == end_of_day(2027, 1, 4)
    cal.add_working_hours(at(2027, 1, 4, 9), 20)
    cal.working_seconds_between(start, at(2027, 2, 1))
    assert cal.is_workday(date(2027, 1, 2)) is False
    assert seen.years == [2027]

    cal.load_year(2027, holidays=[date(2027, 1, 1)], workdays=[])
    assert cal.known_year(2027)
    assert cal.unknown_years_between(date(2027, 3, 1), start) == []
    assert cal.add_working_days(start, 5) == end_of_day(2027, 1, 5)
    assert seen.years == [2027]


def test_load_year_from_notice_text() -> None:
    seen = Recorder()
    cal = WorkCalendar(tz=TZ, on_unknown_year=seen)
    cal.load_year(*parse_notice(NOTICE_2027))
    # Hypothetical notice: Spring Festival 02-06..02-13 off, Sun 02-14 a makeup working day.
    assert cal.add_working_days(at(2027, 2, 5, 9), 1) == end_of_day(2027, 2, 14)
    assert cal.add_working_days(at(2027, 2, 5, 9), 2) == end_of_day(2027, 2, 15)
    assert cal.is_workday(date(2027, 2, 8)) is False  # a Monday inside the holiday
    assert seen.years == []


def test_unknown_year_callback_failure_does_not_break_deadlines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(year: int) -> None:
        raise RuntimeError("logging backend down")

    cal = WorkCalendar(tz=TZ, on_unknown_year=broken)
    with caplog.at_level(logging.ERROR, logger="bot.workcal"):
        assert cal.add_working_days(at(2026, 12, 28, 10), 5) == end_of_day(2027, 1, 4)
    assert "on_unknown_year(2027)" in caplog.text


def test_year_before_package_data_falls_back_to_weekdays() -> None:
    seen = Recorder()
    cal = WorkCalendar(tz=TZ, on_unknown_year=seen)
    # 2003-10-01 was a holiday in reality, but the package starts in 2004.
    assert cal.is_workday(date(2003, 10, 1)) is True
    assert cal.is_workday(date(2003, 10, 4)) is False  # Saturday
    assert seen.years == [2003]


def test_no_callback_is_fine() -> None:
    cal = WorkCalendar(tz=TZ)
    assert cal.add_working_days(at(2026, 12, 28, 10), 5) == end_of_day(2027, 1, 4)


# ---------------------------------------------------------------- overrides


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        pytest.param(date(2026, 3, 2), False, id="extra-holiday-beats-package-workday"),
        pytest.param(date(2026, 10, 5), True, id="extra-workday-beats-package-holiday"),
        pytest.param(date(2026, 3, 7), True, id="extra-workday-on-saturday"),
        pytest.param(date(2027, 1, 1), True, id="extra-workday-beats-imported-notice"),
        pytest.param(date(2027, 1, 4), False, id="extra-holiday-beats-notice-weekday"),
        pytest.param(date(2026, 3, 3), True, id="untouched-day-follows-package"),
    ],
)
def test_overrides_win(day: date, expected: bool) -> None:
    cal = WorkCalendar(
        tz=TZ,
        extra_holidays=[date(2026, 3, 2), date(2027, 1, 4)],
        extra_workdays=[date(2026, 10, 5), date(2026, 3, 7), date(2027, 1, 1)],
    )
    cal.load_year(2027, holidays=[date(2027, 1, 1)], workdays=[])
    assert cal.is_workday(day) is expected


def test_overrides_change_deadlines() -> None:
    cal = WorkCalendar(tz=TZ, extra_holidays=[date(2026, 3, 3)])
    assert cal.add_working_days(at(2026, 3, 2, 9), 1) == end_of_day(2026, 3, 4)


def test_overrides_in_both_lists_rejected() -> None:
    with pytest.raises(ValueError, match="2026-03-02"):
        WorkCalendar(tz=TZ, extra_holidays=[date(2026, 3, 2)], extra_workdays=[date(2026, 3, 2)])


# -------------------------------------------------------------------- hours

HOURS_CASES = [
    pytest.param(at(2026, 3, 2, 9), 2, at(2026, 3, 2, 11), id="inside-morning"),
    pytest.param(at(2026, 3, 2, 10), 2, at(2026, 3, 2, 12), id="exactly-to-lunch"),
    pytest.param(at(2026, 3, 2, 11), 2, at(2026, 3, 2, 15, 30), id="across-lunch"),
    pytest.param(at(2026, 3, 2, 12, 30), 2, at(2026, 3, 2, 16, 30), id="start-in-lunch"),
    pytest.param(at(2026, 3, 2, 7), 1, at(2026, 3, 2, 9, 30), id="before-opening"),
    pytest.param(at(2026, 3, 2, 17), 2, at(2026, 3, 3, 10), id="across-evening"),
    pytest.param(at(2026, 3, 2, 20), 2, at(2026, 3, 3, 10, 30), id="start-at-night"),
    pytest.param(at(2026, 3, 2, 8, 30), 6.5, at(2026, 3, 2, 17, 30), id="whole-day"),
    pytest.param(at(2026, 3, 2, 8, 30), 0.25, at(2026, 3, 2, 8, 45), id="quarter-hour"),
    pytest.param(at(2026, 3, 6, 16, 30), 2, at(2026, 3, 9, 9, 30), id="across-weekend"),
    pytest.param(at(2026, 3, 7, 10), 2, at(2026, 3, 9, 10, 30), id="start-on-saturday"),
    pytest.param(at(2026, 2, 13, 17), 2, at(2026, 2, 14, 10), id="into-makeup-saturday"),
    pytest.param(at(2026, 2, 14, 17), 2, at(2026, 2, 24, 10), id="across-spring-festival"),
    pytest.param(at(2026, 3, 2, 9), 13, at(2026, 3, 4, 9), id="two-days"),
    pytest.param(at(2026, 12, 31, 17), 2, at(2027, 1, 1, 10), id="into-unknown-year"),
]


@pytest.mark.parametrize(("start", "hours", "expected"), HOURS_CASES)
def test_add_working_hours(
    cal: WorkCalendar, start: datetime, hours: float, expected: datetime
) -> None:
    result = cal.add_working_hours(start, hours)
    assert result == expected
    assert result.tzinfo is TZ


@pytest.mark.parametrize(("start", "hours", "expected"), HOURS_CASES)
def test_working_seconds_between_inverts_add_working_hours(
    cal: WorkCalendar, start: datetime, hours: float, expected: datetime
) -> None:
    assert cal.working_seconds_between(start, expected) == pytest.approx(hours * 3600)
    assert cal.working_seconds_between(expected, start) == pytest.approx(-hours * 3600)


@pytest.mark.parametrize("hours", [0.1, 1, 2, 3.75, 6.5, 24, 100])
@pytest.mark.parametrize(
    "start",
    [
        pytest.param(at(2026, 2, 12, 11, 59), id="thu-before-lunch"),
        pytest.param(at(2026, 9, 30, 17, 29), id="before-national-day"),
        pytest.param(at(2026, 10, 10, 23), id="makeup-saturday-night"),
        pytest.param(at(2026, 12, 30, 14, 30), id="year-end"),
    ],
)
def test_hours_round_trip(cal: WorkCalendar, start: datetime, hours: float) -> None:
    end = cal.add_working_hours(start, hours)
    assert cal.working_seconds_between(start, end) == pytest.approx(hours * 3600)


def test_add_working_hours_zero_returns_start(cal: WorkCalendar) -> None:
    start = at(2026, 3, 7, 3)  # a Saturday night: nothing is added
    assert cal.add_working_hours(start, 0) == start


def test_add_working_hours_converts_other_timezones(cal: WorkCalendar) -> None:
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    result = cal.add_working_hours(start, 2)
    assert result == at(2026, 3, 2, 11)
    assert result.tzinfo is TZ
    assert cal.add_working_days(start, 1).tzinfo is TZ


@pytest.mark.parametrize(
    ("a", "b", "hours"),
    [
        pytest.param(at(2026, 3, 2, 8, 30), at(2026, 3, 2, 17, 30), 6.5, id="one-office-day"),
        pytest.param(at(2026, 3, 2), at(2026, 3, 3), 6.5, id="midnight-to-midnight"),
        pytest.param(at(2026, 3, 2, 12), at(2026, 3, 2, 14, 30), 0, id="lunch-break"),
        pytest.param(at(2026, 3, 6, 17, 30), at(2026, 3, 9, 8, 30), 0, id="weekend"),
        pytest.param(at(2026, 3, 2, 9), at(2026, 3, 9, 9), 5 * 6.5, id="one-week"),
        pytest.param(at(2026, 2, 13, 17, 30), at(2026, 2, 24, 8, 30), 6.5, id="spring-festival"),
        pytest.param(at(2026, 3, 2, 10), at(2026, 3, 2, 10), 0, id="same-instant"),
    ],
)
def test_working_seconds_between(cal: WorkCalendar, a: datetime, b: datetime, hours: float) -> None:
    assert cal.working_seconds_between(a, b) == pytest.approx(hours * 3600)


def test_seventy_five_percent_of_a_working_day_allowance(cal: WorkCalendar) -> None:
    created = at(2026, 2, 13, 16)  # Friday before the Spring Festival
    deadline = cal.add_working_days(created, 2)
    assert deadline == end_of_day(2026, 2, 24)
    allowance = cal.working_seconds_between(created, deadline)
    assert allowance == pytest.approx((1.5 + 6.5 + 6.5) * 3600)
    warn_at = cal.add_working_hours(created, 0.75 * allowance / 3600)
    # 10.875 h: 1.5 h on Fri 02-13, 6.5 h on the makeup Sat 02-14, 2.875 h from 08:30 on 02-24
    assert warn_at == datetime(2026, 2, 24, 11, 22, 30, tzinfo=TZ)


def test_custom_office_hours() -> None:
    hours = OfficeHours(periods=((time(9), time(17)),))
    cal = WorkCalendar(tz=TZ, office_hours=hours)
    assert cal.add_working_days(at(2026, 3, 2, 10), 1) == at(2026, 3, 3, 17)
    assert cal.add_working_hours(at(2026, 3, 2, 16), 2) == at(2026, 3, 3, 10)
    assert DEFAULT_OFFICE_HOURS.day_end == time(17, 30)


@pytest.mark.parametrize(
    ("periods", "message"),
    [
        pytest.param((), "at least one period", id="empty"),
        pytest.param(((time(12), time(9)),), "start before", id="reversed"),
        pytest.param(((time(9), time(9)),), "start before", id="zero-length"),
        pytest.param(((time(9), time(13)), (time(12), time(17))), "overlaps", id="overlap"),
        pytest.param(((time(14), time(17)), (time(9), time(12))), "overlaps", id="out-of-order"),
        pytest.param(((time(9, tzinfo=UTC), time(12)),), "naive", id="aware-time"),
    ],
)
def test_office_hours_validation(periods: tuple[tuple[time, time], ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OfficeHours(periods=periods)


# ------------------------------------------------------------ bad arguments

NAIVE = datetime(2026, 3, 2, 9, 0)
CalendarCall = Callable[[WorkCalendar], object]


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.add_working_days(NAIVE, 1), id="add_working_days"),
        pytest.param(lambda c: c.add_working_hours(NAIVE, 1), id="add_working_hours"),
        pytest.param(lambda c: c.working_seconds_between(NAIVE, at(2026, 3, 3)), id="wsb-a"),
        pytest.param(lambda c: c.working_seconds_between(at(2026, 3, 1), NAIVE), id="wsb-b"),
        pytest.param(lambda c: c.is_workday(NAIVE), id="is_workday-naive-datetime"),
        pytest.param(lambda c: c.unknown_years_between(NAIVE, date(2027, 1, 1)), id="unknown"),
    ],
)
def test_naive_datetime_rejected(cal: WorkCalendar, call: CalendarCall) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call(cal)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.add_working_days(at(2026, 3, 2), 0), id="zero-days"),
        pytest.param(lambda c: c.add_working_days(at(2026, 3, 2), -1), id="negative-days"),
        pytest.param(lambda c: c.add_working_hours(at(2026, 3, 2), -1), id="negative-hours"),
        pytest.param(lambda c: c.add_working_hours(at(2026, 3, 2), float("nan")), id="nan"),
        pytest.param(lambda c: c.add_working_hours(at(2026, 3, 2), float("inf")), id="inf"),
    ],
)
def test_bad_amounts_rejected(cal: WorkCalendar, call: CalendarCall) -> None:
    with pytest.raises(ValueError, match="must"):
        call(cal)


def test_is_workday_accepts_aware_datetime_in_calendar_tz(cal: WorkCalendar) -> None:
    # 2026-02-23 17:00 UTC is 2026-02-24 01:00 in Shanghai: the first day back.
    assert cal.is_workday(datetime(2026, 2, 23, 17, 0, tzinfo=UTC)) is True


@pytest.mark.parametrize(
    ("holidays", "workdays", "message"),
    [
        pytest.param([date(2026, 12, 31)], [], "2026-12-31 is not in 2027", id="holiday-year"),
        pytest.param([], [date(2028, 1, 2)], "2028-01-02 is not in 2027", id="workday-year"),
        pytest.param([date(2027, 2, 14)], [date(2027, 2, 14)], "2027-02-14", id="in-both"),
    ],
)
def test_load_year_validation(
    cal: WorkCalendar, holidays: list[date], workdays: list[date], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        cal.load_year(2027, holidays, workdays)
    assert not cal.known_year(2027)


# ---------------------------------------------------------------- notices

NOTICE_2027 = """
# Hypothetical example, not the real 2027 notice.
year = 2027
holidays = ["2027-01-01", "2027-02-06..2027-02-13"]   # single days or inclusive ranges
workdays = ["2027-02-14"]                               # 调休 makeup working days
"""


def test_parse_notice_example() -> None:
    year, holidays, workdays = parse_notice(NOTICE_2027)
    assert year == 2027
    assert holidays == [date(2027, 1, 1)] + [date(2027, 2, d) for d in range(6, 14)]
    assert workdays == [date(2027, 2, 14)]


def test_parse_notice_native_dates_single_day_range_and_no_workdays() -> None:
    text = """
year = 2027
holidays = [2027-01-01, "2027-05-01..2027-05-01", "2027-05-01 .. 2027-05-03"]
"""
    year, holidays, workdays = parse_notice(text)
    assert year == 2027
    assert holidays == [date(2027, 1, 1), date(2027, 5, 1), date(2027, 5, 2), date(2027, 5, 3)]
    assert workdays == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("year = 2027\nholidays = [", "not valid TOML", id="not-toml"),
        pytest.param('holidays = ["2027-01-01"]', "'year' is required", id="no-year"),
        pytest.param('year = "2027"\nholidays = ["2027-01-01"]', "year must be", id="year-str"),
        pytest.param('year = true\nholidays = ["2027-01-01"]', "year must be", id="year-bool"),
        pytest.param(
            'year = 2027\nholiday = ["2027-01-01"]', "unknown key.*holiday", id="typo-key"
        ),
        pytest.param("year = 2027", "'holidays' is required", id="no-holidays"),
        pytest.param("year = 2027\nholidays = []", "must not be empty", id="empty-holidays"),
        pytest.param(
            'year = 2027\nholidays = "2027-01-01"', "must be an array", id="holidays-not-list"
        ),
        pytest.param(
            'year = 2027\nholidays = ["2027-02-30"]', "entry '2027-02-30'", id="no-such-day"
        ),
        pytest.param(
            'year = 2027\nholidays = ["2027/01/01"]', "entry '2027/01/01'", id="bad-format"
        ),
        pytest.param(
            'year = 2027\nholidays = ["20270101"]', "entry '20270101'", id="basic-iso-format"
        ),
        pytest.param("year = 2027\nholidays = [20270101]", "entry 20270101", id="integer-entry"),
        pytest.param(
            'year = 2027\nholidays = ["2027-01-01..2027-01-02..2027-01-03"]',
            "exactly one '..'",
            id="three-part-range",
        ),
        pytest.param(
            'year = 2027\nholidays = ["2027-02-13..2027-02-06"]',
            r"entry '2027-02-13\.\.2027-02-06'.*end is before its start",
            id="reversed-range",
        ),
        pytest.param(
            'year = 2027\nholidays = ["2026-12-31"]',
            "entry '2026-12-31': 2026-12-31 is not in 2027",
            id="date-outside-year",
        ),
        pytest.param(
            'year = 2027\nholidays = ["2027-12-30..2028-01-02"]',
            "2028-01-02 is not in 2027",
            id="range-leaves-year",
        ),
        pytest.param(
            'year = 2027\nholidays = ["2027-01-01"]\nworkdays = ["2028-01-01"]',
            "workdays entry '2028-01-01'",
            id="workday-outside-year",
        ),
        pytest.param(
            'year = 2027\nholidays = ["2027-02-06..2027-02-14"]\nworkdays = ["2027-02-14"]',
            r"2027-02-14 is in both holidays \(entry '2027-02-06\.\.2027-02-14'\)",
            id="in-both-lists",
        ),
        pytest.param(
            'year = 2027\nholidays = ["2027-01-01"]\nworkdays = ["2027-02-15"]',
            "workdays entry '2027-02-15'.*Monday",
            id="makeup-day-not-weekend",
        ),
    ],
)
def test_parse_notice_invalid(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_notice(text)


# ------------------------------------------------- named notices, line numbers

NAMED_2027 = """\
# 国务院办公厅关于2027年部分节假日安排的通知 (hypothetical example)
year = 2027
source = "国办发明电〔2026〕X号"

[[holidays]]
name = "元旦"
days = "2027-01-01..2027-01-03"

[[holidays]]
name = "春节"
days = "2027-02-06..2027-02-13"
workdays = ["2027-02-14"]

[[holidays]]
name = "国庆节"
days = ["2027-10-01..2027-10-07"]
workdays = ["2027-09-26", "2027-10-09"]
"""


def test_parse_calendar_file_named_holidays() -> None:
    notice = parse_calendar_file(NAMED_2027, default_source="file.toml")
    assert notice.year == 2027
    assert notice.source == "国办发明电〔2026〕X号"
    assert len(notice.holidays) == 3 + 8 + 7
    assert notice.workdays == [date(2027, 2, 14), date(2027, 9, 26), date(2027, 10, 9)]
    by_day = {d.day: d for d in notice.days}
    assert by_day[date(2027, 2, 10)] == NoticeDay(
        date(2027, 2, 10), "holiday", "春节", "国办发明电〔2026〕X号"
    )
    assert by_day[date(2027, 10, 9)].kind == "workday"
    assert by_day[date(2027, 10, 9)].name == "国庆节"


def test_parse_calendar_file_default_source_is_the_file_name() -> None:
    notice = parse_calendar_file('year = 2027\nholidays = ["2027-01-01"]', default_source="a.toml")
    assert notice.source == "a.toml"
    assert notice.days == (NoticeDay(date(2027, 1, 1), "holiday", "", "a.toml"),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            NAMED_2027.replace(
                'days = "2027-02-06..2027-02-13"', 'days = "2027-02-06..2027-02-30"'
            ),
            r"^line 11: notice: holidays\[1\]\.days entry '2027-02-06\.\.2027-02-30'",
            id="bad-day-in-range",
        ),
        pytest.param(
            NAMED_2027.replace('workdays = ["2027-02-14"]', 'workdays = ["2027-02-15"]'),
            r"^line 12: notice: workdays entry '2027-02-15'.*Monday",
            id="makeup-day-on-monday",
        ),
        pytest.param(
            NAMED_2027.replace('name = "元旦"', 'nam = "元旦"'),
            r"^line 6: notice: holidays\[0\]: unknown key\(s\) nam",
            id="typo-in-holiday",
        ),
        pytest.param(
            NAMED_2027.replace('name = "春节"\n', ""),
            r"^line 9: notice: holidays\[1\]\.name is required",
            id="missing-name",
        ),
        pytest.param(
            NAMED_2027.replace("year = 2027", "yaer = 2027"),
            r"^line 2: notice: unknown key\(s\) yaer",
            id="typo-year",
        ),
        pytest.param(
            NAMED_2027.replace('"2027-10-01..2027-10-07"', '"2026-10-01..2026-10-07"'),
            r"^line 16: .*2026-10-01 is not in 2027",
            id="wrong-year",
        ),
        pytest.param(
            NAMED_2027.replace('["2027-09-26", "2027-10-09"]', '["2027-10-02"]'),
            r"2027-10-02 is in both holidays",
            id="workday-inside-holiday",
        ),
        pytest.param(
            NAMED_2027.replace('[[holidays]]\nname = "元旦"', "[[holidays]]\nname = 元旦"),
            r"not valid TOML.*line 6",
            id="toml-syntax-line",
        ),
    ],
)
def test_parse_calendar_file_errors_name_line_and_key(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_calendar_file(text)


# ------------------------------------------------------- imported notices


def test_imported_days_at_construction_and_replace() -> None:
    seen = Recorder()
    notice = parse_calendar_file(NAMED_2027)
    cal = WorkCalendar(tz=TZ, imported=notice.days, on_unknown_year=seen)
    assert cal.known_year(2027)
    assert cal.is_workday(date(2027, 1, 1)) is False
    assert cal.is_workday(date(2027, 2, 14)) is True  # Sunday, makeup
    assert cal.day_info(date(2027, 2, 8)) == DayInfo(
        date(2027, 2, 8), False, "imported", "春节", "国办发明电〔2026〕X号"
    )
    cal.replace_imported([])
    assert not cal.known_year(2027)
    assert cal.is_workday(date(2027, 1, 1)) is True  # Friday, Monday-Friday fallback
    assert seen.years == [2027]


def test_imported_year_overrides_package_but_not_config() -> None:
    # A (hypothetical) correction for 2026: 2026-03-02 off; the package says it is a working day.
    days = [
        NoticeDay(date(2026, 3, 2), "holiday", "地方假日"),
        NoticeDay(date(2026, 3, 3), "holiday", "地方假日"),
    ]
    cal = WorkCalendar(tz=TZ, imported=days, extra_workdays=[date(2026, 3, 3)])
    assert cal.is_workday(date(2026, 3, 2)) is False
    assert cal.is_workday(date(2026, 3, 3)) is True  # config wins
    assert cal.day_info(date(2026, 3, 3)).source == "config"
    # The imported notice replaces the package for the whole year: the Spring Festival is gone.
    assert cal.is_workday(date(2026, 2, 16)) is True
    assert cal.is_workday(date(2026, 2, 14)) is False  # no longer a makeup working day


def test_replace_imported_rejects_bad_kind() -> None:
    cal = WorkCalendar(tz=TZ)
    bad = NoticeDay(date(2027, 1, 1), "holiday")
    object.__setattr__(bad, "kind", "vacation")
    with pytest.raises(ValueError, match="unknown kind 'vacation'"):
        cal.replace_imported([bad])


# ------------------------------------------------------------- sources


def test_day_info_sources(cal: WorkCalendar) -> None:
    info = cal.day_info(date(2026, 2, 14))
    assert (info.workday, info.source, info.name) == (
        True,
        "chinesecalendar",
        "春节 Spring Festival",
    )
    info = cal.day_info(date(2026, 10, 1))
    assert (info.workday, info.source) == (False, "chinesecalendar")
    assert info.name.startswith("国庆节")
    assert cal.day_info(date(2027, 1, 1)) == DayInfo(date(2027, 1, 1), True, "weekday rule")


def test_special_days_2026_spring_festival(cal: WorkCalendar) -> None:
    days = {i.day: i for i in cal.special_days(2026)}
    assert days[date(2026, 2, 14)].workday is True
    assert days[date(2026, 2, 28)].workday is True
    assert all(not days[date(2026, 2, d)].workday for d in range(15, 24))
    assert date(2026, 2, 24) not in days
    assert date(2026, 3, 7) not in days  # an ordinary Saturday
    assert {i.source for i in days.values()} == {"chinesecalendar"}


def test_special_days_unknown_year_lists_only_config() -> None:
    cal = WorkCalendar(tz=TZ, extra_holidays=[date(2027, 1, 1)], extra_workdays=[date(2027, 1, 2)])
    assert cal.special_days(2027) == [
        DayInfo(date(2027, 1, 1), False, "config"),
        DayInfo(date(2027, 1, 2), True, "config"),
    ]


# ------------------------------------------------------------ missing years


def test_missing_years_for_the_report() -> None:
    seen = Recorder()
    cal = WorkCalendar(tz=TZ, on_unknown_year=seen)
    assert cal.missing_years(date(2026, 6, 1)) == []
    assert cal.missing_years(date(2026, 11, 23)) == [2027], "warns ahead of the year turn"
    assert cal.missing_years(date(2026, 11, 23), ahead_days=0) == []
    cal.add_working_days(at(2026, 12, 28, 10), 5)  # counted into 2027 on the fallback
    assert cal.missing_years(date(2026, 6, 1)) == [2027]
    cal.replace_imported(parse_calendar_file(NAMED_2027).days)
    assert cal.missing_years(date(2026, 11, 23)) == []
    assert seen.years == [2027]


# ------------------------------------------------------------ hours helpers


def test_working_hours_between(cal: WorkCalendar) -> None:
    assert cal.working_hours_between(at(2026, 3, 6, 17), at(2026, 3, 9, 10)) == pytest.approx(2)
    assert cal.working_hours_between(at(2026, 3, 2, 11), at(2026, 3, 2, 15)) == pytest.approx(1.5)
    assert cal.working_hours_between(at(2026, 3, 9, 10), at(2026, 3, 6, 17)) == pytest.approx(-2)


def test_office_hours_parse() -> None:
    hours = OfficeHours.parse(["08:30-12:00", " 14:30 - 17:30 "])
    assert hours == DEFAULT_OFFICE_HOURS
    assert hours.hours_per_day == pytest.approx(6.5)
    assert OfficeHours.parse(["9:00-17:00"]).periods == ((time(9), time(17)),)


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        pytest.param(["8:30"], "must look like", id="no-end"),
        pytest.param(["24:00-25:00"], "must look like", id="hour-out-of-range"),
        pytest.param(["08:30-12:60"], "must look like", id="minute-out-of-range"),
        pytest.param(["12:00-08:30"], "start before", id="reversed"),
        pytest.param([], "at least one period", id="empty"),
    ],
)
def test_office_hours_parse_errors(specs: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OfficeHours.parse(specs)
