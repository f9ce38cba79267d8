"""Leak-free behaviour features from workspace events, built in DuckDB SQL.

For every event the history features count only events *strictly before* it in time (a window
``RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING`` ordered by ``ts``),
so events at the same instant never see each other's outcome:

* ``user_past_impressions``, ``user_past_clicks``, ``user_ctr`` (smoothed);
* ``ad_past_impressions``, ``ad_past_clicks``, ``ad_ctr``;
* ``user_cat_past_impressions``, ``user_cat_past_clicks``, ``user_cat_ctr``: the user's history
  with the ad's category (the interest x category signal);
* ``hour`` and ``weekday`` of ``ts``, ``placement``, context columns of the event, and the
  user's and ad's attributes (prefixed ``user_`` / ``ad_``).

Smoothed CTR: :math:`(\\text{clicks} + a\\,\\pi) / (\\text{impressions} + a)` with the prior
:math:`\\pi` the training-period click rate and :math:`a` = ``PRIOR_WEIGHT``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from adwise._exceptions import InputError

__all__ = [
    "HISTORY",
    "PRIOR_WEIGHT",
    "add_smoothed",
    "event_features",
    "feature_columns",
    "latest_history",
]

PRIOR_WEIGHT = 20.0
HISTORY = ("user", "ad", "user_cat")
# event columns that are outcomes or bookkeeping, never features
_NOT_FEATURES = {"event_id", "ts", "user_id", "clicked", "converted", "cost", "revenue",
                 "propensity", "rating"}
_USER_SKIP = {"user_id", "text"}
_AD_SKIP = {"ad_id", "headline", "description"}


def _qi(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _schema(ws: Any) -> tuple[list[str], list[str], list[str]]:
    ev = ws.columns("events")
    users = [c for c in ws.columns("users") if c not in _USER_SKIP]
    ads = [c for c in ws.columns("ads") if c not in _AD_SKIP]
    return ev, users, ads


def event_features(ws: Any) -> pd.DataFrame:
    """One row per event (ordered by ``ts``) with history, time, context and attributes.

    Keeps ``event_id``, ``ts``, ``user_id``, ``clicked`` and ``converted`` (when present) for
    splitting and targets; :func:`feature_columns` names the model inputs.
    """
    ev, users, ads = _schema(ws)
    if ws.row_counts()["events"] == 0:
        raise InputError(
            "the workspace has no events; ingest some with `adwise ingest FILE --table events`."
        )
    has_cat = "category" in ads
    ctx = [c for c in ev if c not in _NOT_FEATURES and c != "ad_id"]
    keep = ["event_id", "ts", "user_id", "ad_id", "clicked"] + (
        ["converted"] if "converted" in ev else []
    )
    sel = [f"e.{_qi(c)}" for c in keep] + [f"e.{_qi(c)} AS {_qi(c)}" for c in ctx]
    sel += ["hour(e.ts) AS hour", "isodow(e.ts) - 1 AS weekday"]
    frame = "ORDER BY e.ts RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING"
    windows = {"user": "e.user_id", "ad": "e.ad_id"}
    if has_cat:
        windows["user_cat"] = "e.user_id, e.ad_category"
    for name in windows:
        sel.append(f"count(*) OVER w_{name} AS {name}_past_impressions")
        sel.append(f"coalesce(sum(e.clicked) OVER w_{name}, 0) AS {name}_past_clicks")
    sel += [f"u.{_qi(c)} AS {_qi('user_' + c)}" for c in users]
    sel += [f"a.{_qi(c)} AS {_qi('ad_' + c)}" for c in ads]
    win = ", ".join(f"w_{n} AS (PARTITION BY {p} {frame})" for n, p in windows.items())
    cat = "a0.category" if has_cat else "NULL"
    sql = f"""
        WITH e AS (
            SELECT ev.*, {cat} AS ad_category
            FROM events ev LEFT JOIN ads a0 ON a0.ad_id = ev.ad_id
        )
        SELECT {", ".join(sel)}
        FROM e
        LEFT JOIN users u ON u.user_id = e.user_id
        LEFT JOIN ads a ON a.ad_id = e.ad_id
        WINDOW {win}
        ORDER BY e.ts, e.event_id
    """
    df = ws.query(sql)
    if not has_cat:
        df["user_cat_past_impressions"] = 0
        df["user_cat_past_clicks"] = 0
    return df


def add_smoothed(df: pd.DataFrame, prior: float) -> pd.DataFrame:
    """Add ``<h>_ctr`` = smoothed click rate for each history block (returns a new frame)."""
    out = df.copy()
    for h in HISTORY:
        imp = out[f"{h}_past_impressions"].to_numpy(dtype=float)
        clk = out[f"{h}_past_clicks"].to_numpy(dtype=float)
        out[f"{h}_ctr"] = (clk + PRIOR_WEIGHT * prior) / (imp + PRIOR_WEIGHT)
    return out


def feature_columns(df: pd.DataFrame) -> list[str]:
    """The model inputs among the columns of :func:`event_features` (ids and outcomes out)."""
    skip = {"event_id", "ts", "user_id", "clicked", "converted"}
    return [c for c in df.columns if c not in skip]


def latest_history(ws: Any) -> dict[str, pd.DataFrame]:
    """Current totals per user, per ad and per (user, ad category): the serving-time history."""
    ads = ws.columns("ads")
    out = {
        "user": ws.query(
            "SELECT user_id, count(*) AS user_past_impressions, "
            "sum(clicked) AS user_past_clicks FROM events GROUP BY user_id"
        ),
        "ad": ws.query(
            "SELECT ad_id, count(*) AS ad_past_impressions, "
            "sum(clicked) AS ad_past_clicks FROM events GROUP BY ad_id"
        ),
    }
    if "category" in ads:
        out["user_cat"] = ws.query(
            "SELECT e.user_id, a.category AS ad_category, count(*) AS user_cat_past_impressions,"
            " sum(e.clicked) AS user_cat_past_clicks FROM events e JOIN ads a "
            "ON a.ad_id = e.ad_id GROUP BY e.user_id, a.category"
        )
    for k, v in out.items():
        for c in v.columns:
            if c.endswith("_past_clicks") or c.endswith("_past_impressions"):
                v[c] = v[c].astype(np.int64)
        out[k] = v
    return out
