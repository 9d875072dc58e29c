"""Replies as data: Bot API calls (method + parameters) that the pipeline writes to the outbox."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_MESSAGE_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class FileUpload:
    """A file to upload with a call (a chart, a CSV export)."""

    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class OutboundCall:
    """One Bot API call; `chat_id` orders and throttles it, None means unthrottled."""

    method: str
    params: dict[str, Any]
    chat_id: int | None
    ref: str | None = None
    # Marks a staff card the sender may combine with other cards into one digest message at
    # rush hour; shown before each of its buttons there ("#1042").
    label: str | None = None
    # Parameters holding files to upload; in `params` they read {"attach": <parameter name>}.
    files: Mapping[str, FileUpload] = field(default_factory=dict)

    @property
    def target(self) -> str | None:
        """What an edit call changes: the ref it names or "#<message_id>"; None otherwise."""
        if not self.method.startswith("edit"):
            return None
        message_id = self.params.get("message_id")
        if isinstance(message_id, dict) and "ref" in message_id:
            return str(message_id["ref"])
        return f"#{message_id}" if isinstance(message_id, int) else None


@dataclass(frozen=True, slots=True)
class Button:
    """An inline keyboard button carrying callback data or a URL."""

    text: str
    callback_data: str | None = None
    url: str | None = None

    def to_api(self) -> dict[str, str]:
        """The Bot API InlineKeyboardButton object."""
        if self.url is not None:
            return {"text": self.text, "url": self.url}
        return {"text": self.text, "callback_data": self.callback_data or ""}


@dataclass(frozen=True, slots=True)
class InlineKeyboard:
    """Rows of inline buttons attached to a message."""

    rows: Sequence[Sequence[Button]] = field(default_factory=tuple)

    def to_api(self) -> dict[str, Any]:
        """The Bot API InlineKeyboardMarkup object."""
        return {"inline_keyboard": [[button.to_api() for button in row] for row in self.rows]}


def truncate(text: str, limit: int = MAX_MESSAGE_LENGTH) -> str:
    """Cut text to Telegram's limit, marking the cut, so an oversized reply still goes out."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def send_message(
    chat_id: int,
    text: str,
    keyboard: InlineKeyboard | dict[str, Any] | None = None,
    *,
    ref: str | None = None,
    label: str | None = None,
) -> OutboundCall:
    """A sendMessage call with HTML parse mode and an optional keyboard."""
    params: dict[str, Any] = {"chat_id": chat_id, "text": truncate(text), "parse_mode": "HTML"}
    if isinstance(keyboard, InlineKeyboard):
        params["reply_markup"] = keyboard.to_api()
    elif keyboard is not None:
        params["reply_markup"] = keyboard
    return OutboundCall("sendMessage", params, chat_id, ref, label)


def edit_message_text(
    chat_id: int, message_id: int | str, text: str, keyboard: InlineKeyboard | None = None
) -> OutboundCall:
    """An editMessageText call; `message_id` may name an outbox ref resolved at send time."""
    target: int | dict[str, str] = (
        message_id if isinstance(message_id, int) else {"ref": message_id}
    )
    params: dict[str, Any] = {
        "chat_id": chat_id,
        "message_id": target,
        "text": truncate(text),
        "parse_mode": "HTML",
    }
    if keyboard is not None:
        params["reply_markup"] = keyboard.to_api()
    return OutboundCall("editMessageText", params, chat_id)


def answer_callback(
    callback_id: str, text: str | None = None, *, alert: bool = False
) -> OutboundCall:
    """Answer a button press; unthrottled so the spinner stops at once."""
    params: dict[str, Any] = {"callback_query_id": callback_id}
    if text:
        params["text"] = truncate(text, 200)
        params["show_alert"] = alert
    return OutboundCall("answerCallbackQuery", params, None)


def reply_keyboard_remove() -> dict[str, Any]:
    """Markup that hides a reply keyboard."""
    return {"remove_keyboard": True}


def send_file(
    method: str,
    chat_id: int,
    field_name: str,
    upload: FileUpload,
    caption: str = "",
    keyboard: InlineKeyboard | None = None,
) -> OutboundCall:
    """A sendPhoto / sendDocument call uploading `upload`, with an HTML caption."""
    params: dict[str, Any] = {"chat_id": chat_id, field_name: {"attach": field_name}}
    if caption:
        params["caption"] = truncate(caption, MAX_CAPTION_LENGTH)
        params["parse_mode"] = "HTML"
    if keyboard is not None:
        params["reply_markup"] = keyboard.to_api()
    return OutboundCall(method, params, chat_id, files={field_name: upload})
