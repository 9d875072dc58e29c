"""What the fuzz test (test_fuzz.py) sends: people, their chats, actions, and hypothesis strategies.

Actions are plain frozen dataclasses so a falsifying example reads as a script. Some are resolved
against the bot's state when they run: a Press takes a button from the bot's own replies in that
chat (or a stale one, or one from another chat), Redeliver re-sends an earlier update, "{code}"
in a text becomes the latest pickup code. Everything that is not Mutated or Raw is shaped like
an update Telegram really sends; Mutated and Raw are the malformed ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

BOT_USERNAME = "o2o_fuzz_bot"
GROUP = -100_777  # Central's staff group
OTHER_GROUP = -100_888  # a group bound to no store


@dataclass(frozen=True)
class Person:
    """Someone writing to the bot."""

    tag: str
    user_id: int
    first_name: str
    language_code: str | None = "en"


ANN = Person("ANN", 7001, "Ann")  # customer
BO = Person("BO", 7002, "<b>Bo</b> & co", "zh-hans")  # customer whose name needs escaping
MIA = Person("MIA", 7101, "Mia")  # Central's manager
SAM = Person("SAM", 7201, "Sam")  # registered staff of Central
GUS = Person("GUS", 7301, "Gus")  # administrator of the staff group, not registered as staff
XAN = Person("XAN", 7401, "Xan", None)  # a stranger: in the staff group, and in private
ADA = Person("ADA", 7501, "Ada")  # one of the bot's admins


@dataclass(frozen=True)
class Seat:
    """A person in a chat."""

    person: Person
    chat_id: int

    @property
    def private(self) -> bool:
        """True for the person's one-to-one chat with the bot."""
        return self.chat_id > 0

    def __repr__(self) -> str:
        where = "private" if self.private else ("group" if self.chat_id == GROUP else "other")
        return f"{self.person.tag}@{where}"


def private(person: Person) -> Seat:
    """The person's private chat with the bot."""
    return Seat(person, person.user_id)


CUSTOMER_SEATS = (private(ANN), private(BO), private(XAN))
MANAGER_SEATS = (private(MIA), private(ADA))
GROUP_SEATS = (
    Seat(SAM, GROUP),
    Seat(GUS, GROUP),
    Seat(MIA, GROUP),
    Seat(XAN, GROUP),
    Seat(ADA, GROUP),
    Seat(SAM, OTHER_GROUP),
)
PRIVATE_SEATS = CUSTOMER_SEATS + MANAGER_SEATS
# Those who may run the store speak in the group more often than the others.
STAFF_HEAVY_GROUP_SEATS = (*GROUP_SEATS, Seat(SAM, GROUP), Seat(GUS, GROUP), Seat(ADA, GROUP))


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class Text:
    """A text message (commands included); `reply_to` makes it a reply to that person."""

    seat: Seat
    text: str
    reply_to: int | None = None


@dataclass(frozen=True)
class Press:
    """A press on a button the bot sent.

    want: the button's action name to prefer ("co", "sa", ...); pick chooses among candidates.
    source: "latest" (the chat's newest keyboard), "stale" (any of its last keyboards) or
    "elsewhere" (a keyboard sent into another chat, pressed here).
    """

    seat: Seat
    pick: int = 0
    want: str | None = None
    source: str = "latest"


@dataclass(frozen=True)
class GarbagePress:
    """A press carrying callback data the bot never made (unsigned, mangled, oversized)."""

    seat: Seat
    data: str


@dataclass(frozen=True)
class TamperedPress:
    """A press on one of the bot's buttons whose data was altered by one character."""

    seat: Seat
    pick: int
    position: int


@dataclass(frozen=True)
class SignedPress:
    """A correctly signed press with arguments from another state (others' ids, old times)."""

    seat: Seat
    action: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class Contact:
    """A shared contact: the sender's own, or somebody else's."""

    seat: Seat
    phone: str
    own: bool = True


@dataclass(frozen=True)
class Location:
    """A shared location (possibly out of range)."""

    seat: Seat
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Media:
    """A photo, sticker, document... where the bot expects text or a press."""

    seat: Seat
    kind: str


@dataclass(frozen=True)
class Redeliver:
    """Telegram delivers an earlier update again."""

    pick: int


@dataclass(frozen=True)
class Tick:
    """Time passes and the due-work loop runs once (SLA, surveys, reminders)."""

    minutes: int


