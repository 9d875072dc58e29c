"""`o2o stats` and `o2o export orders`: the JSON figures agree exactly with the exported CSV."""

from __future__ import annotations

import csv
import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.db import models
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade_async
from tests.admin.conftest import Cli

PERIOD = "2026-05-01..2026-05-14"  # Asia/Shanghai: 2026-04-30T16:00Z .. 2026-05-14T16:00Z
PREVIOUS = "2026-04-17..2026-04-30"
STORES = (  # code, currency: two CNY stores and one USD store, all in Asia/Shanghai
    ("central", "CNY"),
    ("riverside", "CNY"),
    ("uptown", "USD"),
)
NAMES = ("Latte", "拿铁", "Croissant", "Tea", "Cake", "Bagel", "Mocha")
# The period's edges: its first instant, the instant before it, and the first one after it.
EDGES = (
    datetime(2026, 4, 30, 16, 0, tzinfo=UTC),
    datetime(2026, 4, 30, 15, 59, 59, 999_999, tzinfo=UTC),
    datetime(2026, 5, 14, 16, 0, tzinfo=UTC),
)


async def build_varied_database(url: str, seed: int = 5, orders: int = 255) -> None:
    """~260 orders over five weeks in every status, with surveys, lines and reservations."""
    rng = random.Random(seed)
    await upgrade_async(url)
    engine = create_engine(url)
    at = datetime(2026, 4, 1, tzinfo=UTC)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            stores = []
            for code, currency in STORES:
                store = models.Store(
                    code=code,
                    name=code.title(),
                    timezone="Asia/Shanghai",
                    currency=currency,
                    created_at=at,
                )
                session.add(store)
                stores.append(store)
            customers = [
                models.Customer(telegram_id=500 + i, created_at=at, updated_at=at) for i in range(6)
            ]
            session.add_all(customers)
            await session.flush()
            start = datetime(2026, 4, 14, tzinfo=UTC)
            placements = [
                start
                + timedelta(seconds=rng.randrange(34 * 86400), microseconds=rng.randrange(10**6))
                for _ in range(orders)
            ]
            for n, placed in enumerate([*placements, *EDGES], 1):
                store = rng.choice(stores)
                order = _order(rng, n, placed, store, rng.choice(customers))
                session.add(order)
                await session.flush()
                for _ in range(rng.randint(1, 3)):
                    quantity = rng.randint(1, 4)
                    session.add(
                        models.OrderLine(
                            order_id=order.id,
                            name=rng.choice(NAMES),
                            unit_price_minor=450,
                            quantity=quantity,
                            line_total_minor=450 * quantity,
                        )
                    )
                survey = rng.choice(
                    ["none", "scheduled", "sent", "answered", "answered", "expired"]
                )
                if survey != "none" and (order.status == "completed" or rng.random() < 0.1):
                    session.add(
                        models.Survey(
                            order_id=order.id,
                            customer_id=order.customer_id,
                            store_id=store.id,
                            status=survey,
                            due_at=placed + timedelta(hours=1),
                            score=rng.randint(1, 5) if survey == "answered" else None,
                        )
                    )
            for _ in range(40):
                starts = start + timedelta(minutes=rng.randrange(34 * 24 * 4) * 15)
                session.add(
                    models.Reservation(
                        store_id=rng.choice(stores).id,
                        customer_id=rng.choice(customers).id,
                        kind="table",
                        starts_at=starts,
                        status=rng.choice(
                            ["requested", "confirmed", "seated", "completed", "no_show", "declined"]
                        ),
                        requested_at=starts - timedelta(days=1),
                    )
                )
    finally:
        await engine.dispose()


