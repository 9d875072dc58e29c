"""Opening hours: validation, the admin CLI syntax, open/closed queries and time slots.

Opening hours are stored per store as JSON, ``{"mon": [["07:30", "21:00"]], ...}``: local
wall-clock times in the store's IANA time zone. An end earlier than its start runs past midnight
into the next day (``["18:00", "02:00"]`` on ``fri`` is Fri 18:00 - Sat 02:00) and ``"24:00"``
is allowed as an end. Intervals are half-open: open at the start, closed at the end.

Every instant going in must be timezone-aware; every instant coming out is aware UTC. Nothing
here reads the clock: the caller passes the current time.

Daylight-saving time. Interval boundaries are wall-clock times turned into instants on the day
they apply to:

* a wall time that does not exist (it falls in the spring-forward gap) is moved forward to the
  end of the gap, the first instant the clock shows a later time (opening at 02:30 on
  2026-03-29 in Europe/Berlin means opening at 03:00 CEST). This mapping never goes backwards,
  so intervals keep their order; an interval lying wholly inside a gap vanishes that day;
* a wall time that happens twice (the autumn fall-back hour) means its first occurrence
  (``fold=0``).

Slots sit on the local wall-clock grid (multiples of the slot length from local midnight): grid
times inside a gap do not exist and are skipped; grid times in the repeated hour happen twice
and both instants are offered when they are inside opening hours (they are distinct instants).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Final, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.clock import require_aware

WEEKDAYS: Final[tuple[str, ...]] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY: Final = 24 * 60
LOOKAHEAD_DAYS: Final = 8  # how far next_opening and pickup_slots look for an opening

HoursJSON: TypeAlias = dict[str, list[list[str]]]
HoursData: TypeAlias = Mapping[str, Sequence[Sequence[str]]]

_CLOCK_RE: Final = re.compile(r"^(\d{1,2}):(\d{2})$")
_FULL_DAY_NAMES: Final = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
_DAY_GROUPS: Final[Mapping[str, tuple[int, ...]]] = {
    "daily": tuple(range(7)),
    "everyday": tuple(range(7)),
    "weekdays": tuple(range(5)),
    "weekend": (5, 6),
    "weekends": (5, 6),
}
_SPEC_EXAMPLE: Final = "e.g. 'mon-fri 08:00-20:00; sat 09:00-13:00,14:00-18:00; sun closed'"
# Grid times up to this much before a window's start may still land inside it (the second
# occurrence of a repeated hour); DST shifts are at most two hours.
_DST_SLACK_MINUTES: Final = 180


# --------------------------------------------------------------------------- model


def _clock_text(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True, slots=True, order=True)
class Interval:
    """One opening interval of a weekday, in minutes from that day's local midnight.

    ``end`` is above 1440 for an interval running past midnight: 18:00-02:00 is
    ``Interval(1080, 1560)``. 00:00-24:00 (``Interval(0, 1440)``) is the longest.
    """

    start: int
    end: int

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"interval {name} must be an int of minutes, got {value!r}")
        if not 0 <= self.start < MINUTES_PER_DAY:
            raise ValueError(f"interval start must be in [0, 1440) minutes, got {self.start}")
        if not (
            self.start < self.end <= MINUTES_PER_DAY
            or MINUTES_PER_DAY < self.end < self.start + MINUTES_PER_DAY
        ):
            raise ValueError(
                f"interval end {self.end} must be after start {self.start} and less than a day"
                " later"
            )

    @property
    def past_midnight(self) -> bool:
        """True when the interval ends on the next day (after 24:00)."""
        return self.end > MINUTES_PER_DAY

    @property
    def start_text(self) -> str:
        """The start as "HH:MM"."""
        return _clock_text(self.start)

    @property
    def end_text(self) -> str:
        """The end as stored: "HH:MM" (the next day's time past midnight), or "24:00"."""
        if self.end == MINUTES_PER_DAY:
            return "24:00"
        return _clock_text(self.end % MINUTES_PER_DAY)

    def __str__(self) -> str:
        """``"08:00-20:00"``, the spelling of the admin CLI."""
        return f"{self.start_text}-{self.end_text}"


def _closed_week() -> tuple[tuple[Interval, ...], ...]:
    return ((),) * 7


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """A store's weekly opening hours: for each weekday (Monday first) its sorted intervals.

    Construction validates: exactly seven days, no two intervals of a day overlapping, and no
    interval running past midnight into the next day's first interval (touching is fine:
    ``mon 18:00-24:00`` followed by ``tue 00:00-02:00`` is one evening that ends at 02:00).
    """

    days: tuple[tuple[Interval, ...], ...] = field(default_factory=_closed_week)

    def __post_init__(self) -> None:
        if len(self.days) != len(WEEKDAYS):
            raise ValueError(f"opening hours need 7 days of intervals, got {len(self.days)}")
        for index, intervals in enumerate(self.days):
            for item in intervals:
                if not isinstance(item, Interval):
                    raise TypeError(f"{WEEKDAYS[index]}: expected Interval, got {item!r}")
        days = tuple(tuple(sorted(intervals)) for intervals in self.days)
        for index, intervals in enumerate(days):
            name = WEEKDAYS[index]
            for earlier, later in pairwise(intervals):
                if later.start < earlier.end:
                    raise ValueError(f"{name}: intervals {earlier} and {later} overlap")
            if intervals and intervals[-1].past_midnight:
                spill_end = intervals[-1].end - MINUTES_PER_DAY
                next_name = WEEKDAYS[(index + 1) % 7]
                following = days[(index + 1) % 7]
                if following and following[0].start < spill_end:
                    raise ValueError(
                        f"{name}: {intervals[-1]} runs past midnight into {next_name} and"
                        f" overlaps {next_name} {following[0]}"
                    )
        object.__setattr__(self, "days", days)

    @classmethod
    def parse(cls, data: HoursData) -> OpeningHours:
        """Validate the stored JSON: ``{"mon": [["07:30", "21:00"], ...], ...}``.

        Keys are ``mon`` ... ``sun`` (missing days are closed); each value a list of
        ``["HH:MM", "HH:MM"]`` pairs. ValueError names the day and the offending value.
        """
        if not isinstance(data, Mapping):
            raise ValueError(
                f"opening hours must be a mapping of weekday to intervals, got {data!r}"
            )
        days: list[list[Interval]] = [[] for _ in WEEKDAYS]
        for key, value in data.items():
            if key not in WEEKDAYS:
                raise ValueError(
                    f"unknown weekday {key!r} in opening hours; expected one of"
                    f" {', '.join(WEEKDAYS)}"
                )
            if isinstance(value, str | bytes) or not isinstance(value, Sequence):
                raise ValueError(f"{key}: expected a list of [start, end] pairs, got {value!r}")
            for pair in value:
                days[WEEKDAYS.index(key)].append(_parse_pair(key, pair))
        return cls(tuple(tuple(intervals) for intervals in days))

    @classmethod
    def always(cls) -> OpeningHours:
        """Open around the clock: 00:00-24:00 every day."""
        return cls(((Interval(0, MINUTES_PER_DAY),),) * 7)

    @classmethod
    def closed(cls) -> OpeningHours:
        """Never open."""
        return cls()

    def on(self, weekday: int | str) -> tuple[Interval, ...]:
        """The intervals starting on a weekday, given as 0-6 (Monday 0) or ``"mon"``..."""
        if isinstance(weekday, str):
            if weekday not in WEEKDAYS:
                raise ValueError(f"unknown weekday {weekday!r}")
            weekday = WEEKDAYS.index(weekday)
        if not 0 <= weekday < 7:
            raise ValueError(f"weekday must be 0-6, got {weekday}")
        return self.days[weekday]

    @property
    def never_open(self) -> bool:
        """True when no day has any interval."""
        return not any(self.days)

    def to_json(self) -> HoursJSON:
        """The stored JSON, canonical: weekday order, sorted intervals, closed days omitted.

        An end of "00:00" after a later start comes back as "24:00" (the same moment).
        """
        return {
            WEEKDAYS[index]: [[item.start_text, item.end_text] for item in intervals]
            for index, intervals in enumerate(self.days)
            if intervals
        }


HoursLike: TypeAlias = OpeningHours | HoursData


def _parse_clock(text: object, *, is_end: bool) -> int:
    """Minutes from midnight of "H:MM"/"HH:MM"; "24:00" only as an end."""
    if not isinstance(text, str):
        raise ValueError(f"expected a time as 'HH:MM', got {text!r}")
    match = _CLOCK_RE.match(text.strip())
    if match is None:
        raise ValueError(f"expected a time as 'HH:MM', got {text!r}")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if is_end and (hours, minutes) == (24, 0):
        return MINUTES_PER_DAY
    if hours > 23 or minutes > 59:
        allowed = "00:00-24:00" if is_end else "00:00-23:59"
        raise ValueError(f"time {text!r} is out of range ({allowed})")
    return hours * 60 + minutes


def _parse_pair(day: str, pair: object) -> Interval:
    if isinstance(pair, str | bytes) or not isinstance(pair, Sequence) or len(pair) != 2:
        raise ValueError(f'{day}: expected a ["HH:MM", "HH:MM"] pair, got {pair!r}')
    try:
        start = _parse_clock(pair[0], is_end=False)
        end = _parse_clock(pair[1], is_end=True)
    except ValueError as exc:
        raise ValueError(f"{day}: {exc} in {list(pair)!r}") from None
    if start == end:
        raise ValueError(f"{day}: interval {list(pair)!r} opens and closes at the same time")
    if end < start:
        end += MINUTES_PER_DAY  # runs past midnight into the next day
    return Interval(start, end)


def _coerce(hours: HoursLike) -> OpeningHours:
    return hours if isinstance(hours, OpeningHours) else OpeningHours.parse(hours)


# --------------------------------------------------------------------------- admin CLI syntax


def _day_index(token: str, clause: str) -> int:
    if token in WEEKDAYS:
        return WEEKDAYS.index(token)
    if token in _FULL_DAY_NAMES:
        return _FULL_DAY_NAMES.index(token)
    raise ValueError(
        f"unknown day {token!r} in {clause!r}: use mon, tue, wed, thu, fri, sat, sun, a range"
        " like mon-fri, or daily"
    )


def _parse_days(text: str, clause: str) -> list[int]:
    days: list[int] = []
    for item in text.split(","):
        if not item:
            raise ValueError(f"empty day in {clause!r}")
        if item in _DAY_GROUPS:
            days.extend(_DAY_GROUPS[item])
        elif "-" in item:
            first_text, _, last_text = item.partition("-")
            first, last = _day_index(first_text, clause), _day_index(last_text, clause)
            days.extend((first + step) % 7 for step in range((last - first) % 7 + 1))
        else:
            days.append(_day_index(item, clause))
    return days


def _parse_ranges(tokens: list[str], clause: str) -> list[list[str]]:
    if tokens == ["closed"]:
        return []
    if tokens == ["24h"]:
        return [["00:00", "24:00"]]
    ranges: list[list[str]] = []
    for token in tokens:
        if token.isalpha():
            raise ValueError(
                f"unexpected {token!r} in {clause!r}: separate day groups with ';', {_SPEC_EXAMPLE}"
            )
        start, dash, end = token.partition("-")
        if token in {"closed", "24h"} or not dash or not start or not end:
            raise ValueError(
                f"bad hours {token!r} in {clause!r}: expected HH:MM-HH:MM (several separated"
                " by commas), 'closed' or '24h'"
            )
        ranges.append([start, end])
    return ranges


def parse_hours_spec(text: str) -> HoursJSON:
    """Read the admin CLI syntax into the stored JSON (validated, canonical).

    Clauses are separated by ``;`` (or new lines): days, then hours. Days are ``mon``..``sun``
    (or full names), ranges that may wrap (``mon-fri``, ``fri-mon``), comma lists
    (``mon,wed``), ``daily``/``everyday``, ``weekdays`` and ``weekend``. Hours are
    ``HH:MM-HH:MM`` ranges separated by commas, ``closed`` or ``24h``; an end before the start
    runs past midnight. A later clause replaces the hours of days an earlier one set, so
    ``daily 08:00-20:00; sun closed`` works. Days never mentioned are closed. Case-insensitive.
    """
    if not isinstance(text, str):
        raise ValueError(f"opening hours must be text, got {text!r}")
    normalised = text.lower().replace("\u2013", "-").replace("\u2014", "-")
    normalised = re.sub(r"\s*([-,])\s*", r"\1", normalised)
    clauses = [" ".join(clause.split()) for clause in re.split(r"[;\n]", normalised)]
    clauses = [clause for clause in clauses if clause]
    if not clauses:
        raise ValueError(f"no opening hours given; write them as {_SPEC_EXAMPLE}")
    result: dict[str, list[list[str]]] = {}
    for clause in clauses:
        days_text, _, hours_text = clause.partition(" ")
        if ":" in days_text:
            raise ValueError(f"{clause!r} starts with hours; name the days first, {_SPEC_EXAMPLE}")
        tokens = [token for token in re.split(r"[\s,]+", hours_text) if token]
        if not tokens:
            raise ValueError(
                f"{clause!r} gives days but no hours; add HH:MM-HH:MM or 'closed', {_SPEC_EXAMPLE}"
            )
        ranges = _parse_ranges(tokens, clause)
        for day in _parse_days(days_text, clause):
            result[WEEKDAYS[day]] = [list(pair) for pair in ranges]
    ordered = {day: result[day] for day in WEEKDAYS if day in result}
    return OpeningHours.parse(ordered).to_json()


def _format_days(days: list[int]) -> str:
    if len(days) == 7:
        return "daily"
    chosen = set(days)
    runs: list[str] = []
    for day in sorted(chosen):
        if (day - 1) % 7 in chosen:
            continue  # inside a run that started earlier (possibly wrapping from sunday)
        last = day
        while (last + 1) % 7 in chosen:
            last = (last + 1) % 7
        runs.append(WEEKDAYS[day] if last == day else f"{WEEKDAYS[day]}-{WEEKDAYS[last]}")
    return ",".join(runs)


def format_hours_spec(data: HoursLike) -> str:
    """The compact admin CLI spelling of opening hours; parse_hours_spec reads it back.

    Days with the same hours are grouped (``mon-fri 08:00-20:00; sat 09:00-13:00``); closed
    days are left out, and a store never open is ``daily closed``.
    """
    hours = _coerce(data)
    groups: dict[tuple[Interval, ...], list[int]] = {}
    for index, intervals in enumerate(hours.days):
        if intervals:
            groups.setdefault(intervals, []).append(index)
    if not groups:
        return "daily closed"
    return "; ".join(
        f"{_format_days(days)} {','.join(str(item) for item in intervals)}"
        for intervals, days in groups.items()
    )


# --------------------------------------------------------------------------- time zones


def _zone(tz: str) -> ZoneInfo:
    if not isinstance(tz, str) or not tz:
        raise ValueError(f"unknown time zone {tz!r}")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {tz!r}") from None


def _exists(wall: datetime, instant: datetime, zone: ZoneInfo) -> bool:
    return instant.astimezone(zone).replace(tzinfo=None) == wall


def _gap_end(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant a spring-forward gap containing the naive ``wall`` time ends."""
    # In a gap fold=1 applies the offset after the transition (an instant before it) and fold=0
    # the offset before it (an instant after it); bisect between them for the change.
    before = int(wall.replace(tzinfo=zone, fold=1).timestamp())
    after = int(wall.replace(tzinfo=zone, fold=0).timestamp())
    target = datetime.fromtimestamp(after, zone).utcoffset()
    while after - before > 1:
        middle = (before + after) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == target:
            after = middle
        else:
            before = middle
    return datetime.fromtimestamp(after, UTC)


def _wall_to_utc(zone: ZoneInfo, day: date, minutes: int) -> datetime:
    """The instant the local clock shows ``minutes`` after midnight of ``day`` (may exceed 1440).

    Repeated wall times give the first occurrence; wall times in a gap give the gap's end.
    """
    extra_days, minute = divmod(minutes, MINUTES_PER_DAY)
    wall = datetime.combine(day + timedelta(days=extra_days), time(minute // 60, minute % 60))
    instant = wall.replace(tzinfo=zone).astimezone(UTC)
    return instant if _exists(wall, instant, zone) else _gap_end(wall, zone)


def _local_date(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


Span: TypeAlias = tuple[datetime, datetime]


def _raw_intervals(hours: OpeningHours, zone: ZoneInfo, first: date, last: date) -> list[Span]:
    """UTC intervals of the configured intervals starting on local dates first..last."""
    spans: list[Span] = []
    day = first
    while day <= last:
        for item in hours.days[day.weekday()]:
            start = _wall_to_utc(zone, day, item.start)
            end = _wall_to_utc(zone, day, item.end)
            if end > start:  # an interval wholly inside a DST gap does not happen that day
                spans.append((start, end))
        day += timedelta(days=1)
    spans.sort()
    return spans


def _periods(hours: OpeningHours, zone: ZoneInfo, first: date, last: date) -> list[Span]:
    """Continuous opening periods: configured intervals with touching ones joined."""
    merged: list[Span] = []
    for start, end in _raw_intervals(hours, zone, first, last):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _grid(zone: ZoneInfo, slot_minutes: int, low: datetime, high: datetime) -> Iterator[datetime]:
    """UTC instants in [low, high), ascending, whose local time is a multiple of the slot length
    from local midnight; grid times in a DST gap are skipped, repeated ones yield both."""
    day = _local_date(low, zone)
    last = _local_date(high, zone)
    local_low = low.astimezone(zone)
    first_minute = local_low.hour * 60 + local_low.minute - _DST_SLACK_MINUTES
    while day <= last:
        start = 0
        if day == local_low.date():
            start = max(0, first_minute) // slot_minutes * slot_minutes
        found: set[datetime] = set()
        for minute in range(start, MINUTES_PER_DAY, slot_minutes):
            wall = datetime.combine(day, time(minute // 60, minute % 60))
            first = wall.replace(tzinfo=zone).astimezone(UTC)
            if not _exists(wall, first, zone):
                continue
            if first >= high:  # first occurrences of existing wall times only increase
                break
            second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
            found.update(instant for instant in (first, second) if low <= instant < high)
        yield from sorted(found)
        day += timedelta(days=1)


# --------------------------------------------------------------------------- queries


def is_open(hours: HoursLike, at: datetime, tz: str) -> bool:
    """Whether the store is open at the instant ``at`` (opening included, closing excluded)."""
    opening, zone, at = _coerce(hours), _zone(tz), require_aware(at, "at")
    today = _local_date(at, zone)
    spans = _raw_intervals(opening, zone, today - timedelta(days=1), today + timedelta(days=1))
    return any(start <= at < end for start, end in spans)


def closes_at(hours: HoursLike, at: datetime, tz: str) -> datetime | None:
    """When the store open at ``at`` next closes (aware UTC), else None.

    Back-to-back intervals count as one (``mon 18:00-24:00`` + ``tue 00:00-02:00`` closes at
    02:00). None too when the store never closes (open around the clock for two weeks ahead),
    so check is_open first to tell "closed" from "open 24/7".
    """
    opening, zone, at = _coerce(hours), _zone(tz), require_aware(at, "at")
    today = _local_date(at, zone)
    horizon = today + timedelta(days=15)
    for start, end in _periods(opening, zone, today - timedelta(days=1), horizon):
        if start <= at < end:
            return None if end > _wall_to_utc(zone, horizon, 0) else end
    return None


def next_opening(hours: HoursLike, at: datetime, tz: str) -> datetime | None:
    """The next moment the store opens at or after ``at`` (aware UTC), within 8 days.

    "Opens" means closed just before: while the store is open this is the start of the opening
    after the current one closes. None when the store does not open within 8 days (never open,
    or open around the clock).
    """
    opening, zone, at = _coerce(hours), _zone(tz), require_aware(at, "at")
    today = _local_date(at, zone)
    limit = at + timedelta(days=LOOKAHEAD_DAYS)
    periods = _periods(
        opening, zone, today - timedelta(days=1), today + timedelta(days=LOOKAHEAD_DAYS)
    )
    for start, _end in periods:
        if start >= at:
            return start if start <= limit else None
    return None


def intervals_on(hours: HoursLike, day: date, tz: str) -> list[tuple[datetime, datetime]]:
    """The configured opening intervals starting on the local date ``day``, as aware UTC pairs.

    Intervals running past midnight end on the next day; back-to-back intervals stay separate.
    """
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError(f"day must be a date, got {day!r}")
    return _raw_intervals(_coerce(hours), _zone(tz), day, day)


def _check_int(name: str, value: int, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def pickup_slots(
    hours: HoursLike,
    tz: str,
    now: datetime,
    *,
    prep_minutes: int,
    slot_minutes: int,
    limit: int = 8,
) -> list[datetime]:
    """Pickup slot starts (aware UTC, ascending) for today's opening or the next one.

    Slots are on the local grid (multiples of ``slot_minutes`` from local midnight), at or after
    ``now + prep_minutes``, and inside an opening interval (opening <= slot < closing). They
    come from the opening period under way at ``now``, or if closed from the next one within
    8 days, and from later intervals of the same local day (after a lunch break); they stop at
    the end of that local day, or when the period ends if it runs past midnight. An empty list
    means it is too late for today. Slot capacity is the caller's concern.
    """
    opening, zone, now = _coerce(hours), _zone(tz), require_aware(now, "now")
    _check_int("prep_minutes", prep_minutes, 0)
    _check_int("slot_minutes", slot_minutes, 1)
    _check_int("limit", limit, 0)
    today = _local_date(now, zone)
    periods = _periods(
        opening, zone, today - timedelta(days=1), today + timedelta(days=LOOKAHEAD_DAYS)
    )
    current = next((i for i, (_, end) in enumerate(periods) if end > now), None)
    if current is None or limit == 0:
        return []
    anchor_start, anchor_end = periods[current]
    if anchor_start > now + timedelta(days=LOOKAHEAD_DAYS):
        return []
    day_end = _wall_to_utc(zone, _local_date(anchor_start, zone) + timedelta(days=1), 0)
    bound = max(anchor_end, day_end)
    earliest = now + timedelta(minutes=prep_minutes)
    slots: list[datetime] = []
    for start, end in periods[current:]:
        if start >= bound:
            break
        low, high = max(start, earliest), min(end, bound)
        if low >= high:
            continue
        for slot in _grid(zone, slot_minutes, low, high):
            slots.append(slot)
            if len(slots) == limit:
                return slots
    return slots


def reservation_slots(
    hours: HoursLike,
    tz: str,
    day: date,
    *,
    now: datetime,
    slot_minutes: int,
    duration_minutes: int,
    min_lead_minutes: int = 0,
) -> list[datetime]:
    """Reservation starts (aware UTC, ascending) on the local date ``day``.

    Starts are on the local grid of that date, at or after ``now + min_lead_minutes``, and the
    whole visit ``[start, start + duration)`` lies inside one continuous opening period
    (back-to-back intervals count as one). After midnight, an interval that started the day
    before still counts: 00:30 on Saturday fits inside Friday's 18:00-02:00.
    """
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError(f"day must be a date, got {day!r}")
    opening, zone, now = _coerce(hours), _zone(tz), require_aware(now, "now")
    _check_int("slot_minutes", slot_minutes, 1)
    _check_int("duration_minutes", duration_minutes, 1)
    _check_int("min_lead_minutes", min_lead_minutes, 0)
    duration = timedelta(minutes=duration_minutes)
    last = day + timedelta(days=duration_minutes // MINUTES_PER_DAY + 2)
    periods = _periods(opening, zone, day - timedelta(days=1), last)
    low = max(_wall_to_utc(zone, day, 0), now + timedelta(minutes=min_lead_minutes))
    high = _wall_to_utc(zone, day + timedelta(days=1), 0)
    if low >= high:
        return []
    return [
        start
        for start in _grid(zone, slot_minutes, low, high)
        if any(begin <= start and start + duration <= end for begin, end in periods)
    ]
