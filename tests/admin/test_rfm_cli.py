"""`o2o rfm`: CDNOW counts recomputed independently, CSV errors, the database path."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.db import models
from bot.db.engine import create_engine, create_sessionmaker
from tests.admin.conftest import Cli
from tests.admin.test_stats_cli import build_varied_database

REPO = Path(__file__).resolve().parents[2]
# The same file as ../shared/data/cdnow/cdnow_transactions.csv, kept in the repository so the
# test runs on any clean clone (see tests/data/README.md).
CDNOW = REPO / "tests/data/cdnow_transactions.csv"


def cdnow_file() -> Path:
    """The CDNOW transactions (tests/data); never skipped."""
    return CDNOW


def classic8_by_hand(
    customers: dict[object, tuple[date, int, Decimal]], as_of: date
) -> dict[str, int]:
    """The classic 8 segments with plain loops: each measure against its mean over customers."""
    n = len(customers)
    recency = {c: (as_of - last).days for c, (last, _, _) in customers.items()}
    mean_r = Decimal(sum(recency.values())) / n
    mean_f = Decimal(sum(f for _, f, _ in customers.values())) / n
    mean_m = sum((m for _, _, m in customers.values()), Decimal(0)) / n
    names = {
        (True, True, True): "important_value",
        (True, False, True): "important_develop",
        (False, True, True): "important_retain",
        (False, False, True): "important_winback",
        (True, True, False): "general_value",
        (True, False, False): "general_develop",
        (False, True, False): "general_retain",
        (False, False, False): "general_winback",
    }
    counts = dict.fromkeys(names.values(), 0)
    for customer, (_, frequency, monetary) in customers.items():
        key = (recency[customer] < mean_r, frequency > mean_f, monetary > mean_m)
        counts[names[key]] += 1
    return counts


async def test_cdnow_segment_counts_match_an_independent_computation(cli: Cli) -> None:
    path = cdnow_file()
    customers: dict[object, tuple[date, int, Decimal]] = {}
    with path.open(encoding="utf-8", newline="") as file:
        for row in csv.DictReader(file):
            day = date.fromisoformat(row["date"][:10])
            amount = Decimal(row["amount"])
            last, frequency, monetary = customers.get(row["customer_id"], (day, 0, Decimal(0)))
            customers[row["customer_id"]] = (max(last, day), frequency + 1, monetary + amount)
    as_of = max(last for last, _, _ in customers.values()) + timedelta(days=1)

    result = await cli("rfm", "--from-csv", path, "--json")

    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert set(report) == {"as_of", "model", "customers", "thresholds", "segments"}
    assert report["as_of"] == as_of.isoformat() == "1998-07-01"
    assert report["model"] == "classic8"
    assert report["customers"] == len(customers) == 23570
    assert report["segments"] == classic8_by_hand(customers, as_of)


async def test_quintile_and_text_output_cover_every_cdnow_customer(cli: Cli) -> None:
    result = await cli("rfm", "--from-csv", cdnow_file(), "--model", "quintile", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert len(report["segments"]) == 10
    assert sum(report["segments"].values()) == 23570

    text = await cli("rfm", "--from-csv", cdnow_file(), "--as-of", "1998-12-31")
    assert text.code == 0, text.err
    assert "RFM as of 1998-12-31 · model classic8 · 23570 customers" in text.out
    assert "Important value" in text.out
    assert "重要价值客户" in text.out


def write(path: Path, text: str) -> Path:
    """Write a CSV fixture and return its path."""
    path.write_text(text, encoding="utf-8")
    return path


async def test_a_small_csv_with_extra_columns_and_iso_times(cli: Cli, tmp_path: Path) -> None:
    file = write(
        tmp_path / "orders.csv",
        "note,customer_id,date,amount\n"
        "x,a,2026-05-01,10\n"
        "y,a,2026-05-03T22:30:00+08:00,30.5\n"
        "z,b,2026-04-01,5\n",
    )
    result = await cli("rfm", "--from-csv", file, "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["as_of"] == "2026-05-04"  # the day as written, not converted to UTC
    assert report["thresholds"] == {
        "recency_days_mean": 17.0,  # (1 + 33) / 2
        "frequency_mean": 1.5,
        "monetary_mean": 22.75,
    }
    assert report["segments"]["important_value"] == 1
    assert report["segments"]["general_winback"] == 1


async def test_bad_rows_are_one_line_with_file_and_line(cli: Cli, tmp_path: Path) -> None:
    cases = {
        "customer_id,date,amount\n1,2026-05-01,10\n1,2026-13-01,5\n": ":3: date is not",
        "customer_id,date,amount\n1,2026-05-01,ten\n": ":2: amount is not a number",
        "customer_id,date,amount\n1,2026-05-01,-1\n2,2026-05-01,x\n": ":2: amount is negative",
        "customer_id,date,amount\n1,2026-05-01,1\n,2026-05-01,1\n": ":3: customer_id is empty",
        "customer_id,date,amount\n1,2026-05-01,1\n\n": ":3: customer_id is empty",
        "customer,date,amount\n1,2026-05-01,1\n": ":1: header lacks customer_id",
        "1,2026-05-01,1\n": ":1: header lacks customer_id, date, amount",
        "": ":1: empty file",
    }
    for n, (text, expected) in enumerate(cases.items()):
        file = write(tmp_path / f"bad{n}.csv", text)
        result = await cli("rfm", "--from-csv", file)
        assert result.code == 2, text
        assert len(result.err_lines) == 1, result.err
        assert f"{file}{expected}" in result.err, result.err


async def test_bad_arguments_are_one_line_and_exit_code_2(cli: Cli, tmp_path: Path) -> None:
    file = write(tmp_path / "o.csv", "customer_id,date,amount\n1,2026-05-01,10\n")
    cases = {
        (
            "--as-of",
            "2026-04-30",
        ): "--as-of: as-of 2026-04-30 is before the last order (2026-05-01)",
        ("--as-of", "yesterday"): "--as-of: 'yesterday' is not a date",
        ("--store", "central"): "--store: only with the database",
    }
    for extra, expected in cases.items():
        result = await cli("rfm", "--from-csv", file, *extra)
        assert result.code == 2
        assert len(result.err_lines) == 1, result.err
        assert result.err_lines[0].startswith(f"o2o: error: {expected}"), result.err
    missing = await cli("rfm", "--from-csv", tmp_path / "nope.csv")
    assert missing.code == 2
    assert "no such file" in missing.err


async def test_empty_csv_gives_zero_counts(cli: Cli, tmp_path: Path) -> None:
    file = write(tmp_path / "empty.csv", "customer_id,date,amount\n")
    result = await cli("rfm", "--from-csv", file, "--as-of", "2026-01-01", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["customers"] == 0
    assert set(report["segments"].values()) == {0}


async def test_database_store_counts_match_the_orders_by_hand(cli: Cli) -> None:
    await build_varied_database(cli.url)
    engine = create_engine(cli.url)
    try:
        async with create_sessionmaker(engine)() as session:
            central = await session.scalar(
                select(models.Store).where(models.Store.code == "central")
            )
            assert central is not None
            rows = list(
                await session.scalars(
                    select(models.Order).where(
                        models.Order.status == "completed", models.Order.store_id == central.id
                    )
                )
            )
    finally:
        await engine.dispose()
    shanghai = ZoneInfo("Asia/Shanghai")
    by_customer: dict[object, list[tuple[date, Decimal]]] = defaultdict(list)
    for order in rows:
        assert order.completed_at is not None
        at = order.completed_at.replace(tzinfo=order.completed_at.tzinfo or ZoneInfo("UTC"))
        by_customer[order.customer_id].append(
            (at.astimezone(shanghai).date(), Decimal(order.total_minor) / 100)
        )
    customers = {
        c: (max(d for d, _ in items), len(items), sum((a for _, a in items), Decimal(0)))
        for c, items in by_customer.items()
    }
    as_of = date(2026, 6, 30)

    result = await cli("rfm", "--store", "central", "--as-of", as_of.isoformat(), "--json")

    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["customers"] == len(customers) > 0
    assert report["segments"] == classic8_by_hand(customers, as_of)

    mixed = await cli("rfm")  # CNY and USD stores: monetary would add the two up
    assert mixed.code == 2
    assert "several currencies (CNY, USD)" in mixed.err
    unknown = await cli("rfm", "--store", "nowhere")
    assert unknown.code == 2
    assert "--store: unknown store 'nowhere'" in unknown.err
