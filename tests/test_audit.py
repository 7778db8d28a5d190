"""The hash-chained order trace (痕迹化): add_event builds it, raw SQL breaks it."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import Engine, MetaData, Table, bindparam, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot.cli import main
from bot.clock import FakeClock
from bot.runtime import Runtime
from storage import audit, db
from storage import repositories as repo
from storage.audit import GENESIS, Problem
from storage.models import AuditHead, OrderEvent, UTCDateTime, WorkOrder
from tests.conftest import PG_ENV
from tests.peer import AibotPeer, AppPeer, aibot_text
from tests.test_webhook import MENTION, ROAD, post_aibot, post_app

NOW = datetime(2026, 11, 23, 1, 0, 0, 123456, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
NUMBER = "GD-20261123-0001"
OTHER = "GD-20261123-0002"


def new_order(s: Session, number: str = NUMBER) -> WorkOrder:
    return repo.add_order(
        s,
        WorkOrder(
            number=number,
            status="received",
            requester_userid="ent.a",
            text="园区路灯不亮，请尽快修复",
            created_at=NOW,
            deadline=NOW + timedelta(days=3),
        ),
    )


def seed(engine: Engine, number: str = NUMBER, n: int = 5) -> None:
    """One order with ``n`` events; one of them at a time given in Asia/Shanghai."""
    with db.transaction(db.make_sessionmaker(engine)) as s:
        order = new_order(s, number)
        for i in range(1, n + 1):
            at = NOW + timedelta(minutes=i, microseconds=i)
            repo.add_event(
                s,
                order,
                at=at.astimezone(SHANGHAI) if i == 2 else at,
                actor="off.transport" if i > 1 else "ent.a",
                action="create" if i == 1 else f"step{i}",
                from_status=None if i == 1 else "received",
                to_status="received",
                note=f"第{i}步：\n已处理" if i > 1 else "",
            )


def problems(engine: Engine) -> list[Problem]:
    with db.transaction(db.make_sessionmaker(engine)) as s:
        return audit.verify(s)


def sql(engine: Engine, statement: str, **params: object) -> None:
    """Tamper with the database behind gridbot's back."""
    with engine.begin() as conn:
        conn.execute(text(statement), params)


def order_id(engine: Engine, number: str = NUMBER) -> int:
    with engine.connect() as conn:
        found = conn.scalar(select(WorkOrder.id).where(WorkOrder.number == number))
    assert found is not None
    return found


def rows(engine: Engine, number: str = NUMBER) -> list[OrderEvent]:
    with db.transaction(db.make_sessionmaker(engine)) as s:
        return audit.trace(s, number)


# ---------------------------------------------------------------- building the chain


def test_add_event_chains_the_events_and_moves_the_head(engine: Engine) -> None:
    seed(engine)
    seed(engine, OTHER, n=2)
    events = rows(engine)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS
    for before, ev in itertools.pairwise(events):
        assert ev.prev_hash == before.hash
    for ev in events:
        assert ev.hash == audit.event_hash(
            number=NUMBER,
            seq=ev.seq,
            at=ev.at,
            actor=ev.actor,
            action=ev.action,
            from_status=ev.from_status,
            to_status=ev.to_status,
            note=ev.note,
            prev_hash=ev.prev_hash,
        )
    assert len({e.hash for e in events}) == 5
    assert [e.seq for e in rows(engine, OTHER)] == [1, 2]  # every order has its own chain
    oid = order_id(engine)
    with db.transaction(db.make_sessionmaker(engine)) as s:
        head = s.get(AuditHead, oid)
        assert head is not None
        assert (head.seq, head.hash) == (5, events[-1].hash)
        order = repo.order_by_number(s, NUMBER)
        assert order is not None
        ev = repo.add_event(  # a later transaction continues the chain
            s, order, at=NOW, actor="sup", action="note", from_status=None, to_status=None
        )
        assert (ev.seq, ev.prev_hash) == (6, events[-1].hash)
    assert problems(engine) == []
    with db.transaction(db.make_sessionmaker(engine)) as s:
        result = audit.check(s)
    assert (result.intact, result.orders, result.events) == (True, 2, 8)


