"""Creative: what should the ad say to this audience?

Ad copy written by a real local language model (extra ``adwise[llm]``), any OpenAI-compatible
endpoint, or a template generator that cannot invent facts; every candidate is checked against
hard rules (lengths, facts, junk, banned terms, duplicates, language), ranked by a text CTR
model learned from the advertiser's history plus relevance to the audience and MMR diversity,
and stored as ``pending`` until a person approves it.
"""

from adwise._plugins import SUMMARIES, Capability
from adwise.creative._backends import (
    BACKENDS,
    GenerationRequest,
    LocalBackend,
    OpenAIBackend,
    TemplateBackend,
    llm_available,
    make_backend,
    model_path,
)
from adwise.creative._brief import Brief, Segment, parse_brief, parse_segment
from adwise.creative._checks import (
    CHECKS,
    DESCRIPTION_MAX,
    HEADLINE_MAX,
    Candidate,
    CheckResult,
    check_candidate,
)
from adwise.creative._generator import GenerationResult, generate_creatives
from adwise.creative._pipeline import (
    STATUSES,
    creative_history,
    export_creatives,
    generate,
    get_creative,
    list_creatives,
    load_ctr_model,
    segment_profiles,
    set_status,
    train,
)
from adwise.creative._ranking import TextCTRModel, mmr, relevance
from adwise.creative._text import display_width

__all__ = [
    "BACKENDS",
    "CAPABILITY",
    "CHECKS",
    "DESCRIPTION_MAX",
    "HEADLINE_MAX",
    "STATUSES",
    "Brief",
    "Candidate",
    "CheckResult",
    "GenerationRequest",
    "GenerationResult",
    "LocalBackend",
    "OpenAIBackend",
    "Segment",
    "TemplateBackend",
    "TextCTRModel",
    "check_candidate",
    "creative_history",
    "display_width",
    "export_creatives",
    "generate",
    "generate_creatives",
    "get_creative",
    "list_creatives",
    "llm_available",
    "load_ctr_model",
    "make_backend",
    "mmr",
    "model_path",
    "parse_brief",
    "parse_segment",
    "relevance",
    "segment_profiles",
    "set_status",
    "train",
]

CAPABILITY = Capability(
    name="creative",
    summary=SUMMARIES["creative"],
    cli="adwise.creative._cli:app",
    demo="adwise.creative._demo:demo",
    report="adwise.creative._demo:report",
    router="adwise.creative._api:router",
)
