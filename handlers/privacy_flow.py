"""/privacy (what is stored, for how long, how to delete it) and /forget (delete it).

/forget -> "Delete your personal data?" [🗑 Yes, delete] [Cancel]
  yes    -> CustomerRepository.forget: personal data erased, orders kept as anonymous figures;
            the prompt becomes the confirmation. The profile is detached from the Telegram id,
            so the next message starts a new one, and an old Yes/Cancel button is stale.
  cancel -> "Nothing was deleted."
While an order or booking is under way, /forget asks to come back once it is finished (the
store still needs the phone and name to hand it over).
"""

from __future__ import annotations

from handlers.callbacks import CallbackData
from handlers.outbound import InlineKeyboard
from handlers.turn import Router, StaleButton, Turn, int_arg

FORGET_YES = "fy"
FORGET_NO = "fn"


def register(router: Router) -> None:
    """Add this module's handlers to the routing table."""
    router.private_commands |= {"privacy": privacy, "forget": forget}
    router.callbacks |= {FORGET_YES: forget_confirmed, FORGET_NO: forget_cancelled}


async def privacy(turn: Turn) -> None:
    """/privacy: what the bot stores about the customer, for how long, and how to delete it."""
    turn.say(turn.t("privacy.text"))


async def forget(turn: Turn) -> None:
    """/forget: ask for confirmation with a button (or to wait for open business)."""
    customer = turn.require_customer()
    assert customer.id is not None
    under_way = await turn.uow.customers.open_business(customer.id, turn.now)
    if under_way:
        turn.say(turn.t("privacy.forget_wait", count=under_way))
        return
    keyboard = InlineKeyboard(
        [
            [turn.button(turn.t("privacy.forget_yes"), FORGET_YES, customer.id)],
            [turn.button(turn.t("privacy.forget_no"), FORGET_NO, customer.id)],
        ]
    )
    turn.say(turn.t("privacy.forget_ask"), keyboard)


def _own_prompt(turn: Turn, data: CallbackData) -> int:
    """The pressing customer's id, if the prompt was theirs (a forgotten profile's is stale)."""
    customer = turn.require_customer()
    if customer.id is None or int_arg(data, 0) != customer.id:
        raise StaleButton(data.action)
    return customer.id


async def forget_confirmed(turn: Turn, data: CallbackData) -> None:
    """Yes: erase the personal data, keep the anonymous order figures, confirm."""
    customer_id = _own_prompt(turn, data)
    under_way = await turn.uow.customers.open_business(customer_id, turn.now)
    if under_way:
        turn.show(turn.t("privacy.forget_wait", count=under_way))
        return
    await turn.uow.surveys.cancel_all_scheduled(customer_id)
    if not await turn.uow.customers.forget(customer_id, turn.now):
        raise StaleButton(data.action)
    turn.customer = None  # the profile is gone: nothing may write it back this turn
    turn.toast(turn.t("privacy.forgotten_toast"))
    turn.show(turn.t("privacy.forgotten"))


async def forget_cancelled(turn: Turn, data: CallbackData) -> None:
    """Cancel: nothing changes."""
    _own_prompt(turn, data)
    turn.toast()
    turn.show(turn.t("privacy.forget_cancelled"))
