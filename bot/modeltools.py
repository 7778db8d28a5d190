"""What ``gridbot train``, ``gridbot evaluate`` and ``gridbot classify`` do, without click.

Tables are CSV files with a header line (UTF-8, a BOM is fine): the text is the named text
columns joined by a space, the label one column. Routing models are trained by
:func:`nlp.linear.train_table` (the configuration ``bench/classifier.py`` measures); when the
labels are category codes of the configuration, each such category's name and keywords are
added as short extra examples and the model maps the labels to their departments.
"""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.language import CORPUS_DIR, Language, category_rules
from nlp.decision import Decision
from nlp.encoder import default_encoder
from nlp.keywords import KeywordClassifier
from nlp.linear import LinearTextModel, train_table
from nlp.tokenizer import Tokenizer
from nlp.trained import (
    CHATTER,
    DETECTION_FILE,
    ENCODER,
    MAX_CHATTER_FILED,
    REQUEST,
    ROUTING_FILE,
    Example,
    TrainedClassifier,
    cv_threshold,
    read_corpus,
    train_detector,
)
from storage import db
from storage import repositories as repo

Echo = Callable[[str], None]


class ToolError(Exception):
    """A user mistake (missing column, empty table…): the message says what to fix."""


@dataclass(frozen=True)
class Table:
    texts: list[str]
    labels: list[str]
    source: str


def read_table(path: Path, text_cols: Sequence[str], label_col: str) -> Table:
    """The (text, label) rows of a CSV file; rows with an empty text or label are skipped."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            missing = [c for c in (*text_cols, label_col) if c not in header]
            if missing:
                raise ToolError(
                    f"{path}: no column {', '.join(missing)} (columns: {', '.join(header)}); "
                    "name them with --text-cols and --label-col"
                )
            texts, labels = [], []
            for row in reader:
                text = " ".join((row.get(c) or "").strip() for c in text_cols).strip()
                label = (row.get(label_col) or "").strip()
                if text and label:
                    texts.append(text)
                    labels.append(label)
    except UnicodeDecodeError as exc:
        raise ToolError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ToolError(f"{path}: {exc.strerror}") from None
    if not texts:
        raise ToolError(f"{path}: no rows with both a text and a label")
    return Table(texts, labels, path.name)


def shipped_table(name: str, labels: Sequence[str] | None = None) -> Table:
    """The team's examples of corpus file ``name`` shipped in ``nlp/data/corpus`` (both
    splits)."""
    examples = read_corpus(CORPUS_DIR / name, labels)
    return Table([e.text for e in examples], [e.label for e in examples], name)


def shipped_routing_table() -> Table:
    return shipped_table(ROUTING_FILE)


def decisions_table(settings: Settings, read: Callable[[Session], list[tuple[str, str]]]) -> Table:
    """The dispatchers' decisions stored in the configured database, as ``read`` gives them:
    (text, label) pairs."""
    engine = db.make_engine(settings.database.url)
    try:
        with db.transaction(db.make_sessionmaker(engine)) as session:
            pairs = read(session)
    finally:
        engine.dispose()
    return Table([t for t, _ in pairs], [label for _, label in pairs], "dispatchers' decisions")


def corrections_table(settings: Settings) -> Table:
    """The dispatchers' routing decisions (``/派单``): category codes as labels."""
    return decisions_table(
        settings, lambda s: [(r.text, r.category_code) for r in repo.routing_examples(s)]
    )


def train(
    tables: Sequence[Table], settings: Settings, tokenizer: Tokenizer, out: Path, echo: Echo
) -> LinearTextModel:
    texts = [t for table in tables for t in table.texts]
    labels = [label for table in tables for label in table.labels]
    counts = Counter(labels)
    if len(counts) < 2:
        raise ToolError("need examples of at least two labels to train")
    rules = {rule.code: rule for rule in category_rules(settings)}
    known = sorted(label for label in counts if label in rules)
    extra = [(rules[c].name, c) for c in known]
    extra += [(keyword, c) for c in known for keyword in rules[c].keywords]
    source = " + ".join(f"{table.source} ({len(table.texts)})" for table in tables)
    started = time.perf_counter()
    model = train_table(
        texts,
        labels,
        tokenizer=tokenizer,
        extra=extra,
        source=source,
        label_to_department={c: rules[c].department for c in known},
    )
    seconds = time.perf_counter() - started
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    echo(f"trained on {len(texts)} examples ({source}), {len(counts)} labels, in {seconds:.1f} s")
    for label, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        mark = "" if label in rules else "  (not a configured category: never routed)"
        echo(f"  {label}: {n}{mark}")
    if extra:
        echo(f"plus {len(extra)} category names and keywords as short examples")
    echo(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB); use it with [classifier] model")
    return model


