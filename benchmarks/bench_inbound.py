"""Inbound updates per second through the whole bot vs bare aiogram dispatch, same updates.

Measured: the real bot (BotApp, aiogram runtime, a fresh migrated SQLite file in WAL, the fake Bot
API without its limits, client-side send limits lifted) on a shop's rush: customers (40, or 160 in
the full run; 20 or 30 at a time) open the central store by deep link, search the catalog, open a
product, add it, view the cart, check out for pickup, type a phone and a note and place the order,
each press carrying the callback data of the bot's own reply; a barista in the bound staff group
accepts, readies and completes every card from the card's buttons. The clock runs from the first
update to the moment no outbox row is pending any more (every reply has reached the fake); the
rate is updates handled / that time. The bot handles one update at a time, so the figure also
reports how much of the wall time its pipeline was busy (the rest is waiting for people).

Baseline, in the same run with the very updates the bot handled (recorded in its order): an
aiogram Dispatcher with one trivial handler per kind that answers with one sendMessage and no
database, long-polling the same fake (limits lifted), queued in full first; the clock runs until
every sendMessage has arrived. For transparency, the same handlers through `dp.feed_raw_update`
without HTTP (the returned SendMessage is built, not sent) are reported too.

Where the bot's time goes (cProfile and per-statement timing of the quick run, 2026-11): per
update about 14 SQL statements in its one transaction, about 4 more transactions in the sender
(dispatch reads, one "sent" write per call, message-ref look-ups) and 2.3 Bot API calls, all on
one event loop shared with the fake and the simulated people, which is CPU-bound (SQLAlchemy is
about a third of it). SQLite's busy-handler naps at BEGIN IMMEDIATE (about 40 ms on average)
look large, but queueing transactions on the loop or letting the sender read DEFERRED removed
them without raising the rate. aiogram rebuilt a `Response[...]` pydantic model on about a
third of its calls (pydantic caches them weakly); bot/runtime_aiogram.py now keeps them.
2026-12: the report and campaign workers no longer query the database after every update (only
after one that gives them work) and the sender reads DEFERRED: about 3 transactions and 35
thread hops fewer per order. Quick run on this VM while four pytest workers shared its two cores
(so both sides slowed): 9.2 -> 9.9 updates/s, ratio 0.05 -> 0.07; far from 0.5, the bot's
pipeline is CPU-bound in SQLAlchemy and aiosqlite's thread hops.

    .venv/bin/python benchmarks/bench_inbound.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiogram import Bot, Dispatcher, Router
from aiogram.methods import SendMessage
from aiogram.types import CallbackQuery, Message

from benchmarks.bench_runtimes import TOKEN, UNLIMITED, _fresh_database
from benchmarks.table import Row
from bot.app import BotApp
from bot.db import models
from bot.fakeapi.server import FakeBotApi
from bot.pipeline import Outcome
from bot.runtime_aiogram import make_bot
from bot.settings import Settings
from domain.clock import RunningClock
from tests.e2e.shop import OPEN_TIME

GROUP = -1_009_100
BARISTA = 7_100
FIRST_CUSTOMER = 200_000
POLL = 0.02  # how often a simulated person looks at the chat
STAFF_ACTIONS = ("sa", "sy", "sc")  # accept (with minutes), ready, complete
GOAL = 0.5
LOOKUPS = {"getUpdates", "getChatMember"}
STEPS = 11  # updates one customer sends: 4 texts, 7 presses


@dataclass(frozen=True)
class Size:
    """How big a run is: customers in all, at most `concurrency` shopping at once."""

    customers: int
    concurrency: int


QUICK = Size(customers=40, concurrency=20)
FULL = Size(customers=160, concurrency=30)


@dataclass
class Recording:
    """The updates the bot handled, in its order, and how long its pipeline was busy."""

    updates: list[dict[str, Any]] = field(default_factory=list)
    busy: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)
    api_calls: int = 0  # Bot API calls the bot made in reply (lookups and polling aside)


def _add_people(fake: FakeBotApi, customers: set[int | None]) -> None:
    """The barista, the staff group and the customers, known to the fake."""
    fake.add_user(BARISTA, "Ann", language_code="en")
    fake.add_group(GROUP, "Central staff", admins=[BARISTA])
    for user_id in sorted(c for c in customers if c is not None and c != BARISTA):
        fake.add_user(user_id, f"Guest {user_id - FIRST_CUSTOMER}", language_code="en")


def _live_messages(fake: FakeBotApi, chat_id: int) -> dict[int, dict[str, Any]]:
    # FakeBotApi.messages() deep-copies a chat on every call; people polling the chat through it
    # would spend more CPU than the bot under test, so they read the fake's store, never writing.
    return fake._bot_messages.get(chat_id, {})


def _buttons(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [button for row in rows for button in row if "callback_data" in button]


async def _until(check: Callable[[], Any], timeout: float = 120.0) -> Any:
    """Poll `check` like a person glancing at the phone; its first truthy value."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise TimeoutError("the bot did not answer in time")
        await asyncio.sleep(POLL)
    return found


