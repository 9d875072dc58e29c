"""Races through the whole update pipeline: ten staff on one button, a hundred buyers for ten units.

tests/db/test_stock_concurrency.py and test_booking_concurrency.py race the repositories. Here
the racers are raw Telegram updates, and each goes through everything an update goes through in
production: parsing, the group-admin question to Telegram (the fake Bot API, asked before the
transaction), the inbox, the conversation core, the outbox, one commit. The updates are spread
over several "webhook processes": pipelines wired like BotApp wires them, each with its own
engine and session factory on the same database. SQLite serialises the writers (BEGIN IMMEDIATE
and a busy timeout); on PostgreSQL the updates run as truly concurrent READ COMMITTED
transactions, where the compare-and-set updates of an order's status and of a product's stock
decide who wins.

1. Ten administrators of the store's group press "10 min" on one order card at once: the order
   is accepted once, by one of them; the customer is told once; the card names the winner; the
   nine others are each told who was first. Then, on another card, five press an accept button
   and five a reject reason at once: exactly one wins, and only a rejection returns the stock.
2. A hundred customers, each with a croissant in the cart and at the checkout summary, press
   "Place order" at once when ten are left: ten orders, stock 0, ten cards for the staff group;
   the ninety others are told it sold out and keep their cart.

Under ``--long`` every buyer walks to the summary through the pipeline (deep link, search,
product, add, cart, checkout, pickup, time, phone, note), for several rounds. The quick run walks
one of them and gives the others the same store, cart and checkout step through the
repositories, with the "Place order" button the bot would have shown them (the walker's own
button proves the test makes it the way the bot does).

Everything is read back from the database: orders and their events, stock, carts, the inbox
(every update handled exactly once) and the outbox (every call that would go to Telegram). The
clock is fixed at a time the store is open, so nothing depends on the time of day.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db import models
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.uow import SqlUnitOfWork
from bot.fakeapi.server import FakeBotApi
from bot.membership import GroupAdmins
from bot.metrics import Metrics
from bot.pipeline import Outcome, UpdatePipeline
from bot.runtime_aiogram import AiogramRuntime
from bot.seed import seed_demo_data
from domain.cart import CartLine
from domain.clock import FixedClock
from handlers.callbacks import CallbackCodec
from handlers.core import ConversationCore, CoreConfig
from handlers.i18n import Translator
from tests.e2e.conftest import TOKEN
from tests.e2e.shop import OPEN_TIME
from tests.updates import callback_update, message_update

CALLBACK_KEY = b"race-test-callback-key-32-bytes!"
GROUP = -100_888
GROUP_CHAT = {"id": GROUP, "type": "supergroup", "title": "Central staff"}
STAFF_NAMES = ("Ann", "Ben", "Cai", "Dan", "Eva", "Fei", "Gus", "Hui", "Ivy", "Jun")
STAFF = {4300 + index: name for index, name in enumerate(STAFF_NAMES)}
BOT_ADMIN = 4300  # Ann binds the group; the other nine are only administrators of the group
STOCK_KEEPER = 4301  # Ben
# Webhook processes. PostgreSQL pools up to 15 connections each: 45 stays well inside the
# server's 100 while other tests run beside this one.
INSTANCES = 3
BUYERS = 100
UNITS = 10
PHONE = "+8613800138000"
# OPEN_TIME is 09:30 UTC: 17:30 at Central Café (Asia/Shanghai), which is open then.
STORE_TIME = "17:30"
SOLD_OUT_NOTICES = (
    "Sorry, just sold out: Croissant. Your cart is kept; please adjust it.",  # at the stock CAS
    "Some items can no longer be ordered: Croissant. Please adjust your cart.",  # at the quote
)
STATUS_LINES = {"accepted": "Accepted – being prepared", "rejected": "Rejected"}


@dataclass(frozen=True)
class Size:
    """How big a run is."""

    rounds: int
    every_buyer_walks: bool  # through the pipeline, rather than copying one walker's checkout
    # Buyers walking at once. Under minutes of steady contention SQLite's busy handler can
    # starve one writer past its 10 s timeout (newcomers retry sooner than old waiters), so the
    # walk stays gentle; the races are short bursts, where the last waits for the others only.
    walkers_at_once: int = INSTANCES


QUICK = Size(rounds=1, every_buyer_walks=False)
LONG = Size(rounds=5, every_buyer_walks=True)


# --------------------------------------------------------------------------- the processes


@dataclass
class Instance:
    """One webhook process: its own engine, session factory and pipeline."""

    engine: AsyncEngine
    runtime: AiogramRuntime
    pipeline: UpdatePipeline
    commits: list[int]  # one entry per update committed (the pipeline's on_commit)


def _instance(url: str, api_url: str, clock: FixedClock) -> Instance:
    """The pieces BotApp.start() puts together, over a fresh engine."""
    engine = create_engine(url)
    runtime = AiogramRuntime(TOKEN, api_url)
    commits: list[int] = []
    core = ConversationCore(
        CoreConfig(bot_username="o2o_race_bot", admin_ids=frozenset({BOT_ADMIN})),
        Translator.default("en"),
        CallbackCodec(CALLBACK_KEY),
    )
    pipeline = UpdatePipeline(
        create_sessionmaker(engine),
        core,
        clock,
        lambda: commits.append(1),
        group_admins=GroupAdmins(runtime.transport).is_admin,
        metrics=Metrics(),
    )
    return Instance(engine, runtime, pipeline, commits)


class Cluster:
    """Several bot instances on one database, fed raw updates; a reader for the assertions."""

    def __init__(self, url: str, api_url: str, clock: FixedClock) -> None:
        """Wire INSTANCES pipelines on `url`; they ask the Bot API at `api_url` about admins."""
        self.clock = clock
        self.instances = [_instance(url, api_url, clock) for _ in range(INSTANCES)]
        self._engine = create_engine(url)
        self.db: async_sessionmaker[AsyncSession] = create_sessionmaker(self._engine)
        self.database_errors: list[str] = []
        self.raced: list[int] = []  # ids of every update that took part in a race

    async def close(self) -> None:
        """Dispose of every engine and HTTP session."""
        for instance in self.instances:
            await instance.runtime.close()
            await instance.engine.dispose()
        await self._engine.dispose()

    async def feed(self, update: dict[str, Any], via: int) -> Outcome:
        """Process one update on instance `via` (modulo the number of instances)."""
        try:
            return await self.instances[via % INSTANCES].pipeline.process(update)
        except DBAPIError as exc:
            # The webhook would answer 503 and Telegram would deliver again; a race must not
            # need that, so it is recorded for the figures and fails the test.
            self.database_errors.append(f"update {update['update_id']}: {exc.orig!r}")
            raise

    async def race(self, updates: Sequence[dict[str, Any]]) -> list[Outcome]:
        """Process the updates all at once, spread round-robin over the instances."""
        self.raced += [_update_id(update) for update in updates]
        return list(
            await asyncio.gather(*(self.feed(update, via) for via, update in enumerate(updates)))
        )

    async def replies(self, update_ids: Sequence[int]) -> dict[int, list[models.OutboxMessage]]:
        """The outbox rows each update wrote, in order."""
        found: dict[int, list[models.OutboxMessage]] = {update_id: [] for update_id in update_ids}
        async with self.db() as session:
            rows = await session.scalars(
                select(models.OutboxMessage)
                .where(models.OutboxMessage.source_update_id.in_(list(update_ids)))
                .order_by(models.OutboxMessage.id)
            )
            for row in rows:
                assert row.source_update_id is not None
                found[row.source_update_id].append(row)
        return found

    async def scalar(self, query: Any) -> Any:
        """One value read from the database."""
        async with self.db() as session:
            return await session.scalar(query)

    async def croissants(self) -> int:
        """Central Café's croissant stock."""
        stock = await self.scalar(
            select(models.StoreProduct.stock)
            .join(models.Product, models.Product.id == models.StoreProduct.product_id)
            .join(models.Store, models.Store.id == models.StoreProduct.store_id)
            .where(models.Product.sku == "croissant", models.Store.code == "central")
        )
        assert isinstance(stock, int), "Central counts its croissants"
        return stock

    async def inbox(self, update_ids: Sequence[int]) -> Counter[str]:
        """How the inbox recorded these updates, by outcome."""
        async with self.db() as session:
            outcomes = await session.scalars(
                select(models.InboxEntry.outcome).where(
                    models.InboxEntry.update_id.in_(list(update_ids))
                )
            )
            return Counter(outcomes)


