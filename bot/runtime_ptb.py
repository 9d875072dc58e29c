"""python-telegram-bot 22 runtime: long-polls raw update JSON and makes outbox calls via PTB."""

from __future__ import annotations

import asyncio
import logging
import warnings
from datetime import timedelta
from http import HTTPStatus
from typing import Any

import telegram.error
from telegram.ext import Application, ApplicationBuilder
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning, PTBUserWarning

from bot.transport import (
    BadRequest,
    Forbidden,
    RetryAfter,
    TransientError,
    TransportError,
    Unauthorized,
    Uploads,
)

log = logging.getLogger(__name__)

# PTB keeps its own HTTP connection pools: many for outbox calls (sent concurrently across
# chats), one for getUpdates, as ApplicationBuilder does by default.
CALL_POOL_SIZE = 256
POLL_POOL_SIZE = 1


class TokenRefused(telegram.error.TelegramError):
    """401 from the Bot API, kept apart from 404 (PTB reports both as InvalidToken)."""


class _TokenAwareRequest(HTTPXRequest):
    """PTB's httpx request that raises TokenRefused on 401 instead of PTB's 401/404 merge."""

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        """Make the HTTP request; a 401 answer becomes TokenRefused."""
        code, payload = await super().do_request(*args, **kwargs)
        if code == HTTPStatus.UNAUTHORIZED:
            # After initialize() PTB turns InvalidToken into EndPointNotFound, so a token revoked
            # at run time would look like an unknown method; the status code tells them apart.
            raise TokenRefused("Unauthorized: the Bot API refused the token")
        return code, payload


def silence_ptb_notices() -> None:
    """Hide two PTB warnings that do not apply to how this transport uses PTB (idempotent)."""
    # do_api_request suggests PTB's typed shortcut whenever one exists; the outbox holds method
    # names and JSON params by design, so every call would repeat the hint.
    warnings.filterwarnings(
        "ignore", message=r"Please use 'Bot\.\w+' instead of", category=PTBUserWarning
    )
    # PTB 22 announces (on every 429) that RetryAfter.retry_after becomes a timedelta;
    # _retry_seconds accepts both forms.
    warnings.filterwarnings(
        "ignore",
        message=r".*attribute `retry_after` will be of type",
        category=PTBDeprecationWarning,
    )


def _retry_seconds(exc: telegram.error.RetryAfter) -> float:
    value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def translate_error(exc: telegram.error.TelegramError) -> TransportError:
    """Map a python-telegram-bot exception to the transport's four kinds, as aiogram's are."""
    if isinstance(exc, telegram.error.RetryAfter):
        return RetryAfter(_retry_seconds(exc), exc.message)
    if isinstance(exc, telegram.error.Forbidden):
        return Forbidden(exc.message)
    if isinstance(exc, TokenRefused | telegram.error.InvalidToken):
        # PTB's InvalidToken message repeats the token; it must not reach the logs.
        return Unauthorized("the Bot API refused the token")
    if isinstance(exc, telegram.error.BadRequest):  # before NetworkError: it subclasses it
        return BadRequest(exc.message)
    if isinstance(exc, telegram.error.NetworkError):  # 5xx, 502, timeouts, connection errors
        return TransientError(exc.message)
    # EndPointNotFound (404: unknown method), Conflict, ChatMigrated: retrying cannot help.
    return BadRequest(exc.message)


def build_application(
    token: str, api_url: str, *, timeout: float = 60.0
) -> Application[Any, Any, Any, Any, Any, Any]:
    """A PTB Application for `api_url` without Updater or JobQueue: the bot drives polling."""
    base = api_url.rstrip("/")

    def request(pool_size: int) -> HTTPXRequest:
        # One timeout for every phase, like aiogram's session; above the long-poll timeout.
        return _TokenAwareRequest(
            connection_pool_size=pool_size,
            read_timeout=timeout,
            write_timeout=timeout,
            connect_timeout=timeout,
            pool_timeout=timeout,
        )

    return (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{base}/bot")
        .base_file_url(f"{base}/file/bot")
        .request(request(CALL_POOL_SIZE))
        .get_updates_request(request(POLL_POOL_SIZE))
        .updater(None)
        .job_queue(None)
        .build()
    )


class PtbTransport:
    """BotApiTransport over a PTB Application's Bot: any Bot API method by name, raw JSON back."""

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        self.application = application
        self._ready = False
        self._lock = asyncio.Lock()
        silence_ptb_notices()

    async def call(self, method: str, params: dict[str, Any], files: Uploads | None = None) -> Any:
        """Make one Bot API call and map PTB's exceptions to the transport's four kinds."""
        if files:
            params = params | {
                name: telegram.InputFile(data, filename=filename)
                for name, (filename, data) in files.items()
            }
        try:
            return await self.request(method, params)
        except Unauthorized:
            # A revoked token is the operator's to fix; queued calls stay pending until then.
            log.error("bot token refused by the Bot API", extra={"method": method})
            raise

    async def request(
        self, method: str, params: dict[str, Any], *, read_timeout: float | None = None
    ) -> Any:
        """POST `method` with `params` through PTB and return the decoded `result` as is."""
        try:
            await self._initialize()
            extra = {} if read_timeout is None else {"read_timeout": read_timeout}
            return await self.application.bot.do_api_request(method, api_kwargs=params, **extra)
        except telegram.error.TelegramError as exc:
            raise translate_error(exc) from exc

    async def _initialize(self) -> None:
        if self._ready:
            return
        async with self._lock:
            if not self._ready:
                # Opens PTB's HTTP clients and checks the token with getMe.
                await self.application.initialize()
                self._ready = True

    async def close(self) -> None:
        """Shut the Application down and close PTB's HTTP clients."""
        async with self._lock:
            self._ready = False
            await self.application.shutdown()
            # Application.shutdown skips the bot if initialize() failed half-way (say, a refused
            # token after the HTTP clients were opened); Bot.shutdown is a no-op when closed.
            await self.application.bot.shutdown()


class PtbRuntime:
    """The python-telegram-bot side of the bot: a transport and a long-polling source."""

    name = "ptb"

    def __init__(self, token: str, api_url: str, *, polling_timeout: int = 25) -> None:
        self.application = build_application(token, api_url, timeout=polling_timeout + 30)
        self.transport = PtbTransport(self.application)

    async def fetch_updates(
        self, offset: int | None, timeout: int, allowed_updates: list[str]
    ) -> list[dict[str, Any]]:
        """Long-poll getUpdates and return the updates as the raw JSON the server sent."""
        params = {"offset": offset, "timeout": timeout, "allowed_updates": allowed_updates}
        updates = await self.transport.request("getUpdates", params, read_timeout=timeout + 30)
        return list(updates)

    async def close(self) -> None:
        """Release HTTP resources."""
        await self.transport.close()
