"""`o2o seed`: the demo stores through the store admin, the sample catalog through the importer."""

from __future__ import annotations

from tests.admin.conftest import Cli, read_database


async def test_seed_creates_the_demo_stores_and_catalog_once(cli: Cli) -> None:
    first = await cli("seed")
    seeded = await read_database(cli.url)
    again = await cli("seed")

    assert (first.code, again.code) == (0, 0)
    assert "demo stores and catalog added" in first.out
    assert "nothing added" in again.out
    assert await read_database(cli.url) == seeded, "seeding twice changes nothing"

    central = seeded["stores"]["central"]
    assert (central["name"], central["address"]) == ("Central Café", "1 Market Street")
    assert (central["timezone"], central["currency"]) == ("Asia/Shanghai", "CNY")
    assert central["opening_hours"]["mon"] == [["07:30", "21:00"]]
    assert len(central["opening_hours"]) == 7
    settings = central["settings"]
    assert settings["fulfilment"] == ["pickup", "delivery", "dine_in"]
    assert (settings["delivery_fee_minor"], settings["delivery_min_order_minor"]) == (500, 3000)
    assert settings["delivery_radius_km"] == 3.0
    riverside = seeded["stores"]["riverside"]
    assert riverside["settings"]["fulfilment"] == ["pickup", "dine_in"]
    assert sorted(riverside["opening_hours"]) == ["fri", "sat", "thu", "tue", "wed"]
    assert riverside["opening_hours"]["tue"] == [["10:00", "22:00"]]

    tables = seeded["tables"]
    assert {label: spec for (store, label), spec in tables.items() if store == "central"} == {
        **{str(n): (4, True) for n in range(1, 13)},
        "13": (8, True),
        "14": (8, True),
    }
    assert {label: spec for (store, label), spec in tables.items() if store == "riverside"} == {
        str(n): (2, True) for n in range(1, 7)
    }

    latte = seeded["products"]["latte"]
    assert (latte["price_minor"], latte["currency"]) == (2800, "CNY")
    assert len(seeded["categories"]) == 4
    assert len(seeded["products"]) >= 14
    assert any(stock == 0 for stock, _ in seeded["listings"].values()), "something sold out"
    assert len(seeded["services"]) == 2
