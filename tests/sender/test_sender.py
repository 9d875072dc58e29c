"""The outbox sender against the fake Bot API over real HTTP and a real migrated database."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Customer, OutboxFile, OutboxMessage
from bot.db.uow import SqlUnitOfWork
from bot.fakeapi.server import FakeBotApi, FakeLimits
from bot.runtime_aiogram import AiogramTransport, make_bot
from bot.sender import UNRESOLVED_REF, OutboxSender, SendLimits
from bot.transport import BotApiTransport
from domain.clock import SystemClock
from handlers.outbound import FileUpload, send_file

Sessionmaker = async_sessionmaker[AsyncSession]

# Limits high enough that only the fake's faults matter (the fake enforces none by default here).
UNLIMITED = SendLimits(
    global_per_second=10_000,
    per_chat_per_second=10_000.0,
    per_chat_burst=10_000,
    group_per_minute=10_000,
)
ALICE, BOB, CAROL = 1, 2, 3
STAFF_GROUP = -100


class ScaledTime:
    """Limiter time running `scale` times faster than real time, shared by fake and sender."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.origin = time.monotonic()

    def __call__(self) -> float:
        return (time.monotonic() - self.origin) * self.scale

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.scale)


@asynccontextmanager
async def fake_api(
    limits: FakeLimits | None = None, clock: Callable[[], float] = time.monotonic
) -> AsyncIterator[tuple[FakeBotApi, AiogramTransport]]:
    fake = FakeBotApi(limits=limits, clock=clock)
    await fake.start()
    transport = AiogramTransport(make_bot(fake.token, fake.base_url, timeout=10))
    try:
        yield fake, transport
    finally:
        await transport.close()
        await fake.stop()


def make_sender(
    sessionmaker: Sessionmaker, transport: BotApiTransport, **options: Any
) -> OutboxSender:
    options.setdefault("limits", UNLIMITED)
    options.setdefault("backoff_base", 0.01)
    options.setdefault("backoff_max", 0.05)
    return OutboxSender(sessionmaker, transport, clock=SystemClock(), **options)


def text(chat_id: int, body: str, **columns: Any) -> dict[str, Any]:
    return {
        "chat_id": chat_id,
        "method": "sendMessage",
        "params": {"chat_id": chat_id, "text": body},
        **columns,
    }


def edit(chat_id: int, ref: str, body: str) -> dict[str, Any]:
    return {
        "chat_id": chat_id,
        "method": "editMessageText",
        "params": {"chat_id": chat_id, "message_id": {"ref": ref}, "text": body},
    }


async def enqueue(sessionmaker: Sessionmaker, *rows: dict[str, Any]) -> list[int]:
    now = datetime.now(UTC)
    ids = []
    async with sessionmaker() as session, session.begin():
        for row in rows:  # one flush per row keeps ids in the order given
            values = {"status": "pending", "attempts": 0, "next_attempt_at": now} | row
            message = OutboxMessage(created_at=now, **values)
            session.add(message)
            await session.flush()
            ids.append(message.id)
    return ids


async def outbox(sessionmaker: Sessionmaker, ids: list[int]) -> list[OutboxMessage]:
    async with sessionmaker() as session:
        found = await session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)))
        by_id = {row.id: row for row in found}
    return [by_id[i] for i in ids]


def texts(fake: FakeBotApi, chat_id: int) -> list[str]:
    return [message["text"] for message in fake.messages(chat_id)]


def sent_texts(fake: FakeBotApi, chat_id: int) -> list[str]:
    """Texts of sendMessage calls to a chat in arrival order, failed ones included."""
    return [c.params["text"] for c in fake.calls("sendMessage") if c.chat_id == chat_id]


