"""A small ensemble of regression trees as plain arrays: fitted by LightGBM, read without it.

The request detector's stacker (:mod:`nlp.trained`) is a gradient-boosted tree ensemble over a
few dozen named inputs (the detector's probability, the keyword score, the keyword classifier's
signals, surface features of the text). LightGBM fits it (:func:`fit_trees`, training only); the
trees are then kept as arrays (:class:`TreeEnsemble`) that a model file stores as JSON lists and
numpy evaluates, so scoring needs no LightGBM and loading runs no code.

Layout: nodes of all trees in one set of arrays, each tree in pre-order from its root
(``roots``). A node ``i`` is a leaf when ``feature[i] < 0`` (its output is ``value[i]``);
otherwise it goes to ``left[i]`` when ``x[feature[i]] <= threshold[i]``, else to ``right[i]``.
Children come after their parent (``left[i] > i`` and ``right[i] > i``), which
:meth:`TreeEnsemble.from_json` checks, so every walk ends. The raw score (log-odds) is the sum of
the leaves reached, one per tree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# LightGBM settings of the detector's stacker: chosen by 5-fold CV on the corpus' train lines
# (bench/experiments/detection_families.py, variant gbt), one thread so training is repeatable
TREE_PARAMS: dict[str, Any] = {
    "n_estimators": 200,
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_child_samples": 20,
}
ARRAYS = ("feature", "threshold", "left", "right", "value")


@dataclass(frozen=True)
class TreeEnsemble:
    inputs: tuple[str, ...]  # the name of each input column, in order
    feature: np.ndarray  # int64 (N,): input column of the split, -1 at a leaf
    threshold: np.ndarray  # float64 (N,)
    left: np.ndarray  # int64 (N,)
    right: np.ndarray  # int64 (N,)
    value: np.ndarray  # float64 (N,): leaf output (0 at inner nodes)
    roots: np.ndarray  # int64 (T,)

    def raw(self, x: Sequence[float] | np.ndarray) -> float:
        """The raw score (log-odds) of one input row: every tree at once, a level a step."""
        row = np.asarray(x, dtype=np.float64)
        node = self.roots
        inner = self.feature[node] >= 0
        while inner.any():
            f = self.feature[node]
            go_left = row[np.where(inner, f, 0)] <= self.threshold[node]
            step = np.where(go_left, self.left[node], self.right[node])
            node = np.where(inner, step, node)
            inner = self.feature[node] >= 0
        return float(self.value[node].sum())

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"inputs": list(self.inputs), "roots": self.roots.tolist()}
        out.update({name: getattr(self, name).tolist() for name in ARRAYS})
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any], known: Sequence[str] | None = None) -> TreeEnsemble:
        """Check and read :meth:`to_json`'s object; ``ValueError`` says what is wrong. With
        ``known``, every input name must be one of them."""
        if not isinstance(data, Mapping):
            raise ValueError("trees must be an object")
        inputs = data.get("inputs")
        if (
            not isinstance(inputs, list)
            or not inputs
            or not all(isinstance(n, str) for n in inputs)
        ):
            raise ValueError("trees.inputs must be a list of names")
        if len(set(inputs)) != len(inputs):
            raise ValueError("trees.inputs has duplicates")
        if known is not None:
            unknown = [n for n in inputs if n not in known]
            if unknown:
                raise ValueError(f"trees use unknown inputs: {', '.join(unknown[:5])}")
        lists = {name: data.get(name) for name in (*ARRAYS, "roots")}
        for name, values in lists.items():
            if not isinstance(values, list) or not values:
                raise ValueError(f"trees.{name} must be a non-empty list of numbers")
            if not all(
                _number(v, integer=name in ("feature", "left", "right", "roots")) for v in values
            ):
                raise ValueError(f"trees.{name} must hold finite numbers")
        n = len(lists["feature"])  # type: ignore[arg-type]
        if any(len(lists[name]) != n for name in ARRAYS):  # type: ignore[arg-type]
            raise ValueError("trees arrays differ in length")
        feature = np.asarray(lists["feature"], dtype=np.int64)
        left = np.asarray(lists["left"], dtype=np.int64)
        right = np.asarray(lists["right"], dtype=np.int64)
        roots = np.asarray(lists["roots"], dtype=np.int64)
        index = np.arange(n)
        inner = feature >= 0
        if np.any(feature >= len(inputs)):
            raise ValueError("trees.feature names an input that does not exist")
        if np.any(inner & ((left <= index) | (right <= index) | (left >= n) | (right >= n))):
            raise ValueError("trees: a child must come after its parent, inside the arrays")
        if np.any((roots < 0) | (roots >= n)):
            raise ValueError("trees.roots out of range")
        return cls(
            inputs=tuple(inputs),
            feature=feature,
            threshold=np.asarray(lists["threshold"], dtype=np.float64),
            left=left,
            right=right,
            value=np.asarray(lists["value"], dtype=np.float64),
            roots=roots,
        )


def _number(value: Any, *, integer: bool) -> bool:
    if isinstance(value, bool):
        return False
    if integer:
        return isinstance(value, int)
    return isinstance(value, int | float) and math.isfinite(value)


def fit_trees(
    x: np.ndarray, y: Sequence[bool] | np.ndarray, inputs: Sequence[str], *, seed: int = 0
) -> TreeEnsemble:
    """Gradient-boosted trees (LightGBM, ``TREE_PARAMS``) of ``y`` on the rows of ``x``, as
    arrays. Missing values are not used (every input is always present)."""
    import lightgbm as lgb

    model = lgb.LGBMClassifier(
        **TREE_PARAMS,
        random_state=seed,
        num_threads=1,
        deterministic=True,
        force_row_wise=True,
        use_missing=False,
        verbose=-1,
    )
    model.fit(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=bool))
    return from_lightgbm(model.booster_.dump_model(), inputs)


def from_lightgbm(dump: Mapping[str, Any], inputs: Sequence[str]) -> TreeEnsemble:
    """The arrays of a LightGBM binary model's ``dump_model()`` (numerical ``<=`` splits)."""
    feature: list[int] = []
    threshold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    value: list[float] = []
    roots: list[int] = []
    for tree in dump["tree_info"]:
        roots.append(len(feature))
        stack: list[tuple[Mapping[str, Any], int | None, str]] = [
            (tree["tree_structure"], None, "")
        ]
        while stack:  # pre-order: a node, then its left subtree, then its right one
            node, parent, side = stack.pop()
            at = len(feature)
            if parent is not None:
                (left if side == "l" else right)[parent] = at
            if "leaf_value" in node:
                feature.append(-1)
                threshold.append(0.0)
                value.append(float(node["leaf_value"]))
            else:
                if node.get("decision_type") != "<=":
                    raise ValueError(f"unsupported split {node.get('decision_type')!r}")
                feature.append(int(node["split_feature"]))
                threshold.append(float(node["threshold"]))
                value.append(0.0)
            left.append(0)
            right.append(0)
            if "leaf_value" not in node:
                stack.append((node["right_child"], at, "r"))
                stack.append((node["left_child"], at, "l"))
    return TreeEnsemble(
        inputs=tuple(inputs),
        feature=np.asarray(feature, dtype=np.int64),
        threshold=np.asarray(threshold, dtype=np.float64),
        left=np.asarray(left, dtype=np.int64),
        right=np.asarray(right, dtype=np.int64),
        value=np.asarray(value, dtype=np.float64),
        roots=np.asarray(roots, dtype=np.int64),
    )
