"""Request detection as the app uses it: ``build_default(...).classify(text).is_request``.

The classifier is trained once per module on the shipped corpus (``nlp/data/corpus``), with the
shipped taxonomy. The tables are realistic group lines written for this test (not corpus lines):
requests an enterprise posts, and chatter (thanks, acks, notices, officers' replies, talk
between members). They pin clear cases only; the held-out figures are in ``bench/RESULTS.md``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.language import demo_taxonomy_rules
from nlp.tokenizer import Tokenizer
from nlp.trained import DEFAULT_THRESHOLD, TrainedClassifier, build_default

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "nlp" / "data" / "corpus"


@pytest.fixture(scope="module")
def clf(classifier_cache: Path) -> TrainedClassifier:
    rules = demo_taxonomy_rules()
    # the session's cache: the detector's SVM, which depends on the corpus only, is fitted once
    return build_default(rules, Tokenizer(), CORPUS, cache_dir=classifier_cache)


REQUESTS = [
    "@企业服务助手 我们厂门口的路灯坏了三天了，晚上员工下班很危险",
    "急！二号车间突然停电，生产线全停了",
    "请问今年的稳岗返还要企业自己申请吗？",
    "我们新厂区没有路给施工车辆进出，能不能协调修一条临时便道",
    "上周反映的停水问题到现在还没解决，麻烦再催一下",
    "燃气管道什么时候能接到我们研发楼？实验室下个月要用",
    "施工许可证的材料交了快一个月了，一直没有消息",
    "厂区旁边的工地晚上十二点还在施工，噪音太大了，工人睡不着",
    # scored 0.79 with the logistic blend (missed), filed by the trees, 0.77 with the session-5
    # kernel (missed, xfail); filed again since the margin is a blend term (session 6)
    "有人冒充管委会的人上门收费，请派出所查一下",
    "建议在园区大道和兴业路路口装个红绿灯，太危险了",
    "谢谢昨天来修，可是今天又跳闸了，能不能再派人看看",
    "我们想申请专精特新，需要准备哪些材料？",
]

CHATTER = [
    "收到",
    "好的，谢谢领导[抱拳]",
    "👍👍",
    "[图片]",
    "谢谢住建局帮我们把路修好了",
    "来电了，谢谢大家",
    "【停电通知】明天8:00-12:00兴业路沿线检修停电，请各企业提前做好准备",
    "通知：周四下午3点在管委会三楼开安全生产会议，请各企业负责人参加",
    "您好，已转交区供电公司，预计下午3点前到场处理",
    "@企业服务助手",
    "哈哈哈，周末愉快",
    "@张总 合同我已经发你邮箱了",
]


@pytest.mark.parametrize("text", REQUESTS)
def test_requests_are_filed(clf: TrainedClassifier, text: str) -> None:
    d = clf.classify(text)
    assert d.is_request, (text, d.request_score)
    assert d.category is not None and d.department is not None


@pytest.mark.parametrize("text", CHATTER)
def test_chatter_is_not_filed(clf: TrainedClassifier, text: str) -> None:
    d = clf.classify(text)
    assert not d.is_request, (text, d.request_score)
    assert d.category is None and d.confidence == 0.0


def test_the_app_threshold_is_the_fixed_default(clf: TrainedClassifier) -> None:
    assert clf.threshold == DEFAULT_THRESHOLD
    assert 0.5 <= DEFAULT_THRESHOLD < 1.0
    text = "厂区门口的路灯坏了一个星期了"
    assert clf.classify(text).is_request == (clf.request_score(text) >= DEFAULT_THRESHOLD)


def test_stickers_do_not_decide(clf: TrainedClassifier) -> None:
    # a sticker seen mostly in chatter must not outvote the words of a request
    plain = clf.request_score("仓库那边停电了，冷库的货要化了")
    marked = clf.request_score("仓库那边停电了，冷库的货要化了[捂脸]")
    assert abs(plain - marked) < 0.3