async def _customer(fake: FakeBotApi, user_id: int) -> None:
    """Order a latte through the chat as a person would, pressing the bot's own buttons."""
    pressed: set[tuple[int, str]] = set()

    def count() -> int:
        return len(_live_messages(fake, user_id))

    async def say(text: str) -> None:
        before = count()
        fake.send_text(user_id, text)
        await _until(lambda: count() > before)

    async def press(label: str) -> None:
        def visible() -> tuple[int, str] | None:
            messages = _live_messages(fake, user_id)
            for message_id in sorted(messages, reverse=True):
                for button in _buttons(messages[message_id]):
                    key = (message_id, str(button["callback_data"]))
                    if label in button.get("text", "") and key not in pressed:
                        return key
            return None

        key = await _until(visible)
        pressed.add(key)
        fake.press_button(user_id, *key)

    await say("/start scentral")
    await say("/search latte")
    await press("Latte")
    await press("➕")
    await press("🛒")
    await press("Checkout")
    await press("Pickup")
    await press("As soon as possible")
    await say("+8613800138000")
    await say("no sugar")
    await press("Place order")


async def _barista(fake: FakeBotApi, orders: int) -> None:
    """Accept (first ETA offered), ready and complete every card once its button shows."""
    done: set[tuple[str, str]] = set()
    completed = 0
    deadline = time.monotonic() + 300
    while completed < orders:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {completed} of {orders} orders were completed")
        messages = _live_messages(fake, GROUP)
        for message_id in sorted(messages):
            for button in _buttons(messages[message_id]):
                data = str(button["callback_data"])
                parts = data.split("|")
                if len(parts) < 3 or parts[1] not in STAFF_ACTIONS:
                    continue
                key = (parts[1], parts[2].split(",")[0])
                if key in done:
                    continue
                done.add(key)
                completed += parts[1] == "sc"
                fake.press_button(BARISTA, message_id, data, chat_id=GROUP)
        await asyncio.sleep(POLL)


def _record(app: BotApp, recording: Recording) -> None:
    """Wrap the pipeline so every update it handles is kept, in order, with its busy time."""
    pipeline = app.pipeline
    assert pipeline is not None
    process = pipeline.process

    async def recorded(raw: Mapping[str, Any]) -> Outcome:
        recording.updates.append(dict(raw))
        started = time.perf_counter()
        outcome = await process(raw)
        recording.busy += time.perf_counter() - started
        recording.outcomes[outcome.value] = recording.outcomes.get(outcome.value, 0) + 1
        return outcome

    # Instance attribute on purpose: BotApp's poll loop looks `process` up on each update.
    setattr(pipeline, "process", recorded)  # noqa: B010 - mypy refuses assigning to a method


async def _pending(app: BotApp) -> int:
    async with app.sessionmaker() as session:
        pending = await session.scalar(
            select(func.count())
            .select_from(models.OutboxMessage)
            .where(models.OutboxMessage.status == "pending")
        )
    return int(pending or 0)


