"""Every update delivered twice, and updates out of order within a chat: no duplicate effect.

The real bot (BotApp, aiogram runtime long-polling the fake Bot API over HTTP, migrated and seeded
database, outbox sender) runs a day at Central Café on a clock fixed at 17:30 Shanghai time.

Duplicates. The fake queues every update twice (fault "duplicate_update"), so each reaches the
bot twice back to back; after the day every update is queued once more under its own id, as
Telegram does when a restarted bot had not confirmed them. Customers order pickup and delivery,
one books a table, staff accept, ready and complete from the card buttons in the group (one
order is rejected), and customers answer the satisfaction survey. On top of that every
consuming press is double tapped (two callback queries, two update ids: the second must be told
"already ..."), and some presses are re-sent byte for byte under a new update id. Afterwards
there must be one order per checkout, stock taken once (and given back once for the rejected
order), one staff card per order, each status notice sent once, one survey per completed
order, and the pipeline must have skipped exactly the extra deliveries as duplicates.

Out of order. Two updates of one chat are built from what the person sees, then delivered newest
first under their original ids (so the inbox must be a set, not a high-water mark): the Pickup
press after the phone number typed right after it, a cart edit before the "Place order" pressed
first, the staff's "Ready" before the "Accept" it depends on, a "Cancel" before a "Ready", a
survey comment before its star. Stale presses must be answered with a clear message, nothing
doubled, and the database must hold together: every order's transitions form a valid path that
ends in its status, stock matches the orders, and each status notice matches the final status.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select, update

from bot.db import models
from domain.orders import ORDER_TRANSITIONS, OrderStatus
from tests.e2e import conftest as e2e
from tests.e2e.shop import OPEN_TIME, running_shop
from tests.e2e.test_staff_sla import ShiftClock
from tests.reliability.redelivery_script import (
    GROUP,
    GROUP_TITLE,
    NEAR_CENTRAL,
    PHONE,
    Bot,
    Person,
    order_number,
    stamp,
)

ANN, BEN = 4201, 4202  # group admins; Ann is also one of the bot's admins (she binds the group)
FIRST_DAY_CUSTOMER, FIRST_REORDER_CUSTOMER = 5100, 5200
COUNTED = ("croissant", "banana-bread")
STOCK = 1000  # ample: no checkout may fail for want of stock
SURVEY_DELAY_MINUTES = 31  # the store surveys 30 minutes after completion


@dataclass(frozen=True)
class Size:
    """How big a run is: customers in the duplicated day, customers with reordered updates."""

    day: int
    reordered: int


QUICK = Size(day=3, reordered=2)
LONG = Size(day=16, reordered=12)


@dataclass
class Checkout:
    """One checkout as the customer made it, and what should become of its order."""

    customer: Person
    sku: str
    quantity: int
    fate: str  # the order's expected final status
    number: str = ""
    resent: bool = False  # the client re-sent its "Place order" and "Accept" presses


@dataclass
class Tally:
    """What the people saw that the database cannot tell."""

    checkouts: list[Checkout] = field(default_factory=list)
    double_taps: int = 0
    resends: int = 0
    reordered: int = 0
    stale_answers: list[str] = field(default_factory=list)


seeded_url = e2e.seeded_url  # the end-to-end tests' fixture: the demo stores, migrated


@pytest.fixture
async def bot(seeded_url: str) -> AsyncIterator[Bot]:
    """The bot on aiogram, its clock fixed in opening hours, due work driven by the test."""
    clock = ShiftClock(OPEN_TIME)
    async with running_shop(seeded_url, "aiogram", clock=clock, admin_ids=(ANN,)) as shop:
        await shop.app.jobs.stop()
        for sku in COUNTED:
            product = select(models.Product.id).where(models.Product.sku == sku)
            await shop.execute(
                update(models.StoreProduct)
                .where(models.StoreProduct.product_id == product.scalar_subquery())
                .values(stock=STOCK)
            )
        shop.fake.add_user(ANN, "Ann")
        shop.fake.add_user(BEN, "Ben")
        shop.fake.add_group(GROUP, GROUP_TITLE, admins=[ANN, BEN])
        yield Bot(shop, clock)


# --------------------------------------------------------------------------- the duplicated day


async def _book_a_table(customer: Person, ben: Person, tally: Tally) -> None:
    """A table for four tomorrow at 19:00, confirmed by Ben; both confirmations double tapped."""
    await customer.say("/book")
    await customer.press("A table")
    await customer.press("4")
    await customer.press("Tomorrow")
    await customer.press("19:00")
    await customer.say(PHONE)
    await customer.press("Skip")
    _, again = await customer.double_tap("Confirm booking")
    assert customer.toast(again) == (
        "This booking was already sent. Send /orders to see its status."
    )
    _, again = await ben.double_tap("Confirm", "Booking request")
    assert ben.toast(again) == "This booking is already confirmed."
    tally.double_taps += 2


async def _order(customer: Person, index: int, tally: Tally) -> Checkout:
    """Order through the chat: pickup of croissants, or delivery of banana bread."""
    delivery = index % 4 == 1
    sku, words, label = (
        ("banana-bread", "banana", "Banana bread")
        if delivery
        else ("croissant", "croissant", "Croissant")
    )
    quantity = 2 if delivery else 1 + index % 2
    await customer.say(f"/search {words}")
    await customer.press(label)
    for _ in range(quantity):
        await customer.press("➕")
    await customer.press("🛒")
    await customer.press("Checkout")
    if delivery:
        await customer.press("Delivery")
        await customer.share_location(*NEAR_CENTRAL)
    else:
        await customer.press("Pickup")
        await customer.press("As soon as possible")
    await customer.say(PHONE)
    if index % 4 == 3:
        await customer.say("extra napkins please")
    else:
        await customer.press("Skip")
    first, again = await customer.double_tap("Place order")
    known = {c.number for c in tally.checkouts}
    checkout = Checkout(customer, sku, quantity, "rejected" if index % 4 == 2 else "completed")
    checkout.number = order_number(customer, known)
    assert customer.toast(first) == f"Order #{checkout.number} placed"
    assert customer.toast(again) == f"Already placed as order #{checkout.number}."
    tally.double_taps += 1
    if index % 4 == 0:
        await customer.resend(first)
        assert customer.answers(first) == 1, "Telegram takes one answer a press"
        checkout.resent = True
        tally.resends += 1
    tally.checkouts.append(checkout)
    return checkout


async def _staff_steps(checkout: Checkout, ann: Person, ben: Person, tally: Tally) -> None:
    """Accept, ready and complete (or reject) from the card; every press double tapped."""
    card = f"Order #{checkout.number} ·"
    if checkout.fate == "rejected":
        await ann.press("Reject", card)
        _, again = await ann.double_tap("sold out", card)
        assert re.fullmatch(stamp("Already rejected by Ann at HH:MM."), ann.toast(again))
        tally.double_taps += 1
        return
    first, again = await ann.double_tap("10 min", card)
    assert re.fullmatch(stamp("Already accepted by Ann at HH:MM."), ann.toast(again))
    if checkout.resent:
        await ann.resend(first)
        assert ann.answers(first) == 1
        tally.resends += 1
    _, again = await ben.double_tap("Ready", card)
    assert re.fullmatch(stamp("Already ready by Ben at HH:MM."), ben.toast(again))
    _, again = await ann.double_tap("Completed", card)
    assert re.fullmatch(stamp("Already completed by Ann at HH:MM."), ann.toast(again))
    tally.double_taps += 3


async def _answer_surveys(bot: Bot, tally: Tally) -> None:
    """Send the due surveys; the first customer scores 5 and comments, the second scores 2."""
    bot.clock.advance(SURVEY_DELAY_MINUTES)
    await bot.shop.app.jobs.run_once()
    await bot.drained()
    answering = [c for c in tally.checkouts if c.fate == "completed"][:2]
    for checkout, (stars, comment) in zip(
        answering, (("5 ★", "Lovely croissant"), ("2 ★", None)), strict=False
    ):
        customer = checkout.customer
        first, again = await customer.double_tap(stars, f"order #{checkout.number}")
        assert customer.toast(first) == customer.toast(again) == "Thank you!"
        tally.double_taps += 1
        if comment is None:
            await customer.press("Skip", f"order #{checkout.number}")
        else:
            await customer.say(comment)
            assert customer.last_text == "Thanks, your comment has been passed on to the store."


async def _duplicated_day(bot: Bot, size: Size, tally: Tally) -> None:
    """The day with every update queued twice: the group bound, orders, a booking, surveys."""
    fake = bot.shop.fake
    fake.add_fault(kind="duplicate_update", times=1_000_000)
    ann = bot.person(ANN, "Ann", GROUP)
    ben = bot.person(BEN, "Ben", GROUP)
    await ann.say("/bind central")
    assert "now the staff chat of Central Café" in ann.last_text
    customers = [bot.person(FIRST_DAY_CUSTOMER + i, f"Day{i}") for i in range(size.day)]
    for index, customer in enumerate(customers):
        fake.add_user(customer.user_id, customer.name)
        await customer.say("/start scentral")
        if index == 0:
            await _book_a_table(customer, ben, tally)
        checkout = await _order(customer, index, tally)
        await _staff_steps(checkout, ann, ben, tally)
    await _answer_surveys(bot, tally)
    fake.clear_faults()


# --------------------------------------------------------------------------- the reordered day


async def _reordered_customer(
    bot: Bot, customer: Person, index: int, ann: Person, ben: Person, tally: Tally
) -> None:
    """One customer's order with pairs of updates delivered newest first."""
    await customer.say("/start scentral")
    await customer.say("/search croissant")
    await customer.press("Croissant")
    await customer.press("➕")
    await customer.press("🛒")
    await customer.press("Checkout")

    # Pickup pressed, the phone typed at once: the phone arrives while the buttons still wait.
    pickup, phone = customer.plan_press("Pickup"), customer.plan_text(PHONE)
    await bot.deliver_swapped(pickup, phone)
    tally.reordered += 1
    assert "Please use the buttons above." in customer.texts()
    await customer.press("As soon as possible")
    await customer.say(PHONE)
    await customer.press("Skip")

    # The cart shown again with /cart beside the summary; "Place order" pressed, then ➕.
    await customer.say("/cart")
    place = customer.plan_press("Place order")
    plus = customer.plan_press("➕")
    checkout = Checkout(customer, "croissant", 1, "completed" if index % 2 == 0 else "cancelled")
    if index % 2 == 0:
        await bot.deliver_swapped(place, plus)  # the edit overtakes the confirmation
        tally.reordered += 1
        answer = customer.toast(place.query)
        assert answer == "Your cart changed; please check the summary again."
        tally.stale_answers.append(answer)
        await customer.press("Place order")
        checkout.quantity = 2
    else:
        await bot.deliver_in_turn(place, plus)  # in order: the ➕ comes after the cart emptied
        answer = customer.toast(plus.query)
        assert answer == "This button is out of date."
        tally.stale_answers.append(answer)
    checkout.number = order_number(customer, {c.number for c in tally.checkouts})
    tally.checkouts.append(checkout)

    # Ben's "Ready" (the card his client shows) arrives before Ann's "Accept".
    card = f"Order #{checkout.number} ·"
    order_id = await bot.order_id(checkout.number)
    accept = ann.plan_press("10 min", card)
    message_id, _ = ann.button("10 min", card)
    early_ready = ben.plan_press_data(message_id, bot.codec.encode("sy", order_id))
    await bot.deliver_swapped(accept, early_ready)
    tally.reordered += 1
    answer = ben.toast(early_ready.query)
    assert answer == f"Order #{checkout.number} has not been accepted yet."
    tally.stale_answers.append(answer)
    assert ann.toast(accept.query) == "Done"

    if checkout.fate == "completed":
        await ben.press("Ready", card)
        await ann.press("Completed", card)
        return
    # Ben presses Ready, Ann Cancel right after; the Cancel arrives first.
    ready, cancel = ben.plan_press("Ready", card), ann.plan_press("Cancel", card)
    await bot.deliver_swapped(ready, cancel)
    tally.reordered += 1
    answer = ben.toast(ready.query)
    assert re.fullmatch(stamp("Already cancelled by Ann at HH:MM."), answer)
    tally.stale_answers.append(answer)


