"""Issue 16: grounding, fluency, sources competing in one pool, --model-file, the time limit."""

from __future__ import annotations

import struct
import time

import pytest
from creative_briefs import AUDIENCE_EN, BRIEF_EN

from adwise import InputError
from adwise.creative import (
    CHECKS,
    Candidate,
    OpenAIBackend,
    TemplateBackend,
    check_candidate,
    generate,
    generate_creatives,
    make_backend,
    parse_brief,
    parse_segment,
)
from adwise.creative._backends import gguf_chat_template, model_path
from adwise.creative._grounding import counts, generic_words, repeated_ngrams, unsupported_words
from adwise.creative._template import template_candidates

SOLAR = "Solar garden lights: 8-pack, 12 h glow, no wiring, $39"
GARDENERS = "homeowners who garden on weekends"
EARBUDS = "无线降噪耳机，续航40小时，399元"
COMMUTERS = "通勤的上班族"


def _fails(h, d, brief=SOLAR, audience=GARDENERS, lang="en"):
    return check_candidate(
        Candidate(h, d), parse_brief(brief, lang), lang, audience=parse_segment(audience, lang).text
    )


def test_issue_16_invented_material_fails_naming_the_words():
    r = _fails("Solar Garden Lights", "Solar garden lights are made of natural rubber.")
    assert r.passed["grounded"] is False
    assert r.failures == ["words not supported by the brief or audience: natural, rubber"]


def test_issue_16_eight_colours_is_not_an_8_pack():
    r = _fails("Solar Garden Lights", "Choose from eight colors. Shop now.")
    assert r.failures == [
        "words not supported by the brief or audience: eight, colors",
        "counts not in the brief: 8 color (the brief says 8 pack)",
    ]
    # the brief's own count, unit and words pass; the audience's words are supported too
    assert _fails("8-Pack for Weekends", "12-hour glow, no wiring, $39. Shop now.").ok


def test_issue_16_repeated_price_fails_fluency():
    r = _fails("399元，399元", "399元，399元，399元，399元，399元。", EARBUDS, COMMUTERS, "zh")
    assert r.passed["fluent"] is False
    assert "headline '399元，399元' repeats itself: 399, 99元" in r.failures


def test_chinese_invented_words_and_counts_fail():
    r = _fails("无线降噪耳机", "天然橡胶材质，八色可选。立即购买！", EARBUDS, COMMUTERS, "zh")
    assert "words not supported by the brief or audience: 天然橡胶材质, 八色" in r.failures
    assert "counts not in the brief: 8 色" in r.failures
    good = _fails(
        "降噪耳机，续航40小时",
        "无线降噪耳机仅399元，上班族通勤之选。立即购买！",
        EARBUDS,
        COMMUTERS,
        "zh",
    )
    assert good.ok, good.failures


def test_description_that_only_repeats_the_headline_fails():
    r = _fails("续航40小时，399元", "续航40小时，399元。", EARBUDS, COMMUTERS, "zh")
    assert r.failures == ["the description only repeats the headline"]


def test_counts_units_and_number_words():
    assert counts("8-pack, 12 h glow, $39", "en") == {("8", "pack"), ("12", "hour"), ("39", "")}
    assert counts("eight colours, 12 hours", "en") == {("8", "colour"), ("12", "hour")}
    assert counts("续航40个小时，两年保修，一键降噪", "zh") == {("40", "小时"), ("2", "年")}


def test_unsupported_words_uses_stems_compounds_and_the_generic_list():
    src = "TrailMax running shoes: lightweight, waterproof; trail runners who love hiking"
    assert unsupported_words("Light Shoes for Hikers. Shop now!", src, "en") == []
    assert unsupported_words("Comfortable shoes for the rain", src, "en") == ["comfortable", "rain"]
    assert {"shop", "today", "discover"} <= generic_words("en")
    assert {"立即", "购买", "的"} <= generic_words("zh")


def test_repeated_ngrams():
    assert repeated_ngrams("Glow glow all night", "en") == ["glow glow"]
    assert repeated_ngrams("Solar lights for your garden, all of it", "en") == []
    assert repeated_ngrams("续航40小时，399元", "zh") == []


def test_template_angles_offer_and_voice():
    b = parse_brief(SOLAR, offer="free shipping", voice="friendly")
    seg = parse_segment(GARDENERS)
    cands = template_candidates(b, seg, "en", seed=0)
    heads = {c.headline for c in cands}
    descs = " ".join(c.description for c in cands)
    assert any(h.endswith("?") for h in heads)  # question
    assert any("Free Shipping" in h for h in heads)  # offer-led
    assert "Grab yours." in descs  # the friendly voice's call to action
    assert all(check_candidate(c, b, "en", audience=seg.text).ok for c in cands)


