"""Time-decayed category affinity, expressed as lift over the population.

For user :math:`u` and category :math:`c`, every impression :math:`i` contributes

.. math::

    w_i = 2^{-\\Delta t_i / h}\\,\\bigl(w_\\text{imp} + w_\\text{click}\\,\\text{clicked}_i
          + w_\\text{conv}\\,\\text{converted}_i\\bigr),

where :math:`\\Delta t_i` is the age of the event (days before the newest event) and :math:`h`
the half-life; :math:`E_{uc} = \\sum_i w_i`.  The user's share of engagement is shrunk towards a
prior share :math:`\\pi_{uc}` (empirical Bayes, a Dirichlet prior of strength :math:`m`):

.. math::

    s_{uc} = \\frac{E_{uc} + m\\,\\pi_{uc}}{E_{u\\cdot} + m}, \\qquad
    \\text{lift}_{uc} = s_{uc} / P_c,

with :math:`P_c` the population's share, so that popular categories do not dominate.  The prior
is the population share (:math:`m` = ``prior_strength``) or, when pooling, the mean share of a
group of similar users, which borrows strength for users with few events (Efron & Morris 1975;
the hierarchical smoothing used in recommender systems).  The groups are either given as soft
``memberships`` :math:`r_{ug}` (e.g. the posterior of a latent class model fitted on all of the
user's signals), in which case the prior is :math:`\\pi_{u} = \\sum_g r_{ug} \\bar s_g` with
:math:`\\bar s_g` the membership-weighted mean share of group :math:`g`, or found by k-means on the
user's own raw profile plus any ``context`` features (``pool_groups`` > 1).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from adwise._exceptions import InputError
from adwise._params import Interval
from adwise.base import AdwiseEstimator, check_is_fitted

__all__ = ["InterestProfiler"]


def _z(F: np.ndarray) -> np.ndarray:
    F = np.asarray(F, dtype=float)
    sd = F.std(axis=0)
    return (F - F.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


class InterestProfiler(AdwiseEstimator):
    """Per-user interest lift over categories from engagement events.

    Parameters
    ----------
    half_life_days : float, default 7.0
        An event this many days old weighs half as much as the newest one.
    impression_weight, click_weight, conversion_weight : float, default 0.1, 1.0, 3.0
        Weight of being shown, clicking and converting.
    prior_strength : float, default 1.0
        Pseudo-weight :math:`m` of the prior share without pooling.
    pool_groups : int, default 0
        Groups of similar users to pool over (0 = no pooling, shrink to the population);
        ignored when ``fit`` is given ``memberships``.
    pool_strength : float, default 50.0
        Pseudo-weight of the group prior when pooling.
    pool_iterations : int, default 2
        Rounds of (group users on their current profile, shrink to the group); the second round
        groups on the already-pooled profiles, which are less noisy.
    random_state : int, default 0

    Attributes
    ----------
    user_ids_ : ndarray of str
    categories_ : list of str
    engagement_ : ndarray (n_users, n_categories)
        Decayed weighted engagement :math:`E_{uc}`.
    counts_ : ndarray (3, n_users, n_categories)
        Raw impressions, clicks and conversions (the evidence shown to people).
    population_share_ : ndarray (n_categories,)
    lift_ : ndarray (n_users, n_categories)
    groups_ : ndarray of int or None
        The pooling group of each user (the most probable one with ``memberships``).

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": ["a", "a", "b", "b"], "category": ["x", "y", "y", "y"],
    ...     "ts": pd.to_datetime(["2024-01-01"] * 4), "clicked": [1, 0, 1, 1]})
    >>> m = InterestProfiler().fit(ev)
    >>> m.top_k("a", 1)[0][0]
    'x'
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "half_life_days": [Interval(float, 0, None, closed="neither")],
        "impression_weight": [Interval(float, 0, None)],
        "click_weight": [Interval(float, 0, None)],
        "conversion_weight": [Interval(float, 0, None)],
        "prior_strength": [Interval(float, 0, None, closed="neither")],
        "pool_groups": [Interval(int, 0, None)],
        "pool_strength": [Interval(float, 0, None, closed="neither")],
        "pool_iterations": [Interval(int, 1, 10)],
        "random_state": [Interval(int, 0, None)],
    }

    def __init__(
        self,
        half_life_days: float = 7.0,
        impression_weight: float = 0.1,
        click_weight: float = 1.0,
        conversion_weight: float = 3.0,
        prior_strength: float = 1.0,
        pool_groups: int = 0,
        pool_strength: float = 50.0,
        pool_iterations: int = 2,
        random_state: int = 0,
    ) -> None:
        self.half_life_days = half_life_days
        self.impression_weight = impression_weight
        self.click_weight = click_weight
        self.conversion_weight = conversion_weight
        self.prior_strength = prior_strength
        self.pool_groups = pool_groups
        self.pool_strength = pool_strength
        self.pool_iterations = pool_iterations
        self.random_state = random_state

    def fit(
        self,
        events: pd.DataFrame,
        categories: list[str] | None = None,
        context: pd.DataFrame | None = None,
        memberships: pd.DataFrame | None = None,
    ) -> InterestProfiler:
        """Fit from events with ``user_id``, ``category``, ``ts``, ``clicked`` (and optionally
        ``converted``).

        ``context`` is a numeric DataFrame indexed by ``user_id`` used only to find similar
        users when pooling with k-means; ``memberships`` (indexed by ``user_id``, one
        non-negative column per group, rows summing to 1) gives the pooling groups directly.
        """
        from threadpoolctl import threadpool_limits

        self._validate_params()
        with threadpool_limits(limits=1):
            return self._fit(events, categories, context, memberships)

    def _fit(
        self,
        events: pd.DataFrame,
        categories: list[str] | None,
        context: pd.DataFrame | None,
        memberships: pd.DataFrame | None,
    ) -> InterestProfiler:
        need = [c for c in ("user_id", "category", "ts", "clicked") if c not in events.columns]
        if need:
            raise InputError(
                f"InterestProfiler: events lack column(s) {', '.join(need)}; they need user_id, "
                "category (from the ads table), ts and clicked."
            )
        ev = events.dropna(subset=["category"])
        if ev.empty:
            raise InputError(
                "InterestProfiler: no event has an ad category; ingest an ads table with a "
                "'category' column."
            )
        users, ui = np.unique(ev["user_id"].astype(str).to_numpy(), return_inverse=True)
        cats = list(categories) if categories else sorted(ev["category"].astype(str).unique())
        ci = pd.Categorical(ev["category"].astype(str), categories=cats).codes
        keep = ci >= 0
        ui, ci = ui[keep], ci[keep]
        ev = ev.loc[keep]
        ts = pd.to_datetime(ev["ts"])
        age_days = ((ts.max() - ts).dt.total_seconds() / 86400.0).to_numpy()
        decay = 0.5 ** (age_days / self.half_life_days)
        clicked = ev["clicked"].to_numpy(dtype=float)
        conv = (
            ev["converted"].fillna(0).to_numpy(dtype=float)
            if "converted" in ev.columns
            else np.zeros(len(ev))
        )
        w = decay * (
            self.impression_weight + self.click_weight * clicked + self.conversion_weight * conv
        )
        n, C = len(users), len(cats)
        E = np.zeros((n, C))
        np.add.at(E, (ui, ci), w)
        counts = np.zeros((3, n, C))
        for j, v in enumerate((np.ones(len(ev)), clicked, conv)):
            np.add.at(counts[j], (ui, ci), v)
        total = E.sum()
        if total <= 0:
            raise InputError("InterestProfiler: all event weights are zero; raise a weight.")
        P = E.sum(axis=0) / total
        P = np.where(P > 0, P, 1e-12)
        self.user_ids_ = users
        self.categories_ = cats
        self.engagement_ = E
        self.counts_ = counts
        self.population_share_ = P
        self._index = {u: i for i, u in enumerate(users)}
        Eu = E.sum(axis=1, keepdims=True)
        share = (E + self.prior_strength * P) / (Eu + self.prior_strength)
        self.groups_ = None
        if memberships is not None:
            R = memberships.reindex(users).to_numpy(dtype=float)
            if R.ndim != 2 or not np.isfinite(R[~np.isnan(R)]).all() or (R < 0).any():
                raise InputError(
                    "InterestProfiler: memberships must be non-negative numbers, one column per "
                    "group."
                )
            # users without a membership row belong to every group alike
            R = np.where(np.isnan(R).any(axis=1, keepdims=True), 1.0 / R.shape[1], R)
            R = R / np.maximum(R.sum(axis=1, keepdims=True), 1e-12)
            means = (R.T @ share) / np.maximum(R.sum(axis=0), 1e-12)[:, None]
            share = (E + self.pool_strength * (R @ means)) / (Eu + self.pool_strength)
            self.groups_ = R.argmax(axis=1)
        elif self.pool_groups > 1 and n > self.pool_groups:
            from sklearn.cluster import KMeans

            ctx_z = None
            if context is not None:
                ctx = context.reindex(users).astype(float)
                ctx_z = _z(ctx.fillna(ctx.mean()).fillna(0.0).to_numpy())
            raw = share
            for _ in range(self.pool_iterations):
                F = _z(np.log(share / P))
                if ctx_z is not None:
                    F = np.hstack([F, ctx_z])
                groups = KMeans(
                    self.pool_groups, n_init=10, random_state=self.random_state
                ).fit_predict(F)
                prior = np.vstack([raw[groups == g].mean(axis=0) for g in range(self.pool_groups)])[
                    groups
                ]
                share = (E + self.pool_strength * prior) / (Eu + self.pool_strength)
            self.groups_ = groups
        self.share_ = share
        self.lift_ = share / P
        return self

    def _row(self, user: str) -> int:
        check_is_fitted(self, "lift_")
        i = self._index.get(str(user)) if hasattr(self, "_index") else None
        if i is None:
            self._index = {u: j for j, u in enumerate(self.user_ids_)}
            i = self._index.get(str(user))
        if i is None:
            raise InputError(
                f"unknown user {user!r}: no events for this user in the training data."
            )
        return i

    def top_k(self, user: str, k: int = 3) -> list[tuple[str, float, str]]:
        """The user's ``k`` strongest interests as ``(category, lift, evidence)``."""
        i = self._row(user)
        order = np.argsort(-self.lift_[i], kind="stable")[:k]
        out = []
        for c in order:
            imp, clk, cv = (int(self.counts_[j, i, c]) for j in range(3))
            ev = f"{imp} impressions, {clk} clicks, {cv} conversions"
            if self.groups_ is not None and imp == 0:
                ev += "; inferred from similar users"
            out.append((self.categories_[c], float(self.lift_[i, c]), ev))
        return out

    def transform(self, user_ids: Any) -> np.ndarray:
        """Lift matrix rows for ``user_ids`` (unknown users get 1.0, the population)."""
        check_is_fitted(self, "lift_")
        idx = {u: j for j, u in enumerate(self.user_ids_)}
        out = np.ones((len(user_ids), len(self.categories_)))
        for r, u in enumerate(user_ids):
            j = idx.get(str(u))
            if j is not None:
                out[r] = self.lift_[j]
        return out
