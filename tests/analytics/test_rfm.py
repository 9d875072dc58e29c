"""RFM per customer: hand fixtures with ties, one customer, equal values, empty input, models."""

from __future__ import annotations

import itertools
from datetime import date

import numpy as np
import pandas as pd
import pytest

from analytics.rfm import (
    CLASSIC8_SEGMENTS,
    CUSTOMER_COLUMNS,
    QUINTILE_GRID,
    QUINTILE_SEGMENTS,
    RfmError,
    compute_rfm,
    default_as_of,
    quintile_scores,
    rfm_from_summary,
    summarize_orders,
)

AS_OF = date(2026, 6, 1)


def orders(*rows: tuple[int, str, float]) -> pd.DataFrame:
    """Orders from (customer_id, YYYY-MM-DD, amount) tuples."""
    return pd.DataFrame(list(rows), columns=["customer_id", "date", "amount"])


# Customer 1: recent, 3 orders, 300; 2: recent, 1 order, 10; 3: old, 2 orders, 500;
# 4: old, 1 order, 5. Means: recency (1+2+90+90)/4 = 45.75, frequency 7/4, monetary 203.75.
FOUR = orders(
    (1, "2026-05-01", 100.0),
    (1, "2026-05-20", 100.0),
    (1, "2026-05-31", 100.0),
    (2, "2026-05-30", 10.0),
    (3, "2026-03-01", 250.0),
    (3, "2026-03-03", 250.0),
    (4, "2026-03-03", 5.0),
)


def test_recency_frequency_and_monetary_are_per_customer() -> None:
    result = compute_rfm(FOUR, AS_OF)
    frame = result.customers.set_index("customer_id")
    assert list(result.customers.columns) == list(CUSTOMER_COLUMNS)
    assert frame["recency_days"].to_dict() == {1: 1, 2: 2, 3: 90, 4: 90}
    assert frame["frequency"].to_dict() == {1: 3, 2: 1, 3: 2, 4: 1}
    assert frame["monetary"].to_dict() == {1: 300.0, 2: 10.0, 3: 500.0, 4: 5.0}


def test_classic8_compares_each_measure_with_its_mean() -> None:
    result = compute_rfm(FOUR, AS_OF)
    assert result.thresholds == {
        "recency_days_mean": 45.75,
        "frequency_mean": 1.75,
        "monetary_mean": 203.75,
    }
    segments = result.customers.set_index("customer_id")["segment"].astype(str).to_dict()
    assert segments == {
        1: "important_value",  # recent, 3 > 1.75 orders, 300 > 203.75
        2: "general_develop",  # recent, one order, little spent
        3: "important_retain",  # old, 2 > 1.75 orders, 500
        4: "general_winback",
    }


def test_counts_list_every_segment_with_zeros() -> None:
    counts = compute_rfm(FOUR, AS_OF).counts
    assert list(counts) == [s.id for s in CLASSIC8_SEGMENTS]
    assert sum(counts.values()) == 4
    assert counts["important_develop"] == 0


def test_classic8_names_are_the_issues() -> None:
    names = {s.id: s.zh for s in CLASSIC8_SEGMENTS}
    assert names == {
        "important_value": "重要价值客户",
        "important_develop": "重要发展客户",
        "important_retain": "重要保持客户",
        "important_winback": "重要挽留客户",
        "general_value": "一般价值客户",
        "general_develop": "一般发展客户",
        "general_retain": "一般保持客户",
        "general_winback": "一般挽留客户",
    }


def test_all_equal_values_make_nobody_high() -> None:
    same = orders((1, "2026-05-01", 20.0), (2, "2026-05-01", 20.0), (3, "2026-05-01", 20.0))
    result = compute_rfm(same, AS_OF)
    assert result.customers[["r", "f", "m"]].to_numpy().sum() == 0
    assert result.counts["general_winback"] == 3


def test_a_single_customer_is_general_winback_and_mid_quintile() -> None:
    one = orders((7, "2026-05-01", 20.0), (7, "2026-05-02", 30.0))
    assert compute_rfm(one, AS_OF).counts["general_winback"] == 1
    quintile = compute_rfm(one, AS_OF, "quintile").customers
    assert quintile[["r", "f", "m"]].to_numpy().tolist() == [[3, 3, 3]]


def test_timestamps_count_by_their_day() -> None:
    stamped = orders((1, "2026-05-31T23:59:59", 1.0), (2, "2026-05-31T00:00:00", 1.0))
    assert compute_rfm(stamped, AS_OF).customers["recency_days"].tolist() == [1, 1]


def test_as_of_before_an_order_is_refused() -> None:
    with pytest.raises(RfmError, match=r"as-of 2026-05-30 is before the last order \(2026-05-31\)"):
        compute_rfm(FOUR, date(2026, 5, 30))


def test_as_of_on_the_last_orders_day_gives_recency_zero() -> None:
    assert compute_rfm(FOUR, date(2026, 5, 31)).customers["recency_days"].min() == 0


