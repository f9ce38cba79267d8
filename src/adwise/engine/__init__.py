"""Engines that run adwise's heavy steps: the embedded DuckDB one and Spark (``adwise[spark]``).

Like the data layer it imports no capability.  PySpark is imported only inside the functions
that need it, so importing this package costs nothing without the extra.
"""

from adwise.engine._history import (
    HISTORY_KEYS,
    PRIOR_WEIGHT,
    history_columns,
    history_sql,
    run_duckdb,
    run_spark,
)
from adwise.engine._ingest import (
    hmac_pseudonym,
    ingest_spark,
    parse_timestamps_spark,
    strftime_to_spark,
    write_parquet_atomic,
)
from adwise.engine._spark import (
    DEFAULT_MASTER,
    MIN_JAVA,
    java_version,
    parse_conf,
    quiet_pandas,
    read_frame,
    resolve_master,
    spark_available,
    spark_session,
    to_pandas,
)

__all__ = [
    "DEFAULT_MASTER",
    "HISTORY_KEYS",
    "MIN_JAVA",
    "PRIOR_WEIGHT",
    "history_columns",
    "history_sql",
    "hmac_pseudonym",
    "ingest_spark",
    "java_version",
    "parse_conf",
    "parse_timestamps_spark",
    "quiet_pandas",
    "read_frame",
    "resolve_master",
    "run_duckdb",
    "run_spark",
    "spark_available",
    "spark_session",
    "strftime_to_spark",
    "to_pandas",
    "write_parquet_atomic",
]
