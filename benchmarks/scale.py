"""Scale: feature building and CTR training on the embedded engine and on Spark.

One synthetic world (``adwise synth``), one time split (the latest 20 % of events to test), two
engines, each in its own process so that peak memory is the engine's own:

* ``--engine embedded``: ingest into a workspace, the history features with the embedded NumPy
  code (``event_features``), then LightGBM (``evaluate_files``) on the model columns below, and
  the full ``behavior train`` pipeline (which adds the category-profile features) for reference;
* ``--engine spark``: the history features with the SQL specification on Spark (``run_spark``),
  checked against the same SQL on DuckDB, then XGBoost on Spark (``evaluate_files_spark``) on the
  same model columns.

Peak memory: this process's peak RSS, plus the JVM's (``VmHWM``) for Spark, after each step;
and ``*_tree_peak_gb``, the largest sum of the proportional set sizes (PSS: shared pages
counted once) of this process and all its descendants (the JVM and the Python workers where
XGBoost trains), sampled every 0.2 s: the figure to hold against a machine's memory.

    python benchmarks/scale.py --users 24000 --engine embedded   # ~1 M events
    python benchmarks/scale.py --users 24000 --engine spark --master 'local[2]'
    python benchmarks/scale.py --users 480000 --engine spark --driver-memory 4g \
        --no-check --rounds 50 --work /tmp/adwise-scale/work-480000   # ~20 M events
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

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


def _pss_kb(pid: int) -> int:
    """Proportional set size of ``pid`` in kB: its private pages plus its share of the pages
    it shares.  Summed over processes it counts each page once, where resident sizes count a
    page once per process that maps it: a fork of the JVM (Hadoop's local file system shells
    out) momentarily doubles the JVM's resident size without using a byte more."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:  # the process ended while we read it (or the kernel lacks smaps_rollup)
        pass
    return 0


def _tree_rss_gb(root: int) -> float:
    """Memory of ``root`` and all its descendants, in GB: the sum of their proportional set
    sizes (0 for those gone mid-read)."""
    parent: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            for line in (d / "status").read_text().splitlines():
                if line.startswith("PPid:"):
                    parent[int(d.name)] = int(line.split()[1])
                    break
        except OSError:  # the process ended while we read it
            continue
    tree, grew = {root}, True
    while grew:
        kids = {p for p, pp in parent.items() if pp in tree and p not in tree}
        tree |= kids
        grew = bool(kids)
    return sum(_pss_kb(p) for p in tree) / 1e6


class TreePeak:
    """Samples :func:`_tree_rss_gb` of this process in a thread; ``take()`` returns the peak
    since the last ``take()`` (a step's peak) and starts over."""

    def __init__(self, every: float = 0.2) -> None:
        self.peak, self._stop = 0.0, threading.Event()
        self._every = every
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.peak = max(self.peak, _tree_rss_gb(os.getpid()))

    def take(self) -> float:
        out = max(self.peak, _tree_rss_gb(os.getpid()))
        self.peak = 0.0
        return round(out, 3)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _partial(out: dict) -> None:
    """The measurements so far, on stderr: what a run stopped before its end still leaves."""
    print("partial:", json.dumps(out), file=sys.stderr, flush=True)


