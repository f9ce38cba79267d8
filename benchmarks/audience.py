"""Benchmark of adwise.interests and adwise.audience (issue 6).

Run: ``.venv/bin/python benchmarks/audience.py`` (about 5-10 minutes on 2 cores). Sections:

1. synthetic world (5000 users, 200 ads, 14 days, seed 7 - the demo's world): precision@3 of the
   top interests vs the true ``user_interest``, adjusted Rand index of segments vs the true
   ``user_segment`` (three random states);
2. Hillstrom (Womens E-Mail vs No E-Mail, outcome ``visit``, 70/30 split stratified on
   treatment x visit, seeds 0-4): Qini / AUUC / uplift@30 % (scikit-uplift definitions, from
   adwise.metrics) of adwise's learners against scikit-uplift and causalml models on the same
   splits and the same encoded features;
3. bank marketing (both files, without ``duration``, stratified 70/30, seeds 0-4): AUC and
   lift@10 % of the lookalike/propensity model against a default LightGBM;
4. Online Retail (all quarters): RFM build + segmentation time and the profiles.

Peers (scikit-uplift, causalml) are optional: a missing one is reported as not installed.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
OUT = Path(__file__).resolve().parent / "results" / "audience.md"
lines: list[str] = []


def emit(s: str = "") -> None:
    print(s, flush=True)
    lines.append(s)


def md_table(df: pd.DataFrame) -> None:
    cols = [str(c) for c in df.columns]
    emit("| " + " | ".join(cols) + " |")
    emit("|" + "---|" * len(cols))
    for r in df.itertuples(index=False):
        emit("| " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in r) + " |")
    emit()


# ---------------------------------------------------------------------------- 1. synthetic
def synthetic() -> None:
    from sklearn.metrics import adjusted_rand_score

    from adwise.audience import load_segments, segment_workspace
    from adwise.data import Workspace, load_truth, write_world
    from adwise.interests import load_interests, train_interests
    from adwise.metrics import precision_at_k

    emit("## 1. Synthetic world (5000 users, 200 ads, 14 days, world seed 7)")
    emit()
    tmp = Path(tempfile.mkdtemp())
    write_world(tmp / "w", n_users=5000, n_ads=200, days=14, seed=7)
    ws = Workspace.init(tmp / "ws")
    for t in ("users", "ads", "events"):
        ws.ingest(tmp / "w" / f"{t}.parquet", t)
    tr = load_truth(tmp / "w")
    pos = {s: i for i, s in enumerate(ws.pseudonyms(tr.user_ids))}
    rows = []
    for rs in range(3):
        t0 = time.perf_counter()
        train_interests(ws, random_state=rs)
        t1 = time.perf_counter()
        im = load_interests(ws)
        ti = np.array([pos[u] for u in im.user_ids])
        truth = tr.user_interest[ti][:, [list(tr.categories).index(c) for c in im.categories]]
        p3 = precision_at_k(np.argsort(-im.lift, 1)[:, :3], np.argsort(-truth, 1)[:, :3], 3)
        t2 = time.perf_counter()
        res = segment_workspace(ws, random_state=rs)
        t3 = time.perf_counter()
        seg, _ = load_segments(ws)
        ari = adjusted_rand_score(tr.user_segment[[pos[u] for u in seg.index]], seg.to_numpy())
        rows.append(
            {
                "random_state": rs,
                "precision@3": p3,
                "segment ARI": ari,
                "k": res["k"],
                "interests s": round(t1 - t0, 1),
                "segment s": round(t3 - t2, 1),
            }
        )
    df = pd.DataFrame(rows)
    md_table(df)
    emit(
        f"mean precision@3 {df['precision@3'].mean():.3f} (target >= 0.8; chance 0.25; an "
        "oracle that knows each user's true segment and uses its mean interests: 0.90); mean "
        f"ARI {df['segment ARI'].mean():.3f} (target >= 0.7)."
    )
    emit()
    emit("Profiles (last run):")
    emit()
    for p in res["profiles"]:
        emit(f"- {p['description']}")
    emit()


# ---------------------------------------------------------------------------- 2. Hillstrom
def _peers():
    from lightgbm import LGBMClassifier
    from sklearn.linear_model import LogisticRegression

    def lgbm():
        return LGBMClassifier(n_jobs=1, verbose=-1, random_state=0)

    def logreg():
        return LogisticRegression(max_iter=2000)

    peers = {}
    try:
        from sklift.models import ClassTransformation, SoloModel, TwoModels

        def sk(factory):
            def fit_predict(X, y, t, Xt):
                m = factory()
                m.fit(X, y, t)
                return m.predict(Xt)

            return fit_predict

        peers["sklift SoloModel(logreg)"] = sk(lambda: SoloModel(logreg()))
        peers["sklift SoloModel(lgbm)"] = sk(lambda: SoloModel(lgbm()))
        peers["sklift TwoModels(logreg)"] = sk(lambda: TwoModels(logreg(), logreg()))
        peers["sklift TwoModels(lgbm)"] = sk(lambda: TwoModels(lgbm(), lgbm()))
        peers["sklift ClassTransformation(lgbm)"] = sk(lambda: ClassTransformation(lgbm()))
    except ImportError as exc:
        emit(f"scikit-uplift not installed ({exc}); its models are skipped.")
    try:
        import logging

        from causalml.inference.meta import BaseSClassifier, BaseTClassifier, BaseXClassifier
        from lightgbm import LGBMRegressor

        logging.getLogger("causalml").setLevel(logging.ERROR)

        def cm(factory):
            def fit_predict(X, y, t, Xt):
                m = factory()
                m.fit(X, t, y)
                return np.asarray(m.predict(Xt)).ravel()

            return fit_predict

        peers["causalml BaseS(lgbm)"] = cm(lambda: BaseSClassifier(lgbm()))
        peers["causalml BaseT(lgbm)"] = cm(lambda: BaseTClassifier(lgbm()))
        peers["causalml BaseX(lgbm)"] = cm(
            lambda: BaseXClassifier(
                outcome_learner=lgbm(), effect_learner=LGBMRegressor(n_jobs=1, verbose=-1)
            )
        )
        peers["causalml BaseS(logreg)"] = cm(lambda: BaseSClassifier(logreg()))
        peers["causalml BaseT(logreg)"] = cm(lambda: BaseTClassifier(logreg()))
    except Exception as exc:  # causalml may fail to import for many reasons
        emit(f"causalml not usable ({type(exc).__name__}: {exc}); its models are skipped.")
    return peers


def hillstrom() -> None:
    import warnings

    from sklearn.model_selection import train_test_split

    from adwise.audience import TabularEncoder, UpliftClassifier
    from adwise.metrics import qini_auc_score, uplift_at_k, uplift_auc_score

    warnings.filterwarnings("ignore")
    emit("## 2. Hillstrom: Womens E-Mail vs No E-Mail, outcome visit (5 split seeds)")
    emit()
    df = pd.read_csv(DATA / "hillstrom" / "hillstrom.csv")
    df = df[df.segment.isin(["Womens E-Mail", "No E-Mail"])].reset_index(drop=True)
    t = (df.segment == "Womens E-Mail").astype(int).to_numpy()
    y = df.visit.to_numpy()
    X = df.drop(columns=["segment", "visit", "conversion", "spend"])
    models = {
        "adwise auto (CV-Qini top-3 ensemble, default)": lambda a, b, c, d: (
            UpliftClassifier().fit(a, b, c).predict(d)
        ),
        "adwise t-logistic": lambda a, b, c, d: (
            UpliftClassifier(learner="t-logistic").fit(a, b, c).predict(d)
        ),
        "adwise s-lightgbm": lambda a, b, c, d: (
            UpliftClassifier(learner="s-lightgbm").fit(a, b, c).predict(d)
        ),
        "adwise x-logistic": lambda a, b, c, d: (
            UpliftClassifier(learner="x-logistic").fit(a, b, c).predict(d)
        ),
    }
    peers = _peers()
    models.update(peers)
    rec = []
    for seed in range(5):
        tr, te = train_test_split(
            np.arange(len(df)), test_size=0.3, stratify=2 * t + y, random_state=seed
        )
        enc = TabularEncoder(standardize=True).fit(X.iloc[tr])
        Xtr, Xte = enc.transform(X.iloc[tr]), enc.transform(X.iloc[te])
        for name, fp in models.items():
            t0 = time.perf_counter()
            try:
                u = np.asarray(fp(Xtr, y[tr], t[tr], Xte), dtype=float)
            except Exception as exc:
                emit(f"{name} failed on seed {seed}: {type(exc).__name__}: {exc}")
                continue
            rec.append(
                {
                    "model": name,
                    "seed": seed,
                    "qini": qini_auc_score(y[te], u, t[te]),
                    "auuc": uplift_auc_score(y[te], u, t[te]),
                    "uplift@30": uplift_at_k(y[te], u, t[te], k=0.3, strategy="overall"),
                    "seconds": time.perf_counter() - t0,
                }
            )
        print(f"  seed {seed} done", file=sys.stderr)
    r = pd.DataFrame(rec)
    g = r.groupby("model", sort=False).agg(
        qini_mean=("qini", "mean"),
        qini_sd=("qini", "std"),
        auuc_mean=("auuc", "mean"),
        uplift30_mean=("uplift@30", "mean"),
        fit_s=("seconds", "mean"),
    )
    peer_rows = g.loc[[m for m in g.index if m in peers]]
    best_peer = peer_rows["qini_mean"].idxmax() if len(peer_rows) else None
    g["qini / best peer"] = g["qini_mean"] / (g.loc[best_peer, "qini_mean"] if best_peer else 1)
    g = g.sort_values("qini_mean", ascending=False).reset_index()
    md_table(g)
    per_seed = r.pivot(index="model", columns="seed", values="qini")
    emit("Qini per split seed:")
    emit()
    md_table(per_seed.reset_index())
    if best_peer:
        gi = g.set_index("model")["qini_mean"]
        ours = gi["adwise auto (CV-Qini top-3 ensemble, default)"]
        verdict = "reached" if ours >= gi[best_peer] else "NOT reached"
        emit(
            f"best peer: {best_peer} (mean Qini {gi[best_peer]:.4f}); adwise default "
            f"{ours:.4f} -> target {verdict}."
        )
        emit()


# ---------------------------------------------------------------------------- 3. bank
def bank() -> None:
    import lightgbm as lgb
    from sklearn.model_selection import train_test_split

    from adwise.audience import LookalikeModel, TabularEncoder
    from adwise.metrics import lift_at, roc_auc

    emit("## 3. Bank marketing: propensity / lookalike without `duration` (5 split seeds)")
    emit()
    rows = []
    for f in ("bank-full", "bank-additional-full"):
        df = pd.read_csv(DATA / "bank_marketing" / f"{f}.csv.gz", sep=";")
        y = (df.pop("y") == "yes").astype(int).to_numpy()
        X = TabularEncoder().fit_transform(df.drop(columns=["duration"]))
        for seed in range(5):
            m = LookalikeModel(test_size=0.3, random_state=seed).fit(X, y)
            rows.append(
                {
                    "file": f,
                    "model": "adwise LookalikeModel",
                    "seed": seed,
                    "auc": m.auc_,
                    "lift@10%": m.lift_,
                }
            )
            tr, te = train_test_split(
                np.arange(len(y)), test_size=0.3, stratify=y, random_state=seed
            )
            p = (
                lgb.LGBMClassifier(n_jobs=1, verbose=-1)
                .fit(X[tr], y[tr])
                .predict_proba(X[te])[:, 1]
            )
            rows.append(
                {
                    "file": f,
                    "model": "LightGBM defaults (peer)",
                    "seed": seed,
                    "auc": roc_auc(y[te], p),
                    "lift@10%": lift_at(y[te], p, 0.1),
                }
            )
    r = pd.DataFrame(rows)
    g = (
        r.groupby(["file", "model"])
        .agg(auc=("auc", "mean"), lift10=("lift@10%", "mean"), lift10_sd=("lift@10%", "std"))
        .reset_index()
    )
    md_table(g)


# ---------------------------------------------------------------------------- 4. retail
def retail() -> None:
    from adwise.audience import segment_transactions

    emit("## 4. Online Retail (all quarters): RFM segmentation")
    emit()
    t0 = time.perf_counter()
    df = pd.concat(
        pd.read_csv(f, dtype={"InvoiceNo": str, "StockCode": str})
        for f in sorted((DATA / "online_retail").glob("online_retail_*.csv.gz"))
    )
    t_read = time.perf_counter() - t0
    for transform in ("log", "none"):
        res = segment_transactions(
            "online_retail",
            "CustomerID",
            "InvoiceDate",
            quantity_col="Quantity",
            price_col="UnitPrice",
            invoice_col="InvoiceNo",
            transform=transform,
            frame=df.reset_index(drop=True),
        )
        emit(
            f"transform={transform}: {res['rows']:,} customers from {len(df):,} rows (read "
            f"{t_read:.1f} s, RFM {res['rfm_seconds']:.1f} s, k-scan + fit "
            f"{res['fit_seconds']:.1f} s); k={res['k']}, silhouette {res['silhouette']:.3f}, "
            f"sizes {sorted(res['sizes'].values(), reverse=True)}; returns rows netted: "
            f"{res['rfm']['return_rows']:,}, rows without customer: "
            f"{res['rfm']['rows_without_customer']:,}"
        )
        for p in res["profiles"]:
            emit(f"- {p['description']}")
        emit()


def main() -> None:
    t0 = time.perf_counter()
    emit("# adwise audience / interests benchmark")
    emit()
    emit("Command: `.venv/bin/python benchmarks/audience.py` (2 cores, 1 thread per model).")
    emit()
    synthetic()
    if DATA.is_dir():
        hillstrom()
        bank()
        retail()
    else:
        emit(f"shared data not found at {DATA}; real-data sections skipped.")
    emit(f"total time {time.perf_counter() - t0:.0f} s")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
