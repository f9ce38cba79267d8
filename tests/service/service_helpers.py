"""Service test helpers: a toy capability router, keys, a live uvicorn server."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from adwise._exceptions import ParameterError


def toy_loader(ws):
    """Loads the promoted 'toy' model (a JSON file) from the registry."""
    return ws.registry.load("toy").read_json("model.json")


def save_toy(ws, n: int, promote: bool = True):
    """Save version with weights (n, n, n); returns the ModelVersion."""
    return ws.registry.save(
        "toy", lambda w: w.write_json("model.json", {"n": n, "w": [float(n)] * 3}),
        params={"n": n}, metrics={"auc": 0.5 + n / 100}, promote=promote,
    )


class ScoreIn(BaseModel):
    rows: list[list[Annotated[float, Field(allow_inf_nan=False)]]] = Field(
        min_length=1, max_length=100)


class ScoreOut(BaseModel):
    scores: list[float]
    n: int


class Reward(BaseModel):
    arm: int = Field(ge=0, le=10)
    reward: float = Field(ge=0, le=1)


def toy_router(state) -> APIRouter:
    """A tiny capability router, the way a capability writes one (no auth of its own)."""
    r = APIRouter(tags=["toy"])

    @r.post("/toy/score", response_model=ScoreOut)
    def score(body: ScoreIn) -> ScoreOut:
        m = state.model("toy", toy_loader)
        for row in body.rows:
            if len(row) != 3:
                raise ParameterError(f"each row needs 3 numbers; got {len(row)}.")
        return ScoreOut(scores=[sum(a * b for a, b in zip(row, m["w"], strict=True))
                                for row in body.rows], n=m["n"])

    @r.get("/toy/info")
    def info() -> dict:
        return {"n": state.model("toy", toy_loader)["n"]}

    @r.get("/toy/absent")
    def absent() -> dict:
        return state.model("absent", lambda ws: ws.registry.load("absent"))

    @r.post("/toy/reward")
    def reward(body: Reward) -> dict:
        return {"ok": True, "arm": body.arm}

    @r.delete("/toy/cache")
    def clear() -> dict:
        return {"ok": True}

    @r.get("/toy/secret", openapi_extra={"x-adwise-scope": "admin"})
    def secret() -> dict:
        return {"ok": True}

    @r.post("/toy/slow")
    def slow() -> dict:
        time.sleep(1.0)
        return {"ok": True}

    return r


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@contextmanager
def live_server(app):
    """Run ``app`` under a real uvicorn server on 127.0.0.1 (a free port); yield its URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
