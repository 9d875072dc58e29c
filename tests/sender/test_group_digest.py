"""Rush hour in a staff group: waiting cards share one digest message, pending edits collapse."""

from __future__ import annotations

from typing import Any

import pytest

from bot.digest import SEPARATOR
from bot.fakeapi.server import FakeBotApi
from bot.runtime_aiogram import AiogramTransport
from bot.sender import SendLimits
from tests.sender.test_sender import (
    ALICE,
    STAFF_GROUP,
    Sessionmaker,
    enqueue,
    make_sender,
    outbox,
)

# One call per 0.3 s in the group: busy enough that waiting cards share a message.
BUSY_GROUP = SendLimits(
    global_per_second=10_000,
    per_chat_per_second=10_000.0,
    per_chat_burst=10_000,
    group_per_minute=1,
    group_window_seconds=0.3,
)


def busy_sender(sessionmaker: Sessionmaker, transport: AiogramTransport, **options: Any) -> Any:
    return make_sender(sessionmaker, transport, limits=BUSY_GROUP, **options)


def keyboard(*labels: str) -> dict[str, Any]:
    return {"inline_keyboard": [[{"text": label, "callback_data": label} for label in labels]]}


def card(number: int, body: str, *buttons: str, chat_id: int = STAFF_GROUP) -> dict[str, Any]:
    params: dict[str, Any] = {"chat_id": chat_id, "text": body, "parse_mode": "HTML"}
    if buttons:
        params["reply_markup"] = keyboard(*buttons)
    return {
        "chat_id": chat_id,
        "method": "sendMessage",
        "params": params,
        "ref": f"order:{number}:card",
        "label": f"#{number}",
    }


def card_edit(number: int, body: str, *buttons: str) -> dict[str, Any]:
    ref = f"order:{number}:card"
    params: dict[str, Any] = {
        "chat_id": STAFF_GROUP,
        "message_id": {"ref": ref},
        "text": body,
        "parse_mode": "HTML",
    }
    if buttons:
        params["reply_markup"] = keyboard(*buttons)
    return {
        "chat_id": STAFF_GROUP,
        "method": "editMessageText",
        "params": params,
        "target_ref": ref,
    }


def group_calls(fake: FakeBotApi, method: str) -> list[Any]:
    return [call for call in fake.calls(method) if call.chat_id == STAFF_GROUP]


def button_texts(message: dict[str, Any]) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [button["text"] for row in rows for button in row]


async def test_cards_waiting_together_go_out_as_one_digest_with_labelled_buttons(
    sessionmaker: Sessionmaker, fake: FakeBotApi, transport: AiogramTransport
) -> None:
    ids = await enqueue(
        sessionmaker,
        card(1, "Order #1", "10 min", "Reject"),
        card(2, "Order #2", "10 min", "Reject"),
        card(3, "Order #3", "10 min", "Reject"),
    )

    await busy_sender(sessionmaker, transport).drain()

    [call] = group_calls(fake, "sendMessage")
    assert call.params["text"] == SEPARATOR.join(["Order #1", "Order #2", "Order #3"])
    [message] = fake.messages(STAFF_GROUP)
    assert button_texts(message) == [
        "#1 10 min",
        "#1 Reject",
        "#2 10 min",
        "#2 Reject",
        "#3 10 min",
        "#3 Reject",
    ]
    rows = await outbox(sessionmaker, ids)
    assert {row.status for row in rows} == {"sent"}
    assert {row.message_id for row in rows} == {message["message_id"]}
    assert {row.bundle_id for row in rows} == {ids[0]}


async def test_an_edit_of_one_card_redraws_its_digest_and_keeps_the_others(
    sessionmaker: Sessionmaker, fake: FakeBotApi, transport: AiogramTransport
) -> None:
    sender = busy_sender(sessionmaker, transport)
    await enqueue(
        sessionmaker,
        card(1, "Order #1 new", "10 min"),
        card(2, "Order #2 new", "10 min"),
        card(3, "Order #3 new", "10 min"),
    )
    await sender.drain()

    await enqueue(sessionmaker, card_edit(2, "Order #2 accepted by Ann", "Ready"))
    await sender.drain()

    [message] = fake.messages(STAFF_GROUP)
    assert message["text"] == SEPARATOR.join(
        ["Order #1 new", "Order #2 accepted by Ann", "Order #3 new"]
    )
    assert button_texts(message) == ["#1 10 min", "#2 Ready", "#3 10 min"]

    # A finished card loses its buttons; the others keep theirs and their latest text.
    await enqueue(sessionmaker, card_edit(3, "Order #3 rejected"))
    await sender.drain()
    [message] = fake.messages(STAFF_GROUP)
    assert message["text"].endswith("Order #3 rejected")
    assert "Order #2 accepted by Ann" in message["text"]
    assert button_texts(message) == ["#1 10 min", "#2 Ready"]
    assert len(group_calls(fake, "editMessageText")) == 2


