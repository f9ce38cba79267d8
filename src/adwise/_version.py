"""The adwise version, carried by every artifact the registry writes."""

__version__ = "0.1.0"

# Artifacts written by another version with the same major.minor load; others refuse.
ARTIFACT_COMPAT = ".".join(__version__.split(".")[:2])
