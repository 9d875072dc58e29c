"""After the order: "How was it?" with 1-5 stars, an optional comment, and opting out.

Surveys are scheduled here when an order is completed (a booking seated or completed) and sent
by the jobs loop when due (bot/jobs.py). The survey message carries the ref survey:<id>, so the
answer edits it in place whichever way it comes (a press, a typed comment, a skip).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.customers import Customer
from domain.errors import ValidationError
from domain.ports import OrderView, ReservationView, SurveyView, UnitOfWork
from domain.stores import Store
from domain.surveys import (
    ANSWERED,
    EXPIRED,
    LOW_SCORE,
    MAX_COMMENT_LENGTH,
    SENT,
    SURVEY_LIFETIME,
    check_score,
    clean_comment,
    survey_due_at,
)
from handlers.callbacks import CallbackData
from handlers.i18n import Translator
from handlers.inbound import InboundKind
from handlers.outbound import (
    InlineKeyboard,
    OutboundCall,
    edit_message_text,
    send_message,
)
from handlers.turn import Router, StaleButton, Turn, int_arg

COMMENT_STATE = "survey_comment"
SCORES = (1, 2, 3, 4, 5)


def register(router: Router) -> None:
    """Add this module's handlers to the routing table."""
    router.callbacks |= {"sv": score, "svs": skip, "svo": turn_off}
    router.states[COMMENT_STATE] = comment
    router.private_commands |= {"surveys": surveys_command}


def survey_ref(survey_id: int) -> str:
    """The outbox ref naming a survey's message in the customer's chat."""
    return f"survey:{survey_id}"


def stars(score: int) -> str:
    """A score as five stars, filled up to it."""
    return "★" * score + "☆" * (5 - score)


async def schedule_order_survey(turn: Turn, order: OrderView, store: Store) -> None:
    """Schedule the survey of a completed order (unless the customer turned surveys off)."""
    await _schedule(turn, store, order.customer_id, turn.now, order_id=order.id)


async def schedule_booking_survey(turn: Turn, booking: ReservationView, store: Store) -> None:
    """Schedule the survey of a seated or completed booking, after the booked time is over."""
    ends = booking.starts_at + timedelta(minutes=booking.duration_minutes)
    await _schedule(
        turn, store, booking.customer_id, max(turn.now, ends), reservation_id=booking.id
    )


async def _schedule(
    turn: Turn,
    store: Store,
    customer_id: int,
    finished_at: datetime,
    *,
    order_id: int | None = None,
    reservation_id: int | None = None,
) -> None:
    customer = await turn.uow.customers.get(customer_id)
    if customer is None or not customer.surveys_enabled or store.id is None:
        return
    due = survey_due_at(finished_at, store.settings, store.timezone)
    await turn.uow.surveys.schedule(
        customer_id=customer_id,
        store_id=store.id,
        due_at=due,
        expires_at=due + SURVEY_LIFETIME,
        order_id=order_id,
        reservation_id=reservation_id,
    )


async def survey_subject(
    uow: UnitOfWork, translator: Translator, locale: str, survey: SurveyView
) -> str:
    """What the survey asks about: "order #0003" or "your visit"."""
    if survey.order_id is not None:
        order = await uow.orders.get(survey.order_id)
        number = order.number if order else "?"
        return translator.t(locale, "survey.subject_order", number=number)
    return translator.t(locale, "survey.subject_visit")


def question(turn: Turn, customer: Customer, survey: SurveyView, store: Store, subject: str) -> str:
    """The survey's text in the customer's language."""
    return turn.translator.t(
        customer.language, "survey.question", subject=subject, store=store.name
    )


def score_keyboard(
    turn: Turn, customer: Customer, survey: SurveyView, *, chosen: int | None = None
) -> InlineKeyboard:
    """1-5 star buttons (the chosen one marked), then Skip once scored, or opting out."""
    t = turn.translator
    row = [
        turn.button(f"✅ {n} ★" if n == chosen else f"{n} ★", "sv", survey.id, n) for n in SCORES
    ]
    if chosen is None:
        last = turn.button(t.t(customer.language, "survey.turn_off"), "svo", survey.id)
    else:
        last = turn.button(t.t(customer.language, "survey.skip"), "svs", survey.id)
    return InlineKeyboard([row, [last]])


def survey_message(
    turn: Turn, customer: Customer, survey: SurveyView, store: Store, subject: str
) -> OutboundCall:
    """The survey as first sent to the customer."""
    return send_message(
        customer.telegram_id,
        question(turn, customer, survey, store, subject),
        score_keyboard(turn, customer, survey),
        ref=survey_ref(survey.id),
    )


async def _own_survey(turn: Turn, data: CallbackData) -> tuple[SurveyView, Customer, Store]:
    customer = turn.require_customer()
    survey = await turn.uow.surveys.get(int_arg(data, 0))
    if survey is None or survey.customer_id != customer.id:
        raise StaleButton(data.action)
    store = await turn.uow.stores.get(survey.store_id)
    if store is None:
        raise StaleButton(data.action)
    return survey, customer, store


