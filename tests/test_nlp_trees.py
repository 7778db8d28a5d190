"""The detector's tree stacker: LightGBM's trees as plain arrays (nlp.trees), scored by numpy
exactly as LightGBM scores them, stored in a detector's model file, checked when read, and used
by the classifier in place of the logistic blend."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.config import ConfigError, load_settings
from bot.language import build_language, demo_taxonomy_rules
from nlp import modelfile
from nlp.keywords import KeywordClassifier
from nlp.linear import LinearTextModel
from nlp.tokenizer import Tokenizer
from nlp.trained import (
    EMPTY_CAP,
    REQUEST,
    STACK_INPUTS,
    Example,
    TrainedClassifier,
    logit,
    sigmoid,
    stack_row,
    train_detector,
)
from nlp.trees import TreeEnsemble, fit_trees
from tests.test_modeltools import taxonomy_config
from tests.test_nlp_model import assert_refused, detection_lines, edit_meta


def data(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    x[:, 3] = rng.integers(0, 2, size=n)  # a 0/1 input, like a keyword signal
    y = (x[:, 0] + 0.5 * x[:, 1] * x[:, 3] + 0.3 * rng.normal(size=n)) > 0
    return x, y


def test_the_arrays_score_exactly_as_lightgbm() -> None:
    import lightgbm as lgb

    from nlp.trees import TREE_PARAMS, from_lightgbm

    x, y = data()
    model = lgb.LGBMClassifier(**TREE_PARAMS, random_state=0, verbose=-1, use_missing=False)
    model.fit(x, y)
    trees = from_lightgbm(model.booster_.dump_model(), [f"x{i}" for i in range(5)])
    assert len(trees.roots) == TREE_PARAMS["n_estimators"]
    probe, _ = data(200, seed=1)
    probe[:5] = np.round(probe[:5], 1)  # values on and around typical thresholds
    expected = model.booster_.predict(probe, raw_score=True)
    got = np.array([trees.raw(row) for row in probe])
    assert np.allclose(got, expected, rtol=0, atol=1e-9)
    assert np.mean((got > 0) == y[:200]) > 0.5  # and it learned something


def test_fit_trees_is_repeatable_and_round_trips_through_json() -> None:
    x, y = data()
    names = ["a", "b", "c", "d", "e"]
    first, second = fit_trees(x, y, names, seed=3), fit_trees(x, y, names, seed=3)
    assert first.to_json() == second.to_json()
    again = TreeEnsemble.from_json(first.to_json(), known=names)
    assert again.inputs == tuple(names)
    assert [again.raw(row) for row in x[:20]] == [first.raw(row) for row in x[:20]]


def broken(change: dict[str, Any]) -> dict[str, Any]:
    x, y = data(100)
    out = fit_trees(x, y, ["a", "b", "c", "d", "e"]).to_json()
    out.update(change)
    return out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"inputs": []}, "list of names", id="no-inputs"),
        pytest.param({"inputs": ["a", "a", "b", "c", "d"]}, "duplicates", id="dup-inputs"),
        pytest.param({"inputs": ["a", "b", "c", "d", "zz"]}, "unknown inputs: zz", id="unknown"),
        pytest.param({"threshold": [float("inf")]}, "finite numbers", id="non-finite"),
        pytest.param({"left": [True]}, "finite numbers", id="bool"),
        pytest.param({"value": [0.0]}, "differ in length", id="lengths"),
        pytest.param({"roots": [10**9]}, "roots out of range", id="root"),
        pytest.param({"feature": [7] + [-1] * 9}, "does not exist", id="feature"),
    ],
)
def test_broken_trees_are_refused(change: dict[str, Any], message: str) -> None:
    bad = broken(change)
    if change.keys() & {"feature"}:  # keep the lengths right for this one
        n = len(broken({})["feature"])
        bad = broken({"feature": change["feature"] + [-1] * (n - len(change["feature"]))})
    with pytest.raises(ValueError, match=message):
        TreeEnsemble.from_json(bad, known=["a", "b", "c", "d", "e"])


def test_a_child_before_its_parent_is_refused() -> None:
    good = broken({})
    inner = next(i for i, f in enumerate(good["feature"]) if f >= 0)
    left = list(good["left"])
    left[inner] = inner  # a loop
    with pytest.raises(ValueError, match="child must come after its parent"):
        TreeEnsemble.from_json({**good, "left": left})


@pytest.fixture(scope="module")
def detector() -> tuple[LinearTextModel, KeywordClassifier, Tokenizer]:
    tokenizer = Tokenizer()
    keyword = KeywordClassifier(demo_taxonomy_rules(), tokenizer)
    rows = detection_lines(300, seed=21)
    examples = [Example("train", label, text) for label, text in rows]
    det = train_detector(examples, tokenizer, keyword=keyword, stacker="trees")
    return det, keyword, tokenizer


def test_a_trained_detector_scores_with_its_trees(
    detector: tuple[LinearTextModel, KeywordClassifier, Tokenizer], tmp_path: Path
) -> None:
    det, keyword, tokenizer = detector
    assert det.trees is not None and det.trees.inputs == STACK_INPUTS and det.blend
    rules = demo_taxonomy_rules()
    clf = TrainedClassifier(rules, tokenizer, router=None, detector=det, keyword=keyword)
    for text in ("研发楼燃气管道还没接通，麻烦尽快协调", "有没有人知道附近哪里能修叉车？", "好的"):
        p = float(det.predict_proba([text])[1][0, det.labels.index(REQUEST)])
        k = keyword.classify(text).request_score
        expected = sigmoid(det.trees.raw(stack_row(p, k, text)))
        assert clf.request_score(text) == pytest.approx(expected, abs=1e-12)
    assert clf.request_score("@企业服务助手 [捂脸]") <= EMPTY_CAP  # the hard rules stay on top

    det.save(tmp_path / "d.gbm")
    again = LinearTextModel.load(tmp_path / "d.gbm", tokenizer)
    assert again.trees is not None and again.trees.to_json() == det.trees.to_json()
    reread = TrainedClassifier(rules, tokenizer, router=None, detector=again, keyword=keyword)
    text = "园区门口的路灯坏了好几天"
    assert reread.request_score(text) == clf.request_score(text)


def test_the_stack_row_names_its_inputs() -> None:
    row = dict(zip(STACK_INPUTS, stack_row(0.9, 0.2, "停电了吗？@张三 3号楼！"), strict=True))
    assert row["detector"] == pytest.approx(logit(0.9)) and row["keywords"] == pytest.approx(
        logit(0.2)
    )
    assert row["log_len"] == pytest.approx(math.log1p(len("停电了吗？@张三 3号楼！")))
    assert (row["question_mark"], row["at_sign"], row["digits"]) == (1.0, 1.0, 1.0)
    assert (row["question_particle"], row["bang"]) == (1.0, 1.0)
    assert stack_row(0.5, 0.5, "好的", inputs=("bang", "detector")) == [0.0, 0.0]


def test_trees_in_a_model_file_are_checked(
    detector: tuple[LinearTextModel, KeywordClassifier, Tokenizer], tmp_path: Path
) -> None:
    det, keyword, tokenizer = detector
    assert det.trees is not None
    det.save(tmp_path / "d.gbm")
    trees = det.trees.to_json()
    edit_meta(tmp_path / "d.gbm", trees={**trees, "roots": [-1]})
    assert_refused(tmp_path / "d.gbm", tokenizer, "roots out of range")
    edit_meta(tmp_path / "d.gbm", kind="router", trees=trees)
    assert_refused(tmp_path / "d.gbm", tokenizer, "only a detector has trees")
    # a file whose trees read an input this gridbot does not compute is not used
    edit_meta(
        tmp_path / "d.gbm",
        kind="detector",
        trees={**trees, "inputs": ["novel", *trees["inputs"][1:]]},
    )
    odd = LinearTextModel.load(tmp_path / "d.gbm", tokenizer)
    with pytest.raises(ValueError, match="unknown inputs"):
        TrainedClassifier(
            demo_taxonomy_rules(), tokenizer, router=None, detector=odd, keyword=keyword
        )
    assert "trees" in modelfile.read(tmp_path / "d.gbm").meta
    path = tmp_path / "d.gbm"
    config = taxonomy_config(tmp_path / "c.toml", f'[classifier]\ndetector_model = "{path}"\n')
    with pytest.raises(ConfigError, match=r"classifier\.detector_model: .*unknown inputs"):
        build_language(load_settings(config))
