"""End to end: synthetic world -> workspace -> CLI train/evaluate/recommend; plain files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from adwise.cli._main import main
from adwise.data import Workspace, write_world


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("delivery")
    write_world(root / "world", n_users=1200, n_ads=50, days=6, seed=5)
    ws = Workspace.init(root / "ws")
    for t in ("users", "ads", "events"):
        ws.ingest(root / "world" / f"{t}.parquet", t)
    return root


def test_train_evaluate_recommend_via_cli(workspace, capsys):
    ws = str(workspace / "ws")
    assert main(["delivery", "train", "-w", ws, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["version"] == "v0001" and 0 < out["metrics"]["ndcg@10"] <= 1
    assert main(["delivery", "evaluate", "-w", ws, "--task", "ranking", "--k", "5",
                 "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert set(res) == {"precision@5", "recall@5", "ndcg@5", "map@5", "coverage@5"}
    user = pd.read_parquet(workspace / "world" / "users.parquet")["user_id"].iloc[0]
    assert main(["delivery", "recommend", "-w", ws, "--user", user, "--user", "new-person",
                 "--k", "3", "--json"]) == 0
    recs = json.loads(capsys.readouterr().out)["recommendations"]
    assert [r["user_id"] for r in recs] == [user, "new-person"]
    assert recs[1]["known_user"] is False and len(recs[1]["ads"]) == 3
    ev = [a["expected_value"] for a in recs[0]["ads"] if a["eligible"]]
    assert ev == sorted(ev, reverse=True)
    for a in recs[0]["ads"]:
        assert {"p_ctr", "p_cvr", "bid", "expected_value", "factors"} <= set(a)


def test_rest_recommend_inline_and_in_a_thread(workspace):
    from fastapi.testclient import TestClient

    from adwise.delivery import train_workspace
    from adwise.service import KeyStore, create_app

    ws = Workspace(workspace / "ws")
    if ws.registry.current("delivery") is None:
        train_workspace(ws, evaluate=False)
    key, _ = KeyStore(ws.path).create("rest-test", "read")
    user = pd.read_parquet(workspace / "world" / "users.parquet")["user_id"].iloc[0]
    ads = pd.read_parquet(workspace / "world" / "ads.parquet")["ad_id"].astype(str).tolist()
    auth = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(ws)) as c:
        # small: ranked on the event loop; no candidates: the recommender's, in a thread
        small = c.post("/v1/delivery/recommend", headers=auth,
                       json={"users": [user], "candidates": ads[:20], "k": 3, "placement": "top"})
        pooled = c.post("/v1/delivery/recommend", headers=auth, json={"users": [user], "k": 3})
        bad = c.post("/v1/delivery/recommend", headers=auth,
                     json={"users": [user], "candidates": ["no-such-ad"]})
    assert small.status_code == 200 and pooled.status_code == 200
    got = small.json()["recommendations"][0]["ads"]
    assert len(got) == 3 and {a["ad_id"] for a in got} <= set(ads[:20])
    ev = [a["expected_value"] for a in got if a["eligible"]]
    assert ev == sorted(ev, reverse=True)
    assert len(pooled.json()["recommendations"][0]["ads"]) == 3
    assert bad.status_code == 400 and "unknown candidate ad" in bad.text


def test_evaluate_plain_files_rating_and_ranking(tmp_path, capsys):
    rng = np.random.default_rng(0)
    n_u, n_i = 120, 60
    taste = rng.normal(size=(n_u, 2)) @ rng.normal(size=(2, n_i))
    u, i = np.nonzero(rng.random((n_u, n_i)) < 0.3)
    r = np.clip(np.round(3 + taste[u, i]), 1, 5)
    df = pd.DataFrame({"uid": u, "iid": i, "stars": r})
    test = rng.random(len(df)) < 0.2
    df[~test].to_csv(tmp_path / "tr.csv", index=False)
    df[test].to_csv(tmp_path / "te.csv", index=False)
    base = ["delivery", "evaluate", "--train", str(tmp_path / "tr.csv"), "--test",
            str(tmp_path / "te.csv"), "--user-col", "uid", "--item-col", "iid"]
    assert main([*base, "--task", "rating", "--rating-col", "stars", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert set(res) == {"rmse", "mae"}
    assert res["rmse"] < float(np.std(df.stars[test]))
    assert main([*base, "--task", "ranking", "--model", "item_knn", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert set(res) == {"precision@10", "recall@10", "ndcg@10", "map@10", "coverage@10"}


def test_bad_input_exit_2(tmp_path, capsys):
    pd.DataFrame({"u": [1, 2, 3], "i": [1, 2, 3], "r": [1, 5, 9]}).to_csv(tmp_path / "a.csv",
                                                                           index=False)
    args = ["delivery", "evaluate", "--train", str(tmp_path / "a.csv"), "--test",
            str(tmp_path / "a.csv"), "--user-col", "u", "--item-col", "i", "--task", "rating",
            "--rating-col", "r", "--rating-scale", "1,5", "--json"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "1 rating(s) lie outside the declared scale [1, 5]" in err
    assert main([*args[:-5], "--task", "rating", "--json"]) == 2
    assert "--task rating needs --rating-col" in capsys.readouterr().err
    assert main([*args[:-5], "--task", "ranking", "--user-col", "nope", "--json"]) == 2
    assert "no column 'nope'" in capsys.readouterr().err
