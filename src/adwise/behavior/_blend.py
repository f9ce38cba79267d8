"""The logistic side model of the CTR GBDT and the logit-space blend of the two.

A GBDT approximates a sum of many one-column effects with many small steps and stops early,
while a logistic model on one-hot codes fits each value's effect directly; where the signal is
mostly additive in the columns (high-cardinality ids with their own click rate, binned
history counts) the linear model is often better calibrated per value and the blend of the
two beats either (the classic "GBDT + LR" of CTR practice, He et al., 2014, used here as a
late blend rather than on leaf indices).

:class:`LinearPart` is that logistic model: L2 logistic regression on hashed one-hot codes of
the categorical columns, quantile bins of the numeric ones (the history features among them)
and the standardised numeric values themselves (a bin has a weight of its own, learnt from its
rows alone; the value's slope is learnt from every row), kept as plain arrays so that an
artifact is JSON and reloads to the same numbers.
:func:`choose_blend` picks the weight ``w`` of

.. math:: z = (1 - w)\\, z_{\\mathrm{gbdt}} + w\\, z_{\\mathrm{linear}}

(log-odds) on the out-of-fold predictions of the training rows, and says whether the blend
is used: only when its cross-validated, calibrated log loss is lower than the GBDT's alone.

References
----------
He, X. et al. (2014). Practical lessons from predicting clicks on ads at Facebook. ADKDD.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from adwise.behavior._calibration import Calibrator
from adwise.behavior._encoding import TabularEncoder

__all__ = ["BLEND_WEIGHTS", "LinearPart", "choose_blend"]

#: The weights of the linear model tried; 0 is the GBDT alone.
BLEND_WEIGHTS = np.round(np.linspace(0.0, 1.0, 21), 2)
#: Most training rows of one linear fit: a few hundred thousand rows pin down a one-hot
#: logistic model, and more only add fit time to the 1 M+ event runs.
MAX_LINEAR_ROWS = 300_000
_EPS = 1e-7


class LinearPart:
    """L2 logistic regression on hashed one-hot codes and numeric bins (log-odds out).

    Parameters
    ----------
    categorical, numeric : list of str
        The encoded columns it reads (categorical codes, raw numeric values).
    edges : dict
        Numeric column -> its quantile bin edges (learnt on the training rows).
    scale : dict
        Numeric column -> ``[mean, sd]`` of its training values (missing values count as the
        mean, standardised values are clipped to +-5).
    coef : ndarray of shape (n_features + len(numeric),)
        Hashed one-hot weights, then one per standardised numeric column.
    intercept : float
    n_features : int
        Hash space size.
    """

    def __init__(self, categorical: list[str], numeric: list[str],
                 edges: dict[str, np.ndarray], scale: dict[str, list[float]],
                 coef: np.ndarray, intercept: float, n_features: int) -> None:
        self.categorical = categorical
        self.numeric = numeric
        self.edges = edges
        self.scale = scale
        self.coef = coef
        self.intercept = intercept
        self.n_features = n_features

    @classmethod
    def fit(cls, enc: TabularEncoder, F: pd.DataFrame, y: np.ndarray, C: float,
            seed: int) -> LinearPart:
        """Fit on the encoded rows ``F`` (at most :data:`MAX_LINEAR_ROWS`, drawn with ``seed``)."""
        from sklearn.linear_model import LogisticRegression

        from adwise.behavior._model import _Hasher

        if len(F) > MAX_LINEAR_ROWS:
            keep = np.sort(np.random.default_rng(seed).choice(len(F), MAX_LINEAR_ROWS,
                                                              replace=False))
            F, y = F.iloc[keep], y[keep]
        hasher = _Hasher(list(enc.categorical), list(enc.numeric))
        hashed = hasher.transform(F)
        scale = {}
        for c in hasher.nums:
            v = F[c].to_numpy(dtype=float)
            fin = v[np.isfinite(v)]
            sd = float(fin.std()) if fin.size else 0.0
            scale[c] = [float(fin.mean()) if fin.size else 0.0, sd if sd > 0 else 1.0]
        part = cls(hasher.cats, hasher.nums, hasher.edges, scale, np.zeros(0), 0.0,
                   hasher.n_features)
        est = LogisticRegression(C=C, solver="liblinear", max_iter=500, random_state=seed)
        est.fit(part._design(F, hashed), y)
        part.coef, part.intercept = est.coef_.ravel().copy(), float(est.intercept_[0])
        return part

    def _design(self, F: pd.DataFrame, hashed: Any = None) -> Any:
        import scipy.sparse as sp

        from adwise.behavior._model import _Hasher

        if hashed is None:
            hashed = _Hasher(self.categorical, self.numeric, self.n_features,
                             edges=self.edges).transform(F)
        if not self.numeric:
            return hashed
        dense = np.column_stack([
            np.clip((np.nan_to_num(F[c].to_numpy(dtype=float), nan=m, posinf=m, neginf=m) - m)
                    / sd, -5.0, 5.0) for c, (m, sd) in self.scale.items()])
        return sp.hstack([hashed, sp.csr_matrix(dense)], format="csr")

    def raw(self, F: pd.DataFrame) -> np.ndarray:
        """Log-odds of the encoded rows ``F``."""
        return np.asarray(self._design(F) @ self.coef) + self.intercept

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state; only the non-zero weights are kept."""
        nz = np.flatnonzero(self.coef)
        return {"categorical": self.categorical, "numeric": self.numeric,
                "edges": {c: e.tolist() for c, e in self.edges.items()}, "scale": self.scale,
                "index": nz.tolist(), "coef": self.coef[nz].tolist(),
                "intercept": self.intercept, "n_features": self.n_features}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LinearPart:
        coef = np.zeros(int(d["n_features"]) + len(d["numeric"]))
        coef[np.asarray(d["index"], dtype=np.int64)] = np.asarray(d["coef"], dtype=float)
        return cls(list(d["categorical"]), list(d["numeric"]),
                   {c: np.asarray(e, dtype=float) for c, e in d["edges"].items()},
                   {c: list(v) for c, v in d["scale"].items()},
                   coef, float(d["intercept"]), int(d["n_features"]))