async def _reordered_surveys(bot: Bot, reordered: list[Checkout], tally: Tally) -> None:
    """A star then a comment, the comment first: it is not taken for the survey."""
    bot.clock.advance(SURVEY_DELAY_MINUTES)
    await bot.shop.app.jobs.run_once()
    await bot.drained()
    for checkout in reordered:
        if checkout.fate != "completed":
            continue
        customer = checkout.customer
        star = customer.plan_press("4 ★", f"order #{checkout.number}")
        comment = customer.plan_text("warm and flaky")
        await bot.deliver_swapped(star, comment)
        tally.reordered += 1
        assert "Sorry, I did not understand that." in " ".join(customer.texts()[-3:])
        assert customer.toast(star.query) == "Thank you!"
        await customer.say("warm and flaky")
        assert customer.last_text == "Thanks, your comment has been passed on to the store."


async def _reordered_day(bot: Bot, size: Size, tally: Tally) -> None:
    """Customers whose updates are swapped in pairs, then the surveys of their orders."""
    ann = bot.person(ANN, "Ann", GROUP)
    ben = bot.person(BEN, "Ben", GROUP)
    first = len(tally.checkouts)
    for index in range(size.reordered):
        customer = bot.person(FIRST_REORDER_CUSTOMER + index, f"Late{index}")
        bot.shop.fake.add_user(customer.user_id, customer.name)
        await _reordered_customer(bot, customer, index, ann, ben, tally)
    await _reordered_surveys(bot, tally.checkouts[first:], tally)


