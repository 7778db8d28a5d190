"""Logging set-up with a last line of defence against secrets in log lines."""

from __future__ import annotations

import logging
import re
from typing import IO

SECRET_QUERY = re.compile(
    r"(?i)\b(key|access_token|corpsecret|secret|response_code|token|encoding_aes_key)=([^&\s\"']+)"
)


class RedactSecrets(logging.Filter):
    """Masks ``key=…``, ``access_token=…`` and similar values in every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = SECRET_QUERY.sub(lambda m: f"{m.group(1)}=***", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def configure(level: int = logging.INFO, stream: IO[str] | None = None) -> None:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("apscheduler", "werkzeug", "waitress", "jieba", "urllib3", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
