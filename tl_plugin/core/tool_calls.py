"""OpenAI's tool-calling shapes, written and read in one place.

A tool is listed as `{"type": "function", "function": schema}`; an assistant message carries its calls as
`"tool_calls": [{"id", "type": "function", "function": {"name", "arguments": "<JSON text>"}}]`, and the tool
message answering one of them carries its `"tool_call_id"`. Everything that reads calls also takes our own shape,
`{"name", "arguments": {...}}`, and arguments given as an object or as OpenAI's JSON string.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tl_plugin.core.taxonomy import function_schema


def openai_tool(tool: Mapping[str, Any]) -> dict:
    """A tool in OpenAI's wrapped form, whether given bare or already wrapped."""
    return {"type": "function", "function": dict(function_schema(tool))}


def decode_arguments(arguments: Any) -> Any:
    """Arguments as an object: OpenAI's JSON string is decoded when it holds an object; anything else (an object,
    or a string that is not a JSON object) comes back unchanged, for the caller to judge."""
    if isinstance(arguments, str):
        try:
            decoded = json.loads(arguments)
        except (ValueError, RecursionError):
            return arguments
        return decoded if isinstance(decoded, dict) else arguments
    return arguments


def openai_tool_call(call: Mapping[str, Any], call_id: str) -> dict:
    """One call `{"name", "arguments"}` (or already in OpenAI's shape) as an OpenAI `tool_calls` entry."""
    plain = plain_call(call)
    arguments = plain["arguments"]
    text = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return {"id": call_id, "type": "function", "function": {"name": plain["name"], "arguments": text}}


def plain_call(tool_call: Mapping[str, Any]) -> dict:
    """`{"name", "arguments"}` of a call in either shape; the arguments decoded (a string that is not a JSON
    object stays a string: the call is malformed, and the reader says so in its own terms)."""
    inner = tool_call.get("function")
    call = inner if isinstance(inner, Mapping) else tool_call
    arguments = call.get("arguments")
    return {"name": call.get("name"), "arguments": {} if arguments in (None, "") else decode_arguments(arguments)}
