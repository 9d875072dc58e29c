"""Store administration: add, edit and list stores with their settings and tables.

The functions take a session factory (or, for composing several steps in one transaction as the
seed does, a session) so the CLI, the seed and the tests share one code path. Every problem in
the input raises AdminError with a one-line message naming the option.
"""

from __future__ import annotations

import dataclasses
import json
import re
import unicodedata
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.admin.cli import AdminError
from bot.db import models
from domain.money import Money, validate_currency
from domain.schedule import format_hours_spec, parse_hours_spec
from domain.stores import FULFILMENT_TYPES, StoreSettings, is_valid_store_code

TABLE_LABEL_RE = re.compile(r"^[A-Za-z0-9]{1,8}$")
MAX_TABLES = 500
DEFAULT_TABLE_CAPACITY = 4
_RANGE_RE = re.compile(r"^(\d{1,8})-(\d{1,8})$")


@dataclass(frozen=True, slots=True)
class StoreChanges:
    """Options of `o2o store add/edit`; None means "not given" (edit leaves the value alone).

    Amounts are decimal strings in the store's currency ("5.00"); `hours` is a schedule spec
    ("daily 08:00-20:00"); `fulfilment` a comma-separated list; `tables` a tables spec
    ("1-12:4,VIP:8", empty for none).
    """

    name: str | None = None
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    timezone: str | None = None
    currency: str | None = None
    hours: str | None = None
    fulfilment: str | None = None
    delivery_radius_km: float | None = None
    delivery_fee: str | None = None
    min_order: str | None = None
    slot_capacity: int | None = None
    prep_minutes: int | None = None
    settings: tuple[str, ...] = ()  # "key=value" for any other StoreSettings field
    tables: str | None = None
    manager: int | None = None
    paused: bool | None = None
    staff_chat_id: int | None = None
    clear_staff_chat: bool = False


@dataclass(frozen=True, slots=True)
class TableInfo:
    """An active table of a store."""

    label: str
    capacity: int


@dataclass(frozen=True, slots=True)
class StoreInfo:
    """What `o2o store list` shows about a store."""

    code: str
    name: str
    address: str
    latitude: float | None
    longitude: float | None
    timezone: str
    currency: str
    opening_hours: dict[str, Any]
    hours: str
    settings: StoreSettings
    paused: bool
    paused_until: datetime | None
    staff_chat_id: int | None
    manager_telegram_id: int | None
    tables: tuple[TableInfo, ...]

    def to_json(self) -> dict[str, Any]:
        """The `--json` form of one store."""
        return {
            "code": self.code,
            "name": self.name,
            "address": self.address,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "timezone": self.timezone,
            "currency": self.currency,
            "hours": self.hours,
            "opening_hours": self.opening_hours,
            "fulfilment": list(self.settings.fulfilment),
            "settings": self.settings.to_json(),
            "paused": self.paused,
            "paused_until": self.paused_until.isoformat() if self.paused_until else None,
            "staff_chat_id": self.staff_chat_id,
            "manager_telegram_id": self.manager_telegram_id,
            "tables": [{"label": t.label, "capacity": t.capacity} for t in self.tables],
            "tables_count": len(self.tables),
        }


# --------------------------------------------------------------------------- parsing


def parse_tables_spec(spec: str) -> list[tuple[str, int]]:
    """Parse "1-12:4,VIP:8" into [("1", 4), ..., ("12", 4), ("VIP", 8)].

    Items are separated by commas; each is a label (1-8 letters or digits) or a range of
    numbers `FROM-TO`, optionally followed by `:CAPACITY` (default 4). An empty spec (or
    "none") means no tables. Raises ValueError on a malformed spec or a repeated label.
    """
    tables: list[tuple[str, int]] = []
    seen: set[str] = set()
    text = spec.strip()
    if text.lower() in ("", "none", "-"):
        return tables
    for raw_item in text.split(","):
        item = raw_item.strip()
        if not item:
            raise ValueError(f"empty item in tables spec {spec!r}")
        target, sep, capacity_text = item.partition(":")
        target = target.strip()
        capacity = DEFAULT_TABLE_CAPACITY
        if sep:
            capacity_text = capacity_text.strip()
            if not capacity_text.isdigit() or int(capacity_text) < 1:
                raise ValueError(f"capacity in {item!r} must be a positive whole number")
            capacity = int(capacity_text)
        match = _RANGE_RE.match(target)
        if match:
            first, last = int(match.group(1)), int(match.group(2))
            if first > last:
                raise ValueError(f"range {target!r} runs backwards")
            if last - first + 1 > MAX_TABLES:
                raise ValueError(f"range {target!r} has more than {MAX_TABLES} tables")
            labels = [str(number) for number in range(first, last + 1)]
        elif TABLE_LABEL_RE.match(target):
            labels = [str(int(target))] if target.isdigit() else [target]
        else:
            raise ValueError(
                f"table {target!r} is neither a label (1-8 letters or digits) nor a range like 1-12"
            )
        for label in labels:
            if label in seen:
                raise ValueError(f"table {label} is listed twice")
            if len(label) > 8:
                raise ValueError(f"table label {label!r} is longer than 8 characters")
            seen.add(label)
            tables.append((label, capacity))
    if len(tables) > MAX_TABLES:
        raise ValueError(f"more than {MAX_TABLES} tables")
    return tables


