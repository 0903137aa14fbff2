"""The HTTP face of a ToolServer: GET /tools, POST /call, GET /health, POST /echo, OpenAPI at /openapi.json.

GET /tools lists the tools in OpenAI's form (`{"type": "function", "function": schema}`, ready for `tools=`);
POST /call takes `arguments` as an object or as OpenAI's JSON string.

A client's mistake never gets a 5xx: a request the edge refuses (tool_server.http: Host, token, Content-Type,
size, JSON) or a body that is not an object or has unknown fields gets a 4xx whose JSON body says
`{"ok": false, "category": "format_error", "message": ...}`; a call whose fields have the wrong types gets the
server's categorised feedback like any other call. Calls run in the server's worker threads (`ToolServer.acall`),
so a slow tool holds up no other request and /health always answers at once.
"""

from __future__ import annotations

from typing import Any

from tl_plugin.core.taxonomy import CATEGORIES
from tl_plugin.core.tool_calls import openai_tool
from tool_server.http import LOOPBACK_HOSTS, Edge, JsonApp, Route
from tool_server.server import ToolServer
from tool_server.validate import MAX_ARGUMENT_BYTES

MAX_BODY_BYTES = MAX_ARGUMENT_BYTES + (64 << 10)  # a call whose arguments fit always fits, envelope included
CALL_FIELDS = frozenset({"name", "arguments", "session", "toolset", "faults"})
_JSON = "application/json"
_CALL_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "description": "Tool name."},
        "arguments": {
            "type": ["object", "string"],
            "description": "Keyword arguments (default {}): an object, or OpenAI's JSON string of one.",
        },
        "session": {"type": ["string", "null"], "description": "Session id for stateful tools."},
        "toolset": {"type": ["string", "null"], "description": "Catalog folder to resolve the name in first."},
        "faults": {
            "type": ["object", "null"],
            "properties": {
                "instability_rate": {"type": "number", "minimum": 0, "maximum": 1},
                "instability_kind": {"type": ["string", "null"]},
                "call_failure": {"type": "boolean"},
            },
            "additionalProperties": False,
        },
    },
}
_FEEDBACK = {
    "type": "object",
    "required": ["ok"],
    "properties": {
        "ok": {"type": "boolean"},
        "output": {},
        "category": {"enum": list(CATEGORIES)},
        "message": {"type": "string"},
        "tool": {"type": ["string", "null"]},
        "details": {"type": "object"},
    },
}


def _answer(description: str, schema: dict) -> dict:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


_REFUSED = {"4XX": _answer("The request itself is malformed or refused.", _FEEDBACK)}
OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "tl-training mock tool server", "version": "0.1.0"},
    "paths": {
        "/health": {
            "get": {
                "summary": "Liveness and the number of tools.",
                "responses": {
                    "200": _answer("Alive.", {"type": "object", "required": ["status", "tools"]}),
                    **_REFUSED,
                },
            }
        },
        "/tools": {
            "get": {
                "summary": "The tools in OpenAI's form; `names` is comma-separated, `toolset` a catalog folder.",
                "parameters": [
                    {"name": "names", "in": "query", "required": False, "schema": {"type": "string"}},
                    {"name": "toolset", "in": "query", "required": False, "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": _answer("The schemas.", {"type": "array", "items": {"type": "object"}}),
                    **_REFUSED,
                },
            }
        },
        "/call": {
            "post": {
                "summary": "Validate and run one tool call; the answer is the feedback JSON.",
                "requestBody": {"required": True, "content": {_JSON: {"schema": _CALL_BODY}}},
                "responses": {"200": _answer("Feedback of the call.", _FEEDBACK), **_REFUSED},
            }
        },
    },
}


def create_app(
    server: ToolServer,
    max_body_bytes: int = MAX_BODY_BYTES,
    *,
    token: str | None = None,
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS,
) -> JsonApp:
    """The ASGI app serving `server`: bodies over `max_body_bytes` are refused with 413; with a `token`, every
    request must bear it (`Authorization: Bearer TOKEN`); the Host header must name one of `allowed_hosts`."""

    async def health(_: Any) -> tuple[int, Any]:
        return 200, {"status": "ok", "tools": len(server.catalog)}

    async def tools(query: dict) -> tuple[int, Any]:
        names = query.get("names")
        try:
            schemas = server.tools(names.split(",") if names else None, query.get("toolset"))
            return 200, [openai_tool(schema) for schema in schemas]
        except KeyError as exc:
            return 404, _refusal(404, exc.args[0])

    async def call(payload: Any) -> tuple[int, Any]:
        if not isinstance(payload, dict):
            return 422, _refusal(422, "request body must be a JSON object with a 'name' and 'arguments'")
        unknown = payload.keys() - CALL_FIELDS
        if unknown:
            return 422, _refusal(422, f"unknown field(s) {sorted(unknown)}; allowed: {sorted(CALL_FIELDS)}")
        get = payload.get
        return 200, await server.acall(get("name"), get("arguments", {}), get("session"), get("toolset"), get("faults"))

    async def echo(body: bytes) -> tuple[int, Any]:
        """The body back, unparsed: the benchmark's measure of the cost of the stack itself."""
        return 200, body

    routes = {
        "/health": Route("GET", health),
        "/tools": Route("GET", tools),
        "/call": Route("POST", call),
        "/echo": Route("POST", echo, body="raw"),
    }
    return JsonApp(routes, Edge(max_body_bytes, token, tuple(allowed_hosts)), _refusal, OPENAPI)


def _refusal(status: int, message: str) -> dict:
    return {"ok": False, "category": "format_error", "message": message, "details": {}}
