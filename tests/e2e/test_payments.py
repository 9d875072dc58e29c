"""Telegram Payments: invoice, pre-checkout re-checks, one order per charge, refunds when short."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr
from sqlalchemy import update

from bot.db import models
from tests.e2e.shop import Shop, running_shop

PROVIDER_TOKEN = "284685063:TEST:provider-token"


@pytest.fixture
async def shop(seeded_url: str, runtime: str) -> AsyncIterator[Shop]:
    """A shop with Telegram Payments switched on."""
    async with running_shop(
        seeded_url, runtime, payment_provider_token=SecretStr(PROVIDER_TOKEN)
    ) as running:
        yield running


async def _invoice_for_two_lattes(shop: Shop) -> dict[str, object]:
    me = shop.me
    await me.send("/start scentral")
    await me.send("/search latte")
    await me.press("Latte")
    await me.press("➕")
    await me.press("➕")
    await me.press("🛒")
    await me.press("Checkout")
    await me.press("Pickup")
    await me.press("As soon as possible")
    await me.send("+8613800138000")
    await me.press("Skip")
    assert "Payment: in Telegram" in me.last_text
    await me.press("Pay ¥56.00")
    [invoice] = shop.fake.calls("sendInvoice")
    return invoice.params


async def _pay(shop: Shop, invoice: dict[str, object], charge: str) -> None:
    update_id = shop.fake.send_successful_payment(
        shop.me.user_id, str(invoice["payload"]), 5600, "CNY", telegram_payment_charge_id=charge
    )
    await shop.processed(update_id)


async def test_an_order_is_placed_once_when_paid(shop: Shop) -> None:
    invoice = await _invoice_for_two_lattes(shop)
    assert invoice["provider_token"] == PROVIDER_TOKEN, "added by the sender, not stored"
    assert invoice["currency"] == "CNY"
    assert sum(int(p["amount"]) for p in invoice["prices"]) == 5600  # type: ignore[attr-defined,index]
    outbox = await shop.rows(models.OutboxMessage)
    assert all("provider_token" not in row.params for row in outbox)

    query = shop.fake.send_pre_checkout(shop.me.user_id, str(invoice["payload"]), 5600, "CNY")
    await shop.fake.wait_for_calls("answerPreCheckoutQuery", 1)
    assert shop.fake.pre_checkout_answers(query)[0]["ok"] is True
    assert await shop.orders() == [], "nothing is placed before the money arrives"

    await _pay(shop, invoice, "charge-1")
    await _pay(shop, invoice, "charge-1")

    [order] = await shop.orders()
    assert (order.payment_method, order.telegram_payment_charge_id) == ("telegram", "charge-1")
    assert order.paid_at is not None
    [payment] = await shop.rows(models.Payment)
    assert (payment.status, payment.order_id) == ("applied", order.id)
    assert any("Order #0001 placed" in text for text in shop.me.texts())


async def test_pre_checkout_is_refused_when_stock_ran_out(shop: Shop) -> None:
    invoice = await _invoice_for_two_lattes(shop)
    await shop.execute(update(models.StoreProduct).values(stock=1))

    query = shop.fake.send_pre_checkout(shop.me.user_id, str(invoice["payload"]), 5600, "CNY")
    await shop.fake.wait_for_calls("answerPreCheckoutQuery", 1)

    [answer] = shop.fake.pre_checkout_answers(query)
    assert answer["ok"] is False
    assert answer["error_message"] == "Something in your cart just sold out."


async def test_a_payment_that_cannot_become_an_order_is_owed_back(shop: Shop) -> None:
    invoice = await _invoice_for_two_lattes(shop)
    await shop.execute(update(models.StoreProduct).values(stock=0))

    await _pay(shop, invoice, "charge-9")

    assert await shop.orders() == []
    [payment] = await shop.rows(models.Payment)
    assert (payment.status, payment.total_minor) == ("refund_due", 5600)
    assert "A full refund is due" in shop.me.last_text
