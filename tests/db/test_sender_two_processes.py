"""Two sender processes on one database: one delivers at a time, and a kill -9 loses nothing.

Each process (tests/db/sender_worker.py) runs an OutboxSender with the database's leadership:
the advisory lock on PostgreSQL, the lease row on SQLite. The leader is killed part-way; the
standby takes over and delivers the rest. Only rows whose call was under way at the kill may
reach Telegram twice (at-least-once delivery).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import OutboxMessage
from bot.fakeapi.server import FakeBotApi

ROOT = Path(__file__).resolve().parents[2]
CHATS = [5000 + i for i in range(30)]
MESSAGES = 300
CONCURRENCY = 32  # the sender's default: at most this many calls are under way at once


def _text(i: int) -> str:
    return f"m{i:03d}"


async def _enqueue(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """300 messages round robin to 30 chats; returns the row id of each text."""
    now = datetime.now(UTC)
    rows = []
    async with sessionmaker() as session, session.begin():
        for i in range(MESSAGES):
            chat = CHATS[i % len(CHATS)]
            row = OutboxMessage(
                chat_id=chat,
                method="sendMessage",
                params={"chat_id": chat, "text": _text(i)},
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            session.add(row)
            rows.append(row)
    return {_text(i): row.id for i, row in enumerate(rows)}


async def _start(url: str, api_url: str, log: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.db.sender_worker", url, api_url, str(log), "1.0", cwd=ROOT
    )


def _events(log: Path) -> list[dict[str, Any]]:
    events = []
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by the kill
            continue
    return events


async def _pending(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "sent")
        )
    return int(count or 0)


async def test_two_sender_processes_deliver_every_row_once_through_a_leader_kill(
    migrated_url: str, sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    fake = FakeBotApi(limits=None)
    await fake.start()
    for chat in CHATS:
        fake.add_user(chat, f"U{chat}")
    row_of = await _enqueue(sessionmaker)
    log = tmp_path / "events.jsonl"
    began = time.time()
    workers = [await _start(migrated_url, fake.base_url, log) for _ in range(2)]
    try:
        await fake.wait_for_calls("sendMessage", MESSAGES // 3, timeout=60)
        callers = {e["pid"] for e in _events(log) if e["event"] == "call"}
        assert len(callers) == 1, "one process sends; the other stands by"
        (leader,) = (w for w in workers if w.pid in callers)
        (standby,) = (w for w in workers if w is not leader)
        killed_at = time.time()
        leader.kill()
        await leader.wait()

        deadline = time.monotonic() + 60
        while await _pending(sessionmaker):
            assert time.monotonic() < deadline, "the standby did not finish the outbox"
            await asyncio.sleep(0.2)
        standby.terminate()
        assert await asyncio.wait_for(standby.wait(), 20) == 0
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
        received = {chat: [m["text"] for m in fake.messages(chat)] for chat in CHATS}
        await fake.stop()

    events = _events(log)
    calls = [e for e in events if e["event"] == "call"]
    by_leader = [e for e in calls if e["pid"] == leader.pid]
    by_standby = [e for e in calls if e["pid"] == standby.pid]
    assert by_standby, "the standby took over"
    assert {e["pid"] for e in calls} == {leader.pid, standby.pid}
    assert max(e["t"] for e in by_leader) < killed_at < min(e["t"] for e in by_standby), (
        "never two senders at once"
    )

    counts = Counter(text for texts in received.values() for text in texts)
    assert set(counts) == set(row_of), "every message arrived"
    recorded = {e["row"] for e in events if e["event"] == "recorded" and e["pid"] == leader.pid}
    in_flight = {e["text"] for e in by_leader if row_of[e["text"]] not in recorded}
    twice = {text for text, n in counts.items() if n > 1}
    assert max(counts.values()) <= 2
    assert twice <= in_flight, "only calls under way at the kill are repeated"
    assert len(in_flight) <= CONCURRENCY
    for i, chat in enumerate(CHATS):
        expected = [_text(j) for j in range(i, MESSAGES, len(CHATS))]
        assert list(dict.fromkeys(received[chat])) == expected, "per-chat order kept"
    print(  # figures for the report (pytest -s)
        f"leader sent {len(by_leader)} calls, standby {len(by_standby)}; "
        f"{len(in_flight)} in flight at the kill, {len(twice)} delivered twice; "
        f"first call {min(e['t'] for e in calls) - began:.1f}s, kill {killed_at - began:.1f}s, "
        f"take-over {min(e['t'] for e in by_standby) - killed_at:.1f}s after, "
        f"last call {max(e['t'] for e in calls) - began:.1f}s"
    )
