"""Composition root: builds the bot from settings and runs it by long polling or webhook."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.campaigns import CampaignWorker
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.leader import sender_leadership
from bot.jobs import JobRunner
from bot.membership import GroupAdmins
from bot.metrics import Metrics, Observability, make_observability_app
from bot.pipeline import UpdatePipeline
from bot.reports import ReportWorker
from bot.sender import OutboxSender, SendLimits
from bot.settings import Settings
from bot.transport import (
    BotApiTransport,
    RetryAfter,
    TransientError,
    TransportError,
    Unauthorized,
)
from bot.webhook import make_webhook_app, webhook_path
from domain.clock import Clock, SystemClock
from handlers.callbacks import CallbackCodec
from handlers.commands import command_menu_calls
from handlers.core import ConversationCore, CoreConfig
from handlers.i18n import Translator

log = logging.getLogger(__name__)
ALLOWED_UPDATES = ["message", "callback_query", "pre_checkout_query", "my_chat_member"]


class Runtime(Protocol):
    """What a bot framework contributes: a transport and a long-polling update source."""

    name: str

    @property
    def transport(self) -> BotApiTransport:
        """The Bot API caller the outbox sender uses."""
        ...

    async def fetch_updates(
        self, offset: int | None, timeout: int, allowed_updates: list[str]
    ) -> list[dict[str, Any]]:
        """Long-poll for updates, returned as raw JSON dicts."""
        ...

    async def close(self) -> None:
        """Release HTTP resources."""
        ...


def create_runtime(settings: Settings) -> Runtime:
    """The one place a framework is chosen, from O2O_RUNTIME."""
    token = settings.token
    if token is None:
        raise ValueError("O2O_BOT_TOKEN is required to run the bot")
    if settings.runtime == "aiogram":
        from bot.runtime_aiogram import AiogramRuntime

        return AiogramRuntime(
            token, settings.telegram_api_url, polling_timeout=settings.polling_timeout
        )
    if settings.runtime == "ptb":
        from bot.runtime_ptb import PtbRuntime

        return PtbRuntime(
            token, settings.telegram_api_url, polling_timeout=settings.polling_timeout
        )
    raise ValueError(f"O2O_RUNTIME={settings.runtime}: expected aiogram or ptb")


class BotApp:
    """The running bot: database, conversation core, pipeline, outbox sender and a runtime."""

    def __init__(
        self,
        settings: Settings,
        *,
        runtime: Runtime | None = None,
        clock: Clock | None = None,
        send_limits: SendLimits | None = None,
    ) -> None:
        self.settings = settings
        self.runtime = runtime or create_runtime(settings)
        self.clock = clock or SystemClock()
        self.send_limits = send_limits or SendLimits()
        self.engine: AsyncEngine = create_engine(settings.database_url)
        self.sessionmaker: async_sessionmaker[AsyncSession] = create_sessionmaker(self.engine)
        self.translator = Translator.default(settings.default_locale)
        provider = settings.payment_provider_token
        self.sender = OutboxSender(
            self.sessionmaker,
            self.runtime.transport,
            clock=self.clock,
            limits=self.send_limits,
            invoice_provider_token=provider.get_secret_value() if provider else None,
            # Several `o2o run` processes may share the database: one delivers at a time.
            leadership=sender_leadership(
                self.engine, self.sessionmaker, lease_seconds=settings.sender_lease_seconds
            ),
        )
        self.jobs = JobRunner(
            self.sessionmaker,
            self.clock,
            self.sender.wake,
            self.translator,
            config=CoreConfig(
                bot_username="",
                default_locale=settings.default_locale,
                admin_ids=frozenset(settings.admin_ids),
            ),
            codec=CallbackCodec(settings.callback_key()),
        )
        self.reports = ReportWorker(
            self.sessionmaker,
            self.engine,
            self.clock,
            self.translator,
            CallbackCodec(settings.callback_key()),
            self.sender.wake,
        )
        self.metrics = Metrics()
        self.observability = Observability(
            self.metrics, self.sessionmaker, self.clock, lambda: self.sender.stats
        )
        self.pipeline: UpdatePipeline | None = None
        self.bot_username = ""
        self._stop = asyncio.Event()
        self._sender_task: asyncio.Task[None] | None = None
        self._jobs_task: asyncio.Task[None] | None = None
        self._reports_task: asyncio.Task[None] | None = None
        self.campaigns: CampaignWorker | None = None
        self._campaigns_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Identify the bot, register its command menus and start the outbox sender."""
        try:
            me = await self._call_with_retry("getMe", {})
        except Unauthorized:
            raise ValueError(
                f"O2O_BOT_TOKEN: refused by the Bot API at {self.settings.telegram_api_url}"
            ) from None
        self.bot_username = str(me.get("username", ""))
        config = CoreConfig(
            bot_username=self.bot_username,
            default_locale=self.settings.default_locale,
            admin_ids=frozenset(self.settings.admin_ids),
            payments=self.settings.payment_provider_token is not None,
        )
        codec = CallbackCodec(self.settings.callback_key())
        core = ConversationCore(config, self.translator, codec)
        self.campaigns = CampaignWorker(
            self.sessionmaker,
            self.engine,
            self.clock,
            self.translator,
            codec,
            config,
            self.sender.wake,
            planner=self.sender.leadership,
        )
        self.pipeline = UpdatePipeline(
            self.sessionmaker,
            core,
            self.clock,
            self.sender.wake,
            group_admins=GroupAdmins(self.runtime.transport).is_admin,
            metrics=self.metrics,
            wake_reports=self.reports.wake,
            wake_campaigns=self.campaigns.wake,
        )
        for call in command_menu_calls(self.translator):
            try:
                await self.runtime.transport.call(call.method, call.params)
            except TransportError as exc:
                log.warning("setMyCommands failed", extra={"error": str(exc)})
        self._sender_task = asyncio.create_task(self.sender.run(), name="outbox-sender")
        self._jobs_task = asyncio.create_task(self.jobs.run(), name="due-jobs")
        self._reports_task = asyncio.create_task(self.reports.run(), name="reports")
        self._campaigns_task = asyncio.create_task(self.campaigns.run(), name="campaigns")
        log.info("bot started", extra={"runtime": self.runtime.name, "bot": self.bot_username})

    def request_stop(self) -> None:
        """Ask run_polling / run_webhook to return."""
        self._stop.set()

    async def run_polling(self) -> None:
        """Long-poll updates until stopped; each update is processed before the offset moves."""
        pipeline = self._require_pipeline()
        async with self._metrics_server():
            await self._poll(pipeline)

    async def _poll(self, pipeline: UpdatePipeline) -> None:
        await self._call_with_retry("deleteWebhook", {"drop_pending_updates": False})
        offset: int | None = None
        failures = 0
        while not self._stop.is_set():
            try:
                updates = await self._interruptible(
                    self.runtime.fetch_updates(
                        offset, self.settings.polling_timeout, ALLOWED_UPDATES
                    )
                )
            except RetryAfter as exc:
                await self._sleep(exc.retry_after)
                continue
            except TransportError as exc:
                failures += 1
                log.warning("getUpdates failed", extra={"error": str(exc), "failures": failures})
                await self._sleep(min(30.0, 0.5 * 2 ** min(failures, 6)))
                continue
            except Exception:
                # Whatever a framework raises, polling goes on: a dead poller loses the shop.
                failures += 1
                log.exception("getUpdates raised unexpectedly", extra={"failures": failures})
                await self._sleep(min(30.0, 0.5 * 2 ** min(failures, 6)))
                continue
            if updates is None:
                break
            failures = 0
            for update in updates:
                try:
                    await pipeline.process(update)
                except DBAPIError:
                    log.exception("database unavailable; will fetch the update again")
                    await self._sleep(2.0)
                    break
                offset = int(update["update_id"]) + 1

    async def run_webhook(self) -> None:
        """Serve the webhook and register it with the Bot API until stopped."""
        pipeline = self._require_pipeline()
        url, secret = self.settings.webhook_url, self.settings.webhook_secret
        if not url or secret is None:
            raise ValueError("O2O_WEBHOOK_URL and O2O_WEBHOOK_SECRET are required for --webhook")
        app = make_webhook_app(
            pipeline, secret.get_secret_value(), webhook_path(url), self.observability
        )
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.settings.webhook_host, self.settings.webhook_port)
        await site.start()
        try:
            await self._call_with_retry(
                "setWebhook",
                {
                    "url": url,
                    "secret_token": secret.get_secret_value(),
                    "allowed_updates": ALLOWED_UPDATES,
                },
            )
            log.info("webhook serving", extra={"port": self.settings.webhook_port})
            async with self._metrics_server(skip_port=self.settings.webhook_port):
                await self._stop.wait()
        finally:
            await runner.cleanup()

    @contextlib.asynccontextmanager
    async def _metrics_server(self, skip_port: int | None = None) -> AsyncIterator[None]:
        """Serve /metrics and /healthz on O2O_METRICS_PORT (if set and not the webhook's)."""
        port = self.settings.metrics_port
        if port is None or port == skip_port:
            yield
            return
        runner = web.AppRunner(make_observability_app(self.observability), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.settings.metrics_host, port).start()
            log.info("metrics serving", extra={"port": port})
            yield
        finally:
            await runner.cleanup()

    async def close(self) -> None:
        """Stop the sender (finishing in-flight calls), close HTTP and the database."""
        self._stop.set()
        if self._jobs_task is not None:
            await self.jobs.stop()
            await self._jobs_task
        if self._reports_task is not None:
            await self.reports.stop()
            await self._reports_task
        if self._campaigns_task is not None and self.campaigns is not None:
            await self.campaigns.stop()
            await self._campaigns_task
        if self._sender_task is not None:
            await self.sender.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender_task
        await self.runtime.close()
        await self.engine.dispose()

    def _require_pipeline(self) -> UpdatePipeline:
        if self.pipeline is None:
            raise RuntimeError("BotApp.start() must be awaited first")
        return self.pipeline

    async def _call_with_retry(self, method: str, params: dict[str, Any]) -> Any:
        delay = 0.5
        while True:
            try:
                return await self.runtime.transport.call(method, params)
            except RetryAfter as exc:
                await asyncio.sleep(exc.retry_after)
            except Unauthorized:
                raise
            except TransientError as exc:
                log.warning("Bot API unavailable", extra={"method": method, "error": str(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)

    async def _interruptible(self, awaitable: Any) -> Any:
        """Await `awaitable` unless a stop is requested first (then None)."""
        task = asyncio.ensure_future(awaitable)
        stopper = asyncio.ensure_future(self._stop.wait())
        done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            stopper.cancel()
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TransportError):
            await task
        return None
