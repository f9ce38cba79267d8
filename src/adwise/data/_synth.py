"""A synthetic ad world whose ground truth is known, so tests can check that models recover it.

The world has users in latent segments, ads with creatives, four placements, and a logging
policy that chose which ad each impression showed.  Every random outcome is drawn from a model
kept in :class:`Truth`, which can recompute the exact click and conversion probabilities for
*any* (user, ad, slot, hour, weekday), not only the logged ones.

The generative story, in order:

1. **Segments.**  ``n_segments`` latent segments (readable names such as "young mobile gamers"),
   each with its own age / gender / region / device distribution, an interest mixture
   concentrated on two or three of the twelve ad categories, an hour-of-day and weekday profile,
   and a treatment effect.
2. **Users.**  Each user belongs to one segment; their interests are a Dirichlet draw around the
   segment's mixture plus a small personal component; their activity (expected impressions per
   day) is lognormal, so a few users produce many of the events; their click bias is normal.
3. **Ads.**  Ads belong to campaigns and advertisers within one category, carry a CPC bid (or a
   target CPA, about one ad in five), a daily budget, and a headline and description built from
   per-category vocabularies.  Some headlines carry "power words" with known effects; an ad's
   hidden click quality is the sum of those effects plus noise.
4. **Impressions.**  For each day and user the number of impressions is Poisson(activity x
   weekday profile); the hour follows the segment's activity profile.  The logging policy picks
   the ad: with probability ``epsilon`` uniformly, otherwise by a softmax over a *noisy* estimate
   of the user's affinity.  The placement is uniform over the slots.  The exact probability of
   the chosen ad is logged as ``propensity``.
5. **Outcomes.**  ``clicked ~ Bernoulli(p_click)`` with::

       p_click = sigmoid(intercept + affinity(user, ad) + slot_effect[slot]
                         + hour_effect[segment, hour] + weekday_effect[segment, weekday])
       affinity = interest_weight * log(n_categories * interest[user, category(ad)]
                                        + interest_floor)
                  + ad_quality[ad] + user_bias[user]

   then, only after a click, ``converted ~ Bernoulli(p_convert)`` with::

       p_convert = sigmoid(cvr_intercept + ad_cvr_quality[ad]
                           + cvr_interest_weight * log(n_categories * interest + interest_floor)
                           + tau[user] * treatment[user])

   ``treatment`` is a user-level 50/50 randomised campaign (think: a coupon e-mail) whose effect
   ``tau`` (logit units, on conversion after a click) differs by segment and age band.
   ``cost`` is the price of a click, ``bid * U(0.6, 1.0)``, and ``revenue`` a lognormal draw
   around the category's price on conversion.

Memory: :func:`write_world` generates one day at a time and, within a day, at most
``_SLICE`` impressions at once, appending each slice to the output files.  Per-impression
working memory is a few hundred bytes, so a slice costs well under 200 MB whatever the world's
size; the per-user state (interests, activity) is ``O(n_users * 12)`` floats.  Ten million
events therefore stream in far less than 4 GB.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from scipy.special import expit, logsumexp

from adwise._exceptions import InputError, ParameterError
from adwise._params import Interval, Options, Predicate, validate_params
from adwise.data._vocab import (
    AGE_BANDS,
    BRAND_STEMS,
    CATEGORIES,
    CATEGORY_ECONOMICS,
    DEVICES,
    GENDERS,
    POWER_WORDS,
    REGIONS,
    USER_TEXT_TEMPLATES,
    VOCAB,
    display_width,
)

__all__ = ["SyntheticWorld", "Truth", "generate_world", "load_truth", "write_world"]

logger = logging.getLogger(__name__)

# Impressions processed at once inside a day.  Fixed (not a parameter) because the random
# stream is consumed slice by slice: changing it would change the world for a given seed.
_SLICE = 1 << 18

HEADLINE_MAX = 30
DESCRIPTION_MAX = 90

# (name, additive logit effect).  The first four are the default slots; ordering by effect is
# top > feed > side > bottom so a placement model has a clear answer.
_SLOTS: tuple[tuple[str, float], ...] = (
    ("top", 0.50),
    ("side", -0.30),
    ("feed", 0.15),
    ("bottom", -0.75),
    ("interstitial", 0.65),
    ("footer", -1.00),
    ("sticky", -0.15),
    ("native", 0.30),
)

# The click and conversion model's constants.  The intercept is set so the overall CTR under
# the logging policy lands near 1.5-2 %.
_COEF: dict[str, float] = {
    "intercept": -4.95,
    "interest_weight": 0.8,
    "interest_floor": 0.05,
    "cvr_intercept": -0.4,
    "cvr_interest_weight": 0.5,
    "quality_noise_sd": 0.2,
    "cvr_quality_noise_sd": 0.3,
    "user_bias_sd": 0.3,
    "tau_noise_sd": 0.15,
    "treatment_share": 0.5,
    "policy_epsilon": 0.25,
    "policy_temperature": 0.6,
    "policy_interest_noise_sd": 0.5,
    "policy_quality_noise_sd": 0.3,
    "activity_mean": 3.0,
    "activity_sigma": 1.0,
    "interest_concentration": 30.0,
    "personal_interest_share": 0.15,
    "device_switch_rate": 0.12,
    "revenue_sigma": 0.5,
    "hour_activity_gain": 1.5,
    "weekday_activity_gain": 0.8,
}

# Everyone is less active at night, whatever their segment.
_NIGHT = np.zeros(24)
_NIGHT[[0, 1, 2, 3, 4, 5, 6, 23]] = [-0.6, -1.2, -2.0, -2.0, -2.0, -1.2, -0.5, -0.2]


@dataclass(frozen=True)
class _Archetype:
    name: str
    top: tuple[str, ...]
    age: tuple[float, ...]
    gender: tuple[float, ...]
    region: tuple[float, ...]
    device: tuple[float, ...]
    peaks: tuple[tuple[float, float], ...]  # (hour of peak, logit amplitude)
    weekend: float  # weekend minus weekday logit effect
    tau: float  # treatment effect on conversion, logit units


_ARCHETYPES: tuple[_Archetype, ...] = (
    _Archetype(
        "young mobile gamers", ("gaming", "electronics", "sports"),
        (0.60, 0.30, 0.07, 0.02, 0.01, 0.0), (0.25, 0.72, 0.03),
        (0.15, 0.20, 0.30, 0.15, 0.20), (0.85, 0.10, 0.05),
        ((22.0, 0.7), (16.0, 0.3)), 0.35, -0.3,
    ),
    _Archetype(
        "fashion-forward urban women", ("fashion", "beauty", "travel"),
        (0.25, 0.50, 0.18, 0.05, 0.02, 0.0), (0.85, 0.13, 0.02),
        (0.10, 0.15, 0.45, 0.10, 0.20), (0.75, 0.10, 0.15),
        ((12.5, 0.6), (20.0, 0.45)), 0.15, 0.7,
    ),
    _Archetype(
        "budget-minded families", ("home", "food", "education"),
        (0.02, 0.25, 0.45, 0.20, 0.06, 0.02), (0.55, 0.43, 0.02),
        (0.20, 0.30, 0.10, 0.20, 0.20), (0.40, 0.25, 0.35),
        ((20.5, 0.65), (7.0, 0.25)), 0.30, 0.9,
    ),
    _Archetype(
        "business travellers", ("travel", "finance", "electronics"),
        (0.02, 0.25, 0.35, 0.28, 0.10, 0.0), (0.35, 0.63, 0.02),
        (0.15, 0.10, 0.25, 0.15, 0.35), (0.35, 0.60, 0.05),
        ((8.0, 0.55), (13.0, 0.4)), -0.35, 0.0,
    ),
    _Archetype(
        "health-conscious retirees", ("health", "home", "food"),
        (0.0, 0.0, 0.02, 0.13, 0.40, 0.45), (0.55, 0.44, 0.01),
        (0.25, 0.30, 0.10, 0.20, 0.15), (0.25, 0.35, 0.40),
        ((10.0, 0.6), (15.0, 0.3)), 0.0, 0.4,
    ),
    _Archetype(
        "students", ("education", "gaming", "food"),
        (0.75, 0.22, 0.03, 0.0, 0.0, 0.0), (0.50, 0.46, 0.04),
        (0.20, 0.15, 0.20, 0.25, 0.20), (0.80, 0.15, 0.05),
        ((23.0, 0.6), (14.0, 0.35)), -0.10, 0.5,
    ),
    _Archetype(
        "car and sports enthusiasts", ("auto", "sports"),
        (0.10, 0.35, 0.35, 0.15, 0.05, 0.0), (0.15, 0.83, 0.02),
        (0.25, 0.20, 0.10, 0.30, 0.15), (0.55, 0.35, 0.10),
        ((19.0, 0.6),), 0.45, -0.1,
    ),
    _Archetype(
        "affluent investors", ("finance", "travel", "auto"),
        (0.0, 0.08, 0.27, 0.35, 0.22, 0.08), (0.35, 0.63, 0.02),
        (0.10, 0.15, 0.35, 0.15, 0.25), (0.40, 0.50, 0.10),
        ((7.0, 0.55), (21.0, 0.4)), -0.25, 0.0,
    ),
)

# Younger users respond a little more to the coupon campaign.
_AGE_TAU = np.array([0.15, 0.10, 0.0, 0.0, -0.10, -0.20])

_FORMULAS = {
    "affinity": (
        "interest_weight * log(n_categories * interest[user, category(ad)] + interest_floor)"
        " + ad_quality[ad] + user_bias[user]"
    ),
    "p_click": (
        "sigmoid(intercept + affinity(user, ad) + slot_effect[slot]"
        " + hour_effect[segment(user), hour] + weekday_effect[segment(user), weekday])"
    ),
    "p_convert": (
        "P(converted | clicked) = sigmoid(cvr_intercept + ad_cvr_quality[ad]"
        " + cvr_interest_weight"
        " * log(n_categories * interest[user, category(ad)] + interest_floor)"
        " + tau[user] * treatment)"
    ),
    "uplift": (
        "p_convert(user, ad, treatment=1) - p_convert(user, ad, treatment=0): the treatment"
        " effect on P(converted | clicked); Truth.uplift(users) averages it over all ads with"
        " equal weight; tau (logit units) is the per-user effect behind it"
    ),
    "ad_quality": "sum of word_effects of the power words in the headline + N(0, quality_noise_sd)",
    "logging_policy": (
        "P(ad | user) = epsilon / n_ads + (1 - epsilon) * softmax_over_ads(score / temperature),"
        " score = interest_weight * log(n_categories * policy_interest[user, category(ad)]"
        " + interest_floor) + policy_quality[ad] (a noisy estimate of affinity); slot uniform"
    ),
    "cost": "bid * U(0.6, 1.0) rounded to cents (>= 0.01) when clicked, else 0",
    "revenue": "price[category] * lognormal(-sigma^2/2, sigma) when converted, else 0",
    "hour_activity": "P(hour | segment) proportional to exp(hour_activity_gain * hour_effect"
    " + night_dip[hour])",
}


# --------------------------------------------------------------------------------------------
# Truth
# --------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Truth:
    """Everything needed to recompute the true probabilities of the synthetic world.

    Indices (``user_idx``, ``ad_idx``, ``slot_idx``) are positions in :attr:`user_ids`,
    :attr:`ad_ids` and :attr:`slots`; map ids with :meth:`user_index` / :meth:`ad_index` /
    :meth:`slot_index`.  ``hour`` is 0-23 and ``weekday`` 0 (Monday) to 6.

    Attributes
    ----------
    categories, slots, segment_names : list of str
    user_ids : ndarray of str
    user_segment : ndarray of int
    user_interest : ndarray, shape (n_users, n_categories)
        Rows sum to 1.
    user_bias : ndarray
        Additive click logit per user.
    user_tau : ndarray
        Treatment effect on the conversion logit (after a click) per user.
    user_treatment : ndarray of int
        The randomised 0/1 treatment each user received.
    user_activity : ndarray
        Expected impressions per day (before the weekday profile).
    ad_ids : ndarray of str
    ad_category : ndarray of int
    ad_quality : ndarray
        Additive click logit per ad (power words + noise).
    ad_cvr_quality : ndarray
        Conversion logit per ad before the interest and treatment terms.
    slot_effect : ndarray, shape (n_slots,)
    hour_effect : ndarray, shape (n_segments, 24)
    weekday_effect : ndarray, shape (n_segments, 7)
    policy_interest : ndarray, shape (n_users, n_categories)
        The logging policy's noisy estimate of the interests.
    policy_quality : ndarray
        The logging policy's noisy estimate of each ad's quality.
    coef : dict
        The formulas' constants, incl. ``word_effects`` (power word -> logit effect) and
        ``word_forms`` (power word -> surface form in the world's language).
    meta : dict
        Seed, sizes, segment profiles, formulas and summary figures (written to truth.json).
    """

    categories: list[str]
    slots: list[str]
    segment_names: list[str]
    user_ids: np.ndarray
    user_segment: np.ndarray
    user_interest: np.ndarray
    user_bias: np.ndarray
    user_tau: np.ndarray
    user_treatment: np.ndarray
    user_activity: np.ndarray
    ad_ids: np.ndarray
    ad_category: np.ndarray
    ad_quality: np.ndarray
    ad_cvr_quality: np.ndarray
    slot_effect: np.ndarray
    hour_effect: np.ndarray
    weekday_effect: np.ndarray
    policy_interest: np.ndarray
    policy_quality: np.ndarray
    coef: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)

    # ---- id lookups -------------------------------------------------------------------------

    def user_index(self, user_ids: Any) -> np.ndarray:
        """Positions of ``user_ids`` in :attr:`user_ids`; raises ``InputError`` on unknown ids."""
        return _lookup(self.user_ids, user_ids, "user_id")

    def ad_index(self, ad_ids: Any) -> np.ndarray:
        """Positions of ``ad_ids`` in :attr:`ad_ids`; raises ``InputError`` on unknown ids."""
        return _lookup(self.ad_ids, ad_ids, "ad_id")

    def slot_index(self, placements: Any) -> np.ndarray:
        """Positions of placement names in :attr:`slots`."""
        return _lookup(np.asarray(self.slots, dtype=object), placements, "placement")

    # ---- the model --------------------------------------------------------------------------

    def _interest_term(self, user_idx: Any, ad_idx: Any) -> np.ndarray:
        u = np.asarray(user_idx)
        a = np.asarray(ad_idx)
        x = self.user_interest[u, self.ad_category[a]]
        return np.log(len(self.categories) * x + self.coef["interest_floor"])

    def affinity(self, user_idx: Any, ad_idx: Any) -> np.ndarray:
        """True user x ad click affinity in logit units (no intercept, slot or time terms).

        ``interest_weight * log(n_cat * interest + floor) + ad_quality + user_bias``; the
        oracle score for "ratings mode" and ranking benchmarks.  Broadcasts like NumPy.
        """
        u = np.asarray(user_idx)
        a = np.asarray(ad_idx)
        return (
            self.coef["interest_weight"] * self._interest_term(u, a)
            + self.ad_quality[a]
            + self.user_bias[u]
        )

    def click_logit(
        self, user_idx: Any, ad_idx: Any, slot_idx: Any, hour: Any, weekday: Any
    ) -> np.ndarray:
        """The click logit; ``p_click`` is its sigmoid."""
        u = np.asarray(user_idx)
        seg = self.user_segment[u]
        return (
            self.coef["intercept"]
            + self.affinity(u, ad_idx)
            + self.slot_effect[np.asarray(slot_idx)]
            + self.hour_effect[seg, np.asarray(hour)]
            + self.weekday_effect[seg, np.asarray(weekday)]
        )

    def p_click(
        self, user_idx: Any, ad_idx: Any, slot_idx: Any, hour: Any, weekday: Any
    ) -> np.ndarray:
        """Exact probability of a click, the one used to draw ``clicked`` (vectorised)."""
        return expit(self.click_logit(user_idx, ad_idx, slot_idx, hour, weekday))

    def p_convert(self, user_idx: Any, ad_idx: Any, treatment: Any = 0) -> np.ndarray:
        """Exact P(converted | clicked) for a user, ad and treatment (0/1, scalar or array)."""
        u = np.asarray(user_idx)
        a = np.asarray(ad_idx)
        logit = (
            self.coef["cvr_intercept"]
            + self.ad_cvr_quality[a]
            + self.coef["cvr_interest_weight"] * self._interest_term(u, a)
            + self.user_tau[u] * np.asarray(treatment)
        )
        return expit(logit)

    def uplift(self, user_idx: Any, ad_idx: Any = None) -> np.ndarray:
        """True treatment effect on P(converted | clicked), on the probability scale.

        With ``ad_idx`` it is exact for those (user, ad) pairs; without, it is averaged over
        all ads with equal weight (one number per user).  The logit-scale effect behind it is
        :attr:`user_tau`; both rank users the same way within an ad.
        """
        u = np.asarray(user_idx)
        if ad_idx is not None:
            return self.p_convert(u, ad_idx, 1) - self.p_convert(u, ad_idx, 0)
        u = np.atleast_1d(u)
        out = np.empty(len(u))
        ads = np.arange(len(self.ad_ids))
        step = max(1, 4_000_000 // max(1, len(ads)))  # bound the (users x ads) block
        for lo in range(0, len(u), step):
            block = u[lo : lo + step, None]
            out[lo : lo + step] = (
                self.p_convert(block, ads[None, :], 1) - self.p_convert(block, ads[None, :], 0)
            ).mean(axis=1)
        return out if np.ndim(user_idx) else out[0]

    # ---- the logging policy -----------------------------------------------------------------

    def _policy_parts(self, user_idx: Any) -> tuple[np.ndarray, np.ndarray]:
        """(P(category | user) of the greedy part, shape (n, n_cat); P(ad | category))."""
        temp = self.coef["policy_temperature"]
        n_cat = len(self.categories)
        z = self.policy_quality / temp
        log_s = np.full(n_cat, -np.inf)
        for c in range(n_cat):
            members = self.ad_category == c
            if members.any():
                log_s[c] = logsumexp(z[members])
        within = np.exp(z - log_s[self.ad_category])
        pi = self.policy_interest[np.atleast_1d(np.asarray(user_idx))]
        score = (
            self.coef["interest_weight"] * np.log(n_cat * pi + self.coef["interest_floor"]) / temp
            + log_s[None, :]
        )
        score -= score.max(axis=1, keepdims=True)
        w = np.exp(score)
        return w / w.sum(axis=1, keepdims=True), within

    def policy_proba(self, user_idx: Any) -> np.ndarray:
        """The logging policy's probability of each ad for each user, shape (n, n_ads).

        Rows sum to 1; the placement is chosen independently and uniformly
        (``1 / n_slots``), and the policy does not depend on hour or weekday.
        """
        eps = self.coef["policy_epsilon"]
        cat_p, within = self._policy_parts(user_idx)
        greedy = cat_p[:, self.ad_category] * within[None, :]
        return eps / len(self.ad_ids) + (1.0 - eps) * greedy

    # ---- convenience ------------------------------------------------------------------------

    def p_click_events(self, events: pd.DataFrame) -> np.ndarray:
        """True ``p_click`` for rows with ``user_id``, ``ad_id``, ``placement`` and ``ts``."""
        ts = pd.to_datetime(events["ts"])
        return self.p_click(
            self.user_index(events["user_id"]),
            self.ad_index(events["ad_id"]),
            self.slot_index(events["placement"]),
            ts.dt.hour.to_numpy(),
            ts.dt.day_of_week.to_numpy(),
        )

    def cells(self) -> pd.DataFrame:
        """Additive logit effect of every (segment, placement, hour, weekday) cell."""
        n_seg, n_slot = len(self.segment_names), len(self.slots)
        seg, slot, hour, wd = np.meshgrid(
            np.arange(n_seg), np.arange(n_slot), np.arange(24), np.arange(7), indexing="ij"
        )
        seg, slot, hour, wd = (x.ravel() for x in (seg, slot, hour, wd))
        effect = self.slot_effect[slot] + self.hour_effect[seg, hour] + self.weekday_effect[seg, wd]
        return pd.DataFrame(
            {
                "segment": seg.astype(np.int64),
                "segment_name": np.asarray(self.segment_names, dtype=object)[seg],
                "placement": np.asarray(self.slots, dtype=object)[slot],
                "hour": hour.astype(np.int64),
                "weekday": wd.astype(np.int64),
                "effect": effect,
            }
        )

    # ---- persistence ------------------------------------------------------------------------

    def save(self, dir: str | Path) -> Path:
        """Write truth.json, truth_users.parquet, truth_ads.parquet and truth_cells.parquet."""
        d = Path(dir)
        d.mkdir(parents=True, exist_ok=True)
        doc = {k: v for k, v in self.meta.items() if k != "ad_power_words"}
        doc.update(
            {
                "format": "adwise-synth-truth",
                "version": 1,
                "categories": list(self.categories),
                "slots": list(self.slots),
                "segment_names": list(self.segment_names),
                "coef": self.coef,
                "slot_effect": self.slot_effect.tolist(),
                "hour_effect": self.hour_effect.tolist(),
                "weekday_effect": self.weekday_effect.tolist(),
                "formulas": _FORMULAS,
            }
        )
        (d / "truth.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False), "utf-8")
        users = {
            "user_id": self.user_ids.astype(str),
            "segment": self.user_segment.astype(np.int64),
            "segment_name": np.asarray(self.segment_names, dtype=object)[self.user_segment],
        }
        for j, c in enumerate(self.categories):
            users[f"interest_{c}"] = self.user_interest[:, j]
        users.update(
            {
                "bias": self.user_bias,
                "tau": self.user_tau,
                "uplift": self.uplift(np.arange(len(self.user_ids))),
                "treatment": self.user_treatment.astype(np.int64),
                "activity": self.user_activity,
            }
        )
        for j, c in enumerate(self.categories):
            users[f"policy_interest_{c}"] = self.policy_interest[:, j]
        _write_parquet(pa.table(users), d / "truth_users.parquet")
        ads = pa.table(
            {
                "ad_id": self.ad_ids.astype(str),
                "category": np.asarray(self.categories, dtype=object)[self.ad_category],
                "category_idx": self.ad_category.astype(np.int64),
                "quality": self.ad_quality,
                "cvr_quality": self.ad_cvr_quality,
                "policy_quality": self.policy_quality,
                "power_words": self.meta.get("ad_power_words", [""] * len(self.ad_ids)),
            }
        )
        _write_parquet(ads, d / "truth_ads.parquet")
        _write_parquet(pa.Table.from_pandas(self.cells(), preserve_index=False),
                       d / "truth_cells.parquet")
        return d

    @classmethod
    def load(cls, dir: str | Path) -> Truth:
        """Read what :meth:`save` wrote."""
        d = Path(dir)
        path = d / "truth.json"
        if not path.exists():
            raise InputError(f"{path}: no such file; point at a folder written by 'adwise synth'.")
        doc = json.loads(path.read_text("utf-8"))
        users = pq.read_table(d / "truth_users.parquet").to_pandas()
        ads = pq.read_table(d / "truth_ads.parquet").to_pandas()
        cats = list(doc["categories"])
        meta = {
            k: v
            for k, v in doc.items()
            if k
            not in {
                "format", "version", "categories", "slots", "segment_names", "coef",
                "slot_effect", "hour_effect", "weekday_effect", "formulas",
            }
        }
        meta["ad_power_words"] = ads["power_words"].astype(str).tolist()
        return cls(
            categories=cats,
            slots=list(doc["slots"]),
            segment_names=list(doc["segment_names"]),
            user_ids=users["user_id"].to_numpy(dtype=object),
            user_segment=users["segment"].to_numpy(dtype=np.int64),
            user_interest=users[[f"interest_{c}" for c in cats]].to_numpy(dtype=np.float64),
            user_bias=users["bias"].to_numpy(dtype=np.float64),
            user_tau=users["tau"].to_numpy(dtype=np.float64),
            user_treatment=users["treatment"].to_numpy(dtype=np.int64),
            user_activity=users["activity"].to_numpy(dtype=np.float64),
            ad_ids=ads["ad_id"].to_numpy(dtype=object),
            ad_category=ads["category_idx"].to_numpy(dtype=np.int64),
            ad_quality=ads["quality"].to_numpy(dtype=np.float64),
            ad_cvr_quality=ads["cvr_quality"].to_numpy(dtype=np.float64),
            slot_effect=np.asarray(doc["slot_effect"], dtype=np.float64),
            hour_effect=np.asarray(doc["hour_effect"], dtype=np.float64),
            weekday_effect=np.asarray(doc["weekday_effect"], dtype=np.float64),
            policy_interest=users[[f"policy_interest_{c}" for c in cats]].to_numpy(
                dtype=np.float64
            ),
            policy_quality=ads["policy_quality"].to_numpy(dtype=np.float64),
            coef=doc["coef"],
            meta=meta,
        )


def load_truth(dir: str | Path) -> Truth:
    """Load the ground truth written beside a synthetic world (see :meth:`Truth.load`)."""
    return Truth.load(dir)


def _lookup(known: np.ndarray, values: Any, what: str) -> np.ndarray:
    values = np.atleast_1d(np.asarray(values, dtype=object))
    idx = pd.Index(known).get_indexer(values)
    if (idx < 0).any():
        bad = values[idx < 0][:5].tolist()
        raise InputError(f"unknown {what} value(s) for this synthetic world: {bad}.")
    return idx.astype(np.int64)


# --------------------------------------------------------------------------------------------
# The world
# --------------------------------------------------------------------------------------------


@dataclass
class SyntheticWorld:
    """An in-memory synthetic world: the three contract tables and the truth.

    ``truth_events`` holds, per logged impression, the true probabilities behind it
    (``p_click``, ``p_convert``, ``propensity``, ``slot_propensity``, ...).
    """

    events: pd.DataFrame
    users: pd.DataFrame
    ads: pd.DataFrame
    truth: Truth
    truth_events: pd.DataFrame | None = None


@dataclass
class _Plan:
    """The world before any impression is drawn: truth plus per-user/per-ad extras."""

    truth: Truth
    users: pa.Table
    ads: pa.Table
    user_device: np.ndarray
    hour_p: np.ndarray  # (n_segments, 24)
    weekday_activity: np.ndarray  # (n_segments, 7), mean 1 over the week
    ad_bid: np.ndarray
    ad_price: np.ndarray
    seed: int
    days: int
    start: np.datetime64
    first_weekday: int


def _check(
    n_users: Any, n_ads: Any, days: Any, seed: Any, lang: Any, n_segments: Any, n_slots: Any,
    start: Any, progress: Any,
) -> np.datetime64:
    validate_params(
        "synthetic world",
        {
            "n_users": n_users, "n_ads": n_ads, "days": days, "seed": seed, "lang": lang,
            "n_segments": n_segments, "n_slots": n_slots, "start": start, "progress": progress,
        },
        {
            "n_users": [Interval(int, 1, None)],
            "n_ads": [Interval(int, 1, None)],
            "days": [Interval(int, 1, 3660)],
            "seed": [Interval(int, 0, None)],
            "lang": [Options(("en", "zh"))],
            "n_segments": [Interval(int, 1, len(_ARCHETYPES))],
            "n_slots": [Interval(int, 1, len(_SLOTS))],
            "start": [str],
            "progress": [None, Predicate(callable, "a callable (done, total)")],
        },
    )
    try:
        return np.datetime64(start, "D")
    except ValueError as exc:
        raise ParameterError(
            f"synthetic world: parameter 'start' must be a date like '2026-01-05'; got {start!r}."
        ) from exc


def _plan_world(
    n_users: int, n_ads: int, days: int, seed: int, lang: str, n_segments: int, n_slots: int,
    start: np.datetime64,
) -> _Plan:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    n_cat = len(CATEGORIES)
    cat_pos = {c: i for i, c in enumerate(CATEGORIES)}
    arch = _ARCHETYPES[:n_segments]

    # ---- segments --------------------------------------------------------------------------
    mixtures = np.empty((n_segments, n_cat))
    for k, a in enumerate(arch):
        tops = [0.40, 0.30] if len(a.top) == 2 else [0.35, 0.25, 0.15]
        rest = (1.0 - sum(tops)) / (n_cat - len(tops))
        mixtures[k] = rest
        for c, w in zip(a.top, tops, strict=True):
            mixtures[k, cat_pos[c]] = w
    hours = np.arange(24)
    hour_effect = np.zeros((n_segments, 24))
    for k, a in enumerate(arch):
        for peak, amp in a.peaks:
            hour_effect[k] += amp * np.exp(3.0 * (np.cos(2 * np.pi * (hours - peak) / 24) - 1))
        hour_effect[k] -= hour_effect[k].mean()  # centred, so it never shifts the intercept
    hour_logits = _COEF["hour_activity_gain"] * hour_effect + _NIGHT[None, :]
    hour_p = np.exp(hour_logits)
    hour_p /= hour_p.sum(axis=1, keepdims=True)
    weekend = (np.arange(7) >= 5).astype(float)
    weekday_effect = np.array([a.weekend for a in arch])[:, None] * (weekend - 2 / 7)[None, :]
    weekday_effect = weekday_effect + rng.normal(0, 0.04, size=(n_segments, 7))
    weekday_effect -= weekday_effect.mean(axis=1, keepdims=True)
    weekday_activity = np.exp(_COEF["weekday_activity_gain"] * weekday_effect)
    weekday_activity /= weekday_activity.mean(axis=1, keepdims=True)
    seg_share = rng.dirichlet(np.full(n_segments, 8.0))

    # ---- users -----------------------------------------------------------------------------
    segment = rng.choice(n_segments, size=n_users, p=seg_share)
    alpha = _COEF["interest_concentration"] * mixtures[segment]
    shared = _dirichlet_rows(rng, alpha)
    personal = _dirichlet_rows(rng, np.full((n_users, n_cat), 0.3))
    share = _COEF["personal_interest_share"]
    interest = (1 - share) * shared + share * personal
    interest /= interest.sum(axis=1, keepdims=True)
    sigma = _COEF["activity_sigma"]
    activity = _COEF["activity_mean"] * np.exp(rng.normal(-sigma**2 / 2, sigma, n_users))
    bias = rng.normal(0, _COEF["user_bias_sd"], n_users)
    age = _draw_by_segment(rng, segment, np.array([a.age for a in arch]))
    gender = _draw_by_segment(rng, segment, np.array([a.gender for a in arch]))
    region = _draw_by_segment(rng, segment, np.array([a.region for a in arch]))
    device = _draw_by_segment(rng, segment, np.array([a.device for a in arch]))
    tau = (
        np.array([a.tau for a in arch])[segment]
        + _AGE_TAU[age]
        + rng.normal(0, _COEF["tau_noise_sd"], n_users)
    )
    treatment = (rng.random(n_users) < _COEF["treatment_share"]).astype(np.int64)
    noisy = interest * np.exp(rng.normal(0, _COEF["policy_interest_noise_sd"], interest.shape))
    policy_interest = noisy / noisy.sum(axis=1, keepdims=True)
    width = max(6, len(str(n_users - 1)))
    user_ids = np.array([f"u{i:0{width}d}" for i in range(n_users)], dtype=object)
    text = _user_texts(rng, interest, lang)

    # ---- ads -------------------------------------------------------------------------------
    ads = _make_ads(rng, n_ads, lang, n_users)
    word_effects = {w.key: w.effect for w in POWER_WORDS}
    ad_quality = ads["power_effect"] + rng.normal(0, _COEF["quality_noise_sd"], n_ads)
    base_cvr = np.array([CATEGORY_ECONOMICS[c][2] for c in CATEGORIES])
    ad_cvr_quality = np.log(base_cvr / (1 - base_cvr))[ads["category"]] + rng.normal(
        0, _COEF["cvr_quality_noise_sd"], n_ads
    )
    policy_quality = ad_quality + rng.normal(0, _COEF["policy_quality_noise_sd"], n_ads)

    slots = [s for s, _ in _SLOTS[:n_slots]]
    coef: dict[str, Any] = dict(_COEF)
    coef["word_effects"] = word_effects
    coef["word_forms"] = {w.key: getattr(w, lang) for w in POWER_WORDS}
    coef["slot_propensity"] = 1.0 / n_slots
    coef["category_price"] = {c: CATEGORY_ECONOMICS[c][0] for c in CATEGORIES}
    coef["category_cvr"] = {c: CATEGORY_ECONOMICS[c][2] for c in CATEGORIES}

    segments_meta = []
    for k, a in enumerate(arch):
        segments_meta.append(
            {
                "segment": k,
                "name": a.name,
                "share": float(seg_share[k]),
                "top_categories": list(a.top),
                "interest_mixture": dict(zip(CATEGORIES, mixtures[k].tolist(), strict=True)),
                "age_band": dict(zip(AGE_BANDS, a.age, strict=True)),
                "gender": dict(zip(GENDERS, a.gender, strict=True)),
                "region": dict(zip(REGIONS, a.region, strict=True)),
                "device": dict(zip(DEVICES, a.device, strict=True)),
                "hour_peaks": [list(p) for p in a.peaks],
                "hour_activity": hour_p[k].tolist(),
                "weekday_activity": weekday_activity[k].tolist(),
                "tau_base": a.tau,
            }
        )
    meta = {
        "seed": seed,
        "lang": lang,
        "start": str(start),
        "days": days,
        "n_users": n_users,
        "n_ads": n_ads,
        "n_segments": n_segments,
        "n_slots": n_slots,
        "segments": segments_meta,
        "age_tau": dict(zip(AGE_BANDS, _AGE_TAU.tolist(), strict=True)),
        "ad_power_words": ads["power_words"],
        "notes": [
            "treatment affects conversion after a click only, not clicks",
            "the device column of events has no effect on clicks",
            "budgets are not enforced by the logging policy; daily spend may exceed them",
            "cpa ads bid a target cost per acquisition (cpa_bid) but, like target-CPA "
            "auto-bidding, pay per click: their bid is cpa_bid * the category's conversion rate",
        ],
    }
    truth = Truth(
        categories=list(CATEGORIES),
        slots=slots,
        segment_names=[a.name for a in arch],
        user_ids=user_ids,
        user_segment=segment.astype(np.int64),
        user_interest=interest,
        user_bias=bias,
        user_tau=tau,
        user_treatment=treatment,
        user_activity=activity,
        ad_ids=ads["ad_id"],
        ad_category=ads["category"].astype(np.int64),
        ad_quality=ad_quality,
        ad_cvr_quality=ad_cvr_quality,
        slot_effect=np.array([e for _, e in _SLOTS[:n_slots]]),
        hour_effect=hour_effect,
        weekday_effect=weekday_effect,
        policy_interest=policy_interest,
        policy_quality=policy_quality,
        coef=coef,
        meta=meta,
    )
    users_table = pa.table(
        {
            "user_id": pa.array(user_ids, pa.string()),
            "age_band": pa.array(np.asarray(AGE_BANDS, dtype=object)[age], pa.string()),
            "gender": pa.array(np.asarray(GENDERS, dtype=object)[gender], pa.string()),
            "region": pa.array(np.asarray(REGIONS, dtype=object)[region], pa.string()),
            "device": pa.array(np.asarray(DEVICES, dtype=object)[device], pa.string()),
            "text": pa.array(text, pa.string()),
        }
    )
    cpa = np.isnan(ads["cpa_bid"])
    ads_table = pa.table(
        {
            "ad_id": pa.array(ads["ad_id"], pa.string()),
            "campaign_id": pa.array(ads["campaign_id"], pa.string()),
            "advertiser": pa.array(ads["advertiser"], pa.string()),
            "category": pa.array(np.asarray(CATEGORIES, dtype=object)[ads["category"]],
                                 pa.string()),
            "headline": pa.array(ads["headline"], pa.string()),
            "description": pa.array(ads["description"], pa.string()),
            "bid": pa.array(ads["bid"], pa.float64()),
            "pricing": pa.array(ads["pricing"], pa.string()),
            "cpa_bid": pa.array(ads["cpa_bid"], pa.float64(), mask=cpa),
            "budget": pa.array(ads["budget"], pa.float64()),
        }
    )
    price = np.array([CATEGORY_ECONOMICS[c][0] for c in CATEGORIES])[ads["category"]]
    first_weekday = int((start - np.datetime64("1970-01-05", "D")).astype(np.int64) % 7)
    return _Plan(
        truth=truth,
        users=users_table,
        ads=ads_table,
        user_device=device,
        hour_p=hour_p,
        weekday_activity=weekday_activity,
        ad_bid=ads["bid"],
        ad_price=price,
        seed=seed,
        days=days,
        start=start,
        first_weekday=first_weekday,
    )


def _dirichlet_rows(rng: np.random.Generator, alpha: np.ndarray) -> np.ndarray:
    # Row-wise Dirichlet via normalised gammas (rng.dirichlet takes one alpha only).
    g = rng.gamma(alpha)
    s = g.sum(axis=1, keepdims=True)
    # A row of all-zero gammas is possible for tiny alphas; fall back to uniform there.
    g = np.where(s > 0, g, 1.0)
    return g / g.sum(axis=1, keepdims=True)


def _draw_by_segment(
    rng: np.random.Generator, segment: np.ndarray, probs: np.ndarray
) -> np.ndarray:
    cdf = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    cdf[:, -1] = 1.0
    r = rng.random(len(segment))
    return (cdf[segment] <= r[:, None]).sum(axis=1).astype(np.int64)


def _user_texts(rng: np.random.Generator, interest: np.ndarray, lang: str) -> list[str]:
    n_users, n_cat = interest.shape
    n_words = 3
    # Mostly words from the user's strongest interests (sharpened), sometimes any category.
    sharp = interest**1.5
    sharp /= sharp.sum(axis=1, keepdims=True)
    cdf = np.cumsum(sharp, axis=1)
    cdf[:, -1] = 1.0
    cats = (cdf[:, None, :] <= rng.random((n_users, n_words))[:, :, None]).sum(axis=2)
    anywhere = rng.random((n_users, n_words)) < 0.15
    cats = np.where(anywhere, rng.integers(0, n_cat, (n_users, n_words)), cats)
    vocab = VOCAB[lang]
    words = [vocab[c].interests for c in CATEGORIES]
    picks = rng.random((n_users, n_words))
    templates = USER_TEXT_TEMPLATES[lang]
    tmpl = rng.integers(0, len(templates), n_users)
    out = []
    for i in range(n_users):
        chosen: list[str] = []
        for j in range(n_words):
            options = words[cats[i, j]]
            w = options[int(picks[i, j] * len(options))]
            if w in chosen:  # avoid "into yoga, yoga and hiking"
                w = options[(options.index(w) + 1) % len(options)]
            chosen.append(w)
        out.append(templates[tmpl[i]].format(*chosen))
    return out


def _power_words_in(headline: str, lang: str) -> list[str]:
    if lang == "zh":
        return [w.key for w in POWER_WORDS if w.zh in headline]
    tokens = set(re.findall(r"[a-z]+", headline.lower()))
    return [w.key for w in POWER_WORDS if w.key in tokens]


def _fits(text: str, limit: int, lang: str) -> bool:
    return (display_width(text) if lang == "zh" else len(text)) <= limit


def _headline(
    rng: np.random.Generator, voc: Any, lang: str
) -> tuple[str, list[str], str, str]:
    prefixes = [w for w in POWER_WORDS if w.position == "prefix"]
    suffixes = [w for w in POWER_WORDS if w.position == "suffix"]
    pre = getattr(prefixes[rng.integers(len(prefixes))], lang) if rng.random() < 0.45 else ""
    suf = getattr(suffixes[rng.integers(len(suffixes))], lang) if rng.random() < 0.45 else ""
    adj = voc.adjectives[rng.integers(len(voc.adjectives))] if rng.random() < 0.7 else ""
    product = voc.products[rng.integers(len(voc.products))]
    if adj and (adj in product or set(adj.lower().split()) & set(product.lower().split())):
        adj = ""  # no "Fresh fresh pasta"

    def build(pre: str, adj: str, suf: str) -> str:
        if lang == "zh":
            text = pre + adj + product + (f"，{suf}" if suf else "")
        else:
            text = " ".join(p for p in (pre, adj, product) if p) + (f", {suf}" if suf else "")
            text = text[0].upper() + text[1:]
        return text

    # Shorten until it fits: drop the adjective first, then the power words.
    for p, a, s in ((pre, adj, suf), (pre, "", suf), (pre, "", ""), ("", "", "")):
        text = build(p, a, s)
        if _fits(text, HEADLINE_MAX, lang):
            break
    return text, _power_words_in(text, lang), adj, product


def _description(rng: np.random.Generator, voc: Any, lang: str, adj: str, product: str,
                 brand: str) -> str:
    benefit = voc.benefits[rng.integers(len(voc.benefits))]
    cta = voc.ctas[rng.integers(len(voc.ctas))]
    if lang == "zh":
        lead = f"{brand}{adj}{product}。"
        parts = [lead + benefit + cta, benefit + cta, benefit]
    else:
        thing = f"{adj} {product}" if adj else product
        lead = f"{thing[0].upper()}{thing[1:]} from {brand}."
        parts = [f"{lead} {benefit} {cta}", f"{benefit} {cta}", benefit]
    return next((p for p in parts if _fits(p, DESCRIPTION_MAX, lang)), parts[-1])


def _make_ads(rng: np.random.Generator, n_ads: int, lang: str, n_users: int) -> dict[str, Any]:
    n_cat = len(CATEGORIES)
    # Cover every category once when there are enough ads, then popular categories more often.
    popularity = rng.dirichlet(np.full(n_cat, 4.0))
    first = rng.permutation(n_cat)[: min(n_ads, n_cat)]
    rest = rng.choice(n_cat, size=n_ads - len(first), p=popularity)
    category = np.sort(np.concatenate([first, rest]))
    category = category[rng.permutation(n_ads)]  # shuffle so ad ids do not follow categories
    vocab = VOCAB[lang]
    stems = BRAND_STEMS[lang]

    campaign = np.empty(n_ads, dtype=np.int64)
    advertiser = np.empty(n_ads, dtype=object)
    used_names: set[str] = set()
    n_campaigns = 0
    for c in range(n_cat):
        members = np.flatnonzero(category == c)
        if not len(members):
            continue
        voc = vocab[CATEGORIES[c]]
        # Campaigns of 1-4 ads; advertisers of 1-3 campaigns.
        pos = 0
        adv_name = ""
        campaigns_left = 0
        while pos < len(members):
            size = int(rng.integers(1, 5))
            block = members[pos : pos + size]
            if campaigns_left == 0:
                stem = stems[rng.integers(len(stems))]
                suffix = voc.brand_suffixes[rng.integers(len(voc.brand_suffixes))]
                base = f"{stem}{suffix}" if lang == "zh" else f"{stem} {suffix}"
                adv_name, k = base, 2
                while adv_name in used_names:
                    adv_name = f"{base} {k}"
                    k += 1
                used_names.add(adv_name)
                campaigns_left = int(rng.integers(1, 4))
            campaign[block] = n_campaigns
            advertiser[block] = adv_name
            n_campaigns += 1
            campaigns_left -= 1
            pos += size
    # Number campaigns in order of their first ad so ids read naturally.
    _, first_pos = np.unique(campaign, return_index=True)
    order = np.argsort(first_pos)
    renumber = np.empty(n_campaigns, dtype=np.int64)
    renumber[np.unique(campaign)[order]] = np.arange(n_campaigns)
    campaign = renumber[campaign]

    headline, description, power, effect = [], [], [], np.zeros(n_ads)
    effects = {w.key: w.effect for w in POWER_WORDS}
    for i in range(n_ads):
        voc = vocab[CATEGORIES[category[i]]]
        h, words, adj, product = _headline(rng, voc, lang)
        headline.append(h)
        power.append(" ".join(words))
        effect[i] = sum(effects[w] for w in words)
        description.append(_description(rng, voc, lang, adj, product, advertiser[i]))

    base_cpc = np.array([CATEGORY_ECONOMICS[c][1] for c in CATEGORIES])[category]
    cvr = np.array([CATEGORY_ECONOMICS[c][2] for c in CATEGORIES])[category]
    bid = np.maximum(np.round(base_cpc * np.exp(rng.normal(-0.045, 0.3, n_ads)), 2), 0.05)
    is_cpa = rng.random(n_ads) < 0.2
    cpa_bid = np.round(bid / cvr * rng.uniform(0.8, 1.2, n_ads), 2)
    # Target-CPA ads bid per click what the target is worth at the category's conversion rate.
    bid = np.where(is_cpa, np.maximum(np.round(cpa_bid * cvr, 2), 0.05), bid)
    cpa_bid = np.where(is_cpa, cpa_bid, np.nan)
    # Daily budget: a few times an average ad's expected daily spend at ~1.8 % CTR.
    clicks_per_day = max(1.0, n_users * _COEF["activity_mean"] * 0.018 / n_ads)
    budget = np.round(bid * clicks_per_day * rng.uniform(1.2, 3.0, n_ads), 2)
    width = max(4, len(str(n_ads - 1)))
    cwidth = max(4, len(str(n_campaigns - 1)))
    return {
        "ad_id": np.array([f"a{i:0{width}d}" for i in range(n_ads)], dtype=object),
        "campaign_id": np.array([f"c{k:0{cwidth}d}" for k in campaign], dtype=object),
        "advertiser": advertiser,
        "category": category.astype(np.int64),
        "headline": np.array(headline, dtype=object),
        "description": np.array(description, dtype=object),
        "bid": bid,
        "pricing": np.where(is_cpa, "cpa", "cpc").astype(object),
        "cpa_bid": cpa_bid,
        "budget": budget,
        "power_words": power,
        "power_effect": effect,
    }


# --------------------------------------------------------------------------------------------
# Impressions
# --------------------------------------------------------------------------------------------


def _iter_events(
    plan: _Plan, progress: Callable[[int, int], None] | None
) -> Iterator[tuple[pa.Table, pa.Table]]:
    """Yield (events, truth_events) slices in timestamp order, one day after another."""
    truth = plan.truth
    n_users, n_ads = len(truth.user_ids), len(truth.ad_ids)
    n_slots = len(truth.slots)
    eps = truth.coef["policy_epsilon"]
    user_ids = pa.array(truth.user_ids, pa.string())
    ad_ids = pa.array(truth.ad_ids, pa.string())
    slot_names = pa.array(truth.slots, pa.string())
    devices = pa.array(list(DEVICES), pa.string())
    # Sampling an ad within its category without per-row loops: ads sorted by category get a
    # key "category + cumulative within-category probability", monotone over all ads, so one
    # searchsorted finds the ad for (category, uniform draw).
    _, within = truth._policy_parts(np.zeros(1, dtype=np.int64))
    order = np.lexsort((np.arange(n_ads), truth.ad_category))
    cat_sorted = truth.ad_category[order]
    cum = np.zeros(n_ads)
    for c in np.unique(cat_sorted):
        m = cat_sorted == c
        cs = np.cumsum(within[order][m])
        cum[m] = cs / cs[-1]
    key = cat_sorted + cum
    base_us = plan.start.astype("datetime64[us]").astype(np.int64)
    next_id = 0
    for day in range(plan.days):
        rng = np.random.default_rng(np.random.SeedSequence([plan.seed, 1, day]))
        wd = (plan.first_weekday + day) % 7
        lam = truth.user_activity * plan.weekday_activity[truth.user_segment, wd]
        counts = rng.poisson(lam)
        users = np.repeat(np.arange(n_users, dtype=np.int64), counts)
        seg = truth.user_segment[users]
        hour = np.empty(len(users), dtype=np.int64)
        for k in range(plan.hour_p.shape[0]):
            m = seg == k
            hour[m] = rng.choice(24, size=int(m.sum()), p=plan.hour_p[k])
        second = hour * 3600 + rng.integers(0, 3600, len(users))
        srt = np.argsort(second, kind="stable")
        users, hour, second = users[srt], hour[srt], second[srt]
        for lo in range(0, len(users), _SLICE):
            u = users[lo : lo + _SLICE]
            h = hour[lo : lo + _SLICE]
            m = len(u)
            explore = rng.random(m) < eps
            uniform_ad = rng.integers(0, n_ads, m)
            cat_p, _ = truth._policy_parts(u)
            cdf = np.cumsum(cat_p, axis=1)
            cdf /= cdf[:, -1:]
            cat = (cdf < rng.random(m)[:, None]).sum(axis=1)
            pos = np.searchsorted(key, cat + rng.random(m), side="right")
            greedy_ad = order[np.minimum(pos, n_ads - 1)]
            ad = np.where(explore, uniform_ad, greedy_ad)
            propensity = eps / n_ads + (1 - eps) * cat_p[
                np.arange(m), truth.ad_category[ad]
            ] * within[ad]
            slot = rng.integers(0, n_slots, m)
            p_click = truth.p_click(u, ad, slot, h, wd)
            clicked = rng.random(m) < p_click
            treat = truth.user_treatment[u]
            p_conv = truth.p_convert(u, ad, treat)
            converted = clicked & (rng.random(m) < p_conv)
            cost = np.maximum(np.round(plan.ad_bid[ad] * rng.uniform(0.6, 1.0, m), 2), 0.01)
            cost = np.where(clicked, cost, 0.0)
            rs = truth.coef["revenue_sigma"]
            revenue = np.round(plan.ad_price[ad] * np.exp(rng.normal(-rs**2 / 2, rs, m)), 2)
            revenue = np.where(converted, np.maximum(revenue, 0.01), 0.0)
            switch = rng.random(m) < truth.coef["device_switch_rate"]
            own = plan.user_device[u]
            device = np.where(switch, (own + rng.integers(1, len(DEVICES), m)) % len(DEVICES), own)
            ids = pa.array(np.arange(next_id, next_id + m, dtype=np.int64))
            event_id = pc.binary_join_element_wise(
                "e", pc.utf8_lpad(pc.cast(ids, pa.string()), 10, "0"), ""
            )
            next_id += m
            ts = base_us + (day * 86400 + second[lo : lo + _SLICE]) * 1_000_000
            u_pa, ad_pa = pa.array(u), pa.array(ad)
            events = pa.table(
                {
                    "event_id": event_id,
                    "ts": pa.array(ts, pa.timestamp("us")),
                    "user_id": user_ids.take(u_pa),
                    "ad_id": ad_ids.take(ad_pa),
                    "placement": slot_names.take(pa.array(slot)),
                    "device": devices.take(pa.array(device)),
                    "clicked": pa.array(clicked.astype(np.int8)),
                    "converted": pa.array(converted.astype(np.int8)),
                    "cost": pa.array(cost),
                    "revenue": pa.array(revenue),
                    "propensity": pa.array(propensity),
                    "treatment": pa.array(treat.astype(np.int8)),
                }
            )
            truth_events = pa.table(
                {
                    "event_id": event_id,
                    "user_idx": u_pa,
                    "ad_idx": ad_pa,
                    "segment": pa.array(truth.user_segment[u]),
                    "slot_idx": pa.array(slot.astype(np.int64)),
                    "hour": pa.array(h),
                    "weekday": pa.array(np.full(m, wd, dtype=np.int64)),
                    "explored": pa.array(explore),
                    "propensity": pa.array(propensity),
                    "slot_propensity": pa.array(np.full(m, 1.0 / n_slots)),
                    "affinity": pa.array(truth.affinity(u, ad)),
                    "p_click": pa.array(p_click),
                    "p_convert": pa.array(p_conv),
                    "uplift": pa.array(truth.p_convert(u, ad, 1) - truth.p_convert(u, ad, 0)),
                }
            )
            yield events, truth_events
        logger.debug("synthetic world: day %d/%d, %d impressions", day + 1, plan.days, len(users))
        if progress is not None:
            progress(day + 1, plan.days)


class _Summary:
    """Running totals for truth.json's summary figures."""

    def __init__(self) -> None:
        self.events = self.clicks = self.conversions = 0
        self.p_click_sum = 0.0
        self.cost = self.revenue = 0.0

    def add(self, events: pa.Table, truth_events: pa.Table) -> None:
        self.events += events.num_rows
        self.clicks += int(pc.sum(events["clicked"].cast(pa.int64())).as_py() or 0)
        self.conversions += int(pc.sum(events["converted"].cast(pa.int64())).as_py() or 0)
        self.p_click_sum += float(pc.sum(truth_events["p_click"]).as_py() or 0.0)
        self.cost += float(pc.sum(events["cost"]).as_py() or 0.0)
        self.revenue += float(pc.sum(events["revenue"]).as_py() or 0.0)

    def as_dict(self) -> dict[str, float]:
        n = max(self.events, 1)
        return {
            "events": self.events,
            "clicks": self.clicks,
            "conversions": self.conversions,
            "ctr": self.clicks / n,
            "true_ctr": self.p_click_sum / n,
            "cvr": self.conversions / max(self.clicks, 1),
            "cost": round(self.cost, 2),
            "revenue": round(self.revenue, 2),
        }


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def generate_world(
    n_users: int = 5000,
    n_ads: int = 200,
    days: int = 14,
    seed: int = 0,
    lang: str = "en",
    n_segments: int = 6,
    n_slots: int = 4,
    start: str = "2026-01-05",
    progress: Callable[[int, int], None] | None = None,
) -> SyntheticWorld:
    """Generate a synthetic ad world in memory.

    Parameters
    ----------
    n_users, n_ads, days : int
        Sizes.  About ``3 * n_users * days`` impressions are logged.
    seed : int
        The world is a deterministic function of all parameters, the seed included.
    lang : {"en", "zh"}
        Language of ad creatives and user texts.
    n_segments : int
        Latent user segments, 1 to 8.
    n_slots : int
        Placements, 1 to 8 (the first four are top, side, feed, bottom).
    start : str
        First day, ``YYYY-MM-DD``; timestamps are naive UTC.
    progress : callable, optional
        Called with ``(days done, days)`` after each simulated day.

    Returns
    -------
    SyntheticWorld
        ``events``, ``users``, ``ads`` (the contract tables), ``truth`` and ``truth_events``.

    See Also
    --------
    write_world : the same world streamed to files, for sizes that do not fit in memory.
    """
    start_day = _check(n_users, n_ads, days, seed, lang, n_segments, n_slots, start, progress)
    plan = _plan_world(n_users, n_ads, days, seed, lang, n_segments, n_slots, start_day)
    ev_parts, te_parts = [], []
    summary = _Summary()
    for events, truth_events in _iter_events(plan, progress):
        summary.add(events, truth_events)
        ev_parts.append(events)
        te_parts.append(truth_events)
    plan.truth.meta["summary"] = summary.as_dict()
    events = _concat(ev_parts, _events_schema())
    truth_events = _concat(te_parts, None)
    return SyntheticWorld(
        events=events.to_pandas(),
        users=plan.users.to_pandas(),
        ads=plan.ads.to_pandas(),
        truth=plan.truth,
        truth_events=truth_events.to_pandas() if truth_events is not None else None,
    )


def write_world(
    out_dir: str | Path,
    n_users: int = 5000,
    n_ads: int = 200,
    days: int = 14,
    seed: int = 0,
    lang: str = "en",
    fmt: str = "parquet",
    progress: Callable[[int, int], None] | None = None,
    *,
    n_segments: int = 6,
    n_slots: int = 4,
    start: str = "2026-01-05",
) -> Path:
    """Generate a synthetic world and stream it to ``out_dir``.

    Writes ``events``, ``users`` and ``ads`` (``.parquet``, or ``.csv`` with ``fmt="csv"``) and
    the truth: ``truth.json``, ``truth_users.parquet``, ``truth_ads.parquet``,
    ``truth_cells.parquet`` and ``truth_events.parquet`` (truth tables are always Parquet).
    Events are produced day by day in bounded slices and appended to the files, so memory does
    not grow with the number of events.  Files are first written to a temporary folder beside
    ``out_dir`` and moved in at the end, so a failed run leaves ``out_dir`` as it was.  The
    world equals :func:`generate_world`'s for the same parameters.

    Parameters
    ----------
    out_dir : str or Path
        Destination folder (created if missing).
    fmt : {"parquet", "csv"}
        Format of the three contract tables.
    n_users, n_ads, days, seed, lang, progress, n_segments, n_slots, start
        As in :func:`generate_world`.

    Returns
    -------
    Path
        ``out_dir``.
    """
    validate_params("write_world", {"fmt": fmt}, {"fmt": [Options(("parquet", "csv"))]})
    start_day = _check(n_users, n_ads, days, seed, lang, n_segments, n_slots, start, progress)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder; give a folder for the world.")
    out.parent.mkdir(parents=True, exist_ok=True)
    plan = _plan_world(n_users, n_ads, days, seed, lang, n_segments, n_slots, start_day)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        ext = ".csv" if fmt == "csv" else ".parquet"
        _write_table(plan.users, tmp / f"users{ext}", fmt)
        _write_table(plan.ads, tmp / f"ads{ext}", fmt)
        schema = _events_schema()
        ev_writer: Any
        if fmt == "csv":
            ev_writer = pacsv.CSVWriter(tmp / "events.csv", _csv_schema(schema))
        else:
            ev_writer = pq.ParquetWriter(tmp / "events.parquet", schema)
        te_writer: pq.ParquetWriter | None = None
        summary = _Summary()
        try:
            for events, truth_events in _iter_events(plan, progress):
                summary.add(events, truth_events)
                ev_writer.write_table(_csv_ready(events) if fmt == "csv" else events)
                if te_writer is None:
                    te_writer = pq.ParquetWriter(tmp / "truth_events.parquet", truth_events.schema)
                te_writer.write_table(truth_events)
        finally:
            ev_writer.close()
            if te_writer is not None:
                te_writer.close()
        if te_writer is None:  # no impressions at all: still leave an (empty) table
            _write_parquet(_empty_truth_events(), tmp / "truth_events.parquet")
        plan.truth.meta["summary"] = summary.as_dict()
        plan.truth.save(tmp)
        out.mkdir(exist_ok=True)
        other = ".parquet" if fmt == "csv" else ".csv"
        for name in ("events", "users", "ads"):
            # A world written before in the other format would be mixed with this one.
            (out / f"{name}{other}").unlink(missing_ok=True)
        for f in sorted(tmp.iterdir()):
            os.replace(f, out / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    s = plan.truth.meta["summary"]
    logger.info(
        "synthetic world written to %s: %d events, CTR %.4f", out, s["events"], s["ctr"]
    )
    return out


# --------------------------------------------------------------------------------------------
# I/O helpers
# --------------------------------------------------------------------------------------------


def _events_schema() -> pa.Schema:
    return pa.schema(
        [
            ("event_id", pa.string()),
            ("ts", pa.timestamp("us")),
            ("user_id", pa.string()),
            ("ad_id", pa.string()),
            ("placement", pa.string()),
            ("device", pa.string()),
            ("clicked", pa.int8()),
            ("converted", pa.int8()),
            ("cost", pa.float64()),
            ("revenue", pa.float64()),
            ("propensity", pa.float64()),
            ("treatment", pa.int8()),
        ]
    )


def _empty_truth_events() -> pa.Table:
    cols = {
        "event_id": pa.string(), "user_idx": pa.int64(), "ad_idx": pa.int64(),
        "segment": pa.int64(), "slot_idx": pa.int64(), "hour": pa.int64(),
        "weekday": pa.int64(), "explored": pa.bool_(), "propensity": pa.float64(),
        "slot_propensity": pa.float64(), "affinity": pa.float64(), "p_click": pa.float64(),
        "p_convert": pa.float64(), "uplift": pa.float64(),
    }
    return pa.schema(list(cols.items())).empty_table()


def _concat(parts: list[pa.Table], schema: pa.Schema | None) -> pa.Table | None:
    if parts:
        return pa.concat_tables(parts)
    if schema is not None:
        return schema.empty_table()
    return _empty_truth_events()


def _csv_schema(schema: pa.Schema) -> pa.Schema:
    # Whole-second timestamps print as "2026-01-05 13:45:00" rather than with ".000000".
    return pa.schema(
        [(f.name, pa.timestamp("s")) if f.name == "ts" else f for f in schema]
    )


def _csv_ready(table: pa.Table) -> pa.Table:
    i = table.schema.get_field_index("ts")
    return table.set_column(i, "ts", table["ts"].cast(pa.timestamp("s")))


def _write_parquet(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path)


def _write_table(table: pa.Table, path: Path, fmt: str) -> None:
    if fmt == "csv":
        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path)
