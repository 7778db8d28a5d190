"""The self-built app's API client (``message/send``, ``appchat/send``) on top of wechatpy.

wechatpy 1.8.18's ``wechatpy.enterprise.WeChatClient`` is used for token caching (its session
storage) and request plumbing, with three things changed (``wecom.md`` §4.3–4.5):

* the API base is per instance (``api_base_url``), and so is ``gettoken`` — wechatpy hard-codes
  the real host for it and calls it without a timeout;
* wechatpy's ``auto_retry`` (unbounded recursion on 40001/40014/42001) is off; instead a token
  error drops the cached token, fetches a new one and retries the call **once**;
* failures become the typed exceptions below, whose messages never contain the secret, the
  token or a URL (the original exception is not chained, since requests' messages carry URLs).

The token cache key is ``{corp_id}_{sha256(secret)[:16]}_access_token``: per corp and secret like
wechatpy's, but without wechatpy's first ten characters of the secret in the storage key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any, Literal

import requests
from wechatpy.enterprise import WeChatClient
from wechatpy.exceptions import WeChatClientException

log = logging.getLogger(__name__)

TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
_JSON = {"Content-Type": "application/json"}


class AppClientError(Exception):
    """A failed app API call; ``str()`` is a short reason with no secret, token or URL."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AppAPIError(AppClientError):
    """WeCom answered a non-zero errcode (``during`` is "gettoken" for the token fetch)."""

    def __init__(self, errcode: int, *, during: Literal["gettoken", "call"] = "call") -> None:
        prefix = "gettoken " if during == "gettoken" else ""
        super().__init__(f"{prefix}errcode {errcode}")
        self.errcode = errcode
        self.during = during


class AppHTTPError(AppClientError):
    """WeCom answered an HTTP error status."""

    def __init__(self, status: int) -> None:
        super().__init__(f"http {status}")
        self.status = status


class AppTimeout(AppClientError):
    """No answer within the timeout (the message may still have been delivered)."""


class AppConnectionError(AppClientError):
    """Could not connect, or the connection broke."""


class AppBadResponse(AppClientError):
    """An answer that is not the expected JSON object."""


def _convert(exc: requests.RequestException, during: str) -> AppClientError:
    if isinstance(exc, requests.Timeout):
        return AppTimeout(f"timeout ({during})")
    if isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        return AppConnectionError(f"connection error ({during})")
    return AppClientError(f"request error {type(exc).__name__} ({during})")


class _Client(WeChatClient):
    """wechatpy's client pointed at a configurable base, with a bounded token fetch."""

    expires_at: int | None

    def __init__(
        self, corp_id: str, secret: str, *, api_base_url: str, timeout: float, session: Any = None
    ) -> None:
        super().__init__(corp_id, secret, session=session, timeout=timeout, auto_retry=False)
        # an instance attribute: wechatpy reads self.API_BASE_URL, other clients are unaffected
        self.API_BASE_URL = api_base_url
        self._key = f"{corp_id}_{hashlib.sha256(secret.encode()).hexdigest()[:16]}_access_token"

    @property
    def access_token_key(self) -> str:
        return self._key

    def fetch_access_token(self) -> dict[str, Any]:
        """GET {base}gettoken with the timeout; stores the token as wechatpy does."""
        log.debug("fetching an access_token for corp %s", self.corp_id)
        try:
            res = self._http.get(
                self.API_BASE_URL + "gettoken",
                timeout=self.timeout,
                allow_redirects=False,
                params={"corpid": self.corp_id, "corpsecret": self.secret},
            )
        except requests.RequestException as exc:
            raise _convert(exc, "gettoken") from None
        if res.status_code != 200:
            raise AppHTTPError(res.status_code)
        try:
            result = res.json()
        except ValueError:
            raise AppBadResponse("bad response (gettoken)") from None
        if not isinstance(result, dict):
            raise AppBadResponse("bad response (gettoken)")
        errcode = _errcode(result)
        if errcode != 0:
            raise AppAPIError(errcode, during="gettoken")
        token = result.get("access_token")
        if not isinstance(token, str) or not token:
            raise AppBadResponse("bad response (gettoken: no access_token)")
        expires_in = int(result.get("expires_in") or 7200)
        self.session.set(self.access_token_key, token, expires_in)
        self.expires_at = int(time.time()) + expires_in
        return result

    def drop_token(self, token: str | None) -> None:
        """Forget the cached token if it is still ``token`` (another thread may have
        refreshed it already)."""
        if token is None or self.session.get(self.access_token_key) == token:
            self.session.delete(self.access_token_key)
            self.expires_at = None


