"""SQLAlchemy implementations of the domain ports; they flush but never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models
from domain.conversation import ConversationState
from domain.customers import Customer
from domain.orders import OPEN_ORDER_STATUSES
from domain.reservations import OPEN_RESERVATION_STATUSES
from domain.stores import Store, StoreSettings

# /forget waits for orders placed this recently and bookings not long past to be finished.
OPEN_ORDER_WINDOW = timedelta(days=2)
OPEN_BOOKING_WINDOW = timedelta(days=1)
# What a forgotten customer's sent messages read in the outbox afterwards.
FORGOTTEN_TEXT = "[removed at the customer's request]"


def customer_from_row(row: models.Customer) -> Customer:
    """Map a customers row to the domain entity."""
    return Customer(
        id=row.id,
        telegram_id=row.telegram_id,
        first_name=row.first_name,
        last_name=row.last_name,
        username=row.username,
        language=row.language,
        language_chosen=row.language_chosen,
        phone=row.phone,
        marketing_consent=row.marketing_consent,
        marketing_asked=row.marketing_asked_at is not None,
        surveys_enabled=row.surveys_enabled,
        reachable=row.reachable,
        selected_store_id=row.selected_store_id,
    )


def store_from_row(row: models.Store) -> Store:
    """Map a stores row to the domain entity."""
    return Store(
        id=row.id,
        code=row.code,
        name=row.name,
        address=row.address,
        latitude=row.latitude,
        longitude=row.longitude,
        timezone=row.timezone,
        opening_hours=dict(row.opening_hours or {}),
        currency=row.currency,
        staff_chat_id=row.staff_chat_id,
        manager_telegram_id=row.manager_telegram_id,
        paused=row.paused,
        paused_until=row.paused_until,
        settings=StoreSettings.from_json(row.settings),
    )


class SqlCustomerRepository:
    """Customers in the `customers` table."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, customer_id: int) -> Customer | None:
        """The customer with this internal id, if any."""
        row = await self.session.get(models.Customer, customer_id)
        return customer_from_row(row) if row else None

    async def get_by_telegram_id(self, telegram_id: int) -> Customer | None:
        """The customer with this Telegram id, if known."""
        row = await self._row(telegram_id)
        return customer_from_row(row) if row else None

    async def add(self, customer: Customer, now: datetime) -> Customer:
        """Insert a new customer and return it with its id."""
        row = models.Customer(telegram_id=customer.telegram_id, created_at=now, updated_at=now)
        _copy_customer(customer, row, now)
        self.session.add(row)
        await self.session.flush()
        customer.id = row.id
        return customer

    async def save(self, customer: Customer, now: datetime) -> None:
        """Write back a changed customer."""
        row = await self._row(customer.telegram_id)
        if row is None:
            raise LookupError(f"customer {customer.telegram_id} vanished")
        _copy_customer(customer, row, now)
        row.updated_at = now
        await self.session.flush()

    async def open_business(self, customer_id: int, now: datetime) -> int:
        """Open orders placed in the last OPEN_ORDER_WINDOW, open bookings not long past."""
        order, booking = models.Order, models.Reservation
        orders = await self.session.scalar(
            select(func.count())
            .select_from(order)
            .where(
                order.customer_id == customer_id,
                order.status.in_([str(status) for status in OPEN_ORDER_STATUSES]),
                order.placed_at >= now - OPEN_ORDER_WINDOW,
            )
        )
        bookings = await self.session.scalar(
            select(func.count())
            .select_from(booking)
            .where(
                booking.customer_id == customer_id,
                booking.status.in_([str(status) for status in OPEN_RESERVATION_STATUSES]),
                booking.starts_at >= now - OPEN_BOOKING_WINDOW,
            )
        )
        return int(orders or 0) + int(bookings or 0)

    async def forget(self, customer_id: int, now: datetime) -> bool:
        """Erase personal data; orders, lines, totals, statuses and scores stay (anonymous)."""
        row = await self.session.get(models.Customer, customer_id)
        if row is None or row.telegram_id < 0:
            return False
        telegram_id = row.telegram_id
        order, booking, survey = models.Order, models.Reservation, models.Survey
        order_ids = list(
            await self.session.scalars(select(order.id).where(order.customer_id == customer_id))
        )
        booking_ids = list(
            await self.session.scalars(select(booking.id).where(booking.customer_id == customer_id))
        )
        await self.session.execute(
            update(order)
            .where(order.customer_id == customer_id)
            .values(
                contact_phone=None,
                delivery_address=None,
                delivery_latitude=None,
                delivery_longitude=None,
                comment=None,
            )
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(
            update(booking)
            .where(booking.customer_id == customer_id)
            .values(contact_phone=None, comment=None)
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(
            update(survey)
            .where(survey.customer_id == customer_id, survey.comment != "")
            .values(comment="")
            .execution_options(synchronize_session=False)
        )
        cart_ids = select(models.Cart.id).where(models.Cart.customer_id == customer_id)
        await self.session.execute(
            delete(models.CartLine).where(models.CartLine.cart_id.in_(cart_ids))
        )
        await self.session.execute(
            delete(models.Cart).where(models.Cart.customer_id == customer_id)
        )
        await self.session.execute(
            delete(models.ConversationState).where(
                models.ConversationState.chat_id == telegram_id,
                models.ConversationState.user_id == telegram_id,
            )
        )
        refs = [f"order:{i}:card" for i in order_ids] + [
            f"reservation:{i}:card" for i in booking_ids
        ]
        await self._scrub_outbox(telegram_id, refs)
        row.first_name = ""
        row.last_name = None
        row.username = None
        row.phone = None
        row.marketing_consent = False
        row.language_chosen = False
        row.selected_store_id = None
        row.reachable = False
        row.unreachable_since = now
        # Detached: the id can never be a Telegram user's (theirs are positive), so a message
        # from this person later starts a new profile, and nothing is sent to this one.
        row.telegram_id = -row.id
        row.updated_at = now
        await self.session.flush()
        return True

    async def _scrub_outbox(self, telegram_id: int, refs: list[str]) -> None:
        """Blank the text of messages already handled that carried the customer's details.

        Those are: every message of their private chat, every message caused by one of their
        updates (e.g. the order card, a low-score alert with their comment), and the cards of
        their orders and bookings with every edit. Rows still pending are left to be sent.
        """
        outbox = models.OutboxMessage
        own_updates = (
            select(outbox.source_update_id)
            .where(outbox.chat_id == telegram_id, outbox.source_update_id.is_not(None))
            .distinct()
        )
        conditions = [outbox.chat_id == telegram_id, outbox.source_update_id.in_(own_updates)]
        if refs:
            conditions += [outbox.ref.in_(refs), outbox.target_ref.in_(refs)]
        rows = await self.session.execute(
            select(outbox.id, outbox.params).where(or_(*conditions), outbox.status != "pending")
        )
        for row_id, params in rows.all():
            scrubbed = dict(params or {})
            changed = False
            for key in ("text", "caption"):
                if key in scrubbed and scrubbed[key] != FORGOTTEN_TEXT:
                    scrubbed[key] = FORGOTTEN_TEXT
                    changed = True
            if changed:
                await self.session.execute(
                    update(outbox)
                    .where(outbox.id == row_id)
                    .values(params=scrubbed)
                    .execution_options(synchronize_session=False)
                )

    async def _row(self, telegram_id: int) -> models.Customer | None:
        result = await self.session.execute(
            select(models.Customer).where(models.Customer.telegram_id == telegram_id)
        )
        return result.scalar_one_or_none()


def _copy_customer(customer: Customer, row: models.Customer, now: datetime) -> None:
    row.first_name = customer.first_name
    row.last_name = customer.last_name
    row.username = customer.username
    row.language = customer.language
    row.language_chosen = customer.language_chosen
    row.phone = customer.phone
    row.marketing_consent = customer.marketing_consent
    if customer.marketing_asked and row.marketing_asked_at is None:
        row.marketing_asked_at = now
    row.surveys_enabled = customer.surveys_enabled
    row.reachable = customer.reachable
    if customer.reachable:
        row.unreachable_since = None
    row.selected_store_id = customer.selected_store_id


class SqlStoreRepository:
    """Stores in the `stores` table."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, store_id: int) -> Store | None:
        """The store with this id, if any."""
        row = await self.session.get(models.Store, store_id)
        return store_from_row(row) if row else None

    async def get_by_code(self, code: str) -> Store | None:
        """The store with this code, if any."""
        result = await self.session.execute(select(models.Store).where(models.Store.code == code))
        row = result.scalar_one_or_none()
        return store_from_row(row) if row else None

    async def list_all(self) -> Sequence[Store]:
        """Every store, by name."""
        result = await self.session.execute(select(models.Store).order_by(models.Store.name))
        return [store_from_row(row) for row in result.scalars()]

    async def by_staff_chat(self, chat_id: int) -> Store | None:
        """The store whose staff work in this group, if any."""
        row = await self.session.scalar(
            select(models.Store).where(models.Store.staff_chat_id == chat_id)
        )
        return store_from_row(row) if row else None

    async def bind_staff_chat(self, store_id: int, chat_id: int | None) -> None:
        """Make `chat_id` the store's staff group (None unbinds); a group serves one store."""
        if chat_id is not None:
            await self.session.execute(
                update(models.Store)
                .where(models.Store.staff_chat_id == chat_id, models.Store.id != store_id)
                .values(staff_chat_id=None)
            )
        await self.session.execute(
            update(models.Store).where(models.Store.id == store_id).values(staff_chat_id=chat_id)
        )

    async def is_staff(self, store_id: int, telegram_id: int) -> bool:
        """Whether someone was registered as staff of the store (besides group admins)."""
        found = await self.session.scalar(
            select(models.StaffMember.id).where(
                models.StaffMember.store_id == store_id,
                models.StaffMember.telegram_id == telegram_id,
            )
        )
        return found is not None

    async def add_staff(
        self, store_id: int, telegram_id: int, name: str, added_by: int, now: datetime
    ) -> bool:
        """Register someone as staff of the store; False when they already are."""
        if await self.is_staff(store_id, telegram_id):
            return False
        self.session.add(
            models.StaffMember(
                store_id=store_id,
                telegram_id=telegram_id,
                role="staff",
                display_name=name[:200],
                added_by=added_by,
                created_at=now,
            )
        )
        await self.session.flush()
        return True

    async def remove_staff(self, store_id: int, telegram_id: int) -> bool:
        """Unregister a staff member; False when they were not registered."""
        result = cast(
            CursorResult[Any],
            await self.session.execute(
                delete(models.StaffMember).where(
                    models.StaffMember.store_id == store_id,
                    models.StaffMember.telegram_id == telegram_id,
                )
            ),
        )
        return result.rowcount > 0

    async def list_staff(self, store_id: int) -> Sequence[tuple[int, str]]:
        """The store's registered staff as (Telegram id, display name), in the order added."""
        rows = await self.session.execute(
            select(models.StaffMember.telegram_id, models.StaffMember.display_name)
            .where(models.StaffMember.store_id == store_id)
            .order_by(models.StaffMember.id)
        )
        return [(telegram_id, name) for telegram_id, name in rows]

    async def pause_store(self, store_id: int, until: datetime | None) -> None:
        """Stop taking orders until `until` (None: until resume_store)."""
        await self.session.execute(
            update(models.Store)
            .where(models.Store.id == store_id)
            .values(paused=True, paused_until=until)
        )

    async def resume_store(self, store_id: int) -> None:
        """Take orders again."""
        await self.session.execute(
            update(models.Store)
            .where(models.Store.id == store_id)
            .values(paused=False, paused_until=None)
        )

    async def save_settings(self, store_id: int, settings: StoreSettings) -> None:
        """Replace the store's typed settings."""
        await self.session.execute(
            update(models.Store)
            .where(models.Store.id == store_id)
            .values(settings=settings.to_json())
        )

    async def table_labels(self, store_id: int) -> Sequence[str]:
        """Labels of the store's active tables."""
        result = await self.session.scalars(
            select(models.StoreTable.label)
            .where(models.StoreTable.store_id == store_id, models.StoreTable.active.is_(True))
            .order_by(models.StoreTable.id)
        )
        return list(result)


class SqlConversationRepository:
    """Conversation states in the `conversation_states` table."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, chat_id: int, user_id: int) -> ConversationState | None:
        """The current state, or None when the user is not inside a flow."""
        row = await self.session.get(models.ConversationState, (chat_id, user_id))
        return ConversationState(row.state, dict(row.data or {})) if row else None

    async def set(
        self, chat_id: int, user_id: int, state: str, data: dict[str, Any], now: datetime
    ) -> None:
        """Enter or update a state."""
        row = await self.session.get(models.ConversationState, (chat_id, user_id))
        if row is None:
            row = models.ConversationState(chat_id=chat_id, user_id=user_id)
            self.session.add(row)
        row.state, row.data, row.updated_at = state, dict(data), now
        await self.session.flush()

    async def clear(self, chat_id: int, user_id: int) -> None:
        """Leave any flow."""
        await self.session.execute(
            delete(models.ConversationState).where(
                models.ConversationState.chat_id == chat_id,
                models.ConversationState.user_id == user_id,
            )
        )
