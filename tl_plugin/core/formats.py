"""The prompt formats: for each family of models, how its tools are shown, how it writes calls, how a chat reads.

One registry, `FORMATS`: name -> `PromptFormat`, with the system prompt written from a tool list, the call syntax
(rendered by `format_call`, read back by `parse`) and the chat layout (messages -> text). Everything else (the env,
synthetic data, converters, PPO prompt sets, evaluation) looks formats up here.
- "python": TL-CodeLLaMA-2 (the paper's Appendix B): tools as Python signatures with docstrings, `name(arg=value)`;
- "python_brief": the same calls, one line per tool (signature, allowed values, description), each turn on a new
  line: for small models and short contexts (the CPU demo, tl_plugin.demo);
- "react": ToolLLaMA / RoTBench / ToolEyes: Thought, Action, Action Input;
- "qwen": ChatML with `<tool_call>` blocks (Qwen-2.5, Hermes);
- "chat_template": a Hugging Face tokenizer's own chat template, with the Qwen/Hermes system prompt and calls.
  Given the tools, `render` passes them as `tools=` (OpenAI's form) to a template that renders them, and the system
  prompt then leaves them out (`listed=False`); a template without tool support gets them in the system text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tl_plugin.core.parsing import Parsed, ToolCall, format_call, parse
from tl_plugin.core.tool_calls import openai_tool, plain_call

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


def _brief_signature(tool: dict) -> str:
    """`def name(city: str, units: 'metric'|'imperial' = None): description`, on one line."""
    params = tool.get("parameters", {})
    props, required = params.get("properties", {}), params.get("required", [])
    ordered = [p for p in props if p in required] + [p for p in props if p not in required]
    args = ", ".join(
        f"{p}: "
        + ("|".join(map(repr, props[p]["enum"])) if "enum" in props[p] else _PY_TYPES.get(props[p].get("type"), "str"))
        + ("" if p in required else " = None")
        for p in ordered
    )
    return f"def {tool['name']}({args}): {tool.get('description', '')}"


CHAT_TEMPLATE_SYSTEM = (
    "You are a helpful assistant. Call the tools you are given to answer the user's query; call finish with your "
    "answer when you are done."
)


def _system_prompt(tools: list[dict], fmt: str, listed: bool = True) -> str:
    """The system message that shows the model its tools. A tokenizer's chat template ("chat_template") gets
    the Qwen/Hermes wording, which most tool-calling templates use; unlisted, the template shows the tools."""
    if fmt == "chat_template" and not listed:
        return CHAT_TEMPLATE_SYSTEM
    if fmt == "python":
        return "\n\n".join(_python_signature(t) for t in tools) + "\n\n"
    if fmt == "python_brief":
        return "\n".join(_brief_signature(t) for t in tools)
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


# Chat layouts: how each role's message is written. Tool feedback is shown as the role the format's training data
# used for it. Layouts are per message, so a conversation's text grows by appending (the env renders each step in
# constant time).
_QWEN = {
    "system": "<|im_start|>system\n{}<|im_end|>\n",
    "user": "<|im_start|>user\n{}<|im_end|>\n",
    "assistant": "<|im_start|>assistant\n{}<|im_end|>\n",
    "tool": "<|im_start|>user\n<tool_response>\n{}\n</tool_response><|im_end|>\n",
}


@dataclass(frozen=True)
class PromptFormat:
    """One prompt format. `layout` maps a role to its message template ("{}" = the content); None means the
    tokenizer's own chat template. `generation_prompt` asks for the next assistant turn."""

    name: str
    call_syntax: str  # how calls are written: a format of tl_plugin.core.parsing (python, react, tool_call)
    layout: dict[str, str] | None
    generation_prompt: str = ""

    def system_prompt(self, tools: list[dict], actions: bool = True, listed: bool = True) -> str:
        """The system message listing `tools`, with ask_to_user and finish appended when `actions`. `listed=False`
        (chat_template only): the tools go to the template as `tools=` instead, see `render`."""
        return _system_prompt(list(tools) + ([ASK_TOOL, FINISH_TOOL] if actions else []), self.name, listed)

    def format_call(self, call: ToolCall | dict) -> str:
        """One call as a model of this format writes it."""
        return format_call(call, self.call_syntax)

    def parse(self, text: str) -> Parsed:
        """The calls in a model's text. Every syntax is read (detected), so a model that answers in another
        one than it was shown is still understood."""
        return parse(text)

    def assistant_text(self, message: dict[str, Any]) -> str:
        """An assistant message (`content`, `tool_calls` in OpenAI's shape or ours) as a model of this format writes
        it: the content, then each call in this format's syntax. Arguments that are not a JSON object stay raw, so
        the parser reports the format error. Content that would hide the calls (a python call after prose reads as
        prose) is left out: the calls are what the message says."""
        written = []
        for call in map(plain_call, message.get("tool_calls") or []):
            call["name"] = call["name"] or ""
            written.append(
                self.format_call(call) if isinstance(call["arguments"], dict) else json.dumps(call, ensure_ascii=False)
            )
        content = message.get("content")
        content = content.strip() if isinstance(content, str) else ""
        text = "\n".join([content, *written] if content else written)
        if content and written and len(self.parse(text).calls) != len(written):
            return "\n".join(written)
        return text

    def message_text(self, message: dict[str, Any]) -> str:
        """One message as this format's layout writes it (built-in layouts only)."""
        return self.layout[message["role"]].format(message["content"])

    def render(
        self,
        messages: list[dict[str, Any]],
        tokenizer: Any = None,
        add_generation_prompt: bool = True,
        tools: list[dict] | None = None,
    ) -> str:
        """Text of a conversation whose first message is the system prompt; "chat_template" needs the tokenizer and
        passes `tools` (bare or OpenAI schemas) to it as `tools=` when its template renders tools. The template sees
        role and content only: the content holds the calls as the model wrote them, and a template that also
        rendered `tool_calls` would print each call twice."""
        if self.layout is None:
            if tokenizer is None:
                raise ValueError(f"prompt format {self.name!r} needs a tokenizer")
            plain = [{"role": m["role"], "content": m["content"]} for m in messages]
            extra = {"tools": [openai_tool(t) for t in tools]} if tools and takes_tools(tokenizer) else {}
            return tokenizer.apply_chat_template(
                plain, tokenize=False, add_generation_prompt=add_generation_prompt, **extra
            )
        text = "".join(self.message_text(m) for m in messages)
        return text + self.generation_prompt if add_generation_prompt else text


