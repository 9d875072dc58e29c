"""Typed settings built once at start-up from the environment and `.env` (prefix O2O_)."""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///o2o.sqlite3"
TELEGRAM_API_URL = "https://api.telegram.org"
_SECRET_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$")


class SettingsError(Exception):
    """A setting is missing or invalid; the message names the variable in one line."""


class Settings(BaseSettings):
    """Every O2O_* variable the bot reads; see the README's configuration table."""

    model_config = SettingsConfigDict(
        env_prefix="O2O_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    bot_token: SecretStr | None = None
    database_url: str = DEFAULT_DATABASE_URL
    telegram_api_url: str = TELEGRAM_API_URL
    runtime: Literal["aiogram", "ptb"] = "aiogram"
    admin_ids: Annotated[tuple[int, ...], NoDecode] = ()
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_host: str = "127.0.0.1"
    webhook_port: int = Field(default=8080, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    default_locale: Literal["en", "zh-CN"] = "en"
    callback_secret: SecretStr | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    polling_timeout: int = Field(default=25, ge=0, le=50)
    payment_provider_token: SecretStr | None = None
    bot_username: str | None = Field(default=None, pattern=r"^@?[A-Za-z][A-Za-z0-9_]{3,31}$")
    # Several processes on one database: how long a standby may wait to take over the sender.
    sender_lease_seconds: float = Field(default=5.0, gt=0, le=3600)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_admin_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.replace(";", ",").split(",")]
            return tuple(part for part in parts if part)
        if isinstance(value, int):
            return (value,)
        return value

    @field_validator("metrics_port", mode="before")
    @classmethod
    def _empty_port_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("bot_token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _TOKEN_RE.match(value.get_secret_value()):
            raise ValueError("expected the form 123456789:ABC... given by @BotFather")
        return value

    @field_validator("telegram_api_url", "webhook_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None if value == "" else value
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError("expected an http(s) URL such as https://example.org/path")
        return value.rstrip("/")

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _SECRET_TOKEN_RE.match(value.get_secret_value()):
            raise ValueError("1-256 characters from A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if value.startswith(("sqlite://", "sqlite:///")):
            return "sqlite+aiosqlite://" + value.removeprefix("sqlite://")
        if value.startswith(("postgres://", "postgresql://")):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("expected sqlite+aiosqlite:///FILE or postgresql+asyncpg://...")
        return value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.webhook_url and self.webhook_secret is None:
            raise ValueError("O2O_WEBHOOK_SECRET is required when O2O_WEBHOOK_URL is set")
        return self

    @property
    def token(self) -> str | None:
        """The bot token in clear, or None when running offline."""
        return self.bot_token.get_secret_value() if self.bot_token else None

    def callback_key(self) -> bytes:
        """The HMAC key signing button data: explicit, else derived from the token."""
        if self.callback_secret is not None:
            return self.callback_secret.get_secret_value().encode()
        # Derived so every process of one bot agrees without extra configuration.
        seed = self.token or "o2o-offline-demo"
        return hashlib.sha256(f"o2o-callback:{seed}".encode()).digest()


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment; raise SettingsError naming the bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]  # pydantic validates the values
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: the O2O_ variable and what is wrong with it."""
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        message = str(error["msg"]).removeprefix("Value error, ")
        if field:
            lines.append(f"O2O_{field.upper()}: {message}")
        else:
            lines.append(message)
    return "; ".join(lines)
