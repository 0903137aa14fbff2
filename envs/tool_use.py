"""ToolUse-v0: a multi-turn tool-use episode against the mock tool server.

Observation: the conversation rendered for the model (a string, in the chosen prompt format). Action: the model's
raw text, any Unicode. `step` parses the action, calls the tools, appends the feedback and answers with a
turn-level reward. `info` carries the structured side as copies: messages (in OpenAI's shape: an assistant turn's
calls as `tool_calls` with ids "call_<turn>_<k>", each tool message's `tool_call_id`), the parsed calls, each call's
category, the DE/CE flags, and `appended`, the text that followed the action in the new observation (what a rollout
loop that holds the tokens so far must add). With "chat_template" and a template that renders tools, the tools go
to it as `tools=`.

Rewards (every step's reward lies in [-2, 1]):
- a step that calls tools gets `tl_plugin.core.rewards.step_reward` of its calls' categories: the IRM table's value
  of the model's errors, pooled as a response is; 0 when the model made none (tool instability is not its error);
- the step that finishes gets the task reward when the task has gold: +1 right answer (or, with gold calls but
  no gold answer, every gold call made successfully), -1 wrong; 0 without gold.
`gymnasium.make("envs:ToolUse-v0")` truncates at 9 steps (the paper's VA limit). The env never raises on model text;
a dead tool server, or one answering anything but a feedback object, becomes tool_instability feedback (a category
it made up, `other`) and the episode goes on.
"""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Sequence
from typing import Any

import gymnasium as gym

from envs.builtin_tasks import builtin_tasks
from envs.spaces import UnicodeText
from envs.tasks import Task, check_answer, load_tasks
from tl_plugin.core.formats import ASK_TOOL, FINISH_TOOL, get_format, takes_tools
from tl_plugin.core.judge import Gold, judge
from tl_plugin.core.parsing import ASK_NAMES, MAX_TEXT_CHARS, Parsed, ToolCall
from tl_plugin.core.rewards import IRM_TABLE, step_reward
from tl_plugin.core.taxonomy import CATEGORIES, Category, undefined_tool_message
from tl_plugin.core.tool_calls import openai_tool_call
from tool_server.client import RemoteToolServer, connect, feedback_text
from tool_server.server import ToolServer, instability_feedback

TASK_REWARD = {True: 1.0, False: -1.0}
ASK_REPLY = "I have no more information than I gave you. Please go on with what you have."
# One model turn rarely exceeds a few thousand tokens; longer actions are cut at the parser's limit. The observation
# is cut at its limit, which also ends the episode (the context is full).
MAX_ACTION_CHARS = MAX_TEXT_CHARS
MAX_OBSERVATION_CHARS = 1 << 20


# Per category: (DE, CE, the model's error), looked up once per call rather than derived every step.
_FLAGS = {c: (c.is_documentation_error, c.is_call_error, c.is_model_error) for c in Category}
_CATEGORIES = {c.value: c for c in Category}  # a category a server names; one it made up is OTHER


@functools.cache
def _embedded_server() -> ToolServer:
    """One embedded tool server per process for envs not given one; sessions keep their episodes apart."""
    return ToolServer()


