"""The behaviour pipeline on Spark (``--engine spark``): CTR with XGBoost on a Spark cluster.

LightGBM does not run on Spark 4 without Maven jars (SynapseML), so the Spark CTR model is
``xgboost.spark.SparkXGBClassifier`` (the ``xgboost-cpu`` package): reports say
``model_family: "xgboost"``; ``--model logreg`` fits Spark ML's ``LogisticRegression`` on the
same encoding made linear (:mod:`adwise.behavior._linear`; ``model_family: "spark-ml"``).
The columns are used as the embedded
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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from adwise._exceptions import InputError
from adwise.behavior._calibration import Calibrator
from adwise.behavior._encoding import detect_columns

# RARE_CODE, the code of rare and unseen values: above every frequent value's code, as the
# embedded encoder's last code is (trees split on order only), without a Spark job to count
# the codes
from adwise.behavior._xgb import MISSING_KEY, RARE_CODE, XGBoostCTR, code_table

__all__ = ["evaluate_files_spark", "predict_spark", "train_workspace_spark"]

MIN_COUNT = 5
TE_SMOOTHING = 20.0
TE_FOLDS = 5
SAMPLE_ROWS = 100_000  # rows collected to decide how each column is used
XGB_MAX_ROWS = 4_000_000  # most training rows XGBoost fits on (see negative_sample_rate)
CALIBRATION_ROWS = 500_000  # most validation predictions collected to fit the calibrator
XGB_PARAMS = dict(n_estimators=1000, learning_rate=0.1, grow_policy="lossguide", max_depth=0,
                  max_leaves=15, min_child_weight=5.0, reg_lambda=5.0, colsample_bytree=0.5,
                  tree_method="hist", early_stopping_rounds=30, eval_metric="logloss",
                  verbose=False)
# Spark ML's LogisticRegression: a little L2 (inputs are standardised inside the fit)
LR_PARAMS = dict(maxIter=200, regParam=1e-3, elasticNetParam=0.0, standardization=True,
                 tol=1e-7)
#: the learner family of each --model the Spark engine trains (reports say it)
FAMILIES = {"gbdt": "xgboost", "logreg": "spark-ml"}


def _label_counts(frame: Any, target: str, file: str) -> tuple[int, int]:
    """``(rows, positives)`` of the 0/1 ``target``; :class:`InputError` for anything else."""
    from pyspark.sql import functions as F

    if target not in frame.columns:
        raise InputError(f"{file}: no target column {target!r}; columns are: "
                         f"{', '.join(frame.columns[:30])}. Name the label with --target.")
    y = F.col(target).try_cast("double")
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
            prior: float, keep: Sequence[str] = ()) -> tuple[Any, Any, list[str], Any]:
    """Both frames with the model inputs (``label``, ``_val`` and the feature columns; the
    test frame also its columns ``keep``), and the persisted frame the statistics came from
    (to unpersist when done)."""
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    row_hash = F.xxhash64(*[F.col(c) for c in train.columns])
    train = train.withColumn("_fold", F.pmod(row_hash, F.lit(TE_FOLDS))) \
                 .withColumn("_val", F.pmod(F.xxhash64(row_hash, F.lit(1)), F.lit(10)) == 0)
    y = F.col(target).try_cast("double")
    # a missing value is a value of its own for the count and the click rate
    keys = {f"_k{i}": F.coalesce(F.col(c).cast("string"), F.lit(MISSING_KEY))
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
        frequent = stats.where((F.col("_n") >= MIN_COUNT) & (F.col(k) != MISSING_KEY)) \
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
    # try_cast: Spark's ANSI cast fails the job on a non-number; the model sees it as missing
    for c in numeric:
        train = train.withColumn(f"{c}__num", F.col(c).try_cast("double"))
        test = test.withColumn(f"{c}__num", F.col(c).try_cast("double"))
        feats.append(f"{c}__num")
    inputs = [y.alias("label"), *[F.col(f) for f in feats]]
    return (train.select(*inputs, F.col("_val")), test.select(*inputs, *keep), feats, base)


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
    model: str = "gbdt",
) -> dict[str, Any]:
    """Fit XGBoost (``model="gbdt"``) or a logistic regression (``"logreg"``) on Spark on
    ``train``, evaluate on ``test``: the keys of
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
        return _evaluate(spark, train, test, target, fmt, categorical, numeric, seed, model)