# ---------------------------------------------------------------- the request detector

DETECTOR_LABELS = (REQUEST, CHATTER)
CV_FOLDS = 5


def shipped_detection_table() -> Table:
    return shipped_table(DETECTION_FILE, DETECTOR_LABELS)


def detection_corrections_table(settings: Settings) -> Table:
    """The dispatchers' /立案 (request) and /非诉求 (chatter) decisions."""
    return decisions_table(
        settings, lambda s: [(r.text, r.label) for r in repo.detection_examples(s)]
    )


def check_detector_labels(labels: Iterable[str]) -> None:
    wrong = sorted({label for label in labels if label not in DETECTOR_LABELS})
    if wrong:
        raise ToolError(
            f"a detector's labels are {REQUEST} and {CHATTER}; found {', '.join(wrong[:5])}"
        )


def train_detector_file(
    tables: Sequence[Table],
    settings: Settings,
    tokenizer: Tokenizer,
    out: Path,
    echo: Echo,
    *,
    seeds: Sequence[int] = (0, 1),
) -> LinearTextModel:
    """A request detector trained as the default one is (``nlp.trained.train_detector``: the
    lines plus the shipped routing examples as extra requests, its stacker over the keyword
    score and signals), with its threshold chosen by the default's rule: the lowest that files
    at most ``MAX_CHATTER_FILED`` (1.5 %) of the chatter out-of-fold (5-fold CV, the shuffles of
    ``seeds`` pooled)."""
    texts = [t for table in tables for t in table.texts]
    labels = [label for table in tables for label in table.labels]
    check_detector_labels(labels)
    counts = Counter(labels)
    if min(counts[REQUEST], counts[CHATTER]) < CV_FOLDS:
        raise ToolError(
            f"need at least {CV_FOLDS} examples of each of {REQUEST} and {CHATTER} "
            f"(have {counts[REQUEST]} and {counts[CHATTER]})"
        )
    rules = category_rules(settings)
    keyword = KeywordClassifier(rules, tokenizer)
    examples = [Example("train", label, text) for text, label in zip(texts, labels, strict=True)]
    extra = [e.text for e in read_corpus(CORPUS_DIR / ROUTING_FILE)]
    source = " + ".join(f"{table.source} ({len(table.texts)})" for table in tables)
    source += f" + {ROUTING_FILE} ({len(extra)}) as requests"
    started = time.perf_counter()
    model = train_detector(
        examples,
        tokenizer,
        extra_requests=extra,
        keyword=keyword,
        source=source,
        encoder=default_encoder() if ENCODER else None,
    )
    threshold, cv = cv_threshold(
        examples, rules, tokenizer, extra_requests=extra, folds=CV_FOLDS, seeds=seeds
    )
    seconds = time.perf_counter() - started
    echo(f"trained on {len(texts)} examples ({source}) in {seconds:.1f} s")
    echo(f"  {REQUEST}: {counts[REQUEST]}  {CHATTER}: {counts[CHATTER]}")
    if 0 < threshold < 1:
        model.threshold = threshold
        echo(
            f"threshold {threshold:.3f} (files at most {MAX_CHATTER_FILED:.1%} of the chatter in "
            f"{CV_FOLDS}-fold CV); at it, out-of-fold: precision {cv.precision:.3f}, recall "
            f"{cv.recall:.3f}, F1 {cv.f1:.3f}, chatter filed {cv.chatter_filed:.1%}"
        )
    else:
        echo("too few chatter examples to choose a threshold: gridbot's default is used")
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    echo(
        f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB); use it with [classifier] detector_model"
    )
    return model


@dataclass
class Evaluation:
    labels: list[str]  # the union of true and predicted labels, sorted
    accuracy: float
    macro_f1: float
    per_class: list[tuple[str, float, float, float, int]]  # label, P, R, F1, support
    confusion: np.ndarray  # rows true, columns predicted, in ``labels`` order


def evaluate(model: LinearTextModel, table: Table) -> Evaluation:
    """A router's figures on ``table``."""
    return score_predictions(table, model.predict(table.texts))


