"""``--tune``: the search engine (budget, determinism, defaults first) and the tuned CTR model
(stored trace, reload, reproducibility), through the Python API and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from adwise import ParameterError
from adwise._tuning import Budget, Dim, search
from adwise.behavior import CTRModel, load_predictor, train_workspace
from adwise.behavior._tune import tune_ctr
from adwise.cli import main


@pytest.mark.parametrize(("text", "expected"), [
    ("300", Budget(seconds=300.0)), ("2.5s", Budget(seconds=2.5)),
    ("25t", Budget(trials=25)), ("4 trials", Budget(trials=4)), ("1trial", Budget(trials=1)),
])
def test_budget_parses_seconds_and_trials(text, expected):
    assert Budget.parse(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("soon", "--budget must be SECONDS (e.g. 300) or TRIALS (e.g. 25t); got 'soon'."),
    ("0", "--budget in seconds must be in (0, 604800]; got '0'."),
    ("nan", "--budget must be SECONDS (e.g. 300) or TRIALS (e.g. 25t); got 'nan'."),
    ("0t", "--budget in trials must be a whole number in [1, 10000]; got '0t'."),
    ("2.5t", "--budget in trials must be a whole number in [1, 10000]; got '2.5t'."),
])
def test_budget_refuses_bad_values_with_one_message(text, message):
    with pytest.raises(ParameterError) as e:
        Budget.parse(text)
    assert str(e.value) == message


def _bowl(p):
    return -((p["x"] - 2.0) ** 2) - (np.log10(p["c"]) - 1.0) ** 2, dict(p)


_SPACE = [Dim("x", -5.0, 5.0), Dim("c", 0.01, 1000.0, log=True)]


def test_search_finds_the_known_optimum_and_starts_from_the_defaults():
    res, best = search(_bowl, _SPACE, {"x": 0.0, "c": 1.0}, Budget(trials=40), metric="neg",
                       validation="none", seed=3)
    assert res.trials[0]["params"] == {"x": 0.0, "c": 1.0}
    assert res.default_score == pytest.approx(-5.0)
    assert abs(res.params["x"] - 2.0) < 0.4 and abs(np.log10(res.params["c"]) - 1.0) < 0.4
    assert best == res.params and res.score == max(t["score"] for t in res.trials)
    assert len(res.trials) == 40 and [t["trial"] for t in res.trials] == list(range(40))


def test_search_is_deterministic_under_a_seed_and_varies_with_it():
    def trace(seed):
        res, _ = search(_bowl, _SPACE, {"x": 0.0, "c": 1.0}, Budget(trials=12),
                        metric="neg", validation="none", seed=seed)
        return [t["params"] for t in res.trials]

    assert trace(5) == trace(5)
    assert trace(5) != trace(6)


def test_search_keeps_within_a_time_budget():
    import time

    def slow(p):
        time.sleep(0.05)
        return p["x"], None

    res, _ = search(slow, [Dim("x", 0.0, 1.0)], {"x": 0.5}, Budget(seconds=0.3), metric="x",
                    validation="none")
    # no trial starts once the mean trial would overrun, so only the last may cross the budget
    assert 2 <= len(res.trials) <= 7
    assert res.seconds < 0.3 + max(t["seconds"] for t in res.trials) + 0.05


def test_search_skips_failed_trials_and_refuses_when_none_succeed():
    res, _ = search(lambda p: (float("nan") if p["x"] > 0.5 else p["x"], None),
                    [Dim("x", 0.0, 1.0)], {"x": 0.9}, Budget(trials=10), metric="x",
                    validation="none")
    assert res.trials[0]["score"] is None and res.score <= 0.5
    with pytest.raises(ParameterError, match="no trial of the search gave a finite x"):
        search(lambda p: (float("nan"), None), [Dim("x", 0.0, 1.0)], {"x": 0.9},
               Budget(trials=3), metric="x", validation="none")


def _stepped_bowl(p, report):
    """Five steps whose score approaches the bowl's value: a known answer to prune on."""
    for step in range(5):
        report(step, -(p["x"] - 2.0) ** 2 - (4 - step) * 0.1)
    return -(p["x"] - 2.0) ** 2, p


def test_search_prunes_trials_below_the_median_at_a_step_and_is_deterministic():
    def run():
        res, best = search(_stepped_bowl, [Dim("x", -5.0, 5.0)], {"x": 0.0}, Budget(trials=25),
                           metric="neg", validation="none", seed=3, prune=True)
        return res, best

    res, best = run()
    pruned = [t for t in res.trials if "pruned_at" in t]
    done = [t for t in res.trials if "pruned_at" not in t]
    assert len(res.trials) == 25 and pruned and len(done) >= 3
    # the defaults' trial and the next ones complete: the median rule needs them first
    assert all("pruned_at" not in t for t in res.trials[:3])
    assert all(t["score"] is None and t["pruned_at"] >= 1 for t in pruned)
    # what was stopped was worse at its step than the median of the complete trials there
    median_at_1 = np.median([-(t["params"]["x"] - 2.0) ** 2 - 0.3 for t in done])
    assert all(-(t["params"]["x"] - 2.0) ** 2 - 0.3 < median_at_1 for t in pruned
               if t["pruned_at"] == 1)
    assert abs(res.params["x"] - 2.0) < 0.5 and best == res.params
    again, _ = run()
    assert again.trials == [dict(t, seconds=a["seconds"]) for t, a in
                            zip(res.trials, again.trials, strict=True)]