FORMATS: dict[str, PromptFormat] = {
    "python": PromptFormat(
        "python",
        "python",
        {"system": "System: {}\n", "user": "User: {}\n", "assistant": "Assistant: {}\n", "tool": "Output: {}\n"},
        "Assistant: ",
    ),
    # The assistant's turn starts on a new line: a prompt ending in "Assistant: " ends in a lone space token that a
    # BPE never shows before a call in training text (there the space is merged into the call's first token).
    "python_brief": PromptFormat(
        "python_brief",
        "python",
        {"system": "System: {}\n", "user": "User: {}\n", "assistant": "Assistant:\n{}\n", "tool": "Output: {}\n"},
        "Assistant:\n",
    ),
    "react": PromptFormat(
        "react",
        "react",
        {"system": "System: {}\n", "user": "User: {}\n", "assistant": "Assistant: {}\n", "tool": "Observation: {}\n"},
        "Assistant: ",
    ),
    "qwen": PromptFormat("qwen", "tool_call", _QWEN, "<|im_start|>assistant\n"),
    "chat_template": PromptFormat("chat_template", "tool_call", None),
}


def takes_tools(tokenizer: Any) -> bool:
    """Whether a tokenizer's chat template renders a `tools=` list (the templates of tool-calling models do)."""
    return "tools" in str(getattr(tokenizer, "chat_template", None) or "")


def get_format(name: str) -> PromptFormat:
    """The registered format of that name; ValueError listing the choices otherwise."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown prompt format {name!r}; choose one of {', '.join(FORMATS)}") from None
