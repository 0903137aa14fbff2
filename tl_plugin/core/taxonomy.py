"""The one error taxonomy of tool calls (TL-Training, Section 3.1 and Table 14).

Every component speaks these categories: the tool server writes them into its feedback, MAE masks the turns
they mark, the IRM reward and the env turn them into rewards, evaluation counts them. The message templates
live here too, so the feedback the server writes is exactly the feedback the classifier reads back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any


class Category(str, Enum):
    """Outcome of one tool call; the value is the stable string used in JSON, logs and metrics."""

    OK = "ok"
    FORMAT_ERROR = "format_error"  # the model's output could not be parsed into a call
    TOOL_HALLUCINATION = "tool_hallucination"  # the tool is not in the tool list
    PARAMETER_HALLUCINATION = "parameter_hallucination"  # a key the tool's schema does not have
    PARAMETER_MISSING = "parameter_missing"  # a required key is absent
    PARAMETER_INVALID = "parameter_invalid"  # wrong type, enum, format or range
    TOOL_CALL_FAILURE = "tool_call_failure"  # well-formed, but the tool cannot satisfy it
    TOOL_INSTABILITY = "tool_instability"  # timeouts, connection errors, rate limits, tool-side 4xx/5xx
    OTHER = "other"

    @property
    def is_error(self) -> bool:
        return self is not Category.OK

    @property
    def is_model_error(self) -> bool:
        """Whether the model caused this outcome: the one answer that MAE, the agent's RL masking, the env's step
        reward and DE/CE all use. Instability (timeouts, rate limits, outages) and `other` (a tool that failed
        for a reason no one can pin on the call, e.g. it crashed) are the tool's doing: masking or penalising
        them would teach the model to avoid calls that were right. A tool_call_failure is the model's: the
        call was well-formed but asked for what the tool cannot give (an unknown city, a missing record)."""
        return self in _MODEL_ERRORS

    @property
    def is_documentation_error(self) -> bool:
        """DE in the paper: the model misread the documentation (tool or parameter names)."""
        return self in _DOCUMENTATION_ERRORS

    @property
    def is_call_error(self) -> bool:
        """CE in the paper: every other error the model caused."""
        return self.is_model_error and not self.is_documentation_error


_DOCUMENTATION_ERRORS = frozenset(
    {Category.TOOL_HALLUCINATION, Category.PARAMETER_HALLUCINATION, Category.PARAMETER_MISSING}
)
_MODEL_ERRORS = _DOCUMENTATION_ERRORS | {
    Category.FORMAT_ERROR,
    Category.PARAMETER_INVALID,
    Category.TOOL_CALL_FAILURE,
}
CATEGORIES: tuple[str, ...] = tuple(c.value for c in Category)


# ---- feedback messages, in the styles models meet in real tool-use data (ToolEyes, RoTBench) ----


def _quoted_list(names: list[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def undefined_tool_message(name: str) -> str:
    return f"name '{name}' is not defined"


def unexpected_argument_message(tool: str, key: str) -> str:
    return f"{tool}() got an unexpected keyword argument '{key}'"


def missing_arguments_message(tool: str, keys: list[str]) -> str:
    plural = "s" if len(keys) > 1 else ""
    return f"{tool}() missing {len(keys)} required positional argument{plural}: {_quoted_list(keys)}"


def invalid_argument_message(tool: str, key: str, reason: str) -> str:
    return f"{tool}() argument '{key}': {reason}"


def call_failure_message(reason: str) -> str:
    return json.dumps({"error": "Response error.", "detail": reason})


# A tool that crashed for a reason of its own: like the paper's "recent-scan-not-found" row, a JSON error that
# names no known cause, so it classifies as `other`. The exception goes into the feedback's details, not here.
CRASH_MESSAGE = json.dumps({"error": "internal-error", "text": "the tool stopped unexpectedly"})

INSTABILITY_MESSAGES: dict[str, str] = {
    "timeout": "HTTPSConnectionPool(host='api.{tool}.com', port=443): Read timed out. (read timeout=10)",
    "connection_error": "HTTPSConnectionPool(host='api.{tool}.com', port=443): Max retries exceeded with url: "
    "/v1/{tool} (Caused by NewConnectionError('Failed to establish a new connection: [Errno 111] Connection refused'))",
    "rate_limit": "429 Client Error: Too Many Requests for url: https://api.{tool}.com/v1/{tool}",
    "unavailable": "503 Server Error: Service Unavailable for url: https://api.{tool}.com/v1/{tool}",
}


# ---- classifier: (call, tool list, feedback text) -> category ----

# Ordered: the first matching rule wins. Instability comes before invalid values because real APIs report
# their own outages with "Invalid API call" or "400 Client Error ... with the given parameters".
_TEXT_RULES: list[tuple[Category, re.Pattern[str]]] = [
    (Category.TOOL_HALLUCINATION, re.compile(r"name '[^']*' is not defined")),
    (Category.PARAMETER_HALLUCINATION, re.compile(r"got an unexpected keyword argument")),
    (Category.PARAMETER_MISSING, re.compile(r"missing \d+ required (?:positional |keyword-only )?arguments?")),
    # MCP servers built on the official SDK: its unknown-tool error, and pydantic's validation of the arguments.
    (Category.TOOL_HALLUCINATION, re.compile(r"^Unknown tool: ")),
    (Category.PARAMETER_HALLUCINATION, re.compile(r"\[type=extra_forbidden\b")),
    (Category.PARAMETER_MISSING, re.compile(r"\[type=missing\b")),
    (Category.PARAMETER_INVALID, re.compile(r"validation errors? for \w+\n(?s:.*)Input should be ")),
    (
        Category.TOOL_INSTABILITY,
        re.compile(
            r"Max retries exceeded|timed out|timeout|connection error|Connection refused|ConnectionError"
            r"|HTTPSConnectionPool|\b[45]\d\d (?:Client|Server) Error|Too Many Requests|rate limit"
            r"|Invalid API call|not authorized|Unauthorized|Service Unavailable|try again\.?\"?\}?$",
            re.IGNORECASE,
        ),
    ),
    (Category.TOOL_CALL_FAILURE, re.compile(r"^\{\s*\"error\"\s*:\s*\"Response error", re.IGNORECASE)),
    (
        Category.PARAMETER_INVALID,
        re.compile(
            r"\(\) argument '[^']*':|not supported between instances of|is not of type|is not one of"
            r"|invalid literal for|must be (?:an? )?(?:integer|int|str|string|float|number|real)"
            r"|unsupported type for|unsupported operand type|can't multiply sequence|indices must be integers"
            r"|Invalid URL|could not convert|does not match|is (?:less|greater) than|error in arguments",
            re.IGNORECASE,
        ),
    ),
    (
        Category.TOOL_CALL_FAILURE,
        re.compile(
            r"referenced before assignment|is not JSON serializable|object has no attribute|can't cd to"
            r"|No such file|Traceback|Exception|Error:",
            re.IGNORECASE,
        ),
    ),
]
_ERROR_KEYS = ("error", "errors", "error_message", "Note")
_KEY_ERROR = re.compile(r"^'([^']*)'$")  # a bare KeyError: the tool looked up a key it does not have


def classify_feedback(call: Mapping[str, Any] | None, tools: Iterable[Any] | None, feedback: Any) -> Category:
    """Category of one tool call from what the tool answered.

    call: `{"name", "arguments"}` (None when the model's output did not parse: format_error);
    tools: the tool list the model was given (names, or OpenAI schemas), None when unknown;
    feedback: the tool's answer as text, or our server's structured feedback dict.
    The tool list decides hallucination first: a real API's "Response error." to a tool that is not in the
    list is a hallucinated tool, not a failure of a real one.
    """
    if call is None:
        return Category.FORMAT_ERROR
    if isinstance(feedback, Mapping) and "ok" in feedback:  # our server already said
        return Category(feedback.get("category", "ok" if feedback["ok"] else "other"))
    if tools is not None and call.get("name") not in tool_names(tools):
        return Category.TOOL_HALLUCINATION
    text = feedback if isinstance(feedback, str) else json.dumps(feedback, ensure_ascii=False)
    text = text.strip()
    for category, pattern in _TEXT_RULES:
        if pattern.search(text):
            return category
    key_error = _KEY_ERROR.match(text)
    if key_error:  # KeyError on one of the caller's own values means the value was not accepted
        values = {str(v) for v in (call.get("arguments") or {}).values()}
        return Category.PARAMETER_INVALID if key_error.group(1) in values else Category.TOOL_CALL_FAILURE
    return Category.OTHER if _looks_like_error(text) else Category.OK


def _looks_like_error(text: str) -> bool:
    """A JSON object whose top level reports an error, or a short 'not found' text."""
    try:
        payload = json.loads(text)
    except ValueError:
        return bool(re.search(r"\bnot found\b|^error\b", text, re.IGNORECASE)) and len(text) < 200
    if isinstance(payload, dict):
        return any(payload.get(key) for key in _ERROR_KEYS) or payload.get("status") in ("failure", "error")
    return False


def function_schema(tool: Mapping[str, Any]) -> Mapping[str, Any]:
    """The function schema `{"name", "description", "parameters"}` of a tool given bare or in OpenAI's
    `{"type": "function", "function": schema}` wrapper."""
    inner = tool.get("function")
    return tool if inner is None or not isinstance(inner, Mapping) else inner  # None first: the ABC check is slow


def tool_names(tools: Iterable[Any]) -> set[str]:
    """Names from a tool list given as names, OpenAI schemas, or `{"type": "function", "function": schema}`."""
    names = set()
    for tool in tools:
        if isinstance(tool, str):
            names.add(tool)
        elif isinstance(tool, Mapping):
            names.add(function_schema(tool).get("name"))
    return names
