"""The ASGI application: ``create_app(ws, config)`` for tests and benchmarks, ``from_env()`` for uvicorn.

Each endpoint is a plain function ``(request, ctx) -> dict | Response`` wrapped by
:func:`endpoint`, which gives every answer a request id, checks the API key and role,
maps errors to their HTTP status in one place (``NbopsError.http_status``) as JSON
``{"error", "hint", "request_id"}``, and counts the request in the metrics.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from nbops.errors import NbopsError
from nbops.governance.identity import Role
from nbops.serve.errors import BadRequest
from nbops.serve.state import ServeConfig, ServerState

if TYPE_CHECKING:
    from nbops.workspace import Workspace

log = logging.getLogger("nbops.serve")
REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")  # a client's own id is used when it looks like one


@dataclass
class Ctx:
    """Per request: its id, when it started, who asks, and the metric labels the handler fills in."""

    request_id: str
    started: float
    state: ServerState
    user: str | None = None
    labels: tuple[str, str, str, str] = ("", "", "", "")

    def require(self, need: Role, model: str | None, what: str) -> None:
        if self.user is not None:
            self.state.keys.require(self.user, need, model, what)

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000


Handler = Callable[[Request, Ctx], Awaitable[Any]]


def _api_key(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth and auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("x-api-key")


async def _authenticate(state: ServerState, request: Request) -> str | None:
    """The key's user (None when auth is off)."""
    if not state.config.auth:
        return None
    key = _api_key(request)
    if key and state.keys.needs_refresh(key):
        await run_in_threadpool(state.keys.refresh)
    return state.keys.user_of(key)


def endpoint(name: str, handler: Handler, *, public: bool = False) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        state: ServerState = request.app.state.nbops
        given = request.headers.get(REQUEST_ID_HEADER)
        rid = given if given and _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        ctx = Ctx(rid, time.perf_counter(), state, labels=(name, "", "", ""))
        try:
            if not public:
                ctx.user = await _authenticate(state, request)
            out = await handler(request, ctx)
            response = out if isinstance(out, Response) else JSONResponse({"request_id": ctx.request_id, **out})
        except NbopsError as exc:
            response = _error(ctx, exc.http_status, exc.message, exc.hint, getattr(exc, "field", None))
        except Exception as exc:  # a bug or a model's own failure: 500, the details in the server log
            log.exception("request %s failed", ctx.request_id)
            response = _error(ctx, 500, f"{type(exc).__name__}: {exc}"[:500], "see the server log")
        response.headers[REQUEST_ID_HEADER] = ctx.request_id
        state.metrics.observe(ctx.labels, response.status_code, time.perf_counter() - ctx.started)
        return response

    return run


def _error(ctx: Ctx, status: int, message: str, hint: str | None, field: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message, "hint": hint, "request_id": ctx.request_id}
    if field is not None:
        body["field"] = field
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


async def json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except ValueError:
        raise BadRequest("the body is not valid JSON", hint="send Content-Type: application/json") from None


def create_app(ws: Workspace | None = None, config: ServeConfig | None = None) -> Starlette:
    """The server's ASGI app on ``ws`` (default: the workspace of the current directory, opened
    at startup and closed at shutdown)."""
    from nbops.serve import handlers as h

    cfg = config or ServeConfig()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from nbops.workspace import Workspace

        opened = ws if ws is not None else Workspace.open()
        state = ServerState(opened, cfg, owns_ws=ws is None)
        state.start()
        app.state.nbops = state
        try:
            yield
        finally:
            await run_in_threadpool(state.close)

    routes = [
        Route("/healthz", endpoint("healthz", h.healthz, public=True), methods=["GET"]),
        Route("/metrics", endpoint("metrics", h.metrics), methods=["GET"]),
        Route("/openapi.json", endpoint("openapi", h.openapi), methods=["GET"]),
        Route("/v1/models", endpoint("models", h.models), methods=["GET"]),
        Route("/v1/models/{ref}/predict", endpoint("predict", h.predict_model), methods=["POST"]),
        Route("/v1/experiments/{name}/predict", endpoint("experiment", h.predict_experiment),
              methods=["POST"]),
        Route("/v1/outcomes", endpoint("outcomes", h.outcomes), methods=["POST"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def from_env() -> Starlette:
    """The app ``nbops serve --workers N`` starts in each worker (settings from NBOPS_SERVE_*)."""
    raw = os.environ.get("NBOPS_SERVE_CONFIG")
    cfg = ServeConfig(**json.loads(raw)) if raw else ServeConfig()
    return create_app(None, cfg)
