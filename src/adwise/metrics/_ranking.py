"""Top-k ranking metrics for recommenders, averaged over users.

Inputs, shared by every function here:

``recommended``
    One ranked list of item ids per user (best first): a sequence of lists / 1-D arrays, or a
    2-D array of shape ``(n_users, width)``.  Only the first ``k`` entries count; shorter lists
    are allowed and their missing places count as misses.  A negative integer id (or NaN in a
    float array) marks an empty place, so ragged lists can be padded with ``-1``.  An item that
    appears twice in one user's list counts only at its first place.
``relevant``
    One collection of relevant (held-out) item ids per user, in the same user order: a sequence
    of sets / lists / 1-D arrays, or a 2-D array padded with ``-1``.  Duplicates are ignored.

Item ids may be integers or strings (both sides of one kind).  Users with no relevant item
are skipped by :func:`precision_at_k`, :func:`recall_at_k`, :func:`ndcg_at_k` and
:func:`map_at_k` (their scores would be 0 or undefined whatever the model does), and the
mean is over the remaining users.  :func:`coverage_at_k` uses every user's list.

Everything is computed on flat ``(user, place, item)`` arrays with sorting and ``bincount``;
there is one light Python pass over the per-user lists when they are not already a 2-D array.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from adwise._exceptions import InputError
from adwise.metrics._checks import check_int

__all__ = [
    "coverage_at_k",
    "map_at_k",
    "ndcg_at_k",
    "precision_at_k",
    "ranking_report",
    "recall_at_k",
]

_MAX_KEY = 2**62


@dataclass(frozen=True)
class _Flat:
    """Flattened per-user lists: parallel arrays of user index, place and item id."""

    n_users: int
    users: np.ndarray
    places: np.ndarray
    items: np.ndarray


def _valid(items: np.ndarray) -> np.ndarray:
    """Mask of real item ids (negative numbers and NaN are padding)."""
    if items.dtype.kind in "iuf":
        return items >= 0
    return np.ones(items.size, dtype=bool)


def _flatten(func: str, name: str, lists: Any, limit: int | None) -> _Flat:
    """Turn per-user lists into flat arrays, keeping at most ``limit`` entries per user."""
    if isinstance(lists, np.ndarray) and lists.dtype != object:
        if lists.ndim != 2:
            raise InputError(
                f"{func}: {name} must be a 2-D array or a sequence of per-user lists, "
                f"got an array of shape {lists.shape}"
            )
        table = lists if limit is None else lists[:, :limit]
        n_users, width = table.shape
        users = np.repeat(np.arange(n_users, dtype=np.int64), width)
        places = np.tile(np.arange(width, dtype=np.int64), n_users)
        items = table.ravel()
    else:
        if isinstance(lists, str | bytes | set | frozenset | dict) or not (
            hasattr(lists, "__len__") and hasattr(lists, "__iter__")
        ):
            raise InputError(
                f"{func}: {name} must be a 2-D array or a sequence of per-user lists, "
                f"got {type(lists).__name__}"
            )
        parts = []
        lengths = np.empty(len(lists), dtype=np.int64)
        for i, entry in enumerate(lists):
            if isinstance(entry, set | frozenset):
                if limit is not None:
                    raise InputError(
                        f"{func}: {name}[{i}] must be a ranked list or 1-D array of item ids, "
                        "got a set (a set has no order)"
                    )
                arr = np.array(list(entry))
            else:
                arr = np.asarray(entry)
            if arr.ndim == 0 and limit is None:
                arr = arr.reshape(1)
            if arr.ndim != 1:
                raise InputError(
                    f"{func}: {name}[{i}] must be a list or 1-D array of item ids, "
                    f"got {type(entry).__name__}"
                )
            if limit is not None:
                arr = arr[:limit]
            lengths[i] = arr.size
            if arr.size:
                parts.append(arr)
        n_users = len(lists)
        items = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
        users = np.repeat(np.arange(n_users, dtype=np.int64), lengths)
        starts = np.cumsum(lengths) - lengths
        places = np.arange(items.size, dtype=np.int64) - np.repeat(starts, lengths)
    if n_users == 0:
        raise InputError(f"{func}: {name} is empty")
    keep = _valid(items)
    if not keep.all():
        users, places, items = users[keep], places[keep], items[keep]
    return _Flat(n_users, users, places, items)


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values (a sort is faster here than ``np.unique``'s hashing)."""
    s = np.sort(a)
    return s[np.r_[True, s[1:] != s[:-1]]] if s.size else s


