"""Explicit-feedback rating models: biased matrix factorisation by ALS, and a tuned blend.

The rating model is the biased factorisation of Koren, Bell & Volinsky (2009),

.. math::

    \\hat r_{ui} = \\mu + b_u + b_i + p_u^\\top q_i,

fitted by alternating least squares with the weighted-lambda regularisation of Zhou et al.
(2008, "Large-scale parallel collaborative filtering for the Netflix prize"): with the item
side fixed, every user's ``[p_u, b_u]`` solves one ridge problem

.. math::

    \\min_{p_u, b_u} \\sum_{i \\in R(u)} (r_{ui} - \\mu - b_i - b_u - p_u^\\top q_i)^2
      + \\lambda\\, |R(u)|\\, \\lVert p_u \\rVert^2 + \\lambda_b\\, b_u^2 ,

and symmetrically for items.  All ridge systems of one side are built at once with sparse
products (the Gram matrices are :math:`M (X \\otimes X)` for the 0/1 rating mask ``M``) and
solved as one batched ``numpy.linalg.solve`` call, so a fit is a handful of BLAS/sparse calls
per sweep instead of a Python loop per rating.
"""

from __future__ import annotations

import logging
import time
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from adwise._exceptions import InputError
from adwise._params import Interval, Predicate
from adwise.base import AdwiseEstimator, check_is_fitted
from adwise.delivery._common import IdIndex, as_ids, check_lengths
from adwise.metrics import mae, rmse

__all__ = ["BiasedMF", "RatingBlend", "check_ratings", "cross_validate"]

log = logging.getLogger(__name__)


def _is_scale(v: Any) -> bool:
    try:
        lo, hi = v
        return float(lo) < float(hi)
    except (TypeError, ValueError):
        return False


def check_ratings(
    owner: str, ratings: Any, scale: tuple[float, float] | None
) -> np.ndarray:
    """Ratings as floats; refuse non-numbers and values outside the declared scale."""
    r = ratings.to_numpy() if hasattr(ratings, "to_numpy") else np.asarray(ratings)
    r = r.ravel()
    try:
        rf = r.astype(np.float64)
    except (TypeError, ValueError):
        rf = np.array([_to_float(x) for x in r])
    bad = ~np.isfinite(rf)
    if bad.any():
        idx = np.flatnonzero(bad)
        raise InputError(
            f"{owner}: ratings must be finite numbers; {len(idx)} row(s) are not, e.g. row "
            f"{idx[0]} (value {r[idx[0]]!r}). Fix: drop or correct those rows."
        )
    if scale is not None:
        lo, hi = float(scale[0]), float(scale[1])
        out = (rf < lo) | (rf > hi)
        if out.any():
            idx = np.flatnonzero(out)
            raise InputError(
                f"{owner}: {len(idx)} rating(s) lie outside the declared scale [{lo:g}, {hi:g}],"
                f" e.g. row {idx[0]} (value {rf[idx[0]]:g}). Fix: correct those rows or declare "
                "the scale the data uses (rating_scale=(low, high); CLI: --rating-scale LOW,HIGH)."
            )
    return rf


