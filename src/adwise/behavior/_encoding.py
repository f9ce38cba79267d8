"""Tabular encoding for CTR models: categorical codes, count and out-of-fold target encoding.

Pure in-memory transforms (no I/O).  Every fitted state is plain lists / numbers so that it can
be written as JSON.

For a categorical column :math:`c` with value :math:`v` the encoder produces

* ``c``: an integer code (values seen at least ``min_count`` times get their own code; rarer
  values and values never seen in training share the last code, ``n_codes - 1``; a missing
  value stays missing);
* ``c__count``: :math:`\\log(1 + n_v)`, the number of training rows with value :math:`v`
  (0 for an unseen value);
* ``c__te``: the smoothed target mean (Micci-Barreca, 2001)

  .. math:: \\mathrm{te}(v) = \\frac{\\sum_{i: x_i = v} y_i + m\\,\\bar y}{n_v + m}

  computed *out of fold* for the training rows (each row's own label never enters its own
  encoding) and from the whole training set for new rows.  An unseen value gets
  :math:`\\bar y`.

References
----------
Micci-Barreca, D. (2001). A preprocessing scheme for high-cardinality categorical attributes in
classification and prediction problems. SIGKDD Explorations 3(1), 27-32.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from adwise._exceptions import InputError

__all__ = ["ColumnPlan", "EncodedRows", "TabularEncoder", "detect_columns", "rows_as_slice"]

_NAN_TOKEN = "\x00nan"


def _as_str(s: pd.Series) -> np.ndarray:
    """Values as an object array of str; missing values become ``None``."""
    if pd.api.types.is_float_dtype(s):
        v = s.to_numpy(dtype=float)
        fin = np.isfinite(v)
        whole = fin & (v == np.round(v)) & (np.abs(v) < 2**62)
        ints = np.round(np.where(whole, v, 0.0)).astype("int64").astype(str)
        out = np.where(whole, ints, v.astype(str))
        out = out.astype(object)
        out[~fin] = None
        return out
    arr = s.astype("string").to_numpy(dtype=object, na_value=None)
    return arr


def _factorize(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(inv, keys)``: each row's position in ``keys``, the distinct values as str.

    Equivalent to ``pd.factorize`` of :func:`_as_str` of every row (missing values become
    ``_NAN_TOKEN``), but only the distinct values are turned into str: pandas factorizes the
    raw column in native code, so no per-row Python object is made, and text and integer
    columns (whose distinct values have distinct str forms) skip a second factorization,
    which matters for the few-row requests of online scoring.  An object column is turned
    into str row by row first: Python's ``1 == 1.0 == True`` would otherwise merge values
    whose str forms differ.
    """
    if pd.api.types.is_object_dtype(s):
        s = pd.Series(_as_str(s))
    inv, raw = pd.factorize(s, use_na_sentinel=False)
    if pd.api.types.is_string_dtype(raw.dtype):
        return inv, raw.to_numpy(dtype=object, na_value=_NAN_TOKEN).astype(str)
    if isinstance(raw.dtype, np.dtype) and raw.dtype.kind in "biu":
        return inv, raw.to_numpy().astype(str)
    # floats (whole values print as integers; nan and +-inf are all missing) and any other
    # dtype: distinct raw values may share a str form, so factorize the str forms
    text = _as_str(pd.Series(raw))
    text = np.where(pd.isna(text), _NAN_TOKEN, text).astype(object)
    key_of_raw, keys = pd.factorize(text)
    return key_of_raw[inv], np.asarray(keys, dtype=object).astype(str)


@dataclass
class ColumnPlan:
    """Which columns are categorical / numeric, and which were dropped and why."""

    categorical: list[str] = field(default_factory=list)
    numeric: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)


