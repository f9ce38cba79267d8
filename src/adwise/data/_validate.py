"""Validate a DataFrame against the data contract and normalise its types.

All checks live here; the workspace and every ``--train/--test`` command call
:func:`validate_table` so that a file is judged the same way everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from adwise._exceptions import ContractError, InputError, PIIError
from adwise.data._contract import FIXES, TABLES, ColumnSpec

__all__ = ["find_pii_columns", "parse_timestamps", "validate_table"]

_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$")
# International (+CC ...) or grouped national numbers; bare digit runs are ids, not phones.
_PHONE = re.compile(
    r"^(\+\d{1,3}[\s.\-]?)?(\(\d{2,4}\)[\s.\-]?|\d{2,4}[\s.\-])\d{3,4}[\s.\-]?\d{3,4}$|^\+\d{8,15}$"
)


def _bad(file: str, col: str, problem: str, fix: str, mask: np.ndarray, values: pd.Series):
    idx = np.flatnonzero(mask)
    rows = [(int(i), _py(values.iloc[i])) for i in idx[:5]]
    return ContractError(file, col, problem, fix, rows=rows, n_bad=len(idx))


def _py(v: object) -> object:
    if isinstance(v, np.generic):
        return v.item()
    return v


def _is_text(s: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)


def parse_timestamps(values: pd.Series) -> pd.Series:
    """Parse ISO-8601 strings, datetimes, or epoch seconds (ms if > 1e11) to naive UTC.

    Unparseable values become ``NaT``; the caller decides whether that is an error.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        out = pd.to_datetime(values, utc=True)
        return out.dt.tz_localize(None)
    num = pd.to_numeric(values, errors="coerce")
    if values.notna().any() and num.notna().sum() == values.notna().sum():
        unit = "ms" if np.nanmax(np.abs(num.to_numpy(dtype=float))) > 1e11 else "s"
        return pd.to_datetime(num, unit=unit, errors="coerce")
    out = pd.to_datetime(values.astype("string"), utc=True, errors="coerce", format="ISO8601")
    return out.dt.tz_localize(None)


def _check_column(file: str, spec: ColumnSpec, s: pd.Series) -> pd.Series:
    """Return the column converted to its canonical type, or raise ContractError."""
    col, kind, fix = spec.name, spec.kind, FIXES[spec.kind]
    present = s.notna().to_numpy()
    if kind == "id":
        text = s.astype("string").str.strip()
        empty = (~present) | (text.fillna("") == "").to_numpy()
        if empty.any():
            raise _bad(file, col, "has empty ids", fix, empty, s)
        return text.astype(object)
    if kind == "text":
        return s.astype("string").astype(object).where(present, None)
    if kind == "timestamp":
        ts = parse_timestamps(s)
        bad = ts.isna().to_numpy()
        if bad.any():
            problem = "has missing or unparseable timestamps"
            raise _bad(file, col, problem, fix, bad, s)
        return ts
    # numeric kinds: booleans and "true"/"false" are accepted for binary columns
    raw = s
    if kind == "binary" and (pd.api.types.is_bool_dtype(s) or _is_text(s)):
        lowered = s.astype("string").str.strip().str.lower()
        raw = lowered.map({"true": "1", "false": "0"}).fillna(lowered)
    num = pd.to_numeric(raw, errors="coerce").astype(float)
    unparsable = present & num.isna().to_numpy()
    if unparsable.any():
        raise _bad(file, col, "has values that are not numbers", fix, unparsable, s)
    v = num.to_numpy()
    if kind == "binary":
        bad = present & ~np.isin(v, (0.0, 1.0))
        if bad.any():
            raise _bad(file, col, "must be 0 or 1", fix, bad, s)
        if (~present).any() and spec.required:
            raise _bad(file, col, "has missing values", fix, ~present, s)
        return pd.Series(np.where(present, v, np.nan), index=s.index).astype("Int8")
    finite = np.isfinite(v) | ~present
    if not finite.all():
        raise _bad(file, col, "has infinite values", fix, ~finite, s)
    if kind == "nonneg":
        bad = present & (v < 0)
        if bad.any():
            raise _bad(file, col, "must be >= 0", fix, bad, s)
    elif kind == "propensity":
        bad = present & ((v <= 0) | (v > 1))
        if bad.any():
            raise _bad(file, col, "must be in (0, 1]", fix, bad, s)
    return pd.Series(v, index=s.index)


