"""Duplicate detection on the labelled pair set: precision, recall, F1 and throughput.

The pairs (``nlp/data/corpus/duplicate_pairs.tsv``: ``label<TAB>text_a<TAB>text_b<TAB>same``)
are split in two by a stable hash of each line (``LabelledPair.held_out``). Thresholds and
weights were tuned on the *tuning* half only; the *held-out* half is reported, never tuned on.
A pair counts as linked when its score reaches ``threshold`` (same enterprise: ``find``) or
``cluster_threshold`` (other enterprises: ``cluster``); ``duplicate`` is the positive label,
``near_miss`` and ``unrelated`` the negative ones.

    .venv/bin/python bench/duplicates.py [--pairs PATH] [--tune] [--errors] [--rounds 3]
        [--random-titles ../shared/data/tipdm2020_messages_unlabelled.csv]

``--tune`` searches the two thresholds on the tuning half (precision >= --min-precision, best
recall); ``--errors`` lists the tuning half's mistakes (never the held-out half's).
``--random-titles`` also scores random pairs of titles from a CSV with a ``title`` column (the
TipDM 2020 citizens' messages, read in place, never copied into the project): almost all such
pairs are unrelated, so the share that would link is a false-link rate at scale.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from nlp.duplicates import (
    Candidate,
    DuplicateFinder,
    LabelledPair,
    Scores,
    parse_pairs,
    score_pairs,
)
from nlp.tokenizer import Tokenizer

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PAIRS = ROOT / "nlp" / "data" / "corpus" / "duplicate_pairs.tsv"
GRID = [round(0.20 + 0.025 * i, 3) for i in range(29)]  # 0.20 .. 0.90
CANDIDATES = 300  # open orders a webhook call compares against (a few hundred at most)


def fmt(name: str, s: Scores) -> str:
    return (
        f"{name:<24} P {s.precision:.3f}  R {s.recall:.3f}  F1 {s.f1:.3f}"
        f"   (tp {s.tp}, fp {s.fp}, fn {s.fn}, tn {s.tn})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pairs", type=Path, default=DEFAULT_PAIRS)
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--cluster-threshold", type=float, default=None)
    parser.add_argument("--tune", action="store_true", help="search thresholds (tuning half)")
    parser.add_argument("--min-precision", type=float, default=0.97)
    parser.add_argument("--errors", action="store_true", help="list the tuning half's errors")
    parser.add_argument("--rounds", type=int, default=3, help="throughput repetitions")
    parser.add_argument("--random-titles", type=Path, default=None, help="CSV with a title column")
    parser.add_argument("--random-pairs", type=int, default=100_000)
    args = parser.parse_args()

    if not args.pairs.exists():
        print(f"no pair file at {args.pairs}", file=sys.stderr)
        return 2
    pairs = parse_pairs(args.pairs.read_text(encoding="utf-8"))
    started = time.perf_counter()
    tokenizer = Tokenizer()
    print(f"tokenizer built in {time.perf_counter() - started:.2f} s")
    finder = DuplicateFinder(tokenizer)
    if args.threshold is not None:
        finder.threshold = args.threshold
    if args.cluster_threshold is not None:
        finder.cluster_threshold = args.cluster_threshold

    tune = [p for p in pairs if not p.held_out]
    held = [p for p in pairs if p.held_out]
    scored = [(p, finder.similarity(p.text_a, p.text_b)) for p in pairs]
    by_half = {
        "tuning": [(p, s) for p, s in scored if not p.held_out],
        "held-out": [(p, s) for p, s in scored if p.held_out],
        "whole": scored,
    }
    shown = args.pairs.relative_to(ROOT) if args.pairs.is_relative_to(ROOT) else args.pairs
    print(f"pairs: {shown}")
    for name, part in (("tuning", tune), ("held-out", held), ("whole", pairs)):
        dup = sum(p.label == "duplicate" for p in part)
        near = sum(p.label == "near_miss" for p in part)
        unrel = sum(p.label == "unrelated" for p in part)
        same = sum(p.same_enterprise for p in part)
        print(
            f"  {name:<9} {len(part):4d} pairs: duplicate {dup}, near_miss {near},"
            f" unrelated {unrel}; same enterprise {same}"
        )

    cv = cross_validate(by_half["tuning"], args.min_precision)
    print("\n" + fmt("5-fold CV in tuning half", cv))
    print("  (thresholds chosen on 4 folds at precision >= --min-precision, scored on the 5th)")

    if args.tune:
        best = tune_thresholds(by_half["tuning"], args.min_precision)
        if best is None:
            print(
                f"\n--tune: no thresholds reach precision {args.min_precision} on the tuning half"
            )
        else:
            finder.threshold, finder.cluster_threshold = best
            print(f"\n--tune: threshold {best[0]}, cluster_threshold {best[1]} (tuning half)")

    t, c = finder.threshold, finder.cluster_threshold
    report_at(by_half, t, c)
    pr_table(by_half)
    if args.errors:
        print_errors(finder, by_half["tuning"], t, c)
    if args.random_titles is not None:
        random_pairs(finder, args.random_titles, args.random_pairs)
    throughput(tokenizer, pairs, args.rounds)
    print(
        "\nrepeat: .venv/bin/python bench/duplicates.py"
        " --random-titles ../shared/data/tipdm2020_messages_unlabelled.csv"
    )
    return 0


Scored = list[tuple[LabelledPair, float]]


def report_at(by_half: dict[str, Scored], t: float, c: float) -> None:
    print(f"\nat threshold {t} (same enterprise) / cluster_threshold {c} (other enterprises)")
    for name, part in by_half.items():
        print("  " + fmt(name, score_pairs(part, t, c)))
        same = [(p, s) for p, s in part if p.same_enterprise]
        other = [(p, s) for p, s in part if not p.same_enterprise]
        print("    " + fmt("same enterprise", score_pairs(same, t, c)))
        print("    " + fmt("other enterprises", score_pairs(other, t, c)))
    for label in ("near_miss", "unrelated"):
        for name in ("held-out", "whole"):
            negatives = [(p, s) for p, s in by_half[name] if p.label == label]
            wrong = sum(s >= (t if p.same_enterprise else c) for p, s in negatives)
            print(f"  {label} linked by mistake ({name}): {wrong} of {len(negatives)}")


def pr_table(by_half: dict[str, Scored]) -> None:
    print("\nprecision-recall, one threshold for both kinds of pair:")
    print("  threshold   tuning P/R      held-out P/R    whole P/R")
    for x in GRID[::2]:
        cells = []
        for name in ("tuning", "held-out", "whole"):
            s = score_pairs(by_half[name], x, x)
            cells.append(f"{s.precision:.3f}/{s.recall:.3f}")
        print(f"  {x:9.3f}   " + "   ".join(f"{cell:<13}" for cell in cells))


def print_errors(finder: DuplicateFinder, part: Scored, t: float, c: float) -> None:
    print("\nerrors on the tuning half:")
    for p, score in sorted(part, key=lambda item: item[1]):
        linked = score >= (t if p.same_enterprise else c)
        if linked != p.positive:
            result = finder.compare(finder.signature(p.text_a), finder.signature(p.text_b))
            kind = "FP" if linked else "FN"
            print(f"  {kind} {score:.3f} same={int(p.same_enterprise)} {p.label}")
            print(f"     a: {p.text_a}\n     b: {p.text_b}\n     {result.reasons()}")


def random_pairs(finder: DuplicateFinder, path: Path, n: int) -> None:
    with path.open(encoding="utf-8", newline="") as fh:
        titles = sorted({row["title"].strip() for row in csv.DictReader(fh) if row["title"]})
    rng = random.Random(0)
    sigs = {t: finder.signature(t) for t in titles}
    scores = []
    for _ in range(n):
        a, b = rng.sample(titles, 2)
        scores.append(finder.compare(sigs[a], sigs[b]).score)
    print(f"\nrandom pairs of {len(titles)} titles from {path.name} ({n} pairs, seed 0):")
    for x in sorted({finder.threshold, finder.cluster_threshold, 0.25, 0.3, 0.4, 0.5}):
        share = sum(s >= x for s in scores) / n
        print(f"  score >= {x:.3f}: {share:.3%}")


def tune_thresholds(part: Scored, min_precision: float) -> tuple[float, float] | None:
    """The thresholds with the best recall at ``min_precision`` (ties: the higher thresholds)."""
    best: tuple[float, float, float] | None = None
    for t in GRID:
        for c in GRID:
            if c < t:
                continue  # other enterprises never get a lower bar than the same enterprise
            s = score_pairs(part, t, c)
            if s.precision < min_precision:
                continue
            key = (s.recall, t, c)
            if best is None or key > best:
                best = key
    return None if best is None else (best[1], best[2])


def throughput(tokenizer: Tokenizer, pairs: list[LabelledPair], rounds: int) -> None:
    texts_a = [p.text_a for p in pairs]
    texts_b = [p.text_b for p in pairs]
    cold = warm = 0.0
    for _ in range(rounds):
        finder = DuplicateFinder(tokenizer)  # empty signature cache
        started = time.perf_counter()
        for a, b in zip(texts_a, texts_b, strict=True):
            finder.compare(finder.signature(a), finder.signature(b))
        cold = max(cold, len(pairs) / (time.perf_counter() - started))
        sigs = [
            (finder.signature(a), finder.signature(b))
            for a, b in zip(texts_a, texts_b, strict=True)
        ]
        started = time.perf_counter()
        for sa, sb in sigs:
            finder.compare(sa, sb)
        warm = max(warm, len(pairs) / (time.perf_counter() - started))
    print(f"\nthroughput (best of {rounds}):")
    print(f"  {cold:,.0f} pairs/s cold (both signatures computed, then compared)")
    print(f"  {warm:,.0f} pairs/s warm (signatures precomputed)")
    per_call(tokenizer, [*texts_a, *texts_b], rounds)


def per_call(tokenizer: Tokenizer, texts: list[str], rounds: int, n: int = CANDIDATES) -> None:
    """Milliseconds per ``find`` and per ``cluster`` call against ``n`` open orders, as in the
    webhook: warm (order signatures cached by earlier calls) and cold (a fresh finder)."""
    now = datetime(2026, 11, 23, 9, 0)
    candidates = [
        Candidate(f"GD-{i:04d}", texts[i % len(texts)], f"e{i % 7}", None, now - timedelta(days=1))
        for i in range(n)
    ]
    queries = texts[: min(len(texts), 100)]
    cold_ms = []
    for r in range(rounds):
        finder = DuplicateFinder(tokenizer)
        query = queries[r % len(queries)]
        started = time.perf_counter()
        finder.find(query, "e1", None, now, candidates)
        finder.cluster(query, "e1", None, now, candidates)
        cold_ms.append((time.perf_counter() - started) * 1000)
    finder = DuplicateFinder(tokenizer)
    finder.find(texts[0], "e1", None, now, candidates)  # warms the cache
    for q in queries:
        finder.signature(q)
    best = {"find": float("inf"), "cluster": float("inf")}
    for _ in range(rounds):
        for name in best:
            call = finder.find if name == "find" else finder.cluster
            started = time.perf_counter()
            for q in queries:
                call(q, "e1", None, now, candidates)
            best[name] = min(best[name], (time.perf_counter() - started) * 1000 / len(queries))
    print(
        f"  per call against {n} open orders (mean of {len(queries)} requests, best of {rounds}):"
    )
    print(f"    find {best['find']:.2f} ms, cluster {best['cluster']:.2f} ms (orders cached)")
    print(
        f"    find + cluster by a fresh finder (computes all {n} order signatures):"
        f" {min(cold_ms):.1f} ms best, {max(cold_ms):.1f} ms worst"
    )


def cross_validate(part: Scored, min_precision: float, folds: int = 5) -> Scores:
    """Pooled counts of ``folds``-fold cross-validation inside the tuning half: the thresholds
    are chosen (:func:`tune_thresholds`) on the other folds and applied to each fold."""
    tp = fp = fn = tn = 0
    for k in range(folds):
        train = [(p, s) for p, s in part if _fold(p, folds) != k]
        test = [(p, s) for p, s in part if _fold(p, folds) == k]
        best = tune_thresholds(train, min_precision)
        t, c = best if best is not None else (1.0, 1.0)
        s = score_pairs(test, t, c)
        tp, fp, fn, tn = tp + s.tp, fp + s.fp, fn + s.fn, tn + s.tn
    return Scores(tp, fp, fn, tn)


def _fold(pair: LabelledPair, folds: int) -> int:
    # a byte of the line's hash that the held-out split does not use
    return hashlib.sha256(pair.line.encode("utf-8")).digest()[1] % folds


if __name__ == "__main__":
    sys.exit(main())
