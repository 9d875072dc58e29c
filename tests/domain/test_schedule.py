"""Opening hours: validation, the admin spec syntax, open/closed queries and time slots."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.schedule import (
    WEEKDAYS,
    Interval,
    OpeningHours,
    closes_at,
    format_hours_spec,
    intervals_on,
    is_open,
    next_opening,
    parse_hours_spec,
    pickup_slots,
    reservation_slots,
)

SHANGHAI = "Asia/Shanghai"
BERLIN = "Europe/Berlin"

# 2026-06-01 is a Monday.
CENTRAL = OpeningHours.parse({day: [["07:30", "21:00"]] for day in WEEKDAYS})
RIVERSIDE = OpeningHours.parse(
    {day: [["10:00", "22:00"]] for day in ("tue", "wed", "thu", "fri", "sat")}
)
LUNCH_BREAK = OpeningHours.parse(
    {day: [["08:00", "12:00"], ["14:00", "18:00"]] for day in WEEKDAYS}
)
LATE_BAR = OpeningHours.parse({"fri": [["18:00", "02:00"]], "sat": [["18:00", "02:00"]]})
DAYTIME = OpeningHours.parse({day: [["08:00", "20:00"]] for day in WEEKDAYS})


def at(tz: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An aware instant given by the local wall clock (first occurrence if repeated)."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(tz))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def wall(instants: list[datetime], tz: str) -> list[str]:
    """Local "HH:MM" of each instant, for readable assertions."""
    return [instant.astimezone(ZoneInfo(tz)).strftime("%H:%M") for instant in instants]


# --------------------------------------------------------------------------- parsing


def test_the_stored_json_round_trips_through_parse_and_to_json() -> None:
    data = {"mon": [["07:30", "21:00"]], "sat": [["09:00", "13:00"], ["14:00", "18:00"]]}

    assert OpeningHours.parse(data).to_json() == data


def test_an_end_before_the_start_runs_past_midnight_into_the_next_day() -> None:
    hours = OpeningHours.parse({"fri": [["18:00", "02:00"]]})

    assert hours.on("fri") == (Interval(18 * 60, 26 * 60),)
    assert hours.on("fri")[0].past_midnight
    assert hours.to_json() == {"fri": [["18:00", "02:00"]]}


def test_twenty_four_hundred_is_allowed_as_an_end() -> None:
    hours = OpeningHours.parse({"mon": [["00:00", "24:00"]]})

    assert hours.on(0) == (Interval(0, 1440),)
    assert hours.to_json() == {"mon": [["00:00", "24:00"]]}


def test_midnight_as_an_end_is_stored_as_twenty_four_hundred() -> None:
    assert OpeningHours.parse({"mon": [["18:00", "00:00"]]}).to_json() == {
        "mon": [["18:00", "24:00"]]
    }


def test_intervals_come_back_sorted_and_closed_days_are_left_out() -> None:
    hours = OpeningHours.parse({"tue": [["14:00", "18:00"], ["08:00", "12:00"]], "wed": []})

    assert hours.to_json() == {"tue": [["08:00", "12:00"], ["14:00", "18:00"]]}


def test_back_to_back_intervals_are_accepted() -> None:
    hours = OpeningHours.parse({"mon": [["08:00", "12:00"], ["12:00", "18:00"]]})

    assert len(hours.on("mon")) == 2


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"mon": [["09:00", "09:00"]]}, "mon"),
        ({"tue": [["08:00", "12:00"], ["11:00", "13:00"]]}, "tue"),
        ({"wed": [["08:00", "20:00"], ["08:00", "20:00"]]}, "wed"),
        ({"fri": [["18:00", "02:00"]], "sat": [["01:00", "05:00"]]}, "sat"),
        ({"sun": [["20:00", "03:00"]], "mon": [["02:00", "10:00"]]}, "mon"),
        ({"thu": [["24:00", "02:00"]]}, "thu"),
        ({"thu": [["25:00", "26:00"]]}, "thu"),
        ({"thu": [["08:60", "09:00"]]}, "thu"),
        ({"thu": [["8.30", "09:00"]]}, "thu"),
        ({"thu": [[800, 900]]}, "thu"),
        ({"thu": [["08:00"]]}, "thu"),
        ({"thu": [["08:00", "09:00", "10:00"]]}, "thu"),
        ({"thu": "08:00-09:00"}, "thu"),
        ({"thu": ["08:00", "09:00"]}, "thu"),
        ({"monday": [["08:00", "09:00"]]}, "monday"),
        ({"Mon": [["08:00", "09:00"]]}, "Mon"),
    ],
)
def test_invalid_hours_are_refused_naming_the_day(data: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        OpeningHours.parse(data)  # type: ignore[arg-type]


def test_opening_hours_that_are_not_a_mapping_are_refused() -> None:
    with pytest.raises(ValueError):
        OpeningHours.parse([["mon", "08:00", "20:00"]])  # type: ignore[arg-type]


def test_building_opening_hours_directly_is_validated_too() -> None:
    with pytest.raises(ValueError):
        OpeningHours(((Interval(0, 600),),) * 6)
    with pytest.raises(ValueError):
        OpeningHours(((Interval(0, 600), Interval(500, 700)),) + ((),) * 6)
    with pytest.raises(ValueError):
        Interval(600, 600)
    with pytest.raises(ValueError):
        Interval(600, 600 + 1440)


def test_always_is_open_all_day_every_day_and_closed_never_opens() -> None:
    assert OpeningHours.always().to_json() == {day: [["00:00", "24:00"]] for day in WEEKDAYS}
    assert OpeningHours.closed().never_open
    assert OpeningHours.parse({}) == OpeningHours.closed()


# --------------------------------------------------------------------------- admin spec


def test_the_spec_syntax_reads_day_ranges_several_intervals_and_closed_days() -> None:
    spec = "mon-fri 08:00-20:00; sat 09:00-13:00,14:00-18:00; sun closed"

    assert parse_hours_spec(spec) == {
        **{day: [["08:00", "20:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
        "sat": [["09:00", "13:00"], ["14:00", "18:00"]],
    }


@pytest.mark.parametrize("spec", ["daily 07:30-21:00", "everyday 07:30-21:00", "DAILY 7:30-21:00"])
def test_daily_and_everyday_mean_all_seven_days(spec: str) -> None:
    assert parse_hours_spec(spec) == {day: [["07:30", "21:00"]] for day in WEEKDAYS}


def test_day_ranges_wrap_around_the_end_of_the_week() -> None:
    assert list(parse_hours_spec("fri-mon 10:00-22:00")) == ["mon", "fri", "sat", "sun"]


def test_the_spec_is_case_insensitive_and_tolerates_spaces() -> None:
    assert parse_hours_spec("Mon - Wed  08:00 - 12:00 , 13:00-17:00") == parse_hours_spec(
        "mon-wed 08:00-12:00,13:00-17:00"
    )


def test_a_later_clause_replaces_the_hours_an_earlier_one_gave() -> None:
    hours = parse_hours_spec("daily 08:00-20:00; sun closed; sat 10:00-16:00")

    assert "sun" not in hours
    assert hours["sat"] == [["10:00", "16:00"]]
    assert hours["mon"] == [["08:00", "20:00"]]


def test_day_lists_full_names_and_named_groups_are_understood() -> None:
    assert list(parse_hours_spec("mon,wed,friday 09:00-10:00")) == ["mon", "wed", "fri"]
    assert list(parse_hours_spec("weekdays 09:00-10:00")) == ["mon", "tue", "wed", "thu", "fri"]
    assert list(parse_hours_spec("weekend 09:00-10:00")) == ["sat", "sun"]


def test_past_midnight_hours_and_round_the_clock_hours_are_spelled_naturally() -> None:
    hours = parse_hours_spec("fri-sat 18:00-02:00; mon 24h")

    assert hours == {
        "mon": [["00:00", "24:00"]],
        "fri": [["18:00", "02:00"]],
        "sat": [["18:00", "02:00"]],
    }


@pytest.mark.parametrize(
    "spec",
    [
        "",
        " ; ",
        "mon",
        "08:00-20:00",
        "funday 08:00-20:00",
        "mon-funday 08:00-20:00",
        "mon 8-20",
        "mon 08:00",
        "mon 08:00-08:00",
        "mon 08:00-12:00,11:00-13:00",
        "mon closed,08:00-09:00",
        "mon 25:00-26:00",
        "fri 20:00-03:00; sat 02:00-04:00",
        ",mon 08:00-09:00",
    ],
)
def test_bad_specs_are_refused_with_a_value_error(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_hours_spec(spec)


def test_a_spec_error_quotes_the_offending_clause() -> None:
    with pytest.raises(ValueError, match="funday"):
        parse_hours_spec("mon-fri 08:00-20:00; funday 09:00-10:00")


def test_a_forgotten_semicolon_is_pointed_out() -> None:
    with pytest.raises(ValueError, match="separate day groups with ';'"):
        parse_hours_spec("mon-fri 08:00-20:00 sat 09:00-13:00")


def test_formatting_groups_days_with_the_same_hours() -> None:
    data = parse_hours_spec("mon-fri 08:00-20:00; sat 09:00-13:00,14:00-18:00")

    assert format_hours_spec(data) == "mon-fri 08:00-20:00; sat 09:00-13:00,14:00-18:00"


def test_formatting_uses_daily_wrapping_ranges_and_says_when_never_open() -> None:
    assert format_hours_spec({day: [["07:30", "21:00"]] for day in WEEKDAYS}) == (
        "daily 07:30-21:00"
    )
    assert format_hours_spec(parse_hours_spec("fri-mon 10:00-22:00")) == "fri-mon 10:00-22:00"
    assert format_hours_spec(parse_hours_spec("mon,wed 09:00-10:00")) == "mon,wed 09:00-10:00"
    assert format_hours_spec({}) == "daily closed"
    assert parse_hours_spec("daily closed") == {}
    assert format_hours_spec(LATE_BAR) == "fri-sat 18:00-02:00"


# --------------------------------------------------------------------------- is_open & co.


def test_an_ordinary_store_is_open_between_opening_and_closing() -> None:
    assert not is_open(CENTRAL, at(SHANGHAI, 2026, 6, 1, 7, 29), SHANGHAI)
    assert is_open(CENTRAL, at(SHANGHAI, 2026, 6, 1, 7, 30), SHANGHAI)
    assert is_open(CENTRAL, at(SHANGHAI, 2026, 6, 1, 20, 59), SHANGHAI)
    assert not is_open(CENTRAL, at(SHANGHAI, 2026, 6, 1, 21, 0), SHANGHAI)


def test_the_stored_json_can_be_passed_directly() -> None:
    assert is_open(CENTRAL.to_json(), at(SHANGHAI, 2026, 6, 1, 12), SHANGHAI)


def test_an_open_store_says_when_it_closes_in_utc() -> None:
    closing = closes_at(CENTRAL, at(SHANGHAI, 2026, 6, 1, 12), SHANGHAI)

    assert closing == utc(2026, 6, 1, 13)  # 21:00 in Shanghai
    assert closing is not None
    assert closing.tzinfo is UTC


def test_a_closed_store_has_no_closing_time_and_says_when_it_opens() -> None:
    late = at(SHANGHAI, 2026, 6, 1, 22)

    assert closes_at(CENTRAL, late, SHANGHAI) is None
    assert next_opening(CENTRAL, late, SHANGHAI) == at(SHANGHAI, 2026, 6, 2, 7, 30)


def test_next_opening_at_the_opening_moment_is_that_moment() -> None:
    opening = at(SHANGHAI, 2026, 6, 1, 7, 30)

    assert next_opening(CENTRAL, opening, SHANGHAI) == opening


def test_while_open_next_opening_is_the_opening_after_the_current_one() -> None:
    assert next_opening(CENTRAL, at(SHANGHAI, 2026, 6, 1, 12), SHANGHAI) == at(
        SHANGHAI, 2026, 6, 2, 7, 30
    )


def test_closed_days_are_skipped_when_looking_for_the_next_opening() -> None:
    sunday_evening = at(SHANGHAI, 2026, 5, 31, 23)

    assert not is_open(RIVERSIDE, at(SHANGHAI, 2026, 6, 1, 12), SHANGHAI)  # monday
    assert next_opening(RIVERSIDE, sunday_evening, SHANGHAI) == at(SHANGHAI, 2026, 6, 2, 10)


def test_a_past_midnight_interval_keeps_the_store_open_into_the_next_day() -> None:
    saturday_1am = at(BERLIN, 2026, 6, 6, 1)

    assert is_open(LATE_BAR, saturday_1am, BERLIN)
    assert closes_at(LATE_BAR, saturday_1am, BERLIN) == at(BERLIN, 2026, 6, 6, 2)
    assert not is_open(LATE_BAR, at(BERLIN, 2026, 6, 6, 2), BERLIN)
    assert not is_open(LATE_BAR, at(BERLIN, 2026, 6, 5, 1), BERLIN)  # thursday night
    assert next_opening(LATE_BAR, saturday_1am, BERLIN) == at(BERLIN, 2026, 6, 6, 18)


def test_back_to_back_intervals_across_midnight_close_at_the_real_closing_time() -> None:
    hours = OpeningHours.parse({"mon": [["18:00", "24:00"]], "tue": [["00:00", "02:00"]]})

    assert closes_at(hours, at(BERLIN, 2026, 6, 1, 20), BERLIN) == at(BERLIN, 2026, 6, 2, 2)
    assert next_opening(hours, at(BERLIN, 2026, 6, 1, 23), BERLIN) == at(BERLIN, 2026, 6, 8, 18)


def test_back_to_back_intervals_within_a_day_close_at_the_last_one() -> None:
    hours = OpeningHours.parse({"mon": [["08:00", "12:00"], ["12:00", "18:00"]]})

    assert closes_at(hours, at(BERLIN, 2026, 6, 1, 9), BERLIN) == at(BERLIN, 2026, 6, 1, 18)


def test_a_store_closed_all_week_never_opens() -> None:
    now = utc(2026, 6, 1, 12)

    assert not is_open(OpeningHours.closed(), now, BERLIN)
    assert closes_at(OpeningHours.closed(), now, BERLIN) is None
    assert next_opening(OpeningHours.closed(), now, BERLIN) is None
    assert pickup_slots(OpeningHours.closed(), BERLIN, now, prep_minutes=0, slot_minutes=15) == []


def test_a_store_open_around_the_clock_neither_closes_nor_opens() -> None:
    now = utc(2026, 6, 1, 12)

    assert is_open(OpeningHours.always(), now, BERLIN)
    assert closes_at(OpeningHours.always(), now, BERLIN) is None
    assert next_opening(OpeningHours.always(), now, BERLIN) is None


def test_a_store_opening_only_next_week_is_found() -> None:
    hours = OpeningHours.parse({"mon": [["09:00", "10:00"]]})

    assert next_opening(hours, at(BERLIN, 2026, 6, 1, 11), BERLIN) == at(BERLIN, 2026, 6, 8, 9)


def test_unknown_time_zones_and_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        is_open(CENTRAL, utc(2026, 6, 1), "Mars/Olympus_Mons")
    with pytest.raises(ValueError, match="time zone"):
        next_opening(CENTRAL, utc(2026, 6, 1), "")
    with pytest.raises(ValueError):
        is_open(CENTRAL, datetime(2026, 6, 1, 12), SHANGHAI)
    with pytest.raises(ValueError):
        pickup_slots(CENTRAL, SHANGHAI, datetime(2026, 6, 1), prep_minutes=0, slot_minutes=15)


def test_the_spring_forward_day_in_berlin_opens_and_closes_on_local_time() -> None:
    # 2026-03-29: 02:00 CET jumps to 03:00 CEST.
    saturday_night = at(BERLIN, 2026, 3, 28, 21)

    assert closes_at(DAYTIME, at(BERLIN, 2026, 3, 28, 12), BERLIN) == utc(2026, 3, 28, 19)
    assert next_opening(DAYTIME, saturday_night, BERLIN) == utc(2026, 3, 29, 6)
    assert closes_at(DAYTIME, utc(2026, 3, 29, 12), BERLIN) == utc(2026, 3, 29, 18)


def test_a_boundary_in_the_spring_forward_gap_moves_to_the_end_of_the_gap() -> None:
    hours = OpeningHours.parse({"sun": [["02:30", "05:00"]], "sat": [["01:00", "02:15"]]})

    assert next_opening(hours, utc(2026, 3, 28, 23), BERLIN) == utc(2026, 3, 29, 1)  # 03:00 CEST
    assert intervals_on(hours, date(2026, 3, 29), BERLIN) == [
        (utc(2026, 3, 29, 1), utc(2026, 3, 29, 3))
    ]


def test_an_interval_wholly_inside_the_spring_forward_gap_does_not_happen() -> None:
    hours = OpeningHours.parse({"sun": [["02:00", "02:30"], ["10:00", "11:00"]]})

    assert intervals_on(hours, date(2026, 3, 29), BERLIN) == [
        (utc(2026, 3, 29, 8), utc(2026, 3, 29, 9))
    ]
    assert next_opening(hours, utc(2026, 3, 28, 23), BERLIN) == utc(2026, 3, 29, 8)


def test_the_fall_back_day_in_berlin_has_an_hour_longer_night() -> None:
    # 2026-10-25: 03:00 CEST falls back to 02:00 CET; 00:00-04:00 lasts five hours.
    hours = OpeningHours.parse({"sun": [["00:00", "04:00"]]})

    assert intervals_on(hours, date(2026, 10, 25), BERLIN) == [
        (utc(2026, 10, 24, 22), utc(2026, 10, 25, 3))
    ]
    second_half_past_two = utc(2026, 10, 25, 1, 30)  # 02:30 CET, the repeated hour
    assert is_open(hours, second_half_past_two, BERLIN)
    assert closes_at(hours, second_half_past_two, BERLIN) == utc(2026, 10, 25, 3)
    assert closes_at(DAYTIME, utc(2026, 10, 25, 12), BERLIN) == utc(2026, 10, 25, 19)


def test_a_repeated_wall_time_as_a_boundary_means_its_first_occurrence() -> None:
    hours = OpeningHours.parse({"sun": [["01:00", "02:30"]]})

    assert closes_at(hours, utc(2026, 10, 24, 23, 30), BERLIN) == utc(2026, 10, 25, 0, 30)


def test_intervals_on_a_date_are_those_starting_that_day_in_utc() -> None:
    assert intervals_on(LATE_BAR, date(2026, 6, 5), BERLIN) == [
        (utc(2026, 6, 5, 16), utc(2026, 6, 6, 0))
    ]
    assert intervals_on(LATE_BAR, date(2026, 6, 4), BERLIN) == []
    assert intervals_on(LUNCH_BREAK, date(2026, 6, 1), SHANGHAI) == [
        (utc(2026, 6, 1, 0), utc(2026, 6, 1, 4)),
        (utc(2026, 6, 1, 6), utc(2026, 6, 1, 10)),
    ]
    with pytest.raises(TypeError):
        intervals_on(LATE_BAR, utc(2026, 6, 5), BERLIN)


# --------------------------------------------------------------------------- pickup slots


def test_pickup_slots_start_on_the_grid_after_the_preparation_time() -> None:
    slots = pickup_slots(
        CENTRAL, SHANGHAI, at(SHANGHAI, 2026, 6, 1, 10, 7), prep_minutes=15, slot_minutes=15
    )

    assert wall(slots, SHANGHAI) == [
        "10:30",
        "10:45",
        "11:00",
        "11:15",
        "11:30",
        "11:45",
        "12:00",
        "12:15",
    ]
    assert all(slot.tzinfo is UTC for slot in slots)


def test_a_slot_exactly_at_the_ready_time_is_offered() -> None:
    slots = pickup_slots(
        CENTRAL, SHANGHAI, at(SHANGHAI, 2026, 6, 1, 10), prep_minutes=15, slot_minutes=15, limit=2
    )

    assert wall(slots, SHANGHAI) == ["10:15", "10:30"]


def test_pickup_slots_stop_at_closing_time() -> None:
    slots = pickup_slots(
        CENTRAL, SHANGHAI, at(SHANGHAI, 2026, 6, 1, 20, 20), prep_minutes=15, slot_minutes=15
    )

    assert wall(slots, SHANGHAI) == ["20:45"]


def test_pickup_slots_do_not_spill_into_tomorrow() -> None:
    slots = pickup_slots(
        CENTRAL, SHANGHAI, at(SHANGHAI, 2026, 6, 1, 20, 50), prep_minutes=15, slot_minutes=15
    )

    assert slots == []


def test_when_closed_the_next_openings_slots_are_offered() -> None:
    slots = pickup_slots(
        CENTRAL, SHANGHAI, at(SHANGHAI, 2026, 6, 1, 22), prep_minutes=15, slot_minutes=30, limit=3
    )

    assert slots == [
        at(SHANGHAI, 2026, 6, 2, 7, 30),
        at(SHANGHAI, 2026, 6, 2, 8),
        at(SHANGHAI, 2026, 6, 2, 8, 30),
    ]


def test_closed_days_are_skipped_for_pickup() -> None:
    slots = pickup_slots(
        RIVERSIDE, SHANGHAI, at(SHANGHAI, 2026, 6, 1, 9), prep_minutes=15, slot_minutes=15, limit=1
    )

    assert slots == [at(SHANGHAI, 2026, 6, 2, 10)]


def test_pickup_slots_continue_after_a_lunch_break_the_same_day() -> None:
    slots = pickup_slots(
        LUNCH_BREAK,
        SHANGHAI,
        at(SHANGHAI, 2026, 6, 1, 11, 20),
        prep_minutes=15,
        slot_minutes=15,
        limit=4,
    )

    assert wall(slots, SHANGHAI) == ["11:45", "14:00", "14:15", "14:30"]


def test_pickup_slots_run_past_midnight_with_the_opening_but_not_into_the_next_evening() -> None:
    slots = pickup_slots(
        LATE_BAR, BERLIN, at(BERLIN, 2026, 6, 5, 23, 40), prep_minutes=10, slot_minutes=30, limit=50
    )

    assert wall(slots, BERLIN) == ["00:00", "00:30", "01:00", "01:30"]


def test_pickup_slots_respect_the_limit() -> None:
    now = at(SHANGHAI, 2026, 6, 1, 8)

    assert len(pickup_slots(CENTRAL, SHANGHAI, now, prep_minutes=0, slot_minutes=5, limit=3)) == 3
    assert pickup_slots(CENTRAL, SHANGHAI, now, prep_minutes=0, slot_minutes=5, limit=0) == []


def test_a_slot_length_not_dividing_the_day_restarts_its_grid_at_local_midnight() -> None:
    slots = pickup_slots(
        OpeningHours.always(),
        BERLIN,
        at(BERLIN, 2026, 6, 1, 23, 0),
        prep_minutes=0,
        slot_minutes=25,
        limit=4,
    )

    assert wall(slots, BERLIN) == ["23:20", "23:45", "00:00", "00:25"]


def test_pickup_slots_skip_wall_times_that_do_not_exist_on_the_spring_forward_day() -> None:
    hours = OpeningHours.parse({"sun": [["00:00", "06:00"]]})

    slots = pickup_slots(
        hours, BERLIN, at(BERLIN, 2026, 3, 29, 1, 0), prep_minutes=0, slot_minutes=30, limit=4
    )

    assert slots == [
        utc(2026, 3, 29, 0, 0),  # 01:00 CET
        utc(2026, 3, 29, 0, 30),  # 01:30 CET
        utc(2026, 3, 29, 1, 0),  # 03:00 CEST
        utc(2026, 3, 29, 1, 30),  # 03:30 CEST
    ]


def test_pickup_slots_offer_both_occurrences_of_the_repeated_hour() -> None:
    hours = OpeningHours.parse({"sun": [["00:00", "06:00"]]})

    slots = pickup_slots(
        hours, BERLIN, at(BERLIN, 2026, 10, 25, 2, 0), prep_minutes=0, slot_minutes=30, limit=5
    )

    assert wall(slots, BERLIN) == ["02:00", "02:30", "02:00", "02:30", "03:00"]
    assert slots == sorted(slots)


@pytest.mark.parametrize(
    ("prep", "slot", "limit"), [(-1, 15, 8), (15, 0, 8), (15, 15, -1), (15, True, 8)]
)
def test_pickup_slot_settings_are_validated(prep: int, slot: int, limit: int) -> None:
    with pytest.raises(ValueError):
        pickup_slots(
            CENTRAL, SHANGHAI, utc(2026, 6, 1), prep_minutes=prep, slot_minutes=slot, limit=limit
        )


# --------------------------------------------------------------------------- reservation slots


def test_reservation_slots_leave_room_for_the_whole_visit() -> None:
    slots = reservation_slots(
        RIVERSIDE,
        SHANGHAI,
        date(2026, 6, 2),
        now=utc(2026, 6, 1),
        slot_minutes=30,
        duration_minutes=90,
    )

    assert wall(slots, SHANGHAI)[0] == "10:00"
    assert wall(slots, SHANGHAI)[-1] == "20:30"
    assert len(slots) == 22


def test_reservation_slots_respect_the_lead_time() -> None:
    slots = reservation_slots(
        RIVERSIDE,
        SHANGHAI,
        date(2026, 6, 2),
        now=at(SHANGHAI, 2026, 6, 2, 12, 10),
        slot_minutes=30,
        duration_minutes=60,
        min_lead_minutes=60,
    )

    assert wall(slots, SHANGHAI)[:2] == ["13:30", "14:00"]


def test_reservation_slots_in_the_past_are_excluded() -> None:
    today = reservation_slots(
        RIVERSIDE,
        SHANGHAI,
        date(2026, 6, 2),
        now=at(SHANGHAI, 2026, 6, 2, 15),
        slot_minutes=30,
        duration_minutes=60,
    )
    yesterday = reservation_slots(
        RIVERSIDE,
        SHANGHAI,
        date(2026, 6, 1),
        now=at(SHANGHAI, 2026, 6, 2, 15),
        slot_minutes=30,
        duration_minutes=60,
    )

    assert wall(today, SHANGHAI)[0] == "15:00"
    assert yesterday == []


def test_reservations_do_not_straddle_a_break_or_fall_on_a_closed_day() -> None:
    slots = reservation_slots(
        LUNCH_BREAK,
        SHANGHAI,
        date(2026, 6, 1),
        now=utc(2026, 5, 1),
        slot_minutes=30,
        duration_minutes=60,
    )
    closed = reservation_slots(
        RIVERSIDE,
        SHANGHAI,
        date(2026, 6, 1),
        now=utc(2026, 5, 1),
        slot_minutes=30,
        duration_minutes=60,
    )

    assert "11:00" in wall(slots, SHANGHAI)
    assert "11:30" not in wall(slots, SHANGHAI)
    assert "13:30" not in wall(slots, SHANGHAI)
    assert closed == []


def test_a_reservation_may_span_back_to_back_intervals() -> None:
    hours = OpeningHours.parse({"mon": [["08:00", "12:00"], ["12:00", "18:00"]]})

    slots = reservation_slots(
        hours, BERLIN, date(2026, 6, 1), now=utc(2026, 5, 1), slot_minutes=30, duration_minutes=90
    )

    assert "11:30" in wall(slots, BERLIN)


def test_after_midnight_reservations_belong_to_the_previous_days_interval() -> None:
    friday = reservation_slots(
        LATE_BAR,
        BERLIN,
        date(2026, 6, 5),
        now=utc(2026, 6, 1),
        slot_minutes=30,
        duration_minutes=90,
    )
    saturday = reservation_slots(
        LATE_BAR,
        BERLIN,
        date(2026, 6, 6),
        now=utc(2026, 6, 1),
        slot_minutes=30,
        duration_minutes=90,
    )

    assert wall(friday, BERLIN)[0] == "18:00"
    assert wall(friday, BERLIN)[-1] == "23:30"  # until 01:00 on Saturday
    assert wall(saturday, BERLIN)[:2] == ["00:00", "00:30"]  # Friday night's interval
    assert "01:00" not in wall(saturday, BERLIN)
    assert wall(saturday, BERLIN)[2] == "18:00"


def test_reservation_slots_validate_their_arguments() -> None:
    with pytest.raises(ValueError):
        reservation_slots(
            CENTRAL,
            SHANGHAI,
            date(2026, 6, 1),
            now=utc(2026, 6, 1),
            slot_minutes=30,
            duration_minutes=0,
        )
    with pytest.raises(TypeError):
        reservation_slots(
            CENTRAL,
            SHANGHAI,
            utc(2026, 6, 1),
            now=utc(2026, 6, 1),
            slot_minutes=30,
            duration_minutes=60,
        )


# --------------------------------------------------------------------------- properties

ZONES = [
    "UTC",
    BERLIN,
    SHANGHAI,
    "America/New_York",
    "Australia/Lord_Howe",  # half-hour DST shift
    "Asia/Kathmandu",  # +05:45
]
# Around both Berlin DST changes and the Northern/Southern ones of the zones above.
INSTANTS = st.datetimes(
    min_value=datetime(2026, 3, 1), max_value=datetime(2026, 11, 15), timezones=st.just(UTC)
)


@st.composite
def opening_hours(draw: st.DrawFn) -> OpeningHours:
    """Random valid weekly hours on a quarter-hour grid, some running past midnight."""
    days: list[list[Interval]] = []
    for _ in WEEKDAYS:
        points = sorted(draw(st.sets(st.integers(0, 96), max_size=4)))
        pairs = zip(points[::2], points[1::2], strict=False)
        days.append([Interval(start * 15, end * 15) for start, end in pairs])
    for index, intervals in enumerate(days):
        following = days[(index + 1) % 7]
        if intervals and intervals[-1].end == 1440 and draw(st.booleans()):
            room = min(following[0].start if following else 1440, intervals[-1].start - 1)
            if room >= 15:
                spill = draw(st.integers(1, room // 15)) * 15
                intervals[-1] = Interval(intervals[-1].start, 1440 + spill)
    return OpeningHours(tuple(tuple(intervals) for intervals in days))


@settings(max_examples=60, deadline=None)
@given(
    hours=opening_hours(),
    now=INSTANTS,
    tz=st.sampled_from(ZONES),
    prep=st.integers(0, 90),
    slot=st.sampled_from([5, 10, 15, 20, 25, 30, 45, 60]),
)
def test_every_pickup_slot_is_on_the_grid_inside_opening_hours_and_after_preparation(
    hours: OpeningHours, now: datetime, tz: str, prep: int, slot: int
) -> None:
    slots = pickup_slots(hours, tz, now, prep_minutes=prep, slot_minutes=slot, limit=6)

    assert len(slots) <= 6
    assert slots == sorted(set(slots))
    for start in slots:
        local = start.astimezone(ZoneInfo(tz))
        assert (local.hour * 60 + local.minute) % slot == 0
        assert local.second == 0
        assert local.microsecond == 0
        assert start >= now + timedelta(minutes=prep)
        assert is_open(hours, start, tz)


@settings(max_examples=60, deadline=None)
@given(hours=opening_hours(), moment=INSTANTS, tz=st.sampled_from(ZONES))
def test_is_open_agrees_with_closes_at_and_next_opening(
    hours: OpeningHours, moment: datetime, tz: str
) -> None:
    second = timedelta(seconds=1)
    if is_open(hours, moment, tz):
        closing = closes_at(hours, moment, tz)
        if closing is not None:
            assert closing > moment
            assert is_open(hours, closing - second, tz)
            assert not is_open(hours, closing, tz)
            opening = next_opening(hours, moment, tz)
            assert opening is None or opening > closing
    else:
        assert closes_at(hours, moment, tz) is None
        opening = next_opening(hours, moment, tz)
        if opening is None:
            assert not any(
                is_open(hours, moment + timedelta(hours=h), tz) for h in range(0, 7 * 24, 7)
            )
        else:
            assert moment < opening <= moment + timedelta(days=8)
            assert is_open(hours, opening, tz)
            assert not is_open(hours, opening - second, tz)


@settings(max_examples=30, deadline=None)
@given(
    hours=opening_hours(),
    now=INSTANTS,
    tz=st.sampled_from(ZONES),
    days_ahead=st.integers(0, 3),
    slot=st.sampled_from([15, 30, 60]),
    duration=st.integers(15, 240),
    lead=st.integers(0, 180),
)
def test_every_reservation_slot_fits_the_visit_inside_one_opening(
    hours: OpeningHours,
    now: datetime,
    tz: str,
    days_ahead: int,
    slot: int,
    duration: int,
    lead: int,
) -> None:
    day = now.astimezone(ZoneInfo(tz)).date() + timedelta(days=days_ahead)

    slots = reservation_slots(
        hours, tz, day, now=now, slot_minutes=slot, duration_minutes=duration, min_lead_minutes=lead
    )

    assert slots == sorted(set(slots))
    for start in slots:
        local = start.astimezone(ZoneInfo(tz))
        assert local.date() == day
        assert (local.hour * 60 + local.minute) % slot == 0
        assert start >= now + timedelta(minutes=lead)
        assert is_open(hours, start, tz)
        closing = closes_at(hours, start, tz)
        assert closing is None or closing >= start + timedelta(minutes=duration)


@settings(max_examples=50, deadline=None)
@given(hours=opening_hours())
def test_formatted_hours_parse_back_to_the_same_hours(hours: OpeningHours) -> None:
    assert parse_hours_spec(format_hours_spec(hours)) == hours.to_json()
    assert OpeningHours.parse(hours.to_json()) == hours
