"""Leak-free behaviour features from workspace events, built in DuckDB SQL.

For every event the history features count only events *strictly before* it in time (a window
``RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING`` ordered by ``ts``),
so events at the same instant never see each other's outcome:

* ``user_past_impressions``, ``user_past_clicks``, ``user_ctr`` (smoothed);
* ``ad_past_impressions``, ``ad_past_clicks``, ``ad_ctr``;
* ``user_cat_past_impressions``, ``user_cat_past_clicks``, ``user_cat_ctr``: the user's history
  with the ad's category (the interest x category signal);
* the user's whole category profile, ``profile_impressions:<category>`` and
  ``profile_clicks:<category>`` for every category (not model inputs themselves): a
  :class:`~adwise.behavior._profile.CategoryProfile` fitted on the training period turns them
  into ``user_cat_share``, ``user_cat_expected_ctr`` and ``user_class_<k>``
  (:func:`add_profile`), which pool the sparse per-category history over similar users;
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
from adwise.behavior._profile import CategoryProfile

__all__ = [
    "HISTORY",
    "PRIOR_WEIGHT",
    "add_profile",
    "add_smoothed",
    "event_features",
    "feature_columns",
    "fit_profile",
    "latest_history",
    "user_attributes",
]

PRIOR_WEIGHT = 20.0
HISTORY = ("user", "ad", "user_cat")
# event columns that are outcomes or bookkeeping, never features
_NOT_FEATURES = {"event_id", "ts", "user_id", "clicked", "converted", "cost", "revenue",
                 "propensity", "rating"}
_USER_SKIP = {"user_id", "text"}
_AD_SKIP = {"ad_id", "headline", "description"}
_PROFILE = ("profile_impressions:", "profile_clicks:")
_PROFILE_SLICE = 500_000  # rows per step of add_profile


def _categories(ws: Any) -> list[str]:
    """The ad categories (sorted), or none when ads have no ``category`` column."""
    if "category" not in ws.columns("ads"):
        return []
    rows = ws.query("SELECT DISTINCT category FROM ads WHERE category IS NOT NULL ORDER BY 1")
    return [str(c) for c in rows["category"]]


def _profile_sums(categories: list[str], category: str, over: str = "") -> list[str]:
    """Per-category impression and click sums of a user's events (a window with ``over``);
    ``category`` is the SQL expression of the event's ad category.

    INTEGER, not BIGINT: 2 x categories columns per event, so half the memory at 10 M events.
    """
    out = []
    for c in categories:
        lit = "'" + c.replace("'", "''") + "'"
        for kind, val in zip(_PROFILE, ("1", "e.clicked"), strict=True):
            expr = f"sum(CASE WHEN {category} = {lit} THEN {val} ELSE 0 END){over}"
            out.append(f"coalesce({expr}, 0)::INTEGER AS {_qi(kind + c)}")
    return out


def _qi(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def user_attributes(ws: Any) -> list[str]:
    """Names of the user attribute columns joined to events (``user_<name>`` there)."""
    return [c for c in ws.columns("users") if c not in _USER_SKIP]


def _schema(ws: Any) -> tuple[list[str], list[str], list[str]]:
    ev = ws.columns("events")
    users = user_attributes(ws)
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
    sel += _profile_sums(_categories(ws), "e.ad_category", " OVER w_user")
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
    # a shallow (copy-on-write) copy: adding columns must not copy the event frame's columns
    out = df.copy(deep=False)
    for h in HISTORY:
        imp = out[f"{h}_past_impressions"].to_numpy(dtype=float)
        clk = out[f"{h}_past_clicks"].to_numpy(dtype=float)
        out[f"{h}_ctr"] = (clk + PRIOR_WEIGHT * prior) / (imp + PRIOR_WEIGHT)
    return out


def _profile_matrices(df: pd.DataFrame, categories: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(impressions, clicks)`` of shape (rows, categories); absent categories count 0."""
    out = []
    for kind in _PROFILE:
        cols = [df[kind + c].to_numpy(dtype=np.float64) if kind + c in df.columns
                else np.zeros(len(df)) for c in categories]
        out.append(np.column_stack(cols) if cols else np.zeros((len(df), 0)))
    return out[0], out[1]


