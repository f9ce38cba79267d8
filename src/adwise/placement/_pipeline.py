"""Placement pipelines: read events, fit effects / allocation, run OPE and bandit simulations.

All I/O of the capability lives here; the estimators stay in memory.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adwise._exceptions import ContractError, InputError
from adwise.placement._allocation import DaypartAllocator
from adwise.placement._bandits import (
    EpsilonGreedy,
    LinearThompsonSampling,
    LinUCB,
    ThompsonSampling,
    UniformPolicy,
    _Policy,
    policy_from_state,
)
from adwise.placement._effects import PlacementEffects
from adwise.placement._ope import ESTIMATORS, OffPolicyEvaluator

__all__ = [
    "BANDIT_CAPABILITY",
    "CAPABILITY_NAME",
    "ContextEncoder",
    "PlacementModel",
    "allocate",
    "events_query",
    "load_events",
    "load_model",
    "load_policy",
    "make_policy",
    "no_placement",
    "recommend",
    "run_ope",
    "save_model",
    "save_policy",
    "simulate",
    "train",
]

log = logging.getLogger(__name__)

CAPABILITY_NAME = "placement"
BANDIT_CAPABILITY = "placement_bandit"
_USER_COLS = ("age_band", "gender", "region")
_AD_COLS = ("campaign_id", "advertiser", "category")


# ---------------------------------------------------------------------------- events
def load_events(ws: Any, extra_cols: Sequence[str] = ()) -> pd.DataFrame:
    """Events with ``hour``, ``weekday`` and ``day`` derived from ``ts``, plus ``extra_cols``
    looked up in events, then ads, then users.  Events without a placement are left out; their
    count is in ``attrs["skipped_without_placement"]``."""
    from adwise.data import parse_timestamps

    df = ws.query(events_query(ws, extra_cols))
    if df.empty:
        raise InputError("the workspace has no events; ingest some with `adwise ingest`.")
    # Events ingested from a file without the column have no slot: skip them (counted), rather
    # than pool them into a made-up slot "None".
    slotless = df["placement"].isna() | (df["placement"].astype(str).str.strip() == "")
    n_slotless = int(slotless.sum())
    if n_slotless == len(df):
        raise InputError(no_placement(len(df)))
    if n_slotless:
        df = df.loc[~slotless].reset_index(drop=True)
        log.warning("placement: skipped %d of %d events without a 'placement'.", n_slotless,
                    n_slotless + len(df))
    ts = df["ts"] if pd.api.types.is_datetime64_any_dtype(df["ts"]) else parse_timestamps(df["ts"])
    df["hour"] = ts.dt.hour.astype(int)
    df["weekday"] = ts.dt.day_of_week.astype(int)
    df["day"] = ts.dt.strftime("%Y-%m-%d")
    df["placement"] = df["placement"].astype(str)
    for c in extra_cols:
        df[c] = df[c].astype(str).where(df[c].notna(), "unknown")
    df.attrs["skipped_without_placement"] = n_slotless
    return df


def events_query(ws: Any, extra_cols: Sequence[str] = ()) -> str:
    """The SQL of the events :func:`load_events` reads (``extra_cols`` joined from the ads or
    users table where the events lack them); both engines read this."""
    ev_cols = set(ws.columns("events"))
    if "placement" not in ev_cols:
        raise InputError("the events table has no 'placement' column; placement needs the slot "
                         "of every impression (map yours with `adwise ingest --map "
                         "COL=placement`).")
    ad_cols = set(ws.columns("ads"))
    user_cols = set(ws.columns("users"))
    sel = ["e.ts", "e.placement", "e.clicked"]
    for c in ("converted", "cost", "ad_id", "user_id"):
        if c in ev_cols:
            sel.append(f"e.{c}")
    joins = set()
    for c in extra_cols:
        if c in ev_cols:
            if f"e.{c}" not in sel:
                sel.append(f'e."{c}"')
        elif c in ad_cols:
            sel.append(f'a."{c}"')
            joins.add("a")
        elif c in user_cols:
            sel.append(f'u."{c}"')
            joins.add("u")
        else:
            raise InputError(f"column '{c}' is in none of the events, ads or users tables.")
    sql = f"SELECT {', '.join(sel)} FROM events e"
    if "a" in joins:
        sql += " LEFT JOIN ads a ON a.ad_id = e.ad_id"
    if "u" in joins:
        sql += " LEFT JOIN users u ON u.user_id = e.user_id"
    return sql


def no_placement(n: int) -> str:
    """The error when none of ``n`` events has a slot."""
    return (f"none of the {n:,} events has a 'placement'; placement needs the slot of every "
            "impression (map yours with `adwise ingest --map COL=placement`).")


# ---------------------------------------------------------------------------- model
@dataclass
class PlacementModel:
    """A loaded placement model: the effects and the allocators (by objective)."""

    effects: PlacementEffects
    allocators: dict[str, DaypartAllocator]
    metadata: dict[str, Any]


def _allocator_to_dict(al: DaypartAllocator) -> dict[str, Any]:
    cur = al.curves_
    return {"params": al.get_params(deep=False) | {"cell_cols": list(al.cell_cols)},
            "elasticity": al.elasticity_, "n_days": al.n_days_, "budget": al.daily_budget_,
            "curves": {c: [v.item() if isinstance(v, np.generic) else v for v in cur[c].tolist()]
                       for c in cur.columns}}


def _allocator_from_dict(d: dict[str, Any]) -> DaypartAllocator:
    al = DaypartAllocator(**d["params"])
    al.elasticity_ = float(d["elasticity"])
    al.n_days_ = int(d["n_days"])
    al.daily_budget_ = float(d["budget"])
    al.curves_ = pd.DataFrame(d["curves"])
    return al


def fit_model(df: pd.DataFrame, group_col: str | None = "campaign_id",
              progress: Callable[[int, int], None] | None = None) -> PlacementModel:
    """Fit the effects (placement x hour x weekday, overall and per group) and the allocators."""
    eff = PlacementEffects(group_col=group_col if group_col in df.columns else None).fit(df)
    if progress:
        progress(1, 3)
    allocs = {}
    if "cost" in df.columns and float(df["cost"].fillna(0).sum()) > 0:
        allocs["clicks"] = DaypartAllocator(objective="clicks").fit(df)
        if "converted" in df.columns and df["converted"].fillna(0).sum() > 0:
            allocs["conversions"] = DaypartAllocator(objective="conversions").fit(df)
    if progress:
        progress(2, 3)
    return PlacementModel(eff, allocs, {})


def train(ws: Any, group_col: str | None = "campaign_id",
          progress: Callable[[int, int], None] | None = None) -> tuple[PlacementModel, Any]:
    """Fit on the workspace's events and save to the registry; return (model, ModelVersion)."""
    t0 = time.perf_counter()
    extra = [group_col] if group_col else []
    df = load_events(ws, extra)
    model = fit_model(df, group_col, progress)
    mv = save_model(ws, model, group_col, len(df),
                    int(df.attrs.get("skipped_without_placement", 0)), t0)
    if progress:
        progress(3, 3)
    return model, mv


