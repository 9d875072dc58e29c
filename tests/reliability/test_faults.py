"""Bot API faults under a load of orders: every message is delivered or its customer is marked
unreachable, and nothing is lost.

The real bot (BotApp on the aiogram runtime, its pipeline, outbox sender and database) polls the
fake Bot API over HTTP while customers order in parallel and staff accept, ready and complete
each order from the card buttons in the staff group. Before chosen steps (a seeded plan) the
test arms one fault aimed at the reply that step causes: in the customer's chat (sendMessage or
editMessageText), in the staff group (the card or its edit), on the press's answerCallbackQuery
or on the next getUpdates. The kinds:

* 429 with retry_after (1 s, the fake's smallest);
* 500;
* timeout: the fake answers later than the bot's HTTP timeout (the aiogram session's timeout is
  `polling_timeout + 30` s and no setting changes it alone, so the test gives the runtime it
  builds a short one); the client gives up and the fake drops the call unprocessed;
* dropped request: the fake's "drop_response" resets the connection before processing the call;
* lost answer: the call takes effect, then the connection is reset before the bot reads the
  answer. The fake has no such fault, so `LossyFakeBotApi` below adds it.

Some customers block the bot right after writing to it (the first reply meets a 429, then 403;
the second waits behind it and is skipped); one blocks it after ordering, while the bot's
notice to them waits out a 429. Afterwards: no outbox row pending; every row sent, except rows to
blocked customers (failed with 403, or skipped behind one) and answers Telegram refused as
already given; exactly the blocked customers are unreachable; every row the database calls
sent is found at the fake (its message id, its text); no chat got a call before a 429's
retry_after had passed; every order completed once; no ERROR in the logs.

A lost answer of a sendMessage makes the one repeat the bot cannot avoid: Telegram showed the
message, the bot saw an error and sent it again. Each repeat must be such a lost answer. A lost
answer of an edit repeats nothing (the retry is "message is not modified", counted as sent);
of answerCallbackQuery, the retry is refused ("query is too old ... or query ID is invalid")
and the row is recorded failed, though the press was answered once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.app import BotApp
from bot.db import models
from bot.db.engine import create_engine, create_sessionmaker
from bot.fakeapi.server import LIMITED_METHODS, FakeBotApi, RecordedCall
from bot.runtime_aiogram import AiogramRuntime
from bot.sender import UNTHROTTLED
from bot.settings import Settings
from domain.clock import RunningClock
from tests.e2e.conftest import TOKEN
from tests.e2e.shop import OPEN_TIME
from tests.reliability.test_crash import PRODUCTS, Person, Tracker, prepare_shop

GROUP = -100_888
ANN, BEN = 4201, 4202  # admins of the staff group
FIRST_CUSTOMER = 7600
PHONE = "+8613800138000"

RETRY_AFTER = 1  # seconds; the fake answers at least 1
CALL_TIMEOUT = 2.0  # the bot's HTTP timeout for Bot API calls other than the long poll
SLOW_DELAY = 3 * CALL_TIMEOUT  # a "slow" answer comes long after the bot gave up
TOLERANCE = 0.005  # seconds; clock rounding between the sender's datetimes and the fake
FORBIDDEN = "Forbidden: bot was blocked by the user"
ALREADY_ANSWERED = "query is too old"


# What a fault can hit: (target, method of the call).
CHAT_SEND = ("chat", "sendMessage")  # a message in the customer's chat
CHAT_EDIT = ("chat", "editMessageText")
CARD = ("group", "sendMessage")  # an order card in the staff group
CARD_EDIT = ("group", "editMessageText")
ANSWER = ("answer", "answerCallbackQuery")  # the answer to a button press
Aim = tuple[str, str]
EVERY_AIM = (CHAT_SEND, CHAT_EDIT, CARD, CARD_EDIT, ANSWER)


@dataclass(frozen=True)
class Size:
    """How big a run is and which faults it gets."""

    shoppers: int  # customers who order
    orders_each: int
    blocked_early: int  # further customers, who block the bot right after writing to it
    faults: dict[str, tuple[Aim, ...]]  # kind -> one aim per fault of that kind
    poll_faults: dict[str, int]  # kind -> how many, on getUpdates ("duplicate" included)
    seed: int


QUICK = Size(
    shoppers=6,
    orders_each=1,
    blocked_early=2,
    # Every kind in both kinds of chat; few in the staff group, where faults hold up everyone.
    faults={
        "timeout": (CHAT_SEND, ANSWER),
        "429": (CHAT_EDIT, CARD, ANSWER, CHAT_SEND),
        "500": (CHAT_SEND, CARD_EDIT, ANSWER, CHAT_EDIT),
        "drop": (CHAT_EDIT, CARD_EDIT),
        "lost": EVERY_AIM,
    },
    poll_faults={"429": 1, "lost": 1, "duplicate": 1},
    seed=20261207,
)
LONG = Size(
    shoppers=24,
    orders_each=3,
    blocked_early=4,
    faults={
        "timeout": EVERY_AIM * 4,
        "429": EVERY_AIM * 8,
        "500": EVERY_AIM * 8,
        "drop": EVERY_AIM * 4,
        "lost": EVERY_AIM * 6,
    },
    poll_faults={"429": 3, "500": 3, "drop": 3, "lost": 3, "duplicate": 5},
    seed=20261208,
)


# --------------------------------------------------------------------------- the fake


@dataclass
class LostAnswer:
    """A call that took effect at the fake whose answer the bot never read."""

    method: str
    chat_id: int | None
    params: dict[str, Any]  # the very dict the fake recorded the call with
    result: Any


class LossyFakeBotApi(FakeBotApi):
    """The fake Bot API plus the fault it lacks: the call takes effect, the answer is lost.

    ``drop_response`` resets the connection before the fake processes the call; here the call
    is processed first (the message is shown, the press answered), then the connection is reset.
    """

    def __init__(self, **kwargs: Any) -> None:
        """Take FakeBotApi's arguments."""
        super().__init__(**kwargs)
        self._to_lose: list[tuple[str, int | None]] = []
        self.lost_answers: list[LostAnswer] = []

    def lose_answer(self, method: str, chat_id: int | None = None) -> None:
        """Lose the answer of the next successful `method` call (to `chat_id`, if given)."""
        self._to_lose.append((method.lower(), chat_id))

    def armed_losses(self) -> int:
        """Losses armed but not yet caused."""
        return len(self._to_lose)

    def lost(self, call: RecordedCall) -> LostAnswer | None:
        """The lost answer of this recorded call, if its answer was lost."""
        return next((lost for lost in self.lost_answers if lost.params is call.params), None)

    async def _process(  # type: ignore[override]
        self, entry: Any, method: str, chat_id: int | None, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any]] | None:
        outcome = await super()._process(entry, method, chat_id, params)
        if outcome is None or outcome[0] != 200:
            return outcome
        for index, (wanted, wanted_chat) in enumerate(self._to_lose):
            if wanted == method.lower() and wanted_chat in (None, chat_id):
                del self._to_lose[index]
                self.counters["answers_lost"] += 1
                self.lost_answers.append(
                    LostAnswer(method, chat_id, params, outcome[1].get("result"))
                )
                return None  # FakeBotApi resets the connection: the bot reads no answer
        return outcome


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Step:
    """One thing a person does, and the replies it surely causes."""

    name: str
    customer_reply: str | None  # method of the first reply in the customer's chat
    group_reply: str | None = None  # method of the reply in the staff group
    says: str | None = None  # what the person types ({words}: the product's search words)
    presses: str | None = None  # the label of the button pressed ({label}: the product's)


