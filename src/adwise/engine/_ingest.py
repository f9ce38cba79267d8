"""``adwise ingest --engine spark``: the data contract checked on Spark, Parquet written out.

The rules are the embedded ingest's (:data:`adwise.data.TABLES`, the problems and fixes of
:mod:`adwise.data._validate`), written as Spark column expressions so that a file too large for
one machine is judged without collecting it: required columns, each contract column's kind
(ids, timestamps, 0/1, numbers >= 0, propensities), unique keys and personal data (looked for
in a sample collected to the driver, as the embedded check samples a large column).  The first
broken rule raises the same :class:`~adwise.ContractError`, naming the file, the column and
the first offending rows (counted from 0 in the file, as pandas counts them).

User ids are replaced by the workspace's keyed pseudonym, HMAC-SHA256 computed in Spark SQL
(``sha2`` over the padded key, RFC 2104), so the pseudonyms equal those of the embedded ingest
(:func:`adwise.data.pseudonymise`) without a Python UDF.  The Parquet is written to a
temporary folder beside ``out`` and renamed into place with Hadoop's file system (atomic on
HDFS and local disks; object stores such as S3 copy instead).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

from adwise._exceptions import ContractError, InputError
from adwise.data._contract import FIXES, TABLES, ColumnSpec
from adwise.data._validate import (
    COMPACT_FORMATS,
    DUPLICATE_EVENT,
    DUPLICATE_KEY,
    EARLIEST,
    PROBLEMS,
    find_pii,
    implausible_timestamps,
    latest_plausible,
    refuse_case_twins,
    unparsed_timestamps,
)

__all__ = ["hmac_pseudonym", "ingest_spark", "parse_timestamps_spark", "strftime_to_spark",
           "write_parquet_atomic"]

PII_SAMPLE = 20_000  # rows collected to look for personal data, as find_pii samples
_BLOCK = 64  # SHA-256's block size in bytes (HMAC pads the key to it)
_WORDS = {"true": "1", "false": "0", "yes": "1", "no": "0", "y": "1", "n": "0"}
# strftime directive -> Spark datetime pattern
_STRF = {"Y": "yyyy", "y": "yy", "m": "MM", "d": "dd", "H": "HH", "M": "mm", "S": "ss",
         "f": "SSSSSS", "b": "MMM", "B": "MMMM", "j": "DDD", "I": "hh", "p": "a", "z": "Z"}
_MAX_SECONDS = 253_402_300_800  # 10000-01-01 in epoch seconds
_AUX = ("_adwise_file", "_adwise_pos")  # where each row came from (for the error messages)


def hmac_pseudonym(col: Any, key: bytes) -> Any:
    """A Spark column: ``'p'`` + the first 16 hex digits of HMAC-SHA256(``key``, ``col``),
    the pseudonym :func:`adwise.data.pseudonymise` gives the same id."""
    from pyspark.sql import functions as F

    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    ipad = bytes(b ^ 0x36 for b in key).hex()
    opad = bytes(b ^ 0x5C for b in key).hex()
    inner = F.unhex(F.sha2(F.concat(F.unhex(F.lit(ipad)), F.encode(col, "UTF-8")), 256))
    outer = F.sha2(F.concat(F.unhex(F.lit(opad)), inner), 256)
    return F.when(col.isNull(), None).otherwise(F.concat(F.lit("p"), F.substring(outer, 1, 16)))


def strftime_to_spark(fmt: str) -> str:
    """The Spark datetime pattern of a strftime pattern (``%y%m%d%H`` -> ``yyMMddHH``);
    literal text is quoted.  :class:`InputError` for a directive Spark has no match for."""
    out, lit, i = [], [], 0

    def flush() -> None:
        if lit:
            out.append("'" + "".join(lit).replace("'", "''") + "'")
            lit.clear()

    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and i + 1 < len(fmt):
            d = fmt[i + 1]
            i += 2
            if d == "%":
                lit.append("%")
                continue
            if d not in _STRF:
                raise InputError(f"--ts-format {fmt}: %{d} has no Spark equivalent; use "
                                 f"{', '.join('%' + k for k in _STRF)}.")
            flush()
            out.append(_STRF[d])
            continue
        lit.append(ch)
        i += 1
    flush()
    return "".join(out)


@dataclass
class _Check:
    """One rule of one column: rows where ``bad`` holds break it."""

    column: str
    problem: str
    fix: str
    bad: Any


# ====================================================================== timestamps
def _digits(col: Any, dtype: str) -> Any:
    """The values as text; whole floats without their ``.0`` (as the embedded reader)."""
    from pyspark.sql import functions as F

    if dtype in ("double", "float") or dtype.startswith("decimal"):
        return F.when(col == F.floor(col), col.cast("bigint").cast("string")) \
            .otherwise(col.cast("string"))
    return F.trim(col.cast("string"))


def _in_window(ts: Any) -> Any:
    from pyspark.sql import functions as F

    lo = F.lit(str(EARLIEST)).cast("timestamp_ntz")
    hi = F.lit(str(latest_plausible())[:26]).cast("timestamp_ntz")
    return (ts >= lo) & (ts <= hi)


def parse_timestamps_spark(frame: Any, c: str, fmt: str | None = None) -> Any:
    """The column ``c`` as naive UTC timestamps (NULL where unreadable), detected as
    :func:`adwise.data.parse_timestamps` detects: datetimes as they are, ``fmt``, compact digit
    forms that read every value as a plausible time, epoch seconds (milliseconds past 1e11),
    else ISO-8601."""
    from pyspark.sql import functions as F

    col, dtype = F.col(c), dict(frame.dtypes)[c]
    if dtype in ("timestamp", "timestamp_ntz", "date"):
        return col.cast("timestamp_ntz")
    if fmt:
        return F.try_to_timestamp(_digits(col, dtype),
                                  F.lit(strftime_to_spark(fmt))).cast("timestamp_ntz")
    text = dtype == "string"
    num = F.trim(col).try_cast("double") if text else col.cast("double")
    length = F.length(F.trim(col)) if text else F.lit(None)
    row = frame.agg(F.count(col).alias("n"), F.count(num).alias("n_num"),
                    F.min(length).alias("lmin"), F.max(length).alias("lmax"),
                    F.min(num).alias("lo"), F.max(num).alias("hi"),
                    F.max(F.abs(num)).alias("amax"),
                    F.sum(F.when(num != F.floor(num), 1).otherwise(0)).alias("frac")).first()
    if row["n"] and row["n_num"] == row["n"]:
        width = None
        if text:
            width = row["lmin"] if row["lmin"] == row["lmax"] else None
        elif not row["frac"] and row["lo"] >= 1 and row["hi"] < float("inf"):
            lo, hi = len(str(int(row["lo"]))), len(str(int(row["hi"])))
            width = lo if lo == hi else None
        for form in COMPACT_FORMATS.get(width or 0, ()):
            ts = F.try_to_timestamp(_digits(col, dtype),
                                    F.lit(strftime_to_spark(form))).cast("timestamp_ntz")
            ok = frame.agg(F.sum(F.when(ts.isNull() | ~_in_window(ts), 1).otherwise(0))).first()
            if not ok[0]:
                return ts
        secs = num * F.lit(1e-3 if row["amax"] > 1e11 else 1.0)
        # past year 9999 Spark's ANSI mode would fail the job instead of giving NULL
        return F.when(F.abs(secs) < _MAX_SECONDS,
                      F.timestamp_seconds(secs)).cast("timestamp_ntz")
    return F.trim(col.cast("string")).try_cast("timestamp").cast("timestamp_ntz")


# ====================================================================== the other kinds
def _column(frame: Any, spec: ColumnSpec, fmt: str | None) -> tuple[Any, list[_Check], Any]:
    """``(canonical value, rules in the embedded order, words column or None)`` of a
    contract column (see ``adwise.data._validate._check_column``)."""
    from pyspark.sql import functions as F

    c, kind, fix = spec.name, spec.kind, FIXES[spec.kind]
    col, dtype = F.col(c), dict(frame.dtypes)[c]
    present = col.isNotNull()
    if kind == "id":
        text = F.trim(col.cast("string"))
        return text, [_Check(c, PROBLEMS["empty_id"], fix, col.isNull() | (text == ""))], None
    if kind == "text":
        return col.cast("string"), [], None
    if kind == "timestamp":
        ts = parse_timestamps_spark(frame, c, fmt)
        return ts, [_Check(c, *unparsed_timestamps(fmt), ts.isNull()),
                    _Check(c, "", "", ~_in_window(ts))], None
    raw, words = col, None
    if kind == "binary" and dtype in ("boolean", "string"):
        lowered = F.lower(F.trim(col.cast("string")))
        mapping = F.create_map(*[F.lit(x) for kv in _WORDS.items() for x in kv])
        raw = F.coalesce(F.element_at(mapping, lowered), lowered)
        if dtype == "string":
            words = F.when(lowered.isin(*_WORDS), lowered)
    num = raw.try_cast("double") if dtype in ("string", "boolean") else raw.cast("double")
    if dtype == "boolean":
        num = col.cast("int").cast("double")
    # NaN is no number to the embedded check either (pandas reads it as missing)
    unparsed = present & (num.isNull() | F.isnan(num))
    checks = [_Check(c, PROBLEMS["not_number"], fix, unparsed)]
    if kind == "binary":
        checks.append(_Check(c, PROBLEMS["not_binary"], fix, present & ~num.isin(0.0, 1.0)))
        if spec.required:
            checks.append(_Check(c, PROBLEMS["missing"], fix, ~present))
        return num.cast("tinyint"), checks, words
    inf = F.lit(float("inf"))
    checks.append(_Check(c, PROBLEMS["infinite"], fix, present & (F.abs(num) == inf)))
    if kind == "nonneg":
        checks.append(_Check(c, PROBLEMS["negative"], fix, present & (num < 0)))
    elif kind == "propensity":
        checks.append(_Check(c, PROBLEMS["propensity"], fix, present & ((num <= 0) | (num > 1))))
    return num, checks, None


def _as_categorical(frame: Any, c: str) -> Any:
    """Codes as text: whole numbers without a trailing ``.0`` (``as_categorical``)."""
    from pyspark.sql import functions as F

    dtype = dict(frame.dtypes)[c]
    if dtype in ("double", "float"):
        whole = frame.agg(F.sum(F.when(F.col(c) != F.floor(F.col(c)), 1).otherwise(0))).first()
        if not whole[0]:
            return F.trim(F.col(c).cast("bigint").cast("string"))
    return F.trim(F.col(c).cast("string"))


# ====================================================================== error rows
def _local(name: str) -> str:
    """A local file's path from the URI Spark gives (``file:///tmp/a%20b`` -> ``/tmp/a b``)."""
    if not name.startswith("file:"):
        return name
    return unquote(urlparse(name).path)


