"""Uplift models: who responds *because* of the treatment (the ad, the e-mail), not anyway.

Meta-learners over a base classifier (Künzel et al. 2019; Athey & Imbens 2015):

* **S-learner** – one model :math:`\\mu(x, t)`; :math:`\\tau(x) = \\mu(x, 1) - \\mu(x, 0)`.
  With a logistic base the features are :math:`[x, t, x t]` (treatment interactions), otherwise
  :math:`[x, t]`.
* **T-learner** – two models, :math:`\\tau(x) = \\mu_1(x) - \\mu_0(x)`.
* **X-learner** – imputed effects :math:`D^1_i = y_i - \\mu_0(x_i)` (treated),
  :math:`D^0_i = \\mu_1(x_i) - y_i` (control), regressed on :math:`x` giving :math:`\\tau_1,
  \\tau_0`; :math:`\\tau(x) = e\\,\\tau_0(x) + (1 - e)\\,\\tau_1(x)` with :math:`e` the treated
  share.
* **DR-learner** (Kennedy 2020) – on each of ``DR_FOLDS`` cross-fitting folds, outcome models
  :math:`\\mu_0, \\mu_1` and a propensity :math:`\\hat e(x)` are fitted on the other folds; the
  held-out rows get the doubly-robust (AIPW) pseudo-outcome

  .. math:: \\varphi_i = \\frac{t_i - \\hat e(x_i)}{\\hat e(x_i)(1 - \\hat e(x_i))}
            \\bigl(y_i - \\mu_{t_i}(x_i)\\bigr) + \\mu_1(x_i) - \\mu_0(x_i),

  whose conditional mean is :math:`\\tau(x)` when either the outcome models or the propensity
  are right; :math:`\\tau(x)` is :math:`\\varphi` regressed on :math:`x`.
* **Class transformation** (Jaskowski & Jaroszewicz 2012) – :math:`z = y t + (1-y)(1-t)`;
  :math:`\\tau(x) = 2 P(z = 1 \\mid x) - 1` (exact when treatment is assigned at random with
  probability 1/2; a ranking score otherwise).

:class:`UpliftClassifier` with ``learner="auto"`` picks the learner/base pair with the best
cross-validated Qini coefficient (:func:`adwise.metrics.qini_auc_score`) and keeps every
candidate's per-fold scores, so the choice is reported with its fold-to-fold spread: Qini
differences between learners are often within it.

References
----------
Kennedy (2020), "Towards optimal doubly robust estimation of heterogeneous causal effects",
arXiv:2004.14497 (the DR-learner).  Künzel, Sekhon, Bickel and Yu (2019), "Metalearners for
estimating heterogeneous treatment effects using machine learning", PNAS 116(10).
"""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import numpy as np

from adwise._exceptions import InputError
from adwise._params import Interval, Options
from adwise.base import AdwiseEstimator, check_is_fitted

__all__ = ["AUTO_CANDIDATES", "BASE_DEFAULTS", "LEARNERS", "UpliftClassifier", "check_binary",
           "select_targets"]

LEARNERS = (
    "t-logistic",
    "s-logistic",
    "x-logistic",
    "t-lightgbm",
    "s-lightgbm",
    "x-lightgbm",
    "ct-lightgbm",
    "ct-logistic",
    "dr-logistic",
    "dr-lightgbm",
)

#: The learners ``learner="auto"`` compares when no ``candidates`` are given.  The DR-learners
#: are left out: with them the 5-split Hillstrom Qini fell a little (0.0620 vs 0.0623 untuned,
#: 0.0618 vs 0.0621 tuned; ``benchmarks/results/tuning.md``); name them in ``candidates`` or
#: as ``learner`` to use them.
AUTO_CANDIDATES = tuple(c for c in LEARNERS if not c.startswith("dr-"))

#: Cross-fitting folds of the DR-learner's outcome and propensity models.
DR_FOLDS = 3

#: The DR-learner's propensity is clipped to this range: the pseudo-outcome divides by
#: :math:`e(1 - e)`, and a few near-0 or near-1 estimates would dominate the final regression.
PROPENSITY_CLIP = (0.025, 0.975)


