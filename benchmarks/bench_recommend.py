"""Top-N for every customer: numpy over the fitted SVD factors against a `predict()` loop.

Two data sets: MovieLens-small (610 users x 9,724 items, ../shared/data) and a shop-sized
synthetic one (5,000 customers x 200 products, ~15 purchases each, the ratings that
`analytics.recommend.build_ratings` gives repeat purchases). One seeded SVD per data set; then
`top_n_vectorized` (every user at once) and `top_n_predict_loop` (one `predict()` per user and
item, the reference) list the top 10 unrated items of each user. Seconds are the best of 3 for
the vectorized path and one run for the loop; the benchmark fails unless the lists are identical.
--quick (`python -m benchmarks --quick`) runs the loop on the first 500 / 60 users only.

    .venv/bin/python benchmarks/bench_recommend.py [--n 10] [--loop-users N] [--skip-movielens]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd

from analytics.recommend import (
    build_ratings,
    fit_svd,
    top_n_predict_loop,
    top_n_vectorized,
)
from benchmarks.table import Row

MOVIELENS = Path(__file__).resolve().parents[2] / "shared/data/movielens-small/ratings.csv"
N = 10
# Quick runs time the predict() loop on the first users only (its time is scaled to all).
QUICK_LOOP_USERS = {"recommend-shop": 500, "recommend-movielens": 60}


def movielens() -> tuple[pd.DataFrame, tuple[float, float]]:
    """MovieLens-small ratings as (user, item, rating)."""
    frame = pd.read_csv(MOVIELENS)
    ratings = frame.rename(columns={"userId": "user", "movieId": "item"})
    return ratings[["user", "item", "rating"]], (0.5, 5.0)


def shop(customers: int = 5000, products: int = 200, seed: int = 0) -> pd.DataFrame:
    """Synthetic repeat purchases (Zipf-popular products, personal favourites) as ratings."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, products + 1)
    weights /= weights.sum()
    rows = []
    order = 0
    for customer in range(customers):
        favourites = rng.choice(products, size=3, replace=False, p=weights)
        for _ in range(rng.integers(3, 28)):
            order += 1
            pick = rng.choice(favourites) if rng.random() < 0.5 else rng.choice(products, p=weights)
            rows.append((order, customer, int(pick)))
    lines = pd.DataFrame(rows, columns=["order_id", "customer_id", "product_id"])
    return build_ratings(lines, pd.DataFrame(columns=["order_id", "score"]))


@dataclass(frozen=True)
class Figures:
    """One data set: its size, the fit, both paths' seconds and whether the lists agree."""

    name: str
    users: int
    items: int
    ratings: int
    fit_seconds: float
    numpy_seconds: float
    loop_users: int
    loop_seconds: float  # the loop's time on `loop_users`, not scaled
    identical: bool

    @property
    def loop_all_seconds(self) -> float:
        """The loop's time scaled to every user (it may cover a sample)."""
        return self.loop_seconds * self.users / self.loop_users


def run(
    name: str, ratings: pd.DataFrame, scale: tuple[float, float], n: int, loop_sample: int | None
) -> Figures:
    """Fit, time both paths on the data set and compare their lists on the loop's users."""
    started = time.perf_counter()
    algo = fit_svd(ratings, seed=0, rating_scale=scale)
    fit_s = time.perf_counter() - started
    seen: dict[Any, set[Any]] = {u: set(g) for u, g in ratings.groupby("user")["item"]}
    users = list(seen)
    loop_users = users if loop_sample is None else users[:loop_sample]

    best = float("inf")
    fast: dict[Any, Any] = {}
    for _ in range(3):
        started = time.perf_counter()
        fast = top_n_vectorized(algo, n, users=users, exclude=seen)
        best = min(best, time.perf_counter() - started)
    started = time.perf_counter()
    slow = top_n_predict_loop(algo, n, users=loop_users, exclude=seen)
    loop_s = time.perf_counter() - started
    return Figures(
        name=name,
        users=len(users),
        items=int(ratings["item"].nunique()),
        ratings=len(ratings),
        fit_seconds=fit_s,
        numpy_seconds=best,
        loop_users=len(loop_users),
        loop_seconds=loop_s,
        identical=all(fast[u] == slow[u] for u in loop_users),
    )


