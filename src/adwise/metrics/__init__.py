"""Metrics shared by every capability, benchmark and test: pure functions, numpy in, float out.

* classification: :func:`roc_auc`, :func:`pr_auc`, :func:`log_loss`,
  :func:`expected_calibration_error`, :func:`reliability_curve`, :func:`lift_at`,
  :func:`roc_curve_points`, :func:`accuracy`, :func:`precision`, :func:`recall`, :func:`f1`,
  :func:`binary_report`
* regression: :func:`mse`, :func:`rmse`, :func:`mae`
* ranking (recommenders, per-user top-k): :func:`precision_at_k`, :func:`recall_at_k`,
  :func:`ndcg_at_k`, :func:`map_at_k`, :func:`coverage_at_k`, :func:`ranking_report`
* uplift (scikit-uplift's definitions): :func:`qini_auc_score`, :func:`uplift_auc_score`,
  :func:`uplift_at_k`, :func:`qini_curve`, :func:`uplift_curve`, :func:`perfect_qini_curve`,
  :func:`perfect_uplift_curve`

Bad input raises :class:`adwise.InputError` (a bad option its child
:class:`adwise.ParameterError`) with a message that starts with the function's name.
"""

from adwise.metrics._classification import (
    accuracy,
    binary_report,
    expected_calibration_error,
    f1,
    lift_at,
    log_loss,
    pr_auc,
    precision,
    recall,
    reliability_curve,
    roc_auc,
    roc_curve_points,
)
from adwise.metrics._ranking import (
    coverage_at_k,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    ranking_report,
    recall_at_k,
)
from adwise.metrics._regression import mae, mse, rmse
from adwise.metrics._uplift import (
    perfect_qini_curve,
    perfect_uplift_curve,
    qini_auc_score,
    qini_curve,
    uplift_at_k,
    uplift_auc_score,
    uplift_curve,
)

__all__ = [
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
