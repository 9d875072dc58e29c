"""Admin sub-commands of `o2o` (stores, catalog, QR codes); wired into bot/cli.py."""

from __future__ import annotations

import argparse
from typing import Any

from bot.settings import Settings


class AdminError(Exception):
    """A problem in an admin command's input; printed as one line, exit code 2."""


def register_admin_commands(commands: Any) -> None:
    """Add the admin sub-commands to the `o2o` sub-parser collection."""


def run_admin_command(settings: Settings, args: argparse.Namespace) -> int:
    """Run one admin sub-command chosen by register_admin_commands."""
    raise AdminError(f"unknown command {args.command!r}")