# A customer's way through one order; every step is confirmed before the next.
ORDER_STEPS = (
    Step("search", "sendMessage", says="/search {words}"),
    Step("product", "editMessageText", presses="{label}"),
    Step("more", "editMessageText", presses="➕"),
    Step("cart", "editMessageText", presses="🛒"),
    Step("checkout", "editMessageText", presses="Checkout"),
    Step("pickup", "editMessageText", presses="Pickup"),
    Step("asap", "sendMessage", presses="As soon as possible"),
    Step("phone", "sendMessage", says=PHONE),
    Step("no note", "editMessageText", presses="Skip"),
    Step("place", "editMessageText", "sendMessage", presses="Place order"),
)
# Staff move the order on from its card; each step edits the card and tells the customer.
STAFF_STEPS = (
    Step("accept", "sendMessage", "editMessageText", presses="10 min"),
    Step("ready", "sendMessage", "editMessageText", presses="Ready"),
    Step("complete", "sendMessage", "editMessageText", presses="Completed"),
)
STAFF = {"accept": ANN, "ready": BEN, "complete": ANN}  # who presses


@dataclass(frozen=True)
class Fault:
    """A fault to arm just before a step: its kind and what it is aimed at."""

    kind: str  # "timeout", "429", "500", "drop", "lost"; also "duplicate" on getUpdates
    target: str  # "chat" (the customer's), "group", "answer" or "poll"


