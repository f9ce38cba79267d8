"""The delivery recommender on Spark (``delivery train --engine spark``): implicit ALS.

The clicks are aggregated per user x ad on Spark (weight 1 + 4 x converted, as
:func:`~adwise.delivery._pipeline.interactions_from_events` weighs them) and factorised with
Spark ML's ``ALS(implicitPrefs=True)``, whose ``rank``, ``regParam``, ``alpha`` and ``maxIter``
are the embedded :class:`~adwise.delivery._implicit.ImplicitALSRecommender`'s ``factors``,
``regularization``, ``alpha`` and ``iterations``.  The factors and id maps are collected to the
driver into an :class:`ImplicitALSRecommender` (:meth:`~ImplicitALSRecommender.with_factors`),
so the registry version is the embedded one and ``delivery recommend`` / ``adwise serve`` use
it without Spark.  Two differences remain: Spark scales ``regParam`` by each user's and item's
number of clicks (ALS-WR) where ``implicit`` does not, and the click model
(:class:`~adwise.delivery._rank.ClickModel`) is fitted on the driver on the events of a sample
of users (at most :data:`CLICK_MODEL_ROWS` rows).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adwise._exceptions import InputError
from adwise.delivery._implicit import ImplicitALSRecommender
from adwise.delivery._rank import ClickModel
from adwise.metrics import ranking_report, roc_auc

__all__ = ["CLICK_MODEL_ROWS", "train_workspace_spark"]

CLICK_MODEL_ROWS = 2_000_000  # most event rows collected to fit the click model on the driver
TEST_SHARE = 0.2  # the latest share of time evaluated on, as the embedded pipeline does
K = 10
_REQUIRED = ("ts", "user_id", "ad_id", "clicked")


def _events(spark: Any, ws: Any, source: str | None, fmt: str | None, folder: Path) -> Any:
    """The events as a Spark frame of ``user_id``, ``ad_id`` (stored ids, strings), ``ts``,
    ``clicked``, ``converted`` (0/1 doubles) and ``placement`` when there is one.

    From ``source`` (a file or folder in the data contract, any path Spark reads; its raw user
    ids are pseudonymised with the workspace's key, as ingest does) or else from the
    workspace's events, written to ``folder`` as Parquet for Spark to read.
    """
    from pyspark.sql import functions as F

    from adwise.engine import read_frame

    if source is None:
        with ws.connect(read_only=True) as con:
            con.execute(f"COPY events TO '{folder / 'events.parquet'}' (FORMAT PARQUET)")
        frame, name = read_frame(spark, folder / "events.parquet"), "events"
    else:
        frame, name = read_frame(spark, source, fmt), str(source)
        missing = [c for c in _REQUIRED if c not in frame.columns]
        if missing:
            raise InputError(f"{name}: no column {missing[0]!r}; the file's columns are: "
                             f"{', '.join(frame.columns[:30])}. Events need "
                             f"{', '.join(_REQUIRED)} (rename with a Spark job or ingest).")
        if ws.pseudonymises:
            frame = frame.withColumn("user_id", _pseudonymise(ws.hmac_key)(F.col("user_id")))
    flag = {c: F.col(c).try_cast("double") for c in ("clicked", "converted")
            if c in frame.columns}
    bad = F.col("clicked").isNull() | ~flag["clicked"].isin(0.0, 1.0)
    row = frame.agg(F.count(F.lit(1)), F.sum(F.when(bad, 1).otherwise(0))).first()
    if not row[0]:
        raise InputError(f"{name}: there are no events; ingest some first.")
    if row[1]:
        raise InputError(f"{name}: column 'clicked': {row[1]} row(s) are not 0 or 1. Fix: give "
                         "a 0/1 click flag.")
    cols = [F.col("user_id").cast("string").alias("user_id"),
            F.col("ad_id").cast("string").alias("ad_id"),
            F.col("ts").cast("timestamp").alias("ts"), flag["clicked"].alias("clicked"),
            F.coalesce(flag.get("converted", F.lit(0.0)), F.lit(0.0)).alias("converted")]
    if "placement" in frame.columns:
        cols.append(F.col("placement").cast("string").alias("placement"))
    return frame.select(*cols)


def _pseudonymise(key: bytes) -> Any:
    """A pandas UDF applying the workspace's pseudonym (the one ingest stores) to raw ids."""
    from pyspark.sql.functions import pandas_udf

    from adwise.data._privacy import pseudonymise_series

    @pandas_udf("string")
    def pseudonym(ids: pd.Series) -> pd.Series:
        return pseudonymise_series(ids, key)

    return pseudonym


def _split(events: Any) -> tuple[Any, Any, str]:
    """Past and future of ``events`` at the time quantile the embedded pipeline cuts at, or,
    when the timestamps are too coarse for that, about a fifth of the users (by a hash)."""
    from pyspark.sql import functions as F

    secs = F.unix_micros("ts")
    cut = events.select(secs.alias("t")).approxQuantile("t", [1 - TEST_SHARE], 0.0)[0]
    test = secs >= F.lit(int(cut))
    row = events.agg(F.sum(F.when(test, 1).otherwise(0)), F.count(F.lit(1)),
                     F.sum(F.when(test, F.col("clicked")).otherwise(0.0)),
                     F.sum(F.when(~test, F.col("clicked")).otherwise(0.0))).first()
    n_test, n, clicks_test, clicks_train = int(row[0] or 0), int(row[1]), row[2], row[3]
    if 0.5 * TEST_SHARE * n <= n_test < n and clicks_test and clicks_train:
        when = pd.Timestamp(int(cut), unit="us")
        return events.where(~test), events.where(test), f"by time (test from {when})"
    held = F.pmod(F.xxhash64("user_id"), F.lit(5)) == 0
    return (events.where(~held), events.where(held),
            f"random by user (a fifth of users by hash; the latest {TEST_SHARE:.0%} of time "
            f"holds {n_test:,} of {n:,} rows or no clicks)")


def _fit_als(spark: Any, events: Any, params: dict[str, Any], seed: int) -> ImplicitALSRecommender:
    """Spark ML implicit ALS on the clicks of ``events``, as a fitted embedded recommender."""
    from pyspark import StorageLevel
    from pyspark.ml.feature import StringIndexer
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import functions as F

    from adwise.engine import to_pandas

    pairs = events.where(F.col("clicked") > 0).groupBy("user_id", "ad_id") \
        .agg(F.sum(1.0 + 4.0 * F.col("converted")).alias("weight"))
    indexer = StringIndexer(inputCols=["user_id", "ad_id"], outputCols=["_u", "_i"],
                            stringOrderType="alphabetAsc").fit(pairs)
    user_ids, item_ids = (np.asarray(labels, dtype=object) for labels in indexer.labelsArray)
    rows = indexer.transform(pairs).select(F.col("_u").cast("int").alias("_u"),
                                           F.col("_i").cast("int").alias("_i"), "weight") \
        .persist(StorageLevel.MEMORY_AND_DISK)
    als = ALS(rank=params["factors"], regParam=params["regularization"], alpha=params["alpha"],
              maxIter=params["iterations"], implicitPrefs=True, seed=seed, userCol="_u",
              itemCol="_i", ratingCol="weight", coldStartStrategy="drop")
    model = als.fit(rows)
    local = to_pandas(rows)
    rows.unpersist()

    def factors(frame: Any, n: int) -> np.ndarray:
        f = to_pandas(frame)
        out = np.zeros((n, params["factors"]), dtype=np.float32)
        out[f["id"].to_numpy()] = np.stack(f["features"].to_numpy())
        return out

    uf, itf = factors(model.userFactors, len(user_ids)), factors(model.itemFactors, len(item_ids))
    return ImplicitALSRecommender(**params).with_factors(
        user_ids[local["_u"].to_numpy()], item_ids[local["_i"].to_numpy()],
        local["weight"].to_numpy(), user_ids, uf, item_ids, itf)


def _user_sample(events: Any, n: int, seed: int) -> pd.DataFrame:
    """All the events of a sample of users (every user when ``n`` is at most
    :data:`CLICK_MODEL_ROWS`), collected to the driver."""
    from pyspark.sql import functions as F

    from adwise.engine import to_pandas

    if n > CLICK_MODEL_ROWS:
        share = CLICK_MODEL_ROWS / n
        events = events.where(F.pmod(F.xxhash64("user_id", F.lit(seed)), F.lit(1_000_000))
                              < F.lit(int(share * 1_000_000)))
    return to_pandas(events)


def _evaluate(spark: Any, train: Any, test: Any, params: dict[str, Any], seed: int,
              side: tuple[Any, ...]) -> dict[str, Any]:
    """The embedded pipeline's test metrics: ranking @10 of ALS fitted on ``train`` for the
    users who click in ``test``, and the click model's AUC on (a user sample of) ``test``."""
    from pyspark.sql import functions as F

    from adwise.engine import to_pandas

    out: dict[str, Any] = {}
    rel = to_pandas(test.where(F.col("clicked") > 0).groupBy("user_id")
                    .agg(F.collect_list("ad_id").alias("ads")))
    counts = train.agg(F.count(F.lit(1)), F.sum("clicked")).first()
    if counts[1] and len(rel):
        rec = _fit_als(spark, train, params, seed)
        top = rec.recommend(rel["user_id"].to_numpy(dtype=object), k=K, exclude_seen=True)
        out.update(ranking_report([np.asarray(r, dtype=object).astype(str) for r in top],
                                  [list(a) for a in rel["ads"]], n_items=len(rec.items_), k=K))
        n_test = test.count()
        te = _user_sample(test, n_test, seed)
        if te["clicked"].nunique() == 2:
            _, cats, texts, attrs = side
            cm = ClickModel().fit(_user_sample(train, int(counts[0]), seed), cats, texts, attrs)
            out["click_auc"] = roc_auc(te["clicked"].to_numpy(), cm.predict_ctr(te))
    return out


def train_workspace_spark(spark: Any, ws: Any, events: str | None = None,
                          fmt: str | None = None, seed: int = 0,
                          evaluate: bool = True) -> dict[str, Any]:
    """``delivery train --engine spark``: implicit ALS on Spark, saved as the embedded
    ``als`` model is, so that ``delivery recommend`` and ``adwise serve`` use it without Spark.

    Parameters
    ----------
    spark : SparkSession
    ws : Workspace
        Where the model is saved; its ads and users tables feed the click model, and its
        events are the input unless ``events`` is given.
    events : str, optional
        Events in the data contract (``ts``, ``user_id``, ``ad_id``, ``clicked``; optional
        ``converted``, ``placement``) at any path Spark reads, Parquet or CSV.
    fmt : str, optional
        The format of ``events`` when its name does not say.
    seed : int
        Seed of ALS and of the samples.
    evaluate : bool
        Evaluate on the latest 20 % of time first, as the embedded pipeline does.

    Returns
    -------
    dict
        ``version``, ``metrics``, ``n_users``, ``n_items`` (the embedded keys).
    """
    import tempfile

    from pyspark import StorageLevel

    from adwise.delivery._pipeline import _params, save_delivery, side_tables
    from adwise.engine import quiet_pandas, to_pandas

    params = ImplicitALSRecommender().get_params()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="adwise-spark-") as tmp, quiet_pandas():
        # read (and pseudonymised) once: the split, both fits and the samples reuse it
        frame = _events(spark, ws, events, fmt, Path(tmp)).persist(StorageLevel.MEMORY_AND_DISK)
        ad_ids = to_pandas(frame.select("ad_id").distinct())["ad_id"]
        side = side_tables(ws, ad_ids)
        metrics: dict[str, Any] = {}
        if evaluate:
            train, test, metrics["split"] = _split(frame)
            metrics.update(_evaluate(spark, train, test, params, seed, side))
        n_clicks = frame.where("clicked > 0").count()
        if n_clicks == 0:
            raise InputError("the events have no clicks, so there is nothing to learn "
                             "preferences from; ingest events with clicked = 1 rows.")
        rec = _fit_als(spark, frame, params, seed)
        ads, cats, texts, attrs = side
        cm = ClickModel().fit(_user_sample(frame, frame.count(), seed), cats, texts, attrs)
        frame.unpersist()
    metrics["click_coef"] = dict(cm.coef_)
    metrics.update(engine="spark", spark_master=spark.sparkContext.master,
                   fit_seconds=time.perf_counter() - t0)
    version = save_delivery(ws, rec, cm, ads, metrics,
                            {"model": "als", "engine": "spark", **_params(rec)}, [])
    return {"version": version, "metrics": metrics, "n_users": len(rec.users_),
            "n_items": len(rec.items_)}
