"""Table bookings and service appointments over real HTTP: capacity, cancel cutoff, reminders."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select, update

from bot.app import BotApp
from bot.db import models
from bot.fakeapi.server import FakeBotApi
from bot.jobs import JobRunner
from bot.sender import UNTHROTTLED
from bot.settings import Settings
from handlers.callbacks import CallbackCodec
from tests.e2e.conftest import TOKEN, eventually
from tests.e2e.shopper import Shopper

MIA, LEO, ANN, WEI = 4001, 4002, 4003, 4004
# Monday 2026-05-04 17:30 in Shanghai: Central Café (07:30-21:00) takes table bookings today
# at 18:00, 18:30, 19:00 and 19:30 (90 minutes each, at least 15 minutes ahead).
NOW = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
TOMORROW_19 = datetime(2026, 5, 5, 11, 0, tzinfo=UTC)  # Tue 19:00 in Shanghai


class RunningClock:
    """Real elapsed time from a chosen moment; `shift` moves it, as time passing would."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.origin = time.monotonic()

    def now(self) -> datetime:
        """The chosen start plus the real time elapsed since."""
        return self.start + timedelta(seconds=time.monotonic() - self.origin)

    def shift(self, delta: timedelta) -> None:
        """Jump ahead."""
        self.start += delta


@dataclass
class Shop:
    """A running bot, four customers (Wei writes Chinese) and direct database access."""

    app: BotApp
    fake: FakeBotApi
    clock: RunningClock
    mia: Shopper
    leo: Shopper
    ann: Shopper
    wei: Shopper

    async def reservations(self) -> list[tuple[models.Reservation, str | None]]:
        """Every reservation with its table's label, in booking order."""
        async with self.app.sessionmaker() as session:
            rows = await session.execute(
                select(models.Reservation, models.StoreTable.label)
                .outerjoin(models.StoreTable, models.StoreTable.id == models.Reservation.table_id)
                .order_by(models.Reservation.id)
            )
            return [(row, label) for row, label in rows]

    async def events(self, reservation_id: int) -> list[tuple[str | None, str]]:
        """The reservation's status events."""
        async with self.app.sessionmaker() as session:
            rows = await session.execute(
                select(models.OrderEvent.from_status, models.OrderEvent.to_status)
                .where(models.OrderEvent.reservation_id == reservation_id)
                .order_by(models.OrderEvent.id)
            )
            return [(before, after) for before, after in rows]

    async def set_central(self, **settings: Any) -> None:
        """Change Central Café's settings (as an operator would)."""
        async with self.app.sessionmaker() as session, session.begin():
            store = await session.scalar(select(models.Store).where(models.Store.code == "central"))
            assert store is not None
            store.settings = dict(store.settings or {}) | settings

    def codec(self) -> CallbackCodec:
        """The bot's button signer, for validly signed but made-up presses."""
        return CallbackCodec(self.app.settings.callback_key())


@pytest.fixture
async def shop(seeded_url: str, runtime: str) -> AsyncIterator[Shop]:
    """The bot on `runtime` against an unthrottled fake, the clock at NOW."""
    fake = FakeBotApi(token=TOKEN, limits=None)
    await fake.start()
    for user_id, name, language in (
        (MIA, "Mia", "en"),
        (LEO, "Leo", "en"),
        (ANN, "Ann", "en"),
        (WEI, "Wei", "zh-hans"),
    ):
        fake.add_user(user_id, name, language_code=language)
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
    clock = RunningClock(NOW)
    app = BotApp(settings, clock=clock, send_limits=UNTHROTTLED)
    await app.start()
    polling = asyncio.create_task(app.run_polling())
    try:
        # Polling starts with deleteWebhook: let it pass so it is not taken for a reply.
        await fake.wait_for_calls("deleteWebhook", 1)
        yield Shop(
            app,
            fake,
            clock,
            *(Shopper(fake, user_id) for user_id in (MIA, LEO, ANN, WEI)),
        )
    finally:
        app.request_stop()
        await polling
        await app.close()
        await fake.stop()


