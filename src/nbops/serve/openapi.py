"""The OpenAPI 3.1 document of the model server (``GET /openapi.json``)."""

from __future__ import annotations

from typing import Any

_ERROR = {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_ERRORS = {str(c): {**_ERROR, "description": d} for c, d in [
    (400, "the body is not JSON, or neither rows nor columns"),
    (401, "no API key, or an unknown or revoked one"), (403, "the key's user lacks the role"),
    (404, "no such model, version, alias or experiment"),
    (409, "the experiment is not started"), (422, "a field is missing, unknown or of the wrong type")]}
_INPUT = {"oneOf": [
    {"type": "array", "items": {"type": "object"}, "description": "rows: [{feature: value, ...}, ...]"},
    {"type": "object", "additionalProperties": {"type": "array"}, "description": "columns: {feature: [v, ...]}"},
    {"type": "object", "description": "one row: {feature: value, ...}"}]}


def _op(summary: str, response: dict[str, Any], *, body: dict[str, Any] | None = None,
        params: list[dict[str, Any]] | None = None, public: bool = False) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {"200": {
        "description": "ok", "content": {"application/json": {"schema": response}}}, **_ERRORS}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    if public:
        op["security"] = []
    return op


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}, "description": description}


def document() -> dict[str, Any]:
    rid = {"request_id": {"type": "string"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "nbops model server", "version": "1"},
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                           "description": "nbops serve keys create --user NAME"}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {
                "error": {"type": "string"}, "hint": {"type": ["string", "null"]},
                "field": {"type": "string"}, **rid}},
                "Outcome": {"type": "object", "required": ["value"], "properties": {
                    "request_id": {"type": "string"}, "experiment": {"type": "string"},
                    "unit_id": {"type": ["string", "integer"]}, "value": {"type": "number"}}}}},
        "security": [{"apiKey": []}],
        "paths": {
            "/v1/models/{ref}/predict": {"post": _op(
                "Predict with a registered model (name, name@alias or name@vN)",
                {"type": "object", "properties": {**rid, "model": {"type": "string"}, "version": {"type": "integer"},
                                                  "predictions": {"type": "array"},
                                                  "request_ids": {"type": "array", "items": {"type": "string"}}}},
                body=_INPUT, params=[_path("ref", "name, name@alias or name@vN")])},
            "/v1/experiments/{name}/predict": {"post": _op(
                "Predict through an experiment; the unit id is a field of each row or ?unit_id=",
                {"type": "object", "properties": {**rid, "experiment": {"type": "string"},
                                                  "status": {"type": "string"}, "prediction": {},
                                                  "variant": {"type": "string"}, "predictions": {"type": "array"},
                                                  "variants": {"type": "array", "items": {"type": "string"}}}},
                body=_INPUT, params=[_path("name", "experiment name"),
                                     {"name": "unit_id", "in": "query", "schema": {"type": "string"}}])},
            "/v1/outcomes": {"post": _op(
                "Record outcomes, by request id or by experiment and unit id",
                {"type": "object", "properties": {**rid, "accepted": {"type": "integer"},
                                                  "experiment_outcomes": {"type": "integer"}}},
                body={"oneOf": [{"$ref": "#/components/schemas/Outcome"},
                                {"type": "array", "items": {"$ref": "#/components/schemas/Outcome"}}]})},
            "/v1/models": {"get": _op("Registered models, and the version each served ref answers with",
                                      {"type": "object"})},
            "/healthz": {"get": _op("Liveness (no key needed)", {"type": "object"}, public=True)},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {
                "200": {"description": "text format 0.0.4", "content": {"text/plain": {}}}}}},
            "/openapi.json": {"get": _op("This document", {"type": "object"})},
        },
    }
