"""Render a tool-use conversation into the text a model reads, in the prompt format it was trained on.

Formats: "python" (TL-CodeLLaMA-2, the paper's Appendix B: tools as Python signatures with docstrings,
`name(arg=value)` calls), "react" (ToolLLaMA / RoTBench / ToolEyes: Thought, Action, Action Input), "qwen"
(ChatML with `<tool_call>` blocks), and "chat_template" (any Hugging Face tokenizer's own chat template). Each
format is a system prompt written from the tool list plus a chat layout: messages -> text.
"""

from __future__ import annotations

import json
from typing import Any

FORMATS = ("python", "react", "qwen", "chat_template")

# The actions every format offers besides the task's tools (RoTBench puts them last, in this order).
ASK_TOOL = {
    "name": "ask_to_user",
    "description": "Ask the user for guidance when you need more information; use this as little as you can.",
    "parameters": {
        "type": "object",
        "properties": {"question": {"type": "string", "description": "The question you want to ask the user."}},
        "required": ["question"],
    },
}
FINISH_TOOL = {
    "name": "finish",
    "description": "Finish the task and give your answer.",
    "parameters": {
        "type": "object",
        "properties": {"answer": {"type": "string", "description": "Your answer for the task."}},
        "required": ["answer"],
    },
}

_PY_TYPES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "array": "list", "object": "dict"}


def _python_signature(tool: dict) -> str:
    params = tool.get("parameters", {})
    props, required = params.get("properties", {}), params.get("required", [])
    ordered = [p for p in props if p in required] + [p for p in props if p not in required]
    args = ", ".join(
        f"{p}: {_PY_TYPES.get(props[p].get('type'), 'str')}" + ("" if p in required else " = None") for p in ordered
    )
    doc = [
        f"    {p} ({props[p].get('type', 'string')}): {props[p].get('description', '')}"
        + (f" One of {props[p]['enum']}." if "enum" in props[p] else "")
        for p in ordered
    ]
    body = tool.get("description", "") + ("\n\n    Args:\n    " + "\n    ".join(doc) if doc else "")
    return f'Function:\ndef {tool["name"]}({args}):\n    """\n    {body}\n    """'


def system_prompt(tools: list[dict], fmt: str) -> str:
    """The system message that shows the model its tools (with ask_to_user and finish appended). A tokenizer's
    chat template ("chat_template") gets the Qwen/Hermes wording, which most tool-calling templates use."""
    tools = list(tools) + [ASK_TOOL, FINISH_TOOL]
    if fmt == "python":
        return "\n\n".join(_python_signature(t) for t in tools) + "\n\n"
    if fmt == "react":
        return (
            "You are an expert in using tools to handle real-time queries from users. At each step, give your "
            "thought, then call one tool to act. Call finish to give your final answer.\n\nDesired format:\n"
            "Thought: <The thought>\nAction: <The tool you decide to use>\nAction Input: <The parameters for the "
            "tool, a JSON object>\n\nAvailable tools:\n" + json.dumps(tools, ensure_ascii=False) + "\n\nLet's Begin!"
        )
    tool_lines = "\n".join(json.dumps({"type": "function", "function": t}, ensure_ascii=False) for t in tools)
    return (
        "You are a helpful assistant. You may call one or more functions to assist with the user query.\n\n"
        "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
        + tool_lines
        + "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
        '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}'
        "\n</tool_call>\nCall finish with your answer when you are done."
    )


# Chat layouts: how each role's message is written, and the prompt that asks for the next assistant turn. Tool
# feedback is shown as the role the format's training data used for it. Layouts are per message, so a
# conversation's text grows by appending (the env renders each step in constant time).
_LAYOUTS: dict[str, tuple[dict[str, str], str]] = {
    "python": (
        {"system": "System: {}\n", "user": "User: {}\n", "assistant": "Assistant: {}\n", "tool": "Output: {}\n"},
        "Assistant:",
    ),
    "react": (
        {"system": "System: {}\n", "user": "User: {}\n", "assistant": "Assistant: {}\n", "tool": "Observation: {}\n"},
        "Assistant: ",
    ),
    "qwen": (
        {
            "system": "<|im_start|>system\n{}<|im_end|>\n",
            "user": "<|im_start|>user\n{}<|im_end|>\n",
            "assistant": "<|im_start|>assistant\n{}<|im_end|>\n",
            "tool": "<|im_start|>user\n<tool_response>\n{}\n</tool_response><|im_end|>\n",
        },
        "<|im_start|>assistant\n",
    ),
}


def message_text(message: dict[str, Any], fmt: str) -> str:
    """One message as a built-in format writes it."""
    return _LAYOUTS[fmt][0][message["role"]].format(message["content"])


def generation_prompt(fmt: str) -> str:
    return _LAYOUTS[fmt][1]


def render(messages: list[dict[str, Any]], fmt: str, tokenizer: Any = None, add_generation_prompt: bool = True) -> str:
    """Text of a conversation whose first message is the system prompt (see `system_prompt`). Format
    "chat_template" renders with a Hugging Face tokenizer's own template."""
    if fmt == "chat_template":
        if tokenizer is None:
            raise ValueError("prompt format 'chat_template' needs a tokenizer")
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
    if fmt not in _LAYOUTS:
        raise ValueError(f"unknown prompt format {fmt!r}; choose one of {FORMATS}")
    text = "".join(message_text(m, fmt) for m in messages)
    return text + generation_prompt(fmt) if add_generation_prompt else text
