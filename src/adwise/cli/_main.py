"""The root ``adwise`` command and the commands that are not a capability's."""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from adwise._exceptions import AdwiseError, InputError
from adwise._plugins import CAPABILITY_ORDER, SUMMARIES, Capability, load_ref
from adwise._version import __version__
from adwise.cli import _common
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
    setup_logging,
)

# Heavy libraries (pandas, DuckDB, scikit-learn, LightGBM, FastAPI) are imported inside the
# commands, and a capability's command group only when it is used, so that `adwise --version`
# and `adwise --help` start in well under a second.

__all__ = ["app", "main"]


class _LazyGroup(TyperGroup):
    """The root group: capability groups are imported when a command names them.

    ``adwise --help`` lists them from their one-line summaries without importing them.
    """

    def _capabilities(self) -> list[str]:
        return [
            n
            for n in CAPABILITY_ORDER
            if n not in self.commands and importlib.util.find_spec(f"adwise.{n}") is not None
        ]

    def list_commands(self, ctx: Any) -> list[str]:
        return [*self.commands, *self._capabilities()]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in self._capabilities():
            if getattr(self, "_listing", False):
                return TyperGroup(name=cmd_name, help=SUMMARIES.get(cmd_name, ""))
            group = _load_capability_group(cmd_name)
            if group is not None:
                self.commands[cmd_name] = group
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, cmd, rest = super().resolve_command(ctx, args)
        if name in CAPABILITY_ORDER and rest and not rest[0].startswith("-"):
            _common.invoked = (name, rest[0])
        return name, cmd, rest

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


def _load_capability_group(name: str) -> Any:
    """The click group of capability ``name``, built as ``app.add_typer`` would build it."""
    cap = getattr(importlib.import_module(f"adwise.{name}"), "CAPABILITY", None)
    if not isinstance(cap, Capability) or not cap.cli:
        return None
    holder = typer.Typer()
    holder.add_typer(load_ref(cap.cli), name=name, help=cap.summary)
    return typer.main.get_group(holder).commands[name]


app = typer.Typer(
    cls=_LazyGroup,
    name="adwise",
    help="adwise: ad-marketing intelligence on your own ad logs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
models_app = typer.Typer(
    help="List, inspect, promote and roll back saved models.", no_args_is_help=True
)
workspace_app = typer.Typer(
    help="Inspect and correct a workspace: info, drop a table, delete rows.", no_args_is_help=True
)
app.add_typer(models_app, name="models")
app.add_typer(workspace_app, name="workspace")


def _version(value: bool) -> None:
    if value:
        console.print(f"adwise {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: int = typer.Option(
        0,
        "--verbose",
        "-v",
        min=0,
        max=3,
        help="Log detail: 1 progress notes, 2 debug. -v, -vv, -v 2 and --verbose 2 all work.",
    ),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True),
) -> None:
    setup_logging(verbose)


def _normalise_verbosity(args: Sequence[str]) -> list[str]:
    """Rewrite the root's ``-v``, ``-vv`` and a bare ``--verbose`` as ``--verbose N``.

    Click cannot give one option both a count form (``-vv``) and a value form (``-v 2``).
    Only the options before the command name are touched.
    """
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("-") or arg == "--":
            return out + list(args[i:])
        nxt = args[i + 1] if i + 1 < len(args) else ""
        if arg in ("-v", "--verbose") and nxt.isdigit():
            out += ["--verbose", nxt]
            i += 2
            continue
        if re.fullmatch(r"-v+", arg):
            out += ["--verbose", str(len(arg) - 1)]
        elif arg == "--verbose":
            out += ["--verbose", "1"]
        else:
            out.append(arg)
        i += 1
    return out


@app.command()
def init(
    directory: Path = typer.Argument(None, help="Folder (default: ./adwise-workspace)."),
    no_pseudonymise: bool = typer.Option(
        False, "--no-pseudonymise", help="Store user ids as given (an explicit privacy choice)."
    ),
) -> None:
    """Create a workspace: a DuckDB file, a models/ folder and a config with a new HMAC key."""
    from adwise.data import Workspace

    ws = Workspace.init(directory, pseudonymise_ids=not no_pseudonymise)
    console.print(f"workspace ready at [bold]{ws.path}[/bold]")


