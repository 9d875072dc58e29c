"""Recommendations: ratings from orders and surveys, seeded SVD, vectorized top-N, fallbacks.

Ratings (1-5 scale) per (customer, product), from completed orders:

- implicit: the number of distinct orders containing the product, mapped by `implicit_rating`:
  bought once 3.5, twice 4.0, 3-4 times 4.5, 5 or more times 5.0 (buying at all is a mildly
  positive signal; coming back for it is a strong one);
- explicit: the answered survey score (1-5) of each order containing the product;
- both: the mean of the explicit scores and the implicit rating, the implicit rating counting as
  one more score, so ``(sum(scores) + implicit) / (len(scores) + 1)``: a survey rates the whole
  visit, so it moves the rating without erasing the repeat-purchase signal.

Top-N: ``global_mean + bu + bi + pu . qi`` for every (user, item) at once, clipped to the rating
scale like `SVD.predict`, plus an optional per-item bonus (the popularity blend); ranked by score
rounded to 9 decimals (so the float summation order of numpy and of surprise cannot reorder
equal scores), ties by surprise's inner item id. `top_n_predict_loop` is the same ranking through
`predict()`, kept as the reference the vectorized path is tested and benchmarked against.

Blend (what the bot uses): for a customer with at least `min_history` ratings, the SVD score plus
``popularity_weight * (highest - lowest rating) * log1p(raters) / log1p(most raters)`` (raters of
the item in the training data; weight 1.0 by default, so the most popular item gains one full
scale width): SVD alone ranks obscure items with a few enthusiastic ratings first, the bonus makes
it re-rank what many people liked for this customer. On MovieLens-small (README,
Recommendations) SVD alone is below popularity on precision@10 and weights 0.5-2.0 are above it;
1.0 was picked there, on the same split it is reported on. The list is filled from popularity
when filters leave fewer than N. Customers with fewer than `min_history` (3) ratings, or none
(cold start), get the popular items of their store for their tier, then of the whole store.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from surprise import SVD, Dataset, Reader

REASON_SVD = "svd"
REASON_TIER = "popular_in_tier"
REASON_STORE = "popular_in_store"
RATING_SCALE = (1.0, 5.0)
SCORE_DECIMALS = 9
DEFAULT_MIN_HISTORY = 3
DEFAULT_POPULARITY_WEIGHT = 1.0
_FULL_SORT_ITEMS = 2048  # up to this many items a full row sort beats partition + loop
_BLOCK_CELLS = 4_000_000  # scores per block of users (32 MB): bounds the dense matrix's memory


@dataclass(frozen=True)
class Recommendation:
    """One recommended item with its score and why it was chosen."""

    item: Hashable
    score: float
    reason: str


# --------------------------------------------------------------------------- ratings


def implicit_rating(purchases: pd.Series) -> pd.Series:
    """Map repeat-purchase counts onto the 1-5 scale: 1 -> 3.5, 2 -> 4, 3-4 -> 4.5, 5+ -> 5."""
    counts = purchases.to_numpy()
    values = np.select(
        [counts >= 5, counts >= 3, counts == 2, counts == 1], [5.0, 4.5, 4.0, 3.5], default=np.nan
    )
    return pd.Series(values, index=purchases.index, name="implicit")


def build_ratings(lines: pd.DataFrame, surveys: pd.DataFrame) -> pd.DataFrame:
    """Ratings (user, item, rating) from completed order lines and answered surveys.

    `lines`: order_id, customer_id, product_id (one row per line of a completed order);
    `surveys`: order_id, score (answered surveys only).
    """
    pairs = lines[["order_id", "customer_id", "product_id"]].drop_duplicates()
    scored = pairs.merge(surveys[["order_id", "score"]], on="order_id", how="left")
    grouped = scored.groupby(["customer_id", "product_id"], sort=True)
    table = grouped.agg(
        orders=("order_id", "nunique"), score_sum=("score", "sum"), scores=("score", "count")
    )
    implicit = implicit_rating(table["orders"])
    rating = (table["score_sum"] + implicit) / (table["scores"] + 1)
    out = rating.rename("rating").reset_index()
    out.columns = pd.Index(["user", "item", "rating"])
    return out


# --------------------------------------------------------------------------- model


def fit_svd(
    ratings: pd.DataFrame,
    *,
    n_factors: int = 100,
    n_epochs: int = 20,
    seed: int = 0,
    rating_scale: tuple[float, float] = RATING_SCALE,
) -> Any:
    """Fit a seeded surprise SVD on (user, item, rating) columns; returns the fitted SVD."""
    reader = Reader(rating_scale=rating_scale)
    data = Dataset.load_from_df(ratings[["user", "item", "rating"]], reader)
    algo = SVD(n_factors=n_factors, n_epochs=n_epochs, random_state=seed)
    algo.fit(data.build_full_trainset())
    return algo


def history_sizes(algo: Any) -> dict[Hashable, int]:
    """Number of training ratings per raw user id."""
    ts = algo.trainset
    return {ts.to_raw_uid(u): len(ts.ur[u]) for u in ts.all_users()}


def item_ids(algo: Any) -> list[Hashable]:
    """Raw item ids in inner-id order (the column order of every score matrix here)."""
    ts = algo.trainset
    return [ts.to_raw_iid(i) for i in range(ts.n_items)]


def _scores(algo: Any, inner_users: np.ndarray, bonus: np.ndarray | None) -> np.ndarray:
    """Clipped SVD estimates (+ bonus) for the given inner users over all items, rounded."""
    lo, hi = algo.trainset.rating_scale
    est = algo.trainset.global_mean + algo.bu[inner_users][:, None] + algo.bi[None, :]
    est = est + algo.pu[inner_users] @ algo.qi.T
    est = np.clip(est, lo, hi)
    if bonus is not None:
        est = est + bonus[None, :]
    return np.asarray(np.round(est, SCORE_DECIMALS), dtype=np.float64)


def _inner_items(algo: Any, items: Iterable[Hashable]) -> list[int]:
    """Inner ids of the items the model knows (others cannot be scored, so nothing to mask)."""
    known: dict[Hashable, int] = algo.trainset._raw2inner_id_items
    return [known[i] for i in items if i in known]


def top_n_vectorized(
    algo: Any,
    n: int,
    *,
    users: Iterable[Hashable] | None = None,
    exclude: Mapping[Hashable, Collection[Hashable]] | None = None,
    allowed: Mapping[Hashable, Collection[Hashable]] | None = None,
    bonus: np.ndarray | None = None,
) -> dict[Hashable, list[tuple[Hashable, float]]]:
    """Top-n (item, score) for every known user (or `users`) from the fitted factors at once.

    `exclude[user]` items are never listed; when `allowed` is given only `allowed[user]` items
    are. Unknown users are skipped (they take the popularity fallback).
    """
    ts = algo.trainset
    raw_items = item_ids(algo)
    wanted = list(users) if users is not None else [ts.to_raw_uid(u) for u in ts.all_users()]
    known = [u for u in wanted if u in ts._raw2inner_id_users]
    result: dict[Hashable, list[tuple[Hashable, float]]] = {}
    rows = max(1, _BLOCK_CELLS // max(ts.n_items, 1))
    for start in range(0, len(known), rows):
        block = known[start : start + rows]
        inner = np.fromiter((ts._raw2inner_id_users[u] for u in block), dtype=np.int64)
        neg = -_scores(algo, inner, bonus)
        if allowed is not None:
            masks: dict[int, np.ndarray] = {}  # users of one store share one allowed set
            for row, user in enumerate(block):
                items = allowed.get(user, ())
                if id(items) not in masks:
                    keep = np.zeros(ts.n_items, dtype=bool)
                    keep[_inner_items(algo, items)] = True
                    masks[id(items)] = ~keep
                neg[row, masks[id(items)]] = np.inf
        if exclude is not None:
            rows_at: list[int] = []
            cols_at: list[int] = []
            for row, user in enumerate(block):
                cols = _inner_items(algo, exclude.get(user, ()))
                rows_at += [row] * len(cols)
                cols_at += cols
            neg[rows_at, cols_at] = np.inf
        # Stable sort on the negated scores: best first, ties by inner item id.
        count = min(n, ts.n_items)
        if ts.n_items > _FULL_SORT_ITEMS and count * 8 < ts.n_items:
            # Large catalog: partition first, keeping every item tied with the n-th score so
            # that the stable sort of the candidates still decides the ties by inner id.
            kth = np.partition(neg, count - 1, axis=1)[:, count - 1 : count]
            for row, user in enumerate(block):
                cand = np.flatnonzero(neg[row] <= kth[row, 0])
                order = cand[np.argsort(neg[row, cand], kind="stable")][:count]
                result[user] = _listed(order, neg[row][order], raw_items)
        else:
            order_all = np.argsort(neg, axis=1, kind="stable")[:, :count]
            values = -np.take_along_axis(neg, order_all, axis=1)
            # One conversion to Python lists per block; masked items score -inf and drop out.
            for user, inner_ids, scores in zip(
                block, order_all.tolist(), values.tolist(), strict=True
            ):
                result[user] = [
                    (raw_items[i], v)
                    for i, v in zip(inner_ids, scores, strict=True)
                    if v > -math.inf
                ]
    return result


def _listed(
    order: np.ndarray, neg: np.ndarray, raw_items: list[Hashable]
) -> list[tuple[Hashable, float]]:
    """(raw item, score) pairs of the ranked inner ids, without the masked-out (inf) ones."""
    keep = np.isfinite(neg)
    pairs = zip(order[keep].tolist(), (-neg[keep]).tolist(), strict=True)
    return [(raw_items[i], score) for i, score in pairs]


def top_n_predict_loop(
    algo: Any,
    n: int,
    *,
    users: Iterable[Hashable] | None = None,
    exclude: Mapping[Hashable, Collection[Hashable]] | None = None,
    allowed: Mapping[Hashable, Collection[Hashable]] | None = None,
    bonus: np.ndarray | None = None,
) -> dict[Hashable, list[tuple[Hashable, float]]]:
    """The same top-n as `top_n_vectorized`, one `predict()` per (user, item): the reference."""
    ts = algo.trainset
    raw_items = item_ids(algo)
    wanted = list(users) if users is not None else [ts.to_raw_uid(u) for u in ts.all_users()]
    result: dict[Hashable, list[tuple[Hashable, float]]] = {}
    for user in wanted:
        if user not in ts._raw2inner_id_users:
            continue
        banned = set(exclude.get(user, ())) if exclude is not None else set()
        only = set(allowed.get(user, ())) if allowed is not None else None
        scored = []
        for inner, item in enumerate(raw_items):
            if item in banned or (only is not None and item not in only):
                continue
            est = algo.predict(user, item).est
            if bonus is not None:
                est += bonus[inner]
            scored.append((float(np.round(est, SCORE_DECIMALS)), inner, item))
        scored.sort(key=lambda t: (-t[0], t[1]))
        result[user] = [(item, float(score)) for score, _, item in scored[:n]]
    return result


def popularity_bonus(algo: Any, weight: float = DEFAULT_POPULARITY_WEIGHT) -> np.ndarray:
    """Per-item blend bonus in inner-id order: weight x scale width x log1p(raters) / log1p(max)."""
    ts = algo.trainset
    lo, hi = ts.rating_scale
    raters = np.fromiter((len(ts.ir[i]) for i in range(ts.n_items)), dtype=np.float64)
    top = float(raters.max()) if raters.size else 0.0
    if weight == 0 or top == 0:
        return np.zeros(ts.n_items)
    scaled = weight * (hi - lo) * np.log1p(raters) / math.log1p(top)
    return np.asarray(scaled, dtype=np.float64)


# --------------------------------------------------------------------------- popularity


@dataclass(frozen=True)
class Popularity:
    """Items ranked by buyers per (store, tier) and per store, best first."""

    by_store_tier: dict[tuple[Hashable, str], list[tuple[Hashable, int]]]
    by_store: dict[Hashable, list[tuple[Hashable, int]]]


def _ranked(frame: pd.DataFrame, keys: list[str]) -> dict[Any, list[tuple[Hashable, int]]]:
    counts = frame.groupby([*keys, "product_id"])["customer_id"].nunique().rename("buyers")
    table = counts.reset_index().sort_values(
        [*keys, "buyers", "product_id"], ascending=[True] * len(keys) + [False, True]
    )
    out: dict[Any, list[tuple[Hashable, int]]] = {}
    for key, group in table.groupby(keys if len(keys) > 1 else keys[0], sort=False):
        out[key] = list(zip(group["product_id"].tolist(), group["buyers"].tolist(), strict=True))
    return out


def popularity(purchases: pd.DataFrame, tiers: Mapping[Hashable, str] | None = None) -> Popularity:
    """Popular items (distinct buyers) per (store, tier) and per store.

    `purchases`: customer_id, store_id, product_id (lines of completed orders); `tiers`:
    customer id -> tier name (customers without one count only store-wide).
    """
    frame = purchases[["customer_id", "store_id", "product_id"]]
    by_store = _ranked(frame, ["store_id"])
    by_tier: dict[tuple[Hashable, str], list[tuple[Hashable, int]]] = {}
    if tiers:
        tiered = frame.assign(tier=frame["customer_id"].map(tiers)).dropna(subset=["tier"])
        if not tiered.empty:
            by_tier = {(k[0], k[1]): v for k, v in _ranked(tiered, ["store_id", "tier"]).items()}
    return Popularity(by_store_tier=by_tier, by_store=by_store)


def recent_purchases(
    purchases: pd.DataFrame, as_of: pd.Timestamp, days: int
) -> dict[Hashable, set[Hashable]]:
    """Items each customer bought in the `days` before `as_of` (`placed_at` column, UTC)."""
    start = as_of - pd.Timedelta(days=days)
    window = purchases[(purchases["placed_at"] >= start) & (purchases["placed_at"] < as_of)]
    grouped = window.groupby("customer_id")["product_id"]
    return {customer: set(items) for customer, items in grouped}


# --------------------------------------------------------------------------- recommend


def recommend_all(
    algo: Any | None,
    customers: pd.DataFrame,
    popular: Popularity,
    *,
    n: int = 5,
    store_items: Mapping[Hashable, Collection[Hashable]],
    sold_out: Mapping[Hashable, Collection[Hashable]] | None = None,
    recent: Mapping[Hashable, Collection[Hashable]] | None = None,
    min_history: int = DEFAULT_MIN_HISTORY,
    popularity_weight: float = DEFAULT_POPULARITY_WEIGHT,
) -> dict[Hashable, list[Recommendation]]:
    """Up to n recommendations per customer (columns customer, store, tier), with reasons.

    Only items sold at the customer's store (`store_items`) and not sold out there, and not
    bought recently by the customer (`recent`), are listed. Customers with `min_history`
    ratings or more get the SVD + popularity blend (one vectorized pass for all of them); the
    rest, and any gap the filters leave, get the store's popular items for their tier, then the
    store's popular items.
    """
    sold_out = sold_out or {}
    recent = recent or {}
    allowed: dict[Hashable, set[Hashable]] = {}  # customer -> their store's usable set
    store_of: dict[Hashable, Hashable] = {}
    tier_of: dict[Hashable, str | None] = {}
    usable: dict[Hashable, set[Hashable]] = {}
    tiers = customers["tier"] if "tier" in customers else pd.Series([None] * len(customers))
    rows = zip(customers["customer"], customers["store"], tiers, strict=True)
    for customer, store, tier in rows:
        store_of[customer] = store
        tier_of[customer] = tier if isinstance(tier, str) else None
        if store not in usable:
            usable[store] = set(store_items.get(store, ())) - set(sold_out.get(store, ()))
        allowed[customer] = usable[store]

    svd_lists: dict[Hashable, list[tuple[Hashable, float]]] = {}
    if algo is not None:
        sizes = history_sizes(algo)
        eligible = [c for c in store_of if sizes.get(c, 0) >= min_history]
        bonus = popularity_bonus(algo, popularity_weight) if popularity_weight else None
        svd_lists = top_n_vectorized(
            algo, n, users=eligible, exclude=recent, allowed=allowed, bonus=bonus
        )

    result: dict[Hashable, list[Recommendation]] = {}
    for customer, home in store_of.items():
        picks = [Recommendation(i, s, REASON_SVD) for i, s in svd_lists.get(customer, [])]
        taken = {r.item for r in picks}
        bought = recent.get(customer, ())
        tier = tier_of[customer]
        sources: list[tuple[list[tuple[Hashable, int]], str]] = []
        if tier is not None:
            sources.append((popular.by_store_tier.get((home, tier), []), REASON_TIER))
        sources.append((popular.by_store.get(home, []), REASON_STORE))
        for ranked, reason in sources:
            for item, buyers in ranked:
                if len(picks) >= n:
                    break
                if item in allowed[customer] and item not in taken and item not in bought:
                    picks.append(Recommendation(item, float(buyers), reason))
                    taken.add(item)
        result[customer] = picks
    return result
