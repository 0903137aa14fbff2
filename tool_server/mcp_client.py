"""Any MCP server's tools behind ToolServer's interface: `MCPToolServer(target).call(...)` and `.tools()`, so
ToolUse-v0 (`server=MCPToolServer(...)`), synthetic data and evaluation can run against them.

target: a command to start as a stdio subprocess (`["tl-tool-server", "--mcp"]`, or the SDK's
`StdioServerParameters` for its environment and working directory), a streamable-HTTP URL
(`http://127.0.0.1:8000/mcp`; with `token`, or $TL_TOOL_SERVER_TOKEN as RemoteToolServer reads it, sent as a
bearer token), or an SDK `Server` / `MCPServer` object in this process. The official `mcp`
client runs on an event loop in a background thread; `call` blocks until the answer.

Feedback: our own server sends its feedback whole in `structuredContent`, taken as is. Another server's error
(`isError: true`, or an MCP error response) is classified from its text by the one taxonomy classifier
(`classify_feedback`), `other` when it cannot tell; a server that is gone or too slow answers
tool_instability, as RemoteToolServer does.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

import httpx2
import mcp_types as types
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from tl_plugin.core.taxonomy import CATEGORIES, Category, classify_feedback
from tool_server.client import TOKEN_VARIABLE
from tool_server.mcp_server import META_PREFIX
from tool_server.server import Feedback, instability_feedback

log = logging.getLogger(__name__)


class MCPToolServer:
    """An MCP server's tools with ToolServer's `call(name, arguments, session, toolset, faults)` and `tools()`.
    session, toolset and faults travel in the request's `_meta` (our server reads them; others ignore them)."""

    def __init__(self, target: Any, timeout_s: float = 30.0, connect_timeout_s: float = 60.0, token: str | None = None):
        if isinstance(target, Sequence) and not isinstance(target, str):
            if not target:
                raise ValueError("empty MCP server command")
            target = StdioServerParameters(command=str(target[0]), args=[str(a) for a in target[1:]])
        where, self._http = _describe(target), None
        token = os.environ.get(TOKEN_VARIABLE) if token is None else token
        if isinstance(target, str) and token:  # the SDK's transport, with our header on every request
            self._http = httpx2.AsyncClient(
                headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(30.0, read=300.0)
            )
            target = streamable_http_client(target, http_client=self._http)
        self.timeout_s = timeout_s
        self._client = Client(target, read_timeout_seconds=timeout_s)
        self._stop: asyncio.Event | None = None
        self._ready: concurrent.futures.Future = concurrent.futures.Future()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mcp-client", daemon=True)
        self._thread.start()
        self._held = asyncio.run_coroutine_threadsafe(self._hold(), self._loop)
        try:
            self._ready.result(connect_timeout_s)
            self._tools = [_schema(tool) for tool in self._run(self._list_tools(), connect_timeout_s)]
        except Exception as exc:
            self.close()
            reason = "no answer" if isinstance(exc, concurrent.futures.TimeoutError) else _reason(exc)
            raise ConnectionError(f"cannot reach the MCP server {where}: {reason}") from None

    async def _hold(self) -> None:
        """Enter the client and keep it open until close(): the SDK's task groups live and die in this task."""
        self._stop = asyncio.Event()
        try:
            async with contextlib.AsyncExitStack() as stack:
                if self._http is not None:
                    await stack.enter_async_context(self._http)
                await stack.enter_async_context(self._client)
                self._ready.set_result(None)
                await self._stop.wait()
        except BaseException as exc:  # the connection failed: the constructor hears why
            if not self._ready.done():
                self._ready.set_exception(exc)
            raise

    def _run(self, coroutine: Any, timeout_s: float) -> Any:
        """The coroutine's result, run on the client's loop; a request that outlives `timeout_s` is cancelled."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    async def _list_tools(self) -> list[types.Tool]:
        tools, cursor = [], None
        while True:
            page = await self._client.list_tools(cursor=cursor)
            tools += page.tools
            cursor = page.next_cursor
            if cursor is None:
                return tools

    def tools(self, names: Sequence[str] | None = None, toolset: str | None = None) -> list[dict]:
        """The server's tools as OpenAI function schemas (listed once, at connection); KeyError for unknown names."""
        if names is None:
            return list(self._tools)
        by_name = {tool["name"]: tool for tool in self._tools}
        unknown = [name for name in names if name not in by_name]
        if unknown:
            raise KeyError(f"unknown tool(s): {', '.join(unknown)}")
        return [by_name[name] for name in names]

    def call(self, name: Any, arguments: Any, session: Any = None, toolset: Any = None, faults: Any = None) -> Feedback:
        """The server's answer to one call as feedback in the taxonomy; never raises."""
        tool = name if isinstance(name, str) else "tool"
        meta = {META_PREFIX + k: v for k, v in (("session", session), ("toolset", toolset), ("faults", faults)) if v}
        call = {"name": name, "arguments": arguments}
        if self._loop.is_closed():
            return instability_feedback(tool, "connection_error")
        try:
            result = self._run(self._client.call_tool(name, arguments, meta=meta or None), self.timeout_s)
        except (concurrent.futures.TimeoutError, TimeoutError):
            log.warning("MCP tools/call %s: no answer within %s s", tool, self.timeout_s)
            return instability_feedback(tool, "timeout")
        except MCPError as exc:  # the server refused the request itself
            return _error(_classified(call, exc.error.message), exc.error.message, tool)
        except Exception as exc:  # the connection is gone, or the loop is closed
            log.warning("MCP tools/call %s failed: %s", tool, _reason(exc))
            return instability_feedback(tool, "connection_error")
        return self._feedback(call, result)

    def _feedback(self, call: dict, result: types.CallToolResult) -> Feedback:
        structured = result.structured_content
        if isinstance(structured, dict) and isinstance(structured.get("ok"), bool):
            if structured["ok"] or structured.get("category") in CATEGORIES:  # our server's own feedback
                return structured
        text = "\n".join(block.text for block in result.content if isinstance(block, types.TextContent))
        if not result.is_error:
            return {"ok": True, "output": structured if structured is not None else _value(text)}
        return _error(_classified(call, text), text, call["name"])

    def close(self) -> None:
        """Close the session (which stops a stdio server) and the background loop; idempotent."""
        if self._loop.is_closed():
            return
        if self._ready.done() and self._ready.exception() is None:
            self._loop.call_soon_threadsafe(self._stop.set)
        else:  # still connecting: give up on it
            self._held.cancel()
        try:
            self._held.result(10)
        except BaseException:  # cancelled, or the connection had already failed: nothing more to close
            self._held.cancel()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()


def _describe(target: Any) -> str:
    if isinstance(target, StdioServerParameters):
        return "`" + " ".join([target.command, *target.args]) + "`"
    return repr(target) if isinstance(target, str) else type(target).__name__


def _schema(tool: types.Tool) -> dict:
    return {"name": tool.name, "description": tool.description or "", "parameters": dict(tool.input_schema)}


def _classified(call: dict, text: str) -> Category:
    """The category of an error text from a server that is not ours; `other` when the text says no more."""
    category = classify_feedback(call, None, text)
    return Category.OTHER if category is Category.OK else category


def _error(category: Category, message: str, tool: Any) -> Feedback:
    return {"ok": False, "category": category.value, "message": message, "tool": tool, "details": {"source": "mcp"}}


def _value(text: str) -> Any:
    """A text result as the JSON value it holds, or as text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _reason(exc: BaseException) -> str:
    """One line saying why, whatever the exception (anyio wraps failures in exception groups)."""
    while getattr(exc, "exceptions", None):  # an exception group: its first cause
        exc = exc.exceptions[0]
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
