"""Demo data: two stores with opening hours and a small catalog, for `o2o demo` and trials."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import models

_EVERY_DAY = {
    day: [["07:30", "21:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}

DEMO_STORES = (
    {
        "code": "central",
        "name": "Central Café",
        "address": "1 Market Street",
        "latitude": 31.2304,
        "longitude": 121.4737,
        "timezone": "Asia/Shanghai",
        "opening_hours": _EVERY_DAY,
        "currency": "CNY",
    },
    {
        "code": "riverside",
        "name": "Riverside Tea House",
        "address": "88 River Road",
        "latitude": 31.2397,
        "longitude": 121.4998,
        "timezone": "Asia/Shanghai",
        "opening_hours": {day: [["10:00", "22:00"]] for day in ("tue", "wed", "thu", "fri", "sat")},
        "currency": "CNY",
    },
)
DEMO_CATEGORIES = (
    ("coffee", "Coffee", {"zh-CN": "咖啡"}),
    ("tea", "Tea", {"zh-CN": "茶饮"}),
    ("bakery", "Bakery", {"zh-CN": "烘焙"}),
)
DEMO_PRODUCTS = (
    ("latte", "coffee", "Latte", {"zh-CN": "拿铁"}, 2800),
    ("americano", "coffee", "Americano", {"zh-CN": "美式咖啡"}, 2200),
    ("milk-tea", "tea", "Milk tea", {"zh-CN": "奶茶"}, 1800),
    ("oolong", "tea", "Oolong tea", {"zh-CN": "乌龙茶"}, 1600),
    ("croissant", "bakery", "Croissant", {"zh-CN": "可颂"}, 1500),
)


async def seed_demo_data(sessionmaker: async_sessionmaker[AsyncSession], now: datetime) -> bool:
    """Insert the demo stores and catalog unless stores exist; True when something was added."""
    async with sessionmaker() as session, session.begin():
        if (await session.execute(select(models.Store.id).limit(1))).first() is not None:
            return False
        stores = [models.Store(created_at=now, settings={}, **spec) for spec in DEMO_STORES]
        session.add_all(stores)
        categories = {
            code: models.Category(code=code, name=name, names=names, sort_order=index)
            for index, (code, name, names) in enumerate(DEMO_CATEGORIES)
        }
        session.add_all(categories.values())
        await session.flush()
        products = [
            models.Product(
                sku=sku,
                category_id=categories[category].id,
                name=name,
                names=names,
                price_minor=price,
                currency="CNY",
                created_at=now,
            )
            for sku, category, name, names, price in DEMO_PRODUCTS
        ]
        session.add_all(products)
        await session.flush()
        session.add_all(
            models.StoreProduct(store_id=store.id, product_id=product.id, stock=50)
            for store in stores
            for product in products
        )
    return True
