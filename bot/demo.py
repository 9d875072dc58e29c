"""`o2o demo`: the real bot against the fake Bot API, driven by a script through its control API."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr

from bot.app import BotApp
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade_async
from bot.fakeapi.server import FakeBotApi
from bot.seed import seed_demo_data
from bot.settings import Settings
from domain.clock import SystemClock

DEMO_TOKEN = "123456:DEMO-offline-token-not-for-telegram"  # noqa: S105  # only the fake sees it
STEP_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Person:
    """A scripted Telegram user."""

    user_id: int
    name: str
    language_code: str


@dataclass(frozen=True, slots=True)
class Step:
    """One scripted action and the bot output it must cause in the actor's chat."""

    who: Person
    text: str | None = None
    press: str | None = None  # label of a button on the chat's latest message carrying it
    sends: int = 1  # new messages expected
    edits: int = 0  # message edits expected


ALICE = Person(1001, "Alice", "en")
WANG = Person(1002, "Wang Fang", "zh-hans")

SCENARIO: tuple[Step, ...] = (
    Step(ALICE, text="/start"),
    Step(ALICE, text="/help"),
    Step(ALICE, text="/language"),
    Step(ALICE, press="简体中文", sends=0, edits=1),
    Step(ALICE, text="hello, anyone there?"),
    Step(WANG, text="/start scentral"),
    Step(WANG, text="/start scentralt12"),
    Step(WANG, text="/start snowhere"),
    Step(WANG, text="/frobnicate"),
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
    """A scripted step got no (or not the expected) reply."""


async def play(control: ControlClient, steps: Sequence[Step]) -> None:
    """Run the steps one by one, waiting for each one's replies before the next."""
    sent: dict[int, int] = {}
    edited = 0
    for number, step in enumerate(steps, start=1):
        chat_id = step.who.user_id
        if step.text is not None:
            await control("send_text", user_id=chat_id, text=step.text)
        elif step.press is not None:
            message_id, data = await _find_button(control, chat_id, step.press)
            await control(
                "press_button", user_id=chat_id, message_id=message_id, callback_data=data
            )
        sent[chat_id] = sent.get(chat_id, 0) + step.sends
        edited += step.edits
        try:
            if step.sends:
                await control(
                    "wait_for_messages", chat_id=chat_id, count=sent[chat_id], timeout=STEP_TIMEOUT
                )
            if step.edits:
                await control(
                    "wait_for_calls", method="editMessageText", count=edited, timeout=STEP_TIMEOUT
                )
        except RuntimeError as exc:
            raise StepFailed(
                f"step {number} ({step.text or step.press!r}) got no reply: {exc}"
            ) from None
    await control("wait_idle", quiet=0.3, timeout=STEP_TIMEOUT)


async def _find_button(control: ControlClient, chat_id: int, label: str) -> tuple[int, str]:
    for message in reversed(await control("messages", chat_id=chat_id)):
        markup = message.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if label in button.get("text", "") and "callback_data" in button:
                    return int(message["message_id"]), str(button["callback_data"])
    raise StepFailed(f"no button labelled {label!r} in chat {chat_id}")


async def run_demo(
    base: Settings, *, db_path: str | None = None, runtime: str = "aiogram", out: Any = None
) -> int:
    """Start the fake Bot API and the real bot, play the scenario, print the transcript."""
    with tempfile.TemporaryDirectory(prefix="o2o-demo-") as scratch:
        path = Path(db_path) if db_path else Path(scratch) / "demo.sqlite3"
        database_url = f"sqlite+aiosqlite:///{path.resolve()}"
        return await _run(base, database_url, runtime, out or sys.stdout)


async def _run(base: Settings, database_url: str, runtime: str, out: Any) -> int:
    await upgrade_async(database_url)
    engine = create_engine(database_url)
    try:
        await seed_demo_data(create_sessionmaker(engine), SystemClock().now())
    finally:
        await engine.dispose()

    fake = FakeBotApi(token=DEMO_TOKEN)
    await fake.start()
    settings = base.model_copy(
        update={
            "bot_token": SecretStr(DEMO_TOKEN),
            "database_url": database_url,
            "telegram_api_url": fake.base_url,
            "runtime": runtime,
            "polling_timeout": 1,
            "webhook_url": None,
        }
    )
    app = BotApp(settings)
    polling: asyncio.Task[None] | None = None
    try:
        async with aiohttp.ClientSession() as session:
            control = ControlClient(session, fake.base_url)
            for person in (ALICE, WANG):
                await control(
                    "add_user",
                    user_id=person.user_id,
                    first_name=person.name,
                    language_code=person.language_code,
                )
            await app.start()
            polling = asyncio.create_task(app.run_polling())
            try:
                await play(control, SCENARIO)
                failure = None
            except StepFailed as exc:
                failure = str(exc)
            names = {str(person.user_id): person.name for person in (ALICE, WANG)}
            transcript = await control("format_transcript", names=names)
    finally:
        app.request_stop()
        if polling is not None:
            await polling
        await app.close()
        await fake.stop()
    print(f"o2o demo: {runtime} runtime, fake Bot API, database {database_url}\n", file=out)
    print(transcript, file=out)
    if failure:
        print(f"\nDEMO FAILED: {failure}", file=out)
        return 1
    print(f"\nDemo finished: {len(SCENARIO)} steps, every step answered.", file=out)
    return 0
