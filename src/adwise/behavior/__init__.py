"""Behaviour: will this user click / convert?

Calibrated, explained pCTR and pCVR models: a LightGBM GBDT by default (categorical codes,
count and out-of-fold target encoding, early stopping), with ``tree``, ``forest``, ``logreg``
baselines and an optional ``deep`` DeepFM (``adwise[deep]``); leak-free history features built
in DuckDB, pooled over similar users by a latent-class category profile; isotonic / Platt
calibration; TreeSHAP explanations.
"""

from adwise._plugins import SUMMARIES, Capability
from adwise.behavior._calibration import Calibrator, downsampling_correction
from adwise.behavior._encoding import TabularEncoder, detect_columns
from adwise.behavior._model import MODELS, CTRModel, deep_available
from adwise.behavior._pipeline import (
    BehaviorPredictor,
    TrainResult,
    evaluate_files,
    load_predictor,
    read_plain,
    train_workspace,
)

__all__ = [
    "CAPABILITY",
    "MODELS",
    "BehaviorPredictor",
    "CTRModel",
    "Calibrator",
    "TabularEncoder",
    "TrainResult",
    "deep_available",
    "detect_columns",
    "downsampling_correction",
    "evaluate_files",
    "load_predictor",
    "read_plain",
    "train_workspace",
]

CAPABILITY = Capability(
    name="behavior",
    summary=SUMMARIES["behavior"],
    cli="adwise.behavior._cli:app",
    demo="adwise.behavior._demo:demo",
    report="adwise.behavior._demo:report",
    router="adwise.behavior._api:router",
)
