"""`o2o simulate`: a realistic, reproducible order history for /stats, RFM and recommendations.

What is written
    Into a database without stores, the demo stores and catalog first (``bot.seed``); then two
    more stores when the catalog has products in their currency: Harbour Café, a second branch
    that delivers, and a pickup-only campus kiosk with a short week. Every store that sells
    something gets orders. Customers (telegram ids from ``SIM_TELEGRAM_BASE``, so they never
    meet real users) have habits: heavy regulars, occasional buyers, one-off buyers, lapsed
    customers who stop part-way (some of them block the bot), dormant ones who never order; some
    exist before the history starts, others join during it. Each has a home store, a language
    (en / zh-CN), a taste for a couple of categories and a few favourite products on top of a
    skewed product popularity (the signal a recommender needs), a preferred way of receiving
    orders, a phone, and a propensity to answer surveys. Their orders follow the store's opening
    hours (``domain.schedule``) with weekly and hourly patterns, a growth trend and a mild
    season; 1-4 lines at the catalog's prices; pickup (some in time slots), dine-in at one of the
    store's tables, or delivery to the customer's address at a store that delivers (fee and
    minimum order applied). Surveys follow completed orders and reservations (delay, quiet hours,
    7-day expiry, scores skewed to 4-5 and lower when the order was late). Table bookings and
    service appointments go to stores that take them, allocated like the bot does
    (``domain.booking``: smallest free table, service capacity), and are confirmed, declined,
    cancelled, seated, completed or missed.

Time
    The history covers ``days`` days before ``end`` (00:00 UTC of that date, by default today) and
    is a snapshot taken at that instant: every lifecycle is simulated in full, then whatever would
    happen at or after the cut is dropped. So orders placed shortly before the cut may still be
    placed, accepted or ready, surveys may be scheduled or unanswered, and bookings made ahead may
    still be requested or confirmed.

The state machine
    Lifecycles are drawn as arrays of step times (one column per possible step, in the only order
    a path can visit them), so a million orders cost a few vectorised operations. The domain
    decides what is legal: every distinct path that occurs (after the cut) is replayed once
    through ``domain.orders.Order`` / ``domain.reservations.Reservation`` intent methods
    (``accept``, ``reject``, ``mark_ready``, ``complete``, ``cancel``, ``mark_no_show``;
    ``confirm``, ``decline``, ``seat``, ...), and so is a spread sample of ``VALIDATE_SAMPLE``
    orders and reservations with their real times, comparing the entity the domain produces with
    the row about to be written (status, every timestamp, ETA, ready-by, pickup code, reason,
    version) and its events with the StatusChange records. A mismatch is a bug and stops the run
    before any history is written. The SLA's re-announcement (``placed -> placed`` by
    ``system:sla``) is an audit row, not a transition, and is not replayed. order_events rows are
    one per transition, with the actors the bot uses: ``customer:<id>`` for placing and
    cancelling, ``staff:<telegram id>`` (with a display name) for the store's steps,
    ``system:sla`` for re-announcements and timeouts.

Reproducibility and speed
    Everything random comes from numpy Generators seeded with ``[seed, stream]``, and nothing
    reads the clock but the default ``end`` and the summary's duration, so the same arguments on
    an empty database give identical rows, on SQLite and PostgreSQL alike. Rows go in with
    SQLAlchemy Core ``insert()`` executemany, one transaction per ``ORDERS_PER_CHUNK`` orders
    (with their lines, events and surveys), the next chunk built while the current one is
    written. Customers, orders and reservations get explicit ids following the existing ones
    (PostgreSQL sequences are moved past them afterwards), so run it on a database the bot is not
    writing to. A failed run leaves the chunks written so far; start again on a fresh database.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import Any, Final, TextIO
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from sqlalchemy import Column, DateTime, MetaData, String, Table, func, insert, select, text
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.types import TypeEngine

from bot.admin.stores import StoreChanges, add_store_in
from bot.db import models
from bot.db.sla import REANNOUNCED, SLA_ACTOR
from bot.db.types import UtcDateTime
from bot.seed import seed_demo_data
from domain.booking import Booked, TableInfo, choose_table, service_has_room
from domain.money import Money
from domain.orders import Order, OrderStatus, RejectReason
from domain.reservations import Reservation, ReservationKind, ReservationStatus
from domain.schedule import intervals_on, reservation_slots
from domain.stores import StoreSettings
from domain.surveys import COMMENT_GRACE, SURVEY_LIFETIME, SURVEY_STATUSES, survey_due_at

Int = npt.NDArray[np.int64]
Float = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]

SIM_TELEGRAM_BASE: Final = 9_000_000_000
SIM_TELEGRAM_END: Final = 10_000_000_000
# Staff who work the simulated orders; far above the customers' ids, never registered anywhere.
STAFF_TELEGRAM_BASE: Final = 9_990_000_000
MAX_CUSTOMERS: Final = 10_000_000
MAX_DAYS: Final = 3_660
ORDERS_PER_CHUNK: Final = 5_000
RESERVATIONS_PER_CHUNK: Final = 5_000
CUSTOMERS_PER_CHUNK: Final = 10_000
ROWS_PER_STATEMENT: Final = 20_000
VALIDATE_SAMPLE: Final = 3_000
SQLITE_CACHE_KIB: Final = 256 * 1024
NONE: Final = -1  # "no such moment" in the int64 arrays of epoch seconds

MINUTE: Final = 60
HOUR: Final = 3_600
DAY: Final = 86_400
BIN_SECONDS: Final = 300  # order times are drawn per 5-minute bin of opening hours

CUSTOMER_CANCEL_NOTE: Final = "cancelled by customer"
STORE_CANCEL_NOTE: Final = "cancelled by the store"
DECLINE_REASON: Final = "fully booked"
SURVEY_EXPIRY: Final = int(SURVEY_LIFETIME.total_seconds())

# Seed streams: one per concern, so changing how one thing is drawn leaves the others alone.
_CUSTOMERS, _ORDERS, _LINES, _LIFECYCLE, _SURVEYS, _RESERVATIONS = range(1, 7)

# Order steps after placement, in the only order any path visits them.
REANNOUNCE, ACCEPT, REJECT, CUSTOMER_CANCEL, STORE_CANCEL, READY, COMPLETE, NO_SHOW = range(8)
ORDER_STEPS: Final = 8
_ORDER_MOVES: Final[tuple[tuple[OrderStatus, OrderStatus], ...]] = (
    (OrderStatus.PLACED, OrderStatus.PLACED),
    (OrderStatus.PLACED, OrderStatus.ACCEPTED),
    (OrderStatus.PLACED, OrderStatus.REJECTED),
    (OrderStatus.PLACED, OrderStatus.CANCELLED),
    (OrderStatus.ACCEPTED, OrderStatus.CANCELLED),
    (OrderStatus.ACCEPTED, OrderStatus.READY),
    (OrderStatus.READY, OrderStatus.COMPLETED),
    (OrderStatus.READY, OrderStatus.NO_SHOW),
)
_ORDER_STATUS_NAMES: Final = [status.value for status in OrderStatus]
_REJECT_REASONS: Final = [reason.value for reason in RejectReason]

# Reservation steps after the request, likewise in path order.
R_CONFIRM, R_DECLINE, R_CANCEL_REQUESTED, R_CANCEL_CONFIRMED, R_SEAT, R_COMPLETE, R_NO_SHOW = range(
    7
)
RESERVATION_STEPS: Final = 7
_RESERVATION_MOVES: Final[tuple[tuple[ReservationStatus, ReservationStatus], ...]] = (
    (ReservationStatus.REQUESTED, ReservationStatus.CONFIRMED),
    (ReservationStatus.REQUESTED, ReservationStatus.DECLINED),
    (ReservationStatus.REQUESTED, ReservationStatus.CANCELLED),
    (ReservationStatus.CONFIRMED, ReservationStatus.CANCELLED),
    (ReservationStatus.CONFIRMED, ReservationStatus.SEATED),
    (ReservationStatus.SEATED, ReservationStatus.COMPLETED),
    (ReservationStatus.CONFIRMED, ReservationStatus.NO_SHOW),
)
_RESERVATION_STATUS_NAMES: Final = [status.value for status in ReservationStatus]
_HOLDING_STATUSES: Final = frozenset(
    {ReservationStatus.REQUESTED, ReservationStatus.CONFIRMED, ReservationStatus.SEATED}
)

_HAS_ACTOR_NAME: Final = "actor_name" in models.OrderEvent.__table__.c

# --------------------------------------------------------------------------- habits and texts

# regular, occasional, one-off, lapsed, dormant
SEGMENTS: Final = ("regular", "occasional", "one_off", "lapsed", "dormant")
_SEGMENT_SHARES: Final = (0.09, 0.41, 0.22, 0.18, 0.10)
_SEGMENT_DAILY_RATES: Final = (0.32, 0.058, 0.0, 0.105, 0.0)
_HOME_SHARE: Final = (0.95, 0.85, 0.85, 0.85, 0.85)

_FULFILMENTS: Final = ("pickup", "delivery", "dine_in")
PICKUP, DELIVERY, DINE_IN = range(3)

# Local-hour profiles (index 0-23) and weekday weights (Monday first) by kind of store.
_HOURLY: Final[dict[str, tuple[float, ...]]] = {
    "cafe": (
        *(0.2,) * 7,
        *(1.3, 2.4, 1.9, 1.2, 1.3, 1.9, 1.6, 1.1, 1.2, 1.0, 0.9, 0.8, 0.6, 0.45, 0.3, 0.2, 0.2),
    ),
    "tea": (
        *(0.2,) * 7,
        *(0.3, 0.4, 0.6, 0.9, 1.2, 1.5, 1.7, 1.9, 2.0, 1.7, 1.3, 1.4, 1.6, 1.4, 1.0, 0.6, 0.3),
    ),
    "kiosk": (
        *(0.2,) * 7,
        *(2.2, 3.0, 2.0, 1.2, 1.4, 2.0, 1.3, 1.0, 0.9, 0.6, 0.3, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2),
    ),
}
_WEEKLY: Final[dict[str, tuple[float, ...]]] = {
    "cafe": (1.0, 0.95, 1.0, 1.0, 1.05, 1.2, 1.1),
    "tea": (0.8, 0.85, 0.9, 1.0, 1.15, 1.4, 1.3),
    "kiosk": (1.1, 1.1, 1.1, 1.05, 1.0, 0.5, 0.3),
}
_STORE_KIND: Final = {"central": "cafe", "harbour": "cafe", "riverside": "tea", "campus": "kiosk"}
_STORE_WEIGHT: Final = {"central": 1.0, "harbour": 0.8, "riverside": 0.6, "campus": 0.45}

_EN_FIRST: Final = (
    "Alice", "Ben", "Chloe", "Daniel", "Emma", "Felix", "Grace", "Henry", "Isla", "Jack",
    "Kate", "Liam", "Mia", "Noah", "Olivia", "Peter", "Quinn", "Ruby", "Sam", "Tara",
    "Umar", "Vera", "Will", "Zoe", "Anna", "Leo", "Maya", "Oscar", "Nina", "Hugo",
)  # fmt: skip
_EN_LAST: Final = (
    "Smith", "Brown", "Wilson", "Taylor", "Clark", "Hall", "Young", "King", "Wright", "Green",
    "Baker", "Adams", "Nelson", "Hill", "Carter", "Mitchell", "Turner", "Parker", "Evans", "Moore",
)  # fmt: skip
_ZH_LAST: Final = (
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周",
    "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "高", "罗",
)  # fmt: skip
_ZH_FIRST: Final = (
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"),
    ("丽", "li"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"),
    ("勇", "yong"), ("艳", "yan"), ("杰", "jie"), ("娟", "juan"), ("涛", "tao"),
    ("明", "ming"), ("超", "chao"), ("秀英", "xiuying"), ("霞", "xia"), ("平", "ping"),
    ("小红", "xiaohong"), ("晓明", "xiaoming"), ("思远", "siyuan"), ("雨涵", "yuhan"),
    ("子轩", "zixuan"), ("欣怡", "xinyi"), ("浩然", "haoran"), ("梓涵", "zihan"),
)  # fmt: skip
_STAFF_NAMES: Final = (
    "Ann", "Bo", "Carl", "Dana", "Eli", "Fei", "Gus", "Hui", "Ivy", "Jun", "Kai", "Lin",
)  # fmt: skip
_EN_STREETS: Final = (
    "Market Street", "River Road", "Harbour Avenue", "Nanjing Road", "Century Avenue",
    "Huaihai Road", "Fuxing Road", "Yan'an Road",
)  # fmt: skip
_ZH_STREETS: Final = ("南京路", "世纪大道", "淮海路", "复兴路", "延安路", "滨江大道")
_ORDER_NOTES: Final = {
    "en": ("Less sugar, please", "No ice", "Oat milk if possible", "Extra hot", "Call on arrival"),
    "zh-CN": ("少糖", "去冰", "换燕麦奶", "多加热", "到了请打电话"),
}
_BOOKING_NOTES: Final = {
    "en": ("Window seat, please", "Birthday celebration", "High chair needed", "Quiet corner"),
    "zh-CN": ("靠窗的位置", "过生日", "需要儿童椅", "安静一点的位置"),
}
_SURVEY_COMMENTS: Final = {
    "en": (
        ("Waited far too long.", "My order was wrong.", "The drink was cold."),
        ("OK, a bit slow.", "Fine.", "Could be warmer."),
        ("Great coffee, thanks!", "Friendly staff.", "Fast and tasty.", "Perfect as always."),
    ),
    "zh-CN": (
        ("等太久了。", "点错单了。", "饮品是凉的。"),
        ("还行，有点慢。", "一般。", "可以再热一点。"),
        ("咖啡很好喝，谢谢！", "店员很友好。", "又快又好。", "一如既往的好。"),
    ),
}
_PICKUP_ALPHABET: Final = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # as domain.orders: no 0/O, 1/I/L

# Stores the simulation adds next to the demo ones: another café branch that delivers, and a
# pickup-only kiosk with a short week. The tuple names the categories the kiosk sells.
_SIM_STORES: Final[tuple[tuple[str, StoreChanges, tuple[str, ...]], ...]] = (
    (
        "harbour",
        StoreChanges(
            name="Harbour Café",
            address="9 Harbour Avenue",
            latitude=31.2453,
            longitude=121.4900,
            timezone="Asia/Shanghai",
            currency="CNY",
            hours="mon-fri 07:00-20:00; sat-sun 08:00-21:00",
            fulfilment="pickup,delivery,dine_in",
            delivery_radius_km=4.0,
            delivery_fee="6.00",
            min_order="40.00",
            prep_minutes=12,
            tables="1-8:4,9-10:6",
        ),
        (),
    ),
    (
        "campus",
        StoreChanges(
            name="Campus Coffee Kiosk",
            address="Gate 2, University Campus",
            latitude=31.3005,
            longitude=121.5012,
            timezone="Asia/Shanghai",
            currency="CNY",
            hours="mon-fri 07:00-17:00; sat 09:00-14:00; sun closed",
            fulfilment="pickup",
            prep_minutes=8,
        ),
        ("coffee", "bakery"),
    ),
)


class SimulationError(Exception):
    """A simulation that cannot run as asked; one line for the user."""


@dataclass(frozen=True, slots=True)
class SimulationSummary:
    """What a simulation wrote, counted by status."""

    customers: int
    stores: tuple[str, ...]
    start: datetime
    end: datetime
    orders_by_status: dict[str, int]
    order_lines: int
    order_events: int
    surveys_by_status: dict[str, int]
    reservations_by_status: dict[str, int]
    seconds: float

    @property
    def orders(self) -> int:
        """Orders written."""
        return sum(self.orders_by_status.values())

    @property
    def surveys(self) -> int:
        """Surveys written (orders and reservations)."""
        return sum(self.surveys_by_status.values())

    @property
    def reservations(self) -> int:
        """Reservations written."""
        return sum(self.reservations_by_status.values())

    def text(self) -> str:
        """The few lines `o2o simulate` prints at the end."""

        def counts(by_status: dict[str, int]) -> str:
            return ", ".join(f"{name} {count:,}" for name, count in by_status.items() if count)

        first = self.start.date().isoformat()
        last = (self.end - timedelta(days=1)).date().isoformat()
        return "\n".join(
            [
                f"history {first} .. {last} (UTC), stores {', '.join(self.stores)}",
                f"customers    {self.customers:,}",
                f"orders       {self.orders:,} ({counts(self.orders_by_status)})",
                f"order lines  {self.order_lines:,}; order events {self.order_events:,}",
                f"surveys      {self.surveys:,} ({counts(self.surveys_by_status)})",
                f"reservations {self.reservations:,} ({counts(self.reservations_by_status)})",
                f"seconds      {self.seconds:.1f}",
            ]
        )


class ProgressBar:
    """A one-line progress bar on a stream: redrawn in place on a terminal, 10% steps otherwise."""

    def __init__(self, stream: TextIO | None = None, label: str = "simulating") -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.label = label
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = monotonic()
        self._drawn = -1.0
        self._step = -1

    def __call__(self, done: int, total: int) -> None:
        """Show `done` of `total` (throttled to a few redraws a second)."""
        fraction = 1.0 if total <= 0 else min(done / total, 1.0)
        percent = math.floor(fraction * 100)  # never "100%" before the end
        elapsed = monotonic() - self.started
        finished = done >= total
        if self.tty:
            if not finished and elapsed - self._drawn < 0.2:
                return
            self._drawn = elapsed
            filled = int(fraction * 30)
            bar = "#" * filled + "." * (30 - filled)
            end = "\n" if finished else ""
            self.stream.write(
                f"\r{self.label} [{bar}] {percent:3d}% {done:,}/{total:,} {elapsed:5.0f}s{end}"
            )
        else:
            step = int(fraction * 10)
            if step == self._step:
                return
            self._step = step
            self.stream.write(f"{self.label}: {percent}% {done:,}/{total:,} {elapsed:.0f}s\n")
        self.stream.flush()


# --------------------------------------------------------------------------- the world


@dataclass(slots=True)
class _Store:
    index: int
    id: int
    code: str
    timezone: str
    hours: dict[str, Any]
    settings: StoreSettings
    currency: str
    latitude: float | None
    longitude: float | None
    prices: Int  # per catalog product, minor units; NONE where not sold here
    tables: list[TableInfo]
    services: list[tuple[int, str, int]]  # id, name, duration in minutes
    weight: float
    kind: str
    staff: list[tuple[int, str]] = field(default_factory=list)

    @property
    def orderable(self) -> bool:
        return bool((self.prices >= 0).any())

    @property
    def bookable(self) -> bool:
        return self.settings.reservations and bool(self.tables or self.services)


@dataclass(slots=True)
class _World:
    stores: list[_Store]
    product_ids: Int
    product_names: list[str]
    product_category: Int  # index into the categories (products without one share the last)
    categories: int
    prices: Int  # stores x products; NONE where not sold


@dataclass(slots=True)
class _Calendar:
    """A store's opening hours in the window as 5-minute bins with order-time weights."""

    start: Int
    end: Int
    close: Int  # when the bin's opening interval ends
    offset: Int  # the store's UTC offset then, seconds
    cum: Float  # cumulative weights, one longer than the bins