@dataclass(frozen=True)
class Mutation:
    """One change to an update's JSON: at the pick-th path, delete it or put `value` there."""

    pick: int
    op: str  # "delete" | "replace" | "rename"
    value: Any = None


@dataclass(frozen=True)
class Mutated:
    """A well-formed action's update, damaged by mutations (malformed)."""

    base: Any
    mutations: tuple[Mutation, ...]


@dataclass(frozen=True)
class Raw:
    """An update assembled from scratch: unknown types, wrong types, missing ids (malformed)."""

    update: Any


Action = (
    Text
    | Press
    | GarbagePress
    | TamperedPress
    | SignedPress
    | Contact
    | Location
    | Media
    | Redeliver
    | Tick
    | Mutated
    | Raw
)
MALFORMED = (Mutated, Raw)


# --------------------------------------------------------------------------- update JSON


def user_json(person: Person) -> dict[str, Any]:
    """A Telegram User object."""
    data: dict[str, Any] = {"id": person.user_id, "is_bot": False, "first_name": person.first_name}
    if person.language_code is not None:
        data["language_code"] = person.language_code
    return data


def chat_json(seat: Seat) -> dict[str, Any]:
    """A Telegram Chat object."""
    if seat.private:
        return {"id": seat.chat_id, "type": "private", "first_name": seat.person.first_name}
    title = "Central staff" if seat.chat_id == GROUP else "Chatter"
    return {"id": seat.chat_id, "type": "supergroup", "title": title}


def message_update(
    update_id: int, message_id: int, seat: Seat, content: dict[str, Any]
) -> dict[str, Any]:
    """A message update with the given content fields (text, contact, photo, ...)."""
    message = {
        "message_id": message_id,
        "date": 1_777_777_777,
        "chat": chat_json(seat),
        "from": user_json(seat.person),
        **content,
    }
    return {"update_id": update_id, "message": message}


def text_content(text: str, reply_to: Person | None = None) -> dict[str, Any]:
    """A text message's fields; a leading /command gets its bot_command entity like Telegram's."""
    content: dict[str, Any] = {"text": text}
    if text.startswith("/"):
        length = len(text.split(" ")[0])
        content["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    if reply_to is not None:
        content["reply_to_message"] = {
            "message_id": 1,
            "date": 1_777_777_000,
            "chat": {"id": GROUP, "type": "supergroup", "title": "Central staff"},
            "from": user_json(reply_to),
            "text": "hi",
        }
    return content


def callback_update(
    update_id: int, callback_id: str, seat: Seat, data: str, message_id: int
) -> dict[str, Any]:
    """A callback_query update: a press on the bot's message `message_id` in the seat's chat."""
    return {
        "update_id": update_id,
        "callback_query": {
            "id": callback_id,
            "from": user_json(seat.person),
            "chat_instance": f"ci{seat.chat_id}",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": 1_777_777_777,
                "chat": chat_json(seat),
                "from": {"id": 1, "is_bot": True, "first_name": "o2o", "username": BOT_USERNAME},
                "text": "…",
            },
        },
    }


MEDIA_CONTENT: dict[str, dict[str, Any]] = {
    "photo": {"photo": [{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}]},
    "sticker": {"sticker": {"file_id": "s1", "file_unique_id": "u2", "type": "regular"}},
    "document": {"document": {"file_id": "d1", "file_unique_id": "u3", "file_name": "x.pdf"}},
    "voice": {"voice": {"file_id": "v1", "file_unique_id": "u4", "duration": 2}},
    "caption": {"photo": [{"file_id": "p2", "file_unique_id": "u5"}], "caption": "/cart 3"},
    "dice": {"dice": {"emoji": "🎲", "value": 4}},
    "poll": {"poll": {"id": "1", "question": "?", "options": []}},
    "venue": {
        "venue": {
            "location": {"latitude": 31.23, "longitude": 121.47},
            "title": "Here",
            "address": "1 Market Street",
        }
    },
    "new_members": {"new_chat_members": [{"id": 9, "is_bot": False, "first_name": "Neo"}]},
}


# --------------------------------------------------------------------------- strategies


