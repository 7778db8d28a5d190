"""The language parts of one process: tokenizer, classifier and duplicate finder, built once.

They share one jieba tokenizer whose user dictionary holds the roster's names (departments,
groups, enterprises) and the categories' keywords, so every part cuts a text the same way. The
roster lives in the config, so a changed roster means a restart, which rebuilds all of this.

The classifier is :class:`nlp.trained.TrainedClassifier`: the request detector and the router
trained at start-up on the corpus shipped in ``nlp/data/corpus`` plus the configured
categories' names and keywords (the default model, about 25 s; kept in ``[classifier]
cache_dir`` and reused by later processes while nothing it depends on changes, see
:mod:`nlp.cache`), the keyword rules as the floor.
``[classifier] model`` replaces the router by a model file made with ``gridbot train``, and
``[classifier] detector_model`` the detector by one made with ``gridbot train --kind detector``
(with the threshold it was trained for).
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from pathlib import Path

from bot.config import ConfigError, Settings
from nlp import modelfile
from nlp.decision import CategoryRule, Classifier
from nlp.duplicates import DuplicateFinder
from nlp.linear import LinearTextModel
from nlp.tokenizer import Tokenizer
from nlp.trained import CHATTER, REQUEST, TrainedClassifier, build_default

log = logging.getLogger(__name__)
CORPUS_DIR = Path(__file__).resolve().parent.parent / "nlp" / "data" / "corpus"


@dataclass(frozen=True)
class Language:
    tokenizer: Tokenizer
    classifier: Classifier
    duplicates: DuplicateFinder


def category_rules(settings: Settings) -> list[CategoryRule]:
    return [
        CategoryRule(
            code=c.code,
            name=c.name,
            department=c.department,
            keywords=c.keywords,
            catch_all=c.catch_all,
        )
        for c in settings.categories
    ]


def demo_taxonomy_rules() -> list[CategoryRule]:
    """The category rules of the shipped default taxonomy (``bot/demo_data/taxonomy.toml``), as
    the benchmarks and the nlp tests use them without a whole configuration."""
    text = (resources.files("bot") / "demo_data" / "taxonomy.toml").read_text(encoding="utf-8")
    return [
        CategoryRule(
            code=c["code"],
            name=c["name"],
            department=c["department"],
            keywords=tuple(c.get("keywords", ())),
            catch_all=c.get("catch_all", False),
        )
        for c in tomllib.loads(text)["categories"]
    ]


def roster_words(settings: Settings) -> list[str]:
    """Names the tokenizer must keep whole: departments, groups, enterprises, and the parks and
    places of ``[classifier] words``."""
    names = [d.name for d in settings.departments] + [g.name for g in settings.groups]
    names += sorted({p.enterprise for p in settings.people if p.enterprise})
    names += sorted({g.enterprise for g in settings.groups if g.enterprise})
    return [*names, *settings.classifier.words]


def load_router(path: str | Path, tokenizer: Tokenizer) -> LinearTextModel:
    """A router model file, or a :class:`ConfigError` that says what is wrong with it."""
    return load_model(path, tokenizer, "router")


def load_detector(path: str | Path, tokenizer: Tokenizer) -> LinearTextModel:
    """A detector model file (``gridbot train --kind detector``), or a :class:`ConfigError`."""
    return load_model(path, tokenizer, "detector", "classifier.detector_model")


def load_model(
    path: str | Path, tokenizer: Tokenizer, kind: str | None = None, key: str = "classifier.model"
) -> LinearTextModel:
    """A model file of ``kind`` (any kind when None; a detector must have the labels request
    and chatter), or a :class:`ConfigError` under ``key`` that says what is wrong with it."""
    try:
        model = LinearTextModel.load(path, tokenizer)
    except modelfile.ModelFileError as exc:
        raise ConfigError(f"{key}: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{key}: cannot read {path}: {exc.strerror}") from None
    if kind is not None and model.kind != kind:
        raise ConfigError(f"{key}: {path} is a {model.kind} model, not a {kind}")
    if model.kind == "detector" and set(model.labels) != {REQUEST, CHATTER}:
        raise ConfigError(
            f"{key}: {path} has labels {', '.join(model.labels)}, need {REQUEST} and {CHATTER}"
        )
    return model


def build_tokenizer(settings: Settings) -> Tokenizer:
    """The tokenizer with the roster's names and the categories' keywords as words."""
    tokenizer = Tokenizer(extra_words=roster_words(settings))
    tokenizer.add_words(kw for c in settings.categories for kw in c.keywords)
    return tokenizer


def build_language(settings: Settings, *, corpus_dir: str | Path = CORPUS_DIR) -> Language:
    tokenizer = build_tokenizer(settings)
    rules = category_rules(settings)
    classifier = build_default(
        rules, tokenizer, corpus_dir, cache_dir=settings.classifier.cache_dir or None
    )
    if settings.classifier.detector_model:
        detector = load_detector(settings.classifier.detector_model, tokenizer)
        log.info(
            "detector model %s (threshold %s)",
            settings.classifier.detector_model,
            "default" if detector.threshold is None else f"{detector.threshold:.3f}",
        )
        try:
            classifier = TrainedClassifier(
                rules,
                tokenizer,
                router=classifier.router,
                detector=detector,
                keyword=classifier.keyword,
                threshold=detector.threshold,
            )
        except ValueError as exc:  # e.g. trees reading inputs this version does not compute
            raise ConfigError(f"classifier.detector_model: {exc}") from None
    if settings.classifier.model:
        router = load_router(settings.classifier.model, tokenizer)
        known = [label for label in router.labels if label in classifier.rules]
        if not known:
            raise ConfigError(
                f"classifier.model: none of the model's labels is a configured category code "
                f"({', '.join(router.labels[:5])}…)"
            )
        log.info(
            "routing model %s: %d of its %d labels are categories",
            settings.classifier.model,
            len(known),
            len(router.labels),
        )
        classifier = TrainedClassifier(
            rules,
            tokenizer,
            router=router,
            detector=classifier.detector,
            keyword=classifier.keyword,
            threshold=classifier.threshold,
        )
    duplicates = DuplicateFinder(tokenizer, window=timedelta(days=settings.duplicates.window_days))
    return Language(tokenizer=tokenizer, classifier=classifier, duplicates=duplicates)
