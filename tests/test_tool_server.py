"""The in-process tool server: every category from a crafted call, faults, sessions, record/replay, the ToolEyes
catalog, mock outputs and documentation noise."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from difflib import SequenceMatcher

import pytest
from jsonschema import Draft202012Validator

from tl_plugin.core.taxonomy import CATEGORIES, INSTABILITY_MESSAGES, Category, classify_feedback
from tool_server import Catalog, Tool, ToolCallFailure, ToolServer, builtin_catalog, load_catalog
from tool_server.noise import LEVELS, add_noise


def slow_tool(seconds: float) -> dict:
    """Sleep, then answer.

    Args:
        seconds: How long to sleep.
    """
    time.sleep(seconds)
    return {"slept": seconds}


def crashing_tool(x: int) -> dict:
    """Fail with an exception that is not a ToolCallFailure, as buggy tools do.

    Args:
        x: Any number.
    """
    return {"inverse": 1 / x}


@pytest.fixture(scope="module")
def server():
    extra = Catalog.from_functions([slow_tool, crashing_tool])
    catalog = Catalog([*builtin_catalog().by_name.values(), *extra.by_name.values()])
    server = ToolServer(catalog, call_timeout_s=0.3)
    yield server
    server.close()


PY = r"^{name}\(\) "
CASES = [  # (call, faults, category, message pattern, details that must be there)
    ({"name": "get_weather_current", "arguments": {"city": "Paris"}}, None, "ok", None, {}),
    ({"name": "get_weather", "arguments": {"city": "Paris"}}, None, "tool_hallucination",
     r"^name 'get_weather' is not defined$", {}),
    ({"name": "get_weather_current", "arguments": {"city": "Paris", "day": 1, "zip": 2}}, None,
     "parameter_hallucination", PY + r"got an unexpected keyword argument 'day'$", {"unexpected": ["day", "zip"]}),
    ({"name": "days_between_dates", "arguments": {}}, None, "parameter_missing",
     PY + r"missing 2 required positional arguments: 'start_date' and 'end_date'$",
     {"missing": ["start_date", "end_date"]}),
    ({"name": "get_factorial", "arguments": {"n": "5"}}, None, "parameter_invalid",
     PY + r"argument 'n': must be integer, not string$", {"kind": "type", "argument": "n"}),
    ({"name": "get_factorial", "arguments": {"n": 5.0}}, None, "parameter_invalid",
     PY + r"argument 'n': must be integer, not number$", {"kind": "type"}),
    ({"name": "convert_currency", "arguments": {"amount": 5, "from_currency": "EUR", "to_currency": "XYZ"}}, None,
     "parameter_invalid", PY + r"argument 'to_currency': must be one of 'USD', 'EUR'", {"kind": "enum"}),
    ({"name": "get_day_of_week", "arguments": {"date": "2024-02-30"}}, None, "parameter_invalid",
     PY + r"argument 'date': must be a valid 'date' string$", {"kind": "format"}),
    ({"name": "get_weather_forecast", "arguments": {"city": "Paris", "days": 8}}, None, "parameter_invalid",
     PY + r"argument 'days': must be <= 7$", {"kind": "range", "expected": 7}),
    ({"name": "get_statistics", "arguments": {"numbers": []}}, None, "parameter_invalid",
     PY + r"argument 'numbers': must have at least 1 items$", {"kind": "range"}),
    ({"name": "get_weather_current", "arguments": {"city": "Atlantis"}}, None, "tool_call_failure",
     r"^\{\"error\": \"Response error.\", \"detail\": \"no data for city 'Atlantis'\"\}$", {}),
    ({"name": "get_weather_current", "arguments": {"city": "Paris"}}, {"call_failure": True}, "tool_call_failure",
     r"^\{\"error\": \"Response error.\"", {"injected": True}),
    *[({"name": "get_stock_price", "arguments": {"symbol": "ACME"}}, {"instability_rate": 1.0, "instability_kind": k},
       "tool_instability", "^" + re.escape(m.format(tool="get_stock_price")) + "$", {"kind": k})
      for k, m in INSTABILITY_MESSAGES.items()],
    ({"name": "slow_tool", "arguments": {"seconds": 3}}, None, "tool_instability", r"Read timed out",
     {"kind": "timeout"}),
    ({"name": "crashing_tool", "arguments": {"x": 0}}, None, "other", r"^\{\"error\": \"internal-error\"",
     {"exception": "ZeroDivisionError"}),
    ({"name": "get_weather_current", "arguments": ["Paris"]}, None, "format_error",
     r"argument after \*\* must be a mapping, not array$", {}),
    ({"name": "get_weather_current", "arguments": "city=Paris"}, None, "format_error", r"not string$", {}),
    ({"name": ["get_weather_current"], "arguments": {}}, None, "format_error", r"name must be a string", {}),
    ({"name": None, "arguments": {}}, None, "format_error", r"name must be a string, not null", {}),
    ({"name": "get_weather_current", "arguments": {"city": "Paris"}}, {"rate": 1}, "format_error", r"'faults'", {}),
    ({"name": "get_weather_current", "arguments": {"city": "Paris"}}, {"instability_rate": 2}, "format_error",
     r"instability_rate", {}),
    ({"name": "get_weather_current", "arguments": {"city": "Paris"}}, {"instability_kind": "flood"}, "format_error",
     r"instability_kind", {}),
]  # fmt: skip


@pytest.mark.parametrize(("call", "faults", "category", "pattern", "details"), CASES)
def test_every_category_from_a_crafted_call(server, call, faults, category, pattern, details):
    feedback = server.call(call["name"], call["arguments"], faults=faults)
    assert feedback.get("category", "ok" if feedback["ok"] else None) == category, feedback
    if category == "ok":
        assert feedback["ok"] is True and feedback["output"]["city"] == "Paris"
        return
    assert feedback["ok"] is False and set(feedback) == {"ok", "category", "message", "tool", "details"}
    assert re.search(pattern.replace("{name}", re.escape(str(call["name"]))), feedback["message"]), feedback["message"]
    assert details.items() <= feedback["details"].items(), feedback["details"]
    # The message alone, as a model would meet it in data, classifies back to the same category.
    parsed = None if category == "format_error" else call
    assert classify_feedback(parsed, server.tools(), feedback["message"]) == Category(category)


def test_every_category_is_covered_by_the_cases():
    assert {case[2] for case in CASES} == set(CATEGORIES)


def test_error_precedence(server):
    name = "get_weather_forecast"
    assert server.call(name, {"town": "x", "days": "x"})["category"] == "parameter_hallucination"  # and missing
    assert server.call(name, {"days": "x"})["category"] == "parameter_missing"  # and invalid
    assert server.call(name, {"city": "Paris", "days": 0, "units": "x"})["details"]["kind"] in ("range", "enum")
    invalid = server.call("no_such_tool", {"whatever": 1}, faults={"instability_rate": 1.0})
    assert invalid["category"] == "tool_hallucination"  # faults only hit well-formed calls
    assert (
        server.call(name, {"city": "Paris"}, faults={"instability_rate": 1.0, "call_failure": True})["category"]
        == "tool_instability"
    )


def test_nested_invalid_value_names_its_argument(server):
    feedback = server.call("get_statistics", {"numbers": [1, 2, "three"]})
    assert feedback["category"] == "parameter_invalid"
    assert feedback["message"] == "get_statistics() argument 'numbers': [2] must be number, not string"


def test_timeout_off_the_main_thread_too(server):
    # On the main thread a SIGALRM timer stops the tool; elsewhere a worker thread is abandoned at the timeout.
    results = []
    thread = threading.Thread(target=lambda: results.append(server.call("slow_tool", {"seconds": 3})))
    start = time.monotonic()
    thread.start()
    thread.join()
    assert results[0]["category"] == "tool_instability" and results[0]["details"]["kind"] == "timeout"
    assert time.monotonic() - start < 2
    assert server.call("slow_tool", {"seconds": 0.01}) == {"ok": True, "output": {"slept": 0.01}}


EXIT_AFTER_A_CALL = """
import time
from tool_server import ToolServer