def test_tune_ctr_stops_poor_trials_after_a_fold():
    X, y = _data()
    _, res = tune_ctr(X, y, Budget(trials=12), {"n_estimators": 200}, seed=1)
    pruned = [t for t in res.trials if "pruned_at" in t]
    assert pruned, [t["score"] for t in res.trials]
    # pruned after the second fold of five or later (the median rule's warm-up is one step)
    assert all(1 <= t["pruned_at"] <= 4 and t["score"] is None for t in pruned)
    assert res.score == max(t["score"] for t in res.trials if t["score"] is not None)
    assert res.to_dict()["n_pruned"] == len(pruned)
    # the fit reports each fold's running AUC when asked
    folds: list[tuple[int, float]] = []
    CTRModel(n_estimators=50, n_folds=3).fit(X, y, on_fold=lambda i, auc: folds.append((i, auc)))
    assert [i for i, _ in folds] == [0, 1, 2] and all(0.5 < auc < 1 for _, auc in folds)


def _data(n=1500, seed=0):
    """A click log where the label depends on an interaction the defaults under-fit."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                      "slot": rng.choice(["top", "side", "foot"], n)})
    logit = -1.5 + 1.5 * np.sign(X.a * X.b) + (X.slot == "top") * 0.7
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def test_tuned_ctr_model_is_no_worse_than_defaults_on_validation_and_reproducible():
    X, y = _data()
    base = {"n_estimators": 200}
    m, res = tune_ctr(X, y, Budget(trials=6), base, seed=1)
    assert res.metric == "auc" and res.validation.startswith("5-fold cross-validation")
    assert res.score >= res.default_score
    assert set(res.params) == {"num_leaves", "learning_rate", "min_child_samples",
                               "colsample", "reg_lambda", "te_smoothing"}
    # the stored parameters alone rebuild the same model
    again = CTRModel(**{**base, **res.params, "random_state": 1}).fit(X, y)
    np.testing.assert_allclose(again.predict_ctr(X.head(200)), m.predict_ctr(X.head(200)))


def test_tune_refuses_a_learner_without_a_search_space():
    X, y = _data(200)
    with pytest.raises(Exception, match="--tune supports the models gbdt, logreg, forest, tree"):
        tune_ctr(X, y, Budget(trials=2), {"model": "deep"})


def test_tuned_workspace_model_is_stored_with_its_trace_and_reloads_identically(
        loaded_workspace, small_world):
    ws = loaded_workspace
    res = train_workspace(ws, conversion=False, tune=Budget(trials=3), seed=2)
    tuning = res.metrics["tuning"]
    assert tuning["n_trials"] == 3 and tuning["validation"].startswith(
        ("the latest", "5-fold"))
    meta = ws.registry.get("behavior").metadata
    assert meta["tuning"]["params"] == tuning["params"]
    for k, v in tuning["params"].items():
        assert meta["params"][k] == pytest.approx(v)
    ev = pd.read_parquet(small_world / "events.parquet").tail(300)
    frame = ev.assign(user_id=ws.pseudonyms(ev["user_id"].astype(str)))
    pred = load_predictor(ws)
    feats = pred.features(frame)
    np.testing.assert_allclose(pred.predict_ctr(frame), res.ctr_model.predict_ctr(feats),
                               rtol=1e-9)


def test_cli_evaluate_with_tune_prints_the_search(tmp_path, capsys):
    X, y = _data(1200)
    df = X.assign(click=y)
    df.iloc[:900].to_csv(tmp_path / "tr.csv", index=False)
    df.iloc[900:].to_csv(tmp_path / "te.csv", index=False)
    rc = main(["behavior", "evaluate", "--train", str(tmp_path / "tr.csv"), "--test",
               str(tmp_path / "te.csv"), "--target", "click", "--tune", "--budget", "3t",
               "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    t = out["tuning"]
    assert t["n_trials"] == 3 and len(t["trials"]) == 3 and t["metric"] == "auc"
    assert {"trial", "params", "score", "seconds"} <= set(t["trials"][0])
    assert 0.5 < out["auc"] <= 1
    rc = main(["behavior", "evaluate", "--train", str(tmp_path / "tr.csv"), "--test",
               str(tmp_path / "te.csv"), "--target", "click", "--tune", "--budget", "later"])
    assert rc == 2
    assert "--budget must be SECONDS" in capsys.readouterr().err
