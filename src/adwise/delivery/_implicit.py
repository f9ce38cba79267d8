"""Implicit-feedback recommenders (impressions, clicks, conversions) with cold-start fallbacks.

Every model here shares one contract (:class:`ImplicitRecommender`):

* ``fit(users, items, weights=None, item_features=None, user_groups=None)`` on interaction rows;
  the catalogue is every item seen in the rows plus every item of ``item_features`` (so an ad
  with text and a category but no events yet is part of it);
* ``score(users)`` -> one row of scores over the catalogue per user;
* ``recommend(users, k, exclude_seen=True, candidates=None)`` -> ranked item ids per user.

Users unknown at fit time get the **fallback**: the popularity of items within their group
(``user_groups``, e.g. a segment or region, when the caller knows it) or, failing that, the
global popularity.  Items that had no interaction at fit time are scored by content only
(:class:`ContentRecommender` and :class:`HybridRecommender`); the collaborative models give
them their lowest score.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from adwise._exceptions import InputError
from adwise._params import Interval, Predicate
from adwise.base import AdwiseEstimator, check_is_fitted
from adwise.delivery._common import IdIndex, as_ids, blas_threads, check_lengths, top_k

__all__ = [
    "EASE",
    "BPRRecommender",
    "ContentRecommender",
    "HybridRecommender",
    "ImplicitALSRecommender",
    "ImplicitRecommender",
    "ItemKNNRecommender",
    "PopularityRecommender",
    "make_recommender",
]

log = logging.getLogger(__name__)

_CHUNK = 2048


class ImplicitRecommender(AdwiseEstimator):
    """Base class: id handling, seen-item exclusion, fallbacks, top-k. Subclasses implement
    ``_fit(X)`` on the CSR users x items matrix and ``_score_rows(user_codes)``."""

    def fit(
        self,
        users: Any,
        items: Any,
        weights: Any = None,
        item_features: pd.DataFrame | None = None,
        user_groups: Mapping[Any, Any] | None = None,
    ) -> ImplicitRecommender:
        """Fit on interaction rows.

        Parameters
        ----------
        users, items : array-like of ids
        weights : array-like of float >= 0, optional
            Interaction strengths (e.g. 1 per click, more for a conversion); repeated
            ``(user, item)`` pairs are summed.  Default 1 per row.
        item_features : DataFrame, optional
            Indexed by item id, columns ``text`` and/or ``category``; its items join the
            catalogue (cold items).  Used by content scoring.
        user_groups : mapping user id -> group, optional
            Groups for the popularity fallback of users unknown later.
        """
        self._validate_params()
        t0 = time.perf_counter()
        X = self._index(users, items, weights, item_features, user_groups)
        self._fit(X, item_features)
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _index(self, users: Any, items: Any, weights: Any,
               item_features: pd.DataFrame | None,
               user_groups: Mapping[Any, Any] | None) -> sp.csr_matrix:
        """Everything :meth:`fit` learns but the model: ids, interactions, popularity and
        fallbacks; returns the interaction matrix the model is fitted on."""
        owner = type(self).__name__
        uidx, u = IdIndex.encode(users, "users", owner)
        items_arr = items.to_numpy() if hasattr(items, "to_numpy") else np.asarray(items)
        if item_features is not None:
            extra = np.asarray(item_features.index.to_numpy(), dtype=object)
            iidx, codes = IdIndex.encode(
                np.concatenate([np.asarray(items_arr, dtype=object), extra]), "items", owner
            )
            i = codes[: len(items_arr)]
        else:
            iidx, i = IdIndex.encode(items_arr, "items", owner)
        w = None
        if weights is not None:
            w = np.asarray(weights, dtype=np.float64).ravel()
            if not np.isfinite(w).all() or (w < 0).any():
                bad = int(np.flatnonzero(~np.isfinite(w) | (w < 0))[0])
                raise InputError(
                    f"{owner}: weights must be finite and >= 0; row {bad} has {w[bad]!r}. "
                    "Fix: clean the weight column."
                )
        check_lengths(owner, users=u, items=i, weights=w)
        X = sp.csr_matrix(
            (np.ones(len(u)) if w is None else w, (u, i)), shape=(len(uidx), len(iidx))
        )
        X.sum_duplicates()
        X.eliminate_zeros()
        self.users_, self.items_ = uidx.values, iidx.values
        self._uidx, self._iidx = uidx, iidx
        self.interactions_ = X
        counts = np.asarray((X > 0).sum(axis=0)).ravel().astype(np.float64)
        self.item_popularity_ = counts
        self.warm_items_ = counts > 0
        self._fit_groups(user_groups, X)
        return X

    # ------------------------------------------------------------------ fallbacks
    def _fit_groups(self, user_groups: Mapping[Any, Any] | None, X: sp.csr_matrix) -> None:
        self.group_popularity_: dict[str, np.ndarray] = {}
        if not user_groups:
            return
        g = pd.Series({str(k): str(v) for k, v in user_groups.items()})
        per_user = g.reindex(self.users_).to_numpy(dtype=object)
        B = (X > 0).astype(np.float64)
        for grp in pd.unique(per_user[pd.notna(per_user)]):
            rows = np.flatnonzero(per_user == grp)
            self.group_popularity_[str(grp)] = np.asarray(B[rows].sum(axis=0)).ravel()

    def _fallback_rows(self, groups: Sequence[Any] | None, n: int) -> np.ndarray:
        base = np.log1p(self.item_popularity_)
        out = np.tile(base, (n, 1))
        if groups is not None:
            for r, grp in enumerate(groups):
                gp = self.group_popularity_.get(str(grp)) if grp is not None else None
                if gp is not None:
                    # group popularity first, global popularity breaks ties
                    out[r] = np.log1p(gp) + 1e-3 * base
        return out

    # ------------------------------------------------------------------ scoring
    def _fit(self, X: sp.csr_matrix, item_features: pd.DataFrame | None) -> None:
        raise NotImplementedError

    def _score_rows(self, uc: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def user_codes(self, users: Any) -> np.ndarray:
        """Codes of user ids (-1 for users unknown at fit time)."""
        check_is_fitted(self, "interactions_")
        if getattr(self, "_uidx", None) is None:
            self._uidx, self._iidx = IdIndex(self.users_), IdIndex(self.items_)
        return self._uidx.codes(users, "users", type(self).__name__)

    def item_codes(self, items: Any) -> np.ndarray:
        check_is_fitted(self, "interactions_")
        if getattr(self, "_iidx", None) is None:
            self._uidx, self._iidx = IdIndex(self.users_), IdIndex(self.items_)
        return self._iidx.codes(items, "items", type(self).__name__)

    def _scores_codes(self, uc: np.ndarray, groups: Sequence[Any] | None = None) -> np.ndarray:
        out = np.empty((len(uc), len(self.items_)))
        known = uc >= 0
        if known.any():
            out[known] = self._score_rows(uc[known])
        if (~known).any():
            g = None if groups is None else [groups[j] for j in np.flatnonzero(~known)]
            out[~known] = self._fallback_rows(g, int((~known).sum()))
        return out

    def score(self, users: Any, groups: Sequence[Any] | None = None) -> np.ndarray:
        """Scores over the catalogue (:attr:`items_` order), one row per user (higher is
        better; unknown users get the popularity fallback)."""
        check_is_fitted(self, "interactions_")
        return self._scores_codes(self.user_codes(users), groups)

    def recommend(
        self,
        users: Any,
        k: int = 10,
        exclude_seen: bool = True,
        candidates: Any = None,
        groups: Sequence[Any] | None = None,
    ) -> list[np.ndarray]:
        """Top-``k`` item ids per user, best first.

        Parameters
        ----------
        users : array-like of ids
        k : int, default 10
        exclude_seen : bool, default True
            Leave out items the user interacted with at fit time.
        candidates : array-like of item ids, optional
            Rank only these (ids unknown to the catalogue are ignored).
        groups : sequence, optional
            One group per user, for the fallback of unknown users.
        """
        check_is_fitted(self, "interactions_")
        if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 1:
            raise InputError(f"{type(self).__name__}.recommend: k must be an int >= 1; got {k!r}.")
        uc = self.user_codes(users)
        allowed = None
        if candidates is not None:
            cc = self.item_codes(candidates)
            allowed = np.zeros(len(self.items_), dtype=bool)
            allowed[cc[cc >= 0]] = True
        out: list[np.ndarray] = []
        ids = self.items_
        for lo in range(0, len(uc), _CHUNK):
            part = uc[lo : lo + _CHUNK]
            g = None if groups is None else list(groups[lo : lo + _CHUNK])
            S = self._scores_codes(part, g)
            if exclude_seen:
                rows = np.flatnonzero(part >= 0)
                sub = self.interactions_[part[rows]]
                r_idx = np.repeat(rows, np.diff(sub.indptr))
                S[r_idx, sub.indices] = -np.inf
            if allowed is not None:
                S[:, ~allowed] = -np.inf
            top = top_k(S, k)
            vals = np.take_along_axis(S, top, axis=1)
            for t, v in zip(top, vals, strict=True):
                out.append(ids[t[np.isfinite(v)]])
        return out


# ---------------------------------------------------------------------- models
class PopularityRecommender(ImplicitRecommender):
    """Most-interacted items first (the fallback every other model uses for new users)."""

    def _fit(self, X, item_features) -> None:
        self.scores_ = np.log1p(self.item_popularity_)

    def _score_rows(self, uc: np.ndarray) -> np.ndarray:
        return np.tile(self.scores_, (len(uc), 1))


class _HistoryRecommender(ImplicitRecommender):
    """A model that scores a user from her interaction history alone (item-to-item models
    and content), so a history can be re-weighted at scoring time (e.g. by recency)."""

    def _history_values(self, strengths: np.ndarray) -> np.ndarray:
        """What an interaction of the given strength counts for in a history."""
        return np.ones_like(strengths)

    def _score_history(self, H: sp.csr_matrix) -> np.ndarray:
        """Scores over the catalogue of history rows ``H`` (columns in this model's order)."""
        raise NotImplementedError

    def _score_rows(self, uc: np.ndarray) -> np.ndarray:
        H = self.interactions_[uc]
        H.data = self._history_values(H.data)
        return self._score_history(H)


class EASE(_HistoryRecommender):
    """Embarrassingly Shallow Autoencoder (Steck 2019), closed form.

    .. math::

        P = (X^\\top X + \\lambda I)^{-1},\\qquad B = I - P\\,\\mathrm{diag}(1/\\mathrm{diag}(P)),
        \\qquad \\hat S = X B

    with binarised ``X``; ``B`` has a zero diagonal.  Memory is ``n_items^2``.  It is
    computed over the items with interactions only: a cold item's row and column of
    :math:`X^\\top X` are zero, so its weights are zero anyway and leaving it out of the
    (cubic) inverse changes nothing but the time.

    Parameters
    ----------
    reg : float, default 250.0
        :math:`\\lambda`.
    max_items : int, default 20000
        Refuse catalogues larger than this (the item x item matrix would not fit).
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "reg": [Interval(float, 0, None, closed="neither")],
        "max_items": [Interval(int, 1, None)],
    }

    def __init__(self, reg: float = 250.0, max_items: int = 20000) -> None:
        self.reg = reg
        self.max_items = max_items

    def _fit(self, X, item_features) -> None:
        warm = np.flatnonzero(self.warm_items_)
        n = len(warm)
        if n > self.max_items:
            raise InputError(
                f"EASE: {n} items exceed max_items={self.max_items} (an n_items^2 matrix); use "
                "item_knn or als, or raise max_items."
            )
        from scipy.linalg import lapack

        Xb = (X[:, warm] > 0).astype(np.float32)
        G = (Xb.T @ Xb).toarray()
        G[np.diag_indices(n)] += np.float32(self.reg)
        # SPD inverse by Cholesky (potrf + potri): about half the work of an LU inverse
        with blas_threads(1):
            c, info = lapack.spotrf(G, lower=1, overwrite_a=1)
            if info == 0:
                P, info = lapack.spotri(c, lower=1, overwrite_c=1)
        if info != 0:  # pragma: no cover - G is SPD for reg > 0
            raise InputError(f"EASE: the Gram matrix could not be inverted (LAPACK info {info}).")
        B = _symmetrise_lower(P)
        B /= -np.diag(B).copy()  # in place: B is n_items^2
        B[np.diag_indices(n)] = 0.0
        self.item_weights_ = B
        self._warm_codes = warm

    def _score_history(self, H: sp.csr_matrix) -> np.ndarray:
        # float32 history: a float64 one would make SciPy upcast (copy) the n^2 weights
        warm, H = self._warm_codes, H.astype(np.float32)
        if len(warm) == H.shape[1]:
            return np.asarray(H @ self.item_weights_, dtype=np.float64)
        out = np.zeros(H.shape)
        out[:, warm] = H[:, warm] @ self.item_weights_
        return out


def _symmetrise_lower(P: np.ndarray, block: int = 512) -> np.ndarray:
    """Copy the lower triangle of ``P`` onto its upper one, in place (LAPACK's ``potri``
    fills one triangle only).  Block by block: ``np.tril`` on an n_items^2 matrix costs
    seconds in temporaries, this a few hundredths."""
    n = P.shape[0]
    for lo in range(0, n, block):
        hi = min(lo + block, n)
        P[lo:hi, hi:] = P[hi:, lo:hi].T
        diag_block = P[lo:hi, lo:hi]
        diag_block[...] = np.tril(diag_block) + np.tril(diag_block, -1).T
    return P


class ItemKNNRecommender(_HistoryRecommender):
    """Item-based k-nearest neighbours with shrunk cosine similarity (Sarwar et al. 2001).

    :math:`s_{ij} = \\frac{x_i^\\top x_j}{\\lVert x_i\\rVert \\lVert x_j\\rVert + h}`, each
    item keeps its ``n_neighbors`` most similar items, and a user's score of ``j`` is
    :math:`\\sum_{i \\in I(u)} s_{ij}`.

    Parameters
    ----------
    n_neighbors : int, default 77
    shrink : float, default 40.8
        ``h`` above.

    Notes
    -----
    The defaults are the median of the values ``--tune`` chose on four data sets (see
    :class:`HybridRecommender`).
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_neighbors": [Interval(int, 1, None)],
        "shrink": [Interval(float, 0, None, closed="left")],
    }

    def __init__(self, n_neighbors: int = 77, shrink: float = 40.8) -> None:
        self.n_neighbors = n_neighbors
        self.shrink = shrink

    def _fit(self, X, item_features) -> None:
        Xb = (X > 0).astype(np.float64)
        norms = np.sqrt(np.asarray(Xb.sum(axis=0)).ravel())
        S = (Xb.T @ Xb).tocsr()
        S.setdiag(0)
        S.eliminate_zeros()
        rows = np.repeat(np.arange(S.shape[0]), np.diff(S.indptr))
        S.data /= norms[rows] * norms[S.indices] + self.shrink + 1e-12
        # keep the top n_neighbors per column (the neighbours that vote for item j); S is
        # symmetric, so its rows are its columns
        self.similarity_ = _top_per_row(S, self.n_neighbors).T.tocsr()

    def _score_history(self, H: sp.csr_matrix) -> np.ndarray:
        return (H @ self.similarity_).toarray()


