"""``adwise creative``: generate, train, approve / reject, list and export creatives."""

from __future__ import annotations

from pathlib import Path

import typer

from adwise.cli._common import (
    JsonOpt,
    NumberOpt,
    SeedOpt,
    ThreadsOpt,
    WorkspaceOpt,
    console,
    emit_json,
    err_console,
    output_file,
    progress,
)

app = typer.Typer(help="What should the ad say to this audience?", no_args_is_help=True)


def _maybe_workspace(path: Path | None):
    """The workspace when one is given or exists at the default place, else None."""
    from adwise.data import Workspace, resolve_workspace_path

    if path is not None:
        return Workspace.open(path)
    p = resolve_workspace_path(None)
    return Workspace.open(p) if (p / "config.toml").exists() else None


@app.command()
def generate(
    product: str = typer.Option(
        ..., "--product", "-p", help="Product brief: 'Name: fact, fact, $price, offer'."
    ),
    audience: str = typer.Option(None, "--audience", "-a", help="Whom the ad is for, in words."),
    segment: str = typer.Option(
        None, "--segment", help="An audience segment id (needs an audience model)."
    ),
    other_audience: list[str] = typer.Option(
        None,
        "--other-audience",
        help="Another audience you target (repeatable): copy that speaks to it more than to "
        "--audience is ranked last.",
    ),
    n: int = NumberOpt(5, "--n", low=1, high=50, help="How many creatives."),
    lang: str = typer.Option("en", "--lang", help="en or zh."),
    backend: str = typer.Option("auto", "--backend", help="auto, local, openai or template."),
    price: str = typer.Option(None, "--price", help="Price as shown, e.g. '$89'."),
    offer: str = typer.Option(None, "--offer", help="Current offer, e.g. 'free shipping'."),
    voice: str = typer.Option("", "--voice", help="Brand voice in a few words."),
    banned: list[str] = typer.Option(None, "--banned", help="A banned word or claim (repeatable)."),
    require: list[str] = typer.Option(
        None, "--require", help="A term every creative must contain (repeatable)."
    ),
    base_url: str = typer.Option(
        None, "--base-url", help="OpenAI-compatible endpoint (else $ADWISE_OPENAI_BASE_URL)."
    ),
    model: str = typer.Option(None, "--model", help="Model name for the openai backend."),
    threads: int = ThreadsOpt(1, help="CPU threads for the local model."),
    model_file: Path = typer.Option(
        None,
        "--model-file",
        help="Any GGUF for the local backend (else $ADWISE_LLM_MODEL, else the packaged "
        "Gemma 3 270M); instruct models with a chat template get a chat prompt.",
    ),
    time_limit: float = NumberOpt(
        60.0, "--time-limit", low=0, high=3600, low_open=True,
        help="Seconds for generation; returns what passed so far.",
    ),
    seed: int = SeedOpt(0),
    advertiser: str = typer.Option(
        None, "--advertiser", help="Take few-shot examples from this advertiser's ads."
    ),
    store: bool = typer.Option(
        True, "--store/--no-store", help="Store as pending in the workspace."
    ),
    workspace: Path = WorkspaceOpt,
    json_: bool = JsonOpt,
) -> None:
    """Write ad creatives for a product and an audience; each passes every check."""
    from adwise.creative._pipeline import generate as run

    ws = _maybe_workspace(workspace)
    with progress("generating creatives", enabled=not json_) as cb:
        res = run(
            product,
            audience,
            ws=ws,
            segment_id=segment,
            n=n,
            lang=lang,
            backend=backend,
            backend_options={
                "threads": threads,
                "base_url": base_url,
                "model": model,
                "model_file": str(model_file) if model_file else None,
            },
            time_limit=time_limit,
            seed=seed,
            advertiser=advertiser,
            other_audiences=other_audience or [],
            store=store,
            progress=cb,
            price=price,
            offer=offer,
            voice=voice,
            banned=banned or [],
            required=require or [],
        )
    if json_:
        emit_json(res.to_dict())
        return
    from rich.table import Table

    t = Table(title=f"creatives ({res.backend} backend)")
    for c in ("id", "headline", "description", "score", "source"):
        t.add_column(c)
    for c in res.creatives:
        t.add_row(
            c.get("id", "-"), c["headline"], c["description"], f"{c['score']:.3f}", c["source"]
        )
    console.print(t)
    s = res.stats
    console.print(
        f"{s['returned']} of {s['requested']} returned; raw candidates passing checks: "
        f"{s['raw_passed']}/{s['raw_candidates']}; {s['seconds']:.1f} s"
        + (
            f" (the {s['time_limit']:g} s limit was reached: returned what passed by then)"
            if s["timed_out"]
            else ""
        )
    )
    share = ", ".join(f"{k} {v}" for k, v in s["sources"].items())
    console.print(f"written by: {share}; by a model: {s['model_share']:.0%}")
    for src, rates in s["check_pass_rate"].items():
        low = ", ".join(f"{k} {v:.0%}" for k, v in rates.items() if v < 1)
        console.print(f"{src} candidates passing each check: {low or 'all 100%'}")
    if ws is not None and res.creatives and store:
        err_console.print("stored as pending: approve with `adwise creative approve ID`")


