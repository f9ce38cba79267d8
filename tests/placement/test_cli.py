"""End to end through the CLI: synth -> ingest -> train -> recommend/allocate/ope/simulate."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from adwise.cli._main import main


def _run(capsys, args):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_end_to_end(capsys, loaded_workspace, small_world, tmp_path):
    ws = str(loaded_workspace.path)
    code, out, _ = _run(capsys, ["placement", "train", "-w", ws, "--json"])
    assert code == 0
    m = json.loads(out)
    assert m["version"] == "v0001" and m["rows"] > 1000 and m["best_cell_lift"] > 0
    code, out, _ = _run(capsys, ["placement", "recommend", "-w", ws, "--json", "--top", "3"])
    assert code == 0
    rec = json.loads(out)
    assert len(rec["cells"]) == 3
    c0 = rec["cells"][0]
    assert c0["ctr_low"] <= c0["expected_ctr"] <= c0["ctr_high"]
    assert c0["expected_ctr"] >= rec["cells"][1]["expected_ctr"]
    camp = loaded_workspace.query("SELECT campaign_id FROM ads LIMIT 1").iloc[0, 0]
    code, out, _ = _run(capsys, ["placement", "recommend", "-w", ws, "--campaign", camp,
                                 "--json"])
    assert code == 0 and json.loads(out)["group"] == camp
    code, out, _ = _run(capsys, ["placement", "allocate", "-w", ws, "--json"])
    assert code == 0
    al = json.loads(out)
    assert al["ratio"] >= 1.0 and sum(c["spend"] for c in al["cells"]) == pytest.approx(
        al["budget"])
    # OPE on the raw logs
    logs = str(small_world / "events.parquet")
    code, out, _ = _run(capsys, ["placement", "ope", "--logs", logs, "--action-col", "ad_id",
                                 "--reward-col", "clicked", "--propensity-col", "propensity",
                                 "--slot-col", "placement", "--context-cols", "device",
                                 "--policy", "uniform", "--bootstrap", "30", "--json"])
    assert code == 0
    res = json.loads(out)
    for name in ("ips", "snips", "dm", "dr"):
        assert res[f"{name}_ci_low"] <= res[name] <= res[f"{name}_ci_high"]
    assert {"ess", "max_weight", "never_taken_share", "trustworthy"} <= set(res)


def test_ope_bad_input(capsys, tmp_path):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"act": rng.choice(["a", "b"], 200), "r": rng.integers(0, 2, 200),
                       "p": np.full(200, 0.5)})
    df.loc[7, "p"] = 0.0
    df.loc[9, "p"] = 1.5
    f = tmp_path / "logs.csv"
    df.to_csv(f, index=False)
    base = ["placement", "ope", "--logs", str(f), "--action-col", "act", "--reward-col", "r",
            "--json"]
    code, out, err = _run(capsys, [*base, "--propensity-col", "p"])
    assert code == 2 and out == ""
    assert "column 'p': propensities must be in (0, 1]" in err and "row 7" in err
    code, _, err = _run(capsys, [*base, "--propensity-col", "prop"])
    assert code == 2 and "column 'prop': is not in the file" in err
    # a saved policy with mass on an action the logs never contain
    from adwise.data import Workspace
    from adwise.placement import ThompsonSampling, save_policy

    ws = Workspace.init(tmp_path / "ws")
    mv = save_policy(ws, ThompsonSampling(arms=["a", "b", "zz"], random_state=0).fit())
    df["p"] = 0.5
    df.to_csv(f, index=False)
    code, _, err = _run(capsys, [*base, "--propensity-col", "p", "--policy", str(mv.path)])
    assert code == 2 and "on action 'zz', which never appears in column 'act'" in err


def test_simulate(capsys, small_world):
    code, out, _ = _run(capsys, ["placement", "simulate", "--world", str(small_world),
                                 "--rounds", "3000", "--ads", "4", "--json"])
    assert code == 0
    res = json.loads(out)
    pol = res["policies"]
    assert set(pol) == {"thompson", "linucb", "epsilon_greedy", "uniform"}
    assert pol["thompson"]["regret"] < pol["uniform"]["regret"]


def test_simulate_common_random_numbers(small_world):
    """Every policy meets the same clicks: its result does not depend on who ran before it."""
    from adwise.placement import simulate

    kw = dict(rounds=2000, n_ads=3, seed=1)
    one = simulate(small_world, policies=("thompson", "epsilon_greedy"), **kw)["policies"]
    two = simulate(small_world, policies=("epsilon_greedy", "uniform", "thompson",
                                          "linear_thompson"), **kw)["policies"]
    for name in ("thompson", "epsilon_greedy"):
        assert one[name]["regret"] == two[name]["regret"]
    assert two["linear_thompson"]["regret"] < two["uniform"]["regret"]
