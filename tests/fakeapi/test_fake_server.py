"""The fake Telegram Bot API, exercised over real HTTP (raw aiohttp, aiogram 3 and PTB 22)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.fakeapi.server import FakeBotApi, FakeLimits, format_transcript

ALICE = 1001
BOB = 1002
STAFF = -100500


class FakeClock:
    """A manually advanced clock for deterministic rate-limit tests."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _started(api: FakeBotApi) -> FakeBotApi:
    await api.start()
    api.add_user(ALICE, "Alice", username="alice")
    api.add_user(BOB, "Bob", language_code="zh")
    api.add_group(STAFF, "Staff", admins=[ALICE], members=[BOB])
    return api


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    api = await _started(FakeBotApi(limits=None))
    yield api
    await api.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession, fake: FakeBotApi, method: str, **params: Any
) -> tuple[int, dict[str, Any]]:
    """POST a Bot API method as JSON; return (HTTP status, decoded body)."""
    async with http.post(f"{fake.base_url}/bot{fake.token}/{method}", json=params) as resp:
        return resp.status, await resp.json()


def keyboard(*rows: list[tuple[str, str]]) -> dict[str, Any]:
    return {"inline_keyboard": [[{"text": t, "callback_data": d} for t, d in row] for row in rows]}


# --------------------------------------------------------------------------- protocol basics


