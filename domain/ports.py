"""Ports: what the use cases need from storage, as Protocols the bot/db layer implements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from domain.conversation import ConversationState
from domain.customers import Customer
from domain.stores import Store


class CustomerRepository(Protocol):
    """Customers keyed by Telegram id."""

    async def get_by_telegram_id(self, telegram_id: int) -> Customer | None:
        """The customer with this Telegram id, if known."""
        ...

    async def add(self, customer: Customer, now: datetime) -> Customer:
        """Insert a new customer and return it with its id."""
        ...

    async def save(self, customer: Customer, now: datetime) -> None:
        """Write back a changed customer."""
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
