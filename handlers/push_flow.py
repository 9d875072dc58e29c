"""Push campaigns in chat: a manager's /push (preview, then confirm), and the customer's side.

/push queues a plan; bot/campaigns.py works it out off the update (RFM segments, the store's
policy, personal picks) and posts the preview with Send / Cancel buttons. Send turns that same
message into the campaign's progress, which the campaign worker edits as pushes go out.
Customers are asked once for marketing consent (after their first order), can leave with
/unsubscribe or the button on every push, and come back with /subscribe; a push's button is a
deep link that opens the store and counts as "opened".
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.campaigns import campaign_payload
from domain.ports import CampaignView, ReportRequest
from domain.stores import Store
from handlers import stats_flow
from handlers.callbacks import CallbackCodec, CallbackData
from handlers.i18n import Translator
from handlers.outbound import Button, InlineKeyboard, OutboundCall, edit_message_text, send_message
from handlers.turn import Router, StaleButton, Turn, int_arg, str_arg

MAX_CAMPAIGN_ID = 2**31 - 1  # campaign ids are 32-bit integer keys

PUSH_KIND_EMOJI = {
    "recommended": "✨",
    "new_arrivals": "🆕",
    "favourites": "❤️",
    "winback": "👋",
    "bestsellers": "🔥",
}


def register(router: Router) -> None:
    """Add this module's handlers to the routing table."""
    router.private_commands |= {
        "push": push,
        "unsubscribe": unsubscribe,
        "subscribe": subscribe,
    }
    router.group_commands |= {"push": push}
    router.callbacks |= {"pu": campaign_button, "mk": consent_answer, "un": unsubscribe_button}


def campaign_ref(campaign_id: int) -> str:
    """The outbox ref of a campaign's preview-then-progress message in the manager's chat."""
    return f"campaign:{campaign_id}"


# --------------------------------------------------------------------------- managers


async def push(turn: Turn) -> None:
    """/push [store-code]: plan a campaign for the store and show its preview."""
    words = turn.inbound.args.lower().split()
    if len(words) > 1 or len(turn.inbound.args) > 100:
        turn.say(turn.t("push.usage"))
        return
    scope = await stats_flow.report_scope(turn, words[0] if words else None)
    if scope is None:
        return
    store, _switch = scope
    if store is None:
        stores = await turn.uow.stores.list_all()
        if len(stores) != 1:
            codes = ", ".join(s.code for s in stores) or "–"
            turn.say(turn.t("push.which_store", codes=codes))
            return
        store = stores[0]
    await turn.uow.reports.request(
        ReportRequest(
            kind="push",
            chat_id=turn.chat_id,
            user_id=turn.user_id,
            locale=turn.locale,
            period="",
            store_code=store.code,
        ),
        turn.now,
    )
    turn.say(turn.t("push.planning", store=store.name))


async def campaign_button(turn: Turn, data: CallbackData) -> None:
    """Send, Cancel (under the preview) or Stop (under the progress) a campaign."""
    campaign_id = int_arg(data, 0)
    action = str_arg(data, 1)
    if action not in ("go", "no", "stop"):
        raise StaleButton(data.action)
    campaign = await turn.uow.campaigns.get(campaign_id)
    if campaign is None:
        raise StaleButton(data.action)
    store = await turn.uow.stores.get(campaign.store_id)
    if store is None or not await _may_run(turn, store):
        turn.toast(turn.t("stats.refused"), alert=True)
        return
    who = turn.inbound.user.first_name if turn.inbound.user else "?"
    if action == "go":
        if not await turn.uow.campaigns.start(campaign_id, turn.chat_id, turn.now):
            turn.toast(turn.t("push.not_draft", status=_status(turn, campaign)), alert=True)
            return
        turn.toast(turn.t("push.started_toast"))
        turn.show(
            turn.t(
                "push.started", id=campaign_id, store=store.name, name=who, count=campaign.audience
            ),
            InlineKeyboard([[turn.button(turn.t("push.stop"), "pu", campaign_id, "stop")]]),
        )
        return
    if not await turn.uow.campaigns.cancel(campaign_id, turn.now):
        turn.toast(turn.t("push.not_draft", status=_status(turn, campaign)), alert=True)
        return
    turn.toast(turn.t("push.cancelled_toast"))
    if action == "no":
        turn.show(turn.t("push.cancelled", id=campaign_id, name=who))
    else:
        turn.say(turn.t("push.stopped", id=campaign_id, name=who))


def _status(turn: Turn, campaign: CampaignView) -> str:
    return turn.t(f"push.status.{campaign.status}")


async def _may_run(turn: Turn, store: Store) -> bool:
    """Admins anywhere; the store's manager in private or in the store's own group."""
    if turn.user_id in turn.config.admin_ids:
        return True
    if store.manager_telegram_id != turn.user_id:
        return False
    if turn.inbound.chat is not None and not turn.inbound.chat.is_private:
        return store.staff_chat_id == turn.chat_id
    return True


# --------------------------------------------------------------------------- customers


async def consent_question(turn: Turn) -> tuple[str, list[Button]] | None:
    """After an order: the consent question and its buttons, once ever (None after that).

    It rides on the order confirmation rather than arriving as a message of its own.
    """
    customer = turn.require_customer()
    if customer.marketing_asked:
        return None
    customer.marketing_asked = True
    await turn.uow.customers.save(customer, turn.now)
    buttons = [
        turn.button(turn.t("marketing.yes"), "mk", 1),
        turn.button(turn.t("marketing.no"), "mk", 0),
    ]
    return turn.t("marketing.question"), buttons


