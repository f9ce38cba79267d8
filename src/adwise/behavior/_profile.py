"""A latent-class model of users' category profiles: pooled interest for sparse click histories.

A user's click history with one ad category is too short to estimate their interest in it (on
the synthetic world a user has about 30 impressions and under one click in the training
period).  But their *whole* profile (how many impressions and clicks they had in every
category, and their attributes) says which kind of user they are, and users of one kind share
interests.  :class:`CategoryProfile` is a mixture of ``K`` latent classes fitted by EM
(Dempster et al., 1977) on the per-user totals of the training period.  In class :math:`k`

* the categories of a user's impressions are multinomial with shares :math:`\\theta_{kc}` (the
  ads a user was shown depend on what the serving system believed about them);
* a click on an impression of category :math:`c` is Bernoulli with rate :math:`r_{kc}`;
* each categorical user attribute :math:`j` takes value :math:`v` with probability
  :math:`\\phi_{kjv}`;
* optionally, each further block of per-user counts :math:`b` (say, impressions by hour of day)
  is multinomial with shares :math:`\\psi_{kbh}`.

For an event with the user's *strictly past* counts :math:`n_c` (impressions) and :math:`m_c`
(clicks) and attributes :math:`a_j`, the class posterior is

.. math:: \\log P(k \\mid \\cdot) = \\log \\pi_k + \\sum_c n_c \\log\\theta_{kc}
          + m_c \\log r_{kc} + (n_c - m_c)\\log(1 - r_{kc}) + \\sum_j \\log\\phi_{k j a_j}
          + \\text{const},

and the features for an ad of category :math:`c` are the posterior class probabilities,
the pooled expected click rate :math:`\\sum_k P(k\\mid\\cdot)\\,r_{kc}`, and the smoothed share
of the user's past impressions in :math:`c`.  The global parameters are learnt once on the
training period; the per-event inputs are past counts only, so the features are leak-free and
the serving path computes them from the same counts (:func:`~adwise.behavior._features.
latest_history`).

References
----------
Dempster, A. P., Laird, N. M. and Rubin, D. B. (1977). Maximum likelihood from incomplete data
via the EM algorithm. Journal of the Royal Statistical Society B 39(1), 1-38.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from adwise._params import Interval
from adwise.base import AdwiseEstimator, check_is_fitted

__all__ = ["CategoryProfile"]

_MAX_ATTRIBUTE_VALUES = 64  # rarer values of an attribute carry no evidence (like missing ones)


class CategoryProfile(AdwiseEstimator):
    """Latent-class model of per-user category impression / click counts and attributes.

    Parameters
    ----------
    n_classes : int, default 8
        Latent classes ``K``.  More classes than the data has kinds of users cost little
        (classes split); too few merge kinds with different interests.
    max_iter : int, default 100
        Most EM iterations.
    tol : float, default 1e-6
        EM stops when the mean log-likelihood per user improves by less than this.
    rate_prior : float, default 10.0
        Pseudo-impressions at the overall click rate added to every class x category click
        rate (classes with few impressions in a category get about the overall rate).
    share_prior : float, default 2.0
        Pseudo-impressions at the class-expected category share in ``user_cat_share``.
    n_init : int, default 1
        Random starts of EM; the fit with the highest likelihood is kept (EM finds a local
        maximum, and with well-separated kinds of users a poor start can merge two of them).
    random_state : int, default 0
        Seed of the random starts of EM.

    Attributes
    ----------
    categories_ : list of str
    attributes_ : dict
        Attribute column -> its values (those with a probability table).
    class_share_ : ndarray, shape (K,)
    category_share_ : ndarray, shape (K, n_categories)
    click_rate_ : ndarray, shape (K, n_categories)
    attribute_prob_ : dict
        Attribute column -> ndarray ``(K, n_values)``.
    count_share_ : dict
        Count block name -> ndarray ``(K, n_bins)`` (empty without ``counts``).
    n_iter_ : int
        EM iterations of the kept start.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> imp = rng.poisson([[9, 1], [1, 9]] * 50)
    >>> clk = rng.binomial(imp, 0.1)
    >>> p = CategoryProfile(n_classes=2).fit(imp, clk, ["a", "b"])
    >>> p.transform(imp[:2], clk[:2], np.array([0, 1])).shape
    (2, 4)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_classes": [Interval(int, 1, 100)],
        "max_iter": [Interval(int, 1, None)],
        "tol": [Interval(float, 0.0, None)],
        "rate_prior": [Interval(float, 0.0, None, closed="neither")],
        "share_prior": [Interval(float, 0.0, None, closed="neither")],
        "n_init": [Interval(int, 1, None)],
        "random_state": [Interval(int, 0, None)],
    }

    def __init__(self, n_classes: int = 8, max_iter: int = 100, tol: float = 1e-6,
                 rate_prior: float = 10.0, share_prior: float = 2.0, n_init: int = 1,
                 random_state: int = 0) -> None:
        self.n_classes = n_classes
        self.max_iter = max_iter
        self.tol = tol
        self.rate_prior = rate_prior
        self.share_prior = share_prior
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, impressions: np.ndarray, clicks: np.ndarray, categories: list[str],
            attributes: pd.DataFrame | None = None,
            counts: Mapping[str, np.ndarray] | None = None) -> CategoryProfile:
        """Fit on per-user totals: ``impressions`` / ``clicks`` of shape (users, categories).

        ``attributes`` (one row per user, optional) holds categorical user attributes;
        ``counts`` (optional) maps a name to a further ``(users, bins)`` count block.
        """
        self._validate_params()
        n = np.asarray(impressions, dtype=np.float64)
        m = np.asarray(clicks, dtype=np.float64)
        self.categories_ = [str(c) for c in categories]
        # kept off 0 and 1 so that logs stay finite when there are no clicks (or only)
        base = float(np.clip(m.sum() / max(n.sum(), 1.0), 1e-6, 1 - 1e-6))
        codes = self._attribute_codes_fit(attributes)
        extra = {str(k): np.asarray(v, dtype=np.float64) for k, v in (counts or {}).items()}
        rng = np.random.default_rng(self.random_state)
        best: tuple[float, dict[str, Any]] | None = None
        for _ in range(self.n_init):
            ll = self._em(rng.dirichlet(np.ones(self.n_classes), len(n)), n, m, codes, extra,
                          base)
            if best is None or ll > best[0]:
                best = (ll, self._state())
        assert best is not None  # n_init >= 1
        self.__dict__.update(best[1])
        return self

    def _em(self, resp: np.ndarray, n: np.ndarray, m: np.ndarray, codes: dict[str, np.ndarray],
            extra: dict[str, np.ndarray], base: float) -> float:
        """EM from the responsibilities ``resp``; the final mean log-likelihood per user."""
        last = -np.inf
        it = 0
        while it < self.max_iter:
            it += 1
            self._m_step(resp, n, m, codes, extra, base)
            log_post = self._log_joint(n, m, codes, extra)
            top = log_post.max(1, keepdims=True)
            ll = float(np.mean(top[:, 0] + np.log(np.exp(log_post - top).sum(1))))
            resp = _normalise(log_post)
            if ll - last < self.tol:
                break
            last = ll
        self.n_iter_ = it
        return ll

    def _state(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("class_share_", "category_share_", "click_rate_",
                                              "attribute_prob_", "count_share_", "n_iter_")}

    def _attribute_codes_fit(self, attributes: pd.DataFrame | None) -> dict[str, np.ndarray]:
        self.attributes_: dict[str, list[str]] = {}
        if attributes is None:
            return {}
        for col in attributes.columns:
            s = attributes[col].astype("string")
            values = s.value_counts().index[:_MAX_ATTRIBUTE_VALUES]
            if len(values) > 1:
                self.attributes_[str(col)] = [str(v) for v in values]
        return self._attribute_codes(attributes)

    def _attribute_codes(self, attributes: pd.DataFrame | None) -> dict[str, np.ndarray]:
        """Per attribute, each row's value position (-1: missing, rare or unseen)."""
        out = {}
        for col, values in self.attributes_.items():
            if attributes is None or col not in attributes.columns:
                continue
            s = attributes[col].astype("string").to_numpy(dtype=object, na_value=None)
            out[col] = pd.Index(values).get_indexer(s)
        return out

    def _m_step(self, resp: np.ndarray, n: np.ndarray, m: np.ndarray,
                codes: dict[str, np.ndarray], extra: dict[str, np.ndarray], base: float) -> None:
        self.class_share_ = (resp.sum(0) + 1.0) / (len(resp) + self.n_classes)
        cat_n = resp.T @ n
        self.category_share_ = (cat_n + 1.0) / (cat_n.sum(1, keepdims=True) + n.shape[1])
        self.click_rate_ = (resp.T @ m + self.rate_prior * base) / (cat_n + self.rate_prior)
        self.attribute_prob_ = {}
        for col, code in codes.items():
            v = len(self.attributes_[col])
            table = np.ones((self.n_classes, v))
            seen = code >= 0
            for j in range(self.n_classes):
                table[j] += np.bincount(code[seen], weights=resp[seen, j], minlength=v)
            self.attribute_prob_[col] = table / table.sum(1, keepdims=True)
        self.count_share_ = {}
        for name, x in extra.items():
            table = resp.T @ x + 1.0
            self.count_share_[name] = table / table.sum(1, keepdims=True)

    def _log_joint(self, n: np.ndarray, m: np.ndarray, codes: dict[str, np.ndarray],
                   extra: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        r = self.click_rate_
        out = (np.log(self.class_share_)[None, :] + n @ np.log(self.category_share_).T
               + m @ np.log(r).T + (n - m) @ np.log1p(-r).T)
        for col, code in codes.items():
            logp = np.log(self.attribute_prob_[col])
            seen = code >= 0
            out[seen] += logp[:, code[seen]].T
        for name, x in (extra or {}).items():
            if name in self.count_share_:
                out += np.asarray(x, dtype=np.float64) @ np.log(self.count_share_[name]).T
        return out

    def class_posterior(self, impressions: np.ndarray, clicks: np.ndarray,
                        attributes: pd.DataFrame | None = None,
                        counts: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """P(class | evidence) per user, shape (users, K).

        Pass zero ``clicks`` to classify from impressions, attributes and counts alone (e.g.
        when the clicks are the labels of the rows the result will describe).
        """
        check_is_fitted(self, "click_rate_")
        n = np.asarray(impressions, dtype=np.float64)
        m = np.asarray(clicks, dtype=np.float64)
        return _normalise(self._log_joint(n, m, self._attribute_codes(attributes), counts))

    def transform(self, impressions: np.ndarray, clicks: np.ndarray, category: np.ndarray,
                  attributes: pd.DataFrame | None = None) -> pd.DataFrame:
        """Features of events from each user's past counts and the ad's category position.

        ``category`` holds positions in :attr:`categories_` (-1 for an unknown category,
        whose share and expected rate are missing).  Columns: ``user_cat_share``,
        ``user_cat_expected_ctr`` and ``user_class_<k>`` (the class posterior).
        """
        n = np.asarray(impressions, dtype=np.float64)
        cat = np.asarray(category, dtype=np.int64)
        post = self.class_posterior(n, clicks, attributes)
        known = cat >= 0
        c = np.where(known, cat, 0)
        rows = np.arange(len(n))
        # shrunk towards the user's expected class share of the category, not the overall one
        prior_share = np.einsum("ik,ki->i", post, self.category_share_[:, c])
        share = (n[rows, c] + self.share_prior * prior_share) / (n.sum(1) + self.share_prior)
        rate = np.einsum("ik,ki->i", post, self.click_rate_[:, c])
        out = {"user_cat_share": np.where(known, share, np.nan),
               "user_cat_expected_ctr": np.where(known, rate, np.nan)}
        out.update({f"user_class_{j}": post[:, j] for j in range(self.n_classes)})
        return pd.DataFrame(out)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fitted state (see :meth:`from_dict`)."""
        check_is_fitted(self, "click_rate_")
        return {
            "params": self.get_params(deep=False),
            "categories": self.categories_,
            "attributes": self.attributes_,
            "class_share": self.class_share_.tolist(),
            "category_share": self.category_share_.tolist(),
            "click_rate": self.click_rate_.tolist(),
            "attribute_prob": {k: v.tolist() for k, v in self.attribute_prob_.items()},
            "count_share": {k: v.tolist() for k, v in self.count_share_.items()},
            "n_iter": self.n_iter_,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> CategoryProfile:
        """The model saved by :meth:`to_dict`."""
        # models saved before n_init / count blocks existed lack them
        p = cls(**{"n_init": 1} | state["params"])
        p.categories_ = list(state["categories"])
        p.attributes_ = {k: list(v) for k, v in state["attributes"].items()}
        p.class_share_ = np.asarray(state["class_share"])
        p.category_share_ = np.asarray(state["category_share"])
        p.click_rate_ = np.asarray(state["click_rate"])
        p.attribute_prob_ = {k: np.asarray(v) for k, v in state["attribute_prob"].items()}
        p.count_share_ = {k: np.asarray(v) for k, v in state.get("count_share", {}).items()}
        p.n_iter_ = int(state["n_iter"])
        return p


def _normalise(log_p: np.ndarray) -> np.ndarray:
    """Row-wise softmax of log-probabilities."""
    p = np.exp(log_p - log_p.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)
