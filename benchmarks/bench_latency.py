"""Order-to-staff-card latency at 100 orders a minute, and the bot's resident memory.

Set-up: `o2o run` (`python -m bot.cli run`, aiogram, long polling, INFO JSON logs to a file) as
its own process on a fresh migrated SQLite file, against the fake Bot API in this process with
Telegram's limits (30 messages/s overall, 1/s per chat with a burst of 3, 20 a minute per group).
Telegram lets one group take 20 messages a minute, so the 100 orders a minute go to ten stores
(open around the clock, one made-to-order latte each), each with its own staff group: 10 orders a
minute per group. Before anything is measured, every customer (one per order) is driven through
the chat up to the confirmation screen: /start with the store's deep link, /menu, the category,
the product, ➕, the cart, Checkout, Pickup, As soon as possible, a phone number, Skip.

Measured: at a steady 100 a minute (one every 0.6 s, customers taking turns across the stores),
a customer presses "Place order"; per order, the time from the fake queueing that callback
update to the fake receiving the sendMessage carrying the order's card in the store's group
(the fake's `RecordedCall.time`; both on this process's monotonic clock). Cards are matched to
orders by the order number. Baseline, same run, before the load: the same latency for orders
placed one at a time with the bot otherwise idle (each after the previous card arrived and a
second of quiet). Ratio: p50 under load / p50 idle. Also reported, per press, when the bot next
polled (it polls again once the update's transaction is done), when the press was answered and
when the customer's receipt (the summary edited) arrived.

The process's first order (lazy imports, first-time statements) is placed before the baseline
and reported apart (`warm_up_s`).

Where the time goes (2026-11, this VM, 60 orders at 100/min, timestamps inside the bot process;
median / p90 ms): handling the update (inbox, core, outbox, commit) 19 / 24; the sender's read
of the pending rows after the commit wakes it 8 / 16; then, before the card was sent, a second
read of what waited behind it in the group (for digests) 8 / 21; the sendMessage round trip 2.4
/ 3. Card p50 43, p99 61 ms. The sender now learns from its first read whether a card is alone
in its chat, and a lone card with room in the group's limit skips the second read: p50 26, p99
49 ms (full run, 300 orders: p50 37.9 / p99 63.6 ms before, 29.9 / 50.2 ms after). What remains
is mostly the update's transaction and the sender's first read, each a few SQLite transactions
through aiosqlite's thread (BEGIN IMMEDIATE) on a slow 2-core VM.

2026-12, counted from a trace of the quick run inside the bot process (statements, transactions
and aiosqlite thread hops per order over the loaded phase; deterministic, unlike the timings on
this shared VM): every commit also woke the report and campaign workers, whose look for work
(three more transactions, all BEGIN IMMEDIATE) ran between the commit and the sender's read and
queued it behind their write lock. They are now woken only by an update that queued a report or
started or stopped a campaign; the sender's reads are DEFERRED (WAL snapshot, no write lock, no
busy-handler naps); placing an order no longer reads back the order it just wrote. Per order:
statements 52.5 -> 43.2, transactions 11.3 -> 8.3, thread hops 202 -> 167 (the update's own
transaction 27 -> 25 statements, 97 -> 86 hops); between the commit and the card's call 3-5
statements instead of 6-12; the bot's CPU time per order about 59 -> 51-55 ms. Left in the way:
the update's transaction (25 statements, each 3-4 hops through aiosqlite's thread) and the
sender's one read; SQLAlchemy is about half the event loop's CPU. Quick run, same VM, one
after the other in a calm minute: p50 32.4 / p99 50.7 ms before, 31.9 / 48.3 ms after.

Memory: the bot process's resident set (/proc/PID/status) after start-up and 3 s of idle
polling, and its peak during the measured phase (VmHWM, reset through /proc/PID/clear_refs when
the load starts; the highest VmRSS sampled every 50 ms otherwise). Ratio: peak / idle. Most of
the idle 288 MiB was imports: aiogram (its pydantic types) about 140 MiB, pandas, matplotlib and
surprise about 80 MiB. Those are now imported by the first report, RFM or campaign plan (not by
bot/app.py, bot/reports.py, bot/campaigns.py or bot/db/campaigns.py at start-up): idle 295 ->
213 MiB (RSS of `o2o run` against the fake after 3 s and after 10 s idle; no pandas, numpy,
matplotlib or surprise mapped).

    .venv/bin/python benchmarks/bench_latency.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import os
import platform
import re
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from benchmarks.table import Row, render
from bot.admin.catalog import import_catalog_in
from bot.admin.stores import StoreChanges, add_store_in
from bot.db import models
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade_async
from bot.fakeapi.server import FakeBotApi, FakeLimits
from tests.e2e.shopper import Shopper

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456:BENCH-token-for-the-fake-bot-api"
STORES = 10
FIRST_GROUP = -1_009_200
FIRST_CUSTOMER = 300_000
RATE_PER_MINUTE = 100
GOAL_P99 = 0.050
IDLE_SETTLE = 3.0  # seconds of idle polling before the idle resident size is read
BUILD_CONCURRENCY = 25  # customers filling their carts at once before the measured phase
CARD_RE = re.compile(r"Order #(\d+)")

# Open around the clock so the run does not depend on the hour; coffee is made to order (no
# stock), so no order can fail for want of stock.
CATALOG = """
categories:
  - code: coffee
    name: Coffee
