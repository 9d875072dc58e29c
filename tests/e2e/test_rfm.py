"""/rfm over real HTTP: segment sizes, their movement between runs, and who may ask."""

from __future__ import annotations

from sqlalchemy import select, update

from bot.db import models
from tests.e2e.conftest import eventually
from tests.e2e.shopper import Shopper
from tests.e2e.test_staff_sla import (
    ANN,
    BEN,
    GROUP,
    OLLY,
    SlaShop,
    _group_texts,
    _press,
    _say,
    sla_shop,  # noqa: F401  (the "sla" fixture)
)

ZOE = 3003
AN = 4201  # a manager who speaks Chinese
REFUSED = "Sorry, the figures are only for store managers and the bot's admins."


async def _served(sla: SlaShop, shopper: Shopper) -> None:
    """The shopper orders a croissant at Central Café; staff accept, ready and complete it."""
    shop = sla.shop
    cards = len(_group_texts(shop))
    await shopper.send("/start scentral")
    await shopper.send("/search croissant")
    await shopper.press("Croissant")
    await shopper.press("➕")
    await shopper.press("🛒")
    await shopper.press("Checkout")
    await shopper.press("Pickup")
    await shopper.press("As soon as possible")
    await shopper.send("+8613800138000")
    await shopper.send("-")
    await shopper.press("Place order")

    async def announced() -> bool:
        return len(_group_texts(shop)) > cards

    await eventually(announced)
    await _press(shop, ANN, "10 min")
    await _press(shop, ANN, "Ready")
    await _press(shop, ANN, "Completed")


async def _ask(sla: SlaShop, user_id: int, text: str, chat_id: int | None = None) -> str:
    """Send a command (private chat unless `chat_id`) and return the bot's next message."""
    fake = sla.shop.fake
    chat = chat_id if chat_id is not None else user_id
    before = len(fake.messages(chat))
    fake.send_text(user_id, text, chat_id=chat_id)

    async def answered() -> bool:
        return len(fake.messages(chat)) > before

    await eventually(answered, timeout=20)
    await fake.wait_idle(quiet=0.2)
    return str(fake.messages(chat)[before].get("text", ""))


async def _make_manager(sla: SlaShop, user_id: int) -> None:
    await sla.shop.execute(
        update(models.Store)
        .where(models.Store.code == "central")
        .values(manager_telegram_id=user_id)
    )


async def test_a_manager_sees_the_segments_and_then_how_they_moved(sla: SlaShop) -> None:
    shop = sla.shop
    await _make_manager(sla, BEN)
    shop.fake.add_user(ZOE, "Zoe", language_code="en")
    zoe = Shopper(shop.fake, ZOE)

    empty = await _ask(sla, BEN, "/rfm")
    assert empty == (
        "👥 Central Café has no completed orders yet, so there are no customer segments to show."
    )

    # Day 1 (Monday 2026-05-04 in Shanghai): Mia and Leo buy one croissant each.
    await _served(sla, shop.me)
    await _served(sla, shop.other)
    first = await _ask(sla, BEN, "/rfm")

    lines = first.split("\n")
    assert lines[0] == "👥 RFM · Central Café · as of 2026-05-05 (Asia/Shanghai)"
    assert lines[1] == "Model classic8 · customers with completed orders: 2"
    assert lines[2] == "First run: the next /rfm shows how the segments moved."
    assert "• General win-back: 2 (100.0%) new" in lines
    assert "• Important value: 0 (0.0%) new" in lines
    assert len([line for line in lines if line.startswith("• ")]) == 8
    assert "Biggest moves" not in first

    # Day 2: Mia comes back, Zoe buys for the first time; Leo does not.
    await sla.tick(24 * 60)
    await _served(sla, shop.me)
    await _served(sla, zoe)
    second = await _ask(sla, BEN, "/rfm central")

    lines = second.split("\n")
    assert lines[0] == "👥 RFM · Central Café · as of 2026-05-06 (Asia/Shanghai)"
    assert lines[1] == "Model classic8 · customers with completed orders: 3"
    assert lines[2] == "Change since the last run (as of 2026-05-05):"
    # Mia: 2 orders, the latest 1 day ago; Leo: 1 order 2 days ago; Zoe: 1 order 1 day ago.
    assert "• Important value: 1 (33.3%) ▲ 1" in lines  # Mia
    assert "• General develop: 1 (33.3%) ▲ 1" in lines  # Zoe
    assert "• General win-back: 1 (33.3%) ▼ 1" in lines  # Leo
    assert "• Important develop: 0 (0.0%) =" in lines
    assert "Biggest moves between segments (customers who moved: 1):" in lines
    assert "• General win-back → Important value: 1" in lines
    assert "New customers: 1 (General develop 1)" in lines
    runs = await shop.rows(models.RfmRun)
    assert [(run.as_of, run.customers) for run in runs] == [("2026-05-05", 2), ("2026-05-06", 3)]

    # In the staff group the manager gets the same store; nothing moved since a moment ago.
    third = await _ask(sla, BEN, "/rfm", chat_id=GROUP)
    assert third.startswith("👥 RFM · Central Café · as of 2026-05-06")
    assert "• Important value: 1 (33.3%) =" in third
    assert "Nobody changed segment." in third


async def test_customers_and_group_members_are_refused_and_bad_arguments_get_the_usage(
    sla: SlaShop,
) -> None:
    me = sla.shop.me
    await me.send("/rfm")
    assert me.last_text == REFUSED
    await me.send("/rfm central")
    assert me.last_text == REFUSED

    assert await _say(sla.shop, OLLY, "/rfm") == REFUSED
    assert await _say(sla.shop, ANN, "/rfm riverside") == (
        "This group sees the figures of Central Café only."
    )
    assert await _ask(sla, ANN, "/rfm central riverside") == "Usage: /rfm [store-code]"
    assert await _ask(sla, ANN, "/rfm nowhere") == "No store has the code nowhere."
    assert await sla.shop.scalar(select(models.RfmRun.id)) is None


async def test_an_admin_sees_every_store_and_a_chinese_manager_reads_chinese(
    sla: SlaShop,
) -> None:
    await _served(sla, sla.shop.me)

    every = await _ask(sla, ANN, "/rfm")
    assert every.startswith("👥 RFM · All stores · as of 2026-05-05 (Asia/Shanghai)")
    assert "• General win-back: 1 (100.0%) new" in every

    sla.shop.fake.add_user(AN, "安", language_code="zh-hans")
    await _make_manager(sla, AN)
    chinese = await _ask(sla, AN, "/rfm")
    assert chinese.startswith("👥 RFM · Central Café · 截至 2026-05-05（Asia/Shanghai）")
    assert "• 一般挽留客户：1（100.0%）新" in chinese
    runs = await sla.shop.rows(models.RfmRun)
    assert [run.store_id is None for run in runs] == [True, False]