def _attribute_columns(df: pd.DataFrame, users: list[str]) -> list[str]:
    return [f"user_{c}" for c in users if f"user_{c}" in df.columns]


def _user_attributes(df: pd.DataFrame, users: list[str]) -> pd.DataFrame | None:
    cols = _attribute_columns(df, users)
    return df[cols] if cols else None


def fit_profile(df: pd.DataFrame, rows: np.ndarray, users: list[str],
                random_state: int = 0) -> CategoryProfile | None:
    """A :class:`CategoryProfile` fitted on the per-user totals of ``df.iloc[rows]``.

    ``users`` names the user attribute columns (``user_<name>`` in ``df``).  ``None`` when the
    events have no ad category.
    """
    categories = sorted({c[len(_PROFILE[0]):] for c in df.columns if c.startswith(_PROFILE[0])})
    if not categories:
        return None
    part = df[["user_id", "ad_category", "clicked", *_attribute_columns(df, users)]].iloc[rows]
    codes, uniq = pd.factorize(part["user_id"])
    cat = pd.Index(categories).get_indexer(part["ad_category"].astype("string")
                                           .to_numpy(dtype=object, na_value=None))
    known = cat >= 0
    shape = (len(uniq), len(categories))
    imp = np.zeros(shape)
    clk = np.zeros(shape)
    np.add.at(imp, (codes[known], cat[known]), 1.0)
    np.add.at(clk, (codes[known], cat[known]), part["clicked"].to_numpy(dtype=np.float64)[known])
    first = np.unique(codes, return_index=True)[1]
    attrs = _user_attributes(part.iloc[first], users)
    return CategoryProfile(random_state=random_state).fit(
        imp, clk, categories, None if attrs is None else attrs.reset_index(drop=True))


def add_profile(df: pd.DataFrame, profile: CategoryProfile | None,
                users: list[str]) -> pd.DataFrame:
    """Add the :class:`CategoryProfile` features of every row (returns a new frame).

    Rows need the ``profile_*`` counts (strictly past, or current totals at serving time),
    ``ad_category`` and the user attributes ``user_<name>`` for ``name`` in ``users``.
    """
    if profile is None:
        return df
    parts = []
    # in slices: the float count matrices of all rows at once would cost 200 bytes per event
    for start in range(0, max(len(df), 1), _PROFILE_SLICE):
        part = df.iloc[start:start + _PROFILE_SLICE]
        imp, clk = _profile_matrices(part, profile.categories_)
        cat = pd.Index(profile.categories_).get_indexer(
            part["ad_category"].astype("string").to_numpy(dtype=object, na_value=None))
        parts.append(profile.transform(imp, clk, cat, _user_attributes(part, users)))
    feats = pd.concat(parts, ignore_index=True)
    out = df.copy(deep=False)
    for c in feats.columns:
        out[c] = feats[c].to_numpy()
    return out


def feature_columns(df: pd.DataFrame) -> list[str]:
    """The model inputs among the columns of :func:`event_features` (ids, outcomes and raw
    profile counts out)."""
    skip = {"event_id", "ts", "user_id", "clicked", "converted"}
    return [c for c in df.columns if c not in skip and not c.startswith(_PROFILE)]


def latest_history(ws: Any) -> dict[str, pd.DataFrame]:
    """Current totals per user, per ad, per (user, ad category) and each user's category
    profile (``user_profile``, when ads have categories): the serving-time history."""
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
    categories = _categories(ws)
    if categories:
        out["user_profile"] = ws.query(
            f"SELECT e.user_id, {', '.join(_profile_sums(categories, 'a.category'))} "
            "FROM events e JOIN ads a ON a.ad_id = e.ad_id GROUP BY e.user_id"
        )
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
