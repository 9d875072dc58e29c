"""Push campaigns over real HTTP: consent, the manager's /push preview and progress, the push.

The shop's campaign worker runs on its own (the jobs loop is stopped, see SlaShop); tests that
need to hold a campaign still confirm it in the quiet hours or stop the worker and drive
`run_once()` themselves. Order history is written straight into the database where the chat
is not what is under test; every push still goes through the running bot and the fake Bot API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.campaigns import campaign_results, plan_campaign
from bot.db import models
from bot.db.leader import SoleLeader
from handlers.callbacks import CallbackCodec
from tests.e2e.conftest import RUNTIMES, eventually
from tests.e2e.shop import OTHER, SHOPPER, Shop
from tests.e2e.shopper import Shopper
from tests.e2e.test_staff_sla import (
    ANN,
    BEN,
    GROUP,
    OLLY,
    SlaShop,
    _group_texts,
    _place_order,
    _press,
    _say,
    _set,
    sla_shop,  # noqa: F401  (the "sla" fixture)
)

MIA, LEO = SHOPPER, OTHER
DAY = 24 * 60  # minutes
PUSH_END = "Tap Order now to open the menu."
REFUSED = "Sorry, the figures are only for store managers and the bot's admins."


# --------------------------------------------------------------------------- helpers


async def _completed_order(sla: SlaShop, consent: str | None) -> None:
    await _place_order(sla.shop)
    if consent is not None:
        await sla.shop.me.press(consent)
    await _press(sla.shop, ANN, "10 min")
    await _press(sla.shop, ANN, "Ready")
    await _press(sla.shop, ANN, "Completed")


async def _customer(shop: Shop, telegram_id: int) -> models.Customer:
    customer = await shop.scalar(
        select(models.Customer).where(models.Customer.telegram_id == telegram_id)
    )
    assert customer is not None, f"no customer {telegram_id}"
    return customer  # type: ignore[no-any-return]  # Shop.scalar is untyped


async def _history(shop: Shop, telegram_id: int, days_ago: Sequence[float]) -> None:
    """Completed croissant orders at Central Café this many days before the shop's clock."""
    now = shop.app.clock.now()
    async with shop.app.sessionmaker() as session, session.begin():
        customer = await session.scalar(
            select(models.Customer).where(models.Customer.telegram_id == telegram_id)
        )
        store = await session.scalar(select(models.Store).where(models.Store.code == "central"))
        product = await session.scalar(
            select(models.Product).where(models.Product.sku == "croissant")
        )
        assert customer is not None
        assert store is not None
        assert product is not None
        for n, days in enumerate(days_ago):
            placed = now - timedelta(days=days)
            order = models.Order(
                number=f"H{telegram_id}-{n}",
                store_id=store.id,
                customer_id=customer.id,
                idempotency_key=f"history:{telegram_id}:{n}",
                status="completed",
                fulfilment="pickup",
                subtotal_minor=1500,
                total_minor=1500,
                currency="CNY",
                placed_at=placed,
                completed_at=placed + timedelta(minutes=20),
            )
            session.add(order)
            await session.flush()
            session.add(
                models.OrderLine(
                    order_id=order.id,
                    product_id=product.id,
                    name="Croissant",
                    unit_price_minor=1500,
                    quantity=1,
                    line_total_minor=1500,
                )
            )


async def _two_subscribers(sla: SlaShop) -> None:
    """Mia (three recent orders) and Leo (one old order), both said yes to offers."""
    shop = sla.shop
    for shopper in (shop.me, shop.other):
        await shopper.send("/subscribe")
        assert shopper.last_text.startswith("🔔 You will get our offers")
    await _history(shop, MIA, [1, 3, 5])
    await _history(shop, LEO, [25])


def _message(shop: Shop, chat_id: int, needle: str) -> dict[str, Any]:
    """The newest bot message in a chat whose text contains `needle`."""
    found = [m for m in shop.fake.messages(chat_id) if needle in str(m.get("text", ""))]
    assert found, f"no message with {needle!r} in {chat_id}"
    return found[-1]