@app.command()
def train(
    c: float = NumberOpt(1.0, "--C", low=0, high=1e6, low_open=True,
                         help="Inverse L2 regularisation of the CTR model."),
    workspace: Path = WorkspaceOpt,
    json_: bool = JsonOpt,
) -> None:
    """Learn a text CTR model from the workspace's past creatives and save it."""
    from adwise.cli._common import open_workspace
    from adwise.creative._pipeline import train as run

    out = run(open_workspace(workspace), C=c)
    if json_:
        emit_json(out)
        return
    console.print(f"creative {out['version']} saved; metrics: {out['metrics']}")


def _decide(
    creative_id: str, status: str, note: str | None, workspace: Path | None, json_: bool
) -> None:
    from adwise.cli._common import open_workspace
    from adwise.creative._pipeline import set_status

    row = set_status(open_workspace(workspace), creative_id, status, note)
    if json_:
        emit_json(row)
        return
    console.print(f"{creative_id}: {status}")


@app.command()
def approve(
    creative_id: str = typer.Argument(..., help="Creative id (cr_...)."),
    note: str = typer.Option(None, "--note"),
    workspace: Path = WorkspaceOpt,
    json_: bool = JsonOpt,
) -> None:
    """Approve a pending creative (only approved ones can be served or exported)."""
    _decide(creative_id, "approved", note, workspace, json_)


@app.command()
def reject(
    creative_id: str = typer.Argument(..., help="Creative id (cr_...)."),
    note: str = typer.Option(None, "--note"),
    workspace: Path = WorkspaceOpt,
    json_: bool = JsonOpt,
) -> None:
    """Reject a creative."""
    _decide(creative_id, "rejected", note, workspace, json_)


@app.command("list")
def list_(
    status: str = typer.Option(None, "--status", help="pending, approved or rejected."),
    workspace: Path = WorkspaceOpt,
    json_: bool = JsonOpt,
) -> None:
    """Stored creatives and their status."""
    from adwise.cli._common import open_workspace
    from adwise.creative._pipeline import list_creatives

    rows = list_creatives(open_workspace(workspace), status)
    if json_:
        emit_json({"creatives": rows})
        return
    from rich.table import Table

    t = Table(title="creatives")
    for c in ("creative_id", "status", "headline", "description"):
        t.add_column(c)
    for r in rows:
        t.add_row(r["creative_id"], r["status"], r["headline"], r["description"])
    console.print(t)


@app.command()
def export(
    out: Path = typer.Option(..., "--out", "-o", help="A .csv or .jsonl file."),
    workspace: Path = WorkspaceOpt,
    json_: bool = JsonOpt,
) -> None:
    """Write the approved creatives (and only those) to a file."""
    from adwise.cli._common import open_workspace
    from adwise.creative._pipeline import export_creatives

    k = export_creatives(open_workspace(workspace), output_file(out))
    if json_:
        emit_json({"exported": k, "out": str(out)})
        return
    console.print(f"{k} approved creatives written to {out}")