#: The base models' regularisation, the values ``--tune`` searches from: the logistic
#: inverse penalty ``C`` (the X-learner's ridge stage uses ``alpha = 1 / C``) and LightGBM's
#: size and learning controls.  Chosen by the best average rank of the test Qini over
#: Hillstrom's women and men e-mail arms and the synthetic world's campaign, never one data
#: set (``benchmarks/defaults_uplift.py``, ``benchmarks/results/defaults.md``): ``C = 0.1``
#: ranked first on all three, ahead of 1.0 and 10.
BASE_DEFAULTS: dict[str, float | int] = {
    "logistic_C": 0.1,
    "num_leaves": 15,
    "min_child_samples": 100,
    "n_estimators": 150,
    "learning_rate": 0.05,
}


def check_binary(values: Any, name: str, source: str = "data") -> np.ndarray:
    """Return ``values`` as an int 0/1 array or raise a clear :class:`InputError`."""
    from adwise._exceptions import ContractError

    arr = np.asarray(values)
    if arr.dtype == bool:
        return arr.astype(np.int64)
    num = (
        np.asarray(
            [v if isinstance(v, numbers.Real) and not isinstance(v, bool) else np.nan for v in arr],
            dtype=float,
        )
        if arr.dtype.kind not in "iuf"
        else arr.astype(float)
    )
    bad = ~np.isin(num, (0.0, 1.0))
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ContractError(
            source,
            name,
            "must hold only 0 and 1",
            f"recode '{name}' to 0/1 (1 = treated/positive, 0 = control/negative), e.g. "
            "--map or a spreadsheet formula; drop rows with a missing value",
            rows=[(int(r), arr[r].item() if hasattr(arr[r], "item") else arr[r]) for r in rows[:5]],
            n_bad=int(bad.sum()),
        )
    return num.astype(np.int64)


def _make_base(base: str, kind: str, random_state: int, n_jobs: int,
               params: dict[str, Any]):
    if base == "logistic":
        if kind == "clf":
            from sklearn.linear_model import LogisticRegression

            return LogisticRegression(C=params["logistic_C"], max_iter=2000)
        from sklearn.linear_model import Ridge

        # one knob for both stages: a stronger logistic penalty means a stronger ridge one
        return Ridge(alpha=1.0 / params["logistic_C"])
    import lightgbm as lgb

    common = dict(
        n_estimators=int(params["n_estimators"]),
        learning_rate=params["learning_rate"],
        num_leaves=int(params["num_leaves"]),
        min_child_samples=int(params["min_child_samples"]),
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        reg_lambda=1.0,
        random_state=random_state,
        n_jobs=n_jobs,
        verbose=-1,
    )
    if kind == "clf":
        return lgb.LGBMClassifier(**common)
    return lgb.LGBMRegressor(**common)


def _proba(model, X: np.ndarray) -> np.ndarray:
    return model.predict_proba(X)[:, 1]


