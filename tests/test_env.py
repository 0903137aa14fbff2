"""ToolUse-v0: the gymnasium contract, vector envs, every terminal state and every error category."""

import json

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import SyncVectorEnv
from helpers import weather_task

import envs  # noqa: F401  (registers ToolUse-v0)
from envs.builtin_tasks import builtin_tasks
from envs.tasks import Task, check_answer
from envs.tool_use import ToolUseEnv
from tool_server import Catalog, ToolServer, builtin_catalog

WEATHER = weather_task()


def weather_env(**kwargs) -> ToolUseEnv:
    env = ToolUseEnv([WEATHER], **kwargs)
    env.reset(seed=0)
    return env


def test_check_env_and_registration():
    check_env(gym.make("ToolUse-v0").unwrapped)
    assert isinstance(gym.make("envs:ToolUse-v0", prompt_format="react").unwrapped, ToolUseEnv)


def test_builtin_suite():
    tasks = builtin_tasks()
    assert len(tasks) >= 300 and len({t.id for t in tasks}) == len(tasks)
    assert sum(len(t.gold_calls) > 1 for t in tasks) >= 50
    forecast = next(t for t in tasks if t.gold_calls[0]["name"] == "get_weather_forecast")
    assert {"get_weather_current", "get_weather_history"} <= {tool["name"] for tool in forecast.tools}


def test_sync_vector_env_runs_100_steps():
    vector = SyncVectorEnv([lambda: gym.make("ToolUse-v0") for _ in range(8)])
    observations, _ = vector.reset(seed=0)
    assert len(observations) == 8 and all(isinstance(o, str) for o in observations)
    actions = ['get_weather_current(city="Paris")', 'finish(answer="18")', "not a call (", "[f(]"]
    for i in range(100):
        observations, rewards, terminated, truncated, _ = vector.step(tuple(actions[(i + j) % 4] for j in range(8)))
        assert rewards.shape == (8,) and all(-2 <= r <= 1 for r in rewards)
    vector.close()


@pytest.mark.parametrize("fmt", ["python", "react", "qwen"])
def test_success_in_every_prompt_format(fmt):
    env = weather_env(prompt_format=fmt)
    calls = {
        "python": ('get_weather_current(city="Paris")', 'finish(answer="It is 18.0 degrees")'),
        "react": (
            'Thought: look\nAction: get_weather_current\nAction Input: {"city": "Paris"}',
            'Thought: done\nAction: finish\nAction Input: {"answer": "18.0 C"}',
        ),
        "qwen": (
            '<tool_call>\n{"name": "get_weather_current", "arguments": {"city": "Paris"}}\n</tool_call>',
            "It is 18 degrees in Paris.",
        ),
    }[fmt]
    observation, reward, terminated, truncated, info = env.step(calls[0])
    assert (reward, terminated, info["categories"]) == (0.0, False, ["ok"])
    assert '"temperature": 18.0' in observation and "get_weather_current" in observation
    observation, reward, terminated, truncated, info = env.step(calls[1])
    assert (reward, terminated, truncated) == (1.0, True, False)


def test_wrong_answer_and_turn_limit():
    env = weather_env()
    assert env.step('finish(answer="25 degrees")')[1:3] == (-1.0, True)
    env = gym.make("envs:ToolUse-v0", tasks=[WEATHER], max_episode_steps=3)  # Gymnasium's TimeLimit truncates
    env.reset(seed=0)
    outcomes = [env.step('get_weather_current(city="Paris")')[1:4] for _ in range(3)]
    assert outcomes == [(0.0, False, False), (0.0, False, False), (0.0, False, True)]
    assert gym.spec("ToolUse-v0").max_episode_steps == 9


def test_gold_calls_without_answer():
    task = Task(
        "calls-only",
        "note it",
        builtin_catalog().schemas(["add_note"]),
        gold_calls=[{"name": "add_note", "arguments": {"title": "a", "body": "b"}}],
    )
    env = ToolUseEnv([task])
    env.reset(seed=0)
    assert env.step('finish(answer="done")')[1] == -1.0
    env.reset(seed=0)
    env.step('add_note(title="a", body="b")')
    assert env.step('finish(answer="done")')[1] == 1.0


def buggy_tool(city: str) -> dict:
    """A tool with a bug.

    Args:
        city: City name.
    """
    raise KeyError("internal")


# The paper's IRM values for what a tool's feedback can tell (Section 3.3); 0 where the model is not at fault.
STEP_REWARDS = {
    "format_error": -2.0,
    "tool_hallucination": -2.0,
    "parameter_hallucination": -0.8,
    "parameter_missing": -0.5,
    "parameter_invalid": -0.25,
    "tool_call_failure": -0.25,
    "tool_instability": 0.0,
    "other": 0.0,
}
ERROR_ACTIONS = {
    "format_error": 'get_weather_current(city="Paris"',
    "tool_hallucination": 'get_weather_now(city="Paris")',
    "parameter_hallucination": 'get_weather_current(city="Paris", country="FR")',
    "parameter_missing": 'get_weather_current(units="metric")',
    "parameter_invalid": 'get_weather_current(city="Paris", units="kelvin")',
    "tool_call_failure": 'get_weather_current(city="Atlantis")',
    "other": 'buggy_tool(city="Paris")',
}


