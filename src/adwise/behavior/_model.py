"""CTRModel: a calibrated, explained click (or conversion) probability model.

The default is a LightGBM GBDT (Ke et al., 2017) on categorical codes, count encoding and
out-of-fold target encoding of every categorical column (see :mod:`adwise.behavior._encoding`),
with early stopping.  The codes are split on as ordered numbers by default, not with LightGBM's
native categorical splits (``native_categorical``): a native split searches subsets of up to
``max_cat_threshold`` values ordered by their gradient statistics, which on sparse click labels
fits noise.  Measured (``benchmarks/results/ctr.md``): without native splits the test AUC rose
from 0.6845 to 0.7014 on the 1 M-event synthetic world (time split), from 0.7436 to 0.7458 on
Criteo and from 0.7168 to 0.7191 on Avazu (5 seeds each); peer LightGBM with its defaults
dropped from 0.6925 to 0.6763 on the synthetic world when given native splits.  Baselines:
``tree`` (a CART decision tree), ``forest`` (a random forest), ``logreg`` (hashed one-hot + L2
logistic regression); ``deep`` (DeepFM, Guo et al., 2017) needs the ``adwise[deep]`` extra
(PyTorch).

Training is cross-fitted: the rows are split into ``n_folds`` folds; for each fold a model is
trained on the other folds with early stopping on that fold, and predicts it.  The out-of-fold
predictions fit the calibrator (:class:`~adwise.behavior._calibration.Calibrator`), and new rows
get the calibrated mean raw score (log-odds) of the fold models (bagging).  With
``n_folds=1`` one validation split (the last rows when ``time_ordered``) serves early stopping
and calibration.

With ``blend="auto"`` the GBDT gets a logistic side model on the same encoded rows (hashed
one-hot codes, binned numerics and history features; :mod:`adwise.behavior._blend`), fitted on
the same folds; the two are averaged in log-odds with the weight that minimises the
out-of-fold log loss, and only when that lowers the cross-validated, calibrated log loss of
the training rows' out-of-fold predictions (``blend_`` records the decision).

References
----------
Ke, G. et al. (2017). LightGBM: A highly efficient gradient boosting decision tree. NeurIPS.
Guo, H. et al. (2017). DeepFM: a factorization-machine based neural network for CTR prediction.
IJCAI.
Lundberg, S. et al. (2020). From local explanations to global understanding with explainable AI
for trees. Nature Machine Intelligence (TreeSHAP, LightGBM's ``pred_contrib``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from adwise._exceptions import DependencyUnavailableError, InputError
from adwise._params import Interval, Options, Predicate
from adwise.base import AdwiseEstimator, check_is_fitted
from adwise.behavior._blend import LinearPart, choose_blend
from adwise.behavior._calibration import Calibrator, downsampling_correction
from adwise.behavior._encoding import ColumnPlan, EncodedRows, TabularEncoder, detect_columns
from adwise.metrics import roc_auc

__all__ = ["MODELS", "CTRModel", "check_binary_target", "deep_available"]

log = logging.getLogger(__name__)

MODELS = ("gbdt", "forest", "tree", "logreg", "deep")
_EPS = 1e-7
_PARALLEL_ROWS = 10_000  # fewer rows are scored on one thread
_BATCH_ROWS = 65_536  # rows encoded at a time into LightGBM's Dataset (~35 MB of float64)


def deep_available() -> bool:
    """Whether PyTorch (the ``adwise[deep]`` extra) can be imported."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def check_binary_target(y: Any, name: str = "target") -> np.ndarray:
    """``y`` as a 0/1 int array, or :class:`InputError` naming the offending values."""
    s = pd.Series(np.asarray(y).ravel() if not isinstance(y, pd.Series) else y)
    if len(s) == 0:
        raise InputError(f"{name}: no rows; give at least a few hundred labelled rows.")
    if s.isna().any():
        bad = np.flatnonzero(s.isna().to_numpy())[:5].tolist()
        raise InputError(
            f"{name}: has missing values (rows {bad}); a click/conversion target must be 0 or 1 "
            "on every row."
        )
    if pd.api.types.is_bool_dtype(s):
        s = s.astype(int)
    num = pd.to_numeric(s, errors="coerce")
    bad = num.isna() | ~num.isin([0, 1])
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())[:5]
        vals = ", ".join(repr(_py(s.iloc[i])) for i in rows)
        raise InputError(
            f"{name}: must be binary (0/1) for classification; found {vals} (rows "
            f"{rows.tolist()}). For a numeric target (revenue, rating) use a regression task."
        )
    out = num.to_numpy(dtype=np.int64)
    if out.min() == out.max():
        raise InputError(
            f"{name}: every row is {int(out[0])}; a click model needs both clicks and non-clicks."
        )
    return out


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