PRIVATE_COMMANDS = [
    "/start",
    "/help",
    "/menu",
    "/cart",
    "/orders",
    "/book",
    "/stores",
    "/search",
    "/search croissant",
    "/search cake",
    "/search 可颂",
    "/language",
    "/surveys",
    "/surveys off",
    "/surveys on",
    "/surveys maybe",
    "/unsubscribe",
    "/subscribe",
    "/privacy",
    "/forget",
    "/stats",
    "/stats 30d",
    "/stats today central",
    "/stats 9999d nowhere",
    "/export",
    "/rfm",
    "/rfm central riverside",
    "/push",
    "/push central",
    "/frobnicate",
    "/START",
    "/start@" + BOT_USERNAME,
    "/help@other_bot",
    "/cart@" + BOT_USERNAME + " extra words",
    "/",
    "//",
    "/ö",
]
GROUP_COMMANDS = [
    "/help",
    "/help@" + BOT_USERNAME,
    "/help@other_bot",
    "/start",
    "/stats",
    "/stats 7d",
    "/stats 2026-01-01..2026-02-01",
    "/stats 30d riverside",
    "/export",
    "/rfm",
    "/push",
    "/stock",
    "/stock croissant 0",
    "/stock croissant 40",
    "/stock cheesecake 1",
    "/stock tiramisu -",
    "/stock croissant ²",
    "/stock croissant 100001",
    "/stock nothing 3",
    "/stock a b c",
    "/pause",
    "/pause 5",
    "/pause 0",
    "/pause 99999",
    "/pause ٣",
    "/resume",
    "/busy +10",
    "/busy 0",
    "/busy 999",
    "/busy",
    "/pickup",
    "/pickup {code}",
    "/pickup zzzz",
    "/pickup ²²²²",
    "/pickup " + "A" * 40,
    "/staff",
    "/staff list",
    "/staff add",
    "/staff add 7401 Xan",
    "/staff add ² Two",
    "/staff add 99999999999999999999 Big",
    "/staff remove 7201",
    "/staff remove 7401",
    "/bind",
    "/bind central",
    "/bind riverside",
    "/bind nowhere",
    "/unbind",
    "/frobnicate",
]
DEEP_LINKS = [
    "scentral",
    "scentralt12",
    "scentralt99",
    "scentralt",
    "sriverside",
    "sriversidet3",
    "snowhere",
    "s",
    "p1",
    "p0",
    "p999999999999",
    "p-1",
    "s" + "t" * 70,
    "scentral t12",
    "<script>",
]
QUANTITIES = ["0", "1", "3", "7", "21", "999999", "1000000000", "-2", "²", "٣", "1e3", " 4 "]
PHONES = ["+8613800138000", "13800138000", "+1 (555) 010-9999", "12", "phone?", "+" + "9" * 40]
WORDS = [
    "hello",
    "croissant",
    "12",
    "1 Market Street, flat 2",
    "no onions please",
    "yes",
    "<b>bold</b> & <i>",
    "&lt;",
    "👍",
    " ",
    "",
    "\u200b",
    "\x00null",
]
OVERSIZED = [
    "x" * 5000,
    "/" + "x" * 5000,
    "/search " + "a" * 5000,
    "<" * 4100,
    "&" * 4100,
    "😀" * 3000,
    "/start " + "s" * 5000,
]


def _unicode(max_size: int) -> st.SearchStrategy[str]:
    return st.text(st.characters(codec="utf-8"), max_size=max_size)


NUMBER_CHARACTERS = "0123456789²³¹٣３①½⁴-+. "


def numbers() -> st.SearchStrategy[str]:
    """Numbers as people type them, and digits int() refuses ("²") or takes ("３", "٣")."""
    return st.one_of(
        st.sampled_from(QUANTITIES), st.text(st.sampled_from(NUMBER_CHARACTERS), max_size=4)
    )


def _words(*choices: str) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(choices), _unicode(6))


def commands_with_arguments() -> st.SearchStrategy[str]:
    """Commands with arguments made from what each one parses (codes, verbs, numbers...)."""
    codes = _words("central", "riverside", "croissant", "tiramisu", "CROISSANT", "nothing", "")
    periods = st.one_of(
        _words("today", "7d", "30d", "0d", "99999d", "2026-01-01..2026-02-01", "2026-13-01..x"),
        numbers().map(lambda n: n + "d"),
    )
    grammar = {
        "stock": st.tuples(codes, numbers()),
        "staff": st.tuples(_words("add", "remove", "list", "ADD"), numbers(), _words("Xan", "")),
        "pause": st.tuples(numbers()),
        "busy": st.tuples(st.one_of(numbers(), numbers().map(lambda n: "+" + n))),
        "pickup": st.tuples(st.one_of(_words("{code}", "ZZZZ", "2345", "A" * 9), numbers())),
        "stats": st.tuples(periods, codes),
        "export": st.tuples(periods),
        "rfm": st.tuples(codes),
        "push": st.tuples(codes),
        "bind": st.tuples(codes),
        "surveys": st.tuples(_words("on", "off", "ON", "")),
        "search": st.tuples(st.one_of(codes, numbers())),
        "start": st.tuples(st.one_of(st.sampled_from(DEEP_LINKS), numbers())),
    }
    return st.one_of(
        *(
            arguments.map(lambda words, name=name: " ".join([f"/{name}", *words]))
            for name, arguments in grammar.items()
        )
    )


