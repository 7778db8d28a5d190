"""``gridbot calendar import`` / ``show``: a year's holiday notice stored in the database, seen
by every process's calendar; bad files refused with the line and key named."""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from bot.cli import main
from bot.config import settings_from_dict
from bot.runtime import Runtime
from bot.workcal import NoticeDay
from handlers.deadlines import build_calendar, resolve_deadline
from storage import db
from storage import repositories as repo
from tests.conftest import taxonomy

TZ = ZoneInfo("Asia/Shanghai")

NOTICE_2027 = """\
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
"""


def end_of_day(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 17, 30, tzinfo=TZ)


@pytest.fixture
def config(tmp_path: Path, engine: Engine) -> Path:
    url = engine.url.render_as_string(hide_password=False)
    path = tmp_path / "config.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\n\n[calendar]\nholidays = ["2027-03-01"]\n', encoding="utf-8"
    )
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def write(tmp_path: Path, text: str, name: str = "2027.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def imported(engine: Engine) -> list[tuple[date, str, str, str]]:
    with db.transaction(db.make_sessionmaker(engine)) as session:
        return [(d.day, d.kind, d.name, d.source) for d in repo.calendar_notice_days(session)]


def test_import_changes_deadlines_for_every_process(
    tmp_path: Path, config: Path, engine: Engine
) -> None:
    settings = settings_from_dict(taxonomy())
    start = datetime(2026, 12, 28, 10, tzinfo=TZ)  # Monday
    before = build_calendar(settings, TZ)
    assert resolve_deadline(settings, before, "construction", start) == end_of_day(2027, 1, 4)

    result = run("calendar", "import", str(write(tmp_path, NOTICE_2027)), "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "imported 2027: 11 days off, 1 makeup working days" in result.output
    assert "国办发明电〔2026〕X号" in result.output

    rows = imported(engine)
    assert len(rows) == 12
    assert (date(2027, 2, 14), "workday", "春节", "国办发明电〔2026〕X号") in rows

    # another process builds its calendar from the table
    with db.transaction(db.make_sessionmaker(engine)) as session:
        after = build_calendar(settings, TZ, imported=repo.calendar_notice_days(session))
    assert after.known_year(2027)
    assert resolve_deadline(settings, after, "construction", start) == end_of_day(2027, 1, 5)
    # a running process reloads
    before.replace_imported(repo_days(engine))
    assert resolve_deadline(settings, before, "construction", start) == end_of_day(2027, 1, 5)


def repo_days(engine: Engine) -> list[NoticeDay]:
    with db.transaction(db.make_sessionmaker(engine)) as session:
        return repo.calendar_notice_days(session)


def test_show_unknown_then_imported_year(tmp_path: Path, config: Path) -> None:
    result = run("calendar", "show", "2027", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "2027: neither chinesecalendar nor an imported notice knows this year" in result.output
    assert "2027-03-01 周一  休息 day off  -  [config]" in result.output

    result = run("calendar", "import", str(write(tmp_path, NOTICE_2027)), "--config", str(config))
    assert result.exit_code == 0, result.output
    result = run("calendar", "show", "2027", "--config", str(config))
    assert "neither" not in result.output
    assert (
        "2027-02-14 周日  上班 workday   春节  [imported: 国办发明电〔2026〕X号]" in result.output
    )
    assert "2027-02-08 周一  休息 day off  春节  [imported: 国办发明电〔2026〕X号]" in result.output
    assert "2027-03-01 周一  休息 day off  -  [config]" in result.output


def test_show_a_package_year(config: Path) -> None:
    result = run("calendar", "show", "2026", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert (
        "2026-02-14 周六  上班 workday   春节 Spring Festival  [chinesecalendar]" in result.output
    )
    assert "2026-10-07 周三  休息 day off  国庆节 National Day  [chinesecalendar]" in result.output
    assert "2026-10-10 周六  上班 workday   国庆节 National Day  [chinesecalendar]" in result.output


def test_reimport_replaces_the_year(tmp_path: Path, config: Path, engine: Engine) -> None:
    run("calendar", "import", str(write(tmp_path, NOTICE_2027)), "--config", str(config))
    second = write(tmp_path, 'year = 2027\nholidays = ["2027-01-01"]\n', "fix.toml")
    result = run("calendar", "import", str(second), "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "replaced the 12 days imported before" in result.output
    assert imported(engine) == [(date(2027, 1, 1), "holiday", "", "fix.toml")]


def test_import_of_a_package_year_overrides_it(tmp_path: Path, config: Path) -> None:
    text = 'year = 2026\nholidays = [{ name = "区庆", days = "2026-03-02" }]\n'
    result = run(
        "calendar", "import", str(write(tmp_path, text, "2026.toml")), "--config", str(config)
    )
    assert result.exit_code == 0, result.output
    assert "chinesecalendar knows 2026; this import overrides it" in result.output
    shown = run("calendar", "show", "2026", "--config", str(config)).output
    assert "2026-03-02 周一  休息 day off  区庆  [imported: 2026.toml]" in shown
    assert "Spring Festival" not in shown


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            NOTICE_2027.replace("2027-02-13", "2027-02-31"),
            "line 11: notice: holidays[1].days entry '2027-02-06..2027-02-31': expected",
            id="no-such-date",
        ),
        pytest.param(
            NOTICE_2027.replace('name = "春节"', 'title = "春节"'),
            "line 10: notice: holidays[1]: unknown key(s) title",
            id="unknown-key",
        ),
        pytest.param(
            NOTICE_2027.replace('workdays = ["2027-02-14"]', 'workdays = ["2027-02-15"]'),
            "line 12: notice: workdays entry '2027-02-15': 2027-02-15 is a Monday",
            id="makeup-on-a-weekday",
        ),
        pytest.param(
            NOTICE_2027.replace("year = 2027", "year = 2028"),
            "line 7: notice: holidays[0].days entry '2027-01-01..2027-01-03': "
            "2027-01-01 is not in 2028",
            id="wrong-year",
        ),
        pytest.param(
            NOTICE_2027.replace('days = "2027-01-01..2027-01-03"', "days = 2027-01-01..03"),
            "not valid TOML",
            id="not-toml",
        ),
        pytest.param("year = 2027\n", "notice: 'holidays' is required", id="no-holidays"),
    ],
)
def test_bad_files_are_refused(
    tmp_path: Path, config: Path, engine: Engine, text: str, message: str
) -> None:
    result = run("calendar", "import", str(write(tmp_path, text)), "--config", str(config))
    assert result.exit_code == 1
    assert message in result.output
    assert "2027.toml" in result.output
    assert imported(engine) == []


def test_not_utf8_is_refused(tmp_path: Path, config: Path) -> None:
    path = tmp_path / "gbk.toml"
    path.write_bytes(
        'year = 2027\nholidays = [{ name = "春节", days = "2027-02-06" }]\n'.encode("gbk")
    )
    result = run("calendar", "import", str(path), "--config", str(config))
    assert result.exit_code == 1
    assert "not UTF-8 text" in result.output


def test_runtime_logs_and_reports_an_unknown_year(
    rt: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    start = datetime(2026, 12, 28, 10, tzinfo=TZ)
    with caplog.at_level(logging.WARNING, logger="bot.runtime"):
        due = resolve_deadline(rt.settings, rt.calendar, "construction", start)
    assert due == end_of_day(2027, 1, 4)  # Monday to Friday: New Year's Day counts
    assert "does not know 2027" in caplog.text
    assert rt.unknown_years == {2027}
    assert rt.calendar.missing_years(date(2026, 11, 23)) == [2027]