class CTRModel(AdwiseEstimator):
    """Calibrated probability of a binary event (click, conversion) from tabular features.

    Parameters
    ----------
    model : {"gbdt", "forest", "tree", "logreg", "deep"}, default "gbdt"
        The learner.
    categorical, numeric : list of str or None
        Override the automatic column typing (:func:`~adwise.behavior._encoding.detect_columns`).
    calibration : {"auto", "isotonic", "platt", "none"}, default "auto"
        ``auto`` picks isotonic or Platt by held-out log loss.
    n_folds : int or "auto", default "auto"
        Cross-fitting folds; ``auto`` is 5 up to 50,000 rows, else 1 (one validation split).
    validation_fraction : float, default 0.1
        The validation share when ``n_folds == 1``.
    time_ordered : bool, default False
        Rows are in time order: the validation split is the last rows, not a random sample.
    n_estimators : int, default 2000
        Most boosting rounds (early stopping usually ends sooner).
    learning_rate : float or "auto", default "auto"
        ``auto``: 0.03 with cross-fitting (small data), 0.1 with one validation split.
    num_leaves : int, default 15
    min_child_samples : int, default 40
    reg_lambda : float, default 5.0
    colsample : float, default 0.5
        Share of features per tree (LightGBM ``feature_fraction``; forest ``max_features``).
    native_categorical : bool, default False
        Let ``gbdt`` split categorical codes with LightGBM's native categorical splits instead
        of as ordered numbers (the count and target encodings are used either way).  Off by
        default: it lowered test AUC on every dataset measured (see the module docstring).
    early_stopping_rounds : int or "auto", default "auto"
        Rounds without a better validation log loss before boosting stops.  ``auto`` is
        ``round(3 / learning_rate)``: 100 at 0.03 (cross-fitting), 30 at 0.1 (one split), so
        that the patience covers the same amount of learning whatever the step size.
    min_category_count : int, default 5
        Category values seen fewer times share one "rare" code (unseen values join it).
    te_smoothing : float, default 20.0
        Prior weight of the smoothed target encoding.
    neg_sample_rate : float, default 1.0
        The rate ``w`` at which negatives were kept in the training data; predictions are
        corrected with :math:`p / (p + (1-p)/w)`.
    logreg_C : float, default 0.05
        Inverse L2 strength of ``logreg`` and of ``gbdt``'s logistic side model.
    integer_values : bool, default True
        ``gbdt``, ``forest`` and ``tree``: a categorical column of integers (codes, but also
        ages, days, counts) also enters as its value, so splits can follow its order as well
        as its codes and target encoding.
    blend : {"auto", "off"}, default "auto"
        ``gbdt`` only: fit the logistic side model and blend it in when that lowers the
        validation log loss (``blend_``); ``off`` skips it.
    min_samples_leaf : int or None, default None
        Leaf size of ``tree`` (default ``max(50, n/200)``) and ``forest`` (default 5).
    forest_trees : int, default 300
    epochs : int, default 10
        Most epochs of ``deep`` (early stopping on the validation fold).
    n_jobs : int, default 1
        Threads (LightGBM ``num_threads``, forest ``n_jobs``, torch threads).
    random_state : int, default 0

    Attributes
    ----------
    columns_ : ColumnPlan
        Categorical / numeric / dropped columns (with the reason for each drop).
    encoder_ : TabularEncoder
    models_ : list
        One fitted learner per fold.
    calibrator_ : Calibrator
    oof_raw_ : ndarray
        Out-of-fold raw probabilities of the training rows (before calibration).
    best_iterations_ : list of int
        Boosting rounds kept per fold (``gbdt``).
    blend_ : dict or None
        ``gbdt`` with ``blend="auto"``: ``used``, ``weight`` (of the logistic model in
        log-odds), ``validation_logloss`` (``gbdt``, ``blend``) and ``validation``; else None.
    linear_models_ : list of LinearPart
        The logistic side model per fold (empty unless the blend is used).
    feature_importance_ : dict
        Input column -> share of total split gain (``gbdt``), summing to 1.
    fit_seconds_ : float

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"slot": rng.choice(["top", "side"], 2000), "x": rng.normal(size=2000)})
    >>> y = (rng.random(2000) < np.where(X.slot == "top", 0.3, 0.1)).astype(int)
    >>> m = CTRModel(n_estimators=50).fit(X, y)
    >>> m.predict_proba(X.head(2)).shape
    (2, 2)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "model": [Options(MODELS)],
        "categorical": [None, Predicate(lambda v: isinstance(v, list | tuple), "a list")],
        "numeric": [None, Predicate(lambda v: isinstance(v, list | tuple), "a list")],
        "calibration": [Options(("auto", "isotonic", "platt", "none"))],
        "n_folds": [Options(("auto",)), Interval(int, 1, 20)],
        "validation_fraction": [Interval(float, 0.01, 0.5)],
        "time_ordered": [bool],
        "n_estimators": [Interval(int, 1, None)],
        "learning_rate": [Options(("auto",)), Interval(float, 0.0, 1.0, closed="right")],
        "num_leaves": [Interval(int, 2, 131072)],
        "min_child_samples": [Interval(int, 1, None)],
        "reg_lambda": [Interval(float, 0.0, None)],
        "colsample": [Interval(float, 0.0, 1.0, closed="right")],
        "native_categorical": [bool],
        "early_stopping_rounds": [Options(("auto",)), Interval(int, 1, None)],
        "min_category_count": [Interval(int, 1, None)],
        "te_smoothing": [Interval(float, 0.0, None)],
        "neg_sample_rate": [Interval(float, 0.0, 1.0, closed="right")],
        "logreg_C": [Interval(float, 0.0, None, closed="neither")],
        "blend": [Options(("auto", "off"))],
        "integer_values": [bool],
        "min_samples_leaf": [None, Interval(int, 1, None)],
        "forest_trees": [Interval(int, 1, None)],
        "epochs": [Interval(int, 1, None)],
        "n_jobs": [Interval(int, 1, None)],
        "random_state": [Interval(int, 0, None)],
    }

    def __init__(
        self,
        model: str = "gbdt",
        categorical: Sequence[str] | None = None,
        numeric: Sequence[str] | None = None,
        calibration: str = "auto",
        n_folds: int | str = "auto",
        validation_fraction: float = 0.1,
        time_ordered: bool = False,
        n_estimators: int = 2000,
        learning_rate: float | str = "auto",
        num_leaves: int = 15,
        min_child_samples: int = 40,
        reg_lambda: float = 5.0,
        colsample: float = 0.5,
        native_categorical: bool = False,
        early_stopping_rounds: int | str = "auto",
        min_category_count: int = 5,
        te_smoothing: float = 20.0,
        neg_sample_rate: float = 1.0,
        logreg_C: float = 0.05,
        blend: str = "auto",
        integer_values: bool = True,
        min_samples_leaf: int | None = None,
        forest_trees: int = 300,
        epochs: int = 10,
        n_jobs: int = 1,
        random_state: int = 0,
    ) -> None:
        self.model = model
        self.categorical = categorical
        self.numeric = numeric
        self.calibration = calibration
        self.n_folds = n_folds
        self.validation_fraction = validation_fraction
        self.time_ordered = time_ordered
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.colsample = colsample
        self.native_categorical = native_categorical
        self.early_stopping_rounds = early_stopping_rounds
        self.min_category_count = min_category_count
        self.te_smoothing = te_smoothing
        self.neg_sample_rate = neg_sample_rate
        self.logreg_C = logreg_C
        self.blend = blend
        self.integer_values = integer_values
        self.min_samples_leaf = min_samples_leaf
        self.forest_trees = forest_trees
        self.epochs = epochs
        self.n_jobs = n_jobs
        self.random_state = random_state

    # ================================================================== fit
    def fit(self, X: pd.DataFrame, y: Any, *,
            on_fold: Callable[[int, float], None] | None = None) -> CTRModel:
        """Fit on a DataFrame of features and a 0/1 target; returns ``self``.

        ``on_fold(i, auc)``, if given, is called after each cross-fitting fold ``i`` (with more
        than one fold) with the AUC of the out-of-fold scores so far; it may raise to stop the
        fit (the tuner's pruning does).
        """
        self._validate_params()
        if self.model == "deep" and not deep_available():
            raise DependencyUnavailableError(
                "model 'deep' needs PyTorch: install the extra with `pip install adwise[deep]`, "
                "or use --model gbdt (the default)."
            )
        if not isinstance(X, pd.DataFrame):
            raise InputError("CTRModel.fit expects a pandas DataFrame of features.")
        if len(X) == 0:
            raise InputError("no training rows; give at least a few hundred labelled rows.")
        yv = check_binary_target(y)
        if len(yv) != len(X):
            raise InputError(f"X has {len(X)} rows but y has {len(yv)}; give one label per row.")
        t0 = time.perf_counter()
        X = X.reset_index(drop=True)
        plan = detect_columns(X, self.categorical, self.numeric)
        if not plan.categorical and not plan.numeric:
            raise InputError(
                "no usable feature columns: "
                + "; ".join(f"{c}: {why}" for c, why in plan.dropped.items())
                + ". Give at least one column with more than one distinct value."
            )
        self.columns_ = plan
        n = len(X)
        k = (5 if n <= 50_000 else 1) if self.n_folds == "auto" else int(self.n_folds)
        least = int(np.bincount(yv.astype(int), minlength=2).min())
        if k > 1 and least < k:
            if self.n_folds != "auto" or least < 2:
                raise InputError(
                    f"the training data has {least} row(s) of its rarer label ({n} rows in "
                    f"all): too few for {k}-fold validation. Give at least {max(k, 2)} rows "
                    "of each label (a few hundred rows in all for a useful model)."
                )
            k = least  # a small file: as many folds as the rarer label allows
        folds = self._folds(n, yv, k)
        self._lr = (0.03 if k > 1 else 0.1) if self.learning_rate == "auto" else self.learning_rate
        linear = self.model in ("logreg", "deep")
        self.encoder_ = TabularEncoder(
            plan.categorical, plan.numeric, min_count=self.min_category_count,
            smoothing=self.te_smoothing, te_folds=5, random_state=self.random_state,
            target_encoding=not linear, count_encoding=not linear,
            integer_values=self.integer_values and not linear,
        )
        enc = self.encoder_.fit_encode(X, yv)
        self.feature_names_ = list(enc.names)
        # gbdt on one split (large data) reads the encoded rows a batch at a time: the whole
        # float64 matrix is 8 bytes per row and feature, the larger part of peak memory
        F: pd.DataFrame | EncodedRows = enc if self.model == "gbdt" and k == 1 else enc.frame()
        del enc
        self.n_features_in_ = X.shape[1]
        self.models_: list[Any] = []
        self.best_iterations_: list[int] = []
        oof = np.full(n, np.nan)
        for i, (tr, va) in enumerate(folds):
            m = self._fit_one(F, X, yv, tr, va, i)
            self.models_.append(m)
            oof[va] = self._raw_one(m, F.frame(va) if isinstance(F, EncodedRows) else F.iloc[va])
            if on_fold is not None and k > 1:
                done = ~np.isnan(oof)
                if len(np.unique(yv[done])) == 2:
                    on_fold(i, roc_auc(yv[done], oof[done]))
        have = ~np.isnan(oof)
        self.blend_: dict[str, Any] | None = None
        self.linear_models_: list[LinearPart] = []
        if self.model == "gbdt" and self.blend == "auto":
            oof = self._fit_blend(F, yv, folds, oof, have)
        self.oof_raw_ = oof
        self.calibrator_ = Calibrator(self.calibration).fit(
            oof[have], yv[have], seed=self.random_state
        )
        if self.model == "gbdt":
            self.feature_importance_ = self._gain_importance()
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _fit_blend(self, F: pd.DataFrame | EncodedRows, y: np.ndarray,
                   folds: list[tuple[np.ndarray, np.ndarray]], oof: np.ndarray,
                   have: np.ndarray) -> np.ndarray:
        """Fit the logistic side model on the GBDT's folds, decide the blend (``blend_``) and
        return the out-of-fold raw probabilities of what is used."""
        cols = list(self.encoder_.categorical) + list(self.encoder_.numeric)
        lin = np.full(len(y), np.nan)
        parts = []
        for i, (tr, va) in enumerate(folds):
            part = LinearPart.fit(self.encoder_, _columns(F, tr, cols), y[tr],
                                  self.logreg_C, self.random_state + i)
            parts.append(part)
            lin[va] = part.raw(_columns(F, va, cols))
        zg = _logit(oof[have])
        self.blend_ = choose_blend(zg, lin[have], y[have], self.calibration, self.random_state)
        self.blend_["logreg_C"] = self.logreg_C
        if not self.blend_["used"]:
            return oof
        self.linear_models_ = parts
        w = self.blend_["weight"]
        out = oof.copy()
        out[have] = _sigmoid((1 - w) * zg + w * lin[have])
        return out

    def _folds(self, n: int, y: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        rng = np.random.default_rng(self.random_state)
        if k == 1:
            n_val = max(1, round(n * self.validation_fraction))
            if self.time_ordered:
                idx = np.arange(n)
            else:
                idx = rng.permutation(n)
            return [(np.sort(idx[: n - n_val]), np.sort(idx[n - n_val:]))]
        from sklearn.model_selection import StratifiedKFold

        skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=self.random_state)
        return list(skf.split(np.zeros(n), y))

    # ------------------------------------------------------------------ learners
    def _fit_one(self, F: pd.DataFrame | EncodedRows, X: pd.DataFrame, y: np.ndarray,
                 tr: np.ndarray, va: np.ndarray, i: int) -> Any:
        seed = self.random_state + i
        if self.model == "gbdt":
            return self._fit_lgbm(F, y, tr, va, seed)
        if self.model in ("tree", "forest"):
            from sklearn.ensemble import RandomForestClassifier
            from sklearn.tree import DecisionTreeClassifier

            Z = _dense(F.iloc[tr])
            if self.model == "tree":
                leaf = self.min_samples_leaf or max(50, len(tr) // 200)
                est = DecisionTreeClassifier(min_samples_leaf=leaf, random_state=seed)
            else:
                est = RandomForestClassifier(
                    n_estimators=self.forest_trees, min_samples_leaf=self.min_samples_leaf or 5,
                    max_features=self.colsample if self.colsample < 1 else "sqrt",
                    n_jobs=self.n_jobs, random_state=seed,
                )
            return est.fit(Z, y[tr])
        if self.model == "logreg":
            from sklearn.linear_model import LogisticRegression

            hasher = _Hasher(list(self.encoder_.categorical), list(self.encoder_.numeric))
            Z = hasher.transform(F.iloc[tr])
            est = LogisticRegression(C=self.logreg_C, solver="liblinear", max_iter=500)
            est.fit(Z, y[tr])
            return (hasher, est)
        from adwise.behavior._deep import fit_deepfm

        return fit_deepfm(self.encoder_, F.iloc[tr], y[tr], F.iloc[va], y[va],
                          epochs=self.epochs, seed=seed, n_jobs=self.n_jobs)

    def _lgb_params(self, seed: int) -> dict[str, Any]:
        return {
            "objective": "binary",
            "learning_rate": self._lr,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "lambda_l2": self.reg_lambda,
            "feature_fraction": self.colsample,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            # the cat_* and max_cat_threshold settings act only with native_categorical
            "cat_smooth": 20.0,
            "cat_l2": 10.0,
            "min_data_per_group": 50,
            "max_cat_threshold": 32,
            "max_bin": 255,
            "num_threads": self.n_jobs,
            "seed": seed,
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
        }

    def _fit_lgbm(self, F: pd.DataFrame | EncodedRows, y: np.ndarray, tr: np.ndarray,
                  va: np.ndarray, seed: int) -> Any:
        import lightgbm as lgb

        dataset: Any = lgb.Dataset
        if isinstance(F, EncodedRows):
            # LightGBM samples its bin bounds from single rows and bins the training rows a
            # batch at a time (a Sequence): the whole float64 matrix is never made
            train: Any = _row_sequence(F, tr)
            valid = F.block(va)
            dataset = _dataset_class()
        else:
            # one float64 view of the encoded frame; LightGBM bins row subsets of it directly
            # instead of re-checking and converting a DataFrame per dataset
            Z = F.to_numpy(dtype=np.float64)
            train, valid = Z[tr], Z[va]
        names = list(self.feature_names_)
        cats = list(self.encoder_.categorical) if self.native_categorical else []
        dtr = dataset(train, y[tr], feature_name=names, categorical_feature=cats,
                      free_raw_data=True)
        dva = dataset(valid, y[va], feature_name=names, categorical_feature=cats,
                      reference=dtr)
        del train, valid
        booster = lgb.train(
            self._lgb_params(seed), dtr, num_boost_round=self.n_estimators, valid_sets=[dva],
            callbacks=[lgb.early_stopping(self._patience(), verbose=False)],
        )
        best = booster.best_iteration or booster.current_iteration()
        self.best_iterations_.append(int(best))
        return booster

    def _patience(self) -> int:
        if self.early_stopping_rounds == "auto":
            return max(10, round(3 / self._lr))
        return int(self.early_stopping_rounds)

    def _raw_one(self, m: Any, F: pd.DataFrame, X: pd.DataFrame | None = None) -> np.ndarray:
        """Raw probability (before calibration) of one fold model."""
        if self.model == "gbdt":
            Z = F.to_numpy(dtype=np.float64)
            # starting and joining OpenMP threads costs more than a few thousand rows of
            # scoring (milliseconds on a busy machine); the result does not depend on threads
            threads = self.n_jobs if len(Z) >= _PARALLEL_ROWS else 1
            return _sigmoid(m.predict(Z, num_iteration=m.best_iteration or None, raw_score=True,
                                      num_threads=threads))
        if self.model in ("tree", "forest"):
            return np.clip(m.predict_proba(_dense(F))[:, 1], _EPS, 1 - _EPS)
        if self.model == "logreg":
            hasher, est = m
            return est.predict_proba(hasher.transform(F))[:, 1]
        from adwise.behavior._deep import predict_deepfm

        return predict_deepfm(m, self.encoder_, F)

    # ================================================================== predict
    def _check_X(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "models_")
        if not isinstance(X, pd.DataFrame):
            raise InputError("expected a pandas DataFrame of features.")
        if len(X) == 0:
            raise InputError("no rows to predict; give at least one row.")
        return self.encoder_.transform(X.reset_index(drop=True))

    def _raw_mean(self, F: pd.DataFrame) -> np.ndarray:
        z = np.zeros(len(F))
        for m in self.models_:
            z += _logit(self._raw_one(m, F))
        z /= len(self.models_)
        if self.linear_models_:
            w = self.blend_["weight"]
            lin = sum(part.raw(F) for part in self.linear_models_) / len(self.linear_models_)
            z = (1 - w) * z + w * lin
        return _sigmoid(z)

    def predict_ctr(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities of the event, shape ``(n,)``.

        Unseen category values are encoded like rare values (the "rare" code, count 0, the
        prior as target encoding); missing columns raise :class:`InputError`.
        """
        F = self._check_X(X)
        p = self.calibrator_.transform(self._raw_mean(F))
        return downsampling_correction(p, self.neg_sample_rate)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """``[[1 - p, p], ...]`` (scikit-learn convention)."""
        p = self.predict_ctr(X)
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame, threshold: float = 0.5) -> np.ndarray:
        """0/1 labels: calibrated probability ``>= threshold``."""
        return (self.predict_ctr(X) >= threshold).astype(np.int64)

    # ================================================================== explanations
    def explain(self, X: pd.DataFrame, k: int = 5) -> list[list[tuple[str, float]]]:
        """Per-row top-``k`` input columns by absolute TreeSHAP contribution (log-odds).

        A categorical column's contribution sums those of its code, count and target
        encoding.  Only for ``model="gbdt"``.
        """
        F = self._check_X(X)
        if self.model != "gbdt":
            raise InputError(
                f"explanations need model 'gbdt' (TreeSHAP); this model is {self.model!r}."
            )
        contrib = self.contributions(F, encoded=True)
        names = list(contrib.columns)
        vals = contrib.to_numpy()
        k = max(1, min(int(k), len(names)))
        order = np.argsort(-np.abs(vals), axis=1)[:, :k]
        return [[(names[j], float(vals[r, j])) for j in order[r]] for r in range(len(vals))]

    def contributions(self, X: pd.DataFrame, encoded: bool = False) -> pd.DataFrame:
        """TreeSHAP contributions per input column (mean over fold models, log-odds)."""
        F = X if encoded else self._check_X(X)
        acc = None
        for m in self.models_:
            c = m.predict(F, num_iteration=m.best_iteration or None, pred_contrib=True)
            acc = c if acc is None else acc + c
        acc = acc[:, :-1] / len(self.models_)
        df = pd.DataFrame(acc, columns=self.feature_names_)
        return df.T.groupby([self.encoder_.source_of(f) for f in df.columns], sort=False).sum().T

    def _gain_importance(self) -> dict[str, float]:
        gain = np.zeros(len(self.feature_names_))
        for m in self.models_:
            gain += m.feature_importance(importance_type="gain",
                                         iteration=m.best_iteration or None)
        per: dict[str, float] = {}
        for f, g in zip(self.feature_names_, gain, strict=True):
            src = self.encoder_.source_of(f)
            per[src] = per.get(src, 0.0) + float(g)
        total = sum(per.values()) or 1.0
        return dict(sorted(((k, v / total) for k, v in per.items()), key=lambda kv: -kv[1]))

    # ================================================================== (de)serialisation
    def to_artifact(self) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
        """``(json_state, text_files, pickled_objects)`` for the registry.

        ``gbdt`` is fully JSON + LightGBM text; other learners are pickled (the registry
        checks their SHA-256 before unpickling).
        """
        check_is_fitted(self, "models_")
        state = {
            "params": self.get_params(deep=False),
            "columns": {"categorical": self.columns_.categorical,
                        "numeric": self.columns_.numeric, "dropped": self.columns_.dropped},
            "encoder": self.encoder_.to_dict(),
            "calibrator": self.calibrator_.to_dict(),
            "best_iterations": self.best_iterations_,
            "feature_names": self.feature_names_,
            "n_features_in": self.n_features_in_,
            "feature_importance": getattr(self, "feature_importance_", None),
            "fit_seconds": self.fit_seconds_,
            "n_models": len(self.models_),
            "blend": self.blend_,
            "linear_models": [part.to_dict() for part in self.linear_models_],
        }
        texts: dict[str, str] = {}
        pickles: dict[str, Any] = {}
        if self.model == "gbdt":
            for i, m in enumerate(self.models_):
                best = m.best_iteration or None
                texts[f"fold{i}.lgb.txt"] = m.model_to_string(num_iteration=best)
        else:
            pickles["models.pkl"] = self.models_
        return state, texts, pickles

    @classmethod
    def from_artifact(cls, state: dict[str, Any], texts: dict[str, str],
                      pickles: dict[str, Any]) -> CTRModel:
        m = cls(**state["params"])
        cols = state["columns"]
        m.columns_ = ColumnPlan(cols["categorical"], cols["numeric"], cols["dropped"])
        m.encoder_ = TabularEncoder.from_dict(state["encoder"])
        m.calibrator_ = Calibrator.from_dict(state["calibrator"])
        m.best_iterations_ = state["best_iterations"]
        m.feature_names_ = state["feature_names"]
        m.n_features_in_ = state["n_features_in"]
        m.fit_seconds_ = state["fit_seconds"]
        if state.get("feature_importance") is not None:
            m.feature_importance_ = state["feature_importance"]
        # artifacts saved before the blend existed have neither key: the GBDT alone
        m.blend_ = state.get("blend")
        m.linear_models_ = [LinearPart.from_dict(d) for d in state.get("linear_models", [])]
        if m.model == "gbdt":
            import lightgbm as lgb

            m.models_ = [lgb.Booster(model_str=texts[f"fold{i}.lgb.txt"])
                         for i in range(state["n_models"])]
        else:
            m.models_ = pickles["models.pkl"]
        return m


