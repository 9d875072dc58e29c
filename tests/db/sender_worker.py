"""A separate sender process: `python -m tests.db.sender_worker DB_URL API_URL LOG LEASE_SECONDS`.

Used by test_sender_two_processes: runs an OutboxSender with the database's leadership
(advisory lock on PostgreSQL, lease on SQLite) against the fake Bot API until SIGTERM, and
appends one JSON line per event to LOG (flushed at once, so a kill -9 loses none of it):
``{"pid", "event": "call" | "answer", "chat", "text", "t"}`` around each Bot API call and
``{"pid", "event": "recorded", "row", "t"}`` once a row's "sent" outcome is committed.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from typing import IO, Any

from bot.db.engine import create_engine, create_sessionmaker
from bot.db.leader import sender_leadership
from bot.runtime_aiogram import AiogramTransport, make_bot
from bot.sender import OutboxSender, SendLimits, _Plan, _Row
from bot.transport import Uploads
from domain.clock import SystemClock

TOKEN = "123456:TEST-TOKEN"  # the fake Bot API's public test token
# Slow enough overall that the test can kill the leader part-way; no per-chat waiting.
LIMITS = SendLimits(
    global_per_second=40, per_chat_per_second=1000.0, per_chat_burst=1000, group_per_minute=1000
)


class _Log:
    def __init__(self, path: str) -> None:
        self._file: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open

    def write(self, **event: Any) -> None:
        self._file.write(json.dumps({"pid": os.getpid(), "t": time.time(), **event}) + "\n")
        self._file.flush()


class RecordingTransport:
    """The aiogram transport, logging each call before it is made and when it is answered."""

    def __init__(self, inner: AiogramTransport, log: _Log) -> None:
        self._inner = inner
        self._log = log

    async def call(self, method: str, params: dict[str, Any], files: Uploads | None = None) -> Any:
        """Log, call, log."""
        chat, text = params.get("chat_id"), params.get("text")
        self._log.write(event="call", chat=chat, text=text)
        result = await self._inner.call(method, params, files)
        self._log.write(event="answer", chat=chat, text=text)
        return result

    async def close(self) -> None:
        """Close the inner transport."""
        await self._inner.close()


class RecordingSender(OutboxSender):
    """The sender, logging each row once its "sent" outcome is committed."""

    log: _Log

    async def _sent(self, row: _Row, message_id: int | None, plan: _Plan | None = None) -> None:
        await super()._sent(row, message_id, plan)
        self.log.write(event="recorded", row=row.id)


async def main(url: str, api_url: str, log_path: str, lease_seconds: float) -> None:
    """Send until SIGTERM, then stop (finishing calls already made) and release leadership."""
    log = _Log(log_path)
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    transport = RecordingTransport(AiogramTransport(make_bot(TOKEN, api_url, timeout=10)), log)
    sender = RecordingSender(
        sessionmaker,
        transport,
        clock=SystemClock(),
        limits=LIMITS,
        poll_interval=0.2,
        leadership=sender_leadership(engine, sessionmaker, lease_seconds=lease_seconds),
    )
    sender.log = log
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    running = asyncio.create_task(sender.run())
    log.write(event="started")
    try:
        await stop.wait()
    finally:
        await sender.stop()
        await running
        await transport.close()
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))
