"""Routing benchmark on the TipDM 2020 data: the reference pipeline vs gridbot's routing model.

Data: ``tipdm2020_train.csv`` from the 8th TipDM Cup (第八届"泰迪杯"数据挖掘挑战赛, 2020, problem C,
"智慧政务"中的文本挖掘应用), read from ``../shared/data`` (never copied into the repository):
2,180 citizens' messages, 7 first-level labels; the text is ``title + " " + body``.

One run, one stratified 5-fold split (seed 0), both pipelines on the same folds:

- reference: ``jieba.lcut`` (precise mode, default settings, HMM on) + scikit-learn
  ``TfidfVectorizer`` over word unigrams (``min_df=2``, lower case, ``token_pattern=None``) +
  ``LinearSVC()``;
- gridbot: :func:`nlp.linear.train_table` (what ``gridbot train`` runs):
  :class:`nlp.linear.LinearTextModel` (words + character 1–2-grams + the text's head, SVM +
  NB-SVM, temperature and a bias per class fitted by inner 3-fold CV on the training fold),
  trained on the training fold plus the level-2/level-3 names of the 7 labels from
  ``tipdm2020_taxonomy.csv`` as short extra examples; and, as an ablation, the same model
  without those extra examples.

Then, with one core (BLAS/OpenMP threads 1, CPU affinity one core): throughput of the model
against raw ``jieba.lcut`` over the same texts, model file size, load time and peak memory.
``--corpus DIR`` adds the held-out figures of gridbot's own corpus (``nlp.trained``).

    .venv/bin/python bench/classifier.py [--data ../shared/data] [--corpus nlp/data/corpus]
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
SEED = 0
FOLDS = 5
BATCH = 256
REPEATS = 3


def single_core() -> None:
    """Re-run this script with one BLAS/OpenMP thread (they read it at start-up), on one CPU."""
    if any(os.environ.get(v) != "1" for v in THREAD_VARS):
        env = dict(os.environ, **dict.fromkeys(THREAD_VARS, "1"))
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def load_tipdm(data: Path) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    with (data / "tipdm2020_train.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    texts = [(r["title"] or "") + " " + r["body"] for r in rows]
    labels = [r["label"] for r in rows]
    with (data / "tipdm2020_taxonomy.csv").open(encoding="utf-8", newline="") as f:
        taxonomy = list(csv.DictReader(f))
    wanted = set(labels)
    extra = [
        (t["level2"] + " " + t["level3"], t["level1"]) for t in taxonomy if t["level1"] in wanted
    ]
    return texts, labels, extra


def best_rate(n: int, run: Callable[[], object], repeats: int = REPEATS) -> float:
    """Items per second of the fastest of ``repeats`` runs of ``run`` (``n`` items each)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return n / min(times)