async def _drained(app: BotApp, pause: float) -> None:
    """Return once no outbox row is pending: every reply has reached the fake."""
    while True:
        if not await _pending(app):
            return
        await asyncio.sleep(pause)


async def measure_bot(size: Size, scratch: Path) -> tuple[float, float, Recording, int]:
    """The real bot on the shop's rush: (seconds, busy seconds, recording, orders placed)."""
    database_url = await _fresh_database(scratch / "inbound.sqlite3")
    fake = FakeBotApi(token=TOKEN, limits=None)
    await fake.start()
    customers = [FIRST_CUSTOMER + i for i in range(size.customers)]
    _add_people(fake, set(customers))
    values = Settings().model_dump() | {
        "bot_token": SecretStr(TOKEN),
        "database_url": database_url,
        "telegram_api_url": fake.base_url,
        "runtime": "aiogram",
        "polling_timeout": 1,
        "webhook_url": None,
        "metrics_port": None,
        "admin_ids": [BARISTA],
    }
    app = BotApp(
        Settings.model_construct(**values), clock=RunningClock(OPEN_TIME), send_limits=UNLIMITED
    )
    recording = Recording()
    polling: asyncio.Task[None] | None = None
    try:
        await app.start()
        polling = asyncio.create_task(app.run_polling())
        fake.send_text(BARISTA, "/bind central", chat_id=GROUP)
        await _until(lambda: _live_messages(fake, GROUP))
        await _drained(app, POLL)
        _record(app, recording)
        slots = asyncio.Semaphore(size.concurrency)

        async def shop(user_id: int) -> None:
            async with slots:
                await _customer(fake, user_id)

        calls_before = len(fake.calls())
        started = time.perf_counter()
        await asyncio.gather(_barista(fake, size.customers), *(shop(u) for u in customers))
        injected = len(customers) * STEPS + 3 * size.customers
        await _until(lambda: len(recording.updates) >= injected)
        await _drained(app, 0.002)
        elapsed = time.perf_counter() - started
        recording.api_calls = sum(
            1 for call in fake.calls()[calls_before:] if call.method not in LOOKUPS
        )
        async with app.sessionmaker() as session:
            orders = int(await session.scalar(select(func.count(models.Order.id))) or 0)
    finally:
        app.request_stop()
        if polling is not None:
            await polling
        await app.close()
        await fake.stop()
    return elapsed, recording.busy, recording, orders


def trivial_router() -> Router:
    """One trivial handler per update kind: answer with one sendMessage, touch no database."""
    router = Router()

    @router.message()
    async def on_message(message: Message) -> SendMessage:
        return SendMessage(chat_id=message.chat.id, text="ok")

    @router.callback_query()
    async def on_press(query: CallbackQuery) -> SendMessage:
        chat_id = query.message.chat.id if query.message is not None else query.from_user.id
        return SendMessage(chat_id=chat_id, text="ok")

    return router


async def measure_aiogram(updates: list[dict[str, Any]]) -> float:
    """Seconds for bare aiogram long polling to answer every update once over the fake."""
    fake = FakeBotApi(token=TOKEN, limits=None)
    await fake.start()
    _add_people(fake, {_chat_of(update) for update in updates} - {GROUP})
    for update in updates:
        fake.inject_raw_update({k: v for k, v in update.items() if k != "update_id"})
    bot = make_bot(TOKEN, fake.base_url)
    dispatcher = Dispatcher()
    dispatcher.include_router(trivial_router())
    started = time.perf_counter()
    polling = asyncio.create_task(
        dispatcher.start_polling(
            bot, polling_timeout=1, handle_signals=False, close_bot_session=True
        )
    )
    try:
        await _until(lambda: fake.counters["sendMessage"] >= len(updates), timeout=300)
        elapsed = time.perf_counter() - started
    finally:
        await dispatcher.stop_polling()
        await polling
        await fake.stop()
    return elapsed


