"""``adwise delivery train|evaluate|recommend`` (a thin face over the pipeline)."""

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

app = typer.Typer(help="Which ad should this user see?", no_args_is_help=True)


@app.command()
def train(
    model: str = typer.Option(None, "--model", help="hybrid (the default), ease, item_knn, "
                              "als, bpr, content or popularity; als (the default) on Spark."),
    tune: bool = typer.Option(False, "--tune", help="Search the recommender's hyper-parameters "
                              "on an inner split of the training period first."),
    budget: str = typer.Option("120", "--budget", help="Tuning budget: SECONDS (e.g. 300) or "
                               "TRIALS (e.g. 30t)."),
    seed: int = SeedOpt(0),
    workspace: Path = WorkspaceOpt,
    json_: bool = JsonOpt,
    engine: str = EngineOpt("implicit ALS with Spark ML"),
    spark_master: str = SparkMasterOpt,
    spark_conf: list[str] = SparkConfOpt,
    events: str = typer.Option(None, "--events", help="With --engine spark: events (Parquet "
                               "or CSV, any path Spark reads) instead of the workspace's."),
) -> None:
    """Fit the recommender (clicks) and click model (impressions); save and promote them."""
    from adwise._tuning import Budget
    from adwise.delivery._pipeline import train_workspace

    budget_ = Budget.parse(budget) if tune else None
    check_engine(engine)
    if engine == "spark" and (model not in (None, "als") or budget_ is not None):
        raise InputError("--engine spark trains --model als (Spark ML ALS) without --tune; use "
                         "--engine embedded for the other models and for tuning.")
    if engine == "embedded" and events is not None:
        raise InputError("--events is read by --engine spark; for the embedded engine ingest "
                         "the file into the workspace with `adwise ingest`.")
    ws = open_workspace(workspace)
    if engine == "spark":
        from adwise.delivery._spark import train_workspace_spark
        from adwise.engine import parse_conf, spark_session

        settings = parse_conf(spark_conf)
        with progress("delivery: training on Spark", enabled=not json_), \
                spark_session(spark_master, settings) as spark:
            res = train_workspace_spark(spark, ws, events=events, seed=seed)
    else:
        with progress("delivery: training", enabled=not json_) as cb:
            res = train_workspace(ws, model=model or "hybrid", progress=cb, tune=budget_,
                                  seed=seed)
            res["metrics"]["engine"] = "embedded"
    if json_:
        emit_json(res)
        return
    m = res["metrics"]
    console.print(f"delivery {res['version']} saved: {res['n_users']:,} users, "
                  f"{res['n_items']:,} ads")
    if "split" in m:
        console.print(f"  test split: {m['split']}")
    for key in ("ndcg@10", "precision@10", "coverage@10", "click_auc"):
        if key in m:
            console.print(f"  {key} (test part) = {m[key]:.4f}")
    if "tuning" in m:
        console.print(_tuning_lines(m["tuning"]))


def _tuning_lines(tuning: dict) -> str:
    lines = [f"tuned on {tuning['validation']} ({tuning['budget']}):"]
    for name, chosen in tuning["params"].items():
        t = tuning[name]
        vals = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in chosen.items())
        lines.append(f"  {name}: {t['metric']} {t['default_score']:.4f} with the defaults -> "
                     f"{t['score']:.4f} with {vals} ({t['n_trials']} trials)")
    return "\n".join(lines)


