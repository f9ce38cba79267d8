"""The delivery decision: expected-value ranking under frequency caps and paced budgets.

:class:`ClickModel` estimates pCTR and pCVR from the impression log (a logistic model over
user-by-category interests learned from impressions, the ad and the context);
:class:`DeliveryPlanner` ranks candidate ads for one request by expected value

* CPC: :math:`EV = \\widehat{pCTR} \\times bid`,
* CPA: :math:`EV = \\widehat{pCTR} \\times \\widehat{pCVR} \\times cpa\\_bid`,

and serves only ads that respect the user's frequency cap and their campaign's paced budget.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import expit

from adwise._exceptions import InputError
from adwise._params import Interval
from adwise.base import AdwiseEstimator, check_is_fitted

__all__ = ["ClickModel", "DeliveryPlanner"]

_RANK_COLUMNS = ("ad_id", "campaign_id", "pricing", "p_ctr", "p_cvr", "bid", "cpa_bid",
                 "expected_value", "eligible", "reason", "factors")

log = logging.getLogger(__name__)

_FEATURES = ("ad", "interest", "context")
_CVR_AD_SCALE, _CVR_CATEGORY_SCALE = 0.5, 3.0
# P(convert | click) uses the interest shares but not the kind's click rate: with a few
# hundred conversions the extra coefficient cost more than it explained on the synthetic world
_CVR_INTEREST = ("posterior_share", "prior_share")


def _one_hot(codes: np.ndarray, width: int) -> sp.csr_matrix:
    rows = np.arange(len(codes))
    return sp.csr_matrix((np.ones(len(codes)), (rows, codes)), shape=(len(codes), width))


def _lookup(positions: dict[str, int], ids: pd.Series) -> np.ndarray:
    """Positions of ``ids`` (compared as str) in ``positions``; -1 where unknown."""
    vals = ids.to_numpy(dtype=object)
    return np.fromiter((positions.get(v if isinstance(v, str) else str(v), -1) for v in vals),
                       dtype=np.int64, count=len(vals))


def _kind_rates_without_self(post: np.ndarray, imps: np.ndarray, clicks: np.ndarray,
                             prior: float = 10.0, block: int = 20_000) -> np.ndarray:
    """Per user x category, the click rate of the user's kind counting everyone's clicks but
    the user's own: :math:`\\sum_k P(k|u)\\,\\frac{C_{kc} - P(k|u)\\,m_{uc} + a\\,r}
    {N_{kc} - P(k|u)\\,n_{uc} + a}` with the class totals :math:`C = P^T m`, :math:`N = P^T n`
    and ``prior`` pseudo-impressions :math:`a` at the overall rate :math:`r`.  Leaving the user
    out keeps a training row's label from describing itself."""
    num, den = post.T @ clicks, post.T @ imps
    rate = float(np.clip(clicks.sum() / max(imps.sum(), 1.0), 1e-6, 1 - 1e-6))
    out = np.empty_like(imps)
    for s in range(0, len(post), block):  # (users, K, categories) per block bounds memory
        p = post[s:s + block, :, None]
        r = ((num[None] - p * clicks[s:s + block, None, :] + prior * rate)
             / (den[None] - p * imps[s:s + block, None, :] + prior))
        out[s:s + block] = (p * np.clip(r, 1e-6, 1.0)).sum(1)
    return out


def _hours(frame: pd.DataFrame) -> np.ndarray | None:
    """Hour of day per row from an ``hour`` or ``ts`` column (``None`` when neither exists)."""
    if "hour" in frame.columns:
        return pd.to_numeric(frame["hour"], errors="coerce").to_numpy(dtype=float)
    if "ts" in frame.columns:
        from adwise.data import parse_timestamps

        return parse_timestamps(frame["ts"]).dt.hour.to_numpy(dtype=float)
    return None


class ClickModel(AdwiseEstimator):
    """Calibrated pCTR and pCVR from an impression log: interests learned from impressions.

    Clicks are rare (a user has a handful at most), impressions are not, and a logging policy
    that aimed at each user's interests shows them in what it showed.  So the user's interest
    in category ``c`` is estimated from impressions and pooled over users of the same kind:

    * a **kind of user**: a latent-class model (:class:`~adwise.behavior._profile.
      CategoryProfile`, EM) of each user's impressions per category, impressions per hour of
      day (people of one kind are active at the same times) and attributes; a user's class
      posterior, computed without their clicks (the labels), gives the share of impressions
      :math:`s_{uc}` that users of their kind get in category ``c`` and their kind's click
      rate in ``c`` counting every user's clicks but their own;
    * a **posterior** share :math:`\\frac{imps_{uc} + m\\,s_{uc}}{imps_u + m}` that moves the
      kind's share towards the user's own impressions (``m`` = ``strength``);
    * a **prior** share :math:`\\pi_{uc}`: a ridge regression from the user's free text
      (TF-IDF) and attributes to their share of impressions per category, so users alike in
      words share interests.

    A logistic regression on ``[log posterior, log prior, log kind click rate, one-hot ad,
    one-hot category, one-hot placement, one-hot hour]`` (L2-regularised, so rarely seen ads
    shrink to their category) gives pCTR; a second one on clicked rows (the two shares, ad,
    category) gives pCVR = P(convert | click), with the ad effects shrunk harder and the
    category effects less, since a category has many conversions and an ad only a few.
    Both are additive in the
    log-odds, so they are stored as small tables (per ad, per user x category, per placement
    and hour) and prediction is a few array lookups.  Unknown users get the shares of a user
    with no events, text or attributes, unknown ads their category's effect (or the average
    one), missing context the average context.

    Parameters
    ----------
    strength : float, default 50.0
        Prior strength ``m`` (pseudo-impressions at the user's kind's shares) of the posterior
        share.  Large: a few dozen impressions say less about a user than their kind does.
    C : float, default 0.3
        Inverse L2 regularisation of the logistic regressions.
    alpha : float, default 1.0
        Regularisation of the ridge regression for the prior share.
    n_classes : int, default 8
        Latent kinds of users.
    random_state : int, default 0
        Seed of the latent-class model's random starts.

    Attributes
    ----------
    categories_ : ndarray of str
    ads_, users_ : Index
        Ids with stored tables (ads of the log or of ``ad_category``; users of the log, of
        ``user_text`` or of ``user_attributes``).
    ad_pos_, user_pos_ : dict
        Id -> position in ``ads_`` / ``users_``.
    interest_ : dict
        Feature name -> ``(users, categories)`` float32 table of log-features of interest
        (``posterior_share``, ``prior_share``, ``kind_ctr``).
    coef_, cvr_coef_ : dict
        Their coefficients in the click and in the conversion model.
    profile_ : CategoryProfile
        The latent-class model of users.

    References
    ----------
    Dempster, A. P., Laird, N. M. and Rubin, D. B. (1977). Maximum likelihood from incomplete
    data via the EM algorithm. Journal of the Royal Statistical Society B 39(1), 1-38.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "strength": [Interval(float, 0, None, closed="neither")],
        "C": [Interval(float, 0, None, closed="neither")],
        "alpha": [Interval(float, 0, None, closed="neither")],
        "n_classes": [Interval(int, 1, 100)],
        "random_state": [Interval(int, 0, None)],
    }

    def __init__(self, strength: float = 50.0, C: float = 0.3, alpha: float = 1.0,
                 n_classes: int = 8, random_state: int = 0) -> None:
        self.strength = strength
        self.C = C
        self.alpha = alpha
        self.n_classes = n_classes
        self.random_state = random_state

    def fit(
        self,
        events: pd.DataFrame,
        ad_category: Mapping[Any, Any] | None = None,
        user_text: Mapping[Any, Any] | None = None,
        user_attributes: pd.DataFrame | None = None,
    ) -> ClickModel:
        """Fit on rows with ``user_id``, ``ad_id``, ``clicked`` (and ``converted`` for pCVR).

        Parameters
        ----------
        events : DataFrame
            One row per impression; ``placement`` and ``ts`` (or ``hour``) are used when
            present.
        ad_category : mapping, optional
            Ad id -> category.  Without it all ads share one category (no interests).
        user_text : mapping, optional
            User id -> free text (stated interests, bio).
        user_attributes : DataFrame, optional
            Indexed by user id; every column is a categorical attribute.

        Returns
        -------
        ClickModel
        """
        from sklearn.linear_model import LogisticRegression

        self._validate_params()
        for c in ("user_id", "ad_id", "clicked"):
            if c not in events.columns:
                raise InputError(f"ClickModel: the events lack column {c!r}.")
        if len(events) == 0:
            raise InputError("ClickModel: no events given.")
        eu = events["user_id"].astype(str).to_numpy(dtype=object)
        ea = events["ad_id"].astype(str).to_numpy(dtype=object)
        y = events["clicked"].to_numpy(dtype=float)
        if not 0 < y.sum() < len(y):
            raise InputError("ClickModel: the events need both clicked and unclicked rows.")
        v = (events["converted"].to_numpy(dtype=float) if "converted" in events.columns
             else np.zeros(len(y)))
        cats = {str(k): str(cat) for k, cat in (ad_category or {}).items()}
        self.ads_ = pd.Index(pd.unique(np.concatenate([ea, np.array(list(cats), dtype=object)])))
        ad_cat = pd.Series(self.ads_).map(cats).astype(object).fillna("").to_numpy(dtype=object)
        self.categories_, ad_cat_code = np.unique(ad_cat.astype(str), return_inverse=True)
        self.ad_cat_code_ = ad_cat_code.astype(np.int64)
        texts = {str(k): str(t) for k, t in (user_text or {}).items() if pd.notna(t)}
        attrs = None
        if user_attributes is not None and len(user_attributes.columns):
            attrs = user_attributes.copy()
            attrs.index = attrs.index.astype(str)
            attrs = attrs[~attrs.index.duplicated(keep="last")]
        known = [eu, np.array(list(texts), dtype=object)]
        if attrs is not None:
            known.append(attrs.index.to_numpy(dtype=object))
        self.users_ = pd.Index(pd.unique(np.concatenate(known)))
        self.user_pos_ = {v: p for p, v in enumerate(self.users_)}
        self.ad_pos_ = {v: p for p, v in enumerate(self.ads_)}
        u = self.users_.get_indexer(eu)
        a = self.ads_.get_indexer(ea)
        c = self.ad_cat_code_[a]
        n_cat = len(self.categories_)
        imps = np.zeros((len(self.users_), n_cat))
        np.add.at(imps, (u, c), 1.0)
        prior, unknown_prior = self._fit_prior(imps, texts, attrs)
        # context levels: placements seen in the log, hours 0-23 (missing -> no one-hot)
        self.placements_ = (pd.Index(pd.unique(events["placement"].astype(str)))
                            if "placement" in events.columns else pd.Index([], dtype=object))
        slot = (self.placements_.get_indexer(events["placement"].astype(str))
                if "placement" in events.columns else np.full(len(y), -1))
        hour = _hours(events)
        hour = np.full(len(y), -1) if hour is None else np.nan_to_num(hour, nan=-1).astype(int)
        hour = np.where((hour >= 0) & (hour < 24), hour, -1)
        kind_share, kind_ctr, unknown = self._fit_profile(imps, u, c, y, hour, attrs)
        n_u = imps.sum(axis=1, keepdims=True)
        self.user_impressions_ = n_u[:, 0]
        post = (imps + self.strength * kind_share) / (n_u + self.strength)
        # per user x category log-features of interest, and those of an unknown user
        self.interest_ = {"posterior_share": np.log(post).astype(np.float32),
                          "prior_share": np.log(prior).astype(np.float32),
                          "kind_ctr": np.log(kind_ctr).astype(np.float32)}
        self.unknown_interest_ = {"posterior_share": np.log(unknown[0]),
                                  "prior_share": np.log(unknown_prior),
                                  "kind_ctr": np.log(unknown[1])}
        X = self._design(a, c, slot, hour, u, list(self.interest_))
        ctr = LogisticRegression(C=self.C, max_iter=1000).fit(X, y)
        w = ctr.coef_[0]
        n_ad, n_sl, n_int = len(self.ads_), len(self.placements_), len(self.interest_)
        ad_w, cat_w = w[:n_ad], w[n_ad:n_ad + n_cat]
        slot_w = w[n_ad + n_cat:n_ad + n_cat + n_sl]
        hour_w = w[n_ad + n_cat + n_sl:n_ad + n_cat + n_sl + 24]
        self.coef_ = dict(zip(self.interest_, map(float, w[-n_int:]), strict=True))
        self.ad_logit_ = ctr.intercept_[0] + ad_w + cat_w[self.ad_cat_code_]
        # an ad unknown at fit time: the intercept plus the average category
        self.unknown_ad_logit_ = float(ctr.intercept_[0] + cat_w.mean())
        self.slot_logit_ = slot_w
        self.hour_logit_ = hour_w
        # missing context: the log's average effect, so predictions stay calibrated on average
        self.mean_slot_logit_ = float(slot_w[slot[slot >= 0]].mean()) if (slot >= 0).any() \
            else 0.0
        self.mean_hour_logit_ = float(hour_w[hour[hour >= 0]].mean()) if (hour >= 0).any() \
            else 0.0
        self._fit_cvr(y > 0, v, a, c, u)
        return self

    def _fit_profile(self, imps, u, c, y, hour, attrs):
        """Per user x category, from the latent-class model: the share of impressions users of
        their kind get (rows sum to 1) and the click rate of their kind without the user's own
        clicks; and both for a user with no events or attributes."""
        from adwise.behavior._profile import CategoryProfile

        clicks = np.zeros_like(imps)
        np.add.at(clicks, (u, c), y)
        counts = {}
        if (hour >= 0).any():
            by_hour = np.zeros((len(imps), 24))
            np.add.at(by_hour, (u[hour >= 0], hour[hour >= 0]), 1.0)
            counts["hour"] = by_hour
        table = None if attrs is None else attrs.reindex(self.users_)
        self.profile_ = CategoryProfile(n_classes=self.n_classes, n_init=3,
                                        random_state=self.random_state).fit(
            imps, clicks, list(self.categories_), table, counts)
        # the kind from impressions, hours and attributes only: a user's clicks are the labels
        # of the rows these shares describe
        post = self.profile_.class_posterior(imps, np.zeros_like(imps), table, counts)
        shares = self.profile_.category_share_
        return (post @ shares, _kind_rates_without_self(post, imps, clicks),
                (self.profile_.class_share_ @ shares,
                 self.profile_.class_share_ @ self.profile_.click_rate_))

    def _fit_prior(self, imps: np.ndarray, texts: dict[str, str], attrs: pd.DataFrame | None):
        """Prior category shares per user (rows sum to 1) and the share of a user with no
        text and no attributes, from a ridge regression on text and attributes."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import Ridge
        from sklearn.preprocessing import OneHotEncoder

        n_u = imps.sum(axis=1)
        overall = (imps.sum(axis=0) + 1.0) / (imps.sum() + imps.shape[1])
        blocks, self.text_vectorizer_, self.attr_encoder_ = [], None, None
        has_text = np.array([u in texts for u in self.users_])
        if has_text.sum() >= 20:
            vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
            docs = [texts.get(u, "") for u in self.users_]
            try:
                blocks.append(vec.fit_transform(docs))
                self.text_vectorizer_ = vec
            except ValueError:  # empty vocabulary: the texts carry no usable words
                pass
        if attrs is not None:
            enc = OneHotEncoder(handle_unknown="ignore")
            table = attrs.reindex(self.users_).astype(object).fillna("?").astype(str)
            blocks.append(enc.fit_transform(table))
            self.attr_encoder_ = enc
        fitted = n_u > 0
        if not blocks or fitted.sum() < 20:
            return np.tile(overall, (len(n_u), 1)), overall
        X = sp.hstack(blocks).tocsr()
        shares = imps[fitted] / n_u[fitted, None]
        ridge = Ridge(alpha=self.alpha).fit(X[fitted], shares, sample_weight=n_u[fitted])

        def norm(p: np.ndarray) -> np.ndarray:
            # floor: a share the ridge puts at or below zero is "rare", not impossible
            p = np.clip(p, 1e-3, None)
            return p / p.sum(axis=-1, keepdims=True)

        return norm(ridge.predict(X)), norm(ridge.intercept_)

    def _design(self, a, c, slot, hour, u, names) -> sp.csr_matrix:
        n_sl = len(self.placements_)
        blocks = [_one_hot(a, len(self.ads_)), _one_hot(c, len(self.categories_))]
        if slot is not None:
            sl = _one_hot(np.where(slot >= 0, slot, 0), max(n_sl, 1))[:, :n_sl]
            hr = _one_hot(np.where(hour >= 0, hour, 0), 24)
            blocks += [sl.multiply((slot >= 0)[:, None]), hr.multiply((hour >= 0)[:, None])]
        blocks.append(sp.csr_matrix(np.column_stack([self.interest_[k][u, c] for k in names])))
        return sp.hstack(blocks).tocsr()

    def _fit_cvr(self, clicked, v, a, c, u) -> None:
        from sklearn.linear_model import LogisticRegression

        n_clicks, n_conv = int(clicked.sum()), float(v[clicked].sum())
        self.global_cvr_ = n_conv / n_clicks
        self.cvr_ad_logit_ = None
        if n_clicks < 20 or not 0 < n_conv < n_clicks:
            return
        names = list(_CVR_INTEREST)
        X = self._design(a[clicked], c[clicked], None, None, u[clicked], names)
        n_ad, n_cat = len(self.ads_), len(self.categories_)
        # An ad has a few conversions, a category many: scaling a column by s divides its L2
        # penalty by s^2, so ad effects are shrunk 4x harder and category effects 9x less.
        scale = np.ones(X.shape[1])
        scale[:n_ad], scale[n_ad:n_ad + n_cat] = _CVR_AD_SCALE, _CVR_CATEGORY_SCALE
        m = LogisticRegression(C=self.C, max_iter=1000).fit(X @ sp.diags(scale), v[clicked])
        w = m.coef_[0] * scale
        self.cvr_ad_logit_ = m.intercept_[0] + w[:n_ad] + w[n_ad:n_ad + n_cat][self.ad_cat_code_]
        self.cvr_unknown_ad_logit_ = float(m.intercept_[0] + w[n_ad:n_ad + n_cat].mean())
        self.cvr_coef_ = dict(zip(names, map(float, w[-len(names):]), strict=True))

    # ------------------------------------------------------------------ prediction
    def _codes(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        # dict look-ups: for the few rows of one request they cost microseconds, where an
        # Index look-up converts the ids to Arrow strings first
        return _lookup(self.user_pos_, frame["user_id"]), _lookup(self.ad_pos_, frame["ad_id"])

    def _interest(self, u: np.ndarray, a: np.ndarray, coef: Mapping[str, float]) -> np.ndarray:
        """Interest log-odds of users ``u`` in the categories of ads ``a`` (0 for unknown ads,
        whose category is unknown; the shares of a user with no events, text or attributes
        for unknown users)."""
        c = np.where(a >= 0, self.ad_cat_code_[a], 0)
        known = u >= 0
        ui = np.where(known, u, 0)
        out = np.zeros(len(u))
        for name, b in coef.items():
            out += b * np.where(known, self.interest_[name][ui, c], self.unknown_interest_[name][c])
        return np.where(a >= 0, out, 0.0)

    def _parts(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ad, interest, context) log-odds contributions per row."""
        u, a = self._codes(frame)
        ad = np.where(a >= 0, self.ad_logit_[a], self.unknown_ad_logit_)
        interest = self._interest(u, a, self.coef_)
        ctx = np.full(len(a), self.mean_slot_logit_ + self.mean_hour_logit_)
        if "placement" in frame.columns and len(self.placements_):
            s = self.placements_.get_indexer(frame["placement"].astype(str))
            ctx += np.where(s >= 0, self.slot_logit_[s], self.mean_slot_logit_) \
                - self.mean_slot_logit_
        hour = _hours(frame)
        if hour is not None:
            h = np.nan_to_num(hour, nan=-1).astype(int)
            ok = (h >= 0) & (h < 24)
            ctx += np.where(ok, self.hour_logit_[np.where(ok, h, 0)], self.mean_hour_logit_) \
                - self.mean_hour_logit_
        return ad, interest, ctx

    def predict_ctr(self, frame: pd.DataFrame) -> np.ndarray:
        """P(click) for rows with ``user_id`` and ``ad_id`` (``placement``, ``ts`` or
        ``hour`` optional)."""
        check_is_fitted(self, "ad_logit_")
        ad, interest, ctx = self._parts(frame)
        return expit(ad + interest + ctx)

    def predict_cvr(self, frame: pd.DataFrame) -> np.ndarray:
        """P(convert | click) for rows with ``ad_id`` (and ``user_id`` for interests)."""
        check_is_fitted(self, "ad_logit_")
        if self.cvr_ad_logit_ is None:
            return np.full(len(frame), self.global_cvr_)
        if "user_id" not in frame.columns:
            frame = frame.assign(user_id="")
        u, a = self._codes(frame)
        ad = np.where(a >= 0, self.cvr_ad_logit_[a], self.cvr_unknown_ad_logit_)
        return expit(ad + self._interest(u, a, self.cvr_coef_))

    def factors(self, frame: pd.DataFrame) -> list[dict[str, float]]:
        """Per row, the click log-odds from the ad (its own and its category's effect), the
        user's interest in the ad's category and the context (placement, hour), largest
        first; they sum to the click log-odds (the intercept is counted in the ad's part)."""
        check_is_fitted(self, "ad_logit_")
        parts = np.column_stack(self._parts(frame))
        return [dict(sorted(zip(_FEATURES, map(float, row), strict=True),
                            key=lambda kv: -abs(kv[1]))) for row in parts]


class DeliveryPlanner:
    """Ranks candidate ads by expected value under frequency caps and paced budgets.

    Parameters
    ----------
    ads : DataFrame
        One row per ad: ``ad_id`` and optionally ``campaign_id``, ``pricing`` (``cpc`` or
        ``cpa``; default ``cpc``), ``bid``, ``cpa_bid``, ``budget``, ``category``.  A
        campaign's budget is the sum of its ads' budgets (per pacing period); an ad without a
        campaign is its own campaign.
    predict_ctr, predict_cvr : callable(frame) -> array
        Probability providers on rows with ``user_id``, ``ad_id`` (and context columns).
        ``predict_cvr`` may return ``None`` (CPA ads then use the ``cvr_fallback`` rate).
    frequency_cap : int or None, default 3
        Most impressions of one ad to one user per period (``None``: no cap).
    pacing : bool, default True
        Throttle campaigns that spend ahead of the even plan (see :meth:`eligible`).
    cvr_fallback : float, default 0.05
    source : str
        Where the probabilities come from, shown in the breakdown.
    default_bid : float, optional
        CPC price of ads with neither ``bid`` nor ``cpa_bid``.  Without it, ads without a price
        are refused unless no ad has one: then every ad counts one unit per click, so ads rank
        by pCTR, and :attr:`ranked_by` says so (``bid`` is ``None`` in the rows).

    Notes
    -----
    Pacing.  A period (e.g. a day) runs from fraction 0 to 1.  A campaign with budget ``B``
    that has spent ``s`` by fraction ``tau`` may be served only when

    .. math:: s + c_{max} \\le B \\quad\\text{and}\\quad s \\le B\\,\\tau,

    where :math:`c_{max}` is the most one impression can cost (its bid: CPC bid, or the
    per-click bid of a CPA ad, else its CPA bid).  The first rule makes overspending
    impossible when charges are booked as they happen; the second keeps the spend rate at
    or below ``remaining budget / remaining time`` on average (the campaign is held back while
    it is ahead of the even plan and released as the plan catches up).
    """

    def __init__(
        self,
        ads: pd.DataFrame,
        predict_ctr: Callable[[pd.DataFrame], np.ndarray],
        predict_cvr: Callable[[pd.DataFrame], np.ndarray | None] | None = None,
        frequency_cap: int | None = 3,
        pacing: bool = True,
        cvr_fallback: float = 0.05,
        source: str = "recommender",
        explain: Callable[[pd.DataFrame], list[dict[str, float]]] | None = None,
        default_bid: float | None = None,
    ) -> None:
        if "ad_id" not in ads.columns:
            raise InputError("DeliveryPlanner: the ads table needs an 'ad_id' column.")
        if frequency_cap is not None and (
            not isinstance(frequency_cap, int | np.integer) or frequency_cap < 1
        ):
            raise InputError(
                f"DeliveryPlanner: frequency_cap must be an int >= 1 or None; got "
                f"{frequency_cap!r}."
            )
        a = ads.copy()
        a["ad_id"] = a["ad_id"].astype(str)
        a = a.drop_duplicates("ad_id", keep="last").set_index("ad_id")
        if "campaign_id" not in a.columns:
            a["campaign_id"] = a.index
        a["campaign_id"] = a["campaign_id"].astype(object).where(
            a["campaign_id"].notna(), pd.Series(a.index, index=a.index)
        ).astype(str)
        a["pricing"] = (
            a["pricing"].astype(object).fillna("cpc").astype(str).str.lower()
            if "pricing" in a.columns
            else "cpc"
        )
        for c in ("bid", "cpa_bid", "budget"):
            a[c] = pd.to_numeric(a[c], errors="coerce") if c in a.columns else np.nan
        unpriced = ~(a["bid"] > 0) & ~(a["cpa_bid"] > 0)
        if default_bid is not None:
            if not (isinstance(default_bid, int | float) and np.isfinite(default_bid)
                    and default_bid > 0):
                raise InputError(f"DeliveryPlanner: default_bid must be a number > 0; got "
                                 f"{default_bid!r}.")
            a.loc[unpriced, "bid"] = float(default_bid)
            a.loc[unpriced, "pricing"] = "cpc"
            self.ranked_by = (f"expected value (pCTR x bid; {int(unpriced.sum()):,} ads "
                              f"without a bid priced at the default {default_bid:g})"
                              if unpriced.any() else "expected value (pCTR x bid)")
        elif unpriced.all():
            # no ad has a price: every ad is worth one unit per click, so the ranking is the
            # ranking by pCTR (and the output says so instead of failing per request)
            a["bid"] = 1.0
            a["pricing"] = "cpc"
            self.ranked_by = ("pCTR (the ads have no bid; ingest ads with a bid column, or "
                              "give a default price, to rank by expected value)")
        else:
            self.ranked_by = "expected value (pCTR x bid, pCTR x pCVR x CPA bid)"
        self.priced = not unpriced.all() or default_bid is not None
        bad = (a["pricing"] == "cpc") & ~(a["bid"] > 0)
        bad |= (a["pricing"] == "cpa") & ~(a["cpa_bid"] > 0)
        bad |= ~a["pricing"].isin(["cpc", "cpa"])
        if bad.any():
            first = a.index[bad.to_numpy()][0]
            raise InputError(
                f"DeliveryPlanner: ad {first!r} has no usable price (pricing "
                f"{a.loc[first, 'pricing']!r}, bid {a.loc[first, 'bid']}, cpa_bid "
                f"{a.loc[first, 'cpa_bid']}); CPC ads need bid > 0, CPA ads cpa_bid > 0. "
                "Ingest the ads' bids, or give a default price (--default-bid) for ads "
                "without one."
            )
        a["max_charge"] = np.where(a["bid"] > 0, a["bid"], a["cpa_bid"])
        self.ads = a
        # plain arrays by position in ``ads``: a request looks ads up by position, not .loc
        self._ids = a.index.to_numpy(dtype=object)
        self._campaign = a["campaign_id"].to_numpy(dtype=object)
        self._pricing = a["pricing"].to_numpy(dtype=object)
        self._cpa = self._pricing == "cpa"
        self._bid = a["bid"].to_numpy(dtype=float)
        self._cpa_bid = a["cpa_bid"].to_numpy(dtype=float)
        self._max_charge = a["max_charge"].to_numpy(dtype=float)
        self.budgets = a.groupby("campaign_id")["budget"].sum(min_count=1).to_dict()
        self._pos = {ad: p for p, ad in enumerate(self._ids)}
        self._ad_budget = np.array([self.budgets.get(c, np.nan) for c in self._campaign],
                                   dtype=float)
        self.predict_ctr = predict_ctr
        self.predict_cvr = predict_cvr
        self.frequency_cap = frequency_cap
        self.pacing = pacing
        self.cvr_fallback = cvr_fallback
        self.source = source
        self.explain = explain
        self.reset()

    def reset(self) -> None:
        """Start a new period: no spend, no impressions."""
        self.spend: dict[str, float] = defaultdict(float)
        self.shown: dict[tuple[str, str], int] = defaultdict(int)

    # -------------------------------------------------------------- rules
    def eligible(self, user: str, ad_ids: np.ndarray, progress: float) -> tuple[np.ndarray, list]:
        """Which ads may be served now, and why not (``""`` when eligible)."""
        return self._eligible(str(user), self._positions(ad_ids), progress)

    def _positions(self, ad_ids: Any) -> np.ndarray:
        ids = [str(c) for c in ad_ids]
        pos = np.fromiter((self._pos.get(c, -1) for c in ids), dtype=np.int64, count=len(ids))
        if (pos < 0).any():
            unknown = np.asarray(ids, dtype=object)[pos < 0]
            raise InputError(
                f"unknown candidate ad(s): {', '.join(map(repr, unknown[:5]))}; ingest them "
                "into the ads table first."
            )
        return pos

    def _eligible(self, user: str, pos: np.ndarray, progress: float) -> tuple[np.ndarray, list]:
        n = len(pos)
        cap = self.frequency_cap
        capped = np.zeros(n, dtype=bool)
        if cap is not None and self.shown:
            capped = np.array([self.shown.get((user, a), 0) >= cap for a in self._ids[pos]],
                              dtype=bool)
        camps = self._campaign[pos]
        spent = (np.array([self.spend.get(c, 0.0) for c in camps]) if self.spend
                 else np.zeros(n))
        budget = self._ad_budget[pos]
        limited = np.isfinite(budget) & ~capped
        exhausted = limited & (spent + self._max_charge[pos] > budget)
        paced = limited & ~exhausted & (spent > budget * progress) if self.pacing else \
            np.zeros(n, dtype=bool)
        ok = ~(capped | exhausted | paced)
        reasons = [""] * n
        for j in np.flatnonzero(~ok):
            if capped[j]:
                reasons[j] = f"frequency cap ({cap}) reached"
            elif exhausted[j]:
                reasons[j] = "budget exhausted"
            else:
                reasons[j] = (f"paced: spent {spent[j]:.2f} of {budget[j]:.2f} at "
                              f"{progress:.0%} of period")
        return ok, reasons

    def rank(
        self,
        user: Any,
        candidates: Any = None,
        context: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Candidates ordered by expected value, eligible ones first, with a breakdown.

        Parameters
        ----------
        user : id
        candidates : sequence of ad ids, optional
            Default: every ad.  Unknown ads raise :class:`InputError`.
        context : mapping, optional
            ``progress`` (fraction of the pacing period elapsed, default 1.0) and any columns
            the probability providers take (``placement``, ``ts``, ``device`` ...).

        Returns
        -------
        DataFrame
            ``ad_id, campaign_id, pricing, p_ctr, p_cvr, bid, cpa_bid, expected_value,
            eligible, reason, factors`` sorted by (eligible, expected_value) descending.
        """
        return pd.DataFrame(self.rank_records(user, candidates, context),
                            columns=list(_RANK_COLUMNS))

    def rank_records(
        self,
        user: Any,
        candidates: Any = None,
        context: Mapping[str, Any] | None = None,
        k: int | None = None,
    ) -> list[dict[str, Any]]:
        """The rows of :meth:`rank` as dicts, only the best ``k`` (all when ``None``).

        The online path: no DataFrame is built for the result, and the per-ad breakdown is
        computed for the returned rows only.
        """
        ctx = dict(context or {})
        progress = float(ctx.pop("progress", 1.0))
        if not 0.0 <= progress <= 1.0:
            raise InputError(f"context progress must be in [0, 1]; got {progress}.")
        if candidates is None:
            pos = np.arange(len(self._ids))
        else:
            pos = self._positions(candidates)
        if len(pos) == 0:
            raise InputError("give at least one candidate ad.")
        ids = self._ids[pos]
        # object columns: pandas would otherwise convert the ids to Arrow strings here and
        # back to Python strings in every model's look-up (a third of a request's time)
        frame = pd.DataFrame({"user_id": np.full(len(ids), str(user), dtype=object),
                              "ad_id": ids, **{key: [v] * len(ids) for key, v in ctx.items()}},
                             dtype=object)
        p_ctr = np.asarray(self.predict_ctr(frame), dtype=float)
        p_cvr = None if self.predict_cvr is None else self.predict_cvr(frame)
        p_cvr = (
            np.full(len(ids), self.cvr_fallback) if p_cvr is None else np.asarray(p_cvr, float)
        )
        cpa = self._cpa[pos]
        ev = np.where(cpa, p_ctr * p_cvr * self._cpa_bid[pos], p_ctr * self._bid[pos])
        ok, reasons = self._eligible(str(user), pos, progress)
        # eligible first, then by expected value; stable, so ties keep the candidates' order
        order = np.lexsort((-ev, ~ok))[: len(pos) if k is None else k]
        facts = (self.explain(frame.iloc[order]) if self.explain is not None
                 else [{} for _ in order])
        return [
            {
                "ad_id": ids[j],
                "campaign_id": self._campaign[pos[j]],
                "pricing": self._pricing[pos[j]],
                "p_ctr": float(p_ctr[j]),
                "p_cvr": float(p_cvr[j]),
                "bid": float(self._bid[pos[j]]) if self.priced else None,
                "cpa_bid": float(self._cpa_bid[pos[j]]),
                "expected_value": float(ev[j]),
                "eligible": bool(ok[j]),
                "reason": reasons[j],
                "factors": {"source": self.source,
                            **{name: round(float(v), 4) for name, v in f.items()}},
            }
            for j, f in zip(order, facts, strict=True)
        ]

    def choose(self, user: Any, candidates: Any = None, context: Mapping[str, Any] | None = None):
        """The best eligible ad's row (a Series), or ``None`` when nothing may be served."""
        r = self.rank(user, candidates, context)
        return r.iloc[0] if len(r) and bool(r["eligible"].iloc[0]) else None

    def record(self, user: Any, ad_id: Any, cost: float = 0.0) -> None:
        """Book an impression (for the frequency cap) and its cost (for the budget)."""
        ad = str(ad_id)
        if ad not in self.ads.index:
            raise InputError(f"unknown ad {ad!r}.")
        if not np.isfinite(cost) or cost < 0:
            raise InputError(f"cost must be a finite number >= 0; got {cost!r}.")
        self.shown[(str(user), ad)] += 1
        self.spend[self.ads.loc[ad, "campaign_id"]] += float(cost)

    def spend_report(self) -> pd.DataFrame:
        """Spend vs budget per campaign."""
        rows = [
            {"campaign_id": c, "budget": b, "spent": self.spend.get(c, 0.0)}
            for c, b in self.budgets.items()
        ]
        return pd.DataFrame(rows)

