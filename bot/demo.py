"""`o2o demo`: the real bot against the fake Bot API, driven by a script through its control API."""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr
from sqlalchemy import select

from bot.app import BotApp
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade_async
from bot.db.models import Customer, OutboxMessage
from bot.digest import SEPARATOR as DIGEST_SEPARATOR
from bot.fakeapi.server import FakeBotApi, format_transcript
from bot.seed import seed_demo_data
from bot.sender import UNTHROTTLED
from bot.settings import Settings
from bot.simulate import SIM_TELEGRAM_BASE, simulate
from domain.clock import RunningClock

DEMO_TOKEN = "123456:DEMO-offline-token-not-for-telegram"  # noqa: S105  # only the fake sees it
STEP_TIMEOUT = 15.0
# Monday 2026-05-04, 10:30 in Shanghai: Central Café is open, Riverside opens on Tuesday.
DEMO_START = datetime(2026, 5, 4, 2, 30, tzinfo=UTC)
NEAR_CENTRAL = (31.2330, 121.4760)


@dataclass(frozen=True, slots=True)
class Person:
    """A scripted Telegram user."""

    user_id: int
    name: str
    language_code: str


@dataclass(frozen=True, slots=True)
class Step:
    """One scripted action: type text, press a button (by label), share a contact or location."""

    text: str | None = None
    press: str | None = None
    contact: str | None = None
    location: tuple[float, float] | None = None

    def describe(self) -> str:
        """The step as shown in an error message."""
        return self.text or self.press or self.contact or str(self.location)


ALICE = Person(1001, "Alice", "en")
WANG = Person(1002, "Wang Fang", "zh-hans")
BOB = Person(1003, "Bob", "en")
CHEN = Person(1004, "Chen Jie", "en")

SCENARIOS: dict[Person, tuple[Step, ...]] = {
    # Basics, then a pickup order found by search.
    ALICE: (
        Step(text="/start"),
        Step(text="/help"),
        Step(text="/language"),
        Step(press="简体中文"),
        Step(text="hello, anyone there?"),
        Step(text="/language"),
        Step(press="English"),
        Step(text="/start scentral"),
        Step(text="/search croissant"),
        Step(press="Croissant"),
        Step(press="➕"),
        Step(press="➕"),
        Step(press="🛒"),
        Step(press="Checkout"),
        Step(press="Pickup"),
        Step(press="As soon as possible"),
        Step(text="+86 138 0013 8000"),
        Step(press="Skip"),
        Step(press="Place order"),
        Step(press="Yes, please"),  # offers: asked once, on the first order's confirmation
        Step(text="/orders"),
    ),
    # Scan-to-order: the table QR code, the menu in Chinese, dine-in at that table.
    WANG: (
        Step(text="/start snowhere"),
        Step(text="/start scentralt12"),
        Step(press="菜单"),
        Step(press="咖啡"),
        Step(press="拿铁"),
        Step(press="➕"),
        Step(text="/cart"),
        Step(press="去结算"),
        Step(contact="+8613900139000"),
        Step(text="少冰，谢谢"),
        Step(press="提交订单"),
        Step(press="不用了"),  # no offers, thanks
    ),
    # The nearest store from a shared location, then a delivery order.
    BOB: (
        Step(text="/stores"),
        Step(location=NEAR_CENTRAL),
        Step(press="Central Café"),
        Step(text="/search latte"),
        Step(press="Latte"),
        Step(text="2"),
        Step(press="🛒"),
        Step(press="Checkout"),
        Step(press="Delivery"),
        Step(location=NEAR_CENTRAL),
        Step(text="+1 415 555 0100"),
        Step(text="Ring twice, please"),
        Step(press="Place order"),
    ),
    # A table for four tomorrow evening.
    CHEN: (
        Step(text="/start scentral"),
        Step(press="Book"),
        Step(press="A table"),
        Step(press="4"),
        Step(press="Tomorrow"),
        Step(press="19:00"),
        Step(text="+86 137 0013 7000"),
        Step(text="A birthday, a quiet corner if possible"),
        Step(press="Confirm booking"),
        Step(text="/orders"),
    ),
}


