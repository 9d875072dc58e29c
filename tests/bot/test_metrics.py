"""/metrics speaks Prometheus' text format; /healthz tells whether the database answers."""

from __future__ import annotations

import asyncio
import os
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import BotApp
from bot.db import models
from bot.fakeapi.server import FakeBotApi
from bot.metrics import Histogram, Metrics, Observability
from bot.pipeline import UpdatePipeline
from bot.seed import seed_demo_data
from bot.settings import Settings
from bot.webhook import SECRET_HEADER, make_webhook_app
from domain.clock import FixedClock
from handlers.callbacks import CallbackCodec
from handlers.core import ConversationCore, CoreConfig
from handlers.i18n import Translator
from tests.conftest import _drop_postgres_database, postgres_admin_url
from tests.updates import message_update

SECRET = "metrics-test-secret"
NOW = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
_VALUE = r"(?:[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]Inf|NaN)"
HELP_RE = re.compile(rf"^# HELP ({_NAME}) \S.*$")
TYPE_RE = re.compile(rf"^# TYPE ({_NAME}) (counter|gauge|histogram|summary|untyped)$")
SAMPLE_RE = re.compile(rf"^({_NAME})(\{{{_LABEL}(?:,{_LABEL})*\}})? ({_VALUE})$")


def parse_exposition(text: str) -> dict[str, float]:
    """Check every line against the text format; return samples as {'name{labels}': value}.

    Also checks what Prometheus relies on: HELP then TYPE before a family's samples, each family
    declared once, counters named *_total, histogram buckets cumulative up to le="+Inf" = _count.
    """
    assert text.endswith("\n"), "the exposition ends with a newline"
    samples: dict[str, float] = {}
    types: dict[str, str] = {}
    helped: set[str] = set()
    for line in text.splitlines():
        if help_match := HELP_RE.match(line):
            assert help_match[1] not in helped, f"HELP twice: {line}"
            helped.add(help_match[1])
            continue
        if type_match := TYPE_RE.match(line):
            name, kind = type_match[1], type_match[2]
            assert name in helped, f"TYPE before HELP: {line}"
            assert name not in types, f"TYPE twice: {line}"
            types[name] = kind
            if kind == "counter":
                assert name.endswith("_total"), f"counter without _total: {name}"
            continue
        sample = SAMPLE_RE.match(line)
        assert sample is not None, f"not a valid exposition line: {line!r}"
        name = sample[1]
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or types.get(family) == "histogram", f"sample before TYPE: {line}"
        key = name + (sample[2] or "")
        assert key not in samples, f"sample twice: {key}"
        samples[key] = float(sample[3])
    for name, kind in types.items():
        if kind != "histogram":
            continue
        buckets = [
            (key, value) for key, value in samples.items() if key.startswith(name + "_bucket")
        ]
        values = [value for _, value in buckets]
        assert values == sorted(values), f"{name} buckets are not cumulative"
        assert buckets[-1][0] == name + '_bucket{le="+Inf"}'
        assert buckets[-1][1] == samples[name + "_count"]
        assert name + "_sum" in samples
    return samples


def test_histogram_buckets_are_cumulative_with_sum_and_count() -> None:
    histogram = Histogram((0.1, 1.0))
    for value in (0.05, 0.5, 3.0):
        histogram.observe(value)

    assert histogram.lines("x") == [
        'x_bucket{le="0.1"} 1',
        'x_bucket{le="1"} 2',
        'x_bucket{le="+Inf"} 3',
        "x_sum 3.55",
        "x_count 3",
    ]


def test_label_values_are_escaped() -> None:
    metrics = Metrics()
    metrics.observe_update('we"ird\\kind\n', "handled", 0.01)

    line = next(line for line in metrics.lines() if line.startswith("o2o_updates_total{"))

    assert line == 'o2o_updates_total{kind="we\\"ird\\\\kind\\n",outcome="handled"} 1'
    assert SAMPLE_RE.match(line)


@dataclass
class Served:
    """The webhook app on a loopback port, with its metrics and database."""

    url: str
    metrics: Metrics
    sender_stats: dict[str, int]
    http: aiohttp.ClientSession

    async def post(self, update: dict[str, object]) -> int:
        """Deliver an update as Telegram would; the HTTP status."""
        async with self.http.post(
            self.url + "/hook", json=update, headers={SECRET_HEADER: SECRET}
        ) as response:
            return response.status

    async def scrape(self) -> tuple[int, str, dict[str, float]]:
        """GET /metrics: status, content type, parsed samples."""
        async with self.http.get(self.url + "/metrics") as response:
            text = await response.text()
            return response.status, response.headers["Content-Type"], parse_exposition(text)

    async def health(self) -> tuple[int, dict[str, object]]:
        """GET /healthz: status and JSON body."""
        async with self.http.get(self.url + "/healthz") as response:
            return response.status, await response.json()


