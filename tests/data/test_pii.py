"""Personal data in any share of any column: refused with the column, kind, count and masked
example rows; kept with --allow-pii COL or masked inside the text with --scrub-pii."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adwise import PIIError
from adwise.cli import main
from adwise.data import Workspace, find_pii, mask_pii, validate_table


def _events(n):
    return pd.DataFrame({
        "ts": pd.date_range("2026-01-05", periods=n, freq="min"),
        "user_id": [f"u{i % 7}" for i in range(n)],
        "ad_id": [f"a{i % 3}" for i in range(n)],
        "clicked": [i % 2 for i in range(n)],
    })


def test_a_notes_column_40_percent_emails_is_refused_with_count_and_masked_rows():
    n = 100
    notes = [f"reach me at person{i}@example.com" if i % 5 < 2 else "no comment"
             for i in range(n)]
    with pytest.raises(PIIError) as err:
        validate_table(_events(n).assign(notes=notes), "events", "ev.csv")
    msg = str(err.value)
    assert msg.startswith(
        "ev.csv: column 'notes': looks like personal data: e-mail addresses in 40 of 100 rows; "
        "it is refused (values masked here); 40 row(s) affected: row 0 (value 'reach me at pe…om'),"
        " row 1 ")
    assert "row 5 " in msg and "and 35 more" in msg
    assert "person0@example.com" not in msg
    assert msg.endswith("pass --allow-pii notes if you are entitled to keep it, or --scrub-pii "
                        "to mask e-mails, phones, IPs and card numbers inside the text")


@pytest.mark.parametrize(("column", "values", "kind"), [
    ("text", ["great product, mail jo@example.org", "call +44 20 7946 0958 today", "ok"],
     "e-mail addresses (1) and phone numbers (1)"),
    ("ip", ["192.168.10.4", "81.2.69.160", "2001:db8::8a2e:370:7334"], "IP addresses"),
    ("payment", ["paid by 4111 1111 1111 1111", "cash", "cash"], "card numbers"),
    ("phone", ["555-123-4567", "(415) 555-2671", "+14155552671"], "phone numbers"),
])
def test_each_kind_is_found_in_any_share(column, values, kind):
    found = find_pii(pd.DataFrame({column: values}))
    assert [f.column for f in found] == [column]
    assert found[0].describe().startswith(kind + " in ")


def test_card_numbers_in_an_integer_column_are_found():
    found = find_pii(pd.DataFrame({"cc": [4111111111111111, 5500000000000004, 378282246310005]}))
    assert found[0].kinds == {"card numbers": 3}


@pytest.mark.parametrize("values", [
    ["ddd2926e", "96809ac8", "b3cf8def", "8a014cbb"],  # Avazu's hashed device_ip
    ["1000009418151094273", "10000169349117863715", "10000371904215119486"],  # Avazu's id
    [str(x) for x in np.random.default_rng(0).integers(10**15, 10**16, 300)],  # order numbers
    ["1767607200000", "1767610800000"],  # epoch milliseconds
    ["2026-01-05", "2026-01-05 10:00:00", "10:00:00", "v2.10.4", "1.2.3"],
    ["Green tea: organic, 20 bags, $5", "size 10-12", "1,234,567.89", "3:2:1"],
    ["1234567", "7654321", "5551234"],
])
def test_ids_hashes_dates_and_numbers_are_not_personal_data(values):
    assert find_pii(pd.DataFrame({"c": values})) == []


def test_user_id_is_not_checked_since_it_is_pseudonymised():
    df = _events(3).assign(user_id=["a@x.com", "b@x.com", "c@x.com"])
    validate_table(df, "events", "ev.csv")


def test_large_columns_are_sampled_and_the_count_says_so():
    n = 30_000
    df = pd.DataFrame({"ip": [f"10.0.{i % 250}.{i % 200 + 1}" for i in range(n)]})
    f = find_pii(df, sample=1000)[0]
    assert (f.rows, f.checked, f.total) == (1000, 1000, n)
    assert f.describe() == "IP addresses in 1,000 of 1,000 rows (a sample of 30,000)"


def test_mask_pii_masks_inside_text_and_keeps_the_rest():
    df = pd.DataFrame({"text": ["mail jo@x.com, tel +44 20 7946 0958", "nothing here", None],
                       "ip": ["10.1.2.3", "10.1.2.4", "10.1.2.5"], "n": [1, 2, 3]})
    out, notes = mask_pii(df)
    assert out["text"].tolist()[:2] == ["mail [email], tel [phone]", "nothing here"]
    assert pd.isna(out["text"].iloc[2])
    assert out["ip"].tolist() == ["[ip]"] * 3
    assert out["n"].tolist() == [1, 2, 3]
    assert notes == ["column 'text': masked personal data in 1 rows (--scrub-pii)",
                     "column 'ip': masked personal data in 3 rows (--scrub-pii)"]


def test_ingest_refuses_then_scrubs_or_allows(tmp_path, capsys):
    ws = Workspace.init(tmp_path / "ws")
    f = tmp_path / "ev.csv"
    ev = _events(4).assign(ip=["81.2.69.160", "81.2.69.161", "81.2.69.162", "81.2.69.163"],
                           note=["x", "y", "write to a@b.com", "z"])
    ev.to_csv(f, index=False)
    assert main(["ingest", str(f), "-t", "events", "-w", str(ws.path)]) == 2
    err = capsys.readouterr().err
    assert "column 'ip': looks like personal data: IP addresses in 4 of 4 rows" in err
    assert "(also in: note)" in err and "81.2.69.160" not in err
    assert ws.row_counts()["events"] == 0
    assert main(["ingest", str(f), "-t", "events", "-w", str(ws.path), "--allow-pii", "ip",
                 "--scrub-pii"]) == 0
    assert "column 'note': masked personal data in 1 rows" in capsys.readouterr().err
    stored = ws.table("events").sort_values("ts")
    assert stored["note"].tolist() == ["x", "y", "write to [email]", "z"]
    assert stored["ip"].tolist() == ev["ip"].tolist()  # allowed: kept as given
