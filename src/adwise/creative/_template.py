"""The template backend: fills per-language pattern sets with facts taken from the brief.

It uses no model and cannot invent facts: every slot is filled with a string the brief or the
audience profile contains (name, feature, price, offer, interest) or with a fixed call to
action. Patterns are grouped by what they stress (benefit, feature, offer, audience,
call to action) so the candidate set covers several angles; ranking chooses among them.
"""

from __future__ import annotations

import itertools
import random
import re

from adwise.creative._brief import Brief, Segment
from adwise.creative._checks import DESCRIPTION_MAX, HEADLINE_MAX, Candidate
from adwise.creative._text import display_width

__all__ = ["CTAS", "DESCRIPTION_PATTERNS", "HEADLINE_PATTERNS", "template_candidates"]

CTAS = {
    "en": ("Shop now", "Order today", "Learn more", "Try it today", "Get yours today"),
    "zh": ("立即购买", "马上下单", "了解更多", "现在就试试", "立即体验"),
}

# (angle, pattern). Slots: {name} {feature} {feature2} {feature3} {price} {offer} {audience}
# {interest} {cta}. A pattern is used only when every slot it names has a value.
HEADLINE_PATTERNS = {
    "en": (
        ("feature", "{name}: {feature}"),
        ("audience", "{name} for {audience}"),
        ("audience", "{feature} for {audience}"),
        ("offer", "{offer} on {name}"),
        ("offer", "{name} | {offer}"),
        ("benefit", "{name}, {feature} & {feature2}"),
        ("benefit", "{feature} & {feature2}"),
        ("audience", "Love {interest}? Try {name}"),
        ("audience", "{interest} Fans: {name}"),
        ("price", "{name} at {price}"),
        ("price", "{feature}, Only {price}"),
        ("cta", "Meet {name}"),
        ("cta", "Discover {name}"),
    ),
    "zh": (
        ("feature", "{name}：{feature}"),
        ("audience", "{audience}的{name}"),
        ("audience", "爱{interest}？试试{name}"),
        ("audience", "{interest}之选：{name}"),
        ("offer", "{name}，{offer}"),
        ("offer", "{offer}｜{name}"),
        ("benefit", "{feature}，{feature2}"),
        ("benefit", "{name}，{feature}"),
        ("price", "{name}仅{price}"),
        ("cta", "认识{name}"),
    ),
}
DESCRIPTION_PATTERNS = {
    "en": (
        ("feature", "{name}: {feature}, {feature2} and {feature3}. {cta}."),
        ("feature", "{name}: {feature} and {feature2}. {cta}."),
        ("audience", "Made for {audience}: {feature} and {feature2}. {cta}."),
        ("audience", "Into {interest}? Try {name}: {feature}, {feature2}. {cta}."),
        ("price", "{name} at {price}. {feature} and {feature2}. {cta}."),
        ("offer", "{offer} on {name}. {feature}, {feature2}. {cta}."),
        ("benefit", "{feature}, {feature2}: {name} for {audience}. {cta}."),
        # Briefs that name only the product still get copy, from the audience alone.
        ("audience", "{name}, made for {audience}. {cta}."),
        ("audience", "Into {interest}? Discover {name}. {cta}."),
        ("cta", "Discover {name} today. {cta}."),
    ),
    "zh": (
        ("feature", "{name}：{feature}，{feature2}，{feature3}。{cta}！"),
        ("feature", "{name}：{feature}，{feature2}。{cta}！"),
        ("audience", "专为{audience}设计：{feature}，{feature2}。{cta}！"),
        ("audience", "爱{interest}的你，试试{name}：{feature}。{cta}！"),
        ("price", "{name}仅{price}，{feature}，{feature2}。{cta}！"),
        ("offer", "{offer}！{name}：{feature}，{feature2}。{cta}。"),
        ("audience", "专为{audience}打造的{name}。{cta}！"),
        ("audience", "爱{interest}的你，试试{name}。{cta}！"),
    ),
}

_SMALL = frozenset(
    ["a", "an", "the", "and", "or", "of", "to", "for", "in", "on", "at", "by", "with", "vs"]
)
_SLOT_RE = re.compile(r"\{(\w+)\}")


