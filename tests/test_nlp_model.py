"""The trained models: features, the calibrated linear model, the model file, TrainedClassifier.

All data is made here (synthetic enterprise-group lines in the corpus TSV format); nothing reads
the TipDM data (that is ``bench/classifier.py``'s job).
"""

from __future__ import annotations

import csv
import io
import json
import pickle
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.language import demo_taxonomy_rules
from nlp import modelfile
from nlp.decision import CategoryRule
from nlp.features import CountCorpus, FeatureSettings, Featurizer, analyse, gram_key
from nlp.keywords import KeywordClassifier
from nlp.linear import LinearTextModel, train_table
from nlp.modelfile import BLEND_ENCODER, BLEND_SIGNALS, ModelFileError
from nlp.tokenizer import Tokenizer
from nlp.trained import (
    CHATTER,
    REQUEST,
    TrainedClassifier,
    build_default,
    evaluate_held_out,
    logit,
    read_corpus,
    threshold_for,
)

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------- synthetic data

SUBJECTS = ["我们公司", "厂区", "新基地", "园区这边", "项目部", "二号车间", "我们企业", ""]
ASKS = [
    "麻烦尽快协调",
    "能否帮忙处理？",
    "什么时候能解决？",
    "请相关部门看一下",
    "希望尽快安排",
    "",
]
PROBLEMS = {  # six problems each, space-separated
    "water": "停水两天了 自来水水压太低 水管爆了在漏水 用水报装一直没批 下水道堵了 厂区积水严重",
    "power": "又停电了 电压一直不稳 变压器增容还没办 临时用电申请没批 电表坏了 老是跳闸",
    "road_traffic": "门口道路坑洼 施工车辆进不来 公交站离得太远 路口没有红绿灯 停车位不够用"
    " 修路把路堵了",
    "labour": "招工很困难 社保转移办不了 工伤认定很慢 农民工工资被拖欠 稳岗补贴怎么领"
    " 技能培训没名额",
    "policy": "专项资金申报 贷款贴息政策 高新技术企业认定 退税一直没到账 惠企政策兑现 融资担保的事",
}
CHATTER_LINES = [
    "收到", "好的谢谢", "辛苦了👍", "早上好", "明天见", "[强][强]", "哈哈哈", "谢谢领导关心",
    "收到，马上安排", "会议通知请查收", "好的", "嗯嗯", "谢谢大家", "周末愉快", "已阅", "大家好",
    "感谢住建局的帮忙", "问题已经解决了，谢谢", "好滴", "明白了", "👍👍", "晚安", "ok", "没问题",
]  # fmt: skip


def routing_lines(n_per: int, seed: int, mix: float = 0.0) -> list[tuple[str, str]]:
    """(category, text); with probability ``mix`` a problem of another category is mixed in."""
    rng = random.Random(seed)
    out = []
    for category, problems in PROBLEMS.items():
        for _ in range(n_per):
            parts = [rng.choice(SUBJECTS), rng.choice(problems.split())]
            if rng.random() < mix:
                other = rng.choice([c for c in PROBLEMS if c != category])
                parts.insert(rng.randrange(3), "，还有" + rng.choice(PROBLEMS[other].split()))
            out.append((category, "".join(parts) + "，" + rng.choice(ASKS)))
    rng.shuffle(out)
    return out


