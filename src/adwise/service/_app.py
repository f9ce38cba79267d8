"""The FastAPI application: every capability's router under ``/v1`` behind API keys."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel

from adwise._exceptions import (
    AdwiseError,
    ArtifactError,
    DependencyUnavailableError,
    InputError,
    NotFittedError,
    WorkspaceBusyError,
)
from adwise._plugins import discover, load_ref
from adwise._version import __version__
from adwise.data import Workspace
from adwise.service._auth import make_auth_dependency, scope_for
from adwise.service._keys import KeyStore
from adwise.service._metrics import Metrics
from adwise.service._middleware import (
    AuthMiddleware,
    BodyLimitMiddleware,
    MetricsMiddleware,
    TimeLimitMiddleware,
)
from adwise.service._routes import service_router
from adwise.service._state import ModelNotFoundError, ServiceState

__all__ = ["ServiceSettings", "app_from_env", "create_app", "effective_routes"]

log = logging.getLogger(__name__)

API_PREFIX = "/v1"


@dataclass(frozen=True)
class ServiceSettings:
    """Limits of one service.

    Attributes
    ----------
    max_body_bytes : int
        Larger request bodies are refused with 413.
    generation_timeout_s : float
        Requests under ``generation_prefixes`` that take longer are answered 504.
    generation_prefixes : tuple of str
        Path prefixes of slow, generative routes.
    report_ttl_s : float
        How long the live report's sections are cached.
    """

    max_body_bytes: int = 1_048_576
    generation_timeout_s: float = 30.0
    generation_prefixes: tuple[str, ...] = (f"{API_PREFIX}/creative/",)
    report_ttl_s: float = 30.0


class ErrorBody(BaseModel):
    """Every error answer: ``{"detail": message}`` (422 from request validation carries a
    list of problems instead)."""

    detail: str


_ERRORS: dict[int | str, dict] = {
    400: {"model": ErrorBody, "description": "Bad input (message says what and how to fix)"},
    401: {"model": ErrorBody, "description": "Missing, invalid or revoked API key"},
    403: {"model": ErrorBody, "description": "The key's scope does not allow this route"},
    404: {"model": ErrorBody, "description": "No promoted model, or unknown id"},
    413: {"model": ErrorBody, "description": "Request body over the service's limit"},
    503: {"model": ErrorBody, "description": "The workspace is busy (another process writes "
          "it; retry after Retry-After seconds) or the model cannot be loaded"},
}

# Seconds a client should wait before retrying a request refused because another process
# holds the workspace database (an ingest or training run, typically seconds to minutes).
_BUSY_RETRY_AFTER_S = 5


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status, headers=dict(headers or {}))


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ModelNotFoundError)
    async def _model_missing(_: Request, exc: ModelNotFoundError) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(WorkspaceBusyError)
    async def _busy(_: Request, exc: WorkspaceBusyError) -> JSONResponse:
        return _error(503, str(exc), {"Retry-After": str(_BUSY_RETRY_AFTER_S)})

    @app.exception_handler(InputError)
    async def _bad_input(_: Request, exc: InputError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(ArtifactError)
    async def _artifact(_: Request, exc: ArtifactError) -> JSONResponse:
        log.error("artifact error: %s", exc)
        return _error(503, f"the model cannot be loaded: {exc}")

    @app.exception_handler(DependencyUnavailableError)
    async def _dependency(_: Request, exc: DependencyUnavailableError) -> JSONResponse:
        # The request asked for an optional extra this installation lacks (e.g. a local LLM
        # backend): the caller can fix it by asking for another, so it is a 400.
        return _error(400, str(exc))

    @app.exception_handler(NotFittedError)
    async def _not_fitted(_: Request, exc: NotFittedError) -> JSONResponse:
        return _error(503, f"the model is not fitted: {exc}")

    @app.exception_handler(AdwiseError)
    async def _adwise(_: Request, exc: AdwiseError) -> JSONResponse:
        log.error("%s: %s", type(exc).__name__, exc)
        return _error(500, f"{type(exc).__name__}: {exc}")

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error")
        return _error(500, "internal error; the service log has the details.")


def _static(name: str) -> bytes:
    if name == "charts.js":  # the report's vendored chart runtime: one copy for both
        from adwise.report import chart_runtime

        return chart_runtime().encode("utf-8")
    return resources.files("adwise.service").joinpath("static", name).read_bytes()


_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'")


def _install_dashboard(app: FastAPI) -> None:
    files = {
        "/": ("index.html", "text/html; charset=utf-8"),
        "/dashboard.js": ("dashboard.js", "text/javascript; charset=utf-8"),
        "/dashboard.css": ("dashboard.css", "text/css; charset=utf-8"),
        "/charts.js": ("charts.js", "text/javascript; charset=utf-8"),
    }
    for path, (name, media) in files.items():
        body = _static(name)

        def serve(body: bytes = body, media: str = media) -> Response:
            return Response(body, media_type=media, headers={
                "content-security-policy": _CSP, "x-content-type-options": "nosniff",
                "cache-control": "no-cache"})

        app.add_api_route(path, serve, methods=["GET"], include_in_schema=False)
    app.add_api_route("/favicon.ico", lambda: Response(status_code=204), methods=["GET"],
                      include_in_schema=False)


def create_app(
    workspace: Workspace | str | Path,
    settings: ServiceSettings | None = None,
    extra_routers: Sequence[Callable[[ServiceState], APIRouter]] = (),
    capabilities: Sequence[str] | None = None,
) -> FastAPI:
    """The adwise REST service for one workspace.

    Parameters
    ----------
    workspace : Workspace or path
        The workspace to serve (its registry, tables and API keys).
    settings : ServiceSettings, optional
        Limits (body size, generation time).
    extra_routers : sequence of callables
        More ``router(state) -> APIRouter`` factories, mounted under ``/v1`` like capability
        routers (tests, plug-ins).
    capabilities : sequence of str, optional
        Mount only these capabilities' routers (default: every discovered capability).

    Returns
    -------
    FastAPI
        Every route under ``/v1`` requires ``Authorization: Bearer <key>``; ``/healthz``,
        ``/metrics``, ``/openapi.json``, ``/docs`` and the dashboard at ``/`` do not.
    """
    ws = workspace if isinstance(workspace, Workspace) else Workspace.open(workspace)
    settings = settings or ServiceSettings()
    state = ServiceState(ws)
    keys = KeyStore(ws.path)
    metrics = Metrics()
    caps = discover()
    if capabilities is not None:
        caps = {k: v for k, v in caps.items() if k in set(capabilities)}

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        from starlette.concurrency import run_in_threadpool

        loaded = await run_in_threadpool(state.preload)
        if loaded:
            log.info("models loaded: %s", loaded)
        yield

    app = FastAPI(
        title="adwise",
        version=__version__,
        description=(
            "Ad-marketing intelligence on your own logs. Every route under `/v1` needs "
            "`Authorization: Bearer <key>` (make keys with `adwise keys create`). A `read` key "
            "may call GET routes and scoring/ranking/generation POSTs; routes that change state "
            "(promote, rollback, export, reward, ...) need an `admin` key; each operation's "
            "`x-adwise-scope` says which. `POST /v1/creative/generate` stores its creatives "
            "only for an admin key (`store: true` with a read key is refused with 403)."
        ),
        lifespan=lifespan,
    )
    app.state.adwise = state
    app.state.keys = keys
    app.state.metrics = metrics
    app.state.settings = settings

    auth = make_auth_dependency(keys)
    app.state.auth = auth
    include = {"prefix": API_PREFIX, "dependencies": [Depends(auth)], "responses": _ERRORS}
    app.include_router(service_router(state, settings.report_ttl_s), **include)
    mounted: dict[str, str] = {}
    for name, cap in caps.items():
        if not cap.router:
            continue
        try:
            factory = load_ref(cap.router)
        except (ImportError, AttributeError) as exc:
            log.error("capability %s: router %s cannot be imported (%s); not served",
                      name, cap.router, exc)
            continue
        app.include_router(factory(state), **include)
        mounted[name] = cap.router
    for factory in extra_routers:
        app.include_router(factory(state), **include)
    app.state.mounted = mounted

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        return {"status": "ok", "version": __version__, "capabilities": sorted(mounted),
                "models": state.loaded()}

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(),
                                 media_type="text/plain; version=0.0.4; charset=utf-8")

    metrics.gauges.append(lambda: [
        "# HELP adwise_model_loaded A model version this process serves (1).",
        "# TYPE adwise_model_loaded gauge",
        *(f'adwise_model_loaded{{name="{n}",version="{v}"}} 1'
          for n, v in sorted(state.loaded().items())),
    ])
    _install_dashboard(app)
    _install_error_handlers(app)
    _check_routes(app, auth)
    _install_openapi(app)

    # Outermost last: metrics -> body limit -> auth -> time limit -> routing.
    app.add_middleware(TimeLimitMiddleware, prefixes=settings.generation_prefixes,
                       seconds=settings.generation_timeout_s)
    app.add_middleware(AuthMiddleware, keys=keys, prefix=API_PREFIX)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics, route_table=lambda: _route_table(app))
    return app


SERVE_ENV = "ADWISE_SERVE_CONFIG"


def app_from_env() -> FastAPI:
    """The app of one worker process of ``adwise serve --workers N``.

    uvicorn starts each worker from an import string, so the workspace and settings travel in
    ``$ADWISE_SERVE_CONFIG`` (JSON: ``{"workspace": path, "settings": {...}}``); each worker
    loads the models once, at its start.
    """
    cfg = json.loads(os.environ[SERVE_ENV])
    fields = dict(cfg.get("settings", {}))
    if "generation_prefixes" in fields:
        fields["generation_prefixes"] = tuple(fields["generation_prefixes"])
    return create_app(cfg["workspace"], ServiceSettings(**fields))


def serve_env(workspace: Workspace, settings: ServiceSettings) -> str:
    """The ``$ADWISE_SERVE_CONFIG`` value :func:`app_from_env` reads."""
    fields = {k: list(v) if isinstance(v, tuple) else v
              for k, v in dataclasses.asdict(settings).items()}
    return json.dumps({"workspace": str(workspace.path), "settings": fields})


def effective_routes(app: FastAPI) -> list:
    """Every route as served (prefix applied), whatever FastAPI's include mechanism: objects
    with ``path``, ``methods``, ``path_regex`` and, for API routes, ``dependant``."""
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI >= 0.16x: live includes
    except ImportError:
        return list(app.routes)
    return list(iter_route_contexts(app.routes))


def _under_prefix(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def _check_routes(app: FastAPI, auth) -> None:
    """Refuse to build an app with a ``/v1`` route lacking the API-key dependency."""
    for route in effective_routes(app):
        path = getattr(route, "path", "") or ""
        if not _under_prefix(path):
            continue
        deps = getattr(getattr(route, "dependant", None), "dependencies", None) or []
        if not any(d.call is auth for d in deps):
            raise RuntimeError(f"route {path} is under {API_PREFIX} but has no API-key check")


def _route_table(app: FastAPI) -> list:
    out = []
    for r in effective_routes(app):
        regex = getattr(r, "path_regex", None)
        if regex is not None and getattr(r, "path", None):
            out.append((regex, r.path, set(getattr(r, "methods", None) or ())))
    return out


def _install_openapi(app: FastAPI) -> None:
    """Add each ``/v1`` operation's required scope (``x-adwise-scope``) to the document."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description,
                             routes=app.routes)
        for path, ops in schema.get("paths", {}).items():
            if not _under_prefix(path):
                continue
            for method, op in ops.items():
                if isinstance(op, dict) and "responses" in op:
                    op["x-adwise-scope"] = scope_for([method], path, op, op.get("tags"))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi
