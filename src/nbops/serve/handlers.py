"""The endpoints. Each is ``async (request, ctx) -> dict | Response``; see :mod:`nbops.serve.app`.

Models and experiments already loaded are served inline on the event loop (a one-row
predict is far cheaper than a hop to a thread); a first load or a catalog read runs in
the thread pool.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from nbops.governance.identity import Role
from nbops.serve.app import Ctx, json_body
from nbops.serve.errors import BadRequest, InvalidInput
from nbops.serve.requestlog import Entry
from nbops.serve.schema import pop_units, to_frame
from nbops.tracking.names import parse_ref


async def healthz(request: Request, ctx: Ctx) -> dict[str, Any]:
    return {"status": "ok", "models": len(ctx.state.models.describe())}


async def metrics(request: Request, ctx: Ctx) -> Response:
    ctx.require(Role.VIEWER, None, "reading metrics")
    return PlainTextResponse(ctx.state.metrics.render(), media_type="text/plain; version=0.0.4")


async def openapi(request: Request, ctx: Ctx) -> dict[str, Any]:
    from nbops.serve.openapi import document

    ctx.require(Role.VIEWER, None, "reading the API document")
    return document()


async def models(request: Request, ctx: Ctx) -> dict[str, Any]:
    from nbops import registry

    ctx.require(Role.VIEWER, None, "listing models")
    frame = await run_in_threadpool(registry.models, ws=ctx.state.ws)
    rows = [{k: (None if v is None or (isinstance(v, float) and math.isnan(v)) else
                 v.isoformat() if hasattr(v, "isoformat") else v.item() if hasattr(v, "item") else v)
             for k, v in r.items()} for r in frame.to_dict("records")]
    return {"models": rows, "serving": ctx.state.models.describe()}


def _ids(ctx: Ctx, n: int) -> list[str]:
    """One request id per row: the request's own for one row, ``<id>-<i>`` for several."""
    return [ctx.request_id] if n == 1 else [f"{ctx.request_id}-{i}" for i in range(n)]


def _plain(values: Any) -> list[Any]:
    return np.asarray(values).tolist()


async def predict_model(request: Request, ctx: Ctx) -> dict[str, Any]:
    ref = request.path_params["ref"]
    name = parse_ref(ref).name
    ctx.require(Role.VIEWER, name, f"predicting with {name}")
    body = await json_body(request)
    state = ctx.state
    loaded = state.models.cached(ref)
    if loaded is None:
        loaded = await run_in_threadpool(state.models.get, ref)
    ctx.labels = ("predict", loaded.name, str(loaded.version), "")
    X, cols = to_frame(body, loaded.schema)
    ids = _ids(ctx, len(X))
    try:
        preds = _plain(loaded.model.predict(X))
    except Exception as exc:
        state.requests.add(Entry(loaded.ref, None, cols, [None] * len(X), ids, ctx.elapsed_ms(),
                                 f"{type(exc).__name__}: {exc}"[:500]))
        raise
    state.requests.add(Entry(loaded.ref, None, cols, preds, ids, ctx.elapsed_ms()))
    out: dict[str, Any] = {"model": loaded.name, "version": loaded.version, "predictions": preds}
    if len(ids) > 1:
        out["request_ids"] = ids
    return out


