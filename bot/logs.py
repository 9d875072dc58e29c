"""Structured logging: one JSON object per line, with personal data kept out of INFO and above."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)
# Field names whose values are personal data (ARCHITECTURE habit 10).
SENSITIVE_FIELDS = frozenset(
    {
        "phone",
        "phone_number",
        "first_name",
        "last_name",
        "full_name",
        "customer_name",
        "username",
        "comment",
        "text",
    }
)
_PHONE_RE = re.compile(r"\+?\d[\d\s().-]{6,}\d")


class RedactingFilter(logging.Filter):
    """Masks personal fields and phone-number-like digits on records at INFO or above."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place; never drops a record."""
        if record.levelno < logging.INFO:
            return True
        for key in (SENSITIVE_FIELDS & vars(record).keys()) - _STANDARD_ATTRS:
            setattr(record, key, "[redacted]")
        if isinstance(record.msg, str):
            record.msg = _PHONE_RE.sub("[redacted]", record.msg)
        if record.args:
            record.args = tuple(
                _PHONE_RE.sub("[redacted]", arg) if isinstance(arg, str) else arg
                for arg in (record.args if isinstance(record.args, tuple) else (record.args,))
            )
        return True


class JsonFormatter(logging.Formatter):
    """Formats a record as a single JSON line with its `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record."""
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False, default=str)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]  # generic in typeshed only
    """Writes to whatever sys.stderr is at the time (test runners and embedders swap it)."""

    @property
    def stream(self) -> Any:
        """The current standard error."""
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Install one stderr handler with redaction; `fmt` is 'json' or 'text'."""
    handler = _StderrHandler()
    handler.addFilter(RedactingFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Framework chatter at INFO would drown ours and may echo payloads.
    for noisy in ("aiogram", "aiohttp.access", "httpx", "telegram", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
