"""`o2o catalog import/export`: CSV and YAML, all or nothing, errors with line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete

from bot.admin.catalog import parse_csv, parse_yaml
from bot.db import models
from bot.db.engine import create_engine
from bot.seed import sample_catalog_text
from tests.admin.conftest import Cli, add_two_stores, read_database

CSV_OK = """\
code,name,name_zh-CN,category,category_name,category_name_zh-CN,price,currency,stores,stock,available
latte,Latte,拿铁,coffee,Coffee,咖啡,28.00,CNY,*,,true
croissant,Croissant,可颂,bakery,Bakery,烘焙,15,CNY,central,12,
scone,Scone,司康,bakery,,,16.50,CNY,central|riverside,central=3|riverside=0,riverside=false
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    """Write a catalog file and return its path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def test_a_yaml_catalog_is_imported_with_translations_stock_and_services(
    cli: Cli, tmp_path: Path
) -> None:
    await add_two_stores(cli)
    path = write(tmp_path, "cafe.yaml", sample_catalog_text())

    result = await cli("catalog", "import", path)

    assert result.code == 0, result.err
    assert result.out.startswith("created 15, updated 0 products")
    assert "categories: created 4, updated 0; services: created 2, updated 0" in result.out
    db = await read_database(cli.url)
    latte = db["products"]["latte"]
    assert (latte["price_minor"], latte["currency"], latte["category"]) == (2800, "CNY", "coffee")
    assert latte["names"]["zh-CN"] == "拿铁"
    assert latte["photo"] == "https://example.com/o2o/latte.jpg"
    assert db["categories"]["tea"] == ("Tea", {"zh-CN": "茶饮"}, 1)
    assert db["listings"][("central", "latte")] == (None, True), "made to order: not tracked"
    assert db["listings"][("central", "croissant")] == (24, True)
    assert db["listings"][("riverside", "croissant")] == (12, True)
    assert db["listings"][("riverside", "pain-au-chocolat")] == (0, True), "sold out"
    assert db["listings"][("riverside", "tiramisu")] == (0, False)
    assert ("riverside", "mocha") not in db["listings"], "only central sells mocha"
    assert db["services"][("central", "latte-art")] == (
        "Latte art class",
        {"zh-CN": "咖啡拉花课"},
        60,
        12000,
        True,
    )


async def test_a_csv_catalog_creates_categories_from_category_name_and_per_store_stock(
    cli: Cli, tmp_path: Path
) -> None:
    await add_two_stores(cli)

    result = await cli("catalog", "import", write(tmp_path, "menu.csv", CSV_OK))

    assert result.code == 0, result.err
    assert result.out.startswith("created 3, updated 0 products")
    assert "categories: created 2, updated 0" in result.out
    db = await read_database(cli.url)
    assert db["categories"] == {
        "coffee": ("Coffee", {"zh-CN": "咖啡"}, 0),
        "bakery": ("Bakery", {"zh-CN": "烘焙"}, 1),
    }
    assert db["products"]["croissant"]["price_minor"] == 1500
    assert db["products"]["scone"]["price_minor"] == 1650
    assert db["products"]["scone"]["names"] == {"zh-CN": "司康"}
    assert db["listings"] == {
        ("central", "latte"): (None, True),
        ("riverside", "latte"): (None, True),
        ("central", "croissant"): (12, True),
        ("central", "scone"): (3, True),
        ("riverside", "scone"): (0, False),
    }


async def test_importing_again_updates_by_code_and_leaves_other_products_alone(
    cli: Cli, tmp_path: Path
) -> None:
    await add_two_stores(cli)
    await cli("catalog", "import", write(tmp_path, "menu.csv", CSV_OK))
    before = await read_database(cli.url)
    change = "code,name,category,price,currency,stores\nlatte,Latte,coffee,29.50,CNY,central\n"

    result = await cli("catalog", "import", write(tmp_path, "price.csv", change))

    assert result.code == 0, result.err
    assert result.out.startswith("created 0, updated 1 products (0 unchanged)")
    assert "store listings: added 0, changed 0, removed 1" in result.out
    after = await read_database(cli.url)
    assert after["products"]["latte"]["price_minor"] == 2950
    assert after["products"]["latte"]["names"] == {"zh-CN": "拿铁"}, "no name_zh-CN column"
    assert ("riverside", "latte") not in after["listings"]
    assert after["products"]["scone"] == before["products"]["scone"]
    assert after["categories"] == before["categories"]


async def test_a_dry_run_reports_what_would_change_and_writes_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    await add_two_stores(cli)
    before = await read_database(cli.url)

    result = await cli("catalog", "import", write(tmp_path, "menu.csv", CSV_OK), "--dry-run")

    assert result.code == 0, result.err
    assert result.out.startswith("dry run, nothing written: created 3, updated 0 products")
    assert await read_database(cli.url) == before


CSV_BAD = """\
code,name,category,price,currency,stores,stock,colour
latte,Latte,coffee,29.00,CNY,*,5,red
newthing,New,nosuch,32.00,CNY,*,,
bad1,Bad,coffee,abc,CNY,*,,
bad2,Bad,coffee,-1.00,CNY,*,,
bad3,Bad,coffee,1.001,CNY,*,,
bad4,Bad,coffee,1.00,cny,*,,
latte,Latte again,coffee,28.00,CNY,*,,
bad5,Bad,coffee,1.00,CNY,central|mars,,
bad6,Bad,coffee,1.00,CNY,*,-2,
"two-line
name",Bad,coffee,1.00,CNY,*,,
bad7,Bad,coffee,1.00,USD,central,,
bad8,,coffee,1.00,CNY,*,,
"""
CSV_EXPECTED = [
    (1, "unknown column 'colour'"),
    (3, "unknown category 'nosuch' (give category_name to create it)"),
    (4, "price 'abc' is not a decimal number"),
    (5, "negative price -1.00"),
    (6, "price 1.001 has more decimals than CNY allows"),
    (7, "bad currency 'cny'"),
    (8, "duplicate product code 'latte' (first on line 2)"),
    (9, "unknown store 'mars'"),
    (10, "negative stock -2"),
    (11, "bad product code"),
    (13, "priced in USD but store 'central' sells in CNY"),
    (14, "missing value(s) for name"),
]

YAML_BAD = """\
categories:
  - code: cakes
    name: Cakes
    colour: red
