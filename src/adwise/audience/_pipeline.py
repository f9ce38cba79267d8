"""Audience pipeline: segmentation, lookalike and uplift on plain files and on a workspace.

All I/O of the capability lives here; estimators are pure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from adwise._exceptions import ContractError, InputError
from adwise.audience._lookalike import LookalikeModel
from adwise.audience._rfm import rfm_features
from adwise.audience._segment import Segmenter, describe_segments
from adwise.audience._tabular import TabularEncoder
from adwise.audience._uplift import UpliftClassifier, check_binary, select_targets
from adwise.data import write_csv

if TYPE_CHECKING:
    from adwise._tuning import Budget

__all__ = [
    "export_segments",
    "load_segments",
    "lookalike_file",
    "lookalike_workspace",
    "segment_file",
    "segment_transactions",
    "segment_workspace",
    "uplift_files",
    "uplift_workspace",
    "workspace_user_features",
]

log = logging.getLogger(__name__)
CAPABILITY = "audience"


def _read(path: str | Path) -> pd.DataFrame:
    from adwise.data import read_table

    p = Path(path)
    if p.name.endswith((".csv", ".csv.gz")) and p.exists():
        # Semicolon-separated CSV (e.g. UCI bank marketing) is common: sniff the header.
        import gzip

        opener = gzip.open if p.name.endswith(".gz") else open
        with opener(p, "rt", errors="replace") as fh:
            head = fh.readline()
        if head.count(";") > head.count(","):
            return pd.read_csv(p, sep=";", low_memory=False)
    return read_table(p)


def _col(df: pd.DataFrame, col: str, flag: str, source: str) -> None:
    if col not in df.columns:
        raise ContractError(
            source,
            col,
            f"not in the file (given as {flag})",
            f"use one of the file's columns: {', '.join(map(str, df.columns[:20]))}",
        )


def _result(seg: Segmenter, profiles: list[dict], extra: dict | None = None,
            tuning: dict[str, Any] | None = None) -> dict[str, Any]:
    sizes = {str(p["segment"]): p["size"] for p in profiles}
    res = {
        "k": int(seg.k_),
        "silhouette": float(seg.silhouette_),
        "sizes": sizes,
        "profiles": profiles,
        "k_scores": {str(k): v for k, v in seg.scores_.items()},
        "k_rule": getattr(seg, "k_rule_", None),
        **(extra or {}),
    }
    if tuning is not None:
        res["k_rule"] = f"--tune: the best {tuning['metric']} on {tuning['validation']}"
        res["transform"], res["method"] = seg.transform, seg.method
        res["tuning"] = tuning
    return res


def _fit_segmenter(X: pd.DataFrame, seg: Segmenter, tune: Budget | None,
                   progress: Callable[[int, int], None] | None,
                   ) -> tuple[Segmenter, dict[str, Any] | None]:
    """``seg`` fitted on ``X``, or with ``tune`` the segmenter :func:`tune_segments` chose."""
    if tune is None:
        return seg.fit(X), None
    from adwise.audience._tune import tune_segments

    model, result = tune_segments(X, tune, seg, seed=seg.random_state, progress=progress)
    return model, result.to_dict()


# ---------------------------------------------------------------------------- segmentation
def _refuse_infinite(X: pd.DataFrame, source: str) -> None:
    for c in X.columns:
        bad = np.flatnonzero(np.isinf(X[c].to_numpy(dtype=float)))
        if len(bad):
            raise ContractError(
                source, str(c), "holds infinite values",
                "replace them with numbers, or leave the cells empty (they are then filled "
                "with the column's median)",
                rows=list(zip(bad[:5].tolist(), X[c].to_numpy()[bad[:5]].tolist(), strict=True)),
                n_bad=len(bad))


def _refuse_duplicate_ids(ids: pd.Series, id_col: str, source: str) -> None:
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        rows = np.flatnonzero(dup)
        raise ContractError(
            source, id_col, "holds the same id on more than one row",
            "keep one row per id (aggregate or drop the duplicates), or name the right "
            "--id-col",
            rows=list(zip(rows[:5].tolist(), ids.to_numpy()[rows[:5]].tolist(), strict=True)),
            n_bad=len(rows))


def segment_file(
    path: str | Path,
    id_col: str,
    k: str | int = "auto",
    method: str = "kmeans",
    transform: str = "log",
    criterion: str = "silhouette",
    random_state: int = 0,
    outcome_col: str | None = None,
    tune: Budget | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Segment the rows of a file on its columns (the id column excluded).

    Numeric columns are used as numbers; text columns of few levels and integer codes
    (:func:`adwise._columns.is_code`) as one-hot indicators of their ten most frequent levels
    (the rest ``other``); id-like text columns (mostly distinct values) are left out.
    ``outcome_col`` (0/1 or yes/no, e.g. a campaign's response) is not a feature: each
    segment's rate of it is reported.  With ``tune`` k, the transform and the algorithm are
    searched within that budget (:func:`adwise.audience._tune.tune_segments`); the result then
    carries ``tuning``.
    """
    from adwise._columns import MAX_CODE_LEVELS, is_code, top_levels

    t0 = time.perf_counter()
    df = _read(path)
    _col(df, id_col, "--id-col", str(path))
    outcomes = None
    if outcome_col is not None:
        _col(df, outcome_col, "--outcome-col", str(path))
        y = df[outcome_col]
        if not pd.api.types.is_numeric_dtype(y):
            y = y.astype(str).str.strip().str.lower().map(
                {"yes": 1, "no": 0, "true": 1, "false": 0, "y": 1, "n": 0, "1": 1, "0": 0})
        outcomes = pd.DataFrame(
            {"response": check_binary(y.to_numpy(dtype=float), outcome_col, str(path))})
        df = df.drop(columns=[outcome_col])
    rest = df.drop(columns=[id_col])
    rest = rest.loc[:, rest.notna().any()]
    numeric = [c for c in rest.columns if pd.api.types.is_numeric_dtype(rest[c])
               and not is_code(c, rest[c])]
    X = rest[numeric].astype(float)
    _refuse_infinite(X, str(path))
    _refuse_duplicate_ids(df[id_col], id_col, str(path))
    X = X.fillna(X.median())
    blocks = [X]
    for c in rest.columns:
        if c in numeric:
            continue
        s = rest[c]
        if s.nunique() > max(MAX_CODE_LEVELS, 0.5 * len(s)) or s.nunique() < 2:
            continue  # an identifier (or a constant): no group structure to find
        blocks.append(pd.get_dummies(top_levels(s), prefix=str(c), prefix_sep="=")
                      .astype(float))
    X = pd.concat(blocks, axis=1)
    if X.shape[1] == 0:
        raise InputError(f"{path}: no columns besides {id_col!r} to segment on.")
    seg, tuning = _fit_segmenter(X, Segmenter(
        k=k, method=method, transform=transform, criterion=criterion, random_state=random_state
    ), tune, progress)
    profiles = describe_segments(X, seg.labels_, outcomes=outcomes)
    return _result(
        seg,
        profiles,
        {
            "rows": len(X),
            "outcome": outcome_col,
            "features": list(X.columns),
            "fit_seconds": round(time.perf_counter() - t0, 3),
        },
        tuning,
    )


