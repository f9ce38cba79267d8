"""The latent-class category profile and its leak-free, train/serve-consistent features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adwise import NotFittedError, ParameterError
from adwise.behavior import load_predictor, train_workspace
from adwise.behavior._features import event_features, latest_history
from adwise.behavior._pipeline import workspace_frame
from adwise.behavior._profile import CategoryProfile

_SHARES = np.array([[0.6, 0.3, 0.05, 0.05], [0.05, 0.05, 0.3, 0.6]])
_RATES = np.array([[0.20, 0.02, 0.02, 0.02], [0.02, 0.02, 0.02, 0.20]])


def _users(n: int = 600, seed: int = 0):
    """Two planted kinds of users: what they are shown, click on and their device differ."""
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, 2, n)
    imp = np.stack([rng.multinomial(30, _SHARES[k]) for k in kind])
    clk = rng.binomial(imp, _RATES[kind])
    device = np.where(rng.random(n) < 0.8, np.where(kind == 0, "mobile", "desktop"), "tablet")
    return kind, imp, clk, pd.DataFrame({"device": device})


def test_profile_recovers_planted_classes_and_pools_click_rates():
    kind, imp, clk, attrs = _users()
    p = CategoryProfile(n_classes=2).fit(imp, clk, list("abcd"), attrs)
    # the training users are sorted into their planted kinds (up to the classes' labels)
    found = p.transform(imp, clk, np.zeros(len(imp)), attrs)[["user_class_0", "user_class_1"]]
    agree = np.mean(found.to_numpy().argmax(1) == kind)
    assert max(agree, 1 - agree) > 0.97
    # a new user with a short history is assigned to the right kind ...
    few = np.array([[3, 1, 0, 0], [0, 0, 1, 3]])
    f = p.transform(few, np.zeros_like(few), np.array([0, 0]), pd.DataFrame(
        {"device": ["mobile", "desktop"]}))
    post = f[["user_class_0", "user_class_1"]].to_numpy()
    assert (post.max(1) > 0.95).all() and post[0].argmax() != post[1].argmax()
    # ... and gets its kind's click rate for category "a" although they never clicked
    assert f["user_cat_expected_ctr"][0] == pytest.approx(0.20, abs=0.03)
    assert f["user_cat_expected_ctr"][1] == pytest.approx(0.02, abs=0.01)
    assert f["user_cat_share"][0] > 0.5 > f["user_cat_share"][1]
    # with no history the attributes alone move the posterior
    none = np.zeros((2, 4))
    g = p.transform(none, none, np.array([0, 0]), pd.DataFrame({"device": ["mobile", "desktop"]}))
    assert g["user_cat_expected_ctr"][0] > 2 * g["user_cat_expected_ctr"][1]


def test_profile_unknown_category_missing_values_and_roundtrip():
    _, imp, clk, attrs = _users(200)
    p = CategoryProfile(n_classes=2, max_iter=20).fit(imp, clk, list("abcd"), attrs)
    rows = pd.DataFrame({"device": ["mobile", None, "watch"]})
    f = p.transform(imp[:3], clk[:3], np.array([1, -1, 2]), rows)
    assert np.isnan(f["user_cat_share"][1]) and np.isnan(f["user_cat_expected_ctr"][1])
    assert np.isfinite(f.drop(index=1).to_numpy()).all()
    q = CategoryProfile.from_dict(p.to_dict())
    pd.testing.assert_frame_equal(q.transform(imp[:3], clk[:3], np.array([1, -1, 2]), rows), f)


def test_profile_contract():
    with pytest.raises(NotFittedError):
        CategoryProfile().transform(np.zeros((1, 2)), np.zeros((1, 2)), np.array([0]))
    with pytest.raises(ParameterError, match="n_classes"):
        CategoryProfile(n_classes=0).fit(np.ones((3, 2)), np.zeros((3, 2)), ["a", "b"])


def test_profile_counts_are_strictly_past_and_match_serving_totals(loaded_workspace):
    ws = loaded_workspace
    df = event_features(ws)
    imp = df.filter(like="profile_impressions:")
    clk = df.filter(like="profile_clicks:")
    assert imp.shape[1] == clk.shape[1] == ws.query(
        "SELECT count(DISTINCT category) AS n FROM ads")["n"][0]
    # per event, the whole profile adds up to the user's strictly-past history
    np.testing.assert_array_equal(imp.sum(axis=1), df["user_past_impressions"])
    np.testing.assert_array_equal(clk.sum(axis=1), df["user_past_clicks"].fillna(0))
    # the serving totals are the last event's past counts plus that event itself
    last = df.groupby("user_id").tail(1).set_index("user_id")
    own = pd.get_dummies(last["ad_category"]).reindex(
        columns=[c.split(":", 1)[1] for c in imp.columns], fill_value=0).astype(int)
    served = latest_history(ws)["user_profile"].set_index("user_id").loc[last.index]
    np.testing.assert_array_equal(served[imp.columns].to_numpy(),
                                  last[imp.columns].to_numpy() + own.to_numpy())
    np.testing.assert_array_equal(
        served[clk.columns].to_numpy(),
        last[clk.columns].to_numpy() + own.to_numpy() * last[["clicked"]].to_numpy())


def test_profile_is_fitted_on_the_training_period_only(loaded_workspace):
    ws = loaded_workspace
    wf = workspace_frame(ws, 0.3)
    # relabel every test-period event as a click: the fitted profile must not change
    with ws.connect() as con:
        con.execute(f"UPDATE events SET clicked = 1 WHERE ts >= TIMESTAMP '{wf.cut}'")
    again = workspace_frame(ws, 0.3)
    assert again.y[wf.test].all() and not wf.y[wf.test].all()
    np.testing.assert_allclose(again.profile.click_rate_, wf.profile.click_rate_)
    cols = ["user_cat_share", "user_cat_expected_ctr"]
    np.testing.assert_allclose(again.df[cols].to_numpy()[wf.train],
                               wf.df[cols].to_numpy()[wf.train])


def test_serving_features_use_the_users_current_profile(loaded_workspace):
    ws = loaded_workspace
    train_workspace(ws, conversion=False, params={"n_estimators": 20})
    pred = load_predictor(ws)
    hist = latest_history(ws)["user_profile"].set_index("user_id")
    rows = pd.DataFrame({"user_id": [*hist.index[:5], "nobody"],
                         "ad_id": ws.table("ads", ["ad_id"])["ad_id"][0], "placement": "top"})
    got = pred.features(rows)
    cats = pred.profile.categories_
    n = hist.loc[rows["user_id"][:5], [f"profile_impressions:{c}" for c in cats]].to_numpy()
    m = hist.loc[rows["user_id"][:5], [f"profile_clicks:{c}" for c in cats]].to_numpy()
    n, m = np.vstack([n, np.zeros(len(cats))]), np.vstack([m, np.zeros(len(cats))])
    ad_cat = ws.query(f"SELECT category FROM ads WHERE ad_id = '{rows['ad_id'][0]}'")
    cat = np.full(6, cats.index(ad_cat["category"][0]))
    users = ws.table("users").set_index("user_id")
    attrs = users.reindex(rows["user_id"]).drop(columns="text").add_prefix("user_")
    want = pred.profile.transform(n, m, cat, attrs.reset_index(drop=True))
    np.testing.assert_allclose(got[want.columns].to_numpy(), want.to_numpy())


def test_profile_count_blocks_separate_kinds_the_categories_cannot():
    # both kinds see the same categories; only the hours of their impressions differ
    rng = np.random.default_rng(1)
    n = 400
    kind = rng.integers(0, 2, n)
    imp = rng.multinomial(20, [0.25] * 4, size=n)
    hours = np.stack([rng.multinomial(20, np.r_[np.full(12, 0.07), np.full(12, 1 / 75)]
                                      if k == 0 else np.r_[np.full(12, 1 / 75), np.full(12, 0.07)])
                      for k in kind])
    clk = np.zeros_like(imp)
    plain = CategoryProfile(n_classes=2, n_init=3).fit(imp, clk, list("abcd"))
    timed = CategoryProfile(n_classes=2, n_init=3).fit(imp, clk, list("abcd"),
                                                       counts={"hour": hours})

    def agreement(p, counts=None):
        found = p.class_posterior(imp, clk, counts=counts).argmax(1)
        return max(np.mean(found == kind), np.mean(found != kind))

    assert agreement(timed, {"hour": hours}) > 0.97
    assert agreement(plain) < 0.7
    # a saved profile keeps its count blocks; one saved before they existed still loads
    again = CategoryProfile.from_dict(timed.to_dict())
    np.testing.assert_allclose(again.class_posterior(imp, clk, counts={"hour": hours}),
                               timed.class_posterior(imp, clk, counts={"hour": hours}))
    old = plain.to_dict()
    del old["count_share"], old["params"]["n_init"]
    np.testing.assert_allclose(CategoryProfile.from_dict(old).class_posterior(imp, clk),
                               plain.class_posterior(imp, clk))


def test_profile_keeps_the_most_likely_of_several_starts():
    _, imp, clk, attrs = _users(300)

    def mean_loglik(p):
        lj = p._log_joint(imp.astype(float), clk.astype(float), p._attribute_codes(attrs))
        top = lj.max(1, keepdims=True)
        return float(np.mean(top[:, 0] + np.log(np.exp(lj - top).sum(1))))

    singles = [mean_loglik(CategoryProfile(n_classes=5, random_state=s).fit(
        imp, clk, list("abcd"), attrs)) for s in range(4)]
    best = mean_loglik(CategoryProfile(n_classes=5, n_init=4).fit(imp, clk, list("abcd"), attrs))
    assert best >= max(singles) - 1e-3 * abs(max(singles))
