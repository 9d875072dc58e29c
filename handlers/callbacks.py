"""Button data codec: compact, versioned, HMAC-signed, at most 64 bytes; untrusted on the way in."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

VERSION = "1"
MAX_CALLBACK_BYTES = 64
_SEPARATOR = "|"
_SIGNATURE_BYTES = 8  # 64-bit tag: forging needs ~2**63 presses, each re-authorized anyway


class CallbackDataError(ValueError):
    """Callback data that is malformed, of another version, too long or wrongly signed."""


@dataclass(frozen=True, slots=True)
class CallbackData:
    """A decoded press: an action name and its string arguments."""

    action: str
    args: tuple[str, ...] = ()


class CallbackCodec:
    """Encodes and verifies `1|action|arg...|signature` strings."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("callback signing key must be at least 16 bytes")
        self._key = key

    def encode(self, action: str, *args: object) -> str:
        """Sign an action and its arguments into callback data; refuse anything over 64 bytes."""
        parts = [VERSION, action, *(str(arg) for arg in args)]
        if any(_SEPARATOR in part for part in parts):
            raise ValueError("callback parts may not contain '|'")
        body = _SEPARATOR.join(parts)
        data = f"{body}{_SEPARATOR}{self._sign(body)}"
        if len(data.encode()) > MAX_CALLBACK_BYTES:
            raise ValueError(f"callback data over {MAX_CALLBACK_BYTES} bytes: {action}")
        return data

    def decode(self, data: str) -> CallbackData:
        """Verify and decode callback data; raise CallbackDataError for anything not ours."""
        if not data or len(data.encode()) > MAX_CALLBACK_BYTES:
            raise CallbackDataError("empty or oversized")
        body, sep, signature = data.rpartition(_SEPARATOR)
        # As bytes: compare_digest refuses str with non-ASCII characters, which a press may carry.
        if not sep or not hmac.compare_digest(signature.encode(), self._sign(body).encode()):
            raise CallbackDataError("bad signature")
        version, _, rest = body.partition(_SEPARATOR)
        if version != VERSION or not rest:
            raise CallbackDataError("unknown version")
        action, *args = rest.split(_SEPARATOR)
        return CallbackData(action=action, args=tuple(args))

    def _sign(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:_SIGNATURE_BYTES]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")
