"""Behaviour pipeline: features from the workspace, time-based evaluation, registry, serving.

All I/O of the capability lives here; :class:`~adwise.behavior._model.CTRModel` is pure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adwise._exceptions import InputError
from adwise._split import present, split_events
from adwise._tuning import Budget
from adwise.behavior._encoding import rows_as_slice
from adwise.behavior._features import (
    PROFILE_COUNTS,
    add_profile,
    add_smoothed,
    event_features,
    feature_columns,
    fit_profile,
    latest_history,
    user_attributes,
)
from adwise.behavior._linear import LinearCTR
from adwise.behavior._model import CTRModel, check_binary_target
from adwise.behavior._profile import CategoryProfile
from adwise.behavior._tune import tune_ctr
from adwise.behavior._xgb import XGBoostCTR

__all__ = [
    "BehaviorPredictor",
    "TrainResult",
    "WorkspaceFrame",
    "evaluate_files",
    "evaluate_predictions",
    "load_predictor",
    "read_plain",
    "train_workspace",
    "workspace_frame",
]

log = logging.getLogger(__name__)
CAPABILITY = "behavior"
CRITEO_COLUMNS = ["label"] + [f"I{i}" for i in range(1, 14)] + [f"C{i}" for i in range(1, 27)]


# ====================================================================== plain files
def read_plain(path: str | Path, fmt: str | None = None) -> pd.DataFrame:
    """Read a training/test file: CSV/TSV/Parquet/JSONL, or Criteo's raw format.

    ``fmt="criteo"``: tab-separated, no header, columns ``label, I1..I13, C1..C26`` (the
    Kaggle Display Advertising Challenge files).  Avazu's CSV is read as it is.
    """
    from adwise.data import read_table

    p = Path(path)
    if fmt == "criteo":
        if not p.is_file():
            raise InputError(f"{p}: no such file.")
        try:
            df = pd.read_csv(p, sep="\t", header=None, names=CRITEO_COLUMNS,
                             dtype={f"C{i}": str for i in range(1, 27)})
        except pd.errors.EmptyDataError:
            df = pd.DataFrame(columns=CRITEO_COLUMNS)
        except (ValueError, pd.errors.ParserError) as exc:
            raise InputError(
                f"{p}: cannot be read as Criteo TSV (label, I1..I13, C1..C26, no header): "
                f"{str(exc).splitlines()[0]}"
            ) from exc
        return df
    if fmt not in (None, "csv", "tsv", "parquet", "jsonl"):
        raise InputError(f"--format must be csv, tsv, parquet, jsonl or criteo; got {fmt!r}.")
    return read_table(p, fmt=fmt)


def _split_xy(df: pd.DataFrame, target: str, file: str) -> tuple[pd.DataFrame, np.ndarray]:
    if len(df) == 0:
        raise InputError(f"{file}: the file has no rows; give a file with labelled rows.")
    if target not in df.columns:
        raise InputError(
            f"{file}: no target column {target!r}; columns are: "
            f"{', '.join(map(str, df.columns[:30]))}. Name the label with --target."
        )
    y = check_binary_target(df[target], name=f"{file}: column {target!r}")
    return df.drop(columns=[target]), y


def evaluate_predictions(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, Any]:
    """Every classification metric plus the reliability curve (10 equal-count bins: at a
    click rate of a few per cent equal-width bins put nearly every event in the first one)."""
    from adwise.metrics import binary_report, reliability_curve

    rep = binary_report(y, p, threshold=threshold)
    rc = reliability_curve(y, p, n_bins=10, strategy="quantile")
    rep["reliability"] = {k: np.asarray(v).tolist() for k, v in rc.items()}
    return rep


def _unparsed_numbers(X: pd.DataFrame, numeric: Sequence[str], source: str) -> list[str]:
    """One warning per numeric (by training) column whose values here are not numbers: the
    model sees them as missing, which silently lowers the scores."""
    out = []
    for c in numeric:
        s = X[c]
        if pd.api.types.is_numeric_dtype(s):
            continue
        given = s.notna() & (s.astype(str).str.strip() != "")
        bad = given & pd.to_numeric(s, errors="coerce").isna()
        n = int(bad.sum())
        if n:
            first = np.flatnonzero(bad.to_numpy())[:3]
            shown = ", ".join(f"row {i} ({s.iloc[i]!r})" for i in first)
            out.append(f"{source}: column '{c}' is numeric in the training file but {n:,} of "
                       f"{len(s):,} value(s) here are not numbers (e.g. {shown}); they are "
                       "scored as missing. Fix the values or the column's type.")
    return out


def file_report(y: np.ndarray, p: np.ndarray, rows_train: int, fit_s: float, pred_s: float,
                model: str, calibration: str, plan: Any,
                warnings: Sequence[str] = ()) -> dict[str, Any]:
    """What ``behavior evaluate --train/--test`` prints, the same keys on every engine: the
    DESIGN.md metrics, the other classification metrics, and how the columns were used."""
    rep = evaluate_predictions(y, p)
    return {
        "auc": rep["auc"],
        "logloss": rep["logloss"],
        "ece": rep["ece"],
        "rows_train": rows_train,
        "rows_test": len(y),
        "fit_seconds": fit_s,
        "predict_rows_per_second": len(y) / pred_s if pred_s > 0 else None,
        "pr_auc": rep["pr_auc"],
        "accuracy": rep["accuracy"],
        "precision": rep["precision"],
        "recall": rep["recall"],
        "f1": rep["f1"],
        "base_rate": rep["base_rate"],
        "model": model,
        "calibration": calibration,
        "categorical_columns": plan.categorical,
        "numeric_columns": plan.numeric,
        "dropped_columns": plan.dropped,
        "warnings": list(warnings),
    }


def evaluate_files(
    train: str | Path,
    test: str | Path,
    target: str,
    model: str = "gbdt",
    fmt: str | None = None,
    categorical: Sequence[str] | None = None,
    numeric: Sequence[str] | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    params: dict[str, Any] | None = None,
    tune: Budget | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Fit on ``train``, evaluate on ``test``; return the DESIGN.md metric keys and more.

    The test file must have every training column (extra columns are ignored); unseen
    category values are encoded as rare (see :meth:`CTRModel.predict_ctr`).  With ``tune``
    the hyper-parameters are searched within that budget on the training file alone
    (:func:`~adwise.behavior._tune.tune_ctr`), and ``tuning`` carries the search.
    """
    tr = read_plain(train, fmt)
    te = read_plain(test, fmt)
    Xtr, ytr = _split_xy(tr, target, str(train))
    Xte, yte = _split_xy(te, target, str(test))
    missing = [c for c in Xtr.columns if c not in Xte.columns]
    if missing:
        raise InputError(
            f"{test}: lacks column(s) of the training file: {', '.join(map(str, missing[:10]))}"
            ". Give the test file the same columns as the training file."
        )
    Xte = Xte[list(Xtr.columns)]
    base = dict(model=model, categorical=list(categorical) if categorical else None,
                numeric=list(numeric) if numeric else None, random_state=seed,
                n_jobs=n_jobs, **(params or {}))
    t0 = time.perf_counter()
    tuning = None
    if tune is not None:
        m, tuning = tune_ctr(Xtr, ytr, tune, base, seed=seed, progress=progress)
    else:
        m = CTRModel(**base).fit(Xtr, ytr)
    fit_s = time.perf_counter() - t0
    warnings = _unparsed_numbers(Xte, m.columns_.numeric, str(test))
    for w in warnings:
        log.warning("%s", w)
    t0 = time.perf_counter()
    p = m.predict_ctr(Xte)
    pred_s = time.perf_counter() - t0
    out = file_report(yte, p, len(Xtr), fit_s, pred_s, model, m.calibrator_.chosen_,
                      m.columns_, warnings)
    if model == "gbdt":
        out["top_features"] = dict(list(m.feature_importance_.items())[:10])
        out["blend"] = m.blend_
    if tuning is not None:
        out["tuning"] = tuning.to_dict()
    return out


