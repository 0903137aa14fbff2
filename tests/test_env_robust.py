"""ToolUse-v0 against real standalone servers (one killed mid-episode) and against arbitrary model text."""

import json

from helpers import weather_task
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envs.builtin_tasks import builtin_tasks
from envs.tool_use import ToolUseEnv
from tool_server import ToolServer

TASKS = builtin_tasks()
WEATHER = weather_task()


def test_env_over_http_then_server_killed(loopback_tool_server):
    url, process = loopback_tool_server
    env = ToolUseEnv([WEATHER], server=url)
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step('get_weather_current(city="Paris")')
    assert (reward, info["categories"]) == (0.0, ["ok"])
    assert json.loads(info["messages"][-1]["content"])["temperature"] == 18.0
    _, _, _, _, info = env.step('get_weather_current(city="Paris", units="kelvin")')
    assert info["categories"] == ["parameter_invalid"]

    process.kill()
    process.wait()
    observation, reward, terminated, truncated, info = env.step('get_weather_current(city="Paris")')
    assert info["categories"] == ["tool_instability"] and reward == 0.0 and not terminated
    assert "Max retries exceeded" in info["messages"][-1]["content"]
    _, reward, terminated, _, _ = env.step('finish(answer="18.0")')  # the episode goes on to its end
    assert (reward, terminated) == (1.0, True)
    env.close()


NAMES = sorted({tool["name"] for task in TASKS for tool in task.tools}) + ["finish", "ask_to_user", "nope"]
call_like = st.builds(
    lambda name, args, fmt: {
        "python": f"{name}({args})",
        "react": f"Action: {name}\nAction Input: {args}",
        "qwen": f'<tool_call>{{"name": "{name}", "arguments": {args}}}</tool_call>',
    }[fmt],
    st.sampled_from(NAMES),
    st.one_of(
        st.text(max_size=40),
        st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=3).map(json.dumps),
    ),
    st.sampled_from(["python", "react", "qwen"]),
)


@settings(max_examples=1250, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.integers(0, len(TASKS) - 1),
    st.sampled_from(["python", "react", "qwen"]),
    st.lists(st.text(max_size=200) | call_like, min_size=8, max_size=8),
)
def test_arbitrary_actions_never_raise_and_rewards_stay_in_bounds(index, fmt, actions):
    """1,250 episodes of 8 actions: 10,000 random actions."""
    env = ENVS[fmt]
    env.reset(options={"task_index": index})
    for action in actions:
        observation, reward, terminated, truncated, info = env.step(action)
        assert -2.0 <= reward <= 1.0 and isinstance(observation, str)
        if terminated or truncated:
            env.reset(options={"task_index": index})


ENVS = {fmt: ToolUseEnv(TASKS, prompt_format=fmt) for fmt in ["python", "react", "qwen"]}


# Issue 10, finding 10: what a broken or foreign server may answer, and the category the env makes of it.
GARBAGE = [
    ([], "tool_instability"),
    ("ok", "tool_instability"),
    (None, "tool_instability"),
    (5, "tool_instability"),
    ({"ok": "yes", "output": 1}, "tool_instability"),
    ({"ok": False, "category": "cosmic_ray", "message": "bit flip"}, "other"),
    ({"ok": False, "message": "no category"}, "other"),
    (
        {"ok": False, "category": "parameter_missing", "message": "f() missing 1 required argument: 'city'"},
        "parameter_missing",
    ),
]


def play_through_garbage(env):
    env.reset(options={"task_index": 0})
    for _, category in GARBAGE:
        _, reward, terminated, truncated, info = env.step('get_weather_current(city="Paris")')
        assert info["categories"] == [category] and not terminated
        assert reward == (-0.5 if category == "parameter_missing" else 0.0)
    _, reward, terminated, _, _ = env.step('finish(answer="18.0")')
    assert terminated and reward == 1.0  # the episode goes on to its end


def test_env_never_raises_on_a_server_answering_garbage_over_http():
    from helpers import serve_in_thread
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    answers = iter(body for body, _ in GARBAGE)

    async def call(request):
        return Response(json.dumps(next(answers)), media_type="application/json")

    with serve_in_thread(Starlette(routes=[Route("/call", call, methods=["POST"])])) as url:
        env = ToolUseEnv([WEATHER], server=url)
        play_through_garbage(env)
        env.close()


def test_env_never_raises_on_an_in_process_server_answering_garbage():
    class Foreign(ToolServer):  # a user's server with its own `call`
        answers = iter(body for body, _ in GARBAGE)

        def call(self, *args, **kwargs):
            return next(self.answers)

    play_through_garbage(ToolUseEnv([WEATHER], server=Foreign()))
