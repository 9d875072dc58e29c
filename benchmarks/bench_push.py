"""A 10,000-customer push against Telegram's limits, on a simulated clock.

Real SQLite database (migrated, demo stores and catalog), 10,000 customers who said yes to
offers, each with one or two completed orders at "central" so RFM segments them, and one
campaign planned by `bot.campaigns.plan_campaign`. The fake Bot API enforces Telegram's limits
(30 messages a second overall, 1 a second per chat with a burst of 3, 20 a minute per group) and
the sender runs with `SendLimits()`. Time is simulated: the fake's limit clock, the sender's
limiters and the database clock all run `--scale` times faster than real time, and the campaign
worker's and the sender's polls are shortened by the same factor. The fake runs in its own
process (Telegram's work is not done on the bot's CPU; in-process, the fake's handling of each
burst of 30 calls sat on the bot's event loop and inflated every round trip).

Reported, per mode:

- msg/s: pushes answered per simulated second from the first push to the last (the fake's call
  times), and that as a share of the 30/s limit (goal: at least 95%);
- rtt / ceiling: the mean round trip of a call in simulated ms, and the best rate the sender can
  reach with it, 30 / (1 s + rtt): the sender counts each call against the global window from
  its start until a second after its answer, so that the server never sees 31 in one second.
  Simulated time multiplies the real round trip by --scale, so a high scale lowers the ceiling;
  a rate well under the ceiling means the machine (database, worker, sender) did not keep up;
- 429: answers "Too Many Requests" from the fake (goal: zero);
- lost / twice: customers who got no push, or more than one (goal: none);
- order wait: simulated seconds an order notification, enqueued when 25%, 50% and 75% of the
  pushes had gone, waited in the outbox before the fake had it;
- recipients' final statuses, real seconds and CPU use (process CPU s per real s; 2 = two
  cores busy) of the sending phase.

Modes, measured in the same run on copies of one prepared database:
`sender alone` (the baseline: every push enqueued at once by one worker tick with room for all,
then only the sender runs) and `campaign worker` (the product: the worker keeps at most
`--window` pushes in the outbox while the sender sends).

    .venv/bin/python benchmarks/bench_push.py [--customers 10000] [--scale 2] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from benchmarks.table import Row
from bot.campaigns import DEFAULT_WINDOW, CampaignWorker, plan_campaign
from bot.db import models
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade_async
from bot.db.uow import SqlUnitOfWork
from bot.fakeapi.server import FakeBotApi, FakeLimits
from bot.runtime_aiogram import AiogramTransport, make_bot
from bot.seed import seed_demo_data
from bot.sender import OutboxSender, SendLimits
from bot.transport import Uploads
from handlers.callbacks import CallbackCodec
from handlers.i18n import Translator
from handlers.outbound import send_message
from handlers.push_flow import campaign_ref
from handlers.turn import CoreConfig

# 14:00 in Shanghai on a Wednesday: outside the store's quiet hours (21:00-10:00).
START = datetime(2026, 5, 6, 6, 0, tzinfo=UTC)
STORE = "central"
GROUP = -1_009_000  # the manager's chat, where the campaign's progress is edited
FIRST_TELEGRAM_ID = 1_000_000
ORDER_CHATS = (900_001, 900_002, 900_003)  # customers getting an order notification mid-push
ORDER_MARKS = (0.25, 0.50, 0.75)  # share of pushes sent when each notification is enqueued
LIMIT = SendLimits().global_per_second


class SimTime:
    """Simulated time running `scale` times faster than real time: limiter seconds and a Clock."""

    def __init__(self, scale: float, start: datetime) -> None:
        self.scale = scale
        self.start = start
        self.origin = time.monotonic()

    def __call__(self) -> float:
        """Simulated seconds since construction (the limiters' and the fake's clock)."""
        return (time.monotonic() - self.origin) * self.scale

    async def sleep(self, seconds: float) -> None:
        """Sleep simulated seconds."""
        await asyncio.sleep(seconds / self.scale)

    def now(self) -> datetime:
        """The simulated wall clock (domain.clock.Clock)."""
        return self.start + timedelta(seconds=self())


@dataclass
class Prepared:
    """The prepared database: a draft campaign for every customer."""

    path: Path
    campaign_id: int
    customers: int
    audience: int
    telegram_ids: list[int]
    seconds: float


@dataclass
class Figures:
    """What one mode measured."""

    mode: str
    window: int | None
    pushes_ok: int = 0
    rate: float = 0.0
    too_many: int = 0
    lost: int = 0
    twice: int = 0
    order_waits: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    campaign: str = ""
    enqueue_seconds: float = 0.0  # real seconds to enqueue every push (sender alone only)
    real_seconds: float = 0.0  # real seconds of the sending phase
    simulated_seconds: float = 0.0
    cpu_share: float = 0.0  # process CPU seconds per real second over the sending phase
    progress_edits: int = 0
    round_trip: float = 0.0  # mean simulated seconds from a call's start to its answer
    sender_stats: dict[str, int] = field(default_factory=dict)

    @property
    def ceiling(self) -> float:
        """The sender's best rate given the round trip: each call holds one of the 30 slots
        of the global window from its start until a second after its answer."""
        return LIMIT / (1.0 + self.round_trip)

    @property
    def share(self) -> float:
        """The rate as a share of the 30/s limit."""
        return self.rate / LIMIT

    def to_json(self) -> dict[str, Any]:
        """The figures as one JSON object."""
        return {
            "mode": self.mode,
            "window": self.window,
            "pushes_delivered": self.pushes_ok,
            "messages_per_simulated_second": round(self.rate, 3),
            "share_of_limit": round(self.share, 4),
            "too_many_requests": self.too_many,
            "lost": self.lost,
            "sent_twice": self.twice,
            "order_wait_simulated_seconds": [round(w, 2) for w in self.order_waits],
            "recipient_statuses": self.statuses,
            "campaign_status": self.campaign,
            "enqueue_real_seconds": round(self.enqueue_seconds, 2),
            "sending_real_seconds": round(self.real_seconds, 2),
            "sending_simulated_seconds": round(self.simulated_seconds, 1),
            "cpu_share": round(self.cpu_share, 2),
            "progress_edits": self.progress_edits,
            "mean_round_trip_simulated_ms": round(1000 * self.round_trip, 1),
            "ceiling_per_second": round(self.ceiling, 2),
            "sender_stats": self.sender_stats,
        }


# --------------------------------------------------------------------------- preparation


async def prepare(scratch: Path, customers: int, seed: int) -> Prepared:
    """Migrate, seed, add the customers and their orders, plan the campaign as a draft."""
    started = time.perf_counter()
    path = scratch / "template.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade_async(url)
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    await seed_demo_data(sessionmaker, START - timedelta(days=200))
    rng = random.Random(seed)
    async with sessionmaker() as session, session.begin():
        store = await session.scalar(select(models.Store).where(models.Store.code == STORE))
        assert store is not None
        store.staff_chat_id = GROUP
        rows = await session.execute(
            select(models.Product.id, models.Product.name, models.Product.price_minor)
            .join(models.StoreProduct, models.StoreProduct.product_id == models.Product.id)
            .where(models.StoreProduct.store_id == store.id, models.StoreProduct.available)
        )
        products = [(int(i), str(n), int(p)) for i, n, p in rows]
        telegram_ids = [FIRST_TELEGRAM_ID + i for i in range(customers)]
        created = START - timedelta(days=300)
        await session.execute(
            insert(models.Customer),
            [
                {
                    "id": i + 1,
                    "telegram_id": telegram_id,
                    "first_name": f"Guest {i}",
                    "language": "en",
                    "marketing_consent": True,
                    "reachable": True,
                    "created_at": created,
                    "updated_at": created,
                }
                for i, telegram_id in enumerate(telegram_ids)
            ],
        )
        orders: list[dict[str, Any]] = []
        lines: list[dict[str, Any]] = []
        for customer_id in range(1, customers + 1):
            for _ in range(rng.choice((1, 2))):
                order_id = len(orders) + 1
                placed = START - timedelta(days=rng.uniform(1, 180))
                chosen = rng.sample(products, rng.randint(1, 3))
                total = 0
                for product_id, name, price in chosen:
                    quantity = rng.randint(1, 2)
                    total += price * quantity
                    lines.append(
                        {
                            "order_id": order_id,
                            "product_id": product_id,
                            "name": name,
                            "unit_price_minor": price,
                            "quantity": quantity,
                            "line_total_minor": price * quantity,
                        }
                    )
                orders.append(
                    {
                        "id": order_id,
                        "number": f"{order_id % 10_000:04d}",
                        "store_id": store.id,
                        "customer_id": customer_id,
                        "idempotency_key": f"bench:{order_id}",
                        "status": "completed",
                        "fulfilment": "pickup",
                        "subtotal_minor": total,
                        "total_minor": total,
                        "currency": store.currency,
                        "placed_at": placed,
                        "accepted_at": placed + timedelta(minutes=1),
                        "ready_at": placed + timedelta(minutes=8),
                        "completed_at": placed + timedelta(minutes=12),
                    }
                )
        await session.execute(insert(models.Order), orders)
        await session.execute(insert(models.OrderLine), lines)
    plan = await plan_campaign(
        sessionmaker, engine, STORE, START, origin="cli", chat_id=GROUP, locale="en"
    )
    assert plan.id is not None
    async with sessionmaker() as session, session.begin():
        # The manager's preview message, whose later edits show the progress.
        SqlUnitOfWork(session).enqueue(
            [send_message(GROUP, f"Campaign #{plan.id}: preview", ref=campaign_ref(plan.id))],
            START,
        )
    await engine.dispose()
    return Prepared(
        path,
        plan.id,
        plan.customers,
        len(plan.pushes),
        telegram_ids,
        time.perf_counter() - started,
    )


# --------------------------------------------------------------------------- the fake, apart


def _serve_fake(conn: Connection, origin: float, scale: float, users: list[int]) -> None:
    """Child process: the fake Bot API with Telegram's limits on the shared simulated clock."""

    def clock() -> float:
        return (time.monotonic() - origin) * scale  # CLOCK_MONOTONIC is system-wide

    async def serve() -> None:
        fake = FakeBotApi(limits=FakeLimits(), clock=clock)
        for user_id in users:
            fake.add_user(user_id, "Guest")
        fake.add_group(GROUP, "Central staff")
        await fake.start()
        conn.send((fake.base_url, fake.token, str(fake.bot_user["username"])))
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # "stop"
        await fake.stop()

    asyncio.run(serve())


