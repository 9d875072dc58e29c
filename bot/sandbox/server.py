"""`o2o sandbox`'s web server: the page, its JSON API and a server-sent-event stream.

Routes (all JSON answers are ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``):

* ``GET /`` the page; ``GET /static/{app.js,app.css}`` its script and style (no external assets)
* ``GET /api/config``  the people, chats and sample places the page shows
* ``GET /api/events``  server-sent events: ``chat`` (one chat's view, whenever it changes) and
  ``status`` (the sandbox clock, the outbox figures, the reset generation)
* ``POST /api/send``      chat_id, user_id, text          -> parts (messages it went as)
* ``POST /api/press``     chat_id, user_id, message_id, data -> answer {text, show_alert} | null
* ``POST /api/contact``   chat_id, user_id
* ``POST /api/location``  chat_id, user_id, place (index into the config's places)
* ``POST /api/advance``   minutes;  ``POST /api/reset``
* ``GET /api/file/{sha256}``  a photo or document the bot sent (``?download=1``: as a file)

POST bodies must be ``application/json`` from the page's own origin, so another web site
cannot drive the sandbox from a visitor's browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from typing import Any, TextIO
from urllib.parse import quote, urlsplit

from aiohttp import web

from bot.demo import GROUP_ID
from bot.sandbox.stack import (
    CUSTOMERS,
    GROUP_TITLE,
    MANAGER,
    MAX_PARTS,
    MAX_TEXT_LENGTH,
    PLACES,
    STAFF,
    Sandbox,
    SandboxBusy,
    SandboxInputError,
)
from bot.settings import Settings

log = logging.getLogger(__name__)

TICK_SECONDS = 0.1
STATUS_EVERY_TICKS = 5
PING_SECONDS = 15.0
MAX_BODY_BYTES = 256 * 1024
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_STATIC = {
    "index.html": "text/html",
    "app.js": "text/javascript",
    "app.css": "text/css",
}
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(message: str, status: int) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)


def _int(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SandboxInputError(f"{name}: a whole number is required")
    return value


def _str(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise SandboxInputError(f"{name}: text is required")
    return value


class SandboxServer:
    """The page's HTTP side for one `Sandbox`."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.server_errors = 0
        self.statuses: Counter[int] = Counter()
        self._static = {
            name: resources.files("bot.sandbox").joinpath("static", name).read_bytes()
            for name in _STATIC
        }
        self._revision = 0
        self._chats: dict[int, tuple[int, str]] = {}
        self._status: tuple[int, str] = (0, "")
        self._changed = asyncio.Event()
        self._closing = False

    def make_app(self) -> web.Application:
        """The aiohttp application (the ticker starts and stops with it)."""
        app = web.Application(middlewares=[self._guard], client_max_size=MAX_BODY_BYTES)
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{name}", self._static_file)
        app.router.add_get("/api/config", self._config)
        app.router.add_get("/api/events", self._events)
        app.router.add_get("/api/file/{sha}", self._file)
        app.router.add_post("/api/send", self._send)
        app.router.add_post("/api/press", self._press)
        app.router.add_post("/api/contact", self._contact)
        app.router.add_post("/api/location", self._location)
        app.router.add_post("/api/advance", self._advance)
        app.router.add_post("/api/reset", self._reset)
        app.cleanup_ctx.append(self._ticking)
        return app

    # ------------------------------------------------------------------ plumbing

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Every failure becomes a polite JSON answer; 5xx answers are counted (tests read
        `server_errors`, which should stay 0)."""
        response: web.StreamResponse
        try:
            if request.method == "POST":
                self._check_origin(request)
            response = await handler(request)
        except web.HTTPException as exc:
            if exc.status >= 500:
                self.server_errors += 1
            if exc.status < 400:
                raise  # redirects and the like pass through
            response = _error(exc.reason or "refused", exc.status)
        except SandboxInputError as exc:
            response = _error(str(exc), 400)
        except SandboxBusy as exc:
            response = _error(str(exc), 409)
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception:
            log.exception("sandbox request failed", extra={"path": request.path})
            response = _error("the sandbox hit a problem; its log has the details", 500)
        self.statuses[response.status] += 1
        if response.status >= 500:
            self.server_errors += 1
        if not response.prepared:
            for name, value in _SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
        return response

    @staticmethod
    def _check_origin(request: web.Request) -> None:
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            raise web.HTTPForbidden(reason="requests from other sites are refused")
        if request.content_type != "application/json":
            raise web.HTTPUnsupportedMediaType(reason="send JSON")

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise SandboxInputError("the request is not valid JSON") from None
        if not isinstance(body, dict):
            raise SandboxInputError("the request must be a JSON object")
        return body

    async def _ticking(self, _app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(self._tick(), name="sandbox-ticker")
        yield
        self._closing = True
        self._notify()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    def _notify(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def _tick(self) -> None:
        """Watch the fake: push every chat that changed, and the status now and then."""
        ticks = 0
        while True:
            changed = False
            try:
                for chat_id in self.sandbox.views.refresh():
                    self._revision += 1
                    view = json.dumps(self.sandbox.views.snapshot(chat_id), ensure_ascii=False)
                    self._chats[chat_id] = (self._revision, view)
                    changed = True
                if ticks % STATUS_EVERY_TICKS == 0 or changed:
                    status = json.dumps(await self._status_now(), ensure_ascii=False)
                    if status != self._status[1]:
                        self._revision += 1
                        self._status = (self._revision, status)
                        changed = True
            except Exception:
                log.exception("sandbox ticker failed; going on")
            if changed:
                self._notify()
            ticks += 1
            await asyncio.sleep(TICK_SECONDS)

    async def _status_now(self) -> dict[str, Any]:
        sandbox = self.sandbox
        return {
            "clock": sandbox.now_text(),
            "outbox": await sandbox.outbox_figures(),
            "generation": sandbox.generation,
            "resetting": sandbox.resetting,
        }

    # ------------------------------------------------------------------ pages and files

    async def _index(self, _request: web.Request) -> web.StreamResponse:
        return web.Response(body=self._static["index.html"], content_type="text/html")

    async def _static_file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in _STATIC or name == "index.html":
            raise web.HTTPNotFound(reason="no such file")
        return web.Response(body=self._static[name], content_type=_STATIC[name])

    async def _file(self, request: web.Request) -> web.StreamResponse:
        sha = request.match_info["sha"]
        fake = self.sandbox.fake
        data = fake.uploads.get(sha) if fake is not None and _SHA256_RE.match(sha) else None
        if data is None:
            raise web.HTTPNotFound(reason="no such file (the sandbox was reset?)")
        name, _ = self.sandbox.views.files.get(sha, ("file.bin", ""))
        if data.startswith(b"\x89PNG\r\n\x1a\n"):
            content_type = "image/png"
        elif data.startswith(b"\xff\xd8\xff"):
            content_type = "image/jpeg"
        else:
            content_type = "application/octet-stream"
        headers = {"Cache-Control": "private, max-age=86400, immutable"}
        if request.query.get("download") or not content_type.startswith("image/"):
            ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "file.bin"
            headers["Content-Disposition"] = (
                f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
            )
        return web.Response(body=data, content_type=content_type, headers=headers)

    async def _config(self, _request: web.Request) -> web.StreamResponse:
        sandbox = self.sandbox
        return web.json_response(
            {
                "ok": True,
                "customers": [person.public() for person in CUSTOMERS],
                "staff": [person.public() for person in STAFF],
                "manager": MANAGER.public(),
                "group": {"id": GROUP_ID, "title": GROUP_TITLE},
                "places": [place.name for place in PLACES],
                "bot_username": sandbox.fake.bot_user["username"] if sandbox.fake else "",
                "runtime": sandbox.runtime,
                "database": "kept (--db)" if sandbox.keeps_database else "temporary",
                "max_text_length": MAX_TEXT_LENGTH,
                "max_parts": MAX_PARTS,
            }
        )

    async def _events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
                "X-Content-Type-Options": "nosniff",
            }
        )
        await response.prepare(request)
        seen = 0
        try:
            await response.write(b"retry: 1000\n\n")
            while not self._closing:
                event = self._changed
                chunks: list[str] = []
                for revision, view in self._chats.values():
                    if revision > seen:
                        chunks.append(f"event: chat\ndata: {view}\n\n")
                revision, status = self._status
                if revision > seen and status:
                    chunks.append(f"event: status\ndata: {status}\n\n")
                seen = self._revision
                if chunks:
                    await response.write("".join(chunks).encode("utf-8"))
                try:
                    await asyncio.wait_for(event.wait(), PING_SECONDS)
                except TimeoutError:
                    await response.write(b": ping\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return response

    # ------------------------------------------------------------------ actions

    async def _send(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        parts = self.sandbox.send_text(
            _int(body, "chat_id"), _int(body, "user_id"), _str(body, "text")
        )
        return web.json_response({"ok": True, "parts": parts})

    async def _press(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        answer = await self.sandbox.press(
            _int(body, "chat_id"),
            _int(body, "user_id"),
            _int(body, "message_id"),
            _str(body, "data"),
        )
        return web.json_response({"ok": True, "answer": answer})

    async def _contact(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        self.sandbox.share_contact(_int(body, "chat_id"), _int(body, "user_id"))
        return web.json_response({"ok": True})

    async def _location(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        place = self.sandbox.share_location(
            _int(body, "chat_id"), _int(body, "user_id"), _int(body, "place")
        )
        return web.json_response({"ok": True, "place": place.name})

    async def _advance(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        await self.sandbox.advance(_int(body, "minutes"))
        return web.json_response({"ok": True, "clock": self.sandbox.now_text()})

    async def _reset(self, request: web.Request) -> web.StreamResponse:
        await self._body(request)
        await self.sandbox.reset()
        return web.json_response({"ok": True, "generation": self.sandbox.generation})


async def serve_sandbox(
    base: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    runtime: str = "aiogram",
    database_url: str | None = None,
    history: bool = True,
    out: TextIO | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Run the sandbox until `stop` is set (Ctrl-C / SIGTERM from the command line)."""
    out = out or sys.stdout
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
    sandbox = Sandbox(base, database_url=database_url, runtime=runtime, history=history)
    print("o2o sandbox: starting the fake Bot API and the bot…", file=out, flush=True)
    await sandbox.start()
    server = SandboxServer(sandbox)
    runner = web.AppRunner(
        server.make_app(), access_log=None, shutdown_timeout=1.0, handler_cancellation=True
    )
    try:
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            print(f"o2o sandbox: cannot listen on {host}:{port}: {exc.strerror}", file=out)
            return 2
        shown = f"[{host}]" if ":" in host else host
        where = "temporary database" if database_url is None else database_url
        print(
            f"o2o sandbox: open http://{shown}:{port}/  ({runtime} runtime, {where}); "
            "Ctrl-C stops it",
            file=out,
            flush=True,
        )
        await stop.wait()
    finally:
        await runner.cleanup()
        await sandbox.stop()
    print("o2o sandbox: stopped", file=out)
    return 0
