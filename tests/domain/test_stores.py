"""Deep-link payloads for stores and tables."""

from __future__ import annotations

import pytest

from domain.stores import DeepLink, deep_link_candidates, store_deep_link_payload


def test_a_store_payload_reads_first_as_that_store() -> None:
    assert deep_link_candidates("scentral")[0] == DeepLink("central")


def test_a_table_payload_offers_the_store_and_the_table_readings() -> None:
    candidates = deep_link_candidates("scentralt12")

    assert candidates[:2] == [DeepLink("centralt12"), DeepLink("central", "12")]


@pytest.mark.parametrize("payload", ["", "xcentral", "s", "sA!", "s" + "a" * 70])
def test_payloads_that_name_no_store_give_no_reading(payload: str) -> None:
    assert deep_link_candidates(payload) == []


def test_payloads_round_trip_through_the_builder() -> None:
    assert deep_link_candidates(store_deep_link_payload("mall_2"))[0] == DeepLink("mall_2")
    assert DeepLink("mall_2", "A7") in deep_link_candidates(store_deep_link_payload("mall_2", "A7"))


@pytest.mark.parametrize(("code", "table"), [("Central", None), ("c", None), ("ok", "a b")])
def test_invalid_codes_and_tables_are_refused_by_the_builder(code: str, table: str | None) -> None:
    with pytest.raises(ValueError):
        store_deep_link_payload(code, table)