class ToolUseEnv(gym.Env[str, str]):
    """Multi-turn tool use. `reset(seed, options={"task_index": i} or {"task": Task | dict})`, `step(text)`."""

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(
        self,
        tasks: str | Sequence[Task] = "builtin",
        prompt_format: str = "python",
        tokenizer: Any = None,
        server: ToolServer | RemoteToolServer | str | Sequence[str] | None = None,
        table: dict[str, float] | None = None,
        fault_rate: float = 0.0,
        http_timeout_s: float = 10.0,
        render_mode: str | None = None,
    ):
        """tasks: "builtin", a JSONL path, or Task objects. server: None (the embedded one), a server, or the
        URL (or list of URLs) of standalone servers. table: IRM table entries to override (step rewards).
        fault_rate: injected tool instability."""
        self.format = get_format(prompt_format)
        if self.format.layout is None and tokenizer is None:
            raise ValueError(f"prompt format {prompt_format!r} needs a tokenizer")
        self.tasks = builtin_tasks() if tasks == "builtin" else load_tasks(tasks) if isinstance(tasks, str) else tasks
        if not self.tasks:
            raise ValueError("no tasks")
        self.tokenizer, self.render_mode = tokenizer, render_mode
        self._template_tools = self.format.layout is None and takes_tools(tokenizer)  # tools go as `tools=`
        self.table = {**IRM_TABLE, **(table or {})}
        self.server = _embedded_server() if server is None else connect(server, http_timeout_s)
        self._owns_server = isinstance(server, (str, Sequence))  # URLs: the env made the client, so it closes it
        self._faults = {"instability_rate": fault_rate} if fault_rate else None
        self._prompts: dict[int, tuple] = {}  # task index -> (system prompt, tools as JSON, tool names)
        self.observation_space = UnicodeText(MAX_OBSERVATION_CHARS)
        self.action_space = UnicodeText(MAX_ACTION_CHARS)
        self.messages: list[dict] | None = None  # None until reset

    # ---------------------------------------------------------------- gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
        super().reset(seed=seed)
        options = options or {}
        index = None
        if "task" in options:
            task = options["task"]
            self.task = task if isinstance(task, Task) else Task.from_dict(task)
        else:
            index = options.get("task_index")
            index = int(self.np_random.integers(len(self.tasks)) if index is None else index) % len(self.tasks)
            self.task = self.tasks[index]
        self.session = secrets.token_hex(16)
        self.turn, self.successful_calls, self.done = 0, [], False
        self.messages, self._text = [], ""
        self._render_tools = [*self.task.tools, ASK_TOOL, FINISH_TOOL] if self._template_tools else None
        system, tools, self.tool_names = self._prompts_of(index)
        self._append("system", system)
        self._append("user", self.task.query)
        self.category_counts = dict.fromkeys(CATEGORIES, 0)
        self._observation = self._head = self.format.render(self.messages, self.tokenizer, tools=self._render_tools)
        info = self._info([], [], "")
        info["tools"] = json.loads(tools)  # a copy: callers may change it
        return self._observation, info

    def step(self, action: str) -> tuple[str, float, bool, bool, dict]:
        if self.messages is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        if self.done:  # as Gymnasium's own envs do: nothing happens, and nothing is paid twice
            gym.logger.warn("step() called after the episode terminated; call reset() to start a new one")
            return self._observation, 0.0, True, False, self._info([], [], "")
        text = (action if isinstance(action, str) else str(action))[:MAX_ACTION_CHARS]
        self.turn += 1
        parsed = self.format.parse(text)
        ids = [f"call_{self.turn}_{k}" for k in range(len(parsed.calls))] if parsed.error is None else []
        tool_calls = [openai_tool_call(call.as_dict(), i) for call, i in zip(parsed.calls, ids)]
        self._append("assistant", text, tool_calls=tool_calls)
        terminated, answer, answering = False, None, ids
        if parsed.error is not None:
            categories, feedback = [Category.FORMAT_ERROR], [parsed.error]
        elif parsed.is_finish or parsed.fmt == "text":
            categories, feedback, terminated, answer = [], [], True, parsed.answer or ""
        elif parsed.is_ask:
            categories, feedback = [Category.OK], [ASK_REPLY]
            answering = [i for c, i in zip(parsed.calls, ids) if c.name.lower() in ASK_NAMES][:1]
        else:
            results = [self._call(call) for call in parsed.calls]
            categories, feedback = [c for c, _ in results], [f for _, f in results]
        for category in categories:
            self.category_counts[category.value] += 1
        reward = self._task_reward(answer) if terminated else step_reward(categories, self.table)
        for k, message in enumerate(feedback):
            self._append("tool", message, tool_call_id=answering[k] if k < len(answering) else None)
        observation, appended = self._observe(text, len(feedback))
        truncated = not terminated and len(observation) > MAX_OBSERVATION_CHARS
        self._observation = observation[:MAX_OBSERVATION_CHARS]
        self.done = terminated
        info = self._info(
            [{"name": c.name, "arguments": _json_copy(c.arguments)} for c in parsed.calls], categories, appended
        )
        info["answer"], info["task_reward"] = answer, reward if terminated else None
        return self._observation, reward, terminated, truncated, info

    def render(self) -> str | None:
        return self._observation if self.render_mode == "ansi" and self.messages is not None else None

    def close(self) -> None:
        if self._owns_server:
            self.server.close()

    # ---------------------------------------------------------------- internals
    def _observe(self, text: str, feedback: int) -> tuple[str, str]:
        """(observation, appended) after a step: the action `text` followed the last observation, then its
        `feedback` tool messages came. Built-in layouts grow by appending. A chat template renders the new turn
        with the system prompt and the query before it, whose cost is the same every turn, not the whole episode,
        whose cost grows with it: the observation is the stream the OpenRLHF agent feeds the model. A template
        that writes the turn otherwise is rendered whole, and what changed is found by its common prefix."""
        before, self._observation = self._observation, ""
        if self.format.layout is None:
            turn = self.messages[:2] + self.messages[-1 - feedback :]
            window = self.format.render(turn, self.tokenizer, tools=self._render_tools)
            if window.startswith(self._head) and window.startswith(text, len(self._head)):
                appended = window[len(self._head) + len(text) :]
                # `before` is the only reference left unless the caller kept the last observation: CPython then
                # grows it in place, where `before + text + appended` would copy the whole episode every turn
                before += text
                before += appended
                return before, appended
            observation = self.format.render(self.messages, self.tokenizer, tools=self._render_tools)
        else:
            observation = self._text + self.format.generation_prompt
        if observation.startswith(before) and observation.startswith(text, len(before)):  # the usual, append-only case
            return observation, observation[len(before) + len(text) :]
        return observation, _after_common_prefix(before + text, observation)

    def _append(self, role: str, content: str, tool_calls: list | None = None, tool_call_id: str | None = None) -> None:
        """Add a message; OpenAI's fields (`tool_calls`, `tool_call_id`) only when they have a value."""
        message = {"role": role, "content": content}
        if tool_calls:
            message["tool_calls"] = tool_calls
        if tool_call_id:
            message["tool_call_id"] = tool_call_id
        self.messages.append(message)
        if self.format.layout is not None:  # built-in layouts grow by appending
            self._text += self.format.message_text(message)

    def _prompts_of(self, index: int | None) -> tuple[str, str, frozenset[str]]:
        """The system prompt, the tools as JSON and their names, written once per task of the env's list (the
        tool documentation is the costly part of a reset)."""
        if index in self._prompts:
            return self._prompts[index]
        tools = self.task.tools
        names = frozenset(t["name"] for t in tools)
        system = self.format.system_prompt(tools, listed=not self._template_tools)
        prompts = system, json.dumps(tools, ensure_ascii=False), names
        if index is not None:
            self._prompts[index] = prompts
        return prompts

    def _info(self, calls: list[dict], categories: list[Category], appended: str) -> dict[str, Any]:
        de = ce = model_error = False
        for category in categories:
            d, c, m = _FLAGS[category]
            de, ce, model_error = de or d, ce or c, model_error or m
        return {
            "task_id": self.task.id,
            "turn": self.turn,
            "messages": list(map(_copy, self.messages)),
            "calls": calls,
            "categories": [c.value for c in categories],
            "de": de,
            "ce": ce,
            "model_error": model_error,
            "category_counts": self.category_counts.copy(),
            "appended": appended,
        }

    def _call(self, call: ToolCall) -> tuple[Category, str]:
        """One tool call -> (category, the text the model sees). Tools outside the task's list are hallucinated
        even when the server knows them: the model was not given them."""
        if call.name not in self.tool_names:
            return Category.TOOL_HALLUCINATION, undefined_tool_message(call.name)
        feedback = self.server.call(call.name, call.arguments, self.session, self.task.toolset, self._faults)
        if not isinstance(feedback, dict) or not isinstance(feedback.get("ok"), bool):  # a list, text, null, ...
            feedback = instability_feedback(call.name, "connection_error")  # as RemoteToolServer treats them
        if feedback.get("ok") is True:
            self.successful_calls.append(call)
            return Category.OK, feedback_text(feedback)
        return _CATEGORIES.get(feedback.get("category"), Category.OTHER), feedback_text(feedback)

    def _task_reward(self, answer: str) -> float:
        if self.task.answer is not None:
            return TASK_REWARD[check_answer(self.task.answer, answer)]
        if self.task.gold_calls:
            made = [Parsed([call], "json") for call in self.successful_calls]
            golds = [Gold(g, self.task.tools, "exact") for g in self.task.gold_calls]
            return TASK_REWARD[all(any(judge(m, gold).correct for m in made) for gold in golds)]
        return 0.0


def _copy(message: dict) -> dict:
    """A message copy that callers may change freely (its `tool_calls` are nested; copied by hand, deepcopy is
    several times slower on the env's hot path)."""
    if "tool_calls" not in message:
        return message.copy()
    return {**message, "tool_calls": [{**call, "function": dict(call["function"])} for call in message["tool_calls"]]}


def _json_copy(value: Any) -> Any:
    """A copy of parsed arguments (dicts, lists and scalars, nested at most parsing.MAX_DEPTH deep): the env
    calls with them and judges its task with them, so info must not share them. Several times faster than
    deepcopy."""
    if isinstance(value, dict):
        return {key: _json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_copy(item) for item in value]
    return value


def _after_common_prefix(head: str, text: str) -> str:
    """What `text` holds after its common prefix with `head`: for chat templates that re-render earlier turns
    differently once more follow (the common prefix is found by halving, not char by char)."""
    low, high = 0, min(len(head), len(text))
    while low < high:
        mid = (low + high + 1) // 2
        if text.startswith(head[:mid]):
            low = mid
        else:
            high = mid - 1
    return text[low:]