async def _to_summary(
    who: Shopper,
    what: str,
    day: str,
    at: str,
    party: int | None = None,
    phone: str = "+8613800138000",
) -> None:
    await who.send("/start scentral")
    await who.press("Book")
    await who.press(what)
    if party is not None:
        await who.press(str(party))
    await who.press(day)
    await who.press(at)
    await who.send(phone)
    await who.press("Skip")


async def book_table(who: Shopper, party: int, day: str = "Today", at: str = "19:00") -> None:
    """Book a table at Central Café through the whole flow."""
    await _to_summary(who, "A table", day, at, party)
    await who.press("Confirm booking")


async def test_a_party_of_four_gets_a_four_seat_table_and_the_next_party_another(
    shop: Shop,
) -> None:
    await _to_summary(shop.mia, "A table", "Today", "19:00", 4)
    summary = shop.mia.last_text
    assert "Table for 4" in summary
    assert "Mon 2026-05-04 19:00–20:30" in summary
    assert "Cancelling here closed at Mon 2026-05-04 17:00" in summary
    assert await shop.reservations() == [], "nothing is written before Confirm"

    await shop.mia.press("Confirm booking")
    await book_table(shop.leo, 4)

    [(mine, my_table), (his, his_table)] = await shop.reservations()
    assert (mine.kind, mine.party_size, mine.status, my_table) == ("table", 4, "requested", "1")
    assert (his.party_size, his_table) == (4, "2")
    assert mine.starts_at == his.starts_at == datetime(2026, 5, 4, 11, 0, tzinfo=UTC)
    assert mine.contact_phone == "+8613800138000"
    assert "Booking requested." in shop.mia.last_text
    assert await shop.events(mine.id) == [(None, "requested")]

    await shop.mia.send("/orders")
    assert "📅 19:00 · table for 4 · requested" in shop.mia.buttons()
    await shop.mia.press("📅")
    detail = shop.mia.last_text
    assert "Booking at Central Café" in detail
    assert "Table 1" in detail
    assert "Status: requested" in detail
    assert "Cancel booking" not in shop.mia.buttons(), "17:30 is past the 17:00 cutoff"
    assert "Cancelling here was possible until Mon 2026-05-04 17:00" in detail


async def test_when_every_fitting_table_is_taken_the_time_is_not_offered(shop: Shop) -> None:
    await book_table(shop.mia, 8)
    await book_table(shop.leo, 8)
    labels = [label for _, label in await shop.reservations()]
    assert labels == ["13", "14"]

    ann = shop.ann
    await ann.send("/start scentral")
    await ann.send("/book")
    await ann.press("A table")
    await ann.press("8")
    assert "Which day?" in ann.last_text
    assert "Today" not in ann.buttons(), "both 8-seat tables overlap every start left today"
    assert "Tomorrow" in ann.buttons()

    await ann.press("Cancel")
    await ann.send("/book")
    await ann.press("A table")
    await ann.press("4")
    await ann.press("Today")
    assert {"18:00", "18:30", "19:00", "19:30"} <= set(ann.buttons())


async def test_a_time_taken_meanwhile_is_refused_at_confirm_with_fresh_choices(
    shop: Shop,
) -> None:
    await _to_summary(shop.mia, "A table", "Today", "19:00", 8)
    await book_table(shop.leo, 8)
    await book_table(shop.ann, 8)

    answer = await shop.mia.press("Confirm booking")

    assert shop.mia.toast(answer) == "That time was just booked; please pick another."
    assert "Which day?" in shop.mia.last_text
    assert "Today" not in shop.mia.buttons()
    assert len(await shop.reservations()) == 2


