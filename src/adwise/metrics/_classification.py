"""Binary classification metrics: ranking quality, calibration and threshold metrics.

Conventions shared by every function here:

* ``y`` holds the true labels, 0/1 (``bool``, ``int`` or ``float`` 0.0/1.0).
* ``p`` holds predicted probabilities of the label 1.  Rank-based metrics (:func:`roc_auc`,
  :func:`pr_auc`, :func:`lift_at`, :func:`roc_curve_points`) accept any finite score; the
  others need probabilities in ``[0, 1]``.
* Bad input raises :class:`adwise._exceptions.InputError`; a bad option raises its child
  :class:`adwise._exceptions.ParameterError`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from adwise._exceptions import InputError, ParameterError
from adwise.metrics._checks import (
    as_1d,
    as_binary,
    as_scores,
    check_int,
    check_real,
    check_same_length,
    require_both_classes,
)

__all__ = [
    "accuracy",
    "binary_report",
    "expected_calibration_error",
    "f1",
    "lift_at",
    "log_loss",
    "pr_auc",
    "precision",
    "recall",
    "reliability_curve",
    "roc_auc",
    "roc_curve_points",
]

Strategy = Literal["uniform", "quantile"]


def _labels_and_scores(
    func: str, y: ArrayLike, p: ArrayLike, *, probability: bool
) -> tuple[np.ndarray, np.ndarray]:
    ya, pa = as_1d(func, "y", y), as_1d(func, "p", p)
    check_same_length(func, ("y", "p"), (ya, pa))
    return as_binary(func, "y", ya), as_scores(func, "p", pa, probability=probability)


def _labels_and_predictions(
    func: str, y: ArrayLike, y_pred: ArrayLike
) -> tuple[int, int, int, int]:
    """Return ``(tp, fp, fn, tn)`` for two 0/1 arrays."""
    ya, pa = as_1d(func, "y", y), as_1d(func, "y_pred", y_pred)
    check_same_length(func, ("y", "y_pred"), (ya, pa))
    yt, yp = as_binary(func, "y", ya), as_binary(func, "y_pred", pa)
    tp = int(np.count_nonzero(yt & yp))
    n_pos, n_pred = int(np.count_nonzero(yt)), int(np.count_nonzero(yp))
    fp, fn = n_pred - tp, n_pos - tp
    return tp, fp, fn, yt.size - tp - fp - fn


def _threshold_blocks(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort by decreasing score and return cumulative (tp, fp, threshold) at each distinct score."""
    order = np.argsort(s)[::-1]  # the order inside a block of equal scores does not matter
    s_sorted = s[order]
    ends = np.r_[np.flatnonzero(np.diff(s_sorted)), s_sorted.size - 1]
    tp = np.cumsum(y[order], dtype=np.float64)[ends]
    fp = (ends + 1) - tp
    return tp, fp, s_sorted[ends]


# --------------------------------------------------------------------------- ranking quality