def _store_settings(raw: dict[str, Any] | None) -> StoreSettings:
    try:
        return StoreSettings.from_json(raw)
    except (TypeError, ValueError):
        return StoreSettings()


async def _ensure_stores(session: AsyncSession, now: datetime) -> None:
    """Add the simulation's extra stores (and their product listings) when their codes are free."""
    for code, changes, categories in _SIM_STORES:
        exists = await session.scalar(select(models.Store.id).where(models.Store.code == code))
        if exists is not None:
            continue
        query = (
            select(models.Product.id, models.Category.code)
            .outerjoin(models.Category, models.Category.id == models.Product.category_id)
            .where(models.Product.active.is_(True), models.Product.currency == changes.currency)
            .order_by(models.Product.id)
        )
        products = (await session.execute(query)).all()
        chosen = [pid for pid, category in products if not categories or category in categories]
        chosen = chosen or [pid for pid, _ in products]
        if not chosen:
            continue  # a catalog in another currency: an empty shop would only confuse
        await add_store_in(session, code, changes, now)
        store_id = await session.scalar(select(models.Store.id).where(models.Store.code == code))
        await session.execute(
            insert(_table(models.StoreProduct)),
            [
                {"store_id": store_id, "product_id": pid, "available": True, "stock": None}
                for pid in chosen
            ],
        )


async def _load_world(session: AsyncSession) -> _World:
    stores = (await session.scalars(select(models.Store).order_by(models.Store.id))).all()
    products = (
        await session.execute(
            select(
                models.Product.id,
                models.Product.name,
                models.Product.category_id,
                models.Product.price_minor,
                models.Product.currency,
            )
            .where(models.Product.active.is_(True))
            .order_by(models.Product.id)
        )
    ).all()
    category_ids = sorted(
        {row.category_id for row in products if row.category_id is not None}, key=int
    )
    category_index = {cid: i for i, cid in enumerate(category_ids)}
    product_index = {row.id: i for i, row in enumerate(products)}
    prices = np.full((len(stores), len(products)), NONE, dtype=np.int64)
    store_index = {row.id: i for i, row in enumerate(stores)}
    links = (
        await session.execute(
            select(
                models.StoreProduct.store_id,
                models.StoreProduct.product_id,
                models.StoreProduct.price_override_minor,
            ).where(models.StoreProduct.available.is_(True))
        )
    ).all()
    for store_id, product_id, override in links:
        if product_id not in product_index or store_id not in store_index:
            continue
        s, p = store_index[store_id], product_index[product_id]
        # A total is in one currency: a product priced in another is not sold here.
        if products[p].currency == stores[s].currency:
            prices[s, p] = override if override is not None else products[p].price_minor
    tables: dict[int, list[TableInfo]] = {}
    for table_row in (
        await session.scalars(
            select(models.StoreTable)
            .where(models.StoreTable.active.is_(True))
            .order_by(models.StoreTable.id)
        )
    ).all():
        tables.setdefault(table_row.store_id, []).append(
            TableInfo(id=table_row.id, label=table_row.label, capacity=table_row.capacity)
        )
    services: dict[int, list[tuple[int, str, int]]] = {}
    for service_row in (
        await session.scalars(
            select(models.Service)
            .where(models.Service.active.is_(True))
            .order_by(models.Service.id)
        )
    ).all():
        services.setdefault(service_row.store_id, []).append(
            (service_row.id, service_row.name, service_row.duration_minutes)
        )
    world_stores = []
    for i, row in enumerate(stores):
        store = _Store(
            index=i,
            id=row.id,
            code=row.code,
            timezone=row.timezone,
            hours=dict(row.opening_hours or {}),
            settings=_store_settings(row.settings),
            currency=row.currency,
            latitude=row.latitude,
            longitude=row.longitude,
            prices=prices[i],
            tables=tables.get(row.id, []),
            services=services.get(row.id, []),
            weight=_STORE_WEIGHT.get(row.code, 0.7),
            kind=_STORE_KIND.get(row.code, "cafe"),
        )
        base = STAFF_TELEGRAM_BASE + row.id * 10
        names = [_STAFF_NAMES[(row.id * 3 + k) % len(_STAFF_NAMES)] for k in range(3)]
        store.staff = [(base + k, names[k]) for k in range(3)]
        world_stores.append(store)
    return _World(
        stores=world_stores,
        product_ids=np.array([row.id for row in products], dtype=np.int64),
        product_names=[row.name for row in products],
        product_category=np.array(
            [category_index.get(row.category_id, len(category_ids)) for row in products],
            dtype=np.int64,
        ),
        categories=len(category_ids) + 1,
        prices=prices,
    )


