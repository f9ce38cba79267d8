"""The data layer: the contract, readers, validation, the workspace and the synthetic world.

It imports no capability.
"""

from adwise.data._contract import TABLES, ColumnSpec, TableSpec
from adwise.data._export import csv_safe, write_csv
from adwise.data._privacy import pseudonymise, pseudonymise_series
from adwise.data._readers import detect_format, parse_mapping, read_table
from adwise.data._synth import SyntheticWorld, Truth, generate_world, load_truth, write_world
from adwise.data._validate import (
    PIIFinding,
    find_pii,
    find_pii_columns,
    mask_pii,
    parse_timestamps,
    validate_table,
)
from adwise.data._workspace import (
    DEFAULT_WORKSPACE,
    IngestReport,
    Workspace,
    resolve_workspace_path,
)

__all__ = [
    "DEFAULT_WORKSPACE",
    "TABLES",
    "ColumnSpec",
    "IngestReport",
    "PIIFinding",
    "SyntheticWorld",
    "TableSpec",
    "Truth",
    "Workspace",
    "csv_safe",
    "detect_format",
    "find_pii",
    "find_pii_columns",
    "generate_world",
    "load_truth",
    "mask_pii",
    "parse_mapping",
    "parse_timestamps",
    "pseudonymise",
    "pseudonymise_series",
    "read_table",
    "resolve_workspace_path",
    "validate_table",
    "write_csv",
    "write_world",
]
