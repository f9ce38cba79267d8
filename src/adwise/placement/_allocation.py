"""Daypart budget allocation under diminishing returns.

Response curve per cell ``c`` (e.g. placement x hour), fitted from the logs:

    outcome_c(s) = alpha_c * s ** beta,        0 < beta <= 1

``beta`` (the spend elasticity, shared by all cells) is the within-cell slope of
``log(impressions)`` on ``log(spend)`` across days (cell fixed effects), clipped to
``[min_elasticity, 1]``: spend buys impressions with diminishing returns (``beta < 1``) and each
impression earns the cell's rate.  Impressions rather than clicks are regressed because their
day-to-day counts carry far less Poisson noise; day-to-day noise in the price per impression
still biases ``beta`` toward 0 (errors in variables), which errs on the side of spreading
spend.  ``alpha_c`` anchors each curve at
the cell's typical day: ``alpha_c = E[outcome per day]_c / spend_per_day_c ** beta``, where the
expected outcome uses the cell's hierarchically shrunk rate (:class:`PlacementEffects`), so a
cell with little data is not chased on noise.

Allocation maximises ``sum_c outcome_c(s_c)`` subject to ``sum_c s_c = budget`` and
``lo_c <= s_c <= hi_c`` exactly, by water-filling on the KKT conditions (the Lagrange multiplier
found with ``scipy.optimize.brentq``); the current allocation (the logged spend shares scaled to
the budget) is the comparison, and the result is never worse than it.  By
default ``hi_c = max_multiplier x`` current spend: the curves are only trusted near the spend
levels they were fitted on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import optimize

from adwise._exceptions import InputError
from adwise._params import Interval, Options
from adwise.base import AdwiseEstimator, check_is_fitted
from adwise.placement._effects import PlacementEffects

__all__ = ["DaypartAllocator"]


class DaypartAllocator(AdwiseEstimator):
    """Allocate a daily budget across (placement, daypart) cells.

    Parameters
    ----------
    cell_cols : sequence of str, default ("placement", "hour")
    objective : {"clicks", "conversions"}, default "clicks"
    max_multiplier : float, default 3.0
        Default per-cell maximum, as a multiple of the cell's current spend.
    min_multiplier : float, default 0.0
        Default per-cell minimum, as a multiple of the cell's current spend.
    min_elasticity : float, default 0.05
    elasticity : float or None, default None
        Fix ``beta`` instead of fitting it.

    Attributes
    ----------
    curves_ : DataFrame
        Per cell: ``spend_per_day``, ``share``, ``rate`` (shrunk CTR or conversions per
        impression), ``impressions_per_day``, ``cpc`` (spend per expected outcome), ``alpha``.
    elasticity_ : float
    n_days_ : int
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "cell_cols": [tuple, list],
        "objective": [Options(("clicks", "conversions"))],
        "max_multiplier": [Interval(float, 0, None, closed="neither")],
        "min_multiplier": [Interval(float, 0, None)],
        "min_elasticity": [Interval(float, 0, 1, closed="right")],
        "elasticity": [Interval(float, 0, 1, closed="right"), None],
    }

    def __init__(self, cell_cols: Sequence[str] = ("placement", "hour"),
                 objective: str = "clicks", max_multiplier: float = 3.0,
                 min_multiplier: float = 0.0, min_elasticity: float = 0.05,
                 elasticity: float | None = None) -> None:
        self.cell_cols = cell_cols
        self.objective = objective
        self.max_multiplier = max_multiplier
        self.min_multiplier = min_multiplier
        self.min_elasticity = min_elasticity
        self.elasticity = elasticity

    def fit(self, X: pd.DataFrame, y: Any = None) -> DaypartAllocator:
        """Fit the response curves.

        Parameters
        ----------
        X : DataFrame
            One row per impression with ``cell_cols``, ``day`` (any day key), ``cost`` (>= 0)
            and ``clicked`` (and ``converted`` for the conversions objective).
        """
        self._validate_params()
        if self.min_multiplier > self.max_multiplier:
            raise InputError(
                f"DaypartAllocator: min_multiplier ({self.min_multiplier}) exceeds "
                f"max_multiplier ({self.max_multiplier})."
            )
        cells = list(self.cell_cols)
        target = "clicked" if self.objective == "clicks" else "converted"
        need = [*cells, "day", "cost", "clicked", target]
        missing = [c for c in dict.fromkeys(need) if c not in X.columns]
        if missing:
            raise InputError(
                f"DaypartAllocator: column '{missing[0]}' is missing from the events"
                + (" (the conversions objective needs it)" if missing[0] == "converted" else "")
                + "."
            )
        cost = pd.to_numeric(X["cost"], errors="coerce").to_numpy(dtype=float)
        if not np.isfinite(cost).all() or (cost < 0).any():
            raise InputError("DaypartAllocator: column 'cost' must be a number >= 0 on every row.")
        if cost.sum() <= 0:
            raise InputError("DaypartAllocator: column 'cost' sums to 0; nothing was spent.")
        d = pd.DataFrame({c: X[c].to_numpy() for c in cells})
        d["day"] = X["day"].to_numpy()
        d["cost"] = cost
        d["y"] = X[target].fillna(0).astype(float).to_numpy()
        d["n"] = 1.0
        daily = d.groupby([*cells, "day"], observed=True)[["cost", "y", "n"]].sum().reset_index()
        self.n_days_ = int(d["day"].nunique())
        # elasticity: within-cell slope of log outcome on log spend across days
        if self.elasticity is not None:
            beta = float(self.elasticity)
        else:
            dd = daily[daily["cost"] > 0].copy()
            dd["ls"] = np.log(dd["cost"])
            dd["ly"] = np.log(dd["n"])
            g = dd.groupby(cells, observed=True)
            xs = dd["ls"] - g["ls"].transform("mean")
            ys = dd["ly"] - g["ly"].transform("mean")
            den = float((xs * xs).sum())
            beta = float((xs * ys).sum() / den) if den > 0 else 1.0
            beta = float(np.clip(beta, self.min_elasticity, 1.0))
        self.elasticity_ = beta
        # expected outcome per impression from the shrunk rates
        eff_df = d[cells].copy()
        eff_df["clicked"] = d["y"].to_numpy()
        effects = PlacementEffects(levels=tuple(cells)).fit(eff_df)
        rate = effects.cells(by=cells)
        per = d.groupby(cells, observed=True)[["cost", "n"]].sum().reset_index()
        cur = per.merge(rate[[*cells, "mean"]], on=cells, how="left")
        cur["spend_per_day"] = cur["cost"] / self.n_days_
        cur["impressions_per_day"] = cur["n"] / self.n_days_
        cur["rate"] = cur["mean"]
        exp_out = cur["rate"] * cur["impressions_per_day"]
        cur["cpc"] = np.where(exp_out > 0, cur["spend_per_day"] / exp_out, np.inf)
        cur["share"] = cur["cost"] / cur["cost"].sum()
        with np.errstate(divide="ignore"):
            cur["alpha"] = np.where(cur["spend_per_day"] > 0,
                                    exp_out / np.power(cur["spend_per_day"], beta), 0.0)
        self.curves_ = cur[[*cells, "spend_per_day", "share", "impressions_per_day", "rate",
                            "cpc", "alpha"]].reset_index(drop=True)
        self.daily_budget_ = float(cur["spend_per_day"].sum())
        return self

    def expected(self, spend: np.ndarray) -> np.ndarray:
        """Expected outcome per cell at the given spends (cells in ``curves_`` order)."""
        check_is_fitted(self, "curves_")
        s = np.maximum(np.asarray(spend, dtype=float), 0.0)
        return self.curves_["alpha"].to_numpy() * np.power(s, self.elasticity_)

    def allocate(self, budget: float | None = None,
                 min_spend: float | Mapping[Any, float] | None = None,
                 max_spend: float | Mapping[Any, float] | None = None,
                 ) -> tuple[pd.DataFrame, dict[str, float]]:
        """Split ``budget`` (default: the logged average daily spend) across the cells.

        Parameters
        ----------
        budget : float, optional
        min_spend, max_spend : float or mapping, optional
            Per-cell bounds: one number for every cell, or ``{cell key: amount}`` where the key
            is the cell value (one cell column) or a tuple of values; unspecified cells use the
            multipliers of the current spend.

        Returns
        -------
        plan : DataFrame
            Per cell: ``current_spend``, ``spend``, ``current_expected``, ``expected``.
        summary : dict
            ``budget``, ``expected``, ``current_expected``, ``ratio`` (expected / current),
            ``elasticity``.
        """
        check_is_fitted(self, "curves_")
        cur = self.curves_
        b = self.daily_budget_ if budget is None else float(budget)
        if not np.isfinite(b) or b <= 0:
            raise InputError(f"budget must be a positive number; got {budget!r}.")
        s0 = cur["share"].to_numpy() * b
        lo = self._bounds(min_spend, s0 * self.min_multiplier, "min_spend")
        hi = self._bounds(max_spend, s0 * self.max_multiplier, "max_spend")
        if (lo > hi + 1e-9).any():
            i = int(np.flatnonzero(lo > hi + 1e-9)[0])
            raise InputError(f"cell {self._key(i)!r}: min_spend {lo[i]:.4g} exceeds max_spend "
                             f"{hi[i]:.4g}.")
        if lo.sum() > b + 1e-9 or hi.sum() < b - 1e-9:
            raise InputError(
                f"budget {b:.4g} cannot be met within the per-cell bounds (minimums sum to "
                f"{lo.sum():.4g}, maximums to {hi.sum():.4g}); widen the bounds or change the "
                "budget."
            )
        alpha, beta = cur["alpha"].to_numpy(), self.elasticity_
        s = _water_fill(alpha, beta, b, lo, hi)
        start = np.clip(s0, lo, hi)
        if abs(start.sum() - b) <= 1e-6 * max(b, 1.0) and \
                self.expected(start).sum() > self.expected(s).sum():
            s = start  # never report a plan worse than a feasible current mix
        plan = cur[list(self.cell_cols)].copy()
        plan["current_spend"] = s0
        plan["spend"] = s
        plan["current_expected"] = self.expected(s0)
        plan["expected"] = self.expected(s)
        tot, tot0 = float(plan["expected"].sum()), float(plan["current_expected"].sum())
        summary = {"budget": b, "expected": tot, "current_expected": tot0,
                   "ratio": tot / tot0 if tot0 > 0 else np.nan, "elasticity": beta,
                   "objective": self.objective}
        return plan.sort_values("spend", ascending=False).reset_index(drop=True), summary

    def _key(self, i: int) -> Any:
        row = self.curves_.iloc[i]
        vals = tuple(row[c] for c in self.cell_cols)
        return vals[0] if len(vals) == 1 else vals

    def _bounds(self, given: Any, default: np.ndarray, name: str) -> np.ndarray:
        if given is None:
            return default.copy()
        if isinstance(given, Mapping):
            out = default.copy()
            keys = {_norm(self._key(i)): i for i in range(len(self.curves_))}
            for k, v in given.items():
                i = keys.get(_norm(k))
                if i is None:
                    raise InputError(f"{name}: unknown cell {k!r}; cells are values of "
                                     f"{list(self.cell_cols)}.")
                if float(v) < 0:
                    raise InputError(f"{name}: amounts must be >= 0; got {v!r} for {k!r}.")
                out[i] = float(v)
            return out
        v = float(given)
        if v < 0:
            raise InputError(f"{name} must be >= 0; got {given!r}.")
        return np.full(len(default), v)