# --------------------------------------------------------------------------- judging


def _sent(bot: Bot, chat_id: int, marker: str, methods: tuple[str, ...] = ("sendMessage",)) -> int:
    """How many calls Telegram took into a chat whose text contains `marker`."""
    return sum(
        1
        for call in bot.shop.fake.calls()
        if call.ok
        and call.method in methods
        and call.chat_id == chat_id
        and marker in str(call.params.get("text", ""))
    )


NOTICES = {
    "accepted": "accepted order #{n};",
    "ready": "Order #{n} is ready!",
    "completed": "Order #{n} completed.",
    "rejected": "could not take order #{n}:",
    "cancelled": "cancelled order #{n}.",
}


@dataclass
class Verdict:
    """Duplicate effects and inconsistencies found, each described."""

    duplicates: list[str] = field(default_factory=list)
    inconsistent: list[str] = field(default_factory=list)


async def _judge(bot: Bot, tally: Tally, checkouts: list[Checkout]) -> Verdict:
    """Compare the orders, events, stock, notices and surveys with what the people did."""
    verdict = Verdict()
    async with bot.shop.app.sessionmaker() as session:
        orders = {
            order.number: order
            for order in await session.scalars(select(models.Order).order_by(models.Order.id))
        }
        events = list(
            await session.scalars(
                select(models.OrderEvent)
                .where(models.OrderEvent.order_id.is_not(None))
                .order_by(models.OrderEvent.id)
            )
        )
        lines = list(await session.scalars(select(models.OrderLine)))
        surveys = list(await session.scalars(select(models.Survey)))
        customers = dict(
            (await session.execute(select(models.Customer.id, models.Customer.telegram_id))).all()
        )
    by_customer = Counter(customers[order.customer_id] for order in orders.values())
    for checkout in checkouts:
        extra = by_customer[checkout.customer.user_id] - 1
        if extra:
            verdict.duplicates.append(f"{checkout.customer.name}: {extra} orders too many")
    path: dict[int, list[tuple[str | None, str]]] = {}
    for event in events:
        if event.order_id is not None:
            path.setdefault(event.order_id, []).append((event.from_status, event.to_status))
    for checkout in checkouts:
        order = orders[checkout.number]
        verdict.inconsistent += _path_problems(order, path.get(order.id, []))
        if order.status != checkout.fate:
            verdict.inconsistent.append(f"#{order.number} is {order.status}, not {checkout.fate}")
        units = sum(line.quantity for line in lines if line.order_id == order.id)
        if units != checkout.quantity:
            verdict.inconsistent.append(
                f"#{order.number}: {units} units, {checkout.quantity} asked"
            )
        cards = _sent(bot, GROUP, f"Order #{order.number}</b>")
        if cards != 1:
            verdict.duplicates.append(f"#{order.number}: {cards} staff cards")
        placed = _sent(
            bot,
            checkout.customer.user_id,
            f"Order #{order.number} placed.",
            ("sendMessage", "editMessageText"),
        )
        if placed != 1:
            verdict.duplicates.append(f"#{order.number}: placed {placed} times")
        passed = {after for _before, after in path.get(order.id, [])}
        for status, marker in NOTICES.items():
            told = _sent(bot, checkout.customer.user_id, marker.format(n=order.number))
            if told != (status in passed):
                (verdict.duplicates if told > 1 else verdict.inconsistent).append(
                    f"#{order.number}: {told} '{status}' notices, status path {sorted(passed)}"
                )
        order_surveys = [s for s in surveys if s.order_id == order.id]
        if len(order_surveys) != (order.status == "completed"):
            verdict.duplicates.append(f"#{order.number}: {len(order_surveys)} surveys")
        for survey in order_surveys:
            asked = _sent(bot, checkout.customer.user_id, f"How was order #{order.number} ")
            if asked != 1:
                verdict.duplicates.append(f"#{order.number}: survey asked {asked} times")
            if survey.status == "answered" and survey.score is None:
                verdict.inconsistent.append(f"#{order.number}: answered without a score")
    holding = {o.id for o in orders.values() if o.status not in ("rejected", "cancelled")}
    for sku in COUNTED:
        product_id = await _product_id(bot, sku)
        # Stock is shared by every order so far, so it is judged against all of them.
        expected = STOCK - sum(
            c.quantity
            for c in tally.checkouts
            if c.sku == sku and c.fate not in ("rejected", "cancelled")
        )
        kept = STOCK - sum(
            line.quantity
            for line in lines
            if line.order_id in holding and line.product_id == product_id
        )
        stock = await bot.shop.stock(sku)
        if stock != expected or stock != kept:
            verdict.duplicates.append(f"{sku}: stock {stock}, orders say {kept}, people {expected}")
    return verdict


