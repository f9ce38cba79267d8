"""Latent classes of users from several blocks of counts (a mixture of multinomials).

Each user :math:`u` belongs to one of :math:`K` latent classes.  Given its class :math:`k`, each
block :math:`b` of the user's counts (impressions per ad category, clicks per category, words of
their own text, events per hour of day, one-hot attributes ...) is a multinomial draw with
class-specific probabilities :math:`\\theta_{kb}`, independently of the other blocks:

.. math::

    \\log P(x_u \\mid k) = \\sum_b \\sum_j x_{ubj} \\log \\theta_{kbj} + \\text{const}.

A one-hot attribute is a block with one count, so categorical attributes need no special case.
The model is fitted by expectation-maximisation (Dempster, Laird & Rubin 1977) with a symmetric
Dirichlet pseudo-count on every :math:`\\theta`, from ``n_init`` random starts, keeping the one
with the highest likelihood.  This is latent class analysis (Lazarsfeld 1950) / a naive-Bayes
mixture: it weighs each signal by how much evidence it carries (40 impressions count more than
one click), which clustering standardised features cannot do.

Choosing :math:`K`: real users are not exchangeable draws from a few classes (each has personal
tastes, and their events are not independent), so the likelihood keeps rising with :math:`K` and
BIC alone rarely stops (it picked the largest candidate on the synthetic world).  With
``n_classes="auto"`` the model therefore stops at the elbow of the BIC curve: the first
:math:`K` from which one more class would gain less than ``elbow`` times the average gain of the
classes before it (``elbow=0`` is the first local minimum of BIC).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from scipy import sparse
from scipy.special import logsumexp

from adwise._exceptions import InputError
from adwise._params import Interval, Options
from adwise.base import AdwiseEstimator, check_is_fitted

__all__ = ["LatentClassModel"]


def _blocks(blocks: Sequence[Any]) -> list[Any]:
    out = []
    for b in blocks:
        m = b.tocsr().astype(float) if sparse.issparse(b) else np.asarray(b, dtype=float)
        if m.ndim != 2:
            raise InputError("LatentClassModel: every block must be a 2-D count matrix.")
        vals = m.data if sparse.issparse(m) else m
        if not np.isfinite(vals).all() or (vals < 0).any():
            raise InputError("LatentClassModel: counts must be finite and non-negative.")
        out.append(m)
    if not out or len({m.shape[0] for m in out}) != 1:
        raise InputError("LatentClassModel: give one or more blocks with the same rows (users).")
    return out


class LatentClassModel(AdwiseEstimator):
    """Mixture of multinomials over blocks of counts, fitted by EM.

    Parameters
    ----------
    n_classes : "auto" or int, default "auto"
    k_range : tuple of int, default (2, 10)
        Candidate numbers of classes when ``n_classes="auto"`` (inclusive).
    elbow : float, default 0.25
        With ``n_classes="auto"``, stop at the first ``K`` whose next class would lower BIC by
        less than ``elbow`` times the mean drop of the classes before it.
    n_init : int, default 4
        Random starts per number of classes; the most likely fit is kept.
    max_iter : int, default 200
    tol : float, default 1e-5
        Stop when the mean log-likelihood per user improves by less than this.
    pseudo_count : float, default 0.5
        Dirichlet pseudo-count added to every class's counts (keeps probabilities above 0).
    random_state : int, default 0

    Attributes
    ----------
    n_classes_ : int
    weights_ : ndarray (n_classes,)
    theta_ : list of ndarray (n_classes, block width)
        Per block, each class's multinomial probabilities.
    responsibilities_ : ndarray (n_users, n_classes)
        Posterior class probabilities of the training rows.
    labels_ : ndarray of int
        Most probable class of each training row.
    log_likelihood_ : float
    bic_ : dict
        BIC per candidate number of classes.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = np.r_[rng.multinomial(20, [0.8, 0.1, 0.1], 50),
    ...           rng.multinomial(20, [0.1, 0.1, 0.8], 50)]
    >>> LatentClassModel(n_classes=2).fit([a]).labels_[[0, 99]].tolist() in ([0, 1], [1, 0])
    True
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_classes": [Options(("auto",)), Interval(int, 1, 100)],
        "k_range": [tuple, list],
        "elbow": [Interval(float, 0, 1)],
        "n_init": [Interval(int, 1, None)],
        "max_iter": [Interval(int, 1, None)],
        "tol": [Interval(float, 0, None)],
        "pseudo_count": [Interval(float, 0, None, closed="neither")],
        "random_state": [Interval(int, 0, None)],
    }

    def __init__(
        self,
        n_classes: str | int = "auto",
        k_range: tuple[int, int] = (2, 10),
        elbow: float = 0.25,
        n_init: int = 4,
        max_iter: int = 200,
        tol: float = 1e-5,
        pseudo_count: float = 0.5,
        random_state: int = 0,
    ) -> None:
        self.n_classes = n_classes
        self.k_range = k_range
        self.elbow = elbow
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.pseudo_count = pseudo_count
        self.random_state = random_state

    def fit(self, blocks: Sequence[Any]) -> LatentClassModel:
        """Fit on a list of count matrices, one row per user in every block."""
        self._validate_params()
        X = _blocks(blocks)
        n = X[0].shape[0]
        if self.n_classes == "auto":
            lo, hi = (int(v) for v in self.k_range)
            ks = [k for k in range(max(1, lo), hi + 1) if k < n]
            if not ks:
                raise InputError(f"LatentClassModel: k_range {self.k_range} leaves no k below "
                                 f"the {n} rows.")
        else:
            ks = [int(self.n_classes)]
            if ks[0] > n:
                raise InputError(f"LatentClassModel: {ks[0]} classes for {n} rows.")
        rng = np.random.default_rng(self.random_state)
        self.bic_: dict[int, float] = {}
        fits = {}
        for k in ks:
            fits[k] = max((self._em(X, k, rng) for _ in range(self.n_init)), key=lambda f: f[0])
            n_par = (k - 1) + k * sum(b.shape[1] - 1 for b in X)
            self.bic_[k] = float(-2.0 * fits[k][0] + n_par * np.log(n))
            if self._stop(ks[: ks.index(k) + 1]):
                break
        self.n_classes_ = self._stop(list(fits)) or min(fits, key=self.bic_.get)
        ll, self.weights_, self.theta_, R = fits[self.n_classes_]
        self.log_likelihood_ = float(ll)
        self.responsibilities_ = R
        self.labels_ = R.argmax(axis=1)
        return self

    def _stop(self, ks: list[int]) -> int | None:
        """The elbow among the BICs of ``ks`` so far (None while there is none yet)."""
        drops = [self.bic_[a] - self.bic_[b] for a, b in itertools.pairwise(ks)]
        for j, d in enumerate(drops):
            # every earlier drop is positive here, so their mean is too
            if d <= 0 or (j > 0 and d < self.elbow * float(np.mean(drops[:j]))):
                return ks[j]
        return None

    def _loglik(self, X: list[Any], weights: np.ndarray, theta: list[np.ndarray]) -> np.ndarray:
        L = np.repeat(np.log(weights)[None, :], X[0].shape[0], axis=0)
        for b, th in zip(X, theta, strict=True):
            L += np.asarray(b @ np.log(th).T)
        return L

    def _m_step(self, X: list[Any], R: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        weights = (R.sum(axis=0) + 1e-9) / (R.sum() + 1e-9 * R.shape[1])
        theta = []
        for b in X:
            c = np.asarray((b.T @ R).T) + self.pseudo_count
            theta.append(c / c.sum(axis=1, keepdims=True))
        return weights, theta

    def _em(self, X: list[Any], k: int, rng: np.random.Generator
            ) -> tuple[float, np.ndarray, list[np.ndarray], np.ndarray]:
        n = X[0].shape[0]
        R = rng.dirichlet(np.ones(k), n)
        prev = -np.inf
        for _ in range(self.max_iter):
            weights, theta = self._m_step(X, R)
            L = self._loglik(X, weights, theta)
            norm = logsumexp(L, axis=1, keepdims=True)
            R = np.exp(L - norm)
            ll = float(norm.sum())
            if ll - prev < self.tol * n:
                break
            prev = ll
        return ll, weights, theta, R

    def predict_proba(self, blocks: Sequence[Any]) -> np.ndarray:
        """Posterior class probabilities of new rows (same blocks and widths as in fit)."""
        check_is_fitted(self, "theta_")
        X = _blocks(blocks)
        if [b.shape[1] for b in X] != [t.shape[1] for t in self.theta_]:
            raise InputError("LatentClassModel: the blocks' widths differ from those in fit.")
        L = self._loglik(X, self.weights_, self.theta_)
        return np.exp(L - logsumexp(L, axis=1, keepdims=True))

    def predict(self, blocks: Sequence[Any]) -> np.ndarray:
        """Most probable class of new rows."""
        return self.predict_proba(blocks).argmax(axis=1)