def detect_columns(
    X: pd.DataFrame,
    categorical: Sequence[str] | None = None,
    numeric: Sequence[str] | None = None,
    max_int_categories: int = 1000,
) -> ColumnPlan:
    """Decide how each column is used.

    Rules (each overridable by naming the column in ``categorical`` or ``numeric``):

    * text/boolean columns are categorical;
    * integer columns with at most ``max_int_categories`` distinct values are categorical
      (codes such as Avazu's ``C14`` or ``banner_pos``); other numeric columns are numeric;
    * a column with no non-missing value, or a single distinct value, is dropped;
    * a non-numeric column whose every value is distinct (a row id) is dropped.
    """
    cat_forced = set(categorical or ())
    num_forced = set(numeric or ())
    both = cat_forced & num_forced
    if both:
        raise InputError(
            f"column {sorted(both)[0]!r} is named both categorical and numeric; name it once."
        )
    for name in list(cat_forced) + list(num_forced):
        if name not in X.columns:
            raise InputError(
                f"column {name!r} (named in --categorical/--numeric) is not in the data; "
                f"columns are: {', '.join(map(str, X.columns[:30]))}."
            )
    plan = ColumnPlan()
    n = len(X)
    for col in X.columns:
        s = X[col]
        nonnull = int(s.notna().sum())
        if nonnull == 0:
            plan.dropped[col] = "all values are missing"
            continue
        nunique = int(s.nunique(dropna=True))
        if nunique <= 1 and col not in cat_forced and col not in num_forced:
            plan.dropped[col] = "a single distinct value"
            continue
        if col in cat_forced:
            plan.categorical.append(col)
            continue
        if col in num_forced:
            if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
                conv = pd.to_numeric(s, errors="coerce")
                if int(conv.notna().sum()) < nonnull:
                    raise InputError(
                        f"column {col!r} was named numeric but holds values that are not "
                        f"numbers (e.g. {s[conv.isna() & s.notna()].iloc[0]!r}); name it "
                        "categorical instead."
                    )
            plan.numeric.append(col)
            continue
        if pd.api.types.is_bool_dtype(s):
            plan.categorical.append(col)
        elif pd.api.types.is_integer_dtype(s):
            if nunique == n and n > 100:
                plan.dropped[col] = "every value is distinct (looks like a row id)"
            elif nunique <= max_int_categories:
                plan.categorical.append(col)
            else:
                plan.numeric.append(col)
        elif pd.api.types.is_numeric_dtype(s):
            plan.numeric.append(col)
        else:
            if nunique == nonnull == n and n > 100:
                plan.dropped[col] = "every value is distinct (looks like a row id)"
            else:
                plan.categorical.append(col)
    return plan


