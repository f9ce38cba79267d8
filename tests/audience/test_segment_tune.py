"""``--tune`` on ``audience segment``: held-out silhouette x bootstrap stability finds the
true k, repeats under a seed, and reaches the CLI's ``--json`` and the saved version."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from adwise._tuning import Budget
from adwise.audience import Segmenter
from adwise.audience._tune import tune_segments
from adwise.cli._main import main


def _two_overlapping(seed=1, n=300):
    """Two round groups 3 sd apart: the silhouette alone prefers cutting them into more."""
    rng = np.random.default_rng(seed)
    X = np.r_[rng.normal(0, 1, (n, 2)), rng.normal(0, 1, (n, 2)) + np.array([3.0, 0.0])]
    return pd.DataFrame(X, columns=["a", "b"]), np.repeat([0, 1], n)


def _five_blobs(seed=0, n=120):
    rng = np.random.default_rng(seed)
    centers = rng.uniform(5, 40, (5, 4))
    X = np.vstack([rng.normal(c, 1.5, (n, 4)) for c in centers])
    return pd.DataFrame(X, columns=list("abcd")), np.repeat(np.arange(5), n)


def test_tuning_finds_two_groups_where_the_default_silhouette_cuts_more():
    X, truth = _two_overlapping()
    base = Segmenter(transform="none")
    default = Segmenter(transform="none").fit(X)
    model, res = tune_segments(X, Budget(trials=12), base, seed=1)
    assert default.k_ >= 3  # the untuned choice over-segments this data
    assert res.trials[0]["params"] == {"k": default.k_, "transform": "none", "method": "kmeans"}
    assert model.k_ == 2 and res.params["k"] == 2
    assert adjusted_rand_score(truth, model.labels_) > 0.7
    # more clusters are not rewarded: every trial with k > 2 scores below the chosen one
    assert all(tr["score"] < res.score for tr in res.trials if tr["params"]["k"] > 2)
    assert res.score > res.default_score


def test_tuning_finds_five_blobs_and_never_scores_below_the_defaults():
    X, truth = _five_blobs()
    model, res = tune_segments(X, Budget(trials=8), seed=0)
    assert model.k_ == 5
    assert adjusted_rand_score(truth, model.labels_) == pytest.approx(1.0)
    assert res.score >= res.default_score
    assert res.metric == "silhouette_x_stability"
    for tr in res.trials:
        assert set(tr) == {"trial", "params", "score", "seconds", "silhouette", "stability"}
        assert tr["score"] == pytest.approx(tr["silhouette"] * tr["stability"], abs=1e-5)
    # the chosen settings are refitted on every row
    assert len(model.labels_) == len(X)


def test_tuning_repeats_under_a_seed_and_moves_with_it():
    X, _ = _two_overlapping(n=150)

    def run(seed):
        return tune_segments(X, Budget(trials=5), Segmenter(transform="none"), seed=seed)

    (m1, r1), (m2, r2), (_, r3) = run(3), run(3), run(4)
    assert [tr["params"] for tr in r1.trials] == [tr["params"] for tr in r2.trials]
    assert [tr["score"] for tr in r1.trials] == [tr["score"] for tr in r2.trials]
    np.testing.assert_array_equal(m1.labels_, m2.labels_)
    assert [tr["score"] for tr in r1.trials] != [tr["score"] for tr in r3.trials]


def test_a_fixed_k_is_kept_and_only_the_rest_is_searched():
    X, _ = _five_blobs(n=60)
    model, res = tune_segments(X, Budget(trials=3), Segmenter(k=4), seed=0)
    assert model.k_ == 4
    assert {tr["params"]["k"] for tr in res.trials} == {4}


def _file(tmp_path):
    X, _ = _two_overlapping(n=150)
    path = tmp_path / "customers.csv"
    X.assign(id=np.arange(len(X))).to_csv(path, index=False)
    return ["audience", "segment", "--data", str(path), "--id-col", "id", "--transform", "none"]


def test_cli_budget_without_tune_exits_2_with_the_message(tmp_path, capsys):
    assert main([*_file(tmp_path), "--budget", "10t", "--json"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert ("--budget is the tuning budget of --tune; add --tune, or drop --budget to segment "
            "with the defaults.") in err


def test_cli_tune_json_carries_the_search_and_repeats(tmp_path, capsys):
    args = [*_file(tmp_path), "--tune", "--budget", "4t", "--seed", "2", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    tuning = out["tuning"]
    assert tuning["metric"] == "silhouette_x_stability" and tuning["n_trials"] == 4
    assert tuning["seed"] == 2 and tuning["budget"] == "4 trials"
    assert tuning["params"]["k"] == out["k"] and out["transform"] == tuning["params"]["transform"]
    assert tuning["score"] >= tuning["default_score"]
    assert "held-out rows (seed 2)" in tuning["validation"]
    assert out["k_rule"].startswith("--tune: the best silhouette_x_stability")
    assert main(args) == 0
    again = json.loads(capsys.readouterr().out)
    assert [tr["score"] for tr in again["tuning"]["trials"]] == [
        tr["score"] for tr in tuning["trials"]]
    assert again["sizes"] == out["sizes"]


def test_cli_text_prints_the_tuning_line(tmp_path, capsys):
    assert main([*_file(tmp_path), "--tune", "--budget", "2t"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "tuned (2 trials" in text and "silhouette_x_stability" in text


def test_workspace_segments_save_the_tuning(loaded_workspace, capsys):
    from adwise.audience import load_segments

    args = ["audience", "segment", "-w", str(loaded_workspace.path), "--tune", "--budget", "3t",
            "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tuning"]["n_trials"] == 3
    _, meta = load_segments(loaded_workspace)
    assert meta["tuning"]["trials"] == out["tuning"]["trials"]
    mv = loaded_workspace.registry.load("audience")
    assert mv.metadata["metrics"]["tuning_score"] == out["tuning"]["score"]
