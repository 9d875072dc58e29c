"""Reservation state machine: the transition table, intent methods and their guard rails."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.clock import require_aware
from domain.errors import AlreadyInStatus, DomainError, InvalidTransition, ValidationError
from domain.orders import StatusChange
from domain.reservations import (
    RESERVATION_TRANSITIONS,
    TERMINAL_RESERVATION_STATUSES,
    Reservation,
    ReservationKind,
    ReservationStatus,
    can_transition,
    check_transition,
    timestamp_field,
)

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
STARTS = T0 + timedelta(hours=10)
STAFF = "staff:123"
CUSTOMER = "customer:42"
SLA = "system:sla"

# Written out independently of RESERVATION_TRANSITIONS so the test pins the table.
ALLOWED = {
    ("requested", "confirmed"),
    ("requested", "declined"),
    ("requested", "cancelled"),
    ("confirmed", "seated"),
    ("confirmed", "completed"),
    ("confirmed", "cancelled"),
    ("confirmed", "no_show"),
    ("seated", "completed"),
}
ALL_PAIRS = list(itertools.product(ReservationStatus, ReservationStatus))

Intent = Callable[[Reservation, datetime], StatusChange]
INTENTS: dict[ReservationStatus, Intent] = {
    ReservationStatus.CONFIRMED: lambda r, at: r.confirm(at, STAFF),
    ReservationStatus.DECLINED: lambda r, at: r.decline(at, STAFF, "fully_booked"),
    ReservationStatus.SEATED: lambda r, at: r.seat(at, STAFF),
    ReservationStatus.COMPLETED: lambda r, at: r.complete(at, STAFF),
    ReservationStatus.CANCELLED: lambda r, at: r.cancel(at, CUSTOMER),
    ReservationStatus.NO_SHOW: lambda r, at: r.mark_no_show(at, SLA),
}
INTENT_CASES = [
    pytest.param(start, target, id=f"{target.value}-from-{start.value}")
    for start in ReservationStatus
    for target in INTENTS
]


def make_reservation(
    status: ReservationStatus = ReservationStatus.REQUESTED, /, **overrides: object
) -> Reservation:
    values: dict[str, object] = {
        "id": 11,
        "store_id": 1,
        "customer_id": 42,
        "kind": ReservationKind.TABLE,
        "party_size": 4,
        "starts_at": STARTS,
        "duration_minutes": 90,
        "status": status,
        "requested_at": T0,
    }
    values.update(overrides)
    return Reservation(**values)  # type: ignore[arg-type]


def timestamps(reservation: Reservation) -> dict[str, datetime | None]:
    return {timestamp_field(s): getattr(reservation, timestamp_field(s)) for s in ReservationStatus}


# --- the transition table -------------------------------------------------------------------


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS)
def test_the_table_allows_exactly_the_documented_transitions(
    current: ReservationStatus, target: ReservationStatus
) -> None:
    assert can_transition(current, target) is ((current.value, target.value) in ALLOWED)


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS)
def test_checking_a_transition_raises_exactly_when_the_table_forbids_it(
    current: ReservationStatus, target: ReservationStatus
) -> None:
    if (current.value, target.value) in ALLOWED:
        check_transition("reservation", 11, current, target)
    elif current == target:
        with pytest.raises(AlreadyInStatus):
            check_transition("reservation", 11, current, target)
    else:
        with pytest.raises(InvalidTransition) as info:
            check_transition("reservation", 11, current, target)
        assert not isinstance(info.value, AlreadyInStatus)
        assert info.value.details["entity"] == "reservation"


def test_the_table_covers_every_status() -> None:
    assert set(RESERVATION_TRANSITIONS) == set(ReservationStatus)


def test_completed_declined_cancelled_and_no_show_are_terminal() -> None:
    assert {s.value for s in TERMINAL_RESERVATION_STATUSES} == {
        "completed",
        "declined",
        "cancelled",
        "no_show",
    }


def test_status_and_kind_values_are_the_stored_strings() -> None:
    assert [s.value for s in ReservationStatus] == [
        "requested",
        "confirmed",
        "seated",
        "completed",
        "declined",
        "cancelled",
        "no_show",
    ]
    assert [k.value for k in ReservationKind] == ["table", "service"]


@pytest.mark.parametrize("status", list(ReservationStatus))
def test_each_status_maps_to_its_timestamp_attribute(status: ReservationStatus) -> None:
    name = timestamp_field(status)
    assert name == f"{status.value}_at"
    assert name in {f.name for f in fields(Reservation)}


# --- intent methods, over every starting status ---------------------------------------------


@pytest.mark.parametrize(("start", "target"), INTENT_CASES)
def test_every_intent_succeeds_exactly_when_the_table_allows_it(
    start: ReservationStatus, target: ReservationStatus
) -> None:
    reservation = make_reservation(start, version=2)
    before = copy.copy(reservation)
    at = STARTS + timedelta(minutes=5)

    if (start.value, target.value) in ALLOWED:
        change = INTENTS[target](reservation, at)
        assert reservation.status is target
        assert getattr(reservation, timestamp_field(target)) == at
        assert reservation.version == 3
        assert change == StatusChange(
            entity="reservation",
            entity_id=11,
            from_status=start.value,
            to_status=target.value,
            actor=change.actor,
            at=at,
            note=None,
        )
        untouched = {
            k: v for k, v in timestamps(reservation).items() if k != timestamp_field(target)
        }
        assert untouched == {k: v for k, v in timestamps(before).items() if k in untouched}
    else:
        expected = AlreadyInStatus if start == target else InvalidTransition
        with pytest.raises(expected):
            INTENTS[target](reservation, at)
        assert reservation == before


def test_seating_a_requested_reservation_before_confirmation_is_refused() -> None:
    with pytest.raises(InvalidTransition):
        make_reservation().seat(STARTS, STAFF)


def test_confirming_a_declined_reservation_is_refused() -> None:
    with pytest.raises(InvalidTransition):
        make_reservation(ReservationStatus.DECLINED).confirm(T0, STAFF)


def test_confirming_twice_reports_already_in_status() -> None:
    reservation = make_reservation()
    reservation.confirm(T0, STAFF)
    with pytest.raises(AlreadyInStatus):
        reservation.confirm(T0, STAFF)
    assert reservation.version == 1


def test_a_seated_party_cannot_be_marked_as_no_show() -> None:
    with pytest.raises(InvalidTransition):
        make_reservation(ReservationStatus.SEATED).mark_no_show(STARTS, SLA)


def test_a_service_appointment_can_complete_straight_from_confirmed() -> None:
    reservation = make_reservation(ReservationStatus.CONFIRMED, kind=ReservationKind.SERVICE)
    reservation.complete(STARTS + timedelta(minutes=30), STAFF)
    assert reservation.status is ReservationStatus.COMPLETED
    assert reservation.seated_at is None


def test_a_table_visit_walks_through_every_stage_with_the_given_times() -> None:
    reservation = make_reservation()
    reservation.confirm(T0 + timedelta(minutes=2), STAFF)
    reservation.seat(STARTS - timedelta(minutes=5), STAFF)
    reservation.complete(STARTS + timedelta(minutes=80), STAFF)
    assert reservation.confirmed_at == T0 + timedelta(minutes=2)
    assert reservation.seated_at == STARTS - timedelta(minutes=5)
    assert reservation.completed_at == STARTS + timedelta(minutes=80)
    assert reservation.version == 3
    assert reservation.is_terminal


# --- times ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "target"), INTENT_CASES)
def test_a_naive_datetime_is_refused_by_every_intent(
    start: ReservationStatus, target: ReservationStatus
) -> None:
    reservation = make_reservation(start)
    before = copy.copy(reservation)
    with pytest.raises(ValueError, match="timezone-aware"):
        INTENTS[target](reservation, datetime(2024, 5, 1, 20, 0))
    assert reservation == before


@pytest.mark.parametrize("target", list(INTENTS))
def test_a_time_before_the_request_is_refused(target: ReservationStatus) -> None:
    start = next(s for s in ReservationStatus if (s.value, target.value) in ALLOWED)
    reservation = make_reservation(start)
    before = copy.copy(reservation)
    with pytest.raises(ValidationError) as info:
        INTENTS[target](reservation, T0 - timedelta(seconds=1))
    assert info.value.details == {"field": "at", "reason": "before_requested_at"}
    assert reservation == before


def test_a_no_show_before_the_slot_starts_is_refused() -> None:
    reservation = make_reservation(ReservationStatus.CONFIRMED)
    with pytest.raises(ValidationError) as info:
        reservation.mark_no_show(STARTS - timedelta(minutes=1), SLA)
    assert info.value.reason == "before_starts_at"
    assert reservation == make_reservation(ReservationStatus.CONFIRMED)


def test_a_no_show_at_the_start_time_is_allowed() -> None:
    reservation = make_reservation(ReservationStatus.CONFIRMED)
    reservation.mark_no_show(STARTS, SLA)
    assert reservation.no_show_at == STARTS


def test_a_time_in_another_zone_is_stamped_as_utc() -> None:
    reservation = make_reservation()
    reservation.confirm(datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=5))), STAFF)
    assert reservation.confirmed_at == datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("field", ["starts_at", "requested_at", "confirmed_at"])
def test_a_reservation_loaded_with_a_naive_time_is_refused(field: str) -> None:
    with pytest.raises(ValueError):
        make_reservation(**{field: datetime(2024, 5, 1, 12, 0)})


def test_the_slot_ends_after_its_duration() -> None:
    assert make_reservation().ends_at == STARTS + timedelta(minutes=90)


# --- decline, cancel, construction ----------------------------------------------------------


def test_declining_records_the_reason_and_passes_the_note_to_the_change() -> None:
    reservation = make_reservation()
    change = reservation.decline(T0, STAFF, " fully_booked ", note="try Friday")
    assert reservation.decline_reason == "fully_booked"
    assert reservation.declined_at == T0
    assert change.note == "try Friday"


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501])
def test_declining_without_a_usable_reason_is_refused(reason: str) -> None:
    reservation = make_reservation()
    with pytest.raises(ValidationError) as info:
        reservation.decline(T0, STAFF, reason)
    assert info.value.field == "decline_reason"
    assert reservation == make_reservation()


def test_a_cancellation_reason_is_carried_in_the_status_change_note() -> None:
    change = make_reservation().cancel(T0, CUSTOMER, reason="flight delayed")
    assert change.note == "flight delayed"


@pytest.mark.parametrize("size", [1, 50])
def test_a_party_size_at_either_bound_is_accepted(size: int) -> None:
    assert make_reservation(party_size=size).party_size == size


@pytest.mark.parametrize("size", [0, -1, 51, True, 2.0, None])
def test_a_party_size_outside_one_to_fifty_is_refused(size: object) -> None:
    with pytest.raises(ValidationError) as info:
        make_reservation(party_size=size)
    assert info.value.field == "party_size"


@pytest.mark.parametrize("minutes", [0, 1441, 30.0])
def test_an_unreasonable_duration_is_refused(minutes: object) -> None:
    with pytest.raises(ValidationError):
        make_reservation(duration_minutes=minutes)


def test_statuses_and_kinds_loaded_as_strings_become_enums() -> None:
    reservation = make_reservation("confirmed", kind="service")  # type: ignore[arg-type]
    assert reservation.status is ReservationStatus.CONFIRMED
    assert reservation.kind is ReservationKind.SERVICE


def test_an_actor_without_the_kind_and_id_form_is_refused() -> None:
    reservation = make_reservation()
    with pytest.raises(ValueError):
        reservation.confirm(T0, "bob")
    assert reservation == make_reservation()


# --- property: random intent sequences ------------------------------------------------------


def _reachable(start: ReservationStatus) -> set[ReservationStatus]:
    seen = {start}
    frontier = [start]
    while frontier:
        for nxt in RESERVATION_TRANSITIONS[frontier.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return seen


REACHABLE_FROM_REQUESTED = _reachable(ReservationStatus.REQUESTED)

_times = st.tuples(
    st.integers(-30, 1200), st.sampled_from(["utc", "utc", "utc", "plus5", "naive"])
).map(
    lambda spec: {
        "utc": T0 + timedelta(minutes=spec[0]),
        "plus5": (T0 + timedelta(minutes=spec[0])).astimezone(timezone(timedelta(hours=5))),
        "naive": (T0 + timedelta(minutes=spec[0])).replace(tzinfo=None),
    }[spec[1]]
)
_actors = st.sampled_from([STAFF, STAFF, CUSTOMER, SLA, "nobody"])
_METHODS: dict[ReservationStatus, tuple[str, st.SearchStrategy[object]]] = {
    ReservationStatus.CONFIRMED: ("confirm", st.none()),
    ReservationStatus.DECLINED: ("decline", st.sampled_from(["fully_booked", "", "closed"])),
    ReservationStatus.SEATED: ("seat", st.none()),
    ReservationStatus.COMPLETED: ("complete", st.none()),
    ReservationStatus.CANCELLED: ("cancel", st.one_of(st.none(), st.text(max_size=5))),
    ReservationStatus.NO_SHOW: ("mark_no_show", st.none()),
}


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(ReservationKind), data=st.data())
def test_any_sequence_of_intents_stays_on_the_table_and_failures_change_nothing(
    kind: ReservationKind, data: st.DataObject
) -> None:
    reservation = make_reservation(kind=kind)
    for _ in range(data.draw(st.integers(0, 12), label="steps")):
        # Bias towards legal moves so sequences get past REQUESTED often enough.
        legal = sorted(RESERVATION_TRANSITIONS[reservation.status])
        aim_legal = data.draw(st.booleans(), label="aim at a legal move")
        pool = legal if legal and aim_legal else sorted(_METHODS)
        method, arg_strategy = _METHODS[data.draw(st.sampled_from(pool))]
        at, actor, arg = data.draw(st.tuples(_times, _actors, arg_strategy), label="call")
        args = () if arg is None else (arg,)

        before = copy.copy(reservation)
        try:
            change = getattr(reservation, method)(at, actor, *args)
        except (DomainError, ValueError):
            assert reservation == before
            continue
        assert (before.status.value, reservation.status.value) in ALLOWED
        assert reservation.version == before.version + 1
        assert change.from_status == before.status.value
        assert change.to_status == reservation.status.value
        assert change.at == require_aware(at, "at")
        assert change.at >= reservation.requested_at
        assert getattr(reservation, timestamp_field(reservation.status)) == change.at
    assert reservation.status in REACHABLE_FROM_REQUESTED
