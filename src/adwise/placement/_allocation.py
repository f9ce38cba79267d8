"""Daypart budget allocation under diminishing returns.

Response curve per cell ``c`` (e.g. placement x hour), fitted from the logs:

    outcome_c(s) = min(alpha_c * s ** beta, slope_c * s),        0 < beta <= 1

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

The power law alone promises absurd returns far below the logged spend (with ``beta = 0.05`` a
billionth of the budget would still buy a third of the clicks), so the curve is capped by the
line ``slope_c * s``: no impression is bought for less than the cell's cheapest observed day or its
average price, whichever is lower (``floor_price_c``, spend per impression), so
``slope_c = rate_c / floor_price_c``.  The cap
only binds below the logged spend (the cheapest day is no dearer than the average one); the
curve stays concave, increasing and exactly 0 at 0.

Allocation maximises ``sum_c outcome_c(s_c)`` subject to ``sum_c s_c = budget`` and
``lo_c <= s_c <= hi_c`` exactly, by water-filling on the KKT conditions: a cell's spend is a
non-increasing function of the Lagrange multiplier (its marginal return), found by bisection
on ``log lambda``; where a cell's marginal return is flat (the linear part) the budget left at
the multiplier is shared by interpolating between the plans just above and below it.  Spends
are handled as shares of the budget, so tiny budgets do not underflow.  The current allocation
(the logged spend shares scaled to the budget) is the comparison, and the result is never worse
than it.  By default ``hi_c = max_multiplier x`` current spend: the curves are only trusted
near the spend levels they were fitted on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

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
        impression), ``impressions_per_day``, ``cpc`` (spend per expected outcome), ``alpha``,
        ``floor_price`` (lowest daily spend per impression: the curve's linear cap).
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
        return self._fit_daily(daily)

    def fit_daily(self, daily: pd.DataFrame) -> DaypartAllocator:
        """Fit from sums per cell and day, as :meth:`fit` does from the rows they sum (an
        engine that cannot hold the rows, Spark, sums them where they are).

        Parameters
        ----------
        daily : DataFrame
            One row per cell (``cell_cols``) and ``day`` with any impressions: ``cost``,
            ``impressions``, ``clicks`` and, for the conversions objective, ``conversions``.
        """
        self._validate_params()
        cells = list(self.cell_cols)
        target = "clicks" if self.objective == "clicks" else "conversions"
        need = [*cells, "day", "cost", "impressions", target]
        missing = [c for c in need if c not in daily.columns]
        if missing:
            raise InputError(f"DaypartAllocator: column '{missing[0]}' is missing from the "
                             "daily sums.")
        if float(daily["cost"].sum()) <= 0:
            raise InputError("DaypartAllocator: column 'cost' sums to 0; nothing was spent.")
        return self._fit_daily(daily[[*cells, "day", "cost"]].assign(
            y=daily[target].to_numpy(dtype=float), n=daily["impressions"].to_numpy(dtype=float)))

    def _fit_daily(self, daily: pd.DataFrame) -> DaypartAllocator:
        """Fit on ``daily``: ``cost``, outcomes ``y`` and impressions ``n`` per cell and day."""
        cells = list(self.cell_cols)
        self.n_days_ = int(daily["day"].nunique())
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
        per = daily.groupby(cells, observed=True)[["cost", "n", "y"]].sum().reset_index()
        effects = PlacementEffects(levels=tuple(cells)).fit_counts(
            per[cells].assign(impressions=per["n"], clicks=per["y"]))
        rate = effects.cells(by=cells)
        per = per.drop(columns="y")
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
        priced = daily[(daily["cost"] > 0) & (daily["n"] > 0)]
        floor = (priced["cost"] / priced["n"]).groupby(
            [priced[c] for c in cells], observed=True).min().rename("floor_price").reset_index()
        cur = cur.merge(floor, on=cells, how="left")
        # Days without spend (CPC billing: no click, no cost) make priced days look dear; the
        # average price keeps the cap from binding at the logged spend.
        avg_price = cur["cost"] / np.maximum(cur["n"], 1.0)
        cur["floor_price"] = np.fmin(cur["floor_price"], avg_price)
        self.curves_ = cur[[*cells, "spend_per_day", "share", "impressions_per_day", "rate",
                            "cpc", "alpha", "floor_price"]].reset_index(drop=True)
        self.daily_budget_ = float(cur["spend_per_day"].sum())
        return self

    def expected(self, spend: np.ndarray) -> np.ndarray:
        """Expected outcome per cell at the given spends (cells in ``curves_`` order)."""
        check_is_fitted(self, "curves_")
        s = np.maximum(np.asarray(spend, dtype=float), 0.0)
        with np.errstate(over="ignore", invalid="ignore"):
            power = self.curves_["alpha"].to_numpy() * np.power(s, self.elasticity_)
            return np.minimum(power, self._slopes() * s)

    def _slopes(self) -> np.ndarray:
        """Outcome per unit of spend on each curve's linear part (``rate / floor_price``)."""
        cur = self.curves_
        rate = cur["rate"].to_numpy(dtype=float)
        if "floor_price" in cur.columns:  # models saved before the cap lack it: average price
            price = cur["floor_price"].to_numpy(dtype=float)
        else:
            price = np.full(len(cur), np.nan)
        avg = cur["spend_per_day"].to_numpy(dtype=float) / \
            np.maximum(cur["impressions_per_day"].to_numpy(dtype=float), 1e-300)
        price = np.where(np.isfinite(price) & (price > 0), price, avg)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(price > 0, rate / price, np.inf)
        return np.nan_to_num(out, nan=0.0, posinf=np.inf)

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
        share = cur["share"].to_numpy(dtype=float)
        s0 = share * b
        # Bounds as shares of the budget (x = s / b): a tiny budget must not underflow to 0.
        lo = self._bounds(min_spend, share * self.min_multiplier, "min_spend", b)
        hi = np.minimum(self._bounds(max_spend, share * self.max_multiplier, "max_spend", b),
                        1.0)  # no cell can take more than the whole budget
        if (lo > hi * (1 + 1e-9) + 1e-12).any():
            i = int(np.flatnonzero(lo > hi * (1 + 1e-9) + 1e-12)[0])
            raise InputError(f"cell {self._key(i)!r}: min_spend {lo[i] * b:.4g} exceeds "
                             f"max_spend {hi[i] * b:.4g}.")
        if lo.sum() > 1 + 1e-9 or hi.sum() < 1 - 1e-9:
            raise InputError(
                f"budget {b:.4g} cannot be met within the per-cell bounds (minimums sum to "
                f"{lo.sum() * b:.4g}, maximums to {hi.sum() * b:.4g}); widen the bounds or "
                "change the budget."
            )
        beta = self.elasticity_
        x = _water_fill(cur["alpha"].to_numpy(dtype=float), self._slopes(), beta, b, lo, hi)
        s = x * b
        start = np.clip(share, lo, hi)
        if abs(start.sum() - 1.0) <= 1e-6 and \
                self.expected(start * b).sum() > self.expected(s).sum():
            s = start * b  # never report a plan worse than a feasible current mix
        plan = cur[list(self.cell_cols)].copy()
        plan["current_spend"] = s0
        plan["spend"] = s
        plan["current_expected"] = self.expected(s0)
        plan["expected"] = self.expected(s)
        tot, tot0 = float(plan["expected"].sum()), float(plan["current_expected"].sum())
        summary = {"budget": b, "expected": tot, "current_expected": tot0,
                   "ratio": tot / tot0 if tot0 > 0 else 1.0, "elasticity": beta,
                   "objective": self.objective}
        return plan.sort_values("spend", ascending=False).reset_index(drop=True), summary

    def _key(self, i: int) -> Any:
        row = self.curves_.iloc[i]
        vals = tuple(row[c] for c in self.cell_cols)
        return vals[0] if len(vals) == 1 else vals

    def _bounds(self, given: Any, default: np.ndarray, name: str, budget: float) -> np.ndarray:
        """Per-cell bounds as shares of ``budget``: ``default`` is already one, ``given`` is in
        money."""
        if given is None:
            return default.copy()
        with np.errstate(over="ignore"):
            if isinstance(given, Mapping):
                out = default.copy()
                keys = {_norm(self._key(i)): i for i in range(len(self.curves_))}
                for k, v in given.items():
                    i = keys.get(_norm(k))
                    if i is None:
                        raise InputError(f"{name}: unknown cell {k!r}; cells are values of "
                                         f"{list(self.cell_cols)}.")
                    if not float(v) >= 0:
                        raise InputError(f"{name}: amounts must be >= 0; got {v!r} for {k!r}.")
                    out[i] = float(v) / budget
                return out
            v = float(given)
            if not v >= 0:
                raise InputError(f"{name} must be >= 0; got {given!r}.")
            return np.full(len(default), v / budget)


