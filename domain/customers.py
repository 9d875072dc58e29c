"""Customers: Telegram users who order from a private chat."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Customer:
    """A customer as the conversation core sees them."""

    telegram_id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language: str = "en"
    language_chosen: bool = False
    phone: str | None = None
    marketing_consent: bool = False
    marketing_asked: bool = False  # the consent question was put once; never again
    surveys_enabled: bool = True
    reachable: bool = True
    selected_store_id: int | None = None
    id: int | None = None

    def refresh_profile(
        self, first_name: str, last_name: str | None, username: str | None, language: str
    ) -> bool:
        """Take the latest names from Telegram (and its language unless one was chosen)."""
        before = (self.first_name, self.last_name, self.username, self.language, self.reachable)
        self.first_name, self.last_name, self.username = first_name, last_name, username
        if not self.language_chosen:
            self.language = language
        # Writing to us again means they unblocked the bot.
        self.reachable = True
        return before != (
            self.first_name,
            self.last_name,
            self.username,
            self.language,
            self.reachable,
        )

    def choose_language(self, language: str) -> None:
        """Pin the customer's language so Telegram's client language no longer overrides it."""
        self.language = language
        self.language_chosen = True

    def answer_marketing(self, consent: bool) -> None:
        """Record the customer's yes or no to marketing pushes (also /subscribe, /unsubscribe)."""
        self.marketing_consent = consent
        self.marketing_asked = True
