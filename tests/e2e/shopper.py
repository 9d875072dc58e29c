"""A scripted Telegram user for scenario tests: types, presses buttons by label, reads replies."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from bot.fakeapi.server import FakeBotApi


@dataclass
class Shopper:
    """One user's view of their private chat with the bot, driven through the fake Bot API."""

    fake: FakeBotApi
    user_id: int

    def reactions(self) -> int:
        """How many calls the bot made in reaction to people so far."""
        # Lookups (getUpdates, the group admin check) are not reactions to what a person did.
        lookups = {"getupdates", "getchatmember"}
        return sum(1 for call in self.fake.calls() if call.method.lower() not in lookups)

    async def settle(self, before: int) -> None:
        """Wait for the bot's first reaction (every action gets one), then for quiet."""
        deadline = asyncio.get_running_loop().time() + 10
        while self.reactions() <= before:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(
                    "the bot did not react; chat so far:\n" + "\n".join(self.texts())
                )
            await asyncio.sleep(0.01)
        await self.fake.wait_idle(quiet=0.15, timeout=10)

    async def send(self, text: str) -> None:
        """Type a message (or command) and wait for the bot."""
        before = self.reactions()
        self.fake.send_text(self.user_id, text)
        await self.settle(before)

    async def share_contact(self, phone: str) -> None:
        """Tap the share-phone button."""
        before = self.reactions()
        self.fake.send_contact(self.user_id, phone)
        await self.settle(before)

    async def share_location(self, latitude: float, longitude: float) -> None:
        """Tap the share-location button."""
        before = self.reactions()
        self.fake.send_location(self.user_id, latitude, longitude)
        await self.settle(before)

    def messages(self) -> list[dict[str, Any]]:
        """The bot's messages in this chat as they stand now."""
        return self.fake.messages(self.user_id)

    @property
    def last_text(self) -> str:
        """Text of the newest bot message."""
        return str(self.messages()[-1].get("text", ""))

    def texts(self) -> list[str]:
        """Every bot message's current text."""
        return [str(message.get("text", "")) for message in self.messages()]

    def find_button(self, label: str) -> tuple[int, str]:
        """The newest message's inline button containing `label`: (message_id, data)."""
        for message in reversed(self.messages()):
            for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    if label in button.get("text", "") and "callback_data" in button:
                        return int(message["message_id"]), str(button["callback_data"])
        raise AssertionError(f"no button {label!r}; chat so far:\n" + "\n---\n".join(self.texts()))

    def buttons(self) -> list[str]:
        """Labels of the newest message that has inline buttons."""
        for message in reversed(self.messages()):
            rows = (message.get("reply_markup") or {}).get("inline_keyboard")
            if rows:
                return [button["text"] for row in rows for button in row]
        return []

    async def press(self, label: str) -> str:
        """Press a button by (part of) its label; returns the callback query id.

        The button may still be on its way (a reply of several messages under load), so it is
        looked for a little while before the press fails.
        """
        deadline = asyncio.get_running_loop().time() + 5
        while True:
            try:
                found = self.find_button(label)
            except AssertionError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.05)
                continue
            return await self.press_data(*found)

    async def press_data(self, message_id: int, data: str) -> str:
        """Press with exact data (an old or forged button)."""
        before = self.reactions()
        query_id = self.fake.press_button(self.user_id, message_id, data)
        await self.settle(before)
        return query_id

    def toast(self, query_id: str) -> str:
        """The text the bot answered a press with ('' when none)."""
        answers = self.fake.callback_answers(query_id)
        assert answers, f"press {query_id} was never answered"
        return str(answers[-1].get("text") or "")
