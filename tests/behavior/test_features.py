"""Leak-free history features: the NumPy computation equals the one-window SQL it replaced."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adwise.behavior._features import (
    _NOT_FEATURES,
    _categories,
    _past_sums,
    _profile_sums,
    _qi,
    _schema,
    event_features,
)


def _one_window_reference(ws) -> pd.DataFrame:
    """The history features as one DuckDB query with window functions over the whole table
    (the implementation before the NumPy one; ~8x the result's memory at 5 M events)."""
    ev, users, ads = _schema(ws)
    ctx = [c for c in ev if c not in _NOT_FEATURES and c != "ad_id"]
    keep = ["event_id", "ts", "user_id", "ad_id", "clicked"] + (
        ["converted"] if "converted" in ev else [])
    sel = [f"e.{_qi(c)}" for c in keep] + [f"e.{_qi(c)} AS {_qi(c)}" for c in ctx]
    sel += ["hour(e.ts) AS hour", "isodow(e.ts) - 1 AS weekday"]
    frame = "ORDER BY e.ts RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING"
    windows = {"user": "e.user_id", "ad": "e.ad_id", "user_cat": "e.user_id, e.ad_category"}
    for name in windows:
        sel.append(f"count(*) OVER w_{name} AS {name}_past_impressions")
        sel.append(f"coalesce(sum(e.clicked) OVER w_{name}, 0) AS {name}_past_clicks")
    sel += _profile_sums(_categories(ws), "e.ad_category", " OVER w_user")
    sel += [f"u.{_qi(c)} AS {_qi('user_' + c)}" for c in users]
    sel += [f"a.{_qi(c)} AS {_qi('ad_' + c)}" for c in ads]
    win = ", ".join(f"w_{n} AS (PARTITION BY {p} {frame})" for n, p in windows.items())
    return ws.query(f"""
        WITH e AS (SELECT ev.*, a0.category AS ad_category
                   FROM events ev LEFT JOIN ads a0 ON a0.ad_id = ev.ad_id)
        SELECT {", ".join(sel)}
        FROM e LEFT JOIN users u ON u.user_id = e.user_id LEFT JOIN ads a ON a.ad_id = e.ad_id
        WINDOW {win}
        ORDER BY e.ts, e.event_id
    """)


@pytest.fixture()
def tied_workspace(workspace, tmp_path):
    """Events with many ties in ``ts`` (within a user, an ad, a user and category), an ad
    without category, an ad and a user missing from their tables, ids out of time order."""
    rng = np.random.default_rng(3)
    n = 400
    times = pd.Timestamp("2026-01-05 08:00") + pd.to_timedelta(
        rng.choice([0, 1, 2, 60, 61, 3600, 86400, 86401], n), unit="s")
    events = pd.DataFrame({
        # ids in no relation to time: ties in ts are ordered by event_id
        "event_id": [f"e{i:04d}" for i in rng.permutation(n)],
        "ts": times,
        "user_id": rng.choice(["u1", "u2", "u3", "u4", "ghost"], n),
        "ad_id": rng.choice(["a1", "a2", "a3", "a4", "a5", "gone"], n),
        "clicked": (rng.random(n) < 0.3).astype(int),
        "placement": rng.choice(["top", "feed"], n),
    })
    users = pd.DataFrame({"user_id": ["u1", "u2", "u3", "u4"], "text": "t",
                          "segment": ["a", "b", "a", None]})
    ads = pd.DataFrame({"ad_id": ["a1", "a2", "a3", "a4", "a5"],
                        "category": ["x", "x", "y", None, "z"],
                        "bid": [1.0, 2.0, 3.0, 4.0, None]})
    for name, df in (("users", users), ("ads", ads), ("events", events)):
        df.to_parquet(tmp_path / f"{name}.parquet")
        workspace.ingest(tmp_path / f"{name}.parquet", name)
    return workspace


def test_history_equals_the_one_window_query_with_ties(tied_workspace):
    ws = tied_workspace
    want = _one_window_reference(ws)
    assert want["ts"].duplicated().sum() > 300  # the fixture is mostly ties
    for threads in (None, 1):
        pd.testing.assert_frame_equal(event_features(ws, threads=threads), want)


def test_history_equals_the_one_window_query_on_the_synthetic_world(loaded_workspace):
    pd.testing.assert_frame_equal(event_features(loaded_workspace),
                                  _one_window_reference(loaded_workspace))


def test_past_sums_count_only_strictly_earlier_rows_of_the_key():
    rng = np.random.default_rng(0)
    n = 3000
    t = np.sort(rng.integers(0, 40, n))  # rows in time order, many ties
    key = rng.integers(0, 25, n)
    v = rng.integers(0, 3, n)
    count, (total,) = _past_sums(key, t, [v])
    for i in rng.choice(n, 300, replace=False):
        before = (key == key[i]) & (t < t[i])
        assert count[i] == before.sum() and total[i] == v[before].sum()