# ====================================================================== workspace training
@dataclass
class TrainResult:
    """What :func:`train_workspace` did."""

    metrics: dict[str, Any]
    version: str | None
    ctr_model: CTRModel
    cvr_model: CTRModel | None = None
    cvr_metrics: dict[str, Any] | None = None
    split_ts: str | None = None
    #: how the test events were chosen (see :func:`adwise._split.split_events`)
    split: str = "by time"
    #: ``extra["test"]``: the test events (ids, placement, clicked) with their ``p_click``
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class WorkspaceFrame:
    """The model inputs of every event of a workspace, split by time."""

    #: one row per event (:func:`event_features` plus the derived history features, less the
    #: raw per-category ``profile_*`` counts that the profile features are made from)
    df: pd.DataFrame
    #: model input columns
    columns: list[str]
    #: row positions of the training (past) and test (future) events
    train: np.ndarray
    test: np.ndarray
    #: the first test timestamp (``None`` for a random split)
    cut: Any
    #: the 0/1 click labels of every row
    y: np.ndarray
    #: training-period click rate (the smoothing prior of the ``*_ctr`` features)
    prior: float
    #: category-profile model fitted on the training period (``None`` without ad categories)
    profile: CategoryProfile | None
    #: how the split was made, e.g. ``"by time (test from ...)"`` or ``"random by user ..."``
    split: str = "by time"


