"""Rush hour in a staff group: 60 orders in one minute against Telegram's 20 messages a minute.

Real bot, real SQLite database, the fake Bot API over HTTP enforcing Telegram's limits (1 message
a second per chat with a burst of 3, 20 a minute per group, 30 a second overall). Sixty customers
start one second apart and order through the chat (search, add, checkout, pickup, phone, note,
place); a barista accepts each card 5 seconds after seeing it. Reported, per mode:

- card delay: from the customer's press on "Place order" to the order's card being in the group;
- accept lag: from the barista's press to the card showing "Accepted";
- group calls (sendMessage + editMessageText) and 429 answers from the server.

Modes, measured in the same run: `one card per message` (the baseline: coalescing off) and
`digest + collapsed edits` (the sender's default). Runs in real time: about 4 minutes. --quick
(and `python -m benchmarks --quick`): 15 orders over 15 s, the two modes side by side (each
with its own bot, database and fake), about 90 seconds.

    .venv/bin/python benchmarks/bench_group_flood.py [--orders 60] [--seconds 60] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import SecretStr

from benchmarks.table import Row
from bot.app import BotApp
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade_async
from bot.fakeapi.server import FakeBotApi, FakeLimits
from bot.seed import seed_demo_data
from bot.settings import Settings
from domain.clock import RunningClock
from tests.e2e.shop import OPEN_TIME

TOKEN = "123456:BENCH"
GROUP = -1_009_000
BARISTA = 7_000
FIRST_CUSTOMER = 100_000
REACTION_SECONDS = 5.0
ORDER_NUMBER = re.compile(r"Order #(\d{4})")


@dataclass
class Run:
    """What one mode measured."""

    placed: dict[str, float] = field(default_factory=dict)  # order number -> monotonic time
    pressed: dict[str, float] = field(default_factory=dict)


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [button for row in rows for button in row]


async def _wait(predicate: Any, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the bot did not answer in time")
        await asyncio.sleep(0.05)


async def _customer(fake: FakeBotApi, user_id: int, delay: float, run: Run) -> None:
    """Order one latte through the chat, as a person would."""
    await asyncio.sleep(delay)

    def calls() -> int:
        return sum(1 for call in fake.calls() if call.chat_id == user_id)

    async def say(text: str) -> None:
        before = calls()
        fake.send_text(user_id, text)
        await _wait(lambda: calls() > before)

    async def press(label: str) -> float:
        found: list[tuple[int, str]] = []

        def visible() -> bool:
            for message in reversed(fake.messages(user_id)):
                for button in _buttons(message):
                    if label in button.get("text", "") and "callback_data" in button:
                        found.append((int(message["message_id"]), button["callback_data"]))
                        return True
            return False

        await _wait(visible)
        before = calls()
        pressed_at = time.monotonic()
        fake.press_button(user_id, *found[0])
        await _wait(lambda: calls() > before)
        return pressed_at

    await say("/start scentral")
    await say("/search latte")
    await press("Latte")
    await press("➕")
    await press("🛒")
    await press("Checkout")
    await press("Pickup")
    await press("As soon as possible")
    await say("+8613800138000")
    await say("no sugar")
    ordered_at = await press("Place order")
    numbers: list[str] = []

    def confirmed() -> bool:
        for message in fake.messages(user_id):
            found = re.search(r"#(\d{4})", str(message.get("text", "")))
            if found and "placed" in str(message.get("text", "")).lower():
                numbers.append(found.group(1))
                return True
        return False

    await _wait(confirmed)
    run.placed[numbers[0]] = ordered_at


def _sections(text: str) -> dict[str, str]:
    """Each order's part of a card or digest text, by order number."""
    return {
        match.group(1): part
        for part in text.split("┈┈┈┈┈┈┈┈")
        if (match := ORDER_NUMBER.search(part)) is not None
    }


async def _barista(fake: FakeBotApi, run: Run, stop: asyncio.Event) -> None:
    """Accept every card with 10 minutes, REACTION_SECONDS after it showed up."""
    seen: dict[str, float] = {}
    while not stop.is_set():
        now = time.monotonic()
        for message in fake.messages(GROUP):
            sections = _sections(str(message.get("text", "")))
            for shown in sections:
                seen.setdefault(shown, now)
            for button in _buttons(message):
                text = str(button.get("text", ""))
                if "10 min" not in text:
                    continue
                label = re.match(r"#(\d{4}) ", text)
                number = label.group(1) if label else next(iter(sections), None)
                if number is None or number in run.pressed:
                    continue
                if now - seen[number] < REACTION_SECONDS:
                    continue
                run.pressed[number] = now
                fake.press_button(
                    BARISTA, int(message["message_id"]), button["callback_data"], chat_id=GROUP
                )
        await asyncio.sleep(0.1)


