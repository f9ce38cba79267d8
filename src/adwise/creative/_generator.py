"""Generate -> check -> repair -> score -> rank: the loop around the backends (no workspace I/O).

Several backends may compete in one pool (``auto``: the local model, an OpenAI-compatible
endpoint when one is configured, and the template); every candidate passes the same checks,
then the same quality score decides which are returned, whoever wrote them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adwise._exceptions import InputError
from adwise.creative._backends import GenerationRequest, TemplateBackend, brief_block
from adwise.creative._brief import Brief, Segment, check_language
from adwise.creative._checks import CHECKS, Candidate, check_candidate
from adwise.creative._fluency import FLOORS, LineScorer, fluency_context
from adwise.creative._ranking import TextCTRModel, mmr, relevance
from adwise.creative._text import similarity

__all__ = ["GenerationResult", "generate_creatives", "quality_scores"]

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


def _fluency_norm(ll: float | None, lang: str, kind: str) -> float:
    """Mean token log-likelihood mapped to [0, 1]: 0 at the floor, 1 at 4 nats above it."""
    if ll is None:
        return 0.5  # not scored: neutral
    return float(np.clip((ll - FLOORS[(lang, kind)]) / 4.0, 0.0, 1.0))


def quality_scores(
    cands: Sequence[Candidate],
    brief: Brief,
    segment: Segment,
    lang: str,
    *,
    other_segments: Sequence[Segment] = (),
    ctr_model: TextCTRModel | None = None,
    fluency: dict[str, float | None] | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The quality score of each candidate (all already passed the hard checks), in [0, 1].

    ``relevance``: TF-IDF cosine of the pair and of the headline alone to the segment, minus
    half the best cosine to ``other_segments``, min-max scaled over ``cands``; ``ctr``: the
    text CTR model's percentile among ``cands``; ``fluency``: the local model's mean token
    log-likelihood of headline and description, 0 at the floor and 1 at 4 nats above (0.5 when
    not scored); ``offer``: 1 when the copy states the brief's offer. The score is
    ``0.4 relevance + 0.3 ctr + 0.3 fluency`` with a CTR model, ``0.6 relevance + 0.4
    fluency`` without, then ``0.9 score + 0.1 offer`` when the brief has an offer. The score
    depends on the pool (scaling, percentiles): compare candidates scored in one call.
    """
    if not cands:
        return np.zeros(0), {}
    texts = [f"{c.headline} {c.description}" for c in cands]
    targets = [segment.text, *(s.text for s in other_segments)]
    rel_all = 0.5 * relevance(texts, targets, lang) + 0.5 * relevance(
        [c.headline for c in cands], targets, lang
    )
    rel = rel_all[:, 0]
    contrast = rel - 0.5 * rel_all[:, 1:].max(axis=1) if rel_all.shape[1] > 1 else rel
    lo, hi = contrast.min(), contrast.max()
    rel_n = (contrast - lo) / (hi - lo) if hi > lo else np.ones_like(rel)
    flu = fluency or {}
    flu_n = np.array(
        [
            0.5 * _fluency_norm(flu.get(c.headline), lang, "headline")
            + 0.5 * _fluency_norm(flu.get(c.description), lang, "description")
            for c in cands
        ]
    )
    parts = {"relevance_raw": rel, "relevance": rel_n, "fluency": flu_n}
    if ctr_model is not None:
        ctr = ctr_model.predict_ctr(texts)
        parts["ctr"] = ctr
        score = 0.4 * rel_n + 0.3 * _rank_pct(ctr) + 0.3 * flu_n
    else:
        score = 0.6 * rel_n + 0.4 * flu_n
    if brief.offer:
        offer = np.array([float(brief.offer.lower() in t.lower()) for t in texts])
        parts["offer"] = offer
        score = 0.9 * score + 0.1 * offer
    if rel_all.shape[1] > 1:
        parts["relevance_margin"] = rel - rel_all[:, 1:].max(axis=1)
    return score, parts


