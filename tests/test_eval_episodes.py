"""Multi-turn evaluation: scripted backends against the real env and tool server, with metrics counted by hand."""

import json

import pytest
from helpers import weather_task

from envs.builtin_tasks import builtin_tasks
from envs.tasks import tooleyes_tasks
from envs.tool_use import ToolUseEnv
from tl_plugin.core.formats import get_format
from tl_plugin.eval.episodes import STOP, EpisodeRecord, episode_metrics, run_episodes
from tool_server import ToolServer
from tool_server.client import RemoteToolServer

PARIS = weather_task()  # gold: get_weather_current(city="Paris"), answer 18.0


def builtin(query: str):
    return next(t for t in builtin_tasks() if t.query == query)


def act(name: str, **arguments) -> str:
    return f"Thought: go\nAction: {name}\nAction Input: {json.dumps(arguments)}"


class ScriptedBackend:
    """Plays one script per task (keyed by the user's query): the n-th assistant turn is script[n], the last one
    repeating. `batches` keeps how many conversations each generate call was given."""

    def __init__(self, scripts: dict[str, list]):
        self.scripts, self.batches = scripts, []

    def generate(self, conversations, tools=None):
        self.batches.append(len(conversations))
        assert tools is not None and len(tools) == len(conversations)
        texts = []
        for messages in conversations:
            assert messages[0]["role"] == "system" and messages[-1]["role"] in ("user", "tool")
            script = self.scripts[messages[1]["content"]]
            turn = sum(m["role"] == "assistant" for m in messages)
            texts.append(script[min(turn, len(script) - 1)])
        return texts


# Paris: a hallucinated tool (DE), a missing required city (DE), an ask (no call), the gold call, the right answer.
PARIS_SCRIPT = [
    act("get_temperature", city="Paris"),
    act("get_weather_current"),
    act("ask_to_user", question="Celsius?"),
    act("get_weather_current", city="Paris"),
    act("finish", answer="It is 18.0 degrees"),
]
PARIS_RECORD = dict(turns=5, calls=3, de_calls=2, ce_calls=0, valid_answer=True, success=True)


def fields(record: EpisodeRecord) -> dict:
    return {k: getattr(record, k) for k in PARIS_RECORD}


def test_documentation_call_errors_valid_answers_counted_by_hand():
    london = builtin("What is the temperature in London right now, in Celsius?")
    tokyo = builtin("What is the temperature in Tokyo right now, in Celsius?")
    scripts = {
        PARIS.query: PARIS_SCRIPT,
        london.query: [act("get_weather_current", city="London")],  # a right call, forever: never answers
        tokyo.query: [  # an unknown city (tool_call_failure), a bad enum (parameter_invalid), broken JSON: 3 CE
            act("get_weather_current", city="Atlantis"),
            act("get_weather_current", city="Tokyo", units="kelvin"),
            'Action: get_weather_current\nAction Input: {"city": ',
            act("finish", answer="-99"),
        ],
    }
    records = run_episodes(ScriptedBackend(scripts), [PARIS, london, tokyo], max_turns=5, progress=False)
    assert [r.task_id for r in records] == [PARIS.id, london.id, tokyo.id]
    assert fields(records[0]) == PARIS_RECORD  # finishing on the last allowed turn is still a valid answer
    assert fields(records[1]) == dict(turns=5, calls=5, de_calls=0, ce_calls=0, valid_answer=False, success=False)
    assert fields(records[2]) == dict(turns=4, calls=3, de_calls=0, ce_calls=3, valid_answer=True, success=False)
    assert records[2].messages[3]["content"].startswith('{"error": "Response error."')  # the failure's feedback
    finish = {"name": "finish", "arguments": '{"answer": "It is 18.0 degrees"}'}  # OpenAI's shape, turn 5's call 0
    last = {
        "role": "assistant",
        "content": PARIS_SCRIPT[-1],
        "tool_calls": [{"id": "call_5_0", "type": "function", "function": finish}],
    }
    assert records[0].messages[-1] == last
    # 11 calls: 2 DE (Paris), 3 CE (Tokyo); 2 of 3 episodes answered, 1 of 3 right.
    assert episode_metrics(records) == pytest.approx(
        {"DE": 200 / 11, "CE": 300 / 11, "VA": 200 / 3, "success": 100 / 3, "episodes": 3, "calls": 11}
    )


