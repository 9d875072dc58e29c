"""The framework-free conversation core: routes each inbound update to a use case."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from domain.customers import Customer
from domain.ports import UnitOfWork
from domain.stores import Store, deep_link_candidates
from handlers.callbacks import CallbackCodec, CallbackData, CallbackDataError
from handlers.i18n import LOCALE_NAMES, LOCALES, Translator, normalize_locale
from handlers.inbound import Inbound, InboundKind
from handlers.outbound import (
    Button,
    InlineKeyboard,
    OutboundCall,
    answer_callback,
    edit_message_text,
    send_message,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CoreConfig:
    """What the core needs to know about its deployment."""

    bot_username: str
    default_locale: str = "en"
    admin_ids: frozenset[int] = frozenset()


@dataclass(slots=True)
class Turn:
    """Everything one update's handling can see and the replies it accumulates."""

    inbound: Inbound
    uow: UnitOfWork
    now: datetime
    locale: str
    translator: Translator
    customer: Customer | None = None
    replies: list[OutboundCall] = field(default_factory=list)

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

    def say(self, text: str, keyboard: InlineKeyboard | None = None) -> None:
        """Queue a message into the update's chat."""
        self.replies.append(send_message(self.chat_id, text, keyboard))


Handler = Callable[[Turn], Awaitable[None]]
CallbackHandler = Callable[[Turn, CallbackData], Awaitable[None]]


