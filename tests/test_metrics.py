"""Tests of adwise.metrics: against scikit-learn, hand-computed answers and scikit-uplift values."""

from __future__ import annotations

import doctest
import importlib
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

import adwise.metrics as M
from adwise._exceptions import InputError, ParameterError

PROPERTY = settings(max_examples=30, deadline=None)


def _binary_data(seed: int, n: int, levels: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Labels with both classes and probabilities; ``levels`` few distinct values force ties."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[0], y[1] = 0, 1
    p = rng.random(n) * 0.6 + 0.4 * y * rng.random(n)
    if levels is not None:
        p = np.round(p * levels) / levels
    return y, p


seeds = st.integers(0, 2**32 - 1)
sizes = st.integers(2, 300)
tie_levels = st.sampled_from([None, 2, 5, 20])


def _raises(exc: type[Exception], message: str):
    return pytest.raises(exc, match=f"^{re.escape(message)}$")


def test_public_api_is_explicit() -> None:
    assert sorted(M.__all__) == sorted(
        [
            "accuracy",
            "binary_report",
            "coverage_at_k",
            "expected_calibration_error",
            "f1",
            "lift_at",
            "log_loss",
            "mae",
            "map_at_k",
            "mse",
            "ndcg_at_k",
            "perfect_qini_curve",
            "perfect_uplift_curve",
            "pr_auc",
            "precision",
            "precision_at_k",
            "qini_auc_score",
            "qini_curve",
            "ranking_report",
            "recall",
            "recall_at_k",
            "reliability_curve",
            "rmse",
            "roc_auc",
            "roc_curve_points",
            "uplift_at_k",
            "uplift_auc_score",
            "uplift_curve",
        ]
    )
    for name in M.__all__:
        assert callable(getattr(M, name))


# --------------------------------------------------------------------------- classification


@PROPERTY
@given(seeds, sizes, tie_levels)
def test_roc_auc_matches_sklearn(seed: int, n: int, levels: int | None) -> None:
    y, p = _binary_data(seed, n, levels)
    assert M.roc_auc(y, p) == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)


@PROPERTY
@given(seeds, sizes, tie_levels)
def test_pr_auc_matches_sklearn(seed: int, n: int, levels: int | None) -> None:
    y, p = _binary_data(seed, n, levels)
    assert M.pr_auc(y, p) == pytest.approx(skm.average_precision_score(y, p), abs=1e-12)


def test_rank_metrics_accept_any_finite_score_and_bool_labels() -> None:
    y = np.array([False, True, False, True])
    s = np.array([-3.0, 10.0, 2.0, 2.0])
    assert M.roc_auc(y, s) == skm.roc_auc_score(y, s)
    assert M.pr_auc(y, s) == pytest.approx(skm.average_precision_score(y, s))
    assert M.pr_auc([1, 1, 1], [0.2, 0.5, 0.1]) == 1.0  # all positive: defined


def test_roc_auc_known_answers() -> None:
    assert M.roc_auc([0, 1], [0.2, 0.8]) == 1.0
    assert M.roc_auc([0, 1], [0.8, 0.2]) == 0.0
    assert M.roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5


@PROPERTY
@given(seeds, sizes, tie_levels)
def test_log_loss_matches_sklearn(seed: int, n: int, levels: int | None) -> None:
    y, p = _binary_data(seed, n, levels)
    p = np.clip(p, 1e-3, 1 - 1e-3)
    assert M.log_loss(y, p) == pytest.approx(skm.log_loss(y, p, labels=[0, 1]), rel=1e-12)


def test_log_loss_clips_and_allows_one_class() -> None:
    assert M.log_loss([1, 0], [1.0, 0.0]) == pytest.approx(-math.log(1 - 1e-15))
    assert M.log_loss([1, 1], [0.5, 0.5]) == pytest.approx(math.log(2))
    assert math.isinf(M.log_loss([1], [0.0], eps=0.0))
    assert M.log_loss([1], [0.0], eps=0.1) == pytest.approx(-math.log(0.1))