def private_texts() -> st.SearchStrategy[str]:
    """What customers and managers type in private."""
    return st.one_of(
        st.sampled_from(PRIVATE_COMMANDS),
        commands_with_arguments(),
        st.sampled_from(DEEP_LINKS).map(lambda payload: f"/start {payload}"),
        numbers(),
        numbers(),
        st.sampled_from(PHONES),
        st.sampled_from(WORDS),
        _unicode(40),
        _unicode(40).map(lambda text: "/start " + text),
        st.sampled_from(OVERSIZED),
    )


def group_texts() -> st.SearchStrategy[str]:
    """What people type in the staff group."""
    return st.one_of(
        st.sampled_from(GROUP_COMMANDS),
        commands_with_arguments(),
        commands_with_arguments(),
        st.sampled_from(WORDS),
        _unicode(30),
        st.sampled_from(OVERSIZED[:3]),
    )


def texts() -> st.SearchStrategy[Text]:
    """Text messages, in private and in groups."""
    in_private = st.builds(Text, st.sampled_from(PRIVATE_SEATS), private_texts())
    in_group = st.builds(
        Text,
        st.sampled_from(STAFF_HEAVY_GROUP_SEATS),
        group_texts(),
        st.one_of(st.none(), st.sampled_from([XAN.user_id, SAM.user_id, 1])),
    )
    return st.one_of(in_private, in_group, in_group)


ALL_SEATS = PRIVATE_SEATS + GROUP_SEATS
CALLBACK_ACTIONS = [
    "home",
    "lang",
    "menu",
    "cat",
    "prod",
    "qty",
    "cart",
    "cq",
    "clear",
    "co",
    "ful",
    "slot",
    "skip",
    "place",
    "pay",
    "co_x",
    "orders",
    "order",
    "ocancel",
    "again",
    "store",
    "store_sw",
    "sa",
    "sr",
    "srr",
    "sy",
    "sc",
    "sx",
    "sk",
    "sv",
    "svs",
    "svo",
    "fy",
    "fn",
    "st",
    "pu",
    "mk",
    "un",
    "sto",
    "stp",
    "bk_k",
    "bk_p",
    "bk_d",
    "bk_t",
    "bk_ok",
    "bk_x",
    "res",
    "res_x",
    "bc",
    "bd",
    "bs",
    "bn",
    "bf",
    "nope",
]
# What the bot itself signs into buttons, in some state or other: ids, counts, pages, -1/0/1,
# times as epoch minutes (2026-05-04 09:30 UTC is 29,631,450) and words. Only such values can
# arrive signed: the key is secret, so a press carrying anything else fails its signature.
_EPOCH_MINUTES_NOW = 29_631_450
_ARG = st.one_of(
    st.integers(min_value=-3, max_value=40).map(str),
    st.integers(_EPOCH_MINUTES_NOW - 60 * 24, _EPOCH_MINUTES_NOW + 60 * 24 * 30).map(str),
    st.sampled_from(["", "-", "*", "go", "stop", "no", "t", "en", "zh-CN", "xx", "sold_out"]),
    st.sampled_from(["20260504", "20261304", "7d", "today", "central", "x" * 10]),
)


def presses() -> st.SearchStrategy[Any]:
    """Presses on the bot's buttons: fresh, stale, foreign, tampered, forged, garbage."""
    return st.one_of(
        st.builds(
            Press,
            st.sampled_from(ALL_SEATS),
            st.integers(0, 40),
            st.none(),
            st.sampled_from(["latest", "latest", "latest", "stale", "elsewhere"]),
        ),
        st.builds(
            GarbagePress,
            st.sampled_from(ALL_SEATS),
            st.one_of(
                st.sampled_from(["", "1|lang|zh-CN", "1|lang|zh-CN|AAAAAAAAAAA", "2|home|x", "|"]),
                _unicode(70),
            ),
        ),
        st.builds(
            TamperedPress, st.sampled_from(ALL_SEATS), st.integers(0, 40), st.integers(0, 63)
        ),
        st.builds(
            SignedPress,
            st.sampled_from(ALL_SEATS),
            st.sampled_from(CALLBACK_ACTIONS),
            st.lists(_ARG, max_size=4).map(tuple),
        ),
    )