def find_pii_columns(df: pd.DataFrame, skip: Iterable[str] = (), sample: int = 2000) -> list[str]:
    """Columns whose values mostly look like e-mail addresses or phone numbers."""
    found = []
    skip = set(skip)
    for col in df.columns:
        if col in skip:
            continue
        s = df[col]
        if not _is_text(s):
            continue
        vals = s.dropna().astype(str).str.strip()
        vals = vals[vals != ""].head(sample)
        if vals.empty:
            continue
        hits = vals.str.match(_EMAIL) | vals.str.match(_PHONE)
        if hits.mean() >= 0.5:
            found.append(col)
    return found


def validate_table(
    df: pd.DataFrame,
    table: str,
    file: str,
    allow_pii: Iterable[str] = (),
) -> pd.DataFrame:
    """Check ``df`` against the contract of ``table`` and return it with canonical types.

    Parameters
    ----------
    df : DataFrame
        The rows as read (after ``--map`` renames).
    table : {"events", "users", "ads"}
        Which contract applies.
    file : str
        Named in every error message.
    allow_pii : iterable of str
        Columns the caller has confirmed may hold e-mail addresses or phone numbers.

    Raises
    ------
    ContractError
        Naming the file, the column, up to five offending rows with their values, and the fix.
    """
    if table not in TABLES:
        raise InputError(f"unknown table {table!r}; use one of: {', '.join(TABLES)}.")
    spec = TABLES[table]
    if len(df.columns) == 0 or len(df) == 0:
        raise ContractError(
            file, None, "has no rows", f"give a file with a header row and at least one {table} row"
        )
    missing = [c for c in spec.required if c not in df.columns]
    if missing:
        raise ContractError(
            file,
            missing[0],
            f"required column is missing (the file has: {', '.join(map(str, df.columns[:20]))})",
            f"add it, or rename an existing column with --map SOURCE={missing[0]}",
        )
    out = df.copy()
    for col in spec.columns:
        if col.name in out.columns:
            out[col.name] = _check_column(file, col, out[col.name])
    all_empty = [c for c in out.columns if out[c].isna().all() and c not in spec.required]
    if all_empty:
        out = out.drop(columns=all_empty)
    if table in ("users", "ads"):
        key = out[spec.key]
        dup = key.duplicated(keep=False).to_numpy()
        if dup.any():
            raise _bad(
                file,
                spec.key,
                "must be unique, but some ids repeat",
                "keep one row per id (merge or drop the duplicates)",
                dup,
                key,
            )
    elif "event_id" in out.columns:
        dup = out["event_id"].duplicated(keep=False).to_numpy()
        if dup.any():
            raise _bad(
                file,
                "event_id",
                "must be unique within a file, but some ids repeat",
                "drop the duplicate rows or omit event_id to key rows by their content",
                dup,
                out["event_id"],
            )
    allow = set(allow_pii)
    unknown_allow = allow - set(out.columns)
    if unknown_allow:
        raise InputError(
            f"{file}: --allow-pii names {sorted(unknown_allow)[0]!r}, which is not a column."
        )
    pii = find_pii_columns(out, skip=allow | {"user_id"})
    if pii:
        raise PIIError(
            file,
            pii[0],
            "looks like personal data (e-mail addresses or phone numbers) and is refused",
            f"drop the column, or pass --allow-pii {pii[0]} if you are entitled to keep it",
        )
    return out
