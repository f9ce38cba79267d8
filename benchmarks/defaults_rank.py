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
2. Every candidate configuration of ``HybridRecommender`` (the previous defaults, the four
   tuned ones, their median and a few variants) is fitted and scored on every data set; the
   code's defaults (``HybridRecommender()``, set from the winner) are scored too, to check.
3. The table: NDCG@10 per candidate and data set, the rank per data set, the average rank;
   and defaults / tuned per data set.

Each data set's numbers are cached in ``benchmarks/results/defaults_rank/<name>.json`` (so
that data sets can run in separate processes); ``--report`` only rebuilds
``benchmarks/results/defaults_rank.md`` from the cache; ``--tune-only`` stops after step 1 (run it
for every data set first when data sets run in parallel, so that each scores every tuned
candidate).
"""

from __future__ import annotations

import json
import re
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
#: Score the candidates last to first into ``<name>.rev.json``: a second process on the same
#: data set, meeting the first from the other end.
REVERSE = "--reverse" in sys.argv
#: Score only these candidates (comma-separated labels), into ``<name>.<slug of the first>.json``.
LABELS = next((a.split("=", 1)[1].split(",") for a in sys.argv if a.startswith("--labels=")),
              None)

#: The hybrid's defaults before this benchmark chose new ones (issue 15).
PREVIOUS: dict = {
    "component_params": {"ease": {"reg": 250.0}, "item_knn": {"n_neighbors": 100, "shrink": 10.0},
                         "als": {"factors": 64, "regularization": 0.05, "alpha": 1.0,
                                 "iterations": 15}},
    "min_gain": 0.005,
}


def _previous(min_gain: float | None = None, **components: dict) -> dict:
    """:data:`PREVIOUS` with some settings changed."""
    out = {"component_params": {c: {**p, **components.get(c, {})}
                                for c, p in PREVIOUS["component_params"].items()},
           "min_gain": PREVIOUS["min_gain"] if min_gain is None else min_gain}
    return out


#: Candidate hybrid configurations besides the previous and new defaults, the tuned ones and
#: their consensus: ``{label: HybridRecommender keyword arguments}``.
VARIANTS: dict[str, dict] = {
    "min_gain 0.002": _previous(min_gain=0.002),
    "EASE reg 500, ALS reg 1": _previous(ease={"reg": 500.0}, als={"regularization": 1.0}),
    "ALS 128 factors, reg 5, alpha 2": _previous(als={"factors": 128, "regularization": 5.0,
                                                      "alpha": 2.0}),
    "item-kNN 200 neighbours, shrink 50": _previous(item_knn={"n_neighbors": 200,
                                                              "shrink": 50.0}),
    "recency half-lives 2.5-40": {**_previous(),
                                  "recency_half_lives": (2.5, 5.0, 10.0, 20.0, 40.0)},
}
#: The label of the code's defaults (``HybridRecommender()``), scored after the choice.
NEW = "new defaults (in the code)"
TUNED_NEW = "tuned here with the new hybrid settings"


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


#: The median of the four tuned settings (``--tune=15t``), rounded: what the defaults
#: would become.
ROUNDED = {"ease": {"reg": 250.0}, "item_knn": {"n_neighbors": 80, "shrink": 40.0},
           "als": {"factors": 64, "regularization": 1.0, "alpha": 1.25, "iterations": 20}}


#: The median of the four tuned settings to three significant digits (integers unchanged;
#: EASE kept at its previous 250, the median being 263).
MEDIAN3 = {"ease": {"reg": 250.0}, "item_knn": {"n_neighbors": 77, "shrink": 40.8},
           "als": {"factors": 57, "regularization": 1.08, "alpha": 1.23, "iterations": 22}}


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
    def key(params: dict) -> str:
        full = {c: {**p, **params.get(c, {})} for c, p in PREVIOUS["component_params"].items()}
        return json.dumps(full, sort_keys=True, default=float)

    out = {"previous defaults": PREVIOUS, NEW: {}}
    alias, seen = {}, {key({}): "previous defaults"}
    # tuned settings are used with the previous min_gain: the search started from those defaults
    configs = {f"tuned on {n}": p for n, p in tuned.items()}
    if len(tuned) > 1:
        configs["median of the tuned settings"] = _consensus(tuned)
    for label, params in configs.items():
        k = key(params)
        if k in seen:
            alias[label] = seen[k]
        else:
            seen[k], out[label] = label, {"component_params": params,
                                          "min_gain": PREVIOUS["min_gain"]}
    both = {}
    if len(tuned) > 1:  # added after the first table: the two best-ranked changes together
        both["median of the tuned settings, min_gain 0.002"] = {
            "component_params": _consensus(tuned), "min_gain": 0.002}
        both["the same, rounded"] = {"component_params": ROUNDED, "min_gain": 0.002}
        both["median (3 significant digits), min_gain 0.002"] = {
            "component_params": MEDIAN3, "min_gain": 0.002}
    return {**out, **both, **VARIANTS}, alias


def _ts_order(ts: pd.Series) -> np.ndarray:
    return (pd.to_datetime(ts).astype("int64") if not np.issubdtype(ts.dtype, np.number)
            else ts).to_numpy()


def run_dataset(name: str, tuned_all: dict[str, dict]) -> dict:
    """Tune on ``name`` (if not cached) and score every candidate not yet scored on it."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{name}.json"
    res = json.loads(path.read_text()) if path.exists() else {"ndcg": {}, "seconds": {}}
    if REVERSE or LABELS:
        res = _merged(name)
        slug = re.sub(r"\W+", "_", LABELS[0])[:24] if LABELS else "rev"
        path = CACHE / f"{name}.{slug}.json"
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
    todo = list(candidates(tuned_all)[0].items())
    # the tuned components under the code's hybrid settings (min_gain, half-lives): the
    # tuned reference for the new defaults, on this data set only
    todo.append((TUNED_NEW, {"component_params": res["tuned"]}))
    for label, kw in reversed(todo) if REVERSE else todo:
        if TUNE_ONLY or label in _merged(name)["ndcg"] or (LABELS and label not in LABELS):
            continue
        rep, t = evaluate_ranker(HybridRecommender(**kw), train, test, "u", "i", feats,
                                 "ts", w)
        res["ndcg"][label], res["seconds"][label] = rep["ndcg@10"], t
        path.write_text(json.dumps(res, indent=1, default=float))
        print(f"[{name}] {label}: ndcg@10 {rep['ndcg@10']:.4f} ({t:.0f} s)", flush=True)
    return res


