"""The trained classifier: request detector + category router, with the keyword rules as floor.

:class:`TrainedClassifier` answers :class:`nlp.decision.Classifier` with two
:class:`nlp.linear.LinearTextModel` s sharing one analysis of the text:

Detection
    ``request_score`` is the detector's calibrated probability ``p`` of ``"request"`` — blended
    with the keyword classifier's score ``k`` as ``sigmoid(a logit(p) + b logit(k) + c)`` when the
    detector carries a ``blend`` (fitted by logistic regression on the detector's out-of-fold
    probabilities of its training lines, see :func:`train_detector`) — or, without a detector,
    the keyword classifier's score; ``is_request`` is ``request_score >= threshold``. With
    ``overrides`` (the default), two of the keyword classifier's hard rules stay on top: a
    message that is only thanks (no live need, question or problem in it) and a message with no
    words left after removing mentions, stickers and emoji are never requests.

Routing
    The router's probabilities over its labels that are category codes of the rules (other
    labels cannot be routed and are ignored; the probabilities are not renormalised, so mass on
    unknown labels lowers the confidence); ``top3`` are the best three, ``confidence`` the first.
    The keyword rules remain the floor for categories the router has never seen: when the
    keyword classifier's best category is not among the router's labels and matches strongly
    (keyword confidence >= ``KEYWORD_FLOOR``), it is the category, with the keyword confidence,
    and the router's suggestions follow it. A request nothing can place goes to the catch-all
    rule, as with the keyword classifier.

Corpus files (``nlp/data/corpus``), UTF-8, one example a line, tab-separated, ``#`` comments,
blank lines and a header line starting with ``split`` skipped:

- ``detection.tsv``: ``split<TAB>label<TAB>text``, split ``train``/``eval``, label
  ``request``/``chatter``;
- ``routing.tsv``: ``split<TAB>category<TAB>text``, category = a category code of the taxonomy.

:func:`build_default` trains both models on the ``train`` lines (the detector also on the
``train`` lines of ``routing.tsv`` as extra requests, the router also on each routed category's
name and keywords as short extra examples); :func:`evaluate_held_out` reports on the ``eval``
lines. The settings below (feature settings, extra-example weight, the blend) were chosen by
5-fold cross-validation on the ``train`` lines only.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nlp.decision import CategoryRule, Decision, Suggestion
from nlp.features import Analysis, FeatureSettings, analyse
from nlp.keywords import CATCH_ALL_CONFIDENCE, KeywordClassifier, _signals
from nlp.linear import LinearTextModel
from nlp.tokenizer import Tokenizer

log = logging.getLogger(__name__)

REQUEST = "request"
CHATTER = "chatter"
SPLITS = ("train", "eval")
DEFAULT_THRESHOLD = 0.5
KEYWORD_FLOOR = 0.5  # keyword confidence at which an unseen category beats the router
MIN_SUGGESTION = 0.01  # router suggestions below this are not listed (the first always is)
PURE_THANKS_CAP = 0.2  # request_score ceiling of a pure thanks
EMPTY_CAP = 0.01  # request_score ceiling of a message with no words
KEYWORD_EXAMPLE_WEIGHT = 1.0  # sample weight of a category's name/keywords as router examples
# short group messages: every n-gram seen counts (min_df 1); the detector also uses 3-grams
DETECTOR_SETTINGS = FeatureSettings(char_ngrams=(1, 3), min_df=1)
ROUTER_SETTINGS = FeatureSettings(min_df=1)
MAX_CHATTER_FILED = 0.02  # the operating point evaluate_held_out also reports
DETECTION_FILE = "detection.tsv"
ROUTING_FILE = "routing.tsv"


class TrainedClassifier:
    """Detector + router, keyword classifier as floor and fallback (see the module docstring).

    Read-only after construction: safe to share between threads.
    """

    def __init__(
        self,
        rules: Sequence[CategoryRule],
        tokenizer: Tokenizer,
        *,
        router: LinearTextModel | None,
        detector: LinearTextModel | None,
        keyword: KeywordClassifier,
        threshold: float = DEFAULT_THRESHOLD,
        overrides: bool = True,
    ) -> None:
        self.rules = {rule.code: rule for rule in rules}
        self.tokenizer = tokenizer
        self.router = router
        self.detector = detector
        self.keyword = keyword
        self.threshold = threshold
        self.overrides = overrides
        self._request_col = -1
        if detector is not None:
            if REQUEST not in detector.labels:
                raise ValueError(f"the detector has no {REQUEST!r} label: {detector.labels}")
            self._request_col = detector.labels.index(REQUEST)
        self._routable: list[int] = []
        if router is not None:
            self._routable = [i for i, label in enumerate(router.labels) if label in self.rules]
            ignored = [label for label in router.labels if label not in self.rules]
            if ignored:
                log.warning("router labels that are no category code are ignored: %s", ignored)
        seen = {router.labels[i] for i in self._routable} if router is not None else set()
        self.unseen = frozenset(code for code in self.rules if code not in seen)

    # ------------------------------------------------------------ parts

    def request_score(
        self, text: str, analysis: Analysis | None = None, keyword: Decision | None = None
    ) -> float:
        """The 0..1 request score of ``text`` (see the module docstring). ``analysis`` and
        ``keyword`` (the keyword classifier's decision) are computed when not given."""
        if self.detector is None:
            return (keyword or self.keyword.classify(text)).request_score
        a = analysis or analyse(text, self.tokenizer)
        p = float(self.detector.proba([a])[0, self._request_col])
        return self.combine(p, text, keyword)

    def combine(self, p: float, text: str, keyword: Decision | None = None) -> float:
        """The request score of ``text`` given the detector's probability ``p`` of a request."""
        blend = self.detector.blend if self.detector is not None else None
        if blend:
            k = (keyword or self.keyword.classify(text)).request_score
            z = blend["detector"] * logit(p) + blend["keywords"] * logit(k) + blend["bias"]
            p = sigmoid(z)
        if self.overrides:
            sig = _signals(text)
            if sig.chars == 0:
                p = min(p, EMPTY_CAP)
            elif sig.thanks and sig.strong == 0 and sig.weak_live == 0:
                p = min(p, PURE_THANKS_CAP)
        return p

    def route(self, analysis: Analysis) -> tuple[Suggestion, ...]:
        """The router's suggestions among the rules' categories, best first (at most three)."""
        if self.router is None or not self._routable:
            return ()
        p = self.router.proba([analysis])[0]
        order = sorted(self._routable, key=lambda i: (-p[i], i))[:3]
        out = []
        for rank, i in enumerate(order):
            if rank and p[i] < MIN_SUGGESTION:
                break
            rule = self.rules[self.router.labels[i]]
            out.append(Suggestion(rule.code, rule.department, round(float(p[i]), 4)))
        return tuple(out)

    def suggestions(
        self, text: str, analysis: Analysis | None = None, keyword: Decision | None = None
    ) -> tuple[Suggestion, ...]:
        """Category candidates for ``text``: router, keyword floor, keyword fallback."""
        routed = self.route(analysis or analyse(text, self.tokenizer))
        kw = (keyword or self.keyword.classify(text)).top3
        best = kw[0] if kw else None
        if best is not None and best.category in self.unseen and best.score >= KEYWORD_FLOOR:
            return (best, *(s for s in routed if s.category != best.category))[:3]
        return routed or kw

    # ------------------------------------------------------------ the interface

    def classify(self, text: str) -> Decision:
        kw = self.keyword.classify(text)
        if self.router is None and self.detector is None:
            return kw
        a = analyse(text, self.tokenizer)
        score = round(self.request_score(text, a, kw), 4)
        top3 = self.suggestions(text, a, kw)
        if score < self.threshold:
            return Decision(False, score, None, None, 0.0, top3)
        if not top3:
            rule = self.keyword.catch_all
            top3 = (Suggestion(rule.code, rule.department, CATCH_ALL_CONFIDENCE),)
        first = top3[0]
        return Decision(True, score, first.category, first.department, first.score, top3)


# ---------------------------------------------------------------- corpus and training

_EPS = 1e-6


def logit(p: float) -> float:
    p = min(max(p, _EPS), 1.0 - _EPS)
    return math.log(p / (1.0 - p))


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def fit_blend(
    detector: Sequence[float], keywords: Sequence[float], truth: Sequence[bool]
) -> dict[str, float]:
    """Logistic regression of ``truth`` on the logits of the two scores (the ``blend``)."""
    from sklearn.linear_model import LogisticRegression

    x = np.array([[logit(p), logit(k)] for p, k in zip(detector, keywords, strict=True)])
    lr = LogisticRegression().fit(x, np.asarray(truth, dtype=bool))
    a, b = (float(w) for w in lr.coef_[0])
    return {"detector": a, "keywords": b, "bias": float(lr.intercept_[0])}


@dataclass(frozen=True)
class Example:
    split: str
    label: str
    text: str


def read_corpus(path: str | Path, labels: Sequence[str] | None = None) -> list[Example]:
    """The examples of a corpus TSV (see the module docstring); ``ValueError`` names the line."""
    out = []
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#") or (number == 1 and line.startswith("split")):
            continue
        parts = line.split("\t", 2)
        if len(parts) != 3 or not parts[2].strip():
            raise ValueError(f"{path}:{number}: need split<TAB>label<TAB>text")
        split, label, text = parts[0].strip(), parts[1].strip(), parts[2].strip()
        if split not in SPLITS:
            raise ValueError(f"{path}:{number}: split must be one of {SPLITS}, got {split!r}")
        if labels is not None and label not in labels:
            raise ValueError(f"{path}:{number}: label {label!r} is not one of {list(labels)}")
        out.append(Example(split, label, text))
    return out


def train_detector(
    examples: Sequence[Example],
    tokenizer: Tokenizer,
    *,
    extra_requests: Sequence[str] = (),
    keyword: KeywordClassifier | None = None,
    seed: int = 0,
    source: str = "",
) -> LinearTextModel:
    """A request/chatter detector on the ``train`` examples (plus ``extra_requests``, e.g. the
    routing corpus' lines). With ``keyword``, also its ``blend`` with the keyword score, fitted
    on the detector's out-of-fold probabilities of the training lines."""
    train = [e for e in examples if e.split == "train"]
    model = LinearTextModel.fit(
        [e.text for e in train],
        [e.label for e in train],
        tokenizer=tokenizer,
        kind="detector",
        seed=seed,
        settings=DETECTOR_SETTINGS,
        extra=[(text, REQUEST) for text in extra_requests],
        source=source,
    )
    if keyword is not None and model.oof_proba is not None:
        p = model.oof_proba[:, model.labels.index(REQUEST)]
        k = [keyword.classify(e.text).request_score for e in train]
        model.blend = fit_blend(p.tolist(), k, [e.label == REQUEST for e in train])
    return model


def train_router(
    examples: Sequence[Example],
    rules: Sequence[CategoryRule],
    tokenizer: Tokenizer,
    *,
    seed: int = 0,
    source: str = "",
) -> LinearTextModel:
    """A router on the ``train`` examples whose category is a rule's code, plus the name and
    keywords of each such category as short extra examples (weight ``KEYWORD_EXAMPLE_WEIGHT``).
    Categories without examples get none: the keyword floor handles them."""
    codes = {rule.code: rule for rule in rules}
    train = [e for e in examples if e.split == "train"]
    unknown = sorted({e.label for e in train if e.label not in codes})
    if unknown:
        log.warning("routing examples of unknown categories are skipped: %s", unknown)
    train = [e for e in train if e.label in codes]
    seen = sorted({e.label for e in train})
    extra = [(codes[c].name, c) for c in seen]
    extra += [(keyword, c) for c in seen for keyword in codes[c].keywords]
    return LinearTextModel.fit(
        [e.text for e in train],
        [e.label for e in train],
        tokenizer=tokenizer,
        kind="router",
        seed=seed,
        settings=ROUTER_SETTINGS,
        extra=extra,
        extra_weight=KEYWORD_EXAMPLE_WEIGHT,
        source=source,
        label_to_department={c: codes[c].department for c in seen},
    )


def build_default(
    rules: Sequence[CategoryRule], tokenizer: Tokenizer, corpus_dir: str | Path
) -> TrainedClassifier:
    """Train the detector on ``detection.tsv`` [train] and the router on ``routing.tsv`` [train].

    The keyword classifier is built first (it teaches the tokenizer the category keywords, so
    training and classification cut texts the same way). A missing corpus file leaves that
    model out (the keyword classifier does its part) and is logged.
    """
    started = time.perf_counter()
    keyword = KeywordClassifier(rules, tokenizer)
    corpus = Path(corpus_dir)
    detector = router = None
    det_path, route_path = corpus / DETECTION_FILE, corpus / ROUTING_FILE
    routed = read_corpus(route_path) if route_path.is_file() else []
    if det_path.is_file():
        detector = train_detector(
            read_corpus(det_path, (REQUEST, CHATTER)),
            tokenizer,
            extra_requests=[e.text for e in routed if e.split == "train"],
            keyword=keyword,
            source=f"{DETECTION_FILE} [train] + {ROUTING_FILE} [train] as requests",
        )
    else:
        log.warning("no %s: request detection by keywords", det_path)
    if routed:
        router = train_router(routed, rules, tokenizer, source=f"{ROUTING_FILE} [train]")
    else:
        log.warning("no %s: routing by keywords", route_path)
    log.info("trained classifier built in %.2f s", time.perf_counter() - started)
    return TrainedClassifier(rules, tokenizer, router=router, detector=detector, keyword=keyword)


# ---------------------------------------------------------------- held-out evaluation


@dataclass
class DetectionReport:
    n_request: int
    n_chatter: int
    precision: float
    recall: float
    f1: float
    chatter_filed: float  # share of chatter lines classified as requests


@dataclass
class HeldOutReport:
    """Figures on the ``eval`` lines, models trained on the ``train`` lines only."""

    detection: dict[str, DetectionReport] = field(default_factory=dict)  # by method
    routing: dict[str, float] = field(default_factory=dict)  # accuracy by method
    n_routing: int = 0
    train_seconds: float = 0.0

    def lines(self) -> list[str]:
        out = []
        for name, d in self.detection.items():
            out.append(
                f"detection {name:<26} requests {d.n_request} chatter {d.n_chatter}: "
                f"P {d.precision:.3f} R {d.recall:.3f} F1 {d.f1:.3f}, "
                f"chatter filed {d.chatter_filed:.1%}"
            )
        for name, acc in self.routing.items():
            out.append(f"routing   {name:<26} {self.n_routing} lines: accuracy {acc:.3f}")
        out.append(f"training (both models, build_default) {self.train_seconds:.2f} s")
        return out


def detection_report(truth: Sequence[bool], predicted: Sequence[bool]) -> DetectionReport:
    t = np.asarray(truth, dtype=bool)
    p = np.asarray(predicted, dtype=bool)
    tp = int(np.sum(t & p))
    precision = tp / max(int(p.sum()), 1)
    recall = tp / max(int(t.sum()), 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    chatter = ~t
    filed = float(np.sum(p & chatter)) / max(int(chatter.sum()), 1)
    return DetectionReport(int(t.sum()), int(chatter.sum()), precision, recall, f1, filed)


def threshold_for(chatter_scores: Sequence[float], max_share: float) -> float:
    """The lowest threshold that files at most ``max_share`` of ``chatter_scores``."""
    ranked = sorted(chatter_scores, reverse=True)
    allowed = math.floor(max_share * len(ranked))
    if allowed >= len(ranked):
        return 0.0
    return min(math.nextafter(ranked[allowed], math.inf), 1.0)


def evaluate_held_out(
    rules: Sequence[CategoryRule], tokenizer: Tokenizer, corpus_dir: str | Path
) -> HeldOutReport:
    """Train on the corpus' ``train`` lines (:func:`build_default`), report on its ``eval`` ones.

    Detection (request-class P/R/F1, share of chatter filed): the keyword classifier alone, the
    detector's probability alone, blended with the keyword score, the trained classifier as the
    app uses it (blend + overrides, threshold 0.5), and the same at the threshold that files at
    most 2% of the *training* chatter out-of-fold (chosen without the eval lines). Routing
    accuracy: keywords alone, the router alone, and router + keyword floor."""
    corpus = Path(corpus_dir)
    started = time.perf_counter()
    clf = build_default(rules, tokenizer, corpus)
    report = HeldOutReport(train_seconds=time.perf_counter() - started)
    det_path, route_path = corpus / DETECTION_FILE, corpus / ROUTING_FILE
    if det_path.is_file():
        examples = read_corpus(det_path, (REQUEST, CHATTER))
        held = [e for e in examples if e.split == "eval"]
        truth = [e.label == REQUEST for e in held]
        kw = clf.keyword
        report.detection["keywords"] = detection_report(
            truth, [kw.classify(e.text).request_score >= kw.threshold for e in held]
        )
        if clf.detector is not None:
            det = clf.detector
            p = det.predict_proba([e.text for e in held])[1][:, det.labels.index(REQUEST)]
            report.detection["detector"] = detection_report(truth, list(p >= clf.threshold))
            rules_ = list(clf.rules.values())
            plain = TrainedClassifier(
                rules_, tokenizer, router=None, detector=det, keyword=kw, overrides=False
            )
            scores = [clf.combine(float(q), e.text) for q, e in zip(p, held, strict=True)]
            if det.blend:
                blended = [plain.combine(float(q), e.text) for q, e in zip(p, held, strict=True)]
                report.detection["detector + keywords"] = detection_report(
                    truth, [b >= clf.threshold for b in blended]
                )
            report.detection["trained classifier"] = detection_report(
                truth, [x >= clf.threshold for x in scores]
            )
            if det.oof_proba is not None:
                train = [e for e in examples if e.split == "train"]
                oof = det.oof_proba[:, det.labels.index(REQUEST)]
                chatter = [
                    clf.combine(float(q), e.text)
                    for q, e in zip(oof, train, strict=True)
                    if e.label == CHATTER
                ]
                t = threshold_for(chatter, MAX_CHATTER_FILED)
                report.detection[f"trained, threshold {t:.2f}"] = detection_report(
                    truth, [x >= t for x in scores]
                )
    if route_path.is_file():
        held_r = [e for e in read_corpus(route_path) if e.split == "eval" and e.label in clf.rules]
        report.n_routing = len(held_r)
        if held_r:

            def accuracy(guesses: Sequence[str | None]) -> float:
                hits = sum(g == e.label for g, e in zip(guesses, held_r, strict=True))
                return hits / len(held_r)

            def first(s: tuple[Suggestion, ...]) -> str | None:
                return s[0].category if s else clf.keyword.catch_all.code

            report.routing["keywords"] = accuracy(
                [first(clf.keyword.classify(e.text).top3) for e in held_r]
            )
            if clf.router is not None:
                analyses = [analyse(e.text, tokenizer) for e in held_r]
                report.routing["router"] = accuracy([first(clf.route(a)) for a in analyses])
                pairs = zip(held_r, analyses, strict=True)
                report.routing["router + keyword floor"] = accuracy(
                    [first(clf.suggestions(e.text, a)) for e, a in pairs]
                )
    return report