def test_offer_is_used_and_results_sorted_by_score():
    res = generate(SOLAR, GARDENERS, n=5, backend="template", offer="free shipping")
    text = [c["headline"] + " " + c["description"] for c in res.creatives]
    assert any("free shipping" in t.lower() for t in text)
    scores = [c["score"] for c in res.creatives]
    assert scores == sorted(scores, reverse=True)
    assert all(c["source"] == "template" for c in res.creatives)
    assert res.stats["check_pass_rate"]["template"]["grounded"] == 1.0


def test_sources_compete_in_one_pool(openai_server):
    pool = [OpenAIBackend(base_url=openai_server.url, sets=1), TemplateBackend()]
    brief, seg = parse_brief(BRIEF_EN), parse_segment(AUDIENCE_EN)
    res = generate_creatives(brief, seg, backend=pool, n=6, time_limit=20)
    assert res.backend == "openai+template" and res.stats["pooled"] is True
    assert set(res.stats["check_pass_rate"]) == {"openai", "template"}
    assert res.stats["candidates"]["template"] > 0  # the template competes, not only tops up
    srcs = [c["source"] for c in res.creatives]
    assert set(srcs) <= {"openai", "template"} and len(srcs) == 6
    assert sum(res.stats["sources"].values()) == 6
    assert res.stats["model_share"] == pytest.approx(srcs.count("openai") / 6, abs=1e-3)
    for c in res.creatives:
        assert {k: c["checks"][k] for k in CHECKS} == dict.fromkeys(CHECKS, True)


def test_time_limit_is_hard_for_the_pool(openai_server):
    openai_server.mode, openai_server.delay = "slow", 3.0
    pool = [OpenAIBackend(base_url=openai_server.url), TemplateBackend()]
    t0 = time.monotonic()
    res = generate_creatives(
        parse_brief(BRIEF_EN), parse_segment(AUDIENCE_EN), backend=pool, n=5, time_limit=1.0
    )
    assert time.monotonic() - t0 < 1.8
    assert res.stats["timed_out"] is True and len(res.creatives) == 5
    assert {c["source"] for c in res.creatives} == {"template"}


def test_auto_pools_every_configured_source(monkeypatch, openai_server):
    monkeypatch.setenv("ADWISE_LLM_MODEL", "/nonexistent/model.gguf")  # no local model
    monkeypatch.setenv("ADWISE_OPENAI_BASE_URL", openai_server.url)
    pool = make_backend("auto")
    assert [b.name for b in pool] == ["openai", "template"]
    monkeypatch.delenv("ADWISE_OPENAI_BASE_URL")
    assert make_backend("auto").name == "template"


def test_model_file_errors(tmp_path):
    with pytest.raises(InputError) as e:
        make_backend("local", model_file=str(tmp_path / "nope.gguf"))
    assert str(e.value) == (
        f"{tmp_path / 'nope.gguf'}: no such model file; --model-file (or $ADWISE_LLM_MODEL) "
        "must name a GGUF file, e.g. one downloaded from Hugging Face."
    )
    bad = tmp_path / "notes.gguf"
    bad.write_text("hello")
    with pytest.raises(InputError, match=r"notes\.gguf: not a GGUF model file"):
        model_path(bad)


def _gguf(path, kvs):
    """A GGUF header (version 3, no tensors) with the given key-value metadata."""

    def s(x: str) -> bytes:
        b = x.encode()
        return struct.pack("<Q", len(b)) + b

    out = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs))
    for key, value in kvs:
        out += s(key)
        if isinstance(value, str):
            out += struct.pack("<I", 8) + s(value)
        elif isinstance(value, list):  # array of strings
            out += struct.pack("<IIQ", 9, 8, len(value)) + b"".join(s(v) for v in value)
        else:
            out += struct.pack("<II", 4, value)
    path.write_bytes(out)
    return path


def test_gguf_chat_template_is_read_from_the_metadata(tmp_path):
    tpl = "{% for m in messages %}<|user|>{{ m.content }}{% endfor %}"
    inst = _gguf(
        tmp_path / "inst.gguf",
        [
            ("general.name", "x"),
            ("tokenizer.ggml.tokens", ["a", "bb"]),
            ("n", 7),
            ("tokenizer.chat_template", tpl),
        ],
    )
    assert gguf_chat_template(inst) == tpl
    base = _gguf(tmp_path / "base.gguf", [("general.name", "x"), ("n", 7)])
    assert gguf_chat_template(base) is None


def test_cli_says_who_wrote_the_lines_and_the_pass_rates(capsys, monkeypatch, tmp_path):
    from adwise.cli import main

    monkeypatch.chdir(tmp_path)  # no workspace here: nothing is stored
    args = ["creative", "generate", "-p", SOLAR, "-a", GARDENERS, "--backend", "template"]
    assert main([*args, "--no-store"]) == 0
    out = capsys.readouterr().out
    assert "written by: template 5; by a model: 0%" in out
    assert "template candidates passing each check: " in out