# The Central Café staff group: Ann is an administrator, Olly an ordinary member.
GROUP_ID = -1001000
ANN = Person(2001, "Ann", "en")
OLLY = Person(2002, "Olly", "en")
# After the staff: half an hour later Alice answers her survey, then Ann (the bot's admin and
# Central Café's manager) asks for today's figures and the RFM segments, plans a push campaign
# and sends it. Each of Ann's steps waits for its answer (worked out off the update) so the
# transcript reads in order: (step, method of the answer, text the answer contains).
SURVEY_DELAY_MINUTES = 31
AFTER_STEPS: tuple[tuple[Person, tuple[Step, ...]], ...] = (
    (ALICE, (Step(press="5 ★"), Step(text="Lovely croissants, thank you!"))),
)
MANAGER_STEPS: tuple[tuple[Step, str, str], ...] = (
    (Step(text="/stats today"), "sendPhoto", ""),
    (Step(text="/rfm central"), "sendMessage", "RFM"),
    (Step(text="/push central"), "sendMessage", "Campaign #"),
    (Step(press="Send to"), "editMessageText", "done ✅"),
)
# Four months of simulated history before the demo's day (bot/simulate.py): regulars, lapsed
# customers and newcomers, so /rfm has segments and /push has an audience besides Alice.
HISTORY_CUSTOMERS = 150
HISTORY_DAYS = 120
HISTORY_SEED = 7
# Not a button: staff type `/pickup CODE` with the code the customer shows.
PICKUP_BY_CODE = "/pickup"
# After the customers: staff work the cards (by whose order they are), one press at a time.
STAFF_STEPS: tuple[tuple[Person, str, Person], ...] = (
    (OLLY, "10 min", ALICE),  # not staff: refused
    (ANN, "10 min", ALICE),
    (ANN, "Ready", ALICE),
    (ANN, PICKUP_BY_CODE, ALICE),  # Alice shows her code at the counter
    (ANN, "20 min", WANG),
    (ANN, "Reject", BOB),
    (ANN, "too busy", BOB),
    (ANN, "Confirm", CHEN),
)


class ControlClient:
    """The fake Bot API's control API over HTTP, as any external script would use it."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base_url = base_url

    async def __call__(self, action: str, **arguments: Any) -> Any:
        """POST one control action and return its result; raise on refusal or time-out."""
        url = f"{self.base_url}/_control/{action}"
        async with self.session.post(url, json=arguments) as response:
            body = await response.json()
        if not body.get("ok"):
            raise RuntimeError(f"{action}: {body.get('description')}")
        return body.get("result")


class StepFailed(Exception):
    """A scripted step got no reply."""


async def _reactions(control: ControlClient, chat_id: int) -> int:
    """How many messages the bot sent or edited in this chat (lookups like getChatMember aside)."""
    calls = await control("calls")
    return sum(
        1
        for call in calls
        if call.get("chat_id") == chat_id
        and str(call.get("method", "")).lower().startswith(("send", "edit"))
    )


async def play(control: ControlClient, person: Person, steps: Sequence[Step], bot: BotApp) -> None:
    """Run one person's steps in order; each waits until the bot has sent all it will."""
    chat_id = person.user_id
    for number, step in enumerate(steps, start=1):
        before = await _reactions(control, chat_id)
        query_id: str | None = None
        if step.text is not None:
            await control("send_text", user_id=chat_id, text=step.text)
        elif step.press is not None:
            message_id, data = await _find_button(control, chat_id, step.press)
            query_id = await control(
                "press_button", user_id=chat_id, message_id=message_id, callback_data=data
            )
        elif step.contact is not None:
            await control("send_contact", user_id=chat_id, phone_number=step.contact)
        elif step.location is not None:
            latitude, longitude = step.location
            await control("send_location", user_id=chat_id, latitude=latitude, longitude=longitude)
        deadline = asyncio.get_running_loop().time() + STEP_TIMEOUT
        # Every press is answered and every message gets a reply in its chat; once that is
        # seen, the update's transaction has committed, so its outbox rows are all there.
        while not (
            await control("callback_answers", callback_query_id=query_id)
            if query_id is not None
            else await _reactions(control, chat_id) > before
        ) or await _unsent(bot, chat_id):
            if asyncio.get_running_loop().time() > deadline:
                raise StepFailed(f"{person.name}, step {number} ({step.describe()!r}) got no reply")
            await asyncio.sleep(0.05)


