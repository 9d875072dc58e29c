"""Order lifecycle: statuses, the explicit transition table and intent methods enforcing it."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Final, TypeVar

from domain.clock import require_aware
from domain.errors import AlreadyInStatus, InvalidTransition, ValidationError
from domain.money import Money

ORDER_ENTITY: Final = "order"

ETA_MIN_MINUTES: Final = 1
ETA_MAX_MINUTES: Final = 240
NOTE_MAX_LENGTH: Final = 500

PICKUP_CODE_MIN_LENGTH: Final = 4
PICKUP_CODE_MAX_LENGTH: Final = 8
# Codes are read aloud and typed from a phone screen, so 0/O, 1/I/L are left out.
PICKUP_CODE_ALPHABET: Final = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
# The audit note of an SLA re-announcement (a placed -> placed event): the card has a copy.
REANNOUNCED_NOTE: Final = "reannounced"
_PICKUP_CODE_RE = re.compile(r"[A-Z0-9]{4,8}")
# "kind:id", e.g. "staff:123", "customer:42", "system:sla"; the audit log is grepped by kind.
_ACTOR_RE = re.compile(r"[a-z][a-z_]*:[^\s:]+")

StatusT = TypeVar("StatusT", bound=StrEnum)


class OrderStatus(StrEnum):
    """Where an order is in its lifecycle."""

    PLACED = "placed"
    ACCEPTED = "accepted"
    READY = "ready"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class Fulfilment(StrEnum):
    """How the customer receives the order."""

    PICKUP = "pickup"
    DELIVERY = "delivery"
    DINE_IN = "dine_in"


class RejectReason(StrEnum):
    """Why a store turned an order down; shown to the customer via i18n."""

    SOLD_OUT = "sold_out"
    CLOSING_SOON = "closing_soon"
    TOO_BUSY = "too_busy"
    OTHER = "other"


ORDER_TRANSITIONS: Final[Mapping[OrderStatus, frozenset[OrderStatus]]] = MappingProxyType(
    {
        OrderStatus.PLACED: frozenset(
            {OrderStatus.ACCEPTED, OrderStatus.REJECTED, OrderStatus.CANCELLED}
        ),
        OrderStatus.ACCEPTED: frozenset({OrderStatus.READY, OrderStatus.CANCELLED}),
        OrderStatus.READY: frozenset({OrderStatus.COMPLETED, OrderStatus.NO_SHOW}),
        OrderStatus.COMPLETED: frozenset(),
        OrderStatus.REJECTED: frozenset(),
        OrderStatus.CANCELLED: frozenset(),
        OrderStatus.NO_SHOW: frozenset(),
    }
)
TERMINAL_ORDER_STATUSES: Final = frozenset(s for s, nxt in ORDER_TRANSITIONS.items() if not nxt)
OPEN_ORDER_STATUSES: Final = frozenset(OrderStatus) - TERMINAL_ORDER_STATUSES

_ORDER_TIMESTAMP_FIELDS: Final[Mapping[OrderStatus, str]] = MappingProxyType(
    {status: f"{status.value}_at" for status in OrderStatus}
)


def timestamp_field(status: OrderStatus) -> str:
    """Name of the Order attribute (and DB column) stamped on entering ``status``."""
    return _ORDER_TIMESTAMP_FIELDS[OrderStatus(status)]


def check_table_transition(
    table: Mapping[StatusT, frozenset[StatusT]],
    entity: str,
    entity_id: int | None,
    current: StatusT,
    target: StatusT,
) -> None:
    """Raise AlreadyInStatus / InvalidTransition unless ``table`` allows current -> target."""
    if current == target:
        raise AlreadyInStatus(entity, entity_id, current, target)
    if target not in table.get(current, frozenset()):
        raise InvalidTransition(entity, entity_id, current, target)


def can_transition(current: OrderStatus, target: OrderStatus) -> bool:
    """Whether the order table allows moving from ``current`` to ``target``."""
    return target in ORDER_TRANSITIONS.get(current, frozenset())


def check_transition(
    entity: str, entity_id: int | None, current: OrderStatus, target: OrderStatus
) -> None:
    """Raise AlreadyInStatus / InvalidTransition unless the order table allows the move."""
    check_table_transition(ORDER_TRANSITIONS, entity, entity_id, current, target)


def validate_actor(actor: str) -> str:
    """Return ``actor`` if it has the ``kind:id`` form used in the audit log."""
    if not isinstance(actor, str) or not _ACTOR_RE.fullmatch(actor):
        raise ValueError(f"actor must look like 'kind:id' (e.g. 'staff:123'), got {actor!r}")
    return actor


def validate_note(text: str | None, field: str = "note") -> str | None:
    """Strip free text, turning blank into None and refusing overly long input."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise ValidationError(field, "not_text")
    text = text.strip()
    if len(text) > NOTE_MAX_LENGTH:
        raise ValidationError(field, "too_long")
    return text or None


