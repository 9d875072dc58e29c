"""Ports: what the use cases need from storage, as Protocols the bot/db layer implements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from domain.booking import Booked, NewReservation, ServiceInfo, TableInfo
from domain.cart import Cart
from domain.catalog import CatalogItem, Category
from domain.checkout import NewOrder
from domain.conversation import ConversationState
from domain.customers import Customer
from domain.money import Money
from domain.orders import Order, StatusChange
from domain.reservations import Reservation
from domain.stores import Store, StoreSettings


@dataclass(frozen=True, slots=True)
class OrderLineView:
    """An order line as placed."""

    product_id: int | None
    name: str
    unit_price: Money
    quantity: int


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order as customers and staff see it (read model)."""

    id: int
    number: str
    store_id: int
    customer_id: int
    status: str
    fulfilment: str
    total: Money
    subtotal: Money
    delivery_fee: Money
    placed_at: datetime
    lines: tuple[OrderLineView, ...] = ()
    slot_start: datetime | None = None
    table_label: str | None = None
    delivery_address: str | None = None
    contact_phone: str | None = None
    comment: str | None = None
    eta_minutes: int | None = None
    ready_by: datetime | None = None
    pickup_code: str | None = None
    reject_reason: str | None = None
    payment_method: str = "at_store"
    version: int = 0


@dataclass(frozen=True, slots=True)
class OrderMove:
    """One recorded transition of an order: to which status, who, when."""

    from_status: str | None
    to_status: str
    actor: str
    at: datetime
    actor_name: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class SurveyView:
    """A satisfaction survey of one order or booking."""

    id: int
    customer_id: int
    store_id: int
    status: str
    due_at: datetime
    order_id: int | None = None
    reservation_id: int | None = None
    sent_at: datetime | None = None
    expires_at: datetime | None = None
    score: int | None = None
    comment: str | None = None  # None while the comment prompt is open; "" when skipped
    answered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReservationView:
    """A table booking or service appointment as customers and staff see it (read model)."""

    id: int
    store_id: int
    customer_id: int
    kind: str
    status: str
    party_size: int
    starts_at: datetime
    duration_minutes: int
    requested_at: datetime
    table_id: int | None = None
    table_label: str | None = None
    service_id: int | None = None
    service_name: str | None = None
    service_names: Mapping[str, str] | None = None
    contact_phone: str | None = None
    comment: str | None = None
    decline_reason: str | None = None
    reminder_sent_at: datetime | None = None
    version: int = 0

    def service_title(self, locale: str) -> str:
        """The booked service's name in `locale` ('' for a table booking)."""
        return (self.service_names or {}).get(locale) or self.service_name or ""


@dataclass(frozen=True, slots=True)
class DueReminder:
    """A booking that may need its reminder, with where and in which language to send it."""

    reservation: ReservationView
    chat_id: int
    language: str
    reachable: bool


class CustomerRepository(Protocol):
    """Customers keyed by Telegram id."""

    async def get_by_telegram_id(self, telegram_id: int) -> Customer | None:
        """The customer with this Telegram id, if known."""
        ...

    async def get(self, customer_id: int) -> Customer | None:
        """The customer with this internal id, if any."""
        ...

    async def add(self, customer: Customer, now: datetime) -> Customer:
        """Insert a new customer and return it with its id."""
        ...

    async def save(self, customer: Customer, now: datetime) -> None:
        """Write back a changed customer."""
        ...

    async def open_business(self, customer_id: int, now: datetime) -> int:
        """Orders and bookings of this customer still under way (see /forget)."""
        ...

    async def forget(self, customer_id: int, now: datetime) -> bool:
        """Erase the customer's personal data, keeping anonymous order figures.

        Names, username, phone, survey comments, chat state, cart, the phone, address and note
        of their orders and bookings, copies of those in sent messages; marketing consent off;
        the profile is detached from its Telegram id, so writing again starts a new one.
        False when the customer is unknown or already forgotten.
        """
        ...


class StoreRepository(Protocol):
    """Stores by id and code."""

    async def get(self, store_id: int) -> Store | None:
        """The store with this id, if any."""
        ...

    async def get_by_code(self, code: str) -> Store | None:
        """The store with this code, if any."""
        ...

    async def list_all(self) -> Sequence[Store]:
        """Every store, by name."""
        ...

    async def table_labels(self, store_id: int) -> Sequence[str]:
        """Labels of the store's active tables."""
        ...

    async def by_staff_chat(self, chat_id: int) -> Store | None:
        """The store whose staff work in this group, if any."""
        ...

    async def bind_staff_chat(self, store_id: int, chat_id: int | None) -> None:
        """Make `chat_id` the store's staff group (None unbinds); a group serves one store."""
        ...

    async def is_staff(self, store_id: int, telegram_id: int) -> bool:
        """Whether someone was registered as staff of the store (besides group admins)."""
        ...

    async def pause_store(self, store_id: int, until: datetime | None) -> None:
        """Stop taking orders until `until` (None: until resume_store)."""
        ...

    async def resume_store(self, store_id: int) -> None:
        """Take orders again."""
        ...

    async def save_settings(self, store_id: int, settings: StoreSettings) -> None:
        """Replace the store's typed settings."""
        ...

    async def add_staff(
        self, store_id: int, telegram_id: int, name: str, added_by: int, now: datetime
    ) -> bool:
        """Register someone as staff of the store; False when they already are."""
        ...

    async def remove_staff(self, store_id: int, telegram_id: int) -> bool:
        """Unregister a staff member; False when they were not registered."""
        ...

    async def list_staff(self, store_id: int) -> Sequence[tuple[int, str]]:
        """The store's registered staff as (Telegram id, display name), in the order added."""
        ...


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    """A Telegram charge and what became of it (applied to an order, or a refund is due)."""

    charge_id: str
    provider_charge_id: str | None
    customer_id: int
    store_id: int | None
    order_id: int | None
    payload: str
    total: Money
    status: str  # applied | refund_due
    at: datetime
    note: str | None = None


