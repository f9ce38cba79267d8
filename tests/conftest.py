"""Shared fixtures: a small synthetic world (made once per session) and fresh workspaces."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Keep every thread pool at one thread: the suite runs on 2 cores.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"



@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real public dataset samples beside the repo (skips when absent)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data samples not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def small_world(tmp_path_factory) -> Path:
    """A small synthetic world written to disk once per test session."""
    from adwise.data import write_world

    out = tmp_path_factory.mktemp("world")
    write_world(out, n_users=1500, n_ads=60, days=7, seed=11)
    return out


@pytest.fixture()
def workspace(tmp_path):
    """A fresh, empty workspace."""
    from adwise.data import Workspace

    return Workspace.init(tmp_path / "ws")


@pytest.fixture(scope="session")
def loaded_workspace_dir(tmp_path_factory, small_world) -> Path:
    """A workspace with the small world ingested (made once; copy it before changing it)."""
    from adwise.data import Workspace

    ws = Workspace.init(tmp_path_factory.mktemp("loaded") / "ws")
    for table in ("users", "ads", "events"):
        ws.ingest(small_world / f"{table}.parquet", table)
    return ws.path


@pytest.fixture()
def loaded_workspace(tmp_path, loaded_workspace_dir):
    """A private copy of the loaded workspace, safe to change."""
    import shutil

    from adwise.data import Workspace

    dst = tmp_path / "ws"
    shutil.copytree(loaded_workspace_dir, dst)
    return Workspace.open(dst)
