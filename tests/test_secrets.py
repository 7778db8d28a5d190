"""Secrets (token, AES key, app secret, webhook keys, access tokens) never reach logs or replies."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from bot import logsetup
from bot.clock import FakeClock
from bot.fake_wecom import FakeWeCom
from bot.runtime import Runtime
from bot.scheduler import Jobs
from tests.conftest import AIBOT_KEY, AIBOT_TOKEN, APP_KEY, APP_TOKEN
from tests.peer import AibotPeer, AppPeer, aibot_text
from tests.test_webhook import MENTION, ROAD, post_aibot, post_app


@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    buf = io.StringIO()
    logsetup.configure(logging.DEBUG, stream=buf)
    for name in ("urllib3", "werkzeug"):  # the chattiest about URLs: let them talk
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield buf
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def test_no_secret_in_any_log_line(
    log_text: io.StringIO,
    client: FlaskClient,
    aibot_peer: AibotPeer,
    app_peer: AppPeer,
    clock: FakeClock,
    rt: Runtime,
    jobs: Jobs,
    fake: FakeWeCom,
) -> None:
    post_aibot(client, aibot_peer, clock, aibot_text("s1", "ent.a", MENTION + ROAD, "chat_a"))
    post_app(client, app_peer, clock, "off.transport", "/签收 GD-20261123-0001", 1)
    fake.fail_next("webhook/send", errcode=93000)
    jobs.run("outbox")
    client.post(
        "/wecom/aibot",
        data=b"{}",
        query_string={"msg_signature": "x", "timestamp": "1", "nonce": "n"},
    )
    text = log_text.getvalue()
    assert "webhook/send" in text  # the test did see outbound URLs being logged
    token = fake.calls("gettoken")
    assert token, "the app client fetched a token"
    secrets = [AIBOT_TOKEN, AIBOT_KEY, APP_TOKEN, APP_KEY, fake.secret, "key=key-a"]
    for secret in secrets:
        assert secret not in text
    access_tokens = [m.query.get("access_token", "") for m in fake.received]
    assert all(t and t not in text for t in access_tokens if t)


def test_redaction_filter_masks_query_secrets() -> None:
    record = logging.LogRecord(
        "x",
        logging.INFO,
        "f",
        1,
        "GET %s",
        ("http://h/cgi-bin/gettoken?corpid=a&corpsecret=S3",),
        None,
    )
    logsetup.RedactSecrets().filter(record)
    assert "S3" not in record.getMessage() and "corpsecret=***" in record.getMessage()
