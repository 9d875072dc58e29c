"""Reporting periods: whole local days of a store's time zone, as half-open UTC intervals.

Accepted forms (case-insensitive, surrounding spaces ignored):

- ``today``: the local day containing ``now``;
- ``Nd`` with 1 <= N <= 3660 (``7d``, ``30d``): the last N local days, today included;
- ``YYYY-MM-DD..YYYY-MM-DD``: those local days, both ends included (at most 3660 days).

``Period.start`` is the first day's local midnight and ``Period.end`` the midnight after the last
day, both aware UTC datetimes; an instant ``t`` is in the period when ``start <= t < end``.
``previous()`` is the same number of local days just before ``first_day`` (a period that
crosses a daylight-saving change may differ from it by an hour; the days are what match).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_DAYS = 3660
PERIOD_FORMS = f"today, Nd (1 <= N <= {MAX_DAYS}, e.g. 7d or 30d) or YYYY-MM-DD..YYYY-MM-DD"

_DAYS_RE = re.compile(r"^(\d{1,6})d$")
_RANGE_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})$")


class PeriodError(ValueError):
    """A period string that is not one of the accepted forms; the message names them."""


def zone(name: str) -> ZoneInfo:
    """The IANA time zone called ``name``; PeriodError when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PeriodError(f"unknown time zone {name!r}") from None


def local_midnight_utc(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which local ``day`` begins in ``tz``."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True)
class Period:
    """Whole local days ``first_day..last_day`` in ``timezone``; ``[start, end)`` in UTC."""

    label: str
    first_day: date
    last_day: date
    timezone: str

    def __post_init__(self) -> None:
        """Refuse empty or over-long periods and unknown zones."""
        if self.last_day < self.first_day:
            raise PeriodError(
                f"period {self.label!r} ends ({self.last_day}) before it starts ({self.first_day})"
            )
        if self.n_days > MAX_DAYS:
            raise PeriodError(f"period {self.label!r} is longer than {MAX_DAYS} days")
        zone(self.timezone)

    @property
    def n_days(self) -> int:
        """Number of local days in the period."""
        return (self.last_day - self.first_day).days + 1

    @property
    def start(self) -> datetime:
        """The first day's local midnight, aware UTC (inclusive)."""
        return local_midnight_utc(self.first_day, zone(self.timezone))

    @property
    def end(self) -> datetime:
        """The local midnight after the last day, aware UTC (exclusive)."""
        return local_midnight_utc(self.last_day + timedelta(days=1), zone(self.timezone))

    @property
    def days(self) -> list[date]:
        """The local days of the period, in order."""
        return [self.first_day + timedelta(days=i) for i in range(self.n_days)]

    def day_bounds(self) -> list[datetime]:
        """UTC instants of each day's local midnight plus the end: n_days + 1 ascending values."""
        tz = zone(self.timezone)
        return [
            local_midnight_utc(self.first_day + timedelta(days=i), tz)
            for i in range(self.n_days + 1)
        ]

    @property
    def range_text(self) -> str:
        """``YYYY-MM-DD..YYYY-MM-DD`` (or one date for a single day)."""
        if self.first_day == self.last_day:
            return self.first_day.isoformat()
        return f"{self.first_day.isoformat()}..{self.last_day.isoformat()}"

    def contains(self, instant: datetime) -> bool:
        """Whether an aware instant lies in ``[start, end)``."""
        return self.start <= instant < self.end

    def previous(self) -> Period:
        """The same number of local days immediately before this period."""
        last = self.first_day - timedelta(days=1)
        first = last - timedelta(days=self.n_days - 1)
        return Period(
            label=f"{first.isoformat()}..{last.isoformat()}",
            first_day=first,
            last_day=last,
            timezone=self.timezone,
        )


def parse_period(text: str, timezone: str, now: datetime) -> Period:
    """Parse ``today``, ``Nd`` or ``YYYY-MM-DD..YYYY-MM-DD`` in ``timezone`` as of aware ``now``."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    tz = zone(timezone)
    raw = text.strip().lower()
    today = now.astimezone(tz).date()
    if raw == "today":
        return Period(label="today", first_day=today, last_day=today, timezone=timezone)
    match = _DAYS_RE.match(raw)
    if match:
        n = int(match.group(1))
        if not 1 <= n <= MAX_DAYS:
            raise PeriodError(f"period {text!r}: N must be between 1 and {MAX_DAYS}")
        first = today - timedelta(days=n - 1)
        return Period(label=f"{n}d", first_day=first, last_day=today, timezone=timezone)
    match = _RANGE_RE.match(raw)
    if match:
        try:
            first, last = (date.fromisoformat(part) for part in match.groups())
        except ValueError as exc:
            raise PeriodError(f"period {text!r}: {exc}") from None
        return Period(label=raw.replace(" ", ""), first_day=first, last_day=last, timezone=timezone)
    raise PeriodError(f"unknown period {text!r}: use {PERIOD_FORMS}")