def _top_per_row(S: sp.csr_matrix, k: int) -> sp.csr_matrix:
    rows, cols, vals = [], [], []
    for r in range(S.shape[0]):
        lo, hi = S.indptr[r], S.indptr[r + 1]
        if hi == lo:
            continue
        d, c = S.data[lo:hi], S.indices[lo:hi]
        if hi - lo > k:
            keep = np.argpartition(-d, k - 1)[:k]
            d, c = d[keep], c[keep]
        rows.append(np.full(len(c), r))
        cols.append(c)
        vals.append(d)
    if not rows:
        return sp.csr_matrix(S.shape)
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=S.shape
    )


class _FactorRecommender(ImplicitRecommender):
    """An ``implicit`` factor model fitted single-threaded; scores are user . item factors."""

    def _fit_factors(self, model_class: Any, X: sp.csr_matrix, **params: Any) -> None:
        # One BLAS thread: implicit's own loop already uses the core we give it (2-core rule).
        # The model is built under the cap too: implicit checks (and warns about) BLAS
        # threads when a model is constructed.
        with blas_threads(1):
            model = model_class(
                factors=self.factors,
                regularization=self.regularization,
                iterations=self.iterations,
                random_state=self.random_state,
                num_threads=1,
                **params,
            )
            model.fit(X.astype(np.float32).tocsr(), show_progress=False)
        self.user_factors_ = np.asarray(model.user_factors)
        self.item_factors_ = np.asarray(model.item_factors)

    def _score_rows(self, uc: np.ndarray) -> np.ndarray:
        return self.user_factors_[uc] @ self.item_factors_.T


