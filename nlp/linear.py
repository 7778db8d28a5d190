"""A calibrated multi-class linear text model: the router and the request detector.

Model
    Features from :mod:`nlp.features` (jieba words + character n-grams + the head of the text,
    sublinear TF-IDF, each block L2-normalised; :class:`nlp.features.FeatureSettings`). For
    every class, one-vs-rest, two linear SVMs (squared hinge, L2, ``C=1``, scikit-learn's
    ``LinearSVC``) are trained: one on the features as they are, and one on the features scaled
    by the class's naive-Bayes log-count ratio ``r = log(p / |p|) - log(q / |q|)`` (NB-SVM,
    Wang & Manning 2012; ``p``/``q`` = smoothed presence counts in / outside the class). Both
    are linear in the same features, so they fold into one weight matrix:
    ``coef[:, k] = w_k + r_k * v_k``. Samples are weighted so that every class weighs the same
    in total ("balanced"), times an optional weight for extra examples. With two classes (the
    detector) one pair of SVMs is trained and the scores are ``[-s, s]``.

Calibration
    Probabilities are ``softmax(T * scores + b)``. ``T`` (and, for two classes, the bias ``b``:
    Platt scaling) is fitted by minimising the log-loss of out-of-fold scores from an inner
    stratified cross-validation on the training data only (3 folds by default). With more than
    two classes only ``T`` is fitted by default, so calibration never changes the top class;
    with ``class_bias=True`` (:func:`train_table` uses it) a bias per class is fitted as well
    (the first one fixed at 0; only when every label has examples outside ``extra``). The
    class-balanced sample weights favour the small classes; the fitted biases move the decision
    boundaries back where the out-of-fold log-loss of the training data puts them, and so can
    change the top class.

Prediction is pure numpy over the whole batch: the weight rows of each text's non-zero features
are gathered, scaled and summed (``x @ coef`` without building ``x``); weights are kept as
float32, so a reloaded model predicts exactly as the trained one. scikit-learn and
scipy.optimize are only imported when training.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from nlp import modelfile
from nlp.features import Analysis, CountCorpus, FeatureSettings, Featurizer, analyse
from nlp.kernel import KernelScorer
from nlp.tokenizer import Tokenizer
from nlp.trees import TreeEnsemble

log = logging.getLogger(__name__)

NB_ALPHA = 1.0
SVM_C = 1.0
SVM_MAX_ITER = 20_000
CALIBRATION_FOLDS = 3


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax."""
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


def _balanced_weights(y: np.ndarray, n_classes: int, base: np.ndarray | None = None) -> np.ndarray:
    """Weights ``base`` (default 1) scaled so that every class present weighs the same in total."""
    base = np.ones(len(y)) if base is None else np.asarray(base, dtype=np.float64)
    counts = np.bincount(y, weights=base, minlength=n_classes)
    safe = np.where(counts > 0, counts, 1.0)
    per_class = np.where(counts > 0, base.sum() / (n_classes * safe), 0.0)
    out: np.ndarray = base * per_class[y]
    return out