async def _unsent(bot: BotApp, chat_id: int | None) -> bool:
    """Whether the bot still has calls for this chat (None: for anyone) in its outbox."""
    query = select(OutboxMessage.id).where(OutboxMessage.status == "pending").limit(1)
    if chat_id is not None:
        query = query.where(OutboxMessage.chat_id == chat_id)
    async with bot.sessionmaker() as session:
        pending = await session.scalar(query)
    return pending is not None


async def _group_action(
    control: ControlClient,
    bot: BotApp,
    who: Person,
    *,
    text: str | None = None,
    press: tuple[str, Person] | None = None,
) -> None:
    """One staff action in the group (a command, or a press on a customer's card), waited for
    until everything it caused was sent."""
    if text is not None:
        before = await _reactions(control, GROUP_ID)
        await control("send_text", user_id=who.user_id, text=text, chat_id=GROUP_ID)

        async def answered() -> bool:
            return await _reactions(control, GROUP_ID) > before

    else:
        assert press is not None
        label, customer = press
        message_id, data = await _find_card_button(control, customer, label)
        query_id = await control(
            "press_button",
            user_id=who.user_id,
            message_id=message_id,
            callback_data=data,
            chat_id=GROUP_ID,
        )

        async def answered() -> bool:
            return bool(await control("callback_answers", callback_query_id=query_id))

    deadline = asyncio.get_running_loop().time() + STEP_TIMEOUT
    while not await answered() or await _unsent(bot, None):
        if asyncio.get_running_loop().time() > deadline:
            raise StepFailed(f"{who.name} in the group ({text or press!r}) got no reply")
        await asyncio.sleep(0.05)


async def _find_card_button(
    control: ControlClient, customer: Person, label: str
) -> tuple[int, str]:
    for message in reversed(await control("messages", chat_id=GROUP_ID)):
        # A digest holds several cards; their buttons start with the order's number.
        cards = str(message.get("text", "")).split(DIGEST_SEPARATOR)
        mine = [card for card in cards if f"👤 {customer.name}" in card]
        if not mine:
            continue
        number = re.search(r"#\d{4}", mine[0])
        prefix = f"{number.group(0)} " if number and len(cards) > 1 else ""
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                text = button.get("text", "")
                if text.startswith(prefix) and label in text and "callback_data" in button:
                    return int(message["message_id"]), str(button["callback_data"])
    raise StepFailed(f"no button {label!r} on the card of {customer.name}'s order")


async def _after_the_orders(control: ControlClient, app: BotApp, clock: RunningClock) -> None:
    """Half an hour on: the survey is answered; the manager asks for /stats, /rfm and /push,
    sends the campaign and Alice gets her personal picks."""
    clock.advance(SURVEY_DELAY_MINUTES)
    await app.jobs.run_once()
    await _wait_until(control, ALICE.user_id, "sendMessage", "How was")
    for person, steps in AFTER_STEPS:
        await play(control, person, steps, app)
    for step, method, answer in MANAGER_STEPS:
        await play(control, ANN, (step,), app)
        await _wait_until(control, ANN.user_id, method, answer or None)
    await _wait_until(control, ALICE.user_id, "sendMessage", "Picked for you")


async def _add_history(database_url: str, control: ControlClient) -> None:
    """Simulated past orders; their customers exist in the fake (surveys, reminders, pushes)."""
    engine = create_engine(database_url)
    try:
        sessionmaker = create_sessionmaker(engine)
        await simulate(
            sessionmaker,
            customers=HISTORY_CUSTOMERS,
            days=HISTORY_DAYS,
            seed=HISTORY_SEED,
            end=DEMO_START.date(),
        )
        async with sessionmaker() as session:
            rows = (await session.execute(select(Customer.telegram_id, Customer.first_name))).all()
    finally:
        await engine.dispose()
    for row in rows:
        if row.telegram_id >= SIM_TELEGRAM_BASE:
            await control("add_user", user_id=row.telegram_id, first_name=row.first_name)


