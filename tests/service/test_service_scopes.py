"""Scopes by enumeration: every route of the served OpenAPI document that changes state refuses
a read key (403); a route that only reads, scores or decides is listed here by name.

A new POST/PUT/PATCH/DELETE route is taken to write until it is added to ``READS`` below, so a
writing route that forgets its scope check fails this test.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from service_helpers import auth

from adwise.service import create_app

# Non-GET operations that change nothing (scoring, ranking, deciding, planning).
READS = {
    ("post", "/v1/behavior/predict"): "scores events",
    ("post", "/v1/delivery/recommend"): "ranks ads",
    ("post", "/v1/placement/allocate"): "plans a budget",
    ("post", "/v1/placement/bandit/decide"): "draws an action; the policy is not updated",
    ("post", "/v1/audience/targets"): "selects from the given uplifts",
}
# Operations that write only when asked to: (the writing request, the reading request).
SOMETIMES = {
    ("post", "/v1/creative/generate"): (
        {"product": "Green tea: organic, 20 bags, $5", "audience": "students", "n": 2,
         "backend": "template", "store": True},
        {"product": "Green tea: organic, 20 bags, $5", "audience": "students", "n": 2,
         "backend": "template"},
    ),
}
WRITES_METHODS = {"post", "put", "patch", "delete"}


@pytest.fixture()
def client(keyed_workspace):
    with TestClient(create_app(keyed_workspace), raise_server_exceptions=False) as c:
        c.keys = keyed_workspace.keys
        yield c


def _operations(client) -> list[tuple[str, str]]:
    spec = client.get("/openapi.json").json()
    return [(m, p) for p, ops in spec["paths"].items() if p.startswith("/v1")
            for m in ops if m in WRITES_METHODS | {"get"}]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def test_every_writing_route_refuses_a_read_key(client):
    ops = _operations(client)
    listed = set(READS) | set(SOMETIMES)
    assert listed <= set(ops), f"listed but not served: {sorted(listed - set(ops))}"
    writing = [(m, p) for m, p in ops if m in WRITES_METHODS and (m, p) not in listed]
    assert ("post", "/v1/placement/bandit/update") in writing  # the enumeration sees them
    assert len(writing) >= 5
    for method, path in writing:
        r = client.request(method.upper(), _concrete(path), json={},
                           headers=auth(client.keys["read"]))
        assert r.status_code == 403, (method, path, r.status_code, r.text[:200])
        assert "needs a key with scope 'admin'; the key 'reader' has scope 'read'" in \
            r.json()["detail"]
    for method, path in [*READS, *(op for op in ops if op[0] == "get")]:
        r = client.request(method.upper(), _concrete(path), json={},
                           headers=auth(client.keys["read"]))
        assert r.status_code != 403, (method, path, r.text[:200])


def _stored(client) -> int:
    r = client.get("/v1/creative/creatives", headers=auth(client.keys["read"]))
    assert r.status_code == 200, r.text
    return len(r.json()["creatives"])


def test_sometimes_writing_routes_refuse_the_write_to_a_read_key(client):
    for (method, path), (write_body, read_body) in SOMETIMES.items():
        before = _stored(client)
        r = client.request(method.upper(), path, json=write_body,
                           headers=auth(client.keys["read"]))
        assert r.status_code == 403, r.text
        assert r.json()["detail"] == (
            "storing creatives (store=true) needs a key with scope 'admin'; the key 'reader' "
            "has scope 'read'. Make one with `adwise keys create --name NAME --scope admin`.")
        # Without asking to store, a read key gets creatives that are not stored.
        r = client.request(method.upper(), path, json=read_body,
                           headers=auth(client.keys["read"]))
        assert r.status_code == 200, r.text
        assert all(c["id"] is None for c in r.json()["creatives"])
        assert _stored(client) == before
        # An admin key stores by default, as before.
        r = client.request(method.upper(), path, json=read_body,
                           headers=auth(client.keys["admin"]))
        assert r.status_code == 200, r.text
        assert _stored(client) == before + 2
