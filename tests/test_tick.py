"""gridbot tick --now: every due job once, as of a given moment; twice changes nothing."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from bot.clock import FakeClock
from bot.config import load_settings
from bot.runtime import build_runtime
from storage import db
from storage import repositories as repo
from storage.models import OrderEvent, WorkOrder

TZ = ZoneInfo("Asia/Shanghai")
PEOPLE = """
[[people]]
userid = "off.transport"
name = "刘科长"
roles = ["officer"]
department = "transport"

[[people]]
userid = "sup"
name = "马主任"
roles = ["supervisor", "dispatcher"]

[digest]
to_userids = ["sup"]

[outbound]
mode = "console"
"""


def make_config(tmp_path: Path) -> Path:
    taxonomy = (Path(__file__).parent.parent / "bot/demo_data/taxonomy.toml").read_text("utf-8")
    config = tmp_path / "gridbot.toml"
    url = f"sqlite:///{tmp_path / 'g.db'}"
    config.write_text(f'[database]\nurl = "{url}"\n' + taxonomy + PEOPLE, encoding="utf-8")
    return config


def reminder_notes(url: str) -> list[str]:
    engine = db.make_engine(url)
    try:
        with db.transaction(db.make_sessionmaker(engine)) as s:
            rows = s.scalars(select(OrderEvent).where(OrderEvent.action == "remind"))
            return sorted(e.note for e in rows)
    finally:
        engine.dispose()


def test_tick_runs_the_due_jobs_once(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    settings = load_settings(config)
    start = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
    rt = build_runtime(settings, clock=FakeClock(start), migrate=True)
    with db.transaction(rt.sessions) as s:
        order = repo.add_order(
            s,
            WorkOrder(
                number="GD-20261123-0001",
                status="accepted",
                requester_userid="ent.x",
                text="新基地没有路给施工车辆进出",
                category_code="road_traffic",
                department_code="transport",
                created_at=start,
                dispatched_at=start,
                deadline=datetime(2026, 11, 30, 17, 30, tzinfo=TZ),
            ),
        )
        repo.add_event(
            s, order, at=start, actor="x", action="intake", from_status=None, to_status="accepted"
        )
    rt.engine.dispose()

    args = ["tick", "--now", "2026-12-01T17:30", "--config", str(config)]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "ran sweep, outbox, reminders" in first.output
    notes = reminder_notes(settings.database.url)
    assert notes == [
        "催办（resolve_due）",
        "办结提醒（resolve_warn）",
        "督办（overdue_1）",
        "首次联系提醒（contact_due）",  # accepted, and no 进展 since the dispatch
    ]
    second = CliRunner().invoke(main, args)
    assert second.exit_code == 0, second.output
    assert reminder_notes(settings.database.url) == notes


def test_tick_refuses_a_bad_moment(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["tick", "--now", "next tuesday"])
    assert result.exit_code == 2 and "ISO 8601" in result.output
