"""Interests pipeline: read the workspace, build user context, fit, save, load, look up.

All I/O of the capability lives here; the estimators are pure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from adwise._columns import as_labels, is_code
from adwise._exceptions import InputError
from adwise.interests._affinity import InterestProfiler
from adwise.interests._latent import LatentClassModel
from adwise.interests._text import TextInterests

__all__ = [
    "InterestModel",
    "build_user_context",
    "fit_interests",
    "load_interests",
    "load_workspace_events",
    "train_interests",
    "user_count_blocks",
]

log = logging.getLogger(__name__)
CAPABILITY = "interests"
_ATTR_SKIP = {"user_id", "text"}


#: most ads kept as interests of their own when the ads have no category (the rest are pooled)
MAX_AD_UNITS = 100


def load_workspace_events(ws: Any) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Events joined with ad category/text, plus the users and ads tables.

    Without ad categories (the column absent or never filled) each ad is its own interest:
    the ``MAX_AD_UNITS`` most shown ads (``"ad <ad_id>"``), the rest pooled as ``other ads``; the
    ads table then carries ``interest_unit = "ad_id"`` in ``ads.attrs``.  Without an ads table
    the events' ad ids stand in for it.
    """
    from adwise._split import drop_empty

    counts = ws.row_counts()
    if counts["events"] == 0:
        raise InputError(
            f"{ws.path}: the workspace has no events; ingest them with "
            "`adwise ingest events.parquet --table events`."
        )
    ecols = set(ws.columns("events"))
    sel = ["e.user_id", "e.ad_id", "e.ts", "e.clicked"]
    for c in ("converted", "revenue", "cost", "device", "placement", "treatment"):
        if c in ecols:
            sel.append(f"e.{c}")
    events = drop_empty(ws.query(f"SELECT {', '.join(sel)} FROM events e"),
                        keep=("user_id", "ad_id", "ts", "clicked"))
    ads = drop_empty(ws.table("ads"), keep=("ad_id",))
    if len(ads) == 0:
        ads = pd.DataFrame({"ad_id": pd.unique(events["ad_id"].astype(str))})
    ads["ad_id"] = ads["ad_id"].astype(str)
    unit = "category"
    if "category" not in ads.columns:
        unit = "ad_id"
        top = events["ad_id"].astype(str).value_counts().index[:MAX_AD_UNITS]
        ads["category"] = ("ad " + ads["ad_id"]).where(ads["ad_id"].isin(top), "other ads")
    cat = ads.drop_duplicates("ad_id", keep="last").set_index("ad_id")["category"]
    events["category"] = events["ad_id"].astype(str).map(cat).to_numpy()
    if unit == "ad_id":
        events["category"] = events["category"].fillna("other ads")
    users = (drop_empty(ws.table("users"), keep=("user_id",)) if counts["users"]
             else pd.DataFrame({"user_id": []}))
    ads.attrs["interest_unit"] = unit
    return events, users, ads


def _ad_text(ads: pd.DataFrame) -> pd.Series:
    parts = [ads[c].fillna("").astype(str) for c in ("headline", "description") if c in ads]
    if not parts:
        return pd.Series([""] * len(ads), index=ads.index, dtype=object)
    out = parts[0]
    for p in parts[1:]:
        out = out + " " + p
    return out


def _user_docs(
    events: pd.DataFrame, users: pd.DataFrame, ads: pd.DataFrame, clicked_creatives: bool = True
) -> pd.Series:
    """Per user: their own text plus (optionally) the headlines of the ads they clicked."""
    head = ads.set_index("ad_id")["headline"] if "headline" in ads and clicked_creatives else None
    docs = pd.Series("", index=pd.Index(events["user_id"].astype(str).unique()), dtype=object)
    if head is not None:
        clicks = events.loc[events["clicked"] == 1, ["user_id", "ad_id"]]
        h = clicks["ad_id"].map(head).fillna("").astype(str)
        joined = h.groupby(clicks["user_id"].astype(str)).agg(" ".join)
        docs.loc[joined.index.intersection(docs.index)] = joined
    if "text" in users.columns and len(users):
        t = users.set_index(users["user_id"].astype(str))["text"].fillna("").astype(str)
        common = t.index.intersection(docs.index)
        docs.loc[common] = t.loc[common] + " " + docs.loc[common]
    return docs


