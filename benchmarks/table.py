"""One row of the benchmark table, and the table's text, Markdown and JSON forms."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Row:
    """A benchmark's result: what it measured against which baseline, and whether a goal was met.

    `baseline` and `measured` are short human-readable figures ("664 updates/s"); `numbers`
    holds the raw values behind them for `--json` (seconds, rates, counts; plain floats/ints).
    `goal` is the target in words ("ratio >= 0.5") or "" when the issue sets none; `met` is
    None when there is no goal. `error` is set (to the error's last line) only on the row that
    stands for a benchmark that failed to run.
    """

    name: str
    what: str
    baseline: str
    measured: str
    ratio: float | None = None
    goal: str = ""
    met: bool | None = None
    numbers: dict[str, float | int] = field(default_factory=dict)
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The row as a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Row:
        """The row `as_json` gave, read back (unknown keys are an error, as a typo would be)."""
        return cls(**data)

    @classmethod
    def failed(cls, name: str, error: str) -> Row:
        """The row of a benchmark that did not finish: its error's last line in place of figures."""
        return cls(name=name, what="did not finish", baseline="", measured="", error=error)


def _ratio(row: Row) -> str:
    if row.ratio is None:
        return ""
    # Two significant digits for small ratios, which two decimals would show as 0.00.
    return f"{row.ratio:.2f}" if abs(row.ratio) >= 0.1 else f"{row.ratio:.2g}"


def _goal(row: Row) -> str:
    verdict = {None: "", True: " (met)", False: " (NOT met)"}[row.met]
    return row.goal + verdict


def render(rows: list[Row]) -> str:
    """A plain-text table, one line per row, columns padded to fit."""
    header = ("benchmark", "baseline", "measured", "ratio", "goal")
    lines = [header]
    for row in rows:
        measured = f"FAILED: {row.error}" if row.error is not None else row.measured
        lines.append((row.name, row.baseline, measured, _ratio(row), _goal(row)))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in lines
    ]
    text.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in text)


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: pipes escaped, line breaks flattened."""
    return " ".join(text.replace("|", "\\|").split())


def render_markdown(rows: list[Row]) -> str:
    """A Markdown table (as in the README): the benchmark and what it measures, then figures."""
    lines = [
        "| benchmark | baseline | measured | ratio | goal |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        if row.error is not None:
            cells = [f"**{row.name}**", "", f"FAILED: {row.error}", "", ""]
        else:
            cells = [
                f"**{row.name}**: {row.what}",
                row.baseline,
                row.measured,
                _ratio(row),
                _goal(row),
            ]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines)
