"""Starting Spark for adwise: checks first, so that a missing part is one line, not a JVM trace.

PySpark (``pip install adwise[spark]``) bundles Spark's jars and needs Java 17 or newer on the
driver.  :func:`spark_session` checks both, and that a ``spark://`` master answers, before it
starts the JVM; :func:`read_frame` turns Spark's analysis errors into :class:`InputError`.
Every failure is a :class:`~adwise.BackendError` (exit status 2) naming what to install or set.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from adwise._exceptions import BackendError, InputError

__all__ = [
    "DEFAULT_MASTER",
    "MIN_JAVA",
    "java_version",
    "parse_conf",
    "quiet_pandas",
    "read_frame",
    "resolve_master",
    "spark_available",
    "spark_session",
    "to_pandas",
]

DEFAULT_MASTER = "local[*]"
MIN_JAVA = 17  # Spark 4 runs on Java 17 and 21
_INSTALL_JAVA = ("install Java 17 (e.g. `apt-get install openjdk-17-jre-headless`) or point "
                 "JAVA_HOME at one")
# defaults a caller's --spark-conf overrides: UTC keeps hour / weekday and timestamp frames the
# same as DuckDB's; no progress bars on a terminal that may be printing JSON
_DEFAULT_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


def spark_available() -> bool:
    """Whether PySpark is importable (the ``adwise[spark]`` extra)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_master(master: str | None) -> str:
    """``master``, else ``$ADWISE_SPARK_MASTER``, else ``local[*]``."""
    return master or os.environ.get("ADWISE_SPARK_MASTER") or DEFAULT_MASTER


def parse_conf(items: Sequence[str] | None) -> dict[str, str]:
    """``["spark.x=1", ...]`` (the ``--spark-conf`` options) as a dict."""
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key.startswith("spark."):
            raise InputError(f"--spark-conf takes spark.KEY=VALUE; got {item!r}.")
        out[key] = value.strip()
    return out


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home:
        cand = Path(home) / "bin" / "java"
        return str(cand) if cand.is_file() else None
    return shutil.which("java")


def java_version(java: str | None = None) -> int | None:
    """The major version of ``java`` (default: ``$JAVA_HOME/bin/java``, else ``java`` on
    ``PATH``), or ``None`` when there is none or it does not say."""
    java = java or _java()
    if java is None:
        return None
    try:
        res = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', res.stderr + res.stdout)
    if not m:
        return None
    major = int(m.group(1))
    # Java 8 and older call themselves "1.8.0_392"
    return int(m.group(2) or 0) if major == 1 else major


def _check_java() -> None:
    java = _java()
    if java is None:
        where = "JAVA_HOME" if os.environ.get("JAVA_HOME") else "PATH"
        raise BackendError(f"Spark needs Java {MIN_JAVA}+ and there is no `java` on {where}: "
                           f"{_INSTALL_JAVA}.")
    major = java_version(java)
    if major is None or major < MIN_JAVA:
        found = f"Java {major}" if major else "a `java` that does not report its version"
        raise BackendError(f"Spark needs Java {MIN_JAVA}+ but {java} is {found}: "
                           f"{_INSTALL_JAVA}.")