def workspace_frame(ws: Any, test_fraction: float = 0.2, seed: int = 0,
                    n_jobs: int | None = None) -> WorkspaceFrame:
    """Features of every event and the time split: what :func:`train_workspace` fits on.

    Everything learnt from outcomes (the smoothing prior, the category profile) is learnt
    on the training period only, so the test events are scored as the future would be.
    ``n_jobs`` caps DuckDB's threads (default: every core).
    """
    df = event_features(ws, threads=n_jobs)
    y = check_binary_target(df["clicked"], name="events: column 'clicked'")
    sp = split_events(df["ts"], y, df["user_id"], test_fraction, seed)
    tr, te, cut = sp.train, sp.test, sp.cut
    prior = float(y[tr].mean())
    users = user_attributes(ws)
    profile = fit_profile(df, tr, users, random_state=seed)
    df = add_profile(add_smoothed(df, prior), profile, users)
    # 2 x categories counts per event, used up by add_profile: ~1 GB at 10 M events that would
    # otherwise stay alive through the model fit (dropping shares the other columns' memory)
    df = df.drop(columns=[c for c in df.columns if c.startswith(PROFILE_COUNTS)])
    return WorkspaceFrame(df, feature_columns(df), tr, te, cut, y, prior, profile,
                          sp.description)