def data_sets(skip_movielens: bool) -> list[tuple[str, str, pd.DataFrame, tuple[float, float]]]:
    """(row name, label, ratings, rating scale) of each data set there is."""
    sets = [("recommend-shop", "shop (synthetic)", shop(), (1.0, 5.0))]
    if not skip_movielens and MOVIELENS.exists():
        ratings, scale = movielens()
        sets.append(("recommend-movielens", "MovieLens-small", ratings, scale))
    return sets


def row_from(row_name: str, n: int, figures: Figures) -> Row:
    """One data set's row: numpy's top-N for everyone against the predict() loop."""
    sample = (
        ""
        if figures.loop_users == figures.users
        else f" (loop run on {figures.loop_users:,} users, scaled to all)"
    )
    speedup = figures.loop_all_seconds / figures.numpy_seconds
    return Row(
        name=row_name,
        what=(
            f"top-{n} for every user of {figures.name}, {figures.users:,} users x "
            f"{figures.items:,} items, {figures.ratings:,} ratings, from the fitted SVD; "
            f"baseline = a `predict()` loop{sample}; numpy best of 3"
        ),
        baseline=f"{figures.loop_all_seconds:.1f} s",
        measured=f"{figures.numpy_seconds:.2f} s ({speedup:.0f}x faster)",
        ratio=figures.numpy_seconds / figures.loop_all_seconds,
        goal="lists identical to the loop's",
        met=figures.identical,
        numbers={
            "numpy_seconds": figures.numpy_seconds,
            "loop_seconds_all_users": figures.loop_all_seconds,
            "loop_seconds_measured": figures.loop_seconds,
            "loop_users": figures.loop_users,
            "fit_seconds": figures.fit_seconds,
            "speedup": speedup,
            "users": figures.users,
            "items": figures.items,
            "ratings": figures.ratings,
            "identical": int(figures.identical),
        },
    )


def measure(quick: bool) -> list[Row]:
    """One row per data set; quick runs the predict() loop on a sample of users only."""
    rows = []
    for row_name, label, ratings, scale in data_sets(skip_movielens=False):
        sample = QUICK_LOOP_USERS.get(row_name) if quick else None
        rows.append(row_from(row_name, N, run(label, ratings, scale, N, sample)))
    return rows


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=N, help=f"list length ({N})")
    parser.add_argument("--loop-users", type=int, help="run the predict() loop on the first N")
    parser.add_argument("--skip-movielens", action="store_true")
    args = parser.parse_args()
    print(f"python {platform.python_version()}, numpy {np.__version__}, top-{args.n}")
    print(
        f"{'data (users x items)':<34} {'ratings':>9} {'fit s':>7} {'numpy s':>11} "
        f"{'predict() s':>10} {'ratio':>9}"
    )
    failed = []
    for _, name, ratings, scale in data_sets(args.skip_movielens):
        figures = run(name, ratings, scale, args.n, args.loop_users)
        label = f"{name} ({figures.users:,} x {figures.items:,})"
        sample = (
            ""
            if figures.loop_users == figures.users
            else (f" ({figures.loop_users} users, scaled)")
        )
        print(
            f"{label:<34} {figures.ratings:>9,} {figures.fit_seconds:>7.2f} "
            f"{figures.numpy_seconds:>11.3f} {figures.loop_all_seconds:>10.1f}{sample:<1} "
            f"{figures.loop_all_seconds / figures.numpy_seconds:>8.0f}x  "
            + ("identical" if figures.identical else "DIFFERENT")
        )
        if not figures.identical:
            failed.append(name)
    if failed:
        raise SystemExit(
            f"{', '.join(failed)}: the vectorized lists differ from the predict() loop"
        )


if __name__ == "__main__":
    main()
