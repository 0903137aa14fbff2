"""The one trajectory format of tl-training: what SFT data, converters, synthetic data and MAE/PKT all share.

A sample, one JSON object per line:
    {"tools": [OpenAI function schemas {"name", "description", "parameters"}],
     "messages": [{"role": "system" | "user" | "assistant" | "tool", "content": str,
                   "tool_calls": [{"id", "type": "function",   # assistant turns that call tools, in OpenAI's
                                   "function": {"name", "arguments": "<JSON>"}}],   # shape (or {"name", "arguments"})
                   "tool_call_id": str,                        # a tool message: the call it answers
                   "category": "format_error"}]}               # an assistant turn whose text is not a readable call
An assistant `content` is the text the model produced, its calls written in its own format (python, ReAct, JSON,
<tool_call>), so any chat template renders the sample; `tool_calls` holds the same calls, structured, for MAE and
PKT (tl_plugin.core.tool_calls reads both shapes). The tool messages right after an assistant turn answer its calls
in order. OpenRLHF renders `messages` only (no `tools` reach the chat template), so the tool list the model must
see is in the system message.
"""

from __future__ import annotations

from typing import Any

from tl_plugin.core.taxonomy import Category, classify_feedback
from tl_plugin.core.tool_calls import plain_call


def call_categories(sample: dict[str, Any]) -> list[tuple[int, dict | None, Category]]:
    """(assistant message index, call, category) for every tool call of a sample, in order.

    The category comes from the shared classifier with the tool message that answers the call; a call that nothing
    answers (a finish action, a truncated trajectory) is judged on its name against the tool list alone. A turn
    marked `"category": "format_error"` counts as one call, None, of that category."""
    messages, tools = sample["messages"], sample.get("tools") or None
    out = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        if message.get("category") == Category.FORMAT_ERROR.value:
            out.append((i, None, Category.FORMAT_ERROR))
            continue
        if not message.get("tool_calls"):
            continue
        answers = []
        for follower in messages[i + 1 :]:
            if follower["role"] != "tool":
                break
            answers.append(follower["content"])
        for k, call in enumerate(map(plain_call, message["tool_calls"])):
            out.append((i, call, classify_feedback(call, tools, answers[k] if k < len(answers) else "")))
    return out
