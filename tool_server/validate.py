"""Checking a call's arguments against its tool: the compiled fast path for valid calls, jsonschema's words for
the rest, and the rules that keep a call the same whether it comes in process or over HTTP.

The order of the verdicts: arguments too large or too deeply nested for a request (format_error, before the
tool is even looked up, as an HTTP body over the limit would be) > hallucinated key > missing key > invalid
value. A value is invalid when the schema says so, and also when JSON cannot carry it: NaN or an infinity, a
lone surrogate in a string, a Python object that is not a JSON value. The HTTP app decodes requests leniently
(Python's json reads NaN and lone surrogate escapes), so the server, not the transport, meets those values and
gives them the same category either way.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson
from jsonschema.exceptions import ValidationError, best_match

from tl_plugin.core.taxonomy import (
    Category,
    invalid_argument_message,
    missing_arguments_message,
    undefined_tool_message,
    unexpected_argument_message,
)
from tool_server.catalog import Tool

Feedback = dict[str, Any]
MAX_ARGUMENT_BYTES = 1 << 20  # the arguments of one call as compact UTF-8 JSON
MAX_DEPTH = 64  # nesting of lists and objects within one argument
# jsonschema keyword -> (kind in details, reason template); type and enum are worded in _invalid.
_REASONS = {
    "format": ("format", "must be a valid '{}' string"),
    "pattern": ("format", "must match the pattern {}"),
    "minimum": ("range", "must be >= {}"),
    "maximum": ("range", "must be <= {}"),
    "exclusiveMinimum": ("range", "must be > {}"),
    "exclusiveMaximum": ("range", "must be < {}"),
    "minLength": ("range", "must have at least {} characters"),
    "maxLength": ("range", "must have at most {} characters"),
    "minItems": ("range", "must have at least {} items"),
    "maxItems": ("range", "must have at most {} items"),
    "multipleOf": ("range", "must be a multiple of {}"),
}
_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}


def error(category: Category, message: str, tool: str | None, details: dict) -> Feedback:
    return {"ok": False, "category": category.value, "message": message, "tool": tool, "details": details}


def json_type(value: Any) -> str:
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)


def check(name: str, tool: Tool | None, arguments: dict, max_bytes: int) -> tuple[Feedback | None, int]:
    """(feedback for the first problem of the call or None, the arguments' size in bytes as compact UTF-8 JSON).

    The order: arguments nested deeper than MAX_DEPTH or larger than `max_bytes` (format_error) > unknown tool
    (None) > hallucinated key > missing key > invalid value. Keys outside `properties` are hallucinated unless
    the schema explicitly allows extras. Valid calls pass the compiled validator alone; jsonschema decides (and
    words) whatever it does not pass.
    """
    size = fast_size(tool, arguments, max_bytes)
    if size is not None:
        return None, size
    if _too_deep(arguments, 0):
        message = f"{name}() arguments are nested deeper than {MAX_DEPTH} levels"
        return error(Category.FORMAT_ERROR, message, name, {"max_depth": MAX_DEPTH}), 0
    try:
        size = len(orjson.dumps(arguments))
    except TypeError:  # a lone surrogate, an integer beyond 64 bits, a value that is not JSON
        text = json.dumps(arguments, ensure_ascii=False, default=repr, skipkeys=True)
        size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        message = f"{name}() arguments take {size} bytes, more than the {max_bytes} a call may carry"
        return error(Category.FORMAT_ERROR, message, name, {"bytes": size, "max_bytes": max_bytes}), size
    if tool is None:
        return error(Category.TOOL_HALLUCINATION, undefined_tool_message(name), name, {}), size
    return _explained(tool, arguments), size


def fast_size(tool: Tool | None, arguments: dict, max_bytes: int) -> int | None:
    """The arguments' size when the compiled validator passes them (a valid call: `check` would answer None),
    else None; `arguments` is a dict."""
    if tool is not None and tool.fast is not None and _plain(arguments, 0, tool.integer_typed):
        size = len(orjson.dumps(arguments))
        if size <= max_bytes and tool.fast.is_valid(arguments):
            return size
    return None


def _explained(tool: Tool, arguments: dict) -> Feedback | None:
    params = tool.schema["parameters"]
    if params.get("additionalProperties", False) is False:
        unexpected = [key for key in arguments if key not in params["properties"]]
        if unexpected:
            message = unexpected_argument_message(tool.name, unexpected[0])
            return error(Category.PARAMETER_HALLUCINATION, message, tool.name, {"unexpected": unexpected})
    missing = [key for key in params.get("required", []) if key not in arguments]
    if missing:
        message = missing_arguments_message(tool.name, missing)
        return error(Category.PARAMETER_MISSING, message, tool.name, {"missing": missing})
    for key, value in arguments.items():
        reason = _problem(key) or _problem(value)
        if reason:
            message = invalid_argument_message(tool.name, key, reason)
            return error(Category.PARAMETER_INVALID, message, tool.name, {"argument": key, "kind": "json"})
    if next(tool.validator.iter_errors(arguments), None) is None:
        return None
    return _invalid(tool.name, best_match(tool.validator.iter_errors(arguments)))


def _plain(value: Any, depth: int, no_floats: bool) -> bool:
    """Whether the compiled validator's yes is jsonschema's yes too: `value` is JSON nested MAX_DEPTH deep at
    most, with string keys, finite numbers and valid Unicode, and (no_floats) without floats, where
    jsonschema-rs would take 5.0 for an integer. Loops rather than all(): this runs on every call."""
    kind = type(value)
    if kind is dict:
        if depth > MAX_DEPTH:
            return False
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or _utf8(key)):
                return False
            kind = type(item)
            if kind is str:
                if not (item.isascii() or _utf8(item)):
                    return False
            elif not (kind is int or kind is bool or item is None or _plain(item, depth + 1, no_floats)):
                return False
        return True
    if kind is str:
        return value.isascii() or _utf8(value)
    if kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return not no_floats and math.isfinite(value)
    if kind is list and depth <= MAX_DEPTH:
        for item in value:
            if not _plain(item, depth + 1, no_floats):
                return False
        return True
    return False


def _too_deep(value: Any, depth: int) -> bool:
    """Whether lists and objects nest more than MAX_DEPTH levels below the arguments object (depth 0)."""
    if type(value) is dict:
        return depth > MAX_DEPTH or any(_too_deep(item, depth + 1) for item in value.values())
    if type(value) is list:
        return depth > MAX_DEPTH or any(_too_deep(item, depth + 1) for item in value)
    return False


def _problem(value: Any) -> str | None:
    """Why JSON cannot carry `value`, in the words of the feedback, or None (nested MAX_DEPTH deep at most)."""
    kind = type(value)
    if kind is str:
        return None if value.isascii() or _utf8(value) else "must be valid Unicode text (it holds a lone surrogate)"
    if kind is float:
        return None if math.isfinite(value) else "must be a finite number"
    if kind is int or kind is bool or value is None:
        return None
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return f"must be a JSON value, not an object with {json_type(key)} keys"
            reason = _problem(key) or _problem(item)
            if reason:
                return reason
        return None
    if kind is list:
        return next((reason for reason in map(_problem, value) if reason), None)
    return f"must be a JSON value, not {kind.__name__}"


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _invalid(name: str, error_: ValidationError) -> Feedback:
    key = str(error_.path[0]) if error_.path else ""
    where = "".join(f"[{part!r}]" for part in list(error_.path)[1:])  # inside a list or object argument
    expected = error_.validator_value
    if error_.validator == "type":
        wanted = " or ".join(expected) if isinstance(expected, list) else expected
        kind, reason = "type", f"must be {wanted}, not {json_type(error_.instance)}"
    elif error_.validator in ("enum", "const"):
        values = expected if error_.validator == "enum" else [expected]
        kind, reason = "enum", "must be one of " + ", ".join(repr(v) for v in values)
    elif error_.validator in _REASONS:
        kind, template = _REASONS[error_.validator]
        reason = template.format(expected)
    else:  # anyOf, not, dependencies...: jsonschema's own words
        kind, reason = "constraint", error_.message
    reason = f"{where} {reason}" if where else reason
    details = {"argument": key, "kind": kind, "keyword": error_.validator, "expected": expected}
    return error(Category.PARAMETER_INVALID, invalid_argument_message(name, key, reason), name, details)
