"""Push campaigns: what each RFM segment is offered, who may be pushed to, and the deep link.

A campaign is planned per segment (the store's `push_policy`), previewed to the manager, then
sent through the outbox. Pushes go only to customers who said yes to marketing messages, who
have not blocked the bot, and who had no push in the last `push_min_days`; never in the store's
quiet hours.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta

# What a segment is pushed: personal picks (SVD blend), products new at the store, the
# customer's favourites that are available again, a win-back message with bestsellers and the
# store's offer, the store's bestsellers; or nothing.
PUSH_KINDS: tuple[str, ...] = (
    "recommended",
    "new_arrivals",
    "favourites",
    "winback",
    "bestsellers",
    "none",
)

# The default policy per segment of both RFM models (analytics/rfm.py names the segments).
DEFAULT_POLICY: Mapping[str, str] = {
    # classic8
    "important_value": "recommended",
    "important_develop": "recommended",
    "important_retain": "favourites",
    "important_winback": "winback",
    "general_value": "new_arrivals",
    "general_develop": "recommended",
    "general_retain": "favourites",
    "general_winback": "winback",
    # quintile
    "champions": "recommended",
    "loyal": "recommended",
    "potential_loyalist": "recommended",
    "new_customers": "bestsellers",
    "promising": "new_arrivals",
    "need_attention": "favourites",
    "about_to_sleep": "favourites",
    "at_risk": "winback",
    "cant_lose": "winback",
    "hibernating": "winback",
}

CAMPAIGN_STATUSES: tuple[str, ...] = ("draft", "running", "done", "cancelled")
RECIPIENT_STATUSES: tuple[str, ...] = ("planned", "queued", "sent", "failed", "skipped")
# Why a planned push was not sent.
SKIP_NO_CONSENT = "no_consent"
SKIP_UNREACHABLE = "unreachable"
SKIP_RECENT_PUSH = "recent_push"
SKIP_NOTHING = "nothing_to_offer"
SKIP_CANCELLED = "cancelled"

# Orders placed by a recipient this long after the push count as the campaign's orders.
ATTRIBUTION_WINDOW = timedelta(days=7)
MAX_ITEMS = 3  # products named in one push
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_ENTRY_RE = re.compile(r"^([a-z_]{2,32})=([a-z_]{2,16})$")
_PAYLOAD_RE = re.compile(r"^p([1-9][0-9]{0,11})$")


def parse_policy(text: str) -> dict[str, str]:
    """The store's `push_policy` ("segment=kind,segment=kind") over the default policy.

    Raises ValueError naming the bad entry, so `o2o store edit --set` refuses a typo.
    """
    policy = dict(DEFAULT_POLICY)
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        match = _ENTRY_RE.match(entry)
        if match is None:
            raise ValueError(f"push_policy entry {entry!r} is not segment=kind")
        segment, kind = match.groups()
        if segment not in DEFAULT_POLICY:
            raise ValueError(f"push_policy: unknown segment {segment!r}")
        if kind not in PUSH_KINDS:
            raise ValueError(f"push_policy: kind must be one of {', '.join(PUSH_KINDS)}")
        policy[segment] = kind
    return policy


def campaign_payload(campaign_id: int) -> str:
    """The /start payload a push's button carries: p<campaign id>."""
    return f"p{campaign_id}"


def parse_campaign_payload(payload: str) -> int | None:
    """The campaign id in a /start payload, or None when it is not a campaign link."""
    match = _PAYLOAD_RE.match(payload)
    return int(match.group(1)) if match else None


def push_allowed(last_push_at: datetime | None, now: datetime, min_days: int) -> bool:
    """True when a customer last pushed at `last_push_at` may be pushed again at `now`."""
    return last_push_at is None or now - last_push_at >= timedelta(days=min_days)


def next_weekly_slot(after: datetime, weekday: str, at: str, timezone: str) -> datetime:
    """The first `weekday` at `at` (store local time) strictly after `after`, in UTC."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    local = after.astimezone(zone)
    hour, minute = (int(part) for part in at.split(":"))
    days = (WEEKDAYS.index(weekday) - local.weekday()) % 7
    candidate = (local + timedelta(days=days)).replace(
        hour=hour, minute=minute, second=0, microsecond=0
    )
    if candidate <= local:
        candidate += timedelta(days=7)
    return candidate.astimezone(after.tzinfo)
