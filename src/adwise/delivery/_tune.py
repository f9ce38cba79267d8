"""``--tune`` for ranking: search each recommender's hyper-parameters on an inner split.

The inner validation is carved from the training interactions only: each user's latest
``share`` of interactions when an order (timestamps) is known, else a seeded random share of
them; users with a single interaction keep it for training.  A trial fits a candidate on the
rest and scores NDCG@k of its top-k (training items excluded) against the held-out items.
For the hybrid, every collaborative component is tuned this way (the budget split evenly
between them) and the hybrid then learns its blend weights as usual with the chosen values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from adwise._exceptions import InputError
from adwise._tuning import Budget, Dim, search
from adwise.delivery._implicit import make_recommender
from adwise.metrics import ndcg_at_k

__all__ = ["SEARCH_SPACES", "inner_split", "tune_ranking"]

#: What ``--tune`` searches per ranking model (the hybrid tunes its components).
SEARCH_SPACES: dict[str, tuple[Dim, ...]] = {
    "ease": (Dim("reg", 5.0, 5000.0, log=True),),
    "item_knn": (Dim("n_neighbors", 5, 500, log=True, integer=True),
                 Dim("shrink", 0.0, 100.0)),
    "als": (Dim("factors", 16, 256, log=True, integer=True),
            Dim("regularization", 1e-3, 50.0, log=True),
            Dim("alpha", 0.1, 50.0, log=True),
            Dim("iterations", 5, 30, integer=True)),
    "bpr": (Dim("factors", 16, 256, log=True, integer=True),
            Dim("learning_rate", 1e-3, 0.1, log=True),
            Dim("regularization", 1e-4, 0.1, log=True),
            Dim("iterations", 20, 300, log=True, integer=True)),
}
#: The hybrid's components that ``--tune`` searches (content and popularity have nothing
#: worth searching).
HYBRID_TUNED = ("ease", "item_knn", "als")


def inner_split(users: Any, order: Any = None, share: float = 0.2,
                seed: int = 0) -> np.ndarray:
    """A boolean mask of the validation interactions: per user the latest ``share`` (by
    ``order``), or a seeded random ``share`` without an order; at least one per user with two
    or more interactions, none for users with one.

    Examples
    --------
    >>> inner_split(["a", "a", "a", "a", "a", "b"], order=[5, 4, 3, 2, 1, 9]).tolist()
    [True, False, False, False, False, False]
    """
    u = pd.Series(np.asarray(users).astype(str))
    key = (np.random.default_rng(seed).random(len(u)) if order is None
           else pd.Series(np.asarray(order)).rank(method="first").to_numpy())
    frame = pd.DataFrame({"u": u, "k": key})
    pos = frame.sort_values(["u", "k"], kind="stable").groupby("u").cumcount()
    cnt = frame.groupby("u")["u"].transform("size")
    n_val = np.where(cnt >= 2, np.maximum(1, np.floor(cnt * share)), 0)
    return (pos.reindex(frame.index) >= cnt - n_val).to_numpy()


def _ndcg_scorer(users: pd.Series, items: pd.Series, weights: pd.Series | None,
                 is_val: np.ndarray, k: int) -> Callable[[str, dict[str, Any]], float]:
    tr = ~is_val
    rel = items[is_val].astype(str).groupby(users[is_val].astype(str)).agg(list)
    val_users = rel.index.to_numpy(dtype=object)
    w_tr = None if weights is None else weights[tr]

    def score(name: str, params: dict[str, Any]) -> float:
        m = make_recommender(name, **params)
        m.fit(users[tr], items[tr], w_tr)
        rec = [np.asarray(r, dtype=object).astype(str) for r in m.recommend(val_users, k=k)]
        return float(ndcg_at_k(rec, rel.tolist(), k))

    return score


def tune_ranking(
    users: Any,
    items: Any,
    budget: Budget,
    model: str = "hybrid",
    weights: Any = None,
    order: Any = None,
    k: int = 10,
    seed: int = 0,
    components: Sequence[str] = HYBRID_TUNED,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Search the ranking model's hyper-parameters within ``budget``.

    Parameters
    ----------
    users, items : per-interaction ids (training data only).
    budget : Budget
        Split evenly between the searched models (the hybrid's ``components``).
    model : str
        ``hybrid`` (tunes ``components``) or one of :data:`SEARCH_SPACES`.
    weights, order : optional per-interaction weights and order (timestamps).

    Returns
    -------
    params : dict
        ``{model name: chosen parameters}``, ready for ``HybridRecommender(component_params=
        ...)`` or ``make_recommender(name, **params[name])``.
    tuning : dict
        The search per model (validation NDCG@k, default score, trace) and the split used.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> u = rng.integers(0, 60, 2000).astype(str); i = (u.astype(int) % 6 * 5
    ...     + rng.integers(0, 5, 2000)).astype(str)
    >>> params, t = tune_ranking(u, i, Budget(trials=2), model="ease")
    >>> sorted(params), t["ease"]["n_trials"]
    (['ease'], 2)
    """
    names = list(components) if model == "hybrid" else [model]
    unknown = [n for n in names if n not in SEARCH_SPACES]
    if unknown:
        raise InputError(
            f"--tune searches the ranking models {', '.join(SEARCH_SPACES)} (and the hybrid's "
            f"components); got {unknown[0]!r}. Evaluate it without --tune."
        )
    u = pd.Series(np.asarray(users, dtype=object))
    i = pd.Series(np.asarray(items, dtype=object))
    w = None if weights is None else pd.Series(np.asarray(weights, dtype=float))
    is_val = inner_split(u, order, seed=seed)
    if is_val.sum() == 0 or u[is_val].nunique() < 5:
        raise InputError(
            "too few users with two or more interactions to tune on (need at least 5); train "
            "without --tune."
        )
    validation = (f"each user's latest 20 % of the training interactions "
                  f"({int(is_val.sum()):,} rows)" if order is not None else
                  f"a random 20 % of each user's training interactions (seed {seed}, "
                  f"{int(is_val.sum()):,} rows)")
    score = _ndcg_scorer(u, i, w, is_val, k)
    share = (Budget(trials=max(1, budget.trials // len(names))) if budget.trials
             else Budget(seconds=budget.seconds / len(names)))
    chosen: dict[str, dict[str, Any]] = {}
    out: dict[str, Any] = {"validation": validation, "metric": f"ndcg@{k}",
                           "budget": budget.describe()}
    for j, name in enumerate(names):
        defaults = make_recommender(name).get_params()

        def objective(params: dict[str, Any], name: str = name) -> tuple[float, None]:
            return score(name, params), None

        res, _ = search(objective, SEARCH_SPACES[name], defaults, share, metric=f"ndcg@{k}",
                        validation=validation, seed=seed)
        chosen[name] = res.params
        out[name] = res.to_dict()
        if progress:
            progress(j + 1, len(names))
    out["params"] = chosen
    return chosen, out
