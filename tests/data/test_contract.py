"""The data contract: a table of bad inputs with their exact messages, and fuzzing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adwise import ContractError, InputError, PIIError
from adwise.data import read_table, validate_table


def _events(n: int = 8) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ts": [f"2026-01-0{1 + i % 7}T10:00:00" for i in range(n)],
            "user_id": [f"u{i % 3}" for i in range(n)],
            "ad_id": [f"a{i % 2}" for i in range(n)],
            "clicked": [i % 2 for i in range(n)],
            "cost": [0.5] * n,
        }
    )


def _with(df: pd.DataFrame, col: str, row: int, value) -> pd.DataFrame:
    out = df.copy()
    out[col] = out[col].astype(object)
    out.loc[row, col] = value
    return out


BAD_EVENTS = [
    (
        "clicked not binary",
        lambda: _with(_events(), "clicked", 5, 2),
        "ev.csv: column 'clicked': must be 0 or 1; 1 row(s) affected: row 5 (value 2) "
        "(rows count from 0). Fix: recode the column to 0/1 (yes/no, true/false and y/n are read "
        "as 1/0)",
    ),
    (
        "clicked not a number",
        lambda: _with(_events(), "clicked", 2, "maybe"),
        "ev.csv: column 'clicked': has values that are not numbers; 1 row(s) affected: row 2 "
        "(value 'maybe') (rows count from 0). Fix: recode the column to 0/1 (yes/no, true/false "
        "and y/n are read as 1/0)",
    ),
    (
        "negative cost",
        lambda: _with(_with(_events(), "cost", 1, -3), "cost", 4, -1),
        "ev.csv: column 'cost': must be >= 0; 2 row(s) affected: row 1 (value -3.0), row 4 "
        "(value -1.0) (rows count from 0). Fix: use numbers >= 0 (refunds belong in a separate "
        "column)",
    ),
    (
        "propensity zero",
        lambda: _events().assign(propensity=[0.5, 0.0, 1, 1, 1, 1, 1, 1]),
        "ev.csv: column 'propensity': must be in (0, 1]; 1 row(s) affected: row 1 (value 0.0) "
        "(rows count from 0). Fix: propensities are probabilities in (0, 1]; a 0 means the "
        "logging policy could never show the ad — drop those rows or omit the column to have it "
        "estimated",
    ),
    (
        "bad timestamp",
        lambda: _with(_events(), "ts", 3, "yesterday"),
        "ev.csv: column 'ts': has missing or unparseable timestamps; 1 row(s) affected: row 3 "
        "(value 'yesterday') (rows count from 0). Fix: write times as ISO-8601 (e.g. "
        "2026-01-05T13:45:00), epoch seconds or a compact form such as 2026010513, and drop or "
        "repair the rows shown, or pass --ts-format with a strftime pattern (e.g. --ts-format "
        "%y%m%d%H for 14102100, %d/%m/%Y %H:%M for 21/10/2014 00:00)",
    ),
    (
        "missing required column",
        lambda: _events().drop(columns=["ad_id"]),
        "ev.csv: column 'ad_id': required column is missing (the file has: ts, user_id, clicked, "
        "cost). Fix: add it, or rename an existing column with --map SOURCE=ad_id",
    ),
    (
        "empty user id",
        lambda: _with(_events(), "user_id", 6, None),
        "ev.csv: column 'user_id': has empty ids; 1 row(s) affected: row 6 (value nan) "
        "(rows count from 0). Fix: give every row a non-empty id",
    ),
    (
        "duplicate event ids",
        lambda: _events(4).assign(event_id=["e1", "e2", "e1", "e3"]),
        "ev.csv: column 'event_id': must be unique within a file, but some ids repeat; 2 row(s) "
        "affected: row 0 (value 'e1'), row 2 (value 'e1') (rows count from 0). Fix: drop the "
        "duplicate rows or omit event_id to key rows by their content",
    ),
    (
        "e-mail column",
        lambda: _events(4).assign(contact=["a@b.com", "c@d.org", "e@f.net", "x@y.io"]),
        "ev.csv: column 'contact': looks like personal data: e-mail addresses in 4 of 4 rows; it "
        "is refused (values masked here); 4 row(s) affected: row 0 (value 'a@…om'), row 1 (value"
        " 'c@…rg'), row 2 (value 'e@…et'), row 3 (value '…') (rows count from 0). Fix: drop the "
        "column, pass --allow-pii contact if you are entitled to keep it, or --scrub-pii to mask "
        "e-mails, phones, IPs and card numbers inside the text",
    ),
    (
        "phone column",
        lambda: _events(4).assign(
            phone=["+44 20 7946 0958", "+1 415 555 0100", "+49 30 1234567", "+33 1 42 68 53 00"]
        ),
        "ev.csv: column 'phone': looks like personal data: phone numbers in 4 of 4 rows; it is "
        "refused (values masked here); 4 row(s) affected: row 0 (value '+4…58'), row 1 (value "
        "'+1…00'), row 2 (value '+4…67'), row 3 (value '+3…00') (rows count from 0). Fix: drop the"
        " column, pass --allow-pii phone if you are entitled to keep it, or --scrub-pii to mask "
        "e-mails, phones, IPs and card numbers inside the text",
    ),
]


@pytest.mark.parametrize(("name", "make", "message"), BAD_EVENTS, ids=[b[0] for b in BAD_EVENTS])
def test_bad_events_have_exact_messages(tmp_path, name, make, message):
    path = tmp_path / "ev.csv"
    make().to_csv(path, index=False)
    df = read_table(path)
    with pytest.raises(ContractError) as err:
        validate_table(df, "events", "ev.csv")
    assert str(err.value) == message


def test_more_than_five_bad_rows_are_summarised():
    df = _events(12).assign(clicked=[3] * 12)
    with pytest.raises(ContractError) as err:
        validate_table(df, "events", "ev.csv")
    msg = str(err.value)
    assert "12 row(s) affected" in msg and "row 4 (value 3)" in msg and "and 7 more" in msg
    assert "row 5 " not in msg


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(ContractError) as err:
        validate_table(read_table(path), "events", str(path))
    assert str(err.value) == (
        f"{path}: has no rows. Fix: give a file with a header row and at least one events row"
    )


def test_header_only_file(tmp_path):
    path = tmp_path / "head.csv"
    path.write_text("ts,user_id,ad_id,clicked\n")
    with pytest.raises(ContractError, match="has no rows"):
        validate_table(read_table(path), "events", str(path))


def test_duplicate_user_ids_refused():
    users = pd.DataFrame({"user_id": ["a", "b", "a"], "age": [1, 2, 3]})
    with pytest.raises(ContractError) as err:
        validate_table(users, "users", "users.csv")
    assert str(err.value) == (
        "users.csv: column 'user_id': must be unique, but some ids repeat; 2 row(s) affected: "
        "row 0 (value 'a'), row 2 (value 'a') (rows count from 0). Fix: keep one row per id "
        "(merge or drop the duplicates)"
    )


def test_allow_pii_accepts_named_column():
    df = _events(4).assign(contact=["a@b.com", "c@d.org", "e@f.net", "x@y.io"])
    out = validate_table(df, "events", "ev.csv", allow_pii=["contact"])
    assert list(out["contact"]) == list(df["contact"])


def test_numeric_ids_are_not_phones():
    df = _events(4).assign(order_no=["1234567", "7654321", "5551234", "9990001"])
    validate_table(df, "events", "ev.csv")


@pytest.mark.parametrize(
    "ts",
    [
        ["2026-01-05T10:00:00", "2026-01-05 11:30:00+01:00", "2026-01-06", "2026-01-07T00:00:00Z"],
        [1767607200, 1767610800, 1767614400, 1767618000],
        [1767607200000, 1767610800000, 1767614400000, 1767618000000],
    ],
)
def test_timestamp_forms_are_accepted(ts):
    out = validate_table(_events(4).assign(ts=ts), "events", "ev.csv")
    assert out["ts"].dt.year.eq(2026).all()


def test_booleans_are_binary():
    out = validate_table(_events(4).assign(clicked=["true", "false", "TRUE", "0"]), "events", "x")
    assert out["clicked"].tolist() == [1, 0, 1, 0]


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet", ".jsonl", ".tsv"])
def test_readers_round_trip(tmp_path, suffix):
    df = _events()
    path = tmp_path / f"ev{suffix}"
    if suffix == ".parquet":
        df.to_parquet(path)
    elif suffix == ".jsonl":
        df.to_json(path, orient="records", lines=True)
    elif suffix == ".tsv":
        df.to_csv(path, sep="\t", index=False)
    else:
        df.to_csv(path, index=False)
    back = validate_table(read_table(path), "events", str(path))
    assert len(back) == len(df)
    assert back["clicked"].tolist() == df["clicked"].tolist()


def test_mapping_renames_and_reports_unknown_source(tmp_path):
    path = tmp_path / "ev.csv"
    _events().rename(columns={"user_id": "uid"}).to_csv(path, index=False)
    assert "user_id" in read_table(path, mapping={"uid": "user_id"}).columns
    with pytest.raises(ContractError, match="column 'nope': named in --map but not in the file"):
        read_table(path, mapping={"nope": "user_id"})


def test_unreadable_files(tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(ContractError, match=r"bad\.parquet: cannot be read as PARQUET"):
        read_table(bad)
    with pytest.raises(InputError, match="cannot tell the file format"):
        read_table(tmp_path / "x.xlsx") if (tmp_path / "x.xlsx").write_text("x") else None
    with pytest.raises(InputError, match="no such file"):
        read_table(tmp_path / "missing.csv")


# ----------------------------------------------------------------------------- fuzzing
_cells = st.one_of(
    st.integers(-5, 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.none(),
    st.just("a@b.com"),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    corrupt=st.lists(
        st.tuples(st.integers(0, 7), st.sampled_from(list(_events().columns)), _cells), max_size=4
    ),
    drop=st.lists(st.sampled_from(list(_events().columns)), max_size=2),
    truncate=st.one_of(st.none(), st.integers(0, 400)),
)
def test_malformed_files_never_traceback_or_ingest_partially(tmp_path, corrupt, drop, truncate):
    from adwise.data import Workspace

    ws_dir = tmp_path / f"ws{np.random.default_rng().integers(1 << 30)}"
    ws = Workspace.init(ws_dir)
    df = _events()
    for row, col, val in corrupt:
        df = _with(df, col, row, val)
    df = df.drop(columns=list(set(drop)))
    path = ws_dir / "in.csv"
    text = df.to_csv(index=False)
    path.write_text(text if truncate is None else text[:truncate])
    before = ws.row_counts()["events"]
    try:
        rep = ws.ingest(path, "events")
    except (ContractError, PIIError, InputError):
        assert ws.row_counts()["events"] == before
        return
    # Success means every row was valid and all of them (less exact duplicates) are stored.
    assert ws.row_counts()["events"] == before + rep.rows_added
    assert 0 < rep.rows_added <= rep.rows_read