@pytest.fixture
async def cluster(migrated_url: str) -> AsyncIterator[Cluster]:
    """Demo stores, a fake Bot API whose staff group has ten administrators, the instances."""
    clock = FixedClock(OPEN_TIME)
    engine = create_engine(migrated_url)
    try:
        await seed_demo_data(create_sessionmaker(engine), clock.now())
    finally:
        await engine.dispose()
    fake = FakeBotApi(token=TOKEN, limits=None)
    await fake.start()
    for user_id, name in STAFF.items():
        fake.add_user(user_id, name)
    fake.add_group(GROUP, "Central staff", admins=list(STAFF))
    running = Cluster(migrated_url, fake.base_url, clock)
    try:
        yield running
    finally:
        await running.close()
        await fake.stop()


# --------------------------------------------------------------------------- reading replies


def _buttons(rows: Sequence[models.OutboxMessage]) -> list[tuple[str, str]]:
    """(label, callback data) of every inline button in these outbox rows, newest row first."""
    found = []
    for row in reversed(rows):
        for line in (row.params.get("reply_markup") or {}).get("inline_keyboard", []):
            found += [(b["text"], b["callback_data"]) for b in line if "callback_data" in b]
    return found


def _button(rows: Sequence[models.OutboxMessage], label: str) -> str:
    """The callback data of the newest button whose label contains `label`."""
    for text, data in _buttons(rows):
        if label in text:
            return data
    raise AssertionError(f"no button {label!r} in {[text for text, _ in _buttons(rows)]}")


