"""The placement step of ``adwise demo`` and its report sections."""

from __future__ import annotations

from typing import Any

import numpy as np

from adwise._plugins import DemoContext, DemoResult, ReportSection

__all__ = ["demo", "report"]

_COLUMNS = {"expected_ctr": "expected CTR", "ctr_low": "95 % low", "ctr_high": "95 % high",
            "share": "share of impressions", "lift": "lift over the current mix"}


def _sections(model: Any) -> list[ReportSection]:
    import pandas as pd

    from adwise.report import MIN_IMPRESSIONS, bar_chart, finding, heatmap, table

    eff = model.effects
    cells = eff.cells(by=("placement", "hour"))
    rec = eff.recommend(by=("placement", "hour"), top=8, min_trials=MIN_IMPRESSIONS)
    if rec.empty:
        opener = finding(f"No placement x hour cell has {MIN_IMPRESSIONS:,} impressions yet: "
                         "keep the current mix until more data comes in.")
    else:
        b = rec.iloc[0]
        sure = ("its 95 % interval lies above the current mix's rate, so move budget there"
                if b["ctr_low"] > rec.attrs.get("current_rate", 1.0) else
                "its 95 % interval still includes the current mix's rate, so test it before "
                "moving much budget")
        # cells of the best slot within 1 % of its rate are a tie: naming one hour would
        # promise a daypart effect the model did not find
        same = cells[(cells["placement"] == b["placement"])
                     & (cells["mean"] >= 0.99 * b["expected_ctr"])]
        when = (f"at {int(b['hour']):02d}:00" if len(same) <= 1 else
                f"at any hour ({len(same)} of 24 hours tie)" if len(same) > 3 else
                "at " + ", ".join(f"{int(h):02d}:00" for h in sorted(same["hour"])) + " (tied)")
        opener = finding(
            f"Best cell: the {b['placement']} slot {when}, CTR {b['expected_ctr']:.2%} (95 % "
            f"interval {b['ctr_low']:.2%} to {b['ctr_high']:.2%}, {b['lift']:+.0%} over the "
            f"current mix); {sure}.")
    parts = [opener,
             heatmap(cells["placement"], cells["hour"], cells["mean"], cells["trials"],
                     title="Shrunk CTR by placement x hour", row_title="placement",
                     low=cells["low"], high=cells["high"]),
             table(rec.assign(hour=rec["hour"].astype(int)).rename(columns=_COLUMNS),
                   formats={"expected CTR": ".2%", "95 % low": ".2%", "95 % high": ".2%",
                            "impressions": ",d", "share of impressions": ".1%",
                            "lift over the current mix": "+.0%", "hour": ",d"})]
    sections = [ReportSection("Placement: best slot x hour cells", "".join(parts), "placement")]
    al = model.allocators.get("clicks")
    if al is not None:
        plan, s = al.allocate()
        by_slot = plan.groupby("placement")[["current_spend", "spend"]].sum()
        body = finding(
            f"Spend the daily budget of {s['budget']:,.2f} as below for an expected "
            f"{s['expected']:,.1f} clicks instead of {s['current_expected']:,.1f} "
            f"({s['ratio'] - 1:+.1%}); the gain assumes the fitted spend elasticity "
            f"{s['elasticity']:.2f} holds.")
        change = (by_slot["spend"] - by_slot["current_spend"]).to_numpy()
        body += bar_chart(list(by_slot.index), change,
                          title="Change in daily spend by placement (recommended - current)",
                          value_title="change in daily spend", fmt="+,.2f",
                          what="placements")
        body += table(pd.DataFrame({"placement": by_slot.index,
                                    "current spend": by_slot["current_spend"].to_numpy(),
                                    "recommended spend": by_slot["spend"].to_numpy()}),
                      formats={"current spend": ",.2f", "recommended spend": ",.2f"})
        sections.append(ReportSection("Placement: daypart budget", body, "placement"))
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


