"""``adwise audience``: segment, lookalike, uplift, export — on plain files or a workspace."""

from __future__ import annotations

from pathlib import Path

import typer

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
    output_file,
    progress,
)

app = typer.Typer(help="Whom should we target, and how do customers group?", no_args_is_help=True)


def _k(value: str):
    from adwise._exceptions import InputError

    if value == "auto":
        return "auto"
    try:
        k = int(value)
    except ValueError:
        k = 0
    if k < 1:
        raise InputError(f"--k must be 'auto' or a positive integer; got {value!r}.")
    return k


def _print_segments(res: dict) -> None:
    from adwise.behavior._cli import _tuning_line

    console.print(f"k = {res['k']}, silhouette {res['silhouette']:.3f}")
    if "tuning" in res:
        console.print(_tuning_line(res["tuning"]))
    for p in res["profiles"]:
        console.print(f"  [{p['segment']}] {p['description']}")


@app.command()
def segment(
    # a str, not a Path: a Spark URI (hdfs://...) must keep its double slash
    data: str = typer.Option(None, "--data", help="A file to segment (else the workspace)."),
    id_col: str = typer.Option(None, "--id-col", help="Row id column (plain-file mode)."),
    outcome_col: str = typer.Option(None, "--outcome-col", help="Plain file: a 0/1 or yes/no "
                                    "outcome (not a feature); each segment's rate is shown."),
    customer_col: str = typer.Option(None, "--customer-col", help="Transactions: customer id."),
    date_col: str = typer.Option(None, "--date-col", help="Transactions: date."),
    amount_col: str = typer.Option(None, "--amount-col", help="Transactions: amount."),
    quantity_col: str = typer.Option(None, "--quantity-col", help="Transactions: quantity."),
    price_col: str = typer.Option(None, "--price-col", help="Transactions: unit price."),
    invoice_col: str = typer.Option(None, "--invoice-col", help="Transactions: invoice id."),
    returns: str = typer.Option(
        "net",
        "--returns",
        help="Negative quantities/amounts (returns): net (subtract from value), drop, error.",
    ),
    k: str = typer.Option("auto", "--k", help="'auto' (silhouette / BIC) or a number."),
    method: str = typer.Option("kmeans", "--method", help="kmeans, minibatch or gmm."),
    transform: str = typer.Option("log", "--transform", help="log, rank or none (plain files)."),
    tune: bool = typer.Option(False, "--tune", help="Search k, the transform and the algorithm "
                              "by held-out silhouette x bootstrap stability first."),
    budget: str = typer.Option(None, "--budget", help="Tuning budget (with --tune): SECONDS "
                               "(e.g. 300, the default 120) or TRIALS (e.g. 25t)."),
    seed: int = SeedOpt(0),
    export: Path = typer.Option(None, "--export", help="Workspace: write user_id,segment CSV."),
    raw_ids: Path = typer.Option(None, "--raw-ids", help="Your file of raw user ids (one per "
                                 "line, or a CSV with user_id): exports carry them instead of "
                                 "pseudonyms."),
    workspace: Path = WorkspaceOpt,
    json_: bool = JsonOpt,
    engine: str = EngineOpt("RFM of a transactions file and KMeans with Spark ML"),
    spark_master: str = SparkMasterOpt,
    spark_conf: list[str] = SparkConfOpt,
) -> None:
    """Group customers; print k, silhouette, sizes and plain-words profiles."""
    from adwise._exceptions import InputError
    from adwise._tuning import Budget
    from adwise.audience import (
        export_segments,
        segment_file,
        segment_transactions,
        segment_workspace,
    )

    kk = _k(k)
    if budget is not None and not tune:
        raise InputError("--budget is the tuning budget of --tune; add --tune, or drop "
                         "--budget to segment with the defaults.")
    budget_ = Budget.parse(budget) if tune else None
    label = "audience: tuning segments" if tune else "audience: segmenting"
    check_engine(engine)
    if engine == "spark":
        if data is None or customer_col is None or date_col is None:
            raise InputError("--engine spark segments a transactions file: give --data, "
                             "--customer-col, --date-col and the amount (--amount-col, or "
                             "--quantity-col and --price-col); use --engine embedded for the "
                             "workspace and for --id-col files.")
        if method != "kmeans" or tune:
            raise InputError("--engine spark clusters with --method kmeans (Spark ML KMeans) "
                             "without --tune; use --engine embedded for the other methods and "
                             "for tuning.")
        from adwise.audience._spark import segment_transactions_spark
        from adwise.engine import parse_conf, spark_session

        with progress("audience: segmenting on Spark", enabled=not json_), \
                spark_session(spark_master, parse_conf(spark_conf)) as spark:
            res = segment_transactions_spark(spark, data, customer_col, date_col, amount_col,
                                             quantity_col, price_col, invoice_col, returns, kk,
                                             transform, seed)
    elif data is not None and customer_col is not None:
        if date_col is None:
            raise InputError("RFM from transactions needs --date-col as well as --customer-col.")
        with progress(label, enabled=not json_) as cb:
            res = segment_transactions(
                data, customer_col, date_col, amount_col, quantity_col, price_col,
                invoice_col, returns, kk, method, transform, seed, tune=budget_, progress=cb,
            )
    elif data is not None:
        if id_col is None:
            raise InputError(
                "--data needs --id-col (the row id), or --customer-col/--date-col/--amount-col "
                "for RFM from a transactions file."
            )
        with progress(label, enabled=not json_) as cb:
            res = segment_file(data, id_col, kk, method, transform, random_state=seed,
                               outcome_col=outcome_col, tune=budget_, progress=cb)
    else:
        ws = open_workspace(workspace)
        with progress(label, enabled=not json_) as cb:
            res = segment_workspace(ws, kk, method, random_state=seed, tune=budget_,
                                    progress=cb)
        if export is not None:
            res["export"] = export_segments(ws, output_file(export, "--export"),
                                            raw_ids=raw_ids)
    res.setdefault("engine", engine)
    if json_:
        emit_json(res)
        return
    _print_segments(res)


