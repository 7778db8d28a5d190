"""Routing as the service does it (the default model built from the shipped corpus and the test
taxonomy): one realistic request per category, none of them in the corpus."""

from __future__ import annotations

import pytest

from bot.language import Language

ROUTES = [
    ("厂房主体已经完工，竣工验收要准备哪些资料", "construction"),
    ("新买的厂房不动产证一直办不下来", "planning"),
    ("我们的环评批复什么时候能下来，项目等着开工", "eco"),
    ("项目备案需要做节能评估吗", "assessment"),
    ("园区今天停水了，食堂没法做饭", "water"),
    ("车间从早上九点停电到现在，设备全停", "power"),
    ("食堂燃气开户要什么材料", "gas"),
    ("新厂房还没通宽带，光纤什么时候能拉进来", "telecom"),
    ("厂门口那段路全是坑，货车进出很困难", "road_traffic"),
    ("项目用地上的青苗补偿还没谈妥，没法进场施工", "site"),
    ("今年的技改补贴什么时候开始申报", "policy"),
    ("新招的员工社保怎么办理", "labour"),
    ("商场开业前的消防验收怎么预约", "fire"),
    ("安全生产许可证快到期了，延续要怎么办", "work_safety"),
    ("园区门口的垃圾好几天没人清运了", "urban_env"),
    ("有人在我们工地门口闹事，堵着不让车进", "public_order"),
    ("食品经营许可证的地址变更去哪里办", "market"),
]


@pytest.mark.parametrize(("text", "category"), ROUTES, ids=[c for _, c in ROUTES])
def test_each_category_gets_its_requests(language: Language, text: str, category: str) -> None:
    decision = language.classifier.classify(text)
    assert decision.request_score >= 0.5, decision  # filed, or at least put to a dispatcher
    assert decision.top3[0].category == category, decision.top3
    assert decision.top3[0].score > 0.5


def test_the_department_comes_from_the_category(language: Language) -> None:
    decision = language.classifier.classify("车间从早上九点停电到现在，设备全停")
    assert (decision.category, decision.department) == ("power", "power")
    assert len(decision.top3) <= 3
    scores = [s.score for s in decision.top3]
    assert scores == sorted(scores, reverse=True)


def test_every_category_of_the_taxonomy_is_covered_here(language: Language) -> None:
    codes = {c for _, c in ROUTES}
    rules = language.classifier.rules  # type: ignore[attr-defined]
    assert codes == {code for code, rule in rules.items() if not rule.catch_all}