def _refuse(frame: Any, check: _Check, source: str, single: bool, n_bad: int,
            value: str | None = None, problem: str | None = None) -> ContractError:
    """The embedded engine's error for ``check``: the file (the part file for a folder), the
    first five offending rows with their values as read, counted from 0 in that file."""
    from pyspark.sql import functions as F

    file_col, pos = _AUX
    value = value or check.column
    first = frame.where(check.bad).orderBy(pos).limit(5) \
        .select(file_col, pos, F.col(value).alias("v")).collect()
    file = first[0][file_col]
    shown = [r for r in first if r[file_col] == file]
    # a row's number in its file: the rows of that file read before it
    before = frame.where(F.col(file_col) == file).agg(
        *[F.sum(F.when(F.col(pos) < r[pos], 1).otherwise(0)) for r in shown],
        F.sum(F.when(check.bad, 1).otherwise(0))).first()
    rows = [(int(before[i] or 0), r["v"]) for i, r in enumerate(shown)]
    n = n_bad if single else int(before[len(shown)] or 0)
    return ContractError(source if single else _local(file), check.column,
                         problem or check.problem, check.fix, rows=rows, n_bad=n)


# ====================================================================== the ingest
def ingest_spark(
    spark: Any,
    path: str,
    table: str,
    out: str,
    key: bytes | None,
    mapping: Mapping[str, str] | None = None,
    ts_format: str | None = None,
    categorical: Iterable[str] = (),
    allow_pii: Iterable[str] = (),
) -> dict[str, Any]:
    """Validate ``path`` (any file or folder Spark reads) against the contract of ``table``
    and write it, with canonical types, as Parquet at ``out``.

    Parameters
    ----------
    key : bytes or None
        The workspace's pseudonym key: ``user_id`` becomes its keyed pseudonym (``None``: the
        workspace keeps ids as given).
    mapping, ts_format, categorical, allow_pii
        As :meth:`adwise.data.Workspace.ingest` takes them.

    Returns
    -------
    dict
        The keys of the embedded ingest's report (``file``, ``table``, ``rows_read``,
        ``rows_added``: the rows written, ``rows_updated``: 0, ``warnings``), ``engine`` and
        ``out``.

    Raises
    ------
    ContractError
        The input breaks the contract; nothing is written.
    """
    from pyspark.sql import functions as F

    from adwise.engine._spark import read_frame

    if table not in TABLES:
        raise InputError(f"--table must be one of: {', '.join(TABLES)}; got {table!r}.")
    fs, target = _fs_path(spark, out)
    if fs.exists(target):
        raise InputError(f"{out}: exists; give --out a new path (the output is never "
                         "overwritten).")
    spark.conf.set("spark.sql.session.timeZone", "UTC")  # naive times are UTC, as DuckDB's
    single = not _is_folder(spark, path)
    frame = read_frame(spark, path)
    frame = frame.toDF(*[c.strip() for c in frame.columns])
    if mapping:
        missing = [s for s in mapping if s not in frame.columns]
        if missing:
            raise ContractError(path, missing[0], "named in --map but not in the file",
                                f"the file's columns are: {', '.join(frame.columns[:30])}")
        frame = frame.toDF(*[mapping.get(c, c) for c in frame.columns])
    dupes = sorted({c for c in frame.columns if frame.columns.count(c) > 1})
    if dupes:
        raise ContractError(path, dupes[0], "appears more than once (after --map)",
                            "give every column a distinct name")
    spec = TABLES[table]
    if not frame.columns or not frame.limit(1).count():
        raise ContractError(path, None, "has no rows",
                            f"give a file with a header row and at least one {table} row")
    refuse_case_twins(frame.columns, path)
    missing = [c for c in spec.required if c not in frame.columns]
    if missing:
        raise ContractError(
            path, missing[0],
            f"required column is missing (the file has: {', '.join(frame.columns[:20])})",
            f"add it, or rename an existing column with --map SOURCE={missing[0]}")
    frame = frame.withColumn(_AUX[0], F.input_file_name()) \
        .withColumn(_AUX[1], F.monotonically_increasing_id())
    values, checks, words = {}, [], {}
    for cs in spec.columns:
        if cs.name in frame.columns:
            values[cs.name], more, w = _column(frame, cs, ts_format)
            checks += more
            if w is not None:
                words[cs.name] = w
    for name in dict.fromkeys(categorical):
        if name not in frame.columns:
            raise InputError(f"{path}: --categorical names {name!r}, which is not a column "
                             f"(the file has: {', '.join(frame.columns[:20])}).")
        if spec.column(name) is not None:
            raise InputError(f"{path}: --categorical {name}: '{name}' is a contract column with "
                             "its own type; declare only context columns (attributes) "
                             "categorical.")
        values[name] = _as_categorical(frame, name)
    user_cols = [c for c in frame.columns if c not in _AUX]
    # one pass counts every rule's offending rows, the rows and each column's values
    aggs = [F.sum(F.when(ch.bad, 1).otherwise(0)) for ch in checks]
    aggs += [F.count(F.col(c)) for c in user_cols]
    aggs += [F.collect_set(w) for w in words.values()]
    row = frame.agg(F.count(F.lit(1)), *aggs).first()
    n_rows = int(row[0])
    for i, ch in enumerate(checks):
        n_bad = int(row[1 + i] or 0)
        if n_bad:
            problem = None
            if not ch.problem:  # the timestamp window: the first such time is in the message
                first = frame.where(ch.bad).orderBy(_AUX[1]) \
                    .select(values[ch.column].alias("t")).first()
                problem, fix = implausible_timestamps(first["t"])
                ch = _Check(ch.column, problem, fix, ch.bad)
            raise _refuse(frame, ch, path, single, n_bad)
    counts = dict(zip(user_cols, row[1 + len(checks):1 + len(checks) + len(user_cols)],
                      strict=True))
    warnings = []
    for (c, _), found in zip(words.items(), row[1 + len(checks) + len(user_cols):], strict=True):
        if found:
            warnings.append(f"{path}: column '{c}' holds the words {', '.join(sorted(found))}; "
                            "read as 1 (true/yes/y) and 0 (false/no/n).")
    canon = frame.select(*[values.get(c, F.col(c)).alias(c) for c in user_cols], *_AUX)
    kept = [c for c in user_cols if counts[c] or c in spec.required]
    _check_keys(canon, table, spec.key, path, single)
    _check_pii(canon, kept, allow_pii, path, single, n_rows)
    canon = canon.select(*kept)
    if table == "events" and "event_id" not in kept:
        canon = canon.dropDuplicates()  # identical rows without an id: one event logged twice
    if key is not None and "user_id" in kept:
        canon = canon.withColumn("user_id", hmac_pseudonym(F.col("user_id"), key))
    write_parquet_atomic(spark, canon, out)
    written = spark.read.parquet(out).count()
    return {"file": path, "table": table, "rows_read": n_rows, "rows_added": written,
            "rows_updated": 0, "warnings": warnings, "engine": "spark", "out": out}