@app.command()
def ingest(
    # str, not Path: a Path would fold the // of a URI Spark reads (hdfs://, s3a://)
    file: str = typer.Argument(..., help="CSV (.csv, .csv.gz), Parquet or JSON Lines file "
                               "(with --engine spark: any file, folder or URI Spark reads)."),
    table: str = typer.Option(..., "--table", "-t", help="events, users or ads."),
    map_: list[str] = typer.Option(None, "--map", help="Rename a column: SRC=DST (repeatable)."),
    allow_pii: list[str] = typer.Option(
        None, "--allow-pii", help="Keep a column that holds personal data as it is (repeatable)."
    ),
    scrub_pii: bool = typer.Option(
        False, "--scrub-pii", help="Mask e-mails, phones, IPs and card numbers inside text "
        "([email], [phone], [ip], [card]) instead of refusing the file."
    ),
    ts_format: str = typer.Option(
        None,
        "--ts-format",
        help="strftime pattern of ts, e.g. %y%m%d%H for 14102100 (else ISO-8601, epoch "
        "seconds/ms, YYYYMMDD, YYYYMMDDHH, YYMMDDHH, YYYYMMDDHHMMSS are detected).",
    ),
    replace: bool = typer.Option(
        False, "--replace", help="Replace stored events with the same key (event_id or content)."
    ),
    categorical: list[str] = typer.Option(
        None,
        "--categorical",
        help="Store a column as text codes, not numbers (e.g. integer-coded ids; repeatable; "
        "remembered for later ingests).",
    ),
    workspace: Path = WorkspaceOpt,
    engine: str = EngineOpt("validate on Spark and write Parquet to --out; user ids get the "
                            "workspace's pseudonyms"),
    out: str = typer.Option(
        None, "--out",
        help="With --engine spark: the Parquet folder to write (any path Spark writes, e.g. "
        "hdfs://...; must not exist; written beside it, then renamed into place).",
    ),
    spark_master: str = SparkMasterOpt,
    spark_conf: list[str] = SparkConfOpt,
    json_: bool = JsonOpt,
) -> None:
    """Validate a file against the data contract and add it to the workspace (all or nothing).

    With --engine spark the file is checked by the same contract on Spark and written as
    Parquet to --out instead (all or nothing too).
    """
    from adwise.data import parse_mapping

    check_engine(engine)
    if engine == "spark":
        _ingest_spark(file, table, map_, allow_pii, scrub_pii, ts_format, replace, categorical,
                      workspace, out, spark_master, spark_conf, json_)
        return
    if out:
        raise InputError("--out is for --engine spark; the embedded engine ingests into the "
                         "workspace.")
    ws = open_workspace(workspace)
    with progress(f"ingesting {Path(file).name}") as cb:
        rep = ws.ingest(
            file,
            table,
            mapping=parse_mapping(map_),
            allow_pii=allow_pii or (),
            progress=cb,
            ts_format=ts_format,
            replace=replace,
            categorical=categorical or (),
            scrub_pii=scrub_pii,
        )
    if json_:
        emit_json(vars(rep) | {"engine": "embedded", "out": None})
        return
    for w in rep.warnings:
        err_console.print(f"[yellow]warning:[/yellow] {w}")
    console.print(
        f"{rep.table}: read {rep.rows_read:,} rows, added {rep.rows_added:,}"
        + (f", replaced {rep.rows_updated:,}" if rep.rows_updated else "")
    )


def _ingest_spark(file: str, table: str, map_: list[str] | None, allow_pii: list[str] | None,
                  scrub_pii: bool, ts_format: str | None, replace: bool,
                  categorical: list[str] | None, workspace: Path | None, out: str | None,
                  master: str | None, conf: list[str] | None, json_: bool) -> None:
    """``ingest --engine spark``: the contract on Spark, Parquet at ``out``."""
    from adwise.data import parse_mapping
    from adwise.engine import ingest_spark, parse_conf, spark_session

    if not out:
        raise InputError("--engine spark writes Parquet: give --out PATH (a new folder).")
    if scrub_pii or replace:
        raise InputError(f"{'--scrub-pii' if scrub_pii else '--replace'} is for the embedded "
                         "engine; --engine spark writes a new Parquet folder and refuses "
                         "personal data (or keeps it with --allow-pii).")
    settings = parse_conf(conf)
    mapping = parse_mapping(map_)
    ws = open_workspace(workspace)
    key = ws.hmac_key if ws.pseudonymises else None
    with progress(f"ingesting {file} on Spark", enabled=not json_), \
            spark_session(master, settings) as spark:
        rep = ingest_spark(spark, file, table, out, key, mapping=mapping, ts_format=ts_format,
                           categorical=categorical or (), allow_pii=allow_pii or ())
    if json_:
        emit_json(rep)
        return
    for w in rep["warnings"]:
        err_console.print(f"[yellow]warning:[/yellow] {w}")
    console.print(f"{table}: read {rep['rows_read']:,} rows, wrote {rep['rows_added']:,} "
                  f"to {out}")


