"""``adwise placement train|recommend|allocate|ope|simulate`` (thin face)."""

from __future__ import annotations

from pathlib import Path

import typer

from adwise._exceptions import InputError
from adwise.cli._common import (
    EngineOpt,
    JsonOpt,
    NumberOpt,
    SeedOpt,
    SparkConfOpt,
    SparkMasterOpt,
    WorkspaceOpt,
    check_engine,
    console,
    emit_json,
    err_console,
    open_workspace,
    progress,
)

__all__ = ["app"]

app = typer.Typer(help="Which slot and which hour? Effects, budgets, bandits, off-policy "
                  "evaluation.", no_args_is_help=True)


def _records(df) -> list[dict]:
    import numpy as np

    out = []
    for row in df.to_dict(orient="records"):
        out.append({k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()})
    return out


@app.command()
def train(
    group_col: str = typer.Option("campaign_id", "--group-col",
                                  help="Also estimate cells per value of this column "
                                       "(events, ads or users); 'none' for overall only."),
    workspace: Path = WorkspaceOpt,
    json_: bool = JsonOpt,
    engine: str = EngineOpt("the counts per cell on Spark, the fit on the driver"),
    spark_master: str = SparkMasterOpt,
    spark_conf: list[str] = SparkConfOpt,
    events: str = typer.Option(None, "--events", help="With --engine spark: events (Parquet "
                               "or CSV, any path Spark reads) instead of the workspace's."),
) -> None:
    """Fit CTR/CVR by placement x hour x weekday (+ per group) and the budget curves; save."""
    from adwise.placement._pipeline import train as _train

    check_engine(engine)
    if engine == "embedded" and events is not None:
        raise InputError("--events is read by --engine spark; for the embedded engine ingest "
                         "the file into the workspace with `adwise ingest`.")
    group = None if group_col.lower() == "none" else group_col
    ws = open_workspace(workspace)
    if engine == "spark":
        from adwise.engine import parse_conf, spark_session
        from adwise.placement._spark import train_spark

        with progress("placement: counting on Spark", enabled=not json_), \
                spark_session(spark_master, parse_conf(spark_conf)) as spark:
            _, mv = train_spark(spark, ws, group, events)
    else:
        with progress("placement: fitting") as cb:
            _, mv = _train(ws, group, progress=cb)
    if json_:
        emit_json({"version": mv.version, "engine": "embedded", **mv.metadata["metrics"]})
        return
    m = mv.metadata["metrics"]
    console.print(f"placement {mv.version}: {m['rows']:,} events, CTR {m['ctr']:.3%}; best cell "
                  f"{m['best_cell']} (CTR {m['best_cell_ctr']:.3%} "
                  f"[{m['best_cell_ctr_low']:.2%}, {m['best_cell_ctr_high']:.2%}] from "
                  f"{m['best_cell_impressions']:,} impressions, {m['best_cell_clicks']:,} clicks;"
                  f" lift {m['best_cell_lift']:+.1%})")
    if m.get("skipped_without_placement"):
        console.print(f"skipped {m['skipped_without_placement']:,} events without a placement")


