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

__all__ = [
    "CTAS",
    "DESCRIPTION_PATTERNS",
    "HEADLINE_PATTERNS",
    "VOICE_CTAS",
    "ctas_for",
    "template_candidates",
]

CTAS = {
    "en": ("Shop now", "Order today", "Learn more", "Try it today", "Get yours today"),
    "zh": ("立即购买", "马上下单", "了解更多", "现在就试试", "立即体验"),
}
# Calls to action by brand voice (``--voice``): the first keyword found in the voice picks them.
VOICE_CTAS = {
    "en": (
        (("playful", "fun", "friendly", "casual", "cheerful"), ("Grab yours", "Give it a try")),
        (("premium", "luxury", "elegant", "refined", "classy"), ("Discover more", "Explore more")),
        (("calm", "warm", "caring", "gentle", "honest"), ("Learn more", "Take a look")),
        (("bold", "urgent", "energetic", "direct"), ("Order today", "Don't miss out")),
    ),
    "zh": (
        (("活泼", "轻松", "有趣", "俏皮", "亲切"), ("快来试试", "马上入手")),
        (("高端", "优雅", "品质", "精致", "奢华"), ("了解更多", "探索更多")),
        (("温暖", "温和", "贴心", "真诚"), ("了解更多", "一起试试")),
        (("直接", "果断", "热血", "紧迫"), ("马上下单", "别错过")),
    ),
}

# (angle, pattern). Slots: {name} {feature} {feature2} {feature3} {price} {offer} {audience}
# {interest} {cta}, and {nfeature}: a feature that reads as a noun phrase ("12 h glow",
# "30-hour battery"; one with a number), for patterns where an adjective would not fit
# ("Need lightweight?"). A pattern is used only when every slot it names has a value. Angles:
# feature, benefit, offer, price, audience, question, urgency, cta; the ranking picks among
# them, and MMR keeps the returned set varied.
HEADLINE_PATTERNS = {
    "en": (
        ("feature", "{name}: {feature}"),
        ("audience", "{name} for {audience}"),
        ("audience", "{feature} for {audience}"),
        ("offer", "{offer} on {name}"),
        ("offer", "{name} | {offer}"),
        ("offer", "{name}, Now with {offer}"),
        ("offer", "{feature}, Plus {offer}"),
        ("benefit", "{name}, {feature} & {feature2}"),
        ("benefit", "{feature} & {feature2}"),
        ("benefit", "Enjoy {nfeature}"),
        ("audience", "Love {interest}? Try {name}"),
        ("audience", "{interest} Fans: {name}"),
        ("audience", "Made for {audience}"),
        ("question", "Need {nfeature}? Try {name}"),
        ("question", "Ready for {interest}?"),
        ("question", "Looking for {nfeature}?"),
        ("urgency", "Get {name} Today"),
        ("urgency", "{offer}: Order Today"),
        ("urgency", "Don't Miss {offer}"),
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
        ("audience", "专为{audience}设计"),
        ("offer", "{name}，{offer}"),
        ("offer", "{offer}｜{name}"),
        ("offer", "{feature}，还{offer}"),
        ("benefit", "{feature}，{feature2}"),
        ("benefit", "{name}，{feature}"),
        ("benefit", "享受{feature}"),
        ("question", "想要{feature}？试试{name}"),
        ("question", "爱{interest}？选{name}"),
        ("urgency", "{name}，现在下单"),
        ("urgency", "别错过：{offer}"),
        ("urgency", "今天就入手{name}"),
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
        ("offer", "{name}: {feature} and {feature2}. {offer}! {cta}."),
        ("benefit", "{feature}, {feature2}: {name} for {audience}. {cta}."),
        ("benefit", "Enjoy {nfeature} with {name}. {cta}."),
        ("question", "Need {nfeature}? Try {name}. {cta}."),
        ("question", "Into {interest}? Try {name}, made for {audience}. {cta}."),
        ("urgency", "{offer} on {name} today: {feature}, {feature2}. {cta}."),
        ("urgency", "Don't wait: {name}, {feature} and {feature2}. {cta}."),
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
        ("offer", "{name}{feature}，{feature2}，还{offer}。{cta}！"),
        ("benefit", "享受{feature}与{feature2}，{name}为{audience}打造。{cta}！"),
        ("question", "想要{feature}？{name}还{feature2}。{cta}！"),
        ("urgency", "别错过：{offer}！{name}，{feature}。{cta}！"),
        ("urgency", "现在下单{name}：{feature}，{feature2}。{cta}！"),
        ("audience", "专为{audience}打造的{name}。{cta}！"),
        ("audience", "爱{interest}的你，试试{name}。{cta}！"),
    ),
}


def ctas_for(voice: str, lang: str) -> tuple[str, ...]:
    """The calls to action for a brand voice: its own first, then the defaults."""
    v = (voice or "").lower()
    for keys, ctas in VOICE_CTAS[lang]:
        if any(k in v for k in keys):
            return tuple(dict.fromkeys([*ctas, *CTAS[lang][:2]]))
    return CTAS[lang]


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


# Audience words that describe people rather than name a pastime ("Into young?" reads badly).
_NOT_TOPICS = frozenset(["young", "busy", "new", "old", "local", "mobile", "active", "happy"])


def _topics(seg: Segment, lang: str) -> list[str]:
    topics = [i for i in seg.interests if not _is_people(i, lang) and i not in _NOT_TOPICS]
    return topics[:3] or [""]


def _cap_sentences(text: str) -> str:
    return re.sub(r"([.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)


def _is_noun_phrase(feature: str) -> bool:
    """A feature with a number ("12 h glow", "续航40小时") reads as a thing one can have."""
    return any(c.isdigit() for c in feature)


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
                "nfeature": f[0] if _is_noun_phrase(f[0]) else "",
                "offer": offer_h,
                "price": price,
                "audience": aud_h,
                "interest": inter_h,
            },
        )
        if text and display_width(text) <= HEADLINE_MAX and text not in heads:
            heads.append(text)
    for (_, pat), aud, inter, perm, cta in itertools.product(
        DESCRIPTION_PATTERNS[lang], audiences or [""], interests, perms, ctas_for(brief.voice, lang)
    ):
        f = [feats_d[i] for i in perm] + ["", "", ""]
        vals = {
            "name": brief.name,
            "feature": f[0],
            "feature2": f[1],
            "feature3": f[2],
            "nfeature": f[0] if _is_noun_phrase(f[0]) else "",
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