async def test_get_me_answers_the_bot_user_and_method_names_are_case_insensitive(
    fake: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    status, body = await call(http, fake, "GETME")
    assert status == 200
    assert body["result"]["username"] == "o2o_demo_bot"
    assert body["result"]["is_bot"] is True
    assert [c.method for c in fake.calls()] == ["getMe"]


async def test_unknown_token_is_unauthorized_and_unknown_method_is_not_found(
    fake: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{fake.base_url}/bot999:WRONG/getMe") as resp:
        assert resp.status == 401
        assert await resp.json() == {
            "ok": False,
            "error_code": 401,
            "description": "Unauthorized",
        }
    status, body = await call(http, fake, "setSomethingExotic")
    assert status == 404
    assert body["description"] == "Not Found"


async def test_urlencoded_form_and_query_string_parameters_are_understood(
    fake: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    url = f"{fake.base_url}/bot{fake.token}/sendMessage?chat_id={ALICE}"
    form = {"text": "[1, 2] is not JSON here", "reply_markup": json.dumps(keyboard([("A", "a")]))}
    async with http.post(url, data=form) as resp:
        assert resp.status == 200
    (message,) = fake.messages(ALICE)
    assert message["text"] == "[1, 2] is not JSON here"
    assert message["reply_markup"] == keyboard([("A", "a")])
    assert fake.calls("sendMessage")[0].params["chat_id"] == str(ALICE)
    assert fake.calls("sendMessage")[0].chat_id == ALICE


async def test_send_message_validation_errors_are_bad_requests(
    fake: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    cases = [
        ({"chat_id": ALICE, "text": ""}, "Bad Request: message text is empty"),
        ({"chat_id": ALICE, "text": "x" * 4097}, "Bad Request: message is too long"),
        ({"chat_id": 42, "text": "hi"}, "Bad Request: chat not found"),
        (
            {"chat_id": ALICE, "text": "hi", "reply_markup": keyboard([("A", "x" * 65)])},
            "Bad Request: BUTTON_DATA_INVALID",
        ),
    ]
    for params, description in cases:
        status, body = await call(http, fake, "sendMessage", **params)
        assert (status, body["description"]) == (400, description)
    html_text = "<b>" + "y" * 4096 + "</b>"
    status, _ = await call(
        http, fake, "sendMessage", chat_id=ALICE, text=html_text, parse_mode="HTML"
    )
    assert status == 200
    assert fake.messages(ALICE)[0]["text"] == "y" * 4096


async def test_malformed_html_is_refused_like_telegram_does(
    fake: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    status, body = await call(
        http, fake, "sendMessage", chat_id=ALICE, text="a <div>b</div>", parse_mode="HTML"
    )
    assert status == 400
    assert "Unsupported start tag" in body["description"]
    status, _ = await call(
        http, fake, "sendMessage", chat_id=ALICE, text="1 &lt; 2", parse_mode="HTML"
    )
    assert status == 200
    assert fake.messages(ALICE)[0]["text"] == "1 < 2"


# --------------------------------------------------------------------------- getUpdates


async def test_long_poll_returns_as_soon_as_an_update_is_injected_and_offset_confirms(
    fake: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    poll = asyncio.create_task(call(http, fake, "getUpdates", timeout=5))
    await asyncio.sleep(0.05)
    update_id = fake.send_text(ALICE, "/start payload")
    status, body = await asyncio.wait_for(poll, 2)
    assert status == 200
    assert loop.time() - started < 1.0
    (update,) = body["result"]
    assert update["update_id"] == update_id
    message = update["message"]
    assert message["chat"] == {
        "id": ALICE,
        "type": "private",
        "first_name": "Alice",
        "username": "alice",
    }
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]

    _, again = await call(http, fake, "getUpdates")
    assert [u["update_id"] for u in again["result"]] == [update_id]
    _, confirmed = await call(http, fake, "getUpdates", offset=update_id + 1)
    assert confirmed["result"] == []
    assert fake.counters["updates_delivered"] == 1


async def test_get_updates_honours_limit_and_times_out_empty(
    fake: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    ids = [fake.send_text(ALICE, f"m{i}") for i in range(3)]
    _, body = await call(http, fake, "getUpdates", limit=2)
    assert [u["update_id"] for u in body["result"]] == ids[:2]
    _, body = await call(http, fake, "getUpdates", offset=ids[-1] + 1, timeout=0.1)
    assert body["result"] == []


async def test_group_command_with_bot_mention_gets_a_full_command_entity(
    fake: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    fake.send_text(BOB, "/orders@o2o_demo_bot today", chat_id=STAFF)
    _, body = await call(http, fake, "getUpdates")
    message = body["result"][0]["message"]
    assert message["chat"]["type"] == "supergroup"
    assert message["from"]["id"] == BOB
    assert message["entities"][0]["length"] == len("/orders@o2o_demo_bot")


async def test_a_second_poller_terminates_the_first_with_a_conflict(
    fake: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    first = asyncio.create_task(call(http, fake, "getUpdates", timeout=5))
    await asyncio.sleep(0.05)
    status, body = await call(http, fake, "getUpdates", timeout=0)
    assert (status, body["result"]) == (200, [])
    status, body = await asyncio.wait_for(first, 2)
    assert status == 409
    assert body["description"].startswith("Conflict: terminated by other getUpdates request")


# --------------------------------------------------------------------------- webhook


async def test_webhook_posts_updates_with_secret_and_retries_after_a_receiver_error(
    fake: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []
    statuses = [500, 200, 200]
    done = asyncio.Event()

    async def receiver(request: web.Request) -> web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        status = statuses.pop(0)
        if len(received) == 3:
            done.set()
        return web.json_response({}, status=status)

    app = web.Application()
    app.router.add_post("/hook", receiver)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        first = fake.send_text(ALICE, "queued before the webhook")
        status, _ = await call(
            http, fake, "setWebhook", url=f"http://127.0.0.1:{port}/hook", secret_token="s3cret"
        )
        assert status == 200
        status, body = await call(http, fake, "getUpdates")
        assert status == 409
        assert body["description"].startswith("Conflict: can't use getUpdates method")
        second = fake.send_text(ALICE, "after")
        await asyncio.wait_for(done.wait(), 3)
    finally:
        await runner.cleanup()
    assert [secret for secret, _ in received] == ["s3cret"] * 3
    assert [u["update_id"] for _, u in received] == [first, first, second]
    assert fake.counters["webhook_failures"] == 1
    assert fake.counters["webhook_posts"] == 3
    _, info = await call(http, fake, "getWebhookInfo")
    assert info["result"]["pending_update_count"] == 0
    assert "500" in info["result"]["last_error_message"]
    await call(http, fake, "deleteWebhook")
    _, body = await call(http, fake, "getUpdates")
    assert body["result"] == []


async def test_webhook_response_may_carry_a_method_call(fake: FakeBotApi) -> None:
    async def receiver(request: web.Request) -> web.Response:
        update = await request.json()
        chat_id = update["message"]["chat"]["id"]
        return web.json_response({"method": "sendMessage", "chat_id": chat_id, "text": "pong"})

    app = web.Application()
    app.router.add_post("/hook", receiver)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
            await call(http, fake, "setWebhook", url=url)
        fake.send_text(ALICE, "ping")
        (message,) = await fake.wait_for_messages(ALICE, 1, timeout=2)
    finally:
        await runner.cleanup()
    assert message["text"] == "pong"


# --------------------------------------------------------------------------- flood control


async def test_per_chat_burst_is_rate_limited_with_retry_after(
    http: aiohttp.ClientSession,
) -> None:
    clock = FakeClock()
    limits = FakeLimits(per_chat_per_second=0.5, per_chat_burst=3)
    api = await _started(FakeBotApi(limits=limits, clock=clock))
    try:
        for i in range(3):
            status, _ = await call(http, api, "sendMessage", chat_id=ALICE, text=f"m{i}")
            assert status == 200
        status, body = await call(http, api, "sendMessage", chat_id=ALICE, text="too fast")
        assert status == 429
        assert body == {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 2",
            "parameters": {"retry_after": 2},
        }
        assert len(api.messages(ALICE)) == 3
        assert api.counters["rate_limited"] == 1
        status, _ = await call(http, api, "sendMessage", chat_id=BOB, text="other chat")
        assert status == 200
        status, _ = await call(http, api, "answerCallbackQuery", callback_query_id="nope")
        assert status == 400  # not rate limited, merely unknown
        clock.now += 2.0
        status, _ = await call(http, api, "sendMessage", chat_id=ALICE, text="later")
        assert status == 200
    finally:
        await api.stop()


async def test_group_chats_allow_twenty_messages_per_minute(http: aiohttp.ClientSession) -> None:
    clock = FakeClock()
    limits = FakeLimits(per_chat_per_second=100, per_chat_burst=100, group_per_minute=20)
    api = await _started(FakeBotApi(limits=limits, clock=clock))
    try:
        for i in range(20):
            status, _ = await call(http, api, "sendMessage", chat_id=STAFF, text=f"#{i}")
            assert status == 200
            clock.now += 1.0
        status, body = await call(http, api, "sendMessage", chat_id=STAFF, text="21st")
        assert status == 429
        assert body["parameters"]["retry_after"] == 40
        clock.now += 40.0
        status, _ = await call(http, api, "sendMessage", chat_id=STAFF, text="next minute")
        assert status == 200
    finally:
        await api.stop()


async def test_global_limit_spans_all_chats(http: aiohttp.ClientSession) -> None:
    clock = FakeClock()
    limits = FakeLimits(per_chat_burst=10, global_per_second=4)
    api = await _started(FakeBotApi(limits=limits, clock=clock))
    try:
        for chat in (ALICE, BOB, ALICE, BOB):
            assert (await call(http, api, "sendMessage", chat_id=chat, text="x"))[0] == 200
        status, body = await call(http, api, "sendMessage", chat_id=STAFF, text="x")
        assert (status, body["parameters"]["retry_after"]) == (429, 1)
    finally:
        await api.stop()


# --------------------------------------------------------------------------- blocking, faults


async def test_blocked_user_answers_forbidden_until_unblocked(
    fake: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    fake.block_bot(ALICE)
    status, body = await call(http, fake, "sendMessage", chat_id=ALICE, text="hello?")
    assert status == 403
    assert body["description"] == "Forbidden: bot was blocked by the user"
    assert fake.messages(ALICE) == []
    fake.unblock_bot(ALICE)
    assert (await call(http, fake, "sendMessage", chat_id=ALICE, text="hello"))[0] == 200


async def test_injected_429_and_500_faults_have_no_effect_and_run_out(
    fake: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    fake.add_fault(method="sendmessage", kind="429", retry_after=7)
    fake.add_fault(method="sendMessage", kind="500", chat_id=BOB)
    status, body = await call(http, fake, "sendMessage", chat_id=ALICE, text="a")
    assert (status, body["parameters"]["retry_after"]) == (429, 7)
    status, _ = await call(http, fake, "sendMessage", chat_id=ALICE, text="b")
    assert status == 200
    status, body = await call(http, fake, "sendMessage", chat_id=BOB, text="c")
    assert (status, body["description"]) == (500, "Internal Server Error")
    assert (await call(http, fake, "sendMessage", chat_id=BOB, text="d"))[0] == 200
    assert [m["text"] for m in fake.messages(ALICE)] == ["b"]
    assert [m["text"] for m in fake.messages(BOB)] == ["d"]
    assert fake.counters["faults_injected"] == 2
    assert [c.status for c in fake.calls("sendMessage")] == [429, 200, 500, 200]


async def test_duplicate_update_fault_delivers_the_same_update_twice(
    fake: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    fake.add_fault(kind="duplicate_update")
    first = fake.send_text(ALICE, "once")
    second = fake.send_text(ALICE, "twice?")
    _, body = await call(http, fake, "getUpdates")
    assert [u["update_id"] for u in body["result"]] == [first, first, second]


async def test_slow_and_dropped_responses(fake: FakeBotApi, http: aiohttp.ClientSession) -> None:
    fake.add_fault(method="sendMessage", kind="slow", delay=0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert (await call(http, fake, "sendMessage", chat_id=ALICE, text="slow"))[0] == 200
    assert loop.time() - started >= 0.2
    fake.add_fault(method="sendMessage", kind="drop_response")
    with pytest.raises(aiohttp.ClientError):
        await call(http, fake, "sendMessage", chat_id=ALICE, text="lost")
    assert [m["text"] for m in fake.messages(ALICE)] == ["slow"]
    assert fake.calls("sendMessage")[-1].error == "response dropped"


# --------------------------------------------------------------------------- messages state


async def test_edit_and_delete_are_reflected_in_messages(
    fake: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    _, sent = await call(
        http, fake, "sendMessage", chat_id=ALICE, text="v1", reply_markup=keyboard([("A", "a")])
    )
    message_id = sent["result"]["message_id"]
    _, other = await call(http, fake, "sendMessage", chat_id=ALICE, text="other")
    status, edited = await call(
        http,
        fake,
        "editMessageText",
        chat_id=ALICE,
        message_id=message_id,
        text="v2",
        reply_markup=keyboard([("B", "b")]),
    )
    assert status == 200
    assert edited["result"]["text"] == "v2"
    status, _ = await call(
        http, fake, "deleteMessage", chat_id=ALICE, message_id=other["result"]["message_id"]
    )
    assert status == 200
    (current,) = fake.messages(ALICE)
    assert (current["text"], current["kind"]) == ("v2", "text")
    assert current["reply_markup"] == keyboard([("B", "b")])
    status, _ = await call(
        http, fake, "editMessageReplyMarkup", chat_id=ALICE, message_id=message_id
    )
    assert status == 200
    assert "reply_markup" not in fake.messages(ALICE)[0]


async def test_edit_with_identical_text_and_markup_is_refused_as_not_modified(
    fake: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    markup = keyboard([("A", "a")])
    _, sent = await call(http, fake, "sendMessage", chat_id=ALICE, text="same", reply_markup=markup)
    message_id = sent["result"]["message_id"]
    status, body = await call(
        http,
        fake,
        "editMessageText",
        chat_id=ALICE,
        message_id=message_id,
        text="same",
        reply_markup=markup,
    )
    assert status == 400
    assert body["description"].startswith("Bad Request: message is not modified")
    status, body = await call(
        http, fake, "editMessageText", chat_id=ALICE, message_id=999, text="x"
    )
    assert (status, body["description"]) == (400, "Bad Request: message to edit not found")
    status, body = await call(http, fake, "deleteMessage", chat_id=ALICE, message_id=999)
    assert (status, body["description"]) == (400, "Bad Request: message to delete not found")


async def test_callback_answers_are_recorded_and_a_second_answer_is_refused(
    fake: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    _, sent = await call(
        http, fake, "sendMessage", chat_id=ALICE, text="pick", reply_markup=keyboard([("A", "a")])
    )
    query_id = fake.press_button(ALICE, sent["result"]["message_id"], "a")
    _, updates = await call(http, fake, "getUpdates")
    query = updates["result"][0]["callback_query"]
    assert query["message"]["text"] == "pick"
    assert query["message"]["reply_markup"] == keyboard([("A", "a")])
    status, _ = await call(
        http, fake, "answerCallbackQuery", callback_query_id=query_id, text="Done", show_alert=True
    )
    assert status == 200
    assert fake.callback_answers(query_id) == [
        {"text": "Done", "show_alert": True, "url": None, "cache_time": 0}
    ]
    status, body = await call(http, fake, "answerCallbackQuery", callback_query_id=query_id)
    assert status == 400
    assert "query is too old" in body["description"]


async def test_pressing_a_missing_message_yields_an_inaccessible_message(
    fake: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    fake.press_button(ALICE, 777, "forged:data")
    _, updates = await call(http, fake, "getUpdates")
    message = updates["result"][0]["callback_query"]["message"]
    assert message == {
        "message_id": 777,
        "chat": {"id": ALICE, "type": "private", "first_name": "Alice", "username": "alice"},
        "date": 0,
    }


async def test_invoice_pre_checkout_and_successful_payment(
    fake: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    status, sent = await call(
        http,
        fake,
        "sendInvoice",
        chat_id=ALICE,
        title="Order 7",
        description="2 coffees",
        payload='{"order": 7}',
        currency="USD",
        provider_token="",
        prices=[{"label": "Coffee", "amount": 300}, {"label": "Tip", "amount": 50}],
    )
    assert status == 200
    assert sent["result"]["invoice"]["total_amount"] == 350
    query_id = fake.send_pre_checkout(ALICE, '{"order": 7}', 350, "USD")
    status, _ = await call(
        http, fake, "answerPreCheckoutQuery", pre_checkout_query_id=query_id, ok=True
    )
    assert status == 200
    assert fake.pre_checkout_answers(query_id) == [{"ok": True, "error_message": None}]
    fake.send_successful_payment(ALICE, '{"order": 7}', 350, "USD", "tg-charge-1")
    _, updates = await call(http, fake, "getUpdates")
    payment = updates["result"][-1]["message"]["successful_payment"]
    assert payment["telegram_payment_charge_id"] == "tg-charge-1"
    assert fake.messages(ALICE)[0]["kind"] == "invoice"


async def test_chat_member_statuses_reflect_group_roles(
    fake: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    async def status_of(user_id: int) -> str:
        _, body = await call(http, fake, "getChatMember", chat_id=STAFF, user_id=user_id)
        return str(body["result"]["status"])

    fake.add_user(1003, "Carol")
    assert await status_of(ALICE) == "administrator"
    assert await status_of(BOB) == "member"
    assert await status_of(1003) == "left"
    assert await status_of(fake.bot_user["id"]) == "administrator"
    _, chat = await call(http, fake, "getChat", chat_id=STAFF)
    assert chat["result"]["title"] == "Staff"


async def test_commands_are_stored_per_scope_and_language(
    fake: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    await call(
        http,
        fake,
        "setMyCommands",
        commands=[{"command": "start", "description": "Start"}],
        scope={"type": "all_private_chats"},
        language_code="en",
    )
    await call(http, fake, "setMyCommands", commands=[{"command": "orders", "description": "Q"}])
    assert fake.commands("all_private_chats", "en") == [
        {"command": "start", "description": "Start"}
    ]
    assert fake.commands() == [{"command": "orders", "description": "Q"}]
    _, body = await call(http, fake, "getMyCommands", scope={"type": "all_private_chats"})
    assert body["result"] == []  # language "" was never set for that scope
    status, body = await call(
        http, fake, "setMyCommands", commands=[{"command": "Bad Name", "description": "x"}]
    )
    assert (status, body["description"]) == (400, "Bad Request: BOT_COMMAND_INVALID")


# --------------------------------------------------------------------------- transcript, waiting


async def test_transcript_formats_a_conversation_deterministically(
    fake: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    fake.send_text(ALICE, "/start")
    _, sent = await call(
        http,
        fake,
        "sendMessage",
        chat_id=ALICE,
        text="Welcome!\nPick a language",
        reply_markup=keyboard([("English", "lang:en"), ("中文", "lang:zh")]),
    )
    message_id = sent["result"]["message_id"]
    query_id = fake.press_button(ALICE, message_id, "lang:zh")
    await call(http, fake, "answerCallbackQuery", callback_query_id=query_id, text="OK")
    await call(
        http,
        fake,
        "editMessageText",
        chat_id=ALICE,
        message_id=message_id,
        text="<b>Saved</b>",
        parse_mode="HTML",
    )
    contact_kb = {"keyboard": [[{"text": "Share phone", "request_contact": True}]]}
    await call(http, fake, "sendMessage", chat_id=ALICE, text="Phone?", reply_markup=contact_kb)
    fake.send_contact(ALICE, "+15550001")
    await call(http, fake, "deleteMessage", chat_id=ALICE, message_id=message_id)
    fake.send_text(BOB, "hi team", chat_id=STAFF)

    expected = "\n".join(
        [
            "[Alice → bot] /start",
            "[bot → Alice] Welcome!",
            "    Pick a language",
            "    [ English ] [ 中文 ]",
            "[Alice → bot] presses [ 中文 ]",
            "[bot → Alice] (toast) OK",
            "[bot ✎ Alice] Saved",
            "[bot → Alice] Phone?",
            "    ⌨ [ Share phone (contact) ]",
            "[Alice → bot] shares contact +15550001",
            "[bot ✗ Alice] deleted: Saved",
            "[Bob @ Staff → bot] hi team",
        ]
    )
    assert format_transcript(fake.transcript()) == expected
    renamed = format_transcript(fake.transcript(), names={ALICE: "Customer"})
    assert renamed.splitlines()[0] == "[Customer → bot] /start"


async def test_wait_for_messages_wakes_on_send_and_explains_a_timeout(
    fake: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    waiter = asyncio.create_task(fake.wait_for_messages(ALICE, 2, timeout=2))
    await call(http, fake, "sendMessage", chat_id=ALICE, text="one")
    await call(http, fake, "sendMessage", chat_id=ALICE, text="two")
    assert [m["text"] for m in await waiter] == ["one", "two"]
    with pytest.raises(TimeoutError, match=r"(?s)expected 3 bot message\(s\).*\[bot → Alice\] two"):
        await fake.wait_for_messages(ALICE, 3, timeout=0.05)
    calls = await fake.wait_for_calls("sendmessage", 2, chat_id=ALICE, timeout=0.5)
    assert [c.status for c in calls] == [200, 200]
    await fake.wait_idle(quiet=0.05, timeout=1)


async def test_control_endpoints_drive_the_fake_over_http(
    fake: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    async def control(action: str, **kwargs: Any) -> Any:
        async with http.post(f"{fake.base_url}/_control/{action}", json=kwargs) as resp:
            body = await resp.json()
            assert resp.status == 200, body
            return body["result"]

    await control("add_user", user_id=2001, first_name="Dora")
    update_id = await control("send_text", user_id=2001, text="hello")
    await call(http, fake, "sendMessage", chat_id=2001, text="hi Dora")
    assert [m["text"] for m in await control("messages", chat_id=2001)] == ["hi Dora"]
    assert (await control("calls", method="sendMessage"))[0]["status"] == 200
    text = await control("format_transcript", names={"2001": "D"})
    assert text == "[D → bot] hello\n[bot → D] hi Dora"
    assert update_id == fake.pending_updates()[0]["update_id"]
    await control("reset")
    assert fake.messages(2001) == []
    assert fake.calls() == []


# --------------------------------------------------------------------------- real clients


async def test_aiogram_bot_sends_inline_keyboards_photos_and_polls_updates(
    fake: FakeBotApi,
) -> None:
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.exceptions import TelegramRetryAfter
    from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup

    session = AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))
    bot = Bot(fake.token, session=session)
    try:
        me = await bot.get_me()
        assert me.username == "o2o_demo_bot"
        markup = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="English", callback_data="lang:en")]]
        )
        sent = await bot.send_message(ALICE, "Choose", reply_markup=markup)
        assert sent.reply_markup is not None
        assert sent.reply_markup.model_dump() == markup.model_dump()
        assert fake.messages(ALICE)[0]["reply_markup"] == keyboard([("English", "lang:en")])

        image = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
        photo = await bot.send_photo(
            ALICE, BufferedInputFile(image, filename="menu.png"), caption="Menu"
        )
        assert photo.photo is not None
        assert photo.caption == "Menu"
        upload = fake.calls("sendPhoto")[0].params["photo"]
        assert (upload["filename"], upload["size"]) == ("menu.png", len(image))
        assert fake.messages(ALICE)[1]["kind"] == "photo"

        fake.send_text(ALICE, "/start")
        fake.press_button(ALICE, sent.message_id, "lang:en")
        updates = await bot.get_updates(timeout=1)
        assert updates[0].message is not None
        assert updates[0].message.text == "/start"
        query = updates[1].callback_query
        assert query is not None
        assert query.data == "lang:en"
        assert await bot.answer_callback_query(query.id, text="ok")

        member = await bot.get_chat_member(STAFF, fake.bot_user["id"])
        assert member.status == "administrator"
        assert (await bot.get_chat(ALICE)).first_name == "Alice"

        fake.add_fault(method="sendMessage", kind="429", retry_after=3)
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.send_message(ALICE, "flood")
        assert caught.value.retry_after == 3
    finally:
        await bot.session.close()


async def test_python_telegram_bot_sends_inline_keyboards_documents_and_polls_updates(
    fake: FakeBotApi,
) -> None:
    import telegram

    bot = telegram.Bot(fake.token, base_url=f"{fake.base_url}/bot")
    async with bot:
        markup = telegram.InlineKeyboardMarkup(
            [[telegram.InlineKeyboardButton("中文", callback_data="lang:zh")]]
        )
        sent = await bot.send_message(BOB, "选择语言", reply_markup=markup)
        assert sent.reply_markup == markup
        assert fake.messages(BOB)[0]["reply_markup"] == keyboard([("中文", "lang:zh")])

        document = await bot.send_document(
            BOB, document=b"id,total\n1,350\n", filename="orders.csv", caption="Export"
        )
        assert document.document is not None
        assert document.document.file_name == "orders.csv"
        assert fake.calls("sendDocument")[0].params["document"]["size"] == 15

        update_id = fake.send_text(BOB, "/start")
        updates = await bot.get_updates(timeout=1)
        assert [u.update_id for u in updates] == [update_id]
        assert updates[0].message is not None
        assert updates[0].message.text == "/start"
        confirmed = await bot.get_updates(offset=update_id + 1, timeout=0)
        assert confirmed == ()

        fake.block_bot(BOB)
        with pytest.raises(telegram.error.Forbidden):
            await bot.send_message(BOB, "are you there?")