async def measure_feed(updates: list[dict[str, Any]]) -> float:
    """Seconds for `dp.feed_raw_update` to dispatch every update, without any HTTP."""
    bot = Bot(token=TOKEN)  # its session is never opened: handlers return, nothing is sent
    dispatcher = Dispatcher()
    dispatcher.include_router(trivial_router())
    started = time.perf_counter()
    for update in updates:
        result = await dispatcher.feed_raw_update(bot, update)
        assert isinstance(result, SendMessage)
    elapsed = time.perf_counter() - started
    await bot.session.close()
    return elapsed


async def run(size: Size) -> Row:
    """Measure the bot, then bare aiogram on its updates; one table row."""
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="o2o-inbound-") as scratch:
        seconds, busy, recording, orders = await measure_bot(size, Path(scratch))
    updates = recording.updates
    handled = len(updates)
    bare = handled / await measure_aiogram(updates)
    feed = handled / await measure_feed(updates)
    rate = handled / seconds
    presses = sum(1 for update in updates if "callback_query" in update)
    staff = sum(1 for update in updates if _chat_of(update) == GROUP)
    ratio = rate / bare
    return Row(
        name="inbound",
        what=(
            f"{handled} updates ({size.customers} customers ordering, {staff} staff presses) "
            "through inbox, handler, commit and outbox to the fake, vs bare aiogram dispatch"
        ),
        baseline=f"{bare:.0f} updates/s",
        measured=f"{rate:.0f} updates/s",
        ratio=ratio,
        goal=f"ratio >= {GOAL}",
        met=ratio >= GOAL,
        numbers={
            "bot_updates_per_s": rate,
            "aiogram_polling_updates_per_s": bare,
            "aiogram_feed_updates_per_s": feed,
            "bot_busy_updates_per_s": handled / busy if busy else 0.0,
            "bot_busy_share": busy / seconds,
            "bot_seconds": seconds,
            "updates": handled,
            "callback_updates": presses,
            "staff_updates": staff,
            "orders_placed": orders,
            "customers": size.customers,
            "concurrency": size.concurrency,
            "bot_api_calls": recording.api_calls,
            "failed_updates": recording.outcomes.get(Outcome.FAILED.value, 0),
        },
    )


def _chat_of(update: Mapping[str, Any]) -> int | None:
    body = update.get("message") or (update.get("callback_query") or {}).get("message") or {}
    chat = body.get("chat") or {}
    return chat.get("id")


def measure(quick: bool) -> list[Row]:
    """The inbound row: the bot's rate on a realistic rush against bare aiogram dispatch."""
    return [asyncio.run(run(QUICK if quick else FULL))]


def _print(row: Row) -> None:
    n = row.numbers
    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
        f"Python {platform.python_version()}"
    )
    print(row.what)
    print(
        f"orders placed {n['orders_placed']}, presses {n['callback_updates']}, "
        f"Bot API calls in reply {n['bot_api_calls']} (bare aiogram: {n['updates']}), "
        f"failed {n['failed_updates']}, concurrency {n['concurrency']}"
    )
    print(f"bare aiogram, long polling:     {n['aiogram_polling_updates_per_s']:8.0f} updates/s")
    print(f"bare aiogram, feed_raw_update:  {n['aiogram_feed_updates_per_s']:8.0f} updates/s")
    print(f"bot, whole pipeline:            {n['bot_updates_per_s']:8.0f} updates/s")
    print(
        f"bot, pipeline busy time only:   {n['bot_busy_updates_per_s']:8.0f} updates/s "
        f"(busy {100 * n['bot_busy_share']:.0f}% of the wall time)"
    )
    print(f"ratio bot / bare aiogram:       {row.ratio:8.2f}   goal {row.goal}: {row.met}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run, under a minute")
    parser.add_argument("--json", action="store_true", help="print the row as JSON")
    arguments = parser.parse_args()
    (result,) = measure(arguments.quick)
    if arguments.json:
        print(json.dumps(result.as_json(), indent=2))
    else:
        _print(result)
