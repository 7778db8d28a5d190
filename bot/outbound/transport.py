"""One delivery attempt to WeCom, classified as sent / retry / give_up.

The caller (``bot.outbox``) owns splitting, rate limiting, backoff and attempt counting; the
transport makes exactly one attempt (the app client's single token refresh aside) and says
whether trying again could help. Classification (``wecom.md`` §3, §7):

* **sent** — HTTP 200 and errcode 0.
* **retry** — errcode 45009 (frequency limit, ``retry_after`` 60 s), 45033 (concurrency limit),
  -1 (system busy), the token codes 40001/40014/42001 after the app client's one refresh, HTTP
  5xx, 408 and 429 (transient by definition), timeouts, connection errors, and an answer that is
  not a JSON object with an errcode (a proxy's error page). A timed-out attempt may still have
  been delivered; retrying it risks a duplicate, which beats losing the message.
* **give_up** — 93000/93004/93008 (webhook gone, disabled, not in the group), 86000–86999
  (appchat), 44004, 45002, 81013 (no valid recipient), any other 40000–40999 (bad request;
  this includes the fake's 40058 for a used response_url), other 4xx and 3xx HTTP, a failed
  gettoken with 40001/40013/40091 (wrong corp id or secret: configuration), and **any other
  non-zero errcode**: an unknown code is more likely a permanent refusal than a transient one,
  and the reason names it ("errcode N (unknown)") so it can be added here.
* Content over the byte limit (2048 text / 4096 markdown), or empty, is refused locally
  (give_up) before anything is sent; the transport does not split.

No ``Outcome.reason`` or log line contains a webhook key, access token, secret or URL query
value: URLs are logged through :func:`redact_url`, reasons are built from codes only.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Literal

import requests

from bot.outbound.app_client import (
    TOKEN_ERRCODES,
    AppAPIError,
    AppBadResponse,
    AppClient,
    AppClientError,
    AppConnectionError,
    AppHTTPError,
    AppTimeout,
)
from bot.outbound.split import MARKDOWN_LIMIT, TEXT_LIMIT, utf8_len

log = logging.getLogger(__name__)

Kind = Literal["webhook", "response_url", "appchat", "app_message"]
MsgType = Literal["text", "markdown"]
Status = Literal["sent", "retry", "give_up"]

RATE_LIMITED = 45009
RATE_LIMIT_RETRY_AFTER = 60.0
RETRY_ERRCODES: dict[int, float | None] = {
    RATE_LIMITED: RATE_LIMIT_RETRY_AFTER,
    45033: None,
    -1: None,
}
GIVE_UP_ERRCODES = frozenset({93000, 93004, 93008, 44004, 45002, 81013})
CREDENTIAL_ERRCODES = frozenset({40001, 40013, 40091})  # from gettoken: the config is wrong
LIMITS: dict[str, int] = {"text": TEXT_LIMIT, "markdown": MARKDOWN_LIMIT}

_SECRET_PARAM = re.compile(
    r"(?i)((?:^|[?&;])(?:key|access_token|corpsecret|response_code)=)[^&#\s]*"
)
_USERINFO = re.compile(r"(//[^/@:\s]*:)[^/@\s]*@")


def redact_url(url: str) -> str:
    """``url`` with the values of ``key``, ``access_token``, ``corpsecret`` and
    ``response_code`` (and any password in ``user:password@``) replaced by ``***``."""
    return _USERINFO.sub(r"\1***@", _SECRET_PARAM.sub(r"\1***", url))


@dataclass(frozen=True)
class Delivery:
    """What to send, and where."""

    kind: Kind
    # webhook: the full webhook URL; response_url: the URL; appchat: the chatid;
    # app_message: "|"-joined userids
    target: str
    msgtype: MsgType
    content: str
    mentioned_list: tuple[str, ...] = ()  # webhook text only (ignored otherwise)

    def describe(self) -> str:
        """For logs: the target with secrets masked."""
        if self.kind in ("webhook", "response_url"):
            return f"{self.kind} {redact_url(self.target)}"
        if self.kind == "app_message":
            return f"app_message to {len([u for u in self.target.split('|') if u])} user(s)"
        return f"appchat {self.target}"


@dataclass(frozen=True)
class Outcome:
    """The result of one attempt. ``reason`` is short and never contains a secret or URL."""

    status: Status
    reason: str  # e.g. "ok", "errcode 45009", "http 502", "timeout"
    retry_after: float | None = None  # seconds, when WeCom's answer implies a wait


def classify_errcode(errcode: int) -> Outcome:
    """The outcome for a WeCom errcode (0 is sent)."""
    if errcode == 0:
        return Outcome("sent", "ok")
    reason = f"errcode {errcode}"
    if errcode in RETRY_ERRCODES:
        return Outcome("retry", reason, RETRY_ERRCODES[errcode])
    if errcode in TOKEN_ERRCODES:
        return Outcome("retry", reason)
    if errcode in GIVE_UP_ERRCODES or 86000 <= errcode <= 86999 or 40000 <= errcode <= 40999:
        return Outcome("give_up", reason)
    return Outcome("give_up", f"{reason} (unknown)")


def classify_http_status(status: int) -> Outcome | None:
    """The outcome for a non-200 HTTP status (None for 200)."""
    if status == 200:
        return None
    reason = f"http {status}"
    if status >= 500 or status in (408, 429):
        return Outcome("retry", reason)
    return Outcome("give_up", reason)


def classify_request_error(exc: requests.RequestException) -> Outcome:
    """Timeouts and connection errors are retried; anything else (a bad URL…) is not."""
    if isinstance(exc, requests.Timeout):
        return Outcome("retry", "timeout")
    if isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        return Outcome("retry", "connection error")
    return Outcome("give_up", f"request error {type(exc).__name__}")


def classify_app_error(exc: AppClientError) -> Outcome:
    if isinstance(exc, AppAPIError):
        if exc.during == "gettoken" and exc.errcode in CREDENTIAL_ERRCODES:
            return Outcome("give_up", exc.reason)
        outcome = classify_errcode(exc.errcode)
        prefix = "gettoken " if exc.during == "gettoken" else ""
        return Outcome(outcome.status, prefix + outcome.reason, outcome.retry_after)
    if isinstance(exc, AppHTTPError):
        return classify_http_status(exc.status) or Outcome("retry", exc.reason)
    if isinstance(exc, AppTimeout):
        return Outcome("retry", "timeout")
    if isinstance(exc, AppConnectionError | AppBadResponse):
        return Outcome("retry", exc.reason)
    return Outcome("give_up", exc.reason)


def check_delivery(d: Delivery) -> str | None:
    """Why ``d`` must not be sent at all, or None."""
    limit = LIMITS.get(d.msgtype)
    if limit is None:
        return f"unsupported msgtype {d.msgtype!r}"
    if not d.content.strip():
        return "empty content"
    size = utf8_len(d.content)
    if size > limit:
        return f"content too long ({size} > {limit} bytes)"
    if not d.target:
        return "no target"
    if d.kind in ("webhook", "response_url") and not d.target.startswith(("http://", "https://")):
        return "target is not an http(s) URL"
    return None


def payload(d: Delivery) -> dict[str, Any]:
    """The JSON body for a webhook or response_url delivery.

    A response_url only takes markdown, so text goes as markdown there.
    """
    if d.kind == "response_url" or d.msgtype == "markdown":
        return {"msgtype": "markdown", "markdown": {"content": d.content}}
    text: dict[str, Any] = {"content": d.content}
    if d.mentioned_list:
        text["mentioned_list"] = list(d.mentioned_list)
    return {"msgtype": "text", "text": text}


class Transport:
    """Makes one delivery attempt per :meth:`send`. Safe to share between threads."""

    def __init__(
        self,
        *,
        http: requests.Session | None = None,
        timeout: float = 5.0,
        app: AppClient | None = None,
    ) -> None:
        self.http = http or requests.Session()
        self.timeout = timeout
        self.app = app

    def send(self, d: Delivery) -> Outcome:
        problem = check_delivery(d)
        if problem is not None:
            outcome = Outcome("give_up", problem)
        elif d.kind in ("webhook", "response_url"):
            outcome = self._post(d)
        elif d.kind in ("appchat", "app_message"):
            outcome = self._via_app(d)
        else:
            outcome = Outcome("give_up", f"unknown delivery kind {d.kind!r}")
        if outcome.status == "sent":
            log.debug("sent %s %s (%d bytes)", d.describe(), d.msgtype, utf8_len(d.content))
        elif outcome.status == "retry":
            log.info("%s not sent, will retry: %s", d.describe(), outcome.reason)
        else:
            log.warning("%s not sent, giving up: %s", d.describe(), outcome.reason)
        return outcome

    def _post(self, d: Delivery) -> Outcome:
        data = json.dumps(payload(d), ensure_ascii=False).encode("utf-8")
        try:
            res = self.http.post(
                d.target,
                data=data,
                timeout=self.timeout,
                allow_redirects=False,
                headers={"Content-Type": "application/json"},
            )
        except requests.RequestException as exc:
            return classify_request_error(exc)
        by_status = classify_http_status(res.status_code)
        if by_status is not None:
            return by_status
        try:
            result = res.json()
        except ValueError:
            return Outcome("retry", "bad response")
        if not isinstance(result, dict) or "errcode" not in result:
            return Outcome("retry", "bad response")
        try:
            errcode = int(result["errcode"])
        except (TypeError, ValueError):
            return Outcome("retry", "bad response")
        return classify_errcode(errcode)

    def _via_app(self, d: Delivery) -> Outcome:
        if self.app is None:
            return Outcome("give_up", "no app client configured")
        try:
            if d.kind == "appchat":
                self.app.send_appchat(d.target, d.msgtype, d.content)
            else:
                users = [u for u in d.target.split("|") if u]
                if not users:
                    return Outcome("give_up", "no recipients")
                self.app.send_app_message(users, d.msgtype, d.content)
        except AppClientError as exc:
            return classify_app_error(exc)
        return Outcome("sent", "ok")

    def close(self) -> None:
        """Close the HTTP session (and the app client's)."""
        self.http.close()
        if self.app is not None:
            self.app.close()
