"""``adwise behavior train|evaluate|predict`` (a thin face over the pipeline)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from adwise._exceptions import InputError
from adwise.cli._common import (
    EngineOpt,
    JsonOpt,
    NumberOpt,
    SeedOpt,
    SparkConfOpt,
    SparkMasterOpt,
    ThreadsOpt,
    WorkspaceOpt,
    check_engine,
    console,
    emit_json,
    err_console,
    open_workspace,
    output_file,
    progress,
)

__all__ = ["app"]

app = typer.Typer(help="Will this user click / convert? Calibrated, explained pCTR / pCVR.",
                  no_args_is_help=True)

# Help text is rich markup: "\[" keeps the brackets of the extra's name.
_MODEL_HELP = "gbdt (default), forest, tree, logreg or deep (needs adwise\\[deep])."
TuneOpt = typer.Option(False, "--tune",
                       help="Search the model's hyper-parameters on the training data first.")
BudgetOpt = typer.Option("120", "--budget",
                         help="Tuning budget: SECONDS (e.g. 300) or TRIALS (e.g. 25t).")


BehaviorEngineOpt = EngineOpt("--model gbdt: XGBoost, logreg: Spark ML logistic regression")
# which learner a --model serves on the embedded engine (reports say the family)
_FAMILY = {"gbdt": "lightgbm", "forest": "sklearn", "tree": "sklearn", "logreg": "sklearn",
           "deep": "torch"}


def _budget(tune: bool, budget: str):
    from adwise._tuning import Budget

    return Budget.parse(budget) if tune else None


def _blend_line(blend: dict) -> str:
    ll = blend["validation_logloss"]
    if blend["used"]:
        return (f"blend: GBDT + logistic (weight {blend['weight']:.2f} in log-odds), "
                f"validation logloss {ll['gbdt']:.4f} -> {ll['blend']:.4f}")
    return (f"blend: GBDT alone (the logistic blend's validation logloss {ll['blend']:.4f} "
            f"is not below {ll['gbdt']:.4f})")


def _tuning_line(tuning: dict) -> str:
    chosen = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in tuning["params"].items())
    # artifacts tuned before pruning existed have no n_pruned
    pruned = f", {tuning['n_pruned']} stopped early" if tuning.get("n_pruned") else ""
    return (f"tuned ({tuning['n_trials']} trials{pruned}, {tuning['seconds']:.0f} s, validated on "
            f"{tuning['validation']}): {tuning['metric']} {tuning['default_score']:.4f} with "
            f"the defaults -> {tuning['score']:.4f} with {chosen}")


def _check_model(model: str) -> None:
    from adwise.behavior._model import MODELS, deep_available

    if model not in MODELS:
        raise InputError(f"--model must be one of {', '.join(MODELS)}; got {model!r}.")
    if model == "deep" and not deep_available():
        raise InputError(
            "model 'deep' is unavailable: PyTorch is not installed. Install the extra with "
            "`pip install adwise[deep]`, or use --model gbdt (the default)."
        )


def _check_spark_model(model: str, tune: bool) -> None:
    if model not in ("gbdt", "logreg") or tune:
        raise InputError("--engine spark trains --model gbdt (XGBoost on Spark) or logreg (Spark "
                         "ML) without --tune; use --engine embedded for the other models and for "
                         "tuning.")


def _cols(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [c.strip() for c in text.split(",") if c.strip()]


def _summary(metrics: dict) -> str:
    return (f"AUC {metrics['auc']:.4f}  logloss {metrics['logloss']:.4f}  "
            f"ECE {metrics['ece']:.4f}  (train {metrics['rows_train']:,} rows, "
            f"test {metrics['rows_test']:,})")


@app.command()
def train(
    workspace: Path = WorkspaceOpt,
    model: str = typer.Option("gbdt", "--model", "-m", help=_MODEL_HELP),
    test_fraction: float = NumberOpt(0.2, "--test-fraction", low=0, high=0.9, low_open=True,
                                     help="Latest share of events held out for testing."),
    no_conversion: bool = typer.Option(False, "--no-conversion", help="Skip the pCVR model."),
    seed: int = SeedOpt(0),
    threads: int = ThreadsOpt(1, help="Threads for the learner and the feature queries."),
    tune: bool = TuneOpt,
    budget: str = BudgetOpt,
    json_: bool = JsonOpt,
    engine: str = BehaviorEngineOpt,
    spark_master: str = SparkMasterOpt,
    spark_conf: list[str] = SparkConfOpt,
) -> None:
    """Train pCTR (and pCVR) on the workspace's events, test on the latest ones, save."""
    from adwise.behavior._pipeline import train_workspace

    _check_model(model)
    budget_ = _budget(tune, budget)
    check_engine(engine)
    if engine == "spark":
        _check_spark_model(model, budget_ is not None)
    ws = open_workspace(workspace)
    if engine == "spark":
        from adwise.behavior._spark import train_workspace_spark
        from adwise.engine import parse_conf, spark_session

        settings = parse_conf(spark_conf)
        with progress("training on Spark", enabled=not json_), \
                spark_session(spark_master, settings) as spark:
            res = train_workspace_spark(spark, ws, test_fraction=test_fraction, seed=seed,
                                        model=model)
    else:
        with progress("training behaviour models", enabled=not json_) as cb:
            res = train_workspace(ws, model=model, test_fraction=test_fraction,
                                  conversion=not no_conversion, seed=seed, n_jobs=threads,
                                  tune=budget_, progress=cb)
    out = {k: v for k, v in res.metrics.items() if k != "reliability"}
    out["version"] = res.version
    out["split_ts"] = res.split_ts
    out["split"] = res.split
    if res.cvr_metrics:
        out["cvr"] = {k: v for k, v in res.cvr_metrics.items() if k != "reliability"}
    imp = getattr(res.ctr_model, "feature_importance_", None)
    if imp:
        out["top_features"] = dict(list(imp.items())[:10])
    if json_:
        emit_json(out)
        return
    console.print(f"behavior {res.version}: pCTR {_summary(res.metrics)}")
    console.print(f"test split: {res.split}")
    if "tuning" in res.metrics:
        console.print(_tuning_line(res.metrics["tuning"]))
    if res.metrics.get("blend"):
        console.print(_blend_line(res.metrics["blend"]))
    if res.cvr_metrics:
        console.print(f"pCVR (clicked events): {_summary(res.cvr_metrics)}")
    if imp:
        console.print("top features: " + ", ".join(f"{k} {v:.0%}" for k, v in
                                                    list(imp.items())[:6]))


