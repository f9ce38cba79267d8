"""The click model (pCTR / pCVR for ranking) and the planner's online path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adwise import NotFittedError
from adwise.delivery import ClickModel, DeliveryPlanner


def _log(seed: int = 0, n_users: int = 400, n_per_user: int = 30):
    """Two groups of users: group ``a`` likes sports, group ``b`` likes travel.  The logging
    policy shows each group mostly its favourite category; clicks follow the true interest,
    ads s1 and t1 are better than s0 and t0."""
    rng = np.random.default_rng(seed)
    users = pd.DataFrame({"user_id": [f"u{i}" for i in range(n_users)],
                          "group": np.where(np.arange(n_users) % 2 == 0, "a", "b")})
    ads = {"s0": "sports", "s1": "sports", "t0": "travel", "t1": "travel"}
    quality = {"s0": 0.0, "s1": 0.7, "t0": 0.0, "t1": 0.7}
    rows = []
    for uid, grp in zip(users.user_id, users.group, strict=True):
        fav = "sports" if grp == "a" else "travel"
        for _ in range(n_per_user):
            cat = fav if rng.random() < 0.75 else ("travel" if fav == "sports" else "sports")
            ad = rng.choice([a for a, c in ads.items() if c == cat])
            logit = -3.5 + (1.5 if cat == fav else -1.0) + quality[ad]
            clicked = rng.random() < 1 / (1 + np.exp(-logit))
            rows.append((uid, ad, int(clicked), int(clicked and rng.random() < 0.3),
                         rng.choice(["top", "side"])))
    events = pd.DataFrame(rows, columns=["user_id", "ad_id", "clicked", "converted",
                                         "placement"])
    return events, users, ads


def test_click_model_learns_interests_and_serves_new_users_from_attributes():
    events, users, cats = _log()
    attrs = users.set_index("user_id")
    newcomers = pd.DataFrame({"group": ["a", "b"]}, index=["new-a", "new-b"])
    cm = ClickModel().fit(events, cats, user_attributes=pd.concat([attrs, newcomers]))
    frame = pd.DataFrame({"user_id": ["new-a", "new-a", "new-b", "new-b"],
                          "ad_id": ["s1", "t1", "s1", "t1"]})
    p = cm.predict_ctr(frame)
    # a user with no events is served by what users like them were shown and clicked
    assert p[0] > 1.5 * p[1] and p[3] > 1.5 * p[2]
    # the better ad of a category ranks above the worse one for everybody
    q = cm.predict_ctr(pd.DataFrame({"user_id": ["u0", "u0"], "ad_id": ["s1", "s0"]}))
    assert q[0] > q[1]
    # calibrated on average
    assert cm.predict_ctr(events).mean() == pytest.approx(events.clicked.mean(), rel=0.1)
    assert cm.predict_cvr(events).mean() == pytest.approx(
        events.converted.sum() / events.clicked.sum(), rel=0.25)


def test_click_model_unknown_ids_and_factors():
    events, _, cats = _log(n_users=100)
    cm = ClickModel().fit(events, cats)
    frame = pd.DataFrame({"user_id": ["nobody", "u1", "nobody"], "ad_id": ["s0", "zz", "zz"],
                          "placement": ["top", "nowhere", "side"], "hour": [3, np.nan, 30]})
    p, v = cm.predict_ctr(frame), cm.predict_cvr(frame)
    assert np.all((p > 0) & (p < 1)) and np.all((v > 0) & (v < 1))
    f = cm.factors(frame.head(1))[0]
    assert set(f) == {"ad", "interest", "context"}
    assert sum(f.values()) == pytest.approx(float(np.log(p[0] / (1 - p[0]))))
    with pytest.raises(NotFittedError):
        ClickModel().predict_ctr(frame)


def test_rank_records_is_the_head_of_rank():
    events, _, cats = _log(n_users=100)
    cm = ClickModel().fit(events, cats)
    ads = pd.DataFrame({"ad_id": list(cats), "campaign_id": ["A", "A", "B", "B"],
                        "pricing": ["cpc", "cpc", "cpc", "cpa"], "bid": [1.0, 0.5, 2.0, np.nan],
                        "cpa_bid": [np.nan, np.nan, np.nan, 9.0],
                        "budget": [5.0, 5.0, 2.0, 2.0]})
    planner = DeliveryPlanner(ads, cm.predict_ctr, cm.predict_cvr, explain=cm.factors)
    planner.record("u0", "t0", cost=0.9)  # campaign B (budget 4): 0.9 spent at 20 % of period
    full = planner.rank("u0", context={"progress": 0.2, "placement": "top"})
    top = planner.rank_records("u0", None, {"progress": 0.2, "placement": "top"}, k=2)
    assert [r["ad_id"] for r in top] == full.ad_id.head(2).tolist()
    assert top[0]["expected_value"] == pytest.approx(full.expected_value.iloc[0])
    assert top[0]["factors"] == full.factors.iloc[0]
    reasons = dict(zip(full.ad_id, full.reason, strict=True))
    assert reasons["t0"].startswith("paced")  # 0.9 > 4 x 0.2
    assert reasons["t1"] == "budget exhausted"  # one conversion (9.0) would overspend
    assert not full.set_index("ad_id").loc[["t0", "t1"], "eligible"].any()


def test_users_of_one_kind_share_interests_through_their_hours_not_their_own_clicks():
    """Both groups are shown sports and travel alike, so impressions say nothing about a user;
    but group ``a`` is active in the morning and clicks sports, group ``b`` in the evening and
    clicks travel.  A user who never clicked is placed with the users active when they are."""
    rng = np.random.default_rng(3)
    cats = {"s0": "sports", "t0": "travel"}
    rows = []
    for i in range(600):
        grp = "a" if i % 2 == 0 else "b"
        for _ in range(25):
            ad = rng.choice(["s0", "t0"])
            hour = int(rng.integers(6, 12) if grp == "a" else rng.integers(17, 23))
            fav = (ad == "s0") == (grp == "a")
            clicked = i >= 40 and rng.random() < (0.12 if fav else 0.02)  # the first 40: none
            rows.append((f"u{i}", ad, int(clicked), 0, hour))
    events = pd.DataFrame(rows, columns=["user_id", "ad_id", "clicked", "converted", "hour"])
    cm = ClickModel(n_classes=2).fit(events, cats)
    frame = pd.DataFrame({"user_id": ["u0", "u0", "u1", "u1"],
                          "ad_id": ["s0", "t0", "s0", "t0"], "hour": 12})
    p = cm.predict_ctr(frame)
    assert p[0] > 1.5 * p[1] and p[3] > 1.5 * p[2]


def test_kind_click_rates_leave_the_user_out():
    from adwise.delivery._rank import _kind_rates_without_self

    rng = np.random.default_rng(0)
    post = rng.dirichlet([1.0, 1.0, 1.0], 50)
    imps = rng.poisson(10, (50, 4)).astype(float)
    clicks = rng.binomial(imps.astype(int), 0.1).astype(float)
    out = _kind_rates_without_self(post, imps, clicks, prior=5.0, block=7)
    # brute force for user 3: class totals over the other users
    others = np.arange(50) != 3
    rate = clicks.sum() / imps.sum()
    r = ((post[others].T @ clicks[others] + 5.0 * rate)
         / (post[others].T @ imps[others] + 5.0))
    np.testing.assert_allclose(out[3], post[3] @ r)
    # a user's own clicks (the labels of their rows) leave their row unchanged ...
    more = clicks.copy()
    more[3] = imps[3]
    again = _kind_rates_without_self(post, imps, more, prior=5.0)
    np.testing.assert_allclose(again[3], out[3], rtol=0.02)  # only via the overall rate
    # ... and raise everyone else's
    assert (again[others] >= out[others]).all()
