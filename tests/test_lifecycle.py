"""The lifecycle table, walked exhaustively: every command × every relation × every state.

For each case an order is put in the state, the person sends the command with valid arguments,
and the outcome must be what :data:`handlers.lifecycle.ACTIONS` says: allowed → the order is in
the target state and the step's event is written; refused → a friendly reply, the order and its
events unchanged. Then the README's tables must be the code's.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from bot.config import Person as PersonSettings
from bot.fake_wecom import FakeWeCom
from bot.language import Language
from bot.runtime import Runtime, build_runtime
from handlers import lifecycle as lc
from handlers.context import UserError
from handlers.incoming import Incoming
from storage import db
from storage import repositories as repo
from storage.models import OrderEvent, WorkOrder
from tests.conftest import make_settings

NUMBER = "GD-20261123-0001"
TARGET = "GD-20261123-0002"
# one person per relation to the order (the requester is ent.a, the department transport)
ACTORS = {
    lc.REQUESTER: "ent.a",
    lc.OFFICER: "off.transport",
    lc.DISPATCHER: "disp",
    lc.SUPERVISOR: "boss",
    "other_officer": "off.gas",
    "other_enterprise": "ent.b",
}
# valid arguments for each action (the order number comes first)
ARGS = {
    "dispatch": "交通运输局",
    "accept": "",
    "progress": "已到现场查看",
    "return": "不属于本部门职责",
    "redispatch": "燃气公司",
    "extend": "3 需要协调用地",
    "approve_extension": "",
    "reject_extension": "理由不充分",
    "resolve": "临时道路已修通",
    "rate": "满意",
    "reopen": "路面仍有坑洼",
    "withdraw": "",
    "merge": TARGET,
    "dismiss": "",
    "supervise": "请加快办理",
}


@pytest.fixture
def walk_rt(fake: FakeWeCom, clock: FakeClock, engine: Any, language: Language) -> Runtime:
    settings = make_settings(fake)
    people = (
        *settings.people,
        PersonSettings("disp", "调度员小周", frozenset({"dispatcher"})),
        PersonSettings("boss", "督查室主任", frozenset({"supervisor"})),
    )
    categories = tuple(  # a complex category: one extension allowed
        replace(c, extensions=1) if c.code == "road_traffic" else c for c in settings.categories
    )
    return build_runtime(
        replace(settings, people=people, categories=categories),
        clock=clock,
        engine=engine,
        language=language,
    )


def make_order(rt: Runtime, status: str, number: str = NUMBER, **fields: Any) -> None:
    now = rt.clock.now()
    with db.transaction(rt.sessions) as s:
        order = repo.add_order(
            s,
            WorkOrder(
                number=number,
                status=status,
                requester_userid="ent.a",
                enterprise_id=repo.person(s, "ent.a").enterprise_id,  # type: ignore[union-attr]
                group_chatid="chat_a",
                text="新基地没有路给施工车辆进出",
                category_code="road_traffic",
                department_code="transport",
                created_at=now,
                deadline=now + timedelta(days=5),
                dispatched_at=now,
                **fields,
            ),
        )
        repo.add_event(
            s, order, at=now, actor="ent.a", action="intake", from_status=None, to_status=status
        )


def state_of(rt: Runtime) -> tuple[str, list[str]]:
    with db.transaction(rt.sessions) as s:
        order = repo.order_by_number(s, NUMBER)
        assert order is not None
        return order.status, [e.action for e in repo.events(s, order.id)]


def send(rt: Runtime, userid: str, text: str) -> str:
    """The command through the real dispatcher; a refusal is its friendly text."""
    msg = Incoming(channel="app", msgid="m", sender=userid, chat_type="single", text=text)
    try:
        with db.transaction(rt.sessions) as s:
            reply = rt.dispatcher.dispatch(msg, rt.context(s))
            return reply.text if reply is not None else ""
    except UserError as exc:  # rolled back, as the inbox does
        return "REFUSED " + exc.text


def command_for(action: str) -> str:
    cmd = lc.ACTIONS[action].command
    assert cmd is not None
    return f"{cmd} {NUMBER} {ARGS[action]}".strip()


CASES = [(action, who, state) for action in lc.ACTIONS for who in ACTORS for state in lc.STATES]


@pytest.mark.parametrize(("action", "who", "state"), CASES)
def test_every_command_role_and_state(walk_rt: Runtime, action: str, who: str, state: str) -> None:
    make_order(walk_rt, state, ext_days=2 if action.endswith("_extension") else None)
    make_order(walk_rt, lc.ACCEPTED, TARGET)
    with db.transaction(walk_rt.sessions) as s:
        person = repo.person(s, ACTORS[who])
        order = repo.order_by_number(s, NUMBER)
        assert order is not None
        expected = lc.allowed(action, lc.relations(person, ACTORS[who], order), state)
    answer = send(walk_rt, ACTORS[who], command_for(action))
    status, actions = state_of(walk_rt)
    if expected:
        assert not answer.startswith("REFUSED"), answer
        step = lc.ACTIONS[action]
        assert status == (step.target or state)
        assert action in actions
    else:
        assert answer.startswith("REFUSED"), answer
        assert "抱歉" in answer or "不能" in answer
        assert (status, actions) == (state, ["intake"])


def test_relations_are_what_the_roster_says(walk_rt: Runtime) -> None:
    make_order(walk_rt, lc.DISPATCHED)
    with db.transaction(walk_rt.sessions) as s:
        order = repo.order_by_number(s, NUMBER)
        assert order is not None
        got = {who: lc.relations(repo.person(s, uid), uid, order) for who, uid in ACTORS.items()}
    assert got == {
        lc.REQUESTER: {lc.REQUESTER},
        lc.OFFICER: {lc.OFFICER},
        lc.DISPATCHER: {lc.DISPATCHER},
        lc.SUPERVISOR: {lc.SUPERVISOR},
        "other_officer": set(),
        "other_enterprise": set(),
    }


def test_refusals_name_the_state_or_the_permission(walk_rt: Runtime) -> None:
    make_order(walk_rt, lc.RESOLVED)
    assert "当前状态为「已办结」，不能签收" in send(walk_rt, "off.transport", f"/签收 {NUMBER}")
    assert "只有区交通运输局的经办人或督办人员可以签收" in send(
        walk_rt, "off.gas", f"/签收 {NUMBER}"
    )


def test_the_readme_tables_are_the_code_tables() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert lc.states_markdown() in readme
    assert lc.actions_markdown() in readme


def test_events_record_from_and_to(walk_rt: Runtime) -> None:
    make_order(walk_rt, lc.DISPATCHED)
    send(walk_rt, "off.transport", f"/签收 {NUMBER}")
    send(walk_rt, "off.transport", f"/退单 {NUMBER} 属地不符")
    with db.transaction(walk_rt.sessions) as s:
        rows = s.scalars(select(OrderEvent).order_by(OrderEvent.id)).all()
        got = [(e.actor, e.action, e.from_status, e.to_status, e.note) for e in rows]
    assert got[1:] == [
        ("off.transport", "accept", lc.DISPATCHED, lc.ACCEPTED, ""),
        ("off.transport", "return", lc.ACCEPTED, lc.RETURNED, "属地不符"),
    ]


@pytest.mark.parametrize(
    ("command", "who", "expected"),
    [
        pytest.param("/待办", "off.transport", "本部门待办（共 1 件", id="todo-officer"),
        pytest.param("/待办", "disp", "待派单、退单和延期申请：暂无", id="todo-dispatcher"),
        pytest.param("/待办", "ent.a", "REFUSED /待办 供经办人", id="todo-enterprise"),
        pytest.param("/统计", "boss", "区交通运输局：受理 1", id="stats-supervisor"),
        pytest.param("/统计 交通运输局", "boss", "区交通运输局：受理 1", id="stats-dept"),
        pytest.param("/统计", "disp", "REFUSED 抱歉，只有督办人员", id="stats-dispatcher"),
        pytest.param("/统计", "off.transport", "REFUSED 抱歉，只有督办人员", id="stats-officer"),
        pytest.param("/日报", "boss", "企业诉求日报", id="daily-supervisor"),
        pytest.param("/日报", "ent.a", "REFUSED 抱歉，只有督办人员", id="daily-enterprise"),
    ],
)
def test_lists_and_reports_by_role(walk_rt: Runtime, command: str, who: str, expected: str) -> None:
    make_order(walk_rt, lc.ACCEPTED)
    assert expected in send(walk_rt, who, command)


def test_an_extension_is_asked_before_the_deadline_and_within_the_categorys_allowance(
    walk_rt: Runtime, clock: FakeClock
) -> None:
    make_order(walk_rt, lc.ACCEPTED)
    ask = f"/延期 {NUMBER} 3 需要协调用地"
    assert "天数（1–30）" in send(walk_rt, "off.transport", f"/延期 {NUMBER} 三天 需要协调")
    assert "请写明延期理由" in send(walk_rt, "off.transport", f"/延期 {NUMBER} 3")
    assert "已提交" in send(walk_rt, "off.transport", ask)
    assert "已有一项延期申请待审批" in send(walk_rt, "off.transport", ask)
    assert "已批准" in send(walk_rt, "disp", f"/批准延期 {NUMBER}")
    assert "最多可延期 1 次" in send(walk_rt, "off.transport", ask)
    assert "没有待审批的延期申请" in send(walk_rt, "disp", f"/批准延期 {NUMBER}")
    with db.transaction(walk_rt.sessions) as s:
        order = repo.order_by_number(s, NUMBER)
        assert order is not None and order.extensions == 1
        deadline = order.deadline
    clock.set(deadline + timedelta(minutes=1))
    with db.transaction(walk_rt.sessions) as s:
        order = repo.order_by_number(s, NUMBER)
        assert order is not None
        order.extensions = 0
    assert "已超过办结时限" in send(walk_rt, "off.transport", ask)


def test_an_approved_extension_adds_working_days_and_tells_the_group(
    walk_rt: Runtime, fake: FakeWeCom
) -> None:
    make_order(walk_rt, lc.ACCEPTED)
    with db.transaction(walk_rt.sessions) as s:
        order = repo.order_by_number(s, NUMBER)
        assert order is not None
        order.deadline = datetime(2026, 11, 27, 17, 30, tzinfo=walk_rt.clock.tz)  # a Friday
    send(walk_rt, "off.transport", f"/延期 {NUMBER} 3 需要协调用地")
    answer = send(walk_rt, "boss", f"/批准延期 {NUMBER}")
    assert "新时限 12月02日 17:30" in answer  # Mon, Tue, Wed: the weekend does not count
    with db.transaction(walk_rt.sessions) as s:
        [told] = [m for m in repo.outbox_messages(s, status="pending") if m.purpose == "extended"]
        assert "新的办结时限为 12月02日 17:30" in told.content and told.mentioned == "ent.a"
