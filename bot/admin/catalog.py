"""Catalog import and export: `o2o catalog import FILE [--dry-run]`, `o2o catalog export`.

File formats
============

The format is chosen by the file name: ``.csv`` for CSV, ``.yaml`` or ``.yml`` for YAML. Files
are UTF-8 (a byte-order mark is allowed). Import is an *upsert*: products are matched by their
code (``products.sku``), categories by code, services by store and code. Products, categories
and services missing from the file are left alone. Catalog import never creates stores: add
them first with ``o2o store add``.

Prices are decimal strings in the product's currency, converted exactly to minor units: ``28``
and ``28.00`` are fine in CNY, ``28.001`` is refused (more decimals than CNY has), as are
negative amounts, exponents and thousands separators. A currency is three upper-case letters
(ISO 4217). A product sold at a store must be priced in that store's currency.

Translations: the default ``name``/``description`` is the English text; translations are given
per locale for the locales the bot speaks (``zh-CN``).

CSV
---
One product per row. The first row is the header. Column order is free.

Required columns: ``code,name,category,price,currency``.

Optional columns: ``description,photo,active,name_zh-CN,description_zh-CN,category_name,
category_name_zh-CN,stores,stock,available``. Any other column is an error.

- ``code``: product code, 1-64 of ``A-Z a-z 0-9 _ . -`` starting with a letter or digit.
- ``category``: category code. A category that does not exist yet is created when some row
  gives its ``category_name`` (and optionally ``category_name_zh-CN``); a non-blank
  ``category_name`` also renames an existing category. Rows naming the same category must
  agree on these names. New categories are ordered after the existing ones, by first
  appearance in the file.
- ``photo``: an image URL or Telegram file_id; blank = no photo.
- ``active``: ``true``/``false`` (also ``yes``/``no``, ``1``/``0``); blank = true. Inactive
  products are not shown to customers.
- ``stores``: which stores sell the product: ``*`` (every store; also when blank), ``-`` (no
  store), or codes separated by ``|`` such as ``central|riverside``. Stores not listed stop
  selling the product (their stock row is removed).
- ``stock``: blank = not tracked (made to order); a whole number >= 0 applied to each listed
  store; or per store ``central=12|riverside=0`` (listed stores not named are not tracked).
- ``available``: ``true``/``false`` for each listed store (blank = true), or per store
  ``central=true|riverside=false`` (listed stores not named are available).

When a column is present, its cells are authoritative (a blank cell sets the default: no photo,
no translation, stock not tracked, available). When an optional column is absent, an existing
product keeps its value and a new one gets the default.

Example::

    code,name,name_zh-CN,category,category_name,price,currency,stores,stock
    latte,Latte,拿铁,coffee,Coffee,28.00,CNY,*,50
    croissant,Croissant,可颂,bakery,Bakery,15.00,CNY,central,0

YAML
----
A mapping with up to three lists; any other key is an error::

    categories:              # optional
      - code: coffee         # required: 1-32 of A-Z a-z 0-9 _ -
        name: Coffee         # required
        names: {zh-CN: 咖啡}  # optional translations
        sort_order: 10       # optional whole number; default: after the existing ones
    products:                # optional
      - code: latte          # required
        name: Latte          # required
        names: {zh-CN: 拿铁}
        description: Double shot, steamed milk
        descriptions: {zh-CN: 双份浓缩，蒸汽牛奶}
        category: coffee     # required: a category in this file or in the database
        price: "28.00"       # required; quoting is advised but 28.00 unquoted reads the same
        currency: CNY        # required
        photo: https://example.org/latte.jpg
        active: true
        stores:              # default "*": every store, stock not tracked, available
          "*": {stock: 50, available: true}    # every store ...
          riverside: {stock: 20}               # ... with per-store overrides
    services:                # optional: bookable services of one store
      - store: central       # required: an existing store code
        code: latte-art      # required: 1-32 of A-Z a-z 0-9 _ -, unique per store
        name: Latte art class  # required
        names: {zh-CN: 拉花课}
        duration_minutes: 60 # optional, 1-1440, default 30
        price: "120.00"      # optional, in the store's currency; null = no price shown
        active: true         # optional, default true

``stores`` may also be ``"*"``, a list of store codes, or a mapping from store codes to
``{stock, available}``; stores not listed stop selling the product. In a store entry, a missing
``stock`` keeps an existing value (not tracked for a new listing), ``stock: null`` means not
tracked, and ``available`` defaults to true. Other optional keys follow the CSV rule: absent keeps
the stored value (or the default for a new row), present sets it (``names``/``descriptions``
replace all translations).

Validation
----------
The whole file is checked before anything is written, and import is all or nothing, in one
transaction. Every problem is reported as ``FILE:LINE: message`` on stderr, where LINE is the
physical line of the CSV record (a quoted value may span lines) or of the YAML node, and the
command exits with code 1 having changed nothing. Checked: missing required columns or fields,
unknown columns or fields, blank required values, malformed codes, duplicate codes in the file,
unknown categories (CSV: without ``category_name``), bad currencies, bad prices, unknown stores,
currency different from a store's, stock that is not a whole number >= 0, bad booleans, unknown
locales, YAML syntax and keys repeated in a YAML mapping. ``--dry-run`` runs the same checks and
reports what would change, writing nothing.

On success one line is printed::

    created 15, updated 0 products (0 unchanged); categories: created 4, updated 0;
    services: created 2, updated 0; store listings: added 29, changed 0, removed 0

(one line in reality; prefixed by ``dry run, nothing written:`` for ``--dry-run``).

Export (``o2o catalog export [--format csv|yaml] [--out FILE]``) writes these formats back, so
an export imported into an empty database with the same stores reproduces the catalog. CSV
cannot hold services or categories without products: exporting them to CSV prints a note on
stderr (use YAML for a complete copy).

Description translations have no column of their own: they are kept in ``products.names`` under
the key ``description:<locale>`` (see `split_names`), next to the name translations.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.admin.cli import AdminError
from bot.db import models
from domain.money import Money, validate_currency
from handlers.i18n import LOCALES

TRANSLATION_LOCALES: tuple[str, ...] = tuple(locale for locale in LOCALES if locale != "en")
DESCRIPTION_KEY_PREFIX = "description:"

_PRODUCT_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
MAX_INT = 2**31 - 1  # INTEGER columns on PostgreSQL
_DECIMAL_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_TRUE = frozenset({"true", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "no", "n", "0", "off"})

CSV_REQUIRED = ("code", "name", "category", "price", "currency")
CSV_OPTIONAL = (
    "description",
    "photo",
    "active",
    *(f"name_{locale}" for locale in TRANSLATION_LOCALES),
    *(f"description_{locale}" for locale in TRANSLATION_LOCALES),
    "category_name",
    *(f"category_name_{locale}" for locale in TRANSLATION_LOCALES),
    "stores",
    "stock",
    "available",
)
CSV_COLUMNS = (*CSV_REQUIRED, *CSV_OPTIONAL)

_CATEGORY_FIELDS = ("code", "name", "names", "sort_order")
_PRODUCT_FIELDS = (
    "code",
    "name",
    "names",
    "description",
    "descriptions",
    "category",
    "price",
    "currency",
    "photo",
    "active",
    "stores",
)
_SERVICE_FIELDS = ("store", "code", "name", "names", "duration_minutes", "price", "active")
_LISTING_FIELDS = ("stock", "available")


# --------------------------------------------------------------------------- names


def split_names(stored: Mapping[str, Any] | None) -> tuple[dict[str, str], dict[str, str]]:
    """Split products.names into (name translations, description translations) by locale."""
    names: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    for key, value in (stored or {}).items():
        if key.startswith(DESCRIPTION_KEY_PREFIX):
            descriptions[key.removeprefix(DESCRIPTION_KEY_PREFIX)] = str(value)
        else:
            names[key] = str(value)
    return names, descriptions


def join_names(names: Mapping[str, str], descriptions: Mapping[str, str]) -> dict[str, str]:
    """The inverse of split_names."""
    joined = dict(names)
    joined.update({DESCRIPTION_KEY_PREFIX + key: value for key, value in descriptions.items()})
    return joined


def product_description(stored_names: Mapping[str, Any], default: str, locale: str) -> str:
    """A product's description in `locale`, falling back to the default text."""
    return str(stored_names.get(DESCRIPTION_KEY_PREFIX + locale) or default)