def validate_eta(eta_minutes: int) -> int:
    """Return ``eta_minutes`` if it is an int within the allowed range."""
    if type(eta_minutes) is not int:
        raise ValidationError("eta_minutes", "not_integer")
    if not ETA_MIN_MINUTES <= eta_minutes <= ETA_MAX_MINUTES:
        raise ValidationError("eta_minutes", "out_of_range")
    return eta_minutes


def validate_pickup_code(code: str) -> str:
    """Return ``code`` if it is 4-8 characters of A-Z and 0-9."""
    if not isinstance(code, str) or not _PICKUP_CODE_RE.fullmatch(code):
        raise ValidationError("pickup_code", "malformed")
    return code


def generate_pickup_code(rng: random.Random, length: int = PICKUP_CODE_MIN_LENGTH) -> str:
    """Random pickup code drawn from an alphabet without look-alike characters."""
    if type(length) is not int or not (PICKUP_CODE_MIN_LENGTH <= length <= PICKUP_CODE_MAX_LENGTH):
        raise ValueError(
            f"length must be {PICKUP_CODE_MIN_LENGTH}..{PICKUP_CODE_MAX_LENGTH}, got {length!r}"
        )
    return "".join(rng.choice(PICKUP_CODE_ALPHABET) for _ in range(length))


def _optional_aware(value: datetime | None, name: str) -> datetime | None:
    return None if value is None else require_aware(value, name)


@dataclass(frozen=True, slots=True)
class StatusChange:
    """An audit record of one status transition, returned by every intent method."""

    entity: str
    entity_id: int | None
    from_status: str
    to_status: str
    actor: str
    at: datetime
    note: str | None = None
    # The person's display name when a person acted, so others can be told who moved it.
    actor_name: str | None = None

    def __post_init__(self) -> None:
        """Normalise ``at`` to UTC and check the actor format."""
        object.__setattr__(self, "at", require_aware(self.at, "at"))
        validate_actor(self.actor)
        # Store plain strings so the record serialises the same whether built from enums
        # or read back from the database.
        object.__setattr__(self, "from_status", str(self.from_status))
        object.__setattr__(self, "to_status", str(self.to_status))


