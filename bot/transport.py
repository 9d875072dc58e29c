"""The one interface runtimes give the sender: make a Bot API call, map failures to four kinds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

# Files to upload with a call, by parameter name: (filename, bytes).
Uploads = Mapping[str, tuple[str, bytes]]


class TransportError(Exception):
    """A Bot API call did not succeed."""


class RetryAfter(TransportError):
    """429: Telegram asks us to wait `retry_after` seconds before the same call."""

    def __init__(self, retry_after: float, description: str = "") -> None:
        super().__init__(description or f"retry after {retry_after}")
        self.retry_after = retry_after


class Forbidden(TransportError):
    """403: the user blocked the bot or the bot was removed from the chat."""


class BadRequest(TransportError):
    """400 and other permanent refusals: retrying the same call cannot help."""


class TransientError(TransportError):
    """5xx, timeouts and network failures: worth retrying with back-off."""


class Unauthorized(TransientError):
    """401: the token was refused; transient for queued calls (the operator may fix it)."""


class BotApiTransport(Protocol):
    """Makes one Bot API call; returns the decoded `result`, raises a TransportError subclass."""

    async def call(self, method: str, params: dict[str, Any], files: Uploads | None = None) -> Any:
        """Call `method` with JSON-compatible `params` (and `files`, sent as multipart)."""
        ...

    async def close(self) -> None:
        """Release HTTP resources."""
        ...