def format_tables_spec(tables: Sequence[tuple[str, int]]) -> str:
    """The inverse of parse_tables_spec: consecutive numbers of equal capacity become ranges."""
    items: list[str] = []
    index = 0
    while index < len(tables):
        label, capacity = tables[index]
        end = index
        if label.isdigit():
            while (
                end + 1 < len(tables)
                and tables[end + 1][0].isdigit()
                and int(tables[end + 1][0]) == int(tables[end][0]) + 1
                and tables[end + 1][1] == capacity
            ):
                end += 1
        name = label if end == index else f"{label}-{tables[end][0]}"
        items.append(f"{name}:{capacity}")
        index = end + 1
    return ",".join(items)


def _amount_minor(option: str, value: str, currency: str) -> int:
    text = value.strip()
    try:
        amount = Money.from_decimal(text, currency)
    except (ValueError, TypeError) as exc:
        raise AdminError(f"{option}: {exc}") from None
    if amount.amount_minor < 0:
        raise AdminError(f"{option}: amount must not be negative, got {text!r}")
    return amount.amount_minor


def _check_timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise AdminError(f"--timezone: unknown time zone {name!r} (e.g. Asia/Shanghai)") from None
    return name


def _parse_hours(spec: str) -> dict[str, Any]:
    try:
        return dict(parse_hours_spec(spec))
    except ValueError as exc:
        raise AdminError(f"--hours: {exc}") from None


def _parse_fulfilment(spec: str) -> tuple[str, ...]:
    kinds = tuple(
        dict.fromkeys(item.strip().replace("-", "_") for item in spec.split(",") if item.strip())
    )
    unknown = [kind for kind in kinds if kind not in FULFILMENT_TYPES]
    if unknown or not kinds:
        raise AdminError(
            f"--fulfilment: expected a comma-separated subset of {','.join(FULFILMENT_TYPES)}, "
            f"got {spec!r}"
        )
    return kinds


def _format_hours(opening_hours: dict[str, Any]) -> str:
    try:
        return format_hours_spec(opening_hours)
    except ValueError:
        return "(invalid hours)"


# --------------------------------------------------------------------------- operations


async def add_store(
    sessionmaker: async_sessionmaker[AsyncSession],
    code: str,
    changes: StoreChanges,
    now: datetime,
) -> StoreInfo:
    """Create a store; AdminError when the code is taken or an option is invalid."""
    async with sessionmaker() as session, session.begin():
        return await add_store_in(session, code, changes, now)


async def edit_store(
    sessionmaker: async_sessionmaker[AsyncSession],
    code: str,
    changes: StoreChanges,
    now: datetime,
) -> StoreInfo:
    """Change the given options of a store; AdminError when it is unknown or an option is bad."""
    async with sessionmaker() as session, session.begin():
        return await edit_store_in(session, code, changes, now)


async def list_stores(sessionmaker: async_sessionmaker[AsyncSession]) -> list[StoreInfo]:
    """Every store, by code."""
    async with sessionmaker() as session:
        rows = (await session.scalars(select(models.Store).order_by(models.Store.code))).all()
        return [await _info(session, row) for row in rows]


async def add_store_in(
    session: AsyncSession, code: str, changes: StoreChanges, now: datetime
) -> StoreInfo:
    """add_store inside the caller's transaction."""
    if not is_valid_store_code(code):
        raise AdminError(f"store code {code!r}: use 2-32 lower-case letters, digits or underscores")
    if await _find(session, code) is not None:
        raise AdminError(f"store {code!r} exists already (use `o2o store edit {code}`)")
    if not changes.name or not changes.name.strip():
        raise AdminError("--name: required for a new store")
    if changes.paused is not None:
        raise AdminError("--pause/--resume: only for `o2o store edit`")
    row = models.Store(
        code=code,
        name="",
        address="",
        timezone="UTC",
        opening_hours={},
        currency="USD",
        paused=False,
        settings=StoreSettings().to_json(),
        created_at=now,
    )
    await _apply(session, row, changes, creating=True)
    session.add(row)
    await session.flush()
    if changes.tables is not None:
        await _replace_tables(session, row, changes.tables)
    return await _info(session, row)


