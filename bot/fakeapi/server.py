"""Fake Telegram Bot API server (real HTTP over loopback) for tests, benchmarks and the demo.

The bot under test talks to it exactly as it would talk to ``api.telegram.org``::

    fake = FakeBotApi()
    await fake.start()                      # fake.base_url == "http://127.0.0.1:<port>"
    # aiogram 3:  AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))
    # PTB 22:     Bot(token, base_url=f"{fake.base_url}/bot")
    fake.add_user(1, "Alice")
    fake.send_text(1, "/start")
    await fake.wait_for_messages(1, 1)

Bot API requests: ``POST|GET {base_url}/bot{token}/{method}`` with a JSON body, an urlencoded
form, a multipart form (JSON-looking values of structured fields are decoded; uploaded files
are recorded as ``{"filename", "size", "content_type"}`` whether referenced by field name or via
``attach://name``) and/or a query string.  Method names are case-insensitive.

Control API (for processes that cannot call the Python methods, e.g. the standalone server):
``POST {base_url}/_control/{action}`` with a JSON object body of keyword arguments (``GET`` with
a query string works too; values are JSON-decoded when possible).  The answer is
``{"ok": true, "result": ...}``, or ``{"ok": false, "description": ...}`` with status 400 for bad
arguments and 408 for a wait that timed out.  Actions and their arguments:

* ``add_user``            user_id, first_name, last_name?, username?, language_code?
* ``add_group``           chat_id, title, admins?, members?, bot_is_admin?, creator?
* ``block_bot`` / ``unblock_bot``   user_id
* ``send_text``           user_id, text, chat_id?                     -> update_id
* ``press_button``        user_id, message_id, callback_data, chat_id?  -> callback_query id
* ``send_contact``        user_id, phone_number, first_name?          -> update_id
* ``send_location``       user_id, latitude, longitude                -> update_id
* ``send_pre_checkout``   user_id, invoice_payload, total_amount, currency -> query id
* ``send_successful_payment``  user_id, invoice_payload, total_amount, currency,
  telegram_payment_charge_id, provider_payment_charge_id?            -> update_id
* ``inject_raw_update``   update                                      -> update_id
* ``messages``            chat_id                                     -> list of messages
* ``calls``               method?                                     -> list of recorded calls
* ``callback_answers``    callback_query_id;  ``pre_checkout_answers``  pre_checkout_query_id
* ``commands``            scope_type?, language_code?
* ``transcript``          (none);  ``format_transcript``  names? ({"<id>": "Name"}) -> text
* ``add_fault``           kind, method?, times?, retry_after?, delay?, chat_id?
* ``clear_faults``, ``reset``, ``counters``
* ``wait_for_messages``   chat_id, count, timeout?;  ``wait_for_calls``  method, count, timeout?,
  chat_id?;  ``wait_idle``  quiet?, timeout?
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import html
import itertools
import json
import logging
import math
import re
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import aiohttp
from aiohttp import web

__all__ = [
    "ApiError",
    "FakeBotApi",
    "FakeLimits",
    "FaultKind",
    "RecordedCall",
    "format_transcript",
]

log = logging.getLogger(__name__)

FaultKind = Literal["429", "500", "slow", "drop_response", "duplicate_update"]
Json = dict[str, Any]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64

LIMITED_METHODS = frozenset(
    {
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "editMessageCaption",
        "sendPhoto",
        "sendDocument",
        "sendInvoice",
    }
)
# Methods that may not touch a chat whose user blocked the bot.
_BLOCKABLE_METHODS = LIMITED_METHODS
# Accepted and answered with ``true`` without any other effect.
_HARMLESS_METHODS = (
    "sendChatAction",
    "setChatMenuButton",
    "setMyDescription",
    "setMyShortDescription",
    "setMyName",
    "setMyDefaultAdministratorRights",
)
# Parameters that are plain strings even when they look like JSON.
_STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "title",
        "description",
        "payload",
        "invoice_payload",
        "provider_data",
        "provider_token",
        "error_message",
        "start_parameter",
        "url",
        "secret_token",
        "callback_query_id",
        "pre_checkout_query_id",
        "inline_message_id",
        "parse_mode",
        "currency",
        "language_code",
        "photo",
        "document",
        "name",
        "short_description",
        "action",
    }
)
_HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
    }
)
_MDV2_RESERVED = "_*[]()~`>#+-=|{}.!"
_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,64})?(?![A-Za-z0-9_@])")
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)([^<>]*)>")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_COMMAND_NAME_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
_SEND_KINDS = frozenset({"send", "photo", "document", "invoice"})


# --------------------------------------------------------------------------- data types


@dataclass
class FakeLimits:
    """Flood-control settings mimicking Telegram's documented limits."""

    per_chat_per_second: float = 1.0
    per_chat_burst: int = 3
    group_per_minute: int = 20
    global_per_second: int = 30


@dataclass
class RecordedCall:
    """One Bot API request as received (``status`` 0 = not finished yet or response dropped)."""

    method: str
    params: dict[str, Any]
    chat_id: int | None
    time: float
    status: int = 0
    result: Any = None
    error: str | None = None
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    done: bool = False

    @property
    def ok(self) -> bool:
        """Whether the call was answered with HTTP 200."""
        return self.status == 200


