"""`kill -9` the bot at random moments under a load of orders, restart it, and count the damage.

The bot runs as a separate process (`o2o run`, see crash_load.py) polling the fake Bot API, which
lives in the test and survives every kill: what customers and staff do while the bot is dead
queues up, and updates handled but not yet confirmed by the next getUpdates offset come again
after the restart. Customers order through the chat, staff accept, mark ready and complete (a
few orders are rejected, so released stock is tested too). Afterwards every order must exist
exactly once, every notice must have gone out, and the stock must match the orders.

Duplicates are the one thing a crash may cause: the sender calls Telegram and then marks the
outbox row sent; a kill between the two sends that row again after the restart. The sender
works one row at a time per chat, so a kill can repeat at most one message in each chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import models
from bot.db.engine import create_engine, create_sessionmaker
from bot.fakeapi.server import FakeBotApi
from bot.seed import seed_demo_data
from domain.clock import SystemClock
from domain.schedule import OpeningHours
from tests.e2e.conftest import TOKEN
from tests.reliability.crash_load import BotProcess

GROUP = -100_777
ANN, BEN = 4101, 4102  # admins of the staff group
FIRST_CUSTOMER = 7300
PHONE = "+8613800138000"
# (search words, product button, sku): both counted per store in the sample catalog.
PRODUCTS = (("croissant", "Croissant", "croissant"), ("banana", "Banana bread", "banana-bread"))
REJECT_EVERY = 10  # every tenth order is rejected ("sold out"), so its stock comes back
STEP_TIMEOUT = 90.0  # a step may wait out a kill, a restart and the sender's lease


@dataclass(frozen=True)
class Size:
    """How big a run is."""

    orders: int
    kills: int
    customers: int


# The bot spends about a second of CPU per order (13-14 updates and their messages) and a few
# seconds per restart: 30 orders and 3 kills fit CI's budget of about 35 s a backend.
QUICK = Size(orders=20, kills=2, customers=6)
LONG = Size(orders=1000, kills=20, customers=10)


# --------------------------------------------------------------------------- waiting on the bot


class Tracker:
    """Waits for updates to be handled and for everything they caused to be delivered.

    One poller reads the bot's database for every waiting update at once: an update is done
    when its inbox row exists and no outbox row it wrote is pending. Both are committed in one
    transaction, so a visible inbox row means its outbox rows are visible too.
    """

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        """Poll through `sessionmaker` (the bot's database)."""
        self.sessionmaker = sessionmaker
        self.waiting: dict[int, asyncio.Future[str]] = {}

    async def done(self, update_id: int) -> None:
        """Return once the update is handled and its replies are sent; fail if it failed."""
        future = self.waiting.setdefault(update_id, asyncio.get_running_loop().create_future())
        outcome = await asyncio.wait_for(future, STEP_TIMEOUT)
        assert outcome == "handled", f"update {update_id} ended {outcome!r}"

    async def run(self) -> None:
        """Poll until cancelled."""
        while True:
            if self.waiting:
                # The bot may hold a lock while dying; look again at the next tick.
                with contextlib.suppress(DBAPIError):
                    await self._poll(list(self.waiting))
            await asyncio.sleep(0.05)

    async def _poll(self, ids: list[int]) -> None:
        inbox, outbox = models.InboxEntry, models.OutboxMessage
        async with self.sessionmaker() as session:
            outcomes = dict(
                (
                    await session.execute(
                        select(inbox.update_id, inbox.outcome).where(inbox.update_id.in_(ids))
                    )
                ).all()
            )
            busy = set(
                await session.scalars(
                    select(outbox.source_update_id)
                    .where(outbox.status == "pending", outbox.source_update_id.in_(ids))
                    .distinct()
                )
            )
        for update_id, outcome in outcomes.items():
            if update_id not in busy:
                future = self.waiting.pop(update_id)
                if not future.done():
                    future.set_result(outcome)

    async def drained(self) -> None:
        """Wait until the outbox holds no pending row at all."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STEP_TIMEOUT
        while True:
            try:
                async with self.sessionmaker() as session:
                    pending = await session.scalar(
                        select(func.count())
                        .select_from(models.OutboxMessage)
                        .where(models.OutboxMessage.status == "pending")
                    )
                if not pending:
                    return
            except DBAPIError:
                pass
            assert loop.time() < deadline, f"{pending} outbox rows still pending"
            await asyncio.sleep(0.1)


# --------------------------------------------------------------------------- people


@dataclass
class Ledger:
    """What the people did, to compare with what the bot recorded and sent."""

    presses: Counter[int] = field(default_factory=Counter)  # "Place order" presses by customer
    numbers: dict[str, int] = field(default_factory=dict)  # order number -> customer
    rejected: set[str] = field(default_factory=set)

    @property
    def placed(self) -> int:
        """How many orders were placed so far."""
        return sum(self.presses.values())


@dataclass
class Person:
    """Someone acting in a chat through the fake Bot API, one confirmed step at a time."""

    fake: FakeBotApi
    tracker: Tracker
    user_id: int

    async def say(self, text: str, chat_id: int | None = None) -> None:
        """Type a message and wait for the bot's answer to be delivered."""
        await self.tracker.done(self.fake.send_text(self.user_id, text, chat_id=chat_id))

    async def press(self, label: str, chat_id: int | None = None, marker: str = "") -> None:
        """Press the newest button labelled `label` (in a message containing `marker`)."""
        chat = self.user_id if chat_id is None else chat_id
        message_id, data = _button(self.fake.messages(chat), label, marker)
        query = self.fake.press_button(self.user_id, message_id, data, chat_id=chat_id)
        # press_button answers with the query id; the update carrying it is still pending.
        update_id = next(
            int(u["update_id"])
            for u in self.fake.pending_updates()
            if u.get("callback_query", {}).get("id") == query
        )
        await self.tracker.done(update_id)


def _button(messages: list[dict[str, Any]], label: str, marker: str) -> tuple[int, str]:
    """(message id, callback data) of the newest matching button."""
    for message in reversed(messages):
        text = str(message.get("text", ""))
        if marker not in text:
            continue
        buttons = [
            button
            for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
            for button in row
            if label in button.get("text", "") and "callback_data" in button
        ]
        if len(buttons) > 1 and marker:
            # A digest shows several cards; their buttons carry the order's "#number".
            number = marker.removeprefix("Order ").split(" ")[0]
            buttons = [button for button in buttons if number in button["text"]]
        if buttons:
            return int(message["message_id"]), str(buttons[0]["callback_data"])
    raise AssertionError(f"no button {label!r} in a message with {marker!r}")


async def _shop(
    customer: Person, staff: list[Person], first: int, count: int, ledger: Ledger
) -> None:
    """One customer's orders, each taken through the staff steps before the next."""
    rng = random.Random(customer.user_id)
    await customer.say("/start scentral")
    for index in range(first, first + count):
        words, label, _sku = PRODUCTS[index % len(PRODUCTS)]
        await customer.say(f"/search {words}")
        await customer.press(label)
        for _ in range(rng.randint(1, 2)):
            await customer.press("➕")
        await customer.press("🛒")
        await customer.press("Checkout")
        await customer.press("Pickup")
        await customer.press("As soon as possible")
        await customer.say(PHONE)
        await customer.press("Skip")
        await customer.press("Place order")
        ledger.presses[customer.user_id] += 1
        number = _new_number(customer, ledger)
        if number is None:
            continue  # a lost order: counted against the database afterwards
        ledger.numbers[number] = customer.user_id
        card = f"Order #{number} ·"
        ann, ben = staff
        if index % REJECT_EVERY == REJECT_EVERY - 1:
            ledger.rejected.add(number)
            await ann.press("Reject", GROUP, card)
            await ann.press("sold out", GROUP, card)
            continue
        await ann.press("10 min", GROUP, card)
        await ben.press("Ready", GROUP, card)
        await ann.press("Completed", GROUP, card)


def _new_number(customer: Person, ledger: Ledger) -> str | None:
    """The number in the customer's one new "Order #... placed" message (None: no new one)."""
    texts = [str(m.get("text", "")) for m in customer.fake.messages(customer.user_id)]
    numbers: set[str] = {n for text in texts for n in re.findall(r"Order #(\d+) placed", text)}
    new = numbers - set(ledger.numbers)
    assert len(new) <= 1, f"one press, several new orders: {sorted(new)}"
    return new.pop() if new else None


async def _killer(
    bot: BotProcess,
    fake: FakeBotApi,
    size: Size,
    progress: Callable[[], int],
    rng: random.Random,
    kills: list[float],
) -> None:
    """SIGKILL the bot `size.kills` times, spread over the load, restarting it at once."""
    polls_before_start = 0  # the first incarnation was started with the fake untouched
    for k in range(1, size.kills + 1):
        while progress() < k * size.orders // (size.kills + 1):  # noqa: ASYNC110 - a count
            await asyncio.sleep(0.05)
        # Kill 0.3-2 s after this incarnation began handling (its first getUpdates).
        while fake.counters["getUpdates"] <= polls_before_start:  # noqa: ASYNC110 - no event
            await asyncio.sleep(0.02)
        await asyncio.sleep(rng.uniform(0.3, 2.0))
        assert not bot.crashed(), "the bot died on its own"
        await bot.kill()
        kills.append(time.monotonic())
        polls_before_start = fake.counters["getUpdates"]
        await bot.start()


# --------------------------------------------------------------------------- the database


async def prepare_shop(
    url: str, stock: int, *, group: int = GROUP, seeded_at: datetime | None = None
) -> None:
    """Demo stores; Central open around the clock, `group` its staff group, `stock` of PRODUCTS."""
    engine = create_engine(url)
    try:
        sessionmaker = create_sessionmaker(engine)
        await seed_demo_data(sessionmaker, seeded_at or SystemClock().now())
        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(models.Store)
                .where(models.Store.code == "central")
                .values(opening_hours=OpeningHours.always().to_json(), staff_chat_id=group)
            )
            for _words, _label, sku in PRODUCTS:
                product_id = select(models.Product.id).where(models.Product.sku == sku)
                await session.execute(
                    update(models.StoreProduct)
                    .where(models.StoreProduct.product_id == product_id.scalar_subquery())
                    .values(stock=stock)
                )
    finally:
        await engine.dispose()