@app.command()
def recommend(
    campaign: str = typer.Option(None, "--campaign", help="A campaign_id."),
    segment: str = typer.Option(None, "--segment", help="COLUMN=VALUE, e.g. age_band=25-34."),
    by: str = typer.Option("placement,hour", "--by",
                           help="Cell: placement | placement,hour | placement,hour,weekday."),
    top: int = NumberOpt(10, "--top", low=1, high=10_000),
    rate: str = typer.Option("ctr", "--rate", help="ctr or cvr (conversions per click)."),
    workspace: Path = WorkspaceOpt,
    json_: bool = JsonOpt,
) -> None:
    """Ranked (placement, daypart) cells with expected rate, interval and lift."""
    from rich.table import Table

    from adwise.placement._pipeline import recommend as _rec

    ws = open_workspace(workspace)
    cells = [c.strip() for c in by.split(",") if c.strip()]
    table, info = _rec(ws, campaign=campaign, segment=segment, by=cells, top=top, rate=rate)
    if json_:
        emit_json({**info, "cells": _records(table)})
        return
    t = Table(title=f"best cells ({rate}; current {info['current_' + rate]:.3%})")
    cell_cols = [c for c in ("placement", "hour", "weekday") if c in table.columns]
    hits = "clicks" if rate == "ctr" else "conversions"
    for c in (*cell_cols, rate.upper(), "95 % interval", "impressions", hits, "share", "lift"):
        t.add_column(c, justify="left" if c in cell_cols else "right")
    few = False
    for row in table.to_dict(orient="records"):
        mark = "" if row["enough_data"] else " *"
        few |= bool(mark)
        t.add_row(*[str(row[c]) for c in cell_cols],
                  f"{row['expected_' + rate]:.2%}{mark}",
                  f"[{row[rate + '_low']:.2%}, {row[rate + '_high']:.2%}]",
                  f"{row['impressions']:,.0f}", f"{row[hits]:,.0f}",
                  f"{row['share']:.1%}", f"{row['lift']:+.1%}")
    console.print(t)
    if few:
        from adwise.placement._effects import MIN_IMPRESSIONS

        console.print(f"* fewer than {MIN_IMPRESSIONS} impressions: ranked last, whatever the "
                      "rate.")


def _bounds(values: list[str] | None, name: str):
    if not values:
        return None
    if len(values) == 1 and "=" not in values[0]:
        try:
            return float(values[0])
        except ValueError as exc:
            raise InputError(f"{name} expects a number or CELL=AMOUNT; got {values[0]!r}.") \
                from exc
    out = {}
    for v in values:
        key, sep, amt = v.partition("=")
        if not sep:
            raise InputError(f"{name} expects CELL=AMOUNT (cell as placement:hour); got {v!r}.")
        parts = tuple(key.split(":"))
        try:
            out[parts if len(parts) > 1 else parts[0]] = float(amt)
        except ValueError as exc:
            raise InputError(f"{name}: {amt!r} is not a number.") from exc
    return out


@app.command()
def allocate(
    budget: float = NumberOpt(None, "--budget", low=0, high=1e12, low_open=True,
                              help="Daily budget (default: logged spend)."),
    objective: str = typer.Option("clicks", "--objective", help="clicks or conversions."),
    min_spend: list[str] = typer.Option(None, "--min-spend",
                                        help="AMOUNT for every cell, or placement:hour=AMOUNT."),
    max_spend: list[str] = typer.Option(None, "--max-spend",
                                        help="AMOUNT for every cell, or placement:hour=AMOUNT."),
    max_multiplier: float = NumberOpt(None, "--max-multiplier", low=0, high=1000, low_open=True,
                                      help="Default cap as a multiple of current spend."),
    top: int = NumberOpt(15, "--top", low=1, high=10_000),
    workspace: Path = WorkspaceOpt,
    json_: bool = JsonOpt,
) -> None:
    """Split a daily budget over (placement, hour) cells to maximise clicks or conversions."""
    from adwise.placement._pipeline import allocate as _alloc

    ws = open_workspace(workspace)
    plan, summary = _alloc(ws, budget, objective, _bounds(min_spend, "--min-spend"),
                           _bounds(max_spend, "--max-spend"), max_multiplier)
    if json_:
        emit_json({**summary, "cells": _records(plan)})
        return
    console.print(f"budget {summary['budget']:.2f}: expected {objective} {summary['expected']:.1f}"
                  f" vs {summary['current_expected']:.1f} with the current mix "
                  f"(ratio {summary['ratio']:.3f}; spend elasticity {summary['elasticity']:.2f})")
    console.print(plan.head(top).to_string(index=False))