def _world(folder: Path, users: int, seed: int) -> Path:
    from adwise.data import write_world

    world = folder / f"world-{users}-{seed}"
    if not (world / "events.parquet").exists():
        write_world(world, n_users=users, n_ads=max(60, users // 80), days=14, seed=seed)
    return world


def _cut(world: Path) -> pd.Timestamp:
    ts = pd.to_datetime(pd.read_parquet(world / "events.parquet", columns=["ts"])["ts"])
    return ts.quantile(0.8)


def embedded(world: Path, work: Path, threads: int, tree: TreePeak, full: bool) -> dict:
    from adwise.behavior._features import add_smoothed, event_features
    from adwise.behavior._pipeline import evaluate_files, train_workspace
    from adwise.data import Workspace

    out: dict = {"engine": "embedded"}
    t0 = time.perf_counter()
    ws = Workspace.init(work / "ws")
    for t in ("users", "ads", "events"):
        ws.ingest(world / f"{t}.parquet", t)
    out["ingest_seconds"] = time.perf_counter() - t0
    out["ingest_tree_peak_gb"] = tree.take()
    _partial(out)
    t0 = time.perf_counter()
    df = event_features(ws, threads=threads)
    cut = _cut(world)
    train = pd.to_datetime(df["ts"]) < cut
    df = add_smoothed(df, float(df.loc[train, "clicked"].mean()))
    out["features_seconds"] = time.perf_counter() - t0
    out["events"] = len(df)
    out["features_peak_gb"] = _rss_gb()
    out["features_tree_peak_gb"] = tree.take()
    _partial(out)
    df[MODEL_COLUMNS][train.to_numpy()].to_parquet(work / "train.parquet")
    df[MODEL_COLUMNS][~train.to_numpy()].to_parquet(work / "test.parquet")
    del df
    res = evaluate_files(work / "train.parquet", work / "test.parquet", "clicked",
                         n_jobs=threads)
    out.update(auc=res["auc"], logloss=res["logloss"], fit_seconds=res["fit_seconds"],
               train_peak_gb=_rss_gb(), train_tree_peak_gb=tree.take())
    _partial(out)
    if full:
        t0 = time.perf_counter()
        model = train_workspace(ws, n_jobs=threads, save=False, conversion=False)
        out.update(auc_full_pipeline=model.metrics["auc"],
                   full_pipeline_seconds=time.perf_counter() - t0,
                   full_pipeline_tree_peak_gb=tree.take())
    return out


def spark(world: Path, work: Path, master: str, memory: str, tree: TreePeak, check: bool,
          rounds: int | None) -> dict:
    from adwise.behavior import _spark
    from adwise.behavior._spark import evaluate_files_spark
    from adwise.engine import spark_session

    out: dict = {"engine": "spark", "master": master, "driver_memory": memory}
    if rounds is not None:  # a cap on boosting rounds (early stopping still applies below it)
        _spark.XGB_PARAMS["n_estimators"] = rounds
    out["max_rounds"] = _spark.XGB_PARAMS["n_estimators"]
    conf = {"spark.driver.memory": memory, "spark.sql.shuffle.partitions": "8",
            "spark.ui.enabled": "false"}
    cut = _cut(world)
    # a --work folder from an earlier run that wrote its split: train on it, skip the features
    reuse = all((work / d / "_SUCCESS").exists() for d in ("train", "test"))
    with spark_session(master, conf) as s:
        jvm = int(s.sparkContext._jvm.ProcessHandle.current().pid())
        if reuse:
            out["features"] = f"reused from {work}"
        else:
            _features(s, world, work, cut, out, tree, jvm, check)
        res = evaluate_files_spark(s, str(work / "train"), str(work / "test"), "clicked")
        out.update(auc=res["auc"], logloss=res["logloss"], fit_seconds=res["fit_seconds"],
                   best_iteration=res["best_iteration"],
                   neg_sample_rate=res.get("neg_sample_rate"),
                   train_peak_gb=_rss_gb() + _rss_gb(jvm),
                   train_tree_peak_gb=tree.take())
    return out


def _features(s: Any, world: Path, work: Path, cut: pd.Timestamp, out: dict, tree: TreePeak,
              jvm: int, check: bool) -> None:
    """The history features on Spark written to ``work``, then the time split (and the check
    against DuckDB), recording seconds and peaks in ``out``."""
    from adwise.engine import read_frame, run_spark

    t0 = time.perf_counter()
    events = read_frame(s, world / "events.parquet")
    train_rate = events.where(events.ts < cut).agg({"clicked": "avg"}).first()[0]
    feats = run_spark(s, events, read_frame(s, world / "ads.parquet"), float(train_rate))
    feats = feats.selectExpr("*", "hour(ts) AS hour",
                             "(dayofweek(ts) + 5) % 7 AS weekday")  # Monday = 0
    feats.write.mode("overwrite").parquet(str(work / "features"))
    out["features_seconds"] = time.perf_counter() - t0
    out["features_peak_gb"] = _rss_gb() + _rss_gb(jvm)
    out["features_tree_peak_gb"] = tree.take()
    _partial(out)
    f = read_frame(s, work / "features")
    out["events"] = f.count()
    f.where(f.ts < cut).select(*MODEL_COLUMNS).write.mode("overwrite").parquet(
        str(work / "train"))
    f.where(f.ts >= cut).select(*MODEL_COLUMNS).write.mode("overwrite").parquet(
        str(work / "test"))
    out["split_tree_peak_gb"] = tree.take()
    _partial(out)
    if check:
        out.update(_check(world, f, float(train_rate)))
        out["check_tree_peak_gb"] = tree.take()
        _partial(out)


def _check(world: Path, f: Any, train_rate: float) -> dict:
    """The same specification on DuckDB: equal to floating tolerance?  (Collects both to this
    process: memory the Spark run itself does not need.)"""
    import duckdb

    from adwise.engine import run_duckdb, to_pandas

    con = duckdb.connect()
    con.execute(f"CREATE VIEW events AS SELECT * FROM '{world / 'events.parquet'}'")
    con.execute(f"CREATE VIEW ads AS SELECT * FROM '{world / 'ads.parquet'}'")
    want = run_duckdb(con, train_rate).set_index("event_id").sort_index()
    got = to_pandas(f.select("event_id", *history_columns())).set_index("event_id").sort_index()
    cols = history_columns()
    return {"features_max_abs_diff": float(np.max(np.abs(
        got[cols].to_numpy(float) - want.loc[got.index, cols].to_numpy(float))))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=24000, help="24000 users: ~1 M events")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--engine", choices=["embedded", "spark"], required=True)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--driver-memory", default="4g")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-check", action="store_true",
                    help="Spark: skip the equality check against DuckDB (it collects both "
                         "feature tables to this process)")
    ap.add_argument("--rounds", type=int, default=None,
                    help="Spark: cap on XGBoost boosting rounds (default: the library's)")
    ap.add_argument("--no-full-pipeline", action="store_true",
                    help="embedded: skip the reference `behavior train` pipeline")
    ap.add_argument("--work", type=Path, default=None,
                    help="keep the run's files here (default: a temporary folder), one folder "
                         "per world; Spark reuses the features and split a run left there and "
                         "only trains")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "adwise-scale")
    a = ap.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    a.cache.mkdir(parents=True, exist_ok=True)
    tree = TreePeak()
    t0 = time.perf_counter()
    world = _world(a.cache, a.users, a.seed)
    world_s, world_gb = time.perf_counter() - t0, tree.take()
    if a.work:
        a.work.mkdir(parents=True, exist_ok=True)
    with (contextlib.nullcontext(str(a.work)) if a.work
          else tempfile.TemporaryDirectory(dir=a.cache)) as tmp:
        res = (embedded(world, Path(tmp), a.threads, tree, not a.no_full_pipeline)
               if a.engine == "embedded"
               else spark(world, Path(tmp), a.master, a.driver_memory, tree, not a.no_check,
                          a.rounds))
    tree.stop()
    res.update(users=a.users, world_seconds=round(world_s, 1), world_tree_peak_gb=world_gb,
               wall_seconds=round(time.perf_counter() - t0, 1))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