@PROPERTY
@given(seeds, sizes, st.floats(0.0, 1.0))
def test_threshold_metrics_match_sklearn(seed: int, n: int, threshold: float) -> None:
    y, p = _binary_data(seed, n, None)
    y_pred = (p >= threshold).astype(int)
    assert M.accuracy(y, y_pred) == pytest.approx(skm.accuracy_score(y, y_pred))
    assert M.precision(y, y_pred) == pytest.approx(skm.precision_score(y, y_pred, zero_division=0))
    assert M.recall(y, y_pred) == pytest.approx(skm.recall_score(y, y_pred, zero_division=0))
    assert M.f1(y, y_pred) == pytest.approx(skm.f1_score(y, y_pred, zero_division=0))


def test_threshold_metrics_zero_division_is_zero() -> None:
    assert M.precision([1, 0], [0, 0]) == 0.0
    assert M.recall([0, 0], [1, 0]) == 0.0
    assert M.f1([0, 0], [0, 0]) == 0.0
    assert M.accuracy([0, 0], [0, 0]) == 1.0


def test_binary_report() -> None:
    y, p = _binary_data(7, 500, None)
    r = M.binary_report(y, p, threshold=0.4)
    y_pred = (p >= 0.4).astype(int)
    assert list(r) == [
        "n",
        "base_rate",
        "threshold",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "auc",
        "pr_auc",
        "logloss",
        "ece",
    ]
    assert r["n"] == 500 and r["threshold"] == 0.4
    assert r["base_rate"] == pytest.approx(y.mean())
    assert r["f1"] == pytest.approx(skm.f1_score(y, y_pred))
    assert r["auc"] == pytest.approx(skm.roc_auc_score(y, p))
    assert r["logloss"] == pytest.approx(skm.log_loss(y, p))
    assert r["ece"] == pytest.approx(M.expected_calibration_error(y, p))
    assert all(type(v) in (int, float) for v in r.values())


def test_ece_known_answers() -> None:
    # uniform 10 bins, bin b = (b/10, (b+1)/10]:
    #   (0.0, 0.1]: p 0.05, y 0          -> 1 * |0   - 0.05| = 0.05
    #   (0.1, 0.2]: p 0.15 x2, y 0, 1    -> 2 * |0.5 - 0.15| = 0.70
    #   (0.5, 0.6]: p 0.55, y 1          -> 1 * |1   - 0.55| = 0.45
    #   (0.9, 1.0]: p 0.95 x2, y 1, 0    -> 2 * |0.5 - 0.95| = 0.90
    # ECE = (0.05 + 0.70 + 0.45 + 0.90) / 6 = 0.35
    y = [0, 0, 1, 1, 1, 0]
    p = [0.05, 0.15, 0.15, 0.55, 0.95, 0.95]
    assert M.expected_calibration_error(y, p) == pytest.approx(0.35)
    # quantile, 2 bins: edges 0.1, 0.25, 0.4 -> {0.1, 0.2} (y 0, 0) and {0.3, 0.4} (y 1, 1)
    # ECE = (2 * |0 - 0.15| + 2 * |1 - 0.35|) / 4 = 0.4
    got = M.expected_calibration_error([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], 2, "quantile")
    assert got == pytest.approx(0.4)
    assert M.expected_calibration_error([0, 1], [0.0, 1.0]) == 0.0


def test_reliability_curve_bins_and_edges() -> None:
    rc = M.reliability_curve([0, 1, 1, 0, 1], [0.0, 0.3, 0.3000001, 1.0, 1.0], n_bins=10)
    # 0.0 is in the first bin, 0.3 is the top of (0.2, 0.3], 1.0 is in the last bin
    assert rc["counts"].tolist() == [1, 1, 1, 2]
    assert rc["bin_lower"].tolist() == pytest.approx([0.0, 0.2, 0.3, 0.9])
    assert rc["bin_upper"].tolist() == pytest.approx([0.1, 0.3, 0.4, 1.0])
    assert rc["observed_rate"].tolist() == [0.0, 1.0, 1.0, 0.5]
    assert rc["mean_predicted"].tolist() == pytest.approx([0.0, 0.3, 0.3000001, 1.0])