async def consent_answer(turn: Turn, data: CallbackData) -> None:
    """The yes / no under the consent question."""
    answer = int_arg(data, 0)
    if answer not in (0, 1):
        raise StaleButton(data.action)
    await _set_consent(turn, bool(answer))
    turn.toast(turn.t("marketing.thanks"))
    if turn.inbound.message_id is not None:
        # The question sat under the order confirmation: leave it its own button only.
        orders = InlineKeyboard([[turn.button(turn.t("button.orders"), "orders")]])
        turn.replies.append(
            OutboundCall(
                "editMessageReplyMarkup",
                {
                    "chat_id": turn.chat_id,
                    "message_id": turn.inbound.message_id,
                    "reply_markup": orders.to_api(),
                },
                turn.chat_id,
            )
        )
    turn.say(turn.t("marketing.subscribed" if answer else "marketing.declined"))


async def unsubscribe(turn: Turn) -> None:
    """/unsubscribe: no more offers."""
    await _set_consent(turn, False)
    turn.say(turn.t("marketing.unsubscribed"))


async def subscribe(turn: Turn) -> None:
    """/subscribe: offers again (at most one a week)."""
    await _set_consent(turn, True)
    turn.say(turn.t("marketing.subscribed"))


async def unsubscribe_button(turn: Turn, _data: CallbackData) -> None:
    """🔕 under a push: no more offers; the push itself stays readable."""
    await _set_consent(turn, False)
    turn.toast(turn.t("marketing.unsubscribed_toast"))
    turn.say(turn.t("marketing.unsubscribed"))


async def _set_consent(turn: Turn, consent: bool) -> None:
    if turn.customer is None:
        raise StaleButton("mk")  # a customer's button can only mean something in their chat
    customer = turn.customer
    customer.answer_marketing(consent)
    await turn.uow.customers.save(customer, turn.now)


async def opened(turn: Turn, campaign_id: int) -> Store | None:
    """A push's deep link was used: count the open; the campaign's store, if it still exists."""
    customer = turn.require_customer()
    if campaign_id > MAX_CAMPAIGN_ID:
        # A hand-made link: no such campaign, and PostgreSQL would refuse the query's argument.
        return None
    campaign = await turn.uow.campaigns.get(campaign_id)
    if campaign is None or customer.id is None:
        return None
    await turn.uow.campaigns.record_open(campaign_id, customer.id, turn.now)
    return await turn.uow.stores.get(campaign.store_id)


# --------------------------------------------------------------------------- texts for bot/


def push_message(
    translator: Translator,
    codec: CallbackCodec,
    *,
    locale: str,
    chat_id: int,
    bot_username: str,
    campaign_id: int,
    store_name: str,
    kind: str,
    items: Sequence[str],
    offer: str = "",
) -> OutboundCall:
    """One customer's push: what is offered, an Order button (deep link) and Unsubscribe."""
    text = push_text(translator, locale, store_name, kind, items, offer)
    rows: list[list[Button]] = []
    if bot_username:
        link = f"https://t.me/{bot_username}?start={campaign_payload(campaign_id)}"
        rows.append([Button(translator.t(locale, "push.open"), url=link)])
    rows.append(
        [Button(translator.t(locale, "push.unsubscribe"), callback_data=codec.encode("un"))]
    )
    return send_message(chat_id, text, InlineKeyboard(rows))


def push_text(
    translator: Translator,
    locale: str,
    store_name: str,
    kind: str,
    items: Sequence[str],
    offer: str = "",
) -> str:
    """The words of a push of this kind."""
    listed = "\n".join(f"• {item}" for item in items)
    lines = [
        PUSH_KIND_EMOJI.get(kind, "")
        + " "
        + translator.t(locale, f"push.kind.{kind}", store=store_name),
        listed,
    ]
    if kind == "winback" and offer:
        lines.append(translator.t(locale, "push.offer", offer=offer))
    lines.append(translator.t(locale, "push.footer"))
    return "\n".join(line for line in lines if line)


def preview_keyboard(
    translator: Translator, codec: CallbackCodec, locale: str, campaign_id: int, audience: int
) -> InlineKeyboard:
    """Send / Cancel under a campaign's preview (only Cancel when nobody would get it)."""
    cancel = Button(translator.t(locale, "push.cancel"), codec.encode("pu", campaign_id, "no"))
    if audience <= 0:
        return InlineKeyboard([[cancel]])
    send = Button(
        translator.t(locale, "push.send", count=audience),
        codec.encode("pu", campaign_id, "go"),
    )
    return InlineKeyboard([[send], [cancel]])


def progress_edit(
    translator: Translator,
    codec: CallbackCodec,
    *,
    locale: str,
    chat_id: int,
    campaign_id: int,
    text: str,
    running: bool,
) -> OutboundCall:
    """The edit that shows a campaign's progress in the manager's chat (Stop while running)."""
    keyboard = (
        InlineKeyboard(
            [[Button(translator.t(locale, "push.stop"), codec.encode("pu", campaign_id, "stop"))]]
        )
        if running
        else None
    )
    return edit_message_text(chat_id, campaign_ref(campaign_id), text, keyboard)
