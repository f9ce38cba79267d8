"""CTR benchmark: adwise.behavior against its peers on Criteo and Avazu samples, plus a scale run.

Same splits for every model: 5 seeds, each a random 80/20 split (seeded permutation) of the
shared sample.  Peers: scikit-learn DecisionTree and RandomForest with default settings (as the
seed writes them), LightGBM with default parameters (ordinal-encoded categoricals), and DeepFM
from deepctr-torch (2 epochs, its documented defaults) when it is installed.

Run::

    .venv/bin/python benchmarks/ctr.py                 # real-data comparison (~8 min)
    .venv/bin/python benchmarks/ctr.py --scale 1000000  # + fit time / memory on 1 M events
    .venv/bin/python benchmarks/ctr.py --scale 1000000,5000000,10000000 --skip-real

Peers are dev-only: `pip install deepctr-torch` (pulls torch).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from adwise.behavior import CTRModel, deep_available  # noqa: E402
from adwise.metrics import expected_calibration_error, log_loss, roc_auc  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SEEDS = (0, 1, 2, 3, 4)


def load(name: str) -> tuple[pd.DataFrame, np.ndarray]:
    if name == "criteo":
        from adwise.behavior import read_plain

        df = read_plain(DATA / "criteo" / "criteo_train_head10k.txt", "criteo")
        return df.drop(columns="label"), df["label"].to_numpy()
    df = pd.read_csv(DATA / "avazu" / "avazu_train_head10k.csv")
    return df.drop(columns=["click", "id", "hour"]), df["click"].to_numpy()


# ---------------------------------------------------------------- peers
def _ordinal(tr: pd.DataFrame, te: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Peers' encoding: object columns -> integer codes learnt on train (unseen -> -1)."""
    a, b, cats = [], [], []
    for j, c in enumerate(tr.columns):
        if tr[c].dtype == object or str(tr[c].dtype).startswith("str"):
            codes = {v: i for i, v in enumerate(pd.unique(tr[c].dropna()))}
            a.append(tr[c].map(codes).fillna(-1).to_numpy(float))
            b.append(te[c].map(codes).fillna(-1).to_numpy(float))
            cats.append(j)
        else:
            a.append(tr[c].fillna(-1).to_numpy(float))
            b.append(te[c].fillna(-1).to_numpy(float))
    return np.column_stack(a), np.column_stack(b), cats


def peer_sklearn(kind: str):
    def fit_predict(tr, ytr, te, seed):
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.tree import DecisionTreeClassifier

        A, B, _ = _ordinal(tr, te)
        est = (DecisionTreeClassifier(random_state=seed) if kind == "tree"
               else RandomForestClassifier(random_state=seed, n_jobs=1))
        t = time.perf_counter()
        est.fit(A, ytr)
        fit = time.perf_counter() - t
        t = time.perf_counter()
        p = est.predict_proba(B)[:, 1]
        return p, fit, time.perf_counter() - t
    return fit_predict


def peer_lightgbm(tr, ytr, te, seed):
    import lightgbm as lgb

    A, B, _ = _ordinal(tr, te)
    est = lgb.LGBMClassifier(random_state=seed, n_jobs=1, verbose=-1)
    t = time.perf_counter()
    est.fit(A, ytr)
    fit = time.perf_counter() - t
    t = time.perf_counter()
    p = est.predict_proba(B)[:, 1]
    return p, fit, time.perf_counter() - t


