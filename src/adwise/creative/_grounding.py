"""Grounding and fluency: does every content word come from the brief, and does the line read?

Grounding: a creative's content words (nouns, adjectives, materials, colours, counts) must be
supported by the brief, the audience, the offer, the brand voice or a curated list of generic
marketing words shipped with adwise (``generic_en.txt``, ``generic_zh.txt``: calls to action,
function words, praise that states no fact). A count must match the brief's count *and unit*:
"8-pack" supports "8-Pack" but not "eight colours". Without a part-of-speech tagger every word
outside the generic list counts as a content word, which errs toward refusing copy.

- English: a word is supported when its stem is the stem of a word of the sources.
- Chinese (no spaces): the line is covered greedily by the longest substrings (two characters or
  more) found in the sources or the generic list, plus single function characters; what is
  left uncovered is unsupported, reported as runs of characters.

Fluency: no repeated word bigram (English) or character trigram (Chinese) within a line — a
line that says "399元，399元" twice says nothing new — and no English headline ending in a
function word. The language model's own likelihood of a line is checked separately
(:mod:`adwise.creative._fluency`), because it needs the model.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from functools import cache
from importlib import resources

from adwise.creative._text import is_cjk, normalise, words

__all__ = [
    "adds_nothing",
    "counts",
    "generic_words",
    "repeated_ngrams",
    "stem",
    "unsupported_words",
]

NUMBER_WORDS_EN = {
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "dozen": "12",
    "twenty": "20",
    "hundred": "100",
}
# "一" is left out on purpose: "一键", "一款" mean "one-touch", "a" rather than a count.
_NUMERALS_ZH = {"两": "2", "二": "2", "三": "3", "四": "4", "五": "5", "六": "6", "七": "7"}
_NUMERALS_ZH |= {"八": "8", "九": "9", "十": "10"}
# Measure words and units that may follow a Chinese count, longest first when matched.
_UNITS_ZH = sorted(
    [
        "个小时",
        "小时",
        "分钟",
        "毫升",
        "毫安",
        "公斤",
        "公里",
        "个月",
        "年",
        "月",
        "周",
        "天",
        "日",
        "秒",
        "元",
        "块",
        "个",
        "只",
        "支",
        "件",
        "套",
        "款",
        "种",
        "色",
        "颗",
        "瓶",
        "盒",
        "包",
        "袋",
        "片",
        "双",
        "台",
        "张",
        "本",
        "米",
        "克",
        "斤",
        "升",
        "寸",
        "档",
        "倍",
        "层",
        "人",
        "次",
        "杯",
        "挡",
        "节",
        "粒",
        "条",
    ],
    key=len,
    reverse=True,
)
_UNIT_ALIASES = {
    "h": "hour",
    "hr": "hour",
    "hrs": "hour",
    "hour": "hour",
    "min": "minute",
    "mins": "minute",
    "pk": "pack",
    "yr": "year",
    "yrs": "year",
    "pc": "piece",
    "pcs": "piece",
}
_NUM_EN_RE = re.compile(
    r"([$€£¥￥])?(\d+(?:[.,]\d+)*|\b(?:" + "|".join(NUMBER_WORDS_EN) + r")\b)(%?)"
    r"(?:[\s-]+([A-Za-z]+))?",
    re.I,
)
_NUM_ZH_RE = re.compile(r"([$€£¥￥])?(\d+(?:\.\d+)?|[两二三四五六七八九十])(%?)")


@cache
def generic_words(lang: str) -> frozenset[str]:
    """The curated generic marketing words of ``lang`` (package data, one per line)."""
    text = resources.files("adwise.creative").joinpath(f"generic_{lang}.txt").read_text("utf-8")
    return frozenset(
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")
    )


def stem(word: str) -> str:
    """A crude English stem: "colours" and "colour", "runners" and "running" share one."""
    w = word.lower().replace("’", "'")
    w = _UNIT_ALIASES.get(w, w)
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    w = re.sub(r"(?:'s|ers|er|ing|ed|es|s|ly)$", "", w) if len(w) > 4 else w.rstrip("s")
    w = w[:-1] if len(w) > 3 and w[-1] == w[-2] else w
    return w[:-1] if len(w) > 3 and w.endswith("e") else w


def _num(token: str) -> str:
    t = token.lower()
    if t in NUMBER_WORDS_EN:
        return NUMBER_WORDS_EN[t]
    if t in _NUMERALS_ZH:
        return _NUMERALS_ZH[t]
    t = t.replace(",", "")
    return (t.rstrip("0").rstrip(".") if "." in t else t).lstrip("0") or "0"


def counts(text: str, lang: str) -> set[tuple[str, str]]:
    """``(number, unit)`` pairs stated by ``text``; the unit is ``""`` for prices and bare numbers.

    Examples
    --------
    >>> sorted(counts("8-pack, 12 h glow, $39", "en"))
    [('12', 'hour'), ('39', ''), ('8', 'pack')]
    >>> sorted(counts("续航40小时，八色可选", "zh"))
    [('40', '小时'), ('8', '色')]
    """
    out: set[tuple[str, str]] = set()
    if lang == "zh" or any(is_cjk(c) for c in text):
        for m in _NUM_ZH_RE.finditer(text):
            cur, num, pct = m.groups()
            if num in _NUMERALS_ZH and (m.start() and text[m.start() - 1] in "第一"):
                continue
            rest = text[m.end() :]
            unit = "" if cur or pct else next((u for u in _UNITS_ZH if rest.startswith(u)), "")
            if num in _NUMERALS_ZH and not unit:
                continue  # a numeral without a measure word is part of a word ("十足")
            out.add((_num(num), "小时" if unit == "个小时" else unit))
    if lang == "en" or not out:
        for m in _NUM_EN_RE.finditer(text):
            cur, num, pct, nxt = m.groups()
            unit = "" if cur or pct or not nxt else stem(nxt)
            if unit in generic_words("en") or unit in ("and", "or"):
                unit = ""
            out.add((_num(num), unit))
    return out


def _support_words(sources: str) -> set[str]:
    return {stem(w) for w in words(sources)} | {w for w in words(sources)}


def _cover_zh(text: str, sources: str, lang_words: frozenset[str]) -> list[str]:
    """Runs of CJK characters of ``text`` that no source substring or generic word covers."""
    src = normalise(sources)
    multi = sorted((w for w in lang_words if len(w) >= 2), key=len, reverse=True)
    single = {w for w in lang_words if len(w) == 1}
    bad: list[str] = []
    run = ""
    i = 0
    while i < len(text):
        if not is_cjk(text[i]):
            if run:
                bad.append(run)
                run = ""
            i += 1
            continue
        j = i + 1
        unit = next((u for u in _UNITS_ZH if text.startswith(u, i)), None)
        if unit and i and text[i - 1].isdigit():
            # the unit of a count ("399元"): whether the count is right is :func:`counts`' job
            if run:
                bad.append(run)
                run = ""
            i += len(unit)
            continue
        # the longest CJK stretch from i that the sources contain
        k = i
        while k < len(text) and is_cjk(text[k]):
            k += 1
        for end in range(k, i + 1, -1):
            if text[i:end] in src:
                j = end
                break
        else:
            hit = next((w for w in multi if text.startswith(w, i)), None)
            if hit is not None:
                j = i + len(hit)
            elif text[i] in single:
                j = i + 1
            else:
                run += text[i]
                i += 1
                continue
        if run:
            bad.append(run)
            run = ""
        i = j
    if run:
        bad.append(run)
    return bad


def unsupported_words(text: str, sources: str, lang: str) -> list[str]:
    """Content words of ``text`` that ``sources`` (brief, audience, offer, voice) do not support.

    Numbers are left to :func:`counts` (and the facts check); number words ("eight") are
    content words here unless the sources say them.

    Examples
    --------
    >>> unsupported_words("Choose from eight colors", "Solar lights: 8-pack, $39", "en")
    ['eight', 'colors']
    >>> unsupported_words("天然橡胶耳机", "无线降噪耳机，续航40小时", "zh")
    ['天然橡胶']
    """
    generic = generic_words(lang)
    support = _support_words(sources)
    bad: list[str] = []
    latin = words(text)
    for w in latin:
        if any(c.isdigit() for c in w):
            continue
        if w in generic_words("en") or w in support or stem(w) in support:
            continue
        # parts of compounds: "light" of "lightweight", "waterproof" of "waterproofing"
        if len(w) >= 4 and any(len(s) >= 4 and (w in s or s in w) for s in support):
            continue
        bad.append(w)
    if lang == "zh":
        bad += _cover_zh(text, sources, generic)
    return list(dict.fromkeys(bad))


def repeated_ngrams(text: str, lang: str) -> list[str]:
    """Word bigrams (English; not two function words) or character trigrams (Chinese) said twice.

    Examples
    --------
    >>> repeated_ngrams("399元，399元，399元。", "zh")
    ['399', '99元', '9元3', '元39']
    >>> repeated_ngrams("Glow glow all night", "en")
    ['glow glow']
    """
    if lang == "zh" or any(is_cjk(c) for c in text):
        t = normalise(text)
        grams = Counter(t[i : i + 3] for i in range(len(t) - 2))
    else:
        ws = words(text)
        generic = generic_words("en")
        pairs = [
            f"{a} {b}"
            for a, b in itertools.pairwise(ws)
            if a == b or not (a in generic and b in generic)
        ]
        grams = Counter(pairs)
        for p in pairs:
            a, b = p.split(" ")
            if a == b:
                grams[p] += 1
    return [g for g, k in grams.items() if k > 1]


def adds_nothing(headline: str, description: str) -> bool:
    """True when the description says (almost) only what the headline says.

    Fewer than a third of the description's character trigrams are new: "续航40小时，399元"
    under the headline "续航40小时，399元" tells the reader nothing more.
    """
    d = normalise(description)
    dg = {d[i : i + 3] for i in range(len(d) - 2)}
    if not dg:
        return False
    h = normalise(headline)
    hg = {h[i : i + 3] for i in range(len(h) - 2)}
    return len(dg - hg) < len(dg) / 3
