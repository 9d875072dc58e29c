"""/stats and /export over real HTTP: who may ask, the figures, the chart, the CSV, the buttons."""

from __future__ import annotations

import csv
import io
from typing import Any

from tests.e2e.conftest import eventually
from tests.e2e.test_staff_sla import (
    ANN,
    GROUP,
    OLLY,
    SlaShop,
    _place_order,
    _press,
    _say,
    sla_shop,  # noqa: F401  (the "sla" fixture)
)

PNG = b"\x89PNG\r\n\x1a\n"


async def _served_order(sla: SlaShop) -> None:
    """One croissant ordered, accepted, ready, completed; its survey answered with 4 stars."""
    await _place_order(sla.shop)
    await _press(sla.shop, ANN, "10 min")
    await _press(sla.shop, ANN, "Ready")
    await _press(sla.shop, ANN, "Completed")
    await sla.tick(31)
    await sla.shop.me.press("4 ★")
    await sla.shop.me.press("Skip")


async def _uploads(sla: SlaShop, chat_id: int, method: str, count: int) -> list[Any]:
    async def arrived() -> bool:
        return len(_calls(sla, chat_id, method)) >= count

    await eventually(arrived, timeout=20)
    await sla.shop.fake.wait_idle(quiet=0.2)
    return _calls(sla, chat_id, method)


def _calls(sla: SlaShop, chat_id: int, method: str) -> list[Any]:
    return [c for c in sla.shop.fake.calls(method) if c.chat_id == chat_id and c.ok]


def _private(sla: SlaShop, user_id: int, text: str) -> None:
    sla.shop.fake.send_text(user_id, text)


async def test_an_admin_gets_the_figures_and_a_chart_in_private(sla: SlaShop) -> None:
    await _served_order(sla)

    _private(sla, ANN, "/stats today")
    [photo] = await _uploads(sla, ANN, "sendPhoto", 1)

    assert sla.shop.fake.uploads[photo.params["photo"]["sha256"]].startswith(PNG)
    report = [m for m in sla.shop.fake.messages(ANN) if "📊" in str(m.get("text"))][-1]
    text = report["text"]
    assert text.startswith("📊 All stores · 2026-05-04 (Asia/Shanghai)")
    assert "Orders: 1 placed (▲ new) · 1 completed · 0 rejected · 0 cancelled" in text
    assert "Conversion rate: 100.0%" in text
    assert "Satisfaction: 4.00 / 5" in text
    assert "1 responses, response rate 100.0%" in text
    assert "Top products: Croissant × 1" in text
    labels = [b["text"] for row in report["reply_markup"]["inline_keyboard"] for b in row]
    assert labels[:3] == ["• Today", "7 days", "30 days"]
    assert "Central Café" in labels, "admins can switch stores"

    message_id = int(report["message_id"])
    data = next(
        b["callback_data"]
        for row in report["reply_markup"]["inline_keyboard"]
        for b in row
        if b["text"] == "Central Café"
    )
    sla.shop.fake.press_button(ANN, message_id, data)
    await _uploads(sla, ANN, "sendPhoto", 2)
    latest = [m for m in sla.shop.fake.messages(ANN) if "📊" in str(m.get("text"))][-1]
    assert latest["text"].startswith("📊 Central Café · 2026-05-04 (Asia/Shanghai)")


async def test_a_customer_is_refused_politely_and_bad_periods_get_the_usage(
    sla: SlaShop,
) -> None:
    me = sla.shop.me
    await me.send("/stats")
    assert me.last_text == "Sorry, the figures are only for store managers and the bot's admins."
    await me.send("/export")
    assert me.last_text == "Sorry, the figures are only for store managers and the bot's admins."

    for text, answer in (
        ("/stats 7d 30d extra", "Usage: /stats [today | 7d | 30d | YYYY-MM-DD..YYYY-MM-DD]"),
        ("/stats yesterday", "No store has the code yesterday."),
        ("/stats 2026-13-01..2026-13-02", "Cannot make that report:"),
        ("/stats " + "x" * 300, "Usage: /stats"),
    ):
        before = len(sla.shop.fake.messages(ANN))
        _private(sla, ANN, text)

        async def answered(before: int = before) -> bool:
            return len(sla.shop.fake.messages(ANN)) > before

        await eventually(answered, timeout=10)
        assert sla.shop.fake.messages(ANN)[-1]["text"].startswith(answer)
    assert _calls(sla, ANN, "sendPhoto") == []


async def test_in_the_staff_group_only_the_manager_or_an_admin_may_ask(sla: SlaShop) -> None:
    await _served_order(sla)

    assert await _say(sla.shop, OLLY, "/stats") == (
        "Sorry, the figures are only for store managers and the bot's admins."
    )
    assert await _say(sla.shop, ANN, "/stats riverside") == (
        "This group sees the figures of Central Café only."
    )

    sla.shop.fake.send_text(ANN, "/stats 7d", chat_id=GROUP)
    [photo] = await _uploads(sla, GROUP, "sendPhoto", 1)
    assert sla.shop.fake.uploads[photo.params["photo"]["sha256"]].startswith(PNG)
    report = [m for m in sla.shop.fake.messages(GROUP) if "📊" in str(m.get("text"))][-1]
    assert report["text"].startswith("📊 Central Café · 2026-04-28..2026-05-04")


async def test_export_sends_the_orders_as_a_csv_document(sla: SlaShop) -> None:
    await _served_order(sla)

    _private(sla, ANN, "/export 7d central")
    [document] = await _uploads(sla, ANN, "sendDocument", 1)

    upload = document.params["document"]
    assert upload["filename"] == "orders_central_2026-04-28..2026-05-04.csv"
    rows = list(csv.DictReader(io.StringIO(sla.shop.fake.uploads[upload["sha256"]].decode())))
    assert len(rows) == 1
    assert rows[0]["status"] == "completed"
    assert rows[0]["store"] == "central"
    assert rows[0]["survey_score"] == "4"
    assert rows[0]["placed_at"].startswith("2026-05-04T09:")
    assert document.params["caption"].startswith(
        "Orders of Central Café, 2026-04-28..2026-05-04: 1"
    )
