"""REST face: ``POST /creative/generate``, approval and listing (thin; no modelling here)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Request
from pydantic import BaseModel, Field

__all__ = ["router"]


class GenerateRequest(BaseModel):
    product: str = Field(..., min_length=1, max_length=2000, description="Product brief.")
    audience: str | None = Field(None, max_length=1000)
    segment: str | None = Field(None, max_length=100)
    other_audiences: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Other audiences you target: copy aimed at them more than at this one "
        "is ranked last.",
    )
    n: int = Field(5, ge=1, le=50)
    lang: Literal["en", "zh"] = "en"
    backend: Literal["auto", "local", "openai", "template"] = "template"
    price: str | None = Field(None, max_length=100)
    offer: str | None = Field(None, max_length=200)
    voice: str = Field("", max_length=200)
    banned: list[str] = Field(default_factory=list, max_length=50)
    required: list[str] = Field(default_factory=list, max_length=20)
    time_limit: float = Field(30.0, gt=0, le=120)
    seed: int = 0
    store: bool | None = Field(
        None,
        description="Store the creatives as pending for approval (a write: needs an admin "
        "key). Default: stored when the key is admin, not stored with a read key; store=true "
        "with a read key is refused with 403.",
    )


class CreativeOut(BaseModel):
    headline: str
    description: str
    score: float
    scores: dict[str, float]
    checks: dict[str, bool]
    source: str
    repaired: bool = False
    on_target: bool = True
    id: str | None = None
    status: str | None = None


class GenerateResponse(BaseModel):
    creatives: list[CreativeOut]
    backend: str
    stats: dict[str, Any]


class Decision(BaseModel):
    note: str | None = Field(None, max_length=500)


def router(state):
    from fastapi import APIRouter

    from adwise.creative._pipeline import generate, get_creative, list_creatives, set_status
    from adwise.service import scope_refusal

    r = APIRouter(tags=["creative"])

    @r.post("/creative/generate", response_model=GenerateResponse,
            description="Write creatives for a product and an audience. Storing them (pending "
            "approval) changes the workspace, so it needs an admin key: with a read key they "
            "are not stored, and `store: true` is refused with 403.")
    def generate_(req: GenerateRequest, request: Request) -> dict[str, Any]:
        # The service's auth leaves the calling key here; a router mounted without the service
        # (no keys at all) stores as before.
        key = request.scope.get("adwise.api_key")
        may_store = key is None or key.allows("admin")
        if req.store and not may_store:
            raise scope_refusal(key, "admin", "storing creatives (store=true)")
        store = may_store if req.store is None else req.store
        res = generate(
            req.product,
            req.audience,
            ws=state.workspace,
            segment_id=req.segment,
            n=req.n,
            lang=req.lang,
            backend=req.backend,
            time_limit=req.time_limit,
            seed=req.seed,
            other_audiences=req.other_audiences,
            store=store,
            price=req.price,
            offer=req.offer,
            voice=req.voice,
            banned=req.banned,
            required=req.required,
        )
        return res.to_dict()

    @r.get("/creative/creatives")
    def list__(status: Literal["pending", "approved", "rejected"] | None = None) -> dict:
        return {"creatives": list_creatives(state.workspace, status)}

    @r.get("/creative/creatives/{creative_id}")
    def get_(creative_id: str) -> dict:
        return get_creative(state.workspace, creative_id)

    @r.post("/creative/creatives/{creative_id}/approve")
    def approve_(creative_id: str, body: Decision | None = None) -> dict:
        return set_status(state.workspace, creative_id, "approved", body.note if body else None)

    @r.post("/creative/creatives/{creative_id}/reject")
    def reject_(creative_id: str, body: Decision | None = None) -> dict:
        return set_status(state.workspace, creative_id, "rejected", body.note if body else None)

    @r.get("/creative/approved")
    def approved_() -> dict:
        """Only approved creatives can be served."""
        return {"creatives": list_creatives(state.workspace, "approved")}

    return r
