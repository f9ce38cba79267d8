"""Defaults that generalise (issue 15), uplift: candidate ``BASE_DEFAULTS`` of
``UpliftClassifier`` (learner ``auto``) ranked by their average rank over Hillstrom's women and
men e-mail arms and the synthetic world's randomised campaign, never by one data set.

    .venv/bin/python benchmarks/defaults_uplift.py [SPLITS]     # default 3 split seeds

Protocol as ``benchmarks/uplift_tune.py``: 70/30 split stratified on treatment x outcome,
split seeds 0..SPLITS-1, Qini on the test rows, mean over the splits.  Hillstrom: outcome
visit, each e-mail arm against "No E-Mail".  Synthetic world (``generate_world(n_users=20000,
n_ads=100, days=14, seed=3)``): a user is treated as the world randomised them, the outcome is
any conversion (the treatment acts on conversion after a click), the features are the user's
attributes (one-hot) and their impressions per ad category.  Prints the markdown table
(candidate x data set Qini, rank, average rank).
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from adwise.audience import TabularEncoder, UpliftClassifier
from adwise.audience._uplift import BASE_DEFAULTS
from adwise.metrics import qini_auc_score

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "hillstrom" / "hillstrom.csv"

#: Candidate base settings: overrides of ``BASE_DEFAULTS`` (whose ``logistic_C`` was 1.0
#: when this ran; C = 0.1 won and is the default now).
CANDIDATES: dict[str, dict] = {
    "previous defaults (C 1)": {"logistic_C": 1.0},
    "logistic C 0.1": {"logistic_C": 0.1},
    "logistic C 10": {"logistic_C": 10.0},
    "smaller trees (7 leaves, 200 min child)": {"logistic_C": 1.0, "num_leaves": 7,
                                                "min_child_samples": 200},
    "larger trees (31 leaves, 50 min child)": {"logistic_C": 1.0, "num_leaves": 31,
                                               "min_child_samples": 50},
}


def hillstrom(arm: str):
    df = pd.read_csv(DATA)
    df = df[df.segment.isin([arm, "No E-Mail"])].reset_index(drop=True)
    t = (df.segment == arm).astype(int).to_numpy()
    X = df.drop(columns=["segment", "visit", "conversion", "spend"])
    return X, df.visit.to_numpy(), t


def synthetic():
    from adwise.data import generate_world

    w = generate_world(n_users=20000, n_ads=100, days=14, seed=3)
    ev = w.events.merge(w.ads[["ad_id", "category"]], on="ad_id")
    imps = pd.crosstab(ev.user_id, ev.category).add_prefix("imps_")
    per = ev.groupby("user_id").agg(t=("treatment", "max"), y=("converted", "max"))
    X = w.users.set_index("user_id").drop(columns=["text"]).join(imps).fillna(0)
    per = per.reindex(X.index).fillna(0)
    return X.reset_index(drop=True), per.y.to_numpy(int), per.t.to_numpy(int)


DATASETS = {"hillstrom women": lambda: hillstrom("Womens E-Mail"),
            "hillstrom men": lambda: hillstrom("Mens E-Mail"), "synthetic": synthetic}


def main() -> None:
    warnings.filterwarnings("ignore")
    splits = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    rec = []
    for name, load in DATASETS.items():
        X, y, t = load()
        for seed in range(splits):
            tr, te = train_test_split(np.arange(len(y)), test_size=0.3, stratify=2 * t + y,
                                      random_state=seed)
            enc = TabularEncoder(standardize=True).fit(X.iloc[tr])
            Xtr, Xte = enc.transform(X.iloc[tr]), enc.transform(X.iloc[te])
            for label, params in CANDIDATES.items():
                t0 = time.perf_counter()
                m = UpliftClassifier(base_params=params, random_state=seed)
                m.fit(Xtr, y[tr], t[tr])
                q = qini_auc_score(y[te], m.predict(Xte), t[te])
                rec.append({"data": name, "seed": seed, "candidate": label, "qini": q,
                            "seconds": time.perf_counter() - t0, "learner": m.learner_})
                print(f"[{name} {seed}] {label}: qini {q:.4f} ({rec[-1]['seconds']:.0f} s, "
                      f"{m.learner_})", file=sys.stderr, flush=True)
    r = pd.DataFrame(rec)
    mean = r.pivot_table(index="candidate", columns="data", values="qini", aggfunc="mean",
                         sort=False)
    sd = r.pivot_table(index="candidate", columns="data", values="qini", aggfunc="std",
                       sort=False)
    ranks = mean.rank(ascending=False)
    avg = ranks.mean(axis=1).sort_values(kind="stable")
    cols = list(DATASETS)
    print("| candidate | " + " | ".join(f"{c} Qini (rank)" for c in cols) + " | average rank |")
    print("|---|" + "---|" * (len(cols) + 1))
    for c in avg.index:
        cells = [f"{mean.loc[c, d]:.4f} ± {sd.loc[c, d]:.4f} ({ranks.loc[c, d]:g})"
                 for d in cols]
        print(f"| {c} | " + " | ".join(cells) + f" | {avg[c]:.2f} |")
    print(f"\nBest average rank: {avg.index[0]}; BASE_DEFAULTS = {BASE_DEFAULTS}; "
          f"{splits} split seeds; mean fit {r.seconds.mean():.1f} s")


if __name__ == "__main__":
    main()
