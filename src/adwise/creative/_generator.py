"""Generate -> check -> repair -> rank: the loop around any backend (pure, no workspace I/O)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adwise._exceptions import InputError
from adwise.creative._backends import GenerationRequest, TemplateBackend
from adwise.creative._brief import Brief, Segment, check_language
from adwise.creative._checks import CHECKS, Candidate, check_candidate
from adwise.creative._ranking import TextCTRModel, mmr, relevance
from adwise.creative._text import similarity

__all__ = ["GenerationResult", "generate_creatives"]

log = logging.getLogger(__name__)


@dataclass
class GenerationResult:
    """What one generation request produced."""

    creatives: list[dict[str, Any]]
    backend: str
    stats: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"creatives": self.creatives, "backend": self.backend, "stats": self.stats}


def _rank_pct(x: np.ndarray) -> np.ndarray:
    if len(x) <= 1:
        return np.ones(len(x))
    order = np.argsort(np.argsort(x, kind="stable"), kind="stable")
    return order / (len(x) - 1)


def _on_target(
    headlines: Sequence[str], segment: Segment, others: Sequence[Segment], lang: str
) -> np.ndarray:
    """Which headlines are more relevant to ``segment`` than to each of ``others``.

    Without other segments there is nothing to contrast with, and every headline counts.
    """
    if not others:
        return np.ones(len(headlines), dtype=bool)
    r = relevance(headlines, [segment.text, *(s.text for s in others)], lang)
    return r[:, 0] > r[:, 1:].max(axis=1)


def generate_creatives(
    brief: Brief,
    segment: Segment,
    *,
    backend: Any = None,
    n: int = 5,
    lang: str = "en",
    examples: Sequence[tuple[str, str]] = (),
    ctr_model: TextCTRModel | None = None,
    other_segments: Sequence[Segment] = (),
    time_limit: float = 60.0,
    seed: int = 0,
    repair: bool = True,
    fill: bool = True,
    on_target: bool = True,
    pool: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> GenerationResult:
    """Write ``n`` creatives for ``brief`` aimed at ``segment``; every one passes every check.

    Steps: the backend writes candidates; each is checked (:func:`check_candidate`); when some
    fail and time allows, the backend gets one more round with the failures named (repair);
    failing candidates are dropped. If fewer than ``n`` survive and ``fill`` is set, the
    template backend tops up (those creatives say ``source: template``). Survivors are scored
    — ``0.5 * CTR percentile + 0.5 * relevance`` with a CTR model, relevance alone without,
    where relevance is the TF-IDF cosine to the segment (mean of pair and headline alone), minus
    half the best cosine to ``other_segments`` when given, min-max scaled to [0, 1] — and ``n``
    are picked by MMR (lambda 0.7, headline trigram similarity).
    When the time limit passes, model generation stops; what passed so far, topped up by the
    template when ``fill`` is set, is ranked and returned (``stats.timed_out`` is true).

    On-target selection (``on_target``, needs ``other_segments``): a headline is *on target*
    when its TF-IDF relevance to ``segment`` is higher than to every other segment — copy that
    speaks to another audience, or to none, is not. On-target creatives are returned before
    off-target ones (each group picked by MMR), and when fewer than ``n`` creatives from the
    model are on target the template tops up even if enough passed the checks. Each creative
    says whether it is on target; ``stats.raw_on_target`` counts the model's raw candidates
    (before checks and selection) that were, so the model's own rate stays visible.

    Parameters
    ----------
    backend : object or None
        From :func:`adwise.creative.make_backend`; the template backend when None.
    n : int
        Creatives wanted (1..50).
    examples : sequence of (headline, description)
        The advertiser's best past creatives (few-shot; copying them is refused).
    ctr_model : TextCTRModel or None
        Fitted on the advertiser's history; None ranks by relevance alone.
    other_segments : sequence of Segment
        Other audiences; relevance to them is reported (``relevance_margin``) and, with
        ``on_target``, decides which creatives are on target.
    on_target : bool
        Return on-target creatives first and top up with the template when the model wrote
        fewer than ``n`` of them (a no-op without ``other_segments``).
    time_limit : float
        Seconds for generation (model rounds); ranking is not counted.
    """
    check_language(lang)
    if brief.lang != lang:
        raise InputError(f"the brief is in {brief.lang!r} but --lang is {lang!r}.")
    if not 1 <= n <= 50:
        raise InputError(f"--n must be between 1 and 50; got {n}.")
    if time_limit <= 0:
        raise InputError(f"the time limit must be > 0 seconds; got {time_limit}.")
    backend = backend or TemplateBackend()
    t_start = time.monotonic()
    deadline = t_start + time_limit
    req = GenerationRequest(brief, segment, lang, list(examples), seed)
    # The backend's own few-shot texts count as examples too: a copy of one is not new copy.
    shown = getattr(backend, "example_texts", lambda _lang: [])(lang)
    ex_texts = [t for pair in examples for t in pair] + list(shown)
    pool = pool or max(3 * n, 15)
    accepted: list[Candidate] = []
    repaired: set[int] = set()
    n_raw = n_raw_ok = n_repair = n_repair_ok = 0
    failures: dict[str, int] = {}
    timed_out = False

    def take(cands: list[Candidate], is_repair: bool) -> tuple[int, int, list[str]]:
        ok_count, why = 0, []
        for c in cands:
            res = check_candidate(c, brief, lang, ex_texts, accepted, audience=segment.text)
            if res.ok:
                ok_count += 1
                if is_repair:
                    repaired.add(len(accepted))
                accepted.append(c)
            elif c.source == backend.name:  # the backend's own failures, not the top-up's
                for name, passed in res.passed.items():
                    if not passed:
                        failures[name] = failures.get(name, 0) + 1
                why += res.failures
        return len(cands), ok_count, why

    raw = backend.generate(req, deadline=deadline, round_=0)
    n_raw, n_raw_ok, why = take(raw, False)
    n_raw_on = int(_on_target([c.headline for c in raw], segment, other_segments, lang).sum())
    if progress:
        progress(1, 3)
    if time.monotonic() >= deadline:
        timed_out = True
    elif repair and why and len(accepted) < pool and backend.name != "template":
        feedback = list(dict.fromkeys(why))[:5]
        fixed = backend.generate(req, deadline=deadline, round_=1, feedback=feedback)
        n_repair, n_repair_ok, _ = take(fixed, True)
        timed_out = time.monotonic() >= deadline
    if progress:
        progress(2, 3)
    n_model = len(accepted)
    rivals = other_segments if on_target else ()
    n_model_on = int(_on_target([c.headline for c in accepted], segment, rivals, lang).sum())
    # The template needs milliseconds and cannot invent facts, so it tops up even after a
    # timeout: a slow model costs quality, not the number of creatives.
    if fill and n_model_on < n and backend.name != "template":
        take(TemplateBackend().generate(req, deadline=float("inf"), round_=0), False)
    gen_seconds = time.monotonic() - t_start

    creatives: list[dict[str, Any]] = []
    if accepted:
        texts = [f"{c.headline} {c.description}" for c in accepted]
        targets = [segment.text, *(s.text for s in other_segments)]
        # Relevance of the pair and of the headline alone (a headline is often shown alone).
        rel_all = 0.5 * relevance(texts, targets, lang) + 0.5 * relevance(
            [c.headline for c in accepted], targets, lang
        )
        rel = rel_all[:, 0]
        # With other segments known, prefer copy that speaks to this one more than to them.
        contrast = rel - 0.5 * rel_all[:, 1:].max(axis=1) if rel_all.shape[1] > 1 else rel
        lo, hi = contrast.min(), contrast.max()
        rel_n = (contrast - lo) / (hi - lo) if hi > lo else np.ones_like(rel)
        ctr = ctr_model.predict_ctr(texts) if ctr_model is not None else None
        combined = 0.5 * _rank_pct(ctr) + 0.5 * rel_n if ctr is not None else rel_n
        on = _on_target([c.headline for c in accepted], segment, rivals, lang)
        order: list[int] = []
        for group in (np.flatnonzero(on), np.flatnonzero(~on)):
            picked = mmr(
                combined[group],
                n - len(order),
                lambda i, j, g=group: similarity(accepted[g[i]].headline, accepted[g[j]].headline),
            )
            order += [int(group[i]) for i in picked]
        for i in order:
            c = accepted[i]
            scores = {"relevance": float(rel[i]), "combined": float(combined[i])}
            if ctr is not None:
                scores["ctr"] = float(ctr[i])
            if rel_all.shape[1] > 1:
                scores["relevance_margin"] = float(rel[i] - rel_all[i, 1:].max())
            creatives.append(
                {
                    "headline": c.headline,
                    "description": c.description,
                    "score": float(combined[i]),
                    "scores": scores,
                    "checks": dict.fromkeys(CHECKS, True),
                    "source": c.source,
                    "repaired": i in repaired,
                    "on_target": bool(on[i]),
                }
            )
    if progress:
        progress(3, 3)
    st = backend.stats
    stats = {
        "requested": n,
        "returned": len(creatives),
        "raw_candidates": n_raw,
        "raw_passed": n_raw_ok,
        "raw_on_target": n_raw_on,
        "repair_candidates": n_repair,
        "repair_passed": n_repair_ok,
        "model_creatives": n_model if backend.name != "template" else len(accepted),
        "failures": failures,
        "timed_out": timed_out,
        "seconds": round(gen_seconds, 3),
        "backend_requests": st.requests,
        "tokens": st.tokens,
        "tokens_per_second": st.tokens_per_second,
        "load_seconds": round(st.load_seconds, 3),
    }
    return GenerationResult(creatives, backend.name, stats)
