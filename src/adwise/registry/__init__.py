"""Versioned, atomic model artifacts with metadata."""

from adwise.registry._registry import ArtifactReader, ArtifactWriter, ModelVersion, Registry

__all__ = ["ArtifactReader", "ArtifactWriter", "ModelVersion", "Registry"]
