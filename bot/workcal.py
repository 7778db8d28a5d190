"""Working-time calendar: Chinese working days and office hours.

Deadlines for work orders are set in 工作日 (working days) and 工作小时 (working hours).
:class:`WorkCalendar` decides whether a date is a working day and does the arithmetic.
It does no I/O: imported notices are handed to it as plain data (:class:`NoticeDay`).

Which days are working days
---------------------------
For a date ``d``, the first rule that applies wins:

1. the calendar's own overrides (``extra_holidays`` / ``extra_workdays``; in gridbot the
   config's ``[calendar] holidays`` / ``workdays``, e.g. a local day off ordered by the
   district);
2. a notice an administrator imported for ``d.year`` (``gridbot calendar import``, stored in
   the ``calendar_days`` table and passed in as ``imported=`` / :meth:`WorkCalendar.
   replace_imported`; or :meth:`WorkCalendar.load_year`). For a year the package knows, the
   imported notice replaces the package's data for that whole year;
3. the ``chinesecalendar`` package (``chinese_calendar.is_workday``) when it has data for
   ``d.year`` -- see :data:`PACKAGE_YEARS`;
4. otherwise Monday to Friday. The package raises ``NotImplementedError`` for such a year;
   the calendar never does. It calls ``on_unknown_year(year)`` once per year so the caller
   can log it, and :meth:`WorkCalendar.missing_years` tells the daily report which years
   still need a notice.

All datetimes are timezone-aware. Inputs that are naive raise ``ValueError``; results are
in the calendar's timezone.

Holiday notice file format
--------------------------
Each year the State Council General Office (国务院办公厅) publishes the next year's
放假安排. When the installed package does not know that year yet, an administrator copies
it into a small TOML file and imports it with ``gridbot calendar import FILE``
(:func:`parse_calendar_file`)::

    # 国务院办公厅关于2027年部分节假日安排的通知 (example only -- copy the real notice)
    year = 2027
    source = "国办发明电〔2026〕X号"          # optional: where the dates come from

    [[holidays]]
    name = "元旦"
    days = "2027-01-01..2027-01-03"        # one day "YYYY-MM-DD" or an inclusive range

    [[holidays]]
    name = "春节"
    days = "2027-02-06..2027-02-13"
    workdays = ["2027-02-14"]              # this holiday's 调休 makeup working days

Keys:

``year`` (integer, required)
    The year the notice is for.
``source`` (string, optional)
    The notice's title or number, shown by ``gridbot calendar show``; default: the file name.
``[[holidays]]`` (one or more, required)
    One holiday each: ``name`` (string, required), ``days`` (required: ``"YYYY-MM-DD"`` or an
    inclusive range ``"YYYY-MM-DD..YYYY-MM-DD"``, or a list of such entries) and ``workdays``
    (optional list of the holiday's makeup working days, same entry syntax). List the whole
    放假 period, weekend days included, exactly as the notice states it.
``workdays`` (top-level array, optional)
    Makeup working days not tied to a holiday. The short form ``holidays = ["2027-01-01",
    "2027-02-06..2027-02-13"]`` (unnamed entries) is accepted too.

Unquoted TOML dates (``2027-01-01``) are accepted as well as strings. Every date must fall
inside ``year``, no date may be both a holiday and a workday, makeup working days must be
Saturdays or Sundays, and no other keys are allowed (a typo such as ``holiday =`` is an
error, not silently ignored). Errors are ``ValueError`` with a message naming the line (when
it can be found) and the key. Days not listed follow the Monday-to-Friday rule.
"""

from __future__ import annotations

import logging
import math
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Literal

import chinese_calendar

__all__ = [
    "DEFAULT_OFFICE_HOURS",
    "PACKAGE_YEARS",
    "DayInfo",
    "Notice",
    "NoticeDay",
    "OfficeHours",
    "WorkCalendar",
    "parse_calendar_file",
    "parse_notice",
]

log = logging.getLogger(__name__)

_ONE_DAY = timedelta(days=1)

#: Years the installed ``chinesecalendar`` package has holiday data for, read from its data
#: (the same years for which ``chinese_calendar.is_workday`` does not raise).
PACKAGE_YEARS: frozenset[int] = frozenset(
    d.year for d in (*chinese_calendar.holidays.keys(), *chinese_calendar.workdays.keys())
)

#: Where a day's status comes from (see the module docstring), as shown by ``calendar show``.
SOURCE_CONFIG = "config"
SOURCE_IMPORTED = "imported"
SOURCE_PACKAGE = "chinesecalendar"
SOURCE_WEEKDAY = "weekday rule"

