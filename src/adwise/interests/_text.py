"""Text interests: keywords and topics from the creatives a user engaged with and their own text.

TF-IDF (sublinear term frequency, Salton & Buckley 1988) over the ads' headlines and
descriptions and the users' documents, then non-negative matrix factorisation
:math:`X \\approx W H` (Lee & Seung 1999; scikit-learn's ``NMF``) gives topics (rows of
:math:`H`, labelled by their top words) and each user's topic weights (rows of :math:`W`).
Each ad category also gets a TF-IDF centroid of its creatives; the cosine between a user's
document and a centroid is a text-based category score.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from adwise._exceptions import InputError
from adwise._params import Interval
from adwise.base import AdwiseEstimator, check_is_fitted

__all__ = ["TextInterests"]


class TextInterests(AdwiseEstimator):
    """TF-IDF + NMF topics and category text scores.

    Parameters
    ----------
    n_topics : int, default 12
    top_words : int, default 3
        Words that label a topic.
    random_state : int, default 0

    Attributes
    ----------
    topic_labels_ : list of str
    categories_ : list of str
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_topics": [Interval(int, 1, 200)],
        "top_words": [Interval(int, 1, 20)],
        "random_state": [Interval(int, 0, None)],
    }

    def __init__(self, n_topics: int = 12, top_words: int = 3, random_state: int = 0) -> None:
        self.n_topics = n_topics
        self.top_words = top_words
        self.random_state = random_state

    def fit(
        self,
        ad_texts: Any,
        ad_categories: Any = None,
        user_texts: Any = None,
    ) -> TextInterests:
        """Fit the vocabulary and topics on ad texts (plus user texts when given)."""
        from sklearn.decomposition import NMF
        from sklearn.feature_extraction.text import TfidfVectorizer

        self._validate_params()
        ads = pd.Series(list(ad_texts), dtype=object).fillna("").astype(str)
        docs = (
            ads
            if user_texts is None
            else pd.concat([ads, pd.Series(list(user_texts), dtype=object).fillna("").astype(str)])
        )
        if not docs.str.strip().any():
            raise InputError("TextInterests: every text is empty; give ads with headlines.")
        self.vectorizer_ = TfidfVectorizer(
            sublinear_tf=True, stop_words="english", token_pattern=r"(?u)\b\w\w+\b"
        )
        X = self.vectorizer_.fit_transform(docs)
        k = min(self.n_topics, X.shape[1], X.shape[0])
        self.nmf_ = NMF(k, init="nndsvda", random_state=self.random_state, max_iter=400)
        self.nmf_.fit(X)
        vocab = np.asarray(self.vectorizer_.get_feature_names_out())
        self.topic_labels_ = [
            " / ".join(vocab[np.argsort(-h)[: self.top_words]]) for h in self.nmf_.components_
        ]
        self.categories_: list[str] = []
        if ad_categories is not None:
            cats = pd.Series(list(ad_categories), dtype=object).astype(str)
            A = self.vectorizer_.transform(ads)
            self.categories_ = sorted(cats.unique())
            cent = np.vstack(
                [np.asarray(A[(cats == c).to_numpy()].mean(axis=0)) for c in self.categories_]
            )
            norms = np.linalg.norm(cent, axis=1, keepdims=True)
            self.centroids_ = cent / np.where(norms > 0, norms, 1.0)
        return self

    def category_scores(self, texts: Any) -> np.ndarray:
        """Cosine between each text and each category's creatives (n x n_categories)."""
        check_is_fitted(self, "vectorizer_")
        if not self.categories_:
            raise InputError("TextInterests: fit with ad_categories to score categories.")
        X = self.vectorizer_.transform(pd.Series(list(texts), dtype=object).fillna("").astype(str))
        return np.asarray(X @ self.centroids_.T)

    def topics(self, texts: Any) -> np.ndarray:
        """Topic weights of each text (n x n_topics)."""
        check_is_fitted(self, "vectorizer_")
        X = self.vectorizer_.transform(pd.Series(list(texts), dtype=object).fillna("").astype(str))
        return self.nmf_.transform(X)

    def keywords(self, text: str, k: int = 5) -> list[str]:
        """The ``k`` highest-weighted known words of one text."""
        check_is_fitted(self, "vectorizer_")
        row = self.vectorizer_.transform([text or ""]).toarray()[0]
        vocab = self.vectorizer_.get_feature_names_out()
        order = np.argsort(-row)[:k]
        return [str(vocab[i]) for i in order if row[i] > 0]
