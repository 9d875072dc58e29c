"""Time sources injected into services so domain rules never read the wall clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


def require_aware(dt: datetime, name: str = "datetime") -> datetime:
    """Return ``dt`` converted to UTC, refusing naive datetimes with ValueError."""
    if not isinstance(dt, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(dt).__name__}")
    # A tzinfo whose utcoffset() is None is as ambiguous as no tzinfo at all.
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {dt.isoformat()}")
    return dt.astimezone(UTC)


@runtime_checkable
class Clock(Protocol):
    """Something that can tell the current time as an aware UTC datetime."""

    def now(self) -> datetime:
        """Current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The real clock, for production wiring."""

    def now(self) -> datetime:
        """Current wall-clock time in UTC."""
        # The one sanctioned read of the wall clock: everything else receives a Clock (or a
        # plain datetime) so SLA timers and status stamps stay deterministic under test.
        return datetime.now(UTC)


class FixedClock:
    """A manually driven clock for tests and simulations."""

    def __init__(self, start: datetime) -> None:
        """Start frozen at ``start`` (must be timezone-aware)."""
        self._now = require_aware(start, "start")

    def now(self) -> datetime:
        """The frozen current time."""
        return self._now

    def advance(
        self,
        delta: timedelta | None = None,
        /,
        *,
        weeks: int = 0,
        days: int = 0,
        hours: int = 0,
        minutes: int = 0,
        seconds: int = 0,
        milliseconds: int = 0,
        microseconds: int = 0,
    ) -> datetime:
        """Move time forward (or back, with negative values) and return the new time."""
        step = timedelta(
            weeks=weeks,
            days=days,
            hours=hours,
            minutes=minutes,
            seconds=seconds,
            milliseconds=milliseconds,
            microseconds=microseconds,
        )
        if delta is not None:
            step += delta
        self._now += step
        return self._now

    def set(self, dt: datetime) -> datetime:
        """Jump to ``dt`` (must be timezone-aware) and return it in UTC."""
        self._now = require_aware(dt, "dt")
        return self._now

    def __repr__(self) -> str:
        """Show the frozen time, handy in assertion messages."""
        return f"FixedClock({self._now.isoformat()})"


class RunningClock:
    """Real elapsed time counted from a chosen start: deterministic dates that still move.

    The offline demo and scenario tests use it so store hours and slots do not depend on when
    they run, while retries and timers still see time pass.
    """

    def __init__(self, start: datetime) -> None:
        """Start at ``start`` (timezone-aware) now."""
        self._start = require_aware(start, "start")
        self._origin = time.monotonic()

    def now(self) -> datetime:
        """The start plus the real time elapsed since construction."""
        return self._start + timedelta(seconds=time.monotonic() - self._origin)

    def advance(self, minutes: float) -> None:
        """Skip ahead, so due work (surveys, reminders, time limits) comes due now."""
        self._start += timedelta(minutes=minutes)
