"""Updates per second through the pipeline (inbox + core + outbox, one commit each) on SQLite.

Baseline, measured in the same run on the same database: a transaction that only inserts the
inbox row. The ratio says what the conversation core and outbox writes cost on top of the
unavoidable per-update commit.

    .venv/bin/python benchmarks/bench_pipeline.py [--updates 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade_async
from bot.db.uow import SqlUnitOfWork
from bot.pipeline import UpdatePipeline
from bot.seed import seed_demo_data
from domain.clock import SystemClock
from handlers.callbacks import CallbackCodec
from handlers.core import ConversationCore, CoreConfig
from handlers.i18n import Translator
from tests.updates import message_update


async def main(updates: int) -> None:
    """Run baseline and pipeline and print both rates and their ratio."""
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite+aiosqlite:///{scratch}/bench.sqlite3"
        await upgrade_async(url)
        engine = create_engine(url)
        sessionmaker = create_sessionmaker(engine)
        clock = SystemClock()
        await seed_demo_data(sessionmaker, clock.now())

        started = time.perf_counter()
        for update_id in range(1, updates + 1):
            async with sessionmaker() as session, session.begin():
                await SqlUnitOfWork(session).record_update(update_id, "text", datetime.now(UTC))
        baseline = updates / (time.perf_counter() - started)

        core = ConversationCore(
            CoreConfig(bot_username="bench_bot"), Translator.default(), CallbackCodec(b"b" * 32)
        )
        pipeline = UpdatePipeline(sessionmaker, core, clock)
        texts = ["/start", "/help", "/start scentral", "what?"]
        feed = [
            message_update(10_000 + i % 200, texts[i % len(texts)], update_id=updates + 1 + i)
            for i in range(updates)
        ]
        started = time.perf_counter()
        for update in feed:
            await pipeline.process(update)
        measured = updates / (time.perf_counter() - started)
        await engine.dispose()

    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
        f"Python {platform.python_version()}"
    )
    print(f"baseline (inbox insert + commit): {baseline:8.0f} updates/s")
    print(f"pipeline (inbox + core + outbox): {measured:8.0f} updates/s")
    print(f"ratio pipeline / baseline:        {measured / baseline:8.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=2000)
    asyncio.run(main(parser.parse_args().updates))