Slot = tuple[int, int, str]  # (customer, order index, step name)


def plan_faults(size: Size, shoppers: list[int], blocked_after: int) -> dict[Slot, list[Fault]]:
    """Which faults to arm before which steps: seeded, spread over targets and customers."""
    rng = random.Random(size.seed)
    candidates: dict[Aim, list[Slot]] = defaultdict(list)
    slots: list[Slot] = []
    for customer in shoppers:
        for order in range(size.orders_each):
            for step in (*ORDER_STEPS, *STAFF_STEPS):
                slot = (customer, order, step.name)
                slots.append(slot)
                # Once blocked, a customer's chat gets no more calls to aim at.
                last_order = order == size.orders_each - 1
                blocked = customer == blocked_after and last_order and step in STAFF_STEPS
                if step.customer_reply is not None and not blocked:
                    candidates[("chat", step.customer_reply)].append(slot)
                if step.group_reply is not None:
                    candidates[("group", step.group_reply)].append(slot)
                if step.presses is not None:
                    candidates[("answer", "answerCallbackQuery")].append(slot)
    plan: dict[Slot, list[Fault]] = defaultdict(list)
    load: Counter[int] = Counter()  # faults per customer: the slowest customer sets the pace
    for kind, aims in size.faults.items():
        for target, method in aims:
            free = [
                slot
                for slot in candidates[(target, method)]
                if all(fault.target != target for fault in plan.get(slot, []))
            ]
            assert free, f"no step left to aim a {kind} at {target} {method}"
            slot = min(free, key=lambda slot: (load[slot[0]], rng.random()))
            load[slot[0]] += 1
            plan[slot].append(Fault(kind, target))
    poll_kinds = [kind for kind, count in size.poll_faults.items() for _ in range(count)]
    for kind, slot in zip(poll_kinds, rng.sample(slots, len(poll_kinds)), strict=True):
        plan[slot].append(Fault(kind, "poll"))
    return plan


# --------------------------------------------------------------------------- the run


