"""The report's sections without writing a file (the dashboard shows them live)."""

from __future__ import annotations

import logging

from adwise._plugins import ReportSection, discover, load_ref
from adwise.data import Workspace
from adwise.report._data import data_sections

__all__ = ["collect_sections"]

log = logging.getLogger(__name__)


def collect_sections(ws: Workspace) -> list[ReportSection]:
    """The data sections plus the report sections of every capability that has a model.

    A capability whose report step fails is replaced by a short section saying so (logged),
    so one broken model does not take the whole page down.
    """
    sections = data_sections(ws)
    registry = ws.registry
    for name, cap in discover().items():
        if cap.report is None or not registry.versions(name):
            continue
        try:
            sections.extend(load_ref(cap.report)(ws))
        except Exception as exc:
            log.exception("report section of %s failed", name)
            sections.append(ReportSection(
                name, f"<p class='muted'>This section could not be built: "
                      f"{type(exc).__name__}.</p>", capability=name))
    return sections
