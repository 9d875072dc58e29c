"""`o2o store qr`: a PNG QR code of the store's (or table's) t.me deep link, with a caption."""

from __future__ import annotations

from pathlib import Path

import pytest
import qrcode  # type: ignore[import-untyped]  # ships no type information
import zxingcpp
from PIL import Image

from bot.admin.qr import BORDER, BOX_SIZE
from tests.admin.conftest import CENTRAL, Cli


def matrix_in_image(path: Path, modules: int) -> list[list[bool]]:
    """Read the QR modules back from the PNG by sampling the centre of each module."""
    with Image.open(path) as image:
        gray = image.convert("L")
        width = gray.size[0]
        pixels = gray.tobytes()  # mode L: one byte per pixel
        centre = BOX_SIZE // 2
        return [
            [
                pixels[(y * BOX_SIZE + centre) * width + x * BOX_SIZE + centre] < 128
                for x in range(modules)
            ]
            for y in range(modules)
        ]


def expected_matrix(url: str) -> list[list[bool]]:
    """The QR matrix of `url`, built independently with the qrcode library."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=BORDER)
    code.add_data(url)
    code.make(fit=True)
    matrix: list[list[bool]] = code.get_matrix()
    return matrix


async def test_a_table_qr_code_encodes_the_deep_link_and_prints_it(
    cli: Cli, tmp_path: Path
) -> None:
    await cli(*CENTRAL)
    out = tmp_path / "table12.png"

    result = await cli(
        "store", "qr", "central", "--table", "12", "--out", out, "--bot", "@o2o_demo_bot"
    )

    url = "https://t.me/o2o_demo_bot?start=scentralt12"
    assert result.code == 0, result.err
    assert result.out.strip() == url
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    expected = expected_matrix(url)
    with Image.open(out) as image:
        width, height = image.size
        caption_band = image.convert("L").crop((0, width, width, height))
        assert min(caption_band.tobytes()) < 128, "a caption is drawn under the code"
    assert width == len(expected) * BOX_SIZE
    assert 200 <= width <= 1000
    assert height > width
    assert matrix_in_image(out, len(expected)) == expected


async def test_the_bot_username_comes_from_the_environment_without_its_at_sign(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await cli(*CENTRAL)
    monkeypatch.setenv("O2O_BOT_USERNAME", "@cafe_bot")
    out = tmp_path / "store.png"

    result = await cli("store", "qr", "central", "--out", out)

    url = "https://t.me/cafe_bot?start=scentral"
    assert result.code == 0, result.err
    assert result.out.strip() == url
    assert matrix_in_image(out, len(expected_matrix(url))) == expected_matrix(url)


async def test_a_barcode_reader_decodes_the_link(cli: Cli, tmp_path: Path) -> None:
    await cli(*CENTRAL)
    out = tmp_path / "table3.png"
    await cli("store", "qr", "central", "--table", "3", "--out", out, "--bot", "o2o_demo_bot")

    # zxing-cpp is an independent decoder, as a customer's phone camera would be.
    decoded = [result.text for result in zxingcpp.read_barcodes(Image.open(out))]

    assert decoded == ["https://t.me/o2o_demo_bot?start=scentralt3"]


async def test_a_store_without_tables_accepts_any_table_label(cli: Cli, tmp_path: Path) -> None:
    await cli("store", "add", "kiosk", "--name", "Kiosk")

    result = await cli(
        "store",
        "qr",
        "kiosk",
        "--table",
        "A1",
        "--out",
        tmp_path / "a.png",
        "--bot",
        "o2o_demo_bot",
    )

    assert result.code == 0, result.err
    assert result.out.strip() == "https://t.me/o2o_demo_bot?start=skiosktA1"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("nowhere",), "unknown store"),
        (("central", "--table", "99"), "no table '99'"),
        (("central", "--table", "a b"), "--table"),
        (("central", "--bot", "no"), "--bot"),
    ],
)
async def test_unknown_stores_tables_and_bad_usernames_are_refused(
    cli: Cli, tmp_path: Path, argv: tuple[str, ...], expected: str
) -> None:
    await cli(*CENTRAL)
    out = tmp_path / "x.png"
    bot = () if "--bot" in argv else ("--bot", "o2o_demo_bot")

    result = await cli("store", "qr", *argv, "--out", out, *bot)

    assert result.code == 2
    assert len(result.err_lines) == 1
    assert expected in result.err
    assert not out.exists()


async def test_without_a_bot_username_the_error_names_o2o_bot_username(
    cli: Cli, tmp_path: Path
) -> None:
    await cli(*CENTRAL)

    result = await cli("store", "qr", "central", "--out", tmp_path / "x.png")

    assert result.code == 2
    assert "O2O_BOT_USERNAME" in result.err
