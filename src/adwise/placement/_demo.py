"""The placement step of ``adwise demo`` and its report sections."""

from __future__ import annotations

from typing import Any

import numpy as np

from adwise._plugins import DemoContext, DemoResult, ReportSection
from adwise.report._charts import bar_chart, heatmap, table

__all__ = ["demo", "report"]


def _sections(model: Any) -> list[ReportSection]:
    eff = model.effects
    cells = eff.cells(by=("placement", "hour"))
    slots = sorted(cells["placement"].unique())
    grid = np.full((len(slots), 24), np.nan)
    for r in cells.itertuples(index=False):
        grid[slots.index(r.placement), int(r.hour)] = r.mean
    rec = eff.recommend(by=("placement", "hour"), top=8)
    parts = [heatmap(slots, list(range(24)), grid, title="shrunk CTR by placement x hour"),
             table(rec)]
    sections = [ReportSection("Placement: best slot x hour cells", "".join(parts), "placement")]
    al = model.allocators.get("clicks")
    if al is not None:
        plan, s = al.allocate()
        by_slot = plan.groupby("placement")[["current_spend", "spend"]].sum()
        html = (f"<p>Daily budget {s['budget']:.2f}: expected clicks {s['expected']:.1f} vs "
                f"{s['current_expected']:.1f} with the current mix (ratio {s['ratio']:.3f}; "
                f"fitted spend elasticity {s['elasticity']:.2f}).</p>"
                + bar_chart(list(by_slot.index), by_slot["spend"].tolist(),
                            title="recommended daily spend by placement", fmt=".2f"))
        sections.append(ReportSection("Placement: daypart budget", html, "placement"))
    return sections


def demo(ctx: DemoContext) -> DemoResult:
    """Fit the placement model on the demo workspace and compare with the true slot effects."""
    from adwise.data import load_truth
    from adwise.placement._pipeline import train

    model, mv = train(ctx.workspace, group_col="campaign_id", progress=ctx.progress)
    eff = model.effects
    rec = eff.recommend(by=("placement", "hour"), top=3)
    lines = [f"best cells (shrunk CTR, 95 % interval, lift over the current mix), model "
             f"{mv.version}:"]
    for r in rec.itertuples(index=False):
        lines.append(f"  {r.placement:>7} {int(r.hour):02d}h  CTR {r.expected_ctr:.2%} "
                     f"[{r.ctr_low:.2%}, {r.ctr_high:.2%}] from {r.impressions:,.0f} "
                     f"impressions, {r.clicks:,.0f} clicks  lift {r.lift:+.0%}")
    metrics: dict[str, Any] = {"best_cell_lift": float(rec.iloc[0]["lift"])}
    try:
        truth = load_truth(ctx.world_dir)
        by_slot = eff.cells(by=("placement",)).set_index("placement")["mean"]
        true_order = [truth.slots[i] for i in np.argsort(-np.asarray(truth.slot_effect))]
        est_order = list(by_slot.sort_values(ascending=False).index)
        lines.append(f"slot ranking recovered: {est_order} (truth {true_order})")
        metrics["slot_order_recovered"] = est_order == true_order
    except Exception:
        pass
    al = model.allocators.get("clicks")
    if al is not None:
        _, s = al.allocate()
        lines.append(f"budget allocation: expected clicks x{s['ratio']:.3f} vs the current mix")
        metrics["allocation_ratio"] = float(s["ratio"])
    return DemoResult(lines=lines, sections=_sections(model), metrics=metrics)


def report(ws: Any) -> list[ReportSection]:
    """The same sections from the saved model (none when there is no model)."""
    from adwise._exceptions import InputError
    from adwise.placement._pipeline import load_model

    try:
        model = load_model(ws)
    except InputError:
        return []
    return _sections(model)


