"""`o2o recommend`: evaluate the recommender on a ratings file, or recommend for one customer.

    o2o recommend evaluate --ratings FILE [--folds 5] [--seed 0] [--k 10] [--json]
    o2o recommend for CUSTOMER [--store CODE] [--n 5] [--recent-days 14] [--seed 0] [--json]

`for` reads O2O_DATABASE_URL: completed orders and answered surveys become ratings
(analytics.recommend), SVD is fitted on them, RFM (analytics.rfm, classic8, as of the day after
the last completed order) gives each customer the tier the popularity fallback uses, and the
customer (telegram id, else customers.id)
gets items of their store (`--store`, else their selected store, else the store of their last
order) that are available, not sold out and not bought in the last `--recent-days` days.
Input errors print one line and exit 2. pandas and surprise are imported lazily.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.settings import Settings


def register_recommend_commands(commands: Any) -> None:
    """Add `recommend evaluate` and `recommend for` to the `o2o` sub-parser collection."""
    recommend = commands.add_parser(
        "recommend",
        help="recommendations: evaluate on a ratings file, or list them for a customer",
        description="SVD recommendations with popularity fallbacks (see the README).",
    )
    kinds = recommend.add_subparsers(dest="recommend_command", metavar="WHAT", required=True)
    evaluate = kinds.add_parser(
        "evaluate",
        help="k-fold RMSE/MAE and top-N precision/recall/NDCG of SVD, popularity and the blend",
        description="FILE: user, item, rating and optionally timestamp as its first columns, "
        "header optional, comma or tab separated.",
    )
    evaluate.add_argument("--ratings", required=True, type=Path, metavar="FILE")
    evaluate.add_argument("--folds", type=int, default=5, help="cross-validation folds (5)")
    evaluate.add_argument("--seed", type=int, default=0, help="random seed (0)")
    evaluate.add_argument("--k", type=int, default=10, help="list length for top-N (10)")
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of a table")

    for_ = kinds.add_parser(
        "for",
        help="the recommendations for one customer, with the reason for each item",
    )
    for_.add_argument("customer", type=int, help="telegram id, or customers.id")
    for_.add_argument("--store", metavar="CODE", help="store (default: the customer's store)")
    for_.add_argument("--n", type=int, default=5, help="number of items (5)")
    for_.add_argument(
        "--recent-days", type=int, default=14, help="skip items bought in these days (14)"
    )
    for_.add_argument("--seed", type=int, default=0, help="random seed of the model (0)")
    for_.add_argument("--json", action="store_true", help="print JSON instead of a list")


def _error(message: str) -> Exception:
    from bot.cli import CliError  # bot.cli imports this module: import at call time

    return CliError(message)


def run_recommend_command(settings: Settings, args: argparse.Namespace) -> int:
    """`o2o recommend evaluate|for`."""
    if args.recommend_command == "evaluate":
        return _evaluate(args)
    from bot.stats_cli import _require_database, _with_engine

    if args.n < 1:
        raise _error("--n: must be at least 1")
    if args.recent_days < 0:
        raise _error("--recent-days: must not be negative")
    _require_database(settings)
    return asyncio.run(_with_engine(settings, lambda engine: _for(engine, args)))


def _evaluate(args: argparse.Namespace) -> int:
    from analytics.evaluate import RatingsFileError, evaluate, load_ratings

    if args.folds < 2:
        raise _error("--folds: must be at least 2")
    if args.k < 1:
        raise _error("--k: must be at least 1")
    try:
        ratings = load_ratings(args.ratings)
    except RatingsFileError as exc:
        raise _error(f"--ratings: {exc}") from None
    if len(ratings) < args.folds:
        raise _error(f"--ratings: {len(ratings)} ratings cannot make {args.folds} folds")
    result = evaluate(ratings, folds=args.folds, seed=args.seed, k=args.k)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
        return 0
    k = args.k
    print(
        f"{result.ratings} ratings, {result.users} users, {result.items} items; "
        f"{result.folds}-fold CV, seed {result.seed}"
    )
    print(f"RMSE {result.rmse:.4f}  MAE {result.mae:.4f}")
    print(f"\ntop-{k}, last 20% of each user's ratings as test ({result.users_evaluated} users)")
    print(f"{'model':12}{f'precision@{k}':>14}{f'recall@{k}':>12}{f'ndcg@{k}':>10}")
    for model, figures in result.top_n.items():
        p, r, n = (figures[f"{m}@{k}"] for m in ("precision", "recall", "ndcg"))
        print(f"{model:12}{p:>14.4f}{r:>12.4f}{n:>10.4f}")
    return 0


async def _for(engine: Any, args: argparse.Namespace) -> int:
    import pandas as pd
    from sqlalchemy import select

    from analytics.recommend import (
        build_ratings,
        fit_svd,
        popularity,
        recent_purchases,
        recommend_all,
    )
    from bot.db import models
    from bot.db.campaigns import load_marketing_data

    c, s = models.Customer.__table__.c, models.Store.__table__.c
    async with engine.connect() as conn:
        found = (
            await conn.execute(
                select(c.id, c.telegram_id, c.selected_store_id)
                .where((c.telegram_id == args.customer) | (c.id == args.customer))
                .order_by((c.telegram_id == args.customer).desc())  # a telegram id wins
            )
        ).first()
        if found is None:
            raise _error(f"customer {args.customer}: no customer with that telegram id or id")
        customer_id = found.id
        stores = {r.code: r.id for r in await conn.execute(select(s.code, s.id))}
    data = await load_marketing_data(engine)
    lines, surveys = data.lines, data.surveys
    totals = data.totals[["customer_id", "date", "amount"]]
    names = dict(zip(data.products["product_id"], data.products["name"], strict=True))
    stock = list(data.stock.itertuples())
    store_id = _store_for(args, stores, found.selected_store_id, lines, customer_id)
    code = next(k for k, v in stores.items() if v == store_id)
    sold = {r.product_id for r in stock if r.store_id == store_id}
    sold_out = {r.product_id for r in stock if r.store_id == store_id and r.stock == 0}

    def compute() -> tuple[str | None, list[Any]]:
        ratings = build_ratings(lines, surveys)
        algo = fit_svd(ratings, seed=args.seed) if not ratings.empty else None
        recent = (
            recent_purchases(lines, pd.Timestamp(datetime.now(UTC)), args.recent_days)
            if not lines.empty
            else {}
        )
        tiers = _tiers(totals)
        popular = popularity(lines, tiers)
        tier = tiers.get(customer_id)
        customers = pd.DataFrame({"customer": [customer_id], "store": [store_id], "tier": [tier]})
        picks = recommend_all(
            algo,
            customers,
            popular,
            n=args.n,
            store_items={store_id: sold},
            sold_out={store_id: sold_out},
            recent=recent,
        )
        return tier, picks[customer_id]

    tier, picks = await asyncio.to_thread(compute)
    if args.json:
        rows = [
            {"product_id": r.item, "name": names.get(r.item), "score": r.score, "reason": r.reason}
            for r in picks
        ]
        out = {
            "customer_id": customer_id,
            "telegram_id": found.telegram_id,
            "store": code,
            "tier": tier,
        }
        print(json.dumps({**out, "items": rows}, ensure_ascii=False, indent=2))
        return 0
    tier_text = f", tier {tier}" if tier else ""
    print(f"customer {customer_id} (telegram {found.telegram_id}) at {code}{tier_text}:")
    if not picks:
        print("  nothing to recommend (no sales history and no available products)")
    for rank, r in enumerate(picks, 1):
        print(f"  {rank}. {names.get(r.item, r.item)!s:30} {r.reason:18} {r.score:.3f}")
    return 0


def _tiers(totals: Any) -> dict[Any, str]:
    """Customer id -> RFM segment (classic8) as of the day after the last completed order."""
    from analytics.rfm import RfmError, compute_rfm, default_as_of, summarize_orders

    if totals.empty:
        return {}
    try:
        as_of = default_as_of(summarize_orders(totals))
        if as_of is None:
            return {}
        result = compute_rfm(totals, as_of)
    except RfmError:
        return {}  # no tiers: popularity falls back to the whole store
    frame = result.customers
    return dict(zip(frame["customer_id"].tolist(), frame["segment"].tolist(), strict=True))


def _store_for(
    args: argparse.Namespace,
    stores: dict[str, int],
    selected: int | None,
    lines: Any,
    customer_id: int,
) -> int:
    """--store, else the selected store, else the store of the customer's last order."""
    if args.store is not None:
        if args.store not in stores:
            raise _error(f"--store: no store {args.store!r}")
        return stores[args.store]
    if selected is not None:
        return selected
    own = lines[lines["customer_id"] == customer_id]
    if not own.empty:
        return int(own.sort_values("placed_at")["store_id"].iloc[-1])
    raise _error(f"customer {args.customer}: no selected store and no orders; pass --store")