class SlowTeardown:  # torn down after Python has restored SIGALRM's default action
    def __del__(self, sleep=time.sleep):
        sleep(0.5)

keep = SlowTeardown()
ToolServer(call_timeout_s=0.1).call("get_weather_forecast", {"city": "Paris", "days": 2})
"""


def test_the_call_timer_never_outlives_the_process():
    # The SIGALRM timer of the last call was still armed when the interpreter exited: it fired during teardown
    # and killed the process with 142 ("Alarm clock"), after the script's work was done.
    done = subprocess.run([sys.executable, "-c", EXIT_AFTER_A_CALL], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_seeded_faults_are_reproducible():
    def run(seed, **kwargs):
        server = ToolServer(seed=seed, **kwargs)
        answers = [server.call("get_stock_price", {"symbol": "ACME"}) for _ in range(60)]
        return [a["details"]["kind"] if not a["ok"] else "ok" for a in answers]

    first = run(7, fault_rate=0.5)
    assert first == run(7, fault_rate=0.5)
    assert first != run(8, fault_rate=0.5)
    assert 10 < first.count("ok") < 50 and set(first) == {"ok", *INSTABILITY_MESSAGES}
    assert set(run(7, fault_rate=1.0, fault_kinds=["rate_limit"])) == {"rate_limit"}
    assert run(7) == ["ok"] * 60  # off by default
    # Per request: a rate overrides the server's; 0 turns faults off.
    server = ToolServer(fault_rate=1.0)
    assert server.call("get_stock_price", {"symbol": "ACME"}, faults={"instability_rate": 0.0})["ok"]
    with pytest.raises(ValueError):
        ToolServer(fault_rate=1.5)
    with pytest.raises(ValueError):
        ToolServer(fault_kinds=["flood"])


def test_sessions_are_isolated_and_expire():
    server = ToolServer(session_ttl_s=0.3, max_sessions=3)
    server.call("add_todo", {"title": "pack"}, session="a")
    server.call("add_todo", {"title": "book"}, session="a")
    server.call("add_note", {"title": "t", "body": "b"}, session="b")
    todos = server.call("list_todos", {}, session="a")["output"]["todos"]
    assert [t["title"] for t in todos] == ["pack", "book"]
    assert server.call("list_todos", {}, session="b")["output"] == {"todos": []}
    assert server.call("get_note", {"note_id": "note-1"}, session="a")["category"] == "tool_call_failure"
    time.sleep(0.4)  # idle longer than the TTL: the state is gone
    assert server.call("list_todos", {}, session="a")["output"] == {"todos": []}
    for sid in ("c", "d", "e", "f"):  # over the cap: the least recently used session goes first
        server.call("add_todo", {"title": sid}, session=sid)
    assert server.call("list_todos", {}, session="c")["output"] == {"todos": []}
    assert len(server.call("list_todos", {}, session="f")["output"]["todos"]) == 1


def test_record_then_replay_answers_identically_offline(tmp_path):
    backend = {"online": True, "price": 10.0}  # stands for a real service behind a tool

    def quote(symbol: str) -> dict:
        """Price of a stock from the live service.

        Args:
            symbol: Ticker symbol.
        """
        if not backend["online"]:
            raise ConnectionError("service unreachable")
        if symbol == "NONE":
            raise ToolCallFailure(f"unknown symbol '{symbol}'")
        return {"symbol": symbol, "price": backend["price"]}

    catalog = Catalog([*Catalog.from_functions([quote]).by_name.values(), *load_mock_tools()])
    cache = tmp_path / "cache.jsonl"
    calls = [("quote", {"symbol": "ACME"}), ("quote", {"symbol": "NONE"}), ("lookup", {"q": "x", "n": 2})]
    recorder = ToolServer(catalog, record=cache)
    recorded = [recorder.call(name, args) for name, args in calls]
    recorder.close()
    assert [r.get("category", "ok") for r in recorded] == ["ok", "tool_call_failure", "ok"]
    assert len(cache.read_text().splitlines()) == 3

    backend.update(online=False, price=99.0)
    assert ToolServer(catalog).call("quote", {"symbol": "ACME"})["category"] == "tool_instability"
    replayer = ToolServer(catalog, replay=cache)
    # Same answers, whatever the key order of the arguments; the backend is never reached.
    assert [replayer.call(name, dict(reversed(args.items()))) for name, args in calls] == recorded
    assert replayer.call("quote", {"symbol": "OTHER"})["category"] == "tool_instability"  # not in the cache
    cache.write_text("not json\n")
    with pytest.raises(ValueError, match="cache.jsonl:1"):
        ToolServer(catalog, replay=cache)


def load_mock_tools() -> list[Tool]:
    schema = {"name": "lookup", "description": "Look up.", "parameters": {"type": "object", "properties": {
        "q": {"type": "string"}, "n": {"type": "integer"}}, "required": ["q"]}}  # fmt: skip
    return [Tool(schema)]


def valid_value(schema: dict):
    """One value valid for a parameter schema of the catalogs used here."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "string")
    if kind == "string":
        return "2024-05-01" if schema.get("format") == "date" else "09:30" if "pattern" in schema else "Paris"
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "array":
        return [valid_value(schema.get("items", {}))]
    return {"boolean": True, "object": {}}[kind]


