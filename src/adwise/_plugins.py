"""How capabilities register themselves.

A capability package ``adwise.<name>`` declares, in its ``__init__``, a module-level
``CAPABILITY = Capability(...)`` naming (as ``"module:attribute"`` strings, imported lazily so
the CLI starts fast) its CLI group, its demo step, its report section and its REST router.
The CLI, the demo, the report and the service discover capabilities through :func:`discover`;
a capability that is not built yet is simply absent.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adwise.data import Workspace

__all__ = ["Capability", "DemoContext", "DemoResult", "ReportSection", "discover", "load_ref"]

CAPABILITY_ORDER = ("behavior", "delivery", "interests", "audience", "placement", "creative")
SUMMARIES = {
    "delivery": "which ad should this user see?",
    "behavior": "will this user click / convert?",
    "interests": "what does this user care about?",
    "creative": "what should the ad say to this audience?",
    "placement": "which slot and which hour?",
    "audience": "whom should we target, and how do customers group?",
}


@dataclass(frozen=True)
class Capability:
    """What a capability offers to the faces. Every field but ``name`` is optional."""

    name: str
    summary: str
    cli: str | None = None  # "module:typer_app"
    demo: str | None = None  # "module:function(ctx: DemoContext) -> DemoResult"
    report: str | None = None  # "module:function(ws: Workspace) -> list[ReportSection]"
    router: str | None = None  # "module:function(state) -> fastapi.APIRouter"


@dataclass
class ReportSection:
    """A titled block of HTML for the report (self-contained: inline SVG, no scripts)."""

    title: str
    html: str
    capability: str = "data"


@dataclass
class DemoContext:
    """What a capability's demo step gets: the workspace, the synthetic world's folder (whose
    truth it may use to show what was recovered), and a progress callback."""

    workspace: Workspace
    world_dir: Any
    progress: Callable[[int, int], None] | None = None
    results: dict[str, DemoResult] = field(default_factory=dict)


@dataclass
class DemoResult:
    """What a demo step found: lines for the terminal, sections for the report, metrics."""

    lines: list[str] = field(default_factory=list)
    sections: list[ReportSection] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)


def load_ref(ref: str) -> Any:
    """Import ``"package.module:attribute"``."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def discover() -> dict[str, Capability]:
    """The capabilities that exist in this installation, in demo order."""
    found: dict[str, Capability] = {}
    for name in CAPABILITY_ORDER:
        try:
            mod = importlib.import_module(f"adwise.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"adwise.{name}":
                continue
            raise
        cap = getattr(mod, "CAPABILITY", None)
        if isinstance(cap, Capability):
            found[name] = cap
    return found