# --------------------------------------------------------------------------- parsed file


@dataclass(frozen=True, slots=True, order=True)
class Issue:
    """One problem found in the file, at a 1-based line."""

    line: int
    message: str


@dataclass(slots=True)
class CategorySpec:
    """A category as the file describes it; `values` holds only the fields given."""

    line: int
    code: str
    values: dict[str, Any] = field(default_factory=dict)
    # locale -> translation, None to remove; applied on top of the stored translations
    names: dict[str, str | None] | None = None
    created_by_csv: bool = False


@dataclass(slots=True)
class ProductSpec:
    """A product as the file describes it."""

    line: int
    code: str
    category: str
    category_line: int
    currency: str
    values: dict[str, Any] = field(default_factory=dict)
    names: dict[str, str | None] | None = None
    descriptions: dict[str, str | None] | None = None
    all_stores: bool = True
    stores: list[tuple[str, int]] = field(default_factory=list)  # (code, line) unless all
    stores_line: int = 0
    default_listing: dict[str, Any] = field(default_factory=dict)  # keys: stock, available
    store_listing: dict[str, dict[str, Any]] = field(default_factory=dict)
    store_listing_lines: dict[str, int] = field(default_factory=dict)
    price_minor: int | None = None


@dataclass(slots=True)
class ServiceSpec:
    """A bookable service as the file describes it."""

    line: int
    store: str
    store_line: int
    code: str
    values: dict[str, Any] = field(default_factory=dict)
    names: dict[str, str | None] | None = None
    price_text: str | None = None
    price_given: bool = False
    price_line: int = 0


@dataclass(slots=True)
class ParsedCatalog:
    """Everything read from one file, with the problems found without the database."""

    fmt: str
    categories: list[CategorySpec] = field(default_factory=list)
    products: list[ProductSpec] = field(default_factory=list)
    services: list[ServiceSpec] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    def error(self, line: int, message: str) -> None:
        """Record a problem."""
        self.issues.append(Issue(line, message))


@dataclass(slots=True)
class ImportCounts:
    """What an import changed (or, in a dry run, would change)."""

    products_created: int = 0
    products_updated: int = 0
    products_unchanged: int = 0
    categories_created: int = 0
    categories_updated: int = 0
    services_created: int = 0
    services_updated: int = 0
    listings_added: int = 0
    listings_changed: int = 0
    listings_removed: int = 0


@dataclass(slots=True)
class ImportReport:
    """The outcome of `o2o catalog import`: problems, or what changed."""

    source: str
    issues: list[Issue]
    counts: ImportCounts
    dry_run: bool

    @property
    def ok(self) -> bool:
        """True when the file had no problems (and, unless a dry run, was imported)."""
        return not self.issues

    def error_lines(self) -> list[str]:
        """Every problem as `FILE:LINE: message`, in line order."""
        return [f"{self.source}:{issue.line}: {issue.message}" for issue in sorted(self.issues)]

    def summary(self) -> str:
        """One line: products, categories, services and store listings created or updated."""
        c = self.counts
        text = (
            f"created {c.products_created}, updated {c.products_updated} products "
            f"({c.products_unchanged} unchanged); "
            f"categories: created {c.categories_created}, updated {c.categories_updated}; "
            f"services: created {c.services_created}, updated {c.services_updated}; "
            f"store listings: added {c.listings_added}, changed {c.listings_changed}, "
            f"removed {c.listings_removed}"
        )
        return f"dry run, nothing written: {text}" if self.dry_run else text


# --------------------------------------------------------------------------- value checks


def _text(value: Any) -> str | None:
    """A scalar as text (numbers too), None for null or a collection."""
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def _parse_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = _text(value)
    if text is None:
        return None
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None


