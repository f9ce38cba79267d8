"""Placement on Spark (``placement train --engine spark``): the counts on Spark, the rest on the
driver.

Every number the placement model learns comes from counts: impressions, clicks and conversions
per group x placement x hour x weekday (:meth:`~adwise.placement._effects.PlacementEffects.
fit_counts`) and cost, impressions, clicks and conversions per placement x hour x day
(:meth:`~adwise.placement._allocation.DaypartAllocator.fit_daily`).  Spark computes those
tables with the embedded reader's rules (events without a slot skipped and counted, a missing
group value is ``unknown``, hour and weekday in UTC, conversions counted on clicked
impressions); the driver fits the shrunk rates, intervals and budget curves from them, as the
embedded engine does, and saves the same registry version.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from adwise._exceptions import InputError
from adwise.placement._allocation import DaypartAllocator
from adwise.placement._effects import PlacementEffects

__all__ = ["counts_spark", "train_spark"]

_CELL = ["placement", "hour", "weekday"]
_DAY_CELL = ["placement", "hour", "day"]


def _events(spark: Any, ws: Any, group_col: str | None, source: str | None,
            folder: Path) -> tuple[Any, str]:
    """The events (and their name for messages) as a Spark frame, from ``source`` or else the
    workspace's events (with ``group_col`` joined as :func:`load_events` joins it)."""
    from adwise.engine import read_frame
    from adwise.placement._pipeline import events_query

    if source is None:
        with ws.connect(read_only=True) as con:
            sql = events_query(ws, [group_col] if group_col else [])
            con.execute(f"COPY ({sql}) TO '{folder / 'events.parquet'}' (FORMAT PARQUET)")
        return read_frame(spark, folder / "events.parquet"), "events"
    frame = read_frame(spark, source)
    for col, what in (("placement", "the slot of every impression"), ("ts", "the time"),
                      ("clicked", "the 0/1 click flag"),
                      *([(group_col, "given as --group-col")] if group_col else [])):
        if col not in frame.columns:
            raise InputError(f"{source}: no column {col!r} ({what}); the file's columns are: "
                             f"{', '.join(frame.columns[:30])}." + (
                                 " Give --group-col none or a column of the file."
                                 if col == group_col else ""))
    return frame, str(source)


