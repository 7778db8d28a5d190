"""The supervisors' daily report (日报): ``day``'s figures, the cumulative ones, the department
ranking, the overdue orders. Built by :mod:`bot.reports`, where the definitions live."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy.orm import Session

from bot import reports
from bot.config import Settings
from bot.workcal import WorkCalendar
from handlers.context import Context


def digest_messages(
    session: Session,
    *,
    day: date,
    now: datetime,
    unknown_years: Iterable[int] | None = None,
    settings: Settings | None = None,
    calendar: WorkCalendar | None = None,
) -> list[str]:
    """The daily report for ``day`` as markdown messages of at most 4096 bytes each.

    Without ``settings`` the default weights apply; without ``calendar`` the default working
    calendar with the notices imported into the database is used.
    """
    settings = settings or Settings()
    if calendar is None:
        assert now.tzinfo is not None
        calendar = reports.default_calendar(session, settings, now.tzinfo)
    return reports.report_messages(
        session, settings, calendar, reports.DAY, day, now, unknown_years
    )


def todays_digest(ctx: Context) -> str:
    """Today's 日报 as of the context's clock, for the supervisors' /日报 command."""
    now = ctx.clock.now().astimezone(ctx.clock.tz)
    return build_digest(
        ctx.session, day=now.date(), now=now, settings=ctx.settings, calendar=ctx.calendar
    )


def build_digest(
    session: Session,
    *,
    day: date,
    now: datetime,
    unknown_years: Iterable[int] | None = None,
    settings: Settings | None = None,
    calendar: WorkCalendar | None = None,
) -> str:
    """Markdown for ``day`` (its own figures) and cumulative figures as of ``now``: the
    messages of :func:`digest_messages`, separated by blank lines."""
    return "\n\n".join(
        digest_messages(
            session,
            day=day,
            now=now,
            unknown_years=unknown_years,
            settings=settings,
            calendar=calendar,
        )
    )
