"""Uplift metrics, defined exactly as scikit-uplift's ``sklift.metrics`` (version 0.5).

DESIGN.md promises that ``adwise audience uplift`` figures compare one to one with
scikit-uplift, so every number here reproduces its definition, including its tie handling:
curves have one point per distinct predicted uplift, and :func:`uplift_at_k` orders rows as a
stable ascending sort reversed (among equal scores, later rows come first).

The inputs are always ``y`` (outcome, 0/1), ``uplift`` (predicted uplift, any finite numbers)
and ``treatment`` (1 = treated, 0 = control), one row each.  Like scikit-uplift, ``y`` and
``treatment`` must each hold both 0 and 1.  Where scikit-uplift would return NaN or infinity
(an empty group among the top rows, a perfect curve with zero area) adwise raises
:class:`adwise._exceptions.InputError` instead.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from adwise._exceptions import InputError, ParameterError
from adwise.metrics._checks import (
    as_1d,
    as_binary,
    as_scores,
    check_same_length,
    require_both_classes,
)

__all__ = [
    "perfect_qini_curve",
    "perfect_uplift_curve",
    "qini_auc_score",
    "qini_curve",
    "uplift_at_k",
    "uplift_auc_score",
    "uplift_curve",
]


def _inputs(
    func: str, y: ArrayLike, uplift: ArrayLike | None, treatment: ArrayLike
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    ya, ta = as_1d(func, "y", y), as_1d(func, "treatment", treatment)
    if uplift is None:
        check_same_length(func, ("y", "treatment"), (ya, ta))
        ua = None
    else:
        ua = as_1d(func, "uplift", uplift)
        check_same_length(func, ("y", "uplift", "treatment"), (ya, ua, ta))
        ua = as_scores(func, "uplift", ua)
    yb, tb = as_binary(func, "y", ya), as_binary(func, "treatment", ta)
    require_both_classes(func, "y", yb)
    require_both_classes(func, "treatment", tb)
    return yb, ua, tb


def _cumulative(
    y: np.ndarray, score: np.ndarray, treatment: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Counts among the rows scoring at least each distinct score, highest score first.

    Returns ``n_all``, ``n_treated``, ``n_control``, ``responders_treated`` and
    ``responders_control`` at the end of each block of equal scores.
    """
    order = np.argsort(score)[::-1]  # the order inside a block of equal scores does not matter
    s, yo, to = score[order], y[order], treatment[order]
    ends = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    n_all = ends + 1
    n_t = np.cumsum(to, dtype=np.float64)[ends]
    r_t = np.cumsum(yo & to, dtype=np.float64)[ends]
    r_c = np.cumsum(yo & ~to, dtype=np.float64)[ends]
    return n_all, n_t, n_all - n_t, r_t, r_c


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a / b`` with 0 where ``b`` is 0 (scikit-uplift's convention for an empty group)."""
    return np.divide(a, b, out=np.zeros_like(a), where=b != 0)


def _uplift_points(y: np.ndarray, score: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, ...]:
    n_all, n_t, n_c, r_t, r_c = _cumulative(y, score, t)
    values = (_safe_div(r_t, n_t) - _safe_div(r_c, n_c)) * n_all
    return np.r_[0, n_all], np.r_[0.0, values]


def _qini_points(y: np.ndarray, score: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, ...]:
    n_all, n_t, n_c, r_t, r_c = _cumulative(y, score, t)
    values = r_t - r_c * _safe_div(n_t, n_c)
    return np.r_[0, n_all], np.r_[0.0, values]


def _perfect_uplift_points(y: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, ...]:
    control_responders = np.count_nonzero(y & ~t)
    treated_non_responders = np.count_nonzero(~y & t)
    extra = y if control_responders > treated_non_responders else t
    score = 2 * (y == t).astype(np.int64) + extra
    return _uplift_points(y, score, t)


def _perfect_qini_points(
    y: np.ndarray, t: np.ndarray, negative_effect: bool
) -> tuple[np.ndarray, ...]:
    if negative_effect:
        score = (y & t).astype(np.int64) - (y & ~t).astype(np.int64)
        return _qini_points(y, score, t)
    n_t = np.count_nonzero(t)
    gain = np.count_nonzero(y & t) - n_t * np.count_nonzero(y & ~t) / (t.size - n_t)
    return np.array([0.0, gain, float(t.size)]), np.array([0.0, gain, gain])


def _area(x: np.ndarray, v: np.ndarray) -> float:
    """Trapezoidal area under the points ``(x, v)``."""
    x = x.astype(np.float64)
    return float(np.sum(np.diff(x) * (v[1:] + v[:-1])) / 2.0)


def _normalised_area(
    func: str, actual: tuple[np.ndarray, ...], perfect: tuple[np.ndarray, ...]
) -> float:
    xp, vp = perfect
    random_area = float(xp[-1]) * float(vp[-1]) / 2.0
    perfect_gain = _area(xp, vp) - random_area
    if perfect_gain == 0.0:
        raise InputError(
            f"{func}: the perfect curve has no area above the random line, "
            "so the normalised score is undefined"
        )
    return (_area(*actual) - random_area) / perfect_gain


def uplift_curve(
    y: ArrayLike, uplift: ArrayLike, treatment: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Uplift curve: estimated incremental responders when targeting the top-scored rows.

    Rows are taken in decreasing ``uplift``; at the end of each block of equal scores, with
    ``n`` rows taken, ``n_T``/``n_C`` of them treated/control and ``r_T``/``r_C`` responders:

    .. math::

        \\mathrm{uplift}(n) = \\Big(\\frac{r_T}{n_T} - \\frac{r_C}{n_C}\\Big)\\, n

    (a ratio with an empty group counts as 0).  The curve starts at ``(0, 0)``.  Same as
    ``sklift.metrics.uplift_curve``.

    Parameters
    ----------
    y : array-like of shape (n,)
        Outcome, 0/1, both present.
    uplift : array-like of shape (n,)
        Predicted uplift; finite numbers.
    treatment : array-like of shape (n,)
        1 = treated, 0 = control, both present.

    Returns
    -------
    x : ndarray of int
        Number of rows targeted, from 0 to ``n``.
    values : ndarray of float
        Curve values at ``x``.

    Raises
    ------
    InputError
        Lengths differ, input is empty, ``y``/``treatment`` not 0/1 or with one value only,
        ``uplift`` not finite.

    Examples
    --------
    >>> y, t = [1, 0, 1, 0, 1, 0], [1, 1, 0, 0, 1, 0]
    >>> x, v = uplift_curve(y, [0.8, 0.6, 0.1, 0.4, 0.3, 0.7], t)
    >>> x.tolist(), v.round(3).tolist()
    ([0, 1, 2, 3, 4, 5, 6], [0.0, 1.0, 2.0, 1.5, 2.0, 3.333, 2.0])
    """
    yb, u, tb = _inputs("uplift_curve", y, uplift, treatment)
    return _uplift_points(yb, u, tb)


def perfect_uplift_curve(y: ArrayLike, treatment: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Uplift curve of the best possible ordering of the rows (``sklift``'s definition).

    The perfect score is :math:`2\\,[y = t] + s` with :math:`s = y` when control responders
    outnumber treated non-responders and :math:`s = t` otherwise; its :func:`uplift_curve` is
    returned.

    Parameters
    ----------
    y, treatment : array-like of shape (n,)
        See :func:`uplift_curve`.

    Returns
    -------
    x, values : ndarray
        As :func:`uplift_curve`.

    Raises
    ------
    InputError
        As :func:`uplift_curve`.

    Examples
    --------
    >>> x, v = perfect_uplift_curve([1, 0, 1, 0, 1, 0], [1, 1, 0, 0, 1, 0])
    >>> x.tolist(), v.round(3).tolist()
    ([0, 2, 4, 5, 6], [0.0, 2.0, 4.0, 3.333, 2.0])
    """
    yb, _, tb = _inputs("perfect_uplift_curve", y, None, treatment)
    return _perfect_uplift_points(yb, tb)


def uplift_auc_score(y: ArrayLike, uplift: ArrayLike, treatment: ArrayLike) -> float:
    """Normalised area under the uplift curve (AUUC), as ``sklift.metrics.uplift_auc_score``.

    .. math::

        \\mathrm{AUUC} = \\frac{A(\\mathrm{model}) - A(\\mathrm{random})}
        {A(\\mathrm{perfect}) - A(\\mathrm{random})}

    with :math:`A` the trapezoidal area under a curve, *model* the :func:`uplift_curve` of
    ``uplift``, *perfect* the :func:`perfect_uplift_curve` and *random* the straight line from
    ``(0, 0)`` to the end point of the perfect curve.

    Parameters
    ----------
    y, uplift, treatment : array-like of shape (n,)
        See :func:`uplift_curve`.

    Returns
    -------
    float
        1 for the perfect ordering, about 0 for a random one; can be negative.

    Raises
    ------
    InputError
        As :func:`uplift_curve`, or the perfect curve has no area above the random line.

    Examples
    --------
    >>> y, t = [1, 0, 1, 0, 1, 0], [1, 1, 0, 0, 1, 0]
    >>> round(uplift_auc_score(y, [0.8, 0.6, 0.1, 0.4, 0.3, 0.7], t), 4)
    0.58
    """
    yb, u, tb = _inputs("uplift_auc_score", y, uplift, treatment)
    return _normalised_area(
        "uplift_auc_score", _uplift_points(yb, u, tb), _perfect_uplift_points(yb, tb)
    )


def qini_curve(
    y: ArrayLike, uplift: ArrayLike, treatment: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Qini curve: treated responders minus control responders scaled to the treated count.

    Rows are taken in decreasing ``uplift``; at the end of each block of equal scores:

    .. math::

        \\mathrm{qini}(n) = r_T - r_C\\, \\frac{n_T}{n_C}

    (the ratio counts as 0 while no control row is taken).  The curve starts at ``(0, 0)``.
    Same as ``sklift.metrics.qini_curve``.

    Parameters
    ----------
    y, uplift, treatment : array-like of shape (n,)
        See :func:`uplift_curve`.

    Returns
    -------
    x : ndarray of int
        Number of rows targeted, from 0 to ``n``.
    values : ndarray of float
        Curve values at ``x``.

    Raises
    ------
    InputError
        As :func:`uplift_curve`.

    Examples
    --------
    >>> y, t = [1, 0, 1, 0, 1, 0], [1, 1, 0, 0, 1, 0]
    >>> x, v = qini_curve(y, [0.8, 0.6, 0.1, 0.4, 0.3, 0.7], t)
    >>> x.tolist(), v.tolist()
    ([0, 1, 2, 3, 4, 5, 6], [0.0, 1.0, 1.0, 1.0, 1.0, 2.0, 1.0])
    """
    yb, u, tb = _inputs("qini_curve", y, uplift, treatment)
    return _qini_points(yb, u, tb)


def perfect_qini_curve(
    y: ArrayLike, treatment: ArrayLike, negative_effect: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Qini curve of the best possible ordering (``sklift``'s definition).

    With ``negative_effect=True`` it is the :func:`qini_curve` of the score ``+1`` for treated
    responders, ``-1`` for control responders and 0 otherwise (the curve rises, then falls
    where the campaign hurts).  With ``False`` it is the three points ``(0, 0)``, ``(g, g)``,
    ``(n, g)``, with :math:`g = r_T - n_T\\, r_C / n_C` over all rows.

    Parameters
    ----------
    y, treatment : array-like of shape (n,)
        See :func:`uplift_curve`.
    negative_effect : bool, default True
        Whether the perfect curve may contain negative effects.

    Returns
    -------
    x, values : ndarray
        Points of the curve.

    Raises
    ------
    InputError
        As :func:`uplift_curve`.
    ParameterError
        ``negative_effect`` is not a bool.

    Examples
    --------
    >>> x, v = perfect_qini_curve([1, 0, 1, 0, 1, 0], [1, 1, 0, 0, 1, 0])
    >>> x.tolist(), v.tolist()
    ([0, 2, 5, 6], [0.0, 2.0, 2.0, 1.0])
    """
    _check_flag("perfect_qini_curve", negative_effect)
    yb, _, tb = _inputs("perfect_qini_curve", y, None, treatment)
    return _perfect_qini_points(yb, tb, negative_effect)


def qini_auc_score(
    y: ArrayLike, uplift: ArrayLike, treatment: ArrayLike, negative_effect: bool = True
) -> float:
    """Normalised area under the Qini curve (Qini coefficient), as ``sklift``'s ``qini_auc_score``.

    .. math::

        Q = \\frac{A(\\mathrm{model}) - A(\\mathrm{random})}
        {A(\\mathrm{perfect}) - A(\\mathrm{random})}

    with :math:`A` the trapezoidal area, *model* the :func:`qini_curve` of ``uplift``,
    *perfect* the :func:`perfect_qini_curve` (with ``negative_effect``) and *random* the line
    from ``(0, 0)`` to the perfect curve's end point.

    Parameters
    ----------
    y, uplift, treatment : array-like of shape (n,)
        See :func:`uplift_curve`.
    negative_effect : bool, default True
        Passed to :func:`perfect_qini_curve`.

    Returns
    -------
    float
        1 for the perfect ordering, about 0 for a random one; can be negative.

    Raises
    ------
    InputError
        As :func:`uplift_curve`; the perfect curve has no area above the random line; or,
        with ``negative_effect=False``, the overall gain is negative (scikit-uplift fails
        there too).
    ParameterError
        ``negative_effect`` is not a bool.

    Examples
    --------
    >>> y, t = [1, 0, 1, 0, 1, 0], [1, 1, 0, 0, 1, 0]
    >>> round(qini_auc_score(y, [0.8, 0.6, 0.1, 0.4, 0.3, 0.7], t), 4)
    0.5385
    """
    _check_flag("qini_auc_score", negative_effect)
    yb, u, tb = _inputs("qini_auc_score", y, uplift, treatment)
    perfect = _perfect_qini_points(yb, tb, negative_effect)
    if not negative_effect and perfect[1][-1] < 0:
        raise InputError(
            "qini_auc_score: with negative_effect=False the perfect curve needs a positive "
            f"overall gain, got {perfect[1][-1]:.6g} (treated respond less than control)"
        )
    return _normalised_area("qini_auc_score", _qini_points(yb, u, tb), perfect)


def uplift_at_k(
    y: ArrayLike,
    uplift: ArrayLike,
    treatment: ArrayLike,
    k: float = 0.3,
    strategy: Literal["overall", "by_group"] = "overall",
) -> float:
    """Response rate of treated minus control among the top-``k`` rows by predicted uplift.

    .. math::

        \\mathrm{uplift}@k = \\bar y_{T \\cap \\mathrm{top}} - \\bar y_{C \\cap \\mathrm{top}}

    ``strategy="overall"``: the top is the first ``m`` rows of all rows, ``m = int(k * n)``
    for a float ``k`` or ``m = k`` for an int.  ``strategy="by_group"``: the top is taken in
    each group separately, ``int(k * n_T)`` treated and ``int(k * n_C)`` control rows (or
    ``k`` of each for an int).  Rows are ordered as in ``sklift.metrics.uplift_at_k``.

    Parameters
    ----------
    y, uplift, treatment : array-like of shape (n,)
        See :func:`uplift_curve`.
    k : float or int, default 0.3
        A share in ``(0, 1)`` or a number of rows in ``[1, n)``.
    strategy : {"overall", "by_group"}, default "overall"
        How the top is chosen (see above).

    Returns
    -------
    float
        Difference of response rates, in ``[-1, 1]``.

    Raises
    ------
    InputError
        As :func:`uplift_curve`, or the top holds no treated or no control row.
    ParameterError
        ``k`` or ``strategy`` is invalid, or with ``by_group`` an int ``k`` exceeds a group.

    Examples
    --------
    Top half: rows scoring 0.8 (treated, 1), 0.7 (control, 0), 0.6 (treated, 0).

    >>> y, t = [1, 0, 1, 0, 1, 0], [1, 1, 0, 0, 1, 0]
    >>> uplift_at_k(y, [0.8, 0.6, 0.1, 0.4, 0.3, 0.7], t, k=0.5)
    0.5
    """
    func = "uplift_at_k"
    if strategy not in ("overall", "by_group"):
        raise ParameterError(f"{func}: strategy must be 'overall' or 'by_group', got {strategy!r}")
    yb, u, tb = _inputs(func, y, uplift, treatment)
    n = yb.size
    is_int = isinstance(k, int | np.integer) and not isinstance(k, bool | np.bool_)
    is_float = isinstance(k, float | np.floating)
    if not (is_int and 0 < k < n) and not (is_float and 0.0 < k < 1.0):
        raise ParameterError(
            f"{func}: k must be a float in (0, 1) or an int in [1, {n - 1}], got {k!r}"
        )
    order = np.argsort(u, kind="stable")[::-1]
    yo, to = yb[order], tb[order]
    if strategy == "overall":
        m = int(n * k) if is_float else int(k)
        top_y, top_t = yo[:m], to[:m]
        treated_y, control_y = top_y[top_t], top_y[~top_t]
    else:
        n_t = int(np.count_nonzero(tb))
        n_c = n - n_t
        m_t, m_c = (int(n_t * k), int(n_c * k)) if is_float else (int(k), int(k))
        if m_t > n_t or m_c > n_c:
            raise ParameterError(
                f"{func}: k={k!r} asks for more rows than a group holds "
                f"({n_t} treated, {n_c} control)"
            )
        treated_y, control_y = yo[to][:m_t], yo[~to][:m_c]
    if treated_y.size == 0 or control_y.size == 0:
        empty = "treated" if treated_y.size == 0 else "control"
        raise InputError(
            f"{func}: the top rows at k={k!r} hold no {empty} row, so the uplift is undefined; "
            "use a larger k"
        )
    return float(treated_y.mean() - control_y.mean())


def _check_flag(func: str, negative_effect: object) -> None:
    if not isinstance(negative_effect, bool | np.bool_):
        raise ParameterError(
            f"{func}: negative_effect must be a bool, got {type(negative_effect).__name__}"
        )
