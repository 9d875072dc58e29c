"""Reservation repository: tables, services, atomic booking, compare-and-set status changes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models
from bot.db.commerce import add_status_event
from domain.booking import (
    HOLDING_STATUSES,
    REMINDABLE_STATUSES,
    Booked,
    NewReservation,
    ServiceInfo,
    TableInfo,
    allocate,
)
from domain.orders import StatusChange
from domain.ports import DueReminder, ReservationView
from domain.reservations import (
    DURATION_MAX_MINUTES,
    Reservation,
    ReservationKind,
    ReservationStatus,
    timestamp_field,
)

_HOLDING = sorted(status.value for status in HOLDING_STATUSES)
_REMINDABLE = sorted(status.value for status in REMINDABLE_STATUSES)


def _table(row: models.StoreTable) -> TableInfo:
    return TableInfo(id=row.id, label=row.label, capacity=row.capacity, active=row.active)


def _service(row: models.Service) -> ServiceInfo:
    return ServiceInfo(
        id=row.id,
        store_id=row.store_id,
        code=row.code,
        name=row.name,
        names={str(k): str(v) for k, v in (row.names or {}).items() if v},
        duration_minutes=row.duration_minutes,
        price_minor=row.price_minor,
        active=row.active,
    )


class SqlReservationRepository:
    """Reservations with their tables and services; flushes, never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def tables(self, store_id: int) -> Sequence[TableInfo]:
        """The store's active tables."""
        rows = await self.session.scalars(
            select(models.StoreTable)
            .where(models.StoreTable.store_id == store_id, models.StoreTable.active.is_(True))
            .order_by(models.StoreTable.id)
        )
        return [_table(row) for row in rows]

    async def services(self, store_id: int) -> Sequence[ServiceInfo]:
        """The store's active bookable services, by name."""
        rows = await self.session.scalars(
            select(models.Service)
            .where(models.Service.store_id == store_id, models.Service.active.is_(True))
            .order_by(models.Service.name, models.Service.id)
        )
        return [_service(row) for row in rows]

    async def booked(self, store_id: int, start: datetime, end: datetime) -> Sequence[Booked]:
        """The store's reservations holding a place at some moment in [start, end)."""
        # starts_at > start - longest visit narrows by the index; the exact overlap is below.
        rows = await self.session.execute(
            select(
                models.Reservation.starts_at,
                models.Reservation.duration_minutes,
                models.Reservation.kind,
                models.Reservation.table_id,
                models.Reservation.service_id,
                models.Reservation.status,
            ).where(
                models.Reservation.store_id == store_id,
                models.Reservation.status.in_(_HOLDING),
                models.Reservation.starts_at < end,
                models.Reservation.starts_at > start - timedelta(minutes=DURATION_MAX_MINUTES),
            )
        )
        found = [
            Booked(
                starts_at=starts_at,
                duration_minutes=duration,
                kind=ReservationKind(kind),
                table_id=table_id,
                service_id=service_id,
                status=ReservationStatus(status),
            )
            for starts_at, duration, kind, table_id, service_id, status in rows
        ]
        return [item for item in found if item.ends_at > start]

    async def create(
        self, request: NewReservation, service_capacity: int
    ) -> tuple[ReservationView, bool]:
        """Book atomically: (the new reservation, True), or (the same earlier one, False)."""
        # Serialise bookings per store: on PostgreSQL the store row lock makes a second booking
        # wait until the first commits, then see it; SQLite's BEGIN IMMEDIATE already serialises
        # writers (and its dialect leaves FOR UPDATE out).
        await self.session.execute(
            select(models.Store.id).where(models.Store.id == request.store_id).with_for_update()
        )
        earlier = await self.session.scalar(
            select(models.Reservation.id).where(
                models.Reservation.store_id == request.store_id,
                models.Reservation.customer_id == request.customer_id,
                models.Reservation.kind == request.kind.value,
                (
                    models.Reservation.service_id == request.service_id
                    if request.service_id is not None
                    else models.Reservation.service_id.is_(None)
                ),
                models.Reservation.starts_at == request.starts_at,
                models.Reservation.party_size == request.party_size,
                models.Reservation.status.in_(_HOLDING),
            )
        )
        if earlier is not None:
            view = await self.get(earlier)
            assert view is not None
            return view, False
        tables = (
            await self.tables(request.store_id) if request.kind is ReservationKind.TABLE else []
        )
        booked = await self.booked(request.store_id, request.starts_at, request.ends_at)
        table = allocate(request, tables=tables, booked=booked, service_capacity=service_capacity)
        resource: str | None = table.label if table is not None else None
        if request.service_id is not None:
            resource = await self.session.scalar(
                select(models.Service.name).where(models.Service.id == request.service_id)
            )
        row = models.Reservation(
            store_id=request.store_id,
            customer_id=request.customer_id,
            kind=request.kind.value,
            resource=resource,
            table_id=table.id if table is not None else None,
            service_id=request.service_id,
            party_size=request.party_size,
            starts_at=request.starts_at,
            duration_minutes=request.duration_minutes,
            status=ReservationStatus.REQUESTED.value,
            contact_phone=request.contact_phone,
            comment=request.comment,
            requested_at=request.requested_at,
            version=0,
        )
        self.session.add(row)
        await self.session.flush()
        self.session.add(
            models.OrderEvent(
                reservation_id=row.id,
                from_status=None,
                to_status=ReservationStatus.REQUESTED.value,
                actor=f"customer:{request.customer_id}",
                at=request.requested_at,
            )
        )
        await self.session.flush()
        view = await self.get(row.id)
        assert view is not None
        return view, True

    def _views(self) -> Any:
        return (
            select(models.Reservation, models.StoreTable.label, models.Service)
            .outerjoin(models.StoreTable, models.StoreTable.id == models.Reservation.table_id)
            .outerjoin(models.Service, models.Service.id == models.Reservation.service_id)
        )

    async def recent(self, customer_id: int, limit: int) -> Sequence[ReservationView]:
        """A customer's latest reservations, newest request first."""
        rows = await self.session.execute(
            self._views()
            .where(models.Reservation.customer_id == customer_id)
            .order_by(models.Reservation.requested_at.desc(), models.Reservation.id.desc())
            .limit(limit)
        )
        return [_view(row, label, service) for row, label, service in rows]

    async def get(self, reservation_id: int) -> ReservationView | None:
        """One reservation."""
        result = await self.session.execute(
            self._views()
            .where(models.Reservation.id == reservation_id)
            .execution_options(populate_existing=True)
        )
        found = result.first()
        return _view(*found) if found is not None else None

    async def load(self, reservation_id: int) -> Reservation | None:
        """The reservation as a domain entity, for a status change."""
        row = await self.session.get(models.Reservation, reservation_id, populate_existing=True)
        if row is None:
            return None
        return Reservation(
            id=row.id,
            store_id=row.store_id,
            customer_id=row.customer_id,
            kind=ReservationKind(row.kind),
            party_size=row.party_size,
            starts_at=row.starts_at,
            duration_minutes=row.duration_minutes,
            status=ReservationStatus(row.status),
            requested_at=row.requested_at,
            confirmed_at=row.confirmed_at,
            seated_at=row.seated_at,
            completed_at=row.completed_at,
            declined_at=row.declined_at,
            cancelled_at=row.cancelled_at,
            no_show_at=row.no_show_at,
            decline_reason=row.decline_reason,
            version=row.version,
        )

    async def record_change(self, reservation: Reservation, change: StatusChange) -> bool:
        """Write a status change if nobody else changed the reservation first (compare-and-set)."""
        assert reservation.id is not None
        stamp = timestamp_field(ReservationStatus(change.to_status))
        result = cast(
            CursorResult[Any],
            await self.session.execute(
                update(models.Reservation)
                .where(
                    models.Reservation.id == reservation.id,
                    models.Reservation.status == change.from_status,
                    models.Reservation.version == reservation.version - 1,
                )
                .values(
                    status=reservation.status.value,
                    version=reservation.version,
                    decline_reason=reservation.decline_reason,
                    **{stamp: getattr(reservation, stamp)},
                )
                .execution_options(synchronize_session=False)
            ),
        )
        if result.rowcount != 1:
            return False
        await add_status_event(self.session, change, reservation_id=reservation.id)
        return True

    async def due_reminders(
        self, now: datetime, horizon: datetime, limit: int
    ) -> Sequence[DueReminder]:
        """Requested or confirmed bookings starting in (now, horizon] with no reminder yet."""
        rows = await self.session.execute(
            self._views()
            .add_columns(
                models.Customer.telegram_id, models.Customer.language, models.Customer.reachable
            )
            .join(models.Customer, models.Customer.id == models.Reservation.customer_id)
            .where(
                models.Reservation.status.in_(_REMINDABLE),
                models.Reservation.reminder_sent_at.is_(None),
                models.Reservation.starts_at > now,
                models.Reservation.starts_at <= horizon,
            )
            .order_by(models.Reservation.starts_at, models.Reservation.id)
            .limit(limit)
        )
        return [
            DueReminder(
                reservation=_view(row, label, service),
                chat_id=telegram_id,
                language=language,
                reachable=reachable,
            )
            for row, label, service, telegram_id, language, reachable in rows
        ]

    async def mark_reminded(self, reservation_id: int, at: datetime) -> bool:
        """Stamp the reminder as sent unless someone already did (compare-and-set)."""
        result = cast(
            CursorResult[Any],
            await self.session.execute(
                update(models.Reservation)
                .where(
                    models.Reservation.id == reservation_id,
                    models.Reservation.reminder_sent_at.is_(None),
                )
                .values(reminder_sent_at=at)
                .execution_options(synchronize_session=False)
            ),
        )
        return result.rowcount == 1


def _view(
    row: models.Reservation, table_label: str | None, service: models.Service | None
) -> ReservationView:
    return ReservationView(
        id=row.id,
        store_id=row.store_id,
        customer_id=row.customer_id,
        kind=row.kind,
        status=row.status,
        party_size=row.party_size,
        starts_at=row.starts_at,
        duration_minutes=row.duration_minutes,
        requested_at=row.requested_at,
        table_id=row.table_id,
        table_label=table_label or (row.resource if row.kind == "table" else None),
        service_id=row.service_id,
        service_name=service.name if service is not None else row.resource,
        service_names=(
            {str(k): str(v) for k, v in (service.names or {}).items() if v}
            if service is not None
            else None
        ),
        contact_phone=row.contact_phone,
        comment=row.comment,
        decline_reason=row.decline_reason,
        reminder_sent_at=row.reminder_sent_at,
        version=row.version,
    )