class TabularEncoder:
    """Codes + count + out-of-fold target encoding for categoricals; numerics pass through.

    Parameters
    ----------
    categorical, numeric : list of str
        The columns to encode (see :func:`detect_columns`).
    min_count : int
        Values seen fewer times share the "rare" code.
    smoothing : float
        ``m`` of the smoothed target mean.
    te_folds : int
        Folds for the out-of-fold target encoding of the training rows.
    target_encoding, count_encoding : bool
        Whether to add ``c__te`` / ``c__count``.
    integer_values : bool
        Whether a categorical column of integers also gives its value (``c__value``): codes,
        counts and target encodings lose the order of small-count columns such as an age, a
        day of the month or a number of contacts, which a tree splits on through the value.
    """

    def __init__(
        self,
        categorical: Sequence[str],
        numeric: Sequence[str],
        min_count: int = 5,
        smoothing: float = 20.0,
        te_folds: int = 5,
        target_encoding: bool = True,
        count_encoding: bool = True,
        random_state: int = 0,
        integer_values: bool = False,
    ) -> None:
        self.categorical = list(categorical)
        self.numeric = list(numeric)
        self.integer_values = integer_values
        self.min_count = min_count
        self.smoothing = smoothing
        self.te_folds = te_folds
        self.target_encoding = target_encoding
        self.count_encoding = count_encoding
        self.random_state = random_state
        self.state: dict[str, Any] = {}

    # ------------------------------------------------------------------ fitting
    def fit_transform(self, X: pd.DataFrame, y: np.ndarray) -> pd.DataFrame:
        """Fit on ``X`` and ``y``; return the encoded training rows (float64 columns)."""
        return self.fit_encode(X, y).frame()

    def fit_encode(self, X: pd.DataFrame, y: np.ndarray) -> EncodedRows:
        """Fit on ``X`` and ``y``; return the encoded training rows, made on demand.

        Same values as :meth:`fit_transform`, which is ``fit_encode(X, y).frame()``; a
        learner that reads the rows in slices (LightGBM's ``Sequence``) never holds the whole
        float64 matrix, 8 bytes per row and feature (several GB at 10 M rows).
        """
        y = np.asarray(y, dtype=float)
        prior = float(y.mean())
        cats: dict[str, dict[str, Any]] = {}
        parts: list[_Part] = []
        names: list[str] = []
        rng = np.random.default_rng(self.random_state)
        k = max(self.te_folds, 1)
        fold = rng.integers(0, k, size=len(X))
        # kept per row while the rows are encoded: the smallest integer type that holds it
        fold = fold.astype(np.min_scalar_type(k - 1))
        m = self.smoothing
        valued: list[str] = []
        for c in self.categorical:
            inv, uniq = _factorize(X[c])
            counts = np.bincount(inv, minlength=len(uniq)).astype(np.int64)
            sums = np.bincount(inv, weights=y, minlength=len(uniq))
            is_nan = uniq == _NAN_TOKEN
            keep = (counts >= self.min_count) & ~is_nan
            code_of = np.full(len(uniq), -1, dtype=np.int64)
            code_of[keep] = np.arange(int(keep.sum()))
            n_codes = int(keep.sum()) + 1
            cats[c] = {
                "values": uniq.tolist(),
                "counts": counts.tolist(),
                "sums": sums.tolist(),
                "code": code_of.tolist(),
                "n_codes": n_codes,
            }
            code_u = np.where(code_of < 0, n_codes - 1, code_of).astype(float)
            code_u[is_nan] = np.nan
            # each output is a per-value table read at the row's value (and fold)
            pos = inv.astype(np.min_scalar_type(max(len(uniq) - 1, 0)))
            parts.append(_Part(code_u, pos))
            names.append(c)
            if self.count_encoding:
                parts.append(_Part(np.log1p(counts.astype(float)), pos))
                names.append(c + "__count")
            if self.target_encoding:
                # out of fold: a row reads the table of the other folds' rows
                tables = np.empty((k, len(uniq)))
                for f in range(k):
                    if self.te_folds <= 1:
                        s_in, n_in = sums, counts
                    else:
                        inside = fold == f
                        n_in = counts - np.bincount(inv[inside], minlength=len(uniq))
                        s_in = sums - np.bincount(inv[inside], weights=y[inside],
                                                  minlength=len(uniq))
                    tables[f] = (s_in + m * prior) / (n_in + m)
                parts.append(_Part(tables, pos, fold))
                names.append(c + "__te")
            if self.integer_values and pd.api.types.is_integer_dtype(X[c]):
                parts.append(_Part(column=X[c]))
                names.append(c + "__value")
                valued.append(c)
            del inv
        for c in self.numeric:
            parts.append(_Part(column=X[c]))
            names.append(c)
        self.state = {"categorical": cats, "prior": prior, "numeric": list(self.numeric),
                      "valued": valued}
        self.feature_names_ = names
        return EncodedRows(parts, names, X.index)

    # ------------------------------------------------------------------ transform
    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.categorical + self.numeric if c not in X.columns]
        if missing:
            raise InputError(
                f"the data lacks column(s) the model was trained on: {', '.join(missing[:10])}"
                f"{' ...' if len(missing) > 10 else ''}. Give the same columns as in training."
            )
        arr = np.empty((len(X), len(self.feature_names_)), order="F")
        # encoders saved before integer values existed have no "valued" list
        valued = set(self.state.get("valued", ()))
        j = 0
        for c in self.categorical:
            index, table = self._lookup(c)
            inv, keys = _factorize(X[c])
            pos = index.get_indexer(keys)
            # an unknown value reads the "unseen" row; missing in data that had no missing
            # value in training reads the "missing, unseen" row (code stays missing)
            pos[pos < 0] = len(index)
            pos[(keys == _NAN_TOKEN) & (pos == len(index))] = len(index) + 1
            rows = pos[inv]
            for t in table:
                np.take(t, rows, out=arr[:, j])
                j += 1
            if c in valued:
                arr[:, j] = _numeric(X[c])
                j += 1
        for c in self.numeric:
            arr[:, j] = _numeric(X[c])
            j += 1
        return pd.DataFrame(arr, index=X.index, columns=self.feature_names_, copy=False)

    def _lookup(self, c: str) -> tuple[pd.Index, list[np.ndarray]]:
        """Stored values of ``c`` and, per output column, its value for each of them.

        The tables have two rows more than the stored values: an unseen value (the rare
        code, count 0, the prior) and a missing value never seen in training (missing code,
        count 0, the prior).  A missing value seen in training reads its own row, so it gets
        the same count and target encoding as in training.  Built once per column and kept
        (not serialised): scoring then costs a hash lookup of the distinct values and one
        gather per output column.
        """
        st = self.state["categorical"][c]
        cached = st.get("_lookup")
        if cached is not None:
            return cached
        values = np.asarray(st["values"], dtype=object)
        counts = np.append(np.asarray(st["counts"], dtype=float), [0.0, 0.0])
        sums = np.append(np.asarray(st["sums"], dtype=float), [0.0, 0.0])
        code = np.append(np.asarray(st["code"], dtype=float), [-1.0, np.nan])
        code[code < 0] = st["n_codes"] - 1
        code[np.append(values == _NAN_TOKEN, [False, True])] = np.nan
        table = [code]
        if self.count_encoding:
            table.append(np.log1p(counts))
        if self.target_encoding:
            m = self.smoothing
            table.append((sums + m * self.state["prior"]) / (counts + m))
        st["_lookup"] = (pd.Index(values), table)
        return st["_lookup"]

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        cats = {
            c: {k: v for k, v in st.items() if not k.startswith("_")}
            for c, st in self.state["categorical"].items()
        }
        return {
            "categorical": self.categorical,
            "numeric": self.numeric,
            "min_count": self.min_count,
            "smoothing": self.smoothing,
            "te_folds": self.te_folds,
            "target_encoding": self.target_encoding,
            "count_encoding": self.count_encoding,
            "random_state": self.random_state,
            "integer_values": self.integer_values,
            "feature_names": self.feature_names_,
            "state": {"categorical": cats, "prior": self.state["prior"],
                      "numeric": self.state["numeric"],
                      "valued": self.state.get("valued", [])},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TabularEncoder:
        enc = cls(d["categorical"], d["numeric"], d["min_count"], d["smoothing"], d["te_folds"],
                  d["target_encoding"], d["count_encoding"], d["random_state"],
                  d.get("integer_values", False))
        enc.state = d["state"]
        enc.feature_names_ = list(d["feature_names"])
        return enc

    def source_of(self, feature: str) -> str:
        """The input column an encoded feature comes from."""
        for suffix in ("__count", "__te", "__value"):
            if feature.endswith(suffix) and feature[: -len(suffix)] in self.categorical:
                return feature[: -len(suffix)]
        return feature


class _Part:
    """One encoded column: ``table[pos]`` (``table[fold, pos]`` with ``fold``) per row, or the
    numeric input ``column``."""

    def __init__(self, table: np.ndarray | None = None, pos: np.ndarray | None = None,
                 fold: np.ndarray | None = None, column: pd.Series | None = None) -> None:
        self.table = table
        self.pos = pos
        self.fold = fold
        self.column = column

    def values(self, rows: slice | np.ndarray) -> np.ndarray:
        """The float64 values of the rows ``rows`` (a slice or positions)."""
        if self.column is not None:
            return _numeric(self.column.iloc[rows])
        pos = self.pos[rows]
        if self.fold is None:
            return self.table[pos]
        width = self.table.shape[1]
        return self.table.ravel()[self.fold[rows].astype(np.intp) * width + pos]


class EncodedRows:
    """The training rows as :meth:`TabularEncoder.fit_transform` encodes them, made on demand.

    Per row it keeps only the positions of the categorical values in their tables, the
    target-encoding fold and the numeric input columns (views of the input frame), so a few
    bytes per row and categorical column instead of 8 per row and encoded feature.
    """

    def __init__(self, parts: list[_Part], names: list[str], index: pd.Index) -> None:
        self._parts = parts
        self.names = names
        self.index = index

    def __len__(self) -> int:
        return len(self.index)

    def block(self, rows: slice | np.ndarray) -> np.ndarray:
        """The encoded rows ``rows`` (a slice or positions) as a row-major float64 matrix."""
        rows = rows_as_slice(rows)
        first = self._parts[0].values(rows) if self._parts else np.zeros(0)
        # filled column by column in column-major order (sequential writes), then turned
        # row-major in one blocked transpose, which is what LightGBM reads rows from
        out = np.empty((len(first), len(self._parts)), order="F")
        for j, p in enumerate(self._parts):
            out[:, j] = first if j == 0 else p.values(rows)
        return np.ascontiguousarray(out)

    def frame(self, rows: slice | np.ndarray | None = None) -> pd.DataFrame:
        """The encoded rows ``rows`` (default: all) as a DataFrame.

        One column-major float64 block, wrapped without a copy: pandas keeps such an array as
        its single block, so ``to_numpy(dtype=np.float64)`` is a view that LightGBM reads as
        column-major without copying it again.
        """
        rows = slice(None) if rows is None else rows_as_slice(rows)
        index = self.index[rows]
        arr = np.empty((len(index), len(self._parts)), order="F")
        for j, p in enumerate(self._parts):
            arr[:, j] = p.values(rows)
        return pd.DataFrame(arr, index=index, columns=self.names, copy=False)

    def columns(self, names: list[str], rows: slice | np.ndarray) -> pd.DataFrame:
        """The encoded columns ``names`` of the rows ``rows`` (the others are not made)."""
        rows = rows_as_slice(rows)
        pos = {n: j for j, n in enumerate(self.names)}
        return pd.DataFrame({n: self._parts[pos[n]].values(rows) for n in names},
                            index=self.index[rows])


def rows_as_slice(rows: slice | np.ndarray) -> slice | np.ndarray:
    """Consecutive positions as a slice (views instead of gathered copies)."""
    if isinstance(rows, slice):
        return rows
    rows = np.asarray(rows)
    if len(rows) and rows[-1] - rows[0] == len(rows) - 1 and np.all(np.diff(rows) == 1):
        return slice(int(rows[0]), int(rows[-1]) + 1)
    return rows


def _numeric(s: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(s):
        return s.astype(float).to_numpy()
    v = pd.to_numeric(s, errors="coerce").astype(float).to_numpy()
    v = v.copy()
    v[~np.isfinite(v)] = np.nan
    return v
