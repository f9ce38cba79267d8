"""CTRModel unit, known-answer and bad-input tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adwise import NotFittedError, ParameterError
from adwise._exceptions import InputError
from adwise.behavior import Calibrator, CTRModel, detect_columns, downsampling_correction
from adwise.metrics import expected_calibration_error, roc_auc


def _data(n: int = 4000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    slot = rng.choice(["top", "side", "feed"], n)
    site = rng.choice([f"s{i}" for i in range(80)], n)
    x = rng.normal(size=n)
    site_eff = {f"s{i}": e for i, e in enumerate(np.random.default_rng(1).normal(0, 1, 80))}
    logit = -1.5 + np.where(slot == "top", 1.0, 0.0) + 0.8 * x + pd.Series(site).map(site_eff)
    p = 1 / (1 + np.exp(-logit.to_numpy()))
    y = (rng.random(n) < p).astype(int)
    return pd.DataFrame({"slot": slot, "site": site, "x": x, "noise": rng.normal(size=n)}), y, p


def test_param_error_message():
    X, y, _ = _data(500)
    with pytest.raises(ParameterError) as e:
        CTRModel(model="xgb").fit(X, y)
    assert str(e.value) == (
        "CTRModel: parameter 'model' must be one of 'gbdt', 'forest', 'tree', 'logreg', "
        "'deep'; got 'xgb' (str)."
    )
    with pytest.raises(ParameterError, match=r"parameter 'neg_sample_rate' must be a float in "
                                              r"\(0, 1\]; got 0 \(int\)"):
        CTRModel(neg_sample_rate=0).fit(X, y)


def test_not_fitted():
    with pytest.raises(NotFittedError, match="This CTRModel is not fitted yet"):
        CTRModel().predict_ctr(pd.DataFrame({"a": [1]}))


def test_gbdt_learns_and_is_calibrated():
    X, y, p_true = _data(6000)
    m = CTRModel(n_estimators=300).fit(X.iloc[:4000], y[:4000])
    p = m.predict_ctr(X.iloc[4000:])
    auc, oracle = roc_auc(y[4000:], p), roc_auc(y[4000:], p_true[4000:])
    assert auc > oracle - 0.03
    assert expected_calibration_error(y[4000:], p) < 0.04
    imp = m.feature_importance_
    assert set(list(imp)[:3]) == {"slot", "site", "x"}
    assert list(imp)[-1] == "noise" and imp["noise"] < 0.15
    assert m.predict_proba(X.head(3)).shape == (3, 2)
    assert set(np.unique(m.predict(X.head(50)))) <= {0, 1}


@pytest.mark.parametrize("model", ["tree", "forest", "logreg"])
def test_baselines_give_usable_probabilities(model):
    X, y, _p_true = _data(3000)
    m = CTRModel(model=model, forest_trees=40).fit(X.iloc[:2000], y[:2000])
    p = m.predict_ctr(X.iloc[2000:])
    assert p.min() > 0 and p.max() < 1
    assert roc_auc(y[2000:], p) > 0.65
    with pytest.raises(InputError, match="explanations need model 'gbdt'"):
        m.explain(X.head(2))


def test_explain_top_k_sums_to_margin():
    X, y, _ = _data(3000)
    m = CTRModel(n_estimators=100, n_folds=1).fit(X, y)
    ex = m.explain(X.head(4), k=2)
    assert len(ex) == 4 and all(len(r) == 2 for r in ex)
    assert ex[0][0][0] in {"slot", "site", "x", "noise"}
    contrib = m.contributions(X.head(4))
    assert list(contrib.columns) == ["slot", "site", "x", "noise"]


def test_unseen_categories_and_artifact_roundtrip():
    X, y, _ = _data(2000)
    m = CTRModel(n_estimators=50, n_folds=2).fit(X, y)
    new = X.head(3).assign(site=["never-seen", None, "s1"])
    p = m.predict_ctr(new)
    assert np.isfinite(p).all()
    state, texts, pickles = m.to_artifact()
    m2 = CTRModel.from_artifact(state, texts, pickles)
    np.testing.assert_allclose(m2.predict_ctr(new), p, rtol=1e-9)


def test_bad_input_messages():
    X, y, _ = _data(500)
    with pytest.raises(InputError, match=r"must be binary \(0/1\) for classification; found 2"):
        CTRModel().fit(X, np.where(y == 1, 2, 0))
    with pytest.raises(InputError, match="every row is 0"):
        CTRModel().fit(X, np.zeros(len(X), int))
    with pytest.raises(InputError, match="no training rows"):
        CTRModel().fit(X.iloc[:0], y[:0])
    with pytest.raises(InputError, match="no usable feature columns: a: all values are missing"):
        CTRModel().fit(pd.DataFrame({"a": [np.nan] * len(y)}), y)
    m = CTRModel(n_estimators=20, n_folds=1).fit(X, y)
    with pytest.raises(InputError, match="lacks column\\(s\\) the model was trained on: site"):
        m.predict_ctr(X.drop(columns=["site"]))


def test_detect_columns_rules():
    df = pd.DataFrame({"id": np.arange(200), "c": ["a", "b"] * 100, "k": [1, 2] * 100,
                       "f": np.linspace(0, 1, 200), "const": 1, "nan": np.nan})
    plan = detect_columns(df)
    assert plan.categorical == ["c", "k"] and plan.numeric == ["f"]
    assert plan.dropped == {"id": "every value is distinct (looks like a row id)",
                            "const": "a single distinct value", "nan": "all values are missing"}
    assert detect_columns(df, numeric=["k"]).numeric == ["k", "f"]
    with pytest.raises(InputError, match="named numeric but holds values that are not numbers"):
        detect_columns(df, numeric=["c"])


def test_calibration_known_answer():
    rng = np.random.default_rng(3)
    p_true = rng.uniform(0.01, 0.6, 20000)
    y = (rng.random(20000) < p_true).astype(int)
    q = 1 / (1 + np.exp(-(2.5 * np.log(p_true / (1 - p_true)) + 1.0)))  # miscalibrated
    c = Calibrator("platt").fit(q, y)
    # Platt inverts the distortion: a = 1/2.5, b = -1/2.5
    assert c.params_["a"] == pytest.approx(0.4, abs=0.03)
    assert c.params_["b"] == pytest.approx(-0.4, abs=0.06)
    auto = Calibrator("auto").fit(q, y)
    assert auto.chosen_ in ("platt", "isotonic")
    assert expected_calibration_error(y, auto.transform(q)) < 0.01


def test_downsampling_correction_recovers_rate():
    rng = np.random.default_rng(0)
    y = (rng.random(200000) < 0.02).astype(int)
    keep = (y == 1) | (rng.random(len(y)) < 0.1)  # keep 10 % of negatives
    p_sampled = y[keep].mean()
    assert downsampling_correction(np.array([p_sampled]), 0.1)[0] == pytest.approx(0.02, rel=0.05)
    assert downsampling_correction(np.array([0.3]), 1.0)[0] == 0.3


def _encoder(X: pd.DataFrame, te_folds: int = 1):
    from adwise.behavior import TabularEncoder

    plan = detect_columns(X)
    return TabularEncoder(plan.categorical, plan.numeric, min_count=2, te_folds=te_folds)


def test_encoder_transform_matches_training_encoding_including_missing():
    rng = np.random.default_rng(0)
    n = 600
    X = pd.DataFrame({
        "site": pd.Series(rng.choice(["a", "b", "c", None], n), dtype="str"),
        "code": rng.choice([1.0, 2.0, np.nan], n),
        "x": rng.normal(size=n),
    })
    y = (rng.random(n) < 0.3).astype(int)
    enc = _encoder(X)
    # with one target-encoding fold the training encoding is the full-data one, so scoring
    # the training rows must reproduce it exactly, missing values included
    F = enc.fit_transform(X, y)
    G = enc.transform(X)
    pd.testing.assert_frame_equal(F, G)
    miss = X["site"].isna().to_numpy()
    assert np.isnan(G["site"].to_numpy()[miss]).all()
    assert (G["site__count"].to_numpy()[miss] == np.log1p(miss.sum())).all()


def test_encoder_unseen_and_new_missing_values():
    X = pd.DataFrame({"site": ["a", "b"] * 50, "x": np.arange(100.0)})
    y = np.array([0, 1] * 50)
    enc = _encoder(X)
    enc.fit_transform(X, y)
    G = enc.transform(pd.DataFrame({"site": ["zz", None, "a"], "x": [1.0, 2.0, 3.0]}))
    prior = 0.5
    assert G["site"].iloc[0] == 2 and np.isnan(G["site"].iloc[1])  # rare code; stays missing
    assert (G["site__count"].iloc[:2] == 0).all() and (G["site__te"].iloc[:2] == prior).all()
    assert G["site__count"].iloc[2] == np.log1p(50)


def test_encoder_keys_are_str_forms():
    # keys are the str forms: 1 and "1" are one value, 1.0 ("1.0") and True ("True") are not
    # merged with 1 although Python's == would
    X = pd.DataFrame({"v": pd.Series([1, "1", 1.0, True, "x"] * 20, dtype=object),
                      "x": np.arange(100.0)})
    enc = _encoder(X)
    F = enc.fit_transform(X, np.array([0, 1] * 50))
    st = enc.state["categorical"]["v"]
    assert dict(zip(st["values"], st["counts"], strict=True)) == {
        "1": 40, "1.0": 20, "True": 20, "x": 20}
    G = enc.transform(pd.DataFrame({"v": [1, "1", 1.0, True], "x": [0.0] * 4}))
    assert G["v"].tolist() == F["v"].iloc[:4].tolist()
    assert G["v"].nunique() == 3


@pytest.mark.parametrize(("n_folds", "lr", "rounds", "expected"), [
    (1, "auto", "auto", 30), (5, "auto", "auto", 100), (1, 1.0, "auto", 10), (1, "auto", 7, 7)])
def test_early_stopping_patience(n_folds, lr, rounds, expected):
    X, y, _ = _data(800)
    m = CTRModel(n_folds=n_folds, learning_rate=lr, early_stopping_rounds=rounds,
                 n_estimators=20).fit(X, y)
    assert m._patience() == expected


def test_early_stopping_rounds_validated():
    X, y, _ = _data(300)
    with pytest.raises(ParameterError, match="early_stopping_rounds"):
        CTRModel(early_stopping_rounds="soon").fit(X, y)


def test_scores_do_not_depend_on_threads_or_batch_size():
    # batches below the parallel threshold are scored on one thread: same numbers either way
    X, y, _ = _data(1500)
    m = CTRModel(n_jobs=2, n_estimators=30).fit(X, y)
    big = pd.concat([X] * 8, ignore_index=True)  # 12,000 rows: scored on n_jobs threads
    p_small = m.predict_ctr(X)
    np.testing.assert_array_equal(m.predict_ctr(big)[: len(X)], p_small)
    np.testing.assert_array_equal(CTRModel(n_jobs=1, n_estimators=30).fit(X, y).predict_ctr(X),
                                  p_small)


def _split_kinds(model: CTRModel) -> set[str]:
    """Decision types of every split of every fold model (``==`` is a categorical split)."""
    kinds: set[str] = set()

    def walk(node):
        if "decision_type" in node:
            kinds.add(node["decision_type"])
            walk(node["left_child"])
            walk(node["right_child"])

    for m in model.models_:
        for tree in m.dump_model()["tree_info"]:
            walk(tree["tree_structure"])
    return kinds


def test_categorical_codes_split_as_numbers_unless_native_asked():
    X, y, _ = _data(3000)
    default = CTRModel(n_estimators=40, n_folds=1).fit(X, y)
    native = CTRModel(n_estimators=40, n_folds=1, native_categorical=True).fit(X, y)
    assert "==" not in _split_kinds(default)
    assert "==" in _split_kinds(native)
    with pytest.raises(ParameterError, match="native_categorical"):
        CTRModel(native_categorical="yes").fit(X, y)


def test_encoded_rows_equal_the_encoded_frame():
    X, y, _ = _data(3000)
    X["site"] = X["site"].where(np.arange(len(X)) % 17 != 0)  # some missing values
    F = _encoder(X, te_folds=5).fit_transform(X, y)
    enc = _encoder(X, te_folds=5).fit_encode(X, y)
    pd.testing.assert_frame_equal(enc.frame(), F)
    Z = F.to_numpy()
    rows = np.sort(np.random.default_rng(0).choice(len(X), 500, replace=False))
    for r in (slice(100, 1300), np.arange(100, 1300), rows):
        block = enc.block(r)
        assert block.flags.c_contiguous
        np.testing.assert_array_equal(block, Z[r])
        pd.testing.assert_frame_equal(enc.frame(r), F.iloc[r])
        # a subset of the columns (what the blend's logistic model reads)
        pd.testing.assert_frame_equal(enc.columns(["x", "site"], r), F.iloc[r][["x", "site"]])


def test_batched_lightgbm_dataset_gives_the_same_model(monkeypatch):
    # the gbdt fit on one split reads its rows a batch at a time (a lightgbm Sequence); the
    # booster must be the one trained from the whole matrix, also when LightGBM samples the
    # rows of its bin bounds (a sample smaller than the rows) and with feature pre-filtering
    import adwise.behavior._model as mod

    X, y, _ = _data(6000)
    m = CTRModel(n_folds=1, n_estimators=15, time_ordered=True, min_child_samples=300)
    m.fit(X, y)
    base = m._lgb_params
    monkeypatch.setattr(m, "_lgb_params",
                        lambda seed: {**base(seed), "bin_construct_sample_cnt": 700})
    monkeypatch.setattr(mod, "_BATCH_ROWS", 1000)  # several batches, the last one partial
    enc = m.encoder_.fit_encode(X.reset_index(drop=True), y)
    (tr, va), = m._folds(len(X), y, 1)
    batched = m._fit_lgbm(enc, y, tr, va, seed=3)
    whole = m._fit_lgbm(enc.frame(), y, tr, va, seed=3)
    assert batched.model_to_string() == whole.model_to_string()


def _ordered_integers(n: int = 4000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """The click rate rises with ``age``, an integer of 600 values (each seen ~7 times, so
    most share the rare code and their target encodings are noise), next to a string column
    that carries nothing."""
    rng = np.random.default_rng(seed)
    age = rng.integers(0, 600, n)
    p = 1 / (1 + np.exp(-(-2.0 + 4.0 * (age >= 300))))
    y = (rng.random(n) < p).astype(int)
    return pd.DataFrame({"age": age, "slot": rng.choice(["a", "b"], n)}), y


def test_integer_values_let_trees_follow_the_order_of_an_integer_column():
    X, y = _ordered_integers()
    Xt, yt = _ordered_integers(seed=1)
    assert detect_columns(X).categorical == ["age", "slot"]  # integers typed as codes
    on = CTRModel(n_estimators=60, n_folds=2).fit(X, y)
    off = CTRModel(n_estimators=60, n_folds=2, integer_values=False).fit(X, y)
    assert "age__value" in on.feature_names_ and "age__value" not in off.feature_names_
    assert "slot__value" not in on.feature_names_  # text columns have no value
    auc_on, auc_off = roc_auc(yt, on.predict_ctr(Xt)), roc_auc(yt, off.predict_ctr(Xt))
    # the step at 300 is a known answer: one split on the value finds it
    assert auc_on > 0.83 and auc_on > auc_off + 0.03, (auc_on, auc_off)
    assert on.feature_importance_.get("age", 0) > on.feature_importance_.get("slot", 0)
    # linear models standardise their own inputs: no raw value column for them
    assert "age__value" not in CTRModel(model="logreg").fit(X, y).feature_names_


def test_integer_values_survive_the_artifact_and_older_encoders_load():
    X, y = _ordered_integers(1500)
    m = CTRModel(n_estimators=30, n_folds=2).fit(X, y)
    new = pd.DataFrame({"age": [5, 450, 10_000], "slot": ["a", "zz", "b"]})
    state, texts, pickles = m.to_artifact()
    np.testing.assert_allclose(CTRModel.from_artifact(state, texts, pickles).predict_ctr(new),
                               m.predict_ctr(new), rtol=1e-12)
    # an encoder saved before integer values existed has neither key: codes only, as then
    enc = _encoder(X)
    enc.fit_transform(X, y)
    d = enc.to_dict()
    del d["integer_values"], d["state"]["valued"]
    old = type(enc).from_dict(d)
    assert list(old.transform(new).columns) == enc.feature_names_
