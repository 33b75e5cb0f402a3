"""IPython integration: ``%load_ext nbops`` registers ``%%track`` and ``%nbops``.

The magics instance (registered on the shell) owns the kernel's tracking
session; nothing is kept in module globals.
"""

from __future__ import annotations

from typing import Any

_KEY = "NbopsMagics"


def load_ipython_extension(ip: Any) -> None:
    from nbops.magics.execute import await_transformer
    from nbops.magics.track import NbopsMagics, _has_await

    if _KEY in ip.magics_manager.registry:
        return
    magics = NbopsMagics(ip)
    ip.register_magics(magics)
    ip.events.register("pre_run_cell", magics.on_pre_run_cell)
    ip.events.register("post_run_cell", magics.on_post_run_cell)
    target = f"get_ipython().magics_manager.registry[{_KEY!r}]"
    magics.transformer = await_transformer(lambda body: _has_await(ip, body), target)
    ip.input_transformers_post.append(magics.transformer)


def unload_ipython_extension(ip: Any) -> None:
    magics = ip.magics_manager.registry.pop(_KEY, None)
    if magics is None:
        return
    ip.events.unregister("pre_run_cell", magics.on_pre_run_cell)
    ip.events.unregister("post_run_cell", magics.on_post_run_cell)
    if magics.transformer in ip.input_transformers_post:
        ip.input_transformers_post.remove(magics.transformer)
    for kind, names in (("cell", ["track"]), ("line", ["nbops"])):
        for name in names:
            ip.magics_manager.magics[kind].pop(name, None)
