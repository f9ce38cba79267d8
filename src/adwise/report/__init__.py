"""The self-contained HTML report: inline SVG charts, no scripts, no network."""

from adwise.report._build import build_report
from adwise.report._charts import bar_chart, heatmap, line_chart, table
from adwise.report._render import render_report, write_report

__all__ = [
    "bar_chart",
    "build_report",
    "heatmap",
    "line_chart",
    "render_report",
    "table",
    "write_report",
]
