"""The on-disk cache of the default classifier's trained models (``nlp.cache``)."""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import pytest

from bot.config import settings_from_dict
from bot.language import demo_taxonomy_rules
from nlp import cache, trained
from nlp.cache import cache_key
from nlp.decision import CategoryRule
from nlp.tokenizer import Tokenizer
from nlp.trained import TrainedClassifier, build_default
from tests.test_nlp_model import (
    detection_lines,
    routing_lines,
    split_rows,
    write_tsv,
)

TEXTS = [
    "@企业服务助手 厂区门口道路坑洼，能否帮忙处理？",
    "好的谢谢👍",
    "燃气管道什么时候能接到我们研发楼",
    "我们这边也停水了，整条路都停",
]


@pytest.fixture(scope="module")
def rules() -> list[CategoryRule]:
    return demo_taxonomy_rules()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    write_tsv(folder / "detection.tsv", split_rows(detection_lines(200, seed=21)))
    write_tsv(folder / "routing.tsv", split_rows(routing_lines(12, seed=22)))
    return folder


def decisions(clf: TrainedClassifier) -> list[tuple[object, ...]]:
    out = []
    for text in TEXTS:
        d = clf.classify(text)
        out.append((d.is_request, d.request_score, d.category, d.confidence, d.top3))
    return out


