"""The compiled validator's fast path answers exactly what jsonschema alone answers (issue 14): for arguments
generated against every built-in and every ToolEyes schema, the feedback (category, message, details) is the
same with the fast path as with jsonschema deciding every call; and a 10,000-tool catalog loads."""

from __future__ import annotations

import functools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tool_server import Catalog, Tool, ToolServer, builtin_catalog, load_catalog
from tool_server.validate import MAX_ARGUMENT_BYTES, check

TEXT = st.text(st.characters(exclude_categories=()), max_size=12)  # lone surrogates included
SPECIAL = ["2024-06-03", "2024-02-30", "2024-6-3", "09:30", "23:59", "24:00", "09:30\n", "١٢:٣٠", "ACME", "Paris", ""]
NUMBERS = st.floats() | st.integers(-(10**15), 10**15) | st.sampled_from([5.0, -0.0, 1e20, float("nan")])
ANY = st.recursive(st.none() | st.booleans() | NUMBERS | TEXT, lambda inner: st.lists(inner, max_size=3), max_leaves=5)


def values(schema: dict) -> st.SearchStrategy:
    """Values for a parameter: often of its type and near its bounds, sometimes anything."""
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    options = [ANY]
    if "enum" in schema:
        options.append(st.sampled_from(schema["enum"]))
    if "integer" in kinds or "number" in kinds:
        low, high = schema.get("minimum", -100), schema.get("maximum", 100)
        options += [st.integers(int(low) - 2, int(high) + 2), st.floats(low - 2, high + 2), st.just(float(int(low)))]
    if "string" in kinds or kind is None:
        options += [st.sampled_from(SPECIAL), TEXT]
    if "array" in kinds:
        options.append(st.lists(values(schema.get("items", {})), max_size=4))
    if "boolean" in kinds:
        options.append(st.booleans())
    if "object" in kinds:
        options.append(st.dictionaries(TEXT, ANY, max_size=2))
    return st.one_of(options)


def arguments(tool: Tool) -> st.SearchStrategy:
    properties = tool.schema["parameters"]["properties"]
    keys = st.lists(st.sampled_from(sorted(properties)), unique=True) if properties else st.just([])
    chosen = keys.flatmap(lambda ks: st.fixed_dictionaries({k: values(properties[k]) for k in ks}))
    extra = st.dictionaries(TEXT, ANY, max_size=1)
    return st.tuples(chosen, st.sampled_from([False] * 5 + [True]), extra).map(
        lambda t: {**t[0], **t[2]} if t[1] else t[0]
    )


@functools.cache
def servers(data_dir: str) -> tuple[list[Tool], ToolServer, ToolServer]:
    """Every built-in and ToolEyes tool; a server of them, and one where jsonschema alone decides every call."""
    tooleyes = load_catalog(f"{data_dir}/tooleyes/catalog")
    tools = [*builtin_catalog().by_name.values(), *(t for ts in tooleyes.toolsets.values() for t in ts.values())]
    reference = [Tool(tool.schema, tool.fn, tool.toolset) for tool in tools]  # no compiled validator
    return tools, ToolServer(Catalog(tools)), ToolServer(Catalog(reference))


@settings(max_examples=3, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_fast_path_gives_jsonschemas_feedback_for_every_schema(data_dir, data):
    tools, fast, reference = servers(str(data_dir))
    assert len(tools) == 44 + 755 and sum(t.fast is not None for t in tools) > 0.9 * len(tools)
    for tool in tools:
        args = data.draw(arguments(tool), label=tool.name)
        assert fast.call(tool.name, args, toolset=tool.toolset) == reference.call(tool.name, args, toolset=tool.toolset)


@pytest.mark.parametrize(
    ("name", "arguments", "category"),
    [  # the cases where jsonschema-rs and jsonschema part ways, worked out by hand
        ("get_factorial", {"n": 5.0}, "parameter_invalid"),  # rs: an integer; ours: a float
        ("get_factorial", {"n": 5}, None),
        ("create_event", {"title": "t", "date": "2024-06-03", "time": "1٩:3٠"}, None),  # Python's \d: any digit
        ("create_event", {"title": "t", "date": "2024-06-03", "time": "09:30\n"}, None),  # Python's $ before \n
        ("get_day_of_week", {"date": "2024-02-30"}, "parameter_invalid"),
        ("add_numbers", {"a": float("nan"), "b": 1}, "parameter_invalid"),
        ("get_weather_current", {"city": "Paris", "units": "metric", "x": float("inf")}, "parameter_hallucination"),
    ],
)
def test_where_the_validators_disagree_jsonschema_wins(name, arguments, category):
    tool = builtin_catalog().resolve(name)
    feedback, _ = check(name, tool, arguments, MAX_ARGUMENT_BYTES)
    assert (feedback or {}).get("category") == category, feedback


def test_a_ten_thousand_tool_catalog_loads_with_every_validator_compiled(data_dir, tmp_path):
    tooleyes = load_catalog(data_dir / "tooleyes/catalog")
    every = [tool.schema for tools in tooleyes.toolsets.values() for tool in tools.values()]
    schemas = [{**every[i % len(every)], "name": f"tool_{i}"} for i in range(10_000)]
    for i in range(0, 10_000, 100):
        (tmp_path / f"part{i // 100:03d}.json").write_text(json.dumps(schemas[i : i + 100]))
    catalog = load_catalog(tmp_path)  # its time is benchmarks.tool_server's to measure
    assert len(catalog) == 10_000 and all(tool.fast is not None for tool in catalog.by_name.values())
