"""Period strings: local days of a time zone as half-open UTC intervals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest

from analytics.periods import MAX_DAYS, PeriodError, parse_period

# 01:30 UTC on 2026-05-04 is already 09:30 on the 4th in Shanghai but 21:30 on the 3rd in New York.
NOW = datetime(2026, 5, 4, 1, 30, tzinfo=UTC)


def test_today_is_the_local_day_containing_now() -> None:
    shanghai = parse_period("today", "Asia/Shanghai", NOW)
    new_york = parse_period("today", "America/New_York", NOW)

    assert (shanghai.first_day, shanghai.last_day) == (date(2026, 5, 4), date(2026, 5, 4))
    assert shanghai.start == datetime(2026, 5, 3, 16, 0, tzinfo=UTC)
    assert shanghai.end == datetime(2026, 5, 4, 16, 0, tzinfo=UTC)
    assert new_york.first_day == date(2026, 5, 3)
    assert new_york.start == datetime(2026, 5, 3, 4, 0, tzinfo=UTC)


def test_n_days_are_the_last_n_local_days_including_today() -> None:
    period = parse_period(" 7D ", "Asia/Shanghai", NOW)

    assert period.label == "7d"
    assert (period.first_day, period.last_day) == (date(2026, 4, 28), date(2026, 5, 4))
    assert period.n_days == 7
    assert period.end - period.start == timedelta(days=7)
    assert period.contains(datetime(2026, 4, 27, 16, 0, tzinfo=UTC))
    assert not period.contains(datetime(2026, 4, 27, 15, 59, 59, tzinfo=UTC))
    assert not period.contains(period.end)


def test_a_date_range_includes_both_days() -> None:
    period = parse_period("2026-05-01..2026-05-31", "UTC", NOW)

    assert period.n_days == 31
    assert period.start == datetime(2026, 5, 1, tzinfo=UTC)
    assert period.end == datetime(2026, 6, 1, tzinfo=UTC)
    assert period.range_text == "2026-05-01..2026-05-31"


def test_the_previous_period_has_the_same_number_of_days_just_before() -> None:
    previous = parse_period("30d", "Asia/Shanghai", NOW).previous()

    assert previous.n_days == 30
    assert previous.last_day == date(2026, 4, 4)
    assert previous.end == parse_period("30d", "Asia/Shanghai", NOW).start
    assert previous.label == "2026-03-06..2026-04-04"


def test_days_follow_daylight_saving_changes() -> None:
    period = parse_period("2026-03-28..2026-03-30", "Europe/Berlin", NOW)

    bounds = period.day_bounds()

    assert [b.hour for b in bounds] == [23, 23, 22, 22]
    assert [(b - a).total_seconds() / 3600 for a, b in pairwise(bounds)] == [24, 23, 24]
    assert period.previous().n_days == 3


@pytest.mark.parametrize(
    "text",
    ["", "yesterday", "0d", f"{MAX_DAYS + 1}d", "7", "-7d", "2026-05-01", "2026-05-01..",
     "2026-02-30..2026-03-01", "2026-05-02..2026-05-01", "2000-01-01..2030-01-01"],
)  # fmt: skip
def test_bad_periods_are_refused_naming_the_accepted_forms(text: str) -> None:
    with pytest.raises(PeriodError) as caught:
        parse_period(text, "UTC", NOW)

    message = str(caught.value)
    assert "\n" not in message
    assert repr(text) in message or "time zone" in message
    if text in ("", "yesterday", "7", "2026-05-01"):
        assert "today, Nd" in message
        assert "YYYY-MM-DD..YYYY-MM-DD" in message


def test_the_largest_period_is_accepted() -> None:
    assert parse_period(f"{MAX_DAYS}d", "UTC", NOW).n_days == MAX_DAYS


def test_an_unknown_time_zone_and_a_naive_now_are_refused() -> None:
    with pytest.raises(PeriodError, match="time zone"):
        parse_period("7d", "Mars/Olympus", NOW)
    with pytest.raises(ValueError, match="aware"):
        parse_period("7d", "UTC", datetime(2026, 5, 4))
