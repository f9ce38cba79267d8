"""``--tune`` for uplift and segmentation.

**Uplift** searches the base models' regularisation by cross-validated Qini. A trial fits
:class:`UpliftClassifier` with candidate base settings on the training rows only; its score is
the mean per-fold Qini of the learner it selects (the averaged members' out-of-fold uplifts for
an ensemble), over the same seeded stratified folds in every trial, so trials differ only by
their settings. Only the base models the candidates use are searched: ``logistic_C`` for the
logistic learners, LightGBM's size and learning controls for the others. The best trial's
fitted model is returned: no refit.

**Segmentation** searches k (over the segmenter's ``k_range``, unless k is fixed), the feature
transform (``log``, ``rank``, ``none``) and the algorithm (the chosen centroid method or a
Gaussian mixture).  A criterion for choosing k must not reward more clusters for their own
sake, as the within-cluster spread does; a trial is scored on the training rows only:

* a seeded share (``SEGMENT_HOLDOUT``, at most ``sample_size`` rows) is held out; the
  candidate is fitted on ``SEGMENT_RESAMPLES`` bootstrap resamples of the other rows;
* **separation**: the mean silhouette (Rousseeuw 1987) of the held-out rows under each fit, in
  that fit's own transformed space;
* **stability**: the mean adjusted Rand index (Hubert and Arabie 1985) between the fits'
  labellings of the held-out rows (Ben-Hur, Elisseeff and Guyon 2002; Lange et al. 2004).
  Splitting a real group into two, or cutting a continuum, lands differently on each resample;
* the score is separation x stability (a negative silhouette counts as is).

The resamples and the held-out rows are the same in every trial, so trials differ only by their
settings.  The chosen settings are refitted on every row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from adwise._exceptions import InputError
from adwise._tuning import Budget, Dim, TuningResult, search
from adwise.audience._segment import Segmenter
from adwise.audience._uplift import AUTO_CANDIDATES, BASE_DEFAULTS, LEARNERS, UpliftClassifier

__all__ = ["SEARCH_SPACE", "SEGMENT_TRANSFORMS", "tune_segments", "tune_uplift"]

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


#: The feature transforms ``--tune`` compares for segmentation.
SEGMENT_TRANSFORMS = ("log", "rank", "none")
#: The share of the rows held out to score a segmentation trial on (at most ``sample_size``).
SEGMENT_HOLDOUT = 0.3
#: Bootstrap fits per segmentation trial; their agreement on the held-out rows is the stability.
SEGMENT_RESAMPLES = 3
#: Rows per bootstrap fit, at most: enough to place the centroids, bounded so a trial on
#: millions of rows takes seconds.
SEGMENT_MAX_FIT_ROWS = 20_000
_MIN_ROWS = 60


def tune_segments(
    X: pd.DataFrame,
    budget: Budget,
    base: Segmenter | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Segmenter, TuningResult]:
    """Search a :class:`Segmenter`'s k, transform and algorithm within ``budget``.

    Parameters
    ----------
    X : DataFrame
        The numeric features, one row per customer (every row is a training row).
    budget : Budget
    base : Segmenter, optional
        The untuned segmenter: its ``k_range``, ``method``, ``transform`` and ``sample_size``
        (and ``k`` when it is a number, which is then kept) set the space and trial 0.
    seed : int
        Seeds the sampler, the held-out rows, the resamples and every fit.

    Returns
    -------
    model : Segmenter
        The chosen settings, fitted on every row of ``X``.
    result : TuningResult
        Chosen settings, held-out score, the trace of every trial (each with its
        ``silhouette`` and ``stability``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(np.r_[rng.normal(0, 1, (150, 2)), rng.normal(8, 1, (150, 2)),
    ...                        rng.normal((0, 8), 1, (150, 2))], columns=["a", "b"])
    >>> m, res = tune_segments(X, Budget(trials=3), Segmenter(transform="none"))
    >>> m.k_, res.metric, res.trials[0]["params"]
    (3, 'silhouette_x_stability', {'k': 3, 'transform': 'none', 'method': 'kmeans'})
    """
    from sklearn.metrics import adjusted_rand_score, silhouette_score

    base = base if base is not None else Segmenter()
    if not isinstance(X, pd.DataFrame):
        X = pd.DataFrame(np.asarray(X, dtype=float))
    n = len(X)
    if n < _MIN_ROWS:
        raise InputError(f"--tune needs at least {_MIN_ROWS} rows to hold some out; got {n}. "
                         "Segment without --tune.")
    # the untuned segmenter on every row: its k is trial 0's, and it checks the input
    default = Segmenter(**{**base.get_params(), "random_state": seed}).fit(X)
    methods = ("gmm", "kmeans") if base.method == "gmm" else (base.method, "gmm")
    lo, hi = (int(v) for v in base.k_range)
    space = []
    if base.k == "auto":
        space.append(Dim("k", lo, max(lo, min(hi, n // 10)), integer=True))
    space += [Dim("transform", 0, len(SEGMENT_TRANSFORMS) - 1, integer=True),
              Dim("method", 0, len(methods) - 1, integer=True)]
    defaults = {"k": default.k_, "transform": SEGMENT_TRANSFORMS.index(base.transform),
                "method": 0}

    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    n_out = min(int(SEGMENT_HOLDOUT * n), int(base.sample_size))
    held, pool = X.iloc[order[:n_out]], order[n_out:]
    size = min(len(pool), SEGMENT_MAX_FIT_ROWS)
    resamples = [X.iloc[rng.choice(pool, size, replace=True)] for _ in range(SEGMENT_RESAMPLES)]

    def named(p: dict[str, Any]) -> dict[str, Any]:
        return {"k": int(p.get("k", base.k)), "transform": SEGMENT_TRANSFORMS[p["transform"]],
                "method": methods[p["method"]]}

    parts: list[tuple[float, float]] = []
    # TPE proposes the same integer settings again now and then: score each setting once
    seen: dict[tuple, tuple[float, float]] = {}

    def objective(params: dict[str, Any]) -> tuple[float, None]:
        p = named(params)
        key = tuple(p.values())
        if key not in seen:
            seen[key] = separation_and_stability(p)
        parts.append(seen[key])
        sil, stab = seen[key]
        return (sil * stab if sil > 0 else sil), None

    def separation_and_stability(p: dict[str, Any]) -> tuple[float, float]:
        sils, labels = [], []
        for r in resamples:
            seg = Segmenter(**{**base.get_params(), **p, "random_state": seed}).fit(r)
            lab = seg.predict(held)
            labels.append(lab)
            sils.append(float(silhouette_score(seg.embed(held), lab, random_state=seed))
                        if len(np.unique(lab)) > 1 else float("nan"))
        sil = float(np.mean(sils))
        stab = float(np.mean([adjusted_rand_score(a, b) for i, a in enumerate(labels)
                              for b in labels[i + 1:]]))
        return sil, stab

    result, _ = search(
        objective, tuple(space), defaults, budget, metric="silhouette_x_stability",
        maximize=True,
        validation=(f"silhouette x stability (adjusted Rand) of {SEGMENT_RESAMPLES} fits on "
                    f"bootstrap resamples ({size} rows each) of {len(pool)} rows, scored on "
                    f"{n_out} held-out rows (seed {seed})"),
        seed=seed, progress=progress,
    )
    result.params = named(result.params)
    for tr, (sil, stab) in zip(result.trials, parts, strict=True):
        tr["params"] = named(tr["params"])
        # a labelling of one segment has no silhouette: null in the trace, as its score is
        tr["silhouette"], tr["stability"] = (round(v, 6) if np.isfinite(v) else None
                                             for v in (sil, stab))
    chosen = result.params
    if chosen == named(defaults):
        return default, result
    model = Segmenter(**{**base.get_params(), **chosen, "random_state": seed}).fit(X)
    return model, result
