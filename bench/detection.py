"""Request detection on gridbot's own corpus: held-out figures, by round, and the CV threshold.

Trains the default classifier on the ``train`` lines of ``nlp/data/corpus`` (``build_default``,
no cache) and scores the ``eval`` lines at the app's operating point
(``TrainedClassifier.classify(text).is_request``, threshold ``nlp.trained.DEFAULT_THRESHOLD``),
with the reference rows of ``nlp.trained.evaluate_held_out``; then the same figures for the
``eval`` lines of each round in which the corpus was written (``ROUNDS``: the first example of
each round, in file order; see the corpus README); then, unless ``--no-threshold``, the threshold
that the train-CV rule picks (``nlp.trained.choose_threshold``, which never reads ``eval`` lines).

    .venv/bin/python bench/detection.py [--corpus nlp/data/corpus] [--no-threshold]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (name, index of the round's first example in detection.tsv, counting examples from 0)
ROUNDS = (
    ("rounds 1-2", 0),
    ("round 3", 2059),
    ("round 4", 3657),
    ("round 5", 5241),
    ("round 6", 7228),
)


def main() -> int:
    from bot.language import demo_taxonomy_rules
    from nlp.tokenizer import Tokenizer
    from nlp.trained import (
        CHATTER,
        DETECTION_FILE,
        REQUEST,
        build_default,
        choose_threshold,
        detection_report,
        evaluate_held_out,
        read_corpus,
    )

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "nlp" / "data" / "corpus")
    parser.add_argument("--no-threshold", action="store_true")
    args = parser.parse_args()
    rules = demo_taxonomy_rules()
    for line in evaluate_held_out(rules, Tokenizer(), args.corpus).lines():
        print(line)
    clf = build_default(rules, Tokenizer(), args.corpus)
    examples = read_corpus(args.corpus / DETECTION_FILE, (REQUEST, CHATTER))
    bounds = [start for _, start in ROUNDS[1:]] + [len(examples)]
    print(f"\nthe app at threshold {clf.threshold:.2f}, eval lines by round:")
    for (name, start), end in zip(ROUNDS, bounds, strict=True):
        part = [e for e in examples[start:end] if e.split == "eval"]
        if not part:
            continue
        truth = [e.label == REQUEST for e in part]
        r = detection_report(truth, [clf.classify(e.text).is_request for e in part])
        print(
            f"  {name:<11} requests {r.n_request:>4} chatter {r.n_chatter:>4}: P {r.precision:.3f} "
            f"R {r.recall:.3f} F1 {r.f1:.3f}, chatter filed {r.chatter_filed:.1%}"
        )
    if not args.no_threshold:
        started = time.perf_counter()
        chosen = choose_threshold(rules, Tokenizer(), args.corpus)
        took = time.perf_counter() - started
        print(f"\ntrain-CV threshold (5-fold, seeds 0 and 1 pooled): {chosen:.3f} ({took:.0f} s)")
    print("\nrepeat: .venv/bin/python bench/detection.py")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
