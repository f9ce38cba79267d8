"""Demo step and report section for creative generation."""

from __future__ import annotations

import html
import os
from typing import Any

from adwise._plugins import DemoContext, DemoResult, ReportSection

__all__ = ["demo", "report"]

_DEMO_PRODUCT = "TrailMax running shoes: lightweight, waterproof, $89, free shipping"
_DEMO_AUDIENCE = "trail runners who love hiking and camping"
_OTHERS = ["young mobile gamers who play video games", "business travellers who fly every week"]


def _creatives_table(creatives: list[dict[str, Any]]) -> str:
    import pandas as pd

    from adwise.report._charts import table

    df = pd.DataFrame(
        [
            {
                "headline": c["headline"],
                "description": c["description"],
                "score": round(c["score"], 3),
                "relevance": round(c["scores"]["relevance"], 3),
                "pred. CTR": round(c["scores"].get("ctr", float("nan")), 4),
                "source": c["source"],
            }
            for c in creatives
        ]
    )
    return table(df)


def _model_sections(ws) -> list[ReportSection]:
    from adwise.report._charts import bar_chart

    reg = ws.registry
    if reg.current("creative") is None:
        return []
    meta = reg.get("creative").metadata
    out = []
    for lang, terms in (meta.get("top_terms") or {}).items():
        if terms:
            labels = [t for t, _ in terms]
            vals = [w for _, w in terms]
            out.append(
                ReportSection(
                    f"Creative: words that lift CTR ({lang})",
                    bar_chart(labels, vals, title="text CTR model weights (TF-IDF + L2 logit)")
                    + f"<p>metrics: {html.escape(str(meta.get('metrics', {})))}</p>",
                    capability="creative",
                )
            )
    return out


def demo(ctx: DemoContext) -> DemoResult:
    """Train the text CTR model on the demo world's ads and write creatives for one audience."""
    from adwise.creative._backends import llm_available
    from adwise.creative._checks import CHECKS
    from adwise.creative._pipeline import generate, train

    ws = ctx.workspace
    res_lines: list[str] = []
    trained = train(ws)
    rho = trained["metrics"].get("en_holdout_spearman")
    if rho is not None:
        res_lines.append(
            f"text CTR model: rank correlation with held-out ads' CTR {rho:.2f} "
            f"({trained['metrics'].get('en_creatives', 0)} past creatives)"
        )
    # ADWISE_DEMO_CREATIVE_BACKEND=template skips the model (e.g. in fast tests).
    backend = os.environ.get("ADWISE_DEMO_CREATIVE_BACKEND") or (
        "local" if llm_available() else "template"
    )
    res = generate(
        _DEMO_PRODUCT,
        _DEMO_AUDIENCE,
        ws=ws,
        n=5,
        backend=backend,
        time_limit=30.0,
        other_audiences=_OTHERS,
        backend_options={"threads": 1},
    )
    s = res.stats
    first = sum(c["scores"].get("relevance_margin", 0) > 0 for c in res.creatives)
    res_lines.append(
        f"creative: {len(res.creatives)} ads for {_DEMO_AUDIENCE!r} with the {res.backend} backend "
        f"in {s['seconds']:.1f} s; all pass {len(CHECKS)} checks; raw candidates passing: "
        f"{s['raw_passed']}/{s['raw_candidates']}; intended audience most relevant for "
        f"{first}/{len(res.creatives)}; stored as pending for approval"
    )
    for c in res.creatives[:3]:
        res_lines.append(f"  {c['headline']} | {c['description']}")
    sections = [
        ReportSection(
            "Creative: generated ads (pending approval)",
            f"<p>Product: {html.escape(_DEMO_PRODUCT)}<br>Audience: "
            f"{html.escape(_DEMO_AUDIENCE)}<br>Backend: {res.backend}</p>"
            + _creatives_table(res.creatives),
            capability="creative",
        ),
        *_model_sections(ws),
    ]
    metrics = {
        "backend": res.backend,
        "returned": len(res.creatives),
        "raw_pass_rate": s["raw_passed"] / s["raw_candidates"] if s["raw_candidates"] else None,
        "seconds": s["seconds"],
        "intended_segment_first": first / len(res.creatives) if res.creatives else None,
        "ctr_holdout_spearman": rho,
    }
    return DemoResult(lines=res_lines, sections=sections, metrics=metrics)


def report(ws) -> list[ReportSection]:
    """The saved model's top words and the stored creatives by status."""
    from adwise.creative._pipeline import list_creatives

    out = _model_sections(ws)
    rows = list_creatives(ws)
    if rows:
        by = {}
        for r in rows:
            by[r["status"]] = by.get(r["status"], 0) + 1
        recent = sorted(rows, key=lambda r: r["created_at"] or "")[-10:]
        body = (
            "<p>"
            + ", ".join(f"{html.escape(k)}: {v}" for k, v in sorted(by.items()))
            + "</p>"
            + _creatives_table(
                [
                    {
                        "headline": r["headline"],
                        "description": r["description"],
                        "score": r["score"] or 0.0,
                        "scores": r["scores"] or {"relevance": 0.0},
                        "source": r["source"],
                    }
                    for r in recent
                ]
            )
        )
        out.append(ReportSection("Creative: stored creatives", body, capability="creative"))
    return out