def train_workspace(
    ws: Any,
    model: str = "gbdt",
    test_fraction: float = 0.2,
    conversion: bool = True,
    seed: int = 0,
    n_jobs: int = 1,
    save: bool = True,
    params: dict[str, Any] | None = None,
    tune: Budget | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> TrainResult:
    """Build features, train pCTR (and pCVR on clicked events), evaluate on the future, save.

    The events are split by time: the last ``test_fraction`` of the period is the test set
    (train on the past, test on the future).  When the timestamps are too coarse for that
    (e.g. one export of a single hour), a seeded random split by user is made instead and
    :attr:`TrainResult.split` says so.  The saved model is the one evaluated.

    Parameters
    ----------
    ws : Workspace
    model : str
        ``gbdt`` (default), ``forest``, ``tree``, ``logreg`` or ``deep``.
    test_fraction : float
        Share of the events (the latest) held out for the test metrics.
    conversion : bool
        Also train the pCVR model on clicked events when ``converted`` is present.
    params : dict, optional
        Extra :class:`CTRModel` parameters.
    tune : Budget, optional
        Search the pCTR model's hyper-parameters within this budget, validated on the latest
        part of the training period (:func:`~adwise.behavior._tune.tune_ctr`); the pCVR
        model reuses the chosen values.  The search is stored with the model.
    """
    if not 0.0 < test_fraction < 0.9:
        raise InputError(f"--test-fraction must be in (0, 0.9); got {test_fraction}.")
    steps, done = 4 if conversion else 3, 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, steps)

    wf = workspace_frame(ws, test_fraction, seed, n_jobs=n_jobs)
    step()
    df, cols, tr, te, cut, y_all = wf.df, wf.columns, wf.train, wf.test, wf.cut, wf.y
    X = df[cols]
    kw = dict(params or {})
    by_time = wf.cut is not None
    base = dict(model=model, time_ordered=by_time, random_state=seed, n_jobs=n_jobs, **kw)
    # the rows are in time order, so each period is a slice: a view, not a copy of the frame
    tuning = None
    if tune is not None:
        ctr, tuning = tune_ctr(X.iloc[rows_as_slice(tr)], y_all[tr], tune, base, seed=seed)
        kw.update(tuning.params)
    else:
        ctr = CTRModel(**base).fit(X.iloc[rows_as_slice(tr)], y_all[tr])
    step()
    t0 = time.perf_counter()
    p = ctr.predict_ctr(X.iloc[rows_as_slice(te)])
    pred_s = time.perf_counter() - t0
    metrics = evaluate_predictions(y_all[te], p)
    metrics.update(rows_train=len(tr), rows_test=len(te), fit_seconds=ctr.fit_seconds_,
                   predict_rows_per_second=len(te) / pred_s if pred_s > 0 else None,
                   calibration=ctr.calibrator_.chosen_)
    if getattr(ctr, "blend_", None) is not None:
        metrics["blend"] = ctr.blend_
    if tuning is not None:
        metrics["tuning"] = tuning.to_dict()
    step()
    cvr = cvr_metrics = None
    if conversion and present(df, "converted"):
        clicked = df["clicked"].to_numpy() == 1
        conv = df["converted"].fillna(0).to_numpy()
        tr_c = tr[clicked[tr]]
        te_c = te[clicked[te]]
        if len(tr_c) >= 200 and 0 < conv[tr_c].sum() < len(tr_c) and len(te_c) > 0 \
                and 0 < conv[te_c].sum() < len(te_c):
            cvr = CTRModel(model=model, time_ordered=by_time, random_state=seed,
                           n_jobs=n_jobs, **kw)
            cvr.fit(X.iloc[tr_c], conv[tr_c].astype(int))
            pc = cvr.predict_ctr(X.iloc[te_c])
            cvr_metrics = evaluate_predictions(conv[te_c].astype(int), pc)
            cvr_metrics.update(rows_train=len(tr_c), rows_test=len(te_c))
        else:
            log.info("pCVR model skipped: too few clicked rows with both outcomes")
        step()
    version = None
    if save:
        version = _save(ws, ctr, cvr, metrics, cvr_metrics, wf, model, seed)
    test_frame = df[["event_id", "ts", "user_id", "ad_id", "clicked"]
                    + (["placement"] if "placement" in df.columns else [])].iloc[rows_as_slice(te)]
    test_frame = test_frame.assign(p_click=p)
    return TrainResult(metrics, version, ctr, cvr, cvr_metrics,
                       None if cut is None else str(cut), wf.split,
                       extra={"test": test_frame.reset_index(drop=True)})


