"""Admin sub-commands of `o2o` (stores, catalog, QR codes); wired into bot/cli.py.

    o2o store add CODE --name NAME [options]      create a store
    o2o store edit CODE [options] [--pause|--resume] [--staff-chat-id ID]
    o2o store list [--json]
    o2o store qr STORE [--table N] --out FILE.png [--bot USERNAME]
    o2o catalog import FILE [--dry-run]           CSV or YAML, by extension (exit 1 on errors)
    o2o catalog export [--format csv|yaml] [--out FILE]

Each command migrates O2O_DATABASE_URL first. Input problems raise AdminError: one line on
stderr, exit code 2. Catalog validation errors are reported as FILE:LINE: message, exit code 1.
The logic lives in bot.admin.stores, bot.admin.catalog and bot.admin.qr (imported lazily so the
other `o2o` commands do not load YAML, Pillow and qrcode).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from bot.admin.stores import StoreChanges

EXIT_INVALID_CATALOG = 1


class AdminError(Exception):
    """A problem in an admin command's input; printed as one line, exit code 2."""


# --------------------------------------------------------------------------- parser


def register_admin_commands(commands: Any) -> None:
    """Add the admin sub-commands to the `o2o` sub-parser collection."""
    _register_store(commands)
    _register_catalog(commands)


def _register_store(commands: Any) -> None:
    store = commands.add_parser(
        "store",
        help="add, edit and list stores; make QR codes for them",
        description="Manage stores: their hours, fulfilment, delivery terms and tables.",
    )
    actions = store.add_subparsers(dest="store_command", metavar="ACTION", required=True)

    add = actions.add_parser(
        "add",
        help="create a store",
        description="Create a store. Amounts are decimals in the store's currency.",
    )
    add.add_argument("code", metavar="CODE", help="store code: 2-32 of a-z, 0-9, _ (in links)")
    add.add_argument("--name", required=True, help="display name")
    _store_options(add)

    edit = actions.add_parser(
        "edit",
        help="change a store (only the options given)",
        description="Change the given options of a store; the others stay as they are.",
    )
    edit.add_argument("code", metavar="CODE", help="store code")
    edit.add_argument("--name", help="display name")
    _store_options(edit)
    pause = edit.add_mutually_exclusive_group()
    pause.add_argument(
        "--pause", dest="paused", action="store_const", const=True, help="stop taking orders"
    )
    pause.add_argument(
        "--resume", dest="paused", action="store_const", const=False, help="take orders again"
    )
    edit.add_argument(
        "--staff-chat-id",
        metavar="ID",
        help="Telegram chat id of the staff group (negative for groups); 'none' to unset",
    )

    listing = actions.add_parser("list", help="list the stores", description="List the stores.")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")

    qr = actions.add_parser(
        "qr",
        help="write a QR code PNG linking to a store (or a table)",
        description="Write a PNG QR code for https://t.me/<bot>?start=<store[table]> and print "
        "the URL. The bot comes from --bot or O2O_BOT_USERNAME.",
    )
    qr.add_argument("store", metavar="STORE", help="store code")
    qr.add_argument("--table", metavar="N", help="table label, for scan-to-order at a table")
    qr.add_argument("--out", metavar="FILE.png", required=True, type=Path, help="PNG to write")
    qr.add_argument("--bot", metavar="USERNAME", help="bot username (default: O2O_BOT_USERNAME)")


