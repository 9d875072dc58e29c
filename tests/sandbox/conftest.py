"""The sandbox (fake Bot API + real bot + page server) running inside the test process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

import pytest
from aiohttp import web

from bot.sandbox.server import SandboxServer
from bot.sandbox.stack import Sandbox
from bot.settings import Settings


@dataclass
class Running:
    """A started sandbox and the address of its page."""

    sandbox: Sandbox
    server: SandboxServer
    url: str


StartSandbox = Callable[..., AbstractAsyncContextManager[Running]]


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings from defaults only, whatever O2O_* variables the shell has."""
    for name in ("O2O_DATABASE_URL", "O2O_RUNTIME", "O2O_ADMIN_IDS", "O2O_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return Settings(_env_file=None)


@pytest.fixture
def start_sandbox(settings: Settings) -> StartSandbox:
    """Run a sandbox (a temporary SQLite database, no rate limits) for an `async with`."""

    @asynccontextmanager
    async def run(
        *, history: bool = False, runtime: str = "aiogram", database_url: str | None = None
    ) -> AsyncIterator[Running]:
        sandbox = Sandbox(
            settings,
            database_url=database_url,
            runtime=runtime,
            history=history,
            realistic=False,
        )
        await sandbox.start()
        server = SandboxServer(sandbox)
        runner = web.AppRunner(server.make_app(), access_log=None, shutdown_timeout=1.0)
        try:
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            yield Running(sandbox, server, f"http://127.0.0.1:{port}")
        finally:
            await runner.cleanup()
            await sandbox.stop()

    return run
