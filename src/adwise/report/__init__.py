"""The self-contained HTML report: Vega-Lite charts drawn by the vendored vega-embed, inlined
with the page, so it opens offline."""

from adwise.report._build import build_report
from adwise.report._charts import (
    MIN_IMPRESSIONS,
    bar_chart,
    chart_runtime,
    finding,
    format_value,
    heatmap,
    hour_chart,
    no_data,
    reliability_chart,
    spec_of,
    table,
    wilson_interval,
)
from adwise.report._render import render_report, write_report

__all__ = [
    "MIN_IMPRESSIONS",
    "bar_chart",
    "build_report",
    "chart_runtime",
    "finding",
    "format_value",
    "heatmap",
    "hour_chart",
    "no_data",
    "reliability_chart",
    "render_report",
    "spec_of",
    "table",
    "wilson_interval",
    "write_report",
]