class TimedTransport:
    """The aiogram transport, noting each call's round trip in simulated seconds."""

    def __init__(self, inner: AiogramTransport, sim: SimTime) -> None:
        self.inner = inner
        self.sim = sim
        self.round_trips: list[float] = []

    async def call(self, method: str, params: dict[str, Any], files: Uploads | None = None) -> Any:
        """One Bot API call through the inner transport."""
        started = self.sim()
        try:
            return await self.inner.call(method, params, files)
        finally:
            self.round_trips.append(self.sim() - started)

    async def close(self) -> None:
        """Close the inner transport."""
        await self.inner.close()


class FakeProcess:
    """The fake Bot API in its own process, so its work does not delay the bot's event loop."""

    def __init__(self, sim: SimTime, users: list[int]) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve_fake, args=(child, sim.origin, sim.scale, users), daemon=True
        )
        self.base_url = self.token = self.username = ""
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Start the child and wait until it listens."""
        self._process.start()
        loop = asyncio.get_running_loop()
        self.base_url, self.token, self.username = await loop.run_in_executor(None, self._conn.recv)
        self._http = aiohttp.ClientSession()

    async def control(self, action: str, **params: Any) -> Any:
        """One control action (see bot.fakeapi.server), e.g. counters or calls."""
        assert self._http is not None
        async with self._http.post(f"{self.base_url}/_control/{action}", json=params) as answer:
            body = await answer.json()
        assert body["ok"], body
        return body["result"]

    async def stop(self) -> None:
        """Stop the child (it stops its server first)."""
        if self._http is not None:
            await self._http.close()
        with contextlib.suppress(OSError):
            self._conn.send("stop")
        await asyncio.get_running_loop().run_in_executor(None, self._process.join, 10)


# --------------------------------------------------------------------------- one mode


async def _campaign_status(sessionmaker: async_sessionmaker[AsyncSession], cid: int) -> str:
    async with sessionmaker() as session:
        status = await session.scalar(
            select(models.Campaign.status).where(models.Campaign.id == cid)
        )
    return str(status)


async def _pending(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).where(models.OutboxMessage.status == "pending")
        )
    return int(count or 0)


async def _wait_for(predicate: Any, timeout: float, what: str, poll: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout:.0f} real seconds")
        await asyncio.sleep(poll)


async def _notify_orders(
    sessionmaker: async_sessionmaker[AsyncSession],
    sim: SimTime,
    fake: FakeProcess,
    sender: OutboxSender,
    audience: int,
    enqueued: dict[int, float],
) -> None:
    """Enqueue one order notification as 25%, 50% and 75% of the pushes have gone."""
    for chat_id, mark in zip(ORDER_CHATS, ORDER_MARKS, strict=True):

        async def reached(mark: float = mark) -> bool:
            return bool((await fake.control("counters")).get("sendMessage", 0) >= mark * audience)

        await _wait_for(reached, 3600, f"{mark:.0%} of the pushes", poll=0.05)
        async with sessionmaker() as session, session.begin():
            SqlUnitOfWork(session).enqueue(
                [send_message(chat_id, "Your order #0042 is ready for pickup.")], sim.now()
            )
        enqueued[chat_id] = sim()
        sender.wake()


async def measure_mode(
    prepared: Prepared, scratch: Path, scale: float, window: int | None
) -> Figures:
    """Send the prepared campaign once: `window` None is the baseline (sender alone)."""
    mode = "sender alone" if window is None else "campaign worker"
    figures = Figures(mode, window)
    path = scratch / f"{'alone' if window is None else 'worker'}.sqlite3"
    shutil.copyfile(prepared.path, path)
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    sessionmaker = create_sessionmaker(engine)
    sim = SimTime(scale, START)
    fake = FakeProcess(sim, [*prepared.telegram_ids, *ORDER_CHATS])
    await fake.start()
    transport = TimedTransport(
        AiogramTransport(make_bot(fake.token, fake.base_url, timeout=30)), sim
    )
    sender = OutboxSender(
        sessionmaker,
        transport,
        clock=sim,
        limits=SendLimits(),
        monotonic=sim,
        sleep=sim.sleep,
        time_scale=scale,
        poll_interval=1.0 / scale,
    )
    worker = CampaignWorker(
        sessionmaker,
        engine,
        sim,
        Translator.default(),
        CallbackCodec(b"b" * 32),
        CoreConfig(bot_username=fake.username),
        sender.wake,
        poll_interval=0.5 / scale,  # half a simulated second, as in production
        window=window if window is not None else prepared.audience + 1,
    )
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(models.Campaign)
            .where(models.Campaign.id == prepared.campaign_id)
            .values(status="running", confirmed_at=sim.now())
        )
    enqueued: dict[int, float] = {}
    tasks: list[asyncio.Task[Any]] = []
    try:
        if window is None:
            started = time.perf_counter()
            await worker.run_once()  # one tick with room for everyone: all pushes enqueued
            figures.enqueue_seconds = time.perf_counter() - started
        real0, cpu0, sim0 = time.perf_counter(), time.process_time(), sim()
        tasks.append(asyncio.create_task(sender.run()))
        tasks.append(
            asyncio.create_task(
                _notify_orders(sessionmaker, sim, fake, sender, prepared.audience, enqueued)
            )
        )
        limit = 10 * prepared.audience / LIMIT / scale + 120

        async def settled() -> bool:
            return await _pending(sessionmaker) == 0 and len(enqueued) == len(ORDER_CHATS)

        if window is None:
            await _wait_for(settled, limit, "every push sent")
            await worker.run_once()  # settle every recipient from its outbox row
        else:
            tasks.append(asyncio.create_task(worker.run()))

            async def done() -> bool:
                status = await _campaign_status(sessionmaker, prepared.campaign_id)
                return status != "running"

            await _wait_for(done, limit, "the campaign done")
            await worker.stop()
            await _wait_for(settled, 60, "the outbox drained")
        figures.real_seconds = time.perf_counter() - real0
        figures.cpu_share = (time.process_time() - cpu0) / figures.real_seconds
        figures.simulated_seconds = sim() - sim0
        await sender.stop()
        await asyncio.gather(*tasks)
        calls = await fake.control("calls")
    finally:
        for task in tasks:
            task.cancel()
        await transport.close()
        await fake.stop()

    audience = set(prepared.telegram_ids)
    sends = [c for c in calls if c["method"] == "sendMessage" and c["status"] == 200]
    delivered = [c for c in sends if c["chat_id"] in audience]
    figures.pushes_ok = len(delivered)
    if len(delivered) > 1:
        times = sorted(float(c["time"]) for c in delivered)
        figures.rate = (len(times) - 1) / (times[-1] - times[0])
    figures.too_many = sum(1 for c in calls if c["status"] == 429)
    per_user = Counter(int(c["chat_id"]) for c in delivered)
    async with sessionmaker() as session:
        planned = {
            int(telegram_id)
            for telegram_id in await session.scalars(
                select(models.Customer.telegram_id)
                .join(
                    models.CampaignRecipient,
                    models.CampaignRecipient.customer_id == models.Customer.id,
                )
                .where(models.CampaignRecipient.campaign_id == prepared.campaign_id)
            )
        }
        figures.statuses = {
            str(status): int(count)
            for status, count in await session.execute(
                select(models.CampaignRecipient.status, func.count())
                .where(models.CampaignRecipient.campaign_id == prepared.campaign_id)
                .group_by(models.CampaignRecipient.status)
            )
        }
    figures.campaign = await _campaign_status(sessionmaker, prepared.campaign_id)
    figures.lost = sum(1 for telegram_id in planned if per_user[telegram_id] == 0)
    figures.twice = sum(1 for count in per_user.values() if count > 1)
    for chat_id in ORDER_CHATS:
        answered = [float(c["time"]) for c in sends if c["chat_id"] == chat_id]
        figures.order_waits.append(answered[0] - enqueued[chat_id] if answered else float("nan"))
    figures.progress_edits = sum(
        1 for c in calls if c["method"] == "editMessageText" and c["chat_id"] == GROUP
    )
    figures.sender_stats = dict(sender.stats)
    figures.round_trip = statistics.fmean(transport.round_trips)
    await engine.dispose()
    return figures


# --------------------------------------------------------------------------- report


def _row(f: Figures) -> str:
    waits = " ".join(f"{w:5.1f}" for w in f.order_waits)
    return (
        f"{f.mode:<16} {'all' if f.window is None else f.window:>6} {f.pushes_ok:>7} "
        f"{f.rate:6.2f} {100 * f.share:6.1f}% {1000 * f.round_trip:6.0f} {f.ceiling:7.2f} "
        f"{f.too_many:>4} {f.lost:>5} {f.twice:>5}  {waits:<17}  {f.real_seconds:6.1f} "
        f"{f.cpu_share:5.2f}"
    )


@dataclass(frozen=True)
class Size:
    """How big a run is: customers (one push each) and the simulated clock's speed."""

    customers: int
    scale: float


