"""Workspace I/O for creatives: history, the text CTR model, generation, approval, export.

Generated creatives are stored in the workspace table ``creatives`` with status ``pending``;
only ``approved`` ones can be exported or served.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adwise._exceptions import InputError
from adwise.creative._backends import make_backend
from adwise.creative._brief import Brief, Segment, check_language, parse_brief, parse_segment
from adwise.creative._generator import GenerationResult, generate_creatives
from adwise.creative._ranking import TextCTRModel
from adwise.creative._text import cjk_share
from adwise.data import write_csv

__all__ = [
    "STATUSES",
    "creative_history",
    "ensure_table",
    "export_creatives",
    "generate",
    "get_creative",
    "list_creatives",
    "load_ctr_model",
    "segment_profiles",
    "set_status",
    "store_creatives",
    "train",
]

log = logging.getLogger(__name__)

CAPABILITY = "creative"
STATUSES = ("pending", "approved", "rejected")
_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS creatives (
    creative_id VARCHAR PRIMARY KEY,
    created_at TIMESTAMP,
    status VARCHAR,
    headline VARCHAR,
    description VARCHAR,
    lang VARCHAR,
    product VARCHAR,
    audience VARCHAR,
    segment_id VARCHAR,
    backend VARCHAR,
    source VARCHAR,
    score DOUBLE,
    scores VARCHAR,
    checks VARCHAR,
    decided_at TIMESTAMP,
    note VARCHAR
)
"""


def _lang_of(text: str) -> str:
    return "zh" if cjk_share(text) > 0.5 else "en"


# ------------------------------------------------------------------------- history / model
def creative_history(ws, min_impressions: int = 1) -> pd.DataFrame:
    """Each ad's headline, description, impressions, clicks and CTR (ads joined with events)."""
    cols = set(ws.columns("ads"))
    if not {"headline"} <= cols:
        return pd.DataFrame(columns=["ad_id", "headline", "description", "impressions", "clicks"])
    desc = "a.description" if "description" in cols else "''"
    adv = "a.advertiser" if "advertiser" in cols else "NULL"
    cat = "a.category" if "category" in cols else "NULL"
    df = ws.query(
        f"SELECT a.ad_id, a.headline, coalesce({desc}, '') AS description, {adv} AS advertiser, "
        f"{cat} AS category, count(e.ad_id) AS impressions, "
        "coalesce(sum(e.clicked), 0) AS clicks FROM ads a LEFT JOIN events e USING (ad_id) "
        "WHERE a.headline IS NOT NULL GROUP BY ALL HAVING count(e.ad_id) >= ? ORDER BY a.ad_id",
        [min_impressions],
    )
    df["impressions"] = df["impressions"].astype(float)
    df["clicks"] = df["clicks"].astype(float)
    df["ctr"] = df["clicks"] / df["impressions"].where(df["impressions"] > 0)
    df["lang"] = [_lang_of(h) for h in df["headline"].astype(str)]
    return df


def best_examples(
    history: pd.DataFrame,
    lang: str,
    k: int = 3,
    advertiser: str | None = None,
    min_impressions: int = 50,
) -> list[tuple[str, str]]:
    """The ``k`` past creatives with the highest smoothed CTR (few-shot examples).

    Smoothing: ``(clicks + 1) / (impressions + 1 / base_rate)`` (a Beta prior worth one click
    at the pooled rate), so a lucky ad with 3 impressions does not win.
    """
    h = history[(history["lang"] == lang) & (history["impressions"] >= min_impressions)]
    if advertiser is not None and "advertiser" in h:
        h = h[h["advertiser"] == advertiser]
    if h.empty:
        return []
    base = max(h["clicks"].sum() / h["impressions"].sum(), 1e-4)
    smooth = (h["clicks"] + 1) / (h["impressions"] + 1 / base)
    top = h.assign(s=smooth).sort_values("s", ascending=False).head(k)
    return list(zip(top["headline"].astype(str), top["description"].astype(str), strict=True))


def fit_ctr_model(history: pd.DataFrame, lang: str, C: float = 1.0) -> TextCTRModel | None:
    """Fit the text CTR model on the history in ``lang`` (None when too little history)."""
    h = history[(history["lang"] == lang) & (history["impressions"] > 0)]
    if len(h) < 10 or h["clicks"].sum() == 0:
        return None
    texts = (h["headline"].astype(str) + " " + h["description"].astype(str)).tolist()
    return TextCTRModel(C=C, lang=lang, min_df=2 if len(h) >= 50 else 1).fit(
        texts, h["impressions"].to_numpy(), h["clicks"].to_numpy()
    )


