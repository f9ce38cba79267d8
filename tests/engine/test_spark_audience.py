"""``adwise audience segment --engine spark``: the RFM features of the embedded engine computed
in Spark SQL, KMeans on Spark ML, the embedded ``--json`` keys."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from adwise.cli._main import main


def _transactions(seed: int = 0) -> pd.DataFrame:
    """Three kinds of customers (recent big spenders, regulars, lapsed one-off buyers) with
    the embedded reader's edge cases: float ids, rows without a customer, returns, a
    negative-price adjustment, several lines per invoice."""
    rng = np.random.default_rng(seed)
    rows = []
    start = pd.Timestamp("2025-01-01")
    for c in range(60):
        kind = c % 3
        n_inv = (12, 5, 1)[kind]
        for j in range(n_inv):
            day = (rng.integers(300, 365) if kind == 0 else rng.integers(100, 365) if kind == 1
                   else rng.integers(0, 60))
            when = start + pd.Timedelta(days=int(day), minutes=int(rng.integers(0, 600)))
            for _ in range(rng.integers(1, 4)):
                rows.append((f"I{c}-{j}", float(10000 + c), when, int(rng.integers(1, 5)),
                             round(float((40, 10, 5)[kind] * rng.uniform(0.8, 1.2)), 2)))
        if kind == 0:  # a return
            rows.append((f"C{c}", float(10000 + c), start + pd.Timedelta(days=364), -1, 30.0))
    rows.append(("I-x", np.nan, start + pd.Timedelta(days=3), 2, 5.0))  # no customer
    rows.append(("ADJ", 10001.0, start + pd.Timedelta(days=5), 1, -11.0))  # adjustment
    return pd.DataFrame(rows, columns=["Invoice", "Customer ID", "InvoiceDate", "Quantity",
                                       "Price"])


def _file(tmp_path):
    path = tmp_path / "tx.csv"
    _transactions().to_csv(path, index=False)
    return path


_RFM = dict(customer_col="Customer ID", date_col="InvoiceDate", quantity_col="Quantity",
            price_col="Price", invoice_col="Invoice")


@pytest.mark.parametrize(("returns", "invoice"), [("net", True), ("drop", False)])
def test_rfm_features_are_the_same_on_both_engines(spark, tmp_path, returns, invoice):
    from adwise.audience._rfm import rfm_features
    from adwise.audience._spark import rfm_spark
    from adwise.engine import read_frame, to_pandas

    path = _file(tmp_path)
    kw = {**_RFM, "invoice_col": _RFM["invoice_col"] if invoice else None}
    want, want_report = rfm_features(pd.read_csv(path), returns=returns, source=str(path), **kw)
    got, report = rfm_spark(read_frame(spark, path), returns=returns, source=str(path), **kw)
    got = to_pandas(got).set_index("customer").sort_index()
    assert report == want_report
    assert report["return_rows"] == 20 and report["rows_without_customer"] == 1
    assert list(got.index) == list(want.index)
    for c in want.columns:
        np.testing.assert_allclose(got[c].to_numpy(), want[c].to_numpy(), rtol=1e-12)


@pytest.mark.slow  # Spark ML fits on a local[1] session: half a minute
def test_segment_on_spark_has_the_embedded_keys_and_finds_the_kinds(spark, tmp_path, capsys):
    path = _file(tmp_path)
    args = ["audience", "segment", "--data", str(path), "--customer-col", "Customer ID",
            "--date-col", "InvoiceDate", "--quantity-col", "Quantity", "--price-col", "Price",
            "--invoice-col", "Invoice", "--json"]
    assert main([*args, "--k", "3"]) == 0
    embedded = json.loads(capsys.readouterr().out)
    assert main([*args, "--k", "auto", "--engine", "spark"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == set(embedded) | {"spark_master"}
    assert (out["engine"], embedded["engine"]) == ("spark", "embedded")
    assert out["rfm"] == embedded["rfm"] and out["features"] == embedded["features"]
    assert set(out["k_scores"]) == {str(k) for k in range(2, 11)}
    # the three kinds, 20 customers each, as the embedded engine finds them
    assert out["k"] == 3, out["k_scores"]
    assert sorted(out["sizes"].values()) == sorted(embedded["sizes"].values()) == [20, 20, 20]
    assert out["silhouette"] == pytest.approx(embedded["silhouette"], abs=1e-6)
    names = sorted(p["name"] for p in out["profiles"])
    assert names == sorted(p["name"] for p in embedded["profiles"])
    value = {p["name"]: p["description"] for p in out["profiles"]}
    assert value == {p["name"]: p["description"] for p in embedded["profiles"]}


@pytest.mark.parametrize(("more", "want"), [
    (["--engine", "spark"],
     "--engine spark segments a transactions file: give --data, --customer-col, --date-col and "
     "the amount (--amount-col, or --quantity-col and --price-col); use --engine embedded for "
     "the workspace and for --id-col files."),
    (["--engine", "spark", "--data", "x.csv", "--customer-col", "c", "--date-col", "d",
      "--method", "gmm"],
     "--engine spark clusters with --method kmeans (Spark ML KMeans) without --tune; use "
     "--engine embedded for the other methods and for tuning."),
    (["--engine", "spark", "--data", "x.csv", "--customer-col", "c", "--date-col", "d",
      "--tune"],
     "--engine spark clusters with --method kmeans (Spark ML KMeans) without --tune; use "
     "--engine embedded for the other methods and for tuning."),
    (["--engine", "hive"], "--engine must be embedded or spark; got 'hive'."),
])
def test_segment_engine_options_are_checked_before_spark_starts(tmp_path, capsys, more, want):
    assert main(["audience", "segment", "-w", str(tmp_path / "ws"), *more]) == 2
    assert capsys.readouterr().err.strip() == f"error: {want}"


def test_spark_rfm_names_dates_that_are_not_dates(spark, tmp_path, capsys):
    tx = _transactions()
    tx["InvoiceDate"] = tx["InvoiceDate"].astype(str)
    tx.loc[5, "InvoiceDate"] = "yesterday"
    tx.to_csv(tmp_path / "tx.csv", index=False)
    assert main(["audience", "segment", "--data", str(tmp_path / "tx.csv"), "--customer-col",
                 "Customer ID", "--date-col", "InvoiceDate", "--amount-col", "Price",
                 "--engine", "spark"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {tmp_path / 'tx.csv'}: column 'InvoiceDate': has 1 value(s) that are not dates "
        "(e.g. 'yesterday'). Fix: write dates as ISO-8601 (YYYY-MM-DD[ HH:MM:SS]) and drop "
        "empty ones")


def test_spark_refuses_the_rank_transform(spark, tmp_path, capsys):
    path = _file(tmp_path)
    assert main(["audience", "segment", "--data", str(path), "--customer-col", "Customer ID",
                 "--date-col", "InvoiceDate", "--amount-col", "Price", "--transform", "rank",
                 "--engine", "spark"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --engine spark transforms the features with log or none; got --transform "
        "'rank'. Use --engine embedded for rank.")
