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
solved by a Cholesky factorisation vectorised across the systems, so a sweep is a handful of
sparse/NumPy calls instead of a Python loop per rating.  Sweeps start from closed-form
baseline biases and from item factors given by a truncated SVD of the baseline residuals,
which is why a few of them suffice.
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
from adwise.delivery._common import IdIndex, as_ids, blas_threads, check_lengths
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
            f"{idx[0]} (value {r[idx[0]:idx[0] + 1].tolist()[0]!r}). Fix: drop or correct "
            "those rows."
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


def _packed_layout(m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Upper-triangle index pairs of an ``m x m`` matrix and the map back to full positions."""
    a, b = np.triu_indices(m)
    pos = np.empty((m, m), dtype=np.intp)
    pos[a, b] = pos[b, a] = np.arange(len(a))
    return a, b, pos


def _ridge_side(
    mask: sp.csr_matrix,
    resid: sp.csr_matrix,
    x: np.ndarray,
    diag: np.ndarray,
    layout: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> np.ndarray:
    """Solve every row's ridge problem ``(G_e + D_e) w_e = X^T t_e`` at once.

    ``x`` holds the fixed side's features (the last column all ones, for the bias), ``mask``
    and ``resid`` the 0/1 pattern and the targets of each row, ``diag`` (m, n) the ridge
    diagonals.  Gram matrices come from one sparse product with the packed outer products,
    laid out batch-last ``(m, m, n)`` so that the Cholesky factorisation below works on
    contiguous vectors of all ``n`` systems at once: one NumPy call per matrix entry instead
    of one LAPACK call per (tiny) system, which is what made ``numpy.linalg.solve`` slow here.
    Returns ``w`` of shape (n, m).
    """
    a, b, pos = layout
    m = x.shape[1]
    g = np.ascontiguousarray((mask @ (x[:, a] * x[:, b])).T)[pos]
    g[np.arange(m), np.arange(m)] += diag
    rhs = np.ascontiguousarray((resid @ x).T)
    chol = np.zeros_like(g)
    for j in range(m):
        lj = chol[j, :j]
        d = np.sqrt(g[j, j] - np.einsum("kn,kn->n", lj, lj))
        chol[j, j] = d
        if j + 1 < m:
            chol[j + 1 :, j] = (g[j + 1 :, j] - np.einsum("ikn,kn->in", chol[j + 1 :, :j], lj)) / d
    y = np.empty_like(rhs)
    for j in range(m):
        y[j] = (rhs[j] - np.einsum("kn,kn->n", chol[j, :j], y[:j])) / chol[j, j]
    w = np.empty_like(rhs)
    for j in range(m - 1, -1, -1):
        w[j] = (y[j] - np.einsum("kn,kn->n", chol[j + 1 :, j], w[j + 1 :])) / chol[j, j]
    return w.T


def _last_rating_per_pair(
    u: np.ndarray, i: np.ndarray, r: np.ndarray, n_items: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Triples sorted by (user, item), one per pair: the last one given."""
    key = u.astype(np.int64) * n_items + i
    order = np.argsort(key, kind="stable")
    key = key[order]
    last = np.append(key[1:] != key[:-1], True)
    keep = order[last]
    return u[keep], i[keep], r[keep]


def _patterns(
    u: np.ndarray, i: np.ndarray, nu: int, ni: int
) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]:
    """0/1 float32 CSR masks by user and by item of (user, item)-sorted pairs, and the
    permutation from the user-major to the item-major order of the pairs.

    The permutation rides along as the data of a CSR -> CSC conversion (a linear-time
    counting sort that keeps the user order within each item).
    """
    indptr = np.zeros(nu + 1, dtype=np.int64)
    np.cumsum(np.bincount(u, minlength=nu), out=indptr[1:])
    ones = np.ones(len(u), dtype=np.float32)
    mask_u = sp.csr_matrix((ones, i, indptr), shape=(nu, ni))
    col = sp.csr_matrix((np.arange(len(u)), i, indptr), shape=(nu, ni)).tocsc()
    mask_i = sp.csr_matrix((ones, col.indices, col.indptr), shape=(ni, nu))
    return mask_u, mask_i, col.data


def _ridge_diagonal(counts: np.ndarray, k: int, reg: float, reg_bias: float) -> np.ndarray:
    """(k + 1, n) ridge diagonals: weighted-lambda on the factors, a prior count on the bias."""
    diag = np.empty((k + 1, len(counts)), dtype=np.float32)
    diag[:k] = reg * np.maximum(counts, 1)
    diag[k] = reg_bias
    return diag


def _baselines(
    u: np.ndarray, i: np.ndarray, t: np.ndarray, nu: int, ni: int, reg_bias: float
) -> tuple[np.ndarray, np.ndarray]:
    """Ridge user and item biases of the centred ratings ``t`` by a few closed-form passes.

    Starting ALS from converged biases (rather than zeros) is what lets a few sweeps suffice.
    """
    cu, ci = np.bincount(u, minlength=nu), np.bincount(i, minlength=ni)
    bu = np.zeros(nu)
    for _ in range(3):
        bi = np.bincount(i, t - bu[u], ni) / (ci + reg_bias)
        bu = np.bincount(u, t - bi[i], nu) / (cu + reg_bias)
    return bu, bi