def _water_fill(alpha: np.ndarray, slope: np.ndarray, beta: float, budget: float,
                lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Shares ``x`` (``s = x * budget``) maximising ``sum_c min(alpha_c s_c^beta, slope_c s_c)``
    s.t. ``sum x = 1``, ``lo <= x <= hi``.

    A cell's marginal return is ``slope_c`` up to the kink ``k_c`` where the two parts meet and
    ``alpha_c beta s^(beta-1)`` (``<= beta slope_c``) beyond it, so at multiplier ``lambda`` it
    spends nothing when ``lambda > slope_c``, ``k_c`` when ``beta slope_c <= lambda <=
    slope_c`` and ``(alpha_c beta / lambda)^(1/(1-beta))`` below.  The total is non-increasing
    in ``lambda`` with jumps where a linear part switches on; bisection on ``log lambda``
    brackets the budget and the plans at the two ends are interpolated (the cells that differ
    have equal marginal returns there).  Everything is in logs so that extreme budgets neither
    underflow nor overflow.
    """
    with np.errstate(divide="ignore"):
        la = np.log(np.maximum(alpha, 1e-300))
        lm = np.log(np.clip(slope, 1e-300, 1e300))
    lb = float(np.log(budget))
    linear = beta >= 1.0 - 1e-9
    if linear:
        lm = np.minimum(la, lm)  # the curve is the lower of two lines
    else:
        lk = (la - lm) / (1.0 - beta)  # log of the kink's spend
        lpow = np.log(beta) + la  # log(alpha beta)

    def shares(log_lam: float) -> np.ndarray:
        if linear:
            x = np.where(log_lam < lm, np.inf, 0.0)
        else:
            with np.errstate(over="ignore"):
                power = np.exp((lpow - log_lam) / (1.0 - beta) - lb)
                kink = np.exp(lk - lb)
            x = np.where(log_lam > lm, 0.0,
                         np.where(log_lam >= np.log(beta) + lm, kink, np.maximum(power, kink)))
        return np.clip(x, lo, hi)

    # Above every slope nothing beyond the minimums is bought; go down until the budget is.
    top = float(lm.max()) + 1.0
    low = float(lm.min()) - 1.0
    for _ in range(200):
        if shares(low).sum() >= 1.0:
            break
        low -= max(1.0, abs(low))
    for _ in range(200):
        if top - low <= 1e-12 * max(1.0, abs(top)):
            break
        mid = 0.5 * (top + low)
        if shares(mid).sum() >= 1.0:
            low = mid
        else:
            top = mid
    more, less = shares(low), shares(top)
    gap = more.sum() - less.sum()
    t = (1.0 - less.sum()) / gap if gap > 0 else 0.0
    x = less + float(np.clip(t, 0.0, 1.0)) * (more - less)
    return x / x.sum() if x.sum() > 0 else x


def _norm(k: Any) -> tuple:
    t = k if isinstance(k, tuple) else (k,)
    return tuple(str(x) for x in t)