products:
  - code: latte
    name: Latte
    category: coffee
    price: "28.00"
    currency: CNY
"""


@dataclass(frozen=True)
class Size:
    """How big a run is: orders under load, and orders placed one at a time for the baseline."""

    orders: int
    idle_orders: int


QUICK = Size(orders=40, idle_orders=5)
FULL = Size(orders=300, idle_orders=10)


@dataclass
class Figures:
    """What one run measured (seconds and bytes)."""

    warm_up: float = 0.0
    idle_latencies: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    orders: int = 0
    rss_idle: int = 0
    rss_peak: int = 0
    rss_sampled_max: int = 0
    hwm_reset: bool = False
    offered_per_minute: float = 0.0
    build_seconds: float = 0.0
    measured_seconds: float = 0.0
    calls: dict[str, int] = field(default_factory=dict)
    idle_stages: dict[str, list[float]] = field(default_factory=dict)
    stages: dict[str, list[float]] = field(default_factory=dict)


def _percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (p99 of 40 values is the 40th: the worst)."""
    ordered = sorted(values)
    rank = max(1, -(-int(share * 1000) * len(ordered) // 1000))
    return ordered[min(rank, len(ordered)) - 1]


# --------------------------------------------------------------------------- the shop


def _group(index: int) -> int:
    return FIRST_GROUP - index


def _store_code(index: int) -> str:
    return f"bench{index:02d}"


async def _prepare(path: Path) -> str:
    """A migrated database with the benchmark stores, each bound to its staff group."""
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade_async(url)
    engine = create_engine(url)
    now = datetime.now(UTC)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            for index in range(STORES):
                changes = StoreChanges(
                    name=f"Bench Café {index}",
                    address=f"{index} Bench Street",
                    timezone="UTC",
                    currency="CNY",
                    hours="daily 24h",
                    fulfilment="pickup,dine_in",
                    staff_chat_id=_group(index),
                )
                await add_store_in(session, _store_code(index), changes, now)
            report = await import_catalog_in(session, CATALOG, "yaml", now, source="bench")
            assert report.ok, report.error_lines()
    finally:
        await engine.dispose()
    return url


class Customer(Shopper):
    """A shopper who waits only for their own chat, so many can shop at once."""

    def reactions(self) -> int:
        """A fingerprint of this chat as it stands (changes with every message or edit)."""
        return hash(json.dumps(self.fake.messages(self.user_id), sort_keys=True, default=str))

    async def settle(self, before: int) -> None:
        """Wait for a change in this chat, then for 0.3 s without one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while self.reactions() == before:
            if loop.time() > deadline:
                raise AssertionError("the bot did not react:\n" + "\n".join(self.texts()))
            await asyncio.sleep(0.02)
        seen, quiet = self.reactions(), loop.time()
        while loop.time() - quiet < 0.3:
            await asyncio.sleep(0.05)
            if (now := self.reactions()) != seen:
                seen, quiet = now, loop.time()

    async def fill_cart(self, store: str) -> tuple[int, str]:
        """Walk to the confirmation screen; the Place order button (message id, data)."""
        await self.send(f"/start s{store}")
        await self.send("/menu")
        await self.press("Coffee")
        await self.press("Latte")
        await self.press("➕")
        await self.press("🛒")
        await self.press("Checkout")
        await self.press("Pickup")
        await self.press("As soon as possible")
        await self.send("+86 138 0013 8000")
        await self.press("Skip")
        return self.find_button("Place order")


# --------------------------------------------------------------------------- the bot process


def _bot_env(fake: FakeBotApi, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("O2O_")}
    return env | {
        "O2O_BOT_TOKEN": TOKEN,
        "O2O_TELEGRAM_API_URL": fake.base_url,
        "O2O_DATABASE_URL": url,
        "O2O_RUNTIME": "aiogram",
        "PYTHONPATH": str(ROOT),
    }


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process in bytes."""
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) * 1024
    return values


def _reset_peak(pid: int) -> bool:
    """Reset the process's VmHWM to its current VmRSS (Linux 4.0+); False when refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


async def _sample_rss(pid: int, into: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(OSError, KeyError):
            into.append(_status(pid)["VmRSS"])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.05)


# --------------------------------------------------------------------------- measuring


def _cards(fake: FakeBotApi, groups: set[int]) -> dict[str, float]:
    """Order number -> when the fake received the sendMessage carrying its card."""
    arrived: dict[str, float] = {}
    for call in fake.calls("sendMessage"):
        if call.chat_id in groups and call.ok:
            match = CARD_RE.search(str(call.params.get("text", "")))
            if match:
                arrived.setdefault(match.group(1), call.time)
    return arrived


async def _order_numbers(url: str) -> dict[int, str]:
    """Customer Telegram id -> the number of the order they placed."""
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            rows = await session.execute(
                select(models.Customer.telegram_id, models.Order.number).join(
                    models.Order, models.Order.customer_id == models.Customer.id
                )
            )
            return {int(telegram_id): str(number) for telegram_id, number in rows}
    finally:
        await engine.dispose()


async def _wait_cards(fake: FakeBotApi, groups: set[int], count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(_cards(fake, groups)) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(_cards(fake, groups))} of {count} cards arrived")
        await asyncio.sleep(0.05)


@dataclass(frozen=True)
class Press:
    """One Place order press: who, the callback query's id, when the fake queued it."""

    user_id: int
    query_id: str
    at: float


def _press(fake: FakeBotApi, user_id: int, button: tuple[int, str]) -> Press:
    """Press Place order, noting the fake's clock (its default, monotonic) once it is queued."""
    query_id = fake.press_button(user_id, *button)
    return Press(user_id, query_id, time.monotonic())


def _stages(fake: FakeBotApi, presses: list[Press]) -> dict[str, list[float]]:
    """Per press, seconds until the bot polled again (it polls after handling an update), the
    press was answered and the customer's receipt (the summary edited) arrived."""
    polls = sorted(call.time for call in fake.calls("getUpdates"))
    answers = {
        str(call.params.get("callback_query_id")): call.time
        for call in fake.calls("answerCallbackQuery")
    }
    edits: dict[int, float] = {}
    for call in fake.calls("editMessageText"):
        if call.chat_id is not None:
            edits[call.chat_id] = call.time  # the last edit: the receipt
    stages: dict[str, list[float]] = {"polled": [], "answered": [], "receipt": []}
    for press in presses:
        stages["polled"].append(polls[bisect.bisect_right(polls, press.at)] - press.at)
        stages["answered"].append(answers[press.query_id] - press.at)
        stages["receipt"].append(edits[press.user_id] - press.at)
    return stages


async def _fill(fake: FakeBotApi, customers: list[int]) -> dict[int, tuple[int, str]]:
    """Every customer's cart up to the confirmation screen, BUILD_CONCURRENCY at a time."""
    gate = asyncio.Semaphore(BUILD_CONCURRENCY)
    buttons: dict[int, tuple[int, str]] = {}

    async def one(user_id: int) -> None:
        async with gate:
            store = _store_code((user_id - FIRST_CUSTOMER) % STORES)
            buttons[user_id] = await Customer(fake, user_id).fill_cart(store)

    await asyncio.gather(*(one(user_id) for user_id in customers))
    return buttons


async def run(size: Size, scratch: Path) -> Figures:
    """Start the shop and the bot, fill the carts, measure idle and loaded latency and memory."""
    figures = Figures()
    url = await _prepare(scratch / "latency.sqlite3")
    fake = FakeBotApi(token=TOKEN, limits=FakeLimits())
    await fake.start()
    groups = {_group(index) for index in range(STORES)}
    for index in range(STORES):
        fake.add_group(_group(index), f"Bench Café {index} staff")
    total = 1 + size.idle_orders + size.orders
    customers = [FIRST_CUSTOMER + i for i in range(total)]
    for user_id in customers:
        fake.add_user(user_id, f"Guest {user_id - FIRST_CUSTOMER}", language_code="en")
    log = (scratch / "bot.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        env=_bot_env(fake, url),
        cwd=scratch,
        stdout=log,
        stderr=log,
    )
    try:
        await fake.wait_for_calls("deleteWebhook", 1, timeout=60)  # polling has begun
        await asyncio.sleep(IDLE_SETTLE)
        figures.rss_idle = _status(process.pid)["VmRSS"]

        started = time.monotonic()
        buttons = await _fill(fake, customers)
        await fake.wait_idle(quiet=1.0, timeout=120)
        figures.build_seconds = time.monotonic() - started

        # The process's first order pays for lazy imports and first-time statements: kept apart.
        warm_up = _press(fake, customers[0], buttons[customers[0]])
        await _wait_cards(fake, groups, 1, timeout=30)
        await fake.wait_idle(quiet=1.0, timeout=30)
        # Baseline: one order at a time, each into a quiet bot.
        idle: list[Press] = []
        for user_id in customers[1 : 1 + size.idle_orders]:
            idle.append(_press(fake, user_id, buttons[user_id]))
            await _wait_cards(fake, groups, 1 + len(idle), timeout=30)
            await fake.wait_idle(quiet=1.0, timeout=30)

        # Load: 100 a minute, customers taking turns across the stores.
        figures.hwm_reset = _reset_peak(process.pid)
        samples: list[int] = []
        stop = asyncio.Event()
        sampler = asyncio.create_task(_sample_rss(process.pid, samples, stop))
        interval = 60.0 / RATE_PER_MINUTE
        loaded = customers[1 + size.idle_orders :]
        loaded_presses: list[Press] = []
        began = time.monotonic()
        for number, user_id in enumerate(loaded):
            delay = began + number * interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            loaded_presses.append(_press(fake, user_id, buttons[user_id]))
        last = time.monotonic()
        figures.offered_per_minute = 60.0 * (len(loaded) - 1) / (last - began)
        await _wait_cards(fake, groups, total, timeout=120)
        figures.measured_seconds = time.monotonic() - began
        stop.set()
        await sampler
        status = _status(process.pid)
        figures.rss_sampled_max = max(samples, default=0)
        figures.rss_peak = (
            status["VmHWM"] if figures.hwm_reset else max(figures.rss_sampled_max, status["VmRSS"])
        )
        await fake.wait_idle(quiet=0.5, timeout=60)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()
        await fake.stop()

    numbers = await _order_numbers(url)
    cards = _cards(fake, groups)
    figures.warm_up = cards[numbers[warm_up.user_id]] - warm_up.at
    figures.idle_latencies = [cards[numbers[p.user_id]] - p.at for p in idle]
    figures.latencies = [cards[numbers[p.user_id]] - p.at for p in loaded_presses]
    figures.idle_stages = _stages(fake, idle)
    figures.stages = _stages(fake, loaded_presses)
    figures.orders = len(figures.latencies)
    figures.calls = {
        method: sum(1 for call in fake.calls(method))
        for method in ("sendMessage", "editMessageText", "answerCallbackQuery")
    }
    figures.calls["429"] = sum(1 for call in fake.calls() if call.status == 429)
    return figures


# --------------------------------------------------------------------------- report


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:.1f}"