async def test_rows_of_one_chat_arrive_in_id_order_even_when_one_is_retried(
    sessionmaker: Sessionmaker, fake: FakeBotApi, transport: AiogramTransport
) -> None:
    sender = make_sender(sessionmaker, transport, concurrency=8)
    await enqueue(sessionmaker, text(ALICE, "m0"), text(ALICE, "m1"), text(BOB, "b0"))
    await sender.drain()
    fake.add_fault(method="sendMessage", kind="500", times=1, chat_id=ALICE)
    rows = []
    for i in range(2, 10):
        rows += [text(ALICE, f"m{i}"), text(BOB, f"b{i - 1}"), text(CAROL, f"c{i - 2}")]
    await enqueue(sessionmaker, *rows)

    await sender.drain()

    assert texts(fake, ALICE) == [f"m{i}" for i in range(10)]
    # One at a time: the failed m2 is tried again before m3 is even started.
    assert sent_texts(fake, ALICE) == ["m0", "m1", "m2", "m2", *(f"m{i}" for i in range(3, 10))]
    assert texts(fake, BOB) == [f"b{i}" for i in range(9)]
    assert texts(fake, CAROL) == [f"c{i}" for i in range(8)]
    assert sender.stats["retried_transient"] == 1
    assert sender.stats["sent"] == 27


async def test_a_429_is_retried_after_the_servers_delay_and_only_holds_back_its_chat(
    sessionmaker: Sessionmaker, fake: FakeBotApi, transport: AiogramTransport
) -> None:
    sender = make_sender(sessionmaker, transport)
    fake.add_fault(method="sendMessage", kind="429", retry_after=1, chat_id=ALICE)
    first, second, _ = await enqueue(
        sessionmaker, text(ALICE, "first"), text(ALICE, "second"), text(BOB, "hello")
    )
    query_id = fake.press_button(BOB, 1, "x")
    answer = {
        "chat_id": None,
        "method": "answerCallbackQuery",
        "params": {"callback_query_id": query_id},
    }
    await enqueue(sessionmaker, answer)

    await sender.drain(timeout=5)

    calls = [c for c in fake.calls("sendMessage") if c.chat_id == ALICE]
    assert [(c.params["text"], c.status) for c in calls] == [
        ("first", 429),
        ("first", 200),
        ("second", 200),
    ]
    assert calls[1].time - calls[0].time >= 0.95
    assert texts(fake, ALICE) == ["first", "second"]
    # Bob's message and the callback answer did not wait for Alice's chat.
    others = [c for c in fake.calls() if c.chat_id == BOB or c.method == "answerCallbackQuery"]
    assert len(others) == 2
    assert all(c.ok and c.time < calls[1].time for c in others)
    assert fake.callback_answers(query_id)
    rows = await outbox(sessionmaker, [first, second])
    assert [(r.status, r.attempts) for r in rows] == [("sent", 2), ("sent", 1)]
    assert sender.stats["retried_429"] == 1


async def test_a_server_error_is_retried_and_then_succeeds(
    sessionmaker: Sessionmaker, fake: FakeBotApi, transport: AiogramTransport
) -> None:
    sender = make_sender(sessionmaker, transport)
    fake.add_fault(method="sendMessage", kind="500", times=1)
    [row_id] = await enqueue(sessionmaker, text(ALICE, "hi"))

    await sender.drain()

    [row] = await outbox(sessionmaker, [row_id])
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)
    assert row.message_id == fake.messages(ALICE)[0]["message_id"]
    assert row.sent_at is not None
    assert sender.stats["retried_transient"] == 1