Kind = Literal["holiday", "workday"]

_PERIOD = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")


@dataclass(frozen=True)
class OfficeHours:
    """The office periods of a working day, e.g. 08:30-12:00 and 14:30-17:30.

    Periods are naive local times, each with start < end, in order and not overlapping.
    """

    periods: tuple[tuple[time, time], ...]

    def __post_init__(self) -> None:
        if not self.periods:
            raise ValueError("office hours: at least one period is required")
        previous_end: time | None = None
        for start, end in self.periods:
            label = f"{start.isoformat('minutes')}-{end.isoformat('minutes')}"
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError(f"office hours: period {label} must use naive local times")
            if not start < end:
                raise ValueError(f"office hours: period {label} must start before it ends")
            if previous_end is not None and start < previous_end:
                raise ValueError(
                    f"office hours: period {label} overlaps or is before the previous period"
                )
            previous_end = end

    @classmethod
    def parse(cls, specs: Iterable[str]) -> OfficeHours:
        """Office hours from strings like ``"08:30-12:00"``; ``ValueError`` names a bad one."""
        periods = []
        for spec in specs:
            m = _PERIOD.fullmatch(spec)
            hh1, mm1, hh2, mm2 = (int(x) for x in m.groups()) if m else (99, 0, 0, 0)
            if hh1 > 23 or hh2 > 23 or mm1 > 59 or mm2 > 59:
                raise ValueError(f'office hours: {spec!r} must look like "08:30-12:00"')
            periods.append((time(hh1, mm1), time(hh2, mm2)))
        return cls(periods=tuple(periods))

    @property
    def day_end(self) -> time:
        """End of the office day (end of the last period)."""
        return self.periods[-1][1]

    @property
    def hours_per_day(self) -> float:
        """Office hours in one working day (6.5 for the default periods)."""
        return (
            sum(
                (datetime.combine(date.min, e) - datetime.combine(date.min, s)).total_seconds()
                for s, e in self.periods
            )
            / 3600
        )


DEFAULT_OFFICE_HOURS = OfficeHours(
    periods=((time(8, 30), time(12, 0)), (time(14, 30), time(17, 30))),
)


@dataclass(frozen=True)
class NoticeDay:
    """One day of an imported holiday notice: a day off or a makeup working day (调休)."""

    day: date
    kind: Kind
    name: str = ""
    source: str = ""


@dataclass(frozen=True)
class Notice:
    """A parsed holiday notice for one year (:func:`parse_calendar_file`)."""

    year: int
    days: tuple[NoticeDay, ...]
    source: str = ""

    @property
    def holidays(self) -> list[date]:
        return [d.day for d in self.days if d.kind == "holiday"]

    @property
    def workdays(self) -> list[date]:
        return [d.day for d in self.days if d.kind == "workday"]


@dataclass(frozen=True)
class DayInfo:
    """What the calendar says about one day, and why (for ``gridbot calendar show``)."""

    day: date
    workday: bool
    source: str  # SOURCE_CONFIG | SOURCE_IMPORTED | SOURCE_PACKAGE | SOURCE_WEEKDAY
    name: str = ""  # the holiday's name, when known
    detail: str = ""  # the notice's source for imported days


@dataclass(frozen=True)
class _Notice:
    holidays: frozenset[date]
    workdays: frozenset[date]
    names: Mapping[date, str]
    source: Mapping[date, str]