@dataclass
class Storm:
    """The people, the fake and the plan: arms each fault just before its step."""

    fake: LossyFakeBotApi
    tracker: Tracker
    plan: dict[Slot, list[Fault]]
    staff: dict[int, Person]  # by user id
    armed: Counter[Fault] = field(default_factory=Counter)
    presses: int = 0
    numbers: dict[str, int] = field(default_factory=dict)  # order number -> customer
    # The staff group is one chat, its rows go out one at a time: faults armed by several
    # customers at once would all land on the row at its head, and a fault would no longer
    # belong to the step that armed it. Group faults are armed one at a time, when the group is
    # idle, so each group row meets at most one.
    group_turn: asyncio.Lock = field(default_factory=asyncio.Lock)

    def arm(self, fault: Fault, method: str, chat_id: int | None) -> None:
        """Make the next `method` call (to `chat_id`, if given) fail as `fault` says."""
        self.armed[fault] += 1
        if fault.kind == "lost":
            self.fake.lose_answer(method, chat_id)
        elif fault.kind == "duplicate":
            self.fake.add_fault(kind="duplicate_update")
        elif fault.kind == "timeout":
            self.fake.add_fault(kind="slow", method=method, delay=SLOW_DELAY, chat_id=chat_id)
        elif fault.kind == "drop":
            self.fake.add_fault(kind="drop_response", method=method, chat_id=chat_id)
        else:
            self.fake.add_fault(
                kind="429" if fault.kind == "429" else "500",
                method=method,
                retry_after=RETRY_AFTER,
                chat_id=chat_id,
            )

    def aim(self, fault: Fault, customer: int, step: Step) -> None:
        """Arm `fault` at the call of `step` it targets."""
        if fault.target == "chat":
            assert step.customer_reply is not None
            self.arm(fault, step.customer_reply, customer)
        elif fault.target == "group":
            assert step.group_reply is not None
            self.arm(fault, step.group_reply, GROUP)
        elif fault.target == "answer":
            self.arm(fault, "answerCallbackQuery", None)
        else:
            self.arm(fault, "getUpdates", None)

    async def step(
        self, customer: int, order: int, step: Step, action: Callable[[], Awaitable[None]]
    ) -> None:
        """Arm the step's faults, then act and wait until every reply is settled."""
        faults = self.plan.get((customer, order, step.name), [])
        aims_at_group = any(fault.target == "group" for fault in faults)
        async with self.group_turn if aims_at_group else contextlib.nullcontext():
            if aims_at_group:
                await self._group_idle()
            for fault in faults:
                self.aim(fault, customer, step)
            self.presses += step.presses is not None
            await action()

    async def _group_idle(self) -> None:
        """Wait until no row to the staff group is pending."""
        outbox = models.OutboxMessage
        while True:
            async with self.tracker.sessionmaker() as session:
                waiting = await session.scalar(
                    select(outbox.id)
                    .where(outbox.chat_id == GROUP, outbox.status == "pending")
                    .limit(1)
                )
            if waiting is None:
                return
            await asyncio.sleep(0.05)

    async def write_and_block(self, customer: int) -> None:
        """Write twice and block the bot before it answers; its first answer meets a 429 too.

        So the 403 comes while the second answer waits behind the first: skipped.
        """
        self.arm(Fault("429", "chat"), "sendMessage", customer)
        updates = [
            self.fake.send_text(customer, "/start scentral"),
            self.fake.send_text(customer, "/search croissant"),
        ]
        self.fake.block_bot(customer)
        for update_id in updates:
            await self.tracker.done(update_id)

    async def shop(self, customer: Person, orders: int, block_after: bool) -> None:
        """One customer's orders, each taken through the staff steps before the next."""
        who = customer.user_id
        await customer.say("/start scentral")
        for order in range(orders):
            words, label, _sku = PRODUCTS[(who + order) % len(PRODUCTS)]
            for step in ORDER_STEPS:
                if step.says is not None:
                    act = partial(customer.say, step.says.format(words=words))
                else:
                    act = partial(customer.press, str(step.presses).format(label=label))
                await self.step(who, order, step, act)
            card = f"Order #{self._new_number(who)} ·"
            if block_after and order == orders - 1:
                # Blocked while the bot's notice to them waits out a 429.
                self.arm(Fault("429", "chat"), "sendMessage", who)
                self.fake.block_bot(who)
            for step in STAFF_STEPS:
                staff = self.staff[STAFF[step.name]]
                act = partial(staff.press, str(step.presses), GROUP, card)
                await self.step(who, order, step, act)

    def _new_number(self, customer: int) -> str:
        """The number in the customer's one new "Order #... placed" message."""
        texts = [str(m.get("text", "")) for m in self.fake.messages(customer)]
        found = {n for text in texts for n in re.findall(r"Order #(\d+) placed", text)}
        new = found - set(self.numbers)
        assert len(new) == 1, f"one press, new orders {sorted(new)}"
        number = new.pop()
        self.numbers[number] = customer
        return number


@asynccontextmanager
async def _running_bot(fake: FakeBotApi, url: str) -> AsyncIterator[BotApp]:
    """The bot on aiogram, polling `fake`, with a short HTTP timeout for Bot API calls."""
    values = Settings().model_dump() | {
        "bot_token": SecretStr(TOKEN),
        "database_url": url,
        "telegram_api_url": fake.base_url,
        "runtime": "aiogram",
        "polling_timeout": 1,
        "webhook_url": None,
        "metrics_port": None,
    }
    runtime = AiogramRuntime(TOKEN, fake.base_url, polling_timeout=1)
    # The long poll keeps its own timeout (polling_timeout + 30 s); every other call gets this.
    runtime.bot.session.timeout = CALL_TIMEOUT
    app = BotApp(
        Settings.model_construct(**values),
        runtime=runtime,
        clock=RunningClock(OPEN_TIME),
        send_limits=UNTHROTTLED,  # the fake enforces no limits: every 429 is an injected one
    )
    await app.start()
    polling = asyncio.create_task(app.run_polling())
    try:
        yield app
    finally:
        app.request_stop()
        await polling
        await app.close()


# --------------------------------------------------------------------------- accounting


def _effective(fake: LossyFakeBotApi, call: RecordedCall) -> bool:
    """Whether the call took effect at the fake (answered 200, or processed and answer lost)."""
    return call.ok or fake.lost(call) is not None


