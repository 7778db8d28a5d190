"""The web edge: verify, decrypt, parse, store, hand off. No business logic here."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, Response, current_app, request

from bot import inbox
from bot.runtime import Runtime
from bot.wecom.crypto import CallbackCrypto, CallbackRejected, MalformedPayload
from bot.wecom.parse import (
    extract_aibot_encrypt,
    extract_app_encrypt,
    parse_aibot_message,
    parse_app_message,
)
from handlers.incoming import Incoming
from storage import db

log = logging.getLogger(__name__)
bp = Blueprint("wecom", __name__)


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["gridbot"]
    return rt


def plain(text: str, status: int = 200) -> Response:
    return Response(text, status=status, mimetype="text/plain")


def _query() -> tuple[str, str, str]:
    try:
        return (request.args["msg_signature"], request.args["timestamp"], request.args["nonce"])
    except KeyError:
        raise MalformedPayload() from None


def _crypto(which: str) -> CallbackCrypto:
    rt = runtime()
    crypto = rt.aibot_crypto if which == "aibot" else rt.app_crypto
    if crypto is None:
        raise NotConfigured()
    return crypto


class NotConfigured(Exception):
    """The channel has no token/key in the config: answer 404."""


def _verify(which: str) -> Response:
    crypto = _crypto(which)
    signature, timestamp, nonce = _query()
    echostr = request.args.get("echostr")
    if not echostr:
        raise MalformedPayload()
    return plain(crypto.verify_url(signature, timestamp, nonce, echostr))


def _receive(
    which: str, extract: Callable[[bytes], str], parse: Callable[[bytes], Incoming | None]
) -> Response:
    crypto = _crypto(which)
    signature, timestamp, nonce = _query()
    body = request.get_data(cache=False)
    plaintext = crypto.decrypt(signature, timestamp, nonce, extract(body))
    msg = parse(plaintext)
    if msg is None:  # events, stream refreshes: nothing to store
        return plain("")
    rt = runtime()
    message_id = inbox.accept(rt, msg)
    if message_id is None:
        log.info("%s retry of msgid %s ignored", which, msg.msgid)
        return plain("")
    # Stored and committed: from here on nothing is lost. Processing errors are recorded on
    # the message and retried by the sweep; they never turn the acknowledgement into a 500.
    inbox.process(rt, message_id)
    return plain("")


@bp.get("/wecom/aibot")
def aibot_verify() -> Response:
    return _verify("aibot")


@bp.post("/wecom/aibot")
def aibot_receive() -> Response:
    names = runtime().settings.wecom.aibot.names
    return _receive(
        "aibot",
        extract_aibot_encrypt,
        lambda plaintext: parse_aibot_message(plaintext, bot_names=names),
    )


@bp.get("/wecom/app")
def app_verify() -> Response:
    return _verify("app")


@bp.post("/wecom/app")
def app_receive() -> Response:
    corp_id = runtime().settings.wecom.corp_id
    return _receive(
        "app", extract_app_encrypt, lambda plaintext: parse_app_message(plaintext, corp_id=corp_id)
    )


@bp.get("/healthz")
def healthz() -> Response:
    if db.ping(runtime().engine):
        return plain("ok")
    return plain("database unavailable", 503)


@bp.errorhandler(CallbackRejected)
def rejected(exc: CallbackRejected) -> Response:
    log.info("callback rejected: %s %s", exc.http_status, exc.reason)
    return plain(exc.reason, exc.http_status)


@bp.errorhandler(NotConfigured)
def not_configured(_exc: NotConfigured) -> Response:
    return plain("not found", 404)
