"""Fuzzing the update pipeline: random updates at every conversation state break nothing.

Hypothesis generates sequences of updates from a few people (customers in private chat; a
manager, a registered staff member, a group administrator and a stranger in Central's staff
group; a bot admin; see fuzz_actions.py): texts and commands (deep links valid, unknown and
forged; oversized and odd unicode), presses on the bot's own latest buttons, on stale ones and on
buttons of other chats, tampered, garbage and forged-but-signed callback data, contacts (own and
somebody else's), locations (in and out of range), media where text is expected, redelivered
updates, time passing with the due-work loop, and malformed updates (damaged copies of real
ones, unknown update types, wrong types, missing ids). Journeys (order, staff, booking, survey,
/forget) take the customers deep into the flows so random updates land in every state.

Before the random sequences run the minimal failing examples of the bugs this fuzz found
(fa.REGRESSIONS, fixed in the product) and a fixed tour through every conversation step that
pokes each with unexpected input (fa.tour), so even the quick run reaches every step; the test
asserts it did. Quick: derandomized, a few hundred updates a backend. `--long`: many more
sequences, random each run.

Each example runs in process on a fresh copy of a migrated, seeded database (SQLite; also
PostgreSQL when O2O_TEST_POSTGRES_URL is set) through the real UpdatePipeline and conversation
core wired as bot/app.py wires them, with a fixed clock and Central open around the clock.

What must hold:

- No exception escapes the pipeline, no update is recorded as failed, nothing is logged at ERROR
  (the pipeline logs a use case's bug there before apologising).
- The answer promise, for every well-formed update from a person (not a bot):
  * a message of any kind (text, command, contact, location, photo, sticker...) in a private
    chat gets at least one outbox call into that chat, written by that update (a reply, an
    edit, or for /stats /export /rfm the chat action that precedes the report);
  * a press, in a private chat or a group, is answered by exactly one answerCallbackQuery.
  Group messages are not promised an answer: the bot ignores chatter and commands it does not
  serve there. Malformed updates are promised nothing but to be ignored or rejected calmly.
- Every call it writes is one Telegram accepts: text non-empty and at most 4096 characters after
  HTML parsing (checked with the fake Bot API's parser), tags balanced, callback data at most 64
  bytes, toasts at most 200 characters.
- Dedupe: one inbox row per distinct valid update id; a redelivered update changes nothing;
  updates without a usable update_id are rejected as invalid.
- The books: stock never negative and equal to the starting stock minus what live orders hold
  (for products whose stock staff did not set by hand); each order's lines and totals add up,
  its status is valid and its audit trail is a legal path ending in that status; at most one
  staff card per order (exactly one while the group stayed bound); carts and conversation
  states are sane.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import logging
import shutil
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import reduce
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from sqlalchemy import func, select, update
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import models
from bot.db.engine import create_engine, create_sessionmaker, is_sqlite
from bot.fakeapi.server import ApiError
from bot.fakeapi.server import _render as render_like_telegram
from bot.jobs import INBOX_RETENTION, JobRunner
from bot.pipeline import Outcome, UpdatePipeline
from bot.seed import seed_demo_data
from domain.clock import FixedClock
from domain.orders import ORDER_TRANSITIONS, OrderStatus
from domain.reservations import ReservationStatus
from domain.schedule import OpeningHours
from handlers.callbacks import MAX_CALLBACK_BYTES, CallbackCodec, CallbackDataError
from handlers.core import ConversationCore, CoreConfig
from handlers.i18n import Translator
from handlers.outbound import MAX_MESSAGE_LENGTH
from handlers.staff_flow import card_ref
from tests.conftest import _asyncpg_dsn
from tests.reliability import fuzz_actions as fa

# 17:30 on a Monday in Shanghai: Central (open around the clock here) takes orders, Riverside
# (Tue-Sat) is closed, so both "open" and "closed" paths are reachable.
START = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
CALLBACK_KEY = b"fuzz-callback-key-0123456789abcdef"
MAX_TIME_PASSING = INBOX_RETENTION - timedelta(days=1)
OUR_UPDATE_IDS = 10**7  # above the ids Raw updates use, so ours never collide with theirs
MAX_TOAST_LENGTH = 200
RECENT_MESSAGES = 150  # where presses find their buttons: enough for every chat's last few
# The conversation steps (state, or state/step) the fuzz must have poked: all there are.
EVERY_STEP = frozenset(
    {
        "browsing",
        "product",
        "survey_comment",
        *(
            f"checkout/{step}"
            for step in ("fulfilment", "slot", "address", "table", "phone", "comment", "summary")
        ),
        *(
            f"booking/{step}"
            for step in ("kind", "party", "day", "time", "phone", "comment", "summary")
        ),
    }
)
LIVE_ORDER_STATUSES = frozenset(
    status for status in OrderStatus if status not in (OrderStatus.REJECTED, OrderStatus.CANCELLED)
)


@dataclass(frozen=True)
class Size:
    """How much fuzzing one backend gets."""

    examples: int
    chunks: int  # journeys and single actions per example


# Quick: the regressions, the tour and 25 (SQLite) or 10 (PostgreSQL, slower per update)
# derandomized sequences: about 6-10 s a backend. Long: random, ~10 min in all.
QUICK = {"sqlite": Size(examples=25, chunks=20), "postgres": Size(examples=10, chunks=20)}
LONG = {"sqlite": Size(examples=1000, chunks=40), "postgres": Size(examples=400, chunks=40)}


@dataclass
class Tally:
    """Figures over all examples."""

    sequences: int = 0
    updates: int = 0
    malformed: int = 0
    promised: int = 0
    answered: int = 0
    errors: int = 0
    orders: int = 0
    bookings: int = 0
    steps: set[str] = field(default_factory=set)
    outcomes: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        """The one-line summary for report_figures."""
        return (
            f"fuzz: {self.sequences:,} sequences, {self.updates:,} updates "
            f"({self.malformed:,} malformed, {self.outcomes['invalid']:,} rejected, "
            f"{self.outcomes['duplicate']:,} duplicates), {self.errors} unhandled exceptions, "
            f"{self.answered:,}/{self.promised:,} answered, {self.orders:,} orders and "
            f"{self.bookings:,} bookings made, {len(self.steps)} conversation steps reached, "
            "invariants held"
        )


# --------------------------------------------------------------------------- databases


@dataclass(frozen=True)
class Template:
    """The migrated, seeded database every example starts from."""

    url: str
    stock: dict[tuple[int, str], int]  # (store id, sku) -> starting stock, where counted
    restore_sql: str | None = None  # PostgreSQL: puts the template's rows back (see below)


async def prepare_template(url: str) -> Template:
    """Demo stores; Central open around the clock with its staff group, manager and staff."""
    engine = create_engine(url)
    try:
        sessionmaker = create_sessionmaker(engine)
        await seed_demo_data(sessionmaker, START)
        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(models.Store)
                .where(models.Store.code == "central")
                .values(
                    opening_hours=OpeningHours.always().to_json(),
                    staff_chat_id=fa.GROUP,
                    manager_telegram_id=fa.MIA.user_id,
                )
            )
            central = await session.scalar(
                select(models.Store.id).where(models.Store.code == "central")
            )
            assert central is not None
            session.add(
                models.StaffMember(
                    store_id=central,
                    telegram_id=fa.SAM.user_id,
                    display_name=fa.SAM.first_name,
                    created_at=START,
                )
            )
        async with sessionmaker() as session:
            stock = await _stock(session)
    finally:
        await engine.dispose()
    return Template(url, stock, None if is_sqlite(url) else await _snapshot_postgres(url))


async def _stock(session: AsyncSession) -> dict[tuple[int, str], int]:
    rows = await session.execute(
        select(models.StoreProduct.store_id, models.Product.sku, models.StoreProduct.stock).join(
            models.Product, models.Product.id == models.StoreProduct.product_id
        )
    )
    return {(store_id, sku): stock for store_id, sku, stock in rows.all() if stock is not None}


_copies = itertools.count()


def _copy_sqlite_file(source: Path) -> Path:
    """A copy of a SQLite database file (a few hundred kilobytes: blocking is fine)."""
    target = source.with_name(f"{source.stem}-example-{next(_copies)}.sqlite3")
    shutil.copyfile(source, target)
    if Path(f"{source}-wal").exists():  # closed cleanly it has none; copied if it has
        shutil.copyfile(f"{source}-wal", f"{target}-wal")
    return target


def _remove_sqlite_files(target: Path) -> None:
    for leftover in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
        leftover.unlink(missing_ok=True)


async def _snapshot_postgres(url: str) -> str:
    """Copy every table into a schema of its own; return the SQL that restores them from it.

    Restoring rows takes ~20 ms in one round trip, where CREATE DATABASE ... TEMPLATE waits for
    a checkpoint (seconds while other tests write).
    """
    import asyncpg

    tables = [table.name for table in models.Base.metadata.sorted_tables]  # parents first
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        await conn.execute("CREATE SCHEMA fuzz_template")
        for table in tables:
            await conn.execute(f'CREATE TABLE fuzz_template."{table}" AS TABLE public."{table}"')
        sequences = {
            table: await conn.fetchval("SELECT pg_get_serial_sequence($1, 'id')", table)
            for table in tables
            if "id" in models.Base.metadata.tables[table].columns
        }
        # Nothing here must survive a crash: commits need not wait for the disk.
        await conn.execute(
            f'ALTER DATABASE "{make_url(url).database}" SET synchronous_commit = off'
        )
    finally:
        await conn.close()
    script = ["BEGIN"]
    for table in reversed(tables):
        script.append(f'DELETE FROM "{table}"')  # noqa: S608  # names from the metadata
    for table in tables:
        copy_back = f'INSERT INTO "{table}" SELECT * FROM fuzz_template."{table}"'  # noqa: S608  # ditto
        script.append(copy_back)
    for table, sequence in sequences.items():
        if sequence:
            highest = f'SELECT MAX(id) FROM "{table}"'  # noqa: S608  # names from the metadata
            script.append(f"SELECT setval('{sequence}', COALESCE(({highest}), 0) + 1, false)")
    return ";\n".join([*script, "COMMIT"])


@contextlib.asynccontextmanager
async def example_database(template: Template) -> AsyncIterator[str]:
    """The template's database as it was, for one example: a copy (SQLite) or restored rows."""
    if template.restore_sql is None:
        target = _copy_sqlite_file(Path(str(make_url(template.url).database)))
        try:
            yield f"sqlite+aiosqlite:///{target}"
        finally:
            _remove_sqlite_files(target)
        return
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(template.url))
    try:
        await conn.execute(template.restore_sql)
    finally:
        await conn.close()
    yield template.url


