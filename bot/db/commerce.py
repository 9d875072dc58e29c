"""Catalog, cart and order repositories: the selling side of the domain ports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, and_, case, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models
from domain.cart import Cart, CartLine
from domain.catalog import CatalogItem, Category
from domain.checkout import ItemsUnavailable, NewOrder
from domain.money import Money
from domain.orders import (
    TERMINAL_ORDER_STATUSES,
    Order,
    OrderStatus,
    StatusChange,
    timestamp_field,
)
from domain.ports import OrderLineView, OrderMove, OrderView, PaymentRecord

_OPEN_STATUSES = [status.value for status in OrderStatus if status not in TERMINAL_ORDER_STATUSES]


async def add_status_event(
    session: AsyncSession,
    change: StatusChange,
    *,
    order_id: int | None = None,
    reservation_id: int | None = None,
) -> None:
    """Append a transition to order_events (the audit trail of orders and reservations)."""
    session.add(
        models.OrderEvent(
            order_id=order_id,
            reservation_id=reservation_id,
            from_status=change.from_status,
            to_status=change.to_status,
            actor=change.actor,
            actor_name=change.actor_name,
            note=change.note,
            at=change.at,
        )
    )
    await session.flush()


class SqlCatalogRepository:
    """Products joined with their per-store availability, stock and price override."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _base(self, store_id: int) -> Any:
        return self._sold_here(select(models.Product, models.StoreProduct), store_id)

    @staticmethod
    def _sold_here(query: Any, store_id: int) -> Any:
        return (
            query.select_from(models.Product)
            .join(
                models.StoreProduct,
                and_(
                    models.StoreProduct.product_id == models.Product.id,
                    models.StoreProduct.store_id == store_id,
                ),
            )
            .where(models.Product.active.is_(True))
        )

    async def categories(self, store_id: int) -> Sequence[Category]:
        """Categories with at least one active product sold at the store, in order."""
        sold_here = self._sold_here(select(models.Product.category_id), store_id)
        rows = await self.session.execute(
            select(models.Category)
            .where(models.Category.id.in_(sold_here))
            .order_by(models.Category.sort_order, models.Category.name)
        )
        return [
            Category(id=row.id, code=row.code, name=row.name, names=dict(row.names or {}))
            for row in rows.scalars()
        ]

    async def page(
        self, store_id: int, category_id: int, offset: int, limit: int
    ) -> tuple[Sequence[CatalogItem], int]:
        """One page of a category's products at the store, and how many there are in all."""
        query = self._base(store_id).where(models.Product.category_id == category_id)
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self.session.execute(
            query.order_by(models.Product.name, models.Product.id).offset(offset).limit(limit)
        )
        return [_item(product, link) for product, link in rows], int(total or 0)

    async def items(self, store_id: int, product_ids: Sequence[int]) -> Mapping[int, CatalogItem]:
        """The given products as sold at the store; missing ones are not sold there (any more)."""
        if not product_ids:
            return {}
        rows = await self.session.execute(
            self._base(store_id).where(models.Product.id.in_(list(product_ids)))
        )
        return {product.id: _item(product, link) for product, link in rows}

    async def search(self, store_id: int, query: str, limit: int) -> Sequence[CatalogItem]:
        """Products at the store whose name (any language) or description matches `query`."""
        words = [word.lower() for word in query.split() if word][:5]
        if not words:
            return []
        rows = await self.session.execute(
            self._base(store_id).order_by(models.Product.name, models.Product.id)
        )
        # Catalogs of a shop are small (tens to hundreds of items); matching in Python keeps
        # translated names (JSON) searchable the same way on SQLite and PostgreSQL.
        found = []
        for product, link in rows:
            haystack = " ".join(
                [product.name, product.description, product.sku, *map(str, product.names.values())]
            ).lower()
            if all(word in haystack for word in words):
                found.append(_item(product, link))
                if len(found) >= limit:
                    break
        return found

    async def all_items(self, store_id: int) -> Sequence[CatalogItem]:
        """Every active product sold at the store, by name (the staff's stock list)."""
        rows = await self.session.execute(
            self._base(store_id).order_by(models.Product.name, models.Product.id)
        )
        return [_item(product, link) for product, link in rows]

    async def set_availability(
        self, store_id: int, product_id: int, available: bool
    ) -> CatalogItem | None:
        """Mark a product sold out, or back on sale (a tracked stock of 0 stops being tracked).

        None when the product is not sold at the store.
        """
        link = models.StoreProduct
        values: dict[str, Any] = {"available": available}
        if available:
            values["stock"] = case((link.stock == 0, None), else_=link.stock)
        await self.session.execute(
            update(link)
            .where(link.store_id == store_id, link.product_id == product_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return await self._fresh(store_id, models.Product.id == product_id)

    async def set_stock(self, store_id: int, code: str, stock: int | None) -> CatalogItem | None:
        """Set a product's stock by code (None: not tracked; above 0 also puts it on sale).

        None when no active product with that code is sold at the store.
        """
        item = await self._fresh(store_id, models.Product.sku == code)
        if item is None:
            return None
        link = models.StoreProduct
        values: dict[str, Any] = {"stock": stock}
        if stock is None or stock > 0:
            values["available"] = True
        await self.session.execute(
            update(link)
            .where(link.store_id == store_id, link.product_id == item.product_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return await self._fresh(store_id, models.Product.id == item.product_id)

    async def _fresh(self, store_id: int, condition: Any) -> CatalogItem | None:
        row = (
            await self.session.execute(
                self._base(store_id).where(condition).execution_options(populate_existing=True)
            )
        ).first()
        return _item(row[0], row[1]) if row else None


def _item(product: models.Product, link: models.StoreProduct) -> CatalogItem:
    price = link.price_override_minor if link.price_override_minor is not None else None
    return CatalogItem(
        product_id=product.id,
        code=product.sku,
        name=product.name,
        names=dict(product.names or {}),
        description=product.description,
        photo=product.photo,
        category_id=product.category_id,
        price=Money(product.price_minor if price is None else price, product.currency),
        available=link.available,
        stock=link.stock,
    )


class SqlCartRepository:
    """Carts and cart lines."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, customer_id: int) -> Cart | None:
        """The customer's cart, if they have one."""
        row = await self.session.scalar(
            select(models.Cart).where(models.Cart.customer_id == customer_id)
        )
        if row is None:
            return None
        lines = await self.session.scalars(
            select(models.CartLine)
            .where(models.CartLine.cart_id == row.id)
            .order_by(models.CartLine.product_id)
        )
        return Cart(
            id=row.id,
            customer_id=row.customer_id,
            store_id=row.store_id,
            version=row.version,
            fulfilment=row.fulfilment,
            table_label=row.table_label,
            lines=[CartLine(line.product_id, line.quantity) for line in lines],
        )

    async def save(self, cart: Cart, now: datetime) -> Cart:
        """Insert or update the cart and replace its lines."""
        row = await self.session.scalar(
            select(models.Cart).where(models.Cart.customer_id == cart.customer_id)
        )
        if row is None:
            row = models.Cart(customer_id=cart.customer_id)
            self.session.add(row)
        row.store_id = cart.store_id
        row.version = cart.version
        row.fulfilment = cart.fulfilment
        row.table_label = cart.table_label
        row.updated_at = now
        await self.session.flush()
        await self.session.execute(delete(models.CartLine).where(models.CartLine.cart_id == row.id))
        self.session.add_all(
            models.CartLine(cart_id=row.id, product_id=line.product_id, quantity=line.quantity)
            for line in cart.lines
        )
        await self.session.flush()
        cart.id = row.id
        return cart


class SqlOrderRepository:
    """Orders, their lines and events; stock is reserved and released here."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find_by_key(self, idempotency_key: str) -> OrderView | None:
        """The order placed under this key, if any."""
        order_id = await self.session.scalar(
            select(models.Order.id).where(models.Order.idempotency_key == idempotency_key)
        )
        return await self.get(order_id) if order_id is not None else None

    async def place(self, new_order: NewOrder) -> OrderView:
        """Insert the order and reserve its stock atomically; ItemsUnavailable if short."""
        quote = new_order.quote
        async with self.session.begin_nested():
            short = await self._reserve_stock(
                new_order.store_id, [(line.product_id, line.quantity) for line in quote.lines]
            )
            if short:
                # Leaving the savepoint by exception undoes the decrements already made.
                raise ItemsUnavailable(short)
            order = models.Order(
                number="",
                store_id=new_order.store_id,
                customer_id=new_order.customer_id,
                idempotency_key=new_order.idempotency_key,
                status=OrderStatus.PLACED.value,
                fulfilment=new_order.fulfilment,
                slot_start=new_order.slot_start,
                table_label=new_order.table_label,
                delivery_address=new_order.delivery_address,
                delivery_latitude=new_order.delivery_latitude,
                delivery_longitude=new_order.delivery_longitude,
                contact_phone=new_order.contact_phone,
                comment=new_order.comment,
                subtotal_minor=quote.subtotal.amount_minor,
                delivery_fee_minor=quote.delivery_fee.amount_minor,
                total_minor=quote.total.amount_minor,
                currency=quote.total.currency,
                payment_method=new_order.payment_method,
                paid_at=new_order.placed_at if new_order.telegram_payment_charge_id else None,
                telegram_payment_charge_id=new_order.telegram_payment_charge_id,
                placed_at=new_order.placed_at,
                version=0,
            )
            self.session.add(order)
            await self.session.flush()
            order.number = f"{order.id:04d}"
            lines = [
                models.OrderLine(
                    order_id=order.id,
                    product_id=line.product_id,
                    name=line.name,
                    unit_price_minor=line.unit_price.amount_minor,
                    quantity=line.quantity,
                    line_total_minor=line.total.amount_minor,
                )
                for line in quote.lines
            ]
            self.session.add_all(lines)
            self.session.add(
                models.OrderEvent(
                    order_id=order.id,
                    from_status=None,
                    to_status=OrderStatus.PLACED.value,
                    actor=f"customer:{new_order.customer_id}",
                    at=new_order.placed_at,
                )
            )
            await self.session.flush()
        # Built from the rows just written rather than read back: two statements fewer in
        # every order's transaction, and the same values `get` would return.
        return _view(order, tuple(_line_view(line, order.currency) for line in lines))

    async def _reserve_stock(self, store_id: int, lines: Sequence[tuple[int, int]]) -> list[int]:
        short = []
        for product_id, quantity in lines:
            link = models.StoreProduct
            # Compare-and-set on the stock itself: concurrent checkouts can never oversell.
            result = cast(
                CursorResult[Any],
                await self.session.execute(
                    update(link)
                    .where(
                        link.store_id == store_id,
                        link.product_id == product_id,
                        link.available.is_(True),
                        or_(link.stock.is_(None), link.stock >= quantity),
                    )
                    .values(stock=link.stock - quantity)  # NULL (untracked) stays NULL
                    .execution_options(synchronize_session=False)
                ),
            )
            if result.rowcount != 1:
                short.append(product_id)
        return short

    async def slot_load(self, store_id: int, slots: Sequence[datetime]) -> Mapping[datetime, int]:
        """How many open orders each pickup slot already holds."""
        if not slots:
            return {}
        rows = await self.session.execute(
            select(models.Order.slot_start, func.count())
            .where(
                models.Order.store_id == store_id,
                models.Order.slot_start.in_(list(slots)),
                models.Order.status.in_(_OPEN_STATUSES),
            )
            .group_by(models.Order.slot_start)
        )
        load = {slot: 0 for slot in slots}
        for slot, count in rows:
            if slot is not None:
                load[slot] = int(count)
        return load

    async def recent(self, customer_id: int, limit: int) -> Sequence[OrderView]:
        """A customer's latest orders, newest first."""
        rows = await self.session.scalars(
            select(models.Order)
            .where(models.Order.customer_id == customer_id)
            .order_by(models.Order.placed_at.desc(), models.Order.id.desc())
            .limit(limit)
        )
        return [_view(row, ()) for row in rows]

    async def get(self, order_id: int) -> OrderView | None:
        """One order with its lines."""
        row = await self.session.get(models.Order, order_id, populate_existing=True)
        if row is None:
            return None
        lines = await self.session.scalars(
            select(models.OrderLine)
            .where(models.OrderLine.order_id == order_id)
            .order_by(models.OrderLine.id)
        )
        return _view(row, tuple(_line_view(line, row.currency) for line in lines))

    async def load(self, order_id: int) -> Order | None:
        """The order as a domain entity, for a status change."""
        row = await self.session.get(models.Order, order_id, populate_existing=True)
        if row is None:
            return None
        return Order(
            id=row.id,
            store_id=row.store_id,
            customer_id=row.customer_id,
            fulfilment=row.fulfilment,  # type: ignore[arg-type]  # the entity converts it
            status=row.status,  # type: ignore[arg-type]  # the entity converts it
            placed_at=row.placed_at,
            accepted_at=row.accepted_at,
            ready_at=row.ready_at,
            completed_at=row.completed_at,
            rejected_at=row.rejected_at,
            cancelled_at=row.cancelled_at,
            no_show_at=row.no_show_at,
            eta_minutes=row.eta_minutes,
            ready_by=row.ready_by,
            reject_reason=row.reject_reason,
            pickup_code=row.pickup_code,
            total=Money(row.total_minor, row.currency),
            version=row.version,
        )

    async def record_change(self, order: Order, change: StatusChange) -> bool:
        """Write a status change if nobody else changed the order first (compare-and-set)."""
        assert order.id is not None
        stamp = timestamp_field(OrderStatus(change.to_status))
        values: dict[str, Any] = {
            "status": order.status.value,
            "version": order.version,
            stamp: getattr(order, stamp),
            "eta_minutes": order.eta_minutes,
            "ready_by": order.ready_by,
            "pickup_code": order.pickup_code,
            "reject_reason": order.reject_reason,
        }
        if change.to_status == OrderStatus.CANCELLED.value:
            values["cancel_reason"] = change.note
        result = cast(
            CursorResult[Any],
            await self.session.execute(
                update(models.Order)
                .where(
                    models.Order.id == order.id,
                    models.Order.status == change.from_status,
                    models.Order.version == order.version - 1,
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            ),
        )
        if result.rowcount != 1:
            return False
        await add_status_event(self.session, change, order_id=order.id)
        return True

    async def moves(self, order_id: int) -> Sequence[OrderMove]:
        """The order's recorded transitions, oldest first."""
        rows = await self.session.scalars(
            select(models.OrderEvent)
            .where(models.OrderEvent.order_id == order_id)
            .order_by(models.OrderEvent.id)
        )
        return [
            OrderMove(
                from_status=row.from_status,
                to_status=row.to_status,
                actor=row.actor,
                at=row.at,
                actor_name=row.actor_name,
                note=row.note,
            )
            for row in rows
        ]

    async def find_ready_by_code(self, store_id: int, code: str) -> OrderView | None:
        """The store's order waiting for pickup under this code, if any."""
        order_id = await self.session.scalar(
            select(models.Order.id)
            .where(
                models.Order.store_id == store_id,
                models.Order.status == OrderStatus.READY.value,
                models.Order.pickup_code == code,
            )
            .order_by(models.Order.id.desc())
            .limit(1)
        )
        return await self.get(order_id) if order_id is not None else None

    async def release_stock(self, order_id: int) -> None:
        """Return a cancelled or rejected order's reserved stock."""
        order = await self.session.get(models.Order, order_id)
        if order is None:
            return
        lines = await self.session.scalars(
            select(models.OrderLine).where(
                models.OrderLine.order_id == order_id, models.OrderLine.product_id.is_not(None)
            )
        )
        for line in lines:
            link = models.StoreProduct
            await self.session.execute(
                update(link)
                .where(
                    link.store_id == order.store_id,
                    link.product_id == line.product_id,
                    link.stock.is_not(None),
                )
                .values(stock=link.stock + line.quantity)
                .execution_options(synchronize_session=False)
            )


def _line_view(line: models.OrderLine, currency: str) -> OrderLineView:
    return OrderLineView(
        product_id=line.product_id,
        name=line.name,
        unit_price=Money(line.unit_price_minor, currency),
        quantity=line.quantity,
    )


def _view(row: models.Order, lines: tuple[OrderLineView, ...]) -> OrderView:
    return OrderView(
        id=row.id,
        number=row.number,
        store_id=row.store_id,
        customer_id=row.customer_id,
        status=row.status,
        fulfilment=row.fulfilment,
        total=Money(row.total_minor, row.currency),
        subtotal=Money(row.subtotal_minor, row.currency),
        delivery_fee=Money(row.delivery_fee_minor, row.currency),
        placed_at=row.placed_at,
        lines=lines,
        slot_start=row.slot_start,
        table_label=row.table_label,
        delivery_address=row.delivery_address,
        contact_phone=row.contact_phone,
        comment=row.comment,
        eta_minutes=row.eta_minutes,
        ready_by=row.ready_by,
        pickup_code=row.pickup_code,
        reject_reason=row.reject_reason,
        payment_method=row.payment_method,
        version=row.version,
    )


class SqlPaymentRepository:
    """Telegram payments, one row per charge id."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def seen(self, charge_id: str) -> bool:
        """Whether this charge was recorded already (a redelivered successful_payment)."""
        found = await self.session.scalar(
            select(models.Payment.id).where(models.Payment.telegram_payment_charge_id == charge_id)
        )
        return found is not None

    async def record(self, payment: PaymentRecord) -> None:
        """Record a charge and what became of it."""
        self.session.add(
            models.Payment(
                telegram_payment_charge_id=payment.charge_id,
                provider_payment_charge_id=payment.provider_charge_id,
                customer_id=payment.customer_id,
                store_id=payment.store_id,
                order_id=payment.order_id,
                payload=payment.payload[:128],
                total_minor=payment.total.amount_minor,
                currency=payment.total.currency,
                status=payment.status,
                note=payment.note,
                created_at=payment.at,
            )
        )
        await self.session.flush()
