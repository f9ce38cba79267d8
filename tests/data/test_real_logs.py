"""Real logs on the first try: timestamps, plain files, schema drift, correcting a workspace."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from adwise import ContractError, InputError
from adwise.cli import main
from adwise.data import Workspace, parse_timestamps, read_table, validate_table


def _events(n=6, **extra):
    return pd.DataFrame(
        {
            "ts": pd.date_range("2026-01-05", periods=n, freq="h"),
            "user_id": [f"u{i % 3}" for i in range(n)],
            "ad_id": [f"a{i % 2}" for i in range(n)],
            "clicked": [i % 2 for i in range(n)],
            **extra,
        }
    )


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------------- timestamps
@pytest.mark.parametrize(
    "values",
    [
        [14102100, 14102123],  # YYMMDDHH (Avazu's hour)
        ["14102100", "14102123"],
        [2014102100, 2014102123],  # YYYYMMDDHH
        [20141021, 20141021],  # YYYYMMDD
        [20141021000000, 20141021230000],  # YYYYMMDDHHMMSS
        [1413849600, 1413932400],  # epoch seconds
        [1413849600000, 1413932400000],  # epoch milliseconds
    ],
)
def test_compact_and_epoch_forms_are_detected(values):
    ts = parse_timestamps(pd.Series(values))
    assert (ts.dt.date.astype(str) == "2014-10-21").all()


@pytest.mark.parametrize(
    ("values", "fmt", "want"),
    [
        ([14102100.0, None], "%y%m%d%H", ["2014-10-21 00:00:00", None]),  # ints read as floats
        (["21/10/2014 13:05"], "%d/%m/%Y %H:%M", ["2014-10-21 13:05:00"]),
        (["2014-10-21 10:00 +0200"], "%Y-%m-%d %H:%M %z", ["2014-10-21 08:00:00"]),  # to UTC
    ],
)
def test_ts_format_patterns(values, fmt, want):
    got = parse_timestamps(pd.Series(values), fmt)
    assert [None if pd.isna(t) else str(t) for t in got] == want


def test_ts_format_reads_avazu_hours_through_the_cli(tmp_path, capsys):
    ws = Workspace.init(tmp_path / "ws")
    f = _write(
        tmp_path, "events.csv", "hour,user_id,ad_id,clicked\n14102100,u1,a1,0\n14102101,u2,a1,1\n"
    )
    args = ["ingest", str(f), "-t", "events", "-w", str(ws.path), "--map", "hour=ts"]
    assert main([*args, "--ts-format", "%y%m%d%H"]) == 0
    got = ws.table("events", ["ts"])["ts"].sort_values().astype(str).tolist()
    assert got == ["2014-10-21 00:00:00", "2014-10-21 01:00:00"]
    capsys.readouterr()
    assert main(["workspace", "info", "-w", str(ws.path)]) == 0
    assert "events 2014-10-21 00:00:00 .. 2014-10-21 01:00:00" in capsys.readouterr().out


def test_ts_format_that_does_not_match_names_rows_and_fix():
    with pytest.raises(ContractError) as err:
        validate_table(
            _events(2).assign(ts=["14102100", "x"]), "events", "ev.csv", ts_format="%y%m%d%H"
        )
    assert str(err.value).startswith(
        "ev.csv: column 'ts': has missing values or values that do not match --ts-format "
        "%y%m%d%H; 1 row(s) affected: row 1 (value 'x')"
    )


def test_implausible_timestamps_are_refused_with_the_fix():
    # Hour codes shorter than any compact form read as epoch seconds in 1970: refused.
    with pytest.raises(ContractError) as err:
        validate_table(_events(2).assign(ts=[5102100, 5102101]), "events", "ev.csv")
    assert str(err.value).startswith(
        "ev.csv: column 'ts': has timestamps before 1990-01-01 or after "
    )
    assert "(the first shown was read as 1970-03-01 01:15); 2 row(s) affected: row 0 (value " \
        "5102100), row 1 (value 5102101)" in str(err.value)
    assert "Fix: pass --ts-format with the pattern of these values (e.g. --ts-format %y%m%d%H" \
        in str(err.value)
    with pytest.raises(ContractError, match="after"):
        validate_table(_events(2).assign(ts=["2026-01-01", "2099-01-01"]), "events", "ev.csv")


# --------------------------------------------------------------------------------- plain files
@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path, sep):
    rows = ["ts,user_id,ad_id,clicked,headline", "2026-01-05T10:00:00,u1,a1,1,Big, bold sale"]
    text = "\n".join(r.replace(",", sep, 4) for r in rows) + "\n"
    df = read_table(_write(tmp_path, "ev.csv", text))
    assert list(df.columns) == ["ts", "user_id", "ad_id", "clicked", "headline"]
    assert df.loc[0, "headline"] == "Big, bold sale"


def test_comma_file_with_semicolons_in_values_stays_comma(tmp_path):
    text = "ts,user_id,ad_id,clicked,note\n" + "2026-01-05,u1,a1,1,a;b;c\n" * 3
    assert read_table(_write(tmp_path, "ev.csv", text)).shape == (3, 5)


def test_duplicate_header_names_are_refused_with_exit_2(tmp_path, capsys):
    ws = Workspace.init(tmp_path / "ws")
    text = "ts,user_id,ad_id,clicked,clicked\n2026-01-01T00:00:00,u1,a1,0,1\n"
    f = _write(tmp_path, "dup.csv", text)
    assert main(["ingest", str(f), "--table", "events", "-w", str(ws.path)]) == 2
    assert capsys.readouterr().err.startswith(
        f"error: {f}: column 'clicked': appears more than once in the header."
    )
    assert ws.row_counts()["events"] == 0


def test_word_labels_are_read_as_0_1_and_said(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    f = tmp_path / "e.csv"
    _events(6).assign(clicked=["Yes", "no", "TRUE", "false", "y", "N"]).to_csv(f, index=False)
    rep = ws.ingest(f, "events")
    got = ws.table("events").sort_values("ts")["clicked"].tolist()
    assert got == [1, 0, 1, 0, 1, 0]
    assert f"{f}: column 'clicked' holds the words false, n, no, true, y, yes; read as 1 " \
        "(true/yes/y) and 0 (false/no/n)." in rep.warnings


# ------------------------------------------------------------------------------- schema drift
def test_number_column_that_turns_to_text_is_a_contract_error(tmp_path, capsys):
    ws = Workspace.init(tmp_path / "ws")
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    _events(4, C1=[1005, 1002, 1005, 1010]).to_csv(a, index=False)
    _events(4, C1=["1005", "x7", "1005", "1010"]).assign(ad_id="a9").to_csv(b, index=False)
    ws.ingest(a, "events")
    assert main(["ingest", str(b), "-t", "events", "-w", str(ws.path)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {b}: column 'C1': held numbers (BIGINT) in earlier ingests but now holds text; "
        "1 row(s) affected: row 1 (value 'x7') (rows count from 0). Fix: correct the rows shown, "
        "or pass --categorical C1 to store the column as text codes from now on (the stored "
        "numbers are converted)"
    )
    assert ws.row_counts()["events"] == 4
    # The fix the message names works, and the stored numbers become the same codes.
    assert main(["ingest", str(b), "-t", "events", "-w", str(ws.path), "--categorical", "C1"]) == 0
    assert sorted(set(ws.table("events")["C1"])) == ["1002", "1005", "1010", "x7"]


def test_case_twins_in_one_file_are_refused():
    df = _events(2).assign(CLICKED=[1, 0])
    with pytest.raises(ContractError) as err:
        validate_table(df, "events", "ev.csv")
    assert str(err.value) == (
        "ev.csv: column 'CLICKED': differs from the column 'clicked' only by case. Fix: keep one "
        "of them, or give them distinct names"
    )


def test_case_twin_of_a_stored_column_is_refused(tmp_path, capsys):
    ws = Workspace.init(tmp_path / "ws")
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    _events(2, Device=["ios", "web"]).to_csv(a, index=False)
    _events(2, DEVICE=["ios", "web"]).to_csv(b, index=False)
    ws.ingest(a, "events")
    assert main(["ingest", str(b), "-t", "events", "-w", str(ws.path)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {b}: column 'DEVICE': differs from the stored column 'Device' only by case. "
        "Fix: rename it with --map DEVICE=Device, or empty the table with `adwise workspace drop "
        "events --yes` and ingest again"
    )


def test_any_other_type_change_is_a_contract_error_not_a_crash(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    _events(2, seen=pd.to_datetime(["2026-01-01", "2026-01-02"])).to_parquet(a)
    _events(2, seen=["soon", "later"]).assign(ad_id="a9").to_parquet(b)
    ws.ingest(a, "events")
    with pytest.raises(ContractError) as err:
        ws.ingest(b, "events")
    assert str(err.value).startswith(f"{b}: does not fit the columns stored in events by earlier")
    assert str(err.value).endswith(
        "Fix: give the columns the types of earlier files, or empty the table with `adwise "
        "workspace drop events --yes` and ingest again"
    )
    assert ws.row_counts()["events"] == 2


# ------------------------------------------------------------------------- categorical columns
def test_categorical_is_stored_as_text_and_remembered(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    _events(3, C14=[15706, 15704, 15706]).to_csv(a, index=False)
    _events(3, C14=[20001, 15704, 20001]).assign(ad_id="a7").to_csv(b, index=False)
    ws.ingest(a, "events", categorical=["C14"])
    ws.ingest(b, "events")  # no flag: the declaration is kept
    types = ws.query("SELECT column_name, column_type FROM (DESCRIBE events)")
    assert types.set_index("column_name").loc["C14", "column_type"] == "VARCHAR"
    assert sorted(set(ws.table("events")["C14"])) == ["15704", "15706", "20001"]
    assert ws.categorical_columns("events") == ["C14"]
    assert ws.info()["categorical"] == {"events": ["C14"]}


def test_categorical_must_name_a_context_column(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    f = tmp_path / "a.csv"
    _events(2).to_csv(f, index=False)
    with pytest.raises(InputError, match="--categorical names 'nope', which is not a column"):
        ws.ingest(f, "events", categorical=["nope"])
    with pytest.raises(InputError, match="'clicked' is a contract column"):
        ws.ingest(f, "events", categorical=["clicked"])


# ----------------------------------------------------------------------- correcting a workspace
def test_replace_swaps_events_with_the_same_id(tmp_path, capsys):
    ws = Workspace.init(tmp_path / "ws")
    f = tmp_path / "e.csv"
    ev = _events(4).assign(event_id=["e1", "e2", "e3", "e4"])
    ev.to_csv(f, index=False)
    ws.ingest(f, "events")
    ev.assign(clicked=[1, 1, 1, 1]).to_csv(f, index=False)
    plain = ws.ingest(f, "events")
    assert (plain.rows_added, plain.rows_updated) == (0, 0)
    assert ws.table("events")["clicked"].sum() == 2
    capsys.readouterr()
    assert main(["ingest", str(f), "-t", "events", "-w", str(ws.path), "--replace"]) == 0
    assert capsys.readouterr().out.strip() == "events: read 4 rows, added 0, replaced 4"
    assert ws.table("events")["clicked"].tolist() == [1, 1, 1, 1]
    assert ws.row_counts()["events"] == 4


def test_drop_asks_for_yes_then_empties_the_table(tmp_path, capsys):
    ws = Workspace.init(tmp_path / "ws")
    f = tmp_path / "e.csv"
    _events(5, C1=[1, 2, 3, 4, 5]).to_csv(f, index=False)
    ws.ingest(f, "events", categorical=["C1"])
    capsys.readouterr()
    assert main(["workspace", "drop", "events", "-w", str(ws.path)]) == 0
    assert capsys.readouterr().out.strip() == (
        "would drop all 5 rows of events; run again with --yes to do it"
    )
    assert ws.row_counts()["events"] == 5
    assert main(["workspace", "drop", "events", "--yes", "-w", str(ws.path)]) == 0
    assert capsys.readouterr().out.strip() == "events: dropped 5 rows"
    assert ws.row_counts()["events"] == 0
    # Added columns and declarations go too, so the next file may bring other types.
    assert "C1" not in ws.columns("events") and ws.categorical_columns("events") == []
    assert main(["workspace", "drop", "nope", "--yes", "-w", str(ws.path)]) == 2


def test_delete_where_reports_rows_and_refuses_bad_conditions(tmp_path, capsys):
    ws = Workspace.init(tmp_path / "ws")
    f = tmp_path / "e.csv"
    _events(6).to_csv(f, index=False)
    ws.ingest(f, "events")
    capsys.readouterr()
    where = "ts < '2026-01-05 02:00:00'"
    assert main(["workspace", "delete", "events", "--where", where, "-w", str(ws.path)]) == 0
    assert capsys.readouterr().out.strip() == "events: deleted 2 rows"
    assert ws.row_counts()["events"] == 4
    assert main(["workspace", "delete", "events", "--where", "nope = 1", "-w", str(ws.path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --where 'nope = 1' is not a valid condition on events: ")
    assert "Columns: event_id, ts, user_id" in err
    bad = "1=1; DROP TABLE users"
    assert main(["workspace", "delete", "events", "--where", bad, "-w", str(ws.path)]) == 2
    assert ws.row_counts() == {"events": 4, "users": 0, "ads": 0}


def test_changes_make_trained_models_stale(tmp_path, capsys):
    ws = Workspace.init(tmp_path / "ws")
    f = tmp_path / "e.csv"
    ev = _events(4).assign(event_id=["e1", "e2", "e3", "e4"])
    ev.to_csv(f, index=False)
    ws.ingest(f, "events")
    ws.registry.save("behavior", lambda w: w.write_json("m.json", {}),
                     data_fingerprint=ws.fingerprint("events"))
    assert ws.stale_models() == []
    # Same keys, new labels: the content changed although the row count and keys did not.
    ev.assign(clicked=1).to_csv(f, index=False)
    version = ws.data_version()
    ws.ingest(f, "events", replace=True)
    assert ws.data_version() == version + 1
    stale = ws.stale_models()
    assert [(m["model"], m["retrain"]) for m in stale] == [("behavior", "adwise behavior train")]
    capsys.readouterr()
    assert main(["workspace", "info", "-w", str(ws.path)]) == 0
    assert (
        "stale: behavior v0001 was trained before the data changed; retrain with "
        "`adwise behavior train`" in capsys.readouterr().out
    )
    assert main(["workspace", "info", "-w", str(ws.path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["stale_models"][0]["retrain"] == "adwise behavior train"


def test_reingesting_nothing_new_keeps_models_fresh(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    f, u = tmp_path / "e.csv", tmp_path / "u.csv"
    _events(4).to_csv(f, index=False)
    pd.DataFrame({"user_id": ["u0", "u1"], "age": [30, 41]}).to_csv(u, index=False)
    ws.ingest(f, "events")
    ws.ingest(u, "users")
    ws.registry.save("behavior", lambda w: w.write_json("m.json", {}),
                     data_fingerprint=ws.fingerprint("events"))
    ws.ingest(f, "events")
    ws.ingest(f, "events", replace=True)
    assert ws.ingest(u, "users").rows_updated == 2  # replaced by identical rows
    assert ws.stale_models() == []
    pd.DataFrame({"user_id": ["u0"], "age": [31]}).to_csv(u, index=False)
    ws.ingest(u, "users")
    assert [m["model"] for m in ws.stale_models()] == ["behavior"]


def test_a_damaged_model_does_not_break_workspace_info(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    f = tmp_path / "e.csv"
    _events(4).to_csv(f, index=False)
    ws.ingest(f, "events")
    mv = ws.registry.save("behavior", lambda w: w.write_json("m.json", {}), data_fingerprint="x")
    assert [m["model"] for m in ws.stale_models()] == ["behavior"]
    (mv.path / "metadata.json").write_text("{")
    assert ws.info()["stale_models"] == []


def test_ids_past_the_signed_64_bit_range_are_stored_as_text(tmp_path):
    # Avazu's event ids, e.g. 10000169349117863715, do not fit DuckDB's BIGINT
    big = ["10000169349117863715", "10000720757801103869", "1000009418151094273"]
    lines = ["id,ts,user_id,ad_id,clicked"] + [
        f"{v},2014-10-21T0{i}:00:00,u{i},a1,{i % 2}" for i, v in enumerate(big)]
    path = _write(tmp_path, "ev.csv", "\n".join(lines) + "\n")
    ws = Workspace.init(tmp_path / "ws")
    assert ws.ingest(path, "events").rows_added == 3
    assert sorted(ws.table("events", ["id"])["id"]) == sorted(big)
