"""TextCTRModel (estimator contract, known answer, recovery), relevance and MMR."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from adwise import InputError, NotFittedError, ParameterError
from adwise.creative import TextCTRModel, mmr, relevance


def test_parameter_error_message():
    with pytest.raises(ParameterError) as e:
        TextCTRModel(C=0).fit(["a b", "c d"], [10, 10], [1, 2])
    assert str(e.value) == ("TextCTRModel: parameter 'C' must be a float in (0, inf); got 0 (int).")
    with pytest.raises(ParameterError) as e:
        TextCTRModel(lang="fr").fit(["a b", "c d"], [10, 10], [1, 2])
    assert str(e.value) == (
        "TextCTRModel: parameter 'lang' must be one of 'en', 'zh'; got 'fr' (str)."
    )


def test_not_fitted():
    with pytest.raises(NotFittedError):
        TextCTRModel().predict_ctr(["x"])


def test_bad_history():
    with pytest.raises(InputError) as e:
        TextCTRModel().fit(["a", "b"], [10, 10], [11, 1])
    assert str(e.value) == (
        "TextCTRModel.fit: need at least 2 creatives with 0 <= clicks <= impressions."
    )


def test_known_answer_word_with_higher_ctr_ranks_higher():
    rng = np.random.default_rng(0)
    texts, imp, clk = [], [], []
    for i in range(80):
        magic = i % 2 == 0
        texts.append(f"{'magic ' if magic else ''}shoe model {i}")
        imp.append(2000)
        clk.append(rng.binomial(2000, 0.06 if magic else 0.02))
    m = TextCTRModel(C=10.0).fit(texts, imp, clk)
    p = m.predict_ctr(["magic shoe model 999", "shoe model 999"])
    assert p[0] > 1.8 * p[1]
    assert 0.045 < p[0] < 0.075 and 0.015 < p[1] < 0.027
    assert "magic" in m.top_terms(1)[0][0]
    # serialisation round trip gives the same predictions
    m2 = TextCTRModel.from_dict(m.to_dict())
    np.testing.assert_allclose(m2.predict_ctr(texts), m.predict_ctr(texts))


def test_recovers_power_word_effects_on_synthetic_world():
    from adwise.data import generate_world

    w = generate_world(n_users=2000, n_ads=240, days=7, seed=3)
    g = w.events.groupby("ad_id").clicked.agg(["size", "sum"])
    ads = w.ads.set_index("ad_id").loc[g.index]
    texts = (ads["headline"] + " " + ads["description"]).tolist()
    m = TextCTRModel(C=1.0).fit(texts, g["size"], g["sum"])
    quality = w.truth.ad_quality[w.truth.ad_index(list(g.index))]
    assert spearmanr(m.predict_ctr(texts), quality).statistic > 0.3
    base = "Trail running shoes. Shop now."
    free, click = m.predict_ctr([f"{base} free delivery", f"{base} click here"])
    assert free > click  # true effects +0.35 and -0.35 on the logit


def test_relevance_prefers_the_matching_segment():
    segs = ["trail runners hiking camping", "gamers who play video games", "busy home cooks"]
    r = relevance(["Waterproof shoes for trail hiking", "New video game for gamers"], segs)
    assert r.shape == (2, 3)
    assert r.argmax(axis=1).tolist() == [0, 1]
    rz = relevance(
        ["徒步露营好搭档", "游戏玩家的新装备"], ["徒步和露营", "电子游戏玩家", "家庭厨房"], "zh"
    )
    assert rz.argmax(axis=1).tolist() == [0, 1]


def test_mmr_trades_score_for_novelty():
    sims = np.array([[1, 0.95, 0], [0.95, 1, 0], [0, 0, 1]])
    assert mmr([1.0, 0.99, 0.5], 2, lambda i, j: sims[i, j], lam=1.0) == [0, 1]
    assert mmr([1.0, 0.99, 0.5], 2, lambda i, j: sims[i, j], lam=0.5) == [0, 2]
