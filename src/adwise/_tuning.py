"""Hyper-parameter search inside a user's budget: Optuna's TPE over a space declared as data.

Every capability that offers ``--tune`` declares its search space as a tuple of :class:`Dim`
and an objective that fits a candidate on the *training* data and scores it on an inner
validation built from the training data only (never the test set). :func:`search` runs the
study and returns a :class:`TuningResult` whose trace (trial, params, score, seconds) is
stored in the artifact and printed with ``--json``.

Determinism: the sampler is seeded and the first trial is always the untuned defaults, so a
budget given in trials (``--budget 20t``) repeats exactly under the same ``--seed``; a budget in
seconds runs as many trials as fit, which depends on the machine's speed.

The search never does worse than the defaults on validation: the defaults are trial 0, and
the best trial is kept.

References
----------
Bergstra, Bardenet, Bengio and Kégl (2011), "Algorithms for hyper-parameter optimization"
(the tree-structured Parzen estimator). Akiba et al. (2019), "Optuna: a next-generation
hyperparameter optimization framework".
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from adwise._exceptions import DependencyUnavailableError, ParameterError

__all__ = ["Budget", "Dim", "TuningResult", "search"]

log = logging.getLogger(__name__)

_MAX_SECONDS = 7 * 24 * 3600.0
_MAX_TRIALS = 10_000


@dataclass(frozen=True)
class Budget:
    """How much searching the user allows: seconds of wall time or a number of trials.

    Examples
    --------
    >>> Budget.parse("300")
    Budget(seconds=300.0, trials=None)
    >>> Budget.parse("25t")
    Budget(seconds=None, trials=25)
    """

    seconds: float | None = None
    trials: int | None = None

    @classmethod
    def parse(cls, text: str | float | int | None, default: str = "120") -> Budget:
        """``"300"`` or ``"300s"`` is seconds; ``"25t"`` or ``"25 trials"`` is trials."""
        raw = str(default if text is None else text).strip().lower()
        m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds|t|trials?)?", raw)
        if not m:
            raise ParameterError(
                f"--budget must be SECONDS (e.g. 300) or TRIALS (e.g. 25t); got {text!r}."
            )
        value, unit = float(m.group(1)), m.group(2) or "s"
        if unit.startswith("t"):
            if not (value.is_integer() and 1 <= value <= _MAX_TRIALS):
                raise ParameterError(
                    f"--budget in trials must be a whole number in [1, {_MAX_TRIALS}]; "
                    f"got {text!r}."
                )
            return cls(trials=int(value))
        if not (0 < value <= _MAX_SECONDS):
            raise ParameterError(
                f"--budget in seconds must be in (0, {_MAX_SECONDS:.0f}]; got {text!r}."
            )
        return cls(seconds=value)

    def describe(self) -> str:
        return f"{self.trials} trials" if self.trials else f"{self.seconds:g} s"


@dataclass(frozen=True)
class Dim:
    """One searched hyper-parameter: a numeric range, searched on a log scale when ``log``."""

    name: str
    low: float
    high: float
    log: bool = False
    integer: bool = False


@dataclass
class TuningResult:
    """The outcome of :func:`search`."""

    #: the chosen parameters (those of the best trial)
    params: dict[str, Any]
    #: the best trial's validation score
    score: float
    #: what the score is (e.g. ``"auc"``) and whether larger is better
    metric: str
    maximize: bool
    #: how the inner validation was built (said to the user)
    validation: str
    budget: str
    seed: int
    #: one entry per trial: ``{"trial", "params", "score", "seconds"}`` (a pruned trial:
    #: ``"score": None`` and ``"pruned_at"``, its last reported step)
    trials: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def default_score(self) -> float:
        """The validation score of the untuned defaults (trial 0)."""
        return self.trials[0]["score"] if self.trials else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "score": self.score,
            "default_score": self.default_score,
            "metric": self.metric,
            "validation": self.validation,
            "budget": self.budget,
            "seed": self.seed,
            "n_trials": len(self.trials),
            "n_pruned": sum("pruned_at" in t for t in self.trials),
            "seconds": round(self.seconds, 3),
            "trials": self.trials,
        }


def _optuna() -> Any:
    try:
        import optuna
    except ImportError as exc:  # pragma: no cover - optuna is a core dependency
        raise DependencyUnavailableError(
            "--tune needs Optuna: `pip install optuna` (it is a dependency of adwise)."
        ) from exc
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


#: complete trials before the median rule may prune (the defaults' trial is the first)
PRUNE_STARTUP = 3


def search(
    objective: Callable[[dict[str, Any]], tuple[float, Any]],
    space: Sequence[Dim],
    defaults: Mapping[str, Any],
    budget: Budget,
    *,
    metric: str,
    maximize: bool = True,
    validation: str,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    prune: bool = False,
) -> tuple[TuningResult, Any]:
    """Search ``space`` with seeded TPE, starting from ``defaults``; return the result and the
    best trial's fitted object.

    With ``prune`` the objective is called as ``objective(params, report)`` and calls
    ``report(step, score)`` with its intermediate validation scores (e.g. after each
    cross-fitting fold); a trial whose score at a step is worse than the median of the earlier
    trials' at the same step is stopped there (Optuna's median rule, after
    :data:`PRUNE_STARTUP` complete trials and from step 1 on) and recorded with
    ``"pruned_at": step`` and no score.  The budget's time then goes to more trials.

    Parameters
    ----------
    objective : callable
        ``params -> (score, fitted)``: fits a candidate on the training data and scores it on
        the inner validation.  A non-finite score counts as the worst.
    space : sequence of Dim
    defaults : mapping
        The untuned values of every searched parameter: trial 0.
    budget : Budget
        Wall seconds (a trial is not started when the time left is under the mean trial
        time so far) or a number of trials.
    metric, maximize, validation
        Recorded in the result; ``maximize`` sets the direction.
    seed : int
        Seeds the sampler.
    progress : callable, optional
        ``(done, total)`` after each trial (total is the trial budget, or 0 when timed).

    Examples
    --------
    >>> res, _ = search(lambda p: (-(p["x"] - 2.0) ** 2, None), [Dim("x", -5.0, 5.0)],
    ...                 {"x": 0.0}, Budget(trials=30), metric="neg_sq", validation="none")
    >>> abs(res.params["x"] - 2.0) < 0.5
    True
    """
    optuna = _optuna()
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(8, budget.trials or 8))
    pruner = (optuna.pruners.MedianPruner(n_startup_trials=PRUNE_STARTUP, n_warmup_steps=1)
              if prune else optuna.pruners.NopPruner())
    study = optuna.create_study(direction="maximize" if maximize else "minimize",
                                sampler=sampler, pruner=pruner)
    study.enqueue_trial({d.name: defaults[d.name] for d in space})
    worst = -math.inf if maximize else math.inf
    trials: list[dict[str, Any]] = []
    best_obj: Any = None
    best_score = worst
    best_params: dict[str, Any] | None = None
    t_start = time.perf_counter()
    total = budget.trials or 0
    while True:
        n = len(trials)
        if budget.trials is not None and n >= budget.trials:
            break
        if budget.seconds is not None and n:
            spent = time.perf_counter() - t_start
            if spent + spent / n > budget.seconds:
                break
        trial = study.ask()
        params = {}
        for d in space:
            if d.integer:
                params[d.name] = trial.suggest_int(d.name, int(d.low), int(d.high), log=d.log)
            else:
                params[d.name] = trial.suggest_float(d.name, d.low, d.high, log=d.log)
        t0 = time.perf_counter()
        if prune:
            step: list[int] = []

            def report(at: int, value: float, trial: Any = trial, step: list[int] = step) -> None:
                step.append(at)
                trial.report(value, at)
                if trial.should_prune():
                    raise optuna.TrialPruned()

            try:
                score, fitted = objective(params, report)
            except optuna.TrialPruned:
                secs = time.perf_counter() - t0
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                trials.append({"trial": n, "params": params, "score": None,
                               "seconds": round(secs, 3), "pruned_at": step[-1]})
                log.info("trial %d: pruned after step %d (%.1f s)", n, step[-1], secs)
                if progress:
                    progress(n + 1, total)
                continue
        else:
            score, fitted = objective(params)
        secs = time.perf_counter() - t0
        ok = score is not None and math.isfinite(score)
        study.tell(trial, score if ok else worst)
        trials.append({"trial": n, "params": params, "score": score if ok else None,
                       "seconds": round(secs, 3)})
        better = score > best_score if maximize else score < best_score
        if ok and (best_params is None or better):
            best_score, best_obj = score, fitted
            best_params = params
        log.info("trial %d: %s = %s (%.1f s)", n, metric, score, secs)
        if progress:
            progress(n + 1, total)
    if best_params is None:
        raise ParameterError(
            f"no trial of the search gave a finite {metric}; the data may be too small to "
            "validate on. Train without --tune."
        )
    result = TuningResult(params=best_params, score=best_score, metric=metric,
                          maximize=maximize, validation=validation, budget=budget.describe(),
                          seed=seed, trials=trials, seconds=time.perf_counter() - t_start)
    return result, best_obj