def _parse_stock(value: Any) -> tuple[int | None, str | None]:
    """(stock, problem); stock None with no problem means "not tracked"."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    if isinstance(value, bool):
        return None, f"stock must be a whole number >= 0, got {value!r}"
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        if not re.fullmatch(r"[+-]?\d+", text):
            return None, f"stock must be a whole number >= 0, got {text!r}"
        number = int(text)
    if number < 0:
        return None, f"negative stock {number}"
    if number > MAX_INT:
        return None, f"stock {number} is too large"
    return number, None


def price_minor_units(text: str, currency: str) -> int:
    """Convert a decimal price string to minor units; ValueError with a readable reason."""
    raw = text.strip()
    if not _DECIMAL_RE.match(raw):
        raise ValueError(f"price {raw!r} is not a decimal number such as 28.00")
    if Decimal(raw) < 0:  # the pattern admits only plain decimals
        raise ValueError(f"negative price {raw}")
    try:
        minor = abs(Money.from_decimal(raw, currency).amount_minor)
    except ValueError:
        raise ValueError(f"price {raw} has more decimals than {currency} allows") from None
    if minor > MAX_INT:
        raise ValueError(f"price {raw} is too large")
    return minor


def _check_currency(value: str) -> str | None:
    try:
        validate_currency(value)
    except ValueError:
        return f"bad currency {value!r}: expected three upper-case letters such as CNY"
    return None


def format_price(minor: int, currency: str) -> str:
    """Minor units back to the decimal string the files use ("28.00")."""
    return f"{Money(minor, currency).to_decimal():f}"


# --------------------------------------------------------------------------- CSV


def parse_csv(text: str) -> ParsedCatalog:
    """Read the CSV format (see the module docstring); problems go to `issues`."""
    parsed = ParsedCatalog("csv")
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    header: list[str] | None = None
    header_line = 1
    previous_end = 0
    records: list[tuple[int, list[str]]] = []
    try:
        for record in reader:
            start, previous_end = previous_end + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if header is None:
                header, header_line = [cell.strip() for cell in record], start
            else:
                records.append((start, record))
    except csv.Error as exc:
        parsed.error(reader.line_num or 1, f"unreadable CSV: {exc}")
        return parsed
    if header is None:
        parsed.error(1, "empty file: a header row with " + ",".join(CSV_REQUIRED) + " is required")
        return parsed
    seen: set[str] = set()
    for name in header:
        if name in seen:
            parsed.error(header_line, f"column {name!r} appears twice")
        seen.add(name)
        if name not in CSV_COLUMNS:
            parsed.error(
                header_line,
                f"unknown column {name!r} (known: {','.join(CSV_COLUMNS)})"
                if name
                else "a column has no name",
            )
    missing = [name for name in CSV_REQUIRED if name not in seen]
    if missing:
        parsed.error(header_line, f"missing required column(s): {','.join(missing)}")
        return parsed
    columns = {name: index for index, name in enumerate(header) if name in CSV_COLUMNS}
    categories: dict[str, CategorySpec] = {}
    first_line: dict[str, int] = {}
    for line, record in records:
        if len(record) > len(header) and any(cell.strip() for cell in record[len(header) :]):
            parsed.error(line, f"{len(record)} values but the header has {len(header)} columns")
            continue
        row = {
            name: (record[index].strip() if index < len(record) else "")
            for name, index in columns.items()
        }
        _csv_product(parsed, line, row, categories, first_line)
    parsed.categories.extend(categories.values())
    return parsed


def _csv_product(
    parsed: ParsedCatalog,
    line: int,
    row: dict[str, str],
    categories: dict[str, CategorySpec],
    first_line: dict[str, int],
) -> None:
    blank = [name for name in CSV_REQUIRED if not row[name]]
    if blank:
        parsed.error(line, f"missing value(s) for {','.join(blank)}")
        return
    code = row["code"]
    if not _PRODUCT_CODE_RE.match(code):
        parsed.error(line, f"bad product code {code!r}: 1-64 of A-Z a-z 0-9 _ . -")
    elif code in first_line:
        parsed.error(line, f"duplicate product code {code!r} (first on line {first_line[code]})")
    else:
        first_line[code] = line
    category = row["category"]
    if not _CODE_RE.match(category):
        parsed.error(line, f"bad category code {category!r}: 1-32 of A-Z a-z 0-9 _ -")
    if len(row["name"]) > 200:
        parsed.error(line, "name is longer than 200 characters")
    currency = row["currency"]
    currency_problem = _check_currency(currency)
    if currency_problem:
        parsed.error(line, currency_problem)
    spec = ProductSpec(
        line=line,
        code=code,
        category=category,
        category_line=line,
        currency=currency,
        stores_line=line,
    )
    spec.values["name"] = row["name"]
    if not currency_problem:
        try:
            spec.price_minor = price_minor_units(row["price"], currency)
        except ValueError as exc:
            parsed.error(line, str(exc))
    if "description" in row:
        spec.values["description"] = row["description"]
    if "photo" in row:
        if len(row["photo"]) > 500:
            parsed.error(line, "photo is longer than 500 characters")
        spec.values["photo"] = row["photo"] or None
    if "active" in row:
        active = _parse_bool(row["active"]) if row["active"] else True
        if active is None:
            parsed.error(line, f"active must be true or false, got {row['active']!r}")
        spec.values["active"] = active
    name_columns = [f"name_{locale}" for locale in TRANSLATION_LOCALES if f"name_{locale}" in row]
    if name_columns:
        spec.names = {column.removeprefix("name_"): row[column] or None for column in name_columns}
    description_columns = [
        f"description_{locale}" for locale in TRANSLATION_LOCALES if f"description_{locale}" in row
    ]
    if description_columns:
        spec.descriptions = {
            column.removeprefix("description_"): row[column] or None
            for column in description_columns
        }
    _csv_category(parsed, line, row, category, categories)
    _csv_listings(parsed, line, row, spec)
    # Kept even when invalid, so the database checks can report its other problems too.
    parsed.products.append(spec)


def _csv_category(
    parsed: ParsedCatalog,
    line: int,
    row: dict[str, str],
    code: str,
    categories: dict[str, CategorySpec],
) -> None:
    given = {
        key: row[column]
        for key, column in [
            ("name", "category_name"),
            *((locale, f"category_name_{locale}") for locale in TRANSLATION_LOCALES),
        ]
        if row.get(column)
    }
    if not given:
        return
    if "name" in given and len(given["name"]) > 200:
        parsed.error(line, "category_name is longer than 200 characters")
        return
    spec = categories.get(code)
    if spec is None:
        spec = categories[code] = CategorySpec(line=line, code=code, names={}, created_by_csv=True)
    assert spec.names is not None
    for key, value in given.items():
        known = spec.values.get("name") if key == "name" else spec.names.get(key)
        column = "category_name" if key == "name" else f"category_name_{key}"
        if known is not None and known != value:
            parsed.error(
                line,
                f"{column} {value!r} for category {code!r} differs from {known!r} "
                f"on line {spec.line}",
            )
        elif key == "name":
            spec.values["name"] = value
        else:
            spec.names[key] = value


def _csv_store_map(
    parsed: ParsedCatalog, line: int, column: str, text: str
) -> dict[str, str] | None:
    """Parse `code=value|code=value`; None (with a problem recorded) when malformed."""
    result: dict[str, str] = {}
    for item in text.split("|"):
        store, sep, value = item.partition("=")
        store = store.strip()
        if not sep or not store:
            parsed.error(
                line, f"{column}: expected a value or store=value|store=value, got {text!r}"
            )
            return None
        if store in result:
            parsed.error(line, f"{column}: store {store!r} named twice")
            return None
        result[store] = value.strip()
    return result


def _csv_listings(parsed: ParsedCatalog, line: int, row: dict[str, str], spec: ProductSpec) -> None:
    stores_text = row.get("stores", "")
    spec.all_stores = stores_text in ("", "*")
    if stores_text not in ("", "*", "-"):
        codes = [code.strip() for code in stores_text.split("|")]
        if any(not code for code in codes) or "*" in codes:
            parsed.error(
                line, f"stores must be *, - or codes like central|riverside: {stores_text!r}"
            )
            codes = []
        for code in codes:
            if any(code == known for known, _ in spec.stores):
                parsed.error(line, f"store {code!r} listed twice in stores")
            else:
                spec.stores.append((code, line))
    if "stock" in row:
        text = row["stock"]
        if "=" in text:
            spec.default_listing["stock"] = None
            for store, value in (_csv_store_map(parsed, line, "stock", text) or {}).items():
                stock, problem = _parse_stock(value)
                if problem:
                    parsed.error(line, f"{problem} for store {store!r}")
                spec.store_listing.setdefault(store, {})["stock"] = stock
                spec.store_listing_lines[store] = line
        else:
            stock, problem = _parse_stock(text)
            if problem:
                parsed.error(line, problem)
            spec.default_listing["stock"] = stock
    if "available" in row:
        text = row["available"]
        if "=" in text:
            spec.default_listing["available"] = True
            for store, value in (_csv_store_map(parsed, line, "available", text) or {}).items():
                available = _parse_bool(value)
                if available is None:
                    parsed.error(line, f"available must be true or false, got {value!r}")
                spec.store_listing.setdefault(store, {})["available"] = bool(available)
                spec.store_listing_lines[store] = line
        else:
            available = _parse_bool(text) if text else True
            if available is None:
                parsed.error(line, f"available must be true or false, got {text!r}")
            spec.default_listing["available"] = bool(available)


# --------------------------------------------------------------------------- YAML


class _YamlFloat(str):
    """The source text of an unquoted YAML float, kept so prices convert exactly."""

    __slots__ = ()


class _YMap(dict[str, Any]):
    """A YAML mapping that remembers its line and the line of each value."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.lines: dict[str, int] = {}

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)


