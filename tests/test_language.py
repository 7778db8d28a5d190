"""The process's language parts: one tokenizer that knows the roster and the configured words."""

from __future__ import annotations

import pytest

from bot.config import ConfigError
from bot.fake_wecom import FakeWeCom
from bot.language import build_tokenizer, load_router
from tests.conftest import make_settings


@pytest.mark.parametrize(
    ("words", "text", "whole"),
    [
        pytest.param((), "区交通运输局什么时候来看看", "区交通运输局", id="department"),
        pytest.param(("石峰工业园",), "石峰工业园三期停电了", "石峰工业园", id="park"),
        pytest.param(("田心大道",), "田心大道北段的路灯坏了", "田心大道", id="road"),
    ],
)
def test_the_tokenizer_keeps_roster_and_configured_names_whole(
    fake: FakeWeCom, words: tuple[str, ...], text: str, whole: str
) -> None:
    settings = make_settings(fake, classifier={"words": list(words)})
    assert whole in build_tokenizer(settings).tokens(text)


def test_without_the_word_jieba_would_split_it(fake: FakeWeCom) -> None:
    assert "田心大道" not in build_tokenizer(make_settings(fake)).tokens("田心大道北段的路灯坏了")


def test_a_missing_model_file_is_a_config_error(fake: FakeWeCom, tmp_path: object) -> None:
    tokenizer = build_tokenizer(make_settings(fake))
    with pytest.raises(ConfigError, match=r"classifier\.model: .*no such model file"):
        load_router(f"{tmp_path}/missing.gbm", tokenizer)
