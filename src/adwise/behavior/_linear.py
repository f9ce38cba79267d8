"""A logistic regression trained with Spark ML (``--engine spark --model logreg``), scored by
NumPy without Spark.

The inputs are those of the Spark XGBoost model (:mod:`adwise.behavior._spark`), made
linear: per categorical column the log-odds of its smoothed click rate (``__te``; an unseen
value gets the prior's, a neutral input) — not its frequency code, an order for trees only,
nor its count, which a weekday or an id unseen in training (count 0) would push far outside
the training range; per numeric column its value, missing values replaced by the training
mean, and a 0/1 "was missing" column.
:func:`linear_inputs` writes these in Spark SQL, :meth:`LinearCTR.inputs` in NumPy; the
registry keeps the coefficients, the encoding tables and the calibrator as JSON.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from adwise.behavior._calibration import Calibrator
from adwise.behavior._xgb import _Columns, encode_columns, top_contributions

__all__ = ["LinearCTR", "linear_inputs", "linear_names"]

STATE_FILE = "linear_ctr.json"
TE_CLIP = 1e-6  # keeps the log-odds finite when a rate is 0 (a training set without clicks)


def linear_names(categorical: list[str], numeric: list[str]) -> list[str]:
    """The names of the regression's inputs, in the coefficients' order."""
    return ([f"{c}__logit" for c in categorical]
            + [f"{c}{s}" for c in numeric for s in ("__num", "__missing")])


def linear_inputs(frame: Any, categorical: list[str], numeric: list[str],
                  means: dict[str, float]) -> Any:
    """``frame`` (with the Spark encoding's ``__te`` and ``__num`` columns) and
    the regression's inputs (:func:`linear_names`), as Spark columns."""
    from pyspark.sql import functions as F

    out = frame
    for c in categorical:
        te = F.least(F.greatest(F.col(f"{c}__te"), F.lit(TE_CLIP)), F.lit(1.0 - TE_CLIP))
        out = out.withColumn(f"{c}__logit", F.log(te / (F.lit(1.0) - te)))
    for c in numeric:
        x = F.col(f"{c}__num")
        missing = x.isNull() | F.isnan(x)
        out = out.withColumn(f"{c}__missing", missing.cast("double")) \
            .withColumn(f"{c}__num", F.when(missing, F.lit(means[c])).otherwise(x))
    return out


class LinearCTR:
    """Calibrated click probabilities from a Spark ML logistic regression.

    Parameters
    ----------
    coef : list of float
        One per input of :func:`linear_names`.
    intercept : float
    tables : dict
        Per categorical column, :func:`~adwise.behavior._xgb.code_table`.
    categorical, numeric : list of str
    means : dict
        Training mean of each numeric column (what a missing value is replaced by).
    input_means, input_stds : list of float
        Training mean and standard deviation of each input: contributions are measured from
        the mean row, importance as :math:`|\\beta| \\sigma`.
    prior, smoothing : float
        The target encoding's prior (training click rate) and its weight.
    calibrator : Calibrator
    """

    model = "logreg"
    model_family = "spark-ml"

    def __init__(self, coef: list[float], intercept: float,
                 tables: dict[str, dict[str, list[Any]]], categorical: list[str],
                 numeric: list[str], means: dict[str, float], input_means: list[float],
                 input_stds: list[float], prior: float, smoothing: float,
                 calibrator: Calibrator) -> None:
        self.coef_ = np.asarray(coef, dtype=float)
        self.intercept_ = float(intercept)
        self.tables = tables
        self.columns_ = _Columns(list(categorical), list(numeric), [])
        self.means = {k: float(v) for k, v in means.items()}
        self.input_means_ = np.asarray(input_means, dtype=float)
        self.input_stds_ = np.asarray(input_stds, dtype=float)
        self.prior = prior
        self.smoothing = smoothing
        self.calibrator_ = calibrator
        self.feature_names_ = linear_names(list(categorical), list(numeric))
        self.feature_importance_ = self._importance()

    # ------------------------------------------------------------------ scoring
    def inputs(self, X: pd.DataFrame) -> np.ndarray:
        """The regression's input matrix for ``X`` (:func:`linear_inputs` in NumPy)."""
        cat, num = self.columns_.categorical, self.columns_.numeric
        enc = encode_columns(X, self.tables, cat, num, self.prior, self.smoothing)
        cols = []
        for i in range(len(cat)):
            te = np.clip(enc[:, 3 * i + 2], TE_CLIP, 1.0 - TE_CLIP)
            cols.append(np.log(te / (1.0 - te)))
        for j, c in enumerate(num):
            x = enc[:, 3 * len(cat) + j]
            missing = np.isnan(x)
            cols += [np.where(missing, self.means[c], x), missing.astype(float)]
        return np.column_stack(cols) if cols else np.empty((len(X), 0))

    def raw(self, X: pd.DataFrame) -> np.ndarray:
        """The regression's click probability before calibration."""
        z = self.inputs(X) @ self.coef_ + self.intercept_
        return 1.0 / (1.0 + np.exp(-z))

    def predict_ctr(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated click probability of each row of ``X``."""
        return self.calibrator_.transform(self.raw(X))

    def explain(self, X: pd.DataFrame, k: int = 5) -> list[list[tuple[str, float]]]:
        """Top-``k`` (input column, log-odds contribution against the mean training row) per
        row; a numeric column's two inputs summed into one."""
        contrib = (self.inputs(X) - self.input_means_) * self.coef_
        names = self.columns_.categorical + self.columns_.numeric
        owner = np.array([names.index(n.rsplit("__", 1)[0]) for n in self.feature_names_])
        per_col = np.zeros((len(X), len(names)))
        np.add.at(per_col.T, owner, contrib.T)
        return top_contributions(per_col, names, k)

    def _importance(self) -> dict[str, float]:
        """Share of :math:`\\sum |\\beta| \\sigma` per input column, largest first."""
        w = np.abs(self.coef_) * self.input_stds_
        per: dict[str, float] = {}
        for name, v in zip(self.feature_names_, w, strict=True):
            col = name.rsplit("__", 1)[0]
            per[col] = per.get(col, 0.0) + float(v)
        total = sum(per.values()) or 1.0
        return {c: v / total for c, v in sorted(per.items(), key=lambda t: -t[1]) if v > 0}

    # ------------------------------------------------------------------ registry
    def state(self) -> dict[str, Any]:
        """The whole model as JSON-able values."""
        return {"model_family": self.model_family, "coef": self.coef_.tolist(),
                "intercept": self.intercept_, "tables": self.tables,
                "categorical": self.columns_.categorical, "numeric": self.columns_.numeric,
                "means": self.means, "input_means": self.input_means_.tolist(),
                "input_stds": self.input_stds_.tolist(), "prior": self.prior,
                "smoothing": self.smoothing, "calibrator": self.calibrator_.to_dict()}

    def write(self, writer: Any) -> None:
        """Write the model into a registry artifact."""
        writer.write_json(STATE_FILE, self.state())

    @classmethod
    def read(cls, reader: Any) -> LinearCTR | None:
        """The model of a registry artifact, ``None`` when it holds none."""
        if not reader.has(STATE_FILE):
            return None
        st = reader.read_json(STATE_FILE)
        return cls(st["coef"], st["intercept"], st["tables"], st["categorical"], st["numeric"],
                   st["means"], st["input_means"], st["input_stds"], float(st["prior"]),
                   float(st["smoothing"]), Calibrator.from_dict(st["calibrator"]))