def _evaluate(spark: Any, train: str | Path, test: str | Path, target: str, fmt: str | None,
              categorical: Sequence[str] | None, numeric: Sequence[str] | None,
              seed: int, model: str) -> dict[str, Any]:
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
    fitted, prepare, calibrator, extra = _fit(spark, enc_tr, feats, n_train, pos, seed, model)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    scored = to_pandas(fitted.transform(prepare(enc_te)).select("label", _p_click()))
    p = calibrator.transform(scored["p"].to_numpy())
    pred_s = time.perf_counter() - t0
    base.unpersist()
    warnings = _unparsed_numbers(te, plan.numeric, str(test), len(scored))
    out = file_report(scored["label"].to_numpy().astype(int), p, n_train, fit_s, pred_s,
                      model, calibrator.chosen_, plan, warnings)
    return {**out, "engine": "spark", "model_family": FAMILIES[model],
            "spark_master": spark.sparkContext.master,
            "best_iteration": _best_iteration(fitted) if model == "gbdt" else None,
            # the embedded gbdt's key; XGBoost on Spark serves alone, with no logistic blend
            **({"blend": None, "neg_sample_rate": extra["neg_sample_rate"]}
               if model == "gbdt" else {})}


def _unparsed_numbers(frame: Any, numeric: list[str], source: str, n: int) -> list[str]:
    """As the embedded engine warns: a numeric (by training) column whose values here are not
    numbers, which the model sees as missing."""
    from pyspark.sql import functions as F

    text = [c for c in numeric if dict(frame.dtypes)[c] == "string"]
    if not text:
        return []
    bad = {c: F.col(c).isNotNull() & (F.trim(F.col(c)) != "")
           & F.col(c).try_cast("double").isNull() for c in text}
    row = frame.agg(*[F.sum(F.when(b, 1).otherwise(0)).alias(c) for c, b in bad.items()]).first()
    out = []
    for c, b in bad.items():
        if row[c]:
            shown = ", ".join(repr(r[0]) for r in frame.where(b).select(c).limit(3).collect())
            out.append(f"{source}: column '{c}' is numeric in the training file but "
                       f"{row[c]:,} of {n:,} value(s) here are not numbers (e.g. {shown}); "
                       "they are scored as missing. Fix the values or the column's type.")
    return out


def negative_sample_rate(n_train: int, positives: int) -> float:
    """The share of non-click training rows XGBoost on Spark fits on: 1 up to
    :data:`XGB_MAX_ROWS` training rows (nine tenths of ``n_train``), else the share that keeps
    about that many with every click (at least 1 %).

    Each worker holds its part of the training rows in memory several times over (Arrow
    batches, a float frame, the DMatrix): 16 M rows took the driver, the JVM and two workers
    to 9.7 GB.  Sampling the non-clicks and weighting them by the inverse rate is the usual
    remedy for click logs (He et al. 2014, "Practical lessons from predicting clicks on ads at
    Facebook", section 6), where the non-clicks are most rows and carry the least information
    each.

    Examples
    --------
    >>> negative_sample_rate(1_000_000, 20_000), round(negative_sample_rate(16_000_000, 320_000), 3)
    (1.0, 0.263)
    """
    fit_rows, fit_pos = 0.9 * n_train, 0.9 * positives
    if fit_rows <= XGB_MAX_ROWS or fit_rows <= fit_pos:
        return 1.0
    return float(max((XGB_MAX_ROWS - fit_pos) / (fit_rows - fit_pos), 0.01))


