"""Demo, report and REST router of the behaviour capability."""

from __future__ import annotations

import pytest

from adwise._plugins import DemoContext
from adwise.behavior._demo import demo, report


@pytest.mark.slow
def test_demo_report_and_router(loaded_workspace, small_world):
    res = demo(DemoContext(workspace=loaded_workspace, world_dir=small_world))
    assert "oracle_auc" in res.metrics and res.metrics["auc"] > 0.55
    assert any("top click drivers" in line for line in res.lines)
    secs = report(loaded_workspace)
    assert [s.title for s in secs] == [s.title for s in res.sections]
    assert "data-vl=" in secs[0].html

    fastapi = pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from adwise.behavior._api import router
    from adwise.service._state import ServiceState

    app = fastapi.FastAPI()
    app.include_router(router(ServiceState(loaded_workspace)))
    client = TestClient(app)
    ev = loaded_workspace.query("SELECT user_id, ad_id, ts, placement FROM events LIMIT 3")
    body = {"events": [{"user_id": r.user_id, "ad_id": r.ad_id, "ts": str(r.ts),
                        "placement": r.placement} for r in ev.itertuples()], "explain": 2}
    resp = client.post("/behavior/predict", json=body)
    assert resp.status_code == 200, resp.text
    preds = resp.json()["predictions"]
    assert len(preds) == 3 and 0 < preds[0]["p_click"] < 1 and len(preds[0]["reasons"]) == 2
    assert client.post("/behavior/predict", json={"events": []}).status_code == 422
    assert client.get("/behavior/model").json()["version"] == "v0001"


def test_report_empty_without_model(workspace):
    assert report(workspace) == []