class Counting:
    """Counts calls of the two trainers of ``nlp.trained`` (still training for real)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        for name in ("train_detector", "train_router"):
            real = getattr(trained, name)

            def counted(*args: object, _real=real, **kwargs: object) -> object:  # type: ignore[no-untyped-def]
                self.calls += 1
                return _real(*args, **kwargs)

            monkeypatch.setattr(trained, name, counted)


def test_second_build_loads_the_cached_models(
    tmp_path: Path, corpus: Path, rules: list[CategoryRule], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    first = build_default(rules, Tokenizer(), corpus, cache_dir=cache)
    assert sorted(p.name.rsplit("-", 1)[1] for p in cache.glob("*.gbm")) == [
        "detector.gbm",
        "router.gbm",
    ]
    assert len(list(cache.glob("kernel-*.npz"))) == 1  # the detector's SVM, kept apart
    counting = Counting(monkeypatch)
    second = build_default(rules, Tokenizer(), corpus, cache_dir=cache)
    assert counting.calls == 0  # nothing trained
    assert second.detector is not None and second.router is not None
    assert second.detector.blend == first.detector.blend  # type: ignore[union-attr]
    assert decisions(second) == decisions(first)  # bit for bit the same answers


def test_without_a_cache_dir_it_always_trains(
    tmp_path: Path, corpus: Path, rules: list[CategoryRule], monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = Counting(monkeypatch)
    build_default(rules, Tokenizer(), corpus)
    build_default(rules, Tokenizer(), corpus, cache_dir=None)
    assert counting.calls == 4
    assert not (tmp_path / "cache").exists()


def test_a_changed_corpus_category_or_vocabulary_trains_again(
    tmp_path: Path, corpus: Path, rules: list[CategoryRule], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    build_default(rules, Tokenizer(), corpus, cache_dir=cache)
    counting = Counting(monkeypatch)
    with (corpus / "detection.tsv").open("a", encoding="utf-8") as f:
        f.write("train\trequest\t滨河路的路灯坏了一周了\n")
    build_default(rules, Tokenizer(), corpus, cache_dir=cache)
    assert counting.calls == 2
    renamed = [dataclasses.replace(rules[0], keywords=(*rules[0].keywords, "新关键词"))]
    build_default(renamed + rules[1:], Tokenizer(), corpus, cache_dir=cache)
    assert counting.calls == 4
    build_default(rules, Tokenizer(["云栖科技园"]), corpus, cache_dir=cache)
    assert counting.calls == 6
    build_default(rules, Tokenizer(), corpus, cache_dir=cache)  # the first state again
    assert counting.calls == 6
    assert len(list(cache.glob("*.gbm"))) == 2 * 4
    # the SVM depends on the corpus only: refitted for the new line, not for the rest
    assert len(list(cache.glob("kernel-*.npz"))) == 2


def test_cache_key_is_stable_and_sensitive(corpus: Path, rules: list[CategoryRule]) -> None:
    files = [corpus / "detection.tsv", corpus / "routing.tsv"]
    key = cache_key(rules, Tokenizer(), files)
    assert key == cache_key(rules, Tokenizer(), files)
    assert key != cache_key(rules[:-1], Tokenizer(), files)
    assert key != cache_key(rules, Tokenizer(hmm=True), files)
    assert key != cache_key(rules, Tokenizer(), files[:1])


def test_a_damaged_cache_file_is_trained_again_and_replaced(
    tmp_path: Path,
    corpus: Path,
    rules: list[CategoryRule],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = tmp_path / "cache"
    first = build_default(rules, Tokenizer(), corpus, cache_dir=cache)
    detector_file = next(cache.glob("*-detector.gbm"))
    detector_file.write_bytes(b"PK\x03\x04 not a model")
    counting = Counting(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="nlp.cache"):
        again = build_default(rules, Tokenizer(), corpus, cache_dir=cache)
    assert counting.calls == 2
    assert "unusable" in caplog.text and "training again" in caplog.text
    assert decisions(again) == decisions(first)
    counting.calls = 0
    build_default(rules, Tokenizer(), corpus, cache_dir=cache)  # the rewritten file loads
    assert counting.calls == 0


def test_a_cache_dir_that_cannot_be_written_only_costs_time(
    tmp_path: Path, corpus: Path, rules: list[CategoryRule], caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    with caplog.at_level(logging.WARNING, logger="nlp.cache"):
        clf = build_default(rules, Tokenizer(), corpus, cache_dir=blocker / "cache")
    assert clf.detector is not None and clf.router is not None
    assert "cannot write" in caplog.text


def test_a_corpus_without_routing_lines_caches_the_detector_only(
    tmp_path: Path, corpus: Path, rules: list[CategoryRule], monkeypatch: pytest.MonkeyPatch
) -> None:
    (corpus / "routing.tsv").unlink()
    cache = tmp_path / "cache"
    build_default(rules, Tokenizer(), corpus, cache_dir=cache)
    assert [p.name.rsplit("-", 1)[1] for p in cache.glob("*.gbm")] == ["detector.gbm"]
    counting = Counting(monkeypatch)
    clf = build_default(rules, Tokenizer(), corpus, cache_dir=cache)
    assert counting.calls == 0 and clf.router is None and clf.detector is not None


def test_settings_cache_dir_default_override_and_off() -> None:
    base = {"departments": [{"code": "d", "name": "部门"}]}
    assert settings_from_dict(base).classifier.cache_dir == "~/.cache/gridbot"
    chosen = settings_from_dict({**base, "classifier": {"cache_dir": "/var/cache/gridbot"}})
    assert chosen.classifier.cache_dir == "/var/cache/gridbot"
    assert settings_from_dict({**base, "classifier": {"cache_dir": ""}}).classifier.cache_dir == ""


def test_only_the_most_recently_used_entries_are_kept(
    tmp_path: Path,
    corpus: Path,
    rules: list[CategoryRule],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cache, "KEEP", 2)
    folder = tmp_path / "cache"
    build_default(rules, Tokenizer(["甲园区"]), corpus, cache_dir=folder)
    first = {p.name for p in folder.glob("*.gbm")}
    build_default(rules, Tokenizer(["乙园区"]), corpus, cache_dir=folder)
    for path in folder.iterdir():  # make the first entry the oldest, then use it again
        os.utime(path, (1, 1) if path.name in first else (2, 2))
    build_default(rules, Tokenizer(["甲园区"]), corpus, cache_dir=folder)  # a hit: touched
    build_default(rules, Tokenizer(["丙园区"]), corpus, cache_dir=folder)  # new: prunes one
    names = {p.name for p in folder.glob("*.gbm")}
    assert len(names) == 4 and first <= names  # the second entry (least recently used) went