@app.command()
def lookalike(
    data: Path = typer.Option(None, "--data", help="A file of customers (else the workspace)."),
    id_col: str = typer.Option(None, "--id-col"),
    seed_col: str = typer.Option(None, "--seed-col", help="0/1 or yes/no seed flag column."),
    seed_file: Path = typer.Option(None, "--seed-file", help="Raw seed ids, one per line."),
    campaign: str = typer.Option(None, "--campaign", help="Workspace: seed = its converters."),
    exclude: list[str] = typer.Option(None, "--exclude", help="Column not to use (repeatable)."),
    top: int = NumberOpt(None, "--top", low=1, high=1e9, help="Audience size."),
    top_percent: float = NumberOpt(None, "--top-percent", low=0.01, high=100.0),
    out: Path = typer.Option(None, "--out", help="Write the audience's ids (CSV)."),
    raw_ids: Path = typer.Option(None, "--raw-ids", help="Workspace: your file of raw user ids "
                                 "(one per line, or a CSV with user_id); --out then holds them "
                                 "instead of pseudonyms."),
    seed: int = SeedOpt(0),
    workspace: Path = WorkspaceOpt,
    json_: bool = JsonOpt,
) -> None:
    """Find users who look like a seed audience (seed excluded); report AUC and lift."""
    import pandas as pd

    from adwise._exceptions import InputError
    from adwise.audience import lookalike_file, lookalike_workspace
    from adwise.data import write_csv

    if data is not None:
        if id_col is None:
            raise InputError("--data needs --id-col.")
        res, ids = lookalike_file(
            data,
            id_col,
            seed_col,
            str(seed_file) if seed_file else None,
            exclude,
            top,
            top_percent,
            random_state=seed,
        )
    else:
        ws = open_workspace(workspace)
        res, ids = lookalike_workspace(
            ws, str(seed_file) if seed_file else None, campaign, top, top_percent, random_state=seed
        )
    if raw_ids is not None:
        if data is not None:
            raise InputError("--raw-ids is for workspace lookalikes: a plain file's ids are "
                             "already yours.")
        from adwise.audience._pipeline import raw_id_map, to_raw_ids

        ids, res["not_in_raw_ids"] = to_raw_ids(ids, raw_id_map(ws, raw_ids))
    if output_file(out) is not None:
        write_csv(pd.DataFrame({"user_id": ids}), out)
        res["file"] = str(out)
    if json_:
        emit_json(res)
        return
    for w in res.get("warnings", []):
        err_console.print(f"[yellow]warning:[/yellow] {w}")
    console.print(
        f"seed {res['seed_size']:,} -> audience {res['audience_size']:,}; held-out AUC "
        f"{res['auc']:.3f}, expected lift@{res['lift_fraction']:.0%} {res['expected_lift']:.2f}"
    )


