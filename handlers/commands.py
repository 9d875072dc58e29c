"""The command menus registered with setMyCommands, per chat scope and language."""

from __future__ import annotations

from handlers.i18n import LOCALES, Translator
from handlers.outbound import OutboundCall

PRIVATE_COMMANDS: tuple[str, ...] = (
    "start",
    "menu",
    "cart",
    "orders",
    "book",
    "stores",
    "search",
    "language",
    "surveys",
    "unsubscribe",
    "privacy",
    "forget",
    "help",
)
GROUP_COMMANDS: tuple[str, ...] = (
    "help",
    "pickup",
    "stats",
    "export",
    "rfm",
    "push",
    "stock",
    "staff",
    "pause",
    "resume",
    "busy",
    "bind",
)
_SCOPES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("all_private_chats", PRIVATE_COMMANDS),
    ("all_group_chats", GROUP_COMMANDS),
)


def telegram_language_code(locale: str) -> str:
    """setMyCommands takes two-letter ISO 639-1 codes: 'zh-CN' -> 'zh'."""
    return locale.split("-")[0].lower()


def command_menu_calls(translator: Translator) -> list[OutboundCall]:
    """setMyCommands calls for every scope, in the default language and each locale."""
    calls: list[OutboundCall] = []
    for scope, names in _SCOPES:
        for locale in (None, *LOCALES):
            lookup = locale or translator.default_locale
            params: dict[str, object] = {
                "commands": [
                    {"command": name, "description": translator.t(lookup, f"command.{name}")}
                    for name in names
                ],
                "scope": {"type": scope},
            }
            if locale is not None:
                params["language_code"] = telegram_language_code(locale)
            calls.append(OutboundCall("setMyCommands", params, None))
    return calls
