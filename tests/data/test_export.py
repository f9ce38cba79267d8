"""CSV exports escape text that a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import datetime as dt

import pandas as pd

from adwise.data import Workspace, write_csv


def test_formula_like_text_is_prefixed_and_numbers_are_not(tmp_path):
    df = pd.DataFrame({
        "text": ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "plain", None],
        "n": [-1.5, 2, 3, 4, 5, 6, 7],
    })
    out = tmp_path / "x.csv"
    write_csv(df, out)
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["text"] for r in rows] == [
        "'=HYPERLINK(\"http://x\")", "'+1", "'-2+3", "'@SUM(A1)", "'\tx", "plain", ""]
    assert rows[0]["n"] == "-1.5"
    assert df["text"].iloc[0].startswith("=")  # the caller's frame is not changed


def test_creative_export_escapes_a_formula_headline(tmp_path):
    from adwise.creative._pipeline import ensure_table, export_creatives

    ws = Workspace.init(tmp_path / "ws")
    ensure_table(ws)
    with ws.connect() as con:
        con.execute(
            "INSERT INTO creatives VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ["cr_1", dt.datetime(2026, 1, 1), "approved", "=cmd|' /C calc'!A0", "@desc", "en",
             "tea", "students", None, "template", "template", 0.5, "{}", "{}", None, None],
        )
    out = tmp_path / "approved.csv"
    assert export_creatives(ws, out) == 1
    row = pd.read_csv(out).iloc[0]
    assert row["headline"] == "'=cmd|' /C calc'!A0"
    assert row["description"] == "'@desc"