class ImplicitALSRecommender(_FactorRecommender):
    """Weighted-ALS for implicit feedback (Hu, Koren & Volinsky 2008) from ``implicit``.

    Confidence ``1 + alpha * x_ui``; BLAS is capped to one thread around the fit.

    Parameters
    ----------
    factors : int, default 57
    regularization : float, default 1.08
    alpha : float, default 1.23
    iterations : int, default 22
    random_state : int, default 0

    Notes
    -----
    The defaults are the median of the values ``--tune`` chose on four data sets (see
    :class:`HybridRecommender`); the earlier ``regularization=0.05`` under-regularised.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "factors": [Interval(int, 1, None)],
        "regularization": [Interval(float, 0, None, closed="left")],
        "alpha": [Interval(float, 0, None, closed="neither")],
        "iterations": [Interval(int, 1, None)],
        "random_state": [Interval(int, 0, None)],
    }

    def __init__(
        self,
        factors: int = 57,
        regularization: float = 1.08,
        alpha: float = 1.23,
        iterations: int = 22,
        random_state: int = 0,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.random_state = random_state

    def _fit(self, X, item_features) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        self._fit_factors(AlternatingLeastSquares, X, alpha=self.alpha)

    def with_factors(self, users: Any, items: Any, weights: Any, user_ids: Any,
                     user_factors: np.ndarray, item_ids: Any,
                     item_factors: np.ndarray) -> ImplicitALSRecommender:
        """This model fitted with factors learned elsewhere (Spark ML ALS on a cluster).

        ``users``, ``items`` and ``weights`` are the interaction rows, as :meth:`fit` takes
        them (for seen-item exclusion and the popularity fallback); row ``j`` of
        ``user_factors`` / ``item_factors`` belongs to ``user_ids[j]`` / ``item_ids[j]``.
        The result scores, saves and loads exactly as a model fitted here.
        """
        self._validate_params()
        t0 = time.perf_counter()
        self._index(users, items, weights, None, None)
        uf = np.asarray(user_factors, dtype=np.float32)
        itf = np.asarray(item_factors, dtype=np.float32)
        self.user_factors_ = np.zeros((len(self.users_), uf.shape[1]), dtype=np.float32)
        self.item_factors_ = np.zeros((len(self.items_), itf.shape[1]), dtype=np.float32)
        uc, ic = self.user_codes(np.asarray(user_ids, dtype=object)), \
            self.item_codes(np.asarray(item_ids, dtype=object))
        # ids the interactions lack have no row here; a user or item without factors keeps
        # zeros (scores 0), as one without clicks gets from the embedded fit
        self.user_factors_[uc[uc >= 0]] = uf[uc >= 0]
        self.item_factors_[ic[ic >= 0]] = itf[ic >= 0]
        self.fit_seconds_ = time.perf_counter() - t0
        return self


class BPRRecommender(_FactorRecommender):
    """Bayesian Personalised Ranking (Rendle et al. 2009) from ``implicit``.

    Parameters
    ----------
    factors : int, default 100
    learning_rate : float, default 0.01
    regularization : float, default 0.01
    iterations : int, default 100
    random_state : int, default 0
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "factors": [Interval(int, 1, None)],
        "learning_rate": [Interval(float, 0, None, closed="neither")],
        "regularization": [Interval(float, 0, None, closed="left")],
        "iterations": [Interval(int, 1, None)],
        "random_state": [Interval(int, 0, None)],
    }

    def __init__(
        self,
        factors: int = 100,
        learning_rate: float = 0.01,
        regularization: float = 0.01,
        iterations: int = 100,
        random_state: int = 0,
    ) -> None:
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.random_state = random_state

    def _fit(self, X, item_features) -> None:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        # BPR learns from who engaged, not how much
        self._fit_factors(BayesianPersonalizedRanking, X > 0, learning_rate=self.learning_rate)


