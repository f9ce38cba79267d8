"""The workspace: one DuckDB file, a model folder and a TOML config.

Layout::

    DIR/                mode 700: only the owner may enter
      adwise.duckdb     canonical tables events, users, ads (+ _ingests, the ingest log;
                        _schema, columns declared categorical; _meta, the data version); 600
      models/           the model registry (see adwise.registry)
      config.toml       workspace settings; 600
      secret.key        the HMAC key of the pseudonyms (hex); 600. With it, stored user ids
                        can be re-identified by hashing candidate ids, so it never leaves DIR.
                        Workspaces made before adwise kept the key in config.toml; they still
                        open (the key is read from there when this file is absent).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import os
import random
import re
import secrets
import stat
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import tomli_w

from adwise._exceptions import (
    ArtifactError,
    ContractError,
    InputError,
    WorkspaceBusyError,
    WorkspaceError,
)
from adwise._version import __version__
from adwise.data._contract import TABLES
from adwise.data._privacy import pseudonymise, pseudonymise_series
from adwise.data._readers import read_table
from adwise.data._validate import as_categorical, validate_table

__all__ = ["DEFAULT_WORKSPACE", "IngestReport", "Workspace", "resolve_workspace_path"]

log = logging.getLogger(__name__)

DEFAULT_WORKSPACE = "adwise-workspace"
_DB = "adwise.duckdb"
_CONFIG = "config.toml"
_KEY = "secret.key"
_BUSY_ENV = "ADWISE_BUSY_TIMEOUT"
_BUSY_DEFAULT_S = 10.0
# DuckDB: 'Could not set lock on file "...": Conflicting lock is held in /usr/bin/python (PID 7)'
_LOCK_PID = re.compile(r"\(PID (\d+)\)")


def resolve_workspace_path(path: str | Path | None = None) -> Path:
    """``path`` if given, else ``$ADWISE_WORKSPACE``, else ``./adwise-workspace``."""
    if path:
        return Path(path)
    env = os.environ.get("ADWISE_WORKSPACE")
    return Path(env) if env else Path(DEFAULT_WORKSPACE)


@dataclass
class IngestReport:
    """What one ingest did."""

    file: str
    table: str
    rows_read: int
    rows_added: int
    rows_updated: int = 0
    warnings: list[str] = field(default_factory=list)


def _pandas_sql_type(s: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(s):
        return "BOOLEAN"
    if pd.api.types.is_unsigned_integer_dtype(s) and len(s) and s.max() > np.iinfo(np.int64).max:
        # 64-bit unsigned values past BIGINT are hashes and ids (Avazu's event id), not amounts
        return "VARCHAR"
    if pd.api.types.is_integer_dtype(s):
        return "BIGINT"
    if pd.api.types.is_float_dtype(s):
        return "DOUBLE"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "TIMESTAMP"
    return "VARCHAR"


_NUMERIC_SQL = ("DOUBLE", "FLOAT", "REAL", "DECIMAL", "BIGINT", "INTEGER", "SMALLINT", "TINYINT",
                "HUGEINT", "UBIGINT", "UINTEGER", "USMALLINT", "UTINYINT")


def _is_numeric_sql(typ: str) -> bool:
    return typ.upper().startswith(_NUMERIC_SQL)


def _qi(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


class Workspace:
    """An adwise workspace on disk.

    Use :meth:`init` to create one and :meth:`open` to use an existing one.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> ws = Workspace.init(tempfile.mkdtemp() + "/ws")
    >>> ws.row_counts()["events"]
    0
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).absolute()
        self.db_path = self.path / _DB
        self.models_dir = self.path / "models"
        self.config_path = self.path / _CONFIG
        self.config: dict[str, Any] = tomllib.loads(self.config_path.read_text())

    # ------------------------------------------------------------------ creation / opening
    @classmethod
    def init(cls, path: str | Path | None = None, pseudonymise_ids: bool = True) -> Workspace:
        """Create a workspace (an existing one is left as it is and opened)."""
        p = resolve_workspace_path(path)
        if (p / _CONFIG).exists():
            _warn_if_not_private(p)
            return cls(p)
        if p.exists() and not p.is_dir():
            raise WorkspaceError(
                f"{p}: this is a file, not a folder; give `adwise init` a new or empty folder."
            )
        if p.exists() and any(p.iterdir()):
            raise WorkspaceError(
                f"{p}: the folder exists and is not an adwise workspace; choose an empty or new "
                "folder."
            )
        p.mkdir(parents=True, exist_ok=True, mode=0o700)
        # The folder is private before anything is written into it (mkdir's mode does not
        # apply to a folder that already existed empty), so no file is ever readable by others.
        os.chmod(p, 0o700)
        (p / "models").mkdir(exist_ok=True, mode=0o700)
        config = {
            "workspace": {"adwise_version": __version__, "created": _now()},
            "privacy": {"pseudonymise_user_ids": pseudonymise_ids, "min_segment_size": 50},
        }
        _write_private(p / _KEY, secrets.token_hex(32) + "\n")
        with duckdb.connect(str(p / _DB)) as con:
            for spec in TABLES.values():
                cols = ", ".join(f"{_qi(c.name)} {c.sql_type}" for c in spec.columns)
                con.execute(f"CREATE TABLE IF NOT EXISTS {spec.name} ({cols})")
            con.execute(
                "CREATE TABLE IF NOT EXISTS _ingests (file VARCHAR, tbl VARCHAR, sha256 VARCHAR,"
                " rows_read BIGINT, rows_added BIGINT, ingested_at TIMESTAMP)"
            )
        os.chmod(p / _DB, 0o600)  # DuckDB creates it with the process umask (often 644)
        tmp = p / (_CONFIG + ".tmp")
        _write_private(tmp, tomli_w.dumps(config))
        os.replace(tmp, p / _CONFIG)
        return cls(p)

    @classmethod
    def open(cls, path: str | Path | None = None) -> Workspace:
        """Open an existing workspace, resolving the path like every CLI command does."""
        p = resolve_workspace_path(path)
        if not (p / _CONFIG).exists() or not (p / _DB).exists():
            raise WorkspaceError(
                f"{p}: no adwise workspace here. Create one with `adwise init {p}`, or point to "
                "yours with --workspace DIR or $ADWISE_WORKSPACE."
            )
        _warn_if_not_private(p)
        return cls(p)

    # ------------------------------------------------------------------ privacy
    @cached_property
    def hmac_key(self) -> bytes:
        """The key of the pseudonyms: ``DIR/secret.key``, else (older workspaces) the
        ``hmac_key`` of ``config.toml``."""
        key_file = self.path / _KEY
        try:
            text = key_file.read_text().strip()
        except FileNotFoundError:
            text = str(self.config.get("privacy", {}).get("hmac_key", ""))
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = b""
        if len(key) < 16:
            raise WorkspaceError(
                f"{key_file}: the workspace's pseudonym key is missing or damaged. Restore the "
                "file from a backup; without it new user ids cannot be matched to stored ones "
                "(see 'Keys and privacy' in the README to start over with a new key)."
            )
        return key

    @property
    def pseudonymises(self) -> bool:
        return bool(self.config["privacy"].get("pseudonymise_user_ids", True))

    @property
    def min_segment_size(self) -> int:
        return int(self.config["privacy"].get("min_segment_size", 50))

    def pseudonym(self, user_id: str) -> str:
        """The stored id of a raw user id (identity when pseudonymisation is off)."""
        return pseudonymise(user_id, self.hmac_key) if self.pseudonymises else str(user_id)

    def pseudonyms(self, user_ids: Iterable[str]) -> list[str]:
        """Stored ids of many raw user ids."""
        s = pd.Series(list(user_ids), dtype=object)
        if not self.pseudonymises:
            return s.astype(str).tolist()
        return pseudonymise_series(s, self.hmac_key).tolist()

    # ------------------------------------------------------------------ database access
    @contextmanager
    def connect(self, read_only: bool = False):
        """A DuckDB connection to the workspace database (closed on exit).

        DuckDB lets one process write a database file at a time, and no other process read it
        meanwhile. While another process (an ingest, a training run) holds it, this waits with
        back-off for up to ``$ADWISE_BUSY_TIMEOUT`` seconds (default 10).

        Raises
        ------
        WorkspaceBusyError
            The database stayed locked for the whole wait.
        """
        con = self._connect(read_only)
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def _transaction(self):
        """A write connection, meta tables ready, in one transaction: committed when the block
        ends, rolled back when it raises, so nothing is ever half-written."""
        with self.connect() as con:
            _ensure_meta_tables(con)
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def _connect(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        limit = _busy_timeout()
        deadline = time.monotonic() + limit
        delay = 0.01
        while True:
            try:
                return duckdb.connect(str(self.db_path), read_only=read_only)
            except (duckdb.IOException, duckdb.ConnectionException) as exc:
                holder = _lock_holder(exc)
                if holder is None:
                    raise
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WorkspaceBusyError(
                        f"{self.path}: the workspace is busy ({holder} is writing); try again "
                        f"when it has finished (waited {limit:g} s; set {_BUSY_ENV} to wait "
                        "longer).",
                        holder=holder,
                    ) from None
            # Jitter: waiting processes must not retry in lock step; the last wait is cut to
            # the deadline, so the whole wait is used, never more.
            time.sleep(min(delay * random.uniform(0.5, 1.5), remaining))
            delay = min(delay * 2, 0.5)

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        """Run a read query and return a DataFrame."""
        with self.connect(read_only=True) as con:
            return con.execute(sql, params or []).df()

    def table(self, name: str, columns: Iterable[str] | None = None) -> pd.DataFrame:
        """Read a whole canonical table (optionally only some columns)."""
        if name not in TABLES:
            raise InputError(f"unknown table {name!r}; use one of: {', '.join(TABLES)}.")
        cols = "*" if columns is None else ", ".join(_qi(c) for c in columns)
        return self.query(f"SELECT {cols} FROM {name}")

    def columns(self, name: str) -> list[str]:
        """Column names of a table."""
        with self.connect(read_only=True) as con:
            return [r[0] for r in con.execute(f"DESCRIBE {name}").fetchall()]

    def row_counts(self) -> dict[str, int]:
        with self.connect(read_only=True) as con:
            return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}

    # ------------------------------------------------------------------ ingest
    def ingest(
        self,
        file: str | Path,
        table: str,
        mapping: Mapping[str, str] | None = None,
        allow_pii: Iterable[str] = (),
        progress: Callable[[int, int], None] | None = None,
        ts_format: str | None = None,
        replace: bool = False,
        categorical: Iterable[str] = (),
        scrub_pii: bool = False,
    ) -> IngestReport:
        """Validate ``file`` and add its rows to ``table`` in one transaction.

        Personal data (e-mail addresses, phone numbers, IP addresses, card numbers) in any
        column but ``user_id`` refuses the file, unless the column is in ``allow_pii`` or
        ``scrub_pii`` masks it inside the text (``[email]``, ...).

        Re-ingesting rows already present adds none: events are keyed by ``event_id`` (or, when
        the file has none, a hash of the row's content); users and ads by their id, and a newer
        row for an existing id replaces the stored one.

        Parameters
        ----------
        ts_format : str, optional
            strftime pattern of the ``ts`` column (e.g. ``%y%m%d%H``).
        replace : bool
            Events whose key is already stored are replaced by the file's rows (users and ads
            always are).
        categorical : iterable of str
            Context columns to store as text codes. The declaration is remembered, so later
            ingests keep it; a column stored as numbers before is converted.
        scrub_pii : bool
            Mask personal data inside text columns instead of refusing the file.

        Raises
        ------
        ContractError
            The file breaks the contract, or a column changed type or case against the stored
            table; nothing of it is stored.
        """
        if table not in TABLES:
            raise InputError(f"--table must be one of: {', '.join(TABLES)}; got {table!r}.")
        name = str(file)
        step = _Steps(progress, 4)
        df = read_table(file, mapping=mapping)
        step()
        categorical = list(dict.fromkeys(categorical))
        remembered = [c for c in self.categorical_columns(table) if c in df.columns]
        warnings: list[str] = []
        df = validate_table(
            df,
            table,
            name,
            allow_pii=allow_pii,
            ts_format=ts_format,
            categorical=[*categorical, *remembered],
            warnings=warnings,
            scrub_pii=scrub_pii,
        )
        step()
        if table == "events" and "event_id" not in df.columns:
            df.insert(0, "event_id", _content_keys(df))
            # Identical rows without an id are one event logged twice.
            df = df.drop_duplicates("event_id").reset_index(drop=True)
        if "user_id" in df.columns and self.pseudonymises:
            df["user_id"] = pseudonymise_series(df["user_id"], self.hmac_key)
        if table == "events":
            warnings += self._unknown_reference_warnings(df)
        step()
        sha = _sha256(Path(file))
        new_categorical = [c for c in categorical if c not in self.categorical_columns(table)]
        added, updated = self._write(df, table, name, sha, replace, new_categorical)
        step()
        rep = IngestReport(name, table, len(df), added, updated, warnings)
        for w in warnings:  # the report carries them; callers decide how loudly to say them
            log.info(w)
        return rep

    def _unknown_reference_warnings(self, df: pd.DataFrame) -> list[str]:
        out = []
        with self.connect(read_only=True) as con:
            for ref, key in (("users", "user_id"), ("ads", "ad_id")):
                if con.execute(f"SELECT count(*) FROM {ref}").fetchone()[0] == 0:
                    continue
                known = set(con.execute(f"SELECT {key} FROM {ref}").df()[key])
                unknown = ~df[key].isin(known)
                n = int(unknown.sum())
                if n:
                    out.append(
                        f"{n} of {len(df)} events refer to a {key} not in the {ref} table "
                        f"(e.g. {df.loc[unknown, key].iloc[0]!r}); they are kept, but have no "
                        f"{ref[:-1]} attributes until you ingest them."
                    )
        return out

    def _write(
        self,
        df: pd.DataFrame,
        table: str,
        file: str,
        sha: str,
        replace: bool = False,
        new_categorical: Iterable[str] = (),
    ) -> tuple[int, int]:
        spec = TABLES[table]
        with self._transaction() as con:
            for col in new_categorical:
                con.execute("INSERT INTO _schema VALUES (?, ?, 'categorical')", [table, col])
            df = _align_with_stored(con, df, table, file, set(new_categorical))
            con.register("incoming", df)
            before = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            key = _qi(spec.key)
            updated = changed = 0
            try:
                if table == "events" and not replace:
                    con.execute(
                        f"INSERT INTO {table} BY NAME SELECT * FROM incoming i WHERE NOT "
                        f"EXISTS (SELECT 1 FROM {table} t WHERE t.{key} = i.{key})"
                    )
                else:
                    updated = con.execute(
                        f"SELECT count(*) FROM incoming i JOIN {table} t ON t.{key} = i.{key}"
                    ).fetchone()[0]
                    # Rows replaced by identical ones change nothing a model learnt from.
                    cols = ", ".join(_qi(c) for c in df.columns)
                    changed = con.execute(
                        f"SELECT count(*) FROM (SELECT {cols} FROM incoming EXCEPT "
                        f"SELECT {cols} FROM {table})"
                    ).fetchone()[0]
                    con.execute(
                        f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM incoming)"
                    )
                    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
            except duckdb.ConversionException as exc:
                # A type change the checks above do not name (e.g. text into a stored
                # timestamp column): still the file's fault, not a crash.
                first = str(exc).strip().splitlines()[0]
                raise ContractError(
                    file,
                    None,
                    f"does not fit the columns stored in {table} by earlier ingests ({first})",
                    "give the columns the types of earlier files, or empty the table with "
                    f"`adwise workspace drop {table} --yes` and ingest again",
                ) from exc
            after = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            con.execute(
                "INSERT INTO _ingests VALUES (?, ?, ?, ?, ?, now())",
                [file, table, sha, len(df), after - before],
            )
            if after != before or changed or new_categorical:
                _bump_data_version(con)
            con.unregister("incoming")
        return after - before, updated

    # ------------------------------------------------------------------ corrections
    def categorical_columns(self, table: str) -> list[str]:
        """Columns of ``table`` declared categorical (``--categorical``) by earlier ingests."""
        with self.connect(read_only=True) as con:
            if not _has_table(con, "_schema"):
                return []
            rows = con.execute(
                "SELECT col FROM _schema WHERE tbl = ? AND kind = 'categorical' ORDER BY col",
                [table],
            ).fetchall()
        return [r[0] for r in rows]

    def drop(self, table: str) -> int:
        """Empty ``table``: its rows, its added columns and their declarations go.

        Returns the number of rows removed. The table is recreated with its contract columns,
        so the next ingest may bring columns of other types.
        """
        spec = _table_spec(table)
        with self._transaction() as con:
            n = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            con.execute(f"DROP TABLE {table}")
            cols = ", ".join(f"{_qi(c.name)} {c.sql_type}" for c in spec.columns)
            con.execute(f"CREATE TABLE {table} ({cols})")
            con.execute("DELETE FROM _schema WHERE tbl = ?", [table])
            _bump_data_version(con)
        return int(n)

    def delete(self, table: str, where: str) -> int:
        """Delete the rows of ``table`` matching the SQL condition ``where``, in a transaction.

        Returns how many rows were deleted. User ids are stored pseudonymised; compare with
        :meth:`pseudonym` of the raw id.

        Raises
        ------
        InputError
            The condition is not valid SQL on this table.
        """
        _table_spec(table)
        cond = where.strip()
        if not cond or ";" in cond:
            raise InputError(
                f"--where must be one SQL condition on {table}, e.g. \"ts < '2026-01-01'\" "
                f"(no ';'); got {where!r}."
            )
        with self._transaction() as con:
            cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
            try:
                n = con.execute(f"SELECT count(*) FROM {table} WHERE ({cond})").fetchone()[0]
                con.execute(f"DELETE FROM {table} WHERE ({cond})")
            except duckdb.Error as exc:
                first = str(exc).strip().splitlines()[0]
                raise InputError(
                    f"--where {where!r} is not a valid condition on {table}: {first}. "
                    f"Columns: {', '.join(cols)}."
                ) from exc
            if n:
                _bump_data_version(con)
        return int(n)

    def data_version(self) -> int:
        """A counter raised by every change of the stored data (ingest, drop, delete)."""
        with self.connect(read_only=True) as con:
            if not _has_table(con, "_meta"):
                return 0
            row = con.execute("SELECT value FROM _meta WHERE key = 'data_version'").fetchone()
        return int(row[0]) if row else 0

    def stale_models(self) -> list[dict[str, str]]:
        """Promoted models trained on data that has changed since.

        A model is stale when the ``data_fingerprint`` in its metadata differs from
        :meth:`fingerprint` now. Each entry names the model and the command that retrains it.
        """
        now = self.fingerprint("events")
        reg = self.registry
        out = []
        for cap in reg.capabilities():
            version = reg.current(cap)
            if version is None:
                continue
            try:
                trained_on = reg.get(cap, version).metadata.get("data_fingerprint")
            except ArtifactError:  # a damaged model is reported where it is loaded
                continue
            if trained_on and trained_on != now:
                command = cap.split("-")[0].split("_")[0]
                out.append(
                    {
                        "model": cap,
                        "version": version,
                        "trained_on": trained_on,
                        "data_now": now,
                        "retrain": f"adwise {command} train",
                    }
                )
        return out

    # ------------------------------------------------------------------ summary
    def info(self) -> dict[str, Any]:
        """Tables, row counts, event date range and CTR."""
        counts = self.row_counts()
        out: dict[str, Any] = {"path": str(self.path), "tables": counts}
        if counts["events"]:
            cols = set(self.columns("events"))
            conv = "avg(converted)" if "converted" in cols else "NULL"
            row = self.query(
                f"SELECT min(ts) AS first, max(ts) AS last, avg(clicked) AS ctr, {conv} AS cvr, "
                "count(DISTINCT user_id) AS users, count(DISTINCT ad_id) AS ads FROM events"
            ).iloc[0]
            out.update(
                first_event=str(row["first"]),
                last_event=str(row["last"]),
                ctr=float(row["ctr"]),
                conversion_rate=None if pd.isna(row["cvr"]) else float(row["cvr"]),
                distinct_users=int(row["users"]),
                distinct_ads=int(row["ads"]),
            )
        out["models"] = sorted(p.name for p in self.models_dir.iterdir() if p.is_dir())
        out["categorical"] = {t: cols for t in TABLES if (cols := self.categorical_columns(t))}
        out["data_version"] = self.data_version()
        out["stale_models"] = self.stale_models()
        return out

    def fingerprint(self, table: str = "events") -> str:
        """A short fingerprint of a table's content, for model metadata.

        Row count + key hash, and the :meth:`data_version` once the data has changed after
        the first ingests, so that replaced rows or changed users and ads count too.
        """
        spec = TABLES[table]
        row = self.query(
            f"SELECT count(*) AS n, coalesce(sum(hash({_qi(spec.key)})), 0) AS h FROM {table}"
        ).iloc[0]
        fp = f"{table}:{int(row['n'])}:{int(row['h']) & 0xFFFFFFFFFFFF:012x}"
        version = self.data_version()
        return f"{fp}:v{version}" if version else fp

    @property
    def registry(self):
        """The model registry of this workspace."""
        from adwise.registry import Registry

        return Registry(self.models_dir)


