"""The workspace: init, ingest (validated, atomic, idempotent), privacy, info."""

from __future__ import annotations

import pandas as pd
import pytest

from adwise import PIIError, WorkspaceError
from adwise.cli import main
from adwise.data import Workspace, pseudonymise


def _events(n=2000):
    return pd.DataFrame(
        {
            "ts": pd.date_range("2026-01-05", periods=n, freq="min"),
            "user_id": [f"user{i % 50}" for i in range(n)],
            "ad_id": [f"ad{i % 7}" for i in range(n)],
            "placement": [f"slot{i % 4}" for i in range(n)],
            "clicked": [int(i % 37 == 0) for i in range(n)],
        }
    )


def test_init_creates_layout_with_random_key(tmp_path):
    a = Workspace.init(tmp_path / "a")
    b = Workspace.init(tmp_path / "b")
    assert (a.path / "adwise.duckdb").exists() and (a.path / "models").is_dir()
    assert len(a.hmac_key) == 32 and a.hmac_key != b.hmac_key
    assert a.row_counts() == {"events": 0, "users": 0, "ads": 0}


def test_open_missing_workspace_names_the_fix(tmp_path):
    with pytest.raises(WorkspaceError) as err:
        Workspace.open(tmp_path / "nope")
    assert "no adwise workspace here. Create one with `adwise init" in str(err.value)


def test_workspace_resolution_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ADWISE_WORKSPACE", raising=False)
    Workspace.init()  # ./adwise-workspace
    assert Workspace.open().path == tmp_path / "adwise-workspace"
    Workspace.init(tmp_path / "env")
    monkeypatch.setenv("ADWISE_WORKSPACE", str(tmp_path / "env"))
    assert Workspace.open().path == tmp_path / "env"
    assert Workspace.open(tmp_path / "adwise-workspace").path == tmp_path / "adwise-workspace"


def test_acceptance_row_1234_clicked_2_exits_2_and_keeps_nothing(tmp_path, capsys):
    ws = Workspace.init(tmp_path / "ws")
    good = tmp_path / "good.csv"
    _events().to_csv(good, index=False)
    assert main(["ingest", str(good), "--table", "events", "-w", str(ws.path)]) == 0
    counts = ws.row_counts()
    bad_df = _events()
    bad_df.loc[1234, "clicked"] = 2
    bad_df["event_id"] = [f"new{i}" for i in range(len(bad_df))]  # all rows would be new
    bad = tmp_path / "bad_events.csv"
    bad_df.to_csv(bad, index=False)
    capsys.readouterr()
    assert main(["ingest", str(bad), "--table", "events", "-w", str(ws.path)]) == 2
    err = capsys.readouterr().err
    assert "bad_events.csv" in err and "'clicked'" in err and "row 1234" in err
    assert "(value 2)" in err
    assert ws.row_counts() == counts


def test_reingest_adds_nothing(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    f = tmp_path / "e.parquet"
    _events().to_parquet(f)
    first = ws.ingest(f, "events")
    again = ws.ingest(f, "events")
    assert first.rows_added == 2000 and again.rows_added == 0
    assert ws.row_counts()["events"] == 2000
    # The same rows as CSV key to the same content hashes.
    c = tmp_path / "e.csv"
    _events().to_csv(c, index=False)
    assert ws.ingest(c, "events").rows_added == 0


def test_users_reingest_replaces_rows(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    f = tmp_path / "u.csv"
    pd.DataFrame({"user_id": ["a", "b"], "age": [30, 40]}).to_csv(f, index=False)
    ws.ingest(f, "users")
    pd.DataFrame({"user_id": ["b", "c"], "age": [41, 50]}).to_csv(f, index=False)
    rep = ws.ingest(f, "users")
    assert (rep.rows_added, rep.rows_updated) == (1, 1)
    got = ws.table("users").set_index("user_id")["age"].to_dict()
    assert got == {ws.pseudonym("a"): 30, ws.pseudonym("b"): 41, ws.pseudonym("c"): 50}


def test_user_ids_are_pseudonymised_with_the_workspace_key(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    f = tmp_path / "e.csv"
    _events(100).to_csv(f, index=False)
    ws.ingest(f, "events")
    stored = set(ws.table("events")["user_id"])
    assert not any(s.startswith("user") for s in stored)
    assert pseudonymise("user3", ws.hmac_key) in stored
    assert ws.pseudonyms(["user3"]) == [pseudonymise("user3", ws.hmac_key)]


def test_pseudonymisation_can_be_switched_off_explicitly(tmp_path):
    ws = Workspace.init(tmp_path / "ws", pseudonymise_ids=False)
    f = tmp_path / "e.csv"
    _events(10).to_csv(f, index=False)
    ws.ingest(f, "events")
    assert "user3" in set(ws.table("events")["user_id"])


def test_email_column_refused_then_allowed(tmp_path, capsys):
    ws = Workspace.init(tmp_path / "ws")
    f = tmp_path / "u.csv"
    pd.DataFrame({"user_id": ["a", "b"], "mail": ["a@x.com", "b@y.org"]}).to_csv(f, index=False)
    with pytest.raises(PIIError):
        ws.ingest(f, "users")
    assert ws.row_counts()["users"] == 0
    assert main(["ingest", str(f), "-t", "users", "-w", str(ws.path)]) == 2
    assert "column 'mail': looks like personal data" in capsys.readouterr().err
    assert main(["ingest", str(f), "-t", "users", "-w", str(ws.path), "--allow-pii", "mail"]) == 0
    assert ws.row_counts()["users"] == 2


def test_unknown_references_warn_with_a_count(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    u = tmp_path / "u.csv"
    pd.DataFrame({"user_id": [f"user{i}" for i in range(40)]}).to_csv(u, index=False)
    ws.ingest(u, "users")
    f = tmp_path / "e.csv"
    _events(100).to_csv(f, index=False)
    rep = ws.ingest(f, "events")
    assert rep.rows_added == 100
    assert rep.warnings and rep.warnings[0].startswith("20 of 100 events refer to a user_id")


def test_extra_context_columns_are_added(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    f = tmp_path / "e.csv"
    _events(10).assign(browser="firefox").to_csv(f, index=False)
    ws.ingest(f, "events")
    assert "browser" in ws.columns("events")


def test_info_and_cli_json(tmp_path, capsys):
    import json

    ws = Workspace.init(tmp_path / "ws")
    f = tmp_path / "e.csv"
    _events().to_csv(f, index=False)
    ws.ingest(f, "events")
    capsys.readouterr()
    assert main(["workspace", "info", "-w", str(ws.path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["tables"]["events"] == 2000
    assert info["ctr"] == pytest.approx(_events()["clicked"].mean())
    assert info["first_event"].startswith("2026-01-05")


def test_map_option_on_the_cli(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    f = tmp_path / "e.csv"
    _events(10).rename(columns={"user_id": "uid", "clicked": "click"}).to_csv(f, index=False)
    code = main(
        [
            "ingest",
            str(f),
            "-t",
            "events",
            "-w",
            str(ws.path),
            "--map",
            "uid=user_id",
            "--map",
            "click=clicked",
        ]
    )
    assert code == 0 and ws.row_counts()["events"] == 10
    assert main(["ingest", str(f), "-t", "events", "-w", str(ws.path), "--map", "bad"]) == 2
