"""Workspace key material (private files, the key file, old workspaces) and busy workspaces."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
import threading
import time
import tomllib

import pytest

from adwise import WorkspaceBusyError
from adwise.cli import main
from adwise.data import Workspace, pseudonymise


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_makes_folder_700_and_every_file_600(tmp_path):
    old = os.umask(0o022)  # the usual umask, under which files are created 644
    try:
        ws = Workspace.init(tmp_path / "ws")
    finally:
        os.umask(old)
    assert _mode(ws.path) == 0o700
    wide = [p.name for p in ws.path.rglob("*") if _mode(p) & 0o077]
    assert wide == []
    assert _mode(ws.path / "secret.key") == 0o600
    assert _mode(ws.path / "adwise.duckdb") == 0o600


def test_init_in_an_existing_empty_folder_makes_it_private(tmp_path):
    d = tmp_path / "ws"
    d.mkdir(mode=0o755)
    os.chmod(d, 0o755)
    Workspace.init(d)
    assert _mode(d) == 0o700


def test_hmac_key_lives_in_its_own_file_not_in_config(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    config = tomllib.loads((ws.path / "config.toml").read_text())
    assert "hmac_key" not in config["privacy"]
    assert bytes.fromhex((ws.path / "secret.key").read_text().strip()) == ws.hmac_key
    assert ws.pseudonym("alice") == pseudonymise("alice", ws.hmac_key)


def test_workspace_with_the_key_in_config_still_opens(tmp_path):
    """A workspace made before the key file existed keeps its pseudonyms."""
    ws = Workspace.init(tmp_path / "ws")
    key = ws.hmac_key
    (ws.path / "secret.key").unlink()
    cfg = ws.path / "config.toml"
    cfg.write_text(cfg.read_text().replace("[privacy]\n", f'[privacy]\nhmac_key = "{key.hex()}"\n'))
    old = Workspace.open(ws.path)
    assert old.hmac_key == key
    assert old.pseudonym("alice") == pseudonymise("alice", key)


def test_missing_key_is_a_workspace_error_naming_the_file(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    (ws.path / "secret.key").unlink()
    with pytest.raises(Exception, match=r"secret.key: the workspace's pseudonym key is missing"):
        _ = Workspace.open(ws.path).hmac_key


def test_open_warns_when_folder_or_key_files_are_readable_by_others(tmp_path, caplog,
                                                                    monkeypatch):
    # a CLI test before this one may have stopped adwise records from reaching caplog's handler
    monkeypatch.setattr(logging.getLogger("adwise"), "propagate", True)
    ws = Workspace.init(tmp_path / "ws")
    with caplog.at_level(logging.WARNING, logger="adwise"):
        Workspace.open(ws.path)
    assert caplog.records == []
    os.chmod(ws.path, 0o755)
    os.chmod(ws.path / "secret.key", 0o644)
    with caplog.at_level(logging.WARNING, logger="adwise"):
        Workspace.open(ws.path)
    msg = caplog.records[-1].getMessage()
    assert "other users may read this workspace" in msg
    assert "ws (755)" in msg and "secret.key (644)" in msg
    assert f"chmod 700 {ws.path}" in msg


def test_cli_shows_the_permission_warning(tmp_path, capsys):
    ws = Workspace.init(tmp_path / "ws")
    os.chmod(ws.path / "config.toml", 0o644)
    assert main(["workspace", "info", "--workspace", str(ws.path)]) == 0
    assert "config.toml (644)" in capsys.readouterr().err


# ---------------------------------------------------------------------- busy workspace
_HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("BEGIN TRANSACTION")
con.execute("INSERT INTO _ingests VALUES ('f', 'events', 'x', 0, 0, now())")
print("holding", flush=True)
sys.stdin.read()
"""


@pytest.fixture()
def holder(tmp_path):
    """Another process holding a write connection to a fresh workspace (until stopped)."""
    ws = Workspace.init(tmp_path / "ws")
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(ws.db_path)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "holding"
    yield ws, proc
    if proc.poll() is None:
        proc.stdin.close()
        proc.wait(10)


def test_busy_workspace_raises_a_busy_error_with_the_pid(holder, monkeypatch):
    ws, proc = holder
    monkeypatch.setenv("ADWISE_BUSY_TIMEOUT", "0.3")
    t0 = time.monotonic()
    with pytest.raises(WorkspaceBusyError) as err:
        ws.info()
    waited = time.monotonic() - t0
    assert f"the workspace is busy (PID {proc.pid} is writing); try again" in str(err.value)
    assert err.value.holder == f"PID {proc.pid}"
    assert 0.15 <= waited < 3


def test_busy_workspace_is_waited_for_until_it_is_free(holder, monkeypatch):
    ws, proc = holder
    monkeypatch.setenv("ADWISE_BUSY_TIMEOUT", "20")
    release = threading.Timer(0.5, proc.stdin.close)
    release.start()
    t0 = time.monotonic()
    assert ws.row_counts()["events"] == 0
    assert time.monotonic() - t0 >= 0.3
    release.join()


def test_cli_exits_2_with_the_busy_message(holder, monkeypatch, capsys):
    ws, proc = holder
    monkeypatch.setenv("ADWISE_BUSY_TIMEOUT", "0.2")
    assert main(["workspace", "info", "--workspace", str(ws.path)]) == 2
    err = capsys.readouterr().err
    assert f"the workspace is busy (PID {proc.pid} is writing); try again" in err
    assert "Traceback" not in err


def test_bad_busy_timeout_is_an_input_error(tmp_path, monkeypatch):
    ws = Workspace.init(tmp_path / "ws")
    monkeypatch.setenv("ADWISE_BUSY_TIMEOUT", "nan")
    with pytest.raises(Exception, match=r"\$ADWISE_BUSY_TIMEOUT must be a number of seconds"):
        ws.row_counts()


def test_read_and_write_connections_in_one_process_wait_for_each_other(tmp_path):
    """DuckDB refuses a read-only connection while this process has a read-write one open
    (another thread's): connect waits for it instead of failing."""
    ws = Workspace.init(tmp_path / "ws")
    with ws.connect() as con:
        con.execute("SELECT 1")
        t = threading.Timer(0.3, con.close)
        t.start()
        assert ws.row_counts()["users"] == 0
        t.join()


def test_init_on_a_file_is_a_workspace_error(tmp_path, capsys):
    f = tmp_path / "dup.csv"
    f.write_text("a,b\n1,2\n")
    assert main(["init", str(f)]) == 2
    err = capsys.readouterr().err
    assert "dup.csv: this is a file, not a folder; give `adwise init` a new or empty folder." \
        in err
    assert "Traceback" not in err and f.read_text() == "a,b\n1,2\n"
