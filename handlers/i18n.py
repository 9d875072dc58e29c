"""The translation layer: every user-visible string comes from a catalog (en, zh-CN)."""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Mapping
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)

LOCALES: tuple[str, ...] = ("en", "zh-CN")
LOCALE_NAMES: Mapping[str, str] = {"en": "English", "zh-CN": "简体中文"}
_CATALOG_DIR = Path(__file__).parent / "locales"


class Markup(str):
    """Text that is already safe HTML and must not be escaped again when interpolated."""

    __slots__ = ()


def normalize_locale(language_code: str | None, default: str = "en") -> str:
    """Map Telegram's language_code (e.g. 'zh-hans', 'en-GB') to a supported locale."""
    if not language_code:
        return default
    code = language_code.strip().lower().replace("_", "-")
    if code.startswith("zh"):
        return "zh-CN"
    if code.startswith("en"):
        return "en"
    return default


@cache
def load_catalogs() -> dict[str, dict[str, str]]:
    """Read every locale's JSON catalog shipped with the package."""
    catalogs: dict[str, dict[str, str]] = {}
    for locale in LOCALES:
        path = _CATALOG_DIR / f"{locale}.json"
        catalogs[locale] = json.loads(path.read_text(encoding="utf-8"))
    return catalogs


class Translator:
    """Looks up and formats catalog strings; interpolated values are HTML-escaped."""

    def __init__(self, catalogs: Mapping[str, Mapping[str, str]], default_locale: str = "en"):
        if default_locale not in catalogs:
            raise ValueError(f"no catalog for default locale {default_locale!r}")
        self._catalogs = catalogs
        self.default_locale = default_locale

    @classmethod
    def default(cls, default_locale: str = "en") -> Translator:
        """A translator over the shipped catalogs."""
        return cls(load_catalogs(), default_locale)

    def t(self, locale: str, key: str, /, **params: object) -> str:
        """Translate `key` into `locale`, escaping every parameter that is not Markup."""
        catalog = self._catalogs.get(locale) or self._catalogs[self.default_locale]
        template = catalog.get(key)
        if template is None:
            log.error("missing translation", extra={"key": key, "locale": locale})
            template = self._catalogs[self.default_locale].get(key, key)
        safe = {name: _escape(value) for name, value in params.items()}
        return template.format(**safe)

    def keys(self, locale: str) -> set[str]:
        """Every key of one locale's catalog."""
        return set(self._catalogs[locale])


def _escape(value: object) -> str:
    if isinstance(value, Markup):
        return str(value)
    return html.escape(str(value), quote=False)
