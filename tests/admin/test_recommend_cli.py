"""`o2o recommend evaluate` and `o2o recommend for`: figures, reasons and one-line errors."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.db import models
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade_async
from tests.admin.conftest import Cli

PRODUCTS = ("Latte", "Tea", "Cake", "Bagel", "Mocha", "Scone", "Chai")


async def build_shop(url: str) -> None:
    """Two stores, completed orders with surveys by 11 regulars and one newcomer; Scone sold out."""
    rng = random.Random(3)
    await upgrade_async(url)
    engine = create_engine(url)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            central = models.Store(code="central", name="Central", currency="CNY", created_at=at)
            uptown = models.Store(code="uptown", name="Uptown", currency="CNY", created_at=at)
            session.add_all([central, uptown])
            products = [
                models.Product(
                    sku=name.lower(), name=name, price_minor=500, currency="CNY", created_at=at
                )
                for name in PRODUCTS
            ]
            session.add_all(products)
            customers = [
                models.Customer(telegram_id=700 + i, created_at=at, updated_at=at)
                for i in range(13)
            ]
            session.add_all(customers)
            await session.flush()
            customers[0].selected_store_id = central.id
            for product in products:
                stock = 0 if product.name == "Scone" else None
                session.add(
                    models.StoreProduct(store_id=central.id, product_id=product.id, stock=stock)
                )
                if product.name != "Chai":
                    session.add(models.StoreProduct(store_id=uptown.id, product_id=product.id))
            for n in range(121):
                # The twelfth customer never ordered; the thirteenth once (the last order).
                customer = customers[12] if n == 120 else customers[n % 11]
                placed = at + timedelta(days=rng.randrange(100), hours=rng.randrange(24))
                order = models.Order(
                    number=str(n),
                    store_id=central.id,
                    customer_id=customer.id,
                    idempotency_key=f"k{n}",
                    status="completed",
                    fulfilment="pickup",
                    subtotal_minor=500,
                    total_minor=500,
                    currency="CNY",
                    placed_at=placed,
                    completed_at=placed + timedelta(minutes=20),
                )
                session.add(order)
                await session.flush()
                for product in rng.sample(products, 2):
                    session.add(
                        models.OrderLine(
                            order_id=order.id,
                            product_id=product.id,
                            name=product.name,
                            unit_price_minor=500,
                            quantity=1,
                            line_total_minor=500,
                        )
                    )
                if rng.random() < 0.5:
                    session.add(
                        models.Survey(
                            order_id=order.id,
                            customer_id=customer.id,
                            store_id=central.id,
                            status="answered",
                            due_at=placed,
                            score=rng.randint(1, 5),
                        )
                    )
    finally:
        await engine.dispose()


async def test_recommend_for_a_customer_lists_items_with_reasons(cli: Cli) -> None:
    await build_shop(cli.url)
    result = await cli("recommend", "for", "700", "--n", "4", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["store"] == "central"
    assert data["telegram_id"] == 700
    names = [item["name"] for item in data["items"]]
    assert len(names) == 4
    assert "Scone" not in names
    assert {item["reason"] for item in data["items"]} == {"svd"}

    text = await cli("recommend", "for", "711", "--store", "central", "--n", "7")  # no orders
    assert text.code == 0, text.err
    assert text.out.count("popular_in_store") == 6
    assert "Scone" not in text.out

    elsewhere = await cli("recommend", "for", "700", "--store", "uptown", "--n", "7", "--json")
    names = {item["name"] for item in json.loads(elsewhere.out)["items"]}
    assert names
    assert "Chai" not in names


async def test_a_newcomer_gets_the_favourites_of_their_rfm_tier(cli: Cli) -> None:
    await build_shop(cli.url)
    result = await cli("recommend", "for", "712", "--n", "3", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["tier"] is not None
    assert {item["reason"] for item in data["items"]} <= {"popular_in_tier", "popular_in_store"}
    assert data["items"][0]["reason"] == "popular_in_tier"


async def test_recommend_for_unknown_customer_or_store_is_one_line(cli: Cli) -> None:
    await build_shop(cli.url)
    for argv in (("for", "999999"), ("for", "700", "--store", "nowhere")):
        result = await cli("recommend", *argv)
        assert result.code == 2
        assert len(result.err_lines) == 1
        assert result.err_lines[0].startswith("o2o: error:")


async def test_recommend_evaluate_prints_errors_and_top_n(cli: Cli, tmp_path: Path) -> None:
    rng = random.Random(1)
    rows = [
        f"{u}\t{i}\t{rng.randint(1, 5)}\t{t}"
        for t, (u, i) in enumerate((u, i) for u in range(30) for i in rng.sample(range(25), 10))
    ]
    ratings = tmp_path / "ratings.tsv"
    ratings.write_text("\n".join(rows) + "\n")
    result = await cli("recommend", "evaluate", "--ratings", ratings, "--folds", "3", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["ratings"] == 300
    assert len(data["fold_rmse"]) == 3
    assert set(data["top_n"]) == {"svd", "popularity", "blend"}
    table = await cli("recommend", "evaluate", "--ratings", ratings, "--folds", "3", "--k", "5")
    assert "RMSE" in table.out
    assert "precision@5" in table.out


async def test_recommend_evaluate_bad_file_is_one_line_exit_2(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,rating\n1,2,3\n1,3,lots\n")
    for path in (bad, tmp_path / "missing.csv"):
        result = await cli("recommend", "evaluate", "--ratings", path)
        assert result.code == 2
        assert len(result.err_lines) == 1
        assert "--ratings" in result.err_lines[0]
