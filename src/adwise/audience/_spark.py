"""RFM segmentation on Spark (``audience segment --engine spark`` on a transactions file).

The RFM features are :func:`~adwise.audience._rfm.rfm_features` written in Spark SQL, rule for
rule (who is dropped, how returns count, the reference date), so that both engines give the
same table (a test holds them equal); the transform and standardisation are the
:class:`~adwise.audience._segment.Segmenter`'s (``log`` or ``none``), the clustering is Spark
ML ``KMeans`` (k-means||), k is chosen by :func:`~adwise.audience._segment.pick_k` on
silhouettes of a sample of ``SAMPLE_ROWS`` customers collected to the driver, and the
profiles come from per-segment statistics (:func:`~adwise.audience._segment.
describe_from_stats`).  No row is collected whole: only the sample and the statistics.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adwise._exceptions import ContractError, InputError
from adwise.audience._rfm import RETURNS_POLICIES
from adwise.audience._segment import describe_from_stats, pick_k

__all__ = ["FEATURES", "rfm_spark", "segment_transactions_spark"]

FEATURES = ["recency_days", "frequency", "monetary"]
SAMPLE_ROWS = 4000  # customers whose silhouette chooses k (the Segmenter's sample_size)
_DAY_US = 86_400_000_000


def _examples(frame: Any, bad: Any, col: str) -> str:
    """Up to five offending values of ``col``, for a message (Spark rows have no number)."""
    return ", ".join(repr(r[0]) for r in frame.where(bad).select(col).limit(5).collect())


def rfm_spark(frame: Any, customer_col: str, date_col: str, amount_col: str | None = None,
              quantity_col: str | None = None, price_col: str | None = None,
              invoice_col: str | None = None, returns: str = "net",
              source: str = "transactions") -> tuple[Any, dict[str, Any]]:
    """:func:`~adwise.audience._rfm.rfm_features` on a Spark frame: a Spark frame of
    ``customer``, ``recency_days``, ``frequency``, ``monetary`` and the same report."""
    from pyspark.sql import functions as F

    if returns not in RETURNS_POLICIES:
        raise InputError(
            f"--returns must be one of {', '.join(RETURNS_POLICIES)}; got {returns!r}.")
    for col, flag in ((customer_col, "--customer-col"), (date_col, "--date-col"),
                      (amount_col, "--amount-col"), (quantity_col, "--quantity-col"),
                      (price_col, "--price-col"), (invoice_col, "--invoice-col")):
        if col is not None and col not in frame.columns:
            raise ContractError(source, col, f"not in the file (given as {flag})",
                                f"use one of the file's columns: {', '.join(frame.columns[:20])}")
    if amount_col is None and (quantity_col is None or price_col is None):
        raise InputError("RFM needs the amount of each transaction: give --amount-col, or "
                         "--quantity-col and --price-col.")
    cust = F.col(customer_col).cast("string")
    no_id = F.col(customer_col).isNull() | (F.trim(cust) == "")
    raw_date = F.col(date_col)
    date = raw_date.cast("timestamp") if dict(frame.dtypes)[date_col] in (
        "timestamp", "timestamp_ntz", "date") else F.try_to_timestamp(raw_date.cast("string"))
    if amount_col is not None:
        amount, sign = F.col(amount_col).try_cast("double"), F.col(amount_col).try_cast("double")
        bad_price, sign_col = F.lit(False), amount_col
    else:
        qty, price = F.col(quantity_col).try_cast("double"), F.col(price_col).try_cast("double")
        amount, sign, bad_price, sign_col = qty * price, qty, price < 0, quantity_col
    d = frame.select(
        # 12346.0 (a float id column) is customer 12346, as the embedded reader has it
        F.regexp_replace(cust, r"\.0$", "").alias("c"), no_id.alias("_no_id"),
        raw_date.alias("_raw_date"), date.alias("t"), amount.alias("a"),
        F.coalesce(sign < 0, F.lit(False)).alias("_neg"),
        F.coalesce(bad_price, F.lit(False)).alias("_bad_price"),
        (F.coalesce(F.col(invoice_col).cast("string"), F.lit("nan")) if invoice_col
         else F.to_date(date)).alias("_inv"))
    row = d.agg(F.count(F.lit(1)), F.sum(F.col("_no_id").cast("int"))).first()
    report: dict[str, Any] = {"rows_read": int(row[0]), "rows_without_customer": int(row[1] or 0)}
    d = d.where(~F.col("_no_id"))
    n_dates, n_amounts = d.agg(F.sum(F.col("t").isNull().cast("int")),
                               F.sum(F.col("a").isNull().cast("int"))).first()
    if n_dates:
        shown = _examples(d, F.col("t").isNull(), "_raw_date")
        raise ContractError(source, date_col,
                            f"has {n_dates} value(s) that are not dates (e.g. {shown})",
                            "write dates as ISO-8601 (YYYY-MM-DD[ HH:MM:SS]) and drop empty ones",
                            n_bad=n_dates)
    if n_amounts:
        raise ContractError(source, amount_col or f"{quantity_col} x {price_col}",
                            f"has {n_amounts} non-numeric value(s)",
                            "give plain numbers (no currency signs) and drop empty ones",
                            n_bad=n_amounts)
    row = d.agg(F.sum(F.col("_bad_price").cast("int")), F.sum(F.col("_neg").cast("int")),
                F.max(F.unix_micros("t"))).first()
    report["rows_negative_price_dropped"] = int(row[0] or 0)
    report["return_rows"] = int(row[1] or 0)
    report["returns_policy"] = returns
    ref = row[2]
    if report["return_rows"] and returns == "error":
        raise ContractError(
            source, sign_col,
            f"has {report['return_rows']} negative value(s) (returns or cancellations) and "
            "--returns error was given",
            "use --returns net (subtract returns from monetary value, the default) or --returns "
            "drop (ignore them), or remove the rows", n_bad=report["return_rows"])
    keep = ~F.col("_bad_price")
    buy = keep & ~F.col("_neg") & (F.col("a") > 0)
    spent = F.sum(F.when(buy, F.col("a")).otherwise(0.0))
    if returns == "net":
        spent = spent + F.sum(F.when(keep & F.col("_neg"), F.col("a")).otherwise(0.0))
    last = F.max(F.when(buy, F.col("t")))
    out = d.groupBy("c").agg(
        last.alias("_last"), F.count_distinct(F.when(buy, F.col("_inv"))).alias("frequency"),
        F.greatest(spent, F.lit(0.0)).alias("monetary"))
    out = out.where(F.col("_last").isNotNull()).select(
        F.col("c").alias("customer"),
        ((F.lit(ref) - F.unix_micros("_last")) / F.lit(_DAY_US)).alias("recency_days"),
        F.col("frequency").cast("double").alias("frequency"), "monetary")
    n = out.count()
    if n == 0:
        raise InputError(f"{source}: no purchase rows (positive amount with a customer id) left.")
    report["customers"] = n
    report["reference_date"] = str(pd.Timestamp(ref, unit="us"))
    return out, report


def _prepare(rfm: Any, transform: str) -> tuple[Any, list[str]]:
    """``rfm`` with ``_z``, the features as the Segmenter transforms and standardises them."""
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import functions as F

    stats = rfm.agg(*[F.min(c).alias(f"min_{c}") for c in FEATURES]).first()
    cols = {c: (F.log1p(F.greatest(F.col(c), F.lit(0.0)))
                if transform == "log" and stats[f"min_{c}"] >= 0 else F.col(c))
            for c in FEATURES}
    v = rfm.select("customer", *FEATURES, *[e.alias(f"_v{i}") for i, e in
                                            enumerate(cols.values())])
    vs = [f"_v{i}" for i in range(len(FEATURES))]
    mom = v.agg(*[F.avg(c).alias(f"m{c}") for c in vs],
                *[F.stddev_pop(c).alias(f"s{c}") for c in vs]).first()
    z = v.select("customer", *FEATURES, *[
        ((F.col(c) - F.lit(mom[f"m{c}"])) / F.lit(mom[f"s{c}"] if mom[f"s{c}"] else 1.0))
        .alias(f"_z{i}") for i, c in enumerate(vs)])
    zs = [f"_z{i}" for i in range(len(FEATURES))]
    return VectorAssembler(inputCols=zs, outputCol="_z").transform(z), zs


def segment_transactions_spark(
    spark: Any,
    path: str | Path,
    customer_col: str,
    date_col: str,
    amount_col: str | None = None,
    quantity_col: str | None = None,
    price_col: str | None = None,
    invoice_col: str | None = None,
    returns: str = "net",
    k: str | int = "auto",
    transform: str = "log",
    random_state: int = 0,
    k_range: tuple[int, int] = (2, 10),
    fmt: str | None = None,
) -> dict[str, Any]:
    """:func:`~adwise.audience._pipeline.segment_transactions` on Spark: the same keys, plus
    ``engine`` and ``spark_master``."""
    from pyspark import StorageLevel
    from pyspark.ml.clustering import KMeans
    from pyspark.sql import functions as F
    from sklearn.metrics import silhouette_score

    from adwise.engine import quiet_pandas, read_frame, to_pandas

    if transform not in ("log", "none"):
        raise InputError(f"--engine spark transforms the features with log or none; got "
                         f"--transform {transform!r}. Use --engine embedded for rank.")
    t0 = time.perf_counter()
    with quiet_pandas():
        rfm, report = rfm_spark(read_frame(spark, path, fmt), customer_col, date_col,
                                amount_col, quantity_col, price_col, invoice_col, returns,
                                source=str(path))
        rfm = rfm.persist(StorageLevel.MEMORY_AND_DISK)
        t1 = time.perf_counter()
        n = report["customers"]
        ks = [int(k)] if k != "auto" else list(range(k_range[0], min(k_range[1], n - 1) + 1))
        if not ks or ks[0] >= n:
            raise InputError(f"Segmenter: {n} rows are too few for k={ks[0] if ks else 2}.")
        z, zs = _prepare(rfm, transform)
        z = z.persist(StorageLevel.MEMORY_AND_DISK)
        sample = z.orderBy(F.xxhash64("customer", F.lit(random_state))).limit(SAMPLE_ROWS) \
            .select("customer", "_z", *zs).persist()
        zs_local = to_pandas(sample.select("customer", *zs)).set_index("customer")
        scores, models = {}, {}
        for kk in ks:
            model = KMeans(k=kk, seed=random_state, featuresCol="_z",
                           predictionCol="_segment").fit(z)
            lab = to_pandas(model.transform(sample).select("customer", "_segment")) \
                .set_index("customer")["_segment"].reindex(zs_local.index).to_numpy()
            scores[kk] = (float(silhouette_score(zs_local.to_numpy(), lab,
                                                 random_state=random_state))
                          if len(np.unique(lab)) > 1 else float("nan"))
            models[kk] = model
        best, rule = pick_k(scores, "silhouette", k == "auto")
        seg = models[best].transform(z).select("_segment", *FEATURES)
        per = to_pandas(seg.groupBy("_segment").agg(
            F.count(F.lit(1)).alias("_size"), *[F.avg(c).alias(c) for c in FEATURES],
            F.sum("monetary").alias("_value")).orderBy("_segment")).set_index("_segment")
        overall = rfm.agg(*[F.avg(c).alias(f"m_{c}") for c in FEATURES],
                          *[F.stddev_pop(c).alias(f"s_{c}") for c in FEATURES]).first()
        for frame in (sample, z, rfm):
            frame.unpersist()
    per.index = per.index.astype(int)
    profiles = describe_from_stats(
        pd.Series({c: overall[f"m_{c}"] for c in FEATURES}),
        pd.Series({c: overall[f"s_{c}"] for c in FEATURES}),
        per[FEATURES], per["_size"], pd.DataFrame({"value": per["_value"]}))
    return {
        "k": int(best),
        "silhouette": scores[best],
        "sizes": {str(p["segment"]): p["size"] for p in profiles},
        "profiles": profiles,
        "k_scores": {str(kk): v for kk, v in scores.items()},
        "k_rule": rule,
        "rows": n,
        "features": list(FEATURES),
        "rfm": report,
        "rfm_seconds": round(t1 - t0, 3),
        "fit_seconds": round(time.perf_counter() - t1, 3),
        "engine": "spark",
        "spark_master": spark.sparkContext.master,
    }