def _order(
    rng: random.Random, n: int, placed: datetime, store: models.Store, customer: models.Customer
) -> models.Order:
    status = rng.choices(
        ["completed", "rejected", "cancelled", "placed", "accepted", "ready", "no_show"],
        weights=[55, 10, 10, 5, 6, 6, 8],
    )[0]

    def later(moment: datetime, low: int, high: int) -> datetime:
        return moment + timedelta(seconds=rng.randint(low, high), microseconds=rng.randrange(10**6))

    accepted = ready = completed = rejected = cancelled = None
    if status in ("accepted", "ready", "completed", "no_show") or (
        status == "cancelled" and rng.random() < 0.5
    ):
        accepted = later(placed, 5, 900)
    if status in ("ready", "completed", "no_show"):
        assert accepted is not None
        ready = later(accepted, 60, 1800)
    if status == "completed":
        assert ready is not None
        completed = later(ready, 10, 2400)
    if status == "rejected":
        rejected = later(placed, 5, 600)
    if status == "cancelled":
        cancelled = later(accepted or placed, 5, 600)
    total = rng.randint(100, 9000)
    return models.Order(
        number=f"N{n:04d}",
        store_id=store.id,
        customer_id=customer.id,
        idempotency_key=f"varied:{n}",
        status=status,
        fulfilment=rng.choice(["pickup", "delivery", "dine_in"]),
        subtotal_minor=total,
        total_minor=total,
        currency=store.currency,
        placed_at=placed,
        accepted_at=accepted,
        ready_at=ready,
        completed_at=completed,
        rejected_at=rejected,
        cancelled_at=cancelled,
    )


# --------------------------------------------------------------------------- from the CSV