LOCATIONS = [
    (31.2304, 121.4737),  # at Central
    (31.2400, 121.4800),  # about a kilometre away
    (31.3500, 121.6000),  # beyond the delivery radius
    (48.8566, 2.3522),  # Paris
    (90.0, 180.0),
    (-90.0, -180.0),
    (91.0, 0.0),  # out of range
    (0.0, 181.0),
    (1e9, -1e9),
]


def others() -> st.SearchStrategy[Any]:
    """Contacts, locations, media and the passing of time."""
    return st.one_of(
        st.builds(
            Contact,
            st.sampled_from(ALL_SEATS),
            st.one_of(st.sampled_from(PHONES), _unicode(20)),
            st.booleans(),
        ),
        st.builds(
            lambda seat, point: Location(seat, *point),
            st.sampled_from(ALL_SEATS),
            st.one_of(
                st.sampled_from(LOCATIONS),
                st.tuples(
                    st.floats(-200, 200, allow_nan=False), st.floats(-400, 400, allow_nan=False)
                ),
            ),
        ),
        st.builds(Media, st.sampled_from(ALL_SEATS), st.sampled_from(sorted(MEDIA_CONTENT))),
        st.builds(Redeliver, st.integers(0, 200)),
        st.builds(Tick, st.sampled_from([1, 6, 16, 45, 180, 60 * 24])),
    )


# Values that break a field's type: what a buggy proxy or a hostile client could put there.
_JUNK = st.one_of(
    st.sampled_from([None, "", "x", "0", 0, -1, 1.5, True, False, [], {}, [1], {"id": 1}]),
    st.sampled_from([2**31, 2**53, 2**63, 2**64, -(2**63) - 1, 10**30, float("inf")]),
    st.sampled_from(["NaN", "1e999", "\x00", "😀" * 300, "a" * 5000]),
    _unicode(10),
    st.integers(),
)
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), _unicode(8)),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.sampled_from(["id", "text", "from", "chat", "data", "message", "type", "x"]),
            children,
            max_size=4,
        ),
    ),
    max_leaves=8,
)
UPDATE_KINDS = [
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_message",
    "message_reaction",
    "callback_query",
    "inline_query",
    "chosen_inline_result",
    "shipping_query",
    "pre_checkout_query",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "something_new",
]
RENAMES = ["edited_message", "channel_post", "business_message", "zzz", "update_id", "from"]


def _forged_payment(
    kind: str, payload: str, amount: Any, charge: str, user: Person
) -> dict[str, Any]:
    """A payment update no invoice asked for (payments are off): Telegram never sends these."""
    if kind == "pre_checkout_query":
        query = {
            "id": "pcq1",
            "from": user_json(user),
            "currency": "CNY",
            "total_amount": amount,
            "invoice_payload": payload,
        }
        return {"update_id": 17, "pre_checkout_query": query}
    payment = {
        "currency": "CNY",
        "total_amount": amount,
        "invoice_payload": payload,
        "telegram_payment_charge_id": charge,
        "provider_payment_charge_id": charge,
    }
    return message_update(18, 5, private(user), {"successful_payment": payment})


def _raw_updates() -> st.SearchStrategy[Raw]:
    update_ids = st.one_of(
        st.integers(1, 10**6),
        st.sampled_from([0, -5, 2**63 - 1, 2**63, 2**80, "17", 17.0, True, None, [], {}]),
    )
    body = st.fixed_dictionaries({"update_id": update_ids}, optional={"x": JSON})
    junk = st.builds(
        lambda base, kind, value, drop_id: Raw(
            {k: v for k, v in base.items() if k != "update_id" or not drop_id}
            | ({kind: value} if kind else {})
        ),
        body,
        st.one_of(st.none(), st.sampled_from(UPDATE_KINDS)),
        JSON,
        st.booleans(),
    )
    payments = st.builds(
        _forged_payment,
        st.sampled_from(["pre_checkout_query", "successful_payment"]),
        st.sampled_from(["o2o|1|3", "o2o|x", "", "p" * 300]),
        st.sampled_from([4500, 0, -1, 10**12, "45"]),
        st.sampled_from(["tg-1", "tg-1", "c" * 300]),
        st.sampled_from([ANN, BO]),
    ).map(Raw)
    return st.one_of(junk, junk, payments)


