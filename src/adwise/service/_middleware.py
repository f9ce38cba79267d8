"""Pure ASGI middlewares (no per-request thread hops): metrics, body limit, API-key check,
time limit for slow (generation) routes."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from typing import Any

from starlette.exceptions import HTTPException

from adwise.service._keys import KeyStore
from adwise.service._metrics import Metrics

__all__ = [
    "AuthMiddleware",
    "BodyLimitMiddleware",
    "MetricsMiddleware",
    "TimeLimitMiddleware",
    "parse_bearer",
]

log = logging.getLogger(__name__)

Scope = dict[str, Any]


async def _send_json(send, status: int, detail: str, headers: Sequence[tuple[bytes, bytes]] = ()
                     ) -> None:
    body = json.dumps({"detail": detail}).encode("utf-8")
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()), *headers],
    })
    await send({"type": "http.response.body", "body": body})


def parse_bearer(scope: Scope) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            try:
                text = value.decode("latin-1")
            except UnicodeDecodeError:
                return None
            scheme, _, token = text.strip().partition(" ")
            if scheme.lower() != "bearer":
                return None
            return token.strip() or None
    return None


class MetricsMiddleware:
    """Counts requests and times them, labelled by route template."""

    def __init__(self, app, metrics: Metrics, route_table=None) -> None:
        self.app = app
        self.metrics = metrics
        # () -> [(compiled path regex, path template, methods)], built on first use
        self.route_table = route_table
        self._table: list | None = None
        self._labels: dict[tuple[str, str], str] = {}

    def _route_label(self, scope: Scope) -> str:
        method, path = scope["method"], scope.get("path", "")
        key = (method, path)
        label = self._labels.get(key)
        if label is not None:
            return label
        if self._table is None:
            self._table = list(self.route_table()) if self.route_table else []
        label = "unmatched"
        for regex, template, methods in self._table:
            if regex.match(path):
                label = template
                if not methods or method in methods:
                    break
        if len(self._labels) > 10_000:  # raw paths carry ids: keep the memo bounded
            self._labels.clear()
        self._labels[key] = label
        return label

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        t0 = time.perf_counter()

        async def send_wrapper(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight += 1
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.in_flight -= 1
            self.metrics.observe(scope["method"], self._route_label(scope), status,
                                 time.perf_counter() - t0)


class BodyLimitMiddleware:
    """Refuses request bodies over ``max_bytes`` with 413 (by Content-Length, and by counting
    what is actually received, so chunked uploads cannot slip through)."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _message(self) -> str:
        return (f"request body is larger than the service's limit of {self.max_bytes} bytes; "
                "send fewer rows per request (or start the service with a larger --max-body).")

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    n = int(value)
                except ValueError:
                    await _send_json(send, 400, "the Content-Length header is not a number.")
                    return
                if n > self.max_bytes:
                    await _send_json(send, 413, self._message())
                    return
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # FastAPI re-raises HTTPException from body reading; answered as 413.
                    raise HTTPException(413, self._message())
            return message

        await self.app(scope, limited_receive, send)


class AuthMiddleware:
    """Authenticates every request under ``prefix`` before anything else reads it (401).

    The key record is left in ``scope["adwise.api_key"]`` for the per-route scope check (the
    dependency the service adds to every ``/v1`` route, which also authenticates by itself if
    this middleware is ever left out).
    """

    def __init__(self, app, keys: KeyStore, prefix: str = "/v1") -> None:
        self.app = app
        self.keys = keys
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive, send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == self.prefix or
                                        path.startswith(self.prefix + "/")):
            token = parse_bearer(scope)
            key = self.keys.verify(token)
            if key is None:
                detail = (
                    "missing API key: send 'Authorization: Bearer <key>' (make a key with "
                    "`adwise keys create --name NAME --scope read`)." if token is None
                    else "invalid or revoked API key."
                )
                await _send_json(send, 401, detail, [(b"www-authenticate", b"Bearer")])
                return
            scope["adwise.api_key"] = key
        await self.app(scope, receive, send)


class TimeLimitMiddleware:
    """Answers 504 when a request under one of ``prefixes`` takes longer than ``seconds``.

    The handler keeps running in the background (a thread cannot be interrupted); whatever it
    sends afterwards is dropped.
    """

    def __init__(self, app, prefixes: Sequence[str], seconds: float) -> None:
        self.app = app
        self.prefixes = tuple(prefixes)
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http" or not self.prefixes or \
                not scope.get("path", "").startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        started = False
        timed_out = False

        async def guarded_send(message) -> None:
            nonlocal started
            if timed_out:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        done, _ = await asyncio.wait({task}, timeout=self.seconds)
        if task in done:
            task.result()
            return
        if started:  # streaming already began; let it finish
            await task
            return
        timed_out = True
        task.cancel()
        task.add_done_callback(_log_late)
        await _send_json(
            send, 504,
            f"generation took longer than the service's limit of {self.seconds:g} s; ask for "
            "fewer variants, use a faster backend, or raise --generation-timeout.",
        )


def _log_late(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("a timed-out request failed later: %s", task.exception())
