"""ToolUse-v0: a multi-turn tool-use episode against the mock tool server.

Observation: the conversation rendered for the model (a string, in the chosen prompt format). Action: the model's
raw text. `step` parses the action with the shared parser, calls the tool server, appends the feedback and
answers with a turn-level, category-coded reward (see REWARDS). `info` carries the structured side: messages,
tools, the parsed calls, each call's category and the DE/CE flags.

Reward scheme (documented bounds: every step's reward lies in [-2, 1]):
- a step that calls tools gets the step reward of its worst call's category (REWARDS; 0 for a successful call);
- the step that finishes gets the task reward when the task has gold: +1 right answer (or, with gold calls but
  no gold answer, every gold call made successfully), -1 wrong; 0 without gold;
- hitting the turn limit (default 9, the paper's VA metric) truncates the episode with no extra penalty.
The env never raises on model text; a dead tool server becomes tool_instability feedback and the episode goes on.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import httpx
from gymnasium import spaces

from envs.builtin_tasks import builtin_tasks
from envs.prompts import FORMATS, generation_prompt, message_text, render, system_prompt
from envs.tasks import Task, check_answer, load_tasks
from tl_plugin.judge import IRM_TABLE
from tl_plugin.parsing import ToolCall, parse
from tl_plugin.taxonomy import INSTABILITY_MESSAGES, Category, undefined_tool_message
from tool_server import ToolServer

# Step reward per category: the IRM values that need no gold (paper, Section 3.3), 0 for a successful call. A
# call the tool cannot satisfy costs what a wrong value does; instability is the tool's fault, not the model's.
REWARDS: dict[str, float] = {
    "ok": 0.0,
    "format_error": IRM_TABLE["format_error"],
    "tool_hallucination": IRM_TABLE["tool_hallucination"],
    "parameter_hallucination": IRM_TABLE["parameter_hallucination"],
    "parameter_missing": IRM_TABLE["parameter_missing"],
    "parameter_invalid": IRM_TABLE["content_mismatch"],
    "tool_call_failure": IRM_TABLE["content_mismatch"],
    "tool_instability": 0.0,
    "other": 0.0,
}
TASK_REWARD = {True: 1.0, False: -1.0}
ASK_REPLY = "I have no more information than I gave you. Please go on with what you have."
MAX_TEXT = 1 << 20
# Observation text may hold any character of the Basic Multilingual Plane (tool outputs are unicode).
_BMP = "".join(chr(c) for c in itertools.chain([9, 10, 13], range(0x20, 0xD800), range(0xE000, 0xFFFE)))


class ToolUseEnv(gym.Env[str, str]):
    """Multi-turn tool use. `reset(seed, options={"task_index": i} or {"task": Task | dict})`, `step(text)`."""

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(
        self,
        tasks: str | Sequence[Task] = "builtin",
        prompt_format: str = "python",
        tokenizer: Any = None,
        server: ToolServer | str | Sequence[str] | None = None,
        max_turns: int = 9,
        rewards: dict[str, float] | None = None,
        fault_rate: float = 0.0,
        http_timeout_s: float = 10.0,
        render_mode: str | None = None,
    ):
        """tasks: "builtin", a JSONL path, or Task objects. server: None (embedded, in-process), a ToolServer,
        or the URL (or list of URLs, used in turn) of standalone servers. fault_rate: injected tool instability."""
        if prompt_format not in FORMATS:
            raise ValueError(f"unknown prompt_format {prompt_format!r}; choose one of {FORMATS}")
        self.tasks = (
            builtin_tasks() if tasks == "builtin" else load_tasks(tasks) if isinstance(tasks, str) else list(tasks)
        )
        if not self.tasks:
            raise ValueError("no tasks")
        self.prompt_format, self.tokenizer, self.max_turns = prompt_format, tokenizer, max_turns
        self.rewards = {**REWARDS, **(rewards or {})}
        self.render_mode = render_mode
        self._faults = {"instability_rate": fault_rate} if fault_rate else None
        if server is None or isinstance(server, ToolServer):
            self.server, self.urls = server or ToolServer(), []
        else:
            self.server, self.urls = None, [server] if isinstance(server, str) else list(server)
            self._http = httpx.Client(timeout=http_timeout_s)
        self._url_turn = 0
        self._system_prompts: dict[int, str] = {}
        self.observation_space = spaces.Text(max_length=MAX_TEXT, min_length=0, charset=_BMP)
        self.action_space = spaces.Text(max_length=4096, min_length=0)
        self.task: Task = self.tasks[0]

    # ---------------------------------------------------------------- gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
        super().reset(seed=seed)
        options = options or {}
        index = None
        if "task" in options:
            task = options["task"]
            self.task = task if isinstance(task, Task) else Task.from_dict(task)
        else:
            index = int(options.get("task_index", self.np_random.integers(len(self.tasks)))) % len(self.tasks)
            self.task = self.tasks[index]
        self.session = uuid.uuid4().hex
        self.turn, self.successful_calls = 0, []
        self.tool_names = {t["name"] for t in self.task.tools}
        self.messages, self._text = [], ""
        self._append("system", self._system_prompt(index))
        self._append("user", self.task.query)
        self.category_counts = dict.fromkeys(REWARDS, 0)
        return self._observation(), self._info(calls=[], categories=[])

    def step(self, action: str) -> tuple[str, float, bool, bool, dict]:
        text = action if isinstance(action, str) else str(action)
        self.turn += 1
        self._append("assistant", text)
        parsed = parse(text)
        terminated, answer = False, None
        if parsed.error is not None:
            categories, feedback = [Category.FORMAT_ERROR], [parsed.error]
        elif parsed.is_finish or parsed.fmt == "text":
            categories, feedback, terminated, answer = [], [], True, parsed.answer or ""
        elif parsed.is_ask:
            categories, feedback = [Category.OK], [ASK_REPLY]
        else:
            results = [self._call(call) for call in parsed.calls]
            categories, feedback = [c for c, _ in results], [f for _, f in results]
        for category in categories:
            self.category_counts[category.value] += 1
        reward = min((self.rewards[c.value] for c in categories), default=0.0)
        if terminated:
            reward = self._task_reward(answer)
        for message in feedback:
            self._append("tool", message)
        truncated = not terminated and self.turn >= self.max_turns
        info = self._info(calls=[c.as_dict() for c in parsed.calls], categories=categories)
        info.update(answer=answer, task_reward=reward if terminated else None)
        return self._observation(), float(reward), terminated, truncated, info

    def render(self) -> str | None:
        return self._observation() if self.render_mode == "ansi" else None

    def close(self) -> None:
        if self.urls:
            self._http.close()

    # ---------------------------------------------------------------- internals
    def _observation(self) -> str:
        if self.prompt_format == "chat_template":
            return render(self.messages, self.prompt_format, self.tokenizer)
        return self._text + generation_prompt(self.prompt_format)

    def _append(self, role: str, content: str) -> None:
        message = {"role": role, "content": content}
        self.messages.append(message)
        if self.prompt_format != "chat_template":  # built-in layouts grow by appending
            self._text += message_text(message, self.prompt_format)

    def _system_prompt(self, index: int | None) -> str:
        """Written once per task of the env's list (the tool documentation is the costly part of a reset)."""
        if index is None:
            return system_prompt(self.task.tools, self.prompt_format)
        if index not in self._system_prompts:
            self._system_prompts[index] = system_prompt(self.task.tools, self.prompt_format)
        return self._system_prompts[index]

    def _info(self, calls: list[dict], categories: list[Category]) -> dict[str, Any]:
        return {
            "task_id": self.task.id,
            "turn": self.turn,
            "messages": self.messages,
            "tools": self.task.tools,
            "calls": calls,
            "categories": [c.value for c in categories],
            "de": any(c.is_documentation_error for c in categories),
            "ce": any(c.is_call_error for c in categories),
            "category_counts": dict(self.category_counts),
        }

    def _call(self, call: ToolCall) -> tuple[Category, str]:
        """One tool call -> (category, the text the model sees). Tools outside the task's list are hallucinated
        even when the server knows them: the model was not given them."""
        if call.name not in self.tool_names:
            return Category.TOOL_HALLUCINATION, undefined_tool_message(call.name)
        if self.server is not None:
            result = self.server.call(call.name, call.arguments, self.session, self.task.toolset, self._faults)
        else:
            result = self._post(call)
        if result.get("ok"):
            self.successful_calls.append(call)
            return Category.OK, json.dumps(result.get("output"), ensure_ascii=False)
        return Category(result.get("category", "other")), str(result.get("message", ""))

    def _post(self, call: ToolCall) -> dict:
        url = self.urls[self._url_turn % len(self.urls)].rstrip("/") + "/call"
        self._url_turn += 1
        request = {"name": call.name, "arguments": call.arguments, "session": self.session,
                   "toolset": self.task.toolset, "faults": self._faults}  # fmt: skip
        try:
            response = self._http.post(url, json=request)
            return response.json()
        except (httpx.HTTPError, ValueError) as error:  # a dead or broken server is the tool's instability
            kind = "timeout" if isinstance(error, httpx.TimeoutException) else "connection_error"
            return {
                "ok": False,
                "category": "tool_instability",
                "message": INSTABILITY_MESSAGES[kind].format(tool=call.name),
            }

    def _task_reward(self, answer: str) -> float:
        if self.task.answer is not None:
            return TASK_REWARD[check_answer(self.task.answer, answer)]
        if self.task.gold_calls:
            made = self.successful_calls
            return TASK_REWARD[all(ToolCall(g["name"], g["arguments"]) in made for g in self.task.gold_calls)]
        return 0.0
