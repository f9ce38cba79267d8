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
    ParameterError,
    PIIError,
    WorkspaceBusyError,
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
    "WorkspaceBusyError",
    "WorkspaceError",
    "__version__",
]


def __getattr__(name: str) -> object:
    # NotFittedError derives from scikit-learn's, which is imported only when it is first used.
    if name == "NotFittedError":
        from adwise import _exceptions

        return _exceptions.NotFittedError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
