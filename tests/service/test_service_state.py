"""ServiceState: models cached per promoted version, swapped on promotion without failures."""

from __future__ import annotations

import threading

import pytest
from service_helpers import save_toy, toy_loader

from adwise.service import ModelNotFoundError, ServiceState


def counting(loader):
    calls = []

    def wrapped(ws):
        calls.append(1)
        return loader(ws)

    wrapped.calls = calls
    return wrapped


def test_no_model_is_not_found_with_a_message(workspace):
    state = ServiceState(workspace)
    with pytest.raises(ModelNotFoundError, match=r"^no promoted 'toy' model in this workspace "
                                                 r"\(.*\)\. Train one with `adwise toy train`"):
        state.model("toy", toy_loader)


def test_cached_per_version_and_swapped_on_promotion(workspace):
    save_toy(workspace, 1)
    state = ServiceState(workspace)
    loader = counting(toy_loader)
    assert state.model("toy", loader)["n"] == 1
    assert state.model("toy", loader)["n"] == 1
    assert len(loader.calls) == 1
    save_toy(workspace, 2)  # saved and promoted
    assert state.model("toy", loader)["n"] == 2
    assert state.loaded() == {"toy": "v0002"}
    workspace.registry.promote("toy", "v0001")
    assert state.model("toy", loader)["n"] == 1
    assert len(loader.calls) == 3
    save_toy(workspace, 3, promote=False)  # saved, not promoted: nothing changes
    assert state.model("toy", loader)["n"] == 1


def test_cached_answers_only_while_the_promoted_version_is_loaded(workspace):
    save_toy(workspace, 1)
    state = ServiceState(workspace)
    assert state.cached("toy") is None  # nothing loaded yet
    assert state.model("toy", toy_loader)["n"] == 1
    assert state.cached("toy")["n"] == 1
    save_toy(workspace, 2)  # promoted: the cached object is stale
    assert state.cached("toy") is None
    assert state.model("toy", toy_loader)["n"] == 2
    assert state.cached("toy")["n"] == 2


def test_a_version_that_fails_to_load_keeps_the_old_one(workspace, caplog):
    save_toy(workspace, 1)
    state = ServiceState(workspace)
    assert state.model("toy", toy_loader)["n"] == 1
    mv = save_toy(workspace, 2)
    (mv.path / "model.json").write_text('{"n": 666}')  # damaged: checksum mismatch
    assert state.model("toy", toy_loader)["n"] == 1
    assert "loading toy v0002 failed; still serving v0001" in caplog.text


def test_preload_loads_registered_models(workspace):
    save_toy(workspace, 4)
    state = ServiceState(workspace)
    state.register("toy", toy_loader)
    state.register("absent", lambda ws: ws.registry.load("absent"))
    assert state.preload() == {"toy": "v0001"}


def test_concurrent_requests_during_promotions_never_fail(workspace):
    save_toy(workspace, 0)
    state = ServiceState(workspace)
    errors: list[BaseException] = []
    seen: set[int] = set()
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            try:
                seen.add(state.model("toy", toy_loader)["n"])
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for n in range(1, 8):
        save_toy(workspace, n)
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
    assert state.model("toy", toy_loader)["n"] == 7
    assert len(seen) >= 2


def test_a_model_that_fails_at_start_does_not_stop_the_service(workspace):
    mv = save_toy(workspace, 1)
    (mv.path / "model.json").write_text('{"n": 666}')  # damaged: checksum mismatch
    state = ServiceState(workspace)
    state.register("toy", toy_loader)
    assert state.preload() == {}


def test_the_delivery_model_is_loaded_and_indexed_when_the_service_starts(loaded_workspace):
    from fastapi.testclient import TestClient

    from adwise.delivery import train_workspace
    from adwise.service import create_app

    train_workspace(loaded_workspace, evaluate=False)
    app = create_app(loaded_workspace, capabilities=["delivery"])
    with TestClient(app) as c:  # start-up, no request yet
        assert c.get("/healthz").json()["models"] == {"delivery": "v0001"}
        d = app.state.adwise.cached("delivery")
        assert d is not None and d._serving is not None  # the planner is built