class ConversationCore:
    """Routes commands, button presses and text-in-state to use cases, one update at a time."""

    def __init__(self, config: CoreConfig, translator: Translator, codec: CallbackCodec) -> None:
        self.config = config
        self.translator = translator
        self.codec = codec
        self._private_commands: Mapping[str, Handler] = {
            "start": self._start,
            "help": self._help,
            "language": self._language,
        }
        self._group_commands: Mapping[str, Handler] = {"help": self._group_help}
        self._callbacks: Mapping[str, CallbackHandler] = {"lang": self._set_language}
        self._states: Mapping[str, Handler] = {}

    async def handle(self, inbound: Inbound, uow: UnitOfWork, now: datetime) -> list[OutboundCall]:
        """Apply one update and return the Bot API calls it causes, to be written to the outbox."""
        if inbound.chat is None or inbound.user is None or inbound.user.is_bot:
            return []
        turn = Turn(
            inbound=inbound,
            uow=uow,
            now=now,
            locale=normalize_locale(inbound.user.language_code, self.config.default_locale),
            translator=self.translator,
        )
        if inbound.chat.is_private:
            turn.customer = await self._customer(turn)
            turn.locale = turn.customer.language
            await self._route_private(turn)
        else:
            await self._route_group(turn)
        return turn.replies

    async def _customer(self, turn: Turn) -> Customer:
        user = turn.inbound.user
        assert user is not None
        language = normalize_locale(user.language_code, self.config.default_locale)
        customers = turn.uow.customers
        customer = await customers.get_by_telegram_id(user.id)
        if customer is None:
            customer = Customer(
                telegram_id=user.id,
                first_name=user.first_name,
                last_name=user.last_name,
                username=user.username,
                language=language,
            )
            return await customers.add(customer, turn.now)
        if customer.refresh_profile(user.first_name, user.last_name, user.username, language):
            await customers.save(customer, turn.now)
        return customer

    async def _route_private(self, turn: Turn) -> None:
        inbound = turn.inbound
        if inbound.kind is InboundKind.COMMAND:
            assert inbound.command is not None
            handler = self._private_commands.get(inbound.command)
            if handler is None:
                turn.say(turn.t("error.unknown_command", command="/" + inbound.command))
                return
            await handler(turn)
        elif inbound.kind is InboundKind.CALLBACK:
            await self._route_callback(turn)
        elif inbound.kind is InboundKind.TEXT:
            state = await turn.uow.conversations.get(turn.chat_id, turn.user_id)
            state_handler = self._states.get(state.state) if state else None
            if state_handler is not None:
                await state_handler(turn)
            else:
                turn.say(turn.t("error.not_understood"))
        elif inbound.kind in (InboundKind.CONTACT, InboundKind.LOCATION, InboundKind.UNSUPPORTED):
            turn.say(turn.t("error.not_expected"))

    async def _route_group(self, turn: Turn) -> None:
        inbound = turn.inbound
        group_handler = self._group_commands.get(inbound.command or "")
        if inbound.kind is InboundKind.COMMAND and group_handler is not None:
            await group_handler(turn)
        elif inbound.kind is InboundKind.CALLBACK:
            await self._route_callback(turn)

    async def _route_callback(self, turn: Turn) -> None:
        inbound = turn.inbound
        assert inbound.callback_id is not None
        try:
            data = self.codec.decode(inbound.callback_data or "")
        except CallbackDataError as exc:
            log.warning(
                "refused callback data",
                extra={"update_id": inbound.update_id, "reason": str(exc)},
            )
            turn.replies.append(answer_callback(inbound.callback_id, turn.t("error.stale_button")))
            return
        handler = self._callbacks.get(data.action)
        if handler is None:
            turn.replies.append(answer_callback(inbound.callback_id, turn.t("error.stale_button")))
            return
        await handler(turn, data)

    # --- commands -------------------------------------------------------------------------

    async def _start(self, turn: Turn) -> None:
        customer = turn.customer
        assert customer is not None
        lines = [turn.t("start.welcome", name=customer.first_name or "👋")]
        payload = turn.inbound.args.strip()
        if payload:
            store, table = await self._resolve_deep_link(turn, payload)
            if store is None:
                lines.append(turn.t("start.unknown_link"))
            else:
                customer.selected_store_id = store.id
                await turn.uow.customers.save(customer, turn.now)
                lines.append(
                    turn.t("start.store_selected", store=store.name, address=store.address)
                )
                if table is not None:
                    await turn.uow.conversations.set(
                        turn.chat_id,
                        turn.user_id,
                        "dine_in",
                        {"store_id": store.id, "table": table},
                        turn.now,
                    )
                    lines.append(turn.t("start.table", table=table))
        elif customer.selected_store_id is not None:
            store = await turn.uow.stores.get(customer.selected_store_id)
            if store is not None:
                lines.append(
                    turn.t("start.store_selected", store=store.name, address=store.address)
                )
        lines.append(turn.t("start.hint"))
        turn.say("\n\n".join(lines))

    async def _resolve_deep_link(self, turn: Turn, payload: str) -> tuple[Store | None, str | None]:
        for candidate in deep_link_candidates(payload):
            store = await turn.uow.stores.get_by_code(candidate.store_code)
            if store is not None:
                return store, candidate.table
        return None, None

    async def _help(self, turn: Turn) -> None:
        turn.say(turn.t("help.private"))

    async def _group_help(self, turn: Turn) -> None:
        turn.say(turn.t("help.group"))

    async def _language(self, turn: Turn) -> None:
        buttons = [
            Button(
                ("✓ " if locale == turn.locale else "") + LOCALE_NAMES[locale],
                callback_data=self.codec.encode("lang", locale),
            )
            for locale in LOCALES
        ]
        turn.say(turn.t("language.prompt"), InlineKeyboard([buttons]))

    async def _set_language(self, turn: Turn, data: CallbackData) -> None:
        inbound = turn.inbound
        assert inbound.callback_id is not None
        customer = turn.customer
        if customer is None or not data.args or data.args[0] not in LOCALES:
            turn.replies.append(answer_callback(inbound.callback_id, turn.t("error.stale_button")))
            return
        customer.choose_language(data.args[0])
        await turn.uow.customers.save(customer, turn.now)
        turn.locale = customer.language
        confirmation = turn.t("language.changed", language=LOCALE_NAMES[customer.language])
        turn.replies.append(answer_callback(inbound.callback_id, confirmation))
        if inbound.message_id is not None:
            turn.replies.append(edit_message_text(turn.chat_id, inbound.message_id, confirmation))
        else:
            turn.say(confirmation)
