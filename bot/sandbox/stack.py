"""The sandbox's moving parts: the fake Bot API, the real bot against it, and the chat views.

`Sandbox` owns one `FakeBotApi` for its whole life and (re)starts the bot against it: the same
wiring as `o2o demo` (real runtime, pipeline, outbox sender, jobs and workers over loopback
HTTP), with a `RunningClock` that the page can move forward. `ChatViews` turns what the fake
recorded into what a Telegram client would show in each chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import SecretStr
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bot.admin.stores import StoreChanges, edit_store
from bot.app import BotApp
from bot.db import models
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade_async
from bot.demo import DEMO_START, DEMO_TOKEN, GROUP_ID
from bot.fakeapi.server import FakeBotApi, RecordedCall
from bot.seed import seed_demo_data
from bot.sender import UNTHROTTLED
from bot.settings import Settings
from bot.simulate import SIM_TELEGRAM_BASE, simulate
from domain.clock import RunningClock

log = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 4096  # Telegram's limit for one message; longer input is split, as clients do
MAX_PARTS = 5  # at most this many messages from one send (20,480 characters)
MAX_CALLBACK_DATA_BYTES = 64
MAX_ADVANCE_MINUTES = 7 * 24 * 60
STEP_TIMEOUT = 15.0
ANSWER_TIMEOUT = 10.0  # Telegram clients give up on a silent button after about this long
STORE_TIMEZONE = ZoneInfo("Asia/Shanghai")
HISTORY_CUSTOMERS = 150
HISTORY_DAYS = 120
HISTORY_SEED = 7
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)([^<>]*)>")
_SEND_KINDS = frozenset({"send", "photo", "document", "invoice"})
_CHANGING_METHODS = frozenset(
    {
        "sendmessage",
        "editmessagetext",
        "editmessagereplymarkup",
        "editmessagecaption",
        "sendphoto",
        "senddocument",
        "sendinvoice",
        "deletemessage",
    }
)


@dataclass(frozen=True, slots=True)
class Persona:
    """Someone the page can speak as."""

    user_id: int
    name: str
    language_code: str
    phone: str
    role: str

    def public(self) -> dict[str, Any]:
        """What the page needs to know about them."""
        return {
            "id": self.user_id,
            "name": self.name,
            "language": self.language_code,
            "role": self.role,
        }


@dataclass(frozen=True, slots=True)
class Place:
    """A location the page offers to share."""

    name: str
    latitude: float
    longitude: float


CUSTOMERS = (
    Persona(1001, "Alice", "en", "+8613800138000", "English"),
    Persona(1002, "Wang Fang", "zh-hans", "+8613900139000", "简体中文 (zh-CN)"),
    Persona(1003, "Bob", "en", "+14155550100", "English"),
)
ANN = Persona(2001, "Ann", "en", "+8613700137001", "admin, manager")
OLLY = Persona(2002, "Olly", "en", "+8613700137002", "staff")
EVE = Persona(2003, "Eve", "en", "+8613700137003", "member, not staff")
STAFF = (ANN, OLLY, EVE)
MANAGER = ANN
GROUP_TITLE = "Central Café staff"
PLACES = (
    Place("People's Square, near Central Café", 31.2330, 121.4760),
    Place("1 Market Street, Central Café", 31.2304, 121.4737),
    Place("Nanjing Road East", 31.2380, 121.4800),
    Place("The Bund, by Riverside Tea House", 31.2397, 121.4990),
    Place("Xujiahui, about 5 km away", 31.1950, 121.4370),
)


class SandboxInputError(ValueError):
    """A request the page should not have made (or a user could not make in Telegram)."""


class SandboxBusy(RuntimeError):
    """The sandbox is resetting; try again in a moment."""


def database_url_from(value: str) -> str:
    """A `--db` value as an async SQLAlchemy URL: URLs as `O2O_DATABASE_URL`, or a file path."""
    if value.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + value.removeprefix("sqlite://")
    if value.startswith(("postgres://", "postgresql://")):
        return "postgresql+asyncpg://" + value.split("://", 1)[1]
    if value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        return value
    if "://" in value:
        raise SandboxInputError(
            "--db: expected sqlite+aiosqlite:///FILE, postgresql+asyncpg://... or a file path"
        )
    return f"sqlite+aiosqlite:///{Path(value).expanduser().resolve()}"


def split_message(text_: str, limit: int = MAX_TEXT_LENGTH) -> list[str]:
    """Text as the messages a Telegram client sends for it: trimmed, cut into `limit`-sized
    parts, preferably at a line break or a space in the second half of each part."""
    rest = text_.strip()
    parts: list[str] = []
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n"), window.rfind(" "))
        if cut < limit // 2:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


def _plain(html_text: str) -> str:
    """Telegram HTML as the text a client shows (what the fake stores)."""
    return html.unescape(_TAG_RE.sub("", html_text))


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class ChatViews:
    """What each watched chat shows, rebuilt from the fake's records when they change."""

    def __init__(self, fake: FakeBotApi, watched: Iterable[int], names: dict[int, str]) -> None:
        self.fake = fake
        self.watched = tuple(watched)
        self.names = names
        self.files: dict[str, tuple[str, str]] = {}  # sha256 -> (file name, content type)
        self.clear()

    def clear(self) -> None:
        """Forget everything (the fake was reset)."""
        self._scanned = 0
        self._sources: dict[tuple[int, int], tuple[str, str | None]] = {}
        self._media: dict[tuple[int, int], str] = {}
        self._by_file_id: dict[str, str] = {}
        self._web_media: dict[tuple[int, int], str] = {}  # photos sent by URL: not fetched
        self._dirty: set[int] = set(self.watched)
        self._shown: dict[int, dict[str, Any]] = {}

    def touch(self, chat_id: int) -> None:
        """Something was said in this chat: show it."""
        self._dirty.add(chat_id)

    def snapshot(self, chat_id: int) -> dict[str, Any]:
        """The last view built of a chat."""
        return self._shown.get(chat_id) or {"chat_id": chat_id, "items": [], "keyboard": None}

    def refresh(self) -> list[int]:
        """Take in new Bot API calls; rebuild the chats they touched; the chats that changed."""
        calls = self.fake.calls()
        while self._scanned < len(calls):
            call = calls[self._scanned]
            if call.method != "getUpdates":
                if not call.done:
                    break
                self._take(call)
            self._scanned += 1
        if not self._dirty:
            return []
        dirty, self._dirty = self._dirty, set()
        transcript = self.fake.transcript()
        changed: list[int] = []
        for chat_id in self.watched:
            if chat_id not in dirty:
                continue
            view = self._build(chat_id, transcript)
            if view != self._shown.get(chat_id):
                self._shown[chat_id] = view
                changed.append(chat_id)
        return changed

    def _take(self, call: RecordedCall) -> None:
        method = call.method.lower()
        if method not in _CHANGING_METHODS:
            return
        if call.chat_id is not None:
            self._dirty.add(call.chat_id)
        result = call.result
        if not call.ok or not isinstance(result, dict) or "message_id" not in result:
            return
        key = (int(result["chat"]["id"]), int(result["message_id"]))
        params = call.params
        parse_mode = params.get("parse_mode")
        mode = str(parse_mode).lower() if parse_mode else None
        if method in ("sendmessage", "editmessagetext") and isinstance(params.get("text"), str):
            self._sources[key] = (params["text"], mode)
        elif method in ("sendphoto", "senddocument", "editmessagecaption"):
            caption = params.get("caption")
            if isinstance(caption, str):
                self._sources[key] = (caption, mode)
            field = "photo" if method == "sendphoto" else "document"
            media = params.get(field)
            sha = None
            if isinstance(media, dict) and isinstance(media.get("sha256"), str):
                sha = media["sha256"]
                name = str(media.get("filename") or f"{field}.bin")
                self.files[sha] = (name, str(media.get("content_type") or ""))
            elif isinstance(media, str):
                sha = self._by_file_id.get(media)
                if sha is None and media.startswith(("http://", "https://")):
                    self._web_media[key] = media
            if sha is not None:
                self._media[key] = sha
                sent = result.get("photo") or [result.get("document") or {}]
                for size in sent:
                    if isinstance(size, dict) and size.get("file_id"):
                        self._by_file_id[str(size["file_id"])] = sha

    def _formatted(self, chat_id: int, message: dict[str, Any], shown: str) -> dict[str, str]:
        source = self._sources.get((chat_id, int(message["message_id"])))
        if source is not None:
            raw, mode = source
            if mode == "html" and _plain(raw) == shown:
                return {"html": raw}
        return {"text": shown}

    def _build(self, chat_id: int, transcript: list[dict[str, Any]]) -> dict[str, Any]:
        messages = {int(m["message_id"]): m for m in self.fake.messages(chat_id)}
        items: list[dict[str, Any]] = []
        placed: set[int] = set()
        for index, event in enumerate(transcript):
            if event.get("chat_id") != chat_id:
                continue
            if event.get("dir") == "in":
                item = self._user_item(index, event)
                if item is not None:
                    items.append(item)
                continue
            message_id = event.get("message_id")
            if event.get("kind") not in _SEND_KINDS or not isinstance(message_id, int):
                continue
            message = messages.get(message_id)
            if message is None or message_id in placed:
                continue
            placed.add(message_id)
            items.append(self._bot_item(chat_id, message))
        keyboard = self.fake.reply_keyboard(chat_id)
        return {
            "chat_id": chat_id,
            "items": items,
            "keyboard": [
                [
                    {
                        "text": str(button.get("text", "")),
                        "request_contact": bool(button.get("request_contact")),
                        "request_location": bool(button.get("request_location")),
                    }
                    for button in row
                ]
                for row in keyboard
            ]
            if keyboard
            else None,
        }

    def _user_item(self, index: int, event: dict[str, Any]) -> dict[str, Any] | None:
        user = event.get("user") or {}
        user_id = int(user.get("id", 0))
        item: dict[str, Any] = {
            "t": "user",
            "key": f"u{index}",
            "from_id": user_id,
            "from": self.names.get(user_id, str(user.get("first_name", "?"))),
        }
        kind = event.get("kind")
        if kind == "text":
            item["text"] = str(event.get("text", ""))
        elif kind == "contact":
            item["contact"] = str(event.get("phone_number", ""))
        elif kind == "location":
            latitude, longitude = float(event["latitude"]), float(event["longitude"])
            place = next(
                (p.name for p in PLACES if (p.latitude, p.longitude) == (latitude, longitude)),
                None,
            )
            item["location"] = {"latitude": latitude, "longitude": longitude, "place": place}
        else:
            return None
        return item

    def _bot_item(self, chat_id: int, message: dict[str, Any]) -> dict[str, Any]:
        message_id = int(message["message_id"])
        kind = str(message.get("kind", "text"))
        item: dict[str, Any] = {
            "t": "bot",
            "key": f"m{message_id}",
            "id": message_id,
            "kind": kind,
            "edited": "edit_date" in message,
        }
        if kind == "text":
            item.update(self._formatted(chat_id, message, str(message.get("text", ""))))
        elif message.get("caption"):
            item.update(self._formatted(chat_id, message, str(message["caption"])))
        sha = self._media.get((chat_id, message_id))
        if kind == "photo":
            item["photo"] = f"/api/file/{sha}" if sha and sha in self.fake.uploads else None
            web = self._web_media.get((chat_id, message_id))
            if item["photo"] is None and web is not None:
                item["photo_url"] = web  # shown as a link: the sandbox stays offline
        elif kind == "document":
            document = message.get("document") or {}
            name = str(document.get("file_name") or "document")
            item["document"] = {
                "name": name,
                "size": int(document.get("file_size") or 0),
                "url": f"/api/file/{sha}" if sha and sha in self.fake.uploads else None,
            }
        elif kind == "invoice":
            invoice = message.get("invoice") or {}
            item["invoice"] = {
                "title": str(invoice.get("title", "")),
                "description": str(invoice.get("description", "")),
                "total_amount": int(invoice.get("total_amount") or 0),
                "currency": str(invoice.get("currency", "")),
            }
        rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        if rows:
            item["buttons"] = [[_inline_button(button) for button in row] for row in rows]
        return item


