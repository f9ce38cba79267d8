"""``adwise interests``: train and show per-user interests."""

from __future__ import annotations

from pathlib import Path

import typer

from adwise.cli._common import (
    JsonOpt,
    NumberOpt,
    SeedOpt,
    WorkspaceOpt,
    console,
    emit_json,
    open_workspace,
    progress,
)

app = typer.Typer(help="What does this user care about?", no_args_is_help=True)


@app.command()
def train(
    half_life_days: float = NumberOpt(7.0, "--half-life-days", low=0, high=3650, low_open=True,
                                      help="Event weight halves."),
    topics: int = NumberOpt(12, "--topics", low=1, high=500, help="NMF text topics."),
    pool_groups: str = typer.Option(
        "auto",
        "--pool-groups",
        help="Latent classes of similar users to pool over: 'auto' or a number (0: none).",
    ),
    seed: int = SeedOpt(0),
    workspace: Path = WorkspaceOpt,
    json_: bool = JsonOpt,
) -> None:
    """Fit interests on the workspace's events, ads and users and save them."""
    from adwise._exceptions import InputError
    from adwise.interests import train_interests

    if half_life_days <= 0:
        raise InputError(f"--half-life-days must be > 0; got {half_life_days}.")
    groups: int | str = "auto"
    if pool_groups != "auto":
        if not pool_groups.isdigit():
            raise InputError(f"--pool-groups must be 'auto' or a number >= 0; got {pool_groups!r}.")
        groups = int(pool_groups)
    ws = open_workspace(workspace)
    with progress("interests: fitting") as cb:
        mv = train_interests(ws, half_life_days, topics, groups, seed, progress=cb)
    out = {"version": mv.version, **mv.metadata["metrics"]}
    if json_:
        emit_json(out)
        return
    if out.get("interest_unit") == "ad_id":
        console.print(
            f"interests {mv.version} saved: {out['users']:,} users; the ads have no category, "
            f"so each ad is an interest ({out['categories']} ads, the less shown pooled as "
            "'other ads'). Ingest ads with a category column for category interests."
        )
    else:
        console.print(
            f"interests {mv.version} saved: {out['users']:,} users, {out['categories']} "
            "categories"
        )
    if not out.get("text_topics", True):
        console.print("no text topics: neither ads (headline, description) nor users (text) "
                      "have text.")


@app.command()
def show(
    user: str = typer.Option(..., "--user", "-u", help="Raw user id, as in your files."),
    k: int = typer.Option(3, "--k", min=1, max=50),
    workspace: Path = WorkspaceOpt,
    json_: bool = JsonOpt,
) -> None:
    """A user's top interests: (interest, lift over the population, evidence) and text topics."""
    from adwise.interests._pipeline import load_interests, unknown_user_error

    ws = open_workspace(workspace)
    model = load_interests(ws)
    sid = ws.pseudonym(user)
    if not model.has_user(sid):
        raise unknown_user_error(user)
    top = model.interests(sid, k)
    topics = model.topics_of(sid, k)
    if json_:
        emit_json(
            {
                "user": user,
                "interests": [{"interest": c, "score": s, "evidence": e} for c, s, e in top],
                "topics": [{"topic": t, "weight": w} for t, w in topics],
            }
        )
        return
    console.print(f"[bold]{user}[/bold]")
    for c, s, e in top:
        console.print(f"  {c:<14} {s:5.2f}x the average   ({e})")
    if topics:
        console.print("  text topics: " + "; ".join(t for t, _ in topics))
