"""Outbox sender: delivers committed outbox rows to the Bot API in order, within the limits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.engine import READ_ONLY
from bot.db.leader import Leadership, SoleLeader
from bot.db.models import Customer, OutboxFile, OutboxMessage
from bot.digest import CardContent, compose, fits
from bot.transport import (
    BadRequest,
    BotApiTransport,
    Forbidden,
    RetryAfter,
    TransportError,
)
from domain.clock import Clock

log = logging.getLogger(__name__)

PENDING = "pending"
SENT = "sent"
FAILED = "failed"
DEAD = "dead"
SKIPPED = "skipped"

# Calls Telegram does not rate-limit: answering a press or a checkout must never queue.
UNLIMITED_METHODS = frozenset(
    {
        "answercallbackquery",
        "answerprecheckoutquery",
        "answershippingquery",
        "answerinlinequery",
        "getchatmember",
        "getchat",
        "getme",
    }
)

UNRESOLVED_REF = "unresolved message ref"
MISSING_FILE = "file to upload is missing"
_NOT_MODIFIED = "message is not modified"
_MAX_ERROR_LEN = 1000


@dataclass(frozen=True, slots=True)
class SendLimits:
    """Client-side rate limits, set so Telegram never needs to answer 429."""

    global_per_second: int = 30
    per_chat_per_second: float = 1.0
    per_chat_burst: int = 3
    group_per_minute: int = 20  # chats with negative ids
    group_window_seconds: float = 60.0
    # Extra seconds added to every limiter interval. Calls are accounted when their answer
    # arrives (never earlier than the server saw them), so latency jitter is already covered.
    safety_margin: float = 0.0


# Limits high enough never to wait: for the fast offline demo and scenario tests, whose fake
# Bot API then enforces none either (rate limiting has its own tests).
UNTHROTTLED = SendLimits(
    global_per_second=1000, per_chat_per_second=1000, per_chat_burst=1000, group_per_minute=1000
)


class TokenBucket:
    """A token bucket (capacity `capacity`, refilling `rate` per second), started full."""

    def __init__(self, capacity: int, rate: float, margin: float, now: float) -> None:
        self.capacity = float(max(1, capacity))
        self.rate = rate
        self.margin = margin
        self.tokens = self.capacity
        self.last = now

    def _refill(self, now: float) -> None:
        if now > self.last:
            self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
            self.last = now

    def delay(self, now: float) -> float:
        """Seconds until one token is available (0 when it is now)."""
        self._refill(now)
        if self.tokens >= 1.0:
            return 0.0
        if self.rate <= 0:
            return 60.0
        return max(self.last - now, 0.0) + (1.0 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        """Consume one token; refill resumes only after the safety margin."""
        self._refill(now)
        self.tokens -= 1.0
        self.last = max(self.last, now + self.margin)

    def idle(self, now: float) -> bool:
        """True when the bucket is full again and can be forgotten."""
        self._refill(now)
        return self.tokens >= self.capacity


class SlidingWindow:
    """At most `limit` calls in any `window` seconds; a call counts from start to `window`
    seconds after its answer, so the server can never see more within one window."""

    def __init__(self, limit: int, window: float, margin: float) -> None:
        self.limit = max(1, limit)
        self.window = window + margin
        self.times: deque[float] = deque()  # answer times of finished calls, ascending
        self.in_flight = 0

    def _prune(self, now: float) -> None:
        while self.times and self.times[0] <= now - self.window:
            self.times.popleft()

    def delay(self, now: float) -> float | None:
        """Seconds until one more call fits; None when only a finished call can free a slot."""
        self._prune(now)
        excess = len(self.times) + self.in_flight - self.limit + 1
        if excess <= 0:
            return 0.0
        if excess > len(self.times):
            return None
        return max(self.times[excess - 1] + self.window - now, 0.0)

    def begin(self) -> None:
        """Account a call that is about to be made."""
        self.in_flight += 1

    def finish(self, now: float) -> None:
        """Account the answer (or failure) of a call begun earlier."""
        self.in_flight = max(0, self.in_flight - 1)
        self._prune(now)
        if self.times and now < self.times[-1]:
            now = self.times[-1]
        self.times.append(now)

    def idle(self, now: float) -> bool:
        """True when nothing is left in the window."""
        self._prune(now)
        return not self.times and not self.in_flight

    def free(self, now: float) -> int:
        """How many more calls fit in the window now."""
        self._prune(now)
        return max(0, self.limit - len(self.times) - self.in_flight)


@dataclass(frozen=True, slots=True)
class _Row:
    id: int
    chat_id: int | None
    method: str
    params: dict[str, Any]
    ref: str | None
    attempts: int
    next_attempt_at: datetime
    failures: int = 0  # transient errors so far; 429s are not counted
    label: str | None = None
    target_ref: str | None = None
    alone: bool = False  # the only pending row of its chat when read


@dataclass(slots=True)
class _Plan:
    """One Bot API call that settles the head row and, when coalesced, later rows too."""

    params: dict[str, Any]
    absorbed: tuple[int, ...] = ()  # later pending rows of the chat this call settles
    bundled: bool = False  # several cards went out as one digest message


@dataclass(slots=True)
class _Job:
    row: _Row
    task: asyncio.Task[None] | None = None
    calling: bool = False  # once True the job is allowed to finish during stop()


@dataclass(slots=True)
class _ChatLimiter:
    bucket: TokenBucket
    group: SlidingWindow | None


@dataclass(slots=True)
class _Tick:
    dispatched: int = 0
    next_due: datetime | None = None
    blocked: bool = False  # due rows exist but could not start yet (chat busy, task cap)
    recheck_in: float | None = None  # real seconds after which to look again regardless


def _edits_by_target(rows: list[Any]) -> dict[str, list[Any]]:
    """Pending full edits (editMessageText) grouped by what they change, in order."""
    edits: dict[str, list[Any]] = {}
    for row in rows:
        if row.method == "editMessageText" and row.target_ref is not None:
            edits.setdefault(row.target_ref, []).append(row)
    return edits


def _attachments(params: dict[str, Any]) -> dict[str, str]:
    """Parameters naming a file to upload ({"attach": token}), by parameter name."""
    return {
        name: str(value["attach"])
        for name, value in params.items()
        if isinstance(value, dict) and set(value) == {"attach"}
    }


def _without_content(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k not in ("text", "parse_mode", "reply_markup")}


def _short(error: object) -> str:
    text = str(error) or type(error).__name__
    return text[:_MAX_ERROR_LEN]


class OutboxSender:
    """Delivers outbox rows to the Bot API: per-chat order, client-side limits, retries.

    Delivery is at-least-once. A row stays ``pending`` until the outcome of its call is
    recorded; there is no "in flight" status. If the process dies between Telegram accepting
    a call and the row being marked ``sent``, the call is made again after restart. Rows of
    one chat go out strictly in id order, one at a time; a row waiting for a retry holds back
    the later rows of its chat only.

    Several processes may each run a sender on one database: only the one holding the
    `leadership` (bot/db/leader.py: an advisory lock on PostgreSQL, a lease row on SQLite)
    dispatches; the others idle and take over when it dies. The limiters are per sender, so
    one leader at a time is also what keeps the bot within Telegram's limits. Without a
    `leadership` the sender assumes it is the only one.

    Outcomes: ``sent`` (``message_id`` kept for later edits by ref), ``failed`` (400/403 or
    an unresolved message ref), ``dead`` (transient errors ``max_attempts`` times; a 429 only
    delays the row, however often it comes),
    ``skipped`` (the chat blocked the bot before the row was sent).
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        transport: BotApiTransport,
        *,
        clock: Clock,
        limits: SendLimits = SendLimits(),
        max_attempts: int = 16,
        poll_interval: float = 1.0,
        concurrency: int = 32,
        backoff_base: float = 0.5,
        backoff_max: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        time_scale: float = 1.0,
        batch_size: int = 500,
        invoice_provider_token: str | None = None,
        coalesce_groups: bool = True,
        max_digest_cards: int = 5,
        leadership: Leadership | None = None,
    ) -> None:
        """Wire the sender; `monotonic`, `sleep` and `time_scale` drive the limiters only.

        Tests may run limiter time faster than real time: `monotonic` returns limiter seconds,
        `sleep` sleeps limiter seconds, and `time_scale` is limiter seconds per real second.
        """
        self._sessionmaker = sessionmaker
        self._transport = transport
        # Added to sendInvoice at send time so the provider token never sits in the outbox.
        self._invoice_provider_token = invoice_provider_token
        self._clock = clock
        self._leadership: Leadership = leadership or SoleLeader()
        self._leading = True
        self.limits = limits
        self.max_attempts = max(1, max_attempts)
        self.poll_interval = poll_interval
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._monotonic = monotonic
        self._sleep = sleep
        self._time_scale = time_scale
        self._global_freed = asyncio.Event()
        self._batch_size = batch_size
        # Groups get about 20 messages a minute: combine waiting cards and pending edits.
        self.coalesce_groups = coalesce_groups
        self.max_digest_cards = max(1, max_digest_cards)
        self._semaphore = asyncio.Semaphore(max(1, concurrency))
        self._free_semaphore = asyncio.Semaphore(max(1, concurrency))
        self._max_jobs = max(64, concurrency * 16)
        self._global = SlidingWindow(limits.global_per_second, 1.0, limits.safety_margin)
        self._chat_limiters: dict[int, _ChatLimiter] = {}
        self._jobs: dict[int, _Job] = {}  # row id -> job
        self._busy_chats: set[int] = set()
        # Guards against re-dispatching a row from a snapshot read before its outcome was
        # committed: row id -> completion sequence number.
        self._seq = 0
        self._finished: dict[int, int] = {}
        self._cooldown: dict[int, float] = {}  # row id -> monotonic time; DB trouble
        self._dispatch_lock = asyncio.Lock()
        self._waiters: set[asyncio.Event] = set()
        self._stopping = False
        self._running: asyncio.Future[None] | None = None
        self.stats: dict[str, int] = {
            "sent": 0,
            "retried_429": 0,
            "retried_transient": 0,
            "failed": 0,
            "dead": 0,
            "skipped_unreachable": 0,
            "coalesced": 0,
        }

    # ------------------------------------------------------------------ control

    @property
    def leadership(self) -> Leadership:
        """Who delivers the outbox among the processes sharing the database."""
        return self._leadership

    def wake(self) -> None:
        """Tell the sender new rows were committed; it looks at once (no DB access here)."""
        for waiter in self._waiters:
            waiter.set()

    async def run(self) -> None:
        """Deliver rows until stop(); rows left pending by an earlier process go out first.

        A stopped sender stays stopped: run() after stop() returns at once.
        """
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        self._running = asyncio.get_running_loop().create_future()
        try:
            while not self._stopping:
                waiter.clear()
                try:
                    tick = await self._dispatch()
                except Exception:
                    log.exception("outbox dispatch failed; retrying after the poll interval")
                    tick = _Tick()
                if self._stopping:
                    break
                await self._wait(waiter, self._sleep_for(tick, self.poll_interval))
        finally:
            self._waiters.discard(waiter)
            if not self._running.done():
                self._running.set_result(None)
            self._running = None

    async def stop(self) -> None:
        """Stop dispatching, let calls already made finish recording, abandon waiting ones."""
        self._stopping = True
        running = self._running
        self.wake()
        if running is not None:
            await asyncio.shield(running)
        jobs = list(self._jobs.values())
        for job in jobs:
            if not job.calling and job.task is not None:
                job.task.cancel()
        tasks = [job.task for job in jobs if job.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await self._leadership.release()

    async def drain(self, timeout: float = 10.0) -> None:
        """Deliver until nothing is in flight and no pending row falls due within `timeout`.

        Rows scheduled (by back-off or retry_after) to be tried after the deadline are left
        alone. Raises TimeoutError if work that is due within the deadline remains.
        """
        loop = asyncio.get_running_loop()
        loop_deadline = loop.time() + timeout
        wall_deadline = self._clock.now() + timedelta(seconds=timeout)
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        try:
            while True:
                waiter.clear()
                tick = await self._dispatch(draining=True)
                if (
                    not self._jobs
                    and tick.dispatched == 0
                    and not tick.blocked
                    and (tick.next_due is None or tick.next_due > wall_deadline)
                ):
                    return
                remaining = loop_deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError(
                        f"outbox not drained within {timeout}s: {len(self._jobs)} in flight"
                    )
                await self._wait(waiter, min(self._sleep_for(tick, remaining), remaining))
        finally:
            self._waiters.discard(waiter)

    def _real_seconds(self, limiter_seconds: float) -> float:
        return limiter_seconds / self._time_scale if self._time_scale > 0 else limiter_seconds

    def _sleep_for(self, tick: _Tick, cap: float) -> float:
        if tick.recheck_in is not None:
            cap = min(cap, tick.recheck_in)
        if tick.next_due is None:
            return max(0.0, cap)
        until_due = (tick.next_due - self._clock.now()).total_seconds()
        return max(0.0, min(cap, until_due))

    @staticmethod
    async def _wait(waiter: asyncio.Event, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter.wait(), seconds)

    # ------------------------------------------------------------------ dispatch

    @contextlib.asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncSession]:
        """A transaction that only reads: on SQLite it never waits for an update's write lock.

        Its snapshot may predate outcomes committed by jobs finishing meanwhile; `_finished`
        guards the dispatch against those, and a row's own chat history is settled before its
        job starts, so the look-ups of a job see all they need.
        """
        async with self._sessionmaker() as session, session.begin():
            await session.connection(execution_options=READ_ONLY)
            yield session

    async def _dispatch(self, *, draining: bool = False) -> _Tick:
        async with self._dispatch_lock:
            return await self._dispatch_locked(draining)

    async def _dispatch_locked(self, draining: bool) -> _Tick:
        if not await self._leads():
            # A standby: no outbox reads; look again when the leadership may be free.
            return _Tick(blocked=True, recheck_in=self._leadership.retry_interval)
        start_seq = self._seq
        heads = (
            select(func.min(OutboxMessage.id).label("head"), func.count().label("pending"))
            .where(OutboxMessage.status == PENDING, OutboxMessage.chat_id.is_not(None))
            .group_by(OutboxMessage.chat_id)
            .subquery()
        )
        columns = (
            OutboxMessage.id,
            OutboxMessage.chat_id,
            OutboxMessage.method,
            OutboxMessage.params,
            OutboxMessage.ref,
            OutboxMessage.attempts,
            OutboxMessage.failures,
            OutboxMessage.next_attempt_at,
            OutboxMessage.label,
            OutboxMessage.target_ref,
        )
        async with self._reading() as session:
            chat_rows = (
                await session.execute(
                    select(*columns, heads.c.pending)
                    .join(heads, OutboxMessage.id == heads.c.head)
                    .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                    .limit(self._batch_size)
                )
            ).all()
            free_rows = (
                await session.execute(
                    select(*columns)
                    .where(OutboxMessage.status == PENDING, OutboxMessage.chat_id.is_(None))
                    .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                    .limit(self._batch_size)
                )
            ).all()
        now = self._clock.now()
        mono = asyncio.get_running_loop().time()
        tick = _Tick()
        for raw in [*chat_rows, *free_rows]:
            row = _Row(
                id=raw.id,
                chat_id=raw.chat_id,
                method=raw.method,
                params=dict(raw.params or {}),
                ref=raw.ref,
                attempts=raw.attempts or 0,
                failures=raw.failures or 0,
                next_attempt_at=raw.next_attempt_at,
                label=raw.label,
                target_ref=raw.target_ref,
                alone=getattr(raw, "pending", 0) == 1,
            )
            if row.id in self._jobs:
                continue
            if row.id in self._finished:
                # Read before its outcome was committed: look again at once.
                tick.blocked = True
                tick.recheck_in = 0.0
                continue
            if row.chat_id is not None and row.chat_id in self._busy_chats:
                tick.blocked = True
                continue
            cooldown = self._cooldown.get(row.id)
            if cooldown is not None:
                if cooldown > mono:
                    tick.blocked = True
                    wait = cooldown - mono
                    tick.recheck_in = (
                        wait if tick.recheck_in is None else min(tick.recheck_in, wait)
                    )
                    continue
                del self._cooldown[row.id]
            if row.next_attempt_at > now:
                if tick.next_due is None or row.next_attempt_at < tick.next_due:
                    tick.next_due = row.next_attempt_at
                continue
            if (self._stopping and not draining) or len(self._jobs) >= self._max_jobs:
                tick.blocked = True
                continue
            self._start(row)
            tick.dispatched += 1
        # A leader renews (or re-checks) its leadership in time, however idle the outbox.
        renew = self._leadership.check_interval
        if tick.recheck_in is None or tick.recheck_in > renew:
            tick.recheck_in = renew
        # Outcomes committed before this read are visible in it; older guards can go.
        self._finished = {rid: seq for rid, seq in self._finished.items() if seq > start_seq}
        if len(self._chat_limiters) > 4096:
            self._forget_idle_limiters(self._monotonic())
        return tick

    async def _leads(self) -> bool:
        leading = await self._leadership.held()
        if leading != self._leading:
            self._leading = leading
            if leading:
                log.info("outbox sender leads: delivering")
            else:
                log.warning("outbox sender is standby: another process delivers")
        return leading

    def _start(self, row: _Row) -> None:
        job = _Job(row)
        self._jobs[row.id] = job
        if row.chat_id is not None:
            self._busy_chats.add(row.chat_id)
        job.task = asyncio.create_task(self._run_job(job), name=f"outbox-{row.id}")

    def _forget_idle_limiters(self, mono: float) -> None:
        for chat_id in list(self._chat_limiters):
            limiter = self._chat_limiters[chat_id]
            if chat_id in self._busy_chats:
                continue
            if limiter.bucket.idle(mono) and (limiter.group is None or limiter.group.idle(mono)):
                del self._chat_limiters[chat_id]

    # ------------------------------------------------------------------ one row

    async def _run_job(self, job: _Job) -> None:
        row = job.row
        try:
            await self._deliver(job)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception(
                "unexpected error delivering outbox row",
                extra={"outbox_id": row.id, "method": row.method},
            )
            try:
                await self._retry_transient(row, f"internal error: {_short(exc)}")
            except Exception:
                log.exception("could not record outbox outcome", extra={"outbox_id": row.id})
                self._cooldown[row.id] = asyncio.get_running_loop().time() + min(
                    self.backoff_max, max(self.backoff_base, 1.0)
                )
        finally:
            self._seq += 1
            self._finished[row.id] = self._seq
            self._jobs.pop(row.id, None)
            if row.chat_id is not None:
                self._busy_chats.discard(row.chat_id)
            self.wake()

    async def _deliver(self, job: _Job) -> None:
        row = job.row
        params = dict(row.params)
        message_ref = params.get("message_id")
        resolved_id: int | None = None
        if isinstance(message_ref, dict) and "ref" in message_ref:
            resolved_id = await self._resolve_ref(str(message_ref["ref"]), row.chat_id)
            if resolved_id is None:
                await self._fail(row, UNRESOLVED_REF)
                log.warning(
                    "outbox row refers to a message that was never sent",
                    extra={"outbox_id": row.id, "method": row.method, "chat_id": row.chat_id},
                )
                return
            params["message_id"] = resolved_id
        elif isinstance(message_ref, int):
            resolved_id = message_ref
        if row.method == "sendInvoice" and self._invoice_provider_token is not None:
            params.setdefault("provider_token", self._invoice_provider_token)
        tokens = _attachments(params)
        files = await self._load_files(tokens) if tokens else {}
        if set(files) != set(tokens):
            await self._fail(row, MISSING_FILE)
            return
        for name in files:
            del params[name]

        limiter = self._limiter_for(row)
        throttled = row.attempts > 0  # held back by a 429 or an error: the group is busy
        if limiter is not None:
            throttled = throttled or self._chat_delay(limiter, self._monotonic()) > 0
            await self._wait_chat(limiter)
        # Planned after the wait, so everything that queued up meanwhile can join this call.
        plan = _Plan(params)
        if self.coalesce_groups and row.chat_id is not None and row.chat_id < 0:
            room = (
                None
                if throttled or limiter is None or limiter.group is None
                else (limiter.group.free(self._monotonic()))
            )
            plan = await self._coalesce(row, params, room)
            params = plan.params
        semaphore = self._semaphore if limiter is not None else self._free_semaphore
        error: TransportError | None = None
        result: Any = None
        async with semaphore:
            if limiter is not None:
                await self._acquire_global(limiter)
            if not self._leadership.holding:
                # Lost the leadership while waiting: the row stays pending for the new leader.
                if limiter is not None:
                    self._release(limiter)
                log.info("outbox row left to the new leader", extra={"outbox_id": row.id})
                return
            job.calling = True
            try:
                result = await self._transport.call(row.method, params, files or None)
            except TransportError as exc:
                error = exc
            finally:
                if limiter is not None:
                    self._release(limiter)
        if error is None:
            message_id: int | None = None
            if isinstance(result, dict) and isinstance(result.get("message_id"), int):
                message_id = result["message_id"]
            await self._sent(row, message_id, plan)
            if tokens:
                await self._drop_files(tokens)
        elif isinstance(error, RetryAfter):
            await self._retry_after(row, error)
        elif isinstance(error, Forbidden):
            await self._forbidden(row, _short(error))
        elif isinstance(error, BadRequest):
            if _NOT_MODIFIED in str(error).lower():
                await self._sent(row, resolved_id, plan)
                return
            await self._fail(row, _short(error))
            log.warning(
                "Bot API refused an outbox call",
                extra={
                    "outbox_id": row.id,
                    "method": row.method,
                    "chat_id": row.chat_id,
                    "error": _short(error),
                },
            )
        else:  # TransientError or another TransportError subclass
            await self._retry_transient(row, _short(error))

    # ------------------------------------------------------------------ group coalescing

    async def _coalesce(self, row: _Row, params: dict[str, Any], room: int | None) -> _Plan:
        """Fold what waits behind `row` in its group into the one call (see bot/digest.py).

        Waiting cards join a new card as one digest message; pending edits of a card (or of
        any card sharing its digest) collapse into one edit showing the latest of each. Cards
        are combined only when the group's limit bites: the call had to wait, or was held back
        before, or `room` (free calls in the group's window) is less than the cards waiting.
        Only this chat's one job reads and settles its pending rows, so nothing races here.
        """
        if row.method == "sendMessage" and row.label is not None:
            return await self._bundle_cards(row, params, room)
        if row.method == "editMessageText" and row.target_ref is not None:
            return await self._merge_edits(row, params)
        return _Plan(params)

    async def _bundle_cards(self, row: _Row, params: dict[str, Any], room: int | None) -> _Plan:
        assert row.label is not None
        if row.alone and room is not None and room > 0:
            # Nothing was waiting behind it and the group has room: it goes alone, so the
            # read of what waits behind (a database round trip on every new order's card)
            # is saved. Rows committed since the dispatch read go in their own turn.
            return _Plan(params)
        behind = await self._pending_behind(row)
        edits = _edits_by_target(behind)
        now = self._clock.now()

        def card(label: str, ref: str | None, own: dict[str, Any]) -> tuple[CardContent, list[int]]:
            """A card as its latest pending edit shows it, and the edits that folds in."""
            later = edits.get(ref, []) if ref is not None else []
            content = CardContent.from_params(label, later[-1].params if later else own)
            return content, [edit.id for edit in later]

        head, absorbed = card(row.label, row.ref, params)
        cards = [head]
        waiting = sum(1 for o in behind if o.method == "sendMessage" and o.label is not None)
        for other in behind:
            if len(cards) >= self.max_digest_cards or (room is not None and room > waiting):
                break
            if other.method != "sendMessage" or other.label is None or other.next_attempt_at > now:
                continue
            candidate, folded = card(other.label, other.ref, other.params)
            if not fits([*cards, candidate]):
                break
            cards.append(candidate)
            absorbed += [other.id, *folded]
        if not absorbed:
            return _Plan(params)
        return _Plan(
            {**_without_content(params), **compose(cards)}, tuple(absorbed), len(cards) > 1
        )

    async def _merge_edits(self, row: _Row, params: dict[str, Any]) -> _Plan:
        assert row.chat_id is not None
        assert row.target_ref is not None
        behind = await self._pending_behind(row)
        edits = _edits_by_target(behind)
        # Only cards named by a ref can share a digest; "#<message_id>" targets never do.
        is_ref = not row.target_ref.startswith("#")
        members = await self._digest_members(row.chat_id, row.target_ref) if is_ref else []
        if not members:
            later = edits.get(row.target_ref, [])
            if not later:
                return _Plan(params)
            latest = CardContent.from_params("", later[-1].params)
            return _Plan(
                {**_without_content(params), **compose([latest])},
                tuple(edit.id for edit in later),
            )
        shown = await self._shown_contents(row.chat_id, [ref for ref, _ in members])
        cards: list[CardContent] = []
        absorbed: list[int] = []
        for ref, label in members:
            later = edits.get(ref, [])
            absorbed.extend(edit.id for edit in later)
            if later:
                content: dict[str, Any] | None = later[-1].params
            elif ref == row.target_ref:
                content = params
            else:
                content = shown.get(ref)
            if content is not None:
                cards.append(CardContent.from_params(label, content))
        return _Plan({**_without_content(params), **compose(cards)}, tuple(absorbed))

    async def _pending_behind(self, row: _Row) -> list[Any]:
        """The chat's pending rows after `row`, in order (capped at one batch)."""
        async with self._reading() as session:
            result = await session.execute(
                select(
                    OutboxMessage.id,
                    OutboxMessage.method,
                    OutboxMessage.params,
                    OutboxMessage.ref,
                    OutboxMessage.label,
                    OutboxMessage.target_ref,
                    OutboxMessage.next_attempt_at,
                )
                .where(
                    OutboxMessage.chat_id == row.chat_id,
                    OutboxMessage.status == PENDING,
                    OutboxMessage.id > row.id,
                )
                .order_by(OutboxMessage.id)
                .limit(self._batch_size)
            )
            return list(result.all())

    async def _digest_members(self, chat_id: int, ref: str) -> list[tuple[str, str]]:
        """(ref, label) of every card in the digest message now showing `ref`; [] if alone."""
        async with self._reading() as session:
            bundle_id = await session.scalar(
                select(OutboxMessage.bundle_id)
                .where(
                    OutboxMessage.chat_id == chat_id,
                    OutboxMessage.ref == ref,
                    OutboxMessage.status == SENT,
                    OutboxMessage.method == "sendMessage",
                )
                .order_by(OutboxMessage.id.desc())
                .limit(1)
            )
            if bundle_id is None:
                return []
            rows = await session.execute(
                select(OutboxMessage.ref, OutboxMessage.label)
                .where(
                    OutboxMessage.bundle_id == bundle_id,
                    OutboxMessage.method == "sendMessage",
                    OutboxMessage.ref.is_not(None),
                )
                .order_by(OutboxMessage.id)
            )
            return [(str(ref), str(label or "")) for ref, label in rows.all()]

    async def _shown_contents(self, chat_id: int, refs: list[str]) -> dict[str, dict[str, Any]]:
        """The parameters of the last delivered send or edit of each card, by ref."""
        async with self._reading() as session:
            rows = await session.execute(
                select(OutboxMessage.ref, OutboxMessage.target_ref, OutboxMessage.params)
                .where(
                    OutboxMessage.chat_id == chat_id,
                    OutboxMessage.status == SENT,
                    or_(
                        and_(
                            OutboxMessage.ref.in_(refs),
                            OutboxMessage.method == "sendMessage",
                        ),
                        and_(
                            OutboxMessage.target_ref.in_(refs),
                            OutboxMessage.method == "editMessageText",
                        ),
                    ),
                )
                .order_by(OutboxMessage.id)
            )
            shown: dict[str, dict[str, Any]] = {}
            for ref, target_ref, row_params in rows.all():
                shown[str(target_ref or ref)] = dict(row_params or {})
            return shown

    def _limiter_for(self, row: _Row) -> _ChatLimiter | None:
        if row.chat_id is None or row.method.lower() in UNLIMITED_METHODS:
            return None
        limiter = self._chat_limiters.get(row.chat_id)
        if limiter is None:
            limits = self.limits
            limiter = _ChatLimiter(
                bucket=TokenBucket(
                    limits.per_chat_burst,
                    limits.per_chat_per_second,
                    limits.safety_margin,
                    self._monotonic(),
                ),
                group=(
                    SlidingWindow(
                        limits.group_per_minute, limits.group_window_seconds, limits.safety_margin
                    )
                    if row.chat_id < 0
                    else None
                ),
            )
            self._chat_limiters[row.chat_id] = limiter
        return limiter

    @staticmethod
    def _chat_delay(limiter: _ChatLimiter, now: float) -> float:
        delay = limiter.bucket.delay(now)
        if limiter.group is not None:
            delay = max(delay, limiter.group.delay(now) or 0.0)
        return delay

    async def _wait_chat(self, limiter: _ChatLimiter) -> None:
        # Waiting here holds no semaphore slot, so a throttled chat never delays other chats.
        # Only this chat's one job touches its limiter, so the answer cannot get worse later.
        while (delay := self._chat_delay(limiter, self._monotonic())) > 0:
            await self._sleep(delay)

    async def _acquire_global(self, limiter: _ChatLimiter) -> None:
        while True:
            now = self._monotonic()
            delay = self._global.delay(now)
            if delay is not None and delay <= 0:
                # Checked and accounted with no await in between: atomic on the event loop.
                self._global.begin()
                if limiter.group is not None:
                    limiter.group.begin()
                return
            freed = self._global_freed
            if delay is None:
                await freed.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(freed.wait(), self._real_seconds(delay))

    def _release(self, limiter: _ChatLimiter) -> None:
        # Accounted at the answer, which is never earlier than the server saw the call.
        now = self._monotonic()
        self._global.finish(now)
        limiter.bucket.take(now)
        if limiter.group is not None:
            limiter.group.finish(now)
        freed, self._global_freed = self._global_freed, asyncio.Event()
        freed.set()

    async def _load_files(self, tokens: dict[str, str]) -> dict[str, tuple[str, bytes]]:
        """The files named by {"attach": token} parameters, by parameter name."""
        async with self._reading() as session:
            rows = await session.execute(
                select(OutboxFile.token, OutboxFile.filename, OutboxFile.data).where(
                    OutboxFile.token.in_(tokens.values())
                )
            )
            found = {token: (filename, bytes(data)) for token, filename, data in rows.all()}
        return {name: found[token] for name, token in tokens.items() if token in found}

    async def _drop_files(self, tokens: dict[str, str]) -> None:
        async with self._sessionmaker() as session, session.begin():
            await session.execute(delete(OutboxFile).where(OutboxFile.token.in_(tokens.values())))

    async def _resolve_ref(self, ref: str, chat_id: int | None) -> int | None:
        chat_match = (
            OutboxMessage.chat_id.is_(None) if chat_id is None else OutboxMessage.chat_id == chat_id
        )
        async with self._reading() as session:
            value = await session.scalar(
                select(OutboxMessage.message_id)
                .where(
                    OutboxMessage.ref == ref,
                    OutboxMessage.status == SENT,
                    OutboxMessage.message_id.is_not(None),
                    chat_match,
                )
                .order_by(OutboxMessage.id.desc())
                .limit(1)
            )
        return int(value) if value is not None else None

    # ------------------------------------------------------------------ outcomes

    async def _set(self, session: AsyncSession, row: _Row, **values: Any) -> bool:
        result = cast(
            CursorResult[Any],
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id, OutboxMessage.status == PENDING)
                .values(**values)
                .execution_options(synchronize_session=False)
            ),
        )
        if result.rowcount != 1:
            log.warning(
                "outbox row changed under the sender; outcome not recorded",
                extra={"outbox_id": row.id, "values": sorted(values)},
            )
            return False
        return True

    async def _sent(self, row: _Row, message_id: int | None, plan: _Plan | None = None) -> None:
        now = self._clock.now()
        bundle_id = row.id if plan is not None and plan.bundled else None
        async with self._sessionmaker() as session, session.begin():
            await self._set(
                session,
                row,
                status=SENT,
                sent_at=now,
                message_id=message_id,
                attempts=row.attempts + 1,
                last_error=None,
                bundle_id=bundle_id,
            )
            if plan is not None and plan.absorbed:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(plan.absorbed), OutboxMessage.status == PENDING)
                    .values(
                        status=SENT,
                        sent_at=now,
                        message_id=message_id,
                        attempts=OutboxMessage.attempts + 1,
                        last_error=None,
                        bundle_id=bundle_id,
                    )
                    .execution_options(synchronize_session=False)
                )
        if plan is not None:
            self.stats["coalesced"] += len(plan.absorbed)
        self.stats["sent"] += 1
        log.debug("outbox row sent", extra={"outbox_id": row.id, "method": row.method})

    async def _fail(self, row: _Row, error: str) -> None:
        async with self._sessionmaker() as session, session.begin():
            await self._set(session, row, status=FAILED, last_error=error)
        self.stats["failed"] += 1

    async def _retry_after(self, row: _Row, exc: RetryAfter) -> None:
        delay = max(float(exc.retry_after), 0.0)
        due = self._clock.now() + timedelta(seconds=delay)
        async with self._sessionmaker() as session, session.begin():
            await self._set(
                session,
                row,
                attempts=row.attempts + 1,
                next_attempt_at=due,
                last_error=_short(exc),
            )
        self.stats["retried_429"] += 1
        log.warning(
            "Bot API answered 429; holding the chat",
            extra={"outbox_id": row.id, "chat_id": row.chat_id, "retry_after": delay},
        )

    def backoff(self, attempts: int) -> float:
        """Seconds to wait before the next try after `attempts` failed ones (with jitter)."""
        exponent = min(max(attempts - 1, 0), 62)
        ceiling = min(self.backoff_max, self.backoff_base * (2.0**exponent))
        return ceiling * random.uniform(0.5, 1.0)  # jitter, not cryptography

    async def _retry_transient(self, row: _Row, error: str) -> None:
        attempts = row.attempts + 1
        failures = row.failures + 1
        if failures >= self.max_attempts:
            async with self._sessionmaker() as session, session.begin():
                await self._set(
                    session,
                    row,
                    status=DEAD,
                    attempts=attempts,
                    failures=failures,
                    last_error=error,
                )
            self.stats["dead"] += 1
            log.error(
                "outbox row given up after repeated transient errors",
                extra={
                    "outbox_id": row.id,
                    "method": row.method,
                    "chat_id": row.chat_id,
                    "attempts": attempts,
                    "error": error,
                },
            )
            return
        due = self._clock.now() + timedelta(seconds=self.backoff(failures))
        async with self._sessionmaker() as session, session.begin():
            await self._set(
                session,
                row,
                attempts=attempts,
                failures=failures,
                next_attempt_at=due,
                last_error=error,
            )
        self.stats["retried_transient"] += 1
        log.info(
            "transient Bot API error; will retry",
            extra={"outbox_id": row.id, "method": row.method, "attempts": attempts},
        )

    async def _forbidden(self, row: _Row, error: str) -> None:
        now = self._clock.now()
        skipped = 0
        async with self._sessionmaker() as session, session.begin():
            await self._set(
                session, row, status=FAILED, attempts=row.attempts + 1, last_error=error
            )
            if row.chat_id is not None:
                result = cast(
                    CursorResult[Any],
                    await session.execute(
                        update(OutboxMessage)
                        .where(
                            OutboxMessage.chat_id == row.chat_id,
                            OutboxMessage.status == PENDING,
                            OutboxMessage.id != row.id,
                        )
                        .values(status=SKIPPED, last_error=f"chat unreachable: {error}")
                        .execution_options(synchronize_session=False)
                    ),
                )
                skipped = max(result.rowcount, 0)
                if row.chat_id > 0:
                    await session.execute(
                        update(Customer)
                        .where(Customer.telegram_id == row.chat_id, Customer.reachable.is_(True))
                        .values(reachable=False, unreachable_since=now, updated_at=now)
                        .execution_options(synchronize_session=False)
                    )
        self.stats["failed"] += 1
        self.stats["skipped_unreachable"] += skipped
        if row.chat_id is not None and row.chat_id < 0:
            log.warning(
                "bot cannot write to a group; its pending messages are skipped",
                extra={"outbox_id": row.id, "chat_id": row.chat_id, "skipped": skipped},
            )
        else:
            log.info(
                "customer blocked the bot; marked unreachable",
                extra={"outbox_id": row.id, "chat_id": row.chat_id, "skipped": skipped},
            )
