"""One way to reach tools: the embedded `ToolServer`, or standalone servers over HTTP behind the same interface.

`connect(server)` gives what the env, synthetic data and the demo call: `call(name, arguments, session, toolset,
faults)` answers the same feedback for the same call either way, and `feedback_text` is what a model reads of it.
A dead, hung or broken remote server answers tool_instability feedback, as a real flaky service would.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import httpx

from tl_plugin.core.taxonomy import Category, function_schema
from tool_server.app import MAX_BODY_BYTES
from tool_server.http import finite
from tool_server.server import Feedback, ToolServer, instability_feedback
from tool_server.validate import MAX_ARGUMENT_BYTES, check, error

TOKEN_VARIABLE = "TL_TOOL_SERVER_TOKEN"  # the bearer token of `tl-tool-server --token`, read by both ends
BACKOFF_S = (0.5, 30.0)  # a dead server is tried again after 0.5 s, then twice as long each time, up to 30 s
_PINNED = 100_000  # sessions whose server is remembered (least recently used forgotten first)


class RemoteToolServer:
    """Standalone tool servers (`tl-tool-server`) at one or more base URLs, with ToolServer's `call` and `tools`.

    Each session is pinned to one server, so the state of its stateful tools stays in one place: the first live
    server in an order that depends only on the session id (rendezvous hashing), kept until that server fails.
    Calls without a session go round the live servers. A server that cannot be reached is dead: it is left
    alone for a backoff that doubles from 0.5 s to 30 s while it stays dead, then tried again; a call it
    refused is sent to the next live server (the request never arrived). With every server dead, a call
    answers tool_instability. token: the bearer token (default: $TL_TOOL_SERVER_TOKEN). A call too large or
    too deeply nested to send (over max_body_bytes, the servers' default limit) gets, unsent, the format_error
    a server would answer."""

    def __init__(
        self,
        urls: str | Sequence[str],
        timeout_s: float = 10.0,
        token: str | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ):
        self.urls = [url.rstrip("/") for url in ([urls] if isinstance(urls, str) else urls)]
        if not self.urls:
            raise ValueError("no tool server URL given")
        token = os.environ.get(TOKEN_VARIABLE) if token is None else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(timeout=timeout_s, headers={"Content-Type": "application/json", **headers})
        self._turn = itertools.cycle(range(len(self.urls)))
        self._lock = threading.Lock()
        self._dead: dict[int, tuple[float, float]] = {}  # server index -> (retry at, next backoff)
        self._pinned: OrderedDict[str, int] = OrderedDict()
        self.max_body_bytes = max_body_bytes

    def call(self, name: Any, arguments: Any, session: Any = None, toolset: Any = None, faults: Any = None) -> Feedback:
        """What the server's POST /call answers; tool_instability when it cannot be reached or answers garbage."""
        tool = name if isinstance(name, str) else "tool"
        request = {"name": name, "arguments": arguments, "session": session, "toolset": toolset, "faults": faults}
        try:
            # Python's json as the server reads it: NaN and lone surrogates travel, for the server to judge.
            body = json.dumps(request, default=str).encode()
        except (ValueError, RecursionError):  # nested too deep to write
            body = None
        if body is None or len(body) > self.max_body_bytes:  # what the server says of such arguments, unsent
            verdict = check(tool, None, arguments, MAX_ARGUMENT_BYTES)[0] if isinstance(arguments, dict) else None
            if verdict is None or verdict["category"] != Category.FORMAT_ERROR.value:
                verdict = error(Category.FORMAT_ERROR, f"the call to {tool} is too large to send", tool, {})
            return verdict
        tried: set[int] = set()
        while True:
            index = self._choose(session if isinstance(session, str) else None, tried)
            if index is None:
                return instability_feedback(tool, "connection_error")
            try:
                response = self._http.post(self.urls[index] + "/call", content=body)
                self._alive(index)
                feedback = response.json()
            except (
                httpx.ConnectError,
                httpx.ConnectTimeout,
            ):  # refused: the request never arrived, another server may take it
                self._died(index)
                tried.add(index)
                continue
            except httpx.TimeoutException:
                self._died(index)
                return instability_feedback(tool, "timeout")
            except (httpx.HTTPError, ValueError):  # reset mid-answer, or a body that is not JSON
                self._died(index)
                return instability_feedback(tool, "connection_error")
            return _checked(feedback, tool)

    def tools(self, names: Sequence[str] | None = None, toolset: str | None = None) -> list[dict]:
        """The servers' OpenAI function schemas, bare like ToolServer's (GET /tools of the first live server)."""
        params = {k: v for k, v in (("names", ",".join(names) if names else None), ("toolset", toolset)) if v}
        index = self._choose(None, set())
        response = self._http.get(self.urls[0 if index is None else index] + "/tools", params=params)
        if response.status_code == 404:
            raise KeyError(response.json().get("message", "unknown tool or toolset"))
        response.raise_for_status()
        return [dict(function_schema(tool)) for tool in response.json()]

    def close(self) -> None:
        self._http.close()

    def _choose(self, session: str | None, tried: set[int]) -> int | None:
        """The server for this call: the session's pinned one while it lives, else the first live one in the
        session's own order; without a session the next live one in turn. None when none is left to try."""
        now = time.monotonic()
        with self._lock:
            live = [i for i in range(len(self.urls)) if i not in tried and self._dead.get(i, (0.0,))[0] <= now]
            if not live:
                return None
            if session is None:
                return next(i for i in self._turn if i in live)
            pinned = self._pinned.pop(session, None)
            if pinned not in live:
                pinned = max(live, key=lambda i: hashlib.blake2b(f"{self.urls[i]}\n{session}".encode()).digest())
            self._pinned[session] = pinned
            if len(self._pinned) > _PINNED:
                self._pinned.popitem(last=False)
            return pinned

    def _died(self, index: int) -> None:
        with self._lock:
            backoff = self._dead.get(index, (0.0, BACKOFF_S[0]))[1]
            self._dead[index] = (time.monotonic() + backoff, min(2 * backoff, BACKOFF_S[1]))

    def _alive(self, index: int) -> None:
        if index in self._dead:
            with self._lock:
                self._dead.pop(index, None)


def _checked(feedback: Any, tool: str) -> Feedback:
    """The server's answer as feedback: anything that is not feedback is a broken service (instability), an
    unknown category is `other`."""
    if not isinstance(feedback, dict) or not isinstance(feedback.get("ok"), bool):
        return instability_feedback(tool, "connection_error")
    category = feedback.get("category")
    if not feedback["ok"] and (category not in Category._value2member_map_ or category == Category.OK.value):
        return {**feedback, "category": Category.OTHER.value}
    return feedback


def connect(
    server: ToolServer | RemoteToolServer | str | Sequence[str] | None = None, timeout_s: float = 10.0
) -> ToolServer | RemoteToolServer:
    """The tool server to call: a given server (anything with ToolServer's `call` and `tools`) as is, a new
    embedded one for None (the built-in catalog), or the standalone server(s) at a URL or list of URLs."""
    if server is None:
        return ToolServer()
    if isinstance(server, (ToolServer, RemoteToolServer)) or callable(getattr(server, "call", None)):
        return server  # ours, or any object with their `call` and `tools` (e.g. an MCPToolServer)
    return RemoteToolServer(server, timeout_s)


# Built once (json.dumps with options builds one per call). Non-finite numbers are written as null, as in answers
# over HTTP, so a model reads the same text from either transport.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False)


def feedback_text(feedback: Feedback) -> str:
    """What the model reads of a call's feedback: the tool's output as JSON, or the error message."""
    if feedback.get("ok"):
        try:
            return _ENCODER.encode(feedback.get("output"))
        except ValueError:
            return _ENCODER.encode(finite(feedback.get("output")))
    return str(feedback.get("message", ""))
