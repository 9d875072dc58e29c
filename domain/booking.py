"""Booking rules: which table a party gets, whether a service has room, until when to cancel.

Pure functions over small value objects; the repository applies them under a lock (PostgreSQL)
or inside a serialised write transaction (SQLite), so two bookings never take the same place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Final

from domain.clock import require_aware
from domain.errors import DomainError, ValidationError
from domain.reservations import (
    OPEN_RESERVATION_STATUSES,
    PARTY_SIZE_MAX,
    ReservationKind,
    ReservationStatus,
)

# A booking must start at least this long after it is made: the store needs a moment to see it.
BOOKING_LEAD_MINUTES: Final = 15
# Reservations in these statuses hold their table or service place.
HOLDING_STATUSES: Final[frozenset[ReservationStatus]] = OPEN_RESERVATION_STATUSES
# Reminders go to bookings the store may still expect.
REMINDABLE_STATUSES: Final[frozenset[ReservationStatus]] = frozenset(
    {ReservationStatus.REQUESTED, ReservationStatus.CONFIRMED}
)
_PARTY_TEXT_RE = re.compile(r"^\s*[+-]?\d{1,6}\s*$")


class SlotUnavailable(DomainError):
    """No table fits the party, or the service is fully booked, at the asked time."""

    code = "slot_unavailable"


@dataclass(frozen=True, slots=True)
class TableInfo:
    """A table as bookings see it."""

    id: int
    label: str
    capacity: int
    active: bool = True


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """A bookable service of one store."""

    id: int
    store_id: int
    code: str
    name: str
    duration_minutes: int
    names: Mapping[str, str] = field(default_factory=dict)
    price_minor: int | None = None
    active: bool = True

    def title(self, locale: str) -> str:
        """The service name in `locale`, falling back to the default name."""
        return self.names.get(locale) or self.name


@dataclass(frozen=True, slots=True)
class Booked:
    """An existing reservation holding a place from `starts_at` for `duration_minutes`."""

    starts_at: datetime
    duration_minutes: int
    kind: ReservationKind
    table_id: int | None = None
    service_id: int | None = None
    status: ReservationStatus = ReservationStatus.REQUESTED

    @property
    def ends_at(self) -> datetime:
        """When the place is free again."""
        return self.starts_at + timedelta(minutes=self.duration_minutes)

    @property
    def holds_place(self) -> bool:
        """Whether this reservation still occupies its table or service place."""
        return self.status in HOLDING_STATUSES


@dataclass(frozen=True, slots=True)
class NewReservation:
    """What the customer asked for, ready to be written."""

    store_id: int
    customer_id: int
    kind: ReservationKind
    party_size: int
    starts_at: datetime
    duration_minutes: int
    requested_at: datetime
    service_id: int | None = None
    contact_phone: str | None = None
    comment: str | None = None

    def __post_init__(self) -> None:
        require_aware(self.starts_at, "starts_at")
        require_aware(self.requested_at, "requested_at")
        if (self.kind is ReservationKind.SERVICE) != (self.service_id is not None):
            raise ValueError("a service booking names its service, a table booking does not")

    @property
    def ends_at(self) -> datetime:
        """When the visit is over."""
        return self.starts_at + timedelta(minutes=self.duration_minutes)


def overlaps(start: datetime, end: datetime, other_start: datetime, other_end: datetime) -> bool:
    """Half-open intervals [start, end) and [other_start, other_end) share a moment."""
    return start < other_end and other_start < end


def _label_key(table: TableInfo) -> tuple[int, int, str, int]:
    # Numbers in numeric order ("2" before "10"), then other labels; id breaks ties.
    if table.label.isdigit():
        return (0, int(table.label), "", table.id)
    return (1, 0, table.label, table.id)


def max_party_size(tables: Iterable[TableInfo]) -> int:
    """The largest party one active table seats (0 without tables), within PARTY_SIZE_MAX."""
    largest = max((table.capacity for table in tables if table.active), default=0)
    return min(largest, PARTY_SIZE_MAX)


def check_party_size(size: int, tables: Iterable[TableInfo]) -> int:
    """`size` if one table can seat it; ValidationError("party_size", too_small | too_large)."""
    if type(size) is not int:
        raise ValidationError("party_size", "not_integer")
    if size < 1:
        raise ValidationError("party_size", "too_small")
    if size > max_party_size(tables):
        raise ValidationError("party_size", "too_large")
    return size


def parse_party_size(text: str, tables: Iterable[TableInfo]) -> int:
    """A typed party size ("4", " 4 "); ValidationError not_a_number | too_small | too_large."""
    if not _PARTY_TEXT_RE.match(text):
        raise ValidationError("party_size", "not_a_number")
    return check_party_size(int(text), tables)


def free_tables(
    tables: Iterable[TableInfo],
    booked: Iterable[Booked],
    start: datetime,
    duration_minutes: int,
) -> list[TableInfo]:
    """Active tables with no holding reservation overlapping [start, start + duration)."""
    end = start + timedelta(minutes=duration_minutes)
    taken = {
        item.table_id
        for item in booked
        if item.kind is ReservationKind.TABLE
        and item.table_id is not None
        and item.holds_place
        and overlaps(start, end, item.starts_at, item.ends_at)
    }
    return [table for table in tables if table.active and table.id not in taken]


def choose_table(
    tables: Iterable[TableInfo],
    booked: Iterable[Booked],
    party_size: int,
    start: datetime,
    duration_minutes: int,
) -> TableInfo | None:
    """The smallest free active table seating `party_size` (lowest label on a tie), or None."""
    fitting = [
        table
        for table in free_tables(tables, booked, start, duration_minutes)
        if table.capacity >= party_size
    ]
    return min(fitting, key=lambda table: (table.capacity, _label_key(table)), default=None)


def service_load(booked: Iterable[Booked], start: datetime, duration_minutes: int) -> int:
    """The most holding appointments running at one moment inside [start, start + duration).

    Appointments of every service of the store count: `service_capacity` is how many the store
    serves in parallel. Two appointments that merely follow each other (10:00-10:30 and
    10:30-11:00) never run together, so a 10:00-11:00 booking sees a load of 1, not 2.
    """
    end = start + timedelta(minutes=duration_minutes)
    events: list[tuple[datetime, int]] = []
    for item in booked:
        if item.kind is not ReservationKind.SERVICE or not item.holds_place:
            continue
        if overlaps(start, end, item.starts_at, item.ends_at):
            events.append((max(item.starts_at, start), 1))
            events.append((min(item.ends_at, end), -1))
    # At equal times ends (-1) sort before starts (+1): back-to-back is not simultaneous.
    events.sort()
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    return peak


def service_has_room(
    booked: Iterable[Booked], start: datetime, duration_minutes: int, capacity: int
) -> bool:
    """Whether one more appointment fits beside those already running in the interval."""
    return service_load(booked, start, duration_minutes) < capacity


def is_available(
    kind: ReservationKind,
    start: datetime,
    duration_minutes: int,
    *,
    tables: Sequence[TableInfo],
    booked: Sequence[Booked],
    party_size: int = 1,
    service_capacity: int = 1,
) -> bool:
    """Whether a booking of `kind` could be made at `start` right now."""
    if kind is ReservationKind.TABLE:
        return choose_table(tables, booked, party_size, start, duration_minutes) is not None
    return service_has_room(booked, start, duration_minutes, service_capacity)


def allocate(
    request: NewReservation,
    *,
    tables: Sequence[TableInfo],
    booked: Sequence[Booked],
    service_capacity: int,
) -> TableInfo | None:
    """The table a table booking gets (None for a service); SlotUnavailable when full."""
    if request.kind is ReservationKind.TABLE:
        table = choose_table(
            tables, booked, request.party_size, request.starts_at, request.duration_minutes
        )
        if table is None:
            raise SlotUnavailable("no table fits the party at that time")
        return table
    if not service_has_room(booked, request.starts_at, request.duration_minutes, service_capacity):
        raise SlotUnavailable("the service is fully booked at that time")
    return None


def cancel_deadline(starts_at: datetime, cutoff_minutes: int) -> datetime:
    """The last moment a customer may cancel: `cutoff_minutes` before the start."""
    return require_aware(starts_at, "starts_at") - timedelta(minutes=cutoff_minutes)


def can_cancel(starts_at: datetime, now: datetime, cutoff_minutes: int) -> bool:
    """Whether a customer may still cancel at `now` (up to and including the deadline)."""
    return require_aware(now, "now") <= cancel_deadline(starts_at, cutoff_minutes)


def booking_days(today: date, days_ahead: int) -> list[date]:
    """The local dates a booking may fall on: today and the next `days_ahead` days."""
    if days_ahead < 0:
        raise ValueError("days_ahead must not be negative")
    return [today + timedelta(days=offset) for offset in range(days_ahead + 1)]


def reminder_due(
    starts_at: datetime, requested_at: datetime, now: datetime, reminder_minutes: int
) -> bool:
    """Whether a reminder should go out now.

    Due once `now` is within `reminder_minutes` of the start and before it. A booking made
    inside that window needs no reminder (the customer has just made it), nor does any booking
    of a store that set `reminder_minutes` to 0.
    """
    if reminder_minutes <= 0:
        return False
    window_opens = starts_at - timedelta(minutes=reminder_minutes)
    return window_opens <= now < starts_at and requested_at < window_opens
