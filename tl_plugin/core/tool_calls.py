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


_ENCODE = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode  # built once, not per call as json.dumps


def openai_tool_call(call: Mapping[str, Any], call_id: str) -> dict:
    """One call `{"name", "arguments"}` (or already in OpenAI's shape) as an OpenAI `tool_calls` entry; arguments
    given as a string are kept as they are. Arguments JSON cannot write (NaN, nesting too deep: model text can hold
    them) stay an object, which readers take too, so nothing is hidden inside a string that is not JSON."""
    inner = call.get("function")
    call = inner if isinstance(inner, Mapping) else call
    arguments = call.get("arguments") or {}
    try:
        text = arguments if isinstance(arguments, str) else _ENCODE(arguments)
    except (ValueError, RecursionError):
        text = arguments
    return {"id": call_id, "type": "function", "function": {"name": call.get("name"), "arguments": text}}


def plain_call(tool_call: Mapping[str, Any]) -> dict:
    """`{"name", "arguments"}` of a call in either shape; the arguments decoded (a string that is not a JSON
    object stays a string: the call is malformed, and the reader says so in its own terms)."""
    inner = tool_call.get("function")
    call = inner if isinstance(inner, Mapping) else tool_call
    arguments = call.get("arguments")
    return {"name": call.get("name"), "arguments": {} if arguments in (None, "") else decode_arguments(arguments)}


def openai_messages(messages: list[dict]) -> list[dict]:
    """The messages with each assistant turn's calls in OpenAI's shape (a call without an id gets
    "call_<message index>_<k>") and each tool message that answers one, in order right after the turn, carrying
    its `tool_call_id`. Messages are copied, never changed."""
    out, unanswered = [], []
    for i, message in enumerate(messages):
        message = dict(message)
        if message["role"] == "assistant":
            calls = message.get("tool_calls") or []
            message["tool_calls"] = [openai_tool_call(c, c.get("id") or f"call_{i}_{k}") for k, c in enumerate(calls)]
            unanswered = [call["id"] for call in message["tool_calls"]]
            if not calls:
                del message["tool_calls"]
        elif message["role"] == "tool" and unanswered:
            message.setdefault("tool_call_id", unanswered[0])
            unanswered = [i for i in unanswered if i != message["tool_call_id"]]
        elif message["role"] != "tool":
            unanswered = []
        out.append(message)
    return out
