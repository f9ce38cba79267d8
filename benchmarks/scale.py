"""Scale: feature building and CTR training on the embedded engine and on Spark.

One synthetic world (``adwise synth``), one time split (the latest 20 % of events to test), two
engines, each in its own process so that peak memory is the engine's own:

* ``--engine embedded``: ingest into a workspace, the history features with the embedded NumPy
  code (``event_features``), then LightGBM (``evaluate_files``) on the model columns below, and
  the full ``behavior train`` pipeline (which adds the category-profile features) for reference;
* ``--engine spark``: the history features with the SQL specification on Spark (``run_spark``),
  checked against the same SQL on DuckDB, then XGBoost on Spark (``evaluate_files_spark``) on the
  same model columns.

Peak memory: this process's peak RSS, plus the JVM's (``VmHWM``) for Spark, after each step.

    python benchmarks/scale.py --users 24000 --engine embedded   # ~1 M events
    python benchmarks/scale.py --users 24000 --engine spark --master 'local[2]'
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from adwise.engine import history_columns

# the model inputs both engines train on (history features, time, slot, ad, category)
MODEL_COLUMNS = ["ad_id", "placement", "hour", "weekday", "ad_category", *history_columns(),
                 "clicked"]


def _rss_gb(pid: int | None = None) -> float:
    if pid is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1e6
    return float("nan")


def _world(folder: Path, users: int, seed: int) -> Path:
    from adwise.data import write_world

    world = folder / f"world-{users}-{seed}"
    if not (world / "events.parquet").exists():
        write_world(world, n_users=users, n_ads=max(60, users // 80), days=14, seed=seed)
    return world


def _cut(world: Path) -> pd.Timestamp:
    ts = pd.to_datetime(pd.read_parquet(world / "events.parquet", columns=["ts"])["ts"])
    return ts.quantile(0.8)


def embedded(world: Path, work: Path, threads: int) -> dict:
    from adwise.behavior._features import add_smoothed, event_features
    from adwise.behavior._pipeline import evaluate_files, train_workspace
    from adwise.data import Workspace

    out: dict = {"engine": "embedded"}
    t0 = time.perf_counter()
    ws = Workspace.init(work / "ws")
    for t in ("users", "ads", "events"):
        ws.ingest(world / f"{t}.parquet", t)
    out["ingest_seconds"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    df = event_features(ws, threads=threads)
    cut = _cut(world)
    train = pd.to_datetime(df["ts"]) < cut
    df = add_smoothed(df, float(df.loc[train, "clicked"].mean()))
    out["features_seconds"] = time.perf_counter() - t0
    out["events"] = len(df)
    out["features_peak_gb"] = _rss_gb()
    df[MODEL_COLUMNS][train.to_numpy()].to_parquet(work / "train.parquet")
    df[MODEL_COLUMNS][~train.to_numpy()].to_parquet(work / "test.parquet")
    del df
    res = evaluate_files(work / "train.parquet", work / "test.parquet", "clicked",
                         n_jobs=threads)
    out.update(auc=res["auc"], logloss=res["logloss"], fit_seconds=res["fit_seconds"],
               train_peak_gb=_rss_gb())
    full = train_workspace(ws, n_jobs=threads, save=False, conversion=False)
    out["auc_full_pipeline"] = full.metrics["auc"]
    return out


def spark(world: Path, work: Path, master: str, memory: str) -> dict:
    import duckdb

    from adwise.behavior._spark import evaluate_files_spark
    from adwise.engine import read_frame, run_duckdb, run_spark, spark_session, to_pandas

    out: dict = {"engine": "spark", "master": master}
    conf = {"spark.driver.memory": memory, "spark.sql.shuffle.partitions": "8",
            "spark.ui.enabled": "false"}
    cut = _cut(world)
    with spark_session(master, conf) as s:
        jvm = int(s.sparkContext._jvm.ProcessHandle.current().pid())
        t0 = time.perf_counter()
        events = read_frame(s, world / "events.parquet")
        train_rate = events.where(events.ts < cut).agg({"clicked": "avg"}).first()[0]
        feats = run_spark(s, events, read_frame(s, world / "ads.parquet"), float(train_rate))
        feats = feats.selectExpr("*", "hour(ts) AS hour",
                                 "(dayofweek(ts) + 5) % 7 AS weekday")  # Monday = 0
        feats.write.mode("overwrite").parquet(str(work / "features"))
        out["features_seconds"] = time.perf_counter() - t0
        out["features_peak_gb"] = _rss_gb() + _rss_gb(jvm)
        f = read_frame(s, work / "features")
        out["events"] = f.count()
        f.where(f.ts < cut).select(*MODEL_COLUMNS).write.mode("overwrite").parquet(
            str(work / "train"))
        f.where(f.ts >= cut).select(*MODEL_COLUMNS).write.mode("overwrite").parquet(
            str(work / "test"))
        # the same specification on DuckDB: equal to floating tolerance?
        con = duckdb.connect()
        con.execute(f"CREATE VIEW events AS SELECT * FROM '{world / 'events.parquet'}'")
        con.execute(f"CREATE VIEW ads AS SELECT * FROM '{world / 'ads.parquet'}'")
        want = run_duckdb(con, float(train_rate)).set_index("event_id").sort_index()
        got = to_pandas(f.select("event_id", *history_columns())).set_index("event_id") \
            .sort_index()
        cols = history_columns()
        out["features_max_abs_diff"] = float(np.max(np.abs(
            got[cols].to_numpy(float) - want.loc[got.index, cols].to_numpy(float))))
        del want, got
        res = evaluate_files_spark(s, str(work / "train"), str(work / "test"), "clicked")
        out.update(auc=res["auc"], logloss=res["logloss"], fit_seconds=res["fit_seconds"],
                   best_iteration=res["best_iteration"], train_peak_gb=_rss_gb() + _rss_gb(jvm))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=24000, help="24000 users: ~1 M events")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--engine", choices=["embedded", "spark"], required=True)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--driver-memory", default="4g")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "adwise-scale")
    a = ap.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    a.cache.mkdir(parents=True, exist_ok=True)
    world = _world(a.cache, a.users, a.seed)
    with tempfile.TemporaryDirectory(dir=a.cache) as tmp:
        res = (embedded(world, Path(tmp), a.threads) if a.engine == "embedded"
               else spark(world, Path(tmp), a.master, a.driver_memory))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
