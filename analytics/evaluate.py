"""Offline evaluation of the recommender: k-fold RMSE/MAE and top-N quality on a time split.

Errors: surprise's `KFold(n_splits=folds, random_state=seed)` folds, `SVD(random_state=seed)`
fitted on each training fold, RMSE and MAE of each test fold averaged over the folds: the same
figures as `surprise.model_selection.cross_validate` on the same data and folds. The rating scale
is the file's (lowest, highest) rating, which is what predictions are clipped to.

Top-N: per user, the last 20% of their ratings by timestamp (file order without timestamps) are
the test set, the rest train one model. Items the user rated 4 or more in the test set are
relevant. Each user gets k items they did not rate in training from SVD (by predicted rating),
from popularity (by number of raters in training) and from the blend the bot uses (see
`analytics.recommend`); precision@k, recall@k and NDCG@k (binary gains) are averaged over users
with at least one relevant item.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from surprise import SVD, Dataset, Reader, accuracy
from surprise.model_selection import KFold

from analytics.recommend import (
    DEFAULT_MIN_HISTORY,
    DEFAULT_POPULARITY_WEIGHT,
    fit_svd,
    popularity_bonus,
    top_n_vectorized,
)

TEST_FRACTION = 0.2
RELEVANT_FROM = 4.0
MODELS = ("svd", "popularity", "blend")


class RatingsFileError(ValueError):
    """The ratings file cannot be read as user, item, rating[, timestamp]."""


@dataclass(frozen=True)
class Evaluation:
    """Cross-validated errors and top-N quality of one evaluation run."""

    ratings: int
    users: int
    items: int
    folds: int
    seed: int
    k: int
    rmse: float
    mae: float
    fold_rmse: list[float]
    fold_mae: list[float]
    users_evaluated: int
    top_n: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The figures as a JSON-ready dict."""
        return {
            "ratings": self.ratings,
            "users": self.users,
            "items": self.items,
            "folds": self.folds,
            "seed": self.seed,
            "k": self.k,
            "rmse": round(self.rmse, 4),
            "mae": round(self.mae, 4),
            "fold_rmse": [round(v, 4) for v in self.fold_rmse],
            "fold_mae": [round(v, 4) for v in self.fold_mae],
            "users_evaluated": self.users_evaluated,
            "top_n": {m: {k: round(v, 4) for k, v in f.items()} for m, f in self.top_n.items()},
        }


def load_ratings(path: Path) -> pd.DataFrame:
    """Read user, item, rating[, timestamp] (first columns; header optional; comma or tab)."""
    try:
        with path.open(encoding="utf-8") as handle:
            first = handle.readline()
    except OSError as exc:
        raise RatingsFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise RatingsFileError(f"{path}: not a text file") from None
    sep = "\t" if "\t" in first else ","
    cells = [c.strip() for c in first.split(sep)]
    if len(cells) < 3:
        raise RatingsFileError(f"{path}:1: expected user, item, rating columns")
    header = _not_number(cells[2])
    try:
        frame = pd.read_csv(path, sep=sep, header=None, skiprows=1 if header else 0, dtype=str)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise RatingsFileError(f"{path}: {str(exc).strip().splitlines()[0]}") from None
    if frame.shape[1] < 3 or frame.empty:
        raise RatingsFileError(f"{path}: expected user, item, rating columns and some rows")
    out = pd.DataFrame({"user": frame[0].str.strip(), "item": frame[1].str.strip()})
    out["rating"] = pd.to_numeric(frame[2], errors="coerce")
    bad = out["rating"].isna() | out["user"].isna() | out["item"].isna()
    if frame.shape[1] >= 4:
        out["timestamp"] = pd.to_numeric(frame[3], errors="coerce")
        bad |= out["timestamp"].isna()
    if bad.any():
        line = int(np.flatnonzero(bad.to_numpy())[0]) + 1 + int(header)
        raise RatingsFileError(f"{path}:{line}: not a user, item, numeric rating row")
    return out


def _not_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return True
    return False


def cross_validated_errors(
    ratings: pd.DataFrame, folds: int = 5, seed: int = 0
) -> tuple[list[float], list[float]]:
    """Per-fold RMSE and MAE of SVD(random_state=seed) on KFold(folds, random_state=seed)."""
    data = Dataset.load_from_df(ratings[["user", "item", "rating"]], _reader(ratings))
    rmses: list[float] = []
    maes: list[float] = []
    for trainset, testset in KFold(n_splits=folds, random_state=seed).split(data):
        algo = SVD(random_state=seed)
        algo.fit(trainset)
        predictions = algo.test(testset)
        rmses.append(float(accuracy.rmse(predictions, verbose=False)))
        maes.append(float(accuracy.mae(predictions, verbose=False)))
    return rmses, maes


