"""Outbox delivery against the fake WeCom: retries with backoff, giving up, rate limit, split."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from bot.fake_wecom import FakeWeCom
from bot.runtime import Runtime, build_runtime
from bot.scheduler import Jobs
from handlers.notify import Notifier
from storage import db
from storage.models import OutboxMessage


def enqueue_group(rt: Runtime, text: str, chatid: str = "chat_a", n: int = 1) -> None:
    with db.transaction(rt.sessions) as s:
        notify = Notifier(s, rt.settings, rt.clock.now())
        for i in range(n):
            notify.to_group(chatid, text if n == 1 else f"{text} {i}", mention=["ent.a"])


def rows(rt: Runtime) -> list[OutboxMessage]:
    with db.transaction(rt.sessions) as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param({"errcode": 45009}, id="45009-rate"),
        pytest.param({"errcode": 45033}, id="45033-concurrency"),
        pytest.param({"errcode": -1}, id="system-busy"),
        pytest.param({"http_status": 502}, id="http-502"),
        pytest.param({"delay": 3.0}, id="timeout"),
    ],
)
def test_retryable_failures_are_retried_after_a_backoff(
    rt: Runtime, jobs: Jobs, fake: FakeWeCom, clock: FakeClock, failure: dict
) -> None:
    enqueue_group(rt, "【受理】测试")
    fake.fail_next("webhook/send", **failure)
    jobs.run("outbox")
    [m] = rows(rt)
    assert m.status == "pending"
    assert m.attempts == 1
    assert m.last_error
    assert m.next_attempt_at > clock.now()
    jobs.run("outbox")  # not yet due
    assert rows(rt)[0].attempts == 1
    clock.set(m.next_attempt_at + timedelta(seconds=1))
    jobs.run("outbox")
    [m] = rows(rt)
    assert (m.status, m.attempts) == ("sent", 2)


@pytest.mark.parametrize("errcode", [93000, 93004, 93008, 86003])
def test_permanent_failures_give_up_at_once_and_record_why(
    rt: Runtime, jobs: Jobs, fake: FakeWeCom, errcode: int
) -> None:
    enqueue_group(rt, "【受理】测试")
    fake.fail_next("webhook/send", errcode=errcode)
    jobs.run("outbox")
    [m] = rows(rt)
    assert (m.status, m.attempts) == ("failed", 1)
    assert str(errcode) in (m.last_error or "")
    assert "key-a" not in (m.last_error or "")  # the webhook key is a secret


def test_gives_up_after_max_attempts(
    rt: Runtime, jobs: Jobs, fake: FakeWeCom, clock: FakeClock
) -> None:
    enqueue_group(rt, "【受理】测试")
    fake.fail_next("webhook/send", http_status=503, times=100)
    for _ in range(rt.settings.outbound.max_attempts + 2):
        jobs.run("outbox")
        clock.advance(hours=1)
    [m] = rows(rt)
    assert (m.status, m.attempts) == ("failed", rt.settings.outbound.max_attempts)


def test_at_most_20_a_minute_per_group_robot(
    rt: Runtime, jobs: Jobs, fake: FakeWeCom, clock: FakeClock
) -> None:
    enqueue_group(rt, "消息", n=25)
    enqueue_group(rt, "另一个群", chatid="chat_b")
    jobs.run("outbox")
    jobs.run("outbox")
    assert len(fake.sent_to_webhook("key-a")) == 20
    assert len(fake.sent_to_webhook("key-b")) == 1  # other robots are not held up
    assert not any(r.errcode == 45009 for r in fake.received)  # we never hit WeCom's limit
    clock.advance(seconds=61)
    jobs.run("outbox")
    sent = fake.sent_to_webhook("key-a")
    assert len(sent) == 25
    assert [m["text"]["content"] for m in sent] == [f"消息 {i}" for i in range(25)]  # in order


def test_long_texts_are_split_at_2048_bytes(rt: Runtime, jobs: Jobs, fake: FakeWeCom) -> None:
    text = "道路施工协调进展说明。" * 300  # 9000 bytes of UTF-8
    enqueue_group(rt, text)
    jobs.run("outbox")
    sent = fake.sent_to_webhook("key-a")
    assert len(sent) == 5
    assert all(len(m["text"]["content"].encode()) <= 2048 for m in sent)
    assert "".join(m["text"]["content"] for m in sent) == text
    assert sent[0]["text"]["mentioned_list"] == ["ent.a"]
    assert all(not m["text"].get("mentioned_list") for m in sent[1:])


def test_app_messages_refresh_an_expired_token_once(
    rt: Runtime, jobs: Jobs, fake: FakeWeCom, clock: FakeClock
) -> None:
    with db.transaction(rt.sessions) as s:
        Notifier(s, rt.settings, clock.now()).to_users(["sup"], "第一条")
    jobs.run("outbox")
    fake.expire_tokens()
    with db.transaction(rt.sessions) as s:
        Notifier(s, rt.settings, clock.now()).to_users(["sup"], "第二条")
    jobs.run("outbox")
    assert [m["text"]["content"] for m in fake.sent_messages()] == ["第一条", "第二条"]
    assert len(fake.calls("gettoken")) == 2
    assert all(m.status == "sent" for m in rows(rt))


def test_a_group_without_a_webhook_falls_back_to_the_response_url(
    rt: Runtime, jobs: Jobs, fake: FakeWeCom, clock: FakeClock
) -> None:
    url = fake.new_response_url()
    with db.transaction(rt.sessions) as s:
        Notifier(s, rt.settings, clock.now()).to_group(
            "chat_nohook", "【受理】", mention=["ent.b"], response_url=url
        )
    jobs.run("outbox")
    [reply] = fake.sent_responses()
    assert reply["markdown"]["content"].startswith("<@ent.b>")


def test_an_app_created_group_is_posted_to_through_appchat(
    rt: Runtime, jobs: Jobs, fake: FakeWeCom, clock: FakeClock
) -> None:
    groups = tuple(
        replace(g, webhook_url="", appchat_chatid="wrAPPCHAT1") if g.chatid == "chat_b" else g
        for g in rt.settings.groups
    )
    rt2 = build_runtime(
        replace(rt.settings, groups=groups), clock=clock, engine=rt.engine, language=rt.language
    )
    with db.transaction(rt2.sessions) as s:
        Notifier(s, rt2.settings, clock.now()).to_group(
            "chat_b", "【受理】工单已登记", mention=["ent.b"]
        )
    Jobs(rt2, jobs.sender, "t2").run("outbox")
    [sent] = fake.sent_appchat("wrAPPCHAT1")
    assert sent["text"]["content"] == "@李强 【受理】工单已登记"
