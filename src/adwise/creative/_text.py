"""Text helpers shared by the creative backends, checks and ranking (pure functions).

Display width follows Unicode East Asian Width: wide (``W``) and full-width (``F``) characters
count 2 columns, every other printable character 1 — the rule ad platforms use when they say a
headline may have 30 "characters" but a Chinese one only 15.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "LANGUAGES",
    "cjk_share",
    "display_width",
    "extract_numbers",
    "is_cjk",
    "normalise",
    "shingles",
    "similarity",
    "words",
]

LANGUAGES = ("en", "zh")

_NUM_RE = re.compile(r"\d+(?:[.,]\d+)*")
_WORD_RE = re.compile(r"[A-Za-z0-9\u00C0-\u024F]+(?:['’][A-Za-z]+)?")


def is_cjk(ch: str) -> bool:
    """True for CJK ideographs (the characters that make a string Chinese)."""
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF


def display_width(text: str) -> int:
    """Columns ``text`` takes on screen: East Asian wide/full-width characters count 2.

    Examples
    --------
    >>> display_width("Run faster")
    10
    >>> display_width("轻量跑鞋")
    8
    """
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def extract_numbers(text: str) -> set[str]:
    """The numbers in ``text``, normalised (thousands separators dropped, ``89.00`` -> ``89``).

    Examples
    --------
    >>> sorted(extract_numbers("now $1,299.00, 20% off, 2 years"))
    ['1299', '2', '20']
    """
    out = set()
    for m in _NUM_RE.finditer(unicodedata.normalize("NFKC", text)):
        s = m.group(0)
        # "1,299" is one thousand two hundred ninety-nine; "1.5" keeps its decimal point.
        if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", s):
            s = s.replace(",", "")
        s = s.replace(",", ".")
        if "." in s:
            s = s.rstrip("0").rstrip(".")
        out.add(s.lstrip("0") or "0")
    return out


def words(text: str) -> list[str]:
    """Lower-cased latin words (with digits) in ``text``."""
    return [w.lower().replace("’", "'") for w in _WORD_RE.findall(text)]


def cjk_share(text: str) -> float:
    """Share of CJK ideographs among the letters (CJK + alphabetic) of ``text``."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(is_cjk(c) for c in letters) / len(letters)


def normalise(text: str) -> str:
    """Case-, width- and punctuation-folded form used for duplicate detection."""
    t = unicodedata.normalize("NFKC", text).lower()
    return "".join(c for c in t if c.isalnum() or is_cjk(c))


def shingles(text: str, n: int = 3) -> set[str]:
    """Character ``n``-grams of the normalised text (the whole text when shorter)."""
    t = normalise(text)
    if len(t) <= n:
        return {t} if t else set()
    return {t[i : i + n] for i in range(len(t) - n + 1)}


def similarity(a: str, b: str, n: int = 3) -> float:
    """Jaccard similarity of character ``n``-gram sets, in [0, 1]."""
    sa, sb = shingles(a, n), shingles(b, n)
    if not sa or not sb:
        return float(sa == sb)
    return len(sa & sb) / len(sa | sb)
