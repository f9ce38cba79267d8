"""Every workspace command on a minimal real-shaped log: events with only ``ts, user_id,
ad_id, clicked`` (+ ``placement``), ads with only ``ad_id``, no users table, timestamps at
hour resolution (many events share one), integer-coded ids.

Each command exits 0 with sensible output, or (only where the data cannot answer it) exits 2
with one line naming what is missing.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from adwise.cli import main


def _minimal_world(tmp_path):
    """The synthetic world cut down to the required columns, stamped to the hour, with
    integer-coded user and ad ids."""
    from adwise.data import generate_world

    w = generate_world(n_users=600, n_ads=30, days=3, seed=5)
    ev = w.events
    users = {u: i + 1000 for i, u in enumerate(pd.unique(ev["user_id"]))}
    ads = {a: i + 15000 for i, a in enumerate(pd.unique(w.ads["ad_id"]))}
    out = pd.DataFrame({
        "ts": pd.to_datetime(ev["ts"]).dt.floor("h").dt.strftime("%Y-%m-%dT%H:00:00"),
        "user_id": ev["user_id"].map(users),
        "ad_id": ev["ad_id"].map(ads),
        "placement": "pos" + pd.factorize(ev["placement"])[0].astype(str),
        "clicked": ev["clicked"].astype(int),
    })
    out.to_csv(tmp_path / "events.csv", index=False)
    pd.DataFrame({"ad_id": sorted(ads.values())}).to_csv(tmp_path / "ads.csv", index=False)
    return out


def _avazu(tmp_path, shared_data):
    """The Avazu sample mapped as a user would (the README's "Your own logs"): hour (YYMMDDHH)
    -> ts, device_ip -> user_id, C14 -> ad_id, pos + banner_pos -> placement, click ->
    clicked; ads with ad_id only."""
    a = pd.read_csv(shared_data / "avazu" / "avazu_train_head10k.csv", dtype=str)
    ev = pd.DataFrame({
        "hour": a["hour"], "device_ip": a["device_ip"], "C14": a["C14"],
        "placement": "pos" + a["banner_pos"], "click": a["click"].astype(int)})
    ev.to_csv(tmp_path / "events.csv", index=False)
    pd.DataFrame({"ad_id": sorted(a["C14"].unique())}).to_csv(tmp_path / "ads.csv", index=False)
    return ev.rename(columns={"hour": "ts", "device_ip": "user_id", "C14": "ad_id",
                              "click": "clicked"})


def _run(capsys, *args):
    rc = main([str(a) for a in args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _json(capsys, *args):
    rc, out, err = _run(capsys, *args, "--json")
    assert rc == 0, f"{args}: exit {rc}: {err[-500:]}"
    return json.loads(out)


def _every_command(tmp_path, capsys, events: pd.DataFrame, ingest_map: list[str]):
    ws = tmp_path / "ws"
    w = ["--workspace", ws]
    assert _run(capsys, "init", ws)[0] == 0
    rc, _, err = _run(capsys, "ingest", tmp_path / "events.csv", "--table", "events", *w,
                      *ingest_map)
    assert rc == 0, err
    assert _run(capsys, "ingest", tmp_path / "ads.csv", "--table", "ads", *w)[0] == 0
    user = str(events["user_id"].value_counts().index[0])
    seeds = tmp_path / "seeds.txt"
    # every clicker: a seed defined by a behaviour column
    seeds.write_text("\n".join(map(str, events.loc[events["clicked"] == 1, "user_id"]
                                   .drop_duplicates())) + "\n")

    # behaviour: hour-resolution stamps either split by time or say they fell back
    b = _json(capsys, "behavior", "train", *w)
    assert 0.5 < b["auc"] <= 1.0 and b["split"]
    assert b["split"].startswith(("by time", "random by user"))
    assert _json(capsys, "behavior", "evaluate", *w)["split"] == b["split"]
    rows = tmp_path / "score.csv"
    events.head(20).to_csv(rows, index=False)
    p = _json(capsys, "behavior", "predict", "--input", rows, "--raw-ids", *w)
    assert p["rows"] == 20 and all(0 < r["p_click"] < 1 for r in p["predictions"])
    # these are stored events: said, and their own click left out of the history
    assert p["stored_events"] == 20
    # raw ids given as stored ones: almost none match the workspace, and that is said
    p = _json(capsys, "behavior", "predict", "--input", rows, *w)
    assert any("of the rows' user_id values are users of this workspace" in x
               for x in p["warnings"])

    d = _json(capsys, "delivery", "train", *w)
    assert d["n_items"] > 0 and "split" in d["metrics"]
    r = _json(capsys, "delivery", "recommend", "--user", user, *w)
    rec = r["recommendations"][0]
    assert rec["known_user"] and rec["ads"] and rec["ranked_by"].startswith("pCTR")
    assert all(a["bid"] is None for a in rec["ads"])
    rc, out, _ = _run(capsys, "delivery", "recommend", "--user", user, *w)
    assert rc == 0 and "ranked by pCTR" in out
    r = _json(capsys, "delivery", "recommend", "--user", "nobody-1", "--user", "nobody-2", *w)
    assert r["warnings"] and "0 of 2 users are users of this workspace" in r["warnings"][0]

    i = _json(capsys, "interests", "train", *w)
    assert i["interest_unit"] == "ad_id" and i["text_topics"] is False
    s = _json(capsys, "interests", "show", "--user", user, *w)
    assert s["interests"] and s["interests"][0]["interest"].startswith(("ad ", "other ads"))

    ids = tmp_path / "my_ids.txt"
    ids.write_text("\n".join(map(str, events["user_id"].unique())) + "\n")
    exp = tmp_path / "segments.csv"
    seg = _json(capsys, "audience", "segment", "--export", exp, "--raw-ids", ids, *w)
    # activation: the export carries the owner's raw ids, not pseudonyms
    got = pd.read_csv(exp, dtype=str)
    assert len(got) == seg["export"]["rows"] > 0 and seg["export"]["not_in_raw_ids"] == 0
    assert set(got["user_id"]) <= set(events["user_id"].astype(str))
    names = [q["name"] for q in seg["profiles"]]
    assert seg["k"] >= 2 and len(set(names)) == len(names)
    assert all("ctr" in q and q["size"] > 0 for q in seg["profiles"])
    la_out = tmp_path / "lookalike.csv"
    la = _json(capsys, "audience", "lookalike", "--seed-file", seeds, "--top-percent", "30",
               "--out", la_out, "--raw-ids", ids, *w)
    assert la["audience_size"] > 0 and 0.5 < la["auc"] <= 1.0
    assert set(pd.read_csv(la_out, dtype=str)["user_id"]) <= set(events["user_id"].astype(str))
    # the seed are the clickers, so the click count defines it: left out, and said
    assert "clicks" in la["excluded_features"] and la["warnings"]
    rc, _, err = _run(capsys, "audience", "uplift", *w)
    assert rc == 2 and "needs a randomised 'treatment' column" in err
    assert len(err.strip().splitlines()) <= 3  # one message (wrapped by the terminal)

    pt = _json(capsys, "placement", "train", *w)
    assert pt["best_cell_ctr_low"] <= pt["best_cell_ctr"] <= pt["best_cell_ctr_high"]
    assert pt["best_cell_impressions"] >= pt["best_cell_clicks"] >= 0
    pr = _json(capsys, "placement", "recommend", "--by", "placement", *w)
    for c in pr["cells"]:
        n, k = c["impressions"], c["clicks"]
        assert c["ctr_low"] <= k / n <= c["ctr_high"]
    rc, _, err = _run(capsys, "placement", "allocate", *w)
    assert rc == 2 and "need a 'cost' column" in err

    rc, out, err = _run(capsys, "report", "--out", tmp_path / "r.html", *w)
    assert rc == 0, err
    html = (tmp_path / "r.html").read_text()
    assert "Placement" in html and "Audience" in html and "after None" not in html

    _serve(ws, user)


def _serve(ws_path, user):
    from fastapi.testclient import TestClient

    from adwise.data import Workspace
    from adwise.service import KeyStore, create_app

    ws = Workspace.open(ws_path)
    key, _ = KeyStore(ws.path).create("e2e", "read")
    h = {"Authorization": f"Bearer {key}"}
    sid = ws.pseudonym(user)
    with TestClient(create_app(ws), raise_server_exceptions=False) as c:
        assert c.get("/healthz").status_code == 200
        checks = [
            c.get("/v1/behavior/model", headers=h),
            c.post("/v1/behavior/predict", headers=h,
                   json={"events": [{"user_id": sid, "ad_id": "1"}]}),
            c.post("/v1/delivery/recommend", headers=h, json={"users": [user]}),
            c.get(f"/v1/interests/users/{user}", headers=h),
            c.get("/v1/audience/segments", headers=h),
            c.get("/v1/placement/recommend", headers=h),
        ]
        for resp in checks:
            assert resp.status_code == 200, (resp.request.url, resp.text[:300])
        rec = checks[2].json()["recommendations"][0]
        assert rec["ranked_by"].startswith("pCTR") and rec["ads"]
        assert checks[5].json()["cells"][0]["clicks"] is not None


def test_minimal_synthetic_log_runs_every_command(tmp_path, capsys):
    ev = _minimal_world(tmp_path)
    assert ev["ts"].nunique() < len(ev) / 20  # many events share one hour
    _every_command(tmp_path, capsys, ev, [])


@pytest.mark.slow  # ~40 s: 7,302 users through every capability
@pytest.mark.shared_data
def test_avazu_sample_mapped_runs_every_command(tmp_path, capsys, shared_data):
    ev = _avazu(tmp_path, shared_data)
    _every_command(tmp_path, capsys, ev, ["--map", "hour=ts", "--map", "device_ip=user_id",
                                          "--map", "C14=ad_id", "--map", "click=clicked",
                                          "--ts-format", "%y%m%d%H"])
    info = _json(capsys, "workspace", "info", "--workspace", tmp_path / "ws")
    assert info["first_event"].startswith("2014-10-21")  # --ts-format read YYMMDDHH
    # one hour of log: behaviour had to fall back, and said why
    got = json.loads(
        (tmp_path / "ws" / "models" / "behavior" / "v0001" / "metadata.json").read_text())
    assert "only 1 distinct timestamp" in json.dumps(got)
    assert np.isfinite(got["metrics"]["auc"])