async def _add_orders(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Three orders of one customer: two completed, one placed."""
    async with sessionmaker() as session, session.begin():
        store = await session.scalar(select(models.Store).order_by(models.Store.id))
        assert store is not None
        customer = models.Customer(telegram_id=555, created_at=NOW, updated_at=NOW)
        session.add(customer)
        await session.flush()
        for number, status in enumerate(("completed", "completed", "placed"), start=1):
            session.add(
                models.Order(
                    number=f"{number:04d}",
                    store_id=store.id,
                    customer_id=customer.id,
                    idempotency_key=f"test:{number}",
                    status=status,
                    fulfilment="pickup",
                    subtotal_minor=1000,
                    total_minor=1000,
                    currency="CNY",
                    placed_at=NOW,
                )
            )


@pytest.fixture
async def served(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Served]:
    """The webhook app serving /hook, /metrics and /healthz over real HTTP."""
    clock = FixedClock(NOW)
    await seed_demo_data(sessionmaker, clock.now())
    await _add_orders(sessionmaker)
    core = ConversationCore(
        CoreConfig(bot_username="o2o_demo_bot"), Translator.default(), CallbackCodec(b"k" * 32)
    )
    metrics = Metrics()
    pipeline = UpdatePipeline(sessionmaker, core, clock, metrics=metrics)
    stats = {"sent": 0, "retried_429": 0, "failed": 0}
    observability = Observability(metrics, sessionmaker, clock, lambda: stats)
    app = make_webhook_app(pipeline, SECRET, "/hook", observability)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield Served(str(server.make_url("")).rstrip("/"), metrics, stats, http)
    finally:
        await server.close()


async def test_the_exposition_parses_and_counters_grow_as_updates_arrive(served: Served) -> None:
    status, content_type, before = await served.scrape()
    assert status == 200
    assert content_type.startswith("text/plain; version=0.0.4")
    assert not any(key.startswith("o2o_updates_total{") for key in before)
    assert before['o2o_update_duration_seconds_bucket{le="+Inf"}'] == 0
    assert before['o2o_orders{status="completed"}'] == 2
    assert before['o2o_orders{status="placed"}'] == 1
    assert before["o2o_outbox_pending"] == 0
    assert before["o2o_outbox_oldest_pending_age_seconds"] == 0
    assert before["o2o_telegram_429_total"] == 0
    assert before["o2o_database_up"] == 1

    help_update = message_update(4001, "/help")
    assert await served.post(help_update) == 200
    assert await served.post(message_update(4001, "hello")) == 200
    assert await served.post(help_update) == 200  # Telegram redelivers: a duplicate
    served.sender_stats["retried_429"] = 2

    _, _, after = await served.scrape()
    assert after['o2o_updates_total{kind="command",outcome="handled"}'] == 1
    assert after['o2o_updates_total{kind="command",outcome="duplicate"}'] == 1
    assert after['o2o_updates_total{kind="text",outcome="handled"}'] == 1
    assert after["o2o_update_duration_seconds_count"] == 3
    assert after['o2o_update_duration_seconds_bucket{le="+Inf"}'] == 3
    assert after["o2o_update_duration_seconds_sum"] > 0
    assert after["o2o_outbox_pending"] >= 2, "no sender runs here: the replies wait"
    assert after["o2o_outbox_oldest_pending_age_seconds"] == 0, "queued at the fixed now"
    assert after["o2o_telegram_429_total"] == 2
    assert after['o2o_outbox_calls_total{outcome="sent"}'] == 0


async def test_oldest_pending_age_is_measured_from_the_clock(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        for minutes in (5, 2):
            created = NOW - timedelta(minutes=minutes)
            session.add(
                models.OutboxMessage(
                    chat_id=1,
                    method="sendMessage",
                    params={},
                    next_attempt_at=created,
                    created_at=created,
                )
            )
    observability = Observability(Metrics(), sessionmaker, FixedClock(NOW))

    samples = parse_exposition(await observability.exposition())

    assert samples["o2o_outbox_pending"] == 2
    assert samples["o2o_outbox_oldest_pending_age_seconds"] == 300


async def _make_database_vanish(engine: AsyncEngine) -> None:
    """Close every connection, then take the database away (its directory, or the database)."""
    await engine.dispose()
    url = engine.url
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        folder = Path(url.database).parent
        os.rename(folder, folder.with_name(folder.name + "-gone"))
    else:
        admin = postgres_admin_url()
        assert admin is not None
        await _drop_postgres_database(admin, url.render_as_string(hide_password=False))


async def test_healthz_is_200_while_the_database_answers_and_503_once_it_is_gone(
    served: Served, engine: AsyncEngine
) -> None:
    status, body = await served.health()
    assert (status, body["status"], body["database"]) == (200, "ok", "ok")

    await _make_database_vanish(engine)

    status, body = await served.health()
    assert (status, body["status"], body["database"]) == (503, "unavailable", "unavailable")
    status, _, samples = await served.scrape()
    assert status == 200, "a scrape still answers"
    assert samples["o2o_database_up"] == 0
    assert "o2o_outbox_pending" not in samples
    assert await served.post(message_update(4002, "/help")) == 503, "Telegram will redeliver"
    _, _, samples = await served.scrape()
    assert samples['o2o_updates_total{kind="command",outcome="db_error"}'] == 1


async def test_polling_mode_serves_the_endpoints_on_o2o_metrics_port(migrated_url: str) -> None:
    token = "123456:TEST-token-for-the-fake-bot-api"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    fake = FakeBotApi(token=token)
    await fake.start()
    fake.add_user(4003, "Alice")
    values = Settings().model_dump() | {
        "bot_token": SecretStr(token),
        "database_url": migrated_url,
        "telegram_api_url": fake.base_url,
        "polling_timeout": 1,
        "webhook_url": None,
        "metrics_port": port,
    }
    app = BotApp(Settings.model_construct(**values))
    await app.start()
    polling = asyncio.create_task(app.run_polling())
    try:
        fake.send_text(4003, "/help")
        await fake.wait_for_messages(4003, 1)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
                assert (await response.json())["status"] == "ok"
            async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                samples = parse_exposition(await response.text())
        assert samples['o2o_updates_total{kind="command",outcome="handled"}'] == 1
    finally:
        app.request_stop()
        await polling
        await app.close()
        await fake.stop()