def test_tooleyes_catalog_every_tool_answers_a_valid_call(data_dir):
    root = data_dir / "tooleyes/catalog"
    catalog = load_catalog(root)
    assert len(list(root.rglob("*.json"))) == 95 and len(catalog.toolsets) == 95
    server, twin = ToolServer(catalog), ToolServer(load_catalog(root))
    answered = 0
    for toolset, tools in catalog.toolsets.items():
        for name, tool in tools.items():
            params = tool.schema["parameters"]
            args = {key: f"{key}-value" for key in params.get("required", [])}
            Draft202012Validator(params).validate(args)  # the call is schema-valid
            feedback = server.call(name, args, toolset=toolset)
            assert feedback["ok"], (toolset, name, feedback)
            # Mock outputs depend only on the tool name and the canonical arguments.
            assert twin.call(name, dict(reversed(args.items())), toolset=toolset) == feedback
            answered += 1
            extra = server.call(name, {**args, "surely_not_a_parameter": "x"}, toolset=toolset)
            assert extra["category"] == "parameter_hallucination"  # even without additionalProperties: false
    assert answered == len(catalog) > 700
    outputs = {json.dumps(server.call("get_news_everything", {"q": q})["output"]) for q in "abcdefgh"}
    assert len(outputs) > 4  # other arguments, other outputs


