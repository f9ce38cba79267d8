"""The service while another process writes the workspace, and what error messages echo."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from service_helpers import auth, save_toy, toy_router

from adwise.service import KeyStore, create_app

_HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("BEGIN TRANSACTION")
con.execute("INSERT INTO _ingests VALUES ('f', 'events', 'x', 0, 0, now())")
print("holding", flush=True)
sys.stdin.read()
"""


def test_models_keep_serving_and_db_routes_answer_503_while_another_process_writes(
        keyed_workspace, monkeypatch):
    ws = keyed_workspace
    save_toy(ws, 3)
    monkeypatch.setenv("ADWISE_BUSY_TIMEOUT", "0.3")
    app = create_app(ws, extra_routers=[toy_router], capabilities=["creative"])
    with TestClient(app) as c:
        h = auth(ws.keys["read"])
        assert c.get("/v1/creative/creatives", headers=h).status_code == 200
        proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(ws.db_path)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().strip() == "holding"
            for _ in range(3):  # a loaded model needs no database
                r = c.post("/v1/toy/score", json={"rows": [[1, 1, 1]]}, headers=h)
                assert r.status_code == 200 and r.json()["n"] == 3
            r = c.get("/v1/creative/creatives", headers=h)
            assert r.status_code == 503
            assert r.headers["retry-after"] == "5"
            assert f"the workspace is busy (PID {proc.pid} is writing); try again" in \
                r.json()["detail"]
        finally:
            proc.stdin.close()
            proc.wait(10)
        assert c.get("/v1/creative/creatives", headers=h).status_code == 200


def test_unknown_user_error_echoes_the_given_id_never_its_pseudonym(loaded_workspace):
    from adwise.interests import train_interests

    ws = loaded_workspace
    train_interests(ws)
    key, _ = KeyStore(ws.path).create("reader", "read")
    with TestClient(create_app(ws, capabilities=["interests"])) as c:
        r = c.get("/v1/interests/users/nobody-here", headers=auth(key))
    assert r.status_code == 400
    detail = r.json()["detail"]
    assert detail.startswith("unknown user 'nobody-here': no events for this user")
    assert ws.pseudonym("nobody-here") not in detail


def test_lookalike_seed_errors_show_raw_ids_only(loaded_workspace, tmp_path):
    from adwise import InputError
    from adwise.audience import lookalike_workspace

    ws = loaded_workspace
    seed_lines = ["nobody-here", "nor-here"]
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(seed_lines) + "\n")
    with pytest.raises(InputError) as err:
        lookalike_workspace(ws, seed_file=str(seeds), top_n=5)
    msg = str(err.value)
    assert "(e.g. 'nobody-here')" in msg or "(e.g. 'nor-here')" in msg
    assert all(ws.pseudonym(s) not in msg for s in seed_lines)
