"""The bot as a separate process for crash tests: `o2o run` itself, minus client-side send limits.

Run as ``python -m tests.reliability.crash_load`` with the usual O2O_* environment. It is the real
`o2o run` entry point (settings, migrations, polling, outbox sender, jobs); only the sender's
Telegram rate limits are lifted, because at 20 messages a minute into the staff group a load of
a thousand orders would take hours, and the fake Bot API enforces no limits in these tests.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

import bot.app
from bot.cli import main
from bot.sender import UNTHROTTLED, SendLimits

ROOT = Path(__file__).resolve().parents[2]


def _unthrottled() -> SendLimits:
    return UNTHROTTLED


class BotProcess:
    """One bot process at a time: start it, SIGKILL it, start it again."""

    def __init__(self, environment: Mapping[str, str], log_path: Path) -> None:
        """Remember the O2O_* variables every incarnation runs with and where its output goes."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("O2O_")}
        self.env = env | dict(environment) | {"PYTHONPATH": str(ROOT)}
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self) -> None:
        """Start a new incarnation (the previous one must be dead)."""
        assert self.process is None or self.process.returncode is not None
        self.starts += 1
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.reliability.crash_load",
                env=self.env,
                cwd=ROOT,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

    async def kill(self) -> None:
        """SIGKILL the running incarnation: no handler, no flush, no goodbye."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    def crashed(self) -> bool:
        """Whether the current incarnation died on its own (not by our SIGKILL)."""
        return self.process is not None and self.process.returncode not in (None, -signal.SIGKILL)


if __name__ == "__main__":
    # BotApp falls back to SendLimits() when `o2o run` passes none; make that fallback unthrottled.
    vars(bot.app)["SendLimits"] = _unthrottled
    sys.exit(main(["run"]))
