"""Order, survey and reservation KPIs: pure pandas over DataFrames, no database, no bot framework.

Cohort by placement time: the orders of a period are those *placed* in it (``start <= placed_at
< end``), whatever happened to them later; an order still open at the end of the period counts
as placed and not completed. Times count in whole seconds (each timestamp is floored to the
second, as in ``o2o export orders``), so figures recomputed from the export agree exactly.

Definitions (``None`` where the denominator is 0):

- ``conversion_rate`` = completed / placed x 100;
- ``apt_minutes`` = mean of (completed_at - placed_at) over completed orders, in minutes, and
  ``apt_median_minutes`` its median; ``accept_minutes`` = mean of (accepted_at - placed_at)
  over orders that were accepted;
- ``csat_avg`` = mean score (1-5) of the answered surveys of the period's orders,
  ``csat_share_4_5`` = share of those scores that are 4 or 5 (percent), ``csat_responses`` =
  their number, ``survey_response_rate`` = answered / sent (status sent, answered or expired)
  x 100;
- ``revenue_minor`` = sum of ``total_minor`` of completed orders in the report currency,
  ``avg_order_value_minor`` = revenue / those orders, rounded half up;
- ``top_products``: order lines of those completed orders grouped by name, the 5 with the
  largest quantity (ties by name);
- ``reservations`` = reservations starting in the period, ``no_show_rate`` = no-shows /
  reservations that reached seated, completed or no_show x 100.

The work is split so a database can do the heavy part: per-day sums (``DAY_COLUMNS``), a
histogram of processing times in seconds, product sums and reservation status counts; the
functions that turn those into figures (``kpi_figures``, ``daily_points``) are shared by the
DataFrame path here (``aggregate_orders_by_day`` ...) and the SQL path in ``bot.db.stats``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from analytics.periods import Period

COMPLETED = "completed"
REJECTED = "rejected"
CANCELLED = "cancelled"
SURVEY_ANSWERED = "answered"
SURVEY_SENT_STATUSES = ("sent", "answered", "expired")
RESERVATION_NO_SHOW = "no_show"
RESERVATION_REACHED = ("seated", "completed", "no_show")
TOP_PRODUCTS = 5

# The columns of `o2o export orders`, in order; the DataFrame functions read the same names.
ORDER_COLUMNS = (
    "order_id",
    "number",
    "store",
    "customer_id",
    "status",
    "fulfilment",
    "placed_at",
    "accepted_at",
    "ready_at",
    "completed_at",
    "rejected_at",
    "cancelled_at",
    "total_minor",
    "currency",
    "survey_score",
    "survey_status",
)
TIME_COLUMNS = (
    "placed_at",
    "accepted_at",
    "ready_at",
    "completed_at",
    "rejected_at",
    "cancelled_at",
)

# Integer sums per local day: what the SQL layer's GROUP BY returns and the figures are made of.
DAY_COLUMNS = (
    "placed",
    "completed",
    "rejected",
    "cancelled",
    "accepted",
    "accept_seconds",
    "revenue_minor",
    "completed_in_currency",
    "csat_responses",
    "csat_sum",
    "csat_4_5",
    "surveys_sent",
)

# The figures' JSON keys, in order (the contract of `o2o stats --json`).
FIGURE_KEYS = (
    "orders_placed",
    "orders_completed",
    "orders_rejected",
    "orders_cancelled",
    "conversion_rate",
    "apt_minutes",
    "apt_median_minutes",
    "accept_minutes",
    "csat_avg",
    "csat_share_4_5",
    "csat_responses",
    "survey_response_rate",
    "revenue_minor",
    "avg_order_value_minor",
    "currency",
    "top_products",
    "reservations",
    "no_show_rate",
)

IntArray = npt.NDArray[np.int64]


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class TopProduct:
    """One best-selling product line name with its quantity and revenue."""

    name: str
    quantity: int
    revenue_minor: int

    def to_json(self) -> dict[str, Any]:
        """``{"name", "quantity", "revenue_minor"}``."""
        return {"name": self.name, "quantity": self.quantity, "revenue_minor": self.revenue_minor}


@dataclass(frozen=True)
class KpiFigures:
    """Every figure of one period (see the module docstring for the formulas)."""

    orders_placed: int = 0
    orders_completed: int = 0
    orders_rejected: int = 0
    orders_cancelled: int = 0
    conversion_rate: float | None = None
    apt_minutes: float | None = None
    apt_median_minutes: float | None = None
    accept_minutes: float | None = None
    csat_avg: float | None = None
    csat_share_4_5: float | None = None
    csat_responses: int = 0
    survey_response_rate: float | None = None
    revenue_minor: int = 0
    avg_order_value_minor: int | None = None
    currency: str | None = None
    top_products: tuple[TopProduct, ...] = ()
    reservations: int = 0
    no_show_rate: float | None = None
    # Completed orders in another currency than `currency`: counted, but not in the revenue.
    other_currency_orders: int = 0

    def to_json(self) -> dict[str, Any]:
        """The FIGURE_KEYS as JSON values, floats rounded to 2 decimals."""
        out: dict[str, Any] = {}
        for key in FIGURE_KEYS:
            value = getattr(self, key)
            if key == "top_products":
                value = [product.to_json() for product in value]
            elif isinstance(value, float):
                value = round(value, 2)
            out[key] = value
        return out


@dataclass(frozen=True)
class DailyPoint:
    """One local day of the chart: orders placed that day, how many completed, CR and CSAT."""

    day: date
    placed: int
    completed: int
    conversion_rate: float | None
    csat_avg: float | None
    csat_responses: int


@dataclass(frozen=True)
class StoreRef:
    """The store facts a report needs."""

    code: str
    name: str
    timezone: str
    currency: str


@dataclass(frozen=True)
class StatsReport:
    """Figures of a period and of the one before it, the daily series and what they cover."""

    period: Period
    previous_period: Period
    store: StoreRef | None  # None: every store
    stores: tuple[StoreRef, ...]  # every store, for a store switch
    currency: str | None
    current: KpiFigures
    previous: KpiFigures
    daily: tuple[DailyPoint, ...] = field(default=())

    @property
    def scope_name(self) -> str:
        """The selected store's name, or "All stores"."""
        return self.store.name if self.store is not None else "All stores"

    def to_json(self) -> dict[str, Any]:
        """The `o2o stats --json` document: figures, ``period``, ``store`` and ``previous``."""
        out = self.current.to_json()
        out["period"] = period_json(self.period)
        out["store"] = (
            None if self.store is None else {"code": self.store.code, "name": self.store.name}
        )
        previous = self.previous.to_json()
        previous["period"] = period_json(self.previous_period)
        out["previous"] = previous
        return out


