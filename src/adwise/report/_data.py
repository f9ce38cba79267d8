"""The report's data part: what is in the workspace, and how CTR varies by slot and hour."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from adwise._plugins import ReportSection
from adwise.data import Workspace
from adwise.report._charts import (
    MIN_IMPRESSIONS,
    bar_chart,
    finding,
    format_value,
    heatmap,
    hour_chart,
    table,
    wilson_interval,
)

__all__ = ["compare_rates", "data_sections", "truth_section"]


def _pct(v: float) -> str:
    return format_value(v, ".2%")


def compare_rates(
    frame: pd.DataFrame, label: str, what: str, min_count: int = MIN_IMPRESSIONS
) -> str | None:
    """One sentence comparing the best and worst rate of ``frame`` (columns ``label``, ``k``
    clicks, ``n`` impressions) among rows with at least ``min_count`` impressions, saying
    whether their 95 % intervals overlap (how sure); ``None`` with fewer than two such rows."""
    f = frame[frame["n"] >= min_count]
    if len(f) < 2:
        return None
    rate = f["k"] / f["n"]
    lo, hi = wilson_interval(f["k"], f["n"])
    b, w = int(np.argmax(rate.to_numpy())), int(np.argmin(rate.to_numpy()))
    best, worst = f.iloc[b], f.iloc[w]
    r_b, r_w = float(rate.iloc[b]), float(rate.iloc[w])
    than = (f"{r_b / r_w:.1f}x {what} {worst[label]} ({_pct(r_w)})" if r_w > 0
            else f"against {_pct(r_w)} for {what} {worst[label]}")
    sure = ("their 95 % intervals do not overlap, so the gap is real: shift spend toward it"
            if lo[b] > hi[w] else
            "their 95 % intervals overlap, so the gap may be noise: collect more before "
            "moving budget")
    return (f"{what.capitalize()} {best[label]} has the highest CTR, {_pct(r_b)} "
            f"(95 % interval {_pct(lo[b])} to {_pct(hi[b])}, {int(best['n']):,} impressions), "
            f"{than}; {sure}.")


def data_sections(ws: Workspace) -> list[ReportSection]:
    """Tables and row counts, data quality, CTR by slot and by hour, slot x hour heat map."""
    info = ws.info()
    counts = pd.DataFrame({"table": list(info["tables"]), "rows": list(info["tables"].values())})
    n_events = info["tables"]["events"]
    if n_events:
        lo, hi = wilson_interval(info["ctr"] * n_events, n_events)
        opener = finding(
            f"{n_events:,} impressions from {info['distinct_users']:,} users on "
            f"{info['distinct_ads']:,} ads; CTR {_pct(info['ctr'])} "
            f"(95 % interval {_pct(float(lo))} to {_pct(float(hi))}).")
        detail = (
            f"<p>Events from <b>{html.escape(info['first_event'])}</b> to "
            f"<b>{html.escape(info['last_event'])}</b>"
            + (f"; conversions per impression {format_value(info['conversion_rate'], '.3%')}"
               if info.get("conversion_rate") is not None else "")
            + ".</p>"
        )
    else:
        opener = finding("The workspace has no events yet: ingest an impression log with "
                         "`adwise ingest FILE --table events` to see click-through here.")
        detail = ""
    sections = [ReportSection("Data", opener + detail + table(counts, formats={"rows": ",d"}))]
    if not n_events:
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
    quality = quality.sort_values("missing share", ascending=False, kind="stable")
    gaps = quality[quality["missing share"] > 0]
    if gaps.empty:
        q_find = finding("Every column is complete: no missing values.")
    else:
        worst = format_value(gaps.iloc[0]["missing share"], ".1%")
        q_find = finding(f"{len(gaps)} of {len(quality)} columns have missing values, most "
                         f"{gaps.iloc[0]['column']} ({worst}): check the export if that "
                         "column matters to you.")
    sections.append(ReportSection(
        "Data quality", q_find + table(quality, max_rows=60, formats={"missing share": ".1%"})))

    hourly = ws.query(
        "SELECT hour(ts) AS hour, sum(clicked) AS k, count(*) AS n FROM events "
        "GROUP BY 1 ORDER BY 1"
    )
    parts = []
    sentence = compare_rates(hourly.assign(h=[f"{int(h):02d}:00" for h in hourly["hour"]]),
                             "h", "hour")
    if sentence is None:
        hours = hourly["hour"].dropna().astype(int).tolist()
        sentence = (f"All events fall in the hour {hours[0]:02d}:00, so hours cannot be "
                    "compared: ingest a day or more of events to see when users click."
                    if len(hours) == 1 else
                    "Too few impressions per hour to compare hours (fewer than "
                    f"{MIN_IMPRESSIONS:,} in all but one): collect more before moving budget "
                    "between hours.")
    parts.append(finding(sentence))
    charts = [hour_chart(hourly["hour"], hourly["k"], hourly["n"], title="CTR by hour of day")]
    hour_table = hourly.assign(ctr=hourly["k"] / hourly["n"]).rename(
        columns={"k": "clicks", "n": "impressions"})
    tables = [table(hour_table[["hour", "impressions", "clicks", "ctr"]], max_rows=24,
                    formats={"ctr": ".2%", "impressions": ",d", "clicks": ",d", "hour": ",d"})]
    if "placement" in cols:
        slot = ws.query(
            "SELECT placement, sum(clicked) AS k, count(*) AS n FROM events "
            "WHERE placement IS NOT NULL GROUP BY 1 ORDER BY 1"
        )
        s2 = compare_rates(slot, "placement", "placement")
        if s2:
            parts.append(finding(s2))
        lo, hi = wilson_interval(slot["k"], slot["n"])
        charts.append(bar_chart(slot["placement"], slot["k"] / slot["n"], title="CTR by placement",
                                value_title="CTR", fmt=".1%", counts=slot["n"], low=lo, high=hi,
                                min_count=MIN_IMPRESSIONS, what="placements"))
        cell = ws.query(
            "SELECT placement, hour(ts) AS hour, sum(clicked) AS k, count(*) AS n FROM events "
            "WHERE placement IS NOT NULL GROUP BY 1, 2"
        )
        charts.append(heatmap(cell["placement"], cell["hour"], cell["k"] / cell["n"], cell["n"],
                              title="CTR by placement x hour", row_title="placement"))
        slot_table = slot.assign(ctr=slot["k"] / slot["n"], low=lo, high=hi).rename(
            columns={"k": "clicks", "n": "impressions", "low": "95 % low",
                     "high": "95 % high"})
        tables.append(table(slot_table, formats={"ctr": ".2%", "95 % low": ".2%",
                                                 "95 % high": ".2%", "impressions": ",d",
                                                 "clicks": ",d"}))
    sections.append(ReportSection(
        "Click-through by hour and placement",
        "".join(parts) + f"<div class='grid'>{''.join(charts)}</div>"
        + f"<div class='grid'>{''.join(tables)}</div>"))
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
    body = finding("This is the synthetic world's hidden truth: judge the models below by how "
                   "well they recover these segments and slot effects.")
    body += bar_chart(list(seg.index), share, title="True segments (share of users)",
                      value_title="share of users", fmt=".0%", counts=seg.to_numpy(),
                      what="segments", count_title="users")
    true_ctr = truth.get("summary", {}).get("true_ctr")
    if true_ctr is not None:
        body += f"<p>True mean click probability of logged impressions: {_pct(float(true_ctr))}</p>"
    if "slots" in truth and "slot_effect" in truth:
        body += bar_chart(
            truth["slots"],
            np.asarray(truth["slot_effect"], dtype=float),
            title="True slot effects",
            value_title="effect on click log-odds (0 = average slot)",
            fmt="+.2f",
            what="slots",
        )
    return ReportSection("Synthetic world: the truth", body)
