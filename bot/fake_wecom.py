"""A fake WeCom (企业微信) API server on loopback, for tests and ``gridbot demo``.

It answers the outbound APIs gridbot uses, the way the real ``qyapi.weixin.qq.com`` does
(HTTP 200 with an ``errcode``/``errmsg`` JSON body, see ``docs wecom.md`` §3):

=================================  =====================================================
``GET  /cgi-bin/gettoken``          ``corpid`` + ``corpsecret`` → ``access_token``, 7200 s
``POST /cgi-bin/message/send``      app message to users (``touser`` "a|b", ``agentid``)
``POST /cgi-bin/appchat/send``      app message to an app-created group (``chatid``)
``POST /cgi-bin/webhook/send``      消息推送 webhook (``key``), ≤ 20 messages/min per key
``POST /cgi-bin/aibot/response``    AI-bot ``response_url`` (``response_code``), usable once
=================================  =====================================================

Errors it produces, like the real service: 40001 wrong secret, 40013 wrong corp id,
41001 missing access_token, 40014 a token it never issued, 42001 an expired or revoked token
(:meth:`FakeWeCom.expire_tokens`), 47001 a body that is not a JSON object, 40008 an
unsupported msgtype, 44004 empty content, 45002 content over 2048 (text) / 4096 (markdown)
UTF-8 bytes, 93000 an unknown or removed webhook key, 45009 the webhook rate limit,
86003 an unknown appchat chatid (only when ``appchat_ids`` is given), 40050 a missing chatid,
41011 a missing agentid, 81013 when every ``touser`` is invalid (``invaliduser`` lists the
invalid ones otherwise), 43002 GET on a POST API.

Choices where the real behaviour is not documented:

* A ``response_url`` that was already used, never issued, or is older than an hour answers
  errcode **40058** ("invalid response_code"). A rejected post (bad content) does not use it up.
* Unless ``webhook_keys`` is given, every non-empty key is a valid robot, so a config can
  invent keys; :meth:`FakeWeCom.remove_webhook_key` turns one into 93000 ("robot removed").
* The rate limiter counts accepted messages only (a 45009 does not extend the block).
* ``gettoken`` returns the same token while it is valid (as the real one does), with the
  remaining ``expires_in``.
* A request is processed (and recorded) *before* an injected ``delay``, as a real server
  that answers too late has still delivered the message.
* The corp secret is never recorded: ``corpsecret`` is stored as ``"***"`` in ``received``.

Everything received is recorded in :attr:`FakeWeCom.received` with the errcode (or HTTP
status) that was answered. Control surface for out-of-process use: ``GET /_fake/received``,
``POST /_fake/fail`` (JSON arguments of :meth:`~FakeWeCom.fail_next`), ``POST /_fake/reset``,
``POST /_fake/response_url`` (→ ``{"response_url": …}``), ``POST /_fake/expire_tokens``.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

DEFAULT_CORP_ID = "wwfake"
DEFAULT_SECRET = "fake-wecom-app-secret-0123456789"
TOKEN_TTL = 7200
RESPONSE_URL_TTL = 3600.0
TEXT_LIMIT = 2048
MARKDOWN_LIMIT = 4096
MAX_BODY = 1024 * 1024
RESPONSE_CODE_INVALID = 40058  # fake's choice: response_url reused / unknown / expired

ERRMSG: dict[int, str] = {
    -1: "system busy",
    0: "ok",
    40001: "invalid credential",
    40008: "invalid message type",
    40013: "invalid corpid",
    40014: "invalid access_token",
    40050: "chatid not found",
    40058: "invalid parameter",
    41001: "access_token missing",
    41002: "corpid missing",
    41004: "corpsecret missing",
    41011: "agentid missing",
    42001: "access_token expired",
    43002: "require POST method",
    44004: "empty content",
    45002: "content size out of limit",
    45009: "api freq out of limit",
    45033: "api concurrent out of limit",
    47001: "data format error",
    81013: "user & party & tag all invalid",
    86003: "chatid not exists",
    93000: "invalid webhook url",
    93004: "webhook robot disabled",
    93008: "webhook robot not in group",
}


@dataclass(frozen=True)
class Received:
    """One request the fake answered (control requests under ``/_fake/`` are not recorded)."""

    path: str  # e.g. "/cgi-bin/webhook/send"
    query: dict[str, str]  # first value of each parameter; corpsecret is "***"
    body: dict[str, Any] | None  # the JSON object posted, None for GET or an unparsable body
    at: float  # the fake's clock (``now``) when it arrived
    status: int = 200  # the HTTP status answered
    errcode: int | None = None  # the errcode answered (None when the answer was not JSON)

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.errcode == 0


@dataclass
class _Failure:
    path_prefix: str
    errcode: int | None
    http_status: int | None
    delay: float | None
    times: int


@dataclass
class _Reply:
    status: int
    payload: dict[str, Any] | None = None  # JSON answer
    text: str = ""  # plain answer when payload is None
    errcode: int | None = None
    delay: float | None = None


@dataclass
class _State:
    received: list[Received] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    tokens: dict[str, float] = field(default_factory=dict)  # token -> issued at
    revoked: set[str] = field(default_factory=set)
    current_token: str | None = None
    response_codes: dict[str, float] = field(default_factory=dict)  # unused code -> issued at
    sent_at: dict[str, deque[float]] = field(default_factory=dict)  # webhook key -> times


def _error(errcode: int, errmsg: str | None = None) -> _Reply:
    return _Reply(
        200, {"errcode": errcode, "errmsg": errmsg or ERRMSG.get(errcode, "error")}, errcode=errcode
    )


def _ok(**extra: Any) -> _Reply:
    return _Reply(200, {"errcode": 0, "errmsg": "ok", **extra}, errcode=0)


def _content_error(body: dict[str, Any], allowed: tuple[str, ...]) -> _Reply | None:
    """40008 / 44004 / 45002 for the ``{msgtype, <msgtype>: {content}}`` shape, else None."""
    msgtype = body.get("msgtype")
    if not isinstance(msgtype, str) or msgtype not in allowed:
        return _error(40008)
    section = body.get(msgtype)
    content = section.get("content") if isinstance(section, dict) else None
    if not isinstance(content, str) or not content:
        return _error(44004)
    limit = TEXT_LIMIT if msgtype == "text" else MARKDOWN_LIMIT
    if len(content.encode("utf-8", "surrogatepass")) > limit:
        return _error(45002, f"content size out of limit: {limit} bytes")
    return None


class FakeWeCom:
    """The fake server. ``start()`` it (or use ``with``); ``port=0`` picks a free port."""

    def __init__(
        self,
        corp_id: str = DEFAULT_CORP_ID,
        secret: str = DEFAULT_SECRET,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        now: Callable[[], float] = time.monotonic,
        rate_limit_per_minute: int | None = 20,
        webhook_keys: Iterable[str] | None = None,
        appchat_ids: Iterable[str] | None = None,
        invalid_userids: Iterable[str] = (),
    ) -> None:
        """``webhook_keys``/``appchat_ids``: None accepts any; ``rate_limit_per_minute=None``
        disables the webhook limiter; ``invalid_userids`` are reported in ``invaliduser``."""
        self.corp_id = corp_id
        self.secret = secret
        self.host = host
        self.port = port
        self.now = now
        self.rate_limit_per_minute = rate_limit_per_minute
        self.webhook_keys: set[str] | None = None if webhook_keys is None else set(webhook_keys)
        self.removed_webhook_keys: set[str] = set()
        self.appchat_ids: set[str] | None = None if appchat_ids is None else set(appchat_ids)
        self.invalid_userids: set[str] = set(invalid_userids)
        self._lock = threading.Lock()
        self._state = _State()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeWeCom:
        if self._server is not None:
            raise RuntimeError("the fake WeCom is already running")
        self._stopping.clear()
        server = _Server((self.host, self.port), _Handler)
        server.fake = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever,
            name="fake-wecom",
            kwargs={"poll_interval": 0.01},
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # wakes handlers sleeping on an injected delay
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeWeCom:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT`` (the control surface lives under ``/_fake/``)."""
        if self._server is None:
            raise RuntimeError("the fake WeCom is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API base, like ``https://qyapi.weixin.qq.com/cgi-bin/``."""
        return f"{self.root_url}/cgi-bin/"

    def webhook_url(self, key: str) -> str:
        """``{base}webhook/send?key=KEY``; ``webhook_url("")`` is a prefix to append keys to."""
        return f"{self.base_url}webhook/send?key={key}"

    def new_response_url(self) -> str:
        """A fresh AI-bot ``response_url``: usable once, for an hour (of ``now``)."""
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._state.response_codes[code] = self.now()
        return f"{self.base_url}aibot/response?response_code={code}"

    # ------------------------------------------------------------------ steering

    def fail_next(
        self,
        path_prefix: str,
        *,
        errcode: int | None = None,
        http_status: int | None = None,
        delay: float | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` requests whose path starts with ``path_prefix`` fail.

        ``path_prefix`` is a path (``"/cgi-bin/webhook/send"``) or relative to the API base
        (``"webhook/send"``). ``errcode``: HTTP 200 with that errcode; ``http_status``: that
        status with a short plain body; ``delay``: sleep that long before answering (alone, the
        request is then processed normally). Rules are used first come, first served.
        """
        if errcode is not None and http_status is not None:
            raise ValueError("give errcode or http_status, not both")
        if errcode is None and http_status is None and delay is None:
            raise ValueError("give errcode, http_status or delay")
        if http_status is not None and not 100 <= http_status <= 599:
            raise ValueError("http_status must be an HTTP status code")
        if delay is not None and delay < 0:
            raise ValueError("delay must not be negative")
        if times < 1:
            raise ValueError("times must be at least 1")
        if not path_prefix.startswith("/"):
            path_prefix = "/cgi-bin/" + path_prefix
        with self._lock:
            self._state.failures.append(_Failure(path_prefix, errcode, http_status, delay, times))

    def expire_tokens(self) -> None:
        """Revoke every access_token issued so far: using one answers 42001."""
        with self._lock:
            self._state.revoked.update(self._state.tokens)
            self._state.current_token = None

    def remove_webhook_key(self, key: str) -> None:
        """The robot was removed from its group: posts to ``key`` answer 93000."""
        with self._lock:
            self.removed_webhook_keys.add(key)

    def reset(self) -> None:
        """Forget received requests, queued failures and rate-limit history (tokens and
        unused response_urls stay valid)."""
        with self._lock:
            self._state.received.clear()
            self._state.failures.clear()
            self._state.sent_at.clear()

    # ------------------------------------------------------------------ what arrived

    @property
    def received(self) -> list[Received]:
        """A snapshot (copy) of everything received, oldest first."""
        with self._lock:
            return list(self._state.received)

    def calls(self, endpoint: str) -> list[Received]:
        """Requests to one API, e.g. ``calls("gettoken")`` or ``calls("webhook/send")``."""
        path = endpoint if endpoint.startswith("/") else "/cgi-bin/" + endpoint
        return [r for r in self.received if r.path == path]

    def _accepted(self, endpoint: str) -> list[Received]:
        return [r for r in self.calls(endpoint) if r.ok and r.body is not None]

    def sent_to_webhook(self, key: str) -> list[dict[str, Any]]:
        """Bodies the webhook ``key`` accepted (errcode 0), oldest first."""
        return [
            r.body
            for r in self._accepted("webhook/send")
            if r.body is not None and r.query.get("key") == key
        ]

    def sent_messages(self) -> list[dict[str, Any]]:
        """Bodies ``message/send`` accepted (app messages to users)."""
        return [r.body for r in self._accepted("message/send") if r.body is not None]

    def sent_appchat(self, chatid: str | None = None) -> list[dict[str, Any]]:
        """Bodies ``appchat/send`` accepted, optionally for one chatid."""
        return [
            r.body
            for r in self._accepted("appchat/send")
            if r.body is not None and (chatid is None or r.body.get("chatid") == chatid)
        ]

    def sent_responses(self) -> list[dict[str, Any]]:
        """Bodies ``aibot/response`` accepted (one per response_url)."""
        return [r.body for r in self._accepted("aibot/response") if r.body is not None]

    # ------------------------------------------------------------------ request handling

    def _handle(self, method: str, raw_path: str, raw_body: bytes | None) -> _Reply:
        parts = urlsplit(raw_path)
        path = parts.path
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if path.startswith("/_fake/"):
            return self._control(method, path, raw_body)
        arrived = self.now()
        body: dict[str, Any] | None = None
        bad_json = False
        if method == "POST":
            try:
                parsed = json.loads(raw_body or b"")
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                body = parsed
            else:
                bad_json = True
        with self._lock:
            failure = self._take_failure(path)
            if failure is not None and (
                failure.errcode is not None or failure.http_status is not None
            ):
                if failure.errcode is not None:
                    reply = _error(failure.errcode)
                else:
                    status = failure.http_status or 502
                    reply = _Reply(status, text=f"{status} {_phrase(status)}\n")
            else:
                reply = self._api(method, path, query, body, bad_json, arrived)
            reply.delay = failure.delay if failure is not None else None
            if "corpsecret" in query:
                query["corpsecret"] = "***"
            self._state.received.append(
                Received(path, query, body, arrived, reply.status, reply.errcode)
            )
        return reply

    def _take_failure(self, path: str) -> _Failure | None:
        for failure in self._state.failures:
            if path.startswith(failure.path_prefix):
                failure.times -= 1
                if failure.times <= 0:
                    self._state.failures.remove(failure)
                return failure
        return None

    def _api(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: dict[str, Any] | None,
        bad_json: bool,
        now: float,
    ) -> _Reply:
        routes: dict[str, Callable[[dict[str, str], dict[str, Any] | None, float], _Reply]] = {
            "/cgi-bin/gettoken": self._gettoken,
            "/cgi-bin/message/send": self._message_send,
            "/cgi-bin/appchat/send": self._appchat_send,
            "/cgi-bin/webhook/send": self._webhook_send,
            "/cgi-bin/aibot/response": self._aibot_response,
        }
        route = routes.get(path)
        if route is None:
            return _Reply(404, text="404 page not found\n")
        if path == "/cgi-bin/gettoken":
            return route(query, None, now)
        if method != "POST":
            return _error(43002)
        if path == "/cgi-bin/webhook/send":  # the key is checked before the body
            return route(query, None if bad_json else body, now)
        if bad_json or body is None:
            return _error(47001)
        return route(query, body, now)

    def _gettoken(self, query: dict[str, str], _body: dict[str, Any] | None, now: float) -> _Reply:
        st = self._state
        if not query.get("corpid"):
            return _error(41002)
        if not query.get("corpsecret"):
            return _error(41004)
        if not secrets.compare_digest(query["corpid"].encode(), self.corp_id.encode()):
            return _error(40013)
        if not secrets.compare_digest(query["corpsecret"].encode(), self.secret.encode()):
            return _error(40001)
        token = st.current_token
        if token is None or now - st.tokens[token] >= TOKEN_TTL:
            token = secrets.token_urlsafe(48)
            st.tokens[token] = now
            st.current_token = token
        remaining = max(1, int(TOKEN_TTL - (now - st.tokens[token])))
        return _ok(access_token=token, expires_in=remaining)

    def _token_error(self, query: dict[str, str], now: float) -> _Reply | None:
        token = query.get("access_token")
        if not token:
            return _error(41001)
        issued = self._state.tokens.get(token)
        if issued is None:
            return _error(40014)
        if token in self._state.revoked or now - issued >= TOKEN_TTL:
            return _error(42001)
        return None

    def _message_send(
        self, query: dict[str, str], body: dict[str, Any] | None, now: float
    ) -> _Reply:
        assert body is not None
        error = self._token_error(query, now)
        if error is not None:
            return error
        if body.get("agentid") in (None, ""):
            return _error(41011)
        error = _content_error(body, ("text", "markdown"))
        if error is not None:
            return error
        users = [u for u in str(body.get("touser", "")).split("|") if u]
        invalid = [u for u in users if u in self.invalid_userids]
        if not users or len(invalid) == len(users):
            return _error(81013)
        return _ok(
            invaliduser="|".join(invalid),
            invalidparty="",
            invalidtag="",
            unlicenseduser="",
            msgid=secrets.token_hex(16),
        )

    def _appchat_send(
        self, query: dict[str, str], body: dict[str, Any] | None, now: float
    ) -> _Reply:
        assert body is not None
        error = self._token_error(query, now)
        if error is not None:
            return error
        chatid = body.get("chatid")
        if not chatid:
            return _error(40050)
        if self.appchat_ids is not None and chatid not in self.appchat_ids:
            return _error(86003)
        return _content_error(body, ("text", "markdown")) or _ok()

    def _webhook_send(
        self, query: dict[str, str], body: dict[str, Any] | None, now: float
    ) -> _Reply:
        key = query.get("key", "")
        if (
            not key
            or key in self.removed_webhook_keys
            or (self.webhook_keys is not None and key not in self.webhook_keys)
        ):
            return _error(93000)
        if body is None:
            return _error(47001)
        window = self._state.sent_at.setdefault(key, deque())
        while window and window[0] <= now - 60.0:
            window.popleft()
        if self.rate_limit_per_minute is not None and len(window) >= self.rate_limit_per_minute:
            return _error(
                45009,
                "api freq out of limit, each robot can send no more than "
                f"{self.rate_limit_per_minute} messages per minute",
            )
        error = _content_error(body, ("text", "markdown", "markdown_v2"))
        if error is not None:
            return error
        if body["msgtype"] == "text":
            mentioned = body["text"].get("mentioned_list", [])
            if not isinstance(mentioned, list) or not all(isinstance(u, str) for u in mentioned):
                return _error(40058)
        window.append(now)
        return _ok()

    def _aibot_response(
        self, query: dict[str, str], body: dict[str, Any] | None, now: float
    ) -> _Reply:
        assert body is not None
        code = query.get("response_code", "")
        issued = self._state.response_codes.get(code)
        if issued is None or now - issued > RESPONSE_URL_TTL:
            self._state.response_codes.pop(code, None)
            return _error(RESPONSE_CODE_INVALID, "invalid response_code")
        error = _content_error(body, ("markdown",))
        if error is not None:
            return error
        del self._state.response_codes[code]
        return _ok()

    # ------------------------------------------------------------------ control surface

    def _control(self, method: str, path: str, raw_body: bytes | None) -> _Reply:
        if method == "GET" and path == "/_fake/received":
            return _Reply(200, {"received": [asdict(r) for r in self.received]})
        if method != "POST":
            return _Reply(405, text="405 method not allowed\n")
        if path == "/_fake/reset":
            self.reset()
            return _Reply(200, {"ok": True})
        if path == "/_fake/expire_tokens":
            self.expire_tokens()
            return _Reply(200, {"ok": True})
        if path == "/_fake/response_url":
            return _Reply(200, {"response_url": self.new_response_url()})
        if path == "/_fake/fail":
            try:
                args = json.loads(raw_body or b"")
                if not isinstance(args, dict):
                    raise TypeError("expected a JSON object")
                self.fail_next(**args)
            except (ValueError, TypeError) as exc:
                return _Reply(400, text=f"bad fail_next arguments: {exc}\n")
            return _Reply(200, {"ok": True})
        return _Reply(404, text="404 page not found\n")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops concurrent connects (1 s SYN retry)
    fake: FakeWeCom

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is expected; anything else is a bug in the fake.
        log.debug("fake WeCom: error while answering a request", exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "FakeWeCom/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # request lines carry keys and tokens; the fake records requests itself

    def do_GET(self) -> None:
        self._serve("GET", None)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._write(_Reply(413, text="413 request entity too large\n"))
            return
        self._serve("POST", self.rfile.read(length) if length > 0 else b"")

    def _serve(self, method: str, raw_body: bytes | None) -> None:
        fake = self.server.fake
        reply = fake._handle(method, self.path, raw_body)
        if reply.delay and fake._stopping.wait(reply.delay):
            return  # shutting down: drop the connection unanswered
        self._write(reply)

    def _write(self, reply: _Reply) -> None:
        if reply.payload is not None:
            data = json.dumps(reply.payload, ensure_ascii=False).encode("utf-8")
            ctype = "application/json; charset=UTF-8"
        else:
            data = reply.text.encode("utf-8")
            ctype = "text/plain; charset=utf-8"
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting
