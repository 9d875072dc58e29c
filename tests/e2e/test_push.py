"""Push campaigns over real HTTP: consent, the manager's /push preview and progress, the push."""

from __future__ import annotations

from sqlalchemy import select

from bot.db import models
from tests.e2e.conftest import eventually
from tests.e2e.test_staff_sla import (
    ANN,
    GROUP,
    SlaShop,
    _group_texts,
    _place_order,
    _press,
    _say,
    sla_shop,  # noqa: F401  (the "sla" fixture)
)


async def _completed_order(sla: SlaShop, consent: str | None) -> None:
    await _place_order(sla.shop)
    if consent is not None:
        await sla.shop.me.press(consent)
    await _press(sla.shop, ANN, "10 min")
    await _press(sla.shop, ANN, "Ready")
    await _press(sla.shop, ANN, "Completed")


async def _preview(sla: SlaShop) -> str:
    await _say(sla.shop, ANN, "/push")

    async def shown() -> bool:
        return any("Campaign #" in text for text in _group_texts(sla.shop))

    await eventually(shown, timeout=20)
    await sla.shop.fake.wait_idle(quiet=0.1)
    return next(text for text in _group_texts(sla.shop) if "Campaign #" in text)


async def test_a_consenting_customer_gets_one_push_and_the_manager_sees_it_through(
    sla: SlaShop,
) -> None:
    me = sla.shop.me
    await _completed_order(sla, "Yes, please")
    assert any("You will get our offers" in text for text in me.texts())

    preview = await _preview(sla)
    assert "Campaign #1 for Central Café: preview" in preview
    assert "Audience: 1 customers." in preview
    await _press(sla.shop, ANN, "Send to 1")

    async def pushed() -> bool:
        return any("Central Café" in text and "Tap Order now" in text for text in me.texts())

    async def done() -> bool:
        campaign = await sla.shop.scalar(select(models.Campaign))
        return campaign is not None and campaign.status == "done"

    await eventually(done, timeout=20)
    await eventually(pushed, timeout=20)
    [push] = [m for m in me.messages() if "Tap Order now" in m["text"]]
    print(push["text"])
    buttons = [b for row in push["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons[0]["url"].endswith("?start=p1")
    assert buttons[1]["text"] == "🔕 Unsubscribe"

    async def progress_done() -> bool:
        return any("done ✅" in text and "Sent 1" in text for text in _group_texts(sla.shop))

    await eventually(progress_done, timeout=20)

    await me.send("/start p1")
    [recipient] = await sla.shop.rows(models.CampaignRecipient)
    assert recipient.status == "sent"
    assert recipient.opened_at is not None
    assert GROUP < 0
