"""Build the report of a workspace: the data part plus every capability that has a model."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from adwise._plugins import ReportSection, discover, load_ref
from adwise.data import Workspace
from adwise.report._data import data_sections, truth_section
from adwise.report._render import write_report

__all__ = ["build_report"]

log = logging.getLogger(__name__)


def build_report(
    ws: Workspace,
    out: str | Path,
    world_dir: str | Path | None = None,
    extra: Sequence[ReportSection] = (),
) -> Path:
    """Write ``out``: data sections, the synthetic truth (if any), capability sections."""
    sections = data_sections(ws)
    if world_dir is not None:
        t = truth_section(world_dir)
        if t is not None:
            sections.append(t)
    sections.extend(extra)
    have = {s.capability for s in extra}
    registry = ws.registry
    for name, cap in discover().items():
        if cap.report is None or name in have or not registry.versions(name):
            continue
        sections.extend(load_ref(cap.report)(ws))
    return write_report(out, sections)
