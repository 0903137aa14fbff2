"""OpenAI's tool-calling shape end to end: the official `openai` client against a scripted chat-completions
endpoint, its `tool_calls` (JSON-string arguments) through envs.openai_chat into ToolUse-v0 and the real
`tl-tool-server` over HTTP, and back to the endpoint as tool messages with the matching `tool_call_id`."""

from __future__ import annotations

import json

import gymnasium as gym
import openai
import pytest
from helpers import ScriptedModel, serve_in_thread, tool_call, weather_task

from envs.openai_chat import openai_reset, openai_step
from tool_server import ToolServer


@pytest.fixture
def model():
    script = [
        {"content": None, "tool_calls": [tool_call("call_town", "get_weather_current", '{"town": "Paris"}')]},
        {"content": "Again.", "tool_calls": [tool_call("call_city", "get_weather_current", '{"city": "Paris"}')]},
        {"content": "It is 18.0 °C in Paris."},
    ]
    scripted = ScriptedModel(script)
    with serve_in_thread(scripted.app) as url:
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0), scripted


def test_a_served_model_acts_in_the_env_through_the_official_client(model, rest_and_mcp_server):
    client, scripted = model
    env = gym.make("envs:ToolUse-v0", tasks=[weather_task()], server=rest_and_mcp_server)  # over REST
    messages, tools, _ = openai_reset(env, seed=0)
    rewards, steps = [], []
    while True:
        response = client.chat.completions.create(model="m", messages=messages, tools=tools)
        assert type(response).__module__.startswith("openai.")  # the client's own types go into the adapter
        new, reward, terminated, truncated, info = openai_step(env, response)
        messages += new
        rewards.append(reward)
        steps.append((new, info))
        if terminated or truncated:
            break
    env.close()

    # The tools went as OpenAI's wrapped schemas, the env's actions among them.
    sent = scripted.requests[0]["tools"]
    assert {t["type"] for t in sent} == {"function"}
    assert {"get_weather_current", "finish"} <= {t["function"]["name"] for t in sent}
    # The bad call came back as a tool message answering its id, with Python's own wording of the mistake.
    (assistant, answer), info = steps[0]
    assert assistant["tool_calls"][0]["id"] == "call_town"
    assert answer == {
        "role": "tool",
        "tool_call_id": "call_town",
        "content": "get_weather_current() got an unexpected keyword argument 'town'",
    }
    assert info["categories"] == ["parameter_hallucination"]
    assert info["messages"][-1]["tool_call_id"] == "call_town"  # info speaks with the model's ids too
    # ... and the endpoint got it back, after the assistant message, in the next request.
    assert scripted.requests[1]["messages"][-2]["tool_calls"][0]["id"] == "call_town"
    assert scripted.requests[1]["messages"][-1] == answer
    (_, good), info = steps[1]
    assert good["tool_call_id"] == "call_city" and json.loads(good["content"])["temperature"] == 18.0
    assert info["categories"] == ["ok"]
    # IRM, the paper's Section 3.3: a hallucinated parameter -0.8, a good call 0, the right answer +1.
    assert rewards == [-0.8, 0.0, 1.0] and len(steps) == 3


def test_arguments_that_are_not_json_are_a_format_error_answering_each_call():
    env = gym.make("envs:ToolUse-v0", tasks=[weather_task()])
    openai_reset(env, seed=0)
    response = {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "tool_calls": [
                        tool_call("a", "get_weather_current", "{city: Paris"),
                        tool_call("b", "finish", "{}"),
                    ],
                }
            }
        ]
    }
    new, reward, terminated, _, info = openai_step(env, response)
    assert info["categories"] == ["format_error"] and reward == -2.0 and not terminated
    assert [m.get("tool_call_id") for m in new] == [None, "a", "b"]
    assert new[1]["content"] == new[2]["content"] and "JSON" in new[1]["content"]


@pytest.mark.parametrize(
    "arguments, expected",
    [
        ('{"city": "Paris"}', "ok"),  # OpenAI's JSON string, decoded
        ({"city": "Paris"}, "ok"),
        ('{"town": "Paris"}', "parameter_hallucination"),
        ("city=Paris", "format_error"),  # a string that is not a JSON object stays a format error
        ('["Paris"]', "format_error"),
    ],
)
def test_the_tool_server_takes_arguments_as_an_object_or_a_json_string(arguments, expected):
    feedback = ToolServer().call("get_weather_current", arguments)
    assert ("ok" if feedback["ok"] else feedback["category"]) == expected


def test_chat_template_gets_the_tools_as_tools_when_it_renders_them():
    from helpers import CHAT_TEMPLATE, train_tokenizer

    listing = '{% for t in tools %}{{ t["function"]["name"] }}:{{ t["type"] }}\n{% endfor %}'
    knows_tools = train_tokenizer()
    knows_tools.chat_template = (
        "{% if tools %}<|im_start|>tools\n" + listing + "<|im_end|>\n{% endif %}" + CHAT_TEMPLATE
    )
    plain = train_tokenizer()
    task = weather_task()
    for tokenizer, in_template in ((knows_tools, True), (plain, False)):
        env = gym.make("envs:ToolUse-v0", tasks=[task], prompt_format="chat_template", tokenizer=tokenizer)
        observation, info = env.reset(seed=0)
        system = info["messages"][0]["content"]
        # Each tool shows once: through `tools=` in OpenAI's wrapped form, or else in the system text.
        assert ("get_weather_current:function\n" in observation) is in_template
        assert ("get_weather_current" in system) is not in_template
        assert observation.count("get_weather_current") == 1 and ("finish:function" in observation) is in_template
        observation, *_ = env.step(
            '<tool_call>\n{"name": "get_weather_current", "arguments": {"city": "Paris"}}\n</tool_call>'
        )
        assert observation.count('"arguments": {"city": "Paris"}') == 1  # the call is not rendered twice


def test_env_messages_carry_openai_calls_and_arguments_json_cannot_write_stay_an_object():
    env = gym.make("envs:ToolUse-v0", tasks=[weather_task()])
    env.reset(seed=0)
    *_, info = env.step('<tool_call>{"name": "get_weather_current", "arguments": {"city": "Paris"}}</tool_call>')
    assistant, tool = info["messages"][-2:]
    assert assistant["tool_calls"] == [
        {
            "id": "call_1_0",
            "type": "function",
            "function": {"name": "get_weather_current", "arguments": '{"city": "Paris"}'},
        }
    ]
    assert tool["tool_call_id"] == "call_1_0"
    # Python's JSON reader takes NaN, JSON cannot write it: no string that is not JSON, and no exception.
    *_, info = env.step('<tool_call>{"name": "get_weather_current", "arguments": {"city": NaN}}</tool_call>')
    arguments = info["messages"][-2]["tool_calls"][0]["function"]["arguments"]
    assert isinstance(arguments, dict) and arguments["city"] != arguments["city"]
    assert info["categories"] == ["parameter_invalid"]