def train(ws, C: float = 1.0, seed: int = 0) -> dict[str, Any]:
    """Fit one text CTR model per language with history, evaluate on held-out ads, save.

    The metric is the Spearman rank correlation between predicted and observed CTR on a random
    25 % of ads held out from fitting (then the model is refitted on all ads).
    """
    from scipy.stats import spearmanr

    hist = creative_history(ws)
    models, metrics = {}, {}
    rng = np.random.default_rng(seed)
    for lang in ("en", "zh"):
        h = hist[(hist["lang"] == lang) & (hist["impressions"] > 0)].reset_index(drop=True)
        if len(h) < 10 or h["clicks"].sum() == 0:
            continue
        test = rng.random(len(h)) < 0.25
        if test.sum() >= 5 and (~test).sum() >= 10:
            m = fit_ctr_model(h[~test], lang, C)
            if m is not None:
                texts = (h.loc[test, "headline"] + " " + h.loc[test, "description"]).tolist()
                rho = spearmanr(m.predict_ctr(texts), h.loc[test, "ctr"]).statistic
                metrics[f"{lang}_holdout_spearman"] = float(rho)
        model = fit_ctr_model(h, lang, C)
        if model is not None:
            models[lang] = model
            metrics[f"{lang}_creatives"] = len(h)
    if not models:
        raise InputError(
            "no creative history to learn from: the ads table needs headline (and description) "
            "columns and the events table clicks on those ads. Ingest them, or generate without "
            "training (ranking then uses relevance alone)."
        )

    def write(w):
        for lang, m in models.items():
            w.write_json(f"ctr_{lang}.json", m.to_dict())

    mv = ws.registry.save(
        CAPABILITY,
        write,
        params={"C": C, "languages": sorted(models)},
        metrics=metrics,
        data_fingerprint=ws.fingerprint("events"),
        extra={"top_terms": {k: m.top_terms(12) for k, m in models.items()}},
    )
    return {"version": mv.version, "metrics": metrics, "languages": sorted(models)}


def load_ctr_model(ws, lang: str) -> TextCTRModel | None:
    """The promoted model's CTR model for ``lang`` (None when none is saved)."""
    reg = ws.registry
    if reg.current(CAPABILITY) is None:
        return None
    art = reg.load(CAPABILITY)
    name = f"ctr_{lang}.json"
    return TextCTRModel.from_dict(art.read_json(name)) if art.has(name) else None


# ------------------------------------------------------------------------- segments
def segment_profiles(ws, lang: str = "en") -> dict[str, Segment]:
    """Every segment of the workspace's current audience model as a :class:`Segment`.

    A segment's text is its readable name plus its top interests (by lift), so the prompt and
    the relevance scorer speak of what sets the segment apart.  Raises :class:`InputError`
    naming what to do when the workspace has no audience model.
    """
    from adwise.audience import load_segments

    try:
        _, meta = load_segments(ws)
    except InputError as exc:
        raise InputError(
            "--segment needs an audience model in this workspace: run `adwise audience segment`"
            " first, or describe the audience with --audience TEXT."
        ) from exc
    out: dict[str, Segment] = {}
    for p in meta.get("profiles", []):
        sid = str(p["segment"])
        interests = [str(t["interest"]) for t in p.get("top_interests", [])]
        seg = parse_segment(
            " ".join([str(p.get("name") or f"segment {sid}"), *interests]), lang, segment_id=sid
        )
        seg.interests = list(dict.fromkeys([*interests, *seg.interests]))[:8]
        out[sid] = seg
    return out


# ------------------------------------------------------------------------- generation
def generate(
    product: str | Brief,
    audience: str | Segment | None = None,
    *,
    ws=None,
    segment_id: str | None = None,
    n: int = 5,
    lang: str = "en",
    backend: str = "auto",
    backend_options: dict[str, Any] | None = None,
    time_limit: float = 60.0,
    seed: int = 0,
    advertiser: str | None = None,
    other_audiences: Sequence[str] = (),
    store: bool = True,
    progress: Callable[[int, int], None] | None = None,
    **brief_fields: Any,
) -> GenerationResult:
    """Generate creatives; with a workspace, use its history and store them as ``pending``.

    Parameters
    ----------
    product : str or Brief
        Free-text brief (see :func:`adwise.creative.parse_brief`) or a Brief.
    audience : str or Segment or None
        Free-text audience; optional when ``segment_id`` names an audience segment.
    ws : Workspace or None
        Supplies few-shot examples, the CTR model and segment profiles, and stores results.
    other_audiences : sequence of str
        Other audiences the advertiser targets: creatives that speak to one of them more than
        to ``audience`` are returned last (see :func:`generate_creatives`, ``on_target``).
        With ``segment_id`` and none given, the audience model's other segments.
    brief_fields
        ``price``, ``offer``, ``voice``, ``banned``, ``required`` for :func:`parse_brief`.
    """
    check_language(lang)
    brief = product if isinstance(product, Brief) else parse_brief(product, lang, **brief_fields)
    others = [parse_segment(a, lang) for a in other_audiences]
    if segment_id is not None and ws is not None and audience is None:
        profiles = segment_profiles(ws, lang)
        if str(segment_id) not in profiles:
            raise InputError(
                f"no segment {segment_id!r} in the audience model; have: {', '.join(profiles)}."
            )
        segment = profiles.pop(str(segment_id))
        # the model's other segments are the audiences this copy must not speak to more
        others = others or list(profiles.values())
    elif isinstance(audience, Segment):
        segment = audience
    elif audience is not None and str(audience).strip():
        segment = parse_segment(str(audience), lang, segment_id=segment_id)
    else:
        raise InputError(
            "say whom the ad is for: --audience TEXT (or --segment ID with an audience model)."
        )
    t0 = time.monotonic()
    examples: list[tuple[str, str]] = []
    ctr_model = None
    if ws is not None:
        hist = creative_history(ws)
        if len(hist):
            examples = best_examples(hist, lang, advertiser=advertiser)
            ctr_model = load_ctr_model(ws, lang) or fit_ctr_model(hist, lang)
    be = make_backend(backend, **(backend_options or {}))
    result = generate_creatives(
        brief,
        segment,
        backend=be,
        n=n,
        lang=lang,
        examples=examples,
        ctr_model=ctr_model,
        other_segments=others,
        # the limit is hard: reading history and loading the model count against it
        time_limit=max(time_limit - (time.monotonic() - t0), 0.01),
        seed=seed,
        progress=progress,
    )
    result.stats["ctr_model"] = ctr_model is not None
    result.stats["examples"] = len(examples)
    if ws is not None and store and result.creatives:
        ids = store_creatives(ws, result, brief, segment, lang)
        for c, i in zip(result.creatives, ids, strict=True):
            c["id"] = i
            c["status"] = "pending"
    return result


