"""Small in-memory helpers shared by the delivery estimators (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from adwise._exceptions import InputError

__all__ = ["IdIndex", "as_ids", "blas_threads", "check_lengths", "interaction_matrix", "top_k"]


def as_ids(values: Any, name: str, owner: str) -> np.ndarray:
    """Ids as a 1-D object array of str (so ints and strings of one file compare the same)."""
    codes, uniq = _factorize(values, name, owner)
    return uniq[codes]


def _factorize(values: Any, name: str, owner: str) -> tuple[np.ndarray, np.ndarray]:
    """(codes, distinct ids as str); ids are compared as strings, so 7 and "7" are one id."""
    # A Series is factorised as is: converting e.g. Arrow strings to Python objects first
    # costs more than the factorisation itself.
    arr = values if isinstance(values, pd.Series | pd.Index) else np.asarray(values).ravel()
    codes, uniq = pd.factorize(arr, use_na_sentinel=True)
    if (codes < 0).any():
        bad = int(np.flatnonzero(codes < 0)[0])
        raise InputError(
            f"{owner}: {name} has a missing id at row {bad}; drop or fill rows with missing ids."
        )
    text = pd.Series(np.asarray(uniq, dtype=object), dtype=object).astype(str)
    text = text.to_numpy(dtype=object)
    merged, distinct = pd.factorize(text)
    if len(distinct) < len(text):
        return merged[codes], np.asarray(distinct, dtype=object)
    return codes.astype(np.int64), text


def check_lengths(owner: str, **arrays: np.ndarray) -> int:
    lengths = {k: len(v) for k, v in arrays.items() if v is not None}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k}={n}" for k, n in lengths.items())
        raise InputError(f"{owner}: inputs must have the same length; got {shown}.")
    n = next(iter(lengths.values()))
    if n == 0:
        raise InputError(f"{owner}: no interactions given; give at least one row.")
    return n


# Up to this many ids are looked up one by one in a dict; more are factorised (vectorised).
_FEW = 4096


class IdIndex:
    """Maps external ids (compared as str) to codes 0..n-1 and back; unknown ids map to -1."""

    def __init__(self, ids: Iterable[Any]) -> None:
        vals = ids if isinstance(ids, np.ndarray) else np.asarray(list(ids), dtype=object)
        self.index = pd.Index(pd.unique(np.asarray(vals, dtype=object).astype(str)))

    @classmethod
    def encode(cls, values: Any, name: str, owner: str) -> tuple[IdIndex, np.ndarray]:
        """Index of the distinct ids of ``values`` (first-seen order) and their codes."""
        codes, uniq = _factorize(values, name, owner)
        out = cls.__new__(cls)
        out.index = pd.Index(uniq, dtype=object)
        return out, codes

    def __len__(self) -> int:
        return len(self.index)

    def codes(self, ids: Any, name: str = "ids", owner: str = "adwise") -> np.ndarray:
        """Codes of ``ids`` (-1 where unknown)."""
        if isinstance(ids, list | tuple | np.ndarray) and len(ids) <= _FEW:
            vals = ids.ravel() if isinstance(ids, np.ndarray) else ids
            if not any(v is None or (isinstance(v, float) and v != v) for v in vals):
                pos = self._positions()
                return np.fromiter((pos.get(v if isinstance(v, str) else str(v), -1)
                                    for v in vals), dtype=np.int64, count=len(vals))
        codes, uniq = _factorize(ids, name, owner)
        return self.index.get_indexer(uniq).astype(np.int64)[codes]

    def _positions(self) -> dict[str, int]:
        # Built once (on first use, also for indexes unpickled from older versions): a
        # request's few ids are then dict look-ups, where factorising them costs ~1 ms.
        pos = getattr(self, "_pos", None)
        if pos is None:
            pos = self._pos = {v: j for j, v in enumerate(self.index.to_numpy(dtype=object))}
        return pos

    def ids(self, codes: np.ndarray) -> np.ndarray:
        return self.index.to_numpy(dtype=object)[np.asarray(codes, dtype=np.int64)]

    @property
    def values(self) -> np.ndarray:
        return self.index.to_numpy(dtype=object)


def interaction_matrix(
    u: np.ndarray, i: np.ndarray, w: np.ndarray | None, n_users: int, n_items: int
) -> sp.csr_matrix:
    """CSR users x items; repeated pairs are summed."""
    data = np.ones(len(u), dtype=np.float64) if w is None else np.asarray(w, dtype=np.float64)
    m = sp.csr_matrix((data, (u, i)), shape=(n_users, n_items))
    m.sum_duplicates()
    return m


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores per row, best first (ties broken by index)."""
    k = min(k, scores.shape[1])
    if k <= 0:
        return np.empty((scores.shape[0], 0), dtype=np.int64)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    return np.take_along_axis(part, order, axis=1)


@contextmanager
def blas_threads(n: int = 1):
    """Cap BLAS/OpenMP thread pools (implicit is 20-30x slower with many BLAS threads)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n, user_api="blas"):
        yield
