"""The demo step, the report hook and the REST router on a loaded workspace."""

from __future__ import annotations

from creative_briefs import AUDIENCE_EN, BRIEF_EN


def test_demo_and_report(loaded_workspace, small_world, monkeypatch):
    from adwise._plugins import DemoContext
    from adwise.creative._demo import demo, report

    monkeypatch.setenv("ADWISE_DEMO_CREATIVE_BACKEND", "template")
    res = demo(DemoContext(workspace=loaded_workspace, world_dir=small_world))
    assert res.metrics["returned"] == 5 and res.metrics["backend"] == "template"
    assert any("creative:" in line for line in res.lines)
    assert res.sections and "data-vl=" in "".join(s.html for s in res.sections)
    titles = [s.title for s in report(loaded_workspace)]
    assert "Creative: stored creatives" in titles


def test_router_generate_approve_serve(loaded_workspace):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from adwise.creative._api import router

    class State:
        workspace = loaded_workspace

    from adwise.service._app import _install_error_handlers

    app = FastAPI()
    app.include_router(router(State()), prefix="/v1")
    _install_error_handlers(app)  # as the service answers: bad input is a 400
    c = TestClient(app)
    r = c.post("/v1/creative/generate", json={"product": BRIEF_EN, "audience": AUDIENCE_EN, "n": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["backend"] == "template" and len(body["creatives"]) == 3
    cid = body["creatives"][0]["id"]
    assert c.get("/v1/creative/approved").json()["creatives"] == []
    assert c.post(f"/v1/creative/creatives/{cid}/approve").json()["status"] == "approved"
    served = c.get("/v1/creative/approved").json()["creatives"]
    assert [x["creative_id"] for x in served] == [cid]
    assert c.post("/v1/creative/generate", json={"product": BRIEF_EN, "n": 0}).status_code == 422
    bad = c.post("/v1/creative/generate", json={"product": ";", "audience": "x"})
    assert bad.status_code == 400 and "has no product name" in bad.json()["detail"]  # was a 500
    assert (
        c.post("/v1/creative/generate", json={"product": BRIEF_EN, "lang": "fr"}).status_code == 422
    )