def _message_id(fake: LossyFakeBotApi, call: RecordedCall) -> int | None:
    """The id of the message a call produced or edited, when it took effect."""
    lost = fake.lost(call)
    result = lost.result if lost is not None else call.result
    if _effective(fake, call) and isinstance(result, dict):
        value = result.get("message_id")
        return int(value) if isinstance(value, int) else None
    return None


def _retry_after(call: RecordedCall) -> float | None:
    """The retry_after a 429 answer asked for."""
    if call.status != 429:
        return None
    match = re.search(r"retry after (\d+)", call.error or "")
    assert match is not None, call.error
    return float(match.group(1))


def _early_calls(fake: FakeBotApi) -> tuple[list[str], list[float]]:
    """Calls made before a 429's retry_after had passed, and every 429's actual wait."""
    calls = fake.calls()
    early: list[str] = []
    waits: list[float] = []
    for index, call in enumerate(calls):
        wait = _retry_after(call)
        if wait is None:
            continue

        def same_target(other: RecordedCall, call: RecordedCall = call) -> bool:
            if call.method == "answerCallbackQuery":  # not per chat: the same press again
                return other.params.get("callback_query_id") == call.params.get("callback_query_id")
            if call.method == "getUpdates":
                return other.method == "getUpdates"
            return other.chat_id == call.chat_id and other.method in LIMITED_METHODS

        following = next((c for c in calls[index + 1 :] if same_target(c)), None)
        if following is None:
            continue  # the bot stopped within the wait (a 429 to its last poll)
        waited = following.time - call.time
        waits.append(waited)
        if waited < wait - TOLERANCE:
            early.append(f"{following.method} to {call.chat_id} {waited:.3f}s after a 429")
    return early, waits


@dataclass
class Outcome:
    """What the database holds at the end."""

    rows: list[models.OutboxMessage]
    unreachable: dict[int, bool]  # telegram id -> marked unreachable (with a time)
    orders: list[tuple[str, str, int]]  # (number, status, customer telegram id)


async def _outcome(app: BotApp) -> Outcome:
    """Read the outbox, the customers' reachability and the orders."""
    async with app.sessionmaker() as session:
        rows = list(
            await session.scalars(select(models.OutboxMessage).order_by(models.OutboxMessage.id))
        )
        customers = (
            await session.execute(
                select(
                    models.Customer.telegram_id,
                    models.Customer.reachable,
                    models.Customer.unreachable_since,
                )
            )
        ).all()
        orders = (
            await session.execute(
                select(models.Order.number, models.Order.status, models.Customer.telegram_id).join(
                    models.Customer, models.Customer.id == models.Order.customer_id
                )
            )
        ).all()
    return Outcome(
        rows=rows,
        unreachable={
            int(telegram_id): not reachable and since is not None
            for telegram_id, reachable, since in customers
        },
        orders=[
            (str(number), str(status), int(telegram_id)) for number, status, telegram_id in orders
        ],
    )


def _not_found(fake: LossyFakeBotApi, rows: list[models.OutboxMessage]) -> list[str]:
    """Rows recorded sent that the fake shows no sign of (message id and text)."""
    effective: dict[int, list[RecordedCall]] = defaultdict(list)
    for call in fake.calls():
        if call.chat_id is not None and _effective(fake, call):
            effective[call.chat_id].append(call)
    sent_edits: dict[str, list[int]] = defaultdict(list)  # group card ref -> sent edit row ids
    for row in rows:
        if row.status == "sent" and row.method == "editMessageText" and row.target_ref:
            sent_edits[row.target_ref].append(row.id)
    missing = []
    for row in rows:
        if row.status != "sent" or row.chat_id is None:
            continue
        text = str(row.params.get("text", ""))
        if row.chat_id == GROUP:
            # Cards may share a digest message: the row's card text is part of the call's.
            if row.method == "sendMessage":
                title = text.split("\n", 1)[0]
                found = any(
                    c.method == "sendMessage"
                    and _message_id(fake, c) == row.message_id
                    and title in str(c.params.get("text", ""))
                    for c in effective[GROUP]
                )
            else:
                superseded = row.target_ref is not None and sent_edits[row.target_ref][-1] > row.id
                found = superseded or any(
                    _message_id(fake, c) == row.message_id and text in str(c.params.get("text"))
                    for c in effective[GROUP]
                )
        else:
            found = any(
                c.method == row.method
                and _message_id(fake, c) == row.message_id
                and c.params.get("text") == text
                for c in effective[row.chat_id]
            )
        if not found:
            missing.append(f"row {row.id} {row.method} to {row.chat_id}")
    return missing


