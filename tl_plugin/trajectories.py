"""The one trajectory format of tl-training, and converters into it from public tool-use data.

A sample, one JSON object per line:
    {"tools": [OpenAI function schemas {"name", "description", "parameters"}],
     "messages": [{"role": "system" | "user" | "assistant" | "tool", "content": str,
                   "tool_calls": [{"name", "arguments"}]}]}       # tool_calls: assistant turns that call tools
An assistant `content` is the text the model produced, its calls written in its own format (python, ReAct, JSON,
<tool_call>), so any chat template renders the sample; `tool_calls` holds the same calls, structured, for MAE and
PKT. The tool messages right after an assistant turn answer its calls in order. OpenRLHF renders `messages` only
(no `tools` reach the chat template), so the tool list the model must see is in the system message; a converter
from a format that keeps it apart (OpenAI) writes it there.

Converters never raise on a bad record: they drop it and count the reason (`Report`), and count what they changed.
"""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tl_plugin.parsing import format_call, parse
from tl_plugin.taxonomy import Category, classify_feedback

_DECODER = json.JSONDecoder()


class Drop(ValueError):
    """Raised by a converter to drop one record; the message is the reason the report counts."""


@dataclass
class Report:
    """What a conversion kept, masked (erroneous calls: weight 0 under MAE) and dropped, with reasons."""

    kept: int = 0
    masked: int = 0
    dropped: Counter = field(default_factory=Counter)  # reason -> records
    notes: Counter = field(default_factory=Counter)  # what was changed in kept records -> times

    def __str__(self) -> str:
        lines = [f"kept {self.kept}, masked {self.masked} erroneous calls, dropped {sum(self.dropped.values())}"]
        lines += [f"  dropped {n}: {reason}" for reason, n in self.dropped.most_common()]
        lines += [f"  note {n}: {reason}" for reason, n in self.notes.most_common()]
        return "\n".join(lines)


def call_categories(sample: dict) -> list[tuple[int, dict, Category]]:
    """(assistant message index, call, category) for every structured tool call of a sample, in order.

    The category comes from the shared classifier with the tool message that answers the call; a call that nothing
    answers (a finish action, a truncated trajectory) is judged on its name against the tool list alone."""
    messages, tools = sample["messages"], sample.get("tools") or None
    out = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant" or not message.get("tool_calls"):
            continue
        answers = []
        for follower in messages[i + 1 :]:
            if follower["role"] != "tool":
                break
            answers.append(follower["content"])
        for k, call in enumerate(message["tool_calls"]):
            out.append((i, call, classify_feedback(call, tools, answers[k] if k < len(answers) else "")))
    return out


# ---- converters: one record -> one sample, or Drop; `notes` counts what they changed ----


def from_openai(record: dict, notes: Counter, call_format: str = "tool_call") -> dict:
    """OpenAI chat: {"messages": [... assistant "tool_calls": [{"function": {"name", "arguments": "<json>"}}],
    role "tool" ...], "tools": [{"type": "function", "function": schema}]}. Calls are written as `call_format`."""
    tools = [t.get("function", t) for t in record.get("tools") or []]
    messages = []
    for m in record["messages"]:
        role = {"function": "tool"}.get(m["role"], m["role"])
        if role not in ("system", "user", "assistant", "tool"):
            raise Drop(f"unknown role {m['role']!r}")
        message = {"role": role, "content": _text(m.get("content"))}
        if role == "assistant" and m.get("tool_calls"):
            calls = []
            for c in m["tool_calls"]:
                parsed = parse(json.dumps(c.get("function", c)), "json")
                if parsed.error:
                    raise Drop("tool call arguments are not a JSON object")
                calls += [call.as_dict() for call in parsed.calls]
            written = [format_call(c, call_format) for c in calls]
            message = {**message, "content": "\n".join(([message["content"]] if message["content"] else []) + written)}
            message["tool_calls"] = calls
        messages.append(message)
    if tools:
        listing = "You can call these tools:\n" + "\n".join(json.dumps(t, ensure_ascii=False) for t in tools)
        if messages and messages[0]["role"] == "system":
            messages[0] = {**messages[0], "content": f"{messages[0]['content']}\n\n{listing}".strip()}
        else:
            messages.insert(0, {"role": "system", "content": listing})
        notes["tool list written into the system message"] += 1
    return {"tools": tools, "messages": messages}


_SPEAKERS = {"system": "system", "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant"}
_SPEAKERS |= {"function": "tool", "observation": "tool", "tool": "tool", "function_call": "assistant"}


