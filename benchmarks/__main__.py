"""Every benchmark in one table: `python -m benchmarks [--quick] [--json] [--only NAME ...]`.

Each benchmark module runs in a Python process of its own (fresh memory; no imports, caches or
event loop shared with another benchmark): `python -c` imports it, calls its
`measure(quick) -> list[Row]` and writes the rows as JSON to the stdout it was started with.
Anything else the module, or a process it starts, prints goes to stderr, which is passed through
to ours as it comes and kept: a benchmark that fails gets a row carrying its error's last line,
the others still run, and the command exits with status 1 once the table is printed.

The table goes to stdout: Markdown (as in the README) with a header naming the date, the machine
and the commit, or with --json one JSON document (machine, commit, each benchmark's wall time,
rows); --json-out PATH writes that document too, so one run gives both. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

from benchmarks.table import Row, render_markdown

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Benchmark:
    """A benchmark module and the name `--only` knows it by."""

    name: str
    module: str


BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark("inbound", "benchmarks.bench_inbound"),
    Benchmark("latency", "benchmarks.bench_latency"),  # the latency and memory rows
    Benchmark("outbound", "benchmarks.bench_push"),
    Benchmark("group_flood", "benchmarks.bench_group_flood"),
    Benchmark("runtimes", "benchmarks.bench_runtimes"),
    Benchmark("stats", "benchmarks.bench_stats"),
    Benchmark("rfm", "benchmarks.bench_rfm"),
    Benchmark("recommend", "benchmarks.bench_recommend"),
)
# Other names people will reach for: a row's name, or the module's.
ALIASES = {"memory": "latency", "push": "outbound", "group-flood": "group_flood"}
LIBRARIES = ("aiogram", "python-telegram-bot", "SQLAlchemy", "pandas", "numpy", "scikit-surprise")
CHILD = (
    "import sys; from benchmarks.__main__ import child; "
    "sys.exit(child(sys.argv[1], sys.argv[2] == 'quick'))"
)


@dataclass
class Outcome:
    """One benchmark's run: its rows (or the failed row), wall seconds and error if any."""

    benchmark: Benchmark
    rows: list[Row] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None


# --------------------------------------------------------------------------- the child


def child(module_name: str, quick: bool) -> int:
    """In the benchmark's own process: run `measure(quick)`, write its rows as JSON to stdout."""
    rows_out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    sys.stdout.flush()
    # From here on fd 1 is stderr, so no print (nor a grandchild's) can corrupt the JSON.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    module = importlib.import_module(module_name)
    rows = module.measure(quick)
    if not isinstance(rows, list) or not all(isinstance(row, Row) for row in rows):
        raise TypeError(f"{module_name}.measure returned {type(rows).__name__}, not list[Row]")
    with rows_out:
        json.dump([row.as_json() for row in rows], rows_out)
    return 0


# --------------------------------------------------------------------------- the parent


def _child_env() -> dict[str, str]:
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return os.environ | {"PYTHONPATH": os.pathsep.join(paths)}


def last_line(text: str) -> str:
    """The last non-blank line of a process's stderr: a traceback's exception line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run_one(benchmark: Benchmark, quick: bool, echo: TextIO) -> Outcome:
    """Run one benchmark module in its own process; its rows, or a failed row saying why."""
    outcome = Outcome(benchmark)
    started = time.perf_counter()
    tail: deque[str] = deque(maxlen=200)
    with tempfile.TemporaryFile("w+", encoding="utf-8") as rows_file:
        process = subprocess.Popen(  # noqa: S603 - our interpreter, our module names
            [sys.executable, "-c", CHILD, benchmark.module, "quick" if quick else "full"],
            cwd=ROOT,
            env=_child_env(),
            stdout=rows_file,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        assert process.stderr is not None
        for line in process.stderr:
            echo.write(line)
            echo.flush()
            tail.append(line)
        status = process.wait()
        rows_file.seek(0)
        output = rows_file.read()
    outcome.seconds = time.perf_counter() - started
    if status != 0:
        outcome.error = last_line("".join(tail)) or f"exit status {status}"
    else:
        try:
            outcome.rows = [Row.from_json(data) for data in json.loads(output)]
        except (ValueError, TypeError) as exc:
            outcome.error = f"unreadable rows: {exc}"
        else:
            if not outcome.rows:
                outcome.error = "measure() returned no rows"
    if outcome.error is not None:
        outcome.rows = [Row.failed(benchmark.name, outcome.error)]
    return outcome


def run_all(selected: Sequence[Benchmark], quick: bool, echo: TextIO) -> list[Outcome]:
    """Every selected benchmark in turn, each in its own process; a failure stops none."""
    outcomes = []
    for benchmark in selected:
        print(f"== {benchmark.name} ({benchmark.module}) ...", file=echo, flush=True)
        outcome = run_one(benchmark, quick, echo)
        verdict = "FAILED: " + outcome.error if outcome.error else f"{len(outcome.rows)} row(s)"
        print(f"== {benchmark.name}: {outcome.seconds:.0f} s, {verdict}", file=echo, flush=True)
        outcomes.append(outcome)
    return outcomes


# --------------------------------------------------------------------------- facts


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _os_name() -> str:
    try:
        release = platform.freedesktop_os_release().get("PRETTY_NAME", "")
    except OSError:
        release = ""
    name = platform.platform()
    return f"{release} ({name})" if release else name


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def machine_facts() -> dict[str, Any]:
    """What the figures depend on: CPU, memory, OS, Python, SQLite and library versions."""
    ram = _ram_bytes()
    return {
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "ram_gib": round(ram / 2**30, 1) if ram else None,
        "os": _os_name(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "sqlite": sqlite3.sqlite_version,
        "postgresql": None,  # no benchmark runs on PostgreSQL
        "libraries": {name: _version(name) for name in LIBRARIES},
    }


def _git(*arguments: str) -> str | None:
    try:
        done = subprocess.run(  # noqa: S603 - fixed arguments
            ["git", *arguments],  # noqa: S607 - git from PATH, as a developer runs it
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def commit_facts() -> dict[str, Any]:
    """The commit measured and whether tracked files differed from it."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"sha": _git("rev-parse", "HEAD"), "dirty": bool(status) if status is not None else None}


