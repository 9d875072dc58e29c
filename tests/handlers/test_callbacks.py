"""Callback data is compact, versioned and signed; anything else is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.callbacks import CallbackCodec, CallbackDataError

codec = CallbackCodec(b"s" * 32)
safe_text = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="|"),
    min_size=1,
    max_size=8,
)


@given(action=safe_text, args=st.lists(safe_text, max_size=3))
def test_encoded_data_decodes_to_the_same_action_and_args(action: str, args: list[str]) -> None:
    data = codec.encode(action, *args)

    decoded = codec.decode(data)

    assert len(data.encode()) <= 64
    assert (decoded.action, decoded.args) == (action, tuple(args))


def test_a_changed_argument_is_refused() -> None:
    data = codec.encode("accept", "1234", "20")

    with pytest.raises(CallbackDataError):
        codec.decode(data.replace("|20|", "|30|"))


def test_data_signed_with_another_key_is_refused() -> None:
    other = CallbackCodec(b"t" * 32)

    with pytest.raises(CallbackDataError):
        codec.decode(other.encode("lang", "en"))


@pytest.mark.parametrize("data", ["", "lang", "1|lang", "x" * 65, "2|lang|en|AAAAAAAAAAA"])
def test_malformed_data_is_refused(data: str) -> None:
    with pytest.raises(CallbackDataError):
        codec.decode(data)


def test_encoding_refuses_data_over_64_bytes() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        codec.encode("action", "x" * 60)


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        CallbackCodec(b"short")
