"""Experiment: self-training the TipDM router on messages that have an official reply.

Data (read from ``../shared/data``, never copied): ``tipdm2020_train.csv`` (2,180 labelled
messages, 7 labels) and ``tipdm2020_messages_with_replies.csv`` (2,816 messages with the
department's reply; they also belong to the 8 other top-level labels of the taxonomy). Source:
8th TipDM Cup (第八届"泰迪杯"数据挖掘挑战赛, 2020, problem C).

Protocol: stratified 5-fold CV on a development shuffle (``--seed``, default 12345; never the
benchmark's seed 0). In each fold the router of :func:`nlp.linear.train_table` is trained on the
training part, scores every replied message (message + reply, message alone, reply alone), and a
variant adds a selection of them, *message text only* (a new message has no reply yet), as
pseudo-labelled extra examples with a weight < 1. Replied messages that share a title or a body
opening with a test message of the fold are dropped first. Every variant is scored on the same
test folds as the baseline. Results: ``bench/RESULTS.md`` (2026-12-01).

    .venv/bin/python bench/experiments/replies_selftrain.py [--seed 12345] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import csv
import re
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

# department names in a reply -> top-level label; "其他" = a label this router does not have
DEPARTMENTS = {
    "教育文体": r"教育局|教育厅|教育部门|文体|文旅|文化|体育局|学校",
    "劳动和社会保障": r"人社|人力资源|社会保障|社保|医保|医疗保障|劳动监察|劳动保障|就业",
    "卫生计生": r"卫健|卫生健康|卫生计生|卫计|卫生局|疾控|医院",
    "环境保护": r"环保|生态环境|环境保护|环境监测",
    "交通运输": r"交通运输|交通局|公交|地铁|轨道|运管|客运|出租车",
    "商贸旅游": r"商务|市场监管|市场监督|工商|旅游|食药|质监",
    "城乡建设": r"住建|住房和城乡建设|城管|城市管理|规划|物业|房产|建设局|不动产|住房保障|"
    r"街道办|水务|供水",
    "其他": r"公安|派出所|民政|国土|自然资源|农业|农村|畜牧|林业|发改|发展和改革|财政|物价|"
    r"纪委|监委|信访|税务|科技|工信|政法|法院|司法",
}


def department_label(reply: str) -> str:
    """The label whose departments the reply names most often ("" if none or a tie)."""
    counts = {k: len(re.findall(p, reply)) for k, p in DEPARTMENTS.items()}
    best = max(counts.values())
    top = [k for k, v in counts.items() if v == best]
    return top[0] if best and len(top) == 1 else ""


@dataclass(frozen=True)
class Variant:
    name: str
    rule: str  # "both", "cotrain" or "department"
    tau: float = 0.9
    weight: float = 0.3
    below: float = 1.01  # co-training: only messages the message view is less sure of
    drop_other: bool = True  # drop replies naming mostly departments of other labels
    balance: bool = True  # class balance counts pseudo examples by their weight


VARIANTS = (
    Variant(
        "message+reply view, p >= 0.9, w 0.5, balance_extra", "both", drop_other=False, weight=0.5
    ),
    Variant(
        "message+reply, p >= 0.9, w 0.5, plain balance",
        "both",
        0.9,
        0.5,
        balance=False,
        drop_other=False,
    ),
    Variant("message+reply view, p >= 0.9, w 0.3, no other-dept replies", "both", 0.9, 0.3),
    Variant("co-training: msg & reply views agree, p >= 0.6, w 0.3", "cotrain", 0.6, 0.3),
    Variant("co-training, p >= 0.5, message view p < 0.9, w 0.3", "cotrain", 0.5, 0.3, 0.9),
    Variant("department named in the reply as label, w 0.3", "department"),
)


@dataclass
class Pool:
    messages: list[str]
    replies: list[str]
    keys: list[tuple[str, str]]
    departments: np.ndarray


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def key(row: dict[str, str]) -> tuple[str, str]:
    return (row["title"] or "").strip(), row["body"].strip()[:50]


def overlapping(pool: Pool, test_keys: Sequence[tuple[str, str]]) -> set[int]:
    titles = {t for t, _ in test_keys if t}
    bodies = {b for _, b in test_keys if len(b) >= 20}
    return {i for i, (t, b) in enumerate(pool.keys) if (t and t in titles) or b in bodies}


def select(
    v: Variant, labels: np.ndarray, views: dict[str, np.ndarray], pool: Pool
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the chosen replied messages and their pseudo-labels."""
    if v.rule == "department":
        chosen = np.isin(pool.departments, labels)
        return np.flatnonzero(chosen), pool.departments
    if v.rule == "both":
        p = views["both"]
        chosen = p.max(axis=1) >= v.tau
    else:
        p, r = views["message"], views["reply"]
        chosen = (p.argmax(axis=1) == r.argmax(axis=1)) & (np.minimum(p.max(1), r.max(1)) >= v.tau)
        chosen &= p.max(axis=1) < v.below
    if v.drop_other:
        chosen &= pool.departments != "其他"
    return np.flatnonzero(chosen), labels[p.argmax(axis=1)]


