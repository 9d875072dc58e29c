"""`o2o push plan` and `o2o push run` on a seeded database, sending through a fake Bot API.

The CLI reads the wall clock, so the history is written relative to now and Central Café's
quiet hours are switched off (equal start and end): the test passes at any time of day.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot.db import models
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade_async
from bot.fakeapi.server import FakeBotApi
from bot.seed import seed_demo_data
from tests.admin.conftest import Cli

TOKEN = "123456:TEST-token-for-the-push-cli"
# telegram id -> (days ago of each completed croissant order at Central Café, consent)
CUSTOMERS: dict[int, tuple[list[int], bool]] = {
    701: ([1, 4, 9, 15], True),  # frequent and recent
    702: ([2, 30], True),
    703: ([60], True),  # lapsed
    704: ([3, 12], False),  # said no to offers
}


async def _seed(url: str) -> None:
    """Demo stores and catalog, four customers with history; no quiet hours at Central Café."""
    now = datetime.now(UTC)
    await upgrade_async(url)
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    try:
        await seed_demo_data(sessionmaker, now - timedelta(days=100))
        async with sessionmaker() as session, session.begin():
            central = await session.scalar(
                select(models.Store).where(models.Store.code == "central")
            )
            croissant = await session.scalar(
                select(models.Product).where(models.Product.sku == "croissant")
            )
            assert central is not None
            assert croissant is not None
            central.settings = dict(central.settings or {}) | {
                "push_quiet_start": "00:00",
                "push_quiet_end": "00:00",
            }
            for telegram_id, (days, consent) in CUSTOMERS.items():
                customer = models.Customer(
                    telegram_id=telegram_id,
                    first_name=f"C{telegram_id}",
                    marketing_consent=consent,
                    marketing_asked_at=now - timedelta(days=100),
                    created_at=now - timedelta(days=100),
                    updated_at=now - timedelta(days=100),
                )
                session.add(customer)
                await session.flush()
                for n, ago in enumerate(days):
                    placed = now - timedelta(days=ago)
                    order = models.Order(
                        number=f"{telegram_id}-{n}",
                        store_id=central.id,
                        customer_id=customer.id,
                        idempotency_key=f"seed:{telegram_id}:{n}",
                        status="completed",
                        fulfilment="pickup",
                        subtotal_minor=1500,
                        total_minor=1500,
                        currency="CNY",
                        placed_at=placed,
                        completed_at=placed + timedelta(minutes=20),
                    )
                    session.add(order)
                    await session.flush()
                    session.add(
                        models.OrderLine(
                            order_id=order.id,
                            product_id=croissant.id,
                            name="Croissant",
                            unit_price_minor=1500,
                            quantity=1,
                            line_total_minor=1500,
                        )
                    )
    finally:
        await engine.dispose()


async def _rows(url: str, model: type[Any]) -> list[Any]:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            return list(await session.scalars(select(model).order_by(model.id)))
    finally:
        await engine.dispose()


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    """A fake Bot API that knows the four customers."""
    server = FakeBotApi(token=TOKEN, limits=None)
    await server.start()
    for telegram_id in CUSTOMERS:
        server.add_user(telegram_id, f"C{telegram_id}")
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def sender_env(cli: Cli, fake: FakeBotApi, monkeypatch: pytest.MonkeyPatch) -> FakeBotApi:
    """The CLI's bot token and Bot API address: the fake's."""
    monkeypatch.setenv("O2O_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("O2O_TELEGRAM_API_URL", fake.base_url)
    return fake


async def test_push_plan_json_saves_a_draft_per_store_and_prints_its_plan(cli: Cli) -> None:
    await _seed(cli.url)

    result = await cli("push", "plan", "--json")

    assert result.code == 0, result.err
    plans = json.loads(result.out)
    assert [plan["store"] for plan in plans] == ["central", "riverside"]
    central, riverside = plans
    tomorrow = datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)
    assert central["as_of"] in (tomorrow.isoformat(), (tomorrow + timedelta(days=1)).isoformat())
    assert (central["model"], central["customers"], central["audience"]) == ("classic8", 4, 3)
    segments = central["segments"]
    assert sum(s["customers"] for s in segments.values()) == 4
    assert sum(s["audience"] for s in segments.values()) == 3
    assert sum(s["no_consent"] for s in segments.values()) == 1
    for segment in segments.values():
        assert set(segment) == {
            "kind",
            "customers",
            "audience",
            "no_consent",
            "unreachable",
            "recent_push",
            "nothing_to_offer",
            "sample",
            "sample_kind",
        }
        if segment["audience"]:
            assert segment["sample"], "a segment someone gets has a sample push"
            assert all(isinstance(item, int) for item, _reason in segment["sample"])
    assert (riverside["customers"], riverside["audience"]) == (0, 0)

    campaigns = await _rows(cli.url, models.Campaign)
    assert [(c.id, c.status, c.origin, c.audience) for c in campaigns] == [
        (central["campaign"], "draft", "cli", 3),
        (riverside["campaign"], "draft", "cli", 0),
    ]
    assert campaigns[0].plan == central
    recipients = await _rows(cli.url, models.CampaignRecipient)
    assert len(recipients) == 3
    assert {r.status for r in recipients} == {"planned"}


async def test_push_plan_text_shows_the_preview_and_the_command_to_send_it(cli: Cli) -> None:
    await _seed(cli.url)

    result = await cli("push", "plan", "--store", "central", "--seed", "3")

    assert result.code == 0, result.err
    assert "📣 Campaign #1 for Central Café: preview" in result.out
    assert "4 customers with orders" in result.out
    assert "Left out: 1 without consent, 0 who blocked the bot" in result.out
    assert "Audience: 3 customers." in result.out
    assert "→ o2o push run --campaign 1" in result.out
    assert "<b>" not in result.out, "chat markup is dropped for the terminal"

    unknown = await cli("push", "plan", "--store", "nowhere")
    assert unknown.code == 2
    assert unknown.err_lines == ["o2o: error: --store: no store 'nowhere'"]


async def test_push_run_sends_to_consenting_customers_and_prints_the_outcome(
    cli: Cli, sender_env: FakeBotApi
) -> None:
    fake = sender_env
    await _seed(cli.url)
    fake.block_bot(703)
    planned = await cli("push", "plan", "--store", "central", "--json")
    assert planned.code == 0, planned.err
    [plan] = json.loads(planned.out)

    result = await cli("push", "run", "--campaign", str(plan["campaign"]))

    assert result.code == 0, result.err
    outcome = json.loads(result.out.strip().splitlines()[-1])
    assert outcome == {
        "campaign": plan["campaign"],
        "status": "done",
        "sent": 2,
        "failed": 1,
        "skipped": 0,
        "left": 0,
    }
    assert f"campaign {plan['campaign']} [" in result.err
    assert "3/3 sent 2 failed 1 skipped 0" in result.err, "the progress bar ends full"
    for telegram_id in (701, 702):
        [push] = fake.messages(telegram_id)
        assert "Central Café" in push["text"]
        assert push["text"].endswith("Tap Order now to open the menu.")
        labels = [b["text"] for row in push["reply_markup"]["inline_keyboard"] for b in row]
        assert labels[-1] == "🔕 Unsubscribe"
    assert fake.messages(703) == [], "blocked"
    assert fake.messages(704) == [], "no consent"

    customers = {c.telegram_id: c for c in await _rows(cli.url, models.Customer)}
    assert customers[703].reachable is False
    assert customers[701].last_push_at is not None
    assert customers[704].last_push_at is None
    recipients = {r.customer_id: r for r in await _rows(cli.url, models.CampaignRecipient)}
    assert recipients[customers[703].id].status == "failed"
    assert {recipients[customers[t].id].status for t in (701, 702)} == {"sent"}

    again = await cli("push", "run", "--campaign", str(plan["campaign"]))
    assert again.code == 2
    assert again.err_lines == [
        f"o2o: error: campaign {plan['campaign']} is done; plan a new one"
    ], "a finished campaign is not sent twice"
    assert len(fake.messages(701)) == 1


async def test_a_campaign_planned_while_customers_were_pushed_skips_them(
    cli: Cli, sender_env: FakeBotApi
) -> None:
    fake = sender_env
    await _seed(cli.url)
    first = json.loads((await cli("push", "plan", "--store", "central", "--json")).out)[0]
    second = json.loads((await cli("push", "plan", "--store", "central", "--json")).out)[0]
    assert first["audience"] == second["audience"] == 3

    assert (await cli("push", "run", "--campaign", str(first["campaign"]))).code == 0
    result = await cli("push", "run", "--campaign", str(second["campaign"]))

    assert result.code == 0, result.err
    outcome = json.loads(result.out.strip().splitlines()[-1])
    assert (outcome["status"], outcome["sent"], outcome["skipped"]) == ("done", 0, 3)
    for telegram_id in (701, 702, 703):
        assert len(fake.messages(telegram_id)) == 1, "one push within push_min_days"
    reasons = {r.reason for r in await _rows(cli.url, models.CampaignRecipient) if r.reason}
    assert reasons == {"recent_push"}


async def test_push_run_refuses_unknown_campaigns_and_a_missing_token(
    cli: Cli, sender_env: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _seed(cli.url)

    unknown = await cli("push", "run", "--campaign", "99")
    assert unknown.code == 2
    assert unknown.err_lines == ["o2o: error: --campaign: no campaign 99"]
    assert "Traceback" not in unknown.err

    with pytest.raises(SystemExit) as caught:  # argparse's own refusal
        await cli("push", "run", "--campaign", "one")
    assert caught.value.code == 2
    assert "argument --campaign: invalid int value: 'one'" in cli.capsys.readouterr().err

    planned = json.loads((await cli("push", "plan", "--store", "central", "--json")).out)[0]
    monkeypatch.delenv("O2O_BOT_TOKEN")
    tokenless = await cli("push", "run", "--campaign", str(planned["campaign"]))
    assert tokenless.code == 2
    assert "O2O_BOT_TOKEN is not set" in tokenless.err
    [campaign] = await _rows(cli.url, models.Campaign)
    assert campaign.status == "draft", "refused before anything started"

    engine = create_engine(cli.url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await session.execute(
                update(models.Campaign)
                .where(models.Campaign.id == planned["campaign"])
                .values(status="cancelled")
            )
    finally:
        await engine.dispose()
    cancelled = await cli("push", "run", "--campaign", str(planned["campaign"]), "--follow")
    assert cancelled.code == 2
    assert cancelled.err_lines == [
        f"o2o: error: campaign {planned['campaign']} is cancelled; plan a new one"
    ]