class _YList(list[Any]):
    """A YAML sequence that remembers its line and the line of each item."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.lines: list[int] = []


class _NodeReader:
    """Turn a composed YAML node tree into _YMap/_YList/scalars with line numbers."""

    def __init__(self) -> None:
        self.constructor = yaml.constructor.SafeConstructor()
        self.duplicate_keys: list[tuple[int, str]] = []

    def read(self, node: yaml.Node, depth: int = 0) -> Any:
        if depth > 50:
            raise ValueError("nested too deeply")
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            self.constructor.flatten_mapping(node)
            mapping = _YMap(line)
            for key_node, value_node in node.value:
                key = self.read(key_node, depth + 1)
                key_text = key if isinstance(key, str) else _text(key)
                if key_text is None:
                    raise ValueError(f"line {key_node.start_mark.line + 1}: keys must be text")
                if key_text in mapping:
                    self.duplicate_keys.append((key_node.start_mark.line + 1, key_text))
                mapping[key_text] = self.read(value_node, depth + 1)
                mapping.lines[key_text] = value_node.start_mark.line + 1
            return mapping
        if isinstance(node, yaml.SequenceNode):
            items = _YList(line)
            for item in node.value:
                items.append(self.read(item, depth + 1))
                items.lines.append(item.start_mark.line + 1)
            return items
        assert isinstance(node, yaml.ScalarNode)
        if node.tag == "tag:yaml.org,2002:float":
            return _YamlFloat(node.value)
        return self.constructor.construct_object(node, deep=True)


def parse_yaml(text: str) -> ParsedCatalog:
    """Read the YAML format (see the module docstring); problems go to `issues`."""
    parsed = ParsedCatalog("yaml")
    try:
        node = yaml.compose(text.removeprefix("\ufeff"), Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        parsed.error(mark.line + 1 if mark else 1, f"not valid YAML: {exc.problem or exc}")
        return parsed
    except yaml.YAMLError as exc:
        parsed.error(1, f"not valid YAML: {exc}")
        return parsed
    if node is None:
        parsed.error(1, "empty file: expected a mapping with categories, products, services")
        return parsed
    reader = _NodeReader()
    try:
        document = reader.read(node)
    except (ValueError, yaml.YAMLError) as exc:
        parsed.error(node.start_mark.line + 1, f"not valid YAML: {exc}")
        return parsed
    for line, key in reader.duplicate_keys:
        parsed.error(line, f"key {key!r} appears twice in the same mapping")
    if not isinstance(document, _YMap):
        parsed.error(
            node.start_mark.line + 1, "expected a mapping with categories, products, services"
        )
        return parsed
    for key in document:
        if key not in ("categories", "products", "services"):
            parsed.error(
                document.line_of(key),
                f"unknown top-level key {key!r} (known: categories, products, services)",
            )
    category_lines: dict[str, int] = {}
    for item, line in _yaml_items(parsed, document, "categories"):
        _yaml_category(parsed, item, line, category_lines)
    product_lines: dict[str, int] = {}
    for item, line in _yaml_items(parsed, document, "products"):
        _yaml_product(parsed, item, line, product_lines)
    service_lines: dict[tuple[str, str], int] = {}
    for item, line in _yaml_items(parsed, document, "services"):
        _yaml_service(parsed, item, line, service_lines)
    return parsed


def _yaml_items(parsed: ParsedCatalog, document: _YMap, key: str) -> Iterable[tuple[_YMap, int]]:
    if key not in document or document[key] is None:
        return []
    items = document[key]
    if not isinstance(items, _YList):
        parsed.error(document.line_of(key), f"{key} must be a list")
        return []
    found = []
    for item, line in zip(items, items.lines, strict=True):
        if isinstance(item, _YMap):
            found.append((item, line))
        else:
            parsed.error(line, f"each entry of {key} must be a mapping")
    return found


def _check_fields(parsed: ParsedCatalog, item: _YMap, what: str, known: Sequence[str]) -> None:
    for key in item:
        if key not in known:
            parsed.error(
                item.line_of(key), f"unknown {what} field {key!r} (known: {', '.join(known)})"
            )


def _required_text(
    parsed: ParsedCatalog, item: _YMap, key: str, what: str, *, max_length: int = 200
) -> str | None:
    if key not in item:
        parsed.error(item.line, f"{what}: missing required field {key!r}")
        return None
    text = _text(item[key])
    if not text:
        parsed.error(item.line_of(key), f"{what}: {key} must be non-empty text")
        return None
    if len(text) > max_length:
        parsed.error(item.line_of(key), f"{what}: {key} is longer than {max_length} characters")
        return None
    return text


def _yaml_translations(
    parsed: ParsedCatalog, item: _YMap, key: str
) -> dict[str, str | None] | None:
    """A `names`/`descriptions` mapping as a full replacement; None when absent."""
    if key not in item:
        return None
    value = item[key]
    if value is None:
        value = {}
    if not isinstance(value, dict):
        parsed.error(item.line_of(key), f"{key} must be a mapping like {{zh-CN: ...}}")
        return None
    result: dict[str, str | None] = dict.fromkeys(TRANSLATION_LOCALES)
    for locale, text in value.items():
        line = value.line_of(locale) if isinstance(value, _YMap) else item.line_of(key)
        if locale in TRANSLATION_LOCALES:
            result[locale] = _text(text) or None
        else:
            known = ", ".join(TRANSLATION_LOCALES)
            parsed.error(line, f"{key}: unknown locale {locale!r} (known: {known})")
    return result


def _yaml_category(parsed: ParsedCatalog, item: _YMap, line: int, seen: dict[str, int]) -> None:
    _check_fields(parsed, item, "category", _CATEGORY_FIELDS)
    what = f"category {_text(item.get('code')) or '?'}"
    code = _required_text(parsed, item, "code", what, max_length=32)
    name = _required_text(parsed, item, "name", what)
    names = _yaml_translations(parsed, item, "names")
    if code is not None:
        if not _CODE_RE.match(code):
            parsed.error(
                item.line_of("code"), f"bad category code {code!r}: 1-32 of A-Z a-z 0-9 _ -"
            )
        elif code in seen:
            parsed.error(
                item.line_of("code"),
                f"duplicate category code {code!r} (first on line {seen[code]})",
            )
        else:
            seen[code] = item.line_of("code")
    spec = CategorySpec(line=line, code=code or "", names=names)
    if "sort_order" in item:
        order = item["sort_order"]
        if not isinstance(order, int) or isinstance(order, bool):
            parsed.error(item.line_of("sort_order"), f"{what}: sort_order must be a whole number")
        else:
            spec.values["sort_order"] = order
    spec.values["name"] = name
    parsed.categories.append(spec)


def _yaml_product(parsed: ParsedCatalog, item: _YMap, line: int, seen: dict[str, int]) -> None:
    _check_fields(parsed, item, "product", _PRODUCT_FIELDS)
    what = f"product {_text(item.get('code')) or '?'}"
    code = _required_text(parsed, item, "code", what, max_length=64)
    name = _required_text(parsed, item, "name", what)
    category = _required_text(parsed, item, "category", what, max_length=32)
    price = _required_text(parsed, item, "price", what, max_length=40)
    currency = _required_text(parsed, item, "currency", what, max_length=40)
    if code is not None:
        if not _PRODUCT_CODE_RE.match(code):
            parsed.error(
                item.line_of("code"), f"bad product code {code!r}: 1-64 of A-Z a-z 0-9 _ . -"
            )
        elif code in seen:
            parsed.error(
                item.line_of("code"),
                f"duplicate product code {code!r} (first on line {seen[code]})",
            )
        else:
            seen[code] = item.line_of("code")
    if category is not None and not _CODE_RE.match(category):
        parsed.error(item.line_of("category"), f"bad category code {category!r}")
    price_minor: int | None = None
    if currency is not None:
        problem = _check_currency(currency)
        if problem:
            parsed.error(item.line_of("currency"), problem)
        elif price is not None:
            try:
                price_minor = price_minor_units(price, currency)
            except ValueError as exc:
                parsed.error(item.line_of("price"), str(exc))
    names = _yaml_translations(parsed, item, "names")
    descriptions = _yaml_translations(parsed, item, "descriptions")
    spec = ProductSpec(
        line=line,
        code=code or "",
        category=category or "",
        category_line=item.line_of("category"),
        currency=currency or "",
        names=names,
        descriptions=descriptions,
        price_minor=price_minor,
        stores_line=item.line_of("stores"),
    )
    spec.values["name"] = name
    if "description" in item:
        description = item["description"]
        if description is not None and not isinstance(description, str):
            parsed.error(item.line_of("description"), "description must be text")
        spec.values["description"] = (description or "").strip()
    if "photo" in item:
        photo = _text(item["photo"])
        if photo is not None and len(photo) > 500:
            parsed.error(item.line_of("photo"), "photo is longer than 500 characters")
        spec.values["photo"] = photo or None
    if "active" in item:
        active = True if item["active"] is None else _parse_bool(item["active"])
        if active is None:
            parsed.error(
                item.line_of("active"), f"active must be true or false, got {item['active']!r}"
            )
        spec.values["active"] = active
    _yaml_listings(parsed, item, spec)
    parsed.products.append(spec)


def _yaml_listing(parsed: ParsedCatalog, value: Any, line: int, store: str) -> dict[str, Any]:
    """One store's {stock, available}; problems are recorded, the valid keys returned."""
    if value is None:
        return {}
    if not isinstance(value, _YMap):
        parsed.error(line, f"stores: the entry for {store!r} must be a mapping like {{stock: 5}}")
        return {}
    listing: dict[str, Any] = {}
    for key in value:
        if key not in _LISTING_FIELDS:
            parsed.error(
                value.line_of(key), f"stores: unknown field {key!r} (known: stock, available)"
            )
    if "stock" in value:
        raw = value["stock"]
        stock, problem = _parse_stock(raw)
        if isinstance(raw, str):  # quoted or a decimal: YAML stock is a plain whole number
            stock, problem = None, f"stock must be a whole number >= 0, got {raw!r}"
        if problem:
            parsed.error(value.line_of("stock"), problem)
        listing["stock"] = stock
    if "available" in value:
        available = True if value["available"] is None else _parse_bool(value["available"])
        if available is None:
            parsed.error(
                value.line_of("available"),
                f"available must be true or false, got {value['available']!r}",
            )
        listing["available"] = bool(available)
    return listing


