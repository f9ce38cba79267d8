"""Placement and time: which slot and which hour work best, how to split a daily budget over
them, bandits that keep learning online, and off-policy evaluation you can trust.

Estimators (in memory): :class:`PlacementEffects`, :class:`DaypartAllocator`,
:class:`ThompsonSampling`, :class:`LinearThompsonSampling`, :class:`LinUCB`,
:class:`EpsilonGreedy`, :class:`UniformPolicy`,
:class:`OffPolicyEvaluator` (+ the formula functions ``ips_estimate`` ...).  Pipelines (I/O):
:func:`train`, :func:`recommend`, :func:`allocate`, :func:`run_ope`, :func:`simulate`,
:func:`save_policy`, :func:`load_policy`.
"""

from adwise._plugins import SUMMARIES, Capability
from adwise.placement._allocation import DaypartAllocator
from adwise.placement._bandits import (
    EpsilonGreedy,
    LinearThompsonSampling,
    LinUCB,
    ThompsonSampling,
    UniformPolicy,
    policy_from_state,
)
from adwise.placement._effects import PlacementEffects, fit_prior_strength
from adwise.placement._ope import (
    ESTIMATORS,
    OffPolicyEvaluator,
    PropensityWarning,
    dm_estimate,
    dr_estimate,
    estimate_propensity,
    greedy_policy,
    ips_estimate,
    overlap_diagnostics,
    snips_estimate,
    uniform_policy,
)
from adwise.placement._pipeline import (
    ContextEncoder,
    PlacementModel,
    allocate,
    load_events,
    load_model,
    load_policy,
    make_policy,
    recommend,
    run_ope,
    save_policy,
    simulate,
    train,
)

__all__ = [
    "CAPABILITY",
    "ESTIMATORS",
    "ContextEncoder",
    "DaypartAllocator",
    "EpsilonGreedy",
    "LinUCB",
    "LinearThompsonSampling",
    "OffPolicyEvaluator",
    "PlacementEffects",
    "PlacementModel",
    "PropensityWarning",
    "ThompsonSampling",
    "UniformPolicy",
    "allocate",
    "dm_estimate",
    "dr_estimate",
    "estimate_propensity",
    "fit_prior_strength",
    "greedy_policy",
    "ips_estimate",
    "load_events",
    "load_model",
    "load_policy",
    "make_policy",
    "overlap_diagnostics",
    "policy_from_state",
    "recommend",
    "run_ope",
    "save_policy",
    "simulate",
    "snips_estimate",
    "train",
    "uniform_policy",
]

CAPABILITY = Capability(
    name="placement",
    summary=SUMMARIES["placement"],
    cli="adwise.placement._cli:app",
    demo="adwise.placement._demo:demo",
    report="adwise.placement._demo:report",
    router="adwise.placement._api:router",
)
