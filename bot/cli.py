"""The `o2o` command line: migrate, run, demo, sandbox, seed, simulate."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from datetime import date

from bot.admin.cli import AdminError, register_admin_commands, run_admin_command
from bot.push_cli import register_push_commands, run_push_command
from bot.recommend_cli import register_recommend_commands, run_recommend_command
from bot.rfm_cli import register_rfm_command, run_rfm_command
from bot.settings import Settings, SettingsError, load_settings
from bot.stats_cli import register_stats_commands, run_export_command, run_stats_command

EXIT_USAGE = 2


class CliError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every `o2o` sub-command."""
    parser = argparse.ArgumentParser(
        prog="o2o",
        description="o2o-bot: a Telegram front end for online-to-offline commerce. "
        "Configuration comes from O2O_* environment variables or a .env file.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    migrate = commands.add_parser(
        "migrate", help="upgrade the database (O2O_DATABASE_URL) to the latest schema"
    )
    migrate.add_argument("--revision", default="head", help="target revision (default: head)")

    run = commands.add_parser("run", help="run the bot (long polling, or --webhook)")
    run.add_argument(
        "--webhook",
        action="store_true",
        help="serve the webhook on O2O_WEBHOOK_HOST:O2O_WEBHOOK_PORT and register O2O_WEBHOOK_URL",
    )

    demo = commands.add_parser(
        "demo",
        help="offline demo: fake Bot API + real bot + scripted customers, prints a transcript",
    )
    demo.add_argument("--db", metavar="PATH", help="SQLite file to use (default: a temporary file)")
    demo.add_argument(
        "--runtime", choices=["aiogram", "ptb"], default="aiogram", help="bot framework to run on"
    )
    demo.add_argument("--chart", metavar="FILE.png", help="save the /stats chart the demo makes")

    sandbox = commands.add_parser(
        "sandbox",
        help="browser playground: customer, staff-group and manager chats against the real bot",
        description="Start the fake Bot API, the real bot against it (demo stores, catalog and a "
        "simulated history) and a local web page with a customer's chat, the staff group and "
        "the manager's chat side by side. Runs until Ctrl-C.",
    )
    sandbox.add_argument("--port", type=int, default=8080, help="port of the page (default: 8080)")
    sandbox.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1; anyone who can reach it can use the bot)",
    )
    sandbox.add_argument(
        "--runtime", choices=["aiogram", "ptb"], default="aiogram", help="bot framework to run on"
    )
    sandbox.add_argument(
        "--db",
        metavar="URL",
        help="database URL or SQLite file path, kept between runs (default: a temporary file)",
    )
    sandbox.add_argument(
        "--no-history", action="store_true", help="skip the simulated order history"
    )

    commands.add_parser("seed", help="add the demo stores and catalog to an empty database")

    simulate = commands.add_parser(
        "simulate",
        help="write a realistic, reproducible order history (for /stats, RFM, recommendations)",
        description="Simulate customers, orders, surveys and bookings into the database (the demo "
        "stores and catalog are added when it has no stores). The same arguments give the same "
        "rows. Refused when the database holds simulated customers already.",
    )
    simulate.add_argument("--customers", type=int, required=True, help="number of customers")
    simulate.add_argument("--days", type=int, required=True, help="length of the history")
    simulate.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    simulate.add_argument(
        "--end",
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="the history stops at 00:00 UTC of this day (default: today)",
    )
    simulate.add_argument("--db", metavar="URL", help="database URL (default: O2O_DATABASE_URL)")
    register_admin_commands(commands)
    register_stats_commands(commands)
    register_rfm_command(commands)
    register_recommend_commands(commands)
    register_push_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `o2o` console script."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        from bot.logs import configure_logging

        level = settings.log_level
        quiet = args.command in ("demo", "sandbox")
        if quiet and "log_level" not in settings.model_fields_set:
            # The transcript (the sandbox's page) is the output; INFO lines would bury it.
            level = "WARNING"
        secrets = (settings.bot_token, settings.webhook_secret, settings.payment_provider_token)
        configure_logging(
            level,
            settings.log_format,
            secrets=[secret.get_secret_value() for secret in secrets if secret is not None],
        )
        handlers = {"migrate": _migrate, "run": _run, "demo": _demo, "seed": _seed}
        handlers["simulate"] = _simulate
        handlers["sandbox"] = _sandbox
        handlers.update(stats=run_stats_command, export=run_export_command)
        handlers["recommend"] = run_recommend_command
        handlers["rfm"] = run_rfm_command
        handlers["push"] = run_push_command
        handler = handlers.get(args.command, run_admin_command)
        return handler(settings, args)
    except (SettingsError, CliError, AdminError) as exc:
        print(f"o2o: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from bot.db.migrate import current_revision, upgrade

    upgrade(settings.database_url, args.revision)
    print(f"database at revision {current_revision(settings.database_url)}")
    return 0


def _run(settings: Settings, args: argparse.Namespace) -> int:
    if settings.token is None:
        raise CliError("O2O_BOT_TOKEN is not set (use `o2o demo` to try the bot offline)")
    if args.webhook and not settings.webhook_url:
        raise CliError("O2O_WEBHOOK_URL: required for `o2o run --webhook`")
    return asyncio.run(_run_async(settings, webhook=args.webhook))


async def _run_async(settings: Settings, *, webhook: bool) -> int:
    from bot.app import BotApp
    from bot.db.migrate import upgrade_async

    try:
        app = BotApp(settings)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    await upgrade_async(settings.database_url)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, app.request_stop)
    try:
        try:
            await app.start()
        except ValueError as exc:
            raise CliError(str(exc)) from None
        await (app.run_webhook() if webhook else app.run_polling())
    finally:
        await app.close()
    return 0


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    return asyncio.run(
        run_demo(settings, db_path=args.db, runtime=args.runtime, chart_path=args.chart)
    )


def _sandbox(settings: Settings, args: argparse.Namespace) -> int:
    from bot.sandbox.server import serve_sandbox
    from bot.sandbox.stack import SandboxInputError, database_url_from

    if not 0 < args.port < 65536:
        raise CliError("--port: 1 to 65535")
    try:
        database_url = database_url_from(args.db) if args.db else None
    except SandboxInputError as exc:
        raise CliError(str(exc)) from None
    return asyncio.run(
        serve_sandbox(
            settings,
            host=args.host,
            port=args.port,
            runtime=args.runtime,
            database_url=database_url,
            history=not args.no_history,
        )
    )


def _seed(settings: Settings, _args: argparse.Namespace) -> int:
    return asyncio.run(_seed_async(settings))


async def _seed_async(settings: Settings) -> int:
    from bot.db.engine import create_engine, create_sessionmaker
    from bot.db.migrate import upgrade_async
    from bot.seed import seed_demo_data
    from domain.clock import SystemClock

    await upgrade_async(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        added = await seed_demo_data(create_sessionmaker(engine), SystemClock().now())
    finally:
        await engine.dispose()
    print("demo stores and catalog added" if added else "stores exist already; nothing added")
    return 0


def _simulate(settings: Settings, args: argparse.Namespace) -> int:
    from bot.simulate import SimulationError, run_command

    try:
        return asyncio.run(
            run_command(
                args.db or settings.database_url,
                customers=args.customers,
                days=args.days,
                seed=args.seed,
                end=args.end,
            )
        )
    except SimulationError as exc:
        raise CliError(str(exc)) from None


if __name__ == "__main__":
    sys.exit(main())