# --------------------------------------------------------------------------- one example


def valid_update_id(update: Any) -> bool:
    """Whether an update carries an id the dedupe set can hold (a 64-bit integer)."""
    if not isinstance(update, dict):
        return False
    update_id = update.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        return False
    return -(2**63) < update_id < 2**63


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path inside a JSON value, parents before children."""
    children: list[tuple[Any, Any]] = []
    if isinstance(node, dict):
        children = list(node.items())
    elif isinstance(node, list):
        children = list(enumerate(node))
    paths: list[tuple[Any, ...]] = []
    for key, child in children:
        paths.append((*prefix, key))
        paths += _paths(child, (*prefix, key))
    return paths


def mutate(update: dict[str, Any], mutation: fa.Mutation) -> None:
    """Apply one mutation in place."""
    paths = _paths(update)
    if not paths:
        return
    path = paths[mutation.pick % len(paths)]
    parent = reduce(lambda node, key: node[key], path[:-1], update)
    key = path[-1]
    if mutation.op == "delete":
        del parent[key]
    elif mutation.op == "rename" and isinstance(parent, dict):
        parent[mutation.value] = parent.pop(key)
    else:
        parent[key] = copy.deepcopy(mutation.value)


class ErrorLog(logging.Handler):
    """Collects what is logged at ERROR (the pipeline logs a use case's exception there)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record."""
        self.records.append(record)

    def check(self, during: str) -> None:
        """Fail with the first error logged, and its traceback, if any."""
        if not self.records:
            return
        record = self.records[0]
        trace = logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
        raise AssertionError(f"{during}: logged at ERROR: {record.getMessage()}\n{trace}")


class Example:
    """One fuzz example: the pipeline over a fresh database, fed actions, checked as it goes."""

    def __init__(self, url: str, template: Template, tally: Tally) -> None:
        self.engine = create_engine(url)
        self.sessionmaker: async_sessionmaker[AsyncSession] = create_sessionmaker(self.engine)
        self.template = template
        self.tally = tally
        self.clock = FixedClock(START)
        self.codec = CallbackCodec(CALLBACK_KEY)
        config = CoreConfig(bot_username=fa.BOT_USERNAME, admin_ids=frozenset({fa.ADA.user_id}))
        translator = Translator.default()
        self.core = ConversationCore(config, translator, self.codec)
        self.pipeline = UpdatePipeline(
            self.sessionmaker, self.core, self.clock, group_admins=self._is_group_admin
        )
        self.jobs = JobRunner(
            self.sessionmaker, self.clock, lambda: None, translator, config=config, codec=self.codec
        )
        self.update_ids = itertools.count(OUR_UPDATE_IDS)
        self.message_ids = itertools.count(1000)
        self.history: list[Any] = []  # every update fed, for redelivery
        self.recorded: set[int] = set()  # update ids the inbox should hold
        self.stock_set_by_hand: set[str] = set()
        self.binding_changed = False
        self.errors = ErrorLog()
        logging.getLogger().addHandler(self.errors)

    async def close(self) -> None:
        """Release the database and stop listening to the log."""
        logging.getLogger().removeHandler(self.errors)
        await self.engine.dispose()

    async def _is_group_admin(self, chat_id: int, user_id: int) -> bool:
        return chat_id == fa.GROUP and user_id == fa.GUS.user_id

    # ------------------------------------------------------------------ feeding

    async def perform(self, action: Any) -> None:
        """Turn an action into an update (or a tick), feed it and check the promises."""
        if isinstance(action, fa.Tick):
            # Time stops short of the inbox's retention: pruned ids would be new again.
            if self.clock.now() + timedelta(minutes=action.minutes) < START + MAX_TIME_PASSING:
                self.clock.advance(minutes=action.minutes)
            await self.jobs.run_once()
            self.tally.errors += len(self.errors.records)
            self.errors.check(f"{action!r}")
            return
        if isinstance(action, fa.Redeliver):
            await self._redeliver(action)
            return
        malformed = isinstance(action, fa.MALFORMED)
        if isinstance(action, fa.Raw):
            raw: Any = copy.deepcopy(action.update)
        elif isinstance(action, fa.Mutated):
            raw = await self.build(action.base)
            if raw is None:
                return
            for mutation in action.mutations:
                mutate(raw, mutation)
        else:
            raw = await self.build(action)
            if raw is None:
                return
        if malformed:
            await self.feed(raw, None, getattr(action, "base", None))
        else:
            await self.feed(raw, action)

    async def build(self, action: Any) -> dict[str, Any] | None:
        """The raw update JSON for a well-formed action (None if it has nothing to press)."""
        update_id = next(self.update_ids)
        message_id = next(self.message_ids)
        match action:
            case fa.Text(seat, text, reply_to):
                replied = next(
                    (p for p in (fa.XAN, fa.SAM) if p.user_id == reply_to),
                    fa.Person("SOMEONE", reply_to, "Someone") if reply_to is not None else None,
                )
                if "{code}" in text:
                    text = text.replace("{code}", await self._latest_pickup_code())
                content = fa.text_content(text, replied)
                return fa.message_update(update_id, message_id, action.seat, content)
            case fa.Contact(seat, phone, own):
                contact: dict[str, Any] = {"phone_number": phone, "first_name": "Someone"}
                contact["user_id"] = seat.person.user_id if own else 9_999
                return fa.message_update(update_id, message_id, seat, {"contact": contact})
            case fa.Location(seat, latitude, longitude):
                where = {"location": {"latitude": latitude, "longitude": longitude}}
                return fa.message_update(update_id, message_id, seat, where)
            case fa.Media(seat, kind):
                return fa.message_update(update_id, message_id, seat, fa.MEDIA_CONTENT[kind])
            case fa.Press() | fa.TamperedPress() | fa.SignedPress() | fa.GarbagePress():
                pressed = await self._callback_data(action)
                if pressed is None:
                    return None
                data, on_message = pressed
                callback_id = f"cq{update_id}"
                return fa.callback_update(update_id, callback_id, action.seat, data, on_message)
        raise AssertionError(f"no update for {action!r}")

    async def feed(self, raw: Any, action: Any | None, original: Any = None) -> Outcome:
        """Process one update and check what the pipeline made of it.

        `action` is None for a malformed update; `original` is then what it was damaged from.
        """
        self.history.append(raw)
        self.tally.updates += 1
        self.tally.malformed += action is None
        seen = valid_update_id(raw) and raw["update_id"] in self.recorded
        outcome = await self.pipeline.process(raw)
        self.tally.outcomes[str(outcome)] += 1
        self.tally.errors += len(self.errors.records)
        self.errors.check(repr(action) if action is not None else f"malformed {raw!r:.500}")
        assert outcome is not Outcome.FAILED, "failed without logging why"
        if not valid_update_id(raw):
            assert outcome is Outcome.INVALID, "an update without a usable id was processed"
            return outcome
        update_id = raw["update_id"]
        assert outcome is (Outcome.DUPLICATE if seen else Outcome.HANDLED), (
            f"update {update_id} ended {outcome}, but it was {'seen' if seen else 'new'}"
        )
        self.recorded.add(update_id)
        if outcome is Outcome.DUPLICATE:
            return outcome
        rows = await self._written_by(update_id)
        for row in rows:
            check_deliverable(row)
        if action is not None:
            await self._check_answered(action, raw, rows)
        self._note_side_effects(action or original)
        return outcome

    async def _redeliver(self, action: fa.Redeliver) -> None:
        if not self.history:
            return
        raw = self.history[action.pick % len(self.history)]
        before = await self._counts()
        outcome = await self.pipeline.process(copy.deepcopy(raw))
        self.tally.updates += 1
        self.tally.outcomes[str(outcome)] += 1
        self.tally.errors += len(self.errors.records)
        self.errors.check(f"{action!r} of {raw!r:.300}")
        expected = Outcome.DUPLICATE if valid_update_id(raw) else Outcome.INVALID
        assert outcome is expected, f"a redelivered update ended {outcome}, not {expected}"
        assert await self._counts() == before, "a redelivered update changed something"

    # ------------------------------------------------------------------ the answer promise

    async def _check_answered(
        self, action: Any, raw: dict[str, Any], rows: list[models.OutboxMessage]
    ) -> None:
        seat: fa.Seat = action.seat
        if "callback_query" in raw:
            callback_id = raw["callback_query"]["id"]
            answers = [
                row
                for row in rows
                if row.method == "answerCallbackQuery"
                and row.params.get("callback_query_id") == callback_id
            ]
            self.tally.promised += 1
            assert len(answers) == 1, f"{action!r} was answered {len(answers)} times"
            self.tally.answered += 1
        elif seat.private:
            self.tally.promised += 1
            assert any(row.chat_id == seat.chat_id for row in rows), (
                f"{action!r} got no reply (calls written: {[row.method for row in rows]})"
            )
            self.tally.answered += 1

    def _note_side_effects(self, action: Any) -> None:
        """Remember what changes the books on purpose (stock set by hand, group rebinding)."""
        if not isinstance(action, fa.Text) or action.seat.private:
            return
        words = action.text.split()
        command = words[0].lstrip("/").split("@")[0].lower() if words else ""
        if command == "stock" and len(words) == 3:
            self.stock_set_by_hand.add(words[1].lower())
        if command in ("bind", "unbind"):
            self.binding_changed = True

    # ------------------------------------------------------------------ reading the bot

    async def _written_by(self, update_id: int) -> list[models.OutboxMessage]:
        """The calls an update wrote; also notes the conversation steps people are in now."""
        async with self.sessionmaker() as session:
            rows = list(
                await session.scalars(
                    select(models.OutboxMessage)
                    .where(models.OutboxMessage.source_update_id == update_id)
                    .order_by(models.OutboxMessage.id)
                )
            )
            states = await session.execute(
                select(models.ConversationState.state, models.ConversationState.data)
            )
            for state, data in states.all():
                step = data.get("step") if isinstance(data, dict) else None
                self.tally.steps.add(f"{state}/{step}" if step else state)
        return rows

    async def _counts(self) -> tuple[int, int, int, int]:
        async with self.sessionmaker() as session:
            counts = []
            for table in (models.InboxEntry, models.OutboxMessage, models.Order, models.Customer):
                counts.append(await session.scalar(select(func.count()).select_from(table)) or 0)
            return counts[0], counts[1], counts[2], counts[3]

    async def _keyboards(self) -> list[tuple[int, int | None, list[str]]]:
        """(outbox id, chat, callback data...) of recent messages sent or edited with buttons."""
        async with self.sessionmaker() as session:
            rows = await session.execute(
                select(
                    models.OutboxMessage.id,
                    models.OutboxMessage.chat_id,
                    models.OutboxMessage.params,
                )
                .where(models.OutboxMessage.method.in_(("sendMessage", "editMessageText")))
                .order_by(models.OutboxMessage.id.desc())
                .limit(RECENT_MESSAGES)
            )
            keyboards = []
            for row_id, chat_id, params in reversed(rows.all()):
                markup = params.get("reply_markup") or {}
                data = [
                    button["callback_data"]
                    for line in markup.get("inline_keyboard", [])
                    for button in line
                    if "callback_data" in button
                ]
                if data:
                    keyboards.append((row_id, chat_id, data))
            return keyboards

    async def _callback_data(self, action: Any) -> tuple[str, int] | None:
        """The data a press carries and the message it is on; None if there is nothing to press."""
        seat: fa.Seat = action.seat
        if isinstance(action, fa.GarbagePress):
            return action.data, next(self.message_ids)
        if isinstance(action, fa.SignedPress):
            try:
                return self.codec.encode(action.action, *action.args), next(self.message_ids)
            except ValueError:
                return None  # over 64 bytes: no button could carry it
        keyboards = await self._keyboards()
        here = [k for k in keyboards if k[1] == seat.chat_id]
        if isinstance(action, fa.TamperedPress):
            chosen = (here or keyboards)[-1:] if keyboards else []
            if not chosen:
                return None
            row_id, _chat, buttons = chosen[0]
            data = buttons[action.pick % len(buttons)]
            position = action.position % len(data)
            swapped = "A" if data[position] != "A" else "B"
            return data[:position] + swapped + data[position + 1 :], row_id
        assert isinstance(action, fa.Press)
        if action.source == "elsewhere":
            pool = [k for k in keyboards if k[1] != seat.chat_id][-6:]
        elif action.source == "stale":
            pool = here[-6:]
        else:
            pool = here[-1:]
        if action.want is not None:
            # A journey's next step: the newest of the chat's recent keyboards offering it.
            for row_id, _chat, buttons in reversed(here[-8:]):
                wanted = [data for data in buttons if self._action_of(data) == action.want]
                if wanted:
                    return wanted[action.pick % len(wanted)], row_id
        if not pool:
            return None
        row_id, _chat, buttons = pool[action.pick % len(pool)]
        return buttons[action.pick % len(buttons)], row_id

    def _action_of(self, data: str) -> str | None:
        try:
            return self.codec.decode(data).action
        except CallbackDataError:
            return None

    async def _latest_pickup_code(self) -> str:
        async with self.sessionmaker() as session:
            code = await session.scalar(
                select(models.Order.pickup_code)
                .where(models.Order.pickup_code.is_not(None))
                .order_by(models.Order.id.desc())
                .limit(1)
            )
        return code or "2345"

    # ------------------------------------------------------------------ the books

    async def check_books(self) -> None:
        """The database invariants, at the end of the example."""
        async with self.sessionmaker() as session:
            await self._check_inbox(session)
            await self._check_orders(session)
            await self._check_stock(session)
            await self._check_rest(session)

    async def _check_inbox(self, session: AsyncSession) -> None:
        inbox = dict(
            (
                await session.execute(
                    select(models.InboxEntry.update_id, models.InboxEntry.outcome)
                )
            ).all()
        )
        assert set(inbox) == self.recorded, "the inbox must hold each valid update id once"
        assert set(inbox.values()) <= {"handled"}, "an update was recorded as failed"
        sources = set(
            await session.scalars(
                select(models.OutboxMessage.source_update_id)
                .where(models.OutboxMessage.source_update_id.is_not(None))
                .distinct()
            )
        )
        assert sources <= set(inbox), "outbox rows written by updates the inbox does not know"

    async def _check_orders(self, session: AsyncSession) -> None:
        orders = list(await session.scalars(select(models.Order).order_by(models.Order.id)))
        self.tally.orders += len(orders)
        cards = Counter(
            await session.scalars(
                select(models.OutboxMessage.ref).where(
                    models.OutboxMessage.method == "sendMessage",
                    models.OutboxMessage.ref.like("order:%:card"),
                )
            )
        )
        for order in orders:
            assert order.status in set(OrderStatus), f"order {order.number}: {order.status!r}"
            lines = list(
                await session.scalars(
                    select(models.OrderLine).where(models.OrderLine.order_id == order.id)
                )
            )
            assert lines, f"order {order.number} has no lines"
            for line in lines:
                assert line.quantity > 0
                assert line.line_total_minor == line.unit_price_minor * line.quantity
            assert order.subtotal_minor == sum(line.line_total_minor for line in lines)
            assert order.total_minor == order.subtotal_minor + order.delivery_fee_minor
            events = list(
                await session.scalars(
                    select(models.OrderEvent)
                    .where(models.OrderEvent.order_id == order.id)
                    .order_by(models.OrderEvent.id)
                )
            )
            _check_trail(order, events)
            made = cards[card_ref(order.id)]
            assert made <= 1, f"order {order.number} got {made} staff cards"
            if not self.binding_changed and order.store_id == await self._central_id(session):
                assert made == 1, f"order {order.number} got no staff card"

    async def _central_id(self, session: AsyncSession) -> int | None:
        return await session.scalar(select(models.Store.id).where(models.Store.code == "central"))

    async def _check_stock(self, session: AsyncSession) -> None:
        now = await _stock(session)
        assert all(units >= 0 for units in now.values()), f"negative stock: {now}"
        held: Counter[tuple[int, str]] = Counter()
        rows = await session.execute(
            select(models.Order.store_id, models.Product.sku, models.OrderLine.quantity)
            .join(models.OrderLine, models.OrderLine.order_id == models.Order.id)
            .join(models.Product, models.Product.id == models.OrderLine.product_id)
            .where(models.Order.status.in_([s.value for s in LIVE_ORDER_STATUSES]))
        )
        for store_id, sku, quantity in rows.all():
            held[(store_id, sku)] += quantity
        for (store_id, sku), start in self.template.stock.items():
            if sku in self.stock_set_by_hand:
                continue
            assert now.get((store_id, sku)) == start - held[(store_id, sku)], (
                f"stock of {sku} at store {store_id}: {now.get((store_id, sku))}, "
                f"expected {start} - {held[(store_id, sku)]} held by live orders"
            )

    async def _check_rest(self, session: AsyncSession) -> None:
        quantities = list(await session.scalars(select(models.CartLine.quantity)))
        assert all(0 < quantity <= 20 for quantity in quantities), quantities
        states = set(await session.scalars(select(models.ConversationState.state)))
        assert states <= set(self.core.router.states), f"unknown conversation states {states}"
        statuses = set(await session.scalars(select(models.Reservation.status)))
        assert statuses <= set(ReservationStatus), statuses
        self.tally.bookings += len(list(await session.scalars(select(models.Reservation.id))))
        scores = list(await session.scalars(select(models.Survey.score)))
        assert all(score is None or 1 <= score <= 5 for score in scores), scores


def _check_trail(order: models.Order, events: list[models.OrderEvent]) -> None:
    """An order's events: placed first, then legal transitions, ending in its status."""
    assert events, f"order {order.number} has no events"
    assert (events[0].from_status, events[0].to_status) == (None, "placed")
    for before, after in itertools.pairwise(events):
        assert after.from_status == before.to_status, f"order {order.number}: broken trail"
        legal = ORDER_TRANSITIONS[OrderStatus(before.to_status)]
        reannounced = after.from_status == after.to_status == "placed"
        assert reannounced or OrderStatus(after.to_status) in legal, (
            f"order {order.number}: {after.from_status} -> {after.to_status} is not allowed"
        )
    assert events[-1].to_status == order.status, f"order {order.number}: trail ends elsewhere"


def check_deliverable(row: models.OutboxMessage) -> None:
    """An outbox call Telegram would accept (text, HTML, sizes), so a reply really arrives."""
    params = row.params
    if row.method in ("sendMessage", "editMessageText"):
        try:
            shown = render_like_telegram(params.get("text", ""), params.get("parse_mode"))
        except ApiError as exc:
            raise AssertionError(f"{row.method} refused: {exc}: {params['text'][:300]!r}") from None
        assert shown.strip(), f"{row.method} with an empty text"
        assert len(shown) <= MAX_MESSAGE_LENGTH, f"{row.method} of {len(shown)} characters"
    if row.method == "answerCallbackQuery":
        assert len(params.get("text", "")) <= MAX_TOAST_LENGTH
    markup = params.get("reply_markup") or {}
    for line in markup.get("inline_keyboard", []):
        for button in line:
            assert button.get("text"), f"a button without a label: {button}"
            data = button.get("callback_data")
            assert data is None or 0 < len(data.encode()) <= MAX_CALLBACK_BYTES, button


# --------------------------------------------------------------------------- the test


async def run_example(template: Template, actions: list[Any], tally: Tally) -> None:
    """Play one sequence of actions on a fresh database and check the books at the end."""
    async with example_database(template) as url:
        example = Example(url, template, tally)
        try:
            for action in actions:
                await example.perform(action)
            await example.check_books()
        finally:
            await example.close()
    tally.sequences += 1


async def test_random_updates_never_crash_always_get_answers_and_keep_the_books(
    migrated_url: str,
    db_backend: str,
    long_run: bool,
    report_figures: Callable[[str], None],
) -> None:
    template = await prepare_template(migrated_url)
    size = (LONG if long_run else QUICK)[db_backend]
    tally = Tally()

    @given(actions=fa.action_sequences(size.chunks))
    def fuzz(actions: list[Any]) -> None:
        # Each example gets its own event loop: hypothesis drives examples synchronously.
        asyncio.run(run_example(template, actions, tally))

    # First the bugs the fuzz found (fixed), then the tour of every step, then random ones.
    for name, actions in reversed(fa.REGRESSIONS):
        fuzz = example(actions=actions).via(f"regression: {name}")(fuzz)
    fuzz = example(actions=fa.tour()).via("the tour")(fuzz)
    fuzz = settings(
        max_examples=size.examples,
        derandomize=not long_run,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )(fuzz)

    # Off the test's event loop, so each example can run its own.
    await asyncio.to_thread(fuzz)
    report_figures(tally.line())
    assert tally.promised == tally.answered
    missing = EVERY_STEP - tally.steps
    assert not missing, f"no update reached {sorted(missing)}: the fuzz missed those states"