def period_json(period: Period) -> dict[str, Any]:
    """A period as JSON: label, local first and last day, time zone, UTC start and end."""
    return {
        "label": period.label,
        "from": period.first_day.isoformat(),
        "to": period.last_day.isoformat(),
        "timezone": period.timezone,
        "start": iso_utc(period.start),
        "end": iso_utc(period.end),
    }


def iso_utc(moment: datetime) -> str:
    """Whole-second ISO 8601 UTC text such as ``2026-05-04T09:30:00Z`` (fraction dropped)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- arithmetic


def percent(part: int, whole: int) -> float | None:
    """``part * 100 / whole``, or None when whole is 0."""
    return None if whole == 0 else part * 100 / whole


def ratio(total: int, count: int) -> float | None:
    """``total / count``, or None when count is 0."""
    return None if count == 0 else total / count


def minutes(total_seconds: int, count: int) -> float | None:
    """Mean of ``count`` durations summing to ``total_seconds``, in minutes."""
    return None if count == 0 else total_seconds / (count * 60)


def round_half_up(total: int, count: int) -> int | None:
    """``total / count`` rounded half up, in integers (no float error); None when count is 0."""
    if count == 0:
        return None
    return (2 * total + count) // (2 * count)


def median_minutes(histogram: pd.Series) -> float | None:
    """Exact median of durations given as a histogram (index: seconds, values: counts), minutes."""
    counts = histogram[histogram > 0].sort_index()
    n = int(counts.sum())
    if n == 0:
        return None
    seconds = counts.index.to_numpy(dtype=np.int64)
    cumulative = np.cumsum(counts.to_numpy(dtype=np.int64))
    # The k-th smallest (0-based) is the first value whose cumulative count exceeds k.
    low = int(seconds[np.searchsorted(cumulative, (n - 1) // 2, side="right")])
    high = int(seconds[np.searchsorted(cumulative, n // 2, side="right")])
    # One division of integers: the same float however the two middle values were found.
    return (low + high) / 120


def histogram_total(histogram: pd.Series) -> tuple[int, int]:
    """``(sum of durations, number of durations)`` of a seconds histogram."""
    seconds = histogram.index.to_numpy(dtype=np.int64)
    counts = histogram.to_numpy(dtype=np.int64)
    return int((seconds * counts).sum()), int(counts.sum())


# --------------------------------------------------------------------------- from sums


def kpi_figures(
    totals: Mapping[str, int],
    apt_histogram: pd.Series,
    top_products: Sequence[TopProduct],
    reservation_statuses: Mapping[str, int],
    currency: str | None,
) -> KpiFigures:
    """Figures of one period from its DAY_COLUMNS totals and the other aggregates."""
    t = {name: int(totals.get(name, 0)) for name in DAY_COLUMNS}
    apt_total, apt_count = histogram_total(apt_histogram)
    reached = sum(int(reservation_statuses.get(s, 0)) for s in RESERVATION_REACHED)
    return KpiFigures(
        orders_placed=t["placed"],
        orders_completed=t["completed"],
        orders_rejected=t["rejected"],
        orders_cancelled=t["cancelled"],
        conversion_rate=percent(t["completed"], t["placed"]),
        apt_minutes=minutes(apt_total, apt_count),
        apt_median_minutes=median_minutes(apt_histogram),
        accept_minutes=minutes(t["accept_seconds"], t["accepted"]),
        csat_avg=ratio(t["csat_sum"], t["csat_responses"]),
        csat_share_4_5=percent(t["csat_4_5"], t["csat_responses"]),
        csat_responses=t["csat_responses"],
        survey_response_rate=percent(t["csat_responses"], t["surveys_sent"]),
        revenue_minor=t["revenue_minor"],
        avg_order_value_minor=round_half_up(t["revenue_minor"], t["completed_in_currency"]),
        currency=currency,
        top_products=tuple(top_products),
        reservations=sum(int(n) for n in reservation_statuses.values()),
        no_show_rate=percent(int(reservation_statuses.get(RESERVATION_NO_SHOW, 0)), reached),
        other_currency_orders=t["completed"] - t["completed_in_currency"],
    )


def totals_of(days: pd.DataFrame) -> dict[str, int]:
    """Sum a DAY_COLUMNS frame over its days."""
    return {name: int(days[name].sum()) if name in days else 0 for name in DAY_COLUMNS}


def daily_points(days: pd.DataFrame) -> tuple[DailyPoint, ...]:
    """The chart's series from a DAY_COLUMNS frame indexed by local date."""
    columns = {name: days[name].tolist() for name in ("placed", "completed", "csat_sum")}
    responses = days["csat_responses"].tolist()
    return tuple(
        DailyPoint(
            day=day,
            placed=int(placed),
            completed=int(completed),
            conversion_rate=percent(int(completed), int(placed)),
            csat_avg=ratio(int(csat_sum), int(answered)),
            csat_responses=int(answered),
        )
        for day, placed, completed, csat_sum, answered in zip(
            days.index,
            columns["placed"],
            columns["completed"],
            columns["csat_sum"],
            responses,
            strict=True,
        )
    )