async def test_confirm_pressed_twice_books_once(shop: Shop) -> None:
    await _to_summary(shop.mia, "A table", "Tomorrow", "12:00", 2)
    confirm = shop.mia.find_button("Confirm booking")

    await shop.mia.press_data(*confirm)
    again = await shop.mia.press_data(*confirm)

    assert len(await shop.reservations()) == 1
    assert shop.mia.toast(again) == "This booking was already sent. Send /orders to see its status."


async def test_a_service_appointment_respects_the_parallel_capacity(shop: Shop) -> None:
    await _to_summary(shop.mia, "Latte art class", "Today", "19:00")
    assert "Latte art class" in shop.mia.last_text
    assert "19:00–20:00" in shop.mia.last_text
    await shop.mia.press("Confirm booking")

    leo = shop.leo
    await leo.send("/start scentral")
    await leo.send("/book")
    await leo.press("Latte art class")
    await leo.press("Today")
    assert "19:00" not in leo.buttons(), "one class at a time by default"
    assert "18:30" not in leo.buttons(), "18:30-19:30 would overlap"
    assert "18:00" in leo.buttons()

    await shop.set_central(service_capacity=2)
    await leo.press("Another day")
    await leo.press("Today")
    await leo.press("19:00")
    await leo.send("+8613900139000")
    await leo.press("Skip")
    await leo.press("Confirm booking")

    await shop.ann.send("/start scentral")
    await shop.ann.send("/book")
    await shop.ann.press("Latte art class")
    await shop.ann.press("Today")
    assert "19:00" not in shop.ann.buttons()

    bookings = await shop.reservations()
    assert [(row.kind, row.resource, row.duration_minutes) for row, _ in bookings] == [
        ("service", "Latte art class", 60),
        ("service", "Latte art class", 60),
    ]


async def test_cancelling_works_until_the_cutoff_and_is_refused_after(shop: Shop) -> None:
    mia = shop.mia
    await book_table(mia, 2, "Tomorrow", "19:00")
    await mia.send("/orders")
    assert "📅 Tue 19:00 · table for 2 · requested" in mia.buttons()
    await mia.press("📅")
    assert "Free cancellation until Tue 2026-05-05 17:00" in mia.last_text
    await mia.press("Cancel booking")

    [(first, _)] = await shop.reservations()
    assert first.status == "cancelled"
    assert await shop.events(first.id) == [(None, "requested"), ("requested", "cancelled")]
    assert "Status: cancelled" in mia.last_text

    await book_table(mia, 2, "Tomorrow", "19:00")
    await mia.send("/orders")
    await mia.press("requested")
    cancel = mia.find_button("Cancel booking")
    shop.clock.shift(timedelta(hours=23, minutes=31))  # Tue 17:01, a minute past the cutoff

    answer = await mia.press_data(*cancel)

    assert mia.toast(answer) == (
        "Too late to cancel here: this booking could be cancelled until Tue 2026-05-05 17:00. "
        "Please contact the store."
    )
    [_, (second, _)] = await shop.reservations()
    assert second.status == "requested"
    assert "Cancel booking" not in mia.buttons()


async def test_the_reminder_arrives_once_in_the_customers_language(shop: Shop) -> None:
    wei = shop.wei
    await wei.send("/start scentral")
    await wei.press("预约")
    await wei.press("订座")
    await wei.press("3")
    await wei.press("明天")
    await wei.press("19:00")
    await wei.send("+8613800138000")
    await wei.press("跳过")
    await wei.press("确认预约")
    [(booking, _)] = await shop.reservations()
    assert booking.starts_at == TOMORROW_19

    def reminders() -> list[str]:
        return [text for text in wei.texts() if text.startswith("⏰")]

    await shop.app.jobs.stop()  # this test drives the due-work loop itself
    runner = JobRunner(shop.app.sessionmaker, shop.clock, shop.app.sender.wake, shop.app.translator)
    shop.clock.shift(TOMORROW_19 - timedelta(minutes=61) - shop.clock.now())
    assert (await runner.run_once())["reservation_reminders"] == 0, "not yet due"

    shop.clock.shift(timedelta(minutes=16))
    assert (await runner.run_once())["reservation_reminders"] == 1

    async def arrived() -> bool:
        return len(reminders()) == 1

    await eventually(arrived)
    assert reminders() == [
        "⏰ 提醒：周二 2026-05-05 19:00–20:30，Central Café，3 人桌。发送 /orders 查看您的预约。"
    ]

    assert (await runner.run_once())["reservation_reminders"] == 0
    await shop.fake.wait_idle(quiet=0.2, timeout=5)
    assert len(reminders()) == 1