def _inline_button(button: dict[str, Any]) -> dict[str, Any]:
    shown: dict[str, Any] = {"text": str(button.get("text", ""))}
    if button.get("callback_data") is not None:
        shown["data"] = str(button["callback_data"])
    elif button.get("url"):
        shown["url"] = str(button["url"])
    elif button.get("pay"):
        shown["pay"] = True
    return shown


class Sandbox:
    """The fake Bot API, the real bot against it, and what the page may do to them."""

    def __init__(
        self,
        base: Settings,
        *,
        database_url: str | None = None,
        runtime: str = "aiogram",
        history: bool = True,
        realistic: bool = True,
    ) -> None:
        self.base = base
        self.runtime = runtime
        self.history = history
        self.realistic = realistic
        self.keeps_database = database_url is not None
        self.database_url = database_url or ""
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self.fake: FakeBotApi | None = None
        self.app: BotApp | None = None
        self.clock = RunningClock(DEMO_START)
        self._polling: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.resetting = False
        self.generation = 0
        self.names = {p.user_id: p.name for p in (*CUSTOMERS, *STAFF)}
        self.names[GROUP_ID] = GROUP_TITLE
        self._views: ChatViews | None = None
        self._outbox: dict[str, int] = {}

    # ------------------------------------------------------------------ lifecycle

    @property
    def views(self) -> ChatViews:
        """The chat views (after start)."""
        if self._views is None:
            raise RuntimeError("Sandbox.start() must be awaited first")
        return self._views

    def _require_fake(self) -> FakeBotApi:
        if self.fake is None:
            raise RuntimeError("Sandbox.start() must be awaited first")
        return self.fake

    async def start(self) -> None:
        """Prepare the database, start the fake Bot API and the bot, set up the staff group."""
        if not self.database_url:
            self._scratch = tempfile.TemporaryDirectory(prefix="o2o-sandbox-")
            path = Path(self._scratch.name) / "sandbox.sqlite3"
            self.database_url = f"sqlite+aiosqlite:///{path}"
        history, next_update, resume_at = await self._prepare_database()
        fake = FakeBotApi(token=DEMO_TOKEN, first_update_id=next_update)
        if not self.realistic:
            fake = FakeBotApi(token=DEMO_TOKEN, first_update_id=next_update, limits=None)
        self.fake = fake
        await fake.start()
        for person in (*CUSTOMERS, *STAFF):
            fake.add_user(person.user_id, person.name, language_code=person.language_code)
        fake.add_group(
            GROUP_ID,
            GROUP_TITLE,
            admins=[ANN.user_id],
            members=[OLLY.user_id, EVE.user_id],
        )
        self._add_history_users(history)
        watched = (*(c.user_id for c in CUSTOMERS), GROUP_ID, MANAGER.user_id)
        self._views = ChatViews(fake, watched, self.names)
        await self._start_bot(resume_at)

    async def stop(self) -> None:
        """Stop the bot and the fake; drop the scratch database."""
        await self._stop_bot()
        if self.fake is not None:
            await self.fake.stop()
            self.fake = None
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    async def reset(self) -> None:
        """Start over: an empty database (demo stores, catalog, history), empty chats, the
        clock back at the start."""
        if self._lock.locked():
            raise SandboxBusy("the sandbox is busy; try again in a moment")
        async with self._lock:
            self.resetting = True
            try:
                await self._stop_bot()
                fake = self._require_fake()
                fake.reset()
                self.views.clear()
                self.generation += 1
                await self._wipe_database()
                history, _, _ = await self._prepare_database()
                self._add_history_users(history)
                self._outbox = {}
                await self._start_bot(DEMO_START)
            finally:
                self.resetting = False

    async def _start_bot(self, start: datetime) -> None:
        fake = self._require_fake()
        self.clock = RunningClock(start)
        settings = self.base.model_copy(
            update={
                "bot_token": SecretStr(DEMO_TOKEN),
                "database_url": self.database_url,
                "telegram_api_url": fake.base_url,
                "runtime": self.runtime,
                "polling_timeout": 1,
                "webhook_url": None,
                "payment_provider_token": None,
            }
        )
        settings = settings.model_copy(update={"admin_ids": (ANN.user_id,)})
        limits = None if self.realistic else UNTHROTTLED
        app = BotApp(settings, clock=self.clock, send_limits=limits)
        self.app = app
        await app.start()
        self._polling = asyncio.create_task(app.run_polling(), name="sandbox-polling")
        await fake.wait_for_calls("deleteWebhook", count=1, timeout=STEP_TIMEOUT)
        await self._set_up_group()

    async def _stop_bot(self) -> None:
        app, self.app = self.app, None
        if app is None:
            return
        app.request_stop()
        if self._polling is not None:
            with contextlib.suppress(Exception):
                await self._polling
            self._polling = None
        await app.close()

    # ------------------------------------------------------------------ database

    async def _prepare_database(self) -> tuple[list[tuple[int, str]], int, datetime]:
        """Migrate and seed; -> (history customers, next update id, when the clock resumes)."""
        await upgrade_async(self.database_url)
        engine = create_engine(self.database_url)
        try:
            sessionmaker = create_sessionmaker(engine)
            await seed_demo_data(sessionmaker, DEMO_START)
            async with sessionmaker() as session:
                simulated = await session.scalar(
                    select(models.Customer.id)
                    .where(models.Customer.telegram_id >= SIM_TELEGRAM_BASE)
                    .limit(1)
                )
            if self.history and simulated is None:
                await simulate(
                    sessionmaker,
                    customers=HISTORY_CUSTOMERS,
                    days=HISTORY_DAYS,
                    seed=HISTORY_SEED,
                    end=DEMO_START.date(),
                )
            await edit_store(sessionmaker, "central", StoreChanges(manager=ANN.user_id), DEMO_START)
            async with sessionmaker() as session:
                rows = (
                    await session.execute(
                        select(models.Customer.telegram_id, models.Customer.first_name).where(
                            models.Customer.telegram_id >= SIM_TELEGRAM_BASE
                        )
                    )
                ).all()
                last_update = await session.scalar(select(func.max(models.InboxEntry.update_id)))
                last_outbox = await session.scalar(
                    select(func.max(models.OutboxMessage.created_at))
                )
                last_inbox = await session.scalar(select(func.max(models.InboxEntry.received_at)))
        finally:
            await engine.dispose()
        # A kept database resumes where it stopped: after its last update (ids and time).
        moments = [m for m in (_aware(last_outbox), _aware(last_inbox)) if m is not None]
        resume_at = max([DEMO_START, *(m + timedelta(minutes=1) for m in moments)])
        history = [(int(row[0]), str(row[1] or "Customer")) for row in rows]
        return history, int(last_update or 0) + 1, resume_at

    async def _wipe_database(self) -> None:
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite":
            if url.database and url.database != ":memory:":
                for suffix in ("", "-wal", "-shm", "-journal"):
                    await asyncio.to_thread(Path(url.database + suffix).unlink, missing_ok=True)
            return
        engine = create_engine(self.database_url)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(models.Base.metadata.drop_all)
                await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        finally:
            await engine.dispose()

    def _add_history_users(self, history: list[tuple[int, str]]) -> None:
        fake = self._require_fake()
        for user_id, name in history:
            fake.add_user(user_id, name)

    async def _set_up_group(self) -> None:
        """Bind the staff group and register Olly, through the chat, unless done before."""
        app = self._require_app()
        async with app.sessionmaker() as session:
            store = await session.scalar(select(models.Store).where(models.Store.code == "central"))
            olly = None
            if store is not None:
                olly = await session.scalar(
                    select(models.StaffMember.id).where(
                        models.StaffMember.store_id == store.id,
                        models.StaffMember.telegram_id == OLLY.user_id,
                    )
                )
        if store is None:
            return
        if store.staff_chat_id != GROUP_ID:
            await self._group_says(ANN, "/bind central")
        if olly is None:
            await self._group_says(ANN, f"/staff add {OLLY.user_id} {OLLY.name}")

    async def _group_says(self, who: Persona, words: str) -> None:
        fake = self._require_fake()
        before = _sent_to(fake, GROUP_ID)
        fake.send_text(who.user_id, words, chat_id=GROUP_ID)
        deadline = asyncio.get_running_loop().time() + STEP_TIMEOUT
        while _sent_to(fake, GROUP_ID) <= before or await self._unsent():
            if asyncio.get_running_loop().time() > deadline:
                log.warning("sandbox set-up got no reply", extra={"command": words})
                return
            await asyncio.sleep(0.05)

    async def _unsent(self) -> bool:
        app = self._require_app()
        async with app.sessionmaker() as session:
            pending = await session.scalar(
                select(models.OutboxMessage.id)
                .where(models.OutboxMessage.status == "pending")
                .limit(1)
            )
        return pending is not None

    def _require_app(self) -> BotApp:
        if self.app is None:
            raise SandboxBusy("the bot is restarting; try again in a moment")
        return self.app

    # ------------------------------------------------------------------ what the page may do

    def _ready(self) -> FakeBotApi:
        if self.resetting or self.app is None:
            raise SandboxBusy("the sandbox is resetting; try again in a moment")
        return self._require_fake()

    @staticmethod
    def check_speaker(chat_id: int, user_id: int) -> Persona:
        """The persona speaking in a chat the page shows; SandboxInputError otherwise."""
        if chat_id == GROUP_ID:
            for person in STAFF:
                if person.user_id == user_id:
                    return person
            raise SandboxInputError("only Ann, Olly and Eve are in the staff group")
        for person in (*CUSTOMERS, MANAGER):
            if person.user_id == chat_id == user_id:
                return person
        raise SandboxInputError("unknown chat or speaker")

    def send_text(self, chat_id: int, user_id: int, words: str) -> int:
        """Type a message; -> how many messages it went as (long text is split)."""
        self.check_speaker(chat_id, user_id)
        parts = split_message(words)
        if not parts:
            raise SandboxInputError("an empty message cannot be sent")
        if len(parts) > MAX_PARTS:
            raise SandboxInputError(
                f"too long: at most {MAX_PARTS * MAX_TEXT_LENGTH:,} characters at once"
            )
        fake = self._ready()
        for part in parts:
            fake.send_text(user_id, part, chat_id=None if chat_id == user_id else chat_id)
        self.views.touch(chat_id)
        return len(parts)

    async def press(
        self, chat_id: int, user_id: int, message_id: int, data: str
    ) -> dict[str, Any] | None:
        """Press an inline button; -> the bot's answer (text, show_alert), None if none came."""
        self.check_speaker(chat_id, user_id)
        if not 0 < message_id < 2**31:
            raise SandboxInputError("no such message")
        if not data or len(data.encode("utf-8")) > MAX_CALLBACK_DATA_BYTES:
            raise SandboxInputError("button data must be 1-64 bytes")
        fake = self._ready()
        query_id = fake.press_button(
            user_id, message_id, data, chat_id=None if chat_id == user_id else chat_id
        )
        deadline = asyncio.get_running_loop().time() + ANSWER_TIMEOUT
        while asyncio.get_running_loop().time() < deadline:
            answers = fake.callback_answers(query_id)
            if answers:
                answer = answers[0]
                return {"text": answer.get("text") or "", "show_alert": bool(answer["show_alert"])}
            await asyncio.sleep(0.03)
        return None

    def share_contact(self, chat_id: int, user_id: int) -> None:
        """Share one's own phone number (the reply keyboard's contact button)."""
        person = self.check_speaker(chat_id, user_id)
        if chat_id == GROUP_ID:
            raise SandboxInputError("contacts are shared in private chats only here")
        self._ready().send_contact(user_id, person.phone)
        self.views.touch(chat_id)

    def share_location(self, chat_id: int, user_id: int, place: int) -> Place:
        """Share one of the sample places near the stores."""
        self.check_speaker(chat_id, user_id)
        if chat_id == GROUP_ID:
            raise SandboxInputError("locations are shared in private chats only here")
        if not 0 <= place < len(PLACES):
            raise SandboxInputError("unknown place")
        chosen = PLACES[place]
        self._ready().send_location(user_id, chosen.latitude, chosen.longitude)
        self.views.touch(chat_id)
        return chosen

    async def advance(self, minutes: int) -> None:
        """Move the clock forward and run the due work at once (SLA, surveys, reminders,
        campaigns) instead of at the jobs loop's next tick."""
        if not 1 <= minutes <= MAX_ADVANCE_MINUTES:
            raise SandboxInputError(f"minutes: 1 to {MAX_ADVANCE_MINUTES:,}")
        self._ready()
        app = self._require_app()
        self.clock.advance(minutes)
        await app.jobs.run_once()
        app.reports.wake()
        if app.campaigns is not None:
            app.campaigns.wake()
        app.sender.wake()

    # ------------------------------------------------------------------ status

    def now_text(self) -> str:
        """The sandbox's time as the stores see it."""
        local = self.clock.now().astimezone(STORE_TIMEZONE)
        return local.strftime("%a %d %b %Y, %H:%M") + " (Shanghai)"

    async def outbox_figures(self) -> dict[str, int]:
        """Outbox rows by status, and the 429s the bot got from the fake."""
        app = self.app
        if app is not None and not self.resetting:
            with contextlib.suppress(Exception):
                async with app.sessionmaker() as session:
                    rows = (
                        await session.execute(
                            select(models.OutboxMessage.status, func.count()).group_by(
                                models.OutboxMessage.status
                            )
                        )
                    ).all()
                self._outbox = {str(status): int(count) for status, count in rows}
        figures = {
            status: self._outbox.get(status, 0)
            for status in ("pending", "sent", "failed", "dead", "skipped")
        }
        figures["rate_limited"] = int(self.fake.counters["rate_limited"]) if self.fake else 0
        return figures


def _sent_to(fake: FakeBotApi, chat_id: int) -> int:
    return sum(
        1
        for call in fake.calls()
        if call.chat_id == chat_id
        and call.done
        and call.method.lower().startswith(("send", "edit"))
    )
