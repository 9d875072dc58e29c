"""Both runtimes play the demo scenario and print the same conversation; only they differ."""

from __future__ import annotations

import ast
import difflib
import io
import os
import re
from pathlib import Path

import pytest

from bot.demo import AFTER_STEPS, MANAGER_STEPS, SCENARIOS, STAFF_STEPS, run_demo
from bot.settings import Settings
from tests.e2e.conftest import RUNTIMES

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = {"aiogram": "bot/runtime_aiogram.py", "telegram": "bot/runtime_ptb.py"}


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings from defaults only, whatever O2O_* variables the shell has."""
    for name in list(os.environ):
        if name.startswith("O2O_") and not name.startswith("O2O_TEST_"):
            monkeypatch.delenv(name)
    return Settings(_env_file=None)  # type: ignore[call-arg]  # pydantic-settings init option


async def test_the_demo_transcript_is_the_same_on_every_runtime(
    settings: Settings, tmp_path: Path
) -> None:
    transcripts: dict[str, str] = {}
    for runtime in RUNTIMES:
        out = io.StringIO()
        code = await run_demo(
            settings,
            db_path=str(tmp_path / f"{runtime}.sqlite3"),
            runtime=runtime,
            out=out,
            realistic=False,
        )
        assert code == 0, out.getvalue()
        header, _, transcript = out.getvalue().partition("\n")
        assert header.startswith(f"o2o demo: {runtime} runtime"), "the header names the runtime"
        # Customers act concurrently, so which order gets which number may differ (an id).
        # Pickup codes are random by design.
        masked = re.sub(r"#\d{4}", "#NNNN", transcript)
        masked = re.sub(r"(?i)(pickup code:?|/pickup|\(code) [A-Z0-9]{4,8}", r"\1 CODE", masked)
        # /stats reports processing times of seconds that vary from run to run.
        transcripts[runtime] = re.sub(r"\d+\.\d min", "N min", masked)

    difference = "\n".join(
        difflib.unified_diff(
            transcripts["aiogram"].splitlines(), transcripts["ptb"].splitlines(), lineterm=""
        )
    )
    assert transcripts["ptb"] == transcripts["aiogram"], difference
    transcript = transcripts["aiogram"]
    steps = sum(len(steps) for steps in SCENARIOS.values()) + len(STAFF_STEPS) + 1
    steps += sum(len(steps) for _, steps in AFTER_STEPS) + len(MANAGER_STEPS)
    assert f"Demo finished: {steps} steps, every step answered." in transcript
    assert "[Alice → bot] /start" in transcript
    assert "[Alice → bot] presses [ 5 ★ ]" in transcript, "the demo ends with a survey"
    assert "[bot → Ann] [photo] 📈 All stores" in transcript, "and /stats with its chart"
    assert "[ ✓ English ] [ 简体中文 ]" in transcript
    assert "[bot ✎ Alice] 语言已切换为简体中文。" in transcript
    assert "抱歉，我没有理解" in transcript, "free text after the switch is answered in Chinese"
    assert "🥡 Pickup: As soon as possible" in transcript
    assert "🍽 堂食，桌号 12" in transcript, "the table QR code orders dine-in at that table"
    assert "🛵 Delivery to shared location" in transcript
    assert transcript.count("placed. We will tell you") == 2
    assert "Booking requested." in transcript
    assert "[bot → Central Café staff] (alert) Only this store's staff can do that." in transcript
    assert "accepted order #NNNN; ready around" in transcript
    assert "Pickup code: CODE" in transcript
    assert "could not take order #NNNN: too busy right now" in transcript
    assert "已接单 #NNNN" in transcript, "Wang is told in Chinese"
    assert "confirmed your booking" in transcript
    assert "订单 #NNNN 已提交" in transcript
    assert (tmp_path / "aiogram.sqlite3").exists(), "--db keeps the database for inspection"


def test_each_framework_is_imported_by_its_runtime_module_only() -> None:
    importers: dict[str, set[str]] = {name: set() for name in FRAMEWORKS}
    for package in ("bot", "handlers", "domain", "analytics", "migrations"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    if module.split(".")[0] in importers:
                        importers[module.split(".")[0]].add(str(path.relative_to(ROOT)))

    assert importers == {name: {module} for name, module in FRAMEWORKS.items()}
