import pytest

from adwise import NotFittedError, ParameterError
from adwise._params import Interval, Options, Predicate, validate_params
from adwise.base import AdwiseEstimator, check_is_fitted


class _Toy(AdwiseEstimator):
    _parameter_constraints = {
        "k": [Interval(int, 1, None)],
        "alpha": [Interval(float, 0, 1, closed="right")],
        "mode": [Options(["fast", "exact"])],
        "fn": [None, Predicate(callable, "a callable")],
    }

    def __init__(self, k=3, alpha=0.5, mode="fast", fn=None):
        self.k = k
        self.alpha = alpha
        self.mode = mode
        self.fn = fn

    def fit(self):
        self._validate_params()
        self.fitted_ = True
        return self


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"k": 0}, "_Toy: parameter 'k' must be an int in [1, inf); got 0 (int)."),
        ({"k": 2.0}, "_Toy: parameter 'k' must be an int in [1, inf); got 2.0 (float)."),
        ({"k": True}, "_Toy: parameter 'k' must be an int in [1, inf); got True (bool)."),
        ({"alpha": 0}, "_Toy: parameter 'alpha' must be a float in (0, 1]; got 0 (int)."),
        (
            {"alpha": float("nan")},
            "_Toy: parameter 'alpha' must be a float in (0, 1]; got nan (float).",
        ),
        (
            {"mode": "slow"},
            "_Toy: parameter 'mode' must be one of 'fast', 'exact'; got 'slow' (str).",
        ),
        ({"fn": 3}, "_Toy: parameter 'fn' must be None or a callable; got 3 (int)."),
    ],
)
def test_bad_parameters_have_exact_messages(params, message):
    with pytest.raises(ParameterError) as err:
        _Toy(**params).fit()
    assert str(err.value) == message


def test_good_parameters_pass_and_fit_returns_self():
    est = _Toy(k=5, alpha=1.0, mode="exact", fn=len)
    assert est.fit() is est


def test_not_fitted_error_is_ours_and_sklearns():
    from sklearn.exceptions import NotFittedError as SkNotFitted

    with pytest.raises(NotFittedError) as err:
        check_is_fitted(_Toy())
    assert isinstance(err.value, SkNotFitted)
    assert str(err.value) == "This _Toy is not fitted yet; call 'fit' before using it."
    check_is_fitted(_Toy().fit())


def test_validate_params_ignores_unconstrained_names():
    validate_params("X", {"free": object()}, {"k": [Interval(int, 1, None)]})