async def _stock(session: AsyncSession) -> dict[str, int]:
    """Central's stock of the counted products, by sku."""
    rows = await session.execute(
        select(models.Product.sku, models.StoreProduct.stock)
        .join(models.StoreProduct, models.StoreProduct.product_id == models.Product.id)
        .join(models.Store, models.Store.id == models.StoreProduct.store_id)
        .where(models.Store.code == "central", models.Product.sku.in_([p[2] for p in PRODUCTS]))
    )
    stock: dict[str, int] = {}
    for sku, units in rows.all():
        assert units is not None, f"{sku} is counted at Central"
        stock[sku] = units
    return stock


async def _reserved(session: AsyncSession) -> Counter[str]:
    """Units of each counted product in orders that keep their stock (not rejected/cancelled)."""
    rows = await session.execute(
        select(models.Product.sku, func.sum(models.OrderLine.quantity))
        .join(models.OrderLine, models.OrderLine.product_id == models.Product.id)
        .join(models.Order, models.Order.id == models.OrderLine.order_id)
        .where(models.Order.status.not_in(["rejected", "cancelled"]))
        .group_by(models.Product.sku)
    )
    return Counter({sku: int(units) for sku, units in rows.all()})


# --------------------------------------------------------------------------- accounting


def _notices(fake: FakeBotApi, ledger: Ledger) -> dict[tuple[int, str], list[float]]:
    """When each expected notice was delivered: (chat, marker) -> arrival times of OK calls."""
    expected: list[tuple[int, str]] = []
    for number, customer in ledger.numbers.items():
        expected.append((customer, f"Order #{number} placed"))
        if number in ledger.rejected:
            expected.append((customer, f"could not take order #{number}:"))
        else:
            expected.append((customer, f"accepted order #{number};"))
            expected.append((customer, f"Order #{number} is ready!"))
            expected.append((customer, f"Order #{number} completed."))
        expected.append((GROUP, f"Order #{number}</b>"))  # the card, edited later
    wanted: dict[tuple[int, str], list[float]] = {key: [] for key in expected}
    by_chat: dict[int, list[str]] = defaultdict(list)
    for chat, marker in expected:
        by_chat[chat].append(marker)
    for call in fake.calls():
        if not call.ok or call.chat_id not in by_chat:
            continue
        # The confirmation edits the summary; cards go out as messages and are then edited.
        if call.method != "sendMessage" and not (
            call.method == "editMessageText" and call.chat_id != GROUP
        ):
            continue
        text = str(call.params.get("text", ""))
        for marker in by_chat[call.chat_id]:
            if marker in text:
                wanted[(call.chat_id, marker)].append(call.time)
    return wanted