def test_a_name_resolves_in_its_toolset_first(data_dir):
    catalog = load_catalog(data_dir / "tooleyes/catalog")
    server = ToolServer(catalog)
    for name, first in catalog.by_name.items():
        homes = [(ts, tools[name]) for ts, tools in catalog.toolsets.items() if name in tools]
        for toolset, tool in homes[1:]:
            only_here = set(tool.schema["parameters"]["properties"]) - set(first.schema["parameters"]["properties"])
            if only_here:
                key = sorted(only_here)[0]
                required = {k: "v" for k in tool.schema["parameters"].get("required", [])}
                assert server.call(name, {**required, key: "v"}, toolset=toolset)["ok"]
                assert server.call(name, {key: "v"})["category"] == "parameter_hallucination"
                return
    pytest.fail("ToolEyes defines names differently in several folders; none was found")


def test_catalog_files_in_every_accepted_shape(tmp_path):
    schema = {
        "name": "f",
        "description": "F.",
        "parameters": {"type": "object", "properties": {"a": {"type": "string"}}},
    }
    (tmp_path / "one.json").write_text(json.dumps(schema))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "wrapped.json").write_text(
        json.dumps([{"type": "function", "function": {**schema, "name": "g"}}])
    )
    catalog = load_catalog(tmp_path)
    assert set(catalog.toolsets) == {None, "sub"} and set(catalog.by_name) == {"f", "g"}
    assert ToolServer(catalog).call("g", {"a": "x"}, toolset="sub")["ok"]
    assert len(load_catalog(tmp_path / "one.json")) == 1
    with pytest.raises(KeyError, match="unknown toolset"):
        catalog.schemas(toolset="nope")
    with pytest.raises(KeyError, match="unknown tool"):
        catalog.schemas(["f", "nope"])
    for bad in ([{"description": "no name"}], {"name": "h", "parameters": {"type": 5}}, "not json"):
        (tmp_path / "sub" / "bad.json").write_text(bad if isinstance(bad, str) else json.dumps(bad))
        with pytest.raises(ValueError, match="bad.json"):
            load_catalog(tmp_path)
    with pytest.raises(ValueError, match="not found"):
        load_catalog(tmp_path / "missing")


