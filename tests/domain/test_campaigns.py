"""Push campaign rules: per-segment policy, deep link, frequency cap, weekly slot, settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics.rfm import SEGMENTS
from domain.campaigns import (
    DEFAULT_POLICY,
    PUSH_KINDS,
    WEEKDAYS,
    campaign_payload,
    next_weekly_slot,
    parse_campaign_payload,
    parse_policy,
    push_allowed,
)
from domain.stores import StoreSettings

# --------------------------------------------------------------------------- policy


def test_every_segment_of_both_models_has_a_default_kind() -> None:
    segments = {s.id for model in SEGMENTS.values() for s in model}
    assert set(DEFAULT_POLICY) == segments
    assert set(DEFAULT_POLICY.values()) <= set(PUSH_KINDS)


def test_an_empty_policy_is_the_default_and_entries_override_it() -> None:
    assert parse_policy("") == dict(DEFAULT_POLICY)
    assert parse_policy(" , ") == dict(DEFAULT_POLICY)

    policy = parse_policy(" general_winback=none , champions=bestsellers,")

    assert policy["general_winback"] == "none"
    assert policy["champions"] == "bestsellers"
    changed = {k for k in policy if policy[k] != DEFAULT_POLICY[k]}
    assert changed == {"general_winback", "champions"}


def test_the_last_of_two_entries_for_a_segment_wins() -> None:
    assert parse_policy("loyal=none,loyal=winback")["loyal"] == "winback"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("general_winback", "'general_winback' is not segment=kind"),
        ("general_winback=", "is not segment=kind"),
        ("=none", "is not segment=kind"),
        ("General_Winback=none", "is not segment=kind"),
        ("general_winback = none", "is not segment=kind"),
        ("general_winback=none=none", "is not segment=kind"),
        ("loyal=none;champions=none", "is not segment=kind"),
        ("vip=recommended", "unknown segment 'vip'"),
        ("champions=nothing", "kind must be one of recommended, new_arrivals"),
        ("champions=none,general_winback=winbak", "kind must be one of"),
    ],
)
def test_a_bad_policy_entry_is_refused_by_name(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="push_policy") as refused:
        parse_policy(text)
    assert message in str(refused.value)


# --------------------------------------------------------------------------- deep link


TOO_LONG = "p" + "9" * 13  # over 12 digits


@pytest.mark.parametrize("campaign_id", [1, 7, 42, 999_999_999_999])
def test_the_campaign_payload_round_trips(campaign_id: int) -> None:
    payload = campaign_payload(campaign_id)
    assert payload == f"p{campaign_id}"
    assert len(payload) <= 64, "Telegram's /start payload limit"
    assert parse_campaign_payload(payload) == campaign_id


@pytest.mark.parametrize(
    "payload",
    ["", "p", "p0", "p01", "P1", "p-1", "p1x", "pp1", " p1", "p 1", "p1.5", "scentral", TOO_LONG],
)
def test_anything_else_is_not_a_campaign_link(payload: str) -> None:
    assert parse_campaign_payload(payload) is None


# --------------------------------------------------------------------------- frequency cap

NOW = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)


def test_a_customer_never_pushed_may_be_pushed() -> None:
    assert push_allowed(None, NOW, 7)


@pytest.mark.parametrize(
    ("ago", "allowed"),
    [
        (timedelta(days=7), True),
        (timedelta(days=7, microseconds=1), True),
        (timedelta(days=7) - timedelta(microseconds=1), False),
        (timedelta(days=6, hours=23, minutes=59), False),
        (timedelta(0), False),
        (timedelta(days=-1), False),  # a push stamped in the future (clock skew) still counts
        (timedelta(days=400), True),
    ],
)
def test_the_cap_opens_exactly_min_days_after_the_last_push(ago: timedelta, allowed: bool) -> None:
    assert push_allowed(NOW - ago, NOW, 7) is allowed


def test_the_cap_follows_the_store_setting() -> None:
    last = NOW - timedelta(days=1)
    assert push_allowed(last, NOW, 1)
    assert not push_allowed(last, NOW, 2)


# --------------------------------------------------------------------------- weekly slot


def _utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("after", "weekday", "at", "timezone", "slot"),
    [
        # Monday 17:30 in Shanghai: this Monday's 11:00 has passed, so next Monday's.
        (_utc(2026, 5, 4, 9, 30), "mon", "11:00", "Asia/Shanghai", _utc(2026, 5, 11, 3, 0)),
        (_utc(2026, 5, 4, 9, 30), "tue", "11:00", "Asia/Shanghai", _utc(2026, 5, 5, 3, 0)),
        (_utc(2026, 5, 4, 9, 30), "mon", "18:00", "Asia/Shanghai", _utc(2026, 5, 4, 10, 0)),
        # strictly after: exactly at the slot gives the next week's
        (_utc(2026, 5, 4, 3, 0), "mon", "11:00", "Asia/Shanghai", _utc(2026, 5, 11, 3, 0)),
        (_utc(2026, 5, 4, 2, 59), "mon", "11:00", "Asia/Shanghai", _utc(2026, 5, 4, 3, 0)),
        # the weekday is the store's: Sunday 20:00 UTC is already Monday in Shanghai
        (_utc(2026, 5, 3, 20, 0), "mon", "11:00", "Asia/Shanghai", _utc(2026, 5, 4, 3, 0)),
        (_utc(2026, 5, 3, 20, 0), "sun", "23:00", "Asia/Shanghai", _utc(2026, 5, 10, 15, 0)),
        # half-hour and date-line zones without DST
        (_utc(2026, 5, 4, 0, 0), "mon", "09:15", "Asia/Kolkata", _utc(2026, 5, 4, 3, 45)),
        (_utc(2026, 5, 3, 12, 0), "mon", "11:00", "Pacific/Kiritimati", _utc(2026, 5, 3, 21, 0)),
        (_utc(2026, 5, 4, 12, 0), "mon", "11:00", "Pacific/Pago_Pago", _utc(2026, 5, 4, 22, 0)),
        (_utc(2026, 5, 4, 12, 0), "sun", "00:00", "UTC", _utc(2026, 5, 10, 0, 0)),
        # across a DST change the local time is kept, not the UTC offset
        (_utc(2026, 3, 6, 12, 0), "mon", "09:00", "America/New_York", _utc(2026, 3, 9, 13, 0)),
        (_utc(2026, 10, 30, 12, 0), "mon", "09:00", "Europe/Berlin", _utc(2026, 11, 2, 8, 0)),
    ],
)
def test_the_next_weekly_slot_is_the_stores_weekday_and_time(
    after: datetime, weekday: str, at: str, timezone: str, slot: datetime
) -> None:
    found = next_weekly_slot(after, weekday, at, timezone)
    assert found == slot
    assert found.utcoffset() == timedelta(0), "returned in the caller's zone (UTC)"


@given(
    after=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
    ),
    weekday=st.sampled_from(WEEKDAYS),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    timezone=st.sampled_from(
        ["Asia/Shanghai", "Asia/Kolkata", "Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC"]
    ),
)
def test_a_weekly_slot_is_within_the_coming_week_at_the_local_time(
    after: datetime, weekday: str, hour: int, minute: int, timezone: str
) -> None:
    slot = next_weekly_slot(after, weekday, f"{hour:02d}:{minute:02d}", timezone)

    assert after < slot <= after + timedelta(days=7)
    local = slot.astimezone(ZoneInfo(timezone))
    assert (WEEKDAYS[local.weekday()], local.hour, local.minute, local.second) == (
        weekday,
        hour,
        minute,
        0,
    )


# --------------------------------------------------------------------------- store settings


def test_push_settings_default_to_the_documented_rules() -> None:
    settings = StoreSettings()
    assert (settings.push_policy, settings.push_min_days) == ("", 7)
    assert (settings.push_quiet_start, settings.push_quiet_end) == ("21:00", "10:00")
    assert (settings.push_weekly, settings.push_weekly_day, settings.push_weekly_time) == (
        False,
        "mon",
        "11:00",
    )
    assert (settings.push_winback_offer, settings.rfm_model) == ("", "classic8")


def test_push_settings_round_trip_through_json() -> None:
    data = StoreSettings(
        push_policy="general_winback=none",
        push_min_days=14,
        push_quiet_start="22:30",
        push_quiet_end="08:00",
        push_winback_offer="Code HELLO: 10% off",
        push_weekly=True,
        push_weekly_day="fri",
        push_weekly_time="16:45",
        rfm_model="quintile",
    ).to_json()
    assert StoreSettings.from_json(data).to_json() == data
    assert StoreSettings(push_min_days=1).push_min_days == 1
    assert StoreSettings(push_min_days=90).push_min_days == 90
    assert StoreSettings(push_winback_offer="x" * 200).push_winback_offer == "x" * 200


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"push_min_days": 0}, "push_min_days must be an integer in 1..90"),
        ({"push_min_days": 91}, "push_min_days must be an integer in 1..90"),
        ({"push_min_days": True}, "push_min_days must be an integer in 1..90"),
        ({"push_min_days": "7"}, "push_min_days must be an integer in 1..90"),
        ({"push_min_days": 7.0}, "push_min_days must be an integer in 1..90"),
        ({"push_policy": 5}, "push_policy must be text"),
        ({"push_policy": "vip=none"}, "unknown segment 'vip'"),
        ({"push_policy": "loyal=spam"}, "kind must be one of"),
        ({"push_quiet_start": "25:00"}, "push_quiet_start must be a time of day"),
        ({"push_quiet_start": "9:00"}, "push_quiet_start must be a time of day"),
        ({"push_quiet_end": ""}, "push_quiet_end must be a time of day"),
        ({"push_quiet_end": 2100}, "push_quiet_end must be a time of day"),
        ({"push_weekly": "yes"}, "push_weekly must be true or false"),
        ({"push_weekly": 1}, "push_weekly must be true or false"),
        ({"push_weekly_day": "monday"}, "push_weekly_day must be one of mon, tue"),
        ({"push_weekly_day": "Mon"}, "push_weekly_day must be one of"),
        ({"push_weekly_time": "11:60"}, "push_weekly_time must be a time of day"),
        ({"push_weekly_time": "11:00:00"}, "push_weekly_time must be a time of day"),
        ({"push_winback_offer": "x" * 201}, "push_winback_offer must be text of at most 200"),
        ({"push_winback_offer": 10}, "push_winback_offer must be text"),
        ({"rfm_model": "kmeans"}, "rfm_model must be classic8 or quintile"),
        ({"push_weekly_days": "mon"}, "unknown store settings: push_weekly_days"),
    ],
)
def test_bad_push_settings_are_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as refused:
        StoreSettings.from_json(values)
    assert message in str(refused.value)