QUICK = Size(customers=600, scale=2.0)
FULL = Size(customers=10_000, scale=2.0)
GOAL_SHARE = 0.95


async def run(
    customers: int, scale: float, window: int, seed: int
) -> tuple[Prepared, Figures, Figures, float]:
    """Prepare once, then both modes: (prepared, sender alone, campaign worker, real seconds)."""
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        scratch = Path(directory)
        prepared = await prepare(scratch, customers, seed)
        baseline = await measure_mode(prepared, scratch, scale, None)
        product = await measure_mode(prepared, scratch, scale, window)
    return prepared, baseline, product, time.perf_counter() - began


def _summary(f: Figures) -> str:
    return (
        f"{f.rate:.2f} msg/s ({100 * f.share:.1f}% of 30/s), {f.too_many} 429s, "
        f"{f.lost} lost, {f.twice} twice; an order notice waited up to {max(f.order_waits):.1f} s"
    )


def row_from(prepared: Prepared, scale: float, baseline: Figures, product: Figures) -> Row:
    """The outbound row: the campaign worker's share of 30/s against the sender alone."""
    met = (
        product.share >= GOAL_SHARE
        and product.too_many == 0
        and product.lost == 0
        and product.twice == 0
    )
    numbers: dict[str, float | int] = {
        "customers": prepared.customers,
        "pushes_planned": prepared.audience,
        "scale": scale,
        "limit_per_second": LIMIT,
    }
    for prefix, figures in (("baseline_", baseline), ("worker_", product)):
        numbers |= {
            f"{prefix}messages_per_second": figures.rate,
            f"{prefix}share_of_limit": figures.share,
            f"{prefix}too_many_requests": figures.too_many,
            f"{prefix}lost": figures.lost,
            f"{prefix}twice": figures.twice,
            f"{prefix}order_wait_max_s": max(figures.order_waits),
            f"{prefix}round_trip_ms": 1000 * figures.round_trip,
            f"{prefix}ceiling_per_second": figures.ceiling,
            f"{prefix}sending_real_seconds": figures.real_seconds,
            f"{prefix}cpu_share": figures.cpu_share,
        }
    return Row(
        name="outbound",
        what=(
            f"a {prepared.audience:,}-push campaign ({prepared.customers:,} customers) against "
            "the fake Bot API enforcing Telegram's limits (its own process), simulated clock "
            f"x{scale:g}, SQLite; share of 30 msg/s reached; baseline = every push enqueued at "
            "once and only the sender running; measured = the campaign worker keeping "
            f"{product.window} pushes in the outbox"
        ),
        baseline=_summary(baseline),
        measured=_summary(product),
        ratio=product.rate / baseline.rate if baseline.rate else None,
        goal=f">= {GOAL_SHARE:.0%} of 30/s, no 429, none lost or twice",
        met=met,
        numbers=numbers,
    )


