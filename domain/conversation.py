"""Conversation state: which step a user is in, kept in the database between updates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class ConversationState:
    """A named step plus the small amount of data collected so far."""

    state: str
    data: dict[str, Any] = field(default_factory=dict)