async def edit_store_in(
    session: AsyncSession, code: str, changes: StoreChanges, now: datetime
) -> StoreInfo:
    """edit_store inside the caller's transaction."""
    row = await _find(session, code)
    if row is None:
        raise AdminError(f"unknown store {code!r} (see `o2o store list`)")
    await _apply(session, row, changes, creating=False)
    if changes.paused is not None:
        row.paused = changes.paused
        row.paused_until = None
    if changes.tables is not None:
        await _replace_tables(session, row, changes.tables)
    await session.flush()
    return await _info(session, row)


async def _find(session: AsyncSession, code: str) -> models.Store | None:
    row: models.Store | None = await session.scalar(
        select(models.Store).where(models.Store.code == code)
    )
    return row


async def _apply(
    session: AsyncSession, row: models.Store, changes: StoreChanges, *, creating: bool
) -> None:
    """Validate every given option first, then copy them onto the row."""
    if changes.name is not None:
        name = changes.name.strip()
        if not name or len(name) > 200:
            raise AdminError("--name: 1-200 characters")
        row.name = name
    if changes.address is not None:
        if len(changes.address) > 500:
            raise AdminError("--address: at most 500 characters")
        row.address = changes.address.strip()
    if (changes.latitude is None) != (changes.longitude is None):
        raise AdminError("--lat and --lon go together")
    if changes.latitude is not None and changes.longitude is not None:
        if not -90 <= changes.latitude <= 90:
            raise AdminError(f"--lat: must be within -90..90, got {changes.latitude}")
        if not -180 <= changes.longitude <= 180:
            raise AdminError(f"--lon: must be within -180..180, got {changes.longitude}")
        row.latitude, row.longitude = changes.latitude, changes.longitude
    if changes.timezone is not None:
        row.timezone = _check_timezone(changes.timezone.strip())
    old_currency = row.currency
    if changes.currency is not None:
        currency = changes.currency.strip().upper()
        try:
            validate_currency(currency)
        except ValueError as exc:
            raise AdminError(f"--currency: {exc}") from None
        row.currency = currency
    if changes.hours is not None:
        row.opening_hours = _parse_hours(changes.hours)
    try:
        settings = StoreSettings.from_json(row.settings)
    except (ValueError, TypeError) as exc:
        raise AdminError(f"store {row.code!r} has invalid stored settings: {exc}") from None
    if not creating and row.currency != old_currency:
        money_kept = [
            option
            for option, stored, given in (
                ("--delivery-fee", settings.delivery_fee_minor, changes.delivery_fee),
                ("--min-order", settings.delivery_min_order_minor, changes.min_order),
            )
            if stored and given is None
        ]
        if money_kept:
            raise AdminError(
                f"--currency: changing {old_currency} to {row.currency} changes the meaning of "
                f"the stored amounts; give {' and '.join(money_kept)} again"
            )
    updates: dict[str, Any] = {}
    if changes.fulfilment is not None:
        updates["fulfilment"] = _parse_fulfilment(changes.fulfilment)
    if changes.delivery_radius_km is not None:
        updates["delivery_radius_km"] = float(changes.delivery_radius_km)
    if changes.delivery_fee is not None:
        updates["delivery_fee_minor"] = _amount_minor(
            "--delivery-fee", changes.delivery_fee, row.currency
        )
    if changes.min_order is not None:
        updates["delivery_min_order_minor"] = _amount_minor(
            "--min-order", changes.min_order, row.currency
        )
    if changes.slot_capacity is not None:
        updates["slot_capacity"] = changes.slot_capacity
    if changes.prep_minutes is not None:
        updates["prep_minutes"] = changes.prep_minutes
    updates |= _setting_pairs(changes.settings)
    if updates:
        try:
            settings = dataclasses.replace(settings, **updates)
        except (ValueError, TypeError) as exc:
            option = _SETTING_OPTIONS.get(str(exc).split(" ", 1)[0], "--set")
            raise AdminError(f"{option}: {exc}") from None
        row.settings = settings.to_json()
    if changes.manager is not None:
        if not 0 < changes.manager < 2**63:
            raise AdminError("--manager: a Telegram user id is a positive number")
        row.manager_telegram_id = changes.manager
    if changes.clear_staff_chat:
        row.staff_chat_id = None
    elif changes.staff_chat_id is not None:
        if not -(2**63) < changes.staff_chat_id < 2**63:
            raise AdminError(f"--staff-chat-id: {changes.staff_chat_id} is not a Telegram chat id")
        other = await session.scalar(
            select(models.Store.code).where(
                models.Store.staff_chat_id == changes.staff_chat_id,
                models.Store.code != row.code,
            )
        )
        if other is not None:
            raise AdminError(
                f"--staff-chat-id: chat {changes.staff_chat_id} is already store {other!r}'s"
            )
        row.staff_chat_id = changes.staff_chat_id
    if changes.tables is not None:
        try:
            parse_tables_spec(changes.tables)
        except ValueError as exc:
            raise AdminError(f"--tables: {exc}") from None


