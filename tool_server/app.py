"""The HTTP face of a ToolServer (FastAPI): GET /tools, POST /call, GET /health, POST /echo, OpenAPI at /openapi.json.

A client's mistake never gets a 5xx: a body that is too large, not JSON, not an object or with unknown fields gets
a 4xx whose JSON body says `{"ok": false, "category": "format_error", "message": ...}`; a call whose fields have
the wrong types gets the server's categorised feedback like any other call. POST /call parses its body with
json.loads rather than pydantic models: validation is the ToolServer's job, and this keeps the endpoint lean.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from tl_plugin.core.taxonomy import CATEGORIES
from tool_server.server import ToolServer

MAX_BODY_BYTES = 1 << 20
CALL_FIELDS = frozenset({"name", "arguments", "session", "toolset", "faults"})
_CALL_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "description": "Tool name."},
        "arguments": {"type": "object", "description": "Keyword arguments (default {})."},
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
_JSON = "application/json"


def create_app(server: ToolServer, max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """The ASGI app serving `server`; bodies over `max_body_bytes` are refused with 413."""
    app = FastAPI(title="tl-training mock tool server", version="0.1.0")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:  # unknown route, wrong method
        return _client_error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def query_error(request: Request, exc: RequestValidationError) -> Response:
        return _client_error(422, f"invalid query: {exc.errors()}")

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "tools": len(server.catalog)}

    @app.get("/tools", responses={404: {"description": "Unknown tool name or toolset."}})
    async def tools(names: str | None = None, toolset: str | None = None) -> Any:
        """OpenAI function schemas; `names` is comma-separated, `toolset` a catalog folder."""
        try:
            return server.tools(names.split(",") if names else None, toolset)
        except KeyError as exc:
            return _client_error(404, exc.args[0])

    @app.post(
        "/call",
        openapi_extra={
            "requestBody": {"required": True, "content": {_JSON: {"schema": _CALL_BODY}}},
            "responses": {
                "200": {"description": "Feedback of the call.", "content": {_JSON: {"schema": _FEEDBACK}}},
                "4XX": {"description": "The request itself is malformed.", "content": {_JSON: {"schema": _FEEDBACK}}},
            },
        },
    )
    async def call(request: Request) -> Response:
        """Validate and run one tool call; the answer is the feedback JSON."""
        body = await _read_body(request, max_body_bytes)
        if body is None:
            return _client_error(413, f"request body larger than {max_body_bytes} bytes")
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError) as exc:
            return _client_error(400, f"request body is not valid JSON: {str(exc)[:200]}")
        if not isinstance(payload, dict):
            return _client_error(422, "request body must be a JSON object with a 'name' and 'arguments'")
        unknown = payload.keys() - CALL_FIELDS
        if unknown:
            return _client_error(422, f"unknown field(s) {sorted(unknown)}; allowed: {sorted(CALL_FIELDS)}")
        feedback = server.call(
            payload.get("name"), payload.get("arguments", {}), payload.get("session"), payload.get("toolset"),
            payload.get("faults"),
        )  # fmt: skip
        return _json_response(200, feedback)

    @app.post("/echo", include_in_schema=False)
    async def echo(request: Request) -> Response:
        """The body back, unparsed: the benchmark's baseline for the cost of the stack itself."""
        return Response(await request.body(), media_type=_JSON)

    return app


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None once it is known to exceed `limit` (by its Content-Length or while streaming)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _client_error(status: int, message: str) -> Response:
    return _json_response(status, {"ok": False, "category": "format_error", "message": message, "details": {}})


def _json_response(status: int, content: Any) -> Response:
    try:
        body = json.dumps(content, ensure_ascii=False, default=str)
    except (ValueError, RecursionError) as exc:  # e.g. arguments nested too deep to write back
        body = json.dumps({"ok": False, "category": "other", "message": f"unwritable answer: {exc}", "details": {}})
    return Response(body.encode(), status_code=status, media_type=_JSON)
