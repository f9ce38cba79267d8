"""The app: every /v1 route behind keys and scopes, error mapping, limits, health, metrics,
OpenAPI and the dashboard's files (in-process client)."""

from __future__ import annotations

import re

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from service_helpers import auth, save_toy, toy_router

from adwise.service import ServiceSettings, create_app, route_scope
from adwise.service._app import API_PREFIX, _check_routes, effective_routes


@pytest.fixture()
def client(keyed_workspace):
    settings = ServiceSettings(max_body_bytes=4096, generation_timeout_s=0.3,
                               generation_prefixes=("/v1/toy/slow",))
    app = create_app(keyed_workspace, settings, extra_routers=[toy_router])
    with TestClient(app, raise_server_exceptions=False) as c:
        c.keys = keyed_workspace.keys
        c.ws = keyed_workspace
        yield c


def v1_operations(app):
    """(method, concrete path, route) for every operation under /v1, as served."""
    out = []
    for r in effective_routes(app):
        path = getattr(r, "path", "") or ""
        if not path.startswith(API_PREFIX):
            continue
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        for m in sorted(getattr(r, "methods", None) or ()):
            if m != "HEAD":
                out.append((m, concrete, r))
    return out


def test_every_v1_route_refuses_missing_wrong_and_revoked_keys(client):
    ops = v1_operations(client.app)
    # the service's own routes and the toy capability's are all there
    assert {("GET", "/v1/whoami"), ("POST", "/v1/toy/score"), ("DELETE", "/v1/toy/cache")} <= {
        (m, p) for m, p, _ in ops}
    for method, path, _ in ops:
        for headers in ({}, auth("adw_kdeadbeef_wrong"), auth(client.keys["revoked"]),
                        {"Authorization": f"Basic {client.keys['admin']}"}):
            r = client.request(method, path, headers=headers, json={})
            assert r.status_code == 401, (method, path, headers, r.text)
            assert r.headers["www-authenticate"] == "Bearer"


def test_read_keys_get_403_on_admin_routes_and_admin_keys_pass_auth(client):
    admin_routes = set()
    for method, path, route in v1_operations(client.app):
        needed = route_scope(route)
        r = client.request(method, path, headers=auth(client.keys["read"]), json={})
        if needed == "admin":
            admin_routes.add((method, path))
            assert r.status_code == 403, (method, path)
            assert "needs a key with scope 'admin'; the key 'reader' has scope 'read'" in \
                r.json()["detail"]
        else:
            assert r.status_code not in (401, 403), (method, path, r.text)
        r = client.request(method, path, headers=auth(client.keys["admin"]), json={})
        assert r.status_code not in (401, 403), (method, path, r.text)
    assert admin_routes >= {
        ("POST", "/v1/models/x/promote"), ("POST", "/v1/models/x/rollback"),
        ("POST", "/v1/toy/reward"), ("DELETE", "/v1/toy/cache"), ("GET", "/v1/toy/secret"),
    }


def test_a_v1_route_without_the_key_check_is_refused_at_build(keyed_workspace):
    app = create_app(keyed_workspace)
    bare = APIRouter()
    bare.add_api_route("/v1/leak", lambda: {"leak": True})
    app.include_router(bare)
    with pytest.raises(RuntimeError, match=r"route /v1/leak is under /v1 but has no API-key"):
        _check_routes(app, app.state.auth)


def test_scoring_and_error_mapping(client):
    h = auth(client.keys["read"])
    r = client.post("/v1/toy/score", json={"rows": [[1, 2, 3]]}, headers=h)
    assert r.status_code == 404
    assert r.json()["detail"].startswith("no promoted 'toy' model in this workspace")
    save_toy(client.ws, 2)
    r = client.post("/v1/toy/score", json={"rows": [[1, 2, 3], [0, 0, 1]]}, headers=h)
    assert r.status_code == 200 and r.json() == {"scores": [12.0, 2.0], "n": 2}
    # InputError from library code -> 400 with its message
    r = client.post("/v1/toy/score", json={"rows": [[1, 2]]}, headers=h)
    assert r.status_code == 400 and r.json() == {"detail": "each row needs 3 numbers; got 2."}
    # malformed / out-of-bounds input -> 422, never 500
    for body in (b"{not json", b"[]", b'{"rows": "x"}', b'{"rows": []}',
                 b'{"rows": [[1e999, 1, 1]]}', b"\xff\xfe"):
        r = client.post("/v1/toy/score", content=body, headers={
            **h, "content-type": "application/json"})
        assert r.status_code in (400, 422), (body, r.status_code, r.text)
    r = client.post("/v1/toy/score", json={"rows": [[1, 1, 1]] * 101}, headers=h)
    assert r.status_code == 422
    assert client.get("/v1/toy/absent", headers=h).status_code == 404