def rank_products(
    names: Iterable[str], quantities: Iterable[int], revenues: Iterable[int], limit: int
) -> tuple[TopProduct, ...]:
    """The ``limit`` products with the largest quantity, ties by name (code point order)."""
    # Sorted here, not in SQL: database collations would order equal quantities differently.
    rows = sorted(
        zip(names, (int(q) for q in quantities), (int(r) for r in revenues), strict=True),
        key=lambda row: (-row[1], row[0]),
    )
    return tuple(TopProduct(name, quantity, revenue) for name, quantity, revenue in rows[:limit])


def empty_days(period: Period) -> pd.DataFrame:
    """A DAY_COLUMNS frame of zeros, one row per local day of the period."""
    return pd.DataFrame(
        0, index=pd.Index(period.days, name="day"), columns=list(DAY_COLUMNS), dtype=np.int64
    )


# --------------------------------------------------------------------------- from DataFrames


def epoch_seconds(values: pd.Series) -> pd.Series:
    """Whole UTC seconds since 1970 (floored) of datetimes or ISO strings; <NA> when missing."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        stamps = values.dt.tz_convert("UTC")
    else:
        # Naive values are taken as UTC, like the database's naive-UTC SQLite text.
        stamps = pd.to_datetime(values, utc=True, format="ISO8601")
    nanos = stamps.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")
    missing = np.isnat(nanos)
    seconds = np.where(missing, 0, nanos.view(np.int64) // 1_000_000_000)
    return pd.Series(pd.arrays.IntegerArray(seconds, missing), index=values.index)


def _bounds(period: Period) -> IntArray:
    return np.array([int(b.timestamp()) for b in period.day_bounds()], dtype=np.int64)


def _day_positions(placed: pd.Series, period: Period) -> IntArray:
    """Index of each order's local day in the period, -1 when placed outside it (or unknown)."""
    bounds = _bounds(period)
    seconds = placed.to_numpy(dtype=np.int64, na_value=np.iinfo(np.int64).min)
    positions = np.searchsorted(bounds, seconds, side="right") - 1
    inside = (positions >= 0) & (positions < period.n_days)
    return np.where(inside, positions, -1).astype(np.int64)


