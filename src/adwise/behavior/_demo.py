"""Demo step and report sections of the behaviour capability."""

from __future__ import annotations

import html
from typing import Any

from adwise._plugins import DemoContext, DemoResult, ReportSection

__all__ = ["demo", "report"]


def _sections(meta: dict[str, Any], oracle_auc: float | None = None) -> list[ReportSection]:
    from adwise.report._charts import bar_chart, line_chart

    m = meta.get("metrics", {})
    # models trained on coarse timestamps were tested on a random split, which says so
    tested = (f"tested on held-out users, split {meta['split']}"
              if str(meta.get("split", "")).startswith("random")
              else f"tested on the latest events (after {meta.get('split_ts', '?')})")
    parts = [f"<p>pCTR model {meta.get('version', '')}: {html.escape(tested)}: "
             f"AUC {m.get('auc', float('nan')):.4f}, "
             f"log loss {m.get('logloss', float('nan')):.4f}, ECE {m.get('ece', float('nan')):.4f}"
             f", calibration {m.get('calibration', '?')}"
             + (f"; oracle AUC (true click probabilities) {oracle_auc:.4f}" if oracle_auc else "")
             + ".</p>"]
    cvr = meta.get("cvr_metrics")
    if cvr:
        parts.append(f"<p>pCVR on clicked events: AUC {cvr['auc']:.4f}, ECE {cvr['ece']:.4f}.</p>")
    rel = meta.get("reliability")
    if rel:
        parts.append(line_chart(rel["mean_predicted"], {"observed": rel["observed_rate"]},
                                title="Reliability (test events)", xlabel="predicted",
                                ylabel="observed", diagonal=True))
    sections = [ReportSection("Behaviour: click model quality", "".join(parts), "behavior")]
    imp = meta.get("feature_importance")
    if imp:
        top = list(imp.items())[:12]
        sections.append(ReportSection(
            "Behaviour: what drives clicks (share of split gain)",
            bar_chart([k for k, _ in top], [v for _, v in top], title="Feature importance",
                      fmt=".1%"), "behavior"))
    return sections


def demo(ctx: DemoContext) -> DemoResult:
    from adwise.behavior._pipeline import train_workspace
    from adwise.data import load_truth
    from adwise.metrics import roc_auc

    ws = ctx.workspace
    res = train_workspace(ws, progress=ctx.progress)
    m = res.metrics
    oracle = None
    try:
        truth = load_truth(ctx.world_dir)
        t = res.extra["test"]
        raw = truth.user_ids
        back = dict(zip(ws.pseudonyms(raw), raw, strict=True))
        ev = t.assign(user_id=t["user_id"].map(back))
        oracle = float(roc_auc(ev["clicked"], truth.p_click_events(ev)))
    except Exception:  # the truth is optional for the demo
        oracle = None
    imp = list(res.ctr_model.feature_importance_.items())[:5]
    lines = [
        f"pCTR ({res.version}): AUC {m['auc']:.3f} on the latest events"
        + (f" (oracle {oracle:.3f})" if oracle else "")
        + f", log loss {m['logloss']:.4f}, ECE {m['ece']:.4f} after {m['calibration']} "
        "calibration",
        "top click drivers: " + ", ".join(f"{k} {v:.0%}" for k, v in imp),
    ]
    if res.cvr_metrics:
        lines.append(f"pCVR on clicked events: AUC {res.cvr_metrics['auc']:.3f}")
    meta = ws.registry.get("behavior").metadata | {"version": res.version}
    metrics = {"auc": m["auc"], "logloss": m["logloss"], "ece": m["ece"]}
    if oracle:
        metrics["oracle_auc"] = oracle
    return DemoResult(lines=lines, sections=_sections(meta, oracle), metrics=metrics)


def report(ws: Any) -> list[ReportSection]:
    reg = ws.registry
    if reg.current("behavior") is None:
        return []
    mv = reg.get("behavior")
    return _sections(mv.metadata | {"version": mv.version})
