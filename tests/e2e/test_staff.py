"""The staff group over real HTTP: binding, order cards, steps, authorization and races."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.db import models
from tests.e2e.conftest import eventually
from tests.e2e.shop import OPEN_TIME, Shop, running_shop
from tests.e2e.test_staff_sla import ShiftClock

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
    accepted = [e for e in await shop.rows(models.OrderEvent) if e.to_status == "accepted"]
    assert len(accepted) == 1
    winner = accepted[0].actor_name
    assert winner in ("Ann", "Ben")
    answers = sorted([_answer(shop, first), _answer(shop, second)])
    assert answers[1] == "Done"
    assert re.fullmatch(rf"Already accepted by {winner} at \d\d:\d\d\.", answers[0])


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


async def test_a_late_press_on_a_moved_card_says_who_moved_it_and_changes_nothing(
    shop: Shop,
) -> None:
    await _place_order(shop)
    message_id, stale_thirty = _button(shop, "30 min")
    await _press(shop, ANN, "10 min")

    before = _group_calls(shop)
    late = shop.fake.press_button(BEN, message_id, stale_thirty, chat_id=GROUP)
    await shop.me.settle(before)

    assert re.fullmatch(r"Already accepted by Ann at \d\d:\d\d\.", _answer(shop, late))
    order = await _order(shop)
    assert (order.status, order.eta_minutes) == ("accepted", 10)
    accepted = [e for e in await shop.rows(models.OrderEvent) if e.to_status == "accepted"]
    assert [(e.actor, e.actor_name) for e in accepted] == [(f"staff:{ANN}", "Ann")]


async def test_pickup_by_code_completes_the_ready_order_after_checking_the_code(
    shop: Shop,
) -> None:
    await _place_order(shop)
    await _press(shop, ANN, "10 min")
    await _press(shop, ANN, "Ready")
    code = (await _order(shop)).pickup_code
    assert code

    await _say(shop, ANN, "/pickup")
    assert shop.fake.messages(GROUP)[-1]["text"].startswith("Usage: /pickup CODE")
    await _say(shop, ANN, "/pickup ZZZZ")
    assert "No order is ready for pickup under code ZZZZ" in shop.fake.messages(GROUP)[-1]["text"]
    await _say(shop, ANN, "/pickup <b>" + "9" * 50)
    assert "No order is ready" in shop.fake.messages(GROUP)[-1]["text"]
    await _say(shop, OLLY, f"/pickup {code}")
    assert shop.fake.messages(GROUP)[-1]["text"] == "Only this store's staff can do that."
    assert (await _order(shop)).status == "ready"

    await _say(shop, BEN, f"/pickup {code.lower()}")

    assert (await _order(shop)).status == "completed"
    assert shop.fake.messages(GROUP)[-1]["text"] == (
        f"✅ #0001 handed over (code {code}): 1 × Croissant"
    )
    assert "Completed" in _card(shop)
    assert "— Ben," in _card(shop)
    assert "Order #0001 completed" in shop.me.last_text

    await _say(shop, BEN, f"/pickup {code}")
    assert (
        f"No order is ready for pickup under code {code}" in (shop.fake.messages(GROUP)[-1]["text"])
    )


async def test_cards_that_queue_up_share_a_digest_whose_buttons_act_on_their_own_order(
    seeded_url: str, runtime: str
) -> None:
    clock = ShiftClock(OPEN_TIME)
    async with running_shop(seeded_url, runtime, clock=clock, admin_ids=(ANN,)) as shop:
        await shop.app.jobs.stop()
        shop.fake.add_user(ANN, "Ann")
        shop.fake.add_group(GROUP, "Central staff", admins=[ANN])
        await _say(shop, ANN, "/bind central")
        await _place_order(shop)
        # The group is over its limit: Telegram holds the next card back for a minute, and
        # two more orders arrive meanwhile.
        shop.fake.add_fault(method="sendMessage", kind="429", retry_after=60, chat_id=GROUP)
        await _place_order(shop)
        await _place_order(shop, "latte", "Latte")
        await _place_order(shop)
        assert len(_cards(shop)) == 1

        clock.advance(1.5)

        async def digest_arrived() -> bool:
            return len(_cards(shop)) == 2

        await eventually(digest_arrived, timeout=10)

        digest = _cards(shop)[-1]
        for number in ("#0002", "#0003", "#0004"):
            assert f"Order {number}" in digest["text"]
        labels = [b["text"] for row in digest["reply_markup"]["inline_keyboard"] for b in row]
        assert labels[:4] == [
            "#0002 ✅ 10 min",
            "#0002 ✅ 20 min",
            "#0002 ✅ 30 min",
            "#0002 ❌ Reject",
        ]

        await _press(shop, ANN, "#0003 ✅ 20 min")

        orders = {o.number: o for o in await shop.orders()}
        assert orders["0003"].status == "accepted"
        assert orders["0002"].status == orders["0004"].status == "placed"
        [digest] = [m for m in _cards(shop) if m["message_id"] == digest["message_id"]]
        order_2, order_3, order_4 = digest["text"].split("┈┈┈┈┈┈┈┈")
        assert "Accepted" in order_3
        assert "— Ann," in order_3
        assert "waiting for acceptance" in order_2
        assert "waiting for acceptance" in order_4
        labels = [b["text"] for row in digest["reply_markup"]["inline_keyboard"] for b in row]
        assert "#0003 🔔 Ready" in labels
        assert "#0002 ✅ 10 min" in labels
        assert "#0004 ✅ 10 min" in labels
        assert not any(label.startswith("#0003 ✅") for label in labels)
        assert "accepted order #0003" in shop.me.last_text
        assert len(_cards(shop)) == 2, "the digest was edited in place"


def _cards(shop: Shop) -> list[dict[str, Any]]:
    return [m for m in shop.fake.messages(GROUP) if "Order #" in str(m.get("text", ""))]


def _restricted(shop: Shop, **rights: bool) -> dict[str, Any]:
    """A complete ChatMemberRestricted for the bot, every right granted unless given."""
    names = [
        "can_send_messages",
        "can_send_audios",
        "can_send_documents",
        "can_send_photos",
        "can_send_videos",
        "can_send_video_notes",
        "can_send_voice_notes",
        "can_send_polls",
        "can_send_other_messages",
        "can_add_web_page_previews",
        "can_change_info",
        "can_invite_users",
        "can_pin_messages",
        "can_manage_topics",
    ]
    member = {name: rights.get(name, True) for name in names}
    return {
        "status": "restricted",
        "user": shop.fake.bot_user,
        "is_member": True,
        "until_date": 0,
        **member,
    }


async def _bot_membership_changes(
    shop: Shop, new_member: dict[str, Any], *, answered: bool = True
) -> None:
    before = _group_calls(shop)
    update_id = shop.fake.inject_raw_update(
        {
            "my_chat_member": {
                "chat": {"id": GROUP, "type": "supergroup", "title": "Central staff"},
                "from": {"id": BEN, "is_bot": False, "first_name": "Ben"},
                "date": 1_700_000_000,
                "old_chat_member": {"status": "member", "user": shop.fake.bot_user},
                "new_chat_member": new_member,
            }
        }
    )
    if answered:
        await shop.me.settle(before)
    else:
        await shop.processed(update_id)
        await shop.fake.wait_idle(quiet=0.2)


async def test_a_muted_bot_alerts_the_admins_in_private_and_keeps_the_orders(
    shop: Shop,
) -> None:
    await _place_order(shop)
    posted = len(shop.fake.messages(GROUP))

    await _bot_membership_changes(shop, _restricted(shop, can_send_messages=False))

    alert = shop.fake.messages(ANN)[-1]["text"]
    assert "may no longer post in the staff group of Central Café" in alert
    assert len(shop.fake.messages(GROUP)) == posted, "nothing is said where it cannot be read"
    assert (await _order(shop)).status == "placed"


async def test_the_group_is_told_which_rights_the_bot_lacks(shop: Shop) -> None:
    alerts = len(shop.fake.messages(ANN))

    await _bot_membership_changes(
        shop, _restricted(shop, can_send_photos=False, can_send_documents=False)
    )

    said = shop.fake.messages(GROUP)[-1]["text"]
    assert "I can post here, but not: send photos, send files." in said
    assert len(shop.fake.messages(ANN)) == alerts

    await _bot_membership_changes(shop, _restricted(shop), answered=False)
    assert shop.fake.messages(GROUP)[-1]["text"] == said, "all rights granted: nothing to say"