@pytest.mark.parametrize("category", sorted(ERROR_ACTIONS) + ["tool_instability"])
def test_every_error_category(category):
    catalog = Catalog([*builtin_catalog().by_name.values(), *Catalog.from_functions([buggy_tool]).by_name.values()])
    server = ToolServer(catalog)
    task = Task("t", WEATHER.query, [*WEATHER.tools, *catalog.schemas(["buggy_tool"])], WEATHER.gold_calls, "18")
    env = ToolUseEnv([task], server=server, fault_rate=1.0 if category == "tool_instability" else 0.0)
    env.reset(seed=0)
    action = ERROR_ACTIONS.get(category, 'get_weather_current(city="Paris")')
    observation, reward, terminated, truncated, info = env.step(action)
    assert info["categories"] == [category] and not terminated
    assert reward == STEP_REWARDS[category]
    assert info["de"] == (category in ("tool_hallucination", "parameter_hallucination", "parameter_missing"))
    assert info["ce"] == (category in ("format_error", "parameter_invalid", "tool_call_failure"))
    assert info["messages"][-1]["role"] == "tool" and info["messages"][-1]["content"] in observation


def test_parallel_calls_and_ask_to_user():
    env = weather_env(prompt_format="qwen")
    two = (
        '<tool_call>{"name": "get_weather_current", "arguments": {"city": "Paris"}}</tool_call>\n'
        '<tool_call>{"name": "get_weather_forecast", "arguments": {"city": "Paris", "days": 9}}</tool_call>'
    )
    _, reward, _, _, info = env.step(two)
    assert info["categories"] == ["ok", "parameter_invalid"] and reward == -0.25
    _, reward, terminated, _, info = env.step(
        '<tool_call>{"name": "ask_to_user", "arguments": {"question": "Celsius?"}}</tool_call>'
    )
    assert (reward, terminated, info["categories"]) == (0.0, False, ["ok"])


def test_check_answer():
    assert check_answer("18.0", "It is 18 degrees") and not check_answer("18.0", "It is 19 degrees")
    assert check_answer("1,234", "1234") is False  # expected answers are written without separators
    assert check_answer("1234", "about 1,234 people") and check_answer("gato", "It is 'Gato'.")


def test_chat_template_format_uses_the_tokenizers_template():
    from helpers import train_tokenizer

    tokenizer = train_tokenizer("bpe")
    env = weather_env(prompt_format="chat_template", tokenizer=tokenizer)
    for action in ('get_weather_current(city="Paris", x=1)', "oops(", 'get_weather_current(city="Paris")'):
        before = env._observation
        observation, _, _, _, info = env.step(action)
        assert observation == tokenizer.apply_chat_template(env.messages, tokenize=False, add_generation_prompt=True)
        assert observation == before + action + info["appended"]  # the turn alone was rendered (issue 14)


def test_a_chat_template_that_rewrites_earlier_turns_is_rendered_whole():
    """A template that shortens every assistant turn but the last cannot be rendered turn by turn: the env renders
    the episode and hands back what changed after the common prefix."""
    from helpers import train_tokenizer

    tokenizer = train_tokenizer("bpe")
    tokenizer.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
        "{% if m['role'] == 'assistant' and not loop.last %}(call){% else %}{{ m['content'] }}{% endif %}"
        "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    env = weather_env(prompt_format="chat_template", tokenizer=tokenizer)
    observation, _, _, _, info = env.step('get_weather_current(city="Paris")')
    assert observation == tokenizer.apply_chat_template(env.messages, tokenize=False, add_generation_prompt=True)
    assert "<|im_start|>assistant\n(call)<|im_end|>" in observation and info["appended"].startswith("(call)")


def test_tooleyes_queries_with_their_catalog_folders(data_dir):
    from envs.tasks import tooleyes_tasks
    from tool_server import load_catalog

    tasks = tooleyes_tasks(data_dir)
    assert len(tasks) == 382 and all(t.tools and t.toolset for t in tasks)
    env = ToolUseEnv(tasks, prompt_format="react", server=ToolServer(load_catalog(data_dir / "tooleyes/catalog")))
    observation, info = env.reset(options={"task_index": 0})
    tool = info["tools"][0]
    required = tool["parameters"].get("required", [])
    arguments = json.dumps({key: "8" for key in required})
    _, reward, _, _, info = env.step(f"Thought: try\nAction: {tool['name']}\nAction Input: {arguments}")
    assert info["categories"] == ["ok"] and reward == 0.0
    assert env.task.query in observation
