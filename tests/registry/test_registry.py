"""The model registry: versions, promotion, rollback, atomic saves, version checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from adwise import ArtifactIntegrityError, ArtifactVersionError, InputError
from adwise.cli import main
from adwise.registry import Registry


def _save(reg, value, **kw):
    def write(w):
        w.write_json("model.json", {"value": value})
        w.write_npz("arrays.npz", x=np.arange(value))

    return reg.save(
        "behavior", write, params={"v": value}, metrics={"auc": 0.5 + value / 100}, **kw
    )


def test_versions_metadata_and_loading(tmp_path):
    reg = Registry(tmp_path)
    v1 = _save(reg, 1, data_fingerprint="events:10:abc", feature_schema={"x": "float"})
    v2 = _save(reg, 2)
    assert (v1.version, v2.version) == ("v0001", "v0002")
    assert reg.current("behavior") == "v0002"
    meta = reg.get("behavior", "v0001").metadata
    assert meta["adwise_version"] and meta["params"] == {"v": 1}
    assert meta["data_fingerprint"] == "events:10:abc" and meta["feature_schema"] == {"x": "float"}
    art = reg.load("behavior")
    assert art.read_json("model.json") == {"value": 2}
    assert art.read_npz("arrays.npz")["x"].tolist() == [0, 1]


def test_promote_and_rollback(tmp_path):
    reg = Registry(tmp_path)
    for v in (1, 2, 3):
        _save(reg, v)
    reg.promote("behavior", "v0001")
    assert reg.load("behavior").read_json("model.json") == {"value": 1}
    assert reg.rollback("behavior") == "v0003"
    assert reg.rollback("behavior") == "v0002"
    with pytest.raises(InputError, match="no version 'v0009'"):
        reg.promote("behavior", "v0009")


def test_save_without_promotion_keeps_current(tmp_path):
    reg = Registry(tmp_path)
    _save(reg, 1)
    _save(reg, 2, promote=False)
    assert reg.current("behavior") == "v0001"


def test_failed_write_leaves_previous_version_and_no_debris(tmp_path):
    reg = Registry(tmp_path)
    _save(reg, 1)

    def broken(w):
        w.write_json("model.json", {"half": True})
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        reg.save("behavior", broken)
    assert reg.versions("behavior") == ["v0001"]
    assert not [p for p in (tmp_path / "behavior").iterdir() if p.name.startswith(".tmp")]
    assert reg.load("behavior").read_json("model.json") == {"value": 1}


def test_process_killed_mid_save_leaves_previous_loadable(tmp_path):
    """A real crash: the saving process dies (os._exit) halfway through writing."""
    reg = Registry(tmp_path)
    _save(reg, 1)
    script = textwrap.dedent(
        f"""
        import os
        from adwise.registry import Registry
        def write(w):
            w.write_json("model.json", {{"value": 99}})
            with open(w.root / "big.bin", "wb") as fh:
                fh.write(b"x" * 1000)
                fh.flush()
                os._exit(9)
        Registry({str(tmp_path)!r}).save("behavior", write)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == 9
    assert reg.versions("behavior") == ["v0001"]
    assert reg.current("behavior") == "v0001"
    assert reg.load("behavior").read_json("model.json") == {"value": 1}
    assert _save(reg, 2).version == "v0002"  # debris of the crash does not block new saves


def test_incompatible_version_is_refused_clearly(tmp_path):
    reg = Registry(tmp_path)
    mv = _save(reg, 1)
    meta = json.loads((mv.path / "metadata.json").read_text())
    meta["adwise_version"] = "9.4.0"
    (mv.path / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactVersionError) as err:
        reg.load("behavior")
    assert "was written by adwise 9.4.0" in str(err.value)
    assert "Retrain it with `adwise behavior train`" in str(err.value)


def test_tampered_file_fails_checksum_before_unpickling(tmp_path):
    reg = Registry(tmp_path)
    mv = reg.save("audience", lambda w: w.write_pickle("obj.pkl", {"safe": 1}))
    assert reg.load("audience").read_pickle("obj.pkl") == {"safe": 1}
    (mv.path / "obj.pkl").write_bytes(b"cos\nsystem\n(S'echo pwned'\ntR.")
    with pytest.raises(ArtifactIntegrityError, match="checksum does not match"):
        reg.load("audience").read_pickle("obj.pkl")


def test_missing_model_message(tmp_path):
    with pytest.raises(InputError) as err:
        Registry(tmp_path).load("placement")
    assert "Train one with `adwise placement train`" in str(err.value)


def test_models_cli(tmp_path, capsys):
    from adwise.data import Workspace

    ws = Workspace.init(tmp_path / "ws")
    _save(ws.registry, 1)
    _save(ws.registry, 2)
    capsys.readouterr()
    assert main(["models", "list", "-w", str(ws.path), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["models"]
    assert [(m["version"], m["current"]) for m in listed] == [("v0001", False), ("v0002", True)]
    assert main(["models", "promote", "behavior", "v0001", "-w", str(ws.path)]) == 0
    assert main(["models", "show", "behavior", "-w", str(ws.path)]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["version"] == "v0001"
    assert main(["models", "rollback", "behavior", "-w", str(ws.path)]) == 0
    assert ws.registry.current("behavior") == "v0002"
    assert main(["models", "promote", "behavior", "v0042", "-w", str(ws.path)]) == 2


def _age(path, seconds=120):
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_leftovers_of_interrupted_saves_are_removed_at_the_next_open(tmp_path):
    reg = Registry(tmp_path)
    _save(reg, 1)
    cap = tmp_path / "behavior"
    stale_tmp, young_tmp = cap / ".tmp-dead", cap / ".tmp-young"
    stale_tmp.mkdir()
    (stale_tmp / "model.json").write_text("{}")
    young_tmp.mkdir()
    stale_ptr, young_ptr = cap / ".CURRENT.abc", cap / ".HISTORY.def"
    stale_ptr.write_text("v0009\n")
    young_ptr.write_text("v0001\n")
    _age(stale_tmp)
    _age(stale_ptr)
    Registry(tmp_path)
    left = sorted(p.name for p in cap.iterdir() if p.name.startswith("."))
    assert left == [".HISTORY.def", ".tmp-young"]  # younger than a minute: maybe in progress
    assert reg.current("behavior") == "v0001" and reg.versions("behavior") == ["v0001"]


def test_a_save_in_progress_is_not_removed_however_old(tmp_path):
    """Another process is still writing its (old-looking) temporary folder: it holds the lock."""
    Registry(tmp_path)
    script = textwrap.dedent(
        f"""
        import sys
        from adwise.registry import Registry
        def write(w):
            w.write_json("model.json", {{"value": 7}})
            print(w.root, flush=True)
            sys.stdin.readline()
        Registry({str(tmp_path)!r}).save("behavior", write)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        tmp = Path(proc.stdout.readline().strip())
        _age(tmp, 3600)
        Registry(tmp_path)
        assert tmp.is_dir()
    finally:
        proc.stdin.write("go\n")
        proc.stdin.close()
        assert proc.wait(30) == 0
    reg = Registry(tmp_path)
    assert reg.load("behavior").read_json("model.json") == {"value": 7}
