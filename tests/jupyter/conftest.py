"""pytest-jupyter's fixtures and hooks (jp_fetch, a real jupyter_server per test) for this
directory only: as a global plugin its autouse fixtures would run around every test of the suite."""

from pytest_jupyter.jupyter_server import *  # noqa: F403