def _yaml_listings(parsed: ParsedCatalog, item: _YMap, spec: ProductSpec) -> None:
    if "stores" not in item or item["stores"] == "*":
        return
    stores = item["stores"]
    spec.all_stores = False
    if stores is None:
        return
    if isinstance(stores, _YList):
        for code, code_line in zip(stores, stores.lines, strict=True):
            text = _text(code)
            if not text or text == "*":
                parsed.error(code_line, "stores: a list holds store codes")
            elif any(text == known for known, _ in spec.stores):
                parsed.error(code_line, f"store {text!r} listed twice in stores")
            else:
                spec.stores.append((text, code_line))
        return
    if not isinstance(stores, _YMap):
        parsed.error(
            item.line_of("stores"), 'stores must be "*", a list of store codes or a mapping'
        )
        return
    for code, value in stores.items():
        listing = _yaml_listing(parsed, value, stores.line_of(code), code)
        if code == "*":
            spec.all_stores = True
            spec.default_listing = listing
        else:
            spec.stores.append((code, stores.line_of(code)))
            spec.store_listing[code] = listing
            spec.store_listing_lines[code] = stores.line_of(code)
    if spec.all_stores:
        spec.stores = []


def _yaml_service(
    parsed: ParsedCatalog, item: _YMap, line: int, seen: dict[tuple[str, str], int]
) -> None:
    _check_fields(parsed, item, "service", _SERVICE_FIELDS)
    what = f"service {_text(item.get('code')) or '?'}"
    store = _required_text(parsed, item, "store", what, max_length=32)
    code = _required_text(parsed, item, "code", what, max_length=32)
    name = _required_text(parsed, item, "name", what)
    names = _yaml_translations(parsed, item, "names")
    if code is not None and store is not None:
        if not _CODE_RE.match(code):
            parsed.error(
                item.line_of("code"), f"bad service code {code!r}: 1-32 of A-Z a-z 0-9 _ -"
            )
        elif (store, code) in seen:
            parsed.error(
                item.line_of("code"),
                f"duplicate service {code!r} at store {store!r} "
                f"(first on line {seen[(store, code)]})",
            )
        else:
            seen[(store, code)] = item.line_of("code")
    spec = ServiceSpec(
        line=line,
        store=store or "",
        store_line=item.line_of("store"),
        code=code or "",
        names=names,
        price_line=item.line_of("price"),
    )
    spec.values["name"] = name
    if "duration_minutes" in item:
        duration = item["duration_minutes"]
        if not isinstance(duration, int) or isinstance(duration, bool) or not 1 <= duration <= 1440:
            parsed.error(
                item.line_of("duration_minutes"),
                f"{what}: duration_minutes must be a whole number from 1 to 1440",
            )
        else:
            spec.values["duration_minutes"] = duration
    if "price" in item:
        spec.price_given = True
        spec.price_text = _text(item["price"]) or None
    if "active" in item:
        active = True if item["active"] is None else _parse_bool(item["active"])
        if active is None:
            parsed.error(
                item.line_of("active"), f"active must be true or false, got {item['active']!r}"
            )
        spec.values["active"] = active
    parsed.services.append(spec)


