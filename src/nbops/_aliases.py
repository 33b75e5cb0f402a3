"""A process-wide counter of alias moves, so caches of ``name@alias`` resolutions can tell they are stale.

The registry bumps it after every promote and rollback made in this process; caches
(the prediction logger, the model server) compare it with the value they resolved under and
also expire entries after a few seconds for moves made by other processes.
"""

from __future__ import annotations

import itertools

_moves = itertools.count(1)
_epoch = 0


def epoch() -> int:
    """The number of alias moves made in this process so far."""
    return _epoch


def moved() -> None:
    global _epoch
    _epoch = next(_moves)
