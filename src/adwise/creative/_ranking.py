"""Ranking creatives: a text CTR model, relevance to the segment, and MMR diversity.

- :class:`TextCTRModel` — TF-IDF features of headline + description and an L2-regularised
  logistic regression fitted to the advertiser's historical creatives, each weighted by its
  clicks and non-clicks (the binomial likelihood of its CTR).
- :func:`relevance` — cosine similarity of TF-IDF vectors (character n-grams, so that it works
  for Chinese, which has no spaces, and matches "runner" with "running").
- :func:`mmr` — Maximal Marginal Relevance (Carbonell & Goldstein, 1998): pick the next item
  maximising ``lam * score - (1 - lam) * max_similarity_to_picked``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from adwise._params import Interval, Options
from adwise.base import AdwiseEstimator, check_is_fitted

__all__ = ["TextCTRModel", "mmr", "relevance"]


def _vectorizer(lang: str, purpose: str = "ctr", **kw: Any):
    from sklearn.feature_extraction.text import TfidfVectorizer

    if lang == "zh":
        return TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True, **kw)
    if purpose == "relevance":  # sub-word n-grams: "runner" matches "running"
        return TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, **kw)
    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, **kw)


class TextCTRModel(AdwiseEstimator):
    """Predicts a creative's click-through rate from its text.

    The model is logistic regression on TF-IDF features,
    ``P(click | text) = sigmoid(w . tfidf(text) + b)``, fitted by maximising the weighted
    binomial log-likelihood ``sum_i clicks_i log p_i + (impressions_i - clicks_i) log(1 - p_i)``
    minus ``||w||^2 / (2 C)``.

    Parameters
    ----------
    C : float
        Inverse L2 regularisation strength (smaller: stronger shrinkage toward the mean CTR).
    lang : {"en", "zh"}
        Chooses the analyzer: word 1-2-grams (en) or character 1-2-grams (zh, no spaces).
    min_df : int
        Ignore n-grams that occur in fewer creatives.

    Attributes
    ----------
    vectorizer_ : TfidfVectorizer
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    base_rate_ : float
        Pooled CTR of the training creatives.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "C": [Interval(float, 0, None, closed="neither")],
        "lang": [Options(("en", "zh"))],
        "min_df": [Interval(int, 1, None)],
    }

    def __init__(self, C: float = 1.0, lang: str = "en", min_df: int = 1) -> None:
        self.C = C
        self.lang = lang
        self.min_df = min_df

    def fit(self, texts: Sequence[str], impressions: Sequence[float], clicks: Sequence[float]):
        """Fit to creatives' texts with their impression and click counts."""
        from sklearn.linear_model import LogisticRegression

        from adwise._exceptions import InputError

        self._validate_params()
        texts = [str(t) for t in texts]
        imp = np.asarray(impressions, dtype=float)
        clk = np.asarray(clicks, dtype=float)
        if not (len(texts) == len(imp) == len(clk)):
            raise InputError("TextCTRModel.fit: texts, impressions and clicks differ in length.")
        if len(texts) < 2 or np.any(clk < 0) or np.any(clk > imp):
            raise InputError(
                "TextCTRModel.fit: need at least 2 creatives with 0 <= clicks <= impressions."
            )
        vec = _vectorizer(self.lang, min_df=self.min_df)
        X = vec.fit_transform(texts)
        from scipy import sparse

        Xd = sparse.vstack([X, X]).tocsr()
        y = np.r_[np.ones(len(texts)), np.zeros(len(texts))]
        w = np.r_[clk, imp - clk]
        keep = w > 0
        if len(np.unique(y[keep])) < 2:
            raise InputError("TextCTRModel.fit: the history needs both clicks and non-clicks.")
        # Weights are impression counts: more traffic is more evidence against the prior.
        lr = LogisticRegression(C=self.C, max_iter=2000)
        lr.fit(Xd[keep], y[keep], sample_weight=w[keep])
        self.vectorizer_ = vec
        self.coef_ = lr.coef_.ravel()
        self.intercept_ = float(lr.intercept_[0])
        self.base_rate_ = float(clk.sum() / imp.sum())
        return self

    def predict_ctr(self, texts: Sequence[str]) -> np.ndarray:
        """Predicted CTR of each text."""
        check_is_fitted(self, "coef_")
        z = self.vectorizer_.transform([str(t) for t in texts]) @ self.coef_ + self.intercept_
        return 1.0 / (1.0 + np.exp(-np.asarray(z).ravel()))

    def top_terms(self, n: int = 10) -> list[tuple[str, float]]:
        """The n-grams with the largest positive weights (what this advertiser's clicks like)."""
        check_is_fitted(self, "coef_")
        names = self.vectorizer_.get_feature_names_out()
        idx = np.argsort(-self.coef_)[:n]
        return [(str(names[i]), float(self.coef_[i])) for i in idx]

    # -- safe serialisation (JSON-able dict; no pickle)
    def to_dict(self) -> dict[str, Any]:
        check_is_fitted(self, "coef_")
        vocab = {str(k): int(v) for k, v in self.vectorizer_.vocabulary_.items()}
        return {
            "params": self.get_params(),
            "vocabulary": vocab,
            "idf": self.vectorizer_.idf_.tolist(),
            "coef": self.coef_.tolist(),
            "intercept": self.intercept_,
            "base_rate": self.base_rate_,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TextCTRModel:
        m = cls(**d["params"])
        vec = _vectorizer(m.lang, vocabulary=d["vocabulary"])
        vec.idf_ = np.asarray(d["idf"], dtype=float)
        m.vectorizer_ = vec
        m.coef_ = np.asarray(d["coef"], dtype=float)
        m.intercept_ = float(d["intercept"])
        m.base_rate_ = float(d["base_rate"])
        return m


def relevance(texts: Sequence[str], targets: Sequence[str], lang: str = "en") -> np.ndarray:
    """Cosine similarity of each text to each target (segment description), TF-IDF vectors.

    Returns an array of shape ``(len(texts), len(targets))`` with values in [0, 1].
    """
    if not len(texts) or not len(targets):
        return np.zeros((len(texts), len(targets)))
    vec = _vectorizer(lang, "relevance")
    vec.fit([*targets, *texts])
    A = vec.transform(list(texts))
    B = vec.transform(list(targets))
    return np.asarray((A @ B.T).todense())  # rows are L2-normalised, so this is the cosine


def mmr(
    scores: Sequence[float],
    k: int,
    similarity: Callable[[int, int], float],
    lam: float = 0.7,
) -> list[int]:
    """Indices of ``k`` items chosen by Maximal Marginal Relevance.

    Parameters
    ----------
    scores : sequence of float
        Quality of each item (higher is better), ideally in [0, 1].
    k : int
        How many to pick.
    similarity : callable (i, j) -> float in [0, 1]
    lam : float
        Trade-off: 1 ranks by score alone, 0 by novelty alone.
    """
    s = np.asarray(scores, dtype=float)
    left = list(range(len(s)))
    picked: list[int] = []
    while left and len(picked) < k:
        best, best_val = left[0], -np.inf
        for i in left:
            red = max((similarity(i, j) for j in picked), default=0.0)
            val = lam * s[i] - (1 - lam) * red
            if val > best_val:
                best, best_val = i, val
        picked.append(best)
        left.remove(best)
    return picked
