"""The customer journey over real HTTP: stores, catalog, cart, checkout, tracking, bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, update

from bot.db import models
from tests.e2e.conftest import eventually
from tests.e2e.shop import CLOSED_TIME, OPEN_TIME, Shop, running_shop

NEAR_CENTRAL = (31.2330, 121.4760)  # a few hundred metres from Central Café
FAR_AWAY = (39.9042, 116.4074)  # Beijing


@pytest.fixture
async def shop(
    seeded_url: str, runtime: str, request: pytest.FixtureRequest
) -> AsyncIterator[Shop]:
    """The bot on `runtime`, unthrottled, clock from the `clock` marker (default: open)."""
    marker = request.node.get_closest_marker("clock")
    async with running_shop(
        seeded_url, runtime, start=marker.args[0] if marker else OPEN_TIME
    ) as s:
        yield s


async def _fill_cart_with_lattes(shop: Shop, count: int = 2) -> None:
    me = shop.me
    await me.send("/start scentral")
    await me.send("/search latte")
    await me.press("Latte")
    for _ in range(count):
        await me.press("➕")


async def test_a_pickup_order_goes_from_menu_to_placed_exactly_once(shop: Shop) -> None:
    me = shop.me
    stock_before = await shop.stock("croissant")
    assert stock_before is not None, "the sample catalog counts croissants"
    await me.send("/start scentral")
    await me.send("/menu")
    await me.press("Bakery")
    await me.press("Croissant")
    await me.press("➕")
    await me.press("➕")
    await me.press("🛒")
    assert "2 × Croissant — ¥30.00" in me.last_text
    await me.press("Checkout")
    await me.press("Pickup")
    await me.press("As soon as possible")
    await me.send("+86 138 0013 8000")
    await me.press("Skip")
    summary = me.last_text
    assert "Total: ¥30.00" in summary
    assert "Pickup" in summary
    assert "+8613800138000" in summary

    place = me.find_button("Place order")
    await me.press("Place order")
    again = await me.press_data(*place)

    orders = await shop.orders()
    assert len(orders) == 1
    assert "Order #0001 placed" in me.last_text
    assert me.toast(again) == "Already placed as order #0001."
    assert (orders[0].status, orders[0].total_minor, orders[0].fulfilment) == (
        "placed",
        3000,
        "pickup",
    )
    assert await shop.stock("croissant") == stock_before - 2


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
    assert order.contact_phone == "+8613800138000", "delivery asks for the phone too"


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

    async def said(words: str, before: int) -> bool:
        return any(words in text for text in me.texts()[before:])

    async def offered(label: str) -> bool:
        return label in me.buttons()

    # Each answer is two messages; under load the second may come after the chat went quiet.
    before = len(me.texts())
    await me.send("/stores")
    await eventually(lambda: said("share your location", before))
    await me.share_location(*NEAR_CENTRAL)
    await eventually(lambda: offered("Central Café · 0.4 km"))

    before = len(me.texts())
    await me.share_location(*FAR_AWAY)
    await eventually(lambda: said("No open store near you", before))


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
    before = await shop.stock("croissant")
    await me.send("/start scentral")
    await me.send("/search croissant")
    await me.press("Croissant")
    await me.press("➕")
    await me.press("➕")
    assert await shop.stock("croissant") == before, "a cart reserves nothing"
    await me.press("🛒")
    await me.press("Checkout")
    await me.press("Pickup")
    await me.press("As soon as possible")
    await me.send("+8613800138000")
    await me.press("Skip")
    await me.press("Place order")
    assert await shop.stock("croissant") == before - 2
    await me.send("/orders")
    await me.press("#0001")
    await me.press("Cancel order")

    [order] = await shop.orders()
    assert order.status == "cancelled"
    assert await shop.stock("croissant") == before
    assert "cancelled" in me.last_text

    await me.press("Order again")
    assert "2 × Croissant" in me.last_text


async def test_a_paused_store_places_nothing(shop: Shop) -> None:
    me = shop.me
    await _fill_cart_with_lattes(shop, count=1)
    await shop.execute(
        update(models.Store).where(models.Store.code == "central").values(paused=True)
    )
    await me.press("🛒")
    await me.press("Checkout")

    assert "not taking orders right now (paused by the store for now)" in me.last_text
    assert await shop.orders() == []


async def test_a_full_pickup_slot_is_no_longer_offered(shop: Shop) -> None:
    central = update(models.Store).where(models.Store.code == "central")
    settings = await shop.scalar(
        select(models.Store.settings).where(models.Store.code == "central")
    )
    await shop.execute(central.values(settings={**settings, "slot_capacity": 1}))
    for shopper in (shop.me, shop.other):
        await shopper.send("/start scentral")
        await shopper.send("/search latte")
        await shopper.press("Latte")
        await shopper.press("➕")
        await shopper.press("🛒")
        await shopper.press("Checkout")
        await shopper.press("Pickup")
    first_slot = next(label for label in shop.me.buttons() if label[:2].isdigit())
    await shop.me.press(first_slot)
    await shop.me.send("+8613800138000")
    await shop.me.press("Skip")
    await shop.me.press("Place order")

    stale = await shop.other.press(first_slot)

    assert shop.other.toast(stale) == "That time is now full; please pick another."
    assert first_slot not in shop.other.buttons()
    assert len(await shop.orders()) == 1


async def test_the_cart_survives_a_restart(seeded_url: str, runtime: str) -> None:
    async with running_shop(seeded_url, runtime) as first:
        await first.me.send("/start scentral")
        await first.me.send("/search croissant")
        await first.me.press("Croissant")
        await first.me.press("➕")
    # Telegram's update ids go on increasing across the bot's restart.
    async with running_shop(seeded_url, runtime, first_update_id=1000) as second:
        await second.me.send("/cart")

        assert "1 × Croissant — ¥15.00" in second.me.last_text


async def test_a_long_category_is_paged_and_sold_out_items_cannot_be_added(shop: Shop) -> None:
    me = shop.me
    async with shop.app.sessionmaker() as session, session.begin():
        coffee = await session.scalar(
            select(models.Category.id).where(models.Category.code == "coffee")
        )
        store = await session.scalar(select(models.Store.id).where(models.Store.code == "central"))
        for index in range(5):
            product = models.Product(
                sku=f"extra-{index}",
                name=f"Zebra blend {index}",
                category_id=coffee,
                price_minor=2000,
                currency="CNY",
                created_at=OPEN_TIME,
            )
            session.add(product)
            await session.flush()
            session.add(models.StoreProduct(store_id=store, product_id=product.id, stock=None))
    await me.send("/start scentral")
    await me.send("/menu")
    await me.press("Coffee")
    assert "1/2" in me.buttons()
    await me.press("▶")
    assert "2/2" in me.buttons()
    assert any(label.startswith("Zebra blend") for label in me.buttons())

    await me.send("/search pain au chocolat")
    assert "Pain au chocolat · sold out" in me.buttons()
    await me.press("Pain au chocolat")
    assert "Sold out for now." in me.last_text
    assert "➕" not in me.buttons()


async def test_a_price_change_before_placing_shows_the_new_total(shop: Shop) -> None:
    me = shop.me
    await _fill_cart_with_lattes(shop, count=1)
    await me.press("🛒")
    await me.press("Checkout")
    await me.press("Pickup")
    await me.press("As soon as possible")
    await me.send("+8613800138000")
    await me.press("Skip")
    await shop.execute(
        update(models.Product).where(models.Product.sku == "latte").values(price_minor=3000)
    )

    answer = await me.press("Place order")

    assert me.toast(answer) == "Prices changed meanwhile; please check the new total."
    assert "Total: ¥30.00" in me.last_text
    assert await shop.orders() == []
    await me.press("Place order")
    [order] = await shop.orders()
    assert order.total_minor == 3000


async def test_dine_in_without_a_qr_code_asks_for_a_known_table(shop: Shop) -> None:
    me = shop.me
    await _fill_cart_with_lattes(shop, count=1)
    await me.press("🛒")
    await me.press("Checkout")
    await me.press("Dine-in")
    assert me.last_text == "Which table are you at? Type the table number."
    await me.send("99")
    assert "There is no such table here" in me.last_text
    await me.send("table #five")
    assert "Please type just the table number" in me.last_text
    await me.send("#5")
    await me.send("+8613800138000")
    await me.send("   ")
    assert "Anything the store should know" in me.last_text, "a blank note is asked again"
    await me.press("Skip")
    assert "Dine-in at table 5" in me.last_text