def _codes(func: str, rec: np.ndarray, rel: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Map item ids of both sides to small non-negative ints; return the codes and their bound."""
    if rec.size and rel.size and (rec.dtype.kind in "biuf") != (rel.dtype.kind in "biuf"):
        raise InputError(
            f"{func}: recommended and relevant hold item ids of different kinds "
            f"({rec.dtype} and {rel.dtype})"
        )
    if rec.dtype.kind in "iu" and rel.dtype.kind in "iu":
        rec_c, rel_c = rec.astype(np.int64, copy=False), rel.astype(np.int64, copy=False)
        bound = 1 + max(int(rec_c.max(initial=0)), int(rel_c.max(initial=0)))
        return rec_c, rel_c, bound
    both = np.concatenate([a for a in (rec, rel) if a.size] or [rec])
    uniq, inverse = np.unique(both, return_inverse=True)
    inverse = inverse.astype(np.int64, copy=False)
    return inverse[: rec.size], inverse[rec.size :], max(1, uniq.size)


@dataclass(frozen=True)
class _PerUser:
    """Per-user sums behind every metric, over the users that have a relevant item."""

    k: int
    hits: np.ndarray
    n_relevant: np.ndarray
    dcg: np.ndarray
    ap_sum: np.ndarray


def _per_user(func: str, recommended: Any, relevant: Any, k: int) -> tuple[_PerUser, _Flat]:
    k = check_int(func, "k", k, minimum=1)
    rec = _flatten(func, "recommended", recommended, k)
    rel = _flatten(func, "relevant", relevant, None)
    if rec.n_users != rel.n_users:
        raise InputError(
            f"{func}: recommended and relevant must have one entry per user, "
            f"got {rec.n_users} and {rel.n_users} users"
        )
    n = rec.n_users
    rec_c, rel_c, bound = _codes(func, rec.items, rel.items)
    if n * bound >= _MAX_KEY:  # integer ids too large to pack with the user index
        rec_c, rel_c, bound = _codes(func, rec.items.astype(str), rel.items.astype(str))
    rel_keys = _sorted_unique(rel.users * bound + rel_c)
    n_relevant = np.bincount(rel_keys // bound, minlength=n)

    rec_keys = rec.users * bound + rec_c
    hit = np.zeros(rec_keys.size, dtype=bool)
    if rec_keys.size and rel_keys.size:
        # an item repeated in one user's list counts only at its first place
        order = np.argsort(rec_keys, kind="stable")
        sorted_keys = rec_keys[order]
        hit[order[np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]]] = True
        at = np.minimum(np.searchsorted(rel_keys, rec_keys), rel_keys.size - 1)
        hit &= rel_keys[at] == rec_keys
    hit_users, hit_places = rec.users[hit], rec.places[hit]
    # hits are in user-major, place-increasing order; rank = hits earlier in the same list
    rank = np.arange(hit_users.size) - np.searchsorted(hit_users, hit_users, side="left")

    keep = n_relevant > 0
    if not keep.any():
        raise InputError(f"{func}: no user has a relevant item, so the metric is undefined")
    stats = _PerUser(
        k=k,
        hits=np.bincount(hit_users, minlength=n)[keep].astype(np.float64),
        n_relevant=n_relevant[keep],
        dcg=np.bincount(hit_users, weights=1.0 / np.log2(hit_places + 2.0), minlength=n)[keep],
        ap_sum=np.bincount(hit_users, weights=(rank + 1.0) / (hit_places + 1.0), minlength=n)[keep],
    )
    return stats, rec


def _precision(s: _PerUser) -> float:
    return float(np.mean(s.hits / s.k))


def _recall(s: _PerUser) -> float:
    return float(np.mean(s.hits / s.n_relevant))


def _ndcg(s: _PerUser) -> float:
    ideal = np.cumsum(1.0 / np.log2(np.arange(s.k) + 2.0))
    return float(np.mean(s.dcg / ideal[np.minimum(s.n_relevant, s.k) - 1]))


def _map(s: _PerUser) -> float:
    return float(np.mean(s.ap_sum / np.minimum(s.n_relevant, s.k)))


def _coverage(func: str, rec: _Flat, n_items: int) -> float:
    n_items = check_int(func, "n_items", n_items, minimum=1)
    shown = _sorted_unique(rec.items).size
    if shown > n_items:
        raise InputError(
            f"{func}: recommended holds {shown} distinct items in the top k, "
            f"more than n_items={n_items}"
        )
    return shown / n_items


def precision_at_k(recommended: Any, relevant: Any, k: int = 10) -> float:
    """Mean share of each user's top ``k`` that is relevant.

    .. math::

        P@k = \\frac{1}{|U|} \\sum_{u \\in U} \\frac{|\\mathrm{top}_k(u) \\cap R_u|}{k}

    over the users :math:`U` with at least one relevant item.  The denominator is always ``k``,
    also for lists shorter than ``k``.

    Parameters
    ----------
    recommended : sequence of ranked lists, or 2-D array (n_users, width)
        Item ids per user, best first (see the module notes for padding and duplicates).
    relevant : sequence of sets / lists, or 2-D array
        Relevant item ids per user, same user order.
    k : int, default 10
        Cut-off, at least 1.

    Returns
    -------
    float

    Raises
    ------
    InputError
        The two inputs differ in number of users, an entry is not a list, or no user has a
        relevant item.
    ParameterError
        ``k`` is not an integer >= 1.

    Examples
    --------
    >>> precision_at_k([[1, 2, 3], [4, 5, 6]], [{1, 3}, {9}], k=2)
    0.25
    """
    return _precision(_per_user("precision_at_k", recommended, relevant, k)[0])


def recall_at_k(recommended: Any, relevant: Any, k: int = 10) -> float:
    """Mean share of each user's relevant items found in the top ``k``.

    .. math::

        R@k = \\frac{1}{|U|} \\sum_{u \\in U} \\frac{|\\mathrm{top}_k(u) \\cap R_u|}{|R_u|}

    over the users with at least one relevant item.  The denominator is :math:`|R_u|`, so
    recall stays below 1 when a user has more than ``k`` relevant items.

    Parameters
    ----------
    recommended, relevant, k
        See :func:`precision_at_k`.

    Returns
    -------
    float

    Raises
    ------
    InputError, ParameterError
        As :func:`precision_at_k`.

    Examples
    --------
    >>> recall_at_k([[1, 2, 3], [4, 5, 6]], [{1, 3}, {9}], k=2)
    0.25
    """
    return _recall(_per_user("recall_at_k", recommended, relevant, k)[0])


def ndcg_at_k(recommended: Any, relevant: Any, k: int = 10) -> float:
    """Mean normalised discounted cumulative gain with binary relevance.

    .. math::

        \\mathrm{DCG}_u = \\sum_{j=1}^{k} \\frac{\\mathrm{rel}_{u,j}}{\\log_2(j + 1)},\\qquad
        \\mathrm{IDCG}_u = \\sum_{j=1}^{\\min(k, |R_u|)} \\frac{1}{\\log_2(j + 1)},\\qquad
        \\mathrm{NDCG}@k = \\frac{1}{|U|} \\sum_{u \\in U} \\frac{\\mathrm{DCG}_u}{\\mathrm{IDCG}_u}

    where :math:`\\mathrm{rel}_{u,j}` is 1 when the item at place ``j`` is relevant.

    Parameters
    ----------
    recommended, relevant, k
        See :func:`precision_at_k`.

    Returns
    -------
    float
        In ``[0, 1]``; 1 when every user's relevant items fill the top of the list.

    Raises
    ------
    InputError, ParameterError
        As :func:`precision_at_k`.

    Examples
    --------
    One hit at place 2 of 2, one relevant item: ``(1/log2 3) / 1``.

    >>> round(ndcg_at_k([[5, 7]], [{7}], k=2), 4)
    0.6309
    """
    return _ndcg(_per_user("ndcg_at_k", recommended, relevant, k)[0])


def map_at_k(recommended: Any, relevant: Any, k: int = 10) -> float:
    """Mean average precision at ``k``, normalised by ``min(k, |R_u|)``.

    .. math::

        \\mathrm{AP}@k(u) = \\frac{1}{\\min(k, |R_u|)} \\sum_{j=1}^{k}
        \\mathrm{rel}_{u,j}\\, P@j(u),\\qquad
        \\mathrm{MAP}@k = \\frac{1}{|U|} \\sum_{u \\in U} \\mathrm{AP}@k(u)

    The ``min(k, |R_u|)`` normaliser (as in the common ``ml_metrics`` ``apk`` and RecBole) makes
    1 reachable: a perfect list scores 1 even when the user has more than ``k`` relevant items.

    Parameters
    ----------
    recommended, relevant, k
        See :func:`precision_at_k`.

    Returns
    -------
    float
        In ``[0, 1]``.

    Raises
    ------
    InputError, ParameterError
        As :func:`precision_at_k`.

    Examples
    --------
    Hits at places 1 and 3, two relevant items: ``(1/1 + 2/3) / 2``.

    >>> round(map_at_k([[1, 2, 3]], [{1, 3}], k=3), 4)
    0.8333
    """
    return _map(_per_user("map_at_k", recommended, relevant, k)[0])


def coverage_at_k(recommended: Any, n_items: int, k: int = 10) -> float:
    """Catalogue coverage: share of the ``n_items`` catalogue shown in anyone's top ``k``.

    .. math::

        \\mathrm{coverage}@k = \\frac{|\\bigcup_u \\mathrm{top}_k(u)|}{n_{\\mathrm{items}}}

    over every user (relevant items play no part).

    Parameters
    ----------
    recommended : sequence of ranked lists, or 2-D array (n_users, width)
        Item ids per user, best first.
    n_items : int
        Size of the catalogue, at least 1.
    k : int, default 10
        Cut-off, at least 1.

    Returns
    -------
    float
        In ``[0, 1]``.

    Raises
    ------
    InputError
        ``recommended`` is malformed or shows more distinct items than ``n_items``.
    ParameterError
        ``k`` or ``n_items`` is not a positive integer.

    Examples
    --------
    >>> coverage_at_k([[1, 2, 3], [1, 4, 5]], n_items=10, k=2)
    0.3
    """
    k = check_int("coverage_at_k", "k", k, minimum=1)
    rec = _flatten("coverage_at_k", "recommended", recommended, k)
    return _coverage("coverage_at_k", rec, n_items)


def ranking_report(recommended: Any, relevant: Any, n_items: int, k: int = 10) -> dict[str, float]:
    """All top-k ranking metrics in one pass.

    Parameters
    ----------
    recommended, relevant, k
        See :func:`precision_at_k`.
    n_items : int
        Catalogue size for :func:`coverage_at_k`.

    Returns
    -------
    dict
        Exactly the keys ``precision@{k}``, ``recall@{k}``, ``ndcg@{k}``, ``map@{k}``,
        ``coverage@{k}`` (e.g. ``precision@10``), with float values.

    Raises
    ------
    InputError, ParameterError
        As the single metrics.

    Examples
    --------
    >>> r = ranking_report([[1, 2], [3, 4]], [{1}, {4}], n_items=8, k=2)
    >>> r["precision@2"], r["recall@2"], r["coverage@2"]
    (0.5, 1.0, 0.5)
    """
    stats, rec = _per_user("ranking_report", recommended, relevant, k)
    k = stats.k
    return {
        f"precision@{k}": _precision(stats),
        f"recall@{k}": _recall(stats),
        f"ndcg@{k}": _ndcg(stats),
        f"map@{k}": _map(stats),
        f"coverage@{k}": _coverage("ranking_report", rec, n_items),
    }
