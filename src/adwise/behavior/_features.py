"""Leak-free behaviour features from workspace events, built in DuckDB SQL.

For every event the history features count only events *strictly before* it in time (what a
SQL window ``RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING`` ordered by
``ts`` counts; computed as cumulative sums over the events sorted by key, see
:func:`event_features`), so events at the same instant never see each other's outcome:

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
from adwise.behavior._encoding import rows_as_slice
from adwise.behavior._profile import CategoryProfile
from adwise.engine import PRIOR_WEIGHT  # shared with the SQL spec DuckDB and Spark run

__all__ = [
    "HISTORY",
    "PRIOR_WEIGHT",
    "PROFILE_COUNTS",
    "add_profile",
    "add_smoothed",
    "event_features",
    "feature_columns",
    "fit_profile",
    "latest_history",
    "user_attributes",
]

HISTORY = ("user", "ad", "user_cat")
# event columns that are outcomes or bookkeeping, never features
_NOT_FEATURES = {"event_id", "ts", "user_id", "clicked", "converted", "cost", "revenue",
                 "propensity", "rating"}
_USER_SKIP = {"user_id", "text"}
_AD_SKIP = {"ad_id", "headline", "description"}
# prefixes of the per-category profile counts of event_features (not model inputs)
PROFILE_COUNTS = ("profile_impressions:", "profile_clicks:")
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
        for kind, val in zip(PROFILE_COUNTS, ("1", "e.clicked"), strict=True):
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


def event_features(ws: Any, threads: int | None = None) -> pd.DataFrame:
    """One row per event (ordered by ``ts``, then ``event_id``) with history, time, context and
    attributes.

    Keeps ``event_id``, ``ts``, ``user_id``, ``clicked`` and ``converted`` (when present) for
    splitting and targets; :func:`feature_columns` names the model inputs.  ``threads`` caps
    DuckDB's threads (its default: every core).

    Peak memory is a few 8-byte arrays per event beyond the result: DuckDB only sorts the narrow
    keys (row id, time, user / ad / category codes, click); the history counts are cumulative
    sums over those keys in NumPy (:func:`_past_sums`), and every other column is fetched
    alone, unordered, and put in order by its row id.  The same counts from SQL window
    functions over the whole table cost ~8 times the result's size at 5 M events.
    """
    ev, users, ads = _schema(ws)
    if ws.row_counts()["events"] == 0:
        raise InputError(
            "the workspace has no events; ingest some with `adwise ingest FILE --table events`."
        )
    has_cat = "category" in ads
    categories = _categories(ws)
    ctx = [c for c in ev if c not in _NOT_FEATURES and c != "ad_id"]
    keep = ["event_id", "ts", "user_id", "ad_id", "clicked"] + (
        ["converted"] if "converted" in ev else []
    )
    with ws.connect(read_only=True) as con:
        if threads is not None:
            con.execute(f"SET threads = {int(threads)}")
        k = _history_keys(con, has_cat)
        order = k["r"].to_numpy()
        rank = _rank(order)
        cols: dict[str, Any] = {}
        for c in [*keep, *ctx]:
            cols[c] = _fetch(con, f"e.{_qi(c)}", "", rank)
        t = k["t"].to_numpy()
        # DuckDB's hour(ts) and isodow(ts) - 1 (1970-01-01 was a Thursday), from the
        # microseconds; floor division keeps them right before 1970 too
        cols["hour"] = t // 3_600_000_000 % 24
        cols["weekday"] = (t // 86_400_000_000 + 3) % 7
        clicked = np.nan_to_num(k["y"].to_numpy(dtype=np.float64)).astype(np.int64)
        user = k["u"].to_numpy(dtype=np.int64)
        cat = k["c"].to_numpy(dtype=np.int64)
        keys = {"user": user, "ad": k["a"].to_numpy(dtype=np.int64)}
        if has_cat:
            # (user, category) as one key; category code 0 (no category) is a group too, as
            # NULL is a partition of its own in SQL
            keys["user_cat"] = user * (len(categories) + 1) + cat
        del k
        for name, key in keys.items():
            imp, (clk,) = _past_sums(key, t, [clicked])
            cols[f"{name}_past_impressions"] = imp
            cols[f"{name}_past_clicks"] = clk.astype(np.float64)
        cols.update(_profile_counts(user, t, cat, clicked, categories))
        del keys, user, cat, clicked, t
        u_join = "LEFT JOIN users u ON u.user_id = e.user_id"
        for c in users:
            cols["user_" + c] = _fetch(con, f"u.{_qi(c)}", u_join, rank)
        a_join = "LEFT JOIN ads a ON a.ad_id = e.ad_id"
        for c in ads:
            cols["ad_" + c] = _fetch(con, f"a.{_qi(c)}", a_join, rank)
    # copy=False: no consolidation into 2-D blocks, which would copy every numeric column
    df = pd.DataFrame(cols, copy=False)
    if not has_cat:
        df["user_cat_past_impressions"] = 0
        df["user_cat_past_clicks"] = 0
    return df


def _history_keys(con: Any, has_cat: bool) -> pd.DataFrame:
    """Per event in the frame's order (``ts``, then ``event_id``): its row id ``r``, time ``t``
    (microseconds), click ``y`` and integer codes of user ``u``, ad ``a`` and ad category
    ``c`` (1 + its position among the sorted categories; 0 when it has none)."""
    cat_join = (
        "LEFT JOIN ads a0 ON a0.ad_id = e.ad_id "
        "LEFT JOIN (SELECT category, row_number() OVER (ORDER BY category) AS code FROM "
        "(SELECT DISTINCT category FROM ads WHERE category IS NOT NULL)) cc "
        "ON cc.category = a0.category"
    ) if has_cat else ""
    sql = f"""
        WITH uc AS (SELECT user_id, row_number() OVER () AS code
                    FROM (SELECT DISTINCT user_id FROM events)),
             ac AS (SELECT ad_id, row_number() OVER () AS code
                    FROM (SELECT DISTINCT ad_id FROM events))
        SELECT e.rowid AS r, epoch_us(e.ts) AS t, e.clicked AS y,
               coalesce(uc.code, 0) AS u, coalesce(ac.code, 0) AS a,
               {"coalesce(cc.code, 0)" if has_cat else "0"} AS c
        FROM events e
        LEFT JOIN uc ON uc.user_id = e.user_id
        LEFT JOIN ac ON ac.ad_id = e.ad_id
        {cat_join}
        ORDER BY e.ts, e.event_id
    """
    return con.execute(sql).df()


def _rank(order: np.ndarray) -> np.ndarray:
    """Position in the frame of each DuckDB row id (``order``: the row ids in frame order)."""
    rank = np.full(int(order.max()) + 1, -1, dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


def _fetch(con: Any, expr: str, join: str, rank: np.ndarray) -> Any:
    """The SQL expression ``expr`` of every event (alias ``e``, after ``join``), in frame order.

    One column per query, unordered: a sort of the wide rows costs far more memory than
    putting one column in order by its row ids; the values convert to pandas as they did in
    the one query that made every column before (same dtypes).  Text goes through Arrow:
    ``.df()`` makes a Python object per value first, at twice the time and memory; other types
    do not, and their ``.df()`` dtypes (nullable integers, booleans) differ from Arrow's.
    """
    rel = con.sql(f"SELECT e.rowid AS r, {expr} AS v FROM events e {join}")
    s = None
    if rel.types[1] == "VARCHAR":
        table = rel.to_arrow_table()
        # a text column without any value comes out of .df() as object, not str
        if table.column("v").null_count < table.num_rows:
            s = table.to_pandas()
        del table
    if s is None:
        s = rel.df()
    pos = rank[s["r"].to_numpy()]
    take = np.empty(len(pos), dtype=np.int64)
    take[pos] = np.arange(len(pos))
    v = s["v"]
    return (v.to_numpy() if isinstance(v.dtype, np.dtype) else v.array).take(take)


def _groups(key: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows (in time order) sorted by key, and per sorted row the sorted positions of the
    first row of its key and of the first row of its key at its time.

    Returns ``(order, first_key, first_tie)``.  Everything before ``first_tie`` within the key
    is strictly earlier in time: ties in ``ts`` do not see each other (the SQL frame ``RANGE
    BETWEEN UNBOUNDED PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING``).
    """
    # a stable sort keeps the time order within each key
    order = np.argsort(key, kind="stable")
    k, ts = key[order], t[order]
    new_key = np.empty(len(k), dtype=bool)
    new_key[:1] = True
    np.not_equal(k[1:], k[:-1], out=new_key[1:])
    new_tie = new_key.copy()
    new_tie[1:] |= ts[1:] != ts[:-1]
    del k, ts
    pos = np.arange(len(order))
    first_key = np.maximum.accumulate(np.where(new_key, pos, 0))
    first_tie = np.maximum.accumulate(np.where(new_tie, pos, 0))
    return order, first_key, first_tie


