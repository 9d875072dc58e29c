"""Who administers a group, from getChatMember, cached briefly (asked before each transaction)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bot.transport import BotApiTransport, TransportError

log = logging.getLogger(__name__)
ADMIN_STATUSES = frozenset({"creator", "administrator"})


class GroupAdmins:
    """Answers "is this user an administrator of this group?" with a short-lived cache.

    Asked by the pipeline before it opens an update's transaction, so no HTTP call ever holds a
    database lock. A failed lookup counts as "no": staff can press again a moment later.
    """

    def __init__(
        self,
        transport: BotApiTransport,
        ttl: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.transport = transport
        self.ttl = ttl
        self._monotonic = monotonic
        self._cache: dict[tuple[int, int], tuple[bool, float]] = {}

    async def is_admin(self, chat_id: int, user_id: int) -> bool:
        """Whether `user_id` administers group `chat_id` (cached for `ttl` seconds)."""
        now = self._monotonic()
        cached = self._cache.get((chat_id, user_id))
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            member = await self.transport.call(
                "getChatMember", {"chat_id": chat_id, "user_id": user_id}
            )
        except TransportError as exc:
            log.warning("getChatMember failed", extra={"chat_id": chat_id, "error": str(exc)})
            return False
        admin = isinstance(member, dict) and member.get("status") in ADMIN_STATUSES
        self._cache[(chat_id, user_id)] = (admin, now + self.ttl)
        return admin