def _table_spec(table: str):
    if table not in TABLES:
        raise InputError(f"unknown table {table!r}; use one of: {', '.join(TABLES)}.")
    return TABLES[table]


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchone()[0]
    )


def _ensure_meta_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the declaration and version tables (workspaces made before them lack them)."""
    con.execute("CREATE TABLE IF NOT EXISTS _schema (tbl VARCHAR, col VARCHAR, kind VARCHAR)")
    con.execute("CREATE TABLE IF NOT EXISTS _meta (key VARCHAR PRIMARY KEY, value VARCHAR)")


def _bump_data_version(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "INSERT INTO _meta VALUES ('data_version', '1') ON CONFLICT (key) DO UPDATE SET "
        "value = CAST(CAST(_meta.value AS BIGINT) + 1 AS VARCHAR)"
    )


def _align_with_stored(
    con: duckdb.DuckDBPyConnection,
    df: pd.DataFrame,
    table: str,
    file: str,
    to_text: set[str],
) -> pd.DataFrame:
    """Fit the incoming columns to the stored table, or refuse a change of name case or type.

    New columns are added; columns in ``to_text`` (newly declared categorical) are converted
    to text in the table too. A column stored as numbers that now holds text is refused.
    """
    stored = {r[0]: r[1] for r in con.execute(f"DESCRIBE {table}").fetchall()}
    by_lower = {c.lower(): c for c in stored}
    for col in df.columns:
        typ = stored.get(col)
        if typ is None:
            twin = by_lower.get(col.lower())
            if twin is not None:
                raise ContractError(
                    file,
                    col,
                    f"differs from the stored column '{twin}' only by case",
                    f"rename it with --map {col}={twin}, or empty the table with "
                    f"`adwise workspace drop {table} --yes` and ingest again",
                )
            typ = _pandas_sql_type(df[col])
            con.execute(f"ALTER TABLE {table} ADD COLUMN {_qi(col)} {typ}")
            if typ == "VARCHAR" and pd.api.types.is_numeric_dtype(df[col]):
                df[col] = as_categorical(df[col])
            continue
        if TABLES[table].column(col) is not None:
            continue  # contract columns are typed by validation
        s = df[col]
        if col in to_text and typ.upper() != "VARCHAR":
            con.execute(f"ALTER TABLE {table} ALTER COLUMN {_qi(col)} TYPE VARCHAR")
            typ = "VARCHAR"
        if typ.upper() == "VARCHAR" and not (pd.api.types.is_object_dtype(s) or
                                             pd.api.types.is_string_dtype(s)):
            df[col] = as_categorical(s)
        elif _is_numeric_sql(typ) and not pd.api.types.is_numeric_dtype(s):
            num = pd.to_numeric(s, errors="coerce")
            text = (s.notna() & num.isna()).to_numpy()
            if text.any():
                idx = np.flatnonzero(text)
                raise ContractError(
                    file,
                    col,
                    f"held numbers ({typ}) in earlier ingests but now holds text",
                    f"correct the rows shown, or pass --categorical {col} to store the column "
                    "as text codes from now on (the stored numbers are converted)",
                    rows=[(int(i), s.iloc[i]) for i in idx[:5]],
                    n_bad=len(idx),
                )
            df[col] = num
        elif typ.upper() in ("BIGINT", "INTEGER") and pd.api.types.is_float_dtype(s):
            # Whole numbers before, fractions now: widen rather than round on insert.
            con.execute(f"ALTER TABLE {table} ALTER COLUMN {_qi(col)} TYPE DOUBLE")
    return df


class _Steps:
    def __init__(self, progress: Callable[[int, int], None] | None, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0

    def __call__(self) -> None:
        self.done += 1
        if self.progress:
            self.progress(self.done, self.total)


def _write_private(path: Path, text: str) -> None:
    """Write a file that only its owner may read (0600 from the start, whatever the umask)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        os.fchmod(fh.fileno(), 0o600)  # O_CREAT's mode does not apply to an existing file
        fh.write(text)


