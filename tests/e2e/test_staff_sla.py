"""The acceptance SLA and the staff group's /pause, /resume and /busy, over real HTTP.

Time is a running clock the tests push forward; the app's own jobs loop is stopped so each test
drives the due work itself with `run_once()`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.db import models
from domain.clock import RunningClock
from tests.e2e.conftest import eventually
from tests.e2e.shop import OPEN_TIME, Shop, running_shop

GROUP = -100_700
ANN, BEN, OLLY = 4101, 4102, 4103  # a bot admin (and group admin), a group admin, a member


class ShiftClock(RunningClock):
    """Real elapsed time from a start, plus whatever the test skips ahead."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self.offset = timedelta()

    def now(self) -> datetime:
        """The running time plus the skipped minutes."""
        return super().now() + self.offset

    def advance(self, minutes: float) -> None:
        """Skip ahead."""
        self.offset += timedelta(minutes=minutes)


@dataclass
class SlaShop:
    """A running shop with its clock."""

    shop: Shop
    clock: ShiftClock

    async def tick(self, minutes: float = 0) -> dict[str, int]:
        """Skip ahead, run the due work once and wait until everything it sent arrived."""
        self.clock.advance(minutes)
        done = await self.shop.app.jobs.run_once()
        outbox = models.OutboxMessage

        async def delivered() -> bool:
            pending = await self.shop.scalar(select(outbox.id).where(outbox.status == "pending"))
            return pending is None

        await eventually(delivered, timeout=10)
        await self.shop.fake.wait_idle(quiet=0.1)
        return done


@pytest.fixture(name="sla")
async def sla_shop(seeded_url: str, runtime: str) -> AsyncIterator[SlaShop]:
    """A shop whose staff group is bound to Central Café, with due work driven by the test."""
    clock = ShiftClock(OPEN_TIME)
    async with running_shop(seeded_url, runtime, clock=clock, admin_ids=(ANN,)) as running:
        await running.app.jobs.stop()
        fake = running.fake
        for user_id, name in ((ANN, "Ann"), (BEN, "Ben"), (OLLY, "Olly")):
            fake.add_user(user_id, name)
        fake.add_group(GROUP, "Central staff", admins=[ANN, BEN], members=[OLLY])
        await _say(running, ANN, "/bind central")
        yield SlaShop(running, clock)


async def _say(shop: Shop, user_id: int, text: str) -> str:
    """Type a command in the group; the bot's answer."""
    seen = len(_group_texts(shop))
    shop.fake.send_text(user_id, text, chat_id=GROUP)

    async def answered() -> bool:
        return len(_group_texts(shop)) > seen

    await eventually(answered, timeout=10)
    await shop.fake.wait_idle(quiet=0.1)
    return _group_texts(shop)[-1]


async def _press(shop: Shop, user_id: int, label: str) -> None:
    """Press a button in the group and wait until the press was answered."""
    message_id, data = _button(shop, label)
    query = shop.fake.press_button(user_id, message_id, data, chat_id=GROUP)

    outbox = models.OutboxMessage

    async def answered_and_sent() -> bool:
        if not shop.fake.callback_answers(query):
            return False
        return await shop.scalar(select(outbox.id).where(outbox.status == "pending")) is None

    await eventually(answered_and_sent, timeout=10)
    await shop.fake.wait_idle(quiet=0.1)


def _button(shop: Shop, label: str) -> tuple[int, str]:
    for message in reversed(shop.fake.messages(GROUP)):
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if label in button["text"]:
                    return int(message["message_id"]), str(button["callback_data"])
    raise AssertionError(f"no button {label!r} in the group")


def _group_texts(shop: Shop) -> list[str]:
    return [str(message.get("text", "")) for message in shop.fake.messages(GROUP)]


async def _place_order(shop: Shop) -> None:
    """Order a croissant at Central Café and wait for its card in the group."""
    me = shop.me
    cards = len(_group_texts(shop))
    await me.send("/start scentral")
    await me.send("/search croissant")
    await me.press("Croissant")
    await me.press("➕")
    await me.press("🛒")
    await me.press("Checkout")
    await me.press("Pickup")
    await me.press("As soon as possible")
    await me.send("+8613800138000")
    await me.send("-")
    await me.press("Place order")

    async def announced() -> bool:
        return len(_group_texts(shop)) > cards

    await eventually(announced)


async def _store_list(shop: Shop) -> str:
    """The customer's /stores list (the store buttons carry each store's status)."""
    await shop.me.send("/stores")
    return str(shop.me.messages()[-2:])


async def _order(shop: Shop) -> Any:
    return (await shop.orders())[-1]


async def _store(shop: Shop) -> Any:
    async with shop.app.sessionmaker() as session:
        return await session.scalar(select(models.Store).where(models.Store.code == "central"))


async def _set(shop: Shop, **changes: Any) -> None:
    settings = dict((await _store(shop)).settings or {}) | changes
    await shop.execute(
        update(models.Store).where(models.Store.code == "central").values(settings=settings)
    )


async def test_a_waiting_order_is_reannounced_once(sla: SlaShop) -> None:
    shop = sla.shop
    await _place_order(shop)
    cards = len(_group_texts(shop))

    assert (await sla.tick(3))["sla_reannounce"] == 0
    assert (await sla.tick(4))["sla_reannounce"] == 1
    texts = _group_texts(shop)
    assert len(texts) == cards + 1
    assert "Still waiting: order #0001 (7 min)" in texts[-1]
    assert "1 × Croissant" in texts[-1]

    assert (await sla.tick(1))["sla_reannounce"] == 0, "only once"
    assert len(_group_texts(shop)) == cards + 1

    await _press(shop, BEN, "10 min")  # the copy's buttons work like the card's
    order = await _order(shop)
    assert order.status == "accepted"
    assert order.eta_minutes == 10
    events = [(e.from_status, e.to_status, e.actor) for e in await shop.rows(models.OrderEvent)]
    assert ("placed", "placed", "system:sla") in events
    assert (await sla.tick(10))["sla_timeout"] == 0


