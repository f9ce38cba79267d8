"""Writing tables for people: CSV files that a spreadsheet opens safely."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["csv_safe", "write_csv"]

# A spreadsheet evaluates a cell that begins with one of these as a formula (CSV / formula
# injection): a headline "=HYPERLINK(...)" from a product text would run on the reader's machine.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text values that begin like a formula start with ``'``.

    Numbers are left alone (a negative number is a number, not a formula).

    Examples
    --------
    >>> csv_safe(pd.DataFrame({"h": ["=1+1", "ok", "-x"], "n": [-1, 2, 3]}))["h"].tolist()
    ["'=1+1", 'ok', "'-x"]
    """
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if not (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)):
            continue
        risky = s.map(lambda v: isinstance(v, str) and v.startswith(_FORMULA_START))
        if risky.any():
            out[col] = s.where(~risky, "'" + s.astype(str))
    return out


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    """``df.to_csv(path, index=False)`` with formula-like text escaped (see :func:`csv_safe`)."""
    csv_safe(df).to_csv(path, index=False)
