"""Charts for the report and the dashboard: Vega-Lite specs drawn by the vendored vega-embed.

Why Vega-Lite rather than matplotlib SVG: the same spec draws in the offline report and in the
live dashboard (which only receives HTML from ``/v1/report``); tooltips carry the counts and
intervals behind every mark without cluttering the chart; axes, tick choice, number formats
and signed bars come from a maintained grammar instead of our own geometry; and it adds no
Python dependency.  The price is the runtime inlined once per report (vega 515 kB, vega-lite
252 kB, vega-embed 61 kB minified, under 1 MB in all), where matplotlib would add a 40 MB
install and static pictures.  See ``vendor/README.txt`` for the versions.

Every builder returns an HTML fragment: a ``<figure>`` holding an element whose ``data-vl``
attribute is the (escaped) JSON spec, drawn by :func:`chart_runtime` on page load.  When there
is nothing to draw, builders return :func:`no_data` text instead of an empty chart.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "MIN_IMPRESSIONS",
    "bar_chart",
    "chart_runtime",
    "finding",
    "format_value",
    "heatmap",
    "hour_chart",
    "no_data",
    "reliability_chart",
    "spec_of",
    "table",
    "wilson_interval",
]

# A rate from fewer impressions than this is not drawn (its 95 % interval spans several
# points of CTR at typical click rates), so a 2-impression 100 % cell cannot top a chart.
MIN_IMPRESSIONS = 100

_BLUE, _RED, _GREY = "#1d4ed8", "#b91c1c", "#6b7280"
_WIDTH = 420


def _esc(x: object) -> str:
    return html.escape(str(x))


def _clean(v: Any) -> Any:
    """JSON-safe value: numpy scalars to Python, non-finite floats to None."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _clean(v) for k, v in row.items()} for row in df.to_dict("records")]


