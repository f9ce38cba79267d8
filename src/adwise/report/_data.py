"""The report's data part: what is in the workspace, and how CTR varies by slot and hour."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from adwise._plugins import ReportSection
from adwise.data import Workspace
from adwise.report._charts import bar_chart, heatmap, line_chart, table

__all__ = ["data_sections", "truth_section"]


def data_sections(ws: Workspace) -> list[ReportSection]:
    """Tables and row counts, data quality, CTR by slot and by hour, slot x hour heat map."""
    info = ws.info()
    counts = pd.DataFrame({"table": list(info["tables"]), "rows": list(info["tables"].values())})
    parts = [table(counts)]
    if info["tables"]["events"]:
        parts.append(
            f"<p>Events from <b>{html.escape(info['first_event'])}</b> to "
            f"<b>{html.escape(info['last_event'])}</b>; {info['distinct_users']:,} users, "
            f"{info['distinct_ads']:,} ads; CTR <b>{info['ctr']:.2%}</b>"
            + (
                f", conversions per impression {info['conversion_rate']:.3%}"
                if info.get("conversion_rate") is not None
                else ""
            )
            + ".</p>"
        )
    sections = [ReportSection("Data", "".join(parts))]
    if not info["tables"]["events"]:
        return sections
    cols = set(ws.columns("events"))
    quality = ws.query(
        "SELECT "
        + ", ".join(
            f'avg(CASE WHEN "{c}" IS NULL THEN 1 ELSE 0 END) AS "{c}"' for c in sorted(cols)
        )
        + " FROM events"
    ).T.reset_index()
    quality.columns = ["column", "missing share"]
    charts = []
    hourly = ws.query(
        "SELECT hour(ts) AS hour, avg(clicked) AS ctr, count(*) AS n FROM events "
        "GROUP BY 1 ORDER BY 1"
    )
    charts.append(
        line_chart(hourly["hour"], {"CTR": hourly["ctr"]}, "CTR by hour of day", "hour", "CTR")
    )
    if "placement" in cols:
        slot = ws.query(
            "SELECT placement, avg(clicked) AS ctr, count(*) AS n FROM events "
            "GROUP BY 1 ORDER BY 2 DESC"
        )
        charts.append(bar_chart(slot["placement"], slot["ctr"], "CTR by placement", ".2%"))
        cell = ws.query(
            "SELECT placement, hour(ts) AS hour, avg(clicked) AS ctr FROM events GROUP BY 1, 2"
        )
        grid = cell.pivot(index="placement", columns="hour", values="ctr").reindex(
            columns=range(24)
        )
        charts.append(
            heatmap(list(grid.index), list(range(24)), grid.to_numpy(), "CTR by placement x hour")
        )
    sections.append(
        ReportSection(
            "Data quality and click-through",
            "<h3>Missing values per column</h3>"
            + table(quality, max_rows=60)
            + f"<div class='grid'>{''.join(charts)}</div>",
        )
    )
    return sections


def truth_section(world_dir: str | Path) -> ReportSection | None:
    """The synthetic world's hidden truth (segments), for comparison with what models find."""
    p = Path(world_dir) / "truth.json"
    if not p.exists():
        return None
    truth = json.loads(p.read_text())
    users = pd.read_parquet(Path(world_dir) / "truth_users.parquet")
    seg = users.groupby("segment_name").size().sort_values(ascending=False)
    share = (seg / seg.sum()).to_numpy()
    body = (
        "<p class='muted'>The synthetic world's ground truth: what the models should recover."
        "</p>" + bar_chart(list(seg.index), share, "True segments (share of users)", ".1%")
    )
    true_ctr = truth.get("summary", {}).get("true_ctr")
    if true_ctr is not None:
        body += f"<p>True mean click probability of logged impressions: {float(true_ctr):.2%}</p>"
    if "slots" in truth and "slot_effect" in truth:
        body += bar_chart(
            truth["slots"],
            np.asarray(truth["slot_effect"], dtype=float),
            "True slot effects (logit)",
            ".2f",
        )
    return ReportSection("Synthetic world: the truth", body)
