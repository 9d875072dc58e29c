"""A separate process running the due-work jobs: `python -m tests.db.job_worker URL NOW ROUNDS`.

Used by test_jobs_two_processes to run two job loops side by side against one database.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime

from bot.db.engine import create_engine, create_sessionmaker
from bot.jobs import JobRunner
from domain.clock import FixedClock
from handlers.i18n import Translator
from handlers.turn import CoreConfig


async def main(url: str, now: str, rounds: int) -> None:
    """Run every job `rounds` times at the fixed time `now`."""
    engine = create_engine(url)
    try:
        runner = JobRunner(
            create_sessionmaker(engine),
            FixedClock(datetime.fromisoformat(now)),
            lambda: None,
            Translator.default(),
            config=CoreConfig(bot_username="o2o_test_bot", admin_ids=frozenset({77})),
        )
        for _ in range(rounds):
            await runner.run_once()
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
