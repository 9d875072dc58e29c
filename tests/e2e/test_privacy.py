"""/privacy and /forget over real HTTP: what is erased, what stays counted, stale buttons."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import func, select

from bot.db import models
from tests.e2e.shop import SHOPPER, Shop
from tests.e2e.test_staff_sla import (
    ANN,
    GROUP,
    SlaShop,
    _press,
    sla_shop,  # noqa: F401  (the "sla" fixture)
)

PHONE = "+8613800138000"
NOTE = "ring twice at the blue door"
COMMENT = "the croissant was cold"


@dataclass(frozen=True)
class Figures:
    """What /stats and the exports count: must not move when a customer is forgotten."""

    orders: int
    total_minor: int
    statuses: list[str]
    lines: int
    scores: list[int | None]


async def _figures(shop: Shop) -> Figures:
    orders = await shop.rows(models.Order)
    return Figures(
        orders=len(orders),
        total_minor=sum(order.total_minor for order in orders),
        statuses=[order.status for order in orders],
        lines=int(await shop.scalar(select(func.count()).select_from(models.OrderLine)) or 0),
        scores=[survey.score for survey in await shop.rows(models.Survey)],
    )


async def _order_with_note(shop: Shop) -> None:
    """Order a croissant for pickup at Central Café with a phone and a note."""
    me = shop.me
    cards = len(shop.fake.messages(GROUP))
    await me.send("/start scentral")
    await me.send("/search croissant")
    await me.press("Croissant")
    await me.press("➕")
    await me.press("🛒")
    await me.press("Checkout")
    await me.press("Pickup")
    await me.press("As soon as possible")
    await me.send(PHONE)
    await me.send(NOTE)
    await me.press("Place order")
    assert len(shop.fake.messages(GROUP)) > cards, "the card reached the group"


async def _served_and_commented(sla: SlaShop) -> None:
    """An order placed, worked by the staff, surveyed and answered with a comment."""
    await _order_with_note(sla.shop)
    await _press(sla.shop, ANN, "10 min")
    await _press(sla.shop, ANN, "Ready")
    await _press(sla.shop, ANN, "Completed")
    await sla.tick(31)
    await sla.shop.me.press("2 ★")
    await sla.shop.me.send(COMMENT)


async def _customer(shop: Shop, customer_id: int) -> models.Customer:
    async with shop.app.sessionmaker() as session:
        row = await session.get(models.Customer, customer_id)
    assert row is not None
    return row


async def _shopper_row(shop: Shop) -> models.Customer | None:
    async with shop.app.sessionmaker() as session:
        return await session.scalar(
            select(models.Customer).where(models.Customer.telegram_id == SHOPPER)
        )


def _outbox_text(rows: list[models.OutboxMessage]) -> str:
    return "\n".join(json.dumps(row.params, ensure_ascii=False) for row in rows)


async def test_privacy_says_what_is_stored_for_how_long_and_how_to_delete_it(
    sla: SlaShop,
) -> None:
    me = sla.shop.me
    await me.send("/privacy")

    text = me.last_text
    for stored in ("name", "username", "language", "phone", "orders", "survey", "chat state"):
        assert stored in text
    assert "marketing consent" in text
    assert "How long" in text
    assert "/forget" in text


async def test_forget_erases_personal_data_and_keeps_the_order_figures(sla: SlaShop) -> None:
    shop, me = sla.shop, sla.shop.me
    await _served_and_commented(sla)
    await me.send("/search latte")
    await me.press("Latte")
    await me.press("➕")  # something in the cart, too
    before = await _figures(shop)
    customer = await _shopper_row(shop)
    assert customer is not None
    assert customer.phone == PHONE
    [order] = await shop.orders()
    assert (order.contact_phone, order.comment) == (PHONE, NOTE)
    assert PHONE in _outbox_text(await shop.rows(models.OutboxMessage))

    await me.send("/forget")
    assert "Delete your personal data?" in me.last_text
    assert me.buttons() == ["🗑 Yes, delete my data", "Cancel"]
    prompt_id, yes = me.find_button("Yes, delete")
    await me.press("🗑 Yes, delete my data")

    [prompt] = [m for m in me.messages() if m["message_id"] == prompt_id]
    assert prompt["text"].startswith("Done: your personal data has been deleted.")
    assert not (prompt.get("reply_markup") or {}).get("inline_keyboard"), "buttons gone"
    gone = await _customer(shop, customer.id)
    assert (gone.first_name, gone.last_name, gone.username, gone.phone) == ("", None, None, None)
    assert not gone.marketing_consent
    assert gone.telegram_id < 0, "detached from the Telegram account"
    [order] = await shop.orders()
    assert (order.contact_phone, order.comment, order.delivery_address) == (None, None, None)
    [survey] = await shop.rows(models.Survey)
    assert (survey.comment, survey.score, survey.status) == ("", 2, "answered")
    assert await shop.rows(models.Cart) == []
    assert await shop.rows(models.CartLine) == []
    states = await shop.scalar(
        select(func.count())
        .select_from(models.ConversationState)
        .where(models.ConversationState.user_id == SHOPPER)
    )
    assert states == 0
    sent = [row for row in await shop.rows(models.OutboxMessage) if row.status != "pending"]
    for secret in (PHONE, NOTE, COMMENT, "Mia"):
        assert secret not in _outbox_text(sent), f"{secret!r} left in a sent message"
    assert await _figures(shop) == before, "orders, lines, totals, statuses, scores unchanged"

    # A stale press of the old Yes button does nothing harmful.
    answer = me.toast(await me.press_data(prompt_id, yes))
    assert answer == "This button is out of date."
    assert await _figures(shop) == before
    again = await _customer(shop, customer.id)
    assert (again.first_name, again.telegram_id) == ("", gone.telegram_id)
    fresh = await _shopper_row(shop)
    assert fresh is not None
    assert fresh.id != customer.id, "writing again starts a new profile"
    assert (fresh.first_name, fresh.phone) == ("Mia", None), "names refreshed from Telegram"
    [order] = await shop.orders()
    assert order.customer_id == customer.id, "the old orders stay with the anonymous profile"


async def test_cancel_keeps_everything(sla: SlaShop) -> None:
    shop, me = sla.shop, sla.shop.me
    await _served_and_commented(sla)
    before = await _figures(shop)

    await me.send("/forget")
    await me.press("Cancel")

    assert me.last_text == "Nothing was deleted."
    customer = await _shopper_row(shop)
    assert customer is not None
    assert (customer.first_name, customer.phone) == ("Mia", PHONE)
    [order] = await shop.orders()
    assert (order.contact_phone, order.comment) == (PHONE, NOTE)
    [survey] = await shop.rows(models.Survey)
    assert survey.comment == COMMENT
    assert await _figures(shop) == before


async def test_forget_waits_while_an_order_is_under_way(sla: SlaShop) -> None:
    shop, me = sla.shop, sla.shop.me
    await _order_with_note(shop)

    await me.send("/forget")

    assert me.last_text.startswith("You have 1 order(s) or booking(s) under way")
    assert me.buttons() != ["🗑 Yes, delete my data", "Cancel"]
    customer = await _shopper_row(shop)
    assert customer is not None
    assert customer.phone == PHONE
    [order] = await shop.orders()
    assert order.contact_phone == PHONE
