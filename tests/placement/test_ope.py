"""Off-policy evaluation: formulas, known answers, diagnostics, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from adwise import InputError, NotFittedError, ParameterError
from adwise.placement import (
    OffPolicyEvaluator,
    PropensityWarning,
    dm_estimate,
    dr_estimate,
    ips_estimate,
    snips_estimate,
    uniform_policy,
)


def _logs(n=20000, k=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    q = 1 / (1 + np.exp(-(-2 + x @ rng.normal(size=(2, k)))))
    pi0 = np.exp(0.5 * x @ rng.normal(size=(2, k)))
    pi0 /= pi0.sum(axis=1, keepdims=True)
    a = np.minimum((pi0.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1), k - 1)
    r = (rng.random(n) < q[np.arange(n), a]).astype(float)
    return x, q, pi0, a, r


def test_formulas_known_answer():
    r = np.array([1.0, 0.0, 1.0])
    a = np.array([0, 1, 1])
    ps = np.array([0.5, 0.5, 0.25])
    dist = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])[:, :, None]
    q = np.full((3, 2, 1), 0.5)
    assert ips_estimate(r, a, ps, dist) == pytest.approx((2 + 0 + 4) / 3)
    assert snips_estimate(r, a, ps, dist) == pytest.approx(6 / (2 + 1 + 4))
    assert dm_estimate(dist, q) == pytest.approx(0.5)
    assert dr_estimate(r, a, ps, dist, q) == pytest.approx(0.5 + (2 * 0.5 - 0.5 + 4 * 0.5) / 3)


def test_parameter_and_fit_errors():
    with pytest.raises(ParameterError, match=r"^OffPolicyEvaluator: parameter 'n_folds' must be an"
                       r" int in \[1, inf\); got 0 \(int\)\.$"):
        OffPolicyEvaluator(n_folds=0).fit([1.0], [0], [1.0])
    with pytest.raises(NotFittedError):
        OffPolicyEvaluator().evaluate(np.ones((1, 1, 1)))
    with pytest.raises(InputError, match=r"propensities must be in \(0, 1\]; 1 are not"):
        OffPolicyEvaluator().fit([1.0, 0.0], [0, 1], [0.0, 0.5])


def test_unbiased_on_known_world_and_diagnostics():
    x, q, pi0, a, r = _logs()
    n, k = q.shape
    pe = np.exp(3 * q)
    pe /= pe.sum(axis=1, keepdims=True)
    truth = float((q * pe).sum(axis=1).mean())
    ev = OffPolicyEvaluator(n_bootstrap=100, n_estimators=60).fit(
        r, a, pi0[np.arange(n), a], x, n_actions=k)
    res = ev.evaluate(pe[:, :, None])
    for name in ("ips", "snips", "dr"):
        assert abs(res[name] - truth) / truth < 0.06, (name, res[name], truth)
        assert res[f"{name}_ci_low"] <= res[name] <= res[f"{name}_ci_high"]
    assert res["trustworthy"] and 0 < res["ess_ratio"] <= 1
    # a deterministic policy on a rarely logged action: low overlap, not trustworthy
    det = np.zeros((n, k, 1))
    det[:, int(np.argmin(np.bincount(a, minlength=k))), 0] = 1.0
    bad = OffPolicyEvaluator(n_bootstrap=10, n_estimators=20, min_ess_ratio=0.5).fit(
        r, a, pi0[np.arange(n), a], x, n_actions=k).evaluate(det)
    assert not bad["trustworthy"] and bad["never_taken_share"] > 0.5


def test_missing_propensity_is_estimated_with_warning():
    x, q, _pi0, a, r = _logs(n=6000)
    with pytest.warns(PropensityWarning, match="no propensities"):
        ev = OffPolicyEvaluator(n_bootstrap=20, n_estimators=30).fit(r, a, None, x, n_actions=5)
    res = ev.evaluate(uniform_policy(len(r), 5))
    assert res["propensity_estimated"] is True
    truth = float(q.mean())
    assert abs(res["dr"] - truth) / truth < 0.1
