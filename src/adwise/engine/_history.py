"""The leak-free history features, specified once as SQL that DuckDB and Spark SQL both run.

For every event, over the events *strictly earlier in time* of the same key (events at the same
instant never see each other's outcome):

* ``<h>_past_impressions`` and ``<h>_past_clicks`` for ``h`` in ``user`` (same ``user_id``),
  ``ad`` (same ``ad_id``) and ``user_cat`` (same user and same ad category; an event whose ad
  has no category, or is missing from ``ads``, shares the key "no category" with the user's
  other such events, as SQL's ``PARTITION BY`` groups NULLs);
* ``<h>_ctr``, the smoothed click rate :math:`(c + a\\,\\pi) / (n + a)` with the prior
  :math:`\\pi` the training-period click rate and :math:`a` = ``PRIOR_WEIGHT``.

An impression counts once its outcome is known: rows with a NULL ``clicked`` (the events
``behavior predict --engine spark`` scores, placed after the stored ones) see the history but
are no part of it; training rows always have an outcome.

"Strictly earlier" is the window frame ``RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL 1
MICROSECOND PRECEDING`` over ``ts``: a ``ROWS ... 1 PRECEDING`` frame would leak between tied
rows in both engines, and DuckDB's ``EXCLUDE GROUP`` does not parse in Spark.  Only the subset
both dialects accept is used: a ``WINDOW`` clause, ``CAST(... AS BIGINT)``, ``coalesce`` and
float literals in exponent form (Spark reads ``0.1`` as a DECIMAL, ``1.0e-01`` as a DOUBLE).
These are the numbers of :func:`adwise.behavior._features.event_features` (computed there with
sorts and cumulative sums in NumPy for memory) and :func:`~adwise.behavior._features.add_smoothed`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["HISTORY_KEYS", "PRIOR_WEIGHT", "history_columns", "history_sql", "run_duckdb",
           "run_spark"]

PRIOR_WEIGHT = 20.0
#: history block -> the columns of its key (``ad_category`` is the event's ad's category)
HISTORY_KEYS = {"user": ("user_id",), "ad": ("ad_id",), "user_cat": ("user_id", "ad_category")}
_FRAME = "ORDER BY e.ts RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING"


def _num(x: float) -> str:
    """A DOUBLE literal in both dialects."""
    return format(float(x), ".17e")


def history_columns(smoothed: bool = True) -> list[str]:
    """Names of the columns :func:`history_sql` adds, in order."""
    out = []
    for h in HISTORY_KEYS:
        out += [f"{h}_past_impressions", f"{h}_past_clicks"] + ([f"{h}_ctr"] if smoothed else [])
    return out


def history_sql(prior: float | None = None, events: str = "events", ads: str | None = "ads",
                has_category: bool = True) -> str:
    """One query: every column of ``events``, the event's ``ad_category`` and the history
    features (:func:`history_columns`), in no particular row order.

    Parameters
    ----------
    prior : float, optional
        The smoothing prior (training-period click rate); without it no ``*_ctr`` columns.
    events, ads : str
        Table (or view) names.  ``events`` needs ``ts`` (a timestamp), ``user_id``, ``ad_id``
        and ``clicked`` (0/1); ``ads`` needs ``ad_id`` and ``category``.
    has_category : bool
        ``False`` when there is no ``ads`` table or it has no ``category``: the ``user_cat``
        counts are then 0, as in the embedded features.
    """
    if has_category and ads:
        base = (f"SELECT ev.*, a0.category AS ad_category FROM {events} ev "
                f"LEFT JOIN {ads} a0 ON a0.ad_id = ev.ad_id")
    else:
        base = f"SELECT ev.*, CAST(NULL AS STRING) AS ad_category FROM {events} ev"
    sel, windows = ["e.*"], []
    for h, key in HISTORY_KEYS.items():
        if h == "user_cat" and not (has_category and ads):
            imp = clk = "CAST(0 AS BIGINT)"
        else:
            imp = f"CAST(count(e.clicked) OVER w_{h} AS BIGINT)"
            clk = f"CAST(coalesce(sum(e.clicked) OVER w_{h}, 0) AS BIGINT)"
            part = ", ".join(f"e.{c}" for c in key)
            windows.append(f"w_{h} AS (PARTITION BY {part} {_FRAME})")
        sel += [f"{imp} AS {h}_past_impressions", f"{clk} AS {h}_past_clicks"]
        if prior is not None:
            sel.append(f"({clk} + {_num(PRIOR_WEIGHT * prior)}) / ({imp} + {_num(PRIOR_WEIGHT)})"
                       f" AS {h}_ctr")
    return (f"SELECT {', '.join(sel)} FROM ({base}) e"
            + (f" WINDOW {', '.join(windows)}" if windows else ""))


def run_duckdb(con: Any, prior: float | None = None, has_category: bool = True) -> Any:
    """:func:`history_sql` on a DuckDB connection with ``events`` and ``ads`` tables, as a
    pandas frame ordered by ``ts``, then ``event_id`` (when there is one)."""
    cols = {r[0] for r in con.execute("DESCRIBE events").fetchall()}
    order = "ts, event_id" if "event_id" in cols else "ts"
    return con.execute(f"SELECT * FROM ({history_sql(prior, has_category=has_category)}) "
                       f"ORDER BY {order}").df()


def run_spark(spark: Any, events: Any, ads: Any | None, prior: float | None = None) -> Any:
    """:func:`history_sql` on Spark DataFrames ``events`` and ``ads`` (``None``: no ads
    table); a Spark DataFrame (lazy, unordered)."""
    has_category = ads is not None and "category" in ads.columns
    events.createOrReplaceTempView("adwise_events")
    if ads is not None:
        ads.createOrReplaceTempView("adwise_ads")
    return spark.sql(history_sql(prior, "adwise_events", "adwise_ads" if ads is not None else None,
                                 has_category))
