"""SQLAlchemy 2 typed mappings: the whole schema, mirrored by the Alembic revisions."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.db.types import BigIntPK, UtcDateTime

# Explicit constraint names keep Alembic batch migrations on SQLite and autogenerate stable.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base carrying the shared metadata and naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class Store(Base):
    """A physical shop: where orders are fulfilled and whose group chat the staff work in."""

    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(500), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # {"mon": [["08:00", "20:00"]], ...}; a missing day means closed that day.
    opening_hours: Mapped[dict[str, Any]] = mapped_column(default=dict)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    staff_chat_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    manager_telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_until: Mapped[datetime | None]
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class Category(Base):
    """A catalog section shown before products (drinks, snacks, repairs...)."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    names: Mapped[dict[str, Any]] = mapped_column(default=dict)  # locale -> translated name
    sort_order: Mapped[int] = mapped_column(Integer, default=0)


class Product(Base):
    """A sellable item; its price is integer minor units plus currency."""

    __tablename__ = "products"
    __table_args__ = (CheckConstraint("price_minor >= 0", name="price_not_negative"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    names: Mapped[dict[str, Any]] = mapped_column(default=dict)
    description: Mapped[str] = mapped_column(Text, default="")
    price_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    photo: Mapped[str | None] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class StoreProduct(Base):
    """Per-store availability and stock; a NULL stock means not tracked (made to order)."""

    __tablename__ = "store_products"
    __table_args__ = (CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),)

    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    stock: Mapped[int | None] = mapped_column(Integer)
    price_override_minor: Mapped[int | None] = mapped_column(Integer)


class StoreTable(Base):
    """A table in a store: dine-in orders name it, table bookings reserve it."""

    __tablename__ = "store_tables"
    __table_args__ = (
        UniqueConstraint("store_id", "label"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(8))
    capacity: Mapped[int] = mapped_column(Integer, default=4)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Service(Base):
    """A bookable service (haircut, repair check-in) with a duration."""

    __tablename__ = "services"
    __table_args__ = (
        UniqueConstraint("store_id", "code"),
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    names: Mapped[dict[str, Any]] = mapped_column(default=dict)
    duration_minutes: Mapped[int] = mapped_column(Integer, default=30)
    price_minor: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Customer(Base):
    """A Telegram user who talks to the bot in a private chat."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    first_name: Mapped[str] = mapped_column(String(200), default="")
    last_name: Mapped[str | None] = mapped_column(String(200))
    username: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16), default="en")
    # True once the customer picked a language with /language; Telegram's hint no longer wins.
    language_chosen: Mapped[bool] = mapped_column(Boolean, default=False)
    phone: Mapped[str | None] = mapped_column(String(32))
    marketing_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the bot asked for marketing consent (asked once); None: not asked yet.
    marketing_asked_at: Mapped[datetime | None]
    # When the last campaign push to this customer was queued: the frequency cap reads it.
    last_push_at: Mapped[datetime | None]
    surveys_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    unreachable_since: Mapped[datetime | None]
    selected_store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Cart(Base):
    """A customer's open cart at one store; `version` keys idempotent order placement."""

    __tablename__ = "carts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), unique=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    version: Mapped[int] = mapped_column(Integer, default=0)
    fulfilment: Mapped[str | None] = mapped_column(String(16))
    table_label: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime]


class CartLine(Base):
    """One product and quantity in a cart."""

    __tablename__ = "cart_lines"
    __table_args__ = (
        UniqueConstraint("cart_id", "product_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)


class Order(Base):
    """A placed order; status changes are compare-and-set on (id, status)."""

    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_store_status", "store_id", "status"),
        Index("ix_orders_placed_at", "placed_at"),
        Index("ix_orders_store_placed", "store_id", "placed_at"),
        CheckConstraint("total_minor >= 0", name="total_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    # e.g. "cart:12:v7": a double tap or a redelivered press finds the existing order.
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    fulfilment: Mapped[str] = mapped_column(String(16))
    slot_start: Mapped[datetime | None]
    table_label: Mapped[str | None] = mapped_column(String(32))
    delivery_address: Mapped[str | None] = mapped_column(Text)
    delivery_latitude: Mapped[float | None] = mapped_column(Float)
    delivery_longitude: Mapped[float | None] = mapped_column(Float)
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text)
    subtotal_minor: Mapped[int] = mapped_column(Integer)
    delivery_fee_minor: Mapped[int] = mapped_column(Integer, default=0)
    total_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    payment_method: Mapped[str] = mapped_column(String(16), default="at_store")
    paid_at: Mapped[datetime | None]
    telegram_payment_charge_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    eta_minutes: Mapped[int | None] = mapped_column(Integer)
    ready_by: Mapped[datetime | None]
    pickup_code: Mapped[str | None] = mapped_column(String(8))
    reject_reason: Mapped[str | None] = mapped_column(String(32))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    placed_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    ready_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    rejected_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    no_show_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=0)


class Payment(Base):
    """A Telegram payment, recorded once per charge id; applied to an order or owed back."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_payment_charge_id: Mapped[str] = mapped_column(String(200), unique=True)
    provider_payment_charge_id: Mapped[str | None] = mapped_column(String(200))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    payload: Mapped[str] = mapped_column(String(128))
    total_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))  # applied | refund_due | refunded
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class OrderLine(Base):
    """A product line frozen at placement time (name and price as the customer saw them)."""

    __tablename__ = "order_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    name: Mapped[str] = mapped_column(String(200))
    unit_price_minor: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    line_total_minor: Mapped[int] = mapped_column(Integer)


class Reservation(Base):
    """A table booking or a service appointment."""

    __tablename__ = "reservations"
    __table_args__ = (
        Index("ix_reservations_store_starts", "store_id", "starts_at"),
        CheckConstraint("party_size > 0", name="party_size_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # table | service
    resource: Mapped[str | None] = mapped_column(String(100))  # table label or service name
    table_id: Mapped[int | None] = mapped_column(ForeignKey("store_tables.id"))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"))
    reminder_sent_at: Mapped[datetime | None]
    party_size: Mapped[int] = mapped_column(Integer, default=1)
    starts_at: Mapped[datetime]
    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    status: Mapped[str] = mapped_column(String(16))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text)
    decline_reason: Mapped[str | None] = mapped_column(String(200))
    requested_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    seated_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    declined_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    no_show_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=0)


class OrderEvent(Base):
    """One status transition of an order or reservation: from, to, who, when."""

    __tablename__ = "order_events"
    __table_args__ = (
        CheckConstraint(
            "(order_id IS NULL) <> (reservation_id IS NULL)", name="exactly_one_subject"
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    reservation_id: Mapped[int | None] = mapped_column(
        ForeignKey("reservations.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    # The person's display name when the actor is a person, so "already accepted by Ann".
    actor_name: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]


class Survey(Base):
    """A satisfaction survey for one completed order or reservation."""

    __tablename__ = "surveys"
    __table_args__ = (
        Index("ix_surveys_status_due", "status", "due_at"),
        CheckConstraint("score IS NULL OR (score >= 1 AND score <= 5)", name="score_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), unique=True)
    reservation_id: Mapped[int | None] = mapped_column(ForeignKey("reservations.id"), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    status: Mapped[str] = mapped_column(String(16))  # scheduled | sent | answered | expired
    due_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None]


class StaffMember(Base):
    """A person allowed to act on a store's orders, beyond the group's administrators."""

    __tablename__ = "staff_members"
    __table_args__ = (UniqueConstraint("store_id", "telegram_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    telegram_id: Mapped[int] = mapped_column(BigInteger, index=True)
    role: Mapped[str] = mapped_column(String(16), default="staff")  # staff | manager
    display_name: Mapped[str] = mapped_column(String(200), default="")
    added_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class ConversationState(Base):
    """Which step a user is in, per chat; kept in the DB so restarts and other processes see it."""

    __tablename__ = "conversation_states"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    state: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]


class InboxEntry(Base):
    """An update already handled; the primary key is the dedupe set of update ids."""

    __tablename__ = "inbox"

    # Telegram's update ids are positive 32-bit-ish integers but bot API servers may differ.
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16), default="handled")  # handled | failed
    received_at: Mapped[datetime] = mapped_column(index=True)


class OutboxMessage(Base):
    """One Bot API call to make after commit, delivered in id order per chat by the sender."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
        Index("ix_outbox_chat_status", "chat_id", "status"),
        Index("ix_outbox_chat_target", "chat_id", "target_ref"),
        Index("ix_outbox_bundle", "bundle_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column()
    # Names a message so later calls can edit it: "order:12:card". Resolved by the sender.
    ref: Mapped[str | None] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # calls made, 429s included
    # Transient errors (5xx, timeouts, network): `max_attempts` of them give the row up. A 429
    # is Telegram saying when to come back, never a reason to give up.
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text)
    source_update_id: Mapped[int | None] = mapped_column(BigInteger)
    # A staff card that may share one group message with others ("#1042"); see bot/sender.py.
    label: Mapped[str | None] = mapped_column(String(32))
    # What an edit changes: the ref it names, or "#<message_id>"; lets pending edits collapse.
    target_ref: Mapped[str | None] = mapped_column(String(100))
    # The id of the first row of the digest message this card went out in.
    bundle_id: Mapped[int | None] = mapped_column(BigInteger)


class OutboxFile(Base):
    """A file an outbox call uploads (params name it as {"attach": token}); sent as multipart."""

    __tablename__ = "outbox_files"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    filename: Mapped[str] = mapped_column(String(200))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class SenderLease(Base):
    """Who delivers the outbox (bot/db/leader.py): the lease the holder renews on SQLite."""

    __tablename__ = "sender_lease"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime]


class ReportRequest(Base):
    """A /stats, /export, /rfm or /push from a chat, answered off the update (bot/reports.py)."""

    __tablename__ = "report_requests"
    __table_args__ = (Index("ix_report_requests_status", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # stats | export | rfm | push
    chat_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger)
    locale: Mapped[str] = mapped_column(String(16))
    store_code: Mapped[str | None] = mapped_column(String(32))  # None: every store
    period: Mapped[str] = mapped_column(String(40))
    switch_stores: Mapped[bool] = mapped_column(Boolean, default=False)  # offer other stores
    status: Mapped[str] = mapped_column(String(16))  # pending | working | done | failed
    created_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]


class Campaign(Base):
    """A push campaign to one store's customers, planned per RFM segment, sent via the outbox."""

    __tablename__ = "campaigns"
    __table_args__ = (Index("ix_campaigns_status", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # draft | running | done | cancelled
    origin: Mapped[str] = mapped_column(String(16))  # chat | cli | weekly
    model: Mapped[str] = mapped_column(String(16))  # the RFM model that chose the segments
    created_by: Mapped[int | None] = mapped_column(BigInteger)  # Telegram id; None: CLI, weekly
    chat_id: Mapped[int | None] = mapped_column(BigInteger)  # where progress is shown
    locale: Mapped[str] = mapped_column(String(16), default="en")
    audience: Mapped[int] = mapped_column(Integer, default=0)  # recipients planned
    # Per segment: {"kind", "customers", "audience", "no_consent", "unreachable", "recent_push"}.
    plan: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    progress_at: Mapped[datetime | None]  # when the progress message was last edited
    progress_text: Mapped[str | None] = mapped_column(Text)  # what it last said


class CampaignRecipient(Base):
    """One customer's push in a campaign: what it offers and what became of it."""

    __tablename__ = "campaign_recipients"
    __table_args__ = (
        UniqueConstraint("campaign_id", "customer_id"),
        Index("ix_campaign_recipients_campaign_status", "campaign_id", "status"),
        Index("ix_campaign_recipients_customer_sent", "customer_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    segment: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # what is pushed: see domain/campaigns.py
    items: Mapped[list[Any]] = mapped_column()  # [[product id, name, reason], ...]
    # planned | queued (in the outbox) | sent | failed | skipped
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))  # why skipped or failed
    outbox_id: Mapped[int | None] = mapped_column(BigInteger)
    queued_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    opened_at: Mapped[datetime | None]  # the push's deep link was used


class RfmRun(Base):
    """One /rfm (or campaign plan) computation: segment sizes, to show movement next time."""

    __tablename__ = "rfm_runs"
    __table_args__ = (Index("ix_rfm_runs_scope", "store_id", "model", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))  # None: every store
    model: Mapped[str] = mapped_column(String(16))
    as_of: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD
    customers: Mapped[int] = mapped_column(Integer)
    counts: Mapped[dict[str, Any]] = mapped_column()  # segment id -> customers
    created_at: Mapped[datetime]


class RfmMember(Base):
    """A customer's segment in one RFM run."""

    __tablename__ = "rfm_members"

    run_id: Mapped[int] = mapped_column(ForeignKey("rfm_runs.id"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    segment: Mapped[str] = mapped_column(String(32))