def segment_transactions(
    path: str | Path,
    customer_col: str,
    date_col: str,
    amount_col: str | None = None,
    quantity_col: str | None = None,
    price_col: str | None = None,
    invoice_col: str | None = None,
    returns: str = "net",
    k: str | int = "auto",
    method: str = "kmeans",
    transform: str = "log",
    random_state: int = 0,
    frame: pd.DataFrame | None = None,
    tune: Budget | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """RFM segmentation of a transactions file (e.g. Online Retail); ``tune`` as in
    :func:`segment_file`."""
    t0 = time.perf_counter()
    df = frame if frame is not None else _read(path)
    rfm, report = rfm_features(
        df,
        customer_col,
        date_col,
        amount_col,
        quantity_col,
        price_col,
        invoice_col,
        returns,
        source=str(path),
    )
    t1 = time.perf_counter()
    seg, tuning = _fit_segmenter(
        rfm, Segmenter(k=k, method=method, transform=transform, random_state=random_state),
        tune, progress)
    outcomes = pd.DataFrame({"value": rfm["monetary"].to_numpy()})
    profiles = describe_segments(rfm.reset_index(drop=True), seg.labels_, outcomes=outcomes)
    return _result(
        seg,
        profiles,
        {
            "rows": len(rfm),
            "features": list(rfm.columns),
            "rfm": report,
            "rfm_seconds": round(t1 - t0, 3),
            "fit_seconds": round(time.perf_counter() - t1, 3),
        },
        tuning,
    )


def workspace_user_features(ws: Any, train_interests_if_missing: bool = True):
    """Per-user features on a workspace: interest lift + context (from the interests model) and
    behaviour counts. Returns ``(features, outcomes, interests)`` indexed by stored user id."""
    from adwise.interests import load_interests, train_interests

    try:
        im = load_interests(ws)
    except InputError:
        if not train_interests_if_missing:
            raise
        train_interests(ws)
        im = load_interests(ws)
    cols = set(ws.columns("events"))
    conv = "sum(converted)" if "converted" in cols else "0"
    rev = "sum(revenue)" if "revenue" in cols else "0"
    beh = ws.query(
        f"SELECT user_id, count(*) AS impressions, sum(clicked) AS clicks, {conv} AS conversions,"
        f" {rev} AS value FROM events GROUP BY user_id"
    ).set_index("user_id")
    beh.index = beh.index.astype(str)
    lift = im.lift_frame()
    beh = beh.reindex(lift.index).fillna(0.0).astype(float)
    feats = pd.concat([np.log(lift.clip(lower=1e-6)).add_prefix("interest="), im.context], axis=1)
    return feats, beh, lift


def segment_workspace(
    ws: Any,
    k: str | int = "auto",
    method: str = "kmeans",
    k_range: tuple[int, int] = (4, 10),
    random_state: int = 0,
    tune: Budget | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Segment the workspace's users, keep ids stable vs the previous version, save.

    ``tune`` as in :func:`segment_file`; the chosen settings, the trace and the validation
    score are then saved with the version (``segments.json``, its params and metrics).
    """
    t0 = time.perf_counter()
    feats, beh, lift = workspace_user_features(ws)
    # Interest, attribute and activity columns are on different scales; the segmenter
    # standardises each; no log transform on log-lifts and shares.
    seg, tuning = _fit_segmenter(feats, Segmenter(
        k=k, method=method, transform="none", k_range=k_range, random_state=random_state
    ), tune, progress)
    try:
        prev = ws.registry.load(CAPABILITY)
        pm = prev.read_json("segments.json")
        seg.align(np.asarray(pm["centers"], dtype=float), pm["features"])
        aligned_to = prev.metadata.get("version") or str(ws.registry.current(CAPABILITY))
    except (InputError, KeyError):
        aligned_to = None
    plain = feats.copy()
    profiles = describe_segments(
        plain.drop(columns=[c for c in plain if c.startswith(("interest=", "text="))]),
        seg.labels_,
        outcomes=beh,
        interests=lift,
    )
    res = _result(
        seg,
        profiles,
        {
            "users": len(feats),
            "fit_seconds": round(time.perf_counter() - t0, 3),
            "aligned_to": aligned_to,
        },
        tuning,
    )
    labels = seg.labels_
    user_ids = np.asarray(feats.index, dtype=str)

    def write(w):
        w.write_json(
            "segments.json",
            {
                "centers": np.nan_to_num(seg.centers_, nan=1e6).tolist(),
                "features": seg.feature_names_,
                "profiles": profiles,
                "k_scores": res["k_scores"],
                "silhouette": res["silhouette"],
                **({"tuning": tuning} if tuning is not None else {}),
            },
        )
        w.write_npz("assignments.npz", user_ids=user_ids, segment=labels.astype(np.int64))

    mv = ws.registry.save(
        CAPABILITY,
        write,
        params={"k": k, "method": method, "k_range": list(k_range), "random_state": random_state,
                **({"tune": tuning["budget"], "tuned": tuning["params"]} if tuning else {})},
        metrics={"k": res["k"], "silhouette": res["silhouette"], "users": len(feats),
                 **({"tuning_score": tuning["score"]} if tuning else {})},
        data_fingerprint=ws.fingerprint("events"),
        feature_schema=seg.feature_names_,
    )
    res["version"] = mv.version
    return res


def load_segments(ws: Any, version: str | None = None) -> tuple[pd.Series, dict[str, Any]]:
    """The saved user -> segment assignment and the segments' metadata."""
    r = ws.registry.load(CAPABILITY, version)
    a = r.read_npz("assignments.npz")
    return pd.Series(a["segment"], index=a["user_ids"], name="segment"), r.read_json(
        "segments.json"
    )


def export_segments(ws: Any, out: str | Path, version: str | None = None,
                    raw_ids: str | Path | None = None) -> dict[str, Any]:
    """Write ``user_id,segment`` for every segment of at least the workspace's min size.

    Segments smaller than ``min_segment_size`` (k-anonymity; default 50) are withheld and
    listed in the result; when every segment is too small the export is refused.  With
    ``raw_ids`` (the owner's file of raw ids, see :func:`raw_id_map`) the file holds the raw
    ids instead of the stored pseudonyms; users the file does not list are left out and
    counted.
    """
    seg, _ = load_segments(ws, version)
    min_size = ws.min_segment_size
    sizes = seg.value_counts()
    small = sorted(int(s) for s, n in sizes.items() if n < min_size)
    keep = seg[~seg.isin(small)]
    if keep.empty:
        raise InputError(
            f"refusing to export: every segment has fewer than {min_size} users (the workspace's"
            " min_segment_size); segment into fewer groups or ingest more users."
        )
    ids, unmatched = np.asarray(keep.index, dtype=object), 0
    if raw_ids is not None:
        mapping = raw_id_map(ws, raw_ids)
        raw = pd.Series(np.asarray(keep.index, dtype=str)).map(mapping)
        unmatched = int(raw.isna().sum())
        keep = keep[raw.notna().to_numpy()]
        ids = raw.dropna().to_numpy(dtype=object)
    write_csv(pd.DataFrame({"user_id": ids, "segment": keep.to_numpy()}), out)
    return {
        "file": str(out),
        "rows": len(keep),
        "raw_ids": raw_ids is not None,
        "not_in_raw_ids": unmatched,
        "segments": sorted(int(s) for s in keep.unique()),
        "withheld_segments": small,
        "min_size": min_size,
    }


def raw_id_map(ws: Any, path: str | Path, column: str = "user_id") -> dict[str, str]:
    """Stored (pseudonymised) id -> the owner's raw id, from the owner's own file of ids.

    The workspace keeps no raw ids; to send a list back to an ad platform the owner gives a
    file that holds them (one id per line, or a CSV / Parquet with a ``column`` column, e.g.
    the events file that was ingested), and each is pseudonymised with the workspace's key
    and matched.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file of raw ids (--raw-ids).")
    with open(p, errors="replace") as fh:
        head = fh.readline()
    if p.suffix.lower() in (".parquet", ".pq", ".jsonl") or "," in head or ";" in head:
        df = _read(p)
        if column not in df.columns:
            raise ContractError(str(p), column, "not in the file (--raw-ids)",
                                f"give a file with a {column!r} column, or one id per line")
        raw = pd.unique(df[column].dropna().astype(str))
    else:
        raw = pd.unique(pd.Series(_seed_ids(p)))
    return dict(zip(ws.pseudonyms(raw), raw, strict=True))


def to_raw_ids(stored: np.ndarray, mapping: dict[str, str]) -> tuple[np.ndarray, int]:
    """The raw ids of ``stored`` (those ``mapping`` knows) and how many it did not know."""
    raw = pd.Series(np.asarray(stored, dtype=str)).map(mapping)
    return raw.dropna().to_numpy(dtype=object), int(raw.isna().sum())


# ---------------------------------------------------------------------------- lookalike
def _seed_ids(path: str | Path) -> list[str]:
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such seed file.")
    lines = [x.strip() for x in p.read_text().splitlines() if x.strip()]
    if lines and lines[0].lower() in ("user_id", "id", "customer_id"):
        lines = lines[1:]
    if not lines:
        raise InputError(f"{p}: the seed file lists no ids (one id per line).")
    return lines


#: a feature that alone tells the seed apart this well (ROC AUC, either direction) is taken
#: to define the seed (e.g. ``clicks`` for a seed of clickers) and is left out
LEAK_AUC = 0.99


def _seed_defining(X: np.ndarray, is_seed: np.ndarray, names: list[str]) -> list[str]:
    """Features that alone separate the seed from the rest (AUC >= ``LEAK_AUC`` either way)."""
    from adwise.metrics import roc_auc

    out = []
    for j, name in enumerate(names):
        v = X[:, j]
        if np.nanstd(v) == 0:
            continue
        auc = roc_auc(is_seed, np.nan_to_num(v, nan=float(np.nanmedian(v))))
        if max(auc, 1 - auc) >= LEAK_AUC:
            out.append(name)
    return out


def _lookalike(
    X: np.ndarray,
    ids: np.ndarray,
    is_seed: np.ndarray,
    top_n: int | None,
    top_percent: float | None,
    min_size: int,
    random_state: int,
    names: list[str] | None = None,
) -> tuple[dict[str, Any], np.ndarray]:
    if top_n is None and top_percent is None:
        top_percent = 10.0
    frac = None if top_percent is None else top_percent / 100.0
    names = names or [f"feature {j}" for j in range(X.shape[1])]
    warnings = []
    leaked = _seed_defining(X, is_seed, names)
    if leaked and len(leaked) < X.shape[1]:
        keep = [j for j, n in enumerate(names) if n not in leaked]
        X = X[:, keep]
        warnings.append(
            f"left out {', '.join(leaked[:5])}: alone it tells the seed apart (AUC >= "
            f"{LEAK_AUC}), so the seed is defined by it; a lookalike on it would only find "
            "the seed again.")
    model = LookalikeModel(random_state=random_state, lift_fraction=frac or 0.1).fit(X, is_seed)
    chosen = model.expand(X, is_seed, top_n=top_n, top_fraction=frac)
    if model.auc_ >= LEAK_AUC:
        warnings.append(
            f"held-out AUC {model.auc_:.3f} is too good to be true: the features likely encode "
            "how the seed was chosen (a leak); --exclude the column(s) the seed is defined by.")
    for w in warnings:
        log.warning(w)
    res = {
        "seed_size": int(is_seed.sum()),
        "population": len(ids),
        "audience_size": len(chosen),
        "auc": float(model.auc_),
        "expected_lift": float(model.lift_),
        "lift_fraction": model.lift_fraction,
        "boosting_rounds": model.best_iteration_,
        "excluded_features": leaked if leaked and len(leaked) < len(names) else [],
        "warnings": warnings,
    }
    if len(chosen) < min_size:
        raise InputError(
            f"refusing to export an audience of {len(chosen)} users: smaller than the minimum "
            f"group size {min_size} (k-anonymity). Ask for a larger --top/--top-percent."
        )
    return res, ids[chosen]


def lookalike_file(
    path: str | Path,
    id_col: str,
    seed_col: str | None = None,
    seed_file: str | None = None,
    exclude_cols: list[str] | None = None,
    top_n: int | None = None,
    top_percent: float | None = None,
    min_size: int = 50,
    random_state: int = 0,
) -> tuple[dict[str, Any], np.ndarray]:
    """Lookalike on a plain file: every other column is a feature."""
    df = _read(path)
    _col(df, id_col, "--id-col", str(path))
    ids = df[id_col].astype(str).to_numpy()
    if (seed_col is None) == (seed_file is None):
        raise InputError("give exactly one of --seed-col (a 0/1 or yes/no column) or --seed-file.")
    drop = [id_col, *(exclude_cols or [])]
    for c in exclude_cols or []:
        _col(df, c, "--exclude", str(path))
    if seed_col is not None:
        _col(df, seed_col, "--seed-col", str(path))
        s = df[seed_col]
        if not pd.api.types.is_numeric_dtype(s):
            s = (
                s.astype(str)
                .str.lower()
                .map({"yes": 1, "no": 0, "true": 1, "false": 0, "1": 1, "0": 0})
            )
        is_seed = check_binary(s.to_numpy(dtype=float), seed_col, str(path))
        drop.append(seed_col)
    else:
        seeds = set(_seed_ids(seed_file))
        is_seed = np.isin(ids, list(seeds)).astype(int)
        _check_seed_known(seeds, set(ids), str(seed_file))
    enc = TabularEncoder()
    X = enc.fit_transform(df.drop(columns=drop))
    return _lookalike(X, ids, is_seed, top_n, top_percent, min_size, random_state,
                      enc.feature_names_)


def _check_seed_known(
    seeds: set[str], known: set[str], source: str, given: dict[str, str] | None = None
) -> None:
    """``given`` maps a stored seed id to the id as the file gave it: messages show only the
    latter (a pseudonym beside its raw id helps whoever tries to guess the key)."""
    unknown = sorted(seeds - known)
    example = (given or {}).get(unknown[0], unknown[0]) if unknown else None
    if len(unknown) == len(seeds):
        raise InputError(
            f"{source}: none of the {len(seeds)} seed ids is a known user (e.g. {example!r}). "
            "Give raw user ids as in your ingested files (adwise pseudonymises them itself)."
        )
    if unknown:
        log.warning(
            "%d of %d seed ids are unknown and ignored (e.g. %r)",
            len(unknown),
            len(seeds),
            example,
        )


def lookalike_workspace(
    ws: Any,
    seed_file: str | None = None,
    campaign: str | None = None,
    top_n: int | None = None,
    top_percent: float | None = None,
    random_state: int = 0,
) -> tuple[dict[str, Any], np.ndarray]:
    """Lookalike on a workspace; seed = raw ids from a file, or a campaign's converters."""
    feats, beh, _ = workspace_user_features(ws)
    ids = np.asarray(feats.index, dtype=str)
    if (seed_file is None) == (campaign is None):
        raise InputError("give exactly one of --seed-file or --campaign.")
    if seed_file is not None:
        raw = _seed_ids(seed_file)
        stored = ws.pseudonyms(raw)
        seeds = set(stored)
        _check_seed_known(seeds, set(ids), str(seed_file),
                          given=dict(zip(stored, map(str, raw), strict=True)))
    else:
        got = ws.query(
            "SELECT DISTINCT e.user_id FROM events e JOIN ads a ON e.ad_id = a.ad_id "
            "WHERE a.campaign_id = ? AND e.converted = 1",
            [campaign],
        )
        seeds = set(got["user_id"].astype(str))
        if not seeds:
            raise InputError(f"campaign {campaign!r} has no converters to use as a seed.")
    is_seed = np.isin(ids, list(seeds)).astype(int)
    F = pd.concat([feats, np.log1p(beh)], axis=1)
    return _lookalike(F.to_numpy(dtype=float), ids, is_seed, top_n, top_percent,
                      ws.min_segment_size, random_state, [str(c) for c in F.columns])


# ---------------------------------------------------------------------------- uplift
def uplift_files(
    train: str | Path,
    test: str | Path,
    treatment_col: str,
    outcome_col: str,
    learner: str = "auto",
    exclude_cols: list[str] | None = None,
    treatment_value: str | None = None,
    control_value: str | None = None,
    targets: float | None = None,
    random_state: int = 0,
    tune: Budget | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Fit an uplift model on ``train``, report Qini / AUUC / uplift@30 % on ``test``.

    The treatment column must hold 0/1 unless ``treatment_value`` (and optionally
    ``control_value``) name its levels; rows of other levels are dropped then (e.g. Hillstrom's
    third arm).  ``targets`` is how many people to target (the highest predicted uplifts).
    With ``tune`` the base models' settings are first searched within that budget by
    cross-validated Qini on ``train`` only (:func:`adwise.audience._tune.tune_uplift`); the
    result then carries ``tuning``.
    """
    from adwise.metrics import qini_auc_score, uplift_at_k, uplift_auc_score

    if treatment_col == outcome_col:
        raise InputError(
            f"--treatment-col and --outcome-col both name {outcome_col!r}; the outcome (did the "
            "user respond) and the treatment (was the user shown the ad) must be two columns."
        )
    t0 = time.perf_counter()
    frames = {}
    for name, p in (("train", train), ("test", test)):
        df = _read(p)
        if len(df) == 0:
            raise InputError(f"{p} (--{name}): the file has no rows.")
        for c, flag in ((treatment_col, "--treatment-col"), (outcome_col, "--outcome-col")):
            _col(df, c, flag, str(p))
        if treatment_value is not None:
            tv = df[treatment_col].astype(str)
            keep = tv == treatment_value
            keep |= (tv == control_value) if control_value is not None else ~keep
            df = df.loc[keep].reset_index(drop=True)
            df[treatment_col] = (df[treatment_col].astype(str) == treatment_value).astype(int)
        t = check_binary(df[treatment_col].to_numpy(), treatment_col, str(p))
        y = check_binary(df[outcome_col].to_numpy(), outcome_col, str(p))
        drop = [treatment_col, outcome_col, *(exclude_cols or [])]
        for c in exclude_cols or []:
            _col(df, c, "--exclude", str(p))
        _refuse_infinite(df.drop(columns=drop).select_dtypes("number"), str(p))
        frames[name] = (df.drop(columns=drop), y, t)
    Xtr_df, ytr, ttr = frames["train"]
    Xte_df, yte, tte = frames["test"]
    enc = TabularEncoder(standardize=True).fit(Xtr_df)
    model, tuning = _fit_uplift(enc.transform(Xtr_df), ytr, ttr, learner, random_state, tune,
                                progress)
    fit_s = time.perf_counter() - t0
    u = model.predict(enc.transform(Xte_df))
    res: dict[str, Any] = {
        "qini": qini_auc_score(yte, u, tte),
        "auuc": uplift_auc_score(yte, u, tte),
        "uplift_at_30": uplift_at_k(yte, u, tte, k=0.3, strategy="overall"),
        **_selection(model),
        "rows_train": len(ytr),
        "rows_test": len(yte),
        "fit_seconds": round(fit_s, 3),
    }
    if tuning is not None:
        res["tuning"] = tuning
    if targets is not None:
        chosen = select_targets(u, targets)
        res["targets"] = len(chosen)
        res["mean_predicted_uplift_of_targets"] = float(u[chosen].mean()) if len(chosen) else 0.0
    return res


def _fit_uplift(X: np.ndarray, y: np.ndarray, t: np.ndarray, learner: str, random_state: int,
                tune: Budget | None, progress: Callable[[int, int], None] | None,
                ) -> tuple[UpliftClassifier, dict[str, Any] | None]:
    if tune is None:
        return UpliftClassifier(learner=learner, random_state=random_state).fit(X, y, t), None
    from adwise.audience._tune import tune_uplift

    model, result = tune_uplift(X, y, t, tune, learner=learner, seed=random_state,
                                progress=progress)
    return model, result.to_dict()


def _selection(model: UpliftClassifier) -> dict[str, Any]:
    """The chosen learner and how every candidate cross-validated (mean, spread, folds)."""
    out: dict[str, Any] = {"learner": model.learner_, "members": list(model.members_),
                           "cv_qini": model.cv_qini_, "cv_qini_sd": model.cv_qini_sd_,
                           "cv_qini_folds": model.cv_qini_folds_}
    if model.cv_qini_:
        out["cv_score"], out["cv_score_sd"] = model.cv_score_, model.cv_score_sd_
    return out


def uplift_workspace(ws: Any, learner: str = "auto", random_state: int = 0,
                     tune: Budget | None = None,
                     progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Uplift of showing ads on the workspace's users: per user, treatment = any treated
    event, outcome = any conversion (clicks when no conversions are logged); features = the
    users' interests and context.  Users are split at random (70/30) to report Qini, AUUC
    and uplift@30 %.  ``tune`` searches the base models first, as in :func:`uplift_files`,
    on the training users only.

    Raises
    ------
    InputError
        The events have no ``treatment`` values (it cannot be inferred from a log: it must
        record who was held out at random).
    """
    from adwise._split import present
    from adwise.metrics import qini_auc_score, uplift_at_k, uplift_auc_score

    ev = ws.table("events", ["user_id", "clicked", "converted", "treatment"])
    if not present(ev, "treatment"):
        raise InputError(
            "uplift needs a randomised 'treatment' column (0/1: was the user shown the ads or "
            "held out at random); the workspace's events have none. Ingest events with one "
            "(`--map YOURCOL=treatment`), or give --train/--test files with --treatment-col.")
    outcome = "converted" if present(ev, "converted") else "clicked"
    per = ev.assign(t=ev["treatment"].fillna(0), y=ev[outcome].fillna(0)).groupby(
        ev["user_id"].astype(str))[["t", "y"]].max()
    feats, _, _ = workspace_user_features(ws)
    per = per.reindex(feats.index).fillna(0.0)
    rng = np.random.default_rng(random_state)
    test = rng.random(len(per)) < 0.3
    X = feats.to_numpy(dtype=float)
    y, t = per["y"].to_numpy(dtype=int), per["t"].to_numpy(dtype=int)
    for part, m in (("training", ~test), ("test", test)):
        for arm in (0, 1):
            if not (t[m] == arm).any():
                raise InputError(f"uplift: the {part} users hold no "
                                 f"{'treated' if arm else 'control'} user; ingest events of "
                                 "both arms.")
    model, tuning = _fit_uplift(X[~test], y[~test], t[~test], learner, random_state, tune,
                                progress)
    u = model.predict(X[test])
    res = {
        "qini": qini_auc_score(y[test], u, t[test]),
        "auuc": uplift_auc_score(y[test], u, t[test]),
        "uplift_at_30": uplift_at_k(y[test], u, t[test], k=0.3, strategy="overall"),
        **_selection(model),
        "outcome": outcome,
        "users_train": int((~test).sum()),
        "users_test": int(test.sum()),
        "split": f"random by user, seed {random_state}",
    }
    if tuning is not None:
        res["tuning"] = tuning
    return res
