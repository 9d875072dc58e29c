"""Great-circle distances between stores and customers, and the nearest stores to a point."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Final, TypeVar

T = TypeVar("T")

EARTH_RADIUS_KM: Final = 6371.0088  # IUGG mean radius


def _check_coordinates(latitude: float, longitude: float) -> None:
    for name, value, bound in (("latitude", latitude, 90.0), ("longitude", longitude, 180.0)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name} must be a number, got {value!r}")
        if not math.isfinite(value) or not -bound <= value <= bound:
            raise ValueError(f"{name} must be within [-{bound:g}, {bound:g}], got {value!r}")


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres between two points given in decimal degrees.

    Latitudes must be within [-90, 90] and longitudes within [-180, 180]; ValueError otherwise.
    """
    _check_coordinates(lat1, lon1)
    _check_coordinates(lat2, lon2)
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    half_dphi = (phi2 - phi1) / 2
    half_dlambda = math.radians(lon2 - lon1) / 2
    a = math.sin(half_dphi) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(half_dlambda) ** 2
    # Rounding can push ``a`` a hair outside [0, 1] for antipodal points.
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, max(0.0, a))))


def nearest(
    points: Iterable[tuple[T, float | None, float | None]],
    latitude: float,
    longitude: float,
    *,
    limit: int = 5,
    max_km: float | None = None,
) -> list[tuple[T, float]]:
    """The ``limit`` items closest to (latitude, longitude) with their distance in km.

    Items whose latitude or longitude is None are skipped; with ``max_km`` only items at most
    that far are kept. Sorted by distance; equally distant items keep their input order.
    """
    _check_coordinates(latitude, longitude)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"limit must be a non-negative integer, got {limit!r}")
    if max_km is not None and not (isinstance(max_km, int | float) and max_km >= 0):
        raise ValueError(f"max_km must be a non-negative number, got {max_km!r}")
    ranked: list[tuple[T, float]] = []
    for item, item_latitude, item_longitude in points:
        if item_latitude is None or item_longitude is None:
            continue
        km = haversine_km(latitude, longitude, item_latitude, item_longitude)
        if max_km is None or km <= max_km:
            ranked.append((item, km))
    ranked.sort(key=lambda pair: pair[1])
    return ranked[:limit]
