"""Stores and the deep links that select them (QR codes on posters and table tents)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from domain.campaigns import WEEKDAYS, parse_policy

STORE_CODE_RE = re.compile(r"^[a-z0-9_]{2,32}$")
_TABLE_RE = re.compile(r"^[A-Za-z0-9]{1,8}$")
_CLOCK_RE = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


FULFILMENT_TYPES: tuple[str, ...] = ("pickup", "delivery", "dine_in")
SLA_TIMEOUT_ACTIONS: tuple[str, ...] = ("reject", "accept")
BUSY_EXTRA_MAX_MINUTES = 120
SLA_MAX_MINUTES = 1440


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Per-store operating rules, kept as JSON in stores.settings and validated here."""

    fulfilment: tuple[str, ...] = ("pickup", "dine_in")
    prep_minutes: int = 15  # ASAP pickup promise before staff give an ETA
    slot_minutes: int = 15  # pickup slot length
    slot_capacity: int = 10  # orders per pickup slot
    max_line_quantity: int = 20
    delivery_radius_km: float = 3.0
    delivery_fee_minor: int = 0
    delivery_min_order_minor: int = 0
    reservations: bool = True
    reservation_slot_minutes: int = 30
    reservation_duration_minutes: int = 90
    reservation_reminder_minutes: int = 60
    reservation_cancel_cutoff_minutes: int = 120
    reservation_days_ahead: int = 14
    service_capacity: int = 1  # appointments served in parallel
    # Acceptance SLA (0 turns a step off): re-announce a waiting order, then time it out with
    # `sla_timeout_action`, and pause the store after `sla_pause_after` timeouts in a row.
    sla_reannounce_minutes: int = 5
    sla_timeout_minutes: int = 15
    sla_timeout_action: str = "reject"
    sla_pause_after: int = 3
    busy_extra_minutes: int = 0  # /busy +N: added to every ETA staff give
    # Satisfaction survey: sent this long after completion, never in the quiet hours (store
    # local time, "HH:MM"; equal start and end mean no quiet hours).
    survey_delay_minutes: int = 30
    survey_quiet_start: str = "21:00"
    survey_quiet_end: str = "09:00"
    # Push campaigns: what each RFM segment gets (domain/campaigns.py; "" is the default
    # policy), at most one push per customer per push_min_days, none in the quiet hours, and
    # optionally a campaign planned and sent every week (retraining the recommender).
    push_policy: str = ""
    push_min_days: int = 7
    push_quiet_start: str = "21:00"
    push_quiet_end: str = "10:00"
    push_winback_offer: str = ""  # a line added to win-back pushes, e.g. a discount code
    push_weekly: bool = False
    push_weekly_day: str = "mon"
    push_weekly_time: str = "11:00"
    rfm_model: str = "classic8"

    def __post_init__(self) -> None:
        unknown = set(self.fulfilment) - set(FULFILMENT_TYPES)
        if unknown or not self.fulfilment:
            raise ValueError(f"fulfilment must be a non-empty subset of {FULFILMENT_TYPES}")
        for name in (
            "prep_minutes",
            "slot_minutes",
            "slot_capacity",
            "max_line_quantity",
            "reservation_slot_minutes",
            "reservation_duration_minutes",
            "reservation_days_ahead",
            "service_capacity",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer")
        for name in (
            "delivery_fee_minor",
            "delivery_min_order_minor",
            "reservation_reminder_minutes",
            "reservation_cancel_cutoff_minutes",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer")
        for name, top in (
            ("sla_reannounce_minutes", SLA_MAX_MINUTES),
            ("sla_timeout_minutes", SLA_MAX_MINUTES),
            ("sla_pause_after", 100),
            ("busy_extra_minutes", BUSY_EXTRA_MAX_MINUTES),
            ("survey_delay_minutes", SLA_MAX_MINUTES),
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
                raise ValueError(f"{name} must be an integer in 0..{top}")
        if self.sla_timeout_action not in SLA_TIMEOUT_ACTIONS:
            raise ValueError(f"sla_timeout_action must be one of {SLA_TIMEOUT_ACTIONS}")
        if (
            not isinstance(self.push_min_days, int)
            or isinstance(self.push_min_days, bool)
            or not 1 <= self.push_min_days <= 90
        ):
            raise ValueError("push_min_days must be an integer in 1..90")
        if not isinstance(self.push_policy, str):
            raise ValueError("push_policy must be text like important_value=recommended")
        parse_policy(self.push_policy)
        if not isinstance(self.push_winback_offer, str) or len(self.push_winback_offer) > 200:
            raise ValueError("push_winback_offer must be text of at most 200 characters")
        if not isinstance(self.push_weekly, bool):
            raise ValueError("push_weekly must be true or false")
        if self.push_weekly_day not in WEEKDAYS:
            raise ValueError(f"push_weekly_day must be one of {', '.join(WEEKDAYS)}")
        if self.rfm_model not in ("classic8", "quintile"):
            raise ValueError("rfm_model must be classic8 or quintile")
        for name in (
            "survey_quiet_start",
            "survey_quiet_end",
            "push_quiet_start",
            "push_quiet_end",
            "push_weekly_time",
        ):
            if not isinstance(getattr(self, name), str) or not _CLOCK_RE.fullmatch(
                getattr(self, name)
            ):
                raise ValueError(f"{name} must be a time of day like 21:00")
        if not 0 < self.delivery_radius_km <= 100:
            raise ValueError("delivery_radius_km must be in (0, 100]")

    @classmethod
    def from_json(cls, data: Mapping[str, object] | None) -> StoreSettings:
        """Build from the stored JSON; unknown keys are refused so typos surface."""
        data = dict(data or {})
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown store settings: {', '.join(sorted(unknown))}")
        if "fulfilment" in data:
            value = data["fulfilment"]
            if not isinstance(value, list | tuple):
                raise ValueError("fulfilment must be a list")
            data["fulfilment"] = tuple(str(item) for item in value)
        return cls(**data)  # type: ignore[arg-type]  # values are checked in __post_init__

    def to_json(self) -> dict[str, object]:
        """The JSON stored in stores.settings."""
        data: dict[str, object] = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["fulfilment"] = list(self.fulfilment)
        return data


@dataclass(slots=True)
class Store:
    """A physical shop."""

    code: str
    name: str
    address: str = ""
    latitude: float | None = None
    longitude: float | None = None
    timezone: str = "UTC"
    opening_hours: Mapping[str, Sequence[Sequence[str]]] = field(default_factory=dict)
    currency: str = "USD"
    staff_chat_id: int | None = None
    manager_telegram_id: int | None = None
    paused: bool = False
    settings: StoreSettings = field(default_factory=StoreSettings)
    id: int | None = None
    paused_until: datetime | None = None  # a pause with an end; None with paused: until resumed

    def is_paused(self, now: datetime) -> bool:
        """Paused right now: a pause whose end has passed no longer counts."""
        return self.paused and (self.paused_until is None or self.paused_until > now)


@dataclass(frozen=True, slots=True)
class DeepLink:
    """What a /start payload asks for: a store, and for scan-to-order a table."""

    store_code: str
    table: str | None = None


def is_valid_store_code(code: str) -> bool:
    """Store codes are 2-32 lower-case letters, digits or underscores (safe in deep links)."""
    return bool(STORE_CODE_RE.match(code))


def store_deep_link_payload(store_code: str, table: str | None = None) -> str:
    """The /start payload for a store, optionally at a table: s<code> or s<code>t<table>."""
    if not is_valid_store_code(store_code):
        raise ValueError(f"invalid store code {store_code!r}")
    if table is None:
        return f"s{store_code}"
    if not _TABLE_RE.match(table):
        raise ValueError(f"invalid table label {table!r}")
    return f"s{store_code}t{table}"


def deep_link_candidates(payload: str) -> list[DeepLink]:
    """Readings of a /start payload in priority order; the caller keeps the first known store.

    A store code may itself contain 't', so 'scafet12' could be store 'cafet12' or store 'cafe' at
    table 12. The whole payload as a store code comes first (so a plain store link always means
    that store), then table readings from the last 't' backwards.
    """
    if not payload.startswith("s") or len(payload) > 64:
        return []
    body = payload[1:]
    readings: list[DeepLink] = [DeepLink(body)] if is_valid_store_code(body) else []
    cut = body.rfind("t")
    while cut > 0:
        code, table = body[:cut], body[cut + 1 :]
        if is_valid_store_code(code) and _TABLE_RE.match(table):
            readings.append(DeepLink(code, table))
        cut = body.rfind("t", 0, cut)
    return readings
