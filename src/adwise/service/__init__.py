"""The adwise REST service: every capability under ``/v1`` behind API keys, plus health,
Prometheus metrics, OpenAPI and a dashboard.

>>> from adwise.service import create_app          # doctest: +SKIP
>>> app = create_app("adwise-workspace")           # doctest: +SKIP

Run it with ``adwise serve``; make keys with ``adwise keys create --name N --scope read``.
"""

from adwise.service._app import API_PREFIX, ServiceSettings, create_app
from adwise.service._auth import ADMIN_VERBS, route_scope, scope_refusal
from adwise.service._keys import SCOPES, ApiKey, KeyStore
from adwise.service._state import ModelNotFoundError, ServiceState

__all__ = [
    "ADMIN_VERBS",
    "API_PREFIX",
    "SCOPES",
    "ApiKey",
    "KeyStore",
    "ModelNotFoundError",
    "ServiceSettings",
    "ServiceState",
    "create_app",
    "route_scope",
    "scope_refusal",
]
