"""Logs are JSON lines; names, phone numbers and free text never appear at INFO or above."""

from __future__ import annotations

import io
import json
import logging

from bot.logs import JsonFormatter, RedactingFilter


def _render(level: int, msg: str, **extra: object) -> str:
    record = logging.LogRecord("o2o.test", level, __file__, 1, msg, None, None)
    for key, value in extra.items():
        setattr(record, key, value)
    RedactingFilter().filter(record)
    return JsonFormatter().format(record)


def test_a_record_is_one_json_object_with_its_extra_fields() -> None:
    line = _render(logging.INFO, "update processed", update_id=42, outcome="handled")
    assert json.loads(line)["logger"] == "o2o.test"

    payload = json.loads(line)
    assert payload["msg"] == "update processed"
    assert payload["update_id"] == 42
    assert payload["level"] == "info"


def test_personal_fields_and_phone_numbers_are_redacted_at_info() -> None:
    line = _render(
        logging.WARNING,
        "contact from +86 138 0013 8000 received",
        phone="+8613800138000",
        first_name="Alice",
        comment="leave it at the door",
    )

    assert "13800138000" not in line
    assert "138 0013 8000" not in line
    assert "Alice" not in line
    assert "door" not in line


def test_debug_records_keep_their_details_for_local_troubleshooting() -> None:
    line = _render(logging.DEBUG, "contact", phone="+8613800138000")

    assert "+8613800138000" in line


TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def test_the_bot_token_is_masked_in_urls_arguments_extras_and_tracebacks_at_every_level() -> None:
    url = f"https://api.telegram.org/bot{TOKEN}/getUpdates"
    record = logging.LogRecord("o2o.test", logging.DEBUG, __file__, 1, "GET %s", (url,), None)
    record.url = url
    try:
        raise ConnectionError(f"cannot reach {url}")
    except ConnectionError:
        import sys

        record.exc_info = sys.exc_info()
    RedactingFilter().filter(record)
    line = JsonFormatter().format(record)

    assert TOKEN not in line
    assert "123456789" not in line
    assert "/bot[secret]/getUpdates" in line
    payload = json.loads(line)
    assert payload["msg"] == "GET https://api.telegram.org/bot[secret]/getUpdates"
    assert "cannot reach https://api.telegram.org/bot[secret]/getUpdates" in payload["exc"]


def test_configured_secrets_are_masked_and_the_text_format_too() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(["whsec-Very_secret-42"]))
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("o2o.test.secrets")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("header was whsec-Very_secret-42; url %s", f"/bot{TOKEN}/setWebhook")
        try:
            raise RuntimeError(f"refused {TOKEN}")
        except RuntimeError:
            logger.exception("call failed")
    finally:
        logger.removeHandler(handler)

    output = stream.getvalue()
    assert "whsec-Very_secret-42" not in output
    assert TOKEN not in output
    assert "header was [secret]; url /bot[secret]/setWebhook" in output
    assert "RuntimeError: refused [secret]" in output
