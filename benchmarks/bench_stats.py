"""`o2o stats` on a million simulated orders: seconds and peak memory, against a naive baseline.

The database is made once by `o2o simulate` (kept with --db PATH and reused when it exists).
Measured, in the same run, for the same period and all stores:

- the read-side layer (`bot.db.stats.load_report`: SQL aggregates + pandas off the event loop),
  which is what `o2o stats` and `/stats` run;
- a naive baseline: the period's orders and surveys loaded as ORM objects and the same headline
  figures summed in Python.

Seconds: the read-side layer's best of 3 runs, the baseline's one run, both without tracing. Peak
memory: tracemalloc's peak (Python and numpy allocations) in a separate traced run of each. The
two must agree on the headline figures, or the benchmark fails.

    .venv/bin/python benchmarks/bench_stats.py [--customers 60000] [--days 365] [--db PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from bot.db import models
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade_async
from bot.db.stats import load_report
from bot.simulate import simulate

END = date(2026, 11, 1)
NOW = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)


async def _measure(work: Any) -> tuple[Any, float, float]:
    """(result, seconds, peak MiB) of one awaited call."""
    tracemalloc.start()
    started = time.perf_counter()
    result = await work()
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, seconds, peak / 2**20


async def _naive(sessionmaker: Any, start: datetime, end: datetime) -> dict[str, Any]:
    """The figures from ORM objects summed in Python: what the read-side layer replaces."""
    async with sessionmaker() as session:
        orders = list(
            await session.scalars(
                select(models.Order).where(
                    models.Order.placed_at >= start, models.Order.placed_at < end
                )
            )
        )
        surveys = list(
            await session.scalars(
                select(models.Survey)
                .join(models.Order, models.Survey.order_id == models.Order.id)
                .where(models.Order.placed_at >= start, models.Order.placed_at < end)
            )
        )
    completed = [o for o in orders if o.status == "completed"]
    durations = [(o.completed_at - o.placed_at).total_seconds() / 60 for o in completed]
    scores = [s.score for s in surveys if s.status == "answered" and s.score is not None]
    return {
        "orders_placed": len(orders),
        "orders_completed": len(completed),
        "orders_rejected": sum(1 for o in orders if o.status == "rejected"),
        "revenue_minor": sum(o.total_minor for o in completed),
        "apt_median_minutes": round(statistics.median(durations), 2) if durations else None,
        "csat_responses": len(scores),
    }


async def main(customers: int, days: int, db: str | None) -> None:
    """Simulate (unless the database exists), measure both ways, print one table."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(db) if db else Path(scratch) / "stats.sqlite3"
        url = f"sqlite+aiosqlite:///{path.resolve()}"
        fresh = not path.exists()
        await upgrade_async(url)
        engine = create_engine(url)
        sessionmaker = create_sessionmaker(engine)
        if fresh:
            started = time.perf_counter()
            summary = await simulate(sessionmaker, customers=customers, days=days, seed=1, end=END)
            print(f"simulated in {time.perf_counter() - started:.0f} s: {summary}")
        async with sessionmaker() as session:
            total = await session.scalar(select(func.count()).select_from(models.Order))
        period = f"{days}d"

        report, fast_s, fast_mib = await _measure(lambda: load_report(engine, period, None, NOW))
        start, end = report.period.start, report.period.end
        started = time.perf_counter()
        naive = await _naive(sessionmaker, start, end)
        slow_s = time.perf_counter() - started
        _, _, slow_mib = await _measure(lambda: _naive(sessionmaker, start, end))
        await engine.dispose()

    figures = report.current.to_json()
    for key, value in naive.items():
        if figures[key] != value:
            raise SystemExit(f"the two disagree on {key}: {figures[key]} != {value}")
    print(
        f"machine: {platform.machine()}, Python {platform.python_version()}; "
        f"{total:,} orders in the database, {naive['orders_placed']:,} in the period {period}"
    )
    print(f"{'':<40} {'seconds':>8} {'peak MiB':>9}")
    print(f"{'naive (ORM objects, Python sums)':<40} {slow_s:8.2f} {slow_mib:9.0f}")
    print(f"{'read-side layer (o2o stats)':<40} {fast_s:8.2f} {fast_mib:9.0f}")
    print(f"speed-up: {slow_s / fast_s:.1f}x; memory: {fast_mib / slow_mib:.2f} of the baseline")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=60_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--db", help="SQLite file to keep (reused when it exists)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.customers, arguments.days, arguments.db))
