"""`adwise serve --workers N`: worker processes that each load the models once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from service_helpers import auth, save_toy

from adwise.service import ServiceSettings
from adwise.service._app import SERVE_ENV, app_from_env, serve_env


def test_a_worker_builds_the_app_from_the_environment(keyed_workspace, monkeypatch):
    settings = ServiceSettings(max_body_bytes=2048, generation_timeout_s=3.0)
    monkeypatch.setenv(SERVE_ENV, serve_env(keyed_workspace, settings))
    app = app_from_env()
    assert app.state.settings == settings
    with TestClient(app) as c:
        assert c.get("/healthz").status_code == 200
        r = c.post("/v1/models/toy/promote", headers=auth(keyed_workspace.keys["read"]),
                   content=b"x" * 4096)
        assert r.status_code == 413  # the worker got the limit


def _children(pid: int) -> list[int]:
    kids = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(x) for x in kids.read_text().split()] if kids.exists() else []


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_serve_with_two_workers_answers_from_two_processes(keyed_workspace):
    ws = keyed_workspace
    save_toy(ws, 4)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-c", "import sys; from adwise.cli import main; sys.exit(main())",
           "serve", "--workspace", str(ws.path), "--port", str(port), "--workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.2)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as c:
            for _ in range(10):
                r = c.get("/v1/whoami", headers=auth(ws.keys["read"]))
                assert r.status_code == 200
        workers = [p for p in _children(proc.pid)
                   if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text()]
        assert len(workers) == 2
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
