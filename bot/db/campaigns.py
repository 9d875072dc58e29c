"""Push campaigns in the database: the handlers' repository and the sender-side bookkeeping."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.db import models
from domain.campaigns import SKIP_CANCELLED
from domain.ports import CampaignView

if TYPE_CHECKING:  # pandas is imported when a campaign is planned, not when the bot starts
    import pandas as pd


def _view(row: models.Campaign) -> CampaignView:
    return CampaignView(
        id=row.id,
        store_id=row.store_id,
        status=row.status,
        audience=row.audience,
        chat_id=row.chat_id,
        created_by=row.created_by,
    )


async def rows_changed(session: AsyncSession, statement: Any) -> int:
    """Run an UPDATE (no session sync) and return how many rows it changed."""
    result = cast(
        CursorResult[Any],
        await session.execute(statement.execution_options(synchronize_session=False)),
    )
    return max(result.rowcount, 0)


class SqlCampaignRepository:
    """Campaigns in the `campaigns` and `campaign_recipients` tables."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.changed = False  # started or stopped: the campaign worker has work once committed

    async def get(self, campaign_id: int) -> CampaignView | None:
        """The campaign, if it exists."""
        row = await self.session.get(models.Campaign, campaign_id)
        return _view(row) if row else None

    async def start(self, campaign_id: int, chat_id: int, now: datetime) -> bool:
        """Move a draft to running (compare-and-set); False when it is no longer a draft."""
        table = models.Campaign
        started = (
            await rows_changed(
                self.session,
                update(table)
                .where(table.id == campaign_id, table.status == "draft")
                .values(status="running", confirmed_at=now, chat_id=chat_id),
            )
            == 1
        )
        self.changed = self.changed or started
        return started

    async def cancel(self, campaign_id: int, now: datetime) -> bool:
        """Stop a draft or running campaign; pushes not yet queued are skipped."""
        table = models.Campaign
        stopped = await rows_changed(
            self.session,
            update(table)
            .where(table.id == campaign_id, table.status.in_(("draft", "running")))
            .values(status="cancelled", finished_at=now),
        )
        if not stopped:
            return False
        self.changed = True
        recipients = models.CampaignRecipient
        await rows_changed(
            self.session,
            update(recipients)
            .where(recipients.campaign_id == campaign_id, recipients.status == "planned")
            .values(status="skipped", reason=SKIP_CANCELLED),
        )
        return True

    async def record_open(self, campaign_id: int, customer_id: int, now: datetime) -> bool:
        """Note that the customer used the push's link; False when not a recipient."""
        recipients = models.CampaignRecipient
        found = await self.session.scalar(
            select(recipients.id).where(
                recipients.campaign_id == campaign_id, recipients.customer_id == customer_id
            )
        )
        if found is None:
            return False
        await rows_changed(
            self.session,
            update(recipients)
            .where(recipients.id == found, recipients.opened_at.is_(None))
            .values(opened_at=now),
        )
        return True


# --------------------------------------------------------------------------- read side


@dataclass(frozen=True)
class MarketingData:
    """What planning a campaign reads: sales, ratings, stock and the customers' push state."""

    lines: pd.DataFrame  # order_id, customer_id, store_id, product_id, placed_at (completed)
    surveys: pd.DataFrame  # order_id, score (answered surveys of orders)
    totals: pd.DataFrame  # customer_id, store_id, date, amount (completed orders)
    stock: pd.DataFrame  # store_id, product_id, stock (available, active products)
    products: pd.DataFrame  # product_id, name, names, created_at
    customers: pd.DataFrame  # customer_id, telegram_id, language, consent, reachable, last_push_at


async def load_marketing_data(engine: AsyncEngine) -> MarketingData:
    """Completed sales of every store (the recommender learns from all), stock and customers."""
    import pandas as pd

    orders, order_lines = models.Order.__table__, models.OrderLine.__table__
    store_products, products = models.StoreProduct.__table__, models.Product.__table__
    o, ln, sv = orders.c, order_lines.c, models.Survey.__table__.c
    sp, p, c = store_products.c, products.c, models.Customer.__table__.c

    async def frame(connection: Any, query: Any, columns: list[str]) -> pd.DataFrame:
        return pd.DataFrame((await connection.execute(query)).all(), columns=columns)

    async with engine.connect() as conn:
        lines = await frame(
            conn,
            select(o.id, o.customer_id, o.store_id, ln.product_id, o.placed_at)
            .select_from(orders.join(order_lines, ln.order_id == o.id))
            .where(o.status == "completed", ln.product_id.is_not(None)),
            ["order_id", "customer_id", "store_id", "product_id", "placed_at"],
        )
        surveys = await frame(
            conn,
            select(sv.order_id, sv.score).where(
                sv.status == "answered", sv.order_id.is_not(None), sv.score.is_not(None)
            ),
            ["order_id", "score"],
        )
        totals = await frame(
            conn,
            select(o.customer_id, o.store_id, o.placed_at, o.total_minor).where(
                o.status == "completed"
            ),
            ["customer_id", "store_id", "date", "amount"],
        )
        stock = await frame(
            conn,
            select(sp.store_id, sp.product_id, sp.stock)
            .select_from(store_products.join(products, p.id == sp.product_id))
            .where(sp.available.is_(True), p.active.is_(True)),
            ["store_id", "product_id", "stock"],
        )
        product_rows = await frame(
            conn,
            select(p.id, p.name, p.names, p.created_at),
            ["product_id", "name", "names", "created_at"],
        )
        customers = await frame(
            conn,
            select(
                c.id, c.telegram_id, c.language, c.marketing_consent, c.reachable, c.last_push_at
            ),
            ["customer_id", "telegram_id", "language", "consent", "reachable", "last_push_at"],
        )
    if not lines.empty:
        lines["placed_at"] = pd.to_datetime(lines["placed_at"], utc=True)
    return MarketingData(lines, surveys, totals, stock, product_rows, customers)
