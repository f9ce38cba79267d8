"""One SparkSession for every Spark test: ``local[1]``, two shuffle partitions, no UI."""

from __future__ import annotations

import pytest

from adwise.engine import MIN_JAVA, java_version, spark_available
from optional_parts import needs


@pytest.fixture(scope="session")
def spark():
    """A local Spark session (skips without PySpark and Java 17 locally; fails in CI)."""
    needs(spark_available(), "PySpark is not installed (pip install adwise[spark])")
    needs((java_version() or 0) >= MIN_JAVA, f"Java {MIN_JAVA}+ is not installed")
    from adwise.engine import spark_session

    conf = {"spark.sql.shuffle.partitions": "2", "spark.ui.enabled": "false",
            "spark.default.parallelism": "1"}
    with spark_session("local[1]", conf, app_name="adwise-tests") as session:
        yield session