def _store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--address", help="street address")
    parser.add_argument("--lat", type=float, metavar="F", help="latitude (with --lon)")
    parser.add_argument("--lon", type=float, metavar="F", help="longitude (with --lat)")
    parser.add_argument("--timezone", metavar="TZ", help="IANA time zone, e.g. Asia/Shanghai")
    parser.add_argument("--currency", metavar="CUR", help="ISO 4217 code, e.g. CNY")
    parser.add_argument(
        "--hours",
        metavar="SPEC",
        help="opening hours, e.g. 'mon-fri 08:00-20:00; sat 09:00-18:00; sun closed' or "
        "'daily 07:30-21:00'",
    )
    parser.add_argument(
        "--fulfilment", metavar="LIST", help="comma list of pickup, delivery, dine_in"
    )
    parser.add_argument(
        "--delivery-radius-km", type=float, metavar="F", help="delivery radius in km (0-100]"
    )
    parser.add_argument("--delivery-fee", metavar="AMOUNT", help="delivery fee, e.g. 5.00")
    parser.add_argument("--min-order", metavar="AMOUNT", help="minimum delivery order, e.g. 30.00")
    parser.add_argument("--slot-capacity", type=int, metavar="N", help="orders per pickup slot")
    parser.add_argument("--prep-minutes", type=int, metavar="N", help="usual preparation time")
    parser.add_argument(
        "--tables",
        metavar="SPEC",
        help="tables as labels or ranges with capacity, e.g. '1-12:4,VIP:8'; on edit this "
        "replaces the set (tables left out become inactive); '' for none",
    )
    parser.add_argument("--manager", type=int, metavar="TELEGRAM_ID", help="manager's user id")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="settings",
        help="any other store setting, e.g. survey_delay_minutes=45, survey_quiet_start=22:00, "
        "sla_timeout_minutes=20 (repeatable; see the README for the list)",
    )


def _register_catalog(commands: Any) -> None:
    catalog = commands.add_parser(
        "catalog",
        help="import or export the catalog (CSV or YAML)",
        description="Import or export categories, products, per-store stock and services.",
    )
    actions = catalog.add_subparsers(dest="catalog_command", metavar="ACTION", required=True)
    imp = actions.add_parser(
        "import",
        help="upsert the catalog from a CSV or YAML file (all or nothing)",
        description="Upsert categories, products (by code), stock and services from FILE "
        "(.csv, .yaml or .yml). Any problem: every one is printed as FILE:LINE: message, "
        "nothing changes, exit code 1.",
    )
    imp.add_argument("file", metavar="FILE", type=Path, help="catalog file (.csv, .yaml, .yml)")
    imp.add_argument(
        "--dry-run", action="store_true", help="check and report what would change; write nothing"
    )
    exp = actions.add_parser(
        "export",
        help="write the catalog in the import format",
        description="Write the catalog as CSV or YAML (the import format) to FILE or stdout.",
    )
    exp.add_argument(
        "--format",
        choices=["csv", "yaml"],
        help="output format (default: from --out's extension, else yaml)",
    )
    exp.add_argument("--out", metavar="FILE", type=Path, help="file to write (default: stdout)")


# --------------------------------------------------------------------------- dispatch


def run_admin_command(settings: Settings, args: argparse.Namespace) -> int:
    """Run one admin sub-command chosen by register_admin_commands."""
    handlers: dict[tuple[str, str], Callable[[Any, Settings, argparse.Namespace], Awaitable[int]]]
    handlers = {
        ("store", "add"): _store_add,
        ("store", "edit"): _store_edit,
        ("store", "list"): _store_list,
        ("store", "qr"): _store_qr,
        ("catalog", "import"): _catalog_import,
        ("catalog", "export"): _catalog_export,
    }
    action = getattr(args, f"{args.command}_command", None)
    handler = handlers.get((args.command, action or ""))
    if handler is None:
        raise AdminError(f"unknown command {args.command!r}")
    return asyncio.run(_with_database(settings, args, handler))