def _mutations() -> st.SearchStrategy[Mutation]:
    return st.one_of(
        st.builds(Mutation, st.integers(0, 60), st.just("delete")),
        st.builds(Mutation, st.integers(0, 60), st.just("replace"), _JUNK),
        st.builds(Mutation, st.integers(0, 60), st.just("rename"), st.sampled_from(RENAMES)),
    )


def malformed() -> st.SearchStrategy[Any]:
    """Updates Telegram would never send: damaged copies of real ones, and junk."""
    base = st.one_of(texts(), presses(), others().filter(lambda a: not isinstance(a, Tick)))
    return st.one_of(
        st.builds(
            Mutated,
            base.filter(lambda a: not isinstance(a, Redeliver)),
            st.lists(_mutations(), min_size=1, max_size=3).map(tuple),
        ),
        _raw_updates(),
    )


# --------------------------------------------------------------------------- journeys


# Most order journeys go all the way; the others stop anywhere before the Place press.
_ORDER_CUTS = st.one_of(st.just(0), st.just(0), st.integers(0, 12))


def order_steps(seat: Seat, product: str, fulfilment: int, phone: str = "") -> list[Any]:
    """A customer's way from the deep link to a placed order (0 pickup, 1 delivery, 2 dine-in)."""
    after_fulfilment: list[Any] = [
        [Press(seat, 0, "slot")],  # pickup: a time
        [Location(seat, 31.2330, 121.4750)],  # delivery: where
        [Text(seat, "12")],  # dine-in: the table
    ][fulfilment % 3]
    return [
        Text(seat, "/start scentral"),
        Text(seat, f"/search {product}"),
        Press(seat, 0, "prod"),
        Text(seat, "3"),
        Text(seat, "/cart"),
        Press(seat, 0, "co"),
        Press(seat, fulfilment, "ful"),
        *after_fulfilment,
        Contact(seat, phone) if phone else Text(seat, PHONES[0]),
        Press(seat, 0, "skip"),
        Press(seat, 0, "place"),
    ]


def _order_journey(cuts: st.SearchStrategy[int] = _ORDER_CUTS) -> st.SearchStrategy[list[Any]]:
    """A customer's way to a placed order, cut short by `cuts` steps; the branch taken varies."""
    return st.builds(
        lambda seat, product, fulfilment, cut, phone: order_steps(seat, product, fulfilment, phone)[
            : max(1, 11 - cut)
        ],
        st.sampled_from(CUSTOMER_SEATS),
        st.sampled_from(["croissant", "banana", "cheesecake", "tiramisu", "latte"]),
        st.integers(0, 2),
        cuts,
        st.sampled_from(["", PHONES[0], PHONES[1]]),
    )


def _staff_journey() -> st.SearchStrategy[list[Any]]:
    """Staff working the newest card: accept, ready, complete; or reject with a reason."""
    seats = st.sampled_from([Seat(SAM, GROUP), Seat(GUS, GROUP), Seat(MIA, GROUP)])
    paths = st.sampled_from([("sa", "sy", "sc"), ("sr", "srr"), ("sa", "sx"), ("sa", "sy")])
    return st.builds(
        lambda seat, path, pick: [Press(seat, pick, want) for want in path],
        seats,
        paths,
        st.integers(0, 3),
    )


def booking_steps(seat: Seat, pick: int) -> list[Any]:
    """A table or class booking through to the confirm press, and staff confirming it."""
    return [
        Text(seat, "/start scentral"),
        Text(seat, "/book"),
        Press(seat, pick, "bk_k"),
        Press(seat, pick, "bk_p"),
        Press(seat, pick, "bk_d"),
        Press(seat, pick, "bk_t"),
        Contact(seat, PHONES[0]),
        Press(seat, 0, "bk_s"),
        Press(seat, 0, "bk_ok"),
        Press(Seat(SAM, GROUP), 0, "bc"),
    ]


def _booking_journey() -> st.SearchStrategy[list[Any]]:
    """A booking, cut short anywhere after /book or made and confirmed."""
    return st.builds(
        lambda seat, pick, cut: booking_steps(seat, pick)[: 10 - cut],
        st.sampled_from(CUSTOMER_SEATS),
        st.integers(0, 5),
        st.sampled_from([0, 0, 2, 5]),
    )