# --------------------------------------------------------------------------- output


def _machine_line(facts: dict[str, Any]) -> str:
    ram = f", {facts['ram_gib']} GiB RAM" if facts["ram_gib"] else ""
    return f"{facts['cpu']}, {facts['cpus']} CPUs{ram}; {facts['os']}"


def _software_line(facts: dict[str, Any]) -> str:
    postgres = facts["postgresql"] or "not used"
    libraries = ", ".join(
        f"{name} {version}" for name, version in facts["libraries"].items() if version
    )
    return f"{facts['python']}, SQLite {facts['sqlite']}, PostgreSQL {postgres}; {libraries}"


def _commit_line(commit: dict[str, Any]) -> str:
    if commit["sha"] is None:
        return "unknown (not a git checkout)"
    return str(commit["sha"])[:12] + (" with uncommitted changes" if commit["dirty"] else "")


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def markdown(report: dict[str, Any]) -> str:
    """The run as Markdown: a header of facts, the table, the wall time of each benchmark."""
    rows = [Row.from_json(data) for data in report["rows"]]
    mode = "quick" if report["quick"] else "full"
    times = ", ".join(
        f"{entry['name']} {_duration(entry['seconds'])}" for entry in report["benchmarks"]
    )
    lines = [
        f"Benchmarks, {mode} run (`python -m benchmarks{' --quick' if report['quick'] else ''}`)",
        "",
        f"- date: {report['date']}",
        f"- machine: {_machine_line(report['machine'])}",
        f"- software: {_software_line(report['machine'])}",
        f"- commit: {_commit_line(report['commit'])}",
        "- ratio: measured / baseline (for seconds below 1 is better, for rates above 1)",
        "",
        render_markdown(rows),
        "",
        f"Wall time: {times}; total {_duration(report['seconds'])}.",
    ]
    if report["failed"]:
        lines.append(f"Failed: {', '.join(report['failed'])}.")
    return "\n".join(lines)


def build_report(outcomes: list[Outcome], quick: bool, seconds: float) -> dict[str, Any]:
    """The run as one JSON-ready document."""
    return {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "quick": quick,
        "machine": machine_facts(),
        "commit": commit_facts(),
        "seconds": seconds,
        "benchmarks": [
            {
                "name": outcome.benchmark.name,
                "module": outcome.benchmark.module,
                "seconds": outcome.seconds,
                "error": outcome.error,
            }
            for outcome in outcomes
        ],
        "rows": [row.as_json() for outcome in outcomes for row in outcome.rows],
        "failed": [outcome.benchmark.name for outcome in outcomes if outcome.error is not None],
    }


# --------------------------------------------------------------------------- command line


def parse_args(
    argv: Sequence[str] | None, catalogue: Sequence[Benchmark] = BENCHMARKS
) -> tuple[argparse.Namespace, list[Benchmark]]:
    """The options and the benchmarks to run, in the catalogue's order."""
    names = [benchmark.name for benchmark in catalogue]
    known = sorted({*names, *(alias for alias, name in ALIASES.items() if name in names)})
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="the small variant of each")
    parser.add_argument("--json", action="store_true", help="one JSON document, not Markdown")
    parser.add_argument(
        "--json-out",
        type=Path,
        metavar="PATH",
        help="also write the JSON document to PATH (one run, both forms)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        choices=known,
        help=f"run only these ({', '.join(names)})",
    )
    arguments = parser.parse_args(argv)
    wanted = {ALIASES.get(name, name) for name in arguments.only or names}
    return arguments, [benchmark for benchmark in catalogue if benchmark.name in wanted]


def main(
    argv: Sequence[str] | None = None,
    *,
    catalogue: Sequence[Benchmark] = BENCHMARKS,
    out: TextIO | None = None,
    echo: TextIO | None = None,
) -> int:
    """Run the selected benchmarks and print the table; 1 when any of them failed."""
    out = out or sys.stdout
    echo = echo or sys.stderr
    arguments, selected = parse_args(argv, catalogue)
    started = time.perf_counter()
    outcomes = run_all(selected, arguments.quick, echo)
    report = build_report(outcomes, arguments.quick, time.perf_counter() - started)
    document = json.dumps(report, indent=2)
    if arguments.json_out is not None:
        arguments.json_out.write_text(document + "\n", encoding="utf-8")
    if arguments.json:
        print(document, file=out)
    else:
        print(markdown(report), file=out)
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
