"""Observability: update counters and latency, DB-read gauges, Prometheus text, /healthz.

The exposition is Prometheus' text format 0.0.4, written here (no client library): a
`# HELP` and `# TYPE` line per family, counters ending in `_total`, the latency histogram as
cumulative `_bucket{le="..."}` lines ending with `le="+Inf"`, then `_sum` and `_count`.
Gauges that come from the database (outbox backlog, orders by status) are read when scraped.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import models
from domain.clock import Clock

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds: an update is one transaction, normally a few milliseconds to a few hundred.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
DB_TIMEOUT_SECONDS = 5.0


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    body = ",".join(f'{name}="{_escape_label(value)}"' for name, value in pairs)
    return "{" + body + "}" if body else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _family(name: str, kind: str, help_text: str) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]


@dataclass
class Histogram:
    """A cumulative histogram: counts per upper bound, plus sum and count."""

    buckets: tuple[float, ...] = LATENCY_BUCKETS
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        if list(self.buckets) != sorted(self.buckets):
            raise ValueError("histogram buckets must be sorted")
        if not self.counts:
            self.counts = [0] * len(self.buckets)

    def observe(self, value: float) -> None:
        """Record one observation."""
        self.total += value
        self.count += 1
        for index, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[index] += 1

    def lines(self, name: str) -> list[str]:
        """The `_bucket`, `_sum` and `_count` samples."""
        out = [
            f"{name}_bucket{_labels([('le', _number(bound))])} {count}"
            for bound, count in zip(self.buckets, self.counts, strict=True)
        ]
        out.append(f'{name}_bucket{{le="+Inf"}} {self.count}')
        out.append(f"{name}_sum {_number(self.total)}")
        out.append(f"{name}_count {self.count}")
        return out


class Metrics:
    """In-process metrics of one bot: created by the composition root, passed to the pipeline."""

    def __init__(self, buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        self.updates: dict[tuple[str, str], int] = {}
        self.latency = Histogram(tuple(buckets))
        self.started = time.monotonic()

    def observe_update(self, kind: str, outcome: str, seconds: float) -> None:
        """One update went through the pipeline: its kind, what became of it, how long it took."""
        key = (kind, outcome)
        self.updates[key] = self.updates.get(key, 0) + 1
        self.latency.observe(max(0.0, seconds))

    def uptime(self) -> float:
        """Seconds since these metrics were created (about the process's start)."""
        return time.monotonic() - self.started

    def lines(self) -> list[str]:
        """The in-process families in text format."""
        out = _family("o2o_updates_total", "counter", "Updates handled, by kind and outcome.")
        for (kind, outcome), value in sorted(self.updates.items()):
            labels = _labels([("kind", kind), ("outcome", outcome)])
            out.append(f"o2o_updates_total{labels} {value}")
        out += _family(
            "o2o_update_duration_seconds",
            "histogram",
            "Time to handle one update (inbox, use case, outbox, commit).",
        )
        out += self.latency.lines("o2o_update_duration_seconds")
        out += _family("o2o_uptime_seconds", "gauge", "Seconds since the bot started.")
        out.append(f"o2o_uptime_seconds {_number(round(self.uptime(), 3))}")
        return out


@dataclass(frozen=True, slots=True)
class DbFigures:
    """What a scrape reads from the database."""

    outbox_pending: int
    outbox_oldest_pending_seconds: float
    orders_by_status: Mapping[str, int]


async def read_db_figures(
    sessionmaker: async_sessionmaker[AsyncSession], now: datetime
) -> DbFigures:
    """Outbox backlog and the age of its oldest pending row; orders counted by status."""
    outbox = models.OutboxMessage
    async with sessionmaker() as session:
        pending, oldest = (
            await session.execute(
                select(func.count(), func.min(outbox.created_at)).where(outbox.status == "pending")
            )
        ).one()
        statuses = await session.execute(
            select(models.Order.status, func.count()).group_by(models.Order.status)
        )
        by_status = {str(status): int(count) for status, count in statuses.all()}
    age = 0.0
    if oldest is not None:
        if oldest.tzinfo is None:  # pragma: no cover  # UtcDateTime always returns aware times
            oldest = oldest.replace(tzinfo=now.tzinfo)
        age = max(0.0, (now - oldest).total_seconds())
    return DbFigures(int(pending or 0), age, by_status)


async def database_answers(sessionmaker: async_sessionmaker[AsyncSession]) -> bool:
    """True when a `SELECT 1` comes back within DB_TIMEOUT_SECONDS."""
    try:
        async with asyncio.timeout(DB_TIMEOUT_SECONDS), sessionmaker() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not healthy", never a crash
        log.warning("database health check failed", extra={"error": type(exc).__name__})
        return False
    return True


class Observability:
    """Serves /metrics and /healthz for one bot: its metrics, its database, its sender's stats."""

    def __init__(
        self,
        metrics: Metrics,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        sender_stats: Callable[[], Mapping[str, int]] = dict,
    ) -> None:
        self.metrics = metrics
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.sender_stats = sender_stats

    async def exposition(self) -> str:
        """The whole scrape in Prometheus text format."""
        out = self.metrics.lines()
        stats = dict(self.sender_stats())
        out += _family(
            "o2o_telegram_429_total",
            "counter",
            "Bot API calls answered 429 Too Many Requests (retried after retry_after).",
        )
        out.append(f"o2o_telegram_429_total {stats.pop('retried_429', 0)}")
        out += _family("o2o_outbox_calls_total", "counter", "Outbox calls by what became of them.")
        for outcome, value in sorted(stats.items()):
            out.append(f"o2o_outbox_calls_total{_labels([('outcome', outcome)])} {value}")
        figures: DbFigures | None
        try:
            async with asyncio.timeout(DB_TIMEOUT_SECONDS):
                figures = await read_db_figures(self.sessionmaker, self.clock.now())
        except Exception as exc:  # a scrape still answers when the DB does not
            log.warning("metrics: database unavailable", extra={"error": type(exc).__name__})
            figures = None
        out += _family("o2o_database_up", "gauge", "1 when the scrape could read the database.")
        out.append(f"o2o_database_up {0 if figures is None else 1}")
        if figures is not None:
            out += _family("o2o_outbox_pending", "gauge", "Outbox rows waiting to be sent.")
            out.append(f"o2o_outbox_pending {figures.outbox_pending}")
            out += _family(
                "o2o_outbox_oldest_pending_age_seconds",
                "gauge",
                "Age of the oldest pending outbox row (0 when none).",
            )
            out.append(
                "o2o_outbox_oldest_pending_age_seconds "
                f"{_number(round(figures.outbox_oldest_pending_seconds, 3))}"
            )
            out += _family("o2o_orders", "gauge", "Orders in the database by status.")
            for status, count in sorted(figures.orders_by_status.items()):
                out.append(f"o2o_orders{_labels([('status', status)])} {count}")
        return "\n".join(out) + "\n"

    async def health(self) -> tuple[bool, dict[str, Any]]:
        """Whether the bot can work (the database answers), with a small JSON body."""
        ok = await database_answers(self.sessionmaker)
        body: dict[str, Any] = {
            "status": "ok" if ok else "unavailable",
            "database": "ok" if ok else "unavailable",
            "uptime_seconds": round(self.metrics.uptime(), 3),
        }
        return ok, body

    def add_routes(self, app: web.Application) -> None:
        """GET /metrics and GET /healthz on an aiohttp app."""

        async def metrics(_request: web.Request) -> web.Response:
            return web.Response(
                body=(await self.exposition()).encode(),
                headers={"Content-Type": CONTENT_TYPE},
            )

        async def healthz(_request: web.Request) -> web.Response:
            ok, body = await self.health()
            return web.json_response(body, status=200 if ok else 503)

        app.router.add_get("/metrics", metrics)
        app.router.add_get("/healthz", healthz)


def make_observability_app(observability: Observability) -> web.Application:
    """A small app serving only /metrics and /healthz (O2O_METRICS_PORT in polling mode)."""
    app = web.Application()
    observability.add_routes(app)
    return app