def _column(orders: pd.DataFrame, name: str) -> pd.Series:
    if name in orders:
        return orders[name]
    return pd.Series([None] * len(orders), index=orders.index, dtype=object)


def _text(values: pd.Series) -> npt.NDArray[np.object_]:
    return values.astype(object).where(values.notna(), "").to_numpy(dtype=object)


def aggregate_orders_by_day(
    orders: pd.DataFrame, period: Period, currency: str | None
) -> pd.DataFrame:
    """DAY_COLUMNS sums per local day of the period (zeros on quiet days) from an orders frame.

    ``orders`` has the ORDER_COLUMNS (``order_id``, ``number``, ``store``, ``customer_id``,
    ``fulfilment`` and ``ready_at``... may be absent); times are datetimes or ISO strings.
    """
    if orders.empty:
        return empty_days(period)
    placed = epoch_seconds(orders["placed_at"])
    position = _day_positions(placed, period)
    status = _text(orders["status"])
    completed = status == COMPLETED
    accepted = epoch_seconds(_column(orders, "accepted_at"))
    accept_seconds = (accepted - placed).fillna(0).to_numpy(dtype=np.int64)
    in_currency = completed & (_text(_column(orders, "currency")) == (currency or ""))
    total = pd.to_numeric(orders["total_minor"]).to_numpy(dtype=np.int64)
    survey_status = _text(_column(orders, "survey_status"))
    score = pd.to_numeric(_column(orders, "survey_score"), errors="coerce")
    answered = (survey_status == SURVEY_ANSWERED) & score.notna().to_numpy()
    score_values = score.fillna(0).to_numpy(dtype=np.int64)
    contributions = pd.DataFrame(
        {
            "placed": np.ones(len(orders), dtype=np.int64),
            "completed": completed,
            "rejected": status == REJECTED,
            "cancelled": status == CANCELLED,
            "accepted": accepted.notna().to_numpy(),
            "accept_seconds": accept_seconds,
            "revenue_minor": np.where(in_currency, total, 0),
            "completed_in_currency": in_currency,
            "csat_responses": answered,
            "csat_sum": np.where(answered, score_values, 0),
            "csat_4_5": answered & (score_values >= 4),
            "surveys_sent": np.isin(survey_status, SURVEY_SENT_STATUSES),
        }
    ).astype(np.int64)
    inside = position >= 0
    sums = contributions[inside].groupby(position[inside]).sum()
    days = sums.reindex(range(period.n_days), fill_value=0).astype(np.int64)
    days.index = pd.Index(period.days, name="day")
    return days


def duration_histogram(orders: pd.DataFrame, period: Period) -> pd.Series:
    """Counts of whole-second processing times (completed_at - placed_at) of completed orders."""
    if orders.empty:
        return pd.Series([], dtype=np.int64)
    placed = epoch_seconds(orders["placed_at"])
    done = epoch_seconds(orders["completed_at"])
    mask = (
        (_day_positions(placed, period) >= 0)
        & (_text(orders["status"]) == COMPLETED)
        & done.notna().to_numpy()
    )
    seconds = (done - placed)[mask].to_numpy(dtype=np.int64)
    return pd.Series(seconds).value_counts().sort_index().astype(np.int64)