def _buttons(message: dict[str, Any]) -> dict[str, str]:
    """Label -> callback data of a message's inline buttons."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return {b["text"]: str(b.get("callback_data") or b.get("url")) for row in rows for b in row}


async def _preview(sla: SlaShop, number: int, user_id: int = ANN, args: str = "") -> str:
    """/push in the staff group; the preview of campaign #number once it is posted."""
    await _say(sla.shop, user_id, f"/push{args}")
    title = f"📣 Campaign #{number} for Central Café: preview"

    async def shown() -> bool:
        return any(title in text for text in _group_texts(sla.shop))

    await eventually(shown, timeout=15)
    await sla.shop.fake.wait_idle(quiet=0.1)
    return str(_message(sla.shop, GROUP, title)["text"])


async def _press_data(shop: Shop, user_id: int, message_id: int, data: str) -> dict[str, Any]:
    """Press exact callback data in the group; the answer (toast or alert) it got."""
    query = shop.fake.press_button(user_id, message_id, data, chat_id=GROUP)

    async def answered() -> bool:
        return bool(shop.fake.callback_answers(query))

    await eventually(answered, timeout=10)
    await shop.fake.wait_idle(quiet=0.1)
    return shop.fake.callback_answers(query)[-1]


async def _campaign(shop: Shop, campaign_id: int) -> models.Campaign:
    campaign = await shop.scalar(select(models.Campaign).where(models.Campaign.id == campaign_id))
    assert campaign is not None
    return campaign  # type: ignore[no-any-return]  # Shop.scalar is untyped


async def _finished(shop: Shop, campaign_id: int) -> None:
    """Wait until the campaign is done and everything it sent has arrived."""

    async def done() -> bool:
        if (await _campaign(shop, campaign_id)).status != "done":
            return False
        outbox = models.OutboxMessage
        return await shop.scalar(select(outbox.id).where(outbox.status == "pending")) is None

    await eventually(done, timeout=15)
    await shop.fake.wait_idle(quiet=0.2)


async def _delivered(shop: Shop) -> bool:
    outbox = models.OutboxMessage
    return await shop.scalar(select(outbox.id).where(outbox.status == "pending")) is None


async def _recipients(shop: Shop, campaign_id: int) -> dict[int, models.CampaignRecipient]:
    """Telegram id -> recipient row of a campaign."""
    rows = await shop.rows(models.CampaignRecipient)
    customers = {row.id: row.telegram_id for row in await shop.rows(models.Customer)}
    return {customers[r.customer_id]: r for r in rows if r.campaign_id == campaign_id}


def _pushes(shopper: Shopper) -> list[dict[str, Any]]:
    return [m for m in shopper.messages() if PUSH_END in str(m.get("text", ""))]


def _progress(shop: Shop, campaign_id: int) -> str:
    return str(_message(shop, GROUP, f"📣 Campaign #{campaign_id} for Central Café:")["text"])


async def _stop_worker(shop: Shop) -> None:
    """Stop the shop's own campaign worker: the test drives run_once() / plan_weekly()."""
    assert shop.app.campaigns is not None
    await shop.app.campaigns.stop()
    task = shop.app._campaigns_task  # wait for its last tick to end
    assert task is not None
    await task


async def _drain(shop: Shop) -> None:
    """Run the (stopped) worker until no campaign runs and what it queued has arrived."""
    worker = shop.app.campaigns
    assert worker is not None

    async def idle() -> bool:
        return await worker.run_once() == 0 and await _delivered(shop)

    await eventually(idle, timeout=10)
    await shop.fake.wait_idle(quiet=0.2)


# --------------------------------------------------------------------------- happy path