def train_linear(
    x: sp.csr_matrix,
    y: np.ndarray,
    n_classes: int,
    weights: np.ndarray,
    *,
    c: float = SVM_C,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """SVM + NB-SVM one-vs-rest on ``x``; returns ``coef (F, K)`` and ``intercept (K,)``."""
    from sklearn.svm import LinearSVC

    n_features = x.shape[1]
    coef = np.zeros((n_features, n_classes))
    intercept = np.zeros(n_classes)
    present = x.copy()
    present.data[:] = 1.0
    onehot = sp.csr_matrix(
        (weights, (np.arange(len(y)), y)), shape=(len(y), n_classes), dtype=np.float64
    )
    in_class = np.asarray((onehot.T @ present).todense())  # (K, F) weighted presence counts
    total = in_class.sum(axis=0)
    targets = range(n_classes) if n_classes > 2 else [1]
    for k in targets:
        yk = (y == k).astype(np.int64)
        plain = LinearSVC(C=c, random_state=seed, max_iter=SVM_MAX_ITER)
        plain.fit(x, yk, sample_weight=weights)
        p = NB_ALPHA + in_class[k]
        q = NB_ALPHA + total - in_class[k]
        r = np.log(p / p.sum()) - np.log(q / q.sum())
        nb = LinearSVC(C=c, random_state=seed, max_iter=SVM_MAX_ITER)
        nb.fit(x @ sp.diags(r), yk, sample_weight=weights)
        coef[:, k] = plain.coef_[0] + r * nb.coef_[0]
        intercept[k] = plain.intercept_[0] + nb.intercept_[0]
    if n_classes == 2:
        coef[:, 0] = -coef[:, 1]
        intercept[0] = -intercept[1]
    return coef, intercept


def fit_calibration(
    scores: np.ndarray, y: np.ndarray, *, class_bias: bool = False
) -> tuple[float, np.ndarray]:
    """Temperature and bias minimising the log-loss of ``softmax(T s + b)``.

    With two classes ``b = [0, b1]`` is always fitted (Platt scaling). With more, ``b`` is 0
    unless ``class_bias``, which fits ``b = [0, b1, ..., b(K-1)]`` together with ``T``.
    """
    from scipy.optimize import minimize, minimize_scalar

    n, k = scores.shape
    rows = np.arange(n)

    def nll(t: float, b: np.ndarray) -> float:
        z = t * scores + b
        m = z.max(axis=1, keepdims=True)
        lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
        return float(np.mean(lse - z[rows, y]))

    if k > 2 and class_bias:

        def nll_k(v: np.ndarray) -> float:
            return nll(math.exp(float(v[0])), np.concatenate(([0.0], v[1:])))

        bounds = [(-6.0, 6.0)] + [(-20.0, 20.0)] * (k - 1)
        res_k = minimize(nll_k, np.zeros(k), method="L-BFGS-B", bounds=bounds)
        return math.exp(float(res_k.x[0])), np.concatenate(([0.0], res_k.x[1:]))
    if k > 2:
        zero = np.zeros(k)
        res = minimize_scalar(lambda u: nll(math.exp(u), zero), bounds=(-6, 6), method="bounded")
        return math.exp(float(res.x)), zero

    def nll2(v: np.ndarray) -> float:
        return nll(math.exp(float(v[0])), np.array([0.0, float(v[1])]))

    res2 = minimize(nll2, np.zeros(2), method="L-BFGS-B", bounds=[(-6, 6), (-20, 20)])
    return math.exp(float(res2.x[0])), np.array([0.0, float(res2.x[1])])


class LinearTextModel:
    """A trained, calibrated linear classifier over texts (see the module docstring).

    Read-only after construction: safe to share between threads (the tokenizer must be done
    with ``add_words``).
    """

    def __init__(
        self,
        *,
        kind: str,
        labels: Sequence[str],
        featurizer: Featurizer,
        coef: np.ndarray,
        intercept: np.ndarray,
        temperature: float,
        bias: np.ndarray,
        tokenizer: Tokenizer,
        training: Mapping[str, Any] | None = None,
        label_to_department: Mapping[str, str] | None = None,
        created: str | None = None,
        blend: Mapping[str, float] | None = None,
        threshold: float | None = None,
        trees: TreeEnsemble | None = None,
        kernel: KernelScorer | None = None,
    ) -> None:
        if kind not in modelfile.KINDS:
            raise ValueError(f"kind must be one of {modelfile.KINDS}, got {kind!r}")
        self.kind = kind
        self.labels: tuple[str, ...] = tuple(labels)
        self.featurizer = featurizer
        self.coef = np.asarray(coef, dtype=np.float32)
        self.intercept = np.asarray(intercept, dtype=np.float32)
        self.temperature = float(temperature)
        self.bias = np.asarray(bias, dtype=np.float64)
        self.tokenizer = tokenizer
        self.training: dict[str, Any] = dict(training or {})
        self.label_to_department = dict(label_to_department or {})
        # how a detector's probability is combined with the keyword request score (nlp.trained)
        self.blend: dict[str, float] | None = dict(blend) if blend else None
        # a detector's operating point, when its training chose one (None: the app's default)
        self.threshold = None if threshold is None else float(threshold)
        # a detector's tree stacker (nlp.trees, nlp.trained): replaces the blend when present
        self.trees = trees
        # a detector's SVM over pretrained-encoder vectors (nlp.kernel): one stacker input
        self.kernel = kernel
        # out-of-fold calibrated probabilities of the training texts (after fit; not saved)
        self.oof_proba: np.ndarray | None = None
        self.created = created or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if self.coef.shape != (featurizer.n_features, len(self.labels)):
            raise ValueError(f"coef has shape {self.coef.shape}")

    # ------------------------------------------------------------ training

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        tokenizer: Tokenizer,
        kind: str = "router",
        seed: int = 0,
        extra: Sequence[tuple[str, str]] = (),
        extra_weight: float | Sequence[float] = 1.0,
        settings: FeatureSettings | None = None,
        c: float = SVM_C,
        calibration_folds: int = CALIBRATION_FOLDS,
        class_bias: bool = False,
        balance_extra: bool = False,
        source: str = "",
        label_to_department: Mapping[str, str] | None = None,
    ) -> LinearTextModel:
        """Train on ``texts``/``labels`` plus ``extra`` (text, label) examples.

        ``extra`` examples (e.g. category keywords) are always in the training data, with
        sample weight ``extra_weight`` (one number, or one per extra example), and never held
        out for calibration. By default the class-balanced weights count every extra example
        as one whole example; ``balance_extra`` counts it by its weight instead (so many
        low-weight extra examples, e.g. pseudo-labelled ones, do not dilute their class's
        labelled examples). ``class_bias``: with more than two labels, also fit a bias per class
        in the calibration (see the module docstring); ignored (with a warning) when a label has
        examples only in ``extra`` or there are too few examples to calibrate. Deterministic for
        a given ``seed``.
        """
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        started = time.perf_counter()
        settings = settings or FeatureSettings()
        classes = sorted(set(labels) | {label for _, label in extra})
        if len(classes) < 2:
            raise ValueError(f"need at least two labels, got {classes}")
        index = {label: i for i, label in enumerate(classes)}
        main = [analyse(t, tokenizer) for t in texts]
        more = [analyse(t, tokenizer) for t, _ in extra]
        y = np.array([index[label] for label in labels], dtype=np.int64)
        y_extra = np.array([index[label] for _, label in extra], dtype=np.int64)
        k = len(classes)
        w_extra = np.asarray(extra_weight, dtype=np.float64)
        if w_extra.ndim and w_extra.shape != (len(more),):
            raise ValueError(f"{len(w_extra)} extra weights but {len(more)} extra examples")
        w_extra = np.broadcast_to(w_extra, (len(more),))

        corpus = CountCorpus(main + more, settings, tokenizer.stopwords)
        extra_rows = np.arange(len(main), len(main) + len(more))

        def train(
            rows: np.ndarray, held: np.ndarray | None = None
        ) -> tuple[Featurizer, np.ndarray, np.ndarray, sp.csr_matrix | None]:
            yy = np.concatenate([y[rows], y_extra])
            featurizer, x, x_held = corpus.fit(np.concatenate([rows, extra_rows]), held)
            if balance_extra:
                base = np.concatenate([np.ones(len(rows)), w_extra])
                w = _balanced_weights(yy, k, base)
            else:
                w = _balanced_weights(yy, k)
                w[len(rows) :] *= w_extra
            coef, intercept = train_linear(x, yy, k, w, c=c, seed=seed)
            return featurizer, coef, intercept, x_held

        temperature, bias = 1.0, np.zeros(k)
        oof_proba = None
        counts = Counter(labels)
        folds = min(calibration_folds, min(counts.values()) if counts else 0)
        # a label seen only in ``extra`` never occurs out of fold: its bias would run to -inf
        fit_bias = class_bias and k > 2 and folds >= 2 and len(counts) == k
        if class_bias and k > 2 and not fit_bias:
            log.warning("class_bias ignored: some labels have no examples to calibrate on")
        if folds >= 2 and len(counts) >= 2:
            from sklearn.model_selection import StratifiedKFold

            oof = np.zeros((len(main), k))
            splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
            for tr, te in splitter.split(np.zeros(len(y)), y):
                _, coef, intercept, x_held = train(tr, te)
                oof[te] = x_held @ coef + intercept
            temperature, bias = fit_calibration(oof, y, class_bias=fit_bias)
            oof_proba = softmax(temperature * oof + bias)
        else:
            log.warning("too few examples per label for calibration; probabilities uncalibrated")
        featurizer, coef, intercept, _ = train(np.arange(len(main)))
        training = {
            "examples": len(main),
            "per_label": {label: counts.get(label, 0) for label in classes},
            "extra_examples": len(more),
            "extra_weight": float(w_extra.mean()) if len(more) else 1.0,
            "calibration_folds": folds if folds >= 2 else 0,
            "class_bias": fit_bias,
            "seed": seed,
            "c": c,
            "source": source,
            "fit_seconds": round(time.perf_counter() - started, 3),
        }
        model = cls(
            kind=kind,
            labels=classes,
            featurizer=featurizer,
            coef=coef,
            intercept=intercept,
            temperature=temperature,
            bias=bias,
            tokenizer=tokenizer,
            training=training,
            label_to_department=label_to_department,
        )
        model.oof_proba = oof_proba
        return model

    # ------------------------------------------------------------ prediction

    def analyse(self, text: str) -> Analysis:
        return analyse(text, self.tokenizer)

    def scores(self, analyses: Sequence[Analysis]) -> np.ndarray:
        """Raw linear scores, ``(n, K)``: ``x @ coef + intercept`` without building ``x``."""
        row, col, values = self.featurizer.entries(analyses)
        out = np.tile(self.intercept.astype(np.float64), (len(analyses), 1))
        if len(row):
            starts = np.flatnonzero(np.concatenate(([True], row[1:] != row[:-1])))
            out[row[starts]] += np.add.reduceat(values[:, None] * self.coef[col], starts, axis=0)
        return out

    def proba(self, analyses: Sequence[Analysis]) -> np.ndarray:
        """Calibrated probabilities of already-analysed texts, ``(n, K)``, columns = labels."""
        return softmax(self.temperature * self.scores(analyses) + self.bias)

    def predict_proba(self, texts: Sequence[str]) -> tuple[tuple[str, ...], np.ndarray]:
        """``(labels, probabilities)``: one row per text, one column per label."""
        return self.labels, self.proba([analyse(t, self.tokenizer) for t in texts])

    def predict(self, texts: Sequence[str]) -> list[str]:
        _, p = self.predict_proba(texts)
        return [self.labels[i] for i in p.argmax(axis=1)]

    def top_k(self, text: str, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` most probable labels of ``text`` with their probabilities, best first."""
        p = self.proba([analyse(text, self.tokenizer)])[0]
        order = sorted(range(len(self.labels)), key=lambda i: (-p[i], i))[:k]
        return [(self.labels[i], float(p[i])) for i in order]

    # ------------------------------------------------------------ files

    def to_data(self) -> modelfile.ModelData:
        features = self.featurizer.settings.to_json()
        features["vocabulary_sizes"] = {
            block: len(words) for block, words in self.featurizer.vocabulary.items()
        }
        meta: dict[str, Any] = {
            "format": modelfile.FORMAT,
            "version": modelfile.VERSION,
            "kind": self.kind,
            "created": self.created,
            "labels": list(self.labels),
            "features": features,
            "calibration": {"temperature": self.temperature, "bias": self.bias.tolist()},
            "training": self.training,
        }
        if self.label_to_department:
            meta["label_to_department"] = self.label_to_department
        if self.blend:
            meta["blend"] = self.blend
        if self.threshold is not None:
            meta["threshold"] = self.threshold
        if self.trees is not None:
            meta["trees"] = self.trees.to_json()
        arrays = {
            "idf": self.featurizer.idf.astype(np.float32),
            "coef": self.coef.astype(np.float32),
            "intercept": self.intercept.astype(np.float32),
        }
        if self.kernel is not None:
            meta["kernel"] = self.kernel.meta()
            arrays["kernel_support"] = self.kernel.support
            arrays["kernel_dual"] = self.kernel.dual
        return modelfile.ModelData(meta, dict(self.featurizer.vocabulary), arrays)

    def save(self, path: str | Path) -> None:
        """Write the model file (see :mod:`nlp.modelfile`)."""
        modelfile.write(path, self.to_data())

    @classmethod
    def from_data(
        cls, data: modelfile.ModelData, tokenizer: Tokenizer, where: object = "model"
    ) -> LinearTextModel:
        meta = data.meta
        try:
            settings = FeatureSettings.from_json(meta["features"])
        except (KeyError, TypeError, ValueError) as exc:
            raise modelfile.ModelFileError(f"{where}: bad featuriser settings ({exc})") from None
        try:
            featurizer = Featurizer(settings, data.vocabulary, data.arrays["idf"])
        except ValueError as exc:  # e.g. a character n-gram longer than features.MAX_GRAM
            raise modelfile.ModelFileError(f"{where}: bad vocabulary ({exc})") from None
        calibration = meta["calibration"]
        training = meta.get("training")
        return cls(
            kind=meta["kind"],
            labels=meta["labels"],
            featurizer=featurizer,
            coef=data.arrays["coef"],
            intercept=data.arrays["intercept"],
            temperature=calibration["temperature"],
            bias=np.asarray(calibration["bias"], dtype=np.float64),
            tokenizer=tokenizer,
            training=training if isinstance(training, dict) else {},
            label_to_department=meta.get("label_to_department"),
            created=str(meta.get("created", "")),
            blend=meta.get("blend"),
            threshold=meta.get("threshold"),
            trees=TreeEnsemble.from_json(meta["trees"]) if "trees" in meta else None,
            kernel=(
                KernelScorer.from_parts(
                    meta["kernel"], data.arrays["kernel_support"], data.arrays["kernel_dual"]
                )
                if "kernel" in meta
                else None
            ),
        )

    @classmethod
    def load(cls, path: str | Path, tokenizer: Tokenizer) -> LinearTextModel:
        """Read a model file; :class:`nlp.modelfile.ModelFileError` when it cannot be used."""
        return cls.from_data(modelfile.read(path), tokenizer, path)


TABLE_SETTINGS = FeatureSettings()
"""The features of :func:`train_table` (today's defaults: words, character 1-2-grams, head 60)."""


def train_table(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    tokenizer: Tokenizer,
    extra: Sequence[tuple[str, str]] = (),
    seed: int = 0,
    source: str = "",
    label_to_department: Mapping[str, str] | None = None,
) -> LinearTextModel:
    """A router (``kind="router"``) trained on a labelled table: ``texts`` and their ``labels``.

    Exactly the configuration ``bench/classifier.py`` measures as "gridbot" (it calls this
    function): :data:`TABLE_SETTINGS`, ``C=1``, class-balanced weights, ``extra`` examples with
    weight 1, inner 3-fold calibration of the temperature *and a bias per class*
    (``class_bias=True``). Chosen by 5-fold cross-validation on splits other than the
    benchmark's (seeds 12345, 777, 2024; see ``bench/RESULTS.md``, 2026-11-30).
    """
    return LinearTextModel.fit(
        texts,
        labels,
        tokenizer=tokenizer,
        kind="router",
        seed=seed,
        extra=extra,
        settings=TABLE_SETTINGS,
        c=SVM_C,
        calibration_folds=CALIBRATION_FOLDS,
        class_bias=True,
        source=source,
        label_to_department=label_to_department,
    )
