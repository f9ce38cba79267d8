"""Train/test splits of event logs that also work on coarse (e.g. hourly) timestamps, and the
optional-column rule every capability shares.

A time split (train on the past, test on the future) is the honest one and the default.  Logs
stamped to the hour (or one export of a single hour) often cannot be split that way: too few
distinct timestamps, or the latest share of time holds too few rows or no positives.  Then
:func:`split_events` falls back to a seeded random split by user (or by row when users are
too few) and says so in :attr:`EventSplit.description`, which every face prints.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["EventSplit", "drop_empty", "present", "split_events"]

#: fewest distinct timestamps for a time split (fewer: the "future" is one or two stamps)
MIN_TIMESTAMPS = 5
#: fewest test rows, as a share of the requested test share (a cut at a big tie can leave
#: the latest stamp with far fewer rows than asked for)
MIN_TEST_SHARE = 0.25


@dataclass
class EventSplit:
    """Row positions of the training and test parts and how they were chosen."""

    train: np.ndarray
    test: np.ndarray
    #: ``"time"`` or ``"random"``
    kind: str
    #: the first test timestamp of a time split (``None`` for a random one)
    cut: Any
    #: one line for the output, e.g. ``"random by user (only 1 distinct timestamp)"``
    description: str


def present(df: pd.DataFrame, column: str) -> bool:
    """Whether ``column`` exists in ``df`` and holds at least one value.

    The workspace creates every optional column of the contract, so an optional column the
    owner never gave is stored all NULL: such a column is absent, not a column of missing
    values.
    """
    return column in df.columns and bool(df[column].notna().any())


def drop_empty(df: pd.DataFrame, keep: Iterable[str] = ()) -> pd.DataFrame:
    """``df`` without its all-NULL columns (see :func:`present`), except those in ``keep``."""
    keep = set(keep)
    empty = [c for c in df.columns if c not in keep and not df[c].notna().any()]
    return df.drop(columns=empty) if empty else df


def split_events(
    ts: pd.Series | np.ndarray,
    y: np.ndarray | None = None,
    groups: pd.Series | np.ndarray | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> EventSplit:
    """Split rows (in any order) into a past to train on and a future to test on.

    Parameters
    ----------
    ts : Series or array of datetimes
    y : array of 0/1, optional
        The label: a time split whose test or training part holds no positive is not
        usable, so it falls back too.
    groups : Series or array, optional
        The user of each row: a random split keeps each user's rows on one side, so a user's
        own history does not leak into the other part.  Without it (or with fewer than 10
        users) the random split is by row.
    test_fraction : float
        Share of the rows held out.
    seed : int
        Seed of the random fallback.

    Returns
    -------
    EventSplit
        Sorted row positions; ``kind`` and ``description`` say which split was made.
    """
    t = pd.to_datetime(pd.Series(np.asarray(ts)))
    n = len(t)
    yy = None if y is None else np.asarray(y, dtype=float)
    n_stamps = int(t.nunique())
    reason = None
    if n_stamps < MIN_TIMESTAMPS:
        reason = (f"only {n_stamps} distinct timestamp" + ("s" if n_stamps != 1 else ""))
    else:
        cut = t.quantile(1 - test_fraction)
        test = (t >= cut).to_numpy()
        n_test = int(test.sum())
        if n_test < MIN_TEST_SHARE * test_fraction * n or n_test == n:
            reason = (f"the latest {test_fraction:.0%} of time holds {n_test:,} of {n:,} rows "
                      "(timestamps are too coarse)")
        elif yy is not None and not np.nansum(yy[test]) > 0:
            reason = f"the latest {test_fraction:.0%} of time holds no positive"
        elif yy is not None and not np.nansum(yy[~test]) > 0:
            reason = "the earlier part of time holds no positive"
        else:
            return EventSplit(np.flatnonzero(~test), np.flatnonzero(test), "time", cut,
                              f"by time (test from {cut})")
    rng = np.random.default_rng(seed)
    if groups is not None:
        codes, uniq = pd.factorize(pd.Series(np.asarray(groups)))
        if len(uniq) >= 10:
            held = rng.random(len(uniq)) < test_fraction
            test = held[codes]
            if 0 < test.sum() < n and (yy is None or (_both_classes(yy[test])
                                                      and _both_classes(yy[~test]))):
                return EventSplit(np.flatnonzero(~test), np.flatnonzero(test), "random", None,
                                  f"random by user, seed {seed} ({reason})")
    test = np.zeros(n, dtype=bool)
    test[rng.permutation(n)[: max(1, round(n * test_fraction))]] = True
    return EventSplit(np.flatnonzero(~test), np.flatnonzero(test), "random", None,
                      f"random by row, seed {seed} ({reason})")


def _both_classes(y: np.ndarray) -> bool:
    return len(y) > 0 and 0 < np.nansum(y) < len(y)