class ApiError(Exception):
    """A Bot API error answer (``{"ok": false, ...}``)."""

    def __init__(
        self, code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> Json:
        """Return the Telegram-shaped JSON error body."""
        body: Json = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def _too_many(retry_after: int) -> ApiError:
    return ApiError(
        429,
        f"Too Many Requests: retry after {retry_after}",
        {"retry_after": retry_after},
    )


@dataclass
class _Fault:
    kind: str
    method: str | None
    times: int
    retry_after: int
    delay: float
    chat_id: int | None

    def matches(self, method: str, chat_id: int | None) -> bool:
        if self.method is not None and self.method.lower() != method.lower():
            return False
        return self.chat_id is None or self.chat_id == chat_id


@dataclass
class _Pending:
    update: Json
    delivered: bool = False


@dataclass
class _Group:
    chat: Json
    admins: list[int]
    members: list[int]
    bot_is_admin: bool
    creator: int | None


@dataclass
class _Query:
    user_id: int
    chat_id: int | None
    answers: list[Json] = field(default_factory=list)


@dataclass
class _Markup:
    inline: list[list[Json]] | None = None
    reply: list[list[Json]] | None = None
    remove: bool = False
    force_reply: bool = False

    def message_markup(self) -> Json | None:
        return {"inline_keyboard": self.inline} if self.inline else None


_DEFAULT_LIMITS = FakeLimits()


class _RateLimiter:
    """Token bucket per chat, sliding minute window per group, sliding second window overall."""

    def __init__(self, limits: FakeLimits) -> None:
        self.limits = limits
        self.buckets: dict[int, tuple[float, float]] = {}
        self.groups: dict[int, deque[float]] = {}
        self.overall: deque[float] = deque()

    def _tokens(self, chat_id: int, now: float) -> float:
        burst = float(self.limits.per_chat_burst)
        tokens, last = self.buckets.get(chat_id, (burst, now))
        return min(burst, tokens + max(0.0, now - last) * self.limits.per_chat_per_second)

    @staticmethod
    def _prune(window: deque[float], now: float, span: float) -> None:
        while window and window[0] <= now - span:
            window.popleft()

    def wait_needed(self, chat_id: int | None, now: float) -> float:
        """Seconds until a call to ``chat_id`` would be allowed (0 when allowed now)."""
        wait = 0.0
        self._prune(self.overall, now, 1.0)
        if len(self.overall) >= self.limits.global_per_second:
            wait = self.overall[0] + 1.0 - now if self.overall else 1.0
        if chat_id is None:
            return wait
        tokens = self._tokens(chat_id, now)
        if tokens < 1.0:
            rate = self.limits.per_chat_per_second
            wait = max(wait, (1.0 - tokens) / rate if rate > 0 else 60.0)
        if chat_id < 0:
            window = self.groups.setdefault(chat_id, deque())
            self._prune(window, now, 60.0)
            if len(window) >= self.limits.group_per_minute:
                wait = max(wait, (window[0] + 60.0 - now) if window else 60.0)
        return wait

    def consume(self, chat_id: int | None, now: float) -> None:
        """Account one successful call."""
        self.overall.append(now)
        if chat_id is None:
            return
        self.buckets[chat_id] = (self._tokens(chat_id, now) - 1.0, now)
        if chat_id < 0:
            self.groups.setdefault(chat_id, deque()).append(now)


class _Params:
    """Typed access to decoded request parameters; malformed values raise a 400 ApiError."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def has(self, name: str) -> bool:
        return self.data.get(name) is not None

    def raw(self, name: str) -> Any:
        return self.data.get(name)

    def str_(self, name: str, default: str | None = None) -> str | None:
        value = self.data.get(name)
        if value is None:
            return default
        if isinstance(value, (dict, list)):
            return json.dumps(value, ensure_ascii=False)
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def req_str(self, name: str) -> str:
        value = self.str_(name)
        if value is None:
            raise _bad(f'parameter "{name}" is required')
        return value

    def int_(self, name: str, default: int | None = None) -> int | None:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            raise _bad(f'parameter "{name}" must be an integer')
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value).strip())
        except ValueError:
            raise _bad(f'parameter "{name}" must be an integer') from None

    def req_int(self, name: str) -> int:
        value = self.int_(name)
        if value is None:
            raise _bad(f'parameter "{name}" is required')
        return value

    def float_(self, name: str, default: float | None = None) -> float | None:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _bad(f'parameter "{name}" must be a number') from None

    def bool_(self, name: str, default: bool = False) -> bool:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            return value != 0
        text = str(value).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
        raise _bad(f'parameter "{name}" must be a boolean')

    def obj(self, name: str) -> Any:
        """A structured (JSON) parameter; a string that is not valid JSON is a 400."""
        value = self.data.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise _bad(f"can't parse {name} JSON object") from None
        return value

    def chat_id(self, name: str = "chat_id") -> int:
        value = self.data.get(name)
        if value is None or value == "":
            raise _bad(f'parameter "{name}" is required')
        parsed = _as_int(value)
        if parsed is None:
            raise _bad("chat not found")
        return parsed


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value.strip())
    return None


# --------------------------------------------------------------------------- text rendering


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _render_html(text: str) -> str:
    stack: list[str] = []
    for match in _TAG_RE.finditer(text):
        closing, name = match.group(1) == "/", match.group(2).lower()
        if name not in _HTML_TAGS:
            kind = "end" if closing else "start"
            raise _bad(
                f'can\'t parse entities: Unsupported {kind} tag "{name}" at byte offset '
                f"{_byte_offset(text, match.start())}"
            )
        if not closing:
            stack.append(name)
            continue
        if not stack or stack[-1] != name:
            expected = f'"</{stack[-1]}>"' if stack else "no end tag"
            raise _bad(
                f"can't parse entities: Unmatched end tag at byte offset "
                f'{_byte_offset(text, match.start())}, expected {expected}, found "</{name}>"'
            )
        stack.pop()
    if stack:
        raise _bad(
            f"can't parse entities: Can't find end tag corresponding to start tag \"{stack[-1]}\""
        )
    return html.unescape(_TAG_RE.sub("", text))


def _render_markdown_v2(text: str) -> str:
    out: list[str] = []
    i, n = 0, len(text)
    in_code = False
    open_links = 0
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n:
            out.append(text[i + 1])
            i += 2
            continue
        if in_code:
            if text.startswith("```", i):
                in_code, i = False, i + 3
            elif ch == "`":
                in_code, i = False, i + 1
            else:
                out.append(ch)
                i += 1
            continue
        if text.startswith("```", i):
            end_of_lang = text.find("\n", i + 3)
            in_code = True
            i = n if end_of_lang == -1 else end_of_lang + 1
            continue
        if ch == "`":
            in_code, i = True, i + 1
            continue
        if ch in "*_~|":
            i += 1
            continue
        if ch == "[":
            open_links += 1
            i += 1
            continue
        if ch == "]" and open_links:
            open_links -= 1
            if text.startswith("(", i + 1):
                close = text.find(")", i + 2)
                if close == -1:
                    raise _bad("can't parse entities: Can't find end of a URL")
                i = close + 1
            else:
                i += 1
            continue
        if ch == ">" and (i == 0 or text[i - 1] == "\n"):
            i += 1
            continue
        if ch in _MDV2_RESERVED:
            raise _bad(
                f"can't parse entities: Character '{ch}' is reserved and must be escaped with "
                "the preceding '\\'"
            )
        out.append(ch)
        i += 1
    return "".join(out)


def _render_markdown(text: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[*_`]", "", text)


def _render(text: str, parse_mode: str | None) -> str:
    """Text as a Telegram client would display it (entities stripped)."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        return _render_html(text)
    if mode == "markdownv2":
        return _render_markdown_v2(text)
    if mode == "markdown":
        return _render_markdown(text)
    if mode:
        raise _bad(f"unsupported parse_mode {parse_mode!r}")
    return text


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# --------------------------------------------------------------------------- request parsing


def _file_info(filename: str | None, data: bytes, content_type: str | None) -> Json:
    # "_data" is taken off by the server (kept in `uploads`) before anything is recorded.
    return {
        "filename": filename or "",
        "size": len(data),
        "content_type": content_type,
        "sha256": hashlib.sha256(data).hexdigest(),
        "_data": data,
    }


def _maybe_json(name: str, value: str) -> Any:
    if name in _STRING_FIELDS:
        return value
    stripped = value.strip()
    if stripped[:1] in ("{", "["):
        with contextlib.suppress(ValueError):
            return json.loads(stripped)
    return value


def _resolve_attachments(value: Any, files: dict[str, Json], used: set[str]) -> Any:
    if isinstance(value, str) and value.startswith("attach://"):
        key = value[len("attach://") :]
        if key in files:
            used.add(key)
            return {k: v for k, v in files[key].items() if k != "_data"}
        return value
    if isinstance(value, dict):
        return {k: _resolve_attachments(v, files, used) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_attachments(v, files, used) for v in value]
    return value


async def _read_multipart(
    reader: aiohttp.MultipartReader,
) -> tuple[dict[str, str], dict[str, Json]]:
    fields: dict[str, str] = {}
    files: dict[str, Json] = {}
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, aiohttp.BodyPartReader):
            continue
        name = part.name or ""
        data = await part.read(decode=False)
        if part.filename is not None:
            content_type = part.headers.get("Content-Type")
            files[name] = _file_info(part.filename, data, content_type)
        else:
            fields[name] = data.decode(part.get_charset("utf-8"), errors="replace")
    return fields, files


def _assemble_params(
    query: Iterable[tuple[str, str]], body: dict[str, Any], files: dict[str, Json]
) -> tuple[dict[str, Any], dict[str, Json]]:
    params: dict[str, Any] = {}
    for key, value in query:
        params[key] = _maybe_json(key, value)
    for key, value in body.items():
        params[key] = _maybe_json(key, value) if isinstance(value, str) else value
    used: set[str] = set()
    params = {k: _resolve_attachments(v, files, used) for k, v in params.items()}
    for key, info in files.items():
        if key not in used and key not in params:
            params[key] = {k: v for k, v in info.items() if k != "_data"}
    return params, files


async def _read_request(request: web.Request) -> tuple[dict[str, Any], dict[str, Json]]:
    body: dict[str, Any] = {}
    files: dict[str, Json] = {}
    content_type = request.content_type
    if request.can_read_body:
        if content_type == "application/json":
            raw = await request.read()
            if raw.strip():
                decoded = json.loads(raw)
                if not isinstance(decoded, dict):
                    raise ValueError("JSON body must be an object")
                body = decoded
        elif content_type.startswith("multipart/"):
            fields, files = await _read_multipart(await request.multipart())
            body = dict(fields)
        elif content_type == "application/x-www-form-urlencoded":
            form = await request.post()
            body = {k: v for k, v in form.items() if isinstance(v, str)}
        else:
            raw = await request.read()
            if raw.strip().startswith(b"{"):
                decoded = json.loads(raw)
                if isinstance(decoded, dict):
                    body = decoded
    return _assemble_params(request.query.items(), body, files)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _public(message: Json) -> Json:
    """A stored message without bookkeeping keys, as the Bot API would return it."""
    return {k: copy.deepcopy(v) for k, v in message.items() if k != "kind"}


# --------------------------------------------------------------------------- the server


