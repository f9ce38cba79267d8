"""schemathesis against the whole API of a live server, with a read key and with an admin key:
no response >= 500, no status, content type or schema outside the OpenAPI document."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from service_helpers import live_server, save_toy, toy_router

from adwise.service import KeyStore, create_app
from optional_parts import needs

ST = Path(sys.executable).with_name("st")


@pytest.fixture(scope="module")
def served_workspace(tmp_path_factory, loaded_workspace_dir):
    """The small world with a placement model (allocation, recommendation) and a toy model."""
    from adwise.data import Workspace
    from adwise.placement import train

    dst = tmp_path_factory.mktemp("fuzzed") / "ws"
    shutil.copytree(loaded_workspace_dir, dst)
    ws = Workspace.open(dst)
    train(ws, group_col=None)
    save_toy(ws, 1)
    return ws


def _fuzzable_schema(url: str, path: Path) -> Path:
    """The served OpenAPI document, with creative generation held to the template backend: the
    local language model runs past the service's generation limit on 2 cores and is answered
    504 by design (see test_generation_time_limit), which would count as a server error."""
    spec = httpx.get(f"{url}/openapi.json", timeout=30).json()
    backend = spec["components"]["schemas"]["GenerateRequest"]["properties"]["backend"]
    backend["enum"] = ["template"]
    path.write_text(json.dumps(spec))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("scope", ["read", "admin"])
def test_schemathesis_finds_no_server_error(served_workspace, tmp_path, scope):
    needs(ST.exists() or shutil.which("st") is not None,
          "the fuzz test needs schemathesis (pip install schemathesis)")
    key, _ = KeyStore(served_workspace.path).create(f"fuzz-{scope}", scope)
    app = create_app(served_workspace, extra_routers=[toy_router])
    with live_server(app) as url:
        schema = _fuzzable_schema(url, tmp_path / "openapi.json")
        proc = subprocess.run(
            [str(ST) if ST.exists() else "st", "run", str(schema), "--url", url,
             "-H", f"Authorization: Bearer {key}",
             "--checks", "not_a_server_error,status_code_conformance,"
                         "content_type_conformance,response_schema_conformance",
             # /v1/toy/slow sleeps past the test's time limit on purpose
             "--exclude-path", "/v1/toy/slow",
             # one worker: hypothesis parsing lambdas in two threads at once trips CPython
             # 3.11's "AST constructor recursion depth mismatch" now and then
             "--max-examples", "30", "--max-time", "27", "--workers", "1",
             "--seed", "1", "--no-color", "--request-timeout", "20"],
            capture_output=True, text=True, timeout=120, cwd=tmp_path,
        )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
