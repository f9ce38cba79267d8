"""A CTR model trained on Spark (``behavior train --engine spark``), scored without Spark.

The Spark pipeline (:mod:`adwise.behavior._spark`) fits ``SparkXGBClassifier`` on columns it
encodes in Spark SQL.  What scoring needs is small and lives here: the native XGBoost booster
(JSON, loaded with ``xgboost.Booster().load_model``), per categorical column the table
value -> (count, clicks, code) the encoding was computed from, and the driver-side
:class:`~adwise.behavior._calibration.Calibrator`.  :meth:`XGBoostCTR.predict_ctr` repeats the
Spark encoding in NumPy on a pandas frame, so ``adwise behavior predict`` and ``adwise serve``
score such a model on one machine with plain ``xgboost`` (no PySpark, no JVM).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from adwise._exceptions import BackendError
from adwise.behavior._calibration import Calibrator

__all__ = ["MISSING_KEY", "RARE_CODE", "XGBoostCTR", "code_table", "encode_columns",
           "top_contributions"]

#: the key a missing value is counted under (a value of its own for the count and click rate)
MISSING_KEY = "\x00nan"
#: the code of rare and unseen values (above every frequent value's code)
RARE_CODE = 2**31 - 1
STATE_FILE = "xgb_ctr.json"
MODEL_FILE = "xgb_ctr.model.json"


def code_table(stats: pd.DataFrame, min_count: int) -> dict[str, list[Any]]:
    """``{value: [count, clicks, code]}`` from per-value ``key``, ``n`` and ``s`` (clicks).

    Codes number the values seen at least ``min_count`` times by falling count, then value
    (the order of the Spark window that coded the training rows); the others get ``None``
    (scored as :data:`RARE_CODE`), as does the missing-value key.
    """
    frequent = stats[(stats["n"] >= min_count) & (stats["key"] != MISSING_KEY)]
    # Spark orders strings by UTF-8 bytes: the same order as Python's code points
    order = sorted(zip(frequent["n"].tolist(), frequent["key"].tolist(), strict=True),
                   key=lambda t: (-t[0], t[1]))
    codes = {k: i for i, (_, k) in enumerate(order)}
    return {k: [int(n), float(s), codes.get(k)]
            for k, n, s in zip(stats["key"], stats["n"], stats["s"], strict=True)}


def encode_columns(X: pd.DataFrame, tables: dict[str, dict[str, list[Any]]],
                   categorical: list[str], numeric: list[str], prior: float,
                   smoothing: float) -> np.ndarray:
    """The Spark encoding (``adwise.behavior._spark._encode``) of ``X`` in NumPy: per
    categorical column its ``__code``, ``__count`` and ``__te``, per numeric column its value
    (NaN for missing values and non-numbers), in that order."""
    cols = []
    m, mp = smoothing, smoothing * prior
    for c in categorical:
        s = X[c] if c in X.columns else pd.Series(np.nan, index=X.index)
        missing = s.isna().to_numpy()
        keys = np.where(missing, MISSING_KEY, s.astype(str).to_numpy())
        table = tables[c]
        hit = [table.get(k) for k in keys]
        n = np.array([0.0 if h is None else h[0] for h in hit])
        clicks = np.array([0.0 if h is None else h[1] for h in hit])
        code = np.array([RARE_CODE if h is None or h[2] is None else h[2] for h in hit],
                        dtype=float)
        code[missing] = np.nan
        cols += [code, np.log1p(n), (clicks + mp) / (n + m)]
    for c in numeric:
        s = X[c] if c in X.columns else pd.Series(np.nan, index=X.index)
        cols.append(pd.to_numeric(s, errors="coerce").to_numpy(dtype=float))
    return np.column_stack(cols) if cols else np.empty((len(X), 0))


@dataclass
class _Columns:
    """The column roles, named as :class:`~adwise.behavior._model.CTRModel` names them."""

    categorical: list[str]
    numeric: list[str]
    dropped: list[str]



def top_contributions(per_col: np.ndarray, names: list[str],
                      k: int) -> list[list[tuple[str, float]]]:
    """Per row of ``per_col`` (rows x input columns), the ``k`` largest contributions by size
    as (column name, value)."""
    out = []
    for row in per_col:
        top = np.argsort(-np.abs(row))[:k]
        out.append([(names[j], float(row[j])) for j in top])
    return out

class XGBoostCTR:
    """Calibrated click probabilities from a booster trained on Spark.

    Parameters
    ----------
    booster_json : str
        The booster as XGBoost's JSON model text.
    tables : dict
        Per categorical column, :func:`code_table`.
    categorical, numeric : list of str
        The input columns, in the order of the model's features (three per categorical
        column: ``__code``, ``__count``, ``__te``; one per numeric column).
    prior : float
        Training click rate, the target encoding's prior.
    smoothing : float
        Weight of the prior in the target encoding.
    best_iteration : int or None
        Last tree round kept by early stopping (``None``: every round).
    calibrator : Calibrator
    """

    model = "gbdt"
    model_family = "xgboost"

    def __init__(self, booster_json: str, tables: dict[str, dict[str, list[Any]]],
                 categorical: list[str], numeric: list[str], prior: float, smoothing: float,
                 best_iteration: int | None, calibrator: Calibrator) -> None:
        try:
            import xgboost as xgb
        except ImportError:
            raise BackendError("this behavior model was trained on Spark (XGBoost): scoring it "
                               "needs `pip install xgboost-cpu` (or adwise[spark]).") from None
        self.booster_json = booster_json
        self.tables = tables
        self.columns_ = _Columns(list(categorical), list(numeric), [])
        self.prior = prior
        self.smoothing = smoothing
        self.best_iteration = best_iteration
        self.calibrator_ = calibrator
        self.booster_ = xgb.Booster()
        self.booster_.load_model(bytearray(booster_json.encode()))
        self.feature_names_ = ([f"{c}{s}" for c in categorical for s in
                                ("__code", "__count", "__te")] + [f"{c}__num" for c in numeric])
        self.feature_importance_ = self._importance()

    # ------------------------------------------------------------------ scoring
    def encode(self, X: pd.DataFrame) -> np.ndarray:
        """The model's feature matrix for ``X`` (NaN for missing values)."""
        return encode_columns(X, self.tables, self.columns_.categorical, self.columns_.numeric,
                              self.prior, self.smoothing)

    def _raw(self, F: np.ndarray, **kw: Any) -> np.ndarray:
        import xgboost as xgb

        rounds = (0, 0) if self.best_iteration is None else (0, self.best_iteration + 1)
        # boosters fitted on feature columns carry their names (f0, f1, ... before that)
        d = xgb.DMatrix(F, missing=np.nan, feature_names=self.booster_.feature_names)
        return self.booster_.predict(d, iteration_range=rounds, **kw)

    def predict_ctr(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated click probability of each row of ``X``."""
        return self.calibrator_.transform(self._raw(self.encode(X)))

    def explain(self, X: pd.DataFrame, k: int = 5) -> list[list[tuple[str, float]]]:
        """Top-``k`` (input column, log-odds contribution) per row (TreeSHAP; the three
        encodings of a categorical column summed into one)."""
        contrib = self._raw(self.encode(X), pred_contribs=True)[:, :-1]  # last: bias
        names = self.columns_.categorical + self.columns_.numeric
        n_cat = len(self.columns_.categorical)
        per_col = np.column_stack(
            [contrib[:, 3 * i:3 * i + 3].sum(axis=1) for i in range(n_cat)]
            + [contrib[:, 3 * n_cat + j] for j in range(len(self.columns_.numeric))])
        return top_contributions(per_col, names, k)

    def _importance(self) -> dict[str, float]:
        """Share of the total split gain per input column, largest first."""
        gain = self.booster_.get_score(importance_type="total_gain")
        per: dict[str, float] = {}
        for i, name in enumerate(self.feature_names_):
            col = name.rsplit("__", 1)[0]
            per[col] = per.get(col, 0.0) + float(gain.get(f"f{i}", gain.get(name, 0.0)))
        total = sum(per.values()) or 1.0
        return {c: v / total for c, v in sorted(per.items(), key=lambda t: -t[1]) if v > 0}

    # ------------------------------------------------------------------ registry
    def state(self) -> dict[str, Any]:
        """Everything but the booster, as JSON-able values."""
        return {"model_family": self.model_family, "tables": self.tables,
                "categorical": self.columns_.categorical, "numeric": self.columns_.numeric,
                "prior": self.prior, "smoothing": self.smoothing,
                "best_iteration": self.best_iteration, "calibrator": self.calibrator_.to_dict()}

    def write(self, writer: Any) -> None:
        """Write the state and the booster into a registry artifact."""
        writer.write_json(STATE_FILE, self.state())
        writer.write_text(MODEL_FILE, self.booster_json)

    @classmethod
    def read(cls, reader: Any) -> XGBoostCTR | None:
        """The model of a registry artifact, ``None`` when it holds none."""
        if not reader.has(STATE_FILE):
            return None
        st = reader.read_json(STATE_FILE)
        return cls(reader.read_text(MODEL_FILE), st["tables"], st["categorical"],
                   st["numeric"], float(st["prior"]), float(st["smoothing"]),
                   st["best_iteration"], Calibrator.from_dict(st["calibrator"]))