def roc_auc(y: ArrayLike, p: ArrayLike) -> float:
    """Area under the ROC curve, from ranks (ties count one half, as in scikit-learn).

    .. math::

        \\mathrm{AUC} = \\frac{\\sum_{i: y_i = 1} r_i - n_1 (n_1 + 1) / 2}{n_1 n_0}

    where :math:`r_i` is the average rank of :math:`p_i` among all scores (1 = lowest) and
    :math:`n_1`, :math:`n_0` count positives and negatives.  Equal to the probability that a
    random positive scores above a random negative, ties counting one half.  Computed from one
    sort, block by block of equal scores (exact in float64 up to ~10^15 pairs); O(n log n).

    Parameters
    ----------
    y : array-like of shape (n,)
        True labels, 0/1.
    p : array-like of shape (n,)
        Scores; any finite real numbers (only their order matters).

    Returns
    -------
    float
        AUC in ``[0, 1]``.

    Raises
    ------
    InputError
        Lengths differ, input is empty, ``y`` is not 0/1 or holds only one class, ``p`` is not
        finite.

    Examples
    --------
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    yt, s = _labels_and_scores("roc_auc", y, p, probability=False)
    n1 = require_both_classes("roc_auc", "y", yt)
    n0 = yt.size - n1
    # Blocks of equal scores, highest first: each positive beats the negatives in later blocks
    # and ties half of those in its own block (the rank-sum formula, summed block by block).
    tp, fp, _ = _threshold_blocks(yt, s)
    pos_block = np.diff(tp, prepend=0.0)
    neg_block = np.diff(fp, prepend=0.0)
    neg_below = n0 - fp
    return float(np.sum(pos_block * (neg_below + 0.5 * neg_block)) / (float(n1) * n0))


def pr_auc(y: ArrayLike, p: ArrayLike) -> float:
    """Average precision, the step-wise area under the precision-recall curve.

    .. math::

        \\mathrm{AP} = \\sum_t (R_t - R_{t-1})\\, P_t

    over the distinct scores ``t`` taken as thresholds in decreasing order, with :math:`P_t`
    and :math:`R_t` the precision and recall of ``p >= t`` and :math:`R_0 = 0`.  Same definition
    and tie handling as scikit-learn's ``average_precision_score`` (no interpolation).

    Parameters
    ----------
    y : array-like of shape (n,)
        True labels, 0/1, with at least one 1.
    p : array-like of shape (n,)
        Scores; any finite real numbers.

    Returns
    -------
    float
        Average precision in ``[0, 1]``; the base rate for an uninformative score.

    Raises
    ------
    InputError
        Lengths differ, input is empty, ``y`` is not 0/1 or holds no 1, ``p`` is not finite.

    Examples
    --------
    >>> round(pr_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)
    0.8333
    """
    yt, s = _labels_and_scores("pr_auc", y, p, probability=False)
    n_pos = int(np.count_nonzero(yt))
    if n_pos == 0:
        raise InputError("pr_auc: y holds no 1; average precision needs at least one positive")
    tp, fp, _ = _threshold_blocks(yt, s)
    prec = tp / (tp + fp)
    rec = tp / n_pos
    return float(np.sum(np.diff(rec, prepend=0.0) * prec))


def lift_at(y: ArrayLike, p: ArrayLike, frac: float = 0.1) -> float:
    """Lift in the top ``frac`` of scores: their positive rate over the overall positive rate.

    .. math::

        \\mathrm{lift}@f = \\frac{\\bar y_{\\mathrm{top}\\ m}}{\\bar y},
        \\qquad m = \\max(1, \\lfloor f n \\rfloor)

    Ties at the cut-off are shared fairly: rows scoring strictly above the ``m``-th highest
    score count fully, and the remaining places are filled at the mean label of the rows tied
    at that score, so the result does not depend on row order.

    Parameters
    ----------
    y : array-like of shape (n,)
        True labels, 0/1, with at least one 1.
    p : array-like of shape (n,)
        Scores; any finite real numbers.
    frac : float, default 0.1
        Share of rows taken from the top, in ``(0, 1]``.

    Returns
    -------
    float
        Lift; 1.0 for a random score, up to ``1 / base rate``.

    Raises
    ------
    InputError
        Bad ``y``/``p`` (see :func:`roc_auc`) or ``y`` holds no 1.
    ParameterError
        ``frac`` is outside ``(0, 1]``.

    Examples
    --------
    >>> lift_at([1, 0, 0, 0, 1, 0, 0, 0, 0, 0], [0.9, 0.8, 0.1, 0.1, 0.2, 0, 0, 0, 0, 0], 0.2)
    2.5
    """
    frac = check_real("lift_at", "frac", frac, low=0.0, high=1.0, low_open=True)
    yt, s = _labels_and_scores("lift_at", y, p, probability=False)
    base = np.count_nonzero(yt) / yt.size
    if base == 0.0:
        raise InputError("lift_at: y holds no 1; lift is undefined when the base rate is 0")
    m = max(1, int(frac * yt.size))
    cut = np.partition(s, yt.size - m)[yt.size - m]  # the m-th highest score
    above = s > cut
    tied = s == cut
    tied_rate = np.count_nonzero(yt & tied) / np.count_nonzero(tied)
    pos_top = np.count_nonzero(yt & above) + (m - np.count_nonzero(above)) * tied_rate
    return float(pos_top / m / base)


def roc_curve_points(y: ArrayLike, p: ArrayLike, max_points: int = 200) -> dict[str, np.ndarray]:
    """Points of the ROC curve, thinned for charts.

    The full curve has one point per distinct score (threshold ``p >= t``) plus the origin.
    Points inside a straight run are dropped first (they change nothing in a chart or in the
    area), which gives exactly scikit-learn's ``roc_curve`` (``drop_intermediate=True``); if
    more than ``max_points`` remain, an evenly spaced subset is kept that always includes both
    ends ``(0, 0)`` and ``(1, 1)``.

    .. math::

        \\mathrm{FPR}_t = \\frac{\\#\\{p_i \\ge t, y_i = 0\\}}{n_0},\\qquad
        \\mathrm{TPR}_t = \\frac{\\#\\{p_i \\ge t, y_i = 1\\}}{n_1}

    Parameters
    ----------
    y : array-like of shape (n,)
        True labels, 0/1, both classes present.
    p : array-like of shape (n,)
        Scores; any finite real numbers.
    max_points : int, default 200
        Largest number of points returned, at least 2.

    Returns
    -------
    dict
        ``fpr``, ``tpr`` and ``thresholds`` (float arrays of one length, increasing ``fpr``);
        ``thresholds[0]`` is ``inf`` (nothing predicted positive), like scikit-learn.

    Raises
    ------
    InputError
        Bad ``y``/``p`` (see :func:`roc_auc`).
    ParameterError
        ``max_points`` is not an integer >= 2.

    Examples
    --------
    >>> pts = roc_curve_points([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> pts["fpr"].tolist(), pts["tpr"].tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0])
    """
    max_points = check_int("roc_curve_points", "max_points", max_points, minimum=2)
    yt, s = _labels_and_scores("roc_curve_points", y, p, probability=False)
    n1 = require_both_classes("roc_curve_points", "y", yt)
    tp, fp, thr = _threshold_blocks(yt, s)
    if tp.size > 2:  # drop the middle points of straight runs, as scikit-learn does
        bend = np.r_[True, (np.diff(tp, 2) != 0) | (np.diff(fp, 2) != 0), True]
        tp, fp, thr = tp[bend], fp[bend], thr[bend]
    tp, fp = np.r_[0.0, tp], np.r_[0.0, fp]
    thr = np.r_[np.inf, thr]
    if tp.size > max_points:
        keep = np.unique(np.round(np.linspace(0, tp.size - 1, max_points)).astype(np.int64))
        tp, fp, thr = tp[keep], fp[keep], thr[keep]
    return {"fpr": fp / (yt.size - n1), "tpr": tp / n1, "thresholds": thr}


# --------------------------------------------------------------------------- probabilities


def log_loss(y: ArrayLike, p: ArrayLike, eps: float = 1e-15) -> float:
    """Mean negative log-likelihood of the labels under the predicted probabilities.

    .. math::

        \\mathrm{logloss} = -\\frac{1}{n} \\sum_i \\big[y_i \\ln \\tilde p_i
        + (1 - y_i) \\ln (1 - \\tilde p_i)\\big],\\qquad
        \\tilde p_i = \\min(\\max(p_i, \\varepsilon), 1 - \\varepsilon)

    Parameters
    ----------
    y : array-like of shape (n,)
        True labels, 0/1 (one class alone is fine).
    p : array-like of shape (n,)
        Predicted probabilities of 1, in ``[0, 1]``.
    eps : float, default 1e-15
        Clipping that keeps the loss finite for ``p`` of exactly 0 or 1; in ``[0, 0.5)``.

    Returns
    -------
    float
        Log loss in nats; ``ln 2 ≈ 0.693`` for ``p = 0.5`` everywhere.

    Raises
    ------
    InputError
        Lengths differ, input is empty, ``y`` is not 0/1, ``p`` is not a probability.
    ParameterError
        ``eps`` is outside ``[0, 0.5)``.

    Examples
    --------
    >>> round(log_loss([1, 0], [0.8, 0.4]), 4)
    0.367
    """
    eps = check_real("log_loss", "eps", eps, low=0.0, high=0.5, high_open=True)
    yt, pp = _labels_and_scores("log_loss", y, p, probability=True)
    pp = np.clip(pp, eps, 1.0 - eps)
    with np.errstate(divide="ignore"):
        losses = np.where(yt, np.log(pp), np.log1p(-pp))
    return float(-losses.mean())


def _bins(
    func: str, y: ArrayLike, p: ArrayLike, n_bins: int, strategy: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-bin (count, sum of p, sum of y) and the bin edges."""
    n_bins = check_int(func, "n_bins", n_bins, minimum=1)
    if strategy not in ("uniform", "quantile"):
        raise ParameterError(f"{func}: strategy must be 'uniform' or 'quantile', got {strategy!r}")
    yt, pp = _labels_and_scores(func, y, p, probability=True)
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        edges = np.percentile(pp, np.linspace(0.0, 1.0, n_bins + 1) * 100.0)
    # bin b holds edges[b] < p <= edges[b + 1]; the first bin also holds its lower edge
    ids = np.searchsorted(edges[1:-1], pp, side="left")
    count = np.bincount(ids, minlength=n_bins)
    sum_p = np.bincount(ids, weights=pp, minlength=n_bins)
    sum_y = np.bincount(ids, weights=yt.astype(np.float64), minlength=n_bins)
    return count, sum_p, sum_y, edges


def expected_calibration_error(
    y: ArrayLike, p: ArrayLike, n_bins: int = 10, strategy: Strategy = "uniform"
) -> float:
    """Expected calibration error: binned mean gap between predicted and observed rates.

    .. math::

        \\mathrm{ECE} = \\sum_{b} \\frac{|B_b|}{n}\\,
        \\big|\\bar y_{B_b} - \\bar p_{B_b}\\big|

    Bin ``b`` holds the rows with ``edges[b] < p <= edges[b+1]`` (the first bin also holds
    ``p == edges[0]``); empty bins add nothing.  Same binning as scikit-learn's
    ``calibration_curve``.

    Parameters
    ----------
    y : array-like of shape (n,)
        True labels, 0/1.
    p : array-like of shape (n,)
        Predicted probabilities of 1, in ``[0, 1]``.
    n_bins : int, default 10
        Number of bins, at least 1.
    strategy : {"uniform", "quantile"}, default "uniform"
        ``uniform``: equal-width bins on ``[0, 1]``; ``quantile``: edges at the quantiles of
        ``p`` (equal-count bins, up to ties).

    Returns
    -------
    float
        ECE in ``[0, 1]``; 0 for perfect calibration at this binning.

    Raises
    ------
    InputError
        Lengths differ, input is empty, ``y`` is not 0/1, ``p`` is not a probability.
    ParameterError
        ``n_bins`` or ``strategy`` is invalid.

    Examples
    --------
    Two rows at 0.2 (one positive) and two at 0.9 (both positive):
    ``0.5 * |0.5 - 0.2| + 0.5 * |1.0 - 0.9| = 0.2``.

    >>> round(expected_calibration_error([0, 1, 1, 1], [0.2, 0.2, 0.9, 0.9]), 6)
    0.2
    """
    count, sum_p, sum_y, _ = _bins("expected_calibration_error", y, p, n_bins, strategy)
    return float(np.abs(sum_y - sum_p).sum() / count.sum())


def reliability_curve(
    y: ArrayLike, p: ArrayLike, n_bins: int = 10, strategy: Strategy = "uniform"
) -> dict[str, np.ndarray]:
    """Reliability diagram data: per non-empty bin, mean prediction vs observed rate.

    Uses the bins of :func:`expected_calibration_error`; empty bins are left out, so
    ``mean_predicted`` and ``observed_rate`` equal scikit-learn's ``calibration_curve``
    ``prob_pred`` and ``prob_true``.

    .. math::

        \\bar p_b = \\frac{1}{|B_b|}\\sum_{i \\in B_b} p_i,\\qquad
        \\bar y_b = \\frac{1}{|B_b|}\\sum_{i \\in B_b} y_i

    Parameters
    ----------
    y : array-like of shape (n,)
        True labels, 0/1.
    p : array-like of shape (n,)
        Predicted probabilities of 1, in ``[0, 1]``.
    n_bins : int, default 10
        Number of bins, at least 1.
    strategy : {"uniform", "quantile"}, default "uniform"
        See :func:`expected_calibration_error`.

    Returns
    -------
    dict
        Arrays of one length (the non-empty bins, in increasing order): ``mean_predicted``,
        ``observed_rate``, ``counts`` (int), ``bin_lower`` and ``bin_upper`` (the bin edges).

    Raises
    ------
    InputError, ParameterError
        As :func:`expected_calibration_error`.

    Examples
    --------
    >>> rc = reliability_curve([0, 1, 1, 1], [0.2, 0.2, 0.9, 0.9], n_bins=2)
    >>> rc["mean_predicted"].tolist(), rc["observed_rate"].tolist(), rc["counts"].tolist()
    ([0.2, 0.9], [0.5, 1.0], [2, 2])
    """
    count, sum_p, sum_y, edges = _bins("reliability_curve", y, p, n_bins, strategy)
    full = count > 0
    return {
        "mean_predicted": sum_p[full] / count[full],
        "observed_rate": sum_y[full] / count[full],
        "counts": count[full].astype(np.int64),
        "bin_lower": edges[:-1][full],
        "bin_upper": edges[1:][full],
    }


# --------------------------------------------------------------------------- threshold metrics


def accuracy(y: ArrayLike, y_pred: ArrayLike) -> float:
    """Share of rows whose predicted label equals the true label.

    .. math:: \\mathrm{accuracy} = \\frac{TP + TN}{n}

    Parameters
    ----------
    y, y_pred : array-like of shape (n,)
        True and predicted labels, 0/1.  From probabilities use :func:`binary_report` or
        ``p >= threshold``.

    Returns
    -------
    float

    Raises
    ------
    InputError
        Lengths differ, input is empty, a label is not 0/1.

    Examples
    --------
    >>> accuracy([1, 0, 1, 0], [1, 1, 1, 0])
    0.75
    """
    tp, fp, fn, tn = _labels_and_predictions("accuracy", y, y_pred)
    return (tp + tn) / (tp + fp + fn + tn)


def precision(y: ArrayLike, y_pred: ArrayLike) -> float:
    """Share of predicted positives that are positive: ``TP / (TP + FP)``, 0 if none predicted.

    .. math:: \\mathrm{precision} = \\frac{TP}{TP + FP}

    Parameters
    ----------
    y, y_pred : array-like of shape (n,)
        True and predicted labels, 0/1.

    Returns
    -------
    float
        0.0 when nothing is predicted positive (scikit-learn's ``zero_division`` default).

    Raises
    ------
    InputError
        Lengths differ, input is empty, a label is not 0/1.

    Examples
    --------
    >>> precision([1, 0, 1, 0], [1, 1, 1, 0])
    0.6666666666666666
    """
    tp, fp, _, _ = _labels_and_predictions("precision", y, y_pred)
    return tp / (tp + fp) if tp + fp else 0.0


def recall(y: ArrayLike, y_pred: ArrayLike) -> float:
    """Share of positives predicted positive: ``TP / (TP + FN)``, 0 if there are no positives.

    .. math:: \\mathrm{recall} = \\frac{TP}{TP + FN}

    Parameters
    ----------
    y, y_pred : array-like of shape (n,)
        True and predicted labels, 0/1.

    Returns
    -------
    float

    Raises
    ------
    InputError
        Lengths differ, input is empty, a label is not 0/1.

    Examples
    --------
    >>> recall([1, 0, 1, 0], [1, 1, 0, 0])
    0.5
    """
    tp, _, fn, _ = _labels_and_predictions("recall", y, y_pred)
    return tp / (tp + fn) if tp + fn else 0.0


def f1(y: ArrayLike, y_pred: ArrayLike) -> float:
    """Harmonic mean of precision and recall, 0 when there is no positive at all.

    .. math:: F_1 = \\frac{2\\,TP}{2\\,TP + FP + FN}

    Parameters
    ----------
    y, y_pred : array-like of shape (n,)
        True and predicted labels, 0/1.

    Returns
    -------
    float

    Raises
    ------
    InputError
        Lengths differ, input is empty, a label is not 0/1.

    Examples
    --------
    >>> f1([1, 0, 1, 0], [1, 1, 0, 0])
    0.5
    """
    tp, fp, fn, _ = _labels_and_predictions("f1", y, y_pred)
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0


def binary_report(y: ArrayLike, p: ArrayLike, threshold: float = 0.5) -> dict[str, float]:
    """Every binary metric at once, from probabilities.

    Labels are predicted as ``p >= threshold``.

    Parameters
    ----------
    y : array-like of shape (n,)
        True labels, 0/1, both classes present.
    p : array-like of shape (n,)
        Predicted probabilities of 1, in ``[0, 1]``.
    threshold : float, default 0.5
        Decision threshold in ``[0, 1]``.

    Returns
    -------
    dict
        ``n`` (int), ``base_rate``, ``threshold``, ``accuracy``, ``precision``, ``recall``,
        ``f1``, ``auc``, ``pr_auc``, ``logloss``, ``ece`` (10 uniform bins); plain Python
        numbers, ready for JSON.

    Raises
    ------
    InputError
        As the metrics it calls; ``y`` must hold both classes.
    ParameterError
        ``threshold`` is outside ``[0, 1]``.

    Examples
    --------
    >>> r = binary_report([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.8])
    >>> r["accuracy"], r["precision"], r["recall"], r["auc"]
    (0.5, 0.5, 0.5, 0.75)
    """
    threshold = check_real("binary_report", "threshold", threshold, low=0.0, high=1.0)
    yt, pp = _labels_and_scores("binary_report", y, p, probability=True)
    y_pred = pp >= threshold
    return {
        "n": int(yt.size),
        "base_rate": float(np.count_nonzero(yt) / yt.size),
        "threshold": threshold,
        "accuracy": accuracy(yt, y_pred),
        "precision": precision(yt, y_pred),
        "recall": recall(yt, y_pred),
        "f1": f1(yt, y_pred),
        "auc": roc_auc(yt, pp),
        "pr_auc": pr_auc(yt, pp),
        "logloss": log_loss(yt, pp),
        "ece": expected_calibration_error(yt, pp),
    }
