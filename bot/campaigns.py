"""Push campaigns: planned per RFM segment, previewed, then fed to the outbox within the limits.

Planning (`plan_campaign`) reads every completed sale, scores the store's customers by RFM, picks
what each segment is offered (the store's `push_policy`) and, for personal picks, fits the
recommender afresh (so a weekly campaign is a weekly retrain). Only customers who may be pushed
to become recipients; the preview says how many were left out and why.

Sending (`CampaignWorker`) keeps at most `window` pushes of a campaign waiting in the outbox, so
order notifications never queue behind thousands of pushes while the sender still runs at the
30 messages/second limit. Each push is claimed with one compare-and-set on the customer
(consent given, reachable, no push within `push_min_days`), so two processes or two campaigns
never push one customer twice in the window. Nothing is queued in the store's quiet hours. The
manager's message is edited with the progress; the outcome of each push is read back from its
outbox row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db import models
from bot.db.campaigns import MarketingData, load_marketing_data, rows_changed
from bot.db.leader import Leadership
from bot.db.repositories import store_from_row
from bot.db.uow import SqlUnitOfWork
from domain.campaigns import (
    ATTRIBUTION_WINDOW,
    MAX_ITEMS,
    SKIP_NO_CONSENT,
    SKIP_RECENT_PUSH,
    SKIP_UNREACHABLE,
    next_weekly_slot,
    parse_policy,
    push_allowed,
)
from domain.clock import Clock
from domain.stores import Store
from domain.surveys import outside_quiet_hours
from handlers.callbacks import CallbackCodec
from handlers.i18n import Translator
from handlers.outbound import OutboundCall, send_message
from handlers.push_flow import (
    campaign_ref,
    preview_keyboard,
    progress_edit,
    push_message,
    push_text,
)
from handlers.turn import CoreConfig

log = logging.getLogger(__name__)
# pandas, surprise and analytics/ are imported inside the planning functions: an idle bot (and
# its weekly campaign worker, waiting for the slot) does not carry them in memory.

NEW_ARRIVAL_DAYS = 30  # a product added this recently is "new"
RECENT_PURCHASE_DAYS = 14  # picks leave out what the customer bought this recently
PROGRESS_EVERY = timedelta(seconds=5)  # the manager's message is edited at most this often
WEEKLY_GRACE = timedelta(hours=1)  # a first weekly slot missed by more than this waits a week
DEFAULT_WINDOW = 60  # pushes of one campaign waiting in the outbox at once (2 s at 30/s)


class CampaignError(ValueError):
    """A campaign cannot be planned or run (unknown store, unknown campaign)."""


@dataclass(frozen=True)
class PlannedPush:
    """One customer's push as planned."""

    customer_id: int
    segment: str
    kind: str
    items: list[list[Any]]  # [[product id, reason], ...]


@dataclass
class SegmentPlan:
    """How one segment is pushed: its kind, its size and who was left out."""

    segment: str
    kind: str
    customers: int = 0
    audience: int = 0
    no_consent: int = 0
    unreachable: int = 0
    recent_push: int = 0
    nothing: int = 0
    sample: list[list[Any]] = field(default_factory=list)  # one planned push's items
    sample_kind: str = ""  # what that push is (a kind with nothing to show falls back)

    def to_json(self) -> dict[str, Any]:
        """The campaign's plan entry for this segment."""
        return {
            "kind": self.kind,
            "customers": self.customers,
            "audience": self.audience,
            "no_consent": self.no_consent,
            "unreachable": self.unreachable,
            "recent_push": self.recent_push,
            "nothing_to_offer": self.nothing,
            "sample": self.sample,
            "sample_kind": self.sample_kind,
        }