async def predict_experiment(request: Request, ctx: Ctx) -> dict[str, Any]:
    name = request.path_params["name"]
    ctx.require(Role.VIEWER, None, f"predicting through experiment {name}")
    body = await json_body(request)
    table = ctx.state.experiments
    exp = table.cached(name)
    if exp is None:
        exp = await run_in_threadpool(table.get, name)
    body, units = pop_units(body, exp.row.unit)
    if units is None:
        units = request.query_params.getlist("unit_id") or None
    if not units:
        raise InvalidInput(f"a unit id is required: field {exp.row.unit!r} (or 'unit_id') in each row, "
                           "or ?unit_id=", field=exp.row.unit)
    X, cols = to_frame(body, table.schema(name))
    if len(units) == 1 and len(X) > 1:
        units = units * len(X)
    if len(units) != len(X):
        raise InvalidInput(f"{len(units)} unit ids for {len(X)} rows", field=exp.row.unit)
    ids = _ids(ctx, len(X))
    frame, exposures = table.route(exp, units, X, ids)
    variants = [str(v) for v in frame["variant"]]
    preds = _plain(frame["prediction"])
    pinned = exp.pinned()
    ref = pinned.get(variants[0], exp.variants[variants[0]])
    ctx.labels = ("experiment", ref.split("@")[0], ref.partition("@v")[2], variants[0])
    _log_experiment(ctx, exp, cols, variants, preds, ids, exposures)
    out: dict[str, Any] = {"experiment": name, "status": str(exp.status), "predictions": preds,
                           "variants": variants}
    if len(ids) == 1:
        out.update(prediction=preds[0], variant=variants[0])
    else:
        out["request_ids"] = ids
    return out


def _log_experiment(ctx: Ctx, exp: Any, cols: dict[str, list[Any]], variants: list[str],
                    preds: list[Any], ids: list[str], exposures: Any) -> None:
    """One log entry per (variant, served or shadow): shadow rows repeat the request's rows."""
    n, pinned, ms = len(variants), exp.pinned(), ctx.elapsed_ms()
    groups: dict[tuple[str, bool], list[int]] = {}
    if len(exposures):
        for i, (v, shadow) in enumerate(zip(exposures.variants, exposures.shadow, strict=True)):
            groups.setdefault((v, shadow), []).append(i)
    else:  # not running: control answered, no exposures
        groups[(variants[0], False)] = list(range(n))
    for (v, _), rows in groups.items():
        src = [i % n for i in rows]
        values = [exposures.predictions[i] for i in rows] if len(exposures) else [preds[i] for i in src]
        errors = {exposures.errors[i] for i in rows} - {None} if len(exposures) else set()
        ctx.state.requests.add(Entry(
            pinned.get(v) or exp.variants[v], v, {c: [vals[i] for i in src] for c, vals in cols.items()},
            _plain(values), [ids[i] for i in src], ms, next(iter(errors)) if errors else None))


async def outcomes(request: Request, ctx: Ctx) -> dict[str, Any]:
    """``{"request_id": ..., "value": ...}`` or ``{"experiment": ..., "unit_id": ..., "value": ...}``,
    or a list of them."""
    ctx.require(Role.CONTRIBUTOR, None, "recording outcomes")
    body = await json_body(request)
    items = body if isinstance(body, list) else [body]
    parsed = [_outcome(i, item) for i, item in enumerate(items)]
    state, joined = ctx.state, 0
    by_request = [(p["request_id"], p["value"]) for p in parsed if p.get("request_id")]
    if by_request:
        state.logger.log_outcomes([r for r, _ in by_request], [v for _, v in by_request])
    for p in parsed:
        hit = state.experiments.unit_of(p["request_id"]) if p.get("request_id") else None
        exp_name, unit = hit if hit else (p.get("experiment"), p.get("unit_id"))
        if exp_name and unit is not None:
            if state.experiments.cached(exp_name) is None:
                await run_in_threadpool(state.experiments.get, exp_name)
            state.experiments.add_outcomes(exp_name, [str(unit)], [p["value"]])
            joined += 1
    return {"accepted": len(parsed), "experiment_outcomes": joined}


def _outcome(i: int, item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise BadRequest(f"outcome {i} is not an object", hint='{"request_id": "...", "value": 1}')
    value = item.get("value")
    if isinstance(value, bool):
        value = float(value)
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"outcome {i}: 'value' must be a finite number", field="value")
    if not item.get("request_id") and not (item.get("experiment") and item.get("unit_id") is not None):
        raise InvalidInput(f"outcome {i}: give 'request_id', or 'experiment' and 'unit_id'",
                           field="request_id")
    return {"request_id": item.get("request_id"), "experiment": item.get("experiment"),
            "unit_id": item.get("unit_id"), "value": float(value)}
