"""Who may call what: the scope rule and the dependency every ``/v1`` route gets.

The rule (decided once per route, shown in the OpenAPI document as ``x-adwise-scope``):

1. A route may declare its scope: ``openapi_extra={"x-adwise-scope": "admin"}`` (or
   ``"read"``), or the tag ``"admin"``.
2. Otherwise ``GET``/``HEAD`` need ``read``; ``PUT``/``PATCH``/``DELETE`` need ``admin``;
   a ``POST`` needs ``read`` (scoring, ranking, deciding, generating change nothing) unless the
   last fixed segment of its path names a change of state (:data:`ADMIN_VERBS`: promote,
   rollback, export, reward, update, approve, train, ...), which needs ``admin``.

``admin`` keys may call everything.

3. A ``read`` route whose request may also write (``POST /creative/generate`` with ``store``)
   checks the caller's key (``request.scope["adwise.api_key"]``) itself and answers with
   :func:`scope_refusal` (403).
"""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from adwise.service._keys import ApiKey, KeyStore

__all__ = ["ADMIN_VERBS", "make_auth_dependency", "route_scope", "scope_for",
           "scope_refusal"]

ADMIN_VERBS = frozenset({
    "promote", "rollback", "export", "reward", "train", "retrain", "fit", "update", "delete",
    "ingest", "reset", "revoke", "upload", "save", "approve", "reject", "publish",
})

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key made with `adwise keys create`, sent as "
                "`Authorization: Bearer <key>`.",
)


def scope_for(methods, path: str, extra=None, tags=None) -> str:
    """The scope (``read`` or ``admin``) an operation needs, by the rule in this module's doc."""
    declared = (extra or {}).get("x-adwise-scope")
    if declared in ("read", "admin"):
        return declared
    if "admin" in (tags or ()):
        return "admin"
    methods = {m.upper() for m in (methods or ("GET",))}
    if methods - {"GET", "HEAD", "OPTIONS", "POST"}:
        return "admin"
    if "POST" in methods:
        fixed = [s for s in path.split("/") if s and "{" not in s]
        if fixed and fixed[-1].lower() in ADMIN_VERBS:
            return "admin"
    return "read"


def route_scope(route) -> str:
    """The scope a route object needs (see :func:`scope_for`)."""
    return scope_for(getattr(route, "methods", None), getattr(route, "path", ""),
                     getattr(route, "openapi_extra", None), getattr(route, "tags", None))


def scope_refusal(key: ApiKey, required: str, what: str = "this route") -> HTTPException:
    """The 403 for a key whose scope falls short of ``required`` for ``what``.

    Also for routes that only sometimes change state: the route's own scope let the call in,
    and the route refuses the writing part of it with this (same message as the route check).
    """
    return HTTPException(
        403,
        f"{what} needs a key with scope '{required}'; the key '{key.name}' has scope "
        f"'{key.scope}'. Make one with `adwise keys create --name NAME --scope {required}`.",
    )


def make_auth_dependency(keys: KeyStore):
    """The dependency the service applies to every ``/v1`` route at include time."""
    cache: dict[int, str] = {}

    async def require_api_key(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    ) -> ApiKey:
        key = request.scope.get("adwise.api_key")
        if key is None:  # the middleware was not in front: authenticate here
            key = keys.verify(credentials.credentials if credentials else None)
            if key is None:
                raise HTTPException(
                    401, "missing or invalid API key: send 'Authorization: Bearer <key>'.",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        route = request.scope.get("route")
        required = cache.get(id(route))
        if required is None:
            required = cache[id(route)] = route_scope(route)
        if not key.allows(required):
            raise scope_refusal(key, required)
        request.scope["adwise.api_key"] = key
        return key

    return require_api_key