class WorkCalendar:
    """Working days and office hours in one timezone. See the module docstring for the rules."""

    def __init__(
        self,
        *,
        tz: tzinfo,
        office_hours: OfficeHours = DEFAULT_OFFICE_HOURS,
        extra_holidays: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
        imported: Iterable[NoticeDay] = (),
        on_unknown_year: Callable[[int], None] | None = None,
    ) -> None:
        self.tz = tz
        self.office_hours = office_hours
        self._extra_holidays = frozenset(_plain_date(d, "extra_holidays") for d in extra_holidays)
        self._extra_workdays = frozenset(_plain_date(d, "extra_workdays") for d in extra_workdays)
        both = self._extra_holidays & self._extra_workdays
        if both:
            listed = ", ".join(d.isoformat() for d in sorted(both))
            raise ValueError(f"date(s) in both extra_holidays and extra_workdays: {listed}")
        self._on_unknown_year = on_unknown_year
        self._notices: dict[int, _Notice] = {}
        self._reported_years: set[int] = set()
        self.replace_imported(imported)

    # ----------------------------------------------------------------- days

    def known_year(self, year: int) -> bool:
        """True if the package or an imported notice has the holiday arrangement for ``year``."""
        return year in self._notices or year in PACKAGE_YEARS

    def unknown_years_between(self, a: date, b: date) -> list[int]:
        """Years from ``a`` to ``b`` (inclusive, either order) whose arrangement is unknown.

        A pure query: it does not call ``on_unknown_year``.
        """
        ya, yb = self._local_date(a).year, self._local_date(b).year
        lo, hi = min(ya, yb), max(ya, yb)
        return [y for y in range(lo, hi + 1) if not self.known_year(y)]

    def missing_years(self, today: date, *, ahead_days: int = 62) -> list[int]:
        """Years the supervisors' report should ask for, until their notice is imported.

        These are the years that a deadline has already been counted in on the Monday-Friday
        fallback (since this process started), plus the years from ``today`` to ``ahead_days``
        later, so the warning starts before the first deadline crosses into such a year.
        Years whose notice has since been imported are left out. A pure query.
        """
        today = self._local_date(today)
        ahead = self.unknown_years_between(today, today + timedelta(days=ahead_days))
        seen = (y for y in self._reported_years if not self.known_year(y))
        return sorted({*ahead, *seen})

    def is_workday(self, d: date) -> bool:
        """Whether ``d`` is a working day. An aware ``datetime`` is taken in the calendar's tz."""
        info = self.day_info(d)
        if info.source == SOURCE_WEEKDAY:
            self._report_unknown_year(info.day.year)
        return info.workday

    def day_info(self, d: date) -> DayInfo:
        """Whether ``d`` is a working day, which rule decided it, and the holiday's name.

        A pure query: it does not call ``on_unknown_year``.
        """
        d = self._local_date(d)
        if d in self._extra_workdays:
            return DayInfo(d, True, SOURCE_CONFIG)
        if d in self._extra_holidays:
            return DayInfo(d, False, SOURCE_CONFIG)
        notice = self._notices.get(d.year)
        if notice is not None:
            name, detail = notice.names.get(d, ""), notice.source.get(d, "")
            if d in notice.workdays:
                return DayInfo(d, True, SOURCE_IMPORTED, name, detail)
            if d in notice.holidays:
                return DayInfo(d, False, SOURCE_IMPORTED, name, detail)
            return DayInfo(d, d.weekday() < 5, SOURCE_IMPORTED)
        if d.year in PACKAGE_YEARS:
            try:
                on_duty, holiday = chinese_calendar.get_holiday_detail(d)
            except NotImplementedError:  # pragma: no cover - PACKAGE_YEARS is read from its data
                pass
            else:
                return DayInfo(d, not on_duty, SOURCE_PACKAGE, _chinese_name(holiday))
        return DayInfo(d, d.weekday() < 5, SOURCE_WEEKDAY)

    def special_days(self, year: int) -> list[DayInfo]:
        """The holidays and makeup working days of ``year``, with where each comes from.

        Lists every day that a rule names (config overrides, the imported notice, or the
        package's data when no notice is imported) and every day whose status differs from
        Monday-to-Friday. A pure query.
        """
        candidates = {d for d in (*self._extra_holidays, *self._extra_workdays) if d.year == year}
        notice = self._notices.get(year)
        if notice is not None:
            candidates |= {d for d in (*notice.holidays, *notice.workdays)}
        elif year in PACKAGE_YEARS:
            candidates |= {
                d
                for d in (*chinese_calendar.holidays.keys(), *chinese_calendar.workdays.keys())
                if d.year == year
            }
        out = []
        for d in sorted(candidates):
            info = self.day_info(d)
            if info.workday != (d.weekday() < 5) or info.source != SOURCE_WEEKDAY:
                out.append(info)
        return out

    def replace_imported(self, days: Iterable[NoticeDay]) -> None:
        """Use ``days`` (all imported notices, e.g. every row of ``calendar_days``) from now on.

        Replaces every earlier import at once; years without a day in ``days`` are no longer
        imported. Call it again after ``gridbot calendar import`` to see a new notice.
        """
        by_year: dict[int, list[NoticeDay]] = {}
        for nd in days:
            _plain_date(nd.day, "imported")
            if nd.kind not in ("holiday", "workday"):
                raise ValueError(f"imported {nd.day.isoformat()}: unknown kind {nd.kind!r}")
            by_year.setdefault(nd.day.year, []).append(nd)
        notices = {}
        for year, entries in by_year.items():
            notices[year] = _make_notice(
                year,
                [e.day for e in entries if e.kind == "holiday"],
                [e.day for e in entries if e.kind == "workday"],
                names={e.day: e.name for e in entries if e.name},
                source={e.day: e.source for e in entries if e.source},
            )
        self._notices = notices  # one assignment: readers see the old or the new set

    def load_year(self, year: int, holidays: Iterable[date], workdays: Iterable[date]) -> None:
        """Import an administrator's notice for ``year`` (replaces any earlier one).

        It takes precedence over the package for that year (so it can also correct it);
        the calendar's own overrides still win.
        """
        notice = _make_notice(year, holidays, workdays, names={}, source={})
        self._notices = {**self._notices, year: notice}

    def add_working_days(
        self, start: datetime, days: int, *, start_next_day: bool = True
    ) -> datetime:
        """The deadline for ``days`` working days from ``start``.

        The deadline is the end of the office day (end of the last period) of the Nth working
        day. Counting starts with the next working day after ``start``'s date
        (``start_next_day=True``, "次日起算"), or with ``start``'s date itself when
        ``start_next_day=False`` and that date is a working day (whatever the time of day).
        ``days`` must be at least 1.
        """
        if days < 1:
            raise ValueError(f"days must be at least 1, got {days}")
        d = self._local(start, "start").date()
        if start_next_day:
            d += _ONE_DAY
        counted = 0
        while True:
            if self.is_workday(d):
                counted += 1
                if counted == days:
                    return self._at(d, self.office_hours.day_end)
            d += _ONE_DAY

    # ---------------------------------------------------------------- hours

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The moment ``hours`` of working time after ``start``.

        Working time runs only inside the office periods of working days. If the time runs
        out exactly at the end of a period, the result is that period's end.
        ``hours == 0`` returns ``start`` (in the calendar's tz).
        """
        local = self._local(start, "start")
        if not math.isfinite(hours) or hours < 0:
            raise ValueError(f"hours must be a finite number >= 0, got {hours}")
        remaining = timedelta(hours=hours)
        if not remaining:
            return local
        now = local.astimezone(UTC)
        d = local.date()
        while True:
            if self.is_workday(d):
                for window_start, window_end in self._windows(d):
                    begin = max(now, window_start)
                    if begin >= window_end:
                        continue
                    available = window_end - begin
                    if remaining <= available:
                        return (begin + remaining).astimezone(self.tz)
                    remaining -= available
            d += _ONE_DAY

    def working_seconds_between(self, a: datetime, b: datetime) -> float:
        """Working seconds (inside office periods of working days) from ``a`` to ``b``.

        Negative if ``b`` is before ``a``. Consistent with :meth:`add_working_hours`:
        ``working_seconds_between(s, add_working_hours(s, h)) == h * 3600``.
        """
        la, lb = self._local(a, "a"), self._local(b, "b")
        if lb < la:
            return -self.working_seconds_between(lb, la)
        ua, ub = la.astimezone(UTC), lb.astimezone(UTC)
        total = timedelta()
        d = la.date()
        last = lb.date()
        while d <= last:
            if self.is_workday(d):
                for window_start, window_end in self._windows(d):
                    begin, end = max(ua, window_start), min(ub, window_end)
                    if end > begin:
                        total += end - begin
            d += _ONE_DAY
        return total.total_seconds()

    def working_hours_between(self, a: datetime, b: datetime) -> float:
        """Working hours from ``a`` to ``b`` (:meth:`working_seconds_between` / 3600)."""
        return self.working_seconds_between(a, b) / 3600

    # -------------------------------------------------------------- helpers

    def _windows(self, d: date) -> list[tuple[datetime, datetime]]:
        """The office periods of ``d`` as UTC datetimes (real elapsed time, DST-safe)."""
        return [
            (self._at(d, s).astimezone(UTC), self._at(d, e).astimezone(UTC))
            for s, e in self.office_hours.periods
        ]

    def _at(self, d: date, t: time) -> datetime:
        return datetime.combine(d, t, tzinfo=self.tz)

    def _local(self, dt: datetime, name: str) -> datetime:
        if not isinstance(dt, datetime):
            raise TypeError(f"{name} must be a datetime, got {type(dt).__name__}")
        if dt.tzinfo is None or dt.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware, got naive {dt.isoformat()}")
        return dt.astimezone(self.tz)

    def _local_date(self, d: date) -> date:
        if isinstance(d, datetime):
            return self._local(d, "date").date()
        return d

    def _report_unknown_year(self, year: int) -> None:
        if year in self._reported_years:
            return
        self._reported_years.add(year)
        if self._on_unknown_year is None:
            return
        try:
            self._on_unknown_year(year)
        except Exception:  # the callback only logs/reports; it must never break a deadline
            log.exception("on_unknown_year(%d) callback failed", year)


def _make_notice(
    year: int,
    holidays: Iterable[date],
    workdays: Iterable[date],
    *,
    names: Mapping[date, str],
    source: Mapping[date, str],
) -> _Notice:
    hol = frozenset(_plain_date(d, "holidays") for d in holidays)
    work = frozenset(_plain_date(d, "workdays") for d in workdays)
    for name, dates in (("holidays", hol), ("workdays", work)):
        outside = sorted(d for d in dates if d.year != year)
        if outside:
            raise ValueError(f"{name}: {outside[0].isoformat()} is not in {year}")
    both = sorted(hol & work)
    if both:
        listed = ", ".join(d.isoformat() for d in both)
        raise ValueError(f"date(s) both a holiday and a workday: {listed}")
    return _Notice(holidays=hol, workdays=work, names=dict(names), source=dict(source))


def _chinese_name(holiday: object) -> str:
    """``"春节 Spring Festival"`` for a package holiday (its value is the English name)."""
    if holiday is None:
        return ""
    try:
        h = chinese_calendar.Holiday(holiday)
    except ValueError:
        return str(holiday)
    return f"{h.chinese} {h.value}"


def _plain_date(d: Any, name: str) -> date:
    if isinstance(d, datetime) or not isinstance(d, date):
        raise TypeError(f"{name}: expected a date, got {d!r}")
    return d


# ----------------------------------------------------------------- notices

_NOTICE_KEYS = ("year", "source", "holidays", "workdays")
_HOLIDAY_KEYS = ("name", "days", "workdays")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ENTRY_SYNTAX = "expected 'YYYY-MM-DD' or 'YYYY-MM-DD..YYYY-MM-DD'"


class _NoticeError(ValueError):
    pass


def parse_notice(text: str) -> tuple[int, list[date], list[date]]:
    """Parse and validate a holiday notice; ``(year, holidays, workdays)``, sorted.

    The short form of :func:`parse_calendar_file` (names and source dropped).
    """
    notice = parse_calendar_file(text)
    return notice.year, notice.holidays, notice.workdays


def parse_calendar_file(text: str, *, default_source: str = "") -> Notice:
    """Parse and validate a holiday notice file (format in the module docstring).

    Ranges are expanded; the days come sorted and de-duplicated. Raises ``ValueError``
    whose message starts with ``line N:`` when the offending entry can be found in ``text``
    and names the key (``holidays[1].days``) and the entry.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"notice is not valid TOML: {exc}") from exc
    try:
        return _parse_notice_data(data, default_source)
    except _NoticeError as exc:
        line = _line_of(text, exc.args[1]) if len(exc.args) > 1 else None
        message = f"notice: {exc.args[0]}"
        raise ValueError(f"line {line}: {message}" if line else message) from None