class FakeBotApi:
    """In-process fake of the Telegram Bot API served over real HTTP on loopback."""

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",  # noqa: S107 - a fake, public test token
        *,
        bot_id: int = 123456,
        bot_username: str = "o2o_demo_bot",
        bot_first_name: str = "O2O Demo Bot",
        limits: FakeLimits | None = _DEFAULT_LIMITS,
        clock: Callable[[], float] = time.monotonic,
        first_update_id: int = 1,
    ) -> None:
        self.token = token
        self.bot_user: Json = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.limits = copy.copy(limits) if limits is not None else None
        self._clock = clock
        self.base_url = ""
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self._closing = False
        self._changed = asyncio.Event()
        self._inflight = 0
        self._last_activity = 0.0

        self._users: dict[int, Json] = {}
        self._groups: dict[int, _Group] = {}
        self._blocked: set[int] = set()
        self._next_message_id: dict[int, int] = {}
        # A restarted bot keeps its inbox; a fake standing in for the same Telegram bot after
        # a restart must continue the update ids, not reuse them.
        self._update_ids = itertools.count(first_update_id)
        self._last_update_id = 0
        self._query_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        # Uploaded files by SHA-256, so tests and the sandbox can read what the bot sent.
        self.uploads: dict[str, bytes] = {}
        self._poll_generation = 0

        self._webhook_url: str | None = None
        self._webhook_secret: str | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_generation = 0
        self._webhook_last_error: tuple[int, str] | None = None

        self._commands: dict[tuple[str, str], list[Json]] = {}
        self._methods: dict[str, tuple[str, Callable[[_Params], Awaitable[Any]]]] = {}
        self._register_methods()
        self._init_volatile_state()

    def _init_volatile_state(self) -> None:
        self._bot_messages: dict[int, dict[int, Json]] = {}
        self._user_messages: dict[int, dict[int, Json]] = {}
        self._reply_keyboards: dict[int, list[list[Json]]] = {}
        self._sent_count: Counter[int] = Counter()
        self._calls: list[RecordedCall] = []
        self._updates: list[_Pending] = []
        self._faults: list[_Fault] = []
        self._duplicate_next = 0
        self._callback_queries: dict[str, _Query] = {}
        self._pre_checkout_queries: dict[str, _Query] = {}
        self._transcript: list[Json] = []
        self.counters: Counter[str] = Counter()
        self._limiter = _RateLimiter(self.limits) if self.limits is not None else None

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Bind the HTTP server and set ``base_url`` / ``port``."""
        if self._runner is not None:
            raise RuntimeError("FakeBotApi is already started")
        self._closing = False
        self._changed = asyncio.Event()  # bind waiters to the loop serving this run
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("*", "/_control/{action}", self._handle_control)
        runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=1.0, handler_cancellation=True
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        address = runner.addresses[0]
        self.port = int(address[1])
        shown_host = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{shown_host}:{self.port}"
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        self._last_activity = asyncio.get_running_loop().time()
        if self._webhook_url is not None:
            self._start_webhook_task()

    async def stop(self) -> None:
        """Stop serving: wake long polls, stop webhook delivery and close the listener."""
        self._closing = True
        self._notify()
        task, self._webhook_task = self._webhook_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def __aenter__(self) -> FakeBotApi:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def reset(self) -> None:
        """Forget messages, calls, updates, faults, counters and transcript (keep users/groups)."""
        self._init_volatile_state()
        self._notify()

    # ------------------------------------------------------------------ notification helpers

    def _notify(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def _wait_until(self, predicate: Callable[[], bool], limit: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while True:
            event = self._changed
            if predicate():
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    # ------------------------------------------------------------------ users, chats

    def add_user(
        self,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> Json:
        """Register a user (and their private chat, whose id equals ``user_id``)."""
        if user_id <= 0:
            raise ValueError("user ids must be positive")
        user: Json = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self._users[user_id] = user
        return dict(user)

    def add_group(
        self,
        chat_id: int,
        title: str,
        *,
        admins: list[int] | None = None,
        members: list[int] | None = None,
        bot_is_admin: bool = True,
        creator: int | None = None,
    ) -> Json:
        """Register a supergroup (``chat_id`` must be negative)."""
        if chat_id >= 0:
            raise ValueError("group chat ids must be negative")
        chat: Json = {"id": chat_id, "type": "supergroup", "title": title}
        self._groups[chat_id] = _Group(
            chat=chat,
            admins=list(admins or []),
            members=list(members or []),
            bot_is_admin=bot_is_admin,
            creator=creator,
        )
        return dict(chat)

    def block_bot(self, user_id: int) -> None:
        """Make sends to the user's private chat fail with 403 until unblocked."""
        self._blocked.add(user_id)

    def unblock_bot(self, user_id: int) -> None:
        """Undo ``block_bot``."""
        self._blocked.discard(user_id)

    def _user(self, user_id: int) -> Json:
        try:
            return dict(self._users[user_id])
        except KeyError:
            raise KeyError(f"unknown user {user_id}; call add_user() first") from None

    def _private_chat(self, user_id: int) -> Json:
        user = self._users[user_id]
        chat: Json = {"id": user_id, "type": "private", "first_name": user["first_name"]}
        for key in ("last_name", "username"):
            if key in user:
                chat[key] = user[key]
        return chat

    def _chat(self, chat_id: int) -> Json | None:
        if chat_id in self._users:
            return self._private_chat(chat_id)
        group = self._groups.get(chat_id)
        return dict(group.chat) if group is not None else None

    def _require_chat(self, chat_id: int) -> Json:
        chat = self._chat(chat_id)
        if chat is None:
            raise _bad("chat not found")
        return chat

    def _chat_title(self, chat_id: int | None) -> str:
        if chat_id is None:
            return "?"
        if chat_id in self._users:
            return str(self._users[chat_id]["first_name"])
        if chat_id in self._groups:
            return str(self._groups[chat_id].chat["title"])
        return f"chat {chat_id}"

    def _action_chat(self, user_id: int, chat_id: int | None) -> tuple[Json, Json]:
        user = self._user(user_id)
        if chat_id is None or chat_id == user_id:
            return user, self._private_chat(user_id)
        chat = self._chat(chat_id)
        if chat is None:
            raise KeyError(f"unknown chat {chat_id}; call add_group() first")
        return user, chat

    def _new_message_id(self, chat_id: int) -> int:
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        return message_id

    # ------------------------------------------------------------------ injected user actions

    def _enqueue(self, update: Json) -> int:
        update = copy.deepcopy(update)
        update_id = _as_int(update.get("update_id"))
        if update_id is None:
            update_id = next(self._update_ids)
            while update_id <= self._last_update_id:
                update_id = next(self._update_ids)
            update["update_id"] = update_id
        self._last_update_id = max(self._last_update_id, update_id)
        copies = 1
        if self._duplicate_next > 0:
            self._duplicate_next -= 1
            self.counters["faults_injected"] += 1
            copies = 2
        for _ in range(copies):
            self._updates.append(_Pending(copy.deepcopy(update)))
        self._notify()
        return update_id

    def _user_message(self, user_id: int, chat_id: int | None, **content: Any) -> Json:
        user, chat = self._action_chat(user_id, chat_id)
        message: Json = {
            "message_id": self._new_message_id(chat["id"]),
            "from": user,
            "chat": chat,
            "date": int(time.time()),
        }
        message.update(content)
        self._user_messages.setdefault(chat["id"], {})[message["message_id"]] = message
        return message

    def _log_in(self, kind: str, user: Json, chat_id: int | None, **extra: Any) -> None:
        event: Json = {
            "dir": "in",
            "chat_id": chat_id,
            "chat_title": self._chat_title(chat_id),
            "user": dict(user),
            "kind": kind,
        }
        event.update(extra)
        self._transcript.append(event)

    def send_text(self, user_id: int, text: str, *, chat_id: int | None = None) -> int:
        """Inject a text message from the user (private chat unless ``chat_id``); -> update_id."""
        content: Json = {"text": text}
        match = _COMMAND_RE.match(text)
        if match:
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_len(match.group(0))}
            ]
        message = self._user_message(user_id, chat_id, **content)
        self._log_in("text", message["from"], message["chat"]["id"], text=text)
        return self._enqueue({"message": message})

    def press_button(
        self, user_id: int, message_id: int, callback_data: str, *, chat_id: int | None = None
    ) -> str:
        """Inject a callback_query for a bot message; -> query id.

        A message that does not exist (forged or deleted) is sent as an inaccessible message
        (``date`` 0), which aiogram parses as ``InaccessibleMessage``.
        """
        user, chat = self._action_chat(user_id, chat_id)
        target = chat["id"]
        stored = self._bot_messages.get(target, {}).get(message_id)
        if stored is not None:
            message = _public(stored)
        else:
            message = {"message_id": message_id, "chat": chat, "date": 0}
        query_id = str(4_000_000_000 + next(self._query_ids))
        self._callback_queries[query_id] = _Query(user_id=user_id, chat_id=target)
        label = _label_for_data(stored, callback_data) if stored is not None else None
        self._log_in("press", user, target, data=callback_data, label=label)
        self._enqueue(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user,
                    "chat_instance": str(target),
                    "message": message,
                    "data": callback_data,
                }
            }
        )
        return query_id

    def send_contact(
        self, user_id: int, phone_number: str, *, first_name: str | None = None
    ) -> int:
        """Inject a shared contact (the user's own) in their private chat; -> update_id."""
        user = self._user(user_id)
        contact: Json = {
            "phone_number": phone_number,
            "first_name": first_name or user["first_name"],
            "user_id": user_id,
        }
        if "last_name" in user and first_name is None:
            contact["last_name"] = user["last_name"]
        message = self._user_message(user_id, None, contact=contact)
        self._log_in("contact", user, user_id, phone_number=phone_number)
        return self._enqueue({"message": message})

    def send_location(self, user_id: int, latitude: float, longitude: float) -> int:
        """Inject a shared location in the user's private chat; -> update_id."""
        user = self._user(user_id)
        location = {"latitude": float(latitude), "longitude": float(longitude)}
        message = self._user_message(user_id, None, location=location)
        self._log_in("location", user, user_id, latitude=latitude, longitude=longitude)
        return self._enqueue({"message": message})

    def send_pre_checkout(
        self, user_id: int, invoice_payload: str, total_amount: int, currency: str
    ) -> str:
        """Inject a pre_checkout_query; -> its id."""
        user = self._user(user_id)
        query_id = str(5_000_000_000 + next(self._query_ids))
        self._pre_checkout_queries[query_id] = _Query(user_id=user_id, chat_id=user_id)
        self._log_in(
            "payment",
            user,
            user_id,
            stage="pre_checkout",
            payload=invoice_payload,
            total_amount=total_amount,
            currency=currency,
        )
        self._enqueue(
            {
                "pre_checkout_query": {
                    "id": query_id,
                    "from": user,
                    "currency": currency,
                    "total_amount": total_amount,
                    "invoice_payload": invoice_payload,
                }
            }
        )
        return query_id

    def send_successful_payment(
        self,
        user_id: int,
        invoice_payload: str,
        total_amount: int,
        currency: str,
        telegram_payment_charge_id: str,
        provider_payment_charge_id: str = "prov-1",
    ) -> int:
        """Inject a successful_payment service message; -> update_id."""
        payment = {
            "currency": currency,
            "total_amount": total_amount,
            "invoice_payload": invoice_payload,
            "telegram_payment_charge_id": telegram_payment_charge_id,
            "provider_payment_charge_id": provider_payment_charge_id,
        }
        message = self._user_message(user_id, None, successful_payment=payment)
        self._log_in(
            "payment",
            message["from"],
            user_id,
            stage="successful",
            payload=invoice_payload,
            total_amount=total_amount,
            currency=currency,
        )
        return self._enqueue({"message": message})

    def inject_raw_update(self, update: dict[str, Any]) -> int:
        """Queue an arbitrary update dict verbatim (``update_id`` assigned if missing)."""
        body = {k: v for k, v in update.items() if k != "update_id"}
        for value in body.values():
            if not isinstance(value, dict):
                continue
            sender = value.get("from")
            user_id = _as_int(sender.get("id")) if isinstance(sender, dict) else None
            if "chat_instance" in value or ("data" in value and "id" in value):
                chat_id = _nested_chat_id(value.get("message"))
                self._callback_queries.setdefault(
                    str(value.get("id")), _Query(user_id=user_id or 0, chat_id=chat_id)
                )
            if "invoice_payload" in value and "id" in value:
                self._pre_checkout_queries.setdefault(
                    str(value.get("id")), _Query(user_id=user_id or 0, chat_id=user_id)
                )
        kinds = sorted(body)
        chat_id = next((c for v in body.values() if (c := _nested_chat_id(v)) is not None), None)
        self._transcript.append(
            {
                "dir": "in",
                "chat_id": chat_id,
                "chat_title": self._chat_title(chat_id) if chat_id is not None else "?",
                "user": None,
                "kind": "raw",
                "update_type": ",".join(kinds),
            }
        )
        return self._enqueue(update)

    # ------------------------------------------------------------------ inspection

    def messages(self, chat_id: int) -> list[Json]:
        """The bot's messages in a chat as they currently are (with a ``kind`` key)."""
        stored = self._bot_messages.get(chat_id, {})
        return [copy.deepcopy(stored[mid]) for mid in sorted(stored)]

    def reply_keyboard(self, chat_id: int) -> list[list[Json]] | None:
        """The reply keyboard currently shown in a chat, if any."""
        rows = self._reply_keyboards.get(chat_id)
        return copy.deepcopy(rows) if rows is not None else None

    def calls(self, method: str | None = None) -> list[RecordedCall]:
        """Every Bot API call received, in arrival order (optionally one method only)."""
        if method is None:
            return list(self._calls)
        wanted = method.lower()
        return [c for c in self._calls if c.method.lower() == wanted]

    def callback_answers(self, callback_query_id: str) -> list[Json]:
        """Successful answerCallbackQuery payloads for a query id."""
        query = self._callback_queries.get(str(callback_query_id))
        return copy.deepcopy(query.answers) if query else []

    def pre_checkout_answers(self, pre_checkout_query_id: str) -> list[Json]:
        """Successful answerPreCheckoutQuery payloads for a query id."""
        query = self._pre_checkout_queries.get(str(pre_checkout_query_id))
        return copy.deepcopy(query.answers) if query else []

    def commands(
        self, scope_type: str | None = None, language_code: str | None = None
    ) -> list[Json]:
        """Commands set by setMyCommands for a scope type (default "default") and language."""
        wanted_scope = scope_type or "default"
        wanted_lang = language_code or ""
        for (scope_key, lang), commands in self._commands.items():
            if json.loads(scope_key).get("type") == wanted_scope and lang == wanted_lang:
                return copy.deepcopy(commands)
        return []

    def transcript(self) -> list[Json]:
        """Chronological user actions ("in") and bot effects ("out")."""
        return copy.deepcopy(self._transcript)

    def pending_updates(self) -> list[Json]:
        """Updates not yet confirmed by getUpdates offset / webhook delivery."""
        return [copy.deepcopy(p.update) for p in self._updates]

    # ------------------------------------------------------------------ waiting

    async def wait_for_messages(
        self,
        chat_id: int,
        count: int,
        timeout: float = 5.0,
    ) -> list[Json]:
        """Wait until at least ``count`` bot messages were sent to the chat; return messages()."""
        if await self._wait_until(lambda: self._sent_count[chat_id] >= count, timeout):
            return self.messages(chat_id)
        sent = [e for e in self._transcript if e.get("chat_id") == chat_id]
        failures = [
            f"  {c.method} -> {c.status} {c.error}"
            for c in self._calls
            if c.chat_id == chat_id and c.done and c.status != 200
        ]
        text = format_transcript(sent) or "  (nothing)"
        message = (
            f"expected {count} bot message(s) in chat {chat_id} within {timeout}s, "
            f"got {self._sent_count[chat_id]}. Conversation so far:\n{text}"
        )
        if failures:
            message += "\nFailed Bot API calls for this chat:\n" + "\n".join(failures)
        raise TimeoutError(message)

    async def wait_for_calls(
        self,
        method: str,
        count: int,
        timeout: float = 5.0,
        chat_id: int | None = None,
    ) -> list[RecordedCall]:
        """Wait until ``count`` finished calls of ``method`` (optionally to a chat) arrived."""
        wanted = method.lower()

        def matching() -> list[RecordedCall]:
            return [
                c
                for c in self._calls
                if c.done
                and c.method.lower() == wanted
                and (chat_id is None or c.chat_id == chat_id)
            ]

        if await self._wait_until(lambda: len(matching()) >= count, timeout):
            return matching()
        seen = Counter(c.method for c in self._calls)
        raise TimeoutError(
            f"expected {count} {method} call(s)"
            + (f" to chat {chat_id}" if chat_id is not None else "")
            + f" within {timeout}s, got {len(matching())}; calls so far: {dict(seen)}"
        )

    async def wait_idle(
        self,
        quiet: float = 0.2,
        timeout: float = 5.0,
    ) -> None:
        """Return once no Bot API call (other than getUpdates) arrived for ``quiet`` seconds.

        Also requires that no such call is in progress and every queued update has been
        handed to the bot at least once.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            now = loop.time()
            busy = self._inflight > 0 or any(not p.delivered for p in self._updates)
            if not busy and now - self._last_activity >= quiet:
                return
            if now >= deadline:
                raise TimeoutError(
                    f"fake Bot API not idle for {quiet}s within {timeout}s "
                    f"(in-flight calls: {self._inflight}, undelivered updates: "
                    f"{sum(1 for p in self._updates if not p.delivered)})"
                )
            if busy:
                event = self._changed
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), min(quiet, deadline - now))
            else:
                await asyncio.sleep(min(self._last_activity + quiet - now, deadline - now))

    # ------------------------------------------------------------------ faults

    def add_fault(
        self,
        *,
        method: str | None = None,
        kind: FaultKind,
        times: int = 1,
        retry_after: int = 1,
        delay: float = 0.0,
        chat_id: int | None = None,
    ) -> None:
        """Make the next ``times`` matching calls fail (or the next injected updates duplicate)."""
        if kind not in ("429", "500", "slow", "drop_response", "duplicate_update"):
            raise ValueError(f"unknown fault kind {kind!r}")
        if kind == "duplicate_update":
            self._duplicate_next += times
            return
        self._faults.append(_Fault(kind, method, times, retry_after, delay, chat_id))

    def clear_faults(self) -> None:
        """Remove all pending faults."""
        self._faults.clear()
        self._duplicate_next = 0

    def _take_fault(self, method: str, chat_id: int | None) -> _Fault | None:
        for fault in self._faults:
            if fault.times > 0 and fault.matches(method, chat_id):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                self.counters["faults_injected"] += 1
                return fault
        return None

    # ------------------------------------------------------------------ HTTP plumbing

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            self.counters["unauthorized"] += 1
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        method = request.match_info["method"]
        try:
            params, files = await _read_request(request)
        except Exception as exc:
            body = _bad(f"can't parse request: {exc}").body()
            return web.json_response(body, status=400)
        for info in files.values():
            data = info.pop("_data", None)
            if isinstance(data, bytes | bytearray):
                self.uploads[str(info["sha256"])] = bytes(data)
        outcome = await self._dispatch(method, params, files)
        if outcome is None:
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)
        status, body = outcome
        return web.json_response(body, status=status, dumps=_dumps)

    async def _dispatch(
        self, method: str, params: dict[str, Any], files: dict[str, Json]
    ) -> tuple[int, Json] | None:
        """Process one Bot API call; ``None`` means "drop the response"."""
        entry = self._methods.get(method.lower())
        canonical = entry[0] if entry else method
        chat_id = _as_int(params.get("chat_id"))
        call = RecordedCall(
            method=canonical, params=params, chat_id=chat_id, time=self._clock(), files=files
        )
        self._calls.append(call)
        self.counters[canonical] += 1
        tracked = canonical != "getUpdates"
        loop = asyncio.get_running_loop()
        if tracked:
            self._inflight += 1
            self._last_activity = loop.time()
        call.error = "cancelled"  # overwritten unless the handler is cancelled
        try:
            outcome: tuple[int, Json] | None
            try:
                outcome = await self._process(entry, canonical, chat_id, params)
            except ApiError as err:
                outcome = (err.code, err.body())
            except Exception as exc:
                log.exception("fake Bot API failed to handle %s", canonical)
                outcome = (400, _bad(f"{type(exc).__name__}: {exc}").body())
            if outcome is None:
                call.error = "response dropped"
                return None
            status, body = outcome
            call.status = status
            if body.get("ok"):
                call.error = None
                call.result = copy.deepcopy(body.get("result"))
            else:
                call.error = str(body.get("description"))
            return outcome
        finally:
            call.done = True
            if tracked:
                self._inflight -= 1
                self._last_activity = loop.time()
            self._notify()

    async def _process(
        self,
        entry: tuple[str, Callable[[_Params], Awaitable[Any]]] | None,
        method: str,
        chat_id: int | None,
        params: dict[str, Any],
    ) -> tuple[int, Json] | None:
        if entry is None:
            return 404, ApiError(404, "Not Found").body()
        fault = self._take_fault(method, chat_id)
        if fault is not None:
            if fault.kind == "429":
                return 429, _too_many(max(1, fault.retry_after)).body()
            if fault.kind == "500":
                return 500, ApiError(500, "Internal Server Error").body()
            if fault.kind == "drop_response":
                return None
            await asyncio.sleep(fault.delay)
        limiter = self._limiter if method in LIMITED_METHODS else None
        now = self._clock()
        if limiter is not None:
            wait = limiter.wait_needed(chat_id, now)
            if wait > 0:
                self.counters["rate_limited"] += 1
                return 429, _too_many(max(1, math.ceil(wait - 1e-9))).body()
        result = await entry[1](_Params(params))
        if limiter is not None:
            limiter.consume(chat_id, now)
        return 200, {"ok": True, "result": result}

    # ------------------------------------------------------------------ control over HTTP

    def _control_actions(self) -> dict[str, Callable[..., Any]]:
        return {
            "add_user": self.add_user,
            "add_group": self.add_group,
            "block_bot": self.block_bot,
            "unblock_bot": self.unblock_bot,
            "send_text": self.send_text,
            "press_button": self.press_button,
            "send_contact": self.send_contact,
            "send_location": self.send_location,
            "send_pre_checkout": self.send_pre_checkout,
            "send_successful_payment": self.send_successful_payment,
            "inject_raw_update": self.inject_raw_update,
            "messages": self.messages,
            "reply_keyboard": self.reply_keyboard,
            "calls": lambda method=None: [asdict(c) for c in self.calls(method)],
            "callback_answers": self.callback_answers,
            "pre_checkout_answers": self.pre_checkout_answers,
            "commands": self.commands,
            "transcript": self.transcript,
            "format_transcript": lambda names=None: format_transcript(
                self._transcript, {int(k): str(v) for k, v in (names or {}).items()}
            ),
            "pending_updates": self.pending_updates,
            "add_fault": self.add_fault,
            "clear_faults": self.clear_faults,
            "reset": self.reset,
            "counters": lambda: dict(self.counters),
            "wait_for_messages": self.wait_for_messages,
            "wait_for_calls": lambda **kw: _await_map(
                self.wait_for_calls(**kw), lambda calls: [asdict(c) for c in calls]
            ),
            "wait_idle": self.wait_idle,
        }

    async def _handle_control(self, request: web.Request) -> web.StreamResponse:
        action = self._control_actions().get(request.match_info["action"])
        if action is None:
            return web.json_response({"ok": False, "description": "unknown action"}, status=404)
        try:
            kwargs: dict[str, Any] = {}
            for key, value in request.query.items():
                try:
                    kwargs[key] = json.loads(value)
                except ValueError:
                    kwargs[key] = value
            if request.can_read_body:
                raw = await request.read()
                if raw.strip():
                    body = json.loads(raw)
                    if not isinstance(body, dict):
                        raise ValueError("body must be a JSON object")
                    kwargs.update(body)
            result = action(**kwargs)
            if asyncio.iscoroutine(result):
                result = await result
        except TimeoutError as exc:
            return web.json_response({"ok": False, "description": str(exc)}, status=408)
        except Exception as exc:
            return web.json_response(
                {"ok": False, "description": f"{type(exc).__name__}: {exc}"}, status=400
            )
        return web.json_response({"ok": True, "result": _jsonable(result)}, dumps=_dumps)

    # ------------------------------------------------------------------ webhook delivery

    def _start_webhook_task(self) -> None:
        if self._runner is None:
            return  # started later by start()
        self._stop_webhook_task()
        self._webhook_task = asyncio.get_running_loop().create_task(
            self._webhook_loop(
                self._webhook_generation, self._webhook_url or "", self._webhook_secret
            )
        )

    def _stop_webhook_task(self) -> None:
        self._webhook_generation += 1
        task, self._webhook_task = self._webhook_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _webhook_loop(self, generation: int, url: str, secret: str | None) -> None:
        backoff = 0.1
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        while self._webhook_generation == generation and not self._closing:
            event = self._changed
            if not self._updates:
                await event.wait()
                continue
            pending = self._updates[0]
            session = self._http
            if session is None:
                return
            self.counters["webhook_posts"] += 1
            reply: tuple[str, dict[str, Any], dict[str, Json]] | None = None
            error: str | None = None
            try:
                async with session.post(url, json=pending.update, headers=headers) as resp:
                    if 200 <= resp.status < 300:
                        reply = await _read_webhook_reply(resp)
                    else:
                        error = f"Wrong response from the webhook: {resp.status} {resp.reason}"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = f"Connection failed: {type(exc).__name__}: {exc}"
            if self._webhook_generation != generation:
                return
            if error is not None:
                self.counters["webhook_failures"] += 1
                self._webhook_last_error = (int(time.time()), error)
                self._notify()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.1
            pending.delivered = True
            if self._updates and self._updates[0] is pending:
                self._updates.pop(0)
            self.counters["updates_delivered"] += 1
            self._notify()
            if reply is not None:
                method, params, files = reply
                try:
                    await self._dispatch(method, params, files)
                except Exception:
                    log.exception("fake Bot API failed to run the webhook reply %s", method)

    # ------------------------------------------------------------------ Bot API methods

    def _register_methods(self) -> None:
        handlers: dict[str, Callable[[_Params], Awaitable[Any]]] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "editMessageCaption": self._edit_message_caption,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "sendInvoice": self._send_invoice,
            "answerPreCheckoutQuery": self._answer_pre_checkout_query,
            "getChatMember": self._get_chat_member,
            "getChat": self._get_chat,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
        }
        for name in _HARMLESS_METHODS:
            handlers[name] = self._harmless
        self._methods = {name.lower(): (name, fn) for name, fn in handlers.items()}

    async def _harmless(self, p: _Params) -> bool:
        if p.has("chat_id"):
            self._require_chat(p.chat_id())
        return True

    async def _get_me(self, p: _Params) -> Json:
        return dict(self.bot_user)

    async def _get_updates(self, p: _Params) -> list[Json]:
        if self._webhook_url is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = p.int_("offset")
        limit = min(100, max(1, p.int_("limit", 100) or 100))
        timeout = max(0.0, p.float_("timeout", 0.0) or 0.0)
        self._poll_generation += 1
        generation = self._poll_generation
        if offset is not None and offset < 0:
            self._updates = self._updates[offset:]
        elif offset is not None:
            self._updates = [u for u in self._updates if _update_id(u) >= offset]

        def ready() -> bool:
            if generation != self._poll_generation or self._webhook_url is not None:
                return True
            return bool(self._updates) or self._closing

        await self._wait_until(ready, timeout)
        if generation != self._poll_generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one "
                "bot instance is running",
            )
        if self._webhook_url is not None:
            return []
        batch = self._updates[:limit]
        for pending in batch:
            if not pending.delivered:
                pending.delivered = True
                self.counters["updates_delivered"] += 1
        return [copy.deepcopy(pending.update) for pending in batch]

    async def _set_webhook(self, p: _Params) -> bool:
        url = p.str_("url", "") or ""
        secret = p.str_("secret_token")
        if secret is not None and secret != "" and not _SECRET_RE.match(secret):
            raise _bad("secret token contains unallowed characters")
        if p.bool_("drop_pending_updates"):
            self._updates.clear()
        if not url:
            self._webhook_url = None
            self._webhook_secret = None
            self._stop_webhook_task()
            return True
        if not url.startswith(("http://", "https://")):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        self._webhook_url = url
        self._webhook_secret = secret or None
        self._webhook_last_error = None
        self._start_webhook_task()
        self._notify()
        return True

    async def _delete_webhook(self, p: _Params) -> bool:
        if p.bool_("drop_pending_updates"):
            self._updates.clear()
        self._webhook_url = None
        self._webhook_secret = None
        self._stop_webhook_task()
        self._notify()
        return True

    async def _get_webhook_info(self, p: _Params) -> Json:
        info: Json = {
            "url": self._webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._webhook_url:
            info["max_connections"] = 40
            info["ip_address"] = "127.0.0.1"
        if self._webhook_last_error is not None:
            info["last_error_date"], info["last_error_message"] = self._webhook_last_error
        return info

    # ---- sending helpers

    def _check_writable(self, chat_id: int) -> Json:
        chat = self._require_chat(chat_id)
        if chat["type"] == "private" and chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _parse_markup(self, p: _Params, *, inline_only: bool = False) -> _Markup:
        value = p.obj("reply_markup")
        if value is None:
            return _Markup()
        if not isinstance(value, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in value:
            return _Markup(inline=_validate_inline(value["inline_keyboard"]) or None)
        if inline_only:
            raise _bad("inline keyboard expected")
        if "keyboard" in value:
            return _Markup(reply=_validate_reply(value["keyboard"]))
        if value.get("remove_keyboard"):
            return _Markup(remove=True)
        if value.get("force_reply"):
            return _Markup(force_reply=True)
        raise _bad("can't parse reply keyboard markup JSON object")

    def _reply_to(self, p: _Params, chat_id: int) -> Json | None:
        params = p.obj("reply_parameters") if p.has("reply_parameters") else None
        allow = p.bool_("allow_sending_without_reply")
        target: int | None
        if isinstance(params, dict):
            target = _as_int(params.get("message_id"))
            allow = allow or bool(params.get("allow_sending_without_reply"))
            other_chat = _as_int(params.get("chat_id"))
            if other_chat is not None:
                chat_id = other_chat
        else:
            target = p.int_("reply_to_message_id")
        if target is None:
            return None
        found = self._bot_messages.get(chat_id, {}).get(target) or self._user_messages.get(
            chat_id, {}
        ).get(target)
        if found is None:
            if allow:
                return None
            raise _bad("message to be replied not found")
        reply = _public(found)
        reply.pop("reply_to_message", None)
        return reply

    def _store_bot_message(
        self, chat: Json, kind: str, content: Json, markup: _Markup, reply_to: Json | None
    ) -> Json:
        chat_id = int(chat["id"])
        message: Json = {
            "message_id": self._new_message_id(chat_id),
            "from": dict(self.bot_user),
            "chat": chat,
            "date": int(time.time()),
        }
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        message.update(content)
        inline = markup.message_markup()
        if inline is not None:
            message["reply_markup"] = inline
        message["kind"] = kind
        self._bot_messages.setdefault(chat_id, {})[message["message_id"]] = message
        if markup.reply is not None:
            self._reply_keyboards[chat_id] = copy.deepcopy(markup.reply)
        elif markup.remove:
            self._reply_keyboards.pop(chat_id, None)
        self._sent_count[chat_id] += 1
        return message

    def _log_out(self, kind: str, chat_id: int, message: Json | None, **extra: Any) -> None:
        event: Json = {
            "dir": "out",
            "chat_id": chat_id,
            "chat_title": self._chat_title(chat_id),
            "kind": kind,
            "message_id": message["message_id"] if message else None,
        }
        event.update(extra)
        self._transcript.append(event)

    def _log_message(
        self,
        kind: str,
        message: Json,
        markup: _Markup | None,
        text: str | None = None,
        **extra: Any,
    ) -> None:
        if text is None:
            text = message.get("text", message.get("caption", ""))
        keyboard, buttons = _keyboard_summary(message, markup)
        self._log_out(
            kind,
            int(message["chat"]["id"]),
            message,
            text=text,
            buttons=buttons,
            keyboard=keyboard,
            **extra,
        )

    # ---- send*

    async def _send_message(self, p: _Params) -> Json:
        chat_id = p.chat_id()
        text = p.str_("text", "") or ""
        rendered = _render(text, p.str_("parse_mode"))
        if not rendered.strip():
            raise _bad("message text is empty")
        if len(rendered) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        markup = self._parse_markup(p)
        chat = self._check_writable(chat_id)
        reply_to = self._reply_to(p, chat_id)
        message = self._store_bot_message(chat, "text", {"text": rendered}, markup, reply_to)
        self._log_message("send", message, markup)
        return _public(message)

    def _media(self, p: _Params, name: str) -> tuple[Json, str]:
        value = p.raw(name)
        if value is None or value == "":
            raise _bad(f"there is no {name} in the request")
        number = next(self._file_ids)
        if isinstance(value, dict) and "size" in value:
            return value, f"fake-{name}-{number}"
        if isinstance(value, str):
            if value.startswith(("http://", "https://")):
                return {"filename": value.rsplit("/", 1)[-1], "url": value}, f"fake-{name}-{number}"
            if value.startswith("attach://"):
                raise _bad(f"can't find attached file {value[9:]!r}")
            return {"file_id": value}, value
        raise _bad(f"wrong type of the web page content for {name}")

    def _caption(self, p: _Params) -> str | None:
        caption = p.str_("caption")
        if caption is None:
            return None
        rendered = _render(caption, p.str_("parse_mode"))
        if len(rendered) > MAX_CAPTION_LENGTH:
            raise _bad("message caption is too long")
        return rendered

    async def _send_photo(self, p: _Params) -> Json:
        chat_id = p.chat_id()
        info, file_id = self._media(p, "photo")
        caption = self._caption(p)
        markup = self._parse_markup(p)
        chat = self._check_writable(chat_id)
        reply_to = self._reply_to(p, chat_id)
        size: Json = {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}"[:32],
            "width": 800,
            "height": 600,
        }
        if "size" in info:
            size["file_size"] = info["size"]
        content: Json = {"photo": [size]}
        if caption:
            content["caption"] = caption
        message = self._store_bot_message(chat, "photo", content, markup, reply_to)
        self._log_message("photo", message, markup, file=info.get("filename"))
        return _public(message)

    async def _send_document(self, p: _Params) -> Json:
        chat_id = p.chat_id()
        info, file_id = self._media(p, "document")
        caption = self._caption(p)
        markup = self._parse_markup(p)
        chat = self._check_writable(chat_id)
        reply_to = self._reply_to(p, chat_id)
        document: Json = {"file_id": file_id, "file_unique_id": f"u-{file_id}"[:32]}
        if info.get("filename"):
            document["file_name"] = info["filename"]
        if info.get("content_type"):
            document["mime_type"] = info["content_type"]
        if "size" in info:
            document["file_size"] = info["size"]
        content: Json = {"document": document}
        if caption:
            content["caption"] = caption
        message = self._store_bot_message(chat, "document", content, markup, reply_to)
        self._log_message("document", message, markup, file=info.get("filename"))
        return _public(message)

    async def _send_invoice(self, p: _Params) -> Json:
        chat_id = p.chat_id()
        title = p.req_str("title")
        description = p.req_str("description")
        payload = p.req_str("payload")
        currency = p.req_str("currency")
        prices = p.obj("prices")
        if not 1 <= len(title) <= 32:
            raise _bad("INVOICE_TITLE_INVALID" if title else "INVOICE_TITLE_EMPTY")
        if not 1 <= len(description) <= 255:
            raise _bad("INVOICE_DESCRIPTION_INVALID")
        if not 1 <= len(payload.encode("utf-8")) <= 128:
            raise _bad("INVOICE_PAYLOAD_INVALID")
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise _bad("CURRENCY_INVALID")
        if not isinstance(prices, list) or not prices:
            raise _bad("prices must be non-empty")
        total = 0
        for price in prices:
            amount = _as_int(price.get("amount")) if isinstance(price, dict) else None
            if amount is None or not isinstance(price, dict) or not price.get("label"):
                raise _bad("can't parse prices JSON object")
            total += amount
        if currency != "XTR" and total <= 0:
            raise _bad("TOTAL_AMOUNT_INVALID")
        markup = self._parse_markup(p, inline_only=True)
        chat = self._check_writable(chat_id)
        reply_to = self._reply_to(p, chat_id)
        invoice = {
            "title": title,
            "description": description,
            "start_parameter": p.str_("start_parameter", "") or "",
            "currency": currency,
            "total_amount": total,
        }
        message = self._store_bot_message(chat, "invoice", {"invoice": invoice}, markup, reply_to)
        self._log_message(
            "invoice",
            message,
            markup,
            text=title,
            description=description,
            payload=payload,
            total_amount=total,
            currency=currency,
        )
        return _public(message)

    # ---- edits and deletes

    def _editable(self, p: _Params) -> tuple[int, Json]:
        if p.has("inline_message_id") and not p.has("chat_id"):
            raise _bad("MESSAGE_ID_INVALID")
        chat_id = p.chat_id()
        message_id = p.req_int("message_id")
        self._check_writable(chat_id)
        message = self._bot_messages.get(chat_id, {}).get(message_id)
        if message is None:
            if message_id in self._user_messages.get(chat_id, {}):
                raise _bad("message can't be edited")
            raise _bad("message to edit not found")
        return chat_id, message

    def _finish_edit(self, message: Json, changes: Json, markup: _Markup, *, what: str) -> Json:
        """Apply an edit (a ``None`` change removes the key) unless nothing would change."""
        new_markup = markup.message_markup()
        unchanged = all(message.get(k) == v for k, v in changes.items())
        if unchanged and message.get("reply_markup") == new_markup:
            raise _bad(_NOT_MODIFIED)
        for key, value in changes.items():
            if value is None:
                message.pop(key, None)
            else:
                message[key] = value
        if new_markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = new_markup
        message["edit_date"] = int(time.time())
        self._log_message("edit", message, markup, what=what)
        return _public(message)

    async def _edit_message_text(self, p: _Params) -> Json:
        text = p.str_("text", "") or ""
        rendered = _render(text, p.str_("parse_mode"))
        if not rendered.strip():
            raise _bad("message text is empty")
        if len(rendered) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        markup = self._parse_markup(p, inline_only=True)
        _, message = self._editable(p)
        if message["kind"] != "text":
            raise _bad("there is no text in the message to edit")
        return self._finish_edit(message, {"text": rendered}, markup, what="text")

    async def _edit_message_reply_markup(self, p: _Params) -> Json:
        markup = self._parse_markup(p, inline_only=True)
        _, message = self._editable(p)
        return self._finish_edit(message, {}, markup, what="markup")

    async def _edit_message_caption(self, p: _Params) -> Json:
        caption = self._caption(p) or ""
        markup = self._parse_markup(p, inline_only=True)
        _, message = self._editable(p)
        if message["kind"] not in ("photo", "document"):
            raise _bad("there is no caption in the message to edit")
        return self._finish_edit(message, {"caption": caption or None}, markup, what="caption")

    async def _delete_message(self, p: _Params) -> bool:
        chat_id = p.chat_id()
        message_id = p.req_int("message_id")
        self._require_chat(chat_id)
        message = self._bot_messages.get(chat_id, {}).pop(message_id, None)
        by_user = False
        if message is None:
            message = self._user_messages.get(chat_id, {}).pop(message_id, None)
            by_user = message is not None
        if message is None:
            raise _bad("message to delete not found")
        text = message.get("text") or message.get("caption") or _kind_label(message)
        self._log_out("delete", chat_id, message, text=text, user_message=by_user)
        return True

    # ---- queries

    async def _answer_callback_query(self, p: _Params) -> bool:
        query_id = p.req_str("callback_query_id")
        query = self._callback_queries.get(query_id)
        if query is None or query.answers:
            raise _bad(_QUERY_INVALID)
        text = p.str_("text")
        if text is not None and len(text) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        answer: Json = {
            "text": text,
            "show_alert": p.bool_("show_alert"),
            "url": p.str_("url"),
            "cache_time": p.int_("cache_time", 0),
        }
        query.answers.append(answer)
        chat_id = query.chat_id if query.chat_id is not None else query.user_id
        self._log_out(
            "answer_callback", chat_id, None, text=text or "", show_alert=answer["show_alert"]
        )
        return True

    async def _answer_pre_checkout_query(self, p: _Params) -> bool:
        query_id = p.req_str("pre_checkout_query_id")
        query = self._pre_checkout_queries.get(query_id)
        if query is None or query.answers:
            raise _bad(_QUERY_INVALID)
        if not p.has("ok"):
            raise _bad('parameter "ok" is required')
        ok = p.bool_("ok")
        error_message = p.str_("error_message")
        if not ok and not error_message:
            raise _bad("ERROR_MESSAGE_EMPTY")
        query.answers.append({"ok": ok, "error_message": error_message})
        self._log_out("answer_pre_checkout", query.user_id, None, ok=ok, text=error_message or "")
        return True

    # ---- chats

    async def _get_chat_member(self, p: _Params) -> Json:
        chat_id = p.chat_id()
        user_id = p.req_int("user_id")
        self._require_chat(chat_id)
        if user_id == self.bot_user["id"]:
            user = dict(self.bot_user)
        elif user_id in self._users:
            user = dict(self._users[user_id])
        else:
            raise _bad("user not found")
        group = self._groups.get(chat_id)
        if group is None:
            status = "member" if user_id in (chat_id, self.bot_user["id"]) else "left"
            return {"status": status, "user": user}
        if user_id == self.bot_user["id"]:
            if group.bot_is_admin:
                return _administrator(user)
            return {"status": "member", "user": user}
        if user_id == group.creator:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if user_id in group.admins:
            return _administrator(user)
        if user_id in group.members:
            return {"status": "member", "user": user}
        return {"status": "left", "user": user}

    async def _get_chat(self, p: _Params) -> Json:
        chat = self._require_chat(p.chat_id())
        chat.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
        )
        return chat

    # ---- commands

    @staticmethod
    def _commands_key(p: _Params) -> tuple[str, str]:
        scope = p.obj("scope") if p.has("scope") else None
        if scope is None:
            scope = {"type": "default"}
        if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
            raise _bad("can't parse BotCommandScope JSON object")
        return json.dumps(scope, sort_keys=True), p.str_("language_code", "") or ""

    async def _set_my_commands(self, p: _Params) -> bool:
        commands = p.obj("commands")
        if not isinstance(commands, list):
            raise _bad('parameter "commands" is required')
        cleaned: list[Json] = []
        for item in commands:
            if not isinstance(item, dict):
                raise _bad("can't parse BotCommand JSON object")
            name = str(item.get("command", "")).removeprefix("/")
            description = str(item.get("description", ""))
            if not _COMMAND_NAME_RE.match(name):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": name, "description": description})
        key = self._commands_key(p)
        if cleaned:
            self._commands[key] = cleaned
        else:
            self._commands.pop(key, None)
        return True

    async def _get_my_commands(self, p: _Params) -> list[Json]:
        return copy.deepcopy(self._commands.get(self._commands_key(p), []))

    async def _delete_my_commands(self, p: _Params) -> bool:
        self._commands.pop(self._commands_key(p), None)
        return True


# --------------------------------------------------------------------------- helpers


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


async def _await_map(awaitable: Awaitable[Any], fn: Callable[[Any], Any]) -> Any:
    return fn(await awaitable)


def _update_id(pending: _Pending) -> int:
    return _as_int(pending.update.get("update_id")) or 0


def _nested_chat_id(value: Any) -> int | None:
    if not isinstance(value, dict):
        return None
    chat = value.get("chat")
    if isinstance(chat, dict):
        return _as_int(chat.get("id"))
    return _nested_chat_id(value.get("message"))


def _administrator(user: Json) -> Json:
    return {
        "status": "administrator",
        "user": user,
        "can_be_edited": False,
        "is_anonymous": False,
        "can_manage_chat": True,
        "can_delete_messages": True,
        "can_manage_video_chats": True,
        "can_restrict_members": True,
        "can_promote_members": False,
        "can_change_info": True,
        "can_invite_users": True,
        "can_post_stories": False,
        "can_edit_stories": False,
        "can_delete_stories": False,
        "can_send_welcome_messages": False,
        "can_pin_messages": True,
        "can_manage_topics": False,
    }


_INLINE_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def _validate_inline(rows: Any) -> list[list[Json]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad("can't parse inline keyboard button: InlineKeyboardMarkup must be an array")
    cleaned: list[list[Json]] = []
    for row in rows:
        cleaned_row: list[Json] = []
        for button in row:
            if not isinstance(button, dict) or not str(button.get("text", "")).strip():
                raise _bad("can't parse inline keyboard button: Text buttons are unallowed")
            if not any(button.get(key) not in (None, "", False) for key in _INLINE_ACTIONS):
                raise _bad("text buttons are unallowed in the inline keyboard")
            data = button.get("callback_data")
            if data is not None:
                size = len(str(data).encode("utf-8"))
                if size == 0 or size > MAX_CALLBACK_DATA_BYTES:
                    raise _bad("BUTTON_DATA_INVALID")
            url = button.get("url")
            if url is not None and not re.match(r"^(https?|tg)://\S+$", str(url)):
                raise _bad("BUTTON_URL_INVALID")
            cleaned_row.append(dict(button))
        if cleaned_row:
            cleaned.append(cleaned_row)
    return cleaned


def _validate_reply(rows: Any) -> list[list[Json]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad("can't parse reply keyboard markup JSON object")
    cleaned: list[list[Json]] = []
    for row in rows:
        cleaned_row: list[Json] = []
        for button in row:
            item = {"text": button} if isinstance(button, str) else button
            if not isinstance(item, dict) or not str(item.get("text", "")).strip():
                raise _bad("can't parse keyboard button: Text must be non-empty")
            cleaned_row.append(dict(item))
        if cleaned_row:
            cleaned.append(cleaned_row)
    if not cleaned:
        raise _bad("keyboard must be non-empty")
    return cleaned


def _button_label(button: Json) -> str:
    text = str(button.get("text", ""))
    if button.get("url"):
        return f"{text} ↗"
    if button.get("request_contact"):
        return f"{text} (contact)"
    if button.get("request_location"):
        return f"{text} (location)"
    return text


def _keyboard_summary(message: Json, markup: _Markup | None) -> tuple[str | None, list[list[str]]]:
    inline = message.get("reply_markup", {}).get("inline_keyboard")
    if inline:
        return "inline", [[_button_label(b) for b in row] for row in inline]
    if markup is not None and markup.reply:
        return "reply", [[_button_label(b) for b in row] for row in markup.reply]
    if markup is not None and markup.remove:
        return "remove", []
    return None, []


def _label_for_data(message: Json, data: str) -> str | None:
    for row in message.get("reply_markup", {}).get("inline_keyboard", []):
        for button in row:
            if button.get("callback_data") == data:
                return str(button.get("text", ""))
    return None


def _kind_label(message: Json) -> str:
    for key in ("photo", "document", "invoice", "contact", "location", "successful_payment"):
        if key in message:
            return f"[{key}]"
    return ""


async def _read_webhook_reply(
    resp: aiohttp.ClientResponse,
) -> tuple[str, dict[str, Any], dict[str, Json]] | None:
    """Decode a Bot API method call returned in a webhook response body, if any."""
    with contextlib.suppress(Exception):
        if resp.content_type.startswith("multipart/"):
            fields, files = await _read_multipart(
                aiohttp.MultipartReader(resp.headers, resp.content)
            )
            body: dict[str, Any] = dict(fields)
        else:
            raw = await resp.read()
            decoded = json.loads(raw) if raw.strip() else None
            if not isinstance(decoded, dict):
                return None
            body, files = decoded, {}
        method = body.pop("method", None)
        if isinstance(method, str) and method:
            params, files = _assemble_params((), body, files)
            return method, params, files
    return None


# --------------------------------------------------------------------------- transcript text


def _indent(text: str) -> str:
    lines = str(text).split("\n")
    return "\n".join([lines[0], *("    " + line for line in lines[1:])])


def _rows(event: Json) -> list[str]:
    keyboard = event.get("keyboard")
    rows = event.get("buttons") or []
    if keyboard == "remove":
        return ["    ⌨ (keyboard removed)"]
    prefix = "    ⌨ " if keyboard == "reply" else "    "
    return [prefix + " ".join(f"[ {label} ]" for label in row) for row in rows]


def format_transcript(events: list[dict[str, Any]], names: dict[int, str] | None = None) -> str:
    """Render transcript events as deterministic, human-readable text (no times or ids)."""
    names = names or {}
    lines: list[str] = []

    def chat_name(event: Json) -> str:
        chat_id = event.get("chat_id")
        if chat_id is not None and chat_id in names:
            return names[chat_id]
        return str(event.get("chat_title") or f"chat {chat_id}")

    for event in events:
        kind = event.get("kind")
        if event.get("dir") == "in":
            user = event.get("user") or {}
            who = str(names.get(int(user.get("id", 0)), user.get("first_name"))) if user else "?"
            chat_id = event.get("chat_id")
            if chat_id is not None and chat_id < 0:
                who = f"{who} @ {chat_name(event)}"
            head = f"[{who} → bot] "
            if kind == "text":
                lines.append(head + _indent(event.get("text", "")))
            elif kind == "press":
                label = event.get("label")
                shown = f"[ {label} ]" if label is not None else f"<{event.get('data')}>"
                lines.append(head + f"presses {shown}")
            elif kind == "contact":
                lines.append(head + f"shares contact {event.get('phone_number')}")
            elif kind == "location":
                lines.append(
                    head + f"shares location {event.get('latitude')}, {event.get('longitude')}"
                )
            elif kind == "payment":
                verb = "pre-checkout" if event.get("stage") == "pre_checkout" else "paid"
                lines.append(
                    head + f"{verb}: {event.get('payload')}, "
                    f"{event.get('total_amount')} {event.get('currency')}"
                )
            else:
                lines.append(head + f"(raw update: {event.get('update_type')})")
            continue
        target = chat_name(event)
        text = str(event.get("text") or "")
        if kind == "send":
            lines.append(f"[bot → {target}] " + _indent(text))
        elif kind == "edit":
            what = event.get("what")
            if what == "markup":
                shown = "(keyboard changed)" if event.get("buttons") else "(keyboard removed)"
            else:
                shown = _indent(text)
            lines.append(f"[bot ✎ {target}] " + shown)
        elif kind == "delete":
            first = text.split("\n", 1)[0]
            lines.append(f"[bot ✗ {target}] deleted: {first}")
        elif kind == "answer_callback":
            if not text:
                lines.append(f"[bot → {target}] (callback answered)")
            else:
                style = "alert" if event.get("show_alert") else "toast"
                lines.append(f"[bot → {target}] ({style}) " + _indent(text))
        elif kind == "answer_pre_checkout":
            shown = "(pre-checkout ok)" if event.get("ok") else f"(pre-checkout refused) {text}"
            lines.append(f"[bot → {target}] {shown}")
        elif kind in ("photo", "document"):
            file_name = event.get("file")
            if kind == "photo":
                tag = "[photo]"
            else:
                tag = f"[document {file_name}]" if file_name else "[document]"
            lines.append(f"[bot → {target}] {tag}" + (" " + _indent(text) if text else ""))
        elif kind == "invoice":
            lines.append(
                f"[bot → {target}] [invoice] {text} — {event.get('description')} "
                f"({event.get('total_amount')} {event.get('currency')})"
            )
        else:
            lines.append(f"[bot → {target}] ({kind}) {text}")
        lines.extend(_rows(event))
    return "\n".join(lines)