class _Hasher:
    """Hashed one-hot of categorical codes and quantile-binned numerics (for ``logreg``)."""

    def __init__(self, categorical: list[str], numeric: list[str], n_features: int = 2**18,
                 n_bins: int = 16, edges: dict[str, np.ndarray] | None = None) -> None:
        self.cats = categorical
        self.nums = numeric
        self.n_features = n_features
        self.n_bins = n_bins
        # learnt from the first rows transformed unless given
        self.edges: dict[str, np.ndarray] = dict(edges or {})

    def transform(self, F: pd.DataFrame) -> Any:
        import scipy.sparse as sp

        n = len(F)
        cols = []
        for j, c in enumerate(self.cats):
            v = F[c].to_numpy()
            code = np.where(np.isnan(v), -1, v).astype(np.int64)
            cols.append(_hash(j, code, self.n_features))
        for j, c in enumerate(self.nums):
            v = F[c].to_numpy()
            if c not in self.edges:
                fin = v[np.isfinite(v)]
                qs = np.unique(np.quantile(fin, np.linspace(0, 1, self.n_bins + 1)[1:-1])) \
                    if fin.size else np.zeros(0)
                self.edges[c] = qs
            b = np.searchsorted(self.edges[c], v, side="right").astype(np.int64)
            b[~np.isfinite(v)] = -1
            cols.append(_hash(10_000 + j, b, self.n_features))
        idx = np.column_stack(cols) if cols else np.zeros((n, 0), np.int64)
        rows = np.repeat(np.arange(n), idx.shape[1])
        data = np.ones(idx.size)
        return sp.csr_matrix((data, (rows, idx.ravel())), shape=(n, self.n_features))


