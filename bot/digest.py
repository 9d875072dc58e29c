"""Several staff cards in one group message: how a digest's text and buttons are composed.

Telegram lets a bot post about 20 messages a minute into a group, edits included. At rush hour
the sender combines cards that are waiting into one digest message, and later edits of any card
in it into one edit of the digest (see OutboxSender). A digest shows each card's text in turn,
and each card's buttons prefixed with the card's label ("#1042 ✅ 10 min") so staff see which
order a button acts on; the callback data is the card's own, so presses work unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from handlers.outbound import MAX_MESSAGE_LENGTH, truncate

SEPARATOR = "\n\n┈┈┈┈┈┈┈┈\n\n"
# Cards grow when edited ("— Ann, 10:32", a reason list); leave room so edits still fit.
BUNDLE_TEXT_BUDGET = MAX_MESSAGE_LENGTH - 800
MAX_BUTTONS = 100  # Telegram's limit per inline keyboard


@dataclass(frozen=True, slots=True)
class CardContent:
    """What one card currently shows: its text and its inline keyboard rows."""

    label: str
    text: str
    rows: tuple[tuple[dict[str, Any], ...], ...] = ()

    @classmethod
    def from_params(cls, label: str, params: Mapping[str, Any]) -> CardContent:
        """The content a sendMessage or editMessageText call gives a card.

        An edit without reply_markup removes the keyboard, exactly as Telegram does.
        """
        markup = params.get("reply_markup")
        rows: tuple[tuple[dict[str, Any], ...], ...] = ()
        if isinstance(markup, Mapping) and isinstance(markup.get("inline_keyboard"), list):
            rows = tuple(
                tuple(dict(button) for button in row if isinstance(button, Mapping))
                for row in markup["inline_keyboard"]
                if isinstance(row, list)
            )
        return cls(label, str(params.get("text", "")), rows)

    def button_count(self) -> int:
        """How many buttons this card adds to a digest."""
        return sum(len(row) for row in self.rows)


def compose(cards: Sequence[CardContent]) -> dict[str, Any]:
    """The text, parse mode and keyboard of a message showing `cards` (one or more)."""
    if len(cards) == 1:
        only = cards[0]
        return _params(only.text, [list(row) for row in only.rows])
    text = SEPARATOR.join(card.text for card in cards)
    rows = [
        [{**button, "text": f"{card.label} {button.get('text', '')}"} for button in row]
        for card in cards
        for row in card.rows
    ]
    return _params(text, rows)


def fits(cards: Sequence[CardContent]) -> bool:
    """Whether these cards fit one digest message with room for later edits."""
    length = sum(len(card.text) for card in cards) + len(SEPARATOR) * (len(cards) - 1)
    buttons = sum(card.button_count() for card in cards)
    return length <= BUNDLE_TEXT_BUDGET and buttons <= MAX_BUTTONS


def _params(text: str, rows: list[list[dict[str, Any]]]) -> dict[str, Any]:
    params: dict[str, Any] = {"text": truncate(text), "parse_mode": "HTML"}
    if rows:
        params["reply_markup"] = {"inline_keyboard": rows}
    return params
