"""Structured logging: one JSON object per line, with personal data kept out of INFO and above."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
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
# A bot token (`123456789:AAH...`), e.g. inside a Bot API URL `.../bot<token>/sendMessage`.
_BOT_TOKEN_RE = re.compile(r"\d{3,}:[A-Za-z0-9_-]{20,}")
SECRET_MASK = "[secret]"  # noqa: S105  # the mask, not a secret


class RedactingFilter(logging.Filter):
    """Masks secrets at every level; personal fields and phone-like digits at INFO or above.

    Secrets: anything shaped like a bot token, plus the exact strings given (webhook secret,
    payment provider token), in the message, its arguments, `extra=` values and the traceback.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first so a secret containing another is masked whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)

    def mask_secrets(self, value: str) -> str:
        """The string with bot tokens and the configured secrets replaced by a mask."""
        for secret in self._secrets:
            value = value.replace(secret, SECRET_MASK)
        return _BOT_TOKEN_RE.sub(SECRET_MASK, value)

    def _masked(self, value: Any) -> Any:
        """A string masked; another object as is, or as its masked text if that holds a secret."""
        if value is None or isinstance(value, bool | int | float):
            return value
        text = value if isinstance(value, str) else str(value)
        masked = self.mask_secrets(text)
        return value if masked == text else masked

    def _strip_secrets(self, record: logging.LogRecord) -> None:
        record.msg = self._masked(record.msg)
        if isinstance(record.args, dict):
            record.args = {key: self._masked(arg) for key, arg in record.args.items()}
        elif record.args:
            record.args = tuple(self._masked(arg) for arg in record.args)
        for key in vars(record).keys() - _STANDARD_ATTRS:
            setattr(record, key, self._masked(getattr(record, key)))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask_secrets(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask_secrets(record.stack_info)

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place; never drops a record."""
        self._strip_secrets(record)
        if record.levelno < logging.INFO:
            return True
        for key in (SENSITIVE_FIELDS & vars(record).keys()) - _STANDARD_ATTRS:
            setattr(record, key, "[redacted]")
        if isinstance(record.msg, str):
            record.msg = _PHONE_RE.sub("[redacted]", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                _PHONE_RE.sub("[redacted]", arg) if isinstance(arg, str) else arg
                for arg in record.args
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
        if record.exc_text:  # set (and masked) by RedactingFilter
            payload["exc"] = record.exc_text
        elif record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            payload["stack"] = record.stack_info
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


def configure_logging(level: str = "INFO", fmt: str = "json", secrets: Iterable[str] = ()) -> None:
    """Install one stderr handler with redaction; `fmt` is 'json' or 'text'.

    `secrets` are masked wherever they appear (the bot token is masked by its shape anyway).
    """
    handler = _StderrHandler()
    handler.addFilter(RedactingFilter(secrets))
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
