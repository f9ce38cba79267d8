"""Defaults that generalise (issue 15): the hybrid ranker's untuned defaults, chosen by the
best average rank over every implicit-feedback data set we have, never by one.

    .venv/bin/python benchmarks/defaults_rank.py [--tune=15t] [--only=movielens,retail]
                                                 [--tune-only] [--report]

For each data set (MovieLens latest-small ratings as implicit feedback; Online Retail customer x
StockCode purchases, 2011 Q3-Q4; Complete Journey household x product from the transaction
sample; the synthetic world's clicks) the protocol is that of ``benchmarks/recsys.py``: each
user's chronologically last 20 % of (user, item) pairs is the test, NDCG@10 of the top 10 with
the training items excluded (``recsys.chrono_split`` / ``recsys.evaluate_ranker``).

1. ``--tune`` (seeded TPE, the budget split over EASE, item-kNN and ALS, validated on each
   user's latest 20 % of the training pairs; never the test) runs once per data set; the
   chosen component settings become candidates "tuned on <data set>".
2. Every candidate configuration of ``HybridRecommender`` (the current defaults, the four
   tuned ones and a few variants) is fitted and scored on every data set.
3. The table: NDCG@10 per candidate and data set, the rank per data set, the average rank;
   and defaults / tuned per data set.

Each data set's numbers are cached in ``benchmarks/results/defaults_rank/<name>.json`` (so
that data sets can run in separate processes); ``--report`` only rebuilds
``benchmarks/results/defaults.md`` from the cache; ``--tune-only`` stops after step 1 (run it
for every data set first when data sets run in parallel, so that each scores every tuned
candidate).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from adwise._tuning import Budget
from adwise.delivery import HybridRecommender
from adwise.delivery._tune import tune_ranking
from recsys import DATA, chrono_split, evaluate_ranker

RESULTS = Path(__file__).with_name("results")
CACHE = RESULTS / "defaults_rank"
TUNE = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--tune=")), "15t")
ONLY = next((a.split("=", 1)[1].split(",") for a in sys.argv if a.startswith("--only=")), None)
REPORT = "--report" in sys.argv
TUNE_ONLY = "--tune-only" in sys.argv

#: Candidate hybrid configurations besides the current defaults, the tuned ones and their
#: consensus: ``{label: HybridRecommender keyword arguments}``.
VARIANTS: dict[str, dict] = {
    "EASE reg 500, ALS reg 1": {"component_params": {"ease": {"reg": 500.0},
                                                     "als": {"regularization": 1.0}}},
    "ALS 128 factors, reg 5, alpha 2": {"component_params": {"als": {
        "factors": 128, "regularization": 5.0, "alpha": 2.0}}},
    "item-kNN 200 neighbours, shrink 50": {"component_params": {"item_knn": {
        "n_neighbors": 200, "shrink": 50.0}}},
    "recency half-lives 2.5-40": {"recency_half_lives": (2.5, 5.0, 10.0, 20.0, 40.0)},
    "min_gain 0.002": {"min_gain": 0.002},
}


def _pairs(df: pd.DataFrame, weight: bool = False) -> pd.DataFrame:
    """One row per (user, item): its first time (so a test item is new to the user) and, with
    ``weight``, the summed weights."""
    agg = {"ts": ("ts", "min")}
    if weight:
        agg["w"] = ("w", "sum")
    return df.groupby(["u", "i"], as_index=False).agg(**agg)


def _core(df: pd.DataFrame, min_user: int, min_item: int) -> pd.DataFrame:
    """Drop items with fewer than ``min_item`` users, then users with fewer than
    ``min_user`` items (two passes)."""
    for _ in range(2):
        df = df[df.groupby("i")["u"].transform("size") >= min_item]
        df = df[df.groupby("u")["i"].transform("size") >= min_user]
    return df


def movielens():
    df = pd.read_csv(DATA / "movielens_latest_small" / "ratings.csv").rename(
        columns={"userId": "u", "movieId": "i", "timestamp": "ts"})
    mv = pd.read_csv(DATA / "movielens_latest_small" / "movies.csv").set_index("movieId")
    feats = pd.DataFrame({"text": mv["title"] + " " + mv["genres"].str.replace("|", " "),
                          "category": mv["genres"].str.split("|").str[0]})
    return df[["u", "i", "ts"]], feats, False, "`ratings.csv` as shipped, every row"


def retail():
    parts = [pd.read_csv(DATA / "online_retail" / f"online_retail_2011{q}.csv.gz",
                         dtype={"StockCode": str, "InvoiceNo": str})
             for q in ("Q3", "Q4")]
    df = pd.concat(parts, ignore_index=True)
    df = df[df["CustomerID"].notna() & (df["Quantity"] > 0)
            & ~df["InvoiceNo"].str.startswith("C")]
    desc = df.groupby("StockCode")["Description"].agg(lambda s: str(s.dropna().iloc[0])
                                                      if s.notna().any() else "")
    df = pd.DataFrame({"u": df["CustomerID"].astype(int), "i": df["StockCode"],
                       "ts": pd.to_datetime(df["InvoiceDate"])})
    df = _core(_pairs(df), 5, 5)
    feats = pd.DataFrame({"text": desc, "category": desc.str.split().str[-1].fillna("")})
    return df, feats, False, ("2011 Q3-Q4 purchase lines (no returns), customers and items "
                              "with >= 5 distinct (customer, StockCode) pairs")


def journey():
    cj = DATA / "complete_journey"
    tx = pd.read_csv(cj / "transactions_sample.csv.gz")
    pr = pd.read_csv(cj / "products.csv.gz", dtype={"product_id": "Int64"})
    pr = pr.dropna(subset=["product_id"]).astype({"product_id": "int64"}).set_index("product_id")
    df = pd.DataFrame({"u": tx["household_id"], "i": tx["product_id"],
                       "ts": pd.to_datetime(tx["transaction_timestamp"])})
    df = _core(_pairs(df), 5, 3)
    pr = pr[pr.index.isin(df["i"])].fillna("")
    feats = pd.DataFrame({"text": pr["department"] + " " + pr["product_category"] + " "
                          + pr["product_type"] + " " + pr["brand"],
                          "category": pr["department"]})
    return df, feats, False, ("the 75,000-line transaction sample, households with >= 5 "
                              "and products with >= 3 distinct (household, product) pairs")


def synthetic():
    from adwise.data import generate_world
    from adwise.delivery._pipeline import _ad_features, interactions_from_events

    # 120 days: at a 2 % CTR, 14 days leave most users with one or two clicked ads
    w = generate_world(n_users=3000, n_ads=200, days=120, seed=7)
    inter = interactions_from_events(w.events).rename(
        columns={"user_id": "u", "ad_id": "i", "weight": "w"})
    inter["ts"] = pd.to_datetime(inter["ts"])
    return (_core(_pairs(inter, weight=True), 3, 1), _ad_features(w.ads), True,
            "`generate_world(n_users=3000, n_ads=200, days=120, seed=7)` clicks, weight 1 + 4 "
            "x converted summed per (user, ad), users with >= 3 clicked ads")


DATASETS = {"movielens": movielens, "retail": retail, "journey": journey,
            "synthetic": synthetic}


def _consensus(tuned: dict[str, dict]) -> dict[str, dict]:
    """Per component and parameter, the median of the tuned values over the data sets (on a
    log scale where the search is; integers rounded)."""
    from adwise.delivery._tune import SEARCH_SPACES

    out: dict[str, dict] = {}
    for comp in sorted({c for p in tuned.values() for c in p}):
        out[comp] = {}
        for dim in SEARCH_SPACES[comp]:
            v = np.array([float(p[comp][dim.name]) for p in tuned.values() if comp in p])
            mid = float(np.exp(np.median(np.log(v))) if dim.log else np.median(v))
            out[comp][dim.name] = round(mid) if dim.integer else mid
    return out


def candidates(tuned: dict[str, dict]) -> tuple[dict[str, dict], dict[str, str]]:
    """``({label: HybridRecommender kwargs}, {label of a duplicate: label kept})``: a tuned
    configuration equal to one already listed (a search whose defaults won) is scored once."""
    from adwise.delivery._implicit import make_recommender

    def key(params: dict) -> str:
        full = {c: {**make_recommender(c).get_params(), **params.get(c, {})}
                for c in ("ease", "item_knn", "als")}
        return json.dumps(full, sort_keys=True, default=float)

    out, alias, seen = {"current defaults": {}}, {}, {key({}): "current defaults"}
    configs = {f"tuned on {n}": p for n, p in tuned.items()}
    if len(tuned) > 1:
        configs["median of the tuned settings"] = _consensus(tuned)
    for label, params in configs.items():
        k = key(params)
        if k in seen:
            alias[label] = seen[k]
        else:
            seen[k], out[label] = label, {"component_params": params}
    return {**out, **VARIANTS}, alias


def _ts_order(ts: pd.Series) -> np.ndarray:
    return (pd.to_datetime(ts).astype("int64") if not np.issubdtype(ts.dtype, np.number)
            else ts).to_numpy()


def run_dataset(name: str, tuned_all: dict[str, dict]) -> dict:
    """Tune on ``name`` (if not cached) and score every candidate not yet scored on it."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{name}.json"
    res = json.loads(path.read_text()) if path.exists() else {"ndcg": {}, "seconds": {}}
    df, feats, weighted, note = DATASETS[name]()
    df = df.assign(ts=_ts_order(df["ts"])).reset_index(drop=True)
    feats.index = feats.index.astype(str)
    df["u"], df["i"] = df["u"].astype(str), df["i"].astype(str)
    feats = feats[feats.index.isin(df["i"])]
    te = chrono_split(df, "u", "ts")
    train, test = df[~te], df[te]
    res["data"] = (f"{note}: {len(df):,} pairs, {df['u'].nunique():,} users, "
                   f"{df['i'].nunique():,} items; test {int(te.sum()):,} pairs")
    print(f"[{name}] {res['data']}", flush=True)
    w = "w" if weighted else None
    if res.get("tune_budget") != TUNE:
        t0 = time.perf_counter()
        params, tuning = tune_ranking(train["u"], train["i"], Budget.parse(TUNE), model="hybrid",
                                      weights=None if w is None else train[w],
                                      order=train["ts"].to_numpy())
        res.update(tune_budget=TUNE, tuned=params, tune_seconds=time.perf_counter() - t0,
                   tune_validation={n: [tuning[n]["default_score"], tuning[n]["score"]]
                                    for n in params})
        res["ndcg"].pop(f"tuned on {name}", None)
        path.write_text(json.dumps(res, indent=1, default=float))
        print(f"[{name}] tuned ({TUNE}): {params} ({res['tune_seconds']:.0f} s)", flush=True)
    tuned_all = {**tuned_all, name: res["tuned"]}
    for label, kw in candidates(tuned_all)[0].items():
        if TUNE_ONLY or label in res["ndcg"]:
            continue
        rep, t = evaluate_ranker(HybridRecommender(**kw), train, test, "u", "i", feats,
                                 "ts", w)
        res["ndcg"][label], res["seconds"][label] = rep["ndcg@10"], t
        path.write_text(json.dumps(res, indent=1, default=float))
        print(f"[{name}] {label}: ndcg@10 {rep['ndcg@10']:.4f} ({t:.0f} s)", flush=True)
    return res


