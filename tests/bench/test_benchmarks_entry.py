"""The plumbing of `python -m benchmarks`, without running a real benchmark.

Proves: `--only` selects benchmarks (aliases too) in the catalogue's order and refuses unknown
names; each benchmark module runs in a process of its own, with `quick` passed through, and
whatever it prints cannot corrupt its rows; a module that raises, dies or returns no rows
becomes a row marked failed with the error's last line while the others still report, and the
run exits 1; the Markdown and JSON outputs carry the machine, the commit and every row; every
real benchmark module defines `measure(quick)` (checked on the source, nothing heavy imported).

How: fake benchmark modules are written to tmp_path, which is put on PYTHONPATH (the children
inherit it), and `main` is given a catalogue naming them instead of the real one.
"""

from __future__ import annotations

import ast
import io
import json
import os
import platform
import sqlite3
from pathlib import Path
from textwrap import dedent

import pytest

from benchmarks.__main__ import (
    BENCHMARKS,
    ROOT,
    Benchmark,
    last_line,
    machine_facts,
    main,
    parse_args,
)
from benchmarks.table import Row, render, render_markdown

GOOD = """
import os
from benchmarks.table import Row

def measure(quick):
    print("chatter on stdout that must not reach the rows")
    return [
        Row(name="good-a", what="first | row", baseline="10 s", measured="5 s", ratio=0.5,
            goal="ratio < 1", met=True, numbers={"quick": int(quick), "pid": os.getpid()}),
        Row(name="good-b", what="second row", baseline="1/s", measured="2/s", ratio=2.0,
            numbers={"pid": os.getpid()}),
    ]
"""
RAISES = """
def measure(quick):
    print("working...")
    raise RuntimeError("boom at step 3")
"""
DIES = """
import os

def measure(quick):
    os._exit(7)
"""
EMPTY = """
def measure(quick):
    return []
"""
WRONG_TYPE = """
def measure(quick):
    return [{"name": "not a Row"}]
"""


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Benchmark]:
    """Fake benchmark modules importable by the children; their catalogue."""
    package = tmp_path / "fakebench"
    package.mkdir()
    (package / "__init__.py").write_text("")
    modules = {"good": GOOD, "raises": RAISES, "dies": DIES, "empty": EMPTY, "wrong": WRONG_TYPE}
    for name, source in modules.items():
        (package / f"{name}.py").write_text(dedent(source))
    existing = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path), existing])))
    return [Benchmark(name, f"fakebench.{name}") for name in modules]


def _run(argv: list[str], catalogue: list[Benchmark]) -> tuple[int, str, str]:
    out, echo = io.StringIO(), io.StringIO()
    status = main(argv, catalogue=catalogue, out=out, echo=echo)
    return status, out.getvalue(), echo.getvalue()


# --------------------------------------------------------------------------- arguments


def test_without_only_every_benchmark_runs_in_the_issue_order() -> None:
    arguments, selected = parse_args([])

    assert [b.name for b in selected] == [
        "inbound",
        "latency",
        "outbound",
        "group_flood",
        "runtimes",
        "stats",
        "rfm",
        "recommend",
    ]
    assert (arguments.quick, arguments.json) == (False, False)


def test_only_keeps_the_catalogue_order_and_understands_aliases() -> None:
    arguments, selected = parse_args(["--quick", "--json", "--only", "rfm", "push", "memory"])

    assert [b.module for b in selected] == [
        "benchmarks.bench_latency",
        "benchmarks.bench_push",
        "benchmarks.bench_rfm",
    ]
    assert (arguments.quick, arguments.json) == (True, True)


def test_only_refuses_an_unknown_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(["--only", "inbound", "nonsense"])

    assert exited.value.code == 2
    assert "nonsense" in capsys.readouterr().err


def test_every_real_benchmark_module_defines_measure_quick() -> None:
    for benchmark in BENCHMARKS:
        path = ROOT / (benchmark.module.replace(".", "/") + ".py")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        measures = [
            node
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name == "measure"
        ]
        assert len(measures) == 1, benchmark.module
        assert [arg.arg for arg in measures[0].args.args] == ["quick"], benchmark.module


# --------------------------------------------------------------------------- rendering


def test_markdown_table_escapes_pipes_and_marks_goals_and_failures() -> None:
    rows = [
        Row("a", "x | y", "10 s", "5 s", ratio=0.5, goal="ratio < 1", met=True),
        Row("b", "z", "1/s", "2/s", ratio=0.0029, goal="fast", met=False),
        Row("c", "no goal", "1", "1"),
        Row.failed("d", "ValueError: bad | input"),
    ]

    lines = render_markdown(rows).splitlines()

    assert lines[:2] == [
        "| benchmark | baseline | measured | ratio | goal |",
        "|---|---|---|---|---|",
    ]
    assert lines[2] == "| **a**: x \\| y | 10 s | 5 s | 0.50 | ratio < 1 (met) |"
    assert lines[3] == "| **b**: z | 1/s | 2/s | 0.0029 | fast (NOT met) |"
    assert lines[4] == "| **c**: no goal | 1 | 1 |  |  |"
    assert lines[5] == "| **d** |  | FAILED: ValueError: bad \\| input |  |  |"
    assert len(lines) == 6