async def _wait_until(
    control: ControlClient, chat_id: int, method: str, text: str | None = None
) -> dict[str, Any]:
    """The first successful `method` call to `chat_id` (whose text contains `text`)."""
    deadline = asyncio.get_running_loop().time() + STEP_TIMEOUT
    while asyncio.get_running_loop().time() < deadline:
        for call in await control("calls", method=method):
            params = call.get("params") or {}
            wanted = text is None or text in str(params.get("text", ""))
            if call.get("chat_id") == chat_id and call.get("status") == 200 and wanted:
                return dict(call)
        await asyncio.sleep(0.05)
    raise StepFailed(f"no {method} reached chat {chat_id} in time")


async def _pickup_code(control: ControlClient, customer: Person) -> str:
    for message in reversed(await control("messages", chat_id=customer.user_id)):
        text = str(message.get("text", ""))
        found = re.search(r"(?i)pickup code:?\s*(?:<[^>]+>)?([A-Z0-9]{4,8})", text)
        if found:
            return found.group(1)
    raise StepFailed(f"{customer.name} has no pickup code to show")


async def _find_button(control: ControlClient, chat_id: int, label: str) -> tuple[int, str]:
    for message in reversed(await control("messages", chat_id=chat_id)):
        markup = message.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if label in button.get("text", "") and "callback_data" in button:
                    return int(message["message_id"]), str(button["callback_data"])
    raise StepFailed(f"no button labelled {label!r} in chat {chat_id}")


def _group_in_order(events: list[dict[str, Any]], bound: int, ordered: int) -> list[dict[str, Any]]:
    """The group's events, with the cards customers caused concurrently in customer order."""
    mine = [
        (index, event) for index, event in enumerate(events) if event.get("chat_id") == GROUP_ID
    ]
    before = [event for index, event in mine if index < bound]
    cards = [event for index, event in mine if bound <= index < ordered]
    after = [event for index, event in mine if index >= ordered]
    rank = {person.name: position for position, person in enumerate(SCENARIOS)}

    def owner(event: dict[str, Any]) -> int:
        text = str(event.get("text", ""))
        return min(
            (position for name, position in rank.items() if f"👤 {name}" in text),
            default=len(rank),
        )

    return before + sorted(cards, key=owner) + _in_step_order(after)


