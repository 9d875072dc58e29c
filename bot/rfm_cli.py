"""`o2o rfm`: RFM segments of customers, from the database or from a CSV of orders.

    o2o rfm [--from-csv FILE] [--as-of YYYY-MM-DD] [--model classic8|quintile] [--json]
            [--store CODE]

From the database: completed orders (customer = customers.id; day = the local day of
completed_at, placed_at when unset, in the store's time zone, for all stores the zone they share,
else UTC; amount = total_minor in the currency's units). Orders in several currencies are
refused: monetary would add them up, so pick a store with --store. From a CSV: one order per row,
a header naming `customer_id`, `date` (YYYY-MM-DD or ISO 8601; the day as written) and `amount`
(currency units, not negative); other columns are ignored; a bad row is one line
`FILE:LINE: message`, exit 2. `--as-of` defaults to the day after the last order (today when
there are none). The model rules live in analytics.rfm (imported lazily, like pandas).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

    from analytics.rfm import RfmResult

REQUIRED_COLUMNS = ("customer_id", "date", "amount")
DASH = "–"


def register_rfm_command(commands: Any) -> None:
    """Add `rfm` to the `o2o` sub-parser collection."""
    rfm = commands.add_parser(
        "rfm",
        help="RFM segments of customers (database or CSV of orders)",
        description="Recency, frequency and monetary value per customer from completed orders "
        "as of a day, and the number of customers per segment. classic8: each of R, F, M is "
        "high when better than the mean (eight segments); quintile: 1-5 scores and ten named "
        "segments.",
    )
    rfm.add_argument(
        "--from-csv",
        metavar="FILE",
        type=Path,
        help="orders from a CSV with columns customer_id,date,amount instead of the database",
    )
    rfm.add_argument(
        "--as-of",
        metavar="YYYY-MM-DD",
        help="the day recency counts to (default: the day after the last order)",
    )
    rfm.add_argument("--model", choices=["classic8", "quintile"], default="classic8")
    rfm.add_argument("--json", action="store_true", help="print JSON instead of a table")
    rfm.add_argument("--store", metavar="CODE", help="one store (database only; default: all)")


def _error(message: str) -> Exception:
    from bot.cli import CliError  # bot.cli imports this module: import at call time

    return CliError(message)


def run_rfm_command(settings: Settings, args: argparse.Namespace) -> int:
    """`o2o rfm`: print the segment counts (table or JSON)."""
    as_of = _parse_as_of(args.as_of)
    if args.from_csv is not None:
        if args.store is not None:
            raise _error("--store: only with the database, not with --from-csv")
        summary = summarize_csv(args.from_csv)
        currency = None
    else:
        from bot.stats_cli import _require_database, _with_engine

        _require_database(settings)
        holder: dict[str, Any] = {}

        async def load(engine: Any) -> int:
            holder["summary"], holder["currency"] = await _summary_from_database(engine, args.store)
            return 0

        asyncio.run(_with_engine(settings, load))
        summary, currency = holder["summary"], holder["currency"]
    result = _compute(summary, as_of, args.model)
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        print(format_rfm(result, currency))
    return 0


def _parse_as_of(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _error(f"--as-of: {text!r} is not a date (YYYY-MM-DD)") from None


def _compute(summary: pd.DataFrame, as_of: date | None, model: Any) -> RfmResult:
    from analytics.rfm import RfmError, default_as_of, rfm_from_summary

    day = as_of or default_as_of(summary) or datetime.now(UTC).date()
    try:
        return rfm_from_summary(summary, day, model)
    except RfmError as exc:
        raise _error(f"--as-of: {exc}") from None


# --------------------------------------------------------------------------- CSV


def summarize_csv(path: Path) -> pd.DataFrame:
    """Per-customer summary of a CSV of orders; CliError `FILE:LINE: message` on bad input."""
    import numpy as np
    import pandas as pd

    from analytics.rfm import summarize_orders

    try:
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, skip_blank_lines=False, encoding="utf-8"
        )
    except FileNotFoundError:
        raise _error(f"--from-csv: no such file: {path}") from None
    except pd.errors.EmptyDataError:
        raise _error(
            f"{path}:1: empty file (a header customer_id,date,amount is required)"
        ) from None
    except pd.errors.ParserError as exc:
        found = re.search(r"line (\d+)", str(exc))
        line = found.group(1) if found else "?"
        raise _error(f"{path}:{line}: {str(exc).splitlines()[-1].strip()}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _error(f"--from-csv: cannot read {path}: {exc}") from None
    frame.columns = [str(name).strip() for name in frame.columns]
    missing = [name for name in REQUIRED_COLUMNS if name not in frame.columns]
    if missing:
        raise _error(f"{path}:1: header lacks {', '.join(missing)} (needs customer_id,date,amount)")
    customer = frame["customer_id"].str.strip()
    date_text = frame["date"].str.strip()
    amount_text = frame["amount"].str.strip()
    day = pd.to_datetime(date_text.str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    # The whole value must be ISO 8601 too ("2026-05-01T09:30:00+08:00"); its day is as written.
    whole = pd.to_datetime(date_text, format="ISO8601", errors="coerce", utc=True)
    amount = pd.to_numeric(amount_text, errors="coerce")
    checks = (
        (customer == "", "customer_id is empty"),
        (day.isna() | whole.isna(), "date is not YYYY-MM-DD or ISO 8601"),
        (amount.isna() | ~np.isfinite(amount.fillna(0)), "amount is not a number"),
        (amount < 0, "amount is negative"),
    )
    first_bad: tuple[int, str] | None = None
    for bad, message in checks:
        rows = np.flatnonzero(bad.to_numpy())
        if len(rows) and (first_bad is None or rows[0] < first_bad[0]):
            first_bad = (int(rows[0]), message)
    if first_bad is not None:
        row, message = first_bad
        value = ",".join(frame.iloc[row][list(REQUIRED_COLUMNS)].tolist())
        # +2: the header is line 1 and rows count from 0 (blank lines are kept as rows).
        raise _error(f"{path}:{row + 2}: {message} ({value})")
    ids: pd.Series[Any] = customer
    numeric = pd.to_numeric(customer, errors="coerce")
    if numeric.notna().all() and (numeric % 1 == 0).all():
        ids = numeric.astype("int64")  # integer ids sort as numbers, not as text
    orders = pd.DataFrame({"customer_id": ids, "date": day, "amount": amount})
    return summarize_orders(orders)


# --------------------------------------------------------------------------- database


async def _summary_from_database(engine: Any, store_code: str | None) -> tuple[Any, str | None]:
    """Per-customer summary of completed orders (bot.db.rfm.customer_summary); CLI errors."""
    from bot.db.rfm import MixedCurrenciesError, customer_summary
    from bot.db.stats import UnknownStoreError

    try:
        return await customer_summary(engine, store_code, datetime.now(UTC))
    except UnknownStoreError as exc:
        raise _error(f"--store: {exc}") from None
    except MixedCurrenciesError as exc:
        raise _error(f"{exc}; choose one store with --store") from None


# --------------------------------------------------------------------------- text


def format_rfm(result: RfmResult, currency: str | None = None) -> str:
    """The segment counts as a plain-text table, with the thresholds the model used."""
    from analytics.rfm import SEGMENTS

    total = len(result.customers)
    unit = f" ({currency})" if currency else ""
    lines = [
        f"RFM as of {result.as_of.isoformat()} · model {result.model} · {total} customers",
        "",
        f"{'segment':24}{'':16}{'customers':>10}{'share':>9}",
    ]
    for segment in SEGMENTS[result.model]:
        count = result.counts[segment.id]
        share = f"{count * 100 / total:.1f} %" if total else DASH
        # Pad the Chinese name by display width: each CJK character takes two columns.
        zh_pad = " " * max(0, 16 - 2 * len(segment.zh))
        lines.append(f"{segment.en:24}{segment.zh}{zh_pad}{count:>10}{share:>9}")
    lines += ["", "thresholds"]
    for key, value in result.thresholds.items():
        label = key + unit if key.startswith("monetary") else key
        if isinstance(value, dict):
            ranges = "  ".join(
                f"{score}: {DASH if span is None else f'{span[0]:g}-{span[1]:g}'}"
                for score, span in value.items()
            )
            lines.append(f"  {label:22}{ranges}")
        else:
            lines.append(f"  {label:22}{DASH if value is None else f'{value:.2f}'}")
    if result.model == "classic8":
        lines.append("  high = recency below the mean, frequency / monetary above it")
    else:
        lines.append("  score: [lowest, highest] value given it; recency: fewer days = higher")
    return "\n".join(lines)
