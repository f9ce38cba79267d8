"""Small inline-SVG charts and tables for the self-contained report (no scripts, no CDN)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["bar_chart", "heatmap", "line_chart", "table"]

_PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563")


def _esc(x: object) -> str:
    return html.escape(str(x))


def _num(v: float, fmt: str) -> str:
    return format(v, fmt) if np.isfinite(v) else "–"


def bar_chart(
    labels: Sequence[object],
    values: Sequence[float],
    title: str = "",
    fmt: str = ".3g",
    width: int = 560,
    bar_height: int = 18,
) -> str:
    """Horizontal bar chart as an SVG string."""
    vals = np.asarray(values, dtype=float)
    top = float(np.nanmax(np.abs(vals))) if len(vals) and np.isfinite(vals).any() else 1.0
    top = top or 1.0
    left, right = 150, 70
    h = 24 + bar_height * len(vals) + 8
    out = [
        f'<svg class="chart" width="{width}" height="{h}" role="img" aria-label="{_esc(title)}"'
        f' xmlns="http://www.w3.org/2000/svg">',
        f'<text x="0" y="14" class="ct">{_esc(title)}</text>',
    ]
    for i, (lab, v) in enumerate(zip(labels, vals, strict=True)):
        y = 24 + i * bar_height
        w = 0 if not np.isfinite(v) else abs(v) / top * (width - left - right)
        out.append(
            f'<text x="{left - 6}" y="{y + bar_height * 0.7:.1f}" text-anchor="end">'
            f"{_esc(str(lab)[:24])}</text>"
        )
        out.append(
            f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{bar_height - 4}" '
            f'fill="{_PALETTE[0]}"><title>{_esc(lab)}: {_num(v, fmt)}</title></rect>'
        )
        out.append(
            f'<text x="{left + w + 4:.1f}" y="{y + bar_height * 0.7:.1f}">{_num(v, fmt)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def line_chart(
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    width: int = 560,
    height: int = 260,
    diagonal: bool = False,
) -> str:
    """Line chart of one or more series sharing ``x``; ``diagonal`` draws y = x (calibration)."""
    xs = np.asarray(x, dtype=float)
    ys = {k: np.asarray(v, dtype=float) for k, v in series.items()}
    allv = np.concatenate([v[np.isfinite(v)] for v in ys.values()] or [np.zeros(1)])
    x0, x1 = float(np.nanmin(xs)), float(np.nanmax(xs))
    y0, y1 = (
        min(0.0, float(allv.min()) if allv.size else 0.0),
        float(allv.max()) if allv.size else 1,
    )
    if diagonal:
        y0, y1 = min(y0, x0), max(y1, x1)
    x1 = x1 if x1 > x0 else x0 + 1
    y1 = y1 if y1 > y0 else y0 + 1
    ml, mr, mt, mb = 50, 110, 22, 34
    pw, ph = width - ml - mr, height - mt - mb

    def px(v: float) -> float:
        return ml + (v - x0) / (x1 - x0) * pw

    def py(v: float) -> float:
        return mt + ph - (v - y0) / (y1 - y0) * ph

    out = [
        f'<svg class="chart" width="{width}" height="{height}" role="img" '
        f'aria-label="{_esc(title)}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="0" y="14" class="ct">{_esc(title)}</text>',
        f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="none" stroke="#ccc"/>',
    ]
    for t in np.linspace(y0, y1, 5):
        out.append(f'<text x="{ml - 4}" y="{py(t) + 4:.1f}" text-anchor="end">{t:.3g}</text>')
    for t in np.linspace(x0, x1, 6):
        out.append(f'<text x="{px(t):.1f}" y="{mt + ph + 14}" text-anchor="middle">{t:.3g}</text>')
    out.append(
        f'<text x="{ml + pw / 2}" y="{height - 4}" text-anchor="middle">{_esc(xlabel)}</text>'
    )
    out.append(f'<text x="4" y="{mt - 6}">{_esc(ylabel)}</text>')
    if diagonal:
        lo, hi = max(x0, y0), min(x1, y1)
        out.append(
            f'<line x1="{px(lo):.1f}" y1="{py(lo):.1f}" x2="{px(hi):.1f}" y2="{py(hi):.1f}"'
            ' stroke="#999" stroke-dasharray="4 3"/>'
        )
    for i, (name, v) in enumerate(ys.items()):
        ok = np.isfinite(v) & np.isfinite(xs)
        pts = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(xs[ok], v[ok], strict=True))
        color = _PALETTE[i % len(_PALETTE)]
        out.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"/>')
        out.append(
            f'<text x="{ml + pw + 6}" y="{mt + 12 + 14 * i}" fill="{color}">'
            f"{_esc(name[:16])}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def heatmap(
    row_labels: Sequence[object],
    col_labels: Sequence[object],
    values: np.ndarray,
    title: str = "",
    fmt: str = ".2%",
    cell: int = 22,
) -> str:
    """A heat map (e.g. CTR by slot x hour); darker is higher."""
    v = np.asarray(values, dtype=float)
    finite = v[np.isfinite(v)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    span = hi - lo or 1.0
    left, top = 90, 36
    width = left + cell * len(col_labels) + 10
    height = top + cell * len(row_labels) + 10
    out = [
        f'<svg class="chart" width="{width}" height="{height}" role="img" '
        f'aria-label="{_esc(title)}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="0" y="14" class="ct">{_esc(title)}</text>',
    ]
    for j, c in enumerate(col_labels):
        out.append(
            f'<text x="{left + j * cell + cell / 2}" y="{top - 4}" text-anchor="middle" '
            f'font-size="9">{_esc(c)}</text>'
        )
    for i, r in enumerate(row_labels):
        y = top + i * cell
        out.append(
            f'<text x="{left - 4}" y="{y + cell * 0.65}" text-anchor="end">'
            f"{_esc(str(r)[:14])}</text>"
        )
        for j in range(len(col_labels)):
            x = v[i, j]
            t = (x - lo) / span if np.isfinite(x) else 0.0
            shade = int(245 - 190 * t)
            fill = (
                f"rgb({shade},{shade + 5 if shade < 250 else 250},255)"
                if np.isfinite(x)
                else "#eee"
            )
            out.append(
                f'<rect x="{left + j * cell}" y="{y}" width="{cell - 1}" height="{cell - 1}" '
                f'fill="{fill}"><title>{_esc(r)} / {_esc(col_labels[j])}: '
                f"{_num(x, fmt)}</title></rect>"
            )
    out.append("</svg>")
    return "".join(out)


def table(df: pd.DataFrame, max_rows: int = 30, floatfmt: str = "{:.4g}") -> str:
    """An HTML table of a DataFrame (escaped)."""
    head = "".join(f"<th>{_esc(c)}</th>" for c in df.columns)
    rows = []
    for _, r in df.head(max_rows).iterrows():
        cells = []
        for v in r:
            if isinstance(v, float | np.floating):
                cells.append(f"<td>{floatfmt.format(v)}</td>")
            else:
                cells.append(f"<td>{_esc(v)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
