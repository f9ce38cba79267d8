"""The report's charts (Vega-Lite specs), findings and page, without a browser."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import adwise.report
from adwise._plugins import ReportSection
from adwise.metrics import expected_calibration_error, reliability_curve
from adwise.report import (
    bar_chart,
    chart_runtime,
    heatmap,
    hour_chart,
    reliability_chart,
    render_report,
    spec_of,
    table,
    wilson_interval,
    write_report,
)
from adwise.report._data import compare_rates


def _layer_data(spec: dict) -> list[dict]:
    """Every data row of a (possibly layered) spec."""
    rows = list(spec.get("data", {}).get("values", []))
    for layer in spec.get("layer", []):
        rows += _layer_data(layer)
    return rows


def test_no_hand_written_svg_left_in_the_report_package():
    src = Path(adwise.report.__file__).parent
    for py in src.glob("*.py"):
        text = py.read_text()
        assert not re.search(r"<(svg|path|rect|polyline|line|circle)\b", text), py.name


def test_signed_values_are_drawn_signed_from_zero():
    frag = bar_chart(["top", "bottom"], [0.4, -0.75], title="slot effects",
                     value_title="effect on click log-odds", fmt="+.2f")
    (spec,) = spec_of(frag)
    rows = {r["label"]: r for r in spec["data"]["values"]}
    assert rows["bottom"]["value"] == -0.75 and rows["bottom"]["sign"] == "negative"
    assert rows["top"]["sign"] == "positive"
    bar = spec["layer"][0]["encoding"]
    assert bar["x"]["field"] == "value" and bar["x"]["scale"]["zero"] is True
    assert bar["color"]["scale"]["domain"] == ["positive", "negative"]
    assert rows["bottom"]["text"] == "-0.75"


def test_rates_below_the_minimum_are_left_out_with_a_note():
    frag = bar_chart(["tiny", "big"], [1.0, 0.02], title="CTR by placement", value_title="CTR",
                     fmt=".1%", counts=[2, 5000], min_count=100, what="placements")
    (spec,) = spec_of(frag)
    assert [r["label"] for r in spec["data"]["values"]] == ["big"]
    assert spec["data"]["values"][0]["text"] == "2.0 % (n=5,000)"
    assert "Left out: 1 placements with fewer than 100 impressions" in frag
    tips = {t["title"] for t in spec["layer"][0]["encoding"]["tooltip"]}
    assert "impressions" in tips


def test_an_empty_chart_is_never_drawn():
    frag = bar_chart(["tiny"], [1.0], title="CTR by placement", value_title="CTR",
                     counts=[2], min_count=100, what="placements")
    assert spec_of(frag) == []
    assert ("No data for CTR by placement because every one of the 1 placements has fewer "
            "than 100 impressions.") in frag
    frag = hour_chart([], [], [], title="CTR by hour of day")
    assert spec_of(frag) == [] and "No data for CTR by hour of day because" in frag
    frag = heatmap(["top", "top"], [3, 4], [0.5, 0.25], [4, 4],
                   title="CTR by placement x hour", row_title="placement")
    assert spec_of(frag) == [] and "no cell has 100 impressions or more" in frag


def test_hour_chart_has_integer_hours_rates_in_percent_and_an_interval():
    hours = np.arange(24)
    n = np.full(24, 1000)
    n[5] = 10  # too few: left out
    k = np.round(n * (0.01 + 0.001 * hours))
    frag = hour_chart(hours, k, n, title="CTR by hour of day")
    (spec,) = spec_of(frag)
    x = spec["encoding"]["x"]
    assert x["scale"]["domain"] == [0, 23] and x["axis"]["format"] == "d"
    assert all(isinstance(v, int) for v in x["axis"]["values"])
    area, line = spec["layer"]
    assert area["encoding"]["y"]["axis"]["format"] == ".1%"
    assert area["encoding"]["y2"]["field"] == "high"
    rows = spec["data"]["values"]
    assert 5 not in [r["hour"] for r in rows] and len(rows) == 23
    assert all(r["low"] <= r["rate"] <= r["high"] for r in rows)
    assert {"n", "k"} <= {t["field"] for t in line["encoding"]["tooltip"]}
    assert "Left out: 1 hours with fewer than 100 impressions" in frag


def test_heatmap_leaves_out_thin_cells():
    frag = heatmap(["top", "top", "side"], [1, 2, 1], [0.9, 0.02, 0.01], [3, 900, 800],
                   title="CTR by placement x hour", row_title="placement")
    (spec,) = spec_of(frag)
    assert sorted((r["row"], r["col"]) for r in spec["data"]["values"]) == [
        ("side", 1), ("top", 2)]
    assert spec["encoding"]["x"]["scale"]["domain"] == list(range(24))


def _reliability_points(frag: str) -> tuple[pd.DataFrame, list[dict]]:
    (spec,) = spec_of(frag)
    diagonal, points = spec["layer"]
    return pd.DataFrame(points["data"]["values"]), diagonal["data"]["values"]


def test_reliability_diagram_of_a_calibrated_model_lies_on_the_diagonal():
    rng = np.random.default_rng(0)
    p = rng.beta(1.0, 40.0, 200_000)  # a ~2.5 % click rate, like ad logs
    y = (rng.random(p.size) < p).astype(int)  # labels drawn as Bernoulli(p): calibrated
    rc = reliability_curve(y, p, n_bins=10, strategy="quantile")
    frag = reliability_chart(rc)
    pts, diagonal = _reliability_points(frag)
    assert len(pts) == 10 and pts["n"].sum() == p.size
    # the points, read back from the chart's data, are within binomial noise of y = x
    se = np.sqrt(pts["predicted"] * (1 - pts["predicted"]) / pts["n"])
    assert (np.abs(pts["observed"] - pts["predicted"]) < 4 * se).all(), pts
    assert ((pts["low"] <= pts["predicted"]) | (pts["high"] >= pts["predicted"])).all()
    # the diagonal runs from 0 to the top of the shared scale
    assert diagonal[0] == {"predicted": 0, "observed": 0}
    assert diagonal[1]["predicted"] == diagonal[1]["observed"] >= pts["observed"].max()
    # the ECE printed on the chart is the one of the drawn bins
    ece = expected_calibration_error(y, p, n_bins=10, strategy="quantile")
    assert spec_of(frag)[0]["title"]["subtitle"].endswith(f"ECE over these 10 bins {ece:.4f}")
    # and an over-confident model (predictions twice the truth) does not
    rc2 = reliability_curve(y, np.clip(2 * p, 0, 1), n_bins=10, strategy="quantile")
    pts2, _ = _reliability_points(reliability_chart(rc2))
    se2 = np.sqrt(pts2["predicted"] * (1 - pts2["predicted"]) / pts2["n"])
    assert (np.abs(pts2["observed"] - pts2["predicted"]) > 4 * se2).sum() >= 8


def test_reliability_bins_with_few_events_are_left_out():
    rc = {"mean_predicted": [0.01, 0.5], "observed_rate": [0.012, 0.0], "counts": [5000, 3]}
    frag = reliability_chart(rc)
    pts, _ = _reliability_points(frag)
    assert pts["predicted"].tolist() == [0.01]
    assert "Left out: 1 bins with fewer than 100 test events" in frag


def test_wilson_interval_matches_the_formula():
    # 0 of 10: the upper end is z^2 / (n + z^2); 5 of 100 by the textbook formula (z = 1.96)
    lo, hi = wilson_interval([0, 5], [10, 100])
    assert lo[0] == 0 and hi[0] == pytest.approx(1.96**2 / (10 + 1.96**2))
    assert lo[1] == pytest.approx(0.021543, abs=1e-6) and hi[1] == pytest.approx(0.111752,
                                                                                abs=1e-6)


def test_findings_say_how_sure():
    clear = pd.DataFrame({"slot": ["top", "bottom"], "k": [300, 50], "n": [10_000, 10_000]})
    s = compare_rates(clear, "slot", "placement")
    assert s.startswith("Placement top has the highest CTR, 3.00 %")
    assert "6.0x placement bottom" in s and "do not overlap, so the gap is real" in s
    noisy = pd.DataFrame({"slot": ["a", "b"], "k": [3, 2], "n": [150, 150]})
    assert "overlap, so the gap may be noise" in compare_rates(noisy, "slot", "placement")
    thin = pd.DataFrame({"slot": ["a", "b"], "k": [1, 0], "n": [2, 5000]})
    assert compare_rates(thin, "slot", "placement") is None


def test_table_escapes_and_formats_cells():
    html = table(pd.DataFrame({"x": ["<script>alert(1)</script>"], "ctr": [0.01234],
                               "n": [12345]}), formats={"ctr": ".2%"})
    assert "<script>" not in html and "1.23 %" in html and "12,345" in html


def test_report_is_one_self_contained_file(tmp_path):
    sections = [
        ReportSection("One", bar_chart(["a"], [1.0], title="t", value_title="v")),
        ReportSection("Two", "<p>x</p>"),
    ]
    path = write_report(tmp_path / "r.html", sections, title="T")
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>") and "One" in text and "Two" in text
    # nothing is fetched: no src/href to another file or host, the runtime is inlined once
    assert not re.search(r"""\b(src|href)\s*=\s*["']?(https?:|//|[\w./-]+\.(js|css))""", text)
    assert text.count("<script>") == 1 and chart_runtime() in text
    assert "</script" not in chart_runtime().lower()
    assert "vegaEmbed" in render_report(sections)


