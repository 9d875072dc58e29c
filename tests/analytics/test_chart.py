"""The /stats chart is a phone-sized PNG, also for a period without orders."""

from __future__ import annotations

import io
from datetime import date

import pytest
from PIL import Image

from analytics.chart import ChartLabels, render_chart
from analytics.kpis import build_report
from analytics.periods import Period
from tests.analytics import sample

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def report_for(period: Period) -> object:
    return build_report(
        sample.orders_frame(),
        sample.lines_frame(),
        sample.reservations_frame(),
        period,
        store=sample.STORES[0],
        stores=sample.STORES,
        currency="CNY",
    )


def image(png: bytes) -> Image.Image:
    assert png.startswith(PNG_SIGNATURE)
    return Image.open(io.BytesIO(png))


def test_the_chart_is_a_1200_by_800_png_with_bars_and_lines() -> None:
    png = render_chart(report_for(sample.PERIOD))  # type: ignore[arg-type]

    picture = image(png).convert("RGB")
    assert picture.size == (1200, 800)
    colours = {colour for _, colour in picture.getcolors(maxcolors=1_000_000) or []}
    assert (0x31, 0x82, 0xBD) in colours, "completed bars"
    assert (0xE6, 0x55, 0x0D) in colours, "the CR line"


def test_an_empty_period_still_draws_a_chart() -> None:
    quiet = Period("2027-01-01..2027-01-07", date(2027, 1, 1), date(2027, 1, 7), sample.TZ)

    png = render_chart(report_for(quiet))  # type: ignore[arg-type]

    picture = image(png).convert("RGB")
    assert picture.size == (1200, 800)
    colours = {colour for _, colour in picture.getcolors(maxcolors=1_000_000) or []}
    assert (0x31, 0x82, 0xBD) in colours, "the legend's swatch, not bars"
    assert len(png) < len(render_chart(report_for(sample.PERIOD)))  # type: ignore[arg-type]


# Without a CJK font on the machine matplotlib warns and draws boxes; the PNG is still made.
@pytest.mark.filterwarnings("ignore:Glyph .* missing from font")
def test_labels_can_be_translated() -> None:
    labels = ChartLabels(title="{scope}:订单 {period}", placed="下单", no_orders="无订单")

    png = render_chart(report_for(sample.PERIOD), labels)  # type: ignore[arg-type]

    assert image(png).size == (1200, 800)