def test_the_hash_is_the_documented_recipe(engine: Engine) -> None:
    """Re-computed from the module docstring with hashlib and json only."""
    at = datetime(2026, 11, 23, 9, 0, 0, tzinfo=SHANGHAI)  # 01:00 UTC, no microseconds
    with db.transaction(db.make_sessionmaker(engine)) as s:
        ev = repo.add_event(
            s,
            new_order(s),
            at=at,
            actor="ent.a",
            action="create",
            from_status=None,
            to_status="received",
            note='路灯"不亮"\\',
        )
    expected = (
        '{"action":"create","actor":"ent.a","at":"2026-11-23T01:00:00.000000Z",'
        '"from_status":null,"note":"路灯\\"不亮\\"\\\\","order":"GD-20261123-0001",'
        f'"prev_hash":"{"0" * 64}","seq":1,"to_status":"received"}}'
    )
    assert hashlib.sha256(expected.encode("utf-8")).hexdigest() == ev.hash
    assert json.loads(expected)["note"] == '路灯"不亮"\\'
    assert rows(engine)[0].hash == ev.hash


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        audit.format_at(datetime(2026, 11, 23, 9, 0))
    assert audit.format_at(NOW.astimezone(SHANGHAI)) == "2026-11-23T01:00:00.123456Z"


def test_concurrent_writers_queue_on_the_order(engine: Engine) -> None:
    seed(engine, n=1)
    sessions = db.make_sessionmaker(engine)
    done = threading.Event()
    errors: list[BaseException] = []

    def second_writer() -> None:
        try:
            with db.transaction(sessions) as s:
                order = repo.order_by_number(s, NUMBER)
                assert order is not None
                repo.add_event(
                    s, order, at=NOW, actor="b", action="b", from_status=None, to_status=None
                )
        except BaseException as exc:  # reported to the test below
            errors.append(exc)
        finally:
            done.set()

    with db.transaction(sessions) as s:
        order = repo.order_by_number(s, NUMBER)
        assert order is not None
        repo.add_event(s, order, at=NOW, actor="a", action="a", from_status=None, to_status=None)
        thread = threading.Thread(target=second_writer)
        thread.start()
        assert not done.wait(0.5), "the second writer did not wait for the first"
    thread.join(30)
    assert errors == []
    assert [(e.seq, e.actor) for e in rows(engine)] == [(1, "ent.a"), (2, "a"), (3, "b")]
    assert problems(engine) == []


def test_trace_is_in_chain_order_and_empty_for_an_unknown_number(engine: Engine) -> None:
    seed(engine, n=3)
    assert [e.action for e in rows(engine)] == ["create", "step2", "step3"]
    assert rows(engine, "GD-19990101-0001") == []


def test_a_real_order_gets_an_intact_chain(
    rt: Runtime, client: FlaskClient, aibot_peer: AibotPeer, app_peer: AppPeer, clock: FakeClock
) -> None:
    post_aibot(client, aibot_peer, clock, aibot_text("o1", "ent.a", MENTION + ROAD, "chat_a"))
    clock.advance(timedelta(minutes=5))
    post_app(client, app_peer, clock, "off.transport", f"/签收 {NUMBER}", 7001)
    with db.transaction(rt.sessions) as s:
        events = audit.trace(s, NUMBER)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert len(events) >= 2
        assert audit.verify(s) == []


# ---------------------------------------------------------------- tampering


@pytest.mark.parametrize(
    ("column", "value"),
    [
        pytest.param("note", "已处理", id="note"),
        pytest.param("actor", "sup", id="actor"),
        pytest.param("action", "resolve", id="action"),
        pytest.param("to_status", "resolved", id="to-status"),
        pytest.param("seq", 33, id="seq"),
    ],
)
def test_an_edited_event_is_reported(engine: Engine, column: str, value: object) -> None:
    seed(engine)
    sql(
        engine,
        f"UPDATE order_events SET {column} = :v WHERE order_id = :o AND seq = 3",
        v=value,
        o=order_id(engine),
    )
    found = problems(engine)
    if column == "seq":  # event 3 is gone from its place, and there is an event 33
        assert Problem(NUMBER, 3, "event 3 was deleted") in found
        assert Problem(NUMBER, 33, "event 33 was edited") in found
    else:
        assert found == [Problem(NUMBER, 3, "event 3 was edited")]


@pytest.mark.parametrize(
    "shift",
    [pytest.param(timedelta(microseconds=1), id="1us"), pytest.param(timedelta(hours=8), id="8h")],
)
def test_an_edited_time_is_reported(engine: Engine, shift: timedelta) -> None:
    seed(engine)
    at, oid = rows(engine)[1].at + shift, order_id(engine)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE order_events SET at = :at WHERE order_id = :o AND seq = 2").bindparams(
                bindparam("at", type_=UTCDateTime())
            ),
            {"at": at, "o": oid},
        )
    assert problems(engine) == [Problem(NUMBER, 2, "event 2 was edited")]


def test_moving_an_event_to_another_order_is_reported(engine: Engine) -> None:
    seed(engine)
    seed(engine, OTHER, n=2)
    sql(
        engine,
        "UPDATE order_events SET order_id = :other, seq = 3 WHERE order_id = :o AND seq = 5",
        other=order_id(engine, OTHER),
        o=order_id(engine),
    )
    found = problems(engine)
    assert Problem(NUMBER, 5, "event 5 was deleted") in found
    assert Problem(OTHER, 3, "event 3 was edited") in found