def _fit(spark: Any, enc_tr: Any, feats: list[str], n_train: int, pos: int, seed: int,
         model: str = "gbdt") -> tuple[Any, Callable[[Any], Any], Calibrator, dict[str, Any]]:
    """XGBoost (``model="gbdt"``; early stopping on the held-out tenth) or Spark ML's logistic
    regression (``"logreg"``; fitted on the other nine tenths) on the encoded training rows,
    and the calibrator fitted on the held-out tenth's predictions: ``(model, prepare,
    calibrator, linear)``, where ``prepare`` turns encoded rows into the model's ``features``
    and ``linear`` holds what :class:`~adwise.behavior._linear.LinearCTR` needs besides the
    coefficients (for XGBoost only ``neg_sample_rate``, see :func:`negative_sample_rate`)."""
    from pyspark import StorageLevel
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import functions as F

    from adwise.engine import to_pandas

    linear: dict[str, Any] = {}
    if model == "logreg":
        from adwise.behavior._linear import linear_inputs, linear_names

        cat = [f[:-len("__te")] for f in feats if f.endswith("__te")]
        num = [f[:-len("__num")] for f in feats if f.endswith("__num")]
        fit_rows = enc_tr.where(~F.col("_val"))
        row = fit_rows.agg(*[F.avg(F.when(~F.isnan(f"{c}__num"), F.col(f"{c}__num")))
                             for c in num]).first() if num else []
        means = {c: float(row[i] if row[i] is not None else 0.0) for i, c in enumerate(num)}
        names = linear_names(cat, num)
        asm = VectorAssembler(inputCols=names, outputCol="features")

        def prepare(frame: Any) -> Any:
            return asm.transform(linear_inputs(frame, cat, num, means))

        enc_tr = prepare(enc_tr).select("label", "features", "_val", *names) \
            .persist(StorageLevel.MEMORY_AND_DISK)
        train = enc_tr.where(~F.col("_val"))
        stats = train.agg(*[F.avg(n) for n in names],
                          *[F.stddev_pop(n) for n in names]).first()
        linear = {"means": means, "input_means": [float(v or 0.0) for v in stats[:len(names)]],
                  "input_stds": [float(v or 0.0) for v in stats[len(names):]]}
        from pyspark.ml.classification import LogisticRegression

        fitted = LogisticRegression(featuresCol="features", labelCol="label",
                                    **LR_PARAMS).fit(train)
    else:
        from xgboost.spark import SparkXGBClassifier

        # the feature columns as they are, not one assembled vector: XGBoost then reads them
        # through Arrow, where a vector column goes through the JVM row by row and ran out of
        # a 4 GB heap on 16 M training rows
        def prepare(frame: Any) -> Any:
            return frame

        enc_tr = enc_tr.select("label", "_val", *feats)
        rate = negative_sample_rate(n_train, pos)
        weights = {}
        if rate < 1.0:
            # every click and a seeded share of the other training rows, weighted back so the
            # loss is that of every row; the held-out tenth stays whole (early stopping and
            # calibration see the real click rate)
            whole = F.col("_val") | (F.col("label") > 0)
            enc_tr = enc_tr.where(whole | (F.rand(seed) < rate)) \
                .withColumn("_w", F.when(whole, 1.0).otherwise(1.0 / rate))
            weights = {"weight_col": "_w"}
        linear["neg_sample_rate"] = rate
        enc_tr = enc_tr.persist(StorageLevel.MEMORY_AND_DISK)
        clf = SparkXGBClassifier(features_col=list(feats), label_col="label",
                                 validation_indicator_col="_val",
                                 num_workers=max(1, spark.sparkContext.defaultParallelism),
                                 random_state=seed, **weights, **XGB_PARAMS)
        fitted = clf.fit(enc_tr)
    # the held-out tenth, sampled down to about CALIBRATION_ROWS
    val = enc_tr.where("_val").sample(fraction=min(1.0, 10 * CALIBRATION_ROWS / n_train),
                                      seed=seed)
    cal_rows = to_pandas(fitted.transform(val).select("label", _p_click()))
    calibrator = Calibrator("auto").fit(cal_rows["p"].to_numpy(), cal_rows["label"].to_numpy(),
                                        seed=seed)
    enc_tr.unpersist()
    return fitted, prepare, calibrator, linear


def _best_iteration(model: Any) -> int | None:
    booster = model.get_booster()
    best = getattr(booster, "best_iteration", None)
    return None if best is None else int(best)


# ====================================================================== workspace training
def _export(ws: Any, folder: Path, test_fraction: float, seed: int) -> tuple[Any, str]:
    """``events.parquet`` (with ``_test``, the split of
    :func:`~adwise._split.split_events`) and ``ads.parquet`` written from the workspace into
    ``folder`` for Spark to read; ``(cut, description)`` of the split."""
    import pandas as pd

    from adwise._split import split_events
    from adwise.behavior._model import check_binary_target

    with ws.connect(read_only=True) as con:
        keys = con.execute("SELECT rowid AS _row, ts, user_id, clicked FROM events").df()
        if len(keys) == 0:
            raise InputError("events: the workspace has no events; ingest some first.")
        y = check_binary_target(keys["clicked"], name="events: column 'clicked'")
        sp = split_events(keys["ts"], y, keys["user_id"], test_fraction, seed)
        flags = pd.DataFrame({"_row": keys["_row"].to_numpy(), "_test": False})
        flags.loc[sp.test, "_test"] = True
        con.register("adwise_split", flags)
        con.execute(f"COPY (SELECT e.*, s._test FROM events e JOIN adwise_split s "
                    f"ON e.rowid = s._row) TO '{folder / 'events.parquet'}' (FORMAT PARQUET)")
        con.unregister("adwise_split")
        con.execute(f"COPY ads TO '{folder / 'ads.parquet'}' (FORMAT PARQUET)")
    return sp.cut, sp.description


