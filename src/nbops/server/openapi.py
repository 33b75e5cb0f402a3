"""The OpenAPI 3.1 document of ``/nbops/api/v1/`` (served at ``openapi.json``)."""

from __future__ import annotations

from typing import Any

_ERROR = {"description": "an nbops error", "content": {"application/json": {"schema": {
    "$ref": "#/components/schemas/Error"}}}}
_ERRORS = {
    "400": {**_ERROR, "description": "bad input (filter, sort, paging, body, name)"},
    "403": {**_ERROR, "description": "refused by governance: the user's role or the alias's policy"},
    "404": {**_ERROR, "description": "no such run, model, version, request, schedule or workspace"},
    "409": {**_ERROR, "description": "conflicts with the registry's state"},
}


def _q(name: str, desc: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": desc, "schema": {"type": kind}}


def _p(name: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}


def _op(summary: str, params: list[dict[str, Any]] | None = None, body: list[str] | None = None,
        method: str = "get") -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "parameters": params or [],
                          "responses": {"200": {"description": "OK", "content": {
                              "application/json": {"schema": {"type": "object"}}}}, **_ERRORS}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "properties": {k: {"type": "string"} for k in body}}}}}
    return {method: op}


def openapi_document() -> dict[str, Any]:
    action = lambda s, b: _op(s, body=b, method="post")  # noqa: E731
    return {
        "openapi": "3.1.0",
        "info": {"title": "nbops", "version": "1",
                 "description": "The catalog of an nbops workspace, for the JupyterLab sidebar. "
                                "Authenticated by Jupyter; actions act as Jupyter's user."},
        "servers": [{"url": "/nbops/api/v1"}],
        "paths": {
            "/info": _op("the workspace and the acting user"),
            "/runs": _op("runs, one page", [
                _q("notebook", "only this notebook's runs (path relative to the server root)"),
                _q("filter", "e.g. metric.acc > 0.9 and param.model = 'rf'"),
                _q("sort", "started_at, name, duration_ms, metric.X or param.X"),
                _q("order", "desc (default) or asc"),
                _q("offset", "first row", "integer"), _q("limit", "rows (1..500, default 50)", "integer")]),
            "/runs/{ref}": _op("one run: code, params, metrics, inputs, outputs, lineage; "
                               "with ?diff=OTHER the difference to another run",
                               [_p("ref"), _q("diff", "another run to compare with")]),
            "/models": _op("registered models"),
            "/models/{name}": _op("versions, aliases, alias history, requests, policies", [_p("name")]),
            "/models/{name}/versions/{version}": _op("one version and its approvals",
                                                     [_p("name"), _p("version", "integer")]),
            "/models/{name}/card": _op("the model card", [_p("name"), _q("ref", "e.g. clf@prod")]),
            "/pipelines": _op("schedules (with next run) and recent pipeline runs",
                              [_q("limit", "runs", "integer")]),
            "/pipelines/runs/{id}/notebook": _op("a pipeline run's output notebook", [_p("id")]),
            "/schedules/{name}/run": _op("run a schedule now (the scheduler picks it up)", [_p("name")],
                                         method="post"),
            "/audit": _op("the audit log, newest first", [_q("model", "only this model's entries"),
                                                          _q("limit", "entries", "integer")]),
            "/alerts": _op("each rule's alert state (firing first), the live rules, firing count"),
            "/alerts/history": _op("alert state changes, newest first",
                                   [_q("rule", "only this rule's"), _q("limit", "events", "integer")]),
            "/alerts/{rule}/ack": _op("acknowledge a firing alert (needs contributor)", [_p("rule")],
                                      body=["note"], method="post"),
            "/experiments": _op("A/B experiments", [_q("status", "draft, running, stopped or concluded")]),
            "/experiments/{name}": _op("an experiment and its report: decision, reasons, estimates "
                                       "(read-only: guardrails are reported, not enforced)",
                                       [_p("name"), _q("alpha", "significance level", "number"),
                                        _q("min_units", "units per variant before deciding", "integer")]),
            "/actions/promote": action("move an alias to a version", ["model", "version", "alias", "reason"]),
            "/actions/rollback": action("move an alias back", ["model", "alias", "reason"]),
            "/actions/request": action("request a promotion", ["model", "version", "alias", "reason"]),
            "/actions/approve": action("approve a request", ["request_id", "comment"]),
            "/actions/reject": action("reject a request", ["request_id", "comment"]),
            "/openapi.json": _op("this document"),
        },
        "components": {"schemas": {"Error": {"type": "object", "required": ["error"], "properties": {
            "error": {"type": "string"}, "hint": {"type": ["string", "null"]},
            "type": {"type": "string"}, "violations": {"type": "array", "items": {"type": "string"}}}}}},
    }
