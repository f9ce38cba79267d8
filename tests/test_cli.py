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
