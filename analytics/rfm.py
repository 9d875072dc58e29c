"""RFM segmentation per customer: pure pandas / numpy over DataFrames, no per-row Python.

Input: completed orders, one row each, with ``customer_id``, ``date`` (a calendar date or a
timestamp; only the day counts) and ``amount``. As of a day ``as_of`` (after or on the last
order's day), per customer:

- ``recency_days`` = ``as_of`` - day of the last order, in days;
- ``frequency`` = number of orders;
- ``monetary`` = sum of ``amount``.

Models:

- ``classic8`` (default): R is high (1) when recency_days < the mean over customers, F when
  frequency > the mean, M when monetary > the mean, else low (0). A value equal to the mean is
  low, so when everybody has the same value nobody is high. Recency and frequency compare exactly
  in integers (``x * n`` against the sum); monetary in float64. The eight segments are
  ``CLASSIC8_SEGMENTS``. Thresholds: the three means.
- ``quintile``: each of R, F, M scored 1-5 (5 best; recency negated so that more recent = higher)
  by the mid-rank percentile of its tie group: a value held by customers ranked ``a+1 .. a+c``
  of ``n`` gets ``p = (a + c / 2) / n`` and score ``floor(5 p) + 1``. Equal values always share a
  score (unlike ``rank(method="first")``, which splits ties arbitrarily) and without ties it is
  the usual equal-count quintile. Heavy ties (most customers bought once) would leave some scores
  empty, so when there are at least five distinct values the map from sorted distinct values to
  scores is clamped to move at most one score per step and to start at 1 and end at 5: every
  score 1-5 is then used; tie-free data is unchanged by that. FM = ceil((F + M) / 2); the ten
  segments (``QUINTILE_SEGMENTS``) over (R, FM) are the widely used map (R on the first axis,
  F-M on the second; "Lost" is folded into hibernating), covering each of the 25 cells once, so
  every (R, F, M) has exactly one segment. Thresholds: per score the [lowest, highest] value
  that got it (``None`` when no customer did).

    R \\ FM   1                2                   3                   4           5
    5         new_customers    potential_loyalist  potential_loyalist  champions   champions
    4         promising        potential_loyalist  potential_loyalist  loyal       loyal
    3         about_to_sleep   about_to_sleep      need_attention      loyal       loyal
    1, 2      hibernating      hibernating         at_risk             at_risk     cant_lose
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

Model = Literal["classic8", "quintile"]
MODELS: tuple[Model, ...] = ("classic8", "quintile")
METRICS = ("recency_days", "frequency", "monetary")
CUSTOMER_COLUMNS = (
    "customer_id",
    "recency_days",
    "frequency",
    "monetary",
    "r",
    "f",
    "m",
    "segment",
)


@dataclass(frozen=True)
class Segment:
    """A segment id with its English and Chinese names."""

    id: str
    en: str
    zh: str


CLASSIC8_SEGMENTS = (
    Segment("important_value", "Important value", "重要价值客户"),  # R high, F high, M high
    Segment("important_develop", "Important develop", "重要发展客户"),  # R high, F low, M high
    Segment("important_retain", "Important retain", "重要保持客户"),  # R low, F high, M high
    Segment("important_winback", "Important win-back", "重要挽留客户"),  # R low, F low, M high
    Segment("general_value", "General value", "一般价值客户"),  # R high, F high, M low
    Segment("general_develop", "General develop", "一般发展客户"),  # R high, F low, M low
    Segment("general_retain", "General retain", "一般保持客户"),  # R low, F high, M low
    Segment("general_winback", "General win-back", "一般挽留客户"),  # R low, F low, M low
)
# CLASSIC8_BY_BITS[R * 4 + F * 2 + M] (1 = high) = segment id.
CLASSIC8_BY_BITS = (
    "general_winback",
    "important_winback",
    "general_retain",
    "important_retain",
    "general_develop",
    "important_develop",
    "general_value",
    "important_value",
)

QUINTILE_SEGMENTS = (
    Segment("champions", "Champions", "冠军客户"),
    Segment("loyal", "Loyal", "忠诚客户"),
    Segment("potential_loyalist", "Potential Loyalist", "潜在忠诚客户"),
    Segment("new_customers", "New Customers", "新客户"),
    Segment("promising", "Promising", "有潜力客户"),
    Segment("need_attention", "Need Attention", "需要关注客户"),
    Segment("about_to_sleep", "About To Sleep", "即将沉睡客户"),
    Segment("at_risk", "At Risk", "有流失风险客户"),
    Segment("cant_lose", "Can't Lose Them", "不能失去的客户"),
    Segment("hibernating", "Hibernating", "休眠客户"),
)

# QUINTILE_GRID[r - 1][fm - 1] = segment id: the table in the module docstring.
QUINTILE_GRID = (
    ("hibernating", "hibernating", "at_risk", "at_risk", "cant_lose"),
    ("hibernating", "hibernating", "at_risk", "at_risk", "cant_lose"),
    ("about_to_sleep", "about_to_sleep", "need_attention", "loyal", "loyal"),
    ("promising", "potential_loyalist", "potential_loyalist", "loyal", "loyal"),
    ("new_customers", "potential_loyalist", "potential_loyalist", "champions", "champions"),
)

SEGMENTS: Mapping[Model, tuple[Segment, ...]] = {
    "classic8": CLASSIC8_SEGMENTS,
    "quintile": QUINTILE_SEGMENTS,
}

IntArray = npt.NDArray[np.int64]


class RfmError(ValueError):
    """Input RFM cannot be computed from (an as-of day before an order, a bad column)."""


@dataclass(frozen=True)
class RfmResult:
    """Per-customer RFM, the thresholds used and the number of customers per segment."""

    as_of: date
    model: Model
    customers: pd.DataFrame  # CUSTOMER_COLUMNS, sorted by customer_id
    thresholds: dict[str, Any]
    counts: dict[str, int]  # every segment id of the model, in the model's order

    def to_json(self) -> dict[str, Any]:
        """The `o2o rfm --json` object."""
        return {
            "as_of": self.as_of.isoformat(),
            "model": self.model,
            "customers": len(self.customers),
            "thresholds": self.thresholds,
            "segments": dict(self.counts),
        }


def summarize_orders(orders: pd.DataFrame) -> pd.DataFrame:
    """Per customer: ``last_date`` (datetime64 day), ``frequency`` and ``monetary``."""
    missing = {"customer_id", "date", "amount"} - set(orders.columns)
    if missing:
        raise RfmError(f"orders lack column(s): {', '.join(sorted(missing))}")
    days = pd.to_datetime(orders["date"]).dt.tz_localize(None).dt.normalize()
    frame = pd.DataFrame(
        {
            "customer_id": orders["customer_id"].to_numpy(),
            "day": days.to_numpy(),
            "amount": pd.to_numeric(orders["amount"]).astype("float64").to_numpy(),
        }
    )
    grouped = frame.groupby("customer_id", sort=True)
    return pd.DataFrame(
        {
            "last_date": grouped["day"].max(),
            "frequency": grouped.size().astype("int64"),
            "monetary": grouped["amount"].sum(),
        }
    ).reset_index()


def default_as_of(summary: pd.DataFrame) -> date | None:
    """The day after the last order, or None when there are no orders."""
    if summary.empty:
        return None
    last: date = pd.Timestamp(summary["last_date"].max()).date()
    return last + timedelta(days=1)


def compute_rfm(orders: pd.DataFrame, as_of: date, model: Model = "classic8") -> RfmResult:
    """RFM of the customers in ``orders`` (one row per completed order) as of ``as_of``."""
    return rfm_from_summary(summarize_orders(orders), as_of, model)


def rfm_from_summary(summary: pd.DataFrame, as_of: date, model: Model = "classic8") -> RfmResult:
    """RFM from per-customer ``last_date``, ``frequency``, ``monetary`` (``summarize_orders``)."""
    if model not in MODELS:
        raise RfmError(f"unknown model {model!r} (one of {', '.join(MODELS)})")
    summary = summary.sort_values("customer_id", kind="stable").reset_index(drop=True)
    last = pd.to_datetime(summary["last_date"]).dt.tz_localize(None).dt.normalize()
    recency: IntArray = np.asarray((pd.Timestamp(as_of) - last).dt.days, dtype=np.int64)
    if len(recency) and recency.min() < 0:
        latest = pd.Timestamp(last.max()).date().isoformat()
        raise RfmError(f"as-of {as_of.isoformat()} is before the last order ({latest})")
    frequency: IntArray = summary["frequency"].to_numpy(dtype=np.int64)
    monetary = summary["monetary"].to_numpy(dtype=np.float64)
    if model == "classic8":
        r, f, m, segment, thresholds = _classic8(recency, frequency, monetary)
    else:
        r, f, m, segment, thresholds = _quintile(recency, frequency, monetary)
    ids = [s.id for s in SEGMENTS[model]]
    customers = pd.DataFrame(
        {
            "customer_id": summary["customer_id"].to_numpy(),
            "recency_days": recency,
            "frequency": frequency,
            "monetary": monetary,
            "r": r,
            "f": f,
            "m": m,
            "segment": pd.Categorical(segment, categories=ids),
        }
    )
    per_segment = customers["segment"].value_counts(sort=False)
    counts = {name: int(per_segment.get(name, 0)) for name in ids}
    return RfmResult(as_of, model, customers, thresholds, counts)


def _classic8(
    recency: IntArray, frequency: IntArray, monetary: npt.NDArray[np.float64]
) -> tuple[IntArray, IntArray, IntArray, npt.NDArray[np.object_], dict[str, Any]]:
    n = len(recency)
    # Integer comparison against the sum: exact, no rounding of the mean at the boundary.
    r = (recency * n < recency.sum()).astype(np.int64)
    f = (frequency * n > frequency.sum()).astype(np.int64)
    m_mean = float(monetary.mean()) if n else 0.0
    m = (monetary > m_mean).astype(np.int64)
    names = np.array(CLASSIC8_BY_BITS, dtype=object)
    segment = names[r * 4 + f * 2 + m]
    thresholds = {
        "recency_days_mean": float(recency.mean()) if n else None,
        "frequency_mean": float(frequency.mean()) if n else None,
        "monetary_mean": m_mean if n else None,
    }
    return r, f, m, segment, thresholds


def quintile_scores(values: npt.ArrayLike) -> IntArray:
    """1-5 per value, higher value = higher score; ties share a score (see module docstring)."""
    array = np.asarray(values)
    n = len(array)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    distinct, inverse, counts = np.unique(array, return_inverse=True, return_counts=True)
    before = np.cumsum(counts) - counts
    score = np.floor(5 * (before + counts / 2) / n).astype(np.int64) + 1
    score = np.clip(score, 1, 5)
    k = len(distinct)
    if k >= 5:
        j = np.arange(1, k + 1, dtype=np.int64)
        low = np.maximum(1, 5 - (k - j))  # room left for the higher scores above
        score = np.clip(score, low, np.minimum(5, j))
        # At most one score per step: score_j = j + running min of (score_i - i).
        score = j + np.minimum.accumulate(score - j)
        score = np.maximum(score, low)
    result: IntArray = score[inverse.reshape(-1)]
    return result


def _score_ranges(values: npt.ArrayLike, scores: IntArray) -> dict[str, list[float] | None]:
    """Per score 1-5: [lowest, highest] value that got it, None when none did."""
    frame = pd.DataFrame({"value": np.asarray(values), "score": scores})
    bounds = frame.groupby("score")["value"].agg(["min", "max"])
    return {
        str(s): [_plain(bounds.at[s, "min"]), _plain(bounds.at[s, "max"])]
        if s in bounds.index
        else None
        for s in range(1, 6)
    }


def _plain(value: Any) -> float:
    # round(): a sum of cents read as floats shows as 133.89000000000001 otherwise.
    number = round(float(value), 9)
    return int(number) if number.is_integer() else number


def _quintile(
    recency: IntArray, frequency: IntArray, monetary: npt.NDArray[np.float64]
) -> tuple[IntArray, IntArray, IntArray, npt.NDArray[np.object_], dict[str, Any]]:
    r = quintile_scores(-recency)  # fewer days since the last order = better
    f = quintile_scores(frequency)
    m = quintile_scores(monetary)
    fm = (f + m + 1) // 2  # the mean of F and M, halves rounded up
    grid = np.array(QUINTILE_GRID, dtype=object)
    segment = grid[r - 1, fm - 1] if len(r) else np.array([], dtype=object)
    thresholds = {
        "recency_days": _score_ranges(recency, r),
        "frequency": _score_ranges(frequency, f),
        "monetary": _score_ranges(monetary, m),
    }
    return r, f, m, segment, thresholds
