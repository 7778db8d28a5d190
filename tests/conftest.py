"""Shared fixtures: databases (SQLite and PostgreSQL), settings, the fake WeCom, the app.

PostgreSQL runs when ``GRIDBOT_TEST_DATABASE_URL`` is set (``.ci/run`` sets it) and is skipped
otherwise. Each test gets an empty, migrated database.
"""

from __future__ import annotations

import os
import shutil
import tomllib
from collections.abc import Iterator
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from bot.app import create_app
from bot.clock import FakeClock
from bot.config import Settings, settings_from_dict
from bot.fake_wecom import FakeWeCom
from bot.language import Language, build_language
from bot.outbox import make_sender
from bot.runtime import Runtime, build_runtime
from bot.scheduler import Jobs
from storage import db
from storage.models import Base
from tests.peer import AibotPeer, AppPeer

PG_ENV = "GRIDBOT_TEST_DATABASE_URL"
AIBOT_TOKEN = "aibotTok3n"
AIBOT_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
APP_TOKEN = "appTok3n"
APP_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
CORP_ID = "wwtestcorp0001"
START = datetime(2026, 11, 23, 9, 0)  # a Monday, Asia/Shanghai

ROSTER = """
[[people]]
userid = "ent.a"
name = "王敏"
roles = ["enterprise"]
enterprise = "甲公司"

[[people]]
userid = "ent.b"
name = "李强"
roles = ["enterprise"]
enterprise = "乙公司"

[[people]]
userid = "off.transport"
name = "刘科长"
roles = ["officer"]
department = "transport"

[[people]]
userid = "off.gas"
name = "何工"
roles = ["officer"]
department = "gas"

[[people]]
userid = "sup"
name = "马主任"
roles = ["supervisor", "dispatcher"]

[[groups]]
chatid = "chat_a"
name = "甲公司服务群"
enterprise = "甲公司"
webhook_url = "{webhook}key-a"

[[groups]]
chatid = "chat_b"
name = "乙公司服务群"
enterprise = "乙公司"
webhook_url = "{webhook}key-b"

[[groups]]
chatid = "chat_nohook"
name = "无推送地址的群"
enterprise = "乙公司"

[digest]
time = "08:30"
to_userids = ["sup"]
"""


def taxonomy() -> dict[str, Any]:
    return tomllib.loads(
        (resources.files("bot") / "demo_data" / "taxonomy.toml").read_text(encoding="utf-8")
    )


# ---------------------------------------------------------------- databases

_BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgresql: runs against PostgreSQL")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def pg_migrated() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url:
        return None
    engine = db.make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    db.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(params=_BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path, pg_migrated: str | None
) -> Iterator[Engine]:
    if request.param == "sqlite":
        path = tmp_path / "gridbot.db"
        shutil.copy(sqlite_template, path)
        eng = db.make_engine(f"sqlite:///{path}")
    else:
        if pg_migrated is None:
            pytest.skip(f"{PG_ENV} is not set")
        eng = db.make_engine(pg_migrated)
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        with eng.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield eng
    eng.dispose()


# ---------------------------------------------------------------- the app


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START, "Asia/Shanghai")


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeWeCom]:
    """The fake WeCom, its rate limiter on the test's clock."""
    with FakeWeCom(corp_id=CORP_ID, now=lambda: clock.now().timestamp()) as f:
        yield f


def make_settings(fake: FakeWeCom, db_url: str = "sqlite://", **overrides: Any) -> Settings:
    raw = taxonomy()
    raw.update(tomllib.loads(ROSTER.replace("{webhook}", fake.webhook_url(""))))
    raw.update(
        {
            "database": {"url": db_url},
            "wecom": {
                "corp_id": CORP_ID,
                "api_base_url": fake.base_url,
                "timeout_seconds": 2.0,
                "aibot": {
                    "token": AIBOT_TOKEN,
                    "encoding_aes_key": AIBOT_KEY,
                    "names": ["企业服务助手"],
                },
                "app": {
                    "token": APP_TOKEN,
                    "encoding_aes_key": APP_KEY,
                    "agent_id": 1000002,
                    "secret": fake.secret,
                },
            },
        }
    )
    raw["classifier"] = {**raw.get("classifier", {}), "cache_dir": _CLASSIFIER_CACHE[0]}
    for key, value in overrides.items():
        raw[key] = {**raw.get(key, {}), **value}
    return settings_from_dict(raw)


# the trained default models are cached in a directory of this test session only (never in the
# user's ~/.cache): set by the session fixture below, read by make_settings and, through the
# environment, by every config file a test loads
_CLASSIFIER_CACHE = [""]


@pytest.fixture(scope="session", autouse=True)
def classifier_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("classifier-cache")
    _CLASSIFIER_CACHE[0] = str(folder)
    before = os.environ.get("GRIDBOT_CLASSIFIER_CACHE_DIR")
    os.environ["GRIDBOT_CLASSIFIER_CACHE_DIR"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("GRIDBOT_CLASSIFIER_CACHE_DIR", None)
    else:
        os.environ["GRIDBOT_CLASSIFIER_CACHE_DIR"] = before


@pytest.fixture
def settings(fake: FakeWeCom) -> Settings:
    return make_settings(fake)


@pytest.fixture(scope="session")
def language() -> Language:
    """Tokenizer, trained classifier and duplicate finder of the test settings, built once."""
    with FakeWeCom(corp_id=CORP_ID) as f:
        return build_language(make_settings(f))


@pytest.fixture
def rt(settings: Settings, clock: FakeClock, engine: Engine, language: Language) -> Runtime:
    return build_runtime(settings, clock=clock, engine=engine, language=language)


@pytest.fixture
def client(rt: Runtime) -> FlaskClient:
    return create_app(runtime=rt).test_client()


@pytest.fixture
def jobs(rt: Runtime) -> Jobs:
    return Jobs(rt, make_sender(rt), holder="test")


@pytest.fixture
def aibot_peer() -> AibotPeer:
    return AibotPeer(AIBOT_TOKEN, AIBOT_KEY)


@pytest.fixture
def app_peer() -> AppPeer:
    return AppPeer(APP_TOKEN, APP_KEY, CORP_ID)
