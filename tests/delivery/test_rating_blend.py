"""KNNBaseline against a brute-force reading of its formula, and RatingBlend's blend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from adwise import NotFittedError, ParameterError
from adwise.delivery import BiasedMF, KNNBaseline, RatingBlend
from adwise.delivery._explicit import _validation_mask, _values_on
from adwise.metrics import rmse


def _dense(n_users=30, n_items=12, density=0.6, seed=0):
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    u, i = np.nonzero(mask)
    r = rng.integers(1, 6, len(u)).astype(float)
    return u, i, r


def _brute_force(u, i, r, nu, ni, k, min_k, shrinkage, reg_u, reg_i, queries):
    """Koren (2008) item-based kNN-baseline, one loop per pair, straight from the formulas."""
    mu = r.mean()
    bu, bi = np.zeros(nu), np.zeros(ni)
    for _ in range(10):
        for j in range(ni):
            s = i == j
            bi[j] = (r[s] - mu - bu[u[s]]).sum() / (reg_i + s.sum())
        for v in range(nu):
            s = u == v
            bu[v] = (r[s] - mu - bi[i[s]]).sum() / (reg_u + s.sum())
    E = np.full((nu, ni), np.nan)
    E[u, i] = r - mu - bu[u] - bi[i]
    sim = np.zeros((ni, ni))
    for a in range(ni):
        for b in range(ni):
            both = ~np.isnan(E[:, a]) & ~np.isnan(E[:, b])
            n = both.sum()
            if a == b or n < 2:
                continue
            ea, eb = E[both, a], E[both, b]
            den = np.sqrt((ea**2).sum() * (eb**2).sum())
            sim[a, b] = (n - 1) / (n - 1 + shrinkage) * (ea @ eb / den if den > 0 else 0.0)
    out = []
    for qu, qi in queries:
        rated = [j for j in range(ni) if not np.isnan(E[qu, j]) and sim[qi, j] > 0]
        rated = sorted(rated, key=lambda j: -sim[qi, j])[:k]
        est = mu + bu[qu] + bi[qi]
        if len(rated) >= min_k and rated:
            w = np.array([sim[qi, j] for j in rated])
            est += w @ np.array([E[qu, j] for j in rated]) / w.sum()
        out.append(est)
    return np.array(out), sim


@pytest.mark.parametrize("k, min_k", [(3, 1), (40, 1), (2, 3)])
def test_knn_baseline_matches_brute_force_formula(k, min_k):
    u, i, r = _dense()
    queries = [(qu, qi) for qu in range(30) for qi in range(12)]
    want, sim = _brute_force(u, i, r, 30, 12, k, min_k, 5.0, 15.0, 10.0, queries)
    m = KNNBaseline(k=k, min_k=min_k, shrinkage=5.0, rating_scale=(-10, 10))
    m.fit(u.astype(str), i.astype(str), r)
    # Ids are coded in first-seen order; map the brute force's item numbers onto them.
    order = np.array([int(x) for x in m.items_])
    got_sim = np.zeros((12, 12))
    got_sim[np.ix_(order, order)] = m.similarity_.toarray()
    np.testing.assert_allclose(got_sim, np.maximum(sim, 0), atol=1e-6)
    got = m.predict([str(q[0]) for q in queries], [str(q[1]) for q in queries], clip=False)
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_knn_baseline_user_based_is_item_based_on_the_transpose():
    u, i, r = _dense(seed=1)
    # Converged baselines (the alternation starts from the other side in the transpose).
    ub = KNNBaseline(user_based=True, k=5, reg_user=3.0, reg_item=7.0, n_baseline_iter=300)
    tb = KNNBaseline(k=5, reg_user=7.0, reg_item=3.0, n_baseline_iter=300)
    ub, tb = ub.fit(u, i, r), tb.fit(i, u, r)
    qu, qi = np.repeat(np.arange(30), 12), np.tile(np.arange(12), 30)
    np.testing.assert_allclose(ub.predict(qu, qi), tb.predict(qi, qu), atol=1e-9)


def test_knn_baseline_on_a_base_model_corrects_its_residuals():
    u, i, r = _dense(seed=2)
    base = BiasedMF(n_factors=2, n_iter=3).fit(u, i, r)
    m = KNNBaseline(k=5, base=BiasedMF(n_factors=2, n_iter=3)).fit(u, i, r)
    # The new user gets the base model's own fallback; known pairs a neighbourhood term on it.
    assert m.predict(["nobody"], [0])[0] == pytest.approx(base.predict(["nobody"], [0])[0])
    resid = r - base.predict(u, i, clip=False)
    np.testing.assert_allclose(np.sort(m.residuals_.data), np.sort(resid), atol=1e-9)
    assert rmse(r, m.predict(u, i)) < rmse(r, base.predict(u, i))


def test_values_on_aligns_products_that_dropped_exact_zeros():
    pattern = sp.csr_matrix(np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]))
    a = sp.csr_matrix(np.array([[2.0, 0.0, 0.0], [0.0, 3.0, 4.0]]))  # zeros where pattern has 1s
    np.testing.assert_array_equal(_values_on(a, pattern), [2.0, 0.0, 0.0, 3.0, 4.0])


def test_knn_baseline_contract():
    with pytest.raises(NotFittedError):
        KNNBaseline().predict(["a"], ["x"])
    with pytest.raises(ParameterError) as exc:
        KNNBaseline(k=0).fit(["a"], ["x"], [1.0])
    assert str(exc.value) == "KNNBaseline: parameter 'k' must be an int in [1, inf); got 0 (int)."
    m = KNNBaseline()
    assert m.get_params()["shrinkage"] == 100.0 and not hasattr(m, "similarity_")


def _which_items_tell(n_users=400, n_items=60, seed=0):
    """Two kinds of users with opposite tastes, each rating mostly its own half of the
    catalogue: *which* items a user rated reveals the kind better than a few ratings do."""
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, 2, n_users)
    taste = np.where(np.arange(n_items) % 2 == 0, 1.0, -1.0)
    u, i = [], []
    for v in range(n_users):
        home = np.arange(n_items // 2) + n_items // 2 * kind[v]
        items = np.unique(np.r_[rng.choice(home, 6, replace=False), rng.choice(n_items, 2)])
        u += [v] * len(items)
        i += list(items)
    u, i = np.array(u), np.array(i)
    r = 3 + np.where(kind[u] == 0, 1.0, -1.0) * taste[i] + rng.normal(0, 0.5, len(u))
    return u, i, r


@pytest.mark.parametrize("seed", [0, 1])
def test_svdpp_uses_which_items_a_user_rated(seed):
    u, i, r = _which_items_tell(seed=seed)
    test = np.random.default_rng(1).random(len(r)) < 0.25
    errs = {}
    for implicit in (False, True):
        m = BiasedMF(n_factors=2, reg=0.1, reg_bias=2.0, n_iter=8, implicit=implicit,
                     rating_scale=(-3, 9)).fit(u[~test], i[~test], r[~test])
        errs[implicit] = rmse(r[test], m.predict(u[test], i[test]))
    assert errs[True] < 0.975 * errs[False], errs
    assert m.implicit_factors_.shape == (60, 2)


def test_implicit_step_converges_to_the_ridge_solution():
    from adwise.delivery._explicit import _implicit_step

    rng = np.random.default_rng(0)
    nu, ni, k = 15, 8, 2
    mask = rng.random((nu, ni)) < 0.5
    mask[:, 0] = True
    u, i = np.nonzero(mask)  # user-major, as the fit lays the ratings out
    pattern = sp.csr_matrix(mask.astype(np.float32))
    norm = sp.csr_matrix(mask / np.sqrt(mask.sum(1, keepdims=True)))
    q, e, reg = rng.normal(size=(ni, k)), rng.normal(size=len(u)), rng.uniform(0.5, 2, ni)
    got = _implicit_step(norm, pattern, q, u, i, e, np.zeros((ni, k)), reg, n_steps=200)
    # Dense: rating n is sum_j norm[u_n, j] * y_j . q_{i_n}, linear in vec(Y) (row-major).
    A = np.einsum("nj,nk->njk", norm.toarray()[u], q[i]).reshape(len(u), ni * k)
    want = np.linalg.solve(A.T @ A + np.diag(np.repeat(reg, k)), A.T @ e).reshape(ni, k)
    np.testing.assert_allclose(got, want, atol=1e-8)


def _low_rank_plus_neighbourhood(n_users=300, n_items=150, seed=0):
    """Ratings = biases + a rank-2 part (MF's strength) + user tastes for small item groups
    (a high-rank part that item neighbourhoods see and two factors cannot)."""
    rng = np.random.default_rng(seed)
    P, Q = rng.normal(0, 0.6, (n_users, 2)), rng.normal(0, 0.6, (n_items, 2))
    bu, bi = rng.normal(0, 0.3, n_users), rng.normal(0, 0.3, n_items)
    group = rng.integers(0, n_items // 3, n_items)
    taste = rng.normal(0, 0.7, (n_users, n_items // 3))
    mask = rng.random((n_users, n_items)) < 0.35
    u, i = np.nonzero(mask)
    r = (3.0 + bu[u] + bi[i] + np.einsum("ij,ij->i", P[u], Q[i]) + taste[u, group[i]]
         + rng.normal(0, 0.3, len(u)))
    return u, i, np.clip(r, -2, 8)


@pytest.fixture(scope="module")
def blend_case():
    u, i, r = _low_rank_plus_neighbourhood()
    test = np.random.default_rng(1).random(len(r)) < 0.2
    blend = RatingBlend(n_factors=2, rating_scale=(-2, 8)).fit(u[~test], i[~test], r[~test])
    return u, i, r, test, blend


def test_rating_blend_beats_every_member_on_held_out_rows(blend_case):
    u, i, r, test, blend = blend_case
    assert blend.members_ == ["mf", "mf_wide", "mf_soft", "mf_wide_soft", "svdpp",
                              "svdpp_wide_soft", "knn_item_k40", "knn_item_k80", "knn_user_k40",
                              "knn_user_k80", "knn_item_on_mf", "knn_user_on_mf"]
    err = rmse(r[test], blend.predict(u[test], i[test]))
    members = {n: rmse(r[test], m.predict(u[test], i[test]))
               for n, m in zip(blend.members_, blend.models_, strict=True)}
    assert err < 0.97 * min(members.values()), (err, members)
    assert blend.validation_rmse_["blend"] < min(blend.validation_rmse_[n] for n in members)


def test_rating_blend_weights_come_from_the_validation_rows_only(blend_case):
    u, i, r, test, blend = blend_case
    u, i, r = u[~test].astype(str), i[~test].astype(str), r[~test]
    val = _validation_mask(u, None, blend.validation_size, blend.random_state)
    # Refit the members on the rest by hand, and solve the ridge on the validation rows.
    specs = blend._specs(blend.best_params_["reg"], blend.best_params_["reg_bias"])
    models = blend._fit_members(specs, u[~val], i[~val], r[~val])
    preds = np.column_stack([m.predict(u[val], i[val], clip=False) for m in models])
    counts = (pd.Series(u[~val]).value_counts(), pd.Series(i[~val]).value_counts())
    feats, names = blend._features(preds, u[val], i[val], counts)
    assert names == blend.feature_names_ and len(names) == 12 + 2 * 13
    z = (feats - feats.mean(0)) / feats.std(0)
    X = np.column_stack([np.ones(len(z)), z])
    pen = np.diag([0.0] + [blend.alpha] * z.shape[1])
    want = np.linalg.solve(X.T @ X + pen, X.T @ r[val])
    np.testing.assert_allclose(blend.weights_, want, rtol=1e-6, atol=1e-8)


def test_rating_blend_validation_is_each_users_latest_share_with_an_order():
    users = np.array(["a"] * 10 + ["b"] * 5)
    order = np.r_[np.arange(10)[::-1], np.arange(5)]  # a's latest rows come first
    val = _validation_mask(users, order, 0.2, 0)
    np.testing.assert_array_equal(np.flatnonzero(val), [0, 1, 14])


def test_rating_blend_contract():
    with pytest.raises(NotFittedError):
        RatingBlend().predict(["a"], ["x"])
    with pytest.raises(ParameterError) as exc:
        RatingBlend(alpha=-1.0).fit(["a"], ["x"], [1.0])
    assert str(exc.value) == (
        "RatingBlend: parameter 'alpha' must be a float in [0, inf); got -1.0 (float)."
    )


def test_evaluate_rating_passes_the_time_order_to_the_blend():
    from adwise.delivery._pipeline import evaluate_rating

    u, i, r = _low_rank_plus_neighbourhood(n_users=80, n_items=40, seed=3)
    ts = np.random.default_rng(4).permutation(len(r))
    df = pd.DataFrame({"u": u, "i": i, "r": r, "ts": ts})
    train, test = df[df.ts < 0.8 * len(df)], df[df.ts >= 0.8 * len(df)]
    got = evaluate_rating(train, test, "u", "i", "r", "blend", (-2, 8), order_col="ts")
    timed = RatingBlend(rating_scale=(-2, 8)).fit(train.u, train.i, train.r, order=train.ts)
    random = RatingBlend(rating_scale=(-2, 8)).fit(train.u, train.i, train.r)
    assert got["rmse"] == pytest.approx(rmse(test.r, timed.predict(test.u, test.i)), abs=1e-12)
    assert got["rmse"] != pytest.approx(rmse(test.r, random.predict(test.u, test.i)), abs=1e-6)
