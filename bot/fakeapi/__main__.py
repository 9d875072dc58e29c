"""Run the fake Telegram Bot API standalone: ``python -m bot.fakeapi --port 8081``.

Point a bot at the printed base URL; drive users through ``POST <base>/_control/<action>``
(see :mod:`bot.fakeapi.server` for the actions).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from bot.fakeapi.server import FakeBotApi, FakeLimits


def _user_spec(value: str) -> tuple[int, str]:
    user_id, _, name = value.partition(":")
    try:
        return int(user_id), name or f"User{user_id}"
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected ID:NAME, got {value!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of the standalone fake server."""
    parser = argparse.ArgumentParser(prog="python -m bot.fakeapi", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:TEST-TOKEN")
    parser.add_argument("--bot-username", default="o2o_demo_bot")
    parser.add_argument("--no-limits", action="store_true", help="disable flood control")
    parser.add_argument(
        "--user",
        action="append",
        type=_user_spec,
        default=[],
        metavar="ID:NAME",
        help="pre-register a user (repeatable)",
    )
    return parser


async def serve(args: argparse.Namespace) -> None:
    """Start the fake server and keep it running until cancelled."""
    bot_id = int(args.token.split(":", 1)[0]) if args.token.split(":", 1)[0].isdigit() else 1
    fake = FakeBotApi(
        args.token,
        bot_id=bot_id,
        bot_username=args.bot_username,
        limits=None if args.no_limits else FakeLimits(),
    )
    for user_id, name in args.user:
        fake.add_user(user_id, name)
    await fake.start(args.host, args.port)
    print(f"fake Telegram Bot API listening on {fake.base_url}", flush=True)
    print(f"  aiogram: TelegramAPIServer.from_base({fake.base_url!r})", flush=True)
    print(f"  PTB:     Bot(token, base_url={fake.base_url + '/bot'!r})", flush=True)
    print(f"  token:   {fake.token}   (Ctrl-C to stop)", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
        print("stopping", flush=True)
    finally:
        await fake.stop()


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()
