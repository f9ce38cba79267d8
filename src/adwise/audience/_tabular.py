"""A small, dependency-free encoder from a mixed-type table to a numeric matrix.

Numbers stay numbers (missing values filled with the training median); text columns and integer
codes (:func:`adwise._columns.is_code`: ``device_type`` 1/4/5, ``C1`` 1005) become one-hot
indicators of their most frequent levels (rarer levels share an ``other`` column).
Used by the uplift and lookalike estimators so that any CSV with treatment/outcome columns can
be modelled without hand-written preprocessing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from adwise._columns import as_labels, is_code
from adwise._exceptions import InputError

__all__ = ["TabularEncoder"]


class TabularEncoder:
    """Fit on a DataFrame, then turn DataFrames with the same columns into float matrices.

    Parameters
    ----------
    max_levels : int, default 30
        Most frequent levels kept per text column; the rest map to ``<col>=other``.
    standardize : bool, default False
        Centre and scale numeric columns (for linear models).
    """

    def __init__(self, max_levels: int = 30, standardize: bool = False) -> None:
        self.max_levels = max_levels
        self.standardize = standardize

    def fit(self, df: pd.DataFrame) -> TabularEncoder:
        if df.shape[1] == 0:
            raise InputError("no feature columns left to model; give a table with attributes.")
        self.columns_ = list(df.columns)
        self.numeric_: list[str] = []
        self.levels_: dict[str, list[str]] = {}
        self.median_: dict[str, float] = {}
        self.mean_: dict[str, float] = {}
        self.scale_: dict[str, float] = {}
        for c in self.columns_:
            s = df[c]
            if pd.api.types.is_bool_dtype(s) or (pd.api.types.is_numeric_dtype(s)
                                                 and not is_code(c, s)):
                v = s.astype(float)
                self.numeric_.append(c)
                med = float(np.nanmedian(v)) if v.notna().any() else 0.0
                self.median_[c] = med
                filled = v.fillna(med)
                self.mean_[c] = float(filled.mean())
                sd = float(filled.std(ddof=0))
                self.scale_[c] = sd if sd > 0 else 1.0
            else:
                # text, and integer codes (see adwise._columns.is_code), one-hot by level
                counts = _labels(s).value_counts()
                self.levels_[c] = [str(x) for x in counts.index[: self.max_levels]]
        self.feature_names_ = list(self.numeric_)
        for c, levels in self.levels_.items():
            self.feature_names_ += [f"{c}={lv}" for lv in levels] + [f"{c}=other"]
        return self

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        missing = [c for c in self.columns_ if c not in df.columns]
        if missing:
            raise InputError(
                f"the data lacks feature column(s) {', '.join(map(repr, missing[:5]))} that the "
                "model was trained with; give the same columns as at training."
            )
        blocks = []
        for c in self.numeric_:
            v = pd.to_numeric(df[c], errors="coerce").astype(float).fillna(self.median_[c])
            v = v.to_numpy()
            if self.standardize:
                v = (v - self.mean_[c]) / self.scale_[c]
            blocks.append(v[:, None])
        for c, levels in self.levels_.items():
            s = _labels(df[c]).to_numpy()
            onehot = np.zeros((len(df), len(levels) + 1))
            lookup = {lv: i for i, lv in enumerate(levels)}
            idx = np.array([lookup.get(x, len(levels)) for x in s], dtype=np.int64)
            onehot[np.arange(len(df)), idx] = 1.0
            blocks.append(onehot)
        return np.hstack(blocks) if blocks else np.zeros((len(df), 0))

    def fit_transform(self, df: pd.DataFrame) -> np.ndarray:
        return self.fit(df).transform(df)

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_levels": self.max_levels,
            "standardize": self.standardize,
            "columns": self.columns_,
            "numeric": self.numeric_,
            "levels": self.levels_,
            "median": self.median_,
            "mean": self.mean_,
            "scale": self.scale_,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TabularEncoder:
        enc = cls(d["max_levels"], d["standardize"])
        enc.columns_, enc.numeric_, enc.levels_ = d["columns"], d["numeric"], d["levels"]
        enc.median_, enc.mean_, enc.scale_ = d["median"], d["mean"], d["scale"]
        enc.feature_names_ = list(enc.numeric_)
        for c, levels in enc.levels_.items():
            enc.feature_names_ += [f"{c}={lv}" for lv in levels] + [f"{c}=other"]
        return enc


def _labels(s: pd.Series) -> pd.Series:
    """Level labels of a column: ``1005`` reads ``"1005"`` in an int or a float column alike."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return as_labels(s).astype(str)
    return s.astype(str)
