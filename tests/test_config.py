"""Config loading: the example file loads, env overrides secrets, bad values name the key."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from bot.config import ConfigError, load_settings, settings_from_dict
from tests.conftest import taxonomy

ROOT = Path(__file__).resolve().parent.parent
GOOD_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"


def test_example_config_loads_with_the_default_taxonomy() -> None:
    s = load_settings(ROOT / "config.example.toml", env={})
    assert len([c for c in s.categories if not c.catch_all]) >= 10
    assert s.catch_all.department == "service_center"
    assert s.digest.time.hour == 8
    assert s.digest.time.minute == 30
    assert s.server.port == 8080
    assert s.database.url.startswith("sqlite:")


def test_example_config_and_packaged_taxonomy_agree() -> None:
    example = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    packaged = taxonomy()
    assert example["departments"] == packaged["departments"]
    assert example["categories"] == packaged["categories"]


def test_environment_overrides_secrets(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[wecom]\ncorp_id = "ww1"\n', encoding="utf-8")
    env = {
        "GRIDBOT_WECOM_APP_SECRET": "s3cret",
        "GRIDBOT_WECOM_APP_TOKEN": "tok",
        "GRIDBOT_WECOM_APP_ENCODING_AES_KEY": GOOD_KEY,
        "GRIDBOT_WECOM_APP_AGENT_ID": "1000002",
        "GRIDBOT_DATABASE_URL": "postgresql://u@h/db",
    }
    s = load_settings(path, env=env)
    assert s.wecom.app.secret == "s3cret"
    assert s.wecom.app.agent_id == 1000002
    assert s.database.url == "postgresql://u@h/db"
    assert s.wecom.app.configured


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[server]\nport = 9999\n", encoding="utf-8")
    assert load_settings(env={"GRIDBOT_CONFIG": str(path)}).server.port == 9999


def _with(**tables: Any) -> dict[str, Any]:
    raw = taxonomy()
    raw.update(tables)
    return raw


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        pytest.param({"server": {"port": "eighty"}}, "server.port", id="port-not-int"),
        pytest.param(
            {"wecom": {"aibot": {"token": "t", "encoding_aes_key": "short"}}},
            "wecom.aibot.encoding_aes_key",
            id="bad-aes-key",
        ),
        pytest.param({"wecom": {"aibot": {"token": "t"}}}, "wecom.aibot", id="token-without-key"),
        pytest.param(
            {"wecom": {"app": {"token": "t", "encoding_aes_key": GOOD_KEY}}},
            "wecom.corp_id",
            id="app-without-corp",
        ),
        pytest.param(
            {"people": [{"userid": "u", "name": "n", "roles": ["boss"]}]},
            "people[0].roles",
            id="unknown-role",
        ),
        pytest.param(
            {"people": [{"userid": "u", "name": "n", "roles": ["officer"]}]},
            "people[0].department",
            id="officer-without-department",
        ),
        pytest.param(
            {"people": [{"userid": "u", "name": "n", "roles": ["officer"], "department": "nope"}]},
            "people[0].department",
            id="unknown-dept",
        ),
        pytest.param({"digest": {"time": "25:00"}}, "digest.time", id="bad-time"),
        pytest.param({"timezone": "Mars/Base"}, "timezone", id="bad-timezone"),
        pytest.param(
            {"groups": [{"chatid": "c", "name": "g", "webhook_url": "ftp://x"}]},
            "groups[0].webhook_url",
            id="bad-webhook",
        ),
        pytest.param({"outbound": {"mode": "pigeon"}}, "outbound.mode", id="bad-mode"),
        pytest.param(
            {"groups": [{"chatid": "c", "name": "g", "webhook_ur1": "https://x"}]},
            "groups[0].webhook_ur1",
            id="typo-in-a-key",
        ),
        pytest.param({"servr": {"port": 1}}, "servr", id="unknown-table"),
    ],
)
def test_bad_values_name_the_key(raw: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        settings_from_dict(_with(**raw))


def test_category_with_unknown_department_is_refused() -> None:
    raw = taxonomy()
    raw["categories"][0]["department"] = "nowhere"
    with pytest.raises(ConfigError, match=r"categories\[0\]\.department"):
        settings_from_dict(raw)


def test_secret_values_never_appear_in_errors() -> None:
    secret_key = "x" * 42 + "!"
    with pytest.raises(ConfigError) as info:
        settings_from_dict({"wecom": {"aibot": {"token": "t", "encoding_aes_key": secret_key}}})
    assert secret_key not in str(info.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml", env={})
