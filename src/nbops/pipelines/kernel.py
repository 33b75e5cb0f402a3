"""The kernel of one pipeline run: started with the run's environment, killable as a group.

jupyter_client starts a kernel in a new session, so the kernel's pid is also
its process group id and every process the notebook starts (``subprocess``,
multiprocessing workers) belongs to that group unless it leaves it on purpose.
Killing the group with SIGKILL leaves no orphans behind, which a kernel
shutdown request alone does not guarantee.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any


class KernelGuard:
    """Knows the kernel process of a run and kills its process group on request.

    ``kill(reason)`` may come from any thread (a watchdog timer, a scheduler
    shutting down) and before the kernel has even started: it is then killed
    the moment it starts.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.pid: int | None = None
        self.process: Any = None  # the subprocess.Popen of the kernel
        self.reason: str | None = None  # why nbops killed it (a PipelineStatus value)

    def attach(self, process: Any) -> None:
        with self._lock:
            self.process = process
            self.pid = getattr(process, "pid", None)
            pending = self.reason is not None
        if pending:
            self._kill_group()

    def kill(self, reason: str) -> None:
        with self._lock:
            if self.reason is None:
                self.reason = reason
        self._kill_group()

    def _kill_group(self) -> None:
        pid = self.pid
        if pid is None:
            return
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def cleanup(self) -> None:
        """Kill whatever is left of the kernel's process group after the run."""
        self._kill_group()
        proc = self.process
        if proc is not None:
            try:
                proc.wait(timeout=5)
            except Exception:  # noqa: BLE001 - already reaped by jupyter_client, or not a Popen
                pass

    def exit_signal(self) -> int | None:
        """The signal that ended the kernel process, if it died from one."""
        proc = self.process
        code = proc.poll() if proc is not None else None
        return -code if code is not None and code < 0 else None


def tail(path: Path | None, lines: int = 20) -> str | None:
    """The last lines of a kernel log, or None when it is empty or missing."""
    if path is None or not path.is_file():
        return None
    text = path.read_text(errors="replace").strip()
    return "\n".join(text.splitlines()[-lines:]) if text else None


def kernel_manager_class(env: dict[str, str], cwd: str | None, guard: KernelGuard,
                         log_path: Path | None = None,
                         cell_id: Callable[[], str | None] | None = None) -> type:
    """An AsyncKernelManager subclass that starts the kernel with ``env`` in ``cwd`` and reports it.

    The kernel process's own stdout/stderr (not the cells' output, which papermill
    captures) go to ``log_path``: crash messages stay available after the run.
    ``cell_id()`` names the cell being executed: it is sent with each execute request
    (``metadata.cellId``, as JupyterLab does), so tracked cells know their cell id.
    """
    from jupyter_client.manager import AsyncKernelManager

    class RunKernelManager(AsyncKernelManager):
        def client(self, **kw: Any) -> Any:
            kc = AsyncKernelManager.client(self, **kw)
            if cell_id is not None:
                _send_cell_ids(kc, cell_id)
            return kc

        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            kw["env"] = env
            if cwd is not None:
                kw["cwd"] = cwd
            if log_path is None:
                await AsyncKernelManager.start_kernel(self, **kw)
            else:
                log_path.parent.mkdir(parents=True, exist_ok=True)
                with open(log_path, "ab") as log:
                    kw["stdout"] = kw["stderr"] = log
                    await AsyncKernelManager.start_kernel(self, **kw)
            provisioner = getattr(self, "provisioner", None)
            guard.attach(getattr(provisioner, "process", None))

    return RunKernelManager


def _send_cell_ids(kc: Any, cell_id: Callable[[], str | None]) -> None:
    """Add ``metadata.cellId`` to the execute requests ``kc`` sends (nbclient sends none)."""
    msg = kc.session.msg

    def with_cell_id(msg_type: str, content: Any = None, parent: Any = None, header: Any = None,
                     metadata: dict[str, Any] | None = None) -> Any:
        current = cell_id() if msg_type == "execute_request" else None
        if current:
            metadata = {**(metadata or {}), "cellId": current}
        return msg(msg_type, content, parent, header, metadata)

    kc.session.msg = with_cell_id