async def _with_database(
    settings: Settings,
    args: argparse.Namespace,
    handler: Callable[[Any, Settings, argparse.Namespace], Awaitable[int]],
) -> int:
    from bot.db.engine import create_engine, create_sessionmaker
    from bot.db.migrate import upgrade_async

    await upgrade_async(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        return await handler(create_sessionmaker(engine), settings, args)
    finally:
        await engine.dispose()


def _now() -> Any:
    from domain.clock import SystemClock

    return SystemClock().now()


def _changes(args: argparse.Namespace) -> StoreChanges:
    from bot.admin.stores import StoreChanges

    staff_chat = getattr(args, "staff_chat_id", None)
    clear_staff_chat = False
    staff_chat_id: int | None = None
    if staff_chat is not None:
        if staff_chat.strip().lower() in ("none", "-", ""):
            clear_staff_chat = True
        else:
            try:
                staff_chat_id = int(staff_chat)
            except ValueError:
                raise AdminError(
                    "--staff-chat-id: expected a chat id such as -1001234567890, "
                    f"got {staff_chat!r}"
                ) from None
    return StoreChanges(
        name=args.name,
        address=args.address,
        latitude=args.lat,
        longitude=args.lon,
        timezone=args.timezone,
        currency=args.currency,
        hours=args.hours,
        fulfilment=args.fulfilment,
        delivery_radius_km=args.delivery_radius_km,
        delivery_fee=args.delivery_fee,
        min_order=args.min_order,
        slot_capacity=args.slot_capacity,
        prep_minutes=args.prep_minutes,
        settings=tuple(args.settings or ()),
        tables=args.tables,
        manager=args.manager,
        paused=getattr(args, "paused", None),
        staff_chat_id=staff_chat_id,
        clear_staff_chat=clear_staff_chat,
    )


async def _store_add(
    sessionmaker: async_sessionmaker[AsyncSession], _settings: Settings, args: argparse.Namespace
) -> int:
    from bot.admin.stores import add_store

    info = await add_store(sessionmaker, args.code, _changes(args), _now())
    print(
        f"store {info.code} added: {info.name}; {info.timezone}; hours {info.hours}; "
        f"{','.join(info.settings.fulfilment)}; {len(info.tables)} tables"
    )
    if args.hours is None:
        print(
            f"note: no --hours given, so the store is closed every day; set them with "
            f"`o2o store edit {info.code} --hours 'daily 08:00-20:00'`",
            file=sys.stderr,
        )
    return 0


async def _store_edit(
    sessionmaker: async_sessionmaker[AsyncSession], _settings: Settings, args: argparse.Namespace
) -> int:
    from bot.admin.stores import edit_store

    info = await edit_store(sessionmaker, args.code, _changes(args), _now())
    state = "paused" if info.paused else "open for orders"
    print(
        f"store {info.code} updated: {info.name}; {info.timezone}; hours {info.hours}; "
        f"{','.join(info.settings.fulfilment)}; {len(info.tables)} tables; {state}"
    )
    return 0


async def _store_list(
    sessionmaker: async_sessionmaker[AsyncSession], _settings: Settings, args: argparse.Namespace
) -> int:
    from bot.admin.stores import format_store_table, list_stores

    stores = await list_stores(sessionmaker)
    if args.json:
        print(json.dumps([store.to_json() for store in stores], ensure_ascii=False, indent=2))
    else:
        print(format_store_table(stores))
    return 0


async def _store_qr(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, args: argparse.Namespace
) -> int:
    from bot.admin.qr import make_store_qr

    result = await make_store_qr(
        sessionmaker,
        args.store,
        args.out,
        bot_username=args.bot if args.bot is not None else settings.bot_username,
        table=args.table,
    )
    print(result.url)
    print(f"QR code written to {result.path}", file=sys.stderr)
    return 0


async def _catalog_import(
    sessionmaker: async_sessionmaker[AsyncSession], _settings: Settings, args: argparse.Namespace
) -> int:
    from bot.admin.catalog import import_catalog_file

    report = await import_catalog_file(sessionmaker, args.file, _now(), dry_run=args.dry_run)
    if not report.ok:
        for line in report.error_lines():
            print(line, file=sys.stderr)
        return EXIT_INVALID_CATALOG
    print(report.summary())
    return 0


async def _catalog_export(
    sessionmaker: async_sessionmaker[AsyncSession], _settings: Settings, args: argparse.Namespace
) -> int:
    from bot.admin.catalog import catalog_format, export_catalog

    fmt = args.format
    if fmt is None:
        fmt = catalog_format(args.out) if args.out is not None else "yaml"
    result = await export_catalog(sessionmaker, fmt)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.out is None:
        sys.stdout.write(result.text)
        return 0
    try:
        args.out.write_text(result.text, encoding="utf-8")
    except OSError as exc:
        raise AdminError(f"--out: cannot write {args.out}: {exc.strerror or exc}") from None
    print(f"catalog written to {args.out}", file=sys.stderr)
    return 0
