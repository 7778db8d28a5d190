"""Storage on both databases: migrations, order numbers, inbox dedupe, leases, job runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from storage import db
from storage import repositories as repo
from storage.models import Base

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_order_numbers_count_per_day(engine: Engine) -> None:
    sessions = db.make_sessionmaker(engine)
    with db.transaction(sessions) as s:
        numbers = [repo.next_order_number(s, "20261123") for _ in range(3)]
        other = repo.next_order_number(s, "20261124")
    assert numbers == ["GD-20261123-0001", "GD-20261123-0002", "GD-20261123-0003"]
    assert other == "GD-20261124-0001"
    with db.transaction(sessions) as s:  # survives commits
        assert repo.next_order_number(s, "20261123") == "GD-20261123-0004"


def test_inbound_is_unique_per_channel_and_msgid(engine: Engine) -> None:
    sessions = db.make_sessionmaker(engine)
    kw = dict(sender="u", chatid=None, payload={"a": 1}, now=NOW)
    with db.transaction(sessions) as s:
        first = repo.store_inbound(s, channel="aibot", msgid="m1", **kw)
    with db.transaction(sessions) as s:
        again = repo.store_inbound(s, channel="aibot", msgid="m1", **kw)
        other_channel = repo.store_inbound(s, channel="app", msgid="m1", **kw)
    assert first is not None
    assert again is None
    assert other_channel is not None
    assert other_channel != first


def test_lease_is_held_by_one_holder_until_it_expires(engine: Engine) -> None:
    sessions = db.make_sessionmaker(engine)
    ttl = timedelta(seconds=60)
    with db.transaction(sessions) as s:
        assert repo.take_lease(s, "scheduler", "a", NOW, ttl)
    with db.transaction(sessions) as s:
        assert not repo.take_lease(s, "scheduler", "b", NOW + timedelta(seconds=30), ttl)
        assert repo.take_lease(s, "scheduler", "a", NOW + timedelta(seconds=30), ttl)  # renew
    with db.transaction(sessions) as s:
        assert not repo.take_lease(s, "scheduler", "b", NOW + timedelta(seconds=80), ttl)
        assert repo.take_lease(s, "scheduler", "b", NOW + timedelta(seconds=91), ttl)
    with db.transaction(sessions) as s:
        repo.release_lease(s, "scheduler", "b")
        assert repo.take_lease(s, "scheduler", "a", NOW + timedelta(seconds=92), ttl)


def test_job_run_is_claimed_once_per_period(engine: Engine) -> None:
    sessions = db.make_sessionmaker(engine)
    with db.transaction(sessions) as s:
        assert repo.claim_job_run(s, "digest", "2026-11-23", NOW)
    with db.transaction(sessions) as s:
        assert not repo.claim_job_run(s, "digest", "2026-11-23", NOW)
        assert repo.claim_job_run(s, "digest", "2026-11-24", NOW)


def test_sqlite_uses_wal_and_a_busy_timeout(tmp_path: object) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path}/x.db")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    engine.dispose()