# --------------------------------------------------------------------------- database


@dataclass(slots=True)
class _State:
    stores: dict[str, models.Store]
    categories: dict[str, models.Category]
    products: dict[str, models.Product]
    listings: dict[tuple[int, int], models.StoreProduct]
    services: dict[tuple[int, str], models.Service]


async def _load_state(session: AsyncSession) -> _State:
    stores = {row.code: row for row in await session.scalars(select(models.Store))}
    categories = {row.code: row for row in await session.scalars(select(models.Category))}
    products = {row.sku: row for row in await session.scalars(select(models.Product))}
    listings = {
        (row.store_id, row.product_id): row
        for row in await session.scalars(select(models.StoreProduct))
    }
    services = {
        (row.store_id, row.code): row for row in await session.scalars(select(models.Service))
    }
    return _State(stores, categories, products, listings, services)


def _check_against_database(parsed: ParsedCatalog, state: _State) -> None:
    """Problems that need the stores and categories in the database."""
    file_categories = {spec.code for spec in parsed.categories}
    for category in parsed.categories:
        if (
            category.created_by_csv
            and category.code not in state.categories
            and "name" not in category.values
        ):
            parsed.error(category.line, f"new category {category.code!r} needs a category_name")
    hint = (
        " (give category_name to create it)" if parsed.fmt == "csv" else " (add it to categories)"
    )
    for product in parsed.products:
        if product.category and product.category not in {*state.categories, *file_categories}:
            parsed.error(product.category_line, f"unknown category {product.category!r}{hint}")
        listed = (
            sorted(state.stores) if product.all_stores else [code for code, _ in product.stores]
        )
        for code, line in product.stores:
            if code not in state.stores:
                parsed.error(line, f"unknown store {code!r} in stores")
        for code in product.store_listing:
            if code not in state.stores:
                if product.all_stores or code not in listed:  # else reported just above
                    parsed.error(product.store_listing_lines[code], f"unknown store {code!r}")
            elif code not in listed:
                parsed.error(
                    product.store_listing_lines[code],
                    f"store {code!r} has stock or availability but is not in stores",
                )
        if product.currency and product.price_minor is not None:
            for code in listed:
                store = state.stores.get(code)
                if store is not None and store.currency != product.currency:
                    line = product.stores_line if product.all_stores else dict(product.stores)[code]
                    parsed.error(
                        line,
                        f"product {product.code!r} is priced in {product.currency} but store "
                        f"{code!r} sells in {store.currency}",
                    )
    for service in parsed.services:
        store = state.stores.get(service.store)
        if store is None and service.store:
            parsed.error(service.store_line, f"unknown store {service.store!r}")
        if store is None:
            continue
        if service.price_text is not None:
            try:
                service.values["price_minor"] = price_minor_units(
                    service.price_text, store.currency
                )
            except ValueError as exc:
                parsed.error(service.price_line, str(exc))
        elif service.price_given:
            service.values["price_minor"] = None


def _assign(row: Any, values: Mapping[str, Any]) -> bool:
    """Set attributes that differ; True when anything changed."""
    changed = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    return changed


def _patched(current: Mapping[str, str], patch: Mapping[str, str | None] | None) -> dict[str, str]:
    result = dict(current)
    for locale, text in (patch or {}).items():
        if text:
            result[locale] = text
        else:
            result.pop(locale, None)
    return result