@app.command()
def evaluate(
    # str, not Path: a Path would fold the // of a URI Spark reads (hdfs://, s3a://)
    train_file: str = typer.Option(None, "--train", help="Training file (plain-file mode)."),
    test_file: str = typer.Option(None, "--test", help="Test file (plain-file mode)."),
    target: str = typer.Option(None, "--target", help="The 0/1 label column (plain-file mode)."),
    model: str = typer.Option("gbdt", "--model", "-m", help=_MODEL_HELP),
    fmt: str = typer.Option(None, "--format",
                            help="csv, tsv, parquet, jsonl or criteo (headerless TSV)."),
    categorical: str = typer.Option(None, "--categorical",
                                    help="Comma-separated columns to treat as categorical."),
    numeric: str = typer.Option(None, "--numeric",
                                help="Comma-separated columns to treat as numeric."),
    seed: int = SeedOpt(0),
    threads: int = ThreadsOpt(1, help="Threads for the learner."),
    tune: bool = TuneOpt,
    budget: str = BudgetOpt,
    workspace: Path = WorkspaceOpt,
    engine: str = BehaviorEngineOpt,
    spark_master: str = SparkMasterOpt,
    spark_conf: list[str] = SparkConfOpt,
    json_: bool = JsonOpt,
) -> None:
    """Evaluate on plain files (--train/--test/--target) or on the workspace (time split)."""
    _check_model(model)
    budget_ = _budget(tune, budget)
    check_engine(engine)
    if engine == "spark":
        out = _evaluate_spark(train_file, test_file, target, model, fmt, _cols(categorical),
                              _cols(numeric), seed, tune, spark_master, spark_conf, json_)
    elif train_file or test_file:
        if not (train_file and test_file):
            raise InputError("plain-file mode needs both --train and --test (and --target).")
        if fmt == "criteo":
            target = target or "label"
        if not target:
            raise InputError("--target is required with --train/--test: name the 0/1 column.")
        from adwise.behavior._pipeline import evaluate_files

        with progress("tuning" if tune else "fitting", enabled=not json_) as cb:
            out = evaluate_files(train_file, test_file, target, model=model, fmt=fmt,
                                 categorical=_cols(categorical), numeric=_cols(numeric),
                                 seed=seed, n_jobs=threads, tune=budget_, progress=cb)
    else:
        from adwise.behavior._pipeline import train_workspace

        ws = open_workspace(workspace)
        res = train_workspace(ws, model=model, seed=seed, n_jobs=threads, save=False,
                              conversion=False, tune=budget_)
        out = {k: v for k, v in res.metrics.items() if k != "reliability"}
        out["split"] = res.split
    if engine == "embedded":
        out.update(engine="embedded", model_family=_FAMILY.get(model, model))
    if json_:
        emit_json(out)
        return
    console.print(f"{model} ({out['model_family']} on the {engine} engine): {_summary(out)}")
    if "split" in out:
        console.print(f"test split: {out['split']}")
    if "tuning" in out:
        console.print(_tuning_line(out["tuning"]))
    if out.get("blend"):
        console.print(_blend_line(out["blend"]))
    console.print(f"fit {out['fit_seconds']:.1f} s, predict "
                  f"{out['predict_rows_per_second'] or 0:,.0f} rows/s")


