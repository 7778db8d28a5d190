"""Check the team's labelled corpus and print its counts (pasted into README.md).

    python nlp/data/corpus/make_counts.py            # checks + counts, exit 1 on a problem

Checks: the column count and the allowed values of each file; no tabs or empty texts; no text
repeated within a file (for the pairs: no pair repeated, in either order, and no pair of two
identical texts); every routing category is a ``code`` of ``bot/demo_data/taxonomy.toml``;
both splits present for every detection label and every routing category.
"""

from __future__ import annotations

import sys
import tomllib
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
TAXONOMY = ROOT / "bot" / "demo_data" / "taxonomy.toml"
SPLITS = ("train", "eval")


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def rows(name: str, width: int) -> list[list[str]]:
    out = []
    for number, line in enumerate((HERE / name).read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split("\t")
        if len(fields) != width or any(not f.strip() or f != f.strip() for f in fields):
            raise SystemExit(f"{name}:{number}: expected {width} trimmed, non-empty fields")
        out.append(fields)
    return out


def main() -> int:
    problems: list[str] = []
    codes = [c["code"] for c in tomllib.loads(TAXONOMY.read_text(encoding="utf-8"))["categories"]]

    detection = rows("detection.tsv", 3)
    routing = rows("routing.tsv", 3)
    pairs = rows("duplicate_pairs.tsv", 4)

    for name, table in (("detection.tsv", detection), ("routing.tsv", routing)):
        repeated = [t for t, n in Counter(r[2] for r in table).items() if n > 1]
        if repeated:
            problems.append(f"{name}: repeated texts {repeated[:5]}")
        if bad := {r[0] for r in table} - set(SPLITS):
            problems.append(f"{name}: unknown splits {bad}")
    if bad := {r[1] for r in detection} - {"request", "chatter"}:
        problems.append(f"detection.tsv: unknown labels {bad}")
    if bad := {r[1] for r in routing} - set(codes):
        problems.append(f"routing.tsv: categories not in the taxonomy {bad}")
    if bad := {r[0] for r in pairs} - {"duplicate", "near_miss", "unrelated"}:
        problems.append(f"duplicate_pairs.tsv: unknown labels {bad}")
    if bad := {r[3] for r in pairs} - {"0", "1"}:
        problems.append(f"duplicate_pairs.tsv: same_enterprise must be 0 or 1, got {bad}")
    keys = Counter(frozenset((r[1], r[2])) for r in pairs)
    if twice := [sorted(k) for k, n in keys.items() if n > 1]:
        problems.append(f"duplicate_pairs.tsv: repeated pairs {twice[:5]}")
    if same := [r for r in pairs if r[1] == r[2]]:
        problems.append(f"duplicate_pairs.tsv: identical texts in a pair {same[:3]}")

    det = Counter((r[0], r[1]) for r in detection)
    rou = Counter((r[0], r[1]) for r in routing)
    for label in ("request", "chatter"):
        problems += [f"detection.tsv: no {s} line for {label}" for s in SPLITS if not det[s, label]]
    for code in codes:
        problems += [f"routing.tsv: no {s} line for {code}" for s in SPLITS if not rou[s, code]]

    total = len(detection)
    say(f"detection.tsv: {total} lines")
    say("| label | train | eval | total | share |")
    say("|---|---:|---:|---:|---:|")
    for label in ("request", "chatter"):
        t, e = det["train", label], det["eval", label]
        say(f"| {label} | {t} | {e} | {t + e} | {(t + e) / total:.1%} |")
    t, e = (
        sum(det["train", x] for x in ("request", "chatter")),
        sum(det["eval", x] for x in ("request", "chatter")),
    )
    say(f"| all | {t} | {e} | {total} | eval {e / total:.1%} |")
    lengths = sorted(len(r[2]) for r in detection)
    say(
        f"text length: min {lengths[0]}, median {lengths[len(lengths) // 2]}, max {lengths[-1]};"
        f" <= 6 chars: {sum(n <= 6 for n in lengths)};"
        f" with an @mention: {sum(r[2].startswith('@') for r in detection)}"
    )

    say(f"\nrouting.tsv: {len(routing)} lines")
    say("| category | train | eval | total |")
    say("|---|---:|---:|---:|")
    for code in codes:
        t, e = rou["train", code], rou["eval", code]
        say(f"| {code} | {t} | {e} | {t + e} |")
    t = sum(rou["train", c] for c in codes)
    say(f"| all | {t} | {len(routing) - t} | {len(routing)} |")

    say(f"\nduplicate_pairs.tsv: {len(pairs)} pairs")
    say("| label | same enterprise | other enterprise | total | share |")
    say("|---|---:|---:|---:|---:|")
    pc = Counter((r[0], r[3]) for r in pairs)
    for label in ("duplicate", "near_miss", "unrelated"):
        s, o = pc[label, "1"], pc[label, "0"]
        say(f"| {label} | {s} | {o} | {s + o} | {(s + o) / len(pairs):.1%} |")

    for p in problems:
        sys.stderr.write(f"PROBLEM: {p}\n")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
