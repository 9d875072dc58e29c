"""Webhook mode cannot run without its secret token: the header is what keeps strangers out."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.app import BotApp
from bot.fakeapi.server import FakeBotApi
from bot.pipeline import UpdatePipeline
from bot.settings import Settings
from bot.webhook import make_webhook_app
from domain.clock import FixedClock
from handlers.callbacks import CallbackCodec
from handlers.core import ConversationCore, CoreConfig
from handlers.i18n import Translator

TOKEN = "123456:TEST-token-for-the-fake-bot-api"


async def test_run_webhook_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    fake = FakeBotApi(token=TOKEN)
    await fake.start()
    values = Settings().model_dump() | {
        "bot_token": SecretStr(TOKEN),
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'o2o.sqlite3'}",
        "telegram_api_url": fake.base_url,
        "webhook_url": "http://127.0.0.1:9/telegram/hook",
        "webhook_secret": None,  # model_construct skips the settings check on purpose
    }
    app = BotApp(Settings.model_construct(**values))
    try:
        await app.start()
        with pytest.raises(ValueError, match="O2O_WEBHOOK_SECRET"):
            await app.run_webhook()
        assert fake.calls("setWebhook") == [], "nothing was registered with Telegram"
    finally:
        await app.close()
        await fake.stop()


def test_a_webhook_app_without_a_secret_is_refused() -> None:
    core = ConversationCore(
        CoreConfig(bot_username="o2o_demo_bot"), Translator.default(), CallbackCodec(b"k" * 32)
    )
    clock = FixedClock(datetime(2026, 5, 4, tzinfo=UTC))
    pipeline = UpdatePipeline(None, core, clock)  # type: ignore[arg-type]  # never used

    with pytest.raises(ValueError, match="secret"):
        make_webhook_app(pipeline, "", "/hook")
