"""Our AgentExecutor inside OpenRLHF's real MultiTurnAgentExecutor.execute, with a scripted fake vLLM engine."""

import asyncio
import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers import ScriptedEngine, train_tokenizer, weather_task

from envs.builtin_tasks import builtin_tasks
from tl_plugin.adapters.agent import mask_error_turns

AGENT_FILE = Path(__file__).resolve().parents[1] / "tl_plugin" / "adapters" / "agent.py"
WEATHER = weather_task()


def load_agent_module():
    """As openrlhf.trainer.ray.vllm_engine._load_agent_executor does (that module needs vLLM to import)."""
    spec = importlib.util.spec_from_file_location("agent_module", AGENT_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_episode(module, actions, tokenizer):
    executor = module.AgentExecutor()
    engine = ScriptedEngine(tokenizer, actions)
    params = SimpleNamespace(max_tokens=None, logprobs=None)
    label = json.dumps(WEATHER.to_dict())
    result = asyncio.run(executor.execute("ignored: the env renders the task", label, params, 4096, tokenizer, engine))
    return result, engine


ACTIONS = [
    'get_weather_current(city="Paris", country="FR")',
    'get_weather_current(city="Paris")',
    'finish(answer="18.0 degrees")',
]


def test_multi_turn_episode_through_openrlhf():
    tokenizer = train_tokenizer("bpe")
    module = load_agent_module()
    result, engine = run_episode(module, ACTIONS, tokenizer)

    assert result["reward"] == pytest.approx(-0.8 + 0.0 + 1.0)
    assert result["scores"].item() == 1.0
    assert result["extra_logs"]["tool/parameter_hallucination"] == 1.0 and result["extra_logs"]["tool/ok"] == 1.0
    tokens = result["observation_tokens"]
    assert len(result["action_ranges"]) == 3
    for (start, end), action in zip(result["action_ranges"], ACTIONS):
        assert tokenizer.decode(tokens[start:end]) == action + tokenizer.eos_token
    # The whole token stream is the chat template's own rendering of the episode: feedback in the model's format.
    env_messages = [{"role": "system", "content": None}, {"role": "user", "content": WEATHER.query}]
    feedback = [
        "get_weather_current() got an unexpected keyword argument 'country'",
        '{"city": "Paris", "temperature": 18.0, "units": "metric", "condition": "cloudy", "humidity": 71, '
        '"wind_kph": 12}',
    ]
    text = tokenizer.decode(tokens)
    system = text.split("<|im_start|>system\n", 1)[1].split("<|im_end|>", 1)[0]
    env_messages[0]["content"] = system
    for action, tool in zip(ACTIONS, feedback):
        env_messages += [{"role": "assistant", "content": action}, {"role": "tool", "content": tool}]
    env_messages.append({"role": "assistant", "content": ACTIONS[-1]})
    assert text == tokenizer.apply_chat_template(env_messages, tokenize=False).rstrip("\n")
    assert "<tools>" in system and '"get_weather_forecast"' in system
    # Each generation started from what came before: prompt, then action + feedback tokens, in order.
    assert engine.prompts[1] == tokens[: result["action_ranges"][1][0]]


def test_mask_error_turns_for_rl(monkeypatch):
    tokenizer = train_tokenizer("bpe")
    module = load_agent_module()
    monkeypatch.setattr(module, "MASK_ERRORS", True)
    result, _ = run_episode(module, ACTIONS, tokenizer)
    assert len(result["action_ranges"]) == 2  # the hallucinated-parameter turn is out of the PPO loss
    assert result["reward"] == pytest.approx(0.2)  # its penalty still counts
    assert mask_error_turns([(0, 1), (2, 3)], [True, True]) == [(2, 3)]
    assert mask_error_turns([(0, 1), (2, 3)], [True, False]) == [(2, 3)]


def test_builtin_task_prompts_serve_the_reward_and_the_agent():
    from envs.tasks import Task
    from tl_plugin.adapters.reward import reward_func
    from tl_plugin.data.prompts import prompt_rows

    rows, report = prompt_rows("builtin")
    assert len(rows) == len(builtin_tasks()) and not report.dropped
    row = next(r for r in rows if json.loads(r["label"])["query"] == WEATHER.query)
    assert Task.from_dict(json.loads(row["label"])) == WEATHER  # what the agent resets its env from
    rewards = reward_func(["P" + a for a in ACTIONS[:2]], ["P", "P"], [row["label"]] * 2)["rewards"]
    assert rewards.tolist() == pytest.approx([-0.8, 1.0])  # the IRM reward of the task's first call
    assert row["input"][1] == {"role": "user", "content": WEATHER.query}