def _check_keys(frame: Any, table: str, key: str, path: str, single: bool) -> None:
    """Users' and ads' ids are unique, as are events' ``event_id`` within the input."""
    from pyspark.sql import functions as F

    if table == "events":
        key, (problem, fix) = "event_id", DUPLICATE_EVENT
    else:
        problem, fix = DUPLICATE_KEY
    if key not in frame.columns:
        return
    dup = frame.groupBy(key).count().where("count > 1").select(key, F.lit(True).alias("_dup"))
    marked = frame.join(dup, key, "left")
    n = marked.where(F.col("_dup")).count()
    if n:
        raise _refuse(marked, _Check(key, problem, fix, F.col("_dup").isNotNull()), path,
                      single, n)


def _check_pii(frame: Any, kept: list[str], allow_pii: Iterable[str], path: str,
               single: bool, n: int) -> None:
    """Personal data in a sample of the text and integer columns, as the embedded ingest
    refuses it; the examples' rows are found back in the file."""
    from adwise._exceptions import PIIError
    from adwise.engine._spark import to_pandas

    allow = set(allow_pii)
    unknown = allow - set(kept)
    if unknown:
        raise InputError(f"{path}: --allow-pii names {sorted(unknown)[0]!r}, which is not a "
                         "column.")
    skip = allow | {"user_id"}
    dtypes = dict(frame.dtypes)
    cols = [c for c in kept if c not in skip and (dtypes[c] == "string"
                                                  or dtypes[c] in ("int", "bigint"))]
    if not cols:
        return
    part = frame if n <= PII_SAMPLE else frame.sample(fraction=min(1.0, 2 * PII_SAMPLE / n),
                                                      seed=0).limit(PII_SAMPLE)
    sample = to_pandas(part.select(*cols, *_AUX)).reset_index(drop=True)
    found = find_pii(sample[cols], sample=PII_SAMPLE)
    if not found:
        return
    from pyspark.sql import functions as F

    f = found[0]
    others = [g.column for g in found[1:]]
    also = f" (also in: {', '.join(others)})" if others else ""
    first = sample.iloc[f.examples[0][0]]
    file = first[_AUX[0]]
    shown = [(i, v) for i, v in f.examples if sample.iloc[i][_AUX[0]] == file]
    before = frame.where(F.col(_AUX[0]) == file).agg(
        *[F.sum(F.when(F.col(_AUX[1]) < int(sample.iloc[i][_AUX[1]]), 1).otherwise(0))
          for i, _ in shown]).first()
    rows = [(int(before[j] or 0), v) for j, (_, v) in enumerate(shown)]
    raise PIIError(
        path if single else _local(file), f.column,
        f"looks like personal data: {f.describe()}{also}; it is refused (values masked here)",
        f"drop the column, or pass --allow-pii {f.column} if you are entitled to keep it "
        "(--scrub-pii is for the embedded engine)",
        rows=rows, n_bad=f.rows)