def test_batches_never_exceed_batch_size_and_match_one_at_a_time():
    fmt = get_format("react")
    tasks = [*builtin_tasks()[1:5], builtin("What is the current temperature in Paris in Kelvin?")]
    # Task k first calls k hallucinated tools, so episodes end at different rounds and slots are refilled.
    scripts = {
        t.query: [act("no_such_tool")] * k
        + [fmt.format_call(c) for c in t.gold_calls]
        + [act("finish", answer=t.answer)]
        for k, t in enumerate(tasks)
    }
    paired, single = ScriptedBackend(scripts), ScriptedBackend(scripts)
    records = run_episodes(paired, tasks, batch_size=2, progress=False)
    assert max(paired.batches) == 2 and sum(paired.batches) == sum(r.turns for r in records)  # no finished one asked
    assert [(r.turns, r.calls, r.de_calls) for r in records] == [
        (k + len(t.gold_calls) + 1, k + len(t.gold_calls), k) for k, t in enumerate(tasks)
    ]
    assert all(r.valid_answer and r.success for r in records)
    assert run_episodes(single, tasks, batch_size=1, progress=False) == records and set(single.batches) == {1}


def test_tooleyes_tasks_have_scenarios_and_no_gold(data_dir):
    everything = tooleyes_tasks(data_dir)
    tasks = [next(t for t in everything if t.scenario == s) for s in ("TG", "AM", "FT")]
    server = ToolServer(data_dir / "tooleyes" / "catalog")
    # A tool of each task's own toolset that takes no required argument: get_random_number, recieve_latest, ...
    free = {t.query: next(x["name"] for x in t.tools if not x["parameters"].get("required")) for t in tasks}
    scripts = {q: [act(name), act("finish", answer="done")] for q, name in free.items()}
    records = run_episodes(ScriptedBackend(scripts), tasks, server=server, progress=False)
    assert [r.scenario for r in records] == ["TG", "AM", "FT"]
    assert all(r.success is None and r.valid_answer and (r.calls, r.de_calls, r.ce_calls) == (1, 0, 0) for r in records)
    assert all(json.loads(r.messages[3]["content"]) for r in records)  # the tool answered real output
    assert episode_metrics(records) == {"DE": 0.0, "CE": 0.0, "VA": 100.0, "episodes": 3, "calls": 3}


def test_loopback_server_gives_the_embedded_results(loopback_tool_server):
    url, _ = loopback_tool_server
    embedded = run_episodes(ScriptedBackend({PARIS.query: PARIS_SCRIPT}), [PARIS], progress=False)
    remote = RemoteToolServer(url)
    for server in (url, remote):  # a URL: run_episodes makes and closes the client; a client: the caller's
        assert run_episodes(ScriptedBackend({PARIS.query: PARIS_SCRIPT}), [PARIS], server=server) == embedded
    assert remote.call("get_weather_current", {"city": "Paris"})["ok"]  # still open
    remote.close()


@pytest.mark.parametrize("fmt", ["react", "python", "qwen"])
def test_stop_strings_are_where_the_env_continues(fmt):
    # After a call, what the env writes next starts with the format's first stop string.
    env = ToolUseEnv([PARIS], fmt)
    env.reset(seed=0)
    *_, info = env.step(get_format(fmt).format_call({"name": "get_weather_current", "arguments": {"city": "Paris"}}))
    assert info["appended"].startswith(STOP[fmt][0])


def test_text_past_a_stop_string_is_cut_and_model_text_never_raises():
    call = 'get_weather_current(city="Paris")'
    scripts = {PARIS.query: [call + "\nOutput: 18\nAssistant: finish(answer='18')", 'finish(answer="18.0")']}
    [record] = run_episodes(ScriptedBackend(scripts), [PARIS], "python", progress=False)
    assert record.messages[2]["content"] == call and record.calls == 1 and record.success  # a hallucinated Output
    # Nothing a model writes raises. Plain text is an answer (as the env reads it); no text, a format error and a
    # finish with an empty answer are not.
    junk = [None, 12, "", "[f(", "\x00" * 9, "\ud800", 'finish(answer="")', "x" * 100_000]
    records = [
        run_episodes(ScriptedBackend({PARIS.query: [text]}), [PARIS], max_turns=2, progress=False)[0] for text in junk
    ]
    assert [r.valid_answer for r in records] == [False, True, False, False, True, True, False, True]
    assert (records[3].turns, records[3].calls, records[3].ce_calls) == (2, 2, 2)  # a format error is a failed call
    assert episode_metrics([]) == {"DE": 0.0, "CE": 0.0, "VA": 0.0, "episodes": 0, "calls": 0}
