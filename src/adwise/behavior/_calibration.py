"""Probability calibration on a held-out fold: Platt scaling or isotonic regression.

* Platt (1999): :math:`p = \\sigma(a\\,\\mathrm{logit}(q) + b)` fitted by maximum likelihood on
  held-out scores :math:`q`.
* Isotonic (Zadrozny & Elkan, 2002): the monotone step function minimising squared error,
  evaluated with linear interpolation between its knots; a tiny multiple of the raw score is
  added so that rows inside a flat step keep the raw model's order (AUC is not lost to ties).
* ``auto`` fits both on one half of the held-out rows, scores each by log loss on the other
  half (and vice versa), and keeps the one with the lower mean log loss, refitted on all rows.

Negative down-sampling: when the training data kept each negative with probability ``w``,
the calibrated model estimates :math:`p_s` on the sampled data; the population probability is
(He et al., 2014)

.. math:: p = \\frac{p_s}{p_s + (1 - p_s) / w}.

References
----------
Platt, J. (1999). Probabilistic outputs for support vector machines.
Zadrozny, B., Elkan, C. (2002). Transforming classifier scores into accurate multiclass
probability estimates. KDD.
He, X. et al. (2014). Practical lessons from predicting clicks on ads at Facebook. ADKDD.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from adwise.metrics import log_loss

__all__ = ["Calibrator", "downsampling_correction"]

_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def downsampling_correction(p: np.ndarray, w: float) -> np.ndarray:
    """:math:`p / (p + (1 - p) / w)`: undo keeping each negative with probability ``w``."""
    p = np.asarray(p, dtype=float)
    if w >= 1.0:
        return p
    return p / (p + (1.0 - p) / w)


class Calibrator:
    """Maps raw scores (probabilities of the uncalibrated model) to calibrated probabilities.

    Parameters
    ----------
    method : {"auto", "platt", "isotonic", "none"}
    """

    def __init__(self, method: str = "auto") -> None:
        self.method = method
        self.chosen_: str = "none"
        self.params_: dict[str, Any] = {}
        self.validation_logloss_: dict[str, float] = {}

    # ------------------------------------------------------------------ fitting
    def fit(self, q: np.ndarray, y: np.ndarray, seed: int = 0) -> Calibrator:
        q = np.asarray(q, dtype=float)
        y = np.asarray(y, dtype=float)
        method = self.method
        if method == "auto":
            method = self._choose(q, y, seed)
        self.chosen_ = method
        if method != "none" and (y.min() == y.max() or len(y) < 20):
            self.chosen_ = "none"  # one class or too few rows: nothing to learn
        self.params_ = _fit(self.chosen_, q, y)
        return self

    def _choose(self, q: np.ndarray, y: np.ndarray, seed: int) -> str:
        if len(y) < 40 or y.min() == y.max():
            return "platt" if y.min() != y.max() else "none"
        rng = np.random.default_rng(seed)
        half = rng.random(len(y)) < 0.5
        scores: dict[str, float] = {}
        for m in ("platt", "isotonic"):
            losses = []
            for a, b in ((half, ~half), (~half, half)):
                if y[a].min() == y[a].max() or y[b].min() == y[b].max():
                    continue
                params = _fit(m, q[a], y[a])
                losses.append(log_loss(y[b], _apply(m, params, q[b])))
            scores[m] = float(np.mean(losses)) if losses else float("inf")
        self.validation_logloss_ = scores
        return min(scores, key=lambda k: scores[k])

    # ------------------------------------------------------------------ applying
    def transform(self, q: np.ndarray) -> np.ndarray:
        return _apply(self.chosen_, self.params_, np.asarray(q, dtype=float))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "chosen": self.chosen_, "params": self.params_,
                "validation_logloss": self.validation_logloss_}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibrator:
        c = cls(d["method"])
        c.chosen_ = d["chosen"]
        c.params_ = d["params"]
        c.validation_logloss_ = d.get("validation_logloss", {})
        return c


def _fit(method: str, q: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    if method == "none":
        return {}
    if method == "platt":
        lr = LogisticRegression(C=1e6, solver="lbfgs", max_iter=200)
        lr.fit(_logit(q).reshape(-1, 1), y.astype(int))
        return {"a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}
    if method == "isotonic":
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        iso.fit(q, y)
        return {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}
    raise ValueError(f"unknown calibration method {method!r}")


def _apply(method: str, params: dict[str, Any], q: np.ndarray) -> np.ndarray:
    if method == "none":
        return np.clip(q, 0.0, 1.0)
    if method == "platt":
        z = params["a"] * _logit(q) + params["b"]
        return 1.0 / (1.0 + np.exp(-z))
    x = np.asarray(params["x"], dtype=float)
    v = np.asarray(params["y"], dtype=float)
    p = np.interp(q, x, v)
    # keep the raw order inside flat steps (1e-6 of the raw score; calibration unaffected)
    p = p * (1 - 2e-6) + 1e-6 * np.clip(q, 0.0, 1.0) + 0.5e-6
    return np.clip(p, _EPS, 1 - _EPS)