def _id_notes(pred, frame, raw_ids: bool) -> list[str]:
    """A warning when fewer than half of the rows' users (or ads) are in the workspace."""
    users, ads = pred.known_share(frame)
    out = []
    if users < 0.5:
        hint = ("" if raw_ids else " If the file holds your raw user ids (as in your logs), "
                "add --raw-ids so they are pseudonymised like at ingest.")
        out.append(f"only {users:.0%} of the rows' user_id values are users of this workspace;"
                   f" the others are scored as new users with no history.{hint}")
    if ads < 0.5:
        out.append(f"only {ads:.0%} of the rows' ad_id values are ads of this workspace; the "
                   "others are scored as new ads with no history.")
    return out


def _evaluate_spark(train_file: str | None, test_file: str | None, target: str | None,
                    model: str, fmt: str | None, categorical: list[str] | None,
                    numeric: list[str] | None, seed: int, tune: bool, master: str | None,
                    conf: list[str] | None, json_: bool) -> dict:
    """``evaluate --engine spark``: plain files only, XGBoost."""
    if not (train_file and test_file and target):
        raise InputError("--engine spark evaluates plain files: give --train, --test and "
                         "--target (paths Spark reads).")
    _check_spark_model(model, tune)
    from adwise.behavior._spark import evaluate_files_spark
    from adwise.engine import parse_conf, spark_session

    settings = parse_conf(conf)
    with progress("fitting on Spark", enabled=not json_), \
            spark_session(master, settings) as spark:
        return evaluate_files_spark(spark, train_file, test_file, target, fmt=fmt,
                                    categorical=categorical, numeric=numeric, seed=seed,
                                    model=model)


