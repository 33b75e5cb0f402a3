"""The Jupyter server extension: nbops's REST API under ``/nbops/api/v1/`` for the JupyterLab sidebar.

Enabled on install (``etc/jupyter/jupyter_server_config.d/nbops.json``). It opens the
workspace of the server's root directory (or ``NBOPS_HOME``) and shares one catalog
attachment per process with everything else that opens it.
"""

from __future__ import annotations

from typing import Any

API_PREFIX = "nbops/api/v1"


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "nbops.server"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "nbops-jupyterlab"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    from jupyter_server.utils import url_path_join

    from nbops.server.handlers import ROUTES, NotFoundHandler
    from nbops.server.service import WorkspaceHub

    web_app = server_app.web_app
    base = url_path_join(web_app.settings["base_url"], API_PREFIX)
    web_app.settings["nbops_hub"] = WorkspaceHub(server_app.root_dir)
    handlers: list[tuple[str, Any]] = [(url_path_join(base, path) + "/?", h) for path, h in ROUTES]
    handlers.append((url_path_join(base, "(.*)"), NotFoundHandler))
    web_app.add_handlers(".*$", handlers)
    server_app.log.info("nbops: REST API at %s (workspace of %s)", base, server_app.root_dir)


# jupyter_server < 2 looked for this name.
load_jupyter_server_extension = _load_jupyter_server_extension
