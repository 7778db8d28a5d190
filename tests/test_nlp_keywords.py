"""The first classifier: jieba tokenizer, request detection and keyword routing.

The tables below were written from what enterprise groups actually say (field.md) before the
classifier was tuned; the classifier was then made to pass them. The taxonomy under test is the
shipped default, ``bot/demo_data/taxonomy.toml`` (also pasted into ``config.example.toml``),
loaded with ``tomllib``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import jieba
import pytest

from bot.config import settings_from_dict
from nlp.decision import CategoryRule, Classifier, Decision
from nlp.keywords import KeywordClassifier, _signals
from nlp.tokenizer import Tokenizer

ROOT = Path(__file__).resolve().parent.parent
FRAGMENT = ROOT / "bot" / "demo_data" / "taxonomy.toml"
CJK = re.compile(r"[\u4e00-\u9fff]")

# Names the runtime would add from the roster (departments, groups, enterprises).
EXTRA_NAMES = [
    "区住建局",
    "区自然资源局",
    "湘江新材料科技有限公司",
    "石峰智能装备制造有限公司",
    "城南商业广场",
    "碳材料研究院",
    "光铝科技有限公司",
    "石峰智能装备企业服务群",
]


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def taxonomy_raw() -> dict[str, Any]:
    return tomllib.loads(FRAGMENT.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def rules(taxonomy_raw: dict[str, Any]) -> list[CategoryRule]:
    return [
        CategoryRule(
            code=c["code"],
            name=c["name"],
            department=c["department"],
            keywords=tuple(c["keywords"]),
            catch_all=c.get("catch_all", False),
        )
        for c in taxonomy_raw["categories"]
    ]


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer(extra_words=EXTRA_NAMES)


@pytest.fixture(scope="module")
def kw(rules: list[CategoryRule], tokenizer: Tokenizer) -> KeywordClassifier:
    return KeywordClassifier(rules, tokenizer)


# ---------------------------------------------------------------- the tables

# (text, expected category code). Short and long, typos, mixed full/half-width punctuation,
# emoji and WeCom sticker codes, "@name" prefixes left in.
REQUESTS = [
    # the demo's working day (bot/demo.py)
    pytest.param(
        "我们新基地施工许可还在办，但是没有路给施工车辆进出，能否协调修一条临时道路？",
        "road_traffic",
        id="demo-road",
    ),
    pytest.param(
        "研发楼的燃气管道还没接通，周五前必须通气，麻烦尽快协调燃气公司", "gas", id="demo-gas"
    ),
    pytest.param("商场5月1日要开业，消防验收什么时候能安排？", "fire", id="demo-fire-acceptance"),
    pytest.param("场地清表和土方外运一直没人协调，项目没法开工，急！", "site", id="demo-site"),
    pytest.param("请问小微企业稳岗补贴怎么申请？需要准备哪些材料", "labour", id="demo-subsidy"),
    pytest.param(
        "园区门口的路灯坏了好几天，晚上货车进出很危险", "urban_env", id="demo-streetlight"
    ),
    pytest.param("员工社保转移一直办理不了，系统提示错误，怎么办？", "labour", id="demo-social"),
    # utilities
    pytest.param(
        "厂区从早上8点开始停电，生产线全停了，什么时候能恢复供电？", "power", id="power-outage"
    ),
    pytest.param("停电了！！！", "power", id="power-short"),
    pytest.param("我们的用电报装申请提交两周了还没人来勘查", "power", id="power-application"),
    pytest.param("新厂房需要增容到1000千伏安，变压器要怎么报装", "power", id="power-capacity"),
    pytest.param(
        "领导您好，我们是园区内的新材料企业，二期厂房已经封顶，计划九月投产，但目前厂区的"
        "双回路供电方案还没批下来，临时用电也只够施工用，想请供电公司尽快到现场对接一下",
        "power",
        id="power-long",
    ),
    pytest.param("园区东路水管爆了，厂里停水一上午了！！", "water", id="water-burst"),
    pytest.param("厂区水压太低，三楼以上都没水，能不能帮忙看看", "water", id="water-pressure"),
    pytest.param("雨后厂门口积水严重，下水道堵了，车都进不来", "water", id="water-flooding"),
    pytest.param("@李工 @王科长 厂区又停水了，什么时候来水？", "water", id="water-mentions"),
    pytest.param("排水许可证怎么办？", "water", id="water-drainage-permit"),
    pytest.param("食堂燃气报装怎么办理？需要哪些资料", "gas", id="gas-application"),
    pytest.param("车间闻到有燃气泄漏的味道，急需燃气公司过来检查", "gas", id="gas-leak"),
    pytest.param("燃汽管道漏气了，赶紧派人来看看", "gas", id="gas-typo"),
    pytest.param("燃气什么时候能通啊[捂脸]", "gas", id="gas-sticker"),
    pytest.param("收到，那燃气报装的材料发给谁？", "gas", id="gas-after-ack"),
    # telecom
    pytest.param("办公楼宽带老是断网，找了电信好几次都没解决", "telecom", id="telecom-broadband"),
    pytest.param("厂区手机信号太差，能不能协调运营商建个5G基站", "telecom", id="telecom-signal"),
    pytest.param("宽带装机能快一点吗🙏", "telecom", id="telecom-emoji"),
    pytest.param("5G信号太弱!!视频会议都开不了,能协调一下吗?", "telecom", id="telecom-halfwidth"),
    # roads and traffic
    pytest.param(
        "新基地没有路给施工车辆进出，能否协调修临时道路？", "road_traffic", id="road-bench"
    ),
    pytest.param(
        "公司门口没有公交站，员工上下班很不方便，能否增设公交线路", "road_traffic", id="road-bus"
    ),
    pytest.param(
        "园区停车位严重不足，员工车辆只能停路边被贴罚单，希望协调解决停车问题",
        "road_traffic",
        id="road-parking",
    ),
    pytest.param(
        "厂门口那段路坑坑洼洼，大货车经常陷进去，能否安排修补路面",
        "road_traffic",
        id="road-potholes",
    ),
    pytest.param(
        "谢谢刘科长，另外想问一下临时道路什么时候能修好？",
        "road_traffic",
        id="road-thanks-then-question",
    ),
    # approvals and certificates
    pytest.param(
        "施工许可证办理进度能帮忙查一下吗？材料上周已经交了", "construction", id="permit-progress"
    ),
    pytest.param(
        "联合验收需要提前准备哪些资料？想请住建局提前帮我们预审一下",
        "construction",
        id="joint-acceptance",
    ),
    pytest.param(
        "竣工验收备案一直没办下来，影响我们下个月开业", "construction", id="completion-filing"
    ),
    pytest.param("白蚁防治备案在哪里办理？", "construction", id="termite-filing"),
    pytest.param("项目开工前的施工图审查要多久", "construction", id="drawing-review"),
    pytest.param("不动产首次登记需要哪些材料？", "planning", id="property-first-registration"),
    pytest.param(
        "我们的不动产权证什么时候能拿到？已经等了一个多月", "planning", id="property-certificate"
    ),
    pytest.param(
        "建设工程规划许可证的审批卡在多规合一审查，请帮忙催一下规划局",
        "planning",
        id="planning-permit",
    ),
    pytest.param("项目用地红线和规划图不一致，需要规划部门确认", "planning", id="red-line"),
    # environmental assessment, energy/safety assessment
    pytest.param("环评批复还没下来，设备到了不敢安装，能否加快审批", "eco", id="eia-approval"),
    pytest.param("排污许可证到期了，延续申请要准备什么材料？", "eco", id="discharge-permit"),
    pytest.param("危废暂存间怎么建才符合要求？想请环保部门指导一下", "eco", id="hazardous-waste"),
    pytest.param("旁边化工厂晚上偷排污水，河道都变黑了", "eco", id="illegal-discharge"),
    pytest.param("环评公示期结束了吗？什么时候可以报批", "eco", id="eia-publicity"),
    pytest.param("项目节能审查报告交上去了，能评什么时候批？", "assessment", id="energy-review"),
    pytest.param(
        "新项目立项备案在哪里办？需要发改局出具什么文件", "assessment", id="project-filing"
    ),
    pytest.param("安全评价报告的评审能不能尽快安排", "assessment", id="safety-assessment"),
    # land and site
    pytest.param(
        "地块上还有一片青苗和几座坟没迁，施工队进不了场，请协调征拆", "site", id="site-clearance"
    ),
    pytest.param(
        "交地时间一拖再拖，土地还没有达到净地条件，我们的项目怎么开工？", "site", id="site-handover"
    ),
    pytest.param("渣土没有地方消纳，土方外运需要办什么手续？", "site", id="site-spoil"),
    # policy and funding
    pytest.param("今年的专精特新奖补资金什么时候兑现？", "policy", id="policy-award"),
    pytest.param("想咨询一下高新技术企业认定有什么补贴政策", "policy", id="policy-hitech"),
    pytest.param(
        "公司流动资金紧张，有没有政府贴息贷款或者担保融资的渠道？", "policy", id="policy-finance"
    ),
    pytest.param("留抵退税申请后一直没到账，能帮忙问问税务局吗", "policy", id="policy-tax-refund"),
    pytest.param("公司想申报市级技术中心，申报材料有模板吗", "policy", id="policy-declaration"),
    # labour
    pytest.param("领导好，请问今年的稳岗补贴还有吗", "labour", id="labour-greeting-subsidy"),
    pytest.param(
        "招工难，急需200名普工，能否帮我们对接劳务资源或办场招聘会",
        "labour",
        id="labour-recruiting",
    ),
    pytest.param("有员工工伤认定要多久？公司不太清楚流程", "labour", id="labour-injury"),
    pytest.param(
        "有个分包队伍拖欠农民工工资，工人围在项目部，怎么处理", "labour", id="labour-wage-arrears"
    ),
    pytest.param("社宝转移办不了怎么办，社保局电话一直打不通", "labour", id="labour-typo"),
    # fire and work safety
    pytest.param("消防通道被隔壁厂的货物堵住了，多次沟通无果", "fire", id="fire-lane"),
    pytest.param(
        "厂房消防设施检测需要找哪家机构？消防检查什么时候来", "fire", id="fire-inspection"
    ),
    pytest.param(
        "车间粉尘比较大，想请应急局来指导一下安全生产标准化", "work_safety", id="safety-dust"
    ),
    pytest.param("危化品仓库的安全隐患整改需要哪些部门验收？", "work_safety", id="safety-hazchem"),
    # environment and sanitation
    pytest.param(
        "隔壁工地每天晚上施工到十二点，噪音太大，工人都休息不好", "urban_env", id="env-night-noise"
    ),
    pytest.param("园区垃圾好几天没人清运了，气味很大", "urban_env", id="env-garbage"),
    # public order
    pytest.param(
        "项目部门口经常有人阻工，还威胁工人，已经报过警了，希望公安介入",
        "public_order",
        id="order-obstruction",
    ),
    pytest.param(
        "工地晚上被偷了一批钢筋，监控也拍到了，能不能尽快破案", "public_order", id="order-theft"
    ),
    pytest.param(
        "和隔壁企业因为围墙边界起了纠纷，想请街道协调一下", "public_order", id="order-dispute"
    ),
    # market regulation
    pytest.param("营业执照经营范围要增加一项，变更登记怎么办理", "market", id="market-scope"),
    pytest.param("营业执找的经营范围怎么变更呀", "market", id="market-typo"),
    pytest.param("食堂要办食品经营许可证，需要什么条件？", "market", id="market-food-licence"),
    pytest.param("厂里的电梯年检过期了，特种设备检验怎么预约", "market", id="market-elevator"),
    # the catch-all: a request that names no category, or only the service centre's own words
    pytest.param("你好，我们公司门口那个问题什么时候能处理一下？", "other", id="other-vague"),
    pytest.param(
        "想问一下帮代办服务怎么申请，我们项目想请专员全程代办", "other", id="other-agency"
    ),
    pytest.param(
        "@企业服务助手 政务大厅窗口说材料不全，到底还缺什么？", "other", id="other-window"
    ),
]

# Lines that are not requests: thanks, acks, greetings, emoji and stickers, replies to an
# officer, notices, closure messages.
CHATTER = [
    pytest.param("谢谢", id="thanks"),
    pytest.param("谢谢！", id="thanks-bang"),
    pytest.param("收到", id="ack"),
    pytest.param("好的", id="ok"),
    pytest.param("早", id="morning-short"),
    pytest.param("👍👍", id="thumbs"),
    pytest.param("[玫瑰]", id="sticker-rose"),
    pytest.param("[强][强]", id="sticker-strong"),
    pytest.param("[抱拳][抱拳]", id="sticker-fist"),
    pytest.param("👏👏👏", id="clap"),
    pytest.param("🙏🙏", id="pray"),
    pytest.param("刘科长辛苦了", id="officer-thanks"),
    pytest.param("好的，明天上午十点开会", id="meeting"),
    pytest.param("大家注意查收通知", id="notice"),
    pytest.param("大家注意查收邮箱里的会议通知", id="notice-mail"),
    pytest.param("请各企业于本周五前报送一季度用工需求", id="notice-report"),
    pytest.param("早上好！", id="good-morning"),
    pytest.param("各位企业家下午好", id="good-afternoon"),
    pytest.param("大家好", id="hello-all"),
    pytest.param("您好", id="hello"),
    pytest.param("在吗", id="are-you-there"),
    pytest.param("哈哈哈", id="laugh"),
    pytest.param("哈哈，是的", id="laugh-yes"),
    pytest.param("收到，辛苦了", id="ack-thanks"),
    pytest.param("收到，辛苦了👍", id="ack-thanks-emoji"),
    pytest.param("好的谢谢", id="ok-thanks"),
    pytest.param("感谢各位领导的支持🙏", id="thanks-support"),
    pytest.param("谢谢住建局的帮忙", id="thanks-department"),
    pytest.param("感谢住建局帮忙协调，施工许可终于办下来了", id="thanks-permit-done"),
    pytest.param("感谢燃气公司连夜抢修，今天已经通气了！", id="thanks-gas-done"),
    pytest.param("谢谢您，燃气已经通了", id="thanks-gas-flowing"),
    pytest.param("@刘科长 好的我下午过去", id="reply-visit"),
    pytest.param("嗯嗯", id="mm"),
    pytest.param("ok", id="ok-ascii"),
    pytest.param("OK👌", id="ok-emoji"),
    pytest.param("明白", id="understood"),
    pytest.param("知道了", id="got-it"),
    pytest.param("好滴", id="ok-cute"),
    pytest.param("收到收到，马上安排", id="ack-on-it"),
    pytest.param("没问题", id="no-problem"),
    pytest.param("好的没问题", id="ok-no-problem"),
    pytest.param("辛苦辛苦", id="hard-work"),
    pytest.param("问题已经解决了，谢谢", id="solved-thanks"),
    pytest.param("已完成，谢谢领导关心", id="done-thanks"),
    pytest.param("好的，我们这边协调一下", id="ok-we-coordinate"),
    pytest.param("[图片]", id="image-placeholder"),
    pytest.param("周末愉快", id="weekend"),
    pytest.param("新年快乐！", id="new-year"),
    pytest.param("恭喜恭喜", id="congrats"),
    pytest.param("今天天气不错", id="weather"),
    pytest.param("明天见", id="see-you"),
    pytest.param("晚安", id="good-night"),
]


# ---------------------------------------------------------------- request detection and routing


@pytest.mark.parametrize(("text", "category"), REQUESTS)
def test_request_is_detected_and_routed(kw: KeywordClassifier, text: str, category: str) -> None:
    d = kw.classify(text)
    assert d.is_request, f"not a request: {d}"
    assert d.request_score >= 0.5
    assert d.category == category, f"{d.category} != {category}: {d.top3}"
    assert d.department is not None


@pytest.mark.parametrize("text", CHATTER)
def test_chatter_is_not_a_request(kw: KeywordClassifier, text: str) -> None:
    d = kw.classify(text)
    assert not d.is_request, f"chatter taken as a request: {d}"
    assert d.request_score < 0.5
    assert d.category is None and d.department is None


def test_enough_lines_in_the_tables() -> None:
    assert len(REQUESTS) + len(CHATTER) >= 60
    assert len({p.id for p in REQUESTS}) == len(REQUESTS)
    assert len({p.id for p in CHATTER}) == len(CHATTER)


def test_every_category_is_exercised(rules: list[CategoryRule]) -> None:
    expected = {p.values[1] for p in REQUESTS}
    assert {r.code for r in rules} <= expected


def test_request_matching_no_category_goes_to_the_catch_all(
    kw: KeywordClassifier, rules: list[CategoryRule]
) -> None:
    catch_all = next(r for r in rules if r.catch_all)
    d = kw.classify("我们这边遇到点困难，能不能找个人来看一下？")
    assert d.is_request
    assert d.category == catch_all.code == "other"
    assert d.department == catch_all.department == "service_center"
    assert d.confidence <= 0.3
    assert [s.category for s in d.top3] == ["other"]


def test_thanks_never_make_a_request_even_naming_a_department(kw: KeywordClassifier) -> None:
    for text in [
        "谢谢住建局的帮忙",
        "感谢供电公司的大力支持！",
        "非常感谢交通局和城管局的协调帮助",
        "谢谢消防大队，消防验收已经通过了",
    ]:
        assert not kw.classify(text).is_request, text


def test_keyword_plus_cue_is_a_request(kw: KeywordClassifier) -> None:
    for text in ["燃气管道漏了", "环评怎么办", "停车位不够", "消防验收要多久", "社保问题"]:
        d = kw.classify(text)
        assert d.is_request, (text, d)


def test_decision_invariants(kw: KeywordClassifier) -> None:
    lines = (
        [p.values[0] for p in REQUESTS]
        + [p.values[0] for p in CHATTER]
        + ["", "   ", "？？？", "@企业服务助手", "燃气 供水 供电 道路 停车 社保 消防 环评 营业执照"]
    )
    for text in lines:
        assert isinstance(text, str)
        d = kw.classify(text)
        assert isinstance(d, Decision)
        assert 0.0 <= d.request_score <= 1.0
        assert 0.0 <= d.confidence <= 1.0
        assert len(d.top3) <= 3
        scores = [s.score for s in d.top3]
        assert scores == sorted(scores, reverse=True)
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert len({s.category for s in d.top3}) == len(d.top3)
        if d.is_request:
            assert d.category is not None and d.department is not None
            if d.top3:
                assert d.top3[0].category == d.category
                assert d.top3[0].score == d.confidence
        else:
            assert d.category is None and d.department is None and d.confidence == 0.0


def test_many_categories_give_three_sorted_suggestions(kw: KeywordClassifier) -> None:
    d = kw.classify("园区道路、供水、燃气、宽带都还没通，能不能一起协调？")
    assert d.is_request
    assert len(d.top3) == 3
    assert d.top3[0].score >= d.top3[1].score >= d.top3[2].score
    assert d.confidence < 0.5  # split between several categories


def test_classify_is_deterministic(kw: KeywordClassifier, rules: list[CategoryRule]) -> None:
    text = "园区道路、供水、燃气、宽带都还没通，能不能一起协调？"
    first = kw.classify(text)
    assert all(kw.classify(text) == first for _ in range(5))
    other = KeywordClassifier(rules, Tokenizer())
    assert other.classify(text) == first


def test_keyword_classifier_is_a_classifier(kw: KeywordClassifier) -> None:
    classifier: Classifier = kw
    assert classifier.classify("谢谢").is_request is False


def test_threshold_is_configurable(rules: list[CategoryRule], tokenizer: Tokenizer) -> None:
    text = "燃气什么时候能通"
    strict = KeywordClassifier(rules, tokenizer, threshold=0.999)
    d = strict.classify(text)
    assert not d.is_request and d.category is None
    assert KeywordClassifier(rules, tokenizer).classify(text).is_request


def test_rules_need_exactly_one_catch_all(tokenizer: Tokenizer) -> None:
    plain = CategoryRule("gas", "燃气", "gas", ("燃气",))
    with pytest.raises(ValueError, match="catch"):
        KeywordClassifier([plain], tokenizer)
    two = [
        CategoryRule("a", "A", "x", (), catch_all=True),
        CategoryRule("b", "B", "y", (), catch_all=True),
    ]
    with pytest.raises(ValueError, match="catch"):
        KeywordClassifier(two, tokenizer)


def test_longer_keyword_wins_over_the_short_one_inside_it(tokenizer: Tokenizer) -> None:
    rules = [
        CategoryRule("acceptance", "验收", "housing", ("验收",)),
        CategoryRule("fire", "消防", "fire", ("消防验收",)),
        CategoryRule("other", "其他", "center", (), catch_all=True),
    ]
    d = KeywordClassifier(rules, tokenizer).classify("消防验收什么时候安排？")
    assert d.category == "fire"
    assert [s.category for s in d.top3] == ["fire"]


def test_token_match_weighs_more_than_substring_match(tokenizer: Tokenizer) -> None:
    # "燃气" is a whole token in "燃气 什么时候 通", but only a substring of "燃气灶"-like
    # compounds the dictionary knows; here both categories have one two-character keyword.
    rules = [
        CategoryRule("gas", "燃气", "gas", ("燃气",)),
        CategoryRule("it", "网络", "it", ("网络",)),
        CategoryRule("other", "其他", "center", (), catch_all=True),
    ]
    clf = KeywordClassifier(rules, tokenizer)
    d = clf.classify("燃气什么时候通，另外网络安全培训在哪报名？")
    token_scores = {s.category: s.score for s in d.top3}
    assert token_scores["gas"] > token_scores["it"]  # "网络安全" is one jieba word


# ---------------------------------------------------------------- the tokenizer


def test_tokenizer_keeps_domain_words_whole(tokenizer: Tokenizer) -> None:
    assert "不动产登记" in tokenizer.tokens("请问不动产登记在哪里办？")
    assert "施工许可" in tokenizer.tokens("我们的施工许可还没下来")
    assert "稳岗补贴" in tokenizer.tokens("稳岗补贴怎么申请")
    assert "联合验收" in tokenizer.tokens("联合验收什么时候做")
    assert "临时道路" in tokenizer.tokens("能否修一条临时道路")


def test_tokenizer_keeps_extra_names_whole(tokenizer: Tokenizer) -> None:
    assert "湘江新材料科技有限公司" in tokenizer.tokens("湘江新材料科技有限公司的燃气管道")
    assert "凤凰岭产业园" not in tokenizer.tokens("凤凰岭产业园停电了")
    named = Tokenizer(extra_words=["凤凰岭产业园"])
    assert "凤凰岭产业园" in named.tokens("凤凰岭产业园停电了")


def test_tokens_drop_stopwords_punctuation_and_whitespace(tokenizer: Tokenizer) -> None:
    toks = tokenizer.tokens("我们的 燃气管道，还没有接通！！？ 👍 [强]")
    assert "的" not in toks and "我们" not in toks
    assert all(t.strip() and re.search(r"\w", t) for t in toks)
    assert "燃气管道" in toks


def test_tokens_lowercase_ascii_and_normalise_width(tokenizer: Tokenizer) -> None:
    toks = tokenizer.tokens("ＷＩＦＩ和5G信号都很差，OA系统打不开")
    assert "wifi" in toks and "oa" in toks
    assert not any(c.isupper() for t in toks for c in t)


def test_every_keyword_is_one_token(kw: KeywordClassifier, rules: list[CategoryRule]) -> None:
    keywords = {k for r in rules for k in r.keywords}
    assert not kw.tokenizer.stopwords & keywords
    for word in keywords:
        assert kw.tokenizer.tokens(word) == [word.lower()], word


def test_tokenizer_is_built_once(
    monkeypatch: pytest.MonkeyPatch, tokenizer: Tokenizer, kw: KeywordClassifier
) -> None:
    assert tokenizer.jieba is not jieba.dt  # never the global default instance
    assert tokenizer.jieba.initialized
    calls: list[object] = []

    def counting_initialize(self: jieba.Tokenizer, dictionary: object = None) -> None:
        calls.append(self)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the global jieba instance was used")

    monkeypatch.setattr(jieba.Tokenizer, "initialize", counting_initialize)
    monkeypatch.setattr(jieba.dt, "cut", refuse)
    monkeypatch.setattr(jieba.dt, "initialize", refuse)
    for text in [p.values[0] for p in REQUESTS[:20]]:
        kw.classify(text)
        tokenizer.tokens(text)
    assert calls == []


# ---------------------------------------------------------------- the taxonomy itself


def test_taxonomy_fragment_is_a_valid_config(taxonomy_raw: dict[str, Any]) -> None:
    settings = settings_from_dict(taxonomy_raw)
    assert len([c for c in settings.categories if not c.catch_all]) >= 12
    assert settings.catch_all.code == "other"
    assert settings.catch_all.department == "service_center"
    assert settings.department("service_center") is not None


def test_taxonomy_keys_and_limits(taxonomy_raw: dict[str, Any]) -> None:
    for dept in taxonomy_raw["departments"]:
        assert set(dept) == {"code", "name", "leader"}
        assert re.fullmatch(r"[a-z_]{2,20}", dept["code"])
        assert CJK.search(dept["name"])
    used = {c["department"] for c in taxonomy_raw["categories"]}
    assert used == {d["code"] for d in taxonomy_raw["departments"]}
    urgent = set()
    for cat in taxonomy_raw["categories"]:
        assert set(cat) <= {
            "code",
            "name",
            "department",
            "keywords",
            "limit_hours",
            "limit_days",
            "catch_all",
            "accept_hours",
            "contact_hours",
            "contact_days",
            "start_next_day",
            "extensions",
            "urgent",
        }
        assert ("limit_hours" in cat) != ("limit_days" in cat), cat["code"]
        if "limit_hours" in cat:
            urgent.add(cat["code"])
            assert cat["limit_hours"] == 24
        else:
            assert cat["limit_days"] in (2, 5, 15)
        assert 8 <= len(cat["keywords"]) <= 25, cat["code"]
        assert all(CJK.search(k) for k in cat["keywords"]), cat["code"]
        assert cat.get("catch_all", True) is True  # only ever written as `catch_all = true`
    assert urgent == {"water", "power", "gas"}


def test_taxonomy_keywords_are_unique(taxonomy_raw: dict[str, Any]) -> None:
    seen: dict[str, str] = {}
    for cat in taxonomy_raw["categories"]:
        for word in cat["keywords"]:
            assert word not in seen, f"{word!r} in both {seen[word]} and {cat['code']}"
            seen[word] = cat["code"]


def test_taxonomy_has_the_demo_departments(taxonomy_raw: dict[str, Any]) -> None:
    roster = tomllib.loads((ROOT / "bot" / "demo_data" / "roster.toml").read_text("utf-8"))
    codes = {d["code"] for d in taxonomy_raw["departments"]}
    assert {p["department"] for p in roster["people"] if "department" in p} <= codes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("谢谢昨天来修，但是今天又停了", True),
        ("感谢燃气公司，不过压力还是上不去", True),
        ("修好了，可是才一天又坏了", True),
        ("来电了，谢谢大家", False),
        ("谢谢专员，辛苦了", False),
    ],
)
def test_a_turn_after_thanks_keeps_the_need_alive(
    kw: KeywordClassifier, text: str, expected: bool
) -> None:
    # "但是/可是/不过" after thanks or a closure is a live cue: the pure-thanks rule (here and
    # in TrainedClassifier) no longer applies
    d = kw.classify(text)
    sig = _signals(text)
    if expected:
        assert sig.weak_live > 0 and sig.strong > 0
        assert d.request_score > 0.19, d.request_score  # above the cap's sigmoid(-1.5)
    else:
        assert not d.is_request and d.request_score < 0.2


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("有没有人知道哪家打印店能做喷绘", "peer"),
        ("你们那边的食堂一个月多少钱", "peer"),
        ("谁的车挡住我们仓库门了", "peer"),
        ("不需要重新备案，变更一下就可以。", "answer"),
        ("您好，已转给城管中队，明天上午去清理", "answer"),
        ("原来是我们自己的空开坏了，换了就好", "over"),
        ("停水是阀门关了，虚惊一场", "over"),
    ],
)
def test_chatter_cues_of_the_stacked_blend(text: str, cue: str) -> None:
    # signals only (nlp.trained weighs them); the keyword logit does not use them
    sig = _signals(text)
    assert {name for name in ("peer", "answer", "over") if getattr(sig, name)} == {cue}


@pytest.mark.parametrize(
    "text",
    ["有没有人才公寓可以申请？", "有没有人管一下，门口水管破了", "厂区又停电了，什么时候来电？"],
)
def test_requests_carry_no_chatter_cue(text: str) -> None:
    sig = _signals(text)
    assert not (sig.peer or sig.answer or sig.over)


def test_a_complaint_about_handling_is_a_problem(kw: KeywordClassifier) -> None:
    for text in ["说好的周一来修，现在周四了，人呢", "又是让我们回去等通知，已经等了三周了"]:
        assert _signals(text).strong > 0 and not _signals(text).notice, text