def _reader(ratings: pd.DataFrame) -> Reader:
    return Reader(rating_scale=(float(ratings["rating"].min()), float(ratings["rating"].max())))


def time_split(ratings: pd.DataFrame, test_fraction: float = TEST_FRACTION) -> tuple[Any, Any]:
    """Per user, the last `test_fraction` of ratings by timestamp (file order on ties) as test."""
    frame = ratings.reset_index(drop=True)
    frame = frame.assign(_row=np.arange(len(frame)))
    keys = ["user", "timestamp", "_row"] if "timestamp" in frame else ["user", "_row"]
    frame = frame.sort_values(keys, kind="stable")
    position = frame.groupby("user", sort=False).cumcount()
    size = frame.groupby("user", sort=False)["item"].transform("size")
    train_count = np.ceil(size * (1 - test_fraction)).astype(int)
    is_test = position >= train_count
    train = frame[~is_test].sort_values("_row").drop(columns="_row")
    test = frame[is_test].sort_values("_row").drop(columns="_row")
    return train, test


def _metrics(
    lists: Mapping[Hashable, list[Hashable]], relevant: Mapping[Hashable, set[Hashable]], k: int
) -> dict[str, float]:
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    precision = recall = ndcg = 0.0
    for user, rel in relevant.items():
        got = lists.get(user, [])[:k]
        hits = np.array([item in rel for item in got], dtype=np.float64)
        precision += hits.sum() / k
        recall += hits.sum() / len(rel)
        ideal = discounts[: min(len(rel), k)].sum()
        ndcg += float((hits * discounts[: len(hits)]).sum()) / ideal
    users = max(len(relevant), 1)
    return {
        f"precision@{k}": precision / users,
        f"recall@{k}": recall / users,
        f"ndcg@{k}": ndcg / users,
    }


def top_n_quality(
    ratings: pd.DataFrame,
    *,
    k: int = 10,
    seed: int = 0,
    min_history: int = DEFAULT_MIN_HISTORY,
    popularity_weight: float = DEFAULT_POPULARITY_WEIGHT,
) -> tuple[int, dict[str, dict[str, float]]]:
    """Users evaluated and precision/recall/NDCG@k of SVD, popularity and the blend."""
    train, test = time_split(ratings)
    relevant_rows = test[test["rating"] >= RELEVANT_FROM]
    relevant = {u: set(g) for u, g in relevant_rows.groupby("user", sort=True)["item"]}
    seen = {u: set(g) for u, g in train.groupby("user", sort=False)["item"]}
    algo = fit_svd(train, seed=seed, rating_scale=_reader(ratings).rating_scale)
    users = list(relevant)
    svd = top_n_vectorized(algo, k, users=users, exclude=seen)
    bonus = popularity_bonus(algo, popularity_weight)
    blended = top_n_vectorized(algo, k, users=users, exclude=seen, bonus=bonus)

    raters = train.groupby("item")["user"].nunique().rename("n").reset_index()
    ranked = raters.sort_values(["n", "item"], ascending=[False, True])["item"].tolist()
    popular = {u: _first_unseen(ranked, seen.get(u, set()), k) for u in users}
    sizes = train.groupby("user").size()
    blend: dict[Hashable, list[Hashable]] = {}
    for user in users:
        if sizes.get(user, 0) >= min_history:
            picks = [item for item, _ in blended.get(user, [])]
            picks += [i for i in popular[user] if i not in picks][: k - len(picks)]
        else:
            picks = popular[user]
        blend[user] = picks
    results = {
        "svd": _metrics({u: [i for i, _ in v] for u, v in svd.items()}, relevant, k),
        "popularity": _metrics(popular, relevant, k),
        "blend": _metrics(blend, relevant, k),
    }
    return len(users), results


def _first_unseen(ranked: list[Hashable], seen: set[Hashable], k: int) -> list[Hashable]:
    out: list[Hashable] = []
    for item in ranked:
        if item not in seen:
            out.append(item)
            if len(out) == k:
                break
    return out


def evaluate(ratings_df: pd.DataFrame, folds: int = 5, seed: int = 0, k: int = 10) -> Evaluation:
    """Cross-validated RMSE/MAE and top-N precision/recall/NDCG@k of a ratings frame."""
    rmses, maes = cross_validated_errors(ratings_df, folds, seed)
    users_evaluated, top_n = top_n_quality(ratings_df, k=k, seed=seed)
    return Evaluation(
        ratings=len(ratings_df),
        users=int(ratings_df["user"].nunique()),
        items=int(ratings_df["item"].nunique()),
        folds=folds,
        seed=seed,
        k=k,
        rmse=math.fsum(rmses) / len(rmses),
        mae=math.fsum(maes) / len(maes),
        fold_rmse=rmses,
        fold_mae=maes,
        users_evaluated=users_evaluated,
        top_n=top_n,
    )
