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
    """Correctness, whatever the machine's speed: while versions 2..6 are promoted under load,
    no request fails, every answer comes from a saved version, no client ever sees an older
    version after a newer one, and once promotions stop the newest version is served."""
    ws = keyed_workspace
    save_toy(ws, 1)
    app = create_app(ws, extra_routers=[toy_router])
    statuses: list[int] = []
    seen: list[list[int]] = []  # per client, the versions in answer order
    last = 6

    async def load(url: str, promoting: threading.Thread) -> None:
        async with httpx.AsyncClient(base_url=url, headers=auth(ws.keys["read"]),
                                     timeout=30) as c:

            async def worker() -> None:
                mine: list[int] = []
                seen.append(mine)
                while promoting.is_alive() or not mine:
                    try:
                        r = await c.post("/v1/toy/score", json={"rows": [[1, 0, 0]] * 20})
                    except httpx.HTTPError:  # a dropped connection counts as a failure
                        statuses.append(-1)
                        continue
                    statuses.append(r.status_code)
                    if r.status_code == 200:
                        body = r.json()
                        assert body["scores"] == [float(body["n"])] * 20  # one version's weights
                        mine.append(body["n"])

            await asyncio.gather(*(worker() for _ in range(4)))

    def promote_all() -> None:
        for n in range(2, last + 1):
            time.sleep(0.05)
            save_toy(ws, n)  # save + atomic promotion

    with live_server(app) as url:
        t = threading.Thread(target=promote_all)
        t.start()
        asyncio.run(load(url, t))
        t.join()
        with httpx.Client(base_url=url, headers=auth(ws.keys["read"]), timeout=30) as c:
            after = c.post("/v1/toy/score", json={"rows": [[1, 0, 0]]}).json()["n"]
    assert statuses and set(statuses) == {200}
    assert all(1 <= v <= last for mine in seen for v in mine)
    assert all(mine == sorted(mine) for mine in seen)  # never back to an older version
    assert after == last