def train_workspace_spark(spark: Any, ws: Any, test_fraction: float = 0.2, seed: int = 0,
                          save: bool = True, model: str = "gbdt") -> Any:
    """``behavior train --engine spark``: the history features of the shared SQL
    specification (:func:`adwise.engine.history_sql`) on Spark, the embedded pipeline's split,
    XGBoost (``model="gbdt"``) or a logistic regression (``"logreg"``) on Spark, test metrics,
    and a registry artifact scored without Spark (:class:`~adwise.behavior._xgb.XGBoostCTR`,
    :class:`~adwise.behavior._linear.LinearCTR`).

    The model inputs are ``ad_id``, ``placement``, ``ad_category`` (categorical), ``hour``,
    ``weekday`` and the nine history features; no pCVR model is trained.  Returns a
    :class:`~adwise.behavior._pipeline.TrainResult` whose ``extra["test"]`` holds the test
    rows' model inputs and the Spark model's calibrated ``p_click``.
    """
    import tempfile

    from pyspark.sql import functions as F

    from adwise.behavior._pipeline import TrainResult, evaluate_predictions
    from adwise.engine import history_columns, read_frame, run_spark, to_pandas

    if not 0.0 < test_fraction < 0.9:
        raise InputError(f"--test-fraction must be in (0, 0.9); got {test_fraction}.")
    with tempfile.TemporaryDirectory(prefix="adwise-spark-") as tmp:
        cut, split = _export(ws, Path(tmp), test_fraction, seed)
        events = read_frame(spark, Path(tmp) / "events.parquet")
        ads = read_frame(spark, Path(tmp) / "ads.parquet")
        stats = events.agg(F.sum(F.when(~F.col("_test"), 1).otherwise(0)),
                           F.sum(F.when(~F.col("_test"), F.col("clicked")).otherwise(0)),
                           F.sum(F.when(F.col("_test"), 1).otherwise(0))).first()
        n_train, pos, n_test = int(stats[0] or 0), int(stats[1] or 0), int(stats[2] or 0)
        prior = pos / n_train
        feats_df = run_spark(spark, events, ads, prior) \
            .withColumn("hour", F.hour("ts")).withColumn("weekday", F.expr("weekday(ts)"))
        has_placement = "placement" in events.columns and \
            events.where(F.col("placement").isNotNull()).limit(1).count() > 0
        categorical = ["ad_id", *(["placement"] if has_placement else []), "ad_category"]
        numeric = ["hour", "weekday", *history_columns()]
        cols = categorical + numeric
        frame = feats_df.select("clicked", "_test", *cols)
        tr = frame.where(~F.col("_test")).drop("_test")
        # an id per test row: the rows' inputs are collected beside their predictions
        te = frame.where(F.col("_test")).drop("_test") \
            .withColumn("_id", F.monotonically_increasing_id()).persist()
        t0 = time.perf_counter()
        enc_tr, enc_te, feats, base = _encode(tr, te, "clicked", categorical, numeric, prior,
                                              keep=["_id"])
        fitted, prepare, calibrator, linear = _fit(spark, enc_tr, feats, n_train, pos, seed,
                                                   model)
        tables = {}
        for i, c in enumerate(categorical):
            k = f"_k{i}"
            counts = to_pandas(base.groupBy(k).agg(F.count(F.lit(1)).alias("n"),
                                                   F.sum("_y").alias("s"))
                               .withColumnRenamed(k, "key"))
            tables[c] = code_table(counts, MIN_COUNT)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        scored = to_pandas(fitted.transform(prepare(enc_te)).select("_id", "label",
                                                                    _p_click()))
        pred_s = time.perf_counter() - t0
        inputs = to_pandas(te.select("_id", *cols))
        base.unpersist()
        te.unpersist()
    scored = scored.merge(inputs, on="_id").sort_values("_id").reset_index(drop=True)
    if model == "logreg":
        from adwise.behavior._linear import LinearCTR

        ctr: XGBoostCTR | LinearCTR = LinearCTR(
            fitted.coefficients.toArray().tolist(), float(fitted.intercept), tables,
            categorical, numeric, linear["means"], linear["input_means"],
            linear["input_stds"], prior, TE_SMOOTHING, calibrator)
    else:
        ctr = XGBoostCTR(fitted.get_booster().save_raw(raw_format="json").decode(), tables,
                         categorical, numeric, prior, TE_SMOOTHING, _best_iteration(fitted),
                         calibrator)
    p = calibrator.transform(scored["p"].to_numpy())
    metrics = evaluate_predictions(scored["label"].to_numpy().astype(int), p)
    metrics.update(rows_train=n_train, rows_test=n_test, fit_seconds=fit_s,
                   predict_rows_per_second=n_test / pred_s if pred_s > 0 else None,
                   calibration=calibrator.chosen_, model=model, engine="spark",
                   model_family=FAMILIES[model], spark_master=spark.sparkContext.master,
                   best_iteration=getattr(ctr, "best_iteration", None))
    if model == "gbdt":
        metrics["blend"] = None  # the embedded gbdt's key; XGBoost on Spark serves alone
        metrics["neg_sample_rate"] = linear["neg_sample_rate"]
    wf_cut = None if cut is None else str(cut)
    version = _save(ws, ctr, metrics, cols, prior, wf_cut, split, seed) if save else None
    test = scored[cols].assign(p_click=p)
    return TrainResult(metrics, version, ctr, None, None, wf_cut, split,
                       extra={"test": test})