def _calendar(store: _Store, first: int, cut: int) -> _Calendar:
    """Opening hours between `first` and `cut` (epoch seconds) as weighted 5-minute bins."""
    zone = ZoneInfo(store.timezone)
    day = datetime.fromtimestamp(first, zone).date() - timedelta(days=1)
    last = datetime.fromtimestamp(cut, zone).date()
    starts: list[Int] = []
    closes: list[int] = []
    offsets: list[int] = []
    counts: list[int] = []
    while day <= last:
        try:
            spans = intervals_on(store.hours, day, store.timezone)
        except ValueError:
            spans = []  # invalid stored hours: the store is never open to simulated customers
        for begin, finish in spans:
            low, high = max(int(begin.timestamp()), first), min(int(finish.timestamp()), cut)
            if low >= high:
                continue
            utc_offset = begin.astimezone(zone).utcoffset() or timedelta(0)
            bins = np.arange(low, high, BIN_SECONDS, dtype=np.int64)
            starts.append(bins)
            closes.append(int(finish.timestamp()))
            offsets.append(int(utc_offset.total_seconds()))
            counts.append(len(bins))
        day += timedelta(days=1)
    if not starts:
        empty = np.zeros(0, dtype=np.int64)
        return _Calendar(empty, empty, empty, empty, np.zeros(1))
    start = np.concatenate(starts)
    close = np.repeat(np.array(closes, dtype=np.int64), counts)
    offset = np.repeat(np.array(offsets, dtype=np.int64), counts)
    end = np.minimum(start + BIN_SECONDS, close)
    local = start + offset
    hour = (local // HOUR) % 24
    weekday = (local // DAY + 3) % 7  # 1970-01-01 was a Thursday
    progress = (start - first) / max(cut - first, 1)
    # Hot drinks sell a little better in winter: a yearly wave peaking around 20 January.
    season = 1 + 0.08 * np.cos(2 * np.pi * ((local / DAY) % 365.2425 - 20) / 365.2425)
    weight = (
        np.array(_HOURLY[store.kind])[hour]
        * np.array(_WEEKLY[store.kind])[weekday]
        * (0.85 + 0.3 * progress)
        * season
        * np.where(close - start < 15 * MINUTE, 0.4, 1.0)  # few orders in the last minutes
        * (end - start)
        / BIN_SECONDS
    )
    cum = np.concatenate([[0.0], np.cumsum(weight)])
    return _Calendar(start, end, close, offset, cum)


def _draw_times(
    rng: np.random.Generator, calendar: _Calendar, low: Int, high: Int
) -> tuple[Int, Int]:
    """One weighted opening moment in [low, high) per row, and its bin; NONE where none exists."""
    if len(calendar.start) == 0:
        return np.full(len(low), NONE, dtype=np.int64), np.zeros(len(low), dtype=np.int64)
    first = np.searchsorted(calendar.start, low, side="left")
    stop = np.searchsorted(calendar.start, high, side="left")
    found = stop > first
    u = calendar.cum[first] + rng.random(len(low)) * (calendar.cum[stop] - calendar.cum[first])
    index = np.clip(
        np.searchsorted(calendar.cum, u, side="right") - 1, first, np.maximum(stop - 1, 0)
    )
    index = np.where(found, index, 0)
    span = calendar.end[index] - calendar.start[index]
    moment = calendar.start[index] + (rng.random(len(low)) * span).astype(np.int64)
    moment = np.minimum(moment, high - 1)
    return np.where(found, moment, NONE), index


# --------------------------------------------------------------------------- customers


@dataclass(slots=True)
class _Customers:
    count: int
    ids: Int
    segment: Int
    joined: Int
    active_from: Int
    active_to: Int
    unreachable_since: Int
    home: Int
    zh: Bool
    rate: Float
    surveys_enabled: Bool
    answer_propensity: Float
    flakiness: Float
    score_bias: Float
    taste: npt.NDArray[np.float32]  # customers x categories, log weights
    favourites: Int  # customers x 2 product indices
    fulfilment: Float  # customers x 3 preferences
    home_lat: Float
    home_lon: Float
    address: list[str]
    first_name: list[str]
    last_name: list[str | None]
    username: list[str | None]
    phone: list[str]
    language_chosen: Bool
    marketing_consent: Bool


def _customers(
    rng: np.random.Generator, world: _World, count: int, first_id: int, start: int, cut: int
) -> _Customers:
    days = (cut - start) / DAY
    segment = rng.choice(len(SEGMENTS), size=count, p=_SEGMENT_SHARES)
    # The longer the history, the more of its customers arrived during it.
    new_share = min(0.6, 0.05 + 0.45 * days / 365)
    newcomer = rng.random(count) < new_share
    joined = np.where(
        newcomer,
        start + (rng.random(count) * (cut - start)).astype(np.int64),
        start - (rng.random(count) * 730 * DAY).astype(np.int64) - DAY,
    )
    active_from = np.maximum(joined, start)
    lapsed = segment == SEGMENTS.index("lapsed")
    active_to = np.where(
        lapsed,
        active_from + (rng.uniform(0.15, 0.85, count) * (cut - active_from)).astype(np.int64),
        cut,
    )
    blocked = lapsed & (rng.random(count) < 0.3)
    unreachable = active_to + (rng.uniform(1, 60, count) * DAY).astype(np.int64)
    unreachable_since = np.where(blocked & (unreachable < cut), unreachable, NONE)
    # Habits vary within a segment; lognormal(-s^2/2, s) keeps the segment's mean rate.
    rate = np.array(_SEGMENT_DAILY_RATES)[segment] * rng.lognormal(-0.125, 0.5, count)

    orderable = [s for s in world.stores if s.orderable]
    weights = np.array([s.weight for s in orderable]) if orderable else np.ones(1)
    picks = rng.choice(len(weights), size=count, p=weights / weights.sum())
    home = np.array([orderable[i].index for i in picks] if orderable else [0] * count)
    zh = rng.random(count) < 0.65

    taste = np.log(rng.dirichlet(np.full(world.categories, 0.5), size=count) + 1e-3)
    products = max(len(world.product_ids), 1)
    favourites = rng.integers(0, products, size=(count, 2))
    fulfilment = rng.dirichlet([3.0, 1.2, 2.0], size=count)

    home_lat = np.full(count, np.nan)
    home_lon = np.full(count, np.nan)
    distance = np.sqrt(rng.random(count)) * 0.8  # share of the delivery radius
    bearing = rng.random(count) * 2 * np.pi
    for store in world.stores:
        mine = home == store.index
        if store.latitude is None or store.longitude is None or not mine.any():
            continue
        km = distance[mine] * store.settings.delivery_radius_km
        home_lat[mine] = store.latitude + km * np.cos(bearing[mine]) / 111.0
        home_lon[mine] = store.longitude + km * np.sin(bearing[mine]) / (
            111.0 * math.cos(math.radians(store.latitude))
        )

    first_pick = rng.integers(0, 1 << 30, size=count)
    last_pick = rng.integers(0, 1 << 30, size=count)
    has_last = rng.random(count) < 0.65
    has_username = rng.random(count) < 0.45
    street_pick = rng.integers(0, 1 << 30, size=count)
    house = rng.integers(1, 400, size=count)
    flat = rng.integers(101, 2_899, size=count)
    phone_digits = rng.integers(0, 10**9, size=count)
    phone_prefix = rng.integers(3, 10, size=count)
    first_name: list[str] = []
    last_name: list[str | None] = []
    username: list[str | None] = []
    address: list[str] = []
    for i in range(count):
        if zh[i]:
            given, pinyin = _ZH_FIRST[first_pick[i] % len(_ZH_FIRST)]
            first_name.append(given)
            last_name.append(_ZH_LAST[last_pick[i] % len(_ZH_LAST)] if has_last[i] else None)
            username.append(f"{pinyin}{house[i]}" if has_username[i] else None)
            street = _ZH_STREETS[street_pick[i] % len(_ZH_STREETS)]
            address.append(f"{street}{house[i]}号{flat[i]}室")
        else:
            given = _EN_FIRST[first_pick[i] % len(_EN_FIRST)]
            first_name.append(given)
            last_name.append(_EN_LAST[last_pick[i] % len(_EN_LAST)] if has_last[i] else None)
            username.append(f"{given.lower()}_{house[i]}" if has_username[i] else None)
            street = _EN_STREETS[street_pick[i] % len(_EN_STREETS)]
            address.append(f"{house[i]} {street}, Apt {flat[i]}")
    phone = [
        f"+861{p}{d:09d}" for p, d in zip(phone_prefix.tolist(), phone_digits.tolist(), strict=True)
    ]
    return _Customers(
        count=count,
        ids=np.arange(first_id, first_id + count, dtype=np.int64),
        segment=segment,
        joined=joined,
        active_from=active_from,
        active_to=active_to,
        unreachable_since=unreachable_since,
        home=home,
        zh=zh,
        rate=rate,
        surveys_enabled=rng.random(count) < 0.93,
        answer_propensity=rng.beta(2.0, 2.0, count),
        flakiness=rng.lognormal(-0.245, 0.7, count),
        score_bias=rng.normal(0.0, 0.5, count),
        taste=taste.astype(np.float32),
        favourites=favourites,
        fulfilment=fulfilment,
        home_lat=home_lat,
        home_lon=home_lon,
        address=address,
        first_name=first_name,
        last_name=last_name,
        username=username,
        phone=phone,
        language_chosen=rng.random(count) < 0.15,
        marketing_consent=rng.random(count) < 0.35,
    )


# --------------------------------------------------------------------------- orders


class _Orders:
    """Column arrays of every simulated order, sorted by placement time."""

    count: int
    ids: Int
    cust: Int  # customer index
    store: Int  # store index
    placed: Int
    close: Int  # when the store closes after placement
    offset: Int  # the store's UTC offset at placement
    line_start: Int  # first line index; lines of order i are line_start[i]:line_start[i + 1]
    line_product: Int  # catalog product index
    line_quantity: Int
    line_price: Int
    fulfilment: Int
    table: list[str | None]
    subtotal: Int
    fee: Int
    total: Int
    note: list[str | None]
    slot: Int
    steps: Int  # orders x ORDER_STEPS step times, NONE where the step does not happen
    sla: Bool  # the acceptance SLA (not a person) accepted or rejected it
    staff: Int  # which of the store's staff works it
    eta: Int
    reject_reason: Int
    pickup_code: list[str]
    status: Int  # index into OrderStatus at the cut


def _orders(
    rng: np.random.Generator,
    world: _World,
    cust: _Customers,
    calendars: list[_Calendar],
) -> _Orders:
    one_off = cust.segment == SEGMENTS.index("one_off")
    days_active = (cust.active_to - cust.active_from) / DAY
    counts = rng.poisson(cust.rate * days_active)
    counts = np.where(one_off & (days_active > 0.5), 1, counts)
    owner = np.repeat(np.arange(cust.count, dtype=np.int64), counts)
    total = len(owner)
    orderable = [s for s in world.stores if s.orderable]
    store = cust.home[owner]
    if orderable:
        weights = np.array([s.weight for s in orderable])
        other = np.array([s.index for s in orderable])[
            rng.choice(len(orderable), size=total, p=weights / weights.sum())
        ]
        at_home = rng.random(total) < np.array(_HOME_SHARE)[cust.segment[owner]]
        store = np.where(at_home, store, other)
    placed = np.full(total, NONE, dtype=np.int64)
    close = np.zeros(total, dtype=np.int64)
    offset = np.zeros(total, dtype=np.int64)
    for s in orderable:
        mine = np.flatnonzero(store == s.index)
        calendar = calendars[s.index]
        moment, index = _draw_times(
            rng, calendar, cust.active_from[owner[mine]], cust.active_to[owner[mine]]
        )
        placed[mine] = moment
        if len(calendar.start):
            close[mine] = calendar.close[index]
            offset[mine] = calendar.offset[index]
    keep = placed != NONE  # a window with no opening hours in it (joined at closing time)
    owner, store, placed, close, offset = (
        owner[keep],
        store[keep],
        placed[keep],
        close[keep],
        offset[keep],
    )
    order = np.lexsort((owner, placed))
    o = _Orders()
    o.count = len(order)
    o.cust, o.store, o.placed = owner[order], store[order], placed[order]
    o.close, o.offset = close[order], offset[order]
    return o


def _lines(rng: np.random.Generator, world: _World, cust: _Customers, o: _Orders) -> None:
    """1-4 lines per order from the customer's taste, at the store's catalog prices."""
    products = len(world.product_ids)
    sold = (world.prices >= 0).sum(axis=1)
    wanted = rng.choice([1, 2, 3, 4], size=o.count, p=[0.5, 0.3, 0.15, 0.05])
    n_lines = np.minimum(wanted, sold[o.store]).astype(np.int64)
    widest = int(min(4, products))
    picks = np.zeros((o.count, max(widest, 1)), dtype=np.int64)
    popularity = np.log(1.0 / (1.0 + rng.permutation(max(products, 1))) ** 0.9).astype(np.float32)
    store_mask = np.where(world.prices >= 0, 0.0, -np.inf).astype(np.float32)
    favourite_boost = np.float32(math.log(5.0))
    step = 50_000
    for low in range(0, o.count, step):
        high = min(low + step, o.count)
        who = o.cust[low:high]
        logits = cust.taste[who][:, world.product_category] + popularity[None, :products]
        rows = np.arange(high - low)
        for k in range(cust.favourites.shape[1]):
            logits[rows, cust.favourites[who, k]] += favourite_boost
        logits += store_mask[o.store[low:high]]
        # Gumbel top-k: sampling k products without replacement in proportion to their weights.
        logits += rng.gumbel(size=logits.shape).astype(np.float32)
        picks[low:high] = np.argsort(-logits, axis=1)[:, : picks.shape[1]]
    has_line = np.arange(picks.shape[1])[None, :] < n_lines[:, None]
    o.line_product = picks[has_line]
    o.line_start = np.concatenate([[0], np.cumsum(n_lines)]).astype(np.int64)
    line_order = np.repeat(np.arange(o.count), n_lines)
    o.line_quantity = rng.choice([1, 2, 3, 4], size=len(line_order), p=[0.82, 0.14, 0.03, 0.01])
    o.line_price = world.prices[o.store[line_order], o.line_product]
    o.subtotal = _order_sums(o, o.line_price * o.line_quantity)


def _order_sums(o: _Orders, per_line: Int) -> Int:
    sums = np.zeros(o.count, dtype=np.int64)
    np.add.at(sums, np.repeat(np.arange(o.count), np.diff(o.line_start)), per_line)
    return sums


def _fulfilment(rng: np.random.Generator, world: _World, cust: _Customers, o: _Orders) -> None:
    """Pickup, delivery (home store only, minimum order met) or dine-in at a table."""
    allowed = np.zeros((len(world.stores), 3), dtype=bool)
    for s in world.stores:
        allowed[s.index] = [
            "pickup" in s.settings.fulfilment,
            "delivery" in s.settings.fulfilment,
            "dine_in" in s.settings.fulfilment and bool(s.tables),
        ]
    mask = allowed[o.store].copy()
    mask[:, DELIVERY] &= o.store == cust.home[o.cust]  # the address is near the home store
    weights = cust.fulfilment[o.cust] * mask
    empty = weights.sum(axis=1) == 0
    weights[empty] = allowed[o.store[empty]].astype(float) + 1e-9
    cum = np.cumsum(weights, axis=1)
    u = rng.random(o.count) * cum[:, -1]
    o.fulfilment = np.minimum((u[:, None] >= cum).sum(axis=1), 2).astype(np.int64)

    fee_by_store = np.array([s.settings.delivery_fee_minor for s in world.stores], dtype=np.int64)
    minimum = np.array([s.settings.delivery_min_order_minor for s in world.stores], dtype=np.int64)
    most = np.array([s.settings.max_line_quantity for s in world.stores], dtype=np.int64)
    delivery = o.fulfilment == DELIVERY
    short = delivery & (o.subtotal < minimum[o.store])
    if short.any():
        # Below the minimum the bot will not deliver; customers top up their first line.
        first = o.line_start[:-1][short]
        price = np.maximum(o.line_price[first], 1)
        extra = -((o.subtotal[short] - minimum[o.store[short]]) // price)
        o.line_quantity[first] = np.minimum(o.line_quantity[first] + extra, most[o.store[short]])
        o.subtotal = _order_sums(o, o.line_price * o.line_quantity)
        still = delivery & (o.subtotal < minimum[o.store])
        o.fulfilment[still] = np.where(allowed[o.store[still], PICKUP], PICKUP, DINE_IN)
        delivery = o.fulfilment == DELIVERY
    o.fee = np.where(delivery, fee_by_store[o.store], 0)
    o.total = o.subtotal + o.fee

    o.table = [None] * o.count
    table_pick = rng.integers(0, 1 << 30, size=o.count)
    for i in np.flatnonzero(o.fulfilment == DINE_IN).tolist():
        tables = world.stores[o.store[i]].tables
        o.table[i] = tables[table_pick[i] % len(tables)].label
    noted = rng.random(o.count) < 0.04
    note_pick = rng.integers(0, 1 << 30, size=o.count)
    o.note = [None] * o.count
    for i in np.flatnonzero(noted).tolist():
        notes = _ORDER_NOTES["zh-CN" if cust.zh[o.cust[i]] else "en"]
        o.note[i] = notes[note_pick[i] % len(notes)]


def _lifecycle(
    rng: np.random.Generator, world: _World, cust: _Customers, o: _Orders, cut: int
) -> None:
    """Draw each order's path and step times, then cut the history at `cut`."""
    n = o.count
    t = o.placed
    settings = [s.settings for s in world.stores]
    reannounce = np.array([s.sla_reannounce_minutes * MINUTE for s in settings])[o.store]
    timeout = np.array([s.sla_timeout_minutes * MINUTE for s in settings])[o.store]
    sla_accepts = np.array([s.sla_timeout_action == "accept" for s in settings])[o.store]
    busy = np.array([s.busy_extra_minutes for s in settings])[o.store]
    prep_setting = np.array([s.prep_minutes for s in settings])[o.store]
    slot_minutes = np.array([s.slot_minutes for s in settings])[o.store]
    pickup = o.fulfilment == PICKUP

    # Outcome: rejections are likelier just before closing; cancels and no-shows follow habits.
    closing_soon = o.close - t < 30 * MINUTE
    p_reject = np.where(closing_soon, 0.20, 0.042)
    flaky = cust.flakiness[o.cust]
    p_cancel = 0.02 * flaky
    pickup_share = max(float(pickup.mean()) if n else 1.0, 0.05)
    p_no_show = np.where(pickup, 0.01 / pickup_share * flaky, 0.0)
    u = rng.random(n)
    rejected = u < p_reject
    cancelled = ~rejected & (u < p_reject + p_cancel)
    no_show = ~rejected & ~cancelled & (u < p_reject + p_cancel + p_no_show)
    reason = np.where(
        closing_soon,
        _REJECT_REASONS.index(RejectReason.CLOSING_SOON.value),
        rng.choice(
            [
                _REJECT_REASONS.index(RejectReason.SOLD_OUT.value),
                _REJECT_REASONS.index(RejectReason.TOO_BUSY.value),
                _REJECT_REASONS.index(RejectReason.OTHER.value),
            ],
            size=n,
            p=[0.4, 0.35, 0.25],
        ),
    )
    too_busy = reason == _REJECT_REASONS.index(RejectReason.TOO_BUSY.value)
    # Some too-busy orders were never answered: the SLA timed them out (or accepted them).
    timed_out = rejected & too_busy & (timeout > 0) & (rng.random(n) < 0.45)
    sla_accepted = timed_out & sla_accepts
    rejected &= ~sla_accepted
    customer_cancel = cancelled & (rng.random(n) < 0.6)
    store_cancel = cancelled & ~customer_cancel

    accept_delay = np.clip(rng.lognormal(math.log(150), 0.6, n), 60, 600).astype(np.int64)
    accept_delay = np.where(timeout > 0, np.minimum(accept_delay, timeout - 30), accept_delay)
    accept_delay = np.maximum(accept_delay, 20)
    jitter = rng.integers(0, 30, n)  # the jobs loop runs every 30 s
    accept_delay = np.where(sla_accepted, timeout + jitter, accept_delay)
    reject_delay = rng.integers(60, 420, n)
    reject_delay = np.where(timeout > 0, np.minimum(reject_delay, timeout - 30), reject_delay)
    reject_delay = np.where(timed_out, timeout + jitter, np.maximum(reject_delay, 20))

    items = _order_sums(o, o.line_quantity)
    base_prep = np.clip(3 + 2.2 * items + rng.gamma(2.0, 1.5, n), 5, 28)
    eta = np.select([base_prep <= 9, base_prep <= 18], [10, 20], 30)
    eta = np.where(sla_accepted, prep_setting, eta)
    o.eta = np.minimum(eta + busy, 240).astype(np.int64)
    prep = np.clip(base_prep * rng.lognormal(0, 0.18, n) * MINUTE, 300, 1800).astype(np.int64)

    slot_wanted = pickup & (rng.random(n) < 0.15)
    grid = slot_minutes * MINUTE
    local_target = t + o.offset + rng.integers(20 * MINUTE, 90 * MINUTE, n)
    slot = -(-local_target // grid) * grid - o.offset
    o.slot = np.where(slot_wanted & (slot < o.close), slot, NONE)
    has_slot = o.slot != NONE

    steps = np.full((n, ORDER_STEPS), NONE, dtype=np.int64)
    accepted = ~rejected & ~customer_cancel
    t_accept = t + accept_delay
    steps[accepted, ACCEPT] = t_accept[accepted]
    steps[rejected, REJECT] = (t + reject_delay)[rejected]
    cancel_delay = np.maximum((accept_delay * rng.uniform(0.2, 0.9, n)).astype(np.int64), 12)
    steps[customer_cancel, CUSTOMER_CANCEL] = (t + cancel_delay)[customer_cancel]
    t_store_cancel = t_accept + (prep * rng.uniform(0.2, 0.8, n)).astype(np.int64)
    steps[store_cancel, STORE_CANCEL] = t_store_cancel[store_cancel]
    t_ready = t_accept + prep
    t_ready = np.where(
        has_slot, np.maximum(t_ready, o.slot - rng.integers(0, 8 * MINUTE, n)), t_ready
    )
    reaches_ready = accepted & ~store_cancel
    steps[reaches_ready, READY] = t_ready[reaches_ready]
    wait = np.select(
        [o.fulfilment == DINE_IN, o.fulfilment == DELIVERY],
        [rng.integers(30, 240, n), rng.integers(15 * MINUTE, 45 * MINUTE, n)],
        np.clip(rng.exponential(6 * MINUTE, n) + MINUTE, MINUTE, HOUR).astype(np.int64),
    )
    t_complete = np.where(has_slot, np.maximum(t_ready, o.slot), t_ready) + wait
    completes = reaches_ready & ~no_show
    steps[completes, COMPLETE] = t_complete[completes]
    missed = reaches_ready & no_show
    steps[missed, NO_SHOW] = (t_ready + rng.integers(45 * MINUTE, 2 * HOUR, n))[missed]
    first_decision = np.where(
        accepted, t_accept, np.where(rejected, t + reject_delay, t + cancel_delay)
    )
    t_reannounce = t + reannounce + jitter
    reannounced = (reannounce > 0) & (t_reannounce < first_decision)
    reannounced &= (timeout <= 0) | (reannounce < timeout)
    steps[reannounced, REANNOUNCE] = t_reannounce[reannounced]

    steps[steps >= cut] = NONE  # the snapshot: nothing that happens at or after the cut
    o.steps = steps
    o.sla = timed_out
    o.reject_reason = reason
    local_hour = ((t + o.offset) // HOUR) % 24
    o.staff = np.where(rng.random(n) < 0.85, (local_hour >= 14).astype(np.int64), 2)
    codes = np.array(list(_PICKUP_ALPHABET))[rng.integers(0, len(_PICKUP_ALPHABET), (n, 4))]
    o.pickup_code = [str(code) for code in np.ascontiguousarray(codes).view("<U4").ravel()]
    status = np.full(n, _ORDER_STATUS_NAMES.index(OrderStatus.PLACED.value), dtype=np.int64)
    for step in range(ACCEPT, ORDER_STEPS):  # later steps win: they are later in every path
        target = _ORDER_STATUS_NAMES.index(_ORDER_MOVES[step][1].value)
        status = np.where(steps[:, step] != NONE, target, status)
    o.status = status


# --------------------------------------------------------------------------- surveys


@dataclass(slots=True)
class _Surveys:
    subject: Int  # order or reservation index
    store: Int
    finished: Int  # when the visit ended, as the bot computes it
    status: list[str]
    due: Int
    postponed: Bool  # the jobs loop found itself in the quiet hours and moved the survey
    sent: Int
    expires: Int
    answered: Int
    score: Int  # 0 when not answered
    comment: list[str | None]


def _clock_seconds(text_: str) -> int:
    hours, minutes = text_.split(":")
    return int(hours) * HOUR + int(minutes) * MINUTE


def _utc_offsets(world: _World, store: Int, moments: Int) -> Int:
    """Each moment's UTC offset in its store's time zone (exact per hour, so DST is right)."""
    offsets = np.zeros(len(moments), dtype=np.int64)
    for s in world.stores:
        mine = np.flatnonzero(store == s.index)
        if not len(mine):
            continue
        zone = ZoneInfo(s.timezone)
        hours, inverse = np.unique(moments[mine] // HOUR, return_inverse=True)
        table = [
            int(
                (datetime.fromtimestamp(h * HOUR, zone).utcoffset() or timedelta(0)).total_seconds()
            )
            for h in hours.tolist()
        ]
        offsets[mine] = np.array(table, dtype=np.int64)[inverse]
    return offsets


def _outside_quiet_hours(world: _World, store: Int, moments: Int) -> Int:
    """domain.surveys.outside_quiet_hours for many moments: the quiet hours' end if inside."""
    quiet_start = np.array([_clock_seconds(s.settings.survey_quiet_start) for s in world.stores])
    quiet_end = np.array([_clock_seconds(s.settings.survey_quiet_end) for s in world.stores])
    low, high = quiet_start[store], quiet_end[store]
    offset = _utc_offsets(world, store, moments)
    local = moments + offset
    clock = local % DAY
    midnight = local - clock
    within_day = low < high
    inside = np.where(
        within_day, (clock >= low) & (clock < high), (clock >= low) | (clock < high)
    ) & (low != high)
    end_local = np.where(~within_day & (clock >= low), midnight + DAY, midnight) + high
    guess = end_local - offset  # the offset may change overnight (DST): look again at the end
    return np.where(inside, end_local - _utc_offsets(world, store, guess), moments)


def _surveys(
    rng: np.random.Generator,
    world: _World,
    cust: _Customers,
    finished: Int,
    who: Int,
    store: Int,
    penalty: Float,
    cut: int,
) -> _Surveys:
    """Surveys as the bot keeps them, for finished visits (`finished` != NONE).

    Scheduled at completion for customers who take surveys (bot/handlers survey_flow), due the
    store's delay later outside its quiet hours, expiring SURVEY_LIFETIME after that; sent by the
    jobs loop (every 30 s; a customer who blocked the bot meanwhile gets it cancelled); answered
    with a score, then a comment, a skip, or the prompt closed unanswered after COMMENT_GRACE.
    """
    unreachable = cust.unreachable_since[who]
    eligible = (finished != NONE) & cust.surveys_enabled[who]
    eligible &= (unreachable == NONE) | (unreachable > finished)
    subject = np.flatnonzero(eligible)
    count = len(subject)
    who, store, penalty = who[subject], store[subject], penalty[subject]
    unreachable = unreachable[subject]
    delay = np.array([s.settings.survey_delay_minutes * MINUTE for s in world.stores])[store]
    due = _outside_quiet_hours(world, store, finished[subject] + delay)
    expires = due + int(SURVEY_LIFETIME.total_seconds())
    sent = due + rng.integers(0, 30, count)
    # A tick that lands in the quiet hours postpones the survey to their end (expiry stays).
    later = _outside_quiet_hours(world, store, sent)
    postponed = later > sent
    due = np.where(postponed, later, due)
    sent = np.where(postponed, later + rng.integers(0, 30, count), sent)
    cancelled = (unreachable != NONE) & (unreachable <= sent)

    will_answer = rng.random(count) < cust.answer_propensity[who]
    delay_s = np.clip(rng.lognormal(math.log(20 * MINUTE), 1.3, count), 20, SURVEY_EXPIRY - 60)
    answered = np.where(will_answer, sent + delay_s.astype(np.int64), NONE)
    answered = np.where(answered < expires, answered, NONE)
    latent = 1.0 + cust.score_bias[who] + rng.normal(0, 1, count) - penalty
    score = 1 + (latent > -1.35) + (latent > -0.65) + (latent > 0.05) + (latent > 0.8)
    score = score.astype(np.int64)
    comment_share = np.select([score <= 2, score == 3], [0.45, 0.15], 0.08)
    commented = rng.random(count) < comment_share
    skipped = rng.random(count) < 0.6
    comment_pick = rng.integers(0, 1 << 30, count)
    # When the prompt closes: a typed comment or a skip soon, else the jobs loop after the grace.
    closed = answered + np.where(
        commented | skipped,
        rng.integers(20, 5 * MINUTE, count),
        int(COMMENT_GRACE.total_seconds()) + rng.integers(0, 30, count),
    )

    is_sent = (sent < cut) & ~cancelled
    is_answered = is_sent & (answered != NONE) & (answered < cut)
    status = np.select(
        [sent >= cut, cancelled, is_answered, is_sent & (expires <= cut)],
        ["scheduled", "cancelled", "answered", "expired"],
        "sent",
    )
    comments: list[str | None] = [None] * count
    for i in np.flatnonzero(is_answered & (closed < cut)).tolist():
        if not commented[i]:
            comments[i] = ""  # skipped, or closed by the jobs loop
            continue
        tone = 0 if score[i] <= 2 else 1 if score[i] == 3 else 2
        texts = _SURVEY_COMMENTS["zh-CN" if cust.zh[who[i]] else "en"][tone]
        comments[i] = texts[comment_pick[i] % len(texts)]
    return _Surveys(
        subject=subject,
        store=store,
        finished=finished[subject],
        status=status.tolist(),
        due=due,
        postponed=postponed,
        sent=np.where(is_sent, sent, NONE),
        expires=expires,
        answered=np.where(is_answered, answered, NONE),
        score=np.where(is_answered, score, 0),
        comment=comments,
    )


def _order_surveys(
    rng: np.random.Generator, world: _World, cust: _Customers, o: _Orders, cut: int
) -> _Surveys:
    ready_by = np.where(o.steps[:, ACCEPT] != NONE, o.steps[:, ACCEPT] + o.eta * MINUTE, NONE)
    late_minutes = np.maximum(o.steps[:, READY] - ready_by, 0) / MINUTE
    waited = np.maximum(o.steps[:, COMPLETE] - o.placed, 0) / MINUTE
    # Late orders and long waits pull scores down.
    penalty = 0.04 * late_minutes + 0.01 * np.maximum(waited - 45, 0)
    return _surveys(rng, world, cust, o.steps[:, COMPLETE], o.cust, o.store, penalty, cut)


# --------------------------------------------------------------------------- reservations


class _Reservations:
    """Column arrays of every simulated booking, sorted by request time."""

    count: int
    ids: Int
    cust: Int
    store: Int
    kind: list[ReservationKind]
    table: list[TableInfo | None]
    service: list[tuple[int, str, int] | None]
    party: Int
    requested: Int
    starts: Int
    duration: Int
    offset: Int
    steps: Int
    status: Int
    reminder: Int
    staff: Int
    note: list[str | None]


def _reservations(
    rng: np.random.Generator,
    world: _World,
    cust: _Customers,
    calendars: list[_Calendar],
    start: int,
    cut: int,
) -> _Reservations:
    """Table bookings and appointments, allocated as the bot would, then cut at `cut`."""
    bookable = [s for s in world.stores if s.bookable and len(calendars[s.index].start)]
    booker = rng.random(cust.count) < 0.2
    rate = np.where(booker, 0.008, 0.001) * rng.lognormal(-0.125, 0.5, cust.count)
    rate = np.where(cust.segment == SEGMENTS.index("dormant"), 0.0, rate)
    days_active = (cust.active_to - cust.active_from) / DAY
    counts = rng.poisson(rate * days_active) if bookable else np.zeros(cust.count, np.int64)
    owner = np.repeat(np.arange(cust.count, dtype=np.int64), counts)
    total = len(owner)
    store = cust.home[owner]
    if bookable:
        weights = np.array([s.weight for s in bookable])
        other = np.array([s.index for s in bookable])[
            rng.choice(len(bookable), size=total, p=weights / weights.sum())
        ]
        is_bookable = np.isin(store, [s.index for s in bookable])
        store = np.where(is_bookable & (rng.random(total) < 0.9), store, other)
    requested = np.full(total, NONE, dtype=np.int64)
    offset = np.zeros(total, dtype=np.int64)
    for s in bookable:
        mine = np.flatnonzero(store == s.index)
        moment, index = _draw_times(
            rng, calendars[s.index], cust.active_from[owner[mine]], cust.active_to[owner[mine]]
        )
        requested[mine] = moment
        offset[mine] = calendars[s.index].offset[index]
    # Which day (same day, the next few, up to two weeks ahead) and what time of day they want.
    lead_days = np.select(
        [rng.random(total) < 0.4, rng.random(total) < 0.6],
        [np.zeros(total, dtype=np.int64), rng.integers(1, 4, total)],
        rng.integers(4, 15, total),
    )
    table_hour = rng.choice(
        np.arange(11, 21), size=total, p=np.array([5, 20, 12, 6, 7, 6, 10, 17, 12, 5]) / 100
    )
    service_hour = rng.integers(10, 18, total)
    minute_of_hour = rng.integers(0, HOUR, total)
    service_wanted = rng.random(total) < 0.25
    party_pick = rng.choice(
        np.arange(1, 9), size=total, p=np.array([4, 42, 14, 24, 6, 6, 2, 2]) / 100
    )
    pick = rng.integers(0, 1 << 30, total)
    note_pick = rng.integers(0, 1 << 30, total)
    noted = rng.random(total) < 0.1

    # Valid starts per (store, duration): on the store's grid, the visit inside opening hours.
    first_day = datetime.fromtimestamp(start, UTC).date() - timedelta(days=1)
    horizon_days = max(s.settings.reservation_days_ahead for s in bookable) if bookable else 0
    last_day = datetime.fromtimestamp(cut, UTC).date() + timedelta(days=horizon_days + 1)
    starts_cache: dict[tuple[int, int], Int] = {}

    def valid_starts(s: _Store, duration: int) -> Int:
        key = (s.index, duration)
        if key not in starts_cache:
            found: list[int] = []
            day = first_day
            epoch = datetime(1970, 1, 1, tzinfo=UTC)
            while day <= last_day:
                try:
                    found.extend(
                        int(moment.timestamp())
                        for moment in reservation_slots(
                            s.hours,
                            s.timezone,
                            day,
                            now=epoch,
                            slot_minutes=s.settings.reservation_slot_minutes,
                            duration_minutes=duration,
                        )
                    )
                except ValueError:
                    break
                day += timedelta(days=1)
            starts_cache[key] = np.array(sorted(set(found)), dtype=np.int64)
        return starts_cache[key]

    kinds: list[ReservationKind] = []
    services: list[tuple[int, str, int] | None] = []
    party = np.ones(total, dtype=np.int64)
    duration = np.zeros(total, dtype=np.int64)
    starts = np.full(total, NONE, dtype=np.int64)
    for i in range(total):
        s = world.stores[store[i]]
        if requested[i] == NONE:
            kinds.append(ReservationKind.TABLE)
            services.append(None)
            continue
        if s.services and (service_wanted[i] or not s.tables):
            service = s.services[pick[i] % len(s.services)]
            kinds.append(ReservationKind.SERVICE)
            services.append(service)
            duration[i] = service[2]
        else:
            kinds.append(ReservationKind.TABLE)
            services.append(None)
            duration[i] = s.settings.reservation_duration_minutes
            party[i] = min(int(party_pick[i]), max(t.capacity for t in s.tables))
        candidates = valid_starts(s, int(duration[i]))
        hour = service_hour[i] if kinds[-1] is ReservationKind.SERVICE else table_hour[i]
        local_day = (requested[i] + offset[i]) // DAY + lead_days[i]
        wanted = local_day * DAY + hour * HOUR + minute_of_hour[i] - offset[i]
        earliest = requested[i] + 15 * MINUTE  # the bot offers times at least 15 minutes ahead
        latest = requested[i] + s.settings.reservation_days_ahead * DAY
        # The offered time nearest the wish, within 3 hours; a wish the store cannot meet that
        # day (closed, too late) moves to the next day rather than to the next opening, which
        # would crowd every store's first slot.
        for _ in range(8):
            j = int(np.searchsorted(candidates, wanted, side="left"))
            near = [
                int(candidates[k])
                for k in (j - 1, j)
                if 0 <= k < len(candidates)
                and earliest <= candidates[k] <= latest
                and abs(candidates[k] - wanted) <= 3 * HOUR
            ]
            if near:
                starts[i] = min(near, key=lambda moment: (abs(moment - wanted), moment))
                break
            wanted += DAY

    keep = np.flatnonzero(starts != NONE)
    order = keep[np.lexsort((owner[keep], requested[keep]))]
    r = _Reservations()
    r.count = len(order)
    r.cust, r.store, r.requested = owner[order], store[order], requested[order]
    r.starts, r.duration, r.party, r.offset = (
        starts[order],
        duration[order],
        party[order],
        offset[order],
    )
    r.kind = [kinds[i] for i in order.tolist()]
    r.service = [services[i] for i in order.tolist()]
    r.note = [
        _BOOKING_NOTES["zh-CN" if cust.zh[owner[i]] else "en"][note_pick[i] % 4]
        if noted[i]
        else None
        for i in order.tolist()
    ]
    _reservation_lifecycle(rng, world, r, cut)
    _allocate(world, r)
    return r


def _reservation_lifecycle(
    rng: np.random.Generator, world: _World, r: _Reservations, cut: int
) -> None:
    n = r.count
    req, begin = r.requested, r.starts
    settings = [s.settings for s in world.stores]
    cutoff = np.array([s.reservation_cancel_cutoff_minutes * MINUTE for s in settings])[r.store]
    reminder_before = np.array([s.reservation_reminder_minutes * MINUTE for s in settings])[r.store]
    u = rng.random(n)
    declined = u < 0.04
    cancel_early = ~declined & (u < 0.06)
    cancel_late = ~declined & ~cancel_early & (u < 0.11)
    no_show = ~declined & ~cancel_early & ~cancel_late & (u < 0.19)
    deadline = begin - cutoff
    # Customers may cancel only until the cutoff; a booking made inside it cannot be cancelled.
    cancel_early &= deadline > req + MINUTE
    room = np.maximum(begin - req, MINUTE)
    t_confirm = req + np.minimum(rng.integers(MINUTE, 45 * MINUTE, n), room // 2)
    t_decline = req + np.minimum(rng.integers(2 * MINUTE, HOUR, n), room // 2)
    t_cancel_early = req + ((np.minimum(t_confirm, deadline) - req) * rng.uniform(0.1, 0.9, n))
    cancel_late &= deadline > t_confirm + MINUTE
    t_cancel_late = t_confirm + ((deadline - t_confirm) * rng.uniform(0.1, 1.0, n))
    table = np.array([kind is ReservationKind.TABLE for kind in r.kind], dtype=bool)
    t_seat = np.maximum(begin + rng.integers(-10 * MINUTE, 15 * MINUTE, n), t_confirm + MINUTE)
    t_done_table = t_seat + (r.duration * MINUTE * rng.uniform(0.7, 1.15, n)).astype(np.int64)
    t_done_service = np.maximum(
        begin + r.duration * MINUTE + rng.integers(-5 * MINUTE, 10 * MINUTE, n), t_confirm + MINUTE
    )
    t_no_show = begin + rng.integers(15 * MINUTE, 30 * MINUTE, n)

    steps = np.full((n, RESERVATION_STEPS), NONE, dtype=np.int64)
    confirmed = ~declined & ~cancel_early
    steps[confirmed, R_CONFIRM] = t_confirm[confirmed]
    steps[declined, R_DECLINE] = t_decline[declined]
    steps[cancel_early, R_CANCEL_REQUESTED] = t_cancel_early[cancel_early].astype(np.int64)
    steps[cancel_late, R_CANCEL_CONFIRMED] = t_cancel_late[cancel_late].astype(np.int64)
    visits = confirmed & ~cancel_late & ~no_show
    steps[visits & table, R_SEAT] = t_seat[visits & table]
    steps[visits, R_COMPLETE] = np.where(table, t_done_table, t_done_service)[visits]
    missed = confirmed & ~cancel_late & no_show
    steps[missed, R_NO_SHOW] = t_no_show[missed]
    steps[steps >= cut] = NONE
    r.steps = steps
    status = np.full(n, _RESERVATION_STATUS_NAMES.index(ReservationStatus.REQUESTED.value))
    for step in range(RESERVATION_STEPS):
        target = _RESERVATION_STATUS_NAMES.index(_RESERVATION_MOVES[step][1].value)
        status = np.where(steps[:, step] != NONE, target, status)
    r.status = status.astype(np.int64)
    # The reminder job writes reminder_sent_at for bookings still expected, made before the window.
    t_reminder = begin - reminder_before + rng.integers(0, 30, n)
    ended = np.min(
        np.where(
            steps[:, [R_DECLINE, R_CANCEL_REQUESTED, R_CANCEL_CONFIRMED]] == NONE,
            np.iinfo(np.int64).max,
            steps[:, [R_DECLINE, R_CANCEL_REQUESTED, R_CANCEL_CONFIRMED]],
        ),
        axis=1,
    )
    reminded = (reminder_before > 0) & (req < begin - reminder_before)
    reminded &= (t_reminder < cut) & (t_reminder < ended)
    r.reminder = np.where(reminded, t_reminder, NONE)
    local_hour = ((r.starts + r.offset) // HOUR) % 24
    r.staff = np.where(rng.random(n) < 0.85, (local_hour >= 14).astype(np.int64), 2)


def _allocate(world: _World, r: _Reservations) -> None:
    """Give each booking its table as the bot does; drop the ones the bot would have refused.

    Bookings that hold their place (everything but declined or cancelled ones, and those still
    open at the cut) go through domain.booking's choose_table / service_has_room against the
    holding bookings around them, in order of start time.
    """
    holding_status = {_RESERVATION_STATUS_NAMES.index(s.value) for s in _HOLDING_STATUSES}
    final_gone = (r.steps[:, R_DECLINE] != NONE) | (r.steps[:, R_CANCEL_REQUESTED] != NONE)
    final_gone |= r.steps[:, R_CANCEL_CONFIRMED] != NONE
    holds = ~final_gone | np.isin(r.status, list(holding_status))
    r.table = [None] * r.count
    keep = np.ones(r.count, dtype=bool)
    active: dict[int, list[Booked]] = {}
    for i in np.lexsort((np.arange(r.count), r.starts)).tolist():
        s = world.stores[r.store[i]]
        begin = datetime.fromtimestamp(int(r.starts[i]), UTC)
        around = [b for b in active.get(s.index, []) if b.ends_at > begin]
        active[s.index] = around
        minutes = int(r.duration[i])
        if r.kind[i] is ReservationKind.TABLE:
            table = choose_table(
                s.tables, around if holds[i] else [], int(r.party[i]), begin, minutes
            )
            if table is None:
                keep[i] = False
                continue
            r.table[i] = table
            booked = Booked(begin, minutes, ReservationKind.TABLE, table_id=table.id)
        else:
            if holds[i] and not service_has_room(
                around, begin, minutes, s.settings.service_capacity
            ):
                keep[i] = False
                continue
            service = r.service[i]
            booked = Booked(
                begin, minutes, ReservationKind.SERVICE, service_id=service[0] if service else None
            )
        if holds[i]:
            around.append(booked)
    if not keep.all():
        _take_reservations(r, np.flatnonzero(keep))


def _take_reservations(r: _Reservations, index: Int) -> None:
    for name in ("cust", "store", "requested", "starts", "duration", "party", "offset", "steps"):
        setattr(r, name, getattr(r, name)[index])
    for name in ("status", "reminder", "staff"):
        setattr(r, name, getattr(r, name)[index])
    chosen = index.tolist()
    r.kind = [r.kind[i] for i in chosen]
    r.service = [r.service[i] for i in chosen]
    r.table = [r.table[i] for i in chosen]
    r.note = [r.note[i] for i in chosen]
    r.count = len(chosen)


def _reservation_surveys(
    rng: np.random.Generator, world: _World, cust: _Customers, r: _Reservations, cut: int
) -> _Surveys:
    """The bot schedules a booking's survey when it is seated (or completed), for its end."""
    first = np.where(r.steps[:, R_SEAT] != NONE, r.steps[:, R_SEAT], r.steps[:, R_COMPLETE])
    ends = r.starts + r.duration * MINUTE
    finished = np.where(first != NONE, np.maximum(first, ends), NONE)
    late = np.maximum(r.steps[:, R_SEAT] - r.starts, 0) / MINUTE
    penalty = np.where(r.steps[:, R_SEAT] != NONE, 0.03 * late, 0.0)
    return _surveys(rng, world, cust, finished, r.cust, r.store, penalty, cut)


# --------------------------------------------------------------------------- the plan


@dataclass(slots=True)
class _Plan:
    world: _World
    cust: _Customers
    orders: _Orders
    order_surveys: _Surveys
    reservations: _Reservations
    reservation_surveys: _Surveys
    start: int
    cut: int
    last_seen: Int = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # per customer
    active: Bool = field(default_factory=lambda: np.zeros(0, dtype=bool))  # ordered or booked


def _plan(
    world: _World, customers: int, seed: int, start: int, cut: int, first_ids: dict[str, int]
) -> _Plan:
    """Draw the whole history in memory (vectorised) and check it against the domain."""

    def stream(number: int) -> np.random.Generator:
        return np.random.default_rng([seed, number])

    calendars = [_calendar(s, start, cut) for s in world.stores]
    cust = _customers(stream(_CUSTOMERS), world, customers, first_ids["customers"], start, cut)
    orders = _orders(stream(_ORDERS), world, cust, calendars)
    orders.ids = np.arange(first_ids["orders"], first_ids["orders"] + orders.count, dtype=np.int64)
    _lines(stream(_LINES), world, cust, orders)
    lifecycle = stream(_LIFECYCLE)
    _fulfilment(lifecycle, world, cust, orders)
    _lifecycle(lifecycle, world, cust, orders, cut)
    surveys = stream(_SURVEYS)
    order_surveys = _order_surveys(surveys, world, cust, orders, cut)
    reservations = _reservations(stream(_RESERVATIONS), world, cust, calendars, start, cut)
    first = first_ids["reservations"]
    reservations.ids = np.arange(first, first + reservations.count, dtype=np.int64)
    reservation_surveys = _reservation_surveys(surveys, world, cust, reservations, cut)
    plan = _Plan(world, cust, orders, order_surveys, reservations, reservation_surveys, start, cut)
    plan.last_seen = cust.joined.copy()
    np.maximum.at(plan.last_seen, orders.cust, orders.placed)
    np.maximum.at(plan.last_seen, reservations.cust, reservations.requested)
    plan.active = np.zeros(cust.count, dtype=bool)
    plan.active[orders.cust] = True
    plan.active[reservations.cust] = True
    _check_plan(plan)
    return plan


# --------------------------------------------------------------------------- checks


class _PlanBug(AssertionError):
    """The simulation drew something the domain refuses: a bug here, not bad input."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise _PlanBug(message)


def _check_steps_ordered(steps: Int, first: Int, what: str) -> None:
    """Every present step is at or after the previous one, and after the first moment."""
    running = first.copy()
    for k in range(steps.shape[1]):
        present = steps[:, k] != NONE
        _require(bool((steps[present, k] >= running[present]).all()), f"{what}: step {k} early")
        running = np.where(present, steps[:, k], running)


def _sample(count: int, signature: Int) -> Int:
    """A spread of rows plus the first row of every distinct path."""
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    spread = np.linspace(0, count - 1, min(count, VALIDATE_SAMPLE)).astype(np.int64)
    _, firsts = np.unique(signature, return_index=True)
    return np.unique(np.concatenate([spread, firsts.astype(np.int64)]))


def _check_plan(plan: _Plan) -> None:
    o, r = plan.orders, plan.reservations
    _check_steps_ordered(o.steps, o.placed, "order")
    _check_steps_ordered(r.steps, r.requested, "reservation")
    _require(
        bool((o.total == _order_sums(o, o.line_price * o.line_quantity) + o.fee).all()), "total"
    )
    bits = 1 << np.arange(ORDER_STEPS, dtype=np.int64)
    signature = ((o.steps != NONE) * bits).sum(axis=1) * 2 + o.sla
    sample = _sample(o.count, signature)
    rows = _order_rows(plan, sample)
    events = _order_events(plan, sample)
    by_order: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        by_order.setdefault(event["order_id"], []).append(event)
    for row in rows:
        _replay_order(row, by_order[row["id"]])
    bits = 1 << np.arange(RESERVATION_STEPS, dtype=np.int64)
    signature = ((r.steps != NONE) * bits).sum(axis=1) * 2 + np.array(
        [kind is ReservationKind.TABLE for kind in r.kind], dtype=np.int64
    )
    sample = _sample(r.count, signature)
    rows = _reservation_rows(plan, sample)
    by_booking: dict[int, list[dict[str, Any]]] = {}
    for event in _reservation_events(plan, sample):
        by_booking.setdefault(event["reservation_id"], []).append(event)
    for row in rows:
        _replay_reservation(row, by_booking[row["id"]])
    for surveys in (plan.order_surveys, plan.reservation_surveys):
        _check_surveys(plan.world, surveys)


def _check_surveys(world: _World, surveys: _Surveys) -> None:
    """Due and expiry times of a spread of surveys, against domain.surveys.survey_due_at."""
    for i in _sample(len(surveys.subject), surveys.postponed.astype(np.int64)).tolist():
        store = world.stores[surveys.store[i]]
        finished = datetime.fromtimestamp(int(surveys.finished[i]), UTC)
        due = survey_due_at(finished, store.settings, store.timezone)
        expires = datetime.fromtimestamp(int(surveys.expires[i]), UTC)
        _require(expires == due + SURVEY_LIFETIME, f"survey expiry {expires} != {due} + lifetime")
        if not surveys.postponed[i]:
            drawn = datetime.fromtimestamp(int(surveys.due[i]), UTC)
            _require(drawn == due, f"survey due {drawn} != domain {due}")


def _replay_order(row: dict[str, Any], events: list[dict[str, Any]]) -> None:
    """Drive a domain Order through the row's events and compare what it ends up as."""
    order = Order(
        id=row["id"],
        store_id=row["store_id"],
        customer_id=row["customer_id"],
        fulfilment=row["fulfilment"],
        placed_at=row["placed_at"],
        total=Money(row["total_minor"], row["currency"]),
    )
    first, *moves = events
    _require(first["to_status"] == "placed" and first["at"] == row["placed_at"], "placed event")
    for event in moves:
        at, actor, target = event["at"], event["actor"], event["to_status"]
        if target == OrderStatus.PLACED.value:  # the SLA's re-announcement: audit only
            _require(order.status is OrderStatus.PLACED and actor == SLA_ACTOR, "re-announce")
            continue
        if target == OrderStatus.ACCEPTED.value:
            change = order.accept(at, actor, row["eta_minutes"])
        elif target == OrderStatus.REJECTED.value:
            change = order.reject(at, actor, RejectReason(row["reject_reason"]))
        elif target == OrderStatus.CANCELLED.value:
            change = order.cancel(at, actor, event["note"])
        elif target == OrderStatus.READY.value:
            change = order.mark_ready(at, actor, row["pickup_code"])
        elif target == OrderStatus.COMPLETED.value:
            change = order.complete(at, actor)
        else:
            change = order.mark_no_show(at, actor)
        _require(
            (change.from_status, change.to_status, change.note)
            == (event["from_status"], target, event["note"]),
            f"order {row['id']}: event {event}",
        )
    expected = {
        "status": order.status.value,
        "eta_minutes": order.eta_minutes,
        "ready_by": order.ready_by,
        "pickup_code": order.pickup_code,
        "reject_reason": order.reject_reason,
        "version": order.version,
        **{f"{s.value}_at": getattr(order, f"{s.value}_at") for s in OrderStatus},
    }
    actual = {key: row[key] for key in expected}
    _require(actual == expected, f"order {row['id']}: row {actual} != domain {expected}")


def _replay_reservation(row: dict[str, Any], events: list[dict[str, Any]]) -> None:
    """Drive a domain Reservation through the row's events and compare the outcome."""
    booking = Reservation(
        id=row["id"],
        store_id=row["store_id"],
        customer_id=row["customer_id"],
        kind=ReservationKind(row["kind"]),
        party_size=row["party_size"],
        starts_at=row["starts_at"],
        duration_minutes=row["duration_minutes"],
        requested_at=row["requested_at"],
    )
    first, *moves = events
    _require(first["to_status"] == "requested", "requested event")
    for event in moves:
        at, actor, target = event["at"], event["actor"], event["to_status"]
        if target == ReservationStatus.CONFIRMED.value:
            change = booking.confirm(at, actor)
        elif target == ReservationStatus.DECLINED.value:
            change = booking.decline(at, actor, row["decline_reason"])
        elif target == ReservationStatus.CANCELLED.value:
            change = booking.cancel(at, actor, event["note"])
        elif target == ReservationStatus.SEATED.value:
            change = booking.seat(at, actor)
        elif target == ReservationStatus.COMPLETED.value:
            change = booking.complete(at, actor)
        else:
            change = booking.mark_no_show(at, actor)
        _require(
            (change.from_status, change.to_status) == (event["from_status"], target),
            f"reservation {row['id']}: event {event}",
        )
    expected = {
        "status": booking.status.value,
        "decline_reason": booking.decline_reason,
        "version": booking.version,
        **{f"{s.value}_at": getattr(booking, f"{s.value}_at") for s in ReservationStatus},
    }
    actual = {key: row[key] for key in expected}
    _require(actual == expected, f"reservation {row['id']}: row {actual} != domain {expected}")


# --------------------------------------------------------------------------- rows


def _moments(seconds: Int) -> list[datetime | None]:
    return [None if s == NONE else datetime.fromtimestamp(s, UTC) for s in seconds.tolist()]


def _customer_rows(
    plan: _Plan, index: Int, encode: Callable[[Int], list[Any]] = _moments
) -> list[dict[str, Any]]:
    cust, world = plan.cust, plan.world
    last, active = plan.last_seen, plan.active
    idx = index.tolist()
    created = encode(cust.joined[index])
    updated = encode(last[index])
    unreachable = encode(cust.unreachable_since[index])
    store_ids = [world.stores[s].id for s in cust.home[index].tolist()]
    return [
        {
            "id": int(cust.ids[i]),
            "telegram_id": SIM_TELEGRAM_BASE + i,
            "first_name": cust.first_name[i],
            "last_name": cust.last_name[i],
            "username": cust.username[i],
            "language": "zh-CN" if cust.zh[i] else "en",
            "language_chosen": bool(cust.language_chosen[i]),
            "phone": cust.phone[i] if active[i] else None,
            "marketing_consent": bool(cust.marketing_consent[i]),
            "surveys_enabled": bool(cust.surveys_enabled[i]),
            "reachable": gone is None,
            "unreachable_since": gone,
            "selected_store_id": store_id,
            "created_at": made,
            "updated_at": changed,
        }
        for i, made, changed, gone, store_id in zip(
            idx, created, updated, unreachable, store_ids, strict=True
        )
    ]


def _order_rows(
    plan: _Plan, index: Int, encode: Callable[[Int], list[Any]] = _moments
) -> list[dict[str, Any]]:
    o, cust, world = plan.orders, plan.cust, plan.world
    steps = o.steps[index]
    accepted = steps[:, ACCEPT]
    ready = steps[:, READY]
    has_accept = accepted != NONE
    customer_cancel = steps[:, CUSTOMER_CANCEL] != NONE
    store_cancel = steps[:, STORE_CANCEL] != NONE
    columns = {
        "placed_at": encode(o.placed[index]),
        "accepted_at": encode(accepted),
        "ready_at": encode(ready),
        "completed_at": encode(steps[:, COMPLETE]),
        "rejected_at": encode(steps[:, REJECT]),
        "cancelled_at": encode(np.maximum(steps[:, CUSTOMER_CANCEL], steps[:, STORE_CANCEL])),
        "no_show_at": encode(steps[:, NO_SHOW]),
        "ready_by": encode(np.where(has_accept, accepted + o.eta[index] * MINUTE, NONE)),
        "slot_start": encode(o.slot[index]),
    }
    version = (steps[:, ACCEPT:] != NONE).sum(axis=1).tolist()
    eta = np.where(has_accept, o.eta[index], NONE).tolist()
    rejected = (steps[:, REJECT] != NONE).tolist()
    reason = o.reject_reason[index].tolist()
    cancel_note = np.select(
        [customer_cancel, store_cancel], [CUSTOMER_CANCEL_NOTE, STORE_CANCEL_NOTE], ""
    ).tolist()
    ready_list = (ready != NONE).tolist()
    rows = []
    for k, i in enumerate(index.tolist()):
        c = int(o.cust[i])
        s = world.stores[o.store[i]]
        delivery = o.fulfilment[i] == DELIVERY
        order_id = int(o.ids[i])
        lat, lon = float(cust.home_lat[c]), float(cust.home_lon[c])
        rows.append(
            {
                "id": order_id,
                "number": f"{order_id:04d}",
                "store_id": s.id,
                "customer_id": int(cust.ids[c]),
                "idempotency_key": f"sim:{order_id}",
                "status": _ORDER_STATUS_NAMES[o.status[i]],
                "fulfilment": _FULFILMENTS[o.fulfilment[i]],
                "slot_start": columns["slot_start"][k],
                "table_label": o.table[i],
                "delivery_address": cust.address[c] if delivery else None,
                "delivery_latitude": lat if delivery and not math.isnan(lat) else None,
                "delivery_longitude": lon if delivery and not math.isnan(lon) else None,
                "contact_phone": cust.phone[c],
                "comment": o.note[i],
                "subtotal_minor": int(o.subtotal[i]),
                "delivery_fee_minor": int(o.fee[i]),
                "total_minor": int(o.total[i]),
                "currency": s.currency,
                "payment_method": "at_store",
                "paid_at": None,
                "telegram_payment_charge_id": None,
                "eta_minutes": eta[k] if eta[k] != NONE else None,
                "ready_by": columns["ready_by"][k],
                "pickup_code": o.pickup_code[i] if ready_list[k] else None,
                "reject_reason": _REJECT_REASONS[reason[k]] if rejected[k] else None,
                "cancel_reason": cancel_note[k] or None,
                "placed_at": columns["placed_at"][k],
                "accepted_at": columns["accepted_at"][k],
                "ready_at": columns["ready_at"][k],
                "completed_at": columns["completed_at"][k],
                "rejected_at": columns["rejected_at"][k],
                "cancelled_at": columns["cancelled_at"][k],
                "no_show_at": columns["no_show_at"][k],
                "version": version[k],
            }
        )
    return rows


def _line_rows(plan: _Plan, low: int, high: int) -> list[dict[str, Any]]:
    o, world = plan.orders, plan.world
    first, last = int(o.line_start[low]), int(o.line_start[high])
    counts = np.diff(o.line_start[low : high + 1])
    order_ids = np.repeat(o.ids[low:high], counts).tolist()
    products = o.line_product[first:last].tolist()
    prices = o.line_price[first:last].tolist()
    quantities = o.line_quantity[first:last].tolist()
    product_ids = world.product_ids.tolist()
    return [
        {
            "order_id": order_id,
            "product_id": product_ids[p],
            "name": world.product_names[p],
            "unit_price_minor": price,
            "quantity": quantity,
            "line_total_minor": price * quantity,
        }
        for order_id, p, price, quantity in zip(
            order_ids, products, prices, quantities, strict=True
        )
    ]


def _event(
    subject: str,
    subject_id: int,
    move: tuple[str | None, str],
    actor: str,
    actor_name: str | None,
    note: str | None,
    at: Any,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        subject: subject_id,
        "from_status": move[0],
        "to_status": move[1],
        "actor": actor,
        "note": note,
        "at": at,
    }
    if _HAS_ACTOR_NAME:
        row["actor_name"] = actor_name
    return row


def _order_events(
    plan: _Plan, index: Int, encode: Callable[[Int], list[Any]] = _moments
) -> list[dict[str, Any]]:
    """One row per transition (and the SLA's re-announcement), per order in id order."""
    o, cust, world = plan.orders, plan.cust, plan.world
    steps = o.steps[index]
    rows_, cols_ = np.nonzero(steps != NONE)
    position = np.concatenate([np.arange(len(index)), rows_])
    step = np.concatenate([np.full(len(index), -1), cols_])
    at = np.concatenate([o.placed[index], steps[rows_, cols_]])
    order = np.lexsort((step, position))
    moments = encode(at[order])
    moves = [(move[0].value, move[1].value) for move in _ORDER_MOVES]
    notes = {REANNOUNCE: REANNOUNCED, CUSTOMER_CANCEL: CUSTOMER_CANCEL_NOTE}
    notes[STORE_CANCEL] = STORE_CANCEL_NOTE
    events = []
    for pos, k, moment in zip(position[order].tolist(), step[order].tolist(), moments, strict=True):
        i = int(index[pos])
        order_id = int(o.ids[i])
        customer = f"customer:{int(cust.ids[o.cust[i]])}"
        if k == -1:
            events.append(
                _event("order_id", order_id, (None, "placed"), customer, None, None, moment)
            )
            continue
        name: str | None = None
        if k == REANNOUNCE or (k in (ACCEPT, REJECT) and o.sla[i]):
            actor = SLA_ACTOR
        elif k == CUSTOMER_CANCEL:
            actor = customer
        else:
            staff_id, name = world.stores[o.store[i]].staff[o.staff[i]]
            actor = f"staff:{staff_id}"
        events.append(_event("order_id", order_id, moves[k], actor, name, notes.get(k), moment))
    return events


def _survey_rows(
    plan: _Plan,
    surveys: _Surveys,
    low: int,
    high: int,
    subject: str,
    encode: Callable[[Int], list[Any]] = _moments,
) -> list[dict[str, Any]]:
    """Survey rows whose subjects (orders or reservations) lie in [low, high)."""
    first = int(np.searchsorted(surveys.subject, low, side="left"))
    last = int(np.searchsorted(surveys.subject, high, side="left"))
    if subject == "order_id":
        ids, who, where = plan.orders.ids, plan.orders.cust, plan.orders.store
    else:
        ids, who, where = plan.reservations.ids, plan.reservations.cust, plan.reservations.store
    index = surveys.subject[first:last]
    span = slice(first, last)
    due, sent = encode(surveys.due[span]), encode(surveys.sent[span])
    expires, answered = encode(surveys.expires[span]), encode(surveys.answered[span])
    scores = surveys.score[span].tolist()
    store_ids = [plan.world.stores[s].id for s in where[index].tolist()]
    return [
        {
            subject: subject_id,
            "customer_id": customer_id,
            "store_id": store_id,
            "status": status,
            "due_at": due[k],
            "sent_at": sent[k],
            "expires_at": expires[k],
            "score": scores[k] or None,
            "comment": comment,
            "answered_at": answered[k],
        }
        for k, (subject_id, customer_id, store_id, status, comment) in enumerate(
            zip(
                ids[index].tolist(),
                plan.cust.ids[who[index]].tolist(),
                store_ids,
                surveys.status[first:last],
                surveys.comment[first:last],
                strict=True,
            )
        )
    ]


def _reservation_rows(
    plan: _Plan, index: Int, encode: Callable[[Int], list[Any]] = _moments
) -> list[dict[str, Any]]:
    r, cust, world = plan.reservations, plan.cust, plan.world
    steps = r.steps[index]
    cancelled = np.maximum(steps[:, R_CANCEL_REQUESTED], steps[:, R_CANCEL_CONFIRMED])
    columns = {
        "requested_at": encode(r.requested[index]),
        "starts_at": encode(r.starts[index]),
        "reminder_sent_at": encode(r.reminder[index]),
        "confirmed_at": encode(steps[:, R_CONFIRM]),
        "seated_at": encode(steps[:, R_SEAT]),
        "completed_at": encode(steps[:, R_COMPLETE]),
        "declined_at": encode(steps[:, R_DECLINE]),
        "cancelled_at": encode(cancelled),
        "no_show_at": encode(steps[:, R_NO_SHOW]),
    }
    version = (steps != NONE).sum(axis=1).tolist()
    declined = (steps[:, R_DECLINE] != NONE).tolist()
    rows = []
    for k, i in enumerate(index.tolist()):
        table, service = r.table[i], r.service[i]
        c = int(r.cust[i])
        rows.append(
            {
                "id": int(r.ids[i]),
                "store_id": world.stores[r.store[i]].id,
                "customer_id": int(cust.ids[c]),
                "kind": r.kind[i].value,
                "resource": table.label if table else service[1] if service else None,
                "table_id": table.id if table else None,
                "service_id": service[0] if service else None,
                "reminder_sent_at": columns["reminder_sent_at"][k],
                "party_size": int(r.party[i]),
                "starts_at": columns["starts_at"][k],
                "duration_minutes": int(r.duration[i]),
                "status": _RESERVATION_STATUS_NAMES[r.status[i]],
                "contact_phone": cust.phone[c],
                "comment": r.note[i],
                "decline_reason": DECLINE_REASON if declined[k] else None,
                "requested_at": columns["requested_at"][k],
                "confirmed_at": columns["confirmed_at"][k],
                "seated_at": columns["seated_at"][k],
                "completed_at": columns["completed_at"][k],
                "declined_at": columns["declined_at"][k],
                "cancelled_at": columns["cancelled_at"][k],
                "no_show_at": columns["no_show_at"][k],
                "version": version[k],
            }
        )
    return rows


def _reservation_events(
    plan: _Plan, index: Int, encode: Callable[[Int], list[Any]] = _moments
) -> list[dict[str, Any]]:
    r, cust, world = plan.reservations, plan.cust, plan.world
    steps = r.steps[index]
    rows_, cols_ = np.nonzero(steps != NONE)
    position = np.concatenate([np.arange(len(index)), rows_])
    step = np.concatenate([np.full(len(index), -1), cols_])
    at = np.concatenate([r.requested[index], steps[rows_, cols_]])
    order = np.lexsort((step, position))
    moments = encode(at[order])
    moves = [(move[0].value, move[1].value) for move in _RESERVATION_MOVES]
    events = []
    for pos, k, moment in zip(position[order].tolist(), step[order].tolist(), moments, strict=True):
        i = int(index[pos])
        booking_id = int(r.ids[i])
        customer = f"customer:{int(cust.ids[r.cust[i]])}"
        if k == -1:
            move: tuple[str | None, str] = (None, ReservationStatus.REQUESTED.value)
            events.append(_event("reservation_id", booking_id, move, customer, None, None, moment))
        elif k in (R_CANCEL_REQUESTED, R_CANCEL_CONFIRMED):
            events.append(
                _event(
                    "reservation_id",
                    booking_id,
                    moves[k],
                    customer,
                    None,
                    CUSTOMER_CANCEL_NOTE,
                    moment,
                )
            )
        else:
            staff_id, name = world.stores[r.store[i]].staff[r.staff[i]]
            move = moves[k]
            if k == R_COMPLETE and r.steps[i, R_SEAT] == NONE:
                move = (
                    ReservationStatus.CONFIRMED.value,
                    move[1],
                )  # a service nobody is seated for
            actor = f"staff:{staff_id}"
            events.append(_event("reservation_id", booking_id, move, actor, name, None, moment))
    return events


# --------------------------------------------------------------------------- writing


def _sqlite_text(seconds: Int) -> list[Any]:
    """Moments as the text SQLAlchemy stores in SQLite ("2026-01-31 08:00:00.000000")."""
    text_ = np.datetime_as_string(
        seconds.astype("datetime64[s]").astype("datetime64[us]"), unit="us"
    ).astype("U26")
    text_.view("U1").reshape(-1, 26)[:, 10] = " "
    values = text_.astype(object)
    values[seconds == NONE] = None
    result: list[Any] = values.tolist()
    return result


@dataclass(frozen=True, slots=True)
class _Target:
    """Where rows go: the tables to insert into and how moments are encoded for them."""

    tables: dict[str, Table]
    encode: Callable[[Int], list[Any]]


def _target(dialect: Dialect) -> _Target:
    """Tables whose UTC columns take pre-encoded values, when that is provably the same.

    Converting millions of datetimes one by one through UtcDateTime (and, on SQLite, through
    SQLAlchemy's text formatting) costs about a third of the run. On SQLite the moments are
    formatted as text in bulk with numpy, checked against the real column's bind processor; on
    PostgreSQL aware UTC datetimes go to the plain timestamptz type underneath. Anything else
    gets the real tables.
    """
    models_ = (
        models.Customer,
        models.Order,
        models.OrderLine,
        models.OrderEvent,
        models.Survey,
        models.Reservation,
    )
    real = {_table(model).name: _table(model) for model in models_}
    probe = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
    column_type = _table(models.Order).c.placed_at.type
    processor = column_type.dialect_impl(dialect).bind_processor(dialect)
    expected = processor(probe) if processor is not None else probe
    moment_type: TypeEngine[Any]
    if dialect.name == "sqlite" and expected == _sqlite_text(np.array([int(probe.timestamp())]))[0]:
        moment_type, encode = String(), _sqlite_text
    elif dialect.name == "postgresql" and expected == probe:
        moment_type, encode = DateTime(timezone=True), _moments
    else:
        return _Target(real, _moments)
    lean = {}
    for name, table in real.items():
        columns = [
            Column(
                column.name,
                moment_type if isinstance(column.type, UtcDateTime) else column.type,
                primary_key=column.primary_key,
            )
            for column in table.columns
        ]
        lean[name] = Table(name, MetaData(), *columns)
    return _Target(lean, encode)


async def _insert(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    for low in range(0, len(rows), ROWS_PER_STATEMENT):
        await session.execute(insert(table), rows[low : low + ROWS_PER_STATEMENT])


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


_Batch = list[tuple[str, list[dict[str, Any]]]]


def _batches(plan: _Plan, target: _Target) -> list[tuple[int, Callable[[], _Batch]]]:
    """The transactions to run: (records, build rows); customers, then orders, then bookings."""
    o, r, cust, encode = plan.orders, plan.reservations, plan.cust, target.encode

    def customers(low: int, high: int) -> _Batch:
        return [("customers", _customer_rows(plan, np.arange(low, high), encode))]

    def orders(low: int, high: int) -> _Batch:
        index = np.arange(low, high)
        return [
            ("orders", _order_rows(plan, index, encode)),
            ("order_lines", _line_rows(plan, low, high)),
            ("order_events", _order_events(plan, index, encode)),
            ("surveys", _survey_rows(plan, plan.order_surveys, low, high, "order_id", encode)),
        ]

    def bookings(low: int, high: int) -> _Batch:
        index = np.arange(low, high)
        surveys = plan.reservation_surveys
        return [
            ("reservations", _reservation_rows(plan, index, encode)),
            ("order_events", _reservation_events(plan, index, encode)),
            ("surveys", _survey_rows(plan, surveys, low, high, "reservation_id", encode)),
        ]

    batches: list[tuple[int, Callable[[], _Batch]]] = []
    for count, size, build in (
        (cust.count, CUSTOMERS_PER_CHUNK, customers),
        (o.count, ORDERS_PER_CHUNK, orders),
        (r.count, RESERVATIONS_PER_CHUNK, bookings),
    ):
        for low in range(0, count, size):
            high = min(low + size, count)
            batches.append((high - low, functools.partial(build, low, high)))
    return batches


async def _write(
    sessionmaker: async_sessionmaker[AsyncSession],
    plan: _Plan,
    progress: Callable[[int, int], None] | None,
) -> int:
    """Insert the plan, one transaction per chunk; return the number of events written.

    The next chunk's rows are built in a worker thread while the current one is inserted, so
    SQLite's own work (outside the GIL) overlaps with Python's.
    """
    async with sessionmaker() as session:
        dialect = session.get_bind().dialect
    target = _target(dialect)
    batches = _batches(plan, target)
    total = sum(count for count, _ in batches)
    done = events = 0
    if progress is not None:
        progress(done, total)
    pending = asyncio.ensure_future(asyncio.to_thread(batches[0][1])) if batches else None
    try:
        for k, (count, _build) in enumerate(batches):
            assert pending is not None
            batch = await pending
            pending = None
            if k + 1 < len(batches):
                pending = asyncio.ensure_future(asyncio.to_thread(batches[k + 1][1]))
            async with sessionmaker() as session, session.begin():
                if dialect.name == "sqlite":
                    # The indexes outgrow SQLite's 2 MB default cache; misses dominate past ~1 GB.
                    await session.execute(text(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}"))
                for name, rows in batch:
                    await _insert(session, target.tables[name], rows)
            events += sum(len(rows) for name, rows in batch if name == "order_events")
            done += count
            if progress is not None:
                progress(done, total)
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pending
    if dialect.name == "postgresql":
        async with sessionmaker() as session, session.begin():
            # Ids were given explicitly; the sequences must move past them for the bot's inserts.
            for name in ("customers", "orders", "reservations"):
                await session.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # noqa: S608  # fixed table names
                        f"(SELECT COALESCE(MAX(id), 1) FROM {name}))"
                    )
                )
    return events


# --------------------------------------------------------------------------- entry points


async def _next_ids(session: AsyncSession) -> dict[str, int]:
    ids = {}
    for name, model in (
        ("customers", models.Customer),
        ("orders", models.Order),
        ("reservations", models.Reservation),
    ):
        ids[name] = int(await session.scalar(select(func.coalesce(func.max(model.id), 0))) or 0) + 1
    return ids


def _check_arguments(customers: int, days: int, seed: int) -> None:
    if not 1 <= customers <= MAX_CUSTOMERS:
        raise SimulationError(f"--customers: 1 to {MAX_CUSTOMERS:,}, got {customers}")
    if not 1 <= days <= MAX_DAYS:
        raise SimulationError(f"--days: 1 to {MAX_DAYS}, got {days}")
    if seed < 0:
        raise SimulationError(f"--seed: a non-negative integer, got {seed}")


def _counts(names: Sequence[str], values: Int) -> dict[str, int]:
    found = np.bincount(values, minlength=len(names)) if len(values) else [0] * len(names)
    return {name: int(count) for name, count in zip(names, found, strict=True)}


async def simulate(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    customers: int,
    days: int,
    seed: int,
    end: date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationSummary:
    """Write a simulated history into a migrated database; SimulationError when it cannot."""
    began = monotonic()
    _check_arguments(customers, days, seed)
    end_day = end if end is not None else datetime.now(UTC).date()
    cut_at = datetime.combine(end_day, time(), UTC)
    start_at = cut_at - timedelta(days=days)
    # Stores opened well before the history's oldest customers joined.
    opened = start_at - timedelta(days=732)
    async with sessionmaker() as session:
        simulated = await session.scalar(
            select(models.Customer.id)
            .where(
                models.Customer.telegram_id >= SIM_TELEGRAM_BASE,
                models.Customer.telegram_id < SIM_TELEGRAM_END,
            )
            .limit(1)
        )
    if simulated is not None:
        raise SimulationError(
            "the database holds simulated customers already; simulate into a fresh database"
        )
    await seed_demo_data(sessionmaker, opened)
    async with sessionmaker() as session, session.begin():
        await _ensure_stores(session, opened)
        world = await _load_world(session)
        first_ids = await _next_ids(session)
    if not any(s.orderable for s in world.stores):
        raise SimulationError("no store sells anything yet: import a catalog first")
    start, cut = int(start_at.timestamp()), int(cut_at.timestamp())
    plan = await asyncio.to_thread(_plan, world, customers, seed, start, cut, first_ids)
    events = await _write(sessionmaker, plan, progress)
    surveys = _counts(
        SURVEY_STATUSES,
        np.array(
            [
                SURVEY_STATUSES.index(status)
                for status in plan.order_surveys.status + plan.reservation_surveys.status
            ],
            dtype=np.int64,
        ),
    )
    return SimulationSummary(
        customers=plan.cust.count,
        stores=tuple(s.code for s in world.stores if s.orderable or s.bookable),
        start=start_at,
        end=cut_at,
        orders_by_status=_counts(_ORDER_STATUS_NAMES, plan.orders.status),
        order_lines=len(plan.orders.line_product),
        order_events=events,
        surveys_by_status=surveys,
        reservations_by_status=_counts(_RESERVATION_STATUS_NAMES, plan.reservations.status),
        seconds=monotonic() - began,
    )


def database_url(text_: str) -> str:
    """A --db URL with the async driver (as O2O_DATABASE_URL is read); SimulationError if not."""
    if text_.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + text_.removeprefix("sqlite://")
    if text_.startswith(("postgres://", "postgresql://")):
        return "postgresql+asyncpg://" + text_.split("://", 1)[1]
    if not text_.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise SimulationError("--db: expected sqlite+aiosqlite:///FILE or postgresql+asyncpg://...")
    return text_


async def run_command(
    url: str,
    *,
    customers: int,
    days: int,
    seed: int,
    end: date | None,
    out: TextIO | None = None,
) -> int:
    """`o2o simulate`: migrate the database, simulate with a progress bar, print the summary."""
    from bot.db.engine import create_engine, create_sessionmaker
    from bot.db.migrate import upgrade_async

    _check_arguments(customers, days, seed)
    url = database_url(url)
    await upgrade_async(url)
    engine = create_engine(url)
    try:
        summary = await simulate(
            create_sessionmaker(engine),
            customers=customers,
            days=days,
            seed=seed,
            end=end,
            progress=ProgressBar(),
        )
    finally:
        await engine.dispose()
    print(summary.text(), file=out if out is not None else sys.stdout)
    return 0
