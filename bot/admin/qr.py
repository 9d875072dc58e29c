"""QR codes for posters and table tents: a t.me deep link that selects a store (and table)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import qrcode  # type: ignore[import-untyped]  # qrcode ships no type information
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.admin.cli import AdminError
from bot.db import models
from domain.stores import store_deep_link_payload

BOX_SIZE = 10  # pixels per QR module
BORDER = 4  # quiet zone in modules (the minimum the standard asks for)
CAPTION_HEIGHT = 48
_ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_M
_USERNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")


@dataclass(frozen=True, slots=True)
class QrResult:
    """What `o2o store qr` wrote."""

    url: str
    path: Path
    caption: str


def normalize_bot_username(username: str | None) -> str:
    """The bot's username without "@"; AdminError when missing or malformed."""
    if username is None or not username.strip():
        raise AdminError(
            "no bot username: pass --bot USERNAME or set O2O_BOT_USERNAME (the bot's @username)"
        )
    name = username.strip().removeprefix("@")
    if not _USERNAME_RE.match(name):
        raise AdminError(f"--bot: {username!r} is not a Telegram bot username")
    return name


def deep_link_url(bot_username: str, store_code: str, table: str | None = None) -> str:
    """https://t.me/<bot>?start=<payload> for a store, optionally at a table."""
    return f"https://t.me/{bot_username}?start={store_deep_link_payload(store_code, table)}"


def build_qr(data: str) -> qrcode.QRCode:
    """The QR code `o2o store qr` draws, so tests can rebuild and compare its matrix."""
    code = qrcode.QRCode(error_correction=_ERROR_CORRECTION, box_size=BOX_SIZE, border=BORDER)
    code.add_data(data)
    code.make(fit=True)
    return code


def render_qr_png(data: str, caption: str, out: Path) -> None:
    """Write a PNG: the QR code of `data` with an ASCII caption line underneath."""
    code = build_qr(data)
    matrix: list[list[bool]] = code.get_matrix()  # includes the border
    size = len(matrix) * BOX_SIZE
    image = Image.new("L", (size, size + CAPTION_HEIGHT), 255)
    pixels = ImageDraw.Draw(image)
    for row_index, row in enumerate(matrix):
        for column, dark in enumerate(row):
            if dark:
                left, top = column * BOX_SIZE, row_index * BOX_SIZE
                pixels.rectangle((left, top, left + BOX_SIZE - 1, top + BOX_SIZE - 1), fill=0)
    font = _font(24)
    text = caption.encode("ascii", "replace").decode("ascii")
    box_left, box_top, box_right, box_bottom = pixels.textbbox((0, 0), text, font=font)
    x = max(0.0, (size - (box_right - box_left)) / 2 - box_left)
    y = size + (CAPTION_HEIGHT - (box_bottom - box_top)) / 2 - box_top  # below the quiet zone
    pixels.text((x, y), text, fill=0, font=font)
    image.save(out, format="PNG")


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # old Pillow or no FreeType: the bitmap font
        return ImageFont.load_default()


async def make_store_qr(
    sessionmaker: async_sessionmaker[AsyncSession],
    store_code: str,
    out: Path,
    *,
    bot_username: str | None,
    table: str | None = None,
) -> QrResult:
    """Check the store (and table) exist, then write the QR PNG; return the encoded URL."""
    bot = normalize_bot_username(bot_username)
    async with sessionmaker() as session:
        store = await session.scalar(select(models.Store).where(models.Store.code == store_code))
        if store is None:
            raise AdminError(f"unknown store {store_code!r} (see `o2o store list`)")
        if table is not None:
            table = table.strip()
            labels = set(
                await session.scalars(
                    select(models.StoreTable.label).where(
                        models.StoreTable.store_id == store.id,
                        models.StoreTable.active.is_(True),
                    )
                )
            )
            if table.isdigit():
                table = str(int(table))
            if labels and table not in labels:
                raise AdminError(f"--table: store {store_code!r} has no table {table!r}")
    try:
        url = deep_link_url(bot, store_code, table)
    except ValueError as exc:
        raise AdminError(f"--table: {exc}") from None
    caption = f"{store_code} - table {table}" if table is not None else store_code
    try:
        render_qr_png(url, caption, out)
    except OSError as exc:
        raise AdminError(f"--out: cannot write {out}: {exc.strerror or exc}") from None
    return QrResult(url=url, path=out, caption=caption)
