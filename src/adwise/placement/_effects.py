"""CTR / CVR by placement x hour x weekday with hierarchical beta-binomial shrinkage.

Each cell's rate is a beta-binomial posterior whose prior is centred on its parent cell:

    global  ->  placement  ->  placement x hour  ->  placement x hour x weekday

For a cell ``i`` with ``n_i`` trials (impressions, or clicks for CVR) and ``y_i`` successes, and
a parent posterior mean ``m_i``, the prior is ``Beta(kappa * m_i, kappa * (1 - m_i))`` and the
posterior ``Beta(kappa * m_i + y_i, kappa * (1 - m_i) + n_i - y_i)``.  The prior strength
``kappa`` of each level is estimated by empirical Bayes, maximising the beta-binomial marginal
likelihood of that level's cells

    l(kappa) = sum_i [ B(y_i + kappa m_i, n_i - y_i + kappa (1 - m_i))
                       - B(kappa m_i, kappa (1 - m_i)) ]

(``B`` the log beta function), so levels whose cells differ little are pooled hard and levels
with real differences keep them (Efron & Morris 1975; Gelman et al., *Bayesian Data Analysis*,
ch. 5).  Groups (a campaign, a user segment) get the same chain with the prior of each group
cell set to the overall cell's posterior mean times the group's overall rate ratio, so a small
campaign inherits the overall hour pattern and only departs from it as its data demands.

Intervals are equal-tailed posterior intervals widened to contain the cell's own Wilson
interval: the posterior conditions on the estimated parent means (the usual empirical-Bayes
approximation), which alone can claim far more precision than the cell's counts hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from adwise._exceptions import InputError
from adwise._params import Interval
from adwise.base import AdwiseEstimator, check_is_fitted

__all__ = ["MIN_IMPRESSIONS", "PlacementEffects", "fit_prior_strength", "wilson_interval"]

#: cells with fewer trials are ranked after the others by :meth:`PlacementEffects.recommend`
MIN_IMPRESSIONS = 100

_GLOBAL = "__all__"


def wilson_interval(successes: Any, trials: Any, level: float = 0.95
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion (Wilson 1927); ``[0, 1]`` at 0 trials."""
    y = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    z = stats.norm.ppf(1 - (1 - level) / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = y / n
        den = 1 + z * z / n
        mid = (p + z * z / (2 * n)) / den
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    lo = np.where(n > 0, np.clip(mid - half, 0.0, 1.0), 0.0)
    hi = np.where(n > 0, np.clip(mid + half, 0.0, 1.0), 1.0)
    return lo, hi


def fit_prior_strength(
    successes: np.ndarray,
    trials: np.ndarray,
    prior_mean: np.ndarray,
    bounds: tuple[float, float] = (1.0, 1e7),
) -> float:
    """Empirical-Bayes prior strength ``kappa`` of a beta-binomial level.

    Maximises the marginal likelihood (see the module docstring) over ``log kappa``.

    Parameters
    ----------
    successes, trials : array of shape (n_cells,)
        Counts per cell.
    prior_mean : array of shape (n_cells,)
        Each cell's prior mean (its parent's posterior mean), in (0, 1).
    bounds : (float, float)
        Search range for ``kappa``.

    Returns
    -------
    float
        The maximising ``kappa``.
    """
    y = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    m = np.clip(np.asarray(prior_mean, dtype=float), 1e-9, 1 - 1e-9)
    keep = n > 0
    y, n, m = y[keep], n[keep], m[keep]
    if len(y) < 2:
        return float(bounds[1])

    def neg(log_k: float) -> float:
        k = np.exp(log_k)
        a, b = k * m, k * (1 - m)
        return -float(np.sum(special.betaln(y + a, n - y + b) - special.betaln(a, b)))

    res = optimize.minimize_scalar(
        neg, bounds=(np.log(bounds[0]), np.log(bounds[1])), method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(res.x))


class PlacementEffects(AdwiseEstimator):
    """Hierarchically shrunk CTR and CVR per (placement, hour, weekday) cell, overall and per group.

    Parameters
    ----------
    levels : sequence of str, default ("placement", "hour", "weekday")
        The cell columns, coarse to fine; each level shrinks toward the one before it.
    group_col : str or None, default None
        A column (e.g. ``campaign_id`` or a segment column) to estimate per-group cells for.
    ci : float, default 0.95
        Posterior interval mass.
    min_group_trials : int, default 1
        Groups with fewer impressions than this are left out (they use the overall cells).

    Attributes
    ----------
    cells_ : dict
        ``{"ctr": DataFrame, "cvr": DataFrame or None}``; one row per cell of every level and
        group with columns ``group``, ``level``, the level columns, ``trials``, ``successes``,
        ``alpha``, ``beta``, ``mean``, ``low``, ``high``.
    strengths_ : dict
        ``{"ctr": {level: kappa}, ...}`` estimated prior strengths (``g<level>`` for groups).
    global_rate_ : dict
        The pooled CTR (and CVR) over all rows.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"placement": rng.choice(["top", "side"], 4000),
    ...                    "hour": rng.integers(0, 24, 4000), "weekday": rng.integers(0, 7, 4000)})
    >>> df["clicked"] = rng.random(4000) < np.where(df.placement == "top", 0.08, 0.03)
    >>> m = PlacementEffects().fit(df)
    >>> m.recommend(by=("placement",)).iloc[0]["placement"]
    'top'
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "levels": [tuple, list],
        "group_col": [str, None],
        "ci": [Interval(float, 0, 1, closed="neither")],
        "min_group_trials": [Interval(int, 1, None)],
    }

    def __init__(
        self,
        levels: Sequence[str] = ("placement", "hour", "weekday"),
        group_col: str | None = None,
        ci: float = 0.95,
        min_group_trials: int = 1,
    ) -> None:
        self.levels = levels
        self.group_col = group_col
        self.ci = ci
        self.min_group_trials = min_group_trials

    # ------------------------------------------------------------------ fitting
    def fit(self, X: pd.DataFrame, y: Any = None) -> PlacementEffects:
        """Estimate every cell from event rows.

        Parameters
        ----------
        X : DataFrame
            One row per impression with the ``levels`` columns, ``clicked`` (0/1), optionally
            ``converted`` (0/1; CVR is conversions per click) and ``group_col``.
        """
        self._validate_params()
        levels = list(self.levels)
        if not levels:
            raise InputError("PlacementEffects: 'levels' must name at least one column.")
        need = levels + ["clicked"] + ([self.group_col] if self.group_col else [])
        missing = [c for c in need if c not in X.columns]
        if missing:
            raise InputError(
                f"PlacementEffects: column '{missing[0]}' is missing from the events; have: "
                f"{', '.join(map(str, X.columns))}."
            )
        if len(X) == 0:
            raise InputError("PlacementEffects: no events to fit on.")
        df = pd.DataFrame({c: X[c].to_numpy() for c in levels})
        for c in levels:
            if df[c].isna().any():
                raise InputError(
                    f"PlacementEffects: column '{c}' has {int(df[c].isna().sum())} missing "
                    "values; fill them (e.g. 'unknown') or drop those rows."
                )
        df["_group"] = X[self.group_col].astype(str).to_numpy() if self.group_col else _GLOBAL
        df["impressions"] = 1.0
        df["clicks"] = X["clicked"].astype(float).to_numpy()
        if "converted" in X.columns:
            df["conversions"] = X["converted"].fillna(0).astype(float).to_numpy()
        return self._fit_counts(df, len(df))

    def fit_counts(self, counts: pd.DataFrame, n_rows: int | None = None) -> PlacementEffects:
        """Estimate every cell from counts per cell, as :meth:`fit` does from the rows they
        count (an engine that cannot hold the rows, Spark, counts them where they are).

        Parameters
        ----------
        counts : DataFrame
            One row per finest cell (and group): the ``levels`` columns, ``group_col`` when
            set, ``impressions``, ``clicks`` and optionally ``conversions`` (conversions on
            clicked impressions: CVR is conversions per click).
        n_rows : int, optional
            The number of events counted (default: the impressions).
        """
        self._validate_params()
        levels = list(self.levels)
        need = [*levels, "impressions", "clicks", *([self.group_col] if self.group_col else [])]
        missing = [c for c in need if c not in counts.columns]
        if missing:
            raise InputError(f"PlacementEffects: column '{missing[0]}' is missing from the "
                             "counts.")
        df = counts[levels + [c for c in ("impressions", "clicks", "conversions")
                              if c in counts.columns]].copy()
        df["_group"] = counts[self.group_col].astype(str).to_numpy() if self.group_col \
            else _GLOBAL
        total = float(df["impressions"].sum())
        if total <= 0:
            raise InputError("PlacementEffects: no events to fit on.")
        return self._fit_counts(df, int(total) if n_rows is None else n_rows)

    def _fit_counts(self, df: pd.DataFrame, n_rows: int) -> PlacementEffects:
        """Fit on ``df``: levels, ``_group``, ``impressions``, ``clicks`` (and ``conversions``)
        per row, a row being an event or a cell of events."""
        self.cells_ = {"ctr": None, "cvr": None}
        self.strengths_ = {}
        self.global_rate_ = {}
        self.cells_["ctr"], self.strengths_["ctr"], self.global_rate_["ctr"] = self._fit_rate(
            df.assign(_t=df["impressions"], _s=df["clicks"])
        )
        if "conversions" in df.columns:
            clicked = df[df["clicks"] > 0]
            self.cells_["cvr"], self.strengths_["cvr"], self.global_rate_["cvr"] = self._fit_rate(
                clicked.assign(_t=clicked["clicks"], _s=clicked["conversions"])
            )
        self.n_rows_ = n_rows
        self.groups_ = sorted(set(self.cells_["ctr"]["group"]) - {_GLOBAL})
        return self

    def _fit_rate(self, d: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, float], float]:
        """Cells of one rate from ``d``'s trials ``_t`` and successes ``_s``."""
        levels = list(self.levels)
        total_t, total_s = float(d["_t"].sum()), float(d["_s"].sum())
        p0 = (total_s + 0.5) / (total_t + 1.0)
        strengths: dict[str, float] = {}
        frames = []
        # overall chain
        frames.append(self._row_frame(_GLOBAL, 0, [], pd.DataFrame(
            {"trials": [total_t], "successes": [total_s]}), [p0], np.inf))
        overall_means: dict[int, dict[tuple, float]] = {0: {(): p0}}
        for lv in range(1, len(levels) + 1):
            cols = levels[:lv]
            agg = d.groupby(cols, sort=True, observed=True)[["_t", "_s"]].sum().reset_index()
            keys = list(agg[cols].itertuples(index=False, name=None))
            pm = np.array([overall_means[lv - 1][k[:-1]] for k in keys])
            kappa = fit_prior_strength(agg["_s"].to_numpy(), agg["_t"].to_numpy(), pm)
            strengths[str(lv)] = kappa
            counts = agg.rename(columns={"_t": "trials", "_s": "successes"})
            fr = self._row_frame(_GLOBAL, lv, cols, counts, pm, kappa)
            frames.append(fr)
            overall_means[lv] = dict(zip(keys, fr["mean"].to_numpy(), strict=True))
        # group chains: group cell prior = overall cell mean x group ratio
        if self.group_col:
            gt = d.groupby("_group", sort=True)[["_t", "_s"]].sum()
            gt = gt[gt["_t"] >= self.min_group_trials]
            if len(gt):
                kappa_g = fit_prior_strength(gt["_s"].to_numpy(), gt["_t"].to_numpy(),
                                             np.full(len(gt), p0))
                strengths["g0"] = kappa_g
                a = kappa_g * p0 + gt["_s"].to_numpy()
                b = kappa_g * (1 - p0) + gt["_t"].to_numpy() - gt["_s"].to_numpy()
                g_ratio = dict(zip(gt.index, (a / (a + b)) / p0, strict=True))
                g0 = pd.DataFrame({"trials": gt["_t"].to_numpy(), "successes": gt["_s"].to_numpy()})
                fr = self._row_frame(None, 0, [], g0, np.full(len(gt), p0), kappa_g)
                fr["group"] = list(gt.index)
                frames.append(fr)
                dg = d[d["_group"].isin(gt.index)]
                for lv in range(1, len(levels) + 1):
                    cols = levels[:lv]
                    agg = (dg.groupby(["_group", *cols], sort=True, observed=True)[["_t", "_s"]]
                           .sum().reset_index())
                    keys = list(agg[cols].itertuples(index=False, name=None))
                    pm = np.clip(np.array([overall_means[lv][k] for k in keys])
                                 * agg["_group"].map(g_ratio).to_numpy(), 1e-6, 1 - 1e-6)
                    kappa = fit_prior_strength(agg["_s"].to_numpy(), agg["_t"].to_numpy(), pm)
                    strengths[f"g{lv}"] = kappa
                    counts = agg.rename(columns={"_t": "trials", "_s": "successes"})
                    fr = self._row_frame(None, lv, cols, counts, pm, kappa)
                    fr["group"] = agg["_group"].to_numpy()
                    frames.append(fr)
        cells = pd.concat(frames, ignore_index=True)
        return cells, strengths, p0

    def _row_frame(
        self, group: str | None, lv: int, cols: list[str], counts: pd.DataFrame,
        prior_mean: Sequence[float] | np.ndarray, kappa: float,
    ) -> pd.DataFrame:
        t = counts["trials"].to_numpy(dtype=float)
        s = counts["successes"].to_numpy(dtype=float)
        m = np.asarray(prior_mean, dtype=float)
        if np.isinf(kappa):
            a, b = s + 0.5, t - s + 0.5
        else:
            a, b = kappa * m + s, kappa * (1 - m) + t - s
        tail = (1 - self.ci) / 2
        out = pd.DataFrame(index=range(len(t)))
        out["group"] = group if group is not None else ""
        out["level"] = lv
        for c in self.levels:
            out[c] = counts[c].to_numpy() if c in cols else None
        out["trials"] = t
        out["successes"] = s
        out["alpha"] = a
        out["beta"] = b
        out["mean"] = a / (a + b)
        # The posterior interval conditions on the estimated parent mean and can be far
        # narrower than the cell's own evidence allows (a cell pooled hard into its parent);
        # widen it to contain the cell's Wilson interval, so no interval claims more than
        # the cell's impressions and clicks can show.
        w_lo, w_hi = wilson_interval(s, t, self.ci)
        out["low"] = np.minimum(stats.beta.ppf(tail, a, b), w_lo)
        out["high"] = np.maximum(stats.beta.ppf(1 - tail, a, b), w_hi)
        return out

    # ------------------------------------------------------------------ queries
    def cells(
        self, by: Sequence[str] | None = None, group: str | None = None, rate: str = "ctr"
    ) -> pd.DataFrame:
        """The posterior of every cell at the level ``by`` (a prefix of ``levels``).

        Parameters
        ----------
        by : sequence of str, optional
            Cell columns; defaults to every level.
        group : str, optional
            A group (value of ``group_col``); ``None`` for the overall cells.
        rate : {"ctr", "cvr"}
        """
        check_is_fitted(self, "cells_")
        lv = self._level_of(by)
        if rate not in ("ctr", "cvr") or self.cells_.get(rate) is None:
            raise InputError(
                f"rate must be 'ctr' or 'cvr' (cvr needs a 'converted' column); got {rate!r}."
            )
        tab = self.cells_[rate]
        gkey = _GLOBAL if group is None else str(group)
        if group is not None and gkey not in self.groups_:
            shown = ", ".join(self.groups_[:10]) or "none"
            raise InputError(
                f"unknown {self.group_col or 'group'} {group!r}; known: {shown}"
                + (" ..." if len(self.groups_) > 10 else "") + "."
            )
        out = tab[(tab["group"] == gkey) & (tab["level"] == lv)]
        cols = list(self.levels)[:lv]
        return out[[*cols, "trials", "successes", "mean", "low", "high"]].reset_index(drop=True)

    def _level_of(self, by: Sequence[str] | None) -> int:
        levels = list(self.levels)
        if by is None:
            return len(levels)
        by = list(by)
        if by != levels[: len(by)] or not by:
            raise InputError(
                f"'by' must be a leading part of the levels {levels} (e.g. {levels[:2]}); "
                f"got {by}."
            )
        return len(by)

    def recommend(
        self,
        group: str | None = None,
        by: Sequence[str] | None = None,
        top: int = 10,
        rate: str = "ctr",
        min_trials: float = 0.0,
        min_impressions: float = MIN_IMPRESSIONS,
    ) -> pd.DataFrame:
        """Cells ranked by posterior mean rate, with interval and lift over the current mix.

        The current allocation's rate is the impression-weighted mean of the cells' posterior
        means, ``r_cur = sum_i n_i m_i / sum_i n_i``; a cell's lift is ``m_i / r_cur - 1``.
        Cells with fewer than ``min_impressions`` trials come after every other cell
        (``enough_data`` false): two impressions cannot top a ranking however they went.

        Returns
        -------
        DataFrame
            Columns: the cell columns, ``expected_<rate>``, ``<rate>_low``, ``<rate>_high``,
            ``impressions`` (trials), ``clicks`` (successes; conversions for ``cvr``),
            ``share`` (of current trials), ``lift``, ``enough_data``.
        """
        c = self.cells(by=by, group=group, rate=rate)
        cur = float(np.sum(c["trials"] * c["mean"]) / max(c["trials"].sum(), 1e-12))
        c = c[c["trials"] >= min_trials]
        out = c.rename(columns={"mean": f"expected_{rate}", "low": f"{rate}_low",
                                "high": f"{rate}_high", "trials": "impressions",
                                "successes": "clicks" if rate == "ctr" else "conversions"})
        out["share"] = out["impressions"] / max(float(c["trials"].sum()), 1e-12)
        out["lift"] = out[f"expected_{rate}"] / cur - 1.0
        out["enough_data"] = out["impressions"] >= min_impressions
        out = out.sort_values(["enough_data", f"expected_{rate}"], ascending=False,
                              kind="stable")
        out.attrs["current_rate"] = cur
        return out.head(int(top)).reset_index(drop=True)

    def predict(self, X: pd.DataFrame, rate: str = "ctr") -> np.ndarray:
        """Posterior mean rate for each row, from its finest known cell (group cell first)."""
        check_is_fitted(self, "cells_")
        tab = self.cells_[rate]
        levels = list(self.levels)
        out = np.full(len(X), np.nan)
        groups = (X[self.group_col].astype(str).to_numpy() if self.group_col
                  and self.group_col in X.columns else np.full(len(X), _GLOBAL, dtype=object))
        for gkeys in ((True,), (False,)):
            use_group = gkeys[0]
            for lv in range(len(levels), -1, -1):
                todo = np.isnan(out)
                if not todo.any():
                    break
                sub = tab[tab["level"] == lv]
                sub = sub[sub["group"] != _GLOBAL] if use_group else sub[sub["group"] == _GLOBAL]
                if sub.empty:
                    continue
                cols = levels[:lv]
                keyed = sub.set_index(["group", *cols])["mean"] if cols else \
                    sub.set_index("group")["mean"]
                g = groups if use_group else np.full(len(X), _GLOBAL, dtype=object)
                if cols:
                    idx = pd.MultiIndex.from_arrays([g, *[X[c].to_numpy() for c in cols]])
                else:
                    idx = pd.Index(g)
                vals = keyed.reindex(idx).to_numpy(dtype=float)
                out[todo] = vals[todo]
        return np.where(np.isnan(out), self.global_rate_[rate], out)

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe snapshot of the fitted model."""
        check_is_fitted(self, "cells_")
        return {
            "params": self.get_params(deep=False) | {"levels": list(self.levels)},
            "strengths": self.strengths_,
            "global_rate": self.global_rate_,
            "n_rows": self.n_rows_,
            "groups": self.groups_,
            "cells": {k: (None if v is None else _records(v)) for k, v in self.cells_.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PlacementEffects:
        m = cls(**d["params"])
        m.strengths_ = d["strengths"]
        m.global_rate_ = d["global_rate"]
        m.n_rows_ = d["n_rows"]
        m.groups_ = d["groups"]
        m.cells_ = {
            k: (None if v is None else pd.DataFrame(
                {c: pd.Series(col, dtype=object if c in m.levels or c == "group" else float)
                 for c, col in v.items()}))
            for k, v in d["cells"].items()
        }
        return m


def _records(df: pd.DataFrame) -> dict[str, list]:
    return {c: [(_py(v)) for v in df[c].tolist()] for c in df.columns}


def _py(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v