def _stage_numbers(prefix: str, stages: dict[str, list[float]]) -> dict[str, float | int]:
    numbers: dict[str, float | int] = {}
    for stage, values in stages.items():
        numbers[f"{prefix}{stage}_p50_s"] = statistics.median(values)
        numbers[f"{prefix}{stage}_p99_s"] = _percentile(values, 0.99)
    return numbers


def rows_from(figures: Figures) -> list[Row]:
    """The latency and memory rows of the benchmark table."""
    idle_p50 = statistics.median(figures.idle_latencies)
    p50 = statistics.median(figures.latencies)
    p99 = _percentile(figures.latencies, 0.99)
    worst = max(figures.latencies)
    latency = Row(
        name="latency",
        what=(
            f"`o2o run` (own process, SQLite, polling) vs the fake Bot API with Telegram's "
            f"limits: 'Place order' update queued -> the staff card's sendMessage at the fake; "
            f"{figures.orders} orders at {RATE_PER_MINUTE}/min over {STORES} stores and groups "
            f"({RATE_PER_MINUTE // STORES}/min each); baseline: same path, one order at a time, "
            f"bot idle; ratio p50 load / p50 idle"
        ),
        baseline=f"p50 {_ms(idle_p50)} ms idle",
        measured=(
            f"p50 {_ms(p50)} ms, p99 {_ms(p99)} ms at {figures.offered_per_minute:.0f} orders/min"
        ),
        ratio=p50 / idle_p50 if idle_p50 else None,
        goal="p99 < 50 ms",
        met=p99 < GOAL_P99,
        numbers={
            "orders": figures.orders,
            "idle_orders": len(figures.idle_latencies),
            "warm_up_s": figures.warm_up,
            "idle_p50_s": idle_p50,
            "p50_s": p50,
            "p99_s": p99,
            "max_s": worst,
            "orders_per_minute": figures.offered_per_minute,
            "build_s": figures.build_seconds,
            "measured_s": figures.measured_seconds,
            **{f"calls_{k}": v for k, v in figures.calls.items()},
            **_stage_numbers("idle_", figures.idle_stages),
            **_stage_numbers("", figures.stages),
        },
    )
    mib = 1024 * 1024
    memory = Row(
        name="memory",
        what=(
            "resident set of the `o2o run` process (/proc/PID/status): after start-up and "
            f"{IDLE_SETTLE:.0f} s idle polling vs peak (VmHWM"
            + (" reset at the start" if figures.hwm_reset else "")
            + " / VmRSS sampled every 50 ms) during the latency load"
        ),
        baseline=f"{figures.rss_idle / mib:.1f} MiB idle",
        measured=f"{figures.rss_peak / mib:.1f} MiB peak under load",
        ratio=figures.rss_peak / figures.rss_idle if figures.rss_idle else None,
        numbers={
            "rss_idle_bytes": figures.rss_idle,
            "rss_peak_bytes": figures.rss_peak,
            "rss_sampled_max_bytes": figures.rss_sampled_max,
            "hwm_reset": int(figures.hwm_reset),
        },
    )
    return [latency, memory]


def measure(quick: bool) -> list[Row]:
    """Run the benchmark (quick: 40 orders, else 300) and return its two table rows."""
    with tempfile.TemporaryDirectory() as directory:
        figures = asyncio.run(run(QUICK if quick else FULL, Path(directory)))
    return rows_from(figures)


def main() -> None:
    """Command line: print the table (or JSON) of one run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 orders instead of 300")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    arguments = parser.parse_args()
    began = time.perf_counter()
    rows = measure(arguments.quick)
    machine = f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    if arguments.json:
        print(json.dumps({"machine": machine, "rows": [row.as_json() for row in rows]}, indent=2))
        return
    print(f"machine: {machine}")
    print(render(rows))
    for row in rows:
        print(f"{row.name}: {row.what}")
    figures = rows[0].numbers
    for prefix, label in (("idle_", "idle"), ("", "load")):
        stages = ", ".join(
            f"{stage} p50 {1000 * float(figures[f'{prefix}{stage}_p50_s']):.1f} / p99 "
            f"{1000 * float(figures[f'{prefix}{stage}_p99_s']):.1f} ms"
            for stage in ("polled", "answered", "receipt")
        )
        print(f"{label}, press -> {stages}")
    print(f"total: {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