def test_behaviour_section_leads_with_auc_not_accuracy():
    from adwise.behavior._demo import _sections

    meta = {"metrics": {"n": 6000, "base_rate": 0.018, "accuracy": 0.982, "auc": 0.71,
                        "logloss": 0.085, "ece": 0.0012, "pr_auc": 0.04},
            "reliability": {"mean_predicted": [0.01, 0.03], "observed_rate": [0.011, 0.029],
                            "counts": [3000, 3000]}}
    quality = _sections(meta)[0].html
    finding_at = quality.index("class='finding'")
    assert finding_at < quality.index("data-vl") < quality.index("<table")
    assert quality.index("AUC") < quality.index("base rate") < quality.index("accuracy")
    assert "can be bid on as they are (ECE 0.0010 on a 1.80% base rate)" in quality
    assert "{'" not in quality


@pytest.mark.slow
def test_demo_prints_commands_that_serve_its_workspace(tmp_path, monkeypatch):
    from adwise._demo import next_steps
    from adwise.cli import main
    from adwise.data import Workspace
    from adwise.service import KeyStore

    ws = Workspace.init(tmp_path / "my demo" / "workspace")
    text = next_steps(tmp_path / "my demo" / "report.html", ws.path)
    lines = [line.strip() for line in text.splitlines()]
    assert (tmp_path / "my demo" / "report.html").resolve().as_uri() in lines
    create = next(line for line in lines if " keys create " in line)
    serve = next(line for line in lines if line.endswith(" serve -w " + shlex.quote(
        str(ws.path.resolve()))))
    assert shlex.split(serve)[1:] == ["serve", "-w", str(ws.path.resolve())]
    monkeypatch.chdir(tmp_path)  # not the default workspace's folder
    assert main(shlex.split(create)[1:]) == 0
    assert [k.name for k in KeyStore(ws.path).list()] == ["me"]
    key, _ = KeyStore(ws.path).create("probe", "read")
    # the printed serve command serves that workspace: the key made for it is accepted
    _serve_and_ask(shlex.split(serve)[1:], key)


