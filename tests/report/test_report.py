"""The self-contained report: valid inline SVG, no network references."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd

from adwise._plugins import ReportSection
from adwise.report import bar_chart, heatmap, line_chart, render_report, table, write_report


def test_charts_are_well_formed_svg_and_escape_labels():
    svgs = [
        bar_chart(["a<b", "c&d"], [0.1, float("nan")], "bars & <things>"),
        line_chart([0, 1, 2], {"y": [0.0, 0.5, 1.0], "z": [1, np.nan, 0]}, "lines", diagonal=True),
        heatmap(["r1", "r2"], [0, 1, 2], np.array([[0.1, 0.2, np.nan], [0.3, 0.0, 0.5]]), "heat"),
    ]
    for svg in svgs:
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg")
    assert "a&lt;b" in svgs[0] and "<things>" not in svgs[0]


def test_table_escapes_cells():
    html = table(pd.DataFrame({"x": ["<script>alert(1)</script>"], "y": [0.123456]}))
    assert "<script>" not in html and "0.1235" in html


def test_report_is_self_contained(tmp_path):
    sections = [
        ReportSection("One", bar_chart(["a"], [1.0], "t")),
        ReportSection("Two", "<p>x</p>"),
    ]
    path = write_report(tmp_path / "r.html", sections, title="T")
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>") and "One" in text and "Two" in text
    # No external resources: every URL is the SVG namespace, nothing is fetched.
    urls = set(re.findall(r"https?://[^\"' )]+", text))
    assert urls <= {"http://www.w3.org/2000/svg"}
    assert "<script" not in render_report(sections)
