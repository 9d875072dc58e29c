"""The staff group over real HTTP: binding, order cards, steps, authorization and races."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.db import models
from tests.e2e.shop import Shop, running_shop

GROUP = -100_500
ANN, BEN, OLLY = 4001, 4002, 4003  # two group admins and an ordinary member


@pytest.fixture
async def shop(seeded_url: str, runtime: str) -> AsyncIterator[Shop]:
    """A shop whose staff group is bound to Central Café."""
    async with running_shop(seeded_url, runtime, admin_ids=(ANN,)) as running:
        fake = running.fake
        for user_id, name in ((ANN, "Ann"), (BEN, "Ben"), (OLLY, "Olly")):
            fake.add_user(user_id, name)
        fake.add_group(GROUP, "Central staff", admins=[ANN, BEN], members=[OLLY])
        await _say(running, ANN, "/bind central")
        yield running


def _group_calls(shop: Shop) -> int:
    return shop.me.reactions()


async def _say(shop: Shop, user_id: int, text: str) -> None:
    before = _group_calls(shop)
    shop.fake.send_text(user_id, text, chat_id=GROUP)
    await shop.me.settle(before)


async def _press(shop: Shop, user_id: int, label: str) -> str:
    message_id, data = _button(shop, label)
    before = _group_calls(shop)
    query = shop.fake.press_button(user_id, message_id, data, chat_id=GROUP)
    await shop.me.settle(before)
    return query


def _button(shop: Shop, label: str) -> tuple[int, str]:
    for message in reversed(shop.fake.messages(GROUP)):
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if label in button["text"]:
                    return int(message["message_id"]), str(button["callback_data"])
    raise AssertionError(f"no button {label!r} in the group")


def _card(shop: Shop) -> str:
    cards = [m for m in shop.fake.messages(GROUP) if "Order #" in str(m.get("text", ""))]
    return str(cards[-1]["text"])


def _answer(shop: Shop, query: str) -> str:
    return str(shop.fake.callback_answers(query)[-1].get("text") or "")


async def _place_order(shop: Shop, search: str = "croissant", label: str = "Croissant") -> None:
    me = shop.me
    await me.send("/start scentral")
    await me.send(f"/search {search}")
    await me.press(label)
    await me.press("➕")
    await me.press("🛒")
    await me.press("Checkout")
    await me.press("Pickup")
    await me.press("As soon as possible")
    await me.send("+8613800138000")
    await me.send("no onions <b>please</b>")
    await me.press("Place order")


async def _order(shop: Shop) -> Any:
    return (await shop.orders())[-1]


async def test_a_new_order_arrives_as_a_card_and_moves_through_every_step(shop: Shop) -> None:
    assert "now the staff chat of Central Café" in shop.fake.messages(GROUP)[-1]["text"]
    await _place_order(shop)
    card = _card(shop)
    assert "1 × Croissant" in card
    assert "Mia · +8613800138000" in card, "name and phone are shown in the store's group"
    assert "no onions <b>please</b>" in card, "the customer's note is escaped, not markup"

    await _press(shop, ANN, "20 min")
    assert "Accepted" in _card(shop)
    assert "— Ann," in _card(shop)
    assert "accepted order #0001; ready around" in shop.me.last_text

    await _press(shop, BEN, "Ready")
    order = await _order(shop)
    assert order.status == "ready"
    assert f"Pickup code: {order.pickup_code}" in shop.me.last_text
    assert order.pickup_code in _card(shop)

    await _press(shop, ANN, "Completed")
    assert (await _order(shop)).status == "completed"
    assert "Order #0001 completed" in shop.me.last_text
    events = await shop.rows(models.OrderEvent)
    assert [(e.from_status, e.to_status) for e in events] == [
        (None, "placed"),
        ("placed", "accepted"),
        ("accepted", "ready"),
        ("ready", "completed"),
    ]
    assert [e.actor for e in events[1:]] == [f"staff:{ANN}", f"staff:{BEN}", f"staff:{ANN}"]


async def test_a_rejection_tells_the_customer_why_and_returns_the_stock(shop: Shop) -> None:
    before = await shop.stock("croissant")
    await _place_order(shop)
    assert await shop.stock("croissant") == (before or 0) - 1

    await _press(shop, ANN, "Reject")
    await _press(shop, ANN, "sold out")

    assert (await _order(shop)).status == "rejected"
    assert "could not take order #0001: sold out" in shop.me.last_text
    assert await shop.stock("croissant") == before
    assert "Rejected" in _card(shop)


async def test_an_outsider_cannot_act_on_a_card(shop: Shop) -> None:
    await _place_order(shop)

    refused = await _press(shop, OLLY, "10 min")

    assert _answer(shop, refused) == "Only this store's staff can do that."
    assert (await _order(shop)).status == "placed"


async def test_only_admins_or_the_manager_may_bind(shop: Shop) -> None:
    await _say(shop, BEN, "/bind riverside")

    assert shop.fake.messages(GROUP)[-1]["text"] == (
        "Only the bot's admins or the store's manager can do that."
    )
    staff_chat = await shop.scalar(
        select(models.Store.staff_chat_id).where(models.Store.code == "riverside")
    )
    assert staff_chat is None


async def test_two_simultaneous_accepts_make_one_transition(shop: Shop) -> None:
    await _place_order(shop)
    message_id, ten = _button(shop, "10 min")
    _, thirty = _button(shop, "30 min")
    before = _group_calls(shop)

    first = shop.fake.press_button(ANN, message_id, ten, chat_id=GROUP)
    second = shop.fake.press_button(BEN, message_id, thirty, chat_id=GROUP)
    await shop.me.settle(before)
    await shop.fake.wait_for_calls("answerCallbackQuery", 2, timeout=10)

    order = await _order(shop)
    assert order.status == "accepted"
    assert order.eta_minutes in (10, 30)
    answers = sorted([_answer(shop, first), _answer(shop, second)])
    assert answers == ["Done", "This order is already accepted."]
    accepted = [e for e in await shop.rows(models.OrderEvent) if e.to_status == "accepted"]
    assert len(accepted) == 1


async def _request_booking(shop: Shop) -> None:
    me = shop.me
    await me.send("/start scentral")
    await me.send("/book")
    await me.press("A table")
    await me.press("4")
    await me.press("Tomorrow")
    await me.press("19:00")
    await me.send("+8613800138000")
    await me.press("Skip")
    await me.press("Confirm booking")


def _booking_card(shop: Shop) -> str:
    cards = [m for m in shop.fake.messages(GROUP) if "Booking request" in str(m.get("text", ""))]
    return str(cards[-1]["text"])


async def test_a_booking_request_is_confirmed_from_its_card(shop: Shop) -> None:
    await _request_booking(shop)
    assert "Table for 4" in _booking_card(shop) or "table for 4" in _booking_card(shop)

    await _press(shop, BEN, "Confirm")

    [booking] = await shop.rows(models.Reservation)
    assert booking.status == "confirmed"
    assert "confirmed your booking" in shop.me.last_text
    assert "Seated" in str(shop.fake.messages(GROUP)[-1].get("reply_markup"))
    refused = await _press(shop, OLLY, "Seated")
    assert _answer(shop, refused) == "Only this store's staff can do that."


async def test_a_declined_booking_is_explained_to_the_customer(shop: Shop) -> None:
    await _request_booking(shop)

    await _press(shop, ANN, "Decline")

    [booking] = await shop.rows(models.Reservation)
    assert booking.status == "declined"
    assert "cannot take your booking" in shop.me.last_text


async def test_removing_the_bot_from_the_group_alerts_the_admins(shop: Shop) -> None:
    await _place_order(shop)
    before = _group_calls(shop)
    # The member objects are sparser than Telegram's: aiogram cannot model them, so this also
    # checks that such an update still reaches the core (as raw JSON) instead of stopping polling.
    shop.fake.inject_raw_update(
        {
            "my_chat_member": {
                "chat": {"id": GROUP, "type": "supergroup", "title": "Central staff"},
                "from": {"id": BEN, "is_bot": False, "first_name": "Ben"},
                "date": 1_700_000_000,
                "old_chat_member": {"status": "administrator", "user": shop.fake.bot_user},
                "new_chat_member": {"status": "kicked", "user": shop.fake.bot_user},
            }
        }
    )
    await shop.me.settle(before)

    alert = shop.fake.messages(ANN)[-1]["text"]
    assert "removed from the staff group of Central Café" in alert
    assert (await _order(shop)).status == "placed", "the order stays"