def _check_master(master: str) -> None:
    if master.startswith(("local", "yarn", "k8s://")):
        return
    if not master.startswith("spark://"):
        raise InputError(f"--spark-master must be local[N], spark://HOST:PORT, yarn or "
                         f"k8s://URL; got {master!r}.")
    for hostport in master[len("spark://"):].split(","):
        url = urlparse("spark://" + hostport)
        try:
            with socket.create_connection((url.hostname or "", url.port or 7077), timeout=5):
                return
        except OSError:
            continue
    raise BackendError(f"the Spark master {master} does not answer; start it or give the "
                       "right --spark-master (or $ADWISE_SPARK_MASTER).")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def spark_session(master: str | None = None, conf: Mapping[str, str] | None = None,
                  app_name: str = "adwise") -> Iterator[Any]:
    """A SparkSession on ``master`` (see :func:`resolve_master`), stopped on exit.

    Under ``spark-submit`` (no ``master`` given) the launcher's master and settings are used.
    An already active session is used as it is and left running (so a caller that owns one,
    e.g. a test fixture, keeps it).  The workers run this interpreter (``PYSPARK_PYTHON``
    unless set) with ``OMP_WAIT_POLICY=PASSIVE``: XGBoost's idle OpenMP threads would otherwise
    spin on the cores Spark's other tasks need.

    Raises
    ------
    BackendError
        PySpark is not installed, Java is missing or older than 17, the master does not answer
        or Spark does not start; one line that says what to install or set.
    """
    if not spark_available():
        raise BackendError("--engine spark needs PySpark: `pip install adwise[spark]`.")
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        with quiet_pandas():
            yield active
        return
    builder = SparkSession.builder.appName(app_name)
    if "PYSPARK_GATEWAY_PORT" in os.environ and not (master or
                                                      os.environ.get("ADWISE_SPARK_MASTER")):
        # started by spark-submit: its JVM is up and its --master and --conf hold
        master = "the spark-submit master"
    else:
        master = resolve_master(master)
        _check_master(master)
        _check_java()
        builder = builder.master(master)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    settings = {**_DEFAULT_CONF, "spark.executorEnv.OMP_WAIT_POLICY": "PASSIVE",
                "spark.executorEnv.PYSPARK_PYTHON": os.environ["PYSPARK_PYTHON"],
                **(conf or {})}
    scratch = None
    if master.startswith("local") and "spark.checkpoint.dir" not in settings:
        # iterative fits (ALS) grow a lineage per iteration whose serialisation overflows the
        # JVM stack past ~20 iterations; checkpoints cut it, and they need a folder
        scratch = tempfile.mkdtemp(prefix="adwise-spark-checkpoints-")
        settings["spark.checkpoint.dir"] = scratch
    for k, v in settings.items():
        builder = builder.config(k, v)
    try:
        try:
            with quiet_pandas():
                spark = builder.getOrCreate()
        except Exception as exc:  # Py4J / JVM start-up errors carry pages of Java trace
            raise BackendError(f"Spark did not start on {master}: {_first_line(exc)}. Check "
                               "--spark-master and --spark-conf.") from None
        spark.sparkContext.setLogLevel("ERROR")
        try:
            with quiet_pandas():
                yield spark
        finally:
            spark.stop()
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def read_frame(spark: Any, path: str | Path, fmt: str | None = None) -> Any:
    """A Spark DataFrame of the Parquet / CSV / TSV / JSON Lines file or folder at ``path`` (any
    URI Spark reads: ``hdfs://``, ``s3a://``, ...).

    The format comes from ``fmt`` or the name (``.parquet``/``.pq``, ``.csv``, ``.tsv``,
    ``.jsonl``/``.json``; a folder without a suffix is Parquet).
    """
    from pyspark.errors import PySparkException

    name = str(path)
    if fmt is None:
        low = name.lower().rstrip("/")
        for suffix, f in ((".csv", "csv"), (".csv.gz", "csv"), (".tsv", "tsv"),
                          (".jsonl", "jsonl"), (".json", "jsonl")):
            if low.endswith(suffix):
                fmt = f
        fmt = fmt or "parquet"
    try:
        if fmt == "parquet":
            return spark.read.parquet(name)
        if fmt in ("csv", "tsv"):
            return spark.read.csv(name, header=True, inferSchema=True,
                                  sep="\t" if fmt == "tsv" else ",")
        if fmt == "jsonl":
            return spark.read.json(name)
    except PySparkException as exc:
        raise InputError(f"{name}: Spark cannot read it: {_first_line(exc)}") from None
    raise InputError(f"{name}: unknown format {fmt!r}; use parquet, csv, tsv or jsonl.")


@contextmanager
def quiet_pandas() -> Iterator[None]:
    """PySpark 4.x warns that pandas 3 is not yet fully supported and calls ``astype`` with a
    deprecated ``copy`` keyword; it reads and writes the frames adwise uses right."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*pandas >= 3")
        warnings.filterwarnings("ignore", message=r"The copy keyword is deprecated")
        yield


def to_pandas(frame: Any) -> Any:
    """``frame.toPandas()`` without PySpark's warnings about pandas 3."""
    with quiet_pandas():
        return frame.toPandas()
