"""``--tune`` for ranking: the inner split, the search on a planted structure, the CLI and the
stored, reloadable tuned model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from adwise._tuning import Budget
from adwise.cli._main import main
from adwise.data import Workspace, write_world
from adwise.delivery import load_delivery
from adwise.delivery._implicit import make_recommender
from adwise.delivery._tune import inner_split, tune_ranking
from adwise.metrics import ndcg_at_k


def test_inner_split_holds_out_each_users_latest_share():
    users = ["a"] * 10 + ["b"] * 3 + ["c"]
    order = [*range(10, 0, -1), 1, 3, 2, 7]
    val = inner_split(users, order)
    # a: the two latest (orders 10, 9 = rows 0, 1); b: its latest (row 11); c: alone, kept
    assert np.flatnonzero(val).tolist() == [0, 1, 11]
    rnd = inner_split(users, None, seed=4)
    assert rnd[:10].sum() == 2 and rnd[10:13].sum() == 1 and not rnd[13]
    assert (inner_split(users, None, seed=4) == rnd).all()


def _blocks(seed=0, n_users=150, n_groups=5, per=40, n=4000):
    """Users in groups, each group clicking its own block of items (a known structure)."""
    rng = np.random.default_rng(seed)
    u = rng.integers(0, n_users, n)
    own = rng.random(n) < 0.85
    item = np.where(own, (u % n_groups) * per + rng.integers(0, per, n),
                    rng.integers(0, n_groups * per, n))
    return pd.DataFrame({"u": u.astype(str), "i": item.astype(str), "t": np.arange(n)})


def test_tune_ranking_recovers_the_blocks_no_worse_than_defaults():
    df = _blocks()
    params, t = tune_ranking(df.u, df.i, Budget(trials=6), model="hybrid", order=df.t)
    assert set(params) == {"ease", "item_knn", "als"}
    assert t["validation"].startswith("each user's latest 20 %")
    for name in params:
        assert t[name]["n_trials"] == 2
        assert t[name]["score"] >= t[name]["default_score"]
        defaults = make_recommender(name).get_params()
        assert all(defaults[k] == v for k, v in t[name]["trials"][0]["params"].items())
    # on a block structure every tuned model ranks far above a random ranking of the items
    # on the same validation rows
    val = inner_split(df.u, df.t)
    rel = df.i[val].groupby(df.u[val]).agg(list)
    rng = np.random.default_rng(0)
    items = df.i.unique()
    chance = ndcg_at_k([rng.choice(items, 10, replace=False) for _ in rel], rel.tolist(), 10)
    for name in params:
        assert t[name]["score"] > 2.5 * chance, (name, t[name]["score"], chance)


def test_tune_refuses_too_little_data_and_unknown_models():
    df = pd.DataFrame({"u": ["a", "b"], "i": ["x", "y"]})
    with pytest.raises(Exception, match="too few users with two or more interactions"):
        tune_ranking(df.u, df.i, Budget(trials=2), model="ease")
    with pytest.raises(Exception, match="--tune searches the ranking models"):
        tune_ranking(df.u, df.i, Budget(trials=2), model="svd")


def test_cli_evaluate_with_tune(tmp_path, capsys):
    df = _blocks(1)
    df.iloc[:3200].to_csv(tmp_path / "tr.csv", index=False)
    df.iloc[3200:].to_csv(tmp_path / "te.csv", index=False)
    args = ["delivery", "evaluate", "--train", str(tmp_path / "tr.csv"), "--test",
            str(tmp_path / "te.csv"), "--task", "ranking", "--user-col", "u", "--item-col", "i"]
    assert main([*args, "--model", "ease", "--tune", "--budget", "3t", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tuning"]["ease"]["n_trials"] == 3 and 0 < out["ndcg@10"] <= 1
    assert out["tuning"]["validation"].startswith("a random 20 %")
    rc = main(["delivery", "evaluate", "--train", str(tmp_path / "tr.csv"), "--test",
               str(tmp_path / "te.csv"), "--task", "rating", "--user-col", "u", "--item-col",
               "i", "--rating-col", "t", "--tune"])
    assert rc == 2
    assert "--tune searches ranking models (--task ranking)" in capsys.readouterr().err


def test_tuned_workspace_model_is_saved_with_its_search_and_serves(tmp_path, capsys):
    write_world(tmp_path / "w", n_users=600, n_ads=40, days=5, seed=3)
    ws = Workspace.init(tmp_path / "ws")
    for t in ("users", "ads", "events"):
        ws.ingest(tmp_path / "w" / f"{t}.parquet", t)
    assert main(["delivery", "train", "-w", str(ws.path), "--model", "item_knn", "--tune",
                 "--budget", "2t", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    chosen = out["metrics"]["tuning"]["params"]["item_knn"]
    meta = ws.registry.get("delivery").metadata
    assert meta["metrics"]["tuning"]["params"]["item_knn"] == chosen
    d = load_delivery(ws)
    assert d.recommender.n_neighbors == chosen["n_neighbors"]
    assert d.recommender.shrink == pytest.approx(chosen["shrink"])
