"""The layering rules of ARCHITECTURE.md, checked on the source."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORKS = {"aiogram", "telegram"}


def _imports(package: str) -> list[tuple[Path, str]]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found += [(path, alias.name.split(".")[0]) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((path, node.module.split(".")[0]))
    return found


@pytest.mark.parametrize("package", ["domain", "handlers", "analytics"])
def test_pure_layers_import_no_bot_framework(package: str) -> None:
    offending = [(str(p), m) for p, m in _imports(package) if m in FRAMEWORKS]

    assert offending == []


def test_domain_imports_only_the_standard_library_and_itself() -> None:
    allowed = set(sys.stdlib_module_names) | {"domain", "__future__"}

    offending = [(str(p), m) for p, m in _imports("domain") if m not in allowed]

    assert offending == []


def test_handlers_import_only_domain_and_the_standard_library() -> None:
    allowed = set(sys.stdlib_module_names) | {"domain", "handlers", "__future__"}

    offending = [(str(p), m) for p, m in _imports("handlers") if m not in allowed]

    assert offending == []


def test_only_the_system_clock_reads_the_wall_clock() -> None:
    readers = [
        str(path.relative_to(ROOT))
        for package in ("domain", "handlers")
        for path in (ROOT / package).rglob("*.py")
        if "datetime.now(" in path.read_text(encoding="utf-8")
    ]

    assert readers == ["domain/clock.py"]
