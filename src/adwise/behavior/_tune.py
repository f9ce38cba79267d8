"""``--tune`` for the click / conversion models: search :class:`CTRModel`'s hyper-parameters.

A trial fits a :class:`CTRModel` on the training rows and is scored by the AUC of its
out-of-fold predictions (``oof_raw_``): with cross-fitting (up to 50,000 rows) that is K-fold
cross-validation with the seed; on larger data it is the model's own validation split, the
latest rows when the data are in time order.  So the inner validation is built from the
training data only, and the chosen trial's model is the one returned: no refit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from adwise._exceptions import InputError
from adwise._tuning import Budget, Dim, TuningResult, search
from adwise.behavior._model import CTRModel
from adwise.metrics import roc_auc

__all__ = ["SEARCH_SPACES", "tune_ctr"]

#: What ``--tune`` searches per learner; ranges wide enough for 1 k to 10 M rows.
SEARCH_SPACES: dict[str, tuple[Dim, ...]] = {
    "gbdt": (
        Dim("num_leaves", 4, 128, log=True, integer=True),
        Dim("learning_rate", 0.01, 0.3, log=True),
        Dim("min_child_samples", 5, 400, log=True, integer=True),
        Dim("colsample", 0.2, 1.0),
        Dim("reg_lambda", 0.01, 100.0, log=True),
        Dim("te_smoothing", 1.0, 200.0, log=True),
    ),
    "logreg": (
        Dim("logreg_C", 1e-3, 10.0, log=True),
        Dim("min_category_count", 1, 50, log=True, integer=True),
    ),
    "forest": (
        Dim("min_samples_leaf", 1, 200, log=True, integer=True),
        Dim("colsample", 0.1, 1.0),
    ),
    "tree": (Dim("min_samples_leaf", 5, 5000, log=True, integer=True),),
}


def _defaults(base: CTRModel, n: int, space: tuple[Dim, ...]) -> dict[str, Any]:
    """The untuned value of each searched parameter, with ``"auto"``/``None`` resolved the
    way :meth:`CTRModel.fit` resolves them for ``n`` rows."""
    params = base.get_params()
    folds = (5 if n <= 50_000 else 1) if params["n_folds"] == "auto" else int(params["n_folds"])
    out: dict[str, Any] = {}
    for d in space:
        v = params[d.name]
        if d.name == "learning_rate" and v == "auto":
            v = 0.03 if folds > 1 else 0.1
        elif d.name == "min_samples_leaf" and v is None:
            v = max(50, n // 200) if base.model == "tree" else 5
        out[d.name] = min(max(v, d.low), d.high)
    return out


def _validation(base: CTRModel, n: int, seed: int) -> str:
    folds = (5 if n <= 50_000 else 1) if base.n_folds == "auto" else int(base.n_folds)
    if folds > 1:
        return f"{folds}-fold cross-validation on the training rows (seed {seed})"
    share = f"{base.validation_fraction:.0%}"
    return (f"the latest {share} of the training period" if base.time_ordered
            else f"a random {share} of the training rows (seed {seed})")


def tune_ctr(
    X: pd.DataFrame,
    y: np.ndarray,
    budget: Budget,
    base_params: Mapping[str, Any] | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[CTRModel, TuningResult]:
    """Search the hyper-parameters of a :class:`CTRModel` within ``budget``.

    Parameters
    ----------
    X, y : training features and 0/1 labels (the test rows must not be among them).
    budget : Budget
    base_params : mapping, optional
        Fixed :class:`CTRModel` parameters (``model``, ``time_ordered``, ``n_jobs``, ...).
    seed : int
        Seeds both the sampler and every trial's model.

    Returns
    -------
    model : CTRModel
        The best trial's fitted model.
    result : TuningResult
        Chosen parameters, validation AUC, the trace of every trial.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=600)})
    >>> y = (rng.random(600) < 1 / (1 + np.exp(-2 * X.x))).astype(int)
    >>> m, res = tune_ctr(X, y, Budget(trials=2), {"n_estimators": 30})
    >>> len(res.trials), res.metric
    (2, 'auc')
    """
    base = CTRModel(**{**dict(base_params or {}), "random_state": seed})
    space = SEARCH_SPACES.get(base.model)
    if space is None:
        raise InputError(
            f"--tune supports the models {', '.join(SEARCH_SPACES)}; got {base.model!r}. "
            "Train it without --tune."
        )
    yv = np.asarray(y)

    def objective(params: dict[str, Any],
                  report: Callable[[int, float], None]) -> tuple[float, CTRModel]:
        # cross-fitting reports each fold's running AUC: a poor trial stops after two folds
        m = CTRModel(**{**base.get_params(), **params}).fit(X, yv, on_fold=report)
        have = ~np.isnan(m.oof_raw_)
        if len(np.unique(yv[have])) < 2:
            return float("nan"), m
        return float(roc_auc(yv[have], m.oof_raw_[have])), m

    result, model = search(
        objective, space, _defaults(base, len(X), space), budget, metric="auc",
        maximize=True, validation=_validation(base, len(X), seed), seed=seed,
        progress=progress, prune=True,
    )
    return model, result