def counts_spark(frame: Any, group_col: str | None, name: str = "events"
                 ) -> tuple[Any, Any | None, dict[str, Any]]:
    """``(cell counts, daily sums or None, info)`` of the events ``frame`` on Spark, both
    collected to the driver as pandas frames (a few rows per cell).

    ``info`` holds ``rows`` (events with a slot), ``skipped_without_placement`` and
    ``has_conversions`` (the events carry conversions with at least one).  The daily sums are
    ``None`` when no cost was logged.
    """
    from pyspark.sql import functions as F

    from adwise.engine import to_pandas

    place = F.col("placement").cast("string")
    slotless = F.col("placement").isNull() | (F.trim(place) == "")
    has_conv, has_cost = "converted" in frame.columns, "cost" in frame.columns
    clicked = F.col("clicked").try_cast("double")
    conv = F.coalesce(F.col("converted").try_cast("double"), F.lit(0.0)) if has_conv \
        else F.lit(0.0)
    cost = F.col("cost").try_cast("double") if has_cost else F.lit(0.0)
    ts = F.col("ts").cast("timestamp")
    cols = [place.alias("placement"), F.hour(ts).alias("hour"), F.weekday(ts).alias("weekday"),
            F.date_format(ts, "yyyy-MM-dd").alias("day"), clicked.alias("_click"),
            conv.alias("_conv"), cost.alias("_cost")]
    if group_col:
        cols.append(F.coalesce(F.col(group_col).cast("string"), F.lit("unknown"))
                    .alias("_group"))
    bad = F.col("clicked").isNull() | ~clicked.isin(0.0, 1.0)
    row = frame.agg(F.count(F.lit(1)), F.sum(slotless.cast("int")),
                    F.sum(bad.cast("int"))).first()
    n, n_slotless = int(row[0]), int(row[1] or 0)
    if n == 0:
        raise InputError(f"{name}: there are no events; ingest some with `adwise ingest`.")
    if row[2]:
        raise InputError(f"{name}: column 'clicked': {row[2]} row(s) are not 0 or 1. Fix: give "
                         "a 0/1 click flag.")
    if n_slotless == n:
        from adwise.placement._pipeline import no_placement

        raise InputError(no_placement(n))
    d = frame.where(~slotless).select(*cols)
    keys = [*(["_group"] if group_col else []), *_CELL]
    cells = to_pandas(d.groupBy(*keys).agg(
        F.count(F.lit(1)).cast("double").alias("impressions"),
        F.sum("_click").alias("clicks"),
        # CVR is conversions per click: only clicked impressions' conversions count
        F.sum(F.when(F.col("_click") > 0, F.col("_conv")).otherwise(0.0)).alias("conversions"),
        F.sum(F.when(F.col("_cost").isNull() | (F.col("_cost") < 0), 1).otherwise(0))
        .alias("_bad_cost"), F.sum(F.coalesce("_cost", F.lit(0.0))).alias("_cost"),
        F.sum("_conv").alias("_all_conv")))
    cells = cells.astype({"hour": "int64", "weekday": "int64"})
    if group_col:
        cells = cells.rename(columns={"_group": group_col})
    info = {"rows": n - n_slotless, "skipped_without_placement": n_slotless,
            "has_conversions": has_conv}
    if not has_cost or float(cells["_cost"].sum()) <= 0:
        daily = None
    else:
        if int(cells["_bad_cost"].sum()):
            raise InputError("DaypartAllocator: column 'cost' must be a number >= 0 on every "
                             "row.")
        daily = to_pandas(d.groupBy(*_DAY_CELL).agg(
            F.sum("_cost").alias("cost"), F.count(F.lit(1)).cast("double").alias("impressions"),
            F.sum(F.coalesce("_click", F.lit(0.0))).alias("clicks"),
            F.sum("_conv").alias("conversions"))).astype({"hour": "int64"})
    info["any_conversion"] = bool(has_conv and float(cells["_all_conv"].sum()) > 0)
    cells = cells.drop(columns=["_bad_cost", "_cost", "_all_conv"])
    if not has_conv:
        cells = cells.drop(columns="conversions")
    return cells, daily, info


def train_spark(spark: Any, ws: Any, group_col: str | None = "campaign_id",
                events: str | None = None) -> tuple[Any, Any]:
    """``placement train --engine spark``: counts on Spark, the model fitted on the driver
    from them and saved as :func:`~adwise.placement._pipeline.train` saves it; returns
    ``(model, ModelVersion)``.

    ``events`` is a Parquet / CSV file or folder at any path Spark reads with ``ts``,
    ``placement``, ``clicked`` (optional ``converted``, ``cost``) and ``group_col``; without
    it the workspace's events are read.
    """
    import tempfile

    from adwise.engine import quiet_pandas
    from adwise.placement._pipeline import PlacementModel, save_model

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="adwise-spark-") as tmp, quiet_pandas():
        frame, name = _events(spark, ws, group_col, events, Path(tmp))
        cells, daily, info = counts_spark(frame, group_col, name)
    eff = PlacementEffects(group_col=group_col).fit_counts(cells, info["rows"])
    allocs = {}
    if daily is not None:
        allocs["clicks"] = DaypartAllocator(objective="clicks").fit_daily(daily)
        if info["any_conversion"]:
            allocs["conversions"] = DaypartAllocator(objective="conversions").fit_daily(daily)
    model = PlacementModel(eff, allocs, {})
    mv = save_model(ws, model, group_col, info["rows"], info["skipped_without_placement"], t0,
                    extra_metrics={"engine": "spark",
                                   "spark_master": spark.sparkContext.master},
                    extra_params={"engine": "spark"})
    return model, mv