def _save(ws: Any, ctr: Any, metrics: dict[str, Any], cols: list[str], prior: float,
          cut: str | None, split: str, seed: int) -> str:
    """The registry artifact of :func:`train_workspace_spark`: the embedded model's
    ``features.json`` and metadata, the booster and its encoding instead of ``ctr.*``."""
    from adwise.behavior._pipeline import CAPABILITY

    def write(w: Any) -> None:
        ctr.write(w)
        w.write_json("features.json", {"columns": cols, "prior": prior, "profile": None})

    slim = {k: v for k, v in metrics.items() if k != "reliability"}
    mv = ws.registry.save(
        CAPABILITY, write,
        params={"model": ctr.model, "seed": seed, "engine": "spark",
                "model_family": ctr.model_family,
                **(LR_PARAMS if ctr.model == "logreg" else XGB_PARAMS)},
        metrics=slim,
        data_fingerprint=ws.fingerprint("events"),
        feature_schema={"columns": cols, "categorical": ctr.columns_.categorical,
                        "numeric": ctr.columns_.numeric},
        extra={
            "model_family": ctr.model_family,
            "engine": "spark",
            "split_ts": cut,
            "split": split,
            "reliability": metrics.get("reliability"),
            "feature_importance": ctr.feature_importance_,
            "calibration": ctr.calibrator_.to_dict() | {"params": None},
            "neg_sample_rate": None,
            "cvr_metrics": None,
            "has_cvr": False,
            "tuning": None,
        },
    )
    return mv.version


