"""A real uvicorn server on loopback: end to end, and a promotion under load."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
from service_helpers import auth, live_server, save_toy, toy_router

from adwise.cli import main
from adwise.service import KeyStore, create_app


def test_end_to_end_keys_cli_then_live_server(workspace, capsys):
    import json

    ws = str(workspace.path)
    assert main(["keys", "create", "--name", "e2e", "--scope", "read", "--workspace", ws,
                 "--json"]) == 0
    key = json.loads(capsys.readouterr().out)["key"]
    save_toy(workspace, 5)
    app = create_app(workspace, extra_routers=[toy_router])
    with live_server(app) as url, httpx.Client(base_url=url, timeout=10) as c:
        assert c.get("/healthz").json()["status"] == "ok"
        assert c.get("/v1/toy/info").status_code == 401
        r = c.post("/v1/toy/score", json={"rows": [[1, 1, 1]]}, headers=auth(key))
        assert r.status_code == 200 and r.json() == {"scores": [15.0], "n": 5}
        assert c.get("/").status_code == 200
        assert "adwise_http_requests_total" in c.get("/metrics").text
        KeyStore(workspace.path).revoke("e2e")
        assert c.post("/v1/toy/score", json={"rows": [[1, 1, 1]]},
                      headers=auth(key)).status_code == 401


def test_promotion_during_load_fails_no_request(keyed_workspace):
    ws = keyed_workspace
    save_toy(ws, 1)
    app = create_app(ws, extra_routers=[toy_router])
    statuses: list[int] = []
    versions: list[int] = []

    async def load(url: str, seconds: float) -> None:
        async with httpx.AsyncClient(base_url=url, headers=auth(ws.keys["read"]),
                                     timeout=10) as c:
            end = time.monotonic() + seconds

            async def worker() -> None:
                while time.monotonic() < end:
                    try:
                        r = await c.post("/v1/toy/score", json={"rows": [[1, 0, 0]] * 20})
                    except httpx.HTTPError:  # a dropped connection counts as a failure
                        statuses.append(-1)
                        continue
                    statuses.append(r.status_code)
                    if r.status_code == 200:
                        versions.append(r.json()["n"])

            await asyncio.gather(*(worker() for _ in range(8)))

    def promote_repeatedly(stop: threading.Event) -> None:
        n = 2
        while not stop.is_set() and n <= 12:
            save_toy(ws, n)  # save + atomic promotion
            n += 1
            time.sleep(0.1)

    with live_server(app) as url:
        stop = threading.Event()
        t = threading.Thread(target=promote_repeatedly, args=(stop,))
        t.start()
        asyncio.run(load(url, 2.0))
        stop.set()
        t.join()
    assert len(statuses) > 100
    assert set(statuses) == {200}
    assert len(set(versions)) >= 3 and max(versions) >= 10
