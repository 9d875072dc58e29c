"""`o2o push plan` and `o2o push run`: the /push campaign from the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from bot.settings import Settings

BAR_WIDTH = 30


def register_push_commands(commands: Any) -> None:
    """Add `push plan` and `push run` to the `o2o` sub-parser collection."""
    push = commands.add_parser(
        "push",
        help="push campaigns per RFM segment: plan (a draft per store), run (send one)",
    )
    actions = push.add_subparsers(dest="push_command", required=True, metavar="ACTION")
    plan = actions.add_parser(
        "plan",
        help="plan a draft campaign per store and print it",
        description="Score each store's customers by RFM, choose each segment's push (the "
        "store's push_policy) and save a draft campaign; `o2o push run --campaign ID` sends it.",
    )
    plan.add_argument("--store", metavar="CODE", help="one store (default: every store)")
    plan.add_argument("--json", action="store_true", help="print JSON instead of text")
    plan.add_argument("--seed", type=int, default=0, help="recommender seed (default 0)")
    run = actions.add_parser(
        "run",
        help="send a planned campaign, with a progress bar",
        description="Start the campaign and send it through the outbox within Telegram's "
        "limits (needs O2O_BOT_TOKEN). While the bot runs (`o2o run`), the one sender holding "
        "the database's sender leadership delivers, so nothing goes out twice. With --follow, "
        "only start it and show the progress (no token needed).",
    )
    run.add_argument("--campaign", type=int, required=True, metavar="ID")
    run.add_argument(
        "--follow", action="store_true", help="let the running bot send; just show progress"
    )


def _error(message: str) -> Exception:
    from bot.cli import CliError  # bot.cli imports this module: import at call time

    return CliError(message)


def run_push_command(settings: Settings, args: argparse.Namespace) -> int:
    """`o2o push plan|run`."""
    from bot.stats_cli import _require_database

    _require_database(settings)
    if args.push_command == "plan":
        return asyncio.run(_plan(settings, args))
    return asyncio.run(_run(settings, args))


async def _plan(settings: Settings, args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from bot.campaigns import CampaignError, plan_campaign, preview_text, product_names
    from bot.db import models
    from bot.db.engine import create_engine, create_sessionmaker
    from bot.db.migrate import upgrade_async
    from domain.clock import SystemClock
    from handlers.i18n import Translator

    await upgrade_async(settings.database_url)
    engine = create_engine(settings.database_url)
    sessionmaker = create_sessionmaker(engine)
    translator = Translator.default(settings.default_locale)
    locale = settings.default_locale
    try:
        async with sessionmaker() as session:
            codes = list(await session.scalars(select(models.Store.code).order_by(models.Store.id)))
        if args.store is not None:
            if args.store not in codes:
                raise _error(f"--store: no store {args.store!r}")
            codes = [args.store]
        plans = []
        for code in codes:
            try:
                plan = await plan_campaign(
                    sessionmaker,
                    engine,
                    code,
                    SystemClock().now(),
                    origin="cli",
                    locale=locale,
                    seed=args.seed,
                )
            except CampaignError as exc:
                raise _error(str(exc)) from None
            plans.append(plan)
        if args.json:
            print(json.dumps([plan.to_json() for plan in plans], ensure_ascii=False, indent=2))
            return 0
        for plan in plans:
            ids = sorted({int(item) for s in plan.segments for item, _ in s.sample})
            async with engine.connect() as conn:
                names = await product_names(conn, ids, locale)
            print(_plain(preview_text(translator, locale, plan, names)))
            if plan.pushes:
                print(f"→ o2o push run --campaign {plan.id}")
            print()
    finally:
        await engine.dispose()
    return 0


def _plain(text: str) -> str:
    """Chat text for a terminal: tags dropped, entities decoded."""
    import html
    import re

    return html.unescape(re.sub(r"</?[a-z]+[^>]*>", "", text))


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.campaigns import CampaignWorker, campaign_progress
    from bot.db import models
    from bot.db.engine import create_engine, create_sessionmaker
    from bot.db.migrate import upgrade_async
    from domain.clock import SystemClock
    from handlers.callbacks import CallbackCodec
    from handlers.i18n import Translator
    from handlers.turn import CoreConfig

    if settings.token is None and not args.follow:
        raise _error("O2O_BOT_TOKEN is not set (or pass --follow while `o2o run` sends)")
    await upgrade_async(settings.database_url)
    engine = create_engine(settings.database_url)
    sessionmaker = create_sessionmaker(engine)
    clock = SystemClock()
    try:
        async with sessionmaker() as session, session.begin():
            campaign = await session.get(models.Campaign, args.campaign)
            if campaign is None:
                raise _error(f"--campaign: no campaign {args.campaign}")
            if campaign.status == "draft":
                campaign.status, campaign.confirmed_at = "running", clock.now()
            elif campaign.status != "running":
                raise _error(f"campaign {args.campaign} is {campaign.status}; plan a new one")
        if args.follow:
            return await _follow(sessionmaker, args.campaign, campaign_progress)
        from bot.app import create_runtime
        from bot.db.leader import sender_leadership
        from bot.sender import OutboxSender

        runtime = create_runtime(settings)
        me = await runtime.transport.call("getMe", {})
        config = CoreConfig(
            bot_username=str(me.get("username", "")),
            default_locale=settings.default_locale,
            admin_ids=frozenset(settings.admin_ids),
        )
        # Only one sender delivers at a time: a running bot keeps it, this one then waits.
        sender = OutboxSender(
            sessionmaker,
            runtime.transport,
            clock=clock,
            leadership=sender_leadership(
                engine, sessionmaker, lease_seconds=settings.sender_lease_seconds
            ),
        )
        worker = CampaignWorker(
            sessionmaker,
            engine,
            clock,
            Translator.default(settings.default_locale),
            CallbackCodec(settings.callback_key()),
            config,
            sender.wake,
        )
        sending = asyncio.create_task(sender.run(), name="outbox-sender")
        feeding = asyncio.create_task(_feed_until_done(worker), name="campaign")
        try:
            return await _follow(sessionmaker, args.campaign, campaign_progress, feeding)
        finally:
            feeding.cancel()
            await sender.stop()
            await asyncio.gather(sending, feeding, return_exceptions=True)
            await runtime.close()
    finally:
        await engine.dispose()


async def _feed_until_done(worker: Any) -> None:
    """Feed the campaign to the outbox until it is no longer running."""
    running = True
    while running:
        running = await worker.run_once() > 0
        if running:
            await asyncio.sleep(worker.poll_interval)


async def _follow(
    sessionmaker: Any, campaign_id: int, progress_of: Any, feeding: asyncio.Task[None] | None = None
) -> int:
    """Draw the progress bar until the campaign is done; 0 when every push was settled."""
    from bot.db import models

    while True:
        async with sessionmaker() as session:
            progress = await progress_of(session, campaign_id)
            status = (await session.get(models.Campaign, campaign_id)).status
        settled = progress.total - progress.left
        filled = round(BAR_WIDTH * settled / progress.total) if progress.total else BAR_WIDTH
        line = (
            f"\rcampaign {campaign_id} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
            f"{settled}/{progress.total} sent {progress.sent} failed {progress.failed} "
            f"skipped {progress.skipped}"
        )
        print(line, end="", file=sys.stderr, flush=True)
        if status != "running":
            print(file=sys.stderr)
            print(
                json.dumps(
                    {
                        "campaign": campaign_id,
                        "status": status,
                        "sent": progress.sent,
                        "failed": progress.failed,
                        "skipped": progress.skipped,
                        "left": progress.left,
                    }
                )
            )
            return 0
        if feeding is not None and feeding.done():
            feeding.result()  # a worker error surfaces here
        await asyncio.sleep(0.5)