def save_model(ws: Any, model: PlacementModel, group_col: str | None, rows: int,
               skipped: int, t0: float, extra_metrics: Mapping[str, Any] | None = None,
               extra_params: Mapping[str, Any] | None = None) -> Any:
    """Save a fitted model with its summary metrics (the best cell, the allocators' gains)
    as a registry version of ``ws``; the ModelVersion.  Both engines save through here."""
    eff = model.effects
    best = eff.recommend(by=("placement", "hour"), top=1)
    metrics = {
        "rows": rows,
        "skipped_without_placement": skipped,
        "ctr": float(eff.global_rate_["ctr"]),
        "best_cell": f"{best.iloc[0]['placement']} @ {int(best.iloc[0]['hour']):02d}h",
        "best_cell_ctr": float(best.iloc[0]["expected_ctr"]),
        "best_cell_lift": float(best.iloc[0]["lift"]),
        "best_cell_ctr_low": float(best.iloc[0]["ctr_low"]),
        "best_cell_ctr_high": float(best.iloc[0]["ctr_high"]),
        "best_cell_impressions": int(best.iloc[0]["impressions"]),
        "best_cell_clicks": int(best.iloc[0]["clicks"]),
        "fit_seconds": time.perf_counter() - t0,
    }
    for obj, al in model.allocators.items():
        _, summ = al.allocate()
        metrics[f"allocation_{obj}_ratio"] = float(summ["ratio"])
    metrics.update(extra_metrics or {})

    def write(w: Any) -> None:
        w.write_json("effects.json", eff.to_dict())
        w.write_json("allocators.json",
                     {k: _allocator_to_dict(v) for k, v in model.allocators.items()})

    mv = ws.registry.save(
        CAPABILITY_NAME, write, params={"group_col": group_col, **(extra_params or {})},
        metrics=metrics, data_fingerprint=ws.fingerprint("events"),
        feature_schema={"levels": list(eff.levels), "group_col": eff.group_col},
    )
    model.metadata = mv.metadata
    return mv


