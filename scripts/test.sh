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
echo "== pytest" >&2
# pytest exits 5 when it collected nothing; that is a failure here, like any non-zero code.
# The end-to-end tests mostly wait on loopback HTTP, so four workers fit two cores.
.venv/bin/python -m pytest -n "${O2O_TEST_WORKERS:-4}" "$@"