async def test_a_row_is_dead_after_max_attempts_and_its_chat_moves_on(
    sessionmaker: Sessionmaker,
    fake: FakeBotApi,
    transport: AiogramTransport,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sender = make_sender(sessionmaker, transport, max_attempts=2)
    fake.add_fault(method="sendMessage", kind="500", times=2, chat_id=ALICE)
    doomed, later = await enqueue(sessionmaker, text(ALICE, "doomed"), text(ALICE, "later"))

    with caplog.at_level(logging.INFO, logger="bot.sender"):
        await sender.drain()

    dead, sent = await outbox(sessionmaker, [doomed, later])
    assert (dead.status, dead.attempts) == ("dead", 2)
    assert dead.last_error
    assert sent.status == "sent"
    assert sent_texts(fake, ALICE) == ["doomed", "doomed", "later"]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [getattr(r, "outbox_id", None) for r in errors] == [doomed]
    assert sender.stats["dead"] == 1


async def test_429s_delay_a_row_but_never_count_towards_giving_it_up(
    sessionmaker: Sessionmaker, fake: FakeBotApi, transport: AiogramTransport
) -> None:
    # Telegram says when to come back: a row that meets 429s and then one server error is still
    # delivered with max_attempts=2, where counting the 429s would have given it up.
    sender = make_sender(sessionmaker, transport, max_attempts=2)
    fake.add_fault(method="sendMessage", kind="429", retry_after=1, times=2, chat_id=ALICE)
    fake.add_fault(method="sendMessage", kind="500", times=1, chat_id=ALICE)
    [row_id] = await enqueue(sessionmaker, text(ALICE, "order accepted"))

    await sender.drain(timeout=10)

    [row] = await outbox(sessionmaker, [row_id])
    assert (row.status, row.attempts, row.failures) == ("sent", 4, 1)
    assert [c.status for c in fake.calls("sendMessage")] == [429, 429, 500, 200]
    assert sender.stats["dead"] == 0


async def test_a_blocked_user_is_marked_unreachable_and_their_later_rows_are_skipped(
    sessionmaker: Sessionmaker, fake: FakeBotApi, transport: AiogramTransport
) -> None:
    now = datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        session.add(Customer(telegram_id=ALICE, first_name="Alice", created_at=now, updated_at=now))
    fake.block_bot(ALICE)
    sender = make_sender(sessionmaker, transport)
    ids = await enqueue(
        sessionmaker,
        text(ALICE, "a1"),
        text(BOB, "b1"),
        text(ALICE, "a2"),
        text(ALICE, "a3"),
        text(BOB, "b2"),
    )

    await sender.drain()

    a1, _, a2, a3, _ = await outbox(sessionmaker, ids)
    assert a1.status == "failed"
    assert "blocked" in (a1.last_error or "")
    assert (a2.status, a3.status) == ("skipped", "skipped")
    assert a2.params["text"] == "a2"  # kept, just not sent
    assert sent_texts(fake, ALICE) == ["a1"]
    assert texts(fake, BOB) == ["b1", "b2"]
    async with sessionmaker() as session:
        customer = await session.scalar(select(Customer).where(Customer.telegram_id == ALICE))
    assert customer is not None
    assert customer.reachable is False
    assert customer.unreachable_since is not None
    assert sender.stats["skipped_unreachable"] == 2


async def test_an_edit_by_ref_targets_the_message_sent_earlier(
    sessionmaker: Sessionmaker, fake: FakeBotApi, transport: AiogramTransport
) -> None:
    sender = make_sender(sessionmaker, transport)
    ids = await enqueue(
        sessionmaker,
        text(BOB, "other chat", ref="order:1:card"),
        text(ALICE, "noise"),
        text(ALICE, "Order 1: placed", ref="order:1:card"),
        edit(ALICE, "order:1:card", "Order 1: accepted"),
    )

    await sender.drain()

    _, _, card, edited = await outbox(sessionmaker, ids)
    assert texts(fake, ALICE) == ["noise", "Order 1: accepted"]
    [call] = fake.calls("editMessageText")
    assert int(call.params["message_id"]) == card.message_id
    assert edited.status == "sent"
    assert edited.message_id == card.message_id


async def test_an_edit_whose_ref_was_never_sent_fails_without_a_call(
    sessionmaker: Sessionmaker, fake: FakeBotApi, transport: AiogramTransport
) -> None:
    sender = make_sender(sessionmaker, transport)
    [row_id] = await enqueue(sessionmaker, edit(ALICE, "order:9:card", "accepted"))

    await sender.drain()

    [row] = await outbox(sessionmaker, [row_id])
    assert (row.status, row.last_error) == ("failed", UNRESOLVED_REF)
    assert fake.calls() == []


async def test_message_is_not_modified_counts_as_sent(
    sessionmaker: Sessionmaker, fake: FakeBotApi, transport: AiogramTransport
) -> None:
    sender = make_sender(sessionmaker, transport)
    ids = await enqueue(sessionmaker, text(ALICE, "same", ref="card"), edit(ALICE, "card", "same"))

    await sender.drain()

    card, edited = await outbox(sessionmaker, ids)
    [call] = fake.calls("editMessageText")
    assert call.status == 400
    assert "not modified" in (call.error or "")
    assert edited.status == "sent"
    assert edited.message_id == card.message_id
    assert sender.stats["failed"] == 0


async def test_a_bad_request_fails_the_row_and_logs_no_message_text(
    sessionmaker: Sessionmaker,
    fake: FakeBotApi,
    transport: AiogramTransport,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sender = make_sender(sessionmaker, transport)
    secret = "call me at +1 555 0100"
    ids = await enqueue(sessionmaker, text(999, secret), text(ALICE, "fine"))

    with caplog.at_level(logging.DEBUG, logger="bot.sender"):
        await sender.drain()

    bad, fine = await outbox(sessionmaker, ids)
    assert bad.status == "failed"
    assert "chat not found" in (bad.last_error or "")
    assert fine.status == "sent"
    assert any(r.levelno == logging.WARNING for r in caplog.records)
    assert all(secret not in str(vars(r)) for r in caplog.records)


async def test_an_unexpected_error_is_retried_like_a_transient_one(
    sessionmaker: Sessionmaker, fake: FakeBotApi, transport: AiogramTransport
) -> None:
    class Flaky:
        def __init__(self) -> None:
            self.failures = 1

        async def call(self, method: str, params: dict[str, Any], files: Any = None) -> Any:
            if self.failures:
                self.failures -= 1
                raise RuntimeError("bug in a transport")
            return await transport.call(method, params)

        async def close(self) -> None:
            await transport.close()

    sender = make_sender(sessionmaker, Flaky())
    [row_id] = await enqueue(sessionmaker, text(ALICE, "hi"))

    await sender.drain()

    [row] = await outbox(sessionmaker, [row_id])
    assert (row.status, row.attempts) == ("sent", 2)
    assert texts(fake, ALICE) == ["hi"]


async def test_the_sender_keeps_within_telegrams_limits_so_the_server_never_answers_429(
    sessionmaker: Sessionmaker,
) -> None:
    # Real Telegram limits (1/s per chat, burst 3, 20/min per group, 30/s overall) enforced
    # by the fake, with limiter time running 60x faster so the group's minute takes 1 s.
    clock = ScaledTime(60.0)
    async with fake_api(FakeLimits(), clock) as (fake, transport):
        fake.add_user(ALICE, "Alice")
        fake.add_group(STAFF_GROUP, "Staff")
        sender = make_sender(
            sessionmaker,
            transport,
            limits=SendLimits(),
            monotonic=clock,
            sleep=clock.sleep,
            time_scale=clock.scale,
        )
        group_rows = [text(STAFF_GROUP, f"g{i}") for i in range(25)]
        private_rows = [text(ALICE, f"a{i}") for i in range(8)]
        await enqueue(sessionmaker, *private_rows, *group_rows)

        await sender.drain(timeout=8)

        assert fake.counters["rate_limited"] == 0
        assert all(c.ok for c in fake.calls())
        assert texts(fake, ALICE) == [f"a{i}" for i in range(8)]
        assert texts(fake, STAFF_GROUP) == [f"g{i}" for i in range(25)]
        group_calls = [c for c in fake.calls() if c.chat_id == STAFF_GROUP]
        # The 21st group message had to wait for the group's minute to pass.
        assert group_calls[20].time - group_calls[0].time >= 60.0
        private_calls = [c for c in fake.calls() if c.chat_id == ALICE]
        assert private_calls[3].time - private_calls[0].time >= 1.0  # burst of 3, then 1/s


async def test_messages_to_many_chats_go_out_together_within_the_global_limit(
    sessionmaker: Sessionmaker,
) -> None:
    clock = ScaledTime(2.0)
    async with fake_api(FakeLimits(), clock) as (fake, transport):
        users = list(range(1, 41))
        for user_id in users:
            fake.add_user(user_id, f"User {user_id}")
        sender = make_sender(
            sessionmaker,
            transport,
            limits=SendLimits(),
            monotonic=clock,
            sleep=clock.sleep,
            time_scale=clock.scale,
        )
        await enqueue(sessionmaker, *(text(user_id, "news") for user_id in users))

        await sender.drain(timeout=8)

        calls = fake.calls("sendMessage")
        assert len(calls) == 40
        assert all(c.ok for c in calls)
        assert fake.counters["rate_limited"] == 0
        assert all(texts(fake, user_id) == ["news"] for user_id in users)
        # 30 chats served within one second (one after another at 1/s would take 29 s),
        # and not one call more than the global 30 per second.
        assert calls[29].time - calls[0].time < 1.0
        assert calls[30].time - calls[0].time >= 1.0


async def test_wake_starts_delivery_at_once_without_waiting_for_the_poll(
    sessionmaker: Sessionmaker, fake: FakeBotApi, transport: AiogramTransport
) -> None:
    sender = make_sender(sessionmaker, transport, poll_interval=30.0)
    runner = asyncio.create_task(sender.run())
    try:
        await asyncio.sleep(0.2)  # the first look found nothing; next poll in 30 s
        await enqueue(sessionmaker, text(ALICE, "order accepted"))
        sender.wake()
        await fake.wait_for_messages(ALICE, 1, timeout=3)
    finally:
        await sender.stop()
    await asyncio.wait_for(runner, 1)


async def test_rows_left_pending_by_an_earlier_process_are_delivered_on_start(
    sessionmaker: Sessionmaker, fake: FakeBotApi, transport: AiogramTransport
) -> None:
    earlier = datetime.now(UTC) - timedelta(minutes=5)
    ids = await enqueue(
        sessionmaker,
        text(ALICE, "retried before the crash", attempts=3, next_attempt_at=earlier),
        text(ALICE, "never tried"),
        text(BOB, "hello"),
    )
    sender = make_sender(sessionmaker, transport, poll_interval=30.0)
    runner = asyncio.create_task(sender.run())
    try:
        await fake.wait_for_messages(ALICE, 2, timeout=3)
        await fake.wait_for_messages(BOB, 1, timeout=3)
    finally:
        await sender.stop()
    await asyncio.wait_for(runner, 1)
    assert texts(fake, ALICE) == ["retried before the crash", "never tried"]
    assert [r.status for r in await outbox(sessionmaker, ids)] == ["sent"] * 3


async def test_stop_lets_a_call_in_flight_finish_and_a_new_sender_resumes(
    sessionmaker: Sessionmaker, fake: FakeBotApi, transport: AiogramTransport
) -> None:
    fake.add_fault(method="sendMessage", kind="slow", delay=0.3)
    ids = await enqueue(sessionmaker, text(ALICE, "slow one"), text(ALICE, "next"))

    class Watched:
        def __init__(self) -> None:
            self.started = asyncio.Event()

        async def call(self, method: str, params: dict[str, Any], files: Any = None) -> Any:
            self.started.set()
            return await transport.call(method, params)

        async def close(self) -> None:
            await transport.close()

    watched = Watched()
    first = make_sender(sessionmaker, watched)
    runner = asyncio.create_task(first.run())
    await asyncio.wait_for(watched.started.wait(), 3)

    await first.stop()
    await asyncio.wait_for(runner, 1)

    slow, following = await outbox(sessionmaker, ids)
    assert slow.status == "sent"
    assert following.status == "pending"
    second = make_sender(sessionmaker, transport)
    await second.drain()
    assert texts(fake, ALICE) == ["slow one", "next"]


async def test_a_file_goes_out_from_the_outbox_as_an_upload_and_its_bytes_are_then_dropped(
    sessionmaker: Sessionmaker, fake: FakeBotApi, transport: AiogramTransport
) -> None:
    data = b"order_id,total_minor\n1,2800\n"
    async with sessionmaker() as session, session.begin():
        SqlUnitOfWork(session).enqueue(
            [send_file("sendDocument", ALICE, "document", FileUpload("orders.csv", data), "CSV")],
            datetime.now(UTC),
        )

    await make_sender(sessionmaker, transport).drain()

    [call] = fake.calls("sendDocument")
    assert fake.uploads[call.params["document"]["sha256"]] == data
    assert call.params["document"]["filename"] == "orders.csv"
    async with sessionmaker() as session:
        assert list(await session.scalars(select(OutboxFile))) == []
        [row] = list(await session.scalars(select(OutboxMessage)))
    assert row.status == "sent"
    assert set(row.params["document"]) == {"attach"}, "the outbox keeps a token, not the bytes"
