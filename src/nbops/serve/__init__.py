"""The model server: registered models and experiments over HTTP (``nbops serve``).

``create_app(ws, ServeConfig(...))`` builds the Starlette app (tests and benchmarks run it
on uvicorn in a thread); ``nbops serve`` runs it from the shell. See docs/serving.md.
"""

from __future__ import annotations

from nbops.serve.app import create_app
from nbops.serve.keys import create_key, revoke_key
from nbops.serve.state import ServeConfig

__all__ = ["ServeConfig", "create_app", "create_key", "revoke_key"]
