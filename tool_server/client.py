"""One way to reach tools: the embedded `ToolServer`, or standalone servers over HTTP behind the same interface.

`connect(server)` gives what the env, synthetic data and the demo call: `call(name, arguments, session, toolset,
faults)` answers the same feedback for the same call either way, and `feedback_text` is what a model reads of it.
A dead, hung or broken remote server answers tool_instability feedback, as a real flaky service would.
"""

from __future__ import annotations

import itertools
import json
import zlib
from collections.abc import Sequence
from typing import Any

import httpx

from tl_plugin.core.taxonomy import Category
from tool_server.server import Feedback, ToolServer, instability_feedback


class RemoteToolServer:
    """Standalone tool servers (`tl-tool-server`) at one or more base URLs, with ToolServer's `call` and `tools`.

    A call with a session always goes to the same server (chosen by a stable hash of the session id), so the
    state of stateful tools stays in one place; calls without one go round the list."""

    def __init__(self, urls: str | Sequence[str], timeout_s: float = 10.0):
        self.urls = [urls] if isinstance(urls, str) else list(urls)
        if not self.urls:
            raise ValueError("no tool server URL given")
        self._http = httpx.Client(timeout=timeout_s)
        self._turn = itertools.cycle(range(len(self.urls)))

    def _url(self, session: str | None) -> str:
        index = zlib.crc32(session.encode()) % len(self.urls) if isinstance(session, str) else next(self._turn)
        return self.urls[index].rstrip("/")

    def call(self, name: Any, arguments: Any, session: Any = None, toolset: Any = None, faults: Any = None) -> Feedback:
        """What the server's POST /call answers; tool_instability when it cannot be reached or answers garbage."""
        request = {"name": name, "arguments": arguments, "session": session, "toolset": toolset, "faults": faults}
        tool = name if isinstance(name, str) else "tool"
        try:
            feedback = self._http.post(self._url(session) + "/call", json=request).json()
        except httpx.TimeoutException:
            return instability_feedback(tool, "timeout")
        except (httpx.HTTPError, ValueError):  # refused, reset, or a body that is not JSON
            return instability_feedback(tool, "connection_error")
        if not isinstance(feedback, dict) or not isinstance(feedback.get("ok"), bool):
            return instability_feedback(tool, "connection_error")
        if not feedback["ok"] and feedback.get("category") not in Category._value2member_map_:
            return {**feedback, "category": Category.OTHER.value}
        return feedback

    def tools(self, names: Sequence[str] | None = None, toolset: str | None = None) -> list[dict]:
        """The servers' OpenAI function schemas (GET /tools of the first server)."""
        params = {k: v for k, v in (("names", ",".join(names) if names else None), ("toolset", toolset)) if v}
        response = self._http.get(self.urls[0].rstrip("/") + "/tools", params=params)
        if response.status_code == 404:
            raise KeyError(response.json().get("message", "unknown tool or toolset"))
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        self._http.close()


def connect(
    server: ToolServer | RemoteToolServer | str | Sequence[str] | None = None, timeout_s: float = 10.0
) -> ToolServer | RemoteToolServer:
    """The tool server to call: a given server as is, a new embedded one for None (the built-in catalog), or the
    standalone server(s) at a URL or list of URLs."""
    if server is None:
        return ToolServer()
    if isinstance(server, (ToolServer, RemoteToolServer)):
        return server
    return RemoteToolServer(server, timeout_s)


_ENCODER = json.JSONEncoder(ensure_ascii=False)  # built once: json.dumps with options builds one per call


def feedback_text(feedback: Feedback) -> str:
    """What the model reads of a call's feedback: the tool's output as JSON, or the error message."""
    if feedback.get("ok"):
        return _ENCODER.encode(feedback.get("output"))
    return str(feedback.get("message", ""))
