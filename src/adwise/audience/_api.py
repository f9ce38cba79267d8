"""REST face: segment profiles, a user's segment, budgeted uplift targeting (thin)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = ["router"]


class SegmentsResponse(BaseModel):
    k: int
    silhouette: float | None
    profiles: list[dict[str, Any]]


class UserSegment(BaseModel):
    user: str
    segment: int
    name: str
    description: str


class TargetRequest(BaseModel):
    uplift: list[float] = Field(..., min_length=1, max_length=1_000_000)
    budget: float = Field(..., gt=0, le=1e12)
    cost: list[float] | None = Field(None, max_length=1_000_000)


class TargetResponse(BaseModel):
    selected: list[int]
    expected_extra_responses: float


def _load(ws):
    from adwise.audience._pipeline import load_segments

    seg, meta = load_segments(ws)
    return {"assign": seg, "meta": meta}


def router(state):
    from fastapi import APIRouter

    from adwise._exceptions import InputError

    r = APIRouter(tags=["audience"])

    @r.get("/audience/segments", response_model=SegmentsResponse)
    def segments() -> SegmentsResponse:
        """Every segment's plain-words profile (sizes below min size are not listed by user)."""
        m = state.model("audience", _load)["meta"]
        return SegmentsResponse(
            k=len(m["profiles"]), silhouette=m.get("silhouette"), profiles=m["profiles"]
        )

    @r.get("/audience/users/{user_id}", response_model=UserSegment)
    def user_segment(user_id: str) -> UserSegment:
        """The segment of one user (raw id); refused for segments below the min size."""
        m = state.model("audience", _load)
        sid = state.workspace.pseudonym(user_id)
        if sid not in m["assign"].index:
            raise InputError(f"unknown user {user_id!r}: not in the saved segmentation.")
        s = int(m["assign"].loc[sid])
        prof = next(p for p in m["meta"]["profiles"] if p["segment"] == s)
        if prof["size"] < state.workspace.min_segment_size:
            raise InputError(
                f"this user's segment has fewer than {state.workspace.min_segment_size} users; "
                "it is not disclosed (k-anonymity)."
            )
        return UserSegment(
            user=user_id, segment=s, name=prof["name"], description=prof["description"]
        )

    @r.post("/audience/targets", response_model=TargetResponse)
    def targets(req: TargetRequest) -> TargetResponse:
        """Whom to treat under a budget, given predicted uplifts (and optional costs)."""
        import numpy as np

        from adwise.audience._uplift import select_targets

        if req.cost is not None and len(req.cost) != len(req.uplift):
            raise InputError("cost must have one value per uplift.")
        chosen = select_targets(req.uplift, req.budget, cost=req.cost)
        u = np.asarray(req.uplift)
        return TargetResponse(
            selected=[int(i) for i in chosen], expected_extra_responses=float(u[chosen].sum())
        )

    return r
