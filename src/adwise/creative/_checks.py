"""Hard rules every returned creative obeys (the system's guarantee, whatever the backend).

The rules follow what ad platforms enforce for text ads (Google responsive search ads: headline
<= 30, description <= 90 characters, CJK characters counting double) and what Google's open
Copycat checks on generated copy, plus a fact check: a creative may not state a number, an
offer-like claim or a proper name (a retailer, brand or place) that the brief does not contain.
Two more come from issue 16, where copy that "passed every check" read as nonsense:
``grounded`` (every content word and count is supported by the brief, the audience or the
generic word list; see :mod:`adwise.creative._grounding`) and ``fluent`` (no repeated word
bigram or character trigram within a line, and a description that adds to its headline). The
model's likelihood of a line is checked by the generator (``likelihood``), as it needs the model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from adwise.creative._brief import Brief
from adwise.creative._grounding import (
    adds_nothing,
    counts,
    repeated_ngrams,
    unsupported_words,
)
from adwise.creative._text import (
    cjk_share,
    display_width,
    extract_numbers,
    is_cjk,
    normalise,
    similarity,
    words,
)

__all__ = [
    "CHECKS",
    "DESCRIPTION_MAX",
    "HEADLINE_MAX",
    "NEAR_DUPLICATE",
    "Candidate",
    "CheckResult",
    "check_candidate",
]

HEADLINE_MAX = 30
DESCRIPTION_MAX = 90
NEAR_DUPLICATE = 0.8  # character-trigram Jaccard at or above which two headlines are one

CHECKS = (
    "counts",
    "headline_length",
    "description_length",
    "facts",
    "complete",
    "clean",
    "required_terms",
    "banned_terms",
    "unique",
    "original",
    "language",
    "grounded",
    "fluent",
)

# Words that state an offer or a superlative: allowed only when the brief says them too.
CLAIMS_EN = frozenset(
    [
        "free",
        "off",
        "discount",
        "discounts",
        "sale",
        "save",
        "saves",
        "saving",
        "savings",
        "deal",
        "deals",
        "bonus",
        "gift",
        "gifts",
        "trial",
        "refund",
        "refunds",
        "coupon",
        "coupons",
        "clearance",
        "bogo",
        "guarantee",
        "guaranteed",
        "guarantees",
        "best",
        "cheapest",
        "lowest",
        "fastest",
        "award",
        "awarded",
        "winning",
        "certified",
        "clinically",
        "proven",
        "cure",
        "cures",
        "unlimited",
        "lifetime",
        "warranty",
    ]
)
CLAIMS_ZH = (
    "免费",
    "包邮",
    "折",
    "优惠",
    "送",
    "赠",
    "减",
    "特价",
    "最",
    "第一",
    "保证",
    "保障",
    "限时",
    "秒杀",
    "券",
    "返现",
    "冠军",
    "治愈",
    "终身",
    "无限",
)
_JUNK_RE = re.compile(
    r"<[^>\s]*>?|\{\{|\}\}|\./|\.\./|https?:|www\.|\\[nt]|```|\[/?[A-Z]+\]|<\||\|>|#{2,}|_{2,}"
    r"|[\x00-\x08\x0b-\x1f\x7f]|\ufffd"
)
_DANGLING_EN = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "for",
        "in",
        "on",
        "with",
        "by",
        "at",
        "from",
        "your",
        "our",
        "their",
        "its",
        "is",
        "are",
        "be",
        "as",
        "than",
        "that",
        "this",
        "but",
        "so",
        "if",
    ]
)
_DANGLING_ZH = tuple('的和与及、，,：:；;（(“"')


@dataclass
class Candidate:
    """One generated headline + description, before or after checking."""

    headline: str
    description: str
    source: str = "template"
    truncated: bool = False  # the backend stopped it at a token limit


@dataclass
class CheckResult:
    """Which rules a candidate passed, and why it failed the others (in words)."""

    passed: dict[str, bool] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(self.passed.values())

    def _set(self, name: str, ok: bool, why: str = "") -> None:
        self.passed[name] = self.passed.get(name, True) and ok
        if not ok and why:
            self.failures.append(why)


def _claims(text: str, lang: str) -> set[str]:
    found = {w for w in words(text) if w in CLAIMS_EN}
    if "%" in text or "％" in text:
        found.add("%")
    if lang == "zh" or any(is_cjk(c) for c in text):
        found |= {c for c in CLAIMS_ZH if c in text}
    return found


_CAP_WORD_RE = re.compile(r"(?<![\w'’])([A-Z][\w'’-]*)")
_SOURCE_RE = re.compile(
    r"\b(?i:only|exclusively|available|sold|shop|buy|order|now)\s+(?i:on|at|via|from|in)\s+"
    r"([A-Z][\w'’-]*)"
)
_SENTENCE_END = tuple(".!?:;")


def _stem(word: str) -> str:
    return re.sub(r"(?:ers|er|ing|es|s)$", "", word.lower())


def _names(headline: str, description: str) -> set[str]:
    """Words that read as proper names (retailers, brands, places) in English copy.

    Descriptions are in sentence case, so a capitalised word that does not start a sentence is
    a name. Headlines are in title case, where only a sales channel ("Only on Amazon",
    "Available at Target") reliably reads as a name.
    """
    found = set(_SOURCE_RE.findall(headline))
    for m in _CAP_WORD_RE.finditer(description):
        before = description[: m.start()].rstrip()
        if before and not before.endswith(_SENTENCE_END) and m.group(1) != "I":
            found.add(m.group(1))
    return found


def _complete(text: str, lang: str) -> bool:
    t = text.strip()
    if not t:
        return False
    if t[-1] in "-–'’,;:/&(\"“" or t.count("(") != t.count(")") or t.count('"') % 2:
        return False
    if any(is_cjk(c) for c in t) or lang == "zh":
        return not t.endswith(_DANGLING_ZH)
    last = words(t)
    return bool(last) and last[-1] not in _DANGLING_EN


def _language_ok(text: str, lang: str, brief: Brief) -> bool:
    if lang == "en":
        return not any(is_cjk(c) for c in text)
    # Chinese copy may keep latin brand names, units and model numbers from the brief.
    rest = text
    for w in sorted(
        set(re.findall(r"[A-Za-z]+", " ".join([brief.text, *brief.required]))),
        key=len,
        reverse=True,
    ):
        rest = rest.replace(w, "")
    if not any(c.isalpha() for c in rest):
        return False
    return cjk_share(rest) >= 0.8


def _grounding_checks(
    r: CheckResult, h: str, d: str, brief: Brief, lang: str, audience: str
) -> None:
    sources = " ; ".join([brief.text, brief.voice, *brief.required, audience])
    both = f"{h} ; {d}"
    bad = unsupported_words(both, sources, lang)
    r._set("grounded", not bad, f"words not supported by the brief or audience: {', '.join(bad)}")
    have = counts(sources, lang)
    nums = {n for n, _ in have}
    wrong = sorted(
        (n, u) for n, u in counts(both, lang) if (n, u) not in have and not (u == "" and n in nums)
    )
    said = {n: sorted(f"{n} {x}".strip() for m, x in have if m == n) for n, _ in wrong}
    r._set(
        "grounded",
        not wrong,
        "counts not in the brief: "
        + "; ".join(
            f"{n} {u}" + (f" (the brief says {', '.join(said[n])})" if said[n] else "")
            for n, u in wrong
        ),
    )
    for part, what in ((h, "headline"), (d, "description")):
        rep = repeated_ngrams(part, lang)
        r._set("fluent", not rep, f"{what} {part!r} repeats itself: {', '.join(rep)}")
    r._set("fluent", not adds_nothing(h, d), "the description only repeats the headline")


def check_candidate(
    cand: Candidate,
    brief: Brief,
    lang: str,
    examples: Sequence[str] = (),
    accepted: Sequence[Candidate] = (),
    audience: str = "",
) -> CheckResult:
    """Run every rule of :data:`CHECKS` on one candidate.

    Parameters
    ----------
    cand : Candidate
    brief : Brief
        The only source of facts: every number and claim word must appear in it.
    lang : {"en", "zh"}
    examples : sequence of str
        Few-shot texts shown to the model; a candidate may not copy one.
    accepted : sequence of Candidate
        Candidates already accepted; a new one may not (nearly) duplicate their headline
        (character-trigram Jaccard >= :data:`NEAR_DUPLICATE`), nor repeat a description with a
        similar (>= 0.5) headline.
    audience : str
        The audience description; its words may be named in the copy (with the brief's).
    """
    r = CheckResult()
    h, d = (cand.headline or "").strip(), (cand.description or "").strip()
    r._set("counts", bool(h) and bool(d), "a headline and a description are both required")
    r._set(
        "headline_length",
        0 < display_width(h) <= HEADLINE_MAX,
        f"headline {h!r} is {display_width(h)} wide; the limit is {HEADLINE_MAX}"
        " (CJK characters count 2)",
    )
    r._set(
        "description_length",
        0 < display_width(d) <= DESCRIPTION_MAX,
        f"description is {display_width(d)} wide; the limit is {DESCRIPTION_MAX}",
    )
    both = f"{h} {d}"
    bad_nums = sorted(extract_numbers(both) - brief.numbers)
    r._set("facts", not bad_nums, f"numbers not in the brief: {', '.join(bad_nums)}")
    brief_claims = _claims(brief.text, lang)
    bad_claims = sorted(_claims(both, lang) - brief_claims)
    r._set("facts", not bad_claims, f"claims not in the brief: {', '.join(bad_claims)}")
    if lang == "en":
        known = {_stem(w) for w in words(f"{brief.text} {' '.join(brief.required)} {audience}")}
        bad_names = sorted(w for w in _names(h, d) if _stem(w) not in known)
        r._set("facts", not bad_names, f"names not in the brief: {', '.join(bad_names)}")
    for part, what in ((h, "headline"), (d, "description")):
        r._set(
            "complete",
            not cand.truncated and _complete(part, lang),
            f"{what} {part!r} looks cut off",
        )
        r._set("clean", not _JUNK_RE.search(part), f"{what} {part!r} contains markup or junk")
        r._set(
            "language",
            _language_ok(part, lang, brief),
            f"{what} {part!r} is not in the requested language ({lang})",
        )
    _grounding_checks(r, h, d, brief, lang, audience)
    low = both.lower()
    missing = [t for t in brief.required if t.lower() not in low]
    r._set("required_terms", not missing, f"missing required terms: {', '.join(missing)}")
    banned = [t for t in brief.banned if t and t.lower() in low]
    r._set("banned_terms", not banned, f"contains banned terms: {', '.join(banned)}")
    # Descriptions may be shared (as in responsive search ads); headlines may not.
    dup = any(
        (sh := similarity(h, a.headline)) >= NEAR_DUPLICATE
        or (sh >= 0.5 and similarity(d, a.description) >= NEAR_DUPLICATE)
        for a in accepted
    )
    r._set("unique", not dup, "a near-duplicate of another creative")
    nh, nd = normalise(h), normalise(d)
    copied = any(
        (ne := normalise(e)) and (ne in (nh, nd) or (len(ne) >= 12 and ne in normalise(both)))
        for e in examples
    )
    r._set("original", not copied, "copies one of the example creatives verbatim")
    return r
