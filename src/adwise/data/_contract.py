"""The data contract: three canonical tables, their columns, and the rules each column obeys.

The contract is declared as data (:data:`TABLES`) and enforced in one place
(:func:`adwise.data.validate_table`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["TABLES", "ColumnSpec", "TableSpec"]


@dataclass(frozen=True)
class ColumnSpec:
    """One canonical column.

    ``kind`` is one of ``id`` (non-empty string), ``timestamp`` (ISO-8601, epoch seconds or a
    compact digit form, see :func:`adwise.data.parse_timestamps`), ``binary`` (0/1; yes/no,
    true/false and y/n are read as 1/0), ``nonneg`` (number >= 0), ``propensity`` (number in
    (0, 1]), ``number`` (any finite number), ``text`` (free text, may be empty).
    """

    name: str
    kind: str
    required: bool = False
    sql_type: str = "VARCHAR"


@dataclass(frozen=True)
class TableSpec:
    """One canonical table: its key column and canonical columns."""

    name: str
    key: str
    columns: tuple[ColumnSpec, ...] = field(default_factory=tuple)

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> ColumnSpec | None:
        return next((c for c in self.columns if c.name == name), None)


_SQL = {
    "id": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "binary": "TINYINT",
    "nonneg": "DOUBLE",
    "propensity": "DOUBLE",
    "number": "DOUBLE",
    "text": "VARCHAR",
}


def _col(name: str, kind: str, required: bool = False) -> ColumnSpec:
    return ColumnSpec(name, kind, required, _SQL[kind])


TABLES: dict[str, TableSpec] = {
    "events": TableSpec(
        "events",
        key="event_id",
        columns=(
            _col("event_id", "id"),
            _col("ts", "timestamp", True),
            _col("user_id", "id", True),
            _col("ad_id", "id", True),
            _col("clicked", "binary", True),
            _col("placement", "text"),
            _col("converted", "binary"),
            _col("cost", "nonneg"),
            _col("revenue", "nonneg"),
            _col("propensity", "propensity"),
            _col("treatment", "binary"),
            _col("rating", "number"),
        ),
    ),
    "users": TableSpec(
        "users", key="user_id", columns=(_col("user_id", "id", True), _col("text", "text"))
    ),
    "ads": TableSpec(
        "ads",
        key="ad_id",
        columns=(
            _col("ad_id", "id", True),
            _col("campaign_id", "text"),
            _col("advertiser", "text"),
            _col("category", "text"),
            _col("headline", "text"),
            _col("description", "text"),
            _col("bid", "nonneg"),
            _col("budget", "nonneg"),
        ),
    ),
}

# What to tell the user for each kind of broken column.
FIXES: dict[str, str] = {
    "id": "give every row a non-empty id",
    "timestamp": (
        "write times as ISO-8601 (e.g. 2026-01-05T13:45:00), epoch seconds or a compact form "
        "such as 2026010513, and drop or repair the rows shown"
    ),
    "binary": "recode the column to 0/1 (yes/no, true/false and y/n are read as 1/0)",
    "nonneg": "use numbers >= 0 (refunds belong in a separate column)",
    "propensity": (
        "propensities are probabilities in (0, 1]; a 0 means the logging policy could never "
        "show the ad — drop those rows or omit the column to have it estimated"
    ),
    "number": "use plain numbers",
    "text": "use text values",
}