def _setting_pairs(pairs: tuple[str, ...]) -> dict[str, object]:
    """`--set key=value` pairs as setting values (JSON where it parses: numbers, lists)."""
    known = set(StoreSettings.__dataclass_fields__)
    values: dict[str, object] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or key not in known:
            raise AdminError(
                f"--set: {pair!r} is not KEY=VALUE with a known key ({', '.join(sorted(known))})"
            )
        try:
            value: object = json.loads(raw)
        except ValueError:
            value = raw
        values[key] = tuple(value) if isinstance(value, list) else value
    return values


_SETTING_OPTIONS = {
    "fulfilment": "--fulfilment",
    "delivery_radius_km": "--delivery-radius-km",
    "delivery_fee_minor": "--delivery-fee",
    "delivery_min_order_minor": "--min-order",
    "slot_capacity": "--slot-capacity",
    "prep_minutes": "--prep-minutes",
}


async def _replace_tables(session: AsyncSession, row: models.Store, spec: str) -> None:
    """Make the store's active tables exactly the spec; unlisted ones become inactive."""
    wanted = dict(parse_tables_spec(spec))
    existing = {
        table.label: table
        for table in await session.scalars(
            select(models.StoreTable).where(models.StoreTable.store_id == row.id)
        )
    }
    for label, table in existing.items():
        if label in wanted:
            table.capacity = wanted[label]
            table.active = True
        else:
            # Reservations reference tables by id, so a table leaves the list but stays.
            table.active = False
    for label, capacity in wanted.items():
        if label not in existing:
            session.add(
                models.StoreTable(store_id=row.id, label=label, capacity=capacity, active=True)
            )
    await session.flush()


async def active_tables(session: AsyncSession, store_id: int) -> list[TableInfo]:
    """The store's active tables, numbers first in numeric order, then other labels."""
    tables = await session.scalars(
        select(models.StoreTable).where(
            models.StoreTable.store_id == store_id, models.StoreTable.active.is_(True)
        )
    )
    return sorted(
        (TableInfo(table.label, table.capacity) for table in tables),
        key=lambda t: (0, int(t.label), "") if t.label.isdigit() else (1, 0, t.label),
    )


async def _info(session: AsyncSession, row: models.Store) -> StoreInfo:
    opening_hours = dict(row.opening_hours or {})
    return StoreInfo(
        code=row.code,
        name=row.name,
        address=row.address,
        latitude=row.latitude,
        longitude=row.longitude,
        timezone=row.timezone,
        currency=row.currency,
        opening_hours=opening_hours,
        hours=_format_hours(opening_hours),
        settings=StoreSettings.from_json(row.settings),
        paused=row.paused,
        paused_until=row.paused_until,
        staff_chat_id=row.staff_chat_id,
        manager_telegram_id=row.manager_telegram_id,
        tables=tuple(await active_tables(session, row.id)),
    )


# --------------------------------------------------------------------------- output


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def format_store_table(stores: Sequence[StoreInfo]) -> str:
    """The plain-text table of `o2o store list`."""
    header = ("code", "name", "timezone", "hours", "fulfilment", "paused", "staff chat", "tables")
    rows = [header]
    for store in stores:
        paused = "no"
        if store.paused:
            paused = f"until {store.paused_until:%Y-%m-%d %H:%M}Z" if store.paused_until else "yes"
        rows.append(
            (
                store.code,
                store.name,
                store.timezone,
                store.hours or "closed",
                ",".join(store.settings.fulfilment),
                paused,
                str(store.staff_chat_id) if store.staff_chat_id is not None else "-",
                str(len(store.tables)),
            )
        )
    widths = [max(_width(row[column]) for row in rows) for column in range(len(header))]
    lines = [
        "  ".join(_pad(cell, widths[column]) for column, cell in enumerate(row)).rstrip()
        for row in rows
    ]
    if not stores:
        lines.append("(no stores yet: add one with `o2o store add CODE --name NAME`)")
    return "\n".join(lines)
