"""Unit tests of the text helpers, the brief parser, the checks and the template backend."""

from __future__ import annotations

import pytest
from creative_briefs import AUDIENCE_EN, AUDIENCE_ZH, BRIEF_EN, BRIEF_ZH

from adwise import InputError
from adwise.creative import (
    CHECKS,
    Candidate,
    check_candidate,
    display_width,
    parse_brief,
    parse_segment,
)
from adwise.creative._template import template_candidates
from adwise.creative._text import extract_numbers, similarity


def test_display_width_counts_cjk_double():
    assert display_width("Run faster") == 10
    assert display_width("轻风跑鞋") == 8
    assert display_width("轻风 Run") == 8


def test_extract_numbers_normalises():
    assert extract_numbers("now $1,299.00, 20% off, 2 years") == {"1299", "20", "2"}
    assert extract_numbers("299元") == {"299"}


def test_parse_brief_splits_facts_price_offer():
    b = parse_brief(BRIEF_EN)
    assert (b.name, b.price, b.offer) == ("TrailMax running shoes", "$89", "free shipping")
    assert b.features == ["lightweight", "waterproof"]
    z = parse_brief(BRIEF_ZH, "zh")
    assert (z.name, z.price, z.offer) == ("轻风跑鞋", "299元", "全国包邮")


def test_parse_segment_keeps_interest_words():
    assert parse_segment(AUDIENCE_EN).interests == ["trail", "runners", "hiking", "camping"]
    assert parse_segment(AUDIENCE_ZH, "zh").interests == ["徒步", "露营", "年轻父母"]


@pytest.mark.parametrize(
    ("text", "lang", "message"),
    [
        (
            "",
            "en",
            "the product brief is empty; give at least a product name and one fact, e.g. "
            "--product 'TrailMax running shoes: lightweight, waterproof, $89'.",
        ),
        ("x: y", "fr", "language 'fr' is not supported; use one of: en, zh."),
    ],
)
def test_parse_brief_bad_input(text, lang, message):
    with pytest.raises(InputError) as e:
        parse_brief(text, lang)
    assert str(e.value) == message


def _check(h, d, lang="en", brief=BRIEF_EN, **kw):
    b = parse_brief(brief, lang, **{k: v for k, v in kw.items() if k in ("banned", "required")})
    return check_candidate(
        Candidate(h, d),
        b,
        lang,
        examples=kw.get("examples", ()),
        accepted=kw.get("accepted", ()),
        audience=AUDIENCE_EN if lang == "en" else AUDIENCE_ZH,
    )


def test_names_from_the_brief_and_audience_are_allowed():
    b = parse_brief(BRIEF_EN)
    c = Candidate("Run in TrailMax", "Waterproof TrailMax shoes for Hikers. Shop now.")
    assert check_candidate(c, b, "en", audience=AUDIENCE_EN).ok  # "hikers" ~ "hiking"
    assert "names not in the brief: Hikers" in check_candidate(c, b, "en").failures


def test_good_candidate_passes_every_check():
    r = _check("Waterproof Running Shoes", "TrailMax at $89 with free shipping. Shop now.")
    assert r.ok and set(r.passed) == set(CHECKS) and r.failures == []


@pytest.mark.parametrize(
    ("headline", "description", "check", "failure"),
    [
        ("TrailMax now $49", "Light shoes. Shop now.", "facts", "numbers not in the brief: 49"),
        ("TrailMax Shoes", "Save 50 today. Shop now.", "facts", "numbers not in the brief: 50"),
        ("Best Trail Shoes", "Light shoes. Shop now.", "facts", "claims not in the brief: best"),
        ("Only on Amazon", "Light shoes. Shop now.", "facts", "names not in the brief: Amazon"),
        (
            "Light Trail Shoes",
            "Light shoes, sold at Walmart. Shop now.",
            "facts",
            "names not in the brief: Walmart",
        ),
        (
            "A" * 31,
            "Light shoes. Shop now.",
            "headline_length",
            f"headline {'A' * 31!r} is 31 wide; the limit is 30 (CJK characters count 2)",
        ),
        ("Light Shoes", "x" * 91, "description_length", "description is 91 wide; the limit is 90"),
        (
            "Shoes for the",
            "Light shoes. Shop now.",
            "complete",
            "headline 'Shoes for the' looks cut off",
        ),
        (
            "<|im_end|> Shoes",
            "Light shoes. Shop now.",
            "clean",
            "headline '<|im_end|> Shoes' contains markup or junk",
        ),
        (
            "Run {{name}}",
            "Light shoes. Shop now.",
            "clean",
            "headline 'Run {{name}}' contains markup or junk",
        ),
        (
            "See ./shoes",
            "Light shoes. Shop now.",
            "clean",
            "headline 'See ./shoes' contains markup or junk",
        ),
        (
            "轻风跑鞋",
            "Light shoes. Shop now.",
            "language",
            "headline '轻风跑鞋' is not in the requested language (en)",
        ),
        ("Light Shoes", "", "counts", "a headline and a description are both required"),
    ],
)
def test_each_rule_fails_with_its_message(headline, description, check, failure):
    r = _check(headline, description)
    assert not r.ok
    assert r.passed[check] is False
    assert failure in r.failures