def choose_blend(z_gbdt: np.ndarray, z_linear: np.ndarray, y: np.ndarray,
                 calibration: str = "auto", seed: int = 0, folds: int = 5) -> dict[str, Any]:
    """Choose the linear model's weight and whether blending helps.

    Parameters
    ----------
    z_gbdt, z_linear : ndarray
        Out-of-fold log-odds of the two models on the same training rows.
    y : ndarray
        Their 0/1 labels.
    calibration : str
        The :class:`~adwise.behavior._calibration.Calibrator` method applied after either.
    seed : int
        Seeds the split of the rows into ``folds`` parts.

    Returns
    -------
    dict
        ``used``, ``weight`` (of the linear model, chosen on all rows),
        ``validation_logloss`` (``gbdt`` and ``blend``: calibrated log loss, each part scored
        by a weight and a calibrator fitted on the other parts) and ``validation``.

    Notes
    -----
    The weight is the one of :data:`BLEND_WEIGHTS` with the lowest log loss of the raw blend;
    the comparison is made after calibration, as the model predicts, and out of sample: so a
    weight that only fits the noise of these rows does not count as an improvement.
    """
    y = np.asarray(y)
    parts = np.array_split(np.random.default_rng(seed).permutation(len(y)), folds)
    loss = {"gbdt": 0.0, "blend": 0.0}
    for j, held in enumerate(parts):
        fit = np.concatenate([p for i, p in enumerate(parts) if i != j])
        w = _best_weight(z_gbdt[fit], z_linear[fit], y[fit])
        for key, wk in (("gbdt", 0.0), ("blend", w)):
            z = (1 - wk) * z_gbdt + wk * z_linear
            cal = Calibrator(calibration).fit(_sigmoid(z[fit]), y[fit], seed=seed)
            loss[key] += _logloss(y[held], cal.transform(_sigmoid(z[held]))) * len(held)
    loss = {k: v / len(y) for k, v in loss.items()}
    weight = _best_weight(z_gbdt, z_linear, y)
    return {"used": bool(weight > 0 and loss["blend"] < loss["gbdt"]), "weight": weight,
            "validation_logloss": loss,
            "validation": f"{folds}-fold cross-validation of the out-of-fold predictions of "
                          f"the training rows (seed {seed})"}


def _best_weight(zg: np.ndarray, zl: np.ndarray, y: np.ndarray) -> float:
    losses = [_logloss(y, _sigmoid((1 - w) * zg + w * zl)) for w in BLEND_WEIGHTS]
    return float(BLEND_WEIGHTS[int(np.argmin(losses))])


def _logloss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, _EPS, 1 - _EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))
