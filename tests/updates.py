"""Builders of raw Bot API update JSON, shaped like Telegram's, for feeding the core."""

from __future__ import annotations

import itertools
from typing import Any

_ids = itertools.count(1000)


def next_update_id() -> int:
    """A fresh update id."""
    return next(_ids)


def user(
    user_id: int, first_name: str = "Alice", language_code: str | None = "en"
) -> dict[str, Any]:
    """A Telegram User object."""
    data: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if language_code is not None:
        data["language_code"] = language_code
    return data


def private_chat(user_id: int, first_name: str = "Alice") -> dict[str, Any]:
    """A private Chat object."""
    return {"id": user_id, "type": "private", "first_name": first_name}


def message_update(
    user_id: int,
    text: str,
    *,
    update_id: int | None = None,
    chat: dict[str, Any] | None = None,
    first_name: str = "Alice",
    language_code: str | None = "en",
) -> dict[str, Any]:
    """A message update; texts starting with '/' carry a bot_command entity like Telegram's."""
    message: dict[str, Any] = {
        "message_id": next(_ids),
        "date": 1_700_000_000,
        "chat": chat or private_chat(user_id, first_name),
        "from": user(user_id, first_name, language_code),
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [
            {"type": "bot_command", "offset": 0, "length": len(text.split(" ")[0])}
        ]
    return {"update_id": update_id or next_update_id(), "message": message}


def callback_update(
    user_id: int,
    data: str,
    *,
    message_id: int = 77,
    chat: dict[str, Any] | None = None,
    update_id: int | None = None,
    language_code: str | None = "en",
) -> dict[str, Any]:
    """A callback_query update for a press on the bot's message `message_id`."""
    return {
        "update_id": update_id or next_update_id(),
        "callback_query": {
            "id": f"cb-{next(_ids)}",
            "from": user(user_id, language_code=language_code),
            "chat_instance": "ci-1",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": 1_700_000_000,
                "chat": chat or private_chat(user_id),
                "text": "…",
            },
        },
    }