def _warn_if_not_private(path: Path) -> None:
    """Log a warning when the workspace folder or a file holding keys or data is open to
    other users (anyone who can read the key can re-identify the pseudonymised user ids)."""
    wide = []
    for p, limit in ((path, 0o700), *((path / n, 0o600) for n in (_KEY, _CONFIG, _DB))):
        try:
            mode = stat.S_IMODE(p.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & ~limit & 0o077:
            wide.append(f"{p.name or p} ({mode:o})")
    if wide:
        log.warning(
            "%s: other users may read this workspace: %s. The pseudonym key re-identifies "
            "stored user ids; fix it with `chmod 700 %s && chmod 600 %s/*`.",
            path, ", ".join(wide), path, path,
        )


def _busy_timeout() -> float:
    raw = os.environ.get(_BUSY_ENV, "")
    if not raw.strip():
        return _BUSY_DEFAULT_S
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 3600:  # also refuses nan
        raise InputError(
            f"${_BUSY_ENV} must be a number of seconds from 0 to 3600; got {raw!r}."
        )
    return value


def _lock_holder(exc: Exception) -> str | None:
    """Who holds the database, when ``exc`` says it is locked (else ``None``)."""
    msg = str(exc)
    if "Could not set lock" in msg:
        m = _LOCK_PID.search(msg)
        return f"PID {m.group(1)}" if m else "another process"
    # Same process, other thread: DuckDB refuses a read-only and a read-write connection to
    # one file at the same time; it clears when the other connection closes.
    if "different configuration" in msg:
        return f"PID {os.getpid()}"
    return None


def _content_keys(df: pd.DataFrame) -> pd.Series:
    """A stable key per row from its content, so re-ingesting the same rows adds none."""
    h = pd.util.hash_pandas_object(df.astype(str), index=False).to_numpy(dtype=np.uint64)
    return pd.Series([f"h{v:016x}" for v in h], index=df.index, dtype=object)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
