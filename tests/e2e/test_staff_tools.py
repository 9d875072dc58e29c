"""Staff-group tools over real HTTP: the staff list (/staff) and availability and stock (/stock)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.db import models
from tests.e2e.shop import Shop, running_shop

GROUP, OTHER_GROUP = -100_600, -100_601
ANN, OLLY, SAM = 4101, 4102, 4103  # a group admin and two ordinary members
NAMES = {ANN: "Ann", OLLY: "Olly", SAM: "Sam"}
_replied_ids = itertools.count(900_000)


@pytest.fixture
async def shop(seeded_url: str, runtime: str) -> AsyncIterator[Shop]:
    """A shop whose staff group is bound to Central Café; Ann administers the group."""
    async with running_shop(seeded_url, runtime) as running:
        fake = running.fake
        for user_id, name in NAMES.items():
            fake.add_user(user_id, name)
        fake.add_group(GROUP, "Central staff", admins=[ANN], members=[OLLY, SAM])
        fake.add_group(OTHER_GROUP, "Riverside staff", admins=[ANN], members=[OLLY])
        await running.execute(
            models.Store.__table__.update()
            .where(models.Store.code == "central")
            .values(staff_chat_id=GROUP)
        )
        await running.execute(
            models.Store.__table__.update()
            .where(models.Store.code == "riverside")
            .values(staff_chat_id=OTHER_GROUP)
        )
        yield running


_NOT_REACTIONS = {"getupdates", "getchatmember", "getchatadministrators"}


def _calls(shop: Shop) -> int:
    """The bot's answers so far (asking Telegram who administers the group is not one)."""
    return sum(1 for call in shop.fake.calls() if call.method.lower() not in _NOT_REACTIONS)


async def _settle(shop: Shop, before: int) -> None:
    deadline = asyncio.get_running_loop().time() + 10
    outbox = models.OutboxMessage
    while (
        _calls(shop) <= before
        or (await shop.scalar(select(outbox.id).where(outbox.status == "pending").limit(1)))
        is not None
    ):
        assert asyncio.get_running_loop().time() < deadline, "the bot did not answer"
        await asyncio.sleep(0.01)
    await shop.fake.wait_idle(quiet=0.15, timeout=10)


async def _say(shop: Shop, user_id: int, text: str, chat_id: int = GROUP) -> str:
    """Send a message in a group; the bot's newest message there afterwards."""
    before = _calls(shop)
    shop.fake.send_text(user_id, text, chat_id=chat_id)
    await _settle(shop, before)
    return _last(shop, chat_id)


async def _reply(shop: Shop, user_id: int, text: str, to: int) -> str:
    """Send `text` in the group as a reply to a message of `to`."""
    chat = {"id": GROUP, "type": "supergroup", "title": "Central staff"}

    def person(uid: int) -> dict[str, Any]:
        return {"id": uid, "is_bot": False, "first_name": NAMES[uid]}

    command = text.split()[0]
    message = {
        "message_id": next(_replied_ids),
        "from": person(user_id),
        "chat": chat,
        "date": 1_777_000_000,
        "text": text,
        "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
        "reply_to_message": {
            "message_id": next(_replied_ids),
            "from": person(to),
            "chat": chat,
            "date": 1_776_999_000,
            "text": "hello",
        },
    }
    before = _calls(shop)
    shop.fake.inject_raw_update({"message": message})
    await _settle(shop, before)
    return _last(shop, GROUP)


def _last(shop: Shop, chat_id: int = GROUP) -> str:
    return str(shop.fake.messages(chat_id)[-1].get("text", ""))


def _button(shop: Shop, label: str, chat_id: int = GROUP) -> tuple[int, str]:
    for message in reversed(shop.fake.messages(chat_id)):
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if label in button["text"]:
                    return int(message["message_id"]), str(button["callback_data"])
    raise AssertionError(f"no button {label!r} in the group")


async def _press(shop: Shop, user_id: int, label: str) -> str:
    """Press a button in the group; returns the toast."""
    message_id, data = _button(shop, label)
    before = _calls(shop)
    query = shop.fake.press_button(user_id, message_id, data, chat_id=GROUP)
    await _settle(shop, before)
    return str(shop.fake.callback_answers(query)[-1].get("text") or "")


async def _place_order(shop: Shop) -> None:
    me = shop.me
    await me.send("/start scentral")
    await me.send("/search croissant")
    await me.press("Croissant")
    await me.press("➕")
    await me.press("🛒")
    await me.press("Checkout")
    await me.press("Pickup")
    await me.press("As soon as possible")
    await me.send("+8613800138000")
    await me.send("no onions")
    await me.press("Place order")


async def _status(shop: Shop) -> str:
    return str((await shop.orders())[-1].status)


async def test_staff_added_by_reply_can_act_until_removed(shop: Shop) -> None:
    await _place_order(shop)
    assert await _press(shop, OLLY, "10 min") == "Only this store's staff can do that."

    assert await _reply(shop, ANN, "/staff add", to=OLLY) == "Olly is now staff of Central Café."
    assert (
        await _reply(shop, ANN, "/staff add", to=OLLY) == "Olly is already staff of Central Café."
    )
    [member] = await shop.rows(models.StaffMember)
    assert (member.telegram_id, member.display_name, member.added_by) == (OLLY, "Olly", ANN)

    listed = await _say(shop, OLLY, "/staff list")
    assert "Staff of Central Café" in listed
    assert f"Olly ({OLLY})" in listed

    assert await _press(shop, OLLY, "10 min") == "Done"
    assert await _status(shop) == "accepted"

    removed = await _reply(shop, ANN, "/staff remove", to=OLLY)
    assert removed == "Olly is no longer staff of Central Café."
    assert await shop.rows(models.StaffMember) == []
    assert await _press(shop, OLLY, "Ready") == "Only this store's staff can do that."
    assert await _status(shop) == "accepted"
    assert await _say(shop, OLLY, "/staff list") == "Only this store's staff can do that."
    assert (
        await _say(shop, ANN, f"/staff remove {OLLY}")
        == f"{OLLY} is not on the staff list of Central Café."
    )