@workspace_app.command("info")
def workspace_info(workspace: Path = WorkspaceOpt, json_: bool = JsonOpt) -> None:
    """Tables, row counts, date range, CTR, categorical columns and stale models."""
    from rich.table import Table

    info = open_workspace(workspace).info()
    if json_:
        emit_json(info)
        return
    t = Table(title=f"workspace {info['path']}")
    t.add_column("table")
    t.add_column("rows", justify="right")
    for name, n in info["tables"].items():
        t.add_row(name, f"{n:,}")
    console.print(t)
    if "ctr" in info:
        console.print(
            f"events {info['first_event']} .. {info['last_event']}; CTR {info['ctr']:.2%}; "
            f"{info['distinct_users']:,} users, {info['distinct_ads']:,} ads"
        )
    for tbl, cols in info.get("categorical", {}).items():
        console.print(f"{tbl}: categorical {', '.join(cols)}", markup=False)
    console.print(f"models: {', '.join(info['models']) or 'none yet'}")
    for m in info.get("stale_models", []):
        console.print(
            f"stale: {m['model']} {m['version']} was trained before the data changed; retrain "
            f"with `{m['retrain']}`",
            markup=False,
            soft_wrap=True,
        )


_TableArg = typer.Argument(..., help="events, users or ads.")


@workspace_app.command("drop")
def workspace_drop(
    table: str = _TableArg,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do it (without it, say what would go)."),
    workspace: Path = WorkspaceOpt,
    json_: bool = JsonOpt,
) -> None:
    """Empty a table: its rows, added columns and --categorical declarations go."""
    ws = open_workspace(workspace)
    if table not in ws.row_counts():
        raise InputError(f"unknown table {table!r}; use one of: events, users, ads.")
    if not yes:
        n = ws.row_counts()[table]
        if json_:
            emit_json({"table": table, "rows_dropped": 0, "would_drop": n})
            return
        console.print(
            f"would drop all {n:,} rows of {table}; run again with --yes to do it", markup=False
        )
        return
    n = ws.drop(table)
    if json_:
        emit_json({"table": table, "rows_dropped": n})
        return
    console.print(f"{table}: dropped {n:,} rows", markup=False)


@workspace_app.command("delete")
def workspace_delete(
    table: str = _TableArg,
    where: str = typer.Option(
        ...,
        "--where",
        help="SQL condition, e.g. \"ts < '2026-01-01'\" (user ids are stored pseudonymised).",
    ),
    workspace: Path = WorkspaceOpt,
    json_: bool = JsonOpt,
) -> None:
    """Delete the rows of a table that match a condition (one transaction)."""
    n = open_workspace(workspace).delete(table, where)
    if json_:
        emit_json({"table": table, "rows_deleted": n})
        return
    console.print(f"{table}: deleted {n:,} rows", markup=False)


@app.command()
def synth(
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write into."),
    users: int = NumberOpt(20000, "--users", low=10, high=10_000_000),
    ads: int = NumberOpt(300, "--ads", low=2, high=1_000_000),
    days: int = NumberOpt(14, "--days", low=1, high=3660),
    seed: int = SeedOpt(0),
    fmt: str = typer.Option("parquet", "--format", help="parquet or csv."),
    lang: str = typer.Option("en", "--lang", help="Creative text language: en or zh."),
) -> None:
    """Write a synthetic ad world with a known ground truth (events, users, ads, truth)."""
    from adwise.data import write_world

    if fmt not in ("parquet", "csv"):
        raise InputError(f"--format must be parquet or csv; got {fmt!r}.")
    if lang not in ("en", "zh"):
        raise InputError(f"--lang must be en or zh; got {lang!r}.")
    with progress("synthesising") as cb:
        path = write_world(
            out, n_users=users, n_ads=ads, days=days, seed=seed, lang=lang, fmt=fmt, progress=cb
        )
    console.print(f"synthetic world written to [bold]{path}[/bold]")