def _serve_and_ask(args: list[str], key: str) -> None:
    import json
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = "import sys; from adwise.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen([sys.executable, "-c", code, *args, "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/whoami",
                                         headers={"Authorization": f"Bearer {key}"})
            try:
                with urllib.request.urlopen(req, timeout=2) as r:
                    assert json.loads(r.read())["name"] == "probe"
                    return
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline, "the service did not start"
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(10)


def test_one_hour_of_events_is_said_not_drawn():
    # a real log sample (Avazu's first rows) covers one hour: no one-point chart, a reason
    frag = hour_chart([0], [1540], [7912], title="CTR by hour of day")
    assert spec_of(frag) == []
    assert ("No data for CTR by hour of day because every event falls in the same hour of day "
            "(00:00), so there is no daily pattern to show.") in frag
    frag = heatmap(["pos0", "pos1"], [0, 0], [0.19, 0.2], [6220, 1688],
                   title="CTR by placement x hour", row_title="placement")
    assert spec_of(frag) == [] and "every event falls in the same hour of day (00:00)" in frag


def test_models_list_leads_with_quality_not_accuracy(tmp_path, capsys):
    from adwise.cli import main
    from adwise.data import Workspace

    ws = Workspace.init(tmp_path / "ws")
    metrics = {"n": 6000, "base_rate": 0.018, "threshold": 0.5, "accuracy": 0.982,
               "auc": 0.71, "logloss": 0.085, "ece": 0.0012}
    ws.registry.save("behavior", lambda w: w.write_json("m.json", {}), metrics=metrics)
    capsys.readouterr()
    assert main(["models", "list", "-w", str(ws.path)]) == 0
    out = capsys.readouterr().out
    # (the table may wrap the cell: compare the order, not one line)
    assert out.index("auc=0.71") < out.index("logloss=0.085") < out.index("ece=0.0012") \
        < out.index("base_rate=0.018")
    assert "accuracy" not in out and "n=6000" not in out


def test_labels_from_the_data_cannot_break_out_of_the_page():
    evil = "x' onmouseover='alert(1)</div><script>alert(2)</script>"
    frag = bar_chart([evil, "b"], [0.1, 0.2], title=evil, value_title="v")
    assert "<script>" not in frag and "onmouseover='" not in frag
    (spec,) = spec_of(frag)
    assert evil in [r["label"] for r in spec["data"]["values"]] and spec["title"] == evil


def test_behaviour_finding_weighs_the_ece_against_chance():
    from adwise.behavior._demo import _quality_sentence

    rng = np.random.default_rng(1)
    p = rng.beta(1.0, 50.0, 4000)
    y = (rng.random(p.size) < p).astype(int)
    m = {"auc": 0.7, "base_rate": float(y.mean()), "n": int(p.size)}
    calibrated = reliability_curve(y, p, n_bins=10, strategy="quantile")
    s = _quality_sentence(m, None, {k: v.tolist() for k, v in calibrated.items()})
    assert "as calibrated as these test events can tell" in s, s
    twice = reliability_curve(y, np.clip(2 * p, 0, 1), n_bins=10, strategy="quantile")
    s = _quality_sentence(m, None, {k: v.tolist() for k, v in twice.items()})
    assert "recalibrate it before bidding" in s and "above the" in s, s