def build_user_context(
    events: pd.DataFrame, users: pd.DataFrame, text_scores: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Numeric per-user context: attributes (one-hot), hour-of-day and weekend shares, device
    shares from events, and text category scores when given. Indexed by ``user_id``."""
    uid = events["user_id"].astype(str)
    index = pd.Index(uid.unique(), name="user_id")
    blocks = []
    ts = pd.to_datetime(events["ts"])
    # hour of day in 8 three-hour bins, shrunk towards the population's distribution
    hb = pd.crosstab(uid, ts.dt.hour.to_numpy() // 3).reindex(index, fill_value=0)
    pop = hb.sum(axis=0) / hb.to_numpy().sum()
    hs = (hb + 2 * pop).div(hb.sum(axis=1) + 2, axis=0)
    hs.columns = [f"hours_{3 * int(c):02d}_{3 * int(c) + 3:02d}" for c in hs.columns]
    blocks.append(np.log(hs))
    wk = (ts.dt.day_of_week >= 5).astype(float)
    n = uid.value_counts().reindex(index)
    ws_ = (wk.groupby(uid).sum().reindex(index) + 2 * wk.mean()) / (n + 2)
    blocks.append(ws_.rename("weekend_share").to_frame())
    if len(users):
        u = users.copy()
        u["user_id"] = u["user_id"].astype(str)
        u = u.set_index("user_id").reindex(index)
        attrs = [c for c in u.columns if c not in _ATTR_SKIP]
        for c in attrs:
            s = u[c]
            if pd.api.types.is_numeric_dtype(s) and not is_code(c, s):
                blocks.append(s.astype(float).rename(c).to_frame())
            elif s.nunique() <= 30:
                # text and integer codes (device type 1, 4, 5; C1 1005): one column per value,
                # never "low" / "high" numbers
                blocks.append(pd.get_dummies(as_labels(s), prefix=c, prefix_sep="=")
                              .astype(float))
    if text_scores is not None:
        blocks.append(text_scores.reindex(index).add_prefix("text="))
    ctx = pd.concat(blocks, axis=1)
    return ctx.fillna(ctx.mean()).fillna(0.0)


def user_count_blocks(
    events: pd.DataFrame, users: pd.DataFrame, index: Any, categories: list[str]
) -> dict[str, Any]:
    """Per-user blocks of counts for :class:`LatentClassModel`, rows in ``index`` order.

    ``impressions`` and ``clicks`` per ad category, ``hours`` (events per three-hour band),
    ``weekdays`` (events per day of the week), ``words`` (which words the user's own ``text``
    uses, sparse; words used by fewer than five users are dropped) and one one-hot block per
    categorical user attribute, integer codes included (``attr=<column>``; users missing
    from ``users`` get a row of zeros, i.e. no evidence).  Numeric attributes are left out.
    """
    from scipy import sparse

    index = pd.Index(index).astype(str)
    ui = index.get_indexer(events["user_id"].astype(str))
    ok = ui >= 0
    ui = ui[ok]
    ev = events.loc[ok]
    n = len(index)

    def counts(codes: np.ndarray, width: int, weights: np.ndarray | None = None) -> np.ndarray:
        m = np.zeros((n, width))
        keep = codes >= 0
        np.add.at(m, (ui[keep], codes[keep]), 1.0 if weights is None else weights[keep])
        return m

    ci = pd.Categorical(ev["category"].astype(str), categories=categories).codes
    ts = pd.to_datetime(ev["ts"])
    blocks: dict[str, Any] = {
        "impressions": counts(ci, len(categories)),
        "clicks": counts(ci, len(categories), ev["clicked"].to_numpy(dtype=float)),
        "hours": counts(ts.dt.hour.to_numpy() // 3, 8),
        "weekdays": counts(ts.dt.day_of_week.to_numpy(), 7),
    }
    if not len(users):
        return blocks
    u = users.assign(user_id=users["user_id"].astype(str)).drop_duplicates("user_id")
    u = u.set_index("user_id").reindex(index)
    if "text" in u.columns:
        from sklearn.feature_extraction.text import CountVectorizer

        try:
            words = CountVectorizer(binary=True, stop_words="english", min_df=5).fit_transform(
                u["text"].fillna("").astype(str)
            )
            blocks["words"] = sparse.csr_matrix(words, dtype=float)
        except ValueError:  # no word is used by five users: the text carries no class signal
            pass
    for c in u.columns:
        s = u[c]
        if c in _ATTR_SKIP or (pd.api.types.is_numeric_dtype(s) and not is_code(c, s)) \
                or not 1 < s.nunique() <= 30:
            continue
        blocks[f"attr={c}"] = pd.get_dummies(as_labels(s)).to_numpy(dtype=float)
    return blocks



def unknown_user_error(user: str | None = None) -> InputError:
    """The error for a user the model has no row for.

    ``user`` is the id as the caller gave it; a stored id is never shown, since a pseudonym
    next to its raw id is what an attacker needs to test candidate keys.
    """
    who = f"unknown user {user!r}" if user is not None else "unknown user"
    return InputError(
        f"{who}: no events for this user in the data the interests model was trained on "
        "(retrain with `adwise interests train` after ingesting)."
    )

@dataclass
class InterestModel:
    """A fitted interests model: per-user lift, evidence, topics and context."""

    user_ids: np.ndarray
    categories: list[str]
    lift: np.ndarray
    counts: np.ndarray
    topics: np.ndarray
    topic_labels: list[str]
    context: pd.DataFrame
    params: dict[str, Any]
    metadata: dict[str, Any]

    def __post_init__(self) -> None:
        self._index = {str(u): i for i, u in enumerate(self.user_ids)}

    def has_user(self, stored_id: str) -> bool:
        return str(stored_id) in self._index

    def interests(self, stored_id: str, k: int = 3) -> list[tuple[str, float, str]]:
        """Top-``k`` ``(interest, score, evidence)``: categories by lift over the population."""
        i = self._index.get(str(stored_id))
        if i is None:
            raise unknown_user_error()
        order = np.argsort(-self.lift[i], kind="stable")[:k]
        out = []
        for c in order:
            imp, clk, cv = (int(self.counts[j, i, c]) for j in range(3))
            ev = f"{imp} impressions, {clk} clicks, {cv} conversions"
            if clk == 0 and cv == 0:
                ev += "; mostly inferred from similar users and text"
            out.append((self.categories[c], round(float(self.lift[i, c]), 3), ev))
        return out

    def topics_of(self, stored_id: str, k: int = 3) -> list[tuple[str, float]]:
        i = self._index[str(stored_id)]
        w = self.topics[i]
        order = np.argsort(-w)[:k]
        return [(self.topic_labels[t], round(float(w[t]), 4)) for t in order if w[t] > 0]

    def lift_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            self.lift, index=pd.Index(self.user_ids, name="user_id"), columns=self.categories
        )


def fit_interests(
    events: pd.DataFrame,
    users: pd.DataFrame,
    ads: pd.DataFrame,
    half_life_days: float = 7.0,
    n_topics: int = 12,
    pool_groups: int | str = "auto",
    random_state: int = 0,
) -> tuple[InterestProfiler, TextInterests | None, pd.DataFrame, np.ndarray]:
    """Fit text and behavioural interests; return the models, the context and topic weights.

    Text topics need text (ad headlines / descriptions or user ``text``): without any, the
    text model is ``None`` and the topic weights have no columns.

    Each user's interests are pooled towards those of their latent class: a
    :class:`LatentClassModel` on all of the user's counts (:func:`user_count_blocks`) with
    ``pool_groups`` classes (``"auto"``: chosen by the BIC elbow among 2-10; 0 or 1: no
    pooling, shrink towards the population).
    """
    docs = _user_docs(events, users, ads)
    own = _user_docs(events, users, ads, clicked_creatives=False)
    text = tscores = None
    if _has_text(_ad_text(ads)) or _has_text(docs):
        text = TextInterests(n_topics=n_topics, random_state=random_state).fit(
            _ad_text(ads), ads["category"].astype(str), docs
        )
        # Category scores from the user's own words only: clicks already count in the
        # behaviour part, so adding the clicked headlines here would count them twice.
        tscores = pd.DataFrame(text.category_scores(own), index=own.index,
                               columns=text.categories_)
    ctx = build_user_context(events, users, tscores)
    cats = sorted(ads["category"].dropna().astype(str).unique())
    memberships = None
    if pool_groups == "auto" or int(pool_groups) > 1:
        ids = pd.Index(np.unique(events.dropna(subset=["category"])["user_id"].astype(str)))
        blocks = user_count_blocks(events, users, ids, cats)
        classes = LatentClassModel(n_classes=pool_groups, random_state=random_state).fit(
            list(blocks.values())
        )
        memberships = pd.DataFrame(classes.responsibilities_, index=ids)
    prof = InterestProfiler(half_life_days=half_life_days, random_state=random_state).fit(
        events, categories=cats, context=ctx, memberships=memberships
    )
    topics = (np.zeros((len(prof.user_ids_), 0)) if text is None
              else text.topics(docs.reindex(prof.user_ids_).fillna("")))
    return prof, text, ctx.reindex(prof.user_ids_), topics


def _has_text(texts: pd.Series) -> bool:
    return bool(texts.astype(str).str.strip().str.len().gt(0).any())


def train_interests(
    ws: Any,
    half_life_days: float = 7.0,
    n_topics: int = 12,
    pool_groups: int | str = "auto",
    random_state: int = 0,
    progress: Callable[[int, int], None] | None = None,
):
    """Fit interests on the workspace and save them to the registry; return the ModelVersion."""
    t0 = time.perf_counter()
    events, users, ads = load_workspace_events(ws)
    if progress:
        progress(1, 3)
    prof, text, ctx, topics = fit_interests(
        events, users, ads, half_life_days, n_topics, pool_groups, random_state
    )
    if progress:
        progress(2, 3)
    params = {
        "half_life_days": half_life_days,
        "n_topics": n_topics,
        "pool_groups": pool_groups,
        "random_state": random_state,
    }
    lift = prof.lift_
    metrics = {
        "users": len(prof.user_ids_),
        "categories": len(prof.categories_),
        "median_events_per_user": float(np.median(prof.counts_[0].sum(axis=1))),
        "share_users_with_a_click": float((prof.counts_[1].sum(axis=1) > 0).mean()),
        "fit_seconds": round(time.perf_counter() - t0, 3),
        "interest_unit": ads.attrs.get("interest_unit", "category"),
        "text_topics": text is not None,
    }
    topic_labels = [] if text is None else text.topic_labels_

    def write(w):
        w.write_npz(
            "interests.npz",
            user_ids=np.asarray(prof.user_ids_, dtype=str),
            lift=lift.astype(np.float32),
            counts=prof.counts_.astype(np.int32),
            topics=topics.astype(np.float32),
            context=ctx.to_numpy(dtype=np.float32),
        )
        w.write_json(
            "model.json",
            {
                "categories": prof.categories_,
                "topic_labels": topic_labels,
                "context_columns": list(ctx.columns),
                "population_share": prof.population_share_.tolist(),
                "top_categories_by_users": _category_reach(lift, prof.categories_),
            },
        )

    mv = ws.registry.save(
        CAPABILITY,
        write,
        params=params,
        metrics=metrics,
        data_fingerprint=ws.fingerprint("events"),
        feature_schema={"categories": prof.categories_, "topics": topic_labels},
    )
    if progress:
        progress(3, 3)
    return mv


def _category_reach(lift: np.ndarray, cats: list[str]) -> dict[str, int]:
    """How many users have each category among their top three interests."""
    top = np.argsort(-lift, axis=1)[:, :3]
    counts = np.bincount(top.ravel(), minlength=len(cats))
    return {c: int(n) for c, n in zip(cats, counts, strict=True)}


def load_interests(ws: Any, version: str | None = None) -> InterestModel:
    """Load the promoted (or a given) interests model of a workspace."""
    reader = ws.registry.load(CAPABILITY, version)
    arr = reader.read_npz("interests.npz")
    meta = reader.read_json("model.json")
    ctx = pd.DataFrame(
        arr["context"],
        index=pd.Index(arr["user_ids"], name="user_id"),
        columns=meta["context_columns"],
    )
    return InterestModel(
        user_ids=arr["user_ids"],
        categories=meta["categories"],
        lift=arr["lift"].astype(float),
        counts=arr["counts"],
        topics=arr["topics"],
        topic_labels=meta["topic_labels"],
        context=ctx,
        params=reader.metadata.get("params", {}),
        metadata={**reader.metadata, **meta},
    )
