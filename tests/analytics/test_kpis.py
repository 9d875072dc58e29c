"""KPIs from DataFrames, against the hand-computed figures of tests/analytics/sample.py."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pandas as pd
import pytest

from analytics.kpis import (
    FIGURE_KEYS,
    KpiFigures,
    aggregate_orders_by_day,
    build_report,
    choose_currency,
    compute_kpis,
    daily_series,
    epoch_seconds,
    median_minutes,
    round_half_up,
)
from analytics.periods import Period
from tests.analytics import sample

EMPTY_LINES = pd.DataFrame(columns=["order_id", "name", "quantity", "line_total_minor"])
EMPTY_RESERVATIONS = pd.DataFrame(columns=["starts_at", "status"])


def assert_figures(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    """Exact for ints, lists and None; floats to the last bit but for summation order."""
    assert set(actual) == set(expected)
    for key, value in expected.items():
        if isinstance(value, float):
            assert actual[key] == pytest.approx(value, rel=1e-12), key
        else:
            assert actual[key] == value, key


def figures_json(figures: Any) -> dict[str, Any]:
    """Figures as JSON but unrounded, to compare with hand-computed floats."""
    out = {key: getattr(figures, key) for key in FIGURE_KEYS}
    out["top_products"] = [p.to_json() for p in figures.top_products]
    return out


def current_report() -> Any:
    return build_report(
        sample.orders_frame(),
        sample.lines_frame(),
        sample.reservations_frame(),
        sample.PERIOD,
        store=None,
        stores=sample.STORES,
        currency="CNY",
    )


def test_mixed_statuses_give_the_hand_computed_figures() -> None:
    figures = compute_kpis(
        sample.orders_frame(),
        sample.lines_frame(),
        sample.reservations_frame(),
        sample.PERIOD,
        "CNY",
    )

    assert_figures(figures_json(figures), sample.EXPECTED)
    assert figures.other_currency_orders == 1


def test_the_previous_period_is_computed_the_same_way_for_the_deltas() -> None:
    report = current_report()

    assert report.previous_period.range_text == "2026-05-01..2026-05-03"
    assert_figures(figures_json(report.previous), sample.EXPECTED_PREVIOUS)
    assert report.current.orders_placed - report.previous.orders_placed == 5
    assert report.current.revenue_minor - report.previous.revenue_minor == 6000


def test_json_rounds_floats_to_two_decimals_and_keeps_the_contract_keys() -> None:
    document = current_report().to_json()

    assert list(document)[: len(FIGURE_KEYS)] == list(FIGURE_KEYS)
    assert set(document) == {*FIGURE_KEYS, "period", "store", "previous"}
    assert set(document["previous"]) == {*FIGURE_KEYS, "period"}
    assert document["conversion_rate"] == 57.14
    assert document["accept_minutes"] == 4.17
    assert document["no_show_rate"] == 33.33
    assert document["store"] is None
    assert document["period"] == {
        "label": "2026-05-04..2026-05-06",
        "from": "2026-05-04",
        "to": "2026-05-06",
        "timezone": "Asia/Shanghai",
        "start": "2026-05-03T16:00:00Z",
        "end": "2026-05-06T16:00:00Z",
    }


def test_an_order_still_open_at_the_end_counts_as_placed_but_not_completed() -> None:
    only_open = sample.orders_frame()
    only_open = only_open[only_open["order_id"] == 6]

    lines = sample.lines_frame()
    figures = compute_kpis(only_open, lines, EMPTY_RESERVATIONS, sample.PERIOD, "CNY")

    assert (figures.orders_placed, figures.orders_completed) == (1, 0)
    assert figures.conversion_rate == 0.0
    assert figures.apt_minutes is None
    assert figures.apt_median_minutes is None
    assert figures.accept_minutes == 3.0
    assert figures.top_products == ()
    assert figures.avg_order_value_minor is None


def test_an_order_placed_on_the_last_second_belongs_to_the_period_and_on_the_end_to_the_next() -> (
    None
):
    orders = sample.orders_frame()
    edge = orders[orders["order_id"].isin([5, 7])]

    figures = compute_kpis(edge, EMPTY_LINES, EMPTY_RESERVATIONS, sample.PERIOD, "CNY")

    assert figures.orders_placed == 1, "order 5 at 15:59:59Z in, order 7 at 16:00:00Z out"
    assert figures.apt_minutes == 31.0, "completed after the period's end: still its cohort"


def test_a_store_with_no_surveys_has_no_csat_and_no_response_rate() -> None:
    river = sample.orders_frame("river")

    figures = compute_kpis(
        river, sample.lines_frame(), sample.reservations_frame("river"), sample.PERIOD, "CNY"
    )

    assert (figures.orders_placed, figures.orders_rejected) == (2, 1)
    assert figures.csat_avg is None
    assert figures.csat_share_4_5 is None
    assert figures.csat_responses == 0
    assert figures.survey_response_rate is None
    assert (figures.reservations, figures.no_show_rate) == (1, 0.0)


def test_an_empty_period_has_zero_counts_and_null_rates() -> None:
    quiet = Period(
        label="2027-01-01..2027-01-07",
        first_day=date(2027, 1, 1),
        last_day=date(2027, 1, 7),
        timezone=sample.TZ,
    )

    report = build_report(
        sample.orders_frame(),
        sample.lines_frame(),
        sample.reservations_frame(),
        quiet,
        store=None,
        stores=sample.STORES,
        currency="CNY",
    )
    document = report.to_json()

    counts = ("orders_placed", "orders_completed", "csat_responses", "revenue_minor")
    assert [document[key] for key in counts] == [0, 0, 0, 0]
    rates = ("conversion_rate", "apt_minutes", "apt_median_minutes", "accept_minutes", "csat_avg")
    assert [document[key] for key in rates] == [None] * 5
    assert document["avg_order_value_minor"] is None
    assert document["no_show_rate"] is None
    assert document["top_products"] == []
    assert len(report.daily) == 7
    assert all(point.placed == 0 and point.conversion_rate is None for point in report.daily)


def test_frames_with_no_rows_at_all_are_an_empty_period() -> None:
    empty = sample.orders_frame().iloc[0:0]

    figures = compute_kpis(empty, EMPTY_LINES, EMPTY_RESERVATIONS, sample.PERIOD, None)

    assert figures == KpiFigures(), "zero counts, null rates, no products"


def test_the_daily_series_counts_orders_by_local_day() -> None:
    series = daily_series(sample.orders_frame(), sample.PERIOD)
    points = current_report().daily

    assert [p.day.isoformat() for p in points] == [d for d, *_ in sample.EXPECTED_DAILY]
    for point, expected in zip(points, sample.EXPECTED_DAILY, strict=True):
        _, placed, completed, rate, csat = expected
        assert (point.placed, point.completed) == (placed, completed)
        assert point.conversion_rate == pytest.approx(rate)
        assert point.csat_avg == csat
    assert series["placed"].tolist() == [2, 3, 2]
    assert series["conversion_rate"].tolist() == pytest.approx([100.0, 100 / 3, 50.0])
    assert series["csat_avg"].iloc[0] == 4.0
    assert math.isnan(series["csat_avg"].iloc[1])


def test_iso_strings_and_naive_times_are_read_as_utc_and_floored_to_the_second() -> None:
    values = pd.Series(["2026-05-04 09:30:00.999999", None, "2026-05-04T09:30:01Z"])

    seconds = epoch_seconds(values)

    assert seconds.iloc[0] == 1_777_887_000
    assert pd.isna(seconds.iloc[1])
    assert seconds.iloc[2] == 1_777_887_001


def test_day_sums_from_string_times_equal_those_from_datetimes() -> None:
    frame = sample.orders_frame()
    as_text = frame.copy()
    for name in ("placed_at", "accepted_at", "completed_at"):
        as_text[name] = frame[name].map(lambda v: "" if pd.isna(v) else v.isoformat())
        as_text[name] = as_text[name].replace("", None)

    pd.testing.assert_frame_equal(
        aggregate_orders_by_day(as_text, sample.PERIOD, "CNY"),
        aggregate_orders_by_day(frame, sample.PERIOD, "CNY"),
    )


@pytest.mark.parametrize(
    ("histogram", "expected"),
    [
        ({60: 1}, 1.0),
        ({60: 1, 120: 1}, 1.5),
        ({60: 2, 600: 1}, 1.0),
        ({60: 1, 120: 1, 600: 2}, 6.0),
        ({}, None),
    ],
)
def test_the_median_is_exact_from_a_histogram(
    histogram: dict[int, int], expected: float | None
) -> None:
    assert median_minutes(pd.Series(histogram, dtype="int64")) == expected


def test_average_order_value_rounds_half_up_in_integers() -> None:
    assert round_half_up(5, 2) == 3
    assert round_half_up(7, 2) == 4
    assert round_half_up(8000, 3) == 2667
    assert round_half_up(10**18 + 1, 2) == 5 * 10**17 + 1
    assert round_half_up(1, 0) is None


def test_the_report_currency_is_the_most_common_one_among_the_stores() -> None:
    assert choose_currency(["CNY", "USD", "CNY"]) == "CNY"
    assert choose_currency(["USD", "EUR"]) == "EUR", "a tie goes to the first alphabetically"
    assert choose_currency([]) is None
