"""``adwise behavior evaluate --engine spark``: the embedded engine's keys, a model as good, and
one-line errors (exit 2) for every missing part, before any JVM starts."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from adwise.cli._main import main

SRC = Path(__file__).resolve().parents[2] / "src"


def _clicks(n: int, seed: int) -> pd.DataFrame:
    """A click log whose rate depends on a site (30 values), a slot and a number; one
    feature is missing in a tenth of the rows."""
    rng = np.random.default_rng(seed)
    site = rng.integers(0, 30, n)
    x = rng.normal(size=n)
    slot = rng.choice(["top", "side", "feed"], n)
    z = -1.5 + np.linspace(-1.5, 1.5, 30)[site] + 0.8 * x + np.where(slot == "top", 0.7, 0.0)
    return pd.DataFrame({
        "site": [f"s{i}" for i in site], "x": x, "slot": slot,
        "noise": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
        "clicked": (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int),
    })


def test_evaluate_on_spark_has_the_embedded_keys_and_auc(spark, tmp_path, capsys):
    _clicks(3000, 1).to_parquet(tmp_path / "train.parquet")
    test = _clicks(1000, 2).astype({"x": object})
    test.loc[7, "x"] = "abc"  # a numeric column with a non-number: both engines warn
    test.to_csv(tmp_path / "test.csv", index=False)  # any format Spark reads
    args = ["behavior", "evaluate", "--train", str(tmp_path / "train.parquet"),
            "--test", str(tmp_path / "test.csv"), "--target", "clicked", "--json"]
    assert main(args) == 0
    embedded = json.loads(capsys.readouterr().out)
    assert main([*args, "--engine", "spark", "--spark-conf", "spark.sql.shuffle.partitions=2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert embedded["engine"] == "embedded" and embedded["model_family"] == "lightgbm"
    assert out["engine"] == "spark" and out["model_family"] == "xgboost"
    design = {"auc", "logloss", "ece", "rows_train", "rows_test", "fit_seconds",
              "predict_rows_per_second"}
    assert design <= set(out) and set(embedded) - {"top_features"} <= set(out)
    assert (out["rows_train"], out["rows_test"]) == (3000, 1000)
    assert out["categorical_columns"] == ["site", "slot"]
    assert out["auc"] > 0.72 and abs(out["auc"] - embedded["auc"]) < 0.02
    assert out["ece"] < 0.06  # calibrated on the held-out tenth
    assert len(embedded["warnings"]) == 1
    assert out["warnings"] == [
        f"{tmp_path / 'test.csv'}: column 'x' is numeric in the training file but 1 of 1,000 "
        "value(s) here are not numbers (e.g. 'abc'); they are scored as missing. Fix the "
        "values or the column's type."]


def test_evaluate_on_spark_refuses_a_bad_label(spark, tmp_path, capsys):
    df = _clicks(200, 1)
    df.loc[3, "clicked"] = 2
    df.to_parquet(tmp_path / "train.parquet")
    assert main(["behavior", "evaluate", "--train", str(tmp_path / "train.parquet"), "--test",
                 str(tmp_path / "train.parquet"), "--target", "clicked", "--engine",
                 "spark"]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'train.parquet'}: column 'clicked': 1 row(s) are not 0 or 1." in err


def _fake_java(folder: Path, version: str) -> Path:
    java = folder / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\" 2019-01-15' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    return folder


@pytest.mark.parametrize("case", ["no-pyspark", "no-java", "old-java", "dead-master"])
def test_missing_parts_are_one_line_and_exit_2(case, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    env.pop("ADWISE_SPARK_MASTER", None)
    args = ["behavior", "evaluate", "--train", "a.parquet", "--test", "b.parquet",
            "--target", "clicked", "--engine", "spark"]
    if case == "no-pyspark":
        (tmp_path / "pyspark").mkdir()
        (tmp_path / "pyspark" / "__init__.py").write_text("raise ImportError('blocked')\n")
        env["PYTHONPATH"] = f"{tmp_path}{os.pathsep}{SRC}"
        want = "error: --engine spark needs PySpark: `pip install adwise[spark]`."
    elif case == "no-java":
        env["JAVA_HOME"] = str(tmp_path)
        want = ("error: Spark needs Java 17+ and there is no `java` on JAVA_HOME: install "
                "Java 17 (e.g. `apt-get install openjdk-17-jre-headless`) or point JAVA_HOME "
                "at one.")
    elif case == "old-java":
        env["JAVA_HOME"] = str(_fake_java(tmp_path, "11.0.2"))
        want = (f"error: Spark needs Java 17+ but {tmp_path}/bin/java is Java 11: install "
                "Java 17 (e.g. `apt-get install openjdk-17-jre-headless`) or point JAVA_HOME "
                "at one.")
    else:
        env["ADWISE_SPARK_MASTER"] = "spark://127.0.0.1:9"
        want = ("error: the Spark master spark://127.0.0.1:9 does not answer; start it or give "
                "the right --spark-master (or $ADWISE_SPARK_MASTER).")
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from adwise.cli._main import main; "
         "sys.exit(main(sys.argv[1:]))", *args],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == want
    assert proc.stdout == ""


def test_engine_options_are_checked_before_spark_starts(tmp_path, capsys):
    base = ["behavior", "evaluate", "--train", str(tmp_path / "a.parquet"), "--test",
            str(tmp_path / "b.parquet"), "--target", "clicked"]
    cases = [
        (["--engine", "flink"], "--engine must be embedded or spark; got 'flink'."),
        (["--engine", "spark", "--model", "forest"],
         "--engine spark trains --model gbdt (XGBoost on Spark) or logreg (Spark ML) without "
         "--tune; use --engine embedded for the other models and for tuning."),
        (["--engine", "spark", "--spark-conf", "executor.memory=2g"],
         "--spark-conf takes spark.KEY=VALUE; got 'executor.memory=2g'."),
    ]
    for more, want in cases:
        assert main([*base, *more]) == 2
        assert capsys.readouterr().err.strip() == f"error: {want}"
    assert main(["behavior", "evaluate", "--engine", "spark"]) == 2
    assert "--engine spark evaluates plain files: give --train, --test and --target" in \
        capsys.readouterr().err


def test_logistic_regression_on_spark_reports_its_family(spark, tmp_path, capsys):
    _clicks(3000, 1).to_parquet(tmp_path / "train.parquet")
    _clicks(1000, 2).to_parquet(tmp_path / "test.parquet")
    args = ["behavior", "evaluate", "--train", str(tmp_path / "train.parquet"), "--test",
            str(tmp_path / "test.parquet"), "--target", "clicked", "--model", "logreg", "--json"]
    assert main(args) == 0
    embedded = json.loads(capsys.readouterr().out)
    assert main([*args, "--engine", "spark"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["engine"], out["model"], out["model_family"]) == ("spark", "logreg", "spark-ml")
    assert embedded["model_family"] == "sklearn"
    assert set(embedded) - {"top_features"} <= set(out)
    assert out["best_iteration"] is None
    # the click rate is linear in the site's log-odds, x and the slot: as good as sklearn's
    assert out["auc"] > 0.72 and abs(out["auc"] - embedded["auc"]) < 0.02


def test_spark_xgboost_samples_the_non_clicks_of_a_large_training_set(spark, tmp_path,
                                                                       monkeypatch):
    """Past XGB_MAX_ROWS training rows XGBoost fits on every click and a weighted share of
    the rest: the same ranking and calibrated probabilities as on every row."""
    from adwise.behavior import _spark
    from adwise.behavior._spark import evaluate_files_spark

    _clicks(6000, 3).to_parquet(tmp_path / "train.parquet")
    _clicks(2000, 4).to_parquet(tmp_path / "test.parquet")
    args = (spark, str(tmp_path / "train.parquet"), str(tmp_path / "test.parquet"), "clicked")
    whole = evaluate_files_spark(*args)
    monkeypatch.setattr(_spark, "XGB_MAX_ROWS", 2500)
    sampled = evaluate_files_spark(*args)
    assert whole["neg_sample_rate"] == 1.0
    # 5,400 fitting rows, about a quarter of them clicks: a third of the rest is kept
    assert sampled["neg_sample_rate"] == pytest.approx(
        _spark.negative_sample_rate(6000, round(6000 * whole["base_rate"])), rel=0.05)
    assert 0.25 < sampled["neg_sample_rate"] < 0.45
    assert sampled["rows_train"] == 6000  # reported as the rows given, not the rows fitted
    assert abs(sampled["auc"] - whole["auc"]) < 0.015
    assert sampled["ece"] < 0.05  # the weights and the whole held-out tenth keep it calibrated