async def test_an_order_nobody_accepts_is_rejected_and_its_stock_returned(sla: SlaShop) -> None:
    shop = sla.shop
    before = await shop.stock("croissant")
    await _place_order(shop)
    assert await shop.stock("croissant") == (before or 0) - 1

    assert (await sla.tick(14))["sla_timeout"] == 0
    done = await sla.tick(2)

    assert done["sla_timeout"] > 0
    order = await _order(shop)
    assert (order.status, order.reject_reason) == ("rejected", "too_busy")
    assert await shop.stock("croissant") == before
    assert "could not take order #0001: too busy right now" in shop.me.last_text
    texts = _group_texts(shop)
    assert "rejected automatically" in texts[-1]
    assert any("Order #0001" in text and "❌ Rejected" in text for text in texts)
    rejected = [e for e in await shop.rows(models.OrderEvent) if e.to_status == "rejected"]
    assert [e.actor for e in rejected] == ["system:sla"]
    assert (await sla.tick(5))["sla_timeout"] == 0, "nothing left to do"


async def test_a_store_may_choose_to_auto_accept(sla: SlaShop) -> None:
    shop = sla.shop
    await _set(shop, sla_timeout_action="accept", prep_minutes=15, busy_extra_minutes=5)
    await _place_order(shop)

    await sla.tick(16)

    order = await _order(shop)
    assert (order.status, order.eta_minutes) == ("accepted", 20)
    assert "accepted order #0001; ready around" in shop.me.last_text
    assert "accepted automatically (ready in 20 min)" in _group_texts(shop)[-1]


async def test_a_staff_accept_just_before_the_timeout_wins(sla: SlaShop) -> None:
    shop = sla.shop
    await _place_order(shop)
    sla.clock.advance(14)

    await _press(shop, ANN, "20 min")
    done = await sla.tick(2)

    assert done["sla_timeout"] == 0
    order = await _order(shop)
    assert (order.status, order.eta_minutes) == ("accepted", 20)
    events = await shop.rows(models.OrderEvent)
    assert [e.actor for e in events if e.to_status == "accepted"] == [f"staff:{ANN}"]
    assert not [e for e in events if e.to_status == "rejected"]


async def test_timeouts_in_a_row_pause_the_store_and_alert_the_admin(sla: SlaShop) -> None:
    shop = sla.shop
    await _set(shop, sla_pause_after=2)
    await _place_order(shop)
    await sla.tick(16)
    assert not (await _store(shop)).paused, "one timeout is not a streak"

    await _place_order(shop)
    await sla.tick(16)

    store = await _store(shop)
    assert (store.paused, store.paused_until) == (True, None)
    alert = "Central Café was paused automatically: 2 orders in a row"
    assert any(alert in str(m.get("text", "")) for m in shop.fake.messages(ANN))
    assert "Send /resume" in _group_texts(shop)[-1]
    assert "Central Café · paused" in await _store_list(shop)

    assert "taking orders again" in await _say(shop, BEN, "/resume")
    assert not (await _store(shop)).paused


async def test_pause_resume_and_busy(sla: SlaShop) -> None:
    shop = sla.shop
    assert "paused until 18:00" in await _say(shop, BEN, "/pause 30")
    store = await _store(shop)
    assert store.paused
    assert store.paused_until is not None
    assert "Central Café · paused" in await _store_list(shop)

    sla.clock.advance(31)  # the pause ran out: orders are taken again
    assert "Central Café · open" in await _store_list(shop)

    assert "paused until /resume" in await _say(shop, ANN, "/pause")
    assert (await _store(shop)).paused_until is None
    assert "taking orders again" in await _say(shop, ANN, "/resume")
    assert not (await _store(shop)).paused

    assert "10 extra minutes" in await _say(shop, BEN, "/busy +10")
    assert (await _store(shop)).settings["busy_extra_minutes"] == 10
    await _place_order(shop)
    await _press(shop, BEN, "20 min")
    assert (await _order(shop)).eta_minutes == 30

    assert "Busy mode is off" in await _say(shop, BEN, "/busy 0")
    assert (await _store(shop)).settings["busy_extra_minutes"] == 0


async def test_outsiders_are_refused(sla: SlaShop) -> None:
    shop = sla.shop
    for command in ("/pause", "/pause 10", "/resume", "/busy +10"):
        assert await _say(shop, OLLY, command) == "Only this store's staff can do that."
    store = await _store(shop)
    assert not store.paused
    assert store.settings.get("busy_extra_minutes", 0) == 0


@pytest.mark.parametrize(
    ("command", "usage"),
    [
        ("/pause soon", "Send /pause"),
        ("/pause 0", "Send /pause"),
        ("/pause 1441", "Send /pause"),
        ("/busy", "Send /busy +10"),
        ("/busy +121", "Send /busy +10"),
        ("/busy -5", "Send /busy +10"),
        ("/busy lots", "Send /busy +10"),
    ],
)
async def test_bad_arguments_get_a_usage_line(sla: SlaShop, command: str, usage: str) -> None:
    shop = sla.shop
    assert usage in await _say(shop, ANN, command)
    store = await _store(shop)
    assert not store.paused
    assert store.settings.get("busy_extra_minutes", 0) == 0
