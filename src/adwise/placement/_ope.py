"""Off-policy evaluation: what would a new policy have earned on logs collected by an old one?

Notation (Dudík, Langford & Li 2011; Saito et al., *Open Bandit Pipeline*, 2021): logged rounds
``i = 1..n`` with context ``x_i``, position (slot) ``k_i``, action ``a_i``, reward ``r_i`` and
logging propensity ``pi_0(a_i | x_i, k_i)``; the evaluation policy ``pi_e`` gives
``action_dist[i, a, k]``; ``w_i = pi_e(a_i | x_i, k_i) / pi_0(a_i | x_i, k_i)``; a reward model
``q(x, a, k)`` (cross-fitted, so ``q`` never predicts a row it was trained on).

* IPS    ``V = mean_i w_i r_i``
* SNIPS  ``V = sum_i w_i r_i / sum_i w_i``
* DM     ``V = mean_i sum_a pi_e(a | x_i, k_i) q(x_i, a, k_i)``
* DR     ``V = mean_i [ sum_a pi_e(a | x_i, k_i) q(x_i, a, k_i) + w_i (r_i - q(x_i, a_i, k_i)) ]``

The point estimates follow obp's definitions exactly (``lambda_ = inf``, no clipping), so both
give the same numbers on the same arrays.  Intervals are percentile bootstraps over rounds (the
reward model held fixed).  Overlap diagnostics: the effective sample size of the weights
``ESS = (sum w)^2 / sum w^2`` (Kong 1992), the largest weight and its share of the total, the
share of logged rounds whose action ``pi_e`` never takes, and the mass ``pi_e`` puts on
actions (per position) that never appear in the logs.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from adwise._exceptions import InputError
from adwise._params import Interval
from adwise.base import AdwiseEstimator, check_is_fitted

__all__ = [
    "ESTIMATORS",
    "OffPolicyEvaluator",
    "PropensityWarning",
    "dm_estimate",
    "dr_estimate",
    "estimate_propensity",
    "greedy_policy",
    "ips_estimate",
    "overlap_diagnostics",
    "snips_estimate",
    "uniform_policy",
]

log = logging.getLogger(__name__)

ESTIMATORS = ("ips", "snips", "dm", "dr")


class PropensityWarning(UserWarning):
    """Propensities were estimated because the logs have none."""


# ---------------------------------------------------------------------------- formulas
def _pos(position: np.ndarray | None, n: int) -> np.ndarray:
    return np.zeros(n, dtype=int) if position is None else np.asarray(position, dtype=int)


def _weights(action, pscore, action_dist, position) -> np.ndarray:
    n = len(action)
    pos = _pos(position, n)
    return action_dist[np.arange(n), np.asarray(action, dtype=int), pos] / np.asarray(pscore, float)


def _dm_rounds(action_dist, q_hat, position) -> np.ndarray:
    n = action_dist.shape[0]
    pos = _pos(position, n)
    idx = np.arange(n)
    return np.sum(q_hat[idx, :, pos] * action_dist[idx, :, pos], axis=1)


def _rounds(name: str, reward, action, pscore, action_dist, q_hat, position) -> np.ndarray:
    """Per-round terms whose mean is the estimate (SNIPS: ``w r`` and ``w`` stacked)."""
    if name == "ips":
        return np.asarray(reward, float) * _weights(action, pscore, action_dist, position)
    if name == "snips":
        w = _weights(action, pscore, action_dist, position)
        return np.stack([np.asarray(reward, float) * w, w])
    if name == "dm":
        return _dm_rounds(action_dist, q_hat, position)
    if name == "dr":
        n = len(action)
        pos = _pos(position, n)
        w = _weights(action, pscore, action_dist, position)
        q_fact = q_hat[np.arange(n), np.asarray(action, dtype=int), pos]
        return _dm_rounds(action_dist, q_hat, position) + w * (np.asarray(reward, float) - q_fact)
    raise InputError(f"unknown estimator {name!r}; use one of {', '.join(ESTIMATORS)}.")


def ips_estimate(reward, action, pscore, action_dist, position=None) -> float:
    """Inverse propensity scoring ``mean_i w_i r_i``."""
    return float(np.mean(_rounds("ips", reward, action, pscore, action_dist, None, position)))


def snips_estimate(reward, action, pscore, action_dist, position=None) -> float:
    """Self-normalised IPS ``sum_i w_i r_i / sum_i w_i`` (Swaminathan & Joachims 2015)."""
    wr, w = _rounds("snips", reward, action, pscore, action_dist, None, position)
    return float(np.mean(wr) / np.mean(w))


def dm_estimate(action_dist, q_hat, position=None) -> float:
    """Direct method ``mean_i sum_a pi_e(a|x_i) q(x_i, a)``."""
    return float(np.mean(_dm_rounds(action_dist, q_hat, position)))


def dr_estimate(reward, action, pscore, action_dist, q_hat, position=None) -> float:
    """Doubly robust estimate (Dudík et al. 2011)."""
    return float(np.mean(_rounds("dr", reward, action, pscore, action_dist, q_hat, position)))


def uniform_policy(n: int, n_actions: int, n_positions: int = 1) -> np.ndarray:
    """``action_dist`` of the uniform random policy, shape (n, n_actions, n_positions)."""
    return np.full((n, n_actions, n_positions), 1.0 / n_actions)


def greedy_policy(q_hat: np.ndarray) -> np.ndarray:
    """The deterministic policy that plays the best action of a reward model in each position."""
    best = q_hat.argmax(axis=1)  # (n, P)
    out = np.zeros_like(q_hat, dtype=float)
    n, _, p = q_hat.shape
    out[np.arange(n)[:, None], best, np.arange(p)[None, :]] = 1.0
    return out


def overlap_diagnostics(
    action, pscore, action_dist, position=None, logged_support: np.ndarray | None = None
) -> dict[str, float]:
    """Effective sample size, largest weight, unsupported shares (see the module docstring).

    ``logged_support`` (n_actions, n_positions) is True where an action was ever logged in a
    position; when given, ``unsupported_mass`` is the average mass ``pi_e`` puts elsewhere.
    """
    w = _weights(action, pscore, action_dist, position)
    n = len(w)
    s, s2 = float(w.sum()), float(np.square(w).sum())
    ess = s * s / s2 if s2 > 0 else 0.0
    out = {
        "n_rounds": n,
        "ess": ess,
        "ess_ratio": ess / n if n else 0.0,
        "max_weight": float(w.max()) if n else 0.0,
        "max_weight_share": float(w.max() / s) if s > 0 else 1.0,
        "mean_weight": float(w.mean()) if n else 0.0,
        "never_taken_share": float(np.mean(w == 0)) if n else 0.0,
    }
    if logged_support is not None:
        pos = _pos(position, n)
        mass_off = (action_dist * ~logged_support[None, :, :]).sum(axis=1)  # (n, P)
        out["unsupported_mass"] = float(np.mean(mass_off[np.arange(n), pos]))
    return out


# ---------------------------------------------------------------------------- nuisance models
def _design(contexts: Any, n: int) -> tuple[np.ndarray, list[int]]:
    """Contexts as a float matrix; string/categorical columns become integer codes."""
    if contexts is None:
        return np.zeros((n, 0)), []
    if isinstance(contexts, pd.DataFrame):
        cols, cats = [], []
        for j, c in enumerate(contexts.columns):
            s = contexts[c]
            if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
                cols.append(s.to_numpy(dtype=float))
            else:
                cols.append(pd.factorize(s.astype(str))[0].astype(float))
                cats.append(j)
        x = np.column_stack(cols) if cols else np.zeros((n, 0))
        return x, cats
    x = np.asarray(contexts, dtype=float)
    return (x.reshape(n, -1) if x.ndim == 1 else x), []


def estimate_propensity(
    action: np.ndarray, n_actions: int, contexts: Any = None, position: np.ndarray | None = None,
    n_folds: int = 2, random_state: int = 0, clip: float = 1e-3,
) -> np.ndarray:
    """Cross-fitted ``P(a_i | x_i, k_i)`` from a multinomial logistic regression.

    Without contexts, the logged frequency of each action per position. Values are clipped to
    ``[clip, 1]``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    n = len(action)
    pos = _pos(position, n)
    a = np.asarray(action, dtype=int)
    x, cats = _design(contexts, n)
    if x.shape[1] == 0:
        tab = np.zeros((pos.max() + 1, n_actions))
        np.add.at(tab, (pos, a), 1.0)
        tab /= tab.sum(axis=1, keepdims=True)
        return np.clip(tab[pos, a], clip, 1.0)
    num = [j for j in range(x.shape[1]) if j not in cats]
    parts = []
    if num:
        parts.append(StandardScaler().fit_transform(x[:, num]))
    if cats or position is not None:
        cat_cols = [x[:, cats]] if cats else []
        if position is not None:
            cat_cols.append(pos[:, None].astype(float))
        parts.append(OneHotEncoder(handle_unknown="ignore", sparse_output=False)
                     .fit_transform(np.column_stack(cat_cols)))
    z = np.column_stack(parts)
    out = np.empty(n)
    for tr, te in KFold(n_folds, shuffle=True, random_state=random_state).split(z):
        clf = LogisticRegression(max_iter=300, C=1.0)
        clf.fit(z[tr], a[tr])
        proba = clf.predict_proba(z[te])
        col = {c: j for j, c in enumerate(clf.classes_)}
        j = np.array([col.get(v, -1) for v in a[te]])
        out[te] = np.where(j >= 0, proba[np.arange(len(te)), np.maximum(j, 0)], clip)
    return np.clip(out, clip, 1.0)


