"""REST face: a user's interests (thin)."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["router"]


class Interest(BaseModel):
    interest: str
    score: float = Field(..., description="Lift over the population (1 = average).")
    evidence: str


class Topic(BaseModel):
    topic: str
    weight: float


class InterestsResponse(BaseModel):
    user: str
    interests: list[Interest]
    topics: list[Topic]
    version: str | None = None


def router(state):
    from fastapi import APIRouter, Query

    from adwise.interests._pipeline import load_interests, unknown_user_error

    r = APIRouter(tags=["interests"])

    @r.get("/interests/users/{user_id}", response_model=InterestsResponse)
    def user_interests(user_id: str, k: int = Query(3, ge=1, le=50)) -> InterestsResponse:
        """Top-k interests of a user (raw id; pseudonymised on the server)."""
        model = state.model("interests", load_interests)
        sid = state.workspace.pseudonym(user_id)
        if not model.has_user(sid):
            raise unknown_user_error(user_id)
        top = model.interests(sid, k)
        return InterestsResponse(
            user=user_id,
            interests=[Interest(interest=c, score=s, evidence=e) for c, s, e in top],
            topics=[Topic(topic=t, weight=w) for t, w in model.topics_of(sid, k)],
            version=model.metadata.get("version"),
        )

    return r
