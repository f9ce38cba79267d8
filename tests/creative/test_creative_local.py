"""The real packaged model (extra adwise[llm]): local backend and llama.cpp's OpenAI server."""

from __future__ import annotations

import pytest
from creative_briefs import AUDIENCE_EN, AUDIENCE_ZH, BRIEF_EN, BRIEF_ZH

from adwise.creative import (
    CHECKS,
    Candidate,
    LocalBackend,
    check_candidate,
    generate,
    llm_available,
    parse_brief,
)
from adwise.creative._text import normalise
from optional_parts import needs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def _llm_installed():
    needs(llm_available(), "the llm extra is not installed (pip install 'adwise[llm]')")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    import os

    os.environ.setdefault("ADWISE_CACHE_DIR", str(tmp_path_factory.mktemp("llm-cache")))
    from adwise.creative._backends import load_local_model

    return load_local_model(threads=2)


def _valid(res, brief, lang, audience):
    b = parse_brief(brief, lang)
    acc = []
    shown = {normalise(t) for t in LocalBackend.example_texts(lang)}
    for c in res.creatives:
        assert c["checks"] == dict.fromkeys(CHECKS, True)
        cand = Candidate(c["headline"], c["description"])
        assert check_candidate(cand, b, lang, accepted=acc, audience=audience).ok
        assert not {normalise(c["headline"]), normalise(c["description"])} & shown
        acc.append(cand)


@pytest.mark.parametrize(
    ("brief", "audience", "other", "lang"),
    [
        (BRIEF_EN, AUDIENCE_EN, "young mobile gamers who play video games at night", "en"),
        (BRIEF_ZH, AUDIENCE_ZH, "晚上玩手机游戏的年轻玩家", "zh"),
    ],
)
def test_local_backend_real_model(model, brief, audience, other, lang):
    res = generate(
        brief,
        audience,
        n=5,
        lang=lang,
        backend="local",
        time_limit=90,
        other_audiences=[other],
        backend_options={"threads": 2, "sets": 2},
    )
    assert res.backend == "local"
    assert res.stats["raw_candidates"] > 0 and res.stats["tokens"] > 0
    assert len(res.creatives) == 5  # model creatives, topped up by the template when too few
    _valid(res, brief, lang, audience)
    flags = [c["on_target"] for c in res.creatives]
    assert flags == sorted(flags, reverse=True)  # on-target creatives come first


def test_openai_backend_against_llama_cpp_server(model):
    """xllamacpp's llama.cpp server (same packaged model) is a real OpenAI-compatible endpoint."""
    res = generate(
        BRIEF_EN,
        AUDIENCE_EN,
        n=3,
        backend="openai",
        time_limit=90,
        backend_options={"base_url": model.url + "/v1"},
    )
    assert res.backend == "openai" and res.stats["backend_requests"] >= 1
    assert len(res.creatives) == 3
    _valid(res, BRIEF_EN, "en", AUDIENCE_EN)
