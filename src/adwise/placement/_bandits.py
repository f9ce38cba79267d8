"""Online allocation policies (bandits) whose every decision carries its propensity.

* :class:`ThompsonSampling` — Bernoulli arms with ``Beta(alpha, beta)`` posteriors; each round
  draws one success rate per arm and plays the largest (Thompson 1933; Chapelle & Li 2011).
  The propensity of the played arm, ``P(argmax_k theta_k = a)``, has no closed form and is
  estimated by Monte Carlo from ``n_propensity_samples`` posterior draws (the one that made the
  decision among them, so it is never 0).
* :class:`LinUCB` — disjoint linear UCB (Li et al., WWW 2010): per arm ``A_a = l2 I + sum x x^T``,
  ``b_a = sum r x``, score ``x^T A_a^{-1} b_a + alpha sqrt(x^T A_a^{-1} x)``; ``A_a^{-1}`` is kept
  up to date with the Sherman–Morrison formula.  Deterministic, so the propensity is
  ``1 / (number of tied best arms)``, optionally mixed with ``epsilon`` uniform exploration.
* :class:`LinearThompsonSampling` — Thompson sampling on one Bayesian linear model of the
  reward in which arms that share a factor (an ad, a slot) share coefficients (Agrawal & Goyal,
  ICML 2013); propensities by Monte Carlo as above.
* :class:`EpsilonGreedy` and :class:`UniformPolicy` — the usual baselines.

Every policy follows one interface: ``fit()`` (initialise, optionally warm-start from logs),
``decide(context) -> (arm, propensity)``, ``update(arm, reward, context)``, the batched
``decide_many`` / ``update_many``, ``add_arm`` / ``retire_arm`` while running,
``action_probabilities(contexts)`` (for off-policy evaluation) and ``get_state`` /
:func:`policy_from_state` (JSON + arrays, stored in the registry).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from adwise._exceptions import InputError
from adwise._params import Interval, Predicate
from adwise.base import AdwiseEstimator, check_is_fitted

__all__ = [
    "EpsilonGreedy",
    "LinUCB",
    "LinearThompsonSampling",
    "ThompsonSampling",
    "UniformPolicy",
    "policy_from_state",
]


def _arms_ok(v: Any) -> bool:
    return (isinstance(v, (list, tuple)) and len(v) >= 1 and len(set(map(str, v))) == len(v))


_ARMS = [Predicate(_arms_ok, "a non-empty list of distinct arm names")]


class _Policy(AdwiseEstimator):
    """Shared arm bookkeeping; subclasses implement ``_scores`` / ``_probs`` / ``_learn``."""

    kind: ClassVar[str] = ""
    contextual: ClassVar[bool] = False

    # ------------------------------------------------------------------ arms
    def _init_arms(self) -> None:
        self.arms_ = [str(a) for a in self.arms]
        self.active_ = np.ones(len(self.arms_), dtype=bool)
        self._index = {a: i for i, a in enumerate(self.arms_)}
        self._rng = np.random.default_rng(self.random_state)
        self.n_updates_ = 0

    def _arm_index(self, arm: Any) -> int:
        check_is_fitted(self, "arms_")
        i = self._index.get(str(arm))
        if i is None:
            raise InputError(
                f"unknown arm {arm!r}; known arms: {', '.join(self.arms_[:20])}"
                + (" ..." if len(self.arms_) > 20 else "") + "."
            )
        return i

    def add_arm(self, arm: Any) -> None:
        """Start playing a new arm (e.g. a new ad) with the prior's state."""
        check_is_fitted(self, "arms_")
        a = str(arm)
        if a in self._index:
            self.active_[self._index[a]] = True
            return
        self._index[a] = len(self.arms_)
        self.arms_.append(a)
        self.active_ = np.append(self.active_, True)
        self._grow()

    def retire_arm(self, arm: Any) -> None:
        """Stop playing an arm; its history is kept (and restored if it is added again)."""
        i = self._arm_index(arm)
        if self.active_.sum() <= 1 and self.active_[i]:
            raise InputError(f"cannot retire arm {arm!r}: it is the last active arm.")
        self.active_[i] = False

    @property
    def active_arms(self) -> list[str]:
        check_is_fitted(self, "arms_")
        return [a for a, on in zip(self.arms_, self.active_, strict=True) if on]

    # ------------------------------------------------------------------ fitting
    def fit(self, actions: Sequence[Any] | None = None, rewards: Sequence[float] | None = None,
            contexts: np.ndarray | None = None) -> _Policy:
        """Initialise the state over ``arms``; optionally warm-start from logged feedback."""
        self._validate_params()
        self._init_arms()
        self._init_state(contexts)
        if actions is not None:
            if rewards is None or len(rewards) != len(actions):
                raise InputError("fit: 'rewards' must be given with 'actions', same length.")
            self.update_many(actions, rewards, contexts)
        return self

    def _init_state(self, contexts: np.ndarray | None) -> None:
        raise NotImplementedError

    def _grow(self) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ deciding
    def _check_contexts(self, contexts: Any, n: int | None = None) -> np.ndarray | None:
        if not self.contextual:
            return None
        if contexts is None:
            raise InputError(f"{type(self).__name__} needs a context vector for each decision.")
        x = np.atleast_2d(np.asarray(contexts, dtype=float))
        if x.shape[1] != self.n_features_:
            raise InputError(
                f"{type(self).__name__}: context has {x.shape[1]} features; the policy was "
                f"fitted with {self.n_features_}."
            )
        return x

    def action_probabilities(self, contexts: Any = None, n: int = 1) -> np.ndarray:
        """The probability of playing each arm (columns in ``arms_`` order) for each context.

        Non-contextual policies return the same row ``n`` times (or once per context given).
        """
        check_is_fitted(self, "arms_")
        x = self._check_contexts(contexts)
        rows = len(x) if x is not None else (len(np.atleast_2d(contexts)) if contexts is not None
                                             else n)
        return self._probs(x, rows)

    def decide(self, context: Any = None) -> tuple[str, float]:
        """Choose an arm; return ``(arm, propensity)``."""
        acts, props = self.decide_many(n=1, contexts=None if context is None else [context])
        return acts[0], float(props[0])

    def decide_many(self, n: int = 1, contexts: Any = None) -> tuple[list[str], np.ndarray]:
        """Choose ``n`` arms (one per context row when contexts are given) from the current state.

        Returns
        -------
        arms : list of str
        propensities : ndarray of shape (n,)
        """
        check_is_fitted(self, "arms_")
        x = self._check_contexts(contexts)
        if x is not None:
            n = len(x)
        idx, prop = self._choose(x, n)
        return [self.arms_[i] for i in idx], prop

    def _choose(self, x: np.ndarray | None, n: int, propensity: bool = True
                ) -> tuple[np.ndarray, np.ndarray]:
        p = self._probs(x, n)
        u = self._rng.random((n, 1))
        idx = np.minimum((p.cumsum(axis=1) < u).sum(axis=1), p.shape[1] - 1)
        return idx, p[np.arange(n), idx]

    # ------------------------------------------------------------------ learning
    def update(self, arm: Any, reward: float, context: Any = None) -> None:
        """Record the reward (0/1 or any value in [0, 1]) of one played arm."""
        self.update_many([arm], [reward], None if context is None else [context])

    def update_many(self, arms: Sequence[Any], rewards: Sequence[float],
                    contexts: Any = None) -> None:
        check_is_fitted(self, "arms_")
        idx = np.array([self._arm_index(a) for a in arms], dtype=int)
        r = np.asarray(rewards, dtype=float)
        if len(r) != len(idx):
            raise InputError("update: 'rewards' must have one value per arm.")
        if not np.isfinite(r).all():
            raise InputError("update: rewards must be finite numbers.")
        x = self._check_contexts(contexts)
        self._learn(idx, r, x)
        self.n_updates_ += len(idx)

    def _learn(self, idx: np.ndarray, r: np.ndarray, x: np.ndarray | None) -> None:
        raise NotImplementedError

    def _probs(self, x: np.ndarray | None, n: int) -> np.ndarray:
        raise NotImplementedError

    # ------------------------------------------------------------------ state
    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``(json_meta, arrays)``; restore with :func:`policy_from_state`."""
        check_is_fitted(self, "arms_")
        meta = {"kind": self.kind, "params": {k: v for k, v in self.get_params(deep=False).items()
                                               if k != "arms"},
                "arms": list(self.arms_), "n_updates": int(self.n_updates_)}
        arrays = {"active": self.active_.astype(np.int8), **self._arrays()}
        return meta, arrays

    def _arrays(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        raise NotImplementedError


def _masked_argmax(scores: np.ndarray, active: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row-wise argmax over active arms, ties broken at random."""
    s = np.where(active[None, :], scores, -np.inf)
    s = s + rng.random(s.shape) * 1e-12 * (1 + np.abs(np.nan_to_num(s, neginf=0)))
    return s.argmax(axis=1)