def test_default_as_of_is_the_day_after_the_last_order() -> None:
    assert default_as_of(summarize_orders(FOUR)) == date(2026, 6, 1)
    assert default_as_of(summarize_orders(orders())) is None


@pytest.mark.parametrize("model", ["classic8", "quintile"])
def test_empty_input_gives_zero_counts_and_no_thresholds(model: str) -> None:
    result = compute_rfm(orders(), AS_OF, model)  # type: ignore[arg-type]  # str from params
    assert result.customers.empty
    assert set(result.counts.values()) == {0}
    assert result.to_json()["customers"] == 0
    if model == "classic8":
        assert set(result.thresholds.values()) == {None}
    else:
        assert all(set(v.values()) == {None} for v in result.thresholds.values())


def test_missing_column_is_refused() -> None:
    with pytest.raises(RfmError, match="amount"):
        summarize_orders(pd.DataFrame({"customer_id": [1], "date": ["2026-01-01"]}))


# --------------------------------------------------------------------------- quintiles


def test_quintiles_without_ties_are_equal_count() -> None:
    assert quintile_scores(range(10)).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert quintile_scores([50, 10, 40, 20, 30]).tolist() == [5, 1, 4, 2, 3]


def test_ties_share_a_score() -> None:
    values = [1, 1, 1, 1, 1, 1, 2, 2, 3, 3, 3, 9]
    scores = quintile_scores(values)
    for value in set(values):
        assert len({s for v, s in zip(values, scores, strict=True) if v == value}) == 1


@pytest.mark.parametrize(
    "values",
    [
        [1] * 96 + [2, 3, 4, 5],  # most bought once: the rest still spread over 2-5
        [1] * 50 + [2] * 45 + [3, 4, 5, 6, 7],
        [5, 4, 3, 2, 1],
        [0.5] * 3 + [7.25] * 3 + [1.0, 2.0, 3.0],
        list(range(1000)) + [1000] * 5000,
    ],
)
def test_every_score_is_used_with_five_distinct_values(values: list[float]) -> None:
    scores = quintile_scores(values)
    assert sorted(set(scores.tolist())) == [1, 2, 3, 4, 5]
    order = np.argsort(values, kind="stable")  # higher value never gets a lower score
    assert (np.diff(scores[order]) >= 0).all()


def test_fewer_than_five_distinct_values_score_by_mid_rank() -> None:
    # Mid-rank percentiles 0.25 and 0.75 -> scores 2 and 4.
    assert quintile_scores([1, 1, 2, 2]).tolist() == [2, 2, 4, 4]
    assert quintile_scores([]).tolist() == []


def test_quintile_grid_maps_every_r_f_m_to_one_known_segment() -> None:
    ids = {s.id for s in QUINTILE_SEGMENTS}
    assert len(ids) == 10
    seen = set()
    for r, f, m in itertools.product(range(1, 6), repeat=3):
        segment = QUINTILE_GRID[r - 1][(f + m + 1) // 2 - 1]
        assert segment in ids
        seen.add(segment)
    assert seen == ids


def test_quintile_more_recent_scores_higher() -> None:
    result = compute_rfm(FOUR, AS_OF, "quintile").customers.set_index("customer_id")
    assert result.loc[1, "r"] > result.loc[3, "r"]
    assert result.loc[3, "r"] == result.loc[4, "r"]  # same recency, same score
    assert result.loc[3, "m"] == 5
    assert result.loc[4, "m"] == 1


def test_quintile_thresholds_give_each_scores_value_range() -> None:
    result = compute_rfm(FOUR, AS_OF, "quintile")
    # Frequencies 1, 1, 2, 3: mid-rank percentiles 0.25, 0.625, 0.875 -> scores 2, 4, 5.
    assert result.thresholds["frequency"] == {
        "1": None,
        "2": [1, 1],
        "3": None,
        "4": [2, 2],
        "5": [3, 3],
    }


def test_summary_from_the_database_shape_gives_the_same_result() -> None:
    summary = summarize_orders(FOUR)
    direct = compute_rfm(FOUR, AS_OF, "quintile")
    via = rfm_from_summary(summary.sample(frac=1, random_state=0), AS_OF, "quintile")
    pd.testing.assert_frame_equal(direct.customers, via.customers)


def test_random_tied_data_keeps_ties_together_order_and_all_five_scores() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        values = rng.geometric(rng.uniform(0.05, 0.9), size=int(rng.integers(1, 300)))
        scores = quintile_scores(values)
        order = np.argsort(values, kind="stable")
        assert (np.diff(scores[order]) >= 0).all()
        by_value = pd.Series(scores).groupby(values).nunique()
        assert (by_value == 1).all()
        if len(set(values.tolist())) >= 5:
            assert set(scores.tolist()) == {1, 2, 3, 4, 5}


def test_tie_free_data_gets_plain_mid_rank_quintiles() -> None:
    rng = np.random.default_rng(1)
    for n in (5, 6, 7, 13, 100, 1001):
        values = rng.permutation(n)
        expected = np.floor(5 * (values + 0.5) / n).astype(int) + 1  # value = rank - 1
        assert quintile_scores(values).tolist() == expected.tolist()
