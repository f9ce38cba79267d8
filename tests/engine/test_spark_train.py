"""``adwise behavior train --engine spark``: a registry model that ``behavior predict`` and
``adwise serve`` score with plain XGBoost, without Spark, as the Spark model scores."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from adwise.cli._main import main

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture()
def world_ws(tmp_path):
    from adwise.data import Workspace, write_world

    write_world(tmp_path / "world", n_users=300, n_ads=30, days=5, seed=3)
    ws = Workspace.init(tmp_path / "ws")
    for table in ("users", "ads", "events"):
        ws.ingest(tmp_path / "world" / f"{table}.parquet", table)
    return ws


def test_spark_model_is_served_without_spark(spark, world_ws, tmp_path):
    from fastapi.testclient import TestClient

    from adwise.behavior._pipeline import load_predictor, train_workspace
    from adwise.behavior._spark import train_workspace_spark
    from adwise.data import Workspace
    from adwise.service import KeyStore, create_app

    shutil.copytree(world_ws.path, tmp_path / "embedded")
    embedded = train_workspace(Workspace.open(tmp_path / "embedded"), save=False).metrics
    res = train_workspace_spark(spark, world_ws)
    assert set(embedded) <= set(res.metrics)
    assert (res.metrics["engine"], res.metrics["model_family"]) == ("spark", "xgboost")
    assert res.metrics["rows_test"] == embedded["rows_test"]  # the embedded pipeline's split
    assert res.split == f"by time (test from {res.split_ts})"
    assert res.metrics["auc"] > 0.6
    meta = world_ws.registry.get("behavior").metadata
    assert meta["model_family"] == "xgboost" and meta["params"]["engine"] == "spark"
    assert "xgb_ctr.model.json" in meta["files"]

    # the saved booster and encoding score the test rows as the Spark model did
    pred = load_predictor(world_ws)
    test = res.extra["test"]
    np.testing.assert_allclose(pred.ctr.predict_ctr(test), test["p_click"], rtol=0, atol=1e-6)

    # `behavior predict` scores new events without importing PySpark
    rows = world_ws.query("SELECT user_id, ad_id, placement, ts + INTERVAL 30 DAY AS ts "
                          "FROM events ORDER BY ts DESC LIMIT 50")
    rows.to_csv(tmp_path / "rows.csv", index=False)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    code = ("import sys; from adwise.cli._main import main; rc = main(sys.argv[1:]); "
            "assert 'pyspark' not in sys.modules, 'pyspark was imported'; sys.exit(rc)")
    proc = subprocess.run(
        [sys.executable, "-c", code, "behavior", "predict", "-w", str(world_ws.path),
         "--input", str(tmp_path / "rows.csv"), "--out", str(tmp_path / "p.csv")],
        capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = pd.read_csv(tmp_path / "p.csv")["p_click"].to_numpy()
    want = pred.ctr.predict_ctr(pred.features(pd.read_csv(tmp_path / "rows.csv")))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    assert got.min() > 0 and got.max() < 1 and np.ptp(got) > 0

    # batch scoring on Spark (history by the shared SQL): the same rows, the same numbers,
    # their times given as epoch seconds this time
    epoch = pd.to_datetime(rows["ts"]).astype("datetime64[s]").astype("int64")
    rows.assign(ts=epoch).to_csv(tmp_path / "epoch.csv", index=False)
    assert main(["behavior", "predict", "-w", str(world_ws.path), "--engine", "spark",
                 "--data", str(tmp_path / "epoch.csv"), "--out", str(tmp_path / "p.parquet"),
                 "--json"]) == 0
    on_spark = pd.read_parquet(tmp_path / "p.parquet")
    assert list(on_spark.columns) == ["user_id", "ad_id", "p_click"]
    assert on_spark["user_id"].tolist() == rows["user_id"].tolist()
    np.testing.assert_allclose(on_spark["p_click"], got, rtol=0, atol=1e-6)

    # and the service's behaviour routes answer with it
    key, _ = KeyStore(world_ws.path).create("t", "read")
    h = {"Authorization": f"Bearer {key}"}
    row = rows.iloc[0]
    with TestClient(create_app(Workspace.open(world_ws.path))) as c:
        info = c.get("/v1/behavior/model", headers=h)
        resp = c.post("/v1/behavior/predict", headers=h, json={"events": [
            {"user_id": row["user_id"], "ad_id": row["ad_id"], "placement": row["placement"],
             "ts": str(row["ts"])}], "explain": 3})
    assert info.status_code == 200 and info.json()["metrics"]["model_family"] == "xgboost"
    assert resp.status_code == 200, resp.text
    out = resp.json()["predictions"][0]
    assert out["p_click"] == pytest.approx(got[0], abs=1e-6)
    assert len(out["reasons"]) == 3


def test_train_engine_options_are_checked_before_spark_starts(tmp_path, capsys):
    base = ["behavior", "train", "-w", str(tmp_path / "ws")]
    cases = [
        (["--engine", "flink"], "--engine must be embedded or spark; got 'flink'."),
        (["--engine", "spark", "--model", "forest"],
         "--engine spark trains --model gbdt (XGBoost on Spark) or logreg (Spark ML) without "
         "--tune; use --engine embedded for the other models and for tuning."),
    ]
    for more, want in cases:
        assert main([*base, *more]) == 2
        assert capsys.readouterr().err.strip() == f"error: {want}"


def test_spark_logistic_regression_scores_the_same_without_spark(spark, world_ws, tmp_path,
                                                                 capsys):
    from adwise.behavior._linear import LinearCTR
    from adwise.behavior._pipeline import load_predictor
    from adwise.behavior._spark import train_workspace_spark

    res = train_workspace_spark(spark, world_ws, model="logreg")
    assert (res.metrics["model"], res.metrics["model_family"]) == ("logreg", "spark-ml")
    assert res.metrics["auc"] > 0.6
    meta = world_ws.registry.get("behavior").metadata
    assert meta["model_family"] == "spark-ml" and meta["params"]["model"] == "logreg"
    assert meta["params"]["regParam"] == 1e-3 and "linear_ctr.json" in meta["files"]
    pred = load_predictor(world_ws)
    assert isinstance(pred.ctr, LinearCTR)
    # NumPy on the saved coefficients and encoding = Spark ML's probabilities, calibrated
    test = res.extra["test"]
    np.testing.assert_allclose(pred.ctr.predict_ctr(test), test["p_click"], rtol=0, atol=1e-9)
    reasons = pred.ctr.explain(test.head(3), k=2)
    assert [len(r) for r in reasons] == [2, 2, 2]
    assert set(pred.ctr.feature_importance_) <= set(test.columns) - {"p_click"}
    # and `behavior predict` scores with it (embedded face, no Spark)
    rows = world_ws.query("SELECT user_id, ad_id, placement, ts + INTERVAL 30 DAY AS ts "
                          "FROM events ORDER BY ts DESC LIMIT 20")
    rows.to_csv(tmp_path / "rows.csv", index=False)
    assert main(["behavior", "predict", "-w", str(world_ws.path), "--input",
                 str(tmp_path / "rows.csv"), "--out", str(tmp_path / "p.csv")]) == 0
    got = pd.read_csv(tmp_path / "p.csv")["p_click"]
    assert got.between(0, 1).all() and got.nunique() > 1
    # on Spark, raw ids too: pseudonymised in Spark SQL as the embedded face does it
    rows.assign(event_id=[f"n{i}" for i in range(len(rows))]) \
        .to_parquet(tmp_path / "rows.parquet")
    capsys.readouterr()
    for raw in ([], ["--raw-ids"]):
        out = tmp_path / f"p{len(raw)}"
        args = ["behavior", "predict", "-w", str(world_ws.path), "--input",
                str(tmp_path / "rows.parquet"), "--json", *raw]
        assert main([*args, "--out", f"{out}.csv"]) == 0
        embedded = json.loads(capsys.readouterr().out)
        assert main([*args, "--engine", "spark", "--out", f"{out}.parquet"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert set(report) == set(embedded)  # the same --json keys on both engines
        assert (report["engine"], report["model_family"]) == ("spark", "spark-ml")
        assert embedded["model_family"] == "spark-ml" and report["rows"] == len(rows)
        want = pd.read_csv(f"{out}.csv")
        on_spark = pd.read_parquet(f"{out}.parquet")
        assert list(on_spark.columns) == ["event_id", "user_id", "ad_id", "p_click"]
        assert on_spark["user_id"].tolist() == rows["user_id"].tolist()  # as given
        np.testing.assert_allclose(on_spark["p_click"], want["p_click"], rtol=0, atol=1e-9)
    assert not np.allclose(pd.read_csv(tmp_path / "p0.csv")["p_click"],
                           pd.read_csv(tmp_path / "p1.csv")["p_click"])
