"""Booking rules: table choice, service capacity, party size, cancel cutoff, reminder timing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.booking import (
    Booked,
    NewReservation,
    SlotUnavailable,
    TableInfo,
    allocate,
    booking_days,
    can_cancel,
    cancel_deadline,
    check_party_size,
    choose_table,
    free_tables,
    max_party_size,
    overlaps,
    parse_party_size,
    reminder_due,
    service_has_room,
    service_load,
)
from domain.errors import ValidationError
from domain.reservations import ReservationKind, ReservationStatus

T = datetime(2026, 5, 9, 11, 0, tzinfo=UTC)
TABLES = (
    TableInfo(1, "1", 2),
    TableInfo(2, "2", 4),
    TableInfo(3, "10", 4),
    TableInfo(4, "3", 4),
    TableInfo(5, "4", 8),
    TableInfo(6, "5", 12, active=False),
)


def table_booking(
    table_id: int,
    start: datetime = T,
    minutes: int = 90,
    status: ReservationStatus = ReservationStatus.REQUESTED,
) -> Booked:
    return Booked(start, minutes, ReservationKind.TABLE, table_id=table_id, status=status)


def appointment(start: datetime, minutes: int = 30) -> Booked:
    return Booked(start, minutes, ReservationKind.SERVICE, service_id=1)


def test_the_smallest_fitting_table_is_chosen_lowest_number_first() -> None:
    assert choose_table(TABLES, [], 3, T, 90) == TABLES[1]
    assert choose_table(TABLES, [], 2, T, 90) == TABLES[0]
    assert choose_table(TABLES, [], 5, T, 90) == TABLES[4]


def test_numbers_sort_numerically_so_table_3_comes_before_table_10() -> None:
    taken = [table_booking(2)]

    assert choose_table(TABLES, taken, 4, T, 90) == TABLES[3]


def test_a_second_party_at_the_same_time_gets_another_table() -> None:
    first = choose_table(TABLES, [], 4, T, 90)
    assert first is not None
    second = choose_table(TABLES, [table_booking(first.id)], 4, T, 90)

    assert second is not None
    assert second.id != first.id


def test_no_table_when_every_fitting_table_overlaps() -> None:
    taken = [table_booking(5, T + timedelta(minutes=60))]

    assert choose_table(TABLES, taken, 8, T, 90) is None


def test_back_to_back_bookings_do_not_overlap() -> None:
    taken = [
        table_booking(5, T - timedelta(minutes=90)),
        table_booking(5, T + timedelta(minutes=90)),
    ]

    assert choose_table(TABLES, taken, 8, T, 90) == TABLES[4]


def test_cancelled_and_finished_bookings_free_their_table() -> None:
    for status in (
        ReservationStatus.CANCELLED,
        ReservationStatus.DECLINED,
        ReservationStatus.COMPLETED,
        ReservationStatus.NO_SHOW,
    ):
        assert choose_table(TABLES, [table_booking(5, status=status)], 8, T, 90) == TABLES[4]
    for status in (
        ReservationStatus.REQUESTED,
        ReservationStatus.CONFIRMED,
        ReservationStatus.SEATED,
    ):
        assert choose_table(TABLES, [table_booking(5, status=status)], 8, T, 90) is None


def test_inactive_tables_are_never_offered() -> None:
    assert max_party_size(TABLES) == 8
    assert all(table.active for table in free_tables(TABLES, [], T, 90))


@pytest.mark.parametrize(
    ("text", "reason"),
    [("0", "too_small"), ("-3", "too_small"), ("500", "too_large"), ("9", "too_large")],
)
def test_party_sizes_out_of_range_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_party_size(text, TABLES)

    assert (caught.value.field, caught.value.reason) == ("party_size", reason)


@pytest.mark.parametrize("text", ["abc", "", "4 people", "4.5", "1e3", "1234567"])
def test_party_sizes_that_are_not_numbers_are_refused(text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_party_size(text, TABLES)

    assert caught.value.reason == "not_a_number"


def test_no_party_beyond_what_a_reservation_can_hold_even_at_a_banquet_table() -> None:
    banquet = [TableInfo(1, "hall", 120)]

    assert max_party_size(banquet) == 50
    with pytest.raises(ValidationError):
        check_party_size(51, banquet)


def test_party_size_up_to_the_largest_table_is_accepted() -> None:
    assert parse_party_size(" 8 ", TABLES) == 8
    assert parse_party_size("４", TABLES) == 4  # full-width digits, as Chinese keyboards type
    assert check_party_size(1, TABLES) == 1
    with pytest.raises(ValidationError):
        check_party_size(1, [])


def test_service_capacity_counts_parallel_appointments() -> None:
    booked = [appointment(T), appointment(T + timedelta(minutes=15))]

    assert service_load(booked, T, 30) == 2
    assert service_has_room(booked, T, 30, 3)
    assert not service_has_room(booked, T, 30, 2)


def test_appointments_that_follow_each_other_do_not_add_up() -> None:
    booked = [appointment(T, 30), appointment(T + timedelta(minutes=30), 30)]

    assert service_load(booked, T, 60) == 1
    assert service_has_room(booked, T, 60, 2)


def test_table_bookings_do_not_use_service_capacity() -> None:
    assert service_has_room([table_booking(1)], T, 30, 1)


def _request(kind: ReservationKind, party: int = 2) -> NewReservation:
    return NewReservation(
        store_id=1,
        customer_id=1,
        kind=kind,
        party_size=party,
        starts_at=T,
        duration_minutes=90,
        requested_at=T - timedelta(days=1),
        service_id=7 if kind is ReservationKind.SERVICE else None,
    )


def test_allocate_names_the_table_or_refuses() -> None:
    assert allocate(_request(ReservationKind.TABLE), tables=TABLES, booked=[], service_capacity=1)
    with pytest.raises(SlotUnavailable):
        allocate(
            _request(ReservationKind.TABLE, 8),
            tables=TABLES,
            booked=[table_booking(5)],
            service_capacity=1,
        )
    assert (
        allocate(_request(ReservationKind.SERVICE), tables=(), booked=[], service_capacity=1)
        is None
    )
    with pytest.raises(SlotUnavailable):
        allocate(
            _request(ReservationKind.SERVICE),
            tables=(),
            booked=[appointment(T)],
            service_capacity=1,
        )


def test_a_service_booking_must_name_its_service() -> None:
    with pytest.raises(ValueError):
        NewReservation(
            store_id=1,
            customer_id=1,
            kind=ReservationKind.SERVICE,
            party_size=1,
            starts_at=T,
            duration_minutes=30,
            requested_at=T,
        )


def test_cancelling_is_allowed_until_the_cutoff_inclusive() -> None:
    deadline = cancel_deadline(T, 120)

    assert deadline == T - timedelta(hours=2)
    assert can_cancel(T, deadline, 120)
    assert not can_cancel(T, deadline + timedelta(seconds=1), 120)
    assert can_cancel(T, T, 0)


def test_booking_days_are_today_and_the_days_ahead() -> None:
    assert booking_days(date(2026, 5, 4), 2) == [
        date(2026, 5, 4),
        date(2026, 5, 5),
        date(2026, 5, 6),
    ]
    with pytest.raises(ValueError):
        booking_days(date(2026, 5, 4), -1)


def test_a_reminder_is_due_inside_the_window_before_the_start() -> None:
    requested = T - timedelta(days=1)

    assert not reminder_due(T, requested, T - timedelta(minutes=61), 60)
    assert reminder_due(T, requested, T - timedelta(minutes=60), 60)
    assert reminder_due(T, requested, T - timedelta(minutes=1), 60)
    assert not reminder_due(T, requested, T, 60)
    assert not reminder_due(T, requested, T - timedelta(minutes=30), 0)


def test_a_booking_made_inside_the_window_gets_no_reminder() -> None:
    assert not reminder_due(T, T - timedelta(minutes=30), T - timedelta(minutes=20), 60)


starts = st.integers(min_value=0, max_value=48).map(lambda n: T + timedelta(minutes=15 * n))
durations = st.sampled_from([15, 30, 45, 60, 90])


@given(
    existing=st.lists(st.tuples(st.integers(1, 6), starts, durations), max_size=12),
    party=st.integers(1, 8),
    start=starts,
    minutes=durations,
)
def test_a_chosen_table_seats_the_party_and_overlaps_nothing(
    existing: list[tuple[int, datetime, int]], party: int, start: datetime, minutes: int
) -> None:
    booked = [table_booking(table_id, at, length) for table_id, at, length in existing]

    table = choose_table(TABLES, booked, party, start, minutes)

    end = start + timedelta(minutes=minutes)
    if table is None:
        for candidate in TABLES:
            if candidate.active and candidate.capacity >= party:
                assert any(
                    item.table_id == candidate.id
                    and overlaps(start, end, item.starts_at, item.ends_at)
                    for item in booked
                )
        return
    assert table.active
    assert table.capacity >= party
    assert not any(
        item.table_id == table.id and overlaps(start, end, item.starts_at, item.ends_at)
        for item in booked
    )
    smaller = [t for t in free_tables(TABLES, booked, start, minutes) if party <= t.capacity]
    assert table.capacity == min(t.capacity for t in smaller)


@given(
    requests=st.lists(st.tuples(starts, durations), min_size=1, max_size=20),
    capacity=st.integers(1, 3),
)
def test_admitting_only_what_has_room_never_exceeds_capacity(
    requests: list[tuple[datetime, int]], capacity: int
) -> None:
    booked: list[Booked] = []
    for start, minutes in requests:
        if service_has_room(booked, start, minutes, capacity):
            booked.append(appointment(start, minutes))

    moments = {item.starts_at for item in booked}
    for moment in moments:
        running = sum(1 for item in booked if item.starts_at <= moment < item.ends_at)
        assert running <= capacity
