"""Converters into the internal trajectory format: kept / masked / dropped, with reasons, nothing silent."""

import json

from tl_plugin.core.parsing import parse
from tl_plugin.core.taxonomy import Category
from tl_plugin.core.trajectory import call_categories
from tl_plugin.data.converters import CONVERTERS
from tl_plugin.data.sources import convert, read_records, write_jsonl

WEATHER = {
    "name": "get_weather",
    "description": "Weather.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def openai_record(arguments='{"city": "Paris"}'):
    return {
        "tools": [{"type": "function", "function": WEATHER}],
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "1", "type": "function", "function": {"name": "get_weather", "arguments": arguments}}
                ],
            },
            {"role": "tool", "tool_call_id": "1", "content": '{"temp": 18}'},
            {"role": "assistant", "content": [{"type": "text", "text": "18 degrees."}]},
        ],
    }


def test_openai_chat():
    broken = openai_record('{"city": ')
    samples, report = convert(
        [openai_record(), broken, {"messages": [{"role": "critic", "content": ""}]}, {}], CONVERTERS["openai"]
    )
    assert report.kept == 1 and report.masked == 0
    assert report.dropped == {
        "tool call arguments are not a JSON object": 1,
        "unknown role 'critic'": 1,
        "malformed record (KeyError: 'messages')": 1,
    }
    assert report.notes == {"tool list written into the system message": 1}
    sample = samples[0]
    assert sample["tools"] == [WEATHER]
    system, _, call, tool, answer = sample["messages"]
    assert (
        system["content"].startswith("Be brief.\n\nYou are a helpful assistant. You may call one or more functions")
        and '"get_weather"' in system["content"]
    )
    # OpenAI's shape, the source's id kept, the arguments as OpenAI's JSON string
    openai_call = {"id": "1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    assert call["tool_calls"] == [openai_call]
    assert parse(call["content"]).calls[0].as_dict() == {"name": "get_weather", "arguments": {"city": "Paris"}}
    assert call["content"].startswith("<tool_call>")
    assert tool == {"role": "tool", "tool_call_id": "1", "content": '{"temp": 18}'}
    assert answer["content"] == "18 degrees."
    assert "tool_calls" not in answer
    assert "dropped 1: unknown role 'critic'" in str(report)


def test_openai_content_before_a_call_is_kept_where_the_format_can_carry_it():
    record = openai_record()
    record["messages"][2]["content"] = "Let me check."
    for prompt_format, kept in (("qwen", True), ("react", True), ("python", False)):
        (sample,), report = convert([record], CONVERTERS["openai"], prompt_format=prompt_format)
        text = sample["messages"][2]["content"]
        # the training text reads back as the source's call in every format
        assert [c.as_dict() for c in parse(text).calls] == [{"name": "get_weather", "arguments": {"city": "Paris"}}]
        assert text.startswith("Let me check.") == kept
        left_out = f"content before the calls left out (the {prompt_format} format reads it as prose)"
        assert report.notes.get(left_out, 0) == (not kept)


def test_sharegpt_with_function_call_turns():
    record = {
        "tools": json.dumps([WEATHER]),
        "conversations": [
            {"from": "human", "value": "Weather in Pariss?"},
            {"from": "function_call", "value": '{"name": "get_weather", "arguments": {"town": "Pariss"}}'},
            {"from": "observation", "value": "get_weather() got an unexpected keyword argument 'town'"},
            {"from": "function_call", "value": '{"name": "get_weather", "arguments": {"city": "Paris"}}'},
            {"from": "observation", "value": '{"temp": 18}'},
            {"from": "gpt", "value": "18 degrees."},
        ],
    }
    samples, report = convert(
        [record, {"conversations": [{"from": "narrator", "value": "x"}]}],
        CONVERTERS["sharegpt"],
        prompt_format="python",
    )
    assert (report.kept, report.masked, dict(report.dropped)) == (1, 1, {"unknown speaker 'narrator'": 1})
    messages = samples[0]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert messages[1]["content"] == "get_weather(town='Pariss')"
    # calls without ids get "call_<message>_<k>", and the tool message after each answers it
    ids = [m.get("tool_call_id") or m["tool_calls"][0]["id"] for m in messages[1:5]]
    assert ids == ["call_1_0", "call_1_0", "call_3_0", "call_3_0"]
    assert [c.value for *_, c in call_categories(samples[0])] == ["parameter_hallucination", "ok"]


def test_rotbench(data_dir):
    records = read_records(data_dir / "rotbench" / "third_turn_clean.json")
    samples, report = convert(records, CONVERTERS["rotbench"])
    assert (report.kept, sum(report.dropped.values())) == (70, 0)
    assert report.notes == {"assistant turn with several acceptable answers: kept the first": 3}
    first = samples[0]
    assert [t["name"] for t in first["tools"]] == [
        "get_translation_nllb",
        "get_translation_baidu",
        "ask_to_user",
        "finish",
    ]
    assert first["messages"][-1]["content"] == records[0]["conversations"][-1]["value"][0]
    assert first["messages"][2]["tool_calls"][0]["function"]["name"] == "get_translation_nllb"


def test_tooleyes_queries_have_no_assistant_turn_and_say_so(data_dir):
    records = read_records(data_dir / "tooleyes" / "queries" / "queries_with_prompts.json")
    samples, report = convert(records, CONVERTERS["tooleyes"])
    assert samples == [] and report.dropped == {"no assistant turn": 382}


PAPER_SYSTEM = (
    'Function:\ndef random_advice():\n    """\n    Returns a random advice slip as a slip object.\n    """\n\n'
    'Function:\ndef search_advice(query: string, limit: integer = None):\n    """\n    Search advice slips.\n\n'
    '    Args:\n    query (string): The search query provided.\n    limit (integer): At most this many.\n    """\n\n'
    'Function:\ndef finish(answer: str):\n    """\n    Finish the task and give your answer.\n    """\n\n'
)


def test_paper_repository_format():
    record = {
        "id": "x",
        "conversations": [
            {"role": "System", "content": PAPER_SYSTEM},
            {"role": "User", "content": "Could you give me some advice about 'love'?"},
            {"role": "Assistant", "content": "search_advice(query = 'love') "},
            {"role": "Output", "content": '{"slips": ["..."]}'},
            {"role": "Assistant", "content": "finish(answer='Love is patient.')"},
        ],
    }
    unreadable = {
        "conversations": [
            {"role": "system", "content": PAPER_SYSTEM},
            {"role": "assistant", "content": "search_advice(query="},
        ]
    }
    no_tools = {"conversations": [{"role": "assistant", "content": "finish(answer='x')"}]}
    samples, report = convert([record, unreadable, no_tools], CONVERTERS["paper"])
    # the unreadable turn is the model's format error: kept in context and masked, the sample still trains
    assert (report.kept, report.masked, report.dropped) == (2, 1, {"no tool list in the system message": 1})
    assert samples[1]["messages"][1] == {
        "role": "assistant",
        "content": "search_advice(query=",
        "category": "format_error",
    }
    tools = {t["name"]: t for t in samples[0]["tools"]}
    assert list(tools) == ["random_advice", "search_advice", "finish"]
    assert tools["search_advice"]["parameters"] == {
        "type": "object",
        "required": ["query"],
        "properties": {
            "query": {"type": "string", "description": "The search query provided."},
            "limit": {"type": "integer", "description": "At most this many."},
        },
    }
    assert tools["finish"]["parameters"]["properties"]["answer"]["type"] == "string"
    assert [m["role"] for m in samples[0]["messages"]] == ["system", "user", "assistant", "tool", "assistant"]
    assert [c.value for *_, c in call_categories(samples[0])] == ["ok", "ok"]


def test_call_categories_pairs_parallel_calls_with_their_answers():
    sample = {
        "tools": [WEATHER],
        "messages": [
            {
                "role": "assistant",
                "content": "...",
                "tool_calls": [
                    {"name": "get_weather", "arguments": {"city": "Paris"}},
                    {"name": "get_weather", "arguments": {}},
                    {"name": "get_wether", "arguments": {"city": "Rome"}},
                ],
            },
            {"role": "tool", "content": '{"temp": 18}'},
            {"role": "tool", "content": "get_weather() missing 1 required positional argument: 'city'"},
            {"role": "assistant", "content": "...", "tool_calls": [{"name": "finish", "arguments": {}}]},
        ],
    }
    assert [(i, c) for i, _, c in call_categories(sample)] == [
        (0, Category.OK),
        (0, Category.PARAMETER_MISSING),
        (0, Category.TOOL_HALLUCINATION),
        (3, Category.TOOL_HALLUCINATION),
    ]  # nothing answers the last two: judged on the name alone


def test_jsonl_round_trip(tmp_path):
    samples, _ = convert([openai_record()], CONVERTERS["openai"])
    write_jsonl(tmp_path / "s.jsonl", samples)
    assert read_records(tmp_path / "s.jsonl") == samples
