"""Parameter constraints declared as data and checked in one place.

An estimator lists its constraints in ``_parameter_constraints``; ``validate_params`` checks
them all and raises :class:`~adwise.ParameterError` in one format::

    ALS: parameter 'factors' must be an int in [1, inf); got 0 (int).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from adwise._exceptions import ParameterError

__all__ = ["Interval", "Options", "Predicate", "describe_value", "validate_params"]


@dataclass(frozen=True)
class Interval:
    """A numeric range. ``kind`` is ``int``, ``float`` (ints accepted) or ``numbers.Real``."""

    kind: type
    low: float | None = None
    high: float | None = None
    closed: str = "both"  # "both", "left", "right", "neither"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if self.kind is int:
            if not isinstance(value, numbers.Integral):
                return False
        elif not isinstance(value, numbers.Real) or (
            isinstance(value, float) and math.isnan(value)
        ):
            return False
        lo_ok = self.low is None or (
            value >= self.low if self.closed in ("both", "left") else value > self.low
        )
        hi_ok = self.high is None or (
            value <= self.high if self.closed in ("both", "right") else value < self.high
        )
        return lo_ok and hi_ok

    def __str__(self) -> str:
        name = "an int" if self.kind is int else "a float"
        left = "[" if self.closed in ("both", "left") and self.low is not None else "("
        right = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        lo = "-inf" if self.low is None else _fmt(self.low)
        hi = "inf" if self.high is None else _fmt(self.high)
        return f"{name} in {left}{lo}, {hi}{right}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values."""

    values: tuple

    def __init__(self, values: Iterable[Any]) -> None:
        object.__setattr__(self, "values", tuple(values))

    def accepts(self, value: Any) -> bool:
        return any(value == v and type(value) is type(v) for v in self.values)

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class Predicate:
    """Any test with a description, e.g. ``Predicate(callable, 'a callable')``."""

    test: Callable[[Any], bool]
    description: str

    def accepts(self, value: Any) -> bool:
        return bool(self.test(value))

    def __str__(self) -> str:
        return self.description


_TYPE_NAMES = {bool: "a bool", str: "a str", dict: "a dict", list: "a list", type(None): "None"}


def _accepts(constraint: Any, value: Any) -> bool:
    if constraint is None:
        return value is None
    if isinstance(constraint, type):
        if constraint is float:
            return isinstance(value, numbers.Real) and not isinstance(value, bool)
        if constraint is int:
            return isinstance(value, numbers.Integral) and not isinstance(value, bool)
        return isinstance(value, constraint)
    return constraint.accepts(value)


def _describe(constraint: Any) -> str:
    if constraint is None:
        return "None"
    if isinstance(constraint, type):
        return _TYPE_NAMES.get(constraint, f"an instance of {constraint.__name__}")
    return str(constraint)


def describe_value(value: Any) -> str:
    """``repr`` of a value with its type, as used in error messages."""
    return f"{value!r} ({type(value).__name__})"


def validate_params(owner: str, params: Mapping[str, Any], constraints: Mapping[str, list]) -> None:
    """Check every parameter that has constraints; raise on the first that fails.

    Parameters
    ----------
    owner : str
        Name shown in the message (usually the estimator's class name).
    params : mapping
        Parameter values, e.g. ``estimator.get_params(deep=False)``.
    constraints : mapping
        For each parameter, a list of accepted constraints (any one suffices).

    Examples
    --------
    >>> validate_params("Model", {"k": 3}, {"k": [Interval(int, 1, None)]})
    >>> validate_params("Model", {"k": 0}, {"k": [Interval(int, 1, None)]})
    Traceback (most recent call last):
    ...
    adwise._exceptions.ParameterError: Model: parameter 'k' must be an int in [1, inf); got 0 (int).
    """
    for name, allowed in constraints.items():
        if name not in params:
            continue
        value = params[name]
        if any(_accepts(c, value) for c in allowed):
            continue
        descs = [_describe(c) for c in allowed]
        text = descs[0] if len(descs) == 1 else ", ".join(descs[:-1]) + " or " + descs[-1]
        raise ParameterError(
            f"{owner}: parameter '{name}' must be {text}; got {describe_value(value)}."
        )


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)