def test_builtin_catalog_schemas():
    tools = ToolServer().tools()
    assert len(tools) >= 40 and all(set(t) == {"name", "description", "parameters"} for t in tools)
    for tool in tools:
        Draft202012Validator.check_schema(tool["parameters"])
        assert "session" not in tool["parameters"]["properties"]
    by_name = {t["name"]: t for t in tools}
    assert by_name["get_weather_forecast"]["parameters"]["properties"]["days"]["maximum"] == 7  # SCHEMA_EXTRAS
    assert ToolServer().tools(["add_todo"])[0]["parameters"]["required"] == ["title"]


@pytest.mark.parametrize("level", [lv for lv in LEVELS if lv != "clean"])
def test_noise_renames_consistently_and_reproducibly(level):
    tools = ToolServer().tools()
    gold_calls = [
        {"name": t["name"], "arguments": {k: valid_value(v) for k, v in t["parameters"]["properties"].items()}}
        for t in tools
    ]
    for seed in range(3):
        noisy = add_noise(tools, level, seed)
        assert noisy == add_noise(tools, level, seed)  # reproducible
        assert noisy.tools != add_noise(tools, level, seed + 10).tools  # and seed-dependent
        assert len({t["name"] for t in noisy.tools}) == len(tools)
        assert {t["name"] for t in noisy.tools} != {t["name"] for t in tools} or level in ("heavy", "union")
        noisy_server = ToolServer(Catalog(Tool(schema) for schema in noisy.tools))
        unchanged = 0
        for gold in gold_calls:
            rewritten = noisy.rewrite_call(gold)
            assert rewritten != gold
            assert noisy_server.call(rewritten["name"], rewritten["arguments"])["ok"], (gold, rewritten)
            unchanged += noisy_server.call(gold["name"], gold["arguments"])["ok"]
        assert unchanged <= 2  # the gold call as it was fails on the noisy tools (a shuffle may swap two no-arg tools)
    assert add_noise(tools, "clean").tools == tools
    with pytest.raises(ValueError, match="unknown noise level"):
        add_noise(tools, "loud")


@pytest.mark.parametrize("level", ["slight", "medium", "heavy"])
def test_noise_renames_a_name_listed_twice_alike(level):
    """RoTBench lists some tools twice (first_turn item 80 has two `drivers`): a gold answer names only the tool,
    so both copies must come out with the same name, parameter names and added parameter."""
    tool = {"name": "drivers", "parameters": {"type": "object", "properties": {"id": {}, "name": {}}}}
    other = {"name": "teams", "parameters": {"type": "object", "properties": {"id": {}}}}
    for seed in range(5):
        noisy = add_noise([tool, other, tool], level, seed)
        first, _, second = noisy.tools
        assert first == second
        rewritten = noisy.rewrite_call({"name": "drivers", "arguments": {"id": 1, "name": "x"}})
        assert rewritten["name"] == first["name"] and set(rewritten["arguments"]) == set(
            first["parameters"]["properties"]
        )


def test_noise_levels_do_what_they_say():
    tools = ToolServer().tools()
    slight = add_noise(tools, "slight", 0)
    typos = [SequenceMatcher(None, old, new).ratio() > 0.85 for old, new in slight.tool_names.items()]
    assert sum(typos) >= 0.9 * len(tools)  # a one-character typo (random letters only where a typo collided)
    medium = add_noise(tools, "medium", 0)
    assert any(new == old[::-1] for old, new in medium.tool_names.items())
    heavy = add_noise(tools, "heavy", 0)
    assert set(heavy.tool_names) == set(heavy.tool_names.values()) == {t["name"] for t in tools}
    assert all(old != new for old, new in heavy.tool_names.items())
    assert all(len(extra) == 1 for extra in heavy.extra_arguments.values()) and len(heavy.extra_arguments) == len(tools)
    assert not heavy.param_names
