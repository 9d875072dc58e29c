"""Updates per second through the whole bot on each runtime: aiogram vs python-telegram-bot.

For each runtime, in the same run: a fresh migrated SQLite file (WAL), the fake Bot API without
its rate limits, and a BotApp whose client-side send limits are lifted so that neither limiter is
the bottleneck. N `/help` messages from U users are queued at the fake first; the clock runs from
the start of long polling until every reply has arrived at the fake, so each figure covers
getUpdates, inbox + core + outbox (one commit per update) and the sender's sendMessage calls.
Rounds alternate the runtimes; the median round of each is reported.

    .venv/bin/python benchmarks/bench_runtimes.py [--updates 500] [--users 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import BotApp
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade_async
from bot.fakeapi.server import FakeBotApi
from bot.seed import seed_demo_data
from bot.sender import SendLimits
from bot.settings import Settings
from domain.clock import SystemClock

TOKEN = "123456:BENCH-token-for-the-fake-bot-api"
RUNTIMES = ("aiogram", "ptb")
FIRST_USER = 50_000
UNLIMITED = SendLimits(
    global_per_second=10_000,
    per_chat_per_second=10_000,
    per_chat_burst=10_000,
    group_per_minute=10_000,
)


async def _fresh_database(path: Path) -> str:
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade_async(url)
    engine = create_engine(url)
    try:
        await seed_demo_data(create_sessionmaker(engine), SystemClock().now())
    finally:
        await engine.dispose()
    return url


async def one_round(runtime: str, updates: int, users: int, scratch: Path, number: int) -> float:
    """Updates per second for one runtime, from a fresh database and a fresh fake."""
    database_url = await _fresh_database(scratch / f"{runtime}-{number}.sqlite3")
    fake = FakeBotApi(token=TOKEN, limits=None)
    await fake.start()
    chats = [FIRST_USER + i for i in range(users)]
    for chat in chats:
        fake.add_user(chat, f"User {chat}", language_code="en")
    settings = Settings.model_construct(
        **(
            Settings().model_dump()
            | {
                "bot_token": SecretStr(TOKEN),
                "database_url": database_url,
                "telegram_api_url": fake.base_url,
                "runtime": runtime,
                "polling_timeout": 1,
                "webhook_url": None,
            }
        )
    )
    app = BotApp(settings, send_limits=UNLIMITED)
    polling: asyncio.Task[None] | None = None
    try:
        await app.start()
        for i in range(updates):
            fake.send_text(chats[i % users], "/help")
        expected = {chat: updates // users + (i < updates % users) for i, chat in enumerate(chats)}
        started = time.perf_counter()
        polling = asyncio.create_task(app.run_polling())
        for chat, count in expected.items():
            if count:
                await fake.wait_for_messages(chat, count, timeout=300)
        elapsed = time.perf_counter() - started
    finally:
        app.request_stop()
        if polling is not None:
            await polling
        await app.close()
        await fake.stop()
    return updates / elapsed


async def main(updates: int, users: int, rounds: int) -> None:
    """Run alternating rounds on both runtimes; print the median rates and their ratio."""
    logging.basicConfig(level=logging.WARNING)
    rates: dict[str, list[float]] = {name: [] for name in RUNTIMES}
    with tempfile.TemporaryDirectory(prefix="o2o-bench-") as scratch:
        for number in range(rounds):
            order = RUNTIMES if number % 2 == 0 else RUNTIMES[::-1]
            for runtime in order:
                rate = await one_round(runtime, updates, users, Path(scratch), number)
                rates[runtime].append(rate)
    median = {name: statistics.median(values) for name, values in rates.items()}

    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
        f"Python {platform.python_version()}"
    )
    print(f"{updates} /help updates from {users} users, {rounds} rounds each, median shown")
    for name in RUNTIMES:
        shown = ", ".join(f"{rate:.0f}" for rate in rates[name])
        print(f"{name:8} {median[name]:8.0f} updates/s   (rounds: {shown})")
    print(f"ratio ptb / aiogram: {median['ptb'] / median['aiogram']:8.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=500)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.updates, arguments.users, arguments.rounds))