def wilson_interval(clicks: Any, n: Any, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """95 % Wilson score interval of a rate ``clicks / n`` (NaN where ``n == 0``).

    Used for every rate the report draws: unlike the normal interval it stays inside [0, 1]
    and is honest for the few clicks of a rare event.
    """
    k = np.asarray(clicks, dtype=float)
    m = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / m
        den = 1 + z * z / m
        mid = (p + z * z / (2 * m)) / den
        half = z * np.sqrt(p * (1 - p) / m + z * z / (4 * m * m)) / den
    return np.clip(mid - half, 0, 1), np.clip(mid + half, 0, 1)


def finding(text: str) -> str:
    """The one plain sentence a section opens with (what to do, how sure)."""
    return f"<p class='finding'>{_esc(text[:1].upper() + text[1:])}</p>"


def no_data(what: str, why: str) -> str:
    """Said instead of drawing an empty chart."""
    return f"<p class='nodata'>No data for {_esc(what)} because {_esc(why)}.</p>"


def _note(text: str) -> str:
    return f"<figcaption class='note'>{_esc(text)}</figcaption>"


def _figure(spec: dict[str, Any], title: str, note: str = "") -> str:
    spec = {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": title,
        "description": title,  # vega's aria-label of the drawn SVG
        "config": {"font": "system-ui, sans-serif", "axis": {"labelFontSize": 11},
                   "view": {"stroke": None}},
        **spec,
    }
    return (
        f"<figure class='chart'><div class='vl' data-title='{_esc(title)}' "
        f"data-vl='{_esc(json.dumps(spec, allow_nan=False, separators=(',', ':')))}'></div>"
        f"{note}</figure>"
    )


def spec_of(fragment: str) -> list[dict[str, Any]]:
    """The Vega-Lite specs in an HTML fragment (for tests and for reading a report back)."""
    import re

    return [json.loads(html.unescape(m)) for m in re.findall(r"data-vl='([^']*)'", fragment)]


def _fewer(n_left: int, what: str, min_n: int) -> str:
    return _note(f"Left out: {n_left} {what} with fewer than {min_n:,} impressions "
                 "(too few to tell their rate apart).") if n_left else ""


def bar_chart(
    labels: Sequence[object],
    values: Sequence[float],
    *,
    title: str,
    value_title: str,
    fmt: str = ".3~g",
    counts: Sequence[float] | None = None,
    low: Sequence[float] | None = None,
    high: Sequence[float] | None = None,
    min_count: int = 0,
    what: str = "bars",
    sort: bool = True,
    count_title: str = "impressions",
) -> str:
    """Horizontal bars from zero (negative values drawn to the left in red).

    Parameters
    ----------
    labels, values : sequences of one length
    title, value_title : str
        Chart title and the value axis title (with its unit).
    fmt : str
        d3-format of the values (``".1%"`` for rates, ``"+.2f"`` for signed effects).
    counts : sequence, optional
        Impressions (or users, named by ``count_title``) behind each value: shown in the
        tooltip and the label; bars with fewer than ``min_count`` are left out with a note.
    low, high : sequences, optional
        A 95 % interval per value (drawn as a whisker) where the value is an estimate.
    what : str
        What a bar is, for the notes ("placements").
    sort : bool
        Largest first; else keep the given order.
    """
    df = pd.DataFrame({"label": [str(x) for x in labels],
                       "value": np.asarray(values, dtype=float)})
    if counts is not None:
        df["n"] = np.asarray(counts, dtype=float)
    if low is not None and high is not None:
        df["low"] = np.asarray(low, dtype=float)
        df["high"] = np.asarray(high, dtype=float)
    df = df[np.isfinite(df["value"])]
    left = 0
    if counts is not None and min_count:
        keep = df["n"] >= min_count
        left = int((~keep).sum())
        df = df[keep]
    if df.empty:
        why = (f"every one of the {left} {what} has fewer than {min_count:,} impressions"
               if left else f"there are no {what} with a value")
        return no_data(title, why)
    if sort:
        df = df.sort_values("value", ascending=False, kind="stable")
    df["sign"] = np.where(df["value"] < 0, "negative", "positive")
    if counts is not None:
        df["text"] = [f"{format_value(v, fmt)} (n={int(n):,})"
                      for v, n in zip(df["value"], df["n"], strict=True)]
    else:
        df["text"] = [format_value(v, fmt) for v in df["value"]]
    order = df["label"].tolist()
    y = {"field": "label", "type": "nominal", "sort": order, "title": None,
         "axis": {"labelLimit": 260}}
    tooltip = [{"field": "label", "type": "nominal", "title": what.rstrip("s") or "item"},
               {"field": "value", "type": "quantitative", "title": value_title, "format": fmt}]
    if counts is not None:
        tooltip.append({"field": "n", "type": "quantitative", "title": count_title,
                        "format": ",d"})
    if "low" in df:
        tooltip += [{"field": "low", "title": "95 % low", "format": fmt},
                    {"field": "high", "title": "95 % high", "format": fmt}]
    layers: list[dict[str, Any]] = [{
        "mark": {"type": "bar", "height": {"band": 0.7}},
        "encoding": {
            "x": {"field": "value", "type": "quantitative", "title": value_title,
                  "axis": {"format": fmt, "tickCount": 5},
                  # room left of the longest negative bar for its label
                  "scale": {"zero": True, **({"padding": 36} if (df["value"] < 0).any()
                                             else {})}},
            "color": {"field": "sign", "type": "nominal", "legend": None,
                      "scale": {"domain": ["positive", "negative"], "range": [_BLUE, _RED]}},
            "tooltip": tooltip,
        },
    }]
    if "low" in df:
        layers.append({"mark": {"type": "rule", "color": "#111827"},
                       "encoding": {"x": {"field": "low", "type": "quantitative"},
                                    "x2": {"field": "high"}, "tooltip": tooltip}})
    # the value label sits beyond the bar's end (or its whisker): right of positive bars,
    # left of negative ones
    for sign, align, dx, end in (("positive", "left", 4, "high"), ("negative", "right", -4, "low")):
        if not (df["sign"] == sign).any():  # an empty layer has no extent (a vega warning)
            continue
        layers.append({
            "transform": [{"filter": f"datum.sign == '{sign}'"}],
            "mark": {"type": "text", "align": align, "dx": dx, "fontSize": 10,
                     "color": "#111827"},
            "encoding": {"x": {"field": end if "low" in df else "value",
                               "type": "quantitative"},
                         "text": {"field": "text"}},
        })
    if (df["value"] < 0).any() and (df["value"] > 0).any():
        layers.append({"mark": {"type": "rule", "color": "#111827"},
                       "encoding": {"x": {"datum": 0}}})
    spec = {"width": _WIDTH, "height": {"step": 22}, "data": {"values": _records(df)},
            "encoding": {"y": y}, "layer": layers}
    return _figure(spec, title, _fewer(left, what, min_count).replace("impressions",
                                                                      count_title))


def format_value(v: float, fmt: str) -> str:
    """Python rendering of the d3 formats used here (for labels and tables)."""
    if not math.isfinite(v):
        return "–"
    f = fmt.replace("~", "")
    if f.endswith("%"):
        sign = "+" if f.startswith("+") else ""
        digits = f.lstrip("+.").rstrip("%") or "0"
        return format(v * 100, f"{sign}.{digits}f") + " %"
    if f == ",d":
        return f"{round(v):,}"
    return format(v, f)


def hour_chart(
    hours: Sequence[int],
    clicks: Sequence[float],
    impressions: Sequence[float],
    *,
    title: str,
    rate_title: str = "CTR",
    min_count: int = MIN_IMPRESSIONS,
) -> str:
    """A rate by hour of day (0-23, integer ticks) with its 95 % interval as a band."""
    df = pd.DataFrame({"hour": np.asarray(hours, dtype=int),
                       "k": np.asarray(clicks, dtype=float),
                       "n": np.asarray(impressions, dtype=float)})
    df = df[(df["hour"] >= 0) & (df["hour"] <= 23)]
    keep = df["n"] >= min_count
    left = int((~keep).sum())
    hours_seen = sorted(df["hour"].unique())
    df = df[keep].sort_values("hour")
    if len(df) < 2:  # one point is no pattern: say why instead of drawing it
        if not hours_seen:
            why = "the events have no timestamps to group by hour"
        elif len(hours_seen) == 1:
            why = (f"every event falls in the same hour of day ({hours_seen[0]:02d}:00), so "
                   "there is no daily pattern to show")
        else:
            why = f"fewer than two hours have {min_count:,} impressions or more"
        return no_data(title, why)
    df["rate"] = df["k"] / df["n"]
    df["low"], df["high"] = wilson_interval(df["k"], df["n"])
    x = {"field": "hour", "type": "quantitative", "title": "hour of day",
         "scale": {"domain": [0, 23], "nice": False},
         "axis": {"values": list(range(0, 24, 2)), "format": "d"}}
    tip = [{"field": "hour", "title": "hour", "format": "d"},
           {"field": "rate", "title": rate_title, "format": ".2%"},
           {"field": "low", "title": "95 % low", "format": ".2%"},
           {"field": "high", "title": "95 % high", "format": ".2%"},
           {"field": "n", "title": "impressions", "format": ",d"},
           {"field": "k", "title": "clicks", "format": ",d"}]
    spec = {
        "width": _WIDTH, "height": 220, "data": {"values": _records(df)},
        "encoding": {"x": x},
        "layer": [
            {"mark": {"type": "area", "opacity": 0.2, "color": _BLUE},
             "encoding": {"y": {"field": "low", "type": "quantitative", "title": rate_title,
                                "axis": {"format": ".1%"}, "scale": {"zero": False}},
                          "y2": {"field": "high"}}},
            {"mark": {"type": "line", "color": _BLUE, "point": True},
             "encoding": {"y": {"field": "rate", "type": "quantitative"}, "tooltip": tip}},
        ],
    }
    return _figure(spec, title, _fewer(left, "hours", min_count))


def heatmap(
    rows: Sequence[object],
    cols: Sequence[int],
    rates: Sequence[float],
    counts: Sequence[float] | None,
    *,
    title: str,
    row_title: str,
    col_title: str = "hour of day",
    rate_title: str = "CTR",
    min_count: int = MIN_IMPRESSIONS,
    low: Sequence[float] | None = None,
    high: Sequence[float] | None = None,
) -> str:
    """A rate per (row, hour) cell; cells with fewer than ``min_count`` impressions stay blank.

    ``counts`` may be ``None`` for model estimates that are already shrunk (then ``low`` and
    ``high`` give their interval and nothing is left out).
    """
    df = pd.DataFrame({"row": [str(r) for r in rows], "col": np.asarray(cols, dtype=int),
                       "rate": np.asarray(rates, dtype=float)})
    tip = [{"field": "row", "title": row_title}, {"field": "col", "title": col_title},
           {"field": "rate", "title": rate_title, "format": ".2%"}]
    if counts is not None:
        df["n"] = np.asarray(counts, dtype=float)
        tip.append({"field": "n", "title": "impressions", "format": ",d"})
    if low is not None and high is not None:
        df["low"], df["high"] = np.asarray(low, float), np.asarray(high, float)
        tip += [{"field": "low", "title": "95 % low", "format": ".2%"},
                {"field": "high", "title": "95 % high", "format": ".2%"}]
    df = df[np.isfinite(df["rate"])]
    cols_seen = sorted(df["col"].unique())
    left = 0
    if counts is not None:
        keep = df["n"] >= min_count
        left = int((~keep).sum())
        df = df[keep]
    if len(cols_seen) == 1:
        one = (f"{int(cols_seen[0]):02d}:00" if col_title.startswith("hour")
               else str(cols_seen[0]))
        return no_data(title, f"every event falls in the same {col_title} ({one}), so there "
                       "is no pattern across it to show")
    if df.empty:
        why = (f"no cell has {min_count:,} impressions or more" if left
               else "there are no cells with a rate")
        return no_data(title, why)
    spec = {
        "width": {"step": 17}, "height": {"step": 20}, "data": {"values": _records(df)},
        "mark": {"type": "rect"},
        "encoding": {
            "x": {"field": "col", "type": "ordinal", "title": col_title,
                  "scale": {"domain": list(range(24))}, "axis": {"labelAngle": 0}},
            "y": {"field": "row", "type": "nominal", "title": row_title},
            "color": {"field": "rate", "type": "quantitative", "title": rate_title,
                      "scale": {"scheme": "blues", "zero": False},
                      "legend": {"format": ".1%"}},
            "tooltip": tip,
        },
    }
    return _figure(spec, title, _fewer(left, "cells", min_count))


def reliability_chart(
    curve: Mapping[str, Sequence[float]],
    *,
    title: str = "Reliability: observed click rate per predicted-probability bin",
    min_count: int = MIN_IMPRESSIONS,
) -> str:
    """A reliability diagram: per bin, the observed rate (with its 95 % interval and count)
    against the mean prediction, and the diagonal a calibrated model lies on.

    ``curve`` is :func:`adwise.metrics.reliability_curve` output (``mean_predicted``,
    ``observed_rate``, ``counts``).  Both axes share one scale, zoomed to the predictions, so
    the diagonal is at 45 degrees and a 2 % base rate is not squeezed into a corner.  The
    subtitle's ECE is computed from these same bins (all of them, drawn or not), so the number
    and the picture agree.
    """
    df = pd.DataFrame({"predicted": np.asarray(curve["mean_predicted"], dtype=float),
                       "observed": np.asarray(curve["observed_rate"], dtype=float),
                       "n": np.asarray(curve["counts"], dtype=float)})
    total = float(df["n"].sum())
    ece = (float((df["n"] * (df["observed"] - df["predicted"]).abs()).sum() / total)
           if total else None)
    keep = df["n"] >= min_count
    left = int((~keep).sum())
    df = df[keep]
    if df.empty:
        return no_data(title, f"no probability bin holds {min_count:,} test events or more"
                       if left else "the model was not evaluated on test events")
    df["low"], df["high"] = wilson_interval(np.round(df["observed"] * df["n"]), df["n"])
    top = float(max(df["predicted"].max(), df["high"].max()))
    top = min(1.0, top * 1.05) or 1.0
    scale = {"domain": [0, top], "nice": False}
    axis = {"format": ".1%", "tickCount": 6}
    x = {"field": "predicted", "type": "quantitative", "title": "mean predicted probability",
         "scale": scale, "axis": axis}
    tip = [{"field": "predicted", "title": "mean predicted", "format": ".2%"},
           {"field": "observed", "title": "observed rate", "format": ".2%"},
           {"field": "low", "title": "95 % low", "format": ".2%"},
           {"field": "high", "title": "95 % high", "format": ".2%"},
           {"field": "n", "title": "test events", "format": ",d"}]
    spec = {
        "width": 300, "height": 300,
        "layer": [
            {"data": {"values": [{"predicted": 0, "observed": 0},
                                 {"predicted": top, "observed": top}]},
             "mark": {"type": "line", "color": _GREY, "strokeDash": [4, 3]},
             "encoding": {"x": x, "y": {"field": "observed", "type": "quantitative",
                                        "title": "observed click rate", "scale": scale,
                                        "axis": axis}}},
            {"data": {"values": _records(df)},
             "layer": [
                 {"mark": {"type": "rule", "color": _BLUE},
                  "encoding": {"x": x, "y": {"field": "low", "type": "quantitative"},
                               "y2": {"field": "high"}}},
                 {"mark": {"type": "point", "filled": True, "color": _BLUE},
                  "encoding": {"x": x, "y": {"field": "observed", "type": "quantitative"},
                               "size": {"field": "n", "type": "quantitative",
                                        "title": "test events", "scale": {"zero": False},
                                        "legend": {"format": ",d", "tickCount": 3}},
                               "tooltip": tip}},
             ]},
        ],
    }
    sub = f"dashed: perfect calibration; ECE over these {len(keep)} bins {ece:.4f}"
    spec["title"] = {"text": title, "subtitle": sub}
    return _figure(spec, title,
                   _fewer(left, "bins", min_count).replace("impressions", "test events"))


def table(
    df: pd.DataFrame,
    max_rows: int = 30,
    formats: Mapping[str, str] | None = None,
    floatfmt: str = ".4g",
) -> str:
    """An HTML table of a DataFrame (escaped); ``formats`` maps a column to a d3-style format
    of :func:`format_value` (``".1%"``, ``",d"``, ``"+.2f"``)."""
    formats = dict(formats or {})
    head = "".join(f"<th scope='col'>{_esc(c)}</th>" for c in df.columns)
    rows = []
    for _, r in df.head(max_rows).iterrows():
        cells = []
        for c, v in r.items():
            if isinstance(v, float | np.floating | int | np.integer) and not isinstance(v, bool):
                f = formats.get(str(c))
                text = (format_value(float(v), f) if f
                        else format(v, floatfmt) if isinstance(v, float | np.floating)
                        else f"{v:,}")
                cells.append(f"<td class='num'>{_esc(text)}</td>")
            else:
                cells.append(f"<td>{_esc('–' if v is None else v)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = (f"<p class='note'>First {max_rows} of {len(df):,} rows.</p>"
            if len(df) > max_rows else "")
    return (f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            + more)


_RUNTIME = """
(function () {
  "use strict";
  // Draws every [data-vl] placeholder under root; ast:true makes vega interpret expressions
  // instead of compiling them with new Function, so it also runs under the dashboard's CSP
  // (no 'unsafe-eval').
  function draw(root) {
    var nodes = (root || document).querySelectorAll("[data-vl]:not([data-drawn])");
    return Promise.all(Array.prototype.map.call(nodes, function (node) {
      node.setAttribute("data-drawn", "pending");
      var spec = JSON.parse(node.getAttribute("data-vl"));
      return vegaEmbed(node, spec, {actions: false, renderer: "svg", ast: true})
        .then(function () { node.setAttribute("data-drawn", "ok"); })
        .catch(function (e) {
          node.setAttribute("data-drawn", "error");
          node.textContent = "This chart could not be drawn: " + e.message;
        });
    }));
  }
  window.adwiseCharts = draw;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { draw(); });
  } else { draw(); }
})();
"""


@cache
def chart_runtime() -> str:
    """The JavaScript that draws the charts: vega, vega-lite, vega-embed and the drawing loop.

    Inlined once into the report and served as ``/charts.js`` by the dashboard.
    """
    vendor = resources.files("adwise.report").joinpath("vendor")
    parts = [vendor.joinpath(f"{n}.min.js").read_text(encoding="utf-8")
             for n in ("vega", "vega-lite", "vega-embed")]
    return "\n;\n".join([*parts, _RUNTIME])
