"""ToolUse-v0 through OpenAI's chat-completions shapes, so a served model (vLLM, SGLang, the OpenAI API: any
endpoint the `openai` client talks to) acts in the env directly:

    env = gym.make("envs:ToolUse-v0")
    messages, tools, info = openai_reset(env, seed=0)
    while True:
        response = client.chat.completions.create(model=MODEL, messages=messages, tools=tools)
        new, reward, terminated, truncated, info = openai_step(env, response)
        messages += new
        if terminated or truncated:
            break

The chat is OpenAI's own: the tools go as `tools=`, the assistant message comes back as the model sent it, and each
of its `tool_calls` is answered by a tool message with that call's `tool_call_id`, the env's feedback as content.
Inside, the env sees the calls as text in its prompt format (any format works), so rewards, categories and
`info` are those of any other step; `info["messages"]` carries the model's own call ids.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from tl_plugin.core.formats import ASK_TOOL, FINISH_TOOL, get_format
from tl_plugin.core.tool_calls import openai_tool


def openai_reset(env: gym.Env, **reset_kwargs: Any) -> tuple[list[dict], list[dict], dict]:
    """Reset the env; returns the chat to send (system and user messages), the task's tools in OpenAI's form
    (with the env's finish and ask_to_user actions) and the env's info."""
    _, info = env.reset(**reset_kwargs)
    tools = [openai_tool(t) for t in [*info["tools"], ASK_TOOL, FINISH_TOOL]]
    system = get_format("chat_template").system_prompt(info["tools"], listed=False)  # the tools go as `tools=`
    query = info["messages"][1]["content"]
    return [{"role": "system", "content": system}, {"role": "user", "content": query}], tools, info


def openai_step(env: gym.Env, response: Any) -> tuple[list[dict], float, bool, bool, dict]:
    """One env step from a chat-completions response: a `ChatCompletion`, its choice's message, or their dicts.

    Returns the messages to append to the chat (the assistant message, then one tool message per call it made,
    carrying its `tool_call_id`) and the env's reward, terminated, truncated and info. A call whose arguments are
    not a JSON object is the env's format error, and every call of that turn is answered with its message."""
    message = _message(response)
    calls = message.get("tool_calls") or []
    ids = [call.get("id") for call in calls]
    inner = env.unwrapped
    before = len(inner.messages or [])
    _, reward, terminated, truncated, info = env.step(inner.format.assistant_text(message))
    turn = info["messages"][before:]  # the assistant message, then the env's answers
    env_ids = [call["id"] for call in turn[0].get("tool_calls", [])]
    renamed = dict(zip(env_ids[len(env_ids) - len(ids) :], ids)) if len(env_ids) >= len(ids) else {}
    for call in turn[0].get("tool_calls", []):  # info speaks with the model's ids
        call["id"] = renamed.get(call["id"], call["id"])
    answers = []
    for feedback in turn[1:]:
        if "tool_call_id" in feedback:
            feedback["tool_call_id"] = renamed.get(feedback["tool_call_id"], feedback["tool_call_id"])
            answers.append(feedback)
        elif ids:  # a format error answers no call of its own: it answers each of them
            answers += [{"role": "tool", "tool_call_id": i, "content": feedback["content"]} for i in ids]
        else:  # feedback to text that called nothing
            answers.append({"role": "user", "content": feedback["content"]})
    assistant = {"role": "assistant", "content": message.get("content")} | ({"tool_calls": calls} if calls else {})
    return [assistant, *answers], reward, terminated, truncated, info


def _message(response: Any) -> dict:
    """The assistant message of a response, as a plain dict."""
    if hasattr(response, "model_dump"):  # the openai client's pydantic types
        response = response.model_dump(exclude_none=True)
    if "choices" in response:
        response = response["choices"][0]["message"]
    return response
