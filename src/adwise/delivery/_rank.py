"""The delivery decision: expected-value ranking under frequency caps and paced budgets.

:class:`ClickModel` estimates pCTR and pCVR from the impression log when no behaviour model
is trained (a calibrated logistic model over the recommender's user-by-category evidence);
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
from scipy.special import logit

from adwise._exceptions import InputError
from adwise._params import Interval
from adwise.base import AdwiseEstimator, check_is_fitted

__all__ = ["ClickModel", "DeliveryPlanner"]

log = logging.getLogger(__name__)

_FEATURES = ("user_cat_ctr", "user_cat_share", "ad_ctr", "user_ctr", "cat_ctr", "text_cat")


def _smooth(num: np.ndarray, den: np.ndarray, prior: np.ndarray | float, strength: float):
    return (num + strength * prior) / (den + strength)


class ClickModel(AdwiseEstimator):
    """Calibrated pCTR and pCVR from an impression log (logistic regression on evidence).

    For an impression of ad ``a`` (category ``c``) to user ``u`` the features are smoothed,
    leave-one-out log rates (the row's own outcome is removed when training, so no label
    leaks into its features):

    * ``user_cat_ctr``  : :math:`\\log \\frac{clicks_{uc} + m\\,CTR_c}{imps_{uc} + m}`
      (the user's click-through on the category, shrunk to the category's);
    * ``user_cat_share``: :math:`\\log(\\frac{imps_{uc} + 1}{imps_u + n_{cat}})` (what the
      logging policy believed about the user's interests);
    * ``ad_ctr``, ``user_ctr``, ``cat_ctr``: the ad's, the user's and the category's smoothed
      log click-through.

    A logistic regression on these gives pCTR (calibrated by construction, Platt-like); a
    second one on clicked rows with the ad's and the category's smoothed log conversion rates
    gives pCVR = P(convert | click).  Unknown users fall back to the category and ad rates,
    unknown ads to the category rate (or the global rate without a category).

    Parameters
    ----------
    strength : float, default 20.0
        Prior strength ``m`` of the smoothing (pseudo-impressions).
    C : float, default 1.0
        Inverse regularisation of the logistic regressions.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "strength": [Interval(float, 0, None, closed="neither")],
        "C": [Interval(float, 0, None, closed="neither")],
    }

    def __init__(self, strength: float = 20.0, C: float = 1.0) -> None:
        self.strength = strength
        self.C = C

    def fit(
        self,
        events: pd.DataFrame,
        ad_category: Mapping[Any, Any] | None = None,
        user_text: Mapping[Any, Any] | None = None,
    ) -> ClickModel:
        """Fit on rows with ``user_id``, ``ad_id``, ``clicked`` (and ``converted`` for pCVR).

        ``ad_category`` maps ad id -> category (default: every ad its own category);
        ``user_text`` maps user id -> free text (stated interests, bio), from which a ridge
        regression learns each user's category shares (the ``text_cat`` feature; it also
        serves users with text but no history).
        """
        from sklearn.linear_model import LogisticRegression

        self._validate_params()
        for c in ("user_id", "ad_id", "clicked"):
            if c not in events.columns:
                raise InputError(f"ClickModel: the events lack column {c!r}.")
        if len(events) == 0:
            raise InputError("ClickModel: no events given.")
        e = pd.DataFrame(
            {
                "u": events["user_id"].astype(str).to_numpy(dtype=object),
                "a": events["ad_id"].astype(str).to_numpy(dtype=object),
                "y": events["clicked"].to_numpy(dtype=float),
                "v": (
                    events["converted"].to_numpy(dtype=float)
                    if "converted" in events.columns
                    else np.zeros(len(events))
                ),
            }
        )
        cats = {str(k): str(v) for k, v in (ad_category or {}).items()}
        e["c"] = e["a"].map(cats).fillna(e["a"])
        self.ad_category_ = dict(zip(e["a"], e["c"], strict=False)) | cats
        self.global_ctr_ = float(e["y"].mean())
        self.n_categories_ = int(max(1, len(set(self.ad_category_.values()))))
        # aggregates (stored for serving)
        self.user_stats_ = e.groupby("u")[["y"]].agg(["sum", "count"]).droplevel(0, axis=1)
        self.ad_stats_ = e.groupby("a")[["y", "v"]].sum().join(e.groupby("a").size().rename("n"))
        self.cat_stats_ = e.groupby("c")[["y", "v"]].sum().join(e.groupby("c").size().rename("n"))
        self.uc_stats_ = e.groupby(["u", "c"])["y"].agg(["sum", "count"])
        self._fit_text(e, user_text)
        X = self._features(e["u"].to_numpy(), e["a"].to_numpy(), loo=e["y"].to_numpy())
        self.ctr_model_ = LogisticRegression(C=self.C, max_iter=500).fit(X, e["y"].to_numpy())
        clicked = e["y"].to_numpy() > 0
        self.global_cvr_ = float(e.loc[clicked, "v"].mean()) if clicked.any() else 0.0
        self.cvr_model_ = None
        if clicked.sum() >= 20 and 0 < e.loc[clicked, "v"].sum() < clicked.sum():
            ec = e[clicked]
            Xc = self._cvr_features(ec["a"].to_numpy(), loo=ec["v"].to_numpy())
            self.cvr_model_ = LogisticRegression(C=self.C, max_iter=500).fit(Xc, ec["v"])
        return self

    def _fit_text(self, e: pd.DataFrame, user_text: Mapping[Any, Any] | None) -> None:
        """Ridge regression from user-text TF-IDF to the user's category shares of engagement
        (impressions plus ten times clicks), so words like "ski holidays" map to travel."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import Ridge

        self.text_model_ = None
        self.categories_ = np.array(sorted(set(self.ad_category_.values())), dtype=object)
        if not user_text:
            return
        texts = pd.Series({str(k): str(v) for k, v in user_text.items() if pd.notna(v)})
        w = e.assign(w=1.0 + 10.0 * e["y"]).groupby(["u", "c"])["w"].sum().unstack(fill_value=0)
        w = w.reindex(columns=self.categories_, fill_value=0.0)
        w = w[w.index.isin(texts.index)]
        if len(w) < 20:
            return
        Y = w.to_numpy() / w.to_numpy().sum(axis=1, keepdims=True)
        vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
        try:
            X = vec.fit_transform(texts.reindex(w.index).to_numpy())
        except ValueError:  # empty vocabulary
            return
        self.text_vectorizer_ = vec
        self.text_model_ = Ridge(alpha=1.0).fit(X, Y)
        self.user_text_ = texts
        self.user_text_cat_ = pd.DataFrame(
            np.clip(self.text_model_.predict(vec.transform(texts.to_numpy())), 0.0, None) + 0.02,
            index=texts.index, columns=self.categories_,
        )

    def _text_feature(self, u: np.ndarray, c: np.ndarray) -> np.ndarray:
        if self.text_model_ is None:
            return np.zeros(len(u))
        tab = self.user_text_cat_
        rows = tab.index.get_indexer(u)
        cols = tab.columns.get_indexer(c)
        vals = tab.to_numpy()
        out = np.full(len(u), np.log(1.0 / max(1, len(self.categories_))))
        ok = (rows >= 0) & (cols >= 0)
        out[ok] = np.log(vals[rows[ok], cols[ok]])
        return out

    def _features(self, u: np.ndarray, a: np.ndarray, loo: np.ndarray | None = None):
        m = self.strength
        c = pd.Series(a).map(self.ad_category_).fillna(pd.Series(a)).to_numpy(dtype=object)
        own_y = np.zeros(len(u)) if loo is None else loo
        own_n = np.zeros(len(u)) if loo is None else np.ones(len(u))
        g = self.global_ctr_
        cs = self.cat_stats_.reindex(c)
        cat_ctr = _smooth(cs["y"].fillna(0).to_numpy() - own_y, cs["n"].fillna(0).to_numpy()
                          - own_n, g, m)
        ads = self.ad_stats_.reindex(a)
        ad_ctr = _smooth(ads["y"].fillna(0).to_numpy() - own_y, ads["n"].fillna(0).to_numpy()
                         - own_n, cat_ctr, m)
        us = self.user_stats_.reindex(u)
        u_y, u_n = us["sum"].fillna(0).to_numpy() - own_y, us["count"].fillna(0).to_numpy() - own_n
        user_ctr = _smooth(u_y, u_n, g, m)
        uc = self.uc_stats_.reindex(pd.MultiIndex.from_arrays([u, c]))
        uc_y = uc["sum"].fillna(0).to_numpy() - own_y
        uc_n = uc["count"].fillna(0).to_numpy() - own_n
        user_cat_ctr = _smooth(uc_y, uc_n, cat_ctr, m)
        share = (uc_n + 1.0) / (u_n + self.n_categories_)
        return np.column_stack(
            [np.log(user_cat_ctr), np.log(share), np.log(ad_ctr), np.log(user_ctr),
             np.log(cat_ctr), self._text_feature(u, c)]
        )

    def _cvr_features(self, a: np.ndarray, loo: np.ndarray | None = None):
        m = self.strength / 4
        c = pd.Series(a).map(self.ad_category_).fillna(pd.Series(a)).to_numpy(dtype=object)
        own_v = np.zeros(len(a)) if loo is None else loo
        own_n = np.zeros(len(a)) if loo is None else np.ones(len(a))
        g = max(self.global_cvr_, 1e-4)
        cs = self.cat_stats_.reindex(c)
        cat = _smooth(cs["v"].fillna(0).to_numpy() - own_v, cs["y"].fillna(0).to_numpy() - own_n,
                      g, m)
        ads = self.ad_stats_.reindex(a)
        ad = _smooth(ads["v"].fillna(0).to_numpy() - own_v, ads["y"].fillna(0).to_numpy()
                     - own_n, cat, m)
        return np.column_stack([logit(np.clip(ad, 1e-4, 1 - 1e-4)),
                                logit(np.clip(cat, 1e-4, 1 - 1e-4))])

    def predict_ctr(self, frame: pd.DataFrame) -> np.ndarray:
        """P(click) for rows with ``user_id`` and ``ad_id``."""
        check_is_fitted(self, "ctr_model_")
        u = frame["user_id"].astype(str).to_numpy(dtype=object)
        a = frame["ad_id"].astype(str).to_numpy(dtype=object)
        return self.ctr_model_.predict_proba(self._features(u, a))[:, 1]

    def predict_cvr(self, frame: pd.DataFrame) -> np.ndarray:
        """P(convert | click) for rows with ``ad_id``."""
        check_is_fitted(self, "ctr_model_")
        a = frame["ad_id"].astype(str).to_numpy(dtype=object)
        if self.cvr_model_ is None:
            return np.full(len(a), self.global_cvr_)
        return self.cvr_model_.predict_proba(self._cvr_features(a))[:, 1]

    def factors(self, frame: pd.DataFrame) -> list[dict[str, float]]:
        """Per row, each feature's contribution to the click log-odds (coefficient x value,
        centred on the training mean), largest first."""
        check_is_fitted(self, "ctr_model_")
        u = frame["user_id"].astype(str).to_numpy(dtype=object)
        a = frame["ad_id"].astype(str).to_numpy(dtype=object)
        X = self._features(u, a)
        contrib = X * self.ctr_model_.coef_[0]
        out = []
        for row in contrib:
            d = dict(zip(_FEATURES, row - contrib.mean(axis=0) if len(X) > 1 else row,
                         strict=True))
            out.append(dict(sorted(d.items(), key=lambda kv: -abs(kv[1]))))
        return out


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
        bad = (a["pricing"] == "cpc") & ~(a["bid"] > 0)
        bad |= (a["pricing"] == "cpa") & ~(a["cpa_bid"] > 0)
        bad |= ~a["pricing"].isin(["cpc", "cpa"])
        if bad.any():
            first = a.index[bad.to_numpy()][0]
            raise InputError(
                f"DeliveryPlanner: ad {first!r} has no usable price (pricing "
                f"{a.loc[first, 'pricing']!r}, bid {a.loc[first, 'bid']}, cpa_bid "
                f"{a.loc[first, 'cpa_bid']}); CPC ads need bid > 0, CPA ads cpa_bid > 0."
            )
        a["max_charge"] = np.where(a["bid"] > 0, a["bid"], a["cpa_bid"])
        self.ads = a
        self.budgets = a.groupby("campaign_id")["budget"].sum(min_count=1).to_dict()
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
        reasons = []
        ok = np.ones(len(ad_ids), dtype=bool)
        for j, ad in enumerate(ad_ids):
            row = self.ads.loc[ad]
            camp = row["campaign_id"]
            budget = self.budgets.get(camp)
            why = ""
            if self.frequency_cap is not None and self.shown[(user, ad)] >= self.frequency_cap:
                why = f"frequency cap ({self.frequency_cap}) reached"
            elif budget is not None and np.isfinite(budget):
                spent = self.spend[camp]
                if spent + row["max_charge"] > budget:
                    why = "budget exhausted"
                elif self.pacing and spent > budget * progress:
                    why = f"paced: spent {spent:.2f} of {budget:.2f} at {progress:.0%} of period"
            ok[j] = why == ""
            reasons.append(why)
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
        ctx = dict(context or {})
        progress = float(ctx.pop("progress", 1.0))
        if not 0.0 <= progress <= 1.0:
            raise InputError(f"context progress must be in [0, 1]; got {progress}.")
        ids = (
            self.ads.index.to_numpy(dtype=object)
            if candidates is None
            else np.asarray([str(c) for c in candidates], dtype=object)
        )
        unknown = [c for c in ids if c not in self.ads.index]
        if unknown:
            raise InputError(
                f"unknown candidate ad(s): {', '.join(map(repr, unknown[:5]))}; ingest them "
                "into the ads table first."
            )
        if len(ids) == 0:
            raise InputError("give at least one candidate ad.")
        frame = pd.DataFrame({"user_id": str(user), "ad_id": ids})
        for k, v in ctx.items():
            frame[k] = v
        p_ctr = np.asarray(self.predict_ctr(frame), dtype=float)
        p_cvr = None if self.predict_cvr is None else self.predict_cvr(frame)
        p_cvr = (
            np.full(len(ids), self.cvr_fallback) if p_cvr is None else np.asarray(p_cvr, float)
        )
        a = self.ads.loc[ids]
        cpa = (a["pricing"] == "cpa").to_numpy()
        ev = np.where(cpa, p_ctr * p_cvr * a["cpa_bid"].to_numpy(), p_ctr * a["bid"].to_numpy())
        ok, reasons = self.eligible(str(user), ids, progress)
        facts = self.explain(frame) if self.explain is not None else [{} for _ in ids]
        out = pd.DataFrame(
            {
                "ad_id": ids,
                "campaign_id": a["campaign_id"].to_numpy(),
                "pricing": a["pricing"].to_numpy(),
                "p_ctr": p_ctr,
                "p_cvr": p_cvr,
                "bid": a["bid"].to_numpy(),
                "cpa_bid": a["cpa_bid"].to_numpy(),
                "expected_value": ev,
                "eligible": ok,
                "reason": reasons,
                "factors": [
                    {"source": self.source, **{k: round(float(v), 4) for k, v in f.items()}}
                    for f in facts
                ],
            }
        )
        return out.sort_values(
            ["eligible", "expected_value"], ascending=[False, False], kind="stable"
        ).reset_index(drop=True)

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