def _save(ws: Any, ctr: CTRModel, cvr: CTRModel | None, metrics: dict, cvr_metrics: dict | None,
          wf: WorkspaceFrame, model: str, seed: int) -> str:
    cols, cut = wf.columns, None if wf.cut is None else str(wf.cut)

    def write(w: Any) -> None:
        for name, m in (("ctr", ctr), ("cvr", cvr)):
            if m is None:
                continue
            state, texts, pickles = m.to_artifact()
            w.write_json(f"{name}.json", state)
            for fname, text in texts.items():
                w.write_text(f"{name}.{fname}", text)
            for fname, obj in pickles.items():
                w.write_pickle(f"{name}.{fname}", obj)
        w.write_json("features.json", {
            "columns": cols, "prior": wf.prior,
            "profile": None if wf.profile is None else wf.profile.to_dict()})

    slim = {k: v for k, v in metrics.items() if k not in ("reliability", "tuning", "blend")}
    mv = ws.registry.save(
        CAPABILITY, write,
        params={"model": model, "seed": seed, **{k: v for k, v in ctr.get_params().items()
                                                 if k not in ("categorical", "numeric")}},
        metrics=slim,
        data_fingerprint=ws.fingerprint("events"),
        feature_schema={"columns": cols, "categorical": ctr.columns_.categorical,
                        "numeric": ctr.columns_.numeric},
        extra={
            "split_ts": cut,
            "split": wf.split,
            "reliability": metrics.get("reliability"),
            "feature_importance": getattr(ctr, "feature_importance_", None),
            "calibration": ctr.calibrator_.to_dict() | {"params": None},
            "neg_sample_rate": ctr.neg_sample_rate,
            "cvr_metrics": None if cvr_metrics is None else
            {k: v for k, v in cvr_metrics.items() if k != "reliability"},
            "has_cvr": cvr is not None,
            "tuning": metrics.get("tuning"),
            "blend": metrics.get("blend"),
        },
    )
    return mv.version


# ====================================================================== serving
def _load_model(reader: Any, name: str) -> CTRModel | None:
    if not reader.has(f"{name}.json"):
        return None
    state = reader.read_json(f"{name}.json")
    texts, pickles = {}, {}
    prefix = f"{name}."
    for fname in reader.metadata.get("files", {}):
        if not fname.startswith(prefix) or fname == f"{name}.json":
            continue
        short = fname[len(prefix):]
        if short.endswith(".pkl"):
            pickles[short] = reader.read_pickle(fname)
        else:
            texts[short] = reader.read_text(fname)
    return CTRModel.from_artifact(state, texts, pickles)


