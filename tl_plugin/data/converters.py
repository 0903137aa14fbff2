"""Converters from public tool-use data into the trajectory format (tl_plugin.core.trajectory).

Each converter is `fn(record, notes, prompt_format=...) -> sample` and runs under `tl_plugin.data.sources.convert`,
which drops a bad record with its reason and counts kept, masked and dropped records. Calls come out in OpenAI's
shape, with ids (the source's when it has them) and the tool messages' `tool_call_id`. An assistant turn that is
not a readable call is kept and marked `"category": "format_error"`: it is the model's error, so MAE masks it and
the rest of the trajectory still trains (the paper masks such turns rather than dropping the sample).
"""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from tl_plugin.core.formats import get_format
from tl_plugin.core.parsing import parse
from tl_plugin.core.taxonomy import Category, function_schema
from tl_plugin.core.tool_calls import openai_messages
from tl_plugin.data.sources import Drop, rotbench_item, tools_in_text

# ---- converters: one record -> one sample, or Drop; `notes` counts what they changed ----


def from_openai(record: dict, notes: Counter, prompt_format: str = "qwen") -> dict:
    """OpenAI chat: {"messages": [... assistant "tool_calls": [{"function": {"name", "arguments": "<json>"}}],
    role "tool" ...], "tools": [{"type": "function", "function": schema}]}. Calls are written as the prompt
    format writes them (content it would read as prose before them is left out, and noted), and its system prompt
    lists the tools (OpenRLHF passes no `tools` to the template)."""
    fmt = get_format(prompt_format)
    tools = [dict(function_schema(t)) for t in record.get("tools") or []]
    messages = []
    for m in record["messages"]:
        role = {"function": "tool"}.get(m["role"], m["role"])
        if role not in ("system", "user", "assistant", "tool"):
            raise Drop(f"unknown role {m['role']!r}")
        message = {"role": role, "content": _text(m.get("content"))}
        if role == "assistant" and m.get("tool_calls"):
            calls = []
            for c in m["tool_calls"]:
                parsed = parse(json.dumps(function_schema(c)), "json")
                if parsed.error:
                    raise Drop("tool call arguments are not a JSON object")
                calls += [{**call.as_dict(), "id": c.get("id")} for call in parsed.calls]  # the source's ids stay
            text = fmt.assistant_text({"content": message["content"], "tool_calls": calls})
            if message["content"].strip() and not text.startswith(message["content"].strip()):
                notes[f"content before the calls left out (the {prompt_format} format reads it as prose)"] += 1
            message = {**message, "content": text, "tool_calls": calls}
        if role == "tool" and m.get("tool_call_id"):
            message["tool_call_id"] = m["tool_call_id"]
        messages.append(message)
    if tools:
        listing = fmt.system_prompt(tools, actions=False)
        if messages and messages[0]["role"] == "system":
            messages[0] = {**messages[0], "content": f"{messages[0]['content']}\n\n{listing}".strip()}
        else:
            messages.insert(0, {"role": "system", "content": listing})
        notes["tool list written into the system message"] += 1
    return {"tools": tools, "messages": openai_messages(messages)}


_SPEAKERS = {"system": "system", "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant"}
_SPEAKERS |= {"function": "tool", "observation": "tool", "tool": "tool", "function_call": "assistant"}


def from_conversations(record: dict, notes: Counter, prompt_format: str = "qwen") -> dict:
    """ToolEyes / RoTBench / ShareGPT: {"conversations": [{"from", "value"}], "tools"?: list or JSON text}.

    Speakers system, user/human, assistant/gpt, function/observation/tool, and ShareGPT's function_call (the
    call as JSON, written as the prompt format writes calls). Without "tools", the tool list is the JSON list in the
    system prompt (ToolEyes)."""
    tools = record.get("tools")
    tools = json.loads(tools) if isinstance(tools, str) else tools
    messages = []
    for turn in record["conversations"]:
        role, value = _SPEAKERS.get(turn["from"]), turn["value"]
        if role is None:
            raise Drop(f"unknown speaker {turn['from']!r}")
        if turn["from"] == "function_call":
            parsed = parse(value, "json")
            if parsed.error:
                raise Drop("function_call turn is not a JSON call")
            value = "\n".join(get_format(prompt_format).format_call(call) for call in parsed.calls)
        messages.append(_assistant(value, notes) if role == "assistant" else {"role": role, "content": _text(value)})
    if tools is None and messages and messages[0]["role"] == "system":
        tools = tools_in_text(messages[0]["content"])
    if tools is None:
        notes["no tool list: hallucinated tools cannot be told"] += 1
    return {"tools": [dict(function_schema(t)) for t in tools or []], "messages": openai_messages(messages)}


