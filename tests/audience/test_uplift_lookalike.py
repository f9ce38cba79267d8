"""Uplift and lookalike: estimators, statistics, bad input and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from adwise import ContractError, NotFittedError, ParameterError
from adwise.audience import LookalikeModel, UpliftClassifier, check_binary, select_targets
from adwise.cli._main import main
from adwise.metrics import qini_auc_score


def _uplift_data(n=4000, seed=0):
    """Treatment helps only when x0 > 0 (+25 points), never otherwise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    t = rng.integers(0, 2, n)
    p = 0.15 + 0.25 * t * (X[:, 0] > 0) + 0.05 * (X[:, 1] > 0)
    y = (rng.random(n) < p).astype(int)
    return X, y, t


def test_uplift_bad_parameter_message():
    X, y, t = _uplift_data(200)
    with pytest.raises(ParameterError) as exc:
        UpliftClassifier(learner="r-learner").fit(X, y, t)
    assert str(exc.value).startswith("UpliftClassifier: parameter 'learner' must be one of 'auto'")


def test_uplift_not_fitted():
    with pytest.raises(NotFittedError):
        UpliftClassifier().predict(np.zeros((2, 3)))


@pytest.mark.parametrize(
    "learner",
    [
        "t-logistic",
        "s-logistic",
        "x-logistic",
        "ct-logistic",
        "t-lightgbm",
        "s-lightgbm",
        "x-lightgbm",
        "ct-lightgbm",
        "dr-logistic",
        "dr-lightgbm",
    ],
)
def test_every_learner_finds_who_responds(learner):
    X, y, t = _uplift_data()
    Xt, yt, tt = _uplift_data(seed=1)
    u = UpliftClassifier(learner=learner).fit(X, y, t).predict(Xt)
    # the true uplift is 0.25 where x0 > 0 and 0 elsewhere
    assert u[Xt[:, 0] > 0].mean() - u[Xt[:, 0] <= 0].mean() > 0.08
    assert qini_auc_score(yt, u, tt) > 0.1


def test_auto_picks_by_cross_validated_qini():
    X, y, t = _uplift_data()
    m = UpliftClassifier(
        candidates=["t-logistic", "ct-logistic", "s-lightgbm"], ensemble=1, cv=2
    ).fit(X, y, t)
    assert set(m.cv_qini_) == {"t-logistic", "ct-logistic", "s-lightgbm"}
    assert m.learner_ == max(m.cv_qini_, key=m.cv_qini_.get)


def test_treatment_not_binary_message():
    with pytest.raises(ContractError) as exc:
        check_binary(np.array([0, 1, 2, 1, 5]), "segment", "train.csv")
    assert str(exc.value) == (
        "train.csv: column 'segment': must hold only 0 and 1; 2 row(s) affected: row 2 (value 2),"
        " row 4 (value 5) (rows count from 0). Fix: recode 'segment' to 0/1 (1 = treated/"
        "positive, 0 = control/negative), e.g. --map or a spreadsheet formula; drop rows with a "
        "missing value"
    )


def test_select_targets_count_and_cost():
    u = np.array([0.1, -0.2, 0.3, 0.05])
    np.testing.assert_array_equal(select_targets(u, 2), [2, 0])
    np.testing.assert_array_equal(select_targets(u, 10), [2, 0, 3])  # never a negative uplift
    cost = np.array([1.0, 1.0, 10.0, 0.1])
    # by uplift per unit cost: 3 (0.5/unit), 0 (0.1), 2 (0.03); budget 2 -> 3 and 0
    np.testing.assert_array_equal(select_targets(u, 2.0, cost=cost), [3, 0])


def _files(tmp_path, treatment=None):
    X, y, t = _uplift_data(3000)
    df = pd.DataFrame(X, columns=["a", "b", "c"]).assign(visit=y, arm=t)
    if treatment is not None:
        df["arm"] = treatment(df["arm"])
    df.iloc[:2000].to_csv(tmp_path / "train.csv", index=False)
    df.iloc[2000:].to_csv(tmp_path / "test.csv", index=False)
    return [
        "audience",
        "uplift",
        "--train",
        str(tmp_path / "train.csv"),
        "--test",
        str(tmp_path / "test.csv"),
        "--treatment-col",
        "arm",
        "--outcome-col",
        "visit",
    ]


