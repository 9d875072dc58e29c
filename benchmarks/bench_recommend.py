"""Top-N for every customer: numpy over the fitted SVD factors against a `predict()` loop.

Two data sets: MovieLens-small (610 users x 9,724 items, ../shared/data) and a shop-sized
synthetic one (5,000 customers x 200 products, ~15 purchases each, the ratings that
`analytics.recommend.build_ratings` gives repeat purchases). One seeded SVD per data set; then
`top_n_vectorized` (every user at once) and `top_n_predict_loop` (one `predict()` per user and
item, the reference) list the top 10 unrated items of each user. Seconds are the best of 3 for
the vectorized path and one run for the loop; the benchmark fails unless the lists are identical.

    .venv/bin/python benchmarks/bench_recommend.py [--n 10] [--loop-users N] [--skip-movielens]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
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

MOVIELENS = Path(__file__).resolve().parents[2] / "shared/data/movielens-small/ratings.csv"


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


def run(name: str, ratings: pd.DataFrame, scale: tuple[float, float], args: Any) -> None:
    """Fit, time both paths, check the lists are identical and print one table row."""
    started = time.perf_counter()
    algo = fit_svd(ratings, seed=0, rating_scale=scale)
    fit_s = time.perf_counter() - started
    seen = {u: set(g) for u, g in ratings.groupby("user")["item"]}
    users = list(seen)
    loop_users = users if args.loop_users is None else users[: args.loop_users]

    best = float("inf")
    fast: dict[Any, Any] = {}
    for _ in range(3):
        started = time.perf_counter()
        fast = top_n_vectorized(algo, args.n, users=users, exclude=seen)
        best = min(best, time.perf_counter() - started)
    started = time.perf_counter()
    slow = top_n_predict_loop(algo, args.n, users=loop_users, exclude=seen)
    loop_s = time.perf_counter() - started
    if any(fast[u] != slow[u] for u in loop_users):
        raise SystemExit(f"{name}: the vectorized lists differ from the predict() loop")
    # The loop may cover a sample of users: scale its time to all of them for the ratio.
    loop_all = loop_s * len(users) / len(loop_users)
    items = ratings["item"].nunique()
    label = f"{name} ({len(users):,} x {items:,})"
    sample = "" if len(loop_users) == len(users) else f" ({len(loop_users)} users, scaled)"
    print(
        f"{label:<34} {len(ratings):>9,} {fit_s:>7.2f} {best:>11.3f} "
        f"{loop_all:>10.1f}{sample:<1} {loop_all / best:>8.0f}x  identical"
    )


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10, help="list length (10)")
    parser.add_argument("--loop-users", type=int, help="run the predict() loop on the first N")
    parser.add_argument("--skip-movielens", action="store_true")
    args = parser.parse_args()
    print(f"python {platform.python_version()}, numpy {np.__version__}, top-{args.n}")
    print(
        f"{'data (users x items)':<34} {'ratings':>9} {'fit s':>7} {'numpy s':>11} "
        f"{'predict() s':>10} {'ratio':>9}"
    )
    run("shop (synthetic)", shop(), (1.0, 5.0), args)
    if not args.skip_movielens and MOVIELENS.exists():
        ratings, scale = movielens()
        run("MovieLens-small", ratings, scale, args)


if __name__ == "__main__":
    main()