def from_conversations(record: dict, notes: Counter, call_format: str = "tool_call") -> dict:
    """ToolEyes / RoTBench / ShareGPT: {"conversations": [{"from", "value"}], "tools"?: list or JSON text}.

    Speakers system, user/human, assistant/gpt, function/observation/tool, and ShareGPT's function_call (the
    call as JSON, written as `call_format`). Without "tools", the tool list is the JSON list in the system prompt
    (ToolEyes, RoTBench). RoTBench's last assistant value is a list of acceptable answers: the first is kept."""
    tools = record.get("tools")
    tools = json.loads(tools) if isinstance(tools, str) else tools
    messages = []
    for turn in record["conversations"]:
        role, value = _SPEAKERS.get(turn["from"]), turn["value"]
        if role is None:
            raise Drop(f"unknown speaker {turn['from']!r}")
        if isinstance(value, list):
            notes["assistant turn with several acceptable answers: kept the first"] += 1
            value = value[0]
        if turn["from"] == "function_call":
            parsed = parse(value, "json")
            if parsed.error:
                raise Drop("function_call turn is not a JSON call")
            value = "\n".join(format_call(call, call_format) for call in parsed.calls)
        messages.append(_assistant(value) if role == "assistant" else {"role": role, "content": _text(value)})
    if tools is None and messages and messages[0]["role"] == "system":
        tools = tools_in_text(messages[0]["content"])
    if tools is None:
        notes["no tool list: hallucinated tools cannot be told"] += 1
    return {"tools": [t.get("function", t) for t in tools or []], "messages": messages}


def from_paper(record: dict, notes: Counter) -> dict:
    """The TL-Training repository's data: {"conversations": [{"role": system|user|assistant|function, "content"}]},
    the system message holding the tools as Python signatures ("Function:\\ndef name(a: string):\\n\"\"\"...")
    or as a JSON list, assistant turns Python calls `name(key="value")`."""
    messages, tools = [], None
    for turn in record["conversations"]:
        role = {"function": "tool", "output": "tool"}.get(turn["role"].lower(), turn["role"].lower())
        if role not in ("system", "user", "assistant", "tool"):
            raise Drop(f"unknown role {turn['role']!r}")
        content = _text(turn["content"])
        if role == "system" and tools is None:
            tools = tools_in_text(content) or _signature_tools(content)
        messages.append(_assistant(content, "python") if role == "assistant" else {"role": role, "content": content})
    if not tools:
        raise Drop("no tool list in the system message")
    return {"tools": tools, "messages": messages}


CONVERTERS: dict[str, Callable[..., dict]] = {
    "openai": from_openai,
    "tooleyes": from_conversations,
    "rotbench": from_conversations,
    "sharegpt": from_conversations,
    "paper": from_paper,
}


def convert(records: Iterable[Any], source: str, **options: Any) -> tuple[list[dict], Report]:
    """Samples in the internal format from records of `source` (a key of CONVERTERS), and the report.
    options go to the converter (e.g. call_format for openai and sharegpt)."""
    converter, report, samples = CONVERTERS[source], Report(), []
    for record in records:
        notes = Counter()
        try:
            sample = converter(record, notes, **options)
            if not any(m["role"] == "assistant" for m in sample["messages"]):
                raise Drop("no assistant turn")
        except Drop as e:
            report.dropped[str(e)] += 1
            continue
        except (KeyError, TypeError, AttributeError, IndexError, ValueError) as e:
            report.dropped[f"malformed record ({type(e).__name__}: {str(e)[:60]})"] += 1
            continue
        report.kept += 1
        report.notes.update(notes)
        report.masked += sum(category.is_error for *_, category in call_categories(sample))
        samples.append(sample)
    return samples, report


def _assistant(text: str, fmt: str = "auto") -> dict:
    parsed = parse(text, fmt)
    if parsed.error:
        raise Drop(f"assistant turn is not a readable call ({parsed.fmt} format)")
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


def tools_in_text(text: str) -> list[dict] | None:
    """The first JSON list of tool schemas in a text (ToolEyes and RoTBench system prompts), or None."""
    start = text.find("[{")
    while start >= 0:
        try:
            value = _DECODER.raw_decode(text, start)[0]
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(t, dict) and "name" in t.get("function", t) for t in value):
            return [t.get("function", t) for t in value]
        start = text.find("[{", start + 1)
    return None


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


def read_records(path: str | Path) -> list[Any]:
    """Records of a .jsonl file (one per line) or a .json file (a list, or one record)."""
    text = Path(path).read_text(encoding="utf-8")
    if str(path).endswith(".jsonl"):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    value = json.loads(text)
    return value if isinstance(value, list) else [value]


def write_jsonl(path: str | Path, samples: Iterable[dict]) -> None:
    """Write samples, one JSON object per line."""
    with open(path, "w", encoding="utf-8") as f:
        for sample in samples:
            f.write(json.dumps(sample, ensure_ascii=False) + "\n")
