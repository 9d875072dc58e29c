#!/usr/bin/env bash
# Quick start: set up, migrate the database, then run the bot with O2O_BOT_TOKEN,
# or without a token the offline demo (fake Bot API, scripted customers, printed transcript).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if .venv/bin/python -c 'import sys; from bot.settings import load_settings; sys.exit(0 if load_settings().token else 1)' 2>/dev/null; then
    .venv/bin/o2o migrate
    exec .venv/bin/o2o run "$@"
fi
.venv/bin/o2o migrate
exec .venv/bin/o2o demo "$@"
