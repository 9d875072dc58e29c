"""`o2o run` as a separate process answers /start from any server speaking the Bot API.

Each test runs once per runtime (the `runtime` fixture), chosen through O2O_RUNTIME.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from bot.fakeapi.server import FakeBotApi
from tests.e2e.conftest import ALICE, TOKEN, WEBHOOK_SECRET, free_port


async def _run_cli(env: dict[str, str], cwd: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


def _env(fake: FakeBotApi, tmp_path: Path, runtime: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("O2O_")}
    env |= {
        "O2O_BOT_TOKEN": TOKEN,
        "O2O_TELEGRAM_API_URL": fake.base_url,
        "O2O_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}",
        "O2O_POLLING_TIMEOUT": "1",
        "O2O_RUNTIME": runtime,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    return env | extra


async def _stop(process: asyncio.subprocess.Process) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    return process.returncode if process.returncode is not None else -1, stderr.decode()


async def test_o2o_run_polls_migrates_and_answers_start(
    fake: FakeBotApi, tmp_path: Path, runtime: str
) -> None:
    process = await _run_cli(_env(fake, tmp_path, runtime), tmp_path)
    try:
        fake.send_text(ALICE, "/start")
        messages = await fake.wait_for_messages(ALICE, 1, timeout=30)
    finally:
        code, stderr = await _stop(process)

    assert messages[0]["text"].startswith("Hi Alice!")
    assert code == 0, stderr
    assert (tmp_path / "bot.sqlite3").exists()
    assert '"msg": "bot started"' in stderr, "logs are JSON lines"
    assert "Alice" not in stderr, "names never reach the INFO log"


async def test_o2o_run_webhook_registers_and_answers_start(
    fake: FakeBotApi, tmp_path: Path, runtime: str
) -> None:
    port = free_port()
    env = _env(
        fake,
        tmp_path,
        runtime,
        O2O_WEBHOOK_URL=f"http://127.0.0.1:{port}/hook",
        O2O_WEBHOOK_SECRET=WEBHOOK_SECRET,
        O2O_WEBHOOK_PORT=str(port),
    )
    process = await _run_cli(env, tmp_path, "--webhook")
    try:
        await fake.wait_for_calls("setWebhook", 1, timeout=30)
        fake.send_text(ALICE, "/start")
        messages = await fake.wait_for_messages(ALICE, 1, timeout=15)
    finally:
        code, stderr = await _stop(process)

    assert messages[0]["text"].startswith("Hi Alice!")
    assert code == 0, stderr


async def test_a_token_the_server_refuses_is_reported_in_one_line(
    fake: FakeBotApi, tmp_path: Path, runtime: str
) -> None:
    wrong = "999999:WRONG-token-the-fake-does-not-know"
    env = _env(fake, tmp_path, runtime, O2O_BOT_TOKEN=wrong)
    process = await _run_cli(env, tmp_path)

    _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)

    assert process.returncode == 2
    last = stderr.decode().strip().splitlines()[-1]
    assert last.startswith("o2o: error: O2O_BOT_TOKEN: refused by the Bot API at http://127.0.0.1:")
    assert "Traceback" not in stderr.decode()
    assert wrong not in stderr.decode(), "the token never reaches the output"