def load_model(ws: Any, version: str | None = None) -> PlacementModel:
    """The promoted (or given) placement model from the registry."""
    art = ws.registry.load(CAPABILITY_NAME, version)
    eff = PlacementEffects.from_dict(art.read_json("effects.json"))
    allocs = {k: _allocator_from_dict(v) for k, v in art.read_json("allocators.json").items()}
    return PlacementModel(eff, allocs, art.metadata)


def _model_or_fit(ws: Any, group_col: str | None) -> PlacementModel:
    try:
        m = load_model(ws)
        if group_col is None or m.effects.group_col == group_col:
            return m
    except InputError:
        pass
    df = load_events(ws, [group_col] if group_col else [])
    return fit_model(df, group_col)


def recommend(ws: Any, campaign: str | None = None, segment: str | None = None,
              by: Sequence[str] = ("placement", "hour"), top: int = 10, rate: str = "ctr",
              model: PlacementModel | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Ranked (placement, daypart) cells for the whole account, a campaign or a segment.

    ``segment`` is ``COLUMN=VALUE`` (a column of events, ads or users, e.g. ``age_band=25-34``).
    Uses the saved model when its group column matches, else fits one on the fly.
    """
    if campaign is not None and segment is not None:
        raise InputError("give either --campaign or --segment, not both.")
    group_col, group = None, None
    if campaign is not None:
        group_col, group = "campaign_id", str(campaign)
    elif segment is not None:
        col, sep, val = str(segment).partition("=")
        if not sep or not col or not val:
            raise InputError(f"--segment expects COLUMN=VALUE (e.g. age_band=25-34); got "
                             f"{segment!r}.")
        group_col, group = col.strip(), val.strip()
    m = model if model is not None and (group_col is None
                                        or model.effects.group_col == group_col) \
        else _model_or_fit(ws, group_col)
    table = m.effects.recommend(group=group, by=by, top=top, rate=rate)
    info = {"current_" + rate: float(table.attrs.get("current_rate", np.nan)),
            "group_col": group_col, "group": group}
    return table, info


def allocate(ws: Any, budget: float | None = None, objective: str = "clicks",
             min_spend: float | Mapping[Any, float] | None = None,
             max_spend: float | Mapping[Any, float] | None = None,
             max_multiplier: float | None = None,
             model: PlacementModel | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Allocate a daily budget across (placement, hour) cells; compare with the current mix."""
    if objective not in ("clicks", "conversions"):
        raise InputError(f"--objective must be clicks or conversions; got {objective!r}.")
    m = model
    if m is None:
        try:
            m = load_model(ws)
        except InputError:
            m = fit_model(load_events(ws), None)
    al = m.allocators.get(objective)
    if al is None:
        raise InputError(
            f"no allocation model for {objective}: the events need a 'cost' column with spend"
            + (" and a 'converted' column" if objective == "conversions" else "")
            + " (a budget is split along how results grew with spend); ingest events with "
            "their cost, e.g. `adwise ingest FILE --table events --map SPEND=cost`."
        )
    if max_multiplier is not None:
        al = _allocator_from_dict(_allocator_to_dict(al))
        al.max_multiplier = float(max_multiplier)
    return al.allocate(budget, min_spend=min_spend, max_spend=max_spend)


# ---------------------------------------------------------------------------- contexts
class ContextEncoder:
    """Context columns -> a numeric vector (intercept, standardised numbers, one-hot labels).

    JSON-serialisable through :meth:`to_dict` / :meth:`from_dict`, so a saved policy knows how
    to read contexts.
    """

    def __init__(self, spec: list[dict[str, Any]] | None = None) -> None:
        self.spec = spec or []

    @classmethod
    def fit(cls, df: pd.DataFrame, columns: Sequence[str], max_levels: int = 30
            ) -> ContextEncoder:
        spec = []
        for c in columns:
            s = df[c]
            if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
                v = s.to_numpy(dtype=float)
                sd = float(np.nanstd(v)) or 1.0
                spec.append({"col": c, "kind": "num", "mean": float(np.nanmean(v)), "sd": sd})
            else:
                levels = s.astype(str).value_counts().index[:max_levels].tolist()
                spec.append({"col": c, "kind": "cat", "levels": levels})
        return cls(spec)

    @property
    def n_features(self) -> int:
        return 1 + sum(1 if s["kind"] == "num" else len(s["levels"]) for s in self.spec)

    @property
    def columns(self) -> list[str]:
        return [s["col"] for s in self.spec]

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        missing = [c for c in self.columns if c not in df.columns]
        if missing:
            raise InputError(f"context column '{missing[0]}' is missing; the policy needs "
                             f"{', '.join(self.columns)}.")
        parts = [np.ones((len(df), 1))]
        for s in self.spec:
            if s["kind"] == "num":
                v = pd.to_numeric(df[s["col"]], errors="coerce").to_numpy(dtype=float)
                parts.append(np.nan_to_num((v - s["mean"]) / s["sd"])[:, None])
            else:
                v = df[s["col"]].astype(str).to_numpy()
                parts.append((v[:, None] == np.asarray(s["levels"], dtype=object)[None, :])
                             .astype(float))
        return np.hstack(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ContextEncoder:
        return cls(d.get("spec", []))


# ---------------------------------------------------------------------------- policies
def make_policy(kind: str, arms: Sequence[str], n_features: int = 1, random_state: int = 0,
                **params: Any) -> _Policy:
    """A fitted (initialised) policy by name: thompson, linear_thompson, linucb, epsilon_greedy,
    uniform."""
    if kind == "thompson":
        return ThompsonSampling(arms=list(arms), random_state=random_state, **params).fit()
    if kind == "linear_thompson":
        return LinearThompsonSampling(arms=list(arms), n_features=n_features,
                                      random_state=random_state, **params).fit()
    if kind == "linucb":
        return LinUCB(arms=list(arms), n_features=n_features, random_state=random_state,
                      **params).fit()
    if kind == "epsilon_greedy":
        return EpsilonGreedy(arms=list(arms), random_state=random_state, **params).fit()
    if kind == "uniform":
        return UniformPolicy(arms=list(arms), random_state=random_state).fit()
    raise InputError(f"unknown policy {kind!r}; use thompson, linear_thompson, linucb, "
                     "epsilon_greedy or uniform.")


def save_policy(ws: Any, policy: _Policy, encoder: ContextEncoder | None = None,
                name: str = BANDIT_CAPABILITY) -> Any:
    """Save a policy's state (JSON + npz) to the registry and promote it."""
    meta, arrays = policy.get_state()
    meta["context"] = (encoder or ContextEncoder()).to_dict()

    def write(w: Any) -> None:
        w.write_json("policy.json", meta)
        w.write_npz("policy.npz", **arrays)

    return ws.registry.save(name, write, params=meta["params"] | {"kind": meta["kind"]},
                            metrics={"n_updates": meta["n_updates"],
                                     "arms": len(policy.active_arms)})


def _read_policy(art: Any) -> tuple[_Policy, ContextEncoder]:
    meta = art.read_json("policy.json")
    pol = policy_from_state(meta, art.read_npz("policy.npz"))
    return pol, ContextEncoder.from_dict(meta.get("context", {}))


def load_policy(source: Any, version: str | None = None,
                name: str = BANDIT_CAPABILITY) -> tuple[_Policy, ContextEncoder]:
    """A saved policy from a workspace's registry, or from an artifact folder (``MODEL_PATH``)."""
    import json

    from adwise.registry import ArtifactReader

    if isinstance(source, (str, Path)):
        p = Path(source)
        meta_file = p / "metadata.json"
        if not meta_file.is_file():
            raise InputError(
                f"{p}: not a saved policy (no metadata.json); give 'uniform', 'greedy' or a "
                f"folder under models/{BANDIT_CAPABILITY}/ such as models/{BANDIT_CAPABILITY}/"
                "v0001."
            )
        meta = json.loads(meta_file.read_text())
        if "policy.json" not in meta.get("files", {}):
            raise InputError(f"{p}: this artifact holds no policy (policy.json is missing).")
        return _read_policy(ArtifactReader(p, meta))
    return _read_policy(source.registry.load(name, version))


# ---------------------------------------------------------------------------- OPE
def _logs_error(file: str, col: str, problem: str, fix: str, mask: np.ndarray,
                values: pd.Series) -> ContractError:
    idx = np.flatnonzero(mask)
    rows = [(int(i), values.iloc[i]) for i in idx[:5]]
    return ContractError(file, col, problem, fix, rows=rows, n_bad=len(idx))


def run_ope(
    logs: str | Path | pd.DataFrame,
    action_col: str,
    reward_col: str,
    propensity_col: str | None = None,
    slot_col: str | None = None,
    context_cols: Sequence[str] = (),
    policy: str | Any = "uniform",
    slot_mode: str = "position",
    n_bootstrap: int = 200,
    n_folds: int = 3,
    n_estimators: int = 100,
    random_state: int = 0,
    num_threads: int = 1,
) -> dict[str, Any]:
    """Off-policy evaluation of ``policy`` on a logs file.

    Parameters
    ----------
    logs : path or DataFrame
    action_col, reward_col, propensity_col, slot_col, context_cols : column names
        ``propensity_col`` may be None (propensities are then estimated, with a warning).
    policy : "uniform", "greedy", a path to a saved policy folder, or a policy object
    slot_mode : {"position", "action"}
        With ``slot_col``: the slot is a position (context) or part of the action
        (``item|slot``).

    Returns
    -------
    dict
        ``ips``, ``snips``, ``dm``, ``dr`` with ``<name>_ci_low`` / ``<name>_ci_high``, overlap
        diagnostics, ``trustworthy``, ``reasons``, ``warnings``, ``policy``, ``n_actions``.
    """
    from adwise.data import read_table

    if slot_mode not in ("position", "action"):
        raise InputError(f"--slot-mode must be position or action; got {slot_mode!r}.")
    name = "logs" if isinstance(logs, pd.DataFrame) else str(logs)
    df = logs if isinstance(logs, pd.DataFrame) else read_table(logs)
    needed = [action_col, reward_col, *(c for c in (propensity_col, slot_col) if c),
              *context_cols]
    for c in needed:
        if c not in df.columns:
            raise ContractError(name, c, "is not in the file",
                                f"name an existing column; the file's columns are: "
                                f"{', '.join(map(str, df.columns[:30]))}")
    if len(df) == 0:
        raise ContractError(name, None, "has no rows", "give a logs file with logged rounds")
    r = pd.to_numeric(df[reward_col], errors="coerce")
    bad = r.isna().to_numpy()
    if bad.any():
        raise _logs_error(name, reward_col, "must be a number on every row",
                          "fill or drop rows without a reward", bad, df[reward_col])
    pscore = None
    if propensity_col:
        p = pd.to_numeric(df[propensity_col], errors="coerce")
        pv = p.to_numpy(dtype=float)
        bad = ~np.isfinite(pv) | (pv <= 0) | (pv > 1)
        if bad.any():
            raise _logs_error(
                name, propensity_col, "propensities must be in (0, 1]",
                "a propensity is the probability the logging policy chose the logged action; "
                "0 means it could not have been chosen and values above 1 are not "
                "probabilities. Fix the logging, or drop --propensity-col to estimate them",
                bad, df[propensity_col])
        pscore = pv
    acts = df[action_col].astype(str)
    if slot_col and slot_mode == "action":
        acts = acts + "|" + df[slot_col].astype(str)
    labels = sorted(acts.unique().tolist())
    a = pd.Categorical(acts, categories=labels).codes.astype(int)
    pos, pos_labels = None, ["all"]
    if slot_col and slot_mode == "position":
        pos_labels = sorted(df[slot_col].astype(str).unique().tolist())
        pos = pd.Categorical(df[slot_col].astype(str), categories=pos_labels).codes.astype(int)
    _n, k, npos = len(df), len(labels), len(pos_labels)
    ctx = df[list(context_cols)].reset_index(drop=True) if context_cols else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ev = OffPolicyEvaluator(n_bootstrap=n_bootstrap, n_folds=n_folds,
                                n_estimators=n_estimators, random_state=random_state,
                                num_threads=num_threads)
        ev.fit(r.to_numpy(dtype=float), a, pscore, ctx, pos, n_actions=k, n_positions=npos)
    for w in caught:
        log.warning(str(w.message))
    pol_name, dist = _policy_dist(policy, ev, df, labels, npos, action_col)
    out = ev.evaluate(dist, ESTIMATORS)
    out.update(policy=pol_name, n_actions=k, n_positions=npos, logged_value=float(r.mean()))
    return out


def _policy_dist(policy: Any, ev: OffPolicyEvaluator, df: pd.DataFrame, labels: list[str],
                 npos: int, action_col: str) -> tuple[str, np.ndarray]:
    n, k = len(df), len(labels)
    if isinstance(policy, str) and policy == "uniform":
        return "uniform", ev.uniform()
    if isinstance(policy, str) and policy == "greedy":
        return "greedy on the reward model", ev.greedy()
    if isinstance(policy, tuple):
        pol, enc = policy
    elif isinstance(policy, _Policy):
        pol, enc = policy, ContextEncoder()
    else:
        pol, enc = load_policy(policy)
    x = enc.transform(df) if pol.contextual else None
    probs = pol.action_probabilities(x, n=n) if pol.contextual else \
        np.repeat(pol.action_probabilities(n=1), n, axis=0)
    index = {lab: j for j, lab in enumerate(labels)}
    dist = np.zeros((n, k))
    mass = probs.sum(axis=0) / n
    for j, arm in enumerate(pol.arms_):
        if arm not in index:
            if mass[j] > 0:
                raise InputError(
                    f"the policy puts probability {mass[j]:.3g} on action {arm!r}, which never "
                    f"appears in column '{action_col}' of the logs; the logs cannot evaluate it. "
                    "Retire that arm or evaluate on logs that contain it."
                )
            continue
        dist[:, index[arm]] = probs[:, j]
    return f"saved {pol.kind} policy", np.repeat(dist[:, :, None], npos, axis=2)


# ---------------------------------------------------------------------------- simulation
def simulate(
    world_dir: str | Path,
    rounds: int = 100_000,
    policies: Sequence[str] = ("thompson", "linucb", "epsilon_greedy", "uniform"),
    n_ads: int = 10,
    batch_size: int = 50,
    epsilon: float = 0.1,
    linucb_alpha: float = 0.1,
    prior: tuple[float, float] | None = None,
    seed: int = 0,
    checkpoints: int = 20,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Run bandits against the synthetic world's true click model; report cumulative regret.

    Arms are (ad, slot) pairs for ``n_ads`` random ads and every slot.  Each round draws a user
    (by activity), an hour and a weekday; the context is the user's observable attributes and the
    hour block.  ``regret`` is against the best fixed arm (sum of true CTR gaps),
    ``oracle_regret`` against the best arm for each round's context.

    Every policy meets the same rounds and the same random numbers for the clicks (round ``t``
    clicks when ``u_t < p_click``, one ``u_t`` per round shared by all policies): the
    comparison then reflects the policies, not which click draws each happened to get, and does
    not depend on the order of ``policies``.

    Thompson sampling's prior defaults to ``Beta(2 c, 2 (1 - c))`` with ``c`` the CTR of the
    world's logged events: the weakest prior (two pseudo-impressions) centred on what the
    advertiser already knows, instead of ``Beta(1, 1)``'s 50 % CTR.  Linear Thompson sampling
    takes ``sqrt(c (1 - c))``, the standard deviation of a click at that rate, as its noise scale.
    """
    from threadpoolctl import threadpool_limits

    from adwise.data import load_truth, read_table

    wd = Path(world_dir)
    truth = load_truth(wd)
    users_file = next((wd / f for f in ("users.parquet", "users.csv") if (wd / f).exists()), None)
    if users_file is None:
        raise InputError(f"{wd}: no users.parquet or users.csv; give an `adwise synth` folder.")
    users = read_table(users_file)
    if prior is None:
        ev_file = next((wd / f for f in ("events.parquet", "events.csv")
                        if (wd / f).exists()), None)
        c = float(read_table(ev_file, columns=None)["clicked"].mean()) if ev_file else 0.5
        c = min(max(c, 1e-4), 1 - 1e-4)
        prior = (2 * c, 2 * (1 - c))
    c = prior[0] / (prior[0] + prior[1])
    rng = np.random.default_rng(seed)
    ads = rng.choice(len(truth.ad_ids), size=min(n_ads, len(truth.ad_ids)), replace=False)
    slots = np.arange(len(truth.slots))
    arm_ad = np.repeat(ads, len(slots))
    arm_slot = np.tile(slots, len(ads))
    arms = [f"{truth.ad_ids[a]}|{truth.slots[s]}" for a, s in zip(arm_ad, arm_slot, strict=True)]
    act = np.asarray(truth.user_activity, dtype=float)
    u = rng.choice(len(truth.user_ids), size=rounds, p=act / act.sum())
    hour = rng.integers(0, 24, rounds)
    wday = rng.integers(0, 7, rounds)
    p = np.empty((rounds, len(arms)))
    for lo in range(0, rounds, 20000):
        sl = slice(lo, lo + 20000)
        p[sl] = truth.p_click(u[sl, None], arm_ad[None, :], arm_slot[None, :], hour[sl, None],
                              wday[sl, None])
    coin = rng.random(rounds)
    uidx = truth.user_index(users["user_id"].astype(str))
    attrs = users.iloc[np.argsort(uidx)].reset_index(drop=True)
    cols = [c for c in (*_USER_COLS, "device") if c in attrs.columns]
    ctx_df = attrs.iloc[u][cols].reset_index(drop=True)
    ctx_df["daypart"] = (hour // 6).astype(str)
    enc = ContextEncoder.fit(ctx_df, [*cols, "daypart"])
    x = enc.transform(ctx_df)
    mu = p.mean(axis=0)
    best_fixed = int(mu.argmax())
    results: dict[str, Any] = {}
    marks = np.unique(np.linspace(batch_size, rounds, checkpoints).astype(int))
    total = len(policies) * rounds
    done = 0
    # the policies' matrices are small: one BLAS thread is faster than several fighting
    with threadpool_limits(limits=1):
        for name in policies:
            params: dict[str, Any] = {}
            if name == "epsilon_greedy":
                params["epsilon"] = epsilon
            if name == "linucb":
                params["alpha"] = linucb_alpha
            if name == "thompson":
                params["prior_alpha"], params["prior_beta"] = prior
            if name == "linear_thompson":
                params["scale"] = float(np.sqrt(c * (1 - c)))
            pol = make_policy(name, arms, n_features=enc.n_features, random_state=seed, **params)
            chosen = np.empty(rounds, dtype=int)
            t0 = time.perf_counter()
            for lo in range(0, rounds, batch_size):
                hi = min(lo + batch_size, rounds)
                xb = x[lo:hi] if pol.contextual else None
                idx, _ = pol._choose(xb, hi - lo, propensity=False)
                rew = (coin[lo:hi] < p[np.arange(lo, hi), idx]).astype(float)
                pol._learn(idx, rew, xb)
                pol.n_updates_ += hi - lo
                chosen[lo:hi] = idx
                done += hi - lo
                if progress:
                    progress(done, total)
            got = p[np.arange(rounds), chosen]
            reg = np.cumsum(p[:, best_fixed] - got)
            oreg = np.cumsum(p.max(axis=1) - got)
            results[name] = {
                "regret": float(reg[-1]), "oracle_regret": float(oreg[-1]),
                "mean_reward": float(got.mean()), "seconds": time.perf_counter() - t0,
                "curve": [float(reg[m - 1]) for m in marks],
                "oracle_curve": [float(oreg[m - 1]) for m in marks],
            }
    return {"rounds": rounds, "arms": len(arms), "thompson_prior": list(prior),
            "best_fixed_arm": arms[best_fixed],
            "best_fixed_ctr": float(mu[best_fixed]), "oracle_ctr": float(p.max(axis=1).mean()),
            "checkpoints": marks.tolist(), "policies": results}
