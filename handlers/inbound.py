"""The core's own small inbound model, parsed defensively from raw Bot API update JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

MAX_TEXT_LENGTH = 4096
MAX_LATITUDE = 90.0
MAX_LONGITUDE = 180.0
# What Telegram sends fits these (its ids have at most 52 significant bits, names 64 characters,
# usernames 32). Bigger values did not come from Telegram and may not fit the database's columns:
# an id beyond BIGINT makes the update malformed; longer names are cut.
MAX_ID = 2**63 - 1
MAX_NAME_LENGTH = 64
MAX_USERNAME_LENGTH = 32
MAX_LANGUAGE_CODE_LENGTH = 35
MAX_PAYLOAD_LENGTH = 128  # an invoice payload, 1-128 bytes
MAX_AMOUNT = 2**31 - 1  # amounts are stored as 32-bit integers
MAX_CHARGE_ID_LENGTH = 200  # not documented by Telegram; what the payments table holds


class InboundKind(StrEnum):
    """What an update asks of the bot."""

    TEXT = "text"
    COMMAND = "command"
    CALLBACK = "callback"
    CONTACT = "contact"
    LOCATION = "location"
    PRE_CHECKOUT = "pre_checkout"
    PAYMENT = "payment"
    MEMBERSHIP = "membership"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True, slots=True)
class User:
    """The person behind an update."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False


@dataclass(frozen=True, slots=True)
class Chat:
    """Where an update happened."""

    id: int
    type: str
    title: str | None = None

    @property
    def is_private(self) -> bool:
        """True for a one-to-one chat with the bot."""
        return self.type == "private"


@dataclass(frozen=True, slots=True)
class Inbound:
    """One update reduced to what the conversation core needs."""

    update_id: int
    kind: InboundKind
    user: User | None = None
    chat: Chat | None = None
    text: str | None = None
    command: str | None = None
    args: str = ""
    message_id: int | None = None
    callback_id: str | None = None
    callback_data: str | None = None
    phone_number: str | None = None
    contact_user_id: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    payload: str | None = None
    total_amount: int | None = None
    currency: str | None = None
    charge_id: str | None = None
    provider_charge_id: str | None = None
    new_status: str | None = None
    # For the bot's own membership: rights it needs that the group withheld ("can_send_photos").
    missing_rights: tuple[str, ...] = ()
    # The author of the message this one replies to (e.g. `/staff add` sent as a reply).
    reply_to_user_id: int | None = None
    reply_to_first_name: str | None = None
    reply_to_is_bot: bool = False


def parse_update(raw: Mapping[str, Any], bot_username: str | None = None) -> Inbound:
    """Parse a raw update; anything malformed becomes UNSUPPORTED rather than an exception."""
    update_id = raw.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool) or abs(update_id) > MAX_ID:
        raise ValueError("update without a 64-bit integer update_id")
    try:
        return _parse(update_id, raw, bot_username)
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError):
        return Inbound(update_id=update_id, kind=InboundKind.UNSUPPORTED)


def _parse(update_id: int, raw: Mapping[str, Any], bot_username: str | None) -> Inbound:
    if isinstance(message := raw.get("message"), Mapping):
        return _parse_message(update_id, message, bot_username)
    if isinstance(query := raw.get("callback_query"), Mapping):
        source = query.get("message") if isinstance(query.get("message"), Mapping) else {}
        chat = _chat(source.get("chat")) if source else None
        return Inbound(
            update_id=update_id,
            kind=InboundKind.CALLBACK,
            user=_user(query["from"]),
            chat=chat,
            message_id=_int_or_none(source.get("message_id")) if source else None,
            callback_id=str(query["id"]),
            callback_data=str(query.get("data") or ""),
        )
    if isinstance(query := raw.get("pre_checkout_query"), Mapping):
        user = _user(query["from"])
        return Inbound(
            update_id=update_id,
            kind=InboundKind.PRE_CHECKOUT,
            user=user,
            chat=Chat(id=user.id, type="private"),
            callback_id=str(query["id"]),
            payload=_payload(query),
            total_amount=_amount(query),
            currency=_currency(query),
        )
    if isinstance(member := raw.get("my_chat_member"), Mapping):
        new = member.get("new_chat_member") or {}
        return Inbound(
            update_id=update_id,
            kind=InboundKind.MEMBERSHIP,
            user=_user(member["from"]),
            chat=_chat(member["chat"]),
            new_status=str(new.get("status", "")),
            missing_rights=tuple(right for right in NEEDED_RIGHTS if new.get(right) is False),
        )
    return Inbound(update_id=update_id, kind=InboundKind.UNSUPPORTED)


# What the bot does in a staff group: post cards and notices, /stats charts, /export files.
NEEDED_RIGHTS = ("can_send_messages", "can_send_photos", "can_send_documents")


