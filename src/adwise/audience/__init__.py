"""Whom should we target, and how do customers group? Segmentation with readable profiles,
lookalike expansion and uplift targeting."""

from adwise._plugins import SUMMARIES, Capability
from adwise.audience._lookalike import LookalikeModel
from adwise.audience._pipeline import (
    export_segments,
    load_segments,
    lookalike_file,
    lookalike_workspace,
    segment_file,
    segment_transactions,
    segment_workspace,
    uplift_files,
    workspace_user_features,
)
from adwise.audience._rfm import RETURNS_POLICIES, rfm_features
from adwise.audience._segment import Segmenter, describe_segments, match_segments
from adwise.audience._tabular import TabularEncoder
from adwise.audience._uplift import LEARNERS, UpliftClassifier, check_binary, select_targets

__all__ = [
    "CAPABILITY",
    "LEARNERS",
    "RETURNS_POLICIES",
    "LookalikeModel",
    "Segmenter",
    "TabularEncoder",
    "UpliftClassifier",
    "check_binary",
    "describe_segments",
    "export_segments",
    "load_segments",
    "lookalike_file",
    "lookalike_workspace",
    "match_segments",
    "rfm_features",
    "segment_file",
    "segment_transactions",
    "segment_workspace",
    "select_targets",
    "uplift_files",
    "workspace_user_features",
]

CAPABILITY = Capability(
    name="audience",
    summary=SUMMARIES["audience"],
    cli="adwise.audience._cli:app",
    demo="adwise.audience._demo:demo",
    report="adwise.audience._demo:report",
    router="adwise.audience._api:router",
)
