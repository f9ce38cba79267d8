"""One feature specification, two engines: the history SQL on DuckDB, on Spark and the
embedded NumPy features give the same numbers (timestamp ties, unknown users and ads, an ad
without category)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adwise.behavior._features import add_smoothed, event_features
from adwise.engine import history_columns, read_frame, run_duckdb, run_spark, to_pandas

PRIOR = 0.3


@pytest.fixture()
def tied(workspace, tmp_path):
    """Mostly tied timestamps, a user and an ad missing from their tables, an ad without
    category, event ids in no relation to time; written as Parquet (microseconds) too."""
    rng = np.random.default_rng(3)
    n = 400
    times = pd.Timestamp("2026-01-05 08:00") + pd.to_timedelta(
        rng.choice([0, 1, 2, 60, 61, 3600, 86400, 86401], n), unit="s")
    events = pd.DataFrame({
        "event_id": [f"e{i:04d}" for i in rng.permutation(n)],
        "ts": times,
        "user_id": rng.choice(["u1", "u2", "u3", "u4", "ghost"], n),
        "ad_id": rng.choice(["a1", "a2", "a3", "a4", "a5", "gone"], n),
        "clicked": (rng.random(n) < 0.3).astype(int),
        "placement": rng.choice(["top", "feed"], n),
    })
    users = pd.DataFrame({"user_id": ["u1", "u2", "u3", "u4"], "segment": ["a", "b", "a", None]})
    ads = pd.DataFrame({"ad_id": ["a1", "a2", "a3", "a4", "a5"],
                        "category": ["x", "x", "y", None, "z"], "bid": [1.0, 2, 3, 4, 5]})
    for name, df in (("users", users), ("ads", ads), ("events", events)):
        df.to_parquet(tmp_path / f"{name}.parquet", coerce_timestamps="us")
        workspace.ingest(tmp_path / f"{name}.parquet", name)
    return workspace, tmp_path


def _by_event(df: pd.DataFrame) -> pd.DataFrame:
    cols = history_columns()
    return df.set_index("event_id").sort_index()[cols].astype(float)


def test_spec_on_duckdb_equals_the_embedded_features(tied):
    ws, _ = tied
    embedded = add_smoothed(event_features(ws), PRIOR)
    with ws.connect(read_only=True) as con:
        spec = run_duckdb(con, PRIOR)
    assert spec["ts"].duplicated().sum() > 300  # mostly ties
    # same row order as the embedded frame (ts, then event_id) and the same numbers
    assert list(spec["event_id"]) == list(embedded["event_id"])
    pd.testing.assert_frame_equal(_by_event(spec), _by_event(embedded), check_exact=False,
                                  rtol=1e-12)
    # the tie rule: the first event of a user at an instant sees no other event of that instant
    first = spec.sort_values(["user_id", "ts"]).groupby("user_id").head(1)
    assert (first["user_past_impressions"] == 0).all()


def test_spec_on_spark_equals_duckdb(tied, spark):
    ws, folder = tied
    with ws.connect(read_only=True) as con:
        want = run_duckdb(con, PRIOR)
    events = read_frame(spark, folder / "events.parquet")
    got = to_pandas(run_spark(spark, events, read_frame(spark, folder / "ads.parquet"), PRIOR))
    assert len(got) == len(want)
    pd.testing.assert_frame_equal(_by_event(got), _by_event(want), check_exact=False,
                                  rtol=1e-12)
    # without an ads table (or without categories) the user x category counts are 0 on both
    got = to_pandas(run_spark(spark, events, None, PRIOR))
    with ws.connect(read_only=True) as con:
        want = run_duckdb(con, PRIOR, has_category=False)
    assert (want["user_cat_past_impressions"] == 0).all()
    pd.testing.assert_frame_equal(_by_event(got), _by_event(want), check_exact=False,
                                  rtol=1e-12)


def test_unreadable_path_is_one_line(spark, tmp_path):
    from adwise import InputError

    with pytest.raises(InputError) as err:
        read_frame(spark, tmp_path / "missing.parquet")
    msg = str(err.value)
    assert msg.startswith(f"{tmp_path / 'missing.parquet'}: Spark cannot read it: ")
    assert "PATH_NOT_FOUND" in msg and "\n" not in msg
