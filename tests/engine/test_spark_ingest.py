"""``adwise ingest --engine spark``: the embedded contract, the same pseudonyms, Parquet out."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from adwise.cli._main import main


def _events(n: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "event_id": [f"e{i}" for i in range(n)],
        "ts": [f"2026-01-{1 + i % 9:02d}T{i % 24:02d}:15:00" for i in range(n)],
        "user_id": [f" u{i % 4} " if i % 3 else f"u{i % 4}" for i in range(n)],
        "ad_id": [f"a{i % 3}" for i in range(n)],
        "clicked": ["yes" if c else "no" for c in rng.random(n) < 0.3],
        "cost": rng.random(n),
        "device": ["ios", "android"] * (n // 2),
    })


@pytest.fixture()
def ws(tmp_path):
    from adwise.data import Workspace

    return Workspace.init(tmp_path / "ws")


def test_spark_ingest_writes_the_embedded_rows_and_pseudonyms(spark, ws, tmp_path, capsys):
    from adwise.data import pseudonymise
    from adwise.engine import ingest_spark

    iso = _events()
    iso.to_csv(tmp_path / "iso.csv", index=False)
    # compact hours (YYYYMMDDHH) as integers, in Parquet
    compact = _events().assign(ts=[2026010100 + 100 * (i % 9) + i for i in range(12)],
                               event_id=[f"c{i}" for i in range(12)])
    compact.to_parquet(tmp_path / "compact.parquet")
    reports = []
    for name in ("iso.csv", "compact.parquet"):
        args = ["ingest", str(tmp_path / name), "-t", "events", "-w", str(ws.path), "--json"]
        assert main(args) == 0
        embedded = json.loads(capsys.readouterr().out)
        out = tmp_path / f"{name}.out"
        assert main([*args, "--engine", "spark", "--out", str(out)]) == 0
        reports.append(json.loads(capsys.readouterr().out))
        assert set(reports[-1]) == set(embedded)  # the same --json keys on both engines
        assert reports[-1]["rows_added"] == embedded["rows_added"] == 12
        assert reports[-1]["warnings"] == embedded["warnings"]
    assert reports[0]["warnings"] == [f"{tmp_path / 'iso.csv'}: column 'clicked' holds the "
                                      "words no, yes; read as 1 (true/yes/y) and 0 "
                                      "(false/no/n)."]
    stored = ws.table("events").sort_values("event_id").reset_index(drop=True)
    got = pd.concat([pd.read_parquet(tmp_path / f"{n}.out")
                     for n in ("iso.csv", "compact.parquet")])
    got = got.sort_values("event_id").reset_index(drop=True)
    assert list(got.columns) == list(_events().columns)
    # the same keyed pseudonyms as the embedded ingest, of the trimmed ids
    assert got["user_id"].tolist() == stored["user_id"].tolist()
    assert got["user_id"].iloc[1] == pseudonymise("u1", ws.hmac_key)
    assert (got["ts"].to_numpy() == stored["ts"].to_numpy()).all()
    assert got["clicked"].tolist() == stored["clicked"].astype(int).tolist()
    np.testing.assert_allclose(got["cost"], stored["cost"])
    assert got["device"].tolist() == stored["device"].tolist()
    # the Spark function alone, on ids a pandas column holds
    ids = pd.DataFrame({"user_id": ["alice", "bob", "ünïcode", "42"]})
    from pyspark.sql import functions as F

    from adwise.engine import hmac_pseudonym, to_pandas

    spark_ids = to_pandas(spark.createDataFrame(list(ids.itertuples(index=False)), "user_id string")
                          .select(hmac_pseudonym(F.col("user_id"), b"k").alias("p")))["p"].tolist()
    assert spark_ids == [pseudonymise(u, b"k") for u in ids["user_id"]]
    assert spark_ids[0] == "pec631a55bb81f5b9"
    with pytest.raises(Exception, match="exists; give --out a new path"):
        ingest_spark(spark, str(tmp_path / "iso.csv"), "events", str(tmp_path / "iso.csv.out"),
                     None)


@pytest.mark.parametrize("case", ["not-binary", "bad-ts", "missing", "dup-key", "pii"])
def test_spark_ingest_refuses_in_the_embedded_words(case, spark, ws, tmp_path, capsys):
    df = _events()
    table = "events"
    if case == "not-binary":
        df["clicked"] = df["clicked"].astype(object)
        df.loc[[3, 8], "clicked"] = "2"
    elif case == "bad-ts":
        df.loc[5, "ts"] = "yesterday"
    elif case == "missing":
        df = df.drop(columns=["ad_id"])
    elif case == "dup-key":
        table, df = "ads", pd.DataFrame({"ad_id": ["a1", "a2", "a1"], "category": "x"})
    else:
        df["note"] = ["call +44 20 7946 0958" if i in (2, 9) else "ok" for i in range(12)]
    df.to_csv(tmp_path / "bad.csv", index=False)
    args = ["ingest", str(tmp_path / "bad.csv"), "-t", table, "-w", str(ws.path)]
    assert main(args) == 2
    want = capsys.readouterr().err.strip()
    out = tmp_path / "out.parquet"
    assert main([*args, "--engine", "spark", "--out", str(out)]) == 2
    got = capsys.readouterr().err.strip()
    if case == "pii":  # Spark cannot mask the text: that option is not offered
        want = want.replace(", pass --allow-pii note if you are entitled to keep it, or "
                            "--scrub-pii to mask e-mails, phones, IPs and card numbers inside "
                            "the text", ", or pass --allow-pii note if you are entitled to keep "
                            "it (--scrub-pii is for the embedded engine)")
    assert got == want
    assert f"{tmp_path / 'bad.csv'}: " in got
    assert not out.exists() and not list(tmp_path.glob("out.parquet*"))  # nothing written


def test_spark_ingest_names_the_part_file_of_a_folder(spark, ws, tmp_path, capsys):
    folder = tmp_path / "logs"
    folder.mkdir()
    _events().to_parquet(folder / "part-0.parquet")
    bad = _events().assign(event_id=[f"f{i}" for i in range(12)])
    bad.loc[4, "cost"] = -1.0
    bad.to_parquet(folder / "part-1.parquet")
    assert main(["ingest", str(folder), "-t", "events", "-w", str(ws.path), "--engine",
                 "spark", "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {folder / 'part-1.parquet'}: column 'cost': must be >= 0; 1 row(s) affected: "
        "row 4 (value -1.0) (rows count from 0). Fix: use numbers >= 0 (refunds belong in a "
        "separate column)")


def test_spark_ingest_options_are_checked_before_spark_starts(ws, tmp_path, capsys):
    from adwise.engine import strftime_to_spark

    base = ["ingest", str(tmp_path / "x.csv"), "-t", "events", "-w", str(ws.path)]
    cases = [
        (["--engine", "spark"], "--engine spark writes Parquet: give --out PATH (a new folder)."),
        (["--out", "o"], "--out is for --engine spark; the embedded engine ingests into the "
                         "workspace."),
        (["--engine", "spark", "--out", "o", "--scrub-pii"],
         "--scrub-pii is for the embedded engine; --engine spark writes a new Parquet folder "
         "and refuses personal data (or keeps it with --allow-pii)."),
    ]
    for more, want in cases:
        assert main([*base, *more]) == 2
        assert capsys.readouterr().err.strip() == f"error: {want}"
    assert strftime_to_spark("%y%m%d%H") == "yyMMddHH"
    assert strftime_to_spark("%d/%m/%YT%H:%M %z") == "dd'/'MM'/'yyyy'T'HH':'mm' 'Z"
