"""Demo step and report section of the audience capability."""

from __future__ import annotations

import pandas as pd

from adwise._plugins import DemoContext, DemoResult, ReportSection

__all__ = ["demo", "report"]


def _sections(profiles: list[dict], extra: str = "") -> list[ReportSection]:
    from adwise.report import bar_chart, finding, table

    profiles = sorted(profiles, key=lambda p: -p["share"])
    rows = pd.DataFrame(
        [
            {
                "segment": p["name"],
                "share of users": p["share"],
                "profile": p["description"],
                "top interests": ", ".join(i["interest"] for i in p.get("top_interests", [])),
            }
            for p in profiles
        ]
    )
    big = max(profiles, key=lambda p: p["share"])
    body = finding(f"Target by these {len(profiles)} segments, each with its own message; the "
                   f"largest: {big['description']}.")
    body += bar_chart([p["name"] for p in profiles], [p["share"] for p in profiles],
                      title="Segment share of users", value_title="share of users", fmt=".0%",
                      what="segments", count_title="users",
                      counts=([p["size"] for p in profiles]
                              if all("size" in p for p in profiles) else None))
    body += table(rows, formats={"share of users": ".1%"}) + extra
    return [ReportSection("Audience segments", body, capability="audience")]


def demo(ctx: DemoContext) -> DemoResult:

    from adwise.audience._pipeline import load_segments, segment_workspace
    from adwise.data import load_truth

    ws = ctx.workspace
    res = segment_workspace(ws)
    out = DemoResult()
    out.lines.append(f"{res['k']} segments (chosen by silhouette {res['silhouette']:.2f}):")
    out.lines += [f"  {p['description']}" for p in res["profiles"]]
    extra = ""
    try:
        from sklearn.metrics import adjusted_rand_score

        tr = load_truth(ctx.world_dir)
        seg, _ = load_segments(ws)
        pos = {s: i for i, s in enumerate(ws.pseudonyms(tr.user_ids))}
        ari = adjusted_rand_score(tr.user_segment[[pos[u] for u in seg.index]], seg.to_numpy())
        out.metrics["ari_vs_true_segments"] = float(ari)
        out.lines.append(f"agreement with the true segments: adjusted Rand index {ari:.2f}")
        extra = f"<p>Adjusted Rand index against the synthetic truth: {ari:.2f}.</p>"
    except (OSError, KeyError):
        pass
    out.metrics.update(k=res["k"], silhouette=res["silhouette"])
    out.sections = _sections(res["profiles"], extra)
    return out


def report(ws) -> list[ReportSection]:
    meta = ws.registry.load("audience").read_json("segments.json")
    return _sections(meta["profiles"])
