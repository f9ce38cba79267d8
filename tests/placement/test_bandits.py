"""Bandit policies: contract, propensities, arms while running, state, learning."""

from __future__ import annotations

import numpy as np
import pytest

from adwise import InputError, NotFittedError, ParameterError
from adwise.placement import (
    EpsilonGreedy,
    LinearThompsonSampling,
    LinUCB,
    ThompsonSampling,
    UniformPolicy,
    policy_from_state,
)


def test_parameter_error_message():
    with pytest.raises(ParameterError, match=r"^EpsilonGreedy: parameter 'epsilon' must be a "
                       r"float in \[0, 1\]; got 2.0 \(float\)\.$"):
        EpsilonGreedy(arms=["a"], epsilon=2.0).fit()
    with pytest.raises(ParameterError, match="a non-empty list of distinct arm names"):
        ThompsonSampling(arms=["a", "a"]).fit()


def test_not_fitted():
    with pytest.raises(NotFittedError):
        ThompsonSampling(arms=["a"]).decide()


@pytest.mark.parametrize("pol", [
    ThompsonSampling(arms=list("abcd"), random_state=0),
    EpsilonGreedy(arms=list("abcd"), epsilon=0.2, random_state=0),
    UniformPolicy(arms=list("abcd"), random_state=0),
])
def test_propensities_are_probabilities(pol):
    pol.fit(["a", "b", "b"], [1, 0, 1])
    p = pol.action_probabilities(n=3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    arm, prop = pol.decide()
    assert arm in "abcd" and 0 < prop <= 1


def test_epsilon_greedy_known_propensity():
    pol = EpsilonGreedy(arms=["a", "b"], epsilon=0.2, random_state=0).fit(["a", "b"], [1, 0])
    np.testing.assert_allclose(pol.action_probabilities(n=1)[0], [0.9, 0.1])


def test_thompson_learns_best_arm_and_arms_change():
    rng = np.random.default_rng(0)
    mu = {"a": 0.02, "b": 0.08, "c": 0.04}
    ts = ThompsonSampling(arms=list(mu), random_state=1).fit()
    for _ in range(100):
        arms, props = ts.decide_many(50)
        assert (props > 0).all()
        ts.update_many(arms, [float(rng.random() < mu[a]) for a in arms])
    assert ts.action_probabilities(n=1)[0][1] > 0.8
    ts.add_arm("new")
    assert "new" in ts.active_arms
    ts.retire_arm("b")
    p = ts.action_probabilities(n=1)[0]
    assert p[ts.arms_.index("b")] == 0.0
    with pytest.raises(InputError, match="unknown arm 'zzz'"):
        ts.update("zzz", 1.0)
    meta, arrays = ts.get_state()
    ts2 = policy_from_state(meta, arrays)
    np.testing.assert_allclose(ts2.alpha_, ts.alpha_)
    assert ts2.active_arms == ts.active_arms


def test_linucb_uses_context():
    rng = np.random.default_rng(0)
    lin = LinUCB(arms=["x", "y"], n_features=2, alpha=1.0, random_state=0).fit()
    for _ in range(2000):
        ctx = np.array([1.0, float(rng.integers(0, 2))])
        arm, _ = lin.decide(ctx)
        best = "y" if ctx[1] == 1 else "x"
        lin.update(arm, float(rng.random() < (0.6 if arm == best else 0.2)), ctx)
    assert lin.decide(np.array([1.0, 1.0]))[0] == "y"
    assert lin.decide(np.array([1.0, 0.0]))[0] == "x"
    with pytest.raises(InputError, match="context has 3 features"):
        lin.decide(np.ones(3))
    meta, arrays = lin.get_state()
    np.testing.assert_allclose(policy_from_state(meta, arrays).scores(np.ones((1, 2))),
                               lin.scores(np.ones((1, 2))))


def test_linear_thompson_shares_the_slot_effect_across_ads():
    # Only ad "a" is ever played; "top" pays more than "side" for it.  Because the slot is a
    # shared factor, the policy already prefers "b|top" to "b|side" for an ad it never saw.
    arms = ["a|top", "a|side", "b|top", "b|side"]
    ts = LinearThompsonSampling(arms=arms, n_features=2, scale=0.3, random_state=0).fit()
    rng = np.random.default_rng(0)
    x = np.c_[np.ones(400), rng.integers(0, 2, 400)]
    arm = np.where(rng.random(400) < 0.5, "a|top", "a|side")
    r = (rng.random(400) < np.where(arm == "a|top", 0.6, 0.1)).astype(float)
    ts.update_many(list(arm), r, x)
    coef = ts.coef_
    assert coef["1:top"].shape == (1,) and coef["0:a"].shape == (2,)
    assert coef["1:top"][0] > coef["1:side"][0] + 0.3
    p = ts.action_probabilities(np.array([[1.0, 0.0]]))[0]
    assert p[arms.index("b|top")] > p[arms.index("b|side")]
    np.testing.assert_allclose(p.sum(), 1.0)
    arm1, prop = ts.decide([1.0, 1.0])
    assert arm1 in arms and 0 < prop <= 1


def test_linear_thompson_arms_state_and_errors():
    ts = LinearThompsonSampling(arms=["a|top", "b|side"], n_features=1, random_state=0).fit()
    ts.update_many(["a|top", "b|side"], [1.0, 0.0], [[1.0], [1.0]])
    ts.add_arm("c|top")  # one new level (ad c): one more block of coefficients
    assert set(ts.coef_) == {"0:a", "0:b", "0:c", "1:top", "1:side"}
    assert ts.A_.shape == (5, 5)
    with pytest.raises(InputError, match="has 1 factor"):
        ts.add_arm("d")
    ts.retire_arm("a|top")
    assert ts.action_probabilities([[1.0]])[0, 0] == 0.0
    meta, arrays = ts.get_state()
    ts2 = policy_from_state(meta, arrays)
    assert ts2.arms_ == ts.arms_
    for key, v in ts.coef_.items():
        np.testing.assert_allclose(ts2.coef_[key], v)
    with pytest.raises(InputError, match="context has 2 features"):
        ts.decide([1.0, 0.0])
    with pytest.raises(ParameterError, match="scale"):
        LinearThompsonSampling(arms=["a"], scale=0.0).fit()


def test_linear_thompson_without_factors_is_disjoint():
    ts = LinearThompsonSampling(arms=["x|1", "y|2"], separator=None, n_features=2,
                                random_state=0).fit()
    assert set(ts.coef_) == {"0:x|1", "0:y|2"}
    rng = np.random.default_rng(1)
    for _ in range(300):
        ctx = np.array([1.0, float(rng.integers(0, 2))])
        arm, _ = ts.decide(ctx)
        best = "y|2" if ctx[1] == 1 else "x|1"
        ts.update(arm, float(rng.random() < (0.7 if arm == best else 0.1)), ctx)
    assert ts.decide([1.0, 1.0])[0] == "y|2" and ts.decide([1.0, 0.0])[0] == "x|1"
