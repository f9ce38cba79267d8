"""The estimator contract every adwise model follows (scikit-learn's).

``__init__`` only stores keyword arguments; ``fit`` validates parameters (via
``_parameter_constraints``) and returns ``self``; learned state ends in ``_``; using a model
before ``fit`` raises :class:`~adwise.NotFittedError`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sklearn.base import BaseEstimator as _SkBaseEstimator

from adwise._exceptions import NotFittedError
from adwise._params import validate_params

__all__ = ["AdwiseEstimator", "check_is_fitted"]


class AdwiseEstimator(_SkBaseEstimator):
    """Base class: ``get_params``/``set_params``/``clone`` from scikit-learn, plus validation.

    Subclasses declare ``_parameter_constraints = {"name": [constraint, ...]}`` and call
    ``self._validate_params()`` at the top of ``fit``.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {}

    def _validate_params(self) -> None:
        validate_params(
            type(self).__name__, self.get_params(deep=False), self._parameter_constraints
        )


def check_is_fitted(estimator: Any, attributes: str | list[str] | None = None) -> None:
    """Raise :class:`NotFittedError` unless ``estimator`` has been fitted.

    Fitted means it has the given attributes or, when none are given, any public attribute
    ending in ``_``.
    """
    if attributes is None:
        fitted = any(k.endswith("_") and not k.startswith("__") for k in vars(estimator))
    else:
        names = [attributes] if isinstance(attributes, str) else attributes
        fitted = all(hasattr(estimator, a) for a in names)
    if not fitted:
        raise NotFittedError(
            f"This {type(estimator).__name__} is not fitted yet; call 'fit' before using it."
        )