def _fit_reward_model(
    reward: np.ndarray, action: np.ndarray, position: np.ndarray, contexts: Any,
    n_actions: int, n_positions: int, n_folds: int, n_estimators: int, learning_rate: float,
    num_leaves: int, num_threads: int, random_state: int,
) -> np.ndarray:
    """Cross-fitted LightGBM ``q(x_i, a, k_i)`` for every round and action.

    The estimators only read ``q`` at each round's own position ``k_i``, so it is predicted
    there and copied to the other positions (n x n_actions predictions, not x n_positions).
    """
    import lightgbm as lgb
    from sklearn.model_selection import KFold

    n = len(reward)
    x, cats = _design(contexts, n)
    d = x.shape[1]
    binary = bool(np.isin(np.unique(reward), (0.0, 1.0)).all())
    feats = np.column_stack([x, action.astype(float), position.astype(float)])
    cat_idx = [*cats, d, d + 1]
    params = {
        "objective": "binary" if binary else "regression",
        "n_estimators": n_estimators, "learning_rate": learning_rate, "num_leaves": num_leaves,
        "min_child_samples": 20, "num_threads": num_threads, "random_state": random_state,
        "verbose": -1, "max_cat_to_onehot": 64, "min_data_per_group": 20, "cat_smooth": 10.0,
    }
    q = np.empty((n, n_actions, n_positions))
    folds = (KFold(n_folds, shuffle=True, random_state=random_state).split(feats)
             if n_folds > 1 else [(np.arange(n), np.arange(n))])
    for tr, te in folds:
        model = lgb.LGBMClassifier(**params) if binary else lgb.LGBMRegressor(**params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            model.fit(feats[tr], reward[tr], categorical_feature=cat_idx)
        # only q(x_i, ., k_i) at each round's own position is ever used by the estimators
        for lo in range(0, len(te), max(1, 2_000_000 // n_actions)):
            rows = te[lo:lo + max(1, 2_000_000 // n_actions)]
            m = len(rows)
            grid = np.repeat(x[rows], n_actions, axis=0)
            aa = np.tile(np.arange(n_actions, dtype=float), m)
            kk = np.repeat(position[rows].astype(float), n_actions)
            full = np.column_stack([grid, aa, kk])
            pred = model.predict_proba(full)[:, 1] if binary else model.predict(full)
            q[rows, :, :] = pred.reshape(m, n_actions)[:, :, None]
    return q


# ---------------------------------------------------------------------------- the evaluator
class OffPolicyEvaluator(AdwiseEstimator):
    """IPS, SNIPS, DM and DR with bootstrap intervals and overlap diagnostics.

    ``fit`` takes the logged rounds, estimates propensities when they are missing (with a
    :class:`PropensityWarning`) and fits the cross-fitted LightGBM reward model; ``evaluate``
    then scores any evaluation policy given as ``action_dist`` of shape
    ``(n_rounds, n_actions, n_positions)``.

    Parameters
    ----------
    n_bootstrap : int, default 200
        Bootstrap resamples for the intervals.
    ci : float, default 0.95
    n_folds : int, default 3
        Cross-fitting folds of the reward model (1 = fit and predict on all rows).
    n_estimators, learning_rate, num_leaves : LightGBM settings of the reward model.
    num_threads : int, default 1
    min_ess : float, default 100
        ``trustworthy`` needs an effective sample size at least this large ...
    min_ess_ratio : float, default 0.01
        ... and at least this share of the rounds ...
    max_weight_share : float, default 0.05
        ... and no single round carrying more than this share of the total weight ...
    max_unsupported_mass : float, default 0.01
        ... and at most this much policy mass on actions never logged.
    random_state : int, default 0

    Attributes
    ----------
    q_hat_ : ndarray (n, n_actions, n_positions)
        Out-of-fold reward predictions.
    pscore_ : ndarray (n,)
    propensity_estimated_ : bool
    logged_support_ : ndarray (n_actions, n_positions) of bool
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_bootstrap": [Interval(int, 0, None)],
        "ci": [Interval(float, 0, 1, closed="neither")],
        "n_folds": [Interval(int, 1, None)],
        "n_estimators": [Interval(int, 1, None)],
        "learning_rate": [Interval(float, 0, None, closed="neither")],
        "num_leaves": [Interval(int, 2, None)],
        "num_threads": [Interval(int, 1, None)],
        "min_ess": [Interval(float, 0, None)],
        "min_ess_ratio": [Interval(float, 0, 1)],
        "max_weight_share": [Interval(float, 0, 1)],
        "max_unsupported_mass": [Interval(float, 0, 1)],
        "random_state": [int],
    }

    def __init__(self, n_bootstrap: int = 200, ci: float = 0.95, n_folds: int = 3,
                 n_estimators: int = 100, learning_rate: float = 0.1, num_leaves: int = 31,
                 num_threads: int = 1, min_ess: float = 100.0, min_ess_ratio: float = 0.01,
                 max_weight_share: float = 0.05, max_unsupported_mass: float = 0.01,
                 random_state: int = 0) -> None:
        self.n_bootstrap = n_bootstrap
        self.ci = ci
        self.n_folds = n_folds
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.num_threads = num_threads
        self.min_ess = min_ess
        self.min_ess_ratio = min_ess_ratio
        self.max_weight_share = max_weight_share
        self.max_unsupported_mass = max_unsupported_mass
        self.random_state = random_state

    def fit(self, reward: Any, action: Any, pscore: Any = None, contexts: Any = None,
            position: Any = None, n_actions: int | None = None,
            n_positions: int | None = None, q_hat: np.ndarray | None = None,
            ) -> OffPolicyEvaluator:
        """Take the logged rounds; ``action``/``position`` are integer codes from 0.

        Parameters
        ----------
        reward, action : array (n,)
        pscore : array (n,) or None
            Logging propensities in (0, 1]; estimated (with a warning) when None.
        contexts : array (n, d), DataFrame or None
        position : array (n,) or None
        n_actions, n_positions : int, optional
            Sizes of the action and position spaces (default: largest code + 1).
        q_hat : array (n, n_actions, n_positions), optional
            A reward model's predictions to use instead of fitting LightGBM.
        """
        self._validate_params()
        r = np.asarray(reward, dtype=float)
        a = np.asarray(action)
        n = len(r)
        if n == 0:
            raise InputError("off-policy evaluation needs at least one logged round.")
        if len(a) != n:
            raise InputError("'action' and 'reward' must have the same length.")
        if not np.isfinite(r).all():
            raise InputError("column 'reward' has missing or non-finite values.")
        if not np.issubdtype(a.dtype, np.integer) or (a < 0).any():
            raise InputError("'action' must hold integer codes 0..n_actions-1.")
        pos = _pos(position, n)
        self.n_actions_ = int(n_actions if n_actions is not None else a.max() + 1)
        self.n_positions_ = int(n_positions if n_positions is not None else pos.max() + 1)
        if a.max() >= self.n_actions_ or pos.max() >= self.n_positions_ or (pos < 0).any():
            raise InputError("an action or position code is outside n_actions / n_positions.")
        self.warnings_: list[str] = []
        if pscore is None:
            msg = ("the logs have no propensities; they were estimated with a cross-fitted "
                   "logistic regression of the action on the context. IPS/SNIPS/DR are only as "
                   "good as that model; log the propensity of every decision to avoid this.")
            warnings.warn(msg, PropensityWarning, stacklevel=2)
            self.warnings_.append(msg)
            p = estimate_propensity(a, self.n_actions_, contexts,
                                    None if position is None else pos,
                                    random_state=self.random_state)
            self.propensity_estimated_ = True
        else:
            p = np.asarray(pscore, dtype=float)
            bad = ~np.isfinite(p) | (p <= 0) | (p > 1)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InputError(
                    f"propensities must be in (0, 1]; {int(bad.sum())} are not (first at row "
                    f"{i}: {p[i]!r}). A propensity of 0 means the logged action could not have "
                    "been chosen; fix the logging or drop those rows."
                )
            self.propensity_estimated_ = False
        self.reward_, self.action_, self.position_, self.pscore_ = r, a.astype(int), pos, p
        self.has_position_ = position is not None
        sup = np.zeros((self.n_actions_, self.n_positions_), dtype=bool)
        sup[a, pos] = True
        self.logged_support_ = sup
        if q_hat is not None:
            q = np.asarray(q_hat, dtype=float)
            if q.shape != (n, self.n_actions_, self.n_positions_):
                raise InputError(
                    f"q_hat must have shape {(n, self.n_actions_, self.n_positions_)}; got "
                    f"{q.shape}."
                )
            self.q_hat_ = q
        else:
            self.q_hat_ = _fit_reward_model(
                r, self.action_, pos, contexts, self.n_actions_, self.n_positions_,
                min(self.n_folds, n) if n > 1 else 1, self.n_estimators, self.learning_rate,
                self.num_leaves, self.num_threads, self.random_state,
            )
        return self

    def evaluate(self, action_dist: np.ndarray, estimators: Sequence[str] = ESTIMATORS,
                 ) -> dict[str, Any]:
        """Estimates, intervals, diagnostics and the ``trustworthy`` verdict for ``pi_e``.

        Returns
        -------
        dict
            ``<est>``, ``<est>_ci_low``, ``<est>_ci_high`` for each estimator; the diagnostics of
            :func:`overlap_diagnostics`; ``trustworthy`` (bool), ``reasons`` (list of str),
            ``propensity_estimated`` and ``warnings``.
        """
        check_is_fitted(self, "q_hat_")
        dist = self._check_dist(action_dist)
        args = (self.reward_, self.action_, self.pscore_, dist, self.q_hat_,
                self.position_ if self.has_position_ else None)
        out: dict[str, Any] = {}
        rng = np.random.default_rng(self.random_state)
        n = len(self.reward_)
        tail = (1 - self.ci) / 2
        terms = {name: _rounds(name, *args) for name in estimators}
        boots: dict[str, list[float]] = {name: [] for name in estimators}
        for _ in range(self.n_bootstrap):
            i = rng.integers(0, n, n)
            for name, t in terms.items():
                if name == "snips":
                    den = t[1][i].sum()
                    boots[name].append(t[0][i].sum() / den if den > 0 else np.nan)
                else:
                    boots[name].append(float(t[i].mean()))
        for name, t in terms.items():
            if name == "snips":
                out[name] = float(t[0].mean() / t[1].mean()) if t[1].sum() > 0 else np.nan
            else:
                out[name] = float(t.mean())
            b = np.asarray(boots[name], dtype=float)
            b = b[np.isfinite(b)]
            out[f"{name}_ci_low"] = float(np.quantile(b, tail)) if b.size else np.nan
            out[f"{name}_ci_high"] = float(np.quantile(b, 1 - tail)) if b.size else np.nan
        diag = overlap_diagnostics(self.action_, self.pscore_, dist, self.position_,
                                   self.logged_support_)
        out.update(diag)
        reasons = []
        if diag["ess"] < self.min_ess:
            reasons.append(f"effective sample size {diag['ess']:.0f} < {self.min_ess:g}")
        if diag["ess_ratio"] < self.min_ess_ratio:
            reasons.append(f"effective sample share {diag['ess_ratio']:.4f} < "
                           f"{self.min_ess_ratio:g}")
        if diag["max_weight_share"] > self.max_weight_share:
            reasons.append(f"one round carries {diag['max_weight_share']:.1%} of the total weight")
        if diag.get("unsupported_mass", 0.0) > self.max_unsupported_mass:
            reasons.append(f"the policy puts {diag['unsupported_mass']:.1%} of its mass on "
                           "actions never logged in that position (IPS cannot see them)")
        out["trustworthy"] = not reasons
        out["reasons"] = reasons
        out["propensity_estimated"] = bool(self.propensity_estimated_)
        out["warnings"] = list(self.warnings_)
        return out

    def _check_dist(self, action_dist: np.ndarray) -> np.ndarray:
        d = np.asarray(action_dist, dtype=float)
        n = len(self.reward_)
        if d.ndim == 2:
            d = d[:, :, None] * np.ones((1, 1, self.n_positions_))
        if d.shape != (n, self.n_actions_, self.n_positions_):
            raise InputError(
                f"action_dist must have shape {(n, self.n_actions_, self.n_positions_)}; got "
                f"{d.shape}."
            )
        if (d < -1e-12).any() or not np.allclose(d.sum(axis=1), 1.0, atol=1e-6):
            raise InputError("action_dist must be probabilities summing to 1 over actions.")
        return d

    def greedy(self) -> np.ndarray:
        """``action_dist`` of the policy that is greedy on the fitted reward model."""
        check_is_fitted(self, "q_hat_")
        return greedy_policy(self.q_hat_)

    def uniform(self) -> np.ndarray:
        check_is_fitted(self, "q_hat_")
        return uniform_policy(len(self.reward_), self.n_actions_, self.n_positions_)