def _to_float(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def _grams(mask: sp.csr_matrix, x: np.ndarray) -> np.ndarray:
    """``G[e] = sum_{j in row e of mask} x_j x_j^T`` for every row ``e`` at once.

    One sparse product with the upper-triangle outer products (float32 for speed; the sums
    are of at most a few thousand O(1) terms).
    """
    n, k = mask.shape[0], x.shape[1]
    a, b = np.triu_indices(k)
    pos = np.empty((k, k), dtype=np.intp)
    pos[a, b] = pos[b, a] = np.arange(len(a))
    x32 = x.astype(np.float32)
    tri = mask @ (np.take(x32, a, axis=1) * np.take(x32, b, axis=1))
    return np.take(np.asarray(tri, dtype=np.float64), pos.ravel(), axis=1).reshape(n, k, k)


def _ridge_side(
    mask: sp.csr_matrix,
    resid: sp.csr_matrix,
    x: np.ndarray,
    counts: np.ndarray,
    reg: float,
    reg_bias: float,
    w0: np.ndarray | None,
    cg_steps: int,
) -> np.ndarray:
    """Solve every row's ridge problem ``(G + D) w = X^T t`` with features ``[x, 1]``.

    With a warm start ``w0`` the systems are solved approximately by ``cg_steps`` steps of
    batched conjugate gradient (Takács, Pilászy & Tikk 2011), else exactly.
    """
    xa = np.hstack([x, np.ones((x.shape[0], 1))])
    g = _grams(mask, xa)
    rhs = np.asarray(resid @ xa)
    k = x.shape[1]
    idx = np.arange(k + 1)
    g[:, idx[:k], idx[:k]] += (reg * np.maximum(counts, 1))[:, None]
    g[:, k, k] += reg_bias
    if w0 is None or cg_steps == 0:
        return np.linalg.solve(g, rhs[..., None])[..., 0]
    w = w0.copy()
    res = rhs - np.einsum("nij,nj->ni", g, w)
    d = res.copy()
    rr = np.einsum("ni,ni->n", res, res)
    for _ in range(cg_steps):
        gd = np.einsum("nij,nj->ni", g, d)
        denom = np.einsum("ni,ni->n", d, gd)
        alpha = np.divide(rr, denom, out=np.zeros_like(rr), where=denom > 0)
        w += alpha[:, None] * d
        res -= alpha[:, None] * gd
        rr_new = np.einsum("ni,ni->n", res, res)
        beta = np.divide(rr_new, rr, out=np.zeros_like(rr), where=rr > 0)
        d = res + beta[:, None] * d
        rr = rr_new
    return w


class BiasedMF(AdwiseEstimator):
    """Biased matrix factorisation for explicit ratings, fitted by ALS (weighted-lambda).

    Parameters
    ----------
    n_factors : int, default 20
        Latent dimensions ``k``.
    reg : float, default 0.12
        Factor regularisation :math:`\\lambda`, multiplied by each user's / item's number of
        ratings (ALS-WR).
    reg_bias : float, default 5.0
        Bias regularisation :math:`\\lambda_b` (a prior count pulling biases to 0).
    n_iter : int, default 10
        ALS sweeps (one user and one item solve each).
    rating_scale : (float, float) or None, default None
        The declared scale; ratings outside it are refused and predictions are clipped to it.
        ``None`` takes the training data's min and max.
    init_std : float, default 0.1
        Standard deviation of the random item factors at the start.
    cg_steps : int, default 3
        After two exact sweeps, each ridge system is solved approximately by this many
        warm-started conjugate-gradient steps (0: exact solves every sweep).
    random_state : int, default 0
        Seed of the initial factors.

    Attributes
    ----------
    global_mean_ : float
    user_bias_, item_bias_ : ndarray
    user_factors_, item_factors_ : ndarray of shape (n, n_factors)
    users_, items_ : ndarray of str
        Known ids, in code order.
    rating_scale_ : (float, float)

    Notes
    -----
    Unknown users get ``b_u = 0, p_u = 0`` and unknown items ``b_i = 0, q_i = 0`` at predict
    time, so a prediction falls back to :math:`\\mu + b_i` (new user), :math:`\\mu + b_u`
    (new item) or :math:`\\mu` (both new), then is clipped to the scale — the same fallback as
    Surprise's baseline handling.

    References
    ----------
    Koren, Bell & Volinsky (2009), "Matrix factorization techniques for recommender systems".
    Zhou, Wilkinson, Schreiber & Pan (2008), "Large-scale parallel collaborative filtering for
    the Netflix prize".

    Examples
    --------
    >>> m = BiasedMF(n_factors=2, n_iter=5).fit(["a", "a", "b"], ["x", "y", "x"], [5, 3, 4])
    >>> float(m.predict(["a"], ["x"])[0]) > float(m.predict(["a"], ["y"])[0])
    True
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_factors": [Interval(int, 1, 512)],
        "reg": [Interval(float, 0, None, closed="neither")],
        "reg_bias": [Interval(float, 0, None, closed="left")],
        "n_iter": [Interval(int, 1, 1000)],
        "rating_scale": [None, Predicate(_is_scale, "a (low, high) pair with low < high")],
        "init_std": [Interval(float, 0, None, closed="left")],
        "cg_steps": [Interval(int, 0, 100)],
        "random_state": [Interval(int, 0, None)],
    }

    def __init__(
        self,
        n_factors: int = 20,
        reg: float = 0.12,
        reg_bias: float = 5.0,
        n_iter: int = 10,
        rating_scale: tuple[float, float] | None = None,
        init_std: float = 0.1,
        cg_steps: int = 3,
        random_state: int = 0,
    ) -> None:
        self.n_factors = n_factors
        self.reg = reg
        self.reg_bias = reg_bias
        self.n_iter = n_iter
        self.rating_scale = rating_scale
        self.init_std = init_std
        self.cg_steps = cg_steps
        self.random_state = random_state

    def fit(self, users: Any, items: Any, ratings: Any) -> BiasedMF:
        """Fit on ``(user, item, rating)`` triples (ids of any hashable kind)."""
        self._validate_params()
        owner = type(self).__name__
        t0 = time.perf_counter()
        uidx, u = IdIndex.encode(users, "users", owner)
        iidx, i = IdIndex.encode(items, "items", owner)
        r = check_ratings(owner, ratings, self.rating_scale)
        check_lengths(owner, users=u, items=i, ratings=r)
        nu, ni, k = len(uidx), len(iidx), self.n_factors
        mu = float(r.mean())
        rng = np.random.default_rng(self.random_state)
        q = rng.normal(0.0, self.init_std, (ni, k))
        p = np.zeros((nu, k))
        bu, bi = np.zeros(nu), np.zeros(ni)
        mask_u = sp.csr_matrix((np.ones(len(r), dtype=np.float32), (u, i)), shape=(nu, ni))
        mask_i = mask_u.T.tocsr()
        cnt_u = np.asarray(mask_u.sum(axis=1)).ravel()
        cnt_i = np.asarray(mask_i.sum(axis=1)).ravel()
        # Rows of the triples in the CSR order of each side (duplicates keep the last rating).
        order_u = np.lexsort((i, u))
        order_i = np.lexsort((u, i))
        wu = wi = None
        for sweep in range(self.n_iter):
            cg = 0 if sweep < 2 else self.cg_steps
            t = r - mu - bi[i]
            resid_u = _csr(u[order_u], i[order_u], t[order_u], nu, ni)
            wu = _ridge_side(mask_u, resid_u, q, cnt_u, self.reg, self.reg_bias, wu, cg)
            p, bu = wu[:, :k], wu[:, k]
            t = r - mu - bu[u]
            resid_i = _csr(i[order_i], u[order_i], t[order_i], ni, nu)
            wi = _ridge_side(mask_i, resid_i, p, cnt_i, self.reg, self.reg_bias, wi, cg)
            q, bi = wi[:, :k], wi[:, k]
        self.global_mean_ = mu
        self.user_bias_, self.item_bias_ = bu, bi
        self.user_factors_, self.item_factors_ = p, q
        self.users_, self.items_ = uidx.values, iidx.values
        scale = self.rating_scale
        lo, hi = (float(r.min()), float(r.max())) if scale is None else scale
        self.rating_scale_ = (float(lo), float(hi))
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _codes(self, users: Any, items: Any) -> tuple[np.ndarray, np.ndarray]:
        owner = type(self).__name__
        if getattr(self, "_idx_for", None) is not self.users_:
            self._uidx, self._iidx = IdIndex(self.users_), IdIndex(self.items_)
            self._idx_for = self.users_
        u = self._uidx.codes(users, "users", owner)
        i = self._iidx.codes(items, "items", owner)
        check_lengths(owner, users=u, items=i)
        return u, i

    def predict(self, users: Any, items: Any, clip: bool = True) -> np.ndarray:
        """Predicted ratings; unknown ids get the baseline fallback (see Notes)."""
        check_is_fitted(self, "user_factors_")
        u, i = self._codes(users, items)
        return self._predict_codes(u, i, clip)

    def _predict_codes(self, u: np.ndarray, i: np.ndarray, clip: bool = True) -> np.ndarray:
        ku, ki = u >= 0, i >= 0
        pred = np.full(len(u), self.global_mean_)
        pred[ku] += self.user_bias_[u[ku]]
        pred[ki] += self.item_bias_[i[ki]]
        both = ku & ki
        pred[both] += np.einsum(
            "ij,ij->i", self.user_factors_[u[both]], self.item_factors_[i[both]]
        )
        if clip:
            lo, hi = self.rating_scale_
            np.clip(pred, lo, hi, out=pred)
        return pred

    def score(self, users: Any, items: Any, ratings: Any) -> float:
        """Negative RMSE (higher is better, the scikit-learn convention)."""
        return -rmse(check_ratings(type(self).__name__, ratings, None), self.predict(users, items))


def _csr(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n: int, m: int) -> sp.csr_matrix:
    mat = sp.csr_matrix((vals, (rows, cols)), shape=(n, m))
    return mat


# Grid searched by RatingBlend on the inner validation split (factor reg x bias reg).
_REG_GRID = (0.04, 0.06, 0.08, 0.11, 0.15)
_BIAS_GRID = (2.0, 5.0, 10.0, 20.0)


class RatingBlend(AdwiseEstimator):
    """Rating model with regularisation tuned on an inner validation split, plus a blend.

    1. Carve ``validation_size`` of the training triples (random, ``random_state``) as an inner
       validation split; pick ``reg`` (ALS-WR factor regularisation) then ``reg_bias`` of
       :class:`BiasedMF` by validation RMSE (coordinate search over a fixed grid).
    2. On the same split fit three :class:`BiasedMF` components of different rank
       (``n_factors``, ``4 * n_factors``, ``n_factors // 4`` with 1.6x the regularisation)
       and blend their predictions by least squares on the validation split (linear
       blending, Töscher & Jahrer 2009).  This is a rank blend, not SVD++: no implicit
       "who rated what" term is modelled.
    3. Refit every component on all the training triples with the chosen settings.

    Parameters
    ----------
    n_factors : int, default 20
    n_iter : int, default 12
    validation_size : float, default 0.1
    rating_scale : (float, float) or None
    tune : bool, default True
        ``False`` skips the search and uses ``reg``/``reg_bias`` as given.
    reg, reg_bias : float
        Used when ``tune`` is False (and as the search's start).
    blend : bool, default True
        Learn blend weights of the components (else the tuned MF alone).
    random_state : int, default 42

    Attributes
    ----------
    best_params_ : dict
    validation_rmse_ : dict
        Validation RMSE of each tried setting and of the blend.
    weights_ : ndarray
        Blend weights (intercept first) over the components' predictions.
    models_ : list of BiasedMF
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_factors": [Interval(int, 1, 512)],
        "n_iter": [Interval(int, 1, 1000)],
        "validation_size": [Interval(float, 0, 0.5, closed="neither")],
        "rating_scale": [None, Predicate(_is_scale, "a (low, high) pair with low < high")],
        "tune": [bool],
        "reg": [Interval(float, 0, None, closed="neither")],
        "reg_bias": [Interval(float, 0, None, closed="left")],
        "blend": [bool],
        "random_state": [Interval(int, 0, None)],
    }

    def __init__(
        self,
        n_factors: int = 20,
        n_iter: int = 12,
        validation_size: float = 0.1,
        rating_scale: tuple[float, float] | None = None,
        tune: bool = True,
        reg: float = 0.08,
        reg_bias: float = 5.0,
        blend: bool = True,
        random_state: int = 42,
    ) -> None:
        self.n_factors = n_factors
        self.n_iter = n_iter
        self.validation_size = validation_size
        self.rating_scale = rating_scale
        self.tune = tune
        self.reg = reg
        self.reg_bias = reg_bias
        self.blend = blend
        self.random_state = random_state

    def _mf(self, **kw: Any) -> BiasedMF:
        base = dict(
            n_factors=self.n_factors, n_iter=self.n_iter, reg=self.reg, reg_bias=self.reg_bias,
            rating_scale=self.rating_scale, random_state=self.random_state,
        )
        base.update(kw)
        return BiasedMF(**base)

    def fit(self, users: Any, items: Any, ratings: Any) -> RatingBlend:
        """Tune on an inner split of the given triples, blend, then refit on all of them."""
        self._validate_params()
        owner = type(self).__name__
        u, it = as_ids(users, "users", owner), as_ids(items, "items", owner)
        r = check_ratings(owner, ratings, self.rating_scale)
        n = check_lengths(owner, users=u, items=it, ratings=r)
        t0 = time.perf_counter()
        rng = np.random.default_rng(self.random_state)
        val = rng.random(n) < self.validation_size
        tr = ~val
        scores: dict[str, float] = {}
        reg, reg_bias = self.reg, self.reg_bias
        if self.tune and val.sum() >= 10:

            def val_rmse(**kw: Any) -> float:
                m = self._mf(**kw).fit(u[tr], it[tr], r[tr])
                return rmse(r[val], m.predict(u[val], it[val]))

            for g in _REG_GRID:
                scores[f"reg={g},reg_bias={reg_bias}"] = val_rmse(reg=g, reg_bias=reg_bias)
            reg = min(_REG_GRID, key=lambda g: scores[f"reg={g},reg_bias={reg_bias}"])
            for b in _BIAS_GRID:
                key = f"reg={reg},reg_bias={b}"
                if key not in scores:
                    scores[key] = val_rmse(reg=reg, reg_bias=b)
            reg_bias = min(_BIAS_GRID, key=lambda b: scores[f"reg={reg},reg_bias={b}"])
        specs = [
            dict(reg=reg, reg_bias=reg_bias),
            dict(reg=reg, reg_bias=reg_bias, n_factors=self.n_factors * 4, random_state=7),
            dict(reg=reg * 1.6, reg_bias=reg_bias, n_factors=max(1, self.n_factors // 4),
                 random_state=11),
        ]
        weights = np.array([0.0, 1.0, 0.0, 0.0])
        if self.blend and val.sum() >= 10:
            comps = [self._mf(**s).fit(u[tr], it[tr], r[tr]) for s in specs]
            X = self._design(comps, u[val], it[val])
            weights = np.linalg.lstsq(X, r[val], rcond=None)[0]
            lo, hi = comps[0].rating_scale_
            scores["blend"] = rmse(r[val], np.clip(X @ weights, lo, hi))
            log.info("blend weights %s", np.round(weights, 3))
        else:
            specs = specs[:1]
        self.models_ = [self._mf(**s).fit(u, it, r) for s in specs]
        self.weights_ = weights[: len(self.models_) + 1]
        self.best_params_ = {"reg": reg, "reg_bias": reg_bias, "n_factors": self.n_factors}
        self.validation_rmse_ = scores
        self.rating_scale_ = self.models_[0].rating_scale_
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    @staticmethod
    def _design(models: list[BiasedMF], users: np.ndarray, items: np.ndarray) -> np.ndarray:
        cols = [np.ones(len(users))]
        for m in models:
            cols.append(m.predict(users, items, clip=False))
        return np.column_stack(cols)

    def predict(self, users: Any, items: Any) -> np.ndarray:
        """Blended, clipped predictions; unknown ids fall back as in :class:`BiasedMF`."""
        check_is_fitted(self, "models_")
        X = self._design(self.models_, users, items)
        lo, hi = self.rating_scale_
        return np.clip(X @ self.weights_, lo, hi)

    def score(self, users: Any, items: Any, ratings: Any) -> float:
        """Negative RMSE."""
        return -rmse(check_ratings(type(self).__name__, ratings, None), self.predict(users, items))


def cross_validate(
    estimator: Any,
    users: Any,
    items: Any,
    ratings: Any,
    k: int = 5,
    random_state: int = 0,
) -> dict[str, Any]:
    """K-fold cross-validation of a rating model, as Surprise's ``cross_validate`` reports it.

    Parameters
    ----------
    estimator : BiasedMF or RatingBlend (anything with ``fit``/``predict`` of triples)
        Cloned for every fold.
    users, items, ratings : array-like
    k : int, default 5
    random_state : int, default 0
        Seed of the random fold assignment (each row in exactly one test fold).

    Returns
    -------
    dict
        ``rmse`` and ``mae`` (lists, one per fold), ``fit_time`` (seconds per fold),
        ``mean_rmse``, ``std_rmse``, ``mean_mae``, ``std_mae``.
    """
    from sklearn.base import clone

    if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 2:
        raise InputError(f"cross_validate: k must be an int >= 2; got {k!r}.")
    u, it = np.asarray(users, dtype=object), np.asarray(items, dtype=object)
    r = np.asarray(ratings, dtype=np.float64)
    n = len(r)
    if n < k:
        raise InputError(f"cross_validate: {n} rating(s) cannot be split into {k} folds.")
    fold = np.random.default_rng(random_state).permutation(n) % k
    out: dict[str, Any] = {"rmse": [], "mae": [], "fit_time": []}
    for f in range(k):
        te = fold == f
        est = clone(estimator)
        t0 = time.perf_counter()
        est.fit(u[~te], it[~te], r[~te])
        out["fit_time"].append(time.perf_counter() - t0)
        pred = est.predict(u[te], it[te])
        out["rmse"].append(rmse(r[te], pred))
        out["mae"].append(mae(r[te], pred))
    for m in ("rmse", "mae"):
        out[f"mean_{m}"] = float(np.mean(out[m]))
        out[f"std_{m}"] = float(np.std(out[m]))
    return out