def fmt(values: Sequence[float]) -> str:
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--corpus", type=Path, default=None)
    args = parser.parse_args()
    single_core()

    import jieba
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.svm import LinearSVC

    from nlp.linear import LinearTextModel, train_table
    from nlp.tokenizer import Tokenizer

    texts, labels, extra = load_tipdm(args.data)
    y = np.array(labels)
    jieba.setLogLevel(60)
    jieba.initialize()
    tokenizer = Tokenizer()
    print(
        f"TipDM 2020 (第八届泰迪杯 C题) tipdm2020_train.csv: {len(texts)} messages, "
        f"{len(set(labels))} labels; {len(extra)} taxonomy names as gridbot's extra examples"
    )
    print(f"stratified {FOLDS}-fold, seed {SEED}; one core (threads 1, affinity 1 CPU)\n")

    splitter = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    results: dict[str, dict[str, list[float]]] = {
        name: {"f1": [], "acc": [], "fit": []}
        for name in ("reference", "gridbot", "gridbot (no taxonomy examples)")
    }
    header = f"{'fold':<5}" + "".join(f"{name:>34}" for name in results)
    print(header)
    print(f"{'':<5}" + f"{'macro-F1  accuracy  fit s':>34}" * len(results))
    last_model = None
    for fold, (tr, te) in enumerate(splitter.split(texts, y), 1):
        train_texts = [texts[i] for i in tr]
        test_texts = [texts[i] for i in te]
        row = f"{fold:<5}"
        for name, res in results.items():
            t0 = time.perf_counter()
            if name == "reference":
                vec = TfidfVectorizer(
                    tokenizer=jieba.lcut, lowercase=True, token_pattern=None, min_df=2
                )
                svm = LinearSVC().fit(vec.fit_transform(train_texts), y[tr])
                fit = time.perf_counter() - t0
                pred = svm.predict(vec.transform(test_texts))
            else:
                model = train_table(
                    train_texts,
                    list(y[tr]),
                    tokenizer=tokenizer,
                    seed=SEED,
                    extra=extra if name == "gridbot" else (),
                    source=f"tipdm2020_train.csv fold {fold} training part",
                )
                fit = time.perf_counter() - t0
                pred = np.array(model.predict(test_texts))
                if name == "gridbot":
                    last_model = model
            res["f1"].append(f1_score(y[te], pred, average="macro"))
            res["acc"].append(accuracy_score(y[te], pred))
            res["fit"].append(fit)
            row += f"{res['f1'][-1]:>16.4f}{res['acc'][-1]:>10.4f}{fit:>8.1f}"
        print(row, flush=True)
    print()
    for name, res in results.items():
        print(
            f"{name:<32} macro-F1 {fmt(res['f1'])}   accuracy {fmt(res['acc'])}   "
            f"fit {statistics.mean(res['fit']):.1f} s/fold"
        )
    gain = statistics.mean(results["gridbot"]["f1"]) - statistics.mean(results["reference"]["f1"])
    print(f"gridbot - reference: {gain * 100:+.2f} macro-F1 points\n")

    # ---------------------------------------------------------------- speed, size, memory
    assert last_model is not None
    for t in texts[:50]:  # warm-up (jieba's and the tokenizer's caches, numpy paths)
        jieba.lcut(t)
        last_model.predict([t])

    def jieba_all() -> None:
        for t in texts:
            jieba.lcut(t)

    def model_batches() -> None:
        for i in range(0, len(texts), BATCH):
            last_model.predict_proba(texts[i : i + BATCH])

    def model_single() -> None:
        for t in texts:
            last_model.predict_proba([t])

    jieba_rate = best_rate(len(texts), jieba_all)
    batch_rate = best_rate(len(texts), model_batches)
    single_rate = best_rate(len(texts), model_single)
    mean_chars = statistics.mean(len(t) for t in texts)
    print(f"throughput, one core, {len(texts)} texts (mean {mean_chars:.0f} chars), best of 3:")
    print(f"  raw jieba.lcut (default tokenizer, HMM on)   {jieba_rate:8.0f} texts/s")
    print(
        f"  gridbot predict_proba, batches of {BATCH}       {batch_rate:8.0f} texts/s "
        f"({batch_rate / jieba_rate:.0%} of jieba)"
    )
    print(
        f"  gridbot predict_proba, one text at a time   {single_rate:8.0f} texts/s "
        f"({single_rate / jieba_rate:.0%} of jieba)"
    )

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "router.gbm"
        last_model.save(path)
        size = path.stat().st_size
        loads = []
        for _ in range(5):
            t0 = time.perf_counter()
            loaded = LinearTextModel.load(path, tokenizer)
            loads.append(time.perf_counter() - t0)
        same = np.array_equal(
            loaded.predict_proba(texts[:200])[1], last_model.predict_proba(texts[:200])[1]
        )
        cold_code = (
            "import time; t = time.perf_counter(); from nlp import modelfile; "
            "from nlp.features import Featurizer, FeatureSettings; "
            f"d = modelfile.read({str(path)!r}); "
            "Featurizer(FeatureSettings.from_json(d.meta['features']), d.vocabulary, "
            "d.arrays['idf']); print(time.perf_counter() - t)"
        )
        cold = [
            float(
                subprocess.run(
                    [sys.executable, "-c", cold_code],
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
            for _ in range(3)
        ]
    n_features = last_model.featurizer.n_features
    print(
        f"model file (fold {FOLDS}): {size / 1e6:.2f} MB, {n_features} features x "
        f"{len(last_model.labels)} labels; load {min(loads) * 1000:.0f} ms best, "
        f"{max(loads) * 1000:.0f} ms worst of 5 (tokenizer already built); "
        f"reloaded predictions equal: {same}"
    )
    print(
        f"  cold load in a fresh interpreter (imports numpy/scipy + read + featuriser, no "
        f"tokenizer): {min(cold) * 1000:.0f} ms best of 3"
    )

    tracemalloc.start()
    train_table(texts, labels, tokenizer=tokenizer, seed=SEED, extra=extra)
    _, fit_peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    model_batches()
    _, predict_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"peak memory: training on all {len(texts)} texts {fit_peak / 1e6:.0f} MB (tracemalloc), "
        f"predicting in batches of {BATCH} {predict_peak / 1e6:.1f} MB; whole bench process "
        f"max RSS {rss:.0f} MB"
    )

    if args.corpus is not None:
        from bot.language import demo_taxonomy_rules
        from nlp.trained import evaluate_held_out

        rules = demo_taxonomy_rules()
        print(f"\ngridbot's own corpus ({args.corpus}), trained on train, scored on eval:")
        for line in evaluate_held_out(rules, Tokenizer(), args.corpus).lines():
            print("  " + line)

    command = ".venv/bin/python bench/classifier.py"
    if args.corpus is not None:
        command += f" --corpus {args.corpus}"
    print(f"\nrepeat: {command}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