class _Fitted:
    """One fitted meta-learner (internal)."""

    def __init__(self, learner: str, base: str, random_state: int, n_jobs: int,
                 params: dict[str, Any]) -> None:
        self.learner, self.base = learner, base
        self.random_state, self.n_jobs, self.params = random_state, n_jobs, params

    def _m(self, kind: str = "clf"):
        return _make_base(self.base, kind, self.random_state, self.n_jobs, self.params)

    def _s_features(self, X: np.ndarray, t: np.ndarray) -> np.ndarray:
        tt = t.reshape(-1, 1).astype(float)
        if self.base == "logistic":
            return np.hstack([X, tt, X * tt])
        return np.hstack([X, tt])

    def fit(self, X: np.ndarray, y: np.ndarray, t: np.ndarray) -> _Fitted:
        L = self.learner
        if L == "s":
            self.m_ = self._m().fit(self._s_features(X, t), y)
        elif L in ("t", "x"):
            self.m0_ = self._m().fit(X[t == 0], y[t == 0])
            self.m1_ = self._m().fit(X[t == 1], y[t == 1])
            if L == "x":
                d1 = y[t == 1] - _proba(self.m0_, X[t == 1])
                d0 = _proba(self.m1_, X[t == 0]) - y[t == 0]
                self.tau1_ = self._m("reg").fit(X[t == 1], d1)
                self.tau0_ = self._m("reg").fit(X[t == 0], d0)
                self.e_ = float(t.mean())
        elif L == "ct":
            z = (y == t).astype(np.int64)
            self.m_ = self._m().fit(X, z)
        elif L == "dr":
            self.tau_ = self._m("reg").fit(X, self._dr_pseudo_outcome(X, y, t))
        return self

    def _dr_pseudo_outcome(self, X: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        """The AIPW pseudo-outcome of every row, from nuisance models fitted on the other folds.

        Cross-fitting keeps each row's own outcome out of the models that predict it, which the
        DR-learner's error bound needs (Kennedy 2020, section 3).  The propensity is a
        logistic regression whatever the base: treatment is randomised, or depends smoothly on
        x, in the data uplift is fitted on, and a flexible model would mostly fit noise into
        the inverse weights.
        """
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold

        phi = np.empty(len(y))
        skf = StratifiedKFold(DR_FOLDS, shuffle=True, random_state=self.random_state)
        for tr, va in skf.split(X, 2 * t + y):
            Xtr, ytr, ttr = X[tr], y[tr], t[tr]
            mu0 = _proba(self._m().fit(Xtr[ttr == 0], ytr[ttr == 0]), X[va])
            mu1 = _proba(self._m().fit(Xtr[ttr == 1], ytr[ttr == 1]), X[va])
            e = np.clip(_proba(LogisticRegression(max_iter=2000).fit(Xtr, ttr), X[va]),
                        *PROPENSITY_CLIP)
            tv = t[va]
            resid = y[va] - np.where(tv == 1, mu1, mu0)
            phi[va] = (tv - e) / (e * (1 - e)) * resid + mu1 - mu0
        return phi

    def predict(self, X: np.ndarray) -> np.ndarray:
        L = self.learner
        n = X.shape[0]
        if L == "s":
            return _proba(self.m_, self._s_features(X, np.ones(n))) - _proba(
                self.m_, self._s_features(X, np.zeros(n))
            )
        if L == "t":
            return _proba(self.m1_, X) - _proba(self.m0_, X)
        if L == "x":
            return self.e_ * self.tau0_.predict(X) + (1 - self.e_) * self.tau1_.predict(X)
        if L == "dr":
            return self.tau_.predict(X)
        return 2.0 * _proba(self.m_, X) - 1.0


class UpliftClassifier(AdwiseEstimator):
    """Uplift model for a binary outcome and a binary treatment.

    Parameters
    ----------
    learner : str, default "auto"
        ``"auto"`` (best cross-validated Qini among ``candidates``) or one of
        ``t-logistic``, ``s-logistic``, ``x-logistic``, ``t-lightgbm``, ``s-lightgbm``,
        ``x-lightgbm``, ``ct-lightgbm``, ``ct-logistic``, ``dr-logistic``, ``dr-lightgbm``.
    candidates : tuple of str or None
        Learners compared when ``learner="auto"`` (default: :data:`AUTO_CANDIDATES`).
    cv : int, default 3
        Folds (stratified on treatment x outcome) for the automatic choice.
    ensemble : int, default 3
        With ``learner="auto"``, the number of best cross-validated learners whose predicted
        uplifts are averaged (1 = use the single best). Averaging a few good learners is more
        stable than betting on one: Qini differences between learners are often within noise.
    base_params : dict or None
        Overrides of the base models' regularisation, keys of :data:`BASE_DEFAULTS`
        (``logistic_C``, ``num_leaves``, ``min_child_samples``, ``n_estimators``,
        ``learning_rate``); what ``--tune`` searches.
    random_state : int, default 0
    n_jobs : int, default 1
        LightGBM threads.

    Attributes
    ----------
    learner_ : str
        The learner used (``"ensemble(a+b+c)"`` when several are averaged).
    members_ : list of str
        The learners whose predictions are averaged.
    base_params_ : dict
        The base models' settings used: :data:`BASE_DEFAULTS` updated by ``base_params``.
    cv_qini_ : dict
        Mean cross-validated Qini per candidate (``learner="auto"`` only).
    cv_qini_sd_ : dict
        Its fold-to-fold spread: the sample standard deviation (``ddof=1``) of the per-fold
        Qini of each candidate.
    cv_qini_folds_ : dict
        The per-fold Qini of each candidate, fold by fold.
    cv_score_, cv_score_sd_ : float
        Mean and spread over the folds of the Qini of the chosen learner (the average of the
        members' out-of-fold uplifts for an ensemble); NaN without cross-validation.  The
        members are chosen on these same folds, so it is a little optimistic; it serves to
        compare configurations, as ``--tune`` does.

    Notes
    -----
    The Qini coefficient is scikit-uplift's ``qini_auc_score`` (Radcliffe 2007), reproduced in
    :func:`adwise.metrics.qini_auc_score`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 2)); t = rng.integers(0, 2, 2000)
    >>> y = (rng.random(2000) < 0.2 + 0.2 * t * (X[:, 0] > 0)).astype(int)
    >>> m = UpliftClassifier(learner="t-logistic").fit(X, y, t)
    >>> float(np.corrcoef(m.predict(X), X[:, 0])[0, 1]) > 0.5
    True
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "learner": [Options(("auto", *LEARNERS))],
        "candidates": [None, tuple, list],
        "cv": [Interval(int, 2, 10)],
        "ensemble": [Interval(int, 1, len(LEARNERS))],
        "base_params": [None, dict],
        "random_state": [Interval(int, 0, None)],
        "n_jobs": [Interval(int, 1, None)],
    }

    def __init__(
        self,
        learner: str = "auto",
        candidates: tuple | list | None = None,
        cv: int = 3,
        ensemble: int = 3,
        base_params: dict | None = None,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.learner = learner
        self.candidates = candidates
        self.cv = cv
        self.ensemble = ensemble
        self.base_params = base_params
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _one(self, name: str) -> _Fitted:
        kind, base = name.split("-")
        return _Fitted(kind, base, self.random_state, self.n_jobs, self.base_params_)

    def fit(self, X: Any, y: Any, treatment: Any) -> UpliftClassifier:
        """Fit on features ``X`` (n x d), outcome ``y`` (0/1) and ``treatment`` (0/1)."""
        self._validate_params()
        unknown = sorted(set(self.base_params or {}) - set(BASE_DEFAULTS))
        if unknown:
            raise InputError(
                f"UpliftClassifier: unknown base_params {unknown}; use {list(BASE_DEFAULTS)}."
            )
        self.base_params_ = {**BASE_DEFAULTS, **(self.base_params or {})}
        X = np.asarray(X, dtype=float)
        y = check_binary(y, "outcome")
        t = check_binary(treatment, "treatment")
        if X.ndim != 2 or len(X) != len(y) or len(y) != len(t):
            raise InputError(
                f"UpliftClassifier: X must be 2-D with one row per outcome and treatment; got "
                f"X {X.shape}, y {y.shape}, treatment {t.shape}."
            )
        for name, arr in (("treatment", t), ("outcome", y)):
            if arr.min() == arr.max():
                raise InputError(
                    f"UpliftClassifier: {name} holds only {int(arr[0])}; both 0 and 1 are needed."
                )
        # every learner fits the outcome within each group (or across both), and the
        # cross-validation stratifies on (treatment, outcome): each cell needs rows in every fold
        need = self.cv if self.learner == "auto" else 2
        for g, label in ((0, "control group (treatment 0)"), (1, "treated group (treatment 1)")):
            counts = np.bincount(y[t == g], minlength=2)
            if counts.min() < need:
                raise InputError(
                    f"UpliftClassifier: the {label} has {counts[0]} row(s) with outcome 0 and "
                    f"{counts[1]} with outcome 1; each group needs at least {need} of each "
                    "outcome to learn who responds because of the ad."
                )
        if self.learner == "auto":
            cands = list(self.candidates or AUTO_CANDIDATES)
            unknown = [c for c in cands if c not in LEARNERS]
            if unknown:
                raise InputError(
                    f"UpliftClassifier: unknown candidate learner(s) {unknown}; use {LEARNERS}."
                )
            self._cross_validate(X, y, t, cands)
        else:
            self.members_ = [self.learner]
            self.cv_qini_, self.cv_qini_sd_, self.cv_qini_folds_ = {}, {}, {}
            self.cv_score_ = self.cv_score_sd_ = float("nan")
        self.learner_ = (
            self.members_[0]
            if len(self.members_) == 1
            else "ensemble(" + "+".join(self.members_) + ")"
        )
        self.models_ = [self._one(m).fit(X, y, t) for m in self.members_]
        self.n_features_in_ = X.shape[1]
        self.treated_share_ = float(t.mean())
        return self

    def _cross_validate(self, X: np.ndarray, y: np.ndarray, t: np.ndarray,
                        cands: list[str]) -> None:
        """Score every candidate per fold, choose the members, and score the choice."""
        from sklearn.model_selection import StratifiedKFold

        from adwise.metrics import qini_auc_score

        skf = StratifiedKFold(self.cv, shuffle=True, random_state=self.random_state)
        folds: list[tuple[np.ndarray, dict[str, np.ndarray]]] = []
        for tr, va in skf.split(X, 2 * t + y):
            folds.append((va, {c: self._one(c).fit(X[tr], y[tr], t[tr]).predict(X[va])
                               for c in cands}))
        self.cv_qini_folds_ = {c: [qini_auc_score(y[va], u[c], t[va]) for va, u in folds]
                               for c in cands}
        self.cv_qini_ = {c: float(np.mean(v)) for c, v in self.cv_qini_folds_.items()}
        self.cv_qini_sd_ = {c: float(np.std(v, ddof=1)) for c, v in self.cv_qini_folds_.items()}
        ranked = sorted(self.cv_qini_, key=self.cv_qini_.get, reverse=True)
        self.members_ = ranked[: min(self.ensemble, len(ranked))]
        chosen = [qini_auc_score(y[va], np.mean([u[m] for m in self.members_], axis=0), t[va])
                  for va, u in folds]
        self.cv_score_, self.cv_score_sd_ = float(np.mean(chosen)), float(np.std(chosen, ddof=1))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted uplift (treated minus control response probability) per row."""
        check_is_fitted(self, "models_")
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise InputError(
                f"UpliftClassifier: X must have {self.n_features_in_} columns; got shape {X.shape}."
            )
        return np.mean([m.predict(X) for m in self.models_], axis=0)


def select_targets(
    uplift: Any,
    budget: float,
    cost: Any = None,
    value: float = 1.0,
    only_positive: bool = True,
) -> np.ndarray:
    """Whom to treat under a budget: indices in the order they should be treated.

    Without ``cost`` the budget is a head count: the ``budget`` rows with the highest uplift.
    With ``cost`` (per row) rows are taken by expected net gain per unit cost,
    :math:`(\\tau_i \\cdot \\text{value}) / c_i`, greedily while the spent cost stays within the
    budget (the classic greedy for a knapsack, within one item of the optimum).

    Parameters
    ----------
    uplift : array-like
        Predicted uplift per row.
    budget : float
        Head count (no ``cost``) or money (with ``cost``), > 0.
    cost : array-like, optional
        Cost of treating each row (> 0).
    value : float, default 1.0
        Value of one extra response (only scales the ranking's tie-break with costs).
    only_positive : bool, default True
        Never target rows whose predicted uplift is <= 0 (treating them is expected to hurt).
    """
    u = np.asarray(uplift, dtype=float)
    if not budget > 0:
        raise InputError(f"select_targets: budget must be > 0; got {budget!r}.")
    if cost is None:
        order = np.argsort(-u, kind="stable")
        if only_positive:
            order = order[u[order] > 0]
        return order[: int(budget)]
    c = np.asarray(cost, dtype=float)
    if c.shape != u.shape or (c <= 0).any() or not np.isfinite(c).all():
        raise InputError("select_targets: cost must be one finite positive number per row.")
    ratio = u * value / c
    order = np.argsort(-ratio, kind="stable")
    if only_positive:
        order = order[u[order] > 0]
    spent = np.cumsum(c[order])
    return order[spent <= budget]
