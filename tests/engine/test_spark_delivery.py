"""``adwise delivery train --engine spark``: Spark ML implicit ALS saved as the embedded ``als``
model, which ``delivery recommend`` and ``adwise serve`` use without Spark."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from adwise.cli._main import main

SRC = Path(__file__).resolve().parents[2] / "src"


def _checkerboard(seed: int = 0, n_users: int = 120) -> pd.DataFrame:
    """``n_users`` users and 16 ads in two blocks (user and ad parity): every user sees every ad
    twice over ten days and clicks about half of their own block's ads, never the other
    block's."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        # every user clicks: a user without clicks has no factors on either engine
        liked = [a for a in range(u % 2, 16, 2) if rng.random() < 0.5] or [u % 2]
        for a in range(16):
            for rep in range(2):
                rows.append((u, a, int(a in liked and (rep == 0 or rng.random() < 0.8))))
    df = pd.DataFrame(rows, columns=["u", "a", "clicked"])
    start = pd.Timestamp("2026-01-01")
    return pd.DataFrame({
        "ts": start + pd.to_timedelta(rng.uniform(0, 10 * 86400, len(df)), unit="s"),
        "user_id": "u" + df["u"].astype(str), "ad_id": "a" + df["a"].astype(str),
        "clicked": df["clicked"]})


@pytest.fixture()
def block_ws(tmp_path):
    from adwise.data import Workspace

    events = _checkerboard()
    events.to_parquet(tmp_path / "events.parquet")
    ws = Workspace.init(tmp_path / "ws")
    ws.ingest(tmp_path / "events.parquet", "events")
    return ws, events


@pytest.mark.slow  # Spark ML fits on a local[1] session: half a minute
def test_spark_als_recovers_blocks_and_is_served_without_spark(spark, block_ws, tmp_path,
                                                               capsys):
    from fastapi.testclient import TestClient

    from adwise.delivery._implicit import ImplicitALSRecommender
    from adwise.delivery._pipeline import load_delivery, train_workspace
    from adwise.delivery._spark import train_workspace_spark
    from adwise.service import KeyStore, create_app

    ws, events = block_ws
    embedded = train_workspace(ws, model="als")
    res = train_workspace_spark(spark, ws)
    assert set(res) == set(embedded)
    assert (res["n_users"], res["n_items"]) == (120, 16)
    m, e = res["metrics"], embedded["metrics"]
    assert m["engine"] == "spark" and m["split"].startswith("by time (test from ")
    assert set(e) <= set(m)
    # the same test part (Spark's exact quantile is a row's time, pandas' interpolates)
    assert m["recall@10"] == pytest.approx(e["recall@10"], abs=0.05)
    assert m["ndcg@10"] == pytest.approx(e["ndcg@10"], abs=0.05)
    assert m["click_auc"] == pytest.approx(e["click_auc"], abs=0.05)

    # the registry holds the embedded ALS model: factors + id maps, parameters mapped
    meta = ws.registry.get("delivery").metadata
    assert meta["params"]["engine"] == "spark" and meta["params"]["model"] == "als"
    d = load_delivery(ws)
    rec = d.recommender
    assert type(rec) is ImplicitALSRecommender
    assert rec.user_factors_.shape == (120, ImplicitALSRecommender().factors)
    # the block structure: every user's best unseen ads are of their own block
    users = [ws.pseudonym(f"u{u}") for u in range(120)]
    clicked = events[events["clicked"] == 1].groupby("user_id")["ad_id"].agg(set)
    top = rec.recommend(users, k=1, exclude_seen=True)
    for u, ads in enumerate(top):
        if len(set(f"a{a}" for a in range(u % 2, 16, 2)) - clicked[f"u{u}"]):
            assert int(ads[0][1:]) % 2 == u % 2, (u, ads)
    scores = rec.score(users)
    own = np.array([[int(a[1:]) % 2 == u % 2 for a in rec.items_] for u in range(120)])
    assert scores[own].mean() > scores[~own].mean() + 0.3

    # `delivery recommend` ranks with it in a process that never imports PySpark
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    code = ("import sys; from adwise.cli._main import main; rc = main(sys.argv[1:]); "
            "assert 'pyspark' not in sys.modules, 'pyspark was imported'; sys.exit(rc)")
    proc = subprocess.run(
        [sys.executable, "-c", code, "delivery", "recommend", "-w", str(ws.path), "--user", "u3",
         "--k", "3", "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)["recommendations"][0]
    assert out["known_user"] and len(out["ads"]) == 3

    # and the service's route answers with it
    key, _ = KeyStore(ws.path).create("t", "read")
    with TestClient(create_app(ws)) as c:
        resp = c.post("/v1/delivery/recommend", headers={"Authorization": f"Bearer {key}"},
                      json={"users": ["u3"], "k": 3})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["model_version"] == res["version"]
    assert [a["ad_id"] for a in body["recommendations"][0]["ads"]] == \
        [a["ad_id"] for a in out["ads"]]


@pytest.mark.slow  # Spark ML fits on a local[1] session: half a minute
def test_spark_trains_from_a_csv_file_with_raw_ids(spark, tmp_path, capsys):
    from adwise.data import Workspace

    events = _checkerboard()
    empty = Workspace.init(tmp_path / "empty")
    events.to_csv(tmp_path / "events.csv", index=False)
    assert main(["delivery", "train", "-w", str(empty.path), "--engine", "spark",
                 "--events", str(tmp_path / "events.csv"), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert (res["n_users"], res["n_items"]) == (120, 16)
    from adwise.delivery._pipeline import load_delivery

    rec = load_delivery(empty).recommender
    # raw ids were pseudonymised with this workspace's key, as ingest stores them
    assert sorted(rec.users_) == sorted(empty.pseudonym(f"u{u}") for u in range(120))


def test_spark_delivery_refuses_a_bad_click_flag(spark, tmp_path, capsys):
    from adwise.data import Workspace

    events = _checkerboard().head(50)
    events.loc[4, "clicked"] = 3
    # Spark reads microsecond timestamps, not pandas' default nanoseconds
    events.astype({"ts": "datetime64[us]"}).to_parquet(tmp_path / "bad.parquet")
    Workspace.init(tmp_path / "ws")
    assert main(["delivery", "train", "-w", str(tmp_path / "ws"), "--engine", "spark",
                 "--events", str(tmp_path / "bad.parquet")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {tmp_path / 'bad.parquet'}: column 'clicked': 1 row(s) are not 0 or 1. Fix: "
        "give a 0/1 click flag.")


@pytest.mark.parametrize(("more", "want"), [
    (["--engine", "flink"], "--engine must be embedded or spark; got 'flink'."),
    (["--engine", "spark", "--model", "hybrid"],
     "--engine spark trains --model als (Spark ML ALS) without --tune; use --engine embedded "
     "for the other models and for tuning."),
    (["--engine", "spark", "--tune"],
     "--engine spark trains --model als (Spark ML ALS) without --tune; use --engine embedded "
     "for the other models and for tuning."),
    (["--events", "x.parquet"],
     "--events is read by --engine spark; for the embedded engine ingest the file into the "
     "workspace with `adwise ingest`."),
])
def test_delivery_engine_options_are_checked_before_spark_starts(tmp_path, capsys, more, want):
    assert main(["delivery", "train", "-w", str(tmp_path / "ws"), *more]) == 2
    assert capsys.readouterr().err.strip() == f"error: {want}"
