"""Fixtures of the sender tests: the fake Bot API with three customers and a staff group."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.fakeapi.server import FakeBotApi
from bot.runtime_aiogram import AiogramTransport
from tests.sender.test_sender import ALICE, BOB, CAROL, STAFF_GROUP, fake_api


@pytest.fixture
async def api() -> AsyncIterator[tuple[FakeBotApi, AiogramTransport]]:
    async with fake_api() as pair:
        fake, _ = pair
        for user_id, name in ((ALICE, "Alice"), (BOB, "Bob"), (CAROL, "Carol")):
            fake.add_user(user_id, name)
        fake.add_group(STAFF_GROUP, "Staff")
        yield pair


@pytest.fixture
def fake(api: tuple[FakeBotApi, AiogramTransport]) -> FakeBotApi:
    return api[0]


@pytest.fixture
def transport(api: tuple[FakeBotApi, AiogramTransport]) -> AiogramTransport:
    return api[1]
