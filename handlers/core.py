"""The framework-free conversation core: routes each inbound update to a use case."""

from __future__ import annotations

import logging
from datetime import datetime

from domain.customers import Customer
from domain.ports import UnitOfWork
from handlers import (
    basics,
    booking_flow,
    cart_flow,
    catalog_flow,
    checkout_flow,
    orders_flow,
    privacy_flow,
    push_flow,
    staff_admin_flow,
    staff_bookings,
    staff_flow,
    staff_tools_flow,
    stats_flow,
    stores_flow,
    survey_flow,
)
from handlers.callbacks import CallbackCodec, CallbackDataError
from handlers.i18n import Translator, normalize_locale
from handlers.inbound import Inbound, InboundKind
from handlers.outbound import OutboundCall
from handlers.turn import CoreConfig, Router, StaleButton, Turn, TurnFacts

__all__ = ["ConversationCore", "CoreConfig"]

log = logging.getLogger(__name__)


def build_router() -> Router:
    """Every feature's handlers in one routing table."""
    router = Router()
    for feature in (
        basics,
        stores_flow,
        catalog_flow,
        cart_flow,
        checkout_flow,
        orders_flow,
        booking_flow,
        staff_flow,
        staff_bookings,
        staff_tools_flow,
        staff_admin_flow,
        survey_flow,
        stats_flow,
        push_flow,
        privacy_flow,
    ):
        feature.register(router)
    return router


class ConversationCore:
    """Routes commands, button presses and text-in-state to use cases, one update at a time."""

    def __init__(self, config: CoreConfig, translator: Translator, codec: CallbackCodec) -> None:
        self.config = config
        self.translator = translator
        self.codec = codec
        self.router = build_router()

    async def handle(
        self, inbound: Inbound, uow: UnitOfWork, now: datetime, facts: TurnFacts | None = None
    ) -> list[OutboundCall]:
        """Apply one update and return the Bot API calls it causes, to be written to the outbox."""
        if inbound.chat is None or inbound.user is None or inbound.user.is_bot:
            return []
        turn = Turn(
            inbound=inbound,
            uow=uow,
            now=now,
            locale=normalize_locale(inbound.user.language_code, self.config.default_locale),
            translator=self.translator,
            codec=self.codec,
            config=self.config,
            facts=facts or TurnFacts(),
        )
        if inbound.chat.is_private:
            turn.customer = await self._customer(turn)
            turn.locale = turn.customer.language
            await self._route_private(turn)
        else:
            await self._route_group(turn)
        turn.toast()  # every press is answered, even when the handler had nothing to say
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
        router = self.router
        if inbound.kind is InboundKind.COMMAND:
            assert inbound.command is not None
            handler = router.private_commands.get(inbound.command)
            if handler is None:
                turn.say(turn.t("error.unknown_command", command="/" + inbound.command))
                return
            await handler(turn)
        elif inbound.kind is InboundKind.CALLBACK:
            await self._route_callback(turn)
        elif inbound.kind is InboundKind.PRE_CHECKOUT and router.pre_checkout is not None:
            await router.pre_checkout(turn)
        elif inbound.kind is InboundKind.PAYMENT and router.payment is not None:
            await router.payment(turn)
        elif inbound.kind in (InboundKind.TEXT, InboundKind.CONTACT, InboundKind.LOCATION):
            state = await turn.state()
            state_handler = router.states.get(state.state) if state else None
            if state_handler is not None:
                await state_handler(turn)
            elif inbound.kind is InboundKind.LOCATION and router.location is not None:
                await router.location(turn)
            elif inbound.kind is InboundKind.TEXT and router.text is not None:
                await router.text(turn)
            else:
                turn.say(turn.t("error.not_expected"))
        else:
            turn.say(turn.t("error.not_expected"))

    async def _route_group(self, turn: Turn) -> None:
        inbound = turn.inbound
        group_handler = self.router.group_commands.get(inbound.command or "")
        if inbound.kind is InboundKind.COMMAND and group_handler is not None:
            await group_handler(turn)
        elif inbound.kind is InboundKind.CALLBACK:
            await self._route_callback(turn)
        elif inbound.kind is InboundKind.MEMBERSHIP and self.router.membership is not None:
            await self.router.membership(turn)

    async def _route_callback(self, turn: Turn) -> None:
        inbound = turn.inbound
        try:
            data = self.codec.decode(inbound.callback_data or "")
        except CallbackDataError as exc:
            log.warning(
                "refused callback data",
                extra={"update_id": inbound.update_id, "reason": str(exc)},
            )
            turn.toast(turn.t("error.stale_button"))
            return
        handler = self.router.callbacks.get(data.action)
        if handler is None:
            turn.toast(turn.t("error.stale_button"))
            return
        try:
            await handler(turn, data)
        except StaleButton:
            log.info("stale button pressed", extra={"action": data.action})
            turn.toast(turn.t("error.stale_button"))
