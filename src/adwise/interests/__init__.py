"""What does this user care about? Time-decayed category affinity (as lift over the population),
pooled within latent classes of similar users, and text interests (TF-IDF + NMF topics) per user.

>>> from adwise.interests import InterestProfiler, TextInterests  # doctest: +SKIP
"""

from adwise._plugins import SUMMARIES, Capability
from adwise.interests._affinity import InterestProfiler
from adwise.interests._latent import LatentClassModel
from adwise.interests._pipeline import (
    InterestModel,
    build_user_context,
    fit_interests,
    load_interests,
    load_workspace_events,
    train_interests,
    user_count_blocks,
)
from adwise.interests._text import TextInterests

__all__ = [
    "CAPABILITY",
    "InterestModel",
    "InterestProfiler",
    "LatentClassModel",
    "TextInterests",
    "build_user_context",
    "fit_interests",
    "load_interests",
    "load_workspace_events",
    "train_interests",
    "user_count_blocks",
]

CAPABILITY = Capability(
    name="interests",
    summary=SUMMARIES["interests"],
    cli="adwise.interests._cli:app",
    demo="adwise.interests._demo:demo",
    report="adwise.interests._demo:report",
    router="adwise.interests._api:router",
)
