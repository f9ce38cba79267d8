"""End-to-end (ingest -> CLI train -> predict/evaluate), recovery and plain-file tests."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from adwise.behavior import load_predictor, train_workspace
from adwise.cli import main
from adwise.data import load_truth
from adwise.metrics import roc_auc


def test_no_model_gives_none(workspace):
    assert load_predictor(workspace) is None


def test_end_to_end_cli(loaded_workspace, small_world, tmp_path, capsys):
    ws = loaded_workspace
    rc = main(["behavior", "train", "--workspace", str(ws.path), "--json"])
    out = capsys.readouterr().out
    assert rc == 0, out
    res = json.loads(out)
    assert res["version"] == "v0001"
    assert res["rows_train"] + res["rows_test"] == ws.row_counts()["events"]
    assert 0.55 < res["auc"] < 1 and res["ece"] < 0.02
    # the blend decision is printed and stored with the model
    assert isinstance(res["blend"]["used"], bool) and 0 <= res["blend"]["weight"] <= 1
    assert set(res["blend"]["validation_logloss"]) == {"gbdt", "blend"}
    assert ws.registry.get("behavior").metadata["blend"] == res["blend"]
    # score the last events of the world through the CLI with explanations
    ev = pd.read_parquet(small_world / "events.parquet").tail(50)
    ev.to_csv(tmp_path / "score.csv", index=False)
    rc = main(["behavior", "predict", "--workspace", str(ws.path), "--input",
               str(tmp_path / "score.csv"), "--raw-ids", "--explain", "3", "--json"])
    pred = json.loads(capsys.readouterr().out)
    assert rc == 0 and pred["rows"] == 50
    # these are stored events: said, and each one's own click left out of its history
    assert pred["stored_events"] == 50 and "already in the workspace" in pred["warnings"][-1]
    row = pred["predictions"][0]
    assert 0 < row["p_click"] < 1 and len(row["reasons"].split("; ")) == 3
    assert row["user_id"] == str(ev["user_id"].iloc[0])  # raw ids back, never pseudonyms
    if "p_convert" in row:
        assert row["p_click_and_convert"] == pytest.approx(row["p_click"] * row["p_convert"])
    # the Python API gives the same numbers
    p = load_predictor(ws)
    frame = ev.assign(user_id=ws.pseudonyms(ev["user_id"].astype(str)))
    own = p.stored_clicks(frame)
    assert not np.isnan(own).any()
    np.testing.assert_allclose(p.predict_ctr(frame, own)[:1], [row["p_click"]], rtol=1e-6)
    assert len(p.explain(frame.head(2), k=4)[0]) == 4


@pytest.mark.slow
def test_recovery_on_synthetic_world(loaded_workspace, small_world):
    res = train_workspace(loaded_workspace, conversion=False, save=False)
    truth = load_truth(small_world)
    ev = pd.read_parquet(small_world / "events.parquet")
    test = ev[pd.to_datetime(ev["ts"]) >= pd.Timestamp(res.split_ts)]
    oracle = roc_auc(test["clicked"], truth.p_click_events(test))
    auc = res.metrics["auc"]
    # the model ranks well above chance; the gap to the oracle is measured in benchmarks/ctr.py
    assert auc > 0.5 + 0.5 * (oracle - 0.5), (auc, oracle)
    top = list(res.ctr_model.feature_importance_)[:8]
    assert "placement" in top and "hour" in top
    assert any(f.startswith("user_cat") for f in top)  # interest x category
    # predicted CTR by placement follows the true slot effect
    t = res.extra["test"]
    by_slot = t.groupby("placement")["p_click"].mean()
    true = pd.Series(truth.slot_effect, index=truth.slots)
    assert by_slot.idxmax() == true.idxmax() and by_slot.idxmin() == true.idxmin()


def _write_csv(path, n, seed, binary=True):
    rng = np.random.default_rng(seed)
    site = rng.choice(["a", "b", "c", "d"], n)
    x = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(x + (site == "a"))))).astype(int)
    df = pd.DataFrame({"click": y if binary else y * 3, "site": site, "x": x})
    df.to_csv(path, index=False)
    return df


def test_evaluate_plain_files_json(tmp_path, capsys):
    _write_csv(tmp_path / "tr.csv", 1500, 0)
    _write_csv(tmp_path / "te.csv", 500, 1)
    rc = main(["behavior", "evaluate", "--train", str(tmp_path / "tr.csv"), "--test",
               str(tmp_path / "te.csv"), "--target", "click", "--json"])
    out = capsys.readouterr().out
    assert rc == 0
    res = json.loads(out)
    for k in ("auc", "logloss", "ece", "rows_train", "rows_test", "fit_seconds",
              "predict_rows_per_second"):
        assert k in res
    assert res["rows_train"] == 1500 and res["rows_test"] == 500 and res["auc"] > 0.65
    assert res["categorical_columns"] == ["site"] and res["numeric_columns"] == ["x"]
    # the logit of this target is linear in x and site: the logistic blend is used
    assert res["blend"]["used"] is True and res["blend"]["weight"] > 0
    assert res["blend"]["validation_logloss"]["blend"] < res["blend"]["validation_logloss"][
        "gbdt"]


def test_evaluate_prints_the_blend_decision(tmp_path, capsys):
    _write_csv(tmp_path / "tr.csv", 1500, 0)
    _write_csv(tmp_path / "te.csv", 300, 1)
    rc = main(["behavior", "evaluate", "--train", str(tmp_path / "tr.csv"), "--test",
               str(tmp_path / "te.csv"), "--target", "click"])
    out = capsys.readouterr().out
    assert rc == 0
    assert re.search(r"blend: GBDT \+ logistic \(weight [01]\.\d\d in log-odds\), validation "
                     r"logloss 0\.\d{4} -> 0\.\d{4}", out), out


def test_evaluate_bad_inputs(tmp_path, capsys):
    _write_csv(tmp_path / "tr.csv", 300, 0)
    _write_csv(tmp_path / "bad.csv", 300, 0, binary=False)
    pd.read_csv(tmp_path / "tr.csv").drop(columns=["x"]).to_csv(tmp_path / "nox.csv",
                                                                index=False)
    (tmp_path / "empty.csv").write_text("")
    base = ["behavior", "evaluate", "--target", "click", "--json"]

    def run(train, test, *more):
        return main([*base, "--train", str(tmp_path / train), "--test", str(tmp_path / test),
                     *more])

    assert run("bad.csv", "tr.csv") == 2
    assert "must be binary (0/1) for classification; found 3" in capsys.readouterr().err
    assert run("tr.csv", "nox.csv") == 2
    assert "lacks column(s) of the training file: x" in capsys.readouterr().err
    assert run("empty.csv", "tr.csv") == 2
    assert "the file has no rows" in capsys.readouterr().err
    assert run("tr.csv", "tr.csv", "--model", "svm") == 2
    assert "--model must be one of gbdt, forest, tree, logreg, deep" in capsys.readouterr().err


def test_deep_unavailable_without_torch(tmp_path, capsys, monkeypatch):
    import sys

    _write_csv(tmp_path / "tr.csv", 300, 0)
    monkeypatch.setitem(sys.modules, "torch", None)  # simulate the extra not installed
    rc = main(["behavior", "evaluate", "--train", str(tmp_path / "tr.csv"), "--test",
               str(tmp_path / "tr.csv"), "--target", "click", "--model", "deep", "--json"])
    assert rc == 2
    assert "model 'deep' is unavailable: PyTorch is not installed" in capsys.readouterr().err


@pytest.mark.shared_data
def test_criteo_format(shared_data, tmp_path, capsys):
    src = shared_data / "criteo" / "criteo_train_head10k.txt"
    lines = src.read_text().splitlines()
    (tmp_path / "tr.txt").write_text("\n".join(lines[:3000]) + "\n")
    (tmp_path / "te.txt").write_text("\n".join(lines[3000:4000]) + "\n")
    rc = main(["behavior", "evaluate", "--train", str(tmp_path / "tr.txt"), "--test",
               str(tmp_path / "te.txt"), "--format", "criteo", "--json"])
    res = json.loads(capsys.readouterr().out)
    assert rc == 0 and res["rows_train"] == 3000 and res["auc"] > 0.65
    assert "C1" in res["categorical_columns"] and "I5" in res["numeric_columns"]