def _initial_item_factors(resid: sp.csr_matrix, k: int, seed: int) -> np.ndarray:
    """Item factors from a truncated (randomised) SVD of the baseline residuals.

    A start in the residuals' leading subspace converges in a few sweeps; a small random
    start needs several more sweeps to grow out of the heavily regularised origin.
    Dimensions beyond the matrix's rank stay zero.
    """
    from sklearn.utils.extmath import randomized_svd

    rank = min(k, *resid.shape)
    _, s, vt = randomized_svd(resid, rank, n_iter=2, random_state=seed)
    q = np.zeros((resid.shape[1], k), dtype=np.float32)
    q[:, :rank] = vt.T * np.sqrt(s)
    return q


def _with_ones(x: np.ndarray) -> np.ndarray:
    return np.hstack([x, np.ones((x.shape[0], 1), dtype=x.dtype)])


class BiasedMF(AdwiseEstimator):
    """Biased matrix factorisation for explicit ratings, fitted by ALS (weighted-lambda).

    Parameters
    ----------
    n_factors : int, default 10
        Latent dimensions ``k``.
    reg : float, default 0.15
        Factor regularisation :math:`\\lambda`, multiplied by each user's / item's number of
        ratings (ALS-WR).
    reg_bias : float, default 10.0
        Bias regularisation :math:`\\lambda_b` (a prior count pulling biases to 0).
    n_iter : int, default 4
        ALS sweeps (one user and one item solve each), after closed-form baseline biases and
        item factors from a truncated SVD of the baseline residuals.
    rating_scale : (float, float) or None, default None
        The declared scale; ratings outside it are refused and predictions are clipped to it.
        ``None`` takes the training data's min and max.
    random_state : int, default 0
        Seed of the randomised SVD that gives the initial item factors.

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
        "random_state": [Interval(int, 0, None)],
    }

    def __init__(
        self,
        n_factors: int = 10,
        reg: float = 0.15,
        reg_bias: float = 10.0,
        n_iter: int = 4,
        rating_scale: tuple[float, float] | None = None,
        random_state: int = 0,
    ) -> None:
        self.n_factors = n_factors
        self.reg = reg
        self.reg_bias = reg_bias
        self.n_iter = n_iter
        self.rating_scale = rating_scale
        self.random_state = random_state

    def fit(self, users: Any, items: Any, ratings: Any) -> BiasedMF:
        """Fit on ``(user, item, rating)`` triples (ids of any hashable kind).

        A pair rated more than once keeps its last rating.
        """
        self._validate_params()
        owner = type(self).__name__
        t0 = time.perf_counter()
        uidx, u = IdIndex.encode(users, "users", owner)
        iidx, i = IdIndex.encode(items, "items", owner)
        r = check_ratings(owner, ratings, self.rating_scale)
        check_lengths(owner, users=u, items=i, ratings=r)
        nu, ni, k = len(uidx), len(iidx), self.n_factors
        u, i, r = _last_rating_per_pair(u, i, r, ni)
        mu = float(r.mean())
        t = r - mu
        # Both sides keep one sparsity pattern for the whole fit; only the targets change.
        mask_u, mask_i, by_item = _patterns(u, i, nu, ni)
        resid_u, resid_i = mask_u.copy(), mask_i.copy()
        cnt_u, cnt_i = np.diff(mask_u.indptr), np.diff(mask_i.indptr)
        diag_u = _ridge_diagonal(cnt_u, k, self.reg, self.reg_bias)
        diag_i = _ridge_diagonal(cnt_i, k, self.reg, self.reg_bias)
        layout = _packed_layout(k + 1)
        with blas_threads(1):
            bu, bi = _baselines(u, i, t, nu, ni, self.reg_bias)
            resid_u.data[:] = t - bu[u] - bi[i]
            q = _initial_item_factors(resid_u, k, self.random_state)
            for _ in range(self.n_iter):
                resid_u.data[:] = t - bi[i]
                w = _ridge_side(mask_u, resid_u, _with_ones(q), diag_u, layout)
                p, bu = w[:, :k], w[:, k]
                resid_i.data[:] = (t - bu[u])[by_item]
                w = _ridge_side(mask_i, resid_i, _with_ones(p), diag_i, layout)
                q, bi = w[:, :k], w[:, k]
        self.global_mean_ = mu
        self.user_bias_, self.item_bias_ = bu.astype(np.float64), bi.astype(np.float64)
        self.user_factors_ = p.astype(np.float64)
        self.item_factors_ = q.astype(np.float64)
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


# Grid searched by RatingBlend on the inner validation split (factor reg x bias reg).
_REG_GRID = (0.04, 0.06, 0.08, 0.11, 0.15, 0.2)
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
    n_factors : int, default 10
    n_iter : int, default 4
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
        n_factors: int = 10,
        n_iter: int = 4,
        validation_size: float = 0.1,
        rating_scale: tuple[float, float] | None = None,
        tune: bool = True,
        reg: float = 0.15,
        reg_bias: float = 10.0,
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
        self.best_params_ = {
            "reg": reg, "reg_bias": reg_bias, "n_factors": self.n_factors, "n_iter": self.n_iter
        }
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