async def _product_id(bot: Bot, sku: str) -> int:
    value = await bot.shop.scalar(select(models.Product.id).where(models.Product.sku == sku))
    assert isinstance(value, int)
    return value


def _path_problems(order: models.Order, path: list[tuple[str | None, str]]) -> list[str]:
    """What is impossible about an order's recorded transitions and time stamps."""
    problems = []
    if not path or path[0] != (None, "placed"):
        problems.append(f"#{order.number}: does not start placed: {path}")
    for (_, reached), (before, after) in itertools.pairwise(path):
        if before != reached or OrderStatus(after) not in ORDER_TRANSITIONS[OrderStatus(reached)]:
            problems.append(f"#{order.number}: impossible step {before}->{after} after {reached}")
    if path and path[-1][1] != order.status:
        problems.append(f"#{order.number}: ends {path[-1][1]} but is {order.status}")
    passed = {after for _, after in path}
    for status in OrderStatus:
        stamped = getattr(order, f"{status.value}_at") is not None
        if stamped != (status.value in passed):
            problems.append(f"#{order.number}: {status.value}_at {'set' if stamped else 'unset'}")
    return problems


async def _booked_once(bot: Bot, customer: Person) -> None:
    """One booking, confirmed, announced to the group and to the customer once each."""
    async with bot.shop.app.sessionmaker() as session:
        bookings = list(await session.scalars(select(models.Reservation)))
    assert [b.status for b in bookings] == ["confirmed"]
    assert _sent(bot, GROUP, "Booking request") == 1
    assert _sent(bot, customer.user_id, "confirmed your booking") == 1


