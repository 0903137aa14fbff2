"""Start the tool server as a child process: `python -m tool_server` on a free loopback port, once it answers
GET /health. What the tests, `tl-tour` and the benchmarks use to meet a real server over HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Sequence

import httpx


def start_server_process(
    *flags: str, command: Sequence[str] = (sys.executable, "-m", "tool_server"), timeout_s: float = 60.0
) -> tuple[str, subprocess.Popen]:
    """`tl-tool-server` (or `command`) in a child process on a free 127.0.0.1 port, once it answers GET /health
    (any answer: a server that wants a token says 401): returns (base url, process); the caller stops the
    process. RuntimeError, with the server's own error output, when it exits or stays silent for `timeout_s`."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([*command, "--port", str(port), *flags], stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tool server exited with status {process.returncode}: {process.stderr.read().decode()}")
        try:
            httpx.get(f"{url}/health", timeout=1)
            return url, process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"tool server did not answer /health within {timeout_s} s")
