"""Two `o2o run --webhook` processes behind one address share the work without doubling it.

A round-robin proxy in the test stands in for the reverse proxy: the fake Bot API posts every
update to it, and it hands them to the two processes in turn, so each conversation hops
between processes at every step. Both run a sender; one leads at a time.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy import func, select, update

from bot.db import models
from bot.db.engine import create_engine, create_sessionmaker
from bot.fakeapi.server import FakeBotApi
from domain.schedule import OpeningHours
from tests.e2e.conftest import TOKEN, WEBHOOK_SECRET, free_port
from tests.e2e.shopper import Shopper

ROOT = Path(__file__).resolve().parents[2]
CUSTOMERS = [7101, 7102, 7103]


@asynccontextmanager
async def _round_robin(backends: list[int], served: Counter[int]) -> AsyncIterator[int]:
    """An HTTP proxy on a free port passing each request to the next backend port."""
    turn = itertools.cycle(backends)
    session = aiohttp.ClientSession()

    async def forward(request: web.Request) -> web.Response:
        port = next(turn)
        served[port] += 1
        headers = {
            k: v for k, v in request.headers.items() if k.lower().startswith(("x-", "content-"))
        }
        async with session.post(
            f"http://127.0.0.1:{port}{request.path}", data=await request.read(), headers=headers
        ) as reply:
            return web.Response(status=reply.status, body=await reply.read())

    app = web.Application()
    app.router.add_post("/{tail:.*}", forward)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield port
    finally:
        await runner.cleanup()
        await session.close()


async def _run(url: str, fake: FakeBotApi, public: int, port: int) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("O2O_")}
    env |= {
        "O2O_BOT_TOKEN": TOKEN,
        "O2O_TELEGRAM_API_URL": fake.base_url,
        "O2O_DATABASE_URL": url,
        "O2O_WEBHOOK_URL": f"http://127.0.0.1:{public}/hook",
        "O2O_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "O2O_WEBHOOK_PORT": str(port),
        "O2O_SENDER_LEASE_SECONDS": "1",
        "O2O_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", "--webhook", env=env, cwd=ROOT
    )


async def _button(me: Shopper, label: str) -> tuple[int, str]:
    """The button once its message arrived (the sender keeps 1 message/s per chat)."""
    for _ in range(100):
        try:
            return me.find_button(label)
        except AssertionError:
            await asyncio.sleep(0.1)
    return me.find_button(label)


async def _outbox_drained(url: str, timeout: float = 60.0) -> None:
    """Wait until no outbox row is pending (the group's cards go out at 20 a minute)."""
    engine = create_engine(url)
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while asyncio.get_running_loop().time() < deadline:
            async with create_sessionmaker(engine)() as session:
                pending = await session.scalar(
                    select(func.count())
                    .select_from(models.OutboxMessage)
                    .where(models.OutboxMessage.status == "pending")
                )
            if not pending:
                return
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()


async def _open_around_the_clock(url: str) -> None:
    """The processes run on the real clock: Central's real hours would fail the test at night."""
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await session.execute(
                update(models.Store)
                .where(models.Store.code == "central")
                .values(opening_hours=OpeningHours.always().to_json())
            )
    finally:
        await engine.dispose()


async def _order(me: Shopper) -> None:
    await me.send("/start scentral")
    await me.send("/menu")
    await me.press("Bakery")
    await me.press("Croissant")
    await me.press("➕")
    await me.press("🛒")
    await me.press("Checkout")
    await me.press("Pickup")
    await me.press("As soon as possible")
    await me.send("+86 138 0013 8000")
    await me.press("Skip")
    place = await _button(me, "Place order")
    await me.press("Place order")
    await me.press_data(*place)  # pressed twice: one order all the same


async def test_two_webhook_processes_share_conversations_and_place_each_order_once(
    fake: FakeBotApi, seeded_url: str
) -> None:
    for user_id in CUSTOMERS:
        fake.add_user(user_id, f"C{user_id}", language_code="en")
    await _open_around_the_clock(seeded_url)
    ports = [free_port(), free_port()]
    served: Counter[int] = Counter()
    async with _round_robin(ports, served) as public:
        processes = [await _run(seeded_url, fake, public, port) for port in ports]
        try:
            await fake.wait_for_calls("setWebhook", 2, timeout=60)
            for user_id in CUSTOMERS:
                await _order(Shopper(fake, user_id))
            await _outbox_drained(seeded_url)
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            codes = [await asyncio.wait_for(p.wait(), 30) for p in processes]
    assert codes == [0, 0]
    assert min(served[port] for port in ports) > 10, "both processes took updates"

    engine = create_engine(seeded_url)
    try:
        async with create_sessionmaker(engine)() as session:
            orders = (await session.scalars(select(models.Order))).all()
            outbox = (await session.scalars(select(models.OutboxMessage))).all()
            customers = {
                c.id: c.telegram_id for c in (await session.scalars(select(models.Customer))).all()
            }
    finally:
        await engine.dispose()
    assert Counter(customers[o.customer_id] for o in orders) == Counter(CUSTOMERS)
    unsent = [(r.chat_id, r.method, r.status, r.last_error) for r in outbox if r.status != "sent"]
    assert not unsent, "every reply delivered"
    sends = [c for c in fake.calls("sendMessage") if c.ok and c.chat_id in CUSTOMERS]
    texts = Counter((c.chat_id, c.params.get("text")) for c in sends)
    rows = Counter(
        (row.chat_id, row.params.get("text"))
        for row in outbox
        if row.method == "sendMessage" and row.chat_id in CUSTOMERS
    )
    assert texts == rows, "each reply sent once"
    for user_id in CUSTOMERS:
        assert sum("placed" in text for text in Shopper(fake, user_id).texts()) == 1