def _unsettled(
    fake: LossyFakeBotApi, rows: list[models.OutboxMessage], blocked: set[int]
) -> tuple[list[str], int]:
    """Rows not sent for no good reason, and how many press answers were refused as given.

    Good reasons: the chat blocked the bot (failed with 403, or skipped behind that row), or
    the press was answered once already by a call whose answer the bot never read.
    """
    unexpected, refused = [], 0
    for row in rows:
        error = row.last_error or ""
        if row.status == "sent":
            continue
        if row.status in ("failed", "skipped") and row.chat_id in blocked:
            if row.status == "failed" and FORBIDDEN not in error:
                unexpected.append(f"row {row.id} failed to a blocked chat: {error}")
            continue
        if row.status == "failed" and row.method == "answerCallbackQuery":
            query = row.params.get("callback_query_id")
            answered = [
                call
                for call in fake.calls("answerCallbackQuery")
                if call.params.get("callback_query_id") == query and _effective(fake, call)
            ]
            if ALREADY_ANSWERED in error and [fake.lost(c) is not None for c in answered] == [True]:
                refused += 1
                continue
        unexpected.append(f"row {row.id} {row.method} to {row.chat_id} {row.status}: {error}")
    return unexpected, refused


def _repeats(fake: LossyFakeBotApi, rows: list[models.OutboxMessage]) -> tuple[int, list[str]]:
    """Messages shown that no sent row owns: (how many, those not caused by a lost answer)."""
    owned = {(row.chat_id, row.message_id) for row in rows if row.status == "sent"}
    repeats, unexplained = 0, []
    for call in fake.calls("sendMessage"):
        if not _effective(fake, call) or (call.chat_id, _message_id(fake, call)) in owned:
            continue
        repeats += 1
        if fake.lost(call) is None:
            unexplained.append(f"sendMessage to {call.chat_id}: {call.params.get('text')!r}")
    return repeats, unexplained


def _stale_cards(fake: FakeBotApi, numbers: dict[str, int]) -> list[str]:
    """Orders whose card in the group does not show them completed."""
    texts = [str(m.get("text", "")) for m in fake.messages(GROUP)]
    stale = []
    for number in numbers:
        title = f"Order #{number} ·"
        cards = [text for text in texts if title in text]
        # A digest message holds several cards: read this card's part only.
        if not cards or "Completed" not in cards[-1].split(title, 1)[1].split("Order #", 1)[0]:
            stale.append(number)
    return stale


def _notices_missing(
    fake: LossyFakeBotApi, numbers: dict[str, int], blocked: set[int]
) -> list[str]:
    """Order notices a reachable customer never got."""
    missing = []
    for number, customer in numbers.items():
        if customer in blocked:
            continue
        texts = [
            str(call.params.get("text", ""))
            for call in fake.calls()
            if call.chat_id == customer and _effective(fake, call)
        ]
        for marker in (
            f"Order #{number} placed",
            f"accepted order #{number};",
            f"Order #{number} is ready!",
            f"Order #{number} completed.",
        ):
            if not any(marker in text for text in texts):
                missing.append(f"{customer}: {marker}")
    return missing


# --------------------------------------------------------------------------- the test


