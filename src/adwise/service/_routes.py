"""The service's own ``/v1`` routes: who am I, the models, promotion, the live report."""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from adwise.service._state import ServiceState

__all__ = ["service_router"]

_CAP_PATTERN = r"^[a-z][a-z0-9_\-]{0,63}$"
_VERSION_PATTERN = r"^v\d{4,12}$"


class WhoAmI(BaseModel):
    id: str
    name: str
    scope: str


class ModelInfo(BaseModel):
    capability: str
    version: str
    current: bool
    created: str | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)


class ModelList(BaseModel):
    models: list[ModelInfo]
    loaded: dict[str, str] = Field(description="Models this process has in memory: name -> "
                                                "version.")


class PromoteRequest(BaseModel):
    version: str = Field(pattern=_VERSION_PATTERN, description="e.g. v0003")


class PromoteResponse(BaseModel):
    capability: str
    current: str


class Section(BaseModel):
    title: str
    capability: str
    html: str


class ReportView(BaseModel):
    sections: list[Section]
    built_at: float


def _finite(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): _finite(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_finite(v) for v in o]
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return o


def service_router(state: ServiceState, report_ttl: float = 30.0) -> APIRouter:
    """Routes under ``/v1`` (auth applied by the app)."""
    r = APIRouter(tags=["service"])
    registry = state.registry
    cache: dict[str, Any] = {}
    report_lock = threading.Lock()

    @r.get("/whoami", response_model=WhoAmI, summary="The API key making this call")
    async def whoami(request: Request) -> WhoAmI:
        key = request.scope["adwise.api_key"]
        return WhoAmI(id=key.id, name=key.name, scope=key.scope)

    @r.get("/models", response_model=ModelList, summary="Saved model versions")
    def models() -> ModelList:
        rows = [
            ModelInfo(capability=m.capability, version=m.version, current=m.current,
                      created=m.metadata.get("created"),
                      metrics=_finite(dict(m.metadata.get("metrics") or {})))
            for m in registry.list()
        ]
        return ModelList(models=rows, loaded=state.loaded())

    @r.post("/models/{capability}/promote", response_model=PromoteResponse,
            summary="Serve another saved version (admin)")
    def promote(
        body: PromoteRequest,
        capability: str = Path(pattern=_CAP_PATTERN),
    ) -> PromoteResponse:
        registry.promote(capability, body.version)
        return PromoteResponse(capability=capability, current=body.version)

    @r.post("/models/{capability}/rollback", response_model=PromoteResponse,
            summary="Serve the previously promoted version again (admin)")
    def rollback(capability: str = Path(pattern=_CAP_PATTERN)) -> PromoteResponse:
        return PromoteResponse(capability=capability, current=registry.rollback(capability))

    @r.get("/report", response_model=ReportView,
           summary="The report's sections (HTML with inline SVG), rebuilt at most every "
                   f"{report_ttl:g} s or when a model is promoted")
    def report() -> ReportView:
        from adwise.report._sections import collect_sections

        stamp = tuple((c, registry.current(c)) for c in registry.capabilities())
        with report_lock:
            hit = cache.get("report")
            if hit and hit[0] == stamp and time.time() - hit[1].built_at < report_ttl:
                return hit[1]
            view = ReportView(
                sections=[Section(title=s.title, capability=s.capability, html=s.html)
                          for s in collect_sections(state.workspace)],
                built_at=time.time(),
            )
            cache["report"] = (stamp, view)
            return view

    return r
