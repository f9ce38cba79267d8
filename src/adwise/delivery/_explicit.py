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

import copy
import logging
import time
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from adwise._exceptions import InputError
from adwise._params import Interval, Predicate
from adwise.base import AdwiseEstimator, check_is_fitted
from adwise.delivery._common import IdIndex, as_ids, blas_threads, check_lengths
from adwise.metrics import mae, rmse

__all__ = ["BiasedMF", "KNNBaseline", "RatingBlend", "check_ratings", "cross_validate"]

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
    u: np.ndarray,
    i: np.ndarray,
    t: np.ndarray,
    nu: int,
    ni: int,
    reg_user: float,
    reg_item: float | None = None,
    n_pass: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Ridge user and item biases of the centred ratings ``t`` by closed-form passes.

    Each pass solves :math:`b_i = \\sum_{u \\in R(i)} (t_{ui} - b_u) / (\\lambda_i + |R(i)|)`,
    then the same for :math:`b_u` (``reg_item`` defaults to ``reg_user``).  Starting ALS from
    converged biases (rather than zeros) is what lets a few sweeps suffice.
    """
    reg_item = reg_user if reg_item is None else reg_item
    cu, ci = np.bincount(u, minlength=nu), np.bincount(i, minlength=ni)
    bu = np.zeros(nu)
    for _ in range(n_pass):
        bi = np.bincount(i, t - bu[u], ni) / (ci + reg_item)
        bu = np.bincount(u, t - bi[i], nu) / (cu + reg_user)
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


def _implicit_step(
    norm: sp.csr_matrix,
    pattern: sp.csr_matrix,
    q: np.ndarray,
    u: np.ndarray,
    i: np.ndarray,
    e: np.ndarray,
    y: np.ndarray,
    reg: np.ndarray,
    n_steps: int = 3,
) -> np.ndarray:
    """A few conjugate-gradient steps on the implicit factors ``Y`` of SVD++, the rest fixed.

    With :math:`Z = D^{-1/2} N Y` (``norm``), the residuals ``e`` of the ratings (user-major
    order, the layout of ``pattern``) are fitted by :math:`z_u^\\top q_i`; ``Y`` solves the
    ridge normal equations :math:`(A^\\top A + \\Lambda) Y = A^\\top e` of that linear map
    :math:`A`, applied matrix-free (two sparse products each way), warm-started at ``y``.
    """
    g = pattern.astype(np.float64)
    q = q.astype(np.float64)

    def forward(w: np.ndarray) -> np.ndarray:
        return np.einsum("nk,nk->n", (norm @ w)[u], q[i])

    def adjoint(v: np.ndarray) -> np.ndarray:
        g.data = v
        return norm.T @ (g @ q)

    def normal(w: np.ndarray) -> np.ndarray:
        return adjoint(forward(w)) + reg[:, None] * w

    res = adjoint(e) - normal(y)
    d = res.copy()
    rr = float((res * res).sum())
    for _ in range(n_steps):
        if rr <= 1e-20:
            break
        ad = normal(d)
        step = rr / float((d * ad).sum())
        y = y + step * d
        res -= step * ad
        rr_new = float((res * res).sum())
        d = res + (rr_new / rr) * d
        rr = rr_new
    return y


def _with_ones(x: np.ndarray) -> np.ndarray:
    return np.hstack([x, np.ones((x.shape[0], 1), dtype=x.dtype)])


def _rating_codes(est: Any, users: Any, items: Any) -> tuple[np.ndarray, np.ndarray]:
    """Codes of ``users`` and ``items`` in a fitted rating model's id maps (-1: unknown); the
    maps are built once per fit and kept on the model."""
    owner = type(est).__name__
    if getattr(est, "_idx_for", None) is not est.users_:
        est._uidx, est._iidx = IdIndex(est.users_), IdIndex(est.items_)
        est._idx_for = est.users_
    u = est._uidx.codes(users, "users", owner)
    i = est._iidx.codes(items, "items", owner)
    check_lengths(owner, users=u, items=i)
    return u, i

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
    implicit : bool, default False
        SVD++ (Koren 2008): add the implicit feedback of which items each user rated,
        :math:`p_u \\to p_u + |N(u)|^{-1/2} \\sum_{j \\in N(u)} y_j`.  The ``y_j`` are fitted
        after each item sweep by a few conjugate-gradient steps on their ridge problem (penalty
        ``reg`` times the number of ratings each :math:`y_j` enters, as per-rating SGD
        regularisation adds up to).

    Attributes
    ----------
    global_mean_ : float
    user_bias_, item_bias_ : ndarray
    user_factors_, item_factors_ : ndarray of shape (n, n_factors)
        With ``implicit``, ``user_factors_`` already holds :math:`p_u + z_u`.
    implicit_factors_ : ndarray of shape (n_items, n_factors) or None
        The ``y_j`` (``implicit`` only).
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
        "implicit": [bool],
    }

    def __init__(
        self,
        n_factors: int = 10,
        reg: float = 0.15,
        reg_bias: float = 10.0,
        n_iter: int = 4,
        rating_scale: tuple[float, float] | None = None,
        random_state: int = 0,
        implicit: bool = False,
    ) -> None:
        self.n_factors = n_factors
        self.reg = reg
        self.reg_bias = reg_bias
        self.n_iter = n_iter
        self.rating_scale = rating_scale
        self.random_state = random_state
        self.implicit = implicit

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
            # SVD++: each user's factor is p_u + z_u, z_u = |N(u)|^-1/2 sum_{j in N(u)} y_j.
            norm = sp.diags(1.0 / np.sqrt(np.maximum(cnt_u, 1))) @ mask_u.astype(np.float64)
            y = np.zeros((ni, k))
            # y_j enters every rating of every user who rated j: the per-rating penalty of
            # SGD-fitted SVD++ sums to reg * sum_{u in R(j)} |R(u)|.
            reg_y = self.reg * np.maximum(mask_i @ cnt_u.astype(np.float64), 1.0)
            z = np.zeros((nu, k), dtype=np.float32)
            for _ in range(self.n_iter):
                resid_u.data[:] = t - bi[i] - np.einsum("nk,nk->n", z[u], q[i])
                w = _ridge_side(mask_u, resid_u, _with_ones(q), diag_u, layout)
                p, bu = w[:, :k], w[:, k]
                resid_i.data[:] = (t - bu[u])[by_item]
                w = _ridge_side(mask_i, resid_i, _with_ones(p + z), diag_i, layout)
                q, bi = w[:, :k], w[:, k]
                if self.implicit:
                    e = t - bu[u] - bi[i] - np.einsum("nk,nk->n", p[u], q[i])
                    y = _implicit_step(norm, mask_u, q, u, i, e, y, reg_y)
                    z = (norm @ y).astype(np.float32)
        self.global_mean_ = mu
        self.user_bias_, self.item_bias_ = bu.astype(np.float64), bi.astype(np.float64)
        # A known user's implicit term is fixed by the training data, so it folds into p_u.
        self.user_factors_ = (p + z).astype(np.float64)
        self.implicit_factors_ = y if self.implicit else None
        self.item_factors_ = q.astype(np.float64)
        self.users_, self.items_ = uidx.values, iidx.values
        scale = self.rating_scale
        lo, hi = (float(r.min()), float(r.max())) if scale is None else scale
        self.rating_scale_ = (float(lo), float(hi))
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _codes(self, users: Any, items: Any) -> tuple[np.ndarray, np.ndarray]:
        return _rating_codes(self, users, items)

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


def _encode_triples(
    owner: str, users: Any, items: Any, ratings: Any, scale: tuple[float, float] | None
) -> tuple[IdIndex, IdIndex, np.ndarray, np.ndarray, np.ndarray]:
    """Id indexes and ``(user, item, rating)`` codes, one triple per pair (the last given)."""
    uidx, u = IdIndex.encode(users, "users", owner)
    iidx, i = IdIndex.encode(items, "items", owner)
    r = check_ratings(owner, ratings, scale)
    check_lengths(owner, users=u, items=i, ratings=r)
    u, i, r = _last_rating_per_pair(u, i, r, len(iidx))
    return uidx, iidx, u, i, r


def _values_on(a: sp.csr_matrix, pattern: sp.csr_matrix) -> np.ndarray:
    """Values of ``a`` at the stored positions of ``pattern``, in its storage order (0 where
    ``a`` has none).

    Sparse products of matrices with the same sparsity patterns come out in the same layout,
    unless an entry summed to exactly 0 and was dropped; only then are the entries matched
    by their (row, column) keys.
    """
    if np.array_equal(a.indptr, pattern.indptr) and np.array_equal(a.indices, pattern.indices):
        return a.data.astype(np.float64, copy=False)
    n = pattern.shape[1]

    def keys(m: sp.csr_matrix) -> np.ndarray:
        rows = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))
        return rows * n + m.indices

    ka, kp = keys(a), keys(pattern)
    order = np.argsort(ka)
    ka = ka[order]
    out = np.zeros(len(kp), dtype=np.float64)
    if len(ka):
        pos = np.minimum(np.searchsorted(ka, kp), len(ka) - 1)
        hit = ka[pos] == kp
        out[hit] = a.data[order[pos[hit]]]
    return out


def _shrunk_pearson_baseline(resid: sp.csr_matrix, shrinkage: float) -> sp.csr_matrix:
    """Positive part of the shrunk Pearson-baseline similarity between the columns of ``resid``.

    ``resid`` holds baseline residuals :math:`e_{ya} = r_{ya} - b_{ya}` (rows: the side whose
    ratings are shared, columns: the side compared).  Over the rows :math:`Y_{ab}` that rated
    both ``a`` and ``b`` (Koren 2008, eq. 2; the diagonal is dropped):

    .. math::

        s_{ab} = \\frac{n_{ab} - 1}{n_{ab} - 1 + \\lambda_s}
                 \\frac{\\sum_{y} e_{ya} e_{yb}}{\\sqrt{\\sum_{y} e_{ya}^2 \\sum_{y} e_{yb}^2}},
        \\quad n_{ab} = |Y_{ab}|.

    The four sums over co-raters are four sparse products.  Non-positive similarities never
    enter a prediction (see :class:`KNNBaseline`), so they are not stored.
    """
    mask = resid.copy()
    mask.data = np.ones_like(mask.data)
    sq = resid.multiply(resid).tocsr()
    # Transposes as CSR once, so that every product below is CSR @ CSR with one layout.
    resid_t, mask_t, sq_t = resid.T.tocsr(), mask.T.tocsr(), sq.T.tocsr()
    freq = mask_t @ mask
    n_ab = freq.data.astype(np.float64)
    num = _values_on(resid_t @ resid, freq)
    sq_a = _values_on(sq_t @ mask, freq)  # sum of e_ya^2 over the co-raters of a and b
    sq_b = _values_on(mask_t @ sq, freq)
    den = np.sqrt(sq_a * sq_b)
    rho = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    sim = (n_ab - 1) / (n_ab - 1 + shrinkage) * rho
    rows = np.repeat(np.arange(freq.shape[0]), np.diff(freq.indptr))
    sim[rows == freq.indices] = 0  # an item is not its own neighbour
    out = sp.csr_matrix((sim.astype(np.float32), freq.indices, freq.indptr), shape=freq.shape)
    out.data[out.data <= 0] = 0
    out.eliminate_zeros()
    out.sort_indices()
    return out


# Query-neighbour pairs handled at once by KNNBaseline.predict (bounds its memory).
_PAIRS_PER_CHUNK = 4_000_000


class KNNBaseline(AdwiseEstimator):
    """Neighbourhood model on baseline residuals (kNN-baseline, Koren 2008).

    With baselines :math:`b_{ui} = \\mu + b_u + b_i` (ridge biases by alternating closed-form
    passes, regularisation :math:`\\lambda_u, \\lambda_i`) and the shrunk Pearson-baseline
    similarity :math:`s_{ij}` of the residuals (see ``similarity_``), item-based:

    .. math::

        \\hat r_{ui} = b_{ui} + \\frac{\\sum_{j \\in N^k(i; u)} s_{ij} (r_{uj} - b_{uj})}
                                      {\\sum_{j \\in N^k(i; u)} s_{ij}},

    where :math:`N^k(i; u)` are the (at most ``k``) items rated by ``u`` most similar to ``i``
    with :math:`s_{ij} > 0`; with fewer than ``min_k`` of them the prediction is the baseline.
    ``user_based=True`` swaps the roles (similar users who rated ``i``).

    Parameters
    ----------
    k : int, default 40
        Neighbours per prediction.
    min_k : int, default 1
        Fewest positive-similarity neighbours for the neighbourhood term to count.
    shrinkage : float, default 100.0
        :math:`\\lambda_s`: similarities of pairs with few co-raters are pulled to 0.
    user_based : bool, default False
        Similarities between users instead of items.
    reg_user, reg_item : float, default 15.0, 10.0
        Baseline regularisation (prior counts pulling :math:`b_u`, :math:`b_i` to 0).
    n_baseline_iter : int, default 10
        Alternating passes for the baselines.
    rating_scale : (float, float) or None, default None
        Declared scale; ratings outside are refused and predictions clipped to it (``None``:
        the training data's min and max).
    base : rating estimator or None, default None
        When given (e.g. a :class:`BiasedMF`), a clone fitted on the same triples replaces
        :math:`b_{ui}`: the neighbourhood then models what the factor model missed (the
        "kNN on residuals" of the Netflix-prize blends; Bell & Koren 2007).

    Attributes
    ----------
    global_mean_ : float
    user_bias_, item_bias_ : ndarray
        The bias baseline (the similarities use it unless ``base`` is given).
    base_ : fitted ``base`` or None
    similarity_ : scipy.sparse.csr_matrix
        Positive shrunk similarities (items x items, or users x users when user-based).
    residuals_ : scipy.sparse.csr_matrix
        Training baseline residuals, by user (item-based) or by item (user-based).
    users_, items_ : ndarray of str
    rating_scale_ : (float, float)

    Notes
    -----
    Unknown users or items get the baseline alone (:math:`\\mu + b_i`, :math:`\\mu + b_u` or
    :math:`\\mu`).  Predictions are vectorised: every (query, rated neighbour) pair is looked up
    in the sorted similarity keys, and the ``k`` best per query are kept after one lexsort.

    References
    ----------
    Koren (2008), "Factorization meets the neighborhood: a multifaceted collaborative filtering
    model", KDD (sections 2.1-2.2).
    Koren (2010), "Factor in the neighbors: scalable and accurate collaborative filtering",
    ACM TKDD 4(1).
    Bell & Koren (2007), "Scalable collaborative filtering with jointly derived neighborhood
    interpolation weights", ICDM.

    Examples
    --------
    >>> m = KNNBaseline(k=5).fit(["a", "a", "b", "b", "c"], ["x", "y", "x", "y", "x"],
    ...                          [5, 1, 4, 2, 5])
    >>> bool(m.predict(["c"], ["y"])[0] < m.predict(["c"], ["x"])[0])
    True
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "k": [Interval(int, 1, None)],
        "min_k": [Interval(int, 1, None)],
        "shrinkage": [Interval(float, 0, None, closed="left")],
        "user_based": [bool],
        "reg_user": [Interval(float, 0, None, closed="left")],
        "reg_item": [Interval(float, 0, None, closed="left")],
        "n_baseline_iter": [Interval(int, 1, 1000)],
        "rating_scale": [None, Predicate(_is_scale, "a (low, high) pair with low < high")],
        "base": [None, Predicate(lambda v: hasattr(v, "fit") and hasattr(v, "predict"),
                                 "a rating estimator (with fit and predict)")],
    }

    def __init__(
        self,
        k: int = 40,
        min_k: int = 1,
        shrinkage: float = 100.0,
        user_based: bool = False,
        reg_user: float = 15.0,
        reg_item: float = 10.0,
        n_baseline_iter: int = 10,
        rating_scale: tuple[float, float] | None = None,
        base: Any = None,
    ) -> None:
        self.k = k
        self.min_k = min_k
        self.shrinkage = shrinkage
        self.user_based = user_based
        self.reg_user = reg_user
        self.reg_item = reg_item
        self.n_baseline_iter = n_baseline_iter
        self.rating_scale = rating_scale
        self.base = base

    def fit(self, users: Any, items: Any, ratings: Any) -> KNNBaseline:
        """Fit on ``(user, item, rating)`` triples; a pair rated twice keeps its last rating."""
        self._validate_params()
        t0 = time.perf_counter()
        uidx, iidx, u, i, r = _encode_triples(
            type(self).__name__, users, items, ratings, self.rating_scale
        )
        nu, ni = len(uidx), len(iidx)
        mu = float(r.mean())
        bu, bi = _baselines(u, i, r - mu, nu, ni, self.reg_user, self.reg_item,
                            self.n_baseline_iter)
        if self.base is None:
            self.base_ = None
            e = r - mu - bu[u] - bi[i]
        else:
            from sklearn.base import clone

            self.base_ = clone(self.base).fit(uidx.values[u], iidx.values[i], r)
            e = r - self.base_.predict(uidx.values[u], iidx.values[i], clip=False)
        # Rows: the side whose ratings are shared; columns: the side compared.
        rows, cols, shape = (i, u, (ni, nu)) if self.user_based else (u, i, (nu, ni))
        # Built from COO, so exact-zero residuals stay stored: they are ratings all the same.
        resid = sp.csr_matrix((e, (rows, cols)), shape=shape)
        resid.sort_indices()
        self.similarity_ = _shrunk_pearson_baseline(resid, self.shrinkage)
        self.residuals_ = resid
        self.global_mean_ = mu
        self.user_bias_, self.item_bias_ = bu, bi
        self.users_, self.items_ = uidx.values, iidx.values
        lo, hi = (float(r.min()), float(r.max())) if self.rating_scale is None else \
            self.rating_scale
        self.rating_scale_ = (float(lo), float(hi))
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _codes(self, users: Any, items: Any) -> tuple[np.ndarray, np.ndarray]:
        return _rating_codes(self, users, items)

    def predict(self, users: Any, items: Any, clip: bool = True) -> np.ndarray:
        """Predicted ratings; unknown ids get the baseline (see Notes)."""
        check_is_fitted(self, "similarity_")
        u, i = self._codes(users, items)
        ku, ki = u >= 0, i >= 0
        if self.base_ is not None:
            pred = self.base_.predict(users, items, clip=False)
        else:
            pred = np.full(len(u), self.global_mean_)
            pred[ku] += self.user_bias_[u[ku]]
            pred[ki] += self.item_bias_[i[ki]]
        both = np.flatnonzero(ku & ki)
        # The query's own side (a, compared by similarity) and the side whose ratings count.
        a, y = (u[both], i[both]) if self.user_based else (i[both], u[both])
        pred[both] += self._neighbourhood(a, y)
        if clip:
            lo, hi = self.rating_scale_
            np.clip(pred, lo, hi, out=pred)
        return pred

    def _neighbourhood(self, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Similarity-weighted mean residual of the ``k`` nearest rated neighbours of each query."""
        sim, res = self.similarity_, self.residuals_
        n = sim.shape[1]
        sim_keys = np.repeat(np.arange(sim.shape[0], dtype=np.int64), np.diff(sim.indptr))
        sim_keys = sim_keys * n + sim.indices
        out = np.zeros(len(a))
        sizes = np.diff(res.indptr)[y]
        ends = np.cumsum(sizes)
        start = 0
        while start < len(a):
            stop = max(start + 1, int(np.searchsorted(ends, ends[start] - sizes[start]
                                                      + _PAIRS_PER_CHUNK, side="right")))
            q = np.arange(start, stop)
            cnt = sizes[q]
            qid = np.repeat(q - start, cnt)
            # Positions of every rated neighbour of each query in the residual CSR.
            first = np.repeat(res.indptr[y[q]] - np.cumsum(cnt) + cnt, cnt)
            pos = first + np.arange(len(qid))
            nb = res.indices[pos]
            key = a[q][qid].astype(np.int64) * n + nb
            at = np.minimum(np.searchsorted(sim_keys, key), max(len(sim_keys) - 1, 0))
            hit = sim_keys[at] == key if len(sim_keys) else np.zeros(len(key), bool)
            qid, s, e = qid[hit], sim.data[at[hit]].astype(np.float64), res.data[pos[hit]]
            order = np.lexsort((-s, qid))
            qid, s, e = qid[order], s[order], e[order]
            group_start = np.searchsorted(qid, qid)
            keep = np.arange(len(qid)) - group_start < self.k
            qid, s, e = qid[keep], s[keep], e[keep]
            m = stop - start
            count = np.bincount(qid, minlength=m)
            den = np.bincount(qid, s, minlength=m)
            num = np.bincount(qid, s * e, minlength=m)
            ok = (count >= self.min_k) & (den > 0)
            out[q[ok]] = num[ok] / den[ok]
            start = stop
        return out

    def score(self, users: Any, items: Any, ratings: Any) -> float:
        """Negative RMSE (higher is better)."""
        return -rmse(check_ratings(type(self).__name__, ratings, None), self.predict(users, items))


# Grid searched by RatingBlend on the inner validation split (factor reg x bias reg).
_REG_GRID = (0.04, 0.06, 0.08, 0.11, 0.15, 0.2)
_BIAS_GRID = (2.0, 5.0, 10.0, 20.0)

def _validation_mask(
    users: np.ndarray, order: np.ndarray | None, size: float, seed: int
) -> np.ndarray:
    """Inner validation rows: each user's latest ``size`` share by ``order`` when given (the
    part of a history a model is asked about next), else a seeded random ``size`` share."""
    n = len(users)
    if order is None:
        return np.random.default_rng(seed).random(n) < size
    codes = pd.factorize(users)[0]
    rank = pd.Series(np.asarray(order)).rank(method="first").to_numpy()
    srt = np.lexsort((rank, codes))
    cnt = np.bincount(codes)
    start = np.concatenate([[0], np.cumsum(cnt)[:-1]])
    pos = np.arange(n) - start[codes[srt]]
    val = np.zeros(n, dtype=bool)
    val[srt] = pos >= cnt[codes[srt]] - np.floor(size * cnt[codes[srt]])
    return val


class RatingBlend(AdwiseEstimator):
    """Ridge blend of biased MF and kNN-baseline models, fitted on an inner validation split.

    The classic Netflix-prize recipe (Töscher, Jahrer & Bell 2009; Koren 2009):

    1. Carve an inner validation split from the training triples: each user's latest
       ``validation_size`` share when ``order`` (e.g. timestamps) is given to ``fit``, else a
       seeded random share.  Test rows are never seen.
    2. On the rest, tune :class:`BiasedMF`'s ``reg`` then ``reg_bias`` by validation RMSE
       (coordinate search over a fixed grid; ``tune``), and fit the members (``members_``):
       biased MF at that ``reg`` and at half of it, each with ``n_factors`` and
       ``4 * n_factors``; two SVD++-style MFs (implicit feedback); and (``neighbours``)
       item- and user-based :class:`KNNBaseline` on the bias baseline (read with k = 40 and
       with k = 80, min_k = 5) and on the residuals of the wide, lightly regularised MF.
    3. Fit the blend on the validation predictions :math:`p_{m}(u, i)` of the members only:

       .. math::

           \\hat r_{ui} = w_0 + \\sum_m w_m p_m + \\sum_{s \\in \\{n_u, n_i\\}}
             \\Big(v_s \\log(1 + s) + \\sum_m w_{ms}\\, p_m \\log(1 + s)\\Big),

       where :math:`n_u, n_i` count the user's and the item's training ratings (the
       "support" meta-features of the prize blends, ``support``: a model's reliability
       grows with them), by ridge regression on standardised columns with penalty
       ``alpha`` (the intercept is not penalised).
    4. Refit every member on all the training triples with the chosen settings; the blend
       weights stay as fitted in 3.

    Parameters
    ----------
    n_factors : int, default 10
    n_iter : int, default 4
        ALS sweeps of the MF members.
    validation_size : float, default 0.1
    rating_scale : (float, float) or None
    tune : bool, default True
        ``False`` skips the MF search and uses ``reg``/``reg_bias`` as given.
    reg, reg_bias : float
        Used when ``tune`` is False (and as the search's start).
    blend : bool, default True
        Blend the members (else the tuned MF alone).
    neighbours : bool, default True
        Include the kNN-baseline members.
    support : bool, default True
        Add the support meta-features to the blend.
    alpha : float, default 1.0
        Ridge penalty of the blend.
    random_state : int, default 42

    Attributes
    ----------
    best_params_ : dict
        Chosen MF settings, and ``k`` of each kNN member.
    validation_rmse_ : dict
        Validation RMSE of each tried MF setting, of each member and of the blend.
    members_ : list of str
        Member names, in the order of ``models_``.
    models_ : list of BiasedMF or KNNBaseline
        Members refitted on all the training triples.
    feature_names_ : list of str
        Blend columns (after the intercept).
    weights_ : ndarray
        Blend weights: intercept first, then one per standardised column.
    feature_mean_, feature_scale_ : ndarray
        Standardisation of the columns (from the validation split).

    References
    ----------
    Töscher, Jahrer & Bell (2009), "The BigChaos solution to the Netflix grand prize".
    Koren (2009), "The BellKor solution to the Netflix grand prize".
    Koren (2008), "Factorization meets the neighborhood", KDD.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> u, i = rng.integers(0, 40, 600), rng.integers(0, 30, 600)
    >>> m = RatingBlend(n_factors=2).fit(u, i, np.clip(np.round(3 + (u % 3) - (i % 2)), 1, 5))
    >>> m.members_[:3], len(m.weights_) == 1 + len(m.feature_names_)
    (['mf', 'mf_wide', 'mf_soft'], True)
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
        "neighbours": [bool],
        "support": [bool],
        "alpha": [Interval(float, 0, None, closed="left")],
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
        neighbours: bool = True,
        support: bool = True,
        alpha: float = 1.0,
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
        self.neighbours = neighbours
        self.support = support
        self.alpha = alpha
        self.random_state = random_state

    def _mf(self, **kw: Any) -> BiasedMF:
        base = dict(
            n_factors=self.n_factors, n_iter=self.n_iter, reg=self.reg, reg_bias=self.reg_bias,
            rating_scale=self.rating_scale, random_state=self.random_state,
        )
        base.update(kw)
        return BiasedMF(**base)

    def fit(self, users: Any, items: Any, ratings: Any, order: Any = None) -> RatingBlend:
        """Tune and blend on an inner split of the given triples, then refit on all of them.

        ``order`` (optional, e.g. timestamps, one per row) makes the inner validation split
        each user's latest share instead of a random one.
        """
        self._validate_params()
        owner = type(self).__name__
        u, it = as_ids(users, "users", owner), as_ids(items, "items", owner)
        r = check_ratings(owner, ratings, self.rating_scale)
        check_lengths(owner, users=u, items=it, ratings=r)
        if order is not None:
            check_lengths(owner, users=u, order=np.asarray(order).ravel())
        t0 = time.perf_counter()
        val = _validation_mask(u, None if order is None else np.asarray(order).ravel(),
                               self.validation_size, self.random_state)
        tr = ~val
        scores: dict[str, float] = {}
        reg, reg_bias = self.reg, self.reg_bias
        inner = val.sum() >= 10 and tr.sum() >= 10
        if self.tune and inner:

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
        self.best_params_ = {
            "reg": reg, "reg_bias": reg_bias, "n_factors": self.n_factors, "n_iter": self.n_iter
        }
        specs = self._specs(reg, reg_bias)
        if not (self.blend and inner):
            specs = specs[:1]
        self.members_ = [name for _, variants in specs for name in variants]
        weights = np.array([0.0, 1.0])
        mean, scale = np.zeros(1), np.ones(1)
        names = list(self.members_)
        if len(self.members_) > 1:
            preds = []
            for model in self._fit_members(specs, u[tr], it[tr], r[tr]):
                p = model.predict(u[val], it[val], clip=False)
                scores[self.members_[len(preds)]] = rmse(r[val], np.clip(p, *model.rating_scale_))
                preds.append(p)
            counts = (pd.Series(u[tr]).value_counts(), pd.Series(it[tr]).value_counts())
            feats, names = self._features(np.column_stack(preds), u[val], it[val], counts)
            mean, scale = feats.mean(0), feats.std(0)
            scale[scale == 0] = 1.0
            X = np.column_stack([np.ones(len(feats)), (feats - mean) / scale])
            pen = np.full(X.shape[1], self.alpha)
            pen[0] = 0.0  # the intercept is not shrunk
            weights = np.linalg.solve(X.T @ X + np.diag(pen), X.T @ r[val])
            lo, hi = model.rating_scale_  # every member has the same scale
            scores["blend"] = rmse(r[val], np.clip(X @ weights, lo, hi))
            log.info("blend: validation RMSE %s", {k: round(v, 4) for k, v in scores.items()})
        self.models_ = self._fit_members(specs, u, it, r)
        self.feature_names_ = names
        self.feature_mean_, self.feature_scale_ = mean, scale
        self.weights_ = weights
        self.support_counts_ = (pd.Series(u).value_counts(), pd.Series(it).value_counts())
        self.validation_rmse_ = scores
        self.rating_scale_ = self.models_[0].rating_scale_
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _specs(self, reg: float, reg_bias: float) -> list[tuple[Any, dict[str, dict]]]:
        """Members as (unfitted model, {blend column: predict-time params}).

        MF at the tuned regularisation and at half of it, each at ``n_factors`` and 4x that
        (a blend gains from members that err differently, not only from the single best);
        two SVD++ variants (``BiasedMF(implicit=True)``: who rated what, not only how);
        kNN-baseline item- and user-based, each read with two neighbourhood sizes from one
        fit; and both again on the residuals of the wide, lightly regularised MF.
        """
        wide = min(4 * self.n_factors, 512)
        soft = self._mf(reg=reg / 2, reg_bias=reg_bias, n_factors=wide)
        out: list[tuple[Any, dict[str, dict]]] = [
            (self._mf(reg=reg, reg_bias=reg_bias), {"mf": {}}),
            (self._mf(reg=reg, reg_bias=reg_bias, n_factors=wide), {"mf_wide": {}}),
            (self._mf(reg=reg / 2, reg_bias=reg_bias), {"mf_soft": {}}),
            (soft, {"mf_wide_soft": {}}),
            (self._mf(reg=reg, reg_bias=reg_bias, implicit=True, n_iter=2 * self.n_iter),
             {"svdpp": {}}),
            (self._mf(reg=reg / 2, reg_bias=reg_bias, n_factors=wide, implicit=True),
             {"svdpp_wide_soft": {}}),
        ]
        if self.neighbours:
            reads = {"k40": {"k": 40, "min_k": 1}, "k80": {"k": 80, "min_k": 5}}
            for side in ("item", "user"):
                knn = KNNBaseline(rating_scale=self.rating_scale, user_based=side == "user")
                out.append((knn, {f"knn_{side}_{k}": v for k, v in reads.items()}))
            for side in ("item", "user"):
                knn = KNNBaseline(rating_scale=self.rating_scale, user_based=side == "user",
                                  k=80, min_k=5, base=soft)
                out.append((knn, {f"knn_{side}_on_mf": {}}))
        return out

    @staticmethod
    def _fit_members(
        specs: list[tuple[Any, dict[str, dict]]], u: np.ndarray, it: np.ndarray, r: np.ndarray
    ) -> list[Any]:
        """One fitted model per blend column; the reads of one kNN fit share its state."""
        from sklearn.base import clone

        out = []
        for model, variants in specs:
            fitted = clone(model).fit(u, it, r)
            for params in variants.values():
                out.append(copy.copy(fitted).set_params(**params) if params else fitted)
        return out

    def _features(
        self, preds: np.ndarray, u: np.ndarray, it: np.ndarray,
        counts: tuple[pd.Series, pd.Series],
    ) -> tuple[np.ndarray, list[str]]:
        """Blend columns: member predictions, then (``support``) the log support counts of
        the rows' user and item (``counts``: ratings per id in the members' fitting data) and
        their products with the predictions."""
        names = list(self.members_)
        if not self.support or preds.shape[1] < 2:
            return preds, names
        cols = [preds]
        for side, ids, cnt in (("user", u, counts[0]), ("item", it, counts[1])):
            s = np.log1p(pd.Series(ids).map(cnt).fillna(0).to_numpy(dtype=np.float64))
            cols += [s[:, None], preds * s[:, None]]
            names += [f"log1p_n_{side}"] + [f"{m}*log1p_n_{side}" for m in self.members_]
        return np.column_stack(cols), names

    def predict(self, users: Any, items: Any) -> np.ndarray:
        """Blended, clipped predictions; unknown ids fall back as in the members."""
        check_is_fitted(self, "models_")
        owner = type(self).__name__
        u, it = as_ids(users, "users", owner), as_ids(items, "items", owner)
        check_lengths(owner, users=u, items=it)
        preds = np.column_stack([m.predict(u, it, clip=False) for m in self.models_])
        if len(self.models_) > 1:
            preds, _ = self._features(preds, u, it, self.support_counts_)
            preds = (preds - self.feature_mean_) / self.feature_scale_
        X = np.column_stack([np.ones(len(u)), preds])
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