def from_rotbench(record: dict, notes: Counter, prompt_format: str = "react") -> dict:
    """RoTBench: the history before the answer, then the first of the acceptable gold answers (RoTBench writes
    ReAct, so prompt_format is unused: its own system prompt stays)."""
    tools, messages, gold = rotbench_item(record)
    for i, message in enumerate(messages):
        if message["role"] == "assistant":
            messages[i] = _assistant(message["content"], notes)
    answer = record["conversations"][-1]["value"][0]
    if len(gold) > 1:
        notes["assistant turn with several acceptable answers: kept the first"] += 1
    answered = {"role": "assistant", "content": answer, "tool_calls": gold[:1]}
    return {"tools": tools, "messages": openai_messages([*messages, answered])}


def from_paper(record: dict, notes: Counter, prompt_format: str = "python") -> dict:
    """The TL-Training repository's data: {"conversations": [{"role": system|user|assistant|function, "content"}]},
    the system message holding the tools as Python signatures ("Function:\\ndef name(a: string):\\n\"\"\"...")
    or as a JSON list, assistant turns Python calls `name(key="value")` (so prompt_format is unused)."""
    messages, tools = [], None
    for turn in record["conversations"]:
        role = {"function": "tool", "output": "tool"}.get(turn["role"].lower(), turn["role"].lower())
        if role not in ("system", "user", "assistant", "tool"):
            raise Drop(f"unknown role {turn['role']!r}")
        content = _text(turn["content"])
        if role == "system" and tools is None:
            tools = tools_in_text(content) or _signature_tools(content)
        message = _assistant(content, notes, "python") if role == "assistant" else {"role": role, "content": content}
        messages.append(message)
    if not tools:
        raise Drop("no tool list in the system message")
    return {"tools": tools, "messages": openai_messages(messages)}


CONVERTERS: dict[str, Callable[..., dict]] = {
    "openai": from_openai,
    "tooleyes": from_conversations,
    "rotbench": from_rotbench,
    "sharegpt": from_conversations,
    "paper": from_paper,
}


def _assistant(text: str, notes: Counter, fmt: str = "auto") -> dict:
    """An assistant message with its structured calls; one that is not a readable call is marked a format error."""
    parsed = parse(text, fmt)
    if parsed.error:
        notes["assistant turn is not a readable call: marked format_error (masked)"] += 1
        return {"role": "assistant", "content": text, "category": Category.FORMAT_ERROR.value}
    message = {"role": "assistant", "content": text}
    if parsed.calls:
        message["tool_calls"] = [call.as_dict() for call in parsed.calls]
    return message


def _text(content: Any) -> str:
    """Message content as text: OpenAI content parts are joined, JSON values dumped."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list) and all(isinstance(p, dict) and "text" in p for p in content):
        return "".join(p["text"] for p in content)
    return json.dumps(content, ensure_ascii=False)


_PY_TO_JSON = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "list": "array",
    "dict": "object",
}


def _signature_tools(text: str) -> list[dict] | None:
    """Tool schemas from "Function:\\ndef ...:" blocks (read with `ast`, never run), or None if one does not parse."""
    tools = []
    for block in text.split("Function:\n")[1:]:
        try:
            fn = ast.parse(block.strip()).body[0]
        except (SyntaxError, IndexError):
            return None
        if not isinstance(fn, ast.FunctionDef):
            return None
        doc = ast.get_docstring(fn) or ""
        described = dict(re.findall(r"^\s*(\w+) \([^)]*\): (.*)$", doc, re.M))
        args = fn.args.args
        kinds = {a.arg: ast.unparse(a.annotation) if a.annotation else "string" for a in args}
        properties = {a: {"type": _PY_TO_JSON.get(t, t), "description": described.get(a, "")} for a, t in kinds.items()}
        required = [a.arg for a in args[: len(args) - len(fn.args.defaults)]]
        parameters = {"type": "object", "properties": properties, "required": required}
        tools.append({"name": fn.name, "description": doc.split("\n\n")[0].strip(), "parameters": parameters})
    return tools or None
