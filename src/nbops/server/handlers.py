"""Tornado handlers of ``/nbops/api/v1/``: authenticated by Jupyter, blocking work in a thread pool.

Errors become HTTP responses in one place, :meth:`Base.write_error`: an
``NbopsError`` subclass's ``http_status`` and ``{"error": ..., "hint": ...}``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler

from nbops.errors import NbopsError
from nbops.server import governed, observed, service
from nbops.server.openapi import openapi_document

_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="nbops-api")
_ANONYMOUS = re.compile(r"^[0-9a-f]{32}$")


def http_status(exc: NbopsError) -> int:
    """The one mapping of errors to HTTP: each class's ``http_status``; nbops raises a plain
    ``NbopsError`` for a request it cannot act on (a bad filter, sort or body), hence 400."""
    return 400 if type(exc) is NbopsError else exc.http_status


class Base(APIHandler):
    @property
    def hub(self) -> service.WorkspaceHub:
        return self.settings["nbops_hub"]

    def actor(self) -> str:
        """The governance actor: Jupyter's user; when Jupyter has no real identity
        (a generated anonymous user), the same user the kernels act as."""
        configured = self.settings.get("nbops_user")
        if configured:
            return str(configured)
        user = self.current_user
        username = getattr(user, "username", None) or str(user)
        name = getattr(user, "name", "") or ""
        if _ANONYMOUS.match(username) and name.startswith("Anonymous"):
            from nbops.config import current_user

            return os.environ.get("NBOPS_USER") or current_user()
        return username

    async def call(self, fn: Callable[..., Any], *args: Any) -> None:
        result = await asyncio.get_running_loop().run_in_executor(_POOL, partial(fn, *args))
        self.finish(json.dumps(result))

    def body(self) -> dict[str, Any]:
        try:
            data = json.loads(self.request.body or b"{}")
        except ValueError:
            raise NbopsError("the request body is not JSON", hint="send a JSON object") from None
        if not isinstance(data, dict):
            raise NbopsError("the request body must be a JSON object", hint='e.g. {"model": "clf"}')
        return data

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        self.set_header("Content-Type", "application/json")
        if isinstance(exc, NbopsError):
            self.set_status(http_status(exc))
            payload = {"error": exc.message, "hint": exc.hint, "type": type(exc).__name__}
            for field in ("actor", "action", "violations"):
                if hasattr(exc, field):
                    payload[field] = getattr(exc, field)
        elif isinstance(exc, tornado.web.HTTPError):
            payload = {"error": exc.log_message or self._reason, "hint": None}
        else:
            payload = {"error": f"internal error: {exc}", "hint": "see the Jupyter server's log"}
        self.finish(json.dumps(payload))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, NbopsError):
            self.log.info("nbops: %s %s -> %s", self.request.method, self.request.path, value)
        else:
            super().log_exception(typ, value, tb)

    def args(self, *names: str) -> dict[str, str | None]:
        return {n: self.get_argument(n, None) for n in names}


class Info(Base):
    @tornado.web.authenticated
    async def get(self) -> None:
        def info() -> dict[str, Any]:
            ws = self.hub.workspace()
            return {"workspace": str(ws.settings.home), "user": actor, "root_dir": str(self.hub.root_dir)}

        actor = self.actor()
        await self.call(info)


class Runs(Base):
    @tornado.web.authenticated
    async def get(self) -> None:
        q = service.parse_run_query(self.args("notebook", "filter", "sort", "order", "offset", "limit"))
        await self.call(service.list_runs, self.hub, q)


class RunOne(Base):
    @tornado.web.authenticated
    async def get(self, ref: str) -> None:
        other = self.get_argument("diff", None)
        if other:
            await self.call(service.run_diff, self.hub, ref, other)
        else:
            await self.call(service.run_details, self.hub, ref)


class Models(Base):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.call(governed.list_models, self.hub)


class ModelOne(Base):
    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        await self.call(governed.model_details, self.hub, name)


class ModelVersion(Base):
    @tornado.web.authenticated
    async def get(self, name: str, version: str) -> None:
        await self.call(governed.model_version, self.hub, name, int(version))


class ModelCard(Base):
    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        await self.call(governed.model_card, self.hub, self.get_argument("ref", f"{name}@latest"))


class Pipelines(Base):
    @tornado.web.authenticated
    async def get(self) -> None:
        limit = service.parse_run_query({"limit": self.get_argument("limit", None)}).limit
        await self.call(governed.list_pipelines, self.hub, limit)


class OutputNotebook(Base):
    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        await self.call(governed.output_notebook, self.hub, run_id)


class RunScheduleNow(Base):
    @tornado.web.authenticated
    async def post(self, name: str) -> None:
        await self.call(governed.run_schedule_now, self.hub, name, self.actor())


class Audit(Base):
    @tornado.web.authenticated
    async def get(self) -> None:
        limit = service.parse_run_query({"limit": self.get_argument("limit", None)}).limit
        await self.call(governed.audit_log, self.hub, self.get_argument("model", None), limit)


class Actions(Base):
    @tornado.web.authenticated
    async def post(self, action: str) -> None:
        await self.call(governed.act, self.hub, action, self.body(), self.actor())


class Alerts(Base):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.call(observed.list_alerts, self.hub)


class AlertHistory(Base):
    @tornado.web.authenticated
    async def get(self) -> None:
        limit = service.parse_run_query({"limit": self.get_argument("limit", None)}).limit
        await self.call(observed.alert_history, self.hub, self.get_argument("rule", None), limit)


class AlertAck(Base):
    @tornado.web.authenticated
    async def post(self, rule: str) -> None:
        await self.call(observed.acknowledge, self.hub, rule, self.body(), self.actor())


class Experiments(Base):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.call(observed.list_experiments, self.hub, self.get_argument("status", None))


class ExperimentOne(Base):
    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        alpha = service.parse_float(self.get_argument("alpha", None), 0.05, 1e-6, 0.5, "alpha")
        min_units = service.parse_int(self.get_argument("min_units", None), 100, 2, 10**9, "min_units")
        await self.call(observed.experiment_report, self.hub, name, alpha, min_units)


class OpenAPI(Base):
    @tornado.web.authenticated
    async def get(self) -> None:
        self.finish(json.dumps(openapi_document()))


class NotFoundHandler(Base):
    async def get(self, path: str) -> None:
        from nbops.errors import NotFound

        raise NotFound(f"no endpoint /nbops/api/v1/{path}", hint="see /nbops/api/v1/openapi.json")


NAME = r"([^/]+)"
ROUTES: list[tuple[str, type[Base]]] = [
    ("info", Info),
    ("runs", Runs),
    (f"runs/{NAME}", RunOne),
    ("models", Models),
    (f"models/{NAME}", ModelOne),
    (f"models/{NAME}/versions/([0-9]+)", ModelVersion),
    (f"models/{NAME}/card", ModelCard),
    ("pipelines", Pipelines),
    (f"pipelines/runs/{NAME}/notebook", OutputNotebook),
    (f"schedules/{NAME}/run", RunScheduleNow),
    ("audit", Audit),
    ("alerts", Alerts),
    ("alerts/history", AlertHistory),
    (f"alerts/{NAME}/ack", AlertAck),
    ("experiments", Experiments),
    (f"experiments/{NAME}", ExperimentOne),
    ("actions/(promote|rollback|request|approve|reject)", Actions),
    ("openapi.json", OpenAPI),
]
