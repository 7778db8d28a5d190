"""An RBF support-vector machine over encoder vectors, kept as plain arrays.

The request detector's stacker (:mod:`nlp.trained`) takes, beside the n-gram detector and the
keyword signals, the margin of an RBF SVM trained on the texts' pretrained-encoder vectors
(:mod:`nlp.encoder`): ``margin(x) = sum_j dual_j * exp(-gamma * |x - s_j|^2) + intercept``
over the support vectors ``s_j``. scikit-learn's ``SVC`` fits it (training only); the model
file keeps the support vectors as the encoder's int8 codes (they are training vectors, so
exact), the dual coefficients, ``gamma`` and the intercept, and numpy computes the margin.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nlp.encoder import DIM, SCALE

# chosen by train CV (bench/experiments/detection_families.py, variants e5svm-cC): 2 in session
# 5; 64 in session 6 (recall at 1.5 % chatter filed rose with C up to 32-128: the encoder's
# vectors of a request and its look-alike chatter are close, a soft margin blurs them)
SVM_C = 64.0
MARGIN_LIMIT = 13.8  # |margin| is clipped here (the stacker saw logits of probabilities >= 1e-6)


@dataclass(frozen=True)
class KernelScorer:
    encoder: str  # the encoder whose vectors it reads (nlp.encoder.encoder_name())
    support: np.ndarray  # int8 (S, DIM): support vectors as encoder codes
    dual: np.ndarray  # float64 (S,)
    gamma: float
    intercept: float

    def __post_init__(self) -> None:
        # the support vectors as floats and their squared norms, once (frozen: set directly)
        s = self.support.astype(np.float32) / SCALE
        object.__setattr__(self, "_vectors", s)
        object.__setattr__(self, "_norms", (s * s).sum(1))

    def margins(self, vectors: np.ndarray) -> np.ndarray:
        """The SVM margin of each row of ``vectors`` (float32 (n, DIM)), clipped."""
        s: np.ndarray = self._vectors  # type: ignore[attr-defined]
        x = np.asarray(vectors, dtype=np.float32).reshape(-1, DIM)
        sq = (x * x).sum(1)[:, None] + self._norms[None, :] - 2.0 * (x @ s.T)  # type: ignore[attr-defined]
        k = np.exp(-self.gamma * np.maximum(sq, 0.0).astype(np.float64))
        return np.clip(k @ self.dual + self.intercept, -MARGIN_LIMIT, MARGIN_LIMIT)

    def meta(self) -> dict[str, Any]:
        """The JSON part (model file meta ``kernel``); the arrays go in their own members."""
        return {
            "encoder": self.encoder,
            "gamma": self.gamma,
            "intercept": self.intercept,
            "support": len(self.dual),
        }

    @classmethod
    def from_parts(
        cls, meta: Mapping[str, Any], support: np.ndarray, dual: np.ndarray
    ) -> KernelScorer:
        """Check and assemble; ``ValueError`` says what is wrong."""
        if not isinstance(meta, Mapping) or not isinstance(meta.get("encoder"), str):
            raise ValueError("kernel must name its encoder")
        gamma, intercept, n = meta.get("gamma"), meta.get("intercept"), meta.get("support")
        for name, value in (("gamma", gamma), ("intercept", intercept)):
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ValueError(f"kernel {name} must be a number")
            if not math.isfinite(value):
                raise ValueError(f"kernel {name} must be finite")
        if not gamma > 0:  # type: ignore[operator]
            raise ValueError("kernel gamma must be positive")
        if support.dtype != np.int8 or support.ndim != 2 or support.shape[1] != DIM:
            raise ValueError(f"kernel support vectors must be int8 (S, {DIM})")
        if dual.dtype.kind != "f" or dual.shape != (len(support),) or n != len(support):
            raise ValueError("kernel dual coefficients must be S floats, S = support")
        if not len(support) or not np.all(np.isfinite(dual)):
            raise ValueError("kernel needs finite dual coefficients of at least one vector")
        return cls(
            meta["encoder"],
            support,
            dual.astype(np.float64),
            float(gamma),  # type: ignore[arg-type]
            float(intercept),  # type: ignore[arg-type]
        )


def fit_kernel(
    codes: np.ndarray, truth: Sequence[bool], encoder: str, *, c: float = SVM_C
) -> KernelScorer:
    """An RBF SVM (``gamma="scale"``) of ``truth`` on the int8 ``codes`` of the texts."""
    from sklearn.svm import SVC

    x = np.asarray(codes, dtype=np.int8)
    y = np.asarray(truth, dtype=bool)
    vectors = x.astype(np.float32) / SCALE
    gamma = 1.0 / (DIM * float(vectors.var()))  # scikit-learn's gamma="scale"
    svc = SVC(C=c, kernel="rbf", gamma=gamma).fit(vectors, y)
    # decision_function is positive for classes_[1] = True
    return KernelScorer(
        encoder,
        x[svc.support_],
        svc.dual_coef_[0].astype(np.float64),
        gamma,
        float(svc.intercept_[0]),
    )