# ====================================================================== batch scoring
def predict_spark(spark: Any, ws: Any, data: str, out: str, raw_ids: bool = False,
                  version: str | None = None) -> dict[str, Any]:
    """``behavior predict --engine spark``: score the events at ``data`` (any path Spark
    reads) with a model trained on Spark and write Parquet to ``out``.

    Each event gets the history features of the shared SQL specification
    (:func:`adwise.engine.history_sql`) over the workspace's stored events strictly before its
    ``ts`` (events after the stored ones see all of them, as the embedded ``behavior predict``
    scores them); the scored events themselves have no known outcome and count for nothing.
    The model scores in Python on the workers (``mapInPandas``), with the code that scores it
    on one machine, so both engines give the same probabilities.

    Returns
    -------
    dict
        The keys of the embedded ``behavior predict --json``: ``version``, ``rows``,
        ``warnings``, ``stored_events`` (``None``: not counted; the history is taken strictly
        before each event anyway), ``predictions`` (the first 1,000 rows), ``truncated`` and
        ``out``; and ``engine``, ``model_family``.
    """
    import tempfile

    from pyspark.sql import functions as F

    from adwise.behavior._linear import LinearCTR
    from adwise.behavior._pipeline import CAPABILITY
    from adwise.engine import (
        history_columns,
        hmac_pseudonym,
        parse_timestamps_spark,
        quiet_pandas,
        read_frame,
        run_spark,
        to_pandas,
        write_parquet_atomic,
    )

    reg = ws.registry
    version = version or reg.current(CAPABILITY)
    if version is None:
        raise InputError("no behavior model in this workspace; train one with "
                         "`adwise behavior train --engine spark`.")
    reader = reg.load(CAPABILITY, version)
    ctr = XGBoostCTR.read(reader) or LinearCTR.read(reader)
    if ctr is None:
        family = reader.metadata.get("extra", {}).get("model_family") or "lightgbm"
        raise InputError(f"behavior {version} was trained on the embedded engine ({family}); "
                         "--engine spark scores models trained with --engine spark. Use "
                         "--engine embedded, or train with `adwise behavior train --engine "
                         "spark`.")
    spec = reader.read_json("features.json")
    cols, prior = list(spec["columns"]), float(spec["prior"])
    spark.conf.set("spark.sql.session.timeZone", "UTC")  # naive times are UTC, as DuckDB's
    frame = read_frame(spark, data)
    missing = [c for c in ("user_id", "ad_id") if c not in frame.columns]
    if missing:
        raise InputError(f"{data}: no column {missing[0]!r}; give the events to score with "
                         "user_id and ad_id (and ts, placement, ...).")
    if not frame.limit(1).count():
        raise InputError(f"{data}: the file has no rows.")
    ids = [c for c in ("event_id", "user_id", "ad_id") if c in frame.columns]
    # the forms ingest reads (ISO-8601, epoch seconds, compact digits); no ts: now, as embedded
    ts = parse_timestamps_spark(frame, "ts") if "ts" in frame.columns else F.localtimestamp()
    user = F.trim(F.col("user_id").cast("string"))
    if raw_ids and ws.pseudonymises:
        user = hmac_pseudonym(user, ws.hmac_key)
    # the model's inputs the events bring (placement); the others are computed below
    made = {"user_id", "ad_id", "ts", "hour", "weekday", "ad_category", *history_columns()}
    # _out_*: the ids as given (with --raw-ids, a pseudonym beside its raw id would help
    # whoever tries to guess the key)
    scored = frame.select(
        F.monotonically_increasing_id().alias("_row"),
        *[F.col(c).cast("string").alias(f"_out_{c}") for c in ids],
        user.alias("user_id"), F.col("ad_id").cast("string").alias("ad_id"), ts.alias("ts"),
        *[F.col(c) for c in cols if c in frame.columns and c not in made],
        F.lit(None).cast("tinyint").alias("clicked"))
    bad = scored.where(F.col("ts").isNull()).count()
    if bad:
        raise InputError(f"{data}: column 'ts' has values that are not timestamps "
                         f"({bad:,} row(s)).")
    with tempfile.TemporaryDirectory(prefix="adwise-spark-") as tmp:
        with ws.connect(read_only=True) as con:
            con.execute(f"COPY (SELECT ts, user_id, ad_id, clicked FROM events) TO "
                        f"'{Path(tmp) / 'events.parquet'}' (FORMAT PARQUET)")
            con.execute(f"COPY ads TO '{Path(tmp) / 'ads.parquet'}' (FORMAT PARQUET)")
        stored = read_frame(spark, Path(tmp) / "events.parquet") \
            .withColumn("ts", F.col("ts").cast("timestamp_ntz"))
        ads = read_frame(spark, Path(tmp) / "ads.parquet")
        both = stored.withColumn("_score", F.lit(False)).unionByName(
            scored.withColumn("_score", F.lit(True)), allowMissingColumns=True)
        feats = run_spark(spark, both, ads, prior).where(F.col("_score")) \
            .withColumn("hour", F.hour("ts")).withColumn("weekday", F.expr("weekday(ts)"))
        for c in cols:
            if c not in feats.columns:  # e.g. no placement: scored as missing, as embedded
                feats = feats.withColumn(c, F.lit(None).cast("string"))
        keep = ["_row", *[f"_out_{c}" for c in ids]]
        schema = ", ".join([f"`{c}` {'bigint' if c == '_row' else 'string'}" for c in keep]
                           + ["p_click double"])

        def score(batches: Any) -> Any:
            for pdf in batches:
                yield pdf[keep].assign(p_click=ctr.predict_ctr(pdf[cols]))

        with quiet_pandas():
            result = feats.select(*keep, *cols).mapInPandas(score, schema).orderBy("_row") \
                .select(*[F.col(f"_out_{c}").alias(c) for c in ids], "p_click")
        write_parquet_atomic(spark, result, out)
    written = spark.read.parquet(out)
    rows = written.count()
    head = to_pandas(written.limit(1000))
    return {"version": version, "rows": rows, "warnings": [], "stored_events": None,
            "predictions": head.to_dict(orient="records"), "truncated": rows > 1000,
            "out": out, "engine": "spark", "model_family": ctr.model_family}
