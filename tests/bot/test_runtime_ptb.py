"""The python-telegram-bot transport against the fake Bot API, side by side with aiogram's.

Every failure must reach the sender as the same transport error on both runtimes, so most tests
run once per runtime; the PTB-only ones cover what PTB does differently underneath.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
import telegram.error
from telegram.warnings import PTBUserWarning

from bot.app import Runtime
from bot.fakeapi.server import FakeBotApi, FaultKind
from bot.runtime_aiogram import AiogramRuntime, AiogramTransport, make_bot
from bot.runtime_ptb import (
    PtbRuntime,
    PtbTransport,
    build_application,
    silence_ptb_notices,
    translate_error,
)
from bot.transport import (
    BadRequest,
    BotApiTransport,
    Forbidden,
    RetryAfter,
    TransientError,
    Unauthorized,
)

TOKEN = "123456:TEST-token-for-the-transports"
ALICE = 3001
STAFF_GROUP = -100_3001
RUNTIMES: dict[str, Callable[[str, str], Runtime]] = {
    "aiogram": lambda token, url: AiogramRuntime(token, url, polling_timeout=1),
    "ptb": lambda token, url: PtbRuntime(token, url, polling_timeout=1),
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    """A started fake Bot API without rate limits, with one customer and a staff group."""
    server = FakeBotApi(token=TOKEN, limits=None)
    await server.start()
    server.add_user(ALICE, "Alice", language_code="en")
    server.add_group(STAFF_GROUP, "Staff", admins=[ALICE], members=[ALICE])
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture(params=list(RUNTIMES))
async def runtime(request: pytest.FixtureRequest, fake: FakeBotApi) -> AsyncIterator[Runtime]:
    """A runtime of each kind talking to the fake; closed afterwards."""
    made = RUNTIMES[request.param](TOKEN, fake.base_url)
    try:
        yield made
    finally:
        await made.close()


@pytest.fixture
def transport(runtime: Runtime) -> BotApiTransport:
    """The runtime's Bot API transport."""
    return runtime.transport


def _hello(chat_id: int = ALICE) -> dict[str, object]:
    return {"chat_id": chat_id, "text": "hello"}


async def test_a_sent_message_comes_back_as_plain_json(
    fake: FakeBotApi, transport: BotApiTransport
) -> None:
    markup = {"inline_keyboard": [[{"text": "OK", "callback_data": "1|ok|"}]]}

    sent = await transport.call(
        "sendMessage",
        {"chat_id": ALICE, "text": "<b>hi</b>", "parse_mode": "HTML", "reply_markup": markup},
    )

    assert isinstance(sent, dict)
    assert sent["message_id"] == fake.messages(ALICE)[0]["message_id"]
    assert sent["reply_markup"] == markup
    assert sent["chat"]["id"] == ALICE


async def test_structured_parameters_and_any_method_go_through_by_name(
    fake: FakeBotApi, transport: BotApiTransport
) -> None:
    commands = [{"command": "help", "description": "帮助"}]

    done = await transport.call(
        "setMyCommands",
        {"commands": commands, "scope": {"type": "all_group_chats"}, "language_code": "zh"},
    )
    member = await transport.call("getChatMember", {"chat_id": STAFF_GROUP, "user_id": ALICE})

    assert done is True
    assert fake.commands("all_group_chats", "zh") == commands
    assert member["status"] == "administrator"
    assert member["user"]["id"] == ALICE


async def test_429_becomes_retry_after_with_its_seconds(
    fake: FakeBotApi, transport: BotApiTransport
) -> None:
    fake.add_fault(kind="429", method="sendMessage", retry_after=3)

    with pytest.raises(RetryAfter) as caught:
        await transport.call("sendMessage", _hello())

    assert caught.value.retry_after == 3


async def test_a_user_who_blocked_the_bot_is_forbidden(
    fake: FakeBotApi, transport: BotApiTransport
) -> None:
    fake.block_bot(ALICE)

    with pytest.raises(Forbidden):
        await transport.call("sendMessage", _hello())


async def test_a_refused_call_is_a_bad_request(transport: BotApiTransport) -> None:
    with pytest.raises(BadRequest) as caught:
        await transport.call(
            "sendMessage", {"chat_id": ALICE, "text": "<b>unclosed", "parse_mode": "HTML"}
        )

    assert "can't parse entities" in str(caught.value).lower()
    assert not isinstance(caught.value, TransientError)


async def test_an_unchanged_edit_reads_as_not_modified(transport: BotApiTransport) -> None:
    sent = await transport.call("sendMessage", _hello())
    edit = {"chat_id": ALICE, "message_id": sent["message_id"], "text": "hello"}

    with pytest.raises(BadRequest) as caught:
        await transport.call("editMessageText", edit)

    assert "message is not modified" in str(caught.value).lower(), "what the sender looks for"