@pytest.mark.parametrize(
    ("seqs", "expected"),
    [
        pytest.param([2], [Problem(NUMBER, 2, "event 2 was deleted")], id="one-in-the-middle"),
        pytest.param(
            [3, 4], [Problem(NUMBER, 3, "events 3–4 are missing")], id="two-in-the-middle"
        ),
        pytest.param([1], [Problem(NUMBER, 1, "event 1 was deleted")], id="the-first"),
        pytest.param([5], [Problem(NUMBER, 5, "event 5 was deleted")], id="the-last"),
        pytest.param([4, 5], [Problem(NUMBER, 4, "events 4–5 are missing")], id="the-last-two"),
        pytest.param(
            [1, 2, 3, 4, 5], [Problem(NUMBER, 1, "events 1–5 are missing")], id="all-of-them"
        ),
        pytest.param(
            [2, 5],
            [Problem(NUMBER, 2, "event 2 was deleted"), Problem(NUMBER, 5, "event 5 was deleted")],
            id="middle-and-last",
        ),
    ],
)
def test_deleted_events_are_reported(
    engine: Engine, seqs: list[int], expected: list[Problem]
) -> None:
    seed(engine)
    oid = order_id(engine)
    with engine.begin() as conn:
        conn.execute(
            text("DELETE FROM order_events WHERE order_id = :o AND seq IN :seqs").bindparams(
                bindparam("seqs", expanding=True)
            ),
            {"o": oid, "seqs": seqs},
        )
    assert problems(engine) == expected


def forge(engine: Engine, seq: int, prev_hash: str, *, rehash: bool = True) -> None:
    """Insert an event the way someone who knows the recipe would."""
    digest = audit.event_hash(
        number=NUMBER,
        seq=seq,
        at=NOW,
        actor="sup",
        action="resolve",
        from_status="received",
        to_status="resolved",
        note="已办结",
        prev_hash=prev_hash,
    )
    oid = order_id(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(OrderEvent).values(
                order_id=oid,
                seq=seq,
                at=NOW,
                actor="sup",
                action="resolve",
                from_status="received",
                to_status="resolved",
                note="已办结",
                prev_hash=prev_hash,
                hash=digest if rehash else "f" * 64,
            )
        )


def test_a_forged_event_after_the_head_is_reported(engine: Engine) -> None:
    seed(engine)
    forge(engine, 6, rows(engine)[-1].hash)  # a perfect link, but the head still says 5
    assert problems(engine) == [
        Problem(
            NUMBER,
            6,
            "chain head mismatch: the head is event 5, but there is an event 6 "
            "(inserted outside gridbot?)",
        )
    ]


def test_a_forged_event_with_a_wrong_hash_is_reported(engine: Engine) -> None:
    seed(engine)
    forge(engine, 6, rows(engine)[-1].hash, rehash=False)
    found = problems(engine)
    assert Problem(NUMBER, 6, "event 6 was edited") in found
    assert any("chain head mismatch" in p.message for p in found)


def test_a_forged_event_before_the_first_is_reported(engine: Engine) -> None:
    seed(engine)
    forge(engine, 0, GENESIS)
    assert problems(engine) == [
        Problem(NUMBER, 0, "event 0 is out of sequence (inserted outside gridbot?)")
    ]


def test_a_replaced_and_rehashed_event_is_reported(engine: Engine) -> None:
    seed(engine)
    before = rows(engine)
    sql(engine, "DELETE FROM order_events WHERE order_id = :o AND seq = 3", o=order_id(engine))
    forge(engine, 3, before[1].hash)  # a self-consistent event 3, but event 4 links the old one
    assert problems(engine) == [
        Problem(NUMBER, 4, "event 4 does not follow event 3 (forged, or event 3 replaced)")
    ]


def test_a_replaced_last_event_is_reported(engine: Engine) -> None:
    seed(engine)
    before = rows(engine)
    sql(engine, "DELETE FROM order_events WHERE order_id = :o AND seq = 5", o=order_id(engine))
    forge(engine, 5, before[3].hash)
    assert problems(engine) == [
        Problem(NUMBER, 5, "chain head mismatch: event 5 is not the event the head recorded")
    ]


def test_a_deleted_head_is_reported(engine: Engine) -> None:
    seed(engine)
    sql(engine, "DELETE FROM audit_heads")
    assert problems(engine) == [
        Problem(NUMBER, None, "chain head mismatch: the order has events but no chain head")
    ]


