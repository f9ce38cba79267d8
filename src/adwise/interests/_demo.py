"""Demo step and report section of the interests capability."""

from __future__ import annotations

import html

import numpy as np

from adwise._plugins import DemoContext, DemoResult, ReportSection

__all__ = ["demo", "report"]


def _sections(meta: dict, metrics: dict) -> list[ReportSection]:
    import pandas as pd

    from adwise.report import bar_chart, finding, no_data, table

    reach = meta.get("top_categories_by_users", {})
    cats = sorted(reach, key=reach.get, reverse=True)
    if cats:
        total = meta.get("n_users")
        share = f" ({reach[cats[0]] / total:.0%} of users)" if total else ""
        text = (f"{cats[0]} is the interest most users share: {reach[cats[0]]:,} users have it "
                f"among their top 3{share}; aim broad campaigns there and niche ones at "
                f"{cats[-1]}.")
        p3 = metrics.get("precision_at_3_vs_truth")
        if p3 is not None:
            text += f" The learned top-3 interests match the true ones for {p3:.0%} (chance 25 %)."
        body = finding(text)
        body += bar_chart(cats, [reach[c] for c in cats],
                          title="Users with the category among their top-3 interests",
                          value_title="users", fmt=",d", what="categories")
        body += table(pd.DataFrame({"category": cats, "users": [reach[c] for c in cats]}),
                      formats={"users": ",d"})
    else:
        body = no_data("interests", "the model learned no category affinities (the ads table "
                       "needs a category column)")
    topics = meta.get("topic_labels", [])
    if topics:
        body += ("<p>Text topics (TF-IDF + NMF over creatives and user text): "
                 + html.escape("; ".join(topics)) + "</p>")
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
