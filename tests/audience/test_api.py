"""The REST routers of interests and audience, mounted on a bare FastAPI app."""

from __future__ import annotations

import pytest

pytest.importorskip("httpx", reason="httpx (the test client's transport) is not installed")


def test_routers(loaded_workspace, small_world):
    import pandas as pd
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from adwise.audience import segment_workspace
    from adwise.audience._api import router as audience_router
    from adwise.interests._api import router as interests_router
    from adwise.service._state import ServiceState

    ws = loaded_workspace
    segment_workspace(ws)  # also trains interests
    state = ServiceState(ws)
    app = FastAPI()
    app.include_router(interests_router(state), prefix="/v1")
    app.include_router(audience_router(state), prefix="/v1")
    c = TestClient(app)
    user = str(pd.read_parquet(small_world / "users.parquet")["user_id"].iloc[5])
    r = c.get(f"/v1/interests/users/{user}", params={"k": 2})
    assert r.status_code == 200 and len(r.json()["interests"]) == 2
    assert c.get(f"/v1/interests/users/{user}", params={"k": 0}).status_code == 422
    segs = c.get("/v1/audience/segments").json()
    assert segs["k"] == len(segs["profiles"])
    r = c.post("/v1/audience/targets", json={"uplift": [0.1, -0.1, 0.3], "budget": 2})
    assert r.json()["selected"] == [2, 0]
    assert c.post("/v1/audience/targets", json={"uplift": [0.1], "budget": 0}).status_code == 422
