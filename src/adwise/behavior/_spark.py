"""The behaviour pipeline on Spark (``--engine spark``): CTR with XGBoost on a Spark cluster.

LightGBM does not run on Spark 4 without Maven jars (SynapseML), so the Spark CTR model is
``xgboost.spark.SparkXGBClassifier`` (the ``xgboost-cpu`` package): reports say
``model_family: "xgboost"``.  The columns are used as the embedded
:class:`~adwise.behavior._model.CTRModel` uses them (:func:`detect_columns` on a sample
collected to the driver), and each categorical column is encoded in Spark SQL as
:mod:`~adwise.behavior._encoding` does it: a code by frequency (values seen fewer than
``MIN_COUNT`` times and unseen values share the last code), ``<c>__count`` =
:math:`\\log(1 + n_v)` and ``<c>__te``, the smoothed click rate of the value, out of fold for
the training rows.  One tenth of the training rows (by a hash of the row) is held out for early
stopping; their predictions, collected to the driver, fit the
:class:`~adwise.behavior._calibration.Calibrator`.  The test predictions are collected to the
driver (16 bytes a row) so that every metric is the one the embedded engine reports.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from adwise._exceptions import InputError
from adwise.behavior._calibration import Calibrator
from adwise.behavior._encoding import detect_columns

__all__ = ["evaluate_files_spark"]

MIN_COUNT = 5
TE_SMOOTHING = 20.0
TE_FOLDS = 5
# the code of rare and unseen values: above every frequent value's code, as the embedded
# encoder's last code is (trees split on order only), without a Spark job to count the codes
RARE_CODE = 2**31 - 1
SAMPLE_ROWS = 100_000  # rows collected to decide how each column is used
CALIBRATION_ROWS = 500_000  # most validation predictions collected to fit the calibrator
XGB_PARAMS = dict(n_estimators=1000, learning_rate=0.1, grow_policy="lossguide", max_depth=0,
                  max_leaves=15, min_child_weight=5.0, reg_lambda=5.0, colsample_bytree=0.5,
                  tree_method="hist", early_stopping_rounds=30, eval_metric="logloss",
                  verbose=False)


def _label_counts(frame: Any, target: str, file: str) -> tuple[int, int]:
    """``(rows, positives)`` of the 0/1 ``target``; :class:`InputError` for anything else."""
    from pyspark.sql import functions as F

    if target not in frame.columns:
        raise InputError(f"{file}: no target column {target!r}; columns are: "
                         f"{', '.join(frame.columns[:30])}. Name the label with --target.")
    y = F.col(target).cast("double")
    bad = F.col(target).isNull() | ~y.isin(0.0, 1.0)
    row = frame.agg(F.count(F.lit(1)).alias("n"), F.sum(F.when(y == 1.0, 1).otherwise(0)),
                    F.sum(F.when(bad, 1).otherwise(0))).first()
    n, pos, n_bad = int(row[0]), int(row[1] or 0), int(row[2] or 0)
    if n == 0:
        raise InputError(f"{file}: the file has no rows; give a file with labelled rows.")
    if n_bad:
        raise InputError(f"{file}: column {target!r}: {n_bad} row(s) are not 0 or 1. Fix: give "
                         "a 0/1 label (missing values are not allowed).")
    return n, pos


def _encode(train: Any, test: Any, target: str, categorical: list[str], numeric: list[str],
            prior: float) -> tuple[Any, Any, list[str], Any]:
    """Both frames with the model inputs (``label``, ``_val`` and the feature columns), and the
    persisted frame the statistics came from (to unpersist when done)."""
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    row_hash = F.xxhash64(*[F.col(c) for c in train.columns])
    train = train.withColumn("_fold", F.pmod(row_hash, F.lit(TE_FOLDS))) \
                 .withColumn("_val", F.pmod(F.xxhash64(row_hash, F.lit(1)), F.lit(10)) == 0)
    y = F.col(target).cast("double")
    # a missing value is a value of its own for the count and the click rate
    keys = {f"_k{i}": F.coalesce(F.col(c).cast("string"), F.lit("\x00nan"))
            for i, c in enumerate(categorical)}
    # the statistics of every column come from this frame, read once and kept: computed from
    # the growing chain of joins instead, each column would recompute all the joins before it
    base = train.select(*[v.alias(k) for k, v in keys.items()], "_fold", y.alias("_y")) \
        .persist(StorageLevel.MEMORY_AND_DISK)
    feats: list[str] = []
    m, mp = TE_SMOOTHING, TE_SMOOTHING * prior
    for i, c in enumerate(categorical):
        k = f"_k{i}"
        train, test = train.withColumn(k, keys[k]), test.withColumn(k, keys[k])
        stats = base.groupBy(k).agg(F.count(F.lit(1)).alias("_n"), F.sum("_y").alias("_s"))
        frequent = stats.where((F.col("_n") >= MIN_COUNT) & (F.col(k) != "\x00nan")) \
            .withColumn("_code", F.row_number().over(
                Window.orderBy(F.desc("_n"), F.asc(k))) - 1)
        lookup = stats.join(frequent.select(k, "_code"), k, "left")
        per_fold = base.groupBy(k, "_fold").agg(F.count(F.lit(1)).alias("_nf"),
                                                F.sum("_y").alias("_sf"))
        n, s = F.coalesce(F.col("_n"), F.lit(0)), F.coalesce(F.col("_s"), F.lit(0.0))
        code = F.when(F.col(c).isNull(), None).otherwise(
            F.coalesce(F.col("_code"), F.lit(RARE_CODE))).cast("double")
        count = F.log1p(n.cast("double"))
        nf, sf = F.coalesce(F.col("_nf"), F.lit(0)), F.coalesce(F.col("_sf"), F.lit(0.0))
        train = train.join(lookup, k, "left").join(per_fold, [k, "_fold"], "left") \
            .withColumn(f"{c}__code", code).withColumn(f"{c}__count", count) \
            .withColumn(f"{c}__te", (s - sf + mp) / (n - nf + m)) \
            .drop(k, "_n", "_s", "_code", "_nf", "_sf")
        test = test.join(lookup, k, "left") \
            .withColumn(f"{c}__code", code).withColumn(f"{c}__count", count) \
            .withColumn(f"{c}__te", (s + mp) / (n + m)) \
            .drop(k, "_n", "_s", "_code")
        feats += [f"{c}__code", f"{c}__count", f"{c}__te"]
    for c in numeric:
        train = train.withColumn(f"{c}__num", F.col(c).cast("double"))
        test = test.withColumn(f"{c}__num", F.col(c).cast("double"))
        feats.append(f"{c}__num")
    keep = [y.alias("label"), *[F.col(f) for f in feats]]
    return (train.select(*keep, F.col("_val")), test.select(*keep), feats, base)


def _p_click() -> Any:
    """The model's click probability (before calibration) as column ``p``."""
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    return vector_to_array(F.col("probability"))[1].alias("p")


