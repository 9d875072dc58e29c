"""Settings come from O2O_* variables; a bad one is reported in one line with exit code 2."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.db.migrate import head_revision
from bot.settings import DEFAULT_DATABASE_URL, SettingsError, load_settings

TOKEN = "123456:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("O2O_") and not name.startswith("O2O_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout


def test_defaults_need_no_configuration() -> None:
    settings = load_settings()

    assert settings.token is None
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.telegram_api_url == "https://api.telegram.org"
    assert settings.runtime == "aiogram"
    assert settings.admin_ids == ()
    assert settings.default_locale == "en"


def test_values_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("O2O_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("O2O_ADMIN_IDS", "11, 22;33")
    monkeypatch.setenv("O2O_TELEGRAM_API_URL", "http://127.0.0.1:8081/")
    monkeypatch.setenv("O2O_DATABASE_URL", "postgresql://u@db/o2o")
    monkeypatch.setenv("O2O_DEFAULT_LOCALE", "zh-CN")

    settings = load_settings()

    assert settings.token == TOKEN
    assert settings.admin_ids == (11, 22, 33)
    assert settings.telegram_api_url == "http://127.0.0.1:8081"
    assert settings.database_url == "postgresql+asyncpg://u@db/o2o"
    assert settings.default_locale == "zh-CN"


def test_values_come_from_a_dotenv_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("O2O_ADMIN_IDS=7\nO2O_WEBHOOK_PORT=9000\n")

    settings = load_settings()

    assert (settings.admin_ids, settings.webhook_port) == ((7,), 9000)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("O2O_ADMIN_IDS", "12,abc"),
        ("O2O_BOT_TOKEN", "not-a-token"),
        ("O2O_RUNTIME", "django"),
        ("O2O_WEBHOOK_PORT", "99999"),
        ("O2O_TELEGRAM_API_URL", "ftp://example.org"),
        ("O2O_DATABASE_URL", "mysql://x"),
        ("O2O_WEBHOOK_SECRET", "has spaces"),
        ("O2O_DEFAULT_LOCALE", "fr"),
    ],
)
def test_an_invalid_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(SettingsError) as caught:
        load_settings()

    assert str(caught.value).startswith(variable + ":")
    assert "\n" not in str(caught.value)


def test_a_webhook_url_without_a_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("O2O_WEBHOOK_URL", "https://bot.example.org/hook")

    with pytest.raises(SettingsError, match="O2O_WEBHOOK_SECRET"):
        load_settings()


def test_the_cli_reports_a_bad_variable_in_one_line_with_exit_code_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("O2O_")}
    env["O2O_ADMIN_IDS"] = "twelve"

    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "migrate"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()], (
        "exactly one line, no traceback"
    )
    assert result.stderr.startswith("o2o: error: O2O_ADMIN_IDS:")


def test_run_without_a_token_points_to_the_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 2

    assert "O2O_BOT_TOKEN" in capsys.readouterr().err


@pytest.mark.parametrize("command", [[], ["migrate"], ["run"], ["demo"], ["seed"]])
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main([*command, "--help"])

    assert caught.value.code == 0
    assert "usage: o2o" in capsys.readouterr().out


def test_migrate_creates_a_sqlite_file_in_a_new_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "data" / "shop.sqlite3"
    monkeypatch.setenv("O2O_DATABASE_URL", f"sqlite+aiosqlite:///{database}")

    assert main(["migrate"]) == 0

    assert database.exists()
    assert f"database at revision {head_revision()}" in capsys.readouterr().out


async def test_migrate_upgrades_the_configured_database_on_each_backend(
    monkeypatch: pytest.MonkeyPatch, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("O2O_DATABASE_URL", database_url)

    first = await asyncio.to_thread(main, ["migrate"])
    again = await asyncio.to_thread(main, ["migrate"])

    assert (first, again) == (0, 0), "migrate is idempotent"
    assert capsys.readouterr().out.count(f"database at revision {head_revision()}") == 2
