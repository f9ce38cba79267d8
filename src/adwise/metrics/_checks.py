"""Input checks shared by the metric functions.

Every check raises :class:`adwise._exceptions.InputError` (or its child
:class:`~adwise._exceptions.ParameterError` for options) with a message that starts with the name
of the public function that was called, so that a user sees where the bad input went in.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from adwise._exceptions import InputError, ParameterError

__all__ = [
    "as_1d",
    "as_binary",
    "as_scores",
    "check_int",
    "check_real",
    "check_same_length",
    "require_both_classes",
]


def as_1d(func: str, name: str, values: ArrayLike) -> np.ndarray:
    """Return ``values`` as a 1-D array or raise ``InputError``."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InputError(f"{func}: {name} must be one-dimensional, got shape {arr.shape}")
    return arr


def check_same_length(func: str, names: Sequence[str], arrays: Sequence[np.ndarray]) -> int:
    """Check that the arrays have one common, non-zero length and return it."""
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) > 1:
        joined = ", ".join(names[:-1]) + f" and {names[-1]}"
        got = ", ".join(str(n) for n in lengths[:-1]) + f" and {lengths[-1]}"
        raise InputError(f"{func}: {joined} must have the same length, got {got}")
    if lengths[0] == 0:
        raise InputError(f"{func}: {names[0]} is empty")
    return lengths[0]


def as_binary(func: str, name: str, arr: np.ndarray) -> np.ndarray:
    """Return a boolean view of a 0/1 array or raise ``InputError``."""
    if arr.dtype == np.bool_:
        return arr
    if arr.dtype.kind not in "iuf":
        raise InputError(f"{func}: {name} must hold only 0 and 1, got values of dtype {arr.dtype}")
    is_one = arr == 1
    ok = is_one | (arr == 0)
    if not ok.all():
        bad = np.unique(arr[~ok])[:5].tolist()
        raise InputError(f"{func}: {name} must hold only 0 and 1, got {bad}")
    return is_one


def require_both_classes(func: str, name: str, flags: np.ndarray) -> int:
    """Check that a boolean array holds both values; return the number of ``True``."""
    n_true = int(np.count_nonzero(flags))
    if n_true == 0 or n_true == flags.size:
        value = 1 if n_true else 0
        raise InputError(f"{func}: {name} holds only one value ({value}); both 0 and 1 are needed")
    return n_true


def as_scores(func: str, name: str, arr: np.ndarray, *, probability: bool = False) -> np.ndarray:
    """Return finite float64 scores (in ``[0, 1]`` when ``probability``) or raise."""
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{func}: {name} must be numeric, got values of dtype {arr.dtype}")
    out = arr.astype(np.float64, copy=False)
    if not np.isfinite(out).all():
        raise InputError(f"{func}: {name} holds NaN or infinite values")
    if probability:
        lo, hi = float(out.min()), float(out.max())
        if lo < 0.0 or hi > 1.0:
            raise InputError(
                f"{func}: {name} must be probabilities in [0, 1], got values from {lo:g} to {hi:g}"
            )
    return out


def check_int(func: str, name: str, value: Any, *, minimum: int) -> int:
    """Return ``value`` as an int ``>= minimum`` or raise ``ParameterError``."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ParameterError(f"{func}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_real(
    func: str,
    name: str,
    value: Any,
    *,
    low: float,
    high: float,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float inside the given interval or raise ``ParameterError``."""
    ok = isinstance(value, Real) and not isinstance(value, bool) and np.isfinite(value)
    if ok:
        v = float(value)
        ok = (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ParameterError(f"{func}: {name} must be a number in {interval}, got {value!r}")
    return float(value)