class ThompsonSampling(_Policy):
    """Bernoulli Thompson sampling over arms.

    Parameters
    ----------
    arms : list of str
    prior_alpha, prior_beta : float, default 1.0
        The ``Beta`` prior of every arm's success rate.
    n_propensity_samples : int, default 1000
        Posterior draws used to estimate each decision's propensity.
    random_state : int or None

    Examples
    --------
    >>> ts = ThompsonSampling(arms=["a", "b"], random_state=0).fit()
    >>> for _ in range(300):
    ...     arm, p = ts.decide()
    ...     ts.update(arm, 1.0 if arm == "b" else 0.0)
    >>> ts.decide()[0]
    'b'
    """

    kind = "thompson"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "arms": _ARMS,
        "prior_alpha": [Interval(float, 0, None, closed="neither")],
        "prior_beta": [Interval(float, 0, None, closed="neither")],
        "n_propensity_samples": [Interval(int, 1, None)],
        "random_state": [int, None],
    }

    def __init__(self, arms: Sequence[str] = ("default",), prior_alpha: float = 1.0,
                 prior_beta: float = 1.0, n_propensity_samples: int = 1000,
                 random_state: int | None = None) -> None:
        self.arms = arms
        self.prior_alpha = prior_alpha
        self.prior_beta = prior_beta
        self.n_propensity_samples = n_propensity_samples
        self.random_state = random_state

    def _init_state(self, contexts: Any) -> None:
        k = len(self.arms_)
        self.alpha_ = np.full(k, float(self.prior_alpha))
        self.beta_ = np.full(k, float(self.prior_beta))

    def _grow(self) -> None:
        self.alpha_ = np.append(self.alpha_, float(self.prior_alpha))
        self.beta_ = np.append(self.beta_, float(self.prior_beta))

    def _learn(self, idx: np.ndarray, r: np.ndarray, x: Any) -> None:
        if ((r < 0) | (r > 1)).any():
            raise InputError("ThompsonSampling: rewards must be in [0, 1].")
        np.add.at(self.alpha_, idx, r)
        np.add.at(self.beta_, idx, 1.0 - r)

    def _draw(self, n: int) -> np.ndarray:
        return _masked_argmax(self._rng.beta(self.alpha_, self.beta_, size=(n, len(self.arms_))),
                              self.active_, self._rng)

    def _probs(self, x: Any, n: int) -> np.ndarray:
        win = self._draw(self.n_propensity_samples)
        p = np.bincount(win, minlength=len(self.arms_)) / self.n_propensity_samples
        return np.repeat(p[None, :], n, axis=0)

    def _choose(self, x: Any, n: int, propensity: bool = True
                ) -> tuple[np.ndarray, np.ndarray]:
        idx = self._draw(n)
        if not propensity:
            return idx, np.full(n, np.nan)
        s = self.n_propensity_samples
        extra = np.bincount(self._draw(max(s - 1, 0)), minlength=len(self.arms_)) \
            if s > 1 else np.zeros(len(self.arms_))
        # each decision counts itself among the draws, so its propensity is never 0
        return idx, (extra[idx] + 1.0) / s

    @property
    def posterior_mean_(self) -> np.ndarray:
        check_is_fitted(self, "alpha_")
        return self.alpha_ / (self.alpha_ + self.beta_)

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"alpha": self.alpha_, "beta": self.beta_}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.alpha_, self.beta_ = arrays["alpha"].astype(float), arrays["beta"].astype(float)