# ====================================================================== files
def _fs_path(spark: Any, path: str) -> tuple[Any, Any]:
    """Hadoop's file system of ``path`` and the path as a Hadoop ``Path``."""
    jvm = spark.sparkContext._jvm
    p = jvm.org.apache.hadoop.fs.Path(path)
    return p.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), p


def _is_folder(spark: Any, path: str) -> bool:
    fs, p = _fs_path(spark, path)
    return bool(fs.exists(p) and fs.getFileStatus(p).isDirectory()) or any(
        ch in path for ch in "*?[")


def write_parquet_atomic(spark: Any, frame: Any, out: str) -> None:
    """Write ``frame`` as Parquet to a temporary folder beside ``out``, then rename it to
    ``out``: a reader sees the whole output or none (the temporary folder is removed on
    failure).  :class:`InputError` when ``out`` exists."""
    fs, target = _fs_path(spark, out)
    if fs.exists(target):
        raise InputError(f"{out}: exists; give --out a new path (the output is never "
                         "overwritten).")
    tmp = f"{out.rstrip('/')}.adwise-tmp-{uuid.uuid4().hex[:12]}"
    _, tmp_path = _fs_path(spark, tmp)
    try:
        frame.write.parquet(tmp)
        if not fs.rename(tmp_path, target):
            raise InputError(f"{out}: could not move the written Parquet into place (does its "
                             "parent folder exist?).")
    finally:
        if fs.exists(tmp_path):
            fs.delete(tmp_path, True)