def test_required_banned_duplicate_and_copy_rules():
    r = _check("Light Trail Shoes", "Waterproof shoes. Shop now.", required=["TrailMax"])
    assert r.failures == ["missing required terms: TrailMax"]
    r = _check("Light Trail Shoes", "Waterproof shoes. Shop now.", banned=["trail"])
    assert r.failures == ["contains banned terms: trail"]
    prev = Candidate("Light Trail Shoes!", "Waterproof shoes. Shop today.")
    r = _check("Light Trail Shoes", "Waterproof shoes. Shop now.", accepted=[prev])
    assert r.failures == ["a near-duplicate of another creative"]
    r = _check("Light Trail Shoes", "Waterproof shoes. Shop now.", examples=["light trail shoes"])
    assert r.failures == ["copies one of the example creatives verbatim"]


def test_chinese_rules():
    assert _check("轻风跑鞋，全国包邮", "轻风跑鞋仅299元，防水透气。立即购买！", "zh", BRIEF_ZH).ok
    r = _check("轻风跑鞋五折", "轻风跑鞋仅199元，防水透气。立即购买！", "zh", BRIEF_ZH)
    assert "numbers not in the brief: 199" in r.failures
    assert "claims not in the brief: 折" in r.failures
    r = _check("轻风跑鞋超轻鞋面防水透气全国包邮", "防水透气。立即购买！", "zh", BRIEF_ZH)
    assert r.passed["headline_length"] is False  # 16 CJK characters are 32 columns
    r = _check("Light shoes", "防水透气。立即购买！", "zh", BRIEF_ZH)
    assert r.passed["language"] is False


def test_similarity_is_jaccard_of_trigrams():
    assert similarity("abcd", "abcd") == 1.0
    assert similarity("abcd", "wxyz") == 0.0
    assert similarity("abcd", "abce") == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("brief", "audience", "lang"), [(BRIEF_EN, AUDIENCE_EN, "en"), (BRIEF_ZH, AUDIENCE_ZH, "zh")]
)
def test_template_candidates_use_only_brief_facts(brief, audience, lang):
    b, s = parse_brief(brief, lang), parse_segment(audience, lang)
    cands = template_candidates(b, s, lang, seed=1)
    assert len(cands) >= 20
    results = [check_candidate(c, b, lang, audience=s.text) for c in cands]
    # Checked one by one (no duplicate rule), every template candidate is valid.
    assert all(r.ok for r in results), [r.failures for r in results if not r.ok][:3]


def test_lines_that_reach_a_grammar_limit_count_as_cut_off():
    from adwise.creative._backends import hit_grammar_limit

    desc = "TrailMax is light and waterproof. Shop now."
    assert not hit_grammar_limit(Candidate("Fresh Trails, Dry Feet Always", desc))
    # 6 words: the grammar's headline limit, so the model may have been stopped mid-phrase
    assert hit_grammar_limit(Candidate("Free Shipping on Your First Pair", desc))
    long_sentence = "Trail runners " + " ".join(["get"] * 14) + "."  # 16 words
    assert hit_grammar_limit(Candidate("Dry Feet", long_sentence))
    assert hit_grammar_limit(Candidate("Waterproofingab Shoes", desc))  # 15 letters, cut there
    assert not hit_grammar_limit(Candidate("Waterproofingab Shoes", desc), ["Waterproofingab"])


def test_local_prompt_names_the_audience_interests_and_grammar_only_brief_literals():
    from adwise.creative import GenerationRequest
    from adwise.creative._backends import completion_prompt, grammar_for

    req = GenerationRequest(parse_brief(BRIEF_EN), parse_segment(AUDIENCE_EN), "en")
    prompt = completion_prompt(req)
    assert prompt.endswith(
        "Audience: trail runners who love hiking and camping\n"
        "Interests: trail, runners, hiking, camping\n"
    )
    grammar = grammar_for(req)
    assert 'lit  ::= "TrailMax" | "$89"' in grammar
    # headlines 1-3 must name one of the audience's interests
    assert 'aud  ::= "Trail" | "trail" | "Runners" | "runners" | "Hiking" | "hiking"' in grammar
    assert '"Headline 1: " hla "\\nHeadline 2: " hla "\\nHeadline 3: " hla' in grammar
    req_zh = GenerationRequest(parse_brief(BRIEF_ZH, "zh"), parse_segment(AUDIENCE_ZH, "zh"), "zh")
    assert completion_prompt(req_zh).endswith(
        "人群：喜欢徒步和露营的年轻父母\n兴趣：徒步、露营、年轻父母\n"
    )
