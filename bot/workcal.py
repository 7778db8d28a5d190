"""Working-time calendar: Chinese working days and office hours.

Deadlines for work orders are set in 工作日 (working days) and 工作小时 (working hours).
:class:`WorkCalendar` decides whether a date is a working day and does the arithmetic.

Which days are working days
---------------------------
For a date ``d``, the first rule that applies wins:

1. the calendar's own overrides (``extra_holidays`` / ``extra_workdays``, e.g. a local
   day off ordered by the district);
2. a notice an administrator imported for ``d.year`` with :meth:`WorkCalendar.load_year`
   (usually from :func:`parse_notice`);
3. the ``chinesecalendar`` package (``chinese_calendar.is_workday``) when it has data for
   ``d.year`` -- see :data:`PACKAGE_YEARS`;
4. otherwise Monday to Friday. The package raises ``NotImplementedError`` for such a year;
   the calendar never does. It calls ``on_unknown_year(year)`` once per year so the caller
   can log it and mention it in reports until the year's notice is imported.

All datetimes are timezone-aware. Inputs that are naive raise ``ValueError``; results are
in the calendar's timezone.

Holiday notice file format
--------------------------
Each year the State Council General Office (国务院办公厅) publishes the next year's
放假安排. When the installed package does not know that year yet, an administrator copies
it into a small TOML file and imports it (:func:`parse_notice`, then
:meth:`WorkCalendar.load_year`)::

    # 国务院办公厅关于2027年部分节假日安排的通知 (example only -- copy the real notice)
    year = 2027
    holidays = ["2027-01-01", "2027-02-06..2027-02-13"]   # single days or inclusive ranges
    workdays = ["2027-02-14"]                               # 调休 makeup working days

Keys:

``year`` (integer, required)
    The year the notice is for.
``holidays`` (array, required, not empty)
    Days off. Each entry is a date ``"YYYY-MM-DD"`` or an inclusive range
    ``"YYYY-MM-DD..YYYY-MM-DD"`` (start not after end). List the whole 放假 period,
    weekend days included, exactly as the notice states it.
``workdays`` (array, optional, default empty)
    调休 makeup working days: Saturdays or Sundays that become working days. Same entry
    syntax as ``holidays``.

Unquoted TOML dates (``2027-01-01``) are accepted as well as strings. Every date must fall
inside ``year``, no date may be both a holiday and a workday, and no other keys are
allowed (a typo such as ``holiday =`` is an error, not silently ignored). Errors are
``ValueError`` with a message naming the offending entry. Days not listed follow the
Monday-to-Friday rule.
"""

from __future__ import annotations

import logging
import math
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

import chinese_calendar

__all__ = [
    "DEFAULT_OFFICE_HOURS",
    "PACKAGE_YEARS",
    "OfficeHours",
    "WorkCalendar",
    "parse_notice",
]

log = logging.getLogger(__name__)

_ONE_DAY = timedelta(days=1)

#: Years the installed ``chinesecalendar`` package has holiday data for, read from its data
#: (the same years for which ``chinese_calendar.is_workday`` does not raise).
PACKAGE_YEARS: frozenset[int] = frozenset(
    d.year for d in (*chinese_calendar.holidays.keys(), *chinese_calendar.workdays.keys())
)


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

    @property
    def day_end(self) -> time:
        """End of the office day (end of the last period)."""
        return self.periods[-1][1]


DEFAULT_OFFICE_HOURS = OfficeHours(
    periods=((time(8, 30), time(12, 0)), (time(14, 30), time(17, 30))),
)


@dataclass(frozen=True)
class _Notice:
    holidays: frozenset[date]
    workdays: frozenset[date]


