"""The scheduler: APScheduler 3 runs every job through one trampoline.

Only the process holding the database lease runs jobs, so a second ``gridbot scheduler`` (or a
``serve`` that also schedules) waits as a standby instead of running anything twice; the daily
digest and the weekly / 旬 / monthly reports additionally record their period in ``job_runs``
before they send.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from bot import inbox, outbox, reports
from bot.digest import digest_messages
from bot.outbox import Sender
from bot.reminders import reminders_job
from bot.runtime import Runtime
from handlers.notify import Notifier
from storage import db
from storage import repositories as repo

log = logging.getLogger(__name__)
LEASE = "scheduler"
REMINDERS_INTERVAL_SECONDS = 60


def digest_job(rt: Runtime, now: datetime | None = None) -> bool:
    """Send the daily digest for yesterday once per day, when its time has come."""
    now = now or rt.clock.now()
    if now.time() < rt.settings.digest.time:
        return False
    today = now.date()
    rt.reload_calendar()  # years imported since start-up count from today's report on
    with db.transaction(rt.sessions) as session:
        if not repo.claim_job_run(session, "digest", today.isoformat(), now):
            return False
        messages = digest_messages(
            session,
            day=today - timedelta(days=1),
            now=now,
            unknown_years=rt.unknown_years,
            settings=rt.settings,
            calendar=rt.calendar,
        )
        notify = Notifier(session, rt.settings, now)
        for text in messages:  # each within WeCom's 4096 bytes, broken between sections
            notify.to_users(rt.settings.digest.to_userids, text, markdown=True, purpose="digest")
    log.info("daily digest for %s queued", today - timedelta(days=1))
    return True


def due_reports(rt: Runtime, today: datetime) -> list[str]:
    """The report kinds (week, xun, month) whose period starts ``today`` and are enabled."""
    cfg = rt.settings.reports
    enabled = {reports.WEEK: cfg.weekly, reports.XUN: cfg.xun, reports.MONTH: cfg.monthly}
    return [k for k, on in enabled.items() if on and reports.starts_on(k, today.date())]


def reports_job(rt: Runtime, now: datetime | None = None) -> list[str]:
    """Send the weekly (Monday), 旬 (1st, 11th, 21st) and monthly (1st) reports for the period
    just ended, each once per period (``job_runs``), when ``[reports] time`` has come."""
    now = now or rt.clock.now()
    if now.time() < rt.settings.reports.time:
        return []
    sent = []
    for kind in due_reports(rt, now):
        period = reports.last_complete(kind, now.date())
        with db.transaction(rt.sessions) as session:
            if not repo.claim_job_run(session, f"report_{kind}", period.first.isoformat(), now):
                continue
            messages = reports.report_messages(
                session,
                rt.settings,
                rt.calendar,
                kind,
                period.first,
                now,
                rt.unknown_years,
            )
            notify = Notifier(session, rt.settings, now)
            for text in messages:
                notify.to_users(
                    rt.settings.digest.to_userids, text, markdown=True, purpose=f"report_{kind}"
                )
        log.info("%s report for %s queued", kind, period.label)
        sent.append(kind)
    return sent


class Jobs:
    """The jobs and their trampoline. One instance per scheduler process."""

    def __init__(self, rt: Runtime, sender: Sender, holder: str | None = None) -> None:
        self.rt = rt
        self.sender = sender
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.table: dict[str, Callable[[], object]] = {
            "outbox": lambda: outbox.deliver_due(rt, sender),
            "sweep": lambda: inbox.sweep(rt),
            "reminders": lambda: reminders_job(rt),
            "digest": lambda: digest_job(rt),
            "reports": lambda: reports_job(rt),
        }

    def holds_lease(self) -> bool:
        ttl = timedelta(seconds=self.rt.settings.scheduler.lease_seconds)
        with db.transaction(self.rt.sessions) as session:
            return repo.take_lease(session, LEASE, self.holder, self.rt.clock.now(), ttl)

    def run(self, name: str) -> bool:
        """The trampoline: lease check, the job, and the one error lane for jobs."""
        try:
            if not self.holds_lease():
                log.debug("job %s skipped: another scheduler holds the lease", name)
                return False
            self.table[name]()
        except Exception:
            log.exception("scheduled job %s failed", name)
            return False
        return True

    def run_all_once(self) -> list[str]:
        """Everything due, once (``gridbot tick``, ``gridbot demo``); the jobs that ran."""
        order = ("sweep", "outbox", *(n for n in self.table if n not in ("sweep", "outbox")))
        return [name for name in (*order, "outbox") if self.run(name)]

    def release(self) -> None:
        with db.transaction(self.rt.sessions) as session:
            repo.release_lease(session, LEASE, self.holder)


def build_scheduler(jobs: Jobs, *, blocking: bool) -> BaseScheduler:
    s = jobs.rt.settings
    sched: BaseScheduler = (BlockingScheduler if blocking else BackgroundScheduler)(
        timezone=s.timezone
    )
    common = {"max_instances": 1, "coalesce": True, "replace_existing": True}
    intervals = {
        "outbox": s.scheduler.outbox_interval_seconds,
        "sweep": s.scheduler.sweep_interval_seconds,
        "reminders": REMINDERS_INTERVAL_SECONDS,
    }
    for name, seconds in intervals.items():
        sched.add_job(jobs.run, "interval", args=[name], id=name, seconds=seconds, **common)
    sched.add_job(
        jobs.run,
        "cron",
        args=["digest"],
        id="digest",
        hour=s.digest.time.hour,
        minute=s.digest.time.minute,
        misfire_grace_time=3600,
        **common,
    )
    sched.add_job(
        jobs.run,
        "cron",
        args=["reports"],
        id="reports",
        hour=s.reports.time.hour,
        minute=s.reports.time.minute,
        misfire_grace_time=3600,
        **common,
    )
    return sched