def _water_fill(alpha: np.ndarray, beta: float, budget: float, lo: np.ndarray,
                hi: np.ndarray) -> np.ndarray:
    """Exact maximiser of ``sum_c alpha_c s_c^beta`` s.t. ``sum s = budget``, ``lo <= s <= hi``.

    KKT: every interior cell has equal marginal return ``alpha_c beta s_c^(beta-1) = lambda``,
    so ``s_c(lambda) = clip((alpha_c beta / lambda)^(1/(1-beta)), lo_c, hi_c)``; ``lambda`` is
    the root of ``sum_c s_c(lambda) = budget`` (scipy.optimize.brentq, on ``log lambda``).  For
    ``beta = 1`` the problem is linear: fill cells in order of ``alpha`` above their minimums.
    """
    if beta >= 1.0 - 1e-9:
        s = lo.copy()
        left = budget - s.sum()
        for i in np.argsort(-alpha, kind="stable"):
            add = min(hi[i] - s[i], left)
            s[i] += add
            left -= add
            if left <= 0:
                break
        return s
    a = np.maximum(alpha, 1e-300)

    def spend(log_lam: float) -> np.ndarray:
        with np.errstate(over="ignore"):
            x = np.exp((np.log(a * beta) - log_lam) / (1.0 - beta))
        return np.clip(x, lo, hi)

    def gap(log_lam: float) -> float:
        return float(spend(log_lam).sum() - budget)

    lo_l, hi_l = -50.0, 50.0
    while gap(lo_l) < 0 and lo_l > -1e4:
        lo_l *= 2
    while gap(hi_l) > 0 and hi_l < 1e4:
        hi_l *= 2
    root = optimize.brentq(gap, lo_l, hi_l, xtol=1e-12, maxiter=500)
    s = spend(root)
    return s * (budget / s.sum()) if s.sum() > 0 else s


def _norm(k: Any) -> tuple:
    t = k if isinstance(k, tuple) else (k,)
    return tuple(str(x) for x in t)