def _cached() -> dict[str, dict]:
    return {n: json.loads((CACHE / f"{n}.json").read_text()) for n in DATASETS
            if (CACHE / f"{n}.json").exists()}


def report(results: dict[str, dict]) -> str:
    names = [n for n in DATASETS if n in results]
    tuned = {n: results[n]["tuned"] for n in names if "tuned" in results[n]}
    cands, alias = candidates(tuned)
    labels = [c for c in cands if all(c in results[n]["ndcg"] for n in names)]
    nd = pd.DataFrame({n: [results[n]["ndcg"][c] for c in labels] for n in names},
                      index=labels)
    ranks = nd.rank(ascending=False, method="average")
    avg = ranks.mean(axis=1)
    order = avg.sort_values(kind="stable").index
    lines = ["| candidate | " + " | ".join(f"{n} NDCG@10 (rank)" for n in names)
             + " | average rank |", "|---|" + "---|" * (len(names) + 1)]
    same = {c: [a for a, b in alias.items() if b == c] for c in labels}
    for c in order:
        cells = [f"{nd.loc[c, n]:.4f} ({ranks.loc[c, n]:g})" for n in names]
        shown = c + "".join(f" (= {a})" for a in same[c])
        lines.append(f"| {shown} | " + " | ".join(cells) + f" | {avg[c]:.2f} |")
    best = order[0]
    lines += ["", f"Best average rank: **{best}**.", "",
              "| data set | defaults (best average rank) | tuned on it (`--tune " + TUNE
              + "`) | defaults / tuned | current defaults / tuned |", "|---|---|---|---|---|"]
    for n in names:
        t = alias.get(f"tuned on {n}", f"tuned on {n}")
        if t in nd.index:
            lines.append(f"| {n} | {nd.loc[best, n]:.4f} | {nd.loc[t, n]:.4f} | "
                         f"{nd.loc[best, n] / nd.loc[t, n]:.3f} | "
                         f"{nd.loc['current defaults', n] / nd.loc[t, n]:.3f} |")
    lines += ["", "Data and tuned settings:", ""]
    for n in names:
        r = results[n]
        lines.append(f"- {n}: {r['data']}; tuned ({r.get('tune_budget')}, "
                     f"{r.get('tune_seconds', 0):.0f} s): `{json.dumps(r.get('tuned'))}`")
    return "\n".join(lines)


def main() -> None:
    if not REPORT:
        names = ONLY or list(DATASETS)
        tuned = {n: r["tuned"] for n, r in _cached().items() if "tuned" in r}
        with threadpool_limits(1, "blas"):
            for n in names:
                tuned[n] = run_dataset(n, tuned)["tuned"]
    if not TUNE_ONLY:
        print(report(_cached()))


if __name__ == "__main__":
    main()