@app.command()
def predict(
    # str, not Path: a Path would fold the // of a URI Spark reads (hdfs://, s3a://)
    input_file: str = typer.Option(..., "--input", "-i", "--data",
                                   help="Events to score: user_id, ad_id, ts, placement, ... "
                                        "(with --engine spark: any path Spark reads)."),
    out: str = typer.Option(None, "--out", "-o",
                            help="Write predictions here (.csv/.parquet; with --engine spark a "
                                 "new Parquet folder, required)."),
    explain: int = typer.Option(0, "--explain", min=0, max=50,
                                help="Add the top-K feature contributions per row."),
    raw_ids: bool = typer.Option(False, "--raw-ids",
                                 help="user_id values are raw ids: pseudonymise them first."),
    workspace: Path = WorkspaceOpt,
    engine: str = EngineOpt("batch scoring with a model trained with --engine spark; history "
                            "features strictly before each event's ts"),
    model_version: str = typer.Option(None, "--model-version",
                                      help="--engine spark: the registry version to score "
                                           "with (default: the promoted one)."),
    spark_master: str = SparkMasterOpt,
    spark_conf: list[str] = SparkConfOpt,
    json_: bool = JsonOpt,
) -> None:
    """Score events with the promoted model: p_click, p_convert, expected value (+ reasons)."""
    from adwise.behavior._pipeline import load_predictor, read_plain
    from adwise.data import write_csv

    check_engine(engine)
    if engine == "spark":
        _predict_spark(input_file, out, explain, raw_ids, workspace, model_version,
                       spark_master, spark_conf, json_)
        return
    if model_version:
        raise InputError("--model-version is for --engine spark; the embedded engine scores "
                         "with the promoted model (`adwise models promote` changes it).")
    out = output_file(Path(out)) if out else None
    ws = open_workspace(workspace)
    pred = load_predictor(ws)
    if pred is None:
        raise InputError("no behavior model in this workspace; train one with "
                         "`adwise behavior train`.")
    frame = read_plain(input_file)
    if len(frame) == 0:
        raise InputError(f"{input_file}: the file has no rows.")
    given = None
    if raw_ids and "user_id" in frame.columns:
        given = frame["user_id"].to_numpy(copy=True)
        frame["user_id"] = ws.pseudonyms(frame["user_id"].astype(str))
    missing = [c for c in ("user_id", "ad_id") if c not in frame.columns]
    if missing:
        raise InputError(f"{input_file}: no column {missing[0]!r}; give the events to score "
                         "with user_id and ad_id (and ts, placement, ...).")
    notes = _id_notes(pred, frame, raw_ids)
    own = pred.stored_clicks(frame)
    n_own = int((~np.isnan(own)).sum())
    if n_own:
        notes.append(
            f"{n_own:,} of {len(frame):,} rows are events already in the workspace: their own "
            "click is left out of the history they are scored with (the user's later events "
            "still count, so these scores are optimistic; the honest figures are the test "
            "metrics of `adwise behavior train`).")
    for n in notes:
        err_console.print(f"[yellow]warning:[/yellow] {n}")
    res = frame[[c for c in ("event_id", "user_id", "ad_id") if c in frame.columns]].copy()
    if given is not None:  # answer with the ids as given: a pseudonym beside its raw id helps
        res["user_id"] = given  # whoever tries to guess the key
    own_arg = own if n_own else None
    res["p_click"] = pred.predict_ctr(frame, own_arg)
    cvr = pred.predict_cvr(frame, own_arg)
    if cvr is not None:
        res["p_convert"] = cvr
        res["p_click_and_convert"] = res["p_click"] * cvr
    if explain:
        reasons = pred.explain(frame, k=explain, own_clicks=own_arg)
        res["reasons"] = [
            "; ".join(f"{n} {v:+.3f}" for n, v in r) for r in reasons
        ]
    if out:
        if out.suffix.lower() in (".parquet", ".pq"):
            res.to_parquet(out, index=False)
        else:
            write_csv(res, out)
    if json_:
        emit_json({"version": pred.version, "rows": len(res), "warnings": notes,
                   "stored_events": n_own,
                   "predictions": res.head(1000).to_dict(orient="records"),
                   "truncated": len(res) > 1000, "out": str(out) if out else None,
                   "engine": "embedded",
                   "model_family": getattr(pred.ctr, "model_family",
                                           _FAMILY.get(pred.ctr.model))})
        return
    console.print(f"scored {len(res):,} rows with behavior {pred.version}; mean p_click "
                  f"{res['p_click'].mean():.4f}" + (f"; written to {out}" if out else ""))
    if not out:
        console.print(res.head(20).to_string(index=False))


def _predict_spark(data: str, out: str | None, explain: int, raw_ids: bool,
                   workspace: Path | None, version: str | None, master: str | None,
                   conf: list[str] | None, json_: bool) -> None:
    """``predict --engine spark``: batch scoring to Parquet."""
    if not out:
        raise InputError("--engine spark writes Parquet: give --out PATH (a new folder, e.g. "
                         "scores.parquet).")
    if explain:
        raise InputError("--explain is for the embedded engine; --engine spark writes p_click "
                         "only.")
    from adwise.behavior._spark import predict_spark
    from adwise.engine import parse_conf, spark_session

    settings = parse_conf(conf)
    ws = open_workspace(workspace)
    with progress("scoring on Spark", enabled=not json_), \
            spark_session(master, settings) as spark:
        res = predict_spark(spark, ws, data, out, raw_ids=raw_ids, version=version)
    if json_:
        emit_json(res)
        return
    console.print(f"scored {res['rows']:,} rows with behavior {res['version']} "
                  f"({res['model_family']}) on Spark; written to {out}")