class ContentRecommender(_HistoryRecommender):
    """Content filtering: ad text (TF-IDF) and category against each user's engagement profile.

    Item vectors are L2-normalised TF-IDF of ``text`` (word 1-2-grams, sublinear tf) joined
    with a one-hot ``category`` block weighted by ``category_weight``; a user's profile is the
    interaction-weighted mean of the vectors of the items she engaged with, and the score of an
    item is the cosine between profile and item.  Items with features but no interactions
    (a brand-new ad) are scored like any other, so they can be served the day they launch.

    Parameters
    ----------
    category_weight : float, default 1.0
    max_features : int, default 20000
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "category_weight": [Interval(float, 0, None, closed="left")],
        "max_features": [Interval(int, 1, None)],
    }

    def __init__(self, category_weight: float = 1.0, max_features: int = 20000) -> None:
        self.category_weight = category_weight
        self.max_features = max_features

    def _fit(self, X, item_features) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.preprocessing import normalize

        if item_features is None:
            raise InputError(
                "ContentRecommender: item_features is required (a DataFrame indexed by item id "
                "with a 'text' and/or 'category' column)."
            )
        feats = item_features.copy()
        feats.index = feats.index.astype(str)
        feats = feats[~feats.index.duplicated(keep="last")].reindex(self.items_)
        warm = self.items_[self.warm_items_]
        if not feats.loc[warm].notna().any(axis=1).any():
            # every profile would be empty: the content model would rank nothing it learned
            raise InputError(
                f"ContentRecommender: none of the {len(warm):,} items of the interactions "
                "has a row in item_features (interaction items look like "
                f"{', '.join(map(repr, warm[:3]))}; item_features is indexed like "
                f"{', '.join(map(repr, map(str, item_features.index[:3])))}). Index "
                "item_features by the same item ids."
            )
        blocks = []
        text = None
        if "text" in feats.columns:
            text = feats["text"].astype(object).where(feats["text"].notna(), "").astype(str)
            if not text.str.contains(r"\w", regex=True).any():
                text = None  # no word in any item's text: the category alone, if any
        self.vectorizer_ = None
        if text is not None:
            self.vectorizer_ = TfidfVectorizer(
                ngram_range=(1, 2), sublinear_tf=True, max_features=self.max_features, min_df=1
            )
            blocks.append(normalize(self.vectorizer_.fit_transform(text.to_numpy())))
        if "category" in feats.columns and self.category_weight > 0:
            cat = feats["category"].astype(object).where(feats["category"].notna(), "?")
            codes, uniq = pd.factorize(cat.astype(str))
            onehot = sp.csr_matrix(
                (np.full(len(codes), self.category_weight), (np.arange(len(codes)), codes)),
                shape=(len(codes), len(uniq)),
            )
            blocks.append(onehot)
            self.categories_ = np.asarray(uniq, dtype=object)
        if not blocks:
            raise InputError(
                "ContentRecommender: item_features needs a 'text' column with words or a "
                "'category' column; got "
                f"{', '.join(map(str, item_features.columns)) or 'none'}."
            )
        self.item_vectors_ = normalize(sp.hstack(blocks).tocsr())

    def _history_values(self, strengths: np.ndarray) -> np.ndarray:
        # diminishing returns: the 10th click on an ad says less than the first
        return np.log1p(strengths)

    def _score_history(self, H: sp.csr_matrix) -> np.ndarray:
        from sklearn.preprocessing import normalize

        F = self.item_vectors_
        return (normalize(H @ F) @ F.T).toarray()

    def score_text(self, texts: Sequence[str]) -> np.ndarray:
        """Scores of the catalogue for free-text profiles (e.g. a new user's stated interests)."""
        from sklearn.preprocessing import normalize

        check_is_fitted(self, "item_vectors_")
        if getattr(self, "vectorizer_", None) is None:
            return np.zeros((len(texts), len(self.items_)))
        T = self.vectorizer_.transform([str(t) for t in texts])
        pad = sp.csr_matrix((T.shape[0], self.item_vectors_.shape[1] - T.shape[1]))
        return np.asarray((normalize(sp.hstack([T, pad])) @ self.item_vectors_.T).todense())


_COMPONENTS = {
    "popularity": PopularityRecommender,
    "ease": EASE,
    "item_knn": ItemKNNRecommender,
    "als": ImplicitALSRecommender,
    "bpr": BPRRecommender,
    "content": ContentRecommender,
}
_WEIGHT_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
# Components that score a user from her history alone (so recency can re-weight it).
_HISTORY = frozenset(n for n, c in _COMPONENTS.items() if issubclass(c, _HistoryRecommender))


def _standardise(S: np.ndarray) -> np.ndarray:
    # float32: the blend search re-ranks these matrices dozens of times
    mu = S.mean(axis=1, keepdims=True)
    sd = S.std(axis=1, keepdims=True)
    return ((S - mu) / np.where(sd > 0, sd, 1.0)).astype(np.float32, copy=False)


def _aligned(S: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """A component's scores ``S`` (its catalogue order) in ours, standardised per row.

    ``codes`` maps our item codes to the component's; our items it lacks (absent from an
    inner split) get the row's minimum.
    """
    ok = codes >= 0
    out = np.empty((S.shape[0], len(codes)), dtype=np.float32)
    out[:, ok] = S[:, codes[ok]]
    if not ok.all():
        out[:, ~ok] = S.min(axis=1, keepdims=True)
    return _standardise(out)


def _decay(age: np.ndarray, half_life: float) -> np.ndarray:
    """Weight of an interaction ``age`` interactions before the user's latest one."""
    return np.exp2(-age / half_life)


def _is_components(v: Any) -> bool:
    return (
        isinstance(v, tuple | list)
        and len(v) > 0
        and all(isinstance(c, str) and c in _COMPONENTS for c in v)
    )


def _is_half_lives(v: Any) -> bool:
    return isinstance(v, tuple | list) and all(
        isinstance(h, int | float) and not isinstance(h, bool) and h > 0 for h in v
    )


class HybridRecommender(ImplicitRecommender):
    """A blend of collaborative and content recommenders, weights learned on validation.

    Each component's scores are standardised per user (zero mean, unit variance over the
    catalogue) and summed with weights :math:`w_c \\ge 0`.  The weights are found by
    coordinate ascent over a grid, maximising NDCG@``k`` (seen items excluded) on an inner
    validation split: ``validation_size`` of each user's interactions, the most recent ones
    when ``order`` is given to ``fit``, else a random draw; then every component is refitted
    on all rows.  Items without interactions (cold items) get the content component's score
    only, scaled by the total weight, so a new ad competes on its text and category.

    With ``order``, the history-based components can also weigh a user's recent
    interactions more (``recency_half_lives``): on a chronological split what a user did
    last says most about what she does next.  The half-life is chosen on the same
    validation split, before the weights.

    Parameters
    ----------
    components : tuple of str, default ("ease", "item_knn", "als", "content", "popularity")
        Names from ``popularity``, ``ease``, ``item_knn``, ``als``, ``bpr``, ``content``
        (``content`` is skipped when no ``item_features`` are given).
    component_params : dict or None
        ``{name: {param: value}}`` passed to each component.
    validation_size : float, default 0.2
    k : int, default 10
        Cut-off of the validation NDCG.
    min_gain : float, default 0.002
        Relative validation gain a weight change (or a recency half-life) must bring to be
        kept (guards against fitting the blend to validation noise).
    recency_half_lives : tuple of float, default (2.5, 5.0, 10.0, 20.0, 40.0)
        Candidate half-lives, in interactions, of a past interaction's weight in the
        history that the history-based components (``ease``, ``item_knn``, ``content``)
        score a user from: the latest interaction weighs 1, the one ``h`` interactions
        before it 1/2.  Unweighted histories are always a candidate, so ``()`` turns
        recency off.  Chosen on the (chronological) validation split, so used only when
        ``order`` is given to ``fit``.
    random_state : int, default 0

    Attributes
    ----------
    weights_ : dict
        Learned weight per component.
    validation_ndcg_ : dict
        Validation NDCG@k of each component alone and of the blend.
    half_life_ : float
        The chosen recency half-life (``inf``: unweighted histories).
    half_life_ndcg_ : dict
        Validation NDCG@k of the best single component for each half-life tried.
    components_ : dict
        Fitted components.
    recency_ : scipy.sparse.csr_matrix
        Weight of each training interaction in its user's history (the pattern of
        :attr:`interactions_`).

    Notes
    -----
    The defaults (``min_gain`` and the components' own) were chosen by the best average rank
    of test NDCG@10 over MovieLens latest-small, Online Retail, Complete Journey and the
    synthetic world, never one data set: the components take the median of the settings
    ``--tune`` chose on each, the smaller ``min_gain`` lets the blend keep a second component
    more often, and the half-lives 2.5 and 40 cost nothing where they are not chosen and won
    7 % on Online Retail's repeat buyers (``benchmarks/defaults_rank.py``,
    ``benchmarks/results/defaults.md``).
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "components": [Predicate(_is_components, f"a tuple of names from {sorted(_COMPONENTS)}")],
        "component_params": [None, dict],
        "validation_size": [Interval(float, 0, 0.5, closed="neither")],
        "k": [Interval(int, 1, None)],
        "min_gain": [Interval(float, 0, 1)],
        "recency_half_lives": [Predicate(_is_half_lives, "a tuple of numbers > 0")],
        "random_state": [Interval(int, 0, None)],
    }

    def __init__(
        self,
        components: tuple[str, ...] = ("ease", "item_knn", "als", "content", "popularity"),
        component_params: dict | None = None,
        validation_size: float = 0.2,
        k: int = 10,
        min_gain: float = 0.002,
        recency_half_lives: tuple[float, ...] = (2.5, 5.0, 10.0, 20.0, 40.0),
        random_state: int = 0,
    ) -> None:
        self.min_gain = min_gain
        self.recency_half_lives = recency_half_lives
        self.components = components
        self.component_params = component_params
        self.validation_size = validation_size
        self.k = k
        self.random_state = random_state

    def fit(
        self,
        users: Any,
        items: Any,
        weights: Any = None,
        item_features: pd.DataFrame | None = None,
        user_groups: Mapping[Any, Any] | None = None,
        order: Any = None,
    ) -> HybridRecommender:
        """Learn blend weights on an inner split, then refit the components on all rows.

        ``order`` (optional, e.g. timestamps) makes the inner split chronological per user.
        """
        self._order = None
        if order is not None:
            owner = type(self).__name__
            frame = pd.DataFrame(
                {
                    "u": as_ids(users, "users", owner),
                    "i": as_ids(items, "items", owner),
                    "t": pd.Series(np.asarray(order)).rank(method="first").to_numpy(),
                }
            )
            if len(frame) == len(np.asarray(order)):
                self._order = frame.groupby(["u", "i"])["t"].max()
        return super().fit(users, items, weights, item_features, user_groups)

    def _make(self, name: str) -> ImplicitRecommender:
        params = (self.component_params or {}).get(name, {})
        return _COMPONENTS[name](**params)

    def _names(self, item_features: pd.DataFrame | None) -> list[str]:
        usable = item_features is not None
        if usable and "content" in self.components:
            # a catalogue keyed by other ids would give every user an empty profile
            known = set(map(str, item_features.index))
            usable = any(str(i) in known for i in self.items_[self.warm_items_])
            if not usable:
                log.warning("content left out: no item with interactions has a row in the "
                            "item features (are the ids of the two tables the same?)")
        return [c for c in self.components if c != "content" or usable]

    def _fit(self, X, item_features) -> None:
        from adwise.metrics import ndcg_at_k

        names = self._names(item_features)
        if not names:
            raise InputError(
                "HybridRecommender: no usable component ('content' needs item_features)."
            )
        coo = X.tocoo()  # entries in the order of X.data
        u, i, w = coo.row, coo.col, coo.data
        # inner split: per user, the last (or a random) validation_size share of the items
        rng = np.random.default_rng(self.random_state)
        key = rng.random(len(u))
        if self._order is not None:
            pairs = pd.MultiIndex.from_arrays([self.users_[u], self.items_[i]])
            key = self._order.reindex(pairs).to_numpy(dtype=float)
            key = np.where(np.isnan(key), -1.0, key)
        order = np.lexsort((key, u))
        u_s = u[order]
        starts = np.searchsorted(u_s, u_s, side="left")
        ends = np.searchsorted(u_s, u_s, side="right")
        pos = np.arange(len(u_s)) - starts
        cnt = ends - starts
        n_val = np.where(cnt >= 2, np.maximum(1, np.floor(cnt * self.validation_size)), 0)
        n_val = n_val.astype(int)
        is_val = np.zeros(len(u), dtype=bool)
        is_val[order] = pos >= cnt - n_val
        # age of an entry: how many of the user's entries are more recent (0 = the latest);
        # in the inner split the validation entries are the most recent ones, hence - n_val
        age = np.empty(len(u))
        age[order] = cnt - 1 - pos
        inner_age = np.empty(len(u))
        inner_age[order] = cnt - 1 - pos - n_val
        lives = tuple(self.recency_half_lives) if self._order is not None else ()
        lives = lives if any(n in _HISTORY for n in names) else ()
        self.weights_ = {n: 1.0 for n in names}
        self.validation_ndcg_: dict[str, float] = {}
        self.half_life_ = np.inf
        self.half_life_ndcg_: dict[float, float] = {}
        val_users = np.unique(u[is_val])
        if len(val_users) >= 5 and (len(names) > 1 or lives):
            tr = ~is_val
            ids_u, ids_i = self.users_, self.items_
            inner = {
                n: self._make(n).fit(ids_u[u[tr]], ids_i[i[tr]], w[tr], item_features=item_features)
                for n in names
            }
            codes = {n: m.item_codes(ids_i) for n, m in inner.items()}
            fixed = {
                n: _aligned(m.score(ids_u[val_users]), codes[n])
                for n, m in inner.items()
                if n not in _HISTORY
            }
            # history entries of the validation users (rows: position in val_users)
            hist = tr & np.isin(u, val_users)
            h_rows = np.searchsorted(val_users, u[hist])

            def scores(hl: float) -> dict[str, np.ndarray]:
                decay = _decay(inner_age[hist], hl)
                return {
                    n: fixed[n]
                    if n in fixed
                    else self._history_scores(
                        m, codes[n], h_rows, i[hist], w[hist], decay, len(val_users)
                    )
                    for n, m in inner.items()
                }

            seen = sp.csr_matrix(
                (np.ones(tr.sum()), (u[tr], i[tr])), shape=X.shape
            )[val_users]
            rel_rows = pd.Series(i[is_val]).groupby(u[is_val]).agg(list)
            relevant = [rel_rows.get(uu, []) for uu in val_users]
            warm_inner = np.bincount(i[tr], minlength=X.shape[1]) > 0
            r_idx = np.repeat(np.arange(len(val_users)), np.diff(seen.indptr))

            def ndcg(Z: dict[str, np.ndarray], wts: dict[str, float]) -> float:
                S = self._blend(Z, wts, warm_inner)
                S[r_idx, seen.indices] = -np.inf
                return ndcg_at_k(top_k(S, self.k), relevant, self.k)

            def alone(Z: dict[str, np.ndarray], only: Any = names) -> dict[str, float]:
                return {n: ndcg(Z, {m: float(m == n) for m in names}) for n in only}

            # recency: the half-life whose best single component validates best, if it beats
            # unweighted histories clearly
            Z = scores(np.inf)
            self.validation_ndcg_ = alone(Z)
            base = max(self.validation_ndcg_.values())
            self.half_life_ndcg_[np.inf] = base
            for hl in lives:
                Zh = scores(hl)
                # only the history components change with the half-life
                single = {**self.validation_ndcg_, **alone(Zh, [n for n in names if n in _HISTORY])}
                self.half_life_ndcg_[hl] = max(single.values())
                if self.half_life_ndcg_[hl] > base * (1.0 + self.min_gain) and (
                    self.half_life_ndcg_[hl] > self.half_life_ndcg_[self.half_life_]
                ):
                    self.half_life_, Z, self.validation_ndcg_ = hl, Zh, single
            best_name = max(names, key=lambda n: self.validation_ndcg_[n])
            wts = {n: float(n == best_name) for n in names}
            best = self.validation_ndcg_[best_name]
            for _ in range(2):
                start = wts
                for n in names:
                    for g in _WEIGHT_GRID:
                        trial = {**wts, n: g}
                        if g == wts[n] or sum(trial.values()) == 0:
                            continue
                        s = ndcg(Z, trial)
                        # a change must beat the current blend clearly (validation is noisy)
                        if s > best * (1.0 + self.min_gain):
                            best, wts = s, trial
                if wts == start:
                    break
            self.weights_ = wts
            self.validation_ndcg_["hybrid"] = best
            log.info(
                "hybrid weights %s, half-life %s (validation ndcg %.4f)",
                wts, self.half_life_, best,
            )
        self.components_ = {
            n: self._make(n).fit(
                self.users_[u], self.items_[i], w, item_features=item_features
            )
            for n in names
            if self.weights_.get(n, 0) > 0
        }
        self._codes = {n: m.item_codes(self.items_) for n, m in self.components_.items()}
        self.recency_ = X.copy()
        self.recency_.data = _decay(age, self.half_life_)

    @staticmethod
    def _history_scores(
        m: _HistoryRecommender,
        codes: np.ndarray,
        rows: np.ndarray,
        items: np.ndarray,
        strengths: np.ndarray,
        decay: np.ndarray,
        n_rows: int,
    ) -> np.ndarray:
        """Standardised scores of ``m`` (over our catalogue) for history entries
        ``(rows, items, strengths)``, each weighted by ``decay``; ``codes`` maps our item
        codes to ``m``'s."""
        keep = codes[items] >= 0
        H = sp.csr_matrix(
            (
                m._history_values(strengths[keep]) * decay[keep],
                (rows[keep], codes[items[keep]]),
            ),
            shape=(n_rows, len(m.items_)),
        )
        return _aligned(m._score_history(H), codes)

    def _blend(
        self, Z: dict[str, np.ndarray], wts: dict[str, float], warm: np.ndarray
    ) -> np.ndarray:
        total = sum(wts.values())
        S = np.zeros_like(next(iter(Z.values())))
        for n, z in Z.items():
            if wts.get(n, 0) > 0:
                S += wts[n] * z
        if "content" in Z and (~warm).any():
            S[:, ~warm] = total * Z["content"][:, ~warm]
        return S

    def _score_rows(self, uc: np.ndarray) -> np.ndarray:
        X = self.interactions_[uc]
        rows = np.repeat(np.arange(len(uc)), np.diff(X.indptr))
        decay = self.recency_[uc].data  # same sparsity pattern as X
        Z = {}
        for n, m in self.components_.items():
            codes = self._codes[n]
            Z[n] = (
                self._history_scores(m, codes, rows, X.indices, X.data, decay, len(uc))
                if n in _HISTORY
                else _aligned(m.score(self.users_[uc]), codes)
            )
        return self._blend(Z, self.weights_, self.warm_items_)


def make_recommender(name: str, **params: Any) -> ImplicitRecommender:
    """A recommender by name: ``hybrid`` or one of the components."""
    if name == "hybrid":
        return HybridRecommender(**params)
    if name not in _COMPONENTS:
        raise InputError(
            f"unknown ranking model {name!r}; use one of: hybrid, {', '.join(_COMPONENTS)}."
        )
    return _COMPONENTS[name](**params)

