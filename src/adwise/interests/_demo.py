"""Demo step and report section of the interests capability."""

from __future__ import annotations

import html

import numpy as np

from adwise._plugins import DemoContext, DemoResult, ReportSection

__all__ = ["demo", "report"]


def _sections(meta: dict, metrics: dict) -> list[ReportSection]:
    from adwise.report._charts import bar_chart

    reach = meta.get("top_categories_by_users", {})
    cats = sorted(reach, key=reach.get, reverse=True)
    body = bar_chart(
        cats,
        [reach[c] for c in cats],
        title="users with the category among their top-3 interests",
        fmt=".0f",
    )
    topics = meta.get("topic_labels", [])
    body += (
        "<p>Text topics (TF-IDF + NMF over creatives and user text): "
        + html.escape("; ".join(topics))
        + "</p>"
    )
    if "precision_at_3_vs_truth" in metrics:
        body += (
            f"<p>Top-3 interests match the synthetic truth: precision@3 "
            f"{metrics['precision_at_3_vs_truth']:.2f} (chance 0.25).</p>"
        )
    return [ReportSection("Interests", body, capability="interests")]


def demo(ctx: DemoContext) -> DemoResult:
    from adwise.data import load_truth
    from adwise.interests._pipeline import load_interests, train_interests
    from adwise.metrics import precision_at_k

    ws = ctx.workspace
    train_interests(ws, progress=ctx.progress)
    im = load_interests(ws)
    res = DemoResult()
    try:
        tr = load_truth(ctx.world_dir)
        pos = {s: i for i, s in enumerate(ws.pseudonyms(tr.user_ids))}
        ti = np.array([pos[u] for u in im.user_ids])
        truth = tr.user_interest[ti][:, [list(tr.categories).index(c) for c in im.categories]]
        p3 = precision_at_k(np.argsort(-im.lift, 1)[:, :3], np.argsort(-truth, 1)[:, :3], 3)
        res.metrics["precision_at_3_vs_truth"] = p3
        res.lines.append(
            f"top-3 interests match the true ones for {p3:.0%} of picks (chance: 25 %)"
        )
        raw = str(tr.user_ids[ti[0]])
    except (OSError, KeyError):
        raw = None
    if raw is not None:
        top = im.interests(ws.pseudonym(raw), 3)
        res.lines.append(f"user {raw}: " + ", ".join(f"{c} ({s:.1f}x)" for c, s, _ in top))
    res.lines.append("text topics: " + "; ".join(im.topic_labels[:5]) + " ...")
    res.sections = _sections(im.metadata, res.metrics)
    return res


def report(ws) -> list[ReportSection]:
    mv = ws.registry.get("interests")
    meta = ws.registry.load("interests").read_json("model.json")
    return _sections(meta, mv.metadata.get("metrics", {}))