class EpsilonGreedy(_Policy):
    """Play the arm with the best mean reward; explore uniformly with probability ``epsilon``.

    Untried arms count as best (each is tried once before exploitation settles).
    """

    kind = "epsilon_greedy"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "arms": _ARMS,
        "epsilon": [Interval(float, 0, 1)],
        "random_state": [int, None],
    }

    def __init__(self, arms: Sequence[str] = ("default",), epsilon: float = 0.1,
                 random_state: int | None = None) -> None:
        self.arms = arms
        self.epsilon = epsilon
        self.random_state = random_state

    def _init_state(self, contexts: Any) -> None:
        k = len(self.arms_)
        self.counts_ = np.zeros(k)
        self.sums_ = np.zeros(k)

    def _grow(self) -> None:
        self.counts_ = np.append(self.counts_, 0.0)
        self.sums_ = np.append(self.sums_, 0.0)

    def _learn(self, idx: np.ndarray, r: np.ndarray, x: Any) -> None:
        np.add.at(self.counts_, idx, 1.0)
        np.add.at(self.sums_, idx, r)

    def _probs(self, x: Any, n: int) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(self.counts_ > 0, self.sums_ / np.maximum(self.counts_, 1), np.inf)
        mean = np.where(self.active_, mean, -np.inf)
        best = mean == mean.max()
        k = self.active_.sum()
        p = self.epsilon * self.active_ / k + (1 - self.epsilon) * best / best.sum()
        return np.repeat(p[None, :], n, axis=0)

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"counts": self.counts_, "sums": self.sums_}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.counts_, self.sums_ = arrays["counts"].astype(float), arrays["sums"].astype(float)


