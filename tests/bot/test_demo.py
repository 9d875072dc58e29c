"""`o2o demo` plays its whole scenario against the fake Bot API and exits 0."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from bot.demo import SCENARIO, run_demo
from bot.settings import Settings


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in list(os.environ):
        if name.startswith("O2O_") and not name.startswith("O2O_TEST_"):
            monkeypatch.delenv(name)
    return Settings(_env_file=None)  # type: ignore[call-arg]  # pydantic-settings init option


async def test_the_demo_answers_every_step_and_prints_the_conversation(
    settings: Settings, tmp_path: Path
) -> None:
    out = io.StringIO()

    code = await run_demo(settings, db_path=str(tmp_path / "demo.sqlite3"), out=out)

    transcript = out.getvalue()
    assert code == 0, transcript
    assert f"Demo finished: {len(SCENARIO)} steps, every step answered." in transcript
    assert "[Alice → bot] /start" in transcript
    assert "[bot → Alice] Hi Alice!" in transcript
    assert "[ ✓ English ] [ 简体中文 ]" in transcript
    assert "[bot ✎ Alice] 语言已切换为简体中文。" in transcript
    assert "抱歉，我没有理解" in transcript, "free text after the switch is answered in Chinese"
    assert "当前门店：Central Café" in transcript
    assert "桌号 12" in transcript
    assert "我不认识命令 /frobnicate" in transcript
    assert (tmp_path / "demo.sqlite3").exists(), "--db keeps the database for inspection"