def _fail(message: str, needle: str | None = None) -> _NoticeError:
    return _NoticeError(message, needle) if needle else _NoticeError(message)


def _parse_notice_data(data: dict[str, Any], default_source: str) -> Notice:
    unknown = sorted(set(data) - set(_NOTICE_KEYS))
    if unknown:
        raise _fail(
            f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(_NOTICE_KEYS)}",
            f"{unknown[0]}",
        )
    if "year" not in data:
        raise _fail("'year' is required")
    year = data["year"]
    if isinstance(year, bool) or not isinstance(year, int) or not 1 <= year <= 9999:
        raise _fail(f"year must be an integer like 2027, got {year!r}", "year")
    source = data.get("source", default_source)
    if not isinstance(source, str):
        raise _fail(f"source must be a string, got {source!r}", "source")
    if "holidays" not in data:
        raise _fail("'holidays' is required")
    holidays_value = data["holidays"]
    if not isinstance(holidays_value, list):
        raise _fail(f"'holidays' must be an array of dates, got {holidays_value!r}", "holidays")
    if not holidays_value:
        raise _fail("'holidays' must not be empty", "holidays")

    holidays: dict[date, tuple[str, str]] = {}  # day -> (entry, name)
    workdays: dict[date, tuple[str, str]] = {}
    tables = 0
    for i, item in enumerate(holidays_value):
        if isinstance(item, dict):
            tables += 1
            key = f"holidays[{i}]"
            extra = sorted(set(item) - set(_HOLIDAY_KEYS))
            if extra:
                raise _fail(
                    f"{key}: unknown key(s) {', '.join(extra)}; "
                    f"allowed: {', '.join(_HOLIDAY_KEYS)}",
                    extra[0],
                )
            name = item.get("name")
            if not isinstance(name, str) or not name.strip():
                raise _fail(f'{key}.name is required (e.g. name = "春节")', _nth_table(tables))
            if "days" not in item:
                raise _fail(f"{key}.days is required ({name})", name)
            days = item["days"] if isinstance(item["days"], list) else [item["days"]]
            if not days:
                raise _fail(f"{key}.days must not be empty ({name})", name)
            _expand_into(holidays, days, f"{key}.days", year, name.strip())
            _expand_into(
                workdays,
                _as_list(item.get("workdays", []), f"{key}.workdays"),
                f"{key}.workdays",
                year,
                name.strip(),
            )
        else:
            _expand_into(holidays, [item], "holidays", year, "")
    _expand_into(workdays, _as_list(data.get("workdays", []), "workdays"), "workdays", year, "")

    for d, (entry, _) in workdays.items():
        if d in holidays:
            raise _fail(
                f"{d.isoformat()} is in both holidays (entry {holidays[d][0]!r}) "
                f"and workdays (entry {entry!r})",
                entry,
            )
        if d.weekday() < 5:
            raise _fail(
                f"workdays entry {entry!r}: {d.isoformat()} is a "
                f"{d.strftime('%A')}; makeup working days are Saturdays or Sundays",
                entry,
            )
    days_out = [NoticeDay(d, "holiday", name, source) for d, (_, name) in holidays.items()] + [
        NoticeDay(d, "workday", name, source) for d, (_, name) in workdays.items()
    ]
    days_out.sort(key=lambda nd: nd.day)
    return Notice(year=year, days=tuple(days_out), source=source)