def _text(row: models.OutboxMessage) -> str:
    return str(row.params.get("text", ""))


def _answers(rows: Sequence[models.OutboxMessage]) -> list[models.OutboxMessage]:
    return [row for row in rows if row.method == "answerCallbackQuery"]


def _update_id(update: dict[str, Any]) -> int:
    return int(update["update_id"])


# --------------------------------------------------------------------------- people


@dataclass
class Customer:
    """A customer in a private chat, one handled update at a time; keeps the bot's last replies."""

    cluster: Cluster
    user_id: int
    via: int  # the instance their updates go to
    last: list[models.OutboxMessage] = dataclasses.field(default_factory=list)

    @property
    def name(self) -> str:
        """The customer's Telegram first name."""
        return f"C{self.user_id}"

    async def say(self, text: str) -> None:
        """Type a message."""
        await self.feed(message_update(self.user_id, text, first_name=self.name))

    async def press(self, label: str) -> None:
        """Press a button of the bot's last replies."""
        await self.feed(self.press_update(label))

    def press_update(self, label: str) -> dict[str, Any]:
        """The update of a press on the button labelled `label` in the bot's last replies."""
        return self.pressing(_button(self.last, label))

    def pressing(self, data: str) -> dict[str, Any]:
        """The update of a press on a button carrying `data`."""
        update = callback_update(self.user_id, data, message_id=1)
        update["callback_query"]["from"]["first_name"] = self.name
        return update

    async def feed(self, update: dict[str, Any]) -> None:
        """Have the update handled and remember what the bot answered."""
        outcome = await self.cluster.feed(update, self.via)
        assert outcome is Outcome.HANDLED, f"{update} ended {outcome}"
        self.last = (await self.cluster.replies([_update_id(update)]))[_update_id(update)]

    async def to_summary(self) -> None:
        """Choose Central by its deep link and check a croissant out up to "Place order"."""
        await self.say("/start scentral")
        await self.say("/search croissant")
        for label in ("Croissant", "➕", "🛒", "Checkout", "Pickup", "As soon as possible"):
            await self.press(label)
        await self.say(PHONE)
        await self.press("Skip")


async def _copy_checkout(
    cluster: Cluster, walker: Customer, others: Sequence[Customer]
) -> dict[int, tuple[int, int]]:
    """Give `others` the walker's store, cart and checkout step, as the pipeline left them.

    Returns each customer's (cart id, cart version), walker included: what "Place order" names.
    """
    now = cluster.clock.now()
    carts: dict[int, tuple[int, int]] = {}
    async with cluster.db() as session, session.begin():
        uow = SqlUnitOfWork(session)
        template = await uow.customers.get_by_telegram_id(walker.user_id)
        assert template is not None
        assert template.id is not None
        cart = await uow.carts.get(template.id)
        state = await uow.conversations.get(walker.user_id, walker.user_id)
        assert cart is not None
        assert cart.id is not None
        assert state is not None
        carts[walker.user_id] = (cart.id, cart.version)
        for other in others:
            customer = await uow.customers.add(
                dataclasses.replace(template, telegram_id=other.user_id, first_name=other.name),
                now,
            )
            assert customer.id is not None
            lines = [CartLine(line.product_id, line.quantity) for line in cart.lines]
            copy = await uow.carts.save(
                dataclasses.replace(cart, id=None, customer_id=customer.id, lines=lines), now
            )
            assert copy.id is not None
            carts[other.user_id] = (copy.id, copy.version)
            await uow.conversations.set(other.user_id, other.user_id, state.state, state.data, now)
    return carts