async def _measure(orders: int, seconds: float, coalesce: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite+aiosqlite:///{scratch}/flood.sqlite3"
        await upgrade_async(url)
        engine = create_engine(url)
        await seed_demo_data(create_sessionmaker(engine), OPEN_TIME)
        await engine.dispose()

        fake = FakeBotApi(token=TOKEN, limits=FakeLimits())
        await fake.start()
        fake.add_user(BARISTA, "Ann")
        customers = [FIRST_CUSTOMER + i for i in range(orders)]
        for user_id in customers:
            fake.add_user(user_id, f"Guest {user_id - FIRST_CUSTOMER}", language_code="en")
        fake.add_group(GROUP, "Central staff", admins=[BARISTA])
        values = Settings().model_dump() | {
            "bot_token": SecretStr(TOKEN),
            "database_url": url,
            "telegram_api_url": fake.base_url,
            "polling_timeout": 1,
            "webhook_url": None,
            "admin_ids": [BARISTA],
        }
        app = BotApp(Settings.model_construct(**values), clock=RunningClock(OPEN_TIME))
        app.sender.coalesce_groups = coalesce
        await app.start()
        polling = asyncio.create_task(app.run_polling())
        run = Run()
        stop = asyncio.Event()
        try:
            fake.send_text(BARISTA, "/bind central", chat_id=GROUP)
            await _wait(lambda: bool(fake.messages(GROUP)))
            barista = asyncio.create_task(_barista(fake, run, stop))
            gap = seconds / max(1, orders)
            await asyncio.gather(
                *(_customer(fake, user_id, i * gap, run) for i, user_id in enumerate(customers))
            )

            def all_accepted() -> bool:
                shown: dict[str, str] = {}
                for message in fake.messages(GROUP):
                    shown |= _sections(str(message.get("text", "")))
                return all("Accepted" in shown.get(number, "") for number in run.placed)

            await _wait(all_accepted, timeout=900)
            stop.set()
            await barista
        finally:
            app.request_stop()
            await polling
            await app.close()
            await fake.stop()

    first_card: dict[str, float] = {}
    accepted_at: dict[str, float] = {}
    group_calls = [c for c in fake.calls() if c.chat_id == GROUP and c.method != "getChatMember"]
    for call in group_calls:
        for number, part in _sections(str(call.params.get("text", ""))).items():
            first_card.setdefault(number, call.time)
            if "Accepted" in part:
                accepted_at.setdefault(number, call.time)
    card_delays = [first_card[n] - run.placed[n] for n in run.placed]
    accept_lags = [accepted_at[n] - run.pressed[n] for n in run.pressed]
    return {
        "card_delays": card_delays,
        "accept_lags": accept_lags,
        "group_calls": sum(
            1 for c in group_calls if c.method in ("sendMessage", "editMessageText")
        ),
        "too_many_requests": sum(1 for c in fake.calls() if c.status == 429),
    }


def _spread(values: list[float]) -> tuple[float, float, float]:
    """(p50, p95, max) of a list of seconds."""
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95, ordered[-1]


def _row(name: str, figures: dict[str, Any]) -> str:
    def spread(values: list[float]) -> str:
        p50, p95, worst = _spread(values)
        return f"{p50:6.1f} {p95:6.1f} {worst:6.1f}"

    return (
        f"{name:<26} {spread(figures['card_delays'])}   {spread(figures['accept_lags'])}"
        f"   {figures['group_calls']:5d} {figures['too_many_requests']:5d}"
    )


@dataclass(frozen=True)
class Size:
    """How big a run is: `orders` customers starting evenly over `seconds`."""

    orders: int
    seconds: float


# The quick run keeps the rate of 60 a minute (3 times the group's 20) for a quarter of the time.
QUICK = Size(orders=15, seconds=15.0)
FULL = Size(orders=60, seconds=60.0)


def _summary(figures: dict[str, Any]) -> str:
    card_p50, _, card_max = _spread(figures["card_delays"])
    accept_p50, _, _ = _spread(figures["accept_lags"])
    return (
        f"max card delay {card_max:.1f} s (p50 {card_p50:.1f} s; accept shown after p50 "
        f"{accept_p50:.1f} s; {figures['group_calls']} group calls, "
        f"{figures['too_many_requests']} 429s)"
    )


def _numbers(prefix: str, figures: dict[str, Any]) -> dict[str, float | int]:
    card_p50, card_p95, card_max = _spread(figures["card_delays"])
    accept_p50, accept_p95, accept_max = _spread(figures["accept_lags"])
    return {
        f"{prefix}card_delay_p50_s": card_p50,
        f"{prefix}card_delay_p95_s": card_p95,
        f"{prefix}card_delay_max_s": card_max,
        f"{prefix}accept_lag_p50_s": accept_p50,
        f"{prefix}accept_lag_p95_s": accept_p95,
        f"{prefix}accept_lag_max_s": accept_max,
        f"{prefix}group_calls": figures["group_calls"],
        f"{prefix}too_many_requests": figures["too_many_requests"],
    }


def row_from(size: Size, baseline: dict[str, Any], digest: dict[str, Any]) -> Row:
    """The group flood row: the worst card delay with digests against one card per message."""
    worst = max(digest["card_delays"]) / max(baseline["card_delays"])
    too_many = baseline["too_many_requests"] + digest["too_many_requests"]
    return Row(
        name="group_flood",
        what=(
            f"{size.orders} customers order through the chat within {size.seconds:.0f} s "
            "against the fake Bot API enforcing Telegram's limits (20/min per group); a barista "
            f"accepts each card {REACTION_SECONDS:.0f} s after it shows up; worst delay from "
            "'Place order' to the card in the group; baseline = one card per message, no edit "
            "collapsing; measured = digests + collapsed edits"
        ),
        baseline=_summary(baseline),
        measured=_summary(digest),
        ratio=worst,
        goal="ratio < 1, no 429",
        met=worst < 1 and too_many == 0,
        numbers={
            **_numbers("baseline_", baseline),
            **_numbers("digest_", digest),
            "orders": size.orders,
            "seconds": size.seconds,
        },
    )


async def run(size: Size, side_by_side: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both modes: (one card per message, digest + collapsed edits).

    One after the other by default. `side_by_side` runs them at once, each with its own bot,
    database and fake: the run takes half the time, and as both wait on the group's limit
    (seconds) far more than on the CPU (milliseconds a card), the figures barely move.
    """
    if side_by_side:
        baseline, digest = await asyncio.gather(
            _measure(size.orders, size.seconds, coalesce=False),
            _measure(size.orders, size.seconds, coalesce=True),
        )
        return baseline, digest
    baseline = await _measure(size.orders, size.seconds, coalesce=False)
    digest = await _measure(size.orders, size.seconds, coalesce=True)
    return baseline, digest


def measure(quick: bool) -> list[Row]:
    """The group flood row (quick: 15 orders in 15 s, both modes at once; else 60 in 60 s)."""
    size = QUICK if quick else FULL
    return [row_from(size, *asyncio.run(run(size, side_by_side=quick)))]


async def main(orders: int, seconds: float, side_by_side: bool) -> None:
    """Measure both modes and print one table."""
    baseline, digest = await run(Size(orders, seconds), side_by_side)
    print(
        f"machine: {platform.machine()}, Python {platform.python_version()}; "
        f"{orders} orders over {seconds:.0f} s, barista reacts after {REACTION_SECONDS:.0f} s"
    )
    print(
        f"{'mode':<26} {'card delay s (p50 p95 max)':<22}   {'accept lag s (p50 p95 max)':<22}"
        f"   calls   429"
    )
    print(_row("one card per message", baseline))
    print(_row("digest + collapsed edits", digest))
    print(
        "max card delay, digest / baseline: "
        f"{max(digest['card_delays']) / max(baseline['card_delays']):.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=FULL.orders)
    parser.add_argument("--seconds", type=float, default=FULL.seconds)
    parser.add_argument(
        "--quick", action="store_true", help="15 orders over 15 s, both modes at once"
    )
    arguments = parser.parse_args()
    size = QUICK if arguments.quick else Size(arguments.orders, arguments.seconds)
    asyncio.run(main(size.orders, size.seconds, side_by_side=arguments.quick))
