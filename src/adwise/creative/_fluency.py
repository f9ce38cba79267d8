"""The language model's own verdict on a line: mean per-token log-likelihood, above a floor.

llama.cpp's server (xllamacpp) has no "echo" or prompt-logprobs option, so a line is scored
by forcing it one token at a time: a 1-token completion of ``context + line[:i]`` with a logit
bias of +100 on ``line[i]`` and ``n_probs`` with ``post_sampling_probs: false``, which reports
the token's log-probability under the model's raw distribution (before the bias and any
sampler). The KV cache keeps the shared prefix, so a token costs one decode step (~30-40 ms on
2 cores with Gemma 3 270M, most of it sorting a 262k vocabulary). A line is scored in the
context of its brief, so a line that says something the brief does not lead to scores low.

The floors were calibrated with ``benchmarks/creative.py --calibrate`` on the packaged model
(Gemma 3 270M, Q4_K_M): template lines of 12 briefs (en and zh) against known-bad lines (word
salad, broken grammar, off-brief claims, the lines of issue 16); see benchmarks/README.md.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["FLOORS", "LineScorer", "fluency_context"]

# Mean log-probability per token (the line and its newline) below which a line reads as broken:
# the cut with the best balanced accuracy between 24 template lines and 6-10 known-bad lines per
# language and kind (en headline 0.98, en description 1.00, zh headline 0.93, zh description
# 0.92). The misses are lines that repeat themselves ("399元，399元"), which the model finds
# likely; the repeated n-gram check refuses those.
FLOORS = {("en", "headline"): -5.4, ("en", "description"): -4.2}
FLOORS |= {("zh", "headline"): -5.2, ("zh", "description"): -4.2}

_LABEL = {
    "en": {"headline": "Headline:", "description": "Description:"},
    "zh": {"headline": "标题：", "description": "描述："},
}


def fluency_context(brief_block: str, lang: str, kind: str) -> str:
    """The text a line is scored after: the brief (and audience), then its label."""
    return f"{brief_block}\n{_LABEL[lang][kind]}"


class LineScorer:
    """Mean per-token log-likelihood of lines under a loaded local model (cached per line).

    Parameters
    ----------
    model : _LoadedModel
        From :func:`adwise.creative._backends.load_local_model` (or a ``--model-file`` GGUF).
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self._cache: dict[tuple[str, str], float] = {}
        self._ctx: dict[str, list[int]] = {}
        self.tokens = 0
        self.seconds = 0.0

    def _tokenize(self, text: str, special: bool) -> list[int]:
        return self.model.tokenize(text, special)

    def score(self, context: str, line: str, deadline: float = float("inf")) -> float | None:
        """Mean log-probability per token of ``line`` (plus a newline) after ``context``.

        Returns None when the deadline passes before the line is scored.
        """
        key = (context, line)
        if key in self._cache:
            return self._cache[key]
        t0 = time.perf_counter()
        if context not in self._ctx:
            self._ctx[context] = self._tokenize(context, True)
        ctx = self._ctx[context]
        sep = "" if context.endswith(("：", ":\n")) else " "
        ids = self._tokenize(f"{sep}{line}\n", False)
        total = 0.0
        for i, tok in enumerate(ids):
            if time.monotonic() >= deadline:
                self.seconds += time.perf_counter() - t0
                return None
            res = self.model.complete(
                {
                    "prompt": ctx + ids[:i],
                    "max_tokens": 1,
                    "temperature": 0,
                    "n_probs": 1,
                    "post_sampling_probs": False,
                    "logit_bias": [[tok, 100]],
                    "cache_prompt": True,
                }
            )
            total += float(res["choices"][0]["logprobs"]["content"][0]["logprob"])
        self.tokens += len(ids)
        self.seconds += time.perf_counter() - t0
        self._cache[key] = total / max(len(ids), 1)
        return self._cache[key]
