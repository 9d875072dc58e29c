"""The customer journey over real HTTP: stores, catalog, cart, checkout, tracking, bad input."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from bot.app import BotApp
from bot.db import models
from bot.fakeapi.server import FakeBotApi
from bot.sender import SendLimits
from bot.settings import Settings
from tests.e2e.conftest import TOKEN
from tests.e2e.shopper import Shopper

SHOPPER, OTHER = 3001, 3002
# Monday 2026-05-04 17:30 in Shanghai: the demo stores are open.
OPEN_TIME = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
# 23:30 in Shanghai: every demo store is closed.
CLOSED_TIME = datetime(2026, 5, 4, 15, 30, tzinfo=UTC)
NEAR_CENTRAL = (31.2330, 121.4760)  # a few hundred metres from Central Café
FAR_AWAY = (39.9042, 116.4074)  # Beijing


class RunningClock:
    """Real elapsed time from a chosen starting moment, so store hours are deterministic."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.origin = time.monotonic()

    def now(self) -> datetime:
        """The chosen start plus the real time elapsed since."""
        return self.start + timedelta(seconds=time.monotonic() - self.origin)


@dataclass
class Shop:
    """A running bot with a shopper and direct database access for assertions."""

    app: BotApp
    fake: FakeBotApi
    me: Shopper
    other: Shopper

    async def scalar(self, query: object) -> object:
        """Run a query on the bot's database."""
        async with self.app.sessionmaker() as session:
            return await session.scalar(query)  # type: ignore[call-overload]

    async def execute(self, statement: object) -> None:
        """Change the bot's database (as an operator would)."""
        async with self.app.sessionmaker() as session, session.begin():
            await session.execute(statement)  # type: ignore[call-overload]

    async def stock(self, sku: str, store: str = "central") -> int | None:
        """Current stock of a product at a store."""
        value = await self.scalar(
            select(models.StoreProduct.stock)
            .join(models.Product, models.Product.id == models.StoreProduct.product_id)
            .join(models.Store, models.Store.id == models.StoreProduct.store_id)
            .where(models.Product.sku == sku, models.Store.code == store)
        )
        return value if isinstance(value, int) else None

    async def orders(self) -> list[models.Order]:
        """Every order placed."""
        async with self.app.sessionmaker() as session:
            return list(await session.scalars(select(models.Order).order_by(models.Order.id)))


def _open_clock(request: pytest.FixtureRequest) -> RunningClock:
    marker = request.node.get_closest_marker("clock")
    return RunningClock(marker.args[0] if marker else OPEN_TIME)


@pytest.fixture
async def shop(
    seeded_url: str, runtime: str, request: pytest.FixtureRequest
) -> AsyncIterator[Shop]:
    """The bot on `runtime` against an unthrottled fake (limits have their own tests)."""
    fake = FakeBotApi(token=TOKEN, limits=None)
    await fake.start()
    fake.add_user(SHOPPER, "Mia", language_code="en")
    fake.add_user(OTHER, "Leo", language_code="en")
    settings = Settings.model_construct(
        **(
            Settings().model_dump()
            | {
                "bot_token": SecretStr(TOKEN),
                "database_url": seeded_url,
                "telegram_api_url": fake.base_url,
                "runtime": runtime,
                "polling_timeout": 1,
                "webhook_url": None,
            }
        )
    )
    fast = SendLimits(
        global_per_second=1000, per_chat_per_second=1000, per_chat_burst=1000, group_per_minute=1000
    )
    app = BotApp(settings, clock=_open_clock(request), send_limits=fast)
    await app.start()
    import asyncio

    polling = asyncio.create_task(app.run_polling())
    try:
        yield Shop(app, fake, Shopper(fake, SHOPPER), Shopper(fake, OTHER))
    finally:
        app.request_stop()
        await polling
        await app.close()
        await fake.stop()


async def _fill_cart_with_lattes(shop: Shop, count: int = 2) -> None:
    me = shop.me
    await me.send("/start scentral")
    await me.send("/search latte")
    await me.press("Latte")
    for _ in range(count):
        await me.press("➕")


async def test_a_pickup_order_goes_from_menu_to_placed_exactly_once(shop: Shop) -> None:
    me = shop.me
    stock_before = await shop.stock("latte")
    await _fill_cart_with_lattes(shop)
    await me.press("🛒")
    assert "2 × Latte — ¥56.00" in me.last_text
    await me.press("Checkout")
    await me.press("Pickup")
    await me.press("As soon as possible")
    await me.send("+86 138 0013 8000")
    await me.press("Skip")
    summary = me.last_text
    assert "Total: ¥56.00" in summary
    assert "Pickup" in summary
    assert "+8613800138000" in summary

    place = me.find_button("Place order")
    await me.press("Place order")
    again = await me.press_data(*place)

    orders = await shop.orders()
    assert len(orders) == 1
    assert "Order #0001 placed" in me.texts()[-1] or any("#0001" in t for t in me.texts())
    assert me.toast(again) == "Already placed as order #0001."
    assert (orders[0].status, orders[0].total_minor, orders[0].fulfilment) == (
        "placed",
        5600,
        "pickup",
    )
    if stock_before is not None:
        assert await shop.stock("latte") == stock_before - 2


