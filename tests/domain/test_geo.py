"""Distances between coordinates and the nearest stores to a customer."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.geo import EARTH_RADIUS_KM, haversine_km, nearest

PEOPLES_SQUARE = (31.2304, 121.4737)
WAIBAIDU_BRIDGE = (31.2446, 121.4898)  # the north end of the Bund
LONDON = (51.5074, -0.1278)
PARIS = (48.8566, 2.3522)

latitudes = st.floats(-90, 90, allow_nan=False)
longitudes = st.floats(-180, 180, allow_nan=False)


def test_peoples_square_to_the_bund_is_about_two_kilometres() -> None:
    assert 2.0 <= haversine_km(*PEOPLES_SQUARE, *WAIBAIDU_BRIDGE) <= 2.6


def test_london_to_paris_is_about_343_kilometres() -> None:
    assert haversine_km(*LONDON, *PARIS) == pytest.approx(343, abs=2)


def test_one_degree_of_latitude_is_about_111_kilometres() -> None:
    assert haversine_km(10, 20, 11, 20) == pytest.approx(111.195, abs=0.01)


def test_antipodes_are_half_the_circumference_apart() -> None:
    assert haversine_km(0, 0, 0, 180) == pytest.approx(math.pi * EARTH_RADIUS_KM)
    assert haversine_km(90, 0, -90, 0) == pytest.approx(math.pi * EARTH_RADIUS_KM)


def test_the_antimeridian_is_crossed_the_short_way() -> None:
    assert haversine_km(0, 179.5, 0, -179.5) == pytest.approx(111.195, abs=0.01)


@pytest.mark.parametrize(
    "point",
    [(90.1, 0), (-91, 0), (0, 180.5), (0, -181), (math.nan, 0), (0, math.inf), (None, 0)],
)
def test_coordinates_out_of_range_are_refused(point: tuple[float, float]) -> None:
    with pytest.raises(ValueError):
        haversine_km(*point, 0, 0)
    with pytest.raises(ValueError):
        haversine_km(0, 0, *point)


@settings(max_examples=50)
@given(latitudes, longitudes, latitudes, longitudes)
def test_distance_is_symmetric_non_negative_and_at_most_half_the_circumference(
    lat1: float, lon1: float, lat2: float, lon2: float
) -> None:
    there = haversine_km(lat1, lon1, lat2, lon2)

    assert there == pytest.approx(haversine_km(lat2, lon2, lat1, lon1))
    assert 0 <= there <= math.pi * EARTH_RADIUS_KM + 1e-9
    assert haversine_km(lat1, lon1, lat1, lon1) == 0


STORES = [
    ("riverside", 31.2397, 121.4998),
    ("no-location", None, None),
    ("central", 31.2304, 121.4737),
    ("half-location", 31.2, None),
    ("suzhou", 31.2989, 120.5853),
    ("beijing", 39.9042, 116.4074),
]


def test_nearest_orders_by_distance_and_reports_kilometres() -> None:
    ranked = nearest(STORES, *PEOPLES_SQUARE)

    assert [name for name, _ in ranked] == ["central", "riverside", "suzhou", "beijing"]
    assert ranked[0][1] == 0
    assert ranked[1][1] == pytest.approx(haversine_km(*PEOPLES_SQUARE, 31.2397, 121.4998))


def test_items_without_coordinates_are_skipped() -> None:
    names = [name for name, _ in nearest(STORES, *PEOPLES_SQUARE, limit=10)]

    assert "no-location" not in names
    assert "half-location" not in names


def test_nearest_returns_at_most_limit_items() -> None:
    assert [name for name, _ in nearest(STORES, *PEOPLES_SQUARE, limit=2)] == [
        "central",
        "riverside",
    ]
    assert nearest(STORES, *PEOPLES_SQUARE, limit=0) == []


def test_items_beyond_max_km_are_left_out() -> None:
    ranked = nearest(STORES, *PEOPLES_SQUARE, max_km=100)

    assert [name for name, _ in ranked] == ["central", "riverside", "suzhou"]


def test_nearest_with_nothing_to_rank_is_empty() -> None:
    assert nearest([], *PEOPLES_SQUARE) == []
    assert nearest([("nowhere", None, None)], *PEOPLES_SQUARE) == []


def test_nearest_keeps_whatever_items_it_is_given() -> None:
    class Shop:
        pass

    shop = Shop()

    assert nearest([(shop, 31.0, 121.0)], 31.0, 121.0) == [(shop, 0.0)]


def test_equally_distant_items_keep_their_input_order() -> None:
    ranked = nearest([("east", 0.0, 1.0), ("west", 0.0, -1.0)], 0.0, 0.0)

    assert [name for name, _ in ranked] == ["east", "west"]


@pytest.mark.parametrize("kwargs", [{"limit": -1}, {"max_km": -1.0}, {"limit": True}])
def test_invalid_limits_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        nearest(STORES, *PEOPLES_SQUARE, **kwargs)  # type: ignore[arg-type]


def test_an_invalid_query_point_is_refused_even_with_nothing_to_rank() -> None:
    with pytest.raises(ValueError):
        nearest([], 95.0, 0.0)


@settings(max_examples=50)
@given(
    points=st.lists(
        st.tuples(st.integers(), st.none() | latitudes, st.none() | longitudes), max_size=12
    ),
    latitude=latitudes,
    longitude=longitudes,
    limit=st.integers(0, 6),
    max_km=st.none() | st.floats(0, 25_000),
)
def test_nearest_is_sorted_limited_and_within_range(
    points: list[tuple[int, float | None, float | None]],
    latitude: float,
    longitude: float,
    limit: int,
    max_km: float | None,
) -> None:
    ranked = nearest(points, latitude, longitude, limit=limit, max_km=max_km)
    distances = [km for _, km in ranked]

    assert len(ranked) <= limit
    assert distances == sorted(distances)
    assert all(max_km is None or km <= max_km for km in distances)
    in_range = [
        item
        for item, lat, lon in points
        if lat is not None
        and lon is not None
        and (max_km is None or haversine_km(latitude, longitude, lat, lon) <= max_km)
    ]
    assert len(ranked) == min(limit, len(in_range))