async def score(turn: Turn, data: CallbackData) -> None:
    """A star pressed: record (or change) the score and ask for an optional comment."""
    survey, customer, store = await _own_survey(turn, data)
    try:
        value = check_score(int_arg(data, 1))
    except ValidationError:
        raise StaleButton(data.action) from None
    if survey.status == EXPIRED:
        turn.toast(turn.t("survey.expired"), alert=True)
        return
    if survey.status not in (SENT, ANSWERED) or not await turn.uow.surveys.score(
        survey.id, value, turn.now
    ):
        turn.toast(turn.t("survey.already"))
        return
    subject = await survey_subject(turn.uow, turn.translator, customer.language, survey)
    text = question(turn, customer, survey, store, subject)
    text += "\n\n" + turn.t("survey.scored", stars=stars(value))
    state = await turn.state()
    if state is None or state.state == COMMENT_STATE:
        await turn.set_state(COMMENT_STATE, {"survey_id": survey.id})
        text += "\n" + turn.t("survey.ask_comment")
    turn.toast(turn.t("survey.thanks_short"))
    _edit(turn, customer, survey, text, score_keyboard(turn, customer, survey, chosen=value))


async def comment(turn: Turn) -> None:
    """Text typed after scoring: the comment (the survey is then closed)."""
    state = await turn.state()
    survey_id = int((state.data if state else {}).get("survey_id", 0))
    survey = await turn.uow.surveys.get(survey_id)
    customer = turn.require_customer()
    if survey is None or survey.customer_id != customer.id or survey.comment is not None:
        await turn.clear_state()
        turn.say(turn.t("error.not_expected"))
        return
    if turn.inbound.kind is not InboundKind.TEXT:
        turn.say(turn.t("survey.comment_text_only"))
        return
    try:
        cleaned = clean_comment(turn.inbound.text or "")
    except ValidationError:
        turn.say(turn.t("survey.comment_too_long", limit=MAX_COMMENT_LENGTH))
        return
    await _close(turn, customer, survey, cleaned)


async def skip(turn: Turn, data: CallbackData) -> None:
    """Skip the comment: the survey is closed with the score alone."""
    survey, customer, _store = await _own_survey(turn, data)
    if survey.status != ANSWERED or survey.comment is not None:
        turn.toast(turn.t("survey.already"))
        return
    await _close(turn, customer, survey, "")


async def _close(turn: Turn, customer: Customer, survey: SurveyView, text: str) -> None:
    if not await turn.uow.surveys.close(survey.id, text):
        turn.toast(turn.t("survey.already"))
        return
    state = await turn.state()
    if state is not None and state.state == COMMENT_STATE:
        await turn.clear_state()
    closed = await turn.uow.surveys.get(survey.id)
    assert closed is not None
    stars_text = turn.t("survey.scored", stars=stars(closed.score or 0))
    _edit(turn, customer, closed, turn.t("survey.closed", stars=stars_text), None)
    turn.toast(turn.t("survey.thanks_short"))
    if not turn.is_press:
        turn.say(turn.t("survey.thanks"))
    await alert_if_low(turn, closed)


def _edit(
    turn: Turn,
    customer: Customer,
    survey: SurveyView,
    text: str,
    keyboard: InlineKeyboard | None,
) -> None:
    turn.replies.append(
        edit_message_text(
            customer.telegram_id, survey_ref(survey.id), text, keyboard or InlineKeyboard([])
        )
    )


async def alert_if_low(turn: Turn, survey: SurveyView) -> None:
    """A score of LOW_SCORE or less: tell the store's group and the bot's admins."""
    if survey.score is None or survey.score > LOW_SCORE:
        return
    store = await turn.uow.stores.get(survey.store_id)
    customer = await turn.uow.customers.get(survey.customer_id)
    if store is None or customer is None:
        return
    locale = turn.config.default_locale  # the store's working language, as on its cards

    def t(key: str, /, **params: object) -> str:
        return turn.translator.t(locale, key, **params)

    subject = await survey_subject(turn.uow, turn.translator, locale, survey)
    text = t(
        "survey.low_alert",
        stars=stars(survey.score),
        score=survey.score,
        subject=subject,
        name=customer.first_name,
        store=store.name,
    )
    if survey.comment:
        text += "\n" + t("survey.low_alert_comment", comment=survey.comment)
    people = set(turn.config.admin_ids)
    if store.manager_telegram_id is not None:
        people.add(store.manager_telegram_id)
    chats = ([store.staff_chat_id] if store.staff_chat_id is not None else []) + sorted(people)
    turn.replies += [send_message(chat, text) for chat in chats]


async def turn_off(turn: Turn, data: CallbackData) -> None:
    """ "No more surveys": remember it, drop the scheduled ones, close this one."""
    survey, customer, _store = await _own_survey(turn, data)
    await _set_enabled(turn, customer, enabled=False)
    text = turn.t("survey.turned_off")
    if survey.status == SENT:
        _edit(turn, customer, survey, text, None)
    turn.toast(turn.t("survey.thanks_short"))


async def surveys_command(turn: Turn) -> None:
    """/surveys [on|off]: whether we may ask how an order was."""
    customer = turn.require_customer()
    argument = turn.inbound.args.strip().lower()
    if argument in ("on", "off"):
        await _set_enabled(turn, customer, enabled=argument == "on")
    elif argument:
        turn.say(turn.t("survey.usage"))
        return
    turn.say(turn.t("survey.state_on" if customer.surveys_enabled else "survey.state_off"))


async def _set_enabled(turn: Turn, customer: Customer, *, enabled: bool) -> None:
    if customer.surveys_enabled != enabled:
        customer.surveys_enabled = enabled
        await turn.uow.customers.save(customer, turn.now)
    if not enabled and customer.id is not None:
        await turn.uow.surveys.cancel_all_scheduled(customer.id)