async def _apply(
    session: AsyncSession, parsed: ParsedCatalog, state: _State, now: datetime
) -> ImportCounts:
    counts = ImportCounts()
    next_order = max((row.sort_order for row in state.categories.values()), default=-1) + 1
    for category_spec in parsed.categories:
        category = state.categories.get(category_spec.code)
        values = dict(category_spec.values)
        if category is None:
            values.setdefault("sort_order", next_order)
            next_order = max(next_order, int(values["sort_order"])) + 1
            category = models.Category(
                code=category_spec.code, names=_patched({}, category_spec.names), **values
            )
            session.add(category)
            state.categories[category_spec.code] = category
            counts.categories_created += 1
        else:
            values["names"] = _patched(dict(category.names or {}), category_spec.names)
            if _assign(category, values):
                counts.categories_updated += 1
    await session.flush()

    touched: list[tuple[ProductSpec, models.Product, bool, bool]] = []
    for spec in parsed.products:
        assert spec.price_minor is not None
        product_values: dict[str, Any] = {
            **spec.values,
            "category_id": state.categories[spec.category].id,
            "price_minor": spec.price_minor,
            "currency": spec.currency,
        }
        product = state.products.get(spec.code)
        if product is None:
            product = models.Product(
                sku=spec.code,
                names=join_names(_patched({}, spec.names), _patched({}, spec.descriptions)),
                created_at=now,
                **{"description": "", "photo": None, "active": True, **product_values},
            )
            session.add(product)
            state.products[spec.code] = product
            counts.products_created += 1
            touched.append((spec, product, True, True))
        else:
            names, descriptions = split_names(product.names)
            product_values["names"] = join_names(
                _patched(names, spec.names), _patched(descriptions, spec.descriptions)
            )
            touched.append((spec, product, False, _assign(product, product_values)))
    await session.flush()  # new products get their ids
    for spec, product, created, changed in touched:
        listings_changed = _apply_listings(session, spec, product, state, counts)
        if not created and (changed or listings_changed):
            counts.products_updated += 1
        elif not created:
            counts.products_unchanged += 1
    await session.flush()

    for service_spec in parsed.services:
        store = state.stores[service_spec.store]
        values = dict(service_spec.values)
        service = state.services.get((store.id, service_spec.code))
        if service is None:
            service = models.Service(
                store_id=store.id,
                code=service_spec.code,
                names=_patched({}, service_spec.names),
                **{"duration_minutes": 30, "price_minor": None, "active": True, **values},
            )
            session.add(service)
            state.services[(store.id, service_spec.code)] = service
            counts.services_created += 1
        else:
            values["names"] = _patched(dict(service.names or {}), service_spec.names)
            if _assign(service, values):
                counts.services_updated += 1
    await session.flush()
    return counts


def _apply_listings(
    session: AsyncSession,
    spec: ProductSpec,
    product: models.Product,
    state: _State,
    counts: ImportCounts,
) -> bool:
    wanted = sorted(state.stores) if spec.all_stores else [code for code, _ in spec.stores]
    wanted_ids = {state.stores[code].id for code in wanted}
    changed = False
    for code in wanted:
        store = state.stores[code]
        values = {**spec.default_listing, **spec.store_listing.get(code, {})}
        listing = state.listings.get((store.id, product.id))
        if listing is None:
            listing = models.StoreProduct(
                store_id=store.id,
                product_id=product.id,
                stock=values.get("stock"),
                available=values.get("available", True),
            )
            session.add(listing)
            state.listings[(store.id, product.id)] = listing
            counts.listings_added += 1
            changed = True
        elif _assign(listing, values):
            counts.listings_changed += 1
            changed = True
    for store in state.stores.values():
        old = state.listings.get((store.id, product.id))
        if old is not None and store.id not in wanted_ids:
            # Not sold there any more; nothing references store_products rows.
            _delete(session, old)
            del state.listings[(store.id, product.id)]
            counts.listings_removed += 1
            changed = True
    return changed


def _delete(session: AsyncSession, row: Any) -> None:
    # AsyncSession.delete is a coroutine only to load relationships; these rows have none, so
    # the synchronous session's delete does the same without an await in a loop.
    session.sync_session.delete(row)


def parse_catalog(text: str, fmt: str) -> ParsedCatalog:
    """Parse CSV or YAML text; the checks that need no database are done here."""
    if fmt == "csv":
        return parse_csv(text)
    if fmt == "yaml":
        return parse_yaml(text)
    raise AdminError(f"unknown catalog format {fmt!r} (expected csv or yaml)")


async def import_catalog_in(
    session: AsyncSession,
    text: str,
    fmt: str,
    now: datetime,
    *,
    source: str = "<catalog>",
) -> ImportReport:
    """Validate and apply a catalog inside the caller's transaction.

    Nothing is written unless the whole file is valid; the caller commits (or, for a dry run,
    rolls back).
    """
    parsed = parse_catalog(text, fmt)
    state = await _load_state(session)
    _check_against_database(parsed, state)
    if parsed.issues:
        return ImportReport(source, sorted(set(parsed.issues)), ImportCounts(), dry_run=False)
    counts = await _apply(session, parsed, state, now)
    return ImportReport(source, [], counts, dry_run=False)


async def import_catalog(
    sessionmaker: async_sessionmaker[AsyncSession],
    text: str,
    fmt: str,
    now: datetime,
    *,
    source: str = "<catalog>",
    dry_run: bool = False,
) -> ImportReport:
    """Validate and import a catalog in one transaction: all or nothing."""
    async with sessionmaker() as session:
        async with session.begin() as transaction:
            report = await import_catalog_in(session, text, fmt, now, source=source)
            if dry_run or not report.ok:
                await transaction.rollback()
        report.dry_run = dry_run
        return report


def catalog_format(path: Path, explicit: str | None = None) -> str:
    """csv or yaml, from --format or the file name's extension."""
    if explicit:
        return explicit
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    raise AdminError(f"{path}: cannot tell the format from the extension (use .csv, .yaml or .yml)")