@dataclass
class CampaignPlan:
    """A planned campaign: the RFM it rests on, each segment's plan and every push."""

    store: Store
    as_of: date
    model: str
    customers: int
    segments: list[SegmentPlan]
    pushes: list[PlannedPush]
    id: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The `o2o push plan --json` object (and the campaign's stored plan)."""
        return {
            "campaign": self.id,
            "store": self.store.code,
            "as_of": self.as_of.isoformat(),
            "model": self.model,
            "customers": self.customers,
            "audience": len(self.pushes),
            "segments": {s.segment: s.to_json() for s in self.segments},
        }


def local_today(now: datetime, timezone: str) -> date:
    """The store-local date at `now`."""
    return now.astimezone(ZoneInfo(timezone)).date()


def plan_pushes(data: MarketingData, store: Store, now: datetime, seed: int = 0) -> CampaignPlan:
    """Segment the store's customers and choose each one's push (pure, runs in a thread)."""
    import pandas as pd

    from analytics.rfm import SEGMENTS, RfmError, compute_rfm

    assert store.id is not None
    settings = store.settings
    policy = parse_policy(settings.push_policy)
    model = settings.rfm_model
    as_of = local_today(now, store.timezone) + timedelta(days=1)
    totals = data.totals[data.totals["store_id"] == store.id]
    if totals.empty:
        return CampaignPlan(store, as_of, model, 0, [], [])
    local = pd.to_datetime(totals["date"], utc=True).dt.tz_convert(store.timezone)
    try:
        rfm = compute_rfm(totals.assign(date=local.dt.tz_localize(None)), as_of, cast(Any, model))
    except RfmError:
        log.exception("rfm failed for a campaign", extra={"store": store.code})
        return CampaignPlan(store, as_of, model, 0, [], [])
    segment_of: dict[int, str] = dict(
        zip(
            rfm.customers["customer_id"].astype("int64").tolist(),
            rfm.customers["segment"].astype(str).tolist(),
            strict=True,
        )
    )
    state = data.customers.set_index("customer_id")
    usable = _usable_items(data, store.id)
    bestsellers = _bestsellers(data, store.id, usable, now)
    new_items = _new_arrivals(data, usable, now)
    favourites = _favourites(data, store.id, usable)
    segments = {
        s.id: SegmentPlan(s.id, policy.get(s.id, "none")) for s in SEGMENTS[cast(Any, model)]
    }
    eligible: dict[int, str] = {}
    for customer_id, segment in segment_of.items():
        plan = segments[segment]
        plan.customers += 1
        if plan.kind == "none" or customer_id not in state.index:
            continue
        row = state.loc[customer_id]
        if not bool(row["reachable"]):
            plan.unreachable += 1
        elif not bool(row["consent"]):
            plan.no_consent += 1
        elif not push_allowed(_aware(row["last_push_at"]), now, settings.push_min_days):
            plan.recent_push += 1
        else:
            eligible[customer_id] = plan.kind
    wants_picks = [c for c, kind in eligible.items() if kind in ("recommended", "favourites")]
    picks = _recommended(data, store.id, wants_picks, segment_of, usable, now, seed)
    pushes: list[PlannedPush] = []
    for customer_id, kind in eligible.items():
        segment = segment_of[customer_id]
        chosen_kind, items = _items_for(
            kind, customer_id, picks, favourites, new_items, bestsellers
        )
        plan = segments[segment]
        if not items:
            plan.nothing += 1
            continue
        plan.audience += 1
        if not plan.sample:
            plan.sample, plan.sample_kind = items, chosen_kind
        pushes.append(PlannedPush(customer_id, segment, chosen_kind, items))
    return CampaignPlan(store, as_of, model, len(segment_of), list(segments.values()), pushes)


def _aware(value: Any) -> datetime | None:
    import pandas as pd

    if value is None or pd.isna(value):
        return None
    moment = pd.Timestamp(value)
    return (moment.tz_localize("UTC") if moment.tzinfo is None else moment).to_pydatetime()


def _items_for(
    kind: str,
    customer_id: int,
    picks: Mapping[int, list[list[Any]]],
    favourites: Mapping[int, list[int]],
    new_items: list[int],
    bestsellers: list[int],
) -> tuple[str, list[list[Any]]]:
    """(the kind actually sent, [[product id, reason]...]); an empty kind falls back."""
    if kind == "favourites" and favourites.get(customer_id):
        return kind, [[item, "favourite"] for item in favourites[customer_id][:MAX_ITEMS]]
    if kind in ("recommended", "favourites") and picks.get(customer_id):
        return "recommended", picks[customer_id]
    if kind == "new_arrivals" and new_items:
        return kind, [[item, "new"] for item in new_items[:MAX_ITEMS]]
    if kind == "winback" and bestsellers:
        return kind, [[item, "bestseller"] for item in bestsellers[:MAX_ITEMS]]
    if bestsellers:
        return "bestsellers", [[item, "bestseller"] for item in bestsellers[:MAX_ITEMS]]
    return kind, []


def _usable_items(data: MarketingData, store_id: int) -> set[int]:
    """Products on sale at the store and not sold out."""
    stock = data.stock[data.stock["store_id"] == store_id]
    sold_out = stock["stock"].notna() & (stock["stock"] <= 0)
    return {int(item) for item in stock.loc[~sold_out, "product_id"]}


def _bestsellers(data: MarketingData, store_id: int, usable: set[int], now: datetime) -> list[int]:
    """The store's products by distinct buyers over the last 90 days (all time if none)."""
    import pandas as pd

    lines = data.lines[data.lines["store_id"] == store_id]
    if lines.empty:
        return []
    recent = lines[lines["placed_at"] >= pd.Timestamp(now - timedelta(days=90))]
    source = recent if not recent.empty else lines
    buyers = source.groupby("product_id")["customer_id"].nunique()
    ranked = buyers.reset_index().sort_values(
        ["customer_id", "product_id"], ascending=[False, True]
    )
    return [int(item) for item in ranked["product_id"] if int(item) in usable]


def _new_arrivals(data: MarketingData, usable: set[int], now: datetime) -> list[int]:
    """Products added in the last NEW_ARRIVAL_DAYS that the store sells, newest first."""
    import pandas as pd

    products = data.products
    if products.empty:
        return []
    created = pd.to_datetime(products["created_at"], utc=True)
    fresh = products[created >= pd.Timestamp(now - timedelta(days=NEW_ARRIVAL_DAYS))]
    fresh = fresh.assign(created=created[fresh.index]).sort_values(
        ["created", "product_id"], ascending=[False, True]
    )
    return [int(item) for item in fresh["product_id"] if int(item) in usable]


def _favourites(data: MarketingData, store_id: int, usable: set[int]) -> dict[int, list[int]]:
    """Per customer: products bought at the store in two orders or more, available now."""
    lines = data.lines[data.lines["store_id"] == store_id]
    if lines.empty:
        return {}
    per_item = lines.groupby(["customer_id", "product_id"])["order_id"].nunique()
    counts = per_item[per_item >= 2].reset_index()
    counts = counts[counts["product_id"].isin(usable)].sort_values(
        ["customer_id", "order_id", "product_id"], ascending=[True, False, True]
    )
    favourites: dict[int, list[int]] = {}
    for customer, item in zip(counts["customer_id"], counts["product_id"], strict=True):
        favourites.setdefault(int(customer), []).append(int(item))
    return favourites


def _recommended(
    data: MarketingData,
    store_id: int,
    customers: list[int],
    segment_of: Mapping[int, str],
    usable: set[int],
    now: datetime,
    seed: int,
) -> dict[int, list[list[Any]]]:
    """Personal picks (SVD blend with tier and store fallbacks) for these customers."""
    import pandas as pd

    from analytics.recommend import (
        build_ratings,
        fit_svd,
        popularity,
        recent_purchases,
        recommend_all,
    )

    if not customers or data.lines.empty:
        return {}
    ratings = build_ratings(data.lines, data.surveys)
    algo = fit_svd(ratings, seed=seed) if not ratings.empty else None
    recent = recent_purchases(data.lines, pd.Timestamp(now), RECENT_PURCHASE_DAYS)
    tiers: dict[Hashable, str] = {customer: tier for customer, tier in segment_of.items()}
    popular = popularity(data.lines, tiers)
    frame = pd.DataFrame(
        {
            "customer": customers,
            "store": [store_id] * len(customers),
            "tier": [segment_of.get(c) for c in customers],
        }
    )
    chosen = recommend_all(
        algo,
        frame,
        popular,
        n=MAX_ITEMS,
        store_items={store_id: usable},
        recent=recent,
    )
    return {
        int(cast(int, customer)): [[int(cast(int, r.item)), r.reason] for r in found]
        for customer, found in chosen.items()
        if found
    }


# --------------------------------------------------------------------------- store


async def _store_by_code(session: AsyncSession, code: str) -> Store:
    row = await session.scalar(select(models.Store).where(models.Store.code == code))
    if row is None:
        raise CampaignError(f"no store {code!r}")
    return store_from_row(row)


async def plan_campaign(
    sessionmaker: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    store_code: str,
    now: datetime,
    *,
    origin: str,
    created_by: int | None = None,
    chat_id: int | None = None,
    locale: str = "en",
    start: bool = False,
    seed: int = 0,
) -> CampaignPlan:
    """Plan a campaign for the store and save it as a draft (or running, with `start`)."""
    async with sessionmaker() as session:
        store = await _store_by_code(session, store_code)
    data = await load_marketing_data(engine)
    plan = await asyncio.to_thread(plan_pushes, data, store, now, seed)
    async with sessionmaker() as session, session.begin():
        campaign = models.Campaign(
            store_id=store.id,
            status="running" if start and plan.pushes else "draft",
            origin=origin,
            model=plan.model,
            created_by=created_by,
            chat_id=chat_id,
            locale=locale,
            audience=len(plan.pushes),
            plan={},
            created_at=now,
            confirmed_at=now if start else None,
        )
        session.add(campaign)
        await session.flush()
        plan.id = campaign.id
        campaign.plan = plan.to_json()
        if plan.pushes:
            await session.execute(
                insert(models.CampaignRecipient),
                [
                    {
                        "campaign_id": campaign.id,
                        "customer_id": push.customer_id,
                        "segment": push.segment,
                        "kind": push.kind,
                        "items": push.items,
                        "status": "planned",
                    }
                    for push in plan.pushes
                ],
            )
        elif start:
            campaign.status, campaign.finished_at = "done", now
    return plan


def preview_text(
    translator: Translator, locale: str, plan: CampaignPlan, names: dict[int, str]
) -> str:
    """The manager's preview: per segment the audience, what it gets and a sample push."""
    from analytics.rfm import SEGMENTS

    def t(key: str, /, **params: object) -> str:
        return translator.t(locale, key, **params)

    store = plan.store
    if plan.customers == 0:
        return t("push.no_customers", store=store.name)
    lines = [
        t("push.preview_title", id=plan.id, store=store.name),
        t(
            "push.preview_rfm",
            model=plan.model,
            as_of=plan.as_of.isoformat(),
            customers=plan.customers,
        ),
        "",
    ]
    titles = {
        s.id: (s.zh if locale.startswith("zh") else s.en) for s in SEGMENTS[cast(Any, plan.model)]
    }
    left = {"no_consent": 0, "unreachable": 0, "recent": 0, "nothing": 0}
    for segment in plan.segments:
        if segment.customers == 0:
            continue
        left["no_consent"] += segment.no_consent
        left["unreachable"] += segment.unreachable
        left["recent"] += segment.recent_push
        left["nothing"] += segment.nothing
        lines.append(
            t(
                "push.preview_segment",
                segment=titles.get(segment.segment, segment.segment),
                audience=segment.audience,
                customers=segment.customers,
                kind=t(f"push.kind_label.{segment.kind}"),
            )
        )
        if segment.sample:
            sample = push_text(
                translator,
                locale,
                store.name,
                segment.sample_kind,
                [names.get(int(item), f"#{item}") for item, _reason in segment.sample],
                store.settings.push_winback_offer,
            )
            lines.append(t("push.preview_sample", sample=" ".join(sample.split("\n")[:-1])))
    lines += [
        "",
        t(
            "push.preview_left_out",
            days=store.settings.push_min_days,
            **left,
        ),
        t(
            "push.preview_rules",
            quiet_start=store.settings.push_quiet_start,
            quiet_end=store.settings.push_quiet_end,
        ),
        t("push.preview_total", count=len(plan.pushes))
        if plan.pushes
        else t("push.preview_nobody"),
    ]
    return "\n".join(lines)


async def product_names(session_or_conn: Any, ids: list[int], locale: str) -> dict[int, str]:
    """Product names in the locale (the default name when there is no translation)."""
    if not ids:
        return {}
    rows = await session_or_conn.execute(
        select(models.Product.id, models.Product.name, models.Product.names).where(
            models.Product.id.in_(ids)
        )
    )
    return {row.id: str((row.names or {}).get(locale) or row.name) for row in rows}


async def preview_calls(
    sessionmaker: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    translator: Translator,
    codec: CallbackCodec,
    *,
    store_code: str,
    chat_id: int,
    user_id: int,
    locale: str,
    now: datetime,
) -> list[OutboundCall]:
    """Plan a draft campaign and return its preview with Send / Cancel (for /push)."""
    plan = await plan_campaign(
        sessionmaker,
        engine,
        store_code,
        now,
        origin="chat",
        created_by=user_id,
        chat_id=chat_id,
        locale=locale,
    )
    assert plan.id is not None
    ids = sorted({int(item) for s in plan.segments for item, _ in s.sample})
    async with engine.connect() as conn:
        names = await product_names(conn, ids, locale)
    text = preview_text(translator, locale, plan, names)
    keyboard = preview_keyboard(translator, codec, locale, plan.id, len(plan.pushes))
    return [send_message(chat_id, text, keyboard, ref=campaign_ref(plan.id))]


# --------------------------------------------------------------------------- sending


@dataclass(frozen=True)
class Progress:
    """Where a campaign stands."""

    planned: int
    queued: int
    sent: int
    failed: int
    skipped: int

    @property
    def left(self) -> int:
        """Pushes not yet delivered or given up."""
        return self.planned + self.queued

    @property
    def total(self) -> int:
        """Every recipient."""
        return self.left + self.sent + self.failed + self.skipped


async def campaign_progress(session: Any, campaign_id: int) -> Progress:
    """Counts of the campaign's recipients by status."""
    recipients = models.CampaignRecipient
    rows = await session.execute(
        select(recipients.status, func.count())
        .where(recipients.campaign_id == campaign_id)
        .group_by(recipients.status)
    )
    counts = {status: int(count) for status, count in rows}
    return Progress(
        planned=counts.get("planned", 0),
        queued=counts.get("queued", 0),
        sent=counts.get("sent", 0),
        failed=counts.get("failed", 0),
        skipped=counts.get("skipped", 0),
    )


def progress_bar(progress: Progress, width: int = 20) -> str:
    """A text bar of the share of pushes settled."""
    done = progress.total - progress.left
    filled = round(width * done / progress.total) if progress.total else width
    share = 100 * done / progress.total if progress.total else 100.0
    return "▓" * filled + "░" * (width - filled) + f" {share:.0f}%"


OUTCOMES = {"sent": "sent", "failed": "failed", "dead": "failed", "skipped": "skipped"}


class CampaignWorker:
    """Feeds running campaigns to the outbox and edits their progress; plans weekly ones."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        engine: AsyncEngine,
        clock: Clock,
        translator: Translator,
        codec: CallbackCodec,
        config: CoreConfig,
        on_commit: Callable[[], None],
        *,
        poll_interval: float = 0.5,
        window: int = DEFAULT_WINDOW,
        planner: Leadership | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.engine = engine
        self.clock = clock
        self.translator = translator
        self.codec = codec
        self.config = config
        self.on_commit = on_commit
        self.poll_interval = poll_interval
        self.window = max(1, window)
        # Several processes run a worker on one database; only the sender's leader plans the
        # weekly campaigns, so a week's campaign is not planned once per process.
        self.planner = planner
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()

    def wake(self) -> None:
        """Look at once (a campaign was confirmed)."""
        self._wake.set()

    async def stop(self) -> None:
        """Finish the current tick, then stop."""
        self._stop.set()
        self._wake.set()

    async def run(self) -> None:
        """Tick until stop(): fast while a campaign runs, every few seconds otherwise."""
        while not self._stop.is_set():
            self._wake.clear()
            busy = False
            try:
                busy = await self.run_once() > 0
                await self.plan_weekly()
            except Exception:
                log.exception("campaign worker failed; retrying")
            timeout = self.poll_interval if busy else max(self.poll_interval, 5.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)

    async def run_once(self) -> int:
        """One pass over the running campaigns; returns how many are still running."""
        async with self.sessionmaker() as session:
            running = list(
                await session.scalars(
                    select(models.Campaign.id).where(models.Campaign.status == "running")
                )
            )
            # A stopped campaign's pushes already in the outbox still go out: settle them, and
            # show the manager the stopped campaign's final figures.
            recipients = models.CampaignRecipient
            campaigns = models.Campaign
            stopped = list(
                await session.scalars(
                    select(campaigns.id).where(
                        campaigns.status == "cancelled",
                        campaigns.confirmed_at.is_not(None),
                        or_(
                            campaigns.finished_at >= self.clock.now() - timedelta(days=1),
                            select(recipients.id)
                            .where(
                                recipients.campaign_id == campaigns.id,
                                recipients.status == "queued",
                            )
                            .exists(),
                        ),
                    )
                )
            )
        for campaign_id in stopped:
            await self._feed(campaign_id)
        still = 0
        for campaign_id in running:
            if await self._feed(campaign_id):
                still += 1
        return still

    async def _feed(self, campaign_id: int) -> bool:
        """Settle, queue more (outside quiet hours), edit the progress; True while running."""
        now = self.clock.now()
        wrote = False
        async with self.sessionmaker() as session, session.begin():
            campaign = await session.get(models.Campaign, campaign_id)
            if campaign is None or campaign.status not in ("running", "cancelled"):
                return False
            store_row = await session.get(models.Store, campaign.store_id)
            assert store_row is not None
            store = store_from_row(store_row)
            await self._settle(session, campaign_id)
            if campaign.status == "cancelled":
                progress = await campaign_progress(session, campaign_id)
                state = self._t(campaign, "push.progress_cancelled")
            else:
                settings = store.settings
                resume = outside_quiet_hours(
                    now, settings.push_quiet_start, settings.push_quiet_end, store.timezone
                )
                quiet = resume > now
                if not quiet:
                    wrote = await self._queue(session, campaign, store, now) > 0
                progress = await campaign_progress(session, campaign_id)
                if progress.left == 0:
                    campaign.status, campaign.finished_at = "done", now
                    state = self._t(campaign, "push.progress_done")
                elif quiet:
                    until = resume.astimezone(ZoneInfo(store.timezone)).strftime("%H:%M")
                    state = self._t(campaign, "push.progress_quiet", until=until)
                else:
                    state = self._t(campaign, "push.progress_running")
            wrote = self._edit_progress(session, campaign, store, progress, state, now) or wrote
            running = campaign.status == "running"
        if wrote:
            self.on_commit()
        return running

    def _t(self, campaign: models.Campaign, key: str, /, **params: object) -> str:
        return self.translator.t(campaign.locale, key, **params)

    async def _settle(self, session: AsyncSession, campaign_id: int) -> None:
        """Copy the outcome of sent (or given-up) outbox rows onto their recipients."""
        recipients, outbox = models.CampaignRecipient, models.OutboxMessage
        rows = (
            await session.execute(
                select(recipients.id, outbox.status, outbox.sent_at, outbox.last_error)
                .join(outbox, outbox.id == recipients.outbox_id)
                .where(
                    recipients.campaign_id == campaign_id,
                    recipients.status == "queued",
                    outbox.status != "pending",
                )
            )
        ).all()
        by_outcome: dict[str, list[int]] = {}
        for row in rows:
            by_outcome.setdefault(OUTCOMES.get(row.status, "failed"), []).append(row.id)
        for outcome, ids in by_outcome.items():
            values: dict[str, Any] = {"status": outcome}
            if outcome == "sent":
                values["sent_at"] = (
                    select(outbox.sent_at)
                    .where(outbox.id == recipients.outbox_id)
                    .scalar_subquery()
                )
            else:
                values["reason"] = SKIP_UNREACHABLE if outcome == "skipped" else "send_failed"
            for start in range(0, len(ids), 500):
                await rows_changed(
                    session,
                    update(recipients)
                    .where(recipients.id.in_(ids[start : start + 500]))
                    .values(**values),
                )

    async def _queue(
        self, session: AsyncSession, campaign: models.Campaign, store: Store, now: datetime
    ) -> int:
        """Claim and enqueue up to the window's free room of planned pushes."""
        recipients, customers = models.CampaignRecipient, models.Customer
        queued = await session.scalar(
            select(func.count()).where(
                recipients.campaign_id == campaign.id, recipients.status == "queued"
            )
        )
        room = self.window - int(queued or 0)
        if room <= 0:
            return 0
        batch = (
            await session.execute(
                select(
                    recipients.id,
                    recipients.customer_id,
                    recipients.kind,
                    recipients.items,
                    customers.telegram_id,
                    customers.language,
                )
                .join(customers, customers.id == recipients.customer_id)
                .where(recipients.campaign_id == campaign.id, recipients.status == "planned")
                .order_by(recipients.id)
                .limit(room)
            )
        ).all()
        if not batch:
            return 0
        cap = now - timedelta(days=store.settings.push_min_days)
        names: dict[str, dict[int, str]] = {}
        uow = SqlUnitOfWork(session)
        sent = 0
        for item in batch:
            claimed = await rows_changed(
                session,
                update(customers)
                .where(
                    customers.id == item.customer_id,
                    customers.marketing_consent.is_(True),
                    customers.reachable.is_(True),
                    or_(customers.last_push_at.is_(None), customers.last_push_at <= cap),
                )
                .values(last_push_at=now),
            )
            if not claimed:
                reason = await self._why_not(session, item.customer_id)
                await rows_changed(
                    session,
                    update(recipients)
                    .where(recipients.id == item.id, recipients.status == "planned")
                    .values(status="skipped", reason=reason),
                )
                continue
            language = item.language or self.config.default_locale
            if language not in names:
                ids = sorted({int(i) for r in batch for i, _ in r.items})
                names[language] = await product_names(session, ids, language)
            call = push_message(
                self.translator,
                self.codec,
                locale=language,
                chat_id=item.telegram_id,
                bot_username=self.config.bot_username,
                campaign_id=campaign.id,
                store_name=store.name,
                kind=item.kind,
                items=[names[language].get(int(i), f"#{i}") for i, _ in item.items],
                offer=store.settings.push_winback_offer,
            )
            (row,) = uow.enqueue([call], now)
            await session.flush()
            await rows_changed(
                session,
                update(recipients)
                .where(recipients.id == item.id, recipients.status == "planned")
                .values(status="queued", outbox_id=row.id, queued_at=now),
            )
            sent += 1
        return sent

    async def _why_not(self, session: AsyncSession, customer_id: int) -> str:
        row = await session.get(models.Customer, customer_id)
        if row is None or not row.reachable:
            return SKIP_UNREACHABLE
        if not row.marketing_consent:
            return SKIP_NO_CONSENT
        return SKIP_RECENT_PUSH

    def _edit_progress(
        self,
        session: AsyncSession,
        campaign: models.Campaign,
        store: Store,
        progress: Progress,
        state: str,
        now: datetime,
    ) -> bool:
        """Edit the manager's message when the figures changed (at most every few seconds)."""
        if campaign.chat_id is None:
            return False
        text = self._t(
            campaign,
            "push.progress",
            id=campaign.id,
            store=store.name,
            state=state,
            sent=progress.sent,
            failed=progress.failed,
            skipped=progress.skipped,
            left=progress.left,
            bar=progress_bar(progress),
        )
        finished = campaign.status != "running"
        if text == campaign.progress_text:
            return False
        if (
            not finished
            and campaign.progress_at is not None
            and now - campaign.progress_at < PROGRESS_EVERY
        ):
            return False
        campaign.progress_text, campaign.progress_at = text, now
        call = progress_edit(
            self.translator,
            self.codec,
            locale=campaign.locale,
            chat_id=campaign.chat_id,
            campaign_id=campaign.id,
            text=text,
            running=not finished,
        )
        SqlUnitOfWork(session).enqueue([call], now)
        return True

    async def plan_weekly(self) -> int:
        """Plan and start the weekly campaign of every store that has one due."""
        if self.planner is not None and not self.planner.holding:
            return 0
        now = self.clock.now()
        async with self.sessionmaker() as session:
            stores = [store_from_row(row) for row in await session.scalars(select(models.Store))]
            started = 0
            due: list[Store] = []
            for store in stores:
                if not store.settings.push_weekly:
                    continue
                last = await session.scalar(
                    select(func.max(models.Campaign.created_at)).where(
                        models.Campaign.store_id == store.id,
                        models.Campaign.origin == "weekly",
                    )
                )
                since = last if last is not None else now - timedelta(days=7)
                slot = next_weekly_slot(
                    since,
                    store.settings.push_weekly_day,
                    store.settings.push_weekly_time,
                    store.timezone,
                )
                # The first weekly campaign waits for its day and time (within the grace), not
                # for whenever push_weekly was switched on.
                if slot <= now and (last is not None or now - slot < WEEKLY_GRACE):
                    due.append(store)
        for store in due:
            plan = await plan_campaign(
                self.sessionmaker,
                self.engine,
                store.code,
                now,
                origin="weekly",
                chat_id=store.staff_chat_id,
                locale=self.config.default_locale,
                start=True,
            )
            if store.staff_chat_id is not None and plan.id is not None:
                text = self.translator.t(
                    self.config.default_locale,
                    "push.weekly",
                    id=plan.id,
                    store=store.name,
                    count=len(plan.pushes),
                )
                async with self.sessionmaker() as session, session.begin():
                    SqlUnitOfWork(session).enqueue(
                        [send_message(store.staff_chat_id, text, ref=campaign_ref(plan.id))], now
                    )
                self.on_commit()
            started += 1
            log.info("weekly campaign planned", extra={"store": store.code, "campaign": plan.id})
        return started


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class CampaignResult:
    """What a campaign achieved: pushes sent, links opened, orders within the window."""

    id: int
    store_id: int
    created_at: datetime
    status: str
    sent: int
    opened: int
    orders: int


async def campaign_results(
    engine: AsyncEngine, store_code: str | None, start: datetime, end: datetime
) -> list[CampaignResult]:
    """Campaigns created in [start, end) (one store or all) with sent, opened and orders."""
    campaigns, recipients, orders = models.Campaign, models.CampaignRecipient, models.Order
    query = select(campaigns).where(
        campaigns.created_at >= start, campaigns.created_at < end, campaigns.status != "draft"
    )
    if store_code is not None:
        query = query.join(models.Store, models.Store.id == campaigns.store_id).where(
            models.Store.code == store_code
        )
    async with engine.connect() as conn:
        found = (await conn.execute(query.order_by(campaigns.id))).all()
        results = []
        for campaign in found:
            pushed = (
                await conn.execute(
                    select(recipients.customer_id, recipients.sent_at, recipients.opened_at).where(
                        recipients.campaign_id == campaign.id, recipients.status == "sent"
                    )
                )
            ).all()
            sent_at = {row.customer_id: row.sent_at for row in pushed}
            opened = sum(1 for row in pushed if row.opened_at is not None)
            first = min(sent_at.values(), default=None)
            last = max(sent_at.values(), default=None)
            count = 0
            if first is not None and last is not None:
                # Joined rather than IN (ids): a campaign may have more recipients than a
                # statement may have parameters (32,767 on PostgreSQL); and a campaign may send
                # for days (quiet hours), so the window ends a week after its last push.
                placed = await conn.execute(
                    select(orders.customer_id, orders.placed_at)
                    .join(recipients, recipients.customer_id == orders.customer_id)
                    .where(
                        and_(
                            recipients.campaign_id == campaign.id,
                            recipients.status == "sent",
                            orders.store_id == campaign.store_id,
                            orders.placed_at >= first,
                            orders.placed_at < last + ATTRIBUTION_WINDOW,
                        )
                    )
                )
                count = sum(
                    1
                    for row in placed
                    if sent_at[row.customer_id]
                    <= row.placed_at
                    < sent_at[row.customer_id] + ATTRIBUTION_WINDOW
                )
            results.append(
                CampaignResult(
                    campaign.id,
                    campaign.store_id,
                    campaign.created_at,
                    campaign.status,
                    len(pushed),
                    opened,
                    count,
                )
            )
    return results