async def _place_buttons(cluster: Cluster, buyers: Sequence[Customer], size: Size) -> list[str]:
    """Bring every buyer to the checkout summary (see the module doc); their "Place order" data."""
    gate = asyncio.Semaphore(size.walkers_at_once)

    async def walk(buyer: Customer) -> str:
        async with gate:
            await buyer.to_summary()
        return _button(buyer.last, "Place order")

    if size.every_buyer_walks:
        return list(await asyncio.gather(*(walk(buyer) for buyer in buyers)))
    walker, *others = buyers
    walkers_button = await walk(walker)
    carts = await _copy_checkout(cluster, walker, others)
    codec = CallbackCodec(CALLBACK_KEY)
    assert codec.encode("place", *carts[walker.user_id]) == walkers_button, "as the bot makes it"
    return [codec.encode("place", *carts[buyer.user_id]) for buyer in buyers]


def _staff_press(user_id: int, data: str) -> dict[str, Any]:
    """A press by a staff member on a card in the group."""
    update = callback_update(user_id, data, chat=GROUP_CHAT)
    update["callback_query"]["from"]["first_name"] = STAFF[user_id]
    return update


async def _staff_act(cluster: Cluster, update: dict[str, Any]) -> list[models.OutboxMessage]:
    """One staff update on its own; what the bot answered."""
    assert await cluster.feed(update, 0) is Outcome.HANDLED
    return (await cluster.replies([_update_id(update)]))[_update_id(update)]


async def _staff_say(cluster: Cluster, user_id: int, text: str) -> list[models.OutboxMessage]:
    return await _staff_act(
        cluster, message_update(user_id, text, chat=GROUP_CHAT, first_name=STAFF[user_id])
    )


# --------------------------------------------------------------------------- the staff races


@dataclass(frozen=True)
class PlacedOrder:
    """An order just placed, with its customer and its card in the staff group."""

    customer: Customer
    order_id: int
    number: str
    card: models.OutboxMessage


async def _place_one(cluster: Cluster, user_id: int) -> PlacedOrder:
    customer = Customer(cluster, user_id, 0)
    await customer.to_summary()
    await customer.press("Place order")
    [card] = [row for row in customer.last if row.chat_id == GROUP]
    assert (card.method, (card.ref or "").endswith(":card")) == ("sendMessage", True)
    assert card.ref is not None
    order_id = int(card.ref.split(":")[1])
    number = await cluster.scalar(select(models.Order.number).where(models.Order.id == order_id))
    return PlacedOrder(customer, order_id, str(number), card)


@dataclass(frozen=True)
class StaffRace:
    """What presses on one card at once came to."""

    status: str  # where the one transition took the order
    transitions: int
    told: int  # losers told who was first