async def test_an_outsider_cannot_add_staff_and_wrong_usage_is_explained(shop: Shop) -> None:
    refused = await _reply(shop, SAM, "/staff add", to=OLLY)

    assert refused == (
        "Only the group's administrators, the store's manager or the bot's admins can do that."
    )
    assert await shop.rows(models.StaffMember) == []
    for wrong in ("/staff", "/staff add", "/staff promote 4102", "/staff add abc"):
        assert (await _say(shop, ANN, wrong)).startswith("Reply to someone's message with")
    assert "No one is registered yet" in await _say(shop, ANN, "/staff list")

    added = await _say(shop, ANN, f"/staff add {SAM} Sam the baker")
    assert added == "Sam the baker is now staff of Central Café."
    assert f"Sam the baker ({SAM})" in await _say(shop, ANN, "/staff list")


async def _search_label(shop: Shop, words: str) -> str:
    await shop.me.send(f"/search {words}")
    return next(label for label in shop.me.buttons() if "Croissant" in label)


async def test_stock_list_marks_an_item_sold_out_and_back(shop: Shop) -> None:
    await shop.me.send("/start scentral")
    listing = await _say(shop, ANN, "/stock")
    assert "Today at Central Café" in listing
    assert "Croissant (croissant): 24 left" in listing
    assert "Americano (americano): available" in listing
    message_id, _ = _button(shop, "🚫 Croissant")

    assert await _press(shop, ANN, "🚫 Croissant") == "Croissant: sold out"
    [edited] = [m for m in shop.fake.messages(GROUP) if m["message_id"] == message_id]
    assert "Croissant (croissant): ❌ sold out" in edited["text"], "edited in place"
    assert _button(shop, "✅ Croissant")[0] == message_id
    assert "sold out" in await _search_label(shop, "croissant")

    assert await _press(shop, OLLY, "✅ Croissant") == "Only this store's staff can do that."
    assert await _press(shop, ANN, "✅ Croissant") == "Croissant: back on sale"
    assert "Croissant (croissant): 24 left" in _last(shop)
    assert "sold out" not in await _search_label(shop, "croissant")
    assert await shop.stock("croissant") == 24


async def test_stock_list_pages_and_brings_back_a_counted_out_item(shop: Shop) -> None:
    await _say(shop, ANN, "/stock")
    assert "1/2" in _last(shop)

    await _press(shop, ANN, "▶")
    assert "2/2" in _last(shop)
    assert "Pain au chocolat (pain-au-chocolat): ❌ sold out" in _last(shop)

    await _press(shop, ANN, "✅ Pain au chocolat")
    assert "Pain au chocolat (pain-au-chocolat): available" in _last(shop)
    assert await shop.stock("pain-au-chocolat") is None, "no longer counted"


async def test_stock_command_sets_a_quantity(shop: Shop) -> None:
    assert await _say(shop, ANN, "/stock croissant 5") == "Croissant (croissant): 5 left"
    assert await shop.stock("croissant") == 5
    assert await _say(shop, ANN, "/stock Croissant 0") == "Croissant (croissant): ❌ sold out"
    assert await _say(shop, ANN, "/stock croissant -") == "Croissant (croissant): available"
    assert await shop.stock("croissant") is None

    await shop.execute(
        models.StoreProduct.__table__.update()
        .where(
            models.StoreProduct.product_id
            == select(models.Product.id).where(models.Product.sku == "tiramisu").scalar_subquery()
        )
        .values(available=False)
    )
    assert await _say(shop, ANN, "/stock tiramisu 3") == "Tiramisu (tiramisu): 3 left"


async def test_stock_command_refuses_bad_arguments_and_outsiders(shop: Shop) -> None:
    bad_qty = "The quantity must be a whole number from 0 to 100000, or - to stop counting."
    for wrong in ("/stock croissant abc", "/stock croissant -1", "/stock croissant 100001"):
        assert await _say(shop, ANN, wrong) == bad_qty
    for wrong in ("/stock croissant", "/stock croissant 1 2"):
        assert (await _say(shop, ANN, wrong)).startswith("Send /stock for today's list")
    assert await _say(shop, ANN, "/stock nope 3") == (
        "No product with the code nope is sold at Central Café. Send /stock to see the codes."
    )
    assert await _say(shop, OLLY, "/stock croissant 1") == "Only this store's staff can do that."
    assert await shop.stock("croissant") == 24


async def test_stock_only_touches_the_groups_own_store(shop: Shop) -> None:
    assert await _say(shop, ANN, "/stock mocha 3", chat_id=OTHER_GROUP) == (
        "No product with the code mocha is sold at Riverside Tea House."
        " Send /stock to see the codes."
    )
    assert await _say(shop, ANN, "/stock croissant 3", chat_id=OTHER_GROUP) == (
        "Croissant (croissant): 3 left"
    )
    assert await shop.stock("croissant", "riverside") == 3
    assert await shop.stock("croissant", "central") == 24