products:
  - code: latte
    name: Latte
    category: coffee
    price: 28.005
    currency: CNY
  - code: ghost
    name: Ghost
    category: nosuch
    price: "1.00"
    currency: CNY
  - code: nameless
    category: coffee
    price: "1.00"
    currency: CNY
  - code: latte
    name: Again
    category: coffee
    price: "-2"
    currency: EURO
    stores:
      mars: {stock: 1}
      central: {stock: -1}
services:
  - store: central
    code: class
    name: Class
    price: "1.234"
"""
YAML_EXPECTED = [
    (4, "unknown category field 'colour'"),
    (9, "price 28.005 has more decimals than CNY allows"),
    (13, "unknown category 'nosuch'"),
    (16, "missing required field 'name'"),
    (20, "duplicate product code 'latte' (first on line 6)"),
    (24, "bad currency 'EURO'"),
    (26, "unknown store 'mars'"),
    (27, "negative stock -1"),
    (32, "price 1.234 has more decimals than CNY allows"),
]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [("bad.csv", CSV_BAD, CSV_EXPECTED), ("bad.yaml", YAML_BAD, YAML_EXPECTED)],
    ids=["csv", "yaml"],
)
async def test_every_problem_is_reported_with_its_line_and_nothing_changes(
    cli: Cli, tmp_path: Path, name: str, text: str, expected: list[tuple[int, str]]
) -> None:
    await add_two_stores(cli)
    await cli("catalog", "import", write(tmp_path, "good.csv", CSV_OK))
    before = await read_database(cli.url)
    path = write(tmp_path, name, text)

    result = await cli("catalog", "import", path)

    assert result.code == 1
    assert result.out == ""
    reported = [line.split(":", 2) for line in result.err_lines]
    assert all(file == str(path) for file, _, _ in reported), result.err
    for line, fragment in expected:
        assert any(
            int(number) == line and fragment in message for _, number, message in reported
        ), f"line {line}: {fragment!r} not in\n{result.err}"
    assert {int(number) for _, number, _ in reported} == {line for line, _ in expected}
    assert await read_database(cli.url) == before, "all or nothing"


async def test_a_missing_required_column_is_reported_on_the_header_line(
    cli: Cli, tmp_path: Path
) -> None:
    result = await cli("catalog", "import", write(tmp_path, "x.csv", "code,name,price\na,A,1\n"))

    assert result.code == 1
    assert result.err_lines == [
        f"{tmp_path / 'x.csv'}:1: missing required column(s): category,currency"
    ]


async def test_broken_yaml_is_reported_at_its_line(cli: Cli, tmp_path: Path) -> None:
    result = await cli("catalog", "import", write(tmp_path, "x.yaml", "products:\n  - [\n"))

    assert result.code == 1
    assert result.err_lines[0].startswith(f"{tmp_path / 'x.yaml'}:3: not valid YAML")


@pytest.mark.parametrize(
    ("name", "expected"), [("menu.txt", "extension"), ("absent.csv", "no such file")]
)
async def test_an_unusable_file_is_a_usage_error(
    cli: Cli, tmp_path: Path, name: str, expected: str
) -> None:
    if name.endswith(".txt"):
        write(tmp_path, name, CSV_OK)

    result = await cli("catalog", "import", tmp_path / name)

    assert result.code == 2
    assert len(result.err_lines) == 1
    assert expected in result.err


async def _export_wipe_import(cli: Cli, tmp_path: Path, fmt: str) -> tuple[str, str]:
    """Export, empty the catalog (stores stay), import the export, export again."""
    first = await cli("catalog", "export", "--format", fmt)
    assert first.code == 0, first.err
    engine = create_engine(cli.url)
    try:
        async with engine.begin() as connection:
            for table in (models.StoreProduct, models.Product, models.Category, models.Service):
                await connection.execute(delete(table))
    finally:
        await engine.dispose()
    path = write(tmp_path, f"export.{fmt}", first.out)
    imported = await cli("catalog", "import", path)
    assert imported.code == 0, imported.err
    second = await cli("catalog", "export", "--format", fmt)
    return first.out, second.out


async def test_a_yaml_export_imported_into_an_empty_catalog_reproduces_it(
    cli: Cli, tmp_path: Path
) -> None:
    await add_two_stores(cli)
    await cli("catalog", "import", write(tmp_path, "cafe.yaml", sample_catalog_text()))
    original = await read_database(cli.url)

    first, second = await _export_wipe_import(cli, tmp_path, "yaml")

    assert second == first
    assert await read_database(cli.url) == original


async def test_a_csv_export_imported_into_an_empty_catalog_reproduces_it(
    cli: Cli, tmp_path: Path
) -> None:
    await add_two_stores(cli)
    await cli("catalog", "import", write(tmp_path, "cafe.yaml", sample_catalog_text()))
    original = await read_database(cli.url)

    first, second = await _export_wipe_import(cli, tmp_path, "csv")

    assert second == first
    restored = await read_database(cli.url)
    assert {k: v for k, v in restored.items() if k != "services"} == {
        k: v for k, v in original.items() if k != "services"
    }, "CSV holds everything but services"


async def test_export_writes_a_file_in_the_format_of_its_extension_and_notes_what_csv_drops(
    cli: Cli, tmp_path: Path
) -> None:
    await add_two_stores(cli)
    await cli("catalog", "import", write(tmp_path, "cafe.yaml", sample_catalog_text()))

    result = await cli("catalog", "export", "--out", tmp_path / "out.csv")

    assert result.code == 0, result.err
    assert result.out == ""
    text = (tmp_path / "out.csv").read_text(encoding="utf-8")
    assert text.startswith("code,name,category,price,currency,")
    assert "latte,Latte,coffee,28.00,CNY," in text
    assert "2 service(s) not exported" in result.err


def test_the_sample_catalog_parses_without_problems() -> None:
    parsed = parse_yaml(sample_catalog_text())

    assert parsed.issues == []
    assert len(parsed.categories) == 4
    assert len(parsed.products) >= 14
    assert any(product.values.get("photo") for product in parsed.products)
    assert any(product.default_listing.get("stock") == 0 for product in parsed.products)
    assert {service.store for service in parsed.services} == {"central", "riverside"}


def test_csv_lines_count_physical_lines_across_quoted_line_breaks() -> None:
    text = (
        'code,name,category,price,currency\n"a",x,c,1,CNY\n\n"b\nc",y,c,1.5.0,CNY\nd,z,c,bad,CNY\n'
    )

    parsed = parse_csv(text)

    assert [(issue.line, issue.message.split(" ")[0]) for issue in sorted(parsed.issues)] == [
        (4, "bad"),
        (4, "price"),
        (6, "price"),
    ]


def test_a_key_repeated_in_a_yaml_mapping_is_reported() -> None:
    parsed = parse_yaml("products:\n  - code: a\n    name: A\n    code: b\n")

    assert any(
        issue.line == 4 and "'code' appears twice" in issue.message for issue in parsed.issues
    )