def detector_predictions(
    model: LinearTextModel, settings: Settings, tokenizer: Tokenizer, texts: Sequence[str]
) -> list[str]:
    """``request``/``chatter`` for each text, as the app decides it with this detector (its
    stacker, the configured categories' keyword classifier, the hard rules, its threshold)."""
    rules = category_rules(settings)
    clf = TrainedClassifier(
        rules,
        tokenizer,
        router=None,
        detector=model,
        keyword=KeywordClassifier(rules, tokenizer),
        threshold=model.threshold,
    )
    return [REQUEST if clf.classify(t).is_request else CHATTER for t in texts]


def detection_lines(ev: Evaluation) -> list[str]:
    """The request class's precision, recall and F1 and the share of chatter filed."""
    by = {label: (p, r, f, n) for label, p, r, f, n in ev.per_class}
    p, r, f, n = by.get(REQUEST, (0.0, 0.0, 0.0, 0))
    col = {label: i for i, label in enumerate(ev.labels)}
    chatter = int(ev.confusion[col[CHATTER]].sum()) if CHATTER in col else 0
    filed = int(ev.confusion[col[CHATTER], col[REQUEST]]) if {CHATTER, REQUEST} <= set(col) else 0
    share = f"{filed / chatter:.1%}" if chatter else "—"
    return [
        f"requests {n}: precision {p:.3f} recall {r:.3f} F1 {f:.3f}; "
        f"chatter {chatter}: filed {filed} ({share})",
        "",
    ]


def score_predictions(table: Table, predicted: Sequence[str]) -> Evaluation:
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    labels = sorted(set(table.labels) | set(predicted))
    p, r, f, support = precision_recall_fscore_support(
        table.labels, predicted, labels=labels, zero_division=0
    )
    true_labels = sorted(set(table.labels))
    macro = float(np.mean([f[labels.index(label)] for label in true_labels]))
    hits = sum(a == b for a, b in zip(table.labels, predicted, strict=True))
    return Evaluation(
        labels=labels,
        accuracy=hits / len(table.labels),
        macro_f1=macro,
        per_class=[
            (label, float(p[i]), float(r[i]), float(f[i]), int(support[i]))
            for i, label in enumerate(labels)
        ],
        confusion=confusion_matrix(table.labels, predicted, labels=labels),
    )


def evaluation_lines(ev: Evaluation, n: int) -> list[str]:
    out = [
        f"examples {n}  accuracy {ev.accuracy:.4f}  macro-F1 {ev.macro_f1:.4f} "
        "(over the labels of the table)",
        "",
        f"{'label':<16} {'precision':>9} {'recall':>7} {'F1':>7} {'support':>8}",
    ]
    out += [
        f"{label:<16} {p:>9.3f} {r:>7.3f} {f:>7.3f} {s:>8}" for label, p, r, f, s in ev.per_class
    ]
    out += ["", "confusion matrix (rows: true label, columns: predicted, in this order):"]
    out += [f"  {i + 1:>2}. {label}" for i, label in enumerate(ev.labels)]
    width = max(4, len(str(int(ev.confusion.max()))) + 1)
    out.append("    " + "".join(f"{i + 1:>{width}}" for i in range(len(ev.labels))))
    for i, row in enumerate(ev.confusion):
        out.append(f"{i + 1:>3} " + "".join(f"{int(v):>{width}}" for v in row))
    return out


def decision_json(text: str, d: Decision) -> dict[str, Any]:
    return {
        "text": text,
        "is_request": d.is_request,
        "request_score": round(d.request_score, 4),
        "category": d.category,
        "department": d.department,
        "confidence": round(d.confidence, 4),
        "top3": [
            {"category": s.category, "department": s.department, "score": round(s.score, 4)}
            for s in d.top3
        ],
    }


def decision_line(text: str, d: Decision, settings: Settings) -> str:
    names = {c.code: c.name for c in settings.categories}
    depts = {dep.code: dep.name for dep in settings.departments}
    head = f"{'诉求' if d.is_request else '闲聊'} {d.request_score:.2f}"
    if d.is_request and d.category is not None:
        dept = depts.get(d.department or "", d.department)
        head += f" → {names.get(d.category, d.category)}（{dept}）{d.confidence:.2f}"
    top = "；".join(f"{names.get(s.category, s.category)} {s.score:.2f}" for s in d.top3)
    return f"{head} | top3: {top or '—'} | {text}"


def classify_lines(
    lines: Iterable[str], language: Language, settings: Settings, *, as_json: bool, echo: Echo
) -> int:
    n = 0
    for line in lines:
        text = line.strip()
        if not text:
            continue
        decision = language.classifier.classify(text)
        if as_json:
            echo(json.dumps(decision_json(text, decision), ensure_ascii=False))
        else:
            echo(decision_line(text, decision, settings))
        n += 1
    return n