def _as_list(backend: Any) -> list[Any]:
    if backend is None:
        return [TemplateBackend()]
    if isinstance(backend, (list, tuple)):
        return list(backend)
    return [backend]


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
    scorer: LineScorer | None = None,
    fluency_check: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> GenerationResult:
    """Write ``n`` creatives for ``brief`` aimed at ``segment``; every one passes every check.

    Steps: each backend writes candidates; each is checked (:func:`check_candidate`); when
    some fail and time allows, a model backend gets one more round with the failures named
    (repair); failing candidates are dropped. Several backends (a list) compete in one pool.
    With a single model backend, the template tops up when fewer than ``n`` survive (``fill``)
    — those creatives say ``source: template``. Survivors get the quality score
    (:func:`quality_scores`); with a ``scorer`` (the local model) the best are checked for
    fluency — the model's mean token log-likelihood of headline and description must reach the
    calibrated floor (:data:`adwise.creative._fluency.FLOORS`); a model-written line that
    could not be scored in time is not returned, a template line is (it cannot be garbled).
    ``n`` are then picked by MMR (lambda 0.7, headline trigram similarity) and returned sorted
    by score, on-target creatives first.

    ``time_limit`` is hard: it covers model loading, generation, repair and fluency scoring;
    when it passes, what passed so far (topped up by the instant template when ``fill`` is
    set) is returned and ``stats.timed_out`` is true.

    On-target selection (``on_target``, needs ``other_segments``): a headline is *on target*
    when its TF-IDF relevance to ``segment`` is higher than to every other segment. On-target
    creatives are returned before off-target ones, and when fewer than ``n`` creatives from
    the model are on target the template tops up even if enough passed the checks.
    ``stats.raw_on_target`` counts the model's raw candidates that were on target.

    Parameters
    ----------
    backend : object, list of objects, or None
        From :func:`adwise.creative.make_backend`; a list competes in one pool; the template
        backend when None.
    n : int
        Creatives wanted (1..50).
    examples : sequence of (headline, description)
        The advertiser's best past creatives (few-shot; copying them is refused).
    ctr_model : TextCTRModel or None
        Fitted on the advertiser's history; None scores without it.
    other_segments : sequence of Segment
        Other audiences; relevance to them is reported (``relevance_margin``) and, with
        ``on_target``, decides which creatives are on target.
    time_limit : float
        Seconds for everything but the final ranking (milliseconds).
    scorer : LineScorer or None
        Scores lines' likelihood under a local model (the fluency check); None takes the
        local backend's when one is in ``backend``.
    fluency_check : bool
        False skips the likelihood check (and its share of the time limit).

    Returns
    -------
    GenerationResult
        ``creatives`` sorted by ``score`` (on-target first), each with ``source`` (who wrote
        it), ``scores`` and ``checks`` (every hard check, plus ``likelihood`` when scored);
        ``stats`` with ``check_pass_rate`` (per source, per check, over raw candidates),
        ``sources`` (returned per source) and ``model_share``.
    """
    check_language(lang)
    if brief.lang != lang:
        raise InputError(f"the brief is in {brief.lang!r} but --lang is {lang!r}.")
    if not 1 <= n <= 50:
        raise InputError(f"--n must be between 1 and 50; got {n}.")
    if time_limit <= 0:
        raise InputError(f"the time limit must be > 0 seconds; got {time_limit}.")
    backends = _as_list(backend)
    models = [b for b in backends if b.name != "template"]
    pooled = len(backends) > 1
    t_start = time.monotonic()
    deadline = t_start + time_limit
    if scorer is None and fluency_check:
        # loading the model counts against the time limit
        local = next((b for b in models if hasattr(b, "line_scorer")), None)
        scorer = local.line_scorer() if local is not None else None
    elif not fluency_check:
        scorer = None
    # Fluency scoring gets the last third of the time; generation the rest.
    gen_deadline = t_start + time_limit * (0.65 if scorer is not None else 1.0)
    req = GenerationRequest(brief, segment, lang, list(examples), seed)
    # The backends' own few-shot texts count as examples too: a copy of one is not new copy.
    shown = [t for b in backends for t in getattr(b, "example_texts", lambda _lang: [])(lang)]
    ex_texts = [t for pair in examples for t in pair] + shown
    accepted: list[Candidate] = []
    repaired: set[int] = set()
    n_raw = n_raw_ok = n_repair = n_repair_ok = n_raw_on = 0
    failures: dict[str, int] = {}
    per_source: dict[str, dict[str, int]] = {}
    timed_out = False

    def take(cands: list[Candidate], is_repair: bool) -> tuple[int, int, list[str]]:
        ok_count, why = 0, []
        for c in cands:
            res = check_candidate(c, brief, lang, ex_texts, accepted, audience=segment.text)
            tally = per_source.setdefault(c.source, {"candidates": 0})
            tally["candidates"] += 1
            for name, passed in res.passed.items():
                tally[name] = tally.get(name, 0) + int(passed)
            if res.ok:
                ok_count += 1
                if is_repair:
                    repaired.add(len(accepted))
                accepted.append(c)
            elif c.source != "template":  # the model's own failures, not the template's
                for name, passed in res.passed.items():
                    if not passed:
                        failures[name] = failures.get(name, 0) + 1
                why += res.failures
        return len(cands), ok_count, why

    for be in models:
        if time.monotonic() >= gen_deadline:
            timed_out = True
            break
        raw = be.generate(req, deadline=gen_deadline, round_=0)
        k, ok, why = take(raw, False)
        n_raw, n_raw_ok = n_raw + k, n_raw_ok + ok
        n_raw_on += int(_on_target([c.headline for c in raw], segment, other_segments, lang).sum())
        if time.monotonic() >= gen_deadline:
            timed_out = True
        elif repair and why and len(accepted) < max(3 * n, 15):
            fixed = be.generate(
                req, deadline=gen_deadline, round_=1, feedback=list(dict.fromkeys(why))[:5]
            )
            k, ok, _ = take(fixed, True)
            n_repair, n_repair_ok = n_repair + k, n_repair_ok + ok
            timed_out = timed_out or time.monotonic() >= gen_deadline
    if progress:
        progress(1, 3)
    n_model = len(accepted)
    rivals = other_segments if on_target else ()
    n_model_on = int(_on_target([c.headline for c in accepted], segment, rivals, lang).sum())
    # The template needs milliseconds and cannot invent facts, so it joins the pool even after
    # a timeout: a slow model costs quality, not the number of creatives.
    templates = [b for b in backends if b.name == "template"]
    if templates or (fill and n_model_on < n):
        tb = templates[0] if templates else TemplateBackend()
        take(tb.generate(req, deadline=float("inf"), round_=0), False)
    if not models:
        n_raw, n_raw_ok = per_source.get("template", {}).get("candidates", 0), len(accepted)
    if progress:
        progress(2, 3)

    # ---- score, check fluency on the best, pick with MMR
    block = brief_block(req)
    # A token step can take 0.1 s on a busy machine and the final ranking needs a moment: stop
    # scoring a little early so that the limit holds (0.5 s was not enough at load 8 on 2 cores:
    # the slowest of 12 briefs ended 0.5 s late).
    score_deadline = deadline - min(1.0, 0.05 * time_limit)
    fluency: dict[str, float | None] = {}
    lik: dict[str, dict[str, int]] = {}
    dropped: set[int] = set()

    def scored_ok(i: int) -> bool:
        """Score candidate i's lines (cached); False when a line is below its floor."""
        c = accepted[i]
        tally = lik.setdefault(c.source, {"scored": 0, "passed": 0, "unscored": 0})
        vals = []
        for line, kind in ((c.headline, "headline"), (c.description, "description")):
            if line not in fluency:
                ctx = fluency_context(block, lang, kind)
                fluency[line] = scorer.score(ctx, line, score_deadline)
            vals.append((fluency[line], kind))
        if any(v is None for v, _ in vals):
            tally["unscored"] += 1
            return c.source == "template"
        tally["scored"] += 1
        ok = all(v >= FLOORS[(lang, kind)] for v, kind in vals)
        tally["passed"] += int(ok)
        if not ok and c.source != "template":
            failures["likelihood"] = failures.get("likelihood", 0) + 1
        return ok

    creatives: list[dict[str, Any]] = []
    order: list[int] = []
    score = np.zeros(0)
    parts: dict[str, np.ndarray] = {}
    on = np.zeros(0, dtype=bool)
    if accepted:
        on = _on_target([c.headline for c in accepted], segment, rivals, lang)
        score, parts = quality_scores(
            accepted, brief, segment, lang, other_segments=other_segments, ctr_model=ctr_model
        )
        if scorer is not None:
            # Check fluency down the ranking (MMR over all) until n survive or time is up.
            ranked = _pick(accepted, score, on, len(accepted))
            survivors = 0
            for i in ranked:
                if survivors >= n:
                    break
                if scored_ok(i):
                    survivors += 1
                else:
                    dropped.add(i)
            timed_out = timed_out or time.monotonic() >= score_deadline
            unscored = {
                i
                for i, c in enumerate(accepted)
                if c.source != "template"
                and (fluency.get(c.headline) is None or fluency.get(c.description) is None)
            }
            dropped |= unscored
            score, parts = quality_scores(
                accepted,
                brief,
                segment,
                lang,
                other_segments=other_segments,
                ctr_model=ctr_model,
                fluency=fluency,
            )
        keep = np.array([i not in dropped for i in range(len(accepted))])
        idx = np.flatnonzero(keep)
        picked = [int(idx[j]) for j in _pick([accepted[i] for i in idx], score[idx], on[idx], n)]
        picked = _cover_offer(picked, accepted, idx, score, brief)
        order = sorted(picked, key=lambda i: (not on[i], -score[i]))
    for i in order:
        c = accepted[i]
        scores = {"relevance": float(parts["relevance_raw"][i]), "combined": float(score[i])}
        scores["fluency"] = float(parts["fluency"][i])
        if "ctr" in parts:
            scores["ctr"] = float(parts["ctr"][i])
        if "relevance_margin" in parts:
            scores["relevance_margin"] = float(parts["relevance_margin"][i])
        checks = dict.fromkeys(CHECKS, True)
        if fluency.get(c.headline) is not None and fluency.get(c.description) is not None:
            checks["likelihood"] = True
            scores["loglik_headline"] = float(fluency[c.headline])
            scores["loglik_description"] = float(fluency[c.description])
        creatives.append(
            {
                "headline": c.headline,
                "description": c.description,
                "score": float(score[i]),
                "scores": scores,
                "checks": checks,
                "source": c.source,
                "repaired": i in repaired,
                "on_target": bool(on[i]),
            }
        )
    if progress:
        progress(3, 3)
    gen_seconds = time.monotonic() - t_start
    st = [b.stats for b in models] or [backends[0].stats]
    pass_rate = {
        src: {k: round(v / t["candidates"], 4) for k, v in t.items() if k != "candidates"}
        for src, t in per_source.items()
        if t["candidates"]
    }
    for src, t in lik.items():
        if t["scored"]:
            pass_rate.setdefault(src, {})["likelihood"] = round(t["passed"] / t["scored"], 4)
    sources: dict[str, int] = {}
    for c in creatives:
        sources[c["source"]] = sources.get(c["source"], 0) + 1
    tokens = sum(s.tokens for s in st)
    gen_s = sum(s.generation_seconds for s in st)
    stats = {
        "requested": n,
        "returned": len(creatives),
        "raw_candidates": n_raw,
        "raw_passed": n_raw_ok,
        "raw_on_target": n_raw_on,
        "repair_candidates": n_repair,
        "repair_passed": n_repair_ok,
        "model_creatives": n_model if models else len(accepted),
        "failures": failures,
        "check_pass_rate": pass_rate,
        "candidates": {src: t["candidates"] for src, t in per_source.items()},
        "likelihood": lik,
        "sources": sources,
        "model_share": (
            round(sum(v for k, v in sources.items() if k != "template") / len(creatives), 4)
            if creatives
            else 0.0
        ),
        "pooled": pooled,
        "timed_out": timed_out,
        "time_limit": time_limit,
        "seconds": round(gen_seconds, 3),
        "backend_requests": sum(s.requests for s in st),
        "tokens": tokens,
        "tokens_per_second": tokens / gen_s if gen_s > 0 else None,
        "load_seconds": round(sum(s.load_seconds for s in st), 3),
        "fluency_tokens": scorer.tokens if scorer is not None else 0,
        "fluency_seconds": round(scorer.seconds, 3) if scorer is not None else 0.0,
    }
    name = "+".join(b.name for b in backends)
    return GenerationResult(creatives, name, stats)


