"""API keys: made once, shown once, stored hashed in the workspace.

Keys live in ``DIR/api_keys.json`` (mode 0600), one record per key::

    {"id": "k3f9c2a1", "name": "ad-server", "scope": "read", "prefix": "adw_k3f9c2a1",
     "sha256": "<hex digest of the whole key>", "created": "...", "revoked": null}

A key is ``adw_<id>_<secret>`` with 32 random bytes of secret (``secrets.token_urlsafe``), so a
plain SHA-256 digest is enough to store it (the secret is not guessable, unlike a password, so a
slow hash adds nothing); lookups compare digests with :func:`hmac.compare_digest`. The service
re-reads the file when it changes, so a revoked key stops working without a restart.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import os
import secrets
import threading
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from adwise._exceptions import InputError, WorkspaceError

__all__ = ["SCOPES", "ApiKey", "KeyStore"]

SCOPES = ("read", "admin")
_FILE = "api_keys.json"
_NAME_MAX = 64


@dataclass(frozen=True)
class ApiKey:
    """One stored key (never the secret itself)."""

    id: str
    name: str
    scope: str
    prefix: str
    sha256: str
    created: str
    revoked: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked is None

    def allows(self, required: str) -> bool:
        """``admin`` keys may do everything; ``read`` keys only what needs ``read``."""
        return self.scope == "admin" or required == "read"

    def public(self) -> dict[str, object]:
        """What may be shown (no digest)."""
        d = asdict(self)
        d.pop("sha256")
        d["active"] = self.active
        return d


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyStore:
    """The API keys of one workspace.

    Parameters
    ----------
    path : str or Path
        The workspace folder (the keys file is ``path / "api_keys.json"``).
    """

    def __init__(self, path: str | Path) -> None:
        self.root = Path(path)
        self.file = self.root / _FILE
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._by_digest: dict[str, ApiKey] = {}

    # ------------------------------------------------------------------ reading
    def _read(self) -> list[ApiKey]:
        if not self.file.exists():
            return []
        try:
            raw = json.loads(self.file.read_text(encoding="utf-8"))
            return [ApiKey(**r) for r in raw.get("keys", [])]
        except (OSError, ValueError, TypeError) as exc:
            raise WorkspaceError(
                f"{self.file}: the API key file is damaged ({exc}). Fix it or delete it and "
                "create new keys with `adwise keys create`."
            ) from exc

    def list(self) -> list[ApiKey]:
        """Every key, active or revoked, oldest first."""
        return self._read()

    def _refresh(self) -> None:
        try:
            st = os.stat(self.file)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = (0, 0, 0)
        if stamp == self._stamp:
            return
        with self._lock:
            keys = self._read()
            self._by_digest = {k.sha256: k for k in keys if k.active}
            self._stamp = stamp

    def verify(self, key: str | None) -> ApiKey | None:
        """The active key record matching ``key``, or ``None``.

        Re-reads the file only when its modification time, size or inode changed (one
        ``stat`` per call), so revocations take effect at once.
        """
        if not key or len(key) > 200:
            return None
        self._refresh()
        digest = _digest(key)
        found = self._by_digest.get(digest)
        if found is not None and hmac.compare_digest(found.sha256, digest):
            return found
        return None

    # ------------------------------------------------------------------ writing
    def _write(self, keys: list[ApiKey]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{_FILE}.{uuid.uuid4().hex}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"keys": [asdict(k) for k in keys]}, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.file)

    def create(self, name: str, scope: str = "read") -> tuple[str, ApiKey]:
        """Make a key; return ``(secret_key, record)``. The secret is not stored.

        Raises
        ------
        InputError
            The scope is unknown, the name is empty or too long, or an active key has the name.
        """
        name = (name or "").strip()
        if scope not in SCOPES:
            raise InputError(f"--scope must be one of: {', '.join(SCOPES)}; got {scope!r}.")
        if not name or len(name) > _NAME_MAX or not name.isprintable():
            raise InputError(
                f"--name must be 1 to {_NAME_MAX} printable characters; got {name!r}."
            )
        with self._lock:
            keys = self._read()
            if any(k.name == name and k.active for k in keys):
                raise InputError(
                    f"an active key named {name!r} exists; revoke it first "
                    f"(`adwise keys revoke {name}`) or choose another --name."
                )
            kid = "k" + secrets.token_hex(4)
            secret = f"adw_{kid}_{secrets.token_urlsafe(32)}"
            rec = ApiKey(
                id=kid,
                name=name,
                scope=scope,
                prefix=f"adw_{kid}",
                sha256=_digest(secret),
                created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            )
            self._write([*keys, rec])
            self._stamp = None
        return secret, rec

    def revoke(self, name_or_id: str) -> ApiKey:
        """Revoke the active key with this name or id; return its record.

        Raises
        ------
        InputError
            No active key has that name or id.
        """
        with self._lock:
            keys = self._read()
            hit = [i for i, k in enumerate(keys) if k.active and name_or_id in (k.name, k.id)]
            if not hit:
                have = ", ".join(f"{k.name} ({k.id})" for k in keys if k.active) or "none"
                raise InputError(
                    f"no active API key named or with id {name_or_id!r}; active keys: {have}."
                )
            now = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
            i = hit[0]
            keys[i] = ApiKey(**{**asdict(keys[i]), "revoked": now})
            self._write(keys)
            self._stamp = None
        return keys[i]
