"""The MCP face of a ToolServer (the official `mcp` SDK): the same catalog, sessions and faults as the REST API, over
stdio or streamable HTTP at /mcp beside it.

tools/list gives every tool of the catalog (its OpenAI `parameters` as the MCP `inputSchema`). tools/call answers
with the ToolServer's feedback: a success is the output as JSON text; a failed call is an MCP tool error
(`isError: true`) whose text is "<category>: <message>", so an MCP host's model reads the same feedback the env
shows. Either way `structuredContent` holds the whole feedback dict, exactly the REST answer's body. Every failed
call is one, never a protocol error: a hallucinated tool too, for the model to see it and correct itself.

What REST takes as request fields goes in the request's `_meta` here: `tl-training/session`,
`tl-training/toolset` and `tl-training/faults` (MCP arguments are the tool's own).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable

import anyio
import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Mount
from starlette.types import ASGIApp

from tool_server.http import Edge, encode
from tool_server.server import Feedback, ToolServer

META_PREFIX = "tl-training/"
META_KEYS = ("session", "toolset", "faults")
log = logging.getLogger(__name__)


def create_mcp_server(server: ToolServer) -> Server:
    """The low-level MCP server answering from `server` (the SDK's `Server`: our tools are JSON schemas, not the
    Python functions MCPServer wraps)."""

    async def list_tools(
        ctx: ServerRequestContext, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        tools = [
            types.Tool(name=t["name"], description=t.get("description") or None, input_schema=t["parameters"])
            for t in server.tools()
        ]
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: ServerRequestContext, params: types.CallToolRequestParams) -> types.CallToolResult:
        meta = params.meta or {}
        session, toolset, faults = (meta.get(META_PREFIX + key) for key in META_KEYS)
        # In the server's worker threads, bounded by its timeout: a slow tool holds up no other request.
        feedback = await server.acall(params.name, params.arguments or {}, session, toolset, faults)
        if not feedback.get("ok"):
            log.info("tools/call %s: %s: %s", params.name, feedback.get("category"), feedback.get("message"))
        return tool_result(feedback)

    return Server("tl-tool-server", version="0.1.0", on_list_tools=list_tools, on_call_tool=call_tool)


def tool_result(feedback: Feedback) -> types.CallToolResult:
    """A ToolServer feedback as an MCP tool result (see the module docstring)."""
    try:  # plain JSON, exactly as REST writes it (NaN as null; a tool may return dates or sets)
        feedback = json.loads(encode(feedback))
    except (ValueError, RecursionError) as exc:  # e.g. arguments nested too deep to write back
        feedback = {"ok": False, "category": "other", "message": f"unwritable answer: {exc}", "details": {}}
    if feedback["ok"]:
        text = json.dumps(feedback.get("output"), ensure_ascii=False)
    else:
        text = f"{feedback.get('category')}: {feedback.get('message')}"
    return types.CallToolResult(
        content=[types.TextContent(text=text)], structured_content=feedback, is_error=not feedback["ok"]
    )


def serve_stdio(server: ToolServer) -> None:
    """Serve MCP over this process's stdin and stdout until the client closes them."""
    mcp = create_mcp_server(server)

    async def main() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await mcp.run(read_stream, write_stream, mcp.create_initialization_options())

    anyio.run(main)


def with_mcp(rest_app: ASGIApp, server: ToolServer) -> ASGIApp:
    """One ASGI app: MCP's streamable HTTP at /mcp, and `rest_app` (the REST API, `create_app`'s) for every other
    path. /mcp is held to the REST edge's checks: its Host allow-list (the SDK's DNS-rebinding check) and, when
    one is set, its bearer token."""
    edge = getattr(rest_app, "edge", None) or Edge(0)
    hosts = [f"[{h}]" if ":" in h else h for h in edge.allowed_hosts]
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection="*" not in hosts,
        allowed_hosts=[*hosts, *(f"{h}:*" for h in hosts)],
        allowed_origins=[f"{scheme}://{h}{port}" for h in hosts for scheme in ("http", "https") for port in ("", ":*")],
    )
    mcp = create_mcp_server(server)
    app = mcp.streamable_http_app(transport_security=security, custom_starlette_routes=[Mount("", app=rest_app)])
    token = b"Bearer " + edge.token.encode() if edge.token else None

    async def guarded(scope: dict, receive: Callable, send: Callable) -> None:
        if token and scope["type"] == "http" and scope["path"].startswith("/mcp"):
            given = next((value for name, value in scope["headers"] if name == b"authorization"), b"")
            if not hmac.compare_digest(given, token):
                body = b'{"ok": false, "category": "format_error", "message": "a valid bearer token is required"}'
                headers = [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]
                await send({"type": "http.response.start", "status": 401, "headers": headers})
                return await send({"type": "http.response.body", "body": body})
        await app(scope, receive, send)

    return guarded
