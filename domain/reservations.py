"""Reservation lifecycle (tables and service appointments) mirroring the order rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from domain.clock import require_aware
from domain.errors import ValidationError
from domain.orders import StatusChange, check_table_transition, validate_actor, validate_note

RESERVATION_ENTITY: Final = "reservation"

PARTY_SIZE_MIN: Final = 1
PARTY_SIZE_MAX: Final = 50
DURATION_MIN_MINUTES: Final = 1
DURATION_MAX_MINUTES: Final = 24 * 60


class ReservationKind(StrEnum):
    """What is being reserved."""

    TABLE = "table"
    SERVICE = "service"


class ReservationStatus(StrEnum):
    """Where a reservation is in its lifecycle."""

    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    SEATED = "seated"
    COMPLETED = "completed"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


RESERVATION_TRANSITIONS: Final[Mapping[ReservationStatus, frozenset[ReservationStatus]]] = (
    MappingProxyType(
        {
            ReservationStatus.REQUESTED: frozenset(
                {
                    ReservationStatus.CONFIRMED,
                    ReservationStatus.DECLINED,
                    ReservationStatus.CANCELLED,
                }
            ),
            # CONFIRMED -> COMPLETED directly covers services where nobody is "seated".
            ReservationStatus.CONFIRMED: frozenset(
                {
                    ReservationStatus.SEATED,
                    ReservationStatus.COMPLETED,
                    ReservationStatus.CANCELLED,
                    ReservationStatus.NO_SHOW,
                }
            ),
            ReservationStatus.SEATED: frozenset({ReservationStatus.COMPLETED}),
            ReservationStatus.COMPLETED: frozenset(),
            ReservationStatus.DECLINED: frozenset(),
            ReservationStatus.CANCELLED: frozenset(),
            ReservationStatus.NO_SHOW: frozenset(),
        }
    )
)
TERMINAL_RESERVATION_STATUSES: Final = frozenset(
    s for s, nxt in RESERVATION_TRANSITIONS.items() if not nxt
)
OPEN_RESERVATION_STATUSES: Final = frozenset(ReservationStatus) - TERMINAL_RESERVATION_STATUSES

_RESERVATION_TIMESTAMP_FIELDS: Final[Mapping[ReservationStatus, str]] = MappingProxyType(
    {status: f"{status.value}_at" for status in ReservationStatus}
)


def timestamp_field(status: ReservationStatus) -> str:
    """Name of the Reservation attribute (and DB column) stamped on entering ``status``."""
    return _RESERVATION_TIMESTAMP_FIELDS[ReservationStatus(status)]


def can_transition(current: ReservationStatus, target: ReservationStatus) -> bool:
    """Whether the reservation table allows moving from ``current`` to ``target``."""
    return target in RESERVATION_TRANSITIONS.get(current, frozenset())


def check_transition(
    entity: str, entity_id: int | None, current: ReservationStatus, target: ReservationStatus
) -> None:
    """Raise AlreadyInStatus / InvalidTransition unless the reservation table allows the move."""
    check_table_transition(RESERVATION_TRANSITIONS, entity, entity_id, current, target)


def _bounded_int(value: int, field: str, low: int, high: int) -> int:
    if type(value) is not int:
        raise ValidationError(field, "not_integer")
    if not low <= value <= high:
        raise ValidationError(field, "out_of_range")
    return value


def _optional_aware(value: datetime | None, name: str) -> datetime | None:
    return None if value is None else require_aware(value, name)


@dataclass(kw_only=True)
class Reservation:
    """A booked table or service slot; mutate only through the intent methods."""

    id: int | None
    store_id: int
    customer_id: int
    kind: ReservationKind
    party_size: int
    starts_at: datetime
    duration_minutes: int
    status: ReservationStatus = ReservationStatus.REQUESTED
    requested_at: datetime
    confirmed_at: datetime | None = None
    seated_at: datetime | None = None
    completed_at: datetime | None = None
    declined_at: datetime | None = None
    cancelled_at: datetime | None = None
    no_show_at: datetime | None = None
    decline_reason: str | None = None
    version: int = 0

    def __post_init__(self) -> None:
        """Coerce enums (rows arrive as strings) and validate invariants."""
        self.kind = ReservationKind(self.kind)
        self.status = ReservationStatus(self.status)
        _bounded_int(self.party_size, "party_size", PARTY_SIZE_MIN, PARTY_SIZE_MAX)
        _bounded_int(
            self.duration_minutes, "duration_minutes", DURATION_MIN_MINUTES, DURATION_MAX_MINUTES
        )
        self.starts_at = require_aware(self.starts_at, "starts_at")
        self.requested_at = require_aware(self.requested_at, "requested_at")
        for status in ReservationStatus:
            name = timestamp_field(status)
            setattr(self, name, _optional_aware(getattr(self, name), name))
        if type(self.version) is not int or self.version < 0:
            raise ValueError(f"version must be a non-negative int, got {self.version!r}")

    @property
    def ends_at(self) -> datetime:
        """When the reserved slot is over."""
        return self.starts_at + timedelta(minutes=self.duration_minutes)

    @property
    def is_terminal(self) -> bool:
        """Whether no further transition is possible."""
        return self.status in TERMINAL_RESERVATION_STATUSES

    def confirm(self, at: datetime, actor: str) -> StatusChange:
        """Store accepts the booking."""
        at = self._begin(ReservationStatus.CONFIRMED, at, actor)
        return self._commit(ReservationStatus.CONFIRMED, at, actor)

    def decline(
        self, at: datetime, actor: str, reason: str, note: str | None = None
    ) -> StatusChange:
        """Store turns the booking down for ``reason`` (a short code such as "fully_booked")."""
        at = self._begin(ReservationStatus.DECLINED, at, actor)
        clean_reason = validate_note(reason, "decline_reason")
        if clean_reason is None:
            raise ValidationError("decline_reason", "required")
        clean_note = validate_note(note)
        change = self._commit(ReservationStatus.DECLINED, at, actor, clean_note)
        self.decline_reason = clean_reason
        return change

    def seat(self, at: datetime, actor: str) -> StatusChange:
        """Guests have arrived and been seated (or the service has begun)."""
        at = self._begin(ReservationStatus.SEATED, at, actor)
        return self._commit(ReservationStatus.SEATED, at, actor)

    def complete(self, at: datetime, actor: str) -> StatusChange:
        """The visit is over."""
        at = self._begin(ReservationStatus.COMPLETED, at, actor)
        return self._commit(ReservationStatus.COMPLETED, at, actor)

    def cancel(self, at: datetime, actor: str, reason: str | None = None) -> StatusChange:
        """Booking is called off; ``reason`` goes into the StatusChange note."""
        at = self._begin(ReservationStatus.CANCELLED, at, actor)
        clean_reason = validate_note(reason, "reason")
        return self._commit(ReservationStatus.CANCELLED, at, actor, clean_reason)

    def mark_no_show(self, at: datetime, actor: str) -> StatusChange:
        """Guests never came; only possible once the slot has started."""
        at = self._begin(ReservationStatus.NO_SHOW, at, actor)
        # Flagging a no-show before the start time would punish customers who are on time.
        if at < self.starts_at:
            raise ValidationError("at", "before_starts_at")
        return self._commit(ReservationStatus.NO_SHOW, at, actor)

    def _begin(self, target: ReservationStatus, at: datetime, actor: str) -> datetime:
        # Every check runs before any mutation, so a refused call leaves the booking untouched.
        at = require_aware(at, "at")
        validate_actor(actor)
        check_transition(RESERVATION_ENTITY, self.id, self.status, target)
        if at < self.requested_at:
            raise ValidationError("at", "before_requested_at")
        return at

    def _commit(
        self, target: ReservationStatus, at: datetime, actor: str, note: str | None = None
    ) -> StatusChange:
        change = StatusChange(
            entity=RESERVATION_ENTITY,
            entity_id=self.id,
            from_status=self.status.value,
            to_status=target.value,
            actor=actor,
            at=at,
            note=note,
        )
        self.status = target
        setattr(self, timestamp_field(target), at)
        self.version += 1
        return change