async def test_bad_input_at_every_booking_step_is_explained_and_the_step_kept(
    shop: Shop,
) -> None:
    mia = shop.mia
    codec = shop.codec()
    await mia.send("/start scentral")
    await mia.press("Book")
    await mia.send("a table please")
    assert mia.last_text == "Please use the buttons above."
    made_up = await mia.press_data(mia.find_button("A table")[0], codec.encode("bk_k", 99999))
    assert mia.toast(made_up) == "This button is out of date."

    await mia.press("A table")
    await mia.send("abc")
    assert mia.last_text == "Please type the number of people as a number, e.g. 4."
    await mia.send("0")
    assert mia.last_text == "A booking is for at least 1 person."
    await mia.send("500")
    assert mia.last_text == "Our largest table seats 8. For a bigger group, please call the store."
    await mia.send("4")
    assert "Which day?" in mia.last_text

    await mia.send("today")
    assert mia.last_text == "Please use the buttons above."
    await mia.press("Today")
    early = mia.find_button("18:00")
    forged = await mia.press_data(early[0], early[1][:-3] + "xyz")
    assert mia.toast(forged) == "This button is out of date."
    shop.clock.shift(timedelta(hours=1))  # 18:30: 18:00 has passed

    past = await mia.press_data(*early)

    assert mia.toast(past) == "That time has passed; please pick another."
    assert "18:00" not in mia.buttons()
    assert "19:00" in mia.buttons()
    await mia.press("19:00")
    await mia.send("call me maybe")
    assert "does not look like a phone number" in mia.last_text
    await mia.send("+86 138 0013 8000")
    await mia.send("x" * 5000)
    assert "That note is 5000 characters" in mia.last_text
    await mia.send("a high chair, please")
    assert "Note: a high chair, please" in mia.last_text
    assert await shop.reservations() == []

    await mia.press("Confirm booking")

    [(booking, label)] = await shop.reservations()
    assert (booking.party_size, booking.comment, label) == (4, "a high chair, please", "1")


async def test_a_store_without_bookings_says_so(shop: Shop) -> None:
    await shop.set_central(reservations=False)
    await shop.mia.send("/start scentral")
    assert "Book" not in " ".join(shop.mia.buttons())

    await shop.mia.send("/book")

    assert shop.mia.last_text == "Central Café does not take bookings here."
    async with shop.app.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(models.Reservation)) == 0


async def test_an_old_time_button_from_another_store_is_refused(shop: Shop) -> None:
    mia = shop.mia
    await mia.send("/start scentral")
    await mia.send("/book")
    await mia.press("A table")
    await mia.press("2")
    await mia.press("Today")
    old = mia.find_button("19:00")
    await mia.send("/start sriverside")

    answer = await mia.press_data(*old)

    assert mia.toast(answer) == "This button is out of date."
    assert await shop.reservations() == []


async def test_an_inactive_table_is_never_booked(shop: Shop) -> None:
    async with shop.app.sessionmaker() as session, session.begin():
        await session.execute(
            update(models.StoreTable)
            .where(models.StoreTable.label.in_(["1", "2"]))
            .values(active=False)
        )
    await book_table(shop.mia, 4)

    [(_, label)] = await shop.reservations()
    assert label == "3"
