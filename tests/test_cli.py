"""The root CLI: exit statuses, synth, and the demo end to end."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from adwise import __version__
from adwise.cli import main


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out
    assert main(["--help"]) == 0


def test_usage_errors_exit_2(capsys):
    assert main(["ingest"]) == 2
    assert main(["no-such-command"]) == 2


def test_missing_workspace_exits_2_with_fix(tmp_path, capsys):
    assert main(["workspace", "info", "-w", str(tmp_path / "none")]) == 2
    assert "adwise init" in capsys.readouterr().err


def test_synth_writes_contract_files_and_truth(tmp_path):
    out = tmp_path / "w"
    code = main(["synth", "--users", "300", "--ads", "20", "--days", "3", "--seed", "1",
                 "--out", str(out), "--format", "csv"])
    assert code == 0
    events = pd.read_csv(out / "events.csv")
    assert {"ts", "user_id", "ad_id", "clicked", "propensity"} <= set(events.columns)
    assert (out / "users.csv").exists() and (out / "ads.csv").exists()
    truth = json.loads((out / "truth.json").read_text())
    assert truth  # written, and parsed as JSON
    assert (out / "truth_users.parquet").exists()


def test_synth_rejects_bad_format(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path), "--format", "xlsx"]) == 2
    assert "--format must be parquet or csv" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--users", "800", "--ads", "40", "--days", "4"]) == 0
    report = (out / "report.html").read_text()
    assert "CTR by placement" in report and "Synthetic world: the truth" in report
    # Running it again replaces its own folder; a foreign folder is refused.
    assert main(["demo", "--out", str(out), "--users", "300", "--ads", "20", "--days", "2"]) == 0
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("x")
    assert main(["demo", "--out", str(foreign)]) == 2
    assert (foreign / "keep.txt").exists()


def test_verbosity_takes_a_level_or_a_count(tmp_path, capsys):
    import logging

    from adwise.data import Workspace

    ws = Workspace.init(tmp_path / "ws")
    for args, level in (
        (["-v", "2"], logging.DEBUG),
        (["--verbose", "2"], logging.DEBUG),
        (["-vv"], logging.DEBUG),
        (["-v"], logging.INFO),
        ([], logging.WARNING),
    ):
        assert main([*args, "workspace", "info", "-w", str(ws.path)]) == 0, args
        assert logging.getLogger("adwise").level == level, args
    assert main(["-v", "9", "workspace", "info", "-w", str(ws.path)]) == 2


def _all_commands():
    """(path, click command) for every command and group of the CLI, capabilities loaded."""
    import typer

    from adwise.cli import app

    todo = [((), typer.main.get_command(app))]
    while todo:
        path, cmd = todo.pop()
        yield path, cmd
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(None):
                todo.append(((*path, name), cmd.get_command(None, name)))


def test_help_text_keeps_extras_in_brackets(capsys, monkeypatch):
    import re

    # Help is rich markup, where "adwise[deep]" would lose "[deep]"; it must be written escaped.
    unescaped = re.compile(r"(?<!\\)\b\w+\[\w+\]")
    for path, cmd in _all_commands():
        texts = [cmd.help or ""] + [getattr(p, "help", None) or "" for p in cmd.params]
        assert not [t for t in texts if unescaped.search(t)], path
    monkeypatch.setenv("COLUMNS", "300")
    capsys.readouterr()
    assert main(["behavior", "train", "--help"]) == 0
    assert "logreg or deep (needs adwise[deep])" in capsys.readouterr().out


def test_tables_are_not_cut_at_80_columns_when_piped(tmp_path, capsys, monkeypatch):
    from adwise.data import Workspace

    monkeypatch.delenv("COLUMNS", raising=False)
    ws = Workspace.init(tmp_path / "ws")
    metrics = {f"metric_with_a_long_name_{i}": 0.5 + i for i in range(4)}
    ws.registry.save("behavior", lambda w: w.write_json("m.json", {}), metrics=metrics)
    capsys.readouterr()
    assert main(["models", "list", "-w", str(ws.path)]) == 0
    shown = ", ".join(f"{k}={v:.4g}" for k, v in metrics.items())
    assert shown in capsys.readouterr().out


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_import_no_heavy_library(flag):
    import subprocess
    import sys

    code = (
        f"import sys\nfrom adwise.cli import main\nmain([{flag!r}])\n"
        "heavy = ('pandas', 'numpy', 'duckdb', 'sklearn', 'scipy', 'lightgbm', 'fastapi')\n"
        "print('HEAVY', sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout


def test_commands_using_a_stale_model_say_how_to_retrain(loaded_workspace, capsys):
    w = ["-w", str(loaded_workspace.path)]
    assert main(["placement", "train", *w]) == 0
    assert main(["placement", "recommend", *w]) == 0
    assert "retrain" not in capsys.readouterr().err
    assert main(["workspace", "delete", "events", "--where", "clicked = 1", *w]) == 0
    capsys.readouterr()
    assert main(["placement", "recommend", *w]) == 0
    assert (
        "warning: the placement model (v0001) was trained before the data changed (ingest, "
        "replace, drop or delete); retrain with `adwise placement train`"
    ) in capsys.readouterr().err
    assert main(["placement", "train", *w]) == 0
    assert main(["placement", "recommend", *w]) == 0
    assert "retrain" not in capsys.readouterr().err


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_refuses_a_busy_port_and_an_unknown_host(workspace, capsys):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "-w", str(workspace.path), "--port", str(port)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: cannot listen on 127.0.0.1:{port}: the port is already in use by another "
        "process; stop it or choose another --port.")
    assert main(["serve", "-w", str(workspace.path), "--host", "no-such-host.invalid"]) == 2
    assert "error: --host 'no-such-host.invalid' does not resolve" in capsys.readouterr().err


def test_serve_access_log_logs_requests(workspace, tmp_path):
    import subprocess
    import sys
    import time

    import httpx

    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from adwise.cli import main; "
             "sys.exit(main(sys.argv[1:]))", "serve", "-w", str(workspace.path), "--port",
             str(port), "--access-log"], stdout=err, stderr=subprocess.STDOUT)
        try:
            for _ in range(120):
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.25)
            else:
                pytest.fail("the service did not start: " + log.read_text()[-2000:])
            httpx.get(f"http://127.0.0.1:{port}/v1/whoami", timeout=5)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    text = log.read_text()
    assert '"GET /healthz HTTP/1.1" 200' in text and '"GET /v1/whoami HTTP/1.1" 401' in text


def _labelled(n: int = 300, seed: int = 0) -> pd.DataFrame:
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame({"x": x, "z": rng.normal(size=n),
                         "y": (rng.random(n) < 1 / (1 + np.exp(-2 * x))).astype(int)})


def test_behavior_evaluate_warns_when_test_numbers_are_strings(tmp_path, capsys):
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    _labelled().to_csv(train, index=False)
    bad = _labelled(seed=1)
    bad["x"] = bad["x"].astype(object)
    bad.loc[:59, "x"] = "oops"
    bad.to_csv(test, index=False)
    code = main(["behavior", "evaluate", "--train", str(train), "--test", str(test), "--target",
                 "y", "--model", "logreg", "--json"])
    out, err = capsys.readouterr()
    assert code == 0
    want = (f"{test}: column 'x' is numeric in the training file but 60 of 300 value(s) here are "
            "not numbers (e.g. row 0 ('oops'), row 1 ('oops'), row 2 ('oops')); they are scored as "
            "missing. Fix the values or the column's type.")
    assert json.loads(out)["warnings"] == [want]
    assert "60 of 300 value(s) here are not numbers" in " ".join(err.split())


def test_delivery_evaluate_refuses_one_column_for_users_and_items(tmp_path, capsys):
    f = tmp_path / "r.csv"
    pd.DataFrame({"u": ["a", "b", "c"], "i": ["x", "y", "x"], "r": [1, 2, 3]}).to_csv(f)
    assert main(["delivery", "evaluate", "--train", str(f), "--test", str(f), "--task",
                 "ranking", "--user-col", "u", "--item-col", "u", "--json"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --user-col and --item-col both name 'u'; users, items and ratings must be "
        "separate columns.")


def test_placement_train_skips_events_without_placement(loaded_workspace, small_world,
                                                         tmp_path, capsys):
    ev = pd.read_parquet(small_world / "events.parquet").head(250)
    ev = ev.drop(columns=["placement"]).assign(ts=pd.to_datetime(ev["ts"]) + pd.Timedelta(
        days=60))
    if "event_id" in ev:
        ev["event_id"] = ev["event_id"].astype(str) + "-late"
    ev.to_csv(tmp_path / "late.csv", index=False)
    loaded_workspace.ingest(tmp_path / "late.csv", "events")
    assert main(["placement", "train", "-w", str(loaded_workspace.path), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["skipped_without_placement"] == 250
    assert main(["placement", "recommend", "-w", str(loaded_workspace.path), "--by",
                 "placement", "--top", "50", "--json"]) == 0
    slots = {c["placement"] for c in json.loads(capsys.readouterr().out)["cells"]}
    assert slots and not slots & {"None", "nan", ""}