async def test_every_message_is_delivered_or_its_customer_marked_unreachable_under_api_faults(
    migrated_url: str,
    long_run: bool,
    report_figures: Callable[[str], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    size = LONG if long_run else QUICK
    await prepare_shop(
        migrated_url, 4 * size.shoppers * size.orders_each, group=GROUP, seeded_at=OPEN_TIME
    )
    fake = LossyFakeBotApi(token=TOKEN, limits=None)
    await fake.start()
    shoppers = [FIRST_CUSTOMER + i for i in range(size.shoppers)]
    blocked_early = [FIRST_CUSTOMER + size.shoppers + i for i in range(size.blocked_early)]
    blocked_after = shoppers[len(shoppers) // 2]
    blocked = {*blocked_early, blocked_after}
    for user_id in (*shoppers, *blocked_early):
        fake.add_user(user_id, f"C{user_id}", language_code="en")
    fake.add_user(ANN, "Ann")
    fake.add_user(BEN, "Ben")
    fake.add_group(GROUP, "Central staff", admins=[ANN, BEN])
    plan = plan_faults(size, shoppers, blocked_after)
    caplog.set_level(logging.ERROR)
    engine = create_engine(migrated_url)
    tracker = Tracker(create_sessionmaker(engine))
    polling = asyncio.create_task(tracker.run())
    try:
        async with _running_bot(fake, migrated_url) as app:
            storm = Storm(
                fake,
                tracker,
                plan,
                {user_id: Person(fake, tracker, user_id) for user_id in (ANN, BEN)},
            )
            async with asyncio.TaskGroup() as group:  # one failure cancels the rest
                for user_id in shoppers:
                    person = Person(fake, tracker, user_id)
                    group.create_task(
                        storm.shop(person, size.orders_each, user_id == blocked_after)
                    )
                for user_id in blocked_early:
                    group.create_task(storm.write_and_block(user_id))
            await tracker.drained()
            await fake.wait_idle(quiet=0.2, timeout=30)
            outcome = await _outcome(app)
    finally:
        polling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
        await engine.dispose()
        await fake.stop()

    rows = outcome.rows
    statuses = Counter(row.status for row in rows)
    unexpected, refused_answers = _unsettled(fake, rows, blocked)
    answers = [row for row in rows if row.method == "answerCallbackQuery"]
    unanswered = [
        row.id
        for row in answers
        if len(fake.callback_answers(str(row.params.get("callback_query_id")))) != 1
    ]
    not_found = _not_found(fake, rows)
    repeats, unexplained = _repeats(fake, rows)
    lost_sends = sum(1 for lost in fake.lost_answers if lost.method == "sendMessage")
    early, waits = _early_calls(fake)
    # The fake marks a call "cancelled" when the client hung up before it was handled (so
    # does the long poll the bot abandons when it stops).
    abandoned = sum(
        1
        for call in fake.calls()
        if call.method != "getUpdates" and call.done and call.error == "cancelled"
    )
    reset = sum(1 for call in fake.calls() if call.error == "response dropped")
    marked = {telegram_id for telegram_id, gone in outcome.unreachable.items() if gone}
    orders = Counter((number, customer) for number, _status, customer in outcome.orders)
    placed = size.shoppers * size.orders_each
    order_statuses = Counter(status for _number, status, _customer in outcome.orders)
    stale = _stale_cards(fake, storm.numbers)
    notices_missing = _notices_missing(fake, storm.numbers, blocked)
    errors = [
        f"{record.name}: {record.getMessage()}"
        for record in caplog.records
        if record.levelno >= logging.ERROR
    ]

    injected = Counter(fault.kind for fault in storm.armed.elements())
    poll = Counter(fault.kind for fault in storm.armed.elements() if fault.target == "poll")
    delivered = statuses["sent"]
    report_figures(
        f"{placed} orders, {len(rows)} outbox rows "
        f"({len(rows) - len(answers)} messages and edits, {len(answers)} press answers), "
        f"{injected.total()} faults ({injected['429']} 429, {injected['500']} 500, "
        f"{injected['timeout']} timeouts, {injected['drop']} dropped requests, "
        f"{injected['lost']} lost answers; {poll.total()} of them on getUpdates incl. "
        f"{poll['duplicate']} duplicated updates), {len(blocked)} customers blocked -> "
        f"{delivered} delivered, {statuses['failed'] - refused_answers} failed 403 + "
        f"{statuses['skipped']} skipped to {len(marked)} unreachable customers, "
        f"{statuses['pending']} pending, {len(not_found)} lost, {repeats} repeats "
        f"(one per lost sendMessage answer), {refused_answers} press answers refused as given, "
        f"429s waited {min(waits, default=0):.2f}-{max(waits, default=0):.2f}s "
        f"for retry_after {RETRY_AFTER}s"
    )
    assert fake.counters["faults_injected"] + fake.counters["answers_lost"] == injected.total()
    assert fake.armed_losses() == 0
    assert abandoned == injected["timeout"]  # the bot gave up on every slow call
    assert reset == injected["drop"] + injected["lost"]
    assert statuses["pending"] == 0
    assert unexpected == []
    assert marked == blocked
    assert unanswered == []
    assert not_found == []
    assert unexplained == []
    assert early == []
    assert repeats == lost_sends
    assert set(orders) == set(storm.numbers.items())
    assert len(orders) == placed
    assert max(orders.values()) == 1
    assert order_statuses == Counter({"completed": placed})
    assert stale == []
    assert notices_missing == []
    assert storm.presses == len(answers)
    assert errors == []
