"""adwise: self-hosted ad-marketing intelligence on your own ad logs."""

from adwise._exceptions import (
    AdwiseError,
    ArtifactError,
    ArtifactIntegrityError,
    ArtifactVersionError,
    BackendError,
    ContractError,
    DependencyUnavailableError,
    InputError,
    NotFittedError,
    ParameterError,
    PIIError,
    WorkspaceError,
)
from adwise._version import __version__

CAPABILITIES = ("delivery", "behavior", "interests", "creative", "placement", "audience")

__all__ = [
    "CAPABILITIES",
    "AdwiseError",
    "ArtifactError",
    "ArtifactIntegrityError",
    "ArtifactVersionError",
    "BackendError",
    "ContractError",
    "DependencyUnavailableError",
    "InputError",
    "NotFittedError",
    "PIIError",
    "ParameterError",
    "WorkspaceError",
    "__version__",
]