def peer_deepfm(tr, ytr, te, seed):
    import torch
    from deepctr_torch.inputs import DenseFeat, SparseFeat, get_feature_names
    from deepctr_torch.models import DeepFM
    from sklearn.preprocessing import LabelEncoder, MinMaxScaler

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    both = pd.concat([tr, te], ignore_index=True)
    sparse = [c for c in both.columns if both[c].dtype == object
              or str(both[c].dtype).startswith("str") or pd.api.types.is_integer_dtype(both[c])]
    dense = [c for c in both.columns if c not in sparse]
    for c in sparse:
        both[c] = LabelEncoder().fit_transform(both[c].astype(str))
    if dense:
        both[dense] = MinMaxScaler().fit_transform(both[dense].fillna(0))
    cols = [SparseFeat(c, both[c].nunique() + 1, embedding_dim=4) for c in sparse] + [
        DenseFeat(c, 1) for c in dense]
    names = get_feature_names(cols)
    a, b = both.iloc[: len(tr)], both.iloc[len(tr):]
    model = DeepFM(cols, cols, task="binary", device="cpu", seed=seed)
    model.compile("adam", "binary_crossentropy")
    t = time.perf_counter()
    model.fit({n: a[n] for n in names}, ytr, batch_size=256, epochs=2, verbose=0)
    fit = time.perf_counter() - t
    t = time.perf_counter()
    p = model.predict({n: b[n] for n in names}, batch_size=1024).ravel()
    return p, fit, time.perf_counter() - t


def ours(model: str, **params):
    def fit_predict(tr, ytr, te, seed):
        m = CTRModel(model=model, random_state=seed, n_jobs=1, **params)
        t = time.perf_counter()
        m.fit(tr, ytr)
        fit = time.perf_counter() - t
        t = time.perf_counter()
        p = m.predict_ctr(te)
        return p, fit, time.perf_counter() - t
    return fit_predict


def run_real(datasets: list[str], with_deep: bool) -> pd.DataFrame:
    models = {"adwise gbdt": ours("gbdt"), "adwise logreg": ours("logreg"),
              "adwise forest (100 trees)": ours("forest", forest_trees=100),
              "adwise tree": ours("tree")}
    if with_deep and deep_available():
        models["adwise deep"] = ours("deep")
    peers = {"peer DecisionTree": peer_sklearn("tree"), "peer RandomForest": peer_sklearn("rf"),
             "peer LightGBM default": peer_lightgbm}
    try:
        import deepctr_torch  # noqa: F401

        peers["peer DeepFM (deepctr-torch)"] = peer_deepfm
    except ImportError:
        print("deepctr-torch is not installed: no DeepFM peer")
    rows = []
    for ds in datasets:
        X, y = load(ds)
        for seed in SEEDS:
            perm = np.random.default_rng(seed).permutation(len(y))
            cut = int(0.8 * len(y))
            tr, te = perm[:cut], perm[cut:]
            for name, fn in {**models, **peers}.items():
                p, fit, pred = fn(X.iloc[tr].reset_index(drop=True), y[tr],
                                  X.iloc[te].reset_index(drop=True), seed)
                p = np.clip(np.asarray(p, dtype=float), 0, 1)
                rows.append({"dataset": ds, "model": name, "seed": seed,
                             "auc": roc_auc(y[te], p), "logloss": log_loss(y[te], p),
                             "ece": expected_calibration_error(y[te], p), "fit_s": fit,
                             "rows_per_s": len(te) / pred})
                print(f"{ds} seed {seed} {name:30s} auc {rows[-1]['auc']:.4f} "
                      f"logloss {rows[-1]['logloss']:.4f}", flush=True)
    return pd.DataFrame(rows)


def summarise(df: pd.DataFrame) -> str:
    out = []
    for ds, g in df.groupby("dataset", sort=False):
        s = g.groupby("model", sort=False).agg(
            auc=("auc", "mean"), auc_sd=("auc", "std"), logloss=("logloss", "mean"),
            ece=("ece", "mean"), fit_s=("fit_s", "mean"), rows_per_s=("rows_per_s", "mean"))
        peers = s[s.index.str.startswith("peer")]
        best_auc = peers["auc"].max()
        best_ll = peers["logloss"].min()
        out.append(f"\n### {ds} (5 seeds, random 80/20; best peer AUC {best_auc:.4f}, "
                   f"best peer logloss {best_ll:.4f})\n")
        out.append("| model | AUC mean ± sd | AUC / best peer | logloss | logloss / best peer "
                   "| ECE | fit s | predict rows/s |")
        out.append("|---|---|---|---|---|---|---|---|")
        for name, r in s.iterrows():
            out.append(f"| {name} | {r.auc:.4f} ± {r.auc_sd:.4f} | {r.auc / best_auc:.3f} | "
                       f"{r.logloss:.4f} | {r.logloss / best_ll:.3f} | {r.ece:.4f} | "
                       f"{r.fit_s:.2f} | {r.rows_per_s:,.0f} |")
    return "\n".join(out)


