"""Domain exceptions with stable codes the UI turns into translated messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar


class DomainError(Exception):
    """Base class for business-rule failures that a user can be told about."""

    # The UI builds i18n keys like "error.<code>", so codes are part of the public contract
    # and must never be renamed casually.
    code: ClassVar[str] = "domain_error"

    def __init__(self, message: str = "", *, details: Mapping[str, object] | None = None) -> None:
        """Store a developer-facing message and structured details for templating."""
        super().__init__(message or self.code)
        self.message = message or self.code
        self.details: dict[str, object] = dict(details or {})

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle without replaying ``__init__`` so subclasses with other signatures survive."""
        # Default exception pickling calls cls(*self.args), which breaks for subclasses whose
        # constructors take structured arguments; attributes travel in the state dict instead.
        return (_blank_error, (type(self), self.args), self.__dict__.copy())


def _blank_error(cls: type[DomainError], args: tuple[object, ...]) -> DomainError:
    error = Exception.__new__(cls)
    error.args = args
    return error


class InvalidTransition(DomainError):
    """A status change that the entity's transition table does not allow."""

    code: ClassVar[str] = "invalid_transition"

    def __init__(self, entity: str, entity_id: int | None, current: str, target: str) -> None:
        """Describe the refused move from ``current`` to ``target``."""
        self.entity = entity
        self.entity_id = entity_id
        self.current = str(current)
        self.target = str(target)
        label = f"{entity} #{entity_id}" if entity_id is not None else f"new {entity}"
        super().__init__(
            f"{label} cannot go from {self.current!r} to {self.target!r}",
            details={
                "entity": entity,
                "entity_id": entity_id,
                "current": self.current,
                "target": self.target,
            },
        )


class AlreadyInStatus(InvalidTransition):
    """A status change whose target is the current status (typically a double tap)."""

    # Kept distinct from InvalidTransition so the UI can answer a repeated button press with
    # "already done" instead of an error.
    code: ClassVar[str] = "already_in_status"


class NotFound(DomainError):
    """A referenced entity does not exist."""

    code: ClassVar[str] = "not_found"

    def __init__(self, entity: str, key: object) -> None:
        """Record which entity was looked up and by what key."""
        self.entity = entity
        self.key = key
        super().__init__(f"{entity} {key!r} not found", details={"entity": entity, "key": key})


class NotAuthorized(DomainError):
    """The actor may not perform the requested action."""

    code: ClassVar[str] = "not_authorized"

    def __init__(self, action: str, actor: str | None = None) -> None:
        """Record the refused action and, when known, who attempted it."""
        self.action = action
        self.actor = actor
        who = actor if actor is not None else "anonymous actor"
        super().__init__(f"{who} may not {action}", details={"action": action, "actor": actor})


class ValidationError(DomainError, ValueError):
    """An input value breaks a business rule (out of range, malformed, missing)."""

    # Also a ValueError so generic callers that guard against bad values still catch it.
    code: ClassVar[str] = "validation"

    def __init__(self, field: str, reason: str) -> None:
        """Record the offending field and a short machine-readable reason."""
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}", details={"field": field, "reason": reason})
