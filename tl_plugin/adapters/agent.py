"""OpenRLHF multi-turn agent over ToolUse-v0: pass this file as `--train.agent_func_path`.

Each prompt gets one AgentInstance wrapping one ToolUse-v0 env; the prompt's label is the task (JSON of
`envs.tasks.Task`: query, tools, gold calls and/or answer; `tl-prompts` writes such datasets). The env renders
with the policy's own chat template and hands back, with each step, the text that follows the action in its new
observation: that is the environment feedback, so nothing is rendered twice. Per step, OpenRLHF gets the env's
reward (summed over the episode), a score in [0, 1] (1 when the task was solved) and per-category counts in
extra_logs.

Settings are read once, when OpenRLHF loads this file (its executor takes no arguments):
- TL_AGENT_MAX_TURNS (default 9), TL_AGENT_FAULT_RATE (default 0: injected tool instability),
- TL_AGENT_SERVER_URLS (comma-separated standalone tool servers; default: the embedded server),
- TL_AGENT_MASK_ERRORS=1: MAE for RL. Turns where the model made an error (Category.is_model_error) are removed
  from `action_ranges`, so PPO does not train on their tokens; their penalties still count in the episode reward.
  When every turn failed, the last one is kept so the sample still has an action. The per-turn flags travel in
  the steps' extra_logs and are taken out before OpenRLHF sees them.
"""

from __future__ import annotations

import json
import os

import torch
from gymnasium.wrappers import TimeLimit
from openrlhf.utils.agent import AgentInstanceBase, MultiTurnAgentExecutor

from envs.tasks import Task
from envs.tool_use import ToolUseEnv
from tool_server.client import connect

MAX_TURNS = int(os.environ.get("TL_AGENT_MAX_TURNS", "9"))
FAULT_RATE = float(os.environ.get("TL_AGENT_FAULT_RATE", "0"))
SERVER_URLS = [u for u in os.environ.get("TL_AGENT_SERVER_URLS", "").split(",") if u]
MASK_ERRORS = os.environ.get("TL_AGENT_MASK_ERRORS", "0") == "1"
TURN_ERRORS = "tl/turn_errors"  # the extra_logs key of the per-turn flags; removed before OpenRLHF logs


class AgentInstance(AgentInstanceBase):
    """One episode. `tokenizer` is bound by AgentExecutor before OpenRLHF creates instances."""

    tokenizer = None
    server = None  # the tool server every episode of this process calls (made on first use)

    def __init__(self, *args, **kwargs):
        self.env: TimeLimit | None = None
        self.turn_errors: list[bool] = []

    async def reset(self, states: dict, **kwargs) -> dict:
        if AgentInstance.server is None:
            AgentInstance.server = connect(SERVER_URLS or None)
        task = Task.from_dict(json.loads(states["label"]))
        env = ToolUseEnv([task], "chat_template", self.tokenizer, self.server, fault_rate=FAULT_RATE)
        self.env = TimeLimit(env, MAX_TURNS)
        observation, _ = self.env.reset(options={"task_index": 0})
        return {"observation": observation}

    async def step(self, states: dict, **kwargs) -> dict:
        action, eos = states["action_text"], self.tokenizer.eos_token
        if eos and action.endswith(eos):  # vLLM keeps special tokens in the text when skip_special_tokens=False
            action = action[: -len(eos)]
        _, reward, terminated, truncated, info = self.env.step(action)
        self.turn_errors.append(info["model_error"])
        done = terminated or truncated
        feedback = info["appended"]
        if eos and feedback.startswith(eos):  # generation stopped at EOS, which OpenRLHF holds among the action tokens
            feedback = feedback[len(eos) :]
        solved = terminated and (info["task_reward"] or 0) > 0
        logs = {f"tool/{name}": float(count) for name, count in info["category_counts"].items()}
        logs.update({"tool/turns": float(info["turn"]), "tool/solved": float(solved), TURN_ERRORS: self.turn_errors})
        return {
            "rewards": torch.tensor(reward),
            "scores": torch.tensor(1.0 if solved else 0.0),
            "environment_feedback": "" if done else feedback,
            "done": done,
            "sampling_params": states.get("sampling_params"),
            "extra_logs": logs,
        }


class AgentExecutor(MultiTurnAgentExecutor):
    """What `--train.agent_func_path` loads."""

    def __init__(self):
        super().__init__(AgentInstance)

    async def execute(self, prompt, label, sampling_params, max_length, hf_tokenizer, llm_engine, images=None):
        if self.agent_instance_cls.tokenizer is not hf_tokenizer:
            self.agent_instance_cls = type("AgentInstance", (AgentInstance,), {"tokenizer": hf_tokenizer})
        result = await super().execute(prompt, label, sampling_params, max_length, hf_tokenizer, llm_engine, images)
        turn_errors = result["extra_logs"].pop(TURN_ERRORS, [])
        if MASK_ERRORS and turn_errors:
            result["action_ranges"] = mask_error_turns(result["action_ranges"], turn_errors)
        return result


def mask_error_turns(action_ranges: list[tuple[int, int]], turn_errors: list[bool]) -> list[tuple[int, int]]:
    """Drop the action ranges of erroneous turns; keep the last range when every turn failed."""
    kept = [r for r, error in zip(action_ranges, turn_errors) if not error]
    return kept or action_ranges[-1:]


def main() -> None:
    """`tl-agent-path`: print this file's path, for `--train.agent_func_path "$(tl-agent-path)"`."""
    print(os.path.abspath(__file__))