@app.command()
def uplift(
    train: Path = typer.Option(None, "--train", help="Training file (else the workspace)."),
    test: Path = typer.Option(None, "--test"),
    treatment_col: str = typer.Option(None, "--treatment-col"),
    outcome_col: str = typer.Option(None, "--outcome-col"),
    treatment_value: str = typer.Option(
        None, "--treatment-value", help="Level of a text treatment column meaning 'treated'."
    ),
    control_value: str = typer.Option(None, "--control-value", help="Level meaning control."),
    exclude: list[str] = typer.Option(None, "--exclude", help="Column not to use (repeatable)."),
    learner: str = typer.Option("auto", "--learner", help="auto or e.g. t-logistic, s-lightgbm."),
    targets: float = NumberOpt(None, "--targets", low=0, high=1e12, low_open=True,
                               help="How many people to target (the highest uplifts)."),
    tune: bool = typer.Option(False, "--tune", help="Search the base models' regularisation "
                              "by cross-validated Qini on the training data first."),
    budget: str = typer.Option(None, "--budget", help="Tuning budget (with --tune): SECONDS "
                               "(e.g. 300, the default 120) or TRIALS (e.g. 25t)."),
    seed: int = SeedOpt(0),
    workspace: Path = WorkspaceOpt,
    json_: bool = JsonOpt,
) -> None:
    """Fit an uplift model; print Qini, AUUC and uplift@30 % on the test file (or the
    workspace's events with a 0/1 treatment column)."""
    from adwise._exceptions import InputError
    from adwise._tuning import Budget
    from adwise.audience import LEARNERS, uplift_files

    if learner != "auto" and learner not in LEARNERS:
        raise InputError(
            f"--learner must be auto or one of {', '.join(LEARNERS)}; got {learner!r}."
        )
    if budget is not None and not tune:
        # --budget was the head count before --tune existed: say where that went
        raise InputError("--budget is the tuning budget (use it with --tune); the number of "
                         "people to target is now --targets N.")
    budget_ = Budget.parse(budget) if tune else None
    if train is None and test is None:
        from adwise.audience._pipeline import uplift_workspace

        if targets is not None:
            raise InputError("--targets is for --train/--test files; the workspace's uplift "
                             "reports its held-out users only.")
        with progress("audience: tuning uplift" if tune else "audience: uplift",
                      enabled=not json_) as cb:
            res = uplift_workspace(open_workspace(workspace), learner, seed, budget_, cb)
        if json_:
            emit_json(res)
            return
        _print_uplift(res, f" (test split: {res['split']})")
        return
    if not (train and test and treatment_col and outcome_col):
        raise InputError("plain-file uplift needs --train, --test, --treatment-col and "
                         "--outcome-col (or none of them, to use the workspace).")
    with progress("audience: tuning uplift" if tune else "audience: uplift",
                  enabled=not json_) as cb:
        res = uplift_files(
            train,
            test,
            treatment_col,
            outcome_col,
            learner,
            exclude,
            treatment_value,
            control_value,
            targets,
            seed,
            budget_,
            cb,
        )
    if json_:
        emit_json(res)
        return
    _print_uplift(res, "")


def _print_uplift(res: dict, where: str) -> None:
    from adwise.behavior._cli import _tuning_line

    console.print(
        f"{res['learner']}: Qini {res['qini']:.4f}, AUUC {res['auuc']:.4f}, uplift@30% "
        f"{res['uplift_at_30']:.4f}{where}"
    )
    if res["cv_qini"]:
        folds = len(next(iter(res["cv_qini_folds"].values())))
        chosen = ", ".join(f"{m} {res['cv_qini'][m]:.4f} ± {res['cv_qini_sd'][m]:.4f}"
                           for m in res["members"])
        console.print(f"chosen by {folds}-fold cross-validated Qini (mean ± sd over the "
                      f"folds): {chosen}; together {res['cv_score']:.4f} ± "
                      f"{res['cv_score_sd']:.4f}")
    if "tuning" in res:
        console.print(_tuning_line(res["tuning"]))
    if "targets" in res:
        console.print(f"{res['targets']:,} people to target, mean predicted uplift "
                      f"{res['mean_predicted_uplift_of_targets']:.4f}")


@app.command("export")
def export_(
    out: Path = typer.Option(..., "--out"),
    workspace: Path = WorkspaceOpt,
    json_: bool = JsonOpt,
) -> None:
    """Write the saved segments (user_id,segment), withholding groups below min size."""
    from adwise.audience import export_segments

    res = export_segments(open_workspace(workspace), output_file(out))
    if json_:
        emit_json(res)
        return
    console.print(
        f"{res['rows']:,} users in segments {res['segments']} written to {out}"
        + (
            f"; withheld (too small): {res['withheld_segments']}"
            if res["withheld_segments"]
            else ""
        )
    )