def fmt(values: Sequence[float]) -> str:
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--seed", type=int, default=12345)
    args = parser.parse_args()
    if args.seed == 0:
        parser.error("seed 0 is the benchmark's split: choose settings on another one")
    from classifier import load_tipdm, single_core

    single_core()
    import jieba
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold

    from nlp.linear import LinearTextModel, train_table
    from nlp.tokenizer import Tokenizer

    jieba.setLogLevel(60)
    texts, labels, extra = load_tipdm(args.data)
    train_keys = [key(r) for r in read_rows(args.data / "tipdm2020_train.csv")]
    rows = read_rows(args.data / "tipdm2020_messages_with_replies.csv")
    pool = Pool(
        [(r["title"] or "") + " " + r["body"] for r in rows],
        [r["reply"] for r in rows],
        [key(r) for r in rows],
        np.array([department_label(r["reply"]) for r in rows]),
    )
    y = np.array(labels)
    tokenizer = Tokenizer()
    scores: dict[str, list[float]] = {"baseline (train_table)": []}
    counts: dict[str, list[int]] = {}
    splitter = StratifiedKFold(n_splits=5, shuffle=True, random_state=args.seed)
    for fold, (tr, te) in enumerate(splitter.split(texts, y), 1):
        train_texts, test_texts = [texts[i] for i in tr], [texts[i] for i in te]
        base = train_table(train_texts, list(y[tr]), tokenizer=tokenizer, extra=extra)
        scores["baseline (train_table)"].append(
            f1_score(y[te], base.predict(test_texts), average="macro")
        )
        both = [m + " " + r for m, r in zip(pool.messages, pool.replies, strict=True)]
        views = {
            "both": base.predict_proba(both)[1],
            "message": base.predict_proba(pool.messages)[1],
            "reply": base.predict_proba(pool.replies)[1],
        }
        labs = np.array(base.labels)
        excluded = overlapping(pool, [train_keys[i] for i in te])
        for v in VARIANTS:
            idx, pseudo = select(v, labs, views, pool)
            idx = np.array([i for i in idx if i not in excluded], dtype=np.int64)
            added = [(pool.messages[i], str(pseudo[i])) for i in idx]
            model = LinearTextModel.fit(
                train_texts,
                list(y[tr]),
                tokenizer=tokenizer,
                extra=[*extra, *added],
                extra_weight=[1.0] * len(extra) + [v.weight] * len(added),
                class_bias=True,
                balance_extra=v.balance,
            )
            pred = model.predict(test_texts)
            scores.setdefault(v.name, []).append(f1_score(y[te], pred, average="macro"))
            counts.setdefault(v.name, []).append(len(added))
        print(f"fold {fold}: " + " ".join(f"{s[-1]:.4f}" for s in scores.values()), flush=True)
    print(f"\nseed {args.seed}, 5 folds, macro-F1 mean ± sd (pseudo-labelled examples per fold)")
    for name, values in scores.items():
        n = counts.get(name)
        print(f"  {name:<62} {fmt(values)}" + (f"  ({statistics.mean(n):.0f})" if n else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