def _title(text: str) -> str:
    out = []
    parts = text.split(" ")
    for i, w in enumerate(parts):
        if i and (w.lower() in _SMALL or (len(w) == 1 and parts[i - 1][-1:].isdigit())):
            out.append(w.lower())
        elif w[:1].islower():
            out.append(w[:1].upper() + w[1:])
        else:
            out.append(w)
    return " ".join(out)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


_PEOPLE_ZH = re.compile(r"(父母|妈妈|爸爸|宝妈|学生|人|族|者|们|女性|男性|白领|家庭|老人|青年)$")


def _is_people(word: str, lang: str) -> bool:
    """Does an interest keyword name people ("runners", "年轻父母") rather than a topic?"""
    if lang == "zh":
        return bool(_PEOPLE_ZH.search(word))
    return len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "ics", "ing"))


def _audience_phrases(seg: Segment, lang: str) -> list[str]:
    out = []
    if display_width(seg.name) <= (22 if lang == "en" else 12):
        out.append(seg.name)
    for i in seg.interests[:3]:
        if _is_people(i, lang):
            out.append(i)
        else:
            out.append(f"{i} fans" if lang == "en" else f"{i}爱好者")
    return list(dict.fromkeys(out))


def _topics(seg: Segment, lang: str) -> list[str]:
    topics = [i for i in seg.interests if not _is_people(i, lang)]
    return topics[:3] or [""]


def _cap_sentences(text: str) -> str:
    return re.sub(r"([.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)


def _fill(pattern: str, values: dict[str, str]) -> str | None:
    if any(not values.get(s) for s in _SLOT_RE.findall(pattern)):
        return None
    return pattern.format(**values)


def template_candidates(
    brief: Brief,
    segment: Segment,
    lang: str,
    seed: int = 0,
    limit: int = 80,
) -> list[Candidate]:
    """Every pattern filled with every fitting combination of brief and audience values.

    Returns at most ``limit`` (headline, description) pairs, shuffled with ``seed``, each within
    the display-width limits. Strings that do not fit are skipped, never truncated.
    """
    rng = random.Random(seed)
    feats = [f for f in brief.features if display_width(f) <= (28 if lang == "en" else 16)]
    if lang == "en":
        name_h, feats_h = _title(brief.name), [_title(f) for f in feats]
        feats_d = [f[:1].lower() + f[1:] if not f[:2].isupper() else f for f in feats]
    else:
        name_h, feats_h, feats_d = brief.name, feats, feats
    audiences = _audience_phrases(segment, lang)
    interests = _topics(segment, lang)
    offer = brief.offer or ""
    offer_h = _title(offer) if lang == "en" else offer
    price = brief.price or ""
    heads: list[str] = []
    descs: list[str] = []
    perms = list(itertools.permutations(range(len(feats)), min(3, len(feats)))) or [()]
    rng.shuffle(perms)
    perms = perms[:12]
    for (_, pat), aud, inter, perm in itertools.product(
        HEADLINE_PATTERNS[lang], audiences or [""], interests, perms
    ):
        f = [feats_h[i] for i in perm] + ["", "", ""]
        aud_h = _title(aud) if lang == "en" else aud
        inter_h = _title(inter) if lang == "en" else inter
        text = _fill(
            pat,
            {
                "name": name_h,
                "feature": f[0],
                "feature2": f[1],
                "offer": offer_h,
                "price": price,
                "audience": aud_h,
                "interest": inter_h,
            },
        )
        if text and display_width(text) <= HEADLINE_MAX and text not in heads:
            heads.append(text)
    for (_, pat), aud, inter, perm, cta in itertools.product(
        DESCRIPTION_PATTERNS[lang], audiences or [""], interests, perms, CTAS[lang]
    ):
        f = [feats_d[i] for i in perm] + ["", "", ""]
        vals = {
            "name": brief.name,
            "feature": f[0],
            "feature2": f[1],
            "feature3": f[2],
            "offer": _sentence(offer) if lang == "en" else offer,
            "price": price,
            "audience": aud,
            "interest": inter,
            "cta": cta,
        }
        text = _fill(pat, vals)
        if text and lang == "en":
            text = _cap_sentences(_sentence(text))
        if text and display_width(text) <= DESCRIPTION_MAX and text not in descs:
            descs.append(text)
    if not heads or not descs:
        return []
    rng.shuffle(heads)
    rng.shuffle(descs)
    out = []
    for i in range(min(limit, max(len(heads), len(descs)))):
        out.append(Candidate(heads[i % len(heads)], descs[i % len(descs)], source="template"))
    return out
