"""Validate a DataFrame against the data contract and normalise its types.

All checks live here; the workspace and every ``--train/--test`` command call
:func:`validate_table` so that a file is judged the same way everywhere.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from adwise._exceptions import ContractError, InputError, PIIError
from adwise.data._contract import FIXES, TABLES, ColumnSpec

__all__ = [
    "DUPLICATE_EVENT",
    "DUPLICATE_KEY",
    "PROBLEMS",
    "PIIFinding",
    "as_categorical",
    "find_pii",
    "find_pii_columns",
    "implausible_timestamps",
    "mask_pii",
    "parse_timestamps",
    "unparsed_timestamps",
    "validate_table",
]

log = logging.getLogger(__name__)


def _bad(file: str, col: str, problem: str, fix: str, mask: np.ndarray, values: pd.Series):
    idx = np.flatnonzero(mask)
    rows = [(int(i), _py(values.iloc[i])) for i in idx[:5]]
    return ContractError(file, col, problem, fix, rows=rows, n_bad=len(idx))


def _py(v: object) -> object:
    if isinstance(v, np.generic):
        return v.item()
    return v


def _is_text(s: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)


# Compact all-digit forms, tried in this order for a column whose values all have this many
# digits; the first format that reads every value as a plausible time wins.
COMPACT_FORMATS: dict[int, tuple[str, ...]] = {
    8: ("%Y%m%d", "%y%m%d%H"),
    10: ("%Y%m%d%H",),
    12: ("%Y%m%d%H%M",),
    14: ("%Y%m%d%H%M%S",),
}
# Times outside this window are misread far more often than they are real.
EARLIEST = pd.Timestamp("1990-01-01")


def latest_plausible() -> pd.Timestamp:
    """One year from now: later timestamps are refused as misread."""
    return pd.Timestamp.now() + pd.DateOffset(years=1)


def _plausible(ts: pd.Series) -> bool:
    ok = ts.dropna()
    return bool(len(ok)) and bool(((ok >= EARLIEST) & (ok <= latest_plausible())).all())


def _compact_width(values: pd.Series, num: pd.Series) -> int | None:
    """The digit count shared by every present value, when all are whole numbers; else None."""
    present = values.notna()
    if not present.any() or num[present].isna().any():
        return None
    if _is_text(values):
        lengths = values[present].astype(str).str.strip().str.len()
        if lengths.nunique() != 1:
            return None
        return int(lengths.iloc[0])  # a number that is not all digits ("1e5") fails the formats
    whole = num[present].to_numpy(dtype=float)
    if not np.all(np.isfinite(whole)) or not np.all(whole == np.floor(whole)) or (whole < 1).any():
        return None
    lo, hi = (len(str(int(v))) for v in (whole.min(), whole.max()))
    return lo if lo == hi else None


def _as_digits(values: pd.Series) -> pd.Series:
    present = values.dropna()
    if _is_text(present):
        return present.astype(str).str.strip()
    return present.astype(np.int64).astype(str)


def _compact(values: pd.Series, num: pd.Series) -> pd.Series | None:
    """Parse a compact digit form (see ``COMPACT_FORMATS``) when one fits every value."""
    width = _compact_width(values, num)
    forms = COMPACT_FORMATS.get(width or 0, ())
    if not forms:
        return None
    # Try each form on a sample first, so epoch seconds cost no full string parse.
    sample = _as_digits(values.dropna().iloc[:1000])
    for form in forms:
        parsed = pd.to_datetime(sample, format=form, errors="coerce")
        if parsed.isna().any() or not _plausible(parsed):
            continue
        parsed = pd.to_datetime(_as_digits(values), format=form, errors="coerce")
        if parsed.notna().all() and _plausible(parsed):
            return parsed.reindex(values.index)
    return None


def _strftime(values: pd.Series, fmt: str) -> pd.Series:
    text = values.astype("string").str.strip()
    if pd.api.types.is_float_dtype(values):
        # Integers read with missing values become floats ("14102100.0"); drop the fraction.
        whole = values.dropna()
        if (whole == np.floor(whole)).all():
            text = values.astype("Int64").astype("string")
    # utc=True: a pattern with %z gives aware times, which become naive UTC like ISO-8601 ones.
    out = pd.to_datetime(text, format=fmt, errors="coerce", utc=True)
    return out.dt.tz_localize(None)


def parse_timestamps(values: pd.Series, fmt: str | None = None) -> pd.Series:
    """Parse timestamps to naive UTC.

    With ``fmt`` (a strftime pattern such as ``%y%m%d%H``), every value is read with it.
    Without, accepted forms are datetimes, ISO-8601 strings, compact digit forms
    (``YYYYMMDD``, ``YYMMDDHH`` as 8 digits, ``YYYYMMDDHH``, ``YYYYMMDDHHMM``,
    ``YYYYMMDDHHMMSS``; used only when every value reads as a time in 1990 .. now + 1 year)
    and epoch seconds (milliseconds if > 1e11).

    Unparseable values become ``NaT``; the caller decides whether that is an error.
    """
    if pd.api.types.is_datetime64_any_dtype(values):  # already times (Parquet): fmt is moot
        out = pd.to_datetime(values, utc=True)
        return out.dt.tz_localize(None)
    if fmt:
        return _strftime(values, fmt)
    num = pd.to_numeric(values, errors="coerce")
    if values.notna().any() and num.notna().sum() == values.notna().sum():
        compact = _compact(values, num)
        if compact is not None:
            return compact
        unit = "ms" if np.nanmax(np.abs(num.to_numpy(dtype=float))) > 1e11 else "s"
        return pd.to_datetime(num, unit=unit, errors="coerce")
    out = pd.to_datetime(values.astype("string"), utc=True, errors="coerce", format="ISO8601")
    return out.dt.tz_localize(None)


#: what :func:`validate_table` says of a column that breaks its kind's rule (shared with the
#: Spark ingest, :mod:`adwise.engine._ingest`, so both engines refuse a file in the same words)
PROBLEMS = {
    "empty_id": "has empty ids",
    "not_number": "has values that are not numbers",
    "not_binary": "must be 0 or 1",
    "missing": "has missing values",
    "infinite": "has infinite values",
    "negative": "must be >= 0",
    "propensity": "must be in (0, 1]",
}
#: ``(problem, fix)`` for repeated keys: of users / ads, and of events within one file
DUPLICATE_KEY = ("must be unique, but some ids repeat",
                 "keep one row per id (merge or drop the duplicates)")
DUPLICATE_EVENT = ("must be unique within a file, but some ids repeat",
                   "drop the duplicate rows or omit event_id to key rows by their content")
_TS_EXAMPLE = "e.g. --ts-format %y%m%d%H for 14102100, %d/%m/%Y %H:%M for 21/10/2014 00:00"


def unparsed_timestamps(fmt: str | None) -> tuple[str, str]:
    """``(problem, fix)`` for missing or unreadable timestamps (read with ``fmt``, if given)."""
    if fmt:
        return (f"has missing values or values that do not match --ts-format {fmt}",
                f"check the pattern against the rows shown ({_TS_EXAMPLE}), or drop those rows")
    return ("has missing or unparseable timestamps",
            f"{FIXES['timestamp']}, or pass --ts-format with a strftime pattern ({_TS_EXAMPLE})")


def implausible_timestamps(first: object) -> tuple[str, str]:
    """``(problem, fix)`` for times outside 1990 .. now + 1 year; ``first``: the first one."""
    return (f"has timestamps before 1990-01-01 or after {latest_plausible():%Y-%m-%d}, which "
            f"means they were misread (the first shown was read as {str(first)[:16]})",
            f"pass --ts-format with the pattern of these values ({_TS_EXAMPLE}), or repair the "
            "rows")


def _check_timestamps(file: str, col: str, s: pd.Series, fmt: str | None) -> pd.Series:
    ts = parse_timestamps(s, fmt)
    bad = ts.isna().to_numpy()
    if bad.any():
        raise _bad(file, col, *unparsed_timestamps(fmt), bad, s)
    off = ((ts < EARLIEST) | (ts > latest_plausible())).to_numpy()
    if off.any():
        raise _bad(file, col, *implausible_timestamps(ts[off].iloc[0]), off, s)
    return ts


# Words accepted as labels in 0/1 columns, in any case.
_BINARY_WORDS = {"true": "1", "false": "0", "yes": "1", "no": "0", "y": "1", "n": "0"}


def _check_column(
    file: str,
    spec: ColumnSpec,
    s: pd.Series,
    ts_format: str | None = None,
    warnings: list[str] | None = None,
) -> pd.Series:
    """Return the column converted to its canonical type, or raise ContractError."""
    col, kind, fix = spec.name, spec.kind, FIXES[spec.kind]
    present = s.notna().to_numpy()
    if kind == "id":
        text = s.astype("string").str.strip()
        empty = (~present) | (text.fillna("") == "").to_numpy()
        if empty.any():
            raise _bad(file, col, PROBLEMS["empty_id"], fix, empty, s)
        return text.astype(object)
    if kind == "text":
        return s.astype("string").astype(object).where(present, None)
    if kind == "timestamp":
        return _check_timestamps(file, col, s, ts_format)
    # numeric kinds: booleans and yes/no, true/false, y/n words are accepted for binary columns
    raw = s
    if kind == "binary" and (pd.api.types.is_bool_dtype(s) or _is_text(s)):
        lowered = s.astype("string").str.strip().str.lower()
        raw = lowered.map(_BINARY_WORDS).fillna(lowered)
        words = sorted(set(lowered.dropna().unique()) & set(_BINARY_WORDS))
        if words and warnings is not None and not pd.api.types.is_bool_dtype(s):
            warnings.append(
                f"{file}: column '{col}' holds the words {', '.join(words)}; read as "
                "1 (true/yes/y) and 0 (false/no/n)."
            )
    num = pd.to_numeric(raw, errors="coerce").astype(float)
    unparsable = present & num.isna().to_numpy()
    if unparsable.any():
        raise _bad(file, col, PROBLEMS["not_number"], fix, unparsable, s)
    v = num.to_numpy()
    if kind == "binary":
        bad = present & ~np.isin(v, (0.0, 1.0))
        if bad.any():
            raise _bad(file, col, PROBLEMS["not_binary"], fix, bad, s)
        if (~present).any() and spec.required:
            raise _bad(file, col, PROBLEMS["missing"], fix, ~present, s)
        return pd.Series(np.where(present, v, np.nan), index=s.index).astype("Int8")
    finite = np.isfinite(v) | ~present
    if not finite.all():
        raise _bad(file, col, PROBLEMS["infinite"], fix, ~finite, s)
    if kind == "nonneg":
        bad = present & (v < 0)
        if bad.any():
            raise _bad(file, col, PROBLEMS["negative"], fix, bad, s)
    elif kind == "propensity":
        bad = present & ((v <= 0) | (v > 1))
        if bad.any():
            raise _bad(file, col, PROBLEMS["propensity"], fix, bad, s)
    return pd.Series(v, index=s.index)


def as_categorical(s: pd.Series) -> pd.Series:
    """Codes as text: whole numbers without a trailing ``.0``, missing values as None."""
    present = s.notna()
    if pd.api.types.is_float_dtype(s) and (s[present] == np.floor(s[present])).all():
        s = s.astype("Int64")
    return s.astype("string").str.strip().astype(object).where(present, None)


def refuse_case_twins(columns: Iterable[object], file: str) -> None:
    """Refuse names that differ only by case (``clicked`` and ``CLICKED``)."""
    seen: dict[str, str] = {}
    for name in map(str, columns):
        twin = seen.setdefault(name.lower(), name)
        if twin != name:
            raise ContractError(
                file,
                name,
                f"differs from the column '{twin}' only by case",
                "keep one of them, or give them distinct names",
            )


@dataclass(frozen=True)
class PIIFinding:
    """Personal data found in one column.

    Attributes
    ----------
    column : str
    kinds : dict of str to int
        Rows holding each kind (``e-mail addresses``, ``phone numbers``, ``IP addresses``,
        ``card numbers``).
    rows : int
        Rows holding any of them.
    checked : int
        Rows checked: every non-empty row, or an evenly spread sample of a large column.
    total : int
        Non-empty rows of the column.
    examples : list of (int, str)
        Up to five ``(row number, value with each match masked)``.
    """

    column: str
    kinds: dict[str, int]
    rows: int
    checked: int
    total: int
    examples: list[tuple[int, str]]

    def describe(self) -> str:
        """E.g. ``e-mail addresses in 412 of 1,000 rows``."""
        kinds = " and ".join(f"{k} ({n:,})" if len(self.kinds) > 1 else k
                             for k, n in self.kinds.items())
        sample = f" (a sample of {self.total:,})" if self.checked < self.total else ""
        return f"{kinds} in {self.rows:,} of {self.checked:,} rows{sample}"


_KINDS = {"card": "card numbers", "email": "e-mail addresses", "ip": "IP addresses",
          "phone": "phone numbers"}
_MASKS = {"card": "[card]", "email": "[email]", "ip": "[ip]", "phone": "[phone]"}
# Searched inside text (not only whole values). Look-arounds keep them off longer tokens:
# hashed ids ("ddd2926e"), version strings, dates and bare digit runs are not matched; phone
# digit groups are separated by a space, dot or dash only (tabs separate fields, not digits).
_EMAIL_IN = re.compile(r"(?<![\w.%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*"
                       r"\.[A-Za-z]{2,}(?![\w\-])")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4_IN = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w]|\.\d)")
_IPV6_IN = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_PHONE_IN = re.compile(
    r"(?<![\w.+\-])(?:\+\d{1,3}[ .\-]?)?(?:\(\d{2,4}\)[ .\-]?|\d{2,4}[ .\-])\d{3,4}[ .\-]?"
    r"\d{3,4}(?![\w\-]|\.\d)|(?<![\w+])\+\d{8,15}(?!\w)"
    # international numbers in groups of one to four digits: "+33 1 42 68 53 00"
    r"|(?<![\w+])\+\d{1,3}(?:[ .\-]\(?\d{1,4}\)?){2,6}(?![\w\-]|\.\d)"
)
_CARD_IN = re.compile(r"(?<![\w\-])\d(?:[ \-]?\d){12,18}(?![\w\-])")
_DIGITS = re.compile(r"^\d{13,19}$")
_ORDER = (("email", _EMAIL_IN), ("card", _CARD_IN), ("ip", _IPV4_IN), ("ip", _IPV6_IN),
          ("phone", _PHONE_IN))


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_like(text: str) -> bool:
    """Luhn-valid, 13-19 digits, with an issuer prefix (Visa, Mastercard, Amex, Discover, JCB,
    Diners, UnionPay): a random 16-digit id passes Luhn one time in ten, far fewer pass both."""
    d = text.replace(" ", "").replace("-", "")
    n = len(d)
    if not 13 <= n <= 19 or not _luhn(d):
        return False
    two, four = int(d[:2]), int(d[:4])
    return (d[0] == "4" or 51 <= two <= 55 or 2221 <= four <= 2720 or two in (34, 37)
            or d.startswith(("6011", "65", "62", "36", "38")) or 644 <= int(d[:3]) <= 649
            or 3528 <= four <= 3589 or 300 <= int(d[:3]) <= 305)


def _ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return sum(1 for g in text.split(":") if g) >= 3  # not "::" or "::1"-like fragments


def _matches(text: str, bare_cards: bool) -> list[tuple[str, int, int]]:
    """``(kind, start, end)`` of every personal-data match in ``text``, left to right."""
    found: list[tuple[str, int, int]] = []
    taken: list[tuple[int, int]] = []
    if "@" not in text and not any(c.isdigit() for c in text) and ":" not in text:
        return found
    for kind, rx in _ORDER:
        for m in rx.finditer(text):
            a, b = m.span()
            if any(a < y and x < b for x, y in taken):
                continue
            g = m.group()
            if kind == "card" and (not _card_like(g) or (not bare_cards and g.isdigit()
                                                         and len(g) == len(text.strip()))):
                continue
            if rx is _IPV6_IN and not _ipv6(g):
                continue
            if kind == "phone" and sum(c.isdigit() for c in g) < 8:
                continue
            found.append((kind, a, b))
            taken.append((a, b))
    return sorted(found, key=lambda t: t[1])


def _mask(text: str, spans: list[tuple[str, int, int]]) -> str:
    """``text`` with each match cut to its first and last two characters."""
    out, pos = [], 0
    for _, a, b in spans:
        g = text[a:b]
        out += [text[pos:a], f"{g[:2]}…{g[-2:]}" if len(g) > 6 else "…"]
        pos = b
    out.append(text[pos:])
    return "".join(out)


def _bare_cards_count(values: pd.Series) -> bool:
    """Whether whole-value digit runs in this column are card numbers: they are when most of
    them are card-like (a column of 16-digit order ids is card-like one time in ten or less)."""
    digits = values[values.str.fullmatch(_DIGITS).fillna(False)]
    return len(digits) > 0 and digits.map(_card_like).mean() >= 0.5


def _text_values(s: pd.Series) -> pd.Series | None:
    if _is_text(s):
        vals = s.dropna()
        return vals.astype(str)
    if pd.api.types.is_integer_dtype(s):  # a card-number column read as integers
        vals = s.dropna()
        big = vals.abs() >= 10**12
        return vals[big].astype(str) if big.any() else None
    return None


def find_pii(df: pd.DataFrame, skip: Iterable[str] = (), sample: int = 20_000
             ) -> list[PIIFinding]:
    """E-mail addresses, phone numbers, IP addresses and card numbers in any share of any
    text column (whole values or inside free text), and card numbers in integer columns.

    Each distinct value is checked once; a column with more than ``sample`` rows is checked on
    an evenly spread sample of them, so a count says how many of the checked rows matched.

    Examples
    --------
    >>> df = pd.DataFrame({"notes": ["call me", "mail jo@example.com"], "n": ["a1", "b2"]})
    >>> [(f.column, f.kinds, f.examples) for f in find_pii(df)]
    [('notes', {'e-mail addresses': 1}, [(1, 'mail jo…om')])]
    """
    found = []
    skip = set(skip)
    for col in df.columns:
        if col in skip:
            continue
        s = df[col]
        if not (_is_text(s) or pd.api.types.is_integer_dtype(s)):
            continue
        # sample before converting anything: a large column costs what the sample costs
        pos = np.flatnonzero(s.notna().to_numpy())
        total = len(pos)
        if total > sample:
            pos = pos[(np.arange(sample) * (total / sample)).astype(int)]
        sub = s.iloc[pos]
        sub.index = pos  # row numbers of the file, for the examples
        vals = _text_values(sub)
        if vals is None or vals.empty:
            continue
        bare = _bare_cards_count(vals)
        uniq = pd.unique(vals.to_numpy())
        hits = {u: m for u in uniq if (m := _matches(u, bare))}
        if not hits:
            continue
        matched = vals.isin(hits.keys()).to_numpy()
        kinds: dict[str, int] = {}
        for v in vals[matched]:
            for k in {k for k, _, _ in hits[v]}:
                kinds[_KINDS[k]] = kinds.get(_KINDS[k], 0) + 1
        where = np.flatnonzero(matched)[:5]
        examples = [(int(vals.index[i]), _mask(vals.iloc[i], hits[vals.iloc[i]]))
                    for i in where]
        found.append(PIIFinding(str(col), dict(sorted(kinds.items(), key=lambda kv: -kv[1])),
                                int(matched.sum()), min(total, sample), total, examples))
    return found


def find_pii_columns(df: pd.DataFrame, skip: Iterable[str] = (), sample: int = 20_000
                     ) -> list[str]:
    """Columns holding e-mail addresses, phone numbers, IP addresses or card numbers
    (see :func:`find_pii`)."""
    return [f.column for f in find_pii(df, skip, sample)]


def mask_pii(df: pd.DataFrame, skip: Iterable[str] = ()) -> tuple[pd.DataFrame, list[str]]:
    """Mask personal data inside every text column (``[email]``, ``[phone]``, ``[ip]``,
    ``[card]``); returns the frame and one note per column changed.

    Examples
    --------
    >>> out, notes = mask_pii(pd.DataFrame({"t": ["write to jo@example.com or +44 20 7946 0958"]}))
    >>> out["t"][0]
    'write to [email] or [phone]'
    """
    out = df.copy()
    notes = []
    skip = set(skip)
    for col in out.columns:
        if col in skip:
            continue
        vals = _text_values(out[col])
        if vals is None or vals.empty:
            continue
        bare = _bare_cards_count(vals)
        fixed = {}
        for u in pd.unique(vals.to_numpy()):
            spans = _matches(u, bare)
            if spans:
                text, pos = [], 0
                for kind, a, b in spans:
                    text += [u[pos:a], _MASKS[kind]]
                    pos = b
                fixed[u] = "".join([*text, u[pos:]])
        if not fixed:
            continue
        changed = vals.isin(fixed.keys())
        column = out[col].astype(object)
        column.loc[changed[changed].index] = vals[changed].map(fixed)
        out[col] = column
        notes.append(f"column '{col}': masked personal data in {int(changed.sum()):,} rows "
                     "(--scrub-pii)")
    return out, notes


def validate_table(
    df: pd.DataFrame,
    table: str,
    file: str,
    allow_pii: Iterable[str] = (),
    ts_format: str | None = None,
    categorical: Iterable[str] = (),
    warnings: list[str] | None = None,
    scrub_pii: bool = False,
) -> pd.DataFrame:
    """Check ``df`` against the contract of ``table`` and return it with canonical types.

    Parameters
    ----------
    df : DataFrame
        The rows as read (after ``--map`` renames).
    table : {"events", "users", "ads"}
        Which contract applies.
    file : str
        Named in every error message.
    allow_pii : iterable of str
        Columns the caller has confirmed may hold personal data (kept as they are).
    ts_format : str, optional
        A strftime pattern (e.g. ``%y%m%d%H``) for the ``ts`` column; without it the forms
        :func:`parse_timestamps` detects are accepted.
    categorical : iterable of str
        Context columns that are codes, not quantities (e.g. integer-coded ids): kept as text.
    warnings : list of str, optional
        Receives what was accepted but is worth saying (e.g. yes/no labels read as 1/0).
    scrub_pii : bool
        Mask personal data inside text columns instead of refusing the file (what was masked
        is added to ``warnings``).

    Raises
    ------
    ContractError
        Naming the file, the column, up to five offending rows with their values, and the fix.
    """
    if table not in TABLES:
        raise InputError(f"unknown table {table!r}; use one of: {', '.join(TABLES)}.")
    spec = TABLES[table]
    if len(df.columns) == 0 or len(df) == 0:
        raise ContractError(
            file, None, "has no rows", f"give a file with a header row and at least one {table} row"
        )
    refuse_case_twins(df.columns, file)
    missing = [c for c in spec.required if c not in df.columns]
    if missing:
        raise ContractError(
            file,
            missing[0],
            f"required column is missing (the file has: {', '.join(map(str, df.columns[:20]))})",
            f"add it, or rename an existing column with --map SOURCE={missing[0]}",
        )
    out = df.copy()
    for col in spec.columns:
        if col.name in out.columns:
            out[col.name] = _check_column(file, col, out[col.name], ts_format, warnings)
    for name in dict.fromkeys(categorical):
        if name not in out.columns:
            raise InputError(
                f"{file}: --categorical names {name!r}, which is not a column (the file has: "
                f"{', '.join(map(str, out.columns[:20]))})."
            )
        if spec.column(name) is not None:
            raise InputError(
                f"{file}: --categorical {name}: '{name}' is a contract column with its own type; "
                "declare only context columns (attributes) categorical."
            )
        out[name] = as_categorical(out[name])
    all_empty = [c for c in out.columns if out[c].isna().all() and c not in spec.required]
    if all_empty:
        out = out.drop(columns=all_empty)
    if table in ("users", "ads"):
        key = out[spec.key]
        dup = key.duplicated(keep=False).to_numpy()
        if dup.any():
            raise _bad(
                file,
                spec.key,
                *DUPLICATE_KEY,
                dup,
                key,
            )
    elif "event_id" in out.columns:
        dup = out["event_id"].duplicated(keep=False).to_numpy()
        if dup.any():
            raise _bad(
                file,
                "event_id",
                *DUPLICATE_EVENT,
                dup,
                out["event_id"],
            )
    allow = set(allow_pii)
    unknown_allow = allow - set(out.columns)
    if unknown_allow:
        raise InputError(
            f"{file}: --allow-pii names {sorted(unknown_allow)[0]!r}, which is not a column."
        )
    # user_id is replaced by its keyed pseudonym at ingest, whatever it holds.
    skip = allow | {"user_id"}
    if scrub_pii:
        out, notes = mask_pii(out, skip)
        if warnings is not None:
            warnings.extend(notes)
        return out
    found = find_pii(out, skip=skip)
    if found:
        f = found[0]
        others = [g.column for g in found[1:]]
        also = f" (also in: {', '.join(others)})" if others else ""
        raise PIIError(
            file,
            f.column,
            f"looks like personal data: {f.describe()}{also}; it is refused (values masked "
            "here)",
            f"drop the column, pass --allow-pii {f.column} if you are entitled to keep it, or "
            "--scrub-pii to mask e-mails, phones, IPs and card numbers inside the text",
            rows=f.examples,
            n_bad=f.rows,
        )
    return out