def _merged(name: str) -> dict:
    """The cache of ``name`` with the scores of ``--reverse`` / ``--labels`` processes merged
    in."""
    res = json.loads((CACHE / f"{name}.json").read_text())
    for part in sorted(CACHE.glob(f"{name}.*.json")):  # --reverse and --labels processes
        other = json.loads(part.read_text())
        for key in ("ndcg", "seconds"):
            res[key] = {**other[key], **res[key]}
    for key in ("ndcg", "seconds"):  # the label while these were the code's defaults
        if "current defaults" in res[key]:
            res[key]["previous defaults"] = res[key].pop("current defaults")
    return res


def _cached() -> dict[str, dict]:
    return {n: _merged(n) for n in DATASETS if (CACHE / f"{n}.json").exists()}


def report(results: dict[str, dict]) -> str:
    names = [n for n in DATASETS if results.get(n, {}).get("ndcg")]
    tuned = {n: results[n]["tuned"] for n in names if "tuned" in results[n]}
    cands, alias = candidates(tuned)
    # the code's defaults are scored after the choice: they are not a candidate
    labels = [c for c in cands if c != NEW and all(c in results[n]["ndcg"] for n in names)]
    partial = [c for c in cands if c != NEW and c not in labels
               and any(c in results[n]["ndcg"] for n in names)]
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
    for c in partial:
        cells = [f"{results[n]['ndcg'][c]:.4f}" if c in results[n]["ndcg"] else "not run"
                 for n in names]
        lines.append(f"| {c} (not ranked: not run everywhere) | " + " | ".join(cells) + " | |")
    lines += ["", f"Best average rank: **{order[0]}**."]
    if all(NEW in results[n]["ndcg"] for n in names):
        with_new = pd.concat([nd, pd.DataFrame({n: [results[n]["ndcg"][NEW]] for n in names},
                                               index=[NEW])])
        r_new = with_new.rank(ascending=False, method="average").loc[NEW]
        lines += ["", "The code's defaults (that, with three significant digits, EASE kept at "
                  "250, and recency half-lives 2.5-40), ranked among these candidates: "
                  + ", ".join(f"{n} {r_new[n]:g}" for n in names)
                  + f" (average {r_new.mean():.2f}, out of {len(with_new)})."]
    lines += ["",
              f"| data set | {NEW} | previous defaults | tuned on it (`--tune {TUNE}`), "
              "previous hybrid settings | previous defaults / that | the same tuned "
              "components, new hybrid settings | new defaults / that |",
              "|---|---|---|---|---|---|---|"]
    for n in names:
        t = alias.get(f"tuned on {n}", f"tuned on {n}")
        got = results[n]["ndcg"]
        if t in nd.index:
            tv, pv = nd.loc[t, n], nd.loc["previous defaults", n]
            new, tn = got.get(NEW), got.get(TUNED_NEW)
            ratio = "" if new is None or tn is None else f"{new / tn:.3f}"
            lines.append(f"| {n} | {'not run' if new is None else f'{new:.4f}'} | {pv:.4f} | "
                         f"{tv:.4f} | {pv / tv:.3f} | "
                         f"{'not run' if tn is None else f'{tn:.4f}'} | {ratio} |")
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
        text = report(_cached())
        print(text)
        (RESULTS / "defaults_rank.md").write_text(
            "# Hybrid ranker defaults: every candidate on every data set\n\n"
            "Written by `.venv/bin/python benchmarks/defaults_rank.py --tune=" + TUNE + "` "
            "(each user's chronologically last 20 % of (user, item) pairs as test, NDCG@10, "
            "training items excluded; rank 1 = best on that data set).\n\n" + text + "\n")


if __name__ == "__main__":
    main()