class PaymentRepository(Protocol):
    """Charges, recorded once each."""

    async def seen(self, charge_id: str) -> bool:
        """Whether this charge was recorded already."""
        ...

    async def record(self, payment: PaymentRecord) -> None:
        """Record a charge."""
        ...


class CatalogRepository(Protocol):
    """Products as sold at one store."""

    async def categories(self, store_id: int) -> Sequence[Category]:
        """Categories with at least one active product sold at the store, in order."""
        ...

    async def page(
        self, store_id: int, category_id: int, offset: int, limit: int
    ) -> tuple[Sequence[CatalogItem], int]:
        """One page of a category's products at the store, and how many there are in all."""
        ...

    async def items(self, store_id: int, product_ids: Sequence[int]) -> Mapping[int, CatalogItem]:
        """The given products as sold at the store; missing ones are not sold there (any more)."""
        ...

    async def search(self, store_id: int, query: str, limit: int) -> Sequence[CatalogItem]:
        """Products at the store whose name (any language) or description matches `query`."""
        ...

    async def all_items(self, store_id: int) -> Sequence[CatalogItem]:
        """Every active product sold at the store, by name (the staff's stock list)."""
        ...

    async def set_availability(
        self, store_id: int, product_id: int, available: bool
    ) -> CatalogItem | None:
        """Mark a product sold out, or back on sale (a tracked stock of 0 stops being tracked).

        None when the product is not sold at the store.
        """
        ...

    async def set_stock(self, store_id: int, code: str, stock: int | None) -> CatalogItem | None:
        """Set a product's stock by code (None: not tracked; above 0 also puts it on sale).

        None when no active product with that code is sold at the store.
        """
        ...


class CartRepository(Protocol):
    """One cart per customer."""

    async def get(self, customer_id: int) -> Cart | None:
        """The customer's cart, if they have one."""
        ...

    async def save(self, cart: Cart, now: datetime) -> Cart:
        """Insert or update the cart and its lines; returns it with its id."""
        ...


class OrderRepository(Protocol):
    """Orders: idempotent placement with stock reservation, reads, compare-and-set changes."""

    async def find_by_key(self, idempotency_key: str) -> OrderView | None:
        """The order placed under this key, if any."""
        ...

    async def place(self, new_order: NewOrder) -> OrderView:
        """Insert the order and reserve its stock atomically; ItemsUnavailable if short."""
        ...

    async def slot_load(self, store_id: int, slots: Sequence[datetime]) -> Mapping[datetime, int]:
        """How many open orders each pickup slot already holds."""
        ...

    async def recent(self, customer_id: int, limit: int) -> Sequence[OrderView]:
        """A customer's latest orders, newest first."""
        ...

    async def get(self, order_id: int) -> OrderView | None:
        """One order with its lines."""
        ...

    async def load(self, order_id: int) -> Order | None:
        """The order as a domain entity, for a status change."""
        ...

    async def record_change(self, order: Order, change: StatusChange) -> bool:
        """Write a status change if nobody else changed the order first (compare-and-set)."""
        ...

    async def release_stock(self, order_id: int) -> None:
        """Return a cancelled or rejected order's reserved stock."""
        ...

    async def moves(self, order_id: int) -> Sequence[OrderMove]:
        """The order's recorded transitions, oldest first."""
        ...

    async def find_ready_by_code(self, store_id: int, code: str) -> OrderView | None:
        """The store's order waiting for pickup under this code, if any."""
        ...