def _errcode(result: dict[str, Any]) -> int:
    try:
        return int(result.get("errcode", 0))
    except (TypeError, ValueError):
        return -1


class AppClient:
    """Sends as the self-built app. Thread-safe enough for the scheduler's worker threads."""

    def __init__(
        self,
        corp_id: str,
        secret: str,
        agent_id: int,
        *,
        api_base_url: str,
        timeout: float = 5.0,
        session_storage: Any = None,
    ) -> None:
        """``session_storage``: a wechatpy storage (``get``/``set``/``delete``); default memory."""
        if not api_base_url.endswith("/"):
            api_base_url += "/"
        self.corp_id = corp_id
        self.agent_id = agent_id
        self.api_base_url = api_base_url
        self.timeout = timeout
        self._client = _Client(
            corp_id, secret, api_base_url=api_base_url, timeout=timeout, session=session_storage
        )
        self._refresh_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AppClient(corp_id={self.corp_id!r}, agent_id={self.agent_id})"

    def close(self) -> None:
        """Close the HTTP session."""
        self._client._http.close()

    # ------------------------------------------------------------------ API

    def send_app_message(
        self, userids: Sequence[str], msgtype: Literal["text", "markdown"], content: str
    ) -> dict[str, Any]:
        """``message/send`` to users (``touser`` "a|b"); returns the errcode-0 answer, which
        may list ``invaliduser``. Raises :class:`AppClientError` subclasses."""
        users = [u for u in userids if u]
        if not users:
            raise ValueError("no userids")
        body = {
            "touser": "|".join(users),
            "msgtype": msgtype,
            "agentid": self.agent_id,
            msgtype: {"content": content},
            "safe": 0,
        }
        result = self.call("message/send", body)
        if result.get("invaliduser"):
            log.warning(
                "message/send: %d invalid userid(s): %s",
                len(str(result["invaliduser"]).split("|")),
                result["invaliduser"],
            )
        return result

    def send_appchat(
        self, chatid: str, msgtype: Literal["text", "markdown"], content: str
    ) -> dict[str, Any]:
        """``appchat/send`` to a group the app created. Raises :class:`AppClientError`."""
        if not chatid:
            raise ValueError("no chatid")
        body = {"chatid": chatid, "msgtype": msgtype, msgtype: {"content": content}, "safe": 0}
        return self.call("appchat/send", body)

    def call(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` to ``{base}{endpoint}``. A token error (40001/40014/42001) refreshes
        the token and retries once; a second one is raised as :class:`AppAPIError`."""
        for attempt in (1, 2):
            token = self._token()
            try:
                return self._post(endpoint, body, token)
            except AppAPIError as exc:
                if exc.errcode not in TOKEN_ERRCODES or attempt == 2:
                    raise
                log.info(
                    "%s: access_token rejected (errcode %d); fetching a new one",
                    endpoint,
                    exc.errcode,
                )
                self._client.drop_token(token)
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ plumbing

    def _token(self) -> str:
        with self._refresh_lock:  # one gettoken at a time, the others reuse its result
            try:
                token = self._client.access_token
            except WeChatClientException as exc:  # pragma: no cover - our fetch raises ours
                raise AppAPIError(int(exc.errcode or -1), during="gettoken") from None
        if not isinstance(token, str) or not token:
            raise AppBadResponse("no access_token")
        return token

    def _post(self, endpoint: str, body: dict[str, Any], token: str) -> dict[str, Any]:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            result = self._client.post(
                endpoint,
                data=data,
                headers=_JSON,
                params={"access_token": token},
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise _convert(exc, endpoint) from None
        except WeChatClientException as exc:
            if exc.errcode is None:  # wechatpy's wrapper of an HTTP error status
                status = getattr(exc.response, "status_code", None)
                raise (
                    AppHTTPError(status)
                    if isinstance(status, int)
                    else AppBadResponse(f"bad response ({endpoint})")
                ) from None
            raise AppAPIError(_errcode({"errcode": exc.errcode})) from None
        if not isinstance(result, dict):  # wechatpy returns the Response when not JSON
            raise AppBadResponse(f"bad response ({endpoint})")
        if _errcode(result) != 0:  # pragma: no cover - wechatpy raises for these
            raise AppAPIError(_errcode(result))
        return result
