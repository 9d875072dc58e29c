"""`o2o stats` and `o2o export orders`: KPIs and the order export from the database.

    o2o stats [--period P] [--store CODE] [--json] [--chart FILE.png]
    o2o export orders [--period P] [--store CODE] --out FILE.csv

P is `today`, `Nd` (`7d`, `30d`; 1-3660) or `YYYY-MM-DD..YYYY-MM-DD` in the store's time zone
(all stores: the zone they share, else UTC). Both read O2O_DATABASE_URL and, like the store
commands, bring its schema up to date first; a SQLite file that does not exist is an error
rather than a new empty database. A bad period or an unknown store: one line, exit code 2.
The queries live in bot.db.stats, the figures in analytics.kpis, the chart in analytics.chart
(all imported lazily, so other `o2o` commands do not load pandas or matplotlib).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.settings import Settings

if TYPE_CHECKING:
    from analytics.kpis import KpiFigures, StatsReport
    from bot.db.stats import StatsScope

DEFAULT_PERIOD = "7d"
PERIOD_HELP = "today, Nd (e.g. 7d, 30d) or YYYY-MM-DD..YYYY-MM-DD (default: 7d)"
DASH = "–"


# --------------------------------------------------------------------------- parser


def register_stats_commands(commands: Any) -> None:
    """Add `stats` and `export` to the `o2o` sub-parser collection."""
    stats = commands.add_parser(
        "stats",
        help="KPIs of a period with the change against the period before",
        description="Orders, conversion, processing times, CSAT, revenue, top products and "
        "reservations of a period (orders counted by placement time), each with the change "
        "against the previous period of the same length.",
    )
    stats.add_argument("--period", default=DEFAULT_PERIOD, metavar="P", help=PERIOD_HELP)
    stats.add_argument("--store", metavar="CODE", help="one store (default: all stores)")
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stats.add_argument(
        "--chart", metavar="FILE.png", type=Path, help="also write the chart (orders, CR, CSAT)"
    )

    export = commands.add_parser(
        "export",
        help="export orders as CSV",
        description="Export data as CSV.",
    )
    kinds = export.add_subparsers(dest="export_command", metavar="WHAT", required=True)
    orders = kinds.add_parser(
        "orders",
        help="one row per order placed in the period",
        description="One row per order placed in the period: ids, store, status, fulfilment, "
        "the times of each step (ISO 8601 UTC, empty when not reached), total, currency and "
        "the survey's score and status.",
    )
    orders.add_argument("--period", default=DEFAULT_PERIOD, metavar="P", help=PERIOD_HELP)
    orders.add_argument("--store", metavar="CODE", help="one store (default: all stores)")
    orders.add_argument("--out", required=True, metavar="FILE.csv", type=Path, help="CSV to write")


# --------------------------------------------------------------------------- commands


def run_stats_command(settings: Settings, args: argparse.Namespace) -> int:
    """`o2o stats`: print the report (table or JSON), optionally write the chart."""
    _require_database(settings)
    return asyncio.run(_with_engine(settings, lambda engine: _stats(engine, args)))


def run_export_command(settings: Settings, args: argparse.Namespace) -> int:
    """`o2o export orders`: write the CSV."""
    _require_database(settings)
    return asyncio.run(_with_engine(settings, lambda engine: _export(engine, args)))


def _error(message: str) -> Exception:
    from bot.cli import CliError  # bot.cli imports this module: import at call time

    return CliError(message)


def _require_database(settings: Settings) -> None:
    """Refuse a SQLite file that does not exist: reading it would create an empty one."""
    from sqlalchemy.engine.url import make_url

    url = make_url(settings.database_url)
    database = url.database or ""
    sqlite_file = url.get_backend_name() == "sqlite" and database not in ("", ":memory:")
    if sqlite_file and not Path(database).exists():
        raise _error(
            f"O2O_DATABASE_URL: no database at {database} (run `o2o migrate` or `o2o seed` "
            "to create one)"
        )


async def _with_engine(settings: Settings, action: Callable[[Any], Any]) -> int:
    from bot.db.engine import create_engine
    from bot.db.migrate import upgrade_async

    await upgrade_async(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        result: int = await action(engine)
        return result
    finally:
        await engine.dispose()


async def _scope(engine: Any, args: argparse.Namespace) -> StatsScope:
    from analytics.periods import PeriodError
    from bot.db.stats import UnknownStoreError, resolve_scope

    try:
        return await resolve_scope(engine, args.period, args.store, datetime.now(UTC))
    except (PeriodError, UnknownStoreError) as exc:
        flag = "--period" if isinstance(exc, PeriodError) else "--store"
        raise _error(f"{flag}: {exc}") from None


async def _stats(engine: Any, args: argparse.Namespace) -> int:
    from bot.db.stats import report_for

    report = await report_for(engine, await _scope(engine, args))
    if args.chart is not None:
        from analytics.chart import render_chart

        png = await asyncio.to_thread(render_chart, report)
        try:
            args.chart.write_bytes(png)
        except OSError as exc:
            raise _error(f"--chart: cannot write {args.chart}: {exc.strerror or exc}") from None
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        print(format_report(report))
    if args.chart is not None:
        print(f"chart written to {args.chart}", file=sys.stderr)
    return 0


async def _export(engine: Any, args: argparse.Namespace) -> int:
    from bot.db.stats import export_scope

    scope = await _scope(engine, args)
    try:
        with args.out.open("w", encoding="utf-8", newline="") as out:
            result = await export_scope(engine, scope, out)
    except OSError as exc:
        raise _error(f"--out: cannot write {args.out}: {exc.strerror or exc}") from None
    period = scope.period
    print(
        f"{result.rows} orders placed {period.range_text} ({period.timezone}) written to "
        f"{args.out}",
        file=sys.stderr,
    )
    return 0


# --------------------------------------------------------------------------- text


def _money(amount: int | None, currency: str | None) -> str:
    if amount is None:
        return DASH
    if currency is None:
        return str(amount)
    from domain.money import Money

    return f"{Money(amount, currency).to_decimal():,f} {currency}"


def _number(value: float | None, unit: str = "", digits: int = 1) -> str:
    return DASH if value is None else f"{value:.{digits}f}{unit}"


def _change(
    now: float | None, before: float | None, unit: str = "", digits: int = 1, relative: bool = True
) -> str:
    """``+20 (+20.0%)`` for counts, ``+2.5 pp`` for rates; a dash when either side is missing."""
    if now is None or before is None:
        return DASH
    delta = now - before
    text = f"{round(delta, digits) + 0.0:+.{digits}f}{unit}"  # + 0.0: no "-0.0"
    if relative and before:
        text += f" ({delta * 100 / before:+.1f}%)"
    return text


def format_report(report: StatsReport) -> str:
    """The report as a plain-text table: this period, the previous one and the change."""
    cur, prev = report.current, report.previous
    period, previous = report.period, report.previous_period
    scope = report.scope_name
    if report.store is not None:
        scope += f" ({report.store.code})"
    named = f"{period.label}: " if period.label != period.range_text else ""
    lines = [
        f"{scope} · {named}{period.range_text} ({period.timezone})",
        f"compared with {previous.range_text}",
        "",
        f"{'':28}{'this period':>16}{'previous':>16}  change",
    ]

    def row(label: str, now: str, before: str, change: str) -> None:
        lines.append(f"{label:28}{now:>16}{before:>16}  {change}")

    def count(label: str, key: str) -> None:
        a, b = getattr(cur, key), getattr(prev, key)
        row(label, str(a), str(b), _change(a, b, digits=0))

    def rate(label: str, key: str) -> None:
        a, b = getattr(cur, key), getattr(prev, key)
        row(label, _number(a, " %"), _number(b, " %"), _change(a, b, " pp", relative=False))

    def mins(label: str, key: str) -> None:
        a, b = getattr(cur, key), getattr(prev, key)
        row(label, _number(a, " min"), _number(b, " min"), _change(a, b, " min", relative=False))

    count("orders placed", "orders_placed")
    count("orders completed", "orders_completed")
    count("orders rejected", "orders_rejected")
    count("orders cancelled", "orders_cancelled")
    rate("conversion rate", "conversion_rate")
    mins("processing time (mean)", "apt_minutes")
    mins("processing time (median)", "apt_median_minutes")
    mins("time to accept (mean)", "accept_minutes")
    row(
        "CSAT (mean, 1-5)",
        _number(cur.csat_avg, digits=2),
        _number(prev.csat_avg, digits=2),
        _change(cur.csat_avg, prev.csat_avg, digits=2, relative=False),
    )
    rate("CSAT 4-5 share", "csat_share_4_5")
    count("survey responses", "csat_responses")
    rate("survey response rate", "survey_response_rate")
    row(
        "revenue",
        _money(cur.revenue_minor, report.currency),
        _money(prev.revenue_minor, report.currency),
        _money_change(cur, prev, "revenue_minor", report.currency),
    )
    row(
        "average order value",
        _money(cur.avg_order_value_minor, report.currency),
        _money(prev.avg_order_value_minor, report.currency),
        _money_change(cur, prev, "avg_order_value_minor", report.currency),
    )
    count("reservations", "reservations")
    rate("no-show rate", "no_show_rate")

    lines += ["", "top products (quantity, revenue)"]
    if not cur.top_products:
        lines.append(f"  {DASH}")
    for rank, product in enumerate(cur.top_products, 1):
        revenue = _money(product.revenue_minor, report.currency)
        lines.append(f"  {rank}. {product.name:30} {product.quantity:>8}  {revenue:>16}")
    for label, figures in (("this period", cur), ("the previous period", prev)):
        if figures.other_currency_orders:
            lines.append(
                f"note: revenue, average order value and top products count {report.currency} "
                f"orders only; {figures.other_currency_orders} completed orders of "
                f"{label} in other currencies are left out"
            )
    return "\n".join(lines)


def _money_change(cur: KpiFigures, prev: KpiFigures, key: str, currency: str | None) -> str:
    a, b = getattr(cur, key), getattr(prev, key)
    if a is None or b is None:
        return DASH
    text = _money(a - b, currency)
    sign = "+" if a - b >= 0 else ""
    if b:
        text += f" ({(a - b) * 100 / b:+.1f}%)"
    return sign + text
