"""CTR benchmark: adwise.behavior against its peers on Criteo, Avazu and bank-marketing samples,
plus a scale run.

Same splits for every model: 5 seeds, each a random 80/20 split (seeded permutation) of the
shared sample.  The bank samples (UCI Bank Marketing, ``bank-full`` and
``bank-additional-full``: will the called client subscribe a term deposit) are used without
``duration``, the length of the call, which is only known after the call (see the data's
README).  Peers: scikit-learn DecisionTree and RandomForest with default settings (as the
seed writes them), LightGBM with default parameters (ordinal-encoded categoricals), and DeepFM
from deepctr-torch (2 epochs, its documented defaults) when it is installed.

Run::

    .venv/bin/python benchmarks/ctr.py                 # real-data comparison (4 data sets)
    .venv/bin/python benchmarks/ctr.py --datasets criteo,avazu  # the two CTR logs (~8 min)
    .venv/bin/python benchmarks/ctr.py --scale 1000000  # + fit time / memory on 1 M events
    .venv/bin/python benchmarks/ctr.py --scale 1000000,5000000,10000000 --skip-real
    .venv/bin/python benchmarks/ctr.py --no-deep --models "adwise gbdt,peer"  # a subset
    .venv/bin/python benchmarks/ctr.py --skip-real --scale 1000000 --n-jobs 2  # 2 threads
    .venv/bin/python benchmarks/ctr.py --datasets bank-full --rows bank.csv  # per-seed rows
    .venv/bin/python benchmarks/ctr.py --summarise a.csv,b.csv  # one table from such runs

The scale run also fits peer LightGBM (defaults) on the same rows and threads and times both
models on a 1 M-row frame and on 100-row calls, and reports two oracle ceilings (the true
logit without each user's own click bias, and also with segment-mean interests); the
real-data tables add the ECE floor (the ECE of a perfectly calibrated model with the same
predictions and test-set size).

With ``--tune BUDGET`` (e.g. ``--tune 30t``) two more rows: ours with ``--tune`` and peer
LightGBM tuned by the same seeded TPE search with the same budget, each validated on 5-fold
cross-validation of the training rows only (never the test rows)::

    .venv/bin/python benchmarks/ctr.py --no-deep --models "adwise gbdt,LightGBM" --tune 10t

"adwise gbdt, no blend" is ours with ``blend="off"`` (the GBDT without its logistic blend);
"adwise gbdt, integer codes only" is ours with ``integer_values=False`` (integer columns typed
categorical enter as codes, counts and target encodings, without their value).

Peers are dev-only: `pip install deepctr-torch` (pulls torch).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
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
BANK = ("bank-full", "bank-additional-full")
DATASETS = ("criteo", "avazu", *BANK)


def load(name: str) -> tuple[pd.DataFrame, np.ndarray]:
    if name == "criteo":
        from adwise.behavior import read_plain

        df = read_plain(DATA / "criteo" / "criteo_train_head10k.txt", "criteo")
        return df.drop(columns="label"), df["label"].to_numpy()
    if name in BANK:
        df = pd.read_csv(DATA / "bank_marketing" / f"{name}.csv.gz", sep=";")
        y = (df.pop("y") == "yes").astype(int).to_numpy()
        return df.drop(columns="duration"), y
    df = pd.read_csv(DATA / "avazu" / "avazu_train_head10k.csv")
    return df.drop(columns=["click", "id", "hour"]), df["click"].to_numpy()


# ---------------------------------------------------------------- peers
def _ordinal(tr: pd.DataFrame, te: pd.DataFrame, encode_train: bool = True
             ) -> tuple[np.ndarray | None, np.ndarray, list[int]]:
    """Peers' encoding: object columns -> integer codes learnt on train (unseen -> -1).

    The matrices are filled column by column (no list of columns stacked in a second copy);
    ``encode_train=False`` returns ``None`` for train (only its codes are needed).
    """
    a = np.empty((len(tr), tr.shape[1])) if encode_train else None
    b = np.empty((len(te), te.shape[1]))
    cats = []
    for j, c in enumerate(tr.columns):
        if tr[c].dtype == object or str(tr[c].dtype).startswith("str"):
            codes = {v: i for i, v in enumerate(pd.unique(tr[c].dropna()))}
            if a is not None:
                a[:, j] = tr[c].map(codes).fillna(-1).to_numpy(float)
            b[:, j] = te[c].map(codes).fillna(-1).to_numpy(float)
            cats.append(j)
        else:
            if a is not None:
                a[:, j] = tr[c].fillna(-1).to_numpy(float)
            b[:, j] = te[c].fillna(-1).to_numpy(float)
    return a, b, cats


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
        return p, fit, time.perf_counter() - t, _blend_info(m)
    return fit_predict


def _blend_info(m: CTRModel) -> dict:
    b = getattr(m, "blend_", None)
    if not b:
        return {}
    return {"blend_used": b["used"], "blend_weight": b["weight"] if b["used"] else 0.0}


def _cv_folds(y: np.ndarray, seed: int, k: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedKFold

    return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def peer_lightgbm_tuned(budget: str):
    """LightGBM tuned with the same search (seeded TPE, same budget) as ``adwise --tune``, on
    5-fold cross-validation of the training rows: never the test rows."""
    from adwise._tuning import Budget, Dim, search

    space = (Dim("num_leaves", 4, 128, log=True, integer=True),
             Dim("learning_rate", 0.01, 0.3, log=True),
             Dim("min_child_samples", 5, 400, log=True, integer=True),
             Dim("colsample_bytree", 0.2, 1.0),
             Dim("reg_lambda", 0.01, 100.0, log=True),
             Dim("n_estimators", 20, 1000, log=True, integer=True))
    defaults = {"num_leaves": 31, "learning_rate": 0.1, "min_child_samples": 20,
                "colsample_bytree": 1.0, "reg_lambda": 0.01, "n_estimators": 100}

    def fit_predict(tr, ytr, te, seed):
        import lightgbm as lgb

        A, B, _ = _ordinal(tr, te)
        folds = _cv_folds(ytr, seed)

        def objective(params):
            oof = np.zeros(len(ytr))
            for a, b in folds:
                est = lgb.LGBMClassifier(random_state=seed, n_jobs=1, verbose=-1, **params)
                oof[b] = est.fit(A[a], ytr[a]).predict_proba(A[b])[:, 1]
            return roc_auc(ytr, oof), None

        t = time.perf_counter()
        res, _ = search(objective, space, defaults, Budget.parse(budget), metric="auc",
                        validation="5-fold CV", seed=seed)
        est = lgb.LGBMClassifier(random_state=seed, n_jobs=1, verbose=-1, **res.params)
        est.fit(A, ytr)
        fit = time.perf_counter() - t
        t = time.perf_counter()
        p = est.predict_proba(B)[:, 1]
        return p, fit, time.perf_counter() - t
    return fit_predict


def ours_tuned(budget: str):
    def fit_predict(tr, ytr, te, seed):
        from adwise._tuning import Budget
        from adwise.behavior._tune import tune_ctr

        t = time.perf_counter()
        m, _ = tune_ctr(tr, ytr, Budget.parse(budget), {"model": "gbdt", "n_jobs": 1},
                        seed=seed)
        fit = time.perf_counter() - t
        t = time.perf_counter()
        p = m.predict_ctr(te)
        return p, fit, time.perf_counter() - t, _blend_info(m)
    return fit_predict


def ece_floor(p: np.ndarray, draws: int = 200) -> float:
    """Mean ECE of a perfectly calibrated model with these predictions: labels drawn from
    ``p`` itself.  The ECE of a finite test set is never 0; this is its sampling noise."""
    rng = np.random.default_rng(0)
    return float(np.mean([expected_calibration_error((rng.random(len(p)) < p).astype(int), p)
                          for _ in range(draws)]))


def run_real(datasets: list[str], with_deep: bool, only: list[str] | None = None,
             tune: str | None = None, rows_csv: str | None = None,
             seeds: tuple[int, ...] = SEEDS) -> pd.DataFrame:
    """Every model on every data set and seed; with ``rows_csv`` the rows so far are
    rewritten there after each seed (a long run leaves what it finished)."""
    models = {"adwise gbdt": ours("gbdt"), "adwise gbdt, no blend": ours("gbdt", blend="off"),
              "adwise gbdt, integer codes only": ours("gbdt", integer_values=False),
              "adwise logreg": ours("logreg"),
              "adwise forest (100 trees)": ours("forest", forest_trees=100),
              "adwise tree": ours("tree")}
    if tune:
        models[f"adwise gbdt --tune (budget {tune})"] = ours_tuned(tune)
    if with_deep and deep_available():
        models["adwise deep"] = ours("deep")
    peers = {"peer DecisionTree": peer_sklearn("tree"), "peer RandomForest": peer_sklearn("rf"),
             "peer LightGBM default": peer_lightgbm}
    if tune:
        peers[f"peer LightGBM tuned (same search, budget {tune})"] = peer_lightgbm_tuned(tune)
    try:
        import deepctr_torch  # noqa: F401

        peers["peer DeepFM (deepctr-torch)"] = peer_deepfm
    except ImportError:
        print("deepctr-torch is not installed: no DeepFM peer")
    every = {**models, **peers}
    if only:
        # "=NAME" picks that model alone; a plain part picks every model whose name holds it
        every = {k: v for k, v in every.items()
                 if any(k == o[1:] if o.startswith("=") else o in k for o in only)}
    rows = []
    for ds in datasets:
        X, y = load(ds)
        for seed in seeds:
            perm = np.random.default_rng(seed).permutation(len(y))
            cut = int(0.8 * len(y))
            tr, te = perm[:cut], perm[cut:]
            for name, fn in every.items():
                p, fit, pred, *info = fn(X.iloc[tr].reset_index(drop=True), y[tr],
                                         X.iloc[te].reset_index(drop=True), seed)
                p = np.clip(np.asarray(p, dtype=float), 0, 1)
                rows.append({"dataset": ds, "model": name, "seed": seed,
                             "auc": roc_auc(y[te], p), "logloss": log_loss(y[te], p),
                             "ece": expected_calibration_error(y[te], p),
                             "ece_floor": ece_floor(p), "fit_s": fit,
                             "rows_per_s": len(te) / pred, **(info[0] if info else {})})
                print(f"{ds} seed {seed} {name:30s} auc {rows[-1]['auc']:.4f} "
                      f"logloss {rows[-1]['logloss']:.4f} fit {fit:.0f} s", flush=True)
            if rows_csv:
                pd.DataFrame(rows).to_csv(rows_csv, index=False)
    return pd.DataFrame(rows)


def summarise(df: pd.DataFrame) -> str:
    """One table per data set: mean and sd over the seeds; ``blend`` says on how many seeds
    ours used the logistic blend, and its mean weight there.

    The best peer is the one with the best mean AUC on the seeds every peer has; each row's
    ratios to it are taken on the seeds both have (runs split over processes may have
    finished different seeds), and a row with fewer seeds than the data set's longest run
    says how many it has.
    """
    out = []
    # runs split over processes may repeat a (data set, model, seed): keep the first
    df = df.drop_duplicates(["dataset", "model", "seed"])
    if "blend_used" not in df:
        df = df.assign(blend_used=np.nan, blend_weight=np.nan)
    for ds, g in df.groupby("dataset", sort=False):
        s = g.groupby("model", sort=False).agg(
            auc=("auc", "mean"), auc_sd=("auc", "std"), logloss=("logloss", "mean"),
            ece=("ece", "mean"), ece_floor=("ece_floor", "mean"), fit_s=("fit_s", "mean"),
            rows_per_s=("rows_per_s", "mean"), seeds=("seed", "nunique"),
            blend_n=("blend_used", lambda v: int(v.fillna(False).astype(bool).sum())),
            blend_known=("blend_used", lambda v: int(v.notna().sum())),
            blend_w=("blend_weight", lambda v: v[v > 0].mean()))
        peers = s[s.index.str.startswith("peer")]
        if peers.empty:
            raise SystemExit(f"{ds}: no peer rows to compare with; add a peer to --models or "
                             "summarise this CSV together with one that has them.")
        auc = g.pivot(index="seed", columns="model", values="auc")
        # the best peer by mean AUC on the seeds every peer has
        best = auc[list(peers.index)].dropna().mean().idxmax()
        ll = g.pivot(index="seed", columns="model", values="logloss")
        seeds = int(s["seeds"].max())
        out.append(f"\n### {ds} (up to {seeds} seeds, random 80/20; best peer: {best}, AUC "
                   f"{peers.loc[best, 'auc']:.4f} on {int(peers.loc[best, 'seeds'])} seeds)\n")
        out.append("| model | AUC mean ± sd | AUC / best peer | logloss | logloss / best peer "
                   "| ECE | ECE floor | fit s | predict rows/s | blend used (mean weight) |")
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        for name, r in s.iterrows():
            blend = (f"{int(r.blend_n)}/{int(r.blend_known)}"
                     + (f" ({r.blend_w:.2f})" if r.blend_n else "")) if r.blend_known else ""
            both = auc[[name, best]].dropna().index
            a_ratio = auc.loc[both, name].mean() / auc.loc[both, best].mean()
            l_ratio = ll.loc[both, name].mean() / ll.loc[both, best].mean()
            label = name
            if r.seeds < seeds:  # a row of a shorter run says so
                label = f"{name} [{int(r.seeds)} seed{'s' if r.seeds > 1 else ''}]"
            paired = "" if len(both) == max(r.seeds, 1) == peers.loc[best, "seeds"] \
                else f" (on {len(both)} shared seed{'s' if len(both) > 1 else ''})"
            sd = f"{r.auc_sd:.4f}" if r.seeds > 1 else "-"
            out.append(f"| {label} | {r.auc:.4f} ± {sd} | {a_ratio:.3f}{paired} | "
                       f"{r.logloss:.4f} | {l_ratio:.3f} | {r.ece:.4f} | "
                       f"{r.ece_floor:.4f} | "
                       f"{r.fit_s:.0f} | {r.rows_per_s:,.0f} | {blend} |")
    return "\n".join(out)


# ---------------------------------------------------------------- scale
def _latency_ms(fn, X, reps: int = 50) -> float:
    """Median milliseconds of one call of ``fn`` on ``X``."""
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn(X)
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


def _oracle_ceilings(truth, ev: pd.DataFrame) -> dict:
    """AUC of the true click logit with its per-user latent parts replaced by what a model
    could at best know from pooled data: without the user's own click bias, and with the
    user's interests replaced by their segment's mean interests (and no bias)."""
    u = truth.user_index(ev["user_id"])
    a = truth.ad_index(ev["ad_id"])
    ts = pd.to_datetime(ev["ts"])
    logit = truth.click_logit(u, a, truth.slot_index(ev["placement"]), ts.dt.hour.to_numpy(),
                              ts.dt.day_of_week.to_numpy())
    seg = truth.user_segment[u]
    seg_interest = np.stack([truth.user_interest[truth.user_segment == k].mean(0)
                             for k in range(len(truth.segment_names))])
    floor, w = truth.coef["interest_floor"], truth.coef["interest_weight"]
    own = w * np.log(len(truth.categories) * truth.user_interest[u, truth.ad_category[a]] + floor)
    pooled = w * np.log(len(truth.categories) * seg_interest[seg, truth.ad_category[a]] + floor)
    no_bias = logit - truth.user_bias[u]
    return {"oracle_no_user_bias_auc": roc_auc(ev["clicked"], no_bias),
            "oracle_segment_interest_auc": roc_auc(ev["clicked"], no_bias - own + pooled)}


def _reset_peak_rss() -> bool:
    """Reset this process's peak RSS (Linux ``/proc/self/clear_refs``); False if it cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_rss_gb() -> float:
    """Peak RSS in GiB since the start or the last :func:`_reset_peak_rss` (``VmHWM``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _release_freed_memory() -> None:
    """Hand memory freed by the fit back to the OS (Arrow's pool, glibc's heap), so that the
    peer comparison's peak is not stacked on top of what the allocators keep cached."""
    gc.collect()
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except ImportError:
        pass
    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def scale_one(n_events: int, n_jobs: int) -> dict:
    """In a child process: synthesise ~n events, ingest, build features, fit; report.

    Then, on the same train/test rows: peer LightGBM (defaults, ordinal codes) fit, and both
    models' batch throughput on a 1 M-row frame (the test rows repeated) and latency on 100
    rows.  ``fit_peak_rss_gb`` is the peak RSS of ``train_workspace`` alone (features, fit,
    evaluation; the peak is reset after synthesis and ingest), ``peak_rss_gb`` that of the
    whole child (synthesis, ingest and the peer comparison included).
    """
    import lightgbm as lgb

    from adwise.behavior import train_workspace
    from adwise.behavior._encoding import rows_as_slice
    from adwise.behavior._pipeline import workspace_frame
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
        gc.collect()
        fit_peak_exact = _reset_peak_rss()
        t = time.perf_counter()
        res = train_workspace(ws, conversion=False, save=False, test_fraction=0.2,
                              n_jobs=n_jobs)
        total_s = time.perf_counter() - t
        fit_peak = _peak_rss_gb() if fit_peak_exact else float("nan")
        truth = load_truth(Path(d) / "w")
        tt = res.extra["test"]
        raw = truth.user_ids
        back = dict(zip(ws.pseudonyms(raw), raw, strict=True))
        ev = tt.assign(user_id=tt["user_id"].map(back))
        ev["placement"] = tt["placement"]
        oracle = roc_auc(ev["clicked"], truth.p_click_events(ev))
        ceilings = _oracle_ceilings(truth, ev)
        m = res.metrics
        _release_freed_memory()
        # the frame train_workspace used (same features, same time split); only the model
        # inputs are kept, and the periods are slices of the time-ordered rows (views)
        wf = workspace_frame(ws, 0.2, n_jobs=n_jobs)
        test = np.zeros(len(wf.df), dtype=bool)
        test[wf.test] = True
        y = wf.y
        X = wf.df[wf.columns]
        tr_rows, te_rows = rows_as_slice(wf.train), rows_as_slice(wf.test)
        del wf
    Xtr, Xte = X.iloc[tr_rows].reset_index(drop=True), X.iloc[te_rows].reset_index(drop=True)
    del X
    ours = res.ctr_model
    A, B, _ = _ordinal(Xtr, Xte)
    peer = lgb.LGBMClassifier(random_state=0, n_jobs=n_jobs, verbose=-1)
    t = time.perf_counter()
    peer.fit(A, y[~test])
    del A
    peer_fit_s = time.perf_counter() - t
    p_peer = peer.predict_proba(B)[:, 1]
    big = pd.concat([Xte] * -(-1_000_000 // len(Xte)), ignore_index=True).iloc[:1_000_000]
    t = time.perf_counter()
    ours.predict_proba(big)
    ours_1m = len(big) / (time.perf_counter() - t)
    # the peer is timed on codes made beforehand (its encoding not counted): a bound in its
    # favour; ours is timed from the raw frame, encoding included
    _, big_codes, _ = _ordinal(Xtr, big, encode_train=False)
    t = time.perf_counter()
    peer.predict_proba(big_codes)
    peer_1m = len(big) / (time.perf_counter() - t)
    head = Xte.head(100)
    return {"events": int(m["rows_train"] + m["rows_test"]), "synth_s": synth_s,
            "ingest_s": ingest_s, "features_fit_eval_s": total_s, "n_jobs": n_jobs,
            "model_fit_s": m["fit_seconds"], "best_iterations": ours.best_iterations_,
            "predict_rows_per_s": m["predict_rows_per_second"], "predict_1m_rows_per_s": ours_1m,
            "latency_100_ms": _latency_ms(ours.predict_ctr, head),
            "auc": m["auc"], "oracle_auc": oracle, **ceilings, "ece": m["ece"],
            "top_features": list(ours.feature_importance_)[:6],
            "fit_peak_rss_gb": fit_peak,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
            "peer_fit_s": peer_fit_s, "peer_auc": roc_auc(y[test], p_peer),
            "peer_ece": expected_calibration_error(y[test], p_peer),
            "peer_predict_1m_rows_per_s": peer_1m,
            "peer_latency_100_ms": _latency_ms(peer.predict_proba, B[:100])}


def run_scale(sizes: list[int], n_jobs: int) -> str:
    lines = [f"\n### scale (synthetic world, time split 80/20, {n_jobs} thread(s))\n",
             "| events | synth s | ingest s | features+fit+eval s | model fit s | "
             "predict rows/s (1 M rows) | 100-row ms | AUC | oracle AUC | oracle AUC without "
             "user bias | same, segment-mean interests | ECE | features+fit+eval peak RSS GB | "
             "process peak RSS GB | top features |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    peers = ["", "peer LightGBM default, same rows and threads (its predict timings on integer "
             "codes made beforehand, ours from the raw frame):", "",
             "| events | fit s | fit ratio ours/peer | predict rows/s (1 M rows) | "
             "ratio ours/peer | 100-row ms | AUC | ECE |", "|---|---|---|---|---|---|---|---|",
             ]
    for n in sizes:
        out = subprocess.run([sys.executable, __file__, "--scale-child", str(n),
                              "--n-jobs", str(n_jobs)],
                             capture_output=True, text=True, timeout=3600)
        if out.returncode != 0:
            lines.append(f"| {n:,} | failed: {out.stderr.strip().splitlines()[-1][:80]} |")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(json.dumps(r), flush=True)
        lines.append(
            f"| {r['events']:,} | {r['synth_s']:.0f} | {r['ingest_s']:.0f} | "
            f"{r['features_fit_eval_s']:.0f} | {r['model_fit_s']:.0f} | "
            f"{r['predict_1m_rows_per_s']:,.0f} | {r['latency_100_ms']:.1f} | {r['auc']:.4f} | "
            f"{r['oracle_auc']:.4f} | {r['oracle_no_user_bias_auc']:.4f} | "
            f"{r['oracle_segment_interest_auc']:.4f} | {r['ece']:.4f} | "
            f"{r['fit_peak_rss_gb']:.2f} | {r['peak_rss_gb']:.2f} | "
            f"{', '.join(r['top_features'])} |")
        peers.append(
            f"| {r['events']:,} | {r['peer_fit_s']:.0f} | "
            f"{r['model_fit_s'] / r['peer_fit_s']:.2f} | {r['peer_predict_1m_rows_per_s']:,.0f} | "
            f"{r['predict_1m_rows_per_s'] / r['peer_predict_1m_rows_per_s']:.2f} | "
            f"{r['peer_latency_100_ms']:.1f} | {r['peer_auc']:.4f} | {r['peer_ece']:.4f} |")
    return "\n".join(lines + peers)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--no-deep", action="store_true", help="Skip adwise's own DeepFM.")
    ap.add_argument("--scale", default="", help="Comma-separated event counts, e.g. 1000000.")
    ap.add_argument("--skip-real", action="store_true")
    ap.add_argument("--models", default="", help="Comma-separated name parts, e.g. gbdt,peer; "
                    "=NAME for one model by its whole name.")
    ap.add_argument("--n-jobs", type=int, default=1, help="Threads of the scale run's models.")
    ap.add_argument("--scale-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help="Also write the tables to this markdown file.")
    ap.add_argument("--tune", default=None,
                    help="Add ours with --tune and LightGBM tuned by the same search, each "
                         "with this budget (SECONDS or TRIALS, e.g. 40t).")
    ap.add_argument("--rows", default=None,
                    help="Write the per-seed rows to this CSV (rewritten after each seed).")
    ap.add_argument("--seeds", default=",".join(map(str, SEEDS)),
                    help="Comma-separated split seeds (default 0-4).")
    ap.add_argument("--summarise", default=None,
                    help="Only print the tables of these comma-separated --rows CSVs.")
    a = ap.parse_args()
    if a.summarise:
        text = summarise(pd.concat([pd.read_csv(f) for f in a.summarise.split(",")],
                                   ignore_index=True))
        print(text)
        if a.out:
            Path(a.out).write_text(text + "\n")
        return
    if a.scale_child:
        print(json.dumps(scale_one(a.scale_child, a.n_jobs)))
        return
    text = ""
    if not a.skip_real:
        if not DATA.is_dir():
            sys.exit(f"shared data not found at {DATA}")
        df = run_real(a.datasets.split(","), with_deep=not a.no_deep,
                      only=[m for m in a.models.split(",") if m], tune=a.tune, rows_csv=a.rows,
                      seeds=tuple(int(x) for x in a.seeds.split(",")))
        text += summarise(df)
    if a.scale:
        text += run_scale([int(x) for x in a.scale.split(",")], a.n_jobs)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