async def test_an_unknown_method_is_a_bad_request(transport: BotApiTransport) -> None:
    await transport.call("getMe", {})

    with pytest.raises(BadRequest):
        await transport.call("frobnicateChat", {"chat_id": ALICE})


@pytest.mark.parametrize("kind", ["500", "drop_response"])
async def test_a_server_error_or_lost_answer_is_transient(
    fake: FakeBotApi, transport: BotApiTransport, kind: FaultKind
) -> None:
    fake.add_fault(kind=kind, method="sendMessage")

    with pytest.raises(TransientError) as caught:
        await transport.call("sendMessage", _hello())

    assert not isinstance(caught.value, Unauthorized)
    assert (await transport.call("sendMessage", _hello()))["chat"]["id"] == ALICE


async def test_a_wrong_token_is_unauthorized_and_not_echoed(fake: FakeBotApi) -> None:
    wrong = "999999:WRONG-token-the-fake-does-not-know"
    for name, make in RUNTIMES.items():
        runtime = make(wrong, fake.base_url)
        try:
            with pytest.raises(Unauthorized) as caught:
                await runtime.transport.call("getMe", {})
        finally:
            await runtime.close()
        assert wrong not in str(caught.value), name


async def test_a_token_revoked_while_running_is_unauthorized(
    fake: FakeBotApi, transport: BotApiTransport
) -> None:
    await transport.call("getMe", {})
    fake.token = "123456:a-new-token-from-botfather"

    with pytest.raises(Unauthorized):
        await transport.call("sendMessage", _hello())


async def test_long_polling_returns_the_raw_updates(fake: FakeBotApi, runtime: Runtime) -> None:
    fake.send_text(ALICE, "/start")

    updates = await runtime.fetch_updates(None, 0, ["message"])
    again = await runtime.fetch_updates(updates[-1]["update_id"] + 1, 0, ["message"])

    assert updates == fake.calls("getUpdates")[0].result
    assert updates[0]["message"]["text"] == "/start"
    assert again == []


async def test_a_failing_long_poll_is_transient(fake: FakeBotApi, runtime: Runtime) -> None:
    fake.add_fault(kind="500", method="getUpdates")

    with pytest.raises(TransientError):
        await runtime.fetch_updates(None, 0, ["message"])


async def test_a_slow_answer_times_out_as_transient(fake: FakeBotApi) -> None:
    fake.add_fault(kind="slow", method="sendMessage", delay=1.0, times=2)
    transports: list[BotApiTransport] = [
        AiogramTransport(make_bot(TOKEN, fake.base_url, timeout=0.3)),
        PtbTransport(build_application(TOKEN, fake.base_url, timeout=0.3)),
    ]
    for transport in transports:
        try:
            with pytest.raises(TransientError):
                await transport.call("sendMessage", _hello())
        finally:
            await transport.close()


async def test_ptb_calls_raise_no_warnings(fake: FakeBotApi) -> None:
    fake.add_fault(kind="429", method="sendMessage", retry_after=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runtime = PtbRuntime(TOKEN, fake.base_url, polling_timeout=1)
        try:
            with pytest.raises(RetryAfter):  # PTB 22 deprecates reading retry_after as int
                await runtime.transport.call("sendMessage", _hello())
            await runtime.transport.call("sendMessage", _hello())  # PTB has a typed shortcut
            await runtime.fetch_updates(None, 0, ["message"])
        finally:
            await runtime.close()

    assert [w for w in caught if issubclass(w.category, PTBUserWarning)] == []


@pytest.mark.parametrize(("retry_after", "seconds"), [(2, 2.0), (timedelta(seconds=1.5), 1.5)])
def test_retry_after_is_read_in_seconds_whatever_its_form(
    retry_after: int | timedelta, seconds: float
) -> None:
    silence_ptb_notices()  # as PtbTransport does: PTB announces the timedelta form on every 429

    mapped = translate_error(telegram.error.RetryAfter(retry_after))

    assert isinstance(mapped, RetryAfter)
    assert mapped.retry_after == seconds


async def test_a_file_is_uploaded_as_multipart_by_either_runtime(
    fake: FakeBotApi, transport: BotApiTransport
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4

    sent = await transport.call(
        "sendPhoto",
        {"chat_id": ALICE, "caption": "<b>Orders</b>", "parse_mode": "HTML"},
        {"photo": ("stats.png", png)},
    )

    assert sent["photo"][0]["file_size"] == len(png)
    [call] = fake.calls("sendPhoto")
    uploaded = call.params["photo"]  # the multipart part, however the runtime named it
    assert uploaded["filename"] == "stats.png"
    assert fake.uploads[uploaded["sha256"]] == png
    assert sent["caption"] == "Orders"
