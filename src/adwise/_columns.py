"""Which columns of a real log are codes (categories written as numbers), not quantities.

Real logs hold many integer-coded attributes: Avazu's ``C1`` (1005, 1002, ...), ``banner_pos``,
device types, hashed ids mapped to integers.  Read as numbers they turn into "low C1" / "high
C1" segments and linear effects of an arbitrary code order.  :func:`is_code` says which
numeric columns are such codes so that every capability one-hot encodes them instead.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

__all__ = ["MAX_CODE_LEVELS", "as_labels", "is_code", "top_levels"]

#: a numeric column with more distinct values than this is a quantity, whatever its name
MAX_CODE_LEVELS = 30

# names that say "identifier / code / category" (whole words of a snake_case name), and the
# anonymised C1..C26 of the Avazu / Criteo logs
_CODE_NAME = re.compile(
    r"(^|_)(id|code|type|cat|category|class|kind|pos|position|zip|postcode|site|app|device|"
    r"banner|slot|channel|segment|region|country|os|browser)(_|$)|^c\d+$",
    re.IGNORECASE,
)


def is_code(name: str, s: pd.Series) -> bool:
    """Whether a numeric column holds category codes rather than amounts.

    A numeric column of whole numbers with at most ``MAX_CODE_LEVELS`` distinct values is a
    code when its name says so (``*_id``, ``*_code``, ``*_type``, ``device``, ``C14`` ...), when
    its values are large (codes like 1005 or 15706, not counts) or when they are sparse over
    their range (1, 7, 40: labels, not a scale).  Booleans and 0/1 flags are not codes.
    """
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return False
    v = pd.to_numeric(s, errors="coerce").dropna().to_numpy(dtype=float)
    if len(v) == 0 or not np.all(np.isfinite(v)) or not np.all(v == np.round(v)):
        return False
    levels = np.unique(v)
    if len(levels) <= 2 and set(levels) <= {0.0, 1.0}:
        return False
    if len(levels) > MAX_CODE_LEVELS:
        return False
    if _CODE_NAME.search(str(name)):
        return True
    span = levels[-1] - levels[0] + 1
    return bool(levels[0] >= 100 or span > 3 * len(levels))


def as_labels(s: pd.Series) -> pd.Series:
    """Values as text labels (object dtype, missing kept missing); whole numbers without a
    decimal point, so the code 1005 reads ``"1005"`` even in a float column with gaps."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        v = pd.to_numeric(s, errors="coerce")
        whole = v.notna() & (v == v.round())
        out = v.astype(object)
        out[whole] = v[whole].astype("int64").astype(str)
        out[v.notna() & ~whole] = v[v.notna() & ~whole].astype(str)
        return out.where(v.notna(), None)
    return s.astype(object).where(s.notna(), None).map(lambda x: x if x is None else str(x))


def top_levels(s: pd.Series, k: int = 10) -> pd.Series:
    """``s`` as text with all but its ``k`` most frequent values replaced by ``"other"``."""
    t = as_labels(s).fillna("missing")
    keep = t.value_counts().index[:k]
    return t.where(t.isin(keep), "other").astype(object)
