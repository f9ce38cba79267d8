"""Generation through the template and openai backends; bad input; the time limit."""

from __future__ import annotations

import pytest
from creative_briefs import AUDIENCE_EN, AUDIENCE_ZH, BRIEF_EN, BRIEF_ZH

from adwise import BackendError, InputError
from adwise.creative import (
    CHECKS,
    Candidate,
    OpenAIBackend,
    check_candidate,
    generate,
    make_backend,
    parse_brief,
    relevance,
)


def _assert_all_valid(res, brief, lang, n, audience):
    b = parse_brief(brief, lang)
    assert len(res.creatives) == n
    accepted = []
    for c in res.creatives:
        assert {k: v for k, v in c["checks"].items() if k in CHECKS} == dict.fromkeys(CHECKS, True)
        cand = Candidate(c["headline"], c["description"])
        r = check_candidate(cand, b, lang, accepted=accepted, audience=audience)
        assert r.ok, (c, r.failures)  # re-checked independently: the guarantee holds
        accepted.append(Candidate(c["headline"], c["description"]))
    scores = [c["score"] for c in res.creatives]
    assert all(0 <= s <= 1 for s in scores)
    on = [c["on_target"] for c in res.creatives]
    for flag in (True, False):  # sorted by score, on-target creatives first
        group = [s for s, o in zip(scores, on, strict=True) if o is flag]
        assert group == sorted(group, reverse=True)


@pytest.mark.parametrize(
    ("brief", "audience", "lang"), [(BRIEF_EN, AUDIENCE_EN, "en"), (BRIEF_ZH, AUDIENCE_ZH, "zh")]
)
def test_template_backend_every_creative_passes(brief, audience, lang):
    res = generate(brief, audience, n=5, lang=lang, backend="template")
    assert res.backend == "template"
    _assert_all_valid(res, brief, lang, 5, audience)
    assert {c["source"] for c in res.creatives} == {"template"}


@pytest.mark.parametrize(
    ("brief", "audience", "lang"),
    [("trail running shoes", "weekend hikers", "en"), ("轻风跑鞋", "喜欢徒步的年轻父母", "zh")],
)
def test_template_writes_copy_from_a_bare_product_name(brief, audience, lang):
    # No facts, price or offer: the copy comes from the name and the audience, and still passes.
    res = generate(brief, audience, n=3, lang=lang, backend="template")
    _assert_all_valid(res, brief, lang, 3, audience)


def test_template_respects_required_and_banned_terms():
    res = generate(
        BRIEF_EN, AUDIENCE_EN, n=4, backend="template", required=["TrailMax"], banned=["hiking"]
    )
    for c in res.creatives:
        text = (c["headline"] + " " + c["description"]).lower()
        assert "trailmax" in text and "hiking" not in text


def test_relevance_puts_intended_segment_first():
    others = ["young mobile gamers who play video games", "busy home cooks who love recipes"]
    res = generate(BRIEF_EN, AUDIENCE_EN, n=5, backend="template", other_audiences=others)
    margins = [c["scores"]["relevance_margin"] for c in res.creatives]
    assert sum(m > 0 for m in margins) >= 4


@pytest.mark.parametrize(
    ("brief", "audience", "lang"), [(BRIEF_EN, AUDIENCE_EN, "en"), (BRIEF_ZH, AUDIENCE_ZH, "zh")]
)
def test_openai_backend_with_json_schema(openai_server, brief, audience, lang):
    res = generate(
        brief,
        audience,
        n=5,
        lang=lang,
        backend="openai",
        backend_options={"base_url": openai_server.url},
    )
    assert res.backend == "openai"
    _assert_all_valid(res, brief, lang, 5, audience)
    assert openai_server.requests[0]["response_format"]["type"] == "json_schema"
    n_openai = sum(c["source"] == "openai" for c in res.creatives)
    assert n_openai >= 1
    if res.stats["model_creatives"] >= 5:  # enough passed: no template top-up to compete
        assert n_openai == 5


def test_openai_backend_falls_back_to_prompt_only_json(openai_server):
    openai_server.mode = "no_schema"
    be = OpenAIBackend(base_url=openai_server.url, sets=1)
    res = generate(
        BRIEF_EN,
        AUDIENCE_EN,
        n=3,
        backend="openai",
        backend_options={"base_url": openai_server.url},
    )
    _assert_all_valid(res, BRIEF_EN, "en", 3, AUDIENCE_EN)
    assert "response_format" not in openai_server.requests[-1]
    assert be.schema_supported is None


