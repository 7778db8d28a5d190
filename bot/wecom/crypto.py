"""WeCom callback crypto (wecom.md §1.3–1.5, §2.1), hardened as wecom.md §6 asks.

Both inbound channels use the same scheme: a SHA-1 signature over the sorted
``(token, timestamp, nonce, encrypt)`` strings, and AES-256-CBC (IV = key[:16], PKCS#7 padding
to 32 bytes) over ``random(16) || len(4, big-endian) || msg || receiveid``. ``receiveid`` is the
CorpID for the self-built app and ``""`` for the 智能机器人 (AI bot).

wechatpy 1.8.18 provides the AES-CBC cipher (``wechatpy.crypto.cryptography.WeChatCipher``) and
the PKCS#7 encoder; everything wechatpy skips is done here: constant-time signature comparison, a
timestamp window, strict Base64, padding validation, bounds checks on the length prefix, a
receiveid check, UTF-8 validation, and a CSPRNG for the random prefix.

Errors are :class:`CallbackRejected` subclasses carrying an HTTP status and a short generic
``reason``; nothing secret, no plaintext and no ciphertext ever goes into an exception.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import string
import struct
from collections.abc import Callable
from typing import ClassVar

from wechatpy.crypto.cryptography import WeChatCipher
from wechatpy.crypto.pkcs7 import PKCS7Encoder

__all__ = [
    "BadSignature",
    "CallbackCrypto",
    "CallbackRejected",
    "MalformedPayload",
    "StaleTimestamp",
    "WrongReceiver",
    "sign",
]

BLOCK_SIZE = 32  # PKCS#7 block size used by WeCom (not the AES block size)
_AES_BLOCK = 16
_RANDOM_LEN = 16
_LEN_PREFIX = 4
_KEY_CHARS = 43
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_RANDOM_ALPHABET = string.ascii_letters + string.digits


class CallbackRejected(Exception):
    """A callback that must not be processed.

    ``http_status`` is what the web layer should answer; ``reason`` is a short, generic text that
    is safe to show to the caller. ``detail`` is a fixed internal label (never data from the
    request) that may go into logs.
    """

    http_status: ClassVar[int] = 400
    reason: ClassVar[str] = "rejected"

    def __init__(self, detail: str = "") -> None:
        super().__init__(self.reason)
        self.detail = detail


class BadSignature(CallbackRejected):
    http_status = 403
    reason = "invalid signature"


class StaleTimestamp(CallbackRejected):
    http_status = 403
    reason = "timestamp out of range"


class MalformedPayload(CallbackRejected):
    http_status = 400
    reason = "malformed request"


class WrongReceiver(CallbackRejected):
    http_status = 403
    reason = "wrong receiver"


def sign(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """``msg_signature``: lowercase hex SHA-1 of the four strings, sorted and concatenated."""
    joined = "".join(sorted((token, timestamp, nonce, encrypt)))
    return hashlib.sha1(joined.encode("utf-8", "surrogatepass")).hexdigest()


def _decode_key(encoding_aes_key: str) -> bytes:
    if not isinstance(encoding_aes_key, str) or len(encoding_aes_key) != _KEY_CHARS:
        raise ValueError(f"EncodingAESKey must be {_KEY_CHARS} characters")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("EncodingAESKey is not valid Base64") from None
    if len(key) != 32:  # e.g. 42 characters and a '='
        raise ValueError("EncodingAESKey must decode to 32 bytes")
    return key


class CallbackCrypto:
    """Verify, decrypt and encrypt WeCom callbacks for one (token, key, receiveid)."""

    def __init__(
        self,
        token: str,
        encoding_aes_key: str,
        receive_id: str,
        *,
        now: Callable[[], float],
        max_skew: int = 300,
    ) -> None:
        if not isinstance(token, str) or not token:
            raise ValueError("token must be a non-empty string")
        if not isinstance(receive_id, str):
            raise ValueError("receive_id must be a string")
        if max_skew < 0:
            raise ValueError("max_skew must not be negative")
        key = _decode_key(encoding_aes_key)
        self._token = token
        self._receive_id = receive_id.encode("utf-8")
        self._cipher = WeChatCipher(key)  # AES-256-CBC, IV = key[:16]
        self._now = now
        self._max_skew = max_skew

    def __repr__(self) -> str:
        return f"<CallbackCrypto receive_id={self._receive_id.decode()!r}>"

    # ------------------------------------------------------------------ inbound

    def verify_url(
        self,
        msg_signature: str | None,
        timestamp: str | None,
        nonce: str | None,
        echostr: str | None,
    ) -> str:
        """URL verification (GET): returns the plaintext ``echostr`` to answer with."""
        return self._open(msg_signature, timestamp, nonce, echostr).decode("utf-8")

    def decrypt(
        self,
        msg_signature: str | None,
        timestamp: str | None,
        nonce: str | None,
        encrypted_b64: str | None,
    ) -> bytes:
        """A POSTed message: returns the inner plaintext (valid UTF-8 JSON or XML bytes)."""
        return self._open(msg_signature, timestamp, nonce, encrypted_b64)

    def signature(self, timestamp: str, nonce: str, encrypt: str) -> str:
        """The ``msg_signature`` this token gives to ``(timestamp, nonce, encrypt)``."""
        return sign(self._token, timestamp, nonce, encrypt)

    def _open(
        self,
        msg_signature: str | None,
        timestamp: str | None,
        nonce: str | None,
        encrypted: str | None,
    ) -> bytes:
        if not (
            isinstance(msg_signature, str)
            and isinstance(timestamp, str)
            and isinstance(nonce, str)
            and isinstance(encrypted, str)
        ):
            raise MalformedPayload("missing parameter")
        self._check_signature(msg_signature, timestamp, nonce, encrypted)
        self._check_timestamp(timestamp)
        return self._decrypt(encrypted)

    def _check_signature(self, msg_signature: str, timestamp: str, nonce: str, enc: str) -> None:
        expected = self.signature(timestamp, nonce, enc).encode("ascii")
        given = msg_signature.encode("utf-8", "surrogatepass")
        if not hmac.compare_digest(expected, given):
            raise BadSignature("signature mismatch")

    def _check_timestamp(self, timestamp: str) -> None:
        if not _TIMESTAMP.fullmatch(timestamp):
            raise MalformedPayload("timestamp not an integer")
        if abs(int(timestamp) - self._now()) > self._max_skew:
            raise StaleTimestamp("timestamp outside window")

    def _decrypt(self, encrypted: str) -> bytes:
        try:
            raw = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError):  # ValueError: non-ASCII input
            raise MalformedPayload("bad base64") from None
        if not raw or len(raw) % _AES_BLOCK:
            raise MalformedPayload("bad ciphertext length")
        plain: bytes = self._cipher.decrypt(raw)

        pad = plain[-1]
        if not 1 <= pad <= BLOCK_SIZE or pad > len(plain):
            raise MalformedPayload("bad padding")
        if not hmac.compare_digest(plain[-pad:], bytes((pad,)) * pad):
            raise MalformedPayload("bad padding")
        content = plain[_RANDOM_LEN:-pad]
        if len(content) < _LEN_PREFIX:
            raise MalformedPayload("too short")
        (length,) = struct.unpack(">I", content[:_LEN_PREFIX])
        end = _LEN_PREFIX + length
        if end > len(content):
            raise MalformedPayload("bad length")
        msg = content[_LEN_PREFIX:end]
        if not hmac.compare_digest(content[end:], self._receive_id):
            raise WrongReceiver("receiveid mismatch")
        try:
            msg.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedPayload("not utf-8") from None
        return msg

    # ------------------------------------------------------------------ outbound

    def encrypt(self, plaintext: bytes, nonce: str, timestamp: int) -> tuple[str, str]:
        """Encrypt a passive reply (or a simulated callback): returns ``(encrypt_b64, signature)``.

        The signature covers ``(token, str(timestamp), nonce, encrypt_b64)``.
        """
        # 16 random characters from a CSPRNG (wechatpy uses ``random``). Alphanumeric like the
        # reference implementations, so no receiver can trip over the prefix.
        prefix = "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(_RANDOM_LEN))
        framed = b"".join(
            (prefix.encode("ascii"), struct.pack(">I", len(plaintext)), plaintext, self._receive_id)
        )
        padded: bytes = PKCS7Encoder.encode(framed)
        encrypt_b64 = base64.b64encode(self._cipher.encrypt(padded)).decode("ascii")
        return encrypt_b64, self.signature(str(timestamp), nonce, encrypt_b64)
