"""Demo data: two café stores and the sample catalog, for `o2o seed`, `o2o demo` and trials.

The stores are made by the store-admin code of `o2o store add` and the catalog is loaded from
`bot/data/sample_cafe.yaml` by the importer of `o2o catalog import`, so the demo exercises the
same validation an operator's data goes through.
"""

from __future__ import annotations

from datetime import datetime
from importlib import resources

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.admin.catalog import import_catalog_in
from bot.admin.stores import StoreChanges, add_store_in
from bot.db import models

SAMPLE_CATALOG = "sample_cafe.yaml"

DEMO_STORES: tuple[tuple[str, StoreChanges], ...] = (
    (
        "central",
        StoreChanges(
            name="Central Café",
            address="1 Market Street",
            latitude=31.2304,
            longitude=121.4737,
            timezone="Asia/Shanghai",
            currency="CNY",
            hours="daily 07:30-21:00",
            fulfilment="pickup,delivery,dine_in",
            delivery_radius_km=3.0,
            delivery_fee="5.00",
            min_order="30.00",
            tables="1-12:4,13-14:8",
        ),
    ),
    (
        "riverside",
        StoreChanges(
            name="Riverside Tea House",
            address="88 River Road",
            latitude=31.2397,
            longitude=121.4998,
            timezone="Asia/Shanghai",
            currency="CNY",
            hours="tue-sat 10:00-22:00",
            fulfilment="pickup,dine_in",
            tables="1-6:2",
        ),
    ),
)


def sample_catalog_text() -> str:
    """The YAML of the sample café catalog shipped in bot.data."""
    return resources.files("bot.data").joinpath(SAMPLE_CATALOG).read_text(encoding="utf-8")


async def seed_demo_data(sessionmaker: async_sessionmaker[AsyncSession], now: datetime) -> bool:
    """Add the demo stores and catalog unless stores exist; True when something was added.

    All in one transaction: a failure leaves the database as it was.
    """
    async with sessionmaker() as session, session.begin():
        if (await session.execute(select(models.Store.id).limit(1))).first() is not None:
            return False
        for code, changes in DEMO_STORES:
            await add_store_in(session, code, changes, now)
        report = await import_catalog_in(
            session, sample_catalog_text(), "yaml", now, source=SAMPLE_CATALOG
        )
        if not report.ok:
            raise RuntimeError("the sample catalog is invalid: " + "; ".join(report.error_lines()))
    return True
