"""The long-lived parts of one gridbot process, built once by ``build_runtime``."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.digest import todays_digest
from bot.language import Language, build_language
from bot.wecom.crypto import CallbackCrypto
from bot.workcal import WorkCalendar
from handlers import register_all
from handlers.context import Context
from handlers.deadlines import build_calendar
from handlers.dispatch import Dispatcher
from handlers.notify import Notifier
from storage import db
from storage import repositories as repo

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    engine: Engine
    sessions: sessionmaker[Session]
    dispatcher: Dispatcher
    language: Language
    calendar: WorkCalendar
    aibot_crypto: CallbackCrypto | None
    app_crypto: CallbackCrypto | None
    unknown_years: set[int] = field(default_factory=set)

    def reload_calendar(self) -> None:
        """Pick up years imported since start-up (``gridbot calendar import``)."""
        with db.transaction(self.sessions) as session:
            self.calendar.replace_imported(repo.calendar_notice_days(session))

    def context(
        self, session: Session, *, message_id: int | None = None, now: datetime | None = None
    ) -> Context:
        now = now or self.clock.now()
        return Context(
            session=session,
            settings=self.settings,
            clock=self.clock,
            calendar=self.calendar,
            classifier=self.language.classifier,
            duplicates=self.language.duplicates,
            notify=Notifier(session, self.settings, now),
            message_id=message_id,
        )


def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
    migrate: bool = False,
    sync: bool = True,
    language: Language | None = None,
) -> Runtime:
    """Build everything once. ``migrate`` applies the Alembic migrations first; ``language``
    (tokenizer, classifier, duplicate finder) is built from ``settings`` unless given."""
    clock = clock or SystemClock(settings.timezone)
    engine = engine or db.make_engine(settings.database.url)
    if migrate:
        db.upgrade(engine)
    sessions = db.make_sessionmaker(engine)
    if sync:
        with db.transaction(sessions) as session:
            repo.sync_roster(session, settings)
    unknown: set[int] = set()

    def on_unknown_year(year: int) -> None:
        unknown.add(year)
        log.warning(
            "the holiday calendar does not know %d: counting Monday-Friday only "
            "until that year's notice is imported",
            year,
        )

    imported = []
    if sync:  # the database is there: the years an administrator imported
        with db.transaction(sessions) as session:
            imported = repo.calendar_notice_days(session)
    calendar = build_calendar(
        settings, clock.tz, imported=imported, on_unknown_year=on_unknown_year
    )
    wc = settings.wecom

    def now_ts() -> float:
        return clock.now().timestamp()

    aibot = (
        CallbackCrypto(
            wc.aibot.token, wc.aibot.encoding_aes_key, "", now=now_ts, max_skew=wc.max_skew_seconds
        )
        if wc.aibot.configured
        else None
    )
    app = (
        CallbackCrypto(
            wc.app.token,
            wc.app.encoding_aes_key,
            wc.corp_id,
            now=now_ts,
            max_skew=wc.max_skew_seconds,
        )
        if wc.app.configured
        else None
    )
    return Runtime(
        settings=settings,
        clock=clock,
        engine=engine,
        sessions=sessions,
        dispatcher=register_all(Dispatcher(), daily_report=todays_digest),
        language=language or build_language(settings),
        calendar=calendar,
        aibot_crypto=aibot,
        app_crypto=app,
        unknown_years=unknown,
    )
