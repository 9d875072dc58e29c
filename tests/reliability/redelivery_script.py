"""People acting through the fake Bot API for the redelivery test (test_redelivery.py).

A `Person` types and presses as `tests.e2e.shopper.Shopper` does, but a step ends on facts, not
on quiet time: the bot's pipeline has handled the update (watched in memory) and no outbox row
the update wrote is still pending (they commit together), which keeps a day of a few hundred
steps short. Besides plain steps a person can double tap a button (two presses, two callback
queries), have their client re-send a press (the same callback query under a new update id),
and build updates without queueing them, so that the test can deliver two in the other order.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from bot.db import models
from bot.fakeapi.server import FakeBotApi
from bot.pipeline import Outcome
from handlers.callbacks import CallbackCodec
from tests.e2e.shop import OPEN_TIME, Shop
from tests.e2e.test_staff_sla import ShiftClock

GROUP = -100_888
GROUP_TITLE = "Central staff"
PHONE = "+8613800138000"
NEAR_CENTRAL = (31.2330, 121.4760)  # a few hundred metres from Central Café
STEP_TIMEOUT = 20.0


def stamp(text: str) -> str:
    """Match the "HH:MM" of a toast such as "Already accepted by Ann at 17:30."."""
    return re.escape(text).replace("HH:MM", r"\d\d:\d\d")


class Bot:
    """The running shop seen from outside: when steps are over, what was delivered and skipped.

    It watches the bot's update pipeline (every update's first outcome, kept in memory) so that
    waiting for a step costs no database polling until the update has been handled.
    """

    def __init__(self, shop: Shop, clock: ShiftClock) -> None:
        """Watch `shop`'s pipeline from now on; `clock` is the bot's clock."""
        self.shop = shop
        self.clock = clock
        self.first_outcome: dict[int, str] = {}
        # Updates built by the test carry their own message and query ids, far from the fake's.
        self.message_ids = itertools.count(900_000)
        self.query_ids = itertools.count(9_000_000_000)
        self._progress = asyncio.Event()
        pipeline = shop.app.pipeline
        assert pipeline is not None, "the bot is started"
        process = pipeline.process

        async def observed(raw: Mapping[str, Any]) -> Outcome:
            outcome = await process(raw)
            self.first_outcome.setdefault(int(raw["update_id"]), str(outcome))
            self._progress.set()
            return outcome

        # An instance attribute: the polling loop looks `process` up for every update.
        vars(pipeline)["process"] = observed

    def person(self, user_id: int, name: str, chat_id: int | None = None) -> Person:
        """Someone acting in their private chat, or in `chat_id` (the staff group)."""
        return Person(self, user_id, name, user_id if chat_id is None else chat_id)

    async def order_id(self, number: str) -> int:
        """The database id of the order with this number."""
        value = await self.shop.scalar(select(models.Order.id).where(models.Order.number == number))
        assert isinstance(value, int), f"no order #{number}"
        return value

    @property
    def codec(self) -> CallbackCodec:
        """The bot's button signer: for a button a client shows that the fake never sent."""
        return CallbackCodec(self.shop.app.settings.callback_key())

    async def settled(self, *update_ids: int) -> None:
        """Wait until every update was handled (not failed) and everything it caused was sent."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STEP_TIMEOUT
        while any(update_id not in self.first_outcome for update_id in update_ids):
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), max(0.0, deadline - loop.time()))
            assert loop.time() < deadline, f"updates {sorted(update_ids)} not handled in time"
        outcomes = {update_id: self.first_outcome[update_id] for update_id in update_ids}
        assert set(outcomes.values()) == {"handled"}, f"updates not handled: {outcomes}"
        outbox = models.OutboxMessage
        # The outbox rows commit with the update: all that is left is the sender's work.
        while await self.shop.scalar(
            select(outbox.id).where(
                outbox.status == "pending", outbox.source_update_id.in_(update_ids)
            )
        ):
            assert loop.time() < deadline, f"replies to {sorted(update_ids)} not sent in time"
            await asyncio.sleep(0.005)

    async def drained(self) -> None:
        """Wait until the outbox holds no pending row (the due-work loop's sends, too)."""
        outbox = models.OutboxMessage
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STEP_TIMEOUT
        while await self.shop.scalar(select(outbox.id).where(outbox.status == "pending")):
            assert loop.time() < deadline, "the outbox did not drain in time"
            await asyncio.sleep(0.01)

    def handed_out(self) -> Counter[int]:
        """How many times the fake handed each update id to the bot (getUpdates answers)."""
        return Counter(
            int(update["update_id"])
            for call in self.shop.fake.calls("getUpdates")
            if call.ok and isinstance(call.result, list)
            for update in call.result
        )

    def last_update_id(self) -> int:
        """The highest update id queued so far (handed out or still pending)."""
        ids = list(self.handed_out())
        ids += [int(update["update_id"]) for update in self.shop.fake.pending_updates()]
        return max(ids, default=0)

    def updates(self, update_ids: list[int]) -> list[dict[str, Any]]:
        """The updates with these ids as the fake first handed them out."""
        found: dict[int, dict[str, Any]] = {}
        for call in self.shop.fake.calls("getUpdates"):
            if call.ok and isinstance(call.result, list):
                for update in call.result:
                    found.setdefault(int(update["update_id"]), update)
        return [copy.deepcopy(found[update_id]) for update_id in update_ids]

    def outcomes(self) -> Counter[str]:
        """The pipeline's count of updates by outcome (handled, duplicate, failed, invalid)."""
        counts: Counter[str] = Counter()
        for (_kind, outcome), value in self.shop.app.metrics.updates.items():
            counts[outcome] += value
        return counts

    async def deliver_in_order(self, updates: list[dict[str, Any]]) -> None:
        """Queue updates that keep their ids (a redelivery) so the bot really gets each one.

        The fake drops queued updates below the offset of the next getUpdates call, as Telegram
        forgets confirmed ones; so they are queued while the bot is inside a long poll (whose
        offset is already applied), in id order, and all of them handed out before returning.
        """
        fake = self.shop.fake
        before = self.handed_out()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STEP_TIMEOUT
        while not any(not call.done for call in fake.calls("getUpdates")):
            assert loop.time() < deadline, "the bot is not polling"
            await asyncio.sleep(0.005)
        for update in sorted(updates, key=lambda u: int(u["update_id"])):
            fake.inject_raw_update(update)
        wanted = Counter(int(u["update_id"]) for u in updates)
        missing = len(updates)
        while missing:
            # The bot takes at most 100 updates a poll: the time allowed runs from its progress.
            await asyncio.sleep(0.05)
            handed = self.handed_out()
            still = sum(max(0, n - (handed[i] - before[i])) for i, n in wanted.items())
            if still < missing:
                missing, deadline = still, loop.time() + STEP_TIMEOUT
            assert loop.time() < deadline, f"{missing} redelivered updates not handed out"

    async def wait_skipped(self, duplicates: int) -> None:
        """Wait until the pipeline has skipped `duplicates` updates as already handled."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STEP_TIMEOUT
        skipped = self.outcomes()["duplicate"]
        while skipped < duplicates:
            await asyncio.sleep(0.02)
            if self.outcomes()["duplicate"] > skipped:
                skipped, deadline = self.outcomes()["duplicate"], loop.time() + STEP_TIMEOUT
            assert loop.time() < deadline, f"{self.outcomes()} never skipped {duplicates}"

    async def deliver_in_turn(self, first: Planned, second: Planned) -> None:
        """Deliver two planned updates in the order they were made (fresh ids)."""
        fake = self.shop.fake
        ids = [int(fake.inject_raw_update(planned.update)) for planned in (first, second)]
        await self.settled(*ids)

    async def deliver_swapped(self, first: Planned, second: Planned) -> None:
        """Deliver two planned updates newest first, ids kept in the order they were made.

        `second` was made after `first`, so it carries the higher update id; it reaches the bot
        first. Both go in one getUpdates answer (the bot's offset is below both).
        """
        base = self.last_update_id()
        first.update["update_id"] = base + 1
        second.update["update_id"] = base + 2
        fake = self.shop.fake
        fake.inject_raw_update(copy.deepcopy(second.update))
        fake.inject_raw_update(copy.deepcopy(first.update))
        await self.settled(base + 1, base + 2)


@dataclass
class Planned:
    """An update built but not yet queued; `query` is its callback query id, if a press."""

    update: dict[str, Any]
    query: str = ""


@dataclass
class Person:
    """Someone in one chat (their private chat, or the staff group) driving the bot."""

    bot: Bot = field(repr=False)
    user_id: int
    name: str
    chat_id: int
    # query id -> the update that carried the press, for re-sending it
    sent: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    @property
    def fake(self) -> FakeBotApi:
        """The fake Bot API."""
        return self.bot.shop.fake

    @property
    def in_group(self) -> bool:
        """Whether this person acts in the staff group."""
        return self.chat_id < 0

    def _chat_arg(self) -> int | None:
        return self.chat_id if self.in_group else None

    def messages(self) -> list[dict[str, Any]]:
        """The bot's messages in this person's chat, as they stand now."""
        return list(self.fake.messages(self.chat_id))

    def texts(self) -> list[str]:
        """Every bot message's current text in this chat."""
        return [str(message.get("text", "")) for message in self.messages()]

    @property
    def last_text(self) -> str:
        """The newest bot message's text."""
        return self.texts()[-1]

    async def say(self, text: str) -> int:
        """Type a message and wait for the bot; returns its update id."""
        update_id = int(self.fake.send_text(self.user_id, text, chat_id=self._chat_arg()))
        await self.bot.settled(update_id)
        return update_id

    async def share_location(self, latitude: float, longitude: float) -> None:
        """Share a location and wait for the bot."""
        await self.bot.settled(int(self.fake.send_location(self.user_id, latitude, longitude)))

    def button(self, label: str, marker: str = "") -> tuple[int, str]:
        """(message id, data) of the newest button containing `label` in a message with `marker`."""
        for message in reversed(self.messages()):
            if marker not in str(message.get("text", "")):
                continue
            for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    if label in button.get("text", "") and "callback_data" in button:
                        return int(message["message_id"]), str(button["callback_data"])
        raise AssertionError(
            f"{self.name}: no button {label!r} in a message with {marker!r}; chat so far:\n"
            + "\n---\n".join(self.texts())
        )

    def _queue_press(self, message_id: int, data: str) -> tuple[str, int]:
        """Press through the fake; -> (query id, update id), the update remembered for re-sends."""
        chat = self._chat_arg()
        query = str(self.fake.press_button(self.user_id, message_id, data, chat_id=chat))
        update = next(
            u for u in self.fake.pending_updates() if u.get("callback_query", {}).get("id") == query
        )
        self.sent[query] = update
        return query, int(update["update_id"])

    async def press(self, label: str, marker: str = "") -> str:
        """Press the newest matching button and wait for the bot; returns the query id."""
        return await self.press_data(*self.button(label, marker))

    async def press_data(self, message_id: int, data: str) -> str:
        """Press a button by its exact data (maybe an old one) and wait; returns the query id."""
        query, update_id = self._queue_press(message_id, data)
        await self.bot.settled(update_id)
        return query

    async def double_tap(self, label: str, marker: str = "") -> tuple[str, str]:
        """Press the same button twice in a row (two callback queries); -> both query ids."""
        message_id, data = self.button(label, marker)
        first, first_id = self._queue_press(message_id, data)
        second, second_id = self._queue_press(message_id, data)
        await self.bot.settled(first_id, second_id)
        return first, second

    async def resend(self, query: str) -> int:
        """The client sends an earlier press again, byte for byte, under a new update id."""
        update = {k: v for k, v in self.sent[query].items() if k != "update_id"}
        update_id = int(self.fake.inject_raw_update(update))
        await self.bot.settled(update_id)
        return update_id

    def toast(self, query: str) -> str:
        """What the bot answered a press with ('' for a silent answer); fails if unanswered."""
        answers = self.fake.callback_answers(query)
        assert answers, f"{self.name}: press {query} was never answered"
        return str(answers[-1].get("text") or "")

    def answers(self, query: str) -> int:
        """How many answers the fake accepted for a press (Telegram takes one)."""
        return len(self.fake.callback_answers(query))

    # ------------------------------------------------------------------ planned updates

    def _user(self) -> dict[str, Any]:
        return {"id": self.user_id, "is_bot": False, "first_name": self.name, "language_code": "en"}

    def _chat(self) -> dict[str, Any]:
        if self.in_group:
            return {"id": self.chat_id, "type": "supergroup", "title": GROUP_TITLE}
        return {"id": self.user_id, "type": "private", "first_name": self.name}

    def plan_press(self, label: str, marker: str = "") -> Planned:
        """A press of the newest matching button, built now and queued later."""
        return self.plan_press_data(*self.button(label, marker))

    def plan_press_data(self, message_id: int, data: str) -> Planned:
        """A press with exact data on a message of this chat, built now and queued later."""
        message = next(m for m in self.messages() if m["message_id"] == message_id)
        query = str(next(self.bot.query_ids))
        callback = {
            "id": query,
            "from": self._user(),
            "chat_instance": str(self.chat_id),
            "message": {k: v for k, v in message.items() if k != "kind"},
            "data": data,
        }
        return Planned({"callback_query": callback}, query)

    def plan_text(self, text: str) -> Planned:
        """A typed message, built now and queued later."""
        message = {
            "message_id": next(self.bot.message_ids),
            "from": self._user(),
            "chat": self._chat(),
            "date": int(OPEN_TIME.timestamp()),
            "text": text,
        }
        return Planned({"message": message})


def order_number(person: Person, known: set[str]) -> str:
    """The number of the one order placed in the person's chat that is not in `known`."""
    numbers = {str(n) for text in person.texts() for n in re.findall(r"Order #(\d+) placed", text)}
    new = numbers - known
    assert len(new) == 1, f"{person.name}: expected one new order, saw {sorted(new)}"
    return new.pop()