def survey_steps(seat: Seat, stars: int, words: str) -> list[Any]:
    """Time for a completed order's survey to go out, and the customer answering it."""
    return [
        Tick(45),
        Press(seat, stars, "sv"),
        Text(seat, words) if words else Press(seat, 0, "svs"),
    ]


_SURVEY_WORDS = st.sampled_from(["", "lovely", "cold coffee", "x" * 900])


def _survey_journey() -> st.SearchStrategy[list[Any]]:
    """Time for the survey to go out, and the customer answering it."""
    return st.builds(
        survey_steps, st.sampled_from(CUSTOMER_SEATS), st.integers(0, 4), _SURVEY_WORDS
    )


def _forget_journey() -> st.SearchStrategy[list[Any]]:
    return st.builds(
        lambda seat, yes: [Text(seat, "/forget"), Press(seat, 0, "fy" if yes else "fn")],
        st.sampled_from(CUSTOMER_SEATS),
        st.booleans(),
    )


def _whole_order_journey() -> st.SearchStrategy[list[Any]]:
    """One customer's order placed, worked to the end by staff, and its survey answered."""
    staff = Seat(SAM, GROUP)
    return st.builds(
        lambda order, stars, words: [
            *order,
            *(Press(staff, 0, want) for want in ("sa", "sy", "sc")),
            *survey_steps(order[0].seat, stars, words),
        ],
        _order_journey(cuts=st.just(0)),
        st.integers(0, 4),
        _SURVEY_WORDS,
    )


def journeys() -> st.SearchStrategy[list[Any]]:
    """Runs of well-formed steps that reach deep conversation states quickly."""
    return st.one_of(
        _order_journey(),
        _whole_order_journey(),
        _staff_journey(),
        _booking_journey(),
        _booking_journey(),
        _survey_journey(),
        _forget_journey(),
        _forget_journey(),
    )


def _as(seat: Seat, action: Any) -> Any:
    """The same action sent by `seat`."""
    if isinstance(action, Mutated):
        return Mutated(_as(seat, action.base), action.mutations)
    if hasattr(action, "seat"):
        return dataclasses.replace(action, seat=seat)
    return action


def _poked(journey: st.SearchStrategy[list[Any]]) -> st.SearchStrategy[list[Any]]:
    """A journey, then something random from whoever it left in whatever state it reached."""
    pokes = st.one_of(texts(), presses(), others(), malformed())
    return st.builds(
        lambda steps, poke: (
            [*steps, _as(steps[-1].seat, poke)] if steps and hasattr(steps[-1], "seat") else steps
        ),
        journey,
        pokes,
    )


def action_sequences(max_chunks: int) -> st.SearchStrategy[list[Any]]:
    """One fuzz example: journeys interleaved with random, stale and malformed updates."""
    single = st.one_of(
        texts(), texts(), presses(), presses(), others(), malformed(), malformed()
    ).map(lambda action: [action])
    # An empty chunk comes first so the shrinker turns the chunks a failure does not need into
    # nothing (the list's minimum size keeps it from deleting them).
    chunks = st.lists(
        st.one_of(st.just([]), _poked(journeys()), _poked(journeys()), single, single, single),
        min_size=max_chunks // 2,
        max_size=max_chunks,
    )
    return chunks.map(lambda parts: [action for part in parts for action in part])


# Inputs that leave a conversation where it is: refused, ignored, or answered with a hint.
_TOUR_POKES: tuple[Callable[[Seat, int], Any], ...] = (
    lambda seat, i: Media(seat, sorted(MEDIA_CONTENT)[i % len(MEDIA_CONTENT)]),
    lambda seat, i: GarbagePress(seat, ["1|home|é", "", "x" * 70, "1|co|AAAAAAAAAAA"][i % 4]),
    lambda seat, i: TamperedPress(seat, i, i * 7),
    lambda seat, i: Contact(seat, PHONES[1], own=False),
    lambda seat, i: Location(seat, *LOCATIONS[6 + i % 3]),
    lambda seat, i: Redeliver(i),
)