class BehaviorPredictor:
    """A loaded behaviour model that scores event-like rows.

    The frame needs ``user_id`` (pseudonymised, as stored), ``ad_id``, ``ts`` (optional: now)
    and ``placement``; other context columns are optional (missing ones count as missing
    values).  User and ad attributes and each user's / ad's history up to the latest stored
    event are joined here.  Unknown users or ads get no attributes and an empty history.
    ``profile`` is the category profile fitted at training (``None`` for models saved before
    it existed, or trained on ads without a category); it is applied to each user's current
    per-category totals, the same counts that training saw strictly before each event.
    """

    def __init__(self, ws: Any, ctr: CTRModel | XGBoostCTR | LinearCTR, cvr: CTRModel | None,
                 columns: list[str],
                 prior: float, version: str, profile: CategoryProfile | None = None) -> None:
        self.ctr = ctr
        self.cvr = cvr
        self.columns = columns
        self.prior = prior
        self.version = version
        self.profile = profile
        self._ws = ws
        self._user_attributes = user_attributes(ws)
        users = ["user_id", *self._user_attributes]
        ads = [c for c in ws.columns("ads") if c not in ("headline", "description")]
        self._users = ws.table("users", users).set_index("user_id")
        self._users.columns = [f"user_{c}" for c in self._users.columns]
        self._ads = ws.table("ads", ads).set_index("ad_id")
        # a category column never filled (the contract's empty column) is no category
        self._ad_cat = (self._ads["category"] if present(self._ads, "category") else None)
        self._ads.columns = [f"ad_{c}" for c in self._ads.columns]
        hist = latest_history(ws)
        self._hist_user = hist["user"].set_index("user_id")
        self._hist_ad = hist["ad"].set_index("ad_id")
        self._hist_uc = hist.get("user_cat")
        prof = hist.get("user_profile")
        self._hist_profile = None if prof is None else prof.set_index("user_id")

    def stored_clicks(self, frame: pd.DataFrame) -> np.ndarray:
        """Per row of ``frame``: the stored ``clicked`` of the same event in the workspace
        (matched by ``event_id``, else by ``user_id``, ``ad_id`` and ``ts``), NaN when the row
        is not a stored event.

        A stored event's own click is in the user's and the ad's history totals that
        :meth:`features` joins, so scoring it as it is would read its outcome back.
        """
        out = np.full(len(frame), np.nan)
        if "event_id" in frame.columns:
            keys = ["event_id"]
        elif "ts" in frame.columns:
            keys = ["user_id", "ad_id", "ts"]
        else:
            return out
        f = frame[keys].reset_index(drop=True).astype(str)
        if "ts" in keys:
            from adwise.data import parse_timestamps

            ts = parse_timestamps(frame["ts"].reset_index(drop=True))
            f["ts"] = ts.dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy()
        f["_row"] = np.arange(len(f))
        with self._ws.connect(read_only=True) as con:
            con.register("incoming", f)
            cond = " AND ".join(
                "strftime(e.ts, '%Y-%m-%d %H:%M:%S') = i.ts" if k == "ts"
                else f"CAST(e.{k} AS VARCHAR) = i.{k}" for k in keys)
            hit = con.execute(
                f"SELECT i._row, max(e.clicked) AS clicked FROM incoming i JOIN events e ON "
                f"{cond} GROUP BY i._row").df()
            con.unregister("incoming")
        out[hit["_row"].to_numpy(dtype=np.int64)] = hit["clicked"].to_numpy(dtype=float)
        return out

    def features(self, frame: pd.DataFrame, own_clicks: np.ndarray | None = None
                 ) -> pd.DataFrame:
        """The model's input rows for ``frame``.

        ``own_clicks`` (see :meth:`stored_clicks`): rows that are stored events get their own
        impression and click taken out of the history totals they are scored with.
        """
        from adwise.data import parse_timestamps

        if not isinstance(frame, pd.DataFrame) or len(frame) == 0:
            raise InputError("give at least one row with user_id and ad_id.")
        for c in ("user_id", "ad_id"):
            if c not in frame.columns:
                raise InputError(f"the rows lack column {c!r}; give user_id and ad_id.")
        f = frame.reset_index(drop=True).copy()
        f["user_id"] = f["user_id"].astype(str)
        f["ad_id"] = f["ad_id"].astype(str)
        if "ts" in f.columns:
            ts = parse_timestamps(f["ts"])
            if ts.isna().any():
                raise InputError("column 'ts' has values that are not timestamps.")
        else:
            ts = pd.Series(pd.Timestamp.now(tz="UTC").tz_localize(None), index=f.index)
        f["hour"] = ts.dt.hour.to_numpy()
        f["weekday"] = ts.dt.day_of_week.to_numpy()
        f = f.join(self._users, on="user_id").join(self._ads, on="ad_id")
        f = f.join(self._hist_user, on="user_id").join(self._hist_ad, on="ad_id")
        if self._hist_uc is not None and self._ad_cat is not None:
            f["ad_category"] = f["ad_id"].map(self._ad_cat)
            f = f.merge(self._hist_uc, on=["user_id", "ad_category"], how="left")
        if self._hist_profile is not None:
            # a user without stored events has no row: zero counts, like a user's first event
            # in training
            f = f.join(self._hist_profile, on="user_id")
            f[self._hist_profile.columns] = f[self._hist_profile.columns].fillna(0)
        for h in ("user", "ad", "user_cat"):
            for k in ("impressions", "clicks"):
                c = f"{h}_past_{k}"
                f[c] = f[c].fillna(0).astype(float) if c in f.columns else 0.0
        if own_clicks is not None:
            own = np.asarray(own_clicks, dtype=float)
            stored = ~np.isnan(own)
            for h in ("user", "ad", "user_cat"):
                f[f"{h}_past_impressions"] = np.maximum(
                    f[f"{h}_past_impressions"].to_numpy() - stored, 0.0)
                f[f"{h}_past_clicks"] = np.maximum(
                    f[f"{h}_past_clicks"].to_numpy() - np.where(stored, own, 0.0), 0.0)
        f = add_profile(add_smoothed(f, self.prior), self.profile, self._user_attributes)
        for c in self.columns:
            if c not in f.columns:
                f[c] = np.nan
        return f[self.columns]

    def predict_ctr(self, frame: pd.DataFrame, own_clicks: np.ndarray | None = None
                    ) -> np.ndarray:
        """Calibrated click probabilities, one per row (``own_clicks``: see
        :meth:`features`)."""
        return self.ctr.predict_ctr(self.features(frame, own_clicks))

    def predict_cvr(self, frame: pd.DataFrame, own_clicks: np.ndarray | None = None
                    ) -> np.ndarray | None:
        """Calibrated P(convert | click), or ``None`` when no pCVR model was trained."""
        if self.cvr is None:
            return None
        return self.cvr.predict_ctr(self.features(frame, own_clicks))

    def expected_value(self, frame: pd.DataFrame) -> np.ndarray | None:
        """pCTR x pCVR: the probability that an impression converts (``None`` without pCVR)."""
        cvr = self.predict_cvr(frame)
        return None if cvr is None else self.predict_ctr(frame) * cvr

    def explain(self, frame: pd.DataFrame, k: int = 5, own_clicks: np.ndarray | None = None
                ) -> list[list[tuple[str, float]]]:
        """Top-``k`` (feature, log-odds contribution) per row (TreeSHAP; ``gbdt`` only)."""
        return self.ctr.explain(self.features(frame, own_clicks), k=k)

    def known_share(self, frame: pd.DataFrame) -> tuple[float, float]:
        """Shares of the rows whose ``user_id`` / ``ad_id`` have stored events."""
        users = frame["user_id"].astype(str).isin(self._hist_user.index)
        ads = frame["ad_id"].astype(str).isin(self._hist_ad.index)
        return float(users.mean()), float(ads.mean())

    def score(self, frame: pd.DataFrame, explain: int = 0) -> tuple[
            np.ndarray, np.ndarray | None, list[list[tuple[str, float]]] | None]:
        """pCTR, pCVR (``None`` without a pCVR model) and, when ``explain > 0``, the top
        ``explain`` reasons per row, from one build of the model inputs.

        The per-request path of the REST face: the joins of :meth:`features` are the larger
        part of scoring a few rows, so they are done once, and TreeSHAP only when asked.
        """
        F = self.features(frame)
        p = self.ctr.predict_ctr(F)
        cvr = None if self.cvr is None else self.cvr.predict_ctr(F)
        reasons = self.ctr.explain(F, k=explain) if explain else None
        return p, cvr, reasons


def load_predictor(ws: Any) -> BehaviorPredictor | None:
    """The promoted behaviour model of ``ws`` ready to score, or ``None`` when none is trained."""
    reg = ws.registry
    if reg.current(CAPABILITY) is None:
        return None
    reader = reg.load(CAPABILITY)
    # a model trained on Spark (--engine spark) carries a native XGBoost booster or a
    # logistic regression's coefficients instead
    ctr = _load_model(reader, "ctr") or XGBoostCTR.read(reader) or LinearCTR.read(reader)
    if ctr is None:
        return None
    cvr = _load_model(reader, "cvr")
    feats = reader.read_json("features.json")
    prof = feats.get("profile")  # absent in models saved before the category profile
    return BehaviorPredictor(ws, ctr, cvr, feats["columns"], float(feats["prior"]),
                             reg.current(CAPABILITY),
                             None if prof is None else CategoryProfile.from_dict(prof))