def _seconds(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


def _pct(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part * 100 / whole, 2)


def figures_from_csv(path: Path, store_currencies: dict[str, str]) -> dict[str, Any]:
    """Every stats figure the export allows, recomputed with the csv module and plain Python."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_status = Counter(row["status"] for row in rows)
    durations = sorted(
        _seconds(r["completed_at"]) - _seconds(r["placed_at"])
        for r in rows
        if r["status"] == "completed" and r["completed_at"]
    )
    accepts = [
        _seconds(r["accepted_at"]) - _seconds(r["placed_at"]) for r in rows if r["accepted_at"]
    ]
    scores = [int(r["survey_score"]) for r in rows if r["survey_status"] == "answered"]
    sent = sum(1 for r in rows if r["survey_status"])
    counts = Counter(store_currencies.values())
    currency = min(counts, key=lambda c: (-counts[c], c))
    in_currency = [
        int(r["total_minor"])
        for r in rows
        if r["status"] == "completed" and r["currency"] == currency
    ]
    n = len(durations)
    median = None
    if n:
        middle = (durations[(n - 1) // 2] + durations[n // 2]) / 120
        median = round(middle, 2)
    revenue = sum(in_currency)
    return {
        "orders_placed": len(rows),
        "orders_completed": by_status["completed"],
        "orders_rejected": by_status["rejected"],
        "orders_cancelled": by_status["cancelled"],
        "conversion_rate": _pct(by_status["completed"], len(rows)),
        "apt_minutes": round(sum(durations) / (n * 60), 2) if n else None,
        "apt_median_minutes": median,
        "accept_minutes": round(sum(accepts) / (len(accepts) * 60), 2) if accepts else None,
        "csat_avg": round(sum(scores) / len(scores), 2) if scores else None,
        "csat_share_4_5": _pct(sum(1 for s in scores if s >= 4), len(scores)),
        "csat_responses": len(scores),
        "survey_response_rate": _pct(len(scores), sent),
        "revenue_minor": revenue,
        "avg_order_value_minor": (
            (2 * revenue + len(in_currency)) // (2 * len(in_currency)) if in_currency else None
        ),
        "currency": currency,
    }


async def test_stats_json_agrees_exactly_with_figures_recomputed_from_the_export(
    cli: Cli, tmp_path: Path
) -> None:
    await build_varied_database(cli.url)
    currencies = dict(STORES)

    stats = await cli("stats", "--period", PERIOD, "--json")
    current_csv = await cli("export", "orders", "--period", PERIOD, "--out", tmp_path / "cur.csv")
    previous_csv = await cli(
        "export", "orders", "--period", PREVIOUS, "--out", tmp_path / "prev.csv"
    )

    assert (stats.code, current_csv.code, previous_csv.code) == (0, 0, 0), stats.err
    document = json.loads(stats.out)
    recomputed = figures_from_csv(tmp_path / "cur.csv", currencies)
    assert {key: document[key] for key in recomputed} == recomputed
    previous = figures_from_csv(tmp_path / "prev.csv", currencies)
    assert {key: document["previous"][key] for key in previous} == previous
    assert document["previous"]["period"]["from"] == "2026-04-17"
    # The data really is varied: every figure is defined and the USD store is left out.
    assert None not in recomputed.values()
    assert recomputed["orders_placed"] > 100
    assert previous["orders_placed"] > 50
    with (tmp_path / "cur.csv").open(encoding="utf-8") as handle:
        completed = [row for row in csv.DictReader(handle) if row["status"] == "completed"]
    assert {row["currency"] for row in completed} == {"CNY", "USD"}
    assert document["revenue_minor"] < sum(int(row["total_minor"]) for row in completed)
    assert f"{recomputed['orders_placed']} orders placed" in current_csv.err


async def test_one_store_s_json_agrees_with_its_export(cli: Cli, tmp_path: Path) -> None:
    await build_varied_database(cli.url, seed=11)
    out = tmp_path / "central.csv"

    stats = await cli("stats", "--period", PERIOD, "--store", "central", "--json")
    export = await cli("export", "orders", "--period", PERIOD, "--store", "central", "--out", out)

    assert (stats.code, export.code) == (0, 0), stats.err + export.err
    document = json.loads(stats.out)
    recomputed = figures_from_csv(out, {"central": "CNY"})
    assert {key: document[key] for key in recomputed} == recomputed
    assert document["store"] == {"code": "central", "name": "Central"}
    with out.open(encoding="utf-8") as handle:
        assert {row["store"] for row in csv.DictReader(handle)} == {"central"}


async def test_the_table_shows_each_figure_with_the_change_and_the_chart_is_written(
    cli: Cli, tmp_path: Path
) -> None:
    await build_varied_database(cli.url)
    chart = tmp_path / "stats.png"

    table = await cli("stats", "--period", PERIOD, "--chart", chart)
    document = json.loads((await cli("stats", "--period", PERIOD, "--json")).out)

    assert table.code == 0, table.err
    lines = table.out.splitlines()
    assert lines[0] == "All stores · 2026-05-01..2026-05-14 (Asia/Shanghai)"
    assert lines[1] == "compared with 2026-04-17..2026-04-30"
    placed = next(line for line in lines if line.startswith("orders placed"))
    now, before = document["orders_placed"], document["previous"]["orders_placed"]
    assert placed.split()[2:4] == [str(now), str(before)]
    assert f"{now - before:+d}" in placed
    assert any(line.startswith("no-show rate") for line in lines)
    assert "USD orders" not in table.out
    assert any("completed orders of this period in other currencies" in line for line in lines)
    assert chart.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("stats", "--period", "fortnight"), "o2o: error: --period: unknown period 'fortnight'"),
        (("stats", "--store", "nowhere"), "o2o: error: --store: unknown store 'nowhere'"),
        (
            ("export", "orders", "--period", "0d", "--out", "x.csv"),
            "o2o: error: --period: period '0d'",
        ),
    ],
)
async def test_a_bad_period_or_store_is_one_line_and_exit_code_2(
    cli: Cli, argv: tuple[str, ...], message: str
) -> None:
    await build_varied_database(cli.url, orders=0)

    result = await cli(*argv)

    assert result.code == 2
    assert len(result.err_lines) == 1
    assert result.err_lines[0].startswith(message)
    assert result.out == ""


async def test_a_missing_sqlite_file_is_an_error_and_is_not_created(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nothing-here.sqlite3"
    monkeypatch.setenv("O2O_DATABASE_URL", f"sqlite+aiosqlite:///{missing}")

    stats = await cli("stats")
    export = await cli("export", "orders", "--out", tmp_path / "x.csv")

    assert (stats.code, export.code) == (2, 2)
    assert "no database at" in stats.err_lines[0]
    assert not missing.exists()
    assert not (tmp_path / "x.csv").exists()


async def test_stats_of_an_empty_database_print_dashes(cli: Cli) -> None:
    await upgrade_async(cli.url)

    result = await cli("stats", "--period", "today")

    assert result.code == 0, result.err
    assert "conversion rate" in result.out
    rate = next(line for line in result.out.splitlines() if line.startswith("conversion rate"))
    assert rate.split()[2:] == ["–", "–", "–"]
    engine = create_engine(cli.url)
    try:
        async with create_sessionmaker(engine)() as session:
            assert (await session.execute(select(models.Order.id))).first() is None
    finally:
        await engine.dispose()
