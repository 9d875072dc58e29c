"""Satisfaction surveys over real HTTP: when they are sent, answering, alerts, opting out.

The app's jobs loop is stopped; each test moves the clock and runs one tick (see SlaShop).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.db import models
from tests.e2e.test_staff_sla import (
    ANN,
    GROUP,
    SlaShop,
    _place_order,
    _press,
    sla_shop,  # noqa: F401  (the "sla" fixture)
)


async def _completed_order(sla: SlaShop) -> None:
    await _place_order(sla.shop)
    await _press(sla.shop, ANN, "10 min")
    await _press(sla.shop, ANN, "Ready")
    await _press(sla.shop, ANN, "Completed")


async def _surveys(sla: SlaShop) -> list[models.Survey]:
    return await sla.shop.rows(models.Survey)


def _survey_message(sla: SlaShop) -> dict[str, Any]:
    """The one survey message in Mia's chat (found by its buttons' or first text's shape)."""
    found = [
        m
        for m in sla.shop.fake.messages(sla.shop.me.user_id)
        if "How was" in m["text"] or "feedback" in m["text"] or "won't ask" in m["text"]
    ]
    assert len(found) == 1, "exactly one survey message"
    return found[0]


async def test_a_completed_order_is_surveyed_once_after_the_delay_and_a_comment_closes_it(
    sla: SlaShop,
) -> None:
    me = sla.shop.me
    await _completed_order(sla)
    [survey] = await _surveys(sla)
    assert survey.status == "scheduled"

    await sla.tick(10)
    assert not any("How was" in text for text in me.texts()), "not before the store's delay"
    await sla.tick(25)
    await sla.tick(1)

    message = _survey_message(sla)
    assert message["text"] == "How was order #0001 at Central Café? Tap a score (5 = great)."
    assert me.buttons() == ["1 ★", "2 ★", "3 ★", "4 ★", "5 ★", "🔕 Don't ask me again"]

    await me.press("4 ★")
    assert "Your score: ★★★★☆" in _survey_message(sla)["text"]
    assert "Anything to add?" in _survey_message(sla)["text"]
    await me.press("5 ★")
    assert me.buttons() == ["1 ★", "2 ★", "3 ★", "4 ★", "✅ 5 ★", "Skip"]
    assert (await _surveys(sla))[0].score == 5

    await me.send("Lovely <b>croissant</b>")

    [survey] = await _surveys(sla)
    assert (survey.status, survey.score, survey.comment) == (
        "answered",
        5,
        "Lovely <b>croissant</b>",
    )
    assert me.last_text == "Thanks, your comment has been passed on to the store."
    [edited] = [m for m in me.messages() if m["message_id"] == message["message_id"]]
    assert edited["text"] == "Thank you for your feedback! Your score: ★★★★★"
    assert not any("Low score" in str(m.get("text")) for m in sla.shop.fake.messages(GROUP))

    message_id, stale = _stale_star(message, "1 ★")
    answer = me.toast(await me.press_data(message_id, stale))
    assert answer == "We already have your answer, thank you."
    assert (await _surveys(sla))[0].score == 5


def _stale_star(message: dict[str, Any], label: str) -> tuple[int, str]:
    for row in message["reply_markup"]["inline_keyboard"]:
        for button in row:
            if button["text"] == label:
                return int(message["message_id"]), str(button["callback_data"])
    raise AssertionError(f"no {label!r} on the survey")


async def test_a_low_score_alerts_the_group_and_the_admins_with_the_escaped_comment(
    sla: SlaShop,
) -> None:
    me = sla.shop.me
    await _completed_order(sla)
    await sla.tick(31)

    await me.press("1 ★")
    await me.send("cold <script>x</script> and late")

    alert = sla.shop.fake.messages(GROUP)[-1]["text"]
    assert alert == (
        "⚠️ Low score ★☆☆☆☆ (1/5) for order #0001 from Mia at Central Café.\n"
        "Comment: “cold <script>x</script> and late”"
    ), "shown as typed"
    assert sla.shop.fake.messages(ANN)[-1]["text"] == alert
    sent = [c for c in sla.shop.fake.calls("sendMessage") if c.chat_id == GROUP]
    assert "&lt;script&gt;" in sent[-1].params["text"], "the comment was escaped, not markup"


async def test_a_low_score_left_without_a_comment_alerts_after_the_grace_time(
    sla: SlaShop,
) -> None:
    await _completed_order(sla)
    await sla.tick(31)
    await sla.shop.me.press("2 ★")
    assert not any("Low score" in str(m.get("text")) for m in sla.shop.fake.messages(GROUP))

    await sla.tick(31)

    assert sla.shop.fake.messages(GROUP)[-1]["text"].startswith("⚠️ Low score ★★☆☆☆ (2/5)")
    [survey] = await _surveys(sla)
    assert (survey.status, survey.comment) == ("answered", "")


async def test_no_survey_is_sent_in_the_quiet_hours_it_waits_for_the_morning(
    sla: SlaShop,
) -> None:
    await _place_order(sla.shop)
    await _press(sla.shop, ANN, "10 min")
    await _press(sla.shop, ANN, "Ready")
    sla.clock.advance(3 * 60 + 20)  # 20:50 in Shanghai: due at 21:20, inside 21:00-09:00
    await _press(sla.shop, ANN, "Completed")

    await sla.tick(60)
    assert not any("How was" in text for text in sla.shop.me.texts())
    [survey] = await _surveys(sla)
    assert survey.due_at.isoformat() == "2026-05-05T01:00:00+00:00", "09:00 local next day"

    await sla.tick(11 * 60 + 15)
    assert _survey_message(sla)


async def test_an_unanswered_survey_expires_after_seven_days(sla: SlaShop) -> None:
    await _completed_order(sla)
    await sla.tick(31)
    message = _survey_message(sla)

    await sla.tick(7 * 24 * 60)

    [survey] = await _surveys(sla)
    assert survey.status == "expired"
    answer = sla.shop.me.toast(await sla.shop.me.press_data(*_stale_star(message, "5 ★")))
    assert answer == "This survey has expired."
    assert (await _surveys(sla))[0].score is None


async def test_customers_can_turn_surveys_off_and_on(sla: SlaShop) -> None:
    me = sla.shop.me
    await _completed_order(sla)
    await sla.tick(31)

    await me.press("Don't ask me again")

    assert "we won't ask again" in _survey_message(sla)["text"]
    customer = await sla.shop.scalar(
        select(models.Customer).where(models.Customer.telegram_id == me.user_id)
    )
    assert customer.surveys_enabled is False

    await _completed_order(sla)
    await sla.tick(31)
    assert len([s for s in await _surveys(sla) if s.status != "sent"]) == 0
    assert len(await _surveys(sla)) == 1, "no survey is even scheduled"

    await me.send("/surveys")
    assert me.last_text.startswith("Satisfaction surveys are off.")
    await me.send("/surveys maybe")
    assert me.last_text == "Usage: /surveys on or /surveys off"
    await me.send("/surveys on")
    assert me.last_text.startswith("Satisfaction surveys are on")
