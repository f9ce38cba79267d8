"""Regression metrics (used for explicit-feedback ratings and continuous targets)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from adwise.metrics._checks import as_1d, as_scores, check_same_length

__all__ = ["mae", "mse", "rmse"]


def _errors(func: str, y_true: ArrayLike, y_pred: ArrayLike) -> np.ndarray:
    yt, yp = as_1d(func, "y_true", y_true), as_1d(func, "y_pred", y_pred)
    check_same_length(func, ("y_true", "y_pred"), (yt, yp))
    return as_scores(func, "y_pred", yp) - as_scores(func, "y_true", yt)


def mse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean squared error.

    .. math:: \\mathrm{MSE} = \\frac{1}{n} \\sum_i (\\hat y_i - y_i)^2

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        True and predicted values, finite numbers.

    Returns
    -------
    float

    Raises
    ------
    InputError
        Lengths differ, input is empty, a value is not a finite number.

    Examples
    --------
    >>> mse([3.0, 5.0], [4.0, 3.0])
    2.5
    """
    err = _errors("mse", y_true, y_pred)
    return float(np.dot(err, err) / err.size)


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error, in the unit of the target.

    .. math:: \\mathrm{RMSE} = \\sqrt{\\frac{1}{n} \\sum_i (\\hat y_i - y_i)^2}

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        True and predicted values, finite numbers.

    Returns
    -------
    float

    Raises
    ------
    InputError
        Lengths differ, input is empty, a value is not a finite number.

    Examples
    --------
    >>> rmse([1.0, 1.0], [4.0, -2.0])
    3.0
    """
    err = _errors("rmse", y_true, y_pred)
    return float(np.sqrt(np.dot(err, err) / err.size))


def mae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute error.

    .. math:: \\mathrm{MAE} = \\frac{1}{n} \\sum_i |\\hat y_i - y_i|

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        True and predicted values, finite numbers.

    Returns
    -------
    float

    Raises
    ------
    InputError
        Lengths differ, input is empty, a value is not a finite number.

    Examples
    --------
    >>> mae([3.0, 5.0], [4.0, 3.0])
    1.5
    """
    err = _errors("mae", y_true, y_pred)
    return float(np.abs(err).mean())
