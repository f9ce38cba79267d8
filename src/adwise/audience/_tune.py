"""``--tune`` for uplift: search the base models' regularisation by cross-validated Qini.

A trial fits :class:`UpliftClassifier` with candidate base settings on the training rows
only; its score is the mean per-fold Qini of the learner it selects (the averaged members'
out-of-fold uplifts for an ensemble), over the same seeded stratified folds in every trial,
so trials differ only by their settings.  Only the base models the candidates use are
searched: ``logistic_C`` for the logistic learners, LightGBM's size and learning controls
for the others.  The best trial's fitted model is returned: no refit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from adwise._tuning import Budget, Dim, TuningResult, search
from adwise.audience._uplift import AUTO_CANDIDATES, BASE_DEFAULTS, LEARNERS, UpliftClassifier

__all__ = ["SEARCH_SPACE", "tune_uplift"]

#: What ``--tune`` searches, by base model.
SEARCH_SPACE: dict[str, tuple[Dim, ...]] = {
    "logistic": (Dim("logistic_C", 1e-3, 100.0, log=True),),
    "lightgbm": (
        Dim("num_leaves", 4, 128, log=True, integer=True),
        Dim("min_child_samples", 5, 500, log=True, integer=True),
        Dim("n_estimators", 30, 600, log=True, integer=True),
        Dim("learning_rate", 0.01, 0.3, log=True),
    ),
}


def tune_uplift(
    X: Any,
    y: Any,
    treatment: Any,
    budget: Budget,
    learner: str = "auto",
    candidates: Sequence[str] | None = None,
    cv: int = 3,
    seed: int = 0,
    n_jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[UpliftClassifier, TuningResult]:
    """Search the base models' settings of an :class:`UpliftClassifier` within ``budget``.

    Parameters
    ----------
    X, y, treatment : the training features, 0/1 outcome and 0/1 treatment (no test rows).
    budget : Budget
    learner : str, default "auto"
        ``"auto"`` (choose among ``candidates`` in every trial) or one learner, which is then
        cross-validated alone.
    candidates : sequence of str, optional
        With ``"auto"``: the learners compared (default: ``AUTO_CANDIDATES``).
    cv : int, default 3
        Folds of the cross-validation.
    seed : int
        Seeds the sampler, the folds and every model.

    Returns
    -------
    model : UpliftClassifier
        The best trial's fitted model.
    result : TuningResult
        Chosen settings, cross-validated Qini, the trace of every trial.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 2)); t = rng.integers(0, 2, 1000)
    >>> y = (rng.random(1000) < 0.2 + 0.2 * t * (X[:, 0] > 0)).astype(int)
    >>> m, res = tune_uplift(X, y, t, Budget(trials=2), learner="t-logistic")
    >>> len(res.trials), res.metric, list(res.params)
    (2, 'qini', ['logistic_C'])
    """
    cands = list(candidates or AUTO_CANDIDATES) if learner == "auto" else [learner]
    bases = {c.split("-")[1] for c in cands if c in LEARNERS}
    space = tuple(d for b in SEARCH_SPACE if b in bases for d in SEARCH_SPACE[b])
    # a single learner is cross-validated as the only candidate, so every trial is scored
    # the same way whatever --learner says
    fixed = {"learner": "auto", "candidates": tuple(cands), "cv": cv,
             "random_state": seed, "n_jobs": n_jobs}
    if learner != "auto":
        fixed["ensemble"] = 1

    def objective(params: dict[str, Any]) -> tuple[float, UpliftClassifier]:
        m = UpliftClassifier(**fixed, base_params=params).fit(X, y, treatment)
        return m.cv_score_, m

    result, model = search(
        objective, space, {d.name: BASE_DEFAULTS[d.name] for d in space}, budget,
        metric="qini", maximize=True,
        validation=f"{cv}-fold cross-validation on the training rows (seed {seed})",
        seed=seed, progress=progress,
    )
    return model, result
