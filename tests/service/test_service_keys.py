"""API keys: shown once, stored hashed, scoped, revocable; the `adwise keys` commands."""

from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest

from adwise._exceptions import InputError
from adwise.cli import main
from adwise.service import KeyStore


def test_create_verify_and_store_only_the_digest(workspace):
    ks = KeyStore(workspace.path)
    secret, rec = ks.create("ad-server", "read")
    assert secret.startswith(f"adw_{rec.id}_") and len(secret) > 40
    raw = ks.file.read_text()
    assert secret not in raw
    assert hashlib.sha256(secret.encode()).hexdigest() in raw
    assert stat.S_IMODE(os.stat(ks.file).st_mode) == 0o600
    got = ks.verify(secret)
    assert got is not None and got.name == "ad-server" and got.scope == "read"
    assert ks.verify(secret + "x") is None
    assert ks.verify("") is None and ks.verify(None) is None
    assert "sha256" not in rec.public()


def test_scopes():
    from adwise.service import ApiKey

    read = ApiKey("k1", "r", "read", "adw_k1", "0", "now")
    admin = ApiKey("k2", "a", "admin", "adw_k2", "0", "now")
    assert read.allows("read") and not read.allows("admin")
    assert admin.allows("read") and admin.allows("admin")


def test_revoke_takes_effect_for_a_running_store(workspace):
    serving = KeyStore(workspace.path)  # what the service holds
    secret, rec = KeyStore(workspace.path).create("temp", "admin")
    assert serving.verify(secret) is not None
    KeyStore(workspace.path).revoke(rec.id)  # e.g. another process: `adwise keys revoke`
    assert serving.verify(secret) is None
    assert [k.revoked is not None for k in serving.list()] == [True]


def test_bad_input_messages(workspace):
    ks = KeyStore(workspace.path)
    with pytest.raises(InputError, match=r"^--scope must be one of: read, admin; got 'root'\.$"):
        ks.create("x", "root")
    with pytest.raises(InputError, match=r"^--name must be 1 to 64 printable characters; got ''"):
        ks.create("  ", "read")
    ks.create("dup", "read")
    with pytest.raises(InputError, match=r"an active key named 'dup' exists"):
        ks.create("dup", "admin")
    with pytest.raises(InputError, match=r"^no active API key named or with id 'nope'; "
                                         r"active keys: dup \(k[0-9a-f]{8}\)\.$"):
        ks.revoke("nope")


def test_damaged_file_is_a_workspace_error(workspace):
    ks = KeyStore(workspace.path)
    ks.file.write_text("{not json")
    with pytest.raises(InputError, match="the API key file is damaged"):
        ks.list()


def test_cli_create_list_revoke(workspace, capsys):
    ws = str(workspace.path)
    assert main(["keys", "create", "--name", "dash", "--scope", "admin", "--workspace", ws,
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["name"] == "dash" and out["scope"] == "admin" and out["active"] is True
    assert KeyStore(workspace.path).verify(out["key"]).name == "dash"

    assert main(["keys", "list", "--workspace", ws, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["keys"]
    assert [k["name"] for k in listed] == ["dash"]
    assert all("sha256" not in k and "key" not in k for k in listed)

    assert main(["keys", "revoke", "dash", "--workspace", ws]) == 0
    capsys.readouterr()
    assert KeyStore(workspace.path).verify(out["key"]) is None
    assert main(["keys", "list", "--workspace", ws, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["keys"] == []

    assert main(["keys", "create", "--name", "x", "--scope", "root", "--workspace", ws]) == 2
    assert "--scope must be one of: read, admin; got 'root'." in capsys.readouterr().err


def test_cli_plain_create_prints_the_key_once(workspace, capsys):
    assert main(["keys", "create", "--name", "p", "--workspace", str(workspace.path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    secret = lines[-1].strip()
    assert KeyStore(workspace.path).verify(secret).scope == "read"
