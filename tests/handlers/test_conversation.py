"""The conversation core fed through the real pipeline: each update's effects are outbox rows."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.db import models
from bot.pipeline import Outcome
from tests.handlers.conftest import Harness
from tests.updates import callback_update, message_update, next_update_id

ALICE = 501
BOB = 502


async def test_start_greets_a_new_customer_and_records_them(harness: Harness) -> None:
    assert await harness.feed(message_update(ALICE, "/start")) is Outcome.HANDLED

    texts = await harness.texts(ALICE)
    assert len(texts) == 1
    assert texts[0].startswith("Hi Alice!")
    customer = await harness.customer(ALICE)
    assert customer is not None
    assert customer.first_name == "Alice"
    assert customer.language == "en"
    assert harness.wakes == [1]


async def test_the_same_update_twice_has_one_effect(harness: Harness) -> None:
    update = message_update(ALICE, "/help")

    first = await harness.feed(update)
    second = await harness.feed(update)

    assert (first, second) == (Outcome.HANDLED, Outcome.DUPLICATE)
    assert len(await harness.outbox(ALICE)) == 1
    async with harness.sessionmaker() as session:
        inbox = await session.scalar(select(func.count()).select_from(models.InboxEntry))
    assert inbox == 1
    assert harness.wakes == [1], "a duplicate must not wake the sender"


async def test_a_store_deep_link_selects_the_store(harness: Harness) -> None:
    await harness.feed(message_update(ALICE, "/start scentral"))

    text = (await harness.texts(ALICE))[0]
    assert "Central Café" in text
    customer = await harness.customer(ALICE)
    assert customer is not None
    assert customer.selected_store_id is not None


async def test_a_table_deep_link_sets_dine_in_at_that_table(harness: Harness) -> None:
    await harness.feed(message_update(ALICE, "/start scentralt12"))

    text = (await harness.texts(ALICE))[0]
    assert "Central Café" in text
    assert "Table <b>12</b>" in text
    async with harness.sessionmaker() as session:
        cart = (await session.execute(select(models.Cart))).scalar_one()
    assert (cart.fulfilment, cart.table_label) == ("dine_in", "12")


async def test_an_unknown_deep_link_is_explained_and_selects_nothing(harness: Harness) -> None:
    await harness.feed(message_update(ALICE, "/start snowhere"))

    assert "does not point to a store" in (await harness.texts(ALICE))[0]
    customer = await harness.customer(ALICE)
    assert customer is not None
    assert customer.selected_store_id is None


async def test_free_text_outside_a_flow_gets_a_pointer_to_help(harness: Harness) -> None:
    await harness.feed(message_update(ALICE, "hello, is anyone there?"))

    assert (await harness.texts(ALICE)) == [
        "Sorry, I did not understand that. Send /help to see what I can do."
    ]


async def test_an_unknown_command_is_named_back_escaped(harness: Harness) -> None:
    await harness.feed(message_update(ALICE, "/frobnicate"))

    assert "/frobnicate" in (await harness.texts(ALICE))[0]


async def test_a_users_name_is_html_escaped_in_replies(harness: Harness) -> None:
    await harness.feed(message_update(ALICE, "/start", first_name="<b>Eve</b> & co"))

    text = (await harness.texts(ALICE))[0]
    assert "&lt;b&gt;Eve&lt;/b&gt; &amp; co" in text
    assert "<b>Eve</b>" not in text


async def test_a_chinese_telegram_client_gets_chinese_replies(harness: Harness) -> None:
    await harness.feed(message_update(BOB, "/help", language_code="zh-hans"))

    assert "我能做什么" in (await harness.texts(BOB))[0]


async def test_choosing_a_language_edits_the_prompt_and_sticks(harness: Harness) -> None:
    await harness.feed(message_update(ALICE, "/language"))
    prompt = (await harness.outbox(ALICE))[0]
    buttons = prompt.params["reply_markup"]["inline_keyboard"][0]
    chinese = next(button for button in buttons if button["text"].endswith("简体中文"))

    await harness.feed(callback_update(ALICE, chinese["callback_data"], message_id=77))
    # The Telegram client still says "en"; the explicit choice must win from now on.
    await harness.feed(message_update(ALICE, "/help", language_code="en"))

    rows = await harness.outbox()
    answer = next(row for row in rows if row.method == "answerCallbackQuery")
    assert answer.chat_id is None, "callback answers are unthrottled"
    assert answer.params["text"] == "语言已切换为简体中文。"
    edit = next(row for row in rows if row.method == "editMessageText")
    assert edit.params["message_id"] == 77
    assert edit.params["text"] == "语言已切换为简体中文。"
    assert "我能做什么" in (await harness.texts(ALICE))[-1]
    customer = await harness.customer(ALICE)
    assert customer is not None
    assert (customer.language, customer.language_chosen) == ("zh-CN", True)


async def test_a_forged_button_is_refused_and_changes_nothing(harness: Harness) -> None:
    genuine = harness.codec.encode("lang", "zh-CN")
    forged = genuine[:-2] + ("AA" if not genuine.endswith("AA") else "BB")
    await harness.feed(message_update(ALICE, "/start"))

    await harness.feed(callback_update(ALICE, forged))
    await harness.feed(callback_update(ALICE, "1|lang|zh-CN"))

    answers = [row for row in await harness.outbox() if row.method == "answerCallbackQuery"]
    assert [row.params["text"] for row in answers] == ["This button is out of date."] * 2
    customer = await harness.customer(ALICE)
    assert customer is not None
    assert customer.language == "en"


async def test_group_chatter_is_ignored_but_help_answers(harness: Harness) -> None:
    group = {"id": -100123, "type": "supergroup", "title": "Central staff"}

    await harness.feed(message_update(ALICE, "good morning team", chat=group))
    await harness.feed(message_update(ALICE, "/start", chat=group))
    await harness.feed(message_update(ALICE, "/help@o2o_demo_bot", chat=group))
    await harness.feed(message_update(ALICE, "/help@other_bot", chat=group))

    texts = await harness.texts(-100123)
    assert len(texts) == 1
    assert "Store staff group" in texts[0]
    assert await harness.customer(ALICE) is None, "group members are not made customers"


async def test_a_malformed_update_is_recorded_and_answered_with_nothing(harness: Harness) -> None:
    update_id = next_update_id()
    outcome = await harness.feed({"update_id": update_id, "message": {"chat": "not a chat"}})

    assert outcome is Outcome.HANDLED
    assert await harness.outbox() == []
    assert await harness.feed({"message": {"text": "no id"}}) is Outcome.INVALID


async def test_a_sticker_in_private_chat_gets_a_polite_answer(harness: Harness) -> None:
    update = message_update(ALICE, "x")
    del update["message"]["text"]
    update["message"]["sticker"] = {"file_id": "abc"}

    await harness.feed(update)

    assert "not expecting" in (await harness.texts(ALICE))[0]


async def test_a_bug_in_a_use_case_apologises_and_does_not_block_the_queue(
    harness: Harness,
) -> None:
    async def broken(_turn: object) -> None:
        raise RuntimeError("boom")

    harness.pipeline.core.router.private_commands["help"] = broken
    update = message_update(ALICE, "/help")

    assert await harness.feed(update) is Outcome.FAILED
    assert await harness.customer(ALICE) is None, "the failed update's writes were rolled back"
    assert await harness.feed(update) is Outcome.DUPLICATE
    assert await harness.feed(message_update(ALICE, "/start")) is Outcome.HANDLED

    texts = await harness.texts(ALICE)
    assert texts[0] == "Sorry, something went wrong on our side. Please try again in a moment."
    assert texts[1].startswith("Hi Alice!")
    async with harness.sessionmaker() as session:
        outcomes = list(await session.scalars(select(models.InboxEntry.outcome)))
    assert sorted(outcomes) == ["failed", "handled"]


async def test_an_oversized_reply_is_cut_to_telegrams_limit(harness: Harness) -> None:
    await harness.feed(message_update(ALICE, "/" + "x" * 5000))

    text = (await harness.texts(ALICE))[0]
    assert len(text) <= 4096