async def _staff_race(cluster: Cluster, order: PlacedOrder, presses: dict[int, str]) -> StaffRace:
    """Every staff member presses their button on the card at once; exactly one wins."""
    stock_before = await cluster.croissants()
    updates = {user_id: _staff_press(user_id, data) for user_id, data in presses.items()}

    outcomes = await cluster.race(list(updates.values()))

    assert outcomes == [Outcome.HANDLED] * len(updates)
    replies = await cluster.replies([_update_id(update) for update in updates.values()])
    assert await cluster.inbox(list(replies)) == Counter({"handled": len(updates)})
    async with cluster.db() as session:
        row = await session.get(models.Order, order.order_id)
        assert row is not None
        events = list(
            await session.scalars(
                select(models.OrderEvent)
                .where(models.OrderEvent.order_id == order.order_id)
                .order_by(models.OrderEvent.id)
            )
        )
    status = row.status
    assert [(event.from_status, event.to_status) for event in events] == [
        (None, "placed"),
        ("placed", status),
    ], "one transition, whoever won"
    winner_id = int(events[-1].actor.removeprefix("staff:"))
    winner = STAFF[winner_id]
    assert events[-1].actor_name == winner
    assert row.version == 1
    if status == "accepted":
        assert row.accepted_at is not None
        assert row.eta_minutes in (10, 20, 30)
        assert await cluster.croissants() == stock_before
    else:
        assert (status, row.reject_reason) == ("rejected", "sold_out")
        assert await cluster.croissants() == stock_before + 1, "the stock came back once"

    card_edits = []
    told = 0
    for user_id, update in updates.items():
        mine = replies[_update_id(update)]
        [answer] = _answers(mine)
        if user_id == winner_id:
            assert answer.params.get("text") == "Done"
        else:
            assert answer.params["text"] == f"Already {status} by {winner} at {STORE_TIME}."
            assert answer.params["show_alert"] is True
            told += 1
        card_edits += [
            edit
            for edit in mine
            if edit.method == "editMessageText" and edit.target_ref == order.card.ref
        ]
    # The sender sends only the newest pending edit of a card, and after a race that is a
    # loser's: it too must show the new status and who got there first.
    newest = max(card_edits, key=lambda edit: edit.id)
    assert STATUS_LINES[status] in _text(newest)
    assert f"— {winner}, {STORE_TIME}" in _text(newest)
    assert not [label for label, _ in _buttons([newest]) if "min" in label], "accept is gone"

    notices = [
        _text(row)
        for mine in replies.values()
        for row in mine
        if row.chat_id == order.customer.user_id
    ]
    notice = {
        "accepted": f"Central Café accepted order #{order.number};",
        "rejected": f"Sorry, Central Café could not take order #{order.number}: sold out.",
    }[status]
    assert len(notices) == 1, notices
    assert notice in notices[0]
    return StaffRace(status, transitions=len(events) - 1, told=told)


async def _ten_on_one_button(cluster: Cluster, user_id: int) -> StaffRace:
    order = await _place_one(cluster, user_id)
    ten_minutes = _button([order.card], "10 min")
    race = await _staff_race(cluster, order, dict.fromkeys(STAFF, ten_minutes))
    assert race.status == "accepted"
    return race


async def _accept_or_reject(cluster: Cluster, user_id: int) -> StaffRace:
    """Half the staff accept, half reject (from the reasons one of them opened), at once."""
    order = await _place_one(cluster, user_id)
    reasons = await _staff_act(cluster, _staff_press(BOT_ADMIN, _button([order.card], "Reject")))
    sold_out = _button(reasons, "sold out")
    accepts = [_button([order.card], f"{minutes} min") for minutes in (10, 20, 30)]
    presses = {
        user_id: sold_out if index % 2 else accepts[index % 3]
        for index, user_id in enumerate(STAFF)
    }
    return await _staff_race(cluster, order, presses)


# --------------------------------------------------------------------------- the buyers' race


@dataclass(frozen=True)
class BuyersOutcome:
    """What a hundred "Place order" presses came to."""

    orders: int
    stock: int
    sold_out: int
    cards: int