def tour() -> list[Any]:
    """A fixed walk through every conversation step, poking each with unexpected input.

    Orders by pickup (completed, then its survey answered with a comment), delivery (rejected)
    and dine-in, a table and a class booking, and /forget; after every step two pokes from
    _TOUR_POKES by the same person. The fuzz runs it first, so even the quick run reaches every
    step whatever the random sequences do.
    """
    ann, bo, xan = CUSTOMER_SEATS
    staff = Seat(SAM, GROUP)
    journeys = [
        [
            *order_steps(ann, "croissant", 0, PHONES[0]),
            *(Press(staff, 0, want) for want in ("sa", "sy", "sc")),
            *survey_steps(ann, 3, "cold coffee"),
        ],
        [*order_steps(bo, "cheesecake", 1), Press(staff, 0, "sr"), Press(staff, 0, "srr")],
        order_steps(xan, "latte", 2, PHONES[1]),
        booking_steps(ann, 0),
        booking_steps(bo, 1),
        [Text(xan, "/forget"), Press(xan, 0, "fy")],
    ]
    actions: list[Any] = []
    for step in (step for journey in journeys for step in journey):
        actions.append(step)
        seat = getattr(step, "seat", ann)
        for _ in range(2):
            number = len(actions)
            actions.append(_TOUR_POKES[number % len(_TOUR_POKES)](seat, number))
    return actions


def _private_message(person: Person, content: dict[str, Any], **user: Any) -> dict[str, Any]:
    """A private message whose sender has `user` fields overridden (malformed ones)."""
    update = message_update(99, 9, private(person), content)
    update["message"]["from"] |= user
    update["message"]["chat"] |= {"id": user.get("id", person.user_id)}
    return update


# The minimal failing examples the fuzz found, each a bug fixed in the product; replayed first.
REGRESSIONS: tuple[tuple[str, list[Any]], ...] = (
    # handlers/turn.py: a customer's button pressed in a group raised AssertionError.
    ("customer button in a group", [SignedPress(Seat(XAN, GROUP), "home", ())]),
    # handlers/inbound.py: coordinates off the globe raised ValueError in domain/geo.py.
    ("location off the globe", [Location(private(ANN), 91.0, 0.0)]),
    # handlers/inbound.py: ids beyond 64 bits overflowed SQLite (OverflowError, even in the
    # failure path) and made PostgreSQL refuse the query, stalling the update queue.
    ("update id over 64 bits", [Raw(_private_message(ANN, {"text": "hi"}) | {"update_id": 2**63})]),
    ("user id over 64 bits", [Raw(_private_message(ANN, {"text": "hi"}, id=2**64))]),
    # handlers/inbound.py: a language_code that is not a string raised AttributeError.
    ("language code not a string", [Raw(_private_message(ANN, {"text": "hi"}, language_code=5))]),
    # handlers/inbound.py: PostgreSQL refused a first name over 200 characters and NUL characters.
    ("first name too long", [Raw(_private_message(ANN, {"text": "hi"}, first_name="😀" * 300))]),
    (
        "NUL in a comment",
        [
            *order_steps(private(ANN), "croissant", 0, PHONES[0])[:9],
            Text(private(ANN), "a\x00b"),
            Press(private(ANN), 0, "place"),
        ],
    ),
    # handlers/catalog_flow.py, staff_tools_flow.py: "²" passed isdigit() and int() refused it.
    (
        "superscript quantity",
        [*order_steps(private(ANN), "croissant", 0)[:3], Text(private(ANN), "²")],
    ),
    ("superscript stock", [Text(Seat(SAM, GROUP), "/stock croissant ²")]),
    ("superscript staff id", [Text(Seat(GUS, GROUP), "/staff add ² Two")]),
    # handlers/push_flow.py: a campaign id over 32 bits made PostgreSQL refuse the query.
    ("campaign link over 32 bits", [Text(private(ANN), "/start p999999999999")]),
    # handlers/inbound.py: payment fields the payments table cannot hold (PostgreSQL refused).
    (
        "charge id too long",
        [Raw(_forged_payment("successful_payment", "o2o|1|1", 4500, "c" * 300, ANN))],
    ),
    ("amount over 32 bits", [Raw(_forged_payment("successful_payment", "x", 10**12, "c", ANN))]),
    # handlers/locales: "/push <store-code>" in a usage text, which Telegram refuses as HTML.
    ("a bare < in a reply", [Text(private(ADA), "/push"), Text(private(ADA), "/push a b")]),
    # handlers/callbacks.py: hmac.compare_digest raised TypeError on a non-ASCII signature.
    ("non-ASCII callback data", [GarbagePress(private(ANN), "1|home|é")]),
    # Not a bug found: oversized input, so replies echoing it are always checked against limits.
    ("oversized texts", [Text(private(ANN), text) for text in OVERSIZED]),
)
