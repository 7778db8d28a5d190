"""The command line: a real ``gridbot serve`` process, ``db upgrade``, and bad configs."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import inspect

from bot.cli import main
from bot.fake_wecom import FakeWeCom
from storage.db import make_engine
from tests.conftest import AIBOT_KEY, AIBOT_TOKEN
from tests.peer import AibotPeer, aibot_text

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gridbot() -> list[str]:
    exe = shutil.which("gridbot", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "bot.cli"]


@pytest.fixture
def served(tmp_path: Path, fake: FakeWeCom) -> Iterator[tuple[str, Path]]:
    port = free_port()
    example = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(
        example.replace('url = "sqlite:///gridbot.db"', f'url = "sqlite:///{tmp_path}/g.db"')
        .replace("port = 8080", f"port = {port}")
        .replace(
            'api_base_url = "https://qyapi.weixin.qq.com/cgi-bin/"',
            f'api_base_url = "{fake.base_url}"',
        ),
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "GRIDBOT_WECOM_AIBOT_TOKEN": AIBOT_TOKEN,
        "GRIDBOT_WECOM_AIBOT_ENCODING_AES_KEY": AIBOT_KEY,
    }
    proc = subprocess.Popen(
        [*gridbot(), "serve", "--config", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # a first start trains the classifier for this config (tens of seconds on a busy
        # machine); the kernel and the encoder vectors come from the session's cache
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("gridbot serve did not come up")
                time.sleep(0.1)
        yield url, tmp_path
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        (tmp_path / "serve.log").write_bytes(out)


def test_serve_migrates_sqlite_and_answers_real_callbacks(served: tuple[str, Path]) -> None:
    url, folder = served
    peer = AibotPeer(AIBOT_TOKEN, AIBOT_KEY)
    now = int(time.time())
    r = requests.get(url + "/wecom/aibot", params=peer.verify_query("42", now, "n"), timeout=5)
    assert (r.status_code, r.text) == (200, "42")
    query, body = peer.encrypt_callback(
        aibot_text("cli-1", "someone", "@企业服务助手\u2005燃气管道还没接通，麻烦尽快协调", "chat"),
        now,
        "n2",
    )
    r = requests.post(url + "/wecom/aibot", params=query, data=body, timeout=5)
    assert (r.status_code, r.text) == (200, "")
    r = requests.post(url + "/wecom/aibot", params=query, data=b"x" * 70_000, timeout=5)
    assert r.status_code == 413
    engine = make_engine(f"sqlite:///{folder}/g.db")
    assert {"work_orders", "inbound_messages", "outbox"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_db_upgrade(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["db", "upgrade"],
        env={"GRIDBOT_DATABASE_URL": f"sqlite:///{tmp_path}/u.db", "GRIDBOT_CONFIG": ""},
    )
    assert result.exit_code == 0, result.output
    engine = make_engine(f"sqlite:///{tmp_path}/u.db")
    assert "alembic_version" in inspect(engine).get_table_names()
    engine.dispose()


def test_a_bad_config_stops_start_up_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[server]\nport = "http"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["serve", "--config", str(config)])
    assert result.exit_code != 0
    assert "server.port" in result.output
    assert "Traceback" not in result.output


def test_demo_runs_and_prints_the_transcripts(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["demo", "--workdir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.count("==== 群聊：") == 5
    assert "【受理】" in out and "【办结回执】" in out and "企业诉求日报" in out
    assert "未重复登记" in out and "发件箱：待发 0 条，放弃 0 条" in out
    assert "【已并入】" in out and "【待派单】" in out and "/派单 GD-" in out
    # the compressed week
    for mark in ("【签收提醒】", "【签收催办】", "【督办】", "【延期】", "【转派】", "【重办】"):
        assert mark in out, mark
    assert "退单 1 次" in out and "## 企业诉求周报 2026-11-23至2026-11-29" in out