def product_sums(
    lines: pd.DataFrame, orders: pd.DataFrame, period: Period, currency: str | None
) -> pd.DataFrame:
    """Quantity and revenue per line name over completed orders of the period in ``currency``.

    ``lines`` has ``order_id``, ``name``, ``quantity`` and ``line_total_minor``.
    """
    columns = ["name", "quantity", "revenue_minor"]
    if orders.empty or lines.empty:
        return pd.DataFrame(columns=columns)
    placed = epoch_seconds(orders["placed_at"])
    keep = (
        (_day_positions(placed, period) >= 0)
        & (_text(orders["status"]) == COMPLETED)
        & (_text(_column(orders, "currency")) == (currency or ""))
    )
    chosen = lines[lines["order_id"].isin(orders.loc[keep, "order_id"])]
    grouped = chosen.groupby("name", sort=False)[["quantity", "line_total_minor"]].sum()
    return pd.DataFrame(
        {
            "name": grouped.index.astype(str),
            "quantity": grouped["quantity"].to_numpy(dtype=np.int64),
            "revenue_minor": grouped["line_total_minor"].to_numpy(dtype=np.int64),
        }
    )


def top_products(
    lines: pd.DataFrame,
    orders: pd.DataFrame,
    period: Period,
    currency: str | None,
    limit: int = TOP_PRODUCTS,
) -> tuple[TopProduct, ...]:
    """The best-selling line names of the period's completed orders (see product_sums)."""
    sums = product_sums(lines, orders, period, currency)
    return rank_products(
        sums["name"].tolist(), sums["quantity"].tolist(), sums["revenue_minor"].tolist(), limit
    )


def reservation_status_counts(reservations: pd.DataFrame, period: Period) -> dict[str, int]:
    """Reservations starting in the period (``starts_at``), counted by ``status``."""
    if reservations.empty:
        return {}
    starts = epoch_seconds(reservations["starts_at"])
    inside = _day_positions(starts, period) >= 0
    counts = reservations.loc[inside, "status"].astype(str).value_counts()
    return {str(status): int(n) for status, n in counts.items()}


def compute_kpis(
    orders: pd.DataFrame,
    lines: pd.DataFrame,
    reservations: pd.DataFrame,
    period: Period,
    currency: str | None,
) -> KpiFigures:
    """Every figure of ``period`` from orders (export columns), order lines and reservations."""
    return kpi_figures(
        totals_of(aggregate_orders_by_day(orders, period, currency)),
        duration_histogram(orders, period),
        top_products(lines, orders, period, currency),
        reservation_status_counts(reservations, period),
        currency,
    )


def daily_series(orders: pd.DataFrame, period: Period) -> pd.DataFrame:
    """Per local day of the period: placed, completed, conversion_rate and csat_avg (NaN: none)."""
    days = aggregate_orders_by_day(orders, period, None)
    placed = days["placed"].astype(float)
    responses = days["csat_responses"].astype(float)
    return pd.DataFrame(
        {
            "placed": days["placed"],
            "completed": days["completed"],
            "conversion_rate": (days["completed"] * 100 / placed.where(placed > 0)),
            "csat_avg": days["csat_sum"] / responses.where(responses > 0),
        },
        index=days.index,
    )


def build_report(
    orders: pd.DataFrame,
    lines: pd.DataFrame,
    reservations: pd.DataFrame,
    period: Period,
    *,
    store: StoreRef | None,
    stores: Sequence[StoreRef],
    currency: str | None,
) -> StatsReport:
    """A whole StatsReport (period, previous period, daily series) from DataFrames."""
    previous = period.previous()
    days = aggregate_orders_by_day(orders, period, currency)
    current = kpi_figures(
        totals_of(days),
        duration_histogram(orders, period),
        top_products(lines, orders, period, currency),
        reservation_status_counts(reservations, period),
        currency,
    )
    return StatsReport(
        period=period,
        previous_period=previous,
        store=store,
        stores=tuple(stores),
        currency=currency,
        current=current,
        previous=compute_kpis(orders, lines, reservations, previous, currency),
        daily=daily_points(days),
    )


def choose_currency(currencies: Sequence[str]) -> str | None:
    """The most common of the stores' currencies (ties: alphabetical first); None if none."""
    if not currencies:
        return None
    counts: dict[str, int] = {}
    for code in currencies:
        counts[code] = counts.get(code, 0) + 1
    return min(counts, key=lambda code: (-counts[code], code))
