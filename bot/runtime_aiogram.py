"""aiogram 3 runtime: polls or receives updates, feeds raw JSON to the core, makes outbox calls."""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

import aiogram.methods
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import GetUpdates
from aiogram.methods.base import Response, TelegramMethod
from aiogram.types import BufferedInputFile
from pydantic import BaseModel, ValidationError

from bot.transport import (
    BadRequest,
    Forbidden,
    RetryAfter,
    TransientError,
    Unauthorized,
    Uploads,
)

log = logging.getLogger(__name__)


@cache
def _method_classes() -> dict[str, type[TelegramMethod[Any]]]:
    classes: dict[str, type[TelegramMethod[Any]]] = {}
    for name in aiogram.methods.__all__:
        candidate = getattr(aiogram.methods, name)
        if isinstance(candidate, type) and issubclass(candidate, TelegramMethod):
            api_name = getattr(candidate, "__api_method__", None)
            if isinstance(api_name, str):
                classes[api_name.lower()] = candidate
    return classes


# aiogram parametrises `Response[...]` for every answer it reads; pydantic caches those classes
# only weakly, so once collected each is rebuilt (milliseconds of schema work per Bot API call
# under load). Holding one strong reference per result type keeps them cached.
_RESPONSE_MODELS: dict[Any, type[BaseModel]] = {}


def _keep_response_model(method_class: type[TelegramMethod[Any]]) -> None:
    returning = getattr(method_class, "__returning__", None)
    if returning is not None and returning not in _RESPONSE_MODELS:
        _RESPONSE_MODELS[returning] = Response[returning]  # type: ignore[valid-type]


def make_bot(token: str, api_url: str, *, timeout: float = 60.0) -> Bot:
    """Build an aiogram Bot talking to `api_url` (Telegram's, a self-hosted server or the fake)."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url.rstrip("/")), timeout=timeout)
    return Bot(token=token, session=session)


def to_plain(value: Any) -> Any:
    """Turn an aiogram result (model, list of models, bool) into plain JSON data."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(value, list):
        return [to_plain(item) for item in value]
    return value


class AiogramTransport:
    """BotApiTransport over an aiogram Bot: any Bot API method by name, typed by aiogram."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def call(self, method: str, params: dict[str, Any], files: Uploads | None = None) -> Any:
        """Make one Bot API call and map aiogram's exceptions to the transport's four kinds."""
        method_class = _method_classes().get(method.lower())
        if method_class is None:
            raise BadRequest(f"unknown Bot API method {method!r}")
        if files:
            params = params | {
                name: BufferedInputFile(data, filename) for name, (filename, data) in files.items()
            }
        _keep_response_model(method_class)
        try:
            request = method_class.model_validate(params)
        except ValidationError as exc:
            raise BadRequest(
                f"invalid parameters for {method}: {exc.error_count()} errors"
            ) from exc
        try:
            result = await self.bot(request)
        except ClientDecodeError as exc:
            # The call succeeded but aiogram could not model the answer: keep the raw result.
            raw = exc.data if isinstance(exc.data, dict) else {}
            if raw.get("ok"):
                return raw.get("result")
            raise TransientError("undecodable Bot API response") from exc
        except TelegramRetryAfter as exc:
            raise RetryAfter(exc.retry_after, exc.message) from exc
        except TelegramForbiddenError as exc:
            raise Forbidden(exc.message) from exc
        except TelegramUnauthorizedError as exc:
            # A revoked token is the operator's to fix; queued calls stay pending until then.
            log.error("bot token refused by the Bot API", extra={"method": method})
            raise Unauthorized(exc.message) from exc
        except (TelegramServerError, TelegramNetworkError) as exc:
            raise TransientError(exc.message) from exc
        except TelegramAPIError as exc:
            raise BadRequest(exc.message) from exc
        except TimeoutError as exc:
            raise TransientError("timeout") from exc
        return to_plain(result)

    async def close(self) -> None:
        """Close the aiogram HTTP session."""
        await self.bot.session.close()


class AiogramRuntime:
    """The aiogram side of the bot: a transport for outbox calls and a long-polling source."""

    name = "aiogram"

    def __init__(self, token: str, api_url: str, *, polling_timeout: int = 25) -> None:
        self.bot = make_bot(token, api_url, timeout=polling_timeout + 30)
        self.transport = AiogramTransport(self.bot)

    async def fetch_updates(
        self, offset: int | None, timeout: int, allowed_updates: list[str]
    ) -> list[dict[str, Any]]:
        """Long-poll getUpdates and return the updates as raw JSON dicts."""
        _keep_response_model(GetUpdates)
        request = GetUpdates(offset=offset, timeout=timeout, allowed_updates=allowed_updates)
        try:
            updates = await self.bot(request, request_timeout=timeout + 30)
        except ClientDecodeError as exc:
            # aiogram's models refused some update (a field it requires is missing). The core
            # parses raw JSON defensively, so hand it the server's updates as they came.
            raw = exc.data if isinstance(exc.data, dict) else {}
            if raw.get("ok") and isinstance(raw.get("result"), list):
                log.warning("aiogram could not model an update; passing it on raw")
                return [update for update in raw["result"] if isinstance(update, dict)]
            raise TransientError("undecodable getUpdates response") from exc
        except TelegramRetryAfter as exc:
            raise RetryAfter(exc.retry_after, exc.message) from exc
        except (TelegramServerError, TelegramNetworkError, TimeoutError) as exc:
            raise TransientError(str(exc)) from exc
        except TelegramAPIError as exc:
            raise BadRequest(exc.message) from exc
        return [to_plain(update) for update in updates]

    async def close(self) -> None:
        """Close the HTTP session."""
        await self.transport.close()
