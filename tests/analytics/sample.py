"""A small hand-checked history: the orders, lines and reservations behind EXPECTED.

Period 2026-05-04..2026-05-06 in Asia/Shanghai (UTC+8): 2026-05-03T16:00Z to 2026-05-06T16:00Z;
the previous period is 2026-05-01..2026-05-03. Times below are UTC.

Current period (orders 1-6 and 10):
  1 central  completed  placed 05-04 01:00:00, accepted +2 min, completed +20 min, 3000 CNY, 5
  2 central  completed  placed 05-04 02:00:00, accepted +5 min, completed +40 min, 2500 CNY, 3
  3 river    rejected   placed 05-05 03:00:00, 2000 CNY
  4 central  cancelled  placed 05-05 04:00:00, accepted +1 min, 500 CNY
  5 central  completed  placed 05-06 15:59:59 (the period's last second, local 23:59:59),
                        accepted 16:10:00 (+601 s, after the period), completed +31 min,
                        2500 CNY, survey expired
  6 river    accepted   placed 05-06 10:00:00, accepted +3 min: still open at the end
  10 uptown  completed  placed 05-05 05:00:00, accepted +4 min, completed +14 min, 999 USD,
                        survey sent, not answered
Outside: 7 placed at 05-06 16:00:00 (the end: next period); previous period: 8 completed in
30 min after 1 min, 2000 CNY, score 4; 9 rejected.

Hand-computed (EXPECTED): placed 7, completed 4 (1, 2, 5, 10), CR 4/7; APT over 1200, 2400,
1860, 840 s: mean 1575 s = 26.25 min, median (1200 + 1860) / 2 = 1530 s = 25.5 min; accept over
120, 300, 60, 601, 180, 240 s = 1501 s / 6; CSAT 5 and 3: mean 4, one of two is 4-5, 2 answered
of 4 sent; revenue in CNY (the majority of the three stores) 3000 + 2500 + 2500 = 8000 over 3
orders -> 2666.67 -> 2667, one USD order left out; top products by quantity: Tea 3, Latte 2,
then Bagel, Cake, Croissant (1 each, by name; Donut, also 1, is sixth).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd

from analytics.kpis import StoreRef
from analytics.periods import Period

TZ = "Asia/Shanghai"
PERIOD = Period(label="2026-05-04..2026-05-06", first_day=datetime(2026, 5, 4).date(),
                last_day=datetime(2026, 5, 6).date(), timezone=TZ)  # fmt: skip
NOW = datetime(2026, 5, 6, 12, 0, tzinfo=UTC)

STORES = (
    StoreRef("central", "Central Café", TZ, "CNY"),
    StoreRef("river", "Riverside Tea House", TZ, "CNY"),
    StoreRef("uptown", "Uptown Deli", TZ, "USD"),
)


def t(text: str) -> datetime:
    """An aware UTC datetime from ``MM-DD HH:MM:SS`` in 2026."""
    return datetime.strptime(f"2026-{text}", "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


# order_id, store, status, placed, accepted, completed, rejected, cancelled, total, currency,
# survey status, score
ORDERS: list[tuple[Any, ...]] = [
    (1, "central", "completed", t("05-04 01:00:00"), t("05-04 01:02:00"), t("05-04 01:20:00"),
     None, None, 3000, "CNY", "answered", 5),
    (2, "central", "completed", t("05-04 02:00:00"), t("05-04 02:05:00"), t("05-04 02:40:00"),
     None, None, 2500, "CNY", "answered", 3),
    (3, "river", "rejected", t("05-05 03:00:00"), None, None, t("05-05 03:02:00"), None,
     2000, "CNY", None, None),
    (4, "central", "cancelled", t("05-05 04:00:00"), t("05-05 04:01:00"), None, None,
     t("05-05 04:30:00"), 500, "CNY", None, None),
    (5, "central", "completed", t("05-06 15:59:59"), t("05-06 16:10:00"), t("05-06 16:30:59"),
     None, None, 2500, "CNY", "expired", None),
    (6, "river", "accepted", t("05-06 10:00:00"), t("05-06 10:03:00"), None, None, None,
     1200, "CNY", None, None),
    (7, "central", "completed", t("05-06 16:00:00"), t("05-06 16:01:00"), t("05-06 16:20:00"),
     None, None, 1000, "CNY", "scheduled", None),
    (8, "central", "completed", t("05-03 15:59:59"), t("05-03 16:00:59"), t("05-03 16:29:59"),
     None, None, 2000, "CNY", "answered", 4),
    (9, "river", "rejected", t("05-02 00:00:00"), None, None, t("05-02 00:05:00"), None,
     700, "CNY", None, None),
    (10, "uptown", "completed", t("05-05 05:00:00"), t("05-05 05:04:00"), t("05-05 05:14:00"),
     None, None, 999, "USD", "sent", None),
]  # fmt: skip

# order_id, name, quantity, line_total_minor
LINES: list[tuple[int, str, int, int]] = [
    (1, "Latte", 2, 2000), (1, "Croissant", 1, 1000),
    (2, "Tea", 1, 1000), (2, "Bagel", 1, 800), (2, "Donut", 1, 700),
    (3, "Latte", 5, 5000),
    (4, "Latte", 1, 500),
    (5, "Tea", 2, 2000), (5, "Cake", 1, 500),
    (6, "Latte", 1, 1200),
    (7, "Tea", 9, 1000),
    (8, "Latte", 1, 1000), (8, "Tea", 1, 1000),
    (9, "Latte", 1, 700),
    (10, "Latte", 1, 999),
]  # fmt: skip

# store, starts_at, status
RESERVATIONS: list[tuple[str, datetime, str]] = [
    ("central", t("05-04 04:00:00"), "no_show"),
    ("central", t("05-05 11:00:00"), "completed"),
    ("river", t("05-05 12:00:00"), "seated"),
    ("central", t("05-06 04:00:00"), "cancelled"),
    ("central", t("05-06 05:00:00"), "requested"),
    ("central", t("05-02 05:00:00"), "no_show"),
    ("central", t("05-06 16:00:00"), "no_show"),
]

EXPECTED: dict[str, Any] = {
    "orders_placed": 7,
    "orders_completed": 4,
    "orders_rejected": 1,
    "orders_cancelled": 1,
    "conversion_rate": 4 * 100 / 7,
    "apt_minutes": 26.25,
    "apt_median_minutes": 25.5,
    "accept_minutes": 1501 / 360,
    "csat_avg": 4.0,
    "csat_share_4_5": 50.0,
    "csat_responses": 2,
    "survey_response_rate": 50.0,
    "revenue_minor": 8000,
    "avg_order_value_minor": 2667,
    "currency": "CNY",
    "top_products": [
        {"name": "Tea", "quantity": 3, "revenue_minor": 3000},
        {"name": "Latte", "quantity": 2, "revenue_minor": 2000},
        {"name": "Bagel", "quantity": 1, "revenue_minor": 800},
        {"name": "Cake", "quantity": 1, "revenue_minor": 500},
        {"name": "Croissant", "quantity": 1, "revenue_minor": 1000},
    ],
    "reservations": 5,
    "no_show_rate": 100 / 3,
}
EXPECTED_PREVIOUS: dict[str, Any] = {
    "orders_placed": 2,
    "orders_completed": 1,
    "orders_rejected": 1,
    "orders_cancelled": 0,
    "conversion_rate": 50.0,
    "apt_minutes": 30.0,
    "apt_median_minutes": 30.0,
    "accept_minutes": 1.0,
    "csat_avg": 4.0,
    "csat_share_4_5": 100.0,
    "csat_responses": 1,
    "survey_response_rate": 100.0,
    "revenue_minor": 2000,
    "avg_order_value_minor": 2000,
    "currency": "CNY",
    "top_products": [
        {"name": "Latte", "quantity": 1, "revenue_minor": 1000},
        {"name": "Tea", "quantity": 1, "revenue_minor": 1000},
    ],
    "reservations": 1,
    "no_show_rate": 100.0,
}
# (day, placed, completed, CR, CSAT) of the current period, local days.
EXPECTED_DAILY = [
    ("2026-05-04", 2, 2, 100.0, 4.0),
    ("2026-05-05", 3, 1, 100 / 3, None),
    ("2026-05-06", 2, 1, 50.0, None),
]


def orders_frame(store: str | None = None) -> pd.DataFrame:
    """ORDERS as a DataFrame with the export's column names (aware datetimes, NaT if unset)."""
    rows = [
        {
            "order_id": o[0],
            "store": o[1],
            "status": o[2],
            "placed_at": o[3],
            "accepted_at": o[4],
            "completed_at": o[5],
            "rejected_at": o[6],
            "cancelled_at": o[7],
            "total_minor": o[8],
            "currency": o[9],
            "survey_status": o[10] if o[10] in ("sent", "answered", "expired") else None,
            "survey_score": o[11],
        }
        for o in ORDERS
        if store is None or o[1] == store
    ]
    frame = pd.DataFrame(rows)
    for name in ("placed_at", "accepted_at", "completed_at", "rejected_at", "cancelled_at"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame


def lines_frame() -> pd.DataFrame:
    """LINES as a DataFrame."""
    return pd.DataFrame(LINES, columns=["order_id", "name", "quantity", "line_total_minor"])


def reservations_frame(store: str | None = None) -> pd.DataFrame:
    """RESERVATIONS as a DataFrame (``starts_at``, ``status``)."""
    rows = [(s, at, status) for s, at, status in RESERVATIONS if store is None or s == store]
    frame = pd.DataFrame(rows, columns=["store", "starts_at", "status"])
    frame["starts_at"] = pd.to_datetime(frame["starts_at"], utc=True)
    return frame