class UniformPolicy(_Policy):
    """Every active arm with equal probability (the exploration baseline)."""

    kind = "uniform"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "arms": _ARMS, "random_state": [int, None],
    }

    def __init__(self, arms: Sequence[str] = ("default",), random_state: int | None = None) -> None:
        self.arms = arms
        self.random_state = random_state

    def _init_state(self, contexts: Any) -> None:
        self.counts_ = np.zeros(len(self.arms_))

    def _grow(self) -> None:
        self.counts_ = np.append(self.counts_, 0.0)

    def _learn(self, idx: np.ndarray, r: np.ndarray, x: Any) -> None:
        np.add.at(self.counts_, idx, 1.0)

    def _probs(self, x: Any, n: int) -> np.ndarray:
        p = self.active_ / self.active_.sum()
        return np.repeat(p[None, :].astype(float), n, axis=0)

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"counts": self.counts_}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.counts_ = arrays["counts"].astype(float)


class LinUCB(_Policy):
    """Disjoint LinUCB on context features.

    Parameters
    ----------
    arms : list of str
    n_features : int
        Length of each context vector (include a constant 1 for an intercept).
    alpha : float, default 1.0
        Width of the confidence bonus.
    l2 : float, default 1.0
        Ridge penalty (``A_a`` starts at ``l2 * I``).
    epsilon : float, default 0.0
        Probability of a uniform exploratory choice (gives every arm a positive propensity,
        which off-policy evaluation of later policies needs).
    random_state : int or None
    """

    kind = "linucb"
    contextual = True
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "arms": _ARMS,
        "n_features": [Interval(int, 1, None)],
        "alpha": [Interval(float, 0, None)],
        "l2": [Interval(float, 0, None, closed="neither")],
        "epsilon": [Interval(float, 0, 1)],
        "random_state": [int, None],
    }

    def __init__(self, arms: Sequence[str] = ("default",), n_features: int = 1,
                 alpha: float = 1.0, l2: float = 1.0, epsilon: float = 0.0,
                 random_state: int | None = None) -> None:
        self.arms = arms
        self.n_features = n_features
        self.alpha = alpha
        self.l2 = l2
        self.epsilon = epsilon
        self.random_state = random_state

    def _init_state(self, contexts: Any) -> None:
        d = int(self.n_features)
        self.n_features_ = d
        k = len(self.arms_)
        self.A_inv_ = np.repeat((np.eye(d) / self.l2)[None], k, axis=0)
        self.b_ = np.zeros((k, d))

    def _grow(self) -> None:
        d = self.n_features_
        self.A_inv_ = np.concatenate([self.A_inv_, (np.eye(d) / self.l2)[None]])
        self.b_ = np.concatenate([self.b_, np.zeros((1, d))])

    def _learn(self, idx: np.ndarray, r: np.ndarray, x: np.ndarray) -> None:
        for i, ri, xi in zip(idx, r, x, strict=True):
            ai = self.A_inv_[i]
            v = ai @ xi
            self.A_inv_[i] = ai - np.outer(v, v) / (1.0 + xi @ v)
            self.b_[i] += ri * xi

    def scores(self, contexts: Any) -> np.ndarray:
        """Upper confidence bounds, shape (n, n_arms)."""
        check_is_fitted(self, "A_inv_")
        x = self._check_contexts(contexts)
        theta = np.einsum("kij,kj->ki", self.A_inv_, self.b_)
        mean = x @ theta.T
        var = np.einsum("ni,kij,nj->nk", x, self.A_inv_, x, optimize=True)
        return mean + self.alpha * np.sqrt(np.maximum(var, 0.0))

    def _probs(self, x: np.ndarray, n: int) -> np.ndarray:
        s = np.where(self.active_[None, :], self.scores(x), -np.inf)
        best = np.isclose(s, s.max(axis=1, keepdims=True), rtol=0, atol=1e-12)
        greedy = best / best.sum(axis=1, keepdims=True)
        k = self.active_.sum()
        return self.epsilon * self.active_[None, :] / k + (1 - self.epsilon) * greedy

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"A_inv": self.A_inv_, "b": self.b_}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.A_inv_, self.b_ = arrays["A_inv"].astype(float), arrays["b"].astype(float)
        self.n_features_ = int(self.b_.shape[1])


