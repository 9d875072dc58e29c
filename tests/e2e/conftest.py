"""The real bot (runtime, pipeline, sender, database) against the fake Bot API over real HTTP."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from pydantic import SecretStr

from bot.app import BotApp
from bot.db.engine import create_engine, create_sessionmaker
from bot.fakeapi.server import FakeBotApi
from bot.seed import seed_demo_data
from bot.settings import Settings
from domain.clock import SystemClock

TOKEN = "123456:TEST-token-for-the-fake-bot-api"
ALICE, BOB = 2001, 2002
WEBHOOK_SECRET = "s3cret-token_for-tests"

RunningBot = Callable[..., AbstractAsyncContextManager[BotApp]]
RUNTIMES = ["aiogram", "ptb"]


def free_port() -> int:
    """A TCP port on loopback nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    """A started fake Bot API with two customers."""
    server = FakeBotApi(token=TOKEN)
    await server.start()
    server.add_user(ALICE, "Alice", language_code="en")
    server.add_user(BOB, "Bob", language_code="zh-hans")
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def seeded_url(migrated_url: str) -> str:
    """A migrated database holding the demo stores."""
    engine = create_engine(migrated_url)
    try:
        await seed_demo_data(create_sessionmaker(engine), SystemClock().now())
    finally:
        await engine.dispose()
    return migrated_url


@pytest.fixture(params=RUNTIMES, ids=RUNTIMES)
def runtime(request: pytest.FixtureRequest) -> str:
    """The bot framework this run uses (O2O_RUNTIME): every end-to-end test runs on each."""
    return str(request.param)


@pytest.fixture
def running_bot(fake: FakeBotApi, seeded_url: str, runtime: str) -> RunningBot:
    """Start the bot on `runtime` in polling or webhook mode for the duration of an `async with`."""

    @asynccontextmanager
    async def run(*, webhook: bool = False, **overrides: Any) -> AsyncIterator[BotApp]:
        values: dict[str, Any] = {
            "bot_token": SecretStr(TOKEN),
            "database_url": seeded_url,
            "telegram_api_url": fake.base_url,
            "runtime": runtime,
            "polling_timeout": 1,
        }
        if webhook:
            port = free_port()
            values |= {
                "webhook_url": f"http://127.0.0.1:{port}/telegram/hook",
                "webhook_secret": SecretStr(WEBHOOK_SECRET),
                "webhook_host": "127.0.0.1",
                "webhook_port": port,
            }
        values |= overrides
        app = BotApp(Settings.model_construct(**(Settings().model_dump() | values)))
        await app.start()
        serving = asyncio.create_task(app.run_webhook() if webhook else app.run_polling())
        try:
            if webhook:
                await fake.wait_for_calls("setWebhook", 1)
            yield app
        finally:
            app.request_stop()
            await serving
            await app.close()

    return run


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    """Poll an async condition until true or fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """End-to-end tests run on PostgreSQL with the default runtime only.

    The runtimes differ in their transport, not in SQL, and the database backends differ in SQL,
    not in transport: SQLite x {aiogram, ptb} plus PostgreSQL x aiogram covers both axes without
    the fourth, costliest combination (keeping the suite within CI's ten minutes on two cores).
    """
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        if params.get("db_backend") == "postgres" and params.get("runtime") == "ptb":
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
