"""The contact step shared by checkout and booking: ask for a phone number, read it, keep it."""

from __future__ import annotations

from typing import Any

from domain.checkout import normalize_phone
from handlers.inbound import InboundKind
from handlers.turn import Turn

# Refusals of the contact and note steps, by (field, reason) of the ValidationError.
CONTACT_REFUSALS: dict[tuple[str, str], str] = {
    ("phone", "invalid_characters"): "checkout.invalid_phone",
    ("phone", "length"): "checkout.invalid_phone",
    ("comment", "too_long"): "checkout.comment_too_long",
}


def phone_keyboard(turn: Turn) -> dict[str, Any]:
    """A reply keyboard: share the Telegram number, or reuse the one given last time."""
    rows: list[list[dict[str, Any]]] = [
        [{"text": turn.t("button.share_phone"), "request_contact": True}]
    ]
    phone = turn.require_customer().phone
    if phone:
        rows.append([{"text": phone}])
    return {"keyboard": rows, "resize_keyboard": True, "one_time_keyboard": True}


def ask_phone(turn: Turn) -> None:
    """Ask for a phone number (the caller has entered its phone step)."""
    turn.toast()
    turn.say(turn.t("checkout.ask_phone"), phone_keyboard(turn))


async def read_phone(turn: Turn) -> str | None:
    """The phone number shared or typed, normalised and kept on the customer.

    None (after saying why) for somebody else's shared contact; ValidationError for text that
    is not a phone number.
    """
    inbound = turn.inbound
    customer = turn.require_customer()
    if inbound.kind is InboundKind.CONTACT:
        if inbound.contact_user_id not in (None, turn.user_id):
            turn.say(turn.t("checkout.own_phone"))
            return None
        phone = normalize_phone(inbound.phone_number or "")
    else:
        phone = normalize_phone(inbound.text or "")
    if customer.phone != phone:
        customer.phone = phone
        await turn.uow.customers.save(customer, turn.now)
    turn.say(turn.t("checkout.phone_noted"), {"remove_keyboard": True})
    return phone