def _in_step_order(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Within each step, show the bot's messages and edits before the answer to the press.

    The answer is unthrottled and may overtake an edit on the wire; printing it last makes the
    transcript the same from run to run.
    """
    ordered: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    for event in events:
        if event.get("dir") == "in":
            ordered += answers
            answers = []
            ordered.append(event)
        elif event.get("kind") == "answer_callback":
            answers.append(event)
        else:
            ordered.append(event)
    return ordered + answers


async def run_demo(
    base: Settings,
    *,
    db_path: str | None = None,
    runtime: str = "aiogram",
    out: Any = None,
    realistic: bool = True,
    chart_path: str | None = None,
) -> int:
    """Start the fake Bot API and the real bot, play the scenarios, print the transcripts.

    `realistic` keeps Telegram's rate limits on both sides (about a minute of pacing); tests
    turn it off, which changes timing only, never the transcript.
    """
    with tempfile.TemporaryDirectory(prefix="o2o-demo-") as scratch:
        path = Path(db_path) if db_path else Path(scratch) / "demo.sqlite3"
        database_url = f"sqlite+aiosqlite:///{path.resolve()}"
        return await _run(base, database_url, runtime, out or sys.stdout, realistic, chart_path)


async def _run(
    base: Settings,
    database_url: str,
    runtime: str,
    out: Any,
    realistic: bool,
    chart_path: str | None,
) -> int:
    await upgrade_async(database_url)
    clock = RunningClock(DEMO_START)
    engine = create_engine(database_url)
    try:
        await seed_demo_data(create_sessionmaker(engine), clock.now())
    finally:
        await engine.dispose()

    fake = FakeBotApi(token=DEMO_TOKEN) if realistic else FakeBotApi(token=DEMO_TOKEN, limits=None)
    await fake.start()
    settings = base.model_copy(
        update={
            "bot_token": SecretStr(DEMO_TOKEN),
            "database_url": database_url,
            "telegram_api_url": fake.base_url,
            "runtime": runtime,
            "polling_timeout": 1,
            "webhook_url": None,
            "payment_provider_token": None,
        }
    )
    settings = settings.model_copy(update={"admin_ids": (ANN.user_id,)})
    app = BotApp(settings, clock=clock, send_limits=None if realistic else UNTHROTTLED)
    polling: asyncio.Task[None] | None = None
    failure: str | None = None
    chart: bytes | None = None
    try:
        async with aiohttp.ClientSession() as session:
            control = ControlClient(session, fake.base_url)
            for person in (*SCENARIOS, ANN, OLLY):
                await control(
                    "add_user",
                    user_id=person.user_id,
                    first_name=person.name,
                    language_code=person.language_code,
                )
            await control(
                "add_group",
                chat_id=GROUP_ID,
                title="Central Café staff",
                admins=[ANN.user_id],
                members=[OLLY.user_id],
            )
            await _add_history(database_url, control)
            await app.start()
            polling = asyncio.create_task(app.run_polling())
            await control("wait_for_calls", method="deleteWebhook", count=1, timeout=STEP_TIMEOUT)
            await _group_action(control, app, ANN, text="/bind central")
            bound = len(await control("transcript"))
            # Customers act at the same time, each in their own chat, as in a real shop.
            results = await asyncio.gather(
                *(play(control, person, steps, app) for person, steps in SCENARIOS.items()),
                return_exceptions=True,
            )
            failures = [str(result) for result in results if isinstance(result, BaseException)]
            ordered = len(await control("transcript"))
            if not failures:
                try:
                    for who, label, customer in STAFF_STEPS:
                        if label == PICKUP_BY_CODE:
                            code = await _pickup_code(control, customer)
                            await _group_action(control, app, who, text=f"/pickup {code}")
                        else:
                            await _group_action(control, app, who, press=(label, customer))
                    await _after_the_orders(control, app, clock)
                except StepFailed as exc:
                    failures.append(str(exc))
            failure = "; ".join(failures) or None
            events = await control("transcript")
            photos = [c for c in fake.calls("sendPhoto") if c.chat_id == ANN.user_id and c.ok]
            if photos:
                chart = fake.uploads.get(str(photos[-1].params["photo"].get("sha256")))
    finally:
        app.request_stop()
        if polling is not None:
            await polling
        await app.close()
        await fake.stop()
    print(f"o2o demo: {runtime} runtime, fake Bot API, database {database_url}", file=out)
    names = {person.user_id: person.name for person in (*SCENARIOS, ANN, OLLY)}
    names[GROUP_ID] = "Central Café staff"
    print("\n=== Central Café staff group ===", file=out)
    print(format_transcript(_group_in_order(events, bound, ordered), names), file=out)
    for person in (*SCENARIOS, ANN):
        chat_events = _in_step_order(
            [event for event in events if event.get("chat_id") == person.user_id]
        )
        role = ", Central Café's manager" if person is ANN else ""
        print(f"\n=== {person.name} ({person.language_code}{role}) ===", file=out)
        print(format_transcript(chat_events, names), file=out)
    if chart_path is not None and chart is not None:
        await asyncio.to_thread(Path(chart_path).write_bytes, chart)
        print(f"\nThe /stats chart is saved as {chart_path}.", file=out)
    if failure:
        print(f"\nDEMO FAILED: {failure}", file=out)
        return 1
    steps = sum(len(steps) for steps in SCENARIOS.values()) + len(STAFF_STEPS) + 1
    steps += sum(len(steps) for _, steps in AFTER_STEPS) + len(MANAGER_STEPS)
    print(f"\nDemo finished: {steps} steps, every step answered.", file=out)
    return 0
