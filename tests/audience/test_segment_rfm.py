"""Segmentation, profiles, stable ids, RFM and k-anonymous exports."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from adwise import ContractError, NotFittedError, ParameterError
from adwise.audience import Segmenter, describe_segments, match_segments, rfm_features
from adwise.cli._main import main


def _blobs(seed=0, n=150):
    rng = np.random.default_rng(seed)
    X = np.r_[rng.normal(0, 1, (n, 2)), rng.normal(8, 1, (n, 2)), rng.normal((0, 8), 1, (n, 2))]
    return pd.DataFrame(X, columns=["a", "b"]), np.repeat([0, 1, 2], n)


def test_segmenter_bad_parameter_message():
    with pytest.raises(ParameterError) as exc:
        Segmenter(method="dbscan").fit(_blobs()[0])
    assert str(exc.value) == (
        "Segmenter: parameter 'method' must be one of 'kmeans', 'minibatch', 'gmm'; "
        "got 'dbscan' (str)."
    )


def test_segmenter_not_fitted():
    with pytest.raises(NotFittedError):
        Segmenter().predict(_blobs()[0])


@pytest.mark.parametrize("method", ["kmeans", "minibatch", "gmm"])
def test_segmenter_finds_three_blobs(method):
    from sklearn.metrics import adjusted_rand_score

    X, truth = _blobs()
    s = Segmenter(transform="none", method=method).fit(X)
    assert s.k_ == 3
    assert adjusted_rand_score(truth, s.labels_) == pytest.approx(1.0)
    np.testing.assert_array_equal(s.predict(X), s.labels_)


def test_bic_criterion_finds_three_blobs():
    s = Segmenter(transform="none", criterion="bic", k_range=(2, 5)).fit(_blobs()[0])
    assert s.k_ == 3


def test_ids_stable_across_retrains():
    X, _ = _blobs()
    first = Segmenter(transform="none", k=3, random_state=0).fit(X)
    second = Segmenter(transform="none", k=3, random_state=5).fit(X.sample(frac=1, random_state=1))
    second.align(first.centers_, first.feature_names_)
    np.testing.assert_array_equal(second.predict(X), first.labels_)


def test_match_segments_new_cluster_gets_new_id():
    old = np.array([[0.0, 0.0], [10.0, 0.0]])
    new = np.array([[10.1, 0.0], [50.0, 50.0], [0.1, 0.0]])
    np.testing.assert_array_equal(match_segments(new, old), [1, 2, 0])


def test_log_transform_tames_big_spenders():
    rng = np.random.default_rng(0)
    m = np.r_[rng.lognormal(3, 1, 995), rng.lognormal(11, 0.2, 5)]
    X = pd.DataFrame({"monetary": m, "frequency": rng.poisson(3, 1000) + 1.0})
    raw = Segmenter(transform="none", k=2).fit(X)
    logged = Segmenter(transform="log", k=2).fit(X)
    assert np.bincount(raw.labels_).min() <= 10  # raw: a cluster of a few huge spenders
    assert np.bincount(logged.labels_).min() > 100


def test_profiles_are_plain_words():
    X = pd.DataFrame(
        {
            "recency_days": [1.0] * 60 + [300.0] * 60,
            "frequency": [20.0] * 60 + [1.0] * 60,
            "monetary": [900.0] * 60 + [20.0] * 60,
        }
    )
    labels = np.r_[np.zeros(60, int), np.ones(60, int)]
    prof = describe_segments(X, labels, outcomes=pd.DataFrame({"value": X["monetary"]}))
    assert prof[0]["name"] == "Recent frequent big-spending"
    assert prof[1]["name"] == "Lapsed one-off low-spend"
    assert prof[0]["description"].startswith("Recent frequent big-spending — 50 % of users")
    assert "value 900.00 per user (2.0x average)" in prof[0]["description"]


_TX = pd.DataFrame(
    {
        "inv": ["1", "1", "2", "C3", "4", "5"],
        "cust": ["a", "a", "a", "a", "b", None],
        "date": [
            "2024-01-01",
            "2024-01-01",
            "2024-01-10",
            "2024-01-11",
            "2024-01-05",
            "2024-01-05",
        ],
        "qty": [2, 1, 1, -1, 3, 1],
        "price": [10.0, 5.0, 20.0, 20.0, 1.0, 1.0],
    }
)


def test_rfm_net_returns():
    rfm, rep = rfm_features(
        _TX, "cust", "date", quantity_col="qty", price_col="price", invoice_col="inv"
    )
    assert rfm.loc["a"].tolist() == [1.0, 2.0, 25.0]  # 20 + 5 + 20 - 20 returned
    assert rfm.loc["b"].tolist() == [6.0, 1.0, 3.0]
    assert rep["return_rows"] == 1 and rep["rows_without_customer"] == 1


def test_rfm_drop_returns():
    rfm, _ = rfm_features(
        _TX,
        "cust",
        "date",
        quantity_col="qty",
        price_col="price",
        invoice_col="inv",
        returns="drop",
    )
    assert rfm.loc["a", "monetary"] == 45.0


def test_rfm_error_on_returns_message():
    with pytest.raises(ContractError) as exc:
        rfm_features(
            _TX,
            "cust",
            "date",
            quantity_col="qty",
            price_col="price",
            returns="error",
            source="tx.csv",
        )
    assert str(exc.value) == (
        "tx.csv: column 'qty': has negative values (returns or cancellations) and --returns "
        "error was given; 1 row(s) affected: row 3 (value -1) (rows count from 0). Fix: use "
        "--returns net (subtract returns from monetary value, the default) or --returns drop "
        "(ignore them), or remove the rows"
    )


def test_rfm_needs_amount():
    with pytest.raises(ValueError, match="give --amount-col, or --quantity-col and --price-col"):
        rfm_features(_TX, "cust", "date")


def test_cli_segment_plain_file(tmp_path, capsys):
    X, _ = _blobs()
    X.insert(0, "id", [f"c{i}" for i in range(len(X))])
    f = tmp_path / "customers.csv"
    X.to_csv(f, index=False)
    assert (
        main(
            [
                "audience",
                "segment",
                "--data",
                str(f),
                "--id-col",
                "id",
                "--transform",
                "none",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["k"] == 3 and out["silhouette"] > 0.7
    assert sorted(out["sizes"].values()) == [150, 150, 150]
    assert len(out["profiles"]) == 3 and all("name" in p for p in out["profiles"])
    assert main(["audience", "segment", "--data", str(f), "--id-col", "nope", "--json"]) == 2
    assert "column 'nope': not in the file" in capsys.readouterr().err
    assert main(["audience", "segment", "--data", str(f), "--id-col", "id", "--k", "0"]) == 2


def test_cli_segment_transactions_returns_error(tmp_path, capsys):
    f = tmp_path / "tx.csv"
    _TX.to_csv(f, index=False)
    args = [
        "audience",
        "segment",
        "--data",
        str(f),
        "--customer-col",
        "cust",
        "--date-col",
        "date",
        "--quantity-col",
        "qty",
        "--price-col",
        "price",
        "--k",
        "1",
        "--json",
    ]
    assert main([*args, "--returns", "error"]) == 2
    assert "has negative values (returns or cancellations)" in capsys.readouterr().err


@pytest.mark.shared_data
def test_online_retail_rfm_segments(shared_data, capsys):
    f = shared_data / "online_retail" / "online_retail_2010Q4.csv.gz"
    assert (
        main(
            [
                "audience",
                "segment",
                "--data",
                str(f),
                "--customer-col",
                "CustomerID",
                "--date-col",
                "InvoiceDate",
                "--quantity-col",
                "Quantity",
                "--price-col",
                "UnitPrice",
                "--invoice-col",
                "InvoiceNo",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["rfm"]["return_rows"] > 0
    assert 2 <= out["k"] <= 10
    assert min(out["sizes"].values()) > 50  # log RFM: no cluster of a handful of big spenders


def test_workspace_segments_recover_truth_and_export(
    loaded_workspace, small_world, tmp_path, capsys
):
    from sklearn.metrics import adjusted_rand_score

    from adwise.audience import load_segments
    from adwise.data import load_truth

    ws = loaded_workspace
    out = tmp_path / "seg.csv"
    assert main(["audience", "segment", "-w", str(ws.path), "--export", str(out), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    seg, _ = load_segments(ws)
    tr = load_truth(small_world)
    pos = {s: i for i, s in enumerate(ws.pseudonyms(tr.user_ids))}
    ari = adjusted_rand_score(tr.user_segment[[pos[u] for u in seg.index]], seg.to_numpy())
    # measured 0.74 here; 0.85 on the 5000-user demo world (chance: 0; 0.53 and 0.67 before the
    # interests were pooled within latent classes)
    assert ari >= 0.65
    exported = pd.read_csv(out)
    assert exported.groupby("segment").size().min() >= ws.min_segment_size
    small = [int(s) for s, n in res["sizes"].items() if n < ws.min_segment_size]
    assert res["export"]["withheld_segments"] == sorted(small)
    # Retraining keeps the ids: the same users land in the same segment ids.
    assert main(["audience", "segment", "-w", str(ws.path), "--json"]) == 0
    capsys.readouterr()
    seg2, _ = load_segments(ws)
    assert (seg2.reindex(seg.index) == seg).mean() > 0.95


def test_segment_names_are_unique():
    X = pd.DataFrame({"recency": [1.0, 1.0, 9.0, 9.0, 1.2, 0.8], "frequency": [5, 5, 1, 1, 5, 5]})
    prof = describe_segments(X, np.array([0, 0, 1, 1, 2, 2]))
    names = [p["name"] for p in prof]
    assert len(set(names)) == len(names)


def test_auto_k_takes_two_only_when_decisive():
    rng = np.random.default_rng(0)
    two = pd.DataFrame(np.r_[rng.normal(0, 1, (200, 2)), rng.normal(10, 1, (200, 2))])
    seg = Segmenter(transform="none").fit(two)
    assert seg.k_ == 2 and "beats k >= 3" in seg.k_rule_
    # a skewed continuum (RFM-like): k = 2 leads by a little, so k >= 3 is taken, and said
    blob = pd.DataFrame(rng.lognormal(0, 1, (600, 3)))
    seg = Segmenter().fit(blob)
    assert seg.k_ >= 3 and set(seg.scores_) == set(range(2, 11))


def test_split_falls_back_to_random_by_user_on_one_timestamp():
    from adwise._split import split_events

    ts = pd.Series(pd.Timestamp("2014-10-21 00:00"), index=range(400))
    users = np.repeat(np.arange(40), 10)
    y = np.tile([0, 0, 0, 1], 100)
    sp = split_events(ts, y, users, 0.2, seed=0)
    assert sp.kind == "random" and sp.description.startswith("random by user")
    assert "only 1 distinct timestamp" in sp.description
    assert not set(users[sp.train]) & set(users[sp.test])
    hourly = pd.Series(pd.date_range("2026-01-01", periods=400, freq="h"))
    assert split_events(hourly, y, users, 0.2).kind == "time"


def test_integer_codes_are_categories_not_numbers():
    from adwise._columns import is_code

    n = 300
    rng = np.random.default_rng(0)
    df = pd.DataFrame({
        "C1": rng.choice([1005, 1002, 1010], n),       # Avazu-like code
        "device_type": rng.choice([1, 4, 5], n),        # a code by its name
        "site_hash": rng.choice(["1fbe01fe", "85f751fd", "d6137915"], n),
        "children": rng.integers(0, 4, n),              # a small count: a number
        "clicked": rng.integers(0, 2, n),               # a 0/1 flag: a number
        "spend": rng.lognormal(0, 1, n),
    })
    assert is_code("C1", df["C1"]) and is_code("device_type", df["device_type"])
    assert not is_code("children", df["children"]) and not is_code("clicked", df["clicked"])
    assert not is_code("spend", df["spend"])


def test_plain_file_segmentation_uses_categorical_columns(tmp_path, capsys):
    rng = np.random.default_rng(1)
    n = 400
    grp = rng.integers(0, 2, n)
    df = pd.DataFrame({
        "id": np.arange(n),
        "spend": np.where(grp == 1, 50.0, 5.0) * rng.lognormal(0, 0.2, n),
        "channel": np.where(grp == 1, "web", "store"),
        "C1": np.where(grp == 1, 1005, 1002),
        "token": [f"{rng.integers(1 << 40):012x}" for _ in range(n)],  # an id: left out
    })
    f = tmp_path / "customers.csv"
    df.to_csv(f, index=False)
    assert main(["audience", "segment", "--data", str(f), "--id-col", "id", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert "channel=web" in res["features"] and "C1=1005" in res["features"]
    assert "C1" not in res["features"] and not any(c.startswith("token") for c in res["features"])
    # codes read with their column, never as "high C1"
    words = " ".join(p["name"] for p in res["profiles"])
    assert "high C1" not in words and "low C1" not in words
    assert len({p["name"] for p in res["profiles"]}) == len(res["profiles"])


def test_plain_file_segments_show_the_outcome_rate(tmp_path, capsys):
    rng = np.random.default_rng(2)
    n = 400
    grp = rng.integers(0, 2, n)
    df = pd.DataFrame({
        "id": np.arange(n),
        "balance": np.where(grp == 1, 900.0, 20.0) * rng.lognormal(0, 0.2, n),
        "loan": np.where(grp == 1, "no", "yes"),
        "y": np.where(rng.random(n) < np.where(grp == 1, 0.4, 0.05), "yes", "no"),
    })
    f = tmp_path / "bank.csv"
    df.to_csv(f, index=False)
    assert main(["audience", "segment", "--data", str(f), "--id-col", "id", "--outcome-col", "y",
                 "--k", "2", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert not any(c.startswith("y=") for c in res["features"])  # the outcome is no feature
    rates = sorted(p["response_rate"] for p in res["profiles"])
    assert rates[0] < 0.15 < 0.25 < rates[1]
    assert all("response" in p["description"] for p in res["profiles"])
    # a bare "yes" / "no" is named with its column
    assert all(p["name"].lower().startswith("loan ") for p in res["profiles"])