# ---------------------------------------------------------------- the migration


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def blank_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database of its own (PostgreSQL: a fresh schema), not migrated."""
    if request.param == "sqlite":
        eng = db.make_engine(f"sqlite:///{tmp_path}/m.db")
        yield eng
        eng.dispose()
        return
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} is not set")
    schema = f"audit_{uuid.uuid4().hex[:12]}"
    admin = db.make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    u = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    eng = db.make_engine(u.render_as_string(hide_password=False))
    try:
        yield eng
    finally:
        eng.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_the_migration_chains_existing_events(blank_engine: Engine) -> None:
    db.upgrade(blank_engine, "0001")
    with blank_engine.begin() as conn:  # the tables as 0001 made them
        orders = Table("work_orders", MetaData(), autoload_with=conn)
        events = Table("order_events", MetaData(), autoload_with=conn)
        ids = {}
        for number in (NUMBER, OTHER):
            row: dict[str, object] = dict(
                number=number,
                status="received",
                requester_userid="ent.a",
                text="路灯不亮",
                confidence=0.0,
                created_at=NOW,
                deadline=NOW,
            )
            for c in orders.columns:  # other NOT NULL columns (counters): 0
                if c.name not in row and not c.nullable and not c.primary_key:
                    row[c.name] = 0
            ids[number] = conn.execute(orders.insert().values(row)).inserted_primary_key[0]
        for i, number in enumerate([NUMBER, OTHER, NUMBER, NUMBER]):
            conn.execute(
                events.insert().values(
                    order_id=ids[number],
                    at=NOW + timedelta(seconds=i),
                    actor="u",
                    action="a",
                    from_status=None,
                    to_status="x",
                    note="",
                )
            )
    db.upgrade(blank_engine)
    assert [e.seq for e in rows(blank_engine)] == [1, 2, 3]
    assert [e.seq for e in rows(blank_engine, OTHER)] == [1]
    assert problems(blank_engine) == []
    with db.transaction(db.make_sessionmaker(blank_engine)) as s:
        order = repo.order_by_number(s, NUMBER)
        assert order is not None
        ev = repo.add_event(
            s, order, at=NOW, actor="u", action="a", from_status=None, to_status=None
        )
        assert ev.seq == 4
    assert problems(blank_engine) == []


# ---------------------------------------------------------------- the command line


@pytest.fixture
def db_file(tmp_path: Path) -> Iterator[tuple[Engine, dict[str, str]]]:
    url = f"sqlite:///{tmp_path}/cli.db"
    eng = db.make_engine(url)
    db.upgrade(eng)
    yield eng, {"GRIDBOT_DATABASE_URL": url, "GRIDBOT_CONFIG": ""}
    eng.dispose()


def test_cli_audit_verify(db_file: tuple[Engine, dict[str, str]]) -> None:
    eng, env = db_file
    runner = CliRunner()
    result = runner.invoke(main, ["audit", "verify"], env=env)
    assert (result.exit_code, result.output) == (0, "chain intact: 0 orders, 0 events\n")
    seed(eng)
    seed(eng, OTHER, n=2)
    result = runner.invoke(main, ["audit", "verify"], env=env)
    assert (result.exit_code, result.output) == (0, "chain intact: 2 orders, 7 events\n")
    sql(eng, "UPDATE order_events SET note = 'x' WHERE seq = 3 AND order_id = :o", o=order_id(eng))
    sql(eng, "DELETE FROM order_events WHERE seq = 2 AND order_id = :o", o=order_id(eng, OTHER))
    result = runner.invoke(main, ["audit", "verify"], env=env)
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == [
        f"{NUMBER}: event 3 was edited",
        f"{OTHER}: event 2 was deleted",
        "chain broken: 2 problem(s) in 2 orders, 6 events",
    ]


def test_cli_orders_show(db_file: tuple[Engine, dict[str, str]]) -> None:
    eng, env = db_file
    seed(eng, n=3)
    result = CliRunner().invoke(main, ["orders", "show", NUMBER.lower()], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:7] == [
        f"order       {NUMBER}",
        "state       received (received)",
        "department  -",
        "requester   ent.a",
        "deadline    2026-11-26 09:00:00 (Asia/Shanghai)",
        "text        园区路灯不亮，请尽快修复",
        "trace       3 events, times in Asia/Shanghai",
    ]
    assert lines[7:] == [
        "   1  2026-11-23 09:01:00  ent.a  create  -→received",
        "   2  2026-11-23 09:02:00  off.transport  step2  received→received  第2步：",
        "      已处理",
        "   3  2026-11-23 09:03:00  off.transport  step3  received→received  第3步：",
        "      已处理",
    ]


def test_cli_orders_show_an_unknown_number(db_file: tuple[Engine, dict[str, str]]) -> None:
    _, env = db_file
    result = CliRunner().invoke(main, ["orders", "show", "GD-19990101-0001"], env=env)
    assert result.exit_code == 1
    assert "no order 'GD-19990101-0001'" in result.output
    assert "Traceback" not in result.output
