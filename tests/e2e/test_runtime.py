"""End to end over real HTTP: polling and webhook, dedupe, the secret token, command menus."""

from __future__ import annotations

import aiohttp
from sqlalchemy import func, select

from bot.db import models
from bot.fakeapi.server import FakeBotApi
from tests.e2e.conftest import ALICE, BOB, WEBHOOK_SECRET, RunningBot, eventually


async def test_start_over_long_polling_is_answered(
    fake: FakeBotApi, running_bot: RunningBot
) -> None:
    async with running_bot():
        fake.send_text(ALICE, "/start")
        messages = await fake.wait_for_messages(ALICE, 1)

    assert messages[0]["text"].startswith("Hi Alice!")


async def test_a_deep_link_and_a_language_switch_work_end_to_end(
    fake: FakeBotApi, running_bot: RunningBot
) -> None:
    async with running_bot():
        fake.send_text(BOB, "/start scentralt7")
        fake.send_text(ALICE, "/language")
        [prompt] = await fake.wait_for_messages(ALICE, 1)
        button = next(
            b for b in prompt["reply_markup"]["inline_keyboard"][0] if "中文" in b["text"]
        )
        query_id = fake.press_button(ALICE, prompt["message_id"], button["callback_data"])
        await fake.wait_for_calls("editMessageText", 1, chat_id=ALICE)
        bob = await fake.wait_for_messages(BOB, 1)

    assert "Central Café" in bob[0]["text"]
    assert "7" in bob[0]["text"]
    assert fake.messages(ALICE)[0]["text"] == "语言已切换为简体中文。"
    assert fake.callback_answers(query_id)[0]["text"] == "语言已切换为简体中文。"


async def test_a_duplicated_update_is_answered_once(
    fake: FakeBotApi, running_bot: RunningBot, seeded_url: str
) -> None:
    fake.add_fault(kind="duplicate_update", times=1)
    async with running_bot() as app:
        fake.send_text(ALICE, "/help")
        await fake.wait_for_messages(ALICE, 1)
        await fake.wait_idle(quiet=0.3)

        async with app.sessionmaker() as session:
            inbox = await session.scalar(select(func.count()).select_from(models.InboxEntry))

    assert fake.counters["updates_delivered"] >= 2, "the fault really delivered it twice"
    assert len(fake.messages(ALICE)) == 1
    assert inbox == 1


async def test_command_menus_are_registered_per_scope_and_language(
    fake: FakeBotApi, running_bot: RunningBot
) -> None:
    async with running_bot():
        pass

    private_en = fake.commands("all_private_chats", None)
    private_zh = fake.commands("all_private_chats", "zh")
    groups = fake.commands("all_group_chats", None)
    assert [c["command"] for c in private_en] == [
        "start",
        "menu",
        "cart",
        "orders",
        "book",
        "stores",
        "search",
        "language",
        "surveys",
        "unsubscribe",
        "privacy",
        "forget",
        "help",
    ]
    assert private_zh[0]["description"] == "重新开始并选择门店"
    assert [c["command"] for c in groups] == [
        "help",
        "pickup",
        "stats",
        "export",
        "rfm",
        "push",
        "stock",
        "staff",
        "pause",
        "resume",
        "busy",
        "bind",
    ]


async def test_start_over_the_webhook_is_answered(
    fake: FakeBotApi, running_bot: RunningBot
) -> None:
    async with running_bot(webhook=True):
        fake.send_text(ALICE, "/start")
        messages = await fake.wait_for_messages(ALICE, 1)

    [registration] = fake.calls("setWebhook")
    assert registration.params["secret_token"] == WEBHOOK_SECRET
    assert messages[0]["text"].startswith("Hi Alice!")
    assert fake.counters["webhook_posts"] >= 1


async def test_a_wrong_or_missing_secret_is_refused_and_nothing_is_processed(
    fake: FakeBotApi, running_bot: RunningBot
) -> None:
    update = {
        "update_id": 999_001,
        "message": {
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": {"id": ALICE, "type": "private"},
            "from": {"id": ALICE, "is_bot": False, "first_name": "Mallory"},
            "text": "/start",
        },
    }
    async with running_bot(webhook=True) as app, aiohttp.ClientSession() as http:
        url = app.settings.webhook_url
        assert url is not None
        wrong = await http.post(
            url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "guess"}
        )
        missing = await http.post(url, json=update)
        not_json = await http.post(
            url, data=b"{", headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
        )

        async def inbox_count() -> int:
            async with app.sessionmaker() as session:
                count = await session.scalar(select(func.count()).select_from(models.InboxEntry))
            return int(count or 0)

        assert (wrong.status, missing.status, not_json.status) == (403, 401, 400)
        assert await inbox_count() == 0
        right = await http.post(
            url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
        )
        assert right.status == 200

        async def processed() -> bool:
            return await inbox_count() == 1

        await eventually(processed)