class WorkCalendar:
    """Working days and office hours in one timezone. See the module docstring for the rules."""

    def __init__(
        self,
        *,
        tz: tzinfo,
        office_hours: OfficeHours = DEFAULT_OFFICE_HOURS,
        extra_holidays: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
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

    def is_workday(self, d: date) -> bool:
        """Whether ``d`` is a working day. An aware ``datetime`` is taken in the calendar's tz."""
        d = self._local_date(d)
        if d in self._extra_workdays:
            return True
        if d in self._extra_holidays:
            return False
        notice = self._notices.get(d.year)
        if notice is not None:
            if d in notice.workdays:
                return True
            return d.weekday() < 5 and d not in notice.holidays
        if d.year in PACKAGE_YEARS:
            try:
                return bool(chinese_calendar.is_workday(d))
            except NotImplementedError:  # pragma: no cover - PACKAGE_YEARS is read from its data
                pass
        self._report_unknown_year(d.year)
        return d.weekday() < 5

    def load_year(self, year: int, holidays: Iterable[date], workdays: Iterable[date]) -> None:
        """Import an administrator's notice for ``year`` (replaces any earlier one).

        It takes precedence over the package for that year (so it can also correct it);
        the calendar's own overrides still win.
        """
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
        self._notices[year] = _Notice(holidays=hol, workdays=work)

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


def _plain_date(d: Any, name: str) -> date:
    if isinstance(d, datetime) or not isinstance(d, date):
        raise TypeError(f"{name}: expected a date, got {d!r}")
    return d


# ----------------------------------------------------------------- notices

_NOTICE_KEYS = frozenset({"year", "holidays", "workdays"})
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_notice(text: str) -> tuple[int, list[date], list[date]]:
    """Parse and validate a holiday notice (format in the module docstring).

    Returns ``(year, holidays, workdays)`` with ranges expanded, sorted and de-duplicated.
    Raises ``ValueError`` naming the offending entry.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"notice is not valid TOML: {exc}") from exc

    unknown = sorted(set(data) - _NOTICE_KEYS)
    if unknown:
        raise ValueError(
            f"notice: unknown key(s) {', '.join(unknown)}; allowed: year, holidays, workdays"
        )
    if "year" not in data:
        raise ValueError("notice: 'year' is required")
    year = data["year"]
    if isinstance(year, bool) or not isinstance(year, int) or not 1 <= year <= 9999:
        raise ValueError(f"notice: year must be an integer like 2027, got {year!r}")
    if "holidays" not in data:
        raise ValueError("notice: 'holidays' is required")

    holidays = _expand_entries(data["holidays"], "holidays", year)
    if not holidays:
        raise ValueError("notice: 'holidays' must not be empty")
    workdays = _expand_entries(data.get("workdays", []), "workdays", year)

    for d, entry in workdays.items():
        if d in holidays:
            raise ValueError(
                f"notice: {d.isoformat()} is in both holidays (entry {holidays[d]!r}) "
                f"and workdays (entry {entry!r})"
            )
        if d.weekday() < 5:
            raise ValueError(
                f"notice: workdays entry {entry!r}: {d.isoformat()} is a "
                f"{d.strftime('%A')}; makeup working days are Saturdays or Sundays"
            )
    return year, sorted(holidays), sorted(workdays)


def _expand_entries(value: object, key: str, year: int) -> dict[date, str]:
    """Expand a list of notice entries to {date: the entry it came from}."""
    if not isinstance(value, list):
        raise ValueError(f"notice: '{key}' must be an array of dates, got {value!r}")
    out: dict[date, str] = {}
    for raw in value:
        entry = raw if isinstance(raw, str) else repr(raw)
        first, last = _parse_entry(raw, key)
        if last < first:
            raise ValueError(
                f"notice: {key} entry {entry!r}: range end is before its start "
                f"(write it as 'start..end')"
            )
        for d in (first, last):
            if d.year != year:
                raise ValueError(f"notice: {key} entry {entry!r}: {d.isoformat()} is not in {year}")
        d = first
        while d <= last:
            out.setdefault(d, entry)
            d += _ONE_DAY
    return out


def _parse_entry(raw: object, key: str) -> tuple[date, date]:
    if isinstance(raw, date) and not isinstance(raw, datetime):  # unquoted TOML date
        return raw, raw
    if not isinstance(raw, str):
        raise ValueError(
            f"notice: {key} entry {raw!r}: expected 'YYYY-MM-DD' or 'YYYY-MM-DD..YYYY-MM-DD'"
        )
    parts = raw.split("..")
    if len(parts) > 2:
        raise ValueError(f"notice: {key} entry {raw!r}: a range has exactly one '..'")
    try:
        stripped = [p.strip() for p in parts]
        if not all(_ISO_DATE.fullmatch(p) for p in stripped):
            raise ValueError(raw)
        dates = [date.fromisoformat(p) for p in stripped]
    except ValueError:
        raise ValueError(
            f"notice: {key} entry {raw!r}: expected 'YYYY-MM-DD' or 'YYYY-MM-DD..YYYY-MM-DD'"
        ) from None
    return dates[0], dates[-1]
