"""Officers' commands through the real app callback: 签收, 办结, 查询, help, refusals."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.clock import FakeClock
from bot.fake_wecom import FakeWeCom
from bot.runtime import Runtime
from bot.scheduler import Jobs
from handlers.commands import normalize_number, parse
from storage import db
from storage.models import OrderEvent, WorkOrder
from tests.peer import AibotPeer, AppPeer, aibot_text
from tests.test_webhook import MENTION, ROAD, post_aibot, post_app

NUMBER = "GD-20261123-0001"


@pytest.fixture
def order(
    client: FlaskClient, aibot_peer: AibotPeer, clock: FakeClock, jobs: Jobs, fake: FakeWeCom
) -> str:
    """One road request from 甲公司's group, routed to transport; outbox drained."""
    post_aibot(client, aibot_peer, clock, aibot_text("o1", "ent.a", MENTION + ROAD, "chat_a"))
    jobs.run("outbox")
    fake.reset()
    return NUMBER


class Officer:
    """Sends 1:1 app messages as a user and reads the bot's 1:1 answers."""

    def __init__(
        self, client: FlaskClient, peer: AppPeer, clock: FakeClock, jobs: Jobs, fake: FakeWeCom
    ) -> None:
        self.client, self.peer, self.clock, self.jobs, self.fake = client, peer, clock, jobs, fake
        self.msgid = 5000

    def say(self, userid: str, text: str) -> str:
        self.msgid += 1
        seen = len(self.fake.sent_messages())
        r = post_app(self.client, self.peer, self.clock, userid, text, self.msgid)
        assert (r.status_code, r.data) == (200, b"")
        self.jobs.run("outbox")
        answers = [m for m in self.fake.sent_messages()[seen:] if m["touser"] == userid]
        assert len(answers) == 1, answers
        return str(answers[0]["text"]["content"])


def road_request_and_officer(
    client: FlaskClient,
    aibot_peer: AibotPeer,
    app_peer: AppPeer,
    clock: FakeClock,
    jobs: Jobs,
    fake: FakeWeCom,
    msgid: str,
) -> Officer:
    """The road request of ent.a posted in chat_a (order ``NUMBER``), outbox drained; the
    officers' side of the conversation."""
    post_aibot(client, aibot_peer, clock, aibot_text(msgid, "ent.a", MENTION + ROAD, "chat_a"))
    jobs.run("outbox")
    return Officer(client, app_peer, clock, jobs, fake)


@pytest.fixture
def officer(
    client: FlaskClient, app_peer: AppPeer, clock: FakeClock, jobs: Jobs, fake: FakeWeCom
) -> Officer:
    return Officer(client, app_peer, clock, jobs, fake)


def status(rt: Runtime, number: str = NUMBER) -> tuple[str, list[tuple[str, str]]]:
    with db.transaction(rt.sessions) as s:
        o = s.scalar(select(WorkOrder).where(WorkOrder.number == number))
        assert o is not None
        evs = s.execute(
            select(OrderEvent.action, OrderEvent.actor)
            .where(OrderEvent.order_id == o.id)
            .order_by(OrderEvent.id)
        ).all()
        return o.status, [(a, b) for a, b in evs]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("/签收 GD-20261123-0001", ("签收", "GD-20261123-0001"), id="slash"),
        pytest.param("／签收 GD-20261123-0001", ("签收", "GD-20261123-0001"), id="fullwidth"),
        pytest.param("/签收GD-20261123-0001", ("签收", "GD-20261123-0001"), id="no-space"),
        pytest.param("/ACCEPT gd-20261123-0001", ("accept", "gd-20261123-0001"), id="english"),
        pytest.param(
            "/办结 GD-20261123-0001 已修通 临时道路",
            ("办结", "GD-20261123-0001 已修通 临时道路"),
            id="with-result",
        ),
    ],
)
def test_parse(text: str, expected: tuple[str, str]) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("GD-20261123-0001", "GD-20261123-0001"),
        ("gd-20261123-0001", "GD-20261123-0001"),
        ("GD－20261123－0001", "GD-20261123-0001"),
        ("GD-2026-1", None),
        ("0001", None),
    ],
)
def test_normalize_number(raw: str, expected: str | None) -> None:
    assert normalize_number(raw) == expected


def test_accept_then_resolve_sends_the_receipt_to_the_group(
    order: str, officer: Officer, rt: Runtime, fake: FakeWeCom
) -> None:
    answer = officer.say("off.transport", f"/签收 {order}")
    assert "已签收" in answer
    assert order in answer
    [accepted] = fake.sent_to_webhook("key-a")
    assert "签收" in accepted["text"]["content"]
    assert accepted["text"]["mentioned_list"] == ["ent.a"]

    officer.clock.advance(hours=3)
    answer = officer.say("off.transport", f"/办结 {order} 已与园区会商，临时道路已修通")
    assert "已办结" in answer
    receipt = fake.sent_to_webhook("key-a")[-1]
    assert "办结" in receipt["text"]["content"]
    assert "临时道路已修通" in receipt["text"]["content"]
    assert "没有路给施工车辆进出" in receipt["text"]["content"]  # quotes the request
    assert receipt["text"]["mentioned_list"] == ["ent.a"]
    st, events = status(rt)
    assert st == "resolved"
    assert [a for a, _ in events] == ["intake", "dispatch", "accept", "resolve"]
    assert events[-1] == ("resolve", "off.transport")


