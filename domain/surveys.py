"""Satisfaction surveys: when one is due, what a score means, and how an answer is checked.

A survey is scheduled when an order is completed (or a booking seated or completed), sent by
the jobs loop when due, answered with a 1-5 score (changeable while the comment prompt is open)
and an optional comment, and expires unanswered after SURVEY_LIFETIME.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.errors import ValidationError
from domain.stores import StoreSettings

SCHEDULED = "scheduled"
SENT = "sent"
ANSWERED = "answered"
EXPIRED = "expired"
CANCELLED = "cancelled"  # the customer turned surveys off, or cannot be reached
SURVEY_STATUSES = (SCHEDULED, SENT, ANSWERED, EXPIRED, CANCELLED)

SURVEY_LIFETIME = timedelta(days=7)
LOW_SCORE = 2  # this or less alerts the store
MAX_COMMENT_LENGTH = 1000
# A low score with no comment yet alerts the store after this, comment or not.
COMMENT_GRACE = timedelta(minutes=30)


def survey_due_at(finished_at: datetime, settings: StoreSettings, timezone: str) -> datetime:
    """When to ask: the store's delay after `finished_at`, moved out of its quiet hours."""
    due = finished_at + timedelta(minutes=settings.survey_delay_minutes)
    return outside_quiet_hours(
        due, settings.survey_quiet_start, settings.survey_quiet_end, timezone
    )


def outside_quiet_hours(moment: datetime, start: str, end: str, timezone: str) -> datetime:
    """`moment`, or the end of the quiet hours (store local time) it falls into."""
    quiet_start, quiet_end = _clock(start), _clock(end)
    if quiet_start == quiet_end:
        return moment
    zone = ZoneInfo(timezone)
    local = moment.astimezone(zone)
    now = local.time()
    if quiet_start < quiet_end:
        inside = quiet_start <= now < quiet_end
        end_day = local.date()
    else:  # spans midnight, e.g. 21:00-09:00
        inside = now >= quiet_start or now < quiet_end
        end_day = local.date() + timedelta(days=1) if now >= quiet_start else local.date()
    if not inside:
        return moment
    return datetime.combine(end_day, quiet_end, tzinfo=zone).astimezone(moment.tzinfo)


def check_score(value: object) -> int:
    """A score from a button: an integer 1..5."""
    if type(value) is not int or not 1 <= value <= 5:
        raise ValidationError("score", "out_of_range")
    return value


def clean_comment(text: str) -> str:
    """A comment as stored: stripped, non-empty, at most MAX_COMMENT_LENGTH characters."""
    cleaned = " ".join(text.split())
    if not cleaned:
        raise ValidationError("comment", "empty")
    if len(cleaned) > MAX_COMMENT_LENGTH:
        raise ValidationError("comment", "too_long")
    return cleaned


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))
