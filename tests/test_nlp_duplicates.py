"""Duplicate detection: pairs that must (not) link, places and problems, window, find vs cluster.

The pair tables (``DUPLICATES``, ``NEAR_MISSES``, ``UNRELATED``) were written before the labelled
pair set existed, from what enterprise groups say (field.md): paraphrases and follow-ups of one
problem, the same problem raised by two enterprises, near misses that differ only in the place,
the number or the problem, and unrelated requests. The shipped pair set
(``nlp/data/corpus/duplicate_pairs.tsv``) is checked on both halves: the target on the held-out
half (not met yet: an expected failure) and today's figures as floors.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nlp.duplicates import (
    Candidate,
    DuplicateFinder,
    LabelledPair,
    _contrast,
    canonical,
    parse_pairs,
    score_pairs,
)
from nlp.tokenizer import Tokenizer

ROOT = Path(__file__).resolve().parent.parent
PAIRS = ROOT / "nlp" / "data" / "corpus" / "duplicate_pairs.tsv"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def finder() -> DuplicateFinder:
    return DuplicateFinder(Tokenizer())


def linked(finder: DuplicateFinder, a: str, b: str, same: bool) -> bool:
    bar = finder.threshold if same else finder.cluster_threshold
    return finder.similarity(a, b) >= bar


# ---------------------------------------------------------------- development pairs

DUPLICATES = [
    # same enterprise: paraphrases and follow-ups
    ("A栋停电了，什么时候能恢复？", "我们A栋从早上开始一直没电，麻烦尽快处理", True),
    ("3号路的路灯坏了，晚上很黑", "3号路路灯不亮好几天了，员工下夜班不安全", True),
    (
        "新基地没有路给施工车辆进出，能否协调修临时道路？",
        "上次说的临时道路什么时候能修？施工车辆还是进不来",
        True,
    ),
    ("研发楼燃气管道还没接通，麻烦尽快协调", "燃气管道接通的事情有进展吗？研发楼等着用气", True),
    ("厂区门口的井盖丢了，很危险", "门口那个井盖还没补上，晚上有车掉进去了", True),
    ("二期厂房断网两天了，影响生产", "二期网络还是不通，能不能催一下电信", True),
    ("湘江路12号门口积水严重，下雨就淹", "湘江路门口又积水了，车都进不去", True),
    ("稳岗补贴申请了两个月还没到账", "请问我们的稳岗补贴什么时候能发下来？", True),
    ("B区5栋停水了", "5栋现在还是没水，员工宿舍没法洗澡", True),
    ("园区东门红绿灯不亮，路口很乱", "东门路口的信号灯坏了，上下班很危险", True),
    ("施工许可证办了一个月还没批下来", "施工许可的事情能不能帮忙催一下住建局", True),
    ("工地旁边的渣土一直没人清运", "渣土清运的问题还没解决，已经堆了一周", True),
    ("@企业服务助手 1号仓库消防栓漏水[流泪]", "1号仓库那个消防栓还在漏水，请尽快派人来修", True),
    ("Ａ栋停电了！！", "a栋停电了", True),  # full-width letters and punctuation
    # other enterprises: the same road, the same outage
    ("3号路路面坑洼严重，货车进出很困难", "园区3号路坑坑洼洼的，能不能修一下", False),
    ("麓谷产业园今天上午全部停电了", "麓谷产业园停电了，什么时候来电？", False),
    ("湘江路积水太深，车开不进来", "湘江路一下雨就积水，员工上班进不来", False),
]

NEAR_MISSES = [
    # another problem in the same place
    ("A栋停电了，什么时候恢复？", "A栋停水了，什么时候恢复？", True),
    ("3号路路灯不亮", "3号路路面坑洼，车辆颠簸", True),
    ("3号楼电梯坏了", "3号楼停电了", True),
    ("厂区门口道路坑洼", "厂区门口路灯不亮", True),
    ("员工宿舍停水了", "员工食堂停电了", True),
    # the same problem in another place
    ("3号路路灯坏了", "5号路路灯坏了", True),
    ("A栋停电了，什么时候恢复", "B栋停电了，什么时候恢复", True),
    ("一期厂房断网了", "二期厂房断网了", True),
    ("东门的井盖丢了", "西门的井盖丢了", True),
    ("1号仓库消防栓漏水", "2号仓库消防栓漏水", True),
    ("3号楼3楼卫生间漏水", "3号楼5楼卫生间漏水", True),
    ("湘江路积水严重", "创新路积水严重", False),
    ("麓谷产业园停电了", "金霞产业园停电了", False),
    # the same kind of ask about another thing
    ("稳岗补贴什么时候到账", "技改奖补资金什么时候兑现", True),
    ("施工许可证什么时候能批", "消防验收什么时候能安排", True),
]

UNRELATED = [
    ("A栋停电了", "请问稳岗补贴怎么申请", True),
    ("3号路路灯坏了", "我们想招50个普工，有没有招聘会", True),
    ("燃气管道什么时候接通", "营业执照经营范围怎么变更", False),
    ("新基地没有路给施工车辆进出", "环评批复什么时候能下来", True),
    ("厂区门口井盖丢了", "社保转移手续怎么办", False),
    ("二期厂房断网了", "隔壁工地夜间施工太吵", False),
    ("麻烦尽快协调一下，谢谢", "请问什么时候能解决？麻烦了", True),  # boilerplate only
]


@pytest.mark.parametrize(("a", "b", "same"), DUPLICATES)
def test_duplicates_link(finder: DuplicateFinder, a: str, b: str, same: bool) -> None:
    assert linked(finder, a, b, same), finder.compare(finder.signature(a), finder.signature(b))


@pytest.mark.parametrize(("a", "b", "same"), NEAR_MISSES + UNRELATED)
def test_others_do_not_link(finder: DuplicateFinder, a: str, b: str, same: bool) -> None:
    assert not linked(finder, a, b, same), finder.compare(finder.signature(a), finder.signature(b))


@pytest.mark.parametrize(("a", "b", "same"), DUPLICATES + NEAR_MISSES + UNRELATED)
def test_score_is_symmetric_and_bounded(
    finder: DuplicateFinder, a: str, b: str, same: bool
) -> None:
    ab, ba = finder.similarity(a, b), finder.similarity(b, a)
    assert ab == ba
    assert 0.0 <= ab <= 1.0


def test_identical_and_empty(finder: DuplicateFinder) -> None:
    assert finder.similarity("A栋停电了", "A栋停电了") == 1.0
    assert finder.similarity("", "A栋停电了") == 0.0
    assert finder.similarity("", "") == 0.0
    assert finder.similarity("[强]👍", "@张三 [强]") == 0.0


# ---------------------------------------------------------------- signatures


@pytest.mark.parametrize(
    ("text", "places"),
    [
        ("3号路路灯坏了", {"3号路"}),
        ("A栋停电了", {"a栋"}),
        ("Ａ栋停电了", {"a栋"}),
        ("园区东门3号楼今天停水", {"东门", "3栋"}),
        ("三号楼停水", {"3栋"}),
        ("二期厂房断网", {"2期"}),
        ("高新区B区5栋断网两天了", {"b区", "5栋"}),
        ("我们一号仓库的消防栓漏水", {"1号仓库"}),
        ("2号门门岗没人", {"2号门"}),
        ("湘江路12号门口井盖丢了", {"湘江路", "12号"}),
        ("麓谷产业园今天停电了", {"麓谷园区"}),  # 产业园, 工业园, 科技园 are all 园区
        ("3楼卫生间漏水", {"3层"}),
        ("新基地没有路给施工车辆进出，能否协调修临时道路？", set()),
        ("厂区门口的道路坑洼严重", set()),
        ("10月12号停电，请做好准备", set()),
    ],
)
def test_places(finder: DuplicateFinder, text: str, places: set[str]) -> None:
    assert {p.value for p in finder.signature(text).places} == places


@pytest.mark.parametrize(
    ("text", "problems", "utilities"),
    [
        ("A栋停电了", {"停电"}, {"电力"}),
        ("一直没电", {"停电"}, {"电力"}),
        ("跳闸了", {"停电"}, {"电力"}),
        ("什么时候来水", {"停水"}, {"供水"}),
        ("宽带断网了", {"断网"}, {"网络"}),
        ("燃气什么时候能通", {"报装"}, {"燃气"}),
        ("用电报装", {"报装"}, {"电力"}),
        ("天然气费太贵了", {"费用"}, {"燃气"}),
        ("路灯不亮", {"路灯"}, set()),
        ("路面坑坑洼洼", {"道路"}, set()),
        ("请问营业执照怎么变更", {"营业执照"}, set()),
        ("你好", set(), set()),
    ],
)
def test_problems_and_utilities(
    finder: DuplicateFinder, text: str, problems: set[str], utilities: set[str]
) -> None:
    sig = finder.signature(text)
    assert sig.problems == problems
    assert sig.utilities == utilities


def test_synonyms_share_one_spelling(finder: DuplicateFinder) -> None:
    assert canonical("Ａ栋没电了[流泪]").strip() == canonical("a栋停电了")
    assert canonical("金桥工业园的天然气停了") == canonical("金桥园区的燃气停了")
    assert "停电" not in canonical("没电梯")


@pytest.mark.parametrize(
    ("a", "b", "contrast"),
    [
        ("增值税发票开不出来", "普通发票开不出来", ("增值税", "普通")),
        ("食堂的冰柜坏了", "食堂的烤箱坏了", ("冰柜", "烤箱")),
        ("食堂的冰柜坏了", "食堂那台冰柜还是坏的，菜都放不了", None),  # a follow-up adds words
        ("大树枝挂在电线上", "那根树枝挂在电线上", None),  # "树枝" is inside "大树枝"
    ],
)
def test_contrast(
    finder: DuplicateFinder, a: str, b: str, contrast: tuple[str, str] | None
) -> None:
    assert _contrast(finder.signature(a).content, finder.signature(b).content) == contrast


def test_a_contrast_keeps_minimal_pairs_apart(finder: DuplicateFinder) -> None:
    a, b = finder.signature("增值税发票开不出来"), finder.signature("普通发票开不出来")
    result = finder.compare(a, b)
    assert "细节不同：增值税≠普通" in result.conflicts
    assert result.score < finder.threshold


def test_cleaning_drops_mentions_stickers_and_emoji(finder: DuplicateFinder) -> None:
    plain = finder.signature("3号路路灯坏了")
    noisy = finder.signature("@企业服务助手 3号路路灯坏了[流泪]😭🙏")
    assert noisy.tokens == plain.tokens
    assert noisy.places == plain.places
    assert noisy.problems == plain.problems


def test_numbers_keep_ids_not_quantities(finder: DuplicateFinder) -> None:
    assert finder.signature("订单号20231234的补贴什么时候到账").numbers == {"20231234"}
    assert finder.signature("停了3天，损失50万，10kv线路跳闸").numbers == frozenset()
    a, b = "设备编号a102报警", "设备编号a305报警"
    result = finder.compare(finder.signature(a), finder.signature(b))
    assert any(c.startswith("编号不同") for c in result.conflicts)


# ---------------------------------------------------------------- find, cluster, window


def cand(
    key: str, text: str, enterprise: str | None, days_ago: float, category: str | None = None
) -> Candidate:
    return Candidate(key, text, enterprise, category, NOW - timedelta(days=days_ago))


CANDIDATES = [
    cand("GD-0001", "A栋停电了，什么时候恢复？", "甲", 1),
    cand("GD-0002", "A栋停电了，生产线全停了", "乙", 1),
    cand("GD-0003", "3号路路灯坏了", "甲", 2),
    cand("GD-0004", "稳岗补贴什么时候到账", "甲", 3),
]


def test_find_links_the_same_enterprise(finder: DuplicateFinder) -> None:
    match = finder.find("我们A栋一直没电，麻烦尽快处理", "甲", None, NOW, CANDIDATES)
    assert match is not None
    assert match.key == "GD-0001"
    assert match.same_enterprise
    assert "同一地点：a栋" in match.reasons
    assert "同一问题：停电" in match.reasons
    assert any(r.startswith("文本相似度") for r in match.reasons)


def test_cluster_lists_other_enterprises(finder: DuplicateFinder) -> None:
    matches = finder.cluster("我们A栋一直没电，麻烦尽快处理", "甲", None, NOW, CANDIDATES)
    assert [m.key for m in matches] == ["GD-0002"]
    assert not matches[0].same_enterprise


def test_other_enterprise_is_never_linked(finder: DuplicateFinder) -> None:
    assert finder.find("A栋停电了，生产线全停了", "丙", None, NOW, CANDIDATES) is None
    keys = [m.key for m in finder.cluster("A栋停电了，生产线全停了", "丙", None, NOW, CANDIDATES)]
    assert keys == ["GD-0002", "GD-0001"]  # best first


def test_unknown_enterprise_links_nothing(finder: DuplicateFinder) -> None:
    candidates = [cand("GD-0009", "A栋停电了", None, 1)]
    assert finder.find("A栋停电了", None, None, NOW, candidates) is None
    assert [m.key for m in finder.cluster("A栋停电了", None, None, NOW, candidates)] == ["GD-0009"]


def test_handler_split_lists_and_unsure_category(finder: DuplicateFinder) -> None:
    # the handler may pass only the enterprise's own orders to find and only the others' to
    # cluster, with category=None for a request that went to the catch-all/unsure queue
    own = [c for c in CANDIDATES if c.enterprise == "甲"]
    others = [c for c in CANDIDATES if c.enterprise != "甲"]
    text = "我们A栋一直没电，麻烦尽快处理"
    match = finder.find(text, "甲", None, NOW, own)
    assert match is not None
    assert match.key == "GD-0001"
    assert not any(r.startswith("类别不同") for r in match.reasons)
    assert [m.key for m in finder.cluster(text, "甲", None, NOW, others)] == ["GD-0002"]
    # the wrong list in either call links nothing rather than the wrong thing
    assert finder.find(text, "甲", None, NOW, others) is None
    assert finder.cluster(text, "甲", None, NOW, own) == []
    # orders carry categories, the request has none: no category conflict either way
    routed = [cand("GD-0500", "A栋停电了，什么时候恢复？", "甲", 1, category="power")]
    unsure = finder.find(text, "甲", None, NOW, routed)
    assert unsure is not None
    assert unsure.score == finder.find(text, "甲", "power", NOW, routed).score  # type: ignore[union-attr]
    assert finder.cluster("A栋停电了", "乙", None, NOW, routed)[0].key == "GD-0500"
    # an unsure order compared with a routed request: the same
    unsure_order = [cand("GD-0501", "A栋停电了，什么时候恢复？", "甲", 1, category=None)]
    assert finder.find(text, "甲", "power", NOW, unsure_order) is not None


def test_paraphrases_of_one_problem(finder: DuplicateFinder) -> None:
    # synonyms and problem families: "网速慢" and "掉线" are not different problems
    a, b = finder.signature("D栋网速太慢了"), finder.signature("D栋网络老是掉线")
    assert not any(c.startswith("问题不同") for c in finder.compare(a, b).conflicts)
    assert canonical("临电还没送上") == canonical("临时用电还没送上")
    # time words say when, not what: no "different detail" from them
    result = finder.compare(
        finder.signature("云栖园区今天上午断网了"), finder.signature("云栖园区断网了")
    )
    assert result.conflicts == ()
    # a follow-up that repeats a short report and adds a lot still links
    assert linked(
        finder, "E栋门口井盖丢了", "E栋门口那个井盖到现在还没补上，昨晚电动车摔了一跤", True
    )


def test_find_none_for_a_new_problem(finder: DuplicateFinder) -> None:
    assert finder.find("A栋停水了", "甲", None, NOW, CANDIDATES) is None
    assert finder.find("5号路路灯坏了", "甲", None, NOW, CANDIDATES) is None
    assert finder.find("A栋停电了", "甲", None, NOW, []) is None


def test_window(finder: DuplicateFinder) -> None:
    text = "3号路路灯坏了"
    old = [cand("GD-0100", text, "甲", 31)]
    edge = [cand("GD-0101", text, "甲", 30)]
    future = [cand("GD-0102", text, "甲", -0.01)]  # clock skew: a moment "after" now
    assert finder.find(text, "甲", None, NOW, old) is None
    assert finder.cluster(text, "乙", None, NOW, old) == []
    assert finder.find(text, "甲", None, NOW, edge) is not None
    assert finder.find(text, "甲", None, NOW, future) is not None
    short = DuplicateFinder(finder.tokenizer, window=timedelta(days=7))
    assert short.find(text, "甲", None, NOW, [cand("GD-0103", text, "甲", 8)]) is None


def test_window_tolerates_naive_times(finder: DuplicateFinder) -> None:
    naive = Candidate("GD-0200", "3号路路灯坏了", "甲", None, datetime(2026, 11, 22, 9, 0))
    assert finder.find("3号路路灯坏了", "甲", None, NOW, [naive]) is not None


def test_different_categories_lower_the_score(finder: DuplicateFinder) -> None:
    a, b = finder.signature("厂区门口有问题"), finder.signature("厂区门口有问题，麻烦看看")
    same = finder.compare(a, b, "water", "water").score
    other = finder.compare(a, b, "water", "power")
    assert other.score < same
    assert "类别不同：water≠power" in other.conflicts


def test_rerouted_order_still_catches_an_exact_repeat(finder: DuplicateFinder) -> None:
    # a dispatcher moved the order to another category; the same words must still link
    candidates = [cand("GD-0300", "3号路路灯坏了，晚上很黑", "甲", 1, category="road_traffic")]
    match = finder.find("3号路路灯坏了，晚上很黑", "甲", "urban_env", NOW, candidates)
    assert match is not None
    assert "类别不同：urban_env≠road_traffic" in match.reasons


def test_best_match_and_ties_are_deterministic(finder: DuplicateFinder) -> None:
    text = "3号路路灯坏了"
    twins = [cand("GD-0402", text, "甲", 1), cand("GD-0401", text, "甲", 2)]
    assert finder.find(text, "甲", None, NOW, twins) == finder.find(
        text, "甲", None, NOW, twins[::-1]
    )
    match = finder.find(text, "甲", None, NOW, twins)
    assert match is not None
    assert match.key == "GD-0401"
    fresh = DuplicateFinder(finder.tokenizer)
    for a, b, _ in DUPLICATES + NEAR_MISSES:
        assert fresh.similarity(a, b) == finder.similarity(a, b)


def test_rejects_bad_settings(finder: DuplicateFinder) -> None:
    with pytest.raises(ValueError, match="thresholds"):
        DuplicateFinder(finder.tokenizer, threshold=1.5)
    with pytest.raises(ValueError, match="window"):
        DuplicateFinder(finder.tokenizer, window=timedelta(days=-1))


# ---------------------------------------------------------------- the labelled pair set


def test_parse_pairs() -> None:
    text = (
        "label\ttext_a\ttext_b\tsame_enterprise\n"
        "# a comment\n"
        "\n"
        "duplicate\tA栋停电了\tA栋没电了\t1\n"
        "near_miss\tA栋停电了\tB栋停电了\tfalse\n"
    )
    pairs = parse_pairs(text)
    assert [(p.label, p.same_enterprise) for p in pairs] == [
        ("duplicate", True),
        ("near_miss", False),
    ]
    assert pairs[0].held_out == parse_pairs(pairs[0].line)[0].held_out  # stable
    with pytest.raises(ValueError, match="line 1"):
        parse_pairs("maybe\ta\tb\t1")


def test_score_pairs_counts() -> None:
    def pair(label: str, same: bool) -> LabelledPair:
        return LabelledPair(label, "a", "b", same, f"{label}\ta\tb\t{int(same)}")

    scored = [
        (pair("duplicate", True), 0.6),  # tp
        (pair("duplicate", False), 0.6),  # fn: below the cluster threshold
        (pair("near_miss", True), 0.6),  # fp
        (pair("unrelated", False), 0.1),  # tn
    ]
    s = score_pairs(scored, 0.5, 0.7)
    assert (s.tp, s.fn, s.fp, s.tn) == (1, 1, 1, 1)
    assert s.precision == 0.5
    assert s.recall == 0.5


def _scored(finder: DuplicateFinder, held_out: bool) -> list[tuple[LabelledPair, float]]:
    pairs = parse_pairs(PAIRS.read_text(encoding="utf-8"))
    return [(p, finder.similarity(p.text_a, p.text_b)) for p in pairs if p.held_out == held_out]


NO_PAIRS = pytest.mark.skipif(not PAIRS.exists(), reason="the labelled pair set is not there yet")


@NO_PAIRS
def test_shipped_pairs_held_out_meet_the_target(finder: DuplicateFinder) -> None:
    scored = _scored(finder, held_out=True)
    assert sum(p.positive for p, _ in scored) >= 10
    s = score_pairs(scored, finder.threshold, finder.cluster_threshold)
    assert s.precision >= 0.95, s
    assert s.recall >= 0.80, s


@NO_PAIRS
def test_shipped_pairs_do_not_regress(finder: DuplicateFinder) -> None:
    """Today's figures, as floors: held-out P 0.966 R 0.887, tuning half P 0.991 R 0.981."""
    held = score_pairs(_scored(finder, held_out=True), finder.threshold, finder.cluster_threshold)
    assert held.precision >= 0.95, held
    assert held.recall >= 0.85, held
    tune = score_pairs(_scored(finder, held_out=False), finder.threshold, finder.cluster_threshold)
    assert tune.precision >= 0.97, tune
    assert tune.recall >= 0.95, tune