def test_english_aliases_work(order: str, officer: Officer, rt: Runtime) -> None:
    officer.say("off.transport", f"/accept {order}")
    officer.say("off.transport", f"/resolve {order} done")
    assert status(rt)[0] == "resolved"


def test_a_supervisor_may_resolve_any_order(order: str, officer: Officer, rt: Runtime) -> None:
    assert "已办结" in officer.say("sup", f"/办结 {order} 督办后已解决")
    assert status(rt)[0] == "resolved"


@pytest.mark.parametrize("who", ["off.gas", "ent.a", "ent.b", "stranger"])
@pytest.mark.parametrize("command", ["/签收 {n}", "/办结 {n} 已处理"], ids=["accept", "resolve"])
def test_others_are_refused_politely(
    order: str, officer: Officer, rt: Runtime, who: str, command: str
) -> None:
    answer = officer.say(who, command.format(n=order))
    assert "抱歉" in answer
    assert "区交通运输局" in answer
    assert status(rt) == ("dispatched", [("intake", "ent.a"), ("dispatch", "gridbot")])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("/签收", "用法：/签收 单号", id="accept-no-number"),
        pytest.param("/签收 12345", "用法：/签收 单号", id="accept-bad-number"),
        pytest.param("/办结 GD-20261123-0001", "用法：/办结 单号 办理结果", id="resolve-no-result"),
        pytest.param("/办节 GD-20261123-0001", "/帮助", id="unknown-command"),
        pytest.param("/签收 GD-20261123-0999", "未找到工单", id="unknown-order"),
    ],
)
def test_bad_commands_get_their_usage_line(
    order: str, officer: Officer, text: str, expected: str
) -> None:
    answer = officer.say("off.transport", text)
    assert expected in answer
    assert "Traceback" not in answer
    assert "Error" not in answer


def test_state_rules_are_enforced(order: str, officer: Officer, rt: Runtime) -> None:
    officer.say("off.transport", f"/办结 {order} 已处理")
    answer = officer.say("off.transport", f"/签收 {order}")
    assert "已办结" in answer
    assert "不能签收" in answer
    assert "不能办结" in officer.say("off.transport", f"/办结 {order} 再次")
    assert [a for a, _ in status(rt)[1]] == ["intake", "dispatch", "resolve"]


def test_help_lists_the_senders_commands(officer: Officer) -> None:
    answer = officer.say("ent.a", "/帮助")
    for usage in ("/帮助", "/查询", "/诉求 内容", "/评价 单号", "/撤回 单号"):
        assert usage in answer
    for usage in ("/签收 单号", "/派单", "/统计"):
        assert usage not in answer
    assert officer.say("ent.a", "/help") == answer
    officer_help = officer.say("off.transport", "/帮助")
    for usage in ("/签收 单号", "/办结 单号 办理结果", "/退单", "/延期", "/待办"):
        assert usage in officer_help
    assert "/派单" not in officer_help and "/评价" not in officer_help
    boss = officer.say("sup", "/帮助")  # dispatcher and supervisor
    for usage in ("/派单", "/立案", "/转派", "/批准延期", "/重办", "/督办", "/统计", "/日报"):
        assert usage in boss


def test_status_shows_an_order_to_its_enterprise_only(order: str, officer: Officer) -> None:
    assert "区交通运输局" in officer.say("ent.a", f"/查询 {order}")
    assert "无权" in officer.say("ent.b", f"/查询 {order}")
    assert order in officer.say("off.transport", "/查询")
    assert order in officer.say("sup", "/status")
    assert "暂无" in officer.say("off.gas", "/查询")


def test_a_command_in_a_group_is_answered_through_the_response_url(
    order: str,
    client: FlaskClient,
    aibot_peer: AibotPeer,
    clock: FakeClock,
    jobs: Jobs,
    fake: FakeWeCom,
) -> None:
    url = fake.new_response_url()
    post_aibot(
        client,
        aibot_peer,
        clock,
        aibot_text("g9", "ent.a", MENTION + f"/查询 {order}", "chat_a", response_url=url),
    )
    jobs.run("outbox")
    [reply] = fake.sent_responses()
    assert order in reply["markdown"]["content"]


def test_private_free_text_gets_a_pointer(officer: Officer, rt: Runtime) -> None:
    answer = officer.say("ent.a", "你好")
    assert "/帮助" in answer


def test_user_text_cannot_inject_mentions_into_markdown(
    client: FlaskClient,
    aibot_peer: AibotPeer,
    clock: FakeClock,
    jobs: Jobs,
    fake: FakeWeCom,
    rt: Any,
) -> None:
    url = fake.new_response_url()
    post_aibot(
        client,
        aibot_peer,
        clock,
        aibot_text("inj", "ent.a", MENTION + "/<@all>", "chat_nohook", response_url=url),
    )
    jobs.run("outbox")
    [reply] = fake.sent_responses()
    assert "未识别的命令" in reply["markdown"]["content"]
    assert "<@all>" not in reply["markdown"]["content"]


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("办节", "办结"),
        ("签到", "签收"),
        ("resolv", "resolve"),
        ("批准", "批准延期"),
        ("xyz", None),
    ],
)
def test_a_mistyped_command_gets_the_closest_one(typed: str, meant: str | None) -> None:
    from handlers import register_all  # noqa: F401  (the table the app uses)
    from handlers.commands import closest
    from handlers.steps import APPROVE, TODO

    names = [
        "帮助",
        "help",
        "办结",
        "resolve",
        "签收",
        "accept",
        "待办",
        *TODO.names,
        *APPROVE.names,
    ]
    assert closest(typed, names) == meant
