"""The scheduler: APScheduler 3 runs every job through one trampoline.

Only the process holding the database lease runs jobs, so a second ``gridbot scheduler`` (or a
``serve`` that also schedules) waits as a standby instead of running anything twice; the daily
digest additionally records its date in ``job_runs`` before it sends.
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

from bot import inbox, outbox
from bot.digest import build_digest
from bot.outbox import Sender
from bot.runtime import Runtime
from handlers.notify import Notifier
from storage import db
from storage import repositories as repo

log = logging.getLogger(__name__)
LEASE = "scheduler"


def digest_job(rt: Runtime, now: datetime | None = None) -> bool:
    """Send the daily digest for yesterday once per day, when its time has come."""
    now = now or rt.clock.now()
    if now.time() < rt.settings.digest.time:
        return False
    today = now.date()
    with db.transaction(rt.sessions) as session:
        if not repo.claim_job_run(session, "digest", today.isoformat(), now):
            return False
        text = build_digest(
            session, day=today - timedelta(days=1), now=now, unknown_years=rt.unknown_years
        )
        Notifier(session, rt.settings, now).to_users(
            rt.settings.digest.to_userids, text, markdown=True, purpose="digest"
        )
    log.info("daily digest for %s queued", today - timedelta(days=1))
    return True


class Jobs:
    """The jobs and their trampoline. One instance per scheduler process."""

    def __init__(self, rt: Runtime, sender: Sender, holder: str | None = None) -> None:
        self.rt = rt
        self.sender = sender
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.table: dict[str, Callable[[], object]] = {
            "outbox": lambda: outbox.deliver_due(rt, sender),
            "sweep": lambda: inbox.sweep(rt),
            "digest": lambda: digest_job(rt),
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

    def run_all_once(self) -> None:
        """Everything due, once (``gridbot demo``, operations)."""
        for name in ("sweep", "outbox", "digest", "outbox"):
            self.run(name)

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
    return sched
