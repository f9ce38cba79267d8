"""What the service shares between requests: the workspace and the loaded models.

:meth:`ServiceState.model` returns the object a capability's ``loader`` made from the promoted
registry version, cached per version. Each call ``stat``\\ s the registry's ``CURRENT`` pointer
(a microsecond); when a new version is promoted the first request to notice loads it while the
others keep being served by the previous version, then the cache swaps to the new object in one
assignment. Requests already running keep the object they got, so a promotion fails none of
them. A version that fails to load is logged and the previous one stays in service.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from adwise._exceptions import InputError
from adwise.data import Workspace

__all__ = ["ModelNotFoundError", "ServiceState"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_RETRY_FAILED_LOAD_S = 5.0


class ModelNotFoundError(InputError):
    """No promoted model exists for a capability (HTTP 404)."""


@dataclass
class _Slot:
    stamp: tuple[int, int] | None  # (mtime_ns, inode) of CURRENT when ``version`` was read
    version: str
    obj: Any
    loaded_at: float


class ServiceState:
    """The workspace and a per-version cache of loaded models.

    Parameters
    ----------
    workspace : Workspace
        The workspace whose registry the models come from.
    """

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.registry = workspace.registry
        self._slots: dict[str, _Slot] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._failed: dict[tuple[str, str], float] = {}
        self._loaders: dict[str, Callable[[Workspace], Any]] = {}

    # ------------------------------------------------------------------ internals
    def _lock(self, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def _stamp(self, capability: str) -> tuple[int, int] | None:
        try:
            st = os.stat(self.registry.root / capability / "CURRENT")
        except (FileNotFoundError, NotADirectoryError):
            return None
        return (st.st_mtime_ns, st.st_ino)

    def _not_found(self, capability: str) -> ModelNotFoundError:
        return ModelNotFoundError(
            f"no promoted '{capability}' model in this workspace ({self.registry.root}). "
            f"Train one with `adwise {capability} train`, or promote one with "
            f"`adwise models promote {capability} VERSION`."
        )

    # ------------------------------------------------------------------ public
    def model(self, name: str, loader: Callable[[Workspace], T]) -> T:
        """The object ``loader(workspace)`` made from the promoted version of ``name``.

        ``name`` is the capability (the registry folder); when one capability serves several
        objects, use ``"capability:purpose"`` and each gets its own cache slot.

        Raises
        ------
        ModelNotFoundError
            No version of the capability is promoted (HTTP 404).
        """
        capability = name.split(":", 1)[0]
        self._loaders.setdefault(name, loader)
        stamp = self._stamp(capability)
        slot = self._slots.get(name)
        if slot is not None and stamp == slot.stamp:
            return slot.obj
        if stamp is None:
            if slot is not None:  # the pointer vanished: keep serving what we have
                return slot.obj
            raise self._not_found(capability)
        lock = self._lock(name)
        if slot is not None:
            # Another thread may be loading the new version: serve the old one meanwhile.
            if not lock.acquire(blocking=False):
                return slot.obj
        else:
            lock.acquire()
        try:
            slot = self._slots.get(name)
            stamp = self._stamp(capability)
            if slot is not None and stamp == slot.stamp:
                return slot.obj
            version = self.registry.current(capability)
            if version is None:
                if slot is not None:
                    return slot.obj
                raise self._not_found(capability)
            if slot is not None and version == slot.version:
                # Re-promoted the same version (or touched CURRENT): nothing to load.
                self._slots[name] = _Slot(stamp, slot.version, slot.obj, slot.loaded_at)
                return slot.obj
            failed_at = self._failed.get((name, version))
            if slot is not None and failed_at and time.monotonic() - failed_at < \
                    _RETRY_FAILED_LOAD_S:
                return slot.obj
            try:
                obj = loader(self.workspace)
            except Exception:
                if slot is None:
                    raise
                self._failed[(name, version)] = time.monotonic()
                log.exception("loading %s %s failed; still serving %s", name, version,
                              slot.version)
                return slot.obj
            self._slots[name] = _Slot(stamp, version, obj, time.time())
            log.info("serving %s %s", name, version)
            return obj
        finally:
            lock.release()

    def cached(self, name: str) -> Any | None:
        """The cached object of ``name`` when it is still the promoted version, else ``None``.

        One ``stat`` and no lock, so an ``async`` route can call it on the event loop and go
        to a worker thread (:meth:`model`) only when a version has to be loaded.
        """
        slot = self._slots.get(name)
        if slot is None or self._stamp(name.split(":", 1)[0]) != slot.stamp:
            return None
        return slot.obj

    def register(self, name: str, loader: Callable[[Workspace], Any]) -> None:
        """Declare a model to load when the service starts (see :meth:`preload`); optional,
        since :meth:`model` loads on first use anyway."""
        self._loaders[name] = loader

    def loaded(self) -> dict[str, str]:
        """``{name: version}`` of every model in the cache."""
        return {k: s.version for k, s in self._slots.items()}

    def preload(self) -> dict[str, str]:
        """Load every model a router asked for before (used at start-up); missing ones are
        skipped. Returns what is loaded."""
        for name, loader in list(self._loaders.items()):
            try:
                self.model(name, loader)
            except InputError:  # not trained yet, or the workspace is busy: on first use
                continue
            except Exception as exc:  # a damaged artifact must not keep the service down
                log.error("could not load %s at start (%s); trying again on first use",
                          name, exc)
        return self.loaded()