async def test_a_table_qr_link_orders_dine_in_at_that_table(shop: Shop) -> None:
    me = shop.me
    await me.send("/start scentralt7")
    assert "Table 7" in me.last_text
    await me.send("/search latte")
    await me.press("Latte")
    await me.press("➕")
    await me.press("🛒")
    assert "Dine-in at table 7" in me.last_text
    await me.press("Checkout")
    await me.share_contact("+8613900139000")
    await me.send("less ice please")
    assert "Dine-in at table 7" in me.last_text
    assert "Note: less ice please" in me.last_text
    await me.press("Place order")

    [order] = await shop.orders()
    assert (order.fulfilment, order.table_label, order.comment) == (
        "dine_in",
        "7",
        "less ice please",
    )


async def test_a_delivery_order_checks_minimum_and_radius(shop: Shop) -> None:
    me = shop.me
    await _fill_cart_with_lattes(shop, count=1)
    await me.press("🛒")
    await me.press("Checkout")
    await me.press("Delivery")
    assert "at least ¥30.00" in me.last_text, "one latte is below the delivery minimum"

    await me.press("🛒")
    await me.press("➕")
    await me.press("Checkout")
    await me.press("Delivery")
    await me.share_location(*FAR_AWAY)
    assert "we deliver within 3 km" in me.last_text
    await me.share_location(*NEAR_CENTRAL)
    await me.send("+8613800138000")
    await me.press("Skip")
    assert "Delivery: ¥5.00" in me.last_text
    assert "Total: ¥61.00" in me.last_text
    await me.press("Place order")

    [order] = await shop.orders()
    assert (order.fulfilment, order.delivery_fee_minor, order.total_minor) == (
        "delivery",
        500,
        6100,
    )
    assert order.delivery_latitude == pytest.approx(NEAR_CENTRAL[0])


async def test_bad_input_at_each_checkout_step_is_explained_and_the_step_kept(shop: Shop) -> None:
    me = shop.me
    await _fill_cart_with_lattes(shop, count=1)
    await me.send("1000000000")
    assert "At most 20 of one item" in me.texts()[-2]
    await me.press("🛒")
    await me.press("Checkout")
    await me.send("pickup please")
    assert me.last_text == "Please use the buttons above."
    await me.press("Pickup")
    await me.press("As soon as possible")
    await me.send("call me maybe")
    assert "does not look like a phone number" in me.last_text
    await me.send("+86 138 0013 8000")
    await me.send("x" * 5000)
    assert "That note is 5000 characters" in me.last_text
    await me.send("extra hot")
    assert "Note: extra hot" in me.last_text
    await me.press("Place order")

    assert len(await shop.orders()) == 1


async def test_an_old_summary_cannot_place_a_changed_cart(shop: Shop) -> None:
    me = shop.me
    await _fill_cart_with_lattes(shop, count=1)
    await me.press("🛒")
    await me.press("Checkout")
    await me.press("Pickup")
    await me.press("As soon as possible")
    await me.send("+8613800138000")
    await me.press("Skip")
    old_place = me.find_button("Place order")
    await me.send("/search latte")
    await me.press("Latte")
    await me.press("➕")

    answer = await me.press_data(*old_place)

    assert shop.me.toast(answer) != ""
    assert await shop.orders() == []


async def test_forged_and_removed_product_buttons_are_refused(shop: Shop) -> None:
    me = shop.me
    await me.send("/start scentral")
    await me.send("/search latte")
    product_button = me.find_button("Latte")
    await shop.execute(
        update(models.Product).where(models.Product.sku == "latte").values(active=False)
    )

    removed = await me.press_data(*product_button)
    forged = await me.press_data(product_button[0], product_button[1][:-3] + "xyz")

    assert me.toast(removed) == "This product is no longer on the menu."
    assert me.toast(forged) == "This button is out of date."


async def test_the_nearest_store_is_found_from_a_location(shop: Shop) -> None:
    me = shop.me
    await me.send("/stores")
    assert "share your location" in me.last_text
    await me.share_location(*NEAR_CENTRAL)
    assert "Central Café · 0.4 km" in me.buttons()

    await me.share_location(*FAR_AWAY)
    assert "No open store near you" in me.texts()[-2]


async def test_switching_store_asks_before_emptying_the_cart(shop: Shop) -> None:
    me = shop.me
    await _fill_cart_with_lattes(shop, count=1)
    await me.send("/start sriverside")
    assert "Switch to Riverside Tea House and empty it?" in me.last_text
    await me.press("Keep my cart")
    await me.send("/cart")
    assert "Central Café" in me.last_text
    await me.send("/start sriverside")
    await me.press("Switch store")
    await me.send("/cart")
    assert "Riverside Tea House" in me.last_text
    assert "Your cart is empty." in me.last_text


@pytest.mark.clock(CLOSED_TIME)
async def test_a_closed_store_places_nothing_and_says_when_it_opens(shop: Shop) -> None:
    me = shop.me
    await _fill_cart_with_lattes(shop, count=1)
    await me.press("🛒")
    await me.press("Checkout")

    assert "not taking orders right now (closed, opens" in me.last_text
    assert await shop.orders() == []


async def test_cancelling_before_acceptance_returns_the_stock(shop: Shop) -> None:
    me = shop.me
    before = await shop.stock("latte")
    await _fill_cart_with_lattes(shop, count=2)
    await me.press("🛒")
    await me.press("Checkout")
    await me.press("Pickup")
    await me.press("As soon as possible")
    await me.send("+8613800138000")
    await me.press("Skip")
    await me.press("Place order")
    await me.send("/orders")
    await me.press("#0001")
    await me.press("Cancel order")

    [order] = await shop.orders()
    assert order.status == "cancelled"
    assert await shop.stock("latte") == before
    assert "cancelled" in me.last_text

    await me.press("Order again")
    assert "2 × Latte" in me.last_text
