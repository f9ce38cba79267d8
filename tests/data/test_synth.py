"""The synthetic world: contract, determinism, and that its data follow its own ground truth."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr

from adwise import InputError, ParameterError
from adwise.data._readers import read_table
from adwise.data._synth import (
    DESCRIPTION_MAX,
    HEADLINE_MAX,
    SyntheticWorld,
    Truth,
    generate_world,
    load_truth,
    write_world,
)
from adwise.data._vocab import POWER_WORDS, VOCAB, display_width

SMALL = {"n_users": 2000, "n_ads": 60, "days": 7, "seed": 0}

EVENT_COLUMNS = [
    "event_id", "ts", "user_id", "ad_id", "placement", "device", "clicked", "converted",
    "cost", "revenue", "propensity", "treatment",
]
USER_COLUMNS = ["user_id", "age_band", "gender", "region", "device", "text"]
AD_COLUMNS = [
    "ad_id", "campaign_id", "advertiser", "category", "headline", "description", "bid",
    "pricing", "cpa_bid", "budget",
]


@pytest.fixture(scope="module")
def world() -> SyntheticWorld:
    return generate_world(**SMALL)


@pytest.fixture(scope="module")
def medium() -> SyntheticWorld:
    # Big enough (~250k impressions) that per-hour CTRs are not swamped by noise.
    return generate_world(n_users=6000, n_ads=60, days=14, seed=1)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("synth") / "world"
    return write_world(out, **SMALL)


# ---- contract -------------------------------------------------------------------------------


def test_contract_columns_and_dtypes(world: SyntheticWorld) -> None:
    ev, users, ads = world.events, world.users, world.ads
    assert list(ev.columns) == EVENT_COLUMNS
    assert list(users.columns) == USER_COLUMNS
    assert list(ads.columns) == AD_COLUMNS
    assert pd.api.types.is_datetime64_any_dtype(ev["ts"])
    for col in ("event_id", "user_id", "ad_id", "placement", "device"):
        assert pd.api.types.is_string_dtype(ev[col]), col
    for col in ("clicked", "converted", "treatment"):
        assert pd.api.types.is_integer_dtype(ev[col]), col
        assert set(ev[col].unique()) <= {0, 1}
    for col in ("cost", "revenue", "propensity"):
        assert pd.api.types.is_float_dtype(ev[col]), col
    assert ev["event_id"].is_unique
    assert ev["ts"].is_monotonic_increasing
    assert ev["user_id"].str.fullmatch(r"u\d{6}").all()
    assert ev["ad_id"].str.fullmatch(r"a\d{4}").all()
    assert set(ev["placement"]) == {"top", "side", "feed", "bottom"}
    assert set(ev["user_id"]) <= set(users["user_id"])
    assert set(ev["ad_id"]) <= set(ads["ad_id"])
    assert users["user_id"].is_unique and ads["ad_id"].is_unique
    assert (users["text"].str.len() > 0).all()
    assert len(ev) > 20_000


def test_outcome_rules(world: SyntheticWorld) -> None:
    ev = world.events
    clicked, converted = ev["clicked"] == 1, ev["converted"] == 1
    assert not (converted & ~clicked).any()
    assert ((ev["cost"] > 0) == clicked).all()
    assert ((ev["revenue"] > 0) == converted).all()
    assert (ev["cost"] >= 0).all() and (ev["revenue"] >= 0).all()
    assert ((ev["propensity"] > 0) & (ev["propensity"] <= 1)).all()
    # Cost per click near the ad's bid: bid * U(0.6, 1.0), rounded to cents.
    bid = ev["ad_id"].map(world.ads.set_index("ad_id")["bid"])
    ratio = ev.loc[clicked, "cost"] / bid[clicked]
    assert ratio.between(0.55, 1.05).all()
    # Treatment is per user and about half of the users get it.
    per_user = ev.groupby("user_id")["treatment"].nunique()
    assert (per_user == 1).all()
    assert 0.45 < world.truth.user_treatment.mean() < 0.55


def test_ads_table(world: SyntheticWorld) -> None:
    ads = world.ads
    assert set(ads["pricing"]) == {"cpc", "cpa"}
    cpa = ads["pricing"] == "cpa"
    assert 0.05 < cpa.mean() < 0.4
    assert ads.loc[cpa, "cpa_bid"].notna().all() and ads.loc[~cpa, "cpa_bid"].isna().all()
    assert (ads["bid"] > 0).all() and (ads["budget"] > 0).all()
    assert ads["category"].nunique() == 12  # every category covered when n_ads >= 12
    # Ads in one campaign share advertiser and category.
    per_campaign = ads.groupby("campaign_id")[["advertiser", "category"]].nunique()
    assert (per_campaign == 1).all().all()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_creative_length_limits(lang: str) -> None:
    w = generate_world(n_users=50, n_ads=400, days=1, seed=3, lang=lang)
    ads = w.ads
    if lang == "zh":
        width = [display_width(t) for t in ads["headline"]]
        dwidth = [display_width(t) for t in ads["description"]]
        assert ads["headline"].map(lambda t: bool(re.search(r"[\u4e00-\u9fff]", t))).all()
        assert w.users["text"].map(lambda t: bool(re.search(r"[\u4e00-\u9fff]", t))).all()
    else:
        width = ads["headline"].str.len().tolist()
        dwidth = ads["description"].str.len().tolist()
    assert max(width) <= HEADLINE_MAX
    assert max(dwidth) <= DESCRIPTION_MAX
    assert min(width) > 0 and min(dwidth) > 0
    assert ads["headline"].nunique() > 100  # creatives vary


def test_display_width_counts_cjk_double() -> None:
    assert display_width("abc") == 3
    assert display_width("跑鞋") == 4
    assert display_width("新品，包邮") == 10


def test_power_words_only_where_placed() -> None:
    # No vocabulary entry may contain a power word, so an ad's power words are exactly the
    # ones its headline was given (and its quality is built from).
    for lang, table in VOCAB.items():
        for voc in table.values():
            for text in (*voc.products, *voc.adjectives, *voc.benefits, *voc.ctas):
                if lang == "zh":
                    assert not [w.zh for w in POWER_WORDS if w.zh in text], text
                else:
                    tokens = set(re.findall(r"[a-z]+", text.lower()))
                    assert not tokens & {w.key for w in POWER_WORDS}, text


def test_ad_quality_follows_power_words(world: SyntheticWorld) -> None:
    truth = world.truth
    effects = truth.coef["word_effects"]
    words = truth.meta["ad_power_words"]
    word_part = np.array([sum(effects[w] for w in s.split()) for s in words])
    for s, headline in zip(words, world.ads["headline"], strict=True):
        for w in s.split():
            assert w in headline.lower()
    resid = truth.ad_quality - word_part
    assert abs(resid.mean()) < 0.1
    assert resid.std() == pytest.approx(truth.coef["quality_noise_sd"], rel=0.35)


# ---- determinism ----------------------------------------------------------------------------


def test_deterministic_by_seed(world: SyntheticWorld) -> None:
    again = generate_world(**SMALL)
    pd.testing.assert_frame_equal(world.events, again.events)
    pd.testing.assert_frame_equal(world.users, again.users)
    pd.testing.assert_frame_equal(world.ads, again.ads)
    other = generate_world(**{**SMALL, "seed": 1})
    assert len(other.events) != len(world.events) or not other.events.equals(world.events)


def test_written_world_equals_generated(world: SyntheticWorld, written) -> None:
    ev = pd.read_parquet(written / "events.parquet")
    pd.testing.assert_frame_equal(ev, world.events, check_dtype=False)
    te = pd.read_parquet(written / "truth_events.parquet")
    np.testing.assert_array_equal(te["p_click"].to_numpy(), world.truth_events["p_click"])


# ---- the truth ------------------------------------------------------------------------------


def test_overall_ctr(world: SyntheticWorld) -> None:
    ctr = world.events["clicked"].mean()
    assert 0.005 <= ctr <= 0.03
    s = world.truth.meta["summary"]
    assert s["ctr"] == pytest.approx(ctr)
    assert s["true_ctr"] == pytest.approx(world.truth_events["p_click"].mean())
    assert 0.02 < s["cvr"] < 0.3


def test_empirical_ctr_by_slot_follows_truth(medium: SyntheticWorld) -> None:
    ev = medium.events.assign(p=medium.truth_events["p_click"].to_numpy())
    by_slot = ev.groupby("placement").agg(ctr=("clicked", "mean"), p=("p", "mean"))
    assert pearsonr(by_slot["ctr"], by_slot["p"])[0] > 0.95
    truth = medium.truth
    effect = pd.Series(truth.slot_effect, index=truth.slots)
    assert list(by_slot["ctr"].sort_values().index) == list(effect.sort_values().index)


def test_empirical_ctr_by_hour_follows_truth(medium: SyntheticWorld) -> None:
    ev = medium.events.assign(
        hour=medium.events["ts"].dt.hour, p=medium.truth_events["p_click"].to_numpy()
    )
    g = ev.groupby("hour").agg(
        clicks=("clicked", "sum"), p=("p", "sum"), n=("p", "size"),
        var=("p", lambda x: (x * (1 - x)).sum()),
    )
    assert len(g) == 24
    assert pearsonr(g["clicks"] / g["n"], g["p"] / g["n"])[0] > 0.6
    # Clicks per hour agree with the sum of true probabilities (a 24-cell goodness of fit).
    z = (g["clicks"] - g["p"]) / np.sqrt(g["var"])
    assert (z**2).sum() < 60


def test_hour_of_activity_follows_segment_profile(medium: SyntheticWorld) -> None:
    truth = medium.truth
    te = medium.truth_events
    for k, seg in enumerate(truth.meta["segments"]):
        counts = np.bincount(te.loc[te["segment"] == k, "hour"], minlength=24)
        share = counts / counts.sum()
        assert np.abs(share - np.asarray(seg["hour_activity"])).max() < 0.02
        assert abs(int(np.argmax(counts)) - int(np.argmax(seg["hour_activity"]))) <= 1
    # Segments peak at different hours.
    peaks = {int(np.argmax(s["hour_activity"])) for s in truth.meta["segments"]}
    assert len(peaks) >= 4


def test_truth_round_trip_recomputes_p_click(world: SyntheticWorld, written) -> None:
    truth = load_truth(written)
    assert isinstance(truth, Truth)
    ev = pd.read_parquet(written / "events.parquet")
    te = pd.read_parquet(written / "truth_events.parquet")
    np.testing.assert_allclose(truth.p_click_events(ev), te["p_click"], rtol=1e-12)
    u, a = truth.user_index(ev["user_id"]), truth.ad_index(ev["ad_id"])
    np.testing.assert_allclose(truth.p_convert(u, a, ev["treatment"]), te["p_convert"], rtol=1e-12)
    np.testing.assert_allclose(
        truth.p_convert(u, a, 1) - truth.p_convert(u, a, 0), te["uplift"], rtol=1e-9, atol=1e-15
    )
    np.testing.assert_array_equal(truth.user_index(world.truth.user_ids[:5]), np.arange(5))
    np.testing.assert_array_equal(truth.hour_effect, world.truth.hour_effect)
    assert truth.coef == world.truth.coef
    assert (te["slot_propensity"] == 0.25).all()
    with pytest.raises(InputError):
        truth.user_index(["nobody"])


def test_truth_files(written) -> None:
    doc = json.loads((written / "truth.json").read_text("utf-8"))
    assert doc["seed"] == 0 and doc["n_users"] == 2000
    assert len(doc["categories"]) == 12 and doc["slots"] == ["top", "side", "feed", "bottom"]
    assert len(doc["segments"]) == 6 and "young mobile gamers" in doc["segment_names"]
    assert 0.005 < doc["summary"]["true_ctr"] < 0.03
    assert {"p_click", "p_convert", "affinity"} <= set(doc["formulas"])
    users = pd.read_parquet(written / "truth_users.parquet")
    assert {"user_id", "segment", "segment_name", "bias", "tau", "interest_sports"} <= set(users)
    interest = users[[c for c in users if c.startswith("interest_")]]
    np.testing.assert_allclose(interest.sum(axis=1), 1.0)
    ads = pd.read_parquet(written / "truth_ads.parquet")
    assert {"ad_id", "category", "quality"} <= set(ads)
    cells = pd.read_parquet(written / "truth_cells.parquet")
    assert len(cells) == 6 * 4 * 24 * 7
    assert {"segment", "placement", "hour", "weekday", "effect"} <= set(cells)


def test_segments_are_distinct(world: SyntheticWorld) -> None:
    truth = world.truth
    users = world.users.assign(segment=truth.user_segment)
    # Each segment's mean interest puts its top categories first.
    for k, seg in enumerate(truth.meta["segments"]):
        mean = truth.user_interest[truth.user_segment == k].mean(axis=0)
        top = [truth.categories[j] for j in np.argsort(mean)[::-1][: len(seg["top_categories"])]]
        assert set(top) == set(seg["top_categories"])
    # Demographics differ: the modal age band is not the same everywhere.
    modal_age = users.groupby("segment")["age_band"].agg(lambda s: s.mode()[0])
    assert modal_age.nunique() >= 3
    # Heterogeneous treatment effects: some segments respond, some do not.
    tau = pd.Series(truth.user_tau).groupby(truth.user_segment).mean()
    assert tau.max() > 0.4 and tau.min() < 0.1


def test_activity_is_heavy_tailed(world: SyntheticWorld) -> None:
    counts = world.events.groupby("user_id").size().sort_values(ascending=False)
    top_decile = counts.iloc[: len(counts) // 10].sum() / counts.sum()
    assert top_decile > 0.3
    per_user_day = len(world.events) / (SMALL["n_users"] * SMALL["days"])
    assert 2 <= per_user_day <= 4


# ---- the logging policy ---------------------------------------------------------------------


def test_propensity_is_the_policy_probability(world: SyntheticWorld) -> None:
    truth, te, ev = world.truth, world.truth_events, world.events
    proba = truth.policy_proba(te["user_idx"].to_numpy())
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    chosen = proba[np.arange(len(te)), te["ad_idx"].to_numpy()]
    np.testing.assert_allclose(chosen, ev["propensity"], rtol=1e-12)
    eps = truth.coef["policy_epsilon"]
    assert (ev["propensity"] >= eps / len(truth.ad_ids) - 1e-15).all()
    # If the propensities are the probabilities the ads were drawn with, E[1 / p] = n_ads.
    assert (1 / ev["propensity"]).mean() / len(truth.ad_ids) == pytest.approx(1, abs=0.05)
    assert te["explored"].mean() == pytest.approx(eps, abs=0.02)
    # The greedy part prefers ads the user likes.
    assert te.loc[~te["explored"], "p_click"].mean() > te.loc[te["explored"], "p_click"].mean()


# ---- files ----------------------------------------------------------------------------------


def test_csv_and_parquet_are_readable(tmp_path, world: SyntheticWorld, written) -> None:
    out = write_world(tmp_path / "csv", fmt="csv", **SMALL)
    for name in ("events", "users", "ads"):
        from_csv = read_table(out / f"{name}.csv")
        from_parquet = read_table(written / f"{name}.parquet")
        assert list(from_csv.columns) == list(from_parquet.columns)
        assert len(from_csv) == len(from_parquet)
    ev = read_table(out / "events.csv")
    assert (pd.to_datetime(ev["ts"]).to_numpy() == world.events["ts"].to_numpy()).all()
    assert ev["clicked"].sum() == world.events["clicked"].sum()
    assert (out / "truth_events.parquet").exists() and (out / "truth.json").exists()
    ads = read_table(out / "ads.csv")
    assert ads["cpa_bid"].isna().sum() == world.ads["cpa_bid"].isna().sum()


def test_failed_write_leaves_nothing(tmp_path) -> None:
    out = tmp_path / "world"
    out.mkdir()
    (out / "keep.txt").write_text("mine")

    def boom(done: int, total: int) -> None:
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        write_world(out, n_users=50, n_ads=5, days=2, progress=boom)
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["world"]


def test_progress_is_reported() -> None:
    calls: list[tuple[int, int]] = []
    generate_world(n_users=30, n_ads=5, days=3, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lang": "fr"},
        {"n_users": 0},
        {"n_segments": 0},
        {"n_segments": 99},
        {"n_slots": 9},
        {"start": "yesterday"},
        {"seed": -1},
    ],
)
def test_bad_parameters(kwargs) -> None:
    with pytest.raises(ParameterError):
        generate_world(**{"n_users": 10, "n_ads": 3, "days": 1, **kwargs})


def test_bad_format(tmp_path) -> None:
    with pytest.raises(ParameterError):
        write_world(tmp_path / "w", n_users=10, n_ads=3, days=1, fmt="xlsx")


def test_other_sizes() -> None:
    w = generate_world(n_users=300, n_ads=5, days=2, seed=4, n_segments=3, n_slots=6)
    assert set(w.events["placement"]) <= set(w.truth.slots) and len(w.truth.slots) == 6
    assert w.truth.hour_effect.shape == (3, 24)
    assert w.events["ad_id"].nunique() <= 5
