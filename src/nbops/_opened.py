"""The workspace a module-level API call acts on; importing this is cheap."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbops.workspace import Workspace


@contextmanager
def opened(ws: Workspace | None) -> Iterator[Workspace]:
    """``ws`` itself, or the current directory's workspace for the duration of the call."""
    if ws is not None:
        yield ws
        return
    from nbops.workspace import Workspace

    with Workspace.open() as current:
        yield current