def _past_sum(groups: tuple[np.ndarray, np.ndarray, np.ndarray], sorted_values: np.ndarray,
              dtype: Any) -> np.ndarray:
    """Per row (time order), the sum of ``sorted_values`` (rows in ``groups``' key order) over
    the rows of its key strictly earlier in time."""
    order, first_key, first_tie = groups
    before = np.cumsum(sorted_values, dtype=dtype)
    before -= sorted_values  # the sum of the rows before each row
    out = np.empty(len(order), dtype=dtype)
    out[order] = before[first_tie] - before[first_key]
    return out


def _past_sums(key: np.ndarray, t: np.ndarray, values: list[np.ndarray]
               ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per row (time order): how many rows of its key are strictly earlier in time, and the
    sum of each of ``values`` over them."""
    groups = _groups(key, t)
    order, first_key, first_tie = groups
    count = np.empty(len(order), dtype=np.int64)
    count[order] = first_tie - first_key
    return count, [_past_sum(groups, v[order], np.int64) for v in values]


def _profile_counts(user: np.ndarray, t: np.ndarray, cat: np.ndarray, clicked: np.ndarray,
                    categories: list[str]) -> dict[str, np.ndarray]:
    """The user's strictly-past impressions and clicks with each category (INTEGER, as
    :func:`_profile_sums`: 2 x categories columns per event)."""
    groups = _groups(user, t)
    order = groups[0]
    cat_s, clicked_s = cat[order], clicked[order].astype(bool)
    out = {}
    for j, c in enumerate(categories):
        hit = cat_s == j + 1
        out[PROFILE_COUNTS[0] + c] = _past_sum(groups, hit, np.int32)
        hit &= clicked_s
        out[PROFILE_COUNTS[1] + c] = _past_sum(groups, hit, np.int32)
    return out


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
    for kind in PROFILE_COUNTS:
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
    imp = PROFILE_COUNTS[0]
    categories = sorted({c[len(imp):] for c in df.columns if c.startswith(imp)})
    if not categories:
        return None
    # columns first, then rows (a slice when they are consecutive): a view, not a copy
    part = df[["user_id", "ad_category", "clicked", *_attribute_columns(df, users)]].iloc[
        rows_as_slice(rows)]
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
    feats: dict[str, np.ndarray] = {}
    # in slices: the float count matrices of all rows at once would cost 200 bytes per event;
    # each slice's features go straight into the result columns (no concatenated copy)
    for start in range(0, max(len(df), 1), _PROFILE_SLICE):
        part = df.iloc[start:start + _PROFILE_SLICE]
        imp, clk = _profile_matrices(part, profile.categories_)
        cat = pd.Index(profile.categories_).get_indexer(
            part["ad_category"].astype("string").to_numpy(dtype=object, na_value=None))
        f = profile.transform(imp, clk, cat, _user_attributes(part, users))
        for c in f.columns:
            if c not in feats:
                feats[c] = np.empty(len(df), dtype=f[c].dtype)
            feats[c][start:start + len(part)] = f[c].to_numpy()
    out = df.copy(deep=False)
    for c, v in feats.items():
        out[c] = v
    return out


def feature_columns(df: pd.DataFrame) -> list[str]:
    """The model inputs among the columns of :func:`event_features` (ids, outcomes and raw
    profile counts out)."""
    skip = {"event_id", "ts", "user_id", "clicked", "converted"}
    return [c for c in df.columns if c not in skip and not c.startswith(PROFILE_COUNTS)]


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