def measure(quick: bool) -> list[Row]:
    """The outbound row (quick: 600 customers; else 10,000; both at simulated x2)."""
    size = QUICK if quick else FULL
    prepared, baseline, product, _ = asyncio.run(run(size.customers, size.scale, DEFAULT_WINDOW, 1))
    return [row_from(prepared, size.scale, baseline, product)]


async def main(customers: int, scale: float, window: int, seed: int, as_json: bool) -> None:
    """Prepare once, measure both modes, print a table (or one JSON object)."""
    prepared, baseline, product, total = await run(customers, scale, window, seed)
    machine = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    if as_json:
        print(
            json.dumps(
                {
                    "machine": machine,
                    "customers": customers,
                    "audience": prepared.audience,
                    "scale": scale,
                    "limit_per_second": LIMIT,
                    "prepare_real_seconds": round(prepared.seconds, 1),
                    "total_real_seconds": round(total, 1),
                    "baseline": baseline.to_json(),
                    "campaign_worker": product.to_json(),
                    "rate_ratio_worker_to_baseline": round(product.rate / baseline.rate, 4)
                    if baseline.rate
                    else None,
                },
                indent=2,
            )
        )
        return
    print(
        f"machine: {machine['platform']}, {machine['cpus']} CPUs, Python {machine['python']}; "
        f"{customers:,} customers, {prepared.audience:,} planned pushes, simulated clock "
        f"x{scale:g}, limit {LIMIT}/s (prepared in {prepared.seconds:.1f} s real)"
    )
    print(
        f"{'mode':<16} {'window':>6} {'pushes':>7} {'msg/s':>6} {'of 30/s':>7} {'rtt ms':>6} "
        f"{'ceiling':>7} {'429':>4} {'lost':>5} {'twice':>5}  {'order wait s 25/50/75%':<17}  "
        f"{'real s':>6} {'cpu':>5}"
    )
    for figures in (baseline, product):
        print(_row(figures))
    for figures in (baseline, product):
        statuses = ", ".join(f"{k} {v:,}" for k, v in sorted(figures.statuses.items()))
        print(
            f"{figures.mode}: campaign {figures.campaign}; recipients {statuses}; "
            f"{figures.simulated_seconds:.0f} s simulated; progress edits "
            f"{figures.progress_edits}; sender retried_429 "
            f"{figures.sender_stats.get('retried_429', 0)}"
            + (
                f"; enqueued all in {figures.enqueue_seconds:.1f} s real"
                if figures.window is None
                else ""
            )
        )
    if baseline.rate:
        print(f"rate, campaign worker / sender alone: {product.rate / baseline.rate:.3f}")
    worst = max(product.order_waits)
    if worst > 0:
        print(
            "max order wait, sender alone / campaign worker: "
            f"{max(baseline.order_waits) / worst:.0f}x"
        )
    print(f"total: {total:.0f} s real")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=FULL.customers)
    parser.add_argument(
        "--scale", type=float, default=FULL.scale, help="simulated seconds per real second"
    )
    parser.add_argument("--window", type=int, default=DEFAULT_WINDOW, help="campaign window")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK.customers:,} customers")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    arguments = parser.parse_args()
    asyncio.run(
        main(
            QUICK.customers if arguments.quick else arguments.customers,
            arguments.scale,
            arguments.window,
            arguments.seed,
            arguments.json,
        )
    )