def test_body_limit_by_header_and_by_stream(client):
    h = auth(client.keys["read"])
    big = b'{"rows": [' + b",".join([b"[1,2,3]"] * 1000) + b"]}"
    r = client.post("/v1/toy/score", content=big, headers={**h,
                                                            "content-type": "application/json"})
    assert r.status_code == 413
    assert "larger than the service's limit of 4096 bytes" in r.json()["detail"]

    def chunks():  # no Content-Length: counted while received
        for _ in range(10):
            yield b" " * 1000

    r = client.post("/v1/toy/score", content=chunks(), headers={
        **h, "content-type": "application/json"})
    assert r.status_code == 413


def test_generation_time_limit(client):
    r = client.post("/v1/toy/slow", headers=auth(client.keys["read"]))
    assert r.status_code == 504
    assert r.json()["detail"].startswith("generation took longer than the service's limit of "
                                         "0.3 s")


def test_whoami_models_promote_rollback(client):
    ra, rr = auth(client.keys["admin"]), auth(client.keys["read"])
    assert client.get("/v1/whoami", headers=rr).json() == {
        "id": client.get("/v1/whoami", headers=rr).json()["id"], "name": "reader",
        "scope": "read"}
    save_toy(client.ws, 1)
    save_toy(client.ws, 2)
    models = client.get("/v1/models", headers=rr).json()["models"]
    assert [(m["version"], m["current"]) for m in models] == [("v0001", False), ("v0002", True)]
    r = client.post("/v1/models/toy/promote", json={"version": "v0001"}, headers=ra)
    assert r.json() == {"capability": "toy", "current": "v0001"}
    assert client.get("/v1/toy/info", headers=rr).json() == {"n": 1}
    r = client.post("/v1/models/toy/rollback", headers=ra)
    assert r.json() == {"capability": "toy", "current": "v0002"}
    assert client.get("/v1/toy/info", headers=rr).json() == {"n": 2}
    r = client.post("/v1/models/toy/promote", json={"version": "v0009"}, headers=ra)
    assert r.status_code == 400
    assert r.json()["detail"] == "no version 'v0009' of 'toy'; have: v0001, v0002."
    r = client.post("/v1/models/Bad!/promote", json={"version": "v0001"}, headers=ra)
    assert r.status_code == 422


def test_report_sections_live(client):
    r = client.get("/v1/report", headers=auth(client.keys["read"]))
    assert r.status_code == 200
    titles = [s["title"] for s in r.json()["sections"]]
    assert titles[0] == "Data"


def test_health_metrics_openapi(client):
    h = client.get("/healthz")
    assert h.status_code == 200 and h.json()["status"] == "ok"
    client.get("/v1/whoami", headers=auth(client.keys["read"]))
    client.get("/v1/whoami")
    text = client.get("/metrics").text
    assert 'adwise_http_requests_total{method="GET",route="/v1/whoami",status="200"} 1' in text
    assert 'adwise_http_requests_total{method="GET",route="/v1/whoami",status="401"} 1' in text
    assert 'adwise_http_request_duration_seconds_bucket{method="GET",route="/v1/whoami",' \
           'le="+Inf"} 2' in text
    sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_]+="[^"]*",?)*\})? '
                        r'[-+]?[0-9.e+-]+$|^[+-]Inf$')
    for line in text.strip().splitlines():
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or sample.match(line), line
    spec = client.get("/openapi.json").json()
    ops = spec["paths"]["/v1/toy/score"]["post"]
    assert ops["x-adwise-scope"] == "read" and ops["security"] == [{"ApiKey": []}]
    assert spec["paths"]["/v1/toy/reward"]["post"]["x-adwise-scope"] == "admin"
    assert {"401", "403", "413"} <= set(ops["responses"])
    assert spec["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"


def test_dashboard_files_are_served_without_cdn(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    js = client.get("/dashboard.js")
    css = client.get("/dashboard.css")
    assert js.status_code == css.status_code == 200
    for body in (page.text, js.text, css.text):
        assert "http://" not in body and "https://" not in body
