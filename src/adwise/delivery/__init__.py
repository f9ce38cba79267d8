"""Delivery: which ad should this user see?

* explicit feedback (ratings): :class:`BiasedMF` (ALS), :class:`KNNBaseline` (neighbourhood
  on baseline residuals), :class:`RatingBlend` (ridge blend of both, fitted on an inner
  validation split), :func:`cross_validate`;
* implicit feedback (clicks, conversions): :class:`EASE`, :class:`ItemKNNRecommender`,
  :class:`ImplicitALSRecommender`, :class:`BPRRecommender` (``implicit``),
  :class:`ContentRecommender` (ad text + category), :class:`HybridRecommender` (blend
  weights learned on validation), :class:`PopularityRecommender` (the cold-user fallback);
* the decision: :class:`ClickModel` (pCTR / pCVR) and :class:`DeliveryPlanner` (expected-value
  ranking, frequency caps, budget pacing);
* the pipeline: :func:`train_workspace`, :func:`evaluate_files`, :func:`evaluate_workspace`,
  :func:`load_delivery`, :func:`recommend`.
"""

from adwise._plugins import SUMMARIES, Capability
from adwise.delivery._explicit import BiasedMF, KNNBaseline, RatingBlend, cross_validate
from adwise.delivery._implicit import (
    EASE,
    BPRRecommender,
    ContentRecommender,
    HybridRecommender,
    ImplicitALSRecommender,
    ImplicitRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    make_recommender,
)
from adwise.delivery._pipeline import (
    Delivery,
    evaluate_files,
    evaluate_workspace,
    load_delivery,
    recommend,
    train_workspace,
)
from adwise.delivery._rank import ClickModel, DeliveryPlanner

CAPABILITY = Capability(
    name="delivery",
    summary=SUMMARIES["delivery"],
    cli="adwise.delivery._cli:app",
    demo="adwise.delivery._demo:demo",
    report="adwise.delivery._demo:report",
    router="adwise.delivery._api:router",
)

__all__ = [
    "CAPABILITY",
    "EASE",
    "BPRRecommender",
    "BiasedMF",
    "ClickModel",
    "ContentRecommender",
    "Delivery",
    "DeliveryPlanner",
    "HybridRecommender",
    "ImplicitALSRecommender",
    "ImplicitRecommender",
    "ItemKNNRecommender",
    "KNNBaseline",
    "PopularityRecommender",
    "RatingBlend",
    "cross_validate",
    "evaluate_files",
    "evaluate_workspace",
    "load_delivery",
    "make_recommender",
    "recommend",
    "train_workspace",
]
