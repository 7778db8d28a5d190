"""Work-order deadlines per category: 签收, first contact with the enterprise, 办结.

Pure functions over the settings and a :class:`~bot.workcal.WorkCalendar`; the work-order
code calls them with the moment the clock starts (dispatch). What each category allows is set
on its ``[[categories]]`` table (see ``config.example.toml``):

* 签收 (accept): ``accept_hours`` working hours (default 2), or clock hours for an
  ``urgent`` category, which is handled round the clock;
* first contact: ``contact_hours`` clock hours or ``contact_days`` working days; none when
  neither is set (an enquiry's answer is its contact);
* 办结 (resolve): ``limit_hours`` clock hours or ``limit_days`` working days; an urgent
  category without a limit gets 24 hours, any other category ``[intake] default_limit_days``.
  Working days count from the next working day unless ``start_next_day = false``; the
  deadline is the end of the office day. ``extensions`` approved extensions (延期) each add the
  same limit again.

No deadline is ever later than the 办结 deadline: 签收 and first contact are capped at it.
Results are aware datetimes in the calendar's timezone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, tzinfo

from bot.config import Category, Settings
from bot.workcal import NoticeDay, WorkCalendar

__all__ = [
    "URGENT_LIMIT_HOURS",
    "accept_deadline",
    "build_calendar",
    "contact_deadline",
    "extended_deadline",
    "resolve_deadline",
]

#: 办结 limit of an urgent category that sets no limit of its own (practice.md §3).
URGENT_LIMIT_HOURS = 24


def _category(settings: Settings, category_code: str | None) -> Category | None:
    return settings.category(category_code) if category_code else None


def resolve_deadline(
    settings: Settings, calendar: WorkCalendar, category_code: str | None, start: datetime
) -> datetime:
    """办结 deadline for an order of ``category_code`` whose clock starts at ``start``.

    An unknown or missing category gets ``[intake] default_limit_days`` working days.
    """
    cat = _category(settings, category_code)
    local = _local(calendar, start)
    if cat is not None and cat.limit_hours is not None:
        return local + timedelta(hours=cat.limit_hours)
    if cat is not None and cat.urgent and cat.limit_days is None:
        return local + timedelta(hours=URGENT_LIMIT_HOURS)
    days = cat.limit_days if cat is not None and cat.limit_days else None
    return calendar.add_working_days(
        local,
        days or settings.intake.default_limit_days,
        start_next_day=cat.start_next_day if cat is not None else True,
    )


def accept_deadline(
    settings: Settings, calendar: WorkCalendar, category_code: str | None, start: datetime
) -> datetime:
    """签收 deadline: ``accept_hours`` working hours after ``start`` (clock hours if urgent).

    Friday 17:00 plus 2 working hours is Monday 10:00 with the default office hours.
    """
    cat = _category(settings, category_code)
    hours = cat.accept_hours if cat is not None else Category.accept_hours
    local = _local(calendar, start)
    if cat is not None and cat.urgent:
        due = local + timedelta(hours=hours)
    else:
        due = calendar.add_working_hours(local, hours)
    return min(due, resolve_deadline(settings, calendar, category_code, start))


def contact_deadline(
    settings: Settings, calendar: WorkCalendar, category_code: str | None, start: datetime
) -> datetime | None:
    """First contact with the enterprise, or ``None`` when the category sets no such limit."""
    cat = _category(settings, category_code)
    if cat is None or (cat.contact_hours is None and cat.contact_days is None):
        return None
    local = _local(calendar, start)
    if cat.contact_hours is not None:
        due = local + timedelta(hours=cat.contact_hours)
    else:
        assert cat.contact_days is not None
        due = calendar.add_working_days(local, cat.contact_days, start_next_day=cat.start_next_day)
    return min(due, resolve_deadline(settings, calendar, category_code, start))


def extended_deadline(
    settings: Settings,
    calendar: WorkCalendar,
    category_code: str | None,
    deadline: datetime,
    *,
    used: int,
) -> datetime:
    """The 办结 deadline after one more approved extension (延期) of ``deadline``.

    ``used`` is how many extensions the order already had. Each extension adds the category's
    limit again, counted from the current deadline. ``ValueError`` if none is left.
    """
    cat = _category(settings, category_code)
    allowed = cat.extensions if cat is not None else 0
    if used >= allowed:
        name = cat.name if cat is not None else "未分类工单"
        raise ValueError(f"「{name}」最多可延期 {allowed} 次，已延期 {used} 次")
    local = _local(calendar, deadline)
    if cat is not None and cat.limit_hours is not None:
        return local + timedelta(hours=cat.limit_hours)
    if cat is not None and cat.urgent and cat.limit_days is None:
        return local + timedelta(hours=URGENT_LIMIT_HOURS)
    days = cat.limit_days if cat is not None and cat.limit_days else None
    # The deadline is the end of an office day: the extension counts from the next day.
    return calendar.add_working_days(local, days or settings.intake.default_limit_days)


def build_calendar(
    settings: Settings,
    tz: tzinfo,
    *,
    imported: Iterable[NoticeDay] = (),
    on_unknown_year: Callable[[int], None] | None = None,
) -> WorkCalendar:
    """The working calendar of ``settings``: office hours and ``[calendar]`` overrides, plus the
    imported notices (``storage.repositories.calendar_notice_days``)."""
    cal = settings.calendar
    return WorkCalendar(
        tz=tz,
        office_hours=cal.office_hours,
        extra_holidays=cal.holidays,
        extra_workdays=cal.workdays,
        imported=imported,
        on_unknown_year=on_unknown_year,
    )


def _local(calendar: WorkCalendar, moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"start must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(calendar.tz)