def _redelivered(fake: FakeBotApi) -> int:
    """How many updates the fake handed out more than once (the bot died before confirming)."""
    handed = Counter(
        update["update_id"]
        for call in fake.calls("getUpdates")
        if call.ok and isinstance(call.result, list)
        for update in call.result
    )
    return sum(1 for times in handed.values() if times > 1)


def _final_cards(fake: FakeBotApi, ledger: Ledger) -> list[str]:
    """Orders whose card in the group does not show their final status."""
    texts = [str(m.get("text", "")) for m in fake.messages(GROUP)]
    wrong = []
    for number in ledger.numbers:
        final = "Rejected" if number in ledger.rejected else "Completed"
        title = f"Order #{number} ·"
        cards = [text for text in texts if title in text]
        # A digest message holds several cards: read this card's part only.
        if not cards or final not in cards[-1].split(title, 1)[1].split("Order #", 1)[0]:
            wrong.append(number)
    return wrong


# --------------------------------------------------------------------------- the test


async def test_kill_9_under_load_loses_and_doubles_no_order(
    migrated_url: str,
    long_run: bool,
    report_figures: Callable[[str], None],
    tmp_path: Path,
) -> None:
    size = LONG if long_run else QUICK
    stock = 2 * size.orders  # at most two units an order: never sold out
    await prepare_shop(migrated_url, stock)
    fake = FakeBotApi(token=TOKEN, limits=None)
    await fake.start()
    customers = [FIRST_CUSTOMER + i for i in range(size.customers)]
    for user_id in customers:
        fake.add_user(user_id, f"C{user_id}", language_code="en")
    fake.add_user(ANN, "Ann")
    fake.add_user(BEN, "Ben")
    fake.add_group(GROUP, "Central staff", admins=[ANN, BEN])
    bot = BotProcess(
        {
            "O2O_BOT_TOKEN": TOKEN,
            "O2O_TELEGRAM_API_URL": fake.base_url,
            "O2O_DATABASE_URL": migrated_url,
            "O2O_POLLING_TIMEOUT": "1",
            "O2O_SENDER_LEASE_SECONDS": "1",
            "O2O_LOG_LEVEL": "WARNING",
        },
        tmp_path / "bot.log",
    )
    engine = create_engine(migrated_url)
    tracker = Tracker(create_sessionmaker(engine))
    polling = asyncio.create_task(tracker.run())
    ledger = Ledger()
    kills: list[float] = []
    try:
        await bot.start()
        staff = [Person(fake, tracker, ANN), Person(fake, tracker, BEN)]
        share, extra = divmod(size.orders, size.customers)
        firsts = [i * share + min(i, extra) for i in range(size.customers)]
        load = [
            _shop(Person(fake, tracker, user_id), staff, first, share + (i < extra), ledger)
            for i, (user_id, first) in enumerate(zip(customers, firsts, strict=True))
        ]
        rng = random.Random(20261122)
        killer = _killer(bot, fake, size, lambda: ledger.placed, rng, kills)
        try:
            async with asyncio.TaskGroup() as group:  # one failure cancels the rest
                for work in (killer, *load):
                    group.create_task(work)
            await tracker.drained()
        except BaseException:
            print(bot.log_path.read_text(errors="replace")[-5000:])
            raise
        assert not bot.crashed(), "the bot died on its own"
        async with tracker.sessionmaker() as session:
            orders = (
                await session.execute(
                    select(models.Order, models.Customer.telegram_id).join(
                        models.Customer, models.Customer.id == models.Order.customer_id
                    )
                )
            ).all()
            final_stock = await _stock(session)
            reserved = await _reserved(session)
    finally:
        await bot.kill()
        polling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
        await engine.dispose()
        await fake.stop()

    per_customer = Counter(telegram_id for _order, telegram_id in orders)
    lost_orders = sum(max(0, ledger.presses[c] - per_customer[c]) for c in customers)
    twice_orders = sum(max(0, per_customer[c] - ledger.presses[c]) for c in customers)
    statuses = Counter(order.status for order, _ in orders)
    notices = _notices(fake, ledger)
    lost_notices = sorted(key for key, times in notices.items() if not times)
    repeats = {key: times for key, times in notices.items() if len(times) > 1}
    # Each repeat must have a kill between the two sends, and one kill repeats at most one
    # message per chat (the sender has one call in flight per chat).
    per_kill_chat: Counter[tuple[int, int]] = Counter()
    unexplained = []
    for (chat, marker), times in repeats.items():
        for earlier, later in itertools.pairwise(times):
            between = [k for k, at in enumerate(kills) if earlier < at < later]
            if not between:
                unexplained.append((chat, marker))
            else:
                per_kill_chat[(between[0], chat)] += 1
    stale_cards = _final_cards(fake, ledger)
    stock_ok = all(final_stock[sku] == stock - reserved[sku] for _w, _l, sku in PRODUCTS)

    def figures(group: bool) -> str:
        keys = [key for key in notices if (key[0] == GROUP) == group]
        lost = sum(1 for key in keys if not notices[key])
        twice = sum(len(notices[key]) - 1 for key in keys if notices[key])
        return f"{len(keys)} expected, lost {lost}, twice {twice}"

    report_figures(
        f"orders {ledger.placed} ({len(ledger.rejected)} rejected), kills {len(kills)}, "
        f"updates redelivered {_redelivered(fake)}; orders lost {lost_orders}, "
        f"twice {twice_orders}; customer notices {figures(group=False)}; "
        f"staff cards {figures(group=True)}, stale {len(stale_cards)}; "
        f"every repeat straddles a kill, max {max(per_kill_chat.values(), default=0)} per chat "
        f"per kill (Telegram took the call, the process died before the outbox row was marked "
        f"sent; the sender has one call in flight per chat, so a kill can repeat one message in "
        f"each busy chat); stock {'consistent' if stock_ok else 'INCONSISTENT'}"
    )
    assert len(kills) == size.kills
    assert ledger.placed == size.orders
    assert lost_orders == 0
    assert twice_orders == 0
    assert statuses == Counter(
        {"completed": size.orders - len(ledger.rejected), "rejected": len(ledger.rejected)}
    )
    assert lost_notices == []
    assert unexplained == [], "a notice repeated without a kill in between"
    assert max(per_kill_chat.values(), default=0) <= 1
    assert stale_cards == []
    assert stock_ok, (final_stock, dict(reserved), stock)
