"""Campaign planning on DataFrames and on real databases; campaign results from the tables.

`plan_pushes` is pure: the first half builds `MarketingData` by hand so each kind's items can be
worked out on paper. The second half plans on a seeded database (through the same loader the
bot uses) and counts a campaign's orders within the attribution window.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from analytics.recommend import REASON_STORE, REASON_SVD, REASON_TIER
from analytics.rfm import SEGMENTS
from bot.campaigns import CampaignError, CampaignPlan, campaign_results, plan_campaign, plan_pushes
from bot.db import models
from bot.db.campaigns import MarketingData, load_marketing_data
from bot.db.repositories import store_from_row
from bot.seed import seed_demo_data
from domain.stores import Store, StoreSettings

NOW = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)  # Monday 17:30 in Shanghai
HERE, ELSEWHERE = 1, 2
# products: old croissant, old untracked latte, sold-out tiramisu, new cheesecake, new untracked
# matcha, new sold-out muffin, tea sold only elsewhere, an old scone
CROISSANT, LATTE, TIRAMISU, CHEESECAKE, MATCHA, MUFFIN, TEA, SCONE = range(10, 18)
NEVER = {TIRAMISU, MUFFIN, TEA}  # sold out here, or not sold here
C1, C2, C3, C4, C5 = 1, 2, 3, 4, 5


def policy(kind: str, model: str = "classic8") -> str:
    """A push_policy giving every segment of the model this kind."""
    return ",".join(f"{s.id}={kind}" for s in SEGMENTS[model])  # type: ignore[index]


def store(**settings: Any) -> Store:
    return Store(
        code="central",
        name="Central Café",
        timezone="Asia/Shanghai",
        currency="CNY",
        id=HERE,
        settings=StoreSettings(**settings),
    )


@dataclass
class History:
    """Orders, customers and the catalog, turned into MarketingData."""

    lines: list[tuple[int, int, int, int, datetime]] = field(default_factory=list)
    totals: list[tuple[int, int, datetime, int]] = field(default_factory=list)
    customers: dict[int, dict[str, Any]] = field(default_factory=dict)
    surveys: list[tuple[int, int]] = field(default_factory=list)
    created: dict[int, datetime] = field(default_factory=dict)
    stock: dict[tuple[int, int], float | None] = field(default_factory=dict)

    def order(self, customer: int, days_ago: float, items: Iterable[int], where: int = HERE) -> int:
        order_id = len(self.totals) + 1
        placed = NOW - timedelta(days=days_ago)
        for item in items:
            self.lines.append((order_id, customer, where, item, placed))
        self.totals.append((customer, where, placed, 2000))
        self.customers.setdefault(customer, {})
        return order_id

    def data(self) -> MarketingData:
        customers = pd.DataFrame(
            [
                {
                    "customer_id": c,
                    "telegram_id": 1000 + c,
                    "language": "en",
                    "consent": state.get("consent", True),
                    "reachable": state.get("reachable", True),
                    "last_push_at": state.get("last_push_at"),
                }
                for c, state in sorted(self.customers.items())
            ],
            columns=[
                "customer_id",
                "telegram_id",
                "language",
                "consent",
                "reachable",
                "last_push_at",
            ],
        )
        lines = pd.DataFrame(
            self.lines, columns=["order_id", "customer_id", "store_id", "product_id", "placed_at"]
        )
        lines["placed_at"] = pd.to_datetime(lines["placed_at"], utc=True)
        return MarketingData(
            lines=lines,
            surveys=pd.DataFrame(self.surveys, columns=["order_id", "score"]),
            totals=pd.DataFrame(self.totals, columns=["customer_id", "store_id", "date", "amount"]),
            stock=pd.DataFrame(
                [(s, p, v) for (s, p), v in self.stock.items()],
                columns=["store_id", "product_id", "stock"],
            ),
            products=pd.DataFrame(
                [(p, f"#{p}", {}, at) for p, at in self.created.items()],
                columns=["product_id", "name", "names", "created_at"],
            ),
            customers=customers,
        )


def cafe() -> History:
    """Four customers at the store, one elsewhere.

    Over the last 90 days tiramisu had 3 buyers, latte 2, croissant 1 (C4's croissant and
    scone are older); tiramisu is sold out, so the bestsellers are latte, croissant. C1 bought
    croissant in 3 orders (and tiramisu in 2), C2 latte in 2: their favourites.
    """
    history = History()
    history.order(C1, 2, [CROISSANT, TIRAMISU])
    history.order(C1, 10, [CROISSANT, LATTE])
    history.order(C1, 20, [CROISSANT, TIRAMISU])
    history.order(C2, 3, [LATTE])
    history.order(C2, 40, [LATTE, TIRAMISU])
    history.order(C3, 60, [TIRAMISU])
    history.order(C4, 100, [CROISSANT, SCONE])
    history.order(C5, 1, [TEA, LATTE], where=ELSEWHERE)
    old = NOW - timedelta(days=200)
    history.created = {
        CROISSANT: old,
        LATTE: old,
        TIRAMISU: old,
        CHEESECAKE: NOW - timedelta(days=5),
        MATCHA: NOW - timedelta(days=1),
        MUFFIN: NOW - timedelta(days=2),
        TEA: old,
        SCONE: old,
    }
    history.stock = {
        (HERE, CROISSANT): 24,
        (HERE, LATTE): None,
        (HERE, TIRAMISU): 0,
        (HERE, CHEESECAKE): 6,
        (HERE, MATCHA): None,
        (HERE, MUFFIN): 0,
        (HERE, SCONE): 3,
        (ELSEWHERE, TEA): None,
        (ELSEWHERE, LATTE): None,
    }
    return history


def by_customer(plan: CampaignPlan) -> dict[int, tuple[str, list[list[Any]]]]:
    return {push.customer_id: (push.kind, push.items) for push in plan.pushes}


def offered(plan: CampaignPlan) -> set[int]:
    return {int(item) for push in plan.pushes for item, _ in push.items}


# --------------------------------------------------------------------------- kinds


def test_bestsellers_and_winback_list_the_stores_bestsellers_by_recent_buyers() -> None:
    data = cafe().data()
    for kind in ("bestsellers", "winback"):
        plan = plan_pushes(data, store(push_policy=policy(kind)), NOW)

        expected = [[LATTE, "bestseller"], [CROISSANT, "bestseller"]]
        assert by_customer(plan) == {c: (kind, expected) for c in (C1, C2, C3, C4)}, kind
        assert plan.customers == 4, "only this store's customers"
        assert sum(s.audience for s in plan.segments) == 4


def test_new_arrivals_are_products_of_the_last_30_days_newest_first() -> None:
    plan = plan_pushes(cafe().data(), store(push_policy=policy("new_arrivals")), NOW)

    expected = ("new_arrivals", [[MATCHA, "new"], [CHEESECAKE, "new"]])  # the muffin sold out
    assert by_customer(plan) == dict.fromkeys((C1, C2, C3, C4), expected)


def test_new_arrivals_fall_back_to_bestsellers_when_nothing_is_new() -> None:
    history = cafe()
    history.created = dict.fromkeys(history.created, NOW - timedelta(days=31))
    plan = plan_pushes(history.data(), store(push_policy=policy("new_arrivals")), NOW)

    for kind, items in by_customer(plan).values():
        assert kind == "bestsellers"
        assert items == [[LATTE, "bestseller"], [CROISSANT, "bestseller"]]
    shown = {s.sample_kind for s in plan.segments if s.audience}
    assert shown == {"bestsellers"}, "the preview shows what is actually sent"


def test_favourites_need_two_orders_and_otherwise_fall_back_to_personal_picks() -> None:
    plan = plan_pushes(cafe().data(), store(push_policy=policy("favourites")), NOW, seed=3)
    pushes = by_customer(plan)

    assert pushes[C1] == ("favourites", [[CROISSANT, "favourite"]]), "tiramisu is sold out"
    assert pushes[C2] == ("favourites", [[LATTE, "favourite"]])
    for customer in (C3, C4):  # one order each: no favourites
        kind, items = pushes[customer]
        assert kind == "recommended"
        assert 0 < len(items) <= 3
        assert {reason for _, reason in items} <= {REASON_SVD, REASON_TIER, REASON_STORE}
    assert not offered(plan) & NEVER


def test_personal_picks_leave_out_sold_out_foreign_and_recently_bought_products() -> None:
    history = cafe()
    history.surveys = [(1, 5), (2, 4), (4, 2)]
    plan = plan_pushes(history.data(), store(push_policy=policy("recommended")), NOW, seed=1)
    pushes = by_customer(plan)

    assert set(pushes) == {C1, C2, C3, C4}
    for kind, items in pushes.values():
        assert kind == "recommended"
        assert 1 <= len(items) <= 3
        assert len({item for item, _ in items}) == len(items)
    assert not offered(plan) & NEVER
    assert CROISSANT not in {item for item, _ in pushes[C1][1]}, "C1 bought it 2 days ago"
    assert LATTE not in {item for item, _ in pushes[C2][1]}, "C2 bought it 3 days ago"
    again = plan_pushes(history.data(), store(push_policy=policy("recommended")), NOW, seed=1)
    assert by_customer(again) == pushes, "seeded"


def test_sold_out_products_are_never_offered_whatever_the_kind() -> None:
    history = cafe()
    history.stock[(HERE, LATTE)] = 0  # the top bestseller and C2's favourite sells out
    data = history.data()
    for kind in ("recommended", "favourites", "new_arrivals", "winback", "bestsellers"):
        plan = plan_pushes(data, store(push_policy=policy(kind)), NOW)
        assert plan.pushes, kind
        assert not offered(plan) & (NEVER | {LATTE}), kind


def test_nothing_is_pushed_when_the_store_has_nothing_to_offer() -> None:
    history = cafe()
    history.stock = {key: 0 for key in history.stock}
    plan = plan_pushes(history.data(), store(push_policy=policy("winback")), NOW)

    assert plan.pushes == []
    assert sum(s.nothing for s in plan.segments) == 4
    assert sum(s.audience for s in plan.segments) == 0


def test_a_segment_with_kind_none_is_counted_but_never_pushed() -> None:
    plan = plan_pushes(cafe().data(), store(push_policy=policy("none")), NOW)

    assert plan.pushes == []
    assert sum(s.customers for s in plan.segments) == 4
    for segment in plan.segments:
        assert (segment.kind, segment.no_consent, segment.nothing) == ("none", 0, 0)


# --------------------------------------------------------------------------- who


def test_consent_reachability_and_the_frequency_cap_leave_customers_out() -> None:
    history = cafe()
    history.customers[C1] = {"last_push_at": NOW - timedelta(days=7)}  # exactly 7 days: allowed
    history.customers[C2] = {"consent": False}
    history.customers[C3] = {"reachable": False, "consent": False}  # blocked wins
    history.customers[C4] = {"last_push_at": NOW - timedelta(days=6, hours=23)}
    plan = plan_pushes(history.data(), store(push_policy=policy("winback")), NOW)

    assert [push.customer_id for push in plan.pushes] == [C1]
    totals = {
        name: sum(getattr(s, name) for s in plan.segments)
        for name in ("audience", "no_consent", "unreachable", "recent_push", "nothing")
    }
    assert totals == {
        "audience": 1,
        "no_consent": 1,
        "unreachable": 1,
        "recent_push": 1,
        "nothing": 0,
    }
    assert plan.to_json()["audience"] == 1

    longer = plan_pushes(history.data(), store(push_policy=policy("winback"), push_min_days=8), NOW)
    assert longer.pushes == [], "C1 is within 8 days"


def test_the_default_policy_follows_the_segments() -> None:
    plan = plan_pushes(cafe().data(), store(), NOW)

    segment_of = {push.customer_id: push.segment for push in plan.pushes}
    assert len(segment_of) == 4
    json = plan.to_json()
    assert json["model"] == "classic8"
    assert json["as_of"] == "2026-05-05", "the store's tomorrow"
    assert set(json["segments"]) == {s.id for s in SEGMENTS["classic8"]}
    for customer, segment in segment_of.items():
        kind = json["segments"][segment]["kind"]
        sent = by_customer(plan)[customer][0]
        assert sent == kind or (kind, sent) in {
            ("favourites", "recommended"),
            ("recommended", "bestsellers"),
            ("new_arrivals", "bestsellers"),
            ("favourites", "bestsellers"),
        }
    assert segment_of[C1] == "important_value", "most recent, most frequent, biggest spender"
    assert by_customer(plan)[C1][0] == "recommended"


def test_the_quintile_model_plans_over_its_own_segments() -> None:
    plan = plan_pushes(
        cafe().data(), store(rfm_model="quintile", push_policy=policy("winback", "quintile")), NOW
    )
    assert plan.model == "quintile"
    assert {s.segment for s in plan.segments} == {s.id for s in SEGMENTS["quintile"]}
    assert {push.segment for push in plan.pushes} <= {s.id for s in SEGMENTS["quintile"]}
    assert len(plan.pushes) == 4


def test_a_store_without_completed_orders_has_nobody_to_push() -> None:
    history = cafe()
    history.lines = [line for line in history.lines if line[2] == ELSEWHERE]
    history.totals = [total for total in history.totals if total[1] == ELSEWHERE]
    plan = plan_pushes(history.data(), store(), NOW)

    assert (plan.customers, plan.segments, plan.pushes) == (0, [], [])


# --------------------------------------------------------------------------- database


async def _seeded(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """The demo stores and catalog (made 100 days ago); product ids by sku."""
    await seed_demo_data(sessionmaker, NOW - timedelta(days=100))
    async with sessionmaker() as session:
        rows = await session.execute(select(models.Product.sku, models.Product.id))
        return {sku: product_id for sku, product_id in rows}


async def _customer(
    sessionmaker: async_sessionmaker[AsyncSession], telegram_id: int, **values: Any
) -> int:
    async with sessionmaker() as session, session.begin():
        row = models.Customer(
            telegram_id=telegram_id,
            first_name=f"C{telegram_id}",
            created_at=NOW - timedelta(days=200),
            updated_at=NOW - timedelta(days=200),
            **({"marketing_consent": True} | values),
        )
        session.add(row)
        await session.flush()
        return row.id


async def _order(
    sessionmaker: async_sessionmaker[AsyncSession],
    customer_id: int,
    placed: datetime,
    items: Iterable[int] = (),
    *,
    code: str = "central",
    status: str = "completed",
) -> None:
    async with sessionmaker() as session, session.begin():
        store_id = await session.scalar(select(models.Store.id).where(models.Store.code == code))
        number = await session.scalar(select(models.Order.id).order_by(models.Order.id.desc()))
        key = f"t:{(number or 0) + 1}"
        order = models.Order(
            number=key,
            store_id=store_id,
            customer_id=customer_id,
            idempotency_key=key,
            status=status,
            fulfilment="pickup",
            subtotal_minor=1500,
            total_minor=1500,
            currency="CNY",
            placed_at=placed,
            completed_at=placed + timedelta(minutes=20) if status == "completed" else None,
        )
        session.add(order)
        await session.flush()
        for item in items:
            session.add(
                models.OrderLine(
                    order_id=order.id,
                    product_id=item,
                    name=f"#{item}",
                    unit_price_minor=1500,
                    quantity=1,
                    line_total_minor=1500,
                )
            )


async def test_plan_campaign_saves_a_draft_with_one_recipient_per_push(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    sku = await _seeded(sessionmaker)
    one = await _customer(sessionmaker, 501)
    two = await _customer(sessionmaker, 502)
    shy = await _customer(sessionmaker, 503, marketing_consent=False)
    for customer, days in ((one, 2), (one, 9), (two, 30), (shy, 4)):
        await _order(sessionmaker, customer, NOW - timedelta(days=days), [sku["croissant"]])
    await _order(sessionmaker, two, NOW - timedelta(days=1), [sku["latte"]], status="rejected")

    plan = await plan_campaign(sessionmaker, engine, "central", NOW, origin="cli")

    assert plan.id is not None
    assert (plan.customers, len(plan.pushes)) == (3, 2), "the rejected order does not count"
    async with sessionmaker() as session:
        campaign = await session.get(models.Campaign, plan.id)
        recipients = list(
            await session.scalars(
                select(models.CampaignRecipient).order_by(models.CampaignRecipient.customer_id)
            )
        )
    assert campaign is not None
    assert (campaign.status, campaign.origin, campaign.audience) == ("draft", "cli", 2)
    assert campaign.confirmed_at is None
    assert campaign.plan == plan.to_json()
    assert [(r.customer_id, r.status) for r in recipients] == [(one, "planned"), (two, "planned")]
    for recipient in recipients:
        assert recipient.items, "what the push lists is stored with it"
        assert all(isinstance(item, int) for item, _ in recipient.items)

    started = await plan_campaign(sessionmaker, engine, "central", NOW, origin="weekly", start=True)
    async with sessionmaker() as session:
        row = await session.get(models.Campaign, started.id)
    assert row is not None
    assert (row.status, row.origin) == ("running", "weekly")
    assert row.confirmed_at is not None

    nobody = await plan_campaign(sessionmaker, engine, "riverside", NOW, origin="cli", start=True)
    async with sessionmaker() as session:
        empty = await session.get(models.Campaign, nobody.id)
    assert empty is not None
    assert (nobody.customers, empty.status, empty.audience) == (0, "done", 0)

    with pytest.raises(CampaignError, match="no store 'nowhere'"):
        await plan_campaign(sessionmaker, engine, "nowhere", NOW, origin="cli")


async def test_sold_out_inactive_and_unlisted_products_are_never_offered_from_the_database(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    sku = await _seeded(sessionmaker)
    customers = [await _customer(sessionmaker, 600 + n) for n in range(4)]
    popular = ["pain-au-chocolat", "croissant", "latte", "cheesecake", "banana-bread"]
    for n, customer in enumerate(customers):
        await _order(sessionmaker, customer, NOW - timedelta(days=3 + n), [sku[s] for s in popular])
        await _order(sessionmaker, customer, NOW - timedelta(days=20 + n), [sku["croissant"]])
    central = select(models.Store.id).where(models.Store.code == "central").scalar_subquery()
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(models.Product).where(models.Product.sku == "latte").values(active=False)
        )
        await session.execute(
            update(models.StoreProduct)
            .where(
                models.StoreProduct.store_id == central,
                models.StoreProduct.product_id == sku["cheesecake"],
            )
            .values(available=False)
        )
        await session.execute(
            update(models.StoreProduct)
            .where(
                models.StoreProduct.store_id == central,
                models.StoreProduct.product_id == sku["croissant"],
            )
            .values(stock=0)
        )
    never = {sku[s] for s in ("pain-au-chocolat", "latte", "cheesecake", "croissant")}

    data = await load_marketing_data(engine)
    async with sessionmaker() as session:
        row = await session.scalar(select(models.Store).where(models.Store.code == "central"))
    assert row is not None
    central_store = store_from_row(row)
    for kind in ("recommended", "favourites", "new_arrivals", "winback", "bestsellers"):
        settings = StoreSettings(push_policy=policy(kind))
        central_store.settings = settings
        plan = plan_pushes(data, central_store, NOW)
        assert len(plan.pushes) == 4, kind
        assert not offered(plan) & never, kind
        if kind == "winback":
            items = [item for item, _ in plan.pushes[0].items]
            assert items == [sku["banana-bread"]], "the only bestseller left"
        if kind == "new_arrivals":  # the catalog is 100 days old
            assert {push.kind for push in plan.pushes} == {"bestsellers"}


# --------------------------------------------------------------------------- results


async def _campaign(
    sessionmaker: async_sessionmaker[AsyncSession],
    created: datetime,
    recipients: list[tuple[int, str, datetime | None, datetime | None]],
    *,
    status: str = "done",
    code: str = "central",
) -> int:
    """A campaign with (customer id, status, sent_at, opened_at) recipients; its id."""
    async with sessionmaker() as session, session.begin():
        store_id = await session.scalar(select(models.Store.id).where(models.Store.code == code))
        campaign = models.Campaign(
            store_id=store_id,
            status=status,
            origin="cli",
            model="classic8",
            plan={},
            created_at=created,
            audience=len(recipients),
        )
        session.add(campaign)
        await session.flush()
        for customer_id, state, sent, opened in recipients:
            session.add(
                models.CampaignRecipient(
                    campaign_id=campaign.id,
                    customer_id=customer_id,
                    segment="general_winback",
                    kind="winback",
                    items=[],
                    status=state,
                    sent_at=sent,
                    opened_at=opened,
                )
            )
        return campaign.id


async def test_campaign_results_count_orders_within_seven_days_of_each_customers_push(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _seeded(sessionmaker)
    early, late, skipped, outsider = [await _customer(sessionmaker, 700 + n) for n in range(4)]
    start = NOW - timedelta(days=1)
    pushed_early, pushed_late = start + timedelta(minutes=5), start + timedelta(days=2)
    campaign = await _campaign(
        sessionmaker,
        start,
        [
            (early, "sent", pushed_early, pushed_early + timedelta(hours=1)),
            (late, "sent", pushed_late, None),
            (skipped, "skipped", None, None),
        ],
    )
    week = timedelta(days=7)
    for customer, placed in (
        (early, pushed_early - timedelta(seconds=1)),  # before the push: no
        (early, pushed_early),  # at the push: yes
        (early, pushed_early + week - timedelta(seconds=1)),  # yes
        (early, pushed_early + week),  # the window is over: no
        (late, pushed_early + timedelta(days=1)),  # before *their* push: no
        (late, pushed_late + week - timedelta(minutes=1)),  # within their own window: yes
        (skipped, pushed_early + timedelta(hours=1)),  # not pushed: no
        (outsider, pushed_early + timedelta(hours=1)),  # not a recipient: no
    ):
        await _order(sessionmaker, customer, placed)
    await _order(sessionmaker, early, pushed_early + timedelta(hours=2), code="riverside")
    draft = await _campaign(sessionmaker, start, [(early, "planned", None, None)], status="draft")
    elsewhere = await _campaign(
        sessionmaker, start, [(early, "sent", pushed_early, None)], code="riverside"
    )

    results = await campaign_results(engine, "central", start, start + timedelta(days=1))

    assert [(r.id, r.status, r.sent, r.opened, r.orders) for r in results] == [
        (campaign, "done", 2, 1, 3)
    ]
    everywhere = await campaign_results(engine, None, start, start + timedelta(days=1))
    assert [r.id for r in everywhere] == [campaign, elsewhere], "drafts are not campaigns yet"
    assert draft not in [r.id for r in everywhere]
    assert [r.orders for r in everywhere] == [3, 1], "riverside's order counts for riverside"
    assert await campaign_results(engine, "central", start + timedelta(seconds=1), NOW) == []


async def test_campaign_results_of_a_campaign_bigger_than_a_query_s_parameters(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """SQLite and PostgreSQL take at most 32,766 / 32,767 parameters in one statement."""
    await _seeded(sessionmaker)
    size = 33_000
    start = NOW - timedelta(days=1)
    async with sessionmaker() as session, session.begin():
        await session.execute(
            insert(models.Customer),
            [
                {"telegram_id": 10_000 + n, "created_at": start, "updated_at": start}
                for n in range(size)
            ],
        )
        ids = list(await session.scalars(select(models.Customer.id).order_by(models.Customer.id)))
    campaign = await _campaign(sessionmaker, start, [])
    async with sessionmaker() as session, session.begin():
        await session.execute(
            insert(models.CampaignRecipient),
            [
                {
                    "campaign_id": campaign,
                    "customer_id": customer,
                    "segment": "general_winback",
                    "kind": "winback",
                    "items": [],
                    "status": "sent",
                    "sent_at": start + timedelta(minutes=1),
                }
                for customer in ids
            ],
        )
    await _order(sessionmaker, ids[-1], start + timedelta(hours=1))

    [result] = await campaign_results(engine, "central", start, NOW)

    assert (result.sent, result.orders) == (size, 1)