def evaluate_files_spark(
    spark: Any,
    train: str | Path,
    test: str | Path,
    target: str,
    fmt: str | None = None,
    categorical: Sequence[str] | None = None,
    numeric: Sequence[str] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Fit XGBoost on Spark on ``train``, evaluate on ``test``: the keys of
    :func:`~adwise.behavior._pipeline.evaluate_files`, plus ``engine`` and ``model_family``.

    ``train`` and ``test`` are any path Spark reads (Parquet, CSV, TSV, JSON Lines).
    """
    from adwise.engine import quiet_pandas

    # xgboost.spark logs every fit and prediction at INFO on stderr unless told otherwise
    xgb_log = logging.getLogger("XGBoost-PySpark")
    if xgb_log.level == logging.NOTSET:
        xgb_log.setLevel(logging.WARNING)
    if fmt == "criteo":
        raise InputError("--format criteo is for the embedded engine; on Spark convert the "
                         "files to Parquet or CSV with a header first.")
    with quiet_pandas():
        return _evaluate(spark, train, test, target, fmt, categorical, numeric, seed)


def _evaluate(spark: Any, train: str | Path, test: str | Path, target: str, fmt: str | None,
              categorical: Sequence[str] | None, numeric: Sequence[str] | None,
              seed: int) -> dict[str, Any]:
    from pyspark import StorageLevel
    from pyspark.ml.feature import VectorAssembler
    from xgboost.spark import SparkXGBClassifier

    from adwise.behavior._pipeline import file_report
    from adwise.engine import read_frame, to_pandas

    tr, te = read_frame(spark, train, fmt), read_frame(spark, test, fmt)
    n_train, pos = _label_counts(tr, target, str(train))
    _label_counts(te, target, str(test))  # the test labels are checked the same way
    missing = [c for c in tr.columns if c not in te.columns]
    if missing:
        raise InputError(f"{test}: lacks column(s) of the training file: "
                         f"{', '.join(missing[:10])}. Give the test file the same columns as "
                         "the training file.")
    te = te.select(*tr.columns)
    plan = detect_columns(to_pandas(tr.drop(target).limit(SAMPLE_ROWS)), categorical, numeric)
    if not plan.categorical and not plan.numeric:
        raise InputError(f"{train}: no usable feature column besides {target!r} "
                         f"(dropped: {plan.dropped}).")
    prior = pos / n_train
    t0 = time.perf_counter()
    enc_tr, enc_te, feats, base = _encode(tr, te, target, plan.categorical, plan.numeric,
                                          prior)
    asm = VectorAssembler(inputCols=feats, outputCol="features", handleInvalid="keep")
    enc_tr = asm.transform(enc_tr).select("label", "features", "_val") \
        .persist(StorageLevel.MEMORY_AND_DISK)
    clf = SparkXGBClassifier(features_col="features", label_col="label",
                             validation_indicator_col="_val",
                             num_workers=max(1, spark.sparkContext.defaultParallelism),
                             random_state=seed, **XGB_PARAMS)
    model = clf.fit(enc_tr)
    # the held-out tenth, sampled down to about CALIBRATION_ROWS
    val = enc_tr.where("_val").sample(fraction=min(1.0, 10 * CALIBRATION_ROWS / n_train),
                                      seed=seed)
    cal_rows = to_pandas(model.transform(val).select("label", _p_click()))
    calibrator = Calibrator("auto").fit(cal_rows["p"].to_numpy(), cal_rows["label"].to_numpy(),
                                        seed=seed)
    fit_s = time.perf_counter() - t0
    enc_tr.unpersist()
    t0 = time.perf_counter()
    scored = to_pandas(model.transform(asm.transform(enc_te)).select("label", _p_click()))
    p = calibrator.transform(scored["p"].to_numpy())
    pred_s = time.perf_counter() - t0
    base.unpersist()
    out = file_report(scored["label"].to_numpy().astype(int), p, n_train, fit_s, pred_s,
                      "gbdt", calibrator.chosen_, plan)
    return {**out, "engine": "spark", "model_family": "xgboost",
            "spark_master": spark.sparkContext.master, "best_iteration": _best_iteration(model)}


def _best_iteration(model: Any) -> int | None:
    booster = model.get_booster()
    best = getattr(booster, "best_iteration", None)
    return None if best is None else int(best)
