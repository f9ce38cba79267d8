"""REST face: ``POST /behavior/predict`` (pCTR, pCVR, reasons) and ``GET /behavior/model``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from adwise._exceptions import InputError

__all__ = ["router"]


class EventIn(BaseModel):
    user_id: str = Field(..., min_length=1, max_length=200,
                         description="User id as stored (pseudonymised).")
    ad_id: str = Field(..., min_length=1, max_length=200)
    ts: str | None = Field(None, max_length=40, description="ISO-8601; default: now (UTC).")
    placement: str | None = Field(None, max_length=100)
    context: dict[str, str | float | int | None] = Field(
        default_factory=dict, description="Other context columns of the event.")


class PredictRequest(BaseModel):
    events: list[EventIn] = Field(..., min_length=1, max_length=10_000)
    explain: int = Field(0, ge=0, le=20, description="Top-k feature contributions per row.")


class Prediction(BaseModel):
    p_click: float
    p_convert: float | None = None
    p_click_and_convert: float | None = None
    reasons: list[tuple[str, float]] | None = None


class PredictResponse(BaseModel):
    version: str
    predictions: list[Prediction]


class ModelInfo(BaseModel):
    version: str
    metrics: dict[str, Any]
    feature_importance: dict[str, float] | None = None


def _load(ws: Any) -> Any:
    from adwise.behavior._pipeline import load_predictor

    pred = load_predictor(ws)
    if pred is None:
        raise InputError("no behavior model; train one with `adwise behavior train`.")
    return pred


def router(state: Any) -> Any:
    import pandas as pd
    from fastapi import APIRouter

    r = APIRouter(tags=["behavior"])

    @r.post("/behavior/predict", response_model=PredictResponse,
            summary="Calibrated click / conversion probabilities for events")
    def predict(body: PredictRequest) -> PredictResponse:
        pred = state.model("behavior", _load)
        rows = []
        for e in body.events:
            row = {"user_id": e.user_id, "ad_id": e.ad_id, "placement": e.placement,
                   **e.context}
            if e.ts is not None:
                row["ts"] = e.ts
            rows.append(row)
        frame = pd.DataFrame(rows)
        p, cvr, reasons = pred.score(frame, explain=body.explain)
        out = []
        for i in range(len(frame)):
            out.append(Prediction(
                p_click=float(p[i]),
                p_convert=None if cvr is None else float(cvr[i]),
                p_click_and_convert=None if cvr is None else float(p[i] * cvr[i]),
                reasons=None if reasons is None else reasons[i],
            ))
        return PredictResponse(version=pred.version, predictions=out)

    @r.get("/behavior/model", response_model=ModelInfo, summary="The served behaviour model")
    def model_info() -> ModelInfo:
        mv = state.workspace.registry.get("behavior")
        return ModelInfo(version=mv.version, metrics=mv.metadata.get("metrics", {}),
                         feature_importance=mv.metadata.get("feature_importance"))

    return r
