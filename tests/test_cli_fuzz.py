"""Every command against a table of bad files and options: exit 0 or 2, never a traceback.

Includes every crashing input of the hardening audit (issue 14). A new command that reads a file
belongs in ``COMMANDS``; a new crash found in the field belongs in ``CASES``.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from adwise.cli import main

N = 240


def _frame(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"id": [f"u{i}" for i in range(N)], "a": rng.normal(size=N),
                         "b": rng.gamma(2.0, 1.0, N), "t": rng.integers(0, 2, N),
                         "y": rng.integers(0, 2, N)})


def _write_files(d) -> dict[str, str]:
    """Bad (and one good) input files by name."""
    ok = _frame()
    files = {}

    def put(name, frame=None, raw=None):
        p = d / name
        if raw is not None:
            p.write_bytes(raw)
        else:
            frame.to_csv(p, index=False)
        files[name.split(".")[0]] = str(p)

    put("ok.csv", ok)
    put("tiny.csv", ok.head(4).assign(y=[0, 1, 0, 1], t=[0, 1, 1, 0]))
    put("inf.csv", ok.assign(a=ok["a"].where(ok.index != 3, np.inf)))
    put("oneclass.csv", ok.assign(y=ok["y"].where(ok["t"] == 1, 0)))
    put("dupid.csv", ok.assign(id=ok["id"].where(ok.index != 5, "u4")))
    put("strcol.csv", ok.assign(a=ok["a"].astype(object).where(ok.index > 40, "oops")))
    put("allnan.csv", ok.assign(a=np.nan, b=np.nan))
    put("constant.csv", ok.assign(y=1, t=1))
    put("header.csv", raw=b"id,a,b,t,y\n")
    put("empty.csv", raw=b"")
    put("garbage.csv", raw=bytes(range(256)) * 8)
    put("notparquet.parquet", raw=b"id,a\nu1,1\n")
    put("ragged.csv", raw=b"id,a,b,t,y\nu1,1,2,0,1\nu2,1\nu3,1,2,3,4,5,6\n")
    put("duphead.csv", raw=b"ts,user_id,ad_id,clicked,clicked\n2026-01-01T00:00:00,u1,a1,0,1\n")
    (d / "folder").mkdir()
    files["folder"] = str(d / "folder")
    files["missing"] = str(d / "no-such-file.csv")
    return files


@pytest.fixture(scope="module")
def env(tmp_path_factory, loaded_workspace_dir):
    d = tmp_path_factory.mktemp("fuzz")
    files = _write_files(d)
    ws = d / "ws"
    shutil.copytree(loaded_workspace_dir, ws)
    assert main(["placement", "train", "-w", str(ws), "--json"]) == 0
    return {"ws": str(ws), "dir": str(d), **files}


# Commands that read a file, with {F} for the file.
COMMANDS = {
    "behavior evaluate": ["behavior", "evaluate", "--train", "{F}", "--test", "{F}", "--target",
                          "y", "--json"],
    "behavior predict": ["behavior", "predict", "-w", "{ws}", "--input", "{F}"],
    "audience segment": ["audience", "segment", "--data", "{F}", "--id-col", "id", "--json"],
    "audience rfm": ["audience", "segment", "--data", "{F}", "--customer-col", "id",
                     "--date-col", "a", "--amount-col", "b", "--json"],
    "audience uplift": ["audience", "uplift", "--train", "{F}", "--test", "{F}",
                        "--treatment-col", "t", "--outcome-col", "y", "--learner", "t-logistic",
                        "--json"],
    "audience lookalike": ["audience", "lookalike", "--data", "{F}", "--id-col", "id",
                           "--seed-col", "t", "--json"],
    "delivery evaluate": ["delivery", "evaluate", "--train", "{F}", "--test", "{F}", "--task",
                          "ranking", "--user-col", "id", "--item-col", "t", "--json"],
    "delivery rating": ["delivery", "evaluate", "--train", "{F}", "--test", "{F}", "--task",
                        "rating", "--user-col", "id", "--item-col", "t", "--rating-col", "b",
                        "--json"],
    "placement ope": ["placement", "ope", "--logs", "{F}", "--action-col", "t", "--reward-col",
                      "y", "--bootstrap", "5", "--json"],
    "ingest": ["ingest", "{F}", "--table", "users", "-w", "{ws}"],
}
FILES = ["ok", "tiny", "inf", "oneclass", "dupid", "strcol", "allnan", "constant", "header",
         "empty", "garbage", "notparquet", "ragged", "duphead", "folder", "missing"]

# The audit's inputs and the option bounds: (argv, exit status, text expected on stderr).
CASES = {
    "tiny training set": (["behavior", "evaluate", "--train", "{tiny}", "--test", "{tiny}",
                           "--target", "y", "--json"], 0, ""),
    "tiny, 3 rows": (["audience", "uplift", "--train", "{tiny}", "--test", "{tiny}",
                      "--treatment-col", "t", "--outcome-col", "y"], 2,
                     "each group needs at least"),
    "uplift folder": (["audience", "uplift", "--train", "{folder}", "--test", "{ok}",
                       "--treatment-col", "t", "--outcome-col", "y"], 2, "is a folder"),
    "segment folder": (["audience", "segment", "--data", "{folder}", "--id-col", "id"], 2,
                       "is a folder"),
    "lookalike folder": (["audience", "lookalike", "--data", "{folder}", "--id-col", "id",
                          "--seed-col", "t"], 2, "is a folder"),
    "predict --out folder": (["behavior", "predict", "-w", "{ws}", "--input", "{ok}", "--out",
                              "{folder}"], 2, "is a folder; give a file name"),
    "predict --out missing folder": (["behavior", "predict", "-w", "{ws}", "--input", "{ok}",
                                      "--out", "{dir}/new/p.csv"], 2, "no behavior model"),
    "report --out folder": (["report", "-w", "{ws}", "--out", "{folder}"], 2,
                            "is a folder; give a file name"),
    "report --out missing folder": (["report", "-w", "{ws}", "--out", "{dir}/new2/r.html"], 0,
                                    ""),
    "init on a file": (["init", "{ok}"], 2, "is a file"),
    "repeated header": (["ingest", "{duphead}", "--table", "events", "-w", "{ws}"], 2,
                        "column 'clicked': appears more than once in the header"),
    "segment inf": (["audience", "segment", "--data", "{inf}", "--id-col", "id"], 2,
                    "column 'a': holds infinite values; 1 row(s) affected: row 3 (value inf)"),
    "segment duplicate ids": (["audience", "segment", "--data", "{dupid}", "--id-col", "id"], 2,
                              "column 'id': holds the same id on more than one row; 2 row(s) "
                              "affected: row 4 (value 'u4'), row 5 (value 'u4')"),
    "uplift treatment = outcome": (["audience", "uplift", "--train", "{ok}", "--test", "{ok}",
                                    "--treatment-col", "y", "--outcome-col", "y"], 2,
                                   "--treatment-col and --outcome-col both name 'y'"),
    "uplift one-class control": (["audience", "uplift", "--train", "{oneclass}", "--test",
                                  "{ok}", "--treatment-col", "t", "--outcome-col", "y"], 2,
                                 "the control group (treatment 0) has"),
    "synth 2e9 users": (["synth", "--users", "2000000000", "--out", "{dir}/syn"], 2,
                        "--users must be an integer >= 10 and <= 10000000; got 2000000000."),
    "threads 100000": (["behavior", "evaluate", "--train", "{ok}", "--test", "{ok}", "--target",
                        "y", "--threads", "100000", "--json"], 0,
                       "note: --threads 100000 is more than this machine's"),
    "creative ';'": (["creative", "generate", "--product", ";", "--audience", "x", "--backend",
                      "template", "--no-store"], 2, "has no product name"),
    "allocate 5e-324": (["placement", "allocate", "-w", "{ws}", "--budget", "5e-324", "--json"],
                        0, ""),
    "allocate nan": (["placement", "allocate", "-w", "{ws}", "--budget", "nan"], 2,
                     "--budget must be a finite number > 0"),
    "allocate inf": (["placement", "allocate", "-w", "{ws}", "--budget", "inf"], 2,
                     "--budget must be a finite number > 0"),
    "allocate -1": (["placement", "allocate", "-w", "{ws}", "--budget", "-1"], 2,
                    "--budget must be a finite number > 0"),
    "time-limit nan": (["creative", "generate", "--product", "Tea: green", "--audience", "x",
                        "--backend", "template", "--no-store", "--time-limit", "nan"], 2,
                       "--time-limit must be a finite number > 0 and <= 3600; got nan."),
    "propensity outside (0, 1]": (["placement", "ope", "--logs", "{ok}", "--action-col", "t",
                                   "--reward-col", "y", "--propensity-col", "a"], 2,
                                  "column 'a': propensities must be in (0, 1]"),
    "workspace rating task without ratings": (
        ["delivery", "evaluate", "-w", "{ws}", "--task", "rating"], 2,
        "so --task rating has nothing to"),
    "serve generation timeout nan": (["serve", "-w", "{ws}", "--generation-timeout", "nan"], 2,
                                     "--generation-timeout must be a finite number >= 0.1"),
    "bootstrap 1e8": (["placement", "ope", "--logs", "{ok}", "--action-col", "t",
                       "--reward-col", "y", "--bootstrap", "100000000"], 2,
                      "--bootstrap must be an integer >= 0 and <= 10000"),
    "n 100000": (["creative", "generate", "--product", "Tea: green", "--audience", "x",
                  "--backend", "template", "--no-store", "--n", "100000"], 2,
                 "--n must be an integer >= 1 and <= 50"),
    "seed -1": (["audience", "segment", "--data", "{ok}", "--id-col", "id", "--seed", "-1"], 2,
                "--seed must be an integer >= 0"),
    "rounds huge": (["placement", "simulate", "--world", "{dir}", "--rounds", "10000000000"], 2,
                    "--rounds must be an integer"),
}


def _run(argv, env, capsys):
    args = [a.format(**env) for a in argv]
    code = main(args)
    out, err = capsys.readouterr()
    assert code in (0, 2), (args, code, err[-3000:])
    assert "Traceback" not in err and "Traceback" not in out, (args, err[-3000:])
    assert "np.float64(" not in err and "np.int64(" not in err, (args, err[-3000:])
    return code, err


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_survives_every_bad_file(command, env, capsys):
    problems = []
    for name in FILES:
        try:
            _run([a.replace("{F}", "{" + name + "}") for a in COMMANDS[command]], env, capsys)
        except Exception as exc:  # collect every file's failure, then report
            problems.append(f"{name}: {type(exc).__name__}: {str(exc)[-300:]}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("case", sorted(CASES))
def test_audit_inputs_exit_cleanly(case, env, capsys):
    argv, want_code, want_text = CASES[case]
    code, err = _run(argv, env, capsys)
    assert code == want_code, (case, err[-2000:])
    assert want_text in " ".join(err.split()), (case, err[-2000:])
