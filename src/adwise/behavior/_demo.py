"""Demo step and report sections of the behaviour capability."""

from __future__ import annotations

import html
from typing import Any

from adwise._plugins import DemoContext, DemoResult, ReportSection

__all__ = ["demo", "report"]


# metrics in the order a reader should see them: ranking and probability quality first;
# accuracy (at a 0.5 threshold) last, as at a 2 % base rate "never clicks" scores 0.98
_METRIC_ROWS = (
    ("auc", "AUC (ranking: 0.5 random, 1 perfect)", ".3f"),
    ("logloss", "log loss (lower is better)", ".4f"),
    ("ece", "expected calibration error (10 equal-width bins)", ".4f"),
    ("base_rate", "base rate (clicks per impression)", ".2%"),
    ("pr_auc", "PR AUC", ".3f"),
    ("n", "test events", ",d"),
    ("accuracy", "accuracy at 0.5 (misleading at low base rates)", ".3f"),
)


def _ece_and_noise(rel: dict[str, Any]) -> tuple[float, float]:
    """ECE over the reliability bins, and the ECE a perfectly calibrated model would still show
    on them by chance (the mean absolute binomial error, sqrt(2/pi) * sd per bin, weighted by
    bin size): the measured ECE means something only well above the second."""
    import numpy as np

    p = np.asarray(rel["mean_predicted"], dtype=float)
    o = np.asarray(rel["observed_rate"], dtype=float)
    n = np.asarray(rel["counts"], dtype=float)
    sd = np.sqrt(p * (1 - p) / np.maximum(n, 1))
    return (float((n * np.abs(o - p)).sum() / n.sum()),
            float(np.sqrt(2 / np.pi) * (n * sd).sum() / n.sum()))


def _quality_sentence(m: dict[str, Any], oracle_auc: float | None,
                      rel: dict[str, Any] | None = None) -> str:
    auc, base = m.get("auc"), m.get("base_rate")
    if auc is None:
        return "The click model has no test metrics: retrain it with `adwise behavior train`."
    rank = ("ranks clicks well" if auc >= 0.7 else "ranks clicks modestly" if auc >= 0.6
            else "barely ranks clicks better than chance")
    s = f"The click model {rank} (AUC {auc:.3f}"
    s += f", the best possible here is {oracle_auc:.3f})" if oracle_auc else ")"
    ece, noise = (_ece_and_noise(rel) if rel and sum(rel["counts"]) > 0
                  else (m.get("ece"), None))
    if ece is not None and base:
        if ece <= 0.1 * base:
            s += (f" and its probabilities can be bid on as they are (ECE {ece:.4f} on a "
                  f"{base:.2%} base rate)")
        elif noise is not None and ece <= 1.5 * noise:
            s += (f"; its probabilities are as calibrated as these test events can tell (ECE "
                  f"{ece:.4f}, about the {noise:.4f} a perfect model shows by chance), so bid "
                  "on them and check again with more data")
        else:
            s += (f", but recalibrate it before bidding on its probabilities (ECE {ece:.4f} is "
                  f"{ece / base:.0%} of the {base:.2%} base rate"
                  + (f" and above the {noise:.4f} chance alone gives)" if noise else ")"))
    n = m.get("n")
    return s + (f"; measured on {int(n):,} later test events." if n else ".")


def _sections(meta: dict[str, Any], oracle_auc: float | None = None) -> list[ReportSection]:
    import pandas as pd

    from adwise.report import bar_chart, finding, format_value, reliability_chart, table

    m = meta.get("metrics", {})
    rel = meta.get("reliability")
    parts = [finding(_quality_sentence(m, oracle_auc, rel))]
    if rel:
        parts.append(reliability_chart(rel))
    rows = [(label, m[k], f) for k, label, f in _METRIC_ROWS if m.get(k) is not None]
    if oracle_auc:
        rows.insert(1, ("oracle AUC (true click probabilities)", oracle_auc, ".3f"))
    parts.append(table(pd.DataFrame({"metric": [r[0] for r in rows],
                                     "value": [format_value(float(r[1]), r[2]) for r in rows]})))
    # models trained on coarse timestamps were tested on a random split, which says so
    tested = (f"tested on held-out users, split {meta['split']}"
              if str(meta.get("split", "")).startswith("random")
              else f"tested on events after {meta.get('split_ts', '?')}")
    parts.append(f"<p class='note'>Model {meta.get('version', '')}, calibration "
                 f"{m.get('calibration') or (meta.get('calibration') or {}).get('chosen', '?')}, "
                 f"{html.escape(tested)}.</p>")
    cvr = meta.get("cvr_metrics")
    if cvr:
        parts.append(f"<p>pCVR on clicked events: AUC {cvr['auc']:.3f}, ECE {cvr['ece']:.4f} "
                     f"({int(cvr.get('n', 0)):,} test clicks).</p>")
    sections = [ReportSection("Behaviour: click model quality", "".join(parts), "behavior")]
    imp = meta.get("feature_importance")
    if imp:
        top = list(imp.items())[:12]
        lead = ", ".join(f"{k} ({v:.0%})" for k, v in top[:3])
        body = finding(f"Clicks depend most on {lead} of the model's split gain: use these "
                       "to target; importance says what the model uses, not what causes a "
                       "click.")
        body += bar_chart([k for k, _ in top], [v for _, v in top],
                          title="What the click model uses", value_title="share of split gain",
                          fmt=".0%", what="features")
        body += table(pd.DataFrame({"feature": [k for k, _ in top],
                                    "share of split gain": [v for _, v in top]}),
                      formats={"share of split gain": ".1%"})
        sections.append(ReportSection("Behaviour: what drives clicks", body, "behavior"))
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