def detection_lines(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out = [(REQUEST, text) for _, text in routing_lines(n // 10, seed)]
    for _ in range(n // 2):
        line = rng.choice(CHATTER_LINES) + rng.choice(["", "！", "～", "。", "[玫瑰]", "🙏"])
        out.append((CHATTER, ("@企业服务助手 " if rng.random() < 0.3 else "") + line))
    rng.shuffle(out)
    return out


def write_tsv(path: Path, rows: list[tuple[str, str, str]]) -> None:
    lines = ["split\tlabel\ttext", "# made by the test"] + ["\t".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def split_rows(rows: list[tuple[str, str]], eval_every: int = 4) -> list[tuple[str, str, str]]:
    return [("eval" if i % eval_every == 0 else "train", lab, t) for i, (lab, t) in enumerate(rows)]


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def rules() -> list[CategoryRule]:
    return demo_taxonomy_rules()


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer()


@pytest.fixture(scope="module")
def keyword(rules: list[CategoryRule], tokenizer: Tokenizer) -> KeywordClassifier:
    return KeywordClassifier(rules, tokenizer)


@pytest.fixture(scope="module")
def router(tokenizer: Tokenizer, keyword: KeywordClassifier) -> LinearTextModel:
    rows = routing_lines(40, seed=1)
    return LinearTextModel.fit([t for _, t in rows], [c for c, _ in rows], tokenizer=tokenizer)


@pytest.fixture(scope="module")
def detector(tokenizer: Tokenizer, keyword: KeywordClassifier) -> LinearTextModel:
    rows = detection_lines(300, seed=2)
    return LinearTextModel.fit(
        [t for _, t in rows], [lab for lab, _ in rows], tokenizer=tokenizer, kind="detector"
    )


@pytest.fixture
def model_path(tmp_path: Path, router: LinearTextModel) -> Path:
    path = tmp_path / "router.gbm"
    router.save(path)
    return path


# ---------------------------------------------------------------- features


def test_transform_equals_the_training_matrix(tokenizer: Tokenizer) -> None:
    texts = ["停水两天了？？", "水管爆了 在漏水🙏🙏", "", "ab 停电", "停电了🙏", "👍", "停水", "a"]
    analyses = [analyse(t, tokenizer) for t in texts * 2]
    settings = FeatureSettings(char_ngrams=(1, 3), head_chars=3)
    featurizer, x, _ = CountCorpus(analyses, settings, tokenizer.stopwords).fit()
    assert "🙏" in featurizer.vocabulary["chars"]  # non-BMP characters are ordinary features
    again = featurizer.transform(analyses)
    assert again.shape == x.shape
    assert abs(again - x).max() == 0.0
    refit = Featurizer.fit(analyses, settings, tokenizer.stopwords)
    assert np.allclose(refit.transform(analyses).toarray(), again.toarray())
    norms = np.sqrt(np.asarray(again.multiply(again).sum(axis=1))).ravel()
    assert norms[2] == 0.0  # the empty text has no features
    assert gram_key("ab") != gram_key("ba") and gram_key("a") != gram_key("\x00a")


def test_feature_settings_validated() -> None:
    with pytest.raises(ValueError, match="char_ngrams"):
        FeatureSettings(char_ngrams=(2, 5))
    with pytest.raises(ValueError, match="min_df"):
        FeatureSettings(min_df=0)


# ---------------------------------------------------------------- the linear model


def test_train_and_eval_on_a_csv(tmp_path: Path, tokenizer: Tokenizer) -> None:
    path = tmp_path / "routing.tsv"
    write_tsv(path, split_rows(routing_lines(30, seed=3, mix=0.2)))
    examples = read_corpus(path)
    train = [e for e in examples if e.split == "train"]
    held = [e for e in examples if e.split == "eval"]
    model = LinearTextModel.fit(
        [e.text for e in train], [e.label for e in train], tokenizer=tokenizer
    )
    assert model.labels == tuple(sorted(PROBLEMS))
    predicted = model.predict([e.text for e in held])
    accuracy = np.mean([p == e.label for p, e in zip(predicted, held, strict=True)])
    assert accuracy >= 0.85
    labels, proba = model.predict_proba(["停电了，什么时候来电？", "自来水停了"])
    assert labels == model.labels and proba.shape == (2, 5)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert labels[int(proba[0].argmax())] == "power"
    top = model.top_k("社保转移办不了", k=3)
    assert len(top) == 3 and top[0][0] == "labour"
    assert top[0][1] >= top[1][1] >= top[2][1]
    assert model.training["examples"] == len(train) and model.training["calibration_folds"] == 3


def test_calibrated_confidence_is_meaningful(tokenizer: Tokenizer) -> None:
    rows = routing_lines(60, seed=4, mix=0.6)
    rng = random.Random(5)
    noisy = [(rng.choice(list(PROBLEMS)) if rng.random() < 0.15 else c, t) for c, t in rows]
    train, held = noisy[:200], noisy[200:]
    model = LinearTextModel.fit([t for _, t in train], [c for c, _ in train], tokenizer=tokenizer)
    labels, proba = model.predict_proba([t for _, t in held])
    confidence = proba.max(axis=1)
    right = np.array([labels[i] == c for i, (c, _) in zip(proba.argmax(axis=1), held, strict=True)])
    high = confidence >= np.median(confidence)
    assert right[high].mean() > right[~high].mean() + 0.1
    assert abs(confidence.mean() - right.mean()) < 0.12  # calibrated, not just ordered
    assert 0.5 < model.temperature < 20


def test_same_seed_same_model(tokenizer: Tokenizer) -> None:
    rows = routing_lines(15, seed=6, mix=0.3)
    texts, labels = [t for _, t in rows], [c for c, _ in rows]
    a = LinearTextModel.fit(texts, labels, tokenizer=tokenizer, seed=7)
    b = LinearTextModel.fit(texts, labels, tokenizer=tokenizer, seed=7)
    assert a.featurizer.vocabulary == b.featurizer.vocabulary
    assert np.array_equal(a.coef, b.coef) and a.temperature == b.temperature
    assert np.array_equal(a.predict_proba(texts)[1], b.predict_proba(texts)[1])


def test_extra_examples_and_label_errors(tokenizer: Tokenizer) -> None:
    rows = routing_lines(10, seed=8)
    texts, labels = [t for _, t in rows], [c for c, _ in rows]
    model = LinearTextModel.fit(
        texts, labels, tokenizer=tokenizer, extra=[("消防验收", "fire"), ("消防检查", "fire")]
    )
    assert "fire" in model.labels and model.training["extra_examples"] == 2
    with pytest.raises(ValueError, match="labels"):
        LinearTextModel.fit(texts, labels[:-1], tokenizer=tokenizer)
    with pytest.raises(ValueError, match="two labels"):
        LinearTextModel.fit(texts[:3], ["water"] * 3, tokenizer=tokenizer)


def test_extra_weights_per_example(tokenizer: Tokenizer) -> None:
    rows = routing_lines(10, seed=8)
    texts, labels = [t for _, t in rows], [c for c, _ in rows]
    extra = [("消防验收", "fire"), ("消防检查", "fire"), ("停水了", "water")]
    scalar = LinearTextModel.fit(texts, labels, tokenizer=tokenizer, extra=extra, extra_weight=0.5)
    listed = LinearTextModel.fit(
        texts, labels, tokenizer=tokenizer, extra=extra, extra_weight=[0.5, 0.5, 0.5]
    )
    assert np.array_equal(scalar.coef, listed.coef)
    assert listed.training["extra_weight"] == 0.5
    balanced = LinearTextModel.fit(
        texts, labels, tokenizer=tokenizer, extra=extra, extra_weight=0.5, balance_extra=True
    )
    assert not np.array_equal(scalar.coef, balanced.coef)
    with pytest.raises(ValueError, match="extra weights"):
        LinearTextModel.fit(texts, labels, tokenizer=tokenizer, extra=extra, extra_weight=[1, 1])


def test_balanced_weights_count_each_example_by_its_weight() -> None:
    from nlp.linear import _balanced_weights

    y = np.array([0, 0, 1, 1, 1, 1])
    plain = _balanced_weights(y, 3)
    assert plain[0] * 2 == pytest.approx(plain[2] * 4)
    base = np.array([1.0, 1.0, 1.0, 1.0, 0.0, 0.0])
    weighted = _balanced_weights(y, 3, base)
    assert weighted[0] * 2 == pytest.approx(weighted[2] * 2) and weighted[4] == 0


def test_train_table_on_a_csv(tmp_path: Path, tokenizer: Tokenizer) -> None:
    path = tmp_path / "table.csv"
    rows = routing_lines(30, seed=3, mix=0.2)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text", "label"])
        writer.writerows((i, text, label) for i, (label, text) in enumerate(rows))
    with path.open(encoding="utf-8", newline="") as f:
        table = list(csv.DictReader(f))
    train = [r for r in table if int(r["id"]) % 4]
    held = [r for r in table if not int(r["id"]) % 4]
    departments = {label: f"dept-{label}" for label in PROBLEMS}
    model = train_table(
        [r["text"] for r in train],
        [r["label"] for r in train],
        tokenizer=tokenizer,
        extra=[("停电 跳闸", "power"), ("社保 工伤", "labour")],
        source=str(path),
        label_to_department=departments,
    )
    assert model.kind == "router" and model.labels == tuple(sorted(PROBLEMS))
    assert model.training["class_bias"] and model.training["calibration_folds"] == 3
    assert model.training["extra_examples"] == 2 and np.any(model.bias != 0)
    assert model.training["examples"] == len(train) and model.training["source"] == str(path)
    texts = [r["text"] for r in held]
    predicted = model.predict(texts)
    accuracy = np.mean([p == r["label"] for p, r in zip(predicted, held, strict=True)])
    assert accuracy >= 0.85
    assert model.predict(["停电了，什么时候来电？", "社保转移办不了"]) == ["power", "labour"]
    # a label known only from ``extra`` keeps bias 0 (class biases are not fitted then)
    fire = train_table(
        [r["text"] for r in train],
        [r["label"] for r in train],
        tokenizer=tokenizer,
        extra=[("消防验收", "fire"), ("消防检查 消防通道", "fire")],
    )
    assert not fire.training["class_bias"] and not np.any(fire.bias)
    assert fire.predict(["消防验收一直没过"]) == ["fire"]
    _, proba = model.predict_proba(texts)
    assert np.allclose(proba.sum(axis=1), 1.0)
    model.save(tmp_path / "table.gbm")
    loaded = LinearTextModel.load(tmp_path / "table.gbm", tokenizer)
    assert loaded.kind == "router" and loaded.labels == model.labels
    assert loaded.label_to_department == departments
    assert np.array_equal(loaded.bias, model.bias) and loaded.temperature == model.temperature
    assert np.array_equal(loaded.predict_proba(texts)[1], proba)
    assert loaded.predict(texts) == predicted


# ---------------------------------------------------------------- the model file


def rewrite(path: Path, member: str, raw: bytes | None) -> None:
    """Replace (or with ``None`` drop) one member of a zip file."""
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    if raw is None:
        del members[member]
    else:
        members[member] = raw
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def edit_meta(path: Path, **changes: Any) -> None:
    with zipfile.ZipFile(path) as zf:
        meta = json.loads(zf.read("meta.json"))
    meta.update(changes)
    rewrite(path, "meta.json", json.dumps(meta).encode())


def npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def assert_refused(path: Path, tokenizer: Tokenizer, match: str) -> None:
    with pytest.raises(ModelFileError, match=match) as info:
        LinearTextModel.load(path, tokenizer)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    assert str(path) in message


def test_round_trip(model_path: Path, router: LinearTextModel, tokenizer: Tokenizer) -> None:
    loaded = LinearTextModel.load(model_path, tokenizer)
    texts = [t for _, t in routing_lines(5, seed=9)] + ["", "👍"]
    assert loaded.labels == router.labels and loaded.kind == "router"
    assert np.array_equal(loaded.predict_proba(texts)[1], router.predict_proba(texts)[1])
    assert loaded.predict(texts) == router.predict(texts)
    with zipfile.ZipFile(model_path) as zf:
        assert sorted(zf.namelist()) == sorted(modelfile.MEMBERS)
        meta = json.loads(zf.read("meta.json"))
    assert meta["format"] == "gridbot-model" and meta["version"] == 1
    assert meta["features"]["vocabulary_sizes"]["words"] > 0
    assert meta["training"]["examples"] == 200 and meta["created"].endswith("Z")
    assert "router model, 5 labels, 200 training examples" in modelfile.summary(meta)


def test_other_version_or_format_refused(model_path: Path, tokenizer: Tokenizer) -> None:
    edit_meta(model_path, version=2)
    assert_refused(model_path, tokenizer, "version 2 is not supported")
    edit_meta(model_path, version=1, format="something-else")
    assert_refused(model_path, tokenizer, "not a gridbot model file")
    edit_meta(model_path, format="gridbot-model", kind="oracle")
    assert_refused(model_path, tokenizer, "unknown model kind")


def test_damaged_files_refused(model_path: Path, tmp_path: Path, tokenizer: Tokenizer) -> None:
    good = model_path.read_bytes()
    model_path.write_bytes(good[: len(good) // 2])
    assert_refused(model_path, tokenizer, "not a readable model file")
    middle = len(good) // 2
    model_path.write_bytes(good[:middle] + bytes(b ^ 0xFF for b in good[middle : middle + 64]))
    assert_refused(model_path, tokenizer, "not a readable model file")
    model_path.write_bytes(random.Random(10).randbytes(5000))
    assert_refused(model_path, tokenizer, "not a readable model file")
    model_path.write_text("format = 'gridbot-model'\n", encoding="utf-8")
    assert_refused(model_path, tokenizer, "not a readable model file")
    assert_refused(tmp_path / "absent.gbm", tokenizer, "no such model file")


def test_missing_or_malformed_members_refused(
    model_path: Path, router: LinearTextModel, tokenizer: Tokenizer
) -> None:
    good = model_path.read_bytes()
    rewrite(model_path, "coef.npy", None)
    assert_refused(model_path, tokenizer, "lacks coef.npy")
    model_path.write_bytes(good)
    rewrite(model_path, "meta.json", None)
    assert_refused(model_path, tokenizer, "no meta.json")
    model_path.write_bytes(good)
    rewrite(model_path, "meta.json", b"{not json")
    assert_refused(model_path, tokenizer, "meta.json is not valid UTF-8 JSON")
    model_path.write_bytes(good)
    rewrite(model_path, "coef.npy", npy(router.coef[:, :3].astype(np.float32)))
    assert_refused(model_path, tokenizer, r"array coef has shape \(\d+, 3\)")
    model_path.write_bytes(good)
    rewrite(model_path, "intercept.npy", npy(np.array(["a", "b"])))
    assert_refused(model_path, tokenizer, "array intercept has dtype")
    model_path.write_bytes(good)
    bad = router.intercept.copy()
    bad[0] = np.nan
    rewrite(model_path, "intercept.npy", npy(bad))
    assert_refused(model_path, tokenizer, "non-finite")
    model_path.write_bytes(good)
    rewrite(model_path, "vocabulary.json", json.dumps({"words": []}).encode())
    assert_refused(model_path, tokenizer, "vocabulary.json must have exactly the blocks")
    model_path.write_bytes(good)
    vocabulary = {block: list(words) for block, words in router.featurizer.vocabulary.items()}
    vocabulary["chars"][0] = "四个字符"
    rewrite(model_path, "vocabulary.json", json.dumps(vocabulary).encode())
    assert_refused(model_path, tokenizer, "bad vocabulary")
    model_path.write_bytes(good)
    edit_meta(model_path, calibration={"temperature": -1, "bias": [0] * 5})
    assert_refused(model_path, tokenizer, "temperature")
    model_path.write_bytes(good)
    edit_meta(model_path, features={"char_ngrams": [1, 9]})
    assert_refused(model_path, tokenizer, "bad featuriser settings")


EXPLOITED: list[str] = []


def _exploit() -> str:
    EXPLOITED.append("ran")
    return "pwned"


class _Payload:
    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return (_exploit, ())


def test_pickle_inside_is_never_run(
    model_path: Path, tokenizer: Tokenizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = np.empty(5, dtype=object)
    payload[:] = [_Payload() for _ in range(5)]
    good = model_path.read_bytes()
    rewrite(model_path, "intercept.npy", npy(payload, allow_pickle=True))
    assert_refused(model_path, tokenizer, "intercept.npy is not a plain numeric array")
    model_path.write_bytes(good)
    rewrite(model_path, "coef.npy", pickle.dumps(_Payload()))  # a bare pickle, not .npy
    assert_refused(model_path, tokenizer, "coef.npy is not a plain numeric array")
    assert EXPLOITED == []
    # and every array is read with allow_pickle=False
    calls: list[bool] = []
    real = np.lib.format.read_array

    def spy(fp: Any, allow_pickle: bool = False, **kwargs: Any) -> np.ndarray:
        calls.append(allow_pickle)
        return real(fp, allow_pickle=allow_pickle, **kwargs)

    monkeypatch.setattr(np.lib.format, "read_array", spy)
    model_path.write_bytes(good)
    LinearTextModel.load(model_path, tokenizer)
    assert calls == [False, False, False]


# ---------------------------------------------------------------- TrainedClassifier


def test_router_decides_seen_categories(
    rules: list[CategoryRule],
    tokenizer: Tokenizer,
    keyword: KeywordClassifier,
    router: LinearTextModel,
) -> None:
    clf = TrainedClassifier(rules, tokenizer, router=router, detector=None, keyword=keyword)
    d = clf.classify("园区这边又停电了，什么时候能恢复？")
    assert d.is_request and d.category == "power" and d.department == "power"
    assert d.request_score == keyword.classify("园区这边又停电了，什么时候能恢复？").request_score
    assert 0.5 < d.confidence <= 1.0 and d.confidence == d.top3[0].score
    assert [s.score for s in d.top3] == sorted((s.score for s in d.top3), reverse=True)
    assert "fire" in clf.unseen and "power" not in clf.unseen
    chatter = clf.classify("好的谢谢")
    assert not chatter.is_request and chatter.category is None and chatter.confidence == 0.0


def test_keyword_floor_for_unseen_category(
    rules: list[CategoryRule],
    tokenizer: Tokenizer,
    keyword: KeywordClassifier,
    router: LinearTextModel,
) -> None:
    clf = TrainedClassifier(rules, tokenizer, router=router, detector=None, keyword=keyword)
    text = "消防验收什么时候能安排？"  # fire: keywords only, the router has never seen it
    assert keyword.classify(text).category == "fire"
    d = clf.classify(text)
    assert d.category == "fire" and d.department == "fire"
    assert d.confidence == keyword.classify(text).confidence
    assert d.top3[0].category == "fire" and len(d.top3) > 1  # the router's guesses follow
    # a weak keyword match of an unseen category does not override the router
    weak = "那边有个坟，你们看一下"
    best = keyword.classify(weak).top3[0]
    assert best.category == "site" and best.score < 0.5 and "site" in clf.unseen
    assert clf.classify(weak).category in router.labels
    # without a router the keyword classifier routes everything
    plain = TrainedClassifier(rules, tokenizer, router=None, detector=None, keyword=keyword)
    assert plain.classify(text) == keyword.classify(text)


def test_router_labels_outside_the_rules_are_ignored(
    rules: list[CategoryRule], tokenizer: Tokenizer, keyword: KeywordClassifier
) -> None:
    rows = routing_lines(20, seed=11)
    rows = [("mystery" if c == "water" else c, t) for c, t in rows]
    model = LinearTextModel.fit([t for _, t in rows], [c for c, _ in rows], tokenizer=tokenizer)
    clf = TrainedClassifier(rules, tokenizer, router=model, detector=None, keyword=keyword)
    d = clf.classify("我们公司又停电了，麻烦尽快协调")
    assert all(s.category != "mystery" for s in d.top3) and d.category == "power"
    assert "water" in clf.unseen
    unknown = clf.classify("厂区自来水水压太低，什么时候能解决？")
    assert unknown.category != "mystery"
    assert unknown.category == "water"  # the keyword floor: the router can't route it


def test_detector_used_when_present(
    rules: list[CategoryRule],
    tokenizer: Tokenizer,
    keyword: KeywordClassifier,
    router: LinearTextModel,
    detector: LinearTextModel,
) -> None:
    clf = TrainedClassifier(
        rules, tokenizer, router=router, detector=detector, keyword=keyword, overrides=False
    )
    for text in ["新基地又停电了，什么时候能恢复？", "收到，谢谢", "嗯嗯"]:
        expected = detector.predict_proba([text])[1][0, detector.labels.index(REQUEST)]
        assert clf.classify(text).request_score == round(float(expected), 4)
    assert clf.classify("新基地又停电了，什么时候能恢复？").is_request
    assert not clf.classify("收到，谢谢").is_request
    # the keyword rule "pure thanks is never a request" caps the detector's score
    capped = TrainedClassifier(rules, tokenizer, router=router, detector=detector, keyword=keyword)
    thanks = "感谢供电公司的帮忙"
    assert capped.request_score(thanks) <= 0.2
    assert capped.request_score("[强]") <= 0.01
    with pytest.raises(ValueError, match="no 'request' label"):
        TrainedClassifier(rules, tokenizer, router=router, detector=router, keyword=keyword)


def test_detector_blended_with_keyword_score(
    tmp_path: Path, rules: list[CategoryRule], tokenizer: Tokenizer, keyword: KeywordClassifier
) -> None:
    rows = detection_lines(120, seed=14)
    det = LinearTextModel.fit(
        [t for _, t in rows], [lab for lab, _ in rows], tokenizer=tokenizer, kind="detector"
    )
    det.blend = {"detector": 1.5, "keywords": 0.5, "bias": -0.25}
    clf = TrainedClassifier(
        rules, tokenizer, router=None, detector=det, keyword=keyword, overrides=False
    )
    text = "研发楼燃气管道还没接通，麻烦尽快协调"
    p = det.predict_proba([text])[1][0, det.labels.index(REQUEST)]
    k = keyword.classify(text).request_score
    z = 1.5 * logit(float(p)) + 0.5 * logit(k) - 0.25
    assert clf.request_score(text) == pytest.approx(1 / (1 + np.exp(-z)))
    # the stacked cue weights count only when the cue is in the text
    det.blend["peer"] = -4.0
    assert clf.request_score(text) == pytest.approx(1 / (1 + np.exp(-z)))
    peer = "有没有人知道附近哪里能修叉车"
    p = det.predict_proba([peer])[1][0, det.labels.index(REQUEST)]
    k = keyword.classify(peer).request_score
    z = 1.5 * logit(float(p)) + 0.5 * logit(k) - 0.25 - 4.0
    assert clf.request_score(peer) == pytest.approx(1 / (1 + np.exp(-z)))
    det.save(tmp_path / "d.gbm")
    assert LinearTextModel.load(tmp_path / "d.gbm", tokenizer).blend == det.blend
    edit_meta(tmp_path / "d.gbm", blend={"detector": 1.0})
    assert_refused(tmp_path / "d.gbm", tokenizer, "blend must map")
    edit_meta(tmp_path / "d.gbm", blend={"detector": 1.0, "keywords": 1.0, "bias": 0, "x": 1})
    assert_refused(tmp_path / "d.gbm", tokenizer, "blend must map")


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.2, "0.8", None])
def test_a_detector_file_carries_its_threshold(
    tmp_path: Path, tokenizer: Tokenizer, bad: object
) -> None:
    rows = detection_lines(60, seed=3)
    det = LinearTextModel.fit(
        [t for _, t in rows], [lab for lab, _ in rows], tokenizer=tokenizer, kind="detector"
    )
    assert det.threshold is None
    det.save(tmp_path / "plain.gbm")
    assert "threshold" not in modelfile.read(tmp_path / "plain.gbm").meta
    det.threshold = 0.8125
    det.save(tmp_path / "d.gbm")
    assert LinearTextModel.load(tmp_path / "d.gbm", tokenizer).threshold == 0.8125
    if bad is not None:
        edit_meta(tmp_path / "d.gbm", threshold=bad)
        assert_refused(tmp_path / "d.gbm", tokenizer, "threshold must be a number between 0 and 1")


def test_threshold_for_a_share_of_chatter() -> None:
    scores = [i / 100 for i in range(100)]  # 0.00 .. 0.99
    t = threshold_for(scores, 0.02)
    assert sum(s >= t for s in scores) == 2 and 0.97 < t <= 0.98
    assert threshold_for(scores, 0.0) > 0.99
    assert threshold_for([], 0.02) == 0.0


def test_build_default_and_held_out(
    tmp_path: Path, rules: list[CategoryRule], tokenizer: Tokenizer
) -> None:
    write_tsv(tmp_path / "detection.tsv", split_rows(detection_lines(400, seed=12)))
    write_tsv(tmp_path / "routing.tsv", split_rows(routing_lines(30, seed=13, mix=0.1)))
    clf = build_default(rules, tokenizer, tmp_path)
    assert clf.detector is not None and clf.router is not None
    assert clf.router.label_to_department["road_traffic"] == "transport"
    assert clf.router.training["extra_examples"] > 5 * 10  # names and keywords
    d = clf.classify("@企业服务助手 厂区门口道路坑洼，能否帮忙处理？")
    assert d.is_request and d.category == "road_traffic" and d.department == "transport"
    assert not clf.classify("好的谢谢👍").is_request
    blend = clf.detector.blend
    assert blend is not None
    # the kernel's margin is a term of the default blend (nlp.trained.STACKER, ENCODER)
    assert set(blend) == {"detector", "keywords", "bias", *BLEND_SIGNALS, BLEND_ENCODER}
    assert blend["detector"] > 0  # the detector's probability counts for a request
    assert blend[BLEND_ENCODER] > 0  # so does the SVM's margin
    clf.detector.save(tmp_path / "detector.gbm")
    assert LinearTextModel.load(tmp_path / "detector.gbm", tokenizer).blend == blend
    report = evaluate_held_out(rules, tokenizer, tmp_path)
    assert report.detection["trained classifier"].f1 > 0.9
    assert report.detection["keywords"].n_request + report.detection["keywords"].n_chatter == 100
    assert any(name.startswith("trained, threshold") for name in report.detection)
    assert report.routing["router + keyword floor"] > 0.8
    assert report.n_routing == 38 and len(report.lines()) == 9


def test_build_default_without_corpus(
    tmp_path: Path, rules: list[CategoryRule], tokenizer: Tokenizer
) -> None:
    clf = build_default(rules, tokenizer, tmp_path / "nothing-here")
    text = "研发楼燃气管道还没接通，麻烦尽快协调"
    assert clf.router is None and clf.detector is None
    assert clf.classify(text) == clf.keyword.classify(text)


def test_read_corpus_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text("train\trequest\t停电了\ndev\trequest\t停水了\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.tsv:2: split must be one of"):
        read_corpus(path)
    path.write_text("train\trequest\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.tsv:1: need split"):
        read_corpus(path)
    path.write_text("train\tmaybe\t停电了\n", encoding="utf-8")
    with pytest.raises(ValueError, match="label 'maybe'"):
        read_corpus(path, (REQUEST, CHATTER))