@app.command()
def ope(
    logs: Path = typer.Option(..., "--logs", help="Logged rounds (CSV, Parquet, JSONL)."),
    action_col: str = typer.Option(..., "--action-col"),
    reward_col: str = typer.Option(..., "--reward-col"),
    propensity_col: str = typer.Option(None, "--propensity-col",
                                       help="Logging propensities; estimated (with a warning) "
                                            "when omitted."),
    slot_col: str = typer.Option(None, "--slot-col"),
    slot_mode: str = typer.Option("position", "--slot-mode",
                                  help="position (slot is context) or action (item|slot)."),
    context_cols: str = typer.Option("", "--context-cols", help="C1,C2,... for the models."),
    policy: str = typer.Option("uniform", "--policy",
                               help="uniform, greedy, or a saved policy folder (MODEL_PATH)."),
    n_bootstrap: int = NumberOpt(200, "--bootstrap", low=0, high=10_000,
                                 help="Bootstrap resamples for the intervals."),
    seed: int = SeedOpt(0),
    json_: bool = JsonOpt,
) -> None:
    """Off-policy evaluation: IPS, SNIPS, DM, DR with 95 % bootstrap intervals + diagnostics."""
    from adwise.placement._pipeline import run_ope

    ctx = [c.strip() for c in context_cols.split(",") if c.strip()]
    with progress("off-policy evaluation"):
        res = run_ope(logs, action_col, reward_col, propensity_col, slot_col, ctx, policy,
                      slot_mode=slot_mode, n_bootstrap=n_bootstrap, random_state=seed)
    for w in res["warnings"]:
        err_console.print(f"warning: {w}", markup=False, highlight=False)
    if not res["trustworthy"]:
        err_console.print("warning: estimates are NOT trustworthy: " + "; ".join(res["reasons"]),
                          markup=False, highlight=False)
    if json_:
        emit_json(res)
        return
    console.print(f"policy: {res['policy']}  (logged value {res['logged_value']:.5f})")
    for name in ("ips", "snips", "dm", "dr"):
        console.print(f"{name:>5}: {res[name]:.5f}  [{res[name + '_ci_low']:.5f}, "
                      f"{res[name + '_ci_high']:.5f}]")
    console.print(f"ESS {res['ess']:.0f} of {res['n_rounds']} ({res['ess_ratio']:.1%}), max weight "
                  f"{res['max_weight']:.3g}, never-taken share {res['never_taken_share']:.1%}, "
                  f"trustworthy: {res['trustworthy']}")


@app.command()
def simulate(
    world: Path = typer.Option(..., "--world", help="An `adwise synth` folder (with truth)."),
    rounds: int = NumberOpt(100_000, "--rounds", low=100, high=10_000_000),
    policies: str = typer.Option("thompson,linucb,epsilon_greedy,uniform", "--policies"),
    n_ads: int = NumberOpt(10, "--ads", low=1, high=1000,
                           help="Ads in the arm set (x every slot)."),
    epsilon: float = NumberOpt(0.1, "--epsilon", low=0.0, high=1.0),
    seed: int = SeedOpt(0),
    json_: bool = JsonOpt,
) -> None:
    """Run bandits against the synthetic world's true click model; report cumulative regret."""
    from adwise.placement._pipeline import simulate as _sim

    names = [p.strip() for p in policies.split(",") if p.strip()]
    with progress("simulating") as cb:
        res = _sim(world, rounds=rounds, policies=names, n_ads=n_ads, epsilon=epsilon, seed=seed,
                   progress=cb)
    if json_:
        emit_json(res)
        return
    console.print(f"{res['rounds']:,} rounds, {res['arms']} arms; best fixed arm "
                  f"{res['best_fixed_arm']} (CTR {res['best_fixed_ctr']:.3%})")
    for name, r in res["policies"].items():
        console.print(f"{name:>15}: regret {r['regret']:9.1f}  oracle regret "
                      f"{r['oracle_regret']:9.1f}  CTR {r['mean_reward']:.3%}")
