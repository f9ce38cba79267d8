"""A versioned model registry on the file system.

Layout::

    models/<capability>/<version>/      one artifact: files + metadata.json
    models/<capability>/CURRENT         the promoted version (one line)
    models/<capability>/HISTORY         every promotion, oldest first (for rollback)

Saving writes into a temporary folder and renames it into place, so an interrupted save leaves
the previous versions intact and loadable; what it leaves behind (``.tmp-*`` folders,
``.CURRENT.*`` / ``.HISTORY.*`` files) is removed when a registry is next opened. Files are
written in safe formats (JSON, ``.npz``, text such as LightGBM's model format); pickle is
allowed but its SHA-256 is recorded at save and checked before anything is unpickled.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import logging
import os
import pickle
import re
import shutil
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from adwise._exceptions import (
    ArtifactError,
    ArtifactIntegrityError,
    ArtifactVersionError,
    InputError,
)
from adwise._version import ARTIFACT_COMPAT, __version__

try:  # POSIX: a save holds an advisory lock on its temporary folder
    import fcntl
except ImportError:  # pragma: no cover - Windows: the age rule alone protects a save
    fcntl = None  # type: ignore[assignment]

__all__ = ["ArtifactReader", "ArtifactWriter", "ModelVersion", "Registry"]

log = logging.getLogger(__name__)

# Leftovers younger than this may belong to a save in progress in another process.
_STALE_S = 60.0

_VERSION_RE = re.compile(r"^v(\d{4,})$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_\-]*$")


class ArtifactWriter:
    """Writes the files of one artifact; records each file's SHA-256."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.checksums: dict[str, str] = {}

    def _path(self, name: str) -> Path:
        if "/" in name or "\\" in name or name.startswith(".") or name == "metadata.json":
            raise ArtifactError(f"invalid artifact file name {name!r}")
        return self.root / name

    def write_bytes(self, name: str, data: bytes) -> None:
        self._path(name).write_bytes(data)
        self.checksums[name] = hashlib.sha256(data).hexdigest()

    def write_text(self, name: str, text: str) -> None:
        self.write_bytes(name, text.encode("utf-8"))

    def write_json(self, name: str, obj: Any) -> None:
        self.write_text(name, json.dumps(obj, indent=1, default=_json_default))

    def write_npz(self, name: str, **arrays: np.ndarray) -> None:
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        self.write_bytes(name, buf.getvalue())

    def write_pickle(self, name: str, obj: Any) -> None:
        """Pickle ``obj``; the checksum is verified before it is ever loaded."""
        self.write_bytes(name, pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


class ArtifactReader:
    """Reads the files of one artifact, verifying checksums recorded at save."""

    def __init__(self, root: Path, metadata: dict[str, Any]) -> None:
        self.root = root
        self.metadata = metadata

    def read_bytes(self, name: str) -> bytes:
        path = self.root / name
        if not path.is_file():
            raise ArtifactError(f"{self.root}: artifact file {name!r} is missing.")
        data = path.read_bytes()
        expected = self.metadata.get("files", {}).get(name)
        if expected is None or hashlib.sha256(data).hexdigest() != expected:
            raise ArtifactIntegrityError(
                f"{path}: checksum does not match the one recorded at save; the artifact was "
                "changed or damaged. Retrain, or roll back with `adwise models rollback`."
            )
        return data

    def read_text(self, name: str) -> str:
        return self.read_bytes(name).decode("utf-8")

    def read_json(self, name: str) -> Any:
        return json.loads(self.read_text(name))

    def read_npz(self, name: str) -> dict[str, np.ndarray]:
        with np.load(io.BytesIO(self.read_bytes(name)), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    def read_pickle(self, name: str) -> Any:
        return pickle.loads(self.read_bytes(name))  # checksum verified in read_bytes

    def has(self, name: str) -> bool:
        return name in self.metadata.get("files", {})


@dataclass(frozen=True)
class ModelVersion:
    """One saved artifact."""

    capability: str
    version: str
    path: Path
    metadata: dict[str, Any]
    current: bool = False


class Registry:
    """The model registry under ``root`` (a workspace's ``models/`` folder).

    Examples
    --------
    >>> import tempfile
    >>> reg = Registry(tempfile.mkdtemp())
    >>> mv = reg.save("behavior", lambda w: w.write_json("m.json", {"a": 1}), params={"k": 1})
    >>> reg.load("behavior").read_json("m.json")
    {'a': 1}
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._remove_leftovers()

    def _remove_leftovers(self) -> None:
        """Remove what interrupted saves and promotions left: ``.tmp-*`` folders no save holds
        (a save locks its folder; an unlocked one older than a minute is abandoned) and
        ``.CURRENT.*`` / ``.HISTORY.*`` files older than a minute."""
        try:
            cap_dirs = [p for p in self.root.iterdir() if p.is_dir() and _NAME_RE.match(p.name)]
        except OSError:  # no registry yet, or not readable: nothing to clean
            return
        now = time.time()
        for cap_dir in cap_dirs:
            try:
                entries = list(cap_dir.iterdir())
            except OSError:
                continue
            for p in entries:
                name = p.name
                if not name.startswith((".tmp-", ".CURRENT.", ".HISTORY.")):
                    continue
                try:
                    if now - p.lstat().st_mtime < _STALE_S:
                        continue
                    if p.is_dir() and not p.is_symlink():
                        if _save_in_progress(p):
                            continue
                        shutil.rmtree(p)
                    else:
                        p.unlink()
                except OSError as exc:  # another process removed it first, or no permission
                    log.debug("could not remove %s: %s", p, exc)
                    continue
                log.info("removed %s, left by an interrupted save", p)

    # --------------------------------------------------------------- saving
    def save(
        self,
        capability: str,
        write: Callable[[ArtifactWriter], None],
        *,
        params: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
        data_fingerprint: str | None = None,
        feature_schema: Any = None,
        extra: Mapping[str, Any] | None = None,
        promote: bool = True,
    ) -> ModelVersion:
        """Write a new version atomically and (by default) promote it.

        ``write`` receives an :class:`ArtifactWriter` pointing at a temporary folder; the folder
        is renamed into place only after ``write`` returns and ``metadata.json`` is written.
        """
        if not _NAME_RE.match(capability):
            raise InputError(f"invalid capability name {capability!r}")
        cap_dir = self.root / capability
        cap_dir.mkdir(parents=True, exist_ok=True)
        tmp = cap_dir / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir()
        held = _hold(tmp)
        try:
            writer = ArtifactWriter(tmp)
            write(writer)
            meta = {
                "capability": capability,
                "adwise_version": __version__,
                "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                "params": dict(params or {}),
                "metrics": dict(metrics or {}),
                "data_fingerprint": data_fingerprint,
                "feature_schema": feature_schema,
                "files": writer.checksums,
                **dict(extra or {}),
            }
            (tmp / "metadata.json").write_text(json.dumps(meta, indent=1, default=_json_default))
            _fsync_dir(tmp)
            # Claim the next version number; rename fails if another writer took it.
            while True:
                version = self._next_version(capability)
                try:
                    os.rename(tmp, cap_dir / version)
                    break
                except OSError:
                    if not (cap_dir / version).exists():
                        raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            if held is not None:
                os.close(held)
        if promote:
            self.promote(capability, version)
        return self.get(capability, version)

    # --------------------------------------------------------------- queries
    def capabilities(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _NAME_RE.match(p.name))

    def versions(self, capability: str) -> list[str]:
        d = self.root / capability
        if not d.exists():
            return []
        found = [p.name for p in d.iterdir() if p.is_dir() and _VERSION_RE.match(p.name)]
        return sorted(found, key=lambda v: int(v[1:]))

    def current(self, capability: str) -> str | None:
        """The promoted version, or ``None``."""
        f = self.root / capability / "CURRENT"
        if not f.exists():
            return None
        v = f.read_text().strip()
        return v if v in self.versions(capability) else None

    def list(self, capability: str | None = None) -> list[ModelVersion]:
        caps = [capability] if capability else self.capabilities()
        return [self.get(c, v) for c in caps for v in self.versions(c)]

    def get(self, capability: str, version: str | None = None) -> ModelVersion:
        """Metadata of a version (the promoted one by default)."""
        version = version or self.current(capability)
        if version is None or version not in self.versions(capability):
            have = ", ".join(self.versions(capability)) or "none"
            what = f"version {version!r}" if version else "a promoted version"
            raise InputError(
                f"no model '{capability}' {what} in {self.root} (versions: {have}). Train one "
                f"with `adwise {capability} train`."
            )
        path = self.root / capability / version
        try:
            meta = json.loads((path / "metadata.json").read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ArtifactError(f"{path}: metadata.json is missing or damaged ({exc}).") from exc
        return ModelVersion(capability, version, path, meta, version == self.current(capability))

    def load(self, capability: str, version: str | None = None) -> ArtifactReader:
        """Open an artifact for reading, refusing artifacts of an incompatible version."""
        mv = self.get(capability, version)
        written = str(mv.metadata.get("adwise_version", "unknown"))
        if ".".join(written.split(".")[:2]) != ARTIFACT_COMPAT:
            raise ArtifactVersionError(
                f"{mv.path} was written by adwise {written}; this is adwise {__version__}, "
                f"which reads artifacts of {ARTIFACT_COMPAT}.x. Retrain it with "
                f"`adwise {capability} train`, or use adwise {written}."
            )
        return ArtifactReader(mv.path, mv.metadata)

    # --------------------------------------------------------------- promotion
    def promote(self, capability: str, version: str) -> None:
        """Make ``version`` the one that is served (atomic pointer swap)."""
        if version not in self.versions(capability):
            raise InputError(
                f"no version {version!r} of '{capability}'; have: "
                f"{', '.join(self.versions(capability)) or 'none'}."
            )
        cap_dir = self.root / capability
        _atomic_write(cap_dir / "CURRENT", version + "\n")
        hist = [*self._history(capability), version]
        _atomic_write(cap_dir / "HISTORY", "\n".join(hist) + "\n")

    def rollback(self, capability: str) -> str:
        """Promote the version that was current before the current one; return it."""
        hist = self._history(capability)
        cur = self.current(capability)
        while hist and hist[-1] == cur:
            hist.pop()
        hist = [v for v in hist if v in self.versions(capability)]
        if not hist:
            raise InputError(f"'{capability}' has no earlier promoted version to roll back to.")
        target = hist[-1]
        cap_dir = self.root / capability
        _atomic_write(cap_dir / "CURRENT", target + "\n")
        _atomic_write(cap_dir / "HISTORY", "\n".join(hist) + "\n")
        return target

    def _history(self, capability: str) -> list[str]:
        f = self.root / capability / "HISTORY"
        return [x for x in f.read_text().split() if x] if f.exists() else []

    def _next_version(self, capability: str) -> str:
        vs = self.versions(capability)
        n = int(vs[-1][1:]) + 1 if vs else 1
        return f"v{n:04d}"


def _hold(folder: Path) -> int | None:
    """Lock ``folder`` for the duration of a save (the descriptor; close it to release)."""
    if fcntl is None:
        return None
    fd = os.open(folder, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _save_in_progress(folder: Path) -> bool:
    """Whether a (live) process holds the save lock of ``folder``."""
    if fcntl is None:
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    for f in path.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (Path, _dt.datetime, _dt.date)):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