def test_cli_uplift_json(tmp_path, capsys):
    args = _files(tmp_path)
    assert main([*args, "--learner", "t-logistic", "--targets", "100", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"qini", "auuc", "uplift_at_30"} <= set(out)
    assert out["qini"] > 0.1 and out["uplift_at_30"] > 0.1
    assert out["targets"] == 100


def test_cli_uplift_text_levels(tmp_path, capsys):
    args = _files(tmp_path, treatment=lambda s: s.map({1: "Email", 0: "Control"}))
    assert main([*args, "--learner", "t-logistic", "--json"]) == 2
    assert "column 'arm': must hold only 0 and 1" in capsys.readouterr().err
    assert (
        main(
            [
                *args,
                "--learner",
                "t-logistic",
                "--treatment-value",
                "Email",
                "--control-value",
                "Control",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["qini"] > 0.1


@pytest.mark.shared_data
def test_hillstrom_cli(shared_data, tmp_path, capsys):
    from sklearn.model_selection import train_test_split

    df = pd.read_csv(shared_data / "hillstrom" / "hillstrom.csv")
    df = df[df.segment.isin(["Womens E-Mail", "No E-Mail"])]
    tr, te = train_test_split(
        df, test_size=0.3, random_state=42, stratify=df.segment + df.visit.astype(str)
    )
    tr.to_csv(tmp_path / "tr.csv", index=False)
    te.to_csv(tmp_path / "te.csv", index=False)
    assert (
        main(
            [
                "audience",
                "uplift",
                "--train",
                str(tmp_path / "tr.csv"),
                "--test",
                str(tmp_path / "te.csv"),
                "--treatment-col",
                "segment",
                "--outcome-col",
                "visit",
                "--treatment-value",
                "Womens E-Mail",
                "--control-value",
                "No E-Mail",
                "--exclude",
                "conversion",
                "--exclude",
                "spend",
                "--learner",
                "t-logistic",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["qini"] > 0.03  # random targeting: 0.0002 +- 0.015


def test_lookalike_finds_the_seed_pattern():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 4))
    seed = (rng.random(3000) < 1 / (1 + np.exp(-(3 * X[:, 0] - 4)))).astype(int)
    m = LookalikeModel(n_estimators=200).fit(X, seed)
    assert m.auc_ > 0.85 and m.lift_ > 3
    chosen = m.expand(X, seed, top_n=100)
    assert not seed[chosen].any()
    assert X[chosen, 0].mean() > 1.0


def test_lookalike_too_small_seed():
    with pytest.raises(ValueError, match="the seed has 3 of 100 users"):
        LookalikeModel().fit(np.zeros((100, 2)), np.r_[np.ones(3), np.zeros(97)])


def test_cli_lookalike_file_and_unknown_seed(tmp_path, capsys):
    rng = np.random.default_rng(1)
    df = pd.DataFrame(rng.normal(size=(2000, 3)), columns=["a", "b", "c"])
    df["y"] = np.where(rng.random(2000) < 1 / (1 + np.exp(-(3 * df.a - 3))), "yes", "no")
    df.insert(0, "cid", [f"k{i}" for i in range(2000)])
    f = tmp_path / "cust.csv"
    df.to_csv(f, index=False)
    out_ids = tmp_path / "aud.csv"
    assert (
        main(
            [
                "audience",
                "lookalike",
                "--data",
                str(f),
                "--id-col",
                "cid",
                "--seed-col",
                "y",
                "--top-percent",
                "10",
                "--out",
                str(out_ids),
                "--json",
            ]
        )
        == 0
    )
    res = json.loads(capsys.readouterr().out)
    assert res["auc"] > 0.8 and res["expected_lift"] > 2
    aud = pd.read_csv(out_ids)["user_id"]
    assert not set(aud) & set(df.loc[df.y == "yes", "cid"])
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("nobody1\nnobody2\n")
    assert (
        main(
            [
                "audience",
                "lookalike",
                "--data",
                str(f),
                "--id-col",
                "cid",
                "--seed-file",
                str(seeds),
                "--json",
            ]
        )
        == 2
    )
    assert "none of the 2 seed ids is a known user (e.g. 'nobody1')" in capsys.readouterr().err
    assert (
        main(
            [
                "audience",
                "lookalike",
                "--data",
                str(f),
                "--id-col",
                "cid",
                "--seed-col",
                "y",
                "--top",
                "10",
                "--json",
            ]
        )
        == 2
    )
    assert "refusing to export an audience of 10 users" in capsys.readouterr().err


def test_workspace_lookalike_from_raw_seed_ids(loaded_workspace, small_world, tmp_path, capsys):
    ev = pd.read_parquet(small_world / "events.parquet")
    conv = ev.loc[ev.converted == 1, "user_id"].unique()[:150]
    seeds = tmp_path / "seed.txt"
    seeds.write_text("user_id\n" + "\n".join(conv) + "\n")
    assert (
        main(
            [
                "audience",
                "lookalike",
                "-w",
                str(loaded_workspace.path),
                "--seed-file",
                str(seeds),
                "--top",
                "200",
                "--json",
            ]
        )
        == 0
    )
    res = json.loads(capsys.readouterr().out)
    assert res["seed_size"] == len(conv) and res["audience_size"] == 200
    assert 0.5 < res["auc"] <= 1.0


def test_workspace_uplift_uses_the_treatment_column(loaded_workspace, capsys):
    from adwise.cli._main import main as cli

    ws = loaded_workspace
    w = ["--workspace", str(ws.path)]
    # the world logs a randomised treatment: per-user uplift on the workspace
    assert cli(["audience", "uplift", *w, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["users_test"] > 0 and np.isfinite(res["qini"]) and res["split"]
    # without it, one line says what is missing and how to give it
    with ws.connect() as con:
        con.execute("UPDATE events SET treatment = NULL")
    assert cli(["audience", "uplift", *w]) == 2
    assert "needs a randomised 'treatment' column" in capsys.readouterr().err
