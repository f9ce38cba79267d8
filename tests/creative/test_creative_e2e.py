"""End to end through the CLI: synth -> workspace -> train -> generate -> approve -> export."""

from __future__ import annotations

import json

from creative_briefs import AUDIENCE_EN, BRIEF_EN

from adwise.cli import main
from adwise.creative import CHECKS


def _json(capsys):
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, out
    return json.loads(out[0])


def test_cli_train_generate_approve_export(loaded_workspace, capsys, tmp_path):
    ws = str(loaded_workspace.path)
    assert main(["creative", "train", "--workspace", ws, "--json"]) == 0
    trained = _json(capsys)
    assert trained["languages"] == ["en"] and trained["metrics"]["en_creatives"] >= 50

    args = [
        "creative",
        "generate",
        "--product",
        BRIEF_EN,
        "--audience",
        AUDIENCE_EN,
        "--n",
        "4",
        "--backend",
        "template",
        "--workspace",
        ws,
        "--json",
    ]
    assert main(args) == 0
    res = _json(capsys)
    assert res["backend"] == "template" and len(res["creatives"]) == 4
    for c in res["creatives"]:
        assert set(c) >= {"headline", "description", "score", "checks", "id", "status"}
        assert c["checks"] == dict.fromkeys(CHECKS, True)
        assert c["status"] == "pending" and "ctr" in c["scores"]
    assert res["stats"]["ctr_model"] is True and res["stats"]["examples"] == 3

    first, second = res["creatives"][0]["id"], res["creatives"][1]["id"]
    assert main(["creative", "approve", first, "--workspace", ws, "--json"]) == 0
    assert _json(capsys)["status"] == "approved"
    assert main(["creative", "reject", second, "--workspace", ws, "--json"]) == 0
    assert _json(capsys)["status"] == "rejected"
    assert main(["creative", "list", "--status", "pending", "--workspace", ws, "--json"]) == 0
    assert len(_json(capsys)["creatives"]) == 2

    out = tmp_path / "approved.jsonl"
    assert main(["creative", "export", "--out", str(out), "--workspace", ws, "--json"]) == 0
    assert _json(capsys)["exported"] == 1
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["creative_id"] for r in rows] == [first]  # only approved creatives leave


def test_cli_bad_input_exit_2(workspace, capsys):
    ws = str(workspace.path)
    assert (
        main(
            [
                "creative",
                "generate",
                "--product",
                "",
                "--audience",
                "x",
                "--backend",
                "template",
                "--workspace",
                ws,
                "--json",
            ]
        )
        == 2
    )
    assert "the product brief is empty" in capsys.readouterr().err
    assert (
        main(
            [
                "creative",
                "generate",
                "--product",
                BRIEF_EN,
                "--audience",
                "x",
                "--lang",
                "fr",
                "--workspace",
                ws,
                "--json",
            ]
        )
        == 2
    )
    assert "language 'fr' is not supported" in capsys.readouterr().err
    assert (
        main(
            [
                "creative",
                "generate",
                "--product",
                BRIEF_EN,
                "--audience",
                "x",
                "--backend",
                "openai",
                "--base-url",
                "http://127.0.0.1:9/v1",
                "--workspace",
                ws,
                "--json",
            ]
        )
        == 2
    )
    assert "cannot reach the OpenAI-compatible endpoint" in capsys.readouterr().err
    assert main(["creative", "approve", "cr_nope", "--workspace", ws]) == 2
    assert "no creative 'cr_nope'" in capsys.readouterr().err
    assert main(["creative", "train", "--workspace", ws]) == 2
    assert "no creative history to learn from" in capsys.readouterr().err


def test_cli_generate_for_an_audience_segment(loaded_workspace, capsys):
    """--segment takes the audience model's profile, and its other segments as the rivals."""
    from adwise.audience import load_segments, segment_workspace
    from adwise.creative import segment_profiles

    ws = loaded_workspace
    args = [
        "creative",
        "generate",
        "--product",
        BRIEF_EN,
        "--segment",
        "0",
        "--backend",
        "template",
        "--no-store",
        "--workspace",
        str(ws.path),
        "--json",
    ]
    assert main(args) == 2  # no audience model yet: say what to run
    assert "run `adwise audience segment` first" in capsys.readouterr().err

    segment_workspace(ws, k=3)
    _, meta = load_segments(ws)
    profiles = segment_profiles(ws)
    assert sorted(profiles) == sorted(str(p["segment"]) for p in meta["profiles"])
    top = [t["interest"] for t in meta["profiles"][0]["top_interests"]]
    assert top and profiles["0"].interests[: len(top)] == top

    assert main(args) == 0
    res = _json(capsys)
    assert len(res["creatives"]) == 5
    # on-target selection ran against the two other segments of the model
    assert all("on_target" in c for c in res["creatives"])
    assert main([*args[:5], "7", *args[6:]]) == 2
    assert "no segment '7' in the audience model; have: 0, 1, 2." in capsys.readouterr().err
