"""REST face: recommend cells, allocate a budget, and bandit decide/update (thin)."""

from __future__ import annotations

import threading
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = ["router"]


class Cell(BaseModel):
    placement: str
    hour: int | None = None
    weekday: int | None = None
    impressions: float
    clicks: float | None = Field(None, description="Successes behind the rate (clicks for "
                                 "ctr, conversions for cvr).")
    enough_data: bool = Field(True, description="False below the minimum of impressions; "
                              "such cells are ranked last.")
    expected: float
    low: float
    high: float
    share: float
    lift: float


class RecommendResponse(BaseModel):
    cells: list[Cell]
    current_rate: float
    rate: str
    group: str | None = None


class AllocateRequest(BaseModel):
    budget: float | None = Field(None, gt=0, le=1e12)
    objective: Literal["clicks", "conversions"] = "clicks"
    max_multiplier: float | None = Field(None, gt=0, le=1000)


class AllocateResponse(BaseModel):
    budget: float
    expected: float
    current_expected: float
    ratio: float
    elasticity: float
    cells: list[dict[str, Any]]


class DecideRequest(BaseModel):
    context: dict[str, str | float | int | None] = Field(default_factory=dict, max_length=200)


class DecideResponse(BaseModel):
    action: str
    propensity: float = Field(..., gt=0, le=1)
    version: str | None = None


class UpdateRequest(BaseModel):
    action: str = Field(..., min_length=1, max_length=500)
    reward: float = Field(..., ge=-1e6, le=1e6)
    context: dict[str, str | float | int | None] = Field(default_factory=dict, max_length=200)
    persist: bool = False


class UpdateResponse(BaseModel):
    n_updates: int
    saved_version: str | None = None


def router(state):
    import numpy as np
    import pandas as pd
    from fastapi import APIRouter, Query

    from adwise.placement._pipeline import (
        BANDIT_CAPABILITY,
        CAPABILITY_NAME,
        load_model,
        load_policy,
        save_policy,
    )
    from adwise.placement._pipeline import allocate as _allocate
    from adwise.placement._pipeline import recommend as _recommend

    r = APIRouter(tags=["placement"])
    lock = threading.Lock()

    def _model():
        return state.model(CAPABILITY_NAME, load_model)

    def _policy():
        return state.model(BANDIT_CAPABILITY, lambda ws: load_policy(ws))

    @r.get("/placement/recommend", response_model=RecommendResponse)
    def recommend(
        campaign: str | None = Query(None, max_length=200),
        by: Literal["placement", "placement,hour", "placement,hour,weekday"] = "placement,hour",
        top: int = Query(10, ge=1, le=500),
        rate: Literal["ctr", "cvr"] = "ctr",
    ) -> dict[str, Any]:
        table, info = _recommend(state.workspace, campaign=campaign, by=by.split(","), top=top,
                                 rate=rate, model=_model())
        cells = []
        for row in table.to_dict(orient="records"):
            cells.append(Cell(
                placement=str(row["placement"]),
                hour=None if row.get("hour") is None else int(row["hour"]),
                weekday=None if row.get("weekday") is None else int(row["weekday"]),
                impressions=float(row["impressions"]), expected=float(row[f"expected_{rate}"]),
                low=float(row[f"{rate}_low"]), high=float(row[f"{rate}_high"]),
                share=float(row["share"]), lift=float(row["lift"]),
                clicks=float(row["clicks" if rate == "ctr" else "conversions"]),
                enough_data=bool(row["enough_data"])))
        return {"cells": cells, "current_rate": info[f"current_{rate}"], "rate": rate,
                "group": campaign}

    @r.post("/placement/allocate", response_model=AllocateResponse)
    def allocate(req: AllocateRequest) -> dict[str, Any]:
        plan, s = _allocate(state.workspace, req.budget, req.objective,
                            max_multiplier=req.max_multiplier, model=_model())
        rows = [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in rec.items()}
                for rec in plan.to_dict(orient="records")]
        return {**{k: s[k] for k in ("budget", "expected", "current_expected", "ratio",
                                     "elasticity")}, "cells": rows}

    @r.post("/placement/bandit/decide", response_model=DecideResponse)
    def decide(req: DecideRequest) -> dict[str, Any]:
        pol, enc = _policy()
        with lock:
            if pol.contextual:
                arm, prop = pol.decide(enc.transform(pd.DataFrame([req.context]))[0])
            else:
                arm, prop = pol.decide()
        return {"action": arm, "propensity": prop,
                "version": state.registry.current(BANDIT_CAPABILITY)}

    @r.post("/placement/bandit/update", response_model=UpdateResponse)
    def update(req: UpdateRequest) -> dict[str, Any]:
        pol, enc = _policy()
        with lock:
            ctx = enc.transform(pd.DataFrame([req.context]))[0] if pol.contextual else None
            pol.update(req.action, req.reward, ctx)
            saved = save_policy(state.workspace, pol, enc).version if req.persist else None
        return {"n_updates": int(pol.n_updates_), "saved_version": saved}

    return r
