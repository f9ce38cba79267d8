"""Assemble report sections into one self-contained HTML page."""

from __future__ import annotations

import datetime as _dt
import html
import os
from collections.abc import Sequence
from pathlib import Path

from adwise._plugins import ReportSection
from adwise._version import __version__
from adwise.report._charts import chart_runtime

__all__ = ["render_report", "write_report"]

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#111}
header{background:#0f172a;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}
main{padding:8px 28px 40px;max-width:1200px}
section{border-bottom:1px solid #e5e7eb;padding:8px 0 18px}
h2{font-size:18px;margin:18px 0 8px}h3{font-size:15px;margin:14px 0 6px}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #e5e7eb;padding:3px 8px;
text-align:left;font-size:13px}th{background:#f8fafc}.chart{margin:6px 12px 6px 0;font-size:11px}
.grid{display:flex;flex-wrap:wrap;gap:8px 24px;align-items:flex-start}.muted{color:#4b5563}
header .muted{color:#cbd5e1}nav a{margin-right:12px;color:#bfdbfe}
.badge{background:#e0e7ff;border-radius:4px;padding:1px 6px}
figure{margin:0}td.num{text-align:right;font-variant-numeric:tabular-nums}
.finding{font-size:15px;background:#eff6ff;border-left:4px solid #1d4ed8;padding:6px 10px;
margin:6px 0 10px}.note,.nodata{color:#4b5563;font-size:13px}.nodata{font-style:italic}
"""


def render_report(sections: Sequence[ReportSection], title: str = "adwise report") -> str:
    """One HTML page with inline CSS and the chart runtime inlined once: it opens from disk
    with no network (the charts are drawn by the vendored vega-embed on load)."""
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    nav = "".join(f'<a href="#s{i}">{html.escape(s.title)}</a>' for i, s in enumerate(sections))
    body = "".join(
        f'<section id="s{i}" data-capability="{html.escape(s.capability)}">'
        f"<h2>{html.escape(s.title)}</h2>{s.html}</section>"
        for i, s in enumerate(sections)
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body><header><h1>{html.escape(title)}</h1>"
        f"<div class='muted'>adwise {__version__} · {now}</div><nav>{nav}</nav></header>"
        f"<main>{body}</main><script>{chart_runtime()}</script></body></html>"
    )


def write_report(
    path: str | Path, sections: Sequence[ReportSection], title: str = "adwise report"
) -> Path:
    """Render and write atomically."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp")
    tmp.write_text(render_report(sections, title), encoding="utf-8")
    os.replace(tmp, p)
    return p
