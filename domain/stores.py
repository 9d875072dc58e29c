"""Stores and the deep links that select them (QR codes on posters and table tents)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

STORE_CODE_RE = re.compile(r"^[a-z0-9_]{2,32}$")
_TABLE_RE = re.compile(r"^[A-Za-z0-9]{1,8}$")


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
    paused: bool = False
    id: int | None = None


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