@app.command()
def evaluate(
    train_file: Path = typer.Option(None, "--train", help="Training file (else the workspace)."),
    test_file: Path = typer.Option(None, "--test", help="Test file."),
    task: str = typer.Option(..., "--task", help="rating or ranking."),
    user_col: str = typer.Option("user_id", "--user-col"),
    item_col: str = typer.Option("ad_id", "--item-col"),
    rating_col: str = typer.Option(None, "--rating-col"),
    k: int = NumberOpt(10, "--k", low=1, high=1000),
    model: str = typer.Option(None, "--model", help="rating: blend|mf; ranking: hybrid|ease|"
                              "item_knn|als|bpr|content|popularity."),
    rating_scale: str = typer.Option(None, "--rating-scale", help="LOW,HIGH (default: the "
                                     "training data's range); ratings outside are refused."),
    tune: bool = typer.Option(False, "--tune", help="Search the ranking model's "
                              "hyper-parameters on an inner split of the training data first."),
    budget: str = typer.Option("120", "--budget", help="Tuning budget: SECONDS (e.g. 300) or "
                               "TRIALS (e.g. 30t)."),
    seed: int = SeedOpt(0),
    workspace: Path = WorkspaceOpt,
    json_: bool = JsonOpt,
) -> None:
    """Evaluate on plain files (--train/--test) or on the workspace (last 20 % of time)."""
    from adwise._tuning import Budget
    from adwise.delivery._pipeline import evaluate_files, evaluate_workspace, parse_scale

    budget_ = Budget.parse(budget) if tune else None
    scale = parse_scale(rating_scale)
    if (train_file is None) != (test_file is None):
        raise InputError("give both --train and --test, or neither (to use the workspace).")
    if task not in ("rating", "ranking"):
        raise InputError(f"--task must be rating or ranking; got {task!r}.")
    named = [(f, c) for f, c in (("--user-col", user_col), ("--item-col", item_col),
                                  ("--rating-col", rating_col)) if c is not None]
    for i, (flag, col) in enumerate(named):
        same = [f for f, c in named[i + 1:] if c == col]
        if same:
            raise InputError(f"{flag} and {same[0]} both name {col!r}; users, items and ratings "
                             "must be separate columns.")
    if train_file is not None:
        with progress("delivery: tuning" if tune else "delivery: evaluating",
                      enabled=not json_):
            res = evaluate_files(train_file, test_file, task, user_col, item_col, rating_col,
                                 k, model, scale, tune=budget_, seed=seed)
    else:
        res = evaluate_workspace(open_workspace(workspace), task, k, model, scale,
                                 tune=budget_, seed=seed)
    if json_:
        emit_json(res)
        return
    tuning = res.pop("tuning", None)
    for name, v in res.items():
        console.print(f"{name:>14} {v:.4f}")
    if tuning:
        console.print(_tuning_lines(tuning))


@app.command()
def recommend(
    user: list[str] = typer.Option(..., "--user", help="User id as in your logs (repeatable)."),
    k: int = NumberOpt(5, "--k", low=1, high=1000),
    candidates: str = typer.Option(None, "--candidates", help="Comma-separated ad ids."),
    placement: str = typer.Option(None, "--placement"),
    period_progress: float = NumberOpt(1.0, "--progress", low=0.0, high=1.0,
                                       help="Elapsed share of the pacing period."),
    default_bid: float = NumberOpt(None, "--default-bid", low=0.0, high=1e9,
                                   help="CPC price of ads without a bid (default: when no "
                                        "ad has one, rank by pCTR)."),
    workspace: Path = WorkspaceOpt,
    json_: bool = JsonOpt,
) -> None:
    """Best ads for users by expected value, with the per-ad breakdown."""
    from adwise.delivery._pipeline import recommend as run

    ws = open_workspace(workspace)
    ctx: dict = {"progress": period_progress}
    if placement:
        ctx["placement"] = placement
    cands = [c.strip() for c in candidates.split(",") if c.strip()] if candidates else None
    res = run(ws, user, k=k, candidates=cands, context=ctx, default_bid=default_bid)
    known = sum(r["known_user"] for r in res)
    warning = None
    if known < 0.5 * len(res):
        warning = (f"{known} of {len(res)} users are users of this workspace; the others get "
                   "the new-user fallback. Give user ids as they are in your logs.")
        err_console.print(f"[yellow]warning:[/yellow] {warning}")
    if json_:
        emit_json({"recommendations": res, "warnings": [warning] if warning else []})
        return
    if res:
        console.print(f"ranked by {res[0]['ranked_by']}")
    for r in res:
        console.print(f"[bold]{r['user_id']}[/bold]"
                      + ("" if r["known_user"] else " (new user: popularity fallback)"))
        for a in r["ads"]:
            flag = "" if a["eligible"] else f"  [not served: {a['reason']}]"
            price = f"{a['pricing']} EV {a['expected_value']:.4f} " if a["bid"] is not None \
                or a["pricing"] == "cpa" else ""
            # no conversions logged: a pCVR of 0 says nothing, leave it out
            cvr = f" pCVR {a['p_cvr']:.2%}" if a["p_cvr"] > 0 else ""
            console.print(f"  {a['ad_id']:>10} {price}pCTR {a['p_ctr']:.3%}{cvr}{flag}")