def _as_list(value: object, key: str) -> list[object]:
    if not isinstance(value, list):
        raise _fail(f"'{key}' must be an array of dates, got {value!r}", key.rsplit(".", 1)[-1])
    return value


def _expand_into(
    out: dict[date, tuple[str, str]], entries: list[object], key: str, year: int, name: str
) -> None:
    """Expand notice entries into ``out`` as {date: (the entry it came from, name)}."""
    for raw in entries:
        entry = raw if isinstance(raw, str) else repr(raw)
        first, last = _parse_entry(raw, key)
        if last < first:
            raise _fail(
                f"{key} entry {entry!r}: range end is before its start (write it as 'start..end')",
                entry,
            )
        for d in (first, last):
            if d.year != year:
                raise _fail(f"{key} entry {entry!r}: {d.isoformat()} is not in {year}", entry)
        d = first
        while d <= last:
            out.setdefault(d, (entry, name))
            d += _ONE_DAY


def _parse_entry(raw: object, key: str) -> tuple[date, date]:
    if isinstance(raw, date) and not isinstance(raw, datetime):  # unquoted TOML date
        return raw, raw
    if not isinstance(raw, str):
        raise _fail(f"{key} entry {raw!r}: {_ENTRY_SYNTAX}", str(raw))
    parts = raw.split("..")
    if len(parts) > 2:
        raise _fail(f"{key} entry {raw!r}: a range has exactly one '..'", raw)
    try:
        stripped = [p.strip() for p in parts]
        if not all(_ISO_DATE.fullmatch(p) for p in stripped):
            raise ValueError(raw)
        dates = [date.fromisoformat(p) for p in stripped]
    except ValueError:
        raise _fail(f"{key} entry {raw!r}: {_ENTRY_SYNTAX}", raw) from None
    return dates[0], dates[-1]


def _nth_table(n: int) -> str:
    return f"\0table{n}"


def _line_of(text: str, needle: str) -> int | None:
    """The 1-based line of ``text`` where ``needle`` first appears (outside comments)."""
    if needle.startswith("\0table"):
        wanted, seen = int(needle[len("\0table") :]), 0
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip().startswith("[[holidays]]"):
                seen += 1
                if seen == wanted:
                    return number
        return None
    for number, line in enumerate(text.splitlines(), start=1):
        code = line.split("#", 1)[0]
        if re.search(rf"(?<![\w-]){re.escape(needle)}(?![\w-])", code):
            return number
    return None
