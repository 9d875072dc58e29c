"""The sandbox's HTTP side over real HTTP: the page, its JSON API, the event stream, bad input."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.cli import main
from bot.demo import GROUP_ID
from bot.sandbox.stack import MAX_TEXT_LENGTH, SandboxInputError, database_url_from, split_message
from tests.sandbox.conftest import Running, StartSandbox

ALICE, WANG, ANN, EVE = 1001, 1002, 2001, 2003


async def post(
    session: aiohttp.ClientSession, running: Running, path: str, body: Any, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    async with session.post(running.url + path, json=body, **kwargs) as response:
        return response.status, await response.json()


async def until(check: Any, timeout: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
    return value


def user_texts(running: Running, chat_id: int) -> list[str]:
    fake = running.sandbox.fake
    assert fake is not None
    return [
        str(event["text"])
        for event in fake.transcript()
        if event["dir"] == "in" and event["chat_id"] == chat_id and event["kind"] == "text"
    ]


def test_long_text_is_split_like_a_telegram_client_and_blank_text_is_nothing() -> None:
    words = "word " * 1000  # 5,000 characters
    parts = split_message(words)
    assert [len(part) <= MAX_TEXT_LENGTH for part in parts] == [True, True]
    assert " ".join(parts).split() == words.split()
    assert split_message("x" * 5000) == ["x" * 4096, "x" * 904]
    assert split_message("  \n\t ") == []
    assert split_message("  hi  ") == ["hi"]


def test_db_accepts_urls_and_file_paths(tmp_path: Path) -> None:
    assert database_url_from("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert database_url_from(str(tmp_path / "s.db")) == f"sqlite+aiosqlite:///{tmp_path}/s.db"
    assert database_url_from("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    with pytest.raises(SandboxInputError):
        database_url_from("mysql://u@h/db")


def test_the_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["sandbox", "--help"])
    assert exit_.value.code == 0
    shown = capsys.readouterr().out
    for option in ("--port", "--host", "--runtime", "--db"):
        assert option in shown


def test_a_bad_db_or_port_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "--db", "mysql://u@h/db"]) == 2
    assert main(["sandbox", "--port", "0"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2
    assert errors[0].startswith("o2o: error: --db")


async def test_the_page_and_its_assets_are_served_from_the_package(
    start_sandbox: StartSandbox,
) -> None:
    async with start_sandbox() as running, aiohttp.ClientSession() as session:
        async with session.get(running.url + "/") as response:
            page = await response.text()
            assert response.status == 200
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert '<script src="/static/app.js"' in page
        assert "http" not in page.replace("http-equiv", "")  # nothing from elsewhere
        for name, kind in (("app.js", "javascript"), ("app.css", "css")):
            async with session.get(f"{running.url}/static/{name}") as response:
                assert response.status == 200
                assert kind in response.content_type
                assert "//cdn" not in await response.text()
        async with session.get(running.url + "/static/../server.py") as response:
            assert response.status == 404
        async with session.get(running.url + "/api/config") as response:
            config = await response.json()
        assert [c["name"] for c in config["customers"]] == ["Alice", "Wang Fang", "Bob"]
        assert [s["name"] for s in config["staff"]] == ["Ann", "Olly", "Eve"]
        assert config["manager"]["id"] == ANN
        assert config["group"]["id"] == GROUP_ID
        async with session.get(running.url + "/api/file/" + "0" * 64) as response:
            assert response.status == 404
            assert (await response.json())["ok"] is False
        assert running.server.server_errors == 0


async def test_typing_pressing_and_bad_input_behave_as_in_telegram(
    start_sandbox: StartSandbox,
) -> None:
    async with start_sandbox() as running, aiohttp.ClientSession() as session:
        fake = running.sandbox.fake
        assert fake is not None
        start = {"chat_id": ALICE, "user_id": ALICE, "text": "/start scentral"}
        assert await post(session, running, "/api/send", start) == (200, {"ok": True, "parts": 1})
        messages = await until(lambda: fake.messages(ALICE))
        menu = next(
            (message["message_id"], button["callback_data"])
            for message in messages
            for row in message.get("reply_markup", {}).get("inline_keyboard", [])
            for button in row
            if "Menu" in button["text"]
        )

        # Empty and blank messages cannot be sent; 5,000 characters go as two messages.
        for text in ("", "   \n "):
            status, body = await post(
                session, running, "/api/send", {"chat_id": ALICE, "user_id": ALICE, "text": text}
            )
            assert (status, body["ok"]) == (400, False)
            assert "empty" in body["error"]
        long_text = "a" * 5000
        status, body = await post(
            session, running, "/api/send", {"chat_id": ALICE, "user_id": ALICE, "text": long_text}
        )
        assert (status, body["parts"]) == (200, 2)
        assert user_texts(running, ALICE)[-2:] == ["a" * 4096, "a" * 904]
        status, body = await post(
            session, running, "/api/send", {"chat_id": ALICE, "user_id": ALICE, "text": "a" * 30000}
        )
        assert status == 400
        assert "too long" in body["error"]

        # A press gets the bot's answer; a forged or stale one gets the bot's toast.
        message_id, data = menu
        press = {"chat_id": ALICE, "user_id": ALICE, "message_id": message_id, "data": data}
        status, body = await post(session, running, "/api/press", press)
        assert status == 200
        forged = press | {"data": "1|x|y|0000"}
        status, body = await post(session, running, "/api/press", forged)
        assert body["answer"] == {"text": "This button is out of date.", "show_alert": False}

        # Speaking for someone else, in a chat the page does not show, or malformed requests.
        refused = [
            ({"chat_id": ALICE, "user_id": WANG, "text": "hi"}, 400),
            ({"chat_id": GROUP_ID, "user_id": ALICE, "text": "hi"}, 400),
            ({"chat_id": 42, "user_id": 42, "text": "hi"}, 400),
            ({"chat_id": "1001", "user_id": ALICE, "text": "hi"}, 400),
            ({"chat_id": ALICE, "user_id": ALICE, "text": 5}, 400),
            ([1, 2], 400),
        ]
        for request, expected in refused:
            status, body = await post(session, running, "/api/send", request)
            assert (status, body["ok"]) == (expected, False), request
        async with session.post(running.url + "/api/send", data="{not json") as response:
            assert response.status == 415  # not application/json
        headers = {"Content-Type": "application/json"}
        async with session.post(running.url + "/api/send", data="{no", headers=headers) as r:
            assert r.status == 400
        evil = {"Origin": "https://evil.example"}
        status, body = await post(session, running, "/api/send", start, headers=evil)
        assert status == 403
        for path, request in (
            ("/api/press", press | {"data": "x" * 65}),
            ("/api/press", press | {"message_id": -1}),
            ("/api/location", {"chat_id": ALICE, "user_id": ALICE, "place": 99}),
            ("/api/contact", {"chat_id": GROUP_ID, "user_id": ANN}),
            ("/api/advance", {"minutes": 0}),
            ("/api/advance", {"minutes": 10**6}),
        ):
            status, body = await post(session, running, path, request)
            assert (status, body["ok"]) == (400, False), (path, request)
        async with session.get(running.url + "/api/nothing") as response:
            assert response.status == 404
            assert (await response.json())["ok"] is False

        # Sharing a contact and a place; the staff group speaks as Eve, who is not staff.
        share = {"chat_id": WANG, "user_id": WANG}
        assert (await post(session, running, "/api/contact", share))[0] == 200
        status, body = await post(session, running, "/api/location", share | {"place": 0})
        assert (status, body["place"]) == (200, "People's Square, near Central Café")
        eve = {"chat_id": GROUP_ID, "user_id": EVE, "text": "/stock"}
        assert (await post(session, running, "/api/send", eve))[0] == 200
        assert running.server.server_errors == 0


async def test_the_event_stream_shows_chats_live_and_the_clock_and_reset_work(
    start_sandbox: StartSandbox,
) -> None:
    async with start_sandbox() as running, aiohttp.ClientSession() as session:
        views: dict[int, Any] = {}
        statuses: list[dict[str, Any]] = []

        async def listen() -> None:
            async with session.get(running.url + "/api/events") as response:
                assert response.headers["Content-Type"] == "text/event-stream"
                kind = ""
                async for raw in response.content:
                    line = raw.decode().rstrip("\n")
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: "):
                        data = json.loads(line[6:])
                        if kind == "chat":
                            views[data["chat_id"]] = data
                        else:
                            statuses.append(data)

        listener = asyncio.create_task(listen())
        try:
            await until(lambda: GROUP_ID in views and statuses)
            assert "Olly is now staff" in json.dumps(views[GROUP_ID], ensure_ascii=False)
            hello = {"chat_id": ANN, "user_id": ANN, "text": "/start"}
            await post(session, running, "/api/send", hello)

            def ann_answered() -> bool:
                items = views.get(ANN, {}).get("items", [])
                return [item["t"] for item in items][:2] == ["user", "bot"]

            await until(ann_answered)
            first = views[ANN]["items"]
            assert first[0] == {
                "t": "user",
                "key": first[0]["key"],
                "from_id": ANN,
                "from": "Ann",
                "text": "/start",
            }
            assert "html" in first[1]  # the bot's HTML, for the page to render
            assert statuses[-1]["outbox"]["sent"] >= 1

            before = statuses[-1]["clock"]
            status, body = await post(session, running, "/api/advance", {"minutes": 90})
            assert status == 200
            assert body["clock"] != before
            await until(lambda: statuses[-1]["clock"] == body["clock"])

            status, body = await post(session, running, "/api/reset", {})
            assert (status, body["generation"]) == (200, 1)
            await until(lambda: statuses[-1]["generation"] == 1 and not views[ANN]["items"])
            assert "10:3" in statuses[-1]["clock"]  # back at the start
            await until(lambda: "Olly is now staff" in json.dumps(views[GROUP_ID]))
        finally:
            listener.cancel()
            with pytest.raises(asyncio.CancelledError):
                await listener
        assert running.server.server_errors == 0


async def test_export_is_a_downloadable_document_and_ptb_works_too(
    start_sandbox: StartSandbox,
) -> None:
    async with start_sandbox(runtime="ptb") as running, aiohttp.ClientSession() as session:
        ask = {"chat_id": ANN, "user_id": ANN, "text": "/export today"}
        assert (await post(session, running, "/api/send", ask))[0] == 200

        def document() -> dict[str, Any] | None:
            running.sandbox.views.refresh()
            items = running.sandbox.views.snapshot(ANN)["items"]
            return next((item for item in items if item.get("kind") == "document"), None)

        item = await until(document, timeout=20)
        assert item["document"]["name"].endswith(".csv")
        async with session.get(running.url + item["document"]["url"] + "?download=1") as response:
            assert response.status == 200
            assert "attachment" in response.headers["Content-Disposition"]
            assert item["document"]["name"] in response.headers["Content-Disposition"]
            assert (await response.read()).startswith(b"order_id,")
        assert running.server.server_errors == 0


async def test_a_kept_database_carries_on_where_it_stopped(
    start_sandbox: StartSandbox, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'kept.sqlite3'}"
    hello = {"chat_id": ALICE, "user_id": ALICE, "text": "/start scentral"}
    async with start_sandbox(database_url=url) as running, aiohttp.ClientSession() as session:
        await post(session, running, "/api/send", hello)
        fake = running.sandbox.fake
        assert fake is not None
        await until(lambda: fake.messages(ALICE))
        await post(session, running, "/api/advance", {"minutes": 60})
        await post(session, running, "/api/send", hello | {"text": "/help"})
        await until(lambda: len(fake.messages(ALICE)) >= 2)
        clock = running.sandbox.clock.now()
    async with start_sandbox(database_url=url) as running, aiohttp.ClientSession() as session:
        fake = running.sandbox.fake
        assert fake is not None
        # The group was bound and Olly registered last time: no set-up messages now.
        assert not [e for e in fake.transcript() if e["dir"] == "in"]
        assert running.sandbox.clock.now() >= clock  # resumes after the last thing that happened
        # Update ids go on after the kept inbox's, so the bot answers (none is a "duplicate").
        await post(session, running, "/api/send", hello | {"text": "/help"})
        await until(lambda: fake.messages(ALICE))
