"""Demo step and report section for creative generation."""

from __future__ import annotations

import os
from typing import Any

from adwise._plugins import DemoContext, DemoResult, ReportSection

__all__ = ["demo", "report"]

_DEMO_PRODUCT = "TrailMax running shoes: lightweight, waterproof, $89, free shipping"
_DEMO_AUDIENCE = "trail runners who love hiking and camping"
_OTHERS = ["young mobile gamers who play video games", "business travellers who fly every week"]


def _checks_text(checks: dict[str, bool] | None) -> str:
    if not checks:
        return "–"
    failed = [k for k, ok in checks.items() if not ok]
    passed = len(checks) - len(failed)
    return (f"all {passed} checks pass" if not failed
            else f"{passed}/{len(checks)} checks pass; failed: {', '.join(failed)}")


def _creatives_table(creatives: list[dict[str, Any]], status: bool = False) -> str:
    import pandas as pd

    from adwise.report import table

    df = pd.DataFrame(
        [
            {
                "headline": c["headline"],
                "description": c["description"],
                **({"status": c.get("status") or "–"} if status else {}),
                "score": c.get("score"),
                "relevance": (c.get("scores") or {}).get("relevance"),
                "pred. CTR": (c.get("scores") or {}).get("ctr"),
                "source": c.get("source") or "–",
                "checks": _checks_text(c.get("checks")),
            }
            for c in creatives
        ]
    )
    return table(df, formats={"score": ".3f", "relevance": ".3f", "pred. CTR": ".2%"})


_MODEL_METRICS = {
    "holdout_spearman": ("rank correlation with held-out ads' CTR (1 perfect, 0 none)", ".2f"),
    "creatives": ("past creatives learned from", ",d"),
}


def _model_sections(ws) -> list[ReportSection]:
    import pandas as pd

    from adwise.report import bar_chart, finding, format_value, table

    reg = ws.registry
    if reg.current("creative") is None:
        return []
    meta = reg.get("creative").metadata
    metrics = meta.get("metrics", {})
    out = []
    for lang, terms in (meta.get("top_terms") or {}).items():
        if not terms:
            continue
        labels = [t for t, _ in terms]
        vals = [w for _, w in terms]
        rho = metrics.get(f"{lang}_holdout_spearman")
        if rho is None:
            sure = "the model was not checked on held-out ads, so treat this as a hint"
        else:
            sure = (f"the model ranks held-out ads with rank correlation {rho:.2f}, so "
                    + ("trust it" if rho >= 0.5 else "treat this as a hint" if rho >= 0.2
                       else "it does not predict CTR yet: do not rely on it"))
        body = finding(f"Headlines with \u201c{labels[0]}\u201d get more clicks than others "
                       f"in your past ads; {sure}.")
        body += bar_chart(labels, vals, title=f"Words that lift CTR ({lang})",
                          value_title="weight in the text CTR model (log-odds)", fmt="+.2f",
                          what="words")
        rows = [(label, format_value(float(metrics[f"{lang}_{k}"]), f))
                for k, (label, f) in _MODEL_METRICS.items() if f"{lang}_{k}" in metrics]
        if rows:
            body += table(pd.DataFrame(rows, columns=["check", "value"]))
        out.append(ReportSection(f"Creative: words that lift CTR ({lang})", body,
                                 capability="creative"))
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
    # the report's own sections: the words model and the stored creatives (these included)
    sections = report(ws)
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
    """The saved model's top words and the latest stored creatives with their checks."""
    from adwise.creative._pipeline import list_creatives
    from adwise.report import finding

    out = _model_sections(ws)
    rows = list_creatives(ws)
    if rows:
        by: dict[str, int] = {}
        for r in rows:
            by[r["status"]] = by.get(r["status"], 0) + 1
        recent = sorted(rows, key=lambda r: r["created_at"] or "")[-10:][::-1]
        pending = by.get("pending", 0)
        counts = ", ".join(f"{v} {k}" for k, v in sorted(by.items()))
        text = (f"{pending} of {len(rows)} stored creatives wait for approval ({counts}): "
                "only approved ones are served, so review them in the dashboard's Creatives "
                "tab." if pending else
                f"Every stored creative has been reviewed ({counts}).")
        body = finding(text) + _creatives_table(recent, status=True)
        if len(rows) > len(recent):
            body += f"<p class='note'>The latest {len(recent)} of {len(rows)} are shown.</p>"
        out.append(ReportSection("Creative: stored creatives", body, capability="creative"))
    return out
