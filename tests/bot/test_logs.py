"""Logs are JSON lines; names, phone numbers and free text never appear at INFO or above."""

from __future__ import annotations

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