class ReservationRepository(Protocol):
    """Tables, services and reservations: availability, atomic booking, compare-and-set changes."""

    async def tables(self, store_id: int) -> Sequence[TableInfo]:
        """The store's active tables."""
        ...

    async def services(self, store_id: int) -> Sequence[ServiceInfo]:
        """The store's active bookable services, by name."""
        ...

    async def booked(self, store_id: int, start: datetime, end: datetime) -> Sequence[Booked]:
        """The store's reservations holding a place at some moment in [start, end)."""
        ...

    async def create(
        self, request: NewReservation, service_capacity: int
    ) -> tuple[ReservationView, bool]:
        """Book atomically: (the new reservation, True), or (the same earlier one, False).

        A repeated request (same customer, store, kind, service, start and party size, still
        open) returns the earlier booking; SlotUnavailable when no place is left.
        """
        ...

    async def recent(self, customer_id: int, limit: int) -> Sequence[ReservationView]:
        """A customer's latest reservations, newest request first."""
        ...

    async def get(self, reservation_id: int) -> ReservationView | None:
        """One reservation."""
        ...

    async def load(self, reservation_id: int) -> Reservation | None:
        """The reservation as a domain entity, for a status change."""
        ...

    async def record_change(self, reservation: Reservation, change: StatusChange) -> bool:
        """Write a status change if nobody else changed the reservation first (compare-and-set)."""
        ...

    async def due_reminders(
        self, now: datetime, horizon: datetime, limit: int
    ) -> Sequence[DueReminder]:
        """Requested or confirmed bookings starting in (now, horizon] with no reminder yet."""
        ...

    async def mark_reminded(self, reservation_id: int, at: datetime) -> bool:
        """Stamp the reminder as sent unless someone already did (compare-and-set)."""
        ...


class ConversationRepository(Protocol):
    """Per (chat, user) conversation state."""

    async def get(self, chat_id: int, user_id: int) -> ConversationState | None:
        """The current state, or None when the user is not inside a flow."""
        ...

    async def set(
        self, chat_id: int, user_id: int, state: str, data: dict[str, Any], now: datetime
    ) -> None:
        """Enter or update a state."""
        ...

    async def clear(self, chat_id: int, user_id: int) -> None:
        """Leave any flow."""
        ...


class SurveyRepository(Protocol):
    """Satisfaction surveys; changes are compare-and-set on the status."""

    async def schedule(
        self,
        *,
        customer_id: int,
        store_id: int,
        due_at: datetime,
        expires_at: datetime,
        order_id: int | None = None,
        reservation_id: int | None = None,
    ) -> bool:
        """Schedule the one survey of an order or booking; False if it has one already."""
        ...

    async def get(self, survey_id: int) -> SurveyView | None:
        """One survey."""
        ...

    async def score(self, survey_id: int, score: int, now: datetime) -> bool:
        """Record or change the score while the comment prompt is open."""
        ...

    async def close(self, survey_id: int, comment: str) -> bool:
        """Close the comment prompt with a comment ("" when skipped); False if closed already."""
        ...

    async def cancel_all_scheduled(self, customer_id: int) -> int:
        """Drop every survey still waiting to be sent to this customer."""
        ...


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """A /stats or /export to answer outside the update's transaction."""

    kind: str  # "stats" | "export" | "rfm" | "push"
    chat_id: int
    user_id: int
    locale: str
    period: str
    store_code: str | None = None  # None: every store
    switch_stores: bool = False  # the asker may look at other stores too


class ReportRepository(Protocol):
    """Reports asked for, answered by a worker after the update commits."""

    async def request(self, request: ReportRequest, now: datetime) -> None:
        """Queue a report."""
        ...


@dataclass(frozen=True, slots=True)
class CampaignView:
    """A push campaign as handlers see it."""

    id: int
    store_id: int
    status: str  # draft | running | done | cancelled
    audience: int
    chat_id: int | None
    created_by: int | None


class CampaignRepository(Protocol):
    """Push campaigns: confirmed, cancelled and opened from updates; sent by bot/campaigns.py."""

    async def get(self, campaign_id: int) -> CampaignView | None:
        """The campaign, if it exists."""
        ...

    async def start(self, campaign_id: int, chat_id: int, now: datetime) -> bool:
        """Move a draft to running (compare-and-set); False when it is no longer a draft."""
        ...

    async def cancel(self, campaign_id: int, now: datetime) -> bool:
        """Stop a draft or running campaign; pushes not yet queued are skipped."""
        ...

    async def record_open(self, campaign_id: int, customer_id: int, now: datetime) -> bool:
        """Note that the customer used the push's link; False when not a recipient."""
        ...


class UnitOfWork(Protocol):
    """The repositories of one transaction; committing is the caller's job, never a repository's."""

    # Read-only properties, so implementations may narrow them to their concrete repositories.
    @property
    def customers(self) -> CustomerRepository:
        """Customers of this transaction."""
        ...

    @property
    def stores(self) -> StoreRepository:
        """Stores of this transaction."""
        ...

    @property
    def conversations(self) -> ConversationRepository:
        """Conversation states of this transaction."""
        ...

    @property
    def catalog(self) -> CatalogRepository:
        """The catalog of this transaction."""
        ...

    @property
    def carts(self) -> CartRepository:
        """Carts of this transaction."""
        ...

    @property
    def orders(self) -> OrderRepository:
        """Orders of this transaction."""
        ...

    @property
    def reservations(self) -> ReservationRepository:
        """Table bookings and appointments of this transaction."""
        ...

    @property
    def payments(self) -> PaymentRepository:
        """Payments of this transaction."""
        ...

    @property
    def surveys(self) -> SurveyRepository:
        """Satisfaction surveys of this transaction."""
        ...

    @property
    def reports(self) -> ReportRepository:
        """Report requests of this transaction."""
        ...

    @property
    def campaigns(self) -> CampaignRepository:
        """Push campaigns of this transaction."""
        ...