@PROPERTY
@given(seeds, st.integers(20, 300), st.sampled_from(["uniform", "quantile"]), st.integers(1, 15))
def test_reliability_curve_matches_sklearn(seed: int, n: int, strategy: str, n_bins: int) -> None:
    y, p = _binary_data(seed, n, None)
    rc = M.reliability_curve(y, p, n_bins=n_bins, strategy=strategy)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=n_bins, strategy=strategy)
    np.testing.assert_allclose(rc["observed_rate"], prob_true, atol=1e-12)
    np.testing.assert_allclose(rc["mean_predicted"], prob_pred, atol=1e-12)
    assert rc["counts"].sum() == n
    ece = np.sum(rc["counts"] * np.abs(rc["observed_rate"] - rc["mean_predicted"])) / n
    assert M.expected_calibration_error(y, p, n_bins, strategy) == pytest.approx(ece, abs=1e-12)


def test_lift_at_known_answers() -> None:
    y = [1, 0, 0, 0, 1, 0, 0, 0, 0, 0]
    p = [0.9, 0.8, 0.1, 0.1, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert M.lift_at(y, p, 0.2) == pytest.approx(0.5 / 0.2)  # top 2: rate 1/2, base 2/10
    assert M.lift_at(y, p, 1.0) == pytest.approx(1.0)
    # top 1 of 4 with the top score tied between a positive and a negative: rate 1/2
    assert M.lift_at([1, 0, 0, 1], [0.9, 0.9, 0.1, 0.2], 0.25) == pytest.approx(0.5 / 0.5)
    # frac * n below one row still takes one row
    assert M.lift_at([0, 1, 0, 0], [0.1, 0.9, 0.2, 0.3], 0.01) == pytest.approx(4.0)


@PROPERTY
@given(seeds, st.integers(2, 300), tie_levels, st.floats(0.01, 1.0))
def test_lift_at_does_not_depend_on_row_order(
    seed: int, n: int, levels: int | None, frac: float
) -> None:
    y, p = _binary_data(seed, n, levels)
    perm = np.random.default_rng(seed + 1).permutation(n)
    assert M.lift_at(y, p, frac) == pytest.approx(M.lift_at(y[perm], p[perm], frac))


@PROPERTY
@given(seeds, sizes, tie_levels)
def test_roc_curve_points_match_sklearn(seed: int, n: int, levels: int | None) -> None:
    y, p = _binary_data(seed, n, levels)
    pts = M.roc_curve_points(y, p, max_points=10_000)
    fpr, tpr, thr = skm.roc_curve(y, p)
    np.testing.assert_allclose(pts["fpr"], fpr)
    np.testing.assert_allclose(pts["tpr"], tpr)
    np.testing.assert_allclose(pts["thresholds"], thr)
    assert np.trapezoid(pts["tpr"], pts["fpr"]) == pytest.approx(M.roc_auc(y, p))


def test_roc_curve_points_thinned() -> None:
    y, p = _binary_data(3, 5000, None)
    pts = M.roc_curve_points(y, p, max_points=50)
    assert 2 <= len(pts["fpr"]) <= 50
    assert len(pts["fpr"]) == len(pts["tpr"]) == len(pts["thresholds"])
    assert (pts["fpr"][0], pts["tpr"][0]) == (0.0, 0.0)
    assert (pts["fpr"][-1], pts["tpr"][-1]) == (1.0, 1.0)
    assert np.all(np.diff(pts["fpr"]) >= 0) and np.all(np.diff(pts["tpr"]) >= 0)
    assert np.trapezoid(pts["tpr"], pts["fpr"]) == pytest.approx(M.roc_auc(y, p), abs=0.01)


# --------------------------------------------------------------------------- regression


@PROPERTY
@given(seeds, st.integers(1, 300))
def test_regression_metrics_match_sklearn(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(3, 2, n)
    y_hat = y + rng.normal(0, 1, n)
    assert M.mse(y, y_hat) == pytest.approx(skm.mean_squared_error(y, y_hat), rel=1e-12)
    assert M.rmse(y, y_hat) == pytest.approx(skm.root_mean_squared_error(y, y_hat), rel=1e-12)
    assert M.mae(y, y_hat) == pytest.approx(skm.mean_absolute_error(y, y_hat), rel=1e-12)


def test_regression_known_answers() -> None:
    assert M.mse([1, 2, 3], [1, 2, 3]) == 0.0
    assert M.mse([0, 0], [1, 3]) == 5.0
    assert M.rmse([0, 0], [3, 3]) == 3.0
    assert M.mae([0, 0], [1, -3]) == 2.0


# --------------------------------------------------------------------------- ranking

# Three users with relevant items and one without, k = 3 (rel = relevant hit at that place):
#   user 0: top-3 [1, 2, 3], relevant {2, 3, 9}: hits at places 2 and 3
#       P = 2/3, R = 2/3
#       DCG = 1/log2(3) + 1/log2(4) = 0.6309298 + 0.5 = 1.1309298
#       IDCG (min(3, 3) = 3 places) = 1 + 0.6309298 + 0.5 = 2.1309298 -> NDCG = 0.5307212
#       AP = (1/2 + 2/3) / min(3, 3) = 7/18
#   user 1: top-3 [5, 6, 7], relevant {5}: hit at place 1
#       P = 1/3, R = 1, NDCG = 1, AP = (1/1) / 1 = 1
#   user 2: top-3 [8, 8, 10], relevant {8, 10, 11, 12}: the repeated 8 counts once, so hits
#       at places 1 and 3; P = 2/3, R = 2/4
#       DCG = 1 + 0.5 = 1.5, IDCG (3 places) = 2.1309298 -> NDCG = 0.7039180
#       AP = (1/1 + 2/3) / min(3, 4) = 5/9
#   user 3: relevant {} -> skipped
# precision@3 = (2/3 + 1/3 + 2/3) / 3 = 5/9
# recall@3    = (2/3 + 1 + 1/2) / 3 = 13/18
# ndcg@3      = (0.5307212 + 1 + 0.7039180) / 3 = 0.7448797
# map@3       = (7/18 + 1 + 5/9) / 3 = 35/54
# coverage@3 over 20 items: {1, 2, 3, 5, 6, 7, 8, 10} -> 8/20 = 0.4
TOY_REC = [[1, 2, 3, 4], [5, 6, 7], [8, 8, 10, 11], [1, 2, 3]]
TOY_REL = [{2, 3, 9}, {5}, {8, 10, 11, 12}, set()]
TOY_EXPECTED = {
    "precision@3": 5 / 9,
    "recall@3": 13 / 18,
    "ndcg@3": (
        (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3) + 1 / math.log2(4))
        + 1.0
        + 1.5 / (1 + 1 / math.log2(3) + 1 / math.log2(4))
    )
    / 3,
    "map@3": 35 / 54,
    "coverage@3": 0.4,
}


def test_toy_ndcg_literal_matches_comment() -> None:
    assert TOY_EXPECTED["ndcg@3"] == pytest.approx(0.7448797, abs=1e-7)


def _toy_forms():
    as_strings_rec = [[f"i{x}" for x in r] for r in TOY_REC]
    as_strings_rel = [{f"i{x}" for x in r} for r in TOY_REL]
    padded_rec = np.array([[1, 2, 3, 4], [5, 6, 7, -1], [8, 8, 10, 11], [1, 2, 3, -1]])
    padded_rel = np.array([[2, 3, 9, -1], [5, -1, -1, -1], [8, 10, 11, 12], [-1, -1, -1, -1]])
    arrays_rel = [np.array(sorted(r), dtype=np.int64) for r in TOY_REL]
    return {
        "lists+sets": (TOY_REC, TOY_REL),
        "strings": (as_strings_rec, as_strings_rel),
        "2d+2d": (padded_rec, padded_rel),
        "2d+arrays": (padded_rec, arrays_rel),
        "arrays+lists": ([np.array(r) for r in TOY_REC], [sorted(r) for r in TOY_REL]),
    }


@pytest.mark.parametrize("form", list(_toy_forms()))
def test_ranking_toy_known_answers(form: str) -> None:
    rec, rel = _toy_forms()[form]
    report = M.ranking_report(rec, rel, n_items=20, k=3)
    assert list(report) == ["precision@3", "recall@3", "ndcg@3", "map@3", "coverage@3"]
    for key, value in TOY_EXPECTED.items():
        assert report[key] == pytest.approx(value, abs=1e-12), key
    assert M.precision_at_k(rec, rel, k=3) == pytest.approx(TOY_EXPECTED["precision@3"])
    assert M.recall_at_k(rec, rel, k=3) == pytest.approx(TOY_EXPECTED["recall@3"])
    assert M.ndcg_at_k(rec, rel, k=3) == pytest.approx(TOY_EXPECTED["ndcg@3"])
    assert M.map_at_k(rec, rel, k=3) == pytest.approx(TOY_EXPECTED["map@3"])
    assert M.coverage_at_k(rec, n_items=20, k=3) == pytest.approx(0.4)


def test_ranking_report_keys_follow_k() -> None:
    report = M.ranking_report([[1, 2]], [{2}], n_items=5)
    assert list(report) == ["precision@10", "recall@10", "ndcg@10", "map@10", "coverage@10"]
    # a list shorter than k: missing places are misses, the precision denominator stays k
    assert report["precision@10"] == pytest.approx(0.1)
    assert report["recall@10"] == 1.0
    assert report["ndcg@10"] == pytest.approx(1 / math.log2(3))
    assert report["map@10"] == pytest.approx(0.5)


def test_map_normaliser_is_min_k_and_relevant() -> None:
    # 5 relevant items, k = 2, both places hit: AP = (1 + 1) / min(2, 5) = 1
    assert M.map_at_k([[1, 2]], [{1, 2, 3, 4, 5}], k=2) == 1.0
    assert M.ndcg_at_k([[1, 2]], [{1, 2, 3, 4, 5}], k=2) == 1.0
    assert M.recall_at_k([[1, 2]], [{1, 2, 3, 4, 5}], k=2) == pytest.approx(0.4)


def _naive_ranking(rec, rel, k: int) -> dict[str, float]:
    """Plain-Python reference, one user at a time."""
    ps, rs, ns, aps = [], [], [], []
    for items, relevant in zip(rec, rel, strict=True):
        relevant = set(relevant)
        if not relevant:
            continue
        seen: set[int] = set()
        hits, dcg, ap = 0, 0.0, 0.0
        for place, item in enumerate(list(items)[:k]):
            if item in relevant and item not in seen:
                hits += 1
                dcg += 1 / math.log2(place + 2)
                ap += hits / (place + 1)
            seen.add(item)
        m = min(k, len(relevant))
        ps.append(hits / k)
        rs.append(hits / len(relevant))
        ns.append(dcg / sum(1 / math.log2(j + 2) for j in range(m)))
        aps.append(ap / m)
    return {
        f"precision@{k}": float(np.mean(ps)),
        f"recall@{k}": float(np.mean(rs)),
        f"ndcg@{k}": float(np.mean(ns)),
        f"map@{k}": float(np.mean(aps)),
    }


@PROPERTY
@given(seeds, st.integers(1, 40), st.integers(1, 12), st.integers(2, 30))
def test_ranking_matches_plain_python_reference(
    seed: int, n_users: int, k: int, n_items: int
) -> None:
    rng = np.random.default_rng(seed)
    rec = [rng.integers(0, n_items, rng.integers(0, 15)).tolist() for _ in range(n_users)]
    rel = [set(rng.integers(0, n_items, rng.integers(0, 6)).tolist()) for _ in range(n_users)]
    rel[0] = rel[0] | {0}
    got = M.ranking_report(rec, rel, n_items=n_items, k=k)
    expected = _naive_ranking(rec, rel, k)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key
    shown = {item for items in rec for item in items[:k]}
    assert got[f"coverage@{k}"] == pytest.approx(len(shown) / n_items)


def test_ranking_large_item_ids() -> None:
    big = 2**61
    assert M.precision_at_k([[big, 1], [3, big]], [{big}, {4}], k=2) == pytest.approx(0.25)


# --------------------------------------------------------------------------- uplift

# Values computed by scikit-uplift 0.5.1 (sklift.metrics) on these fixed arrays.
UY = [1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 1, 1, 0, 1, 0, 0, 1, 0, 1, 0]
UT = [1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 0]
UU = [0.9, 0.8, 0.1, -0.2, 0.7, 0.3, 0.5, 0.5, 0.0, 0.4]
UU += [-0.1, 0.6, 0.2, 0.5, -0.3, 0.3, 0.8, 0.1, 0.0, 0.2]


def test_uplift_scores_match_sklift_values() -> None:
    # sklift.metrics.qini_auc_score(UY, UU, UT) and with negative_effect=False
    assert M.qini_auc_score(UY, UU, UT) == pytest.approx(0.3380095923261392, abs=1e-12)
    assert M.qini_auc_score(UY, UU, UT, negative_effect=False) == pytest.approx(
        2.4728070175438606, abs=1e-12
    )
    # sklift.metrics.uplift_auc_score(UY, UU, UT)
    assert M.uplift_auc_score(UY, UU, UT) == pytest.approx(0.28469099059376846, abs=1e-12)


@pytest.mark.parametrize(
    ("strategy", "k", "expected"),
    [  # sklift.metrics.uplift_at_k(UY, UU, UT, strategy, k)
        ("overall", 0.3, -0.19999999999999996),
        ("overall", 0.5, 0.125),
        ("by_group", 0.3, 0.3333333333333333),
        ("by_group", 0.5, 0.6000000000000001),
        ("by_group", 5, 0.6000000000000001),
    ],
)
def test_uplift_at_k_matches_sklift_values(strategy: str, k: float, expected: float) -> None:
    assert M.uplift_at_k(UY, UU, UT, k=k, strategy=strategy) == pytest.approx(expected, abs=1e-12)


def test_uplift_curves_match_sklift_values() -> None:
    x_expected = [0, 1, 3, 4, 5, 8, 9, 11, 13, 15, 17, 18, 19, 20]
    x, v = M.qini_curve(UY, UU, UT)  # sklift.metrics.qini_curve
    assert x.tolist() == x_expected
    np.testing.assert_allclose(
        v, [0, 1, 2, 3, 4, -2, -3, 2.3333333333333335, 3.4, 3.5, 2.75, 2, 1.4, 1], atol=1e-12
    )
    x, v = M.uplift_curve(UY, UU, UT)  # sklift.metrics.uplift_curve
    assert x.tolist() == x_expected
    expected = [0, 1, 2, 3, 4, -2.2857142857142856, -3.375, 3.2083333333333335]
    expected += [5.5249999999999995, 5.833333333333334, 5.194444444444445, 4.000000000000001]
    expected += [2.9555555555555557, 2]
    np.testing.assert_allclose(v, expected, atol=1e-12)
    x, v = M.perfect_qini_curve(UY, UT)  # sklift.metrics.perfect_qini_curve
    assert x.tolist() == [0, 5, 16, 20]
    np.testing.assert_allclose(v, [0, 5, 5, 1], atol=1e-12)
    x, v = M.perfect_uplift_curve(UY, UT)  # sklift.metrics.perfect_uplift_curve
    assert x.tolist() == [0, 5, 11, 16, 20]
    np.testing.assert_allclose(v, [0, 5, 11, 8, 2], atol=1e-12)


def test_uplift_perfect_and_reversed_orderings() -> None:
    y, t = np.array(UY), np.array(UT)
    perfect = (y & t) - (y & (1 - t))  # the score behind the perfect Qini curve
    assert M.qini_auc_score(y, perfect, t) == pytest.approx(1.0)
    assert M.qini_auc_score(y, perfect, t) > M.qini_auc_score(y, -perfect, t)


def test_uplift_ignores_row_order() -> None:
    perm = np.random.default_rng(0).permutation(len(UY))
    y, u, t = np.array(UY)[perm], np.array(UU)[perm], np.array(UT)[perm]
    assert M.qini_auc_score(y, u, t) == pytest.approx(M.qini_auc_score(UY, UU, UT))
    assert M.uplift_auc_score(y, u, t) == pytest.approx(M.uplift_auc_score(UY, UU, UT))


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (
            lambda: M.roc_auc([0, 1, 1], [0.1, 0.2]),
            InputError,
            "roc_auc: y and p must have the same length, got 3 and 2",
        ),
        (
            lambda: M.roc_auc([1, 1], [0.1, 0.2]),
            InputError,
            "roc_auc: y holds only one value (1); both 0 and 1 are needed",
        ),
        (
            lambda: M.roc_auc([0, 0], [0.1, 0.2]),
            InputError,
            "roc_auc: y holds only one value (0); both 0 and 1 are needed",
        ),
        (lambda: M.roc_auc([], []), InputError, "roc_auc: y is empty"),
        (
            lambda: M.roc_auc([0, 2, 3], [0.1, 0.2, 0.3]),
            InputError,
            "roc_auc: y must hold only 0 and 1, got [2, 3]",
        ),
        (
            lambda: M.roc_auc(["a", "b"], [0.1, 0.2]),
            InputError,
            "roc_auc: y must hold only 0 and 1, got values of dtype <U1",
        ),
        (
            lambda: M.roc_auc([0, 1], [0.1, float("nan")]),
            InputError,
            "roc_auc: p holds NaN or infinite values",
        ),
        (
            lambda: M.roc_auc([0, 1], [[0.1, 0.9], [0.2, 0.8]]),
            InputError,
            "roc_auc: p must be one-dimensional, got shape (2, 2)",
        ),
        (
            lambda: M.log_loss([0, 1], [0.5, 1.2]),
            InputError,
            "log_loss: p must be probabilities in [0, 1], got values from 0.5 to 1.2",
        ),
        (
            lambda: M.log_loss([0, 1], [0.5, 0.5], eps=0.5),
            ParameterError,
            "log_loss: eps must be a number in [0, 0.5), got 0.5",
        ),
        (
            lambda: M.expected_calibration_error([0, 1], [-0.1, 0.5]),
            InputError,
            "expected_calibration_error: p must be probabilities in [0, 1], "
            "got values from -0.1 to 0.5",
        ),
        (
            lambda: M.expected_calibration_error([0, 1], [0.1, 0.5], strategy="equal"),
            ParameterError,
            "expected_calibration_error: strategy must be 'uniform' or 'quantile', got 'equal'",
        ),
        (
            lambda: M.reliability_curve([0, 1], [0.1, 0.5], n_bins=0),
            ParameterError,
            "reliability_curve: n_bins must be an integer >= 1, got 0",
        ),
        (
            lambda: M.pr_auc([0, 0], [0.1, 0.5]),
            InputError,
            "pr_auc: y holds no 1; average precision needs at least one positive",
        ),
        (
            lambda: M.lift_at([0, 1], [0.1, 0.5], frac=0),
            ParameterError,
            "lift_at: frac must be a number in (0, 1], got 0",
        ),
        (
            lambda: M.lift_at([0, 0], [0.1, 0.5]),
            InputError,
            "lift_at: y holds no 1; lift is undefined when the base rate is 0",
        ),
        (
            lambda: M.roc_curve_points([0, 1], [0.1, 0.5], max_points=1),
            ParameterError,
            "roc_curve_points: max_points must be an integer >= 2, got 1",
        ),
        (
            lambda: M.precision([0, 1], [1, 1, 0]),
            InputError,
            "precision: y and y_pred must have the same length, got 2 and 3",
        ),
        (
            lambda: M.f1([0, 1], [0.5, 1]),
            InputError,
            "f1: y_pred must hold only 0 and 1, got [0.5]",
        ),
        (
            lambda: M.binary_report([0, 1], [0.1, 0.5], threshold=2),
            ParameterError,
            "binary_report: threshold must be a number in [0, 1], got 2",
        ),
        (
            lambda: M.mse([1.0, 2.0], [1.0, 2.0, 3.0]),
            InputError,
            "mse: y_true and y_pred must have the same length, got 2 and 3",
        ),
        (
            lambda: M.mae([1.0, float("inf")], [1.0, 2.0]),
            InputError,
            "mae: y_true holds NaN or infinite values",
        ),
        (
            lambda: M.precision_at_k([[1, 2], [3]], [{1}]),
            InputError,
            "precision_at_k: recommended and relevant must have one entry per user, "
            "got 2 and 1 users",
        ),
        (
            lambda: M.ndcg_at_k([[1, 2], [3]], [set(), []]),
            InputError,
            "ndcg_at_k: no user has a relevant item, so the metric is undefined",
        ),
        (
            lambda: M.map_at_k([[1, 2]], [{1}], k=0),
            ParameterError,
            "map_at_k: k must be an integer >= 1, got 0",
        ),
        (
            lambda: M.recall_at_k([{1, 2}], [{1}]),
            InputError,
            "recall_at_k: recommended[0] must be a ranked list or 1-D array of item ids, "
            "got a set (a set has no order)",
        ),
        (
            lambda: M.recall_at_k(np.array([1, 2, 3]), [{1}]),
            InputError,
            "recall_at_k: recommended must be a 2-D array or a sequence of per-user lists, "
            "got an array of shape (3,)",
        ),
        (
            lambda: M.precision_at_k([[1, 2]], [{"1"}]),
            InputError,
            "precision_at_k: recommended and relevant hold item ids of different kinds "
            "(int64 and <U1)",
        ),
        (lambda: M.precision_at_k([], []), InputError, "precision_at_k: recommended is empty"),
        (
            lambda: M.coverage_at_k([[1, 2], [3, 4]], n_items=3, k=2),
            InputError,
            "coverage_at_k: recommended holds 4 distinct items in the top k, more than n_items=3",
        ),
        (
            lambda: M.qini_auc_score([0, 1, 1], [0.1, 0.2, 0.3], [1, 1, 1]),
            InputError,
            "qini_auc_score: treatment holds only one value (1); both 0 and 1 are needed",
        ),
        (
            lambda: M.uplift_auc_score([0, 1, 1], [0.1, 0.2], [1, 0, 1]),
            InputError,
            "uplift_auc_score: y, uplift and treatment must have the same length, got 3, 2 and 3",
        ),
        (
            lambda: M.qini_auc_score([0, 1], [0.1, 0.2], [0, 1], negative_effect=1),
            ParameterError,
            "qini_auc_score: negative_effect must be a bool, got int",
        ),
        (
            lambda: M.qini_auc_score([1, 0, 0, 0], [0.1, 0.2, 0.3, 0.4], [0, 1, 1, 0], False),
            InputError,
            "qini_auc_score: with negative_effect=False the perfect curve needs a positive "
            "overall gain, got -1 (treated respond less than control)",
        ),
        (
            lambda: M.uplift_at_k(UY, UU, UT, k=5, strategy="overall"),
            InputError,
            "uplift_at_k: the top rows at k=5 hold no control row, so the uplift is undefined; "
            "use a larger k",
        ),
        (
            lambda: M.uplift_at_k(UY, UU, UT, k=1.0),
            ParameterError,
            "uplift_at_k: k must be a float in (0, 1) or an int in [1, 19], got 1.0",
        ),
        (
            lambda: M.uplift_at_k(UY, UU, UT, strategy="top"),
            ParameterError,
            "uplift_at_k: strategy must be 'overall' or 'by_group', got 'top'",
        ),
        (
            lambda: M.uplift_at_k(UY, UU, UT, k=11, strategy="by_group"),
            ParameterError,
            "uplift_at_k: k=11 asks for more rows than a group holds (10 treated, 10 control)",
        ),
    ],
)
def test_bad_input_messages(call, exc: type[Exception], message: str) -> None:
    with _raises(exc, message):
        call()


@pytest.mark.parametrize("module", ["_classification", "_regression", "_ranking", "_uplift"])
def test_docstring_examples(module: str) -> None:
    mod = importlib.import_module(f"adwise.metrics.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_input_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        M.roc_auc([1, 1], [0.1, 0.2])
