"""The inputs of generation: a product brief and an audience (segment) profile.

A brief may be given as structured fields or as one line of free text, e.g.
``"TrailMax running shoes: lightweight, waterproof, $89, free shipping"``; :func:`parse_brief`
splits free text into the name (before the first ``:``/``-``/comma), facts (the other clauses),
the price (a clause with a currency) and the offer (a clause with an offer word).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from adwise._exceptions import InputError
from adwise.creative._text import LANGUAGES, cjk_share, extract_numbers, is_cjk, words

__all__ = ["Brief", "Segment", "check_language", "parse_brief", "parse_segment"]

_OFFER_EN = re.compile(
    r"\b(free|off|discount|sale|save|savings|deal|bonus|gift|trial|refund|coupon|bogo)\b|%", re.I
)
_OFFER_ZH = re.compile(r"免费|包邮|折|优惠|送|减|特价|赠|券|试用")
_PRICE_RE = re.compile(r"[$€£¥￥]\s?\d|\d\s?(元|块|usd|eur|gbp|rmb|dollars?)\b", re.I)

_STOP_EN = set(
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
        "who",
        "whom",
        "that",
        "this",
        "these",
        "those",
        "is",
        "are",
        "was",
        "be",
        "been",
        "at",
        "by",
        "from",
        "as",
        "into",
        "about",
        "than",
        "their",
        "they",
        "them",
        "people",
        "users",
        "customers",
        "audience",
        "segment",
        "who's",
        "interested",
        "interest",
        "interests",
        "like",
        "likes",
        "love",
        "loves",
        "enjoy",
        "enjoys",
        "want",
        "wants",
        "looking",
        "mostly",
        "often",
        "very",
        "some",
        "many",
        "more",
        "most",
        "any",
        "all",
        "our",
        "your",
        "you",
        "we",
        "i",
        "it",
        "its",
        "also",
        "such",
        "other",
        "others",
        "aged",
        "age",
        "years",
        "year",
        "old",
        "between",
        "do",
        "does",
    ]
)
_CLAUSE_RE = re.compile(r"[,，;；。、]|\.\s")
_SPLIT_ZH = re.compile(r"[，,、；;。.！!？?：:\s/|]+|和|与|及|或|的")


def check_language(lang: str) -> str:
    """Return ``lang`` if adwise generates in it, else raise :class:`InputError`."""
    if lang not in LANGUAGES:
        raise InputError(f"language {lang!r} is not supported; use one of: {', '.join(LANGUAGES)}.")
    return lang


@dataclass
class Brief:
    """What the advertiser says about the product; the only source of facts a creative may use.

    Parameters
    ----------
    name : str
        Product or brand name.
    facts : list of str
        Short true statements (features, materials, guarantees) that creatives may repeat.
    price : str or None
        The price as it may be shown, e.g. ``"$89"``.
    offer : str or None
        The current offer, e.g. ``"free shipping"``.
    voice : str
        Brand voice in a few words (used in model prompts).
    banned : list of str
        Words or claims that must never appear.
    required : list of str
        Terms every creative must contain (headline or description), e.g. the brand.
    lang : str
        ``"en"`` or ``"zh"``.
    """

    name: str
    facts: list[str] = field(default_factory=list)
    price: str | None = None
    offer: str | None = None
    voice: str = ""
    banned: list[str] = field(default_factory=list)
    required: list[str] = field(default_factory=list)
    lang: str = "en"

    def __post_init__(self) -> None:
        check_language(self.lang)
        self.name = (self.name or "").strip()
        self.facts = [f.strip() for f in self.facts if f and f.strip()]
        if not self.name and not self.facts:
            raise InputError(
                "the product brief is empty; give at least a product name and one fact, e.g. "
                "--product 'TrailMax running shoes: lightweight, waterproof, $89'."
            )
        if not self.name:
            self.name = self.facts.pop(0)

    @property
    def text(self) -> str:
        """Everything the brief says, in one string (what the fact check compares with)."""
        parts = [self.name, *self.facts, self.price or "", self.offer or ""]
        return " ; ".join(p for p in parts if p)

    @property
    def numbers(self) -> set[str]:
        return extract_numbers(self.text)

    @property
    def features(self) -> list[str]:
        """Facts that are neither the price nor the offer."""
        skip = {self.price, self.offer}
        return [f for f in self.facts if f not in skip]

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "facts": self.facts,
            "price": self.price,
            "offer": self.offer,
            "voice": self.voice,
            "banned": self.banned,
            "required": self.required,
            "lang": self.lang,
        }


def parse_brief(
    text: str,
    lang: str = "en",
    *,
    price: str | None = None,
    offer: str | None = None,
    voice: str = "",
    banned: list[str] | None = None,
    required: list[str] | None = None,
) -> Brief:
    """Split a one-line free-text brief into a :class:`Brief`.

    Examples
    --------
    >>> b = parse_brief("TrailMax running shoes: lightweight, waterproof, $89, free shipping")
    >>> b.name, b.features, b.price, b.offer
    ('TrailMax running shoes', ['lightweight', 'waterproof'], '$89', 'free shipping')
    """
    check_language(lang)
    text = (text or "").strip()
    if not text:
        raise InputError(
            "the product brief is empty; give at least a product name and one fact, e.g. "
            "--product 'TrailMax running shoes: lightweight, waterproof, $89'."
        )
    m = re.search(r"\s*[:：]\s*|\s+[-–—]\s+", text)
    if m:
        head, rest = text[: m.start()], text[m.end() :]
        rest_clauses = [c.strip() for c in _CLAUSE_RE.split(rest) if c.strip()]
    else:
        clauses = [c.strip() for c in _CLAUSE_RE.split(text) if c.strip()] or [""]
        head, rest_clauses = clauses[0], clauses[1:]
    if not re.search(r"\w", head):
        raise InputError(
            f"the product brief {text[:80]!r} has no product name before its facts; start it "
            "with the name, e.g. --product 'TrailMax running shoes: lightweight, waterproof, "
            "$89'."
        )
    facts: list[str] = []
    for c in rest_clauses:
        c = c.rstrip(".")
        offer_re = _OFFER_ZH if lang == "zh" else _OFFER_EN
        if price is None and _PRICE_RE.search(c):
            price = c
        elif offer is None and offer_re.search(c):
            offer = c
        facts.append(c)
    if price and price not in facts:
        facts.append(price)
    if offer and offer not in facts:
        facts.append(offer)
    return Brief(
        name=head.strip(),
        facts=facts,
        price=price,
        offer=offer,
        voice=voice,
        banned=list(banned or []),
        required=list(required or []),
        lang=lang,
    )


@dataclass
class Segment:
    """Whom the ad speaks to: a label, interest keywords and a free-text description."""

    name: str
    interests: list[str] = field(default_factory=list)
    description: str = ""
    segment_id: str | None = None

    @property
    def text(self) -> str:
        return " ".join([self.name, *self.interests, self.description]).strip()

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "interests": self.interests,
            "description": self.description,
            "segment_id": self.segment_id,
        }


def parse_segment(text: str, lang: str = "en", segment_id: str | None = None) -> Segment:
    """Interest keywords from a free-text audience description.

    Examples
    --------
    >>> parse_segment("young parents who love hiking and camping").interests
    ['young', 'parents', 'hiking', 'camping']
    """
    check_language(lang)
    text = (text or "").strip()
    if not text:
        raise InputError(
            "the audience is empty; describe it in a few words, e.g. --audience "
            "'trail runners who love the outdoors'."
        )
    if lang == "zh" or cjk_share(text) > 0.5:
        toks = [re.sub(r"^(喜欢|热爱|关注|爱好|经常)", "", t) for t in _SPLIT_ZH.split(text)]
        toks = [t for t in toks if 2 <= len(t) <= 8]
        toks = [t for t in toks if t not in ("喜欢", "热爱", "用户", "人群", "关注", "爱好者")]
    else:
        toks = [w for w in words(text) if w not in _STOP_EN and len(w) > 2 and not w.isdigit()]
    seen: list[str] = []
    for t in toks:
        if t not in seen:
            seen.append(t)
    name = text if len(text) <= 60 else " ".join(seen[:3])
    return Segment(name=name, interests=seen[:8], description=text, segment_id=segment_id)


def has_cjk(text: str) -> bool:
    return any(is_cjk(c) for c in text)
