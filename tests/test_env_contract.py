"""ToolUse-v0 keeps Gymnasium's contract, tried as a new user would: gym.make without a prior import, spaces that
hold every text a model can emit and print briefly, exact observations through sync and async vector envs, a clear
error before reset, Gymnasium's behaviour after termination, and info that holds copies."""

import random

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env
from helpers import weather_task

from envs.builtin_tasks import builtin_tasks
from envs.tasks import Task
from envs.tool_use import ToolUseEnv
from tl_plugin.core.formats import FORMATS

CALLS = [call for task in builtin_tasks()[:40] for call in task.gold_calls]
UNICODE = ["😀", "Zürich", "東京", "\u200b", "\ud800", "naïve café", "🇫🇷", "\x00", "Ω≈ç√∫", "\t\n"]


def test_check_env_passes_on_a_fresh_make():
    env = gym.make("envs:ToolUse-v0")
    check_env(env.unwrapped)
    assert gym.spec("ToolUse-v0").max_episode_steps == 9


@pytest.mark.parametrize("fmt", [name for name, f in FORMATS.items() if f.layout is not None])
def test_real_calls_are_in_the_action_space(fmt):
    env = ToolUseEnv(prompt_format=fmt)
    for call in CALLS:
        assert env.action_space.contains(FORMATS[fmt].format_call(call))
    assert env.action_space.contains('get_weather_current(city="Paris")')


def test_spaces_print_briefly():
    env = ToolUseEnv()
    assert len(repr(env.observation_space)) < 80 and len(repr(env.action_space)) < 80


def test_step_before_reset_is_a_clear_error():
    with pytest.raises(gym.error.ResetNeeded, match="reset"):
        ToolUseEnv().step('get_weather_current(city="Paris")')


def test_a_step_after_termination_pays_nothing_again():
    env = ToolUseEnv([weather_task()])
    env.reset(seed=0)
    assert env.step('finish(answer="18.0")')[1:3] == (1.0, True)
    with pytest.warns(UserWarning, match="terminated"):
        observation, reward, terminated, truncated, _ = env.step('finish(answer="18.0")')
    assert (reward, terminated, truncated) == (0.0, True, False)


def test_info_holds_copies():
    env = ToolUseEnv([weather_task()])
    _, info = env.reset(seed=0)
    info["tools"].clear()
    _, _, _, _, info = env.step('get_weather_current(city="Paris")')
    info["messages"].clear()
    info["calls"][0]["arguments"]["city"] = "Rome"
    _, _, _, _, info = env.step('finish(answer="18.0")')
    assert [m["role"] for m in info["messages"]] == ["system", "user", "assistant", "tool", "assistant"]
    assert env.task.tools and info["task_id"] == weather_task().id


def test_changing_infos_calls_changes_no_judgement():
    # Judged by its gold call (no gold answer): the env judges the calls it made, which info must not share.
    task = Task.from_dict({**weather_task().to_dict(), "answer": None})
    env = ToolUseEnv([task])
    env.reset(seed=0)
    info = env.step('get_weather_current(city="Paris")')[4]
    info["calls"][0]["arguments"]["city"] = "Rome"
    assert env.step('finish(answer="done")')[1] == 1.0


def random_action(rng: random.Random, space) -> str:
    """Any Unicode a model may emit: sampled text, real calls with Unicode values, broken calls."""
    kind = rng.randrange(4)
    if kind == 0:
        return space.sample(mask=(rng.randrange(200), None))
    call = dict(rng.choice(CALLS))
    call["arguments"] = {**call["arguments"], "city": rng.choice(UNICODE)} if kind == 1 else call["arguments"]
    text = FORMATS[rng.choice(["python", "react", "qwen"])].format_call(call)
    return text + rng.choice(UNICODE) if kind == 2 else text[: rng.randrange(len(text) + 1)] + rng.choice(UNICODE)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vector_envs_return_exact_observations(mode):
    """4 envs, 500 steps of random any-Unicode actions; each observation equals what a plain env (same seeds, same
    actions, Gymnasium's next-step autoreset) returns, and lies in the single env's observation space."""
    vector = gym.make_vec("envs:ToolUse-v0", num_envs=4, vectorization_mode=mode)
    reference = [gym.make("envs:ToolUse-v0") for _ in range(4)]
    observations, _ = vector.reset(seed=0)
    expected = [env.reset(seed=i)[0] for i, env in enumerate(reference)]
    rng, done = random.Random(0), [False] * 4
    space = reference[0].observation_space
    try:
        for _ in range(500):
            assert list(observations) == expected and all(space.contains(o) for o in observations)
            actions = [random_action(rng, reference[0].action_space) for _ in range(4)]
            observations, rewards, terminated, truncated, _ = vector.step(actions)
            for i, env in enumerate(reference):
                if done[i]:
                    expected[i], done[i] = env.reset()[0], False
                else:
                    expected[i], reward, term, trunc, _ = env.step(actions[i])
                    assert (reward, term, trunc) == (rewards[i], terminated[i], truncated[i])
                    done[i] = term or trunc
        assert list(observations) == expected
    finally:
        vector.close()
