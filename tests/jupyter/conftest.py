"""pytest-jupyter's fixtures and hooks (jp_fetch, a real jupyter_server per test) for this
directory only: as a global plugin its autouse fixtures would run around every test of the suite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403
from sidebar_support import build_workspace
from tornado.httpclient import HTTPClientError


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"nbops.server": True}}}


@pytest.fixture
def lab(jp_root_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.chdir(jp_root_dir)
    return build_workspace(jp_root_dir)


@pytest.fixture
def api(jp_fetch: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``await api("runs", user="bob", method="POST", body={...})`` -> (status, json)."""

    async def call(path: str, *, user: str = "alice", method: str = "GET",
                   body: dict[str, Any] | None = None, **params: Any) -> tuple[int, Any]:
        monkeypatch.setenv("NBOPS_USER", user)
        kw: dict[str, Any] = {"method": method, "params": params}
        if body is not None:
            kw["body"] = json.dumps(body)
        try:
            r = await jp_fetch("nbops", "api", "v1", *path.split("/"), **kw)
        except HTTPClientError as exc:
            assert exc.response is not None
            return exc.code, json.loads(exc.response.body)
        return r.code, json.loads(r.body)

    return call
