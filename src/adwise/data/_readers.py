"""Readers for CSV (also gzip), Parquet and JSON Lines files, with clear errors."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from adwise._exceptions import ContractError, InputError

__all__ = ["detect_format", "parse_mapping", "read_table"]

_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


def detect_format(path: str | Path) -> str:
    """Return ``csv``, ``tsv``, ``parquet`` or ``jsonl`` from the file name (``.gz`` allowed)."""
    p = Path(path)
    suffixes = [s.lower() for s in p.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    fmt = _FORMATS.get(suffixes[-1] if suffixes else "")
    if fmt is None:
        raise InputError(
            f"{p}: cannot tell the file format from its name; use .csv, .csv.gz, .tsv, "
            ".parquet or .jsonl (JSON Lines)."
        )
    return fmt


# Delimiters a plain-text table is sniffed for; a comma wins whenever the sniffer is unsure.
_DELIMITERS = ",;\t|"
_SNIFF_BYTES = 64 * 1024


def _head_text(p: Path) -> str:
    """The first KBs of a (possibly gzipped) text file, cut at the last complete line."""
    opener = gzip.open if p.suffix.lower() == ".gz" else open
    with opener(p, "rb") as fh:
        raw = fh.read(_SNIFF_BYTES)
    text = raw.decode("utf-8", errors="replace").lstrip("\ufeff")
    if len(raw) == _SNIFF_BYTES and "\n" in text:
        text = text[: text.rindex("\n") + 1]
    return text


def _sniff_delimiter(sample: str) -> str:
    """The delimiter of a CSV sample: comma, semicolon, tab or pipe (comma when unsure)."""
    lines = [ln for ln in sample.splitlines() if ln.strip()]
    if not lines:
        return ","
    try:
        found = csv.Sniffer().sniff("\n".join(lines[:200]), delimiters=_DELIMITERS).delimiter
    except csv.Error:
        found = ","
    # The sniffer can pick a character that only occurs inside values; a real delimiter also
    # splits the header.
    if found not in lines[0]:
        counts = {d: lines[0].count(d) for d in _DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        found = best if counts[best] else ","
    return found


def _check_header(p: Path, header: list[str]) -> None:
    """Refuse repeated column names, which pandas would silently rename (``clicked.1``)."""
    seen: set[str] = set()
    for name in (h.strip() for h in header):
        if name in seen:
            raise ContractError(
                str(p),
                name,
                "appears more than once in the header",
                "give every column a distinct name (a reader would rename the second copy, "
                "and a model could then use it as a copy of the label)",
            )
        seen.add(name)


def _read_text_table(p: Path, fmt: str) -> pd.DataFrame:
    sample = _head_text(p)
    sep = "\t" if fmt == "tsv" else _sniff_delimiter(sample)
    first = next(iter(sample.splitlines()), "")
    if first.strip():
        _check_header(p, next(csv.reader([first], delimiter=sep)))
    return pd.read_csv(p, sep=sep, low_memory=False)


def parse_mapping(items: Sequence[str] | None) -> dict[str, str]:
    """Parse ``["src=dst", ...]`` (the CLI's ``--map``) into a dict."""
    mapping: dict[str, str] = {}
    for item in items or ():
        src, sep, dst = item.partition("=")
        if not sep or not src.strip() or not dst.strip():
            raise InputError(f"--map expects SRC=DST (e.g. --map uid=user_id); got {item!r}.")
        mapping[src.strip()] = dst.strip()
    return mapping


def _refuse_repeated_header(p: Path, sep: str) -> None:
    """pandas renames a repeated CSV header (``clicked``, ``clicked.1``), which would keep the
    second as an unrelated column: refuse it while the file's own names are known."""
    try:
        head = pd.read_csv(p, sep=sep, header=None, nrows=1, dtype=str)
    except (pd.errors.EmptyDataError, ValueError, OSError):
        return  # the full read already accepted the file; nothing more to learn here
    names = [str(c).strip() for c in head.iloc[0].tolist()] if len(head) else []
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ContractError(str(p), name, "appears more than once in the header",
                                "give every column a distinct name (or drop the copy)")
        seen.add(name)


def read_table(
    path: str | Path,
    fmt: str | None = None,
    mapping: Mapping[str, str] | None = None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read one file into a DataFrame, renaming columns by ``mapping``.

    Parameters
    ----------
    path : str or Path
        A CSV (``.csv``, ``.csv.gz``; the delimiter, comma, semicolon, tab or pipe, is
        sniffed), TSV, Parquet or JSON Lines file.
    fmt : str, optional
        Force a format instead of detecting it from the name.
    mapping : mapping, optional
        ``{source column: contract column}`` renames applied after reading.
    columns : sequence of str, optional
        Only these (post-rename) columns are kept, when given.

    Raises
    ------
    InputError
        The file does not exist or cannot be parsed; the message names the file.
    ContractError
        A column name repeats in the header or after ``mapping``.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file.")
    if p.is_dir():
        raise InputError(f"{p}: is a folder; give a file.")
    fmt = fmt or detect_format(p)
    try:
        if fmt in ("csv", "tsv"):
            df = _read_text_table(p, fmt)
        elif fmt == "parquet":
            df = pd.read_parquet(p)
        elif fmt == "jsonl":
            df = pd.read_json(p, lines=True, dtype=False)
        else:
            raise InputError(f"{p}: unknown format {fmt!r}; use csv, tsv, parquet or jsonl.")
    except pd.errors.EmptyDataError:
        df = pd.DataFrame()
    except InputError:  # ContractError too: the header check names the column itself
        raise
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ContractError(
            str(p),
            None,
            f"cannot be read as {fmt.upper()} ({first})",
            f"check that the file is valid {fmt.upper()} (one header row, consistent columns, "
            "UTF-8)",
        ) from exc
    except Exception as exc:  # pyarrow raises its own error types for damaged Parquet
        raise ContractError(
            str(p),
            None,
            f"cannot be read as {fmt.upper()} ({type(exc).__name__}: {exc})",
            f"check that the file is a complete, valid {fmt.upper()} file",
        ) from exc
    if fmt in ("csv", "tsv"):
        _refuse_repeated_header(p, "\t" if fmt == "tsv" else ",")
    df.columns = [str(c).strip() for c in df.columns]
    if mapping:
        missing = [s for s in mapping if s not in df.columns]
        if missing:
            raise ContractError(
                str(p),
                missing[0],
                "named in --map but not in the file",
                f"the file's columns are: {', '.join(df.columns[:30])}",
            )
        df = df.rename(columns=dict(mapping))
    dupes = df.columns[df.columns.duplicated()].tolist()
    if dupes:
        raise ContractError(
            str(p),
            dupes[0],
            "appears more than once (after --map)",
            "give every column a distinct name",
        )
    if columns is not None:
        df = df[[c for c in columns if c in df.columns]]
    return df