# --------------------------------------------------------------------------- the test


async def test_redelivered_and_reordered_updates_have_no_duplicate_effect(
    bot: Bot, long_run: bool, report_figures: Callable[[str], None]
) -> None:
    size = LONG if long_run else QUICK
    tally = Tally()

    await _duplicated_day(bot, size, tally)
    day = list(tally.checkouts)
    # A restarted bot that never confirmed them gets the whole day again, ids unchanged.
    every_update = list(bot.handed_out())
    await bot.deliver_in_order(bot.updates(every_update))
    await bot.wait_skipped(sum(bot.handed_out().values()) - len(every_update))
    handed, outcomes = bot.handed_out(), bot.outcomes()
    deliveries = sum(handed.values())
    async with bot.shop.app.sessionmaker() as session:
        inbox = set(await session.scalars(select(models.InboxEntry.update_id)))
        answered = {
            survey.score: survey.comment
            for survey in await session.scalars(select(models.Survey))
            if survey.status == "answered"
        }
    duplicated = await _judge(bot, tally, day)
    await _booked_once(bot, day[0].customer)
    low_alerts = _sent(bot, GROUP, "Low score ★★☆☆☆")

    await _reordered_day(bot, size, tally)
    reordered = await _judge(bot, tally, tally.checkouts[len(day) :])
    everything = await _judge(bot, tally, tally.checkouts)

    report_figures(
        f"redelivery: {len(handed)} updates delivered {deliveries} times (twice back to back, "
        f"then the whole day again), {outcomes['duplicate']} skipped as duplicates, "
        f"{len(duplicated.duplicates)} duplicate effects ({len(day)} orders, 1 booking, "
        f"{tally.double_taps} double taps, {tally.resends} presses re-sent byte for byte); "
        f"{tally.reordered} pairs reordered within a chat, {len(reordered.duplicates)} "
        f"duplicate effects, {len(tally.stale_answers)} stale presses answered; "
        f"{len(everything.inconsistent)} inconsistent orders, stock or notices"
    )
    assert set(handed.values()) == {3}, "every update of the day reached the bot three times"
    assert outcomes["duplicate"] == deliveries - len(handed), "each extra delivery was skipped"
    assert outcomes["handled"] == len(handed)
    assert outcomes["failed"] == outcomes["invalid"] == 0
    assert inbox == set(handed), "the inbox holds each update id once"
    assert duplicated.duplicates == []
    assert duplicated.inconsistent == []
    assert answered == {5: "Lovely croissant", 2: ""}
    assert low_alerts == 1
    assert reordered.duplicates == []
    assert everything.duplicates == []
    assert everything.inconsistent == []
