"""Uplift ``--tune`` on Hillstrom (Womens E-Mail vs No E-Mail, outcome visit): adwise's
defaults, adwise tuned, and T-learner peers (scikit-learn logistic regression / LightGBM, as
scikit-uplift's ``TwoModels``) at their defaults and tuned by the same search.

Split as in ``benchmarks/audience.py``: 70/30 stratified on treatment x visit, seeds 0-4.
Every search sees the training rows only (3-fold cross-validated Qini, seeded folds), with
the same trial budget.  Prints a markdown table (Qini on the test rows, mean ± sd over the
split seeds) to stdout.

adwise runs twice, with and without the DR-learners among its candidates, to decide whether
they belong in the default candidate set (:data:`adwise.audience._uplift.AUTO_CANDIDATES`).

Usage: ``.venv/bin/python benchmarks/uplift_tune.py [TRIALS] [--adwise-only]`` (default 20
trials; ``--adwise-only`` skips the peers, whose rows do not depend on adwise's candidates).
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from adwise._tuning import Budget, search
from adwise.audience import TabularEncoder, UpliftClassifier
from adwise.audience._tune import SEARCH_SPACE, tune_uplift
from adwise.audience._uplift import BASE_DEFAULTS, LEARNERS
from adwise.metrics import qini_auc_score

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "hillstrom" / "hillstrom.csv"


def _t_peer(base: str, params: dict) -> object:
    """A T-learner of two scikit-learn / LightGBM classifiers with ``params``."""
    if base == "logistic":
        from sklearn.linear_model import LogisticRegression

        def make():
            return LogisticRegression(C=params["logistic_C"], max_iter=2000)
    else:
        from lightgbm import LGBMClassifier

        def make():
            return LGBMClassifier(n_jobs=1, verbose=-1, random_state=0, **params)

    def fit_predict(X, y, t, Xt):
        m0, m1 = make().fit(X[t == 0], y[t == 0]), make().fit(X[t == 1], y[t == 1])
        return m1.predict_proba(Xt)[:, 1] - m0.predict_proba(Xt)[:, 1]

    return fit_predict


def _tune_peer(base: str, X, y, t, budget: Budget, seed: int) -> dict:
    """The same search for a peer: its own parameters, 3-fold cross-validated Qini."""
    space = SEARCH_SPACE[base]
    folds = list(StratifiedKFold(3, shuffle=True, random_state=seed).split(X, 2 * t + y))
    # LightGBM's own defaults are the peer's trial 0
    defaults = ({"logistic_C": 1.0} if base == "logistic" else
                {"num_leaves": 31, "min_child_samples": 20, "n_estimators": 100,
                 "learning_rate": 0.1})

    def objective(p):
        fp = _t_peer(base, p)
        return float(np.mean([qini_auc_score(y[va], fp(X[tr], y[tr], t[tr], X[va]), t[va])
                              for tr, va in folds])), None

    res, _ = search(objective, space, defaults, budget, metric="qini",
                    validation="3-fold CV", seed=seed)
    return res.params


def main() -> None:
    warnings.filterwarnings("ignore")
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    trials = int(args[0]) if args else 20
    peers = "--adwise-only" not in sys.argv
    candidate_sets = {"with DR": LEARNERS,
                      "without DR": tuple(c for c in LEARNERS if not c.startswith("dr-"))}
    budget = Budget(trials=trials)
    df = pd.read_csv(DATA)
    df = df[df.segment.isin(["Womens E-Mail", "No E-Mail"])].reset_index(drop=True)
    t = (df.segment == "Womens E-Mail").astype(int).to_numpy()
    y = df.visit.to_numpy()
    X = df.drop(columns=["segment", "visit", "conversion", "spend"])
    rec = []
    for seed in range(5):
        tr, te = train_test_split(np.arange(len(df)), test_size=0.3, stratify=2 * t + y,
                                  random_state=seed)
        enc = TabularEncoder(standardize=True).fit(X.iloc[tr])
        Xtr, Xte = enc.transform(X.iloc[tr]), enc.transform(X.iloc[te])
        ytr, ttr, yte, tte = y[tr], t[tr], y[te], t[te]

        def add(name, started, u, extra="", seed=seed, yte=yte, tte=tte):
            rec.append({"model": name, "seed": seed, "qini": qini_auc_score(yte, u, tte),
                        "seconds": time.perf_counter() - started, "chosen": extra})

        for which, cands in candidate_sets.items():
            s0 = time.perf_counter()
            m = UpliftClassifier(candidates=cands, random_state=seed).fit(Xtr, ytr, ttr)
            add(f"adwise auto (defaults, {which})", s0, m.predict(Xte),
                f"{m.learner_}; CV {m.cv_score_:.4f} ± {m.cv_score_sd_:.4f}")
            s0 = time.perf_counter()
            m, res = tune_uplift(Xtr, ytr, ttr, budget, candidates=cands, seed=seed)
            add(f"adwise auto --tune {trials}t ({which})", s0, m.predict(Xte),
                f"{m.learner_}; CV {res.default_score:.4f} -> {res.score:.4f}")
        for base, label in (("logistic", "logreg"), ("lightgbm", "lgbm")) if peers else ():
            default = ({"logistic_C": 1.0} if base == "logistic" else {})
            s0 = time.perf_counter()
            add(f"peer T-learner({label}) default", s0,
                _t_peer(base, default)(Xtr, ytr, ttr, Xte))
            s0 = time.perf_counter()
            p = _tune_peer(base, Xtr, ytr, ttr, budget, seed)
            add(f"peer T-learner({label}) tuned ({trials}t, same search)", s0,
                _t_peer(base, p)(Xtr, ytr, ttr, Xte))
        print(f"seed {seed} done", file=sys.stderr, flush=True)
    r = pd.DataFrame(rec)
    g = r.groupby("model", sort=False).agg(qini=("qini", "mean"), sd=("qini", "std"),
                                           fit_s=("seconds", "mean"))
    peer_rows = [i for i in g.index if i.startswith("peer")]
    # without the peers, the ratio column compares with adwise's untuned default without DR
    ref_name = "best peer" if peer_rows else "adwise auto (defaults, without DR)"
    ref = g.loc[peer_rows, "qini"].max() if peer_rows else g.loc[ref_name, "qini"]
    print(f"| model | Qini mean ± sd (5 splits) | / {ref_name} | fit s (incl. search) |")
    print("|---|---|---|---|")
    for name, row in g.iterrows():
        print(f"| {name} | {row.qini:.4f} ± {row.sd:.4f} | {row.qini / ref:.3f} | "
              f"{row.fit_s:.0f} |")
    print()
    print("| seed | " + " | ".join(g.index) + " |")
    print("|---" * (len(g) + 1) + "|")
    for seed, part in r.groupby("seed"):
        print(f"| {seed} | " + " | ".join(f"{v:.4f}" for v in part.qini) + " |")
    print()
    for _, row in r[r.chosen != ""].iterrows():
        print(f"- seed {row.seed}, {row.model}: {row.chosen}")
    print(f"\nBASE_DEFAULTS = {BASE_DEFAULTS}")


if __name__ == "__main__":
    main()
