"""``adwise placement train --engine spark``: the counts per cell on Spark equal the embedded
engine's, and so does the saved model (rates, intervals, budget curves)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from adwise.cli._main import main


@pytest.fixture()
def slot_ws(tmp_path):
    """A small world with slots, costs, conversions and campaigns (in the ads table); some
    events have no slot and one ad no campaign."""
    from adwise.data import Workspace

    rng = np.random.default_rng(1)
    n = 3000
    placement = rng.choice(["top", "side", "feed"], n)
    ts = pd.Timestamp("2026-03-02") + pd.to_timedelta(rng.uniform(0, 6 * 86400, n), unit="s")
    p = np.where(placement == "top", 0.08, 0.03) * np.where(ts.hour >= 18, 1.5, 1.0)
    clicked = (rng.random(n) < p).astype(int)
    events = pd.DataFrame({
        "ts": ts, "user_id": [f"u{i}" for i in rng.integers(0, 200, n)],
        "ad_id": [f"a{i}" for i in rng.integers(0, 12, n)],
        "placement": np.where(rng.random(n) < 0.02, None, placement).astype(object),
        "clicked": clicked,
        "converted": (clicked & (rng.random(n) < 0.3)).astype(int),
        "cost": np.round(rng.uniform(0.001, 0.01, n), 5)})
    ads = pd.DataFrame({"ad_id": [f"a{i}" for i in range(12)],
                        "campaign_id": [f"c{i % 3}" if i != 11 else None for i in range(12)]})
    # Spark reads microsecond timestamps, not pandas' default nanoseconds
    events.astype({"ts": "datetime64[us]"}).to_parquet(tmp_path / "events.parquet")
    ads.to_parquet(tmp_path / "ads.parquet")
    ws = Workspace.init(tmp_path / "ws")
    ws.ingest(tmp_path / "ads.parquet", "ads")
    ws.ingest(tmp_path / "events.parquet", "events")
    return ws


def _close(a, b, path=""):
    """Equal JSON-like structures, floats to 1e-9 relative (sums in another order)."""
    if isinstance(a, dict):
        assert set(a) == set(b), (path, set(a) ^ set(b))
        for k in a:
            _close(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12, nan_ok=True), path
    else:
        assert a == b, (path, a, b)


def test_counts_and_model_match_the_embedded_engine(spark, slot_ws, tmp_path):
    from adwise.placement._pipeline import _allocator_to_dict, load_events, load_model, train
    from adwise.placement._spark import counts_spark, train_spark

    ws = slot_ws
    df = load_events(ws, ["campaign_id"])
    _, mv_e = train(ws, "campaign_id")
    want = load_model(ws, mv_e.version)
    _, mv_s = train_spark(spark, ws, "campaign_id")
    got = load_model(ws, mv_s.version)

    # the counts: the embedded rows grouped the same way
    frame = spark.read.parquet(str(tmp_path / "events.parquet"))

    keys = ["campaign_id", "placement", "hour", "weekday"]
    e = df.assign(n=1.0, conv=df["converted"].where(df["clicked"] > 0, 0)).groupby(keys)[
        ["n", "clicked", "conv"]].sum().reset_index()
    cells, daily, info = counts_spark(
        frame.join(spark.read.parquet(str(tmp_path / "ads.parquet")), "ad_id", "left"),
        "campaign_id")
    s = cells.sort_values(keys).reset_index(drop=True)
    e = e.sort_values(keys).reset_index(drop=True)
    assert info["rows"] == len(df) and info["skipped_without_placement"] == \
        df.attrs["skipped_without_placement"] > 0
    assert (s["campaign_id"] == "unknown").any()  # the ad without a campaign
    np.testing.assert_array_equal(s[keys].to_numpy(), e[keys].to_numpy())
    np.testing.assert_array_equal(s[["impressions", "clicks", "conversions"]].to_numpy(),
                                  e[["n", "clicked", "conv"]].to_numpy())
    assert daily["cost"].sum() == pytest.approx(df["cost"].sum(), rel=1e-12)

    # the saved models: the same cells, rates, intervals and budget curves
    _close(got.effects.to_dict(), want.effects.to_dict())
    assert set(got.allocators) == set(want.allocators) == {"clicks", "conversions"}
    for k in want.allocators:
        _close(_allocator_to_dict(got.allocators[k]), _allocator_to_dict(want.allocators[k]))
    m_s, m_e = mv_s.metadata["metrics"], mv_e.metadata["metrics"]
    assert set(m_s) == set(m_e) | {"engine", "spark_master"}
    _close({k: v for k, v in m_s.items() if k in m_e and k != "fit_seconds"},
           {k: v for k, v in m_e.items() if k != "fit_seconds"})


def test_placement_train_cli_on_spark_reads_a_file(spark, slot_ws, tmp_path, capsys):
    ev = pd.read_parquet(tmp_path / "events.parquet")
    ev = ev.merge(pd.read_parquet(tmp_path / "ads.parquet"), on="ad_id", how="left")
    ev.to_csv(tmp_path / "joined.csv", index=False)
    base = ["placement", "train", "-w", str(slot_ws.path), "--json"]
    assert main(base) == 0
    embedded = json.loads(capsys.readouterr().out)
    assert main([*base, "--engine", "spark", "--events", str(tmp_path / "joined.csv")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == set(embedded) | {"spark_master"}
    assert (out["engine"], embedded["engine"]) == ("spark", "embedded")
    for k in ("rows", "best_cell", "best_cell_clicks", "best_cell_impressions"):
        assert out[k] == embedded[k], k
    assert out["best_cell_ctr"] == pytest.approx(embedded["best_cell_ctr"], rel=1e-9)


@pytest.mark.parametrize(("more", "want"), [
    (["--events", "x.csv"],
     "--events is read by --engine spark; for the embedded engine ingest the file into the "
     "workspace with `adwise ingest`."),
    (["--engine", "dask"], "--engine must be embedded or spark; got 'dask'."),
])
def test_placement_engine_options_are_checked_before_spark_starts(tmp_path, capsys, more, want):
    assert main(["placement", "train", "-w", str(tmp_path / "ws"), *more]) == 2
    assert capsys.readouterr().err.strip() == f"error: {want}"


def test_spark_placement_names_a_missing_group_column(spark, tmp_path, capsys):
    from adwise.data import Workspace

    pd.DataFrame({"ts": ["2026-01-01 10:00:00"], "placement": ["top"], "clicked": [1]}) \
        .to_csv(tmp_path / "e.csv", index=False)
    Workspace.init(tmp_path / "ws")
    assert main(["placement", "train", "-w", str(tmp_path / "ws"), "--engine", "spark",
                 "--events", str(tmp_path / "e.csv")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {tmp_path / 'e.csv'}: no column 'campaign_id' (given as --group-col); the "
        "file's columns are: ts, placement, clicked. Give --group-col none or a column of the "
        "file.")
