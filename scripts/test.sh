#!/usr/bin/env bash
# Quick start: set up, then lint (ruff), type-check (mypy) and run the whole test suite.
# With O2O_TEST_POSTGRES_URL set, database tests also run on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff" >&2
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy" >&2
.venv/bin/mypy
# The sandbox's browser test drives Debian's chromium: install it where we may (root or
# passwordless sudo, with apt); elsewhere that one test says why it is skipped.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 &&
    command -v apt-get >/dev/null 2>&1; then
    as_root=""
    [ "$(id -u)" = 0 ] || as_root="sudo -n"
    if [ -z "$as_root" ] || sudo -n true 2>/dev/null; then
        echo "== installing chromium for the sandbox browser test" >&2
        export DEBIAN_FRONTEND=noninteractive
        # The fonts draw emoji and Chinese in the screenshots.
        packages="chromium fonts-noto-color-emoji fonts-wqy-microhei"
        $as_root apt-get install -y -q $packages >/dev/null 2>&1 ||
            { $as_root apt-get update -q >/dev/null 2>&1 &&
                $as_root apt-get install -y -q $packages >/dev/null 2>&1; } ||
            echo "o2o test: could not install chromium; the browser test will be skipped" >&2
    fi
fi
echo "== pytest" >&2
# pytest exits 5 when it collected nothing; that is a failure here, like any non-zero code.
# The end-to-end tests mostly wait on loopback HTTP, so four workers fit two cores.
.venv/bin/python -m pytest -n "${O2O_TEST_WORKERS:-4}" "$@"