@dataclass(kw_only=True)
class Order:
    """A customer's order at one store; mutate only through the intent methods."""

    id: int | None
    store_id: int
    customer_id: int
    fulfilment: Fulfilment
    status: OrderStatus = OrderStatus.PLACED
    placed_at: datetime
    accepted_at: datetime | None = None
    ready_at: datetime | None = None
    completed_at: datetime | None = None
    rejected_at: datetime | None = None
    cancelled_at: datetime | None = None
    no_show_at: datetime | None = None
    eta_minutes: int | None = None
    ready_by: datetime | None = None
    reject_reason: str | None = None
    pickup_code: str | None = None
    total: Money
    version: int = 0

    def __post_init__(self) -> None:
        """Coerce enums (rows arrive as strings) and validate invariants."""
        self.status = OrderStatus(self.status)
        self.fulfilment = Fulfilment(self.fulfilment)
        self.placed_at = require_aware(self.placed_at, "placed_at")
        for status in OrderStatus:
            name = timestamp_field(status)
            setattr(self, name, _optional_aware(getattr(self, name), name))
        self.ready_by = _optional_aware(self.ready_by, "ready_by")
        if not isinstance(self.total, Money):
            raise TypeError(f"total must be Money, got {type(self.total).__name__}")
        if self.total.amount_minor < 0:
            raise ValidationError("total", "negative")
        if self.eta_minutes is not None:
            validate_eta(self.eta_minutes)
        if self.pickup_code is not None:
            validate_pickup_code(self.pickup_code)
        if type(self.version) is not int or self.version < 0:
            raise ValueError(f"version must be a non-negative int, got {self.version!r}")

    @property
    def is_terminal(self) -> bool:
        """Whether no further transition is possible."""
        return self.status in TERMINAL_ORDER_STATUSES

    def accept(self, at: datetime, actor: str, eta_minutes: int) -> StatusChange:
        """Store accepts the order and promises it ready ``eta_minutes`` after ``at``."""
        at = self._begin(OrderStatus.ACCEPTED, at, actor)
        eta = validate_eta(eta_minutes)
        change = self._commit(OrderStatus.ACCEPTED, at, actor)
        self.eta_minutes = eta
        self.ready_by = at + timedelta(minutes=eta)
        return change

    def reject(
        self, at: datetime, actor: str, reason: RejectReason, note: str | None = None
    ) -> StatusChange:
        """Store turns the order down for ``reason``."""
        at = self._begin(OrderStatus.REJECTED, at, actor)
        try:
            reject_reason = RejectReason(reason)
        except ValueError:
            raise ValidationError("reject_reason", "unknown") from None
        clean_note = validate_note(note)
        change = self._commit(OrderStatus.REJECTED, at, actor, clean_note)
        self.reject_reason = reject_reason
        return change

    def mark_ready(self, at: datetime, actor: str, pickup_code: str | None = None) -> StatusChange:
        """Order is ready; sets ``pickup_code`` if given (pickup orders must end up with one)."""
        at = self._begin(OrderStatus.READY, at, actor)
        code = self.pickup_code if pickup_code is None else validate_pickup_code(pickup_code)
        # Without a code the counter cannot tell whose bag to hand over.
        if code is None and self.fulfilment is Fulfilment.PICKUP:
            raise ValidationError("pickup_code", "required")
        change = self._commit(OrderStatus.READY, at, actor)
        self.pickup_code = code
        return change

    def complete(self, at: datetime, actor: str) -> StatusChange:
        """Customer has received the order."""
        at = self._begin(OrderStatus.COMPLETED, at, actor)
        return self._commit(OrderStatus.COMPLETED, at, actor)

    def cancel(self, at: datetime, actor: str, reason: str | None = None) -> StatusChange:
        """Order is called off; ``reason`` goes into the StatusChange note."""
        at = self._begin(OrderStatus.CANCELLED, at, actor)
        clean_reason = validate_note(reason, "reason")
        return self._commit(OrderStatus.CANCELLED, at, actor, clean_reason)

    def mark_no_show(self, at: datetime, actor: str) -> StatusChange:
        """Customer never collected a ready order."""
        at = self._begin(OrderStatus.NO_SHOW, at, actor)
        return self._commit(OrderStatus.NO_SHOW, at, actor)

    def _begin(self, target: OrderStatus, at: datetime, actor: str) -> datetime:
        # Every check runs before any mutation, so a refused call leaves the order untouched.
        at = require_aware(at, "at")
        validate_actor(actor)
        check_transition(ORDER_ENTITY, self.id, self.status, target)
        if at < self.placed_at:
            raise ValidationError("at", "before_placed_at")
        return at

    def _commit(
        self, target: OrderStatus, at: datetime, actor: str, note: str | None = None
    ) -> StatusChange:
        change = StatusChange(
            entity=ORDER_ENTITY,
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