def read_catalog_file(path: Path) -> str:
    """The file's text; AdminError when it cannot be read as UTF-8."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise AdminError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise AdminError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise AdminError(f"{path}: {exc.strerror or exc}") from None


async def import_catalog_file(
    sessionmaker: async_sessionmaker[AsyncSession],
    path: Path,
    now: datetime,
    *,
    dry_run: bool = False,
    source: str | None = None,
) -> ImportReport:
    """`o2o catalog import FILE`: the format comes from the extension."""
    fmt = catalog_format(path)
    text = read_catalog_file(path)
    return await import_catalog(
        sessionmaker, text, fmt, now, source=source or str(path), dry_run=dry_run
    )


# --------------------------------------------------------------------------- export


@dataclass(frozen=True, slots=True)
class ExportResult:
    """The exported text and notes about what the format could not hold."""

    text: str
    notes: tuple[str, ...] = ()


@dataclass(slots=True)
class _Snapshot:
    stores: list[models.Store]
    categories: list[models.Category]
    products: list[models.Product]
    listings: dict[int, dict[str, models.StoreProduct]]  # product id -> store code -> row
    services: list[tuple[str, models.Service]]


async def _snapshot(session: AsyncSession) -> _Snapshot:
    stores = list(await session.scalars(select(models.Store).order_by(models.Store.code)))
    codes = {store.id: store.code for store in stores}
    categories = list(
        await session.scalars(
            select(models.Category).order_by(models.Category.sort_order, models.Category.code)
        )
    )
    order = {category.id: index for index, category in enumerate(categories)}
    products = sorted(
        await session.scalars(select(models.Product)),
        key=lambda p: (order.get(p.category_id, len(order)) if p.category_id else -1, p.id),
    )
    listings: dict[int, dict[str, models.StoreProduct]] = {}
    for row in await session.scalars(select(models.StoreProduct)):
        listings.setdefault(row.product_id, {})[codes[row.store_id]] = row
    services = [
        (codes[row.store_id], row)
        for row in await session.scalars(select(models.Service).order_by(models.Service.id))
    ]
    services.sort(key=lambda pair: (pair[0], pair[1].id))
    return _Snapshot(stores, categories, products, listings, services)


async def export_catalog(sessionmaker: async_sessionmaker[AsyncSession], fmt: str) -> ExportResult:
    """The whole catalog as CSV or YAML text in the import format."""
    async with sessionmaker() as session:
        snapshot = await _snapshot(session)
    if fmt == "csv":
        return _export_csv(snapshot)
    if fmt == "yaml":
        return ExportResult(_export_yaml(snapshot))
    raise AdminError(f"unknown catalog format {fmt!r} (expected csv or yaml)")


def _category_codes(snapshot: _Snapshot) -> dict[int, models.Category]:
    return {category.id: category for category in snapshot.categories}


def _export_yaml(snapshot: _Snapshot) -> str:
    categories_by_id = _category_codes(snapshot)
    all_codes = [store.code for store in snapshot.stores]
    document: dict[str, Any] = {"categories": [], "products": [], "services": []}
    for category in snapshot.categories:
        entry: dict[str, Any] = {"code": category.code, "name": category.name}
        if category.names:
            entry["names"] = dict(sorted(category.names.items()))
        entry["sort_order"] = category.sort_order
        document["categories"].append(entry)
    for product in snapshot.products:
        names, descriptions = split_names(product.names)
        product_category = categories_by_id.get(product.category_id or -1)
        item: dict[str, Any] = {"code": product.sku, "name": product.name}
        if names:
            item["names"] = dict(sorted(names.items()))
        if product.description:
            item["description"] = product.description
        if descriptions:
            item["descriptions"] = dict(sorted(descriptions.items()))
        item["category"] = product_category.code if product_category else ""
        item["price"] = format_price(product.price_minor, product.currency)
        item["currency"] = product.currency
        if product.photo:
            item["photo"] = product.photo
        item["active"] = product.active
        listings = snapshot.listings.get(product.id, {})
        entries = {
            code: {"stock": row.stock, "available": row.available}
            for code, row in sorted(listings.items())
        }
        unique = {(entry["stock"], entry["available"]) for entry in entries.values()}
        if all_codes and sorted(entries) == sorted(all_codes) and len(unique) == 1:
            item["stores"] = {"*": next(iter(entries.values()))}
        else:
            item["stores"] = entries
        document["products"].append(item)
    for store_code, service in snapshot.services:
        service_entry: dict[str, Any] = {
            "store": store_code,
            "code": service.code,
            "name": service.name,
        }
        if service.names:
            service_entry["names"] = dict(sorted(service.names.items()))
        service_entry["duration_minutes"] = service.duration_minutes
        store_currency = next(s.currency for s in snapshot.stores if s.code == store_code)
        service_entry["price"] = (
            format_price(service.price_minor, store_currency)
            if service.price_minor is not None
            else None
        )
        service_entry["active"] = service.active
        document["services"].append(service_entry)
    return yaml.safe_dump(
        {key: value for key, value in document.items() if value},
        allow_unicode=True,
        sort_keys=False,
        width=100,
    )


def _export_csv(snapshot: _Snapshot) -> ExportResult:
    categories_by_id = _category_codes(snapshot)
    all_codes = [store.code for store in snapshot.stores]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    used_categories: set[int] = set()
    for product in snapshot.products:
        names, descriptions = split_names(product.names)
        category = categories_by_id.get(product.category_id or -1)
        if category is not None:
            used_categories.add(category.id)
        listings = snapshot.listings.get(product.id, {})
        codes = sorted(listings)
        if all_codes and codes == sorted(all_codes):
            stores = "*"
        elif not codes:
            stores = "-"
        else:
            stores = "|".join(codes)
        stocks = {listings[code].stock for code in codes}
        if len(stocks) <= 1:
            stock = next(iter(stocks), None)
            stock_text = "" if stock is None else str(stock)
        else:
            stock_text = "|".join(
                f"{code}={listings[code].stock}"
                for code in codes
                if listings[code].stock is not None
            )
        availability = {listings[code].available for code in codes}
        if len(availability) <= 1:
            available_text = "false" if availability == {False} else "true"
        else:
            available_text = "|".join(
                f"{code}={'true' if listings[code].available else 'false'}" for code in codes
            )
        row: dict[str, str] = {
            "code": product.sku,
            "name": product.name,
            "category": category.code if category else "",
            "price": format_price(product.price_minor, product.currency),
            "currency": product.currency,
            "description": product.description,
            "photo": product.photo or "",
            "active": "true" if product.active else "false",
            "category_name": category.name if category else "",
            "stores": stores,
            "stock": stock_text,
            "available": available_text,
        }
        for locale in TRANSLATION_LOCALES:
            row[f"name_{locale}"] = names.get(locale, "")
            row[f"description_{locale}"] = descriptions.get(locale, "")
            row[f"category_name_{locale}"] = (
                str((category.names or {}).get(locale, "")) if category else ""
            )
        writer.writerow([row[column] for column in CSV_COLUMNS])
    notes = []
    if snapshot.services:
        notes.append(
            f"{len(snapshot.services)} service(s) not exported: CSV holds products only "
            "(use --format yaml)"
        )
    unused = [c.code for c in snapshot.categories if c.id not in used_categories]
    if unused:
        notes.append(
            f"categories without products not exported: {', '.join(unused)} (use --format yaml)"
        )
    return ExportResult(out.getvalue(), tuple(notes))