async def _buyers_race(cluster: Cluster, first_user: int, size: Size) -> BuyersOutcome:
    buyers = [Customer(cluster, first_user + index, index) for index in range(BUYERS)]
    buttons = await _place_buttons(cluster, buyers, size)
    stocked = await _staff_say(cluster, STOCK_KEEPER, f"/stock croissant {UNITS}")
    assert any("Croissant" in _text(row) for row in stocked)
    assert await cluster.croissants() == UNITS
    orders_before = await cluster.scalar(select(func.count()).select_from(models.Order))
    presses = [buyer.pressing(data) for buyer, data in zip(buyers, buttons, strict=True)]

    outcomes = await cluster.race(presses)

    assert outcomes == [Outcome.HANDLED] * BUYERS
    replies = await cluster.replies([_update_id(update) for update in presses])
    assert await cluster.inbox(list(replies)) == Counter({"handled": BUYERS}), "none lost"
    stock = await cluster.croissants()
    user_ids = [buyer.user_id for buyer in buyers]
    async with cluster.db() as session:
        placed = (
            await session.execute(
                select(models.Customer.telegram_id, models.Order.number, models.OrderLine.quantity)
                .join(models.Order, models.Order.customer_id == models.Customer.id)
                .join(models.OrderLine, models.OrderLine.order_id == models.Order.id)
                .where(models.Customer.telegram_id.in_(user_ids))
            )
        ).all()
        orders_now = await session.scalar(select(func.count()).select_from(models.Order))
        in_carts = dict(
            (
                await session.execute(
                    select(models.Customer.telegram_id, func.sum(models.CartLine.quantity))
                    .join(models.Cart, models.Cart.customer_id == models.Customer.id)
                    .join(models.CartLine, models.CartLine.cart_id == models.Cart.id)
                    .where(models.Customer.telegram_id.in_(user_ids))
                    .group_by(models.Customer.telegram_id)
                )
            ).all()
        )
    winners = {user_id: number for user_id, number, _ in placed}
    assert len(placed) == UNITS, "as many orders as units, one croissant each"
    assert len(winners) == UNITS
    assert orders_now == orders_before + UNITS
    assert sum(quantity for _, _, quantity in placed) == UNITS
    assert stock == 0

    cards = sold_out = 0
    for buyer, update in zip(buyers, presses, strict=True):
        mine = replies[_update_id(update)]
        assert len(_answers(mine)) == 1, "every press is answered once"
        private = [row for row in mine if row.chat_id == buyer.user_id]
        group = [row for row in mine if row.chat_id == GROUP]
        if buyer.user_id in winners:
            number = winners[buyer.user_id]
            assert any(f"Order #{number} placed." in _text(row) for row in private)
            [card] = group
            assert card.method == "sendMessage"
            assert (card.ref or "").endswith(":card")
            assert f"Order #{number}</b>" in _text(card)
            assert buyer.user_id not in in_carts, "the winner's cart is emptied"
            cards += 1
        else:
            assert group == [], "no card for an order that was not placed"
            texts = [_text(row) for row in private]
            assert any(notice in text for text in texts for notice in SOLD_OUT_NOTICES), texts
            assert any("Checkout" in label for label, _ in _buttons(private)), "the cart shown"
            assert in_carts.get(buyer.user_id) == 1, "the cart is kept"
            sold_out += 1
    return BuyersOutcome(orders=len(winners), stock=stock, sold_out=sold_out, cards=cards)


# --------------------------------------------------------------------------- the test


async def test_simultaneous_presses_through_the_pipeline_have_exactly_one_outcome_each(
    cluster: Cluster,
    db_backend: str,
    long_run: bool,
    report_figures: Callable[[str], None],
) -> None:
    size = LONG if long_run else QUICK
    bound = await _staff_say(cluster, BOT_ADMIN, "/bind central")
    assert any("staff chat of Central Café" in _text(row) for row in bound)

    same_button: list[StaffRace] = []
    mixed: list[StaffRace] = []
    bought: list[BuyersOutcome] = []
    try:
        for round_ in range(size.rounds):
            first_user = 10_000 + round_ * 1_000
            # Plenty to add to carts; the buyers' race sets the last ten just before it starts.
            await _staff_say(cluster, STOCK_KEEPER, "/stock croissant 1000")
            same_button.append(await _ten_on_one_button(cluster, first_user))
            mixed.append(await _accept_or_reject(cluster, first_user + 1))
            bought.append(await _buyers_race(cluster, first_user + 100, size))
    finally:
        print("\n".join(cluster.database_errors))

    commits = [len(instance.commits) for instance in cluster.instances]
    handled = await cluster.inbox(cluster.raced)
    report_figures(
        f"{size.rounds} round(s) on {INSTANCES} instances: 10 staff on one button -> "
        f"{_moves(same_button)}; 5 accept + 5 reject at once -> {_moves(mixed)}; "
        f"{BUYERS} customers for {UNITS} units -> {sum(b.orders for b in bought)} orders, "
        f"stock {'/'.join(str(b.stock) for b in bought)}, {sum(b.sold_out for b in bought)} "
        f"told sold out and kept their cart, {sum(b.cards for b in bought)} staff cards; "
        f"{handled['handled']}/{len(cluster.raced)} racing updates handled, "
        f"{len(cluster.database_errors)} database errors ({db_backend})"
    )
    assert handled == Counter({"handled": len(cluster.raced)})
    assert cluster.database_errors == []
    assert all(commits), f"every instance took part: {commits}"


def _moves(races: Sequence[StaffRace]) -> str:
    """E.g. "1 accepted, 9 told who was first" summed over the rounds."""
    statuses = Counter(race.status for race in races)
    moved = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
    transitions = sum(race.transitions for race in races)
    return f"{transitions} transition(s) ({moved}), {sum(r.told for r in races)} told who won"
