"""Readers for CSV (also gzip), Parquet and JSON Lines files, with clear errors."""

from __future__ import annotations

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


def parse_mapping(items: Sequence[str] | None) -> dict[str, str]:
    """Parse ``["src=dst", ...]`` (the CLI's ``--map``) into a dict."""
    mapping: dict[str, str] = {}
    for item in items or ():
        src, sep, dst = item.partition("=")
        if not sep or not src.strip() or not dst.strip():
            raise InputError(f"--map expects SRC=DST (e.g. --map uid=user_id); got {item!r}.")
        mapping[src.strip()] = dst.strip()
    return mapping


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
        A CSV (``.csv``, ``.csv.gz``), TSV, Parquet or JSON Lines file.
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
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file.")
    if p.is_dir():
        raise InputError(f"{p}: is a folder; give a file.")
    fmt = fmt or detect_format(p)
    try:
        if fmt in ("csv", "tsv"):
            df = pd.read_csv(p, sep="\t" if fmt == "tsv" else ",", low_memory=False)
        elif fmt == "parquet":
            df = pd.read_parquet(p)
        elif fmt == "jsonl":
            df = pd.read_json(p, lines=True, dtype=False)
        else:
            raise InputError(f"{p}: unknown format {fmt!r}; use csv, tsv, parquet or jsonl.")
    except pd.errors.EmptyDataError:
        df = pd.DataFrame()
    except InputError:
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
