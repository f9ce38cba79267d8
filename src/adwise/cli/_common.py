"""What every CLI command shares: options, JSON output, progress bars, error handling."""

from __future__ import annotations

import json
import logging
import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console, ConsoleDimensions

from adwise._exceptions import InputError, ParameterError

# The data layer and NumPy are imported inside functions: `adwise --version` and `--help` must
# not pay for pandas and DuckDB.
if TYPE_CHECKING:
    from adwise.data import Workspace

__all__ = [
    "EngineOpt",
    "JsonOpt",
    "NumberOpt",
    "SeedOpt",
    "SparkConfOpt",
    "SparkMasterOpt",
    "ThreadsOpt",
    "WorkspaceOpt",
    "check_engine",
    "console",
    "emit_json",
    "err_console",
    "open_workspace",
    "output_file",
    "progress",
]

# Results that do not go to a terminal (a pipe, a file, a test) are as wide as they need to be,
# so that tables are never cut at rich's default of 80 columns; $COLUMNS still wins when set.
# Not for stderr: its log lines are padded to the full width.
PIPE_WIDTH = 4096


class _Console(Console):
    @property
    def size(self) -> ConsoleDimensions:
        dims = super().size
        if self.is_terminal or os.environ.get("COLUMNS", "").isdigit():
            return dims
        return ConsoleDimensions(PIPE_WIDTH, dims.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)


console = _Console()
err_console = Console(stderr=True)

WorkspaceOpt = typer.Option(
    None,
    "--workspace",
    "-w",
    help="Workspace folder (else $ADWISE_WORKSPACE, else ./adwise-workspace).",
)
JsonOpt = typer.Option(False, "--json", help="Print exactly one JSON object on stdout.")
# the Spark engine's options, the same on every command that has --engine
SparkMasterOpt = typer.Option(None, "--spark-master",
                              help="local[*] (default; else $ADWISE_SPARK_MASTER), "
                                   "spark://HOST:PORT, yarn or k8s://URL.")
SparkConfOpt = typer.Option(None, "--spark-conf", help="A Spark setting KEY=VALUE (repeatable).")


def EngineOpt(on_spark: str) -> Any:
    """``--engine embedded|spark``; ``on_spark`` says what the command runs on Spark."""
    # "\[" keeps the brackets of the extra's name in rich markup
    return typer.Option("embedded", "--engine",
                        help=f"embedded (the default) or spark ({on_spark}; needs "
                             "adwise\\[spark] and Java 17).")


def check_engine(engine: str) -> None:
    """Refuse an ``--engine`` other than embedded or spark (exit 2)."""
    if engine not in ("embedded", "spark"):
        raise InputError(f"--engine must be embedded or spark; got {engine!r}.")


# The capability command being run, as ("behavior", "predict"); set by the root group. Commands
# that use a saved model are warned when the data changed after it was trained.
invoked: tuple[str, str] | None = None
_BUILDS_MODELS = ("train", "evaluate")


def _fmt(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() and abs(bound) < 1e15 else f"{bound:g}"


def _number_check(flag: str, low: float | None, high: float | None, low_open: bool):
    """The one check (and error format) of every bounded numeric option."""

    def check(value: Any) -> Any:
        if value is None:
            return value
        ok = isinstance(value, int) or math.isfinite(value)
        ok = ok and (low is None or value > low or (value == low and not low_open))
        ok = ok and (high is None or value <= high)
        if not ok:
            lo = "" if low is None else f"{'>' if low_open else '>='} {_fmt(low)}"
            hi = "" if high is None else f"<= {_fmt(high)}"
            kind = "an integer" if isinstance(value, int) else "a finite number"
            raise ParameterError(
                f"{flag} must be {kind} {' and '.join(x for x in (lo, hi) if x)}; "
                f"got {value!r}."
            )
        return value

    return check


def NumberOpt(default: Any, *flags: str, low: float | None = None,
              high: float | None = None, low_open: bool = False, help: str | None = None,
              **kw: Any) -> Any:
    """A ``typer.Option`` for a number that must be finite and within ``[low, high]`` (``low``
    excluded with ``low_open``); out of range: exit 2 with ``--flag must be an integer (a
    finite number) >= low and <= high; got value.``"""
    return typer.Option(default, *flags, callback=_number_check(flags[0], low, high, low_open),
                        help=help, **kw)


def SeedOpt(default: int = 0) -> Any:
    """``--seed``: a non-negative integer below 2**31 (what every random generator accepts)."""
    return NumberOpt(default, "--seed", low=0, high=2**31 - 1, help="Random seed.")


def cpu_count() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _cap_threads(value: int) -> int:
    if value is None:
        return value
    if value < 1:
        raise ParameterError(f"--threads must be at least 1; got {value}.")
    cores = cpu_count()
    if value > cores:
        # more threads than cores only adds contention (and 100000 threads exhaust memory)
        err_console.print(f"note: --threads {value} is more than this machine's {cores} "
                          f"core(s); using {cores}.", markup=False, highlight=False)
        return cores
    return value


def ThreadsOpt(default: int = 1, help: str | None = None) -> Any:
    """``--threads``: at least 1, capped at the cores this process may use (with a note)."""
    return typer.Option(default, "--threads", callback=_cap_threads,
                        help=(help or "Threads to use.") + " At most the machine's cores.")


def output_file(path: Path | None, flag: str = "--out") -> Path | None:
    """A file to write: refuse a folder, create missing parent folders.

    Raises
    ------
    InputError
        ``path`` is an existing folder, or its parent cannot be created (a file is in the way).
    """
    if path is None:
        return None
    if path.is_dir():
        raise InputError(f"{flag} {path} is a folder; give a file name, e.g. "
                         f"{path / 'out.csv'}.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise InputError(f"{flag} {path}: its folder cannot be created ({exc.strerror}: a "
                         "file is in the way); give another path.") from exc
    return path


def open_workspace(path: Path | None) -> Workspace:
    from adwise.data import Workspace

    ws = Workspace.open(path)
    if invoked is not None and invoked[1] not in _BUILDS_MODELS:
        warn_stale_models(ws, invoked[0])
    return ws


def warn_stale_models(ws: Workspace, capability: str) -> None:
    """Say on stderr which of ``capability``'s models predate the data, and how to retrain."""
    for m in ws.stale_models():
        if m["retrain"] == f"adwise {capability} train":
            err_console.print(
                f"warning: the {m['model']} model ({m['version']}) was trained before the data "
                f"changed (ingest, replace, drop or delete); retrain with `{m['retrain']}`",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )


def _jsonable(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _clean(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_clean(v) for v in o]
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return o


def emit_json(obj: Any) -> None:
    """Write one JSON object on stdout (NaN/inf become null so any parser accepts it)."""
    sys.stdout.write(json.dumps(_clean(obj), default=_jsonable) + "\n")
    sys.stdout.flush()


@contextmanager
def progress(description: str, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr; yields the ``(done, total)`` callback library code takes."""
    if not enabled or not err_console.is_terminal:
        yield lambda done, total: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def setup_logging(verbose: int) -> None:
    from rich.logging import RichHandler

    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    root = logging.getLogger("adwise")
    root.handlers[:] = [RichHandler(console=err_console, show_path=False, show_time=False)]
    root.setLevel(level)
    root.propagate = False
