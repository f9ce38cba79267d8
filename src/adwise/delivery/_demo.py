"""The delivery step of ``adwise demo`` and its report section, plus the simulated day used to
check decisions against the synthetic world's truth (demo, tests and benchmark)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from adwise._plugins import DemoContext, DemoResult, ReportSection

__all__ = ["cold_ad_ndcg", "demo", "report", "simulate_day"]


def simulate_day(
    truth: Any,
    planner: Any,
    users_raw: np.ndarray,
    users_stored: np.ndarray,
    n_requests: int = 2000,
    n_candidates: int = 20,
    seed: int = 0,
    pace: bool = True,
) -> dict[str, float]:
    """Serve ``n_requests`` impressions over one simulated day and compare with the oracle.

    Each request is a random user at a random hour of one weekday, placement drawn uniformly,
    with ``n_candidates`` random ads as candidates.  The planner picks the best eligible ad by
    its estimated expected value; clicks and conversions are drawn from the truth and charged
    (the ad's bid per click, as the synthetic world's CPA ads also pay per click), so budgets
    and pacing bind.  ``value_ratio`` compares, without budgets, the true expected value
    (true pCTR x bid, or x pCVR x CPA bid) of the planner's choice with the oracle's choice
    (the candidate with the highest true expected value).
    """
    rng = np.random.default_rng(seed)
    ads = planner.ads
    ad_ids = ads.index.to_numpy(dtype=object)
    ai_all = truth.ad_index(ad_ids)
    cpa = (ads["pricing"] == "cpa").to_numpy()
    planner.reset()
    chosen_v = oracle_v = 0.0
    served = 0
    hours = np.sort(rng.integers(0, 24, n_requests))
    for r in range(n_requests):
        j = rng.integers(len(users_raw))
        ui = truth.user_index([users_raw[j]])[0]
        cand = rng.choice(len(ad_ids), size=min(n_candidates, len(ad_ids)), replace=False)
        slot = int(rng.integers(len(truth.slots)))
        pc = truth.p_click(ui, ai_all[cand], slot, int(hours[r]), 2)
        pv = truth.p_convert(ui, ai_all[cand], 0)
        value = np.where(cpa[cand], pc * pv * ads["cpa_bid"].to_numpy()[cand],
                         pc * ads["bid"].to_numpy()[cand])
        ctx = {"progress": (r + 1) / n_requests, "placement": truth.slots[slot]}
        ranked = planner.rank(users_stored[j], ad_ids[cand], ctx)
        by_ev = ranked.sort_values("expected_value", ascending=False, kind="stable")
        pick = int(np.flatnonzero(ad_ids[cand] == by_ev["ad_id"].iloc[0])[0])
        chosen_v += value[pick]
        oracle_v += value.max()
        if not pace:
            continue
        top = ranked.iloc[0]
        if not bool(top["eligible"]):
            continue
        k = int(np.flatnonzero(ad_ids[cand] == top["ad_id"])[0])
        clicked = rng.random() < pc[k]
        cost = float(ads["max_charge"].iloc[cand[k]]) if clicked else 0.0
        planner.record(users_stored[j], top["ad_id"], cost)
        served += 1
    rep = planner.spend_report()
    within = rep["budget"].isna() | (rep["spent"] <= rep["budget"] + 1e-9)
    return {
        "value_ratio": chosen_v / oracle_v if oracle_v > 0 else float("nan"),
        "served_share": served / n_requests,
        "campaigns_within_budget": float(within.mean()),
        "max_spend_over_budget": float((rep["spent"] / rep["budget"]).max()),
    }


def cold_ad_ndcg(world: Any, share: float = 0.2, seed: int = 0, k: int = 10) -> dict[str, float]:
    """NDCG@k on ads never seen in training (content-only), vs a random ranking."""
    from adwise.delivery._implicit import HybridRecommender
    from adwise.delivery._pipeline import _ad_features, interactions_from_events
    from adwise.metrics import ndcg_at_k

    rng = np.random.default_rng(seed)
    ads = world.ads
    cold = set(rng.choice(ads["ad_id"].to_numpy(), int(len(ads) * share), replace=False))
    inter = interactions_from_events(world.events)
    tr = inter[~inter["ad_id"].isin(cold)]
    te = inter[inter["ad_id"].isin(cold) & inter["user_id"].isin(set(tr["user_id"]))]
    rec = HybridRecommender(components=("item_knn", "content", "popularity")).fit(
        tr["user_id"], tr["ad_id"], tr["weight"], item_features=_ad_features(ads)
    )
    rel = te.groupby("user_id")["ad_id"].agg(list)
    if rel.empty:  # a world too small to hold out any clicked ad: nothing to measure
        return {"cold_ndcg": float("nan"), "random_ndcg": float("nan"), "n_users": 0}
    cands = sorted(cold)
    got = rec.recommend(rel.index.to_numpy(), k=k, candidates=cands)
    rand = [rng.permutation(cands)[:k] for _ in range(len(rel))]
    return {"cold_ndcg": ndcg_at_k(got, rel.tolist(), k),
            "random_ndcg": ndcg_at_k(rand, rel.tolist(), k), "n_users": len(rel)}


_CHECKS = {
    "value_ratio": ("value earned on a simulated day, share of the oracle's", ".1%"),
    "campaigns_within_budget": ("campaigns within budget on that day", ".0%"),
    "cold_ndcg": ("NDCG@10 on brand-new ads (text + category only)", ".3f"),
    "random_ndcg": ("NDCG@10 of a random ranking of those ads", ".3f"),
    "click_auc": ("AUC of the click model ranking ads", ".3f"),
}


def _sections(metrics: dict[str, Any]) -> list[ReportSection]:
    from adwise.report import bar_chart, finding, format_value, table

    ndcg, vr = metrics.get("ndcg@10"), metrics.get("value_ratio")
    if vr is not None:
        within = metrics.get("campaigns_within_budget")
        text = (f"Serve ads with this planner: on a simulated day it earned {vr:.0%} of the "
                "best possible value (the oracle knows the true click odds)"
                + (f" with {within:.0%} of campaigns within budget" if within is not None
                   else "") + ".")
    elif ndcg is not None:
        text = (f"The recommender puts ads the user later clicked near the top (NDCG@10 "
                f"{ndcg:.3f} on the last 20 % of time); compare it with a new model's before "
                "promoting that one.")
    else:
        text = "The delivery model has no test metrics: retrain it with `adwise delivery train`."
    charts = []
    keys = [k for k in ("precision@10", "recall@10", "ndcg@10", "map@10", "coverage@10")
            if metrics.get(k) is not None]
    if keys:
        charts.append(bar_chart(keys, [metrics[k] for k in keys],
                               title="Recommender on the last 20 % of time",
                               value_title="score (0 to 1, higher is better)", fmt=".3f",
                               what="metrics", sort=False))
    c = metrics.get("click_coef")
    if isinstance(c, dict) and c:
        charts.append(bar_chart(list(c), list(c.values()), title="Click model weights",
                               value_title="effect on click log-odds", fmt="+.2f",
                               what="features"))
    w = metrics.get("blend_weights")
    if isinstance(w, dict) and w:
        charts.append(bar_chart(list(w), list(w.values()), title="Hybrid recommender blend",
                               value_title="weight", fmt=".2f", what="components"))
    parts = [finding(text), f"<div class='grid'>{''.join(charts)}</div>"]
    rows = [(label, format_value(float(metrics[k]), f)) for k, (label, f) in _CHECKS.items()
            if isinstance(metrics.get(k), int | float)]
    rows += [(k, format_value(float(metrics[k]), ".3f")) for k in keys]
    if rows:
        parts.append(table(pd.DataFrame(rows, columns=["check", "value"])))
    return [ReportSection("Delivery: which ad should this user see?", "".join(parts), "delivery")]


def demo(ctx: DemoContext) -> DemoResult:
    """Train delivery on the demo workspace, then check it against the truth."""
    from adwise.data import generate_world, load_truth
    from adwise.delivery._pipeline import load_delivery, train_workspace

    ws = ctx.workspace
    res = train_workspace(ws, progress=ctx.progress)
    m = dict(res["metrics"])
    d = load_delivery(ws)
    truth = load_truth(ctx.world_dir)
    users = pd.read_parquet(f"{ctx.world_dir}/users.parquet")["user_id"].to_numpy(dtype=object)
    stored = np.asarray(ws.pseudonyms(users), dtype=object)
    sim = simulate_day(truth, d.planner(), users, stored, n_requests=600)
    m.update(sim)
    meta = truth.meta
    world = generate_world(n_users=min(2000, meta["n_users"]), n_ads=meta["n_ads"],
                           days=min(7, meta["days"]), seed=meta["seed"])
    cold = cold_ad_ndcg(world)
    m.update(cold_ndcg=cold["cold_ndcg"], random_ndcg=cold["random_ndcg"])
    lines = [
        f"recommender ({res['version']}): NDCG@10 {m.get('ndcg@10', float('nan')):.3f}, "
        f"coverage {m.get('coverage@10', float('nan')):.0%} on the last 20 % of time",
        f"pCTR model AUC {m.get('click_auc', float('nan')):.3f} "
        f"({'behavior model' if d.behavior is not None else 'delivery click model'} ranks)",
        f"simulated day: value {sim['value_ratio']:.1%} of the oracle's (true pCTR x bid); "
        f"{sim['campaigns_within_budget']:.0%} of campaigns within budget",
        f"brand-new ads (text + category only): NDCG@10 {cold['cold_ndcg']:.3f} vs random "
        f"{cold['random_ndcg']:.3f}",
    ]
    return DemoResult(lines=lines, sections=_sections(m), metrics=m)


def report(ws: Any) -> list[ReportSection]:
    """The delivery section from the promoted model's metadata."""
    reg = ws.registry
    if reg.current("delivery") is None:
        return []
    return _sections(reg.get("delivery").metadata.get("metrics", {}))
