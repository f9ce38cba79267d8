"""``adwise demo``: a fresh workspace, a synthetic world, every capability, a report."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from rich.console import Console
from rich.panel import Panel

from adwise._exceptions import InputError
from adwise._plugins import SUMMARIES, DemoContext, DemoResult, discover, load_ref
from adwise.cli._common import progress
from adwise.data import Workspace, write_world
from adwise.report import build_report

__all__ = ["next_steps", "run_demo"]

log = logging.getLogger(__name__)
_MARKER = ".adwise-demo"


def _fresh_folder(out: Path) -> None:
    if out.exists():
        if not (out / _MARKER).exists():
            raise InputError(
                f"{out}: the folder exists and was not made by `adwise demo`; choose another "
                "--out (the demo replaces its own folder only)."
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / _MARKER).write_text("made by adwise demo; replaced on the next run\n")


def _print_truth(world: Path, console: Console) -> None:
    """The hidden segments of the synthetic world, so the findings below can be judged."""
    import json

    truth = json.loads((world / "truth.json").read_text())
    lines = [
        f"{s['name']}: {s['share']:.0%} of users, into {', '.join(s['top_categories'][:3])}"
        for s in truth.get("segments", [])
    ]
    if lines:
        console.print(Panel.fit("\n".join(lines), title="the world's hidden segments (truth)"))


def run_demo(
    out: Path, users: int, ads: int, days: int, seed: int, console: Console
) -> dict[str, DemoResult]:
    """Run the whole demo; return each capability's result."""
    t0 = time.perf_counter()
    out = Path(out)
    _fresh_folder(out)
    world = out / "world"
    with progress("synthesising the ad world") as cb:
        write_world(world, n_users=users, n_ads=ads, days=days, seed=seed, progress=cb)
    ws = Workspace.init(out / "workspace")
    for table in ("users", "ads", "events"):
        with progress(f"ingesting {table}") as cb:
            rep = ws.ingest(world / f"{table}.parquet", table, progress=cb)
        console.print(f"ingested {rep.rows_added:,} {table}")
    info = ws.info()
    console.print(
        Panel.fit(
            f"{info['tables']['events']:,} impressions from {info['distinct_users']:,} users on "
            f"{info['distinct_ads']:,} ads, {info['first_event'][:10]} .. "
            f"{info['last_event'][:10]}\nCTR {info['ctr']:.2%}, "
            f"conversions per impression {info['conversion_rate']:.3%}",
            title="data",
        )
    )
    _print_truth(world, console)
    ctx = DemoContext(workspace=ws, world_dir=world)
    caps = discover()
    sections = []
    for name, cap in caps.items():
        if cap.demo is None:
            continue
        t1 = time.perf_counter()
        with progress(f"{name}: training and evaluating") as cb:
            ctx.progress = cb
            result: DemoResult = load_ref(cap.demo)(ctx)
        ctx.results[name] = result
        sections.extend(result.sections)
        body = "\n".join(result.lines) or "(nothing to show)"
        console.print(
            Panel.fit(body, title=f"{name} — {SUMMARIES[name]} ({time.perf_counter() - t1:.1f} s)")
        )
    missing = [n for n in SUMMARIES if n not in caps]
    if missing:
        console.print("still to come: " + ", ".join(f"{n} ({SUMMARIES[n]})" for n in missing))
    report = build_report(ws, out / "report.html", world_dir=world, extra=sections)
    console.print(f"done in {time.perf_counter() - t0:.0f} s")
    # plain and unwrapped, so each command can be copied as one line
    console.print(next_steps(report, ws.path), soft_wrap=True, markup=False, highlight=False)
    return ctx.results


def _adwise_command() -> str:
    """``adwise`` when that is the one on PATH, else the path of this environment's script
    (``make demo`` runs ``.venv/bin/adwise`` without activating the environment)."""
    import shlex
    import sys

    here = Path(sys.executable).parent / "adwise"
    found = shutil.which("adwise")
    if not here.exists() or (found and Path(found).resolve() == here.resolve()):
        return "adwise"
    try:
        return shlex.quote(str(here.relative_to(Path.cwd())))
    except ValueError:
        return shlex.quote(str(here))


def next_steps(report: Path, workspace: Path) -> str:
    """The exact commands to open the report and serve the demo's workspace (which is not the
    default ``./adwise-workspace``, so ``adwise serve`` alone would not find it)."""
    import shlex

    ws = shlex.quote(str(Path(workspace).resolve()))
    exe = _adwise_command()
    return "\n".join([
        "open the report (one file, works offline):",
        f"  {Path(report).resolve().as_uri()}",
        "serve the demo's workspace (REST API and dashboard):",
        f"  {exe} keys create -w {ws} --name me --scope admin",
        f"  {exe} serve -w {ws}",
        "then browse to http://127.0.0.1:8000/ and paste the key printed above",
    ])