def test_plain_table_shows_a_failed_row() -> None:
    text = render([Row("ok", "w", "1", "2", ratio=2.0), Row.failed("bad", "OSError: gone")])

    assert "FAILED: OSError: gone" in text.splitlines()[3]
    assert text.splitlines()[2].split() == ["ok", "1", "2", "2.00"]


def test_rows_survive_json_both_ways() -> None:
    row = Row("a", "w", "b", "m", ratio=1.5, goal="g", met=False, numbers={"n": 3, "x": 0.25})

    assert Row.from_json(json.loads(json.dumps(row.as_json()))) == row


def test_last_line_is_the_exception_line_of_a_traceback() -> None:
    traceback = 'Traceback (most recent call last):\n  File "x"\nKeyError: 3\n\n  \n'

    assert last_line(traceback) == "KeyError: 3"
    assert last_line("") == ""


def test_machine_facts_name_this_machine() -> None:
    facts = machine_facts()

    assert facts["cpus"] == os.cpu_count()
    assert facts["sqlite"] == sqlite3.sqlite_version
    assert facts["cpu"]
    assert facts["python"].endswith(" " + platform.python_version())
    assert facts["libraries"]["aiogram"]


# --------------------------------------------------------------------------- running


def test_rows_come_from_a_fresh_process_each_with_quick_passed(fakes: list[Benchmark]) -> None:
    good = [b for b in fakes if b.name == "good"]

    status, out, echo = _run(["--json", "--quick", "--only", "good"], good)
    report = json.loads(out)

    assert status == 0
    assert [row["name"] for row in report["rows"]] == ["good-a", "good-b"]
    assert report["rows"][0]["numbers"]["quick"] == 1
    pids = {row["numbers"]["pid"] for row in report["rows"]}
    assert len(pids) == 1
    assert os.getpid() not in pids
    # What the module printed went to stderr, passed through, not into the rows.
    assert "chatter on stdout" in echo
    assert report["failed"] == []
    assert report["benchmarks"][0]["error"] is None


def test_each_benchmark_gets_its_own_process(fakes: list[Benchmark]) -> None:
    good = next(b for b in fakes if b.name == "good")
    twice = [good, Benchmark("good2", good.module)]

    status, out, _ = _run(["--json"], twice)
    rows = json.loads(out)["rows"]

    assert status == 0
    assert rows[0]["numbers"]["quick"] == 0
    assert rows[0]["numbers"]["pid"] != rows[2]["numbers"]["pid"]


def test_failures_become_rows_and_the_rest_still_report(fakes: list[Benchmark]) -> None:
    status, out, echo = _run(["--json"], fakes)
    report = json.loads(out)
    by_name = {row["name"]: row for row in report["rows"]}

    assert status == 1
    assert report["failed"] == ["raises", "dies", "empty", "wrong"]
    assert by_name["good-a"]["measured"] == "5 s"
    assert by_name["raises"]["error"] == "RuntimeError: boom at step 3"
    assert by_name["dies"]["error"] == "exit status 7"
    assert by_name["empty"]["error"] == "measure() returned no rows"
    assert by_name["wrong"]["error"].startswith("TypeError: fakebench.wrong.measure returned")
    assert [entry["name"] for entry in report["benchmarks"]] == [b.name for b in fakes]
    assert all(entry["seconds"] > 0 for entry in report["benchmarks"])
    assert "== raises: " in echo
    assert "Traceback" in echo  # the child's stderr is passed through


def test_markdown_run_has_header_table_and_wall_times(
    fakes: list[Benchmark], tmp_path: Path
) -> None:
    catalogue = [b for b in fakes if b.name in ("good", "raises")]
    saved = tmp_path / "run.json"

    status, out, _ = _run(["--quick", "--json-out", str(saved)], catalogue)
    lines = out.splitlines()
    # The same run, also as JSON.
    document = json.loads(saved.read_text())
    assert [row["name"] for row in document["rows"]] == ["good-a", "good-b", "raises"]
    assert document["quick"] is True

    assert status == 1
    assert lines[0].startswith("Benchmarks, quick run (`python -m benchmarks --quick`)")
    header = "\n".join(lines[:8])
    for fact in ("- date: ", "- machine: ", f"{os.cpu_count()} CPUs", "SQLite ", "- commit: "):
        assert fact in header
    table = [line for line in lines if line.startswith("| ")]
    assert table[0] == "| benchmark | baseline | measured | ratio | goal |"
    assert table[1].startswith("| **good-a**: first \\| row | 10 s | 5 s | 0.50 |")
    assert table[3] == "| **raises** |  | FAILED: RuntimeError: boom at step 3 |  |  |"
    assert any(line.startswith("Wall time: good ") for line in lines)
    assert lines[-1] == "Failed: raises."


def test_json_document_shape(fakes: list[Benchmark]) -> None:
    status, out, _ = _run(["--json", "--only", "good"], fakes)
    report = json.loads(out)

    assert status == 0
    assert set(report) == {
        "date",
        "quick",
        "machine",
        "commit",
        "seconds",
        "benchmarks",
        "rows",
        "failed",
    }
    assert set(report["machine"]) >= {"cpu", "cpus", "ram_gib", "os", "python", "sqlite"}
    assert set(report["commit"]) == {"sha", "dirty"}
    assert len(report["commit"]["sha"]) == 40
    assert set(report["rows"][0]) == {
        "name",
        "what",
        "baseline",
        "measured",
        "ratio",
        "goal",
        "met",
        "numbers",
        "error",
    }
    assert report["quick"] is False