# ---------------------------------------------------------------- scale
def scale_one(n_events: int) -> dict:
    """In a child process: synthesise ~n events, ingest, build features, fit; report."""
    from adwise.behavior import train_workspace
    from adwise.data import Workspace, load_truth, write_world

    days = 14
    n_users = max(100, int(n_events / (3 * days)))
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        write_world(Path(d) / "w", n_users=n_users, n_ads=300, days=days, seed=1)
        synth_s = time.perf_counter() - t
        ws = Workspace.init(Path(d) / "ws")
        t = time.perf_counter()
        for tab in ("users", "ads", "events"):
            ws.ingest(Path(d) / "w" / f"{tab}.parquet", tab)
        ingest_s = time.perf_counter() - t
        t = time.perf_counter()
        res = train_workspace(ws, conversion=False, save=False, test_fraction=0.2)
        total_s = time.perf_counter() - t
        truth = load_truth(Path(d) / "w")
        tt = res.extra["test"]
        raw = truth.user_ids
        back = dict(zip(ws.pseudonyms(raw), raw, strict=True))
        ev = tt.assign(user_id=tt["user_id"].map(back))
        ev["placement"] = tt["placement"]
        oracle = roc_auc(ev["clicked"], truth.p_click_events(ev))
        m = res.metrics
        return {"events": int(m["rows_train"] + m["rows_test"]), "synth_s": synth_s,
                "ingest_s": ingest_s, "features_fit_eval_s": total_s,
                "model_fit_s": m["fit_seconds"], "predict_rows_per_s": m["predict_rows_per_second"],
                "auc": m["auc"], "oracle_auc": oracle, "ece": m["ece"],
                "top_features": list(res.ctr_model.feature_importance_)[:6],
                "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}


def run_scale(sizes: list[int]) -> str:
    lines = ["\n### scale (synthetic world, time split 80/20, 1 thread)\n",
             "| events | synth s | ingest s | features+fit+eval s | model fit s | "
             "predict rows/s | AUC | oracle AUC | ECE | peak RSS GB | top features |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for n in sizes:
        out = subprocess.run([sys.executable, __file__, "--scale-child", str(n)],
                             capture_output=True, text=True, timeout=3600)
        if out.returncode != 0:
            lines.append(f"| {n:,} | failed: {out.stderr.strip().splitlines()[-1][:80]} |")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        lines.append(
            f"| {r['events']:,} | {r['synth_s']:.0f} | {r['ingest_s']:.0f} | "
            f"{r['features_fit_eval_s']:.0f} | {r['model_fit_s']:.0f} | "
            f"{r['predict_rows_per_s']:,.0f} | {r['auc']:.4f} | {r['oracle_auc']:.4f} | "
            f"{r['ece']:.4f} | {r['peak_rss_gb']:.2f} | {', '.join(r['top_features'])} |")
        print(lines[-1], flush=True)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", default="criteo,avazu")
    ap.add_argument("--no-deep", action="store_true", help="Skip adwise's own DeepFM.")
    ap.add_argument("--scale", default="", help="Comma-separated event counts, e.g. 1000000.")
    ap.add_argument("--skip-real", action="store_true")
    ap.add_argument("--scale-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help="Also write the tables to this markdown file.")
    a = ap.parse_args()
    if a.scale_child:
        print(json.dumps(scale_one(a.scale_child)))
        return
    text = ""
    if not a.skip_real:
        if not DATA.is_dir():
            sys.exit(f"shared data not found at {DATA}")
        df = run_real(a.datasets.split(","), with_deep=not a.no_deep)
        text += summarise(df)
    if a.scale:
        text += run_scale([int(x) for x in a.scale.split(",")])
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
