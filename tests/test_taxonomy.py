"""The error taxonomy: the paper's Table 14 and every function turn of RoTBench's third turn."""

import collections
import json

import pytest

from tl_plugin.core.taxonomy import CATEGORIES, Category, classify_feedback

# (call, feedback, category), from TL-Training Table 14. Every tool is in the list but google_search.
TABLE_14 = [
    (
        "get_cryptocurrency_categories",
        {"apikey": "k"},
        "HTTPSConnectionPool(host='api.coinranking.com', port=443): Max retries exceeded with url: /v2/coins",
        "tool_instability",
    ),
    (
        "get_exchange_rate",
        {"from_currency": "EUR", "to_currency": "GBP"},
        "Invalid API call. Currency codes might be invalid.",
        "tool_instability",
    ),
    (
        "google_trends_search",
        {"query": "school", "data_type": "related_topics"},
        "The function cannot be executed successfully with the given parameters for the reason: 400 Client Error: "
        "Bad Request for url: https://serpapi.com/search",
        "tool_instability",
    ),
    ("search_word", {"api_key": "", "letterPattern": "a*b*c"}, '{"error": "connection error."}', "tool_instability"),
    ("search_country", {"query": "IN", "key": "code"}, '{"error": "Response error."}', "tool_call_failure"),
    ("google_search", {"query": "weather"}, '{"error": "Response error."}', "tool_hallucination"),
    (
        "get_news_headlines",
        {"api_key": "k", "q": "ai", "sortBy": "date", "pageSize": 5},
        "get_news_headlines() got an unexpected keyword argument 'sortBy'",
        "parameter_hallucination",
    ),
    (
        "forecast",
        {"q": "London", "days": "7", "api_key": "k"},
        "forecast missing 1 required positional argument: aqi",
        "parameter_missing",
    ),
    (
        "analyze_scan",
        {"website": "www.mywebsite.com"},
        '{"error": "recent-scan-not-found", "text": "Recently completed scan for www.mywebsite.com not found"}',
        "other",
    ),
    ("search_word", {}, "name 'linguistic_analysis' is not defined", "tool_hallucination"),
    ("search_word", {}, "'>=' not supported between instances of 'str' and 'int'", "parameter_invalid"),
]
TOOLS = sorted({name for name, *_ in TABLE_14} - {"google_search"})


@pytest.mark.parametrize("name,arguments,feedback,expected", TABLE_14)
def test_table_14(name, arguments, feedback, expected):
    assert classify_feedback({"name": name, "arguments": arguments}, TOOLS, feedback) == expected


def test_the_tool_list_decides_hallucination():
    call = {"name": "google_search", "arguments": {"query": "weather"}}
    assert classify_feedback(call, TOOLS + ["google_search"], '{"error": "Response error."}') == "tool_call_failure"
    assert classify_feedback(call, [{"name": "other_tool"}], "{}") == "tool_hallucination"


def test_structured_feedback_and_format_errors():
    call = {"name": "f", "arguments": {}}
    assert classify_feedback(call, None, {"ok": False, "category": "parameter_missing"}) == "parameter_missing"
    assert classify_feedback(call, None, {"ok": True, "output": {"error": "irrelevant"}}) == "ok"
    assert classify_feedback(None, None, "anything") == "format_error"


def test_key_error_on_a_callers_value_is_an_invalid_value():
    call = {"name": "translate", "arguments": {"tgt_lang": "ja"}}
    assert classify_feedback(call, None, "'ja'") == "parameter_invalid"
    assert classify_feedback(call, None, "'related_searches'") == "tool_call_failure"


def test_de_and_ce_split():
    assert {c.value for c in Category if c.is_documentation_error} == {
        "tool_hallucination",
        "parameter_hallucination",
        "parameter_missing",
    }
    assert {c.value for c in Category if c.is_call_error} == {
        "format_error",
        "parameter_invalid",
        "tool_call_failure",
    }
    assert not Category.OK.is_error and len(CATEGORIES) == 9


def test_every_rotbench_function_turn_gets_a_category(data_dir):
    items = json.loads((data_dir / "rotbench/third_turn_clean.json").read_text())
    counts = collections.Counter()
    for item in items:
        turns = item["conversations"]
        for previous, turn in zip(turns, turns[1:]):
            if turn["from"] != "function":
                continue
            action = previous["value"].split("Action:")[1].split("Action Input:")[0].strip()
            counts[classify_feedback({"name": action, "arguments": {}}, None, turn["value"]).value] += 1
    print("\nRoTBench third turn, function feedback categories:", dict(counts.most_common()))
    # The data's own mix: errors of several kinds next to successful calls.
    assert counts["ok"] > 50 and counts["tool_hallucination"] >= 7
    assert counts["parameter_missing"] >= 8 and counts["parameter_invalid"] >= 5
