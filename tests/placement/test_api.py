"""REST router: recommend, allocate, and the bandit decide/update loop persisted in the registry."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="the REST service is an optional extra")


def test_router(loaded_workspace):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from adwise.placement import ThompsonSampling, save_policy, train
    from adwise.placement._api import router
    from adwise.service._state import ServiceState

    train(loaded_workspace, group_col=None)
    save_policy(loaded_workspace, ThompsonSampling(arms=["a", "b"], random_state=0).fit())
    app = FastAPI()
    app.include_router(router(ServiceState(loaded_workspace)))
    c = TestClient(app)
    rec = c.get("/placement/recommend", params={"top": 2}).json()
    assert len(rec["cells"]) == 2 and rec["cells"][0]["low"] <= rec["cells"][0]["expected"]
    assert c.get("/placement/recommend", params={"top": 0}).status_code == 422
    assert c.post("/placement/allocate", json={"budget": 50}).json()["ratio"] >= 1.0
    tiny = c.post("/placement/allocate", json={"budget": 5e-324})  # was a 500 (brentq)
    assert tiny.status_code == 200 and tiny.json()["expected"] < 1e-300
    d = c.post("/placement/bandit/decide", json={}).json()
    assert d["action"] in ("a", "b") and 0 < d["propensity"] <= 1
    u = c.post("/placement/bandit/update",
               json={"action": d["action"], "reward": 1, "persist": True}).json()
    assert u["n_updates"] == 1 and u["saved_version"] == "v0002"
    assert c.post("/placement/bandit/decide", json={}).json()["version"] == "v0002"