@pytest.fixture(name="runtime")
def campaign_runtime() -> str:
    """Campaign rules live above the runtimes: one runtime here; the first test runs on each."""
    return "aiogram"


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_a_consenting_customer_gets_one_push_and_the_manager_sees_it_through(
    sla: SlaShop,
) -> None:
    me = sla.shop.me
    await _completed_order(sla, "Yes, please")
    assert any("You will get our offers" in text for text in me.texts())

    preview = await _preview(sla, 1)
    assert "Campaign #1 for Central Café: preview" in preview
    assert "Audience: 1 customers." in preview
    await _press(sla.shop, ANN, "Send to 1")
    await _finished(sla.shop, 1)

    [push] = _pushes(me)
    # One customer alone is below no mean: classic8 calls that a win-back.
    assert push["text"] == (
        "👋 We miss you at Central Café! Our bestsellers:\n• Croissant\n" + PUSH_END
    )
    buttons = [b for row in push["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons[0]["url"].endswith("?start=p1")
    assert buttons[1]["text"] == "🔕 Unsubscribe"

    async def progress_done() -> bool:
        return "done ✅" in _progress(sla.shop, 1) and "Sent 1" in _progress(sla.shop, 1)

    await eventually(progress_done, timeout=10)

    await me.send("/start p1")
    assert "Central Café" in me.last_text, "the link opens the store"
    [recipient] = await sla.shop.rows(models.CampaignRecipient)
    assert recipient.status == "sent"
    assert recipient.opened_at is not None


# --------------------------------------------------------------------------- consent


async def test_a_customer_who_declines_offers_is_left_out_and_never_asked_again(
    sla: SlaShop,
) -> None:
    me = sla.shop.me
    await _completed_order(sla, "No, thanks")
    assert "OK, no offers. If you change your mind, send /subscribe." in me.texts()
    customer = await _customer(sla.shop, MIA)
    assert (customer.marketing_consent, customer.marketing_asked_at is not None) == (False, True)

    await _place_order(sla.shop)  # a second order: no question this time
    confirmation = me.messages()[-1]
    assert "Order #0002" in confirmation["text"] or "#0002" in confirmation["text"]
    assert "May we send you" not in confirmation["text"]
    assert not any("Yes, please" in label for label in _buttons(confirmation))
    asked = [t for t in me.texts() if "May we send you the odd offer" in t]
    assert len(asked) == 1, "asked once, on the first order only"

    preview = await _preview(sla, 1)
    assert "Left out: 1 without consent, 0 who blocked the bot" in preview
    assert "Nobody can be pushed to right now." in preview
    message = _message(sla.shop, GROUP, "Campaign #1 for Central Café: preview")
    assert list(_buttons(message)) == ["✖ Cancel"], "no Send button when nobody would get it"

    await _press(sla.shop, ANN, "Cancel")
    assert "✖ Campaign #1 cancelled by Ann." in _group_texts(sla.shop)
    assert (await _campaign(sla.shop, 1)).status == "cancelled"
    assert await sla.shop.rows(models.CampaignRecipient) == []
    assert _pushes(me) == []


async def test_unsubscribing_by_command_or_by_the_push_button_leaves_customers_out_until_subscribe(
    sla: SlaShop,
) -> None:
    shop = sla.shop
    await _two_subscribers(sla)
    assert "Audience: 2 customers." in await _preview(sla, 1)
    await _press(shop, ANN, "Send to 2")
    await _finished(shop, 1)
    assert len(_pushes(shop.me)) == len(_pushes(shop.other)) == 1

    query = await shop.other.press("🔕 Unsubscribe")
    assert shop.other.toast(query) == "Unsubscribed"
    assert shop.other.last_text.startswith("🔕 You won't get offers any more.")
    assert PUSH_END in _pushes(shop.other)[0]["text"], "the push itself stays readable"
    await shop.me.send("/unsubscribe")
    assert shop.me.last_text.startswith("🔕 You won't get offers any more.")
    for telegram_id in (MIA, LEO):
        assert (await _customer(shop, telegram_id)).marketing_consent is False

    sla.clock.advance(7 * DAY + 60)  # past the frequency cap: only consent keeps them out
    preview = await _preview(sla, 2)
    assert "Left out: 2 without consent, 0 who blocked the bot, 0 pushed" in preview
    assert "Nobody can be pushed to right now." in preview
    await _press(shop, ANN, "Cancel")

    await shop.me.send("/subscribe")
    preview = await _preview(sla, 3)
    assert "Audience: 1 customers." in preview
    assert "Left out: 1 without consent" in preview
    await _press(shop, ANN, "Send to 1")
    await _finished(shop, 3)

    assert len(_pushes(shop.me)) == 2
    assert len(_pushes(shop.other)) == 1, "Leo stays unsubscribed"
    assert list(await _recipients(shop, 3)) == [MIA]


# --------------------------------------------------------------------------- frequency cap


async def test_a_second_campaign_within_the_minimum_days_skips_the_customer_until_a_week_passed(
    sla: SlaShop,
) -> None:
    shop = sla.shop
    await _two_subscribers(sla)
    await _preview(sla, 1)
    await _press(shop, ANN, "Send to 2")
    await _finished(shop, 1)

    sla.clock.advance(6 * DAY)
    preview = await _preview(sla, 2)
    assert "2 pushed in the last 7 days" in preview
    assert "Nobody can be pushed to right now." in preview
    await _press(shop, ANN, "Cancel")

    sla.clock.advance(DAY + 1)
    preview = await _preview(sla, 3)
    assert "Audience: 2 customers." in preview
    assert "0 pushed in the last 7 days" in preview
    await _press(shop, ANN, "Send to 2")
    await _finished(shop, 3)
    assert len(_pushes(shop.me)) == len(_pushes(shop.other)) == 2


async def test_two_campaigns_started_at_once_push_each_customer_once(sla: SlaShop) -> None:
    shop = sla.shop
    await _two_subscribers(sla)
    await _stop_worker(shop)
    app = shop.app
    assert app.campaigns is not None
    now = app.clock.now()
    plans = await asyncio.gather(
        *(
            plan_campaign(app.sessionmaker, app.engine, "central", now, origin="cli", start=True)
            for _ in range(2)
        )
    )
    assert sorted(len(plan.pushes) for plan in plans) == [2, 2], "both planned both customers"

    await asyncio.gather(app.campaigns.run_once(), app.campaigns.run_once())
    await _drain(shop)

    assert len(_pushes(shop.me)) == 1
    assert len(_pushes(shop.other)) == 1
    recipients = [r for r in await shop.rows(models.CampaignRecipient)]
    assert sorted(r.status for r in recipients) == ["sent", "sent", "skipped", "skipped"]
    assert {r.reason for r in recipients if r.status == "skipped"} == {"recent_push"}
    assert [c.status for c in await shop.rows(models.Campaign)] == ["done", "done"]


# --------------------------------------------------------------------------- quiet hours


async def test_a_campaign_confirmed_in_the_quiet_hours_waits_until_ten_in_the_morning(
    sla: SlaShop,
) -> None:
    shop = sla.shop
    await _two_subscribers(sla)
    await _preview(sla, 1)
    sla.clock.advance(3 * 60 + 40)  # 21:10 in Shanghai: inside 21:00-10:00
    await _press(shop, ANN, "Send to 2")

    async def paused() -> bool:
        return "paused for the quiet hours until 10:00" in _progress(shop, 1)

    await eventually(paused, timeout=10)
    assert "Sent 0 · failed 0 · skipped 0 · left 2" in _progress(shop, 1)
    assert _pushes(shop.me) == _pushes(shop.other) == []
    assert {r.status for r in (await _recipients(shop, 1)).values()} == {"planned"}

    sla.clock.advance(12 * 60)  # 09:10: still quiet
    assert shop.app.campaigns is not None
    await shop.app.campaigns.run_once()
    await shop.fake.wait_idle(quiet=0.2)
    assert _pushes(shop.me) == []

    sla.clock.advance(60)  # 10:10
    await shop.app.campaigns.run_once()
    await _finished(shop, 1)
    assert len(_pushes(shop.me)) == len(_pushes(shop.other)) == 1
    ten = datetime(2026, 5, 5, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    for recipient in (await _recipients(shop, 1)).values():
        assert recipient.queued_at is not None
        assert recipient.sent_at is not None
        assert recipient.queued_at >= ten
        assert recipient.sent_at >= ten


# --------------------------------------------------------------------------- blocked


async def test_a_customer_who_blocked_the_bot_fails_once_and_is_left_out_next_time(
    sla: SlaShop,
) -> None:
    shop = sla.shop
    await _two_subscribers(sla)
    shop.fake.block_bot(LEO)
    await _preview(sla, 1)
    await _press(shop, ANN, "Send to 2")
    await _finished(shop, 1)

    recipients = await _recipients(shop, 1)
    assert recipients[MIA].status == "sent"
    assert (recipients[LEO].status, recipients[LEO].reason) == ("failed", "send_failed")
    leo = await _customer(shop, LEO)
    assert leo.reachable is False
    assert leo.unreachable_since is not None
    refused = [c for c in shop.fake.calls("sendMessage") if c.chat_id == LEO]
    assert refused, "the push was tried"
    assert _pushes(shop.other) == []

    async def counted() -> bool:
        text = _progress(shop, 1)
        return "done ✅" in text and "Sent 1 · failed 1 · skipped 0 · left 0" in text

    await eventually(counted, timeout=10)

    sla.clock.advance(7 * DAY + 60)
    preview = await _preview(sla, 2)
    assert "Left out: 0 without consent, 1 who blocked the bot, 0 pushed" in preview
    assert "Audience: 1 customers." in preview


# --------------------------------------------------------------------------- the manager


async def test_the_preview_shows_each_segment_its_push_and_a_sample(sla: SlaShop) -> None:
    shop = sla.shop
    await _set(shop, push_winback_offer="Code HELLO: 10% off")
    await _two_subscribers(sla)
    preview = await _preview(sla, 1)

    lines = preview.split("\n")
    assert lines[0] == "📣 Campaign #1 for Central Café: preview"
    assert lines[1].startswith("RFM (classic8) as of 2026-05-05: 2 customers with orders.")
    assert "• Important value: 1 of 1 → personal picks" in lines
    assert "• General win-back: 1 of 1 → win-back offer" in lines
    winback = lines[lines.index("• General win-back: 1 of 1 → win-back offer") + 1]
    assert winback.startswith("   e.g. “👋 We miss you at Central Café! Our bestsellers:")
    assert "• Croissant" in winback
    assert "🎁 Code HELLO: 10% off" in winback
    assert "never between 21:00 and 10:00 store time" in preview
    assert lines[-1] == "Audience: 2 customers."
    assert not any("Important retain" in line for line in lines), "empty segments are not listed"

    await _press(shop, ANN, "Send to 2")
    await _finished(shop, 1)
    [leo_push] = _pushes(shop.other)
    assert leo_push["text"].startswith("👋 We miss you at Central Café! Our bestsellers:\n• ")
    assert "🎁 Code HELLO: 10% off" in leo_push["text"]
    recipients = await _recipients(shop, 1)
    assert (recipients[MIA].segment, recipients[LEO].segment) == (
        "important_value",
        "general_winback",
    )
    assert recipients[LEO].kind == "winback"


async def test_cancel_sends_nothing_and_a_stale_send_is_refused(sla: SlaShop) -> None:
    shop = sla.shop
    await _two_subscribers(sla)
    await _preview(sla, 1)
    message = _message(shop, GROUP, "Campaign #1 for Central Café: preview")
    send = _buttons(message)["📣 Send to 2"]

    await _press(shop, ANN, "Cancel")
    edited = _message(shop, GROUP, "Campaign #1")
    assert edited["message_id"] == message["message_id"], "the preview itself says so"
    assert edited["text"] == "✖ Campaign #1 cancelled by Ann."
    assert _buttons(edited) == {}

    answer = await _press_data(shop, ANN, message["message_id"], send)
    assert (answer.get("text"), answer.get("show_alert")) == ("This campaign is cancelled.", True)
    assert (await _campaign(shop, 1)).status == "cancelled"
    await asyncio.sleep(0.3)
    assert _pushes(shop.me) == _pushes(shop.other) == []
    assert not [r for r in await shop.rows(models.CampaignRecipient) if r.status != "skipped"]


async def test_a_second_send_press_is_refused_and_starts_no_second_campaign(sla: SlaShop) -> None:
    shop = sla.shop
    await _two_subscribers(sla)
    await _preview(sla, 1)
    message = _message(shop, GROUP, "Campaign #1 for Central Café: preview")
    send = _buttons(message)["📣 Send to 2"]

    first = await _press_data(shop, ANN, message["message_id"], send)
    assert first.get("text") == "Campaign started"
    again = await _press_data(shop, ANN, message["message_id"], send)
    assert again.get("show_alert") is True
    assert again.get("text") in (
        "This campaign is already running.",
        "This campaign is already finished.",
    )
    await _finished(shop, 1)

    assert len(_pushes(shop.me)) == len(_pushes(shop.other)) == 1
    assert await shop.scalar(select(func.count()).select_from(models.Campaign)) == 1
    edits = [str(c.params.get("text")) for c in shop.fake.calls("editMessageText")]
    assert len([text for text in edits if "started by Ann" in text]) == 1
    late = await _press_data(shop, ANN, message["message_id"], send)
    assert late.get("text") == "This campaign is already finished."


async def test_stop_drops_the_pushes_not_yet_sent(sla: SlaShop) -> None:
    shop = sla.shop
    await _two_subscribers(sla)
    await _preview(sla, 1)
    sla.clock.advance(4 * 60)  # 21:30 local: the campaign runs but waits for the morning
    await _press(shop, ANN, "Send to 2")
    started = _message(shop, GROUP, "Campaign #1")
    assert "⏹ Stop" in _buttons(started)

    await _press(shop, ANN, "Stop")
    assert "⏹ Campaign #1 stopped by Ann; pushes not yet sent are dropped." in _group_texts(shop)
    campaign = await _campaign(shop, 1)
    assert campaign.status == "cancelled"
    recipients = await _recipients(shop, 1)
    assert {(r.status, r.reason) for r in recipients.values()} == {("skipped", "cancelled")}

    sla.clock.advance(13 * 60)  # 10:30 next morning
    assert shop.app.campaigns is not None
    assert await shop.app.campaigns.run_once() == 0
    await shop.fake.wait_idle(quiet=0.2)
    assert _pushes(shop.me) == _pushes(shop.other) == []

    def progress() -> dict[str, Any]:
        [shown] = [m for m in shop.fake.messages(GROUP) if m["message_id"] == started["message_id"]]
        return shown

    async def final() -> bool:
        return "stopped ⏹" in str(progress().get("text"))

    await eventually(final, timeout=10)
    assert "Sent 0 · failed 0 · skipped 2 · left 0" in progress()["text"]
    assert "⏹ Stop" not in _buttons(progress()), "a stopped campaign offers no Stop"

    answer = await _press_data(shop, ANN, started["message_id"], _buttons(started)["⏹ Stop"])
    assert (answer.get("text"), answer.get("show_alert")) == ("This campaign is cancelled.", True)


async def test_pushes_already_queued_when_the_campaign_is_stopped_are_still_counted(
    sla: SlaShop,
) -> None:
    shop = sla.shop
    await _two_subscribers(sla)
    await _stop_worker(shop)
    assert shop.app.campaigns is not None
    await _preview(sla, 1)
    await _press(shop, ANN, "Send to 2")
    assert await shop.app.campaigns.run_once() == 1  # both queued, then delivered
    await eventually(lambda: _delivered(shop), timeout=10)
    assert len(_pushes(shop.me)) == len(_pushes(shop.other)) == 1

    await _press(shop, ANN, "Stop")
    assert (await _campaign(shop, 1)).status == "cancelled"
    await shop.app.campaigns.run_once()

    recipients = await _recipients(shop, 1)
    assert {r.status for r in recipients.values()} == {"sent"}, "delivered pushes are sent"
    [result] = await campaign_results(
        shop.app.engine, "central", sla.clock.now() - timedelta(days=1), sla.clock.now()
    )
    assert (result.status, result.sent) == ("cancelled", 2)


async def test_only_the_manager_or_an_admin_may_push(sla: SlaShop) -> None:
    shop = sla.shop
    await _two_subscribers(sla)
    await shop.me.send("/push")
    assert shop.me.last_text == REFUSED, "a customer in private"
    assert await _say(shop, OLLY, "/push") == REFUSED, "a group member"
    assert await _say(shop, BEN, "/push") == REFUSED, "a group admin who is not the manager"
    assert await shop.rows(models.Campaign) == []

    await shop.execute(
        update(models.Store).where(models.Store.code == "central").values(manager_telegram_id=BEN)
    )
    await _preview(sla, 1, user_id=BEN)
    message = _message(shop, GROUP, "Campaign #1 for Central Café: preview")
    send = _buttons(message)["📣 Send to 2"]
    refused = await _press_data(shop, OLLY, message["message_id"], send)
    assert (refused.get("text"), refused.get("show_alert")) == (REFUSED, True)
    assert (await _campaign(shop, 1)).status == "draft"
    preview = _message(shop, GROUP, "Campaign #1")["text"]
    assert preview.startswith("📣 Campaign #1 for Central Café: preview"), "left as it was"

    await _press(shop, BEN, "Send to 2")
    await _finished(shop, 1)
    assert (await _campaign(shop, 1)).status == "done"
    assert (await _campaign(shop, 1)).created_by == BEN
    edits = [str(c.params.get("text")) for c in shop.fake.calls("editMessageText")]
    assert "📣 Campaign #1 for Central Café started by Ben: 2 customers." in edits


async def test_forged_and_stale_campaign_buttons_are_refused(sla: SlaShop) -> None:
    shop = sla.shop
    await _two_subscribers(sla)
    await _preview(sla, 1)
    message = _message(shop, GROUP, "Campaign #1 for Central Café: preview")
    send = _buttons(message)["📣 Send to 2"]
    codec = CallbackCodec(shop.app.settings.callback_key())
    stale = "This button is out of date."
    cases = {
        "forged signature": send[:-3] + ("xyz" if not send.endswith("xyz") else "abc"),
        "unknown campaign": codec.encode("pu", 999, "go"),
        "unknown action": codec.encode("pu", 1, "boom"),
        "not a number": codec.encode("pu", "one", "go"),
        "no arguments": codec.encode("pu"),
    }
    for case, data in cases.items():
        answer = await _press_data(shop, ANN, message["message_id"], data)
        assert answer.get("text") == stale, case
    assert (await _campaign(shop, 1)).status == "draft"
    assert _pushes(shop.me) == []

    await _press(shop, ANN, "Cancel")
    for case in ("a customer's unsubscribe button in the group", "consent in the group"):
        data = codec.encode("un") if case.startswith("a customer") else codec.encode("mk", 1)
        answer = await _press_data(shop, ANN, message["message_id"], data)
        assert answer.get("text") == stale, case


# --------------------------------------------------------------------------- weekly


async def test_the_weekly_campaign_starts_once_a_week_at_its_time(sla: SlaShop) -> None:
    shop = sla.shop
    await _two_subscribers(sla)
    await _stop_worker(shop)
    assert shop.app.campaigns is not None
    await _set(shop, push_weekly=True, push_weekly_day="tue", push_weekly_time="11:00")
    # Monday 17:30 in Shanghai; the next slot is Tuesday 11:00 (03:00 UTC).
    sla.clock.advance(17 * 60 + 40)  # Tuesday 11:10

    assert await shop.app.campaigns.plan_weekly() == 1
    [campaign] = await shop.rows(models.Campaign)
    assert (campaign.origin, campaign.status, campaign.audience) == ("weekly", "running", 2)
    assert campaign.chat_id == GROUP

    async def announced() -> bool:
        return "📣 Weekly campaign #1 for Central Café: 2 customers." in _group_texts(shop)

    await eventually(announced, timeout=10)
    assert await shop.app.campaigns.plan_weekly() == 0, "once a week"
    sla.clock.advance(3 * DAY)
    assert await shop.app.campaigns.plan_weekly() == 0, "still the same week"

    await _drain(shop)
    await _finished(shop, 1)
    assert len(_pushes(shop.me)) == len(_pushes(shop.other)) == 1
    assert "done ✅" in _progress(shop, 1)

    sla.clock.advance(4 * DAY - 11)  # the next Tuesday 10:59
    assert await shop.app.campaigns.plan_weekly() == 0, "not before its time"
    sla.clock.advance(1)  # 11:00
    leader = shop.app.campaigns.planner
    shop.app.campaigns.planner = _Standby()
    assert await shop.app.campaigns.plan_weekly() == 0, "a process that does not lead the sender"
    shop.app.campaigns.planner = leader
    assert await shop.app.campaigns.plan_weekly() == 1
    assert [c.origin for c in await shop.rows(models.Campaign)] == ["weekly", "weekly"]


class _Standby(SoleLeader):
    """Another process leads the sender: this one's weekly planning stays idle."""

    holding = False

    async def held(self) -> bool:
        """Never leads."""
        return False
