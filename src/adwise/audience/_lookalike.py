"""Lookalike audiences: users who resemble a seed audience (e.g. a campaign's converters).

A gradient-boosted classifier (LightGBM; Ke et al. 2017) learns seed (1) vs. everyone else (0)
from user features; its score is a propensity to "look like the seed".  The held-out AUC says
how well the seed can be told apart at all, and the held-out lift in the top ``p`` % says how
much richer in seed-like users the expansion is than random targeting:

.. math:: \\mathrm{lift}@p = \\frac{\\text{seed rate among the top } p}{\\text{seed rate overall}}
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from adwise._exceptions import InputError
from adwise._params import Interval
from adwise.base import AdwiseEstimator, check_is_fitted

__all__ = ["LookalikeModel"]


class LookalikeModel(AdwiseEstimator):
    """Seed-vs-rest propensity model with a held-out quality estimate.

    Parameters
    ----------
    n_estimators : int, default 1000
        Upper bound on boosting rounds (early stopping picks the number on a validation part).
    learning_rate : float, default 0.03
    num_leaves : int, default 31
    min_child_samples : int, default 40
    test_size : float, default 0.25
        Share held out to report AUC and lift (stratified on the seed flag).
    lift_fraction : float, default 0.1
        ``p`` in the reported lift@p.
    random_state : int, default 0
    n_jobs : int, default 1

    Attributes
    ----------
    auc_ : float
        Held-out ROC AUC.
    lift_ : float
        Held-out lift in the top ``lift_fraction``.
    best_iteration_ : int
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_estimators": [Interval(int, 1, None)],
        "learning_rate": [Interval(float, 0, 1, closed="right")],
        "num_leaves": [Interval(int, 2, None)],
        "min_child_samples": [Interval(int, 1, None)],
        "test_size": [Interval(float, 0, 1, closed="neither")],
        "lift_fraction": [Interval(float, 0, 1, closed="right")],
        "random_state": [Interval(int, 0, None)],
        "n_jobs": [Interval(int, 1, None)],
    }

    def __init__(
        self,
        n_estimators: int = 1000,
        learning_rate: float = 0.03,
        num_leaves: int = 31,
        min_child_samples: int = 40,
        test_size: float = 0.25,
        lift_fraction: float = 0.1,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.test_size = test_size
        self.lift_fraction = lift_fraction
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _model(self, n_estimators: int):
        import lightgbm as lgb

        return lgb.LGBMClassifier(
            n_estimators=n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.7,
            reg_lambda=1.0,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            verbose=-1,
        )

    def fit(self, X: Any, is_seed: Any) -> LookalikeModel:
        """Fit on features ``X`` (n x d) and the seed flag (0/1) of each row."""
        import lightgbm as lgb
        from sklearn.model_selection import train_test_split

        from adwise.metrics import lift_at, roc_auc

        self._validate_params()
        X = np.asarray(X, dtype=float)
        y = np.asarray(is_seed).astype(np.int64)
        if X.ndim != 2 or len(X) != len(y):
            raise InputError(
                f"LookalikeModel: X must be 2-D with one row per seed flag; got {X.shape} and "
                f"{y.shape}."
            )
        n_seed = int(y.sum())
        if n_seed < 10 or n_seed > len(y) - 10:
            raise InputError(
                f"LookalikeModel: the seed has {n_seed} of {len(y)} users; a lookalike needs at "
                "least 10 seed users and 10 others."
            )
        idx = np.arange(len(y))
        tr, te = train_test_split(
            idx, test_size=self.test_size, stratify=y, random_state=self.random_state
        )
        fit_i, val_i = train_test_split(
            tr, test_size=0.2, stratify=y[tr], random_state=self.random_state + 1
        )
        m = self._model(self.n_estimators).fit(
            X[fit_i],
            y[fit_i],
            eval_X=(X[val_i],),
            eval_y=(y[val_i],),
            callbacks=[lgb.early_stopping(50, verbose=False)],
        )
        self.best_iteration_ = max(int(m.best_iteration_ or self.n_estimators), 10)
        m = self._model(self.best_iteration_).fit(X[tr], y[tr])
        p = m.predict_proba(X[te])[:, 1]
        self.auc_ = roc_auc(y[te], p)
        self.lift_ = lift_at(y[te], p, self.lift_fraction)
        self.model_ = self._model(self.best_iteration_).fit(X, y)
        self.n_features_in_ = X.shape[1]
        self.seed_rate_ = n_seed / len(y)
        return self

    def score(self, X: Any) -> np.ndarray:  # type: ignore[override]
        """Propensity of each row to look like the seed."""
        check_is_fitted(self, "model_")
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise InputError(
                f"LookalikeModel: X must have {self.n_features_in_} columns; got {X.shape}."
            )
        return self.model_.predict_proba(X)[:, 1]

    def expand(
        self, X: Any, is_seed: Any, top_n: int | None = None, top_fraction: float | None = None
    ) -> np.ndarray:
        """Row indices of the most seed-like non-seed users, best first (seed excluded)."""
        s = self.score(X)
        seed = np.asarray(is_seed).astype(bool)
        cand = np.flatnonzero(~seed)
        order = cand[np.argsort(-s[cand], kind="stable")]
        if top_n is None and top_fraction is None:
            raise InputError("lookalike: give the audience size as a count or a fraction.")
        n = int(top_n) if top_n is not None else round(top_fraction * len(cand))
        return order[: max(n, 0)]
