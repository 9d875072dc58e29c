"""Every catalog has every key with the same placeholders; escaping is on by default."""

from __future__ import annotations

import string

import pytest

from handlers.i18n import LOCALES, Markup, Translator, load_catalogs, normalize_locale


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_key_exists_in_every_catalog() -> None:
    catalogs = load_catalogs()
    all_keys = set().union(*(set(catalog) for catalog in catalogs.values()))

    missing = {locale: sorted(all_keys - set(catalogs[locale])) for locale in LOCALES}

    assert missing == {locale: [] for locale in LOCALES}, f"keys missing from catalogs: {missing}"


def test_translations_use_the_same_placeholders_as_english() -> None:
    catalogs = load_catalogs()
    mismatched = [
        (locale, key)
        for locale in LOCALES
        for key, template in catalogs[locale].items()
        if _placeholders(template) != _placeholders(catalogs["en"][key])
    ]

    assert mismatched == []


def test_every_key_the_code_uses_is_in_the_catalogs() -> None:
    import pathlib
    import re

    used: set[str] = set()
    for path in pathlib.Path("handlers").rglob("*.py"):
        used |= set(
            re.findall(r"""\bt\(\s*(?:[\w.]+,\s*)?["']([a-z_]+\.[a-z_.]+)["']""", path.read_text())
        )
    assert used, "the scan found no translation keys; the pattern is stale"

    assert used - set(load_catalogs()["en"]) == set()


def test_interpolated_values_are_escaped_unless_marked_safe() -> None:
    translator = Translator.default()

    escaped = translator.t("en", "language.changed", language="<script>")
    trusted = translator.t("en", "language.changed", language=Markup("<i>x</i>"))

    assert escaped == "Language set to &lt;script&gt;."
    assert trusted == "Language set to <i>x</i>."


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("zh-hans", "zh-CN"),
        ("zh", "zh-CN"),
        ("zh-TW", "zh-CN"),
        ("en-GB", "en"),
        ("de", "en"),
        (None, "en"),
    ],
)
def test_telegram_language_codes_map_to_supported_locales(code: str | None, expected: str) -> None:
    assert normalize_locale(code) == expected