async def test_pending_edits_of_one_card_collapse_into_one_call_showing_the_last(
    sessionmaker: Sessionmaker, fake: FakeBotApi, transport: AiogramTransport
) -> None:
    sender = busy_sender(sessionmaker, transport)
    await enqueue(sessionmaker, card(7, "Order #7", "10 min"))
    await sender.drain()

    ids = await enqueue(
        sessionmaker,
        card_edit(7, "Order #7 accepted", "Ready"),
        card_edit(7, "Order #7 ready", "Completed"),
        card_edit(7, "Order #7 completed"),
    )
    await sender.drain()

    [call] = group_calls(fake, "editMessageText")
    assert call.params["text"] == "Order #7 completed"
    [message] = fake.messages(STAFF_GROUP)
    assert message["text"] == "Order #7 completed"
    assert button_texts(message) == []
    assert {row.status for row in await outbox(sessionmaker, ids)} == {"sent"}


async def test_a_card_and_its_pending_edit_go_out_as_one_message_with_the_edit(
    sessionmaker: Sessionmaker, fake: FakeBotApi, transport: AiogramTransport
) -> None:
    ids = await enqueue(
        sessionmaker,
        card(4, "Order #4", "10 min"),
        card_edit(4, "Order #4 accepted", "Ready"),
    )

    await busy_sender(sessionmaker, transport).drain()

    [call] = group_calls(fake, "sendMessage")
    assert call.params["text"] == "Order #4 accepted"
    assert group_calls(fake, "editMessageText") == []
    [message] = fake.messages(STAFF_GROUP)
    assert button_texts(message) == ["Ready"]
    assert {row.status for row in await outbox(sessionmaker, ids)} == {"sent"}


async def test_a_digest_holds_at_most_max_digest_cards_and_stays_within_the_text_budget(
    sessionmaker: Sessionmaker, fake: FakeBotApi, transport: AiogramTransport
) -> None:
    await enqueue(sessionmaker, *(card(n, f"Order #{n}", "10 min") for n in range(1, 8)))
    await busy_sender(sessionmaker, transport, max_digest_cards=5).drain()
    assert [len(button_texts(m)) for m in fake.messages(STAFF_GROUP)] == [5, 2]

    long_cards = [card(n, "x" * 1500, "10 min") for n in range(10, 14)]
    await enqueue(sessionmaker, *long_cards)
    await busy_sender(sessionmaker, transport).drain()
    long_messages = [m for m in fake.messages(STAFF_GROUP) if m["text"].startswith("x")]
    assert [len(button_texts(m)) for m in long_messages] == [2, 2]
    assert all(len(m["text"]) <= 4096 for m in long_messages)


@pytest.mark.parametrize("coalesce_groups", [False, True])
async def test_private_chats_and_a_sender_told_not_to_coalesce_send_every_card(
    sessionmaker: Sessionmaker,
    fake: FakeBotApi,
    transport: AiogramTransport,
    coalesce_groups: bool,
) -> None:
    await enqueue(sessionmaker, *(card(n, f"Order #{n}", "OK", chat_id=ALICE) for n in (1, 2)))
    group_rows = [card(n, f"Order #{n}", "OK") for n in (3, 4)]
    await enqueue(sessionmaker, *group_rows)

    await busy_sender(sessionmaker, transport, coalesce_groups=coalesce_groups).drain()

    assert len(fake.messages(ALICE)) == 2
    assert len(fake.messages(STAFF_GROUP)) == (1 if coalesce_groups else 2)


async def test_a_quiet_group_gets_every_card_on_its_own_at_once(
    sessionmaker: Sessionmaker, fake: FakeBotApi, transport: AiogramTransport
) -> None:
    await enqueue(sessionmaker, *(card(n, f"Order #{n}", "10 min") for n in (1, 2, 3)))

    await make_sender(sessionmaker, transport).drain()

    assert [m["text"] for m in fake.messages(STAFF_GROUP)] == ["Order #1", "Order #2", "Order #3"]
