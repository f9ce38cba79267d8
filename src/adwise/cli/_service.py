"""``adwise serve`` and ``adwise keys``: the REST service and its API keys."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from adwise._exceptions import InputError
from adwise.cli._common import (
    JsonOpt,
    NumberOpt,
    WorkspaceOpt,
    console,
    emit_json,
    err_console,
    open_workspace,
)

__all__ = ["register"]

keys_app = typer.Typer(help="Make, list and revoke API keys for `adwise serve`.",
                       no_args_is_help=True)


@keys_app.command("create")
def keys_create(
    name: str = typer.Option(..., "--name", "-n", help="Who or what uses the key."),
    scope: str = typer.Option("read", "--scope", help="read or admin."),
    workspace: Path = WorkspaceOpt,
    json_: bool = JsonOpt,
) -> None:
    """Make a key and print it once (only its SHA-256 is stored)."""
    from adwise.service import KeyStore

    ws = open_workspace(workspace)
    secret, rec = KeyStore(ws.path).create(name, scope)
    if json_:
        emit_json({"key": secret, **rec.public()})
        return
    console.print(f"API key [bold]{rec.name}[/bold] ({rec.scope}, id {rec.id}); it is shown "
                  "only now, store it safely:")
    typer.echo(secret)


@keys_app.command("list")
def keys_list(workspace: Path = WorkspaceOpt, json_: bool = JsonOpt,
              all_: bool = typer.Option(False, "--all", help="Include revoked keys.")) -> None:
    """The keys (name, scope, id, prefix, created, revoked); never the secrets."""
    from adwise.service import KeyStore

    keys = [k for k in KeyStore(open_workspace(workspace).path).list() if all_ or k.active]
    if json_:
        emit_json({"keys": [k.public() for k in keys]})
        return
    t = Table(title="API keys")
    for c in ("name", "scope", "id", "prefix", "created", "revoked"):
        t.add_column(c)
    for k in keys:
        t.add_row(k.name, k.scope, k.id, k.prefix + "…", k.created, k.revoked or "")
    console.print(t)


@keys_app.command("revoke")
def keys_revoke(
    name_or_id: str = typer.Argument(..., help="The key's name or id."),
    workspace: Path = WorkspaceOpt,
) -> None:
    """Revoke a key; a running service refuses it from the next request on."""
    from adwise.service import KeyStore

    rec = KeyStore(open_workspace(workspace).path).revoke(name_or_id)
    console.print(f"revoked {rec.name} ({rec.id})")


def _check_listen(host: str, port: int) -> None:
    """Refuse (exit 2) a host that does not resolve or an address already taken, before the
    app is built: uvicorn would log the error and exit 3 after a slow start."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise InputError(
            f"--host {host!r} does not resolve ({exc}); give an address of this machine, e.g. "
            "127.0.0.1 (local only) or 0.0.0.0 (every interface)."
        ) from exc
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # as uvicorn binds: a port in TIME_WAIT is free, one with a listener is not
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(addr)
        except OSError as exc:
            why = ("the port is already in use by another process; stop it or choose another "
                   "--port" if exc.errno == errno.EADDRINUSE else
                   f"{host} is not an address of this machine; use 127.0.0.1 or 0.0.0.0"
                   if exc.errno == errno.EADDRNOTAVAIL else str(exc.strerror or exc))
            raise InputError(f"cannot listen on {host}:{port}: {why}.") from exc


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", min=0, max=65535),
    workspace: Path = WorkspaceOpt,
    max_body: int = NumberOpt(1_048_576, "--max-body", low=1024, high=1 << 30,
                              help="Largest request body in bytes (else 413)."),
    generation_timeout: float = NumberOpt(30.0, "--generation-timeout", low=0.1, high=3600,
                                          help="Seconds a generation request may take."),
    access_log: bool = typer.Option(False, "--access-log",
                                    help="Log every request (client, method, path, status)."),
    workers: int = typer.Option(1, "--workers", min=1, max=64,
                                help="Worker processes (each loads the models once)."),
) -> None:
    """Serve every capability under /v1 (API keys required), /healthz, /metrics, the dashboard."""
    import uvicorn

    from adwise.service import KeyStore, ServiceSettings, create_app

    _check_listen(host, port)
    ws = open_workspace(workspace)
    if not any(k.active for k in KeyStore(ws.path).list()):
        err_console.print(
            "[yellow]warning:[/yellow] this workspace has no API key yet, so every /v1 call "
            "will be refused; make one with `adwise keys create --name NAME --scope read`."
        )
    if host not in ("127.0.0.1", "localhost", "::1"):
        err_console.print(f"[yellow]note:[/yellow] listening on {host}: put TLS in front of it.")
    settings = ServiceSettings(max_body_bytes=max_body, generation_timeout_s=generation_timeout)
    app = create_app(ws, settings)
    console.print(f"adwise service for {ws.path} on http://{host}:{port}  (dashboard at /, "
                  f"API under /v1, docs at /docs)")
    target: object = app
    if workers > 1:
        # uvicorn starts workers from an import string; they read the settings from the env
        import os

        from adwise.service._app import SERVE_ENV, serve_env

        os.environ[SERVE_ENV] = serve_env(ws, settings)
        target = "adwise.service._app:app_from_env"
    try:
        # uvicorn logs each request at INFO: --access-log needs that level, else warnings only
        uvicorn.run(target, host=host, port=port,
                    log_level="info" if access_log else "warning", access_log=access_log,
                    server_header=False, workers=workers, factory=workers > 1)
    except OSError as exc:
        raise InputError(f"cannot listen on {host}:{port}: {exc}") from exc


def register(app: typer.Typer) -> None:
    """Add ``serve`` and the ``keys`` group to the root CLI."""
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")
