"""The GBDT + logistic blend of CTRModel: chosen when it helps, skipped when not, stored."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from adwise import ParameterError
from adwise.behavior import CTRModel
from adwise.behavior._blend import choose_blend
from adwise.metrics import log_loss


def _linear(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A click logit that is a sum of 12 slopes (hard for trees on 2,000 rows)."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 12)), columns=[f"x{j}" for j in range(12)])
    X["slot"] = rng.choice(["top", "side"], n)
    z = X.filter(like="x").to_numpy() @ np.linspace(0.2, 0.6, 12) - 1 \
        + np.where(X.slot == "top", 0.5, 0.0)
    return X, (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)


def _xor(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A click logit that is an interaction only (no one-column effect for a linear model)."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "d"])
    z = 2.5 * np.sign(X.a * X.b) - 1
    return X, (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)


@pytest.fixture(scope="module")
def linear_models():
    X, y = _linear(12_000)
    on = CTRModel(n_estimators=300).fit(X.iloc[:2000], y[:2000])
    off = CTRModel(n_estimators=300, blend="off").fit(X.iloc[:2000], y[:2000])
    return X.iloc[2000:].reset_index(drop=True), y[2000:], on, off


def test_blend_chosen_where_a_linear_signal_dominates_and_lowers_heldout_logloss(linear_models):
    Xte, yte, on, off = linear_models
    b = on.blend_
    assert b["used"] is True and b["weight"] >= 0.5
    assert b["validation_logloss"]["blend"] < b["validation_logloss"]["gbdt"] - 0.005
    assert b["logreg_C"] == 0.05 and b["validation"].startswith("5-fold cross-validation")
    assert len(on.linear_models_) == 5
    ll_on, ll_off = log_loss(yte, on.predict_ctr(Xte)), log_loss(yte, off.predict_ctr(Xte))
    assert ll_on < ll_off - 0.005
    assert off.blend_ is None and off.linear_models_ == []


def test_blend_not_used_where_it_does_not_help():
    X, y = _xor(2000)
    on = CTRModel(n_estimators=300).fit(X, y)
    off = CTRModel(n_estimators=300, blend="off").fit(X, y)
    assert on.blend_["used"] is False
    assert on.blend_["validation_logloss"]["blend"] >= on.blend_["validation_logloss"]["gbdt"]
    assert on.linear_models_ == []
    # not used: the model is the GBDT alone, to the last bit
    np.testing.assert_array_equal(on.predict_ctr(X.head(200)), off.predict_ctr(X.head(200)))


def test_blended_artifact_is_json_and_reloads_to_identical_predictions(linear_models):
    Xte, _, on, _ = linear_models
    state, texts, pickles = on.to_artifact()
    assert pickles == {}
    state = json.loads(json.dumps(state))  # what the registry writes and reads
    m2 = CTRModel.from_artifact(state, texts, pickles)
    assert m2.blend_ == on.blend_
    new = Xte.head(500).assign(slot=["never-seen"] * 250 + [None] * 250)
    np.testing.assert_array_equal(m2.predict_ctr(Xte), on.predict_ctr(Xte))
    np.testing.assert_array_equal(m2.predict_ctr(new), on.predict_ctr(new))


def test_artifact_from_before_the_blend_loads_as_the_gbdt_alone(linear_models):
    Xte, _, _, off = linear_models
    state, texts, pickles = off.to_artifact()
    state = json.loads(json.dumps(state))
    for key in ("blend", "linear_models"):
        del state[key]
    del state["params"]["blend"]
    m2 = CTRModel.from_artifact(state, texts, pickles)
    assert m2.blend_ is None and m2.linear_models_ == []
    np.testing.assert_array_equal(m2.predict_ctr(Xte.head(300)), off.predict_ctr(Xte.head(300)))


def test_blend_on_one_validation_split():
    X, y = _linear(6000, seed=1)
    m = CTRModel(n_estimators=200, n_folds=1).fit(X, y)
    assert m.blend_["used"] is True and len(m.linear_models_) == 1
    assert np.isfinite(m.predict_ctr(X.head(10))).all()


def test_choose_blend_known_answers():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 1.5, 20_000)
    y = (rng.random(len(z)) < 1 / (1 + np.exp(-z))).astype(int)
    noise = rng.normal(0, 1, len(z))
    # the linear side is the true logit and the GBDT side is noise: all weight to the linear
    got = choose_blend(noise, z, y)
    assert got["used"] is True and got["weight"] == 1.0
    # the other way round: weight 0, so not used
    got = choose_blend(z, noise, y)
    assert got["used"] is False and got["weight"] == 0.0
    assert set(got["validation_logloss"]) == {"gbdt", "blend"}


def test_blend_parameter_validated():
    X, y = _xor(300)
    with pytest.raises(ParameterError, match=r"parameter 'blend' must be one of 'auto', 'off'"):
        CTRModel(blend="yes").fit(X, y)