def test_openai_junk_is_dropped_never_returned(openai_server):
    openai_server.mode = "junk"
    res = generate(
        BRIEF_EN,
        AUDIENCE_EN,
        n=5,
        backend="openai",
        backend_options={"base_url": openai_server.url},
    )
    _assert_all_valid(res, BRIEF_EN, "en", 5, AUDIENCE_EN)
    text = " ".join(c["headline"] + c["description"] for c in res.creatives)
    assert "$49" not in text and "50%" not in text and "<|" not in text
    assert res.stats["failures"]["facts"] >= 1 and res.stats["failures"]["clean"] >= 1


def test_slow_backend_is_cut_off_by_the_time_limit(openai_server):
    import time

    openai_server.mode, openai_server.delay = "slow", 3.0
    t0 = time.monotonic()
    res = generate(
        BRIEF_EN,
        AUDIENCE_EN,
        n=5,
        backend="openai",
        time_limit=1.0,
        backend_options={"base_url": openai_server.url},
    )
    assert time.monotonic() - t0 < 2.5
    assert res.stats["timed_out"] is True
    # Nothing came from the model before the limit; the template (instant, fact-safe) tops up.
    assert res.stats["model_creatives"] == 0
    assert {c["source"] for c in res.creatives} == {"template"}
    _assert_all_valid(res, BRIEF_EN, "en", 5, AUDIENCE_EN)


def test_unreachable_endpoint_is_a_clear_error():
    with pytest.raises(BackendError) as e:
        generate(
            BRIEF_EN,
            AUDIENCE_EN,
            backend="openai",
            backend_options={"base_url": "http://127.0.0.1:9/v1"},
        )
    assert str(e.value).startswith(
        "cannot reach the OpenAI-compatible endpoint at http://127.0.0.1:9/v1 ("
    )
    assert str(e.value).endswith(
        "Check --base-url / $ADWISE_OPENAI_BASE_URL and that the server is running."
    )


def test_bad_inputs(monkeypatch):
    monkeypatch.delenv("ADWISE_OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(InputError, match=r"^the product brief is empty"):
        generate("  ", AUDIENCE_EN, backend="template")
    with pytest.raises(InputError, match=r"^language 'de' is not supported; use one of: en, zh\.$"):
        generate(BRIEF_EN, AUDIENCE_EN, lang="de", backend="template")
    with pytest.raises(InputError, match=r"^--backend must be one of: auto, local, openai, "):
        make_backend("gpt")
    with pytest.raises(InputError, match=r"^the openai backend needs an endpoint"):
        make_backend("openai")
    with pytest.raises(InputError, match=r"^--n must be between 1 and 50; got 0\.$"):
        generate(BRIEF_EN, AUDIENCE_EN, n=0, backend="template")
    with pytest.raises(InputError, match=r"^say whom the ad is for"):
        generate(BRIEF_EN, None, backend="template")


@pytest.mark.parametrize("product", [";", ":", ": waterproof", ",,,", "。", "!!"])
def test_brief_without_a_product_name_is_refused(product):
    with pytest.raises(InputError, match=r"has no product name before its facts; start it with "
                                         r"the name, e\.g\. --product 'TrailMax"):
        generate(product, AUDIENCE_EN, backend="template", store=False)


GAMERS = "young mobile gamers who play video games at night"


def _for_gamers(server, **kw):
    return generate(
        BRIEF_EN, GAMERS, n=5, backend="openai", backend_options={"base_url": server.url}, **kw
    )


def test_on_target_selection_puts_copy_for_the_intended_audience_first(openai_server):
    # The endpoint writes trail-running copy whatever it is asked; aimed at gamers, with trail
    # runners named as another audience, that copy is off target.
    res = _for_gamers(openai_server, other_audiences=[AUDIENCE_EN])
    _assert_all_valid(res, BRIEF_EN, "en", 5, GAMERS)
    flags = [c["on_target"] for c in res.creatives]
    assert flags == sorted(flags, reverse=True)  # on-target creatives come first
    assert sum(flags) >= 3
    assert res.stats["raw_on_target"] <= res.stats["raw_candidates"] // 2
    assert any(c["source"] == "template" for c in res.creatives)  # the template topped up
    heads = [c["headline"] for c in res.creatives if c["on_target"]]
    r = relevance(heads, [GAMERS, AUDIENCE_EN])
    assert (r[:, 0] > r[:, 1]).all()


def test_without_other_audiences_the_model_copy_is_kept(openai_server):
    res = _for_gamers(openai_server)
    assert all(c["on_target"] for c in res.creatives)
    assert res.stats["raw_on_target"] == res.stats["raw_candidates"]
    # Trail words are not grounded in an audience of gamers, so few model lines pass; the
    # template tops up and the quality score decides (for gamers the template's copy is
    # more relevant than the endpoint's trail copy).
    assert res.stats["model_creatives"] >= 1
    assert res.stats["check_pass_rate"]["openai"]["grounded"] < 1
