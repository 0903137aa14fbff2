"""OpenRLHF multi-turn agent over ToolUse-v0: pass this file as `--train.agent_func_path`.

Each prompt gets one AgentInstance wrapping one ToolUse-v0 env; the prompt's label is the task (JSON of
`envs.tasks.Task`: query, tools, gold calls and/or answer; `tl-prompts` writes such datasets). The env renders
with the policy's own chat template, so the feedback appended after each action is exactly what the template
would put between that assistant turn and the next. Per step, OpenRLHF gets the env's category-coded reward
(summed over the episode), a score in [0, 1] (1 when the task was solved) and per-category counts in extra_logs.

Settings are read once, when OpenRLHF loads this file (its executor takes no arguments):
- TL_AGENT_MAX_TURNS (default 9), TL_AGENT_FAULT_RATE (default 0: injected tool instability),
- TL_AGENT_SERVER_URLS (comma-separated standalone tool servers; default: the embedded server),
- TL_AGENT_MASK_ERRORS=1: MAE for RL. Turns whose calls failed through the model's fault are removed from
  `action_ranges`, so PPO does not train on their tokens; their penalties still count in the episode reward.
  When every turn failed, the last one is kept so the sample still has an action.
"""

from __future__ import annotations

import contextvars
import functools
import json
import os

import torch
from openrlhf.utils.agent import AgentInstanceBase, MultiTurnAgentExecutor

from envs.tasks import Task
from envs.tool_use import ToolUseEnv
from tool_server import ToolServer

MAX_TURNS = int(os.environ.get("TL_AGENT_MAX_TURNS", "9"))
FAULT_RATE = float(os.environ.get("TL_AGENT_FAULT_RATE", "0"))
SERVER_URLS = [u for u in os.environ.get("TL_AGENT_SERVER_URLS", "").split(",") if u]
MASK_ERRORS = os.environ.get("TL_AGENT_MASK_ERRORS", "0") == "1"
_episode_turns: contextvars.ContextVar[list] = contextvars.ContextVar("tl_episode_turns")


@functools.cache
def _shared_server() -> ToolServer:
    """One embedded tool server for all episodes of this process; sessions keep their states apart."""
    return ToolServer()


class AgentInstance(AgentInstanceBase):
    """One episode. `tokenizer` is bound by AgentExecutor before OpenRLHF creates instances."""

    tokenizer = None

    def __init__(self, *args, **kwargs):
        self.env: ToolUseEnv | None = None
        self.turn_errors: list[bool] = []
        turns = _episode_turns.get(None)
        if turns is not None:  # let the executor that created us see our per-turn errors (MAE for RL)
            turns.append(self.turn_errors)

    async def reset(self, states: dict, **kwargs) -> dict:
        task = Task.from_dict(json.loads(states["label"]))
        self.env = ToolUseEnv(
            [task],
            prompt_format="chat_template",
            tokenizer=self.tokenizer,
            server=SERVER_URLS or _shared_server(),
            max_turns=MAX_TURNS,
            fault_rate=FAULT_RATE,
            render_mode="ansi",
        )
        observation, _ = self.env.reset(options={"task_index": 0})
        return {"observation": observation}

    async def step(self, states: dict, **kwargs) -> dict:
        action = states["action_text"]
        eos = self.tokenizer.eos_token
        if eos and action.endswith(eos):  # vLLM keeps special tokens in the text when skip_special_tokens=False
            action = action[: -len(eos)]
        _, reward, terminated, truncated, info = self.env.step(action)
        self.turn_errors.append(any(c != "ok" and c != "tool_instability" for c in info["categories"]))
        done = terminated or truncated
        solved = terminated and (info["task_reward"] or 0) > 0
        logs = {f"tool/{name}": float(count) for name, count in info["category_counts"].items()}
        logs.update({"tool/turns": float(info["turn"]), "tool/solved": float(solved)})
        return {
            "rewards": torch.tensor(reward),
            "scores": torch.tensor(1.0 if solved else 0.0),
            "environment_feedback": "" if done else self._feedback(action),
            "done": done,
            "sampling_params": states.get("sampling_params"),
            "extra_logs": logs,
        }

    def _feedback(self, action: str) -> str:
        """Text between the model's action and its next turn, as the chat template renders it.

        The rendering up to the end of this assistant turn is a prefix of the rendering with the feedback and
        the next generation prompt; what follows it is the feedback. The markup the template puts right after
        the assistant's content (e.g. '<|im_end|>\\n') leads it, minus the end-of-sequence token, which the
        model emitted itself and OpenRLHF already holds among the action tokens."""
        messages, tokenizer = self.env.messages, self.tokenizer
        tool_start = next(i for i in range(len(messages) - 1, 0, -1) if messages[i - 1]["role"] == "assistant")
        through_action = tokenizer.apply_chat_template(messages[:tool_start], tokenize=False)
        end_of_turn = through_action[through_action.rfind(action) + len(action) :] if action in through_action else ""
        if tokenizer.eos_token and end_of_turn.startswith(tokenizer.eos_token):
            end_of_turn = end_of_turn[len(tokenizer.eos_token) :]
        full = self.env.render()
        # A template that re-renders earlier turns differently once more follow: keep what the two share.
        return end_of_turn + full[len(os.path.commonprefix([through_action, full])) :]


class AgentExecutor(MultiTurnAgentExecutor):
    """What `--train.agent_func_path` loads."""

    def __init__(self):
        super().__init__(AgentInstance)

    async def execute(self, prompt, label, sampling_params, max_length, hf_tokenizer, llm_engine, images=None):
        if self.agent_instance_cls.tokenizer is not hf_tokenizer:
            self.agent_instance_cls = type("AgentInstance", (AgentInstance,), {"tokenizer": hf_tokenizer})
        turns: list = []
        token = _episode_turns.set(turns)
        try:
            result = await super().execute(prompt, label, sampling_params, max_length, hf_tokenizer, llm_engine, images)
        finally:
            _episode_turns.reset(token)
        if MASK_ERRORS and turns:
            result["action_ranges"] = mask_error_turns(result["action_ranges"], turns[0])
        return result


def mask_error_turns(action_ranges: list[tuple[int, int]], turn_errors: list[bool]) -> list[tuple[int, int]]:
    """Drop the action ranges of erroneous turns; keep the last range when every turn failed."""
    kept = [r for r, error in zip(action_ranges, turn_errors) if not error]
    return kept or action_ranges[-1:]


def main() -> None:
    """`tl-agent-path`: print this file's path, for `--train.agent_func_path "$(tl-agent-path)"`."""
    print(os.path.abspath(__file__))
