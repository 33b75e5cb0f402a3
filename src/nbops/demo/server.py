"""``nbops serve`` as its own process for the demo, with an API key, on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbops.demo import Demo


@dataclass
class DemoServer:
    process: subprocess.Popen[bytes]
    url: str
    client: Any  # httpx.Client with the key

    def stop(self) -> None:
        """SIGTERM: the server writes every queued log row, exposure and outcome, then exits."""
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(demo: Demo) -> DemoServer:
    import httpx

    from nbops.serve import create_key

    key = demo.state.get("api_key") or create_key(demo.ws, demo.ws.settings.user, note="demo")
    demo.state["api_key"] = key
    port = _free_port()
    log = open(demo.root / "serve.log", "ab")  # noqa: SIM115 - the server's own output, kept
    process = subprocess.Popen(
        [sys.executable, "-m", "nbops", "serve", "--port", str(port), "--reload-interval", "0.5"],
        cwd=demo.root, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nbops serve exited ({process.returncode}); see {demo.root / 'serve.log'}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError("nbops serve did not start within 120 s")
    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    server = DemoServer(process, url, client)
    demo.cleanups.append(server.stop)
    return server
