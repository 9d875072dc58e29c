"""The /stats chart: orders per day (bars) with conversion rate and CSAT (lines), as PNG bytes.

Drawn with matplotlib's object API on an Agg canvas: no pyplot, no display, no global state, so
it is safe in a worker thread (``await asyncio.to_thread(render_chart, report)``). 1200 x 800
pixels with large type, readable on a phone. Chinese text needs a CJK font on the host (e.g. the
Debian package fonts-noto-cjk); without one those characters are drawn as boxes.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from matplotlib import font_manager, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from analytics.kpis import DailyPoint, StatsReport

WIDTH_PX, HEIGHT_PX, DPI = 1200, 800, 100
MAX_TICKS = 10
# Store names and translated labels may be Chinese; DejaVu Sans (matplotlib's own) has no CJK
# glyphs, so the first of these that is installed comes first (glyphs fall back per character).
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "SimHei",
)
_LOCK = threading.Lock()

PLACED_COLOUR = "#9ecae1"
COMPLETED_COLOUR = "#3182bd"
CR_COLOUR = "#e6550d"
CSAT_COLOUR = "#31a354"


@dataclass(frozen=True)
class ChartLabels:
    """Every text drawn on the chart, so a caller can pass translations."""

    title: str = "{scope}: orders, CR and CSAT, {period}"
    placed: str = "placed"
    completed: str = "completed"
    orders_axis: str = "orders per day"
    conversion: str = "CR %"
    csat: str = "CSAT (1-5)"
    no_orders: str = "no orders"


def render_chart(report: StatsReport, labels: ChartLabels | None = None) -> bytes:
    """PNG of the report's daily series, titled with the store and the period."""
    labels = labels or ChartLabels()
    period = report.period
    title = labels.title.format(
        scope=report.scope_name, period=f"{period.range_text} ({period.timezone})"
    )
    return render_daily_chart(report.daily, title, labels)


def font_families() -> list[str]:
    """DejaVu Sans, preceded by the first installed font with Chinese glyphs (if any)."""
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    cjk = [name for name in CJK_FAMILIES if name in installed]
    return [*cjk[:1], "DejaVu Sans"]


def render_daily_chart(
    daily: Sequence[DailyPoint], title: str, labels: ChartLabels | None = None
) -> bytes:
    """PNG of a daily series: bars for placed and completed, lines for CR % and CSAT."""
    # rc settings are process-wide and matplotlib's font cache is not thread-safe: one chart
    # at a time (a chart takes a fraction of a second).
    with _LOCK, rc_context({"font.family": font_families()}):
        return _render(daily, title, labels or ChartLabels())


def _render(daily: Sequence[DailyPoint], title: str, labels: ChartLabels) -> bytes:
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_title(title, fontsize=19, pad=12, wrap=True)
    axes.tick_params(labelsize=14)
    axes.set_ylabel(labels.orders_axis, fontsize=15)
    axes.grid(axis="y", alpha=0.3)

    # Days are categories at 0..n-1, so ticks sit under the bars and gaps need no date maths.
    positions = list(range(len(daily)))
    width = 0.4
    axes.bar(
        [x - width / 2 for x in positions],
        [p.placed for p in daily],
        width=width,
        color=PLACED_COLOUR,
        label=labels.placed,
    )
    axes.bar(
        [x + width / 2 for x in positions],
        [p.completed for p in daily],
        width=width,
        color=COMPLETED_COLOUR,
        label=labels.completed,
    )
    step = max(1, math.ceil(len(daily) / MAX_TICKS))
    ticks = positions[::step]
    axes.set_xticks(ticks, [_day_label(daily[i].day, len(daily)) for i in ticks])
    axes.set_xlim(-0.6, max(len(daily), 1) - 0.4)

    rate_axes = axes.twinx()
    rate_axes.set_ylim(0, 105)
    rate_axes.set_ylabel(labels.conversion, fontsize=15, color=CR_COLOUR)
    rate_axes.tick_params(labelsize=14, colors=CR_COLOUR)
    csat_axes = axes.twinx()
    csat_axes.spines["right"].set_position(("axes", 1.1))
    csat_axes.set_ylim(0.8, 5.2)
    csat_axes.set_ylabel(labels.csat, fontsize=15, color=CSAT_COLOUR)
    csat_axes.tick_params(labelsize=14, colors=CSAT_COLOUR)

    marker = "o" if len(daily) <= 45 else None
    for target, values, colour, name in (
        (rate_axes, [p.conversion_rate for p in daily], CR_COLOUR, labels.conversion),
        (csat_axes, [p.csat_avg for p in daily], CSAT_COLOUR, labels.csat),
    ):
        xs = [x for x, y in zip(positions, values, strict=True) if y is not None]
        ys = [y for y in values if y is not None]
        target.plot(xs, ys, color=colour, linewidth=2.5, marker=marker, markersize=7, label=name)

    if sum(p.placed for p in daily) == 0:
        axes.set_ylim(0, 1)
        axes.set_yticks([])
        axes.text(
            0.5,
            0.5,
            labels.no_orders,
            transform=axes.transAxes,
            ha="center",
            va="center",
            fontsize=40,
            color="#888888",
        )
    handles, names = [], []
    for source in (axes, rate_axes, csat_axes):
        more_handles, more_names = source.get_legend_handles_labels()
        handles += more_handles
        names += more_names
    figure.legend(handles, names, loc="lower center", ncol=4, fontsize=14, frameon=False)
    figure.subplots_adjust(left=0.08, right=0.83, top=0.9, bottom=0.17)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _day_label(day: date, n_days: int) -> str:
    """``Tue 05-26`` for a week or less, ``05-26`` up to a year, ``2026-05-26`` beyond."""
    if n_days <= 7:
        return f"{day:%a}\n{day:%m-%d}"
    return f"{day:%m-%d}" if n_days <= 366 else day.isoformat()