# ------------------------------------------------------------------------- approval
def ensure_table(ws) -> None:
    with ws.connect() as con:
        con.execute(_TABLE_SQL)


def store_creatives(
    ws, result: GenerationResult, brief: Brief, segment: Segment, lang: str
) -> list[str]:
    """Insert generated creatives as ``pending``; return their ids."""
    ensure_table(ws)
    now = _dt.datetime.now(_dt.UTC).replace(tzinfo=None)
    rows, ids = [], []
    for c in result.creatives:
        cid = "cr_" + uuid.uuid4().hex[:12]
        ids.append(cid)
        rows.append(
            [
                cid,
                now,
                "pending",
                c["headline"],
                c["description"],
                lang,
                brief.text,
                segment.description or segment.name,
                segment.segment_id,
                result.backend,
                c["source"],
                c["score"],
                json.dumps(c["scores"]),
                json.dumps(c["checks"]),
                None,
                None,
            ]
        )
    with ws.connect() as con:
        con.executemany(
            "INSERT INTO creatives VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
        )
    return ids


def _has_table(ws) -> bool:
    with ws.connect(read_only=True) as con:
        return bool(
            con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'creatives'"
            ).fetchone()[0]
        )


def get_creative(ws, creative_id: str) -> dict[str, Any]:
    if not _has_table(ws):
        raise InputError(f"no creative {creative_id!r}: none has been generated in this workspace.")
    df = ws.query("SELECT * FROM creatives WHERE creative_id = ?", [creative_id])
    if df.empty:
        raise InputError(f"no creative {creative_id!r}; list them with `adwise creative list`.")
    return _row(df.iloc[0])


def _row(r: pd.Series) -> dict[str, Any]:
    d = {k: (None if pd.isna(v) else v) for k, v in r.items()}
    for k in ("scores", "checks"):
        if d.get(k):
            d[k] = json.loads(d[k])
    for k in ("created_at", "decided_at"):
        if d.get(k) is not None:
            d[k] = str(d[k])
    return d


def set_status(ws, creative_id: str, status: str, note: str | None = None) -> dict[str, Any]:
    """Approve or reject a creative (``status`` is ``approved`` or ``rejected``)."""
    if status not in ("approved", "rejected"):
        raise InputError(f"status must be approved or rejected; got {status!r}.")
    get_creative(ws, creative_id)
    now = _dt.datetime.now(_dt.UTC).replace(tzinfo=None)
    with ws.connect() as con:
        con.execute(
            "UPDATE creatives SET status = ?, decided_at = ?, note = ? WHERE creative_id = ?",
            [status, now, note, creative_id],
        )
    return get_creative(ws, creative_id)


def list_creatives(ws, status: str | None = None) -> list[dict[str, Any]]:
    if status is not None and status not in STATUSES:
        raise InputError(f"--status must be one of: {', '.join(STATUSES)}; got {status!r}.")
    if not _has_table(ws):
        return []
    where, params = ("WHERE status = ?", [status]) if status else ("", [])
    df = ws.query(f"SELECT * FROM creatives {where} ORDER BY created_at, creative_id", params)
    return [_row(r) for _, r in df.iterrows()]


def export_creatives(ws, out: str | Path) -> int:
    """Write the approved creatives (only those) to CSV or JSON Lines; return how many."""
    rows = list_creatives(ws, "approved")
    out = Path(out)
    cols = ["creative_id", "headline", "description", "lang", "product", "audience", "score"]
    df = pd.DataFrame([{k: r.get(k) for k in cols} for r in rows], columns=cols)
    if out.suffix == ".csv":
        write_csv(df, out)
    elif out.suffix in (".jsonl", ".json"):
        df.to_json(out, orient="records", lines=True, force_ascii=False)
    else:
        raise InputError(f"{out}: export to .csv or .jsonl.")
    return len(df)
