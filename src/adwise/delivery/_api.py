"""REST face: ``POST /delivery/recommend`` and ``POST /delivery/rank``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class RecommendRequest(BaseModel):
    users: list[str] = Field(..., min_length=1, max_length=1000,
                             description="User ids as in your logs.")
    k: int = Field(5, ge=1, le=100)
    candidates: list[str] | None = Field(None, max_length=10000)
    placement: str | None = None
    progress: float = Field(1.0, ge=0.0, le=1.0,
                            description="Elapsed share of the pacing period.")
    hour: int | None = Field(None, ge=0, le=23, description="Hour of day of the request "
                             "(the click model's hour effect); default: the average hour.")
    default_bid: float | None = Field(None, gt=0.0,
                                      description="CPC price of ads without a bid (default: "
                                                  "when no ad has one, rank by pCTR).")


class AdScore(BaseModel):
    ad_id: str
    campaign_id: str
    pricing: str
    p_ctr: float
    p_cvr: float
    bid: float | None
    cpa_bid: float | None
    expected_value: float
    eligible: bool
    reason: str
    factors: dict[str, Any]


class UserRecommendation(BaseModel):
    user_id: str
    known_user: bool
    source: str
    ranked_by: str = Field("expected value", description="What the ads are ordered by.")
    ads: list[AdScore]


class AdInfo(BaseModel):
    ad_id: str
    headline: str | None = None
    category: str | None = None
    campaign_id: str | None = None
    pricing: str | None = None
    bid: float | None = None
    cpa_bid: float | None = None


class AdList(BaseModel):
    ads: list[AdInfo]


class RecommendResponse(BaseModel):
    model_version: str | None
    recommendations: list[UserRecommendation]


# A request of at most this many user x candidate rows (a few ms of CPU) is ranked on the
# event loop: handing it to a worker thread costs more than the work, and under load the
# threads fight over the GIL (one user x 100 candidates, 8 clients in a closed loop on 2
# cores: 207 req/s through the thread pool, 544 req/s inline).  Larger requests go to a
# thread so they cannot stall the others.  Without candidates the recommender proposes
# _RECOMMENDER_CANDIDATES per user (a fraction of a ms per user since ids are dict look-ups).
_INLINE_ROWS = 2000
_RECOMMENDER_CANDIDATES = 50


def router(state: Any):
    from fastapi import APIRouter, Query
    from starlette.concurrency import run_in_threadpool

    from adwise.delivery._pipeline import load_delivery, recommend

    r = APIRouter(tags=["delivery"])

    def load(ws: Any) -> Any:
        """The delivery model, with what a request looks up built now (the planner, the id
        indexes of the recommender and its components) by ranking for one user, so the first
        request does not pay for it."""
        d = load_delivery(ws)
        users = getattr(d.recommender, "users_", ())
        if len(users):
            recommend(ws, [str(users[0])], k=1, delivery=d, raw_ids=False)
        return d

    state.register("delivery", load)  # loaded when the service starts

    def run(req: RecommendRequest, d: Any) -> RecommendResponse:
        ctx: dict[str, Any] = {"progress": req.progress}
        if req.placement:
            ctx["placement"] = req.placement
        if req.hour is not None:
            ctx["hour"] = req.hour
        recs = recommend(state.workspace, req.users, k=req.k, candidates=req.candidates,
                         context=ctx, delivery=d, default_bid=req.default_bid)
        return RecommendResponse(model_version=d.version, recommendations=recs)

    @r.post("/delivery/recommend", response_model=RecommendResponse)
    async def recommend_ads(req: RecommendRequest) -> RecommendResponse:
        """Best ads per user by expected value (pCTR x bid, pCTR x pCVR x CPA bid), with
        frequency caps and budget pacing, and a per-ad breakdown."""
        d = state.cached("delivery")
        if d is None:  # a version to load: never on the event loop
            d = await run_in_threadpool(state.model, "delivery", load)
        per_user = len(req.candidates) if req.candidates else _RECOMMENDER_CANDIDATES
        if len(req.users) * per_user <= _INLINE_ROWS:
            return run(req, d)
        return await run_in_threadpool(run, req, d)

    @r.get("/delivery/ads", response_model=AdList)
    def ads(ids: str = Query(..., max_length=20000,
                             description="Comma-separated ad ids, at most 200.")) -> AdList:
        """Headline, category and price of the given ads (for showing recommendations); unknown
        ids are left out."""
        wanted = [i for i in dict.fromkeys(x.strip() for x in ids.split(",")) if i][:200]
        cols = [c for c in AdInfo.model_fields if c in set(state.workspace.columns("ads"))]
        if not wanted or "ad_id" not in cols:
            return AdList(ads=[])
        marks = ", ".join("?" for _ in wanted)
        df = state.workspace.query(
            f"SELECT {', '.join(cols)} FROM ads WHERE ad_id IN ({marks})", wanted)
        rows = [{k: (None if v is None or v != v else v) for k, v in row.items()}
                for row in df.to_dict("records")]
        order = {a: i for i, a in enumerate(wanted)}
        rows.sort(key=lambda row: order[str(row["ad_id"])])
        return AdList(ads=[AdInfo(**{k: (str(v) if k not in ("bid", "cpa_bid") and v is not None
                                         else v) for k, v in row.items()}) for row in rows])

    return r