def _parse_message(update_id: int, message: Mapping[str, Any], bot_username: str | None) -> Inbound:
    sender = message.get("from")
    user = _user(sender) if isinstance(sender, Mapping) else None
    chat = _chat(message["chat"])
    base: dict[str, Any] = {
        "update_id": update_id,
        "user": user,
        "chat": chat,
        "message_id": _int_or_none(message.get("message_id")),
    }
    if (replied_user := _replied_user(message)) is not None:
        base["reply_to_user_id"] = replied_user.id
        base["reply_to_first_name"] = replied_user.first_name
        base["reply_to_is_bot"] = replied_user.is_bot
    if isinstance(payment := message.get("successful_payment"), Mapping):
        return Inbound(
            kind=InboundKind.PAYMENT,
            payload=_payload(payment),
            total_amount=_amount(payment),
            currency=_currency(payment),
            charge_id=_charge_id(payment["telegram_payment_charge_id"]),
            provider_charge_id=_charge_id(payment.get("provider_payment_charge_id")),
            **base,
        )
    if isinstance(contact := message.get("contact"), Mapping):
        return Inbound(
            kind=InboundKind.CONTACT,
            phone_number=str(contact["phone_number"]),
            contact_user_id=_int_or_none(contact.get("user_id")),
            **base,
        )
    if isinstance(location := message.get("location"), Mapping):
        latitude, longitude = float(location["latitude"]), float(location["longitude"])
        if not (abs(latitude) <= MAX_LATITUDE and abs(longitude) <= MAX_LONGITUDE):
            # Not a place on Earth (out of range, or NaN): a message the bot cannot read.
            return Inbound(kind=InboundKind.UNSUPPORTED, **base)
        return Inbound(kind=InboundKind.LOCATION, latitude=latitude, longitude=longitude, **base)
    text = message.get("text")
    if not isinstance(text, str):
        return Inbound(kind=InboundKind.UNSUPPORTED, **base)
    text = _without_nul(text)
    command, args = _split_command(text, bot_username)
    if command is not None:
        return Inbound(kind=InboundKind.COMMAND, text=text, command=command, args=args, **base)
    return Inbound(kind=InboundKind.TEXT, text=text, **base)


def _split_command(text: str, bot_username: str | None) -> tuple[str | None, str]:
    """Split '/cmd@bot args' into ('cmd', 'args'); commands addressed to another bot are text."""
    if not text.startswith("/") or len(text) < 2:
        return None, ""
    head, _, rest = text.partition(" ")
    name, _, addressee = head[1:].partition("@")
    if addressee and bot_username and addressee.lower() != bot_username.lower():
        return None, ""
    if not name or not all(ch.isalnum() or ch == "_" for ch in name):
        return None, ""
    return name.lower(), rest.strip()


def _user(raw: Any) -> User:
    return User(
        id=_id(raw["id"]),
        first_name=_without_nul(str(raw.get("first_name") or ""))[:MAX_NAME_LENGTH],
        last_name=_text_or_none(raw.get("last_name"), MAX_NAME_LENGTH),
        username=_text_or_none(raw.get("username"), MAX_USERNAME_LENGTH),
        language_code=_text_or_none(raw.get("language_code"), MAX_LANGUAGE_CODE_LENGTH),
        is_bot=bool(raw.get("is_bot", False)),
    )


def _id(value: Any) -> int:
    """A user or chat id; ValueError for one no database column (or Telegram) could hold."""
    number = int(value)
    if abs(number) > MAX_ID:
        raise ValueError(f"id out of range: {number}")
    return number


def _text_or_none(value: Any, limit: int) -> str | None:
    return _without_nul(value)[:limit] if isinstance(value, str) else None


def _without_nul(text: str) -> str:
    """Text without NUL characters, which PostgreSQL cannot store (the update would fail)."""
    return text.replace("\x00", "")


def _payload(query: Mapping[str, Any]) -> str:
    payload = str(query.get("invoice_payload", ""))
    if len(payload.encode()) > MAX_PAYLOAD_LENGTH:
        raise ValueError("invoice payload over 128 bytes")
    return payload


def _amount(query: Mapping[str, Any]) -> int:
    amount = query["total_amount"]
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 <= amount <= MAX_AMOUNT:
        raise ValueError(f"total_amount out of range: {amount!r}")
    return amount


def _currency(query: Mapping[str, Any]) -> str:
    currency = query["currency"]
    if not isinstance(currency, str) or len(currency) != 3:
        raise ValueError(f"not a currency code: {currency!r}")
    return currency


def _charge_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_CHARGE_ID_LENGTH:
        raise ValueError("not a charge id")
    return value


def _replied_user(message: Mapping[str, Any]) -> User | None:
    """The author of the replied-to message; a malformed one is ignored, not fatal."""
    replied = message.get("reply_to_message")
    author = replied.get("from") if isinstance(replied, Mapping) else None
    if not isinstance(author, Mapping):
        return None
    try:
        return _user(author)
    except (TypeError, ValueError, KeyError, OverflowError):
        return None


def _chat(raw: Any) -> Chat:
    return Chat(id=_id(raw["id"]), type=str(raw.get("type", "private")), title=raw.get("title"))


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