_LEAD_METRICS = ("auc", "logloss", "ece", "base_rate", "ndcg@10", "precision_at_3_vs_truth",
                 "silhouette", "en_holdout_spearman", "qini", "value_ratio")


@models_app.command("list")
def models_list(
    capability: str = typer.Argument(None), workspace: Path = WorkspaceOpt, json_: bool = JsonOpt
) -> None:
    """Every saved version, marking the promoted one."""
    from rich.table import Table

    reg = open_workspace(workspace).registry
    rows = reg.list(capability)
    if json_:
        emit_json(
            {
                "models": [
                    {
                        "capability": m.capability,
                        "version": m.version,
                        "current": m.current,
                        "created": m.metadata.get("created"),
                        "metrics": m.metadata.get("metrics", {}),
                    }
                    for m in rows
                ]
            }
        )
        return
    t = Table(title="models")
    for c in ("capability", "version", "current", "created", "metrics"):
        t.add_column(c)
    for m in rows:
        metrics = m.metadata.get("metrics", {})
        # quality first (AUC, log loss, ECE, base rate...); accuracy never leads, as at a 2 %
        # base rate "nobody clicks" scores 0.98
        keys = [k for k in _LEAD_METRICS if k in metrics] + [
            k for k in metrics if k not in _LEAD_METRICS and k not in ("accuracy", "threshold")]
        met = ", ".join(
            f"{k}={metrics[k]:.4g}" if isinstance(metrics[k], float) else f"{k}={metrics[k]}"
            for k in keys[:4]
        )
        t.add_row(
            m.capability,
            m.version,
            "*" if m.current else "",
            str(m.metadata.get("created", "")),
            met,
        )
    console.print(t)


@models_app.command("show")
def models_show(
    capability: str, version: str = typer.Argument(None), workspace: Path = WorkspaceOpt
) -> None:
    """The metadata of a version (the promoted one by default), as JSON."""
    mv = open_workspace(workspace).registry.get(capability, version)
    emit_json({"version": mv.version, "current": mv.current, **mv.metadata})


@models_app.command("promote")
def models_promote(capability: str, version: str, workspace: Path = WorkspaceOpt) -> None:
    """Make a version the one that is served."""
    open_workspace(workspace).registry.promote(capability, version)
    console.print(f"{capability}: {version} promoted")


@models_app.command("rollback")
def models_rollback(capability: str, workspace: Path = WorkspaceOpt) -> None:
    """Go back to the previously promoted version."""
    v = open_workspace(workspace).registry.rollback(capability)
    console.print(f"{capability}: rolled back to {v}")


@app.command()
def demo(
    out: Path = typer.Option(Path("adwise-demo"), "--out", help="Folder for the demo."),
    users: int = NumberOpt(5000, "--users", low=100, high=1_000_000),
    ads: int = NumberOpt(200, "--ads", low=10, high=100_000),
    days: int = NumberOpt(14, "--days", low=2, high=366),
    seed: int = SeedOpt(7),
) -> None:
    """Synthesise an ad world, ingest it, run every capability, print findings, write a report."""
    from adwise._demo import run_demo

    run_demo(out, users=users, ads=ads, days=days, seed=seed, console=console)


@app.command()
def report(
    out: Path = typer.Option(Path("report.html"), "--out", "-o"),
    workspace: Path = WorkspaceOpt,
) -> None:
    """Write one self-contained HTML report of the workspace and its models."""
    from adwise.report import build_report

    path = build_report(open_workspace(workspace), output_file(out))
    console.print(f"report written to [bold]{path}[/bold]")


def _add_service_commands() -> None:
    try:
        from adwise.cli._service import register
    except ModuleNotFoundError as exc:  # the service face is optional in a partial checkout
        if exc.name != "adwise.cli._service":
            raise
        return
    register(app)


_add_service_commands()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 ok, 2 bad input, 1 internal error)."""
    args = _normalise_verbosity(sys.argv[1:] if argv is None else argv)
    try:
        # Standalone mode: usage errors print their message and exit 2, --help exits 0.
        app(args=args, prog_name="adwise")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except InputError as exc:
        err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except AdwiseError as exc:
        err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        err_console.print("interrupted", markup=False)
        return 1
    finally:
        _common.invoked = None
    return 0
