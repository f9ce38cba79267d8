"""One exception tree for adwise.

Every error adwise raises on purpose derives from :class:`AdwiseError`.  The CLI maps
:class:`InputError` (and its children) to exit status 2 and the message on stderr; any other
:class:`AdwiseError` to exit status 1 with its message; anything else is a bug.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

__all__ = [
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
]


class AdwiseError(Exception):
    """Base class of every error adwise raises on purpose."""


class InputError(AdwiseError, ValueError):
    """The caller gave something adwise cannot use (exit status 2 in the CLI)."""


class ParameterError(InputError):
    """A hyper-parameter or option is outside what is allowed."""


class ContractError(InputError):
    """A data file breaks the data contract.

    Parameters
    ----------
    file : str
        The file (or table) that was being read.
    column : str or None
        The offending column, when one column is to blame.
    problem : str
        What is wrong, in words.
    rows : sequence of (int, object)
        Up to five offending ``(row number, value)`` pairs; rows count from 0 like pandas.
    fix : str
        How to fix it.
    n_bad : int
        How many rows break the rule in total.
    """

    def __init__(
        self,
        file: str,
        column: str | None,
        problem: str,
        fix: str,
        rows: Sequence[tuple[int, Any]] = (),
        n_bad: int | None = None,
    ) -> None:
        self.file = file
        self.column = column
        self.problem = problem
        self.fix = fix
        self.rows = list(rows)[:5]
        self.n_bad = len(rows) if n_bad is None else n_bad
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.file}: column '{self.column}'" if self.column else f"{self.file}"
        msg = f"{where}: {self.problem}"
        if self.rows:
            shown = ", ".join(f"row {r} (value {_short(v)})" for r, v in self.rows)
            more = f" and {self.n_bad - len(self.rows)} more" if self.n_bad > len(self.rows) else ""
            msg += f"; {self.n_bad} row(s) affected: {shown}{more} (rows count from 0)"
        msg += f". Fix: {self.fix}"
        return msg


class PIIError(ContractError):
    """A column looks like personal data (e-mail addresses, phone numbers)."""


class WorkspaceError(InputError):
    """The workspace is missing, not initialised, or damaged."""


class WorkspaceBusyError(WorkspaceError):
    """Another process holds the workspace database (exit 2; HTTP 503 with Retry-After).

    Parameters
    ----------
    message : str
        What happened and what to do.
    holder : str
        Who holds it, e.g. ``"PID 4242"``.
    """

    def __init__(self, message: str, holder: str = "another process") -> None:
        self.holder = holder
        super().__init__(message)


class ArtifactError(AdwiseError):
    """A model artifact cannot be saved or loaded."""


class ArtifactVersionError(ArtifactError):
    """An artifact was written by an incompatible adwise version."""


class ArtifactIntegrityError(ArtifactError):
    """An artifact's checksum does not match what was recorded at save."""


class DependencyUnavailableError(AdwiseError):
    """An optional extra (e.g. ``adwise[deep]``, ``adwise[llm]``) is not installed."""


class BackendError(InputError):
    """An external backend (e.g. an OpenAI-compatible endpoint) cannot be used."""


if TYPE_CHECKING:
    from sklearn.exceptions import NotFittedError as _SkNotFittedError

    class NotFittedError(AdwiseError, _SkNotFittedError):
        """An estimator was used before ``fit``."""


def _not_fitted_error() -> type:
    # Made on first use: importing scikit-learn costs about a second, and the CLI's
    # --version and --help must not pay it.
    from sklearn.exceptions import NotFittedError as _SkNotFittedError

    class NotFittedError(AdwiseError, _SkNotFittedError):
        """An estimator was used before ``fit``."""

    NotFittedError.__module__ = __name__
    NotFittedError.__qualname__ = "NotFittedError"
    return NotFittedError


def __getattr__(name: str) -> Any:
    if name == "NotFittedError":
        cls = globals()["NotFittedError"] = _not_fitted_error()
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _short(value: Any, limit: int = 40) -> str:
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        value = value.item()  # NumPy 2 scalars repr as np.float64(...): show the number
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