def _pick(cands: Sequence[Candidate], score: np.ndarray, on: np.ndarray, k: int) -> list[int]:
    """``k`` indices by MMR on ``score``: on-target ones first, then the others."""
    order: list[int] = []
    for group in (np.flatnonzero(on), np.flatnonzero(~on)):
        picked = mmr(
            score[group],
            k - len(order),
            lambda i, j, g=group: similarity(cands[g[i]].headline, cands[g[j]].headline),
        )
        order += [int(group[i]) for i in picked]
    return order


def _cover_offer(
    picked: list[int], cands: Sequence[Candidate], idx: np.ndarray, score: np.ndarray, brief: Brief
) -> list[int]:
    """Make sure the brief's offer is stated by one returned creative when any candidate can.

    An advertiser who says ``--offer`` expects to see it; the lowest-scored pick gives way to
    the best candidate that states the offer.
    """
    if not brief.offer or not picked:
        return picked
    states = [int(i) for i in idx if brief.offer.lower() in _text_of(cands[int(i)]).lower()]
    if not states or any(i in states for i in picked):
        return picked
    best = max(states, key=lambda i: score[i])
    worst = min(picked, key=lambda i: score[i])
    return [best if i == worst else i for i in picked]


def _text_of(c: Candidate) -> str:
    return f"{c.headline} {c.description}"