class LinearThompsonSampling(_Policy):
    """Thompson sampling on a Bayesian linear model of the reward shared by related arms.

    An arm's name may combine factors joined by ``separator`` (``"ad7|top"``: ad ``ad7`` in slot
    ``top``).  The expected reward of arm ``a`` in context ``x`` is
    ``sum_f x^T theta_{f, level_f(a)}`` over the first ``context_factors`` factors plus a
    constant ``beta_{f, level_f(a)}`` for each later one: the ad's appeal depends on who is
    looking, a slot's position effect is the same for everyone (the position-based click model's
    assumption).  So every impression of ``ad7|top`` also teaches the policy about ``ad7`` in
    other slots and about ``top`` for other ads.  With one factor (no separator in the names) the
    arms are disjoint linear models, as in LinUCB.  The reward noise has standard deviation
    ``scale`` and the prior is ``theta ~ N(0, scale^2 / l2 I)``, so the posterior is
    ``N(A^{-1} b, scale^2 A^{-1})`` with ``A = l2 I + sum phi phi^T``, ``b = sum r phi`` over the
    arms' feature vectors ``phi(x, a)`` (Agrawal & Goyal, ICML 2013).  Each decision draws its
    own coefficients and plays the arm with the best drawn reward; the propensity is estimated
    by Monte Carlo as in :class:`ThompsonSampling`.

    Parameters
    ----------
    arms : list of str
        All arms must have the same number of factors.
    n_features : int
        Length of each context vector (include a constant 1 for an intercept).
    separator : str or None, default "|"
        Joins the factors in an arm's name; None treats every name as one factor.
    context_factors : int, default 1
        How many leading factors get context-dependent coefficients; each level of a later
        factor adds one constant.
    scale : float, default 0.5
        Standard deviation of the reward noise; the posterior's spread is proportional to it.
        0.5 is the largest a 0/1 reward can have; ``sqrt(c (1 - c))`` matches clicks at a rate
        ``c``.
    l2 : float, default 1.0
        Prior precision relative to the noise (``A`` starts at ``l2 * I``).
    n_propensity_samples : int, default 1000
        Posterior draws used to estimate each decision's propensity.
    random_state : int or None

    Notes
    -----
    A decision costs a Cholesky factorisation of ``A``, whose side is ``n_features`` times the
    number of levels of the context factors plus the number of other levels: cheap for 10 ads x
    4 slots (``10 n_features + 4``), expensive for hundreds of disjoint arms.

    Examples
    --------
    >>> import numpy as np
    >>> ts = LinearThompsonSampling(arms=["a", "b"], n_features=2, random_state=0).fit()
    >>> rng = np.random.default_rng(0)
    >>> for _ in range(400):
    ...     x = [1.0, float(rng.integers(0, 2))]
    ...     arm, p = ts.decide(x)
    ...     ts.update(arm, float((arm == "b") == (x[1] == 1.0)), x)
    >>> ts.decide([1.0, 1.0])[0], ts.decide([1.0, 0.0])[0]
    ('b', 'a')
    """

    kind = "linear_thompson"
    contextual = True
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "arms": _ARMS,
        "n_features": [Interval(int, 1, None)],
        "separator": [str, None],
        "context_factors": [Interval(int, 0, None)],
        "scale": [Interval(float, 0, None, closed="neither")],
        "l2": [Interval(float, 0, None, closed="neither")],
        "n_propensity_samples": [Interval(int, 1, None)],
        "random_state": [int, None],
    }

    def __init__(self, arms: Sequence[str] = ("default",), n_features: int = 1,
                 separator: str | None = "|", context_factors: int = 1, scale: float = 0.5,
                 l2: float = 1.0, n_propensity_samples: int = 1000,
                 random_state: int | None = None) -> None:
        self.arms = arms
        self.n_features = n_features
        self.separator = separator
        self.context_factors = context_factors
        self.scale = scale
        self.l2 = l2
        self.n_propensity_samples = n_propensity_samples
        self.random_state = random_state

    def _parts(self, arm: str) -> list[str]:
        return arm.split(self.separator) if self.separator else [arm]

    def _check_factors(self, arm: str) -> list[str]:
        parts = self._parts(arm)
        if self._blocks and len(parts) != len(self._blocks[0]):
            raise InputError(
                f"arm {arm!r} has {len(parts)} factor(s) (separator {self.separator!r}); the "
                f"other arms have {len(self._blocks[0])}."
            )
        return parts

    def add_arm(self, arm: Any) -> None:
        """Start playing a new arm; its new factor levels start at the prior."""
        check_is_fitted(self, "A_")
        self._check_factors(str(arm))  # before anything changes
        super().add_arm(arm)

    def _add_blocks(self, arm: str) -> None:
        """Give the arm's new factor levels their coefficient blocks (in order of appearance, so
        that the arms list alone rebuilds the layout)."""
        parts = self._check_factors(arm)
        row = []
        for f, level in enumerate(parts):
            key = (f, level)
            if key not in self._block_of:
                self._block_of[key] = len(self._block_of)
                self._is_ctx.append(f < self.context_factors)
                self._width.append(self.n_features_ if self._is_ctx[-1] else 1)
            row.append(self._block_of[key])
        self._blocks.append(row)

    def _layout(self) -> None:
        self._block_of: dict[tuple[int, str], int] = {}
        self._blocks: list[list[int]] = []
        self._width: list[int] = []
        self._is_ctx: list[bool] = []
        for a in self.arms_:
            self._add_blocks(a)

    @property
    def _offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self._width)[:-1]]).astype(int)

    def _init_state(self, contexts: Any) -> None:
        self.n_features_ = int(self.n_features)
        self._layout()
        dim = int(sum(self._width))
        self.A_ = np.eye(dim) * self.l2
        self.b_ = np.zeros(dim)

    def _grow(self) -> None:
        self._add_blocks(self.arms_[-1])
        extra = int(sum(self._width)) - len(self.b_)
        if extra:
            self.A_ = np.block([[self.A_, np.zeros((len(self.b_), extra))],
                                [np.zeros((extra, len(self.b_))), np.eye(extra) * self.l2]])
            self.b_ = np.append(self.b_, np.zeros(extra))

    def _expand(self, x: np.ndarray) -> np.ndarray:
        """Each context laid out over every block (x in context blocks, 1 in the others), so
        that ``phi(x, a)`` is this row masked to the arm's blocks; shape (n, dim)."""
        return np.hstack([x if ctx else np.ones((len(x), 1)) for ctx in self._is_ctx])

    def _phi(self, idx: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Feature vectors ``phi(x_i, a_i)``, shape (n, dim)."""
        full = self._expand(x)
        mask = np.zeros_like(full, dtype=bool)
        off = self._offsets
        for i, a in enumerate(idx):
            for b in self._blocks[a]:
                mask[i, off[b]:off[b] + self._width[b]] = True
        return np.where(mask, full, 0.0)

    def _learn(self, idx: np.ndarray, r: np.ndarray, x: np.ndarray) -> None:
        phi = self._phi(idx, x)
        self.A_ += phi.T @ phi
        self.b_ += phi.T @ r

    def _wins(self, x: np.ndarray, reps: int) -> np.ndarray:
        """Winning arm of ``reps`` posterior draws per context, shape (reps, n)."""
        from scipy.linalg import cho_factor, cho_solve, solve_triangular

        c = cho_factor(self.A_, lower=True)
        mean = cho_solve(c, self.b_)
        n = len(x)
        blocks = np.asarray(self._blocks)
        full = self._expand(x)
        out = np.empty((reps, n), dtype=int)
        # bound the (draws x contexts x dim) block to about 4 M numbers
        step = max(1, 4_000_000 // (n * len(self.b_)))
        for lo in range(0, reps, step):
            m = min(step, reps - lo)
            z = self._rng.standard_normal((len(self.b_), m * n))
            # A = L L^T, so L^{-T} z has covariance A^{-1}
            theta = mean[:, None] + self.scale * solve_triangular(c[0], z, lower=True, trans="T")
            per_block = np.add.reduceat(theta * np.tile(full, (m, 1)).T, self._offsets, axis=0)
            s = per_block.T[:, blocks].sum(axis=2)
            out[lo:lo + m] = np.where(self.active_, s, -np.inf).argmax(axis=1).reshape(m, n)
        return out

    def _probs(self, x: np.ndarray, n: int) -> np.ndarray:
        k = len(self.arms_)
        win = self._wins(x, self.n_propensity_samples)
        return np.stack([(win == a).mean(axis=0) for a in range(k)], axis=1)

    def _choose(self, x: np.ndarray, n: int, propensity: bool = True
                ) -> tuple[np.ndarray, np.ndarray]:
        idx = self._wins(x, 1)[0]
        if not propensity:
            return idx, np.full(n, np.nan)
        s = self.n_propensity_samples
        if s == 1:
            return idx, np.ones(n)
        win = self._wins(x, s - 1)
        # each decision counts itself among the draws, so its propensity is never 0
        return idx, ((win == idx[None, :]).sum(axis=0) + 1.0) / s

    @property
    def coef_(self) -> dict[str, np.ndarray]:
        """Posterior mean coefficients per factor level, keyed ``"<factor index>:<level>"``."""
        check_is_fitted(self, "A_")
        mean = np.linalg.solve(self.A_, self.b_)
        off = self._offsets
        return {f"{f}:{level}": mean[off[b]:off[b] + self._width[b]]
                for (f, level), b in self._block_of.items()}

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"A": self.A_, "b": self.b_}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.A_, self.b_ = arrays["A"].astype(float), arrays["b"].astype(float)
        self.n_features_ = int(self.n_features)
        self._layout()


_KINDS = {c.kind: c for c in (ThompsonSampling, EpsilonGreedy, UniformPolicy, LinUCB,
                               LinearThompsonSampling)}


def policy_from_state(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> _Policy:
    """Rebuild a policy saved with ``get_state``."""
    kind = meta.get("kind")
    if kind not in _KINDS:
        raise InputError(f"unknown policy kind {kind!r}; known: {', '.join(_KINDS)}.")
    cls = _KINDS[kind]
    pol = cls(arms=list(meta["arms"]), **meta.get("params", {}))
    pol._init_arms()
    pol.arms_ = list(meta["arms"])
    pol._index = {a: i for i, a in enumerate(pol.arms_)}
    pol.active_ = arrays["active"].astype(bool)
    pol._restore(arrays)
    pol.n_updates_ = int(meta.get("n_updates", 0))
    return pol