def _hash(field: int, code: np.ndarray, n_features: int) -> np.ndarray:
    salt = np.uint64((0x9E3779B97F4A7C15 * (field + 1)) % 2**64)
    h = code.astype(np.uint64) + salt
    h ^= h >> np.uint64(31)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(29)
    return (h % np.uint64(n_features)).astype(np.int64)


def _columns(F: pd.DataFrame | EncodedRows, rows: np.ndarray, cols: list[str]) -> pd.DataFrame:
    """The encoded columns ``cols`` of the rows ``rows``."""
    if isinstance(F, EncodedRows):
        return F.columns(cols, rows)
    return F.iloc[rows][cols]


def _dense(F: pd.DataFrame) -> np.ndarray:
    Z = F.to_numpy(dtype=np.float32, na_value=np.nan)
    Z = np.where(np.isnan(Z), -999.0, Z)
    return Z


def _dataset_class() -> type:
    """:class:`lightgbm.Dataset` that builds its bins from a ``Sequence`` with every parameter.

    From a matrix LightGBM passes all parameters to the bin construction; from a ``Sequence``
    only those that ``Dataset.get_params`` lists, which lack ``seed`` (it draws the rows the
    bin bounds are sampled from) and ``min_data_in_leaf`` (the feature pre-filter).  With
    all of them both give the same Dataset, so the same model
    (``tests/behavior/test_model.py`` checks it).
    """
    import lightgbm as lgb

    class _Dataset(lgb.Dataset):
        def get_params(self) -> dict[str, Any]:
            return dict(self.params) if self.params is not None else {}

    return _Dataset


def _row_sequence(enc: EncodedRows, rows: np.ndarray, batch: int | None = None) -> Any:
    """The encoded rows ``rows`` as a :class:`lightgbm.Sequence` read ``batch`` rows at a time
    (default ``_BATCH_ROWS``)."""
    import lightgbm as lgb

    batch = batch or _BATCH_ROWS

    class _Rows(lgb.Sequence):
        batch_size = batch

        def __init__(self) -> None:
            self._block = -1
            self._cached = np.zeros((0, 0))

        def __len__(self) -> int:
            return len(rows)

        def __getitem__(self, idx: Any) -> np.ndarray:
            if isinstance(idx, slice):
                return enc.block(rows[idx])
            # LightGBM asks for its bin sample row by row in increasing order: encode the
            # batch around the row once and keep it for the next rows
            b, i = divmod(int(idx), batch)
            if b != self._block:
                self._block, self._cached = b, enc.block(rows[b * batch:(b + 1) * batch])
            return self._cached[i]

    return _Rows()


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))
