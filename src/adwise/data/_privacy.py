"""Pseudonymisation of user ids with a keyed hash (HMAC-SHA256)."""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pandas as pd

__all__ = ["pseudonymise", "pseudonymise_series"]

_PREFIX = "p"
_HEX = 16  # 64 bits: collisions stay negligible far beyond a billion users


def pseudonymise(user_id: str, key: bytes) -> str:
    """Keyed pseudonym of one id: ``'p' + first 16 hex digits of HMAC-SHA256(key, id)``.

    Examples
    --------
    >>> pseudonymise("alice", b"k")
    'pec631a55bb81f5b9'
    """
    digest = hmac.new(key, str(user_id).encode("utf-8"), hashlib.sha256).hexdigest()
    return _PREFIX + digest[:_HEX]


def pseudonymise_series(ids: pd.Series, key: bytes) -> pd.Series:
    """Pseudonymise a column, hashing each distinct id once."""
    codes, uniques = pd.factorize(ids.astype(str))
    mapped = np.array([pseudonymise(u, key) for u in uniques], dtype=object)
    return pd.Series(mapped[codes], index=ids.index, dtype=object)
