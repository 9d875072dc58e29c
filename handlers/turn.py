"""One update's handling context: what it can read, and the replies it accumulates."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.conversation import ConversationState
from domain.customers import Customer
from domain.ports import UnitOfWork
from handlers.callbacks import CallbackCodec, CallbackData
from handlers.i18n import Translator
from handlers.inbound import Inbound, InboundKind
from handlers.outbound import (
    Button,
    InlineKeyboard,
    OutboundCall,
    answer_callback,
    edit_message_text,
    send_message,
)


@dataclass(frozen=True, slots=True)
class CoreConfig:
    """What the core needs to know about its deployment."""

    bot_username: str
    default_locale: str = "en"
    admin_ids: frozenset[int] = frozenset()
    payments: bool = False  # Telegram Payments on (O2O_PAYMENT_PROVIDER_TOKEN set)


@dataclass(frozen=True, slots=True)
class TurnFacts:
    """Facts about the update fetched from Telegram before its transaction began."""

    chat_admin: bool = False  # the sender administers the group the update came from


_UNLOADED = ConversationState("__unloaded__")


class StaleButton(Exception):
    """A press whose arguments no longer make sense (old message, removed item, other user)."""


def int_arg(data: CallbackData, index: int) -> int:
    """The index-th callback argument as an int; StaleButton when absent or malformed."""
    try:
        return int(data.args[index])
    except (IndexError, ValueError):
        raise StaleButton(data.action) from None


def str_arg(data: CallbackData, index: int) -> str:
    """The index-th callback argument; StaleButton when absent."""
    try:
        return data.args[index]
    except IndexError:
        raise StaleButton(data.action) from None


@dataclass(slots=True)
class Turn:
    """Everything one update's handling can see, and the replies it accumulates."""

    inbound: Inbound
    uow: UnitOfWork
    now: datetime
    locale: str
    translator: Translator
    codec: CallbackCodec
    config: CoreConfig
    customer: Customer | None = None
    facts: TurnFacts = field(default_factory=TurnFacts)
    replies: list[OutboundCall] = field(default_factory=list)
    answered: bool = False
    _state: ConversationState | None = field(default_factory=lambda: _UNLOADED)

    def t(self, key: str, /, **params: object) -> str:
        """Translate into this turn's locale."""
        return self.translator.t(self.locale, key, **params)

    @property
    def chat_id(self) -> int:
        """The chat the update came from (every routed update has one)."""
        assert self.inbound.chat is not None, "routed updates always carry a chat"
        return self.inbound.chat.id

    @property
    def user_id(self) -> int:
        """The Telegram id of the person behind the update."""
        assert self.inbound.user is not None, "routed updates always carry a user"
        return self.inbound.user.id

    @property
    def is_press(self) -> bool:
        """True when the update is a button press."""
        return self.inbound.kind is InboundKind.CALLBACK

    def button(self, label: str, action: str, *args: object) -> Button:
        """An inline button whose signed data names `action` and its arguments."""
        return Button(label, callback_data=self.codec.encode(action, *args))

    def say(self, text: str, keyboard: InlineKeyboard | dict[str, Any] | None = None) -> None:
        """Queue a new message into the update's chat."""
        self.replies.append(send_message(self.chat_id, text, keyboard))

    def show(self, text: str, keyboard: InlineKeyboard | None = None) -> None:
        """Show a screen: edit the pressed message in place, or send it when typed."""
        if self.is_press and self.inbound.message_id is not None:
            self.replies.append(
                edit_message_text(self.chat_id, self.inbound.message_id, text, keyboard)
            )
        else:
            self.say(text, keyboard)

    def toast(self, text: str | None = None, *, alert: bool = False) -> None:
        """Answer the press (once): stops the client's spinner, optionally with a notice."""
        if self.is_press and not self.answered:
            assert self.inbound.callback_id is not None
            self.replies.append(answer_callback(self.inbound.callback_id, text, alert=alert))
            self.answered = True

    async def state(self) -> ConversationState | None:
        """The user's conversation state in this chat (loaded once per turn)."""
        if self._state is _UNLOADED:
            self._state = await self.uow.conversations.get(self.chat_id, self.user_id)
        return self._state

    async def set_state(self, name: str, data: dict[str, Any] | None = None) -> None:
        """Enter (or update) a conversation step."""
        self._state = ConversationState(name, dict(data or {}))
        await self.uow.conversations.set(
            self.chat_id, self.user_id, name, self._state.data, self.now
        )

    async def clear_state(self) -> None:
        """Leave any conversation step."""
        self._state = None
        await self.uow.conversations.clear(self.chat_id, self.user_id)

    def require_customer(self) -> Customer:
        """The customer of a private-chat turn.

        A customer's button pressed where there is no customer (in a group) is a stale button.
        """
        if self.customer is None and self.is_press:
            raise StaleButton("customer")
        assert self.customer is not None, "private-chat turns always have a customer"
        return self.customer


Handler = Callable[[Turn], Awaitable[None]]
CallbackHandler = Callable[[Turn, CallbackData], Awaitable[None]]


@dataclass
class Router:
    """Declarative routing tables; feature modules register their handlers here."""

    private_commands: dict[str, Handler] = field(default_factory=dict)
    group_commands: dict[str, Handler] = field(default_factory=dict)
    callbacks: dict[str, CallbackHandler] = field(default_factory=dict)
    # Text, contact or location typed while in a conversation step, by step name.
    states: dict[str, Handler] = field(default_factory=dict)
    # A shared location outside any step (e.g. "find the nearest store").
    location: Handler | None = None
    # Plain text outside any step.
    text: Handler | None = None
    # Telegram Payments: the pre-checkout question and the successful payment.
    pre_checkout: Handler | None = None
    payment: Handler | None = None
    # The bot's own membership of a group changed (added, removed, promoted).
    membership: Handler | None = None
