"""Customer segmentation with automatic k, stable ids across retrains and plain-words profiles.

Features are transformed before clustering: ``log`` applies :math:`\\log(1 + x)` to non-negative
skewed columns (recency, frequency, monetary...), ``rank`` replaces each column by its
percentile; both stop a handful of big spenders from forming a cluster of their own, which is
what raw standardised RFM does.  Then every column is standardised.

k is chosen over ``k_range`` by the mean silhouette (Rousseeuw 1987) on a random sample (k = 2
only when it leads every k >= 3 by ``DECISIVE_GAIN``: the silhouette is biased towards two
clusters on continuous skewed data), or by the BIC of a Gaussian mixture (Schwarz 1978).
Segment ids are kept stable across retrains by matching the new centroids to the previous
version's with the Hungarian algorithm (Kuhn 1955; ``scipy.optimize.linear_sum_assignment``) on
Euclidean distance.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from adwise._exceptions import InputError
from adwise._params import Interval, Options
from adwise.base import AdwiseEstimator, check_is_fitted

__all__ = ["Segmenter", "describe_from_stats", "describe_segments", "match_segments", "pick_k"]

# a hashed id (hex digits, 8+ characters) reads as a code, not a word
_HASHLIKE = re.compile(r"^[0-9a-f]{8,}$", re.IGNORECASE)

_GENERIC = {"yes", "no", "y", "n", "true", "false", "unknown", "other", "missing", "none",
            "nan", "n/a", "na"}

#: how much higher the silhouette of k = 2 must be than that of every k >= 3 to be chosen
DECISIVE_GAIN = 0.10


def match_segments(new_centers: np.ndarray, old_centers: np.ndarray) -> np.ndarray:
    """Map each new cluster to an id: the matched old id, or a fresh id beyond the old ones.

    Returns ``ids`` with ``ids[j]`` the stable id of new cluster ``j``.
    """
    from scipy.optimize import linear_sum_assignment

    new_centers = np.asarray(new_centers, dtype=float)
    old_centers = np.asarray(old_centers, dtype=float)
    if old_centers.size == 0 or new_centers.shape[1] != old_centers.shape[1]:
        return np.arange(len(new_centers))
    d = np.linalg.norm(new_centers[:, None, :] - old_centers[None, :, :], axis=2)
    rows, cols = linear_sum_assignment(d)
    ids = np.full(len(new_centers), -1)
    ids[rows] = cols
    nxt = len(old_centers)
    for j in range(len(ids)):
        if ids[j] < 0:
            ids[j] = nxt
            nxt += 1
    return ids


def pick_k(scores: dict[int, float], criterion: str = "silhouette",
           auto: bool = True) -> tuple[int, str]:
    """The k of the best score (the first of equals; the last k when none is finite) and how
    it was chosen, in words.

    By silhouette, k = 2 is taken only when it beats every k >= 3 by ``DECISIVE_GAIN``: the
    silhouette favours two clusters on skewed, continuous data such as RFM (one "active" and
    one "lapsed" group beat any finer split by a few hundredths even when the finer split is
    what a marketer acts on); a clear two-group structure still wins.
    """
    finite = {k: v for k, v in scores.items() if np.isfinite(v)}
    best = max(finite, key=finite.get) if finite else list(scores)[-1]
    rule = "the best " + ("BIC" if criterion == "bic" else "silhouette")
    rest = {k: v for k, v in finite.items() if k >= 3}
    if criterion != "silhouette" or not auto or best != 2 or not rest:
        return best, rule
    k3 = max(rest, key=rest.get)
    gain = scores[2] - rest[k3]
    if gain >= DECISIVE_GAIN:
        return 2, f"the best silhouette (k = 2 beats k >= 3 by >= {DECISIVE_GAIN})"
    return k3, (f"the best silhouette among k >= 3 (k = 2 is taken only when it beats them by "
                f">= {DECISIVE_GAIN}; here by {gain:.3f})")


class Segmenter(AdwiseEstimator):
    """Cluster customers into segments.

    Parameters
    ----------
    k : "auto" or int, default "auto"
    k_range : tuple of int, default (2, 10)
        Candidate k when ``k="auto"`` (inclusive).
    method : {"kmeans", "minibatch", "gmm"}, default "kmeans"
        ``"kmeans"`` switches to mini-batch k-means above 50 000 rows.
    criterion : {"silhouette", "bic"}, default "silhouette"
    transform : {"log", "rank", "none"}, default "log"
    sample_size : int, default 4000
        Rows used to compute silhouettes (exact silhouettes are quadratic in n).
    random_state : int, default 0

    Attributes
    ----------
    k_ : int
    labels_ : ndarray of int
        Segment id per training row (stable ids after :meth:`align`).
    centers_ : ndarray (k, n_features)
        Centroids in the transformed, standardised space, indexed by segment id.
    silhouette_ : float
        Mean silhouette of the chosen clustering (on the sample).
    scores_ : dict
        Criterion value per candidate k.
    k_rule_ : str
        How k was chosen, in words (by silhouette, k = 2 needs a decisive lead).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(np.r_[rng.normal(0, 1, (200, 2)), rng.normal(8, 1, (200, 2))],
    ...                  columns=["a", "b"])
    >>> Segmenter(transform="none").fit(X).k_
    2
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "k": [Options(("auto",)), Interval(int, 1, 100)],
        "k_range": [tuple, list],
        "method": [Options(("kmeans", "minibatch", "gmm"))],
        "criterion": [Options(("silhouette", "bic"))],
        "transform": [Options(("log", "rank", "none"))],
        "sample_size": [Interval(int, 100, None)],
        "random_state": [Interval(int, 0, None)],
    }

    def __init__(
        self,
        k: str | int = "auto",
        k_range: tuple[int, int] = (2, 10),
        method: str = "kmeans",
        criterion: str = "silhouette",
        transform: str = "log",
        sample_size: int = 4000,
        random_state: int = 0,
    ) -> None:
        self.k = k
        self.k_range = k_range
        self.method = method
        self.criterion = criterion
        self.transform = transform
        self.sample_size = sample_size
        self.random_state = random_state

    # ----------------------------------------------------------------- transform
    def _prepare(self, X: pd.DataFrame, fit: bool) -> np.ndarray:
        if fit:
            self.feature_names_ = [str(c) for c in X.columns]
            V = X.to_numpy(dtype=float)
            self.log_cols_ = (
                [bool(np.nanmin(V[:, j]) >= 0) for j in range(V.shape[1])]
                if self.transform == "log"
                else [False] * V.shape[1]
            )
            if self.transform == "rank":
                self.rank_ref_ = [np.sort(V[:, j]) for j in range(V.shape[1])]
        else:
            # the names were kept as text: a frame with integer column labels must still match
            X = X.rename(columns=str)
            missing = [c for c in self.feature_names_ if c not in X.columns]
            if missing:
                raise InputError(
                    f"the data lacks feature column(s) {missing[:5]} the segmentation was "
                    "trained with."
                )
            V = X[self.feature_names_].to_numpy(dtype=float)
        V = V.copy()
        for j in range(V.shape[1]):
            if self.transform == "log" and self.log_cols_[j]:
                V[:, j] = np.log1p(np.clip(V[:, j], 0, None))
            elif self.transform == "rank":
                ref = self.rank_ref_[j]
                V[:, j] = np.searchsorted(ref, V[:, j], side="right") / len(ref)
        if fit:
            self.mean_ = V.mean(axis=0)
            sd = V.std(axis=0)
            self.scale_ = np.where(sd > 0, sd, 1.0)
        return (V - self.mean_) / self.scale_

    # ----------------------------------------------------------------- fit
    def _cluster(self, Z: np.ndarray, k: int):
        if self.method == "gmm":
            from sklearn.mixture import GaussianMixture

            m = GaussianMixture(
                k, covariance_type="diag", n_init=2, random_state=self.random_state
            ).fit(Z)
            return m, m.predict(Z)
        if self.method == "minibatch" or (self.method == "kmeans" and len(Z) > 50_000):
            from sklearn.cluster import MiniBatchKMeans

            m = MiniBatchKMeans(k, n_init=5, random_state=self.random_state, batch_size=4096)
        else:
            from sklearn.cluster import KMeans

            m = KMeans(k, n_init=10, random_state=self.random_state)
        return m, m.fit_predict(Z)

    def fit(self, X: pd.DataFrame) -> Segmenter:
        """Fit on a numeric DataFrame (one row per customer)."""
        from threadpoolctl import threadpool_limits

        self._validate_params()
        with threadpool_limits(limits=1):
            return self._fit(X)

    def _fit(self, X: pd.DataFrame) -> Segmenter:
        from sklearn.metrics import silhouette_score

        if not isinstance(X, pd.DataFrame):
            X = pd.DataFrame(np.asarray(X, dtype=float))
        bad = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
        if bad:
            raise InputError(f"Segmenter: feature column(s) {bad[:5]} are not numeric.")
        if X.isna().any().any():
            raise InputError("Segmenter: features contain missing values; fill or drop them.")
        lo, hi = int(self.k_range[0]), int(self.k_range[1])
        if self.k == "auto" and not 2 <= lo <= hi:
            raise InputError(
                f"Segmenter: k_range must be (low, high) with 2 <= low <= high; got "
                f"{tuple(self.k_range)}."
            )
        n = len(X)
        Z = self._prepare(X, fit=True)
        rng = np.random.default_rng(self.random_state)
        sample = rng.choice(n, min(n, self.sample_size), replace=False)
        ks = [self.k] if self.k != "auto" else list(range(lo, min(hi, n - 1) + 1))
        if not ks or ks[0] >= n:
            raise InputError(f"Segmenter: {n} rows are too few for k={ks[0] if ks else lo}.")
        self.scores_ = {}
        fits = {}
        for k in ks:
            model, labels = self._cluster(Z, int(k))
            fits[int(k)] = (model, labels)
            if self.criterion == "bic" and self.k == "auto":
                from sklearn.mixture import GaussianMixture

                g = (
                    model
                    if self.method == "gmm"
                    else GaussianMixture(
                        int(k), covariance_type="diag", random_state=self.random_state
                    ).fit(Z)
                )
                score = -float(g.bic(Z))
            else:
                lab_s = labels[sample]
                score = (
                    float(silhouette_score(Z[sample], lab_s, random_state=self.random_state))
                    if len(np.unique(lab_s)) > 1
                    else float("nan")
                )
            self.scores_[int(k)] = score
        self.k_, self.k_rule_ = pick_k(self.scores_, self.criterion, self.k == "auto")
        self.model_, labels = fits[self.k_]
        lab_s = labels[sample]
        self.silhouette_ = (
            float(silhouette_score(Z[sample], lab_s, random_state=self.random_state))
            if len(np.unique(lab_s)) > 1
            else float("nan")
        )
        self._raw_centers = np.vstack(
            [
                Z[labels == j].mean(axis=0) if (labels == j).any() else np.zeros(Z.shape[1])
                for j in range(self.k_)
            ]
        )
        self.ids_ = np.arange(self.k_)
        self._raw_labels = labels
        self.labels_ = labels
        self.centers_ = self._raw_centers
        return self

    def align(self, previous_centers: Any, previous_features: list[str] | None = None) -> Segmenter:
        """Renumber segments to match a previous version's centroids (Hungarian matching)."""
        check_is_fitted(self, "model_")
        prev = np.asarray(previous_centers, dtype=float)
        if previous_features is not None and list(previous_features) != self.feature_names_:
            return self
        ids = match_segments(self._raw_centers, prev)
        self.ids_ = ids
        self.labels_ = ids[self._raw_labels]
        centers = np.zeros((int(ids.max()) + 1, self._raw_centers.shape[1]))
        centers[:] = np.nan
        centers[ids] = self._raw_centers
        self.centers_ = centers
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Segment id of each row."""
        check_is_fitted(self, "model_")
        Z = self._prepare(X, fit=False)
        return self.ids_[self.model_.predict(Z)]

    def embed(self, X: pd.DataFrame) -> np.ndarray:
        """The rows in the space the segments live in: transformed with the training rows'
        reference (log columns, ranks) and standardised with their mean and spread."""
        check_is_fitted(self, "model_")
        return self._prepare(X, fit=False)


# --------------------------------------------------------------------------- profiles
_HOUR_WORDS = {
    "00_03": "late-night",
    "03_06": "night-owl",
    "06_09": "early-morning",
    "09_12": "morning",
    "12_15": "midday",
    "15_18": "afternoon",
    "18_21": "evening",
    "21_24": "late-evening",
}
_RFM_WORDS = {
    "recency_days": ("lapsed", "recent"),
    "frequency": ("frequent", "one-off"),
    "monetary": ("big-spending", "low-spend"),
}


def _phrase(feature: str, direction: float) -> str | None:
    """Plain words for 'this segment is high (direction > 0) / low on feature'."""
    if feature in _RFM_WORDS:
        hi, lo = _RFM_WORDS[feature]
        return hi if direction > 0 else lo
    if feature.startswith("hours_"):
        return _HOUR_WORDS.get(feature[6:]) if direction > 0 else None
    if feature == "weekend_share":
        return "weekend" if direction > 0 else "weekday"
    if "=" in feature and not feature.startswith(("text=", "interest=")):
        col, val = feature.split("=", 1)
        if direction <= 0:
            return None
        if col.startswith("age"):
            return f"aged {val}"
        # a bare code ("1005", "a8f5c2") or a bare "yes" / "unknown" says nothing without
        # its column
        return val if any(ch.isalpha() for ch in val) and len(val) < 20 and not \
            _HASHLIKE.match(val) and val.lower() not in _GENERIC else f"{col} {val}"
    if feature.startswith(("text=", "interest=")):
        return None
    if feature in ("ctr", "cvr"):
        return ("high-" if direction > 0 else "low-") + feature.upper()
    return ("high " if direction > 0 else "low ") + feature.replace("_", " ")


def describe_segments(
    features: pd.DataFrame,
    labels: np.ndarray,
    outcomes: pd.DataFrame | None = None,
    interests: pd.DataFrame | None = None,
    top: int = 3,
) -> list[dict[str, Any]]:
    """Readable profiles: name, size/share, outcome rates vs average, what sets each apart.

    ``features`` are the (untransformed) features; ``outcomes`` optional per-row columns among
    ``impressions``, ``clicks``, ``conversions``, ``value``, ``response`` (a 0/1 outcome);
    ``interests`` an optional per-row lift matrix (columns are categories).  A feature sets a
    segment apart by its standardised mean difference :math:`(\\bar x_s - \\bar x) / s_x`
    (Cohen's d against everyone).
    """
    labels = np.asarray(labels)
    F = features.astype(float)
    segs = sorted(np.unique(labels))
    sizes = pd.Series(labels).value_counts().reindex(segs)
    return describe_from_stats(
        F.mean(), F.std(ddof=0), F.groupby(labels).mean().reindex(segs), sizes,
        None if outcomes is None else outcomes.groupby(labels).sum().reindex(segs),
        None if interests is None else interests.groupby(labels).mean().reindex(segs), top)


def describe_from_stats(
    mu: pd.Series,
    sd: pd.Series,
    means: pd.DataFrame,
    sizes: pd.Series,
    outcome_sums: pd.DataFrame | None = None,
    interest_means: pd.DataFrame | None = None,
    top: int = 3,
) -> list[dict[str, Any]]:
    """:func:`describe_segments` from the statistics it needs, which an engine that cannot
    hold the rows (Spark) computes where they are: each feature's overall mean ``mu`` and
    population standard deviation ``sd``; per segment (the index, in order) the feature
    ``means``, the ``sizes``, the ``outcome_sums`` and the ``interest_means``."""
    n = int(sizes.sum())
    sd = sd.replace(0, 1.0)
    out = []
    tot = outcome_sums.sum() if outcome_sums is not None else None
    for s in means.index:
        size = int(sizes[s])
        seg_mean = means.loc[s]
        d = ((seg_mean - mu) / sd).sort_values(key=np.abs, ascending=False)
        apart = []
        words: list[str] = []
        groups: set[str] = set()  # one phrase per attribute (one age band, one hour band)
        for f, v in d.items():
            if abs(v) < 0.25 or len(apart) >= top + 2:
                break
            apart.append(
                {
                    "feature": str(f),
                    "effect_size": round(float(v), 2),
                    "segment_mean": round(float(seg_mean[f]), 4),
                    "overall_mean": round(float(mu[f]), 4),
                }
            )
            w = _phrase(str(f), v)
            group = str(f).split("=")[0] if "=" in str(f) else str(f).split("_")[0]
            if w and w not in words and group not in groups and len(words) < 3:
                words.append(w)
                groups.add(group)
        prof: dict[str, Any] = {
            "segment": int(s),
            "size": size,
            "share": round(size / n, 4),
            "sets_apart": apart,
        }
        fans = ""
        if interest_means is not None and len(interest_means.columns):
            li = interest_means.loc[s].sort_values(ascending=False)
            prof["top_interests"] = [
                {"interest": str(c), "lift": round(float(v), 2)} for c, v in li.head(top).items()
            ]
            fans = f" {li.index[0]} fans"
        name = (" ".join(words) + fans).strip() or f"segment {s}"
        name = name[0].upper() + name[1:]
        prof["name"] = name
        desc = f"{name} — {prof['share'] * 100:.0f} % of users ({prof['size']:,})"
        if outcome_sums is not None:
            o = outcome_sums.loc[s]
            outcomes = outcome_sums.columns
            if "impressions" in outcomes and "clicks" in outcomes and o["impressions"] > 0:
                ctr = o["clicks"] / o["impressions"]
                avg = tot["clicks"] / tot["impressions"] if tot["impressions"] else np.nan
                prof["ctr"] = round(float(ctr), 5)
                prof["ctr_vs_average"] = round(float(ctr / avg), 2) if avg else None
                desc += f", CTR {ctr * 100:.1f} % ({ctr / avg:.1f}x average)" if avg else ""
            if "clicks" in outcomes and "conversions" in outcomes and o["clicks"] > 0:
                prof["cvr"] = round(float(o["conversions"] / o["clicks"]), 4)
            if "response" in outcomes:
                r = float(o["response"] / size)
                avgr = float(tot["response"] / n) if n else np.nan
                prof["response_rate"] = round(r, 4)
                prof["response_vs_average"] = round(r / avgr, 2) if avgr else None
                desc += (f", response {r * 100:.1f} % ({r / avgr:.1f}x average)" if avgr
                         else f", response {r * 100:.1f} %")
            if "value" in outcomes:
                v = float(o["value"] / size)
                avgv = float(tot["value"] / n) if n else np.nan
                prof["value_per_customer"] = round(v, 2)
                if avgv:
                    desc += f", value {v:,.2f} per user ({v / avgv:.1f}x average)"
        prof["description"] = desc
        out.append(prof)
    return _unique_names(out)


def _unique_names(profiles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Two segments must not share a name: the second and later of a name get the phrase of
    their next distinguishing feature, else their number."""
    seen: dict[str, int] = {}
    for p in profiles:
        seen[p["name"]] = seen.get(p["name"], 0) + 1
    dup = {n for n, c in seen.items() if c > 1}
    used: set[str] = set()
    for p in profiles:
        name = p["name"]
        if name in dup:
            extra = next((w for a in p["sets_apart"]
                          if (w := _phrase(a["feature"], a["effect_size"]))
                          and w.lower() not in name.lower()
                          and f"{name}, {w}" not in used), None)
            new = f"{name}, {extra}" if extra else name
            if new in used or new == name:
                new = f"{name} (segment {p['segment']})"
            p["description"] = p["description"].replace(name, new, 1)
            p["name"] = new
        used.add(p["name"])
    return profiles
