"""Updates per second through the whole bot on each runtime: aiogram vs python-telegram-bot.

For each runtime, in the same run: a fresh migrated SQLite file (WAL), the fake Bot API without
its rate limits, and a BotApp whose client-side send limits are lifted so that neither limiter is
the bottleneck. N `/help` messages from U users are queued at the fake first; the clock runs from
the start of long polling until every reply has arrived at the fake, so each figure covers
getUpdates, inbox + core + outbox (one commit per update) and the sender's sendMessage calls.
Rounds alternate the runtimes; the median round of each is reported.

    .venv/bin/python benchmarks/bench_runtimes.py [--updates 500] [--users 50] [--rounds 5]
    .venv/bin/python benchmarks/bench_runtimes.py --quick
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
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.table import Row
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


@dataclass(frozen=True)
class Size:
    """How big a run is: `updates` /help messages from `users` users, `rounds` per runtime."""

    updates: int
    users: int
    rounds: int


QUICK = Size(updates=120, users=40, rounds=3)
FULL = Size(updates=500, users=50, rounds=5)


async def rates(size: Size) -> dict[str, list[float]]:
    """Alternating rounds on both runtimes: each runtime's rate per round, in updates/s."""
    logging.basicConfig(level=logging.WARNING)
    measured: dict[str, list[float]] = {name: [] for name in RUNTIMES}
    with tempfile.TemporaryDirectory(prefix="o2o-bench-") as scratch:
        for number in range(size.rounds):
            order = RUNTIMES if number % 2 == 0 else RUNTIMES[::-1]
            for runtime in order:
                rate = await one_round(runtime, size.updates, size.users, Path(scratch), number)
                measured[runtime].append(rate)
    return measured


def row_from(size: Size, measured: dict[str, list[float]]) -> Row:
    """The runtimes row: ptb's median rate against aiogram's."""
    median = {name: statistics.median(values) for name, values in measured.items()}

    def shown(name: str) -> str:
        rounds = ", ".join(f"{rate:.0f}" for rate in measured[name])
        return f"{median[name]:.0f} updates/s (rounds {rounds})"

    return Row(
        name="runtimes",
        what=(
            f"updates/s through the whole bot (getUpdates, inbox + core + outbox, the sender's "
            f"sendMessage) for {size.updates} `/help` from {size.users} users, SQLite, fake Bot "
            f"API and send limits lifted, median of {size.rounds} alternating rounds; "
            "baseline = aiogram runtime, measured = python-telegram-bot runtime"
        ),
        baseline=shown("aiogram"),
        measured=shown("ptb"),
        ratio=median["ptb"] / median["aiogram"],
        numbers={
            "aiogram_updates_per_s": median["aiogram"],
            "ptb_updates_per_s": median["ptb"],
            **{f"aiogram_round_{i}": rate for i, rate in enumerate(measured["aiogram"])},
            **{f"ptb_round_{i}": rate for i, rate in enumerate(measured["ptb"])},
            "updates": size.updates,
            "users": size.users,
            "rounds": size.rounds,
        },
    )


def measure(quick: bool) -> list[Row]:
    """The runtimes row (quick: 120 updates, 3 rounds each; else 500 updates, 5 rounds)."""
    size = QUICK if quick else FULL
    return [row_from(size, asyncio.run(rates(size)))]


def main(size: Size) -> None:
    """Run alternating rounds on both runtimes; print the median rates and their ratio."""
    row = row_from(size, asyncio.run(rates(size)))
    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
        f"Python {platform.python_version()}"
    )
    print(
        f"{size.updates} /help updates from {size.users} users, {size.rounds} rounds each, "
        "median shown"
    )
    print(f"aiogram  {row.baseline}")
    print(f"ptb      {row.measured}")
    print(f"ratio ptb / aiogram: {row.ratio:8.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=FULL.updates)
    parser.add_argument("--users", type=int, default=FULL.users)
    parser.add_argument("--rounds", type=int, default=FULL.rounds)
    parser.add_argument(
        "--quick", action="store_true", help="120 updates from 40 users, 3 rounds each"
    )
    arguments = parser.parse_args()
    main(QUICK if arguments.quick else Size(arguments.updates, arguments.users, arguments.rounds))
